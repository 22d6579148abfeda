//! Replays the committed fuzz corpora and crash regressions (`fuzz/corpus/<target>/`,
//! `fuzz/regressions/<target>/`) through the same property functions the cargo-fuzz targets run
//! (`fuzz/props.rs`), on the stable toolchain and without libFuzzer. `scripts/fuzz.sh` runs the fuzzers.

#[path = "../fuzz/props.rs"]
mod props;

use std::path::{Path, PathBuf};

/// Every file of `fuzz/<kind>/<target>/`, sorted. `required`: the directory must exist and hold files.
fn inputs(kind: &str, target: &str, required: bool) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz").join(kind).join(target);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => panic!("{}: {e} (the replay must not silently test nothing)", dir.display()),
    };
    let mut files: Vec<PathBuf> =
        entries.map(|e| e.expect("a directory entry").path()).filter(|p| p.is_file()).collect();
    files.sort();
    assert!(!required || !files.is_empty(), "{} is empty (the replay must not silently test nothing)", dir.display());
    files
}

fn replay(target: &str, property: fn(&[u8])) {
    let corpus = inputs("corpus", target, true);
    let regressions = inputs("regressions", target, false);
    for path in corpus.iter().chain(&regressions) {
        let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // Name the input that fails: the property's own message says what broke.
        eprintln!("replaying {}", path.display());
        property(&data);
    }
    println!("{target}: replayed {} corpus inputs and {} regressions", corpus.len(), regressions.len());
}

#[test]
fn decode_binary() {
    replay("decode_binary", props::decode_binary);
}

#[test]
fn decode_jsonl() {
    replay("decode_jsonl", props::decode_jsonl);
}

#[test]
fn lsp_frames() {
    replay("lsp_frames", props::lsp_frames);
}

#[test]
fn editor_sync() {
    replay("editor_sync", props::editor_sync);
}

#[test]
fn decode_row() {
    replay("decode_row", props::decode_row);
}
