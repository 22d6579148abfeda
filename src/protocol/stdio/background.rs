//! What a session does unasked, after `initialized`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;

use super::Client;
use crate::live::{Live, Published, TailStatus};
use crate::protocol::lsp::Editor;

/// Watches the tail status: `$/progress` while loading (if the client supports it), and a
/// `window/showMessage` for each new log error.
pub(super) async fn report_status(live: Arc<Live>, client: Client, work_done_progress: bool) {
    let mut status = live.watch_status();
    let mut shown_error = None;
    let mut progress = LoadProgress { client: &client, token: None, loads: 0, last_report: Instant::now() };
    loop {
        let now = status.borrow_and_update().clone();
        if now.last_error != shown_error {
            if let Some(error) = &now.last_error {
                let message = format!(
                    "dbl: {}: {}. Serving the state before this record.",
                    now.log_path.as_deref().unwrap_or("event log"),
                    error.message
                );
                client.show_message(1, &message).await;
            }
            shown_error = now.last_error.clone();
        }
        if work_done_progress {
            progress.report(&now).await;
        }
        if status.changed().await.is_err() {
            return;
        }
    }
}

/// One `$/progress` token per load (the initial one, and each rebuild after a reset).
struct LoadProgress<'a> {
    client: &'a Client,
    token: Option<String>,
    loads: u32,
    last_report: Instant,
}

impl LoadProgress<'_> {
    async fn report(&mut self, now: &TailStatus) {
        let percentage = (100 * now.bytes_consumed / now.file_bytes.max(1)).min(100);
        let message = format!("{} of {} bytes", now.bytes_consumed, now.file_bytes);
        match (&self.token, now.loading) {
            (None, true) => self.begin(message, percentage).await,
            (Some(token), true) if self.last_report.elapsed() >= Duration::from_millis(200) => {
                let report = json!({"kind": "report", "message": message, "percentage": percentage});
                self.client.notify("$/progress", json!({"token": token, "value": report})).await;
                self.last_report = Instant::now();
            }
            (Some(token), false) => {
                let end = json!({"kind": "end", "message": format!("loaded {} bytes", now.bytes_consumed)});
                self.client.notify("$/progress", json!({"token": token, "value": end})).await;
                self.token = None;
            }
            _ => {}
        }
    }

    async fn begin(&mut self, message: String, percentage: u64) {
        self.loads += 1;
        let token = format!("dbl/load/{}", self.loads);
        let created = self.client.request("window/workDoneProgress/create", json!({"token": token})).await;
        if let Ok(Ok(Ok(_))) = tokio::time::timeout(Duration::from_secs(5), created).await {
            let begin = json!({"kind": "begin", "title": "Loading build event log", "message": message,
                               "percentage": percentage, "cancellable": false});
            self.client.notify("$/progress", json!({"token": token, "value": begin})).await;
            self.token = Some(token);
            self.last_report = Instant::now();
        }
    }
}

/// Sends `workspace/codeLens/refresh` (at most every 500 ms) when changes touch refs in open documents.
pub(super) async fn refresh_code_lenses(live: Arc<Live>, client: Client, editor: Arc<Editor>) {
    if !editor.code_lens_refresh_supported() {
        return;
    }
    let (mut rx, _) = live.subscribe();
    loop {
        let affected = match rx.recv().await {
            Ok(published) => match &*published {
                Published::Changed { changes, .. } => {
                    editor.read().lenses_affected(changes.iter().flat_map(|c| c.lineage_refs()))
                }
                Published::Reset { .. } => true,
                Published::LogError { .. } => false,
            },
            Err(RecvError::Lagged(_)) => true,
            Err(RecvError::Closed) => return,
        };
        if affected {
            drop(client.request("workspace/codeLens/refresh", Value::Null).await);
            tokio::time::sleep(Duration::from_millis(500)).await;
            // Whatever landed meanwhile is covered by the refresh just sent.
            rx = rx.resubscribe();
        }
    }
}
