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
            let mut value = serde_json::to_value(event).expect("generated types always serialize");
            integers_as_numbers(&mut value);
            serde_json::to_writer(&mut *out, &value).expect("a Value always serializes");
            out.push(b'\n');
        }
    }
}

/// The 64-bit fields of the event model. The proto3 JSON mapping writes them as strings; DESIGN's
/// example (and every reader) takes numbers, which are exact for ids and millisecond timestamps.
const UINT64_FIELDS: [&str; 5] = ["timestamp", "event_id", "data_timestamp", "ttl_seconds", "sla_seconds"];

fn integers_as_numbers(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(fields) => {
            for (name, field) in fields.iter_mut() {
                match field {
                    serde_json::Value::String(text) if UINT64_FIELDS.contains(&name.as_str()) => {
                        if let Ok(number) = text.parse::<u64>() {
                            *field = number.into();
                        }
                    }
                    _ => integers_as_numbers(field),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(integers_as_numbers),
        _ => {}
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{manual, want_create, EventSeq};

    #[test]
    fn json_lines_look_like_designs_example() {
        let mut seq = EventSeq::after(0, 1_699_999_999_000);
        let event = seq.next(1_000, want_create("W-001", &["data/gamma"], manual("ann")));
        let mut out = Vec::new();
        encode_record(&event, LogFormat::JsonLines, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"timestamp\":1700000000000,\"event_id\":1,\"want_create_v1\":{\"want_id\":\"W-001\",\
             \"partitions\":[{\"ref\":\"data/gamma\"}],\"source\":{\"manually_triggered\":{\"user\":\"ann\"}}}}\n"
        );
    }
}
