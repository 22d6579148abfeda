//! The live half of `scripts/bench.sh`: a release `dbl serve --stdio --listen` follows a copy of a simulated
//! log that keeps growing, and this measures what its users feel. Prints one JSON object on stdout.
//!
//! ```text
//! cargo run --release --example bench_live -- --dbl target/release/dbl --log sim.bel [--seed 1]
//!     [--quiet-seconds 10] [--busy-seconds 30] [--clients 8] [--append-ms 20] [--status-ms 2000]
//! ```
//!
//! Two phases on the same daemon, after its initial load:
//! - **quiet**: one editor (stdio) hovers, one WebSocket client asks `databuild/lineage` and is subscribed,
//!   and the log grows by one event every 100 ms;
//! - **busy**: the log grows by one event every `--append-ms`; `--clients` WebSocket clients are subscribed to
//!   every change and each asks `databuild/lineage` in a loop; the editor hovers and, on another thread of
//!   the same session, polls `databuild/status` every `--status-ms` (as the VS Code extension does).
//!
//! Hover and lineage alternate between the hottest source (`raw/reference/countries`, read by nearly every
//! staging run) and a report partition (the log's last built one), each paced 20 ms after its answer.
//! Append → visible is from the write of an event's record to a subscriber's `changed` notice for it (every
//! subscriber's, for every appended event that changes lineage). The appended events are the simulator's
//! continuation of the same seed (`dbl simulate` logs are prefixes of longer ones).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use dbl::log::{encode_record, load_file, LogFormat};
use dbl::proto::data_build_event::Event;
use dbl::proto::DataBuildEvent;
use dbl::sim::{generate, SimConfig};
use jsonrpsee::core::client::{ClientT, SubscriptionClientT};
use jsonrpsee::core::params::ObjectParams;
use jsonrpsee::ws_client::WsClientBuilder;
use serde_json::{json, Value};

const HOT_SOURCE: &str = "s3://lake/raw/reference/countries";
const PACE: Duration = Duration::from_millis(20);
const DEADLINE: Duration = Duration::from_secs(120);
const QUIET: u8 = 1;
const BUSY: u8 = 2;

/// The daemon under load, as its users feel it (see the module docs).
#[derive(clap::Parser)]
struct Args {
    /// The release `dbl` binary.
    #[arg(long)]
    dbl: PathBuf,
    /// A binary log written by `dbl simulate`, copied and grown by its continuation.
    #[arg(long)]
    log: PathBuf,
    /// The seed the log was simulated with.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long = "quiet-seconds", default_value = "10", value_parser = seconds)]
    quiet: Duration,
    #[arg(long = "busy-seconds", default_value = "30", value_parser = seconds)]
    busy: Duration,
    /// WebSocket clients in the busy phase.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// The busy phase's pace of appends.
    #[arg(long = "append-ms", default_value = "20", value_parser = millis)]
    append: Duration,
    /// The editor's pace of `databuild/status` polls.
    #[arg(long = "status-ms", default_value = "2000", value_parser = millis)]
    status: Duration,
}

fn seconds(text: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(text.parse().map_err(|e| format!("{e}"))?).map_err(|e| e.to_string())
}

fn millis(text: &str) -> Result<Duration, String> {
    Ok(Duration::from_millis(text.parse().map_err(|e| format!("{e}"))?))
}

fn args() -> Args {
    let args = <Args as clap::Parser>::parse();
    assert!(args.dbl.is_file(), "--dbl {}: not a file (give the release binary)", args.dbl.display());
    assert!(args.log.is_file(), "--log {}: not a file (give a binary simulated log)", args.log.display());
    args
}

/// Samples of one measure, per phase.
#[derive(Default)]
struct Samples(Mutex<HashMap<(&'static str, u8), Vec<Duration>>>);

impl Samples {
    fn add(&self, what: &'static str, phase: u8, d: Duration) {
        if phase != 0 {
            self.0.lock().unwrap().entry((what, phase)).or_default().push(d);
        }
    }

    fn summary(&self, what: &'static str, phase: u8) -> Value {
        let mut map = self.0.lock().unwrap();
        let Some(v) = map.get_mut(&(what, phase)).filter(|v| !v.is_empty()) else { return Value::Null };
        v.sort();
        let at = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize].as_secs_f64();
        json!({"n": v.len(), "p50_s": at(0.5), "p99_s": at(0.99), "max_s": at(1.0)})
    }
}

/// What every thread shares.
struct Shared {
    phase: AtomicU8,
    stop: AtomicBool,
    samples: Samples,
    /// When each appended event was written, and in which phase.
    sent: Mutex<HashMap<u64, (Instant, u8)>>,
    failures: Mutex<Vec<String>>,
    lagged: AtomicU64,
}

impl Shared {
    fn fail(&self, what: String) {
        let mut failures = self.failures.lock().unwrap();
        if failures.len() < 20 {
            failures.push(what);
        }
    }
}

/// An LSP client over the daemon's stdio that lets several threads have requests in flight.
struct Lsp {
    stdin: Mutex<ChildStdin>,
    pending: Arc<Mutex<HashMap<u64, mpsc::Sender<Value>>>>,
    next_id: AtomicU64,
}

fn frame(message: &Value) -> Vec<u8> {
    let body = message.to_string();
    let mut out = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

impl Lsp {
    fn start(child: &mut Child) -> Arc<Lsp> {
        let lsp = Arc::new(Lsp {
            stdin: Mutex::new(child.stdin.take().unwrap()),
            pending: Arc::default(),
            next_id: AtomicU64::new(1),
        });
        let stdout = child.stdout.take().unwrap();
        let reader = lsp.clone();
        std::thread::spawn(move || reader.read(stdout));
        lsp
    }

    fn send(&self, message: &Value) {
        let _ = self.stdin.lock().unwrap().write_all(&frame(message));
    }

    fn notify(&self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    fn request(&self, method: &str, params: Value) -> Result<Value, String> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel();
        self.pending.lock().unwrap().insert(id, tx);
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let answer = rx.recv_timeout(DEADLINE).map_err(|_| format!("{method}: no answer in {DEADLINE:?}"))?;
        match answer.get("error") {
            Some(error) => Err(format!("{method}: {error}")),
            None => Ok(answer["result"].clone()),
        }
    }

    /// Frames from the server: answers go to their requests; server → client requests get `null`.
    fn read(&self, stdout: impl Read) {
        let mut stdout = BufReader::new(stdout);
        loop {
            let mut length = None;
            loop {
                let mut line = String::new();
                if stdout.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                if let Some(n) = line.strip_prefix("Content-Length:") {
                    length = n.trim().parse::<usize>().ok();
                }
            }
            let mut body = vec![0; length.expect("a Content-Length header")];
            if stdout.read_exact(&mut body).is_err() {
                return;
            }
            let message: Value = serde_json::from_slice(&body).expect("JSON frames");
            match (message.get("id").and_then(Value::as_u64), message.get("method")) {
                (Some(id), None) => {
                    if let Some(tx) = self.pending.lock().unwrap().remove(&id) {
                        let _ = tx.send(message);
                    }
                }
                (_, Some(_)) if message.get("id").is_some() => {
                    self.send(&json!({"jsonrpc": "2.0", "id": message["id"], "result": null}));
                }
                _ => {}
            }
        }
    }
}

/// The log's event count, and the first output of its last successful report run.
fn scan(log: &Path) -> (u64, String) {
    let mut reports: HashMap<String, String> = HashMap::new();
    let mut built = None;
    let mut events = 0;
    load_file(log, &mut |r| {
        events = r.event.event_id;
        match &r.event.event {
            Some(Event::JobRunBufferV1(e)) if e.job_label.starts_with("//jobs/reports") => {
                if let Some(p) = e.building_partitions.first() {
                    reports.insert(e.job_run_id.clone(), p.r#ref.clone());
                }
            }
            Some(Event::JobRunSuccessV1(e)) => {
                if let Some(r) = reports.remove(&e.job_run_id) {
                    built = Some(r);
                }
            }
            _ => {}
        }
    })
    .expect("readable log");
    (events, built.expect("a report run succeeded in the log"))
}

/// The `count` events the simulator writes after the log's `events`.
fn continuation(seed: u64, events: u64, count: u64) -> Vec<DataBuildEvent> {
    let mut tail = Vec::with_capacity(count as usize);
    generate(SimConfig { events: events + count, seed }, &mut |e| {
        if e.event_id > events {
            tail.push(e.clone());
        }
        Ok(())
    })
    .unwrap();
    tail
}

fn writer(shared: &Shared, log: &Path, tail: Vec<DataBuildEvent>, every: [Duration; 3]) -> u64 {
    let mut file = std::fs::OpenOptions::new().append(true).open(log).unwrap();
    let mut next = Instant::now();
    let mut written = 0;
    let mut buf = Vec::new();
    for event in tail {
        let phase = loop {
            let phase = shared.phase.load(Ordering::Relaxed);
            if shared.stop.load(Ordering::Relaxed) {
                return written;
            }
            if phase != 0 {
                break phase;
            }
            std::thread::sleep(Duration::from_millis(5));
            // Idle: the schedule starts again when timing does, without a burst to catch up.
            next = Instant::now();
        };
        next += every[phase as usize];
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        buf.clear();
        encode_record(&event, LogFormat::Binary, &mut buf);
        let now = Instant::now();
        shared.sent.lock().unwrap().insert(event.event_id, (now, phase));
        file.write_all(&buf).unwrap();
        written += 1;
    }
    shared.fail("the writer ran out of continuation events".into());
    written
}

/// One WebSocket client: subscribed to every change; asks lineage in a loop while `active`.
async fn ws_client(url: String, shared: Arc<Shared>, refs: [String; 2], first: usize, active: u8) {
    let client = match WsClientBuilder::default()
        .request_timeout(DEADLINE)
        .max_buffer_capacity_per_subscription(1 << 16)
        .build(&url)
        .await
    {
        Ok(c) => c,
        Err(e) => return shared.fail(format!("WebSocket connect: {e}")),
    };
    let mut sub =
        match client.subscribe::<Value, _>("databuild/subscribe", ObjectParams::new(), "databuild/unsubscribe").await {
            Ok(s) => s,
            Err(e) => return shared.fail(format!("subscribe: {e}")),
        };
    let notices = {
        let shared = shared.clone();
        tokio::spawn(async move {
            while let Some(Ok(notice)) = sub.next().await {
                let arrived = Instant::now();
                match notice["kind"].as_str() {
                    Some("changed") => {
                        let id = notice["eventId"].as_u64().unwrap_or(0);
                        let sent = shared.sent.lock().unwrap().get(&id).copied();
                        if let Some((at, phase)) = sent {
                            shared.samples.add("append_visible", phase, arrived - at);
                        }
                    }
                    Some("lagged") => {
                        shared.lagged.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {}
                }
            }
        })
    };
    let mut i = first;
    while !shared.stop.load(Ordering::Relaxed) {
        let phase = shared.phase.load(Ordering::Relaxed);
        if phase < active {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        }
        let mut params = ObjectParams::new();
        params.insert("ref", &refs[i % 2]).unwrap();
        let started = Instant::now();
        match client.request::<Value, _>("databuild/lineage", params).await {
            Ok(_) => shared.samples.add(["lineage_hot", "lineage_built"][i % 2], phase, started.elapsed()),
            Err(e) => shared.fail(format!("lineage of {}: {e}", refs[i % 2])),
        }
        i += 1;
        tokio::time::sleep(PACE).await;
    }
    notices.abort();
}

fn main() {
    let args = args();
    let (events, built) = scan(&args.log);
    let appends = (args.quiet.as_secs_f64() / 0.1 + args.busy.as_secs_f64() / args.append.as_secs_f64()) * 1.2 + 100.0;
    eprintln!("bench_live: {events} events; generating {appends:.0} more");
    let tail = continuation(args.seed, events, appends as u64);
    assert_eq!(tail.first().map(|e| e.event_id), Some(events + 1), "the log is `dbl simulate --seed {}`", args.seed);

    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("live.bel");
    std::fs::copy(&args.log, &log).unwrap();
    let stderr_path = dir.path().join("dbl-serve.stderr");
    let mut child = Command::new(&args.dbl)
        .args(["serve", "--stdio", "--listen", "127.0.0.1:0", "--log"])
        .arg(&log)
        .env("DBL_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .expect("dbl serve starts");
    let started = Instant::now();
    let lsp = Lsp::start(&mut child);
    lsp.request("initialize", json!({"capabilities": {}})).unwrap();
    lsp.notify("initialized", json!({}));
    let url = loop {
        let text = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        if let Some(at) = text.find("listening on ws://") {
            let rest = &text[at + "listening on ".len()..];
            break rest.split_whitespace().next().unwrap().to_owned();
        }
        assert!(started.elapsed() < DEADLINE, "no WebSocket address on stderr:\n{text}");
        std::thread::sleep(Duration::from_millis(20));
    };
    loop {
        let status = lsp.request("databuild/status", json!({})).unwrap();
        if status["eventsApplied"].as_u64() == Some(events) && status["loading"] == false {
            break;
        }
        assert!(started.elapsed() < DEADLINE * 5, "the daemon never loaded the log: {status}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let load_s = started.elapsed().as_secs_f64();
    eprintln!("bench_live: daemon loaded {events} events in {load_s:.2} s; {url}");

    let text = format!("-- reads\nSELECT * FROM '{HOT_SOURCE}';\nINSERT INTO '{built}';\n");
    let uri = format!("file://{}/query.sql", dir.path().display());
    lsp.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "sql", "version": 1, "text": text}}),
    );

    let shared = Arc::new(Shared {
        phase: AtomicU8::new(0),
        stop: AtomicBool::new(false),
        samples: Samples::default(),
        sent: Mutex::default(),
        failures: Mutex::default(),
        lagged: AtomicU64::new(0),
    });
    let refs = [HOT_SOURCE.to_owned(), built.clone()];

    // WebSocket clients: the first is active in both phases, the others in the busy one.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let clients: Vec<_> = (0..args.clients.max(1))
        .map(|i| {
            runtime.spawn(ws_client(url.clone(), shared.clone(), refs.clone(), i, if i == 0 { QUIET } else { BUSY }))
        })
        .collect();

    let every = [Duration::ZERO, Duration::from_millis(100), args.append];
    std::thread::scope(|scope| {
        let writer = scope.spawn(|| writer(&shared, &log, tail, every));
        // The editor: hovers, alternating the two refs.
        scope.spawn(|| {
            let mut i = 0usize;
            while !shared.stop.load(Ordering::Relaxed) {
                let phase = shared.phase.load(Ordering::Relaxed);
                let (line, r) = if i.is_multiple_of(2) { (1, HOT_SOURCE) } else { (2, built.as_str()) };
                let t = Instant::now();
                match lsp.request(
                    "textDocument/hover",
                    json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": 16}}),
                ) {
                    Ok(hover) if hover["contents"]["value"].as_str().is_some_and(|v| v.contains(r)) => {
                        shared.samples.add(["hover_hot", "hover_built"][i % 2], phase, t.elapsed())
                    }
                    Ok(hover) => shared.fail(format!("hover on {r} does not name it: {hover}")),
                    Err(e) => shared.fail(e),
                }
                i += 1;
                std::thread::sleep(PACE);
            }
        });
        // The editor's status bar: `databuild/status` every `--status-ms`, in the busy phase.
        scope.spawn(|| {
            while !shared.stop.load(Ordering::Relaxed) {
                let phase = shared.phase.load(Ordering::Relaxed);
                if phase == BUSY {
                    let t = Instant::now();
                    match lsp.request("databuild/status", json!({})) {
                        Ok(_) => shared.samples.add("status", phase, t.elapsed()),
                        Err(e) => shared.fail(e),
                    }
                    std::thread::sleep(args.status.saturating_sub(t.elapsed()));
                } else {
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        });

        // Let the WebSocket clients connect and subscribe before timing anything.
        std::thread::sleep(Duration::from_millis(500));
        eprintln!("bench_live: quiet phase, {:?}", args.quiet);
        shared.phase.store(QUIET, Ordering::Relaxed);
        std::thread::sleep(args.quiet);
        eprintln!("bench_live: busy phase, {:?}", args.busy);
        shared.phase.store(BUSY, Ordering::Relaxed);
        std::thread::sleep(args.busy);
        // Stop timing; give the last notices a moment to arrive.
        shared.phase.store(0, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(500));
        shared.stop.store(true, Ordering::Relaxed);
        let written = writer.join().unwrap();
        eprintln!("bench_live: {written} events appended");
    });
    for client in clients {
        let _ = runtime.block_on(client);
    }
    let final_status = lsp.request("databuild/status", json!({})).unwrap_or(Value::Null);
    let _ = lsp.request("shutdown", Value::Null);
    lsp.notify("exit", Value::Null);
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();

    let phases = [("quiet", QUIET), ("busy", BUSY)];
    let measures = ["hover_hot", "hover_built", "lineage_hot", "lineage_built", "append_visible", "status"];
    let mut out = serde_json::Map::new();
    for (name, phase) in phases {
        let m: serde_json::Map<String, Value> =
            measures.iter().map(|&what| (what.to_owned(), shared.samples.summary(what, phase))).collect();
        out.insert(name.to_owned(), Value::Object(m));
    }
    let report = json!({
        "events": events,
        "daemon_load_s": load_s,
        "clients": args.clients,
        "append_ms": args.append.as_millis() as u64,
        "status_ms": args.status.as_millis() as u64,
        "quiet_s": args.quiet.as_secs_f64(),
        "busy_s": args.busy.as_secs_f64(),
        "hot_ref": HOT_SOURCE,
        "built_ref": built,
        "events_applied_at_end": final_status["eventsApplied"],
        "lagged_notices": shared.lagged.load(Ordering::Relaxed),
        "failures": *shared.failures.lock().unwrap(),
        "phases": out,
    });
    println!("{report}");
}
