//! Process exit codes of every front end and how several results rank into one. Which
//! outcome of a service maps to which code is that service's business (for Woosmap,
//! `crate::woosmap::exit`); the table is documented in `--help` and README.md.

/// One process exit code; the discriminants are the documented numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    Success = 0,
    ImportFailed = 1,
    Usage = 2,
    TimedOut = 3,
    Auth = 4,
    Quota = 5,
    ApiError = 6,
    /// The timeout passed before a trigger could be sent: nothing was triggered.
    NotTriggered = 7,
    Interrupted = 130,
}

impl ExitCode {
    /// Higher wins when several results end differently: 130, 4, 5, 6, 7, 3, 1, 0.
    fn rank(self) -> u8 {
        match self {
            ExitCode::Success => 0,
            ExitCode::ImportFailed => 1,
            ExitCode::TimedOut => 2,
            ExitCode::NotTriggered => 3,
            ExitCode::ApiError => 4,
            ExitCode::Quota => 5,
            ExitCode::Auth => 6,
            ExitCode::Usage => 7,
            ExitCode::Interrupted => 8,
        }
    }

    /// The most severe of two codes.
    pub fn worst(self, other: ExitCode) -> ExitCode {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::ExitCode::*;

    #[test]
    fn ranks_as_documented() {
        let order = [
            Success,
            ImportFailed,
            TimedOut,
            NotTriggered,
            ApiError,
            Quota,
            Auth,
            Interrupted,
        ];
        for pair in order.windows(2) {
            assert_eq!(pair[0].worst(pair[1]), pair[1]);
            assert_eq!(pair[1].worst(pair[0]), pair[1]);
        }
    }
}
