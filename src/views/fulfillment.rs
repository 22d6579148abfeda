//! `databuild/fulfillment`: the work done to fulfill a want, as a tree rooted at the want.
//!
//! Flat representation: `wants` lists every want of the tree once (the root first, then its
//! derivative wants breadth-first), each with its wanted refs, its job nodes (one per retry chain,
//! or one per attempt with `expandRetries`) and links to its derivative wants by id. A want reached
//! twice (the child of two wants, or a cycle in a pathological log) is listed once; clients draw the
//! tree by starting at `wants[0]` and following `derivatives[].wantId`, marking repeats.

use rustc_hash::FxHashSet as HashSet;

use serde::{Deserialize, Serialize};

use super::detail::{find_want, ref_names};
use super::*;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FulfillmentParams {
    pub want_id: String,
    /// List every attempt of a retry chain as its own job node instead of one collapsed node.
    #[serde(default)]
    pub expand_retries: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FulfillmentView {
    /// The root want.
    pub want_id: String,
    pub expand_retries: bool,
    /// Every want in the tree, once: the root first, then derivative wants breadth-first.
    pub wants: Vec<FulfillmentWant>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FulfillmentWant {
    pub want_id: String,
    pub status: &'static str,
    pub partitions: Vec<WantedPartition>,
    /// The job runs scheduled for the want, grouped by retry chain (in chain creation order).
    pub jobs: Vec<JobNode>,
    pub derivatives: Vec<DerivativeLink>,
}

/// A wanted ref: its current instance and the instances runs for this want built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WantedPartition {
    #[serde(rename = "ref")]
    pub partition_ref: String,
    /// The ref's current (newest) instance, if it has one.
    pub current: Option<String>,
    /// Instances of the ref built by runs scheduled for this want, oldest first.
    pub built: Vec<String>,
}

/// A retry chain (collapsed: every attempt in `runs`) or one attempt of it (`expandRetries`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobNode {
    pub job_label: String,
    /// The refs the runs build.
    pub partitions: Vec<String>,
    /// Which of the want's retry chains this node is (0-based, chain creation order).
    pub retry_chain: usize,
    /// With `expandRetries`: the 1-based attempt number within the chain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<usize>,
    /// Job run ids, oldest first.
    pub runs: Vec<String>,
    /// The status of each run, oldest first.
    pub statuses: Vec<&'static str>,
    /// For display: `DepMiss → retry → Succeeded`.
    pub status_chain: String,
    /// The latest run's status.
    pub status: &'static str,
    /// What the latest run read (with UUIDs resolved at its success).
    pub read: Vec<PartitionUse>,
    /// What the latest run wrote.
    pub wrote: Vec<PartitionUse>,
    /// Derivative wants created by dep misses of these runs.
    pub derivative_wants: Vec<String>,
}

/// A derivative want of the want, and the dep-missed run that triggered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DerivativeLink {
    pub want_id: String,
    pub triggered_by: Option<String>,
}

impl HasRelatedIds for FulfillmentView {
    fn related_ids(&self, state: &BuildState, ids: &mut RelatedIds) {
        for w in &self.wants {
            ids.want(state, &w.want_id);
            for p in &w.partitions {
                for u in p.current.iter().chain(&p.built) {
                    ids.partition(state, u);
                }
            }
            for j in &w.jobs {
                for r in &j.runs {
                    ids.job_run(state, r);
                }
                ids_for_uses(state, &j.read, ids);
                ids_for_uses(state, &j.wrote, ids);
                for d in &j.derivative_wants {
                    ids.want(state, d);
                }
            }
            for d in &w.derivatives {
                ids.want(state, &d.want_id);
                if let Some(r) = &d.triggered_by {
                    ids.job_run(state, r);
                }
            }
        }
    }
}

/// `databuild/fulfillment`.
pub fn fulfillment(state: &BuildState, params: &FulfillmentParams) -> Result<Response<FulfillmentView>, ViewError> {
    let root = find_want(state, &params.want_id)?;
    let mut seen: HashSet<WantIx> = HashSet::from_iter([root]);
    let mut queue = std::collections::VecDeque::from([root]);
    let mut wants = Vec::new();
    while let Some(w) = queue.pop_front() {
        for &child in &state.want(w).children {
            if seen.insert(child) {
                queue.push_back(child);
            }
        }
        wants.push(fulfillment_want(state, w, params.expand_retries));
    }
    let view =
        FulfillmentView { want_id: state.want_id(root).to_owned(), expand_retries: params.expand_retries, wants };
    Ok(respond(state, view))
}

fn fulfillment_want(state: &BuildState, ix: WantIx, expand: bool) -> FulfillmentWant {
    let want = state.want(ix);
    let partitions = want
        .refs
        .iter()
        .map(|&r| WantedPartition {
            partition_ref: state.ref_name(r).to_owned(),
            current: state.current_instance(r).map(|p| uuid_of(state, p)),
            built: want
                .job_runs
                .iter()
                .flat_map(|&run| state.job_run(run).outputs.iter().copied())
                .filter(|&p| state.partition(p).partition_ref == r)
                .map(|p| uuid_of(state, p))
                .collect(),
        })
        .collect();
    let mut jobs = Vec::new();
    for (i, chain) in want.retry_chains.iter().enumerate() {
        if expand {
            for (attempt, &run) in chain.runs.iter().enumerate() {
                jobs.push(job_node(state, chain, i, Some(attempt + 1), &[run]));
            }
        } else {
            jobs.push(job_node(state, chain, i, None, &chain.runs));
        }
    }
    let derivatives = want
        .children
        .iter()
        .map(|&c| DerivativeLink {
            want_id: state.want_id(c).to_owned(),
            triggered_by: state.want(c).triggered_by.map(|r| state.job_run_id(r).to_owned()),
        })
        .collect();
    FulfillmentWant { want_id: state.want_id(ix).to_owned(), status: want.status.name(), partitions, jobs, derivatives }
}

fn job_node(
    state: &BuildState,
    chain: &crate::state::RetryChain,
    retry_chain: usize,
    attempt: Option<usize>,
    runs: &[JobRunIx],
) -> JobNode {
    let latest = *runs.last().expect("a retry chain has at least one run");
    let statuses: Vec<&'static str> = runs.iter().map(|&r| state.job_run(r).status.name()).collect();
    JobNode {
        job_label: state.label_name(chain.label).to_owned(),
        partitions: ref_names(state, &chain.refs),
        retry_chain,
        attempt,
        runs: runs.iter().map(|&r| state.job_run_id(r).to_owned()).collect(),
        status_chain: status_chain_text(&statuses),
        status: state.job_run(latest).status.name(),
        statuses,
        read: run_reads(state, latest),
        wrote: run_writes(state, latest),
        derivative_wants: runs
            .iter()
            .flat_map(|&r| state.job_run(r).derivative_wants.iter())
            .map(|&w| state.want_id(w).to_owned())
            .collect(),
    }
}
