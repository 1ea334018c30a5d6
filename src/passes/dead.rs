//! Removal of what cannot affect an output.
//!
//! - `dead-nodes`: nodes with no path to an Output.
//! - `dead-neurons`: spiking neurons that provably never fire, found by interval analysis
//!   from the input range: while a neuron has not fired its membrane is
//!   `u[t] = beta u[t-1] + gain drive[t]` around `v_leak` (the reset never acts), so
//!   `v <= v_leak + max(0, v0 - v_leak) + max(0, gain max(drive)) * sum_{k<T} beta^k`. A neuron
//!   whose bound stays below its threshold by a 1% margin (room for the hardware's rounding)
//!   never fires in T steps: it is removed with its rows in the weighted ops feeding it and its
//!   columns in the dense ops it feeds. A node whose every output is provably zero (a branch of
//!   dead neurons) loses its edges into merges that have other inputs (the sum is unchanged),
//!   and `dead-nodes` then removes it.
//!
//! Neurons are removed only between dense ops (Affine/Linear rows and columns); the output
//! layer and layers on recurrent edges or feeding convolutions keep their shape.

use petgraph::graph::NodeIndex;

use super::pass::{Context, Pass, Refusal, rebuild};
use crate::ir::dialect::InitialV;
use crate::ir::neuron::coeffs;
use crate::ir::{Graph, Op, Tensor};
use crate::valid::GraphInfo;

/// Removes nodes that reach no Output.
pub struct DeadNodes;

/// Removes neurons that never fire and edges of constant-zero branches.
pub struct DeadNeurons;

impl Pass for DeadNodes {
    fn name(&self) -> String {
        "dead-nodes".into()
    }

    fn run(&self, g: &Graph, _info: &GraphInfo, _cx: &Context) -> Result<(Graph, Vec<String>), Refusal> {
        let mut live = vec![false; g.g.node_count()];
        let mut stack = g.outputs();
        while let Some(n) = stack.pop() {
            if !std::mem::replace(&mut live[n.index()], true) {
                stack.extend(g.in_edges(n).into_iter().map(|(_, s)| s));
            }
        }
        // Input nodes stay: they define the model's interface.
        for i in g.inputs() {
            live[i.index()] = true;
        }
        let changes: Vec<String> =
            g.g.node_indices()
                .filter(|i| !live[i.index()])
                .map(|i| format!("removed '{}' ({}): it reaches no output", g.g[i].name, g.g[i].op.type_name()))
                .collect();
        let ng = rebuild(g, &|i| live[i.index()].then(|| g.g[i].op.clone()), &|_, a, b| Some((a, b)));
        Ok((ng, changes))
    }
}

/// Closed interval; infinite ends allowed.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Iv(f64, f64);

const ANY: Iv = Iv(f64::NEG_INFINITY, f64::INFINITY);
const ZERO: Iv = Iv(0.0, 0.0);

impl Iv {
    fn add(self, o: Iv) -> Iv {
        Iv(self.0 + o.0, self.1 + o.1)
    }
    /// `w * x` for x in the interval (0 when w is 0, even for infinite x).
    fn mul(self, w: f64) -> Iv {
        if w == 0.0 {
            return ZERO;
        }
        let (a, b) = (w * self.0, w * self.1);
        Iv(a.min(b), a.max(b))
    }
    fn with_zero(self) -> Iv {
        Iv(self.0.min(0.0), self.1.max(0.0))
    }
    fn hull(self, o: Iv) -> Iv {
        Iv(self.0.min(o.0), self.1.max(o.1))
    }
}

/// Output intervals per node, per element, in evaluation order.
fn intervals(g: &Graph, info: &GraphInfo, cx: &Context) -> Vec<Vec<Iv>> {
    let mut out: Vec<Vec<Iv>> = vec![vec![]; g.g.node_count()];
    let d = &g.dialect;
    for &ix in &info.order {
        let k = ix.index();
        let n_in = info.in_numel(ix);
        let mut x = vec![ZERO; n_in];
        for (e, s) in g.in_edges(ix) {
            let src: Vec<Iv> = if info.is_recurrent(e) {
                // Not computed yet: spikes are 0/1, anything else unbounded.
                let spiking = g.g[s].op.emits_spikes() && !d.multi_spike(g, s);
                vec![if spiking { Iv(0.0, 1.0) } else { ANY }; info.out_numel(s)]
            } else {
                out[s.index()].clone()
            };
            for (a, b) in x.iter_mut().zip(src) {
                *a = a.add(b);
            }
        }
        let node = &g.g[ix];
        let y: Vec<Iv> = match &node.op {
            Op::Input { .. } => {
                let r = cx.input_range.map_or(ANY, |(lo, hi)| Iv(lo, hi));
                vec![r; info.out_numel(ix)]
            }
            Op::Output | Op::Flatten { .. } => x,
            Op::Affine { weight, .. } | Op::Linear { weight } => {
                let (rows, cols) = (weight.shape[0], weight.shape[1]);
                let bias = match &node.op {
                    Op::Affine { bias, .. } => Some(bias),
                    _ => None,
                };
                (0..rows)
                    .map(|r| {
                        let b = bias.map_or(0.0, |b| b.at(r));
                        weight.slice(r * cols..(r + 1) * cols).zip(&x).fold(Iv(b, b), |acc, (w, xc)| acc.add(xc.mul(w)))
                    })
                    .collect()
            }
            Op::Scale { scale } => x.iter().enumerate().map(|(i, v)| v.mul(scale.at(i))).collect(),
            Op::Conv { weight, bias, groups, .. } => conv_bounds(weight, bias.as_ref(), *groups, &x, info, ix),
            Op::SumPool2d { kernel, .. } | Op::AvgPool2d { kernel, .. } => {
                let ins = &info.in_shape[k];
                let outs = &info.out_shape[k];
                let per_in: usize = ins[1..].iter().product();
                let per_out: usize = outs[1..].iter().product();
                let area = (kernel[0] * kernel[1]) as f64;
                let avg = matches!(node.op, Op::AvgPool2d { .. });
                let mut y = vec![ZERO; info.out_numel(ix)];
                for c in 0..ins[0] {
                    let ch = x[c * per_in..(c + 1) * per_in].iter().fold(ZERO, |a, v| a.hull(*v));
                    // A window sums at most k*k values of the channel (padding contributes 0).
                    let w = Iv(ch.0.min(0.0) * area, ch.1.max(0.0) * area);
                    let w = if avg { Iv(w.0 / area, w.1 / area) } else { w };
                    y[c * per_out..(c + 1) * per_out].iter_mut().for_each(|v| *v = w);
                }
                y
            }
            Op::Delay { .. } => x.iter().map(|v| v.with_zero()).collect(),
            Op::Threshold { threshold } => x
                .iter()
                .enumerate()
                .map(|(i, v)| if below(v.1, threshold.at(i), d.fire_on_equal) { ZERO } else { Iv(0.0, 1.0) })
                .collect(),
            op if op.is_neuron() => neuron_bounds(op, &x, cx.steps, g, ix),
            _ => vec![ANY; info.out_numel(ix)],
        };
        out[k] = y;
    }
    out
}

/// True when a value at most `hi` stays below threshold `th` with a 1% margin.
fn below(hi: f64, th: f64, fire_on_equal: bool) -> bool {
    let margin = 0.01 * th.abs();
    if fire_on_equal { hi < th - margin } else { hi <= th - margin }
}

fn conv_bounds(w: &Tensor, b: Option<&Tensor>, groups: usize, x: &[Iv], info: &GraphInfo, ix: NodeIndex) -> Vec<Iv> {
    let ins = &info.in_shape[ix.index()];
    let outs = &info.out_shape[ix.index()];
    let (ci, co) = (ins[0], outs[0]);
    let per_in: usize = ins[1..].iter().product();
    let per_out: usize = outs[1..].iter().product();
    let ch: Vec<Iv> = (0..ci).map(|c| x[c * per_in..(c + 1) * per_in].iter().fold(ZERO, |a, v| a.hull(*v))).collect();
    let (ci_g, co_g) = (ci / groups, co / groups);
    let k: usize = w.shape[2..].iter().product();
    let mut y = vec![ZERO; co * per_out];
    for o in 0..co {
        let grp = o / co_g;
        let bv = b.map_or(0.0, |b| b.at(o));
        let mut acc = Iv(bv, bv);
        for cl in 0..ci_g {
            for t in 0..k {
                // Taps in the padding read 0.
                acc = acc.add(ch[grp * ci_g + cl].with_zero().mul(w.at((o * ci_g + cl) * k + t)));
            }
        }
        y[o * per_out..(o + 1) * per_out].iter_mut().for_each(|v| *v = acc);
    }
    y
}

/// `sum_{k<T} beta^k` for beta in [0, 1]; infinite otherwise.
fn geometric(beta: f64, steps: usize) -> f64 {
    if !(0.0..=1.0).contains(&beta) {
        return f64::INFINITY;
    }
    if beta == 1.0 { steps as f64 } else { (1.0 - beta.powi(steps as i32)) / (1.0 - beta) }
}

/// Output bounds of a neuron layer; spiking neurons that provably never fire give [0, 0].
fn neuron_bounds(op: &Op, x: &[Iv], steps: usize, g: &Graph, node: NodeIndex) -> Vec<Iv> {
    let d = &g.dialect;
    let n = x.len();
    let Some(c) = coeffs(op, n, d) else { return vec![ANY; n] };
    let multi = d.multi_spike(g, node);
    let v0 = |j: usize| if d.switches.initial_v == InitialV::VLeak { c.v_leak[j] } else { 0.0 };
    (0..n)
        .map(|j| {
            let drive = match &c.syn {
                Some((alpha, gs)) => {
                    let s = geometric(alpha[j], steps);
                    let i = x[j].mul(gs[j]).with_zero();
                    Iv(i.0 * s, i.1 * s)
                }
                None => x[j],
            };
            let s = geometric(c.beta[j], steps);
            let u0 = v0(j) - c.v_leak[j];
            let g_d = drive.mul(c.gain[j]).with_zero();
            // A floor can lift the carried membrane up to v_min, from where it leaks toward
            // v_leak (the output is taken before the floor, so `lo` stands).
            let lift = c.v_min.as_ref().map_or(0.0, |m| m[j] - c.v_leak[j]);
            let hi = c.v_leak[j] + u0.max(0.0).max(lift) + g_d.1 * s;
            let lo = c.v_leak[j] + u0.min(0.0) + g_d.0 * s;
            match &c.v_th {
                // Non-spiking: the membrane is the output (valid before any reset, i.e. always).
                None => Iv(lo, hi),
                Some(th) => {
                    if hi.is_finite() && below(hi, th[j], d.fire_on_equal) {
                        ZERO
                    } else if multi {
                        Iv(0.0, f64::INFINITY)
                    } else {
                        Iv(0.0, 1.0)
                    }
                }
            }
        })
        .collect()
}

/// Keeps entries of a per-neuron parameter (scalars stay scalars).
fn keep_param(t: &Tensor, keep: &[usize]) -> Tensor {
    if t.numel() == 1 {
        return t.clone();
    }
    t.like(vec![keep.len()], keep.iter().map(|&i| t.at(i)).collect())
}

fn keep_neurons(op: &Op, keep: &[usize]) -> Op {
    let k = |t: &Tensor| keep_param(t, keep);
    match op {
        Op::IF { r, v_threshold, v_reset } => Op::IF { r: k(r), v_threshold: k(v_threshold), v_reset: k(v_reset) },
        Op::LIF { tau, r, v_leak, v_threshold, v_reset } => {
            Op::LIF { tau: k(tau), r: k(r), v_leak: k(v_leak), v_threshold: k(v_threshold), v_reset: k(v_reset) }
        }
        Op::CubaLIF { tau_syn, tau_mem, r, v_leak, w_in, v_threshold, v_reset } => Op::CubaLIF {
            tau_syn: k(tau_syn),
            tau_mem: k(tau_mem),
            r: k(r),
            v_leak: k(v_leak),
            w_in: k(w_in),
            v_threshold: k(v_threshold),
            v_reset: k(v_reset),
        },
        other => other.clone(),
    }
}

fn keep_rows(op: &Op, keep: &[usize]) -> Op {
    match op {
        Op::Affine { weight, .. } | Op::Linear { weight } => {
            let cols = weight.shape[1];
            let w: Vec<f64> = keep.iter().flat_map(|&r| weight.slice(r * cols..(r + 1) * cols)).collect();
            let weight = weight.like(vec![keep.len(), cols], w);
            match op {
                Op::Affine { bias, .. } => Op::Affine { weight, bias: keep_param(bias, keep) },
                _ => Op::Linear { weight },
            }
        }
        other => other.clone(),
    }
}

fn keep_cols(op: &Op, keep: &[usize]) -> Op {
    match op {
        Op::Affine { weight, .. } | Op::Linear { weight } => {
            let (rows, cols) = (weight.shape[0], weight.shape[1]);
            let w: Vec<f64> = (0..rows)
                .flat_map(|r| keep.iter().map(move |&c| (r, c)))
                .map(|(r, c)| weight.at(r * cols + c))
                .collect();
            let weight = weight.like(vec![rows, keep.len()], w);
            match op {
                Op::Affine { bias, .. } => Op::Affine { weight, bias: bias.clone() },
                _ => Op::Linear { weight },
            }
        }
        other => other.clone(),
    }
}

fn dense(op: &Op) -> bool {
    matches!(op, Op::Affine { .. } | Op::Linear { .. })
}

impl Pass for DeadNeurons {
    fn name(&self) -> String {
        "dead-neurons".into()
    }

    fn run(&self, g: &Graph, info: &GraphInfo, cx: &Context) -> Result<(Graph, Vec<String>), Refusal> {
        let bounds = intervals(g, info, cx);
        let mut changes = vec![];
        let mut new_ops: Vec<Op> = g.g.node_indices().map(|i| g.g[i].op.clone()).collect();
        let outputs_fed: Vec<bool> =
            g.g.node_indices().map(|i| g.out_edges(i).iter().any(|(_, t)| matches!(g.g[*t].op, Op::Output))).collect();
        for &ix in &info.order {
            let node = &g.g[ix];
            if !(node.op.is_neuron() && node.op.emits_spikes()) || outputs_fed[ix.index()] {
                continue;
            }
            let ins = g.in_edges(ix);
            let outs = g.out_edges(ix);
            let recurrent = ins.iter().chain(&outs).any(|(e, _)| info.is_recurrent(*e));
            // Every producer is a dense op feeding only this layer; every consumer is dense.
            let producers_ok =
                !ins.is_empty() && ins.iter().all(|(_, s)| dense(&g.g[*s].op) && g.out_edges(*s).len() == 1);
            let consumers_ok = !outs.is_empty() && outs.iter().all(|(_, t)| dense(&g.g[*t].op));
            if recurrent || !producers_ok || !consumers_ok {
                continue;
            }
            let y = &bounds[ix.index()];
            let keep: Vec<usize> = (0..y.len()).filter(|&j| y[j] != ZERO).collect();
            if keep.len() == y.len() || keep.is_empty() {
                continue;
            }
            let dead: Vec<usize> = (0..y.len()).filter(|&j| y[j] == ZERO).collect();
            let shown: Vec<String> = dead.iter().take(12).map(|j| j.to_string()).collect();
            changes.push(format!(
                "'{}': removed {} of {} neurons that never fire in {} steps ({}{}) with their synapses",
                node.name,
                dead.len(),
                y.len(),
                cx.steps,
                shown.join(", "),
                if dead.len() > 12 { ", ..." } else { "" }
            ));
            new_ops[ix.index()] = keep_neurons(&node.op, &keep);
            for (_, s) in &ins {
                new_ops[s.index()] = keep_rows(&new_ops[s.index()], &keep);
            }
            for (_, t) in &outs {
                new_ops[t.index()] = keep_cols(&new_ops[t.index()], &keep);
            }
        }
        // Constant-zero nodes: drop their edges into sums that keep another input.
        let mut cut = std::collections::BTreeSet::new();
        for &ix in &info.order {
            let y = &bounds[ix.index()];
            if y.is_empty() || y.iter().any(|v| *v != ZERO) || matches!(g.g[ix].op, Op::Input { .. }) {
                continue;
            }
            for (e, t) in g.out_edges(ix) {
                let others = g.in_edges(t).iter().filter(|(e2, _)| *e2 != e && !cut.contains(e2)).count();
                if others > 0 {
                    cut.insert(e);
                    changes.push(format!(
                        "'{}' always outputs 0: its edge into '{}' is removed",
                        g.g[ix].name, g.g[t].name
                    ));
                }
            }
        }
        let ng = rebuild(g, &|i| Some(new_ops[i.index()].clone()), &|e, a, b| (!cut.contains(&e)).then_some((a, b)));
        Ok((ng, changes))
    }
}
