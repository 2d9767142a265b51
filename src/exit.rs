//! Exit codes (docs/DESIGN.md, "The CLI contract"): 0 success, 1 the token is invalid or a check failed, 2 usage or
//! input error.

use std::process::ExitCode;

/// Why a command failed, which decides its exit code.
#[derive(Debug)]
pub enum Failure {
    /// The token is invalid or a check failed (exit 1).
    Invalid(anyhow::Error),
    /// Bad usage or unusable input: unreadable file, malformed flag, unusable key (exit 2).
    Usage(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Usage(e)
    }
}

/// A jose error on a token is "invalid"; on a key or input it is a usage error.
pub fn token_error(e: jose::Error) -> Failure {
    if e.is_token_error() {
        Failure::Invalid(e.into())
    } else {
        Failure::Usage(e.into())
    }
}

pub type Outcome = Result<(), Failure>;

pub fn report(outcome: Outcome) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Invalid(e)) => {
            let prefix =
                crate::color::stderr().paint(crate::color::Role::Error, "signet: invalid:");
            eprintln!("{prefix} {}", chain(&e));
            ExitCode::from(1)
        }
        Err(Failure::Usage(e)) => {
            let prefix = crate::color::stderr().paint(crate::color::Role::Error, "signet: error:");
            eprintln!("{prefix} {}", chain(&e));
            ExitCode::from(2)
        }
    }
}

/// "outer: inner: root" on one line.
pub fn chain(e: &anyhow::Error) -> String {
    e.chain()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

/// Returns a usage failure (exit 2) with a formatted message.
macro_rules! usage {
    ($($t:tt)*) => {
        return Err($crate::exit::Failure::Usage(anyhow::anyhow!($($t)*)))
    };
}
pub(crate) use usage;
