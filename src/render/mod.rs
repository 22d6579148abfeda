//! Renderers: a view [`Response`](crate::views::Response) as a box-drawing tree, a Graphviz or
//! Mermaid graph, or the exact JSON the RPC method returns.
//!
//! Renderers are pure: they never look at the terminal or the environment. Whether to colour is
//! the caller's decision (`color`), made once at the edge (the CLI).

mod graph;
pub mod query;
mod text;
mod tree;

pub use graph::{Graph, GraphEdge, GraphNode, NodeKind};
pub use text::{format_timestamp, short_uuid, Paint};
pub use tree::TreeNode;

use serde::Serialize;

use crate::views::{FulfillmentView, JobRunDetail, LineageView, Page, PartitionDetail, Response, WantDetail};

/// An output format of the one-shot views.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// A box-drawing tree for people.
    Tree,
    /// The JSON-RPC result, pretty-printed.
    Json,
    /// A Graphviz digraph.
    Dot,
    /// A Mermaid flowchart.
    Mermaid,
}

/// A view result that can be drawn.
pub trait Render: Serialize {
    /// The tree (with a trailing newline).
    fn tree(&self, color: bool) -> String;
    /// The graph behind dot/mermaid output, if the view has one.
    fn graph(&self) -> Option<Graph>;
}

/// Renders `view` in `format`. Fails only for a graph format of a view without a graph (lists).
pub fn render<V: Render>(view: &V, format: Format, color: bool) -> Result<String, String> {
    match format {
        Format::Tree => Ok(view.tree(color)),
        Format::Json => {
            let mut json = serde_json::to_string_pretty(view).map_err(|e| format!("cannot encode JSON: {e}"))?;
            json.push('\n');
            Ok(json)
        }
        Format::Dot | Format::Mermaid => {
            let graph = view.graph().ok_or("this view is a list; use --format tree or json")?;
            Ok(if format == Format::Dot { graph.dot() } else { graph.mermaid() })
        }
    }
}

impl Render for Response<FulfillmentView> {
    fn tree(&self, color: bool) -> String {
        tree::fulfillment(self, color)
    }
    fn graph(&self) -> Option<Graph> {
        Some(graph::fulfillment(self))
    }
}

impl Render for Response<LineageView> {
    fn tree(&self, color: bool) -> String {
        tree::lineage(self, color)
    }
    fn graph(&self) -> Option<Graph> {
        Some(graph::lineage(self))
    }
}

impl Render for Response<JobRunDetail> {
    fn tree(&self, color: bool) -> String {
        tree::job_run(self, color)
    }
    fn graph(&self) -> Option<Graph> {
        Some(graph::job_run(self))
    }
}

impl Render for Response<PartitionDetail> {
    fn tree(&self, color: bool) -> String {
        tree::partition(self, color)
    }
    fn graph(&self) -> Option<Graph> {
        Some(graph::partition(self))
    }
}

impl Render for Response<WantDetail> {
    fn tree(&self, color: bool) -> String {
        tree::want(self, color)
    }
    fn graph(&self) -> Option<Graph> {
        Some(graph::want(self))
    }
}

impl Render for Response<Page<WantDetail>> {
    fn tree(&self, color: bool) -> String {
        tree::want_list(self, color)
    }
    fn graph(&self) -> Option<Graph> {
        None
    }
}

impl Render for Response<Page<JobRunDetail>> {
    fn tree(&self, color: bool) -> String {
        tree::job_run_list(self, color)
    }
    fn graph(&self) -> Option<Graph> {
        None
    }
}

impl Render for Response<Page<PartitionDetail>> {
    fn tree(&self, color: bool) -> String {
        tree::partition_list(self, color)
    }
    fn graph(&self) -> Option<Graph> {
        None
    }
}

#[cfg(test)]
mod tests;
