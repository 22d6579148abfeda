//! One test per transition, on small logs built with `crate::events`.

use super::*;
use crate::events::*;
use crate::proto::{data_build_event::Event, DataBuildEvent};

const NONE: &[&str] = &[];

/// Applies `events`, numbering them 1.. with 1 s between them.
fn replay(events: Vec<Event>) -> BuildState {
    BuildState::from_events(&stamped(events))
}

fn run(state: &BuildState, id: &str) -> JobRunIx {
    state.find_job_run(id).unwrap_or_else(|| panic!("job run {id}"))
}

fn want_status(state: &BuildState, id: &str) -> WantStatus {
    state.want(state.find_want(id).unwrap()).status
}

fn current_state(state: &BuildState, r: &str) -> PartitionState {
    state.partition(state.current_instance(state.ref_id(r).unwrap()).unwrap()).state
}

fn statuses(state: &BuildState, id: &str) -> Vec<JobRunStatus> {
    state.job_run(run(state, id)).history().map(|c| c.status).collect()
}

#[test]
fn demo_log_replays_to_the_design_story() {
    let mut state = BuildState::new();
    for (i, event) in demo_events().iter().enumerate() {
        state.apply(event, i as u64);
    }
    assert_eq!(state.diagnostics(), &[]);
    assert_eq!(want_status(&state, "W-001"), WantStatus::Successful);
    assert_eq!(want_status(&state, "W-002"), WantStatus::Successful);
    let w1 = state.find_want("W-001").unwrap();
    let w2 = state.find_want("W-002").unwrap();
    assert_eq!(state.want(w2).parents, vec![w1]);
    assert_eq!(state.want(w1).children, vec![w2]);
    assert_eq!(state.want(w2).triggered_by, Some(run(&state, "JR-123")));
    assert_eq!(state.job_run(run(&state, "JR-123")).derivative_wants, vec![w2]);
    // One retry chain for W-001: JR-123 dep-missed, JR-789 succeeded.
    let chains = &state.want(w1).retry_chains;
    assert_eq!(chains.len(), 1);
    assert_eq!(*chains[0].runs, [run(&state, "JR-123"), run(&state, "JR-789")]);
    assert_eq!(statuses(&state, "JR-123"), [JobRunStatus::Queued, JobRunStatus::Running, JobRunStatus::DepMiss]);
    assert_eq!(statuses(&state, "JR-789"), [JobRunStatus::Queued, JobRunStatus::Running, JobRunStatus::Succeeded]);

    // JR-456 built data/beta with DESIGN's example UUID and read the external data/alpha.
    let jr456 = state.job_run(run(&state, "JR-456"));
    let beta = jr456.outputs[0];
    assert_eq!(state.partition(beta).uuid.to_string(), "d1305448-db69-5062-8c23-837705b1ceef");
    let alpha = state.ref_id("data/alpha").unwrap();
    let (read_ref, alpha_ix) = state.reads(jr456).next().unwrap();
    assert_eq!(read_ref, alpha);
    assert_eq!(state.partition(alpha_ix).state, PartitionState::External);
    assert_eq!(state.partition(alpha_ix).uuid, external_partition_uuid("data/alpha"));

    // Consumer index: alpha → beta (JR-456) and alpha → gamma (JR-789); beta → gamma (JR-789).
    let gamma = state.job_run(run(&state, "JR-789")).outputs[0];
    let consumers = |p: PartitionIx| state.partition(p).consumers.to_vec();
    assert_eq!(
        consumers(alpha_ix),
        vec![
            Consumer { output: beta, job_run: run(&state, "JR-456") },
            Consumer { output: gamma, job_run: run(&state, "JR-789") }
        ]
    );
    assert_eq!(consumers(beta), vec![Consumer { output: gamma, job_run: run(&state, "JR-789") }]);
    assert!(consumers(gamma).is_empty());
    // JR-123's gamma instance dep-missed and stays in the ref's history, older than JR-789's.
    let gamma_ref = state.ref_id("data/gamma").unwrap();
    let history: Vec<PartitionState> =
        state.ref_entry(gamma_ref).instances.iter().map(|&p| state.partition(p).state).collect();
    assert_eq!(history, [PartitionState::DepMiss, PartitionState::Live]);
}

#[test]
fn heartbeat_moves_queued_to_running_once() {
    let state = replay(vec![
        job_run_buffer("JR-1", "//j", &["a"], &[]),
        job_run_queue("JR-1"),
        job_run_heartbeat("JR-1"),
        job_run_heartbeat("JR-1"),
    ]);
    assert_eq!(statuses(&state, "JR-1"), [JobRunStatus::Queued, JobRunStatus::Running]);
    assert_eq!(state.job_run(run(&state, "JR-1")).last_heartbeat().unwrap().event_id, 4);
    assert_eq!(current_state(&state, "a"), PartitionState::Building);
}

#[test]
fn failure_and_cancel_mark_outputs() {
    let state = replay(vec![
        job_run_buffer("JR-1", "//j", &["a", "b"], &[]),
        job_run_failure("JR-1", "exit code 3"),
        job_run_buffer("JR-2", "//j", &["c"], &[]),
        job_run_cancel("JR-2", manual("bob")),
    ]);
    assert_eq!(current_state(&state, "a"), PartitionState::Failed);
    assert_eq!(current_state(&state, "b"), PartitionState::Failed);
    assert_eq!(current_state(&state, "c"), PartitionState::Canceled);
    assert_eq!(state.job_run(run(&state, "JR-1")).failure_reason(), Some("exit code 3"));
    let cancel = state.job_run(run(&state, "JR-2")).cancellation().cloned().unwrap();
    assert_eq!(cancel.source, Source::Manual { user: "bob".into() });
}

#[test]
fn reads_resolve_to_the_newest_instance_with_data_at_success_time() {
    let state = replay(vec![
        job_run_buffer("JR-a1", "//a", &["a"], &[]),
        job_run_success("JR-a1", vec![]),
        job_run_buffer("JR-a2", "//a", &["a"], &[]), // a rebuild in progress: no data yet
        job_run_buffer("JR-b", "//b", &["b"], &[]),
        job_run_success("JR-b", read_deps(&[(NONE, &["a"][..])])),
        job_run_success("JR-a2", vec![]),
        job_run_buffer("JR-c", "//c", &["c"], &[]),
        job_run_success("JR-c", read_deps(&[(NONE, &["a"][..])])),
    ]);
    let a1 = state.job_run(run(&state, "JR-a1")).outputs[0];
    let a2 = state.job_run(run(&state, "JR-a2")).outputs[0];
    assert_eq!(state.job_run(run(&state, "JR-b")).read_partitions[0], a1);
    assert_eq!(state.job_run(run(&state, "JR-c")).read_partitions[0], a2);
    // Lineage of the old instance stays on the old UUIDs; the new one has only its own reader.
    assert_eq!(state.partition(a1).consumers.len(), 1);
    assert_eq!(state.partition(a1).consumers[0].job_run, run(&state, "JR-b"));
    assert_eq!(state.partition(a2).consumers[0].job_run, run(&state, "JR-c"));
}

#[test]
fn a_run_reading_its_own_ref_reads_the_previous_instance() {
    let state = replay(vec![
        job_run_buffer("JR-1", "//acc", &["acc"], &[]),
        job_run_success("JR-1", vec![]),
        job_run_buffer("JR-2", "//acc", &["acc"], &[]),
        job_run_success("JR-2", read_deps(&[(NONE, &["acc"][..])])),
    ]);
    let first = state.job_run(run(&state, "JR-1")).outputs[0];
    let second = state.job_run(run(&state, "JR-2")).outputs[0];
    assert_eq!(state.job_run(run(&state, "JR-2")).read_partitions[0], first);
    assert_eq!(*state.partition(first).consumers, [Consumer { output: second, job_run: run(&state, "JR-2") }]);
}

#[test]
fn read_dep_impacted_narrows_consumer_edges_and_empty_means_all_outputs() {
    let state = replay(vec![
        job_run_buffer("JR-1", "//j", &["x", "y"], &[]),
        job_run_success("JR-1", read_deps(&[(&["x"][..], &["in1"][..]), (NONE, &["in2"][..])])),
    ]);
    let outputs = state.job_run(run(&state, "JR-1")).outputs.clone();
    let consumers_of = |r: &str| {
        let p = state.current_instance(state.ref_id(r).unwrap()).unwrap();
        state.partition(p).consumers.iter().map(|c| c.output).collect::<Vec<_>>()
    };
    assert_eq!(consumers_of("in1"), vec![outputs[0]]);
    assert_eq!(consumers_of("in2"), outputs.to_vec());
}

#[test]
fn taint_and_cancel_round_trip() {
    let state = replay(vec![
        job_run_buffer("JR-1", "//j", &["a"], &[]),
        job_run_success("JR-1", vec![]),
        taint_create("T-1", &["a"], manual("carol")),
    ]);
    assert_eq!(current_state(&state, "a"), PartitionState::Tainted);
    let mut state = state;
    state.apply(&DataBuildEvent { timestamp: 1, event_id: 10, event: Some(taint_cancel("T-1", None)) }, 0);
    assert_eq!(current_state(&state, "a"), PartitionState::Live);
    assert!(state.taint(state.find_taint("T-1").unwrap()).cancellation.is_some());
}

#[test]
fn taint_cancel_after_a_rebuild_leaves_the_old_instance_tainted() {
    let state = replay(vec![
        job_run_buffer("JR-1", "//j", &["a"], &[]),
        job_run_success("JR-1", vec![]),
        taint_create("T-1", &["a"], None),
        job_run_buffer("JR-2", "//j", &["a"], &[]),
        job_run_success("JR-2", vec![]),
        taint_cancel("T-1", None),
    ]);
    let old = state.job_run(run(&state, "JR-1")).outputs[0];
    assert_eq!(state.partition(old).state, PartitionState::Tainted);
    assert_eq!(current_state(&state, "a"), PartitionState::Live);
}

#[test]
fn tainted_data_is_still_readable() {
    let state = replay(vec![
        job_run_buffer("JR-1", "//j", &["a"], &[]),
        job_run_success("JR-1", vec![]),
        taint_create("T-1", &["a"], None),
        job_run_buffer("JR-2", "//k", &["b"], &[]),
        job_run_success("JR-2", read_deps(&[(NONE, &["a"][..])])),
    ]);
    let a = state.job_run(run(&state, "JR-1")).outputs[0];
    assert_eq!(state.job_run(run(&state, "JR-2")).read_partitions[0], a);
}

#[test]
fn want_status_follows_its_runs() {
    let mut seq = EventSeq::starting_at(0);
    let mut state = BuildState::new();
    let mut step = |state: &mut BuildState, event: Event| {
        state.apply(&seq.next(1, event), 0);
    };
    step(&mut state, want_create("W", &["a"], None));
    assert_eq!(want_status(&state, "W"), WantStatus::New);
    step(&mut state, job_run_buffer("JR-1", "//a", &["a"], &["W"]));
    assert_eq!(want_status(&state, "W"), WantStatus::Building);
    step(&mut state, job_run_failure("JR-1", "boom"));
    assert_eq!(want_status(&state, "W"), WantStatus::Failed);
    step(&mut state, job_run_buffer("JR-2", "//a", &["a"], &["W"]));
    assert_eq!(want_status(&state, "W"), WantStatus::Building);
    step(&mut state, job_run_missing_deps("JR-2", &[(&["a"][..], &["b"][..])], vec![]));
    assert_eq!(want_status(&state, "W"), WantStatus::UpstreamBuilding);
    step(&mut state, want_create("W-b", &["b"], job_triggered("JR-2")));
    assert_eq!(want_status(&state, "W"), WantStatus::UpstreamBuilding);
    step(&mut state, job_run_buffer("JR-3", "//b", &["b"], &["W-b"]));
    step(&mut state, job_run_failure("JR-3", "no source"));
    assert_eq!(want_status(&state, "W-b"), WantStatus::Failed);
    assert_eq!(want_status(&state, "W"), WantStatus::UpstreamFailed);
    step(&mut state, job_run_buffer("JR-4", "//b", &["b"], &["W-b"]));
    step(&mut state, job_run_success("JR-4", vec![]));
    assert_eq!(want_status(&state, "W-b"), WantStatus::Successful);
    assert_eq!(want_status(&state, "W"), WantStatus::New, "upstream done, waiting for a retry");
    step(&mut state, job_run_buffer("JR-5", "//a", &["a"], &["W"]));
    step(&mut state, job_run_success("JR-5", read_deps(&[(NONE, &["b"][..])])));
    assert_eq!(want_status(&state, "W"), WantStatus::Successful);
    step(&mut state, taint_create("T", &["a"], None));
    assert_eq!(want_status(&state, "W"), WantStatus::New, "tainted data no longer satisfies the want");
    step(&mut state, want_cancel("W", None));
    assert_eq!(want_status(&state, "W"), WantStatus::Canceled);
    assert_eq!(state.diagnostics(), &[]);
    // Retry chains: //a building [a] for W had JR-1, JR-2, JR-5.
    let w = state.find_want("W").unwrap();
    assert_eq!(state.want(w).retry_chains.len(), 1);
    assert_eq!(state.want(w).retry_chains[0].runs.len(), 3);
}

#[test]
fn want_satisfied_by_a_run_for_another_want_is_successful() {
    let state = replay(vec![
        want_create("W-1", &["a"], None),
        want_create("W-2", &["a"], None),
        job_run_buffer("JR-1", "//a", &["a"], &["W-1"]),
        job_run_success("JR-1", vec![]),
    ]);
    assert_eq!(want_status(&state, "W-2"), WantStatus::Successful);
}

#[test]
fn recorded_changes_name_old_and_new_status() {
    let mut state = BuildState::new();
    state.set_recording(true);
    let mut seq = EventSeq::starting_at(0);
    state.apply(&seq.next(1, want_create("W", &["a"], None)), 0);
    state.apply(&seq.next(1, job_run_buffer("JR-1", "//a", &["a"], &["W"])), 0);
    state.apply(&seq.next(1, job_run_success("JR-1", read_deps(&[(NONE, &["src"][..])]))), 0);
    let changes = state.take_changes();
    let w = state.find_want("W").unwrap();
    let jr = run(&state, "JR-1");
    assert_eq!(
        changes[0],
        (1, Change::WantStatus { want: w, from: None, to: WantStatus::New }),
        "a new want is a change"
    );
    assert!(
        changes.contains(&(2, Change::WantStatus { want: w, from: Some(WantStatus::New), to: WantStatus::Building }))
    );
    assert!(changes.contains(&(
        3,
        Change::JobRunStatus { job_run: jr, from: Some(JobRunStatus::Queued), to: JobRunStatus::Succeeded }
    )));
    assert!(changes
        .contains(&(3, Change::WantStatus { want: w, from: Some(WantStatus::Building), to: WantStatus::Successful })));
    let src = state.current_instance(state.ref_id("src").unwrap()).unwrap();
    let out = state.job_run(jr).outputs[0];
    assert!(changes.contains(&(3, Change::ConsumerEdge { input: src, output: out, job_run: jr })));
    assert!(state.take_changes().is_empty());
}

#[test]
fn contradictions_are_diagnosed_not_applied() {
    let state = replay(vec![
        job_run_success("JR-ghost", vec![]),
        job_run_buffer("JR-1", "//j", &["a", "a"], &["W-later"]),
        job_run_buffer("JR-1", "//j", &["b"], &[]),
        job_run_success("JR-1", read_deps(&[(&["zzz"][..], &["in"][..])])),
        job_run_failure("JR-1", "late"),
        job_run_heartbeat("JR-1"),
        taint_create("T-1", &["never-seen"], None),
        taint_cancel("T-404", None),
        want_cancel("W-404", None),
        want_create("W-x", &["a"], job_triggered("JR-ghost")),
        want_create("W-x", &["a"], None),
    ]);
    let messages: Vec<&str> = state.diagnostics().iter().map(|d| d.message.as_str()).collect();
    let expected = [
        "success for job run JR-ghost, which was never buffered; ignored",
        "job run JR-1 lists a twice in building_partitions; built once",
        "job run JR-1 is scheduled for want W-later, which is not created yet; attributed anyway",
        "job run JR-1 buffered again; ignored",
        "job run JR-1 read_deps names impacted zzz which it did not build; no lineage edge for it",
        "failure for job run JR-1, already Succeeded; ignored",
        "heartbeat for job run JR-1, already Succeeded; ignored",
        "taint T-1 names unknown ref never-seen; nothing to mark",
        "cancel of unknown taint T-404; ignored",
        "cancel of unknown want W-404; ignored",
        "want W-x is job_triggered by unknown job run JR-ghost; it has no parent want",
        "want W-x created again; ignored",
    ];
    assert_eq!(messages, expected);
    assert_eq!(state.diagnostics()[0].event_id, 1);
    assert_eq!(statuses(&state, "JR-1"), [JobRunStatus::Queued, JobRunStatus::Succeeded]);
    assert_eq!(state.events_applied(), 11);
}

#[test]
fn non_increasing_event_ids_are_diagnosed_and_applied_in_log_order() {
    let mut state = BuildState::new();
    let event = |id| DataBuildEvent {
        timestamp: 0,
        event_id: id,
        event: Some(job_run_buffer(&format!("JR-{id}"), "//j", &["a"], &[])),
    };
    state.apply(&event(5), 0);
    state.apply(&event(5), 10);
    state.apply(&event(3), 20);
    assert_eq!(state.job_run_count(), 2, "JR-5 twice is one run; JR-3 still lands");
    let messages: Vec<&str> = state.diagnostics().iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "event id 5 does not increase (previous was 5); applied in log order",
            "job run JR-5 buffered again; ignored",
            "event id 3 does not increase (previous was 5); applied in log order",
        ]
    );
    assert_eq!(state.diagnostics()[2].offset, 20);
}

#[test]
fn an_event_of_unknown_type_is_diagnosed() {
    let mut state = BuildState::new();
    state.apply(&DataBuildEvent { timestamp: 0, event_id: 1, event: None }, 0);
    assert_eq!(state.events_applied(), 1);
    assert_eq!(state.diagnostic_count(), 1);
}

#[test]
fn digest_changes_with_content_and_not_with_diagnostic_offsets() {
    let events = demo_events();
    let load = |offsets: u64| {
        let mut state = BuildState::new();
        for (i, e) in events.iter().enumerate() {
            state.apply(e, i as u64 * offsets);
        }
        state
    };
    assert_eq!(load(1).digest(), load(7).digest());
    let mut shorter = BuildState::new();
    for e in &events[..events.len() - 1] {
        shorter.apply(e, 0);
    }
    assert_ne!(shorter.digest(), load(1).digest());
}

#[test]
fn an_instance_stays_tainted_while_any_taint_is_active_and_keeps_its_taint_history() {
    let mut state = replay(vec![
        job_run_buffer("JR-1", "//j", &["a"], &[]),
        job_run_success("JR-1", vec![]),
        taint_create("T-1", &["a"], None),
        taint_create("T-2", &["a"], None),
        taint_cancel("T-1", None),
    ]);
    assert_eq!(current_state(&state, "a"), PartitionState::Tainted, "T-2 is still active");
    state.apply(&DataBuildEvent { timestamp: 1, event_id: 10, event: Some(taint_cancel("T-2", None)) }, 0);
    assert_eq!(current_state(&state, "a"), PartitionState::Live);
    let a = state.current_instance(state.ref_id("a").unwrap()).unwrap();
    let history: Vec<&str> = state.partition(a).taints.iter().map(|&t| state.taint_id(t)).collect();
    assert_eq!(history, ["T-1", "T-2"]);
}
