//! Measures the editor's ref scan: a 10,000-line document against a state that knows 1,000,000 refs.
//! `cargo run --release --example editor_scan` (numbers in docs/EDITOR.md).

use std::time::Instant;

use dbl::editor::{Document, EditorConfig};
use dbl::events::{want_create, EventSeq};
use dbl::state::BuildState;

fn main() {
    let refs: Vec<String> =
        (0..1_000_000).map(|i| format!("s3://bucket/table_{}/date=2025-06-{:02}", i / 30, i % 30 + 1)).collect();
    let mut state = BuildState::new();
    let mut seq = EventSeq::starting_at(1_750_000_000_000);
    let started = Instant::now();
    for (i, chunk) in refs.chunks(10_000).enumerate() {
        state.apply(&seq.next(1, want_create(&format!("W-{i}"), chunk, None)), 0);
    }
    eprintln!("state with {} refs built in {:?}", state.ref_count(), started.elapsed());

    // 10,000 lines of code-like text, one known ref every other line, plus noise tokens.
    let mut text = String::new();
    for line in 0..10_000 {
        if line % 2 == 0 {
            text.push_str(&format!("    read(\"{}\")  # input {line}\n", refs[line * 97 % refs.len()]));
        } else {
            text.push_str(&format!("    x_{line} = compute(path='tmp/scratch/{line}', n={line}) + other.value\n"));
        }
    }
    let config = EditorConfig::default();
    let doc = Document::new("file:///bench.py".parse().unwrap(), "python", 1, text);
    let runs = 20;
    let started = Instant::now();
    let mut found = 0;
    for _ in 0..runs {
        found = config.scanner.scan(&state, doc.text()).len();
    }
    let per_scan = started.elapsed() / runs;
    println!("scan of {} lines / {} bytes: {found} refs in {per_scan:?} per scan", doc.line_count(), doc.text().len());
    let started = Instant::now();
    let lenses = dbl::editor::features::code_lenses(&state, &config, &doc).len();
    println!("code lenses for the same document: {lenses} lenses in {:?}", started.elapsed());
    let started = Instant::now();
    for line in 0..1000u32 {
        let position = lsp_types::Position { line: line * 10, character: 12 };
        std::hint::black_box(dbl::editor::features::hover(&state, &config, &doc, position));
    }
    println!("hover (in process): {:?} per hover", started.elapsed() / 1000);
}
