//! The validation error and the size limit, shared by the checks in `mod.rs` and shape
//! inference in `shapes.rs`; kept apart so neither file imports the other's items (issue 53).

use std::fmt;

/// Largest number of elements any inferred tensor may have.
pub const MAX_NUMEL: usize = 1 << 27;

/// A validation failure, naming the node and field.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidError {
    /// Node name.
    pub node: Option<String>,
    /// Field or dataset.
    pub field: Option<String>,
    /// What is wrong and what was expected.
    pub message: String,
}

impl ValidError {
    pub(crate) fn at(node: &str, field: Option<&str>, message: impl Into<String>) -> Self {
        ValidError { node: Some(node.to_string()), field: field.map(str::to_string), message: message.into() }
    }

    pub(crate) fn graph(message: impl Into<String>) -> Self {
        ValidError { node: None, field: None, message: message.into() }
    }
}

impl fmt::Display for ValidError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        if let Some(n) = &self.node {
            write!(f, "node '{n}'")?;
            sep = ": ";
        }
        if let Some(fl) = &self.field {
            write!(f, "{sep}field '{fl}'")?;
            sep = ": ";
        }
        write!(f, "{sep}{}", self.message)
    }
}

impl std::error::Error for ValidError {}
