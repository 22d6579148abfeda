//! Following a log file as it grows: the I/O half of the daemon's ingest loop.
//!
//! [`Tailer::poll`] re-stats the file and reads what was appended since the last call, feeding the
//! incremental [`Decoder`]. It never trusts a filesystem notification to say *what* happened; notify
//! ([`Wakeups`]) is only a hint that it is worth polling now instead of at the next timer tick.
//!
//! - A file that does not exist yet is waited for ([`Poll::Missing`]).
//! - A file that shrank, was replaced (new device/inode), or whose first bytes changed is reported as
//!   [`Poll::Reset`]; the next poll reads the new file from byte 0 with a fresh decoder.
//! - A record cut off at the end of the file stays pending in the decoder until the rest arrives.
//! - A corrupt record latches the decoder: it is reported once ([`Read::new_error`]) and nothing after
//!   it is read until the file is replaced or truncated.
//!
//! Per poll the work is one `stat`, one small `pread` of the file's head and reading the new bytes:
//! independent of the log's size.

use std::fs::File;
use std::io::{self, Read as _, Seek as _};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use super::source::Checkpoint;
use super::{DecodeError, Decoder, LogFormat, LogRecord};

/// How many leading bytes of the file are remembered to notice an in-place rewrite.
const HEAD_BYTES: usize = 64;

/// Why the tailer started over from byte 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetReason {
    /// The path now names a different file (new device or inode): replaced by rename, or recreated.
    Replaced,
    /// The file is shorter than what was already read.
    Truncated,
    /// The file's first bytes (a table's first row) differ from what was read before: rewritten in place.
    Rewritten,
    /// A table's rows read before are gone (a re-created table, a restored backup).
    RowsVanished,
    /// A table's largest key is below the last key read.
    KeysWentBack,
}

impl ResetReason {
    pub fn name(self) -> &'static str {
        match self {
            ResetReason::Replaced => "replaced",
            ResetReason::Truncated => "truncated",
            ResetReason::Rewritten => "rewritten",
            ResetReason::RowsVanished => "emptied of the rows read before",
            ResetReason::KeysWentBack => "rewound (its keys went backwards)",
        }
    }
}

/// What one [`Tailer::poll`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Poll {
    /// The file does not exist (yet, or any more). Nothing was read.
    Missing,
    /// The file must be read again from the start: drop everything built from it so far.
    /// Nothing was read; the next poll starts at byte 0.
    Reset(ResetReason),
    /// New bytes (possibly none) were read and their complete records handed to the sink.
    Read(Read),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Read {
    pub bytes_read: u64,
    /// The end of the file was reached (false when the byte budget ran out first: poll again).
    pub at_end: bool,
    /// The size of the file at the `stat` that began this poll.
    pub file_len: u64,
    /// Set on the one poll in which the decoder hit a bad record.
    pub new_error: Option<DecodeError>,
}

/// Follows one log file. See the module docs.
#[derive(Debug)]
pub struct Tailer {
    path: PathBuf,
    file: Option<File>,
    identity: (u64, u64),
    /// Bytes read from the file so far (consumed by the decoder plus pending in it).
    read_pos: u64,
    head: Vec<u8>,
    decoder: Decoder,
    block: Vec<u8>,
}

impl Tailer {
    pub fn new(path: impl Into<PathBuf>) -> Tailer {
        Tailer {
            path: path.into(),
            file: None,
            identity: (0, 0),
            read_pos: 0,
            head: Vec::new(),
            decoder: Decoder::new(),
            block: vec![0; 1 << 20],
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn format(&self) -> Option<LogFormat> {
        self.decoder.format()
    }

    /// Bytes used by complete records: everything before this offset has been handed to a sink.
    pub fn consumed_bytes(&self) -> u64 {
        self.decoder.consumed_bytes()
    }

    /// Bytes of an incomplete last record, waiting for the rest.
    pub fn pending_bytes(&self) -> u64 {
        self.decoder.pending_bytes() as u64
    }

    /// The bad record that stopped decoding, if any.
    pub fn error(&self) -> Option<&DecodeError> {
        self.decoder.error()
    }

    /// Re-stats the file and reads at most about `budget` new bytes, handing complete records to `sink`.
    /// `Err` is only for I/O errors other than "not found" (the caller retries on the next tick).
    pub fn poll(&mut self, budget: usize, sink: &mut dyn FnMut(LogRecord)) -> io::Result<Poll> {
        let meta = match std::fs::metadata(&self.path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Poll::Missing),
            Err(e) => return Err(e),
        };
        if let Some(reason) = self.reset_reason(&meta)? {
            self.start_over();
            return Ok(Poll::Reset(reason));
        }
        if self.file.is_none() {
            let file = match File::open(&self.path) {
                Ok(file) => file,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Poll::Missing),
                Err(e) => return Err(e),
            };
            // Identity from the opened file, not the earlier stat: the path may have changed in between.
            let opened = file.metadata()?;
            self.identity = (opened.dev(), opened.ino());
            self.file = Some(file);
        }
        let file_len = meta.len();
        if self.decoder.error().is_some() {
            // Latched: nothing after a bad record is ever applied. Wait for a replace or truncate.
            return Ok(Poll::Read(Read { bytes_read: 0, at_end: true, file_len, new_error: None }));
        }
        let file = self.file.as_mut().expect("opened above");
        let mut bytes_read = 0u64;
        let mut at_end = false;
        let mut new_error = None;
        while (bytes_read as usize) < budget {
            let n = match file.read(&mut self.block) {
                Ok(0) => {
                    at_end = true;
                    break;
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let chunk = &self.block[..n];
            if self.head.len() < HEAD_BYTES && self.read_pos < HEAD_BYTES as u64 {
                let take = (HEAD_BYTES - self.head.len()).min(n);
                self.head.extend_from_slice(&chunk[..take]);
            }
            self.read_pos += n as u64;
            bytes_read += n as u64;
            if let Err(error) = self.decoder.feed(chunk, sink) {
                new_error = Some(error);
                at_end = true;
                break;
            }
        }
        Ok(Poll::Read(Read { bytes_read, at_end, file_len, new_error }))
    }

    /// Where this tailer stands: see [`Checkpoint::File`].
    pub fn checkpoint(&mut self) -> io::Result<Option<Checkpoint>> {
        let (Some(file), Some(format)) = (&self.file, self.decoder.format()) else { return Ok(None) };
        if self.decoder.error().is_some() {
            return Ok(None);
        }
        let consumed_bytes = self.decoder.consumed_bytes();
        let print = prefix_print(file, consumed_bytes)?;
        Ok(Some(Checkpoint::File { consumed_bytes, line: self.decoder.line(), format, print }))
    }

    /// Goes on from `checkpoint` if the file at this path still starts with the bytes it was taken
    /// over (same fingerprint); otherwise leaves the tailer as it was.
    pub fn restore(&mut self, checkpoint: &Checkpoint) -> io::Result<bool> {
        let Checkpoint::File { consumed_bytes, line, format, print } = *checkpoint else { return Ok(false) };
        let file = match File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        let meta = file.metadata()?;
        if meta.len() < consumed_bytes || prefix_print(&file, consumed_bytes)? != print {
            return Ok(false);
        }
        let mut head = vec![0u8; HEAD_BYTES.min(consumed_bytes as usize)];
        file.read_exact_at(&mut head, 0)?;
        let mut file = file;
        file.seek(io::SeekFrom::Start(consumed_bytes))?;
        *self = Tailer {
            identity: (meta.dev(), meta.ino()),
            file: Some(file),
            read_pos: consumed_bytes,
            head,
            decoder: Decoder::resume(format, consumed_bytes, line),
            ..Tailer::new(self.path.clone())
        };
        Ok(true)
    }

    fn reset_reason(&self, meta: &std::fs::Metadata) -> io::Result<Option<ResetReason>> {
        let Some(file) = &self.file else { return Ok(None) };
        if (meta.dev(), meta.ino()) != self.identity {
            return Ok(Some(ResetReason::Replaced));
        }
        if meta.len() < self.read_pos {
            return Ok(Some(ResetReason::Truncated));
        }
        if !self.head.is_empty() {
            let mut now = vec![0u8; self.head.len()];
            let mut filled = 0;
            while filled < now.len() {
                match file.read_at(&mut now[filled..], filled as u64) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
            if now[..filled] != self.head[..filled] || filled < self.head.len() {
                return Ok(Some(if filled < self.head.len() {
                    ResetReason::Truncated
                } else {
                    ResetReason::Rewritten
                }));
            }
        }
        Ok(None)
    }

    fn start_over(&mut self) {
        self.file = None;
        self.identity = (0, 0);
        self.read_pos = 0;
        self.head.clear();
        self.decoder = Decoder::new();
    }
}

/// A fingerprint of a file's first `len` bytes, read in about 400 KiB whatever the size: the first
/// and last 64 KiB and 62 windows of 4 KiB spread evenly between. Logs are appended to, never edited
/// in place, so a replaced or rewritten log differs somewhere it looks; a full hash of a 10 GB log
/// would take seconds of a restart that should take one.
pub fn prefix_print(file: &File, len: u64) -> io::Result<u64> {
    const EDGE: u64 = 64 << 10;
    const WINDOW: u64 = 4 << 10;
    const WINDOWS: u64 = 62;
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(&len.to_le_bytes());
    let mut buffer = Vec::new();
    let mut take = |start: u64, end: u64| -> io::Result<()> {
        buffer.resize((end - start) as usize, 0);
        file.read_exact_at(&mut buffer, start)?;
        hasher.update(&buffer);
        Ok(())
    };
    take(0, len.min(EDGE))?;
    if len > 2 * EDGE + WINDOW {
        for k in 1..=WINDOWS {
            let start = EDGE + (len - 2 * EDGE - WINDOW) * k / (WINDOWS + 1);
            take(start, start + WINDOW)?;
        }
    }
    take(len.saturating_sub(EDGE).max(len.min(EDGE)), len)?;
    Ok(hasher.digest())
}

/// Wake-up hints for a tailer: filesystem notifications on the log's directory, coalesced into a
/// channel of capacity one. Lost or spurious notifications are harmless: the poll timer is the floor.
pub struct Wakeups {
    _watcher: Option<notify::RecommendedWatcher>,
    /// Hints come from elsewhere (a PostgreSQL `LISTEN`).
    listening: bool,
}

impl Wakeups {
    /// Watches the directory holding `path` (non-recursively) and sends `()` on `wake` for any event
    /// that may concern the file. Returns `Wakeups { None }` with a warning if watching is impossible
    /// (no such directory, no inotify watches left): polling alone still works.
    pub fn watch(path: &Path, wake: mpsc::SyncSender<WakeReason>) -> Wakeups {
        Wakeups::watch_names(path, &[""], wake)
    }

    /// Like [`Wakeups::watch`], for a SQLite database: also its `-wal` and `-journal` files, where a
    /// writer's commits land first. (Not `-shm`: readers write to it, so our own polls would wake us.)
    pub fn watch_with_journals(path: &Path, wake: mpsc::SyncSender<WakeReason>) -> Wakeups {
        Wakeups::watch_names(path, &["", "-wal", "-journal"], wake)
    }

    fn watch_names(path: &Path, suffixes: &[&str], wake: mpsc::SyncSender<WakeReason>) -> Wakeups {
        use notify::Watcher as _;
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let names: Vec<std::ffi::OsString> = match path.file_name() {
            Some(name) => suffixes
                .iter()
                .map(|suffix| {
                    let mut name = name.to_os_string();
                    name.push(suffix);
                    name
                })
                .collect(),
            None => Vec::new(),
        };
        let handler = move |event: notify::Result<notify::Event>| {
            let relevant = match &event {
                Ok(event) => {
                    event.paths.is_empty()
                        || event.need_rescan()
                        || event.paths.iter().any(|p| p.file_name().is_some_and(|n| names.iter().any(|m| m == n)))
                }
                Err(_) => true,
            };
            if relevant {
                // Full means a wake-up is already queued: coalesce.
                let _ = wake.try_send(WakeReason::Notify);
            }
        };
        let watcher = notify::recommended_watcher(handler).and_then(|mut watcher| {
            watcher.watch(&dir, notify::RecursiveMode::NonRecursive)?;
            Ok(watcher)
        });
        match watcher {
            Ok(watcher) => Wakeups { _watcher: Some(watcher), listening: false },
            Err(e) => {
                tracing::warn!("cannot watch {} for changes ({e}); polling only", dir.display());
                Wakeups::none()
            }
        }
    }

    /// No notifications: the poll timer alone.
    pub fn none() -> Wakeups {
        Wakeups { _watcher: None, listening: false }
    }

    /// No filesystem notifications, but hints from a listener thread if `listening`.
    pub fn none_but(listening: bool) -> Wakeups {
        Wakeups { _watcher: None, listening }
    }

    /// Whether anything besides the poll timer wakes the follower.
    pub fn is_watching(&self) -> bool {
        self._watcher.is_some() || self.listening
    }
}

/// What woke a tail loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WakeReason {
    Notify,
    Stop,
}

/// How a follow loop waits between polls: for a wake-up hint or the poll timer. A hint can come
/// before what it announces is readable (a SQLite writer appends to its `-wal` file, then publishes the
/// commit in the `-shm` index, which is memory-mapped and raises no notification), so a poll after a
/// hint that found nothing is followed by a few quick ones (1, 4, 16 and 64 ms later) before the loop
/// falls back to the timer.
pub struct Waiter {
    wake: mpsc::Receiver<WakeReason>,
    poll: Duration,
    /// Quick polls left after the last hint.
    settling: u32,
}

const SETTLE_POLLS: u32 = 4;

impl Waiter {
    pub fn new(wake: mpsc::Receiver<WakeReason>, poll: Duration) -> Waiter {
        Waiter { wake, poll, settling: 0 }
    }

    /// Waits before the next poll; `found_nothing`: the last poll read nothing new. Returns `false`
    /// when told to stop (or every sender is gone).
    pub fn wait(&mut self, found_nothing: bool) -> bool {
        if !found_nothing {
            self.settling = 0;
        }
        let timeout = match self.settling {
            0 => self.poll,
            left => self.poll.min(Duration::from_millis(1 << (2 * (SETTLE_POLLS - left)))),
        };
        self.settling = self.settling.saturating_sub(1);
        match self.wake.recv_timeout(timeout) {
            Ok(WakeReason::Notify) => {
                self.settling = SETTLE_POLLS;
                true
            }
            Err(mpsc::RecvTimeoutError::Timeout) => true,
            Ok(WakeReason::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => false,
        }
    }
}

/// Whether a poll read nothing new.
pub fn found_nothing(polled: &io::Result<Poll>) -> bool {
    !matches!(polled, Ok(Poll::Read(read)) if read.bytes_read > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::encode_record;
    use std::io::Write;

    fn records(n: std::ops::RangeInclusive<u64>) -> Vec<u8> {
        let mut out = Vec::new();
        for id in n {
            let event = crate::proto::DataBuildEvent {
                timestamp: id,
                event_id: id,
                event: Some(crate::events::job_run_queue(&format!("JR-{id}"))),
            };
            encode_record(&event, LogFormat::Binary, &mut out);
        }
        out
    }

    fn poll_ids(tailer: &mut Tailer) -> (Poll, Vec<u64>) {
        let mut ids = Vec::new();
        let poll = tailer.poll(usize::MAX, &mut |r| ids.push(r.event.event_id)).unwrap();
        (poll, ids)
    }

    #[test]
    fn waits_for_missing_file_then_reads_split_records() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bel");
        let mut tailer = Tailer::new(&path);
        assert_eq!(poll_ids(&mut tailer).0, Poll::Missing);
        let bytes = records(1..=3);
        let mut file = File::create(&path).unwrap();
        file.write_all(&bytes[..bytes.len() - 2]).unwrap();
        let (poll, ids) = poll_ids(&mut tailer);
        assert!(matches!(poll, Poll::Read(Read { at_end: true, .. })));
        assert_eq!(ids, vec![1, 2]);
        assert!(tailer.pending_bytes() > 0);
        file.write_all(&bytes[bytes.len() - 2..]).unwrap();
        assert_eq!(poll_ids(&mut tailer).1, vec![3]);
        assert_eq!(tailer.consumed_bytes(), bytes.len() as u64);
    }

    #[test]
    fn truncate_replace_and_rewrite_start_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bel");
        std::fs::write(&path, records(1..=5)).unwrap();
        let mut tailer = Tailer::new(&path);
        assert_eq!(poll_ids(&mut tailer).1, vec![1, 2, 3, 4, 5]);

        std::fs::OpenOptions::new().write(true).truncate(true).open(&path).unwrap().write_all(&records(1..=2)).unwrap();
        assert_eq!(poll_ids(&mut tailer).0, Poll::Reset(ResetReason::Truncated));
        assert_eq!(poll_ids(&mut tailer).1, vec![1, 2]);

        let other = dir.path().join("bel.new");
        std::fs::write(&other, records(1..=7)).unwrap();
        std::fs::rename(&other, &path).unwrap();
        assert_eq!(poll_ids(&mut tailer).0, Poll::Reset(ResetReason::Replaced));
        assert_eq!(poll_ids(&mut tailer).1, (1..=7).collect::<Vec<_>>());

        // Same inode, same or larger size, different first bytes.
        std::fs::OpenOptions::new().write(true).open(&path).unwrap().write_all(&records(10..=17)).unwrap();
        assert_eq!(poll_ids(&mut tailer).0, Poll::Reset(ResetReason::Rewritten));
        assert_eq!(poll_ids(&mut tailer).1, (10..=17).collect::<Vec<_>>());
    }

    #[test]
    fn corrupt_record_is_reported_once_and_latches_until_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bel");
        let mut bytes = records(1..=2);
        let bad_at = bytes.len() as u64;
        bytes.extend_from_slice(&[3, 0xff, 0xff, 0xff]);
        std::fs::write(&path, &bytes).unwrap();
        let mut tailer = Tailer::new(&path);
        let (poll, ids) = poll_ids(&mut tailer);
        assert_eq!(ids, vec![1, 2]);
        let Poll::Read(Read { new_error: Some(error), .. }) = poll else { panic!("error expected: {poll:?}") };
        assert_eq!(error.offset, bad_at);
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(&records(3..=3)).unwrap();
        assert!(
            matches!(poll_ids(&mut tailer), (Poll::Read(Read { new_error: None, bytes_read: 0, .. }), ids) if ids.is_empty())
        );
        std::fs::write(dir.path().join("x"), records(1..=4)).unwrap();
        std::fs::rename(dir.path().join("x"), &path).unwrap();
        assert_eq!(poll_ids(&mut tailer).0, Poll::Reset(ResetReason::Replaced));
        assert_eq!(poll_ids(&mut tailer).1, vec![1, 2, 3, 4]);
        assert!(tailer.error().is_none());
    }

    #[test]
    fn budget_bounds_one_poll() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bel");
        std::fs::write(&path, records(1..=50_000)).unwrap();
        let mut tailer = Tailer::new(&path);
        let mut count = 0;
        let poll = tailer.poll(1, &mut |_| count += 1).unwrap();
        assert!(matches!(poll, Poll::Read(Read { at_end: false, .. })), "{poll:?}");
        while !matches!(tailer.poll(1, &mut |_| count += 1).unwrap(), Poll::Read(Read { at_end: true, .. })) {}
        assert_eq!(count, 50_000);
    }
}
