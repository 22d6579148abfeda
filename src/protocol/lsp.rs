//! The LSP side of the stdio server: lifecycle names, the `initialize` result, and the hook through
//! which editor features ([`crate::editor`]) are served.
//!
//! **Plug-in point for editor features:** [`Editor`] is the only thing the stdio loop calls for
//! `textDocument/*`, `workspace/didChangeConfiguration` and the editor's own `databuild/*` requests
//! (those in [`crate::editor::service::REQUESTS`]). It wraps [`EditorService`]: notifications take
//! the write lock in arrival order; requests take the read lock plus a state snapshot and may run
//! concurrently. To add a feature, add it to `EditorService` (its `REQUESTS`/`NOTIFICATIONS` lists
//! and `capabilities()`); nothing here needs to change.

use std::sync::RwLock;

use serde_json::{json, Value};

use crate::editor::service::{self, EditorError, EditorService, Effects};
use crate::state::{BuildState, Change};

/// Methods of the LSP lifecycle and base protocol that the stdio loop itself handles or sends.
pub const LIFECYCLE_METHODS: &[&str] = &[
    "initialize",
    "initialized",
    "shutdown",
    "exit",
    "$/cancelRequest",
    "$/progress",
    "window/showMessage",
    "window/workDoneProgress/create",
    "workspace/codeLens/refresh",
];

/// The `initialize` result.
pub fn initialize_result() -> Value {
    let mut capabilities = EditorService::capabilities();
    let methods: Vec<&str> = super::method_names().into_iter().chain(service::REQUESTS.iter().copied()).collect();
    capabilities["experimental"] =
        json!({ "databuild": { "methods": methods, "notifications": [super::LINEAGE_CHANGED] } });
    json!({
        "capabilities": capabilities,
        "serverInfo": { "name": "dbl", "version": env!("CARGO_PKG_VERSION") },
    })
}

/// Every method name the stdio server answers or sends, for the documentation check.
pub fn all_method_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = super::method_names();
    names.push(super::LINEAGE_CHANGED);
    names.extend(LIFECYCLE_METHODS);
    names.extend(service::REQUESTS);
    names.extend(service::NOTIFICATIONS);
    names.sort_unstable();
    names.dedup();
    names
}

/// The editor features of one session (see the module docs).
#[derive(Debug, Default)]
pub struct Editor {
    service: RwLock<EditorService>,
}

impl Editor {
    pub fn new() -> Editor {
        Editor::default()
    }

    pub fn handles_request(&self, method: &str) -> bool {
        service::REQUESTS.contains(&method)
    }

    pub fn handles_notification(&self, method: &str) -> bool {
        service::NOTIFICATIONS.contains(&method)
    }

    /// Reads the editor's part of `initialize` (options, workspace folders, client capabilities).
    pub fn initialize(&self, params: &Value) -> Result<(), EditorError> {
        self.service.write().unwrap_or_else(|e| e.into_inner()).initialize(params)
    }

    /// `eventLog` from the editor settings, if one was given.
    pub fn event_log(&self) -> Option<String> {
        self.service.read().unwrap_or_else(|e| e.into_inner()).config.event_log.clone()
    }

    pub fn notification(&self, method: &str, params: Value) -> Result<Effects, EditorError> {
        self.service.write().unwrap_or_else(|e| e.into_inner()).notification(method, params)
    }

    pub fn request(&self, state: &BuildState, method: &str, params: Value) -> Result<Value, EditorError> {
        self.service.read().unwrap_or_else(|e| e.into_inner()).request(state, method, params)
    }

    /// Whether to send `workspace/codeLens/refresh` after `changes`.
    pub fn lenses_affected(&self, state: &BuildState, changes: &[(u64, Change)]) -> bool {
        let service = self.service.read().unwrap_or_else(|e| e.into_inner());
        service.code_lens_refresh_supported() && service.lenses_affected(state, changes)
    }

    pub fn code_lens_refresh_supported(&self) -> bool {
        self.service.read().unwrap_or_else(|e| e.into_inner()).code_lens_refresh_supported()
    }
}
