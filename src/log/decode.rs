//! Incremental decoding: bytes arrive in arbitrary chunks (a tailer reads whatever the writer has
//! flushed), so a record split across chunks must decode exactly as if it came whole.

use memchr::memchr;
use prost::Message;

use super::{LogFormat, LogRecord};
use crate::proto::DataBuildEvent;

/// Records longer than this are refused: a corrupt length prefix must not make us buffer gigabytes.
pub const DEFAULT_MAX_RECORD_BYTES: usize = 16 * 1024 * 1024;

/// A record that could not be decoded. Decoding stops there: nothing after it is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Byte offset of the first byte of the bad record (for a table source, the row's key).
    pub offset: u64,
    /// 1-based line number, for JSON lines.
    pub line: Option<u64>,
    pub kind: DecodeErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeErrorKind {
    #[error("length prefix is not a valid varint")]
    BadLengthPrefix,
    #[error("record declares {length} bytes, more than the maximum of {max}")]
    RecordTooLarge { length: u64, max: usize },
    #[error("invalid protobuf DataBuildEvent: {0}")]
    Protobuf(String),
    #[error("invalid JSON DataBuildEvent at column {column}: {message}")]
    Json { column: usize, message: String },
    #[error("line is not valid UTF-8")]
    NotUtf8,
    /// A row of a table source whose event column does not hold an event.
    #[error("table {table}, key {key}, column {column}: {message}")]
    BadRow { table: String, key: i64, column: String, message: String },
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.kind, self.line) {
            (DecodeErrorKind::BadRow { .. }, _) => write!(f, "{}", self.kind),
            (kind, Some(line)) => write!(f, "{kind} (record at byte offset {}, line {line})", self.offset),
            (kind, None) => write!(f, "{kind} (record at byte offset {})", self.offset),
        }
    }
}

impl std::error::Error for DecodeError {}

/// A complete record as framed by [`Decoder::frame`], not decoded yet.
#[derive(Debug, Clone, Copy)]
pub struct RawRecord<'a> {
    pub format: LogFormat,
    /// Byte offset of the record's first byte (its length prefix, or its line's first byte).
    pub offset: u64,
    /// 1-based line number, for JSON lines.
    pub line: Option<u64>,
    /// The record's body: the protobuf message, or the line without its newline.
    pub bytes: &'a [u8],
}

impl RawRecord<'_> {
    pub fn decode(&self) -> Result<DataBuildEvent, DecodeErrorKind> {
        match self.format {
            LogFormat::Binary => {
                DataBuildEvent::decode(self.bytes).map_err(|e| DecodeErrorKind::Protobuf(e.to_string()))
            }
            LogFormat::JsonLines => parse_json_event(self.bytes),
        }
    }

    /// The error that decoding this record gave, where the log says it is.
    pub fn error(&self, kind: DecodeErrorKind) -> DecodeError {
        DecodeError { offset: self.offset, line: self.line, kind }
    }
}

/// A line (or a log's unterminated end) with nothing but blank space: no record.
fn is_blank(bytes: &[u8]) -> bool {
    bytes.iter().all(u8::is_ascii_whitespace)
}

/// Turns a byte stream into [`LogRecord`]s, one chunk at a time.
///
/// The format is sniffed from the first non-blank bytes: a JSON-lines log starts with `{` followed by
/// `"`, `}` or blank space. A binary log starts with a length prefix (which may be the byte `{`, 123)
/// followed by a field tag, which is never one of those.
#[derive(Debug)]
pub struct Decoder {
    format: Option<LogFormat>,
    /// Bytes received but not yet decoded: at most one incomplete record.
    pending: Vec<u8>,
    /// Byte offset of `pending[0]` in the log.
    offset: u64,
    /// 1-based number of the line starting at `offset` (JSON lines only).
    line: u64,
    max_record_bytes: usize,
    error: Option<DecodeError>,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new()
    }
}

impl Decoder {
    pub fn new() -> Decoder {
        Decoder::with_max_record_bytes(DEFAULT_MAX_RECORD_BYTES)
    }

    pub fn with_max_record_bytes(max_record_bytes: usize) -> Decoder {
        Decoder { format: None, pending: Vec::new(), offset: 0, line: 1, max_record_bytes, error: None }
    }

    /// The sniffed format, once enough bytes have arrived to tell.
    pub fn format(&self) -> Option<LogFormat> {
        self.format
    }

    /// Bytes consumed by complete records (and skipped blank lines): where the next record starts.
    pub fn consumed_bytes(&self) -> u64 {
        self.offset
    }

    /// Bytes of an incomplete record at the end, waiting for the rest.
    pub fn pending_bytes(&self) -> usize {
        self.pending.len()
    }

    /// A decoder for a log of `format` whose first `offset` bytes (`line - 1` lines) were decoded
    /// before: it goes on from there, as if it had read them.
    pub fn resume(format: LogFormat, offset: u64, line: u64) -> Decoder {
        Decoder { format: Some(format), offset, line, ..Decoder::new() }
    }

    /// The 1-based line the next record starts on (JSON lines; 1 for the binary form).
    pub fn line(&self) -> u64 {
        self.line
    }

    /// The error that stopped decoding, if any.
    pub fn error(&self) -> Option<&DecodeError> {
        self.error.as_ref()
    }

    /// Decodes every complete record in `pending + chunk`, handing each to `sink` in order.
    /// After an error nothing more is decoded; the same error is returned again on every call.
    pub fn feed(&mut self, chunk: &[u8], sink: &mut dyn FnMut(LogRecord)) -> Result<(), DecodeError> {
        if let Some(error) = &self.error {
            return Err(error.clone());
        }
        let result = if self.pending.is_empty() {
            // Fast path: decode straight from the caller's chunk, copying only the incomplete tail.
            let used = self.decode_from(chunk, sink);
            if let Ok(used) = used {
                self.pending.extend_from_slice(&chunk[used..]);
            }
            used.map(|_| ())
        } else {
            let mut bytes = std::mem::take(&mut self.pending);
            bytes.extend_from_slice(chunk);
            let used = self.decode_from(&bytes, sink);
            if let Ok(used) = used {
                bytes.drain(..used);
            }
            self.pending = bytes;
            used.map(|_| ())
        };
        if let Err(error) = &result {
            self.pending.clear();
            self.error = Some(error.clone());
        }
        result
    }

    /// Decodes complete records from the start of `bytes`; returns how many bytes they used.
    fn decode_from(&mut self, bytes: &[u8], sink: &mut dyn FnMut(LogRecord)) -> Result<usize, DecodeError> {
        self.frame(bytes, &mut |record| {
            let event = record.decode()?;
            sink(LogRecord { offset: record.offset, event });
            Ok(())
        })
    }

    /// The framing half of decoding: hands each complete record at the start of `bytes` to `record`
    /// undecoded, and returns how many bytes they used (the caller keeps the rest for the next call).
    /// The decoder's position moves on as if it had decoded them; an error from `record` stops framing
    /// there, as a decoding error would. For readers that decode records elsewhere (`load_file`).
    pub fn frame(
        &mut self,
        bytes: &[u8],
        record: &mut dyn FnMut(RawRecord<'_>) -> Result<(), DecodeErrorKind>,
    ) -> Result<usize, DecodeError> {
        if self.format.is_none() {
            self.format = sniff(bytes);
        }
        match self.format {
            None => Ok(0),
            Some(LogFormat::Binary) => self.frame_binary(bytes, record),
            Some(LogFormat::JsonLines) => self.frame_json_lines(bytes, record),
        }
    }

    fn frame_binary(
        &mut self,
        bytes: &[u8],
        record: &mut dyn FnMut(RawRecord<'_>) -> Result<(), DecodeErrorKind>,
    ) -> Result<usize, DecodeError> {
        let mut at = 0;
        loop {
            let rest = &bytes[at..];
            let Some(body) = next_frame(rest, self.max_record_bytes).map_err(|kind| self.error_at(0, kind))? else {
                return Ok(at);
            };
            let raw =
                RawRecord { format: LogFormat::Binary, offset: self.offset, line: None, bytes: &rest[body.clone()] };
            record(raw).map_err(|kind| self.error_at(0, kind))?;
            self.offset += body.end as u64;
            at += body.end;
        }
    }

    fn frame_json_lines(
        &mut self,
        bytes: &[u8],
        record: &mut dyn FnMut(RawRecord<'_>) -> Result<(), DecodeErrorKind>,
    ) -> Result<usize, DecodeError> {
        let mut at = 0;
        while at < bytes.len() {
            let rest = &bytes[at..];
            let Some(newline) = memchr(b'\n', rest) else {
                if rest.len() > self.max_record_bytes {
                    let kind =
                        DecodeErrorKind::RecordTooLarge { length: rest.len() as u64, max: self.max_record_bytes };
                    return Err(self.error_at(self.line, kind));
                }
                // An unterminated last line is a write in progress.
                return Ok(at);
            };
            let line = &rest[..newline];
            if line.len() > self.max_record_bytes {
                let kind = DecodeErrorKind::RecordTooLarge { length: line.len() as u64, max: self.max_record_bytes };
                return Err(self.error_at(self.line, kind));
            }
            if !is_blank(line) {
                let raw =
                    RawRecord { format: LogFormat::JsonLines, offset: self.offset, line: Some(self.line), bytes: line };
                record(raw).map_err(|kind| self.error_at(self.line, kind))?;
            }
            self.offset += newline as u64 + 1;
            self.line += 1;
            at += newline + 1;
        }
        Ok(at)
    }

    /// Decodes an unterminated final JSON line, for one-shot readers at end of file: a hand-written
    /// log often lacks the last newline. Returns `false` (and leaves it pending) if it is incomplete.
    pub fn finish(&mut self, sink: &mut dyn FnMut(LogRecord)) -> bool {
        if self.error.is_some() || self.format != Some(LogFormat::JsonLines) || self.pending.is_empty() {
            return false;
        }
        if is_blank(&self.pending) {
            self.offset += self.pending.len() as u64;
            self.pending.clear();
            return true;
        }
        match parse_json_event(&self.pending) {
            Ok(event) => {
                sink(LogRecord { offset: self.offset, event });
                self.offset += self.pending.len() as u64;
                self.pending.clear();
                true
            }
            Err(_) => false,
        }
    }

    fn error_at(&self, line: u64, kind: DecodeErrorKind) -> DecodeError {
        let line = (self.format == Some(LogFormat::JsonLines)).then_some(line);
        DecodeError { offset: self.offset, line, kind }
    }
}

pub(crate) fn sniff(bytes: &[u8]) -> Option<LogFormat> {
    const BOM: &[u8] = b"\xEF\xBB\xBF";
    if bytes.len() < BOM.len() && BOM.starts_with(bytes) {
        // Maybe the start of a JSON log's byte order mark: wait for the rest (found by fuzzing).
        return None;
    }
    let bytes = bytes.strip_prefix(BOM).unwrap_or(bytes);
    let first = *bytes.first()?;
    if first == b'{' {
        // A binary record of exactly 123 bytes also starts with `{`; what follows tells them apart.
        return match bytes.get(1) {
            None => None,
            Some(b) if b.is_ascii_whitespace() || matches!(b, b'"' | b'}') => Some(LogFormat::JsonLines),
            Some(_) => Some(LogFormat::Binary),
        };
    }
    if first.is_ascii_whitespace() {
        // Either JSON after blank space, or a binary record whose length byte happens to be 9, 10, 13
        // or 32. The byte after a binary length prefix is a field tag, never blank and never `{`.
        return match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            None => None,
            Some(b'{') => Some(LogFormat::JsonLines),
            Some(_) => Some(LogFormat::Binary),
        };
    }
    Some(LogFormat::Binary)
}

/// A record of a binary log, found by its framing: where it starts and where its body lies.
pub(crate) struct Frame {
    pub start: usize,
    pub body: std::ops::Range<usize>,
}

/// A binary log's framing, not its contents: how many bytes at the start of `bytes` are complete
/// records, and the last of them. For finding the end of a long log without decoding it. A bad length
/// prefix is an error at its offset in `bytes`.
pub(crate) fn skim_binary(
    bytes: &[u8],
    max_record_bytes: usize,
) -> Result<(usize, Option<Frame>), (usize, DecodeErrorKind)> {
    let (mut at, mut last) = (0, None);
    while let Some(body) = next_frame(&bytes[at..], max_record_bytes).map_err(|kind| (at, kind))? {
        last = Some(Frame { start: at, body: at + body.start..at + body.end });
        at += body.end;
    }
    Ok((at, last))
}

/// The body of the length-prefixed record at the start of `bytes` (the record ends where the body
/// does); `Ok(None)` if the bytes end inside it.
fn next_frame(bytes: &[u8], max_record_bytes: usize) -> Result<Option<std::ops::Range<usize>>, DecodeErrorKind> {
    let Some((length, prefix)) = read_varint(bytes)? else { return Ok(None) };
    if length > max_record_bytes as u64 {
        return Err(DecodeErrorKind::RecordTooLarge { length, max: max_record_bytes });
    }
    let end = prefix + length as usize;
    Ok((bytes.len() >= end).then_some(prefix..end))
}

/// Reads a protobuf varint. `Ok(None)` means the bytes end inside it (wait for more).
fn read_varint(bytes: &[u8]) -> Result<Option<(u64, usize)>, DecodeErrorKind> {
    let mut value: u64 = 0;
    for (i, &byte) in bytes.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(Some((value, i + 1)));
        }
    }
    if bytes.len() >= 10 {
        Err(DecodeErrorKind::BadLengthPrefix)
    } else {
        Ok(None)
    }
}

pub(crate) fn parse_json_event(line: &[u8]) -> Result<DataBuildEvent, DecodeErrorKind> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    // Checked once here, so serde_json reads it as text and does not check each string again.
    let line = std::str::from_utf8(line).map_err(|_| DecodeErrorKind::NotUtf8)?;
    if let Some(event) = super::json_event::parse(line) {
        return Ok(event);
    }
    serde_json::from_str(line)
        .map_err(|e| DecodeErrorKind::Json { column: e.column(), message: strip_serde_position(&e.to_string()) })
}

/// serde_json appends " at line L column C"; we report line and column ourselves.
fn strip_serde_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::encode_record;
    use crate::proto::{data_build_event::Event, JobRunQueueEventV1};

    fn event(id: u64) -> DataBuildEvent {
        DataBuildEvent {
            timestamp: 1_700_000_000_000 + id,
            event_id: id,
            event: Some(Event::JobRunQueueV1(JobRunQueueEventV1 { job_run_id: format!("JR-{id}") })),
        }
    }

    fn decode_all(decoder: &mut Decoder, chunks: &[&[u8]]) -> (Vec<LogRecord>, Option<DecodeError>) {
        let mut out = Vec::new();
        let mut error = None;
        for chunk in chunks {
            if let Err(e) = decoder.feed(chunk, &mut |r| out.push(r)) {
                error = Some(e);
            }
        }
        (out, error)
    }

    #[test]
    fn binary_record_split_at_every_byte_decodes_the_same() {
        let mut log = Vec::new();
        for id in 1..=3 {
            encode_record(&event(id), LogFormat::Binary, &mut log);
        }
        let mut decoder = Decoder::new();
        let chunks: Vec<&[u8]> = log.chunks(1).collect();
        let (records, error) = decode_all(&mut decoder, &chunks);
        assert_eq!(error, None);
        assert_eq!(records.iter().map(|r| r.event.clone()).collect::<Vec<_>>(), vec![event(1), event(2), event(3)]);
        assert_eq!(decoder.consumed_bytes(), log.len() as u64);
        assert_eq!(decoder.format(), Some(LogFormat::Binary));
    }

    #[test]
    fn incomplete_trailing_record_waits() {
        let mut log = Vec::new();
        encode_record(&event(1), LogFormat::Binary, &mut log);
        let first_len = log.len();
        encode_record(&event(2), LogFormat::Binary, &mut log);
        let mut decoder = Decoder::new();
        let (records, error) = decode_all(&mut decoder, &[&log[..log.len() - 3]]);
        assert_eq!((records.len(), error), (1, None));
        assert_eq!(decoder.consumed_bytes(), first_len as u64);
        assert_eq!(decoder.pending_bytes(), log.len() - 3 - first_len);
    }

    #[test]
    fn json_accepts_both_name_spellings_and_string_integers() {
        let log = concat!(
            "{\"timestamp\":1700000000000,\"event_id\":1,\"want_create_v1\":{\"want_id\":\"W-001\",\"partitions\":[{\"ref\":\"data/gamma\"}]}}\n",
            "\n",
            "{\"timestamp\":\"1700000000001\",\"eventId\":\"2\",\"wantCreateV1\":{\"wantId\":\"W-002\",\"dataTimestamp\":\"5\"}}\n",
        );
        let mut decoder = Decoder::new();
        let (records, error) = decode_all(&mut decoder, &[log.as_bytes()]);
        assert_eq!(error, None);
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].event.event_id, 2);
        assert_eq!(records[1].offset, log.find("{\"timestamp\":\"").unwrap() as u64);
        let Some(Event::WantCreateV1(want)) = &records[1].event.event else { panic!("want create expected") };
        assert_eq!((want.want_id.as_str(), want.data_timestamp), ("W-002", 5));
    }

    #[test]
    fn corrupt_json_line_names_offset_and_line_and_stops() {
        let good = "{\"event_id\":1,\"job_run_queue_v1\":{\"job_run_id\":\"JR-1\"}}\n";
        let log = format!("{good}{{\"event_id\":2,\"job_run_queue_v1\":{{\"job_run_id\":7}}}}\n{good}");
        let mut decoder = Decoder::new();
        let (records, error) = decode_all(&mut decoder, &[log.as_bytes()]);
        assert_eq!(records.len(), 1);
        let error = error.expect("an error");
        assert_eq!((error.offset, error.line), (good.len() as u64, Some(2)));
        assert!(error.to_string().contains("byte offset 56, line 2"), "{error}");
        // Latched: later bytes are never decoded past the bad record.
        assert!(decoder.feed(good.as_bytes(), &mut |_| panic!("decoded past an error")).is_err());
    }

    #[test]
    fn corrupt_binary_record_names_offset() {
        let mut log = Vec::new();
        encode_record(&event(1), LogFormat::Binary, &mut log);
        let bad_at = log.len();
        log.extend_from_slice(&[3, 0xff, 0xff, 0xff]);
        let (records, error) = decode_all(&mut Decoder::new(), &[&log]);
        assert_eq!(records.len(), 1);
        let error = error.expect("an error");
        assert_eq!((error.offset, error.line), (bad_at as u64, None));
        assert!(matches!(error.kind, DecodeErrorKind::Protobuf(_)));
    }

    #[test]
    fn oversized_record_is_refused_before_buffering() {
        let mut decoder = Decoder::with_max_record_bytes(100);
        let (_, error) = decode_all(&mut decoder, &[&[0xff, 0xff, 0x7f]]);
        let error = error.expect("an error");
        assert_eq!(error.kind, DecodeErrorKind::RecordTooLarge { length: 2_097_151, max: 100 });
        assert_eq!(
            error.to_string(),
            "record declares 2097151 bytes, more than the maximum of 100 (record at byte offset 0)"
        );
    }

    #[test]
    fn sniffing_tells_a_short_binary_record_from_indented_json() {
        assert_eq!(sniff(b""), None);
        assert_eq!(sniff(b"  \n"), None);
        assert_eq!(sniff(b" \n {\"event_id\":1}"), Some(LogFormat::JsonLines));
        assert_eq!(sniff(&[10, 0x08, 0x01]), Some(LogFormat::Binary));
        assert_eq!(sniff(b"{"), None);
        assert_eq!(sniff(b"{\"event_id\":1}"), Some(LogFormat::JsonLines));
        assert_eq!(sniff(&[0x7b, 0x08, 0x01]), Some(LogFormat::Binary), "a 123-byte binary record");
    }

    #[test]
    fn a_byte_order_mark_split_across_chunks_still_sniffs_json() {
        // fuzz/regressions/decode_jsonl/: a first chunk ending inside the BOM was sniffed as binary.
        let log = "\u{feff}{\"event_id\":1,\"job_run_queue_v1\":{\"job_run_id\":\"JR-1\"}}\n";
        for split in 1..4 {
            let mut decoder = Decoder::new();
            let (records, error) = decode_all(&mut decoder, &[&log.as_bytes()[..split], &log.as_bytes()[split..]]);
            assert_eq!(
                (records.len(), error, decoder.format()),
                (1, None, Some(LogFormat::JsonLines)),
                "split {split}"
            );
        }
        assert_eq!(sniff(b"\xEF"), None);
        assert_eq!(sniff(b"\xEF\xBB"), None);
        assert_eq!(sniff(b"\xEF\xBB\xBF"), None);
        assert_eq!(sniff(b"\xEF\xBC"), Some(LogFormat::Binary));
    }

    #[test]
    fn unterminated_json_line_is_accepted_only_when_finished() {
        let line = "{\"event_id\":1,\"job_run_queue_v1\":{\"job_run_id\":\"JR-1\"}}";
        let mut decoder = Decoder::new();
        let (records, error) = decode_all(&mut decoder, &[&line.as_bytes()[..20]]);
        assert_eq!((records.len(), error), (0, None));
        assert!(!decoder.finish(&mut |_| {}), "a half line is a write in progress");
        let (records, _) = decode_all(&mut decoder, &[&line.as_bytes()[20..]]);
        assert!(records.is_empty());
        let mut finished = Vec::new();
        assert!(decoder.finish(&mut |r| finished.push(r)));
        assert_eq!(finished.len(), 1);
        assert_eq!(decoder.consumed_bytes(), line.len() as u64);
    }
}
