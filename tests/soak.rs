//! A soak run against a log written the hard way, with clients on both transports.
//!
//! A writer appends simulated logs in pieces of random size (often splitting a record), and at the
//! start of each round truncates the file or replaces it by rename, in both formats. Meanwhile one
//! `dbl serve --stdio --listen` follows it with 8 WebSocket clients that subscribe and query in a
//! loop and an LSP client that edits a document and hovers. After each round:
//! - the daemon's digest equals a cold load of the same bytes;
//! - every WebSocket subscriber saw every change since its last `reset` (or `subscribed`) notice, in
//!   order, unless it was told it `lagged`;
//! - no request went unanswered (each has a deadline), and none failed except with "not found";
//! - the daemon's RSS stayed under a bound.
//!
//! CI runs a short variant (`DBL_SOAK_SECONDS`, default 30, rounds of up to 5,500 events);
//! `bash scripts/soak.sh SECONDS` a long one in release.

mod common;

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use dbl::log::{encode_record, LogFormat};
use dbl::proto::data_build_event::Event;
use dbl::proto::DataBuildEvent;
use dbl::state::BuildState;
use jsonrpsee::core::client::{ClientT, SubscriptionClientT};
use jsonrpsee::core::params::ObjectParams;
use jsonrpsee::ws_client::WsClientBuilder;
use serde_json::{json, Value};

const WS_CLIENTS: usize = 8;
/// A request not answered within this is a failure.
const REQUEST_DEADLINE: Duration = Duration::from_secs(20);
const RSS_BOUND_KB: u64 = 2 << 20;

/// SplitMix64: reproducible runs from `DBL_SOAK_SEED`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What the WebSocket clients counted.
#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    answered: AtomicU64,
    failures: Mutex<Vec<String>>,
}

/// What one WebSocket subscriber was sent, in order, since the last round was checked.
#[derive(Default)]
struct Received {
    notices: Vec<Value>,
    /// `reset` notices of rounds already checked (their notices are dropped).
    earlier_resets: u64,
}

type Notices = Arc<Mutex<Received>>;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// The ids of the events that change lineage, as a fresh state applying them in order sees them.
fn changing_event_ids(events: &[DataBuildEvent]) -> Vec<u64> {
    let mut state = BuildState::new();
    state.set_recording(true);
    events
        .iter()
        .filter_map(|e| {
            state.apply(e, 0);
            (!state.take_changes().is_empty()).then_some(e.event_id)
        })
        .collect()
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// One WebSocket client: a subscription read into `notices`, and queries in a loop until `stop`.
async fn ws_client(url: String, notices: Notices, counters: Arc<Counters>, stop: Arc<AtomicBool>) {
    // A large client-side buffer: jsonrpsee's client closes a subscription whose buffer fills, and this
    // test is about the server's delivery, not the harness's scheduling on a busy machine.
    let client = WsClientBuilder::default()
        .request_timeout(REQUEST_DEADLINE)
        .max_buffer_capacity_per_subscription(1 << 17)
        .build(&url)
        .await
        .unwrap();
    let mut sub = client
        .subscribe::<Value, _>("databuild/subscribe", ObjectParams::new(), "databuild/unsubscribe")
        .await
        .unwrap();
    let reader = {
        let notices = notices.clone();
        tokio::spawn(async move {
            while let Some(Ok(notice)) = sub.next().await {
                notices.lock().unwrap().notices.push(notice);
            }
            // Ended before the test stopped it: say why, so a check fails with the reason.
            let reason = format!("{:?}", sub.close_reason());
            notices.lock().unwrap().notices.push(json!({"kind": "closed", "reason": reason}));
        })
    };
    let call = |method: &'static str, params: ObjectParams| {
        let (client, counters) = (&client, &counters);
        async move {
            counters.requests.fetch_add(1, Ordering::SeqCst);
            match client.request::<Value, _>(method, params).await {
                Ok(answer) => {
                    counters.answered.fetch_add(1, Ordering::SeqCst);
                    Some(answer)
                }
                // The ref may be gone: the log was reset between two calls. That is an answer.
                Err(jsonrpsee::core::ClientError::Call(e)) if e.code() == -32004 => {
                    counters.answered.fetch_add(1, Ordering::SeqCst);
                    None
                }
                Err(e) => {
                    counters.failures.lock().unwrap().push(format!("{method}: {e}"));
                    None
                }
            }
        }
    };
    while !stop.load(Ordering::SeqCst) {
        call("databuild/status", ObjectParams::new()).await;
        let mut limit = ObjectParams::new();
        limit.insert("limit", 3).unwrap();
        let page = call("databuild/listPartitions", limit).await;
        if let Some(r) = page.as_ref().and_then(|p| p["data"]["items"][0]["ref"].as_str()) {
            for method in ["databuild/lineage", "databuild/upstream", "databuild/partition"] {
                let mut by_ref = ObjectParams::new();
                by_ref.insert("ref", r).unwrap();
                call(method, by_ref).await;
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    reader.abort();
}

/// Whether `notices` caught up with a round: as many resets as the daemon made, and (if the round
/// changed anything after the last marker) its last change.
fn caught_up(received: &Received, resets: u64, expected_last: impl Fn(Option<u64>) -> Option<u64>) -> bool {
    if received.notices.iter().any(|n| n["kind"] == "closed") {
        return true; // nothing more will come: let the check say why
    }
    let seen_resets = received.notices.iter().filter(|n| n["kind"] == "reset").count() as u64;
    if received.earlier_resets + seen_resets < resets {
        return false;
    }
    let (marker, after) = split_at_last_marker(&received.notices);
    match expected_last(marker["lastEventId"].as_u64()) {
        None => true,
        Some(last) => after.iter().any(|n| n["eventId"].as_u64() == Some(last)),
    }
}

/// The last `subscribed`/`reset` notice and everything after it.
fn split_at_last_marker(notices: &[Value]) -> (&Value, &[Value]) {
    let at = notices.iter().rposition(|n| n["kind"] == "reset" || n["kind"] == "subscribed").expect("a marker");
    (&notices[at], &notices[at + 1..])
}

/// Checks one subscriber against a round: after its last marker, exactly the changing events past the
/// marker's `lastEventId`, in order, unless it was told it lagged. Returns whether it lagged.
fn check_subscriber(i: usize, round: u64, notices: &[Value], changing: &[u64]) -> bool {
    let (marker, after) = split_at_last_marker(notices);
    assert!(
        !after.iter().any(|n| n["kind"] == "closed"),
        "subscriber {i}, round {round}: subscription closed: {after:?}"
    );
    if after.iter().any(|n| n["kind"] == "lagged") {
        return true;
    }
    let since = marker["lastEventId"].as_u64().unwrap_or(0);
    let seen: Vec<u64> =
        after.iter().filter(|n| n["kind"] == "changed").map(|n| n["eventId"].as_u64().unwrap()).collect();
    let expected: Vec<u64> = changing.iter().copied().filter(|&id| id > since).collect();
    assert_eq!(seen.len(), expected.len(), "subscriber {i}, round {round}: changes after {marker}");
    assert!(seen == expected, "subscriber {i}, round {round}: changes out of order or missing after {marker}");
    false
}

#[test]
fn soak() {
    let seconds = env_u64("DBL_SOAK_SECONDS", 30);
    let seed = env_u64("DBL_SOAK_SEED", 1);
    let max_events = env_u64("DBL_SOAK_MAX_EVENTS", 5_000);
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("soak.log");
    let args = ["--stdio", "--listen", "127.0.0.1:0", "--log", log.to_str().unwrap(), "--poll-ms", "50"];
    let mut lsp = LspClient::spawn(dir.path(), &args);
    lsp.initialize(json!({"capabilities": {}}));
    lsp.result("databuild/subscribe", json!({}));
    let url = {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let stderr = lsp.stderr();
            if let Some(at) = stderr.find("listening on ws://") {
                break stderr[at + "listening on ".len()..].lines().next().unwrap().trim().to_string();
            }
            assert!(Instant::now() < deadline, "no WebSocket address on stderr: {stderr}");
            std::thread::sleep(Duration::from_millis(10));
        }
    };

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (counters, stop) = (Arc::new(Counters::default()), Arc::new(AtomicBool::new(false)));
    let subscribers: Vec<Notices> = (0..WS_CLIENTS).map(|_| Notices::default()).collect();
    let clients: Vec<_> = subscribers
        .iter()
        .map(|notices| runtime.spawn(ws_client(url.clone(), notices.clone(), counters.clone(), stop.clone())))
        .collect();
    // Every subscriber is subscribed before the log exists.
    let deadline = Instant::now() + TIMEOUT;
    while subscribers.iter().any(|s| s.lock().unwrap().notices.is_empty()) {
        assert!(Instant::now() < deadline, "a WebSocket client never subscribed");
        std::thread::sleep(Duration::from_millis(10));
    }

    let pid = lsp.pid();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let (mut rounds, mut total_events, mut lags, mut max_rss, mut truncations, mut replacements, mut hovers) =
        (0u64, 0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
    while Instant::now() < deadline || rounds == 0 {
        rounds += 1;
        let format = if rng.below(2) == 0 { LogFormat::Binary } else { LogFormat::JsonLines };
        let events =
            dbl::sim::generate_vec(dbl::sim::SimConfig { events: 500 + rng.below(max_events), seed: rng.next() });
        let mut bytes = Vec::new();
        for e in &events {
            encode_record(e, format, &mut bytes);
        }
        if rng.below(2) == 0 {
            let fresh = dir.path().join("fresh.log");
            std::fs::write(&fresh, b"").unwrap();
            std::fs::rename(&fresh, &log).unwrap();
            replacements += 1;
        } else {
            std::fs::OpenOptions::new().create(true).write(true).truncate(true).open(&log).unwrap();
            truncations += 1;
        }
        let mut file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        let mut at = 0;
        while at < bytes.len() {
            let piece = (1 + rng.below(64 * 1024) as usize).min(bytes.len() - at);
            file.write_all(&bytes[at..at + piece]).unwrap();
            at += piece;
            if rng.below(16) == 0 {
                std::thread::sleep(Duration::from_millis(rng.below(20)));
            }
        }
        drop(file);

        // The editor: a document naming a ref of this round, edited, and a hover on it.
        let wanted = events.iter().find_map(|e| match &e.event {
            Some(Event::WantCreateV1(w)) => w.partitions.first().map(|p| p.r#ref.clone()),
            _ => None,
        });
        if let Some(r) = wanted {
            let uri = "file:///soak/pipeline.py";
            let text = format!("output = '{r}'\n");
            lsp.notify(
                "textDocument/didOpen",
                json!({"textDocument": {"uri": uri, "languageId": "python", "version": rounds, "text": "# soak\n"}}),
            );
            lsp.notify(
                "textDocument/didChange",
                json!({"textDocument": {"uri": uri, "version": rounds}, "contentChanges": [{"text": text}]}),
            );
            lsp.request(
                "textDocument/hover",
                json!({"textDocument": {"uri": uri}, "position": {"line": 0, "character": 11}}),
            );
            lsp.notify("textDocument/didClose", json!({"textDocument": {"uri": uri}}));
            hovers += 1;
        }

        let n = events.len() as u64;
        let status = lsp.status_until(|s| s["eventsApplied"] == n && s["loading"] == false && s["pendingBytes"] == 0);
        assert_eq!(status["lastError"], Value::Null, "round {rounds}: {status}");
        assert_eq!(status["digest"], cold_digest(&log), "round {rounds}: the daemon disagrees with a cold load");
        lsp.drain(|m| m["method"] == "databuild/lineageChanged");

        let changing = changing_event_ids(&events);
        let resets = status["resets"].as_u64().unwrap();
        let last_after = |since: Option<u64>| changing.iter().copied().rfind(|&id| id > since.unwrap_or(0));
        // Generous: a debug build on a busy 2-core machine delivers thousands of notices to 8 clients.
        let wait = Instant::now() + TIMEOUT * 3;
        for (i, subscriber) in subscribers.iter().enumerate() {
            while !caught_up(&subscriber.lock().unwrap(), resets, last_after) {
                if Instant::now() > wait {
                    let received = subscriber.lock().unwrap();
                    let kinds: Vec<String> = received
                        .notices
                        .iter()
                        .map(|n| {
                            format!(
                                "{}:{}",
                                n["kind"].as_str().unwrap_or("?"),
                                n["eventId"].as_u64().or(n["lastEventId"].as_u64()).unwrap_or(0)
                            )
                        })
                        .collect();
                    let tail = &kinds[kinds.len().saturating_sub(12)..];
                    panic!(
                        "subscriber {i} never caught up with round {rounds}: resets {resets} (earlier {}), \
                         last changing event {:?}, {} notices, first {:?}, last {tail:?}",
                        received.earlier_resets,
                        changing.last(),
                        kinds.len(),
                        &kinds[..kinds.len().min(5)]
                    );
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let mut received = subscriber.lock().unwrap();
            lags += u64::from(check_subscriber(i, rounds, &received.notices, &changing));
            // Keep only the last marker, so memory stays flat over a long run.
            received.earlier_resets += received.notices.iter().filter(|n| n["kind"] == "reset").count() as u64;
            let (marker, _) = split_at_last_marker(&received.notices);
            let marker = marker.clone();
            if marker["kind"] == "reset" {
                received.earlier_resets -= 1;
            }
            received.notices = vec![marker];
        }
        max_rss = max_rss.max(rss_kb(pid));
        assert!(max_rss < RSS_BOUND_KB, "round {rounds}: the daemon's RSS reached {max_rss} kB");
        total_events += n;
    }
    stop.store(true, Ordering::SeqCst);
    runtime.block_on(async {
        for client in clients {
            tokio::time::timeout(REQUEST_DEADLINE * 2, client).await.expect("a client stops").unwrap();
        }
    });
    let failures = counters.failures.lock().unwrap().clone();
    assert!(failures.is_empty(), "requests failed or went unanswered: {failures:?}");
    let (requests, answered) = (counters.requests.load(Ordering::SeqCst), counters.answered.load(Ordering::SeqCst));
    assert_eq!(requests, answered, "every request answered");
    assert!(requests > 0);
    println!(
        "soak: {rounds} rounds ({truncations} truncations, {replacements} replacements), {total_events} events, \
         {WS_CLIENTS} WebSocket clients ({requests} requests, all answered; {lags} lagged subscriber-rounds), \
         {hovers} editor edit+hover rounds, max RSS {} MB, seed {seed}, {seconds} s: 0 events lost",
        max_rss / 1024
    );
    assert_eq!(lsp.shutdown(), 0);
}
