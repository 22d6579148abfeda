//! View semantics on small logs built with `crate::events`.

use std::collections::BTreeSet;

use super::*;
use crate::events::*;
use crate::proto::data_build_event::Event;
use crate::state::{built_partition_uuid, external_partition_uuid};

const NONE: &[&str] = &[];

fn state_of(events: Vec<Event>) -> BuildState {
    BuildState::from_events(&stamped(events))
}

fn demo() -> BuildState {
    BuildState::from_events(&demo_events())
}

/// A run that builds `outputs` from `inputs` for `wants`, start to success.
fn run(id: &str, label: &str, outputs: &[&str], inputs: &[&str], wants: &[&str]) -> Vec<Event> {
    vec![
        job_run_buffer(id, label, outputs, wants),
        job_run_heartbeat(id),
        job_run_success(id, read_deps(&[(NONE, inputs)])),
    ]
}

fn uuid(job_run: &str, r: &str) -> String {
    built_partition_uuid(job_run, r).to_string()
}

fn lineage_of(state: &BuildState, params: LineageParams) -> LineageView {
    lineage(state, &params).expect("lineage").data
}

fn partition_uuids(view: &LineageView) -> Vec<String> {
    view.nodes
        .iter()
        .filter_map(|n| match n {
            LineageNode::Partition { uuid, .. } => Some(uuid.clone()),
            LineageNode::JobRun { .. } => None,
        })
        .collect()
}

fn downstream_params(uuid: &str) -> LineageParams {
    LineageParams { uuid: Some(uuid.into()), direction: Direction::Downstream, depth: 1, ..LineageParams::default() }
}

/// Every id `data` mentions (as JSON) that looks like an entity id is in the index, and nothing else is.
fn assert_index_complete<T: Serialize + HasRelatedIds>(response: &Response<T>) {
    let json = serde_json::to_value(&response.data).unwrap();
    let mut strings = Vec::new();
    collect_strings(&json, &mut strings);
    for s in strings {
        if Uuid::parse_str(&s).is_ok() {
            assert!(response.index.partitions.contains_key(&s), "partition {s} missing from the index");
        }
        if s.starts_with("JR-") {
            assert!(response.index.job_runs.contains_key(&s), "job run {s} missing from the index");
        }
        if s.starts_with("W-") {
            assert!(response.index.wants.contains_key(&s), "want {s} missing from the index");
        }
    }
}

fn collect_strings(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        serde_json::Value::Object(map) => map.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

// ---- fulfillment ------------------------------------------------------------------------------------

#[test]
fn demo_fulfillment_collapses_the_retry_and_recurses_into_the_derivative_want() {
    let state = demo();
    let response = fulfillment(&state, &FulfillmentParams { want_id: "W-001".into(), expand_retries: false }).unwrap();
    assert_index_complete(&response);
    let view = &response.data;
    let ids: Vec<&str> = view.wants.iter().map(|w| w.want_id.as_str()).collect();
    assert_eq!(ids, ["W-001", "W-002"]);
    let root = &view.wants[0];
    assert_eq!(root.status, "Successful");
    assert_eq!(root.jobs.len(), 1);
    let job = &root.jobs[0];
    assert_eq!(job.runs, ["JR-123", "JR-789"]);
    assert_eq!(job.statuses, ["DepMiss", "Succeeded"]);
    assert_eq!(job.status_chain, "DepMiss → retry → Succeeded");
    assert_eq!(job.derivative_wants, ["W-002"]);
    let reads: Vec<(&str, Option<&str>)> =
        job.read.iter().map(|u| (u.partition_ref.as_str(), u.uuid.as_deref())).collect();
    let alpha = external_partition_uuid("data/alpha").to_string();
    assert_eq!(
        reads,
        [("data/beta", Some(uuid("JR-456", "data/beta").as_str())), ("data/alpha", Some(alpha.as_str()))]
    );
    assert_eq!(root.partitions[0].built, [uuid("JR-123", "data/gamma"), uuid("JR-789", "data/gamma")]);
    assert_eq!(root.partitions[0].current, Some(uuid("JR-789", "data/gamma")));
    assert_eq!(root.derivatives, [DerivativeLink { want_id: "W-002".into(), triggered_by: Some("JR-123".into()) }]);
    assert_eq!(response.index.partitions[&alpha].state, "External");
}

#[test]
fn expanded_retries_list_every_attempt() {
    let state = demo();
    let view = fulfillment(&state, &FulfillmentParams { want_id: "W-001".into(), expand_retries: true }).unwrap().data;
    let jobs = &view.wants[0].jobs;
    assert_eq!(jobs.len(), 2);
    assert_eq!(
        (jobs[0].runs.as_slice(), jobs[0].attempt, jobs[0].status),
        (&["JR-123".to_string()][..], Some(1), "DepMiss")
    );
    assert_eq!(
        (jobs[1].runs.as_slice(), jobs[1].attempt, jobs[1].status),
        (&["JR-789".to_string()][..], Some(2), "Succeeded")
    );
    assert_eq!(jobs[0].retry_chain, jobs[1].retry_chain);
    // The dep-missed attempt read data/alpha, but nothing was resolved: it did not succeed.
    assert_eq!(jobs[0].read.len(), 1);
    assert_eq!(jobs[0].read[0].uuid, None);
    assert_eq!(jobs[0].derivative_wants, ["W-002"]);
}

#[test]
fn fulfillment_survives_wants_that_are_each_others_parents() {
    // S runs for the not-yet-created Y and dep-misses, creating X (child of Y); R runs for X and
    // dep-misses, creating Y (child of X).
    let missing = |id: &str| job_run_missing_deps(id, &[(NONE, &["m"][..])], vec![]);
    let state = state_of(vec![
        job_run_buffer("JR-S", "//s", &["s"], &["W-Y"]),
        missing("JR-S"),
        want_create("W-X", &["x"], job_triggered("JR-S")),
        job_run_buffer("JR-R", "//r", &["r"], &["W-X"]),
        missing("JR-R"),
        want_create("W-Y", &["y"], job_triggered("JR-R")),
    ]);
    let view = fulfillment(&state, &FulfillmentParams { want_id: "W-X".into(), expand_retries: false }).unwrap().data;
    let ids: Vec<&str> = view.wants.iter().map(|w| w.want_id.as_str()).collect();
    assert_eq!(ids, ["W-X", "W-Y"]);
    assert_eq!(view.wants[1].derivatives[0].want_id, "W-X");
}

// ---- lineage ----------------------------------------------------------------------------------------

#[test]
fn demo_lineage_both_ways() {
    let state = demo();
    let response =
        lineage(&state, &LineageParams { partition_ref: Some("data/beta".into()), ..LineageParams::default() })
            .unwrap();
    assert_index_complete(&response);
    let view = &response.data;
    assert_eq!(view.focus, uuid("JR-456", "data/beta"));
    let edges: Vec<(&str, &str, &str)> =
        view.edges.iter().map(|e| (e.kind, &e.uuid[..8], e.job_run_id.as_str())).collect();
    assert_eq!(
        edges,
        [
            ("wrote", "d1305448", "JR-456"),
            ("read", "4184e8af", "JR-456"),
            ("read", "d1305448", "JR-789"),
            ("wrote", "ad92881c", "JR-789")
        ]
    );
    assert!(view.truncated.is_empty());
}

#[test]
fn a_500_way_fan_out_is_truncated_and_the_cursor_returns_the_rest_once() {
    let mut events = Vec::new();
    for i in 0..500 {
        events.extend(run(&format!("JR-{i}"), "//fan", &[&format!("out/{i:03}")], &["in/x"], &[]));
    }
    let state = state_of(events);
    let x = external_partition_uuid("in/x").to_string();
    let first = lineage_of(&state, downstream_params(&x));
    assert_eq!(first.truncated.len(), 1);
    let cut = &first.truncated[0];
    assert_eq!((cut.uuid.as_str(), cut.direction, cut.shown, cut.more), (x.as_str(), Direction::Downstream, 25, 475));
    let mut seen: Vec<String> = partition_uuids(&first).into_iter().filter(|u| *u != x).collect();
    assert_eq!(seen.len(), 25);
    let mut next = Some(cut.next.clone());
    let mut pages = 1;
    while let Some(params) = next {
        let page = lineage_of(&state, params);
        pages += 1;
        seen.extend(partition_uuids(&page).into_iter().filter(|u| *u != x));
        next = page.truncated.first().map(|t| t.next.clone());
        if let Some(t) = page.truncated.first() {
            assert_eq!(t.more, 500 - seen.len());
        }
    }
    assert_eq!(pages, 20);
    let distinct: BTreeSet<&String> = seen.iter().collect();
    assert_eq!((seen.len(), distinct.len()), (500, 500), "every consumer once, none twice");
    let expected: BTreeSet<String> = (0..500).map(|i| uuid(&format!("JR-{i}"), &format!("out/{i:03}"))).collect();
    assert_eq!(distinct.into_iter().cloned().collect::<BTreeSet<_>>(), expected);
}

#[test]
fn upstream_fan_in_is_truncated_too() {
    let inputs: Vec<String> = (0..40).map(|i| format!("in/{i}")).collect();
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let state = state_of(run("JR-1", "//join", &["out"], &inputs, &[]));
    let params = LineageParams {
        partition_ref: Some("out".into()),
        direction: Direction::Upstream,
        fanout_limit: 10,
        ..LineageParams::default()
    };
    let view = lineage_of(&state, params);
    assert_eq!(view.truncated.len(), 1);
    assert_eq!((view.truncated[0].shown, view.truncated[0].more), (10, 30));
    assert_eq!(view.truncated[0].next.cursor.as_deref(), Some("up:10"));
    assert_eq!(partition_uuids(&view).len(), 11);
    let rest = lineage_of(&state, LineageParams { fanout_limit: 100, ..view.truncated[0].next.clone() });
    assert!(rest.truncated.is_empty());
    assert_eq!(partition_uuids(&rest).len(), 31, "the focus and the 30 not shown before");
}

#[test]
fn depth_counts_partition_hops_and_shared_nodes_appear_once() {
    // a → b → c → d, and a diamond: b and b2 both from a, c from both.
    let mut events = run("JR-b", "//b", &["b"], &["a"], &[]);
    events.extend(run("JR-b2", "//b2", &["b2"], &["a"], &[]));
    events.extend(run("JR-c", "//c", &["c"], &["b", "b2"], &[]));
    events.extend(run("JR-d", "//d", &["d"], &["c"], &[]));
    let state = state_of(events);
    let view = lineage_of(&state, LineageParams { partition_ref: Some("a".into()), ..LineageParams::default() });
    let hops: Vec<i32> = view
        .nodes
        .iter()
        .filter_map(|n| if let LineageNode::Partition { hops, .. } = n { Some(*hops) } else { None })
        .collect();
    assert_eq!(hops, [0, 1, 1, 2, 3], "a, b, b2, c (once, though reached twice), d");
    let c_edges = view.edges.iter().filter(|e| e.job_run_id == "JR-c").count();
    assert_eq!(c_edges, 3, "b→JR-c, b2→JR-c, JR-c→c, each once");
    let shallow = lineage_of(
        &state,
        LineageParams { partition_ref: Some("a".into()), down_depth: Some(1), ..LineageParams::default() },
    );
    assert_eq!(partition_uuids(&shallow).len(), 3);
    let up = lineage_of(
        &state,
        LineageParams {
            partition_ref: Some("d".into()),
            direction: Direction::Upstream,
            up_depth: Some(2),
            ..LineageParams::default()
        },
    );
    assert_eq!(up.down_depth, 0);
    assert_eq!(partition_uuids(&up).len(), 4, "d, c, b, b2 (a is 3 hops away)");
}

#[test]
fn a_rebuilt_partition_keeps_old_lineage_on_old_uuids() {
    let mut events = run("JR-1", "//a", &["data/a"], &["src"], &[]);
    events.extend(run("JR-2", "//b", &["data/b"], &["data/a"], &[]));
    events.extend(run("JR-3", "//a", &["data/a"], &["src"], &[]));
    let mut state = state_of(events);
    let (old, new) = (uuid("JR-1", "data/a"), uuid("JR-3", "data/a"));

    let by_ref = lineage_of(&state, LineageParams { partition_ref: Some("data/a".into()), ..LineageParams::default() });
    assert_eq!(by_ref.focus, new);
    assert!(!by_ref.edges.iter().any(|e| e.kind == "read" && e.uuid == new), "nothing has read the new instance yet");
    let by_old = lineage_of(&state, LineageParams { uuid: Some(old.clone()), ..LineageParams::default() });
    assert!(by_old.edges.iter().any(|e| e.kind == "read" && e.uuid == old && e.job_run_id == "JR-2"));
    assert!(partition_uuids(&by_old).contains(&uuid("JR-2", "data/b")));
    let detail = job_run(&state, &JobRunParams { job_run_id: "JR-2".into() }).unwrap();
    assert_eq!(detail.data.read[0].uuid.as_deref(), Some(old.as_str()), "the read stays on the old instance");
    assert!(!detail.index.partitions[&old].current);

    let mut seq = EventSeq::after(state.last_event().unwrap().event_id, 1_800_000_000_000);
    for e in run("JR-4", "//c", &["data/c"], &["data/a"], &[]) {
        state.apply(&seq.next(1, e), 0);
    }
    let later = lineage_of(&state, LineageParams { partition_ref: Some("data/a".into()), ..LineageParams::default() });
    assert!(later.edges.iter().any(|e| e.kind == "read" && e.uuid == new && e.job_run_id == "JR-4"));
    let history =
        partition(&state, &PartitionParams { partition_ref: Some("data/a".into()), uuid: None }).unwrap().data;
    assert_eq!(history.instances, Some(vec![old.clone(), new.clone()]));
    assert_eq!(history.uuid, new);
}

#[test]
fn external_sources_have_no_builder() {
    let state = demo();
    let alpha = external_partition_uuid("data/alpha").to_string();
    let response = partition(&state, &PartitionParams { partition_ref: None, uuid: Some(alpha.clone()) }).unwrap();
    assert_index_complete(&response);
    let detail = response.data;
    assert_eq!((detail.state, detail.built_by.as_deref(), detail.instances.as_ref()), ("External", None, None));
    assert!(detail.upstream.is_empty());
    let consumers: Vec<&str> = detail.consumers.iter().map(|c| c.job_run_id.as_str()).collect();
    assert_eq!(consumers, ["JR-456", "JR-789"]);
    let view = lineage_of(
        &state,
        LineageParams { uuid: Some(alpha), direction: Direction::Upstream, ..LineageParams::default() },
    );
    assert_eq!((view.nodes.len(), view.edges.len()), (1, 0));
}

// ---- details: failed and canceled paths -------------------------------------------------------------

#[test]
fn failed_and_canceled_runs() {
    let state = state_of(vec![
        want_create("W-1", &["out"], manual("bob")),
        job_run_buffer("JR-f", "//out", &["out"], &["W-1"]),
        job_run_heartbeat("JR-f"),
        job_run_failure("JR-f", "exit code 3"),
        want_create("W-2", &["other"], manual("bob")),
        job_run_buffer("JR-c", "//other", &["other"], &["W-2"]),
        job_run_cancel("JR-c", manual("carol")),
        want_cancel("W-2", manual("carol")),
    ]);
    let failed = job_run(&state, &JobRunParams { job_run_id: "JR-f".into() }).unwrap().data;
    assert_eq!((failed.status, failed.failure_reason.as_deref()), ("Failed", Some("exit code 3")));
    let statuses: Vec<&str> = failed.history.iter().map(|h| h.status).collect();
    assert_eq!(statuses, ["Queued", "Running", "Failed"]);
    assert!(failed.read.is_empty());
    let tree = fulfillment(&state, &FulfillmentParams { want_id: "W-1".into(), expand_retries: false }).unwrap().data;
    assert_eq!((tree.wants[0].status, tree.wants[0].jobs[0].status), ("Failed", "Failed"));
    let out = partition(&state, &PartitionParams { partition_ref: Some("out".into()), uuid: None }).unwrap().data;
    assert_eq!(out.state, "Failed");

    let canceled = job_run(&state, &JobRunParams { job_run_id: "JR-c".into() }).unwrap();
    let c = canceled.data.cancellation.as_ref().expect("a cancellation");
    assert_eq!(c.source, SourceView::Manual { user: "carol".into() });
    assert_eq!(canceled.data.status, "Canceled");
    let want = want(&state, &WantParams { want_id: "W-2".into() }).unwrap().data;
    assert_eq!(want.status, "Canceled");
    assert!(want.cancellation.is_some());
}

#[test]
fn dep_miss_detail_names_missing_deps_and_derivative_wants() {
    let state = demo();
    let response = job_run(&state, &JobRunParams { job_run_id: "JR-123".into() }).unwrap();
    assert_index_complete(&response);
    let d = response.data;
    assert_eq!(d.status, "DepMiss");
    assert_eq!(d.missing_deps[0].inputs, ["data/beta"]);
    assert_eq!(d.derivative_wants, ["W-002"]);
    assert_eq!(d.retry_chains[0].runs, ["JR-123", "JR-789"]);
    let w = want(&state, &WantParams { want_id: "W-002".into() }).unwrap();
    assert_index_complete(&w);
    assert_eq!(
        (w.data.triggered_by.as_deref(), w.data.parents.as_slice()),
        (Some("JR-123"), &["W-001".to_string()][..])
    );
    assert_eq!(w.data.source, SourceView::JobTriggered { job_run_id: "JR-123".into() });
}

// ---- errors -----------------------------------------------------------------------------------------

#[test]
fn unknown_ids_are_not_found_and_bad_params_name_the_field() {
    let state = demo();
    let not_found = |kind: &'static str, id: &str| ViewError::NotFound { kind, id: id.into() };
    let fp = FulfillmentParams { want_id: "W-404".into(), expand_retries: false };
    assert_eq!(fulfillment(&state, &fp).unwrap_err(), not_found("want", "W-404"));
    assert_eq!(want(&state, &WantParams { want_id: "W-404".into() }).unwrap_err(), not_found("want", "W-404"));
    assert_eq!(job_run(&state, &JobRunParams { job_run_id: "JR-0".into() }).unwrap_err(), not_found("job run", "JR-0"));
    let by_ref = PartitionParams { partition_ref: Some("data/none".into()), uuid: None };
    assert_eq!(partition(&state, &by_ref).unwrap_err(), not_found("ref", "data/none"));
    let nil = Uuid::nil().to_string();
    let by_uuid = LineageParams { uuid: Some(nil.clone()), ..LineageParams::default() };
    assert_eq!(lineage(&state, &by_uuid).unwrap_err(), not_found("partition", &nil));
    assert_eq!(not_found("job run", "x").wire_kind(), Some("jobRun"));

    let field = |e: ViewError| match e {
        ViewError::BadParams { field, .. } => field,
        other => panic!("expected BadParams, got {other:?}"),
    };
    let bad_uuid = PartitionParams { partition_ref: None, uuid: Some("not-a-uuid".into()) };
    assert_eq!(field(partition(&state, &bad_uuid).unwrap_err()), "uuid");
    assert_eq!(field(partition(&state, &PartitionParams::default()).unwrap_err()), "ref");
    let both = PartitionParams { partition_ref: Some("data/beta".into()), uuid: Some(nil) };
    assert_eq!(field(partition(&state, &both).unwrap_err()), "uuid");
    let beta = || LineageParams { partition_ref: Some("data/beta".into()), ..LineageParams::default() };
    assert_eq!(field(lineage(&state, &LineageParams { fanout_limit: 0, ..beta() }).unwrap_err()), "fanoutLimit");
    assert_eq!(field(lineage(&state, &LineageParams { depth: 1000, ..beta() }).unwrap_err()), "depth");
    assert_eq!(
        field(lineage(&state, &LineageParams { cursor: Some("sideways:3".into()), ..beta() }).unwrap_err()),
        "cursor"
    );
    let past = LineageParams { direction: Direction::Upstream, cursor: Some("up:2".into()), ..beta() };
    assert_eq!(field(lineage(&state, &past).unwrap_err()), "cursor", "data/beta's builder read one input");
    assert_eq!(field(job_run(&state, &JobRunParams::default()).unwrap_err()), "jobRunId");
    let list = |p: ListParams| list_wants(&state, &p).map(|_| ()).unwrap_err();
    assert_eq!(field(list(ListParams { limit: 0, ..ListParams::default() })), "limit");
    assert_eq!(field(list(ListParams { limit: 1001, ..ListParams::default() })), "limit");
    assert_eq!(field(list(ListParams { status: Some("Done".into()), ..ListParams::default() })), "status");
    assert_eq!(field(list(ListParams { cursor: Some("jobRuns:1".into()), ..ListParams::default() })), "cursor");
    assert_eq!(field(list(ListParams { cursor: Some("wants:99".into()), ..ListParams::default() })), "cursor");
    assert_eq!(field(list(ListParams { cursor: Some("garbage".into()), ..ListParams::default() })), "cursor");
    assert_eq!(list(ListParams { want_id: Some("W-9".into()), ..ListParams::default() }), not_found("want", "W-9"));
}

#[test]
fn params_deserialize_from_wire_json_with_defaults() {
    let p: LineageParams = serde_json::from_str(r#"{"ref": "data/beta"}"#).unwrap();
    assert_eq!(p, LineageParams { partition_ref: Some("data/beta".into()), ..LineageParams::default() });
    assert_eq!((p.depth, p.fanout_limit, p.direction), (3, 25, Direction::Both));
    let p: LineageParams = serde_json::from_str(
        r#"{"uuid": "x", "direction": "upstream", "upDepth": 1, "fanoutLimit": 5, "cursor": "up:5"}"#,
    )
    .unwrap();
    assert_eq!(
        (p.direction, p.up_depth, p.fanout_limit, p.cursor.as_deref()),
        (Direction::Upstream, Some(1), 5, Some("up:5"))
    );
    let f: FulfillmentParams = serde_json::from_str(r#"{"wantId": "W-001"}"#).unwrap();
    assert!(!f.expand_retries);
    let l: ListParams = serde_json::from_str(r#"{"jobLabel": "//x", "refPrefix": "data/"}"#).unwrap();
    assert_eq!((l.limit, l.job_label.as_deref(), l.ref_prefix.as_deref()), (100, Some("//x"), Some("data/")));
    assert!(serde_json::from_str::<LineageParams>(r#"{"direction": "sideways"}"#).is_err());
    // The `next` params of a truncation round-trip through JSON.
    let next = LineageParams { uuid: Some("u".into()), cursor: Some("down:25".into()), ..LineageParams::default() };
    let json = serde_json::to_string(&next).unwrap();
    assert_eq!(serde_json::from_str::<LineageParams>(&json).unwrap(), next);
}

// ---- lists ------------------------------------------------------------------------------------------

fn list_fixture() -> BuildState {
    let mut events = vec![want_create("W-1", &["data/x0"], manual("a"))];
    for i in 0..10 {
        let label = if i % 2 == 0 { "//even" } else { "//odd" };
        let prefix = if i < 5 { "data" } else { "logs" };
        events.extend(run(&format!("JR-{i}"), label, &[&format!("{prefix}/x{i}")], &["src"], &["W-1"]));
    }
    events.push(job_run_buffer("JR-q", "//even", &["data/queued"], &[]));
    state_of(events)
}

#[test]
fn list_filters() {
    let state = list_fixture();
    let ids = |p: ListParams| -> Vec<String> {
        list_job_runs(&state, &p).unwrap().data.items.into_iter().map(|d| d.job_run_id).collect()
    };
    assert_eq!(
        ids(ListParams { job_label: Some("//odd".into()), ..ListParams::default() }),
        ["JR-1", "JR-3", "JR-5", "JR-7", "JR-9"]
    );
    assert_eq!(ids(ListParams { status: Some("queued".into()), ..ListParams::default() }), ["JR-q"]);
    assert_eq!(
        ids(ListParams { ref_prefix: Some("logs/".into()), ..ListParams::default() }),
        ["JR-5", "JR-6", "JR-7", "JR-8", "JR-9"]
    );
    assert_eq!(ids(ListParams { want_id: Some("W-1".into()), ..ListParams::default() }).len(), 10);
    assert_eq!(
        ids(ListParams { job_label: Some("//even".into()), ref_prefix: Some("data/".into()), ..ListParams::default() }),
        ["JR-0", "JR-2", "JR-4", "JR-q"]
    );
    assert!(ids(ListParams { job_label: Some("//none".into()), ..ListParams::default() }).is_empty());

    let parts =
        list_partitions(&state, &ListParams { status: Some("External".into()), ..ListParams::default() }).unwrap();
    assert_eq!(parts.data.items.len(), 1);
    assert_eq!(parts.data.items[0].partition_ref, "src");
    assert_eq!(parts.index.partitions.len(), 11, "src and the 10 instances built from it");
    let built_for_w1 =
        list_partitions(&state, &ListParams { want_id: Some("W-1".into()), ..ListParams::default() }).unwrap();
    assert_eq!(built_for_w1.data.items.len(), 10);
    let wants = list_wants(&state, &ListParams { job_label: Some("//odd".into()), ..ListParams::default() }).unwrap();
    assert_eq!(wants.data.items.len(), 1);
    assert_eq!(wants.data.items[0].status, "Successful");
    assert_index_complete(&wants);
}

#[test]
fn list_cursors_page_through_everything_once() {
    let state = list_fixture();
    let mut seen = Vec::new();
    let mut params = ListParams { job_label: Some("//even".into()), limit: 2, ..ListParams::default() };
    let mut pages = 0;
    loop {
        let page = list_job_runs(&state, &params).unwrap();
        assert_index_complete(&page);
        assert!(page.data.items.len() <= 2);
        pages += 1;
        seen.extend(page.data.items.into_iter().map(|d| d.job_run_id));
        match page.data.next_cursor {
            Some(cursor) => params.cursor = Some(cursor),
            None => break,
        }
    }
    assert_eq!(seen, ["JR-0", "JR-2", "JR-4", "JR-6", "JR-8", "JR-q"]);
    assert_eq!(pages, 3, "a full last page has no next cursor");
    let all = list_partitions(&state, &ListParams { limit: 1000, ..ListParams::default() }).unwrap().data;
    assert_eq!((all.items.len(), all.next_cursor), (12, None));
}

#[test]
fn partition_detail_lists_canceled_taints_as_history() {
    let state = state_of(vec![
        job_run_buffer("JR-1", "//j", &["a"], &[]),
        job_run_success("JR-1", vec![]),
        taint_create("T-1", &["a"], manual("carol")),
        taint_cancel("T-1", manual("dave")),
    ]);
    let detail = partition(&state, &PartitionParams { partition_ref: Some("a".into()), uuid: None }).unwrap();
    assert_eq!(detail.data.state, "Live");
    let taints = &detail.data.taints;
    assert_eq!(taints.len(), 1);
    assert_eq!(taints[0].taint_id, "T-1");
    assert!(taints[0].canceled.is_some(), "canceled taints stay in the history");
}
