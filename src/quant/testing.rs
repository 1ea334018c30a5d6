//! Small in-memory models for the quantisers' unit tests: an Input, a chain of ops, an
//! Output, validated like a loaded file.

use std::path::Path;

use crate::ir::dialect::DialectOverrides;
use crate::ir::{Graph, Op, Tensor};
use crate::model::Model;
use crate::quant::{InputStats, QuantOptions, Rules};

/// `in -> ops... -> out` with an input of `shape`, dt = 1, T = 4 and the other overrides of `o`.
pub fn chain(shape: &[usize], ops: Vec<(&str, Op)>, o: &DialectOverrides) -> Model {
    let mut g = Graph::default();
    let mut prev = g.add_node("in", Op::Input { shape: shape.to_vec() });
    for (name, op) in ops {
        let ix = g.add_node(name, op);
        g.add_edge(prev, ix);
        prev = ix;
    }
    let out = g.add_node("out", Op::Output);
    g.add_edge(prev, out);
    let o = DialectOverrides { dt: Some(1.0), timesteps: Some(4), ..o.clone() };
    Model::from_graph(Path::new("t.json"), g, &o).expect("a valid test model")
}

/// A vector tensor.
pub fn vec1(v: &[f64]) -> Tensor {
    Tensor::f64(vec![v.len()], v.to_vec())
}

/// An (out, in) matrix from its rows.
pub fn matrix(rows: &[&[f64]]) -> Tensor {
    Tensor::f64(vec![rows.len(), rows[0].len()], rows.concat())
}

/// `y = W x + b`.
pub fn affine(rows: &[&[f64]], bias: &[f64]) -> Op {
    Op::Affine { weight: matrix(rows), bias: vec1(bias) }
}

/// An IF neuron per threshold (r = 1: with dt = 1 the input gain is 1, beta = 1).
pub fn if_neurons(thr: &[f64], reset: f64) -> Op {
    let n = thr.len();
    Op::IF { r: vec1(&vec![1.0; n]), v_threshold: vec1(thr), v_reset: vec1(&vec![reset; n]) }
}

/// Current-based LIF neurons: `r = tau_mem` and `w_in = tau_syn` make both gains 1 (dt = 1).
pub fn cuba_lif(tau_syn: f64, tau_mem: f64, thr: &[f64]) -> Op {
    let n = thr.len();
    let fill = |v: f64| vec1(&vec![v; n]);
    Op::CubaLIF {
        tau_syn: fill(tau_syn),
        tau_mem: fill(tau_mem),
        r: fill(tau_mem),
        v_leak: fill(0.0),
        w_in: fill(tau_syn),
        v_threshold: vec1(thr),
        v_reset: fill(0.0),
    }
}

/// Calibration statistics of integers in `min..=max`, one input per sample.
pub fn integers(min: f64, max: f64) -> InputStats {
    InputStats { min, max, integers: true, grid: Some(1.0), per_step: false }
}

/// Options for `rules` over 4 steps with calibration `stats`.
pub fn options(rules: Rules, stats: InputStats) -> QuantOptions {
    QuantOptions {
        rules,
        input_scale: None,
        input_stats: Some(stats),
        timesteps: 4,
        output: None,
        early_exit: false,
        spike_cap: None,
    }
}
