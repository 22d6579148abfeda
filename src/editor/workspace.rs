//! Where refs appear outside the open documents: a bounded, read-only walk of the workspace folders.
//!
//! This is the editor layer's only contact with the filesystem, behind the [`WorkspaceFiles`] trait
//! so the features stay testable with an in-memory workspace. The walk uses ripgrep's `ignore`
//! crate: it honours `.gitignore` (also outside a git repository), `.ignore` and hidden-file rules,
//! skips files larger than [`Bounds::max_file_bytes`] and binary files (a NUL byte), and stops after
//! [`Bounds::max_files`] files, [`Bounds::max_total_bytes`] bytes or [`Bounds::max_duration`],
//! whichever comes first. Build event logs are skipped (they name every ref): the configured
//! `eventLog` by path, and any file whose first line looks like a JSON-lines BEL record. (The daemon answers editor requests on a snapshot of the state, so a
//! search must stay short: the time bound caps how long it can hold that snapshot.)

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lsp_types::Uri;

/// Limits of one workspace search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub max_files: usize,
    pub max_file_bytes: u64,
    pub max_total_bytes: u64,
    pub max_duration: Duration,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            max_files: 20_000,
            max_file_bytes: 1 << 20,
            max_total_bytes: 64 << 20,
            max_duration: Duration::from_millis(1500),
        }
    }
}

/// A source of workspace files. `visit` calls `f(uri, text)` for each file until `f` returns false.
pub trait WorkspaceFiles {
    fn visit(&self, f: &mut dyn FnMut(&Uri, &str) -> bool);
}

/// No workspace (no folders were given).
impl WorkspaceFiles for () {
    fn visit(&self, _f: &mut dyn FnMut(&Uri, &str) -> bool) {}
}

/// Files in memory, for tests.
impl WorkspaceFiles for Vec<(Uri, String)> {
    fn visit(&self, f: &mut dyn FnMut(&Uri, &str) -> bool) {
        for (uri, text) in self {
            if !f(uri, text) {
                return;
            }
        }
    }
}

/// The workspace folders on disk.
#[derive(Debug, Clone, Default)]
pub struct FsWorkspace {
    pub roots: Vec<PathBuf>,
    pub bounds: Bounds,
    /// Files never searched (the event log being served).
    pub exclude: Vec<PathBuf>,
}

/// Whether `text` starts like a JSON-lines build event log.
pub fn looks_like_event_log(text: &str) -> bool {
    let head = &text[..char_floor(text, 512)];
    let first = head.lines().next().unwrap_or("");
    first.trim_start().starts_with('{')
        && first.contains("\"timestamp\"")
        && (first.contains("\"eventId\"") || first.contains("\"event_id\""))
}

/// The largest char boundary of `text` at or before byte `at`.
pub fn char_floor(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

impl WorkspaceFiles for FsWorkspace {
    fn visit(&self, f: &mut dyn FnMut(&Uri, &str) -> bool) {
        let Some((first, rest)) = self.roots.split_first() else { return };
        let mut builder = ignore::WalkBuilder::new(first);
        for root in rest {
            builder.add(root);
        }
        builder
            .require_git(false)
            .follow_links(false)
            .max_filesize(Some(self.bounds.max_file_bytes))
            .sort_by_file_path(Ord::cmp);
        let (mut files, mut bytes, started) = (0usize, 0u64, Instant::now());
        for entry in builder.build() {
            let entry = match entry {
                Ok(entry) => entry,
                Err(error) => {
                    tracing::debug!(%error, "workspace walk: skipped an entry");
                    continue;
                }
            };
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                continue;
            }
            if self.exclude.iter().any(|p| p == entry.path()) {
                continue;
            }
            let Ok(data) = std::fs::read(entry.path()) else { continue };
            files += 1;
            bytes += data.len() as u64;
            if files > self.bounds.max_files
                || bytes > self.bounds.max_total_bytes
                || started.elapsed() > self.bounds.max_duration
            {
                tracing::info!(files, bytes, "workspace search stopped at its bounds");
                return;
            }
            if data.contains(&0) {
                continue;
            }
            let text = String::from_utf8_lossy(&data);
            if looks_like_event_log(&text) {
                continue;
            }
            if !f(&path_to_uri(entry.path()), &text) {
                return;
            }
        }
    }
}

/// `file://` URI of an absolute path, percent-encoding what RFC 3986 does not allow in a path.
pub fn path_to_uri(path: &Path) -> Uri {
    let raw = path.to_string_lossy();
    let mut out = String::from("file://");
    if !raw.starts_with('/') {
        out.push('/');
    }
    for &b in raw.replace('\\', "/").as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out.parse().expect("a percent-encoded file URI parses")
}

/// The path of a `file://` URI, or `None` for other schemes.
pub fn uri_to_path(uri: &Uri) -> Option<PathBuf> {
    let rest = uri.as_str().strip_prefix("file://")?;
    let path = rest.find('/').map(|i| &rest[i..])?;
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            // Bytes, not `str` slicing, so no input can split a character.
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    Some(PathBuf::from(String::from_utf8_lossy(&out).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_and_paths_round_trip() {
        let path = Path::new("/w/my dir/ä#1.py");
        let uri = path_to_uri(path);
        assert_eq!(uri.as_str(), "file:///w/my%20dir/%C3%A4%231.py");
        assert_eq!(uri_to_path(&uri).unwrap(), path);
        assert_eq!(uri_to_path(&"untitled:Untitled-1".parse().unwrap()), None);
    }

    #[test]
    fn real_world_files_never_break_a_search() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        // A multi-byte character across byte 512, where the event-log sniffing looks.
        let mut straddling = "x".repeat(511);
        straddling.push_str("é data/beta\n");
        std::fs::write(root.join("a.md"), &straddling).unwrap();
        std::fs::write(root.join("b.txt"), b"\xff\xfe not utf-8 data/beta").unwrap();
        std::fs::write(root.join("c.txt"), "┌─ data/beta ─┐ 🚀\n".repeat(100_000)).unwrap();
        std::os::unix::fs::symlink(root, root.join("loop")).unwrap();
        std::os::unix::fs::symlink(root.join("nowhere"), root.join("dangling")).unwrap();
        let fifo = root.join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let ws = FsWorkspace { roots: vec![root.to_path_buf()], ..FsWorkspace::default() };
        let mut seen = Vec::new();
        ws.visit(&mut |uri, text| {
            seen.push((uri_to_path(uri).unwrap().file_name().unwrap().to_string_lossy().into_owned(), text.len()));
            true
        });
        let names: Vec<&str> = seen.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["a.md", "b.txt"],
            "the 2.6 MB file is over the size bound; links and the FIFO are not followed"
        );
        assert!(!looks_like_event_log(&straddling));
        assert_eq!(char_floor("aé", 2), 1);
    }

    #[test]
    fn walk_honours_gitignore_and_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join(".gitignore"), "ignored/\n").unwrap();
        std::fs::create_dir(root.join("ignored")).unwrap();
        std::fs::write(root.join("ignored/x.py"), "data/beta").unwrap();
        std::fs::write(root.join("a.py"), "data/beta").unwrap();
        std::fs::write(root.join("b.bin"), b"data/beta\0").unwrap();
        std::fs::write(root.join("c.txt"), "data/alpha").unwrap();
        std::fs::write(root.join("d.jsonl"), "{\"timestamp\":\"1\",\"eventId\":\"1\",\"wantCreateV1\":{}}\n").unwrap();
        std::fs::write(root.join("e.bel"), "data/beta").unwrap();
        let ws = FsWorkspace {
            roots: vec![root.to_path_buf()],
            bounds: Bounds::default(),
            exclude: vec![root.join("e.bel")],
        };
        let mut seen = Vec::new();
        ws.visit(&mut |uri, text| {
            seen.push((uri_to_path(uri).unwrap().strip_prefix(root).unwrap().to_path_buf(), text.to_string()));
            true
        });
        let names: Vec<_> = seen.iter().map(|(p, _)| p.to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["a.py", "c.txt"], "hidden, ignored, binary and event log files are skipped");

        let bounded = FsWorkspace { bounds: Bounds { max_files: 1, ..Bounds::default() }, ..ws.clone() };
        let mut count = 0;
        bounded.visit(&mut |_, _| {
            count += 1;
            true
        });
        assert_eq!(count, 1);
    }
}
