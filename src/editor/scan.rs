//! Finding partition refs in text.
//!
//! **The rule.** A *token* is a maximal run of the characters `[A-Za-z0-9_./:=@+-]` (everything a
//! path- or URI-like ref is made of; quotes, spaces, brackets, commas and `;` end a token). For each
//! token, in this order, the first *candidate* that is a known ref wins:
//!
//! 1. the token trimmed of the punctuation `.:=@+-/` at both ends (so `data/beta.` at the end of a
//!    sentence and `--data/beta` match `data/beta`; `s3://b/k` keeps its `://`, which is inside);
//! 2. the part after each `=` or `:` in the token (not the `:` of `://`), trimmed the same way, left
//!    to right: `--partition=data/beta` and `ref:data/beta` match `data/beta`.
//!
//! A candidate is known when the build event log has mentioned it (`BuildState::ref_id`, a hash
//! lookup), so scanning costs O(length of the text) hash lookups whatever the number of known refs,
//! and needs no regular expression per ref. Refs that the log has not mentioned yet are found only
//! by the optional configured `refPatterns` (regular expressions; the whole match, or the capture
//! group named `ref`, or else group 1, is the ref). Pattern matches that overlap a known ref are
//! dropped. Refs never span lines.

use std::ops::Range;

use regex::Regex;

use crate::state::{BuildState, RefId};

/// One ref found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefHit {
    /// Byte range of the ref in the text scanned.
    pub range: Range<usize>,
    pub name: String,
    /// `None` for a ref found only by a configured pattern (not in the log yet).
    pub id: Option<RefId>,
}

/// Characters a ref token is made of.
pub fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'/' | b':' | b'=' | b'@' | b'+' | b'-')
}

fn is_trim_byte(b: u8) -> bool {
    matches!(b, b'.' | b':' | b'=' | b'@' | b'+' | b'-' | b'/')
}

fn trim(text: &str, range: Range<usize>) -> Range<usize> {
    let bytes = text.as_bytes();
    let (mut start, mut end) = (range.start, range.end);
    while start < end && is_trim_byte(bytes[start]) {
        start += 1;
    }
    while end > start && is_trim_byte(bytes[end - 1]) {
        end -= 1;
    }
    start..end
}

/// Calls `lookup` on the candidates of each token of `text` (see the module docs) and collects the
/// first hit per token. Generic over the lookup so that the same rule serves the state's interner
/// and a small set of target refs (workspace search).
pub fn scan_tokens<T>(text: &str, mut lookup: impl FnMut(&str) -> Option<T>) -> Vec<(Range<usize>, T)> {
    let bytes = text.as_bytes();
    let mut hits = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !is_token_byte(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is_token_byte(bytes[i]) {
            i += 1;
        }
        if let Some(hit) = match_token(text, start..i, &mut lookup) {
            hits.push(hit);
        }
    }
    hits
}

fn match_token<T>(
    text: &str,
    token: Range<usize>,
    lookup: &mut impl FnMut(&str) -> Option<T>,
) -> Option<(Range<usize>, T)> {
    let whole = trim(text, token.clone());
    if whole.is_empty() {
        return None;
    }
    if let Some(found) = lookup(&text[whole.clone()]) {
        return Some((whole, found));
    }
    let bytes = text.as_bytes();
    for i in whole.clone() {
        let separator = bytes[i] == b'=' || (bytes[i] == b':' && !text[i..whole.end].starts_with("://"));
        if !separator {
            continue;
        }
        let rest = trim(text, i + 1..whole.end);
        if !rest.is_empty() {
            if let Some(found) = lookup(&text[rest.clone()]) {
                return Some((rest, found));
            }
        }
    }
    None
}

/// The ref rule plus the configured patterns.
#[derive(Debug, Clone, Default)]
pub struct RefScanner {
    patterns: Vec<Regex>,
}

impl RefScanner {
    /// Compiles the configured patterns; the error names the pattern that does not compile.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<RefScanner, String> {
        let patterns = patterns
            .iter()
            .map(|p| {
                Regex::new(p.as_ref()).map_err(|e| format!("refPatterns: {:?} is not a valid regex: {e}", p.as_ref()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RefScanner { patterns })
    }

    pub fn has_patterns(&self) -> bool {
        !self.patterns.is_empty()
    }

    /// Every ref in `text`, in text order: known refs by the token rule, then pattern matches that
    /// do not overlap them.
    pub fn scan(&self, state: &BuildState, text: &str) -> Vec<RefHit> {
        let mut hits: Vec<RefHit> = scan_tokens(text, |candidate| state.ref_id(candidate))
            .into_iter()
            .map(|(range, id)| RefHit { name: text[range.clone()].to_string(), range, id: Some(id) })
            .collect();
        if self.patterns.is_empty() {
            return hits;
        }
        let known = hits.len();
        for pattern in &self.patterns {
            for captures in pattern.captures_iter(text) {
                let Some(m) = captures.name("ref").or_else(|| captures.get(1)).or_else(|| captures.get(0)) else {
                    continue;
                };
                if m.as_str().is_empty() || m.as_str().contains('\n') {
                    continue;
                }
                let range = m.range();
                let overlaps = hits.iter().any(|h| h.range.start < range.end && range.start < h.range.end);
                if !overlaps {
                    let id = state.ref_id(m.as_str());
                    hits.push(RefHit { range, name: m.as_str().to_string(), id });
                }
            }
        }
        if hits.len() > known {
            hits.sort_by_key(|h| h.range.start);
        }
        hits
    }

    /// The ref covering byte `offset` of `text` (a cursor at either edge counts), scanning only the
    /// line that holds it.
    pub fn ref_at(&self, state: &BuildState, text: &str, offset: usize) -> Option<RefHit> {
        let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
        let line = &text[line_start..line_end];
        let at = offset - line_start;
        self.scan(state, line).into_iter().find(|h| h.range.start <= at && at <= h.range.end).map(|mut h| {
            h.range = h.range.start + line_start..h.range.end + line_start;
            h
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::demo_events;

    fn demo_state() -> BuildState {
        BuildState::from_events(&demo_events())
    }

    fn names(hits: &[RefHit]) -> Vec<(&str, bool)> {
        hits.iter().map(|h| (h.name.as_str(), h.id.is_some())).collect()
    }

    #[test]
    fn finds_known_refs_in_code_and_prose() {
        let state = demo_state();
        let scanner = RefScanner::default();
        let text = r#"inputs = ["data/alpha", 'data/beta']  # builds data/gamma.
run --partition=data/beta ref:data/alpha (data/gamma), data/gammas data/delta x/data/beta"#;
        let hits = scanner.scan(&state, text);
        assert_eq!(
            names(&hits),
            vec![
                ("data/alpha", true),
                ("data/beta", true),
                ("data/gamma", true),
                ("data/beta", true),
                ("data/alpha", true),
                ("data/gamma", true)
            ]
        );
        // Byte ranges point at the ref itself.
        for hit in &hits {
            assert_eq!(&text[hit.range.clone()], hit.name);
        }
    }

    #[test]
    fn uri_refs_keep_their_scheme() {
        let mut state = BuildState::new();
        let refs = ["s3://bucket/sales/date=2025-06-01"];
        state.apply(
            &crate::proto::DataBuildEvent {
                timestamp: 1,
                event_id: 1,
                event: Some(crate::events::want_create("W", &refs, None)),
            },
            0,
        );
        let text = "load('s3://bucket/sales/date=2025-06-01') and s3://bucket/sales/date=2025-06-02";
        let hits = RefScanner::default().scan(&state, text);
        assert_eq!(names(&hits), vec![("s3://bucket/sales/date=2025-06-01", true)]);
    }

    #[test]
    fn patterns_find_refs_not_in_the_log_yet() {
        let state = demo_state();
        let scanner = RefScanner::new(&[r"\bdata/[a-z_]+", r#"ref\("(?P<ref>[^"]+)"\)"#]).unwrap();
        let text = "data/beta data/epsilon ref(\"warehouse/x\")";
        let hits = scanner.scan(&state, text);
        assert_eq!(names(&hits), vec![("data/beta", true), ("data/epsilon", false), ("warehouse/x", false)]);
        let err = RefScanner::new(&["data/("]).unwrap_err();
        assert!(err.starts_with("refPatterns: \"data/(\" is not a valid regex"), "{err}");
    }

    #[test]
    fn ref_at_cursor_scans_one_line() {
        let state = demo_state();
        let scanner = RefScanner::default();
        let text = "first line\n  use data/beta here\n";
        let start = text.find("data/beta").unwrap();
        for offset in [start, start + 4, start + 9] {
            let hit = scanner.ref_at(&state, text, offset).unwrap();
            assert_eq!(hit.name, "data/beta");
            assert_eq!(hit.range, start..start + 9);
        }
        assert_eq!(scanner.ref_at(&state, text, start - 2), None);
        assert_eq!(scanner.ref_at(&state, text, 0), None);
    }
}
