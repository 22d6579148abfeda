//! What SQLite and PostgreSQL sources share: finding the table that holds the log, reading it in key
//! order, and noticing when it starts over.
//!
//! **Layouts recognised** (docs/SOURCES.md): one `DataBuildEvent` per row, in an event column holding
//! protobuf bytes (SQLite `BLOB`, PostgreSQL `bytea`) or proto3 JSON (`TEXT`, `json`, `jsonb`),
//! ordered by an integer key (SQLite `INTEGER PRIMARY KEY` or `rowid`; PostgreSQL an integer primary
//! key). Candidates are every (table, key, event column) of that shape; one whose first row decodes as
//! an event is *confirmed*. Exactly one confirmed candidate is chosen; with none confirmed, a lone
//! candidate is chosen (an empty table, to wait on); anything else is an error listing the candidates,
//! to be settled with `?table=…&key=…&column=…`.
//!
//! **Following.** Rows are read with `key > last` in key order, in batches. Each poll first checks that
//! the log did not start over: the first row must be the one seen before (same key, same content) and
//! the last row read must still be there, and no key may be below it. Gaps in keys are normal.

use std::fmt;
use std::io;

use prost::Message;

use super::super::tail::{Poll, Read, ResetReason};
use super::super::{DecodeError, DecodeErrorKind, LogRecord};
use super::{Checkpoint, LayoutHint};
use crate::proto::DataBuildEvent;

/// How events are stored in the event column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Encoding {
    /// Protobuf bytes.
    Protobuf,
    /// proto3 JSON text.
    Json,
}

/// The table a source follows.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TableLayout {
    pub table: String,
    pub key: String,
    pub column: String,
    pub encoding: Encoding,
}

impl fmt::Display for TableLayout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "table {} (key {}, column {})", self.table, self.key, self.column)
    }
}

/// One row's event column.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Bytes(Vec<u8>),
    Text(String),
    /// NULL or a type that cannot hold an event: named in the error.
    Other(&'static str),
}

/// A table of the database that could hold a log, before its rows are looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub layout: TableLayout,
}

/// The queries a database answers for a table source.
pub trait Database {
    /// Every (table, integer key, event column) that could hold a log; empty if the database does
    /// not exist yet.
    fn candidates(&mut self) -> io::Result<Vec<Candidate>>;
    /// The first row by key: what [`Database::rows_after`] reads first.
    fn first_row(&mut self, layout: &TableLayout) -> io::Result<Option<(i64, Cell)>> {
        Ok(self.rows_after(layout, None, 1)?.into_iter().next())
    }
    /// Whether a row with this key exists.
    fn has_key(&mut self, layout: &TableLayout, key: i64) -> io::Result<bool>;
    /// The largest key, if any row.
    fn max_key(&mut self, layout: &TableLayout) -> io::Result<Option<i64>>;
    /// Up to `limit` rows with `key > after`, in key order.
    fn rows_after(&mut self, layout: &TableLayout, after: Option<i64>, limit: usize) -> io::Result<Vec<(i64, Cell)>>;
}

/// Decodes one row's event, naming table, key and column on failure.
pub fn decode_cell(layout: &TableLayout, key: i64, cell: &Cell) -> Result<DataBuildEvent, DecodeError> {
    let decoded = match cell {
        Cell::Bytes(bytes) => {
            DataBuildEvent::decode(bytes.as_slice()).map_err(|e| format!("invalid protobuf DataBuildEvent: {e}"))
        }
        Cell::Text(text) => serde_json::from_str(text).map_err(|e| format!("invalid JSON DataBuildEvent: {e}")),
        Cell::Other(what) => Err(format!("holds {what}, not an event")),
    };
    let message = match decoded {
        Ok(event) if event.event.is_some() => return Ok(event),
        Ok(_) => "a DataBuildEvent with no event set".to_string(),
        Err(message) => message,
    };
    let kind = DecodeErrorKind::BadRow { table: layout.table.clone(), key, column: layout.column.clone(), message };
    Err(DecodeError { offset: key.max(0) as u64, line: None, kind })
}

fn io_error(message: String) -> io::Error {
    io::Error::other(message)
}

/// Chooses the layout among `candidates` (see the module docs). `Ok(None)`: nothing to follow yet.
pub fn choose_layout(
    db: &mut dyn Database,
    source: &str,
    hint: &LayoutHint,
    candidates: Vec<Candidate>,
) -> io::Result<Option<TableLayout>> {
    let matching: Vec<TableLayout> = candidates
        .into_iter()
        .map(|c| c.layout)
        .filter(|l| hint.table.as_ref().is_none_or(|t| *t == l.table))
        .filter(|l| hint.key.as_ref().is_none_or(|k| *k == l.key))
        .filter(|l| hint.column.as_ref().is_none_or(|c| *c == l.column))
        .collect();
    if matching.is_empty() {
        if let (Some(table), Some(key), Some(column)) = (&hint.table, &hint.key, &hint.column) {
            // A table named in full that is not there (yet) is waited for, unlike an impossible one.
            tracing::debug!("{source}: table {table} (key {key}, column {column}) is not there yet");
        }
        return Ok(None);
    }
    let mut confirmed = Vec::new();
    for layout in &matching {
        if let Some((key, cell)) = db.first_row(layout)? {
            if decode_cell(layout, key, &cell).is_ok() {
                confirmed.push(layout.clone());
            }
        }
    }
    match (confirmed.len(), matching.len()) {
        (1, _) => Ok(confirmed.pop()),
        (0, 1) => Ok(matching.into_iter().next()),
        (0, _) => Err(io_error(format!(
            "{source}: no table holds events yet, and several could: {}; name one with ?table=…&key=…&column=…",
            list(&matching)
        ))),
        _ => Err(io_error(format!(
            "{source}: several tables hold events: {}; name one with ?table=…&key=…&column=…",
            list(&confirmed)
        ))),
    }
}

fn list(layouts: &[TableLayout]) -> String {
    layouts.iter().map(|l| l.to_string()).collect::<Vec<_>>().join("; ")
}

/// Rows read per query.
pub const ROW_BATCH: usize = 4096;

/// The state of following one table: where it stands and what it saw first.
#[derive(Debug, Default)]
pub struct TableCursor {
    pub layout: Option<TableLayout>,
    pub last_key: Option<i64>,
    /// The first row seen: its key and a fingerprint of its content.
    first: Option<(i64, u64)>,
    /// The row that stopped decoding; nothing after it is read until the table starts over.
    latched: Option<DecodeError>,
}

fn fingerprint(cell: &Cell) -> u64 {
    let bytes: &[u8] = match cell {
        Cell::Bytes(b) => b,
        Cell::Text(t) => t.as_bytes(),
        Cell::Other(what) => what.as_bytes(),
    };
    u64::from_le_bytes(blake3::hash(bytes).as_bytes()[..8].try_into().expect("8 bytes"))
}

impl TableCursor {
    /// Where this cursor stands, unless it has read nothing or stopped at a bad row.
    pub fn checkpoint(&self) -> Option<Checkpoint> {
        match (&self.layout, &self.latched) {
            (Some(layout), None) if self.first.is_some() => {
                Some(Checkpoint::Table { layout: layout.clone(), last_key: self.last_key, first: self.first })
            }
            _ => None,
        }
    }

    /// Takes up `checkpoint` if the table still starts with the row it started with and still holds
    /// the last row read (the checks every poll makes); otherwise stays as it was and says no.
    pub fn restore(&mut self, db: &mut dyn Database, checkpoint: &Checkpoint) -> io::Result<bool> {
        let Checkpoint::Table { layout, last_key, first } = checkpoint else { return Ok(false) };
        let mut restored = TableCursor { layout: Some(layout.clone()), last_key: *last_key, first: *first, latched: None };
        if restored.reset_reason(db, layout)?.is_some() {
            return Ok(false);
        }
        *self = restored;
        Ok(true)
    }

    /// One poll: finds the table if need be, checks it did not start over, reads new rows.
    pub fn poll(
        &mut self,
        db: &mut dyn Database,
        source: &str,
        hint: &LayoutHint,
        budget: usize,
        sink: &mut dyn FnMut(LogRecord),
    ) -> io::Result<Poll> {
        let layout = match &self.layout {
            Some(layout) => layout.clone(),
            None => {
                let candidates = db.candidates()?;
                match choose_layout(db, source, hint, candidates)? {
                    Some(layout) => {
                        tracing::debug!("{source}: following {layout}");
                        self.layout = Some(layout.clone());
                        layout
                    }
                    None => return Ok(Poll::Missing),
                }
            }
        };
        if let Some(reason) = self.reset_reason(db, &layout)? {
            *self = TableCursor::default();
            return Ok(Poll::Reset(reason));
        }
        if self.latched.is_some() {
            return Ok(Poll::Read(Read { bytes_read: 0, at_end: true, file_len: 0, new_error: None }));
        }
        let mut bytes_read = 0u64;
        loop {
            let rows = db.rows_after(&layout, self.last_key, ROW_BATCH)?;
            let full = rows.len() == ROW_BATCH;
            for (key, cell) in rows {
                if self.first.is_none() {
                    self.first = Some((key, fingerprint(&cell)));
                }
                bytes_read += match &cell {
                    Cell::Bytes(b) => b.len() as u64,
                    Cell::Text(t) => t.len() as u64,
                    Cell::Other(_) => 0,
                };
                match decode_cell(&layout, key, &cell) {
                    Ok(event) => {
                        self.last_key = Some(key);
                        sink(LogRecord { offset: key.max(0) as u64, event });
                    }
                    Err(error) => {
                        self.latched = Some(error.clone());
                        return Ok(Poll::Read(Read { bytes_read, at_end: true, file_len: 0, new_error: Some(error) }));
                    }
                }
            }
            if !full {
                return Ok(Poll::Read(Read { bytes_read, at_end: true, file_len: 0, new_error: None }));
            }
            if bytes_read as usize >= budget {
                return Ok(Poll::Read(Read { bytes_read, at_end: false, file_len: 0, new_error: None }));
            }
        }
    }

    /// Whether the table started over since the last poll: its first row changed, the last row read
    /// vanished, or its keys went backwards.
    fn reset_reason(&mut self, db: &mut dyn Database, layout: &TableLayout) -> io::Result<Option<ResetReason>> {
        let Some((first_key, first_print)) = self.first else { return Ok(None) };
        match db.first_row(layout)? {
            Some((key, cell)) if key == first_key && fingerprint(&cell) == first_print => {}
            Some((key, _)) if key == first_key => return Ok(Some(ResetReason::Rewritten)),
            _ => return Ok(Some(ResetReason::RowsVanished)),
        }
        if let Some(last) = self.last_key.filter(|_| self.latched.is_none()) {
            if db.max_key(layout)?.is_none_or(|max| max < last) {
                return Ok(Some(ResetReason::KeysWentBack));
            }
            if !db.has_key(layout, last)? {
                return Ok(Some(ResetReason::RowsVanished));
            }
        }
        Ok(None)
    }
}

/// `"name"` with inner quotes doubled: an SQL identifier, whatever its spelling.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> TableLayout {
        TableLayout { table: "bel".into(), key: "id".into(), column: "event".into(), encoding: Encoding::Protobuf }
    }

    #[test]
    fn bad_rows_name_table_key_and_column() {
        let err = decode_cell(&layout(), 42, &Cell::Bytes(vec![0xff, 0xff])).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("table bel, key 42, column event"), "{text}");
        assert!(text.contains("invalid protobuf"), "{text}");
        let err = decode_cell(&layout(), 7, &Cell::Other("NULL")).unwrap_err().to_string();
        assert!(err.contains("holds NULL, not an event") && err.contains("key 7"), "{err}");
        let event = crate::events::stamped(vec![crate::events::job_run_queue("JR-1")]).remove(0);
        assert_eq!(decode_cell(&layout(), 1, &Cell::Bytes(event.encode_to_vec())).unwrap(), event);
        let json = serde_json::to_string(&event).unwrap();
        assert_eq!(decode_cell(&layout(), 1, &Cell::Text(json)).unwrap(), event);
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("bel"), "\"bel\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
