//! Real LSP clients against the real `dbl` binary (see `tests/clients/README.md`):
//! headless Neovim 0.7's built-in client, and Microsoft's `vscode-languageserver-protocol` in Node.
//! A missing client skips the test with a message, except under `CI=true`, where it fails.
//! (`.ci/install-clients.sh` installs them; the VS Code extension's own end-to-end test in
//! code-server runs from `.ci/test-clients.sh`.)

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use dbl::events::demo_events;
use dbl::log::{encode_record, LogFormat};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture() -> PathBuf {
    repo().join("tests/clients/fixtures/demo.jsonl")
}

/// `Some(path)` of a client program, `None` (after saying why) when it is missing outside CI.
fn client(what: &str, found: Option<PathBuf>) -> Option<PathBuf> {
    match found {
        Some(path) => Some(path),
        None if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("{what} is missing and CI=true: run .ci/install-clients.sh")
        }
        None => {
            eprintln!("SKIPPED: {what} is missing (run .ci/install-clients.sh); this fails under CI=true");
            None
        }
    }
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|dir| Path::new(dir).join(program)).find(|p| p.is_file())
}

#[test]
fn fixture_is_the_demo_log() {
    let mut expected = Vec::new();
    for event in demo_events() {
        encode_record(&event, LogFormat::JsonLines, &mut expected);
    }
    if std::env::var("DBL_UPDATE_FIXTURES").as_deref() == Ok("1") {
        std::fs::write(fixture(), &expected).unwrap();
    }
    let actual = std::fs::read(fixture()).expect("tests/clients/fixtures/demo.jsonl (DBL_UPDATE_FIXTURES=1 writes it)");
    assert!(actual == expected, "the fixture is not the demo log: rerun with DBL_UPDATE_FIXTURES=1");
}

#[test]
fn neovim_hover_and_definition() {
    let Some(nvim) = client("nvim (apt-get install neovim)", which("nvim")) else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pipeline.py"),
        "# the beta job\ninputs = [\"data/alpha\"]\noutput = \"data/beta\"\n",
    )
    .unwrap();
    let script = repo().join("tests/clients/nvim/lsp_test.lua");
    let started = Instant::now();
    let output = Command::new("timeout")
        .arg("90")
        .arg(nvim)
        .args(["--headless", "-u", "NONE", "-c"])
        .arg(format!("luafile {}", script.display()))
        .env("DBL", env!("CARGO_BIN_EXE_dbl"))
        .env("DBL_LOG", fixture())
        .env("DBL_WORKDIR", dir.path())
        // The shared daemon Neovim's forwarder starts lives here, private to this test, snapshot and all.
        .env("XDG_RUNTIME_DIR", dir.path())
        .env("XDG_CACHE_HOME", dir.path())
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stderr}");
    let stopped = Command::new(env!("CARGO_BIN_EXE_dbl"))
        .args(["daemon", "stop", "--log"])
        .arg(fixture())
        .env("XDG_RUNTIME_DIR", dir.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "Neovim test failed ({}):\n{stderr}", output.status);
    assert!(stderr.contains("nvim-test: PASS"), "no PASS line:\n{stderr}");
    assert!(stopped.status.success(), "Neovim went through a shared daemon: {stopped:?}");
    eprintln!("neovim client test took {:?}", started.elapsed());
}

#[test]
fn node_lsp_client() {
    let Some(node) = client("node", which("node")) else { return };
    let modules = repo().join("tests/clients/node_modules/vscode-languageserver-protocol");
    let Some(_) = client("tests/clients/node_modules (npm ci in tests/clients)", modules.is_dir().then_some(modules))
    else {
        return;
    };
    let output = Command::new("timeout")
        .arg("120")
        .arg(node)
        .args(["--test", "lsp-client.test.mjs"])
        .current_dir(repo().join("tests/clients"))
        .env("DBL", env!("CARGO_BIN_EXE_dbl"))
        .env("DBL_FIXTURE", fixture())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "node LSP client test failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("# pass 1") && stdout.contains("# fail 0"), "{stdout}");
}
