//! A progress bar on stderr for long CLI work (indicatif), shown only on a terminal.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// `label [bar] done/total unit (pct%)`, cleared when done.
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// Shown only when stderr is a terminal and `total` reaches `worth_showing_from`.
    pub fn new(label: &'static str, unit: &'static str, total: u64, worth_showing_from: u64) -> Progress {
        let target = ProgressDrawTarget::stderr_with_hz(10);
        if target.is_hidden() || total < worth_showing_from {
            return Progress { bar: None };
        }
        let template = format!("{label} [{{bar:30}}] {{pos}}/{{len}} {unit} ({{percent}}%)");
        let style = ProgressStyle::with_template(&template).expect("a valid template").progress_chars("=> ");
        let bar = ProgressBar::with_draw_target(Some(total), target).with_style(style);
        Progress { bar: Some(bar) }
    }

    pub fn update(&mut self, done: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(done);
        }
    }

    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
