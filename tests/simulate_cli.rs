//! `dbl simulate` against the real binary: the log it writes loads cleanly, in both formats.

use std::process::Command;

fn dbl(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dbl")).args(args).output().expect("dbl runs")
}

#[test]
fn a_simulated_log_loads_with_every_event_applied_and_no_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut digests = Vec::new();
    for format in ["bel", "jsonl"] {
        let path = dir.path().join(format!("sim.{format}"));
        let path = path.to_str().unwrap();
        let out = dbl(&["simulate", "--out", path, "--events", "5000", "--seed", "3", "--format", format]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "dbl simulate failed: {stderr}");
        assert!(stderr.contains("wrote 5000 events") && stderr.contains(format), "summary line: {stderr}");

        let out = dbl(&["status", "--log", path, "--format", "json"]);
        assert!(out.status.success(), "dbl status failed: {}", String::from_utf8_lossy(&out.stderr));
        let status: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status prints JSON");
        assert_eq!(status["eventsApplied"], 5000, "{status}");
        assert_eq!(status["lastEventId"], 5000, "{status}");
        assert_eq!(status["format"], format, "{status}");
        assert_eq!(status["lastError"], serde_json::Value::Null, "{status}");
        assert_eq!(status["pendingBytes"], 0, "{status}");
        assert_eq!(status["diagnosticCount"], 0, "{status}");
        digests.push(status["digest"].as_str().expect("a digest string").to_owned());
    }
    assert_eq!(digests[0], digests[1], "the binary and JSON forms of one seed give different states");
}

#[test]
fn a_rerun_overwrites_with_identical_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sim.bel");
    let path = path.to_str().unwrap();
    let run = || {
        let out = dbl(&["simulate", "--out", path, "--events", "2000", "--seed", "9"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        std::fs::read(path).unwrap()
    };
    let first = run();
    assert!(!first.is_empty());
    assert_eq!(first, run(), "the same seed must give the same bytes, and a rerun must not append");
}

#[test]
fn a_bad_format_or_path_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = dbl(&["simulate", "--out", dir.path().join("x").to_str().unwrap(), "--events", "10", "--format", "xml"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("xml"), "{}", String::from_utf8_lossy(&out.stderr));

    let missing = dir.path().join("no/such/dir/sim.bel");
    let out = dbl(&["simulate", "--out", missing.to_str().unwrap(), "--events", "10"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot create") && stderr.contains("no/such/dir"), "{stderr}");
}
