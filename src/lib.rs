//! `dbl`: live lineage for databuild, answered from its build event log (BEL).
//!
//! Layers, each using only the ones before it in this list (`tests/tidy.rs` checks it):
//! - [`calendar`], [`proto`], [`events`]: dates as text, the BEL's event model, event constructors;
//! - [`log`]: bytes ⇄ events (incremental decoding, format sniffing, tailing, appending);
//! - [`state`]: events → [`state::BuildState`] (no I/O, no JSON-RPC);
//! - [`sim`]: synthetic but realistic BELs for tests and benchmarks;
//! - [`views`]: pure queries over a `BuildState` (fulfillment, lineage, details, lists);
//! - [`render`]: views as trees, Graphviz, Mermaid or JSON;
//! - [`editor`]: partition refs in open documents and the editor features, as typed functions;
//! - [`live`]: the daemon's one ingest thread and the changes it publishes;
//! - [`protocol`]: the only JSON-RPC and LSP: the method registry, stdio and WebSocket transports;
//! - [`web`]: the web pages the WebSocket listener serves (views rendered as HTML, live);
//! - [`daemon`]: one shared daemon per log: its socket, the daemon, the forwarder;
//! - [`cli`]: the `dbl` subcommands, small functions over the layers above.
//!
//! See `docs/ARCHITECTURE.md` for the map and its invariants.

pub mod calendar;
pub mod cli;
pub mod daemon;
pub mod editor;
pub mod events;
pub mod live;
pub mod log;
pub mod proto;
pub mod protocol;
pub mod render;
pub mod sim;
pub mod state;
pub mod views;
pub mod web;
