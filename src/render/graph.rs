//! Views as graphs: partitions (boxes), job runs (rounded), wants (hexagons), drawn as Graphviz
//! `digraph`s or Mermaid flowcharts. Data flows along the edges: input → job run → output.

use std::collections::HashSet;

use super::text::short_uuid;
use crate::views::{
    FulfillmentView, JobRunDetail, LineageNode, LineageView, PartitionDetail, RelatedEntities, Response, WantDetail,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Partition,
    JobRun,
    Want,
    /// A "+N more" placeholder for a truncated list.
    More,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphNode {
    /// Unique within the graph (`p:UUID`, `j:ID`, `w:ID`, ...).
    pub id: String,
    pub kind: NodeKind,
    /// Lines of the label.
    pub lines: Vec<String>,
    /// The focus of the view (drawn bold).
    pub focus: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphEdge {
    pub from: String,
    pub to: String,
    pub label: Option<String>,
}

/// Nodes and edges, each once, in insertion order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Graph {
    pub name: String,
    pub nodes: Vec<GraphNode>,
    pub edges: Vec<GraphEdge>,
    node_ids: HashSet<String>,
    edge_keys: HashSet<(String, String)>,
}

impl Graph {
    fn new(name: &str) -> Graph {
        Graph { name: name.into(), ..Graph::default() }
    }

    fn node(&mut self, id: String, kind: NodeKind, lines: Vec<String>) -> String {
        if self.node_ids.insert(id.clone()) {
            self.nodes.push(GraphNode { id: id.clone(), kind, lines, focus: false });
        }
        id
    }

    fn edge(&mut self, from: &str, to: &str, label: Option<&str>) {
        if self.edge_keys.insert((from.to_owned(), to.to_owned())) {
            self.edges.push(GraphEdge { from: from.into(), to: to.into(), label: label.map(Into::into) });
        }
    }

    fn focus(&mut self, id: &str) {
        if let Some(n) = self.nodes.iter_mut().find(|n| n.id == id) {
            n.focus = true;
        }
    }

    fn partition(&mut self, index: &RelatedEntities, uuid: &str) -> String {
        let lines = match index.partitions.get(uuid) {
            Some(p) => vec![p.partition_ref.clone(), format!("{} · {}", p.state, short_uuid(uuid))],
            None => vec![short_uuid(uuid).to_owned()],
        };
        self.node(format!("p:{uuid}"), NodeKind::Partition, lines)
    }

    fn job_run(&mut self, index: &RelatedEntities, id: &str) -> String {
        let lines = match index.job_runs.get(id) {
            Some(r) => vec![id.to_owned(), format!("{} · {}", r.job_label, r.status)],
            None => vec![id.to_owned()],
        };
        self.node(format!("j:{id}"), NodeKind::JobRun, lines)
    }

    fn want(&mut self, index: &RelatedEntities, id: &str) -> String {
        let lines = match index.wants.get(id) {
            Some(w) => vec![id.to_owned(), w.status.to_owned()],
            None => vec![id.to_owned()],
        };
        self.node(format!("w:{id}"), NodeKind::Want, lines)
    }

    /// Graphviz `digraph`, left to right.
    pub fn dot(&self) -> String {
        let mut out =
            format!("digraph {} {{\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n", quote(&self.name));
        for n in &self.nodes {
            let shape = match n.kind {
                NodeKind::Partition => "shape=box",
                NodeKind::JobRun => "shape=box, style=rounded",
                NodeKind::Want => "shape=hexagon",
                NodeKind::More => "shape=plaintext",
            };
            let pen = if n.focus { ", penwidth=3" } else { "" };
            out.push_str(&format!("  {} [label={}, {shape}{pen}];\n", quote(&n.id), quote(&n.lines.join("\n"))));
        }
        for e in &self.edges {
            let label = e.label.as_deref().map(|l| format!(" [label={}]", quote(l))).unwrap_or_default();
            out.push_str(&format!("  {} -> {}{label};\n", quote(&e.from), quote(&e.to)));
        }
        out.push_str("}\n");
        out
    }

    /// Mermaid `flowchart LR`. Node ids are `n0`, `n1`, ... in node order.
    pub fn mermaid(&self) -> String {
        let ids: std::collections::HashMap<&str, String> =
            self.nodes.iter().enumerate().map(|(i, n)| (n.id.as_str(), format!("n{i}"))).collect();
        let mut out = String::from("flowchart LR\n");
        for n in &self.nodes {
            let label = mermaid_text(&n.lines.join("<br/>"));
            let id = &ids[n.id.as_str()];
            let shape = match n.kind {
                NodeKind::Partition => format!("{id}[\"{label}\"]"),
                NodeKind::JobRun => format!("{id}(\"{label}\")"),
                NodeKind::Want => format!("{id}{{{{\"{label}\"}}}}"),
                NodeKind::More => format!("{id}>\"{label}\"]"),
            };
            out.push_str(&format!("  {shape}\n"));
        }
        for e in &self.edges {
            let (from, to) = (&ids[e.from.as_str()], &ids[e.to.as_str()]);
            match &e.label {
                Some(l) => out.push_str(&format!("  {from} -->|\"{}\"| {to}\n", mermaid_text(l))),
                None => out.push_str(&format!("  {from} --> {to}\n")),
            }
        }
        if let Some(i) = self.nodes.iter().position(|n| n.focus) {
            out.push_str(&format!("  style n{i} stroke-width:3px\n"));
        }
        out
    }
}

fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n"))
}

fn mermaid_text(text: &str) -> String {
    text.replace('"', "#quot;")
}

pub(super) fn lineage(response: &Response<LineageView>) -> Graph {
    let (view, index) = (&response.data, &response.index);
    let mut g = Graph::new("lineage");
    for node in &view.nodes {
        match node {
            LineageNode::Partition { uuid, .. } => g.partition(index, uuid),
            LineageNode::JobRun { job_run_id } => g.job_run(index, job_run_id),
        };
    }
    g.focus(&format!("p:{}", view.focus));
    for e in &view.edges {
        let (p, r) = (format!("p:{}", e.uuid), format!("j:{}", e.job_run_id));
        if e.kind == "read" {
            g.edge(&p, &r, None);
        } else {
            g.edge(&r, &p, None);
        }
    }
    for t in &view.truncated {
        let more = g.node(
            format!("more:{}:{}", t.direction.name(), t.uuid),
            NodeKind::More,
            vec![format!("+{} more", t.more)],
        );
        let p = format!("p:{}", t.uuid);
        if t.direction == crate::views::Direction::Upstream {
            g.edge(&more, &p, None);
        } else {
            g.edge(&p, &more, None);
        }
    }
    g
}

pub(super) fn fulfillment(response: &Response<FulfillmentView>) -> Graph {
    let (view, index) = (&response.data, &response.index);
    let mut g = Graph::new("fulfillment");
    for w in &view.wants {
        let want = g.want(index, &w.want_id);
        for p in &w.partitions {
            if let Some(uuid) = &p.current {
                let p = g.partition(index, uuid);
                g.edge(&want, &p, Some("wants"));
            }
        }
        for job in &w.jobs {
            let latest = job.runs.last().map(String::as_str).unwrap_or("");
            let j = g.job_run(index, latest);
            if job.runs.len() > 1 {
                if let Some(node) = g.nodes.iter_mut().find(|n| n.id == j) {
                    node.lines.push(job.status_chain.clone());
                }
            }
            for r in &job.read {
                if let Some(uuid) = &r.uuid {
                    let p = g.partition(index, uuid);
                    g.edge(&p, &j, None);
                }
            }
            for wrote in &job.wrote {
                if let Some(uuid) = &wrote.uuid {
                    let p = g.partition(index, uuid);
                    g.edge(&j, &p, None);
                }
            }
        }
        for d in &w.derivatives {
            let child = g.want(index, &d.want_id);
            let label = d.triggered_by.as_ref().map(|r| format!("dep miss of {r}"));
            g.edge(&want, &child, label.as_deref());
        }
    }
    g.focus(&format!("w:{}", view.want_id));
    g
}

pub(super) fn job_run(response: &Response<JobRunDetail>) -> Graph {
    let (run, index) = (&response.data, &response.index);
    let mut g = Graph::new("job_run");
    let j = g.job_run(index, &run.job_run_id);
    g.focus(&j);
    for a in &run.scheduled_for {
        let w = g.want(index, &a.want_id);
        g.edge(&w, &j, Some("scheduled"));
    }
    for r in run.read.iter().filter_map(|u| u.uuid.as_ref()) {
        let p = g.partition(index, r);
        g.edge(&p, &j, None);
    }
    for w in run.wrote.iter().filter_map(|u| u.uuid.as_ref()) {
        let p = g.partition(index, w);
        g.edge(&j, &p, None);
    }
    for d in &run.derivative_wants {
        let w = g.want(index, d);
        g.edge(&j, &w, Some("dep miss"));
    }
    g
}

pub(super) fn partition(response: &Response<PartitionDetail>) -> Graph {
    let (p, index) = (&response.data, &response.index);
    let mut g = Graph::new("partition");
    let me = g.partition(index, &p.uuid);
    g.focus(&me);
    if let Some(builder) = &p.built_by {
        let b = g.job_run(index, builder);
        g.edge(&b, &me, None);
        for u in &p.upstream {
            let input = g.partition(index, u);
            g.edge(&input, &b, None);
        }
    }
    for c in &p.consumers {
        let r = g.job_run(index, &c.job_run_id);
        let out = g.partition(index, &c.uuid);
        g.edge(&me, &r, None);
        g.edge(&r, &out, None);
    }
    g
}

pub(super) fn want(response: &Response<WantDetail>) -> Graph {
    let (w, index) = (&response.data, &response.index);
    let mut g = Graph::new("want");
    let me = g.want(index, &w.want_id);
    g.focus(&me);
    for parent in &w.parents {
        let p = g.want(index, parent);
        g.edge(&p, &me, Some("derivative"));
    }
    for run in &w.job_runs {
        let r = g.job_run(index, run);
        g.edge(&me, &r, Some("scheduled"));
    }
    for uuid in &w.current_instances {
        let p = g.partition(index, uuid);
        g.edge(&me, &p, Some("wants"));
    }
    for child in &w.derivative_wants {
        let c = g.want(index, child);
        g.edge(&me, &c, Some("derivative"));
    }
    g
}
