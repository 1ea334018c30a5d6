//! Graph queries the rules share: dense weighted ops and their shapes, single-edge links
//! between nodes, spiking layers, and the tensor and kernel arithmetic a merge needs.

use petgraph::graph::NodeIndex;

use crate::ir::{DType, Graph, Op, Padding, Tensor};
use crate::valid::GraphInfo;

/// A dense weighted op's (weight rows, columns, weights, bias or None).
pub(super) fn dense(op: &Op) -> Option<(usize, usize, &Tensor, Option<&Tensor>)> {
    match op {
        Op::Affine { weight, bias } if weight.shape.len() == 2 => {
            Some((weight.shape[0], weight.shape[1], weight, Some(bias)))
        }
        Op::Linear { weight } if weight.shape.len() == 2 => Some((weight.shape[0], weight.shape[1], weight, None)),
        _ => None,
    }
}

/// The only non-recurrent edge into `n` comes from `from` (and `n` has no other in-edge).
pub(super) fn only_from(g: &Graph, info: &GraphInfo, n: NodeIndex, from: NodeIndex) -> bool {
    let ins = g.in_edges(n);
    ins.len() == 1 && ins[0].1 == from && !info.is_recurrent(ins[0].0)
}

/// The single non-recurrent out-edge's target of `n`.
pub(super) fn single_out(g: &Graph, info: &GraphInfo, n: NodeIndex) -> Option<NodeIndex> {
    let outs = g.out_edges(n);
    (outs.len() == 1 && !info.is_recurrent(outs[0].0)).then(|| outs[0].1)
}

/// The dense weighted children of `s` that only `s` feeds, each with its single target.
pub(super) fn dense_children(g: &Graph, info: &GraphInfo, s: NodeIndex) -> Vec<(NodeIndex, NodeIndex)> {
    let mut seen = vec![];
    let mut v = vec![];
    for (e, w) in g.out_edges(s) {
        if info.is_recurrent(e) || seen.contains(&w) {
            continue;
        }
        seen.push(w);
        if dense(&g.g[w].op).is_some()
            && only_from(g, info, w, s)
            && let Some(t) = single_out(g, info, w)
        {
            v.push((w, t));
        }
    }
    v
}

/// `n` outputs spikes (what a relay can repeat), not graded values.
pub(super) fn spiking(g: &Graph, n: NodeIndex) -> bool {
    g.g[n].op.descriptor().is_some_and(|d| d.spiking)
}

/// F32 when every tensor is, else F64 (so a merge never rounds what it copies).
pub(super) fn dtype_of<'a>(ts: impl IntoIterator<Item = &'a Tensor>) -> DType {
    if ts.into_iter().all(|t| t.dtype() == DType::F32) { DType::F32 } else { DType::F64 }
}

/// The sum of two optional per-output biases (`n` values), None when both are absent.
pub(super) fn sum_bias(a: Option<&Tensor>, b: Option<&Tensor>, n: usize) -> Option<Vec<f64>> {
    if a.is_none() && b.is_none() {
        return None;
    }
    let at = |t: Option<&Tensor>, i: usize| t.map_or(0.0, |t| t.at(i));
    Some((0..n).map(|i| at(a, i) + at(b, i)).collect())
}

/// Where the identity sits in a convolution's kernel (one index per spatial dimension), when
/// output position p reads input position p through it (stride 1, the same spatial size;
/// channels may differ).
pub(super) fn identity_tap(op: &Op, in_shape: &[usize], out_shape: &[usize]) -> Option<Vec<usize>> {
    let Op::Conv { weight, stride, padding, dilation, .. } = op else { return None };
    let nd = weight.shape.len().checked_sub(2)?;
    if in_shape.get(1..) != out_shape.get(1..) || stride.iter().any(|&x| x != 1) || dilation.len() != nd {
        return None;
    }
    (0..nd)
        .map(|d| {
            let k = weight.shape[2 + d];
            let before = pad_before(padding, d, k, dilation[d])?;
            (before % dilation[d] == 0 && before / dilation[d] < k).then(|| before / dilation[d])
        })
        .collect()
}

/// The zero padding a convolution puts before the first input position along spatial
/// dimension `d` (kernel size `k`, dilation `dil`).
pub(super) fn pad_before(padding: &Padding, d: usize, k: usize, dil: usize) -> Option<usize> {
    Some(match padding {
        Padding::Valid => 0,
        Padding::Same => dil * (k - 1) / 2,
        Padding::Explicit(p) => *p.get(d)?,
    })
}

/// A pooling parameter along dimension `i` (one value stands for both).
pub(super) fn at(v: &[usize], i: usize) -> usize {
    v.get(i).or(v.first()).copied().unwrap_or(0)
}
