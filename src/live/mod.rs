//! The live state: one ingest thread owns the writing of the [`BuildState`] (tokio-console's
//! aggregator pattern); queries read it between short write batches; subscribers watch a broadcast of
//! [`Published`] changes.
//!
//! - The ingest thread is the only writer. It holds the write lock for at most [`APPLY_BATCH`]
//!   records or [`MAX_WRITE_HOLD`], so a query waits at most about half a millisecond, even while a
//!   large log loads.
//! - Changes are recorded only after the initial load (a cold load pays nothing for them), resolved to
//!   names right after each event, and broadcast. The broadcast is bounded: a subscriber that falls
//!   behind loses the oldest notices and is told so (a `lagged` notice); ingestion never waits.
//! - The file is followed by [`crate::log::tail::Tailer`] on a reader thread that decodes one poll ahead
//!   of the ingest thread (both cores work during a load); a replaced or truncated log is rebuilt from
//!   its start and subscribers get a `reset` notice once the rebuilt state has caught up.
//!
//! Architecture invariant: nothing here knows JSON-RPC or LSP; the protocol layer reads [`Live`].
//! What is published names entities (refs, UUIDs, ids), never indices into one state.

pub mod changes;
pub mod lock;
pub mod snapshot;

use std::path::Path;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{broadcast, watch};

use crate::log::follow::{Follower, Step};
use crate::log::source::{Checkpoint, Position, Source, SourceSpec};
use crate::log::tail::{found_nothing, Poll, Read, Waiter, WakeReason};
use crate::log::LogRecord;
use crate::state::{BuildState, Prepared};
pub use changes::{LineageChange, Published, SubscribeParams};
pub use lock::LongRead;
use lock::StateLock;

/// Records applied per write-lock acquisition, at most.
pub const APPLY_BATCH: usize = 4096;
/// How long one write-lock acquisition may last: a query waits at most about this long.
pub const MAX_WRITE_HOLD: Duration = Duration::from_micros(500);
/// Bytes read per tailer poll before the loop looks around (status, progress, stop). Each poll's records
/// are handed over whole, about 4 MB once decoded, and up to four are on their way: at 4 MiB a poll they
/// added 90 MiB to a 10M-event load's peak, for no speed.
pub const READ_BUDGET: usize = 1 << 20;
/// Notices kept for the slowest subscriber before it is told it lagged.
pub const BROADCAST_CAPACITY: usize = 4096;
pub const DEFAULT_POLL: Duration = Duration::from_millis(250);

/// How the ingest thread follows the log.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// The poll timer: the longest a change can go unnoticed when notifications are lost.
    pub poll: Duration,
    /// Use filesystem notifications as wake-up hints (otherwise the poll timer alone).
    pub notify: bool,
    /// Record and publish the changes of the initial load too (for `dbl tail --from-start`).
    pub publish_initial_load: bool,
    /// Start from this snapshot if it matches, and keep it saved (the shared daemon).
    pub snapshot: Option<snapshot::SnapshotPlan>,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions { poll: DEFAULT_POLL, notify: true, publish_initial_load: false, snapshot: None }
    }
}

/// What the ingest thread reports about the log, besides the state itself.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TailStatus {
    /// The source as given (a URL shown without its password).
    pub log_path: Option<String>,
    /// `bel`, `jsonl`, `sqlite` or `postgres`.
    pub format: Option<&'static str>,
    /// For a table source, once found: which table, key column and event column are followed.
    pub table: Option<TableStatus>,
    /// For a table source: the key of the last row applied.
    pub last_key: Option<i64>,
    /// The initial load (or a rebuild after a reset) has not reached the end of the file yet.
    pub loading: bool,
    /// The file does not exist (yet).
    pub waiting_for_file: bool,
    pub bytes_consumed: u64,
    pub pending_bytes: u64,
    /// File size at the last poll.
    pub file_bytes: u64,
    pub last_error: Option<LastError>,
    /// The last I/O error reading the log (other than "not found"), retried on every tick.
    pub io_error: Option<String>,
    /// Times the log was replaced or truncated and the state rebuilt.
    pub resets: u64,
    /// Whether filesystem notifications are in use (else polling only).
    pub notify: bool,
    pub poll_ms: u64,
    /// Events of the snapshot the state started from, if it started from one.
    pub snapshot_events: Option<u64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TableStatus {
    pub name: String,
    pub key: String,
    pub column: String,
}

impl TableStatus {
    pub fn of(layout: &crate::log::source::TableLayout) -> TableStatus {
        TableStatus { name: layout.table.clone(), key: layout.key.clone(), column: layout.column.clone() }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LastError {
    pub message: String,
    pub offset: u64,
    pub line: Option<u64>,
}

/// The shared live state. Create one, [`Live::start`] it on a log, read it from any task.
pub struct Live {
    state: Arc<StateLock>,
    status: watch::Sender<TailStatus>,
    published: broadcast::Sender<Arc<Published>>,
    ingest: Mutex<Option<Ingest>>,
    /// The base URL of the daemon's web pages, once its listener is bound (see [`Live::set_pages_url`]).
    pages_url: OnceLock<String>,
}

struct Ingest {
    stop: Arc<AtomicBool>,
    wake: mpsc::SyncSender<WakeReason>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Default for Live {
    fn default() -> Self {
        Live::new()
    }
}

impl Live {
    /// An empty state not following any log yet.
    pub fn new() -> Live {
        Live {
            state: Arc::new(StateLock::default()),
            status: watch::channel(TailStatus::default()).0,
            published: broadcast::channel(BROADCAST_CAPACITY).0,
            ingest: Mutex::new(None),
            pages_url: OnceLock::new(),
        }
    }

    /// Records where this daemon's web pages answer (`http://127.0.0.1:PORT/`); only the first call counts.
    pub fn set_pages_url(&self, url: String) {
        let _ = self.pages_url.set(url);
    }

    /// The base URL of the web pages, if a listener serves them.
    pub fn pages_url(&self) -> Option<&str> {
        self.pages_url.get().map(String::as_str)
    }

    /// Starts following a log file on a dedicated thread (see [`Live::start_source`]).
    pub fn start(&self, path: &Path, options: LiveOptions) -> bool {
        self.start_source(&SourceSpec::File(path.to_path_buf()), options)
    }

    /// Starts following `source` on a dedicated thread. Returns `false` (and does nothing) if a log is
    /// already being followed.
    pub fn start_source(&self, source: &SourceSpec, options: LiveOptions) -> bool {
        let mut ingest = self.ingest.lock().unwrap_or_else(|e| e.into_inner());
        if ingest.is_some() {
            return false;
        }
        let (wake_tx, wake_rx) = mpsc::sync_channel(1);
        let wakeups = if options.notify { source.wakeups(wake_tx.clone()) } else { crate::log::tail::Wakeups::none() };
        self.status.send_modify(|s| {
            s.log_path = Some(source.display());
            s.loading = true;
            s.notify = wakeups.is_watching();
            s.poll_ms = options.poll.as_millis() as u64;
        });
        let stop = Arc::new(AtomicBool::new(false));
        let worker = Worker {
            source: source.clone(),
            shown: source.display(),
            options,
            state: self.state.clone(),
            status: self.status.clone(),
            published: self.published.clone(),
            stop: stop.clone(),
            _wakeups: wakeups,
        };
        let thread = std::thread::Builder::new()
            .name("dbl-ingest".into())
            .spawn(move || worker.run(wake_rx))
            .expect("spawning the ingest thread");
        *ingest = Some(Ingest { stop, wake: wake_tx, thread: Some(thread) });
        true
    }

    /// Whether [`Live::start`] was called.
    pub fn is_started(&self) -> bool {
        self.ingest.lock().unwrap_or_else(|e| e.into_inner()).is_some()
    }

    /// Stops the ingest thread and waits for it (it finishes its current batch first).
    pub fn stop(&self) {
        let ingest = self.ingest.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(mut ingest) = ingest {
            ingest.stop.store(true, Ordering::SeqCst);
            let _ = ingest.wake.try_send(WakeReason::Stop);
            if let Some(thread) = ingest.thread.take() {
                let _ = thread.join();
            }
        }
    }

    /// A consistent snapshot of the state for as long as the guard lives, for a short read (a hover, a
    /// status): the ingest thread waits for it, and other readers may wait behind the ingest thread.
    pub fn read(&self) -> RwLockReadGuard<'_, BuildState> {
        self.state.read()
    }

    /// The same, for a read that may take a while (a view, a page): it waits while the ingest thread
    /// has a batch to write, and short reads never wait for it (see `live::lock`).
    pub fn read_long(&self) -> LongRead<'_> {
        self.state.read_long()
    }

    /// The tail status as of the last applied batch.
    pub fn tail_status(&self) -> TailStatus {
        self.status.borrow().clone()
    }

    /// Watches the tail status (progress while loading, errors).
    pub fn watch_status(&self) -> watch::Receiver<TailStatus> {
        self.status.subscribe()
    }

    /// A receiver of everything published from now on, and the id of the last event already in the
    /// state: notices for events up to that id may still arrive and are to be skipped.
    pub fn subscribe(&self) -> (broadcast::Receiver<Arc<Published>>, Option<u64>) {
        let state = self.read();
        let rx = self.published.subscribe();
        (rx, state.last_event().map(|s| s.event_id))
    }

    /// Changes the tail status by hand, for protocol tests that need a state the log cannot give quickly.
    #[doc(hidden)]
    pub fn status_for_test(&self, change: impl FnOnce(&mut TailStatus)) {
        self.status.send_modify(change);
    }

    /// Waits (polling, for tests and tools) until the state satisfies `ready` or `timeout` passes.
    pub fn wait_until(&self, timeout: Duration, ready: impl Fn(&BuildState, &TailStatus) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if ready(&self.read(), &self.tail_status()) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Records with their [`Prepared`] part, made on the reader thread so the ingest thread only applies.
type PreparedRecords = Vec<(LogRecord, Prepared)>;

/// One poll of the log, from the reader thread to the ingest thread.
struct Polled {
    polled: std::io::Result<Poll>,
    records: PreparedRecords,
    format: Option<&'static str>,
    position: Position,
    table: Option<TableStatus>,
    /// Where the source stands after this poll, when it reached the end (and snapshots are kept).
    checkpoint: Option<Checkpoint>,
    /// It read bytes (records, or the start of one): counted in [`PollSender::news`] until taken.
    news: bool,
}

/// The reader thread's end of the channel of polls. It also counts the polls with news on their way,
/// so that a snapshot being saved on the ingest thread can give way to them.
struct PollSender {
    polls: mpsc::SyncSender<Polled>,
    news: Arc<AtomicUsize>,
}

/// What became of a poll handed to [`PollSender::send`].
enum Sent {
    Taken,
    /// An idle poll dropped because the ingest thread is busy; whether it carried a checkpoint.
    Dropped {
        checkpoint: bool,
    },
    /// The ingest thread is gone.
    Gone,
}

impl PollSender {
    /// Sends `polled`, waiting for room, unless it found nothing: a poll that found nothing waits for
    /// no one, and while the ingest thread is busy (saving a snapshot) it is dropped, so the reader goes
    /// on polling and sees new records at once.
    fn send(&self, polled: Polled) -> Sent {
        let idle = matches!(&polled.polled, Ok(Poll::Read(read)) if read.bytes_read == 0);
        if idle {
            return match self.polls.try_send(polled) {
                Ok(()) => Sent::Taken,
                Err(mpsc::TrySendError::Full(dropped)) => Sent::Dropped { checkpoint: dropped.checkpoint.is_some() },
                Err(mpsc::TrySendError::Disconnected(_)) => Sent::Gone,
            };
        }
        if polled.news {
            self.news.fetch_add(1, Ordering::Relaxed);
        }
        match self.polls.send(polled) {
            Ok(()) => Sent::Taken,
            Err(_) => Sent::Gone,
        }
    }
}

/// A batch the applying thread is done with, emptied here (its records freed on the thread that made
/// them: allocators are fastest so), or a new one with room for `capacity` if none has come back yet.
pub(crate) fn reuse_spent<T>(spent: &mpsc::Receiver<Vec<T>>, capacity: usize) -> Vec<T> {
    match spent.try_recv() {
        Ok(mut reused) => {
            reused.clear();
            reused
        }
        Err(_) => Vec::with_capacity(capacity),
    }
}

/// The reader thread: polls the tailer, at once again while there is more to read, else on a wake-up
/// or the poll timer, and hands each poll to the ingest thread in order. Ends when told to stop or
/// when the ingest thread is gone.
fn read_log(
    mut source: Box<dyn Source>,
    wake: mpsc::Receiver<WakeReason>,
    poll_every: Duration,
    stop: Arc<AtomicBool>,
    polls: PollSender,
    spent: mpsc::Receiver<PreparedRecords>,
    checkpoints: bool,
) {
    let mut waiter = Waiter::new(wake, poll_every);
    // A checkpoint is taken on the first poll that finds nothing new after something was read: then it
    // stands at the end of what was handed over, and never holds up records on their way (a file's
    // fingerprint reads about 400 KiB).
    let mut read_since_checkpoint = true;
    while !stop.load(Ordering::SeqCst) {
        let mut records = reuse_spent(&spent, 0);
        let polled = source.poll(READ_BUDGET, &mut |record| {
            let prepared = Prepared::of(&record.event);
            records.push((record, prepared))
        });
        let read_more = match &polled {
            Ok(Poll::Reset(_)) => true,
            Ok(Poll::Read(read)) => !read.at_end,
            _ => false,
        };
        let nothing = found_nothing(&polled);
        let mut checkpoint = None;
        match &polled {
            Ok(Poll::Read(read)) => {
                read_since_checkpoint |= read.bytes_read > 0;
                if checkpoints && read.at_end && read.bytes_read == 0 && read_since_checkpoint {
                    read_since_checkpoint = false;
                    checkpoint = source.checkpoint().unwrap_or_else(|e| {
                        tracing::warn!("no snapshot checkpoint: {e}");
                        None
                    });
                }
            }
            Ok(Poll::Reset(_)) => read_since_checkpoint = true,
            _ => {}
        }
        let message = Polled {
            polled,
            records,
            format: source.format(),
            position: source.position(),
            table: source.table().map(TableStatus::of),
            checkpoint,
            news: !nothing,
        };
        match polls.send(message) {
            Sent::Taken => {}
            // Its checkpoint is taken again at the next idle poll.
            Sent::Dropped { checkpoint } => read_since_checkpoint |= checkpoint,
            Sent::Gone => break,
        }
        // Free what the ingest thread has finished with while waiting.
        while let Ok(batch) = spent.try_recv() {
            drop(batch);
        }
        if !read_more && !waiter.wait(nothing) {
            break;
        }
    }
}

/// The ingest thread: the only writer of the state. Reading and decoding the log run on a second
/// thread ([`read_log`]), one poll ahead, so a large log loads on both cores.
struct Worker {
    source: SourceSpec,
    /// The source as messages show it (no password).
    shown: String,
    options: LiveOptions,
    state: Arc<StateLock>,
    status: watch::Sender<TailStatus>,
    published: broadcast::Sender<Arc<Published>>,
    stop: Arc<AtomicBool>,
    _wakeups: crate::log::tail::Wakeups,
}

/// When to save a snapshot: the newest checkpoint that matches the state, and when the log last
/// changed. A state is saved once the log has been quiet for the plan's while, and on shutdown,
/// never while it loads. Checkpoints come with polls that found nothing new, so a shutdown within a
/// poll period of the last records saves nothing (the previous snapshot stays, and still matches).
struct Saver {
    plan: snapshot::SnapshotPlan,
    /// The newest checkpoint and the events applied once its poll was applied.
    checkpoint: Option<(Checkpoint, u64)>,
    pending: Option<Checkpoint>,
    saved: Option<u64>,
    events: u64,
    loading: bool,
    last_change: Instant,
}

impl Saver {
    fn new(plan: snapshot::SnapshotPlan) -> Saver {
        Saver {
            plan,
            checkpoint: None,
            pending: None,
            saved: None,
            events: 0,
            loading: true,
            last_change: Instant::now(),
        }
    }

    /// Before a poll is applied: a reset voids the checkpoint; a new one waits to be applied.
    fn track(&mut self, polled: &Polled, step: &Step) {
        if matches!(step, Step::Rebuild { .. }) {
            self.checkpoint = None;
            self.saved = None;
        }
        self.pending = polled.checkpoint.clone();
    }

    /// After a poll is applied, with the state's event count.
    fn after_poll(&mut self, events: u64, loading: bool) {
        if events != self.events {
            self.last_change = Instant::now();
            self.events = events;
        }
        self.loading = loading;
        if let Some(checkpoint) = self.pending.take() {
            self.checkpoint = Some((checkpoint, events));
        }
    }

    fn due(&self, shutting_down: bool) -> bool {
        let current = self.checkpoint.as_ref().is_some_and(|(_, at)| *at == self.events);
        let quiet = shutting_down || self.last_change.elapsed() >= self.plan.quiet;
        current && !self.loading && self.saved != Some(self.events) && quiet
    }
}

/// What the follower said of a poll that read records.
#[derive(Debug, Clone, Copy)]
struct ReadOutcome {
    /// Still loading after this poll.
    loading: bool,
    /// This poll ended the load.
    loaded: bool,
    announce_reset: Option<&'static str>,
}

/// Timing of the current load (the initial one, or a rebuild after a reset), for the log lines.
struct LoadProgress {
    started: Instant,
    last_report: Instant,
}

impl LoadProgress {
    fn new() -> LoadProgress {
        let now = Instant::now();
        LoadProgress { started: now, last_report: now }
    }
}

impl Worker {
    fn write(&self) -> lock::Write<'_> {
        self.state.write()
    }

    fn run(self, wake: mpsc::Receiver<WakeReason>) {
        let mut follower = Follower::new(self.options.publish_initial_load);
        self.write().set_recording(follower.record_while_loading());
        let (polls_tx, polls) = mpsc::sync_channel::<Polled>(2);
        let news = Arc::new(AtomicUsize::new(0));
        let polls_tx = PollSender { polls: polls_tx, news: news.clone() };
        let (spent, spent_rx) = mpsc::channel::<PreparedRecords>();
        let mut source = self.source.open();
        let mut saver = self.options.snapshot.clone().map(Saver::new);
        if let Some(saver) = &mut saver {
            self.restore(saver, source.as_mut());
        }
        let reader = {
            let (poll_every, stop, checkpoints) = (self.options.poll, self.stop.clone(), saver.is_some());
            std::thread::Builder::new()
                .name("dbl-read".into())
                .spawn(move || read_log(source, wake, poll_every, stop, polls_tx, spent_rx, checkpoints))
                .expect("spawning the log reader thread")
        };
        let mut progress = LoadProgress::new();
        for polled in polls {
            if polled.news {
                news.fetch_sub(1, Ordering::Relaxed);
            }
            if self.stop.load(Ordering::SeqCst) {
                break;
            }
            let step = follower.step(&polled.polled);
            if let Some(saver) = &mut saver {
                saver.track(&polled, &step);
            }
            match (&polled.polled, step) {
                (Err(e), _) => self.on_io_error(e),
                (_, Step::Waiting { announce, record_from_now }) => self.on_missing(announce, record_from_now),
                (_, Step::Rebuild { reason, record }) => {
                    self.on_reset(reason, record);
                    progress = LoadProgress::new();
                }
                (Ok(Poll::Read(read)), Step::Read { loaded, announce_reset }) => {
                    let outcome = ReadOutcome { loading: follower.loading(), loaded, announce_reset };
                    self.on_read(read, &polled, outcome, &mut progress)
                }
                (_, step) => unreachable!("a poll outcome and its step disagree: {step:?}"),
            }
            // The reader frees what it allocated: allocators are fastest that way.
            let _ = spent.send(polled.records);
            if let Some(saver) = &mut saver {
                let events = self.state.read().events_applied();
                saver.after_poll(events, follower.loading());
                if saver.due(false) {
                    self.save(saver, Some(&news));
                }
            }
        }
        if let Some(saver) = &mut saver {
            if saver.due(true) {
                self.save(saver, None);
            }
        }
        drop(spent);
        let _ = reader.join();
    }

    /// Starts from the snapshot if there is one that matches the source; else discards it.
    fn restore(&self, saver: &mut Saver, source: &mut dyn Source) {
        let started = Instant::now();
        let path = saver.plan.path.display().to_string();
        let discard = |why: String| {
            tracing::warn!("snapshot {path} not used: {why}; reading {} from its start", self.shown);
            snapshot::discard(&saver.plan.path);
        };
        match snapshot::load(&saver.plan) {
            Ok(None) => {}
            Err(why) => discard(why),
            Ok(Some((mut state, checkpoint))) => match source.restore(&checkpoint) {
                Ok(true) => {
                    let events = state.events_applied();
                    state.set_recording(self.options.publish_initial_load);
                    *self.write() = state;
                    saver.saved = Some(events);
                    saver.checkpoint = Some((checkpoint, events));
                    let secs = started.elapsed().as_secs_f64();
                    tracing::info!("started from snapshot {path}: {events} events in {secs:.3}s; following from there");
                    self.status.send_modify(|s| s.snapshot_events = Some(events));
                }
                Ok(false) => discard(format!("{} no longer holds what it was taken from", self.shown)),
                Err(e) => discard(format!("cannot check it against {}: {e}", self.shown)),
            },
        }
    }

    /// Saves the state, unless records arrive meanwhile (`news`): then the save gives way to them and is
    /// tried again the next time the log is quiet. On shutdown it always finishes.
    fn save(&self, saver: &mut Saver, news: Option<&AtomicUsize>) {
        let Some((checkpoint, events)) = saver.checkpoint.clone() else { return };
        let started = Instant::now();
        let state = self.state.read();
        let abandon = || news.is_some_and(|n| n.load(Ordering::Relaxed) > 0);
        let path = saver.plan.path.display();
        match snapshot::save(&saver.plan, &state, &checkpoint, &abandon) {
            Ok(Some(bytes)) => {
                let secs = started.elapsed().as_secs_f64();
                tracing::info!("saved snapshot {path} ({events} events, {bytes} bytes) in {secs:.3}s");
            }
            Ok(None) => {
                let secs = started.elapsed().as_secs_f64();
                tracing::info!("snapshot {path} not saved: records arrived after {secs:.3}s; saving when quiet again");
                saver.last_change = Instant::now();
                return;
            }
            Err(e) => tracing::warn!("cannot save snapshot {path}: {e}"),
        }
        // Tried once per state, saved or not: a failing disk is not retried on every poll.
        saver.saved = Some(events);
    }

    fn on_io_error(&self, error: &std::io::Error) {
        let message = format!("cannot read {}: {error}", self.shown);
        if self.status.borrow().io_error.as_deref() != Some(message.as_str()) {
            tracing::warn!("{message}; retrying");
        }
        self.status.send_modify(|s| s.io_error = Some(message));
    }

    fn on_missing(&self, announce: bool, record_from_now: bool) {
        if announce {
            tracing::info!("waiting for {} to appear", self.shown);
        }
        if record_from_now {
            // Nothing to load: whatever appears from now on is news.
            self.write().set_recording(true);
        }
        self.status.send_modify(|s| {
            s.waiting_for_file = true;
            s.loading = false;
            s.io_error = None;
        });
    }

    fn on_reset(&self, reason: &'static str, record: bool) {
        tracing::warn!("{} was {reason}: rebuilding the state from its start", self.shown);
        let mut state = self.write();
        *state = BuildState::new();
        state.set_recording(record);
        self.status.send_modify(|s| {
            s.loading = true;
            s.resets += 1;
            s.last_error = None;
            s.bytes_consumed = 0;
            s.pending_bytes = 0;
            s.last_key = None;
        });
    }

    fn on_read(&self, read: &Read, polled: &Polled, outcome: ReadOutcome, progress: &mut LoadProgress) {
        let ReadOutcome { loading, loaded, announce_reset } = outcome;
        let error =
            read.new_error.as_ref().map(|e| LastError { message: e.to_string(), offset: e.offset, line: e.line });
        let (format, position, table) = (polled.format, polled.position, polled.table.clone());
        let file_len = read.file_len;
        // The tail status is updated under the same write lock as the last records, so a status query
        // (state lock first, then tail status) sees the two agree.
        let (events, last_event_id) = self.apply(&polled.records, |state| {
            if loaded {
                state.set_recording(true);
            }
            self.status.send_modify(|s| {
                s.format = format;
                s.table = table;
                s.last_key = position.last_key;
                s.loading = loading;
                s.waiting_for_file = false;
                s.bytes_consumed = position.consumed_bytes;
                s.pending_bytes = position.pending_bytes;
                s.file_bytes = file_len.max(position.consumed_bytes + position.pending_bytes);
                s.io_error = None;
                if error.is_some() {
                    s.last_error = error;
                }
            });
            (state.events_applied(), state.last_event().map(|s| s.event_id))
        });
        if !loading && !polled.records.is_empty() {
            // The digest is brought up to date here, under a read lock, so that a status request finds
            // it made; it re-hashes only the blocks this poll changed.
            let _ = self.state.read().digest();
        }
        if let Some(error) = &read.new_error {
            tracing::error!(
                "{}: {error}; serving the state before it until the log is replaced or truncated",
                self.shown
            );
            let published = Published::LogError { message: error.to_string(), offset: error.offset, line: error.line };
            let _ = self.published.send(Arc::new(published));
        }
        if loaded {
            let secs = progress.started.elapsed().as_secs_f64();
            tracing::info!("loaded {events} events from {} in {secs:.3}s", self.shown);
            if let Some(reason) = announce_reset {
                let reset = Published::Reset { reason: reason.to_string(), last_event_id, events_applied: events };
                let _ = self.published.send(Arc::new(reset));
            }
        } else if loading && progress.last_report.elapsed() >= Duration::from_secs(1) {
            progress.last_report = Instant::now();
            let consumed = position.consumed_bytes;
            match position.last_key {
                Some(key) => tracing::info!("loading {}: {events} events, at key {key}", self.shown),
                None => {
                    let pct = (100.0 * consumed as f64 / file_len.max(1) as f64).min(100.0);
                    tracing::info!("loading {}: {pct:.0}% ({consumed} of {file_len} bytes)", self.shown);
                }
            }
        }
    }

    /// Applies records in short write-locked batches, publishing what changed when recording, and
    /// runs `finish` under the write lock that applied the last of them.
    fn apply<R>(&self, records: &[(LogRecord, Prepared)], finish: impl FnOnce(&mut BuildState) -> R) -> R {
        let mut rest = records;
        let mut finish = Some(finish);
        loop {
            let mut notices = Vec::new();
            let result = {
                let mut state = self.write();
                let started = Instant::now();
                let mut applied = 0;
                for (record, prepared) in rest.iter().take(APPLY_BATCH) {
                    state.apply_prepared(&record.event, record.offset, prepared);
                    let changes = state.take_changes();
                    if !changes.is_empty() {
                        notices.push(changes::resolve_event(&state, record.event.event_id, record.offset, changes));
                    }
                    applied += 1;
                    if applied % 64 == 0 && started.elapsed() >= MAX_WRITE_HOLD {
                        break;
                    }
                }
                rest = &rest[applied..];
                rest.is_empty().then(|| (finish.take().expect("called once"))(&mut state))
            };
            for notice in notices {
                // No receivers is fine: nobody is subscribed.
                let _ = self.published.send(Arc::new(notice));
            }
            if let Some(result) = result {
                return result;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::{EventWriter, LogFormat};

    #[test]
    fn follows_a_log_and_publishes_changes_after_the_initial_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("demo.bel");
        let events = crate::events::demo_events();
        let mut writer = EventWriter::append_to(&path, LogFormat::Binary).unwrap();
        for e in &events[..5] {
            writer.write(e).unwrap();
        }
        writer.flush().unwrap();
        let live = Live::new();
        let options = LiveOptions { poll: Duration::from_millis(10), ..Default::default() };
        assert!(live.start(&path, options.clone()));
        assert!(!live.start(&path, options), "a second start is refused");
        assert!(live.wait_until(Duration::from_secs(10), |s, t| s.events_applied() == 5 && !t.loading));
        let (mut rx, last) = live.subscribe();
        assert_eq!(last, Some(5));
        for e in &events[5..] {
            writer.write(e).unwrap();
        }
        writer.flush().unwrap();
        let n = events.len() as u64;
        assert!(live.wait_until(Duration::from_secs(10), |s, _| s.events_applied() == n));
        let mut ids = Vec::new();
        while let Ok(p) = rx.try_recv() {
            ids.extend(p.event_id());
        }
        assert_eq!(ids.first(), Some(&6));
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(live.read().digest(), crate::cli::load_state(&path).unwrap().0.digest());
        live.stop();
    }
}
