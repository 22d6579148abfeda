//! Loading a log: decoding alone, decoding + applying (what `dbl status` and a cold daemon start do),
//! binary and JSON lines; and the same 200k-event log ingested into SQLite with the obvious schema, the
//! baseline `dbl` is meant to beat. Targets (issue 3): ≥ 1M events/s, ≤ 300 bytes of peak RSS per event
//! (peak RSS is printed by `dbl status`, see BENCHMARKS.md).
//!
//! Run: `cargo bench --bench load`. `DBL_BENCH_EVENTS` changes the large log's size (default 1M).

use std::hint::black_box;
use std::io::Write;
use std::path::Path;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use dbl::log::{load_file, Decoder, LogFormat};
use dbl::proto::{data_build_event::Event, DataBuildEvent};
use dbl::sim::{write_log, SimConfig};
use dbl::state::{built_partition_uuid, external_partition_uuid, BuildState};
use dbl::views::{self, Direction, LineageParams};
use rusqlite::{params, Connection, OptionalExtension};

fn write_simulated(path: &Path, events: u64, format: LogFormat) {
    let file = std::fs::File::create(path).expect("temp file");
    let mut file = write_log(SimConfig { events, seed: 1 }, format, file, &mut |_| {}).expect("write log");
    file.flush().unwrap();
}

fn load(path: &Path) -> BuildState {
    let mut state = BuildState::new();
    let loaded = load_file(path, &mut |r| state.apply(&r.event, r.offset)).expect("readable");
    assert!(loaded.error.is_none());
    state
}

fn bench_load(c: &mut Criterion) {
    let events: u64 = std::env::var("DBL_BENCH_EVENTS").ok().and_then(|n| n.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("load");
    group.sample_size(10).throughput(Throughput::Elements(events));
    for format in [LogFormat::Binary, LogFormat::JsonLines] {
        let path = dir.path().join(format!("sim.{}", format.name()));
        write_simulated(&path, events, format);
        let bytes = std::fs::read(&path).unwrap();
        group.bench_with_input(BenchmarkId::new("decode_only", format.name()), &bytes, |b, bytes| {
            b.iter(|| {
                let mut count = 0u64;
                Decoder::new().feed(bytes, &mut |_| count += 1).unwrap();
                black_box(count)
            })
        });
        group.bench_with_input(BenchmarkId::new("decode_and_apply", format.name()), &path, |b, path| {
            // Freeing the state is not part of loading it (`dbl status` never frees it).
            b.iter_with_large_drop(|| load(path))
        });
    }
    group.finish();
}

/// The obvious alternative: the same events in SQLite tables, with reads resolved by query at
/// success time, as DESIGN's rule says. It derives less than `dbl` does (no want statuses, retry
/// chains or derivative wants), so the ratio flatters SQLite.
struct SqliteBaseline {
    db: Connection,
}

impl SqliteBaseline {
    fn new() -> SqliteBaseline {
        let db = Connection::open_in_memory().unwrap();
        db.execute_batch(
            "CREATE TABLE job_run(id TEXT PRIMARY KEY, label TEXT NOT NULL, status TEXT NOT NULL);
             CREATE TABLE partition(uuid TEXT PRIMARY KEY, ref TEXT NOT NULL, state TEXT NOT NULL, built_by TEXT, seq INTEGER NOT NULL);
             CREATE INDEX partition_ref ON partition(ref, seq);
             CREATE INDEX partition_built_by ON partition(built_by);
             CREATE TABLE consumer(input TEXT NOT NULL, output TEXT NOT NULL, job_run TEXT NOT NULL);
             CREATE INDEX consumer_input ON consumer(input);
             CREATE TABLE want(id TEXT PRIMARY KEY, canceled INTEGER NOT NULL DEFAULT 0);",
        )
        .unwrap();
        SqliteBaseline { db }
    }

    fn ingest(&mut self, events: &[DataBuildEvent]) {
        let tx = self.db.transaction().unwrap();
        {
            let mut insert_run = tx.prepare_cached("INSERT OR IGNORE INTO job_run VALUES (?1, ?2, 'Queued')").unwrap();
            let mut insert_partition =
                tx.prepare_cached("INSERT OR IGNORE INTO partition VALUES (?1, ?2, ?3, ?4, ?5)").unwrap();
            let mut run_status = tx.prepare_cached("UPDATE job_run SET status = ?2 WHERE id = ?1").unwrap();
            let mut outputs_state = tx
                .prepare_cached("UPDATE partition SET state = ?2 WHERE built_by = ?1 AND state = 'Building'")
                .unwrap();
            let mut newest_with_data = tx
                .prepare_cached(
                    "SELECT uuid FROM partition WHERE ref = ?1 AND state IN ('Live', 'Tainted') ORDER BY seq DESC LIMIT 1",
                )
                .unwrap();
            let mut output_of =
                tx.prepare_cached("SELECT uuid FROM partition WHERE built_by = ?1 AND ref = ?2").unwrap();
            let mut outputs_of = tx.prepare_cached("SELECT uuid FROM partition WHERE built_by = ?1").unwrap();
            let mut insert_consumer = tx.prepare_cached("INSERT INTO consumer VALUES (?1, ?2, ?3)").unwrap();
            let mut insert_want = tx.prepare_cached("INSERT OR IGNORE INTO want(id) VALUES (?1)").unwrap();
            let mut taint = tx
                .prepare_cached(
                    "UPDATE partition SET state = 'Tainted' WHERE uuid = (SELECT uuid FROM partition WHERE ref = ?1 \
                     AND state IN ('Live', 'Tainted') ORDER BY seq DESC LIMIT 1)",
                )
                .unwrap();
            for event in events {
                match &event.event {
                    Some(Event::JobRunBufferV1(e)) => {
                        insert_run.execute(params![e.job_run_id, e.job_label]).unwrap();
                        for p in &e.building_partitions {
                            let uuid = built_partition_uuid(&e.job_run_id, &p.r#ref).to_string();
                            insert_partition
                                .execute(params![uuid, p.r#ref, "Building", e.job_run_id, event.event_id as i64])
                                .unwrap();
                        }
                    }
                    Some(Event::JobRunHeartbeatV1(e)) => {
                        run_status.execute(params![e.job_run_id, "Running"]).unwrap();
                    }
                    Some(Event::JobRunSuccessV1(e)) => {
                        let mut resolved = Vec::new();
                        for deps in &e.read_deps {
                            for read in &deps.read {
                                let uuid: Option<String> = newest_with_data
                                    .query_row(params![read.r#ref], |row| row.get(0))
                                    .optional()
                                    .unwrap();
                                let uuid = uuid.unwrap_or_else(|| {
                                    let external = external_partition_uuid(&read.r#ref).to_string();
                                    insert_partition
                                        .execute(params![external, read.r#ref, "External", None::<String>, 0])
                                        .unwrap();
                                    external
                                });
                                let impacted: Vec<String> = if deps.impacted.is_empty() {
                                    outputs_of
                                        .query_map(params![e.job_run_id], |row| row.get(0))
                                        .unwrap()
                                        .map(Result::unwrap)
                                        .collect()
                                } else {
                                    deps.impacted
                                        .iter()
                                        .filter_map(|i| {
                                            output_of
                                                .query_row(params![e.job_run_id, i.r#ref], |row| row.get(0))
                                                .optional()
                                                .unwrap()
                                        })
                                        .collect()
                                };
                                resolved.extend(impacted.into_iter().map(|output| (uuid.clone(), output)));
                            }
                        }
                        for (input, output) in resolved {
                            insert_consumer.execute(params![input, output, e.job_run_id]).unwrap();
                        }
                        outputs_state.execute(params![e.job_run_id, "Live"]).unwrap();
                        run_status.execute(params![e.job_run_id, "Succeeded"]).unwrap();
                    }
                    Some(Event::JobRunFailureV1(e)) => {
                        outputs_state.execute(params![e.job_run_id, "Failed"]).unwrap();
                        run_status.execute(params![e.job_run_id, "Failed"]).unwrap();
                    }
                    Some(Event::JobRunCancelV1(e)) => {
                        outputs_state.execute(params![e.job_run_id, "Canceled"]).unwrap();
                        run_status.execute(params![e.job_run_id, "Canceled"]).unwrap();
                    }
                    Some(Event::JobRunMissingDepsV1(e)) => {
                        outputs_state.execute(params![e.job_run_id, "DepMiss"]).unwrap();
                        run_status.execute(params![e.job_run_id, "DepMiss"]).unwrap();
                    }
                    Some(Event::WantCreateV1(e)) => {
                        insert_want.execute(params![e.want_id]).unwrap();
                    }
                    Some(Event::TaintCreateV1(e)) => {
                        for p in &e.partitions {
                            taint.execute(params![p.r#ref]).unwrap();
                        }
                    }
                    _ => {}
                }
            }
        }
        tx.commit().unwrap();
    }

    /// Downstream closure to `depth` partition hops: the consumer-index walk of a lineage query.
    fn downstream(&self, uuid: &str, depth: u32) -> i64 {
        self.db
            .query_row(
                "WITH RECURSIVE down(uuid, depth) AS (SELECT ?1, 0 UNION SELECT c.output, d.depth + 1 FROM consumer c \
                 JOIN down d ON c.input = d.uuid WHERE d.depth < ?2) SELECT count(*) FROM down",
                params![uuid, depth],
                |row| row.get(0),
            )
            .unwrap()
    }
}

fn bench_sqlite_baseline(c: &mut Criterion) {
    const EVENTS: u64 = 200_000;
    let events = dbl::sim::generate_vec(SimConfig { events: EVENTS, seed: 1 });
    let mut group = c.benchmark_group("baseline_200k");
    group.sample_size(10).throughput(Throughput::Elements(EVENTS));
    group.bench_function("ingest/dbl", |b| {
        b.iter_with_large_drop(|| {
            let mut state = BuildState::new();
            events.iter().for_each(|e| state.apply(e, 0));
            state
        })
    });
    group.bench_function("ingest/sqlite", |b| {
        b.iter_with_large_drop(|| {
            let mut baseline = SqliteBaseline::new();
            baseline.ingest(&events);
            baseline
        })
    });
    group.finish();

    // Lineage on both: downstream 3 hops from a mid-graph staging partition (small fan-out, so the
    // fan-out limit cuts nothing and both walk the same edges).
    let mut state = BuildState::new();
    events.iter().for_each(|e| state.apply(e, 0));
    let mut baseline = SqliteBaseline::new();
    baseline.ingest(&events);
    let focus = state
        .partition_ixs()
        .filter(|&p| (2..=20).contains(&state.partition(p).consumers.len()))
        .find(|&p| state.ref_name(state.partition(p).partition_ref).contains("/staging/"))
        .expect("a staging partition with a few consumers");
    let uuid = state.partition(focus).uuid.to_string();
    let params = LineageParams {
        uuid: Some(uuid.clone()),
        direction: Direction::Downstream,
        depth: 3,
        fanout_limit: 1000,
        ..LineageParams::default()
    };
    eprintln!("baseline lineage focus {uuid}: {} rows downstream in SQLite", baseline.downstream(&uuid, 3));
    let mut group = c.benchmark_group("baseline_200k_lineage_down3");
    group.bench_function("dbl", |b| b.iter(|| black_box(views::lineage(&state, &params).unwrap())));
    group.bench_function("sqlite", |b| b.iter(|| black_box(baseline.downstream(&uuid, 3))));
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(std::time::Duration::from_secs(5));
    targets = bench_load, bench_sqlite_baseline
}
criterion_main!(benches);
