//! Server-side render time of the web pages on a 1M-event simulated log (`dbl simulate --events 1000000
//! --seed 1`, see docs/SIMULATE.md): the largest want page (the want whose fulfillment tree holds the most
//! job runs), the lineage and partition pages of the hottest source (fan-out 25, depth 3 both ways; 32,964
//! consumers, of which the partition page lists 500) and a job run page.
//! Each figure is the view query plus the askama render, as the daemon does per GET (without HTTP).
//! Target (issue 14): the largest want page ≤ 50 ms.
//!
//! Run: `cargo bench --bench web`. `DBL_BENCH_EVENTS` changes the log size.

mod common;

use std::collections::HashSet;
use std::hint::black_box;

use askama::Template;
use criterion::{criterion_group, criterion_main, Criterion};
use dbl::state::{BuildState, WantIx};
use dbl::views::{self, LineageParams, PartitionParams};
use dbl::web::pages;

/// Job runs in the fulfillment tree of `root` (the want and its derivative wants, each once).
fn tree_runs(state: &BuildState, root: WantIx) -> usize {
    let mut seen = HashSet::from([root]);
    let mut stack = vec![root];
    let mut runs = 0;
    while let Some(w) = stack.pop() {
        runs += state.want(w).job_runs.len();
        stack.extend(state.want(w).children.iter().copied().filter(|&c| seen.insert(c)));
    }
    runs
}

fn bench_pages(c: &mut Criterion) {
    let state = common::simulated_state();
    let largest = state.want_ixs().max_by_key(|&w| (tree_runs(&state, w), std::cmp::Reverse(w))).expect("wants");
    let hottest = state.partition_ixs().max_by_key(|&p| state.partition(p).consumers.len()).expect("partitions");
    let want_id = state.want_id(largest).to_owned();
    let html = pages::want::page(&state, &want_id, false).unwrap().render().unwrap();
    eprintln!(
        "log: {} events; largest want page {want_id} ({} job runs in its tree, {} KB of HTML); hottest partition {} \
         ({} consumers)",
        state.events_applied(),
        tree_runs(&state, largest),
        html.len() / 1024,
        state.ref_name(state.partition(hottest).partition_ref),
        state.partition(hottest).consumers.len(),
    );
    c.bench_function("page/want_largest", |b| {
        b.iter(|| black_box(pages::want::page(&state, &want_id, false).unwrap().render().unwrap()))
    });
    c.bench_function("page/want_largest_expanded", |b| {
        b.iter(|| black_box(pages::want::page(&state, &want_id, true).unwrap().render().unwrap()))
    });
    let hot = state.partition(hottest).uuid.to_string();
    c.bench_function("page/lineage_hot_source", |b| {
        b.iter(|| black_box(pages::lineage::page(&state, &hot, LineageParams::default()).unwrap().render().unwrap()))
    });
    c.bench_function("page/partition_hot_source", |b| {
        b.iter(|| black_box(pages::partition::page(&state, &hot).unwrap().render().unwrap()))
    });
    // Of which the view alone (the page asks it twice when given a UUID: the instance, then its ref's history).
    let by_uuid = PartitionParams { partition_ref: None, uuid: Some(hot.clone()) };
    c.bench_function("view/partition_hot_source", |b| {
        b.iter(|| black_box(views::partition(&state, &by_uuid).unwrap()))
    });
    let run = state.job_run_id(*state.want(largest).job_runs.last().expect("runs")).to_owned();
    c.bench_function("page/job_run", |b| {
        b.iter(|| black_box(pages::job_run::page(&state, &run).unwrap().render().unwrap()))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = bench_pages
}
criterion_main!(benches);
