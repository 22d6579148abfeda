//! Snapshots of the demo's views in every format (review changes with `cargo insta review`).

use super::*;
use crate::state::BuildState;
use crate::views::{self, FulfillmentParams, JobRunParams, LineageParams, ListParams, PartitionParams, WantParams};

fn demo() -> BuildState {
    BuildState::from_events(&crate::events::demo_events())
}

fn fulfillment(state: &BuildState, expand_retries: bool) -> Response<FulfillmentView> {
    views::fulfillment(state, &FulfillmentParams { want_id: "W-001".into(), expand_retries }).unwrap()
}

fn lineage(state: &BuildState) -> Response<LineageView> {
    views::lineage(state, &LineageParams { partition_ref: Some("data/beta".into()), ..LineageParams::default() })
        .unwrap()
}

fn job_run(state: &BuildState) -> Response<JobRunDetail> {
    views::job_run(state, &JobRunParams { job_run_id: "JR-789".into() }).unwrap()
}

fn out<V: Render>(view: &V, format: Format) -> String {
    render(view, format, false).unwrap()
}

#[test]
fn demo_output() {
    let text = crate::cli::demo_text(&demo(), "demo.bel", false).unwrap();
    insta::assert_snapshot!("demo_output", text);
}

#[test]
fn demo_trees() {
    let state = demo();
    insta::assert_snapshot!("fulfillment_tree", out(&fulfillment(&state, false), Format::Tree));
    insta::assert_snapshot!("fulfillment_tree_expanded", out(&fulfillment(&state, true), Format::Tree));
    insta::assert_snapshot!("lineage_tree", out(&lineage(&state), Format::Tree));
    insta::assert_snapshot!("job_run_tree", out(&job_run(&state), Format::Tree));
    let partition =
        views::partition(&state, &PartitionParams { partition_ref: Some("data/beta".into()), uuid: None }).unwrap();
    insta::assert_snapshot!("partition_tree", out(&partition, Format::Tree));
    let want = views::want(&state, &WantParams { want_id: "W-001".into() }).unwrap();
    insta::assert_snapshot!("want_tree", out(&want, Format::Tree));
    let job_runs = views::list_job_runs(&state, &ListParams { limit: 2, ..ListParams::default() }).unwrap();
    insta::assert_snapshot!("job_runs_list", out(&job_runs, Format::Tree));
}

#[test]
fn demo_json() {
    let state = demo();
    insta::assert_snapshot!("fulfillment_json", out(&fulfillment(&state, false), Format::Json));
    insta::assert_snapshot!("lineage_json", out(&lineage(&state), Format::Json));
    insta::assert_snapshot!("job_run_json", out(&job_run(&state), Format::Json));
}

#[test]
fn demo_graphs() {
    let state = demo();
    insta::assert_snapshot!("lineage_dot", out(&lineage(&state), Format::Dot));
    insta::assert_snapshot!("lineage_mermaid", out(&lineage(&state), Format::Mermaid));
    insta::assert_snapshot!("fulfillment_mermaid", out(&fulfillment(&state, false), Format::Mermaid));
    let job_run_dot = out(&job_run(&state), Format::Dot);
    assert!(job_run_dot.contains("\"w:W-001\" -> \"j:JR-789\" [label=\"scheduled\"];"), "{job_run_dot}");
}

#[test]
fn json_is_exactly_the_response() {
    let state = demo();
    let response = lineage(&state);
    let parsed: serde_json::Value = serde_json::from_str(&out(&response, Format::Json)).unwrap();
    assert_eq!(parsed, serde_json::to_value(&response).unwrap());
}

#[test]
fn colour_only_when_asked() {
    let state = demo();
    let plain = render(&job_run(&state), Format::Tree, false).unwrap();
    let coloured = render(&job_run(&state), Format::Tree, true).unwrap();
    assert!(!plain.contains('\x1b'));
    assert!(coloured.contains("\x1b[32mSucceeded\x1b[0m"));
    let json = render(&job_run(&state), Format::Json, true).unwrap();
    assert!(!json.contains('\x1b'), "colour never reaches JSON");
}

#[test]
fn lists_have_no_graph() {
    let state = demo();
    let wants = views::list_wants(&state, &ListParams::default()).unwrap();
    let error = render(&wants, Format::Dot, false).unwrap_err();
    assert!(error.contains("list"), "{error}");
}

#[test]
fn truncation_shows_how_many_more_and_the_cursor() {
    use crate::events::*;
    let mut seq = EventSeq::starting_at(0);
    let mut state = BuildState::new();
    for i in 0..30 {
        let id = format!("JR-{i}");
        let events = [
            job_run_buffer(&id, "//fan", &[format!("out/{i}")], &[]),
            job_run_success(&id, read_deps(&[(&[][..], &["src"][..])])),
        ];
        for e in events {
            state.apply(&seq.next(1, e), 0);
        }
    }
    let response = views::lineage(
        &state,
        &LineageParams { partition_ref: Some("src".into()), fanout_limit: 3, ..LineageParams::default() },
    )
    .unwrap();
    let tree = out(&response, Format::Tree);
    assert!(tree.contains("… +27 more (cursor down:3)"), "{tree}");
    assert!(out(&response, Format::Mermaid).contains("+27 more"));
}
