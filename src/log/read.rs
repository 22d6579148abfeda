//! One-shot reading of a whole log file, for the CLI's views and benchmarks.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

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

/// Reads `path` to its end in large blocks, handing each record to `sink` in order. Decoding stops at
/// the first bad record; its error is in the result, not an `Err` (that is only for I/O).
pub fn load_file(path: &Path, sink: &mut dyn FnMut(LogRecord)) -> io::Result<LoadedLog> {
    let mut file = File::open(path)?;
    let mut decoder = Decoder::new();
    let mut block = vec![0u8; 4 << 20];
    let mut records = 0u64;
    let mut counting_sink = |record: LogRecord| {
        records += 1;
        sink(record);
    };
    loop {
        let read = file.read(&mut block)?;
        if read == 0 {
            break;
        }
        if decoder.feed(&block[..read], &mut counting_sink).is_err() {
            break;
        }
    }
    decoder.finish(&mut counting_sink);
    Ok(LoadedLog {
        format: decoder.format(),
        consumed_bytes: decoder.consumed_bytes(),
        pending_bytes: decoder.pending_bytes() as u64,
        records,
        error: decoder.error().cloned(),
    })
}
