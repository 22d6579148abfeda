//! One-shot reading of a whole log file, for the CLI's views and benchmarks.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::mpsc;

use super::{DecodeError, Decoder, LogFormat, LogRecord};

/// What reading a log to its end found, besides the records themselves.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedLog {
    pub format: Option<LogFormat>,
    /// Bytes used by complete records: where a tailer would resume.
    pub consumed_bytes: u64,
    /// Bytes of an incomplete last record (a write in progress).
    pub pending_bytes: u64,
    pub records: u64,
    pub error: Option<DecodeError>,
}

/// Bytes read at a time: small enough to stay in the decoding core's cache while it decodes them (and
/// 10 MB less peak RSS at 10M events than 4 MiB blocks), large enough that reads cost nothing.
const READ_BLOCK: usize = 256 << 10;

/// Records per batch handed from the decoding thread to the caller.
const BATCH: usize = 1024;

/// Reads `path` to its end, handing each record to `sink` in order, on the caller's thread. Reading and
/// decoding run on a second thread, so a caller that applies records to a state uses both cores.
/// Spent batches go back to the decoding thread, which frees them: allocators are fastest when memory
/// is freed by the thread that allocated it.
/// Decoding stops at the first bad record; its error is in the result, not an `Err` (that is only for I/O).
pub fn load_file(path: &Path, sink: &mut dyn FnMut(&LogRecord)) -> io::Result<LoadedLog> {
    load_file_prepared(path, |_| (), &mut |record, ()| sink(record))
}

/// [`load_file`], with `prepare` run on each record on the decoding thread and its result handed to
/// `sink` with the record: work that needs the record alone leaves the caller's thread.
pub fn load_file_prepared<P: Send>(
    path: &Path,
    prepare: impl Fn(&LogRecord) -> P + Send,
    sink: &mut dyn FnMut(&LogRecord, &P),
) -> io::Result<LoadedLog> {
    let file = File::open(path)?;
    let (batches_tx, batches) = mpsc::sync_channel::<Vec<(LogRecord, P)>>(4);
    let (spent, spent_rx) = mpsc::channel::<Vec<(LogRecord, P)>>();
    std::thread::scope(|scope| {
        let decoding = scope.spawn(move || decode_file(file, prepare, batches_tx, spent_rx));
        let mut records = 0u64;
        for batch in batches {
            records += batch.len() as u64;
            batch.iter().for_each(|(record, prepared)| sink(record, prepared));
            // The decoder may have finished already; then this batch is freed here.
            let _ = spent.send(batch);
        }
        let mut loaded = decoding.join().expect("the decoding thread does not panic")?;
        loaded.records = records;
        Ok(loaded)
    })
}

fn decode_file<P>(
    mut file: File,
    prepare: impl Fn(&LogRecord) -> P,
    batches: mpsc::SyncSender<Vec<(LogRecord, P)>>,
    spent: mpsc::Receiver<Vec<(LogRecord, P)>>,
) -> io::Result<LoadedLog> {
    let mut decoder = Decoder::new();
    let mut block = vec![0u8; READ_BLOCK];
    let mut batch = Vec::with_capacity(BATCH);
    let push = |record: LogRecord, batch: &mut Vec<(LogRecord, P)>| {
        let prepared = prepare(&record);
        batch.push((record, prepared));
        if batch.len() == BATCH {
            let next = match spent.try_recv() {
                Ok(mut reused) => {
                    reused.clear();
                    reused
                }
                Err(_) => Vec::with_capacity(BATCH),
            };
            // A caller that stopped listening wants nothing more.
            let _ = batches.send(std::mem::replace(batch, next));
        }
    };
    loop {
        let read = file.read(&mut block)?;
        if read == 0 {
            break;
        }
        if decoder.feed(&block[..read], &mut |r| push(r, &mut batch)).is_err() {
            break;
        }
    }
    decoder.finish(&mut |r| push(r, &mut batch));
    let _ = batches.send(batch);
    Ok(LoadedLog {
        format: decoder.format(),
        consumed_bytes: decoder.consumed_bytes(),
        pending_bytes: decoder.pending_bytes() as u64,
        records: 0,
        error: decoder.error().cloned(),
    })
}
