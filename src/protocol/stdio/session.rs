//! One language-server session: the LSP lifecycle, dispatch and cancellation, as a function from
//! incoming messages to outgoing ones.
//!
//! - Notifications are handled in the order received, on the loop itself.
//! - Requests run as spawned tasks and may answer out of order; `$/cancelRequest` aborts one that is
//!   still running and answers it with -32800. A request whose task panics is answered with -32603.
//! - `databuild/*` requests go to the session's copy of the [`Registry`], whose extensions carry
//!   this session's [`Editor`]; a successful `databuild/subscribe` makes the subscription's
//!   `databuild/lineageChanged` notifications flow to this client.

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use super::background::{refresh_code_lenses, report_status};
use super::client::{error_response, response, Client};
use super::StdioOptions;
use crate::live::Live;
use crate::log::source::SourceSpec;
use crate::protocol::codec::{Frame, FrameError};
use crate::protocol::lsp::{self, Editor};
use crate::protocol::{codes, Registry};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Uninitialized,
    Running,
    ShutDown,
}

/// Requests still running, by the JSON text of their id.
type Running = Arc<Mutex<HashMap<String, AbortHandle>>>;

/// The state of one language-server session. See the module docs.
pub struct Session {
    live: Arc<Live>,
    /// The shared registry, with this session's editor in its extensions.
    registry: Arc<Registry>,
    editor: Arc<Editor>,
    client: Client,
    options: StdioOptions,
    phase: Phase,
    running: Running,
    /// Background tasks of this session (progress, error messages), ended on close.
    background: Vec<AbortHandle>,
    /// Tasks of `databuild/subscribe` requests, alive while the subscription is, ended on close.
    subscriptions: Vec<AbortHandle>,
    work_done_progress: bool,
    closed: Arc<AtomicBool>,
}

impl Session {
    pub fn new(live: Arc<Live>, registry: Arc<Registry>, out: mpsc::Sender<String>, options: StdioOptions) -> Session {
        let editor = Arc::new(Editor::new());
        editor.set_max_open_bytes(options.limits.max_open_document_bytes);
        let mut registry = Registry::clone(&registry);
        registry.extensions_mut().insert(editor.clone());
        Session {
            live,
            registry: Arc::new(registry),
            editor,
            client: Client::new(out, options.limits.max_pending_client_requests, options.limits.client_request_timeout),
            options,
            phase: Phase::Uninitialized,
            running: Arc::default(),
            background: Vec::new(),
            subscriptions: Vec::new(),
            work_done_progress: false,
            closed: Arc::default(),
        }
    }

    /// A handle for sending to the client.
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    pub(super) fn exit_code(&self) -> i32 {
        if self.phase == Phase::ShutDown {
            0
        } else {
            1
        }
    }

    /// Ends the session's background tasks and running requests.
    pub fn close(&mut self) {
        self.closed.store(true, Ordering::SeqCst);
        for task in self.background.drain(..).chain(self.subscriptions.drain(..)) {
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
                    FrameError::TooLarge { .. } => codes::INVALID_REQUEST,
                    FrameError::BadHeader(_) => codes::PARSE_ERROR,
                };
                self.client.send(error_response(&Value::Null, code, &error.to_string(), None)).await;
                None
            }
        }
    }

    /// Handles one parsed message. `Some(code)` means the server is to exit with that code.
    pub async fn handle(&mut self, message: Value) -> Option<i32> {
        let id = message.get("id").cloned();
        let reply_to = id.clone().unwrap_or(Value::Null);
        let (method, params) = match envelope(&message) {
            Ok(Envelope::Response) => {
                self.client.answered(&message);
                return None;
            }
            Ok(Envelope::Call { method, params }) => (method, params),
            Err(Invalid { text, answer_notification }) => {
                if id.is_some() || answer_notification {
                    self.client.send(error_response(&reply_to, codes::INVALID_REQUEST, &text, None)).await;
                }
                return None;
            }
        };
        match id {
            None => self.notification(&method, params).await,
            Some(id) if id.is_string() || id.as_u64().is_some() => {
                self.request(id, &method, params, message).await;
                None
            }
            Some(_) => {
                let text = "invalid request: `id` must be a string or a non-negative integer";
                self.client.send(error_response(&Value::Null, codes::INVALID_REQUEST, text, None)).await;
                None
            }
        }
    }

    async fn notification(&mut self, method: &str, params: Value) -> Option<i32> {
        if method == "exit" {
            return Some(self.exit_code());
        }
        if self.phase != Phase::Running {
            tracing::debug!("notification {method} outside the running phase ({:?}): dropped", self.phase);
            return None;
        }
        match method {
            "initialized" => self.start_background(),
            "$/cancelRequest" => self.cancel(params.get("id")?).await,
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
                    tracing::warn!("{method}: {}", error.message());
                    self.client.show_message(2, &format!("dbl: {}", error.message())).await;
                }
            },
            _ => tracing::debug!("ignoring notification {method}"),
        }
        None
    }

    async fn cancel(&mut self, id: &Value) {
        let task = self.running.lock().unwrap_or_else(|e| e.into_inner()).remove(&id.to_string());
        if let Some(task) = task {
            task.abort();
            self.client.send(error_response(id, codes::REQUEST_CANCELLED, "request cancelled", None)).await;
        }
    }

    /// The lifecycle's answer to a request, if the phase decides it (else the request is served).
    fn lifecycle(&mut self, method: &str) -> Option<Result<Value, (i32, String)>> {
        let refuse = |code, text: String| Some(Err((code, text)));
        match (self.phase, method) {
            (Phase::Uninitialized, "initialize") => None,
            (Phase::Uninitialized, _) => refuse(
                codes::SERVER_NOT_INITIALIZED,
                format!("server not initialized: send `initialize` before `{method}`"),
            ),
            (Phase::ShutDown, _) => refuse(
                codes::INVALID_REQUEST,
                format!("invalid request: `{method}` after `shutdown`; only `exit` is accepted now"),
            ),
            (Phase::Running, "initialize") => {
                refuse(codes::INVALID_REQUEST, "invalid request: `initialize` was already received".into())
            }
            (Phase::Running, "shutdown") => {
                self.phase = Phase::ShutDown;
                Some(Ok(Value::Null))
            }
            (Phase::Running, _) => None,
        }
    }

    async fn request(&mut self, id: Value, method: &str, params: Value, message: Value) {
        match self.lifecycle(method) {
            Some(Ok(result)) => return self.client.send(response(&id, result)).await,
            Some(Err((code, text))) => return self.client.send(error_response(&id, code, &text, None)).await,
            None if method == "initialize" => return self.initialize(id, params).await,
            None => {}
        }
        if self.editor.handles_request(method) {
            let (editor, live, method) = (self.editor.clone(), self.live.clone(), method.to_string());
            let reply_id = id.clone();
            self.spawn_request(id, method.clone(), async move {
                // Off the async workers: a search may walk workspace files.
                let outcome = tokio::task::spawn_blocking(move || editor.request(&*live, &method, params)).await;
                match outcome {
                    Ok(Ok(result)) => response(&reply_id, result),
                    Ok(Err(error)) => error_response(&reply_id, error.code(), error.message(), None),
                    Err(join) => std::panic::resume_unwind(join.into_panic()),
                }
            });
        } else if method == crate::protocol::SUBSCRIBE
            && self.live_subscriptions() >= self.options.limits.max_subscriptions
        {
            let error = crate::protocol::limits::too_many_subscriptions(self.options.limits.max_subscriptions);
            let data = error.data().and_then(|d| serde_json::from_str(d.get()).ok());
            self.client.send(error_response(&id, error.code(), error.message(), data)).await;
        } else if method.starts_with("databuild/") {
            self.spawn_registry_request(id, method.to_string(), message);
        } else {
            let text = format!("method not found: {method}");
            self.client.send(error_response(&id, codes::METHOD_NOT_FOUND, &text, None)).await;
        }
    }

    /// Runs `work` (which produces the response text) as a cancellable task. A panic in it is
    /// answered with -32603, and the request is forgotten either way.
    fn spawn_request(&mut self, id: Value, method: String, work: impl Future<Output = String> + Send + 'static) {
        let (client, running, key) = (self.client.clone(), self.running.clone(), id.to_string());
        // The map's lock is held across the spawn so the task cannot finish before it is registered.
        let mut map = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let task = tokio::spawn({
            let key = key.clone();
            async move {
                let text = AssertUnwindSafe(work)
                    .catch_unwind()
                    .await
                    .unwrap_or_else(|panic| panic_response(&id, &method, &*panic));
                finish(&running, &key, &client, text).await;
            }
        });
        map.insert(key, task.abort_handle());
    }

    /// A `databuild/*` request: the registry answers; a subscription then lives on in its task,
    /// forwarding notifications until it ends (unsubscribe) or the session closes.
    fn spawn_registry_request(&mut self, id: Value, method: String, message: Value) {
        let method_is_subscribe = method == crate::protocol::SUBSCRIBE;
        let (client, running, key) = (self.client.clone(), self.running.clone(), id.to_string());
        let (registry, closed, task_key) = (self.registry.clone(), self.closed.clone(), key.clone());
        let mut map = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let task = tokio::spawn(async move {
            let key = task_key;
            let text = message.to_string();
            let call = registry.raw_json_request(&text, crate::protocol::SUBSCRIPTION_BUFFER);
            let (answer, mut notifications) = match AssertUnwindSafe(call).catch_unwind().await {
                Ok(Ok(answer)) => answer,
                Ok(Err(e)) => {
                    let text = error_response(&id, codes::INVALID_REQUEST, &format!("invalid request: {e}"), None);
                    finish(&running, &key, &client, text).await;
                    return;
                }
                Err(panic) => {
                    finish(&running, &key, &client, panic_response(&id, &method, &*panic)).await;
                    return;
                }
            };
            let subscribed = method == crate::protocol::SUBSCRIBE && is_success(answer.get());
            if !finish(&running, &key, &client, answer.get().to_string()).await || !subscribed {
                return;
            }
            while let Some(notification) = notifications.recv().await {
                if closed.load(Ordering::SeqCst) {
                    break;
                }
                client.send(notification.get().to_string()).await;
            }
        });
        map.insert(key, task.abort_handle());
        drop(map);
        // A subscription keeps its task alive after answering: it counts against the limit until it
        // ends, and ends with the session.
        if method_is_subscribe {
            self.subscriptions.push(task.abort_handle());
        }
    }

    /// Subscriptions of this session still alive.
    fn live_subscriptions(&mut self) -> u32 {
        self.subscriptions.retain(|t| !t.is_finished());
        self.subscriptions.len() as u32
    }

    async fn initialize(&mut self, id: Value, mut params: Value) {
        if self.options.remote {
            // Paths on the client's machine: nothing to search here.
            if let Some(params) = params.as_object_mut() {
                for key in ["workspaceFolders", "rootUri", "rootPath"] {
                    params.remove(key);
                }
            }
        }
        if let Err(error) = self.editor.initialize(&params) {
            return self.client.send(error_response(&id, error.code(), error.message(), None)).await;
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
        if self.options.remote {
            // A path on the client's machine; the daemon serves its own log.
            return tracing::info!("eventLog {log} of a remote session ignored");
        }
        let source = match SourceSpec::parse(log) {
            Ok(source) => source.resolved(std::env::current_dir().ok().as_deref()),
            Err(error) => return self.client.show_message(1, &format!("dbl: eventLog: {error}")).await,
        };
        let current = self.live.tail_status().log_path;
        if self.live.start_source(&source, self.options.live.clone()) {
            tracing::info!("serving {}", source.display());
        } else if current.as_deref() != Some(source.display().as_str()) {
            let message = format!(
                "dbl: already serving {}; restart the server to serve {}",
                current.unwrap_or_default(),
                source.display()
            );
            tracing::warn!("{message}");
            self.client.show_message(2, &message).await;
        }
    }

    /// After `initialized`: progress while loading, a message on a bad record, code lens refreshes.
    fn start_background(&mut self) {
        let (live, client) = (self.live.clone(), self.client.clone());
        self.background.push(tokio::spawn(report_status(live, client, self.work_done_progress)).abort_handle());
        let (live, client, editor) = (self.live.clone(), self.client.clone(), self.editor.clone());
        self.background.push(tokio::spawn(refresh_code_lenses(live, client, editor)).abort_handle());
    }
}

/// What a well-formed message is.
enum Envelope {
    /// A response to one of our requests.
    Response,
    /// A request (with an id) or a notification.
    Call { method: String, params: Value },
}

/// A message that is not valid JSON-RPC.
struct Invalid {
    /// Names what is wrong.
    text: String,
    /// Whether to answer even if it has no id (when it is unclear it was meant as a notification).
    answer_notification: bool,
}

/// Checks the JSON-RPC envelope.
fn envelope(message: &Value) -> Result<Envelope, Invalid> {
    let invalid =
        |what: &str, answer_notification| Invalid { text: format!("invalid request: {what}"), answer_notification };
    let Value::Object(object) = message else {
        let what = if message.is_array() { "batches are not supported by LSP" } else { "not a JSON object" };
        return Err(invalid(what, true));
    };
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(invalid("`jsonrpc` must be \"2.0\"", true));
    }
    let method = match object.get("method") {
        None => return Ok(Envelope::Response),
        Some(Value::String(method)) => method.clone(),
        Some(_) => return Err(invalid("`method` must be a string", true)),
    };
    let params = object.get("params").cloned().unwrap_or(Value::Null);
    if !matches!(params, Value::Null | Value::Object(_) | Value::Array(_)) {
        return Err(invalid("`params` must be an object or an array", false));
    }
    Ok(Envelope::Call { method, params })
}

/// Whether a JSON-RPC response is a success (it has no `error` member).
fn is_success(response: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Outcome {
        error: Option<serde::de::IgnoredAny>,
    }
    serde_json::from_str::<Outcome>(response).is_ok_and(|o| o.error.is_none())
}

/// The -32603 answer to a request whose task panicked (logged on stderr too).
fn panic_response(id: &Value, method: &str, panic: &(dyn std::any::Any + Send)) -> String {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into());
    tracing::error!("{method} panicked: {message}");
    error_response(id, codes::INTERNAL_ERROR, &format!("internal error: {method} failed: {message}"), None)
}

/// Sends a response unless the request was cancelled meanwhile. Returns whether it was sent.
async fn finish(running: &Mutex<HashMap<String, AbortHandle>>, key: &str, client: &Client, text: String) -> bool {
    let still_running = running.lock().unwrap_or_else(|e| e.into_inner()).remove(key).is_some();
    if still_running {
        client.send(text).await;
    }
    still_running
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

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
        let mut registry = crate::protocol::registry(live.clone());
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
        let (mut s, mut rx) = session(crate::protocol::registry(live.clone()), live.clone());
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

    #[tokio::test]
    async fn a_panicking_request_is_answered_with_32603_and_forgotten() {
        let live = Arc::new(Live::new());
        let mut registry = crate::protocol::registry(live.clone());
        registry
            .register_method("databuild/panicForTest", |_, _, _| -> Result<u8, jsonrpsee::types::ErrorObjectOwned> {
                panic!("boom at byte 7")
            })
            .unwrap();
        let (mut s, mut rx) = session(registry, live);
        initialize(&mut s, &mut rx, json!({})).await;
        s.handle(json!({"jsonrpc": "2.0", "id": 1, "method": "databuild/panicForTest"})).await;
        let answer = next(&mut rx).await;
        assert_eq!(answer["id"], 1);
        assert_eq!(answer["error"]["code"], codes::INTERNAL_ERROR, "{answer}");
        assert!(answer["error"]["message"].as_str().unwrap().contains("boom at byte 7"), "{answer}");
        assert!(s.running.lock().unwrap().is_empty(), "nothing left behind");
        // The session still serves.
        s.handle(json!({"jsonrpc": "2.0", "id": 2, "method": "databuild/status"})).await;
        assert_eq!(next(&mut rx).await["id"], 2);
        s.close();
    }

    #[tokio::test]
    async fn upstream_by_position_searches_this_sessions_documents_through_the_registry() {
        let live = Arc::new(Live::new());
        let (mut s, mut rx) = session(crate::protocol::registry(live.clone()), live);
        initialize(&mut s, &mut rx, json!({})).await;
        let doc = json!({"uri": "file:///w/a.py", "languageId": "python", "version": 1, "text": "x = 'data/beta'\n"});
        s.handle(json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": doc}})).await;
        let at = json!({"textDocument": {"uri": "file:///w/a.py"}, "position": {"line": 0, "character": 7}});
        s.handle(json!({"jsonrpc": "2.0", "id": 1, "method": "databuild/upstream", "params": at})).await;
        let answer = next(&mut rx).await;
        // The state is empty, but the ref under the cursor was found in the session's document.
        assert_eq!(answer["error"]["code"], codes::NOT_FOUND, "{answer}");
        assert_eq!(answer["error"]["message"], "databuild/upstream: no partition ref at 1:8", "{answer}");
        s.handle(json!({"jsonrpc": "2.0", "id": 2, "method": "databuild/downstream", "params": {"ref": "data/none"}}))
            .await;
        let answer = next(&mut rx).await;
        assert_eq!(answer["error"]["message"], "databuild/downstream: no partition \"data/none\" in the log");
        s.handle(json!({"jsonrpc": "2.0", "id": 3, "method": "databuild/upstream", "params": {}})).await;
        let answer = next(&mut rx).await;
        assert_eq!(answer["error"]["code"], codes::INVALID_PARAMS, "{answer}");
        s.close();
    }

    #[tokio::test]
    async fn limits_are_errors_that_name_them() {
        let live = Arc::new(Live::new());
        let limits = crate::protocol::limits::Limits {
            max_subscriptions: 2,
            max_open_document_bytes: 16,
            max_pending_client_requests: 1,
            ..Default::default()
        };
        let (tx, mut rx) = mpsc::channel(64);
        let options = StdioOptions { limits, ..StdioOptions::default() };
        let mut s = Session::new(live.clone(), Arc::new(crate::protocol::registry(live)), tx, options);
        initialize(&mut s, &mut rx, json!({})).await;
        for id in 1..=2 {
            s.handle(json!({"jsonrpc": "2.0", "id": id, "method": "databuild/subscribe", "params": {}})).await;
            assert!(next(&mut rx).await["result"].is_number(), "subscription {id} accepted");
            assert_eq!(next(&mut rx).await["params"]["result"]["kind"], "subscribed");
        }
        s.handle(json!({"jsonrpc": "2.0", "id": 3, "method": "databuild/subscribe", "params": {}})).await;
        let refused = next(&mut rx).await;
        assert_eq!(refused["error"]["code"], crate::protocol::limits::TOO_MANY_SUBSCRIPTIONS, "{refused}");
        let message = refused["error"]["message"].as_str().unwrap();
        assert!(message.contains("the limit is 2 (--max-subscriptions)"), "{message}");

        // A document over the session's byte limit is refused with a message naming the limit.
        let doc = json!({"uri": "file:///w/a.py", "languageId": "python", "version": 1, "text": "x".repeat(17)});
        s.handle(json!({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": doc}})).await;
        let shown = next(&mut rx).await;
        assert_eq!(shown["method"], "window/showMessage");
        assert!(shown["params"]["message"].as_str().unwrap().contains("over the limit of 16 (maxOpenDocumentBytes)"));

        // Requests to a client that does not answer stay within the limit.
        let client = s.client();
        let first = client.request("workspace/codeLens/refresh", Value::Null).await;
        assert_eq!(next(&mut rx).await["method"], "workspace/codeLens/refresh");
        let second = client.request("workspace/codeLens/refresh", Value::Null).await;
        assert_eq!(client.pending_requests(), 1);
        assert!(second.await.is_err(), "not sent: the one before is still unanswered");
        drop(first);
        s.close();
    }
}
