//! Read-only analyses of a validated graph used by `inspect`, the passes and the hardware
//! plan: binary-weight detection and parallel branches (ensemble students, shortcuts).

use std::collections::BTreeSet;

use petgraph::graph::NodeIndex;
use serde::Serialize;

use crate::ir::{Graph, Op, Tensor};
use crate::valid::GraphInfo;

/// How a weighted layer's weights are distributed.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum WeightKind {
    /// Every output row takes only the values `+a_i` and `-a_i` (a_i > 0, or an all-zero row).
    Binary {
        /// Per output row magnitude `a_i`.
        scales: Vec<f64>,
    },
    /// General weights with this many distinct values.
    Levels {
        /// Distinct values in the whole tensor.
        distinct: usize,
    },
}

impl WeightKind {
    /// True for binary weights.
    pub fn is_binary(&self) -> bool {
        matches!(self, WeightKind::Binary { .. })
    }

    /// Short description, e.g. `binary (a 0.031..0.084)` or `37 distinct values`.
    pub fn describe(&self) -> String {
        match self {
            WeightKind::Binary { scales } => {
                let (lo, hi) =
                    scales.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &a| (l.min(a), h.max(a)));
                if (hi - lo).abs() <= 1e-12 * hi.abs() {
                    format!("binary +-a, a = {lo:.6}")
                } else {
                    format!("binary +-a_i per row, a in [{lo:.6}, {hi:.6}]")
                }
            }
            WeightKind::Levels { distinct } => format!("{distinct} distinct values"),
        }
    }
}

/// Relative tolerance for `|w| == a_i` (exporters compute `a * sign(w)` in f32).
const BINARY_RTOL: f64 = 1e-6;

/// Classifies a weight tensor (first dimension = output rows).
pub fn classify_weights(w: &Tensor) -> WeightKind {
    let r = w.shape.first().copied().unwrap_or(1).max(1);
    let per = w.numel() / r;
    classify((0..r).map(|i| w.slice(i * per..(i + 1) * per)), w.numel(), w.iter())
}

/// Classifies the values of `w` as `rows` rows (C order, a row after another), whatever its
/// shape.
pub fn classify_rows(w: &Tensor, rows: usize) -> WeightKind {
    let per = w.numel() / rows.max(1);
    classify((0..rows.max(1)).map(|i| w.slice(i * per..(i + 1) * per)), w.numel(), w.iter())
}

fn classify<R: Iterator<Item = f64> + Clone>(
    rows: impl Iterator<Item = R>,
    numel: usize,
    all: impl Iterator<Item = f64>,
) -> WeightKind {
    if numel == 0 {
        return WeightKind::Levels { distinct: 0 };
    }
    let mut scales = vec![];
    let mut binary = true;
    for row in rows {
        let a = row.clone().fold(0.0f64, |m, v| m.max(v.abs()));
        if a == 0.0 {
            scales.push(0.0);
            continue;
        }
        if row.into_iter().all(|v| (v.abs() - a).abs() <= BINARY_RTOL * a) {
            scales.push(a);
        } else {
            binary = false;
            break;
        }
    }
    if binary {
        return WeightKind::Binary { scales };
    }
    let distinct: BTreeSet<u64> = all.map(|v| v.to_bits()).collect();
    WeightKind::Levels { distinct: distinct.len() }
}

/// The weight tensor of a weighted op, if any.
pub fn weight_of(op: &Op) -> Option<&Tensor> {
    match op {
        Op::Affine { weight, .. } | Op::Linear { weight } | Op::Conv { weight, .. } => Some(weight),
        _ => None,
    }
}

/// One incoming branch of a merge.
#[derive(Clone, Debug, Serialize)]
pub struct Branch {
    /// Named by its first node in evaluation order (or the source, for a direct edge).
    pub name: String,
    /// Nodes that reach the merge only through this branch, in evaluation order.
    pub nodes: Vec<String>,
    /// The branch's last node (the source of its edge into the merge).
    pub last: String,
}

/// A node where several parallel branches sum.
#[derive(Clone, Debug, Serialize)]
pub struct Merge {
    /// The merge node.
    pub node: String,
    /// The branches, in in-edge order.
    pub branches: Vec<Branch>,
    /// True when every branch holds a neuron of its own: the branches are ensemble students.
    pub ensemble: bool,
}

/// Finds every node with two or more feed-forward in-edges and its branches: the nodes that
/// reach the merge through one in-edge and through no other.
pub fn merges(g: &Graph, info: &GraphInfo) -> Vec<Merge> {
    let rank = info.rank();
    let mut out = vec![];
    for &m in &info.order {
        let ins: Vec<_> = g.in_edges(m).into_iter().filter(|(e, _)| !info.is_recurrent(*e)).collect();
        if ins.len() < 2 {
            continue;
        }
        let anc: Vec<BTreeSet<NodeIndex>> = ins.iter().map(|&(_, s)| ancestors(g, info, s)).collect();
        let mut branches = vec![];
        for (k, a) in anc.iter().enumerate() {
            let mut own: Vec<NodeIndex> =
                a.iter().copied().filter(|n| anc.iter().enumerate().all(|(j, b)| j == k || !b.contains(n))).collect();
            own.sort_by_key(|n| rank[n.index()]);
            let src = ins[k].1;
            let name = own.first().map(|&n| g.g[n].name.clone()).unwrap_or_else(|| g.g[src].name.clone());
            branches.push(Branch {
                name,
                nodes: own.iter().map(|&n| g.g[n].name.clone()).collect(),
                last: g.g[src].name.clone(),
            });
        }
        let ensemble =
            branches.iter().all(|b| b.nodes.iter().any(|n| g.find(n).map(|i| g.g[i].op.is_neuron()).unwrap_or(false)));
        out.push(Merge { node: g.g[m].name.clone(), branches, ensemble });
    }
    out
}

/// `n` and every node with a feed-forward path to it.
fn ancestors(g: &Graph, info: &GraphInfo, n: NodeIndex) -> BTreeSet<NodeIndex> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![n];
    while let Some(x) = stack.pop() {
        if seen.insert(x) {
            for (e, s) in g.in_edges(x) {
                if !info.is_recurrent(e) {
                    stack.push(s);
                }
            }
        }
    }
    seen
}
