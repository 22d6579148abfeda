//! `dbl tail`: print lineage changes as they land.
//!
//! With a shared daemon serving the log (`dbl daemon`), it subscribes there (`databuild/subscribe` on a
//! session of the daemon's socket) and prints the notices it is sent. Otherwise (or with `--no-daemon`,
//! or `--from-start`, which a subscription cannot replay) it runs its own tail loop (the source's tailer
//! and a [`BuildState`], like the daemon's ingest thread): printing is the only consumer, so a slow
//! terminal simply slows reading and no change is ever dropped. If the daemon goes away mid-tail, the
//! tail goes on in this process from the last event it printed.
//!
//! Both print through one [`Printer`] of the notices a subscriber is sent ([`Notice`]), so a change is
//! printed the same either way.

use std::io::Write;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use crate::daemon::ask::DaemonSession;
use crate::live::changes::resolve_event;
use crate::live::{Published, SubscribeParams};
use crate::log::follow::{Follower, Step};
use crate::log::source::SourceSpec;
use crate::log::tail::{found_nothing, Poll, Waiter};
use crate::protocol::notices::{notice_for, Notice, WireChange};
use crate::render::{short_uuid, Paint};
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
    /// Follow the log in this process even if a shared daemon serves it.
    #[arg(long)]
    pub no_daemon: bool,
}

pub fn tail(args: &TailArgs) -> anyhow::Result<()> {
    if args.poll_ms == 0 {
        anyhow::bail!("--poll-ms must be at least 1 (got 0)");
    }
    let mut printed = 0;
    let mut resume = None;
    if !args.no_daemon && !args.from_start {
        if let Some(session) = DaemonSession::open(&args.log.to_string_lossy())? {
            match through_daemon(args, session, &mut printed)? {
                Through::Done => return Ok(()),
                Through::Lost { last_event_id } => resume = Some(last_event_id),
            }
        }
    }
    in_process(args, resume, printed)
}

/// How a tail through the daemon ended.
enum Through {
    /// `--max-events` reached, or stdout closed.
    Done,
    /// The daemon went away; the last event it told of (nothing printed after it is lost).
    Lost { last_event_id: Option<u64> },
}

/// Prints what a subscription on the daemon's session is sent, until done or the daemon goes away.
fn through_daemon(args: &TailArgs, session: DaemonSession, printed: &mut u64) -> anyhow::Result<Through> {
    let shown = session.shown.clone();
    let mut subscription = session.subscribe(&filter_of(args))?;
    let pid = subscription.pid().map_or_else(|| "?".to_string(), |p| p.to_string());
    let printer = Printer::new(args);
    let mut last_event_id = None;
    loop {
        if args.max_events.is_some_and(|max| *printed >= max) {
            subscription.end();
            return Ok(Through::Done);
        }
        let notice = match subscription.next_notice() {
            Ok(notice) => notice,
            Err(e) => {
                let from = last_event_id.map_or_else(|| "its start".to_string(), |id| format!("after event {id}"));
                eprintln!(
                    "dbl tail: the shared daemon for {shown} went away ({e}); following the log in this process \
                     from {from}"
                );
                return Ok(Through::Lost { last_event_id });
            }
        };
        match &notice {
            Notice::Subscribed { last_event_id: at, loading } => {
                last_event_id = *at;
                let state = if *loading { "still loading" } else { "loaded" };
                eprintln!("dbl tail: following {shown} through the shared daemon (pid {pid}, {state})");
            }
            Notice::Changed { event_id, .. } => last_event_id = Some(*event_id),
            Notice::Reset { last_event_id: at, .. } => last_event_id = *at,
            Notice::Lagged { .. } | Notice::LogError { .. } => {}
        }
        let mut out = std::io::stdout().lock();
        match printer.print(&mut out, &notice).and_then(|any| out.flush().map(|()| any)) {
            Ok(true) => *printed += 1,
            Ok(false) => {}
            // stdout closed (e.g. `| head`): stop quietly.
            Err(_) => {
                subscription.end();
                return Ok(Through::Done);
            }
        }
    }
}

/// The subscription `--ref`, `--want` and `--job-label` ask for.
fn filter_of(args: &TailArgs) -> SubscribeParams {
    SubscribeParams {
        refs: args.refs.clone(),
        wants: args.wants.clone(),
        job_labels: args.job_labels.clone(),
        ..Default::default()
    }
}

/// Follows the log in this process. `resume`: a tail through a daemon that went away, after the last
/// event it told of: the log is read from its start, printing only what comes after that event.
fn in_process(args: &TailArgs, resume: Option<Option<u64>>, printed: u64) -> anyhow::Result<()> {
    let spec = SourceSpec::parse(&args.log.to_string_lossy())?;
    let (wake_tx, wake_rx) = mpsc::sync_channel(1);
    let _wakeups = spec.wakeups(wake_tx);
    let mut waiter = Waiter::new(wake_rx, Duration::from_millis(args.poll_ms));
    let mut source = spec.open();
    let mut follow = Follow::new(args, spec.display(), resume);
    follow.printed = printed;
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
    /// Events already printed by a daemon that went away: not printed again.
    printed_through: Option<u64>,
    last_error: Option<String>,
}

impl<'a> Follow<'a> {
    fn new(args: &'a TailArgs, shown: String, resume: Option<Option<u64>>) -> Follow<'a> {
        let follower = Follower::new(args.from_start || resume.is_some());
        let mut state = BuildState::new();
        state.set_recording(follower.record_while_loading());
        Follow {
            args,
            shown,
            filter: filter_of(args),
            printer: Printer::new(args),
            follower,
            state,
            printed: 0,
            printed_through: resume.flatten(),
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
        match (published, self.printed_through) {
            (Published::Changed { event_id, .. }, Some(through)) if *event_id <= through => return Ok(()),
            // After a reset, event ids start again.
            (Published::Reset { .. }, _) => self.printed_through = None,
            _ => {}
        }
        let Some(notice) = notice_for(published, &self.filter) else { return Ok(()) };
        if self.printer.print(out, &notice)? {
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

/// Prints notices: one line per change (text), or one JSON object per notice (json).
struct Printer {
    json: bool,
    paint: Paint,
}

impl Printer {
    fn new(args: &TailArgs) -> Printer {
        Printer { json: args.format == "json", paint: Paint { on: super::color::enabled(&std::io::stdout()) } }
    }

    /// Prints a notice; whether it was an event's changes (what `--max-events` counts).
    fn print(&self, out: &mut impl Write, notice: &Notice) -> std::io::Result<bool> {
        match notice {
            // Where a subscription starts: said on stderr, not printed.
            Notice::Subscribed { .. } => Ok(false),
            _ if self.json => {
                writeln!(out, "{}", serde_json::to_string(notice).expect("notices serialize"))?;
                Ok(matches!(notice, Notice::Changed { .. }))
            }
            Notice::Changed { event_id, changes, .. } => {
                for change in changes {
                    writeln!(out, "{} {}", self.paint.dim(&format!("#{event_id}")), self.describe(change))?;
                }
                Ok(!changes.is_empty())
            }
            Notice::Reset { message, .. } | Notice::LogError { message, .. } | Notice::Lagged { message, .. } => {
                writeln!(out, "{}", self.paint.bold(&format!("-- {message}"))).map(|_| false)
            }
        }
    }

    fn transition(&self, from: Option<&str>, to: &str) -> String {
        let from = from.map_or_else(|| "(new)".to_string(), |f| self.paint.status(f));
        format!("{from} → {}", self.paint.status(to))
    }

    fn describe(&self, change: &WireChange) -> String {
        let bold = |text: &str| self.paint.bold(text);
        match change {
            WireChange::JobRun { job_run_id, job_label, from, to } => {
                format!("job run   {} ({job_label}) {}", bold(job_run_id), self.transition(from.as_deref(), to))
            }
            WireChange::Partition { uuid, partition_ref, from, to, .. } => format!(
                "partition {} [{}] {}",
                bold(partition_ref),
                short_uuid(uuid),
                self.transition(from.as_deref(), to)
            ),
            WireChange::Want { want_id, from, to } => {
                format!("want      {} {}", bold(want_id), self.transition(from.as_deref(), to))
            }
            WireChange::ConsumerEdge { input, output, job_run_id } => {
                format!("read      {} → {} by {job_run_id}", input.partition_ref, bold(&output.partition_ref))
            }
            WireChange::DerivativeWant { parent_want_id, child_want_id, job_run_id } => format!(
                "want      {parent_want_id} spawned derivative {} (dep miss of {})",
                bold(child_want_id),
                job_run_id.as_deref().unwrap_or("?")
            ),
        }
    }
}
