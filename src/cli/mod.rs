//! The `dbl` subcommands: each is a small function over the library layers.

pub mod color;
mod daemon;
mod emit;
mod exec;
mod progress;
mod serve;
mod simulate;
mod status;
mod tail;
mod views;

pub use daemon::{daemon, DaemonArgs};
pub use emit::{emit, EmitArgs};
pub use exec::{exec, ExecArgs, JobReport};
pub use serve::{serve, ServeArgs};
pub use simulate::{simulate, SimulateArgs};
pub use status::{status, StatusArgs};
pub use tail::{tail, TailArgs};
pub use views::{
    demo, demo_text, job_run, lineage, list_job_runs, list_partitions, list_wants, partition, want, write_demo_log,
    DemoArgs, JobRunArgs, LineageArgs, ListArgs, PartitionArgs, ViewOptions, WantArgs,
};

use std::path::Path;

use anyhow::Context;

use crate::live::TableStatus;
use crate::log::source::{Position, SourceSpec};
use crate::log::tail::Poll;
use crate::log::{load_file_prepared, DecodeError, LoadedLog, LogRecord};
use crate::state::{BuildState, Prepared};
use progress::Progress;

/// What loading a whole source found, besides the state.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The source as messages show it (no password).
    pub shown: String,
    pub format: Option<&'static str>,
    pub position: Position,
    pub table: Option<TableStatus>,
    /// Files: their size.
    pub file_bytes: u64,
    /// The record that stopped decoding; the state holds what came before it.
    pub error: Option<DecodeError>,
}

/// Writes a command's output to stdout. A reader that closed it (`dbl wants … | head`) has all it
/// wanted: that ends the output, not in an error.
pub fn print_out(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        written => written.context("cannot write to stdout"),
    }
}

/// Loads what `--log` names (a file, a SQLite or a PostgreSQL database) into a fresh [`BuildState`].
pub fn load_source(log: &str) -> anyhow::Result<(BuildState, Loaded)> {
    let spec = SourceSpec::parse(log)?;
    if let Some(path) = spec.file_path() {
        let (state, loaded) = load_state(path)?;
        let position =
            Position { consumed_bytes: loaded.consumed_bytes, pending_bytes: loaded.pending_bytes, last_key: None };
        let file_bytes = std::fs::metadata(path).map_or(0, |m| m.len());
        let format = loaded.format.map(|f| f.name());
        return Ok((
            state,
            Loaded { shown: spec.display(), format, position, table: None, file_bytes, error: loaded.error },
        ));
    }
    load_table(&spec)
}

/// Records handed from a table's reading thread at a time, rather than a poll's worth: polls handed
/// over whole (4 MiB of events then, about 16 MB decoded) added 130 MiB to a 10M-event load's peak.
const TABLE_BATCH: usize = 4096;

/// A table source, polled to its end on a second thread while this one applies what it read (as
/// `load_file` does for files), so a large table loads on both cores.
fn load_table(spec: &SourceSpec) -> anyhow::Result<(BuildState, Loaded)> {
    let shown = spec.display();
    let (batches_tx, batches) = std::sync::mpsc::sync_channel::<Vec<(LogRecord, Prepared)>>(2);
    // Applied batches go back to the reader, to be emptied and filled again (`reuse_spent`).
    let (spent_tx, spent) = std::sync::mpsc::channel::<Vec<(LogRecord, Prepared)>>();
    let mut state = BuildState::new();
    let (source, error) = std::thread::scope(|scope| {
        // The sender moves into the reader: the loop below ends when the reader does.
        let reader = scope.spawn(move || -> anyhow::Result<_> {
            let next_batch = || crate::live::reuse_spent(&spent, TABLE_BATCH);
            let mut source = spec.open();
            let mut batch = next_batch();
            loop {
                let polled = source.poll(crate::live::READ_BUDGET, &mut |record| {
                    let prepared = Prepared::of(&record.event);
                    batch.push((record, prepared));
                    if batch.len() == TABLE_BATCH {
                        let _ = batches_tx.send(std::mem::replace(&mut batch, next_batch()));
                    }
                });
                // The source's errors name it already.
                let polled = polled.map_err(|e| anyhow::anyhow!("cannot read the event log: {e}"))?;
                let _ = batches_tx.send(std::mem::replace(&mut batch, next_batch()));
                match polled {
                    Poll::Missing => {
                        anyhow::bail!("{shown}: no event log there (no such database, or no table of events yet)")
                    }
                    Poll::Reset(reason) => anyhow::bail!("{shown} was {} while being read; try again", reason.name()),
                    Poll::Read(read) if read.at_end => return Ok((source, read.new_error)),
                    Poll::Read(_) => {}
                }
            }
        });
        for batch in batches {
            for (record, prepared) in &batch {
                state.apply_prepared(&record.event, record.offset, prepared);
            }
            // The reader may have finished already; then this batch is freed here.
            let _ = spent_tx.send(batch);
        }
        reader.join().expect("the reading thread does not panic")
    })?;
    let table = source.table().map(TableStatus::of);
    let loaded = Loaded {
        shown: spec.display(),
        format: source.format(),
        position: source.position(),
        table,
        file_bytes: 0,
        error,
    };
    Ok((state, loaded))
}

/// For a command whose process ends once it has answered: freeing a large state entity by entity
/// would take a second at 10M events (a fifth of loading it), for nothing.
fn end_with(state: BuildState) {
    std::mem::forget(state);
}

/// Loads a whole log file into a fresh [`BuildState`], with a progress line on a terminal for a large one.
pub fn load_state(path: &Path) -> anyhow::Result<(BuildState, LoadedLog)> {
    let size = std::fs::metadata(path).map_or(0, |m| m.len());
    let mut progress = Progress::new("loading", "bytes", size, 64 << 20);
    let mut state = BuildState::new();
    let prepare = |record: &LogRecord| Prepared::of(&record.event);
    let loaded = load_file_prepared(path, prepare, &mut |record, prepared| {
        if state.events_applied().is_multiple_of(65_536) {
            progress.update(record.offset);
        }
        state.apply_prepared(&record.event, record.offset, prepared);
    })
    .with_context(|| format!("cannot read event log {}", path.display()))?;
    progress.finish();
    Ok((state, loaded))
}
