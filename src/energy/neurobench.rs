//! NeuroBench-compatible operation counts, measured on the reference engine (the numbers the
//! training framework's network would give NeuroBench 2.x, not the hardware's).
//!
//! Definitions (NeuroBench `metrics/`, per sample = totals / samples):
//! - connection layers are Affine, Linear and Conv nodes. Per call (one step of one sample)
//!   the input is binarised (non-zero -> 1), the weights too, the bias dropped, and the outputs
//!   summed: effective ops. Dense ops: the same with every input and weight set to 1 (padding
//!   still contributes nothing). The call's ops are ACs when every input value is in
//!   {-1, 0, 1}, else MACs. NeuroBench decides that per hooked call, i.e. over the whole
//!   batch; spikefab decides it per sample, which equals NeuroBench at batch size 1 (and at any
//!   batch size whenever a layer's inputs are always or never binary, as in every bundled
//!   student).
//! - spiking neuron layers (LIF, IF, CubaLIF) are NeuroBench's activation layers. Membrane
//!   updates: every neuron at the first step, then per step the neurons whose membrane value
//!   changed. Neuron ops: updates x NeuroBench's per-update cost (snnTorch Leaky 4, Synaptic 6
//!   for subtract and 8 for zero reset). Activation sparsity: zero outputs / outputs over all
//!   spiking layers, steps and samples. Non-spiking readouts (LI, CubaLI, I) have no snnTorch
//!   spiking counterpart and are not counted.
//! - footprint: bytes of the network as snnTorch holds it: f32 weights and biases, and per
//!   spiking layer the snnTorch neuron's buffers (threshold, graded_spikes_factor, beta
//!   [, alpha] as f32 of their size, reset_mechanism_val as i64). Parameter count: weights and
//!   biases. Connection sparsity: zero weights / weights of the connection layers.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use petgraph::graph::NodeIndex;
use serde::{Deserialize, Serialize};

use crate::data::InputBatch;
use crate::ir::dialect::{Dialect, ResetMode};
use crate::ir::{Graph, Op, Padding, Tensor};
use crate::sim::reference::{self, RunOptions, SimError, StepHook};
use crate::valid::GraphInfo;

/// Counts of one layer, per sample.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LayerCounts {
    /// Node name.
    pub name: String,
    /// NIR op type.
    pub op: String,
    /// Synaptic ops on non-binary inputs (connection layers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effective_macs: Option<f64>,
    /// Synaptic ops on binary inputs (connection layers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effective_acs: Option<f64>,
    /// All synaptic ops (connection layers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dense_ops: Option<f64>,
    /// Membrane updates (spiking layers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub membrane_updates: Option<f64>,
    /// Zero outputs / outputs (spiking layers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activation_sparsity: Option<f64>,
    /// Spikes per sample (spiking layers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spikes: Option<f64>,
    /// Exact totals over all samples: (effective, dense) or (updates, spikes, outputs).
    pub totals: Vec<u64>,
}

/// NeuroBench-compatible counts of a run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Counts {
    /// Samples counted.
    pub samples: usize,
    /// Steps per sample.
    pub timesteps: usize,
    /// Per sample.
    pub effective_acs: f64,
    /// Per sample.
    pub effective_macs: f64,
    /// Per sample.
    pub dense_ops: f64,
    /// Per sample.
    pub membrane_updates: f64,
    /// Per sample: membrane updates x per-update cost.
    pub neuron_ops: f64,
    /// Per sample: every neuron every step x per-update cost.
    pub neuron_dense_ops: f64,
    /// Over all spiking layers.
    pub activation_sparsity: f64,
    /// Bytes.
    pub footprint_bytes: u64,
    /// Weights and biases.
    pub parameter_count: u64,
    /// Zero weights / weights (unrounded; NeuroBench rounds to 4 decimals).
    pub connection_sparsity: f64,
    /// Per layer, graph order.
    pub layers: Vec<LayerCounts>,
}

/// Per connection layer: for every input element, how many (output, weight) products it
/// takes part in with a non-zero weight (`eff`); all products of a call (`dense_sum`).
struct Synapse {
    eff: Vec<u64>,
    dense_sum: u64,
}

enum Role {
    None,
    Synapse(Synapse),
    Neuron { cost: u64 },
}

#[derive(Default)]
struct Acc {
    macs: AtomicU64,
    acs: AtomicU64,
    dense: AtomicU64,
    updates: AtomicU64,
    spikes: AtomicU64,
    outputs: AtomicU64,
}

struct Hook {
    roles: Vec<Role>,
    acc: Vec<Acc>,
}

impl StepHook for Hook {
    fn on_step(&self, _sample: usize, _t: usize, node: NodeIndex, input: &[f64], output: &[f64]) {
        let k = node.index();
        let a = &self.acc[k];
        match &self.roles[k] {
            Role::Synapse(s) => {
                let binary = input.iter().all(|&x| x == 0.0 || x == 1.0 || x == -1.0);
                let eff: u64 = input.iter().zip(&s.eff).filter(|(x, _)| **x != 0.0).map(|(_, &c)| c).sum();
                if binary { &a.acs } else { &a.macs }.fetch_add(eff, Relaxed);
                a.dense.fetch_add(s.dense_sum, Relaxed);
            }
            Role::Neuron { .. } => {
                a.spikes.fetch_add(output.iter().filter(|&&v| v != 0.0).count() as u64, Relaxed);
                a.outputs.fetch_add(output.len() as u64, Relaxed);
            }
            Role::None => {}
        }
    }

    fn on_membrane(&self, _sample: usize, t: usize, node: NodeIndex, before: &[f64], after: &[f64]) {
        let k = node.index();
        if let Role::Neuron { .. } = self.roles[k] {
            let n = if t == 0 { after.len() } else { before.iter().zip(after).filter(|(b, a)| b != a).count() };
            self.acc[k].updates.fetch_add(n as u64, Relaxed);
        }
    }
}

fn nonzero(v: f64) -> u64 {
    u64::from(v != 0.0)
}

fn dense_synapse(w: &Tensor, rows: usize, cols: usize) -> Synapse {
    let mut eff = vec![0u64; cols];
    for r in 0..rows {
        for (e, v) in eff.iter_mut().zip(w.slice(r * cols..(r + 1) * cols)) {
            *e += nonzero(v);
        }
    }
    Synapse { eff, dense_sum: (rows * cols) as u64 }
}

#[allow(clippy::too_many_arguments)]
fn conv_synapse(
    w: &Tensor,
    wshape: &[usize],
    ins: &[usize],
    outs: &[usize],
    stride: &[usize],
    padding: &Padding,
    dilation: &[usize],
    groups: usize,
) -> Synapse {
    let nd = wshape.len() - 2;
    let two = |v: &[usize], one: usize| if nd == 1 { [one, v[0]] } else { [v[0], v[1]] };
    let (ci, co) = (ins[0], outs[0]);
    let (ih, iw) = if nd == 1 { (1, ins[1]) } else { (ins[1], ins[2]) };
    let (oh, ow) = if nd == 1 { (1, outs[1]) } else { (outs[1], outs[2]) };
    let k = if nd == 1 { [1, wshape[2]] } else { [wshape[2], wshape[3]] };
    let (s, d) = (two(stride, 1), two(dilation, 1));
    let pb = match padding {
        Padding::Explicit(p) => two(p, 0),
        Padding::Valid => [0, 0],
        Padding::Same => [d[0] * (k[0] - 1) / 2, d[1] * (k[1] - 1) / 2],
    };
    let (ci_g, co_g) = (ci / groups, co / groups);
    let taps = k[0] * k[1];
    // Non-zero weights of input channel c at tap (ky, kx), over the output channels reading it.
    let mut nz = vec![0u64; ci * taps];
    for o in 0..co {
        let grp = o / co_g;
        for cl in 0..ci_g {
            let row = (grp * ci_g + cl) * taps;
            for (tap, v) in w.slice((o * ci_g + cl) * taps..(o * ci_g + cl + 1) * taps).enumerate() {
                nz[row + tap] += nonzero(v);
            }
        }
    }
    // Every (output position, tap) reads at most one input position: an input's effective
    // synapses are the sums over the taps that reach it; the dense count is every valid
    // (output channel, output position, input channel of its group, tap).
    let mut eff = vec![0u64; ci * ih * iw];
    let mut dense_sum = 0u64;
    for ky in 0..k[0] {
        for kx in 0..k[1] {
            let mut valid = 0u64;
            for oy in 0..oh {
                let iy = (oy * s[0] + ky * d[0]) as isize - pb[0] as isize;
                if iy < 0 || iy >= ih as isize {
                    continue;
                }
                for ox in 0..ow {
                    let ix = (ox * s[1] + kx * d[1]) as isize - pb[1] as isize;
                    if ix < 0 || ix >= iw as isize {
                        continue;
                    }
                    valid += 1;
                    for c in 0..ci {
                        eff[(c * ih + iy as usize) * iw + ix as usize] += nz[c * taps + ky * k[1] + kx];
                    }
                }
            }
            dense_sum += valid * (co * ci_g) as u64;
        }
    }
    Synapse { eff, dense_sum }
}

/// NeuroBench's per-update cost of the snnTorch neuron a NIR neuron becomes.
fn update_cost(op: &Op, reset: ResetMode) -> u64 {
    match (op, reset) {
        (Op::CubaLIF { .. }, ResetMode::Zero) => 8,
        (Op::CubaLIF { .. }, _) => 6,
        _ => 4,
    }
}

fn distinct(v: &[f64]) -> usize {
    if v.iter().all(|&x| x == v[0]) { 1 } else { v.len() }
}

/// snnTorch buffers of a spiking layer, in bytes (scalars when the parameter is uniform).
fn neuron_buffer_bytes(op: &Op, n: usize, d: &Dialect) -> u64 {
    let Some(c) = crate::ir::neuron::coeffs(op, n, d) else { return 0 };
    let thr = c.v_th.as_deref().map_or(1, distinct);
    let beta = distinct(&c.beta);
    let alpha = c.syn.as_ref().map_or(0, |(a, _)| distinct(a));
    (4 * (thr + 1 + beta + alpha) + 8) as u64
}

/// Runs the reference engine over `batch` and counts.
pub fn count(
    g: &Graph,
    info: &GraphInfo,
    dialect: &Dialect,
    batch: &InputBatch,
    steps: usize,
) -> Result<Counts, SimError> {
    let counter = Counter::new(g, info, dialect);
    let output = match g.select_output(None) {
        Ok(o) => o,
        Err(_) => g.outputs()[0],
    };
    reference::run(g, info, dialect, batch, &RunOptions { steps, f64: false, output }, Some(&counter))?;
    Ok(counter.counts(g, info, batch.n, steps))
}

/// Counts NeuroBench's metrics as a [`StepHook`] of a reference run, so that a run made for
/// another purpose (verification) counts too: give it to [`reference::run`], then read
/// [`Counter::counts`].
pub struct Counter {
    hook: Hook,
    params: u64,
    buffers: u64,
    weights: u64,
    zero_weights: u64,
}

impl Counter {
    /// A counter for runs of `g`.
    pub fn new(g: &Graph, info: &GraphInfo, dialect: &Dialect) -> Counter {
        let n_nodes = g.g.node_count();
        let mut roles = Vec::with_capacity(n_nodes);
        let mut params = 0u64;
        let mut weights = 0u64;
        let mut zero_weights = 0u64;
        let mut buffers = 0u64;
        for k in 0..n_nodes {
            let ix = NodeIndex::new(k);
            let op = &g.g[ix].op;
            let role = match op {
                Op::Affine { weight, .. } | Op::Linear { weight } => {
                    Role::Synapse(dense_synapse(weight, weight.shape[0], weight.shape[1]))
                }
                Op::Conv { weight, stride, padding, dilation, groups, .. } => Role::Synapse(conv_synapse(
                    weight,
                    &weight.shape,
                    &info.in_shape[k],
                    &info.out_shape[k],
                    stride,
                    padding,
                    dilation,
                    *groups,
                )),
                _ if op.is_neuron() && op.emits_spikes() => {
                    buffers += neuron_buffer_bytes(op, info.out_numel(ix), dialect);
                    Role::Neuron { cost: update_cost(op, dialect.reset) }
                }
                _ => Role::None,
            };
            match op {
                Op::Affine { weight, bias } => {
                    params += (weight.numel() + bias.numel()) as u64;
                    weights += weight.numel() as u64;
                    zero_weights += weight.iter().filter(|&v| v == 0.0).count() as u64;
                }
                Op::Linear { weight } | Op::Conv { weight, bias: None, .. } => {
                    params += weight.numel() as u64;
                    weights += weight.numel() as u64;
                    zero_weights += weight.iter().filter(|&v| v == 0.0).count() as u64;
                }
                Op::Conv { weight, bias: Some(b), .. } => {
                    params += (weight.numel() + b.numel()) as u64;
                    weights += weight.numel() as u64;
                    zero_weights += weight.iter().filter(|&v| v == 0.0).count() as u64;
                }
                Op::Scale { scale } => params += scale.numel() as u64,
                _ => {}
            }
            roles.push(role);
        }
        let hook = Hook { roles, acc: (0..n_nodes).map(|_| Acc::default()).collect() };
        Counter { hook, params, buffers, weights, zero_weights }
    }

    /// The counts of the run(s) this counter watched, over `samples` samples of `steps` steps.
    pub fn counts(&self, g: &Graph, info: &GraphInfo, samples: usize, steps: usize) -> Counts {
        let (hook, params, buffers, weights, zero_weights) =
            (&self.hook, self.params, self.buffers, self.weights, self.zero_weights);

        let n = samples.max(1) as f64;
        let mut c = Counts {
            samples,
            timesteps: steps,
            effective_acs: 0.0,
            effective_macs: 0.0,
            dense_ops: 0.0,
            membrane_updates: 0.0,
            neuron_ops: 0.0,
            neuron_dense_ops: 0.0,
            activation_sparsity: 0.0,
            footprint_bytes: 4 * params + buffers,
            parameter_count: params,
            connection_sparsity: if weights == 0 { 0.0 } else { zero_weights as f64 / weights as f64 },
            layers: vec![],
        };
        let (mut spikes, mut outputs) = (0u64, 0u64);
        for &ix in &info.order {
            let k = ix.index();
            let a = &hook.acc[k];
            let node = &g.g[ix];
            let base = LayerCounts {
                name: node.name.clone(),
                op: node.op.type_name().to_string(),
                effective_macs: None,
                effective_acs: None,
                dense_ops: None,
                membrane_updates: None,
                activation_sparsity: None,
                spikes: None,
                totals: vec![],
            };
            match &hook.roles[k] {
                Role::Synapse(_) => {
                    let (m, ac, d) = (a.macs.load(Relaxed), a.acs.load(Relaxed), a.dense.load(Relaxed));
                    c.effective_macs += m as f64 / n;
                    c.effective_acs += ac as f64 / n;
                    c.dense_ops += d as f64 / n;
                    c.layers.push(LayerCounts {
                        effective_macs: Some(m as f64 / n),
                        effective_acs: Some(ac as f64 / n),
                        dense_ops: Some(d as f64 / n),
                        totals: vec![m + ac, d],
                        ..base
                    });
                }
                Role::Neuron { cost } => {
                    let (u, s, o) = (a.updates.load(Relaxed), a.spikes.load(Relaxed), a.outputs.load(Relaxed));
                    c.membrane_updates += u as f64 / n;
                    c.neuron_ops += (u * cost) as f64 / n;
                    c.neuron_dense_ops += (o * cost) as f64 / n;
                    spikes += s;
                    outputs += o;
                    c.layers.push(LayerCounts {
                        membrane_updates: Some(u as f64 / n),
                        activation_sparsity: Some(if o == 0 { 0.0 } else { (o - s) as f64 / o as f64 }),
                        spikes: Some(s as f64 / n),
                        totals: vec![u, s, o],
                        ..base
                    });
                }
                Role::None => {}
            }
        }
        c.activation_sparsity = if outputs == 0 { 0.0 } else { (outputs - spikes) as f64 / outputs as f64 };
        c
    }
}

impl StepHook for Counter {
    fn on_step(&self, sample: usize, t: usize, node: NodeIndex, input: &[f64], output: &[f64]) {
        self.hook.on_step(sample, t, node, input, output)
    }

    fn on_membrane(&self, sample: usize, t: usize, node: NodeIndex, before: &[f64], after: &[f64]) {
        self.hook.on_membrane(sample, t, node, before, after)
    }
}
