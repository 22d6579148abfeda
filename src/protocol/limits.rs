//! What one client may hold of the daemon. Each limit, when hit, is an error that names it (the
//! flag or setting that raises it), never a silent drop.

use std::time::Duration;

use jsonrpsee::types::ErrorObjectOwned;
use serde_json::json;

use crate::editor::document::DEFAULT_MAX_OPEN_BYTES;

/// The limits of `dbl serve` (flags of the same names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `--max-connections`: WebSocket connections at once (HTTP 429 past it).
    pub max_connections: u32,
    /// `--max-subscriptions`: `databuild/subscribe`s alive on one connection or stdio session.
    pub max_subscriptions: u32,
    /// `--max-message-bytes`: the largest request (an LSP frame body, a WebSocket message).
    pub max_message_bytes: usize,
    /// Server→client requests (progress, lens refresh) left unanswered at once; older ones are
    /// dropped after [`Limits::client_request_timeout`].
    pub max_pending_client_requests: usize,
    pub client_request_timeout: Duration,
    /// `--max-open-document-bytes`: text of open documents one stdio session may hold.
    pub max_open_document_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 128,
            max_subscriptions: 64,
            max_message_bytes: 64 << 20,
            max_pending_client_requests: 64,
            client_request_timeout: Duration::from_secs(30),
            max_open_document_bytes: DEFAULT_MAX_OPEN_BYTES,
        }
    }
}

/// JSON-RPC code of a subscription refused for the limit (jsonrpsee's, so both transports agree).
pub const TOO_MANY_SUBSCRIPTIONS: i32 = jsonrpsee::types::error::TOO_MANY_SUBSCRIPTIONS_CODE;

/// The error for one subscription too many.
pub fn too_many_subscriptions(limit: u32) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(
        TOO_MANY_SUBSCRIPTIONS,
        format!(
            "too many subscriptions on this connection: the limit is {limit} (--max-subscriptions); \
             unsubscribe first"
        ),
        Some(json!({ "limit": limit, "flag": "--max-subscriptions" })),
    )
}
