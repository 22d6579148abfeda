//! A one-shot view as the CLI asks it (`dbl want`, `lineage`, `job-run`, `partition`, the lists), answered
//! as the text the CLI prints. One function, [`answer`], serves the CLI's own cold load and a shared
//! daemon (`databuild/render`), so both print the same bytes.

use serde::{Deserialize, Serialize};

use super::{render, Format};
use crate::state::BuildState;
use crate::views::{
    self, FulfillmentParams, JobRunParams, LineageParams, ListParams, PartitionParams, ViewError, WantParams,
};

/// What to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "view", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Query {
    Fulfillment {
        params: FulfillmentParams,
    },
    Want {
        params: WantParams,
    },
    /// `target` is a ref or a UUID (see [`ref_or_uuid`]); the params' `ref` and `uuid` are set from it.
    Lineage {
        target: String,
        params: LineageParams,
    },
    JobRun {
        params: JobRunParams,
    },
    Partition {
        target: String,
    },
    ListWants {
        params: ListParams,
    },
    ListJobRuns {
        params: ListParams,
    },
    ListPartitions {
        params: ListParams,
    },
}

/// Why a query has no text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    View(#[from] ViewError),
    /// The format does not fit the view (a list has no graph).
    #[error("{0}")]
    Format(String),
}

/// A UUID that is not also the name of a ref is a UUID; anything else is a ref.
pub fn ref_or_uuid(state: &BuildState, target: &str) -> (Option<String>, Option<String>) {
    if uuid::Uuid::parse_str(target).is_ok() && state.ref_id(target).is_none() {
        (None, Some(target.to_owned()))
    } else {
        (Some(target.to_owned()), None)
    }
}

/// The text the CLI prints for `query` in `format`.
pub fn answer(state: &BuildState, query: &Query, format: Format, color: bool) -> Result<String, QueryError> {
    let text = match query {
        Query::Fulfillment { params } => render(&views::fulfillment(state, params)?, format, color),
        Query::Want { params } => render(&views::want(state, params)?, format, color),
        Query::Lineage { target, params } => {
            let (partition_ref, uuid) = ref_or_uuid(state, target);
            let params = LineageParams { partition_ref, uuid, ..params.clone() };
            render(&views::lineage(state, &params)?, format, color)
        }
        Query::JobRun { params } => render(&views::job_run(state, params)?, format, color),
        Query::Partition { target } => {
            let (partition_ref, uuid) = ref_or_uuid(state, target);
            render(&views::partition(state, &PartitionParams { partition_ref, uuid })?, format, color)
        }
        Query::ListWants { params } => render(&views::list_wants(state, params)?, format, color),
        Query::ListJobRuns { params } => render(&views::list_job_runs(state, params)?, format, color),
        Query::ListPartitions { params } => render(&views::list_partitions(state, params)?, format, color),
    };
    text.map_err(QueryError::Format)
}
