//! Properties of the editor features over arbitrary documents and workspaces: every request answers
//! (a result or an error), whatever the text — multi-byte characters, CRLF, positions inside
//! surrogate pairs or past the end, files of arbitrary bytes.

use dbl::editor::features::Direction;
use dbl::editor::workspace::FsWorkspace;
use dbl::editor::{EditorService, RefQuery};
use dbl::state::BuildState;
use lsp_types::{
    DidChangeTextDocumentParams, Position, Range, TextDocumentContentChangeEvent, TextDocumentIdentifier,
    TextDocumentItem, TextDocumentPositionParams, Uri, VersionedTextDocumentIdentifier,
};
use proptest::prelude::*;

/// Text that mixes refs of the demo log with what breaks naive byte arithmetic.
fn text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("data/beta".to_string()),
        Just("data/alpha".to_string()),
        Just("data/gamma".to_string()),
        Just("é".to_string()),
        Just("🚀".to_string()),
        Just("┌─┐".to_string()),
        Just("\r\n".to_string()),
        Just("\n".to_string()),
        Just("=".to_string()),
        Just("://".to_string()),
        any::<String>(),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
}

fn position() -> impl Strategy<Value = Position> {
    (0u32..6, prop_oneof![0u32..40, Just(u32::MAX)]).prop_map(|(line, character)| Position { line, character })
}

fn uri(name: &str) -> Uri {
    format!("file:///w/{name}").parse().unwrap()
}

fn at(name: &str, position: Position) -> TextDocumentPositionParams {
    TextDocumentPositionParams { text_document: TextDocumentIdentifier { uri: uri(name) }, position }
}

fn demo_state() -> BuildState {
    BuildState::from_events(&dbl::events::demo_events())
}

/// Every request of the editor at `position`; returns how many answered with something.
fn ask_everything(service: &EditorService, state: &BuildState, name: &str, position: Position) -> usize {
    let at = at(name, position);
    let mut answered = 0;
    answered += usize::from(service.hover(state, &at).is_some());
    answered += service.definition(state, &at).len();
    answered += service.references(state, &at).len();
    answered += service.code_lenses(state, &at.text_document.uri).map_or(0, |l| l.len());
    for direction in [Direction::Upstream, Direction::Downstream] {
        answered += usize::from(service.neighbours(state, &RefQuery::At(at.clone()), direction).is_ok());
    }
    answered
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_document_any_edit_any_position_answers(
        original in text(),
        edits in prop::collection::vec((position(), position(), text()), 0..4),
        asks in prop::collection::vec(position(), 1..6),
    ) {
        let state = demo_state();
        let mut service = EditorService::new();
        service.did_open(TextDocumentItem { uri: uri("a.txt"), language_id: "plaintext".into(), version: 1, text: original.clone() }).unwrap();
        for (version, (start, end, new_text)) in edits.into_iter().enumerate() {
            let change = DidChangeTextDocumentParams {
                text_document: VersionedTextDocumentIdentifier { uri: uri("a.txt"), version: version as i32 + 2 },
                content_changes: vec![TextDocumentContentChangeEvent { range: Some(Range { start, end }), range_length: None, text: new_text }],
            };
            service.did_change(&change).unwrap();
        }
        let text = service.docs.get(&uri("a.txt")).unwrap().text().to_string();
        for position in asks {
            ask_everything(&service, &state, "a.txt", position);
        }
        // Every ref the lenses report is a real ref of the text, at the range they name.
        let doc = service.docs.get(&uri("a.txt")).unwrap();
        for lens in service.code_lenses(&state, &uri("a.txt")).unwrap() {
            let start = doc.offset_at(lens.range.start);
            let end = doc.offset_at(lens.range.end);
            prop_assert!(text[start..end].starts_with("data/"), "{:?} in {text:?}", &text[start..end]);
        }
    }

    #[test]
    fn workspaces_of_arbitrary_bytes_are_searched_without_failing(
        files in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..1200), 1..4),
        with_ref in prop::collection::vec(0usize..1100, 1..4),
    ) {
        let dir = tempfile::tempdir().unwrap();
        for (i, (mut bytes, at)) in files.into_iter().zip(with_ref.into_iter().cycle()).enumerate() {
            let at = at.min(bytes.len());
            bytes.splice(at..at, b" data/alpha ".iter().copied());
            std::fs::write(dir.path().join(format!("f{i}.txt")), bytes).unwrap();
        }
        let state = demo_state();
        let mut service = EditorService::new();
        service.workspace = FsWorkspace { roots: vec![dir.path().to_path_buf()], ..FsWorkspace::default() };
        service.did_open(TextDocumentItem { uri: uri("open.py"), language_id: "python".into(), version: 1, text: "x = 'data/beta'".into() }).unwrap();
        // Go to upstream of data/beta: data/alpha, which every file without a NUL byte mentions.
        let found = service.definition(&state, &at("open.py", Position { line: 0, character: 6 }));
        for location in &found {
            prop_assert!(location.uri.as_str().starts_with("file://"));
        }
    }
}

#[test]
fn a_document_of_one_multi_megabyte_line_answers() {
    let state = demo_state();
    let mut service = EditorService::new();
    let line = format!("{}data/beta{}", "é🚀".repeat(400_000), " x".repeat(1_000_000));
    service
        .did_open(TextDocumentItem { uri: uri("big.txt"), language_id: "plaintext".into(), version: 1, text: line })
        .unwrap();
    let position = Position { line: 0, character: 400_000 * 3 + 2 };
    let hover = service.hover(&state, &at("big.txt", position)).expect("the ref under the cursor");
    let lsp_types::HoverContents::Markup(markup) = hover.contents else { panic!("markdown hover") };
    assert!(markup.value.contains("`data/beta`"), "{}", markup.value);
    assert_eq!(ask_everything(&service, &state, "big.txt", Position { line: 0, character: 7 }), 1, "only the lens");
}
