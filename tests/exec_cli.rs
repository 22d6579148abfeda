//! `dbl exec` and `dbl emit` against the real binary: what they write is what databuild would.

use std::path::Path;
use std::process::Command;

use dbl::state::{BuildState, JobRunStatus, PartitionState, WantStatus};

fn dbl(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dbl")).args(args).output().expect("dbl runs")
}

/// `dbl exec` of one run building one partition, optionally for one want.
fn exec(
    log: &str,
    run: &str,
    label: &str,
    partition: &str,
    want: Option<&str>,
    command: &[&str],
) -> std::process::Output {
    let mut args = vec!["exec", "--log", log, "--job-run-id", run, "--job-label", label, "--partition", partition];
    if let Some(want) = want {
        args.extend(["--want", want]);
    }
    args.push("--");
    args.extend(command);
    dbl(&args)
}

fn load(path: &Path) -> BuildState {
    let (state, loaded) = dbl::cli::load_state(path).unwrap();
    assert_eq!(loaded.error, None);
    state
}

#[test]
fn a_want_fulfilled_through_a_dep_miss_and_retry() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("bel.jsonl");
    let log_arg = log.to_str().unwrap();

    let out = dbl(&[
        "emit",
        "--log",
        log_arg,
        "want-create",
        "--want-id",
        "W-1",
        "--partition",
        "data/gamma",
        "--user",
        "ann",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"W-1\""));

    // The first attempt finds data/beta missing.
    let missing = r#"echo 'DATABUILD_MISSING_DEPS_JSON:{"missing_deps":[{"impacted":[{"ref":"data/gamma"}],"missing":[{"ref":"data/beta"}]}]}'; exit 1"#;
    let out = exec(log_arg, "JR-1", "//jobs:gamma", "data/gamma", Some("W-1"), &["sh", "-c", missing]);
    assert_eq!(out.status.code(), Some(1));
    let out = dbl(&[
        "emit",
        "--log",
        log_arg,
        "want-create",
        "--want-id",
        "W-2",
        "--partition",
        "data/beta",
        "--triggered-by",
        "JR-1",
    ]);
    assert!(out.status.success());

    let beta = r#"echo building; echo 'DATABUILD_DEP_READ_JSON:{"read_deps":[{"impacted":[{"ref":"data/beta"}],"read":[{"ref":"data/alpha"}]}]}'"#;
    let out = exec(log_arg, "JR-2", "//jobs:beta", "data/beta", Some("W-2"), &["sh", "-c", beta]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "building\n", "report lines are consumed, others pass through");

    let gamma = r#"echo 'DATABUILD_DEP_READ_JSON:{"read_deps":[{"read":[{"ref":"data/beta"},{"ref":"data/alpha"}]}]}'"#;
    let out = exec(log_arg, "JR-3", "//jobs:gamma", "data/gamma", Some("W-1"), &["sh", "-c", gamma]);
    assert!(out.status.success());

    let state = load(&log);
    assert_eq!(state.diagnostics(), &[]);
    let status = |id: &str| state.job_run(state.find_job_run(id).unwrap()).status;
    assert_eq!(
        [status("JR-1"), status("JR-2"), status("JR-3")],
        [JobRunStatus::DepMiss, JobRunStatus::Succeeded, JobRunStatus::Succeeded]
    );
    let w1 = state.find_want("W-1").unwrap();
    assert_eq!(state.want(w1).status, WantStatus::Successful);
    assert_eq!(state.want(w1).children, vec![state.find_want("W-2").unwrap()]);
    let jr3 = state.job_run(state.find_job_run("JR-3").unwrap());
    let read: Vec<&str> = state.reads(jr3).map(|(r, _)| state.ref_name(r)).collect();
    assert_eq!(read, ["data/beta", "data/alpha"]);
    let beta_instance = jr3.read_partitions[0];
    assert_eq!(beta_instance, state.job_run(state.find_job_run("JR-2").unwrap()).outputs[0]);
    let history: Vec<_> = jr3.history().map(|h| h.status).collect();
    assert_eq!(history, [JobRunStatus::Queued, JobRunStatus::Running, JobRunStatus::Succeeded]);
}

#[test]
fn failures_and_bad_reports_are_recorded_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("bel");
    let log_arg = log.to_str().unwrap();
    let out = exec(log_arg, "JR-1", "//j", "p", None, &["sh", "-c", "exit 3"]);
    assert_eq!(out.status.code(), Some(3));
    let bad = "echo 'DATABUILD_DEP_READ_JSON:{not json'";
    let out = exec(log_arg, "JR-2", "//j", "q", None, &["sh", "-c", bad]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("stdout line 1: malformed DATABUILD_DEP_READ_JSON"));
    let out = exec(log_arg, "JR-3", "//j", "r", None, &["/nonexistent/job"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("could not start /nonexistent/job"));

    let state = load(&log);
    let run = |id: &str| state.job_run(state.find_job_run(id).unwrap()).clone();
    assert_eq!(run("JR-1").failure_reason(), Some("exit code 3"));
    assert!(run("JR-2").failure_reason().unwrap().contains("malformed DATABUILD_DEP_READ_JSON"));
    assert_eq!(run("JR-3").status, JobRunStatus::Failed);
    let p = state.current_instance(state.ref_id("p").unwrap()).unwrap();
    assert_eq!(state.partition(p).state, PartitionState::Failed);
}

#[test]
fn taints_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("bel");
    let log_arg = log.to_str().unwrap();
    assert!(exec(log_arg, "JR-1", "//j", "p", None, &["true"]).status.success());
    assert!(dbl(&[
        "emit",
        "--log",
        log_arg,
        "taint-create",
        "--taint-id",
        "T-1",
        "--partition",
        "p",
        "--comment",
        "bad rows"
    ])
    .status
    .success());
    let state = load(&log);
    let p = state.current_instance(state.ref_id("p").unwrap()).unwrap();
    assert_eq!(state.partition(p).state, PartitionState::Tainted);
    assert!(dbl(&["emit", "--log", log_arg, "taint-cancel", "--taint-id", "T-1"]).status.success());
    let state = load(&log);
    assert_eq!(state.partition(p).state, PartitionState::Live);
    let out = dbl(&["emit", "--log", log_arg, "taint-create", "--taint-id", "T-2"]);
    assert!(!out.status.success(), "a taint needs partitions");
}

#[test]
fn several_partitions_after_one_flag_or_repeated_flags() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("bel");
    let log_arg = log.to_str().unwrap();
    let out = dbl(&[
        "exec",
        "--log",
        log_arg,
        "--job-run-id",
        "JR-1",
        "--job-label",
        "//j",
        "--partition",
        "a",
        "b",
        "--partition",
        "c",
        "--want",
        "W-1",
        "W-2",
        "--",
        "true",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let state = load(&log);
    let run = state.job_run(state.find_job_run("JR-1").unwrap());
    let built: Vec<&str> = run.outputs.iter().map(|&p| state.ref_name(state.partition(p).partition_ref)).collect();
    assert_eq!(built, ["a", "b", "c"]);
    assert_eq!(run.wants.len(), 2);
}

#[test]
fn emit_takes_log_before_or_after_the_event_name() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("bel.jsonl");
    let log_arg = log.to_str().unwrap();
    let out = dbl(&["emit", "want-create", "--log", log_arg, "--id", "W-1", "--ref", "a", "b", "--user", "ann"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let line = String::from_utf8(out.stdout).unwrap();
    assert!(line.starts_with("{\"timestamp\":") && line.contains("\"event_id\":1,"), "{line}");
    let out = dbl(&["emit", "--log", log_arg, "want-cancel", "--want-id", "W-1"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = dbl(&["emit", "want-cancel", "--want-id", "W-1"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--log PATH is required"));
    let state = load(&log);
    let w = state.find_want("W-1").unwrap();
    assert_eq!(state.want(w).refs.len(), 2);
    assert_eq!(state.want(w).status, WantStatus::Canceled);
}
