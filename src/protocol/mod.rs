//! The protocol layer: the only part of `dbl` that knows JSON-RPC, LSP and the wire names of fields.
//!
//! Every `databuild/*` method is defined once, in the [`registry`] (a jsonrpsee [`RpcModule`]), and
//! both transports dispatch to it: the WebSocket server ([`ws`]) serves the module as is; the stdio
//! language server ([`stdio`]) hands each `databuild/*` request to `RpcModule::raw_json_request`.
//! The transports are thin: framing ([`codec`]) and the LSP lifecycle ([`lsp`]) are separate from
//! the dispatch, which tests drive without pipes.

pub mod codec;
pub mod intercept;
pub mod limits;
pub mod lsp;
pub mod notices;
pub mod pages;
pub mod stdio;
mod subscribe;
mod view_threads;
mod views;
pub mod ws;
pub mod ws_lsp;

use std::sync::Arc;

use jsonrpsee::types::{ErrorObjectOwned, Params};
use jsonrpsee::RpcModule;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::live::Live;

/// JSON-RPC error codes. The first five are the standard ones; `NOT_FOUND` is `dbl`'s own.
pub mod codes {
    pub const PARSE_ERROR: i32 = -32700;
    pub const INVALID_REQUEST: i32 = -32600;
    pub const METHOD_NOT_FOUND: i32 = -32601;
    pub const INVALID_PARAMS: i32 = -32602;
    pub const INTERNAL_ERROR: i32 = -32603;
    /// LSP: a request other than `initialize` before `initialize`.
    pub const SERVER_NOT_INITIALIZED: i32 = -32002;
    /// LSP: the request was cancelled by `$/cancelRequest`.
    pub const REQUEST_CANCELLED: i32 = -32800;
    /// No such want / job run / partition: `data` is `{"kind": "want"|"jobRun"|"partition", "id": ...}`.
    pub const NOT_FOUND: i32 = -32004;
}

pub const SUBSCRIBE: &str = "databuild/subscribe";
pub const UNSUBSCRIBE: &str = "databuild/unsubscribe";
/// The notification a subscription produces (on both transports).
pub const LINEAGE_CHANGED: &str = "databuild/lineageChanged";
/// Notices a subscriber may fall behind by before it is sent a `lagged` notice.
pub const SUBSCRIPTION_BUFFER: usize = 1024;

/// The registry: every `databuild/*` method, over the shared live state.
pub type Registry = RpcModule<Arc<Live>>;

/// Builds the method registry over `live`.
pub fn registry(live: Arc<Live>) -> Registry {
    let mut module = RpcModule::new(live);
    module
        .register_method("databuild/status", |params, live, _| {
            no_params(&params)?;
            Ok::<_, ErrorObjectOwned>(status(live))
        })
        .expect("method names are unique");
    views::register(&mut module);
    module
        .register_subscription(SUBSCRIBE, LINEAGE_CHANGED, UNSUBSCRIBE, |params, pending, live, _| async move {
            subscribe::run(params, pending, Arc::clone(&live)).await
        })
        .expect("method names are unique");
    module
}

/// Every method name the registry answers, sorted (for `dbl serve --list-methods` and the docs test).
pub fn method_names() -> Vec<&'static str> {
    let module = registry(Arc::new(Live::new()));
    let mut names: Vec<&'static str> = module.method_names().collect();
    names.sort_unstable();
    names
}

/// `databuild/status`.
pub fn status(live: &Live) -> Value {
    // State first, then the tail status: the ingest thread updates the latter under the state's write
    // lock, so the two agree.
    let state = live.read();
    let tail = live.tail_status();
    let mut status = status_of(&state, &tail);
    status["pages"] = live.pages_url().into();
    status
}

/// The `databuild/status` result for a state and what is known of its log (also `dbl status --format json`).
pub fn status_of(state: &crate::state::BuildState, tail: &crate::live::TailStatus) -> Value {
    let recent: Vec<Value> = state
        .diagnostics()
        .iter()
        .rev()
        .take(10)
        .rev()
        .map(|d| json!({"eventId": d.event_id, "offset": d.offset, "message": d.message}))
        .collect();
    json!({
        "logPath": tail.log_path,
        "format": tail.format,
        // Table sources: which table, key and event column are followed, and the last key applied.
        "table": tail.table,
        "lastKey": tail.last_key,
        "loading": tail.loading,
        "waitingForFile": tail.waiting_for_file,
        "eventsApplied": state.events_applied(),
        "lastEventId": state.last_event().map(|e| e.event_id),
        "bytesConsumed": tail.bytes_consumed,
        "pendingBytes": tail.pending_bytes,
        "fileBytes": tail.file_bytes,
        "lastError": tail.last_error,
        "ioError": tail.io_error,
        "resets": tail.resets,
        "diagnosticCount": state.diagnostic_count(),
        "recentDiagnostics": recent,
        "counts": {
            "wants": state.want_count(), "jobRuns": state.job_run_count(),
            "partitions": state.partition_count(), "refs": state.ref_count(), "taints": state.taint_count(),
        },
        // Not while loading: hashing a large state under its read lock would hold up the load.
        "digest": if tail.loading { Value::Null } else { Value::from(state.digest()) },
        "tail": { "notify": tail.notify, "pollMs": tail.poll_ms, "snapshotEvents": tail.snapshot_events },
        // The daemon's web pages (`dbl serve --listen`); [`status`] fills it in.
        "pages": Value::Null,
    })
}

/// A -32602 error whose message names what is wrong.
pub fn bad_params(message: impl Into<String>, field: Option<&str>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(codes::INVALID_PARAMS, message, field.map(|f| json!({ "field": f })))
}

/// A -32004 error for a want / job run / partition that is not in the log.
pub fn not_found(kind: &str, id: &str) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(codes::NOT_FOUND, format!("no such {kind}: {id}"), Some(json!({ "kind": kind, "id": id })))
}

/// Parses named params (a JSON object; absent means `{}`) into `T`, naming the bad field on error.
pub fn parse_params<T: DeserializeOwned>(params: &Params) -> Result<T, ErrorObjectOwned> {
    let text = params.as_str().unwrap_or("{}");
    let value: Value = serde_json::from_str(text).map_err(|e| bad_params(format!("params: {e}"), None))?;
    let value = match value {
        Value::Null => json!({}),
        Value::Object(_) => value,
        Value::Array(_) => return Err(bad_params("params must be an object with named fields, not an array", None)),
        other => return Err(bad_params(format!("params must be an object, not {other}"), None)),
    };
    // One top-level field per line, so a type error's line number says which field it is in.
    let fields = value.as_object().expect("checked above");
    let mut text = String::from("{\n");
    for (i, (key, field)) in fields.iter().enumerate() {
        if i > 0 {
            text.push_str(",\n");
        }
        text.push_str(&Value::String(key.clone()).to_string());
        text.push(':');
        text.push_str(&field.to_string());
    }
    text.push_str("\n}");
    serde_json::from_str(&text).map_err(|e| {
        let message = strip_position(&e.to_string());
        let field = if message.starts_with("missing field")
            || message.starts_with("unknown field")
            || message.starts_with("duplicate field")
        {
            field_in_serde_message(&message)
        } else {
            e.line().checked_sub(2).and_then(|i| fields.keys().nth(i)).cloned()
        };
        let text = match &field {
            Some(field) if !message.contains(&format!("`{field}`")) => format!("invalid params: `{field}`: {message}"),
            _ => format!("invalid params: {message}"),
        };
        bad_params(text, field.as_deref())
    })
}

/// serde_json appends " at line L column C", meaningless for the caller's JSON.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message.to_string(),
    }
}

/// serde names the field in backquotes: "missing field `wantId`", "unknown field `ref`, expected ...".
fn field_in_serde_message(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_string())
}

pub(crate) fn no_params(params: &Params) -> Result<(), ErrorObjectOwned> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct None_ {}
    parse_params::<None_>(params).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn registry_answers_status_and_names_bad_params() {
        let module = registry(Arc::new(Live::new()));
        let (response, _) =
            module.raw_json_request(r#"{"jsonrpc":"2.0","id":1,"method":"databuild/status"}"#, 1).await.unwrap();
        let response: Value = serde_json::from_str(response.get()).unwrap();
        assert_eq!(response["result"]["eventsApplied"], 0, "{response}");
        let (response, _) = module
            .raw_json_request(r#"{"jsonrpc":"2.0","id":2,"method":"databuild/subscribe","params":{"ref":"x"}}"#, 1)
            .await
            .unwrap();
        let response: Value = serde_json::from_str(response.get()).unwrap();
        assert_eq!(response["error"]["code"], codes::INVALID_PARAMS, "{response}");
        assert_eq!(response["error"]["data"]["field"], "ref", "{response}");
        let (response, _) =
            module.raw_json_request(r#"{"jsonrpc":"2.0","id":3,"method":"databuild/nope"}"#, 1).await.unwrap();
        let response: Value = serde_json::from_str(response.get()).unwrap();
        assert_eq!(response["error"]["code"], codes::METHOD_NOT_FOUND);
    }

    #[test]
    fn type_errors_name_the_field() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(rename_all = "camelCase")]
        #[allow(dead_code)]
        struct P {
            want_id: String,
            depth: Option<u32>,
        }
        let params = Params::new(Some(r#"{"wantId":"W","depth":"deep"}"#));
        let error = parse_params::<P>(&params).unwrap_err();
        assert_eq!(error.data().map(|d| d.get()), Some(r#"{"field":"depth"}"#));
        assert!(error.message().contains("`depth`: invalid type: string \"deep\""), "{}", error.message());
        let error = parse_params::<P>(&Params::new(Some("{}"))).unwrap_err();
        assert_eq!(error.message(), "invalid params: missing field `wantId`");
    }

    #[test]
    fn serde_field_names_are_found() {
        assert_eq!(field_in_serde_message("missing field `wantId`").as_deref(), Some("wantId"));
        assert_eq!(field_in_serde_message("unknown field `ref`, expected `refs`").as_deref(), Some("ref"));
        assert_eq!(field_in_serde_message("invalid type: string"), None);
    }
}
