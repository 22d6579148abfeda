//! `dbl`: live lineage for databuild, answered from its build event log (BEL).
//!
//! Layers, each depending only on the ones above it in this list:
//! - [`proto`]: the BEL's event model, generated from `proto/databuild.proto`;
//! - [`log`]: bytes ⇄ events (incremental decoding, format sniffing, encoding);
//! - [`state`]: events → [`state::BuildState`] (no I/O, no JSON-RPC);
//! - [`views`]: pure queries over a `BuildState` (fulfillment, lineage, details, lists);
//! - [`render`]: views as trees, Graphviz, Mermaid or JSON;
//! - [`sim`]: synthetic but realistic BELs for tests and benchmarks;
//! - [`cli`]: the `dbl` subcommands, small functions over the layers above.
//!
//! See `docs/ARCHITECTURE.md` for the map and its invariants.

pub mod calendar;
pub mod cli;
pub mod editor;
pub mod events;
pub mod live;
pub mod log;
pub mod proto;
pub mod protocol;
pub mod render;
pub mod sim;
pub mod state;
pub mod views;
