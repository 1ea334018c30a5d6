//! [`Failure`]: a command's error and its exit code (1 a failed check or output, 2 bad input).

/// A command failure with its exit code.
pub struct Failure {
    pub code: u8,
    pub error: anyhow::Error,
}

impl Failure {
    /// Bad input or usage: exit 2.
    pub fn input(e: impl Into<anyhow::Error>) -> Self {
        Failure { code: 2, error: e.into() }
    }

    /// A check failed: exit 1.
    pub fn check(msg: impl Into<String>) -> Self {
        Failure { code: 1, error: anyhow::anyhow!(msg.into()) }
    }

    /// Writing an output or getting a system resource failed: exit 1.
    pub fn io(e: impl Into<anyhow::Error>) -> Self {
        Failure { code: 1, error: e.into() }
    }
}

impl From<spikefab::driver::Error> for Failure {
    /// The library says which errors are bad input (2) and which a failing tool (1).
    fn from(e: spikefab::driver::Error) -> Self {
        Failure { code: e.exit_code(), error: e.into() }
    }
}
