//! Appending events to a log that others may be reading (a tailing daemon) or writing (another
//! `dbl exec`): each batch is written whole, under an exclusive advisory lock, with event ids that
//! continue the log's own.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::{encode_record, Decoder, LogFormat};
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
        Ok(stamped)
    }

    /// Reads what others appended since we last looked, to learn the last event id. A file that
    /// shrank (truncated or replaced) is read again from the start.
    fn catch_up(&mut self, file: &mut File) -> io::Result<()> {
        let len = file.metadata()?.len();
        if len < self.known.len {
            self.known = Known::default();
        }
        if len == self.known.len {
            return Ok(());
        }
        file.seek(SeekFrom::Start(self.known.decoder_offset))?;
        let mut decoder = Decoder::new();
        let mut rest = Vec::new();
        file.take(len - self.known.decoder_offset).read_to_end(&mut rest)?;
        let mut last = self.known.last_event_id;
        let fed = decoder.feed(&rest, &mut |record| last = last.max(record.event.event_id));
        decoder.finish(&mut |record| last = last.max(record.event.event_id));
        if let Err(error) = fed {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is not a readable event log, refusing to append: {error}", self.path.display()),
            ));
        }
        if decoder.pending_bytes() > 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} ends in an incomplete record ({} bytes at offset {}); refusing to append after it",
                    self.path.display(),
                    decoder.pending_bytes(),
                    self.known.decoder_offset + decoder.consumed_bytes()
                ),
            ));
        }
        self.known = Known {
            len,
            format: self.known.format.or(decoder.format()),
            last_event_id: last,
            decoder_offset: self.known.decoder_offset + decoder.consumed_bytes(),
        };
        Ok(())
    }
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
    }
}
