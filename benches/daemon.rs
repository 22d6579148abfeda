//! Daemon latency, against the release `dbl` binary (`cargo bench --bench daemon`):
//! - append → visible: one event appended to the log, until `databuild/status` over stdio shows it
//!   applied; with filesystem notifications, and with the poll timer alone (`--no-notify`, 250 ms);
//! - a stdio `databuild/jobRun` request → response round trip.
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
}
