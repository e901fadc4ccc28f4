//! Progress of `rocketchat-import run` on stderr: one spinner line holding the latest event on
//! a terminal (the earlier events scroll above it), plain lines otherwise (CI logs, pipes).
//! Both show the same sentences.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How progress is shown.
pub enum Progress {
    /// A spinner with the latest line; earlier lines are printed above it.
    Tty(ProgressBar),
    /// One line per event.
    Plain,
}

impl Progress {
    /// A spinner on a terminal, plain lines otherwise.
    pub fn new() -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress::Plain;
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}")
                .expect("static template")
                .tick_strings(&["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏", "·"]),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        Progress::Tty(bar)
    }

    /// Shows one event's sentence.
    pub fn show(&mut self, line: &str) {
        match self {
            Progress::Tty(bar) => {
                if let Some(previous) = Some(bar.message()).filter(|m| !m.is_empty()) {
                    bar.println(previous);
                }
                bar.set_message(line.to_owned());
            }
            Progress::Plain => eprintln!("{line}"),
        }
    }

    /// Leaves the last line on the screen and stops the spinner.
    pub fn finish(&mut self) {
        if let Progress::Tty(bar) = self {
            bar.finish();
        }
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}
