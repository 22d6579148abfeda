//! The one colour rule: colour only a terminal, and never when `NO_COLOR` is set to a non-empty
//! value (no-color.org).

use std::io::IsTerminal;

/// Whether to colour what goes to `stream`.
pub fn enabled(stream: &impl IsTerminal) -> bool {
    stream.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
