//! One-shot commands asking a running daemon instead of loading the log: a short session on the
//! daemon's socket (`initialize`, the request, `shutdown`, `exit`). No daemon for the log: `None`, and
//! the command loads the log itself.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use serde_json::{json, Value};
use tokio_util::codec::{Decoder, Encoder};

use super::place::Place;
use crate::log::source::SourceSpec;
use crate::protocol::codec::{Frame, LspCodec};

/// The longest a command waits for a daemon that is still loading its log.
const LOADING_WAIT: Duration = Duration::from_secs(600);

/// A blocking session on the daemon's socket, framed by the stdio transport's own codec.
struct Session {
    stream: UnixStream,
    codec: LspCodec,
    /// Bytes read but not yet decoded.
    buffer: BytesMut,
    next_id: u64,
}

impl Session {
    fn send(&mut self, message: &Value) -> std::io::Result<()> {
        let mut frame = BytesMut::new();
        self.codec.encode(message.to_string(), &mut frame)?;
        self.stream.write_all(&frame)
    }

    fn read_frame(&mut self) -> std::io::Result<Value> {
        loop {
            match self.codec.decode(&mut self.buffer)? {
                Some(Frame::Message(body)) => return serde_json::from_slice(&body).map_err(std::io::Error::other),
                Some(Frame::Invalid(error)) => return Err(std::io::Error::other(error.to_string())),
                None => {}
            }
            let mut chunk = [0u8; 64 << 10];
            let read = self.stream.read(&mut chunk)?;
            if read == 0 {
                return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the daemon closed the session"));
            }
            self.buffer.extend_from_slice(&chunk[..read]);
        }
    }

    /// Sends a request and returns its `result`, or its `error` object as `Err`.
    fn request(&mut self, method: &str, params: Value) -> std::io::Result<Result<Value, Value>> {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))?;
        loop {
            let message = self.read_frame()?;
            if message.get("id") == Some(&json!(id)) {
                return Ok(match message.get("error") {
                    Some(error) => Err(error.clone()),
                    None => Ok(message.get("result").cloned().unwrap_or(Value::Null)),
                });
            }
        }
    }

    fn end(mut self) {
        let _ = self.request("shutdown", Value::Null);
        let _ = self.send(&json!({"jsonrpc": "2.0", "method": "exit"}));
    }
}

/// Asks the daemon serving `log` for `method` with `params`, once its initial load is done. `Ok(None)`:
/// no daemon serves the log. A JSON-RPC error becomes `Err` with its message.
pub fn ask(log: &str, method: &str, params: Value) -> anyhow::Result<Option<Value>> {
    let spec = SourceSpec::parse(log)?.resolved(std::env::current_dir().ok().as_deref());
    let Ok(place) = Place::for_source(&spec) else { return Ok(None) };
    let Ok(stream) = UnixStream::connect(place.socket()) else { return Ok(None) };
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut session = Session { stream, codec: LspCodec::new(usize::MAX), buffer: BytesMut::new(), next_id: 0 };
    if session.request("initialize", json!({"capabilities": {}}))?.is_err() {
        return Ok(None);
    }
    session.send(&json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}))?;
    let started = Instant::now();
    // Answers must equal a cold load's: wait out the daemon's own load first.
    while session.request("databuild/status", json!({}))?.is_ok_and(|s| s["loading"] == true) {
        anyhow::ensure!(started.elapsed() < LOADING_WAIT, "the daemon for {} is still loading", spec.display());
        std::thread::sleep(Duration::from_millis(50));
    }
    let answer = session.request(method, params)?;
    session.end();
    match answer {
        Ok(result) => Ok(Some(result)),
        Err(error) => anyhow::bail!("{}", error["message"].as_str().unwrap_or("the daemon refused the request")),
    }
}
