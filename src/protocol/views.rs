//! The view methods (`databuild/fulfillment`, `lineage`, `jobRun`, ...): each a pure function of a
//! `BuildState` snapshot from [`crate::views`], registered here once for both transports.

use jsonrpsee::types::ErrorObjectOwned;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::{bad_params, parse_params, Registry};
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

fn view<P, T>(module: &mut Registry, name: &'static str, f: fn(&BuildState, &P) -> Result<T, ViewError>)
where
    P: DeserializeOwned + Send + 'static,
    T: Serialize + 'static,
{
    module
        .register_method(name, move |params, live, _| {
            let params: P = parse_params(&params)?;
            let result = f(&live.read(), &params).map_err(view_error)?;
            // The read lock is released by now: encoding happens outside it.
            serde_json::to_value(result).map_err(|e| {
                ErrorObjectOwned::owned(
                    super::codes::INTERNAL_ERROR,
                    format!("cannot encode the result: {e}"),
                    None::<Value>,
                )
            })
        })
        .expect("method names are unique");
}
