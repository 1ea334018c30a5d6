//! Quantisation under Loihi's rules ([`Rules::loihi`](super::Rules::loihi)): every layer
//! becomes a layer of Loihi's current-based (CUBA) neurons as lava-dl's netx format describes
//! them: integer weights that netx turns into 8-bit mantissas with one exponent per layer, one
//! current decay, one voltage decay and one threshold mantissa per layer, a bias mantissa per
//! neuron, zero reset; inputs are spikes whose payload is the quantised input (unary when
//! every input is 0 or 1, graded otherwise).
//!
//! Loihi's neuron (see [`crate::sim::loihi`]) computes
//! `u' = u (4096 - iDecay) / 4096 + (a << 6)` and `v' = v (4096 - vDecay) / 4096 + u' + (b << 6)`
//! with `a` the weighted sum of the previous step's input spikes; it spikes when
//! `v' > vThMant << 6` and then sets `v` to 0. A model's current-based neuron computes
//! `i' = alpha i + gs I` and `v' = beta v + g i'`, so `iDecay = 4096 (1 - alpha)` and
//! `vDecay = 4096 (1 - beta)`, and in units `U_i` of the membrane (one weight LSB) each weight
//! becomes `g gs W / U_i`. A plain LIF neuron is the same with `iDecay = 4096` (no current
//! carried over). The threshold is one mantissa per layer, so each neuron's unit is
//! `U_i = theta_i / vThMant`: a per-neuron threshold folds into that neuron's row of weights
//! and its bias (exact under a zero reset). `vThMant` is the largest value that keeps every
//! row's largest weight within +-127.
//!
//! What Loihi cannot compute as the model does is approximated and said in
//! [`Network::notes`]: decays that are not a multiple of 1/4096 (the nearest, and the chip
//! truncates toward zero), a reset other than to zero (snnTorch subtracts the threshold),
//! spiking on `v >= theta`, biases on a synaptic current (moved to the membrane at their
//! steady state), bias mantissas beyond 13 bits (clipped).

use super::calib::QuantOptions;
use super::chips::{IntegerInputs, cuba_layer, integer_scale, leak_bias, steady_gain, thr_bias};
use super::network::{
    AccTarget, InputPlan, Layer, Leak, Network, OutputPlan, ProjKind, Source, Weights, mark_consumers, model_label,
};
use super::trace::{RealLayer, RealProj, trace};
use super::{QuantError, perr};
use crate::ir::dialect::{Dialect, SpikeMode};
use crate::ir::neuron::{self, Coeffs};
use crate::ir::{Op, ResetMode};
use crate::model::Model;

/// Largest threshold mantissa (17 bits unsigned).
pub const MAX_VTH: i64 = (1 << 17) - 1;
/// Bias mantissa range (13 bits signed).
pub const BIAS_RANGE: (i64, i64) = (-(1 << 12), (1 << 12) - 1);
/// Largest magnitude of a stored weight.
pub const MAX_WEIGHT: i64 = 127;
/// Decays are fractions of this.
pub const DECAY_ONE: i64 = 4096;
/// Most bits of a graded input spike.
pub const MAX_INPUT_BITS: u32 = 8;

/// `x` as a 12-bit decay of 4096 (`4096 (1 - x)`), and whether it is exact.
fn decay12(x: f64) -> (i64, bool) {
    let d = ((1.0 - x) * DECAY_ONE as f64).round().clamp(0.0, DECAY_ONE as f64);
    let back = 1.0 - d / DECAY_ONE as f64;
    (d as i64, (back - x).abs() <= 1e-9)
}

/// How Loihi's input spikes are worded.
const SPIKES: IntegerInputs = IntegerInputs {
    scale_name: "the input scale",
    negative: "Loihi's input spikes carry non-negative payloads: the inputs hold negative values",
    not_integers: "Loihi takes spikes (graded: a non-negative integer payload) per input and step; these inputs are \
                   real-valued or negative: give --input-scale S to send round(x / S)",
    note: |s| format!("inputs become spikes of payload round(x / {s})"),
};

/// How inputs become spike payloads under `o`: the real value of one unit, and the bits.
fn input_scale(name: &str, o: &QuantOptions) -> Result<(f64, u32, Vec<String>), QuantError> {
    let mut notes = vec![];
    let scale = integer_scale(name, o, &SPIKES, &mut notes)?;
    let max = o.input_stats.map_or(1.0, |st| (st.max / scale).round());
    let bits = if max <= 1.0 { 1 } else { (64 - (max as u64).leading_zeros()).max(1) };
    if bits > MAX_INPUT_BITS {
        return Err(perr(
            name,
            format!(
                "inputs reach a payload of {max:.0}; spikefab sends graded spikes of at most {MAX_INPUT_BITS} bits \
                 (255): give a larger --input-scale"
            ),
        ));
    }
    Ok((scale, bits, notes))
}

/// Quantises `m` for Loihi (`o.rules` must be [`super::Rules::loihi`]).
/// `m` must be legalised for Loihi (the merge-branches pass under a zero reset, which the
/// driver runs as the loihi2 back end's phase): a model that is not a chain is refused.
pub fn quantise(m: &Model, o: &QuantOptions) -> Result<Network, QuantError> {
    let g = &m.graph;
    let d = m.dialect();
    refuse_delays(m)?;
    let real = trace(m, o.output.as_deref())?;
    let in_name = g.g[real.input].name.clone();
    let (scale, bits, mut notes) = input_scale(&in_name, o)?;
    let input = InputPlan {
        node: in_name.clone(),
        shape: real.input_shape,
        bits,
        signed: false,
        scale,
        per_step: o.input_stats.is_some_and(|s| s.per_step),
    };
    // Multi-spike layers subtract their thresholds exactly (as K units, below); the reset
    // notes are of single-spike neurons.
    let multi = |l: &RealLayer| !l.current && d.multi_spike(g, l.node);
    if real.layers.iter().any(|l| !multi(l)) || d.switches.spikes == SpikeMode::Single {
        notes.extend(dialect_notes(d));
    }
    if real.output_layer + 1 != real.layers.len() {
        return Err(perr(&real.layers[real.output_layer].name, "netx's output is its last layer; this output is not"));
    }
    let mut layers: Vec<Layer> = vec![];
    for (k, l) in real.layers.into_iter().enumerate() {
        let src_max = match k {
            0 => (1i64 << input.bits) - 1,
            _ => layers[k - 1].event_max(),
        };
        let layer = quantise_layer(m, k, l, &input, src_max, o.spike_cap, &mut notes)?;
        let p = &layer.projections[0];
        if k > 0 && layers[k - 1].neurons() != p.src_shape.iter().product::<usize>() {
            return Err(perr(&layer.name, "its input size differs from the layer before"));
        }
        layers.push(layer);
    }
    mark_consumers(&mut layers);
    let output = OutputPlan { node: g.g[real.output].name.clone(), layer: layers.len() - 1, spikes: true };
    Ok(Network {
        model: model_label(m),
        timesteps: o.timesteps,
        rules: o.rules.clone(),
        reset: ResetMode::Zero,
        fire_on_equal: false,
        input,
        layers,
        output,
        early_exit: false,
        notes,
        // The chip runs a fixed set of students: a mask is a compile-time pruning there.
        students: None,
    })
}

/// Refuses Delay nodes (netx's synaptic delays are not mapped).
fn refuse_delays(m: &Model) -> Result<(), QuantError> {
    let g = &m.graph;
    for &ix in &m.info.order {
        if let Op::Delay { delay } = &g.g[ix].op {
            let steps = (0..delay.numel()).map(|i| delay.at(i)).fold(0.0f64, f64::max) / m.dialect().dt_or_one();
            return Err(perr(
                &g.g[ix].name,
                format!(
                    "a Delay of up to {steps:.0} steps: netx holds synaptic delays of at most 62 steps per synapse, but \
                     spikefab does not map Delay nodes onto them"
                ),
            ));
        }
    }
    Ok(())
}

/// What the dialect asks that Loihi does otherwise: the reset and the firing rule.
fn dialect_notes(d: &Dialect) -> Vec<String> {
    let mut notes = vec![];
    match d.reset {
        ResetMode::Zero => {}
        ResetMode::Subtract => notes.push(
            "the model resets by subtracting the threshold; Loihi sets the membrane to zero (measured: compare \
             `spikefab verify`)"
                .into(),
        ),
        _ => notes.push(
            "the model resets by subtracting the threshold after the decay (snnTorch); Loihi sets the membrane to \
             zero (measured: compare `spikefab verify`)"
                .into(),
        ),
    }
    if d.fire_on_equal {
        notes.push("the model spikes on v >= threshold; Loihi spikes on v > threshold".into());
    }
    notes
}

/// Layer `k` as a netx CUBA layer fed by the layer before (or the input); what is approximated
/// goes to `notes`.
#[allow(clippy::too_many_arguments)]
fn quantise_layer(
    m: &Model,
    k: usize,
    l: RealLayer,
    input: &InputPlan,
    src_max: i64,
    spike_cap: Option<u32>,
    notes: &mut Vec<String>,
) -> Result<Layer, QuantError> {
    let RealLayer { node, name, current, projections } = l;
    let (p, rec) = chain_link(k, &name, current, &projections)?;
    let multi = m.dialect().multi_spike(&m.graph, node);
    let op = &m.graph.g[node].op;
    let n = m.info.out_numel(node);
    let c = neuron::coeffs(op, n, m.dialect()).ok_or_else(|| perr(&name, "not a neuron"))?;
    // The name as a safe label in the notes (they reach report.json and the terminal).
    let shown = crate::names::label(&name);
    let v_th = thresholds(&name, op, &c)?;
    let (v_decay, i_decay, to_current) = decays(&name, &shown, &c, n, notes)?;
    if let Some(f) = &c.v_min {
        notes.push(super::chips::floor_note(&shown, f, "Loihi"));
    }
    if c.v_reset.iter().any(|&r| r != 0.0) && m.dialect().reset == ResetMode::Zero {
        notes.push(format!("'{shown}': the model resets to a non-zero value; Loihi resets to zero"));
    }
    let mut bias_real = membrane_bias(&c, p, n, &shown, notes);
    let src_scale = if p.source == Source::Input { input.scale } else { 1.0 };
    let w = RowWeights::of(&name, p, &to_current, src_scale, n)?;
    let mut row_max = w.row_max(n);
    // A recurrent dense projection (netx `dense_rec`): its weights share the layer's units and
    // exponent, so they bound the threshold mantissa too.
    let wr = match rec {
        Some(r) => {
            if let Some(b) = &r.bias
                && b.iter().any(|&x| x != 0.0)
            {
                notes.push(format!(
                    "'{shown}': the recurrent path's bias is added to the membrane from step 0 (the model adds it \
                     from step 1, with the first recurrent input)"
                ));
                for (i, x) in bias_real.iter_mut().enumerate() {
                    *x += steady_gain(&c, i) * b[i];
                }
            }
            let wr = RowWeights::of(&name, r, &to_current, 1.0, n)?;
            for (m, x) in row_max.iter_mut().zip(wr.row_max(n)) {
                *m = m.max(x);
            }
            Some((r, wr))
        }
        None => None,
    };
    if row_max.iter().all(|&x| x == 0.0) {
        return Err(perr(&name, "every weight is zero: netx cannot scale a zero weight matrix"));
    }
    let mut vth = threshold_mantissa(&v_th, &row_max);
    if multi {
        // A count of K is K units whose shared current loses theta per unit that fired
        // (chip::loihi, multi-spike units): theta is a weight of the units' recurrence, so it
        // stays an 8-bit magnitude.
        if rec.is_some() || c.syn.is_some() || c.beta.iter().any(|&b| b != 1.0) || m.dialect().reset == ResetMode::Zero
        {
            return Err(perr(
                &name,
                "multi-spike neurons reach Loihi as units sharing one current that loses a threshold per unit \
                 that fired: that computes IF neurons with a subtract reset (Sinabs' IAF); this layer has a leak, a \
                 synaptic current, a recurrence or a zero reset (pass --spikes single if the model used SingleSpike)",
            ));
        }
        vth = vth.min(MULTI_MAX_THETA);
    }
    if !uniform(&v_th) {
        notes.push(format!(
            "'{shown}': per-neuron thresholds fold into each neuron's weights and bias (netx takes one vThMant per \
             layer)"
        ));
    }
    let unit: Vec<f64> = v_th.iter().map(|&t| t / vth as f64).collect();
    let values = w.quantised(&unit);
    let bias = bias_mantissas(&bias_real, &unit, &shown, notes);
    let mut proj = p.projection(AccTarget::Dynamic, Weights { bits: 8, values: values.into() }, 0);
    proj.binary_source |= input.bits == 1;
    let mut projections = vec![proj];
    if let Some((r, wr)) = wr {
        projections.push(r.projection(AccTarget::Dynamic, Weights { bits: 8, values: wr.quantised(&unit).into() }, 0));
    }
    let leaks = (Leak::Mul { b: vec![DECAY_ONE - v_decay] }, Leak::Mul { b: vec![DECAY_ONE - i_decay] });
    let mut layer = cuba_layer(name, p.out_shape, leaks, thr_bias(vec![vth], bias), unit, 24, projections);
    if multi {
        let bound = count_bound(&layer, src_max);
        let most = 1 + (2 * (BIAS_RANGE.1 - 1) / vth).min(MULTI_MAX_UNITS - 1);
        let k_units = match spike_cap {
            Some(cap) if i64::from(cap) > most || cap == 0 => {
                return Err(perr(
                    &layer.name,
                    format!(
                        "--spike-cap {cap}: Loihi carries this layer's counts as 1..={most} units per neuron (its \
                         per-unit thresholds fill a 13-bit bias)"
                    ),
                ));
            }
            Some(cap) => {
                if bound > i64::from(cap) {
                    notes.push(format!(
                        "'{shown}': a neuron can emit up to {bound} spikes per step; on Loihi its count saturates at \
                         {cap} (--spike-cap {cap}: Sinabs' MaxSpike({cap}); measured: compare `spikefab verify`)"
                    ));
                }
                bound.min(i64::from(cap))
            }
            None if bound > most => {
                return Err(perr(
                    &layer.name,
                    format!(
                        "a neuron can emit up to {bound} spikes per step (range analysis); Loihi carries a count as \
                         that many units, at most {most} here: pass --spike-cap K (K <= {most}) to saturate counts \
                         at K, as Sinabs' MaxSpike(K)"
                    ),
                ));
            }
            None => bound,
        };
        layer.multi = true;
        layer.max_count = k_units.max(1) as u64;
        layer.count_bits = 64 - layer.max_count.leading_zeros();
    }
    Ok(layer)
}

/// Largest threshold mantissa of a multi-spike layer: theta is the magnitude of the units'
/// recurrent weights, which Lava's Dense keeps exact up to 255 (8 bits, one sign).
const MULTI_MAX_THETA: i64 = 127;

/// Most units per multi-spike neuron (each adds a neuron and its recurrent synapses).
const MULTI_MAX_UNITS: i64 = 64;

/// The most spikes a neuron of `l` (IF, subtract reset, threshold `thr`) can emit in a step: it
/// carries less than a threshold into the step, adds at most `sum |w| x_max + |bias|`, and
/// emits `floor(v / thr)`.
fn count_bound(l: &Layer, src_max: i64) -> i64 {
    let theta = l.params.thr[0].max(1);
    let p = &l.projections[0];
    let n = l.neurons();
    let w = p.weights.values.to_vec();
    let per_row = match &p.kind {
        ProjKind::Dense { cols } => (0..n).map(|i| w[i * cols..(i + 1) * cols].iter().map(|x| x.abs()).sum()).collect(),
        _ => {
            let co = l.shape[0].max(1);
            let per = w.len() / co;
            let pos = n / co;
            (0..n).map(|i| w[(i / pos) * per..(i / pos + 1) * per].iter().map(|x| x.abs()).sum()).collect::<Vec<i64>>()
        }
    };
    (0..n)
        .map(|i| (theta + per_row[i] * src_max + crate::quant::at(&l.params.bias, i).abs()) / theta)
        .max()
        .unwrap_or(1)
}

/// True when every value of `v` is `v[0]` (to 1e-12).
fn uniform(v: &[f64]) -> bool {
    v.iter().all(|&x| (x - v[0]).abs() <= 1e-12)
}

/// The projection of layer `k` if netx can take it: a dense or convolution layer fed by the
/// layer before (the input for the first), without pooling; and a dense recurrence of the layer
/// onto itself (netx's `dense_rec`), when it has one.
fn chain_link<'a>(
    k: usize,
    name: &str,
    current: bool,
    projections: &'a [RealProj],
) -> Result<(&'a RealProj, Option<&'a RealProj>), QuantError> {
    if current {
        return Err(perr(name, "the output is a weighted sum without neurons; netx reads out spiking neurons"));
    }
    let own = |r: &RealProj| r.source == Source::Layer(k) && r.delayed;
    let (p, rec) = match projections {
        [p] => (p, None),
        [a, b] if own(b) && !own(a) => (a, Some(b)),
        [a, b] if own(a) && !own(b) => (b, Some(a)),
        _ => {
            return Err(perr(
                name,
                format!(
                    "{} paths lead into this layer; netx layers form a chain, each fed by the layer before (and \
                     at most a recurrence of the layer onto itself)",
                    projections.len()
                ),
            ));
        }
    };
    if let Some(r) = rec
        && (!matches!(r.kind, ProjKind::Dense { .. }) || r.pre_pool.is_some())
    {
        return Err(perr(
            name,
            format!(
                "its recurrence {} is not a dense matrix; netx's recurrent layers (dense_rec) are dense",
                r.path.join(" -> ")
            ),
        ));
    }
    let want = if k == 0 { Source::Input } else { Source::Layer(k - 1) };
    if p.source != want || p.delayed {
        return Err(perr(
            name,
            format!(
                "fed by '{}'{}; netx layers form a chain, each fed by the layer before (no skips, no recurrence)",
                p.path[0],
                if p.delayed { " through a recurrent edge" } else { "" }
            ),
        ));
    }
    if p.pre_pool.is_some() {
        return Err(perr(
            name,
            format!(
                "pooling on the path {}: netx has no pooling layer (lava-dl 0.6.0 raises NotImplemented for \
                 'pool'); replace the pooling with a strided convolution",
                p.path.join(" -> ")
            ),
        ));
    }
    check_kind(name, p)?;
    if rec.is_some() && !matches!(p.kind, ProjKind::Dense { .. }) {
        return Err(perr(name, "a recurrent convolution layer; netx's recurrent layers (dense_rec) are dense"));
    }
    Ok((p, rec))
}

/// Refuses what netx's dense and conv layers cannot hold: pooling or element-wise paths, and
/// convolutions padded unevenly.
fn check_kind(name: &str, p: &RealProj) -> Result<(), QuantError> {
    match &p.kind {
        ProjKind::Dense { .. } => Ok(()),
        ProjKind::Conv { ih, iw, kh, kw, stride, pad, dil, .. } => {
            let out = |i: usize, k: usize, s: usize, pd: usize, dl: usize| {
                (i + 2 * pd).checked_sub(dl * (k - 1) + 1).map(|x| x / s + 1)
            };
            if out(*ih, *kh, stride[0], pad[0], dil[0]) != Some(p.out_shape[1])
                || out(*iw, *kw, stride[1], pad[1], dil[1]) != Some(p.out_shape[2])
            {
                return Err(perr(
                    name,
                    format!("asymmetric padding {pad:?} of a convolution: netx pads both sides alike"),
                ));
            }
            Ok(())
        }
        ProjKind::Pool(_) | ProjKind::OneToOne => Err(perr(
            name,
            format!(
                "the path {} is not a dense or convolution layer; netx takes dense and conv layers \
                 (with flatten between them)",
                p.path.join(" -> ")
            ),
        )),
    }
}

/// The neurons' thresholds, refused unless they spike with positive, finite thresholds.
fn thresholds(name: &str, op: &Op, c: &Coeffs) -> Result<Vec<f64>, QuantError> {
    let Some(v_th) = c.v_th.clone() else {
        return Err(perr(name, format!("{} neurons do not spike; every netx CUBA neuron does", op.type_name())));
    };
    if let Some(i) = v_th.iter().position(|&t| !(t > 0.0 && t.is_finite())) {
        return Err(perr(name, format!("threshold {} of neuron {i}: Loihi's threshold is positive", v_th[i])));
    }
    Ok(v_th)
}

/// The layer's 12-bit (vDecay, iDecay) and the gain from a real weight to the current per
/// neuron; a plain neuron carries no current over (iDecay 4096).
fn decays(
    name: &str,
    shown: &str,
    c: &Coeffs,
    n: usize,
    notes: &mut Vec<String>,
) -> Result<(i64, i64, Vec<f64>), QuantError> {
    if !uniform(&c.beta) {
        return Err(perr(name, "per-neuron membrane decays: netx takes one vDecay per layer"));
    }
    let (v_decay, exact) = decay12(c.beta[0]);
    if !exact {
        notes.push(format!(
            "'{shown}': membrane decay {:.6} becomes (4096 - {v_decay}) / 4096 = {:.6}",
            c.beta[0],
            1.0 - v_decay as f64 / 4096.0
        ));
    }
    let Some((alpha, gs)) = &c.syn else {
        return Ok((v_decay, DECAY_ONE, c.gain.clone()));
    };
    if !uniform(alpha) {
        return Err(perr(name, "per-neuron synaptic decays: netx takes one iDecay per layer"));
    }
    let (i_decay, exact) = decay12(alpha[0]);
    if !exact {
        notes.push(format!(
            "'{shown}': synaptic decay {:.6} becomes (4096 - {i_decay}) / 4096 = {:.6}",
            alpha[0],
            1.0 - i_decay as f64 / 4096.0
        ));
    }
    Ok((v_decay, i_decay, (0..n).map(|i| c.gain[i] * gs[i]).collect()))
}

/// Membrane bias per step in real units: the leak towards v_leak, plus the path's bias (on a
/// synaptic current: at its steady state).
fn membrane_bias(c: &Coeffs, p: &RealProj, n: usize, shown: &str, notes: &mut Vec<String>) -> Vec<f64> {
    let mut bias_real = leak_bias(c, n);
    if let Some(b) = &p.bias
        && b.iter().any(|&x| x != 0.0)
    {
        if c.syn.is_some() {
            notes.push(format!(
                "'{shown}': the bias of the synaptic current is added to the membrane at its steady state"
            ));
        }
        for (i, x) in bias_real.iter_mut().enumerate() {
            *x += steady_gain(c, i) * b[i];
        }
    }
    bias_real
}

/// Real weights into the membrane; entry `e` feeds the neurons
/// `(e / div) * span .. (e / div + 1) * span` (a dense row's one neuron, a kernel's channel).
struct RowWeights {
    w: Vec<f64>,
    div: usize,
    span: usize,
}

impl RowWeights {
    /// The weights of `p` times the gain to the current and the source's scale.
    fn of(name: &str, p: &RealProj, to_current: &[f64], src_scale: f64, n: usize) -> Result<RowWeights, QuantError> {
        let nw = p.w.numel();
        Ok(match &p.kind {
            ProjKind::Dense { cols } => RowWeights {
                w: (0..nw).map(|e| p.w.at(e) * to_current[e / cols] * src_scale).collect(),
                div: *cols,
                span: 1,
            },
            _ => {
                // Conv: one kernel per output channel; every neuron of the channel shares it.
                let per_co = nw / p.out_shape[0].max(1);
                let pos = p.out_shape[1] * p.out_shape[2];
                if (0..n).any(|i| (to_current[i] - to_current[(i / pos) * pos]).abs() > 1e-12 * to_current[i].abs()) {
                    return Err(perr(name, "per-neuron gains within a channel: netx conv layers share each kernel"));
                }
                let w = (0..nw).map(|e| p.w.at(e) * to_current[(e / per_co) * pos] * src_scale).collect();
                RowWeights { w, div: per_co, span: pos }
            }
        })
    }

    /// The neurons entry `e` feeds.
    fn row_of(&self, e: usize) -> std::ops::Range<usize> {
        (e / self.div) * self.span..(e / self.div + 1) * self.span
    }

    /// Largest |weight| into each of the `n` neurons.
    fn row_max(&self, n: usize) -> Vec<f64> {
        let mut row_max = vec![0.0f64; n];
        for (e, &w) in self.w.iter().enumerate() {
            for i in self.row_of(e) {
                row_max[i] = row_max[i].max(w.abs());
            }
        }
        row_max
    }

    /// The weights in units `unit` (a conv kernel in its channel's first neuron's), rounded to
    /// nearest and clamped to +-127.
    fn quantised(&self, unit: &[f64]) -> Vec<i64> {
        (0..self.w.len())
            .map(|e| {
                let i = self.row_of(e).start;
                (self.w[e] / unit[i]).round().clamp(-MAX_WEIGHT as f64, MAX_WEIGHT as f64) as i64
            })
            .collect()
    }
}

/// vThMant: the largest mantissa that keeps every neuron's largest weight within +-127 in units
/// of `threshold / vThMant`, within 1..=MAX_VTH.
fn threshold_mantissa(v_th: &[f64], row_max: &[f64]) -> i64 {
    (0..v_th.len())
        .filter(|&i| row_max[i] > 0.0)
        .map(|i| (MAX_WEIGHT as f64 * v_th[i] / row_max[i]).floor())
        .fold(f64::INFINITY, f64::min)
        .clamp(1.0, MAX_VTH as f64) as i64
}

/// Bias mantissas in units `unit`, rounded and clipped to 13 bits (said in `notes`).
fn bias_mantissas(bias_real: &[f64], unit: &[f64], shown: &str, notes: &mut Vec<String>) -> Vec<i64> {
    let mut clipped = 0usize;
    let bias: Vec<i64> = (0..bias_real.len())
        .map(|i| {
            let b = (bias_real[i] / unit[i]).round();
            if b < BIAS_RANGE.0 as f64 || b > BIAS_RANGE.1 as f64 {
                clipped += 1;
            }
            b.clamp(BIAS_RANGE.0 as f64, BIAS_RANGE.1 as f64) as i64
        })
        .collect();
    if clipped > 0 {
        notes.push(format!(
            "'{shown}': {clipped} bias mantissas beyond 13 bits ({}..{}) are clipped",
            BIAS_RANGE.0, BIAS_RANGE.1
        ));
    }
    bias
}

#[cfg(test)]
mod tests {
    use super::{BIAS_RANGE, decay12, quantise};
    use crate::ir::ResetMode;
    use crate::ir::dialect::DialectOverrides;
    use crate::model::Model;
    use crate::quant::testing::{affine, chain, cuba_lif, integers, options};
    use crate::quant::{InputStats, Leak, Rules};

    #[test]
    fn decays_are_12_bit_fractions_of_4096() {
        assert_eq!(decay12(0.75), (1024, true));
        assert_eq!(decay12(0.5), (2048, true));
        // 0.1 * 4096 = 409.6: the nearest, 410, is not exact.
        assert_eq!(decay12(0.9), (410, false));
        assert_eq!(decay12(1.0), (0, true));
        assert_eq!(decay12(0.0), (4096, true));
        // Outside [0, 1]: clamped, never exact.
        assert_eq!(decay12(1.5), (0, false));
        assert_eq!(decay12(-0.5), (4096, false));
    }

    fn model(bias: &[f64]) -> Model {
        // CUBA with alpha 0.5, beta 0.75 and both gains 1; thresholds 1 and 2.
        chain(
            &[3],
            vec![
                ("fc", affine(&[&[0.5, -0.2, 0.1], &[1.0, 0.3, -0.6]], bias)),
                ("lif", cuba_lif(2.0, 4.0, &[1.0, 2.0])),
            ],
            &DialectOverrides { reset: Some(ResetMode::Zero), ..Default::default() },
        )
    }

    #[test]
    fn the_threshold_mantissa_is_the_largest_that_keeps_weights_within_127() {
        let net = quantise(&model(&[0.01, -0.02]), &options(Rules::loihi(), integers(0.0, 1.0))).unwrap();
        let l = &net.layers[0];
        // Largest |w| / theta is 0.5 on both rows: vThMant = floor(127 / 0.5) = 254, and each
        // neuron's unit is theta / 254.
        assert_eq!(l.params.thr, vec![254]);
        assert_eq!(l.unit, vec![1.0 / 254.0, 2.0 / 254.0]);
        // Weights round to nearest: 0.5 * 254 = 127, -50.8, 25.4; 127, 38.1, -76.2.
        let w = l.projections[0].weights.values.to_vec();
        assert_eq!(w, vec![127, -51, 25, 127, 38, -76]);
        // One more mantissa step and the largest weight would need 127.5 -> 128.
        assert_eq!((0.5f64 * 255.0).round(), 128.0);
        // 12-bit decays: 4096 (1 - 0.75) and 4096 (1 - 0.5), as multipliers 4096 - d.
        assert_eq!((&l.leak, &l.syn_leak), (&Leak::Mul { b: vec![3072] }, &Some(Leak::Mul { b: vec![2048] })));
        // The synaptic bias moves to the membrane at its steady state b / (1 - alpha) = 2 b:
        // 0.02 * 254 = 5.08, -0.04 * 127 = -5.08.
        assert_eq!(l.params.bias, vec![5, -5]);
        assert!(net.notes.iter().any(|n| n.contains("steady state")), "{:?}", net.notes);
        assert_eq!((net.input.bits, net.input.scale), (1, 1.0));
    }

    #[test]
    fn bias_mantissas_beyond_13_bits_are_clipped_and_said() {
        // 2 * 10 * 254 = 5080 > 4095.
        let net = quantise(&model(&[10.0, 0.0]), &options(Rules::loihi(), integers(0.0, 1.0))).unwrap();
        assert_eq!(net.layers[0].params.bias, vec![BIAS_RANGE.1, 0]);
        assert!(net.notes.contains(&"'lif': 1 bias mantissas beyond 13 bits (-4096..4095) are clipped".into()));
    }

    #[test]
    fn inputs_become_graded_spikes_of_at_most_8_bits() {
        let bits = |st: InputStats, scale: Option<f64>| {
            let mut o = options(Rules::loihi(), st);
            o.input_scale = scale;
            quantise(&model(&[0.0, 0.0]), &o).map(|n| (n.input.bits, n.input.scale)).map_err(|e| e.message)
        };
        assert_eq!(bits(integers(0.0, 255.0), None), Ok((8, 1.0)));
        assert_eq!(bits(integers(0.0, 16.0), None), Ok((5, 1.0)));
        assert!(bits(integers(0.0, 256.0), None).unwrap_err().starts_with("inputs reach a payload of 256"));
        // A scale divides: 256 / 2 = 128 fits.
        assert_eq!(bits(integers(0.0, 256.0), Some(2.0)), Ok((8, 2.0)));
        assert!(bits(integers(-1.0, 3.0), None).unwrap_err().contains("real-valued or negative"));
    }
}
