//! `databuild/lineageChanged`: the wire shape of what [`crate::live`] publishes (documented in
//! `docs/PROTOCOL.md`). Built here, per subscriber and outside the state's lock.

use serde::{Deserialize, Serialize};

use crate::live::changes::{InstanceName, JobRunName, LineageChange};
use crate::live::{Published, SubscribeParams};

/// The `databuild/lineageChanged` payloads. They deserialize too: `dbl tail` through a daemon reads them
/// back and prints them as a tail without one does.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Notice {
    /// The first notification of a subscription: changes after `lastEventId` follow.
    #[serde(rename_all = "camelCase")]
    Subscribed { last_event_id: Option<u64>, loading: bool },
    #[serde(rename_all = "camelCase")]
    Changed { event_id: u64, offset: u64, changes: Vec<WireChange> },
    /// Notifications were dropped because this subscriber read too slowly.
    #[serde(rename_all = "camelCase")]
    Lagged { missed: u64, resync_from_event_id: Option<u64>, message: String },
    #[serde(rename_all = "camelCase")]
    Reset { reason: String, last_event_id: Option<u64>, events_applied: u64, message: String },
    #[serde(rename_all = "camelCase")]
    LogError { message: String, offset: u64, line: Option<u64> },
}

/// One change of a `changed` notice as the wire shows it: `{"entity": ..., ...}`, statuses by name.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "entity", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum WireChange {
    JobRun {
        job_run_id: String,
        job_label: String,
        from: Option<String>,
        to: String,
    },
    Partition {
        uuid: String,
        #[serde(rename = "ref")]
        partition_ref: String,
        built_by: Option<String>,
        from: Option<String>,
        to: String,
    },
    Want {
        want_id: String,
        from: Option<String>,
        to: String,
    },
    /// `input` was read by `job_run_id` to build `output`.
    ConsumerEdge {
        input: WireInstance,
        output: WireInstance,
        job_run_id: String,
    },
    DerivativeWant {
        parent_want_id: String,
        child_want_id: String,
        job_run_id: Option<String>,
    },
}

/// A partition instance on the wire.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WireInstance {
    pub uuid: String,
    #[serde(rename = "ref")]
    pub partition_ref: String,
}

/// What a subscriber with `filter` is sent for `published`, if anything.
pub fn notice_for(published: &Published, filter: &SubscribeParams) -> Option<Notice> {
    match published {
        Published::Changed { event_id, offset, changes } => {
            let changes: Vec<WireChange> = changes.iter().filter(|c| filter.matches(c)).map(wire_change).collect();
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

fn wire_instance(i: &InstanceName) -> WireInstance {
    WireInstance { uuid: i.uuid.to_string(), partition_ref: i.partition_ref.clone() }
}

fn run_id(run: &Option<JobRunName>) -> Option<String> {
    run.as_ref().map(|r| r.job_run_id.clone())
}

/// One change as the wire shows it.
pub fn wire_change(change: &LineageChange) -> WireChange {
    let name = |s: &'static str| s.to_string();
    match change {
        LineageChange::JobRun { run, from, to, .. } => WireChange::JobRun {
            job_run_id: run.job_run_id.clone(),
            job_label: run.job_label.clone(),
            from: from.map(|s| name(s.name())),
            to: name(to.name()),
        },
        LineageChange::Partition { instance, built_by, from, to } => WireChange::Partition {
            uuid: instance.uuid.to_string(),
            partition_ref: instance.partition_ref.clone(),
            built_by: run_id(built_by),
            from: from.map(|s| name(s.name())),
            to: name(to.name()),
        },
        LineageChange::Want { want_id, from, to, .. } => {
            WireChange::Want { want_id: want_id.clone(), from: from.map(|s| name(s.name())), to: name(to.name()) }
        }
        LineageChange::ConsumerEdge { input, output, run } => WireChange::ConsumerEdge {
            input: wire_instance(input),
            output: wire_instance(output),
            job_run_id: run.job_run_id.clone(),
        },
        LineageChange::DerivativeWant { parent, child, run } => WireChange::DerivativeWant {
            parent_want_id: parent.clone(),
            child_want_id: child.clone(),
            job_run_id: run_id(run),
        },
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
        // What goes on the wire comes back as the same notices (`dbl tail` through a daemon).
        let back: Vec<Notice> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, notices);
        let partition = r#"{"entity":"partition","uuid":"d1305448-db69-5062-8c23-837705b1ceef","ref":"data/beta","builtBy":"JR-456","from":"Building","to":"Live"}"#;
        assert!(text.contains(partition), "{text}");
    }
}
