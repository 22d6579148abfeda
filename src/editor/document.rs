//! Open documents, kept in sync with the editor by `didOpen` / `didChange` / `didClose`.
//!
//! Positions are LSP positions: a zero-based line and a column counted in UTF-16 code units
//! (the protocol's default encoding). A column past the end of its line means the end of the line,
//! and a line past the end of the document means the end of the document, as the specification asks.

use std::collections::BTreeMap;
use std::ops::Range as ByteRange;

use lsp_types::{Position, Range, TextDocumentContentChangeEvent, Uri};

/// One open document: its text and where each line starts.
#[derive(Debug, Clone)]
pub struct Document {
    pub uri: Uri,
    pub language_id: String,
    pub version: i32,
    text: String,
    /// Byte offset of the start of each line; `line_starts[0] == 0`.
    line_starts: Vec<usize>,
}

impl Document {
    pub fn new(uri: Uri, language_id: impl Into<String>, version: i32, text: String) -> Document {
        let line_starts = line_starts(&text);
        Document { uri, language_id: language_id.into(), version, text, line_starts }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }

    /// The byte range of line `line` without its line terminator (`\n` or `\r\n`).
    pub fn line_range(&self, line: usize) -> ByteRange<usize> {
        let start = self.line_starts[line];
        let mut end = self.line_starts.get(line + 1).copied().unwrap_or(self.text.len());
        let bytes = self.text.as_bytes();
        if end > start && bytes[end - 1] == b'\n' {
            end -= 1;
            if end > start && bytes[end - 1] == b'\r' {
                end -= 1;
            }
        }
        start..end
    }

    /// The text of line `line` without its terminator, or `None` past the end.
    pub fn line(&self, line: usize) -> Option<&str> {
        (line < self.line_starts.len()).then(|| &self.text[self.line_range(line)])
    }

    /// The byte offset of an LSP position, clamped to the document as the specification asks.
    pub fn offset_at(&self, position: Position) -> usize {
        let line = position.line as usize;
        if line >= self.line_starts.len() {
            return self.text.len();
        }
        let range = self.line_range(line);
        let mut units = 0u32;
        for (i, c) in self.text[range.clone()].char_indices() {
            if units >= position.character {
                return range.start + i;
            }
            units += c.len_utf16() as u32;
        }
        range.end
    }

    /// The LSP position of a byte offset (which must be on a char boundary).
    pub fn position_at(&self, offset: usize) -> Position {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&start| start <= offset) - 1;
        let start = self.line_starts[line];
        let character: usize = self.text[start..offset].chars().map(char::len_utf16).sum();
        Position { line: line as u32, character: character as u32 }
    }

    pub fn range_of(&self, bytes: ByteRange<usize>) -> Range {
        Range { start: self.position_at(bytes.start), end: self.position_at(bytes.end) }
    }

    /// Applies one content change: a whole new text (no range) or a replacement of a range.
    pub fn apply_change(&mut self, change: &TextDocumentContentChangeEvent) {
        match change.range {
            None => self.text.clone_from(&change.text),
            Some(range) => {
                let start = self.offset_at(range.start);
                let end = self.offset_at(range.end).max(start);
                self.text.replace_range(start..end, &change.text);
            }
        }
        self.line_starts = line_starts(&self.text);
    }
}

fn line_starts(text: &str) -> Vec<usize> {
    let mut starts = vec![0];
    starts.extend(text.bytes().enumerate().filter(|&(_, b)| b == b'\n').map(|(i, _)| i + 1));
    starts
}

/// Why a notification about a document could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error("document {0} is not open (didChange/didClose before didOpen?)")]
    NotOpen(String),
    #[error(
        "open documents would take {bytes} bytes, over the limit of {limit} (maxOpenDocumentBytes); \
         {uri} is {what}"
    )]
    TooLarge { uri: String, bytes: usize, limit: usize, what: &'static str },
}

/// Total bytes of open documents a session may hold by default.
pub const DEFAULT_MAX_OPEN_BYTES: usize = 256 << 20;

/// The open documents of one session, by URI, within [`DocumentStore::max_total_bytes`].
#[derive(Debug, Clone)]
pub struct DocumentStore {
    docs: BTreeMap<String, Document>,
    pub max_total_bytes: usize,
}

impl Default for DocumentStore {
    fn default() -> Self {
        DocumentStore { docs: BTreeMap::new(), max_total_bytes: DEFAULT_MAX_OPEN_BYTES }
    }
}

impl DocumentStore {
    pub fn new() -> DocumentStore {
        DocumentStore::default()
    }

    /// Bytes of text held, without the document at `except`.
    fn bytes_without(&self, except: &str) -> usize {
        self.docs.iter().filter(|(k, _)| *k != except).map(|(_, d)| d.text.len()).sum()
    }

    fn check_size(&self, uri: &Uri, doc_bytes: usize, what: &'static str) -> Result<(), DocumentError> {
        let bytes = self.bytes_without(uri.as_str()) + doc_bytes;
        if bytes > self.max_total_bytes {
            let (uri, limit) = (uri.as_str().to_string(), self.max_total_bytes);
            return Err(DocumentError::TooLarge { uri, bytes, limit, what });
        }
        Ok(())
    }

    /// `textDocument/didOpen`: (re)places the document, unless it would take the store over its limit.
    pub fn open(
        &mut self,
        uri: Uri,
        language_id: impl Into<String>,
        version: i32,
        text: String,
    ) -> Result<(), DocumentError> {
        self.check_size(&uri, text.len(), "not opened")?;
        let key = uri.as_str().to_string();
        self.docs.insert(key, Document::new(uri, language_id, version, text));
        Ok(())
    }

    /// `textDocument/didChange`: applies the changes in order, then records the new version. Changes
    /// that would take the store over its limit are not applied.
    pub fn change(
        &mut self,
        uri: &Uri,
        version: i32,
        changes: &[TextDocumentContentChangeEvent],
    ) -> Result<(), DocumentError> {
        let others = self.bytes_without(uri.as_str());
        let limit = self.max_total_bytes;
        let doc = self.docs.get_mut(uri.as_str()).ok_or_else(|| DocumentError::NotOpen(uri.as_str().into()))?;
        let at_most = doc.text.len() + changes.iter().map(|c| c.text.len()).sum::<usize>();
        if others + at_most <= limit {
            changes.iter().for_each(|change| doc.apply_change(change));
        } else {
            // Maybe over: edit a copy, keep it only if it fits.
            let mut edited = doc.clone();
            changes.iter().for_each(|change| edited.apply_change(change));
            if others + edited.text.len() > limit {
                let (uri, bytes) = (uri.as_str().to_string(), others + edited.text.len());
                return Err(DocumentError::TooLarge { uri, bytes, limit, what: "left as it was" });
            }
            *doc = edited;
        }
        doc.version = version;
        Ok(())
    }

    /// `textDocument/didClose`.
    pub fn close(&mut self, uri: &Uri) -> Result<(), DocumentError> {
        self.docs.remove(uri.as_str()).map(|_| ()).ok_or_else(|| DocumentError::NotOpen(uri.as_str().into()))
    }

    pub fn get(&self, uri: &Uri) -> Option<&Document> {
        self.docs.get(uri.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = &Document> {
        self.docs.values()
    }

    pub fn len(&self) -> usize {
        self.docs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> Uri {
        s.parse().unwrap()
    }

    fn pos(line: u32, character: u32) -> Position {
        Position { line, character }
    }

    fn edit(start: Position, end: Position, text: &str) -> TextDocumentContentChangeEvent {
        TextDocumentContentChangeEvent { range: Some(Range { start, end }), range_length: None, text: text.into() }
    }

    #[test]
    fn positions_count_utf16_code_units() {
        // "é" is 2 bytes / 1 unit, "😀" is 4 bytes / 2 units.
        let doc = Document::new(uri("file:///a.txt"), "text", 1, "é😀x\r\nsecond\n".into());
        assert_eq!(doc.offset_at(pos(0, 0)), 0);
        assert_eq!(doc.offset_at(pos(0, 1)), 2);
        assert_eq!(doc.offset_at(pos(0, 3)), 6);
        assert_eq!(&doc.text()[doc.offset_at(pos(0, 3))..], "x\r\nsecond\n");
        assert_eq!(doc.position_at(6), pos(0, 3));
        assert_eq!(doc.position_at(doc.text().find("second").unwrap()), pos(1, 0));
        // Past the end of a line: the end of that line (before "\r\n"); past the last line: the end.
        assert_eq!(doc.offset_at(pos(0, 99)), 7);
        assert_eq!(doc.offset_at(pos(9, 0)), doc.text().len());
        assert_eq!(doc.line(0), Some("é😀x"));
        assert_eq!(doc.line(1), Some("second"));
        assert_eq!(doc.line(2), Some(""));
        assert_eq!(doc.line(3), None);
    }

    #[test]
    fn incremental_and_full_changes() {
        let mut store = DocumentStore::new();
        let u = uri("file:///w/jobs.py");
        store.open(u.clone(), "python", 1, "read('data/alpha')\nwrite('data/beta')\n".into()).unwrap();
        // Replace "alpha" with "gamma😀" on line 0, then insert a line at the top.
        store.change(&u, 2, &[edit(pos(0, 11), pos(0, 16), "gamma😀"), edit(pos(0, 0), pos(0, 0), "# top\n")]).unwrap();
        let doc = store.get(&u).unwrap();
        assert_eq!(doc.text(), "# top\nread('data/gamma😀')\nwrite('data/beta')\n");
        assert_eq!(doc.version, 2);
        // An edit after the emoji must count it as two units: delete the "')" after it.
        store.change(&u, 3, &[edit(pos(1, 18), pos(1, 20), "")]).unwrap();
        assert_eq!(store.get(&u).unwrap().line(1), Some("read('data/gamma😀"));
        // A multi-line deletion.
        store.change(&u, 4, &[edit(pos(0, 2), pos(2, 5), "")]).unwrap();
        assert_eq!(store.get(&u).unwrap().text(), "# ('data/beta')\n");
        // A full replacement.
        let full = TextDocumentContentChangeEvent { range: None, range_length: None, text: "new".into() };
        store.change(&u, 5, &[full]).unwrap();
        assert_eq!(store.get(&u).unwrap().text(), "new");
        assert_eq!(store.get(&u).unwrap().line_count(), 1);
        store.close(&u).unwrap();
        assert!(store.is_empty());
    }

    #[test]
    fn changes_to_unopened_documents_are_errors() {
        let mut store = DocumentStore::new();
        let u = uri("file:///nope");
        let err = store.change(&u, 1, &[]).unwrap_err();
        assert_eq!(err.to_string(), "document file:///nope is not open (didChange/didClose before didOpen?)");
        assert!(store.close(&u).is_err());
    }

    #[test]
    fn the_store_keeps_within_its_byte_limit_and_names_it() {
        let mut store = DocumentStore { max_total_bytes: 10, ..DocumentStore::default() };
        let (a, b): (Uri, Uri) = ("file:///a".parse().unwrap(), "file:///b".parse().unwrap());
        store.open(a.clone(), "", 1, "123456".into()).unwrap();
        let err = store.open(b.clone(), "", 1, "12345".into()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "open documents would take 11 bytes, over the limit of 10 (maxOpenDocumentBytes); file:///b is not opened"
        );
        assert!(store.get(&b).is_none());
        let grow = TextDocumentContentChangeEvent { range: None, range_length: None, text: "12345678901".into() };
        let err = store.change(&a, 2, std::slice::from_ref(&grow)).unwrap_err();
        assert!(err.to_string().ends_with("file:///a is left as it was"), "{err}");
        assert_eq!((store.get(&a).unwrap().text(), store.get(&a).unwrap().version), ("123456", 1));
        // Reopening a document replaces it: its old size does not count twice.
        store.open(a.clone(), "", 3, "1234567890".into()).unwrap();
        let shrink = TextDocumentContentChangeEvent { range: None, range_length: None, text: "1".into() };
        store.change(&a, 4, &[grow, shrink]).unwrap();
        assert_eq!(store.get(&a).unwrap().text(), "1");
    }
}
