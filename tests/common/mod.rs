//! A small LSP client for the integration tests: spawns `dbl serve`, frames messages, and checks that
//! the server's stdout carries nothing but well-formed frames.
#![allow(dead_code)]

pub mod http;
pub mod pg;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub const TIMEOUT: Duration = Duration::from_secs(20);

pub fn dbl() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dbl"));
    // Daemons save snapshots: into a cache of the test run's, never the user's (a test may set its own).
    let cache = std::env::temp_dir().join(format!("dbl-test-cache-{}", std::process::id()));
    command.env("DBL_LOG", "info").env("NO_COLOR", "1").env("XDG_CACHE_HOME", cache);
    command
}

/// Writes `events` to `path` as a binary BEL (replacing it).
pub fn write_log(path: &Path, events: &[dbl::proto::DataBuildEvent]) {
    let _ = std::fs::remove_file(path);
    append_log(path, events);
}

pub fn append_log(path: &Path, events: &[dbl::proto::DataBuildEvent]) {
    let mut writer = dbl::log::EventWriter::append_to(path, dbl::log::LogFormat::Binary).unwrap();
    for e in events {
        writer.write(e).unwrap();
    }
    writer.flush().unwrap();
}

pub fn encode(events: &[dbl::proto::DataBuildEvent]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in events {
        dbl::log::encode_record(e, dbl::log::LogFormat::Binary, &mut out);
    }
    out
}

/// The digest a cold load of the file gives.
pub fn cold_digest(path: &Path) -> String {
    dbl::cli::load_state(path).unwrap().0.digest()
}

pub struct LspClient {
    child: Child,
    stdin: Option<ChildStdin>,
    frames: mpsc::Receiver<Value>,
    /// Messages received but not yet asked for.
    backlog: Vec<Value>,
    /// Set by the reader thread if stdout held anything but frames.
    violation: Arc<Mutex<Option<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
    next_id: u64,
    pub stderr_path: PathBuf,
}

impl LspClient {
    /// Spawns `dbl serve` with `args`; stderr goes to a file next to `dir`.
    pub fn spawn(dir: &Path, args: &[&str]) -> LspClient {
        LspClient::spawn_with_env(dir, args, &[])
    }

    /// Like [`LspClient::spawn`], with environment variables set for the server.
    pub fn spawn_with_env(dir: &Path, args: &[&str], env: &[(&str, &Path)]) -> LspClient {
        let stderr_path = dir.join(format!("stderr-{}.txt", std::process::id() as u128 * 1000 + rand_suffix()));
        let mut child = dbl()
            .envs(env.iter().copied())
            .arg("serve")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_path).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, frames) = mpsc::channel();
        let violation = Arc::new(Mutex::new(None));
        let v = violation.clone();
        let reader = std::thread::spawn(move || read_frames(stdout, tx, v));
        LspClient {
            stdin: child.stdin.take(),
            child,
            frames,
            backlog: Vec::new(),
            violation,
            reader: Some(reader),
            next_id: 0,
            stderr_path,
        }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    }

    pub fn send(&mut self, message: &Value) {
        let body = message.to_string();
        self.send_raw(format!("Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes());
    }

    pub fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Sends a request and returns its id.
    pub fn send_request(&mut self, method: &str, params: Value) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        id
    }

    /// Sends a request and waits for its response (other messages are kept for later).
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.send_request(method, params);
        self.wait_for(|m| m.get("id") == Some(&json!(id)) && m.get("method").is_none())
    }

    pub fn result(&mut self, method: &str, params: Value) -> Value {
        let response = self.request(method, params.clone());
        assert!(response.get("error").is_none(), "{method} {params} failed: {response}");
        response["result"].clone()
    }

    pub fn error(&mut self, method: &str, params: Value) -> Value {
        let response = self.request(method, params.clone());
        response.get("error").cloned().unwrap_or_else(|| panic!("{method} {params} should fail: {response}"))
    }

    /// Waits for a message matching `pred`, keeping others in the backlog.
    pub fn wait_for(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        self.try_wait_for(TIMEOUT, &pred).unwrap_or_else(|| {
            panic!("no matching message within {TIMEOUT:?}; backlog: {:?}; stderr: {}", self.backlog, self.stderr())
        })
    }

    pub fn try_wait_for(&mut self, timeout: Duration, pred: &dyn Fn(&Value) -> bool) -> Option<Value> {
        if let Some(i) = self.backlog.iter().position(pred) {
            return Some(self.backlog.remove(i));
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.frames.recv_timeout(left) {
                Ok(m) if pred(&m) => return Some(m),
                Ok(m) => self.backlog.push(m),
                Err(_) => return None,
            }
        }
    }

    /// Every message received so far that matches, in order, removed from the backlog.
    pub fn drain(&mut self, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
        while let Ok(m) = self.frames.try_recv() {
            self.backlog.push(m);
        }
        let (matching, rest) = std::mem::take(&mut self.backlog).into_iter().partition(|m| pred(m));
        self.backlog = rest;
        matching
    }

    pub fn initialize(&mut self, params: Value) -> Value {
        let result = self.result("initialize", params);
        self.notify("initialized", json!({}));
        result
    }

    /// Polls `databuild/status` until `ready` holds.
    pub fn status_until(&mut self, ready: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let status = self.result("databuild/status", json!({}));
            if ready(&status) {
                return status;
            }
            assert!(Instant::now() < deadline, "status never became ready: {status}\nstderr: {}", self.stderr());
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Closes stdin (if still open), waits for the exit code, and asserts stdout held only frames.
    pub fn finish(mut self) -> i32 {
        let deadline = Instant::now() + TIMEOUT;
        let code = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status.code().expect("exited normally");
            }
            if Instant::now() > deadline {
                self.child.kill().unwrap();
                panic!("server did not exit; stderr: {}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        self.reader.take().unwrap().join().unwrap();
        if let Some(v) = self.violation.lock().unwrap().take() {
            panic!("stdout carried something other than frames: {v}");
        }
        code
    }

    /// Sends `shutdown` then `exit`, returns the exit code.
    pub fn shutdown(mut self) -> i32 {
        assert_eq!(self.result("shutdown", Value::Null), Value::Null);
        self.notify("exit", Value::Null);
        self.stdin.take();
        self.finish()
    }

    pub fn close_stdin(&mut self) {
        self.stdin.take();
    }
}

impl Drop for LspClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rand_suffix() -> u128 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::SeqCst) as u128
}

/// Reads stdout strictly as `Content-Length: N\r\n\r\n` + N bytes of JSON, and nothing else.
fn read_frames(mut stdout: impl Read, tx: mpsc::Sender<Value>, violation: Arc<Mutex<Option<String>>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        let n = match stdout.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        loop {
            let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                if !b"Content-Length: ".starts_with(&buf[..buf.len().min(16)]) {
                    *violation.lock().unwrap() = Some(String::from_utf8_lossy(&buf).into_owned());
                }
                break;
            };
            let header = String::from_utf8_lossy(&buf[..end]).into_owned();
            let Some(length) = header.strip_prefix("Content-Length: ").and_then(|n| n.parse::<usize>().ok()) else {
                *violation.lock().unwrap() = Some(format!("bad header {header:?}"));
                return;
            };
            if buf.len() < end + 4 + length {
                break;
            }
            let body: Vec<u8> = buf.drain(..end + 4 + length).skip(end + 4).collect();
            match serde_json::from_slice::<Value>(&body) {
                Ok(v) => {
                    let _ = tx.send(v);
                }
                Err(e) => {
                    *violation.lock().unwrap() =
                        Some(format!("frame body is not JSON ({e}): {}", String::from_utf8_lossy(&body)));
                    return;
                }
            }
        }
    }
    if !buf.is_empty() {
        *violation.lock().unwrap() = Some(format!("trailing bytes: {}", String::from_utf8_lossy(&buf)));
    }
}
