//! The generator's promises: deterministic for a seed, exactly N events, consistent with the state
//! machine (zero diagnostics), and every story the docs describe actually happens.

use std::sync::OnceLock;

use rustc_hash::FxHashMap;

use super::*;
use crate::proto::data_build_event::Event;
use crate::state::{BuildState, JobRunStatus, PartitionState, Source, WantStatus};

fn apply_all(events: &[DataBuildEvent]) -> BuildState {
    let mut state = BuildState::new();
    for event in events {
        state.apply(event, 0);
    }
    state
}

fn assert_consistent(state: &BuildState) {
    assert_eq!(
        state.diagnostic_count(),
        0,
        "the generator wrote events the state machine rejects; first ones: {:#?}",
        &state.diagnostics()[..state.diagnostics().len().min(10)]
    );
}

fn bytes(config: SimConfig, format: LogFormat) -> Vec<u8> {
    write_log(config, format, Vec::new(), &mut |_| {}).unwrap()
}

/// A 200,000-event log applied once and shared by the feature tests.
struct Big {
    state: BuildState,
    /// Heartbeat events per job run id.
    heartbeats: FxHashMap<String, u32>,
}

fn big() -> &'static Big {
    static BIG: OnceLock<Big> = OnceLock::new();
    BIG.get_or_init(|| {
        let mut state = BuildState::new();
        let mut heartbeats = FxHashMap::default();
        generate(SimConfig { events: 200_000, seed: 42 }, &mut |event| {
            if let Some(Event::JobRunHeartbeatV1(e)) = &event.event {
                *heartbeats.entry(e.job_run_id.clone()).or_default() += 1;
            }
            state.apply(event, 0);
            Ok(())
        })
        .unwrap();
        Big { state, heartbeats }
    })
}

#[test]
fn the_same_seed_gives_the_same_bytes_and_another_seed_does_not() {
    let config = SimConfig { events: 5_000, seed: 7 };
    let first = bytes(config, LogFormat::Binary);
    assert_eq!(first, bytes(config, LogFormat::Binary));
    assert_ne!(first, bytes(SimConfig { seed: 8, ..config }, LogFormat::Binary));
    assert_eq!(bytes(config, LogFormat::JsonLines), bytes(config, LogFormat::JsonLines));
}

#[test]
fn exactly_n_events_with_increasing_ids_and_timestamps() {
    for n in [0, 1, 2, 37, 3_000] {
        let events = generate_vec(SimConfig { events: n, seed: 3 });
        assert_eq!(events.len() as u64, n);
        for (i, pair) in events.windows(2).enumerate() {
            assert_eq!(pair[0].event_id, i as u64 + 1);
            assert!(pair[1].timestamp > pair[0].timestamp, "timestamp does not increase after event {}", i + 1);
        }
        if let Some(last) = events.last() {
            assert_eq!(last.event_id, n);
        }
    }
}

#[test]
fn a_shorter_log_is_a_prefix_of_a_longer_one() {
    let long = bytes(SimConfig { events: 2_000, seed: 11 }, LogFormat::Binary);
    let short = bytes(SimConfig { events: 1_000, seed: 11 }, LogFormat::Binary);
    assert!(long.starts_with(&short), "cutting at N must not change the events before N");
}

#[test]
fn binary_and_json_lines_decode_to_the_same_events_and_state() {
    let config = SimConfig { events: 4_000, seed: 5 };
    let mut decoded = Vec::new();
    for format in [LogFormat::Binary, LogFormat::JsonLines] {
        let mut decoder = crate::log::Decoder::new();
        let mut events = Vec::new();
        decoder.feed(&bytes(config, format), &mut |record| events.push(record.event)).unwrap();
        assert_eq!(decoder.pending_bytes(), 0, "a record was left incomplete");
        assert_eq!(decoder.format(), Some(format));
        decoded.push(events);
    }
    assert_eq!(decoded[0], generate_vec(config));
    assert_eq!(decoded[0], decoded[1]);
    let (binary, json) = (apply_all(&decoded[0]), apply_all(&decoded[1]));
    assert_consistent(&binary);
    assert_eq!(binary.digest(), json.digest());
}

#[test]
fn small_logs_of_many_seeds_are_consistent() {
    for seed in 0..20 {
        let state = apply_all(&generate_vec(SimConfig { events: 3_000, seed }));
        assert_consistent(&state);
    }
}

#[test]
fn a_large_log_is_consistent() {
    assert_consistent(&big().state);
}

#[test]
fn dep_misses_spawn_derivative_wants_and_their_retries_succeed() {
    let state = &big().state;
    let dep_misses = state.job_run_ixs().filter(|&r| state.job_run(r).status == JobRunStatus::DepMiss).count();
    let derivative = state
        .want_ixs()
        .filter(|&w| {
            matches!(state.want(w).source, Source::JobTriggered { .. }) && state.want(w).triggered_by.is_some()
        })
        .count();
    let children = state.want_ixs().filter(|&w| !state.want(w).children.is_empty()).count();
    let status = |r| state.job_run(r).status;
    let healed = state
        .want_ixs()
        .flat_map(|w| state.want(w).retry_chains.iter())
        .filter(|chain| chain.runs.len() > 1)
        .filter(|c| {
            status(c.runs[0]) == JobRunStatus::DepMiss && status(*c.runs.last().unwrap()) == JobRunStatus::Succeeded
        })
        .count();
    assert!(dep_misses > 1_000, "{dep_misses} dep-missed runs");
    assert!(derivative > 1_000 && children > 1_000, "{derivative} derivative wants, {children} wants with children");
    assert!(healed > 1_000, "{healed} chains go dep miss → … → succeeded");
}

#[test]
fn failures_and_cancels_happen_and_failures_are_retried() {
    let state = &big().state;
    let count = |s| state.job_run_ixs().filter(|&r| state.job_run(r).status == s).count();
    let (failed, canceled) = (count(JobRunStatus::Failed), count(JobRunStatus::Canceled));
    let status = |r| state.job_run(r).status;
    let recovered = state
        .want_ixs()
        .flat_map(|w| state.want(w).retry_chains.iter())
        .filter(|c| c.runs.iter().any(|&r| status(r) == JobRunStatus::Failed))
        .filter(|c| status(*c.runs.last().unwrap()) == JobRunStatus::Succeeded)
        .count();
    let canceled_wants = state.want_ixs().filter(|&w| state.want(w).status == WantStatus::Canceled).count();
    assert!(failed > 200 && canceled > 50, "{failed} failed runs, {canceled} canceled");
    assert!(recovered > 100, "{recovered} chains recover from a failure");
    assert!(canceled_wants > 5, "{canceled_wants} canceled wants");
    let failed_wants = state.want_ixs().filter(|&w| state.want(w).status == WantStatus::Failed).count();
    assert!(failed_wants > 0, "no want ends Failed");
}

#[test]
fn taints_are_rebuilt_or_cancelled() {
    let state = &big().state;
    assert!(state.taint_count() > 50, "{} taints", state.taint_count());
    let cancelled = (0..state.taint_count() as u32)
        .filter(|&t| state.taint(crate::state::TaintIx(t)).cancellation.is_some())
        .count();
    assert!(cancelled > 0, "no taint is ever cancelled");
    let rebuilt = state
        .ref_ids()
        .filter(|&r| {
            let instances = &state.ref_entry(r).instances;
            let tainted = instances.iter().position(|&p| state.partition(p).state == PartitionState::Tainted);
            tainted
                .is_some_and(|t| instances[t + 1..].iter().any(|&p| state.partition(p).state == PartitionState::Live))
        })
        .count();
    assert!(rebuilt > 50, "{rebuilt} tainted refs rebuilt");
}

#[test]
fn some_inputs_are_hot_and_some_wants_ask_for_many_partitions() {
    let state = &big().state;
    let hottest = state.partition_ixs().map(|p| state.partition(p).consumers.len()).max().unwrap_or(0);
    assert!(hottest >= 1_000, "the hottest partition instance has {hottest} consumers");
    let externals = state.partition_ixs().filter(|&p| state.partition(p).state == PartitionState::External).count();
    assert!(externals > 100, "{externals} External instances");
    let multi = state.want_ixs().filter(|&w| state.want(w).refs.len() > 1).count();
    assert!(multi > 100, "{multi} wants for several partitions");
    let successful = state.want_ixs().filter(|&w| state.want(w).status == WantStatus::Successful).count();
    assert!(successful * 10 > state.want_count() * 8, "{successful} of {} wants successful", state.want_count());
}

#[test]
fn long_runs_heartbeat_several_times() {
    let big = big();
    let most = big.heartbeats.values().copied().max().unwrap_or(0);
    let several = big.heartbeats.values().filter(|&&n| n >= 5).count();
    assert!(most >= 10 && several > 100, "most heartbeats in one run {most}, runs with ≥5: {several}");
}
