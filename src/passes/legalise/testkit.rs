//! What the rules' unit tests share: small graphs built by hand, one rule applied by hand, and
//! the reference engine's outputs before and after, compared value for value in f64.
//!
//! Weights, biases, thresholds and inputs are multiples of 1/4 of a few bits (and the LIF
//! neurons' decay and gain are 1/2), so every sum the engine forms is exact in f64 whatever
//! its order: a rule that keeps the model's function in real arithmetic keeps every output
//! value bit for bit, and any difference is a rule that changed the function.

use petgraph::graph::NodeIndex;

use super::rewrite::{Rewrite, apply};
use crate::data::{Encoding, InputBatch};
use crate::ir::dialect::Dialect;
use crate::ir::{DType, Graph, Op, Padding, ResetMode, Tensor};
use crate::sim::reference::{self, RunOptions};
use crate::valid::{self, GraphInfo};

/// Steps each test model runs.
const STEPS: usize = 6;
/// Samples each test model runs.
const SAMPLES: usize = 8;

/// An empty graph run at dt 1 (Euler, single spikes) with `reset`.
pub(super) fn empty(reset: ResetMode) -> Graph {
    Graph { dialect: Dialect { dt: Some(1.0), reset, ..Default::default() }, ..Default::default() }
}

/// LIF neurons with tau 2 and r 1 (at dt 1: decay 1/2, gain 1/2), leak and reset 0, and one
/// threshold per neuron.
pub(super) fn lif(thresholds: &[f64]) -> Op {
    let s = |v| Tensor::scalar(DType::F64, v);
    Op::LIF {
        tau: s(2.0),
        r: s(1.0),
        v_leak: s(0.0),
        v_threshold: Tensor::f64(vec![thresholds.len()], thresholds.to_vec()),
        v_reset: s(0.0),
    }
}

/// `n` thresholds in [0.5, 1.25], multiples of 1/4.
pub(super) fn thresholds(n: usize) -> Vec<f64> {
    (0..n).map(|i| 0.5 + 0.25 * (i % 4) as f64).collect()
}

/// `n` values in [-1.5, 1.5], multiples of 1/4, none zero, from `seed` (xorshift).
pub(super) fn values(n: usize, seed: u64) -> Vec<f64> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let k = (x >> 32) % 12; // 0..12 -> -1.5..-0.25, 0.25..1.5
            if k < 6 { -0.25 * (k + 1) as f64 } else { 0.25 * (k - 5) as f64 }
        })
        .collect()
}

/// `y = W x`, W `rows` x `cols`.
pub(super) fn linear(rows: usize, cols: usize, w: Vec<f64>) -> Op {
    Op::Linear { weight: Tensor::f64(vec![rows, cols], w) }
}

/// `y = W x + b`, W `rows` x `cols`.
pub(super) fn affine(rows: usize, cols: usize, w: Vec<f64>, b: Vec<f64>) -> Op {
    Op::Affine { weight: Tensor::f64(vec![rows, cols], w), bias: Tensor::f64(vec![rows], b) }
}

/// A 2-d convolution, `co` x `ci` x `k` x `k`, stride 1, zero padding `pad` on every side.
pub(super) fn conv(co: usize, ci: usize, k: usize, pad: usize, w: Vec<f64>, bias: Option<Vec<f64>>) -> Op {
    Op::Conv {
        weight: Tensor::f64(vec![co, ci, k, k], w),
        bias: bias.map(|b| Tensor::f64(vec![co], b)),
        stride: vec![1, 1],
        padding: Padding::Explicit(vec![pad, pad]),
        dilation: vec![1, 1],
        groups: 1,
        input_shape: None,
    }
}

/// Edges along `nodes`, in order.
pub(super) fn chain(g: &mut Graph, nodes: &[NodeIndex]) {
    for w in nodes.windows(2) {
        g.add_edge(w[0], w[1]);
    }
}

/// `g`'s validation (a test graph that does not validate is a bug in the test).
pub(super) fn info(g: &Graph) -> GraphInfo {
    valid::validate(g).unwrap_or_else(|e| panic!("test graph invalid: {e}"))
}

/// The rewrite `find` returns on `g` (it must find one) applied to `g`, which must validate,
/// and the rewrite's change line.
pub(super) fn rewrite(g: &Graph, find: impl Fn(&Graph, &GraphInfo) -> Option<Rewrite>) -> (Graph, String) {
    let r = find(g, &info(g)).expect("the rule applies");
    let out = apply(g, &r);
    info(&out);
    (out, r.what)
}

/// The op of the node named `name`.
pub(super) fn op<'a>(g: &'a Graph, name: &str) -> &'a Op {
    &g.g[g.find(name).unwrap_or_else(|| panic!("no node '{name}'"))].op
}

/// The weight (first parameter) of the node named `name`: its shape and values.
pub(super) fn weight(g: &Graph, name: &str) -> (Vec<usize>, Vec<f64>) {
    let params = op(g, name).params();
    let t = params.first().expect("a weighted op").1;
    (t.shape.clone(), t.to_vec())
}

/// Node names in index order.
pub(super) fn names(g: &Graph) -> Vec<&str> {
    g.g.node_indices().map(|i| g.g[i].name.as_str()).collect()
}

/// Edges as (source, target) names, sorted.
pub(super) fn edges(g: &Graph) -> Vec<(String, String)> {
    let mut v: Vec<_> = g.edges().into_iter().map(|(a, b)| (g.g[a].name.clone(), g.g[b].name.clone())).collect();
    v.sort();
    v
}

/// Sorted (source, target) pairs of names, to compare with [`edges`].
pub(super) fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<_> = p.iter().map(|&(a, b)| (a.to_string(), b.to_string())).collect();
    v.sort();
    v
}

/// The reference engine's f64 outputs of `g` on [`SAMPLES`] inputs (multiples of 1/4 in
/// [0.25, 1.5], the same for every graph with that input size), over [`STEPS`] steps.
pub(super) fn outputs(g: &Graph) -> Vec<f64> {
    let info = info(g);
    let input = g.the_input().expect("one input");
    let numel = info.out_numel(input);
    let data = values(SAMPLES * numel, 0x1e9a).into_iter().map(f64::abs).collect();
    let batch = InputBatch { n: SAMPLES, numel, encoding: Encoding::Direct, data };
    let o = RunOptions { steps: STEPS, f64: true, output: g.select_output(None).expect("one output") };
    reference::run(g, &info, &g.dialect, &batch, &o, None).expect("the reference engine runs").outputs.data
}

/// `after` computes what `before` computes: every output value equal, with spikes and
/// silences among them (otherwise the comparison would show nothing).
pub(super) fn assert_same_function(before: &Graph, after: &Graph) {
    let (a, b) = (outputs(before), outputs(after));
    assert_eq!(a.len(), b.len());
    let spikes = a.iter().filter(|&&x| x != 0.0).count();
    assert!(spikes > 0 && spikes < a.len(), "{spikes} of {} outputs non-zero: the test shows nothing", a.len());
    let differing: Vec<usize> = (0..a.len()).filter(|&i| a[i].to_bits() != b[i].to_bits()).collect();
    assert!(
        differing.is_empty(),
        "{} of {} output values differ (first at {:?})",
        differing.len(),
        a.len(),
        differing.first()
    );
}
