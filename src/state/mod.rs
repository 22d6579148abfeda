//! The state layer: build events → [`BuildState`], one event at a time.
//!
//! Architecture invariants: no I/O, no JSON-RPC, no knowledge of files or offsets beyond what an
//! event carries. Per-event work is independent of the size of the state (hash lookups and appends);
//! the only loops are over what the event itself names and the wants it touches.

mod apply;
mod column;
mod digest;
mod identity;
mod intern;
mod model;
mod persist;
mod want_status;

use uuid::Uuid;

pub use apply::Prepared;
pub use column::Column;

pub use identity::{built_partition_uuid, external_partition_uuid, PARTITION_NAMESPACE};
pub use intern::Interner;
pub use model::*;

/// Cap on stored diagnostics; the count goes on past it so nothing goes unreported.
pub const MAX_STORED_DIAGNOSTICS: usize = 10_000;

/// A lineage-relevant change caused by one event, for live subscribers. Recorded only while
/// [`BuildState::set_recording`] is on, so bulk loading pays nothing for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    JobRunStatus {
        job_run: JobRunIx,
        from: Option<JobRunStatus>,
        to: JobRunStatus,
    },
    PartitionState {
        partition: PartitionIx,
        from: Option<PartitionState>,
        to: PartitionState,
    },
    WantStatus {
        want: WantIx,
        from: Option<WantStatus>,
        to: WantStatus,
    },
    /// A new consumer-index edge: `job_run` read `input` and built `output`.
    ConsumerEdge {
        input: PartitionIx,
        output: PartitionIx,
        job_run: JobRunIx,
    },
    /// A new derivative want `child` of `parent`, spawned by `job_run`'s dep miss.
    DerivativeWant {
        parent: WantIx,
        child: WantIx,
        job_run: Option<JobRunIx>,
    },
}

/// Everything the log has said so far, indexed for the views.
#[derive(Debug, Default, Clone)]
pub struct BuildState {
    refs: Interner,
    ref_entries: Column<RefEntry>,
    labels: Interner,
    job_run_ids: Interner,
    job_runs: Column<JobRun>,
    want_ids: Interner,
    wants: Column<Want>,
    taint_ids: Interner,
    taints: Column<Taint>,
    partitions: Column<PartitionInstance>,
    /// Partition instances by UUID: a table of indices hashed by the UUID stored in `partitions`, a
    /// fifth the size of a map holding the UUIDs again.
    partition_by_uuid: hashbrown::HashTable<PartitionIx>,
    events_applied: u64,
    last_event: Option<Stamp>,
    diagnostics: Vec<Diagnostic>,
    diagnostic_count: u64,
    recording: bool,
    changes: Vec<(u64, Change)>,
    /// Scratch space for want status refreshes, kept to avoid an allocation per event.
    want_queue: Vec<WantIx>,
    /// The digest of the state as it is, made on first request after a change. Columns keep prints
    /// of their unchanged blocks, so that costs what changed, not the state's size.
    digest: std::sync::OnceLock<String>,
}

impl BuildState {
    pub fn new() -> BuildState {
        BuildState::default()
    }

    /// A state with `events` applied in order, each event's position standing for its offset: for
    /// tests, benchmarks and logs already in memory.
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a crate::proto::DataBuildEvent>) -> BuildState {
        let mut state = BuildState::new();
        for (i, event) in events.into_iter().enumerate() {
            state.apply(event, i as u64);
        }
        state
    }

    // ---- counters -------------------------------------------------------------------------------

    /// Records applied, including those that only produced a diagnostic.
    pub fn events_applied(&self) -> u64 {
        self.events_applied
    }

    /// The id and timestamp of the last event applied.
    pub fn last_event(&self) -> Option<Stamp> {
        self.last_event
    }

    /// The stored diagnostics (at most [`MAX_STORED_DIAGNOSTICS`], oldest first).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// All diagnostics ever raised, stored or not.
    pub fn diagnostic_count(&self) -> u64 {
        self.diagnostic_count
    }

    // ---- change recording -----------------------------------------------------------------------

    /// Turns recording of [`Change`]s on or off (off by default).
    pub fn set_recording(&mut self, on: bool) {
        self.recording = on;
        if !on {
            self.changes.clear();
        }
    }

    /// The changes recorded since the last call, each with the id of the event that caused it.
    pub fn take_changes(&mut self) -> Vec<(u64, Change)> {
        std::mem::take(&mut self.changes)
    }

    // ---- names ----------------------------------------------------------------------------------

    pub fn ref_name(&self, id: RefId) -> &str {
        self.refs.name(id.0)
    }

    pub fn ref_id(&self, name: &str) -> Option<RefId> {
        self.refs.get(name).map(RefId)
    }

    pub fn label_name(&self, id: LabelId) -> &str {
        self.labels.name(id.0)
    }

    pub fn job_run_id(&self, ix: JobRunIx) -> &str {
        self.job_run_ids.name(ix.0)
    }

    pub fn want_id(&self, ix: WantIx) -> &str {
        self.want_ids.name(ix.0)
    }

    pub fn taint_id(&self, ix: TaintIx) -> &str {
        self.taint_ids.name(ix.0)
    }

    // ---- lookups --------------------------------------------------------------------------------

    pub fn find_job_run(&self, id: &str) -> Option<JobRunIx> {
        self.job_run_ids.get(id).map(JobRunIx)
    }

    pub fn find_want(&self, id: &str) -> Option<WantIx> {
        self.want_ids.get(id).map(WantIx)
    }

    pub fn find_taint(&self, id: &str) -> Option<TaintIx> {
        self.taint_ids.get(id).map(TaintIx)
    }

    pub fn find_partition(&self, uuid: &Uuid) -> Option<PartitionIx> {
        self.partition_by_uuid.find(uuid_hash(uuid), |p| self.partitions[p.index()].uuid == *uuid).copied()
    }

    /// The current (newest) instance of a ref.
    pub fn current_instance(&self, id: RefId) -> Option<PartitionIx> {
        self.ref_entries[id.index()].instances.last().copied()
    }

    // ---- entities -------------------------------------------------------------------------------

    pub fn job_run(&self, ix: JobRunIx) -> &JobRun {
        &self.job_runs[ix.index()]
    }

    pub fn want(&self, ix: WantIx) -> &Want {
        &self.wants[ix.index()]
    }

    pub fn partition(&self, ix: PartitionIx) -> &PartitionInstance {
        &self.partitions[ix.index()]
    }

    pub fn taint(&self, ix: TaintIx) -> &Taint {
        &self.taints[ix.index()]
    }

    pub fn ref_entry(&self, id: RefId) -> &RefEntry {
        &self.ref_entries[id.index()]
    }

    /// Whether the want has been created (not only mentioned by a job run).
    pub fn want_exists(&self, ix: WantIx) -> bool {
        self.wants[ix.index()].created.is_some()
    }

    // ---- iteration (in creation order, which is deterministic for a log) ------------------------

    pub fn job_run_count(&self) -> usize {
        self.job_runs.len()
    }

    pub fn want_count(&self) -> usize {
        self.wants.len()
    }

    pub fn partition_count(&self) -> usize {
        self.partitions.len()
    }

    pub fn ref_count(&self) -> usize {
        self.ref_entries.len()
    }

    pub fn taint_count(&self) -> usize {
        self.taints.len()
    }

    pub fn job_run_ixs(&self) -> impl DoubleEndedIterator<Item = JobRunIx> + ExactSizeIterator {
        (0..self.job_runs.len() as u32).map(JobRunIx)
    }

    pub fn want_ixs(&self) -> impl DoubleEndedIterator<Item = WantIx> + ExactSizeIterator {
        (0..self.wants.len() as u32).map(WantIx)
    }

    pub fn partition_ixs(&self) -> impl DoubleEndedIterator<Item = PartitionIx> + ExactSizeIterator {
        (0..self.partitions.len() as u32).map(PartitionIx)
    }

    pub fn ref_ids(&self) -> impl DoubleEndedIterator<Item = RefId> + ExactSizeIterator {
        (0..self.ref_entries.len() as u32).map(RefId)
    }

    /// What `run` read, each read ref with the instance it resolved to, in first-read order.
    pub fn reads<'a>(&'a self, run: &'a JobRun) -> impl ExactSizeIterator<Item = (RefId, PartitionIx)> + 'a {
        run.read_partitions.iter().map(|&p| (self.partitions[p.index()].partition_ref, p))
    }

    /// Every job run, in buffer order.
    pub fn job_runs(&self) -> impl DoubleEndedIterator<Item = &JobRun> {
        self.job_runs.iter()
    }

    /// The retry chain of `job_run` within the want it serviced, if it serviced that want.
    pub fn retry_chain(&self, want: WantIx, job_run: JobRunIx) -> Option<&RetryChain> {
        self.wants[want.index()].retry_chains.iter().find(|chain| chain.runs.contains(&job_run))
    }
}

/// UUIDs are hashes already (v5 is SHA-1): their first eight bytes serve.
fn uuid_hash(uuid: &Uuid) -> u64 {
    u64::from_le_bytes(uuid.as_bytes()[..8].try_into().expect("16 bytes"))
}

#[cfg(test)]
mod tests;
