//! `dbl status`: load a log and say what was found.

use std::path::PathBuf;

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
}

pub fn status(args: &StatusArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let (state, loaded) = load_source(&args.log.to_string_lossy())?;
    let elapsed = started.elapsed();
    let digest = state.digest();
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
    if args.format == "json" {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("log        {} ({})", loaded.shown, loaded.format.unwrap_or("unknown yet"));
        match (&loaded.table, loaded.position.last_key) {
            (Some(table), last_key) => println!(
                "events     {} applied, from table {} (key {}, column {}), last key {}",
                state.events_applied(),
                table.name,
                table.key,
                table.column,
                last_key.map_or_else(|| "none".to_string(), |k| k.to_string())
            ),
            (None, _) => println!(
                "events     {} applied, {} bytes consumed, {} bytes pending",
                state.events_applied(),
                loaded.position.consumed_bytes,
                loaded.position.pending_bytes
            ),
        }
        println!(
            "entities   {} wants, {} job runs, {} partition instances of {} refs, {} taints",
            state.want_count(),
            state.job_run_count(),
            state.partition_count(),
            state.ref_count(),
            state.taint_count()
        );
        println!("digest     {digest}");
        println!("diagnostics {}", state.diagnostic_count());
        for d in state.diagnostics().iter().take(5) {
            println!("  event {} at byte {}: {}", d.event_id, d.offset, d.message);
        }
        match &loaded.error {
            Some(error) => println!("last error {error}"),
            None => println!("last error none"),
        }
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
    // The process ends next: freeing a large state entity by entity would take almost as long as
    // loading it, for nothing.
    std::mem::forget(state);
    Ok(())
}

/// The process's peak resident set size (Linux `VmHWM`), for the load figures in BENCHMARKS.md.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
