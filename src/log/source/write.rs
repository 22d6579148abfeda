//! Writing logs into tables: appending a batch of events (`dbl exec`, `dbl emit`) and writing a whole
//! log (`dbl simulate`).
//!
//! Appends are one transaction per batch that first takes the table's write lock (SQLite `BEGIN
//! IMMEDIATE`; PostgreSQL `LOCK TABLE … IN SHARE ROW EXCLUSIVE MODE`, which readers pass), so
//! concurrent writers continue each other's event ids and never interleave a batch. A database without
//! an event table gets the recommended one ([`RECOMMENDED_TABLE`]).

use std::io;
use std::path::Path;
use std::time::Duration;

use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::Type;
use postgres::{Client, NoTls};
use prost::Message;
use rusqlite::{Connection, TransactionBehavior};

use super::table::{choose_layout, decode_cell, quote_ident, Cell, Database, Encoding, TableLayout};
use super::{redact_password, sqlite, LayoutHint, SourceSpec};
use crate::proto::{data_build_event::Event, DataBuildEvent};

/// The table a new log gets: key = the event id, the event as protobuf bytes.
pub const RECOMMENDED_TABLE: &str = "bel_events";

fn recommended(hint: &LayoutHint) -> TableLayout {
    TableLayout {
        table: hint.table.clone().unwrap_or_else(|| RECOMMENDED_TABLE.into()),
        key: hint.key.clone().unwrap_or_else(|| "event_id".into()),
        column: hint.column.clone().unwrap_or_else(|| "event".into()),
        encoding: Encoding::Protobuf,
    }
}

fn encode(layout: &TableLayout, event: &DataBuildEvent) -> Cell {
    match layout.encoding {
        Encoding::Protobuf => Cell::Bytes(event.encode_to_vec()),
        Encoding::Json => Cell::Text(serde_json::to_string(event).expect("events serialize")),
    }
}

/// The event id of the table's last row (by key), and its largest key.
fn last_of(db: &mut dyn Database, layout: &TableLayout) -> io::Result<(u64, Option<i64>)> {
    let max_key = db.max_key(layout)?;
    let last_id = match max_key {
        Some(key) => {
            let rows = db.rows_after(layout, Some(key - 1), 1)?;
            match rows.first() {
                Some((key, cell)) => {
                    decode_cell(layout, *key, cell).map_err(|e| io::Error::other(e.to_string()))?.event_id
                }
                None => 0,
            }
        }
        None => 0,
    };
    Ok((last_id, max_key))
}

/// Stamps `events` after `last_id`, with keys after `max_key` (the event id itself when larger, as
/// in the recommended table).
fn stamp(events: Vec<Event>, last_id: u64, max_key: Option<i64>, timestamp: u64) -> Vec<(i64, DataBuildEvent)> {
    let mut key = max_key.unwrap_or(0);
    events
        .into_iter()
        .enumerate()
        .map(|(i, event)| {
            let event_id = last_id + 1 + i as u64;
            key = (key + 1).max(event_id as i64);
            (key, DataBuildEvent { timestamp, event_id, event: Some(event) })
        })
        .collect()
}

/// Appends batches of events to any log, continuing its event ids.
pub enum Appender {
    File(super::super::LogAppender),
    Table(SourceSpec),
}

impl Appender {
    /// For what `--log` names; a new file log gets JSON lines if its name says so.
    pub fn open(log: &str) -> anyhow::Result<Appender> {
        Ok(match SourceSpec::parse(log)? {
            SourceSpec::File(path) => {
                let format = super::super::format_for_new_log(&path);
                Appender::File(super::super::LogAppender::new(&path, format))
            }
            table => Appender::Table(table),
        })
    }

    /// Stamps `events` with the next event ids and the time, and appends them as one batch.
    pub fn append(&mut self, events: Vec<Event>) -> anyhow::Result<Vec<DataBuildEvent>> {
        match self {
            Appender::File(file) => Ok(file.append(events)?),
            Appender::Table(spec) => append(spec, events),
        }
    }
}

/// Appends one batch of events to a table source, continuing its event ids.
pub fn append(spec: &SourceSpec, events: Vec<Event>) -> anyhow::Result<Vec<DataBuildEvent>> {
    let timestamp = super::super::now_ms();
    match spec {
        SourceSpec::Sqlite { path, layout } => append_sqlite(path, layout, events, timestamp),
        SourceSpec::Postgres { url, layout, notify } => {
            append_postgres(url, layout, notify.as_deref(), events, timestamp)
        }
        SourceSpec::File(_) => unreachable!("files are appended by LogAppender"),
    }
}

fn append_sqlite(
    path: &Path,
    hint: &LayoutHint,
    events: Vec<Event>,
    timestamp: u64,
) -> anyhow::Result<Vec<DataBuildEvent>> {
    let shown = path.display().to_string();
    let err = |e: rusqlite::Error| anyhow::anyhow!("{shown}: {e}");
    let mut conn = Connection::open(path).map_err(err)?;
    conn.busy_timeout(Duration::from_secs(10)).map_err(err)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(err)?;
    let layout = {
        let mut db = sqlite::SqliteTables::new(&tx, path);
        let candidates = db.candidates()?;
        match choose_layout(&mut db, &shown, hint, candidates)? {
            Some(layout) => layout,
            None => {
                let layout = recommended(hint);
                let create = format!(
                    "CREATE TABLE {} ({} INTEGER PRIMARY KEY, {} BLOB NOT NULL)",
                    quote_ident(&layout.table),
                    quote_ident(&layout.key),
                    quote_ident(&layout.column)
                );
                tx.execute_batch(&create).map_err(err)?;
                layout
            }
        }
    };
    let (last_id, max_key) = last_of(&mut sqlite::SqliteTables::new(&tx, path), &layout)?;
    let stamped = stamp(events, last_id, max_key, timestamp);
    {
        let insert = format!(
            "INSERT INTO {} ({}, {}) VALUES (?1, ?2)",
            quote_ident(&layout.table),
            quote_ident(&layout.key),
            quote_ident(&layout.column)
        );
        let mut statement = tx.prepare(&insert).map_err(err)?;
        for (key, event) in &stamped {
            match encode(&layout, event) {
                Cell::Bytes(bytes) => statement.execute(rusqlite::params![key, bytes]),
                Cell::Text(text) => statement.execute(rusqlite::params![key, text]),
                Cell::Other(_) => unreachable!("encode gives bytes or text"),
            }
            .map_err(err)?;
        }
    }
    tx.commit().map_err(err)?;
    Ok(stamped.into_iter().map(|(_, e)| e).collect())
}

fn append_postgres(
    url: &str,
    hint: &LayoutHint,
    notify: Option<&str>,
    events: Vec<Event>,
    timestamp: u64,
) -> anyhow::Result<Vec<DataBuildEvent>> {
    let shown = redact_password(url);
    let err = |e: postgres::Error| anyhow::anyhow!("{shown}: {e}");
    let mut client = Client::connect(url, NoTls).map_err(err)?;
    let mut tx = client.transaction().map_err(err)?;
    let layout = {
        let mut db = super::postgres::PgTables::new(&mut tx, &shown);
        let candidates = db.candidates()?;
        choose_layout(&mut db, &shown, hint, candidates)?
    };
    let layout = match layout {
        Some(layout) => layout,
        None => {
            let layout = recommended(hint);
            tx.batch_execute(&create_pg_table(&layout)).map_err(err)?;
            layout
        }
    };
    tx.batch_execute(&format!("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE", quote_ident(&layout.table))).map_err(err)?;
    let (last_id, max_key) = last_of(&mut super::postgres::PgTables::new(&mut tx, &shown), &layout)?;
    let stamped = stamp(events, last_id, max_key, timestamp);
    let column_type: String = tx
        .query_one(
            "SELECT data_type::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2",
            &[&layout.table, &layout.column],
        )
        .map_err(err)?
        .get(0);
    let value = match layout.encoding {
        Encoding::Protobuf => "$2".to_string(),
        Encoding::Json => format!("$2::text::{column_type}"),
    };
    let insert = format!(
        "INSERT INTO {} ({}, {}) VALUES ($1, {value})",
        quote_ident(&layout.table),
        quote_ident(&layout.key),
        quote_ident(&layout.column)
    );
    let statement = tx.prepare(&insert).map_err(err)?;
    for (key, event) in &stamped {
        match encode(&layout, event) {
            Cell::Bytes(bytes) => tx.execute(&statement, &[key, &bytes]),
            Cell::Text(text) => tx.execute(&statement, &[key, &text]),
            Cell::Other(_) => unreachable!("encode gives bytes or text"),
        }
        .map_err(err)?;
    }
    if let Some(channel) = notify {
        // Delivered at commit: followers listening on the channel poll at once.
        tx.batch_execute(&format!("NOTIFY {}", quote_ident(channel))).map_err(err)?;
    }
    tx.commit().map_err(err)?;
    Ok(stamped.into_iter().map(|(_, e)| e).collect())
}

fn create_pg_table(layout: &TableLayout) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {} ({} BIGINT PRIMARY KEY, {} BYTEA NOT NULL)",
        quote_ident(&layout.table),
        quote_ident(&layout.key),
        quote_ident(&layout.column)
    )
}

/// Hands every event of a log, in order, to the sink it is given; returns how many.
pub type Fill<'a> = &'a mut dyn FnMut(&mut dyn FnMut(&DataBuildEvent) -> io::Result<()>) -> io::Result<u64>;

/// Writes a whole log into a new table of the recommended layout (replacing one of that name):
/// `fill` hands every event, in order, to the sink it is given. Returns the events written.
pub fn write_table(spec: &SourceSpec, fill: Fill<'_>) -> anyhow::Result<u64> {
    match spec {
        SourceSpec::Sqlite { path, layout } => write_sqlite(path, &recommended(layout), fill),
        SourceSpec::Postgres { url, layout, .. } => write_postgres(url, &recommended(layout), fill),
        SourceSpec::File(_) => unreachable!("files are written by EventWriter"),
    }
}

fn write_sqlite(path: &Path, layout: &TableLayout, fill: Fill<'_>) -> anyhow::Result<u64> {
    let shown = path.display().to_string();
    let err = |e: rusqlite::Error| anyhow::anyhow!("{shown}: {e}");
    let _ = std::fs::remove_file(path);
    let mut conn = Connection::open(path).map_err(err)?;
    // A bulk load of a new file: no need to survive a crash halfway.
    conn.execute_batch("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;").map_err(err)?;
    let tx = conn.transaction().map_err(err)?;
    tx.execute_batch(&format!(
        "CREATE TABLE {} ({} INTEGER PRIMARY KEY, {} BLOB NOT NULL)",
        quote_ident(&layout.table),
        quote_ident(&layout.key),
        quote_ident(&layout.column)
    ))
    .map_err(err)?;
    let written = {
        let insert = format!("INSERT INTO {} VALUES (?1, ?2)", quote_ident(&layout.table));
        let mut statement = tx.prepare(&insert).map_err(err)?;
        let mut buffer = Vec::new();
        fill(&mut |event| {
            buffer.clear();
            event.encode(&mut buffer).expect("a Vec grows");
            statement.execute(rusqlite::params![event.event_id as i64, buffer]).map(|_| ()).map_err(io::Error::other)
        })?
    };
    tx.commit().map_err(err)?;
    conn.execute_batch("PRAGMA journal_mode = DELETE;").map_err(err)?;
    Ok(written)
}

fn write_postgres(url: &str, layout: &TableLayout, fill: Fill<'_>) -> anyhow::Result<u64> {
    let shown = redact_password(url);
    let err = |e: postgres::Error| anyhow::anyhow!("{shown}: {e}");
    let mut client = Client::connect(url, NoTls).map_err(err)?;
    let mut tx = client.transaction().map_err(err)?;
    tx.batch_execute(&format!("DROP TABLE IF EXISTS {}", quote_ident(&layout.table))).map_err(err)?;
    tx.batch_execute(&create_pg_table(layout)).map_err(err)?;
    let copy = format!("COPY {} FROM STDIN (FORMAT binary)", quote_ident(&layout.table));
    let sink = tx.copy_in(&copy).map_err(err)?;
    let mut writer = BinaryCopyInWriter::new(sink, &[Type::INT8, Type::BYTEA]);
    let mut buffer = Vec::new();
    let written = fill(&mut |event| {
        buffer.clear();
        event.encode(&mut buffer).expect("a Vec grows");
        writer.write(&[&(event.event_id as i64), &buffer]).map_err(io::Error::other)
    })?;
    writer.finish().map_err(err)?;
    tx.commit().map_err(err)?;
    Ok(written)
}
