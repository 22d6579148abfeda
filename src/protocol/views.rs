//! The view methods (`databuild/fulfillment`, `lineage`, `jobRun`, ...): each a pure function of a
//! `BuildState` snapshot from [`crate::views`], registered here once for both transports; and
//! `databuild/upstream|downstream`, the editor's neighbour lists, which also search the open
//! documents of the stdio session that asks (its [`Editor`] rides in the registry's extensions).
//!
//! Every method here runs on the blocking pool, not on the async workers: a large view takes
//! milliseconds to build and encode, and the workers must stay free to answer a hover and to send
//! `changed` notices meanwhile. Results are encoded straight to JSON text, never to a `Value` tree.

use jsonrpsee::types::ErrorObjectOwned;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

use std::sync::{Arc, Condvar, Mutex};

use lsp_types::{Position, TextDocumentIdentifier, TextDocumentPositionParams};
use serde::Deserialize;

use super::lsp::{editor_error, Editor};
use super::{bad_params, parse_params, Registry};
use crate::editor::features::Direction;
use crate::editor::{EditorService, RefQuery};
use crate::render::query::{answer, Query, QueryError};
use crate::render::Format;
use crate::state::BuildState;
use crate::views::{self, ViewError};

/// Registers every view method.
pub(super) fn register(module: &mut Registry) {
    view(module, "databuild/fulfillment", views::fulfillment);
    view(module, "databuild/lineage", views::lineage);
    view(module, "databuild/jobRun", views::job_run);
    view(module, "databuild/partition", views::partition);
    view(module, "databuild/want", views::want);
    view(module, "databuild/listWants", views::list_wants);
    view(module, "databuild/listJobRuns", views::list_job_runs);
    view(module, "databuild/listPartitions", views::list_partitions);
    neighbours(module, "databuild/upstream", Direction::Upstream);
    neighbours(module, "databuild/downstream", Direction::Downstream);
    module
        .register_blocking_method("databuild/render", |params, live, _| {
            let params: RenderParams = parse_params(&params)?;
            let _turn = VIEWS.enter();
            let text = answer(&live.read(), &params.query, params.format, params.color).map_err(|e| match e {
                QueryError::View(e) => view_error(e),
                QueryError::Format(message) => bad_params(message, Some("format")),
            })?;
            Ok::<_, ErrorObjectOwned>(serde_json::json!({ "text": text }))
        })
        .expect("method names are unique");
}

/// `databuild/render` params: a one-shot view and how to print it, as `dbl want|lineage|…` would.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RenderParams {
    query: Query,
    format: Format,
    #[serde(default)]
    color: bool,
}

/// `databuild/upstream|downstream` params: `ref`, or `textDocument` and `position` (stdio only: the
/// document must be open in the session). Other fields (`workDoneToken`, ...) are ignored, as LSP does.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NeighboursParams {
    #[serde(rename = "ref")]
    partition_ref: Option<String>,
    text_document: Option<TextDocumentIdentifier>,
    position: Option<Position>,
}

fn neighbours(module: &mut Registry, name: &'static str, direction: Direction) {
    // Blocking: the answer may search workspace files for where each neighbour appears.
    module
        .register_blocking_method(name, move |params, live, extensions| {
            let params: NeighboursParams = parse_params(&params)?;
            let query = match params {
                NeighboursParams { partition_ref: Some(r), .. } => RefQuery::Named(r),
                NeighboursParams { text_document: Some(text_document), position: Some(position), .. } => {
                    RefQuery::At(TextDocumentPositionParams { text_document, position })
                }
                _ => {
                    let message = format!("{name}: give `ref`, or `textDocument` and `position`");
                    return Err(bad_params(message, Some("ref")));
                }
            };
            let session = extensions.get::<Arc<Editor>>();
            let answer = match session {
                Some(editor) => editor.read().neighbours(&**live, &query, direction),
                None => EditorService::new().neighbours(&**live, &query, direction),
            };
            let answer = answer.map_err(|e| editor_error(name, e))?;
            encode(answer)
        })
        .expect("method names are unique");
}

fn encode<T: Serialize>(result: T) -> Result<Box<RawValue>, ErrorObjectOwned> {
    serde_json::value::to_raw_value(&result).map_err(|e| {
        ErrorObjectOwned::owned(super::codes::INTERNAL_ERROR, format!("cannot encode the result: {e}"), None::<Value>)
    })
}

/// Maps a view's error to its JSON-RPC error: -32004 with `{kind, id}`, or -32602 naming the field.
pub fn view_error(error: ViewError) -> ErrorObjectOwned {
    match &error {
        ViewError::NotFound { id, .. } => {
            let data = serde_json::json!({ "kind": error.wire_kind().unwrap_or("entity"), "id": id });
            ErrorObjectOwned::owned(super::codes::NOT_FOUND, error.to_string(), Some(data))
        }
        ViewError::BadParams { field, .. } => bad_params(error.to_string(), Some(field)),
    }
}

/// Views built at once: one fewer than the cores (at least one). However many tools ask for views,
/// a core stays free for what an editor waits on — hovers, lenses, change notices — and for ingest;
/// the other requests wait their turn, blocked, not competing for the cores.
static VIEWS: std::sync::LazyLock<Turns> = std::sync::LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Turns { max: cores.saturating_sub(1).max(1), running: Mutex::new(0), freed: Condvar::new() }
});

/// A counting gate (a semaphore for blocking threads).
struct Turns {
    max: usize,
    running: Mutex<usize>,
    freed: Condvar,
}

impl Turns {
    fn enter(&self) -> Turn<'_> {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        while *running >= self.max {
            running = self.freed.wait(running).unwrap_or_else(|e| e.into_inner());
        }
        *running += 1;
        Turn(self)
    }
}

/// One view's turn; the next waiting view goes when it is dropped.
struct Turn<'a>(&'a Turns);

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        *self.0.running.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        self.0.freed.notify_one();
    }
}

fn view<P, T>(module: &mut Registry, name: &'static str, f: fn(&BuildState, &P) -> Result<T, ViewError>)
where
    P: DeserializeOwned + Send + 'static,
    T: Serialize + 'static,
{
    module
        .register_blocking_method(name, move |params, live, _| {
            let params: P = parse_params(&params)?;
            let _turn = VIEWS.enter();
            let result = f(&live.read(), &params).map_err(view_error)?;
            // The read lock is released by now: encoding happens outside it.
            encode(result)
        })
        .expect("method names are unique");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_past_the_limit_wait_for_a_turn() {
        let turns = Turns { max: 1, running: Mutex::new(0), freed: Condvar::new() };
        let first = turns.enter();
        let (entered_tx, entered) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let _second = turns.enter();
                entered_tx.send(()).unwrap();
            });
            let waited = entered.recv_timeout(std::time::Duration::from_millis(100));
            assert!(waited.is_err(), "the second view entered while the first held the only turn");
            drop(first);
            entered.recv_timeout(std::time::Duration::from_secs(10)).expect("the second view's turn came");
        });
        assert_eq!(*turns.running.lock().unwrap(), 0);
    }
}
