//! Whether the command-line tools colour what they write to the terminal: `--color
//! auto|always|never`, the `NO_COLOR` convention (<https://no-color.org>: set and not empty,
//! colour is off unless `--color always` asks for it), `TERM=dumb`, and whether stderr is a
//! terminal at all. [`apply`] settles it once per process for the log
//! ([`super::logging::init`]) and for indicatif's spinners, which style through the `console`
//! crate. Nothing else these tools print is coloured.

use std::io::IsTerminal;

/// `--color`: when to colour the log and the progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    /// When stderr is a terminal, unless `NO_COLOR` is set or `TERM` is `dumb`.
    #[default]
    Auto,
    /// Always, even into a file or a pipe, and whatever `NO_COLOR` says.
    Always,
    /// Never.
    Never,
}

/// The environment the `auto` choice reads.
#[derive(Debug, Default)]
struct Env {
    no_color: Option<String>,
    term: Option<String>,
    terminal: bool,
}

impl ColorChoice {
    fn decide(self, env: &Env) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                env.terminal
                    && env.no_color.as_deref().is_none_or(str::is_empty)
                    && env.term.as_deref() != Some("dumb")
            }
        }
    }
}

/// Settles colour for this process's stderr and tells the `console` crate (indicatif's
/// styling) the same; returns the decision for the logger.
pub fn apply(choice: ColorChoice) -> bool {
    let env = Env {
        no_color: std::env::var("NO_COLOR").ok(),
        term: std::env::var("TERM").ok(),
        terminal: std::io::stderr().is_terminal(),
    };
    let on = choice.decide(&env);
    console::set_colors_enabled(on);
    console::set_colors_enabled_stderr(on);
    on
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(no_color: Option<&str>, term: Option<&str>, terminal: bool) -> Env {
        Env {
            no_color: no_color.map(str::to_owned),
            term: term.map(str::to_owned),
            terminal,
        }
    }

    #[test]
    fn auto_colours_a_terminal_unless_no_color_or_a_dumb_terminal() {
        let auto = ColorChoice::Auto;
        assert!(auto.decide(&env(None, Some("xterm-256color"), true)));
        assert!(
            !auto.decide(&env(None, Some("xterm"), false)),
            "not a terminal"
        );
        assert!(!auto.decide(&env(Some("1"), Some("xterm"), true)));
        // Any non-empty value counts; an empty one does not (no-color.org).
        assert!(!auto.decide(&env(Some("false"), None, true)));
        assert!(auto.decide(&env(Some(""), None, true)));
        assert!(!auto.decide(&env(None, Some("dumb"), true)));
    }

    #[test]
    fn always_and_never_override_the_environment() {
        for e in [env(Some("1"), Some("dumb"), false), env(None, None, true)] {
            assert!(ColorChoice::Always.decide(&e));
            assert!(!ColorChoice::Never.decide(&e));
        }
    }
}
