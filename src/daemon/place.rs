//! Where a log's daemon lives, and what it says about itself.

use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::live::snapshot::SnapshotPlan;
use crate::log::source::SourceSpec;

/// The files of one log's daemon: `KEY.sock`, `KEY.lock`, `KEY.json` (its [`DaemonInfo`]) and
/// `KEY.log` (its stderr, when a forwarder started it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub dir: PathBuf,
    pub key: String,
}

/// What a daemon writes about itself (rewritten as sessions come and go).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DaemonInfo {
    pub pid: u32,
    pub version: String,
    /// The log, as messages show it (no password).
    pub log: String,
    pub socket: String,
    /// Milliseconds since the epoch.
    pub started_at: u64,
    /// Sessions on the daemon's socket (`dbl serve --remote auto`, one-shot commands).
    pub sessions: Vec<SessionInfo>,
    /// Language-server sessions on the listener's `/lsp` endpoint (`--remote ws://`), if it listens.
    #[serde(default)]
    pub lsp_sessions: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    pub id: u64,
    pub connected_at: u64,
}

/// The directory holding the daemons' sockets: `$XDG_RUNTIME_DIR/dbl`, else `/tmp/dbl-UID`; created
/// with mode 0700, and refused if another user owns it or others may enter it.
pub fn socket_dir() -> io::Result<PathBuf> {
    let dir = match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(runtime) => PathBuf::from(runtime).join("dbl"),
        None => std::env::temp_dir().join(format!("dbl-{}", current_uid())),
    };
    match std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io::Error::new(e.kind(), format!("cannot create {}: {e}", dir.display()))),
    }
    let meta = std::fs::metadata(&dir)?;
    if meta.uid() != current_uid() || meta.permissions().mode() & 0o077 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} is not private (owner {}, mode {:04o}): refusing to put daemon sockets there",
                dir.display(),
                meta.uid(),
                meta.permissions().mode() & 0o7777
            ),
        ));
    }
    Ok(dir)
}

fn current_uid() -> u32 {
    // The owner of a directory we just created is us; `/proc/self` says so without libc.
    std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(0)
}

/// The canonical form of a source: an absolute path with links resolved (as far as it exists), or
/// the URL.
pub fn canonical_source(spec: &SourceSpec) -> String {
    fn canonical(path: &Path) -> PathBuf {
        if let Ok(path) = path.canonicalize() {
            return path;
        }
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        match (absolute.parent(), absolute.file_name()) {
            (Some(parent), Some(name)) => canonical(parent).join(name),
            _ => absolute,
        }
    }
    match spec {
        SourceSpec::File(path) => format!("file:{}", canonical(path).display()),
        SourceSpec::Sqlite { path, layout } => format!("sqlite:{}?{layout:?}", canonical(path).display()),
        SourceSpec::Postgres { url, layout, notify } => format!("{url}?{layout:?}&{notify:?}"),
    }
}

/// Where daemons keep their snapshots: `$XDG_CACHE_HOME/dbl`, else `$HOME/.cache/dbl`, else the
/// socket directory. Made private to the user when created.
pub fn cache_dir() -> io::Result<PathBuf> {
    let home_cache = || std::env::var_os("HOME").filter(|h| !h.is_empty()).map(|h| PathBuf::from(h).join(".cache"));
    let dir = match std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()).map(PathBuf::from).or_else(home_cache) {
        Some(base) => base.join("dbl"),
        None => return socket_dir(),
    };
    if !dir.exists() {
        std::fs::create_dir_all(&dir)?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(dir)
}

/// The snapshot plan of the daemon for `spec`: one file per source and version of `dbl`.
pub fn snapshot_plan(spec: &SourceSpec, quiet: std::time::Duration) -> io::Result<SnapshotPlan> {
    let place = Place::in_dir(cache_dir()?, spec, env!("CARGO_PKG_VERSION"));
    Ok(SnapshotPlan { path: place.dir.join(format!("{}.snapshot", place.key)), source: canonical_source(spec), quiet })
}

impl Place {
    /// The place of the daemon for `spec`, of this version of `dbl`.
    pub fn for_source(spec: &SourceSpec) -> io::Result<Place> {
        Ok(Place::in_dir(socket_dir()?, spec, env!("CARGO_PKG_VERSION")))
    }

    /// The place in `dir` for `spec` and `version`.
    pub fn in_dir(dir: PathBuf, spec: &SourceSpec, version: &str) -> Place {
        let hash = blake3::hash(format!("{version}\0{}", canonical_source(spec)).as_bytes());
        Place { dir, key: hash.to_hex()[..20].to_string() }
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.join(format!("{}.sock", self.key))
    }

    pub fn lock(&self) -> PathBuf {
        self.dir.join(format!("{}.lock", self.key))
    }

    pub fn info(&self) -> PathBuf {
        self.dir.join(format!("{}.json", self.key))
    }

    pub fn log(&self) -> PathBuf {
        self.dir.join(format!("{}.log", self.key))
    }

    /// Writes the info file atomically (a reader never sees half of it).
    pub fn write_info(&self, info: &DaemonInfo) -> io::Result<()> {
        let tmp = self.dir.join(format!("{}.json.tmp", self.key));
        std::fs::write(&tmp, serde_json::to_vec_pretty(info).expect("info serializes"))?;
        std::fs::rename(tmp, self.info())
    }

    pub fn read_info(&self) -> Option<DaemonInfo> {
        serde_json::from_slice(&std::fs::read(self.info()).ok()?).ok()
    }

    /// Removes the socket and info files (a daemon leaving, or a dead one's remains).
    pub fn clean(&self) {
        let _ = std::fs::remove_file(self.socket());
        let _ = std::fs::remove_file(self.info());
    }
}

/// Every daemon place in the socket directory, with its info if readable.
pub fn all() -> io::Result<Vec<(Place, Option<DaemonInfo>)>> {
    let dir = socket_dir()?;
    let mut places = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if let Some(key) = name.strip_suffix(".sock") {
            let place = Place { dir: dir.clone(), key: key.to_string() };
            let info = place.read_info();
            places.push((place, info));
        }
    }
    places.sort_by(|a, b| a.0.key.cmp(&b.0.key));
    Ok(places)
}

/// Whether a process with this id is alive.
pub fn alive(pid: u32) -> bool {
    // A zombie (exited, not yet reaped by the process that started it) is not alive.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rsplit_once(") ").is_none_or(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_differ_by_source_and_version_and_agree_on_spellings() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("bel.log");
        std::fs::write(&log, b"").unwrap();
        let spec = SourceSpec::File(log.clone());
        let via_dots = SourceSpec::File(dir.path().join(".").join("bel.log"));
        let here = PathBuf::from("/run/x");
        assert_eq!(Place::in_dir(here.clone(), &spec, "1.0"), Place::in_dir(here.clone(), &via_dots, "1.0"));
        assert_ne!(Place::in_dir(here.clone(), &spec, "1.0"), Place::in_dir(here.clone(), &spec, "1.1"));
        let other = SourceSpec::File(dir.path().join("other.log"));
        assert_ne!(Place::in_dir(here.clone(), &spec, "1.0"), Place::in_dir(here, &other, "1.0"));
    }
}
