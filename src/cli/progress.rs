//! A one-line progress display on stderr for long CLI work, shown only on a terminal.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// `label: done/total unit (pct%)`, redrawn at most ten times a second, cleared when done.
pub struct Progress {
    label: &'static str,
    unit: &'static str,
    total: u64,
    shown: bool,
    last_drawn: Option<Instant>,
}

impl Progress {
    /// Shown only when stderr is a terminal and `total` reaches `worth_showing_from`.
    pub fn new(label: &'static str, unit: &'static str, total: u64, worth_showing_from: u64) -> Progress {
        let shown = std::io::stderr().is_terminal() && total >= worth_showing_from;
        Progress { label, unit, total, shown, last_drawn: None }
    }

    pub fn update(&mut self, done: u64) {
        if !self.shown || self.last_drawn.is_some_and(|t| t.elapsed() < Duration::from_millis(100)) {
            return;
        }
        self.last_drawn = Some(Instant::now());
        let pct = done.saturating_mul(100) / self.total.max(1);
        eprint!("\r{}: {done}/{} {} ({}%)", self.label, self.total, self.unit, pct.min(100));
    }

    pub fn finish(&mut self) {
        if self.shown && self.last_drawn.is_some() {
            eprint!("\r\x1b[2K");
        }
    }
}
