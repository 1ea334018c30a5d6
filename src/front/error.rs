//! The front ends' error, located by file, node and field, and the size limit every reader
//! checks before allocating.

use std::fmt;
use std::path::{Path, PathBuf};

/// Largest number of elements a single parameter dataset may declare.
pub const MAX_ELEMENTS: u64 = 1 << 27;

/// A load failure, located as precisely as the format allows.
#[derive(Debug)]
pub struct FrontError {
    /// The file.
    pub path: PathBuf,
    /// The node (qualified name), when the fault is inside one.
    pub node: Option<String>,
    /// The dataset or field, when known.
    pub field: Option<String>,
    /// What is wrong and what was expected.
    pub message: String,
}

impl FrontError {
    /// An error about the file as a whole.
    pub fn file(path: &Path, message: impl Into<String>) -> Self {
        FrontError { path: path.into(), node: None, field: None, message: message.into() }
    }

    /// An error about a node's field.
    pub fn at(path: &Path, node: impl Into<String>, field: Option<&str>, message: impl Into<String>) -> Self {
        FrontError {
            path: path.into(),
            node: Some(node.into()),
            field: field.map(str::to_string),
            message: message.into(),
        }
    }
}

impl fmt::Display for FrontError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(n) = &self.node {
            write!(f, ": node '{n}'")?;
        }
        if let Some(fl) = &self.field {
            write!(f, ": field '{fl}'")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for FrontError {}
