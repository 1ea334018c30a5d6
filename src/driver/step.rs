//! A step of a command that ran, or was skipped with the reason (a report's optional sections).

use serde::Serialize;

use super::progress::Progress;

/// A step that ran, or was skipped with a reason.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum Step<T> {
    /// It ran.
    Ran(T),
    /// It did not run.
    Skipped {
        /// Why.
        skipped: String,
    },
}

impl<T> Step<T> {
    /// A step skipped for `why`.
    pub fn skipped(why: impl Into<String>) -> Step<T> {
        Step::Skipped { skipped: why.into() }
    }

    /// This step, a skip's reason noted to `progress` as `what`'s.
    pub fn noted(self, what: &str, progress: &dyn Progress) -> Step<T> {
        if let Step::Skipped { skipped } = &self {
            progress.note(&format!("{what} skipped: {skipped}"));
        }
        self
    }

    /// What ran, if it did.
    pub fn ran(&self) -> Option<&T> {
        match self {
            Step::Ran(v) => Some(v),
            Step::Skipped { .. } => None,
        }
    }
}
