//! A PostgreSQL database as a log source, polled with an index-friendly query (`key > $1 ORDER BY key
//! LIMIT n`). A lost connection is retried with backoff (the error shows in status meanwhile) and
//! nothing is lost or applied twice: the cursor is the last key applied. `LISTEN` on a named channel
//! is a wake-up hint only ([`listen`]).

use std::io;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use postgres::binary_copy::BinaryCopyOutIter;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::Type;
use postgres::{Client, GenericClient, NoTls};

use super::super::tail::{Poll, WakeReason, Wakeups};
use super::super::LogRecord;
use super::table::{quote_ident, Candidate, Cell, Database, Encoding, TableCursor, TableLayout};
use super::{redact_password, Checkpoint, LayoutHint, Position, Source};

const MAX_BACKOFF: Duration = Duration::from_secs(5);

pub struct PostgresSource {
    url: String,
    shown: String,
    hint: LayoutHint,
    client: Option<Client>,
    cursor: TableCursor,
    /// After a failure: when to try again, and how long the next wait is.
    retry: Option<(Instant, Duration)>,
}

impl PostgresSource {
    pub fn new(url: &str, hint: LayoutHint, _notify: Option<String>) -> PostgresSource {
        PostgresSource {
            url: url.to_string(),
            shown: redact_password(url),
            hint,
            client: None,
            cursor: TableCursor::default(),
            retry: None,
        }
    }

    fn failed(&mut self, error: io::Error) -> io::Error {
        self.client = None;
        let wait = self.retry.map_or(Duration::from_millis(100), |(_, wait)| (wait * 2).min(MAX_BACKOFF));
        self.retry = Some((Instant::now() + wait, wait));
        io::Error::other(format!("{error}; reconnecting in {} ms", wait.as_millis()))
    }
}

impl PostgresSource {
    fn connect(&mut self) -> io::Result<()> {
        if self.client.is_none() {
            match Client::connect(&self.url, NoTls) {
                Ok(client) => {
                    tracing::info!("connected to {}", self.shown);
                    self.client = Some(client);
                }
                Err(e) => {
                    let error = pg_error(&self.shown, e);
                    return Err(self.failed(error));
                }
            }
        }
        Ok(())
    }
}

fn pg_error(source: &str, e: postgres::Error) -> io::Error {
    // The driver's messages never carry the password; the source is shown redacted.
    io::Error::other(format!("{source}: {e}"))
}

impl Source for PostgresSource {
    fn poll(&mut self, budget: usize, sink: &mut dyn FnMut(LogRecord)) -> io::Result<Poll> {
        if let Some((at, wait)) = self.retry {
            if Instant::now() < at {
                return Err(io::Error::other(format!(
                    "{}: not connected; retrying in {} ms",
                    self.shown,
                    wait.as_millis()
                )));
            }
        }
        self.connect()?;
        let mut db = PgTables { client: self.client.as_mut().expect("connected above"), shown: &self.shown };
        match self.cursor.poll(&mut db, &self.shown.clone(), &self.hint, budget, sink) {
            Ok(poll) => {
                self.retry = None;
                Ok(poll)
            }
            // A closed connection is reconnected with backoff; an error of the database's own (an
            // ambiguous table, say) is retried on the next tick on the same connection.
            Err(error) if self.client.as_ref().is_none_or(Client::is_closed) => Err(self.failed(error)),
            Err(error) => Err(error),
        }
    }

    fn format(&self) -> Option<&'static str> {
        Some("postgres")
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
        self.connect()?;
        let mut db = PgTables { client: self.client.as_mut().expect("connected above"), shown: &self.shown };
        self.cursor.restore(&mut db, checkpoint)
    }
}

/// The queries of a table source, on one connection (or transaction).
pub struct PgTables<'a, C: GenericClient> {
    client: &'a mut C,
    shown: &'a str,
}

impl<'a, C: GenericClient> PgTables<'a, C> {
    pub fn new(client: &'a mut C, shown: &'a str) -> PgTables<'a, C> {
        PgTables { client, shown }
    }
}

fn encoding_of(data_type: &str) -> Option<Encoding> {
    match data_type {
        "bytea" => Some(Encoding::Protobuf),
        "text" | "json" | "jsonb" | "character varying" => Some(Encoding::Json),
        _ => None,
    }
}

impl<C: GenericClient> PgTables<'_, C> {
    fn select(&self, layout: &TableLayout) -> String {
        // JSON columns are read as text, so `json` and `jsonb` need no driver support of their own.
        let column = match layout.encoding {
            Encoding::Json => format!("{}::text", quote_ident(&layout.column)),
            Encoding::Protobuf => quote_ident(&layout.column),
        };
        format!("SELECT {}::bigint, {column} FROM {}", quote_ident(&layout.key), quote_ident(&layout.table))
    }

    fn err(&self, e: postgres::Error) -> io::Error {
        pg_error(self.shown, e)
    }
}

impl<C: GenericClient> Database for PgTables<'_, C> {
    fn candidates(&mut self) -> io::Result<Vec<Candidate>> {
        let keys = self
            .client
            .query(
                "SELECT kcu.table_name::text, kcu.column_name::text, c.data_type::text
                 FROM information_schema.table_constraints tc
                 JOIN information_schema.key_column_usage kcu
                   ON tc.constraint_name = kcu.constraint_name AND tc.table_schema = kcu.table_schema
                 JOIN information_schema.columns c
                   ON c.table_schema = kcu.table_schema AND c.table_name = kcu.table_name AND c.column_name = kcu.column_name
                 WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = current_schema()
                 ORDER BY 1, 2",
                &[],
            )
            .map_err(|e| self.err(e))?;
        let columns = self
            .client
            .query(
                "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns
                 WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position",
                &[],
            )
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        // Single-column integer primary keys only.
        let mut key_of: std::collections::BTreeMap<String, Vec<(String, String)>> = Default::default();
        for row in &keys {
            key_of.entry(row.get(0)).or_default().push((row.get(1), row.get(2)));
        }
        for row in &columns {
            let (table, column, data_type): (String, String, String) = (row.get(0), row.get(1), row.get(2));
            let Some([(key, key_type)]) = key_of.get(&table).map(Vec::as_slice) else { continue };
            if column == *key || !matches!(key_type.as_str(), "bigint" | "integer" | "smallint") {
                continue;
            }
            if let Some(encoding) = encoding_of(&data_type) {
                out.push(Candidate { layout: TableLayout { table, key: key.clone(), column, encoding } });
            }
        }
        Ok(out)
    }

    fn has_key(&mut self, layout: &TableLayout, key: i64) -> io::Result<bool> {
        let sql =
            format!("SELECT 1 FROM {} WHERE {} = $1::bigint", quote_ident(&layout.table), quote_ident(&layout.key));
        Ok(!self.client.query(&sql, &[&key]).map_err(|e| self.err(e))?.is_empty())
    }

    fn max_key(&mut self, layout: &TableLayout) -> io::Result<Option<i64>> {
        let sql = format!("SELECT max({})::bigint FROM {}", quote_ident(&layout.key), quote_ident(&layout.table));
        let row = self.client.query_one(&sql, &[]).map_err(|e| self.err(e))?;
        Ok(row.get(0))
    }

    /// Binary `COPY … TO STDOUT`: rows stream without the row-by-row protocol's per-row messages and
    /// type checks. (COPY takes no parameters: the bounds are integers formatted in.)
    fn rows_after(&mut self, layout: &TableLayout, after: Option<i64>, limit: usize) -> io::Result<Vec<(i64, Cell)>> {
        let after = after.unwrap_or(i64::MIN);
        let copy = format!(
            "COPY ({} WHERE {} > {after} ORDER BY 1 LIMIT {limit}) TO STDOUT (FORMAT binary)",
            self.select(layout),
            quote_ident(&layout.key)
        );
        let shown = self.shown;
        let err = |e: postgres::Error| pg_error(shown, e);
        let reader = self.client.copy_out(&copy).map_err(err)?;
        let column = match layout.encoding {
            Encoding::Protobuf => Type::BYTEA,
            Encoding::Json => Type::TEXT,
        };
        let mut rows = BinaryCopyOutIter::new(reader, &[Type::INT8, column]);
        let mut out = Vec::with_capacity(limit.min(4096));
        while let Some(row) = rows.next().map_err(err)? {
            let key: i64 = row.try_get(0).map_err(err)?;
            let cell = match layout.encoding {
                Encoding::Protobuf => row.try_get::<Option<Vec<u8>>>(1).ok().flatten().map(Cell::Bytes),
                Encoding::Json => row.try_get::<Option<String>>(1).ok().flatten().map(Cell::Text),
            };
            out.push((key, cell.unwrap_or(Cell::Other("NULL"))));
        }
        Ok(out)
    }
}

/// `LISTEN channel` on a connection of its own, turning each notification into a wake-up; reconnects
/// with backoff; ends when the follower is gone.
pub fn listen(url: &str, channel: &str, wake: mpsc::SyncSender<WakeReason>) -> Wakeups {
    let (url, channel, shown) = (url.to_string(), channel.to_string(), redact_password(url));
    let spawned = std::thread::Builder::new().name("dbl-listen".into()).spawn(move || {
        let mut wait = Duration::from_millis(100);
        loop {
            match listen_once(&url, &channel, &wake) {
                Ok(()) => return,
                Err(e) => tracing::warn!("{shown}: LISTEN {channel}: {e}; retrying in {} ms", wait.as_millis()),
            }
            std::thread::sleep(wait);
            wait = (wait * 2).min(MAX_BACKOFF);
            // The follower gone: stop.
            if wake.try_send(WakeReason::Notify).is_err_and(|e| matches!(e, mpsc::TrySendError::Disconnected(_))) {
                return;
            }
        }
    });
    match spawned {
        Ok(_) => Wakeups::none_but(true),
        Err(e) => {
            tracing::warn!("cannot start the LISTEN thread ({e}); polling only");
            Wakeups::none()
        }
    }
}

/// Listens until the connection fails (`Err`) or the follower is gone (`Ok`).
fn listen_once(url: &str, channel: &str, wake: &mpsc::SyncSender<WakeReason>) -> Result<(), postgres::Error> {
    let mut client = Client::connect(url, NoTls)?;
    client.batch_execute(&format!("LISTEN {}", quote_ident(channel)))?;
    loop {
        let notified = client.notifications().timeout_iter(Duration::from_secs(1)).next()?.is_some();
        let sent = if notified { wake.try_send(WakeReason::Notify) } else { Ok(()) };
        if let Err(mpsc::TrySendError::Disconnected(_)) = sent {
            return Ok(());
        }
        // A quiet second: check the follower is still there without waking it.
        if !notified && client.is_closed() {
            return client.simple_query("SELECT 1").map(|_| ());
        }
    }
}
