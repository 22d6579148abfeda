//! `/wants/{id}`: the fulfillment tree of `databuild/fulfillment` (retry chains collapsed into one
//! expandable node, derivative wants nested under the job node whose dep miss created them), under the
//! want's own detail from `databuild/want`.

use std::collections::{HashMap, HashSet};

use askama::filters::HtmlSafe;
use askama::Template;

use super::links::{Linker, PartLink, RunLink, Source, WantLink};
use super::{index_subscription, when, Frame};
use crate::state::BuildState;
use crate::views::{self, FulfillmentParams, FulfillmentView, FulfillmentWant, JobNode, WantParams};
use crate::web::href;
use crate::web::route::PageError;

#[derive(Template)]
#[template(path = "want.html")]
pub struct WantPage {
    pub frame: Frame,
    pub want: WantLink,
    pub created: Option<String>,
    pub source: Source,
    pub comment: Option<String>,
    pub parents: Vec<WantLink>,
    pub partitions: Vec<PartLink>,
    pub expand_retries: bool,
    /// The same tree with retries collapsed or expanded.
    pub toggle_href: String,
    pub tree: WantNode,
}

/// One want of the tree, drawn once: a want reached again is a link back (`repeat`).
#[derive(Template)]
#[template(path = "parts/want_node.html")]
pub struct WantNode {
    pub want: WantLink,
    pub triggered_by: Option<RunLink>,
    pub repeat: bool,
    pub refs: Vec<RefBranch>,
    /// Job nodes that build none of the wanted refs.
    pub other_jobs: Vec<JobBranch>,
    /// Derivative wants no job node of this want claims.
    pub strays: Vec<WantNode>,
}

/// A wanted ref: its current instance (or the bare ref), older instances built for the want, its jobs.
pub struct RefBranch {
    pub part: PartLink,
    pub older: Vec<PartLink>,
    pub jobs: Vec<JobBranch>,
}

/// A retry chain (one collapsed node) or one attempt of it.
#[derive(Template)]
#[template(path = "parts/job_node.html")]
pub struct JobBranch {
    pub dom_id: String,
    pub label: String,
    pub status_chain: String,
    pub attempt: Option<usize>,
    pub runs: Vec<RunLink>,
    pub latest: RunLink,
    pub read: Vec<PartLink>,
    /// Outputs that are not wanted refs (those are the branches the node sits under).
    pub wrote: Vec<PartLink>,
    pub derivatives: Vec<WantNode>,
}

impl HtmlSafe for WantNode {}
impl HtmlSafe for JobBranch {}

pub fn page(state: &BuildState, want_id: &str, expand_retries: bool) -> Result<WantPage, PageError> {
    let tree = views::fulfillment(state, &FulfillmentParams { want_id: want_id.to_string(), expand_retries })?;
    let detail = views::want(state, &WantParams { want_id: want_id.to_string() })?;
    let links = Linker::new(&tree.index);
    let detail_links = Linker::new(&detail.index);
    let d = &detail.data;
    let root = Tree::new(&tree.data, links).node(&d.want_id, None);
    Ok(WantPage {
        frame: Frame::new(format!("Want {}", d.want_id), index_subscription(&tree.index)),
        want: detail_links.want(&d.want_id),
        created: d.created.map(|c| when(c.timestamp)),
        source: Source::of(&d.source, &detail_links),
        comment: d.comment.clone(),
        parents: d.parents.iter().map(|p| detail_links.want(p)).collect(),
        partitions: d.partitions.iter().map(|r| links.part_ref(r)).collect(),
        expand_retries,
        toggle_href: if expand_retries { href::want(&d.want_id) } else { href::want_expanded(&d.want_id) },
        tree: root,
    })
}

/// Draws the flat fulfillment view as nested nodes, each want once.
struct Tree<'a> {
    wants: HashMap<&'a str, &'a FulfillmentWant>,
    links: Linker<'a>,
    drawn: HashSet<&'a str>,
}

impl<'a> Tree<'a> {
    fn new(view: &'a FulfillmentView, links: Linker<'a>) -> Tree<'a> {
        let wants = view.wants.iter().map(|w| (w.want_id.as_str(), w)).collect();
        Tree { wants, links, drawn: HashSet::new() }
    }

    fn node(&mut self, want_id: &str, triggered_by: Option<&str>) -> WantNode {
        let mut node = WantNode {
            want: self.links.want(want_id),
            triggered_by: triggered_by.map(|r| self.links.run(r)),
            repeat: false,
            refs: Vec::new(),
            other_jobs: Vec::new(),
            strays: Vec::new(),
        };
        let Some((&id, &want)) = self.wants.get_key_value(want_id) else { return node };
        if !self.drawn.insert(id) {
            node.repeat = true;
            return node;
        }
        node.refs = want.partitions.iter().map(|p| self.ref_branch(p)).collect();
        for job in &want.jobs {
            let branch = self.job_branch(want, job);
            match want.partitions.iter().position(|p| job.partitions.contains(&p.partition_ref)) {
                Some(at) => node.refs[at].jobs.push(branch),
                None => node.other_jobs.push(branch),
            }
        }
        for link in &want.derivatives {
            if !want.jobs.iter().any(|j| j.derivative_wants.contains(&link.want_id)) {
                let stray = self.node(&link.want_id, link.triggered_by.as_deref());
                node.strays.push(stray);
            }
        }
        node
    }

    fn ref_branch(&self, p: &views::WantedPartition) -> RefBranch {
        let part = match &p.current {
            Some(uuid) => self.links.part(uuid),
            None => self.links.part_ref(&p.partition_ref),
        };
        let older = p.built.iter().filter(|u| Some(*u) != p.current.as_ref()).map(|u| self.links.part(u)).collect();
        RefBranch { part, older, jobs: Vec::new() }
    }

    fn job_branch(&mut self, want: &FulfillmentWant, job: &JobNode) -> JobBranch {
        let latest = job.runs.last().map(String::as_str).unwrap_or_default();
        let derivatives = job
            .derivative_wants
            .iter()
            .map(|child| {
                let trigger =
                    want.derivatives.iter().find(|d| &d.want_id == child).and_then(|d| d.triggered_by.clone());
                self.node(child, trigger.as_deref())
            })
            .collect();
        JobBranch {
            dom_id: format!("chain-{}-{}-{}", want.want_id, job.retry_chain, job.attempt.unwrap_or(0)),
            label: job.job_label.clone(),
            status_chain: job.status_chain.clone(),
            attempt: job.attempt,
            runs: job.runs.iter().map(|r| self.links.run(r)).collect(),
            latest: self.links.run(latest),
            read: job.read.iter().map(|u| self.links.part_use(u)).collect(),
            wrote: job
                .wrote
                .iter()
                .filter(|u| !want.partitions.iter().any(|p| p.partition_ref == u.partition_ref))
                .map(|u| self.links.part_use(u))
                .collect(),
            derivatives,
        }
    }
}
