//! `dbl tail`: lineage changes printed as they land, without a daemon.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use dbl::events;

fn wait_output(mut child: std::process::Child) -> std::process::Output {
    let deadline = Instant::now() + TIMEOUT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("dbl tail did not stop: {:?}", child.wait_with_output().unwrap());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn json_lines_of_new_changes_in_event_order() {
    let dir = tempfile::tempdir().unwrap();
    let all = events::demo_events();
    let log = dir.path().join("demo.bel");
    write_log(&log, &all[..10]);
    let stderr_path = dir.path().join("stderr.txt");
    let child = dbl()
        .args(["tail", "--log", log.to_str().unwrap(), "--format", "json", "--poll-ms", "20", "--max-events", "2"])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    // The events already in the log are loaded silently; wait for that before appending.
    let deadline = Instant::now() + TIMEOUT;
    while !std::fs::read_to_string(&stderr_path).unwrap().contains("(10 events loaded)") {
        assert!(Instant::now() < deadline, "{}", std::fs::read_to_string(&stderr_path).unwrap());
        std::thread::sleep(Duration::from_millis(10));
    }
    append_log(&log, &all[10..]);
    let output = wait_output(child);
    assert!(output.status.success());
    let lines: Vec<serde_json::Value> =
        String::from_utf8(output.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let ids: Vec<u64> = lines.iter().map(|l| l["eventId"].as_u64().unwrap()).collect();
    assert!(ids[0] > 10 && ids[0] < ids[1], "{ids:?}");
    assert_eq!(lines[0]["kind"], "changed");
    let entities: Vec<&str> =
        lines[0]["changes"].as_array().unwrap().iter().map(|c| c["entity"].as_str().unwrap()).collect();
    assert!(entities.contains(&"consumerEdge") && entities.contains(&"jobRun"), "{entities:?}");
}

#[test]
fn text_from_start_filtered_by_ref_without_colour_off_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("demo.bel");
    write_log(&log, &events::demo_events());
    let output = dbl()
        .args(["tail", "--log", log.to_str().unwrap(), "--from-start", "--ref", "data/beta", "--max-events", "3"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(!text.contains('\x1b'), "no colour when stdout is not a terminal: {text:?}");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 3, "{text}");
    assert!(text.contains("partition data/beta [d1305448] (new) → Building"), "{text}");
    assert!(!text.contains("data/gamma ["), "filtered to data/beta: {text}");
}
