//! One daemon per log per machine (gopls's `-remote=auto`): editors and commands share one
//! `BuildState` instead of each loading the log.
//!
//! - [`place`]: where a log's daemon lives: a unix socket under `$XDG_RUNTIME_DIR/dbl/` (or a private
//!   `/tmp/dbl-UID/`), mode 0700, named by a hash of the canonical source and `dbl`'s version (a
//!   daemon of another version is never used), with a lock file and an info file beside it.
//! - [`serve`]: the daemon: it follows the log once and serves each connection as its own language
//!   server session (documents, settings, subscriptions), until idle for `--idle-timeout`.
//! - [`ask`]: one-shot commands asking a running daemon (`databuild/render`) instead of loading the log.
//! - [`forward`]: `dbl serve --stdio --remote auto`: finds the daemon or starts one (exactly one, under
//!   the lock), then forwards frames both ways.
//!
//! Architecture invariant: the daemon speaks the stdio transport's protocol unchanged over its
//! socket; nothing here knows a method name.

pub mod ask;
pub mod forward;
pub mod place;
pub mod serve;

pub use place::{DaemonInfo, Place};
