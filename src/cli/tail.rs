//! `dbl tail`: follow a log in-process and print lineage changes as they land. No daemon needed.
//!
//! It runs its own tail loop (the [`Tailer`] and a [`BuildState`], like the daemon's ingest thread)
//! rather than subscribing to a [`crate::live::Live`]: printing is the only consumer, so a slow
//! terminal simply slows reading and no change is ever dropped.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::live::changes::resolve_event;
use crate::live::{Published, SubscribeParams};
use crate::log::tail::{wait_for_wakeup, Poll, Tailer, Wakeups};
use crate::protocol::notices::{notice_for, Notice};
use crate::state::BuildState;

#[derive(Debug, clap::Args)]
pub struct TailArgs {
    /// The build event log (binary BEL or JSON lines). It need not exist yet.
    #[arg(long)]
    pub log: PathBuf,
    /// Only changes touching this partition ref (repeatable).
    #[arg(long = "ref", value_name = "REF", num_args = 1..)]
    pub refs: Vec<String>,
    /// Only changes touching this want (repeatable).
    #[arg(long = "want", value_name = "WANT_ID")]
    pub wants: Vec<String>,
    /// Only changes touching runs of this job label (repeatable).
    #[arg(long = "job-label", value_name = "LABEL")]
    pub job_labels: Vec<String>,
    /// `text` for people (coloured on a terminal unless NO_COLOR is set), `json` for one JSON object per line.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
    /// Print the changes already in the log too, not only new ones.
    #[arg(long)]
    pub from_start: bool,
    /// Poll the log this often (ms) besides filesystem notifications.
    #[arg(long, default_value_t = 250)]
    pub poll_ms: u64,
    /// Stop after printing this many events' changes (for scripts and tests).
    #[arg(long)]
    pub max_events: Option<u64>,
}

pub fn tail(args: &TailArgs) -> anyhow::Result<()> {
    if args.poll_ms == 0 {
        anyhow::bail!("--poll-ms must be at least 1 (got 0)");
    }
    let filter = SubscribeParams {
        refs: args.refs.clone(),
        wants: args.wants.clone(),
        job_labels: args.job_labels.clone(),
        ..Default::default()
    };
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let printer = Printer { json: args.format == "json", color };
    let (wake_tx, wake_rx) = mpsc::sync_channel(1);
    let _wakeups = Wakeups::watch(&args.log, wake_tx);
    let mut tailer = Tailer::new(&args.log);
    let mut state = BuildState::new();
    let mut loading = !args.from_start;
    state.set_recording(args.from_start);
    let mut printed = 0u64;
    let mut said_waiting = false;
    let stdout = std::io::stdout();
    loop {
        let mut out = stdout.lock();
        let mut publish = |p: Published, out: &mut std::io::StdoutLock| -> anyhow::Result<()> {
            if args.max_events.is_some_and(|max| printed >= max) {
                return Ok(());
            }
            if let Some(notice) = notice_for(&p, &filter) {
                printer.print(out, &notice)?;
                if matches!(notice, Notice::Changed { .. }) {
                    printed += 1;
                }
            }
            Ok(())
        };
        let mut more = false;
        match tailer.poll(4 << 20, &mut |record| {
            state.apply(&record.event, record.offset);
            let changes = state.take_changes();
            if !changes.is_empty() {
                let p = resolve_event(&state, record.event.event_id, record.offset, changes);
                // stdout closed (e.g. `| head`): stop quietly at the next check.
                let _ = publish(p, &mut out);
            }
        })? {
            Poll::Missing => {
                if !said_waiting {
                    eprintln!("dbl tail: waiting for {} to appear", args.log.display());
                    said_waiting = true;
                }
                loading = false;
                state.set_recording(true);
            }
            Poll::Reset(reason) => {
                state = BuildState::new();
                state.set_recording(args.from_start);
                loading = !args.from_start;
                let reset = Published::Reset { reason: reason.name().into(), last_event_id: None, events_applied: 0 };
                publish(reset, &mut out)?;
                more = true;
            }
            Poll::Read(read) => {
                said_waiting = false;
                if let Some(error) = read.new_error {
                    eprintln!(
                        "dbl tail: {}: {error}; waiting for the log to be replaced or truncated",
                        args.log.display()
                    );
                }
                if loading && read.at_end {
                    loading = false;
                    state.set_recording(true);
                    eprintln!("dbl tail: following {} ({} events loaded)", args.log.display(), state.events_applied());
                }
                more = !read.at_end;
            }
        }
        out.flush()?;
        drop(out);
        if args.max_events.is_some_and(|max| printed >= max) {
            return Ok(());
        }
        if !more && !wait_for_wakeup(&wake_rx, Duration::from_millis(args.poll_ms)) {
            return Ok(());
        }
    }
}

struct Printer {
    json: bool,
    color: bool,
}

impl Printer {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn status(&self, status: &str) -> String {
        let code = match status {
            "Live" | "Succeeded" | "Successful" => "32",
            "Failed" | "UpstreamFailed" => "31",
            "DepMiss" | "UpstreamBuilding" | "Tainted" => "35",
            "Canceled" => "90",
            _ => "33",
        };
        self.paint(code, status)
    }

    fn print(&self, out: &mut impl Write, notice: &Notice) -> std::io::Result<()> {
        if self.json {
            return writeln!(out, "{}", serde_json::to_string(notice).expect("notices serialize"));
        }
        match notice {
            Notice::Changed { event_id, changes, .. } => {
                for change in changes {
                    writeln!(out, "{} {}", self.paint("2", &format!("#{event_id}")), self.describe(change))?;
                }
                Ok(())
            }
            Notice::Reset { message, .. } | Notice::Lagged { message, .. } => {
                writeln!(out, "{}", self.paint("1;33", &format!("-- {message}")))
            }
            Notice::LogError { message, .. } => writeln!(out, "{}", self.paint("1;31", &format!("-- {message}"))),
            Notice::Subscribed { .. } => Ok(()),
        }
    }

    fn describe(&self, c: &Value) -> String {
        let s = |k: &str| c[k].as_str().unwrap_or("").to_string();
        let transition = || {
            let from = c["from"].as_str().map_or_else(|| "(new)".to_string(), |f| self.status(f));
            format!("{from} → {}", self.status(&s("to")))
        };
        match c["entity"].as_str().unwrap_or("") {
            "jobRun" => format!("job run   {} ({}) {}", self.paint("1", &s("jobRunId")), s("jobLabel"), transition()),
            "partition" => {
                let uuid = s("uuid");
                format!("partition {} [{}] {}", self.paint("1", &s("ref")), &uuid[..8.min(uuid.len())], transition())
            }
            "want" => format!("want      {} {}", self.paint("1", &s("wantId")), transition()),
            "consumerEdge" => format!(
                "read      {} → {} by {}",
                c["input"]["ref"].as_str().unwrap_or(""),
                self.paint("1", c["output"]["ref"].as_str().unwrap_or("")),
                s("jobRunId")
            ),
            "derivativeWant" => format!(
                "want      {} spawned derivative {} (dep miss of {})",
                s("parentWantId"),
                self.paint("1", &s("childWantId")),
                c["jobRunId"].as_str().unwrap_or("?")
            ),
            _ => c.to_string(),
        }
    }
}
