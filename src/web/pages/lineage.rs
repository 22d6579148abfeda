//! `/lineage/{ref or uuid}`: `databuild/lineage` as an interactive graph (drawn in the browser by
//! `graph.js` from the same response, embedded as JSON), with depth controls as query params that are the
//! method's own, `+N more` expanding in place through the truncation's `next` params, and the nodes also
//! listed as links (without JavaScript, and for the keyboard).

use std::collections::HashMap;

use askama::Template;
use serde_json::json;

use super::links::{Linker, PartLink, RunLink};
use super::{by_key, index_subscription, Frame, ScriptJson};
use crate::state::BuildState;
use crate::views::{self, Direction, LineageNode, LineageParams, LineageView, MAX_FANOUT_LIMIT};
use crate::web::href;
use crate::web::route::PageError;

#[derive(Template)]
#[template(path = "lineage.html")]
pub struct LineagePage {
    pub frame: Frame,
    pub focus: PartLink,
    pub form: Controls,
    /// `{"params": ..., "response": ...}`: what `graph.js` draws and continues from.
    pub data: ScriptJson,
    pub upstream: Vec<Hop>,
    pub downstream: Vec<Hop>,
    pub truncated: Vec<Cut>,
    pub runs: usize,
    pub partition_href: String,
}

/// The depth controls as the form shows them (blank: the default).
pub struct Controls {
    /// Each direction, and whether it is the one asked for.
    pub directions: Vec<(&'static str, bool)>,
    pub depth: u32,
    pub up_depth: String,
    pub down_depth: String,
    pub fanout_limit: u32,
}

/// A partition of the graph, `hops` partition hops from the focus, and the run that built it.
pub struct Hop {
    pub hops: u32,
    pub part: PartLink,
    pub built_by: Option<RunLink>,
}

pub struct Cut {
    pub part: PartLink,
    pub direction: &'static str,
    pub more: usize,
    /// The cut instance's whole list in that direction, one hop deep (for a page without scripts).
    pub all_href: String,
}

pub fn page(state: &BuildState, key: &str, params: LineageParams) -> Result<LineagePage, PageError> {
    let response = by_key(key, |partition_ref, uuid| {
        views::lineage(state, &LineageParams { partition_ref, uuid, cursor: None, ..params.clone() })
    })?;
    let links = Linker::new(&response.index);
    let view = &response.data;
    let base = LineageParams { partition_ref: None, uuid: Some(view.focus.clone()), cursor: None, ..params.clone() };
    let (upstream, downstream) = hops(view, &links);
    let runs = view.nodes.iter().filter(|n| matches!(n, LineageNode::JobRun { .. })).count();
    let focus = links.part(&view.focus);
    Ok(LineagePage {
        frame: Frame::new(format!("Lineage of {}", focus.name), index_subscription(&response.index)),
        form: Controls {
            directions: [Direction::Both, Direction::Upstream, Direction::Downstream]
                .into_iter()
                .map(|d| (d.name(), d == params.direction))
                .collect(),
            depth: params.depth,
            up_depth: params.up_depth.map(|d| d.to_string()).unwrap_or_default(),
            down_depth: params.down_depth.map(|d| d.to_string()).unwrap_or_default(),
            fanout_limit: params.fanout_limit,
        },
        data: ScriptJson::new(&json!({ "params": base, "response": response })),
        upstream,
        downstream,
        truncated: view
            .truncated
            .iter()
            .map(|t| Cut {
                part: links.part(&t.uuid),
                direction: t.direction.name(),
                more: t.more,
                all_href: format!(
                    "{}?direction={}&depth=1&fanoutLimit={MAX_FANOUT_LIMIT}",
                    href::lineage(&t.uuid),
                    t.direction.name()
                ),
            })
            .collect(),
        runs,
        partition_href: href::partition(&view.focus),
        focus,
    })
}

/// The partitions on each side of the focus, nearest first, each with its builder.
fn hops(view: &LineageView, links: &Linker) -> (Vec<Hop>, Vec<Hop>) {
    let builders: HashMap<&str, &str> =
        view.edges.iter().filter(|e| e.kind == "wrote").map(|e| (e.uuid.as_str(), e.job_run_id.as_str())).collect();
    let builder = |uuid: &str| builders.get(uuid).map(|run| links.run(run));
    let (mut upstream, mut downstream) = (Vec::new(), Vec::new());
    for node in &view.nodes {
        let LineageNode::Partition { uuid, hops } = node else { continue };
        let hop = Hop { hops: hops.unsigned_abs(), part: links.part(uuid), built_by: builder(uuid) };
        match hops {
            0 => {}
            h if *h < 0 => upstream.push(hop),
            _ => downstream.push(hop),
        }
    }
    (upstream, downstream)
}
