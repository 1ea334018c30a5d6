//! Neuron ops the rules build: the concatenation of sibling layers (Stack, Carry), and relay
//! neurons that repeat a layer's spikes one layer later (Carry, Lengthen).

use crate::ir::{DType, Graph, Op, Tensor};

use super::graph::dtype_of;

/// `p` as `n` per-neuron values (a single value repeats), or None.
fn per_neuron(p: &Tensor, n: usize) -> Option<Vec<f64>> {
    match p.numel() {
        1 => Some(vec![p.at(0); n]),
        k if k == n => Some(p.to_vec()),
        _ => None,
    }
}

/// One neuron op over the neurons of `ops` in order (`sizes` neurons each), or None when they
/// are not the same model or a parameter is neither uniform nor per neuron.
pub(super) fn concat_neurons(ops: &[&Op], sizes: &[usize]) -> Option<Op> {
    let first = ops[0];
    if ops.iter().any(|o| std::mem::discriminant(*o) != std::mem::discriminant(first)) {
        return None;
    }
    let total: usize = sizes.iter().sum();
    let mut merged = first.clone();
    let params: Vec<Vec<(&'static str, &Tensor)>> = ops.iter().map(|o| o.params()).collect();
    for (i, (_, t)) in merged.params_mut().into_iter().enumerate() {
        let mut data = Vec::with_capacity(total);
        for (k, ps) in params.iter().enumerate() {
            data.extend(per_neuron(ps[i].1, sizes[k])?);
        }
        let uniform = data.iter().all(|&x| x.to_bits() == data[0].to_bits());
        if !(uniform && t.numel() == 1) {
            *t = Tensor::new(dtype_of(params.iter().map(|ps| ps[i].1)), vec![total], data);
        }
    }
    Some(merged)
}

/// Relay neurons repeat a layer's spikes exactly under a zero reset, when spikes are single
/// (0 or 1 per step).
pub(super) fn relays_exact(g: &Graph, reset: crate::ir::ResetMode) -> bool {
    reset == crate::ir::ResetMode::Zero && g.dialect.switches.spikes == crate::ir::dialect::SpikeMode::Single
}

/// The relay neuron's margin: a spike in puts `RELAY_MARGIN` thresholds on its membrane.
const RELAY_MARGIN: f64 = 1.5;

/// A relay neuron in the model of `like` (LIF or IF): `like`'s first decay and gain, no leak
/// target, reset to zero, and the threshold at which input weight `w` fires it with
/// [`RELAY_MARGIN`]. Under a zero reset its membrane is zero before every step, so it spikes
/// exactly when its input does, in the same step.
pub(super) fn relay_neuron(like: &Op, w: f64, d: &crate::ir::Dialect) -> Option<Op> {
    if !matches!(like, Op::LIF { .. } | Op::IF { .. }) {
        return None;
    }
    let mut op = like.clone();
    for (name, t) in op.params_mut() {
        let v = if matches!(name, "v_leak" | "v_reset" | "v_threshold") { 0.0 } else { t.at(0) };
        *t = Tensor::scalar(DType::F64, v);
    }
    let gain = crate::ir::neuron::coeffs(&op, 1, d)?.gain[0];
    let thr = gain * w / RELAY_MARGIN;
    if !(thr.is_finite() && thr > 0.0) {
        return None;
    }
    for (name, t) in op.params_mut() {
        if name == "v_threshold" {
            *t = Tensor::scalar(DType::F64, thr);
        }
    }
    Some(op)
}
