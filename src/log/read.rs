//! One-shot reading of a whole log file, for the CLI's views and benchmarks.
//!
//! Two threads share the work: a reading thread reads blocks and frames them into records (cheap), and
//! both it and the caller's thread decode blocks of records (dear), while the caller applies them in
//! order. The caller decodes only when the next block is not decoded yet, so when applying is the
//! slower half it never decodes, and when decoding is (JSON lines, or a busy machine) neither thread
//! waits for the other.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::{Condvar, Mutex, MutexGuard};

use super::{DecodeError, Decoder, LogFormat, LogRecord, RawRecord};

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

/// Bytes read (and records decoded) at a time: a block's records are the unit of work the two threads
/// share. Small enough to stay in cache while decoded, large enough that handing blocks over costs
/// little (thousands of records each: hand-overs of a thousand records were measurably slower).
const READ_BLOCK: usize = 512 << 10;

/// Blocks read ahead of the one being applied, framed or decoded: enough that a thread finding the next
/// block taken has another to decode. A decoded block of 512 KiB is about 2 MB in memory: at 10M events
/// three of them add 10 MiB to the peak (four added up to 18 MiB, and were no faster).
const LOOKAHEAD: usize = 3;

/// Reads `path` to its end, handing each record to `sink` in order, on the caller's thread, with both
/// cores decoding (see the module's comment). Decoding stops at the first bad record; its error is in
/// the result, not an `Err` (that is only for I/O).
pub fn load_file(path: &Path, sink: &mut dyn FnMut(&LogRecord)) -> io::Result<LoadedLog> {
    load_file_prepared(path, |_| (), &mut |record, ()| sink(record))
}

/// [`load_file`], with `prepare` run on each record by whichever thread decodes it, its result handed
/// to `sink` with the record: work that needs the record alone is shared like decoding.
pub fn load_file_prepared<P: Send>(
    path: &Path,
    prepare: impl Fn(&LogRecord) -> P + Sync,
    sink: &mut dyn FnMut(&LogRecord, &P),
) -> io::Result<LoadedLog> {
    let file = File::open(path)?;
    let shared = Shared::default();
    std::thread::scope(|scope| {
        let reading = scope.spawn(|| {
            let read = read_file(file, &shared, &prepare);
            // On an I/O error too: the caller must not wait for blocks that will never come.
            shared.lock().read_to_end = true;
            shared.changed.notify_all();
            read
        });
        let applied = apply_blocks(&shared, &prepare, sink);
        let read = reading.join().expect("the reading thread does not panic")?;
        let (records, decode_error) = applied;
        Ok(match decode_error {
            // Nothing after the bad record counts, whatever the reader framed past it.
            Some(error) => LoadedLog {
                format: read.format,
                consumed_bytes: error.offset,
                pending_bytes: 0,
                records,
                error: Some(error),
            },
            None => LoadedLog { records, ..read },
        })
    })
}

/// What the two threads share: blocks in log order, from the next to apply.
struct Shared<P> {
    queue: Mutex<Queue<P>>,
    changed: Condvar,
}

impl<P> Default for Shared<P> {
    fn default() -> Self {
        Shared {
            queue: Mutex::new(Queue {
                blocks: VecDeque::new(),
                first: 0,
                read_to_end: false,
                stopped: false,
                spent: Vec::new(),
            }),
            changed: Condvar::new(),
        }
    }
}

impl<P> Shared<P> {
    fn lock(&self) -> MutexGuard<'_, Queue<P>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait<'a>(&self, queue: MutexGuard<'a, Queue<P>>) -> MutexGuard<'a, Queue<P>> {
        self.changed.wait(queue).unwrap_or_else(|e| e.into_inner())
    }
}

struct Queue<P> {
    blocks: VecDeque<Block<P>>,
    /// The number of `blocks[0]` in the log's sequence of blocks.
    first: u64,
    /// The reader has framed every block it will.
    read_to_end: bool,
    /// The caller found a bad record: blocks after it are not wanted.
    stopped: bool,
    /// Records decoded by the reading thread and applied: it frees them (allocators are fastest when
    /// memory is freed by the thread that allocated it).
    spent: Vec<Vec<(LogRecord, P)>>,
}

impl<P> Queue<P> {
    /// The first block waiting to be decoded, taken (left as `Decoding`), with its number.
    fn take_framed(&mut self) -> Option<(u64, Framed)> {
        let i = self.blocks.iter().position(|b| matches!(b, Block::Framed(_)))?;
        let Block::Framed(framed) = std::mem::replace(&mut self.blocks[i], Block::Decoding) else { unreachable!() };
        Some((self.first + i as u64, framed))
    }

    fn put_decoded(&mut self, number: u64, decoded: Decoded<P>) {
        let i = (number - self.first) as usize;
        self.blocks[i] = Block::Decoded(decoded);
    }
}

enum Block<P> {
    Framed(Framed),
    /// Taken by a thread that is decoding it.
    Decoding,
    Decoded(Decoded<P>),
}

/// A block's complete records, framed but not decoded.
struct Framed {
    format: LogFormat,
    bytes: Vec<u8>,
    records: Vec<Span>,
}

/// Where one record lies in its block's bytes, and in the log.
struct Span {
    start: u32,
    end: u32,
    offset: u64,
    line: Option<u64>,
}

struct Decoded<P> {
    records: Vec<(LogRecord, P)>,
    /// The bad record the block's decoding stopped at, after `records`.
    error: Option<DecodeError>,
    by_reader: bool,
}

impl Framed {
    fn decode<P>(&self, prepare: &impl Fn(&LogRecord) -> P, by_reader: bool) -> Decoded<P> {
        let mut records = Vec::with_capacity(self.records.len());
        for span in &self.records {
            let raw = RawRecord {
                format: self.format,
                offset: span.offset,
                line: span.line,
                bytes: &self.bytes[span.start as usize..span.end as usize],
            };
            match raw.decode() {
                Ok(event) => {
                    let record = LogRecord { offset: span.offset, event };
                    let prepared = prepare(&record);
                    records.push((record, prepared));
                }
                Err(kind) => return Decoded { records, error: Some(raw.error(kind)), by_reader },
            }
        }
        Decoded { records, error: None, by_reader }
    }
}

/// The caller's half: applies blocks in order, decoding the next one itself when the reader has not.
/// Returns the records applied and the bad record that stopped them, if any.
fn apply_blocks<P: Send>(
    shared: &Shared<P>,
    prepare: &impl Fn(&LogRecord) -> P,
    sink: &mut dyn FnMut(&LogRecord, &P),
) -> (u64, Option<DecodeError>) {
    let _stop = StopOnDrop(shared);
    let mut applied = 0u64;
    let mut queue = shared.lock();
    loop {
        let decoded = match queue.blocks.front() {
            None if queue.read_to_end => return (applied, None),
            None => {
                queue = shared.wait(queue);
                continue;
            }
            Some(Block::Decoded(_)) => {
                let Some(Block::Decoded(decoded)) = queue.blocks.pop_front() else { unreachable!() };
                queue.first += 1;
                // The reader may be waiting for room to read ahead.
                shared.changed.notify_all();
                drop(queue);
                decoded
            }
            Some(Block::Framed(_)) => {
                let Some(Block::Framed(framed)) = queue.blocks.pop_front() else { unreachable!() };
                queue.first += 1;
                shared.changed.notify_all();
                drop(queue);
                framed.decode(prepare, false)
            }
            Some(Block::Decoding) => {
                // The reader is decoding the next block: decode a later one meanwhile, or wait.
                match queue.take_framed() {
                    Some((number, framed)) => {
                        drop(queue);
                        let decoded = framed.decode(prepare, false);
                        queue = shared.lock();
                        queue.put_decoded(number, decoded);
                    }
                    None => queue = shared.wait(queue),
                }
                continue;
            }
        };
        decoded.records.iter().for_each(|(record, prepared)| sink(record, prepared));
        applied += decoded.records.len() as u64;
        let error = decoded.error;
        queue = shared.lock();
        if decoded.by_reader {
            queue.spent.push(decoded.records);
        }
        if error.is_some() {
            return (applied, error);
        }
    }
}

/// Tells the reading thread to stop when the caller's half ends, however it ends (after a bad record,
/// or a panicking sink), so that it never waits for room that will not come.
struct StopOnDrop<'a, P>(&'a Shared<P>);

impl<P> Drop for StopOnDrop<'_, P> {
    fn drop(&mut self) {
        self.0.lock().stopped = true;
        self.0.changed.notify_all();
    }
}

/// The reading thread's half: reads and frames blocks while there is room ahead, and decodes framed
/// blocks otherwise. Returns what framing found (a framing error, such as a bad length prefix, ends
/// the log there; a decoding error is found by whichever thread decodes the record).
fn read_file<P: Send>(mut file: File, shared: &Shared<P>, prepare: &impl Fn(&LogRecord) -> P) -> io::Result<LoadedLog> {
    let mut decoder = Decoder::new();
    // The start of a record the last block ended inside.
    let mut carry: Vec<u8> = Vec::new();
    let mut framing_error = None;
    let mut at_end = false;
    loop {
        let mut queue = shared.lock();
        if queue.stopped {
            break;
        }
        if !queue.spent.is_empty() {
            let spent = std::mem::take(&mut queue.spent);
            drop(queue);
            drop(spent);
            continue;
        }
        if !at_end && queue.blocks.len() < LOOKAHEAD {
            drop(queue);
            let (framed, ending) = read_block(&mut file, &mut decoder, &mut carry)?;
            if let Some(framed) = framed {
                shared.lock().blocks.push_back(Block::Framed(framed));
                shared.changed.notify_all();
            }
            match ending {
                Ending::More => {}
                Ending::End => at_end = true,
                Ending::Bad(error) => {
                    framing_error = Some(error);
                    at_end = true;
                }
            }
            continue;
        }
        if let Some((number, framed)) = queue.take_framed() {
            drop(queue);
            let decoded = framed.decode(prepare, true);
            shared.lock().put_decoded(number, decoded);
            shared.changed.notify_all();
        } else if at_end {
            break;
        } else {
            drop(shared.wait(queue));
        }
    }
    if framing_error.is_none() {
        // What the last block left: an incomplete record (a write in progress), or an unterminated last
        // line, which a one-shot decoder reads as the end of a hand-written log. The decoder's own `finish`
        // decides, so a file reads the same here as fed to one decoder.
        let mut last = Vec::new();
        match decoder.feed(&carry, &mut |record| last.push(record)) {
            Ok(()) => {
                decoder.finish(&mut |record| last.push(record));
            }
            Err(error) => framing_error = Some(error),
        }
        if !last.is_empty() {
            let records = last
                .into_iter()
                .map(|record| {
                    let prepared = prepare(&record);
                    (record, prepared)
                })
                .collect();
            shared.lock().blocks.push_back(Block::Decoded(Decoded { records, error: None, by_reader: false }));
        }
    }
    Ok(LoadedLog {
        format: decoder.format(),
        consumed_bytes: decoder.consumed_bytes(),
        pending_bytes: decoder.pending_bytes() as u64,
        records: 0,
        error: framing_error,
    })
}

/// How reading a block ended.
enum Ending {
    More,
    /// The file's end.
    End,
    /// A framing error (a bad length prefix): nothing after it is read.
    Bad(DecodeError),
}

/// Reads a block after `carry` and frames its complete records (none if the block ends inside the
/// first, or before the format can be told); the incomplete rest becomes `carry`.
fn read_block(file: &mut File, decoder: &mut Decoder, carry: &mut Vec<u8>) -> io::Result<(Option<Framed>, Ending)> {
    let mut bytes = std::mem::take(carry);
    let start = bytes.len();
    bytes.resize(start + READ_BLOCK, 0);
    let read = file.read(&mut bytes[start..])?;
    bytes.truncate(start + read);
    if read == 0 {
        *carry = bytes;
        return Ok((None, Ending::End));
    }
    let mut records = Vec::new();
    let framed = decoder.frame(&bytes, &mut |raw| {
        let start = raw.bytes.as_ptr() as usize - bytes.as_ptr() as usize;
        let (start, end) = (start as u32, (start + raw.bytes.len()) as u32);
        records.push(Span { start, end, offset: raw.offset, line: raw.line });
        Ok(())
    });
    let ending = match framed {
        Ok(used) => {
            *carry = bytes[used..].to_vec();
            Ending::More
        }
        Err(error) => Ending::Bad(error),
    };
    let framed = match decoder.format() {
        Some(format) if !records.is_empty() => Some(Framed { format, bytes, records }),
        _ => None,
    };
    Ok((framed, ending))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::encode_record;
    use crate::sim::{generate_vec, SimConfig};

    /// What a single decoder fed the whole file at once (and finished) says: the reference.
    fn decoded_at_once(bytes: &[u8]) -> (Vec<LogRecord>, LoadedLog) {
        let mut decoder = Decoder::new();
        let mut records = Vec::new();
        let _ = decoder.feed(bytes, &mut |r| records.push(r));
        decoder.finish(&mut |r| records.push(r));
        let loaded = LoadedLog {
            format: decoder.format(),
            consumed_bytes: decoder.consumed_bytes(),
            pending_bytes: decoder.pending_bytes() as u64,
            records: records.len() as u64,
            error: decoder.error().cloned(),
        };
        (records, loaded)
    }

    fn loaded(bytes: &[u8]) -> (Vec<LogRecord>, LoadedLog) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bel");
        std::fs::write(&path, bytes).unwrap();
        let mut records = Vec::new();
        let loaded = load_file(&path, &mut |r| records.push(r.clone())).unwrap();
        (records, loaded)
    }

    /// A log of many blocks, so both threads decode and blocks are read ahead.
    fn log(format: LogFormat) -> Vec<u8> {
        let mut bytes = Vec::new();
        for event in generate_vec(SimConfig { events: 40_000, seed: 7 }) {
            encode_record(&event, format, &mut bytes);
        }
        assert!(bytes.len() > 4 * READ_BLOCK, "a log of {} bytes is too short to test read-ahead", bytes.len());
        bytes
    }

    #[test]
    fn loading_on_two_threads_agrees_with_one_decoder_on_whole_and_damaged_logs() {
        for format in [LogFormat::Binary, LogFormat::JsonLines] {
            let whole = log(format);
            let third = whole.len() / 3;
            let mut damaged: Vec<(&str, Vec<u8>)> = vec![
                ("whole", whole.clone()),
                ("cut mid-record", whole[..whole.len() - 40].to_vec()),
                ("empty", Vec::new()),
                ("one byte", whole[..1].to_vec()),
            ];
            for at in [third, 2 * third, whole.len() - 3] {
                let mut corrupt = whole.clone();
                corrupt[at..at + 3].copy_from_slice(&[0xff, 0xff, 0xff]);
                damaged.push(("corrupt bytes", corrupt));
            }
            if format == LogFormat::JsonLines {
                let unterminated = &whole[..whole.len() - 1];
                damaged.push(("unterminated last line", unterminated.to_vec()));
                damaged
                    .push(("blank lines and blank end", [&whole[..third], b"\n  \n", &whole[third..], b"  "].concat()));
                damaged.push(("byte order mark", [b"\xEF\xBB\xBF".as_slice(), &whole].concat()));
            }
            for (what, bytes) in damaged {
                let (expected_records, expected) = decoded_at_once(&bytes);
                let (records, loaded) = loaded(&bytes);
                assert_eq!(loaded, expected, "{format:?}, {what}");
                assert!(records == expected_records, "{format:?}, {what}: records differ");
            }
        }
    }
}
