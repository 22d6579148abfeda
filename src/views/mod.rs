//! The views: pure functions of a [`BuildState`] snapshot that answer the `databuild/*` query methods.
//!
//! Architecture invariants: no I/O, no JSON-RPC, no clock. The same state gives byte-identical
//! results (entities are listed in creation order, maps are `BTreeMap`s). Every result is a
//! [`Response`]: flat `data` that names other entities by id, plus one [`RelatedEntities`] index
//! that resolves every id `data` mentions, built by one resolver ([`respond`]) from the ids each
//! detail type reports through [`HasRelatedIds`]. Paging cursors are stateless: they carry the
//! position to continue from, so the server keeps nothing per request.
//!
//! The result and param types are what the JSON-RPC methods return and accept (field names in
//! lowerCamelCase); `docs/PROTOCOL.md` documents them with examples.

mod detail;
mod fulfillment;
mod lineage;
mod list;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use uuid::Uuid;

use crate::state::{
    BuildState, Cancellation, Deps, JobRunIx, JobRunStatus, PartitionIx, PartitionState, RetryChain, Source, Stamp,
    WantIx, WantStatus,
};

pub use detail::{
    job_run, partition, upstream_of, want, ConsumerView, JobRunDetail, JobRunParams, PartitionDetail, PartitionParams,
    TaintView, WantAttributionView, WantDetail, WantParams,
};
pub use fulfillment::{
    fulfillment, DerivativeLink, FulfillmentParams, FulfillmentView, FulfillmentWant, JobNode, WantedPartition,
};
pub use lineage::{
    lineage, Direction, LineageEdge, LineageNode, LineageParams, LineageView, Truncation, DEFAULT_DEPTH,
    DEFAULT_FANOUT_LIMIT, MAX_DEPTH, MAX_FANOUT_LIMIT,
};
pub use list::{list_job_runs, list_partitions, list_wants, ListParams, Page, DEFAULT_LIMIT, MAX_LIMIT};

/// Why a view could not be answered. The daemon maps `NotFound` to its "no such entity" code and
/// `BadParams` to -32602.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ViewError {
    /// `kind` is `"want"`, `"job run"`, `"partition"` (a UUID) or `"ref"`.
    #[error("no such {kind}: {id}")]
    NotFound { kind: &'static str, id: String },
    /// `field` is the wire (lowerCamelCase) name of the offending param.
    #[error("bad params: {field}: {message}")]
    BadParams { field: &'static str, message: String },
}

impl ViewError {
    pub(crate) fn not_found(kind: &'static str, id: impl Into<String>) -> ViewError {
        ViewError::NotFound { kind, id: id.into() }
    }

    pub(crate) fn bad(field: &'static str, message: impl Into<String>) -> ViewError {
        ViewError::BadParams { field, message: message.into() }
    }

    /// The kind of a `NotFound` as a wire name: `want`, `jobRun`, `partition` or `ref`.
    pub fn wire_kind(&self) -> Option<&'static str> {
        match self {
            ViewError::NotFound { kind: "job run", .. } => Some("jobRun"),
            ViewError::NotFound { kind, .. } => Some(kind),
            ViewError::BadParams { .. } => None,
        }
    }
}

// ---- the response pattern ---------------------------------------------------------------------------

/// Every get/list result: the primary `data` and an index of every entity it mentions.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Response<T> {
    pub data: T,
    pub index: RelatedEntities,
}

/// Each entity `data` mentions, once, keyed by its id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RelatedEntities {
    /// Keyed by instance UUID.
    pub partitions: BTreeMap<String, PartitionSummary>,
    pub job_runs: BTreeMap<String, JobRunSummary>,
    pub wants: BTreeMap<String, WantSummary>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartitionSummary {
    pub uuid: String,
    #[serde(rename = "ref")]
    pub partition_ref: String,
    pub state: &'static str,
    /// The job run that built the instance; absent for an External instance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub built_by: Option<String>,
    /// Whether this is the ref's current (newest) instance.
    pub current: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRunSummary {
    pub job_run_id: String,
    pub job_label: String,
    pub status: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WantSummary {
    pub want_id: String,
    pub status: &'static str,
    /// The refs the want asks for.
    pub partitions: Vec<String>,
}

/// The ids a result mentions, collected for the index.
#[derive(Debug, Default)]
pub struct RelatedIds {
    partitions: BTreeSet<PartitionIx>,
    job_runs: BTreeSet<JobRunIx>,
    wants: BTreeSet<WantIx>,
}

impl RelatedIds {
    /// An instance named by its UUID text (ignored if the state does not know it).
    pub fn partition(&mut self, state: &BuildState, uuid: &str) {
        if let Some(ix) = Uuid::parse_str(uuid).ok().and_then(|u| state.find_partition(&u)) {
            self.partition_ix(ix);
        }
    }

    /// An instance the result holds by index.
    pub fn partition_ix(&mut self, ix: PartitionIx) {
        self.partitions.insert(ix);
    }

    /// A job run the result holds by index.
    pub fn job_run_ix(&mut self, ix: JobRunIx) {
        self.job_runs.insert(ix);
    }

    pub fn job_run(&mut self, state: &BuildState, id: &str) {
        if let Some(ix) = state.find_job_run(id) {
            self.job_run_ix(ix);
        }
    }

    pub fn want(&mut self, state: &BuildState, id: &str) {
        if let Some(ix) = state.find_want(id) {
            self.wants.insert(ix);
        }
    }
}

/// A detail type reports every entity id it mentions, so [`respond`] can build the index.
pub trait HasRelatedIds {
    fn related_ids(&self, state: &BuildState, ids: &mut RelatedIds);
}

impl<T: HasRelatedIds> HasRelatedIds for Vec<T> {
    fn related_ids(&self, state: &BuildState, ids: &mut RelatedIds) {
        for item in self {
            item.related_ids(state, ids);
        }
    }
}

/// The one resolver: wraps `data` with the index of everything it mentions.
pub fn respond<T: HasRelatedIds>(state: &BuildState, data: T) -> Response<T> {
    let mut ids = RelatedIds::default();
    data.related_ids(state, &mut ids);
    let mut index = RelatedEntities::default();
    for ix in ids.partitions {
        let summary = partition_summary(state, ix);
        index.partitions.insert(summary.uuid.clone(), summary);
    }
    for ix in ids.job_runs {
        let run = state.job_run(ix);
        let id = state.job_run_id(ix).to_owned();
        let summary = JobRunSummary {
            job_run_id: id.clone(),
            job_label: state.label_name(run.label).into(),
            status: run.status.name(),
        };
        index.job_runs.insert(id, summary);
    }
    for ix in ids.wants {
        let want = state.want(ix);
        let id = state.want_id(ix).to_owned();
        let summary = WantSummary {
            want_id: id.clone(),
            status: want.status.name(),
            partitions: want.refs.iter().map(|&r| state.ref_name(r).to_owned()).collect(),
        };
        index.wants.insert(id, summary);
    }
    Response { data, index }
}

pub(crate) fn partition_summary(state: &BuildState, ix: PartitionIx) -> PartitionSummary {
    let p = state.partition(ix);
    PartitionSummary {
        uuid: p.uuid.to_string(),
        partition_ref: state.ref_name(p.partition_ref).to_owned(),
        state: p.state.name(),
        built_by: p.built_by.map(|r| state.job_run_id(r).to_owned()),
        current: state.current_instance(p.partition_ref) == Some(ix),
    }
}

// ---- shared pieces of detail types ------------------------------------------------------------------

/// A partition ref and, when known, the instance it resolved to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartitionUse {
    #[serde(rename = "ref")]
    pub partition_ref: String,
    /// The instance: for reads, the one resolved at success (absent if the run did not succeed, so
    /// nothing was resolved); for writes, the one the run built.
    pub uuid: Option<String>,
}

/// `ReadDeps` / `MissingDeps`: `impacted` outputs ← `inputs` (read or missing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DepsView {
    pub impacted: Vec<String>,
    pub inputs: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StampView {
    /// Milliseconds since the epoch.
    pub timestamp: u64,
    pub event_id: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusEntry {
    pub status: &'static str,
    pub timestamp: u64,
    pub event_id: u64,
}

/// Who caused a want, cancel or taint: `{"type": "manual", "user": ...}`,
/// `{"type": "jobTriggered", "jobRunId": ...}` or `{"type": "unspecified"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum SourceView {
    Unspecified,
    Manual { user: String },
    JobTriggered { job_run_id: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CancellationView {
    pub timestamp: u64,
    pub event_id: u64,
    pub source: SourceView,
    pub comment: Option<String>,
}

/// Runs of one job label building the same refs for one want: each a retry of the one before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryChainView {
    pub want_id: String,
    pub job_label: String,
    pub partitions: Vec<String>,
    /// Job run ids, oldest first.
    pub runs: Vec<String>,
    /// The status of each run, oldest first.
    pub statuses: Vec<&'static str>,
    /// The statuses joined for display: `DepMiss → retry → Succeeded`.
    pub status_chain: String,
}

impl HasRelatedIds for RetryChainView {
    fn related_ids(&self, state: &BuildState, ids: &mut RelatedIds) {
        ids.want(state, &self.want_id);
        for run in &self.runs {
            ids.job_run(state, run);
        }
    }
}

pub(crate) fn stamp(at: Stamp) -> StampView {
    StampView { timestamp: at.timestamp, event_id: at.event_id }
}

pub(crate) fn source_view(source: &Source) -> SourceView {
    match source {
        Source::Unspecified => SourceView::Unspecified,
        Source::Manual { user } => SourceView::Manual { user: user.to_string() },
        Source::JobTriggered { job_run_id } => SourceView::JobTriggered { job_run_id: job_run_id.to_string() },
    }
}

pub(crate) fn cancellation_view(c: &Cancellation) -> CancellationView {
    CancellationView {
        timestamp: c.at.timestamp,
        event_id: c.at.event_id,
        source: source_view(&c.source),
        comment: c.comment.as_deref().map(str::to_owned),
    }
}

pub(crate) fn deps_views(state: &BuildState, deps: &[Deps]) -> Vec<DepsView> {
    deps.iter()
        .map(|d| DepsView {
            impacted: d.impacted.iter().map(|&r| state.ref_name(r).to_owned()).collect(),
            inputs: d.inputs.iter().map(|&r| state.ref_name(r).to_owned()).collect(),
        })
        .collect()
}

pub(crate) fn uuid_of(state: &BuildState, ix: PartitionIx) -> String {
    state.partition(ix).uuid.to_string()
}

/// What a run read: for a succeeded run, each read ref with the instance it resolved to; otherwise
/// the refs its read deps name (unresolved), in first-read order.
pub(crate) fn run_reads(state: &BuildState, ix: JobRunIx) -> Vec<PartitionUse> {
    let run = state.job_run(ix);
    if run.status == JobRunStatus::Succeeded {
        return state
            .reads(run)
            .map(|(r, p)| PartitionUse { partition_ref: state.ref_name(r).to_owned(), uuid: Some(uuid_of(state, p)) })
            .collect();
    }
    let mut seen = Vec::new();
    for deps in run.read_deps.iter() {
        for &r in deps.inputs.iter() {
            if !seen.contains(&r) {
                seen.push(r);
            }
        }
    }
    seen.into_iter().map(|r| PartitionUse { partition_ref: state.ref_name(r).to_owned(), uuid: None }).collect()
}

/// What a run wrote: each output ref with the instance it built, in event order.
pub(crate) fn run_writes(state: &BuildState, ix: JobRunIx) -> Vec<PartitionUse> {
    state
        .job_run(ix)
        .outputs
        .iter()
        .map(|&p| PartitionUse {
            partition_ref: state.ref_name(state.partition(p).partition_ref).to_owned(),
            uuid: Some(uuid_of(state, p)),
        })
        .collect()
}

pub(crate) fn status_chain_text(statuses: &[&str]) -> String {
    statuses.join(" → retry → ")
}

pub(crate) fn retry_chain_view(state: &BuildState, want: WantIx, chain: &RetryChain) -> RetryChainView {
    let statuses: Vec<&'static str> = chain.runs.iter().map(|&r| state.job_run(r).status.name()).collect();
    RetryChainView {
        want_id: state.want_id(want).to_owned(),
        job_label: state.label_name(chain.label).to_owned(),
        partitions: chain.refs.iter().map(|&r| state.ref_name(r).to_owned()).collect(),
        runs: chain.runs.iter().map(|&r| state.job_run_id(r).to_owned()).collect(),
        status_chain: status_chain_text(&statuses),
        statuses,
    }
}

fn ids_for_uses(state: &BuildState, uses: &[PartitionUse], ids: &mut RelatedIds) {
    for u in uses {
        if let Some(uuid) = &u.uuid {
            ids.partition(state, uuid);
        }
    }
}

/// Parses a status filter case-insensitively against `names`, naming the valid values on error.
pub(crate) fn parse_named<T: Copy>(
    field: &'static str,
    value: &str,
    all: &[T],
    name: impl Fn(T) -> &'static str,
) -> Result<T, ViewError> {
    all.iter().copied().find(|&v| name(v).eq_ignore_ascii_case(value)).ok_or_else(|| {
        let valid: Vec<&str> = all.iter().map(|&v| name(v)).collect();
        ViewError::bad(field, format!("unknown value {value:?}; expected one of {}", valid.join(", ")))
    })
}

pub(crate) const JOB_RUN_STATUSES: [JobRunStatus; 6] = [
    JobRunStatus::Queued,
    JobRunStatus::Running,
    JobRunStatus::Succeeded,
    JobRunStatus::Failed,
    JobRunStatus::DepMiss,
    JobRunStatus::Canceled,
];

pub(crate) const PARTITION_STATES: [PartitionState; 7] = [
    PartitionState::Building,
    PartitionState::Live,
    PartitionState::Failed,
    PartitionState::DepMiss,
    PartitionState::Canceled,
    PartitionState::Tainted,
    PartitionState::External,
];

pub(crate) const WANT_STATUSES: [WantStatus; 7] = [
    WantStatus::New,
    WantStatus::Building,
    WantStatus::UpstreamBuilding,
    WantStatus::Successful,
    WantStatus::Failed,
    WantStatus::UpstreamFailed,
    WantStatus::Canceled,
];

/// Resolves `ref` or `uuid` (exactly one) to an instance: a ref to its current instance, a UUID to
/// exactly that instance.
pub(crate) fn resolve_partition(
    state: &BuildState,
    partition_ref: Option<&str>,
    uuid: Option<&str>,
) -> Result<PartitionIx, ViewError> {
    match (partition_ref, uuid) {
        (Some(_), Some(_)) => Err(ViewError::bad("uuid", "give either ref or uuid, not both")),
        (None, None) => Err(ViewError::bad("ref", "missing: give a partition ref or an instance uuid")),
        (Some(r), None) => {
            state.ref_id(r).and_then(|id| state.current_instance(id)).ok_or_else(|| ViewError::not_found("ref", r))
        }
        (None, Some(u)) => {
            let parsed =
                Uuid::parse_str(u.trim()).map_err(|e| ViewError::bad("uuid", format!("{u:?} is not a UUID: {e}")))?;
            state.find_partition(&parsed).ok_or_else(|| ViewError::not_found("partition", u))
        }
    }
}
