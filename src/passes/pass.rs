//! The shape every pass shares: what a pass may assume ([`Context`]), why it refuses
//! ([`Refusal`]), the [`Pass`] trait, and the graph-copying helpers the passes build their
//! results with. It names no pass and no pipeline, so every pass file imports it without
//! importing the list of passes in `passes/mod.rs` (issue 53: no import cycles between files);
//! `passes/mod.rs` re-exports its public items at their old paths.

use petgraph::graph::{EdgeIndex, NodeIndex};

use crate::ir::{Graph, Op};
use crate::valid::{GraphInfo, ValidError};

/// What a pass may assume.
#[derive(Clone, Debug)]
pub struct Context {
    /// Timesteps the model will run (bounds of integrating neurons use it).
    pub steps: usize,
    /// Every input value lies in this range (the calibration range; the hardware's input
    /// quantiser clips to it). `None`: unbounded.
    pub input_range: Option<(f64, f64)>,
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
