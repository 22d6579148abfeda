//! Snapshots: a [`BuildState`] saved with the [`Checkpoint`] of the source it was built from, so a
//! restarted daemon goes on from where the last one stopped instead of replaying the whole log.
//!
//! A snapshot is never trusted: it is used only if its magic, format, `dbl` version and source all
//! match, its checksum holds, the state decodes with every index in range, and the source still
//! holds what had been read ([`crate::log::source::Source::restore`]). Anything else discards it
//! with a log line, and the log is read from its start.
//!
//! Layout: `DBLSNAP1`, the state (postcard), then a JSON header, then the header's length as a
//! little-endian `u32`. The header comes last so the state can be streamed out while its checksum
//! is computed, without holding a second copy of it in memory.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::log::source::Checkpoint;
use crate::state::BuildState;

const MAGIC: &[u8; 8] = b"DBLSNAP1";
/// The layout above; bumped when it changes, or when the state's encoding changes within one `version`
/// (2: digest prints became XXH3-128).
const FORMAT: u32 = 2;

/// Where and when a live state is saved.
#[derive(Debug, Clone)]
pub struct SnapshotPlan {
    pub path: PathBuf,
    /// The source, canonically spelled: a snapshot of another source is never loaded.
    pub source: String,
    /// Save once the log has been quiet this long (and on shutdown).
    pub quiet: Duration,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Header {
    format: u32,
    version: String,
    source: String,
    checkpoint: Checkpoint,
    events_applied: u64,
    state_bytes: u64,
    state_xxh3: u64,
}

/// A writer that hashes and counts what passes through it, and refuses to go on once `abandon` says so
/// (asked every [`ABANDON_CHECK_BYTES`]), so a save gives way to new records within milliseconds.
struct Hashing<'a, W> {
    inner: W,
    hasher: xxhash_rust::xxh3::Xxh3,
    bytes: u64,
    abandon: &'a dyn Fn() -> bool,
    next_check: u64,
    abandoned: bool,
}

const ABANDON_CHECK_BYTES: u64 = 64 << 10;

impl<W: Write> Write for Hashing<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.bytes >= self.next_check {
            self.next_check = self.bytes + ABANDON_CHECK_BYTES;
            if (self.abandon)() {
                self.abandoned = true;
                return Err(io::Error::other("snapshot abandoned"));
            }
        }
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes `state` and `checkpoint` to `plan.path` (through a temporary file and a rename, so a
/// reader never sees half a snapshot). Returns the file's size, or `None` if `abandon` said to stop
/// (asked as the state is written: new records are waiting); then nothing is changed on disk.
pub fn save(
    plan: &SnapshotPlan,
    state: &BuildState,
    checkpoint: &Checkpoint,
    abandon: &dyn Fn() -> bool,
) -> io::Result<Option<u64>> {
    if let Some(dir) = plan.path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let temp = plan.path.with_extension(format!("tmp.{}", std::process::id()));
    let mut abandoned = false;
    let result = (|| {
        let file = BufWriter::new(File::create(&temp)?);
        let mut out =
            Hashing { inner: file, hasher: Default::default(), bytes: 0, abandon, next_check: 0, abandoned: false };
        out.write_all(MAGIC)?;
        let before = out.bytes;
        let encoded = state.encode(&mut out);
        abandoned = out.abandoned;
        encoded?;
        let header = Header {
            format: FORMAT,
            version: env!("CARGO_PKG_VERSION").to_string(),
            source: plan.source.clone(),
            checkpoint: checkpoint.clone(),
            events_applied: state.events_applied(),
            state_bytes: out.bytes - before,
            state_xxh3: out.hasher.digest(),
        };
        let mut file = out.inner;
        // The checksum covers the magic and the state; the header is checked field by field.
        let header = serde_json::to_vec(&header)?;
        file.write_all(&header)?;
        file.write_all(&(header.len() as u32).to_le_bytes())?;
        let file = file.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok(file.metadata()?.len())
    })();
    match result {
        Ok(size) => std::fs::rename(&temp, &plan.path).map(|()| Some(size)),
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            if abandoned {
                Ok(None)
            } else {
                Err(e)
            }
        }
    }
}

/// Reads the snapshot at `plan.path`. `Ok(None)`: there is none. `Err`: there is one, unusable for
/// the reason given (the caller discards it).
pub fn load(plan: &SnapshotPlan) -> Result<Option<(BuildState, Checkpoint)>, String> {
    let file = match File::open(&plan.path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot open it: {e}")),
    };
    // Mapped, not read: the bytes stay in the page cache instead of half a gigabyte of fresh memory.
    // SAFETY: snapshots are written to a temporary file and renamed into place, never modified in
    // place, so the mapping does not change under us (a user editing it by hand gets a checksum error).
    let bytes = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| format!("cannot map it: {e}"))?;
    let (header, state_bytes) = split(&bytes)?;
    let version = env!("CARGO_PKG_VERSION");
    if header.format != FORMAT || header.version != version {
        return Err(format!("written by dbl {} (format {}), this is {version}", header.version, header.format));
    }
    if header.source != plan.source {
        return Err(format!("it is of {}, not {}", header.source, plan.source));
    }
    let hashed = &bytes[..MAGIC.len() + state_bytes.len()];
    // Checked while the state decodes (decoding is safe on any bytes); used only if it holds.
    let (checksum, state) = std::thread::scope(|scope| {
        let checksum = scope.spawn(|| xxhash_rust::xxh3::xxh3_64(hashed));
        let state = BuildState::decode(state_bytes);
        (checksum.join().expect("hashing does not panic"), state)
    });
    if checksum != header.state_xxh3 {
        return Err("its checksum does not match (a corrupt file)".into());
    }
    let state = state.map_err(|e| format!("its state does not decode: {e}"))?;
    if state.events_applied() != header.events_applied {
        return Err("its state does not match its header".into());
    }
    Ok(Some((state, header.checkpoint)))
}

fn split(bytes: &[u8]) -> Result<(Header, &[u8]), String> {
    let corrupt = |what: &str| format!("not a dbl snapshot ({what})");
    if bytes.len() < MAGIC.len() + 4 || &bytes[..MAGIC.len()] != MAGIC {
        return Err(corrupt("no magic"));
    }
    let (rest, len) = bytes.split_at(bytes.len() - 4);
    let header_len = u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize;
    if header_len > rest.len() - MAGIC.len() {
        return Err(corrupt("its header length is past its start"));
    }
    let (body, header) = rest.split_at(rest.len() - header_len);
    let header: Header = serde_json::from_slice(header).map_err(|e| corrupt(&format!("header: {e}")))?;
    let state = &body[MAGIC.len()..];
    if state.len() as u64 != header.state_bytes {
        return Err(corrupt("its state is not the length its header gives"));
    }
    Ok((header, state))
}

/// Removes a snapshot found unusable, so it is not read again.
pub fn discard(path: &Path) {
    let _ = std::fs::remove_file(path);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::LogFormat;

    fn plan(dir: &Path) -> SnapshotPlan {
        SnapshotPlan { path: dir.join("s.snapshot"), source: "/logs/a.bel".into(), quiet: Duration::from_secs(1) }
    }

    fn checkpoint() -> Checkpoint {
        Checkpoint::File { consumed_bytes: 10, line: 1, format: LogFormat::Binary, print: 7 }
    }

    #[test]
    fn saves_and_loads_and_refuses_what_does_not_match() {
        let dir = tempfile::tempdir().unwrap();
        let events = crate::sim::generate_vec(crate::sim::SimConfig { events: 5_000, seed: 2 });
        let state = BuildState::from_events(&events);
        let plan = plan(dir.path());
        assert!(matches!(load(&plan), Ok(None)));
        let size = save(&plan, &state, &checkpoint(), &|| false).unwrap().unwrap();
        assert!(size > 2 * ABANDON_CHECK_BYTES, "large enough to be abandoned part way: {size} bytes");
        let (loaded, at) = load(&plan).unwrap().unwrap();
        assert_eq!((loaded.digest(), at), (state.digest(), checkpoint()));

        // A save abandoned part way (records arrived) leaves the last snapshot as it was, and no litter.
        let later = BuildState::from_events(&events[..4_000]);
        let asked = std::cell::Cell::new(0);
        let abandon = || {
            asked.set(asked.get() + 1);
            asked.get() > 1
        };
        assert_eq!(save(&plan, &later, &checkpoint(), &abandon).unwrap(), None);
        assert_eq!(asked.get(), 2, "asked before the first write, then once more");
        assert_eq!(load(&plan).unwrap().unwrap().0.digest(), state.digest());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "the temporary file is gone");

        let other = SnapshotPlan { source: "/logs/b.bel".into(), ..plan.clone() };
        assert!(load(&other).unwrap_err().contains("not /logs/b.bel"));

        let mut bytes = std::fs::read(&plan.path).unwrap();
        bytes[100] ^= 1;
        std::fs::write(&plan.path, &bytes).unwrap();
        assert!(load(&plan).unwrap_err().contains("checksum"));

        std::fs::write(&plan.path, &bytes[..bytes.len() / 2]).unwrap();
        assert!(load(&plan).is_err());
        std::fs::write(&plan.path, b"DBLSNAP1").unwrap();
        assert!(load(&plan).unwrap_err().contains("not a dbl snapshot"));
    }
}
