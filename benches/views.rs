//! View latency on a large log: fulfillment of the largest want, lineage depth 3 both ways with
//! fan-out 25 (a mid-graph ref and a hot source read by thousands of runs), and job run detail.
//!
//! The log is generated here with `dbl::events` (`dbl::sim` was not available when this was
//! written): 4 rounds rebuild 6 layers of 2,000 refs each from 500 external sources; each run reads
//! 3 refs of the layer below, layer-1 runs also read the hot source `src/hot`; every 10th final-layer
//! ref dep-misses first, spawning a derivative want, then succeeds on retry. About 150k events.
//!
//! Run: `cargo bench --bench views`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use dbl::events::*;
use dbl::proto::DataBuildEvent;
use dbl::state::BuildState;
use dbl::views::{self, Direction, FulfillmentParams, JobRunParams, LineageParams};

const SOURCES: usize = 500;
const LAYERS: usize = 6;
const WIDTH: usize = 2_000;
const ROUNDS: usize = 4;
const WANTS_PER_ROUND: usize = 20;

struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % n
    }
}

fn ref_name(layer: usize, i: usize) -> String {
    if layer == 0 {
        format!("src/{i}")
    } else {
        format!("l{layer}/p{i}")
    }
}

fn large_log() -> Vec<DataBuildEvent> {
    let mut rng = Lcg(42);
    let mut seq = EventSeq::starting_at(1_700_000_000_000);
    let mut out = Vec::new();
    let per_want = WIDTH / WANTS_PER_ROUND;
    for round in 0..ROUNDS {
        for w in 0..WANTS_PER_ROUND {
            let refs: Vec<String> = (w * per_want..(w + 1) * per_want).map(|i| ref_name(LAYERS, i)).collect();
            out.push(seq.next(1, want_create(&format!("W-{round}-{w}"), &refs, manual("bench"))));
        }
        for layer in 1..=LAYERS {
            for i in 0..WIDTH {
                let below = if layer == 1 { SOURCES } else { WIDTH };
                let mut reads: Vec<String> = (0..3).map(|_| ref_name(layer - 1, rng.below(below))).collect();
                if layer == 1 {
                    reads.push("src/hot".into());
                }
                let output = ref_name(layer, i);
                let want = format!("W-{round}-{}", i / per_want);
                let wants: Vec<&str> = if layer == LAYERS { vec![want.as_str()] } else { vec![] };
                let id = format!("JR-{round}-{layer}-{i}");
                if layer == LAYERS && i % 10 == 0 {
                    let first = format!("{id}-a");
                    out.push(seq.next(1, job_run_buffer(&first, "//final", &[&output], &wants)));
                    out.push(seq.next(1, job_run_heartbeat(&first)));
                    let missing = [(&[output.as_str()][..], &[reads[0].as_str()][..])];
                    out.push(seq.next(1, job_run_missing_deps(&first, &missing, vec![])));
                    let derivative = format!("W-d-{round}-{i}");
                    out.push(seq.next(1, want_create(&derivative, &[&reads[0]], job_triggered(&first))));
                }
                let label = format!("//layer{layer}");
                out.push(seq.next(1, job_run_buffer(&id, &label, &[&output], &wants)));
                out.push(seq.next(1, job_run_heartbeat(&id)));
                let reads: Vec<&str> = reads.iter().map(String::as_str).collect();
                out.push(seq.next(1, job_run_success(&id, read_deps(&[(&[][..], &reads[..])]))));
            }
        }
    }
    out
}

fn bench_views(c: &mut Criterion) {
    let events = large_log();
    let mut state = BuildState::new();
    for (i, e) in events.iter().enumerate() {
        state.apply(e, i as u64);
    }
    let largest = state
        .want_ixs()
        .max_by_key(|&w| (state.want(w).job_runs.len(), std::cmp::Reverse(w)))
        .map(|w| state.want_id(w).to_owned())
        .expect("wants");
    eprintln!(
        "log: {} events, {} job runs, {} partition instances, {} wants; largest want {largest} ({} runs)",
        events.len(),
        state.job_run_count(),
        state.partition_count(),
        state.want_count(),
        state.want(state.find_want(&largest).unwrap()).job_runs.len()
    );

    let fulfillment = FulfillmentParams { want_id: largest, expand_retries: false };
    c.bench_function("fulfillment/largest_want", |b| {
        b.iter(|| black_box(views::fulfillment(&state, &fulfillment).unwrap()))
    });
    let mid = LineageParams {
        partition_ref: Some(ref_name(3, 7)),
        direction: Direction::Both,
        depth: 3,
        fanout_limit: 25,
        ..LineageParams::default()
    };
    c.bench_function("lineage/mid_graph_depth3_both_fanout25", |b| {
        b.iter(|| black_box(views::lineage(&state, &mid).unwrap()))
    });
    let hot = LineageParams { partition_ref: Some("src/hot".into()), ..mid.clone() };
    c.bench_function("lineage/hot_source_depth3_both_fanout25", |b| {
        b.iter(|| black_box(views::lineage(&state, &hot).unwrap()))
    });
    let job_run = JobRunParams { job_run_id: format!("JR-{}-{LAYERS}-10", ROUNDS - 1) };
    c.bench_function("job_run/detail", |b| b.iter(|| black_box(views::job_run(&state, &job_run).unwrap())));
    c.bench_function("job_run/detail_json", |b| {
        b.iter(|| black_box(serde_json::to_vec(&views::job_run(&state, &job_run).unwrap()).unwrap()))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = bench_views
}
criterion_main!(benches);
