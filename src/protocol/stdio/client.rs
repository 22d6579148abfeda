//! Sending to the client: responses, notifications, and server→client requests whose answers are
//! matched back by id.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};

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
    pub fn new(out: mpsc::Sender<String>) -> Client {
        Client { out, outgoing: Arc::default() }
    }

    pub async fn notify(&self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}).to_string()).await;
    }

    /// `window/showMessage` (1 = error, 2 = warning, 3 = info).
    pub async fn show_message(&self, kind: u8, message: &str) {
        self.notify("window/showMessage", json!({"type": kind, "message": message})).await;
    }

    /// Sends a request; the receiver gets the result, or the error object.
    pub async fn request(&self, method: &str, params: Value) -> oneshot::Receiver<Result<Value, Value>> {
        let id = self.outgoing.next_id.fetch_add(1, Ordering::SeqCst) + 1;
        let (tx, rx) = oneshot::channel();
        self.outgoing.waiting.lock().unwrap_or_else(|e| e.into_inner()).insert(id, tx);
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string()).await;
        rx
    }

    /// A response from the client to one of our requests: hands it to whoever waits for it.
    pub fn answered(&self, message: &Value) {
        let waiting = message
            .get("id")
            .and_then(Value::as_i64)
            .and_then(|id| self.outgoing.waiting.lock().unwrap_or_else(|e| e.into_inner()).remove(&id));
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

    pub async fn send(&self, message: String) {
        // The writer is gone only when the session ends: nothing to do then.
        let _ = self.out.send(message).await;
    }
}
