//! The stdio transport: a language server speaking LSP base-protocol frames.
//!
//! [`run`] is the whole transport: a reader turning frames into [`Session::handle`] calls and a writer
//! draining one channel of outgoing messages. [`Session`] is the loop's logic, a function from incoming
//! messages to outgoing ones, so tests drive it without pipes.
//!
//! - Notifications are handled in the order received, on the loop itself.
//! - Requests run as spawned tasks and may answer out of order; `$/cancelRequest` aborts one that is
//!   still running and answers it with -32800.
//! - `databuild/*` requests go to the shared [`Registry`]; a successful `databuild/subscribe` makes the
//!   subscription's `databuild/lineageChanged` notifications flow to this client.
//! - Server→client requests (`window/workDoneProgress/create`, `workspace/codeLens/refresh`) get ids
//!   from a counter; the client's responses are matched back by id.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;
use tokio_util::codec::{FramedRead, FramedWrite};

use super::codec::{Frame, LspCodec, DEFAULT_MAX_FRAME_BYTES};
use super::codes;
use super::lsp::{self, Editor};
use super::Registry;
use crate::live::{resolve_log_path, Live, LiveOptions, Published};

/// Outgoing messages queued for the writer before senders wait.
const OUT_QUEUE: usize = 1024;

/// How a session starts the log when `initialize` (or the settings) name one.
#[derive(Debug, Clone)]
pub struct StdioOptions {
    pub live: LiveOptions,
    pub max_frame_bytes: usize,
}

impl Default for StdioOptions {
    fn default() -> Self {
        StdioOptions { live: LiveOptions::default(), max_frame_bytes: DEFAULT_MAX_FRAME_BYTES }
    }
}

/// Serves one client on `input`/`output` until `exit` or end of input. Returns the process exit code:
/// 0 if `shutdown` came before the end, 1 otherwise (as LSP asks).
pub async fn run<R, W>(input: R, output: W, live: Arc<Live>, registry: Arc<Registry>, options: StdioOptions) -> i32
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (out_tx, mut out_rx) = mpsc::channel::<String>(OUT_QUEUE);
    let writer = tokio::spawn(async move {
        let mut framed = FramedWrite::new(output, LspCodec::default());
        while let Some(message) = out_rx.recv().await {
            if let Err(e) = framed.send(message).await {
                tracing::error!("cannot write to the client: {e}");
                break;
            }
        }
    });
    let mut reader = FramedRead::new(input, LspCodec::new(options.max_frame_bytes));
    let mut session = Session::new(live, registry, out_tx, options);
    let code = loop {
        match reader.next().await {
            Some(Ok(frame)) => {
                if let Some(code) = session.handle_frame(frame).await {
                    break code;
                }
            }
            Some(Err(e)) => {
                tracing::error!("cannot read from the client: {e}");
                break session.exit_code();
            }
            None => {
                tracing::info!("input closed");
                break session.exit_code();
            }
        }
    };
    session.close();
    drop(session);
    // Let the writer flush what is queued (responses to the last requests), but not forever.
    let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
    code
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Uninitialized,
    Running,
    ShutDown,
}

/// Server→client requests waiting for the client's answer.
#[derive(Default)]
struct Outgoing {
    next_id: AtomicI64,
    waiting: Mutex<HashMap<i64, oneshot::Sender<Result<Value, Value>>>>,
}

/// A handle to send notifications and requests to the client from any task.
#[derive(Clone)]
pub struct Client {
    out: mpsc::Sender<String>,
    outgoing: Arc<Outgoing>,
}

impl Client {
    pub async fn notify(&self, method: &str, params: Value) {
        let _ = self.out.send(json!({"jsonrpc": "2.0", "method": method, "params": params}).to_string()).await;
    }

    /// Sends a request; the receiver gets the result, or the error object.
    pub async fn request(&self, method: &str, params: Value) -> oneshot::Receiver<Result<Value, Value>> {
        let id = self.outgoing.next_id.fetch_add(1, Ordering::SeqCst) + 1;
        let (tx, rx) = oneshot::channel();
        self.outgoing.waiting.lock().unwrap_or_else(|e| e.into_inner()).insert(id, tx);
        let message = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let _ = self.out.send(message.to_string()).await;
        rx
    }

    async fn send(&self, message: String) {
        let _ = self.out.send(message).await;
    }
}

/// The state of one language-server session. See the module docs.
pub struct Session {
    live: Arc<Live>,
    registry: Arc<Registry>,
    editor: Arc<Editor>,
    client: Client,
    options: StdioOptions,
    phase: Phase,
    /// Requests still running, by the JSON text of their id.
    running: Arc<Mutex<HashMap<String, AbortHandle>>>,
    /// Background tasks of this session (progress, error messages, subscriptions), ended on close.
    background: Vec<AbortHandle>,
    work_done_progress: bool,
    closed: Arc<AtomicBool>,
}

/// A JSON-RPC response, as text.
pub fn response(id: &Value, result: Value) -> String {
    json!({"jsonrpc": "2.0", "id": id, "result": result}).to_string()
}

/// A JSON-RPC error response, as text.
pub fn error_response(id: &Value, code: i32, message: &str, data: Option<Value>) -> String {
    let mut error = json!({"code": code, "message": message});
    if let Some(data) = data {
        error["data"] = data;
    }
    json!({"jsonrpc": "2.0", "id": id, "error": error}).to_string()
}

impl Session {
    pub fn new(live: Arc<Live>, registry: Arc<Registry>, out: mpsc::Sender<String>, options: StdioOptions) -> Session {
        Session {
            live,
            registry,
            editor: Arc::new(Editor::new()),
            client: Client { out, outgoing: Arc::new(Outgoing::default()) },
            options,
            phase: Phase::Uninitialized,
            running: Arc::default(),
            background: Vec::new(),
            work_done_progress: false,
            closed: Arc::default(),
        }
    }

    /// A handle for sending to the client.
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    fn exit_code(&self) -> i32 {
        if self.phase == Phase::ShutDown {
            0
        } else {
            1
        }
    }

    /// Ends the session's background tasks and running requests.
    pub fn close(&mut self) {
        self.closed.store(true, Ordering::SeqCst);
        for task in self.background.drain(..) {
            task.abort();
        }
        for (_, task) in self.running.lock().unwrap_or_else(|e| e.into_inner()).drain() {
            task.abort();
        }
    }

    /// Handles one frame. `Some(code)` means the server is to exit with that code.
    pub async fn handle_frame(&mut self, frame: Frame) -> Option<i32> {
        match frame {
            Frame::Message(bytes) => match serde_json::from_slice::<Value>(&bytes) {
                Ok(message) => self.handle(message).await,
                Err(e) => {
                    let message = format!("parse error: the frame body is not valid JSON: {e}");
                    self.client.send(error_response(&Value::Null, codes::PARSE_ERROR, &message, None)).await;
                    None
                }
            },
            Frame::Invalid(error) => {
                let code = match error {
                    super::codec::FrameError::TooLarge { .. } => codes::INVALID_REQUEST,
                    super::codec::FrameError::BadHeader(_) => codes::PARSE_ERROR,
                };
                self.client.send(error_response(&Value::Null, code, &error.to_string(), None)).await;
                None
            }
        }
    }

    /// Handles one parsed message. `Some(code)` means the server is to exit with that code.
    pub async fn handle(&mut self, message: Value) -> Option<i32> {
        let Value::Object(object) = &message else {
            let what = if message.is_array() { "batches are not supported by LSP" } else { "not a JSON object" };
            let text = format!("invalid request: {what}");
            self.client.send(error_response(&Value::Null, codes::INVALID_REQUEST, &text, None)).await;
            return None;
        };
        let id = object.get("id").cloned();
        if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
            let text = "invalid request: `jsonrpc` must be \"2.0\"";
            self.client
                .send(error_response(id.as_ref().unwrap_or(&Value::Null), codes::INVALID_REQUEST, text, None))
                .await;
            return None;
        }
        let method = match object.get("method") {
            None => {
                // A response to one of our requests.
                self.handle_response(&message);
                return None;
            }
            Some(Value::String(method)) => method.clone(),
            Some(_) => {
                let text = "invalid request: `method` must be a string";
                self.client
                    .send(error_response(id.as_ref().unwrap_or(&Value::Null), codes::INVALID_REQUEST, text, None))
                    .await;
                return None;
            }
        };
        let params = object.get("params").cloned().unwrap_or(Value::Null);
        if !matches!(params, Value::Null | Value::Object(_) | Value::Array(_)) {
            if let Some(id) = &id {
                let text = "invalid request: `params` must be an object or an array";
                self.client.send(error_response(id, codes::INVALID_REQUEST, text, None)).await;
            }
            return None;
        }
        match id {
            None => self.notification(&method, params).await,
            Some(id) => {
                let valid_id = id.is_string() || id.as_u64().is_some();
                if !valid_id {
                    let text = "invalid request: `id` must be a string or a non-negative integer";
                    self.client.send(error_response(&Value::Null, codes::INVALID_REQUEST, text, None)).await;
                    return None;
                }
                self.request(id, &method, params, message).await;
                None
            }
        }
    }

    fn handle_response(&mut self, message: &Value) {
        let waiting = message
            .get("id")
            .and_then(Value::as_i64)
            .and_then(|id| self.client.outgoing.waiting.lock().unwrap_or_else(|e| e.into_inner()).remove(&id));
        match waiting {
            Some(tx) => {
                let outcome = match message.get("error") {
                    Some(error) => Err(error.clone()),
                    None => Ok(message.get("result").cloned().unwrap_or(Value::Null)),
                };
                let _ = tx.send(outcome);
            }
            None => tracing::warn!("a response to no request of ours: {message}"),
        }
    }

    async fn notification(&mut self, method: &str, params: Value) -> Option<i32> {
        if method == "exit" {
            return Some(self.exit_code());
        }
        match self.phase {
            Phase::Uninitialized => {
                tracing::debug!("notification {method} before initialize: dropped");
                return None;
            }
            Phase::ShutDown => {
                tracing::debug!("notification {method} after shutdown: dropped");
                return None;
            }
            Phase::Running => {}
        }
        match method {
            "initialized" => self.start_background(),
            "$/cancelRequest" => {
                let id = params.get("id")?;
                let task = self.running.lock().unwrap_or_else(|e| e.into_inner()).remove(&id.to_string());
                if let Some(task) = task {
                    task.abort();
                    self.client.send(error_response(id, codes::REQUEST_CANCELLED, "request cancelled", None)).await;
                }
            }
            _ if self.editor.handles_notification(method) => match self.editor.notification(method, params) {
                Ok(effects) => {
                    if let Some(Some(log)) = effects.event_log {
                        self.start_log(&log).await;
                    }
                    if effects.refresh_code_lenses && self.editor.code_lens_refresh_supported() {
                        // Fire and forget: the client's answer carries nothing we need.
                        drop(self.client.request("workspace/codeLens/refresh", Value::Null).await);
                    }
                }
                Err(error) => {
                    tracing::warn!("{method}: {error}");
                    let message = format!("dbl: {error}");
                    self.client.notify("window/showMessage", json!({"type": 2, "message": message})).await;
                }
            },
            _ if method.starts_with("$/") => tracing::debug!("ignoring {method}"),
            _ => tracing::debug!("ignoring unknown notification {method}"),
        }
        None
    }

    async fn request(&mut self, id: Value, method: &str, params: Value, message: Value) {
        match (self.phase, method) {
            (Phase::Uninitialized, "initialize") => return self.initialize(id, params).await,
            (Phase::Uninitialized, _) => {
                let text = format!("server not initialized: send `initialize` before `{method}`");
                return self.client.send(error_response(&id, codes::SERVER_NOT_INITIALIZED, &text, None)).await;
            }
            (Phase::ShutDown, _) => {
                let text = format!("invalid request: `{method}` after `shutdown`; only `exit` is accepted now");
                return self.client.send(error_response(&id, codes::INVALID_REQUEST, &text, None)).await;
            }
            (Phase::Running, "initialize") => {
                let text = "invalid request: `initialize` was already received";
                return self.client.send(error_response(&id, codes::INVALID_REQUEST, text, None)).await;
            }
            (Phase::Running, "shutdown") => {
                self.phase = Phase::ShutDown;
                return self.client.send(response(&id, Value::Null)).await;
            }
            (Phase::Running, _) => {}
        }
        if !self.editor.handles_request(method) && !method.starts_with("databuild/") {
            let text = format!("method not found: {method}");
            return self.client.send(error_response(&id, codes::METHOD_NOT_FOUND, &text, None)).await;
        }
        let client = self.client.clone();
        let running = self.running.clone();
        let key = id.to_string();
        let task_key = key.clone();
        let method = method.to_string();
        // The map's lock is held across the spawn so the task cannot finish before it is registered.
        let mut map = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let task = if self.editor.handles_request(&method) {
            let editor = self.editor.clone();
            let live = self.live.clone();
            let key = task_key;
            tokio::spawn(async move {
                let outcome = {
                    let state = live.read();
                    editor.request(&state, &method, params)
                };
                let text = match outcome {
                    Ok(result) => response(&id, result),
                    Err(error) => error_response(&id, error.code as i32, &error.message, None),
                };
                finish(&running, &key, &client, text).await;
            })
        } else {
            let registry = self.registry.clone();
            let closed = self.closed.clone();
            let key = task_key;
            tokio::spawn(async move {
                let text = message.to_string();
                let (answer, mut notifications) =
                    match registry.raw_json_request(&text, super::SUBSCRIPTION_BUFFER).await {
                        Ok(answer) => answer,
                        Err(e) => {
                            let text =
                                error_response(&id, codes::INVALID_REQUEST, &format!("invalid request: {e}"), None);
                            finish(&running, &key, &client, text).await;
                            return;
                        }
                    };
                let answer = answer.get().to_string();
                let subscribed = method == super::SUBSCRIBE && !answer.contains("\"error\":");
                if !finish(&running, &key, &client, answer).await || !subscribed {
                    return;
                }
                // The subscription lives on: forward its notifications until it ends (unsubscribe).
                while let Some(notification) = notifications.recv().await {
                    if closed.load(Ordering::SeqCst) {
                        break;
                    }
                    client.send(notification.get().to_string()).await;
                }
            })
        };
        map.insert(key, task.abort_handle());
        drop(map);
        // Subscriptions keep their task alive after answering: end them with the session.
        self.background.retain(|t| !t.is_finished());
        self.background.push(task.abort_handle());
    }

    async fn initialize(&mut self, id: Value, params: Value) {
        if let Err(error) = self.editor.initialize(&params) {
            return self.client.send(error_response(&id, error.code as i32, &error.message, None)).await;
        }
        self.work_done_progress =
            params.pointer("/capabilities/window/workDoneProgress").and_then(Value::as_bool).unwrap_or(false);
        self.phase = Phase::Running;
        if !self.live.is_started() {
            match self.editor.event_log() {
                Some(log) => self.start_log(&log).await,
                None => tracing::warn!(
                    "no event log: give `dbl serve --log PATH` or `initializationOptions.eventLog`; serving an empty state"
                ),
            }
        }
        self.client.send(response(&id, lsp::initialize_result())).await;
    }

    /// Starts following `log` (relative to the first workspace folder) unless a log is already served.
    async fn start_log(&mut self, log: &str) {
        let path = resolve_log_path(log, std::env::current_dir().ok().as_deref());
        let current = self.live.tail_status().log_path.map(PathBuf::from);
        if self.live.start(&path, self.options.live.clone()) {
            tracing::info!("serving {}", path.display());
        } else if current.as_deref() != Some(path.as_path()) {
            let message = format!(
                "dbl: already serving {}; restart the server to serve {}",
                current.map_or_else(String::new, |p| p.display().to_string()),
                path.display()
            );
            tracing::warn!("{message}");
            self.client.notify("window/showMessage", json!({"type": 2, "message": message})).await;
        }
    }

    /// After `initialized`: progress while loading, a message on a bad record, code lens refreshes.
    fn start_background(&mut self) {
        let live = self.live.clone();
        let client = self.client.clone();
        let progress = self.work_done_progress;
        self.background.push(tokio::spawn(report_status(live, client, progress)).abort_handle());
        let (live, client, editor) = (self.live.clone(), self.client.clone(), self.editor.clone());
        self.background.push(tokio::spawn(refresh_code_lenses(live, client, editor)).abort_handle());
    }
}

/// Sends a response unless the request was cancelled meanwhile. Returns whether it was sent.
async fn finish(running: &Mutex<HashMap<String, AbortHandle>>, key: &str, client: &Client, text: String) -> bool {
    let still_running = running.lock().unwrap_or_else(|e| e.into_inner()).remove(key).is_some();
    if still_running {
        client.send(text).await;
    }
    still_running
}

/// Watches the tail status: `$/progress` while loading (if the client supports it), and a
/// `window/showMessage` for each new log error.
async fn report_status(live: Arc<Live>, client: Client, work_done_progress: bool) {
    let mut status = live.watch_status();
    let mut shown_error = None;
    let mut token: Option<String> = None;
    let mut loads = 0u32;
    let mut last_report = std::time::Instant::now();
    loop {
        let now = status.borrow_and_update().clone();
        if now.last_error != shown_error {
            if let Some(error) = &now.last_error {
                let message = format!(
                    "dbl: {}: {}. Serving the state before this record.",
                    now.log_path.as_deref().unwrap_or("event log"),
                    error.message
                );
                client.notify("window/showMessage", json!({"type": 1, "message": message})).await;
            }
            shown_error = now.last_error.clone();
        }
        if work_done_progress {
            let percentage = (100 * now.bytes_consumed / now.file_bytes.max(1)).min(100);
            let message = format!("{} of {} bytes", now.bytes_consumed, now.file_bytes);
            match (&token, now.loading) {
                (None, true) => {
                    loads += 1;
                    let t = format!("dbl/load/{loads}");
                    let created = client.request("window/workDoneProgress/create", json!({"token": t})).await;
                    if let Ok(Ok(Ok(_))) = tokio::time::timeout(Duration::from_secs(5), created).await {
                        let begin = json!({"kind": "begin", "title": "Loading build event log", "message": message,
                                           "percentage": percentage, "cancellable": false});
                        client.notify("$/progress", json!({"token": t, "value": begin})).await;
                        token = Some(t);
                        last_report = std::time::Instant::now();
                    }
                }
                (Some(t), true) if last_report.elapsed() >= Duration::from_millis(200) => {
                    let report = json!({"kind": "report", "message": message, "percentage": percentage});
                    client.notify("$/progress", json!({"token": t, "value": report})).await;
                    last_report = std::time::Instant::now();
                }
                (Some(t), false) => {
                    let end = json!({"kind": "end", "message": format!("loaded {} bytes", now.bytes_consumed)});
                    client.notify("$/progress", json!({"token": t, "value": end})).await;
                    token = None;
                }
                _ => {}
            }
        }
        if status.changed().await.is_err() {
            return;
        }
    }
}

/// Sends `workspace/codeLens/refresh` (at most every 500 ms) when changes touch refs in open documents.
async fn refresh_code_lenses(live: Arc<Live>, client: Client, editor: Arc<Editor>) {
    if !editor.code_lens_refresh_supported() {
        return;
    }
    let (mut rx, _) = live.subscribe();
    loop {
        let affected = match rx.recv().await {
            Ok(published) => match &*published {
                Published::Changed { raw, .. } => editor.lenses_affected(&live.read(), raw),
                Published::Reset { .. } => true,
                Published::LogError { .. } => false,
            },
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => true,
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        };
        if affected {
            drop(client.request("workspace/codeLens/refresh", Value::Null).await);
            tokio::time::sleep(Duration::from_millis(500)).await;
            // Whatever landed meanwhile is covered by the refresh just sent.
            rx = rx.resubscribe();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(registry: Registry, live: Arc<Live>) -> (Session, mpsc::Receiver<String>) {
        let (tx, rx) = mpsc::channel(64);
        (Session::new(live, Arc::new(registry), tx, StdioOptions::default()), rx)
    }

    async fn next(rx: &mut mpsc::Receiver<String>) -> Value {
        let text = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.expect("a message").unwrap();
        serde_json::from_str(&text).unwrap()
    }

    async fn initialize(s: &mut Session, rx: &mut mpsc::Receiver<String>, capabilities: Value) {
        let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"capabilities": capabilities}});
        assert_eq!(s.handle(init).await, None);
        assert_eq!(next(rx).await["result"]["serverInfo"]["name"], "dbl");
        s.handle(json!({"jsonrpc": "2.0", "method": "initialized", "params": {}})).await;
    }

    #[tokio::test]
    async fn cancel_answers_a_running_request_with_32800_and_requests_answer_out_of_order() {
        let live = Arc::new(Live::new());
        let mut registry = super::super::registry(live.clone());
        registry
            .register_async_method("databuild/slowForTest", |_, _, _| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                Ok::<_, jsonrpsee::types::ErrorObjectOwned>(1)
            })
            .unwrap();
        let (mut s, mut rx) = session(registry, live);
        initialize(&mut s, &mut rx, json!({})).await;
        s.handle(json!({"jsonrpc": "2.0", "id": 1, "method": "databuild/slowForTest"})).await;
        s.handle(json!({"jsonrpc": "2.0", "id": 2, "method": "databuild/status"})).await;
        let answer = next(&mut rx).await;
        assert_eq!(answer["id"], 2, "the quick request answers first: {answer}");
        s.handle(json!({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 1}})).await;
        let cancelled = next(&mut rx).await;
        assert_eq!((cancelled["id"].clone(), cancelled["error"]["code"].clone()), (json!(1), json!(-32800)));
        // Cancelling something finished or unknown sends nothing.
        s.handle(json!({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 2}})).await;
        s.handle(json!({"jsonrpc": "2.0", "id": 3, "method": "shutdown"})).await;
        assert_eq!(next(&mut rx).await, json!({"jsonrpc": "2.0", "id": 3, "result": null}));
        assert_eq!(s.handle(json!({"jsonrpc": "2.0", "method": "exit"})).await, Some(0));
        s.close();
    }

    #[tokio::test]
    async fn loading_progress_goes_to_a_client_that_supports_work_done_progress() {
        let live = Arc::new(Live::new());
        live.status_for_test(|s| {
            s.loading = true;
            s.file_bytes = 1000;
            s.bytes_consumed = 250;
        });
        let (mut s, mut rx) = session(super::super::registry(live.clone()), live.clone());
        initialize(&mut s, &mut rx, json!({"window": {"workDoneProgress": true}})).await;
        let create = next(&mut rx).await;
        assert_eq!(create["method"], "window/workDoneProgress/create", "{create}");
        let token = create["params"]["token"].clone();
        s.handle(json!({"jsonrpc": "2.0", "id": create["id"], "result": null})).await;
        let begin = next(&mut rx).await;
        assert_eq!(begin["method"], "$/progress");
        assert_eq!(begin["params"]["token"], token);
        assert_eq!(
            (begin["params"]["value"]["kind"].clone(), begin["params"]["value"]["percentage"].clone()),
            (json!("begin"), json!(25))
        );
        live.status_for_test(|s| {
            s.loading = false;
            s.bytes_consumed = 1000;
        });
        let end = next(&mut rx).await;
        assert_eq!((end["params"]["token"].clone(), end["params"]["value"]["kind"].clone()), (token, json!("end")));
        s.close();
    }
}
