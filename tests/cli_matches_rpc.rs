//! DESIGN: `--format json` of a one-shot view "is exactly the RPC result". Checked per view against a
//! real `dbl serve` over stdio, on the same log.

mod common;

use common::*;
use serde_json::{json, Value};

fn cli_json(args: &[&str], log: &str) -> Value {
    let out = dbl().args(args).args(["--log", log, "--format", "json"]).output().expect("dbl runs");
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?} printed JSON: {e}"))
}

#[test]
fn every_view_prints_exactly_the_rpc_result() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("demo.bel");
    write_log(&log, &dbl::events::demo_events());
    let log_arg = log.to_str().unwrap();
    let mut client = LspClient::spawn(dir.path(), &["--log", log_arg]);
    client.initialize(json!({"capabilities": {}}));
    client.status_until(|s| s["eventsApplied"] == 15);

    let beta = "d1305448-db69-5062-8c23-837705b1ceef";
    let cases: Vec<(Vec<&str>, &str, Value)> = vec![
        (vec!["want", "W-001"], "databuild/fulfillment", json!({"wantId": "W-001"})),
        (
            vec!["want", "W-001", "--expand-retries"],
            "databuild/fulfillment",
            json!({"wantId": "W-001", "expandRetries": true}),
        ),
        (vec!["want", "W-002", "--detail"], "databuild/want", json!({"wantId": "W-002"})),
        (vec!["lineage", "data/beta"], "databuild/lineage", json!({"ref": "data/beta"})),
        (
            vec!["lineage", beta, "--up", "1", "--down", "2", "--fanout", "5"],
            "databuild/lineage",
            json!({"uuid": beta, "upDepth": 1, "downDepth": 2, "fanoutLimit": 5}),
        ),
        (vec!["job-run", "JR-789"], "databuild/jobRun", json!({"jobRunId": "JR-789"})),
        (vec!["partition", "data/gamma"], "databuild/partition", json!({"ref": "data/gamma"})),
        (vec!["partition", beta], "databuild/partition", json!({"uuid": beta})),
        (vec!["wants", "--limit", "1"], "databuild/listWants", json!({"limit": 1})),
        (vec!["job-runs", "--status", "Succeeded"], "databuild/listJobRuns", json!({"status": "Succeeded"})),
        (vec!["partitions", "--ref-prefix", "data/"], "databuild/listPartitions", json!({"refPrefix": "data/"})),
    ];
    for (args, method, params) in cases {
        let rpc = client.result(method, params.clone());
        assert_eq!(cli_json(&args, log_arg), rpc, "dbl {args:?} vs {method} {params}");
    }
    let status = client.result("databuild/status", json!({}));
    let cli_status = cli_json(&["status"], log_arg);
    for field in
        ["eventsApplied", "lastEventId", "bytesConsumed", "pendingBytes", "format", "digest", "counts", "lastError"]
    {
        assert_eq!(cli_status[field], status[field], "status field {field}");
    }
    assert_eq!(client.shutdown(), 0);
}
