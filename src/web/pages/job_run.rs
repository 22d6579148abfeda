//! `/job-runs/{id}`: `databuild/jobRun`: the wants it was scheduled for, what it read and wrote (the exact
//! instances), its read and missing deps, status history, retries and derivative wants.

use askama::Template;

use super::links::{Linker, PartLink, RunLink, Source, WantLink};
use super::{index_subscription, when, Frame};
use crate::state::BuildState;
use crate::views::{self, CancellationView, DepsView, JobRunParams};
use crate::web::route::PageError;

#[derive(Template)]
#[template(path = "job_run.html")]
pub struct JobRunPage {
    pub frame: Frame,
    pub run: RunLink,
    pub scheduled_for: Vec<Scheduled>,
    pub read: Vec<PartLink>,
    pub wrote: Vec<PartLink>,
    pub read_deps: Vec<Deps>,
    pub missing_deps: Vec<Deps>,
    pub history: Vec<Step>,
    pub last_heartbeat: Option<String>,
    pub derivatives: Vec<WantLink>,
    pub retries: Vec<Retry>,
    pub failure_reason: Option<String>,
    pub cancellation: Option<Cancel>,
}

pub struct Scheduled {
    pub want: WantLink,
    pub partitions: Vec<PartLink>,
}

/// Outputs `impacted` ← `inputs` (refs).
pub struct Deps {
    pub impacted: Vec<PartLink>,
    pub inputs: Vec<PartLink>,
}

pub struct Step {
    pub status: &'static str,
    pub when: String,
    pub event_id: u64,
}

/// The retry chain the run belongs to within one want: every attempt, this one marked.
pub struct Retry {
    pub want: WantLink,
    pub status_chain: String,
    pub attempts: Vec<(RunLink, bool)>,
}

pub struct Cancel {
    pub when: String,
    pub event_id: u64,
    pub source: Source,
    pub comment: Option<String>,
}

impl Cancel {
    pub fn of(c: &CancellationView, links: &Linker) -> Cancel {
        Cancel {
            when: when(c.timestamp),
            event_id: c.event_id,
            source: Source::of(&c.source, links),
            comment: c.comment.clone(),
        }
    }
}

pub fn page(state: &BuildState, job_run_id: &str) -> Result<JobRunPage, PageError> {
    let response = views::job_run(state, &JobRunParams { job_run_id: job_run_id.to_string() })?;
    let links = Linker::new(&response.index);
    let d = &response.data;
    let deps = |list: &[DepsView]| -> Vec<Deps> {
        list.iter()
            .map(|dep| Deps {
                impacted: dep.impacted.iter().map(|r| links.part_ref(r)).collect(),
                inputs: dep.inputs.iter().map(|r| links.part_ref(r)).collect(),
            })
            .collect()
    };
    Ok(JobRunPage {
        frame: Frame::new(format!("Job run {}", d.job_run_id), index_subscription(&response.index)),
        run: links.run(&d.job_run_id),
        scheduled_for: d
            .scheduled_for
            .iter()
            .map(|a| Scheduled {
                want: links.want(&a.want_id),
                partitions: a.partitions.iter().map(|r| links.part_ref(r)).collect(),
            })
            .collect(),
        read: d.read.iter().map(|u| links.part_use(u)).collect(),
        wrote: d.wrote.iter().map(|u| links.part_use(u)).collect(),
        read_deps: deps(&d.read_deps),
        missing_deps: deps(&d.missing_deps),
        history: d
            .history
            .iter()
            .map(|h| Step { status: h.status, when: when(h.timestamp), event_id: h.event_id })
            .collect(),
        last_heartbeat: d.last_heartbeat.map(|h| when(h.timestamp)),
        derivatives: d.derivative_wants.iter().map(|w| links.want(w)).collect(),
        retries: d
            .retry_chains
            .iter()
            .map(|c| Retry {
                want: links.want(&c.want_id),
                status_chain: c.status_chain.clone(),
                attempts: c.runs.iter().map(|r| (links.run(r), r == &d.job_run_id)).collect(),
            })
            .collect(),
        failure_reason: d.failure_reason.clone(),
        cancellation: d.cancellation.as_ref().map(|c| Cancel::of(c, &links)),
    })
}
