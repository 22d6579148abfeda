//! `/search?q=…`: one exact hit (a want id, a job run id, a partition ref or an instance UUID) goes
//! straight to its page; several are listed; otherwise partitions whose ref starts with `q`, and the
//! wants and job runs about them (the lists' `refPrefix` filter).

use std::collections::BTreeSet;

use askama::Template;

use super::links::{Linker, PartLink, RunLink, WantLink};
use super::Frame;
use crate::state::BuildState;
use crate::views::{self, JobRunParams, ListParams, PartitionParams, WantParams};
use crate::web::href;

/// How many prefix matches of each kind are listed.
pub const MATCHES: u32 = 25;

pub enum Outcome {
    /// Exactly one entity has this id: its page.
    Go(String),
    Results(Box<SearchPage>),
}

#[derive(Template)]
#[template(path = "search.html")]
pub struct SearchPage {
    pub frame: Frame,
    pub q: String,
    /// Exact hits, when more than one kind has this id.
    pub exact: Vec<Hit>,
    pub refs: Vec<PartLink>,
    pub wants: Vec<WantLink>,
    pub runs: Vec<RunLink>,
    /// Why nothing matched, when nothing did.
    pub none: Option<String>,
}

pub struct Hit {
    pub kind: &'static str,
    pub href: String,
    pub text: String,
}

pub fn search(state: &BuildState, q: &str) -> Outcome {
    let mut page = SearchPage {
        frame: Frame { query: q.to_string(), ..Frame::new(format!("Search {q}"), String::new()) },
        q: q.to_string(),
        exact: exact_hits(state, q),
        refs: Vec::new(),
        wants: Vec::new(),
        runs: Vec::new(),
        none: None,
    };
    if q.is_empty() {
        page.frame.title = "Search".into();
        return Outcome::Results(Box::new(page));
    }
    if let [hit] = page.exact.as_slice() {
        return Outcome::Go(hit.href.clone());
    }
    if page.exact.is_empty() {
        prefix_matches(state, &mut page);
    }
    if page.exact.is_empty() && page.refs.is_empty() && page.wants.is_empty() && page.runs.is_empty() {
        page.none = Some(format!(
            "Nothing in this log is called {q:?}: it is not a want id, a job run id, a partition ref or an instance \
             UUID, nor the start of a partition ref."
        ));
    }
    Outcome::Results(Box::new(page))
}

fn exact_hits(state: &BuildState, q: &str) -> Vec<Hit> {
    let mut hits = Vec::new();
    if q.is_empty() {
        return hits;
    }
    if views::want(state, &WantParams { want_id: q.into() }).is_ok() {
        hits.push(Hit { kind: "want", href: href::want(q), text: q.into() });
    }
    if views::job_run(state, &JobRunParams { job_run_id: q.into() }).is_ok() {
        hits.push(Hit { kind: "job run", href: href::job_run(q), text: q.into() });
    }
    let by_ref = PartitionParams { partition_ref: Some(q.into()), uuid: None };
    if views::partition(state, &by_ref).is_ok() {
        hits.push(Hit { kind: "partition ref", href: href::partition(q), text: q.into() });
    }
    let by_uuid = PartitionParams { partition_ref: None, uuid: Some(q.into()) };
    if let Ok(found) = views::partition(state, &by_uuid) {
        let text = format!("{} ({})", found.data.partition_ref, found.data.uuid);
        hits.push(Hit { kind: "partition instance", href: href::partition(&found.data.uuid), text });
    }
    hits
}

fn prefix_matches(state: &BuildState, page: &mut SearchPage) {
    let params = ListParams { ref_prefix: Some(page.q.clone()), limit: MATCHES, ..ListParams::default() };
    if let Ok(found) = views::list_partitions(state, &params) {
        let refs: BTreeSet<&str> = found.data.items.iter().map(|p| p.partition_ref.as_str()).collect();
        let links = Linker::new(&found.index);
        page.refs = refs.into_iter().map(|r| links.part_ref(r)).collect();
    }
    if let Ok(found) = views::list_wants(state, &params) {
        let links = Linker::new(&found.index);
        page.wants = found.data.items.iter().map(|w| links.want(&w.want_id)).collect();
    }
    if let Ok(found) = views::list_job_runs(state, &params) {
        let links = Linker::new(&found.index);
        page.runs = found.data.items.iter().map(|r| links.run(&r.job_run_id)).collect();
    }
}
