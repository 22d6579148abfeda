//! Lineage changes as subscribers see them: [`crate::state::Change`]s resolved to names, grouped per
//! event, and the filters a `databuild/subscribe` call can ask for.
//!
//! Wire shapes are documented in `docs/PROTOCOL.md` (`databuild/lineageChanged`).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::state::{BuildState, Change, JobRunIx, PartitionIx, WantIx};

/// One change, resolved to the ids a client knows, plus what it touches (for filtering).
#[derive(Debug, Clone)]
pub struct ResolvedChange {
    pub json: Value,
    pub touches: Touches,
}

/// The refs, UUIDs, wants and job labels a change concerns.
#[derive(Debug, Clone, Default)]
pub struct Touches {
    pub refs: Vec<String>,
    pub uuids: Vec<String>,
    pub wants: Vec<String>,
    pub job_labels: Vec<String>,
}

/// What the ingest task publishes to every subscriber, in log order.
#[derive(Debug, Clone)]
pub enum Published {
    /// Everything one event changed.
    Changed { event_id: u64, offset: u64, changes: Vec<ResolvedChange>, raw: Vec<(u64, Change)> },
    /// The log was replaced or truncated and the state rebuilt from its start; earlier answers are void.
    Reset { reason: String, last_event_id: Option<u64>, events_applied: u64 },
    /// A record could not be decoded; the state stays as it was before it.
    LogError { message: String, offset: u64, line: Option<u64> },
}

/// `databuild/subscribe` params. Every list is optional; a change is sent if it touches any listed
/// item, and with no lists at all every change is sent.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubscribeParams {
    #[serde(default)]
    pub refs: Vec<String>,
    #[serde(default)]
    pub uuids: Vec<String>,
    #[serde(default)]
    pub wants: Vec<String>,
    #[serde(default)]
    pub job_labels: Vec<String>,
}

impl SubscribeParams {
    pub fn is_everything(&self) -> bool {
        self.refs.is_empty() && self.uuids.is_empty() && self.wants.is_empty() && self.job_labels.is_empty()
    }

    pub fn matches(&self, touches: &Touches) -> bool {
        fn any(wanted: &[String], touched: &[String]) -> bool {
            !wanted.is_empty() && touched.iter().any(|t| wanted.contains(t))
        }
        self.is_everything()
            || any(&self.refs, &touches.refs)
            || any(&self.uuids, &touches.uuids)
            || any(&self.wants, &touches.wants)
            || any(&self.job_labels, &touches.job_labels)
    }
}

/// The `databuild/lineageChanged` payloads.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Notice {
    /// The first notification of a subscription: changes after `lastEventId` follow.
    #[serde(rename_all = "camelCase")]
    Subscribed { last_event_id: Option<u64>, loading: bool },
    #[serde(rename_all = "camelCase")]
    Changed { event_id: u64, offset: u64, changes: Vec<Value> },
    /// Notifications were dropped because this subscriber read too slowly.
    #[serde(rename_all = "camelCase")]
    Lagged { missed: u64, resync_from_event_id: Option<u64>, message: String },
    #[serde(rename_all = "camelCase")]
    Reset { reason: String, last_event_id: Option<u64>, events_applied: u64, message: String },
    #[serde(rename_all = "camelCase")]
    LogError { message: String, offset: u64, line: Option<u64> },
}

impl Published {
    /// What a subscriber with `filter` is sent for this, if anything.
    pub fn notice_for(&self, filter: &SubscribeParams) -> Option<Notice> {
        match self {
            Published::Changed { event_id, offset, changes, .. } => {
                let changes: Vec<Value> =
                    changes.iter().filter(|c| filter.matches(&c.touches)).map(|c| c.json.clone()).collect();
                (!changes.is_empty()).then_some(Notice::Changed { event_id: *event_id, offset: *offset, changes })
            }
            Published::Reset { reason, last_event_id, events_applied } => Some(Notice::Reset {
                reason: reason.clone(),
                last_event_id: *last_event_id,
                events_applied: *events_applied,
                message: format!("the event log was {reason}; state rebuilt from its start: query again"),
            }),
            Published::LogError { message, offset, line } => {
                Some(Notice::LogError { message: message.clone(), offset: *offset, line: *line })
            }
        }
    }

    /// The event id a subscriber that lagged can resync from, if this is an event's changes.
    pub fn event_id(&self) -> Option<u64> {
        match self {
            Published::Changed { event_id, .. } => Some(*event_id),
            _ => None,
        }
    }
}

/// Resolves the changes one event made (as taken from the state right after applying it).
pub fn resolve_event(state: &BuildState, event_id: u64, offset: u64, raw: Vec<(u64, Change)>) -> Published {
    let changes = raw.iter().map(|(_, change)| resolve_one(state, change)).collect();
    Published::Changed { event_id, offset, changes, raw }
}

fn partition_json(state: &BuildState, ix: PartitionIx, touches: &mut Touches) -> Value {
    let p = state.partition(ix);
    let r = state.ref_name(p.partition_ref).to_string();
    let uuid = p.uuid.to_string();
    touches.refs.push(r.clone());
    touches.uuids.push(uuid.clone());
    json!({ "uuid": uuid, "ref": r })
}

fn job_run_label(state: &BuildState, ix: JobRunIx, touches: &mut Touches) -> String {
    let label = state.label_name(state.job_run(ix).label).to_string();
    touches.job_labels.push(label.clone());
    label
}

fn want_id(state: &BuildState, ix: WantIx, touches: &mut Touches) -> String {
    let id = state.want_id(ix).to_string();
    touches.wants.push(id.clone());
    id
}

fn resolve_one(state: &BuildState, change: &Change) -> ResolvedChange {
    let mut t = Touches::default();
    let json = match *change {
        Change::JobRunStatus { job_run, from, to } => {
            let run = state.job_run(job_run);
            let label = job_run_label(state, job_run, &mut t);
            for &output in run.outputs.iter() {
                partition_json(state, output, &mut t);
            }
            for attribution in run.wants.iter() {
                want_id(state, attribution.want, &mut t);
            }
            json!({
                "entity": "jobRun", "jobRunId": state.job_run_id(job_run), "jobLabel": label,
                "from": from.map(|s| s.name()), "to": to.name(),
            })
        }
        Change::PartitionState { partition, from, to } => {
            let p = partition_json(state, partition, &mut t);
            let built_by = state.partition(partition).built_by;
            if let Some(run) = built_by {
                job_run_label(state, run, &mut t);
            }
            json!({
                "entity": "partition", "uuid": p["uuid"], "ref": p["ref"],
                "builtBy": built_by.map(|run| state.job_run_id(run)),
                "from": from.map(|s| s.name()), "to": to.name(),
            })
        }
        Change::WantStatus { want, from, to } => {
            let id = want_id(state, want, &mut t);
            for &r in state.want(want).refs.iter() {
                t.refs.push(state.ref_name(r).to_string());
            }
            json!({ "entity": "want", "wantId": id, "from": from.map(|s| s.name()), "to": to.name() })
        }
        Change::ConsumerEdge { input, output, job_run } => {
            let input = partition_json(state, input, &mut t);
            let output = partition_json(state, output, &mut t);
            job_run_label(state, job_run, &mut t);
            json!({ "entity": "consumerEdge", "input": input, "output": output, "jobRunId": state.job_run_id(job_run) })
        }
        Change::DerivativeWant { parent, child, job_run } => {
            let parent = want_id(state, parent, &mut t);
            let child = want_id(state, child, &mut t);
            if let Some(run) = job_run {
                job_run_label(state, run, &mut t);
            }
            json!({
                "entity": "derivativeWant", "parentWantId": parent, "childWantId": child,
                "jobRunId": job_run.map(|run| state.job_run_id(run)),
            })
        }
    };
    ResolvedChange { json, touches: t }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_changes_resolve_to_names_and_filter() {
        let events = crate::events::demo_events();
        let mut state = BuildState::new();
        state.set_recording(true);
        let mut published = Vec::new();
        for (i, e) in events.iter().enumerate() {
            state.apply(e, i as u64 * 10);
            let changes = state.take_changes();
            if !changes.is_empty() {
                published.push(resolve_event(&state, e.event_id, i as u64 * 10, changes));
            }
        }
        assert!(published.len() > 5);
        let ids: Vec<u64> = published.iter().filter_map(Published::event_id).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "one notice per event, in order: {ids:?}");
        let everything = SubscribeParams::default();
        let all: Vec<Notice> = published.iter().filter_map(|p| p.notice_for(&everything)).collect();
        assert_eq!(all.len(), published.len());
        let text = serde_json::to_string(&all).unwrap();
        assert!(
            text.contains(
                r#""entity":"derivativeWant","parentWantId":"W-001","childWantId":"W-002","jobRunId":"JR-123""#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#""entity":"jobRun","jobRunId":"JR-456","jobLabel":"//jobs:beta","from":"Running","to":"Succeeded""#
            ),
            "{text}"
        );

        let beta = SubscribeParams { refs: vec!["data/beta".into()], ..Default::default() };
        let only_beta: Vec<Notice> = published.iter().filter_map(|p| p.notice_for(&beta)).collect();
        assert!(!only_beta.is_empty() && only_beta.len() < all.len());
        let text = serde_json::to_string(&only_beta).unwrap();
        assert!(!text.contains("\"W-001\"") || text.contains("data/beta"));
        assert!(!text.contains(r#""entity":"want","wantId":"W-001""#), "{text}");
    }

    #[test]
    fn subscribe_params_name_unknown_fields() {
        let err = serde_json::from_str::<SubscribeParams>(r#"{"ref":["a"]}"#).unwrap_err().to_string();
        assert!(err.contains("unknown field `ref`"), "{err}");
    }
}
