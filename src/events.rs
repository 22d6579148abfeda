//! Short constructors for BEL events, for the commands that write logs (`demo`, `simulate`, `exec`,
//! `emit`) and for tests. They build exactly the `databuild.v1` messages, nothing more.

use crate::proto::{self, data_build_event::Event, event_source, DataBuildEvent, EventSource, PartitionRef};

/// Stamps events with strictly increasing ids and a clock that moves forward.
#[derive(Debug, Clone)]
pub struct EventSeq {
    next_id: u64,
    clock_ms: u64,
}

impl EventSeq {
    /// Starts at event id 1 and the given time (ms since the epoch).
    pub fn starting_at(clock_ms: u64) -> EventSeq {
        EventSeq { next_id: 1, clock_ms }
    }

    /// Continues after an existing log's last event.
    pub fn after(last_event_id: u64, clock_ms: u64) -> EventSeq {
        EventSeq { next_id: last_event_id + 1, clock_ms }
    }

    /// Wraps `event` in an envelope, `advance_ms` after the previous one.
    pub fn next(&mut self, advance_ms: u64, event: Event) -> DataBuildEvent {
        self.clock_ms += advance_ms;
        let id = self.next_id;
        self.next_id += 1;
        DataBuildEvent { timestamp: self.clock_ms, event_id: id, event: Some(event) }
    }

    pub fn clock_ms(&self) -> u64 {
        self.clock_ms
    }
}

/// Stamps `events` in order: ids from 1, one second apart from 2023-11-14 (for tests).
pub fn stamped(events: Vec<Event>) -> Vec<DataBuildEvent> {
    let mut seq = EventSeq::starting_at(1_700_000_000_000);
    events.into_iter().map(|event| seq.next(1_000, event)).collect()
}

pub fn partition_refs<S: AsRef<str>>(refs: &[S]) -> Vec<PartitionRef> {
    refs.iter().map(|r| PartitionRef { r#ref: r.as_ref().to_string() }).collect()
}

pub fn manual(user: &str) -> Option<EventSource> {
    Some(EventSource {
        source: Some(event_source::Source::ManuallyTriggered(proto::ManuallyTriggeredEvent { user: user.into() })),
    })
}

pub fn job_triggered(job_run_id: &str) -> Option<EventSource> {
    Some(EventSource {
        source: Some(event_source::Source::JobTriggered(proto::JobTriggeredEvent { job_run_id: job_run_id.into() })),
    })
}

pub fn want_create<S: AsRef<str>>(want_id: &str, refs: &[S], source: Option<EventSource>) -> Event {
    Event::WantCreateV1(proto::WantCreateEventV1 {
        want_id: want_id.into(),
        partitions: partition_refs(refs),
        source,
        ..Default::default()
    })
}

pub fn want_cancel(want_id: &str, source: Option<EventSource>) -> Event {
    Event::WantCancelV1(proto::WantCancelEventV1 { want_id: want_id.into(), source, comment: None })
}

/// A job run buffered to build `refs`, all of them attributed to each of `wants`.
pub fn job_run_buffer<S: AsRef<str>>(job_run_id: &str, job_label: &str, refs: &[S], wants: &[&str]) -> Event {
    Event::JobRunBufferV1(proto::JobRunBufferEventV1 {
        job_run_id: job_run_id.into(),
        job_label: job_label.into(),
        building_partitions: partition_refs(refs),
        want_attributed_partitions: wants
            .iter()
            .map(|w| proto::WantAttributedPartitions { want_id: (*w).into(), partitions: partition_refs(refs) })
            .collect(),
    })
}

pub fn job_run_queue(job_run_id: &str) -> Event {
    Event::JobRunQueueV1(proto::JobRunQueueEventV1 { job_run_id: job_run_id.into() })
}

pub fn job_run_heartbeat(job_run_id: &str) -> Event {
    Event::JobRunHeartbeatV1(proto::JobRunHeartbeatEventV1 { job_run_id: job_run_id.into() })
}

/// `(impacted, read)` pairs; an empty `impacted` means every output of the run.
pub fn read_deps<S: AsRef<str>>(deps: &[(&[S], &[S])]) -> Vec<proto::ReadDeps> {
    deps.iter()
        .map(|(impacted, read)| proto::ReadDeps { impacted: partition_refs(impacted), read: partition_refs(read) })
        .collect()
}

pub fn job_run_success(job_run_id: &str, read_deps: Vec<proto::ReadDeps>) -> Event {
    Event::JobRunSuccessV1(proto::JobRunSuccessEventV1 { job_run_id: job_run_id.into(), read_deps })
}

pub fn job_run_failure(job_run_id: &str, reason: &str) -> Event {
    Event::JobRunFailureV1(proto::JobRunFailureEventV1 { job_run_id: job_run_id.into(), reason: reason.into() })
}

pub fn job_run_cancel(job_run_id: &str, source: Option<EventSource>) -> Event {
    Event::JobRunCancelV1(proto::JobRunCancelEventV1 { job_run_id: job_run_id.into(), source, comment: None })
}

/// `(impacted, missing)` pairs.
pub fn job_run_missing_deps<S: AsRef<str>>(
    job_run_id: &str,
    missing: &[(&[S], &[S])],
    read_deps: Vec<proto::ReadDeps>,
) -> Event {
    Event::JobRunMissingDepsV1(proto::JobRunMissingDepsEventV1 {
        job_run_id: job_run_id.into(),
        missing_deps: missing
            .iter()
            .map(|(impacted, missing)| proto::MissingDeps {
                impacted: partition_refs(impacted),
                missing: partition_refs(missing),
            })
            .collect(),
        read_deps,
    })
}

pub fn taint_create<S: AsRef<str>>(taint_id: &str, refs: &[S], source: Option<EventSource>) -> Event {
    Event::TaintCreateV1(proto::TaintCreateEventV1 {
        taint_id: taint_id.into(),
        partitions: partition_refs(refs),
        source,
        comment: None,
    })
}

pub fn taint_cancel(taint_id: &str, source: Option<EventSource>) -> Event {
    Event::TaintCancelV1(proto::TaintCancelEventV1 { taint_id: taint_id.into(), source, comment: None })
}

/// The example behind `dbl demo` and DESIGN's trees: want W-001 asks for `data/gamma`; its first run
/// JR-123 dep-misses on `data/beta`, which spawns derivative want W-002; JR-456 builds `data/beta`
/// from the external `data/alpha`; the retry JR-789 builds `data/gamma` from both.
pub fn demo_events() -> Vec<DataBuildEvent> {
    const NONE: &[&str] = &[];
    let mut seq = EventSeq::starting_at(1_750_000_000_000);
    vec![
        seq.next(0, want_create("W-001", &["data/gamma"], manual("alice"))),
        seq.next(200, job_run_buffer("JR-123", "//jobs:gamma", &["data/gamma"], &["W-001"])),
        seq.next(100, job_run_queue("JR-123")),
        seq.next(900, job_run_heartbeat("JR-123")),
        seq.next(
            1_500,
            job_run_missing_deps(
                "JR-123",
                &[(&["data/gamma"][..], &["data/beta"][..])],
                read_deps(&[(&["data/gamma"][..], &["data/alpha"][..])]),
            ),
        ),
        seq.next(50, want_create("W-002", &["data/beta"], job_triggered("JR-123"))),
        seq.next(200, job_run_buffer("JR-456", "//jobs:beta", &["data/beta"], &["W-002"])),
        seq.next(100, job_run_queue("JR-456")),
        seq.next(800, job_run_heartbeat("JR-456")),
        seq.next(30_000, job_run_heartbeat("JR-456")),
        seq.next(12_000, job_run_success("JR-456", read_deps(&[(NONE, &["data/alpha"][..])]))),
        seq.next(300, job_run_buffer("JR-789", "//jobs:gamma", &["data/gamma"], &["W-001"])),
        seq.next(100, job_run_queue("JR-789")),
        seq.next(700, job_run_heartbeat("JR-789")),
        seq.next(
            20_000,
            job_run_success(
                "JR-789",
                read_deps(&[(&["data/gamma"][..], &["data/beta"][..]), (&["data/gamma"][..], &["data/alpha"][..])]),
            ),
        ),
    ]
}

/// A dep miss with already-built `MissingDeps` and `ReadDeps` messages (as a job reports them).
pub fn job_run_missing_deps_from(
    job_run_id: &str,
    missing_deps: Vec<proto::MissingDeps>,
    read_deps: Vec<proto::ReadDeps>,
) -> Event {
    Event::JobRunMissingDepsV1(proto::JobRunMissingDepsEventV1 {
        job_run_id: job_run_id.into(),
        missing_deps,
        read_deps,
    })
}
