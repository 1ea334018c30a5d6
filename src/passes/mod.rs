//! Graph passes: one shape for every pass, an explicit ordered pipeline, re-validation after
//! each pass (an invalid result names the pass), and a record of what each pass changed.
//!
//! Passes are functions from a validated graph to a new graph (plain data in, plain data
//! out). The simplifications keep every output identical for inputs inside the context's
//! input range; the cuts (student pruning) change outputs on purpose and are chosen by
//! measuring them (`crate::dse`, after the engines).

pub mod dead;
pub mod fold;
pub mod legalise;
mod pass;
pub mod students;

use serde::Serialize;

pub use pass::{Context, Pass, Refusal};

use crate::ir::Graph;
use crate::model::Model;
use crate::valid::{self, ValidError};

/// What one pass did.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PassRecord {
    /// Pass name.
    pub pass: String,
    /// One line per change; empty when the pass changed nothing.
    pub changes: Vec<String>,
    /// Nodes before and after.
    pub nodes: (usize, usize),
    /// Parameters before and after.
    pub params: (usize, usize),
}

/// A pass failed or left an invalid graph.
#[derive(Debug, thiserror::Error)]
pub enum PassError {
    /// The pass could not run (bad option, unsupported structure).
    #[error("pass '{pass}': {message}")]
    Failed {
        /// Pass name.
        pass: String,
        /// Why.
        message: String,
    },
    /// A measured choice (students, T') cannot be made on this model or data.
    #[error("{0}")]
    Refused(String),
    /// The pass produced a graph that does not validate (a bug in the pass).
    #[error("pass '{pass}' produced an invalid graph: {err}")]
    Invalid {
        /// Pass name.
        pass: String,
        /// Validation error.
        err: ValidError,
    },
}

/// An ordered list of passes.
#[derive(Default)]
pub struct Pipeline {
    passes: Vec<Box<dyn Pass>>,
}

impl Pipeline {
    /// An empty pipeline.
    pub fn new() -> Self {
        Pipeline::default()
    }

    /// It holds no pass.
    pub fn is_empty(&self) -> bool {
        self.passes.is_empty()
    }

    /// Appends a pass.
    pub fn then(mut self, p: impl Pass + 'static) -> Self {
        self.passes.push(Box::new(p));
        self
    }

    /// The simplifications that keep outputs identical: fold scales, drop never-firing
    /// neurons and constant-zero branches, drop nodes that reach no output.
    pub fn simplify() -> Self {
        Pipeline::new().then(fold::FoldScale).then(dead::DeadNeurons).then(dead::DeadNodes)
    }

    /// The chip legalisation: parallel branches merged into one chain
    /// ([`legalise::MergeBranches`]), for a chip that resets as `reset` (None: as the model).
    pub fn legalise(reset: Option<crate::ir::ResetMode>) -> Self {
        Pipeline::new().then(legalise::MergeBranches { reset })
    }

    /// Pass names in order.
    pub fn names(&self) -> Vec<String> {
        self.passes.iter().map(|p| p.name()).collect()
    }

    /// Runs every pass in order, re-validating after each.
    pub fn run(&self, m: &Model, cx: &Context) -> Result<(Model, Vec<PassRecord>), PassError> {
        let mut g = m.graph.clone();
        let mut info = m.info.clone();
        let mut records = vec![];
        for p in &self.passes {
            let name = p.name();
            let (ng, changes) =
                p.run(&g, &info, cx).map_err(|r| PassError::Failed { pass: name.clone(), message: r.to_string() })?;
            let ninfo = valid::validate(&ng).map_err(|err| PassError::Invalid { pass: name.clone(), err })?;
            records.push(PassRecord {
                pass: name,
                nodes: (g.len(), ng.len()),
                params: (param_count(&g), param_count(&ng)),
                changes,
            });
            g = ng;
            info = ninfo;
        }
        Ok((Model { path: m.path.clone(), graph: g, info, warnings: m.warnings.clone() }, records))
    }
}

/// Parameters of every node.
pub fn param_count(g: &Graph) -> usize {
    g.g.node_indices().map(|i| g.g[i].op.param_count()).sum()
}
