//! The editor features behind LSP method names: what the daemon's language-server loop calls for
//! `textDocument/*`, `workspace/didChangeConfiguration`, `databuild/upstream` and
//! `databuild/downstream`. Params and results are JSON values (the loop owns framing, ids, the
//! lifecycle and cancellation); everything else lives in the pure modules of [`super`].

use std::collections::HashSet;
use std::path::PathBuf;

use lsp_types::{
    CodeLensParams, DidChangeConfigurationParams, DidChangeTextDocumentParams, DidCloseTextDocumentParams,
    DidOpenTextDocumentParams, GotoDefinitionParams, HoverParams, Position, ReferenceParams, TextDocumentIdentifier,
    Uri,
};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use super::config::EditorConfig;
use super::document::{Document, DocumentStore};
use super::features::{self, Direction};
use super::scan::scan_tokens;
use super::workspace::{uri_to_path, FsWorkspace};
use crate::state::{BuildState, Change};

/// JSON-RPC "invalid params".
pub const INVALID_PARAMS: i64 = -32602;
/// JSON-RPC "method not found".
pub const METHOD_NOT_FOUND: i64 = -32601;
/// The ref is not in the log (or has no instance yet).
pub const NOT_FOUND: i64 = -32004;

/// A JSON-RPC error for the loop to send back (requests) or log and show (notifications).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct EditorError {
    pub code: i64,
    pub message: String,
}

impl EditorError {
    fn invalid_params(message: impl Into<String>) -> EditorError {
        EditorError { code: INVALID_PARAMS, message: message.into() }
    }
}

/// What a notification changed that the daemon must act on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Effects {
    /// `eventLog` was set (or cleared): the log to serve from now on.
    pub event_log: Option<Option<String>>,
    /// Code lenses may show something else now (patterns changed): send `workspace/codeLens/refresh`
    /// if [`EditorService::code_lens_refresh_supported`].
    pub refresh_code_lenses: bool,
}

/// The editor side of one language-server session.
#[derive(Debug, Clone, Default)]
pub struct EditorService {
    pub docs: DocumentStore,
    pub config: EditorConfig,
    pub workspace: FsWorkspace,
    code_lens_refresh: bool,
}

/// Requests this module answers.
pub const REQUESTS: &[&str] = &[
    "textDocument/hover",
    "textDocument/definition",
    "textDocument/references",
    "textDocument/codeLens",
    "databuild/upstream",
    "databuild/downstream",
];

/// Notifications this module handles.
pub const NOTIFICATIONS: &[&str] = &[
    "textDocument/didOpen",
    "textDocument/didChange",
    "textDocument/didClose",
    "textDocument/didSave",
    "workspace/didChangeConfiguration",
];

fn parse<T: DeserializeOwned>(method: &str, params: Value) -> Result<T, EditorError> {
    serde_json::from_value(params).map_err(|e| EditorError::invalid_params(format!("{method}: invalid params: {e}")))
}

impl EditorService {
    pub fn new() -> EditorService {
        EditorService::default()
    }

    /// Reads what `initialize` carries for the editor: `initializationOptions` (see
    /// [`EditorConfig::update`]), the workspace folders (or `rootUri`) to search, and whether the
    /// client supports `workspace/codeLens/refresh`. A bad option is an error naming it.
    pub fn initialize(&mut self, params: &Value) -> Result<(), EditorError> {
        if let Some(options) = params.get("initializationOptions") {
            self.config
                .update(options)
                .map_err(|m| EditorError::invalid_params(format!("initializationOptions: {m}")))?;
        }
        let mut roots: Vec<PathBuf> = Vec::new();
        if let Some(folders) = params.get("workspaceFolders").and_then(Value::as_array) {
            for folder in folders {
                if let Some(uri) = folder.get("uri").and_then(Value::as_str).and_then(|u| u.parse::<Uri>().ok()) {
                    roots.extend(uri_to_path(&uri));
                }
            }
        }
        if roots.is_empty() {
            if let Some(uri) = params.get("rootUri").and_then(Value::as_str).and_then(|u| u.parse::<Uri>().ok()) {
                roots.extend(uri_to_path(&uri));
            } else if let Some(path) = params.get("rootPath").and_then(Value::as_str) {
                roots.push(PathBuf::from(path));
            }
        }
        self.workspace.roots = roots;
        self.exclude_event_log();
        self.code_lens_refresh =
            params.pointer("/capabilities/workspace/codeLens/refreshSupport").and_then(Value::as_bool).unwrap_or(false);
        Ok(())
    }

    /// Keeps the configured event log out of workspace searches (resolved like the daemon does:
    /// relative to the first workspace folder).
    fn exclude_event_log(&mut self) {
        self.workspace.exclude = match &self.config.event_log {
            Some(log) => {
                let path = PathBuf::from(log);
                let path = match self.workspace.roots.first() {
                    Some(root) if path.is_relative() => root.join(path),
                    _ => path,
                };
                vec![path]
            }
            None => Vec::new(),
        };
    }

    pub fn code_lens_refresh_supported(&self) -> bool {
        self.code_lens_refresh
    }

    /// The editor part of the `initialize` result's `capabilities`, to merge into the daemon's.
    pub fn capabilities() -> Value {
        json!({
            "positionEncoding": "utf-16",
            "textDocumentSync": { "openClose": true, "change": 2, "save": false },
            "hoverProvider": true,
            "definitionProvider": true,
            "referencesProvider": true,
            "codeLensProvider": { "resolveProvider": false },
        })
    }

    /// Handles a notification in order of arrival.
    pub fn notification(&mut self, method: &str, params: Value) -> Result<Effects, EditorError> {
        let mut effects = Effects::default();
        match method {
            "textDocument/didOpen" => {
                let p: DidOpenTextDocumentParams = parse(method, params)?;
                let d = p.text_document;
                self.docs.open(d.uri, d.language_id, d.version, d.text);
            }
            "textDocument/didChange" => {
                let p: DidChangeTextDocumentParams = parse(method, params)?;
                self.docs
                    .change(&p.text_document.uri, p.text_document.version, &p.content_changes)
                    .map_err(|e| EditorError::invalid_params(e.to_string()))?;
            }
            "textDocument/didClose" => {
                let p: DidCloseTextDocumentParams = parse(method, params)?;
                self.docs.close(&p.text_document.uri).map_err(|e| EditorError::invalid_params(e.to_string()))?;
            }
            "textDocument/didSave" => {}
            "workspace/didChangeConfiguration" => {
                let p: DidChangeConfigurationParams = parse(method, params)?;
                let before = (self.config.event_log.clone(), self.config.ref_patterns.clone());
                self.config
                    .update(&p.settings)
                    .map_err(|m| EditorError::invalid_params(format!("workspace/didChangeConfiguration: {m}")))?;
                if self.config.event_log != before.0 {
                    effects.event_log = Some(self.config.event_log.clone());
                    self.exclude_event_log();
                }
                effects.refresh_code_lenses = self.config.ref_patterns != before.1;
            }
            _ => {
                return Err(EditorError {
                    code: METHOD_NOT_FOUND,
                    message: format!("{method}: not an editor notification"),
                })
            }
        }
        Ok(effects)
    }

    /// Answers a request against a snapshot of the state. A `textDocument/*` request about a
    /// document that is not open answers `null`.
    pub fn request(&self, state: &BuildState, method: &str, params: Value) -> Result<Value, EditorError> {
        match method {
            "textDocument/hover" => {
                let p: HoverParams = parse(method, params)?;
                let tdp = p.text_document_position_params;
                Ok(self
                    .with_doc(&tdp.text_document, |doc| features::hover(state, &self.config, doc, tdp.position))
                    .flatten()
                    .map_or(Value::Null, |h| to_value(&h)))
            }
            "textDocument/definition" => {
                let p: GotoDefinitionParams = parse(method, params)?;
                let tdp = p.text_document_position_params;
                let found = self.with_doc(&tdp.text_document, |doc| {
                    features::definition(state, &self.config, &self.docs, &self.workspace, doc, tdp.position)
                });
                Ok(found.filter(|l| !l.is_empty()).map_or(Value::Null, |l| to_value(&l)))
            }
            "textDocument/references" => {
                let p: ReferenceParams = parse(method, params)?;
                let tdp = p.text_document_position;
                let found = self.with_doc(&tdp.text_document, |doc| {
                    features::references(state, &self.config, &self.docs, &self.workspace, doc, tdp.position)
                });
                Ok(found.filter(|l| !l.is_empty()).map_or(Value::Null, |l| to_value(&l)))
            }
            "textDocument/codeLens" => {
                let p: CodeLensParams = parse(method, params)?;
                let lenses = self.with_doc(&p.text_document, |doc| features::code_lenses(state, &self.config, doc));
                Ok(lenses.map_or(Value::Null, |l| to_value(&l)))
            }
            "databuild/upstream" | "databuild/downstream" => {
                let direction =
                    if method == "databuild/upstream" { Direction::Upstream } else { Direction::Downstream };
                let name = self.ref_param(state, method, &params)?;
                features::neighbours(state, &self.config, &self.docs, &self.workspace, &name, direction).ok_or_else(
                    || EditorError { code: NOT_FOUND, message: format!("{method}: no partition {name:?} in the log") },
                )
            }
            _ => Err(EditorError { code: METHOD_NOT_FOUND, message: format!("{method}: not an editor request") }),
        }
    }

    fn with_doc<T>(&self, id: &TextDocumentIdentifier, f: impl FnOnce(&Document) -> T) -> Option<T> {
        match self.docs.get(&id.uri) {
            Some(doc) => Some(f(doc)),
            None => {
                tracing::debug!(uri = id.uri.as_str(), "request about a document that is not open");
                None
            }
        }
    }

    /// The ref a `databuild/upstream|downstream` request is about: `ref`, or the ref at
    /// `textDocument` + `position`.
    fn ref_param(&self, state: &BuildState, method: &str, params: &Value) -> Result<String, EditorError> {
        if let Some(r) = params.get("ref") {
            return r
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| EditorError::invalid_params(format!("{method}: `ref` must be a string")));
        }
        let (Some(td), Some(position)) = (params.get("textDocument"), params.get("position")) else {
            return Err(EditorError::invalid_params(format!("{method}: give `ref`, or `textDocument` and `position`")));
        };
        let td: TextDocumentIdentifier = parse(method, td.clone())?;
        let position: Position = parse(method, position.clone())?;
        let doc = self.docs.get(&td.uri).ok_or_else(|| {
            EditorError::invalid_params(format!("{method}: document {} is not open", td.uri.as_str()))
        })?;
        features::ref_at(state, &self.config, doc, position).map(|(hit, _)| hit.name).ok_or_else(|| EditorError {
            code: NOT_FOUND,
            message: format!("{method}: no partition ref at {}:{}", position.line + 1, position.character + 1),
        })
    }

    /// Whether `changes` (as recorded by the state) alter what the code lenses of an open document
    /// show: a state change or a new consumer edge of a ref that appears in one.
    pub fn lenses_affected(&self, state: &BuildState, changes: &[(u64, Change)]) -> bool {
        if self.docs.is_empty() {
            return false;
        }
        let mut refs: HashSet<&str> = HashSet::new();
        for (_, change) in changes {
            match *change {
                Change::PartitionState { partition, .. } => {
                    refs.insert(state.ref_name(state.partition(partition).partition_ref));
                }
                Change::ConsumerEdge { input, output, .. } => {
                    refs.insert(state.ref_name(state.partition(input).partition_ref));
                    refs.insert(state.ref_name(state.partition(output).partition_ref));
                }
                _ => {}
            }
        }
        !refs.is_empty()
            && self.docs.iter().any(|doc| !scan_tokens(doc.text(), |c| refs.contains(c).then_some(())).is_empty())
    }
}

fn to_value<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("lsp-types values serialise")
}
