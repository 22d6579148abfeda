//! `databuild/listWants`, `databuild/listJobRuns`, `databuild/listPartitions`: pages of details in
//! creation order, with one index shared by the page.
//!
//! Cursors are stateless: `wants:N`, `jobRuns:N` or `partitions:N`, where N is the creation index to
//! resume scanning at. Entities are only ever appended, so a cursor stays valid while the log grows:
//! the next page continues where the last ended and later entities come after it.

use serde::{Deserialize, Serialize};

use super::detail::{find_want, job_run_detail, partition_detail, want_detail};
use super::*;

pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 1000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListParams {
    /// Want status, job run status or partition state (case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Wants with a run of this label; runs of this label; instances built by a run of this label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_label: Option<String>,
    /// Wants asking for, runs building, or instances of a ref starting with this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ref_prefix: Option<String>,
    /// Derivative wants of this want; runs scheduled for it; instances built by runs scheduled for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub want_id: Option<String>,
    /// Page size, 1..=1000 (default 100).
    #[serde(default = "default_limit")]
    pub limit: u32,
    /// `nextCursor` from the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

fn default_limit() -> u32 {
    DEFAULT_LIMIT
}

impl Default for ListParams {
    fn default() -> ListParams {
        ListParams {
            status: None,
            job_label: None,
            ref_prefix: None,
            want_id: None,
            limit: DEFAULT_LIMIT,
            cursor: None,
        }
    }
}

/// One page: `items` in creation order and, if more match, the cursor for the next page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T: HasRelatedIds> HasRelatedIds for Page<T> {
    fn related_ids(&self, state: &BuildState, ids: &mut RelatedIds) {
        self.items.related_ids(state, ids);
    }
}

/// `databuild/listWants`.
pub fn list_wants(state: &BuildState, params: &ListParams) -> Result<Response<Page<WantDetail>>, ViewError> {
    let status =
        params.status.as_deref().map(|s| parse_named("status", s, &WANT_STATUSES, |v| v.name())).transpose()?;
    let parent = params.want_id.as_deref().map(|w| find_want(state, w)).transpose()?;
    let page = paginate("wants", state.want_count(), params, |i| {
        let ix = WantIx(i as u32);
        let want = state.want(ix);
        let ok = status.is_none_or(|s| want.status == s)
            && parent.is_none_or(|p| want.parents.contains(&p))
            && params
                .ref_prefix
                .as_deref()
                .is_none_or(|pre| want.refs.iter().any(|&r| state.ref_name(r).starts_with(pre)))
            && params
                .job_label
                .as_deref()
                .is_none_or(|l| want.retry_chains.iter().any(|c| state.label_name(c.label) == l));
        ok.then(|| want_detail(state, ix))
    })?;
    Ok(respond(state, page))
}

/// `databuild/listJobRuns`.
pub fn list_job_runs(state: &BuildState, params: &ListParams) -> Result<Response<Page<JobRunDetail>>, ViewError> {
    let status =
        params.status.as_deref().map(|s| parse_named("status", s, &JOB_RUN_STATUSES, |v| v.name())).transpose()?;
    let want = params.want_id.as_deref().map(|w| find_want(state, w)).transpose()?;
    let page = paginate("jobRuns", state.job_run_count(), params, |i| {
        let ix = JobRunIx(i as u32);
        let run = state.job_run(ix);
        let ok = status.is_none_or(|s| run.status == s)
            && want.is_none_or(|w| run.wants.iter().any(|a| a.want == w))
            && params.job_label.as_deref().is_none_or(|l| state.label_name(run.label) == l)
            && params.ref_prefix.as_deref().is_none_or(|pre| {
                run.outputs.iter().any(|&p| state.ref_name(state.partition(p).partition_ref).starts_with(pre))
            });
        ok.then(|| job_run_detail(state, ix))
    })?;
    Ok(respond(state, page))
}

/// `databuild/listPartitions`: partition instances (each with its UUID), oldest first.
pub fn list_partitions(state: &BuildState, params: &ListParams) -> Result<Response<Page<PartitionDetail>>, ViewError> {
    let status =
        params.status.as_deref().map(|s| parse_named("status", s, &PARTITION_STATES, |v| v.name())).transpose()?;
    let want = params.want_id.as_deref().map(|w| find_want(state, w)).transpose()?;
    let page = paginate("partitions", state.partition_count(), params, |i| {
        let ix = PartitionIx(i as u32);
        let p = state.partition(ix);
        let builder = p.built_by.map(|r| state.job_run(r));
        let ok = status.is_none_or(|s| p.state == s)
            && params.ref_prefix.as_deref().is_none_or(|pre| state.ref_name(p.partition_ref).starts_with(pre))
            && params.job_label.as_deref().is_none_or(|l| builder.is_some_and(|b| state.label_name(b.label) == l))
            && want.is_none_or(|w| builder.is_some_and(|b| b.wants.iter().any(|a| a.want == w)));
        ok.then(|| partition_detail(state, ix))
    })?;
    Ok(respond(state, page))
}

/// Scans creation indexes from the cursor, keeping what `item` returns, until a page is full and one
/// more match shows there is a next page.
fn paginate<T>(
    kind: &'static str,
    count: usize,
    params: &ListParams,
    mut item: impl FnMut(usize) -> Option<T>,
) -> Result<Page<T>, ViewError> {
    let limit = params.limit;
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ViewError::bad("limit", format!("{limit} is out of range 1..={MAX_LIMIT}")));
    }
    let start = match &params.cursor {
        None => 0,
        Some(cursor) => parse_cursor(kind, cursor, count)?,
    };
    let mut items = Vec::new();
    let mut next_cursor = None;
    for i in start..count {
        if let Some(found) = item(i) {
            if items.len() == limit as usize {
                next_cursor = Some(format!("{kind}:{i}"));
                break;
            }
            items.push(found);
        }
    }
    Ok(Page { items, next_cursor })
}

fn parse_cursor(kind: &str, cursor: &str, count: usize) -> Result<usize, ViewError> {
    let bad = |why: String| ViewError::bad("cursor", format!("{cursor:?} {why}"));
    let Some((k, n)) = cursor.split_once(':') else {
        return Err(bad(format!("is not a list cursor (expected {kind}:N)")));
    };
    if k != kind {
        return Err(bad(format!("is a cursor for {k}, not {kind}")));
    }
    let n: usize = n.parse().map_err(|_| bad(format!("is not a list cursor (expected {kind}:N)")))?;
    if n > count {
        return Err(bad(format!("points past the {count} {kind} in the log")));
    }
    Ok(n)
}
