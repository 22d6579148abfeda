//! `/partitions/{ref or uuid}`: `databuild/partition`: one instance (a ref's current one, or exactly the
//! UUID's), its builder, inputs, consumers, wants and taints, and the ref's instance history.

use askama::Template;

use super::job_run::Cancel;
use super::links::{Linker, PartLink, RunLink, Source, WantLink};
use super::{by_key, subscription, when, Frame};
use crate::state::BuildState;
use crate::views::{self, LineageParams, PartitionParams, PartitionSummary};
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

/// The instance a path key (a UUID or a ref) names, with its ref and whether it is the ref's current one:
/// `databuild/lineage` at depth 0 answers that without listing any neighbours (a source may have tens of
/// thousands of consumers, which `databuild/partition` lists).
fn resolve(state: &BuildState, key: &str) -> Result<PartitionSummary, PageError> {
    let focus = by_key(key, |partition_ref, uuid| {
        views::lineage(state, &LineageParams { partition_ref, uuid, depth: 0, ..LineageParams::default() })
    })?;
    Ok(focus.index.partitions[&focus.data.focus].clone())
}

pub fn page(state: &BuildState, key: &str) -> Result<PartitionPage, PageError> {
    let instance = resolve(state, key)?;
    // By ref: the current instance and the ref's history. An older instance is asked for by UUID as well.
    let by_ref = PartitionParams { partition_ref: Some(instance.partition_ref.clone()), uuid: None };
    let history = views::partition(state, &by_ref)?;
    let older = match instance.current {
        true => None,
        false => Some(views::partition(state, &PartitionParams { partition_ref: None, uuid: Some(instance.uuid) })?),
    };
    let response = older.as_ref().unwrap_or(&history);
    let links = Linker::new(&response.index);
    let d = &response.data;
    let history_links = Linker::new(&history.index);
    let instances = history.data.instances.as_deref().unwrap_or_default();
    let current = instances.last().filter(|u| **u != d.uuid).map(|u| history_links.part(u));
    let mut page = PartitionPage {
        frame: Frame::default(),
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
    };
    page.frame = Frame::new(format!("Partition {}", d.partition_ref), page.subscription());
    Ok(page)
}

impl PartitionPage {
    /// What the page shows (not the whole index: a source may have tens of thousands of consumers).
    fn subscription(&self) -> String {
        let parts = std::iter::once(&self.part)
            .chain(&self.upstream)
            .chain(self.consumers.iter().map(|(_, p)| p))
            .chain(self.instances.iter().map(|(p, _)| p));
        subscription(parts.map(|p| p.name.as_str()), self.wants.iter().map(|w| w.id.as_str()))
    }
}
