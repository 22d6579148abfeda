//! The log layer: bytes of a build event log ⇄ [`DataBuildEvent`]s.
//!
//! Architecture invariant: nothing here panics on input. Decoding returns the events it could decode
//! and, at most, one [`DecodeError`] naming the byte offset (and line, for JSON) of the first record it
//! could not decode. Nothing after that record is ever returned.

mod append;
mod decode;
mod encode;
mod json_event;
pub mod follow;
mod read;
pub mod source;
pub mod tail;

pub use append::{format_for_new_log, now_ms, LogAppender};
pub use decode::{DecodeError, DecodeErrorKind, Decoder, RawRecord, DEFAULT_MAX_RECORD_BYTES};
pub use encode::{encode_record, EventWriter};
pub use read::{load_file, load_file_prepared, LoadedLog};

use crate::proto::DataBuildEvent;

/// The two on-disk forms of a BEL. Chosen by sniffing content, never by file name alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum LogFormat {
    /// Protobuf delimited stream: varint length, then one encoded `DataBuildEvent`.
    Binary,
    /// One `DataBuildEvent` per line in the proto3 JSON mapping.
    JsonLines,
}

impl LogFormat {
    /// The name used on the command line and in `databuild/status`.
    pub fn name(self) -> &'static str {
        match self {
            LogFormat::Binary => "bel",
            LogFormat::JsonLines => "jsonl",
        }
    }

    /// Parses a name as written by [`LogFormat::name`].
    pub fn from_name(name: &str) -> Option<LogFormat> {
        match name {
            "bel" | "binary" => Some(LogFormat::Binary),
            "jsonl" | "json" => Some(LogFormat::JsonLines),
            _ => None,
        }
    }
}

/// One decoded record with where it came from, so later diagnostics can point back into the file.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    /// Byte offset of the record's first byte (the length prefix, or the line's first byte).
    pub offset: u64,
    pub event: DataBuildEvent,
}
