//! Progress bars for long runs (replay, verify, import, export): drawn on
//! stderr when it is a terminal, silent otherwise, so piped output and logs
//! stay clean.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// A progress bar that may be switched off; updating a silent one is free.
pub struct Progress(Option<ProgressBar>);

/// How often (in items) callers update the bar: cheap enough to ignore.
pub const STEP: u64 = 4096;

impl Progress {
    /// A bar over `total` events, shown only when stderr is a terminal.
    pub fn events(total: u64, what: &str) -> Progress {
        Self::new(
            total,
            what,
            "{msg} [{bar:40}] {pos}/{len} events ({per_sec}, {eta} left)",
        )
    }

    /// A bar over `total` bytes of input.
    pub fn bytes(total: u64, what: &str) -> Progress {
        Self::new(
            total,
            what,
            "{msg} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)",
        )
    }

    /// A progress bar that never draws.
    pub fn hidden() -> Progress {
        Progress(None)
    }

    fn new(total: u64, what: &str, template: &str) -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(what.to_owned());
        Progress(Some(bar))
    }

    pub fn set(&self, pos: u64) {
        if let Some(bar) = &self.0 {
            bar.set_position(pos);
        }
    }

    /// Removes the bar, leaving the terminal as it was.
    pub fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
