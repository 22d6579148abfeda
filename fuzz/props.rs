//! The fuzzed properties, in one place: every cargo-fuzz target (`fuzz/fuzz_targets/*.rs`) is one of
//! these functions, and `tests/fuzz_corpus.rs` replays the committed corpora and regressions through
//! the very same functions on the stable toolchain. Both include this file with `#[path]`.
//!
//! Each property takes the raw fuzz input and reads its structure off the front with [`Input`]
//! (settings bytes, split points, edits...), so an input file means the same thing to the fuzzer and to
//! the replay test, with no dependency beyond the main crate's own. A property fails by panicking.
//!
//! - [`decode_binary`] / [`decode_jsonl`]: `dbl::log::Decoder` never panics, and decodes the same
//!   records and the same error (offset, line) whether the bytes come whole, in two chunks split at a
//!   fuzzer-chosen point, or (for short inputs) one byte at a time; records re-encode and decode to
//!   themselves.
//! - [`lsp_frames`]: `LspCodec` never panics, decodes the same frames however the stream is split,
//!   and decodes well-formed frames to exactly their bodies; every frame then goes through the stdio
//!   `Session` (after a real `initialize`), whose output must be JSON-RPC messages only, every response
//!   to an id the client used, every request with a unique id answered exactly once.
//! - [`editor_sync`]: `DocumentStore` open/change/close with UTF-16 ranges anywhere (inside surrogate
//!   pairs, multi-byte chars, CRLF, past the end) and a byte limit agrees with a simple model;
//!   `offset_at`, `position_at`, `range_of` round-trip; the ref scanner's hits are well-formed and
//!   line-local.
//!
//! - [`decode_row`]: a table source's row decoding (`dbl::log::source::table::decode_cell`) never
//!   panics on any bytes or text; a failure names the table, key and column; an event decoded from a
//!   row encodes back (protobuf and proto3 JSON) to a row that decodes to the same event.
//!
//! `scripts/fuzz.sh` runs the targets; a crash input, once fixed, goes to `fuzz/regressions/<target>/`.

#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Once, OnceLock};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use dbl::editor::document::DocumentError;
use dbl::editor::scan::{is_token_byte, scan_tokens};
use dbl::editor::{Document, DocumentStore, RefScanner};
use dbl::live::{Live, LiveOptions};
use dbl::log::{encode_record, DecodeError, DecodeErrorKind, Decoder, LogFormat, LogRecord};
use dbl::protocol::codec::{Frame, FrameError, LspCodec, DEFAULT_MAX_FRAME_BYTES};
use dbl::protocol::limits::Limits;
use dbl::protocol::stdio::{Session, StdioOptions};
use dbl::protocol::Registry;
use dbl::state::BuildState;
use lsp_types::{Position, Range, TextDocumentContentChangeEvent, Uri};
use serde_json::{json, Value};
use tokio_util::codec::Decoder as _;

// ---------------------------------------------------------------------------------------------------
// Reading structure off the input

/// The fuzz input, read from the front. Reads past the end give zeros, so every input is valid.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Input<'a> {
        Input { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    /// Everything not read yet.
    pub fn rest(self) -> &'a [u8] {
        self.data
    }

    /// A line or column: usually small, sometimes large or `u32::MAX`.
    pub fn coordinate(&mut self) -> u32 {
        match self.byte() {
            0xff => u32::MAX,
            0xfe => u32::from(self.u16()),
            b => u32::from(b & 0x3f),
        }
    }

    pub fn position(&mut self) -> Position {
        Position { line: self.coordinate(), character: self.coordinate() }
    }

    /// A text of up to 63 pieces: ASCII bytes stand for themselves (control characters included), the others
    /// pick a piece of text that is hard on positions and ref scanning; `0xff` takes any char.
    pub fn text(&mut self) -> String {
        const PIECES: &[&str] = &[
            "data/alpha",
            "data/beta",
            "data/gamma",
            "data/delta",
            "😀",
            "é",
            "e\u{301}",
            "─│┌┐└┘├",
            "\r\n",
            "\n",
            "\r",
            "\t",
            " ",
            "=",
            ":",
            "://",
            "--partition=",
            "ref:",
            "'",
            "\"",
            "\u{feff}",
            "𝄞",
            "中文",
            "s3://bucket/sales/date=2025-06-01",
            "data/beta.",
            "(data/gamma)",
            "\u{2028}",
            "\0",
            "ref(\"x/y\")",
            "👩‍👩‍👧",
            "\r\r\n",
            "data/",
        ];
        let n = self.byte() % 64;
        let mut text = String::new();
        for _ in 0..n {
            match self.byte() {
                b @ 0..=0x7f => text.push(char::from(b)),
                0xff => {
                    let c = u32::from_le_bytes([self.byte(), self.byte(), self.byte(), 0]);
                    text.push(char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER));
                }
                b => text.push_str(PIECES[usize::from(b - 0x80) % PIECES.len()]),
            }
        }
        text
    }
}

// ---------------------------------------------------------------------------------------------------
// decode_binary, decode_jsonl

/// What decoding a whole input produced.
#[derive(Debug)]
struct Decoded {
    records: Vec<LogRecord>,
    error: Option<DecodeError>,
    format: Option<LogFormat>,
    consumed: u64,
    pending: usize,
    /// `Decoder::finish` at the end (an unterminated last JSON line).
    finished: bool,
}

fn max_record_bytes(settings: u8) -> usize {
    match settings & 3 {
        1 => 16,
        2 => 200,
        _ => dbl::log::DEFAULT_MAX_RECORD_BYTES,
    }
}

fn decode_chunks<'a>(chunks: impl IntoIterator<Item = &'a [u8]>, max: usize) -> Decoded {
    let mut decoder = Decoder::with_max_record_bytes(max);
    let mut records = Vec::new();
    let mut error: Option<DecodeError> = None;
    for chunk in chunks {
        let before = records.len();
        match decoder.feed(chunk, &mut |r| records.push(r)) {
            Ok(()) => assert!(error.is_none(), "a feed succeeded after an error: {error:?}"),
            Err(e) => {
                if let Some(first) = &error {
                    assert_eq!(&e, first, "the error changed on a later feed");
                    assert_eq!(records.len(), before, "records decoded after an error");
                }
                error = Some(e);
            }
        }
    }
    if let Some(e) = &error {
        assert_eq!(decoder.error(), Some(e));
        // Latched: more input decodes nothing and gives the same error.
        let more = decoder.feed(b"{}\n\x00", &mut |r| panic!("decoded {r:?} after an error"));
        assert_eq!(more.as_ref().err(), Some(e));
    }
    let finished = decoder.finish(&mut |r| records.push(r));
    Decoded {
        records,
        error,
        format: decoder.format(),
        consumed: decoder.consumed_bytes(),
        pending: decoder.pending_bytes(),
        finished,
    }
}

/// Everything that must not depend on how the bytes were chunked. The kind of a `RecordTooLarge`
/// may: it reports the bytes seen so far of an unterminated line.
fn same_decoding(a: &Decoded, b: &Decoded, what: &str) {
    assert_eq!(a.records, b.records, "records differ ({what})");
    assert_eq!(a.format, b.format, "sniffed format differs ({what})");
    match (&a.error, &b.error) {
        (None, None) => {}
        (Some(x), Some(y)) => {
            assert_eq!((x.offset, x.line), (y.offset, y.line), "error position differs ({what}): {x} / {y}");
            match (&x.kind, &y.kind) {
                (DecodeErrorKind::RecordTooLarge { .. }, DecodeErrorKind::RecordTooLarge { .. }) => {}
                (k, l) => assert_eq!(k, l, "error differs ({what})"),
            }
        }
        (x, y) => panic!("error differs ({what}): {x:?} / {y:?}"),
    }
    assert_eq!((a.consumed, a.pending, a.finished), (b.consumed, b.pending, b.finished), "position differs ({what})");
}

/// Invariants of one decoding of `body`.
fn check_decoded(body: &[u8], d: &Decoded) {
    for pair in d.records.windows(2) {
        assert!(pair[0].offset < pair[1].offset, "record offsets not increasing");
    }
    if let Some(last) = d.records.last() {
        assert!(last.offset < body.len() as u64);
    }
    match &d.error {
        Some(e) => {
            assert!(!d.finished);
            assert_eq!(
                (d.consumed, d.pending),
                (e.offset, 0),
                "after an error: consumed = its offset, nothing pending"
            );
            assert!(d.records.iter().all(|r| r.offset < e.offset), "a record at or after the error");
            assert!(e.offset <= body.len() as u64);
            assert!(!e.to_string().is_empty());
        }
        None => assert_eq!(d.consumed + d.pending as u64, body.len() as u64, "bytes lost or invented"),
    }
    match d.format {
        Some(LogFormat::JsonLines) => {
            // Records and errors start lines, and the error names its line.
            let line_start = |offset: u64| offset == 0 || body[offset as usize - 1] == b'\n';
            assert!(d.records.iter().all(|r| line_start(r.offset)), "a JSON record not at a line start");
            if let Some(e) = &d.error {
                assert!(line_start(e.offset), "JSON error not at a line start: {e}");
                let line = 1 + body[..e.offset as usize].iter().filter(|&&b| b == b'\n').count() as u64;
                assert_eq!(e.line, Some(line), "wrong line in {e}");
            }
        }
        Some(LogFormat::Binary) => {
            assert!(d.records.first().is_none_or(|r| r.offset == 0), "a binary log starts with a record");
            assert!(d.error.as_ref().is_none_or(|e| e.line.is_none()), "a binary error names a line");
            assert!(!d.finished);
        }
        None => {
            assert!(d.records.is_empty() && d.error.is_none() && !d.finished);
            assert_eq!((d.consumed, d.pending), (0, body.len()));
        }
    }
    // What was decoded re-encodes, in the same format, to a record that decodes to itself.
    if let Some(format) = d.format {
        for record in &d.records {
            let mut bytes = Vec::new();
            encode_record(&record.event, format, &mut bytes);
            let again = decode_chunks([&bytes[..]], dbl::log::DEFAULT_MAX_RECORD_BYTES);
            assert_eq!(again.error, None, "a re-encoded record does not decode: {:?}", String::from_utf8_lossy(&bytes));
            assert_eq!(again.records.len(), 1);
            assert_eq!(again.records[0].event, record.event, "re-encoding changed the event");
        }
    }
}

/// Decodes `body` whole, in two chunks at `split`, and (when short) byte by byte.
fn check_decoder(body: &[u8], settings: u8, split: usize) {
    let max = max_record_bytes(settings);
    let whole = decode_chunks([body], max);
    check_decoded(body, &whole);
    let split = split % (body.len() + 1);
    let two = decode_chunks([&body[..split], &body[split..]], max);
    same_decoding(&whole, &two, &format!("split at byte {split}"));
    if body.len() <= 256 {
        let bytewise = decode_chunks(body.chunks(1), max);
        same_decoding(&whole, &bytewise, "one byte at a time");
    }
}

/// `decode_binary`: input = settings byte (bits 0-1: record size limit), split point (u16 LE), log bytes.
pub fn decode_binary(data: &[u8]) {
    let mut input = Input::new(data);
    let settings = input.byte();
    let split = usize::from(input.u16());
    check_decoder(input.rest(), settings, split);
}

/// `decode_jsonl`: as [`decode_binary`]; a body that would not be sniffed as JSON lines gets a first
/// line `{}` so that the JSON path is what is fuzzed.
pub fn decode_jsonl(data: &[u8]) {
    let mut input = Input::new(data);
    let settings = input.byte();
    let split = usize::from(input.u16());
    let body = input.rest();
    let sniffed = decode_chunks([body], dbl::log::DEFAULT_MAX_RECORD_BYTES).format;
    let body = if sniffed == Some(LogFormat::JsonLines) { body.to_vec() } else { [&b"{}\n"[..], body].concat() };
    check_decoder(&body, settings, split);
    assert_eq!(decode_chunks([&body[..]], dbl::log::DEFAULT_MAX_RECORD_BYTES).format, Some(LogFormat::JsonLines));
}

// ---------------------------------------------------------------------------------------------------
// lsp_frames

/// Decodes `stream` fed in chunks ending at `cuts` (sorted), then at end of input, as `FramedRead` does.
fn decode_frames(stream: &[u8], cuts: &[usize], max_frame_bytes: usize) -> Vec<Frame> {
    let mut codec = LspCodec::new(max_frame_bytes);
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut at = 0;
    for &cut in cuts.iter().chain([&stream.len()]) {
        buf.extend_from_slice(&stream[at..cut.max(at)]);
        at = cut.max(at);
        while let Some(frame) = codec.decode(&mut buf).expect("the codec reports problems as frames") {
            frames.push(frame);
            assert!(frames.len() <= stream.len() + 1, "more frames than bytes: the codec is not making progress");
        }
    }
    while let Some(frame) = codec.decode_eof(&mut buf).expect("the codec reports problems as frames") {
        frames.push(frame);
        assert!(frames.len() <= stream.len() + 1, "more frames than bytes at end of input");
    }
    assert!(buf.is_empty(), "bytes left over at end of input");
    frames
}

/// Well-formed frames around the `\0`-separated parts of `body`, with header spellings chosen by
/// `style`; and what each must decode to.
fn well_formed_frames(body: &[u8], style: u8, max_frame_bytes: usize) -> (Vec<u8>, Vec<Frame>) {
    let mut stream = Vec::new();
    let mut expected = Vec::new();
    for (i, part) in body.split(|&b| b == 0).enumerate() {
        let n = part.len();
        let header = match (usize::from(style) + i) % 5 {
            0 => format!("Content-Length: {n}\r\n\r\n"),
            1 => format!("content-length:{n}\r\n\r\n"),
            2 => format!("Content-Type: application/vscode-jsonrpc; charset=utf-8\r\nContent-Length: {n}\r\n\r\n"),
            3 => format!("\r\nCONTENT-LENGTH:   {n} \r\nX-Other: whatever\r\n\r\n"),
            _ => format!("Content-Length: {n}\r\nContent-Type: application/vscode-jsonrpc; charset=\"utf8\"\r\n\r\n"),
        };
        stream.extend_from_slice(header.as_bytes());
        stream.extend_from_slice(part);
        expected.push(if n > max_frame_bytes {
            Frame::Invalid(FrameError::TooLarge { length: n, max: max_frame_bytes })
        } else {
            Frame::Message(BytesMut::from(part))
        });
    }
    (stream, expected)
}

/// The header block limit of the codec: beyond it, a split stream may drop what a whole one keeps.
const MAX_HEADER_BYTES: usize = 8 << 10;

/// `lsp_frames`: input = mode byte (bit 0: build well-formed frames from the `\0`-separated parts of
/// the rest, else the rest is the raw stream; bit 1: a 64-byte frame limit; bit 2: tight session
/// limits; bits 3-7: header style), a count (0-7) of split points, the split points (u16 LE each),
/// then the body.
pub fn lsp_frames(data: &[u8]) {
    let mut input = Input::new(data);
    let mode = input.byte();
    let splits: Vec<u16> = (0..input.byte() % 8).map(|_| input.u16()).collect();
    let body = input.rest();
    let max_frame_bytes = if mode & 2 != 0 { 64 } else { DEFAULT_MAX_FRAME_BYTES };
    let (stream, expected) = if mode & 1 != 0 {
        let (stream, expected) = well_formed_frames(body, mode >> 3, max_frame_bytes);
        (stream, Some(expected))
    } else {
        (body.to_vec(), None)
    };
    let mut cuts: Vec<usize> = splits.iter().map(|&s| usize::from(s) % (stream.len() + 1)).collect();
    cuts.sort_unstable();
    let whole = decode_frames(&stream, &[], max_frame_bytes);
    let chunked = decode_frames(&stream, &cuts, max_frame_bytes);
    if stream.len() <= MAX_HEADER_BYTES {
        assert_eq!(whole, chunked, "frames depend on the split at {cuts:?}");
        if stream.len() <= 512 {
            let every: Vec<usize> = (1..stream.len()).collect();
            assert_eq!(whole, decode_frames(&stream, &every, max_frame_bytes), "byte by byte");
        }
    }
    if let Some(expected) = expected {
        assert_eq!(whole, expected, "well-formed frames decoded wrong");
        assert_eq!(chunked, expected, "well-formed frames decoded wrong when split at {cuts:?}");
    }
    let mut options = StdioOptions::default();
    if mode & 4 != 0 {
        options.limits = Limits {
            max_subscriptions: 1,
            max_message_bytes: 64,
            max_pending_client_requests: 1,
            client_request_timeout: Duration::from_millis(1),
            max_open_document_bytes: 300,
            ..Limits::default()
        };
    }
    run_session(chunked, options);
}

/// One `Live` for the whole process, serving the demo log: a session's `initialize` or settings may
/// name an event log, and a started `Live` keeps the fuzzer from tailing whatever path it makes up
/// (it gets a "restart the server" message instead). The demo state gives the views and editor
/// features something to find.
fn shared_live() -> &'static (Arc<Live>, Arc<Registry>) {
    static SHARED: OnceLock<(Arc<Live>, Arc<Registry>)> = OnceLock::new();
    SHARED.get_or_init(|| {
        let events = dbl::events::demo_events();
        let mut log = Vec::new();
        for event in &events {
            encode_record(event, LogFormat::JsonLines, &mut log);
        }
        let path = std::env::temp_dir().join(format!("dbl-fuzz-demo-{}.jsonl", std::process::id()));
        std::fs::write(&path, &log).expect("writing the demo log");
        let live = Arc::new(Live::new());
        // Polling only, and rarely: the file is deleted once loaded, and nothing else is to happen.
        let options = LiveOptions { poll: Duration::from_secs(24 * 3600), notify: false, ..LiveOptions::default() };
        assert!(live.start(&path, options));
        let loaded = live.wait_until(Duration::from_secs(30), |state, status| {
            !status.loading && state.events_applied() == events.len() as u64
        });
        assert!(loaded, "the demo log did not load: {:?}", live.tail_status());
        let _ = std::fs::remove_file(&path);
        let registry = Arc::new(dbl::protocol::registry(live.clone()));
        (live, registry)
    })
}

static PANICKED: AtomicBool = AtomicBool::new(false);

/// Tokio turns a panic in a spawned task into a `JoinError` nobody looks at; this notes it so the
/// property can fail. (Under libFuzzer the panic hook aborts anyway.)
fn watch_for_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICKED.store(true, Ordering::SeqCst);
            previous(info);
        }));
    });
}

/// The requests among `frames` that must be answered exactly once: those with a method and a valid id
/// (a string or a non-negative integer) used by no other message, up to an `exit`.
fn requests_to_answer(frames: &[Frame]) -> Vec<Value> {
    let mut ids: Vec<Value> = Vec::new();
    let mut duplicates: Vec<Value> = vec![json!("fuzz-init")];
    for frame in frames {
        let Frame::Message(body) = frame else { continue };
        let Ok(Value::Object(message)) = serde_json::from_slice::<Value>(body) else { continue };
        if let Some(id) = message.get("id") {
            if ids.contains(id) {
                duplicates.push(id.clone());
            }
            let valid = id.is_string() || id.as_u64().is_some();
            if valid && message.contains_key("method") {
                ids.push(id.clone());
            } else {
                duplicates.push(id.clone()); // a response of the client's, or an invalid id: not ours to count
            }
        }
        if message.get("method") == Some(&json!("exit")) && !message.contains_key("id") {
            break;
        }
    }
    ids.retain(|id| !duplicates.contains(id));
    ids
}

/// Responses (messages without a method) among `sent` to `id`.
fn answers_to(sent: &[Value], id: &Value) -> usize {
    sent.iter().filter(|message| message.get("method").is_none() && message.get("id") == Some(id)).count()
}

/// Parses what was sent since the last call (a non-JSON message parses as `null`; checked later).
fn parse_new(sent: &Mutex<Vec<String>>, parsed: &mut Vec<Value>) {
    let sent = sent.lock().unwrap();
    parsed.extend(sent[parsed.len()..].iter().map(|text| serde_json::from_str(text).unwrap_or(Value::Null)));
}

/// Feeds `frames` to a stdio `Session` after an `initialize` and `initialized` of our own, on a
/// current-thread runtime, and checks what it sends: JSON-RPC messages only, every response to an id
/// the client used, every request with a unique id answered exactly once.
fn run_session(frames: Vec<Frame>, options: StdioOptions) {
    watch_for_panics();
    let (live, registry) = shared_live();
    // The ids the client used: every response must answer one of them (or be `null`).
    let mut ids: Vec<Value> = vec![json!("fuzz-init"), Value::Null];
    for frame in &frames {
        if let Frame::Message(body) = frame {
            if let Ok(Value::Object(message)) = serde_json::from_slice::<Value>(body) {
                ids.extend(message.get("id").cloned());
            }
        }
    }
    let must_answer = requests_to_answer(&frames);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let sent: Arc<Mutex<Vec<String>>> = Arc::default();
    runtime.block_on(async {
        let (out_tx, mut out_rx) = tokio::sync::mpsc::channel::<String>(1024);
        let collected = sent.clone();
        tokio::spawn(async move {
            while let Some(message) = out_rx.recv().await {
                collected.lock().unwrap().push(message);
            }
        });
        let mut session = Session::new(live.clone(), registry.clone(), out_tx, options);
        let initialize = json!({"jsonrpc": "2.0", "id": "fuzz-init", "method": "initialize", "params": {
            "processId": null, "rootUri": null,
            "capabilities": {"window": {"workDoneProgress": true}, "workspace": {"codeLens": {"refreshSupport": true}}},
        }});
        let initialized = json!({"jsonrpc": "2.0", "method": "initialized", "params": {}});
        for message in [initialize, initialized] {
            let frame = Frame::Message(BytesMut::from(message.to_string().as_bytes()));
            assert_eq!(session.handle_frame(frame).await, None);
        }
        for frame in frames {
            let exit = session.handle_frame(frame).await;
            tokio::task::yield_now().await;
            if exit.is_some() {
                break;
            }
        }
        // Let the requests answer (editor requests run on the blocking pool, so on another thread),
        // then end the session's tasks.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut parsed = Vec::new();
        loop {
            for _ in 0..8 {
                tokio::task::yield_now().await;
            }
            parse_new(&sent, &mut parsed);
            let answered = must_answer.iter().all(|id| answers_to(&parsed, id) > 0);
            if answered || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_micros(20));
        }
        session.close();
        drop(session);
        for _ in 0..8 {
            tokio::task::yield_now().await;
        }
    });
    drop(runtime);
    let mut parsed = Vec::new();
    parse_new(&sent, &mut parsed);
    let sent = sent.lock().unwrap();
    if std::env::var_os("DBL_FUZZ_DEBUG").is_some() {
        sent.iter().for_each(|text| eprintln!("sent: {text}"));
    }
    assert!(!PANICKED.swap(false, Ordering::SeqCst), "a task panicked while handling the frames (see stderr)");
    let first = parsed.first().expect("an answer to initialize");
    assert_eq!((&first["id"], first["result"]["serverInfo"]["name"].as_str()), (&json!("fuzz-init"), Some("dbl")));
    for (text, message) in sent.iter().zip(&parsed) {
        if message.is_null() {
            let error = serde_json::from_str::<Value>(text).err();
            panic!("sent something other than a JSON-RPC message: {text:?} ({error:?})");
        }
        assert_eq!(message["jsonrpc"], "2.0", "sent {text}");
        if message.get("method").is_none() {
            let id = message.get("id").unwrap_or_else(|| panic!("a response without an id: {text}"));
            assert!(ids.contains(id), "a response to an id never sent: {text}");
            assert!(message.get("result").is_some() != message.get("error").is_some(), "result xor error: {text}");
        }
    }
    for id in &must_answer {
        assert_eq!(answers_to(&parsed, id), 1, "request {id} answered other than once");
    }
}

// ---------------------------------------------------------------------------------------------------
// editor_sync

fn demo_state() -> &'static BuildState {
    static STATE: OnceLock<BuildState> = OnceLock::new();
    STATE.get_or_init(|| BuildState::from_events(&dbl::events::demo_events()))
}

/// Ref patterns to choose from: a capture group, a named group, one that matches empty strings, one
/// that crosses lines, one on multi-byte chars.
const PATTERNS: &[&str] =
    &[r"\bdata/[a-z_]+", r#"ref\("(?P<ref>[^"]+)"\)"#, r"(x*)", r"(?s)a.+?b", r"(\w+)/(\w+)", r"😀+|é"];

/// A scanner with the `PATTERNS` chosen by the bits of `choice`, compiled once per process (compiling
/// the regexes for every input would be most of the time spent).
fn scanner_with_patterns(choice: u8) -> &'static RefScanner {
    static SCANNERS: [OnceLock<RefScanner>; 64] = [const { OnceLock::new() }; 64];
    SCANNERS[usize::from(choice & 0x3f)].get_or_init(|| {
        let patterns: Vec<&str> =
            PATTERNS.iter().enumerate().filter(|(i, _)| choice & (1 << i) != 0).map(|(_, p)| *p).collect();
        RefScanner::new(&patterns).expect("the patterns compile")
    })
}

/// The byte ranges of the lines of `text` without their terminator (`\n`, or `\r\n`), as LSP sees them.
fn model_lines(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut lines = Vec::new();
    let mut start = 0;
    for (i, _) in text.match_indices('\n') {
        let end = if text[start..i].ends_with('\r') { i - 1 } else { i };
        lines.push(start..end);
        start = i + 1;
    }
    lines.push(start..text.len());
    lines
}

/// The byte offset of `p`: the first char boundary at or after its UTF-16 column, clamped to the
/// line, then to the document.
fn model_offset(text: &str, p: Position) -> usize {
    let lines = model_lines(text);
    let Some(line) = lines.get(p.line as usize) else { return text.len() };
    let mut units = 0u64;
    for (i, c) in text[line.clone()].char_indices() {
        if units >= u64::from(p.character) {
            return line.start + i;
        }
        units += c.len_utf16() as u64;
    }
    line.end
}

fn utf16_len(s: &str) -> u32 {
    s.encode_utf16().count() as u32
}

/// Everything about one document that must hold after every operation.
fn check_document(doc: &Document, model: &str, queries: &[Position], scanners: &[&RefScanner]) {
    assert_eq!(doc.text(), model, "the document differs from the model");
    let text = doc.text();
    let lines = model_lines(text);
    assert_eq!(doc.line_count(), lines.len());
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(doc.line(i), Some(&text[line.clone()]), "line {i}");
    }
    assert_eq!(doc.line(lines.len()), None);
    let end = doc.position_at(text.len());
    assert_eq!(doc.offset_at(end), text.len(), "the end round-trips");
    assert_eq!(doc.position_at(text.len() + 7), end, "past the end is the end");

    // Positions → offsets: what the model says, on a char boundary; back again when in the document.
    let mut offsets = vec![0, text.len()];
    for &p in queries {
        let offset = doc.offset_at(p);
        assert_eq!(offset, model_offset(text, p), "offset_at({p:?})");
        assert!(text.is_char_boundary(offset));
        offsets.push(offset);
        if let Some(line) = lines.get(p.line as usize) {
            let before = &text[line.start..offset];
            let clamped = Position { line: p.line, character: utf16_len(before) };
            assert_eq!(doc.position_at(offset), clamped, "position_at(offset_at({p:?}))");
            assert!(clamped.character >= p.character.min(utf16_len(&text[line.clone()])));
        }
    }
    // Offsets → positions → offsets, for every char boundary of a short document.
    if text.len() <= 300 {
        for offset in (0..=text.len()).filter(|&o| text.is_char_boundary(o)) {
            let p = doc.position_at(offset);
            let inside_crlf = offset > 0 && text.as_bytes()[offset - 1] == b'\r' && text[offset..].starts_with('\n');
            let back = doc.offset_at(p);
            if inside_crlf {
                assert_eq!(back, offset - 1, "the middle of a CRLF is the end of its line");
            } else {
                assert_eq!(back, offset, "offset_at(position_at({offset})) = {p:?}");
            }
        }
    }
    // Offsets from `offset_at` are never inside a CRLF, so ranges of them round-trip, even reversed.
    for pair in offsets.windows(2) {
        let range = doc.range_of(pair[0]..pair[1]);
        assert_eq!((doc.offset_at(range.start), doc.offset_at(range.end)), (pair[0], pair[1]), "range_of");
        let reversed = doc.range_of(pair[1]..pair[0]);
        assert_eq!((reversed.start, reversed.end), (range.end, range.start));
    }

    for (n, scanner) in scanners.iter().enumerate() {
        check_scan(doc, scanner, n == 0, &offsets);
    }
    // The token rule on its own, with a lookup that knows every candidate.
    let tokens = scan_tokens(text, |candidate| Some(candidate.len()));
    let mut previous_end = 0;
    for (range, len) in tokens {
        assert_eq!(range.len(), len);
        assert!(range.start >= previous_end && !range.is_empty(), "token hits overlap or are empty");
        assert!(text.as_bytes()[range.clone()].iter().all(|&b| is_token_byte(b)));
        previous_end = range.end;
    }
}

fn check_scan(doc: &Document, scanner: &RefScanner, token_rule_only: bool, offsets: &[usize]) {
    let state = demo_state();
    let text = doc.text();
    let hits = scanner.scan(state, text);
    let mut previous_end = 0;
    for (n, hit) in hits.iter().enumerate() {
        let range = hit.range.clone();
        assert!(range.start < range.end && range.end <= text.len(), "bad hit range {hit:?}");
        assert!(text.is_char_boundary(range.start) && text.is_char_boundary(range.end), "hit splits a char: {hit:?}");
        assert_eq!(hit.name, text[range.clone()], "hit name");
        assert!(!hit.name.contains('\n'), "a ref spans lines: {hit:?}");
        assert!(range.start >= previous_end, "hits overlap or are out of order: {hits:?}");
        previous_end = range.end;
        assert_eq!(hit.id, state.ref_id(&hit.name), "hit id");
        if let Some(id) = hit.id {
            assert_eq!(state.ref_name(id), hit.name);
        }
        let lsp = doc.range_of(range.clone());
        assert_eq!((doc.offset_at(lsp.start), doc.offset_at(lsp.end)), (range.start, range.end), "range_of {hit:?}");
        if token_rule_only {
            assert!(hit.id.is_some(), "the token rule found an unknown ref");
            if n >= 16 {
                continue; // each ref_at scans its line: keep long documents linear
            }
            for at in [range.start, (range.start + range.end) / 2, range.end] {
                let found = scanner.ref_at(state, text, at);
                assert_eq!(found.as_ref(), Some(hit), "ref_at({at}) near {hit:?}");
            }
        }
    }
    if token_rule_only {
        // Refs never span lines: scanning line by line finds the same.
        let mut by_line = Vec::new();
        let mut start = 0;
        for line in text.split('\n') {
            by_line.extend(scanner.scan(state, line).into_iter().map(|mut h| {
                h.range = h.range.start + start..h.range.end + start;
                h
            }));
            start += line.len() + 1;
        }
        assert_eq!(hits, by_line, "scanning line by line differs");
    }
    // (Each `ref_at` rescans a line with every pattern: a few offsets suffice.)
    for &offset in offsets.iter().take(if token_rule_only { usize::MAX } else { 4 }) {
        if let Some(hit) = scanner.ref_at(state, text, offset) {
            assert!(hit.range.start <= offset && offset <= hit.range.end, "ref_at({offset}) = {hit:?}");
            assert_eq!(hit.name, text[hit.range.clone()]);
        }
    }
}

/// The store's limit on the bytes of open documents: the default, or one an input can reach.
fn store_limit(choice: u8) -> usize {
    match choice >> 6 {
        1 => 64,
        2 => 600,
        _ => DocumentStore::default().max_total_bytes,
    }
}

/// The model's answer to a change or an open: the new text of document `which`, unless it would take
/// the open documents over `limit` bytes (then nothing changes).
fn within_limit(models: &[Option<String>; 2], which: usize, text: String, limit: usize) -> Option<String> {
    let others: usize =
        models.iter().enumerate().filter(|&(i, _)| i != which).flat_map(|(_, m)| m).map(String::len).sum();
    (others + text.len() <= limit).then_some(text)
}

/// `editor_sync`: input = a choice byte (bits 0-5: which `PATTERNS` the second scanner has; bits 6-7:
/// the store's byte limit), the first document's text, then operations until the input ends: an op
/// byte (bit 7: which of two documents; op % 6: incremental change of 1-3 edits, full change, open,
/// close, queries) and its operands (positions, texts).
pub fn editor_sync(data: &[u8]) {
    let mut input = Input::new(data);
    let choice = input.byte();
    let default = RefScanner::default();
    let mut scanners = vec![&default];
    if choice & 0x3f != 0 {
        scanners.push(scanner_with_patterns(choice & 0x3f));
    }
    let limit = store_limit(choice);
    let uris: [Uri; 2] = ["file:///fuzz/jobs.py".parse().unwrap(), "untitled:Untitled-1".parse().unwrap()];
    let mut store = DocumentStore::new();
    store.max_total_bytes = limit;
    let mut models: [Option<String>; 2] = [None, None];
    let mut versions = [0, 0];
    let mut version = 1;
    let first = input.text();
    let opened = store.open(uris[0].clone(), "python", version, first.clone());
    assert_eq!(opened.is_ok(), first.len() <= limit, "open within the limit: {opened:?}");
    if opened.is_ok() {
        (models[0], versions[0]) = (Some(first), version);
    }
    for step in 0..64 {
        if input.is_empty() {
            break;
        }
        let op = input.byte();
        let which = usize::from(op >> 7);
        let uri = &uris[which];
        version += 1;
        let mut queries = vec![Position::new(0, 0), Position::new(0, u32::MAX), Position::new(u32::MAX, 0)];
        // A change: what the model makes of it (`None`: the document is not open).
        let edited = match op % 6 {
            0 | 1 => {
                let edits: Vec<TextDocumentContentChangeEvent> = (0..1 + input.byte() % 3)
                    .map(|_| {
                        let range = Range { start: input.position(), end: input.position() };
                        queries.extend([range.start, range.end]);
                        let range_length = (op & 0x40 != 0).then(|| u32::from(input.byte()));
                        TextDocumentContentChangeEvent { range: Some(range), range_length, text: input.text() }
                    })
                    .collect();
                let edited = models[which].clone().map(|mut model| {
                    for edit in &edits {
                        let range = edit.range.unwrap();
                        let start = model_offset(&model, range.start);
                        let end = model_offset(&model, range.end).max(start);
                        model.replace_range(start..end, &edit.text);
                    }
                    model
                });
                Some((store.change(uri, version, &edits), edited))
            }
            2 => {
                let text = input.text();
                let full = TextDocumentContentChangeEvent { range: None, range_length: None, text: text.clone() };
                Some((store.change(uri, version, &[full]), models[which].as_ref().map(|_| text)))
            }
            3 => {
                let text = input.text();
                let result = store.open(uri.clone(), "plaintext", version, text.clone());
                let expected = within_limit(&models, which, text, limit);
                assert_eq!(result.is_ok(), expected.is_some(), "open within the limit: {result:?}");
                if let Some(text) = expected {
                    (models[which], versions[which]) = (Some(text), version);
                }
                None
            }
            4 => {
                assert_eq!(store.close(uri).is_ok(), models[which].take().is_some());
                None
            }
            _ => {
                queries.extend((0..1 + input.byte() % 4).map(|_| input.position()));
                None
            }
        };
        if let Some((result, edited)) = edited {
            match edited {
                None => assert!(matches!(result, Err(DocumentError::NotOpen(_))), "change of an unopened document"),
                Some(text) => match within_limit(&models, which, text, limit) {
                    Some(text) => {
                        assert!(result.is_ok(), "a change within the limit refused: {result:?}");
                        (models[which], versions[which]) = (Some(text), version);
                    }
                    None => {
                        assert!(matches!(result, Err(DocumentError::TooLarge { .. })), "over the limit: {result:?}")
                    }
                },
            }
        }
        assert_eq!(store.len(), models.iter().flatten().count());
        match (store.get(uri), &models[which]) {
            (Some(doc), Some(model)) => {
                assert_eq!(doc.version, versions[which], "the version of the last change or open");
                // The pattern scanner costs the most (regex searches): on query ops and at the end only.
                let last = input.is_empty() || step == 63;
                let scanners = if op % 6 == 5 || last { &scanners[..] } else { &scanners[..1] };
                check_document(doc, model, &queries, scanners);
            }
            (None, None) => {}
            (doc, model) => panic!("store and model disagree: {:?} / {model:?}", doc.map(Document::text)),
        }
    }
}

/// See the module docs. The first byte picks the cell's kind (bytes or text) and the key's sign.
pub fn decode_row(data: &[u8]) {
    use dbl::log::source::table::{decode_cell, Cell, Encoding, TableLayout};
    use prost::Message;
    let Some((&choice, rest)) = data.split_first() else { return };
    let layout = TableLayout { table: "t".into(), key: "k".into(), column: "c".into(), encoding: Encoding::Protobuf };
    let key: i64 = if choice & 2 == 0 { rest.len() as i64 } else { -(rest.len() as i64) - 1 };
    let cell = if choice & 1 == 0 {
        Cell::Bytes(rest.to_vec())
    } else {
        Cell::Text(String::from_utf8_lossy(rest).into_owned())
    };
    match decode_cell(&layout, key, &cell) {
        Err(error) => {
            let text = error.to_string();
            assert!(text.starts_with(&format!("table t, key {key}, column c: ")), "{text}");
        }
        Ok(event) => {
            assert!(event.event.is_some(), "an event without an event set was accepted");
            let again = decode_cell(&layout, key, &Cell::Bytes(event.encode_to_vec())).expect("re-encoded protobuf");
            assert_eq!(again, event);
            let json = serde_json::to_string(&event).expect("events serialize");
            assert_eq!(decode_cell(&layout, key, &Cell::Text(json)).expect("re-encoded JSON"), event);
        }
    }
}
