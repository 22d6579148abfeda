//! One daemon per log: forwarders (`dbl serve --stdio --remote auto`) started like editors start
//! language servers, sharing one daemon; `dbl daemon status|stop`; races, stale sockets, a daemon
//! that dies, and the idle timeout. Each test has its own `XDG_RUNTIME_DIR`.

mod common;

use std::path::{Path, PathBuf};
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

fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !ready() {
        assert!(Instant::now() < deadline, "{what} never happened");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A temp dir for a test's files, another for the daemons' sockets (`XDG_RUNTIME_DIR`), and
/// `demo.bel` in the first with the first `events` demo events (all of them for `usize::MAX`).
fn demo_log_and_dirs(events: usize) -> (tempfile::TempDir, tempfile::TempDir, PathBuf) {
    let (dir, runtime) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let log = dir.path().join("demo.bel");
    let all = dbl::events::demo_events();
    write_log(&log, &all[..events.min(all.len())]);
    (dir, runtime, log)
}

#[test]
fn editors_share_one_daemon_with_their_own_sessions() {
    let (dir, runtime, log) = demo_log_and_dirs(10);
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
    let (dir, runtime, log) = demo_log_and_dirs(usize::MAX);
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
    let (dir, runtime, log) = demo_log_and_dirs(usize::MAX);
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
    let (dir, runtime, log) = demo_log_and_dirs(usize::MAX);
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
    let (dir, runtime, log) = demo_log_and_dirs(usize::MAX);
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

/// Runs `dbl ARGS` in `dir` with the runtime directory `runtime`.
fn run_in(dir: &Path, runtime: &Path, args: &[&str]) -> std::process::Output {
    let output = dbl().current_dir(dir).env("XDG_RUNTIME_DIR", runtime).args(args).output().unwrap();
    assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    output
}

#[test]
fn status_through_a_daemon_prints_what_a_load_prints() {
    let (dir, runtime, log) = demo_log_and_dirs(usize::MAX);
    // A relative --log: both show it as given.
    let loaded = run_in(dir.path(), runtime.path(), &["status", "--log", "demo.bel"]);
    let loaded_json = run_in(dir.path(), runtime.path(), &["status", "--log", "demo.bel", "--format", "json"]);
    assert!(String::from_utf8_lossy(&loaded.stderr).contains("loaded in"), "{loaded:?}");

    let daemon = common::http::spawn_command(
        dir.path(),
        "daemon",
        &["--log", log.to_str().unwrap(), "--listen", "127.0.0.1:0"],
        &[("XDG_RUNTIME_DIR", runtime.path())],
    );
    let asked = run_in(dir.path(), runtime.path(), &["status", "--log", "demo.bel"]);
    assert_eq!(String::from_utf8(asked.stdout).unwrap(), String::from_utf8(loaded.stdout.clone()).unwrap());
    let stderr = String::from_utf8(asked.stderr).unwrap();
    assert!(stderr.contains(&format!("answered by the shared daemon (pid {})", daemon.child.id())), "{stderr}");
    assert!(!stderr.contains("loaded in"), "{stderr}");

    // JSON: the daemon's databuild/status, which also says how it follows the log and where its pages are.
    let asked_json = run_in(dir.path(), runtime.path(), &["status", "--log", "demo.bel", "--format", "json"]);
    let mut asked_json: Value = serde_json::from_slice(&asked_json.stdout).unwrap();
    let mut loaded_json: Value = serde_json::from_slice(&loaded_json.stdout).unwrap();
    assert_eq!(asked_json["pages"], format!("http://127.0.0.1:{}/", daemon.port));
    for only_a_daemon_knows in ["tail", "pages"] {
        asked_json.as_object_mut().unwrap().remove(only_a_daemon_knows);
        loaded_json.as_object_mut().unwrap().remove(only_a_daemon_knows);
    }
    assert_eq!(asked_json, loaded_json);

    // --no-daemon loads the log even so.
    let forced = run_in(dir.path(), runtime.path(), &["status", "--log", "demo.bel", "--no-daemon"]);
    assert_eq!(forced.stdout, loaded.stdout);
    assert!(String::from_utf8_lossy(&forced.stderr).contains("loaded in"));
}

/// A `dbl tail` writing to files in `dir`.
struct Tail {
    child: std::process::Child,
    stdout: std::path::PathBuf,
    stderr: std::path::PathBuf,
}

impl Tail {
    fn spawn(dir: &Path, runtime: &Path, name: &str, args: &[&str]) -> Tail {
        let (stdout, stderr) = (dir.join(format!("{name}.out")), dir.join(format!("{name}.err")));
        let child = dbl()
            .env("XDG_RUNTIME_DIR", runtime)
            .arg("tail")
            .args(args)
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        Tail { child, stdout, stderr }
    }

    fn out(&self) -> String {
        // (Read whole: the tail writes a line at a time.)
        std::fs::read_to_string(&self.stdout).unwrap()
    }

    fn err(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap()
    }

    fn wait_stderr(&self, what: &str) {
        wait_until(&format!("{what:?} on a tail's stderr"), || self.err().contains(what));
    }

    /// Waits for it to exit by itself (`--max-events`), successfully.
    fn finish(mut self) -> String {
        let deadline = Instant::now() + TIMEOUT;
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "the tail did not stop: {}\n{}", self.out(), self.err());
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(self.child.wait().unwrap().success(), "{}", self.err());
        self.out()
    }
}

impl Drop for Tail {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A daemon (with `--listen`) for the first 8 demo events in `dir/demo.bel`, once it has loaded them (a
/// status through it waits for that); the log, all the demo events, and the daemon.
fn demo_daemon(dir: &Path, runtime: &Path) -> (PathBuf, Vec<dbl::proto::DataBuildEvent>, common::http::Server) {
    let log = dir.join("demo.bel");
    let all = dbl::events::demo_events();
    write_log(&log, &all[..8]);
    let log_arg = log.to_str().unwrap();
    let daemon = common::http::spawn_command(
        dir,
        "daemon",
        &["--log", log_arg, "--listen", "127.0.0.1:0", "--poll-ms", "20"],
        &[("XDG_RUNTIME_DIR", runtime)],
    );
    run_in(dir, runtime, &["status", "--log", log_arg]);
    (log, all, daemon)
}

#[test]
fn tail_through_a_daemon_prints_what_a_tail_in_process_prints() {
    let (dir, runtime) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (log, all, _daemon) = demo_daemon(dir.path(), runtime.path());
    let log_arg = log.to_str().unwrap();
    let (rt, d) = (runtime.path(), dir.path());
    let common = ["--log", log_arg, "--poll-ms", "20"];
    let tails = [
        Tail::spawn(d, rt, "daemon-text", &common),
        Tail::spawn(d, rt, "alone-text", &[&common[..], &["--no-daemon"]].concat()),
        Tail::spawn(d, rt, "daemon-json", &[&common[..], &["--format", "json"]].concat()),
        Tail::spawn(d, rt, "alone-json", &[&common[..], &["--format", "json", "--no-daemon"]].concat()),
        Tail::spawn(d, rt, "daemon-ref", &[&common[..], &["--ref", "data/beta"]].concat()),
        Tail::spawn(d, rt, "alone-ref", &[&common[..], &["--ref", "data/beta", "--no-daemon"]].concat()),
    ];
    for (i, tail) in tails.iter().enumerate() {
        tail.wait_stderr(if i % 2 == 0 { "through the shared daemon (pid" } else { "(8 events loaded)" });
    }
    for event in &all[8..] {
        append_log(&log, std::slice::from_ref(event));
        std::thread::sleep(Duration::from_millis(30));
    }
    // The last event touches data/beta too (JR-789 read it): every tail prints it.
    let last = all.len();
    for pair in tails.chunks(2) {
        let (through, alone) = (&pair[0], &pair[1]);
        wait_until("the last event in process", || {
            alone.out().contains(&format!("#{last} ")) || alone.out().contains(&format!("\"eventId\":{last},"))
        });
        wait_until("the same lines through the daemon", || through.out() == alone.out());
    }
    let text = tails[0].out();
    assert!(text.contains("#9 job run   JR-456 (//jobs:beta) Queued → Running"), "{text}");
    let only_beta = tails[4].out();
    assert!(only_beta.contains("partition data/beta") && !only_beta.contains("data/gamma ["), "{only_beta}");
    // --max-events stops a tail through the daemon too.
    let counted = Tail::spawn(d, rt, "counted", &["--log", log_arg, "--max-events", "1"]);
    counted.wait_stderr("through the shared daemon");
    run_in(d, rt, &["emit", "--log", log_arg, "want-create", "--id", "W-NEW", "--partition", "data/new"]);
    assert!(counted.finish().contains("want      W-NEW (new) → New"));
}

#[test]
fn a_tail_whose_daemon_dies_goes_on_in_process_without_a_gap() {
    let (dir, runtime) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (log, all, daemon) = demo_daemon(dir.path(), runtime.path());
    let log_arg = log.to_str().unwrap();
    let (rt, d) = (runtime.path(), dir.path());
    let through = Tail::spawn(d, rt, "through", &["--log", log_arg, "--poll-ms", "20"]);
    let alone = Tail::spawn(d, rt, "alone", &["--log", log_arg, "--poll-ms", "20", "--no-daemon"]);
    through.wait_stderr("through the shared daemon");
    alone.wait_stderr("(8 events loaded)");
    append_log(&log, &all[8..11]);
    wait_until("the appended changes through the daemon", || through.out().contains("#11 "));
    assert!(std::process::Command::new("kill")
        .args(["-KILL", &daemon.child.id().to_string()])
        .status()
        .unwrap()
        .success());
    // The line may reach the file in pieces (stderr is unbuffered): wait for its end, then check it.
    through.wait_stderr("went away");
    wait_until("the rest of the line", || through.err().split("went away").nth(1).is_some_and(|rest| rest.contains('\n')));
    assert!(through.err().contains("following the log in this process from after event 11"), "{}", through.err());
    append_log(&log, &all[11..]);
    wait_until("the last event in process", || alone.out().contains(&format!("#{} ", all.len())));
    wait_until("the same lines from the tail whose daemon died", || through.out() == alone.out());
}

#[test]
fn an_editor_forwards_to_a_team_daemon_over_websocket_with_its_token() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, runtime, log) = demo_log_and_dirs(usize::MAX);
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret-team-token\n").unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    let wrong = dir.path().join("wrong");
    std::fs::write(&wrong, "not-it\n").unwrap();
    std::fs::set_permissions(&wrong, std::fs::Permissions::from_mode(0o600)).unwrap();
    let daemon = common::http::spawn_command(
        dir.path(),
        "daemon",
        &[
            "--log",
            log.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--token-file",
            token.to_str().unwrap(),
            "--idle-timeout",
            "2",
        ],
        &[("XDG_RUNTIME_DIR", runtime.path())],
    );
    let url = format!("ws://127.0.0.1:{}", daemon.port);

    // The editor's forwarder: hover and go to upstream answered by the team daemon's state.
    // Its workspace folder is a path on the editor's machine: the daemon does not search it (here it could).
    let workspace = dir.path().join("w");
    std::fs::create_dir(&workspace).unwrap();
    std::fs::write(workspace.join("beta.py"), "x = 'data/beta'\n").unwrap();
    let mut client =
        LspClient::spawn(dir.path(), &["--stdio", "--remote", &url, "--token-file", token.to_str().unwrap()]);
    let folder = format!("file://{}", workspace.display());
    client.initialize(json!({"capabilities": {}, "workspaceFolders": [{"uri": folder, "name": "w"}]}));

    // A wrong token, or none: refused, saying why.
    for (args, says) in [
        (vec!["--token-file", wrong.to_str().unwrap()], "the token from --token-file is not the daemon's"),
        (vec![], "requires a token; give it with --token-file"),
    ] {
        let output = dbl()
            .args(["serve", "--stdio", "--remote", &url])
            .args(&args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("refused the session: 401 Unauthorized") && stderr.contains(says), "{stderr}");
        assert!(output.stdout.is_empty());
    }

    // The listener's guard applies to /lsp as to everything else: a foreign Origin is refused even with the token.
    let upgrade = [
        ("upgrade", "websocket"),
        ("connection", "Upgrade"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("sec-websocket-version", "13"),
        ("authorization", "Bearer s3cret-team-token"),
    ];
    let foreign =
        common::http::get(daemon.port, "/lsp", &[&upgrade[..], &[("origin", "https://evil.example")]].concat());
    assert_eq!(foreign.status, 403, "{}", foreign.body);
    let own = common::http::get(daemon.port, "/lsp", &upgrade);
    assert_eq!(own.status, 101);

    // Hover and go to upstream, answered by the team daemon's state.
    client.status_until(|s| s["eventsApplied"] == 15 && s["loading"] == false);
    let text = "out = 'data/gamma'\nsource = 'data/beta'\n";
    client.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": "file:///w/p.py", "languageId": "python", "version": 1, "text": text}}),
    );
    let at_gamma = json!({"textDocument": {"uri": "file:///w/p.py"}, "position": {"line": 0, "character": 9}});
    let hover = client.result("textDocument/hover", at_gamma.clone());
    let markdown = hover["contents"]["value"].as_str().unwrap_or_default();
    assert!(markdown.contains("data/gamma") && markdown.contains("JR-789"), "{hover}");
    let definition = client.result("textDocument/definition", at_gamma);
    let locations = definition.as_array().unwrap_or_else(|| panic!("{definition}"));
    assert!(
        locations.iter().any(|l| l["uri"] == "file:///w/p.py" && l["range"]["start"]["line"] == 1),
        "data/beta, upstream of data/gamma, on line 1: {definition}"
    );
    assert!(locations.iter().all(|l| l["uri"] == "file:///w/p.py"), "only open documents: {definition}");
    // `dbl daemon status` counts the editor on /lsp (it has no socket session).
    wait_until("the /lsp session listed", || daemons(runtime.path()).first().is_some_and(|d| d["lspSessions"] == 1));
    // Each `status` checks that the daemon answers by connecting to its socket, a session the daemon lists
    // until it sees it end: the text is waited for, not read once.
    wait_until("`0 sessions [] + 1 on /lsp` in the text listing", || {
        String::from_utf8_lossy(&daemon_cmd(runtime.path(), &["status"]).stdout).contains("0 sessions [] + 1 on /lsp")
    });
    // An editor on /lsp keeps the daemon from exiting idle (--idle-timeout 2); it exits once the editor leaves.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(client.result("databuild/status", json!({}))["eventsApplied"], 15);
    assert_eq!(client.shutdown(), 0);
    let daemon = std::cell::RefCell::new(daemon);
    wait_until("the idle daemon's exit", || daemon.borrow_mut().child.try_wait().unwrap().is_some());
}

/// A `dbl daemon` for `log` keeping snapshots under `cache`, its log lines in `dir/daemon-N.log`.
fn snapshot_daemon(dir: &Path, runtime: &Path, cache: &Path, log: &Path, n: u32) -> (std::process::Child, PathBuf) {
    let lines = dir.join(format!("daemon-{n}.log"));
    let child = dbl()
        .current_dir(dir)
        .env("XDG_RUNTIME_DIR", runtime)
        .env("XDG_CACHE_HOME", cache)
        .env("RUST_LOG", "info")
        .args(["daemon", "--log", log.to_str().unwrap(), "--snapshot-quiet-ms", "100", "--poll-ms", "20"])
        .stderr(std::fs::File::create(&lines).unwrap())
        .spawn()
        .unwrap();
    (child, lines)
}

fn stop_daemon(runtime: &Path, log: &Path, mut child: std::process::Child) {
    let output = daemon_cmd(runtime, &["stop", "--log", log.to_str().unwrap()]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    child.wait().unwrap();
}

/// `databuild/status` through the running daemon, once it has `events` applied.
fn daemon_status(dir: &Path, runtime: &Path, log: &Path, events: u64) -> Value {
    let mut status = Value::Null;
    wait_until(&format!("{events} events in the daemon"), || {
        let output = dbl()
            .current_dir(dir)
            .env("XDG_RUNTIME_DIR", runtime)
            .args(["status", "--log", log.to_str().unwrap(), "--format", "json"])
            .output()
            .unwrap();
        status = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
        status["eventsApplied"] == events && status["tail"]["pollMs"] == 20
    });
    status
}

#[test]
fn a_restarted_daemon_starts_from_its_snapshot_and_never_trusts_one_that_does_not_match() {
    let (dir, runtime, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let log = dir.path().join("sim.bel");
    let events = dbl::sim::generate_vec(dbl::sim::SimConfig { events: 3_500, seed: 5 });
    write_log(&log, &events[..3_000]);
    let snapshots = cache.path().join("dbl");
    let snapshot = || std::fs::read_dir(&snapshots).ok()?.flatten().map(|e| e.path()).find(|p| p.extension().is_some_and(|x| x == "snapshot"));

    // Saved once the log is quiet.
    let (daemon, _) = snapshot_daemon(dir.path(), runtime.path(), cache.path(), &log, 1);
    wait_until("a snapshot", || snapshot().is_some());
    assert_eq!(daemon_status(dir.path(), runtime.path(), &log, 3_000)["tail"]["snapshotEvents"], Value::Null);
    stop_daemon(runtime.path(), &log, daemon);

    // 500 events appended while no daemon ran: the next one starts from the snapshot and reads only those.
    append_log(&log, &events[3_000..]);
    let (daemon, lines) = snapshot_daemon(dir.path(), runtime.path(), cache.path(), &log, 2);
    let status = daemon_status(dir.path(), runtime.path(), &log, 3_500);
    assert_eq!(status["tail"]["snapshotEvents"], 3_000);
    assert_eq!(status["digest"], cold_digest(&log), "a snapshot and the rest of the log give a cold load's state");
    assert!(std::fs::read_to_string(&lines).unwrap().contains("started from snapshot"));
    // On shutdown it saves the 3,500-event state.
    stop_daemon(runtime.path(), &log, daemon);

    // A log replaced by another (same length or not) is read from its start; the snapshot is discarded.
    let other = dbl::sim::generate_vec(dbl::sim::SimConfig { events: 3_500, seed: 6 });
    let replacement = dir.path().join("other.bel");
    write_log(&replacement, &other);
    std::fs::rename(&replacement, &log).unwrap();
    let (daemon, lines) = snapshot_daemon(dir.path(), runtime.path(), cache.path(), &log, 3);
    let status = daemon_status(dir.path(), runtime.path(), &log, 3_500);
    assert_eq!(status["tail"]["snapshotEvents"], Value::Null);
    assert_eq!(status["digest"], cold_digest(&log));
    let said = std::fs::read_to_string(&lines).unwrap();
    assert!(said.contains("not used") && said.contains("no longer holds what it was taken from"), "{said}");
    wait_until("a snapshot of the new log", || snapshot().is_some());
    stop_daemon(runtime.path(), &log, daemon);

    // A corrupt snapshot is discarded, never trusted.
    let path = snapshot().unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();
    let (daemon, lines) = snapshot_daemon(dir.path(), runtime.path(), cache.path(), &log, 4);
    let status = daemon_status(dir.path(), runtime.path(), &log, 3_500);
    assert_eq!(status["tail"]["snapshotEvents"], Value::Null);
    assert_eq!(status["digest"], cold_digest(&log));
    let said = std::fs::read_to_string(&lines).unwrap();
    assert!(said.contains("not used: its checksum does not match"), "{said}");
    stop_daemon(runtime.path(), &log, daemon);
}
