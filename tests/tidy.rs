//! Tidy checks, in the spirit of rust-analyzer's: the invariants `docs/ARCHITECTURE.md` states,
//! kept by reading the source instead of by reviewers.
//!
//! - Layering: a module of `src/` uses only modules below it in the order ARCHITECTURE.md gives (in
//!   its `layers:` line). Tests (`tests.rs`, and everything from `#[cfg(test)]` to the end of a file)
//!   and comments may reach further.
//! - The editor layer names no JSON-RPC error code and no LSP or `databuild/*` method name: the
//!   protocol layer maps those.
//! - docs/PROTOCOL.md documents every method the server answers or sends, and every `databuild/*`
//!   method it gives a heading to is registered.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The top-level module a file of `src` belongs to (`src/log/tail.rs` → `log`).
fn module_of(src: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(src).unwrap();
    let first = relative.components().next().unwrap().as_os_str().to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// The code a file ships: without its tests and without comments (line by line, so a `//` inside a
/// string is taken for a comment; harmless for these checks).
fn shipped_code(path: &Path) -> Vec<(usize, String)> {
    if path.file_name().is_some_and(|n| n == "tests.rs") {
        return Vec::new();
    }
    let text = read(path);
    let mut lines = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("#[cfg(test)]") {
            break;
        }
        let code = match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        };
        if !code.trim().is_empty() {
            lines.push((i + 1, code.to_string()));
        }
    }
    lines
}

/// The layer order, lowest first, from ARCHITECTURE.md's line `layers: a → b → ...`.
fn layers() -> Vec<String> {
    let doc = read(&root().join("docs/ARCHITECTURE.md"));
    let line = doc
        .lines()
        .find_map(|l| l.trim().strip_prefix("layers:"))
        .expect("docs/ARCHITECTURE.md has a `layers:` line giving the layer order");
    line.split('→').map(|m| m.trim().trim_matches('`').to_string()).filter(|m| !m.is_empty()).collect()
}

/// Layering violations: `file:line: module uses higher-layer`.
fn layering_violations(src: &Path, order: &[String]) -> Vec<String> {
    let rank = |m: &str| order.iter().position(|o| o == m);
    let mut found = Vec::new();
    for file in rust_files(src) {
        let module = module_of(src, &file);
        if module == "lib" || module == "main" {
            continue;
        }
        let Some(own) = rank(&module) else {
            found.push(format!("{}: module `{module}` is not in ARCHITECTURE.md's layers", file.display()));
            continue;
        };
        for (line, code) in shipped_code(&file) {
            for (at, _) in code.match_indices("crate::") {
                let used: String = code[at + "crate::".len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                match rank(&used) {
                    Some(theirs) if theirs > own => {
                        found.push(format!("{}:{line}: `{module}` uses higher layer `{used}`", file.display()))
                    }
                    _ => {}
                }
            }
        }
    }
    found
}

/// What the editor layer must not say: JSON-RPC codes, LSP and `databuild/*` method names.
fn editor_protocol_knowledge(src: &Path) -> Vec<String> {
    const METHOD_PREFIXES: &[&str] = &["\"textDocument/", "\"workspace/", "\"window/", "\"databuild/", "\"$/"];
    const LIFECYCLE: &[&str] = &["\"initialize\"", "\"initialized\"", "\"shutdown\"", "\"exit\""];
    let mut found = Vec::new();
    for file in rust_files(src).into_iter().filter(|f| module_of(src, f) == "editor") {
        for (line, code) in shipped_code(&file) {
            let named_method = METHOD_PREFIXES.iter().chain(LIFECYCLE).find(|p| code.contains(*p));
            if let Some(method) = named_method {
                found.push(format!("{}:{line}: names the method {method}…", file.display()));
            }
            if code.contains("jsonrpsee") || has_json_rpc_code(&code) {
                found.push(format!("{}:{line}: knows JSON-RPC: {}", file.display(), code.trim()));
            }
        }
    }
    found
}

/// A literal in JSON-RPC's reserved error range, -32768..=-32000.
fn has_json_rpc_code(code: &str) -> bool {
    code.match_indices("-32").any(|(at, _)| {
        let digits: String = code[at + 1..].chars().take_while(char::is_ascii_digit).collect();
        digits.len() == 5 && digits.parse::<u32>().is_ok_and(|n| (32000..=32768).contains(&n))
    })
}

#[test]
fn layers_use_only_lower_layers() {
    let order = layers();
    assert!(order.len() >= 10, "ARCHITECTURE.md's layers line lists every module: {order:?}");
    let violations = layering_violations(&root().join("src"), &order);
    assert!(violations.is_empty(), "layering broken:\n{}", violations.join("\n"));
}

#[test]
fn every_module_of_src_is_a_layer() {
    let order = layers();
    let src = root().join("src");
    let modules: BTreeSet<String> = rust_files(&src).iter().map(|f| module_of(&src, f)).collect();
    for module in modules.iter().filter(|m| *m != "lib" && *m != "main") {
        assert!(order.contains(module), "`{module}` is missing from ARCHITECTURE.md's layers: {order:?}");
    }
    for layer in &order {
        assert!(modules.contains(layer), "ARCHITECTURE.md names a layer `{layer}` that src/ does not have");
    }
}

#[test]
fn the_editor_layer_knows_no_json_rpc_or_method_names() {
    let found = editor_protocol_knowledge(&root().join("src"));
    assert!(found.is_empty(), "move these to the protocol layer:\n{}", found.join("\n"));
}

#[test]
fn protocol_md_and_the_registry_agree() {
    let doc = read(&root().join("docs/PROTOCOL.md"));
    let sent_or_answered = dbl::protocol::lsp::all_method_names();
    let undocumented: Vec<&&str> = sent_or_answered.iter().filter(|n| !doc.contains(&format!("`{n}`"))).collect();
    assert!(undocumented.is_empty(), "answered or sent but not in docs/PROTOCOL.md: {undocumented:?}");

    // Each `databuild/*` name in a heading is a method (or the notification) the daemon has.
    let mut registered: BTreeSet<String> = dbl::protocol::method_names().into_iter().map(String::from).collect();
    registered.insert(dbl::protocol::LINEAGE_CHANGED.to_string());
    let documented: BTreeSet<String> = doc
        .lines()
        .filter(|l| l.starts_with('#'))
        .flat_map(|l| l.split('`').skip(1).step_by(2).map(String::from).collect::<Vec<_>>())
        .filter(|name| name.starts_with("databuild/"))
        .collect();
    let unregistered: Vec<&String> = documented.difference(&registered).collect();
    assert!(unregistered.is_empty(), "documented in docs/PROTOCOL.md but registered nowhere: {unregistered:?}");
    let without_heading: Vec<&String> = registered.difference(&documented).collect();
    assert!(without_heading.is_empty(), "registered but without a heading in docs/PROTOCOL.md: {without_heading:?}");
}

// ---- the checks themselves fail on what they are meant to catch ------------------------------------

#[test]
fn the_checks_catch_what_they_are_for() {
    assert!(has_json_rpc_code("pub const NOT_FOUND: i64 = -32004;"));
    assert!(!has_json_rpc_code("let x = -3200;"));
    // A scratch tree with one of each finding, examined by the same functions.
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let editor = "use crate::protocol::codes;\nconst C: i32 = -32602;\nfn f(m: &str) { if m == \"textDocument/hover\" {} }\n\
                  // crate::protocol and \"databuild/x\" in a comment are fine\n#[cfg(test)]\nmod tests { use crate::protocol::x; }\n";
    for (name, text) in
        [("editor/service.rs", editor), ("state/mod.rs", "use crate::editor::Thing;\n"), ("protocol/mod.rs", "")]
    {
        std::fs::create_dir_all(src.join(name).parent().unwrap()).unwrap();
        std::fs::write(src.join(name), text).unwrap();
    }
    let order: Vec<String> = ["state", "editor", "protocol"].map(String::from).to_vec();
    let violations = layering_violations(&src, &order);
    assert_eq!(violations.len(), 2, "{violations:?}");
    assert!(violations[0].ends_with("editor/service.rs:1: `editor` uses higher layer `protocol`"), "{violations:?}");
    assert!(violations[1].ends_with("state/mod.rs:1: `state` uses higher layer `editor`"), "{violations:?}");
    let knowledge = editor_protocol_knowledge(&src);
    assert_eq!(knowledge.len(), 2, "{knowledge:?}");
    assert!(knowledge[0].contains("service.rs:2: knows JSON-RPC"), "{knowledge:?}");
    assert!(knowledge[1].contains("service.rs:3: names the method \"textDocument/"), "{knowledge:?}");
}
