//! A soak run, not part of the test suite: `bash scripts/soak.sh [SECONDS]` (default 300).
//!
//! A writer appends a simulated log to a file in pieces of random size — often splitting a record —
//! at random pauses, and now and then truncates the file and starts over, or replaces it by rename,
//! in both formats. A `dbl serve` follows it throughout, with a subscriber over stdio. After each
//! round the daemon must agree with a cold load of the same bytes (digest), and its stdout must have
//! carried frames only. Stops by itself after `DBL_SOAK_SECONDS`.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::*;
use dbl::log::{encode_record, LogFormat};
use serde_json::json;

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

#[test]
#[ignore = "a soak run: scripts/soak.sh"]
fn soak() {
    let seconds: u64 = std::env::var("DBL_SOAK_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(300);
    let seed: u64 = std::env::var("DBL_SOAK_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("soak.log");
    let mut client = LspClient::spawn(dir.path(), &["--log", log.to_str().unwrap(), "--poll-ms", "50"]);
    client.initialize(json!({"capabilities": {}}));
    client.result("databuild/subscribe", json!({}));

    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut rounds = 0;
    let mut total_events = 0u64;
    let mut notices = 0u64;
    while Instant::now() < deadline {
        rounds += 1;
        let format = if rng.below(2) == 0 { LogFormat::Binary } else { LogFormat::JsonLines };
        let events =
            dbl::sim::generate_vec(dbl::sim::SimConfig { events: 1_000 + rng.below(50_000), seed: rng.next() });
        let mut bytes = Vec::new();
        for e in &events {
            encode_record(e, format, &mut bytes);
        }
        // Start the round: replace by rename, or truncate in place.
        if rng.below(2) == 0 {
            let fresh = dir.path().join("fresh.log");
            std::fs::write(&fresh, b"").unwrap();
            std::fs::rename(&fresh, &log).unwrap();
        } else {
            std::fs::OpenOptions::new().create(true).write(true).truncate(true).open(&log).unwrap();
        }
        let mut file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        let mut at = 0;
        while at < bytes.len() {
            let piece = (1 + rng.below(64 * 1024) as usize).min(bytes.len() - at);
            file.write_all(&bytes[at..at + piece]).unwrap();
            at += piece;
            if rng.below(8) == 0 {
                std::thread::sleep(Duration::from_millis(rng.below(30)));
            }
        }
        drop(file);
        let n = events.len() as u64;
        let status =
            client.status_until(|s| s["eventsApplied"] == n && s["loading"] == false && s["pendingBytes"] == 0);
        assert_eq!(status["lastError"], serde_json::Value::Null, "round {rounds}: {status}");
        assert_eq!(status["digest"], cold_digest(&log), "round {rounds}: the daemon disagrees with a cold load");
        // Notifications pile up unread over stdio: drop them so the client does not grow without bound.
        notices += client.drain(|m| m["method"] == "databuild/lineageChanged").len() as u64;
        total_events += n;
    }
    println!(
        "soak: {rounds} rounds, {total_events} events, {notices} lineageChanged notices in {seconds} s, seed {seed}: \
         the daemon always agreed"
    );
    assert!(notices > 0, "the subscriber heard nothing");
    assert_eq!(client.shutdown(), 0);
}
