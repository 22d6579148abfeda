//! `/partitions/{ref or uuid}`: `databuild/partition`: one instance (a ref's current one, or exactly the
//! UUID's), its builder, inputs, consumers, wants and taints, and the ref's instance history.

use askama::Template;

use super::job_run::Cancel;
use super::links::{Linker, PartLink, RunLink, Source, WantLink};
use super::{by_key, subscription, when, Frame};
use crate::state::BuildState;
use crate::views::{self, PartitionDetail, PartitionParams, Response};
use crate::web::href;
use crate::web::route::PageError;

#[derive(Template)]
#[template(path = "partition.html")]
pub struct PartitionPage {
    pub frame: Frame,
    pub part: PartLink,
    pub uuid: String,
    /// The ref's current instance, when this one is older.
    pub current: Option<PartLink>,
    pub created: String,
    pub state_since: String,
    pub built_by: Option<RunLink>,
    pub upstream: Vec<PartLink>,
    /// The first [`LISTED`] consumers, and how many more there are.
    pub consumers: Vec<(RunLink, PartLink)>,
    pub consumers_more: usize,
    pub wants: Vec<WantLink>,
    pub wants_more: usize,
    pub taints: Vec<Taint>,
    /// The ref's instances, newest first (at most [`LISTED`]); `true` marks this one.
    pub instances: Vec<(PartLink, bool)>,
    pub instances_more: usize,
    pub lineage_href: String,
}

/// The longest list a partition page shows: a source read by thousands of runs lists the first ones and
/// counts the rest (the lineage graph pages through them).
pub const LISTED: usize = 500;

pub struct Taint {
    pub id: String,
    pub when: String,
    pub source: Source,
    pub comment: Option<String>,
    pub canceled: Option<Cancel>,
}

/// `databuild/partition` for a path key (an instance UUID or a ref).
pub fn find(state: &BuildState, key: &str) -> Result<Response<PartitionDetail>, PageError> {
    by_key(key, |partition_ref, uuid| views::partition(state, &PartitionParams { partition_ref, uuid }))
}

pub fn page(state: &BuildState, key: &str) -> Result<PartitionPage, PageError> {
    let response = find(state, key)?;
    // Asked by UUID: the ref's history comes from asking by ref (the same method, the same index resolver).
    let history = match &response.data.instances {
        Some(_) => None,
        None => Some(views::partition(
            state,
            &PartitionParams { partition_ref: Some(response.data.partition_ref.clone()), uuid: None },
        )?),
    };
    let links = Linker::new(&response.index);
    let d = &response.data;
    let (instances, history_links) = match &history {
        Some(h) => (h.data.instances.clone().unwrap_or_default(), Linker::new(&h.index)),
        None => (d.instances.clone().unwrap_or_default(), links),
    };
    let current = instances.last().filter(|u| **u != d.uuid).map(|u| history_links.part(u));
    Ok(PartitionPage {
        frame: Frame::new(format!("Partition {}", d.partition_ref), subscription(&response.index, &[&d.partition_ref])),
        part: links.part(&d.uuid),
        uuid: d.uuid.clone(),
        current,
        created: when(d.created.timestamp),
        state_since: when(d.state_since.timestamp),
        built_by: d.built_by.as_ref().map(|r| links.run(r)),
        upstream: d.upstream.iter().map(|u| links.part(u)).collect(),
        consumers: d.consumers.iter().take(LISTED).map(|c| (links.run(&c.job_run_id), links.part(&c.uuid))).collect(),
        consumers_more: d.consumers.len().saturating_sub(LISTED),
        wants: d.wants.iter().take(LISTED).map(|w| links.want(w)).collect(),
        wants_more: d.wants.len().saturating_sub(LISTED),
        taints: d
            .taints
            .iter()
            .map(|t| Taint {
                id: t.taint_id.clone(),
                when: when(t.timestamp),
                source: Source::of(&t.source, &links),
                comment: t.comment.clone(),
                canceled: t.canceled.as_ref().map(|c| Cancel::of(c, &links)),
            })
            .collect(),
        instances: instances.iter().rev().take(LISTED).map(|u| (history_links.part(u), *u == d.uuid)).collect(),
        instances_more: instances.len().saturating_sub(LISTED),
        lineage_href: href::lineage(&d.uuid),
    })
}
