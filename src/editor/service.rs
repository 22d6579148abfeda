//! One editor session: its open documents, settings and workspace, and the features as typed
//! functions over a [`BuildState`]. The protocol layer maps LSP method names, params and error codes
//! onto these (`crate::protocol::lsp`); nothing here knows them.

use std::collections::HashSet;
use std::path::PathBuf;

use lsp_types::{
    CodeLens, DidChangeTextDocumentParams, Hover, Location, TextDocumentItem, TextDocumentPositionParams, Uri,
};
use serde_json::Value;

use super::config::EditorConfig;
use super::document::{Document, DocumentStore};
use super::features::{self, Direction, Neighbours};
use super::scan::scan_tokens;
use super::workspace::FsWorkspace;
use crate::state::BuildState;

/// How a request reads the state: for as long as `f` runs. Requests that also walk files look up
/// what they need inside `f` and walk after it, so a caller holding a lock holds it only that long
/// and the log's ingest never waits for a workspace walk.
pub trait StateAccess {
    fn with_state<R>(&self, f: impl FnOnce(&BuildState) -> R) -> R;
}

impl StateAccess for BuildState {
    fn with_state<R>(&self, f: impl FnOnce(&BuildState) -> R) -> R {
        f(self)
    }
}
use crate::views::Response;

/// Why an editor request or notification could not be served. The message names what is wrong; the
/// protocol layer adds the method and picks the code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditorError {
    /// A param or setting is malformed, or names a document that is not open.
    #[error("{0}")]
    Invalid(String),
    /// The ref asked about is not in the log (or there is no ref where the cursor is).
    #[error("{0}")]
    NotFound(String),
}

/// What a configuration change means for the daemon.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Effects {
    /// `eventLog` was set (or cleared): the log to serve from now on.
    pub event_log: Option<Option<String>>,
    /// Code lenses may show something else now (patterns changed): ask the client to refresh them
    /// if [`EditorService::code_lens_refresh_supported`].
    pub refresh_code_lenses: bool,
}

/// What the editor needs from the client's start-up message.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EditorInit {
    /// The client's settings for `dbl` (see [`EditorConfig::update`]).
    pub options: Option<Value>,
    /// Workspace folders to search for refs, first one first.
    pub roots: Vec<PathBuf>,
    /// Whether the client can be asked to refresh its code lenses.
    pub code_lens_refresh: bool,
}

/// Which ref a `neighbours` query is about.
#[derive(Debug, Clone, PartialEq)]
pub enum RefQuery {
    Named(String),
    /// The ref at a position in an open document.
    At(TextDocumentPositionParams),
}

/// The editor side of one language-server session.
#[derive(Debug, Clone, Default)]
pub struct EditorService {
    pub docs: DocumentStore,
    pub config: EditorConfig,
    pub workspace: FsWorkspace,
    code_lens_refresh: bool,
}

impl EditorService {
    pub fn new() -> EditorService {
        EditorService::default()
    }

    /// Takes the client's settings, workspace folders and capabilities. A bad option is an error
    /// naming it.
    pub fn initialize(&mut self, init: EditorInit) -> Result<(), EditorError> {
        if let Some(options) = &init.options {
            self.config.update(options).map_err(EditorError::Invalid)?;
        }
        self.workspace.roots = init.roots;
        self.exclude_event_log();
        self.code_lens_refresh = init.code_lens_refresh;
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

    pub fn did_open(&mut self, item: TextDocumentItem) -> Result<(), EditorError> {
        self.docs
            .open(item.uri, item.language_id, item.version, item.text)
            .map_err(|e| EditorError::Invalid(e.to_string()))
    }

    pub fn did_change(&mut self, params: &DidChangeTextDocumentParams) -> Result<(), EditorError> {
        let id = &params.text_document;
        self.docs.change(&id.uri, id.version, &params.content_changes).map_err(|e| EditorError::Invalid(e.to_string()))
    }

    pub fn did_close(&mut self, uri: &Uri) -> Result<(), EditorError> {
        self.docs.close(uri).map_err(|e| EditorError::Invalid(e.to_string()))
    }

    /// New settings (see [`EditorConfig::update`]): what changed that the daemon must act on.
    pub fn change_configuration(&mut self, settings: &Value) -> Result<Effects, EditorError> {
        let before = (self.config.event_log.clone(), self.config.ref_patterns.clone());
        self.config.update(settings).map_err(EditorError::Invalid)?;
        let mut effects = Effects::default();
        if self.config.event_log != before.0 {
            effects.event_log = Some(self.config.event_log.clone());
            self.exclude_event_log();
        }
        effects.refresh_code_lenses = self.config.ref_patterns != before.1;
        Ok(effects)
    }

    /// Hover on a ref; `None` off a ref or in a document that is not open.
    pub fn hover(&self, state: &BuildState, at: &TextDocumentPositionParams) -> Option<Hover> {
        let doc = self.doc(&at.text_document.uri)?;
        features::hover(state, &self.config, doc, at.position)
    }

    /// Go to upstream: where the direct upstream refs of the ref at `at` appear.
    pub fn definition(&self, state: &impl StateAccess, at: &TextDocumentPositionParams) -> Vec<Location> {
        self.go_to(state, at, Direction::Upstream)
    }

    /// Go to downstream: where the direct downstream refs of the ref at `at` appear.
    pub fn references(&self, state: &impl StateAccess, at: &TextDocumentPositionParams) -> Vec<Location> {
        self.go_to(state, at, Direction::Downstream)
    }

    fn go_to(&self, state: &impl StateAccess, at: &TextDocumentPositionParams, direction: Direction) -> Vec<Location> {
        let Some(doc) = self.doc(&at.text_document.uri) else { return Vec::new() };
        let names = state.with_state(|state| features::go_to_targets(state, &self.config, doc, at.position, direction));
        features::locations_of(&self.docs, &self.workspace, &names)
    }

    /// One lens per ref in the document; `None` if it is not open.
    pub fn code_lenses(&self, state: &BuildState, uri: &Uri) -> Option<Vec<CodeLens>> {
        Some(features::code_lenses(state, &self.config, self.doc(uri)?))
    }

    /// The direct neighbours of a ref in one direction, with where each appears in this session's
    /// documents and workspace.
    pub fn neighbours(
        &self,
        state: &impl StateAccess,
        query: &RefQuery,
        direction: Direction,
    ) -> Result<Response<Neighbours>, EditorError> {
        let mut found = state.with_state(|state| {
            let name = self.ref_of(state, query)?;
            features::neighbours(state, &self.config, &name, direction)
                .ok_or_else(|| EditorError::NotFound(format!("no partition {name:?} in the log")))
        })?;
        features::locate_neighbours(&self.docs, &self.workspace, &mut found.data);
        Ok(found)
    }

    fn ref_of(&self, state: &BuildState, query: &RefQuery) -> Result<String, EditorError> {
        let at = match query {
            RefQuery::Named(name) => return Ok(name.clone()),
            RefQuery::At(at) => at,
        };
        let doc = self
            .doc(&at.text_document.uri)
            .ok_or_else(|| EditorError::Invalid(format!("document {} is not open", at.text_document.uri.as_str())))?;
        // One-based for people; u64 so that a position of u32::MAX does not overflow.
        let (line, character) = (u64::from(at.position.line) + 1, u64::from(at.position.character) + 1);
        features::ref_at(state, &self.config, doc, at.position)
            .map(|(hit, _)| hit.name)
            .ok_or_else(|| EditorError::NotFound(format!("no partition ref at {line}:{character}")))
    }

    fn doc(&self, uri: &Uri) -> Option<&Document> {
        let doc = self.docs.get(uri);
        if doc.is_none() {
            tracing::debug!(uri = uri.as_str(), "request about a document that is not open");
        }
        doc
    }

    /// Whether changes to the lineage of `refs` alter what the code lenses of an open document show.
    pub fn lenses_affected<'a>(&self, refs: impl IntoIterator<Item = &'a str>) -> bool {
        if self.docs.is_empty() {
            return false;
        }
        let refs: HashSet<&str> = refs.into_iter().collect();
        !refs.is_empty()
            && self.docs.iter().any(|doc| !scan_tokens(doc.text(), |c| refs.contains(c).then_some(())).is_empty())
    }
}
