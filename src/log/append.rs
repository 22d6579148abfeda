//! Appending events to a log that others may be reading (a tailing daemon) or writing (another
//! `dbl exec`): each batch is written whole, under an exclusive advisory lock, with event ids that
//! continue the log's own.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use prost::Message;

use super::decode::{parse_json_event, skim_binary, sniff, DEFAULT_MAX_RECORD_BYTES};
use super::{encode_record, DecodeError, DecodeErrorKind, LogFormat};
use crate::proto::{data_build_event::Event, DataBuildEvent};

/// Appends events to one log file, continuing its event ids.
#[derive(Debug)]
pub struct LogAppender {
    path: PathBuf,
    /// Used for a log that is empty or new; an existing log keeps its own format.
    default_format: LogFormat,
    /// What we know of the file: its length and last event id when we last looked.
    known: Known,
}

#[derive(Debug, Default, Clone, Copy)]
struct Known {
    len: u64,
    format: Option<LogFormat>,
    last_event_id: u64,
    decoder_offset: u64,
    /// The log's last line has no newline yet (JSON lines written by hand).
    unterminated: bool,
}

impl LogAppender {
    pub fn new(path: &Path, default_format: LogFormat) -> LogAppender {
        LogAppender { path: path.to_owned(), default_format, known: Known::default() }
    }

    /// Stamps `events` with the next event ids and the current time and appends them in one write.
    pub fn append(&mut self, events: Vec<Event>) -> io::Result<Vec<DataBuildEvent>> {
        let mut file = OpenOptions::new().create(true).read(true).append(true).open(&self.path)?;
        file.lock()?;
        let result = self.append_locked(&mut file, events);
        let unlocked = file.unlock();
        let stamped = result?;
        unlocked?;
        Ok(stamped)
    }

    fn append_locked(&mut self, file: &mut File, events: Vec<Event>) -> io::Result<Vec<DataBuildEvent>> {
        self.catch_up(file)?;
        let format = self.known.format.unwrap_or(self.default_format);
        let timestamp = now_ms();
        let mut bytes = Vec::new();
        if self.known.unterminated {
            bytes.push(b'\n');
        }
        let mut stamped = Vec::with_capacity(events.len());
        for event in events {
            self.known.last_event_id += 1;
            let event = DataBuildEvent { timestamp, event_id: self.known.last_event_id, event: Some(event) };
            encode_record(&event, format, &mut bytes);
            stamped.push(event);
        }
        file.write_all(&bytes)?;
        file.flush()?;
        self.known.len += bytes.len() as u64;
        self.known.decoder_offset = self.known.len;
        self.known.format = Some(format);
        self.known.unterminated = false;
        Ok(stamped)
    }

    /// Learns where the log's records end and the id of the last one, reading only what was appended
    /// since the last look (a file that shrank, truncated or replaced, is read again from the start).
    /// A binary log is skimmed by its length prefixes and only its last record is
    /// decoded; a JSON-lines log is read backward to its last line. So an append to a log of tens of
    /// millions of events (each `dbl exec`, each `dbl emit`) reads the log's framing at most, in blocks,
    /// never the whole log into memory.
    fn catch_up(&mut self, file: &mut File) -> io::Result<()> {
        let len = file.metadata()?.len();
        if len < self.known.len {
            self.known = Known::default();
        }
        if len == self.known.len {
            return Ok(());
        }
        let format = match self.known.format {
            Some(format) => Some(format),
            None => sniff_file(file)?,
        };
        let from = self.known.decoder_offset;
        let tail = match format {
            None => Tail { end: len, last_event_id: None, unterminated: false },
            Some(LogFormat::Binary) => self.skim_binary(file, from, len)?,
            Some(LogFormat::JsonLines) => self.last_json_line(file, from, len)?,
        };
        self.known = Known {
            len,
            format,
            last_event_id: self.known.last_event_id.max(tail.last_event_id.unwrap_or(0)),
            decoder_offset: tail.end,
            unterminated: tail.unterminated,
        };
        Ok(())
    }

    fn unreadable(&self, offset: u64, kind: DecodeErrorKind) -> io::Error {
        let error = DecodeError { offset, line: None, kind };
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is not a readable event log, refusing to append: {error}", self.path.display()),
        )
    }

    fn incomplete(&self, bytes: u64, offset: u64) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} ends in an incomplete record ({bytes} bytes at offset {offset}); refusing to append after it",
                self.path.display()
            ),
        )
    }

    /// Reads `from..len` of a binary log block by block, following the length prefixes.
    fn skim_binary(&self, file: &mut File, from: u64, len: u64) -> io::Result<Tail> {
        file.seek(SeekFrom::Start(from))?;
        let mut reader = file.take(len - from);
        let mut buf = Vec::new();
        let mut base = from;
        let mut last: Option<(u64, Vec<u8>)> = None;
        loop {
            let filled = buf.len();
            buf.resize(filled + SKIM_BLOCK, 0);
            let read = reader.read(&mut buf[filled..])?;
            buf.truncate(filled + read);
            let (used, last_in_buf) = skim_binary(&buf, DEFAULT_MAX_RECORD_BYTES)
                .map_err(|(at, kind)| self.unreadable(base + at as u64, kind))?;
            if let Some(frame) = last_in_buf {
                last = Some((base + frame.start as u64, buf[frame.body].to_vec()));
            }
            buf.drain(..used);
            base += used as u64;
            if read == 0 {
                break;
            }
        }
        if !buf.is_empty() {
            return Err(self.incomplete(buf.len() as u64, base));
        }
        let last_event_id = match last {
            None => None,
            Some((offset, body)) => Some(
                DataBuildEvent::decode(&body[..])
                    .map_err(|e| self.unreadable(offset, DecodeErrorKind::Protobuf(e.to_string())))?
                    .event_id,
            ),
        };
        Ok(Tail { end: base, last_event_id, unterminated: false })
    }

    /// Reads a JSON-lines log backward from `len` (not before `from`) to its last non-blank line.
    fn last_json_line(&self, file: &mut File, from: u64, len: u64) -> io::Result<Tail> {
        let mut window = FIRST_LOOK;
        loop {
            let start = len.saturating_sub(window).max(from);
            file.seek(SeekFrom::Start(start))?;
            let mut bytes = Vec::new();
            file.take(len - start).read_to_end(&mut bytes)?;
            let Some(last) = bytes.iter().rposition(|b| !b.is_ascii_whitespace()) else {
                if start == from {
                    return Ok(Tail { end: len, last_event_id: None, unterminated: false });
                }
                window *= 2;
                continue;
            };
            let line_start = match memchr::memrchr(b'\n', &bytes[..last]) {
                Some(newline) => newline + 1,
                None if start == from => 0,
                None if window > DEFAULT_MAX_RECORD_BYTES as u64 => {
                    let kind = DecodeErrorKind::RecordTooLarge { length: window, max: DEFAULT_MAX_RECORD_BYTES };
                    return Err(self.unreadable(start, kind));
                }
                None => {
                    window *= 2;
                    continue;
                }
            };
            let terminated = bytes[last..].contains(&b'\n');
            let offset = start + line_start as u64;
            let event = match parse_json_event(&bytes[line_start..=last]) {
                Ok(event) => event,
                // An unterminated last line that does not parse is a write in progress.
                Err(_) if !terminated => return Err(self.incomplete(len - offset, offset)),
                Err(kind) => return Err(self.unreadable(offset, kind)),
            };
            let unterminated = bytes.last() != Some(&b'\n');
            return Ok(Tail { end: len, last_event_id: Some(event.event_id), unterminated });
        }
    }
}

/// Bytes read at a time when skimming a log.
const SKIM_BLOCK: usize = 4 << 20;
/// Bytes read first at either end of a log: its start for the format, its end for the last line.
const FIRST_LOOK: u64 = 64 << 10;

/// What [`LogAppender::catch_up`] learns from the bytes it had not seen.
struct Tail {
    /// Where the complete records end.
    end: u64,
    last_event_id: Option<u64>,
    /// A JSON-lines log whose last line has no newline (hand-written): the next record starts a line.
    unterminated: bool,
}

/// The format of the log in `file`, from its first bytes; `None` while it is empty or blank.
fn sniff_file(file: &mut File) -> io::Result<Option<LogFormat>> {
    file.seek(SeekFrom::Start(0))?;
    let mut start = Vec::new();
    file.take(FIRST_LOOK).read_to_end(&mut start)?;
    Ok(sniff(&start))
}

/// Milliseconds since the epoch, for event timestamps.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// The format for a new log: JSON lines if the name says so, binary otherwise.
pub fn format_for_new_log(path: &Path) -> LogFormat {
    match path.extension().and_then(|e| e.to_str()) {
        Some("jsonl" | "json" | "ndjson") => LogFormat::JsonLines,
        _ => LogFormat::Binary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::*;
    use crate::log::load_file;

    #[test]
    fn appends_continue_event_ids_and_keep_the_existing_format() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bel.jsonl");
        let mut first = LogAppender::new(&path, format_for_new_log(&path));
        first.append(vec![want_create("W-1", &["a"], manual("u"))]).unwrap();
        // A second writer (another process) appends in between.
        let mut second = LogAppender::new(&path, LogFormat::Binary);
        let stamped = second.append(vec![want_cancel("W-1", None), want_create("W-2", &["b"], None)]).unwrap();
        assert_eq!(stamped.iter().map(|e| e.event_id).collect::<Vec<_>>(), [2, 3]);
        let stamped = first.append(vec![want_cancel("W-2", None)]).unwrap();
        assert_eq!(stamped[0].event_id, 4);
        let mut ids = Vec::new();
        let loaded = load_file(&path, &mut |r| ids.push(r.event.event_id)).unwrap();
        assert_eq!(ids, [1, 2, 3, 4]);
        assert_eq!(loaded.format, Some(LogFormat::JsonLines));
        assert_eq!(loaded.error, None);
    }

    /// The ids a plain load sees, and its error.
    fn loaded_ids(path: &Path) -> (Vec<u64>, Option<crate::log::DecodeError>) {
        let mut ids = Vec::new();
        let loaded = load_file(path, &mut |r| ids.push(r.event.event_id)).unwrap();
        (ids, loaded.error)
    }

    #[test]
    fn a_hand_written_json_log_without_its_last_newline_gets_one_before_the_append() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bel.jsonl");
        let first = r#"{"timestamp":1,"eventId":7,"wantCreateV1":{"wantId":"W-1","partitions":[{"ref":"a"}]}}"#;
        for ending in ["", "\r\n\n  \n"] {
            std::fs::write(&path, format!("{first}{ending}")).unwrap();
            let stamped = LogAppender::new(&path, LogFormat::Binary).append(vec![want_cancel("W-1", None)]).unwrap();
            assert_eq!(stamped[0].event_id, 8);
            assert_eq!(loaded_ids(&path), (vec![7, 8], None), "after {ending:?}");
        }
    }

    #[test]
    fn a_log_longer_than_a_read_block_is_skimmed_to_its_last_record() {
        let dir = tempfile::tempdir().unwrap();
        let events = crate::sim::generate_vec(crate::sim::SimConfig { events: 60_000, seed: 3 });
        for format in [LogFormat::Binary, LogFormat::JsonLines] {
            let path = dir.path().join(format!("bel.{}", format.name()));
            let mut bytes = Vec::new();
            events.iter().for_each(|e| encode_record(e, format, &mut bytes));
            assert!(bytes.len() > SKIM_BLOCK, "the log spans read blocks");
            std::fs::write(&path, &bytes).unwrap();
            let mut appender = LogAppender::new(&path, LogFormat::Binary);
            let stamped = appender.append(vec![want_cancel("W-1", None)]).unwrap();
            assert_eq!(stamped[0].event_id, 60_001);
            // Another writer appends; this appender reads only what is new.
            LogAppender::new(&path, LogFormat::Binary).append(vec![want_cancel("W-2", None)]).unwrap();
            assert_eq!(appender.append(vec![want_cancel("W-3", None)]).unwrap()[0].event_id, 60_003);
            let (ids, error) = loaded_ids(&path);
            assert_eq!((ids.len(), ids.last().copied(), error), (60_003, Some(60_003), None));
        }
    }

    #[test]
    fn refuses_to_append_after_a_corrupt_or_partial_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bel");
        std::fs::write(&path, [0x05, 0x08]).unwrap();
        let error = LogAppender::new(&path, LogFormat::Binary).append(vec![job_run_queue("JR")]).unwrap_err();
        assert!(error.to_string().contains("incomplete record (2 bytes at offset 0)"), "{error}");
        std::fs::write(&path, [0x02, 0xff, 0xff]).unwrap();
        let error = LogAppender::new(&path, LogFormat::Binary).append(vec![job_run_queue("JR")]).unwrap_err();
        assert!(error.to_string().contains("byte offset 0"), "{error}");
        // JSON lines: a last line cut short is a write in progress; a bad complete one is named.
        let path = dir.path().join("bel.jsonl");
        std::fs::write(&path, "{\"eventId\":1}\n{\"eventId\":2,\"want").unwrap();
        let error = LogAppender::new(&path, LogFormat::Binary).append(vec![job_run_queue("JR")]).unwrap_err();
        assert!(error.to_string().contains("incomplete record (18 bytes at offset 14)"), "{error}");
        std::fs::write(&path, "{\"eventId\":1}\n{\"eventId\":\"two\"}\n").unwrap();
        let error = LogAppender::new(&path, LogFormat::Binary).append(vec![job_run_queue("JR")]).unwrap_err();
        assert!(error.to_string().contains("not a readable event log") && error.to_string().contains("byte offset 14"), "{error}");
    }
}
