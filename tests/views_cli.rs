//! The one-shot view commands as a user runs them: exit codes, errors naming what is wrong, formats.

use std::path::Path;
use std::process::{Command, Output};

fn dbl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dbl")).args(args).env("NO_COLOR", "1").output().expect("run dbl")
}

fn demo_log(dir: &Path) -> String {
    let log = dir.join("demo.bel");
    let out = dbl(&["demo", "--out", log.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("W-001 \"data/gamma\" [Successful]"), "{stdout}");
    assert!(!stdout.contains('\x1b'), "no colour when stdout is not a terminal");
    log.to_str().unwrap().to_owned()
}

#[test]
fn unknown_ids_fail_naming_the_id() {
    let dir = tempfile::tempdir().unwrap();
    let log = demo_log(dir.path());
    for (args, expected) in [
        (vec!["want", "W-404"], "no such want: W-404"),
        (vec!["job-run", "JR-404"], "no such job run: JR-404"),
        (vec!["partition", "data/nope"], "no such ref: data/nope"),
        (
            vec!["lineage", "00000000-0000-0000-0000-000000000000"],
            "no such partition: 00000000-0000-0000-0000-000000000000",
        ),
        (vec!["wants", "--status", "Done"], "status"),
        (vec!["wants", "--format", "dot"], "list"),
    ] {
        let mut full = args.clone();
        full.extend(["--log", &log]);
        let out = dbl(&full);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn formats_and_targets() {
    let dir = tempfile::tempdir().unwrap();
    let log = demo_log(dir.path());
    let run = |args: &[&str]| {
        let mut full = args.to_vec();
        full.extend(["--log", &log]);
        let out = dbl(&full);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let json: serde_json::Value = serde_json::from_str(&run(&["job-run", "JR-789", "--format", "json"])).unwrap();
    assert_eq!(json["data"]["status"], "Succeeded");
    assert_eq!(json["index"]["wants"]["W-001"]["status"], "Successful");
    // A UUID names exactly that instance: JR-123's dep-missed build of data/gamma, not the current one.
    let old = run(&["partition", "9f063420-802a-5225-a3a7-316815e43eb4"]);
    assert!(old.contains("data/gamma [DepMiss, uuid:9f063420]"), "{old}");
    assert!(run(&["lineage", "data/beta", "--format", "dot"]).starts_with("digraph \"lineage\" {"));
    assert!(run(&["lineage", "data/beta", "--up", "0", "--format", "mermaid"]).starts_with("flowchart LR"));
    let page = run(&["job-runs", "--limit", "2"]);
    assert!(page.contains("next page: --cursor jobRuns:2"), "{page}");
    assert!(run(&["job-runs", "--cursor", "jobRuns:2"]).contains("JR-789"));
}

#[test]
fn a_reader_that_closes_stdout_early_is_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let log = demo_log(dir.path());
    let commands: [&[&str]; 4] = [
        &["status", "--no-daemon", "--log", &log],
        &["status", "--no-daemon", "--format", "json", "--log", &log],
        &["wants", "--no-daemon", "--log", &log],
        &["serve", "--list-methods"],
    ];
    for args in commands {
        let mut child = Command::new(env!("CARGO_BIN_EXE_dbl"))
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run dbl");
        // The reader goes before anything is written, as `| head -c0` would.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{args:?}: {stderr}");
    }
}
