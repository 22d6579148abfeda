//! Sending to the client: responses, notifications, and server→client requests whose answers are
//! matched back by id.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// Server→client requests waiting for the client's answer, oldest first, within a bound: a client
/// that never answers cannot make them pile up.
struct Outgoing {
    next_id: AtomicI64,
    waiting: Mutex<BTreeMap<i64, Waiting>>,
    max_pending: usize,
    timeout: Duration,
}

struct Waiting {
    method: String,
    sent: Instant,
    answer: oneshot::Sender<Result<Value, Value>>,
}

/// A handle to send notifications and requests to the client from any task.
#[derive(Clone)]
pub struct Client {
    out: mpsc::Sender<String>,
    outgoing: Arc<Outgoing>,
}

impl Client {
    /// A client that keeps at most `max_pending` of our requests waiting, each at most `timeout`.
    pub fn new(out: mpsc::Sender<String>, max_pending: usize, timeout: Duration) -> Client {
        let outgoing = Outgoing { next_id: AtomicI64::new(0), waiting: Mutex::default(), max_pending, timeout };
        Client { out, outgoing: Arc::new(outgoing) }
    }

    pub async fn notify(&self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}).to_string()).await;
    }

    /// `window/showMessage` (1 = error, 2 = warning, 3 = info).
    pub async fn show_message(&self, kind: u8, message: &str) {
        self.notify("window/showMessage", json!({"type": kind, "message": message})).await;
    }

    /// Sends a request; the receiver gets the result, or the error object. Requests the client left
    /// unanswered past the timeout are dropped first (their receivers see the sender gone); if as many
    /// as the limit still wait, this one is not sent and its receiver sees the same.
    pub async fn request(&self, method: &str, params: Value) -> oneshot::Receiver<Result<Value, Value>> {
        let (tx, rx) = oneshot::channel();
        let id = {
            let mut waiting = self.outgoing.waiting.lock().unwrap_or_else(|e| e.into_inner());
            let timeout = self.outgoing.timeout;
            waiting.retain(|id, w| {
                let alive = w.sent.elapsed() < timeout;
                if !alive {
                    tracing::warn!("the client did not answer {} (request {id}) within {timeout:?}: dropped", w.method);
                }
                alive
            });
            if waiting.len() >= self.outgoing.max_pending {
                tracing::warn!(
                    "not sending {method}: {} requests to the client are unanswered, the limit",
                    waiting.len()
                );
                return rx;
            }
            let id = self.outgoing.next_id.fetch_add(1, Ordering::SeqCst) + 1;
            waiting.insert(id, Waiting { method: method.to_string(), sent: Instant::now(), answer: tx });
            id
        };
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string()).await;
        rx
    }

    /// How many of our requests wait for the client's answer.
    pub fn pending_requests(&self) -> usize {
        self.outgoing.waiting.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// A response from the client to one of our requests: hands it to whoever waits for it.
    pub fn answered(&self, message: &Value) {
        let waiting = message
            .get("id")
            .and_then(Value::as_i64)
            .and_then(|id| self.outgoing.waiting.lock().unwrap_or_else(|e| e.into_inner()).remove(&id));
        match waiting {
            Some(waiting) => {
                let outcome = match message.get("error") {
                    Some(error) => Err(error.clone()),
                    None => Ok(message.get("result").cloned().unwrap_or(Value::Null)),
                };
                let _ = waiting.answer.send(outcome);
            }
            None => tracing::warn!("a response to no request of ours: {message}"),
        }
    }

    pub async fn send(&self, message: String) {
        // The writer is gone only when the session ends: nothing to do then.
        let _ = self.out.send(message).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn requests_the_client_leaves_unanswered_time_out_and_make_room() {
        let (tx, mut rx) = mpsc::channel(8);
        let client = Client::new(tx, 1, Duration::from_millis(20));
        let first = client.request("workspace/codeLens/refresh", Value::Null).await;
        assert!(rx.recv().await.unwrap().contains("\"id\":1"));
        tokio::time::sleep(Duration::from_millis(40)).await;
        let second = client.request("workspace/codeLens/refresh", Value::Null).await;
        assert!(rx.recv().await.unwrap().contains("\"id\":2"), "sent once the first timed out");
        assert!(first.await.is_err(), "the timed-out request's receiver sees it dropped");
        client.answered(&serde_json::json!({"jsonrpc": "2.0", "id": 2, "result": null}));
        assert_eq!(second.await.unwrap(), Ok(Value::Null));
        assert_eq!(client.pending_requests(), 0);
    }
}
