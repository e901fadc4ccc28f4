//! Step outputs and runner files: outputs appended to `$GITHUB_OUTPUT` in the `name=value`
//! form, or the `name<<DELIMITER` heredoc form for values that span lines, and appending to
//! any file the runner names (`$GITHUB_OUTPUT`, `$GITHUB_STEP_SUMMARY`).

use std::io::Write;
use std::path::{Path, PathBuf};

/// A runner file that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("could not write the {what} to {path}: {source}")]
pub struct RunnerFileError {
    /// What was being written: `step outputs`, `job summary`.
    pub what: &'static str,
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// Appends `what` to the runner's file named by the variable `var` (read through `lookup`).
/// When the variable is not set (the action run by hand), says so on stderr and writes
/// nothing.
pub fn append_to_runner_file(
    lookup: impl Fn(&str) -> Option<String>,
    var: &str,
    what: &'static str,
    write: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>,
) -> Result<(), RunnerFileError> {
    let Some(path) = lookup(var)
        .filter(|p| !p.trim().is_empty())
        .map(PathBuf::from)
    else {
        eprintln!("note: {var} is not set; no {what} written");
        return Ok(());
    };
    append(&path, write).map_err(|source| RunnerFileError { what, path, source })
}

/// Writes outputs in the `$GITHUB_OUTPUT` file format.
pub fn write_outputs(out: &mut impl Write, outputs: &[(&str, String)]) -> std::io::Result<()> {
    for (name, value) in outputs {
        if value.contains(['\n', '\r']) {
            let delimiter = delimiter_for(value);
            writeln!(out, "{name}<<{delimiter}")?;
            writeln!(out, "{value}")?;
            writeln!(out, "{delimiter}")?;
        } else {
            writeln!(out, "{name}={value}")?;
        }
    }
    Ok(())
}

/// A heredoc delimiter that does not occur in the value.
fn delimiter_for(value: &str) -> String {
    loop {
        let d = format!("ghadelimiter_{:016x}", fastrand::u64(..));
        if !value.contains(&d) {
            return d;
        }
    }
}

/// Appends to a file named by the runner (`$GITHUB_OUTPUT`, `$GITHUB_STEP_SUMMARY`).
pub fn append(
    path: &Path,
    write: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    write(&mut buf)?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(&buf)?;
    file.flush()
}
