//! LSP base-protocol framing: `Content-Length: N\r\n` (+ optional `Content-Type`) `\r\n` then N bytes
//! of JSON. A tokio-util codec, so the stdio transport is a `FramedRead`/`FramedWrite` and nothing more.
//!
//! A bad frame does not end the stream: the decoder yields [`Frame::Invalid`] naming the problem and
//! stays in sync where it can (an oversized body is skipped by its declared length; a bad header block
//! is dropped up to its blank line, and its body too when a `Content-Length` line says how long it is).
//! What the decoder yields never depends on how the input was split into reads. Only I/O errors end
//! the stream.

use bytes::{Buf, BufMut, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

/// Default largest body accepted: 64 MiB (a `didOpen` of a large file fits).
pub const DEFAULT_MAX_FRAME_BYTES: usize = 64 << 20;
/// Largest header block accepted before its blank line.
const MAX_HEADER_BYTES: usize = 8 << 10;
/// While an oversized header block is dropped, lines up to this long are still read for its
/// `Content-Length` (so its body can be skipped too); longer ones cannot be that line.
const MAX_DROPPED_LINE_BYTES: usize = 256;

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A body, not yet parsed as JSON.
    Message(BytesMut),
    /// A frame that could not be read; the message says why. The stream goes on.
    Invalid(FrameError),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("bad frame header: {0}")]
    BadHeader(String),
    #[error("frame of {length} bytes exceeds the maximum of {max} bytes; skipped")]
    TooLarge { length: usize, max: usize },
}

#[derive(Debug, Clone)]
pub struct LspCodec {
    max_frame_bytes: usize,
    /// Body bytes of an oversized frame still to be discarded.
    skipping: usize,
    /// Length of the body being waited for, once its header is parsed.
    body: Option<usize>,
    /// An oversized header block being dropped up to its blank line.
    dropping: Option<DroppedHeader>,
}

/// What is kept of an oversized header block while it is dropped: the current line (if short enough
/// to be read) and the `Content-Length` seen so far.
#[derive(Debug, Clone, Default)]
struct DroppedHeader {
    line: Vec<u8>,
    line_too_long: bool,
    /// The last byte seen was `\r`: a `\n` next ends the line.
    after_cr: bool,
    length: Option<usize>,
}

impl DroppedHeader {
    /// Consumes header bytes up to and including the blank line. Returns how many bytes were used and,
    /// once the blank line is seen, the body length the header declared (if it did).
    fn feed(&mut self, bytes: &[u8]) -> (usize, Option<Option<usize>>) {
        for (i, &b) in bytes.iter().enumerate() {
            if self.after_cr && b == b'\n' {
                self.after_cr = false;
                if self.line.is_empty() && !self.line_too_long {
                    return (i + 1, Some(self.length));
                }
                if !self.line_too_long {
                    if let Ok(length) = parse_header(&self.line) {
                        self.length = Some(length);
                    }
                }
                self.line.clear();
                self.line_too_long = false;
                continue;
            }
            if self.after_cr {
                self.push(b'\r');
            }
            self.after_cr = b == b'\r';
            if !self.after_cr {
                self.push(b);
            }
        }
        (bytes.len(), None)
    }

    fn push(&mut self, b: u8) {
        if self.line.len() < MAX_DROPPED_LINE_BYTES {
            self.line.push(b);
        } else {
            self.line_too_long = true;
        }
    }
}

impl Default for LspCodec {
    fn default() -> Self {
        LspCodec::new(DEFAULT_MAX_FRAME_BYTES)
    }
}

impl LspCodec {
    pub fn new(max_frame_bytes: usize) -> LspCodec {
        LspCodec { max_frame_bytes, skipping: 0, body: None, dropping: None }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Parses a header block (without the blank line) into the body length. On error, also the body
/// length if it was readable, so the body can be skipped and the stream stays in sync.
fn parse_header(block: &[u8]) -> Result<usize, (Option<usize>, String)> {
    let text = std::str::from_utf8(block).map_err(|_| (None, "header is not ASCII".to_string()))?;
    let mut length = None;
    let mut problem = None;
    for line in text.split("\r\n") {
        let Some((name, value)) = line.split_once(':') else {
            problem.get_or_insert(format!("header line {line:?} has no `:`"));
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("Content-Length") {
            match value.parse::<usize>() {
                Ok(n) => length = Some(n),
                Err(_) => {
                    problem.get_or_insert(format!("Content-Length {value:?} is not a number"));
                }
            }
        } else if name.eq_ignore_ascii_case("Content-Type") {
            // `application/vscode-jsonrpc; charset=utf-8` (utf8 is accepted for old clients).
            let charset = value.split(';').skip(1).filter_map(|p| p.trim().split_once('=')).find_map(|(k, v)| {
                k.trim().eq_ignore_ascii_case("charset").then(|| v.trim().trim_matches('"').to_string())
            });
            if let Some(charset) = charset {
                if !charset.eq_ignore_ascii_case("utf-8") && !charset.eq_ignore_ascii_case("utf8") {
                    problem.get_or_insert(format!("unsupported charset {charset:?} (only utf-8)"));
                }
            }
        }
        // Other headers are ignored, as the base protocol allows.
    }
    match (length, problem) {
        (Some(length), None) => Ok(length),
        (length, Some(problem)) => Err((length, problem)),
        (None, None) => Err((None, "no Content-Length header".to_string())),
    }
}

impl Decoder for LspCodec {
    type Item = Frame;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, std::io::Error> {
        loop {
            if self.skipping > 0 {
                let n = self.skipping.min(src.len());
                src.advance(n);
                self.skipping -= n;
                if self.skipping > 0 {
                    return Ok(None);
                }
            }
            if let Some(length) = self.body {
                if src.len() < length {
                    src.reserve(length - src.len());
                    return Ok(None);
                }
                self.body = None;
                return Ok(Some(Frame::Message(src.split_to(length))));
            }
            // Blank lines between frames are tolerated.
            while src.starts_with(b"\r\n") {
                src.advance(2);
            }
            if let Some(dropping) = &mut self.dropping {
                let (used, ended) = dropping.feed(src);
                src.advance(used);
                match ended {
                    None => return Ok(None),
                    Some(length) => {
                        self.dropping = None;
                        self.skipping = length.unwrap_or(0);
                        continue;
                    }
                }
            }
            // Only the first MAX_HEADER_BYTES (and the blank line) are searched, so a long header block
            // is refused whether it arrived in one read or in many.
            let window = &src[..src.len().min(MAX_HEADER_BYTES + 4)];
            let Some(end) = find(window, b"\r\n\r\n") else {
                if window.len() == MAX_HEADER_BYTES + 4 {
                    self.dropping = Some(DroppedHeader::default());
                    return Ok(Some(Frame::Invalid(FrameError::BadHeader(format!(
                        "no blank line within {MAX_HEADER_BYTES} bytes of header; dropped up to its blank line"
                    )))));
                }
                return Ok(None);
            };
            let header = src.split_to(end + 4);
            match parse_header(&header[..end]) {
                Ok(length) if length > self.max_frame_bytes => {
                    self.skipping = length;
                    // Skip what is already here, then say so (the rest is skipped as it arrives).
                    let n = self.skipping.min(src.len());
                    src.advance(n);
                    self.skipping -= n;
                    return Ok(Some(Frame::Invalid(FrameError::TooLarge { length, max: self.max_frame_bytes })));
                }
                Ok(length) => self.body = Some(length),
                Err((length, message)) => {
                    // With a readable length the body is skipped: still in sync.
                    if let Some(length) = length {
                        let n = length.min(src.len());
                        src.advance(n);
                        self.skipping = length - n;
                    }
                    return Ok(Some(Frame::Invalid(FrameError::BadHeader(message))));
                }
            }
        }
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, std::io::Error> {
        match self.decode(src)? {
            Some(frame) => Ok(Some(frame)),
            None => {
                // A truncated last frame at end of input is dropped: the peer is gone.
                src.clear();
                Ok(None)
            }
        }
    }
}

impl<T: AsRef<[u8]>> Encoder<T> for LspCodec {
    type Error = std::io::Error;

    fn encode(&mut self, body: T, dst: &mut BytesMut) -> Result<(), std::io::Error> {
        let body = body.as_ref();
        let header = format!("Content-Length: {}\r\n\r\n", body.len());
        dst.reserve(header.len() + body.len());
        dst.put_slice(header.as_bytes());
        dst.put_slice(body);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(codec: &mut LspCodec, input: &[u8]) -> Vec<Frame> {
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        // Byte by byte: every split point must work.
        for &b in input {
            buf.put_u8(b);
            while let Some(frame) = codec.decode(&mut buf).unwrap() {
                out.push(frame);
            }
        }
        out
    }

    fn message(text: &str) -> Frame {
        Frame::Message(BytesMut::from(text.as_bytes()))
    }

    #[test]
    fn frames_split_anywhere_with_optional_content_type() {
        let mut input = Vec::new();
        input.extend_from_slice("Content-Length: 10\r\n\r\n{\"a\":\"é\"}".as_bytes());
        input.extend_from_slice(
            b"content-type: application/vscode-jsonrpc; charset=utf-8\r\nCONTENT-LENGTH:2\r\n\r\n{}",
        );
        let frames = decode_all(&mut LspCodec::default(), &input);
        assert_eq!(frames, vec![message("{\"a\":\"é\"}"), message("{}")]);
    }

    #[test]
    fn bad_headers_and_oversize_frames_are_reported_and_the_stream_goes_on() {
        let input = b"Content-Length: x\r\n\r\nContent-Type: text/plain; charset=latin1\r\nContent-Length: 2\r\n\r\n{}\
                      Content-Length: 12\r\n\r\n{\"big\":true}Content-Length: 2\r\n\r\n{}";
        let frames = decode_all(&mut LspCodec::new(10), input);
        assert_eq!(
            frames,
            vec![
                Frame::Invalid(FrameError::BadHeader("Content-Length \"x\" is not a number".into())),
                // The length is readable, so the body is skipped and the stream stays in sync.
                Frame::Invalid(FrameError::BadHeader("unsupported charset \"latin1\" (only utf-8)".into())),
                Frame::Invalid(FrameError::TooLarge { length: 12, max: 10 }),
                message("{}"),
            ]
        );
    }

    /// A header block over the limit gets the same answer however it is split into reads, and the stream
    /// goes on after its body, which a `Content-Length` line in it declares.
    #[test]
    fn an_oversized_header_is_refused_the_same_way_in_any_reads_and_its_body_skipped() {
        let mut input = Vec::new();
        input.extend_from_slice(b"X-Padding: ");
        input.extend(std::iter::repeat_n(b'p', MAX_HEADER_BYTES));
        input.extend_from_slice(b"\r\nX-Long: ");
        input.extend(std::iter::repeat_n(b'q', 2 * MAX_DROPPED_LINE_BYTES));
        input.extend_from_slice(b"\r\nContent-Length: 13\r\n\r\n{\"dropped\":1}Content-Length: 2\r\n\r\n{}");
        let expected = vec![
            Frame::Invalid(FrameError::BadHeader(format!(
                "no blank line within {MAX_HEADER_BYTES} bytes of header; dropped up to its blank line"
            ))),
            message("{}"),
        ];
        assert_eq!(decode_all(&mut LspCodec::default(), &input), expected, "byte by byte");
        let mut whole = BytesMut::from(&input[..]);
        let mut codec = LspCodec::default();
        let mut frames = Vec::new();
        while let Some(frame) = codec.decode(&mut whole).unwrap() {
            frames.push(frame);
        }
        assert_eq!(frames, expected, "in one read");
    }

    #[test]
    fn encodes_length_in_bytes() {
        let mut out = BytesMut::new();
        LspCodec::default().encode("\"é\"", &mut out).unwrap();
        assert_eq!(&out[..], "Content-Length: 4\r\n\r\n\"é\"".as_bytes());
    }
}
