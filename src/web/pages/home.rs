//! `/`: search, the daemon's state (what `databuild/status` answers), and the most recent wants and job
//! runs (the last page of `databuild/listWants` / `databuild/listJobRuns`), newest first.

use askama::Template;
use serde::Deserialize;

use super::links::{Linker, PartLink, RunLink, WantLink};
use super::{when, Frame};
use crate::live::Live;
use crate::protocol;
use crate::state::BuildState;
use crate::views::{self, ListParams, Page, Response, ViewError};

/// How many wants and job runs the home page lists.
pub const RECENT: usize = 15;

#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage {
    pub frame: Frame,
    pub status: DaemonStatus,
    pub wants: Vec<WantRow>,
    pub runs: Vec<RunRow>,
}

/// The fields of `databuild/status` the page shows.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DaemonStatus {
    pub log_path: Option<String>,
    pub format: Option<String>,
    pub loading: bool,
    pub waiting_for_file: bool,
    pub events_applied: u64,
    pub last_event_id: Option<u64>,
    pub bytes_consumed: u64,
    pub file_bytes: u64,
    pub last_error: Option<Message>,
    pub io_error: Option<String>,
    pub resets: u64,
    pub diagnostic_count: u64,
    pub recent_diagnostics: Vec<Message>,
    pub counts: Counts,
    pub digest: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Message {
    pub message: String,
    pub event_id: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Counts {
    pub wants: u64,
    pub job_runs: u64,
    pub partitions: u64,
    pub refs: u64,
    pub taints: u64,
}

pub struct WantRow {
    pub want: WantLink,
    pub partitions: Vec<PartLink>,
    pub created: String,
    pub runs: usize,
}

pub struct RunRow {
    pub run: RunLink,
    pub wrote: Vec<PartLink>,
    pub wants: Vec<WantLink>,
    pub since: String,
}

pub fn page(live: &Live) -> HomePage {
    let status = serde_json::from_value(protocol::status(live)).unwrap_or_default();
    let (wants, runs) = {
        let state = live.read();
        (recent_wants(&state), recent_runs(&state))
    };
    HomePage { frame: Frame::new("Home", String::new()), status, wants, runs }
}

/// The last page of a list of `count` entities (`kind` names its cursor: `wants`, `jobRuns`), newest
/// first, each item made a row with the page's index.
fn newest<T, R>(
    kind: &str,
    count: usize,
    list: impl FnOnce(&ListParams) -> Result<Response<Page<T>>, ViewError>,
    row: impl Fn(&T, &Linker) -> R,
) -> Vec<R> {
    if count == 0 {
        return Vec::new();
    }
    let params = ListParams {
        limit: RECENT as u32,
        cursor: Some(format!("{kind}:{}", count.saturating_sub(RECENT))),
        ..ListParams::default()
    };
    let Ok(page) = list(&params) else { return Vec::new() };
    let links = Linker::new(&page.index);
    page.data.items.iter().rev().map(|item| row(item, &links)).collect()
}

fn recent_wants(state: &BuildState) -> Vec<WantRow> {
    newest(
        "wants",
        state.want_count(),
        |p| views::list_wants(state, p),
        |w, links| WantRow {
            want: links.want(&w.want_id),
            partitions: w.partitions.iter().map(|r| links.part_ref(r)).collect(),
            created: w.created.map(|c| when(c.timestamp)).unwrap_or_default(),
            runs: w.job_runs.len(),
        },
    )
}

fn recent_runs(state: &BuildState) -> Vec<RunRow> {
    newest(
        "jobRuns",
        state.job_run_count(),
        |p| views::list_job_runs(state, p),
        |r, links| RunRow {
            run: links.run(&r.job_run_id),
            wrote: r.wrote.iter().map(|u| links.part_use(u)).collect(),
            wants: r.scheduled_for.iter().map(|a| links.want(&a.want_id)).collect(),
            since: r.history.last().map(|h| when(h.timestamp)).unwrap_or_default(),
        },
    )
}
