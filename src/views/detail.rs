//! `databuild/jobRun`, `databuild/partition`, `databuild/want`: one entity and its immediate context.

use serde::{Deserialize, Serialize};

use super::*;
use crate::state::{JobRunStatus, RefId};

// ---- job run ----------------------------------------------------------------------------------------

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRunParams {
    pub job_run_id: String,
}

/// The refs a run was scheduled to build for one want.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WantAttributionView {
    pub want_id: String,
    pub partitions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRunDetail {
    pub job_run_id: String,
    pub job_label: String,
    pub status: &'static str,
    /// The wants it was scheduled for, with the refs attributed to each.
    pub scheduled_for: Vec<WantAttributionView>,
    /// Inputs: for a succeeded run each with the instance resolved at success (never changes);
    /// otherwise the refs its read deps name, unresolved.
    pub read: Vec<PartitionUse>,
    /// Outputs: each ref with the instance this run built.
    pub wrote: Vec<PartitionUse>,
    /// Which inputs were read for which outputs (`impacted` ← `inputs`).
    pub read_deps: Vec<DepsView>,
    /// For a dep miss: which inputs were missing for which outputs.
    pub missing_deps: Vec<DepsView>,
    /// Every status it went through, oldest first.
    pub history: Vec<StatusEntry>,
    pub last_heartbeat: Option<StampView>,
    /// Wants created because of this run's dep miss.
    pub derivative_wants: Vec<String>,
    /// The retry chain(s) it belongs to (one per want it serviced), with the other attempts.
    pub retry_chains: Vec<RetryChainView>,
    pub failure_reason: Option<String>,
    pub cancellation: Option<CancellationView>,
}

impl HasRelatedIds for JobRunDetail {
    fn related_ids(&self, state: &BuildState, ids: &mut RelatedIds) {
        ids.job_run(state, &self.job_run_id);
        for a in &self.scheduled_for {
            ids.want(state, &a.want_id);
        }
        ids_for_uses(state, &self.read, ids);
        ids_for_uses(state, &self.wrote, ids);
        for w in &self.derivative_wants {
            ids.want(state, w);
        }
        self.retry_chains.related_ids(state, ids);
        if let Some(c) = &self.cancellation {
            source_ids(state, &c.source, ids);
        }
    }
}

/// `databuild/jobRun`.
pub fn job_run(state: &BuildState, params: &JobRunParams) -> Result<Response<JobRunDetail>, ViewError> {
    let ix = find_job_run(state, &params.job_run_id)?;
    Ok(respond(state, job_run_detail(state, ix)))
}

pub(crate) fn find_job_run(state: &BuildState, id: &str) -> Result<JobRunIx, ViewError> {
    if id.is_empty() {
        return Err(ViewError::bad("jobRunId", "missing: give a job run id"));
    }
    state.find_job_run(id).ok_or_else(|| ViewError::not_found("job run", id))
}

pub(crate) fn job_run_detail(state: &BuildState, ix: JobRunIx) -> JobRunDetail {
    let run = state.job_run(ix);
    let retry_chains = run
        .wants
        .iter()
        .filter_map(|a| state.retry_chain(a.want, ix).map(|chain| retry_chain_view(state, a.want, chain)))
        .collect();
    JobRunDetail {
        job_run_id: state.job_run_id(ix).to_owned(),
        job_label: state.label_name(run.label).to_owned(),
        status: run.status.name(),
        scheduled_for: run
            .wants
            .iter()
            .map(|a| WantAttributionView {
                want_id: state.want_id(a.want).to_owned(),
                partitions: ref_names(state, &a.refs),
            })
            .collect(),
        read: run_reads(state, ix),
        wrote: run_writes(state, ix),
        read_deps: deps_views(state, &run.read_deps),
        missing_deps: deps_views(state, &run.missing_deps),
        history: run
            .history()
            .map(|h| StatusEntry { status: h.status.name(), timestamp: h.at.timestamp, event_id: h.at.event_id })
            .collect(),
        last_heartbeat: run.last_heartbeat().map(stamp),
        derivative_wants: run.derivative_wants.iter().map(|&w| state.want_id(w).to_owned()).collect(),
        retry_chains,
        failure_reason: run.failure_reason().map(str::to_owned),
        cancellation: run.cancellation().map(cancellation_view),
    }
}

// ---- partition --------------------------------------------------------------------------------------

/// Give `ref` (the ref's current instance, plus its instance history) or `uuid` (exactly that
/// instance, however old).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartitionParams {
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub partition_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
}

/// One edge of the consumer index: `jobRunId` read this instance and built `uuid`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsumerView {
    pub uuid: String,
    pub job_run_id: String,
}

/// A taint that marked an instance; active while `canceled` is `None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaintView {
    pub taint_id: String,
    pub timestamp: u64,
    pub event_id: u64,
    pub source: SourceView,
    pub comment: Option<String>,
    pub canceled: Option<CancellationView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartitionDetail {
    pub uuid: String,
    #[serde(rename = "ref")]
    pub partition_ref: String,
    pub state: &'static str,
    /// Whether this is the ref's current (newest) instance.
    pub current: bool,
    pub created: StampView,
    /// When `state` last changed.
    pub state_since: StampView,
    /// The job run that built it (its detail holds the inputs); absent for an External instance.
    pub built_by: Option<String>,
    /// The instances its builder read for it (resolved at success), by UUID.
    pub upstream: Vec<String>,
    /// Who read it to build what (the consumer index entry), in the order they were recorded.
    pub consumers: Vec<ConsumerView>,
    /// Wants that asked for the ref.
    pub wants: Vec<String>,
    pub taints: Vec<TaintView>,
    /// Asked for by ref: every instance of the ref, oldest first (the last is current). Absent when
    /// asked for by UUID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instances: Option<Vec<String>>,
}

impl HasRelatedIds for PartitionDetail {
    fn related_ids(&self, state: &BuildState, ids: &mut RelatedIds) {
        ids.partition(state, &self.uuid);
        if let Some(b) = &self.built_by {
            ids.job_run(state, b);
        }
        for u in &self.upstream {
            ids.partition(state, u);
        }
        for c in &self.consumers {
            ids.partition(state, &c.uuid);
            ids.job_run(state, &c.job_run_id);
        }
        for w in &self.wants {
            ids.want(state, w);
        }
        for t in &self.taints {
            source_ids(state, &t.source, ids);
        }
        for u in self.instances.iter().flatten() {
            ids.partition(state, u);
        }
    }
}

/// `databuild/partition`.
pub fn partition(state: &BuildState, params: &PartitionParams) -> Result<Response<PartitionDetail>, ViewError> {
    let ix = resolve_partition(state, params.partition_ref.as_deref(), params.uuid.as_deref())?;
    let mut detail = partition_detail(state, ix);
    if params.partition_ref.is_some() {
        let entry = state.ref_entry(state.partition(ix).partition_ref);
        detail.instances = Some(entry.instances.iter().map(|&p| uuid_of(state, p)).collect());
    }
    Ok(respond(state, detail))
}

/// The instances `ix`'s builder read for it: read deps whose `impacted` names its ref (or is empty,
/// meaning every output), resolved as the builder resolved them. Empty unless the builder succeeded.
pub fn upstream_of(state: &BuildState, ix: PartitionIx) -> Vec<PartitionIx> {
    let p = state.partition(ix);
    let Some(builder) = p.built_by else { return Vec::new() };
    let run = state.job_run(builder);
    if run.status != JobRunStatus::Succeeded {
        return Vec::new();
    }
    let mut out: Vec<PartitionIx> = Vec::new();
    for deps in run.read_deps.iter() {
        if !deps.impacted.is_empty() && !deps.impacted.contains(&p.partition_ref) {
            continue;
        }
        for input in deps.inputs.iter() {
            if let Some((_, read)) = state.reads(run).find(|(r, _)| r == input) {
                if !out.contains(&read) {
                    out.push(read);
                }
            }
        }
    }
    out
}

pub(crate) fn partition_detail(state: &BuildState, ix: PartitionIx) -> PartitionDetail {
    let p = state.partition(ix);
    PartitionDetail {
        uuid: p.uuid.to_string(),
        partition_ref: state.ref_name(p.partition_ref).to_owned(),
        state: p.state.name(),
        current: state.current_instance(p.partition_ref) == Some(ix),
        created: stamp(p.created),
        state_since: stamp(p.state_since),
        built_by: p.built_by.map(|r| state.job_run_id(r).to_owned()),
        upstream: upstream_of(state, ix).into_iter().map(|u| uuid_of(state, u)).collect(),
        consumers: p
            .consumers
            .iter()
            .map(|c| ConsumerView {
                uuid: uuid_of(state, c.output),
                job_run_id: state.job_run_id(c.job_run).to_owned(),
            })
            .collect(),
        wants: state.ref_entry(p.partition_ref).wants.iter().map(|&w| state.want_id(w).to_owned()).collect(),
        taints: p
            .taints
            .iter()
            .map(|&t| {
                let taint = state.taint(t);
                TaintView {
                    taint_id: state.taint_id(t).to_owned(),
                    timestamp: taint.created.timestamp,
                    event_id: taint.created.event_id,
                    source: source_view(&taint.source),
                    comment: taint.comment.as_deref().map(str::to_owned),
                    canceled: taint.cancellation.as_deref().map(cancellation_view),
                }
            })
            .collect(),
        instances: None,
    }
}

// ---- want -------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WantParams {
    pub want_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WantDetail {
    pub want_id: String,
    pub status: &'static str,
    /// The wanted refs.
    pub partitions: Vec<String>,
    /// The current instance of each wanted ref that has one, in `partitions` order.
    pub current_instances: Vec<String>,
    /// When the want was created; absent if the log only mentions it (a job run was scheduled for
    /// it) and has not created it yet.
    pub created: Option<StampView>,
    pub source: SourceView,
    pub comment: Option<String>,
    pub data_timestamp: u64,
    pub ttl_seconds: u64,
    pub sla_seconds: u64,
    pub cancellation: Option<CancellationView>,
    /// For a derivative want: the dep-missed run that created it.
    pub triggered_by: Option<String>,
    /// Wants the triggering run serviced.
    pub parents: Vec<String>,
    /// Derivative wants spawned by dep misses of runs servicing this want.
    pub derivative_wants: Vec<String>,
    /// Every run scheduled for it, in buffer order.
    pub job_runs: Vec<String>,
    pub retry_chains: Vec<RetryChainView>,
}

impl HasRelatedIds for WantDetail {
    fn related_ids(&self, state: &BuildState, ids: &mut RelatedIds) {
        ids.want(state, &self.want_id);
        for u in &self.current_instances {
            ids.partition(state, u);
        }
        source_ids(state, &self.source, ids);
        if let Some(c) = &self.cancellation {
            source_ids(state, &c.source, ids);
        }
        for w in self.parents.iter().chain(&self.derivative_wants) {
            ids.want(state, w);
        }
        for r in self.job_runs.iter().chain(&self.triggered_by) {
            ids.job_run(state, r);
        }
        self.retry_chains.related_ids(state, ids);
    }
}

/// `databuild/want`.
pub fn want(state: &BuildState, params: &WantParams) -> Result<Response<WantDetail>, ViewError> {
    let ix = find_want(state, &params.want_id)?;
    Ok(respond(state, want_detail(state, ix)))
}

pub(crate) fn find_want(state: &BuildState, id: &str) -> Result<WantIx, ViewError> {
    if id.is_empty() {
        return Err(ViewError::bad("wantId", "missing: give a want id"));
    }
    state.find_want(id).ok_or_else(|| ViewError::not_found("want", id))
}

pub(crate) fn want_detail(state: &BuildState, ix: WantIx) -> WantDetail {
    let w = state.want(ix);
    WantDetail {
        want_id: state.want_id(ix).to_owned(),
        status: w.status.name(),
        partitions: ref_names(state, &w.refs),
        current_instances: w
            .refs
            .iter()
            .filter_map(|&r| state.current_instance(r))
            .map(|p| uuid_of(state, p))
            .collect(),
        created: w.created.map(stamp),
        source: source_view(&w.source),
        comment: w.comment.as_deref().map(str::to_owned),
        data_timestamp: w.data_timestamp,
        ttl_seconds: w.ttl_seconds,
        sla_seconds: w.sla_seconds,
        cancellation: w.cancellation.as_deref().map(cancellation_view),
        triggered_by: w.triggered_by.map(|r| state.job_run_id(r).to_owned()),
        parents: w.parents.iter().map(|&p| state.want_id(p).to_owned()).collect(),
        derivative_wants: w.children.iter().map(|&c| state.want_id(c).to_owned()).collect(),
        job_runs: w.job_runs.iter().map(|&r| state.job_run_id(r).to_owned()).collect(),
        retry_chains: w.retry_chains.iter().map(|c| retry_chain_view(state, ix, c)).collect(),
    }
}

// ---- helpers ----------------------------------------------------------------------------------------

pub(crate) fn ref_names(state: &BuildState, refs: &[RefId]) -> Vec<String> {
    refs.iter().map(|&r| state.ref_name(r).to_owned()).collect()
}

fn source_ids(state: &BuildState, source: &SourceView, ids: &mut RelatedIds) {
    if let SourceView::JobTriggered { job_run_id } = source {
        ids.job_run(state, job_run_id);
    }
}
