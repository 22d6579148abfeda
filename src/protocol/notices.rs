//! `databuild/lineageChanged`: the wire shape of what [`crate::live`] publishes (documented in
//! `docs/PROTOCOL.md`). Built here, per subscriber and outside the state's lock.

use serde::Serialize;
use serde_json::{json, Value};

use crate::live::changes::{InstanceName, JobRunName, LineageChange};
use crate::live::{Published, SubscribeParams};

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

/// What a subscriber with `filter` is sent for `published`, if anything.
pub fn notice_for(published: &Published, filter: &SubscribeParams) -> Option<Notice> {
    match published {
        Published::Changed { event_id, offset, changes } => {
            let changes: Vec<Value> = changes.iter().filter(|c| filter.matches(c)).map(change_json).collect();
            (!changes.is_empty()).then_some(Notice::Changed { event_id: *event_id, offset: *offset, changes })
        }
        Published::Reset { reason, last_event_id, events_applied } => Some(Notice::Reset {
            reason: reason.clone(),
            last_event_id: *last_event_id,
            events_applied: *events_applied,
            message: reset_message(reason),
        }),
        Published::LogError { message, offset, line } => {
            Some(Notice::LogError { message: message.clone(), offset: *offset, line: *line })
        }
    }
}

/// What a reset means for a client.
pub fn reset_message(reason: &str) -> String {
    format!("the event log was {reason}; state rebuilt from its start: query again")
}

fn instance_json(i: &InstanceName) -> Value {
    json!({ "uuid": i.uuid.to_string(), "ref": i.partition_ref })
}

fn run_id(run: &Option<JobRunName>) -> Option<&str> {
    run.as_ref().map(|r| r.job_run_id.as_str())
}

/// One change as the wire shows it: `{"entity": ..., ...}`.
pub fn change_json(change: &LineageChange) -> Value {
    match change {
        LineageChange::JobRun { run, from, to, .. } => json!({
            "entity": "jobRun", "jobRunId": run.job_run_id, "jobLabel": run.job_label,
            "from": from.map(|s| s.name()), "to": to.name(),
        }),
        LineageChange::Partition { instance, built_by, from, to } => json!({
            "entity": "partition", "uuid": instance.uuid.to_string(), "ref": instance.partition_ref,
            "builtBy": run_id(built_by), "from": from.map(|s| s.name()), "to": to.name(),
        }),
        LineageChange::Want { want_id, from, to, .. } => {
            json!({ "entity": "want", "wantId": want_id, "from": from.map(|s| s.name()), "to": to.name() })
        }
        LineageChange::ConsumerEdge { input, output, run } => json!({
            "entity": "consumerEdge", "input": instance_json(input), "output": instance_json(output),
            "jobRunId": run.job_run_id,
        }),
        LineageChange::DerivativeWant { parent, child, run } => json!({
            "entity": "derivativeWant", "parentWantId": parent, "childWantId": child, "jobRunId": run_id(run),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::changes::resolve_event;
    use crate::state::BuildState;

    #[test]
    fn demo_changes_on_the_wire() {
        let mut state = BuildState::new();
        state.set_recording(true);
        let mut notices = Vec::new();
        for (i, e) in crate::events::demo_events().iter().enumerate() {
            state.apply(e, i as u64 * 10);
            let changes = state.take_changes();
            if !changes.is_empty() {
                let published = resolve_event(&state, e.event_id, i as u64 * 10, changes);
                notices.extend(notice_for(&published, &SubscribeParams::default()));
            }
        }
        let text = serde_json::to_string(&notices).unwrap();
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
        assert!(text.contains(r#""entity":"consumerEdge","input":{"uuid":"#), "{text}");
        let reset = Published::Reset { reason: "truncated".into(), last_event_id: None, events_applied: 0 };
        let reset = serde_json::to_value(notice_for(&reset, &SubscribeParams::default())).unwrap();
        assert_eq!(reset["kind"], "reset");
        assert_eq!(reset["message"], "the event log was truncated; state rebuilt from its start: query again");
    }
}
