//! The view methods (`databuild/fulfillment`, `lineage`, `jobRun`, ...): each a pure function of a
//! `BuildState` snapshot from [`crate::views`], registered here once for both transports; and
//! `databuild/upstream|downstream`, the editor's neighbour lists, which also search the open
//! documents of the stdio session that asks (its [`Editor`] rides in the registry's extensions).
//!
//! Every method here runs off the async workers: a large view takes milliseconds to build and encode,
//! and the workers must stay free to answer a hover and to send `changed` notices meanwhile. Results
//! are encoded straight to JSON text, never to a `Value` tree. The query methods take turns on threads
//! of their own at a lower priority ([`super::view_threads`]), so they never take every core nor hold
//! up an editor; the neighbour lists run on the blocking pool.

use jsonrpsee::types::ErrorObjectOwned;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

use std::sync::Arc;

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
        .register_async_method("databuild/render", |params, live, _| async move {
            let params: RenderParams = parse_params(&params)?;
            in_turn(move || {
                let text = answer(&live.read_long(), &params.query, params.format, params.color).map_err(|e| match e {
                    QueryError::View(e) => view_error(e),
                    QueryError::Format(message) => bad_params(message, Some("format")),
                })?;
                encode(serde_json::json!({ "text": text }))
            })
            .await
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

/// Runs `build` on a view thread in its turn (see [`super::view_threads`]); a panic is answered -32603.
async fn in_turn(
    build: impl FnOnce() -> Result<Box<RawValue>, ErrorObjectOwned> + Send + 'static,
) -> Result<Box<RawValue>, ErrorObjectOwned> {
    super::view_threads::in_turn(build).await.unwrap_or_else(|_| {
        tracing::error!("a view panicked (its message is above)");
        Err(ErrorObjectOwned::owned(
            super::codes::INTERNAL_ERROR,
            "the view failed (see the daemon's log)",
            None::<Value>,
        ))
    })
}

fn view<P, T>(module: &mut Registry, name: &'static str, f: fn(&BuildState, &P) -> Result<T, ViewError>)
where
    P: DeserializeOwned + Send + 'static,
    T: Serialize + 'static,
{
    module
        .register_async_method(name, move |params, live, _| async move {
            let params: P = parse_params(&params)?;
            in_turn(move || {
                let result = f(&live.read_long(), &params).map_err(view_error)?;
                // The read lock is released by now: encoding happens outside it.
                encode(result)
            })
            .await
        })
        .expect("method names are unique");
}
