//! Sources, in one run (`cargo bench --bench sources`): the same simulated log as a binary file, a
//! SQLite database and a PostgreSQL table (a private server on loopback, when installed):
//! - cold load (`cli::load_source`, what `dbl status` does), best of 3, and the ratio to the file;
//! - append → visible against the release daemon: one row inserted by another connection, until
//!   `databuild/status` over stdio shows it; SQLite woken by notify (250 ms poll floor), PostgreSQL
//!   polled every 50 ms (and with `LISTEN`/`NOTIFY`).
//!
//! A plain harness (no criterion); `cargo test --benches` runs it once on a small log.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::pg::PgServer;
use common::*;
use dbl::events::{self, EventSeq};
use prost::Message;
use serde_json::json;

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() - 1) as f64 * p).round() as usize]
}

fn report_latency(name: &str, samples: &mut [Duration]) {
    let (p50, p99) = (percentile(samples, 0.50), percentile(samples, 0.99));
    println!(
        "{name:<52} n={:<4} p50 {:>8.3} ms   p99 {:>8.3} ms",
        samples.len(),
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
}

/// Best of three cold loads: seconds and events.
fn load(log: &str) -> (f64, u64) {
    let mut best = f64::MAX;
    let mut events = 0;
    for _ in 0..3 {
        let started = Instant::now();
        let (state, _) = dbl::cli::load_source(log).unwrap();
        best = best.min(started.elapsed().as_secs_f64());
        events = state.events_applied();
        std::mem::forget(state);
    }
    (best, events)
}

fn append_to_visible(
    dir: &std::path::Path,
    log: &str,
    args: &[&str],
    trials: usize,
    insert: &mut dyn FnMut(&dbl::proto::DataBuildEvent),
) -> Trials {
    let mut all = vec!["--log", log];
    all.extend_from_slice(args);
    let mut client = LspClient::spawn(dir, &all);
    client.initialize(json!({"capabilities": {}}));
    let loaded = client.status_until(|s| s["loading"] == false && s["eventsApplied"].as_u64() > Some(0));
    let first = loaded["lastEventId"].as_u64().unwrap();
    let mut seq = EventSeq::after(first, 1_900_000_000_000);
    let mut measured = Trials::default();
    for i in 0..trials {
        let event = seq.next(1, events::want_create(&format!("W-src-{i}"), &["data/bench"], events::manual("bench")));
        std::thread::sleep(Duration::from_millis(7 + (i as u64 * 37) % 250));
        let started = Instant::now();
        insert(&event);
        let committed = Instant::now();
        let want = json!({"wantId": format!("W-src-{i}")});
        while client.request("databuild/want", want.clone()).get("result").is_none() {}
        measured.from_insert.push(started.elapsed());
        measured.from_commit.push(committed.elapsed());
    }
    assert_eq!(client.shutdown(), 0);
    measured
}

/// Append → visible, from before the writer's insert (what the writer's user waits, its own commit
/// included: a SQLite commit in WAL mode syncs the log) and from the moment its commit returned (what
/// the follower adds).
#[derive(Default)]
struct Trials {
    from_insert: Vec<Duration>,
    from_commit: Vec<Duration>,
}

impl Trials {
    fn report(mut self, name: &str) {
        report_latency(name, &mut self.from_insert);
        report_latency(&format!("{name}, from the commit"), &mut self.from_commit);
    }
}

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let events: u64 = std::env::var("DBL_BENCH_EVENTS").ok().and_then(|n| n.parse().ok()).unwrap_or(1_000_000);
    let (events, trials) = if quick { (20_000, 5) } else { (events, 200) };
    let dir = tempfile::tempdir().unwrap();
    let bel = dir.path().join("a.bel");
    let db = dir.path().join("a.db");
    let dbl = |args: &[&str]| assert!(common::dbl().args(args).output().unwrap().status.success(), "dbl {args:?}");
    let n = events.to_string();
    dbl(&["simulate", "--out", bel.to_str().unwrap(), "--events", &n, "--seed", "1"]);
    dbl(&["simulate", "--out", db.to_str().unwrap(), "--events", &n, "--seed", "1", "--format", "sqlite"]);
    let pg = PgServer::start();
    if let Some(pg) = &pg {
        dbl(&["simulate", "--out", &pg.url(), "--events", &n, "--seed", "1"]);
    }

    println!("cold load of {events} simulated events (best of 3):");
    let (file_secs, file_events) = load(bel.to_str().unwrap());
    println!("  {:<22} {:>7.3} s  {:>10.0} events/s", "binary file", file_secs, file_events as f64 / file_secs);
    let (db_secs, db_events) = load(db.to_str().unwrap());
    assert_eq!(db_events, file_events);
    println!(
        "  {:<22} {:>7.3} s  {:>10.0} events/s  {:.2}× the file's time",
        "SQLite",
        db_secs,
        db_events as f64 / db_secs,
        db_secs / file_secs
    );
    if let Some(pg) = &pg {
        let (pg_secs, pg_events) = load(&pg.url());
        assert_eq!(pg_events, file_events);
        println!(
            "  {:<22} {:>7.3} s  {:>10.0} events/s  {:.2}× the file's time",
            "PostgreSQL (loopback)",
            pg_secs,
            pg_events as f64 / pg_secs,
            pg_secs / file_secs
        );
    }

    // Append → visible, on a small log so that each trial measures the follow path, not the load.
    let small = dir.path().join("small.db");
    dbl(&["simulate", "--out", small.to_str().unwrap(), "--events", "2000", "--seed", "2", "--format", "sqlite"]);
    let conn = rusqlite::Connection::open(&small).unwrap();
    conn.execute_batch("PRAGMA journal_mode = WAL").unwrap();
    let mut insert = |e: &dbl::proto::DataBuildEvent| {
        conn.execute("INSERT INTO bel_events VALUES (?1, ?2)", rusqlite::params![e.event_id as i64, e.encode_to_vec()])
            .unwrap();
    };
    append_to_visible(dir.path(), small.to_str().unwrap(), &["--poll-ms", "250"], trials, &mut insert)
        .report("append → visible, SQLite (notify, 250 ms poll floor)");
    if let Some(pg) = &pg {
        let url = format!("{}?table=small", pg.url());
        dbl(&["simulate", "--out", &url, "--events", "2000", "--seed", "2"]);
        let mut client = postgres::Client::connect(&pg.url(), postgres::NoTls).unwrap();
        let mut insert = |e: &dbl::proto::DataBuildEvent| {
            client.execute("INSERT INTO small VALUES ($1, $2)", &[&(e.event_id as i64), &e.encode_to_vec()]).unwrap();
        };
        append_to_visible(dir.path(), &url, &["--poll-ms", "50"], trials, &mut insert)
            .report("append → visible, PostgreSQL (50 ms poll)");
        let listening = format!("{url}&notify=bel");
        let mut notify = |e: &dbl::proto::DataBuildEvent| {
            let mut tx = client.transaction().unwrap();
            tx.execute("INSERT INTO small VALUES ($1, $2)", &[&(e.event_id as i64), &e.encode_to_vec()]).unwrap();
            tx.batch_execute("NOTIFY bel").unwrap();
            tx.commit().unwrap();
        };
        append_to_visible(dir.path(), &listening, &["--poll-ms", "250"], trials, &mut notify)
            .report("append → visible, PostgreSQL (LISTEN, 250 ms poll floor)");
    } else {
        println!("PostgreSQL is not installed: its rows are skipped");
    }
}
