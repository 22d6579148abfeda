//! View latency on a 1M-event simulated log (`dbl simulate --events 1000000 --seed 1`, see
//! docs/SIMULATE.md): fulfillment of the largest want, lineage depth 3 both ways with fan-out 25 (a
//! mid-graph report partition and the hottest source, read by thousands of runs), job run detail.
//! Targets (issue 4): fulfillment ≤ 5 ms, lineage ≤ 1 ms p50, job run detail ≤ 50 µs.
//!
//! Run: `cargo bench --bench views`. `DBL_BENCH_EVENTS` changes the log size.

mod common;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use dbl::state::JobRunStatus;
use dbl::views::{self, Direction, FulfillmentParams, JobRunParams, LineageParams};

fn bench_views(c: &mut Criterion) {
    let state = common::simulated_state();
    let largest = state
        .want_ixs()
        .max_by_key(|&w| (state.want(w).job_runs.len() + state.want(w).children.len(), std::cmp::Reverse(w)))
        .expect("wants");
    let hottest = state.partition_ixs().max_by_key(|&p| state.partition(p).consumers.len()).expect("partitions");
    // A report partition built late in the log: upstream through marts, staging, raw.
    let mid_run = state
        .job_run_ixs()
        .rev()
        .find(|&r| {
            let run = state.job_run(r);
            run.status == JobRunStatus::Succeeded && state.label_name(run.label).starts_with("//jobs/reports")
        })
        .expect("a report run");
    let mid = state.job_run(mid_run).outputs[0];
    eprintln!(
        "log: {} events, {} job runs, {} partition instances, {} wants; largest want {} ({} runs, {} derivative wants); \
         hottest partition {} ({} consumers); mid-graph partition {}",
        state.events_applied(),
        state.job_run_count(),
        state.partition_count(),
        state.want_count(),
        state.want_id(largest),
        state.want(largest).job_runs.len(),
        state.want(largest).children.len(),
        state.ref_name(state.partition(hottest).partition_ref),
        state.partition(hottest).consumers.len(),
        state.ref_name(state.partition(mid).partition_ref),
    );

    let fulfillment = FulfillmentParams { want_id: state.want_id(largest).to_owned(), expand_retries: false };
    c.bench_function("fulfillment/largest_want", |b| {
        b.iter(|| black_box(views::fulfillment(&state, &fulfillment).unwrap()))
    });
    let lineage_of = |p| LineageParams {
        uuid: Some(state.partition(p).uuid.to_string()),
        direction: Direction::Both,
        depth: 3,
        fanout_limit: 25,
        ..LineageParams::default()
    };
    let mid_params = lineage_of(mid);
    c.bench_function("lineage/mid_graph_depth3_both_fanout25", |b| {
        b.iter(|| black_box(views::lineage(&state, &mid_params).unwrap()))
    });
    let hot_params = lineage_of(hottest);
    c.bench_function("lineage/hot_source_depth3_both_fanout25", |b| {
        b.iter(|| black_box(views::lineage(&state, &hot_params).unwrap()))
    });
    let job_run = JobRunParams { job_run_id: state.job_run_id(mid_run).to_owned() };
    c.bench_function("job_run/detail", |b| b.iter(|| black_box(views::job_run(&state, &job_run).unwrap())));
    c.bench_function("job_run/detail_json", |b| {
        b.iter(|| black_box(serde_json::to_vec(&views::job_run(&state, &job_run).unwrap()).unwrap()))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = bench_views
}
criterion_main!(benches);
