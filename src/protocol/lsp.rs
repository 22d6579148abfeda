//! The LSP side of the stdio server: lifecycle names, the `initialize` result, and the mapping of
//! LSP method names, params and error codes onto the typed editor features of [`crate::editor`].
//!
//! [`Editor`] is one session's [`EditorService`] behind a lock: notifications take the write lock in
//! arrival order; requests take the read lock and a state snapshot and may run concurrently. The
//! same `Editor` is what `databuild/upstream|downstream` find in the registry's per-session
//! extensions (see [`super::views`]), so a stdio client's open documents are searched too.

use std::path::PathBuf;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use jsonrpsee::types::ErrorObjectOwned;
use lsp_types::{
    CodeLensParams, DidChangeConfigurationParams, DidChangeTextDocumentParams, DidCloseTextDocumentParams,
    DidOpenTextDocumentParams, GotoDefinitionParams, HoverParams, ReferenceParams, Uri,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

use super::codes;
use crate::editor::workspace::uri_to_path;
use crate::editor::{EditorError, EditorInit, EditorService, Effects, StateAccess};
use crate::live::Live;
use crate::state::BuildState;

/// The live state is read under its lock only while a request needs it (see [`StateAccess`]).
impl StateAccess for Live {
    fn with_state<R>(&self, f: impl FnOnce(&BuildState) -> R) -> R {
        f(&self.read())
    }
}

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

/// The editor requests answered over stdio only (they are about the session's open documents).
pub const REQUESTS: &[&str] =
    &["textDocument/hover", "textDocument/definition", "textDocument/references", "textDocument/codeLens"];

/// The editor notifications.
pub const NOTIFICATIONS: &[&str] = &[
    "textDocument/didOpen",
    "textDocument/didChange",
    "textDocument/didClose",
    "textDocument/didSave",
    "workspace/didChangeConfiguration",
];

/// The editor part of the `initialize` result's `capabilities`.
fn editor_capabilities() -> Value {
    json!({
        "positionEncoding": "utf-16",
        "textDocumentSync": { "openClose": true, "change": 2, "save": false },
        "hoverProvider": true,
        "definitionProvider": true,
        "referencesProvider": true,
        "codeLensProvider": { "resolveProvider": false },
    })
}

/// The `initialize` result.
pub fn initialize_result() -> Value {
    let mut capabilities = editor_capabilities();
    capabilities["experimental"] =
        json!({ "databuild": { "methods": super::method_names(), "notifications": [super::LINEAGE_CHANGED] } });
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
    names.extend(REQUESTS);
    names.extend(NOTIFICATIONS);
    names.sort_unstable();
    names.dedup();
    names
}

/// The editor's part of `initialize`: settings, workspace folders (else `rootUri`, else `rootPath`),
/// and whether the client supports `workspace/codeLens/refresh`.
pub fn editor_init(params: &Value) -> EditorInit {
    let uri_path = |uri: &Value| uri.as_str().and_then(|u| u.parse::<Uri>().ok()).and_then(|u| uri_to_path(&u));
    let mut roots: Vec<PathBuf> = params
        .get("workspaceFolders")
        .and_then(Value::as_array)
        .map(|folders| folders.iter().filter_map(|f| f.get("uri").and_then(uri_path)).collect())
        .unwrap_or_default();
    if roots.is_empty() {
        if let Some(uri) = params.get("rootUri").filter(|u| !u.is_null()) {
            roots.extend(uri_path(uri));
        } else if let Some(path) = params.get("rootPath").and_then(Value::as_str) {
            roots.push(PathBuf::from(path));
        }
    }
    EditorInit {
        options: params.get("initializationOptions").cloned(),
        roots,
        code_lens_refresh: params
            .pointer("/capabilities/workspace/codeLens/refreshSupport")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    }
}

/// An editor error as a JSON-RPC error, its message prefixed by what failed.
pub fn editor_error(context: &str, error: EditorError) -> ErrorObjectOwned {
    match error {
        EditorError::Invalid(message) => {
            ErrorObjectOwned::owned(codes::INVALID_PARAMS, format!("{context}: {message}"), None::<Value>)
        }
        EditorError::NotFound(message) => {
            ErrorObjectOwned::owned(codes::NOT_FOUND, format!("{context}: {message}"), None::<Value>)
        }
    }
}

fn parse<T: DeserializeOwned>(method: &str, params: Value) -> Result<T, ErrorObjectOwned> {
    serde_json::from_value(params).map_err(|e| {
        ErrorObjectOwned::owned(codes::INVALID_PARAMS, format!("{method}: invalid params: {e}"), None::<Value>)
    })
}

/// `null` for nothing found, as LSP clients expect.
fn or_null<T: Serialize>(found: Option<T>) -> Value {
    found.map_or(Value::Null, |v| serde_json::to_value(v).expect("lsp-types values serialise"))
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

    pub fn read(&self) -> RwLockReadGuard<'_, EditorService> {
        self.service.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, EditorService> {
        self.service.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The most text of open documents this session may hold.
    pub fn set_max_open_bytes(&self, bytes: usize) {
        self.write().docs.max_total_bytes = bytes;
    }

    pub fn handles_request(&self, method: &str) -> bool {
        REQUESTS.contains(&method)
    }

    pub fn handles_notification(&self, method: &str) -> bool {
        NOTIFICATIONS.contains(&method)
    }

    /// Reads the editor's part of `initialize`. A bad option is an error naming it.
    pub fn initialize(&self, params: &Value) -> Result<(), ErrorObjectOwned> {
        self.write().initialize(editor_init(params)).map_err(|e| editor_error("initializationOptions", e))
    }

    /// `eventLog` from the editor settings, if one was given.
    pub fn event_log(&self) -> Option<String> {
        self.read().config.event_log.clone()
    }

    pub fn code_lens_refresh_supported(&self) -> bool {
        self.read().code_lens_refresh_supported()
    }

    /// Handles an editor notification, in order of arrival.
    pub fn notification(&self, method: &str, params: Value) -> Result<Effects, ErrorObjectOwned> {
        let mut service = self.write();
        let failed = |e| editor_error(method, e);
        match method {
            "textDocument/didOpen" => {
                service.did_open(parse::<DidOpenTextDocumentParams>(method, params)?.text_document).map_err(failed)?
            }
            "textDocument/didChange" => {
                service.did_change(&parse::<DidChangeTextDocumentParams>(method, params)?).map_err(failed)?
            }
            "textDocument/didClose" => service
                .did_close(&parse::<DidCloseTextDocumentParams>(method, params)?.text_document.uri)
                .map_err(failed)?,
            "textDocument/didSave" => {}
            "workspace/didChangeConfiguration" => {
                let p: DidChangeConfigurationParams = parse(method, params)?;
                return service.change_configuration(&p.settings).map_err(failed);
            }
            _ => {
                let message = format!("{method}: not an editor notification");
                return Err(ErrorObjectOwned::owned(codes::METHOD_NOT_FOUND, message, None::<Value>));
            }
        }
        Ok(Effects::default())
    }

    /// Answers an editor request against a state snapshot. A request about a document that is not
    /// open answers `null`.
    pub fn request(&self, state: &impl StateAccess, method: &str, params: Value) -> Result<Value, ErrorObjectOwned> {
        let service = self.read();
        let found = match method {
            "textDocument/hover" => {
                let at = parse::<HoverParams>(method, params)?.text_document_position_params;
                or_null(state.with_state(|state| service.hover(state, &at)))
            }
            "textDocument/definition" => {
                let at = parse::<GotoDefinitionParams>(method, params)?.text_document_position_params;
                or_null(Some(service.definition(state, &at)).filter(|l| !l.is_empty()))
            }
            "textDocument/references" => {
                let at = parse::<ReferenceParams>(method, params)?.text_document_position;
                or_null(Some(service.references(state, &at)).filter(|l| !l.is_empty()))
            }
            "textDocument/codeLens" => {
                let uri = parse::<CodeLensParams>(method, params)?.text_document.uri;
                or_null(state.with_state(|state| service.code_lenses(state, &uri)))
            }
            _ => {
                let message = format!("{method}: not an editor request");
                return Err(ErrorObjectOwned::owned(codes::METHOD_NOT_FOUND, message, None::<Value>));
            }
        };
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo_state() -> BuildState {
        BuildState::from_events(&crate::events::demo_events())
    }

    fn editor() -> Editor {
        let editor = Editor::new();
        editor
            .initialize(&json!({
                "initializationOptions": {"eventLog": "/tmp/demo.jsonl", "fanoutLimit": 5},
                "rootUri": "file:///nonexistent-dbl-root",
                "capabilities": {"workspace": {"codeLens": {"refreshSupport": true}}},
            }))
            .unwrap();
        editor
    }

    #[test]
    fn lsp_methods_map_onto_the_editor() {
        let state = demo_state();
        let editor = editor();
        assert_eq!(editor.event_log().as_deref(), Some("/tmp/demo.jsonl"));
        assert_eq!(editor.read().config.fanout_limit, 5);
        assert!(editor.code_lens_refresh_supported());
        let doc = json!({"uri": "file:///w/a.py", "languageId": "python", "version": 1, "text": "x = 'data/beta'\n"});
        editor.notification("textDocument/didOpen", json!({"textDocument": doc})).unwrap();
        let at = json!({"textDocument": {"uri": "file:///w/a.py"}, "position": {"line": 0, "character": 7}});
        let hover = editor.request(&state, "textDocument/hover", at.clone()).unwrap();
        assert!(hover["contents"]["value"].as_str().unwrap().contains("`JR-456`"), "{hover}");
        assert_eq!(hover["contents"]["kind"], "markdown");

        // An incremental edit that turns the ref into data/gamma.
        let change = json!({
            "textDocument": {"uri": "file:///w/a.py", "version": 2},
            "contentChanges": [{"range": {"start": {"line": 0, "character": 10}, "end": {"line": 0, "character": 14}}, "text": "gamma"}],
        });
        editor.notification("textDocument/didChange", change).unwrap();
        let lenses = editor
            .request(&state, "textDocument/codeLens", json!({"textDocument": {"uri": "file:///w/a.py"}}))
            .unwrap();
        assert_eq!(lenses[0]["command"]["title"], "Live · 2 upstream · 0 downstream");
        let definition = editor.request(&state, "textDocument/definition", at.clone()).unwrap();
        assert_eq!(definition, Value::Null, "the upstream refs appear nowhere");
        let references = editor.request(&state, "textDocument/references", json!({
            "textDocument": {"uri": "file:///w/a.py"}, "position": {"line": 0, "character": 7}, "context": {"includeDeclaration": true}
        }));
        assert_eq!(references.unwrap(), Value::Null);

        // Errors name what is wrong.
        let err = editor.request(&state, "textDocument/hover", json!({"position": 3})).unwrap_err();
        assert_eq!(err.code(), codes::INVALID_PARAMS);
        assert!(err.message().starts_with("textDocument/hover: invalid params"), "{}", err.message());
        // A document that is not open answers null.
        let closed = json!({"textDocument": {"uri": "file:///w/b.py"}, "position": {"line": 0, "character": 0}});
        assert_eq!(editor.request(&state, "textDocument/hover", closed).unwrap(), Value::Null);

        // Configuration changes report what the daemon must do.
        let effects = editor
            .notification(
                "workspace/didChangeConfiguration",
                json!({"settings": {"databuild": {"eventLog": "/tmp/other.bel", "refPatterns": ["x"]}}}),
            )
            .unwrap();
        assert_eq!(effects.event_log, Some(Some("/tmp/other.bel".to_string())));
        assert!(effects.refresh_code_lenses);
        let err = editor
            .notification("workspace/didChangeConfiguration", json!({"settings": {"fanoutLimit": "many"}}))
            .unwrap_err();
        assert_eq!(err.message(), "workspace/didChangeConfiguration: fanoutLimit must be a positive integer");
        editor.notification("textDocument/didClose", json!({"textDocument": {"uri": "file:///w/a.py"}})).unwrap();
        assert!(editor.read().docs.is_empty());
        let err = editor.notification("textDocument/nope", json!({})).unwrap_err();
        assert_eq!(err.code(), codes::METHOD_NOT_FOUND);
    }

    #[test]
    fn a_bad_initialization_option_is_named() {
        let err = Editor::new().initialize(&json!({"initializationOptions": {"fanoutLimit": 0}})).unwrap_err();
        assert_eq!(err.code(), codes::INVALID_PARAMS);
        assert!(err.message().starts_with("initializationOptions: fanoutLimit"), "{}", err.message());
    }
}
