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
pub mod students;

use petgraph::graph::{EdgeIndex, NodeIndex};
use serde::Serialize;

use crate::ir::{Graph, Op};
use crate::model::Model;
use crate::valid::{self, GraphInfo, ValidError};

/// What a pass may assume.
#[derive(Clone, Debug)]
pub struct Context {
    /// Timesteps the model will run (bounds of integrating neurons use it).
    pub steps: usize,
    /// Every input value lies in this range (the calibration range; the hardware's input
    /// quantiser clips to it). `None`: unbounded.
    pub input_range: Option<(f64, f64)>,
}

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
    /// Parts of a sharded exploration that do not make one.
    #[error("{0}")]
    Parts(String),
    /// The hardware plan a choice measures on cannot be built.
    #[error(transparent)]
    Plan(#[from] crate::quant::QuantError),
    /// The pass produced a graph that does not validate (a bug in the pass).
    #[error("pass '{pass}' produced an invalid graph: {err}")]
    Invalid {
        /// Pass name.
        pass: String,
        /// Validation error.
        err: ValidError,
    },
}

/// Why one pass cannot transform a graph, naming what it looked for; the pipeline adds the
/// pass's name.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    /// Student selection on a model without an ensemble.
    #[error(
        "the model has no ensemble: no node sums parallel branches that each hold neurons (`spikefab inspect` \
         lists merges)"
    )]
    NoEnsemble,
    /// Student selection on a model with several ensembles.
    #[error("the model has {} ensembles (merges at {}); student selection handles one", merges.len(), quoted(merges))]
    SeveralEnsembles {
        /// The merge node of each.
        merges: Vec<String>,
    },
    /// A student named that the ensemble does not have.
    #[error("no student '{name}' in the ensemble at '{merge}' (students: {})", students.join(", "))]
    NoSuchStudent {
        /// The name or index asked for.
        name: String,
        /// The ensemble's merge node.
        merge: String,
        /// Its students' names.
        students: Vec<String>,
    },
    /// No student left to keep.
    #[error("at least one student must be kept")]
    NoStudentKept,
    /// A rewrite left a graph that does not validate (a bug in the rule).
    #[error("after {after}: {err}")]
    Invalid {
        /// The rewrite (`folding`, `'<rule>'`).
        after: String,
        /// What validation found.
        err: ValidError,
    },
    /// Student indices beyond the ensemble's.
    #[error("students to keep {keep:?} out of 0..{students}")]
    StudentsOutOfRange {
        /// The indices asked for.
        keep: Vec<usize>,
        /// The ensemble's students.
        students: usize,
    },
}

/// `'a', 'b'`.
fn quoted(names: &[String]) -> String {
    names.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ")
}

/// One graph transformation.
pub trait Pass {
    /// Name shown in records and errors.
    fn name(&self) -> String;
    /// Returns the new graph and one line per change (none: unchanged).
    fn run(&self, g: &Graph, info: &GraphInfo, cx: &Context) -> Result<(Graph, Vec<String>), Refusal>;
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

/// The convolution `op` with new weights and bias, its geometry kept; None for other ops.
pub(crate) fn conv_with(op: &Op, weight: crate::ir::Tensor, bias: Option<crate::ir::Tensor>) -> Option<Op> {
    let Op::Conv { stride, padding, dilation, groups, input_shape, .. } = op else { return None };
    Some(Op::Conv {
        weight,
        bias,
        stride: stride.clone(),
        padding: padding.clone(),
        dilation: dilation.clone(),
        groups: *groups,
        input_shape: input_shape.clone(),
    })
}

/// Copies `g` keeping the nodes for which `op` returns an op (possibly changed) and the edges
/// `edge` maps to (possibly re-pointed) endpoints, in the original edge order. Edges touching
/// a dropped node are dropped.
pub(crate) fn rebuild(
    g: &Graph,
    op: &dyn Fn(NodeIndex) -> Option<Op>,
    edge: &dyn Fn(EdgeIndex, NodeIndex, NodeIndex) -> Option<(NodeIndex, NodeIndex)>,
) -> Graph {
    let mut out = Graph { g: Default::default(), dialect: g.dialect.clone(), provenance: g.provenance.clone() };
    let mut map = vec![None; g.g.node_count()];
    for ix in g.g.node_indices() {
        if let Some(o) = op(ix) {
            map[ix.index()] = Some(out.add_node(g.g[ix].name.clone(), o));
        }
    }
    for e in g.g.edge_indices() {
        let (s, t) = g.g.edge_endpoints(e).expect("edge of this graph");
        if let Some((s, t)) = edge(e, s, t)
            && let (Some(a), Some(b)) = (map[s.index()], map[t.index()])
        {
            out.add_edge(a, b);
        }
    }
    out
}
