//! The view methods (`databuild/fulfillment`, `lineage`, `jobRun`, ...): each a pure function of a
//! `BuildState` snapshot from `crate::views`, registered here once for both transports.

use super::Registry;

/// Registers every view method.
pub(super) fn register(_module: &mut Registry) {}
