//! The in-process half of `scripts/bench.sh`: dbl against its limit and its peers on one simulated log,
//! every figure measured in this run. Prints one JSON object on stdout (progress on stderr).
//!
//! ```text
//! cargo run --release --example bench_peers -- --bel sim.bel --jsonl sim.jsonl [--requests 2000] [--sqlite-db PATH] [--skip-sqlite]
//! ```
//!
//! - decode only: `load_file` of each file with a sink that only counts (both threads decode, as when `dbl`
//!   loads), under `dbl`'s allocator;
//! - dbl as a live server: applying one event to a loaded state and answering a lineage request (the log's
//!   last `--requests` events), p50 and p99. (A full replay per request, databuild's own server, is timed by
//!   `scripts/bench.sh` with the real binary: `dbl lineage --no-daemon`.)
//! - lineage: `views::lineage` downstream of one focus at depths 1, 3 and 10, and how many instances each finds;
//! - the Marquez way: the binary log ingested into SQLite (on disk, indexed tables, one transaction, reads
//!   resolved by query at success time as DESIGN says), and the same lineage as a recursive CTE. DuckDB's side
//!   is `scripts/bench_duckdb.py`, given the focus printed here.
//!
//! The focus is the External instance of a `raw/customers` partition read after the log's midpoint, found
//! from the events alone (of the first 16 such, the one with the most instances downstream at depth 10 and
//! no neighbour list cut), so this file needs no accessor of `BuildState`'s internals.

use std::collections::{HashMap, VecDeque};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dbl::log::load_file;
use dbl::proto::{data_build_event::Event, DataBuildEvent};
use dbl::state::{built_partition_uuid, external_partition_uuid, BuildState};
use dbl::views::{self, Direction, LineageNode, LineageParams};
use rusqlite::{params, Connection, OptionalExtension, Statement};
use serde_json::{json, Value};

/// The allocator `dbl` itself runs with (src/main.rs), so that decoding alone is measured as `dbl` would do it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const DEPTHS: [u32; 3] = [1, 3, 10];

/// dbl against its limit and its peers on one simulated log (see the module docs).
#[derive(clap::Parser)]
struct Args {
    /// The log, binary.
    #[arg(long)]
    bel: PathBuf,
    /// The same log as JSON lines.
    #[arg(long)]
    jsonl: PathBuf,
    /// Events at the log's end applied one at a time, each followed by a lineage request.
    #[arg(long, default_value_t = 2000)]
    requests: usize,
    /// Where SQLite's database goes (default: in the temp directory).
    #[arg(long = "sqlite-db")]
    sqlite_db: Option<PathBuf>,
    #[arg(long = "skip-sqlite")]
    skip_sqlite: bool,
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() - 1) as f64 * p).round() as usize]
}

/// The median of repeated calls: at least 5, then until `budget` is spent or 1,000 were made.
fn median_of<T>(budget: Duration, mut f: impl FnMut() -> T) -> Duration {
    let started = Instant::now();
    let mut samples = Vec::new();
    while samples.len() < 5 || (started.elapsed() < budget && samples.len() < 1000) {
        let t = Instant::now();
        black_box(f());
        samples.push(t.elapsed());
    }
    percentile(&mut samples, 0.5)
}

/// Decoding alone, best of three: (seconds, records).
fn decode_only(path: &Path) -> (f64, u64) {
    let mut best = f64::MAX;
    let mut records = 0;
    for _ in 0..3 {
        let started = Instant::now();
        let mut count = 0u64;
        let loaded = load_file(path, &mut |r| {
            black_box(r);
            count += 1
        })
        .expect("readable log");
        assert!(loaded.error.is_none(), "{}: {:?}", path.display(), loaded.error);
        best = best.min(secs(started.elapsed()));
        records = count;
    }
    (best, records)
}

/// Candidate foci: the External instances of `raw/customers` partitions read by `//jobs/staging:customers`
/// runs that succeeded after the log's midpoint. Their lineage runs five partition hops deep (staging,
/// dims, marts, reports), so depths 1, 3 and 10 differ. `("", ref)`: the job run id is empty for External.
fn candidate_foci(path: &Path, events: u64) -> Vec<(String, String)> {
    let mut pending: HashMap<String, ()> = HashMap::new();
    let mut found: Vec<(String, String)> = Vec::new();
    load_file(path, &mut |r| {
        if found.len() >= 16 || r.event.event_id <= events / 2 {
            return;
        }
        match &r.event.event {
            Some(Event::JobRunBufferV1(e)) if e.job_label == "//jobs/staging:customers" => {
                pending.insert(e.job_run_id.clone(), ());
            }
            Some(Event::JobRunSuccessV1(e)) if pending.remove(&e.job_run_id).is_some() => {
                for read in e.read_deps.iter().flat_map(|d| &d.read) {
                    if read.r#ref.starts_with("s3://lake/raw/customers/")
                        && !found.iter().any(|(_, r)| *r == read.r#ref)
                    {
                        found.push((String::new(), read.r#ref.clone()));
                    }
                }
            }
            _ => {}
        }
    })
    .expect("readable log");
    assert!(!found.is_empty(), "no staging:customers run succeeded after the midpoint: log too small");
    found
}

/// The UUID of a candidate focus.
fn focus_uuid(run: &str, r: &str) -> String {
    if run.is_empty() { external_partition_uuid(r) } else { built_partition_uuid(run, r) }.to_string()
}

fn downstream(uuid: &str, depth: u32) -> LineageParams {
    LineageParams {
        uuid: Some(uuid.to_owned()),
        direction: Direction::Downstream,
        depth,
        fanout_limit: views::MAX_FANOUT_LIMIT,
        ..LineageParams::default()
    }
}

/// dbl's downstream lineage: (instances downstream of the focus, whether a neighbour list was cut).
fn dbl_downstream(state: &BuildState, uuid: &str, depth: u32) -> (u64, bool) {
    let response = views::lineage(state, &downstream(uuid, depth)).expect("focus exists");
    let count =
        response.data.nodes.iter().filter(|n| matches!(n, LineageNode::Partition { hops, .. } if *hops > 0)).count();
    (count as u64, !response.data.truncated.is_empty())
}

/// Loads all but the last `keep` events; returns the state and those events.
fn load_lagging(path: &Path, keep: usize) -> (BuildState, Vec<(DataBuildEvent, u64)>) {
    let mut state = BuildState::new();
    let mut tail: VecDeque<(DataBuildEvent, u64)> = VecDeque::with_capacity(keep + 1);
    load_file(path, &mut |r| {
        tail.push_back((r.event.clone(), r.offset));
        if tail.len() > keep {
            let (event, offset) = tail.pop_front().unwrap();
            state.apply(&event, offset);
        }
    })
    .expect("readable log");
    (state, tail.into())
}

/// The obvious relational alternative (Marquez keeps lineage in PostgreSQL tables): job runs, partition
/// instances and consumer edges, reads resolved by query at success time. It derives less than `dbl` (no
/// want statuses, retry chains, derivative wants or status history), so the ratio flatters it.
const SCHEMA: &str = "
    PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -524288;
    CREATE TABLE job_run(id TEXT PRIMARY KEY, label TEXT NOT NULL, status TEXT NOT NULL);
    CREATE TABLE partition(uuid TEXT PRIMARY KEY, ref TEXT NOT NULL, state TEXT NOT NULL, built_by TEXT, seq INTEGER NOT NULL);
    CREATE INDEX partition_ref ON partition(ref, seq);
    CREATE INDEX partition_built_by ON partition(built_by);
    CREATE TABLE consumer(input TEXT NOT NULL, output TEXT NOT NULL, job_run TEXT NOT NULL);
    CREATE INDEX consumer_input ON consumer(input);
    CREATE TABLE want(id TEXT PRIMARY KEY, canceled INTEGER NOT NULL DEFAULT 0);";

struct Sqlite<'t> {
    insert_run: Statement<'t>,
    insert_partition: Statement<'t>,
    run_status: Statement<'t>,
    outputs_state: Statement<'t>,
    newest_with_data: Statement<'t>,
    output_of: Statement<'t>,
    outputs_of: Statement<'t>,
    insert_consumer: Statement<'t>,
    insert_want: Statement<'t>,
    cancel_want: Statement<'t>,
    taint: Statement<'t>,
}

impl<'t> Sqlite<'t> {
    fn new(tx: &'t rusqlite::Transaction) -> Sqlite<'t> {
        let p = |sql: &str| tx.prepare(sql).expect("valid SQL");
        Sqlite {
            insert_run: p("INSERT OR IGNORE INTO job_run VALUES (?1, ?2, 'Queued')"),
            insert_partition: p("INSERT OR IGNORE INTO partition VALUES (?1, ?2, ?3, ?4, ?5)"),
            run_status: p("UPDATE job_run SET status = ?2 WHERE id = ?1"),
            outputs_state: p("UPDATE partition SET state = ?2 WHERE built_by = ?1 AND state = 'Building'"),
            newest_with_data: p(
                "SELECT uuid FROM partition WHERE ref = ?1 AND state IN ('Live', 'Tainted') ORDER BY seq DESC LIMIT 1",
            ),
            output_of: p("SELECT uuid FROM partition WHERE built_by = ?1 AND ref = ?2"),
            outputs_of: p("SELECT uuid FROM partition WHERE built_by = ?1"),
            insert_consumer: p("INSERT INTO consumer VALUES (?1, ?2, ?3)"),
            insert_want: p("INSERT OR IGNORE INTO want(id) VALUES (?1)"),
            cancel_want: p("UPDATE want SET canceled = 1 WHERE id = ?1"),
            taint: p("UPDATE partition SET state = 'Tainted' WHERE uuid = (SELECT uuid FROM partition WHERE ref = ?1 \
                 AND state IN ('Live', 'Tainted') ORDER BY seq DESC LIMIT 1)"),
        }
    }

    fn end_run(&mut self, job_run_id: &str, run: &str, partition: &str) -> rusqlite::Result<()> {
        self.outputs_state.execute(params![job_run_id, partition])?;
        self.run_status.execute(params![job_run_id, run])?;
        Ok(())
    }

    fn ingest(&mut self, event: &DataBuildEvent) -> rusqlite::Result<()> {
        match &event.event {
            Some(Event::JobRunBufferV1(e)) => {
                self.insert_run.execute(params![e.job_run_id, e.job_label])?;
                for p in &e.building_partitions {
                    let uuid = built_partition_uuid(&e.job_run_id, &p.r#ref).to_string();
                    self.insert_partition.execute(params![
                        uuid,
                        p.r#ref,
                        "Building",
                        e.job_run_id,
                        event.event_id as i64
                    ])?;
                }
            }
            Some(Event::JobRunHeartbeatV1(e)) => {
                self.run_status.execute(params![e.job_run_id, "Running"])?;
            }
            Some(Event::JobRunSuccessV1(e)) => {
                let mut edges = Vec::new();
                for deps in &e.read_deps {
                    let impacted: Vec<String> = if deps.impacted.is_empty() {
                        self.outputs_of.query_map(params![e.job_run_id], |row| row.get(0))?.collect::<Result<_, _>>()?
                    } else {
                        let mut out = Vec::new();
                        for i in &deps.impacted {
                            if let Some(uuid) =
                                self.output_of.query_row(params![e.job_run_id, i.r#ref], |row| row.get(0)).optional()?
                            {
                                out.push(uuid);
                            }
                        }
                        out
                    };
                    for read in &deps.read {
                        let found: Option<String> =
                            self.newest_with_data.query_row(params![read.r#ref], |row| row.get(0)).optional()?;
                        let input = match found {
                            Some(uuid) => uuid,
                            None => {
                                let external = external_partition_uuid(&read.r#ref).to_string();
                                self.insert_partition.execute(params![
                                    external,
                                    read.r#ref,
                                    "External",
                                    None::<String>,
                                    0
                                ])?;
                                external
                            }
                        };
                        edges.extend(impacted.iter().map(|output| (input.clone(), output.clone())));
                    }
                }
                edges.sort_unstable();
                edges.dedup();
                for (input, output) in edges {
                    self.insert_consumer.execute(params![input, output, e.job_run_id])?;
                }
                self.end_run(&e.job_run_id, "Succeeded", "Live")?;
            }
            Some(Event::JobRunFailureV1(e)) => self.end_run(&e.job_run_id, "Failed", "Failed")?,
            Some(Event::JobRunCancelV1(e)) => self.end_run(&e.job_run_id, "Canceled", "Canceled")?,
            Some(Event::JobRunMissingDepsV1(e)) => self.end_run(&e.job_run_id, "DepMiss", "DepMiss")?,
            Some(Event::WantCreateV1(e)) => {
                self.insert_want.execute(params![e.want_id])?;
            }
            Some(Event::WantCancelV1(e)) => {
                self.cancel_want.execute(params![e.want_id])?;
            }
            Some(Event::TaintCreateV1(e)) => {
                for p in &e.partitions {
                    self.taint.execute(params![p.r#ref])?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Instances downstream of `uuid` within `depth` hops, by recursive CTE.
fn sqlite_downstream(db: &Connection, uuid: &str, depth: u32) -> u64 {
    db.prepare_cached(
        "WITH RECURSIVE down(uuid, depth) AS (SELECT ?1, 0 UNION SELECT c.output, d.depth + 1 FROM consumer c \
         JOIN down d ON c.input = d.uuid WHERE d.depth < ?2) SELECT count(DISTINCT uuid) - 1 FROM down",
    )
    .unwrap()
    .query_row(params![uuid, depth], |row| row.get::<_, i64>(0))
    .unwrap() as u64
}

/// SQLite on disk: the binary log ingested in one transaction, then downstream lineage at each depth.
fn sqlite_peer(bel: &Path, db_path: &Path, focus: &str, budget: Duration) -> Value {
    eprintln!("bench_peers: SQLite ingest");
    let _ = std::fs::remove_file(db_path);
    let mut db = Connection::open(db_path).expect("SQLite database");
    let started = Instant::now();
    db.execute_batch(SCHEMA).unwrap();
    let tx = db.transaction().unwrap();
    {
        let mut sqlite = Sqlite::new(&tx);
        let mut failed = None;
        load_file(bel, &mut |r| {
            if failed.is_none() {
                failed = sqlite.ingest(&r.event).err();
            }
        })
        .expect("readable log");
        assert!(failed.is_none(), "SQLite ingest: {failed:?}");
    }
    tx.commit().unwrap();
    let ingest = started.elapsed();
    let lineage: Vec<Value> = DEPTHS
        .iter()
        .map(|&depth| {
            let count = sqlite_downstream(&db, focus, depth);
            let s = secs(median_of(budget, || sqlite_downstream(&db, focus, depth)));
            json!({"depth": depth, "s": s, "count": count})
        })
        .collect();
    let edges: i64 = db
        .query_row("SELECT count(*) FROM (SELECT DISTINCT input, output FROM consumer)", [], |row| row.get(0))
        .unwrap();
    drop(db);
    let bytes = std::fs::metadata(db_path).map_or(0, |m| m.len());
    let _ = std::fs::remove_file(db_path);
    json!({"ingest_s": secs(ingest), "db_bytes": bytes, "edges": edges, "lineage": lineage})
}

fn main() {
    let args = <Args as clap::Parser>::parse();
    let budget = Duration::from_millis(500);
    let file_bytes = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());

    eprintln!("bench_peers: decode only");
    let (decode_bel, events) = decode_only(&args.bel);
    let (decode_jsonl, events_jsonl) = decode_only(&args.jsonl);
    assert_eq!(events, events_jsonl, "the two files hold the same events");

    eprintln!("bench_peers: choosing the focus");
    let candidates = candidate_foci(&args.bel, events);

    // The state the lineage queries run on, short of the last `requests` events.
    let keep = args.requests.min(events as usize / 10).max(1);
    eprintln!("bench_peers: loading all but the last {keep} events");
    let (mut state, tail) = load_lagging(&args.bel, keep);
    let (focus_run, focus_ref) = candidates
        .iter()
        .max_by_key(|(run, r)| {
            let uuid = focus_uuid(run, r);
            let (count, cut) = dbl_downstream(&state, &uuid, 10);
            (!cut, count, std::cmp::Reverse(run.clone()))
        })
        .cloned()
        .unwrap();
    let focus = focus_uuid(&focus_run, &focus_ref);
    let query = downstream(&focus, 3);

    // dbl as a live server: one event applied, then the request answered.
    eprintln!("bench_peers: incremental apply + query, {} requests", tail.len());
    let mut per_request: Vec<Duration> = Vec::with_capacity(tail.len());
    let mut query_only: Vec<Duration> = Vec::with_capacity(tail.len());
    for (event, offset) in &tail {
        let started = Instant::now();
        state.apply(event, *offset);
        let applied = started.elapsed();
        black_box(views::lineage(&state, &query).unwrap());
        let total = started.elapsed();
        per_request.push(total);
        query_only.push(total - applied);
    }
    assert_eq!(state.events_applied(), events);

    eprintln!("bench_peers: dbl lineage at depths {DEPTHS:?}");
    let dbl_lineage: Vec<(u32, f64, u64, bool)> = DEPTHS
        .iter()
        .map(|&depth| {
            let (count, cut) = dbl_downstream(&state, &focus, depth);
            let params = downstream(&focus, depth);
            let t = median_of(budget, || views::lineage(&state, &params).unwrap());
            (depth, secs(t), count, cut)
        })
        .collect();
    drop(state);

    let sqlite = if args.skip_sqlite {
        Value::Null
    } else {
        let db_path = args.sqlite_db.clone().unwrap_or_else(|| std::env::temp_dir().join("dbl-bench-peers.sqlite"));
        sqlite_peer(&args.bel, &db_path, &focus, budget)
    };
    let lineage: Vec<Value> = dbl_lineage
        .iter()
        .map(|&(depth, s, count, truncated)| json!({"depth": depth, "s": s, "count": count, "truncated": truncated}))
        .collect();
    let report = json!({
        "events": events,
        "bel_bytes": file_bytes(&args.bel),
        "jsonl_bytes": file_bytes(&args.jsonl),
        "decode_only": {"bel_s": decode_bel, "jsonl_s": decode_jsonl},
        "focus": {"job_run_id": focus_run, "ref": focus_ref, "uuid": focus},
        "incremental": {
            "requests": per_request.len(),
            "p50_s": secs(percentile(&mut per_request, 0.5)),
            "p99_s": secs(percentile(&mut per_request, 0.99)),
            "query_p50_s": secs(percentile(&mut query_only, 0.5)),
        },
        "sqlite": sqlite,
        "lineage": lineage,
    });
    println!("{report}");
}
