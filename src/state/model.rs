//! The entities of a [`BuildState`](super::BuildState). They refer to each other by dense index
//! (`*Ix`, `RefId`), never by pointer, so the state is one flat, cheaply snapshotted structure.

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use thin_vec::ThinVec;
use uuid::Uuid;

/// A short list of ids, stored inline up to four (the common case: one output, a few reads) and
/// on the heap past that. Same size as a `Vec`, without its allocation.
pub type Ids<T> = SmallVec<[T; 4]>;

macro_rules! index_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        pub struct $name(pub u32);

        impl $name {
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}

index_type!(/// An interned partition ref.
    RefId);
index_type!(/// An interned job label.
    LabelId);
index_type!(/// A job run, in buffer order.
    JobRunIx);
index_type!(/// A want (created, or only mentioned so far), in first-seen order.
    WantIx);
index_type!(/// A partition instance, in creation order. One-to-one with its UUID.
    PartitionIx);
index_type!(/// A taint, in creation order.
    TaintIx);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum JobRunStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    DepMiss,
    Canceled,
}

impl JobRunStatus {
    pub fn is_terminal(self) -> bool {
        !matches!(self, JobRunStatus::Queued | JobRunStatus::Running)
    }

    pub fn name(self) -> &'static str {
        match self {
            JobRunStatus::Queued => "Queued",
            JobRunStatus::Running => "Running",
            JobRunStatus::Succeeded => "Succeeded",
            JobRunStatus::Failed => "Failed",
            JobRunStatus::DepMiss => "DepMiss",
            JobRunStatus::Canceled => "Canceled",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PartitionState {
    Building,
    Live,
    Failed,
    DepMiss,
    Canceled,
    Tainted,
    External,
}

impl PartitionState {
    /// Whether the instance's data exists, so a reader can resolve to it.
    pub fn has_data(self) -> bool {
        matches!(self, PartitionState::Live | PartitionState::Tainted)
    }

    pub fn name(self) -> &'static str {
        match self {
            PartitionState::Building => "Building",
            PartitionState::Live => "Live",
            PartitionState::Failed => "Failed",
            PartitionState::DepMiss => "DepMiss",
            PartitionState::Canceled => "Canceled",
            PartitionState::Tainted => "Tainted",
            PartitionState::External => "External",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum WantStatus {
    New,
    Building,
    UpstreamBuilding,
    Successful,
    Failed,
    UpstreamFailed,
    Canceled,
}

impl WantStatus {
    pub fn name(self) -> &'static str {
        match self {
            WantStatus::New => "New",
            WantStatus::Building => "Building",
            WantStatus::UpstreamBuilding => "UpstreamBuilding",
            WantStatus::Successful => "Successful",
            WantStatus::Failed => "Failed",
            WantStatus::UpstreamFailed => "UpstreamFailed",
            WantStatus::Canceled => "Canceled",
        }
    }
}

/// How a run that did not succeed ended, when the log says.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Ending {
    Failed { reason: Box<str> },
    Canceled(Cancellation),
}

const STARTED: u8 = 1;
const ENDED: u8 = 2;
const HEARTBEAT: u8 = 4;

impl JobRun {
    pub(super) fn new(label: LabelId, queued: Stamp, outputs: Ids<PartitionIx>) -> JobRun {
        let none = Stamp { timestamp: 0, event_id: 0 };
        JobRun {
            label,
            status: JobRunStatus::Queued,
            stamps_set: 0,
            queued,
            started: none,
            ended: none,
            heartbeat: none,
            outputs,
            wants: SmallVec::new(),
            read_deps: SmallVec::new(),
            read_partitions: SmallVec::new(),
            missing_deps: ThinVec::new(),
            derivative_wants: ThinVec::new(),
            ending: None,
        }
    }

    /// The reason given by its failure event, if it failed.
    pub fn failure_reason(&self) -> Option<&str> {
        match self.ending.as_deref() {
            Some(Ending::Failed { reason }) => Some(reason),
            _ => None,
        }
    }

    /// Its cancellation, if it was canceled.
    pub fn cancellation(&self) -> Option<&Cancellation> {
        match self.ending.as_deref() {
            Some(Ending::Canceled(c)) => Some(c),
            _ => None,
        }
    }

    fn stamp(&self, which: u8, stamp: Stamp) -> Option<Stamp> {
        (self.stamps_set & which != 0).then_some(stamp)
    }

    /// When it moved to Running, if it did.
    pub fn started(&self) -> Option<Stamp> {
        self.stamp(STARTED, self.started)
    }

    /// When it moved to its terminal status, if it did.
    pub fn ended(&self) -> Option<Stamp> {
        self.stamp(ENDED, self.ended)
    }

    /// Its last heartbeat, if any.
    pub fn last_heartbeat(&self) -> Option<Stamp> {
        self.stamp(HEARTBEAT, self.heartbeat)
    }

    /// Moves it to `status` at `at`: Running, or a terminal status.
    pub(super) fn moved(&mut self, status: JobRunStatus, at: Stamp) {
        self.status = status;
        if status == JobRunStatus::Running {
            (self.started, self.stamps_set) = (at, self.stamps_set | STARTED);
        } else {
            (self.ended, self.stamps_set) = (at, self.stamps_set | ENDED);
        }
    }

    pub(super) fn heard_from(&mut self, at: Stamp) {
        (self.heartbeat, self.stamps_set) = (at, self.stamps_set | HEARTBEAT);
    }

    /// Every status the run had, oldest first, with when it moved there.
    pub fn history(&self) -> impl DoubleEndedIterator<Item = StatusChange> {
        let running = self.started().map(|at| StatusChange { status: JobRunStatus::Running, at });
        let ended = self.ended().map(|at| StatusChange { status: self.status, at });
        [Some(StatusChange { status: JobRunStatus::Queued, at: self.queued }), running, ended].into_iter().flatten()
    }
}

/// Who caused a want, cancel or taint.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Source {
    Unspecified,
    Manual { user: Box<str> },
    JobTriggered { job_run_id: Box<str> },
}

/// When something happened, in the log's own terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Stamp {
    /// Milliseconds since the epoch, from the event envelope.
    pub timestamp: u64,
    pub event_id: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StatusChange {
    pub status: JobRunStatus,
    pub at: Stamp,
}

/// `ReadDeps` or `MissingDeps` with interned refs: `impacted` outputs ← `inputs`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Deps {
    pub impacted: Ids<RefId>,
    pub inputs: Ids<RefId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WantAttribution {
    pub want: WantIx,
    pub refs: Ids<RefId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Cancellation {
    pub at: Stamp,
    pub source: Source,
    pub comment: Option<Box<str>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct JobRun {
    pub label: LabelId,
    pub status: JobRunStatus,
    /// Which of `started`, `ended` and `heartbeat` are set: one byte in what would be padding,
    /// where three `Option<Stamp>`s would take 24 bytes more per run.
    pub(super) stamps_set: u8,
    /// When it was buffered (as Queued).
    pub queued: Stamp,
    /// When it moved to Running, if it did.
    pub(super) started: Stamp,
    /// When it moved to its terminal `status`, if it did. A run's history is always Queued, then
    /// perhaps Running, then perhaps one terminal status ([`JobRun::history`]).
    pub(super) ended: Stamp,
    pub(super) heartbeat: Stamp,
    /// The instances this run builds, one per `building_partitions` ref, in event order.
    /// These are also its `wrote_partition_uuids`.
    pub outputs: Ids<PartitionIx>,
    /// The wants it was scheduled for, with the refs attributed to each.
    pub wants: SmallVec<[WantAttribution; 1]>,
    /// From the success or dep-miss event.
    pub read_deps: SmallVec<[Deps; 1]>,
    /// Each read ref resolved at success time (`read_partition_uuids`), in first-read order. Never
    /// changes. Each instance is of the ref read, so the refs are not stored again: see
    /// [`super::BuildState::reads`].
    pub read_partitions: Ids<PartitionIx>,
    pub missing_deps: ThinVec<Deps>,
    /// Wants created with `source = job_triggered{this run}`.
    pub derivative_wants: ThinVec<WantIx>,
    /// Why a Failed or Canceled run ended (one pointer: rare, and a run ends one way).
    pub(super) ending: Option<Box<Ending>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PartitionInstance {
    pub uuid: Uuid,
    pub partition_ref: RefId,
    pub state: PartitionState,
    /// `None` for an External instance.
    pub built_by: Option<JobRunIx>,
    pub created: Stamp,
    /// When `state` last changed.
    pub state_since: Stamp,
    /// Every taint that marked this instance, oldest first; those not canceled are active.
    pub taints: ThinVec<TaintIx>,
    /// The consumer index entry for this instance: who read it to build what.
    pub consumers: SmallVec<[Consumer; 2]>,
}

/// One edge of the consumer index: `job_run` read the instance and built `output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Consumer {
    pub output: PartitionIx,
    pub job_run: JobRunIx,
}

/// Runs of one job label building the same refs for one want: retries of each other.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RetryChain {
    pub label: LabelId,
    /// Sorted by ref id.
    pub refs: Ids<RefId>,
    pub runs: Ids<JobRunIx>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Want {
    /// `None` while the want is only mentioned (by a job run's attribution) and not yet created.
    pub created: Option<Stamp>,
    pub refs: Ids<RefId>,
    pub data_timestamp: u64,
    pub ttl_seconds: u64,
    pub sla_seconds: u64,
    pub source: Source,
    pub comment: Option<Box<str>>,
    /// Boxed: rare, and large next to the rest.
    pub cancellation: Option<Box<Cancellation>>,
    /// Derived from the rest of the state; kept current as events land.
    pub status: WantStatus,
    /// The dep-missed run whose `job_triggered` source created this want, if it is in the log.
    pub triggered_by: Option<JobRunIx>,
    /// Wants the triggering run serviced.
    pub parents: ThinVec<WantIx>,
    /// Derivative wants spawned by dep misses of runs servicing this want.
    pub children: ThinVec<WantIx>,
    /// Every run scheduled for this want, in buffer order.
    pub job_runs: Ids<JobRunIx>,
    pub retry_chains: SmallVec<[RetryChain; 1]>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Taint {
    pub created: Stamp,
    pub refs: Ids<RefId>,
    /// The instances it marked, resolved when it was created.
    pub instances: Ids<PartitionIx>,
    pub source: Source,
    pub comment: Option<Box<str>>,
    /// Boxed: rare, and large next to the rest.
    pub cancellation: Option<Box<Cancellation>>,
}

/// What the state knows about one ref.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RefEntry {
    /// Every instance of the ref in creation order (an External one first, if any). The last is current.
    pub instances: Ids<PartitionIx>,
    /// Wants that asked for this ref.
    pub wants: Ids<WantIx>,
}

/// Something in the log that contradicts the state. The event is applied as far as it makes sense
/// (documented per case in `docs/STATE.md`) and this records why the rest was not.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Diagnostic {
    pub event_id: u64,
    /// Byte offset of the record in the log.
    pub offset: u64,
    pub message: String,
}
