//! Box-drawing trees (`├──`, `└──`, `│   `) of each view, with states and short UUIDs.

use std::collections::{BTreeMap, HashSet};

use super::text::{format_timestamp, short_uuid, Paint};
use crate::views::{
    FulfillmentView, FulfillmentWant, JobNode, JobRunDetail, LineageNode, LineageView, Page, PartitionDetail,
    PartitionUse, RelatedEntities, Response, SourceView, WantDetail,
};

/// One line of a tree and the lines under it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeNode {
    pub label: String,
    pub children: Vec<TreeNode>,
}

impl TreeNode {
    pub fn new(label: impl Into<String>) -> TreeNode {
        TreeNode { label: label.into(), children: Vec::new() }
    }

    pub fn with(mut self, children: Vec<TreeNode>) -> TreeNode {
        self.children = children;
        self
    }

    fn push(&mut self, child: TreeNode) {
        self.children.push(child);
    }

    /// A section: a heading with `children`, or nothing if there are none.
    fn section(&mut self, heading: &str, children: Vec<TreeNode>) {
        if !children.is_empty() {
            self.push(TreeNode::new(heading).with(children));
        }
    }

    /// The tree as text, one line per node, with a trailing newline.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(&self.label);
        out.push('\n');
        write_children(&self.children, "", &mut out);
        out
    }
}

fn write_children(children: &[TreeNode], prefix: &str, out: &mut String) {
    for (i, child) in children.iter().enumerate() {
        let last = i + 1 == children.len();
        out.push_str(prefix);
        out.push_str(if last { "└── " } else { "├── " });
        out.push_str(&child.label);
        out.push('\n');
        let deeper = format!("{prefix}{}", if last { "    " } else { "│   " });
        write_children(&child.children, &deeper, out);
    }
}

/// Labels for entities, looked up in a response's index.
struct Labels<'a> {
    index: &'a RelatedEntities,
    paint: Paint,
}

impl Labels<'_> {
    /// `data/beta [Live, uuid:d1305448]`.
    fn partition(&self, uuid: &str) -> String {
        match self.index.partitions.get(uuid) {
            Some(p) => format!("{} [{}, uuid:{}]", p.partition_ref, self.paint.status(p.state), short_uuid(uuid)),
            None => format!("uuid:{}", short_uuid(uuid)),
        }
    }

    /// `[Live, uuid:d1305448]` for a use with an instance, `[unresolved]` without.
    fn partition_use(&self, u: &PartitionUse) -> String {
        match &u.uuid {
            Some(uuid) => self.partition(uuid),
            None => format!("{} {}", u.partition_ref, self.paint.dim("[not resolved: the run did not succeed]")),
        }
    }

    /// `JR-456 //jobs:beta [Succeeded]`.
    fn job_run(&self, id: &str) -> String {
        match self.index.job_runs.get(id) {
            Some(r) => format!("{} {} [{}]", self.paint.bold(id), r.job_label, self.paint.status(r.status)),
            None => id.to_owned(),
        }
    }

    /// `W-002 "data/beta" [Successful]`.
    fn want(&self, id: &str) -> String {
        match self.index.wants.get(id) {
            Some(w) => {
                let mut refs: Vec<String> = w.partitions.iter().take(3).map(|r| format!("{r:?}")).collect();
                if w.partitions.len() > 3 {
                    refs.push(format!("+{} more", w.partitions.len() - 3));
                }
                format!("{} {} [{}]", self.paint.bold(id), refs.join(", "), self.paint.status(w.status))
            }
            None => id.to_owned(),
        }
    }

    fn source(&self, source: &SourceView) -> String {
        match source {
            SourceView::Unspecified => "unspecified".into(),
            SourceView::Manual { user } => format!("manual ({user})"),
            SourceView::JobTriggered { job_run_id } => format!("dep miss of {}", self.job_run(job_run_id)),
        }
    }
}

// ---- fulfillment ------------------------------------------------------------------------------------

pub(super) fn fulfillment(response: &Response<FulfillmentView>, color: bool) -> String {
    let labels = Labels { index: &response.index, paint: Paint { on: color } };
    let wants: BTreeMap<&str, &FulfillmentWant> = response.data.wants.iter().map(|w| (w.want_id.as_str(), w)).collect();
    let mut shown = HashSet::new();
    let root = &response.data.want_id;
    let mut tree = fulfillment_want(&labels, &wants, root, &mut shown);
    tree.label = labels.want(root);
    let mut out = tree.render();
    if !response.data.expand_retries && response.data.wants.iter().any(|w| w.jobs.iter().any(|j| j.runs.len() > 1)) {
        out.push_str(&labels.paint.dim("(retries collapsed; --expand-retries lists every attempt)\n"));
    }
    out
}

fn fulfillment_want<'a>(
    labels: &Labels,
    wants: &BTreeMap<&'a str, &'a FulfillmentWant>,
    id: &'a str,
    shown: &mut HashSet<&'a str>,
) -> TreeNode {
    let mut node = TreeNode::new(labels.want(id));
    let Some(want) = wants.get(id) else { return node };
    shown.insert(id);
    let mut placed: HashSet<usize> = HashSet::new();
    for p in &want.partitions {
        let mut line = match &p.current {
            Some(uuid) => TreeNode::new(labels.partition(uuid)),
            None => TreeNode::new(format!("{} {}", p.partition_ref, labels.paint.dim("[no instance yet]"))),
        };
        for (i, job) in want.jobs.iter().enumerate().filter(|(_, j)| j.partitions.contains(&p.partition_ref)) {
            if placed.insert(i) {
                line.push(job_node(labels, job));
            } else {
                line.push(TreeNode::new(format!("{} (shown above)", job_title(labels, job))));
            }
        }
        node.push(line);
    }
    for (i, job) in want.jobs.iter().enumerate() {
        if !placed.contains(&i) {
            node.push(job_node(labels, job));
        }
    }
    for d in &want.derivatives {
        let trigger = match &d.triggered_by {
            Some(run) => format!(" ← {} dep-miss", labels.paint.bold(run)),
            None => String::new(),
        };
        if shown.contains(d.want_id.as_str()) {
            node.push(TreeNode::new(format!("derivative: {}{trigger} (shown above)", labels.want(&d.want_id))));
            continue;
        }
        let key = wants.get_key_value(d.want_id.as_str()).map(|(k, _)| *k).unwrap_or("");
        let mut child = fulfillment_want(labels, wants, key, shown);
        child.label = format!("derivative: {}{trigger}", labels.want(&d.want_id));
        node.push(child);
    }
    node
}

fn job_title(labels: &Labels, job: &JobNode) -> String {
    let latest = job.runs.last().map(String::as_str).unwrap_or("");
    let mut title = format!("{} {} [{}]", labels.paint.bold(latest), job.job_label, labels.paint.chain(&job.statuses));
    if job.runs.len() > 1 {
        title.push_str(&labels.paint.dim(&format!(" attempts: {}", job.runs.join(", "))));
    }
    if let Some(attempt) = job.attempt {
        title.push_str(&labels.paint.dim(&format!(" attempt {attempt}")));
    }
    title
}

fn job_node(labels: &Labels, job: &JobNode) -> TreeNode {
    let mut node = TreeNode::new(job_title(labels, job));
    for r in &job.read {
        node.push(TreeNode::new(format!("read: {}", labels.partition_use(r))));
    }
    for w in &job.wrote {
        if !job.partitions.contains(&w.partition_ref) || job.wrote.len() > 1 {
            node.push(TreeNode::new(format!("wrote: {}", labels.partition_use(w))));
        }
    }
    node
}

// ---- lineage ----------------------------------------------------------------------------------------

pub(super) fn lineage(response: &Response<LineageView>, color: bool) -> String {
    let labels = Labels { index: &response.index, paint: Paint { on: color } };
    let view = &response.data;
    let graph = Adjacency::new(view);
    let mut root = TreeNode::new(format!("{}  {}", labels.partition(&view.focus), labels.paint.bold("← focus")));
    let mut seen = HashSet::new();
    if view.up_depth > 0 {
        let children = graph.upstream(&labels, view, &view.focus, &mut seen);
        let heading = format!("upstream ({} partition hops)", view.up_depth);
        root.push(TreeNode::new(heading).with(or_none(children, "nothing: an external source or not built yet")));
    }
    if view.down_depth > 0 {
        let children = graph.downstream(&labels, view, &view.focus, &mut seen);
        let heading = format!("downstream ({} partition hops)", view.down_depth);
        root.push(TreeNode::new(heading).with(or_none(children, "nothing has read this instance yet")));
    }
    root.render()
}

fn or_none(children: Vec<TreeNode>, why: &str) -> Vec<TreeNode> {
    if children.is_empty() {
        vec![TreeNode::new(format!("({why})"))]
    } else {
        children
    }
}

/// The lineage graph's edges, by node.
struct Adjacency<'a> {
    hops: BTreeMap<&'a str, i32>,
    builders: BTreeMap<&'a str, Vec<&'a str>>,
    readers: BTreeMap<&'a str, Vec<&'a str>>,
    reads: BTreeMap<&'a str, Vec<&'a str>>,
    writes: BTreeMap<&'a str, Vec<&'a str>>,
}

impl<'a> Adjacency<'a> {
    fn new(view: &'a LineageView) -> Adjacency<'a> {
        let mut a = Adjacency {
            hops: BTreeMap::new(),
            builders: BTreeMap::new(),
            readers: BTreeMap::new(),
            reads: BTreeMap::new(),
            writes: BTreeMap::new(),
        };
        for node in &view.nodes {
            if let LineageNode::Partition { uuid, hops } = node {
                a.hops.insert(uuid, *hops);
            }
        }
        for e in &view.edges {
            let (p, r) = (e.uuid.as_str(), e.job_run_id.as_str());
            if e.kind == "read" {
                a.readers.entry(p).or_default().push(r);
                a.reads.entry(r).or_default().push(p);
            } else {
                a.builders.entry(p).or_default().push(r);
                a.writes.entry(r).or_default().push(p);
            }
        }
        a
    }

    fn more(labels: &Labels, view: &LineageView, uuid: &str, up: bool) -> Option<TreeNode> {
        view.truncated.iter().find(|t| t.uuid == uuid && (t.direction == crate::views::Direction::Upstream) == up).map(
            |t| {
                let cursor = t.next.cursor.as_deref().unwrap_or("");
                TreeNode::new(labels.paint.dim(&format!("… +{} more (cursor {cursor})", t.more)))
            },
        )
    }

    fn upstream(
        &self,
        labels: &Labels,
        view: &LineageView,
        uuid: &'a str,
        seen: &mut HashSet<&'a str>,
    ) -> Vec<TreeNode> {
        let mut out = Vec::new();
        for &run in self.builders.get(uuid).into_iter().flatten() {
            let mut node = TreeNode::new(labels.job_run(run));
            for &input in self.reads.get(run).into_iter().flatten() {
                if self.hops.get(input).is_none_or(|&h| h >= 0) {
                    continue;
                }
                node.push(self.partition_node(labels, view, input, seen, true));
            }
            node.children.extend(Self::more(labels, view, uuid, true));
            out.push(node);
        }
        out
    }

    fn downstream(
        &self,
        labels: &Labels,
        view: &LineageView,
        uuid: &'a str,
        seen: &mut HashSet<&'a str>,
    ) -> Vec<TreeNode> {
        let mut out = Vec::new();
        for &run in self.readers.get(uuid).into_iter().flatten() {
            let mut node = TreeNode::new(labels.job_run(run));
            for &output in self.writes.get(run).into_iter().flatten() {
                if self.hops.get(output).is_none_or(|&h| h <= 0) {
                    continue;
                }
                node.push(self.partition_node(labels, view, output, seen, false));
            }
            out.push(node);
        }
        out.extend(Self::more(labels, view, uuid, false));
        out
    }

    fn partition_node(
        &self,
        labels: &Labels,
        view: &LineageView,
        uuid: &'a str,
        seen: &mut HashSet<&'a str>,
        up: bool,
    ) -> TreeNode {
        if !seen.insert(uuid) {
            return TreeNode::new(format!("{} (shown above)", labels.partition(uuid)));
        }
        let children =
            if up { self.upstream(labels, view, uuid, seen) } else { self.downstream(labels, view, uuid, seen) };
        TreeNode::new(labels.partition(uuid)).with(children)
    }
}

// ---- job run ----------------------------------------------------------------------------------------

pub(super) fn job_run(response: &Response<JobRunDetail>, color: bool) -> String {
    let labels = Labels { index: &response.index, paint: Paint { on: color } };
    let run = &response.data;
    let mut root = TreeNode::new(labels.job_run(&run.job_run_id));
    root.section(
        "scheduled for",
        run.scheduled_for
            .iter()
            .map(|a| TreeNode::new(format!("{} → builds {}", labels.want(&a.want_id), a.partitions.join(", "))))
            .collect(),
    );
    root.section("read", run.read.iter().map(|u| TreeNode::new(labels.partition_use(u))).collect());
    root.section("wrote", run.wrote.iter().map(|u| TreeNode::new(labels.partition_use(u))).collect());
    root.section("read deps (impacted ← read)", deps_lines(&run.read_deps, "all outputs"));
    root.section("missing deps (impacted ← missing)", deps_lines(&run.missing_deps, "all outputs"));
    root.section(
        "status history",
        run.history
            .iter()
            .map(|h| {
                let when = format_timestamp(h.timestamp);
                TreeNode::new(format!("{:<10} {when}  event {}", labels.paint.status(h.status), h.event_id))
            })
            .collect(),
    );
    root.section(
        "derivative wants (spawned by this dep miss)",
        run.derivative_wants.iter().map(|w| TreeNode::new(labels.want(w))).collect(),
    );
    if run.retry_chains.iter().any(|c| c.runs.len() > 1) {
        root.section(
            "retry chains",
            run.retry_chains
                .iter()
                .map(|c| {
                    let attempts = c
                        .runs
                        .iter()
                        .zip(&c.statuses)
                        .map(|(r, s)| {
                            let marker = if *r == run.job_run_id { " ← this run" } else { "" };
                            TreeNode::new(format!("{r} [{}]{marker}", labels.paint.status(s)))
                        })
                        .collect();
                    let title = format!("for {}: {}", c.want_id, labels.paint.chain(&c.statuses));
                    TreeNode::new(title).with(attempts)
                })
                .collect(),
        );
    }
    if let Some(reason) = &run.failure_reason {
        root.push(TreeNode::new(format!("failure: {reason}")));
    }
    if let Some(c) = &run.cancellation {
        let comment = c.comment.as_deref().map(|c| format!(": {c}")).unwrap_or_default();
        root.push(TreeNode::new(format!(
            "canceled at {} by {}{comment}",
            format_timestamp(c.timestamp),
            labels.source(&c.source)
        )));
    }
    root.render()
}

fn deps_lines(deps: &[crate::views::DepsView], empty_impacted: &str) -> Vec<TreeNode> {
    deps.iter()
        .map(|d| {
            let impacted = if d.impacted.is_empty() { empty_impacted.to_owned() } else { d.impacted.join(", ") };
            TreeNode::new(format!("{impacted} ← {}", d.inputs.join(", ")))
        })
        .collect()
}

// ---- partition --------------------------------------------------------------------------------------

pub(super) fn partition(response: &Response<PartitionDetail>, color: bool) -> String {
    let labels = Labels { index: &response.index, paint: Paint { on: color } };
    partition_tree(&labels, &response.data).render()
}

fn partition_tree(labels: &Labels, p: &PartitionDetail) -> TreeNode {
    let current = if p.current { "current" } else { "not current: a newer instance exists" };
    let mut root = TreeNode::new(format!("{}  {}", labels.partition(&p.uuid), labels.paint.dim(current)));
    root.push(TreeNode::new(format!("uuid: {}", p.uuid)));
    root.push(TreeNode::new(format!(
        "created {} (event {}), {} since {} (event {})",
        format_timestamp(p.created.timestamp),
        p.created.event_id,
        p.state,
        format_timestamp(p.state_since.timestamp),
        p.state_since.event_id
    )));
    match &p.built_by {
        Some(run) => root.push(
            TreeNode::new(format!("built by: {}", labels.job_run(run)))
                .with(p.upstream.iter().map(|u| TreeNode::new(format!("read: {}", labels.partition(u)))).collect()),
        ),
        None => root.push(TreeNode::new("built by: nobody in the log (an external source)")),
    }
    root.section(
        "consumers (read by → built)",
        p.consumers
            .iter()
            .map(|c| TreeNode::new(format!("{} → {}", labels.job_run(&c.job_run_id), labels.partition(&c.uuid))))
            .collect(),
    );
    root.section("wanted by", p.wants.iter().map(|w| TreeNode::new(labels.want(w))).collect());
    root.section(
        "taints",
        p.taints
            .iter()
            .map(|t| {
                let comment = t.comment.as_deref().map(|c| format!(": {c}")).unwrap_or_default();
                let canceled = t
                    .canceled
                    .as_ref()
                    .map(|c| format!(" (canceled at {})", format_timestamp(c.timestamp)))
                    .unwrap_or_default();
                TreeNode::new(format!(
                    "{} at {} by {}{comment}{canceled}",
                    t.taint_id,
                    format_timestamp(t.timestamp),
                    labels.source(&t.source)
                ))
            })
            .collect(),
    );
    if let Some(instances) = &p.instances {
        root.section(
            "instances (oldest first)",
            instances
                .iter()
                .map(|u| {
                    let built_by = labels.index.partitions.get(u).and_then(|s| s.built_by.as_deref());
                    let by = built_by.map(|r| format!(" built by {r}")).unwrap_or_default();
                    let here = if *u == p.uuid { " ← shown" } else { "" };
                    TreeNode::new(format!("{}{by}{here}", labels.partition(u)))
                })
                .collect(),
        );
    }
    root
}

// ---- want -------------------------------------------------------------------------------------------

pub(super) fn want(response: &Response<WantDetail>, color: bool) -> String {
    let labels = Labels { index: &response.index, paint: Paint { on: color } };
    let w = &response.data;
    let mut root = TreeNode::new(labels.want(&w.want_id));
    match &w.created {
        Some(c) => root.push(TreeNode::new(format!(
            "created {} (event {}) by {}{}",
            format_timestamp(c.timestamp),
            c.event_id,
            labels.source(&w.source),
            w.comment.as_deref().map(|c| format!(": {c}")).unwrap_or_default()
        ))),
        None => root.push(TreeNode::new("not created in the log yet (only a job run's attribution names it)")),
    }
    root.section("current instances", w.current_instances.iter().map(|u| TreeNode::new(labels.partition(u))).collect());
    root.section("parents", w.parents.iter().map(|p| TreeNode::new(labels.want(p))).collect());
    root.section("derivative wants", w.derivative_wants.iter().map(|d| TreeNode::new(labels.want(d))).collect());
    root.section(
        "job runs (by retry chain)",
        w.retry_chains
            .iter()
            .map(|c| {
                let runs = c.runs.iter().map(|r| TreeNode::new(labels.job_run(r))).collect();
                TreeNode::new(format!(
                    "{} → {} [{}]",
                    c.job_label,
                    c.partitions.join(", "),
                    labels.paint.chain(&c.statuses)
                ))
                .with(runs)
            })
            .collect(),
    );
    if let Some(c) = &w.cancellation {
        root.push(TreeNode::new(format!(
            "canceled at {} by {}",
            format_timestamp(c.timestamp),
            labels.source(&c.source)
        )));
    }
    root.render()
}

// ---- lists ------------------------------------------------------------------------------------------

fn page_footer<T>(page: &Page<T>, what: &str, out: &mut String) {
    match &page.next_cursor {
        Some(cursor) => out.push_str(&format!("{} {what} shown; next page: --cursor {cursor}\n", page.items.len())),
        None => out.push_str(&format!("{} {what}; end of list\n", page.items.len())),
    }
}

pub(super) fn want_list(response: &Response<Page<WantDetail>>, color: bool) -> String {
    let labels = Labels { index: &response.index, paint: Paint { on: color } };
    let mut out = String::new();
    for w in &response.data.items {
        out.push_str(&format!("{}  runs: {}\n", labels.want(&w.want_id), w.job_runs.len()));
    }
    page_footer(&response.data, "wants", &mut out);
    out
}

pub(super) fn job_run_list(response: &Response<Page<JobRunDetail>>, color: bool) -> String {
    let labels = Labels { index: &response.index, paint: Paint { on: color } };
    let mut out = String::new();
    for r in &response.data.items {
        let wrote: Vec<&str> = r.wrote.iter().map(|u| u.partition_ref.as_str()).collect();
        out.push_str(&format!("{}  → {}\n", labels.job_run(&r.job_run_id), wrote.join(", ")));
    }
    page_footer(&response.data, "job runs", &mut out);
    out
}

pub(super) fn partition_list(response: &Response<Page<PartitionDetail>>, color: bool) -> String {
    let labels = Labels { index: &response.index, paint: Paint { on: color } };
    let mut out = String::new();
    for p in &response.data.items {
        let by = p.built_by.as_deref().map(|r| format!("  built by {r}")).unwrap_or_else(|| "  external".into());
        out.push_str(&format!("{}{by}\n", labels.partition(&p.uuid)));
    }
    page_footer(&response.data, "partition instances", &mut out);
    out
}
