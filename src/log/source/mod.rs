//! Where a log lives: a file, a SQLite database or a PostgreSQL database, behind one [`Source`].
//!
//! [`SourceSpec::parse`] reads what `--log` says: a `postgres://` / `postgresql://` URL, or a path
//! whose content starts with SQLite's header (`SQLite format 3\0`), or else a log file (binary or JSON
//! lines, sniffed by the decoder). A table source may name its layout with `?table=T&key=K&column=C`
//! (and, for PostgreSQL, a `LISTEN` channel with `&notify=CHANNEL`); otherwise it is found by
//! inspection ([`table`]). Every source polls the same way ([`Poll`]): what is new since the last
//! poll, in order, or that the log must be read again from its start (a reset), or that it is not
//! there yet.
//!
//! Errors name the source, table, key and column; a URL's password is never shown
//! ([`SourceSpec::display`]).

mod postgres;
mod sqlite;
pub mod table;
pub mod write;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use super::tail::{Poll, Tailer, WakeReason, Wakeups};
use super::{LogFormat, LogRecord};
pub use table::{Encoding, TableLayout};

/// What `--log` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    File(PathBuf),
    Sqlite { path: PathBuf, layout: LayoutHint },
    Postgres { url: String, layout: LayoutHint, notify: Option<String> },
}

/// The parts of a table layout given on the path or URL (`?table=…&key=…&column=…`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayoutHint {
    pub table: Option<String>,
    pub key: Option<String>,
    pub column: Option<String>,
}

/// The first bytes of every SQLite database file.
pub const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

impl SourceSpec {
    /// Reads `--log`. A path that does not exist yet (or is empty) is a log file, unless it has layout
    /// parameters or a SQLite name (`.db`, `.sqlite`, `.sqlite3`, `.db3`): then it is a SQLite database.
    pub fn parse(text: &str) -> anyhow::Result<SourceSpec> {
        let (base, query) = match text.split_once('?') {
            Some((base, query)) => (base, Some(query)),
            None => (text, None),
        };
        if base.starts_with("postgres://") || base.starts_with("postgresql://") {
            let (layout, notify, rest) = parse_query(query, true)?;
            let url = if rest.is_empty() { base.to_string() } else { format!("{base}?{}", rest.join("&")) };
            return Ok(SourceSpec::Postgres { url, layout, notify });
        }
        let path = PathBuf::from(base);
        let looks_sqlite = read_head(&path).is_some_and(|head| head.starts_with(SQLITE_HEADER));
        match query {
            Some(_) => {
                let (layout, _, rest) = parse_query(query, false)?;
                if let Some(unknown) = rest.first() {
                    anyhow::bail!("{base}: unknown parameter {unknown:?} (expected table, key or column)");
                }
                Ok(SourceSpec::Sqlite { path, layout })
            }
            // A SQLite name not written yet (missing, or created empty by a writer a moment ago).
            None if looks_sqlite || (has_sqlite_name(&path) && read_head(&path).is_none_or(|h| h.is_empty())) => {
                Ok(SourceSpec::Sqlite { path, layout: LayoutHint::default() })
            }
            None if base.contains("://") => {
                anyhow::bail!("{base}: not a log source (give a file path, or a postgres:// URL)")
            }
            None => Ok(SourceSpec::File(path)),
        }
    }

    /// How the source is shown in messages and status: a URL without its password.
    pub fn display(&self) -> String {
        match self {
            SourceSpec::File(path) | SourceSpec::Sqlite { path, .. } => path.display().to_string(),
            SourceSpec::Postgres { url, .. } => redact_password(url),
        }
    }

    /// Whether this is a file log (which the file appender and the fast whole-file loader handle).
    pub fn file_path(&self) -> Option<&Path> {
        match self {
            SourceSpec::File(path) => Some(path),
            _ => None,
        }
    }

    /// Makes a relative path absolute against `base` (URLs are left as they are).
    pub fn resolved(self, base: Option<&Path>) -> SourceSpec {
        let absolute = |path: PathBuf| match base {
            Some(base) if path.is_relative() => base.join(path),
            _ => path,
        };
        match self {
            SourceSpec::File(path) => SourceSpec::File(absolute(path)),
            SourceSpec::Sqlite { path, layout } => SourceSpec::Sqlite { path: absolute(path), layout },
            postgres => postgres,
        }
    }

    /// Opens the source for following. Opening does no I/O that can fail: a source that is not
    /// there yet is reported by its first poll.
    pub fn open(&self) -> Box<dyn Source> {
        match self {
            SourceSpec::File(path) => Box::new(Tailer::new(path)),
            SourceSpec::Sqlite { path, layout } => Box::new(sqlite::SqliteSource::new(path, layout.clone())),
            SourceSpec::Postgres { url, layout, notify } => {
                Box::new(postgres::PostgresSource::new(url, layout.clone(), notify.clone()))
            }
        }
    }

    /// Wake-up hints for following this source: filesystem notifications on a file or a database and
    /// its journals; `LISTEN` on the named channel for PostgreSQL.
    pub fn wakeups(&self, wake: mpsc::SyncSender<WakeReason>) -> Wakeups {
        match self {
            SourceSpec::File(path) => Wakeups::watch(path, wake),
            SourceSpec::Sqlite { path, .. } => Wakeups::watch_with_journals(path, wake),
            SourceSpec::Postgres { url, notify: Some(channel), .. } => postgres::listen(url, channel, wake),
            SourceSpec::Postgres { notify: None, .. } => Wakeups::none(),
        }
    }
}

/// Splits `table`, `key`, `column` (and `notify` where allowed) from the other parameters.
fn parse_query(query: Option<&str>, allow_notify: bool) -> anyhow::Result<(LayoutHint, Option<String>, Vec<String>)> {
    let mut layout = LayoutHint::default();
    let (mut notify, mut rest) = (None, Vec::new());
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode(value);
        if value.is_empty() && matches!(name, "table" | "key" | "column" | "notify") {
            anyhow::bail!("`{name}` needs a value (e.g. `?{name}=...`)");
        }
        match name {
            "table" => layout.table = Some(value),
            "key" => layout.key = Some(value),
            "column" => layout.column = Some(value),
            "notify" if allow_notify => notify = Some(value),
            _ => rest.push(pair.to_string()),
        }
    }
    Ok((layout, notify, rest))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `postgres://user:secret@host/db?password=x` → `postgres://user:***@host/db?password=***`.
pub fn redact_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else { return url.to_string() };
    let authority_end = url[scheme_end..].find(['/', '?']).map_or(url.len(), |i| scheme_end + i);
    let authority = &url[scheme_end..authority_end];
    let url = match (authority.rfind('@'), authority.find(':')) {
        (Some(at), Some(colon)) if colon < at => {
            format!("{}{}:***{}", &url[..scheme_end], &authority[..colon], &url[scheme_end + at..])
        }
        _ => url.to_string(),
    };
    match url.split_once('?') {
        Some((base, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((name, _)) if name.eq_ignore_ascii_case("password") => format!("{name}=***"),
                    _ => p.to_string(),
                })
                .collect();
            format!("{base}?{}", params.join("&"))
        }
        None => url,
    }
}

fn has_sqlite_name(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()), Some("db" | "sqlite" | "sqlite3" | "db3"))
}

fn read_head(path: &Path) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut head = Vec::with_capacity(16);
    std::fs::File::open(path).ok()?.take(16).read_to_end(&mut head).ok()?;
    Some(head)
}

/// Where a follower stands in its source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Position {
    /// Files: bytes of complete records read.
    pub consumed_bytes: u64,
    /// Files: bytes of an incomplete last record, waiting for the rest.
    pub pending_bytes: u64,
    /// Tables: the key of the last row read.
    pub last_key: Option<i64>,
}

/// Where a follower stands in its source and what it had read there, so that a restarted daemon can
/// go on from there (a snapshot), once it has checked that the source still holds what was read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Checkpoint {
    /// A log file: the bytes of complete records read, the line the next one starts on (JSON
    /// lines), the format, and a fingerprint of those bytes ([`crate::log::tail::prefix_print`]).
    File { consumed_bytes: u64, line: u64, format: LogFormat, print: u64 },
    /// A table: the last key read, and the first row's key and content fingerprint.
    Table { layout: TableLayout, last_key: Option<i64>, first: Option<(i64, u64)> },
}

/// A log being followed: see the module docs.
pub trait Source: Send {
    /// Reads what is new (about `budget` bytes at most), handing complete records to `sink` in order.
    /// `Err` is for I/O and connection errors, retried by the caller on its next tick.
    fn poll(&mut self, budget: usize, sink: &mut dyn FnMut(LogRecord)) -> io::Result<Poll>;
    /// `bel` or `jsonl` (files, once sniffed), `sqlite` or `postgres`.
    fn format(&self) -> Option<&'static str>;
    fn position(&self) -> Position;
    /// The table followed, once found.
    fn table(&self) -> Option<&TableLayout>;
    /// Where this source stands, to go on from after a restart; `None` if there is nothing to resume
    /// (nothing read yet, or stopped at a bad record).
    fn checkpoint(&mut self) -> io::Result<Option<Checkpoint>>;
    /// Goes on from `checkpoint` if the source still holds what had been read up to it. `Ok(false)`:
    /// it does not (replaced, rewritten, truncated, another kind of source); the source is unchanged
    /// and is read from its start.
    fn restore(&mut self, checkpoint: &Checkpoint) -> io::Result<bool>;
}

impl Source for Tailer {
    fn poll(&mut self, budget: usize, sink: &mut dyn FnMut(LogRecord)) -> io::Result<Poll> {
        Tailer::poll(self, budget, sink)
    }

    fn format(&self) -> Option<&'static str> {
        Tailer::format(self).map(|f| f.name())
    }

    fn position(&self) -> Position {
        Position { consumed_bytes: self.consumed_bytes(), pending_bytes: self.pending_bytes(), last_key: None }
    }

    fn table(&self) -> Option<&TableLayout> {
        None
    }

    fn checkpoint(&mut self) -> io::Result<Option<Checkpoint>> {
        Tailer::checkpoint(self)
    }

    fn restore(&mut self, checkpoint: &Checkpoint) -> io::Result<bool> {
        Tailer::restore(self, checkpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_from_what_log_says() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("bel.db");
        let mut header = SQLITE_HEADER.to_vec();
        header.resize(100, 0);
        std::fs::write(&db, header).unwrap();
        let db_text = db.to_str().unwrap().to_string();
        let db_text = db_text.as_str();
        assert_eq!(
            SourceSpec::parse(db_text).unwrap(),
            SourceSpec::Sqlite { path: db.clone(), layout: LayoutHint::default() }
        );
        let log = dir.path().join("bel.log");
        std::fs::write(&log, b"{\"eventId\":1}\n").unwrap();
        assert_eq!(SourceSpec::parse(log.to_str().unwrap()).unwrap(), SourceSpec::File(log.clone()));
        let missing = dir.path().join("later.bel");
        assert_eq!(SourceSpec::parse(missing.to_str().unwrap()).unwrap(), SourceSpec::File(missing));
        let later_db = dir.path().join("later.db");
        assert!(matches!(SourceSpec::parse(later_db.to_str().unwrap()).unwrap(), SourceSpec::Sqlite { .. }));
        let hinted = SourceSpec::parse(&format!("{db_text}?table=bel%5Fevents&key=id&column=event")).unwrap();
        let layout =
            LayoutHint { table: Some("bel_events".into()), key: Some("id".into()), column: Some("event".into()) };
        assert_eq!(hinted, SourceSpec::Sqlite { path: db, layout });
        let pg = SourceSpec::parse("postgres://u:pw@127.0.0.1:5432/db?table=t&sslmode=disable&notify=bel").unwrap();
        let SourceSpec::Postgres { url, layout, notify } = &pg else { panic!("{pg:?}") };
        assert_eq!(url, "postgres://u:pw@127.0.0.1:5432/db?sslmode=disable");
        assert_eq!((layout.table.as_deref(), notify.as_deref()), (Some("t"), Some("bel")));
        assert_eq!(pg.display(), "postgres://u:***@127.0.0.1:5432/db?sslmode=disable");
        let err = SourceSpec::parse(&format!("{db_text}?tabel=x")).unwrap_err().to_string();
        assert!(err.contains("unknown parameter \"tabel=x\""), "{err}");
        assert!(SourceSpec::parse("mysql://x/y").unwrap_err().to_string().contains("not a log source"));
    }

    #[test]
    fn passwords_are_never_shown() {
        assert_eq!(redact_password("postgresql://me:s3cr%40t@db:5432/x"), "postgresql://me:***@db:5432/x");
        assert_eq!(redact_password("postgres://me@db/x"), "postgres://me@db/x");
        assert_eq!(redact_password("postgres://db/x?user=a"), "postgres://db/x?user=a");
        assert_eq!(redact_password("postgres://db/x?user=a&password=b"), "postgres://db/x?user=a&password=***");
    }
}
