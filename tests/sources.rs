//! The BEL where databuild keeps it: SQLite databases and PostgreSQL tables, against the real
//! binary, a second writer process, and a real PostgreSQL server.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::pg::PgServer;
use common::*;
use prost::Message;
use serde_json::{json, Value};

fn run_ok(args: &[&str]) -> String {
    let output = dbl().args(args).output().unwrap();
    assert!(output.status.success(), "dbl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

fn status(log: &str) -> Value {
    serde_json::from_str(&run_ok(&["status", "--log", log, "--format", "json"])).unwrap()
}

/// Runs Python's sqlite3 on `db` (a second writer, in WAL mode as databuild's would be).
fn python_sql(db: &std::path::Path, script: &str) {
    python_sql_in(db, "wal", script)
}

fn python_sql_in(db: &std::path::Path, journal_mode: &str, script: &str) {
    let program = format!(
        "import sqlite3, sys\ncon = sqlite3.connect(sys.argv[1], isolation_level=None)\ncon.execute('pragma journal_mode={journal_mode}')\n{script}\ncon.close()\n"
    );
    let mut child = Command::new("python3")
        .arg("-")
        .arg(db)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), program.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "python: {}", String::from_utf8_lossy(&output.stderr));
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn file_sqlite_and_json_table_forms_of_one_log_agree() {
    let dir = tempfile::tempdir().unwrap();
    let (bel, db) = (dir.path().join("a.bel"), dir.path().join("a.db"));
    run_ok(&["simulate", "--out", bel.to_str().unwrap(), "--events", "5000", "--seed", "7"]);
    run_ok(&["simulate", "--out", db.to_str().unwrap(), "--events", "5000", "--seed", "7", "--format", "sqlite"]);
    let (from_file, from_db) = (status(bel.to_str().unwrap()), status(db.to_str().unwrap()));
    assert_eq!(from_file["digest"], from_db["digest"]);
    assert_eq!(from_db["format"], "sqlite");
    assert_eq!(from_db["table"], json!({"name": "bel_events", "key": "event_id", "column": "event"}));
    assert_eq!(from_db["lastKey"], 5000);

    // The same events as proto3 JSON in a TEXT column of another layout, found by inspection.
    let json_db = dir.path().join("json.db");
    let events = dbl::sim::generate_vec(dbl::sim::SimConfig { events: 5000, seed: 7 });
    let rows: Vec<String> = events
        .iter()
        .map(|e| format!("({}, '{}')", e.event_id * 10, serde_json::to_string(e).unwrap().replace('\'', "''")))
        .collect();
    python_sql(
        &json_db,
        &format!(
            "con.execute('create table orchestrator_log (seq integer primary key, payload text, note text)')\n\
             con.execute(\"insert into orchestrator_log (seq, payload) values {}\")",
            rows.join(",").replace('"', "\\\"")
        ),
    );
    let from_json = status(json_db.to_str().unwrap());
    assert_eq!(from_json["digest"], from_file["digest"]);
    assert_eq!(from_json["table"], json!({"name": "orchestrator_log", "key": "seq", "column": "payload"}));
    // Views answer the same from every form.
    let want = events.iter().find_map(|e| match &e.event {
        Some(dbl::proto::data_build_event::Event::WantCreateV1(w)) => Some(w.want_id.clone()),
        _ => None,
    });
    let want = want.unwrap();
    let views: Vec<String> = [&bel, &db, &json_db]
        .iter()
        .map(|log| run_ok(&["want", &want, "--log", log.to_str().unwrap(), "--format", "json"]))
        .collect();
    assert_eq!(views[0], views[1]);
    assert_eq!(views[0], views[2]);
}

#[test]
fn an_ambiguous_database_is_an_error_listing_the_candidates() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("two.db");
    let event = dbl::events::stamped(vec![dbl::events::job_run_queue("JR-1")]).remove(0);
    let blob = hex(&event.encode_to_vec());
    python_sql(
        &db,
        &format!(
            "con.execute('create table a (id integer primary key, e blob)')\n\
             con.execute('create table b (id integer primary key, e blob)')\n\
             con.execute(\"insert into a values (1, x'{blob}')\")\n\
             con.execute(\"insert into b values (1, x'{blob}')\")"
        ),
    );
    let output = dbl().args(["status", "--log", db.to_str().unwrap()]).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("several tables hold events"), "{stderr}");
    assert!(stderr.contains("table a (key id, column e)") && stderr.contains("table b (key id, column e)"), "{stderr}");
    let chosen = status(&format!("{}?table=b", db.display()));
    assert_eq!(chosen["table"]["name"], "b");
    assert_eq!(chosen["eventsApplied"], 1);
}

#[test]
fn a_daemon_follows_sqlite_written_by_another_process_through_faults() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("live.db");
    let log = db.to_str().unwrap();
    let mut client = LspClient::spawn(dir.path(), &["--log", log, "--poll-ms", "50"]);
    client.initialize(json!({"capabilities": {}}));
    // The database does not exist yet: waited for.
    let waiting = client.status_until(|s| s["waitingForFile"] == true);
    assert_eq!(waiting["format"], Value::Null);

    let events = dbl::sim::generate_vec(dbl::sim::SimConfig { events: 3000, seed: 11 });
    let insert = |events: &[dbl::proto::DataBuildEvent]| -> String {
        events
            .iter()
            .map(|e| {
                format!(
                    "con.execute(\"insert into bel_events values ({}, x'{}')\")",
                    e.event_id,
                    hex(&e.encode_to_vec())
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    python_sql(
        &db,
        &format!(
            "con.execute('create table bel_events (event_id integer primary key, event blob not null)')\n{}",
            insert(&events[..1000])
        ),
    );
    client.status_until(|s| s["eventsApplied"] == 1000 && s["loading"] == false);
    // A writer holding a long transaction does not stop the daemon from answering.
    let held = std::thread::spawn({
        let db = db.clone();
        let script = format!(
            "con.execute('begin immediate')\n{}\nimport time\ntime.sleep(1.5)\ncon.execute('commit')",
            insert(&events[1000..2000])
        );
        move || python_sql(&db, &script)
    });
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let during = client.result("databuild/status", json!({}));
    assert!(started.elapsed() < Duration::from_millis(1000), "status waited for the writer");
    assert_eq!(during["eventsApplied"], 1000, "uncommitted rows are not visible");
    held.join().unwrap();
    let status = client.status_until(|s| s["eventsApplied"] == 2000);
    assert_eq!(status["lastKey"], 2000);
    assert_eq!(status["digest"], dbl::cli::load_source(log).unwrap().0.digest());

    // A row that does not decode: named by table, key and column; nothing after it is applied.
    python_sql(
        &db,
        &format!("con.execute(\"insert into bel_events values (2001, x'ffff')\")\n{}", insert(&events[2001..2100])),
    );
    let status = client.status_until(|s| !s["lastError"].is_null());
    let message = status["lastError"]["message"].as_str().unwrap();
    assert!(message.contains("table bel_events, key 2001, column event"), "{message}");
    assert_eq!(status["eventsApplied"], 2000);
    assert_eq!(status["lastError"]["offset"], 2001);
    let still = client.result("databuild/listWants", json!({"limit": 1}));
    assert!(still["data"]["items"].is_array(), "the daemon keeps serving: {still}");

    // The database file replaced by another (as a tool replacing a database does: with its WAL files,
    // which belong to the old one): a reset, then the new log.
    let fresh = dir.path().join("fresh.db");
    let create = "con.execute('create table bel_events (event_id integer primary key, event blob not null)')";
    python_sql_in(&fresh, "delete", &format!("{create}\n{}", insert(&events[..500])));
    std::fs::rename(&fresh, &db).unwrap();
    for stale in ["live.db-wal", "live.db-shm"] {
        let _ = std::fs::remove_file(dir.path().join(stale));
    }
    let status = client.status_until(|s| s["resets"] == 1 && s["eventsApplied"] == 500 && s["loading"] == false);
    assert_eq!(status["lastError"], Value::Null);
    assert_eq!(status["digest"], dbl::cli::load_source(log).unwrap().0.digest());
    // Rows deleted and keys going backwards: a reset too.
    python_sql(&db, "con.execute('delete from bel_events where event_id > 100')");
    let status = client.status_until(|s| s["resets"] == 2 && s["eventsApplied"] == 100 && s["loading"] == false);
    assert_eq!(status["digest"], dbl::cli::load_source(log).unwrap().0.digest());
    assert_eq!(client.shutdown(), 0);
}

#[test]
fn concurrent_writers_to_sqlite_continue_each_others_event_ids() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    let log = db.to_str().unwrap().to_string();
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let log = log.clone();
            std::thread::spawn(move || {
                for i in 0..10 {
                    let want = format!("W-{w}-{i}");
                    run_ok(&["emit", "--log", &log, "want-create", "--want-id", &want, "--partition", "data/x"]);
                }
            })
        })
        .collect();
    writers.into_iter().for_each(|w| w.join().unwrap());
    let (state, loaded) = dbl::cli::load_source(&log).unwrap();
    assert_eq!(state.events_applied(), 40);
    assert_eq!(state.last_event().unwrap().event_id, 40);
    assert_eq!(loaded.position.last_key, Some(40));
    assert_eq!(state.diagnostic_count(), 0, "ids strictly increase: {:?}", state.diagnostics());
}

#[test]
fn postgres_forms_faults_and_listen() {
    let Some(pg) = PgServer::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let url = pg.url();
    // A table that does not exist yet is waited for.
    let mut client = LspClient::spawn(dir.path(), &["--log", &format!("{url}?notify=bel"), "--poll-ms", "3000"]);
    client.initialize(json!({"capabilities": {}}));
    client.status_until(|s| s["waitingForFile"] == true);

    // The same log as a file and as a PostgreSQL table (COPY).
    let bel = dir.path().join("a.bel");
    run_ok(&["simulate", "--out", bel.to_str().unwrap(), "--events", "4000", "--seed", "5"]);
    run_ok(&["simulate", "--out", &url, "--events", "4000", "--seed", "5"]);
    let status = client.status_until(|s| s["eventsApplied"] == 4000 && s["loading"] == false);
    assert_eq!(status["digest"], self::status(bel.to_str().unwrap())["digest"]);
    assert_eq!(status["format"], "postgres");
    assert_eq!(status["table"], json!({"name": "bel_events", "key": "event_id", "column": "event"}));
    assert_eq!(self::status(&url)["digest"], status["digest"]);

    // LISTEN: with a 3 s poll timer, an append that NOTIFYs is seen well before the timer would.
    let started = Instant::now();
    run_ok(&[
        "emit",
        "--log",
        &format!("{url}?notify=bel"),
        "want-create",
        "--want-id",
        "W-LISTEN",
        "--partition",
        "data/l",
    ]);
    client.status_until(|s| s["eventsApplied"] == 4001);
    assert!(started.elapsed() < Duration::from_millis(2500), "woken by NOTIFY, not the timer: {:?}", started.elapsed());

    // The server restarts mid-follow: the daemon says so in status, reconnects, loses nothing.
    pg.restart();
    run_ok(&["emit", "--log", &url, "want-create", "--want-id", "W-AFTER", "--partition", "data/a"]);
    let status = client.status_until(|s| s["eventsApplied"] == 4002 && s["ioError"].is_null());
    assert_eq!(status["digest"], self::status(&url)["digest"]);

    // A row that does not decode, named by table, key and column.
    pg.sql("INSERT INTO bel_events VALUES (5000, '\\xffff'::bytea)");
    let status = client.status_until(|s| !s["lastError"].is_null());
    let message = status["lastError"]["message"].as_str().unwrap();
    assert!(message.contains("table bel_events, key 5000, column event"), "{message}");
    // A re-created table is a reset.
    run_ok(&["simulate", "--out", &url, "--events", "300", "--seed", "6"]);
    let status = client.status_until(|s| s["resets"] == 1 && s["eventsApplied"] == 300 && s["loading"] == false);
    assert_eq!(status["lastError"], Value::Null);
    assert_eq!(status["digest"], self::status(&url)["digest"]);
    assert_eq!(client.shutdown(), 0);

    // A password is never shown.
    let output = dbl()
        .args(["status", "--log", &format!("postgres://postgres:hunter2@127.0.0.1:{}/nodb", pg.port)])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(!stderr.contains("hunter2") && stderr.contains("postgres:***@"), "{stderr}");
}
