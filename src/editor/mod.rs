//! Editor features: what `dbl serve` answers as a language server about partition refs in open
//! documents.
//!
//! - [`document`]: open documents, full and incremental sync, UTF-16 positions;
//! - [`scan`]: finding partition refs in text (the rule is documented there);
//! - [`lineage`]: the one-step lineage of a ref that hover and lenses show;
//! - [`features`]: hover, definition (go to upstream), references (go to downstream), code lenses,
//!   and a ref's neighbour lists, as pure functions of a `BuildState`;
//! - [`workspace`]: the bounded, `.gitignore`-aware search of workspace folders (the only file access);
//! - [`config`]: settings from `initializationOptions` and `workspace/didChangeConfiguration`;
//! - [`service`]: one editor session (documents, settings, workspace) and its features as typed
//!   functions, which the protocol layer maps LSP method names and error codes onto.
//!
//! Architecture invariant: nothing here knows JSON-RPC (framing, ids, error codes), LSP method names,
//! the lifecycle or threads. It uses LSP *types* for positions, locations and hovers.

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
pub use service::{EditorError, EditorInit, EditorService, Effects, RefQuery, StateAccess};

#[cfg(test)]
mod tests;
