//! The editor features as pure functions of a [`BuildState`], the open documents, the
//! configuration and (for searches) a [`WorkspaceFiles`]: hover, definition (go to upstream),
//! references (go to downstream), code lenses, and the lists of a ref's neighbours for clients that
//! draw their own picker or panel.

use std::collections::HashMap;
use std::fmt::Write as _;

use lsp_types::{CodeLens, Command, Hover, HoverContents, Location, MarkupContent, MarkupKind, Position, Range, Uri};
use serde_json::{json, Value};

use super::config::EditorConfig;
use super::document::{Document, DocumentStore};
use super::lineage::{ref_lineage, RefLineage};
use super::scan::{scan_tokens, RefHit};
use super::workspace::WorkspaceFiles;
use crate::state::{BuildState, JobRunIx, PartitionIx, RefId};
use crate::views::{respond, uuid_of, HasRelatedIds, RelatedIds, Response};

/// Most locations any one search returns.
pub const MAX_LOCATIONS: usize = 200;

// ---- finding refs under the cursor ----------------------------------------------------------------

/// The ref at `position` in `doc`, if any.
pub fn ref_at(
    state: &BuildState,
    config: &EditorConfig,
    doc: &Document,
    position: Position,
) -> Option<(RefHit, Range)> {
    let offset = doc.offset_at(position);
    let hit = config.scanner.ref_at(state, doc.text(), offset)?;
    let range = doc.range_of(hit.range.clone());
    Some((hit, range))
}

// ---- hover ------------------------------------------------------------------------------------------

/// `textDocument/hover` on a ref: the markdown of [`hover_markdown`].
pub fn hover(state: &BuildState, config: &EditorConfig, doc: &Document, position: Position) -> Option<Hover> {
    let (hit, range) = ref_at(state, config, doc, position)?;
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value: hover_markdown(state, config, &hit.name),
        }),
        range: Some(range),
    })
}

/// What the hover shows for a ref: its current state and UUID, the job run that built it (label,
/// status, when), its upstream inputs with their states (at most `fanoutLimit`, then "+N more"), its
/// downstream consumer count, the wants that asked for it, and command links.
pub fn hover_markdown(state: &BuildState, config: &EditorConfig, name: &str) -> String {
    let mut md = String::new();
    let Some(id) = state.ref_id(name) else {
        let _ = write!(md, "**`{name}`** — not in the build event log yet\n\nNo want, job run or read has named this partition ref so far.");
        return md;
    };
    let Some(lineage) = ref_lineage(state, id, config.fanout_limit.min(5)) else {
        let _ = write!(md, "**`{name}`** — wanted, not built yet\n\n");
        write_wants(state, config, id, &mut md);
        return md;
    };
    let current = state.partition(lineage.current);
    let _ = writeln!(md, "**`{name}`** — {}\n", current.state.name());
    let _ = writeln!(md, "UUID `{}`\n", current.uuid);
    write_builder(state, lineage.current, &mut md);
    if lineage.focus != lineage.current {
        let focus = state.partition(lineage.focus);
        let _ =
            writeln!(md, "Lineage below is of the last built instance `{}` ({}).\n", focus.uuid, focus.state.name());
        write_builder(state, lineage.focus, &mut md);
    }
    let limit = config.fanout_limit;
    if lineage.upstream.is_empty() {
        let _ =
            writeln!(md, "**Upstream**: none{}\n", if current.built_by.is_none() { " (external source)" } else { "" });
    } else {
        let _ = write!(md, "**Upstream** ({}): ", lineage.upstream.len());
        let items: Vec<String> = lineage
            .upstream
            .iter()
            .take(limit)
            .map(|&(r, ix)| format!("`{}` {}", state.ref_name(r), state.partition(ix).state.name()))
            .collect();
        md.push_str(&items.join(", "));
        if lineage.upstream.len() > limit {
            let _ = write!(md, ", +{} more", lineage.upstream.len() - limit);
        }
        md.push_str("\n\n");
    }
    // Reads are counted, not walked: a hot source is read tens of thousands of times.
    let n = lineage.downstream_reads;
    let _ = write!(md, "**Downstream**: read {n} time{}", if n == 1 { "" } else { "s" });
    if n > 0 {
        let items: Vec<String> =
            lineage.downstream.iter().map(|&(r, _, _)| format!("`{}`", state.ref_name(r))).collect();
        let more = if n > items.len() { ", …" } else { "" };
        let _ = write!(md, ", latest into {}{more}", items.join(", "));
    }
    md.push_str("\n\n");
    write_wants(state, config, id, &mut md);
    md.push('\n');
    let args = json!([name]);
    let mut links = vec![
        command_link("Show lineage", "databuild.showLineage", &args),
        command_link("Go to upstream", "databuild.goToUpstream", &args),
        command_link("Go to downstream", "databuild.goToDownstream", &args),
    ];
    if let Some(run) = current.built_by {
        links.push(command_link("Show job run", "databuild.showJobRun", &json!([state.job_run_id(run)])));
    }
    if let Some(&want) = state.ref_entry(id).wants.last() {
        links.push(command_link(
            "Show want fulfillment",
            "databuild.showWantFulfillment",
            &json!([state.want_id(want)]),
        ));
    }
    md.push_str(&links.join(" · "));
    md
}

fn write_builder(state: &BuildState, instance: PartitionIx, md: &mut String) {
    let Some(run) = state.partition(instance).built_by else { return };
    let job = state.job_run(run);
    let when = job.history().last().map(|c| format!(" at {}", format_timestamp(c.at.timestamp))).unwrap_or_default();
    let _ = writeln!(
        md,
        "Built by job run `{}` (`{}`) — {}{when}\n",
        state.job_run_id(run),
        state.label_name(job.label),
        job.status.name()
    );
}

fn write_wants(state: &BuildState, config: &EditorConfig, id: RefId, md: &mut String) {
    let wants = &state.ref_entry(id).wants;
    if wants.is_empty() {
        md.push_str("**Wanted by**: no want\n");
        return;
    }
    let items: Vec<String> = wants
        .iter()
        .take(config.fanout_limit)
        .map(|&w| format!("`{}` {}", state.want_id(w), state.want(w).status.name()))
        .collect();
    let _ = write!(md, "**Wanted by**: {}", items.join(", "));
    if wants.len() > config.fanout_limit {
        let _ = write!(md, ", +{} more", wants.len() - config.fanout_limit);
    }
    md.push('\n');
}

/// A markdown link that runs an editor command with JSON arguments (`command:ID?ENCODED_JSON`).
pub fn command_link(title: &str, command: &str, args: &Value) -> String {
    format!("[{title}](command:{command}?{})", percent_encode(&args.to_string()))
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// An event timestamp for a hover: to the second, UTC.
pub fn format_timestamp(ms: u64) -> String {
    format!("{} UTC", crate::calendar::format_timestamp_seconds(ms))
}

// ---- searching for refs -----------------------------------------------------------------------------

/// Where each of `targets` appears: open documents first (in URI order), then workspace files that
/// are not open. At most `per_target` locations per ref and [`MAX_LOCATIONS`] in all.
pub fn find_locations(
    docs: &DocumentStore,
    workspace: &dyn WorkspaceFiles,
    targets: &[&str],
    per_target: usize,
) -> Vec<Vec<Location>> {
    let mut found: Vec<Vec<Location>> = vec![Vec::new(); targets.len()];
    if targets.is_empty() {
        return found;
    }
    let index: HashMap<&str, usize> = targets.iter().enumerate().map(|(i, t)| (*t, i)).collect();
    let mut total = 0usize;
    let mut record = |uri: &Uri, text: &str, to_range: &dyn Fn(std::ops::Range<usize>) -> Range| -> bool {
        for (bytes, i) in scan_tokens(text, |candidate| index.get(candidate).copied()) {
            if found[i].len() < per_target {
                found[i].push(Location { uri: uri.clone(), range: to_range(bytes) });
                total += 1;
            }
        }
        total < MAX_LOCATIONS && found.iter().any(|f| f.len() < per_target)
    };
    for doc in docs.iter() {
        if !record(&doc.uri, doc.text(), &|bytes| doc.range_of(bytes)) {
            return found;
        }
    }
    workspace.visit(&mut |uri, text| {
        if docs.get(uri).is_some() {
            return true;
        }
        let file = Document::new(uri.clone(), "", 0, text.to_string());
        record(uri, text, &|bytes| file.range_of(bytes))
    });
    found
}

/// Where `names` appear in the documents and the workspace. Needs no state: callers look the names
/// up first and let go of the state before walking files.
pub fn locations_of(docs: &DocumentStore, workspace: &dyn WorkspaceFiles, names: &[String]) -> Vec<Location> {
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let per_target = (MAX_LOCATIONS / names.len().max(1)).clamp(1, 50);
    find_locations(docs, workspace, &names, per_target).into_iter().flatten().collect()
}

/// Go to upstream (definition) or downstream (references), first step: the direct neighbours of the
/// ref under the cursor, at most `fanoutLimit` of them, to look for with [`locations_of`].
pub fn go_to_targets(
    state: &BuildState,
    config: &EditorConfig,
    doc: &Document,
    position: Position,
    direction: Direction,
) -> Vec<String> {
    let Some(lineage) = lineage_at(state, config, doc, position) else { return Vec::new() };
    let refs: Vec<RefId> = match direction {
        Direction::Upstream => lineage.upstream.iter().map(|u| u.0).collect(),
        Direction::Downstream => lineage.downstream.iter().map(|d| d.0).collect(),
    };
    refs.into_iter().take(config.fanout_limit).map(|r| state.ref_name(r).to_owned()).collect()
}

fn lineage_at(state: &BuildState, config: &EditorConfig, doc: &Document, position: Position) -> Option<RefLineage> {
    let (hit, _) = ref_at(state, config, doc, position)?;
    ref_lineage(state, hit.id?, config.fanout_limit)
}

// ---- code lenses --------------------------------------------------------------------------------------

/// `textDocument/codeLens`: one lens per ref in the document, e.g. `Live · 2 upstream · 14 downstream`,
/// prefixed by the ref when its line holds several. Clicking runs `databuild.showLineage [ref]`.
pub fn code_lenses(state: &BuildState, config: &EditorConfig, doc: &Document) -> Vec<CodeLens> {
    let hits = config.scanner.scan(state, doc.text());
    let ranges: Vec<Range> = hits.iter().map(|h| doc.range_of(h.range.clone())).collect();
    let mut lenses = Vec::with_capacity(hits.len());
    for (i, (hit, range)) in hits.iter().zip(&ranges).enumerate() {
        let shared_line = ranges.iter().enumerate().any(|(j, r)| j != i && r.start.line == range.start.line);
        let summary = lens_summary(state, hit);
        let title = if shared_line { format!("{}: {summary}", hit.name) } else { summary };
        lenses.push(CodeLens {
            range: *range,
            command: Some(Command {
                title,
                command: "databuild.showLineage".into(),
                arguments: Some(vec![Value::String(hit.name.clone())]),
            }),
            data: None,
        });
    }
    lenses
}

/// `State · N upstream · M downstream` for a ref.
pub fn lens_summary(state: &BuildState, hit: &RefHit) -> String {
    let Some(id) = hit.id else { return "not in the build event log yet".into() };
    match ref_lineage(state, id, 0) {
        None => "wanted, not built yet".into(),
        Some(l) => format!(
            "{} · {} upstream · {} downstream",
            state.partition(l.current).state.name(),
            l.upstream.len(),
            l.downstream_reads
        ),
    }
}

// ---- neighbours: the lists behind a picker or a panel ------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Upstream,
    Downstream,
}

/// The direct neighbours of a ref in one direction. `uuid` and `state` are the current instance's,
/// `lineage_uuid` the instance whose neighbours are listed (see [`super::lineage`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Neighbours {
    #[serde(rename = "ref")]
    pub partition_ref: String,
    pub uuid: String,
    pub state: &'static str,
    pub lineage_uuid: String,
    pub direction: Direction,
    /// At most `fanoutLimit` of them.
    pub items: Vec<Neighbour>,
    /// How many more there are beyond `items`.
    pub more: usize,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Neighbour {
    #[serde(rename = "ref")]
    pub partition_ref: String,
    pub uuid: String,
    pub state: &'static str,
    /// Upstream: the job run that built this input; downstream: the one that read the ref.
    pub job_run_id: Option<String>,
    /// Where the ref appears in open documents and the workspace.
    pub locations: Vec<Location>,
}

impl HasRelatedIds for Neighbours {
    fn related_ids(&self, state: &BuildState, ids: &mut RelatedIds) {
        let mut instance = |uuid: &str| {
            ids.partition(state, uuid);
            let builder =
                uuid.parse().ok().and_then(|u| state.find_partition(&u)).and_then(|p| state.partition(p).built_by);
            if let Some(run) = builder {
                ids.job_run(state, state.job_run_id(run));
            }
        };
        instance(&self.uuid);
        instance(&self.lineage_uuid);
        for item in &self.items {
            instance(&item.uuid);
        }
        for run in self.items.iter().filter_map(|i| i.job_run_id.as_deref()) {
            ids.job_run(state, run);
        }
    }
}

/// The direct neighbours of `name` in one direction, with where each appears; `None` if the log has
/// no instance of the ref.
/// The neighbours of `name`, each with no locations yet: see [`locate_neighbours`].
pub fn neighbours(
    state: &BuildState,
    config: &EditorConfig,
    name: &str,
    direction: Direction,
) -> Option<Response<Neighbours>> {
    let lineage = ref_lineage(state, state.ref_id(name)?, config.fanout_limit)?;
    let entries: Vec<(RefId, PartitionIx, Option<JobRunIx>)> = match direction {
        Direction::Upstream => lineage.upstream.iter().map(|&(r, p)| (r, p, state.partition(p).built_by)).collect(),
        Direction::Downstream => lineage.downstream.iter().map(|&(r, p, j)| (r, p, Some(j))).collect(),
    };
    let shown = &entries[..entries.len().min(config.fanout_limit)];
    let items = shown
        .iter()
        .map(|&(r, p, run)| Neighbour {
            partition_ref: state.ref_name(r).to_owned(),
            uuid: uuid_of(state, p),
            state: state.partition(p).state.name(),
            job_run_id: run.map(|j| state.job_run_id(j).to_owned()),
            locations: Vec::new(),
        })
        .collect();
    let current = state.partition(lineage.current);
    let data = Neighbours {
        partition_ref: name.to_owned(),
        uuid: current.uuid.to_string(),
        state: current.state.name(),
        lineage_uuid: uuid_of(state, lineage.focus),
        direction,
        items,
        more: entries.len() - shown.len(),
    };
    Some(respond(state, data))
}

/// Where each neighbour appears in the documents and the workspace: a walk of files, done without
/// the state.
pub fn locate_neighbours(docs: &DocumentStore, workspace: &dyn WorkspaceFiles, neighbours: &mut Neighbours) {
    let names: Vec<&str> = neighbours.items.iter().map(|n| n.partition_ref.as_str()).collect();
    let per_target = (MAX_LOCATIONS / names.len().max(1)).clamp(1, 20);
    let found = find_locations(docs, workspace, &names, per_target);
    for (item, locations) in neighbours.items.iter_mut().zip(found) {
        item.locations = locations;
    }
}
