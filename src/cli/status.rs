//! `dbl status`: what `databuild/status` says about a log, from the shared daemon for it when one runs,
//! else from a load of the log. Both print through [`status_text`], so the text is the same bytes; only
//! the line on stderr differs (how long the load took, or which daemon answered).

use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::Value;

use crate::daemon::ask::DaemonSession;
use crate::live::{LastError, TailStatus};
use crate::protocol::status_of;

use super::load_source;

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The build event log: a file (binary BEL or JSON lines), a SQLite database, or a postgres:// URL.
    #[arg(long)]
    pub log: PathBuf,
    /// `text` for people, `json` for tools.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
    /// Load the log in this process even if a shared daemon serves it.
    #[arg(long)]
    pub no_daemon: bool,
}

pub fn status(args: &StatusArgs) -> anyhow::Result<()> {
    let log = args.log.to_string_lossy();
    if !args.no_daemon {
        if let Some(mut daemon) = DaemonSession::open(&log)? {
            let started = std::time::Instant::now();
            daemon.wait_loaded()?;
            let mut report = daemon.call("databuild/status", serde_json::json!({}))?;
            let pid = daemon.pid;
            daemon.end();
            // The log as it was named here, as a load of it would show it.
            let shown = crate::log::source::SourceSpec::parse(&log)?.display();
            report["logPath"] = shown.into();
            print(args, &report)?;
            if args.format != "json" {
                let pid = pid.map_or_else(|| "?".to_string(), |p| p.to_string());
                eprintln!("answered by the shared daemon (pid {pid}) in {:.3}s", started.elapsed().as_secs_f64());
            }
            return Ok(());
        }
    }
    let started = std::time::Instant::now();
    let (state, loaded) = load_source(&log)?;
    let elapsed = started.elapsed();
    let tail = TailStatus {
        log_path: Some(loaded.shown.clone()),
        format: loaded.format,
        table: loaded.table.clone(),
        last_key: loaded.position.last_key,
        bytes_consumed: loaded.position.consumed_bytes,
        pending_bytes: loaded.position.pending_bytes,
        file_bytes: loaded.file_bytes,
        last_error: loaded.error.as_ref().map(|e| LastError { message: e.to_string(), offset: e.offset, line: e.line }),
        ..TailStatus::default()
    };
    let report = status_of(&state, &tail);
    print(args, &report)?;
    if args.format != "json" {
        let secs = elapsed.as_secs_f64();
        let events = state.events_applied();
        eprint!("loaded in {secs:.3}s ({:.0} events/s)", events as f64 / secs.max(1e-9));
        match peak_rss_bytes() {
            Some(peak) => {
                eprintln!(", peak RSS {} MiB ({:.0} bytes/event)", peak >> 20, peak as f64 / events.max(1) as f64)
            }
            None => eprintln!(),
        }
    }
    super::end_with(state);
    Ok(())
}

fn print(args: &StatusArgs, report: &Value) -> anyhow::Result<()> {
    if args.format == "json" {
        super::print_out(&format!("{}\n", serde_json::to_string_pretty(report)?))
    } else {
        super::print_out(&status_text(report))
    }
}

/// `dbl status`'s text for a `databuild/status` result: the same for a daemon's answer and a cold load's.
pub fn status_text(report: &Value) -> String {
    let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
    let number = |v: &Value| v.as_u64().unwrap_or(0);
    let mut out = String::new();
    let format = report["format"].as_str().unwrap_or("unknown yet");
    let _ = writeln!(out, "log        {} ({format})", text(&report["logPath"]));
    let applied = number(&report["eventsApplied"]);
    match report["table"].as_object() {
        Some(table) => {
            let last_key = match &report["lastKey"] {
                Value::Null => "none".to_string(),
                key => text(key),
            };
            let _ = writeln!(
                out,
                "events     {applied} applied, from table {} (key {}, column {}), last key {last_key}",
                text(&table["name"]),
                text(&table["key"]),
                text(&table["column"]),
            );
        }
        None => {
            let _ = writeln!(
                out,
                "events     {applied} applied, {} bytes consumed, {} bytes pending",
                number(&report["bytesConsumed"]),
                number(&report["pendingBytes"])
            );
        }
    }
    let counts = &report["counts"];
    let _ = writeln!(
        out,
        "entities   {} wants, {} job runs, {} partition instances of {} refs, {} taints",
        number(&counts["wants"]),
        number(&counts["jobRuns"]),
        number(&counts["partitions"]),
        number(&counts["refs"]),
        number(&counts["taints"])
    );
    let _ = writeln!(out, "digest     {}", text(&report["digest"]));
    let _ = writeln!(out, "diagnostics {}", number(&report["diagnosticCount"]));
    let recent = report["recentDiagnostics"].as_array().map(Vec::as_slice).unwrap_or_default();
    for d in &recent[recent.len().saturating_sub(5)..] {
        let _ = writeln!(
            out,
            "  event {} at byte {}: {}",
            number(&d["eventId"]),
            number(&d["offset"]),
            text(&d["message"])
        );
    }
    match report["lastError"]["message"].as_str() {
        Some(message) => {
            let _ = writeln!(out, "last error {message}");
        }
        None => {
            let _ = writeln!(out, "last error none");
        }
    }
    out
}

/// The process's peak resident set size (Linux `VmHWM`), for the load figures in BENCHMARKS.md.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_of_a_status() {
        let mut state = crate::state::BuildState::new();
        for (i, event) in crate::events::demo_events().iter().enumerate() {
            state.apply(event, i as u64 * 100);
        }
        let tail = TailStatus {
            log_path: Some("demo.bel".into()),
            format: Some("bel"),
            bytes_consumed: 1500,
            ..TailStatus::default()
        };
        let text = status_text(&status_of(&state, &tail));
        let expected = format!(
            "log        demo.bel (bel)\n\
             events     15 applied, 1500 bytes consumed, 0 bytes pending\n\
             entities   2 wants, 3 job runs, 4 partition instances of 3 refs, 0 taints\n\
             digest     {}\n\
             diagnostics 0\n\
             last error none\n",
            state.digest()
        );
        assert_eq!(text, expected);

        // A table source, the five most recent diagnostics, a bad record.
        let diagnostics: Vec<Value> = (1..=7)
            .map(|i| serde_json::json!({"eventId": i, "offset": i * 10, "message": format!("problem {i}")}))
            .collect();
        let report = serde_json::json!({
            "logPath": "bel.sqlite", "format": "sqlite", "table": {"name": "events", "key": "id", "column": "event"},
            "lastKey": 42, "eventsApplied": 7, "counts": {"wants": 1, "jobRuns": 0, "partitions": 0, "refs": 1, "taints": 0},
            "digest": null, "diagnosticCount": 12, "recentDiagnostics": diagnostics,
            "lastError": {"message": "invalid row", "offset": 43, "line": null},
        });
        let text = status_text(&report);
        assert!(
            text.contains("events     7 applied, from table events (key id, column event), last key 42\n"),
            "{text}"
        );
        assert!(text.contains("diagnostics 12\n  event 3 at byte 30: problem 3\n"), "{text}");
        assert!(text.contains("problem 7\nlast error invalid row\n") && !text.contains("problem 2"), "{text}");
    }
}
