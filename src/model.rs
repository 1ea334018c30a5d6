//! A loaded model: graph, validation info and resolved dialect, ready for every stage.

use std::path::{Path, PathBuf};

use crate::front::{self, FrontError};
use crate::ir::{Dialect, Graph, dialect::DialectError, dialect::DialectOverrides};
use crate::valid::{self, GraphInfo, ValidError};

/// Why a model could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read or parsed.
    #[error(transparent)]
    Front(#[from] FrontError),
    /// The graph is malformed.
    #[error("{path}: {err}")]
    Valid {
        /// File.
        path: PathBuf,
        /// Validation error.
        err: ValidError,
    },
    /// The dialect cannot be resolved.
    #[error("{path}: {err}")]
    Dialect {
        /// File.
        path: PathBuf,
        /// Dialect error.
        err: DialectError,
    },
}

/// A validated model with its dialect.
#[derive(Clone, Debug)]
pub struct Model {
    /// Where it was read from.
    pub path: PathBuf,
    /// The graph; `graph.dialect` is the resolved dialect.
    pub graph: Graph,
    /// Validation side table.
    pub info: GraphInfo,
    /// What the loader defaulted or ignored, and dialect options that override what the
    /// model's own equations fix (ONNX); each safe to print.
    pub warnings: Vec<String>,
}

impl Model {
    /// Loads, validates and resolves the dialect.
    pub fn load(path: &Path, overrides: &DialectOverrides) -> Result<Model, LoadError> {
        let graph = front::load(path)?;
        Self::from_graph(path, graph, overrides)
    }

    /// Validates an in-memory graph and resolves its dialect.
    pub fn from_graph(path: &Path, mut graph: Graph, overrides: &DialectOverrides) -> Result<Model, LoadError> {
        graph.make_names_safe();
        let info = valid::validate(&graph).map_err(|err| LoadError::Valid { path: path.into(), err })?;
        let dialect =
            Dialect::resolve(&graph, overrides).map_err(|err| LoadError::Dialect { path: path.into(), err })?;
        let mut warnings = graph.provenance.warnings.clone();
        if let Some(fixed) = graph.fixed_dialect() {
            warnings.extend(crate::ir::dialect::overridden(&fixed, &dialect));
        }
        graph.dialect = dialect;
        Ok(Model { path: path.into(), graph, info, warnings })
    }

    /// The resolved dialect.
    pub fn dialect(&self) -> &Dialect {
        &self.graph.dialect
    }
}
