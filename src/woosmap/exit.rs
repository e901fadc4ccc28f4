//! Which exit code each Woosmap result gets: a dataset's import outcome or an API error
//! class, mapped onto the shared [`ExitCode`] table (ranked in `crate::frontend::exit`).

use crate::frontend::ExitCode;
use crate::woosmap::api::{ErrorKind, RunStatus};
use crate::woosmap::import::{EngineError, Outcome};

/// The code for one dataset's result.
pub fn exit_code(result: &Result<Outcome, EngineError>) -> ExitCode {
    match result {
        Ok(outcome) => match outcome.run.as_ref().map(|r| r.status) {
            // An undocumented final status is not a success.
            Some(RunStatus::Failed | RunStatus::Undocumented(_)) => ExitCode::ImportFailed,
            _ => ExitCode::Success,
        },
        Err(EngineError::TimedOut { .. }) => ExitCode::TimedOut,
        Err(EngineError::NotTriggered { .. }) => ExitCode::NotTriggered,
        Err(EngineError::Cancelled { .. }) => ExitCode::Interrupted,
        Err(EngineError::Api(e)) => exit_code_of_kind(e.kind()),
    }
}

/// The code for an API error class.
pub fn exit_code_of_kind(kind: ErrorKind) -> ExitCode {
    match kind {
        ErrorKind::Auth => ExitCode::Auth,
        ErrorKind::Quota => ExitCode::Quota,
        ErrorKind::Usage => ExitCode::Usage,
        ErrorKind::Timeout => ExitCode::TimedOut,
        _ => ExitCode::ApiError,
    }
}
