//! Tests of the editor features over the demo log.

use lsp_types::{HoverContents, Position, TextDocumentIdentifier, TextDocumentItem, TextDocumentPositionParams, Uri};
use serde_json::{json, Value};

use super::features::{self, Direction};
use super::*;
use crate::events::*;
use crate::live::changes::{resolve, LineageChange};
use crate::state::BuildState;

fn demo_state() -> BuildState {
    BuildState::from_events(&demo_events())
}

fn uri(s: &str) -> Uri {
    s.parse().unwrap()
}

const JOBS: &str = "# gamma job\ninputs = ['data/alpha', \"data/beta\"]\noutput = 'data/gamma'\n";
const BETA: &str = "def beta():\n    read('data/alpha')\n    write('data/beta')\n";

fn store() -> DocumentStore {
    let mut docs = DocumentStore::new();
    docs.open(uri("file:///w/gamma.py"), "python", 1, JOBS.into()).unwrap();
    docs.open(uri("file:///w/beta.py"), "python", 1, BETA.into()).unwrap();
    docs
}

fn position_of(text: &str, needle: &str) -> Position {
    let offset = text.find(needle).unwrap();
    let line = text[..offset].matches('\n').count() as u32;
    let col = offset - text[..offset].rfind('\n').map_or(0, |i| i + 1);
    Position { line, character: col as u32 + 2 }
}

fn hover_text(state: &BuildState, config: &EditorConfig, doc: &Document, position: Position) -> String {
    match features::hover(state, config, doc, position).unwrap().contents {
        HoverContents::Markup(m) => m.value,
        other => panic!("unexpected hover contents {other:?}"),
    }
}

#[test]
fn hover_shows_state_uuid_builder_lineage_wants_and_links() {
    let state = demo_state();
    let config = EditorConfig::default();
    let docs = store();
    let doc = docs.get(&uri("file:///w/gamma.py")).unwrap();
    let hover = features::hover(&state, &config, doc, position_of(JOBS, "data/beta")).unwrap();
    assert_eq!(
        hover.range.unwrap(),
        lsp_types::Range { start: Position { line: 1, character: 25 }, end: Position { line: 1, character: 34 } }
    );
    let text = hover_text(&state, &config, doc, position_of(JOBS, "data/beta"));
    let expected = [
        "**`data/beta`** — Live",
        "UUID `d1305448-db69-5062-8c23-837705b1ceef`",
        "Built by job run `JR-456` (`//jobs:beta`) — Succeeded at 2025-06-15 ",
        "**Upstream** (1): `data/alpha` External",
        "**Downstream**: read 1 time, latest into `data/gamma`",
        "**Wanted by**: `W-002` Successful",
        "[Show lineage](command:databuild.showLineage?%5B%22data%2Fbeta%22%5D)",
        "[Show job run](command:databuild.showJobRun?%5B%22JR-456%22%5D)",
        "[Show want fulfillment](command:databuild.showWantFulfillment?%5B%22W-002%22%5D)",
    ];
    for line in expected {
        assert!(text.contains(line), "hover lacks {line:?}:\n{text}");
    }
    // Nothing under the cursor: no hover.
    assert!(features::hover(&state, &config, doc, Position { line: 0, character: 1 }).is_none());
}

#[test]
fn hover_truncates_upstream_and_covers_unknown_refs() {
    let state = demo_state();
    let mut config = EditorConfig::default();
    config.update(&json!({"fanoutLimit": 1, "refPatterns": ["data/[a-z]+"]})).unwrap();
    let text = features::hover_markdown(&state, &config, "data/gamma");
    assert!(text.contains("**Upstream** (2): `data/beta` Live, +1 more"), "{text}");
    assert!(text.contains("**Downstream**: read 0 times"), "{text}");
    let alpha = features::hover_markdown(&state, &config, "data/alpha");
    assert!(alpha.contains("— External") && alpha.contains("none (external source)"), "{alpha}");
    assert!(alpha.contains("**Downstream**: read 2 times, latest into `data/gamma`, …"), "{alpha}");
    let unknown = features::hover_markdown(&state, &config, "data/epsilon");
    assert!(unknown.starts_with("**`data/epsilon`** — not in the build event log yet"), "{unknown}");
    // A pattern makes the unknown ref hoverable in a document.
    let doc = Document::new(uri("file:///w/x.py"), "python", 1, "x = 'data/epsilon'".into());
    assert!(
        hover_text(&state, &config, &doc, Position { line: 0, character: 8 }).contains("not in the build event log")
    );
}

#[test]
fn hover_during_a_rebuild_names_both_instances() {
    let mut state = demo_state();
    let mut seq = EventSeq::after(state.last_event().unwrap().event_id, 1_800_000_000_000);
    state.apply(&seq.next(0, job_run_buffer("JR-900", "//jobs:beta", &["data/beta"], &["W-002"])), 0);
    let text = features::hover_markdown(&state, &EditorConfig::default(), "data/beta");
    assert!(text.starts_with("**`data/beta`** — Building"), "{text}");
    assert!(text.contains("Built by job run `JR-900` (`//jobs:beta`) — Queued"), "{text}");
    assert!(text.contains("Lineage below is of the last built instance `d1305448-db69-5062-8c23-837705b1ceef` (Live)"));
    assert!(text.contains("**Upstream** (1): `data/alpha` External"), "{text}");
}

#[test]
fn definition_goes_to_upstream_and_references_to_downstream() {
    let state = demo_state();
    let config = EditorConfig::default();
    let docs = store();
    let workspace: Vec<(Uri, String)> = vec![
        (uri("file:///w/gamma.py"), "stale copy of an open file: data/alpha".into()),
        (uri("file:///w/notes.md"), "alpha is data/alpha\n".into()),
    ];
    let gamma = docs.get(&uri("file:///w/gamma.py")).unwrap();
    // Definition of data/beta: where data/alpha appears. Open documents first (URI order), then
    // workspace files that are not open.
    let locations = go_to(
        &state,
        &config,
        (&docs, &workspace),
        gamma,
        position_of(JOBS, "data/beta"),
        Direction::Upstream,
    );
    let found: Vec<(String, u32, u32)> =
        locations.iter().map(|l| (l.uri.as_str().to_string(), l.range.start.line, l.range.start.character)).collect();
    assert_eq!(
        found,
        [
            ("file:///w/beta.py".to_string(), 1, 10),
            ("file:///w/gamma.py".to_string(), 1, 11),
            ("file:///w/notes.md".to_string(), 0, 9)
        ]
    );
    // References of data/beta: where data/gamma appears.
    let refs = go_to(
        &state,
        &config,
        (&docs, &workspace),
        gamma,
        position_of(JOBS, "data/beta"),
        Direction::Downstream,
    );
    assert_eq!(refs.len(), 1);
    assert_eq!((refs[0].uri.as_str(), refs[0].range.start.line), ("file:///w/gamma.py", 2));
    // data/alpha is external: nothing upstream.
    assert!(go_to(
        &state,
        &config,
        (&docs, &()),
        gamma,
        position_of(JOBS, "data/alpha"),
        Direction::Upstream
    )
    .is_empty());
}

#[test]
fn code_lenses_summarise_each_ref() {
    let state = demo_state();
    let config = EditorConfig::default();
    let docs = store();
    let lenses = features::code_lenses(&state, &config, docs.get(&uri("file:///w/gamma.py")).unwrap());
    let titles: Vec<(u32, String)> =
        lenses.iter().map(|l| (l.range.start.line, l.command.as_ref().unwrap().title.clone())).collect();
    assert_eq!(
        titles,
        [
            (1, "data/alpha: External · 0 upstream · 2 downstream".to_string()),
            (1, "data/beta: Live · 1 upstream · 1 downstream".to_string()),
            (2, "Live · 2 upstream · 0 downstream".to_string()),
        ]
    );
    let command = lenses[2].command.as_ref().unwrap();
    assert_eq!(command.command, "databuild.showLineage");
    assert_eq!(command.arguments, Some(vec![json!("data/gamma")]));
}

#[test]
fn upstream_and_downstream_lists_with_locations_and_index() {
    let state = demo_state();
    let config = EditorConfig::default();
    let docs = store();
    let up = json!(neighbours(&state, &config, &docs, "data/gamma", Direction::Upstream).unwrap());
    let data = &up["data"];
    assert_eq!(data["ref"], "data/gamma");
    assert_eq!(data["direction"], "upstream");
    assert_eq!(data["more"], 0);
    let items = data["items"].as_array().unwrap();
    assert_eq!(items.iter().map(|i| i["ref"].as_str().unwrap()).collect::<Vec<_>>(), ["data/beta", "data/alpha"]);
    assert_eq!(items[0]["uuid"], "d1305448-db69-5062-8c23-837705b1ceef");
    assert_eq!(items[0]["state"], "Live");
    assert_eq!(items[0]["jobRunId"], "JR-456");
    assert_eq!(items[1]["jobRunId"], Value::Null);
    assert_eq!(items[0]["locations"].as_array().unwrap().len(), 2, "beta.py and gamma.py mention data/beta");
    assert_eq!(up["index"]["partitions"]["d1305448-db69-5062-8c23-837705b1ceef"]["ref"], "data/beta");
    assert_eq!(up["index"]["jobRuns"]["JR-456"]["jobLabel"], "//jobs:beta");
    assert_eq!(up["index"]["jobRuns"]["JR-789"]["status"], "Succeeded");

    let down = json!(neighbours(&state, &config, &docs, "data/beta", Direction::Downstream).unwrap());
    assert_eq!(down["data"]["items"][0]["ref"], "data/gamma");
    assert_eq!(down["data"]["items"][0]["jobRunId"], "JR-789");
    assert!(neighbours(&state, &config, &docs, "data/nope", Direction::Upstream).is_none());
    assert_eq!(down["data"]["uuid"], down["data"]["lineageUuid"]);
}

#[test]
fn neighbours_during_a_rebuild_give_the_current_state_and_the_lineage_instance() {
    let mut state = demo_state();
    let mut seq = EventSeq::after(state.last_event().unwrap().event_id, 1_800_000_000_000);
    state.apply(&seq.next(0, job_run_buffer("JR-900", "//jobs:beta", &["data/beta"], &[])), 0);
    let docs = DocumentStore::new();
    let up =
        neighbours(&state, &EditorConfig::default(), &docs, "data/beta", Direction::Upstream).unwrap();
    let up = json!(up);
    assert_eq!(up["data"]["state"], "Building");
    assert_eq!(up["data"]["lineageUuid"], "d1305448-db69-5062-8c23-837705b1ceef");
    let current = up["data"]["uuid"].as_str().unwrap();
    assert_eq!(up["index"]["partitions"][current]["builtBy"], "JR-900");
    assert_eq!(up["data"]["items"][0]["ref"], "data/alpha");
}

#[test]
fn timestamps_format_as_utc() {
    assert_eq!(features::format_timestamp(0), "1970-01-01 00:00:00 UTC");
    assert_eq!(features::format_timestamp(1_750_000_000_000), "2025-06-15 15:06:40 UTC");
    assert_eq!(features::format_timestamp(951_782_400_000), "2000-02-29 00:00:00 UTC");
}

// ---- the session, as the protocol layer calls it -----------------------------------------------------

fn service() -> EditorService {
    let mut service = EditorService::new();
    let init = EditorInit {
        options: Some(json!({"eventLog": "/tmp/demo.jsonl", "fanoutLimit": 5})),
        roots: vec!["/nonexistent-dbl-root".into()],
        code_lens_refresh: true,
    };
    service.initialize(init).unwrap();
    service
}

fn at(uri_text: &str, line: u32, character: u32) -> TextDocumentPositionParams {
    TextDocumentPositionParams {
        text_document: TextDocumentIdentifier { uri: uri(uri_text) },
        position: Position { line, character },
    }
}

#[test]
fn neighbours_by_name_or_position_with_one_index() {
    let state = demo_state();
    let mut svc = service();
    let item = TextDocumentItem {
        uri: uri("file:///w/a.py"),
        language_id: "python".into(),
        version: 1,
        text: "x = 'data/gamma'\n".into(),
    };
    svc.did_open(item).unwrap();
    let up = svc.neighbours(&state, &RefQuery::At(at("file:///w/a.py", 0, 7)), Direction::Upstream).unwrap();
    assert_eq!(up.data.partition_ref, "data/gamma");
    let refs: Vec<&str> = up.data.items.iter().map(|i| i.partition_ref.as_str()).collect();
    assert_eq!(refs, ["data/beta", "data/alpha"]);
    for item in &up.data.items {
        assert!(up.index.partitions.contains_key(&item.uuid), "{item:?} indexed");
    }
    assert!(up.index.job_runs.contains_key("JR-456"), "the builder of data/beta is indexed");
    let down = svc.neighbours(&state, &RefQuery::Named("data/alpha".into()), Direction::Downstream).unwrap();
    assert_eq!(down.data.items.len(), 2);
    assert_eq!(down.data.more, 0);

    // Errors name what is wrong.
    let err = svc.neighbours(&state, &RefQuery::Named("data/none".into()), Direction::Upstream).unwrap_err();
    assert_eq!(err, EditorError::NotFound("no partition \"data/none\" in the log".into()));
    let err = svc.neighbours(&state, &RefQuery::At(at("file:///w/b.py", 0, 0)), Direction::Upstream).unwrap_err();
    assert_eq!(err, EditorError::Invalid("document file:///w/b.py is not open".into()));
    let err = svc.neighbours(&state, &RefQuery::At(at("file:///w/a.py", 0, 0)), Direction::Upstream).unwrap_err();
    assert_eq!(err, EditorError::NotFound("no partition ref at 1:1".into()));
}

#[test]
fn lens_refresh_only_for_refs_in_open_documents() {
    let mut state = demo_state();
    state.set_recording(true);
    let mut svc = service();
    let mut seq = EventSeq::after(state.last_event().unwrap().event_id, 1_800_000_000_000);
    state.apply(&seq.next(0, job_run_buffer("JR-900", "//jobs:beta", &["data/beta"], &[])), 0);
    let changes = state.take_changes();
    assert!(!changes.is_empty());
    let changes: Vec<LineageChange> = changes.iter().map(|(_, c)| resolve(&state, c)).collect();
    let refs = || changes.iter().flat_map(|c| c.lineage_refs());
    assert!(!svc.lenses_affected(refs()), "no open documents");
    svc.docs.open(uri("file:///w/a.py"), "python", 1, "data/gamma only".into()).unwrap();
    assert!(!svc.lenses_affected(refs()), "data/beta is not in an open document");
    svc.docs.open(uri("file:///w/b.py"), "python", 1, "data/beta".into()).unwrap();
    assert!(svc.lenses_affected(refs()));
}

/// Both steps of go-to, as a session runs them.
fn go_to(
    state: &BuildState,
    config: &EditorConfig,
    (docs, workspace): (&DocumentStore, &dyn crate::editor::workspace::WorkspaceFiles),
    doc: &Document,
    position: Position,
    direction: Direction,
) -> Vec<lsp_types::Location> {
    let names = features::go_to_targets(state, config, doc, position, direction);
    features::locations_of(docs, workspace, &names)
}

/// Both steps of the neighbours of a ref, as a session runs them, with no workspace files.
fn neighbours(
    state: &BuildState,
    config: &EditorConfig,
    docs: &DocumentStore,
    name: &str,
    direction: Direction,
) -> Option<crate::views::Response<features::Neighbours>> {
    let mut found = features::neighbours(state, config, name, direction)?;
    features::locate_neighbours(docs, &(), &mut found.data);
    Some(found)
}
