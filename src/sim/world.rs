//! What the simulated orchestrator knows about each unit: whether its data exists, and whether some
//! story holds it (is building, tainting or rebuilding it), so no two stories build one unit at once.
//!
//! Only looked up, never iterated: the map's order cannot leak into the log.

use rustc_hash::FxHashMap;

use super::catalog::{Partition, Unit};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Data {
    /// Never built successfully (or only by runs still in flight).
    Missing,
    /// The newest instance is Live.
    Live,
    /// The newest instance with data is Tainted; it still exists, so it can be read.
    Tainted,
}

#[derive(Debug, Clone, Copy)]
struct UnitState {
    data: Data,
    held: bool,
}

#[derive(Debug, Default)]
pub struct World {
    units: FxHashMap<Unit, UnitState>,
    /// Units in order of their first successful build: the pool taints are drawn from.
    built: Vec<Unit>,
    /// Indexed by want number: whether a `WantCancelEventV1` was written for it.
    canceled_wants: Vec<bool>,
}

impl World {
    pub fn data(&self, unit: Unit) -> Data {
        self.units.get(&unit).map_or(Data::Missing, |s| s.data)
    }

    /// Whether a reader finds data for the partition: raw partitions always exist (External).
    pub fn has_data(&self, partition: Partition) -> bool {
        partition.unit().is_none_or(|unit| self.data(unit) != Data::Missing)
    }

    pub fn is_held(&self, unit: Unit) -> bool {
        self.units.get(&unit).is_some_and(|s| s.held)
    }

    pub fn hold(&mut self, unit: Unit) {
        let state = self.units.entry(unit).or_insert(UnitState { data: Data::Missing, held: false });
        debug_assert!(!state.held, "unit {unit:?} held twice");
        state.held = true;
    }

    pub fn release(&mut self, unit: Unit) {
        if let Some(state) = self.units.get_mut(&unit) {
            state.held = false;
        }
    }

    pub fn set_data(&mut self, unit: Unit, data: Data) {
        let state = self.units.entry(unit).or_insert(UnitState { data: Data::Missing, held: false });
        if state.data == Data::Missing && data != Data::Missing {
            self.built.push(unit);
        }
        state.data = data;
    }

    pub fn built(&self) -> &[Unit] {
        &self.built
    }

    pub fn new_want(&mut self) -> u64 {
        self.canceled_wants.push(false);
        self.canceled_wants.len() as u64
    }

    /// Marks the want canceled; false if it already was.
    pub fn cancel_want(&mut self, want: u64) -> bool {
        let slot = &mut self.canceled_wants[want as usize - 1];
        !std::mem::replace(slot, true)
    }
}
