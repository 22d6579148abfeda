//! One daemon per log: forwarders (`dbl serve --stdio --remote auto`) started like editors start
//! language servers, sharing one daemon; `dbl daemon status|stop`; races, stale sockets, a daemon
//! that dies, and the idle timeout. Each test has its own `XDG_RUNTIME_DIR`.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

fn daemon_cmd(runtime: &Path, args: &[&str]) -> std::process::Output {
    dbl().env("XDG_RUNTIME_DIR", runtime).arg("daemon").args(args).output().unwrap()
}

fn daemons(runtime: &Path) -> Vec<Value> {
    let output = daemon_cmd(runtime, &["status", "--format", "json"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice::<Vec<Value>>(&output.stdout).unwrap()
}

fn forwarder(dir: &Path, runtime: &Path, log: &Path) -> LspClient {
    let args = ["--stdio", "--remote", "auto", "--log", log.to_str().unwrap(), "--poll-ms", "20"];
    let mut client = LspClient::spawn_with_env(dir, &args, &[("XDG_RUNTIME_DIR", runtime)]);
    client.initialize(json!({"capabilities": {}}));
    client
}

fn wait_until(what: &str, ready: impl Fn() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !ready() {
        assert!(Instant::now() < deadline, "{what} never happened");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn editors_share_one_daemon_with_their_own_sessions() {
    let (dir, runtime) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let log = dir.path().join("demo.bel");
    write_log(&log, &dbl::events::demo_events()[..10]);
    // Four editors start at once: exactly one daemon.
    let clients: Vec<LspClient> = std::thread::scope(|scope| {
        let started: Vec<_> = (0..4).map(|_| scope.spawn(|| forwarder(dir.path(), runtime.path(), &log))).collect();
        started.into_iter().map(|s| s.join().unwrap()).collect()
    });
    let mut clients = clients;
    let listed = daemons(runtime.path());
    assert_eq!(listed.len(), 1, "one daemon: {listed:?}");
    assert_eq!(listed[0]["sessions"].as_array().unwrap().len(), 4);
    assert_eq!(listed[0]["log"], log.display().to_string());

    // Each session has its own documents; all see the one state, live.
    for (i, client) in clients.iter_mut().enumerate() {
        let text = if i % 2 == 0 { "x = 'data/beta'\n" } else { "# nothing here\n" };
        client.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": "file:///w/a.py", "languageId": "python", "version": 1, "text": text}}),
        );
    }
    append_log(&log, &dbl::events::demo_events()[10..]);
    for (i, client) in clients.iter_mut().enumerate() {
        let status = client.status_until(|s| s["eventsApplied"] == 15);
        assert_eq!(status["digest"], cold_digest(&log));
        let hover = client.result(
            "textDocument/hover",
            json!({"textDocument": {"uri": "file:///w/a.py"}, "position": {"line": 0, "character": 7}}),
        );
        assert_eq!(hover.is_null(), i % 2 == 1, "session {i} sees its own document: {hover}");
    }
    // A session that leaves frees its place; the others go on.
    let first = clients.remove(0);
    assert_eq!(first.shutdown(), 0);
    wait_until("the session list to shrink", || daemons(runtime.path())[0]["sessions"].as_array().unwrap().len() == 3);
    let status = clients[0].result("databuild/status", json!({}));
    assert_eq!(status["eventsApplied"], 15);
    for client in clients {
        assert_eq!(client.shutdown(), 0);
    }
    // `dbl daemon stop` ends it and cleans up.
    let output = daemon_cmd(runtime.path(), &["stop", "--log", log.to_str().unwrap()]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(daemons(runtime.path()).is_empty());
}

#[test]
fn a_stale_socket_is_replaced_and_a_dead_daemon_is_reported() {
    let (dir, runtime) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let log = dir.path().join("demo.bel");
    write_log(&log, &dbl::events::demo_events());
    // A socket nobody listens on, where the daemon's would be.
    let spec = dbl::log::source::SourceSpec::File(log.clone());
    let place = dbl::daemon::Place::in_dir(runtime.path().join("dbl"), &spec, env!("CARGO_PKG_VERSION"));
    std::os::unix::fs::DirBuilderExt::mode(&mut std::fs::DirBuilder::new(), 0o700).create(&place.dir).unwrap();
    drop(std::os::unix::net::UnixListener::bind(place.socket()).unwrap());
    assert!(place.socket().exists());

    let mut client = forwarder(dir.path(), runtime.path(), &log);
    client.status_until(|s| s["eventsApplied"] == 15);
    // A directory that others may enter is refused, not used.
    let open = tempfile::tempdir().unwrap();
    std::fs::create_dir(open.path().join("dbl")).unwrap();
    let refused = daemon_cmd(open.path(), &["status"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("is not private"), "{refused:?}");
    let pid = daemons(runtime.path())[0]["pid"].as_u64().unwrap();
    // The daemon dies: the editor is told, and the forwarder exits.
    assert!(std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap().success());
    let shown = client.wait_for(|m| m["method"] == "window/showMessage");
    let message = shown["params"]["message"].as_str().unwrap();
    assert!(message.contains("shared daemon") && message.contains("stopped"), "{message}");
    assert_eq!(client.finish(), 1);
    // Its remains are cleaned up by the next look.
    assert!(daemons(runtime.path()).is_empty());
}

#[test]
fn a_daemon_serves_its_pages_too() {
    let (dir, runtime) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let log = dir.path().join("demo.bel");
    write_log(&log, &dbl::events::demo_events());
    let args = ["--log", log.to_str().unwrap(), "--listen", "127.0.0.1:0"];
    let daemon = common::http::spawn_command(dir.path(), "daemon", &args, &[("XDG_RUNTIME_DIR", runtime.path())]);
    // A page over plain HTTP, from the shared daemon's state (the log may still be loading: retry).
    wait_until("the want page", || {
        let page = common::http::get(daemon.port, "/wants/W-001", &[]);
        page.status == 200 && page.body.contains("JR-789")
    });
}

#[test]
fn one_shot_commands_ask_a_running_daemon_and_print_the_same_bytes() {
    let (dir, runtime) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let log = dir.path().join("demo.bel");
    write_log(&log, &dbl::events::demo_events());
    let log_arg = log.to_str().unwrap();
    let commands: [&[&str]; 6] = [
        &["want", "W-001"],
        &["want", "W-001", "--format", "json"],
        &["lineage", "data/beta", "--format", "mermaid"],
        &["job-run", "JR-789"],
        &["partition", "data/gamma", "--format", "json"],
        &["wants", "--limit", "1"],
    ];
    let run = |runtime: &Path, command: &[&str]| {
        let output = dbl().env("XDG_RUNTIME_DIR", runtime).args(command).args(["--log", log_arg]).output().unwrap();
        assert!(output.status.success(), "{command:?}: {}", String::from_utf8_lossy(&output.stderr));
        output.stdout
    };
    let loaded: Vec<Vec<u8>> = commands.iter().map(|c| run(runtime.path(), c)).collect();

    let _daemon = common::http::spawn_command(
        dir.path(),
        "daemon",
        &["--log", log_arg, "--listen", "127.0.0.1:0"],
        &[("XDG_RUNTIME_DIR", runtime.path())],
    );
    // The daemon has the state: with the log gone, only it can answer.
    wait_until("the daemon's load", || daemons(runtime.path()).len() == 1);
    std::thread::sleep(Duration::from_millis(200));
    std::fs::remove_file(&log).unwrap();
    for (command, expected) in commands.iter().zip(&loaded) {
        assert_eq!(&run(runtime.path(), command), expected, "{command:?} answered differently by the daemon");
    }
    let missing =
        dbl().env("XDG_RUNTIME_DIR", runtime.path()).args(["want", "W-404", "--log", log_arg]).output().unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no such want: W-404"));
}

#[test]
fn an_idle_daemon_exits() {
    let (dir, runtime) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let log = dir.path().join("demo.bel");
    write_log(&log, &dbl::events::demo_events());
    let stderr_path = dir.path().join("daemon.err");
    let mut daemon = dbl()
        .env("XDG_RUNTIME_DIR", runtime.path())
        .args(["daemon", "--log", log.to_str().unwrap(), "--idle-timeout", "1"])
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = daemon.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < TIMEOUT, "the idle daemon did not exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
    let stderr = std::fs::read_to_string(&stderr_path).unwrap();
    assert!(stderr.contains("daemon for") && stderr.contains("no session for 1s: exiting"), "{stderr}");
    assert!(daemons(runtime.path()).is_empty(), "it cleaned up its socket");
}
