//! Commands asking a running daemon instead of loading the log: a short session on the daemon's socket
//! (`initialize`, the requests, `shutdown`, `exit`). One-shot views and `dbl status` ask once ([`ask`],
//! [`DaemonSession::call`]); `dbl tail` subscribes and reads notices ([`Subscription`]). No daemon for the
//! log: `None`, and the command loads the log itself.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use serde_json::{json, Value};
use tokio_util::codec::{Decoder, Encoder};

use super::place::Place;
use crate::live::SubscribeParams;
use crate::log::source::SourceSpec;
use crate::protocol::codec::{Frame, LspCodec};
use crate::protocol::notices::Notice;
use crate::protocol::{LINEAGE_CHANGED, SUBSCRIBE};

/// The longest a command waits for a daemon that is still loading its log.
const LOADING_WAIT: Duration = Duration::from_secs(600);

/// A blocking session on the daemon's socket, framed by the stdio transport's own codec.
pub struct DaemonSession {
    stream: UnixStream,
    codec: LspCodec,
    /// Bytes read but not yet decoded.
    buffer: BytesMut,
    /// Messages read while waiting for a response, not yet asked for.
    backlog: VecDeque<Value>,
    next_id: u64,
    /// The daemon's process id, from its info file.
    pub pid: Option<u32>,
    /// The log as messages show it.
    pub shown: String,
}

impl DaemonSession {
    /// Opens an initialized session with the daemon serving `log`; `None` when no daemon answers.
    pub fn open(log: &str) -> anyhow::Result<Option<DaemonSession>> {
        let spec = SourceSpec::parse(log)?.resolved(std::env::current_dir().ok().as_deref());
        let Ok(place) = Place::for_source(&spec) else { return Ok(None) };
        let Ok(stream) = UnixStream::connect(place.socket()) else { return Ok(None) };
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        let mut session = DaemonSession {
            stream,
            codec: LspCodec::new(usize::MAX),
            buffer: BytesMut::new(),
            backlog: VecDeque::new(),
            next_id: 0,
            pid: place.read_info().map(|info| info.pid),
            shown: spec.display(),
        };
        if session.request("initialize", json!({"capabilities": {}}))?.is_err() {
            return Ok(None);
        }
        session.send(&json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}))?;
        Ok(Some(session))
    }

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

    /// The next message the daemon sent that no request took.
    fn next_message(&mut self) -> std::io::Result<Value> {
        match self.backlog.pop_front() {
            Some(message) => Ok(message),
            None => self.read_frame(),
        }
    }

    /// Sends a request and returns its `result`, or its `error` object as `Err`. Other messages are kept.
    fn request(&mut self, method: &str, params: Value) -> std::io::Result<Result<Value, Value>> {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))?;
        loop {
            let message = self.read_frame()?;
            if message.get("id") == Some(&json!(id)) && message.get("method").is_none() {
                return Ok(match message.get("error") {
                    Some(error) => Err(error.clone()),
                    None => Ok(message.get("result").cloned().unwrap_or(Value::Null)),
                });
            }
            self.backlog.push_back(message);
        }
    }

    /// Waits until the daemon's initial load is done: answers must then equal a cold load's.
    pub fn wait_loaded(&mut self) -> anyhow::Result<()> {
        let started = Instant::now();
        while self.request("databuild/status", json!({}))?.is_ok_and(|s| s["loading"] == true) {
            anyhow::ensure!(started.elapsed() < LOADING_WAIT, "the daemon for {} is still loading", self.shown);
            self.backlog.clear();
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// `method` with `params`; a JSON-RPC error becomes `Err` with its message.
    pub fn call(&mut self, method: &str, params: Value) -> anyhow::Result<Value> {
        match self.request(method, params)? {
            Ok(result) => Ok(result),
            Err(error) => anyhow::bail!("{}", error["message"].as_str().unwrap_or("the daemon refused the request")),
        }
    }

    /// Subscribes to the lineage changes `filter` selects; the session then only reads notices.
    pub fn subscribe(mut self, filter: &SubscribeParams) -> anyhow::Result<Subscription> {
        let params = json!({
            "refs": filter.refs, "uuids": filter.uuids, "wants": filter.wants, "jobLabels": filter.job_labels,
        });
        let id = self.call(SUBSCRIBE, params)?;
        // Notices come whenever events land: wait for them as long as it takes.
        self.stream.set_read_timeout(None)?;
        Ok(Subscription { session: self, id })
    }

    /// Ends the session politely (`shutdown`, `exit`).
    pub fn end(mut self) {
        let _ = self.request("shutdown", Value::Null);
        let _ = self.send(&json!({"jsonrpc": "2.0", "method": "exit"}));
    }
}

/// A live subscription on a daemon session.
pub struct Subscription {
    session: DaemonSession,
    id: Value,
}

impl Subscription {
    /// The next notice of this subscription. An error means the daemon went away (or sent garbage).
    pub fn next_notice(&mut self) -> std::io::Result<Notice> {
        loop {
            let message = self.session.next_message()?;
            if message["method"] != LINEAGE_CHANGED || message["params"]["subscription"] != self.id {
                continue;
            }
            return serde_json::from_value(message["params"]["result"].clone()).map_err(std::io::Error::other);
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.session.pid
    }

    /// Ends the session.
    pub fn end(self) {
        self.session.end();
    }
}

/// Asks the daemon serving `log` for `method` with `params`, once its initial load is done. `Ok(None)`:
/// no daemon serves the log. A JSON-RPC error becomes `Err` with its message.
pub fn ask(log: &str, method: &str, params: Value) -> anyhow::Result<Option<Value>> {
    let Some(mut session) = DaemonSession::open(log)? else { return Ok(None) };
    session.wait_loaded()?;
    let answer = session.call(method, params);
    session.end();
    answer.map(Some)
}
