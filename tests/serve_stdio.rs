//! `dbl serve` over stdio, spawned as a real process: LSP lifecycle, framing errors, the methods, and
//! following a log that grows, appears late, is truncated or replaced.

mod common;

use std::io::Write;
use std::time::Duration;

use common::*;
use dbl::events::{self, EventSeq};
use serde_json::{json, Value};

fn demo_log(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("demo.bel");
    write_log(&path, &events::demo_events());
    path
}

fn started(dir: &std::path::Path, log: &std::path::Path) -> LspClient {
    let mut client = LspClient::spawn(dir, &["--stdio", "--log", log.to_str().unwrap(), "--poll-ms", "20"]);
    let result = client.initialize(json!({"processId": null, "rootUri": null, "capabilities": {}}));
    assert_eq!(result["serverInfo"]["name"], "dbl");
    client
}

#[test]
fn lifecycle_codes_and_exit_status() {
    let dir = tempfile::tempdir().unwrap();
    let log = demo_log(dir.path());
    let mut client = LspClient::spawn(dir.path(), &["--log", log.to_str().unwrap()]);
    let error = client.error("databuild/status", json!({}));
    assert_eq!(error["code"], -32002, "{error}");
    assert!(error["message"].as_str().unwrap().contains("initialize"), "{error}");
    client.notify("textDocument/didOpen", json!({})); // dropped before initialize, no answer
    let result = client.initialize(json!({"capabilities": {}}));
    for capability in
        ["hoverProvider", "definitionProvider", "referencesProvider", "codeLensProvider", "textDocumentSync"]
    {
        assert!(!result["capabilities"][capability].is_null(), "{capability} missing: {result}");
    }
    assert_eq!(result["serverInfo"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(client.error("initialize", json!({"capabilities": {}}))["code"], -32600);
    client.notify("$/setTrace", json!({"value": "off"})); // unknown $/ notification: ignored
    assert_eq!(client.error("no/such/method", json!({}))["code"], -32601);
    assert_eq!(client.result("shutdown", Value::Null), Value::Null);
    let error = client.error("databuild/status", json!({}));
    assert_eq!(error["code"], -32600, "{error}");
    assert!(error["message"].as_str().unwrap().contains("shutdown"), "{error}");
    client.notify("exit", Value::Null);
    assert_eq!(client.finish(), 0);

    // exit without shutdown: 1.
    let mut client = LspClient::spawn(dir.path(), &["--log", log.to_str().unwrap()]);
    client.initialize(json!({"capabilities": {}}));
    client.notify("exit", Value::Null);
    assert_eq!(client.finish(), 1);

    // End of input without shutdown: 1.
    let mut client = LspClient::spawn(dir.path(), &[]);
    client.close_stdin();
    assert_eq!(client.finish(), 1);
}

#[test]
fn malformed_frames_are_answered_and_the_stream_stays_in_sync() {
    let dir = tempfile::tempdir().unwrap();
    let log = demo_log(dir.path());
    let mut client = LspClient::spawn(dir.path(), &["--log", log.to_str().unwrap(), "--max-frame-bytes", "2000"]);
    client.initialize(json!({"capabilities": {}}));
    let error_with_null_id = |m: &Value| m["id"].is_null() && m.get("error").is_some();

    client.send_raw(b"Content-Length: 8\r\n\r\n{\"jsonrp");
    let m = client.wait_for(error_with_null_id);
    assert_eq!(m["error"]["code"], -32700, "{m}");
    assert!(m["error"]["message"].as_str().unwrap().contains("not valid JSON"), "{m}");

    client.send_raw(b"Content-Length: twelve\r\n\r\n");
    let m = client.wait_for(error_with_null_id);
    assert_eq!(m["error"]["code"], -32700, "{m}");
    assert!(m["error"]["message"].as_str().unwrap().contains("Content-Length \"twelve\" is not a number"), "{m}");

    let big = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":99,\"method\":\"databuild/status\",\"params\":{{\"x\":\"{}\"}}}}",
        "a".repeat(3000)
    );
    client.send_raw(format!("Content-Length: {}\r\n\r\n{big}", big.len()).as_bytes());
    let m = client.wait_for(error_with_null_id);
    assert_eq!(m["error"]["code"], -32600, "{m}");
    assert!(m["error"]["message"].as_str().unwrap().contains("exceeds the maximum of 2000 bytes"), "{m}");

    // A header block with no end in sight: refused, and its body (declared in it) skipped.
    let request = r#"{"jsonrpc":"2.0","id":98,"method":"databuild/status"}"#;
    let padding = "p".repeat(9000);
    client.send_raw(format!("X-Padding: {padding}\r\nContent-Length: {}\r\n\r\n{request}", request.len()).as_bytes());
    let m = client.wait_for(error_with_null_id);
    assert_eq!(m["error"]["code"], -32700, "{m}");
    assert!(m["error"]["message"].as_str().unwrap().contains("no blank line within 8192 bytes of header"), "{m}");

    client.send(&json!([{"jsonrpc": "2.0", "id": 5, "method": "databuild/status"}]));
    assert_eq!(client.wait_for(error_with_null_id)["error"]["code"], -32600);
    client.send(&json!({"id": 6, "method": "databuild/status"}));
    let m = client.wait_for(|m| m["id"] == 6);
    assert_eq!(m["error"]["code"], -32600, "{m}");
    assert!(m["error"]["message"].as_str().unwrap().contains("jsonrpc"), "{m}");

    // Still in sync: a normal request answers.
    let status = client.status_until(|s| s["eventsApplied"] == 15);
    assert_eq!(status["lastError"], Value::Null);
    assert_eq!(client.shutdown(), 0);
}

#[test]
fn status_subscribe_and_errors_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let events = events::demo_events();
    let log = dir.path().join("demo.bel");
    write_log(&log, &events[..10]);
    let mut client = started(dir.path(), &log);
    let status = client.status_until(|s| s["eventsApplied"] == 10 && s["loading"] == false);
    assert_eq!(status["format"], "bel");
    assert_eq!(status["logPath"], log.to_str().unwrap());
    assert_eq!(status["lastEventId"], 10);
    assert_eq!(status["bytesConsumed"], std::fs::metadata(&log).unwrap().len());
    assert_eq!(status["pendingBytes"], 0);
    assert_eq!(status["digest"], cold_digest(&log));

    let error = client.error("databuild/status", json!({"verbose": true}));
    assert_eq!(error["code"], -32602);
    assert_eq!(error["data"]["field"], "verbose", "{error}");
    let error = client.error("databuild/subscribe", json!({"refs": "data/beta"}));
    assert_eq!((error["code"].as_i64(), error["data"]["field"].as_str()), (Some(-32602), Some("refs")), "{error}");

    let sub = client.result("databuild/subscribe", json!({"refs": ["data/gamma"]}));
    let first = client.wait_for(|m| m["method"] == "databuild/lineageChanged");
    assert_eq!(first["params"]["subscription"], sub);
    assert_eq!(first["params"]["result"], json!({"kind": "subscribed", "lastEventId": 10, "loading": false}));
    append_log(&log, &events[10..]);
    let deadline = std::time::Instant::now() + TIMEOUT;
    let mut seen: Vec<Value> = Vec::new();
    while !seen.iter().any(|n| n["eventId"] == 15) {
        assert!(std::time::Instant::now() < deadline, "notices so far: {seen:?}");
        let m = client.wait_for(|m| m["method"] == "databuild/lineageChanged");
        seen.push(m["params"]["result"].clone());
    }
    let ids: Vec<u64> = seen.iter().map(|n| n["eventId"].as_u64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert!(ids.iter().all(|&id| id > 10), "{ids:?}");
    // Only changes touching data/gamma: JR-789's run and data/gamma's instance, not data/beta's builder.
    let text = serde_json::to_string(&seen).unwrap();
    assert!(text.contains(r#""entity":"partition""#) && text.contains(r#""ref":"data/gamma""#), "{text}");
    assert!(
        text.contains(r#""jobRunId":"JR-789","jobLabel":"//jobs:gamma","from":"Running","to":"Succeeded""#),
        "{text}"
    );
    assert!(!text.contains(r#""jobRunId":"JR-456","jobLabel""#), "{text}");

    assert_eq!(client.result("databuild/unsubscribe", json!([sub])), json!(true));
    assert_eq!(client.shutdown(), 0);
}

#[test]
fn every_view_method_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let log = demo_log(dir.path());
    let mut client = started(dir.path(), &log);
    client.status_until(|s| s["eventsApplied"] == 15);
    let beta_uuid = "d1305448-db69-5062-8c23-837705b1ceef";

    let tree = client.result("databuild/fulfillment", json!({"wantId": "W-001"}));
    assert_eq!(tree["data"]["wantId"], "W-001", "{tree}");
    assert!(tree["index"]["wants"]["W-002"].is_object(), "the derivative want is indexed: {tree}");
    let graph = client.result("databuild/lineage", json!({"ref": "data/beta", "direction": "both", "depth": 2}));
    assert!(graph["index"]["partitions"][beta_uuid].is_object(), "{graph}");
    assert!(graph["index"]["jobRuns"]["JR-789"].is_object(), "downstream reader indexed: {graph}");
    let run = client.result("databuild/jobRun", json!({"jobRunId": "JR-456"}));
    assert_eq!(run["data"]["jobRunId"], "JR-456", "{run}");
    assert!(run.to_string().contains(beta_uuid), "{run}");
    let partition = client.result("databuild/partition", json!({"uuid": beta_uuid}));
    assert!(partition["index"]["partitions"][beta_uuid].is_object(), "{partition}");
    let by_ref = client.result("databuild/partition", json!({"ref": "data/beta"}));
    assert!(by_ref.to_string().contains(beta_uuid), "{by_ref}");
    let want = client.result("databuild/want", json!({"wantId": "W-002"}));
    assert_eq!(want["data"]["wantId"], "W-002", "{want}");
    let wants = client.result("databuild/listWants", json!({"limit": 1}));
    assert_eq!(wants["data"]["items"].as_array().map(Vec::len), Some(1), "{wants}");
    let runs = client.result("databuild/listJobRuns", json!({"status": "Succeeded"}));
    assert_eq!(runs["data"]["items"].as_array().map(Vec::len), Some(2), "{runs}");
    let partitions = client.result("databuild/listPartitions", json!({}));
    assert!(partitions["data"]["items"].as_array().is_some_and(|p| p.len() >= 3), "{partitions}");

    // Not found: one code, data naming kind and id.
    for (method, params, kind, id) in [
        ("databuild/jobRun", json!({"jobRunId": "JR-404"}), "jobRun", "JR-404"),
        ("databuild/want", json!({"wantId": "W-404"}), "want", "W-404"),
        ("databuild/fulfillment", json!({"wantId": "W-404"}), "want", "W-404"),
        (
            "databuild/partition",
            json!({"uuid": "00000000-0000-0000-0000-000000000000"}),
            "partition",
            "00000000-0000-0000-0000-000000000000",
        ),
    ] {
        let error = client.error(method, params);
        assert_eq!(error["code"], -32004, "{method}: {error}");
        assert_eq!(error["data"], json!({"kind": kind, "id": id}), "{method}: {error}");
    }
    // Bad params name the field.
    let error = client.error("databuild/jobRun", json!({}));
    assert_eq!((error["code"].clone(), error["data"]["field"].clone()), (json!(-32602), json!("jobRunId")), "{error}");
    let error = client.error("databuild/lineage", json!({"ref": "data/beta", "depth": "deep"}));
    assert_eq!(error["data"]["field"], "depth", "{error}");
    let error = client.error("databuild/lineage", json!({"ref": "data/beta", "fanoutLimit": 0}));
    assert_eq!(
        (error["code"].clone(), error["data"]["field"].clone()),
        (json!(-32602), json!("fanoutLimit")),
        "{error}"
    );
    let error = client.error("databuild/want", json!(["W-001"]));
    assert!(error["message"].as_str().unwrap().contains("object"), "{error}");
    assert_eq!(client.shutdown(), 0);
}

#[test]
fn a_log_that_appears_late_in_pieces_split_mid_record_is_all_applied() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("later.bel");
    let mut client = started(dir.path(), &log);
    let status = client.status_until(|s| s["waitingForFile"] == true);
    assert_eq!(status["eventsApplied"], 0);
    let bytes = encode(&events::demo_events());
    let mut file = std::fs::File::create(&log).unwrap();
    // Pieces of 7 bytes: nearly every record is split; the daemon must wait for each rest.
    for piece in bytes.chunks(7) {
        file.write_all(piece).unwrap();
        file.flush().unwrap();
    }
    let status = client.status_until(|s| s["eventsApplied"] == 15);
    assert_eq!(status["pendingBytes"], 0);
    assert_eq!(status["digest"], cold_digest(&log));

    // Half a record stays pending, not an error.
    let mut seq = EventSeq::after(15, 1_750_000_100_000);
    let more = encode(&[seq.next(10, events::want_create("W-100", &["data/delta"], events::manual("bob")))]);
    file.write_all(&more[..more.len() / 2]).unwrap();
    file.flush().unwrap();
    let status = client.status_until(|s| s["pendingBytes"].as_u64() == Some((more.len() / 2) as u64));
    assert_eq!((status["eventsApplied"].as_u64(), &status["lastError"]), (Some(15), &Value::Null));
    file.write_all(&more[more.len() / 2..]).unwrap();
    file.flush().unwrap();
    client.status_until(|s| s["eventsApplied"] == 16 && s["pendingBytes"] == 0);
    assert_eq!(client.shutdown(), 0);
}

#[test]
fn truncate_and_rewrite_and_replace_by_rename_rebuild_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let events = events::demo_events();
    let log = demo_log(dir.path());
    let mut client = started(dir.path(), &log);
    client.status_until(|s| s["eventsApplied"] == 15);
    client.result("databuild/subscribe", json!({}));

    // Truncate and rewrite in place with fewer events.
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&log)
        .unwrap()
        .write_all(&encode(&events[..6]))
        .unwrap();
    let status = client.status_until(|s| s["resets"] == 1 && s["eventsApplied"] == 6 && s["loading"] == false);
    assert_eq!(status["digest"], cold_digest(&log));
    let reset = client.wait_for(|m| m["params"]["result"]["kind"] == "reset");
    assert_eq!(reset["params"]["result"]["reason"], "truncated", "{reset}");
    // Truncating and writing are two steps a reader may see apart (docs/PROTOCOL.md): either the reset
    // already covers the rewritten events, or they follow it as ordinary changes up to the last one.
    if reset["params"]["result"]["lastEventId"] != 6 {
        let last =
            client.wait_for(|m| m["params"]["result"]["kind"] == "changed" && m["params"]["result"]["eventId"] == 6);
        assert_eq!(last["params"]["result"]["changes"].as_array().map(Vec::is_empty), Some(false), "{last}");
    }

    // Replace by rename with a different, longer log.
    let next = dir.path().join("next.bel");
    write_log(&next, &events[..12]);
    std::fs::rename(&next, &log).unwrap();
    let status = client.status_until(|s| s["resets"] == 2 && s["eventsApplied"] == 12 && s["loading"] == false);
    assert_eq!(status["digest"], cold_digest(&log));
    let reset = client.wait_for(|m| m["params"]["result"]["kind"] == "reset");
    assert_eq!(reset["params"]["result"]["reason"], "replaced", "{reset}");
    assert_eq!(client.shutdown(), 0);
}

#[test]
fn a_corrupt_record_is_reported_and_the_state_before_it_kept_until_the_log_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let events = events::demo_events();
    let log = dir.path().join("bad.bel");
    let mut bytes = encode(&events[..8]);
    let bad_at = bytes.len();
    bytes.extend_from_slice(&[5, 0xff, 0xff, 0xff, 0xff, 0xff]);
    bytes.extend_from_slice(&encode(&events[8..]));
    std::fs::write(&log, &bytes).unwrap();
    let mut client = started(dir.path(), &log);
    let status = client.status_until(|s| !s["lastError"].is_null());
    assert_eq!(status["eventsApplied"], 8);
    assert_eq!(status["lastError"]["offset"], bad_at);
    assert!(status["lastError"]["message"].as_str().unwrap().contains(&format!("byte offset {bad_at}")), "{status}");
    let shown = client.wait_for(|m| m["method"] == "window/showMessage");
    assert_eq!(shown["params"]["type"], 1);
    assert!(shown["params"]["message"].as_str().unwrap().contains(&format!("byte offset {bad_at}")), "{shown}");
    assert!(client.stderr().contains(&format!("byte offset {bad_at}")), "stderr: {}", client.stderr());

    // Still serving; a replaced log clears the error.
    let next = dir.path().join("good.bel");
    write_log(&next, &events);
    std::fs::rename(&next, &log).unwrap();
    let status = client.status_until(|s| s["eventsApplied"] == 15 && s["lastError"].is_null());
    assert_eq!(status["digest"], cold_digest(&log));
    assert_eq!(client.shutdown(), 0);
}

/// 2,500 small jobs: want, buffer, queue, success reading the previous job's output.
pub fn burst(n_jobs: usize, seq: &mut EventSeq) -> Vec<dbl::proto::DataBuildEvent> {
    let mut out = Vec::with_capacity(n_jobs * 4);
    for i in 0..n_jobs {
        let (want, run, r) = (format!("W-{i}"), format!("JR-{i}"), format!("data/p{i}"));
        out.push(seq.next(1, events::want_create(&want, &[&r], events::manual("load"))));
        out.push(seq.next(1, events::job_run_buffer(&run, "//jobs:p", &[&r], &[&want])));
        out.push(seq.next(1, events::job_run_queue(&run)));
        let read = format!("data/p{}", i.saturating_sub(1));
        out.push(
            seq.next(1, events::job_run_success(&run, events::read_deps(&[(&[r.as_str()][..], &[read.as_str()][..])]))),
        );
    }
    out
}

#[test]
fn a_burst_of_ten_thousand_appended_events_all_lands() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("burst.bel");
    std::fs::write(&log, b"").unwrap();
    let mut client = started(dir.path(), &log);
    client.status_until(|s| s["loading"] == false);
    let events = burst(2500, &mut EventSeq::starting_at(1_750_000_000_000));
    assert_eq!(events.len(), 10_000);
    // Appended in many writes of uneven size, as a busy writer would.
    let bytes = encode(&events);
    let mut file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    for piece in bytes.chunks(4093) {
        file.write_all(piece).unwrap();
    }
    let status = client.status_until(|s| s["eventsApplied"] == 10_000);
    assert_eq!(status["lastEventId"], 10_000);
    assert_eq!(status["digest"], cold_digest(&log));
    assert_eq!(client.shutdown(), 0);
}

#[test]
fn log_path_from_initialization_options() {
    let dir = tempfile::tempdir().unwrap();
    let log = demo_log(dir.path());
    let mut client = LspClient::spawn(dir.path(), &["--stdio"]);
    client.initialize(json!({"capabilities": {}, "initializationOptions": {"eventLog": log.to_str().unwrap()}}));
    let status = client.status_until(|s| s["eventsApplied"] == 15);
    assert_eq!(status["logPath"], log.to_str().unwrap());
    assert_eq!(client.shutdown(), 0);
}

#[test]
fn every_method_the_server_registers_is_documented() {
    let output = dbl().args(["serve", "--list-methods"]).output().unwrap();
    assert!(output.status.success());
    let names = String::from_utf8(output.stdout).unwrap();
    let names: Vec<&str> = names.lines().collect();
    for expected in
        ["databuild/status", "databuild/subscribe", "databuild/unsubscribe", "databuild/lineageChanged", "initialize"]
    {
        assert!(names.contains(&expected), "{expected} not listed: {names:?}");
    }
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/PROTOCOL.md")).unwrap();
    let undocumented: Vec<&&str> = names.iter().filter(|n| !doc.contains(&format!("`{n}`"))).collect();
    assert!(undocumented.is_empty(), "registered but not in docs/PROTOCOL.md: {undocumented:?}");
}

#[test]
fn bad_command_lines_say_what_is_wrong() {
    let output = dbl().args(["serve", "--listen", "0.0.0.0:0"]).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not a loopback address") && stderr.contains("--allow-remote"), "{stderr}");
    let output = dbl().args(["serve", "--poll-ms", "0"]).output().unwrap();
    assert!(String::from_utf8_lossy(&output.stderr).contains("--poll-ms must be at least 1"));
    assert!(output.stdout.is_empty());
    let _ = Duration::ZERO;
}
