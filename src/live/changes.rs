//! Lineage changes as subscribers see them: [`crate::state::Change`]s resolved to names right after
//! the event that made them, grouped per event, and the filters a subscriber can ask for.
//!
//! Everything published carries names (refs, UUIDs, ids, labels), never entity indices: a notice
//! stays meaningful after the state it came from is replaced (a reset). The wire shapes are the
//! protocol layer's (`crate::protocol::notices`).

use serde::Deserialize;
use uuid::Uuid;

use crate::state::{BuildState, Change, JobRunIx, JobRunStatus, PartitionIx, PartitionState, WantIx, WantStatus};

/// A partition instance by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceName {
    pub uuid: Uuid,
    pub partition_ref: String,
}

/// A job run by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRunName {
    pub job_run_id: String,
    pub job_label: String,
}

/// One lineage-relevant change, resolved to names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineageChange {
    JobRun {
        run: JobRunName,
        from: Option<JobRunStatus>,
        to: JobRunStatus,
        outputs: Vec<InstanceName>,
        wants: Vec<String>,
    },
    Partition {
        instance: InstanceName,
        built_by: Option<JobRunName>,
        from: Option<PartitionState>,
        to: PartitionState,
    },
    Want {
        want_id: String,
        refs: Vec<String>,
        from: Option<WantStatus>,
        to: WantStatus,
    },
    /// `run` read `input` and built `output`.
    ConsumerEdge {
        input: InstanceName,
        output: InstanceName,
        run: JobRunName,
    },
    /// `run`'s dep miss spawned the derivative want `child` of `parent`.
    DerivativeWant {
        parent: String,
        child: String,
        run: Option<JobRunName>,
    },
}

/// What the ingest thread publishes to every subscriber, in log order.
#[derive(Debug, Clone, PartialEq)]
pub enum Published {
    /// Everything one event changed.
    Changed { event_id: u64, offset: u64, changes: Vec<LineageChange> },
    /// The log was replaced or truncated and the state rebuilt from its start; earlier answers are void.
    Reset { reason: String, last_event_id: Option<u64>, events_applied: u64 },
    /// A record could not be decoded; the state stays as it was before it.
    LogError { message: String, offset: u64, line: Option<u64> },
}

impl Published {
    /// The event id a subscriber that lagged can resync from, if this is an event's changes.
    pub fn event_id(&self) -> Option<u64> {
        match self {
            Published::Changed { event_id, .. } => Some(*event_id),
            _ => None,
        }
    }
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

    /// Whether `change` touches a listed ref, instance, want or job label.
    pub fn matches(&self, change: &LineageChange) -> bool {
        if self.is_everything() {
            return true;
        }
        let instance = |i: &InstanceName| {
            self.refs.contains(&i.partition_ref) || self.uuids.iter().any(|u| u.parse() == Ok(i.uuid))
        };
        let run = |r: &JobRunName| self.job_labels.contains(&r.job_label);
        let want = |w: &String| self.wants.contains(w);
        match change {
            LineageChange::JobRun { run: r, outputs, wants, .. } => {
                run(r) || outputs.iter().any(instance) || wants.iter().any(want)
            }
            LineageChange::Partition { instance: i, built_by, .. } => instance(i) || built_by.as_ref().is_some_and(run),
            LineageChange::Want { want_id, refs, .. } => want(want_id) || refs.iter().any(|r| self.refs.contains(r)),
            LineageChange::ConsumerEdge { input, output, run: r } => instance(input) || instance(output) || run(r),
            LineageChange::DerivativeWant { parent, child, run: r } => {
                want(parent) || want(child) || r.as_ref().is_some_and(run)
            }
        }
    }
}

impl LineageChange {
    /// The refs whose one-step lineage (state, inputs, consumers) this change alters.
    pub fn lineage_refs(&self) -> Vec<&str> {
        match self {
            LineageChange::Partition { instance, .. } => vec![&instance.partition_ref],
            LineageChange::ConsumerEdge { input, output, .. } => vec![&input.partition_ref, &output.partition_ref],
            _ => Vec::new(),
        }
    }
}

/// Resolves the changes one event made (as taken from the state right after applying it).
pub fn resolve_event(state: &BuildState, event_id: u64, offset: u64, raw: Vec<(u64, Change)>) -> Published {
    let changes = raw.iter().map(|(_, change)| resolve(state, change)).collect();
    Published::Changed { event_id, offset, changes }
}

fn instance(state: &BuildState, ix: PartitionIx) -> InstanceName {
    let p = state.partition(ix);
    InstanceName { uuid: p.uuid, partition_ref: state.ref_name(p.partition_ref).to_owned() }
}

fn job_run(state: &BuildState, ix: JobRunIx) -> JobRunName {
    JobRunName {
        job_run_id: state.job_run_id(ix).to_owned(),
        job_label: state.label_name(state.job_run(ix).label).to_owned(),
    }
}

fn want_id(state: &BuildState, ix: WantIx) -> String {
    state.want_id(ix).to_owned()
}

/// One change by name.
pub fn resolve(state: &BuildState, change: &Change) -> LineageChange {
    match *change {
        Change::JobRunStatus { job_run: ix, from, to } => {
            let run = state.job_run(ix);
            LineageChange::JobRun {
                run: job_run(state, ix),
                from,
                to,
                outputs: run.outputs.iter().map(|&p| instance(state, p)).collect(),
                wants: run.wants.iter().map(|a| want_id(state, a.want)).collect(),
            }
        }
        Change::PartitionState { partition, from, to } => LineageChange::Partition {
            instance: instance(state, partition),
            built_by: state.partition(partition).built_by.map(|run| job_run(state, run)),
            from,
            to,
        },
        Change::WantStatus { want, from, to } => LineageChange::Want {
            want_id: want_id(state, want),
            refs: state.want(want).refs.iter().map(|&r| state.ref_name(r).to_owned()).collect(),
            from,
            to,
        },
        Change::ConsumerEdge { input, output, job_run: run } => LineageChange::ConsumerEdge {
            input: instance(state, input),
            output: instance(state, output),
            run: job_run(state, run),
        },
        Change::DerivativeWant { parent, child, job_run: run } => LineageChange::DerivativeWant {
            parent: want_id(state, parent),
            child: want_id(state, child),
            run: run.map(|r| job_run(state, r)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo_published() -> Vec<Published> {
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
        published
    }

    fn changes(published: &[Published]) -> impl Iterator<Item = &LineageChange> {
        published.iter().flat_map(|p| match p {
            Published::Changed { changes, .. } => changes.as_slice(),
            _ => &[],
        })
    }

    #[test]
    fn demo_changes_resolve_to_names_one_notice_per_event() {
        let published = demo_published();
        assert!(published.len() > 5);
        let ids: Vec<u64> = published.iter().filter_map(Published::event_id).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "one notice per event, in order: {ids:?}");
        assert!(changes(&published).any(|c| matches!(c,
            LineageChange::DerivativeWant { parent, child, run: Some(run) }
                if parent == "W-001" && child == "W-002" && run.job_run_id == "JR-123")));
        assert!(changes(&published).any(|c| matches!(c,
            LineageChange::JobRun { run, from: Some(JobRunStatus::Running), to: JobRunStatus::Succeeded, .. }
                if run.job_run_id == "JR-456" && run.job_label == "//jobs:beta")));
    }

    #[test]
    fn filters_keep_exactly_the_changes_that_touch_what_was_asked() {
        let published = demo_published();
        let all: Vec<&LineageChange> = changes(&published).collect();
        let everything = SubscribeParams::default();
        assert!(all.iter().all(|c| everything.matches(c)));

        let beta = SubscribeParams { refs: vec!["data/beta".into()], ..Default::default() };
        let only_beta: Vec<&&LineageChange> = all.iter().filter(|c| beta.matches(c)).collect();
        assert!(!only_beta.is_empty() && only_beta.len() < all.len());
        // W-001 asks for data/gamma only: its status changes are filtered out...
        assert!(!only_beta.iter().any(|c| matches!(c, LineageChange::Want { want_id, .. } if want_id == "W-001")));
        // ...while every kept change names data/beta somewhere.
        for change in &only_beta {
            assert!(format!("{change:?}").contains("\"data/beta\""), "{change:?}");
        }
        let by_label = SubscribeParams { job_labels: vec!["//jobs:beta".into()], ..Default::default() };
        assert!(all.iter().filter(|c| by_label.matches(c)).all(|c| format!("{c:?}").contains("//jobs:beta")));
        let by_uuid =
            SubscribeParams { uuids: vec!["d1305448-db69-5062-8c23-837705b1ceef".into()], ..Default::default() };
        let for_uuid: Vec<_> = all.iter().filter(|c| by_uuid.matches(c)).collect();
        assert!(!for_uuid.is_empty());
        assert!(for_uuid.iter().all(|c| format!("{c:?}").contains("d1305448-db69-5062-8c23-837705b1ceef")));
    }

    #[test]
    fn subscribe_params_name_unknown_fields() {
        let err = serde_json::from_str::<SubscribeParams>(r#"{"ref":["a"]}"#).unwrap_err().to_string();
        assert!(err.contains("unknown field `ref`"), "{err}");
    }
}
