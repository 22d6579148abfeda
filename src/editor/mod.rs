//! Editor features: what `dbl serve` answers as a language server about partition refs in open
//! documents.
//!
//! - [`document`]: open documents, full and incremental sync, UTF-16 positions;
//! - [`scan`]: finding partition refs in text (the rule is documented there);
//! - [`lineage`]: the one-step lineage of a ref that hover and lenses show;
//! - [`features`]: hover, definition (go to upstream), references (go to downstream), code lenses,
//!   `databuild/upstream` and `databuild/downstream`, as pure functions of a `BuildState`;
//! - [`workspace`]: the bounded, `.gitignore`-aware search of workspace folders (the only file access);
//! - [`config`]: settings from `initializationOptions` and `workspace/didChangeConfiguration`;
//! - [`service`]: the same behind LSP method names and JSON params, for the daemon's loop.
//!
//! Architecture invariant: nothing here knows JSON-RPC framing, ids, the lifecycle or threads.

pub mod config;
pub mod document;
pub mod features;
pub mod lineage;
pub mod scan;
pub mod service;
pub mod workspace;

pub use config::EditorConfig;
pub use document::{Document, DocumentStore};
pub use scan::{RefHit, RefScanner};
pub use service::{EditorError, EditorService, Effects};

#[cfg(test)]
mod tests;
