//! One-shot commands asking a running daemon instead of loading the log: a short session on the
//! daemon's socket (`initialize`, the request, `shutdown`, `exit`). No daemon for the log: `None`, and
//! the command loads the log itself.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::place::Place;
use crate::log::source::SourceSpec;

/// The longest a command waits for a daemon that is still loading its log.
const LOADING_WAIT: Duration = Duration::from_secs(600);

struct Session {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    next_id: u64,
}

impl Session {
    fn send(&mut self, message: &Value) -> std::io::Result<()> {
        let body = message.to_string();
        write!(self.writer, "Content-Length: {}\r\n\r\n{body}", body.len())?;
        self.writer.flush()
    }

    fn read_frame(&mut self) -> std::io::Result<Value> {
        let mut length = None;
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the daemon closed the session"));
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some(value) = line.strip_prefix("Content-Length:") {
                length = value.trim().parse::<usize>().ok();
            }
        }
        let length = length.ok_or_else(|| std::io::Error::other("a frame without Content-Length"))?;
        let mut body = vec![0u8; length];
        self.reader.read_exact(&mut body)?;
        serde_json::from_slice(&body).map_err(std::io::Error::other)
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
    let mut session = Session { reader: BufReader::new(stream.try_clone()?), writer: stream, next_id: 0 };
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
