//! Writing BEL records, for the commands that write a log (`simulate`, `exec`, `emit`, `demo`).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use prost::Message;

use super::LogFormat;
use crate::proto::DataBuildEvent;

/// Appends one record to `out` in `format`: a length-delimited protobuf message, or a JSON line.
pub fn encode_record(event: &DataBuildEvent, format: LogFormat, out: &mut Vec<u8>) {
    match format {
        LogFormat::Binary => event.encode_length_delimited(out).expect("a Vec grows as needed"),
        LogFormat::JsonLines => {
            serde_json::to_writer(&mut *out, event).expect("generated types always serialize");
            out.push(b'\n');
        }
    }
}

/// Buffers encoded records and writes them out in large blocks.
pub struct EventWriter<W: Write> {
    out: W,
    format: LogFormat,
    buffer: Vec<u8>,
    written_events: u64,
}

impl EventWriter<File> {
    /// Opens `path` for appending, creating it if needed.
    pub fn append_to(path: &Path, format: LogFormat) -> io::Result<EventWriter<File>> {
        Ok(EventWriter::new(OpenOptions::new().create(true).append(true).open(path)?, format))
    }
}

impl<W: Write> EventWriter<W> {
    pub fn new(out: W, format: LogFormat) -> EventWriter<W> {
        EventWriter { out, format, buffer: Vec::with_capacity(1 << 20), written_events: 0 }
    }

    pub fn write(&mut self, event: &DataBuildEvent) -> io::Result<()> {
        encode_record(event, self.format, &mut self.buffer);
        self.written_events += 1;
        if self.buffer.len() >= 1 << 20 {
            self.flush()?;
        }
        Ok(())
    }

    pub fn written_events(&self) -> u64 {
        self.written_events
    }

    /// Writes out what is buffered, each record whole (a reader may be tailing this file).
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.write_all(&self.buffer)?;
        self.buffer.clear();
        self.out.flush()
    }

    pub fn into_inner(mut self) -> io::Result<W> {
        self.flush()?;
        Ok(self.out)
    }
}
