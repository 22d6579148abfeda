//! Daemon latency, against the release `dbl` binary (`cargo bench --bench daemon`):
//! - append → visible: one event appended to the log, until `databuild/status` over stdio shows it
//!   applied; with filesystem notifications, and with the poll timer alone (`--no-notify`, 250 ms);
//! - a stdio `databuild/jobRun` request → response round trip;
//! - on a 1M-event simulated log (`DBL_BENCH_EVENTS`): the same round trip, an LSP hover round trip on a
//!   ref in an open document (issue 6: ≤ 5 ms p50), and append → visible once that log is loaded.
//!
//! A plain harness (no criterion): each figure is a distribution over many trials, printed as p50/p99.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::*;
use dbl::events::{self, EventSeq};
use serde_json::json;

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() - 1) as f64 * p).round() as usize]
}

fn report(name: &str, samples: &mut [Duration]) {
    let (p50, p99) = (percentile(samples, 0.50), percentile(samples, 0.99));
    println!(
        "{name:<44} n={:<5} p50 {:>9.3} ms   p99 {:>9.3} ms",
        samples.len(),
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
}

fn append_to_visible(dir: &std::path::Path, extra: &[&str], trials: usize) -> Vec<Duration> {
    let log = dir.join(format!("bench-{}.bel", extra.len()));
    write_log(&log, &events::demo_events());
    let mut args = vec!["--log", log.to_str().unwrap(), "--poll-ms", "250"];
    args.extend_from_slice(extra);
    let mut client = LspClient::spawn(dir, &args);
    client.initialize(json!({"capabilities": {}}));
    client.status_until(|s| s["eventsApplied"] == 15);
    let mut seq = EventSeq::after(15, 1_760_000_000_000);
    let mut samples = Vec::with_capacity(trials);
    for i in 0..trials {
        let event = seq.next(1, events::want_create(&format!("W-bench-{i}"), &["data/bench"], events::manual("bench")));
        let want = 16 + i as u64;
        // Let the daemon go idle before each append, at a spread of phases of its poll timer.
        std::thread::sleep(Duration::from_millis(7 + (i as u64 * 37) % 250));
        let started = Instant::now();
        append_log(&log, &[event]);
        loop {
            let status = client.result("databuild/status", json!({}));
            if status["eventsApplied"].as_u64() == Some(want) {
                break;
            }
        }
        samples.push(started.elapsed());
    }
    assert_eq!(client.shutdown(), 0);
    samples
}

fn job_run_round_trip(dir: &std::path::Path, trials: usize) -> Vec<Duration> {
    let log = dir.join("rt.bel");
    write_log(&log, &events::demo_events());
    let mut client = LspClient::spawn(dir, &["--log", log.to_str().unwrap()]);
    client.initialize(json!({"capabilities": {}}));
    client.status_until(|s| s["eventsApplied"] == 15);
    let mut samples = Vec::with_capacity(trials);
    for _ in 0..trials {
        let started = Instant::now();
        let result = client.result("databuild/jobRun", json!({"jobRunId": "JR-456"}));
        samples.push(started.elapsed());
        assert_eq!(result["data"]["jobRunId"], "JR-456");
    }
    assert_eq!(client.shutdown(), 0);
    samples
}

/// Round trips against a daemon serving a large simulated log.
fn large_log(dir: &std::path::Path, events: u64, trials: usize) {
    let log = dir.join("large.bel");
    let file = std::fs::File::create(&log).unwrap();
    dbl::sim::write_log(dbl::sim::SimConfig { events, seed: 1 }, dbl::log::LogFormat::Binary, file, &mut |_| {})
        .unwrap();
    let mut client = LspClient::spawn(dir, &["--log", log.to_str().unwrap()]);
    client.initialize(json!({"capabilities": {}}));
    let started = Instant::now();
    client.status_until(|s| s["eventsApplied"] == events && s["loading"] == false);
    println!("{:<44} {events} events in {:.3} s", "daemon load of the large log", started.elapsed().as_secs_f64());

    let (state, _) = dbl::cli::load_state(&log).unwrap();
    let run =
        state.job_run_ixs().rev().find(|&r| state.job_run(r).status == dbl::state::JobRunStatus::Succeeded).unwrap();
    let job_run_id = state.job_run_id(run).to_owned();
    let hot = state.partition_ixs().max_by_key(|&p| state.partition(p).consumers.len()).unwrap();
    let built = state.job_run(run).outputs[0];
    let refs =
        [state.ref_name(state.partition(hot).partition_ref), state.ref_name(state.partition(built).partition_ref)];
    let text = format!("-- reads\nSELECT * FROM '{}';\nINSERT INTO '{}';\n", refs[0], refs[1]);
    let uri = format!("file://{}/query.sql", dir.display());
    client.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "sql", "version": 1, "text": text}}),
    );

    let mut samples = Vec::with_capacity(trials);
    for _ in 0..trials {
        let started = Instant::now();
        let result = client.result("databuild/jobRun", json!({"jobRunId": job_run_id}));
        samples.push(started.elapsed());
        assert_eq!(result["data"]["jobRunId"], job_run_id.as_str());
    }
    report("stdio databuild/jobRun round trip, large log", &mut samples);
    for (line, name, r) in [(1, "hot source", refs[0]), (2, "built partition", refs[1])] {
        let mut samples = Vec::with_capacity(trials);
        for _ in 0..trials {
            let started = Instant::now();
            let hover = client.result(
                "textDocument/hover",
                json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": 16}}),
            );
            samples.push(started.elapsed());
            assert!(hover["contents"]["value"].as_str().is_some_and(|v| v.contains(r)), "hover names {r}: {hover}");
        }
        report(&format!("stdio hover round trip, large log, {name}"), &mut samples);
    }

    let mut seq = EventSeq::after(events, 1_900_000_000_000);
    let mut samples = Vec::with_capacity(trials.min(100));
    for i in 0..trials.min(100) {
        let event = seq.next(1, events::want_create(&format!("W-large-{i}"), &["data/bench"], events::manual("bench")));
        std::thread::sleep(Duration::from_millis(7 + (i as u64 * 37) % 250));
        let started = Instant::now();
        append_log(&log, &[event]);
        // Polls a cheap query: `databuild/status` would time its own digest of the whole state.
        let want = json!({"wantId": format!("W-large-{i}")});
        while client.request("databuild/want", want.clone()).get("result").is_none() {}
        samples.push(started.elapsed());
    }
    report("append → visible in databuild/want, large log", &mut samples);
    assert_eq!(client.shutdown(), 0);
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs it once, quickly.
    let quick = !std::env::args().any(|a| a == "--bench");
    let dir = tempfile::tempdir().unwrap();
    let (trials, rt_trials) = if quick { (5, 50) } else { (200, 5000) };
    report("append → visible in status (notify + 250 ms poll)", &mut append_to_visible(dir.path(), &[], trials));
    report(
        "append → visible in status (poll only, 250 ms)",
        &mut append_to_visible(dir.path(), &["--no-notify"], trials.min(60)),
    );
    report("stdio databuild/jobRun round trip", &mut job_run_round_trip(dir.path(), rt_trials));
    let events = std::env::var("DBL_BENCH_EVENTS").ok().and_then(|n| n.parse().ok()).unwrap_or(1_000_000);
    large_log(dir.path(), if quick { 20_000 } else { events }, if quick { 20 } else { 1000 });
}
