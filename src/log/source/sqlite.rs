//! A SQLite database as a log source: opened read-only (it never blocks a writer: each poll's reads
//! are short, and a busy database is waited on for at most [`BUSY_TIMEOUT`]), polled for new rows.
//! A database file replaced on disk (a new inode) is a reset.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::super::tail::{Poll, ResetReason};
use super::super::LogRecord;
use super::table::{quote_ident, Candidate, Cell, Database, Encoding, TableCursor, TableLayout};
use super::{Checkpoint, LayoutHint, Position, Source};

const BUSY_TIMEOUT: Duration = Duration::from_millis(200);

pub struct SqliteSource {
    path: PathBuf,
    hint: LayoutHint,
    db: Option<Sqlite>,
    cursor: TableCursor,
}

struct Sqlite {
    conn: Connection,
    inode: (u64, u64),
}

fn sql_error(path: &Path, e: rusqlite::Error) -> io::Error {
    io::Error::other(format!("{}: {e}", path.display()))
}

impl SqliteSource {
    pub fn new(path: &Path, hint: LayoutHint) -> SqliteSource {
        SqliteSource { path: path.to_path_buf(), hint, db: None, cursor: TableCursor::default() }
    }
}

impl SqliteSource {
    /// The database file's device and inode, or `None` if it does not exist (yet).
    fn inode(&self) -> io::Result<Option<(u64, u64)>> {
        match std::fs::metadata(&self.path) {
            Ok(meta) => Ok(Some((meta.dev(), meta.ino()))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn connect(&mut self, inode: (u64, u64)) -> io::Result<()> {
        if self.db.is_none() {
            let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            let conn = Connection::open_with_flags(&self.path, flags).map_err(|e| sql_error(&self.path, e))?;
            conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| sql_error(&self.path, e))?;
            self.db = Some(Sqlite { conn, inode });
        }
        Ok(())
    }
}

impl Source for SqliteSource {
    fn poll(&mut self, budget: usize, sink: &mut dyn FnMut(LogRecord)) -> io::Result<Poll> {
        let Some(inode) = self.inode()? else { return Ok(Poll::Missing) };
        if let Some(db) = &self.db {
            if db.inode != inode {
                self.db = None;
                let was_following = self.cursor.last_key.is_some() || self.cursor.layout.is_some();
                self.cursor = TableCursor::default();
                if was_following {
                    return Ok(Poll::Reset(ResetReason::Replaced));
                }
            }
        }
        self.connect(inode)?;
        let db = self.db.as_ref().expect("opened above");
        let source = self.path.display().to_string();
        let mut tables = SqliteTables { conn: &db.conn, path: &self.path };
        self.cursor.poll(&mut tables, &source, &self.hint, budget, sink)
    }

    fn format(&self) -> Option<&'static str> {
        Some("sqlite")
    }

    fn position(&self) -> Position {
        Position { last_key: self.cursor.last_key, ..Position::default() }
    }

    fn table(&self) -> Option<&TableLayout> {
        self.cursor.layout.as_ref()
    }

    fn checkpoint(&mut self) -> io::Result<Option<Checkpoint>> {
        Ok(self.cursor.checkpoint())
    }

    fn restore(&mut self, checkpoint: &Checkpoint) -> io::Result<bool> {
        let Some(inode) = self.inode()? else { return Ok(false) };
        self.connect(inode)?;
        let db = self.db.as_ref().expect("opened above");
        let mut tables = SqliteTables { conn: &db.conn, path: &self.path };
        self.cursor.restore(&mut tables, checkpoint)
    }
}

/// The queries of a table source, on one SQLite connection (or transaction).
pub struct SqliteTables<'a> {
    conn: &'a Connection,
    path: &'a Path,
}

impl<'a> SqliteTables<'a> {
    pub fn new(conn: &'a Connection, path: &'a Path) -> SqliteTables<'a> {
        SqliteTables { conn, path }
    }

    fn err(&self, e: rusqlite::Error) -> io::Error {
        sql_error(self.path, e)
    }
}

fn cell(value: ValueRef<'_>) -> Cell {
    match value {
        ValueRef::Blob(b) => Cell::Bytes(b.to_vec()),
        ValueRef::Text(t) => match std::str::from_utf8(t) {
            Ok(text) => Cell::Text(text.to_string()),
            Err(_) => Cell::Other("text that is not UTF-8"),
        },
        ValueRef::Null => Cell::Other("NULL"),
        ValueRef::Integer(_) => Cell::Other("an integer"),
        ValueRef::Real(_) => Cell::Other("a real number"),
    }
}

/// The encoding a declared column type suggests (SQLite types are affinities: `BLOB`, `TEXT`, `JSON`,
/// or nothing at all).
fn encoding_of(declared: &str) -> Option<Encoding> {
    let t = declared.to_ascii_uppercase();
    if t.is_empty() || t.contains("BLOB") {
        Some(Encoding::Protobuf)
    } else if t.contains("TEXT") || t.contains("CHAR") || t.contains("CLOB") || t.contains("JSON") {
        Some(Encoding::Json)
    } else {
        None
    }
}

impl Database for SqliteTables<'_> {
    fn candidates(&mut self) -> io::Result<Vec<Candidate>> {
        let mut names = self
            .conn
            .prepare(
                "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
            )
            .map_err(|e| self.err(e))?;
        let tables: Vec<(String, String)> = names
            .query_map([], |r| Ok((r.get(0)?, r.get::<_, Option<String>>(1)?.unwrap_or_default())))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for (table, sql) in tables {
            let mut info =
                self.conn.prepare(&format!("PRAGMA table_info({})", quote_ident(&table))).map_err(|e| self.err(e))?;
            // (name, declared type, position in the primary key)
            let columns: Vec<(String, String, i64)> = info
                .query_map([], |r| Ok((r.get(1)?, r.get::<_, Option<String>>(2)?.unwrap_or_default(), r.get(5)?)))
                .and_then(|rows| rows.collect())
                .map_err(|e| self.err(e))?;
            let pk: Vec<&(String, String, i64)> = columns.iter().filter(|c| c.2 > 0).collect();
            let key = match pk.as_slice() {
                [only] if only.1.eq_ignore_ascii_case("INTEGER") => only.0.clone(),
                _ if !sql.to_ascii_uppercase().contains("WITHOUT ROWID") => "rowid".to_string(),
                _ => continue,
            };
            for (name, declared, _) in columns.iter().filter(|c| c.0 != key) {
                if let Some(encoding) = encoding_of(declared) {
                    let layout = TableLayout { table: table.clone(), key: key.clone(), column: name.clone(), encoding };
                    out.push(Candidate { layout });
                }
            }
        }
        Ok(out)
    }

    fn has_key(&mut self, layout: &TableLayout, key: i64) -> io::Result<bool> {
        let sql = format!("SELECT 1 FROM {} WHERE {} = ?1", quote_ident(&layout.table), quote_ident(&layout.key));
        self.conn.query_row(&sql, [key], |_| Ok(())).optional().map(|r| r.is_some()).map_err(|e| self.err(e))
    }

    fn max_key(&mut self, layout: &TableLayout) -> io::Result<Option<i64>> {
        let sql = format!("SELECT max({}) FROM {}", quote_ident(&layout.key), quote_ident(&layout.table));
        self.conn.query_row(&sql, [], |r| r.get(0)).map_err(|e| self.err(e))
    }

    fn rows_after(&mut self, layout: &TableLayout, after: Option<i64>, limit: usize) -> io::Result<Vec<(i64, Cell)>> {
        let sql = format!(
            "SELECT {k}, {c} FROM {t} WHERE {k} > ?1 ORDER BY {k} LIMIT ?2",
            k = quote_ident(&layout.key),
            c = quote_ident(&layout.column),
            t = quote_ident(&layout.table)
        );
        let mut statement = self.conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        let rows = statement
            .query_map(rusqlite::params![after.unwrap_or(i64::MIN), limit as i64], |r| {
                Ok((r.get(0)?, cell(r.get_ref(1)?)))
            })
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))?;
        Ok(rows)
    }
}
