//! `databuild/lineage`: the partition ↔ job run graph around one focus instance.
//!
//! Upstream of an instance is its builder run (a `wrote` edge) and the instances that run read for
//! it (`read` edges; UUIDs resolved at the run's success). Downstream of an instance is its consumer
//! index entry: each `(job run, output)` that read it. Depth is counted in partition hops. Each
//! instance's neighbour list is cut at `fanoutLimit`; a [`Truncation`] says how many were left out
//! and carries the params that fetch the next slice of that one list (a stateless cursor).

use rustc_hash::FxHashSet as HashSet;

use serde::{Deserialize, Serialize};

use super::detail::upstream_of;
use super::*;

pub const DEFAULT_DEPTH: u32 = 3;
pub const MAX_DEPTH: u32 = 100;
pub const DEFAULT_FANOUT_LIMIT: u32 = 25;
pub const MAX_FANOUT_LIMIT: u32 = 1000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Upstream,
    Downstream,
    #[default]
    Both,
}

impl Direction {
    pub fn name(self) -> &'static str {
        match self {
            Direction::Upstream => "upstream",
            Direction::Downstream => "downstream",
            Direction::Both => "both",
        }
    }
}

/// Give `ref` (its current instance) or `uuid` (exactly that instance, however old).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LineageParams {
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub partition_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    #[serde(default)]
    pub direction: Direction,
    /// Partition hops in each direction (default 3).
    #[serde(default = "default_depth")]
    pub depth: u32,
    /// Overrides `depth` upstream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub up_depth: Option<u32>,
    /// Overrides `depth` downstream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub down_depth: Option<u32>,
    /// Most neighbours listed per instance and direction (default 25).
    #[serde(default = "default_fanout")]
    pub fanout_limit: u32,
    /// From a [`Truncation`]'s `next`: continue one cut list (`up:N` or `down:N`, N items already shown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

fn default_depth() -> u32 {
    DEFAULT_DEPTH
}

fn default_fanout() -> u32 {
    DEFAULT_FANOUT_LIMIT
}

impl Default for LineageParams {
    fn default() -> LineageParams {
        LineageParams {
            partition_ref: None,
            uuid: None,
            direction: Direction::Both,
            depth: DEFAULT_DEPTH,
            up_depth: None,
            down_depth: None,
            fanout_limit: DEFAULT_FANOUT_LIMIT,
            cursor: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LineageView {
    /// The focus instance.
    pub focus: String,
    pub direction: Direction,
    pub up_depth: u32,
    pub down_depth: u32,
    pub fanout_limit: u32,
    /// Each node once: the focus first, then upstream breadth-first, then downstream breadth-first.
    pub nodes: Vec<LineageNode>,
    /// Each edge once, in discovery order.
    pub edges: Vec<LineageEdge>,
    /// The neighbour lists cut at `fanoutLimit`.
    pub truncated: Vec<Truncation>,
    /// The entities `nodes` names, for the index (which would otherwise look each name up again).
    #[serde(skip)]
    mentioned: Mentioned,
}

/// The graph's seen-sets: each node's entity, once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Mentioned {
    partitions: HashSet<PartitionIx>,
    job_runs: HashSet<JobRunIx>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum LineageNode {
    /// `hops`: partition hops from the focus, negative upstream.
    Partition {
        uuid: String,
        hops: i32,
    },
    JobRun {
        job_run_id: String,
    },
}

/// `read`: the instance `uuid` was read by `jobRunId`. `wrote`: `jobRunId` built `uuid`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LineageEdge {
    pub kind: &'static str,
    pub uuid: String,
    pub job_run_id: String,
}

/// A neighbour list cut at `fanoutLimit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Truncation {
    /// The instance whose list was cut.
    pub uuid: String,
    /// `upstream` (its inputs) or `downstream` (its consumers).
    pub direction: Direction,
    /// How many of the list are shown (in this result).
    pub shown: usize,
    /// How many were left out.
    pub more: usize,
    /// Send these params to `databuild/lineage` for the next slice.
    pub next: LineageParams,
}

impl HasRelatedIds for LineageView {
    fn related_ids(&self, _: &BuildState, ids: &mut RelatedIds) {
        self.mentioned.partitions.iter().for_each(|&p| ids.partition_ix(p));
        self.mentioned.job_runs.iter().for_each(|&r| ids.job_run_ix(r));
    }
}

/// `databuild/lineage`.
pub fn lineage(state: &BuildState, params: &LineageParams) -> Result<Response<LineageView>, ViewError> {
    let focus = resolve_partition(state, params.partition_ref.as_deref(), params.uuid.as_deref())?;
    let fanout = params.fanout_limit;
    if fanout == 0 || fanout > MAX_FANOUT_LIMIT {
        return Err(ViewError::bad("fanoutLimit", format!("{fanout} is out of range 1..={MAX_FANOUT_LIMIT}")));
    }
    for (field, value) in
        [("depth", Some(params.depth)), ("upDepth", params.up_depth), ("downDepth", params.down_depth)]
    {
        if let Some(v) = value.filter(|&v| v > MAX_DEPTH) {
            return Err(ViewError::bad(field, format!("{v} is more than {MAX_DEPTH}")));
        }
    }
    let (direction, offset) = match &params.cursor {
        Some(cursor) => parse_cursor(cursor)?,
        None => (params.direction, 0),
    };
    let up_depth = if direction == Direction::Downstream { 0 } else { params.up_depth.unwrap_or(params.depth) };
    let down_depth = if direction == Direction::Upstream { 0 } else { params.down_depth.unwrap_or(params.depth) };

    let mut graph = Graph { state, fanout: fanout as usize, ..Graph::default_for(state) };
    graph.add_partition(focus, 0);
    graph.expand(focus, Direction::Upstream, up_depth, offset)?;
    graph.expand(focus, Direction::Downstream, down_depth, offset)?;
    let view = LineageView {
        focus: uuid_of(state, focus),
        direction,
        up_depth,
        down_depth,
        fanout_limit: fanout,
        nodes: graph.nodes,
        edges: graph.edges,
        truncated: graph.truncated,
        mentioned: Mentioned { partitions: graph.seen_partitions, job_runs: graph.seen_runs },
    };
    Ok(respond(state, view))
}

fn parse_cursor(cursor: &str) -> Result<(Direction, usize), ViewError> {
    let bad = || ViewError::bad("cursor", format!("{cursor:?} is not a lineage cursor (expected up:N or down:N)"));
    let (dir, offset) = cursor.split_once(':').ok_or_else(bad)?;
    let direction = match dir {
        "up" => Direction::Upstream,
        "down" => Direction::Downstream,
        _ => return Err(bad()),
    };
    Ok((direction, offset.parse().map_err(|_| bad())?))
}

struct Graph<'a> {
    state: &'a BuildState,
    fanout: usize,
    nodes: Vec<LineageNode>,
    seen_partitions: HashSet<PartitionIx>,
    seen_runs: HashSet<JobRunIx>,
    edges: Vec<LineageEdge>,
    seen_edges: HashSet<(bool, PartitionIx, JobRunIx)>,
    truncated: Vec<Truncation>,
}

impl<'a> Graph<'a> {
    fn default_for(state: &'a BuildState) -> Graph<'a> {
        Graph {
            state,
            fanout: DEFAULT_FANOUT_LIMIT as usize,
            nodes: Vec::new(),
            seen_partitions: HashSet::default(),
            seen_runs: HashSet::default(),
            edges: Vec::new(),
            seen_edges: HashSet::default(),
            truncated: Vec::new(),
        }
    }

    /// Adds the instance if new; says whether it was.
    fn add_partition(&mut self, p: PartitionIx, hops: i32) -> bool {
        let new = self.seen_partitions.insert(p);
        if new {
            self.nodes.push(LineageNode::Partition { uuid: uuid_of(self.state, p), hops });
        }
        new
    }

    fn add_run(&mut self, r: JobRunIx) {
        if self.seen_runs.insert(r) {
            self.nodes.push(LineageNode::JobRun { job_run_id: self.state.job_run_id(r).to_owned() });
        }
    }

    /// `read`: `p` → `r`; otherwise `r` wrote `p`.
    fn add_edge(&mut self, read: bool, p: PartitionIx, r: JobRunIx) {
        if self.seen_edges.insert((read, p, r)) {
            let kind = if read { "read" } else { "wrote" };
            self.edges.push(LineageEdge {
                kind,
                uuid: uuid_of(self.state, p),
                job_run_id: self.state.job_run_id(r).to_owned(),
            });
        }
    }

    /// Breadth-first from `start` for `max_hops` partition hops; `offset` skips the start's first
    /// neighbours (a cursor continuation), and must not point past them.
    fn expand(
        &mut self,
        start: PartitionIx,
        direction: Direction,
        max_hops: u32,
        offset: usize,
    ) -> Result<(), ViewError> {
        let sign = if direction == Direction::Upstream { -1 } else { 1 };
        let mut queue = std::collections::VecDeque::from([(start, 0u32, offset)]);
        while let Some((p, hops, offset)) = queue.pop_front() {
            if hops >= max_hops {
                continue;
            }
            let (total, slice) = self.neighbours(p, direction, offset);
            if offset > total {
                let message = format!("offset {offset} is past the {total} {} neighbours", direction.name());
                return Err(ViewError::bad("cursor", message));
            }
            let end = offset + slice.len();
            if end < total {
                self.truncate(p, direction, max_hops - hops, end, slice.len(), total - end);
            }
            for (run, q) in slice {
                self.add_run(run);
                if direction == Direction::Upstream {
                    self.add_edge(true, q, run);
                } else {
                    self.add_edge(true, p, run);
                    self.add_edge(false, q, run);
                }
                let next_hops = hops + 1;
                if self.add_partition(q, sign * next_hops as i32) {
                    queue.push_back((q, next_hops, 0));
                }
            }
        }
        Ok(())
    }

    /// How many neighbours `p` has in `direction`, and up to `fanout` of them from `offset`.
    /// Upstream: the builder's inputs for `p` (the builder and its `wrote` edge are added here, even
    /// when it read nothing). Downstream: the consumer index entry, sliced without copying it whole.
    fn neighbours(
        &mut self,
        p: PartitionIx,
        direction: Direction,
        offset: usize,
    ) -> (usize, Vec<(JobRunIx, PartitionIx)>) {
        let instance = self.state.partition(p);
        let fanout = self.fanout;
        let slice = move |total: usize| offset.min(total)..offset.saturating_add(fanout).min(total);
        match direction {
            Direction::Upstream => {
                let Some(builder) = instance.built_by else { return (0, Vec::new()) };
                self.add_run(builder);
                self.add_edge(false, p, builder);
                let inputs = upstream_of(self.state, p);
                (inputs.len(), inputs[slice(inputs.len())].iter().map(|&input| (builder, input)).collect())
            }
            _ => {
                let consumers = &instance.consumers;
                (consumers.len(), consumers[slice(consumers.len())].iter().map(|c| (c.job_run, c.output)).collect())
            }
        }
    }

    fn truncate(&mut self, p: PartitionIx, direction: Direction, depth: u32, end: usize, shown: usize, more: usize) {
        let (up_depth, down_depth, cursor) = match direction {
            Direction::Upstream => (Some(depth), None, format!("up:{end}")),
            _ => (None, Some(depth), format!("down:{end}")),
        };
        self.truncated.push(Truncation {
            uuid: uuid_of(self.state, p),
            direction,
            shown,
            more,
            next: LineageParams {
                partition_ref: None,
                uuid: Some(uuid_of(self.state, p)),
                direction,
                depth,
                up_depth,
                down_depth,
                fanout_limit: self.fanout as u32,
                cursor: Some(cursor),
            },
        });
    }
}
