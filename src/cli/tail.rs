//! `dbl tail`: follow a log in-process and print lineage changes as they land. No daemon needed.
//!
//! It runs its own tail loop (the [`Tailer`] and a [`BuildState`], like the daemon's ingest thread)
//! rather than subscribing to a [`crate::live::Live`]: printing is the only consumer, so a slow
//! terminal simply slows reading and no change is ever dropped.

use std::io::Write;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use crate::live::changes::{resolve_event, LineageChange};
use crate::live::{Published, SubscribeParams};
use crate::log::follow::{Follower, Step};
use crate::log::source::SourceSpec;
use crate::log::tail::{found_nothing, Poll, Waiter};
use crate::protocol::notices::{notice_for, reset_message};
use crate::render::Paint;
use crate::state::BuildState;

#[derive(Debug, clap::Args)]
pub struct TailArgs {
    /// The build event log: a file, a SQLite database or a postgres:// URL. It need not exist yet.
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
    let spec = SourceSpec::parse(&args.log.to_string_lossy())?;
    let (wake_tx, wake_rx) = mpsc::sync_channel(1);
    let _wakeups = spec.wakeups(wake_tx);
    let mut waiter = Waiter::new(wake_rx, Duration::from_millis(args.poll_ms));
    let mut source = spec.open();
    let mut follow = Follow::new(args, spec.display());
    loop {
        let mut out = std::io::stdout().lock();
        let polled = source.poll(4 << 20, &mut |record| follow.apply(&record.event, record.offset, &mut out));
        let more = follow.on_poll(&polled, &mut out)?;
        let nothing = found_nothing(&polled);
        out.flush()?;
        drop(out);
        if follow.done() {
            return Ok(());
        }
        if !more && !waiter.wait(nothing) {
            return Ok(());
        }
    }
}

/// `dbl tail`'s own state: the log's `BuildState`, the follower's policy, what has been printed.
struct Follow<'a> {
    args: &'a TailArgs,
    shown: String,
    filter: SubscribeParams,
    printer: Printer,
    follower: Follower,
    state: BuildState,
    printed: u64,
    last_error: Option<String>,
}

impl<'a> Follow<'a> {
    fn new(args: &'a TailArgs, shown: String) -> Follow<'a> {
        let filter = SubscribeParams {
            refs: args.refs.clone(),
            wants: args.wants.clone(),
            job_labels: args.job_labels.clone(),
            ..Default::default()
        };
        let paint = Paint { on: super::color::enabled(&std::io::stdout()) };
        let follower = Follower::new(args.from_start);
        let mut state = BuildState::new();
        state.set_recording(follower.record_while_loading());
        Follow {
            args,
            shown,
            filter,
            printer: Printer { json: args.format == "json", paint },
            follower,
            state,
            printed: 0,
            last_error: None,
        }
    }

    fn done(&self) -> bool {
        self.args.max_events.is_some_and(|max| self.printed >= max)
    }

    fn apply(&mut self, event: &crate::proto::DataBuildEvent, offset: u64, out: &mut impl Write) {
        self.state.apply(event, offset);
        let changes = self.state.take_changes();
        if !changes.is_empty() {
            let published = resolve_event(&self.state, event.event_id, offset, changes);
            // stdout closed (e.g. `| head`): stop quietly at the next check.
            let _ = self.publish(&published, out);
        }
    }

    fn publish(&mut self, published: &Published, out: &mut impl Write) -> std::io::Result<()> {
        if self.done() {
            return Ok(());
        }
        if self.printer.print(out, published, &self.filter)? {
            self.printed += 1;
        }
        Ok(())
    }

    /// Acts on what a poll found; returns whether to poll again at once.
    fn on_poll(&mut self, polled: &std::io::Result<Poll>, out: &mut impl Write) -> anyhow::Result<bool> {
        if polled.is_ok() {
            self.last_error = None;
        }
        match (polled, self.follower.step(polled)) {
            (Err(e), _) => {
                // Retried on the next tick (a database may come back); said once per distinct error.
                let message = format!("cannot read {}: {e}", self.shown);
                if self.last_error.as_deref() != Some(message.as_str()) {
                    eprintln!("dbl tail: {message}; retrying");
                    self.last_error = Some(message);
                }
                Ok(false)
            }
            (_, Step::Waiting { announce, record_from_now }) => {
                if announce {
                    eprintln!("dbl tail: waiting for {} to appear", self.shown);
                }
                if record_from_now {
                    self.state.set_recording(true);
                }
                Ok(false)
            }
            (_, Step::Rebuild { record, .. }) => {
                self.state = BuildState::new();
                self.state.set_recording(record);
                Ok(true)
            }
            (Ok(Poll::Read(read)), Step::Read { loaded, announce_reset }) => {
                if let Some(error) = &read.new_error {
                    eprintln!("dbl tail: {}: {error}; waiting for the log to be replaced or truncated", self.shown);
                }
                if loaded {
                    self.state.set_recording(true);
                    let events = self.state.events_applied();
                    if let Some(reason) = announce_reset {
                        let last_event_id = self.state.last_event().map(|e| e.event_id);
                        let reset = Published::Reset { reason: reason.into(), last_event_id, events_applied: events };
                        self.publish(&reset, out)?;
                    }
                    eprintln!("dbl tail: following {} ({events} events loaded)", self.shown);
                }
                Ok(!read.at_end)
            }
            (_, step) => unreachable!("a poll outcome and its step disagree: {step:?}"),
        }
    }
}

struct Printer {
    json: bool,
    paint: Paint,
}

impl Printer {
    /// Prints what a subscriber with `filter` would be sent; whether it was an event's changes.
    fn print(&self, out: &mut impl Write, published: &Published, filter: &SubscribeParams) -> std::io::Result<bool> {
        if self.json {
            return match notice_for(published, filter) {
                Some(notice) => {
                    writeln!(out, "{}", serde_json::to_string(&notice).expect("notices serialize"))?;
                    Ok(published.event_id().is_some())
                }
                None => Ok(false),
            };
        }
        match published {
            Published::Changed { event_id, changes, .. } => {
                let mut any = false;
                for change in changes.iter().filter(|c| filter.matches(c)) {
                    writeln!(out, "{} {}", self.paint.dim(&format!("#{event_id}")), self.describe(change))?;
                    any = true;
                }
                Ok(any)
            }
            Published::Reset { reason, .. } => {
                writeln!(out, "{}", self.paint.bold(&format!("-- {}", reset_message(reason)))).map(|_| false)
            }
            Published::LogError { message, .. } => {
                writeln!(out, "{}", self.paint.bold(&format!("-- {message}"))).map(|_| false)
            }
        }
    }

    fn transition(&self, from: Option<&'static str>, to: &'static str) -> String {
        let from = from.map_or_else(|| "(new)".to_string(), |f| self.paint.status(f));
        format!("{from} → {}", self.paint.status(to))
    }

    fn describe(&self, change: &LineageChange) -> String {
        let bold = |text: &str| self.paint.bold(text);
        match change {
            LineageChange::JobRun { run, from, to, .. } => format!(
                "job run   {} ({}) {}",
                bold(&run.job_run_id),
                run.job_label,
                self.transition(from.map(|s| s.name()), to.name())
            ),
            LineageChange::Partition { instance, from, to, .. } => format!(
                "partition {} [{}] {}",
                bold(&instance.partition_ref),
                &instance.uuid.to_string()[..8],
                self.transition(from.map(|s| s.name()), to.name())
            ),
            LineageChange::Want { want_id, from, to, .. } => {
                format!("want      {} {}", bold(want_id), self.transition(from.map(|s| s.name()), to.name()))
            }
            LineageChange::ConsumerEdge { input, output, run } => {
                format!("read      {} → {} by {}", input.partition_ref, bold(&output.partition_ref), run.job_run_id)
            }
            LineageChange::DerivativeWant { parent, child, run } => format!(
                "want      {parent} spawned derivative {} (dep miss of {})",
                bold(child),
                run.as_ref().map_or("?", |r| r.job_run_id.as_str())
            ),
        }
    }
}
