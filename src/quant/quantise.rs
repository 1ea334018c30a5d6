//! The quantiser: real layers ([`super::trace`]) to integers under the target's
//! [`Rules`](super::Rules).

use super::calib::{QuantOptions, input_plan};
use super::network::{
    AccTarget, InputPlan, Layer, Leak, Network, NeuronKind, NeuronParams, OutputPlan, ProjKind, Source, Weights, at,
    mark_consumers, model_label,
};
use super::packed::WeightValues;
use super::students::{self, BiasShare, Students};
use super::trace::{RealLayer, RealProj, chw, trace_each};
use super::{QuantError, perr, range};
use petgraph::graph::NodeIndex;

use crate::analysis::{WeightKind, classify_rows};
use crate::ir::dialect::{InitialV, SpikeMode};
use crate::ir::{Op, ResetMode, neuron};
use crate::model::Model;

/// Quantises `m` under `o.rules` (row-scaled weights: the FPGA and ASIC rules; a chip's rules
/// come with its own quantiser, `quant::xylo`, `quant::loihi`): trace, integers, state widths.
///
/// ```
/// use spikefab::ir::dialect::{DialectOverrides, Preset};
/// use spikefab::quant::{InputStats, QuantOptions, Rules, quantise};
///
/// let d = DialectOverrides { from: Some(Preset::Snntorch), timesteps: Some(8), ..Default::default() };
/// let m = spikefab::Model::load("models/mlp_bw/mlp_bw.nir".as_ref(), &d)?;
/// let x = spikefab::data::InputBatch::load("models/digits_test_x.npy".as_ref(), &[64])?;
/// let o = QuantOptions {
///     rules: Rules::fpga(8, 8, 6, 16, None),
///     input_scale: None,
///     input_stats: Some(InputStats::of(&x)),
///     timesteps: 8,
///     output: None,
///     early_exit: false,
///     spike_cap: None,
/// };
/// let net = quantise(&m, &o)?;
/// // Binary rows: 1-bit weights; the digits pixels 0..16 are exact 5-bit integers.
/// assert!(net.layers[0].projections[0].weights.binary());
/// assert_eq!((net.input.bits, net.input.scale), (5, 1.0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn quantise(m: &Model, o: &QuantOptions) -> Result<Network, QuantError> {
    if !matches!(o.rules.weights.form, super::network::WeightForm::RowScale { .. }) {
        // A chip's rules come with the chip's own quantiser (quant::xylo, quant::loihi).
        return Err(QuantError {
            node: None,
            message: format!("{:?} weights are quantised by their chip's own module", o.rules.weights.form),
        });
    }
    let g = &m.graph;
    let d = m.dialect();
    if let Some(k) = o.spike_cap {
        return Err(QuantError {
            node: None,
            message: format!(
                "--spike-cap {k}: this target carries each layer's spike counts exactly, in as many bits as range \
                 analysis needs; the option is for chips whose neurons carry a bounded count (loihi2)"
            ),
        });
    }
    if d.switches.spikes != SpikeMode::Single && o.rules.max_spikes == Some(1) {
        return Err(QuantError {
            node: None,
            message: "multi-spike neurons (Sinabs MultiSpike) are not supported by this target; retrain with \
                      SingleSpike or pass --spikes single if the model used it"
                .into(),
        });
    }
    // Layer by layer: one layer's real weights at a time.
    let mut input = None;
    let mut layers = vec![];
    let mut shares = vec![];
    let real = trace_each(m, o.output.as_deref(), |h, RealLayer { node, name, current, projections }| {
        if input.is_none() {
            input = Some(input_plan(&g.g[h.input].name, h.input_shape, o)?);
        }
        let input = input.as_ref().expect("set above");
        let (layer, share) = quantise_layer(m, o, &name, node, current, projections, input, d.reset)?;
        layers.push(layer);
        shares.push(share);
        Ok(())
    })?;
    let input = match input {
        Some(i) => i,
        None => input_plan(&g.g[real.input].name, real.input_shape, o)?,
    };
    mark_consumers(&mut layers);
    refuse_fed_back_counts(&layers)?;
    let students = students_of(m, &layers, shares);
    let out_layer = real.output_layer;
    let output =
        OutputPlan { node: g.g[real.output].name.clone(), layer: out_layer, spikes: layers[out_layer].spiking() };
    if o.early_exit && !output.spikes {
        return Err(QuantError {
            node: Some(output.node.clone()),
            message: "early exit needs spike-count decoding (a spiking output layer)".into(),
        });
    }
    let mut net = Network {
        model: model_label(m),
        timesteps: o.timesteps,
        rules: o.rules.clone(),
        reset: d.reset,
        fire_on_equal: d.fire_on_equal,
        input,
        layers,
        output,
        early_exit: o.early_exit,
        notes: vec![],
        students,
    };
    for k in 0..net.layers.len() {
        range::analyse(&mut net, k);
        check_width(&net.layers[k])?;
    }
    Ok(net)
}

/// The network's students when the graph has exactly one ensemble (`passes::students`):
/// the layers and projections of each, and what each student's projections add to the
/// constants of shared layers (`shares`, per layer and projection, from [`quantise_layer`]).
fn students_of(m: &Model, layers: &[Layer], shares: Vec<Vec<Option<ProjBias>>>) -> Option<Students> {
    let ens = crate::passes::students::ensembles(&m.graph, &m.info);
    let [e] = ens.as_slice() else { return None };
    let student_of = |n: &str| e.students.iter().position(|s| s.nodes.iter().any(|x| x == n));
    let (layer, projection) = students::tag(layers, &student_of);
    let mut out = vec![];
    for (k, per_proj) in shares.into_iter().enumerate() {
        if layer[k].is_some() {
            continue;
        }
        for (pi, b) in per_proj.into_iter().enumerate() {
            let (Some(s), Some(b)) = (projection[k][pi], b) else { continue };
            match out.iter_mut().find(|x: &&mut BiasShare| x.layer == k && x.student == s) {
                Some(x) => b.add_to(x),
                None => {
                    let mut x = BiasShare {
                        layer: k,
                        student: s,
                        bias: vec![],
                        bias_late: vec![],
                        syn_bias: vec![],
                        syn_bias_late: vec![],
                    };
                    b.add_to(&mut x);
                    out.push(x);
                }
            }
        }
    }
    Some(Students {
        merge: e.merge.clone(),
        names: e.students.iter().map(|s| s.name.clone()).collect(),
        layer,
        projection,
        shares: out,
    })
}

/// What one projection's bias adds to its layer's constants (in the layer's units, each
/// vector of length 1 when uniform).
struct ProjBias([Vec<i64>; 4]);

impl ProjBias {
    /// The constants `now` less `was`.
    fn between(was: &NeuronParams, now: &NeuronParams) -> ProjBias {
        let d = |a: &[i64], b: &[i64]| {
            let n = a.len().max(b.len());
            uniform((0..n).map(|i| at(b, i) - at(a, i)).collect())
        };
        ProjBias([
            d(&was.bias, &now.bias),
            d(&was.bias_late, &now.bias_late),
            d(&was.syn_bias, &now.syn_bias),
            d(&was.syn_bias_late, &now.syn_bias_late),
        ])
    }

    fn add_to(&self, x: &mut BiasShare) {
        let fields = [&mut x.bias, &mut x.bias_late, &mut x.syn_bias, &mut x.syn_bias_late];
        for (v, add) in fields.into_iter().zip(&self.0) {
            if add.iter().all(|&a| a == 0) {
                continue;
            }
            if v.is_empty() {
                v.clone_from(add);
            } else {
                let n = v.len().max(add.len());
                *v = uniform((0..n).map(|i| at(v, i) + at(add, i)).collect());
            }
        }
    }
}

/// Refuses a multi-spike layer whose events reach a layer at or before it (a recurrent edge):
/// range analysis bounds a layer's counts from the layers before it, and a count that feeds
/// back has no bound it can compute.
fn refuse_fed_back_counts(layers: &[Layer]) -> Result<(), QuantError> {
    for (k, l) in layers.iter().enumerate() {
        for p in &l.projections {
            if let Source::Layer(s) = p.source
                && (s >= k || p.delayed)
                && layers[s].multi
            {
                return Err(perr(
                    &l.name,
                    format!(
                        "the multi-spike layer '{}' feeds it through a recurrent edge; the hardware plan bounds spike \
                         counts layer by layer and cannot bound a count that feeds back (pass --spikes single if the \
                         model used SingleSpike)",
                        crate::names::label(&layers[s].name)
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Refuses a layer whose analysed state is wider than [`range::MAX_STATE_BITS`], naming what is
/// out of proportion.
fn check_width(l: &Layer) -> Result<(), QuantError> {
    if l.v_bits.max(l.s_bits).max(l.y_bits) <= range::MAX_STATE_BITS {
        return Ok(());
    }
    let p = &l.params;
    let largest = |v: &[&Vec<i64>]| v.iter().flat_map(|x| x.iter()).map(|x| x.unsigned_abs()).max().unwrap_or(0);
    Err(perr(
        &l.name,
        format!(
            "its state needs more than {} bits: a threshold, bias, reset or time constant is out of \
             proportion to the weights (in units of {:.3e}, |threshold| up to {:.3e}, |constant input or reset| up to {:.3e}); check the model, \
             or cap the membrane with --membrane-bits",
            range::MAX_STATE_BITS,
            l.unit.iter().copied().fold(f64::INFINITY, f64::min),
            largest(&[&p.thr]) as f64,
            largest(&[&p.bias, &p.bias_late, &p.vreset, &p.syn_bias, &p.syn_bias_late]) as f64,
        ),
    ))
}

/// Row scale of each target neuron of a projection and whether every row is +-a.
struct RowScales {
    /// Per target neuron.
    scale: Vec<f64>,
    binary: bool,
}

/// Per-target-neuron row scales (Dense rows, Conv output channels broadcast over positions,
/// element weights for Pool/OneToOne) for a projection into a layer of `n` neurons.
fn row_scales(p: &RealProj, n: usize, shape: [usize; 3], weight_bits: u32) -> RowScales {
    let codes = ((1i64 << (weight_bits - 1)) - 1) as f64;
    match &p.kind {
        ProjKind::Dense { .. } | ProjKind::Conv { .. } => {
            let rows = match p.kind {
                ProjKind::Dense { .. } => n,
                _ => shape[0],
            };
            let (per_row, binary) = match classify_rows(&p.w, rows) {
                WeightKind::Binary { scales } if scales.iter().all(|&a| a > 0.0) => (scales, true),
                _ => {
                    let per = p.w.numel() / rows;
                    let s = (0..rows)
                        .map(|r| p.w.slice(r * per..(r + 1) * per).fold(0.0f64, |m, v| m.max(v.abs())) / codes)
                        .collect();
                    (s, false)
                }
            };
            let per_pos = n / rows;
            RowScales { scale: (0..n).map(|i| per_row[i / per_pos]).collect(), binary }
        }
        ProjKind::Pool(_) | ProjKind::OneToOne => {
            let binary = p.w.iter().all(|v| v.abs() == p.w.at(0).abs() && v != 0.0);
            RowScales { scale: (0..n).map(|i| p.w.at(i % p.w.numel()).abs()).collect(), binary }
        }
    }
}

/// `v` as its one value when every value is the same (a per-layer parameter), else `v`.
fn uniform<T: PartialEq + Clone>(v: Vec<T>) -> Vec<T> {
    if v.windows(2).all(|w| w[0] == w[1]) && !v.is_empty() { vec![v[0].clone()] } else { v }
}

/// The decay `beta` per neuron in fixed point with P = `p`: none (all 0), identity (all 1), a
/// shift when every beta is `1 - 2^-k` (to 1e-7) with `k <= P`, else multipliers `round(beta 2^P)`.
fn leak_of(name: &str, beta: &[f64], p: u32) -> Result<Leak, QuantError> {
    if let Some(&b) = beta.iter().find(|&&b| !(0.0..=1.0).contains(&b)) {
        return Err(perr(
            name,
            format!("decay beta = 1 - dt/tau = {b} is outside [0, 1]: tau is shorter than dt (check --dt / --from)"),
        ));
    }
    if beta.iter().all(|&b| b == 0.0) {
        return Ok(Leak::Zero);
    }
    if beta.iter().all(|&b| b == 1.0) {
        return Ok(Leak::One);
    }
    let b0 = beta[0];
    if beta.iter().all(|&b| (b - b0).abs() <= 1e-9) {
        for k in 1..=p {
            if (b0 - (1.0 - (0.5f64).powi(k as i32))).abs() <= 1e-7 {
                return Ok(Leak::Shift { k });
            }
        }
    }
    let scale = (1u64 << p) as f64;
    Ok(Leak::Mul { b: uniform(beta.iter().map(|&b| (b * scale).round() as i64).collect()) })
}

/// Layer `name` (node `lx`, or the weighted sum read out when `is_current`) in integers under
/// `o.rules`, fed by the traced projections `real`.
#[allow(clippy::too_many_arguments)]
fn quantise_layer(
    m: &Model,
    o: &QuantOptions,
    name: &str,
    lx: NodeIndex,
    is_current: bool,
    real: Vec<RealProj>,
    input: &InputPlan,
    reset: ResetMode,
) -> Result<(Layer, Vec<Option<ProjBias>>), QuantError> {
    let (shape, n) = layer_shape(m, name, lx, is_current, &real)?;
    let group_size = group_size(name, shape, &real)?;
    let op = &m.graph.g[lx].op;
    let kind = if is_current { NeuronKind::Current } else { neuron_kind(op) };
    let (coeffs, acc_gain) = layer_coeffs(m, name, op, is_current, n)?;
    let f = o.rules.frac_bits();
    let src_scale = |p: &RealProj| {
        if p.source == Source::Input { input.scale } else { 1.0 }
    };
    // Primary projection: the first with a weight matrix, else the first.
    let primary =
        real.iter().position(|p| matches!(p.kind, ProjKind::Dense { .. } | ProjKind::Conv { .. })).unwrap_or(0);
    let rs = row_scales(&real[primary], n, shape, o.rules.weights.bits);
    let s0: Vec<f64> = rs.scale.iter().map(|&s| if s > 0.0 { s } else { 1.0 }).collect();
    let units = Units::of(&coeffs, acc_gain, &s0, src_scale(&real[primary]), f);
    let mut projections = vec![];
    let mut bias = vec![0.0; n];
    let mut bias_late = vec![0.0; n];
    let init_v = m.dialect().switches.initial_v;
    let zero_reset = reset == ResetMode::Zero && kind.spiking();
    let params_of = |b: &[f64], bl: &[f64]| neuron_params(&coeffs, &units, init_v, [b, bl], zero_reset);
    // Each biased projection's share of the constants: what adding its bias to the running sum
    // (in projection order) changes in them. The shares add up to the constants of the whole
    // sum, and the first projections' shares to those of their own sum.
    let mut shares = vec![];
    let mut before = None;
    for (k, p) in real.iter().enumerate() {
        let (weights, shift) = if k == primary {
            let bits = if rs.binary { 1 } else { o.rules.weights.bits };
            (primary_weights(name, p, &s0, n, shape, bits)?, f)
        } else {
            (other_weights(p, &units, src_scale(p), n, shape), 0)
        };
        if let Some(b) = &p.bias {
            let was = before.take().unwrap_or_else(|| params_of(&bias, &bias_late));
            let dst = if p.delayed { &mut bias_late } else { &mut bias };
            for i in 0..n {
                dst[i] += b[i];
            }
            let now = params_of(&bias, &bias_late);
            shares.push(Some(ProjBias::between(&was, &now)));
            before = Some(now);
        } else {
            shares.push(None);
        }
        let target = if p.source == Source::Input && !input.per_step && !p.delayed {
            AccTarget::Static
        } else {
            AccTarget::Dynamic
        };
        projections.push(p.projection(target, weights, shift));
    }
    let params = params_of(&bias, &bias_late);
    let multi = !is_current && kind.spiking() && m.dialect().multi_spike(&m.graph, lx);
    if multi && params.thr.iter().any(|&t| t <= 0) {
        return Err(perr(
            name,
            "multi-spike neurons emit floor(v / v_threshold) spikes, which needs a positive threshold; this layer's \
             threshold is zero or negative in hardware units",
        ));
    }
    let leak = leak_of(name, &coeffs.beta, o.rules.leak_bits())?;
    let syn_leak = match &coeffs.syn {
        Some((alpha, _)) => Some(leak_of(name, alpha, o.rules.leak_bits())?),
        None => None,
    };
    Ok((
        Layer {
            name: name.to_string(),
            kind,
            shape,
            group_size,
            leak,
            syn_leak,
            params,
            unit: uniform(units.v),
            v_bits: 0,
            s_bits: 0,
            y_bits: 0,
            saturate: false,
            v_bound: 0,
            projections,
            has_consumers: false,
            multi,
            max_count: 0,
            count_bits: 0,
        },
        shares,
    ))
}

/// Real units of a layer's integers, per neuron.
struct Units {
    /// Gain from the accumulated input to the state it accumulates into (X, or Y).
    acc_gain: Vec<f64>,
    /// Real value of one LSB of that state.
    acc: Vec<f64>,
    /// Real value of one LSB of V.
    v: Vec<f64>,
}

impl Units {
    /// The units when the primary projection's weights are in row units `s0` shifted by F = `f`,
    /// its source's events worth `src_scale`.
    fn of(c: &neuron::Coeffs, acc_gain: Vec<f64>, s0: &[f64], src_scale: f64, f: u32) -> Units {
        let two_f = (1u64 << f) as f64;
        let acc: Vec<f64> = (0..s0.len()).map(|i| acc_gain[i] * s0[i] * src_scale / two_f).collect();
        // For current-based neurons v += gain * i, and i is in acc units.
        let v: Vec<f64> = match &c.syn {
            Some(_) => (0..s0.len()).map(|i| acc[i] * c.gain[i]).collect(),
            None => acc.clone(),
        };
        Units { acc_gain, acc, v }
    }
}

/// The logical (C, H, W) of layer `name` (the structured output of a Conv or Pool projection,
/// else the node's shape) and its neuron count, or why a projection does not fit it.
fn layer_shape(
    m: &Model,
    name: &str,
    lx: NodeIndex,
    is_current: bool,
    real: &[RealProj],
) -> Result<([usize; 3], usize), QuantError> {
    let node_shape = if is_current { &m.info.in_shape[lx.index()] } else { &m.info.out_shape[lx.index()] };
    let n: usize = node_shape.iter().product();
    let mut shape = chw(node_shape).ok_or_else(|| perr(name, "layers of rank above 3 are not supported"))?;
    for p in real {
        if matches!(p.kind, ProjKind::Conv { .. } | ProjKind::Pool(_)) {
            if p.out_shape.iter().product::<usize>() != n {
                return Err(perr(name, format!("projection from {} does not match the layer size", p.path[0])));
            }
            shape = p.out_shape;
        }
    }
    Ok((shape, n))
}

/// Channels per group of a layer of `shape` (C unless a grouped convolution feeds it), or why
/// its projections cannot feed it together.
fn group_size(name: &str, shape: [usize; 3], real: &[RealProj]) -> Result<usize, QuantError> {
    let mut group_size = shape[0];
    for p in real {
        match &p.kind {
            ProjKind::Conv { groups, .. } if *groups > 1 => {
                let gs = shape[0] / groups;
                if group_size != shape[0] && group_size != gs {
                    return Err(perr(name, "convolutions with different group counts feed this layer"));
                }
                group_size = gs;
            }
            ProjKind::Dense { .. } if shape[1] * shape[2] != 1 => {
                return Err(perr(name, "a fully connected projection must feed a flat layer"));
            }
            ProjKind::OneToOne if p.src_shape[0] != shape[0] && shape[1] * shape[2] != 1 => {
                return Err(perr(
                    name,
                    format!(
                        "element-wise path from '{}' reshapes {:?} to {:?}; supported are reshapes that keep the \
                         channels or flatten everything",
                        p.path[0], p.src_shape, shape
                    ),
                ));
            }
            _ => {}
        }
    }
    Ok(group_size)
}

/// The neuron model of a layer node (a neuron or Threshold node).
fn neuron_kind(op: &Op) -> NeuronKind {
    match op {
        Op::LIF { .. } | Op::IF { .. } | Op::Threshold { .. } => NeuronKind::Lif,
        Op::LI { .. } | Op::I { .. } => NeuronKind::Li,
        Op::CubaLIF { .. } => NeuronKind::CubaLif,
        Op::CubaLI { .. } => NeuronKind::CubaLi,
        _ => unreachable!("layers are neuron or Threshold nodes"),
    }
}

/// The coefficients of `n` neurons `op` (a current readout: gain 1, no state, no threshold) and
/// the gain from the accumulated input to the state it accumulates into; both gains positive.
fn layer_coeffs(
    m: &Model,
    name: &str,
    op: &Op,
    is_current: bool,
    n: usize,
) -> Result<(neuron::Coeffs, Vec<f64>), QuantError> {
    let coeffs = if is_current {
        neuron::Coeffs {
            beta: vec![0.0; n],
            gain: vec![1.0; n],
            v_leak: vec![0.0; n],
            v_th: None,
            v_reset: vec![0.0; n],
            syn: None,
            v_min: None,
        }
    } else {
        neuron::coeffs(op, n, m.dialect()).expect("layer ops have coefficients")
    };
    if let Some(&gn) = coeffs.gain.iter().find(|&&x| !(x > 0.0 && x.is_finite())) {
        return Err(perr(name, format!("input gain r*dt/tau = {gn} must be positive")));
    }
    let acc_gain: Vec<f64> = match &coeffs.syn {
        Some((_, gs)) => gs.clone(),
        None => coeffs.gain.clone(),
    };
    if let Some(&gn) = acc_gain.iter().find(|&&x| !(x > 0.0 && x.is_finite())) {
        return Err(perr(name, format!("synaptic gain w_in*dt/tau_syn = {gn} must be positive")));
    }
    Ok((coeffs, acc_gain))
}

/// Each stored weight of `p` with the neuron whose scale applies to it: Dense `out*cols` by
/// row, Conv `co*ci_g*kh*kw` by output channel (its first neuron), Pool/OneToOne one per
/// neuron of the `n`.
fn entries(p: &RealProj, n: usize, shape: [usize; 3]) -> impl Iterator<Item = (usize, f64)> + '_ {
    let numel = p.w.numel();
    let (len, per, pos) = match p.kind {
        ProjKind::Dense { cols } => (numel, cols, 1),
        ProjKind::Conv { .. } => (numel, numel / shape[0], shape[1] * shape[2]),
        ProjKind::Pool(_) | ProjKind::OneToOne => (n, 1, 1),
    };
    (0..len).map(move |e| ((e / per) * pos, p.w.at(e % numel)))
}

/// The primary projection's weights in row units `s0`, rounded to nearest: `bits`-bit levels, or
/// 1-bit +-1 (refused unless every weight is +-1).
fn primary_weights(
    name: &str,
    p: &RealProj,
    s0: &[f64],
    n: usize,
    shape: [usize; 3],
    bits: u32,
) -> Result<Weights, QuantError> {
    let q = entries(p, n, shape).map(|(i, w)| (w / s0[i]).round() as i64);
    let values = match p.kind {
        ProjKind::Pool(_) | ProjKind::OneToOne => uniform(q.collect()).into(),
        ProjKind::Dense { .. } | ProjKind::Conv { .. } => WeightValues::collect(q),
    };
    // A 1-bit weight is +1 or -1 (bit set / clear): no code for 0 or for other values.
    if bits == 1 && !matches!(values, WeightValues::Signs { .. }) && values.iter().any(|&v| v != 1 && v != -1) {
        let what = if matches!(p.kind, ProjKind::Dense { .. } | ProjKind::Conv { .. }) {
            "its rows are not binary (+-a)"
        } else {
            "some of its weights are zero"
        };
        return Err(perr(
            name,
            format!(
                "projection from '{}': 1-bit weights hold +1 and -1 only and {what}: give --weight-bits 2 or more",
                p.path.first().map_or("?", String::as_str)
            ),
        ));
    }
    Ok(Weights { bits, values })
}

/// A further projection's weights in the accumulated state's units (its source's real value
/// `ss` per event), rounded to nearest, with the bits they need (1 when all are +-1).
fn other_weights(p: &RealProj, u: &Units, ss: f64, n: usize, shape: [usize; 3]) -> Weights {
    let vals: Vec<i64> =
        entries(p, n, shape).map(|(i, w)| (u.acc_gain[i] * w * ss / u.acc[i]).round() as i64).collect();
    let maxw = vals.iter().map(|v| v.saturating_abs()).max().unwrap_or(0);
    let binary = vals.iter().all(|&v| v == 1 || v == -1);
    let bits = if binary { 1 } else { range::signed_bits(maxw).max(2) };
    Weights { bits, values: uniform_if_elementwise(&p.kind, vals).into() }
}

/// Threshold, constants and reset value per neuron (collapsed when uniform) in units `u`:
/// `bias` (from step 0) and `bias_late` (from step 1, delayed paths) go to the membrane, or to
/// the synaptic current for current-based neurons; the reset value only for a zero reset.
fn neuron_params(
    c: &neuron::Coeffs,
    u: &Units,
    initial_v: InitialV,
    [bias, bias_late]: [&[f64]; 2],
    zero_reset: bool,
) -> NeuronParams {
    let n = u.v.len();
    let rnd = |x: f64| x.round() as i64;
    let unit = &u.v;
    // Norse starts v at v_leak: step 0 gets beta*v_leak more than the zero-start recurrence.
    let init: Vec<f64> =
        if initial_v == InitialV::VLeak { (0..n).map(|i| c.beta[i] * c.v_leak[i]).collect() } else { vec![0.0; n] };
    let leak_c = |i: usize| (1.0 - c.beta[i]) * c.v_leak[i] + init[i];
    let (bias, bias_late, syn_bias, syn_bias_late): (Vec<i64>, Vec<i64>, Vec<i64>, Vec<i64>) = if c.syn.is_some() {
        (
            (0..n).map(|i| rnd(leak_c(i) / unit[i])).collect(),
            (0..n).map(|i| rnd(-init[i] / unit[i])).collect(),
            (0..n).map(|i| rnd(u.acc_gain[i] * bias[i] / u.acc[i])).collect(),
            (0..n).map(|i| rnd(u.acc_gain[i] * bias_late[i] / u.acc[i])).collect(),
        )
    } else {
        (
            (0..n)
                .map(|i| rnd((u.acc_gain[i] * bias[i] + (1.0 - c.beta[i]) * c.v_leak[i] + init[i]) / unit[i]))
                .collect(),
            (0..n).map(|i| rnd((u.acc_gain[i] * bias_late[i] - init[i]) / unit[i])).collect(),
            vec![0],
            vec![0],
        )
    };
    let thr: Vec<i64> = match &c.v_th {
        Some(th) => (0..n).map(|i| rnd(th[i] / unit[i])).collect(),
        None => vec![0],
    };
    let vreset: Vec<i64> = if zero_reset { (0..n).map(|i| rnd(c.v_reset[i] / unit[i])).collect() } else { vec![0] };
    let vmin: Vec<i64> = match &c.v_min {
        Some(m) => uniform((0..n).map(|i| rnd(m[i] / unit[i])).collect()),
        None => vec![],
    };
    NeuronParams {
        thr: uniform(thr),
        bias: uniform(bias),
        bias_late: uniform(bias_late),
        vreset: uniform(vreset),
        syn_bias: uniform(syn_bias),
        syn_bias_late: uniform(syn_bias_late),
        vmin,
    }
}

/// Element-wise weights collapse to one value when uniform; matrices stay as they are.
fn uniform_if_elementwise(kind: &ProjKind, v: Vec<i64>) -> Vec<i64> {
    match kind {
        ProjKind::Pool(_) | ProjKind::OneToOne => uniform(v),
        _ => v,
    }
}

#[cfg(test)]
mod tests {
    use super::{leak_of, quantise};
    use crate::ir::dialect::DialectOverrides;
    use crate::ir::{Op, ResetMode};
    use crate::quant::testing::{affine, chain, if_neurons, integers, options, vec1};
    use crate::quant::{AccTarget, Leak, NeuronKind, Rules};

    fn zero_reset() -> DialectOverrides {
        DialectOverrides { reset: Some(ResetMode::Zero), ..Default::default() }
    }

    #[test]
    fn binary_rows_become_signs_and_their_scale_goes_into_the_unit() {
        // Rows +-0.5 and +-0.25 into IF neurons (gain 1), F = 6: unit a / 2^6 per neuron.
        let m = chain(
            &[3],
            vec![
                ("fc", affine(&[&[0.5, -0.5, 0.5], &[-0.25, 0.25, 0.25]], &[0.25, -0.125])),
                ("lif", if_neurons(&[1.0, 2.0], 0.0)),
            ],
            &zero_reset(),
        );
        let net = quantise(&m, &options(Rules::fpga(8, 8, 6, 16, None), integers(0.0, 1.0))).unwrap();
        let l = &net.layers[0];
        let p = &l.projections[0];
        assert_eq!((p.weights.bits, p.weights.values.to_vec()), (1, vec![1, -1, 1, -1, 1, 1]));
        assert_eq!((p.shift, p.target), (6, AccTarget::Static));
        assert_eq!(l.unit, vec![1.0 / 128.0, 1.0 / 256.0]);
        // Threshold and bias in those units: 1 * 128, 2 * 256; 0.25 * 128, -0.125 * 256.
        assert_eq!((&l.params.thr, &l.params.bias), (&vec![128, 512], &vec![32, -32]));
        assert_eq!((l.kind, &l.leak), (NeuronKind::Lif, &Leak::One));
        assert_eq!((net.input.bits, net.input.signed, net.input.scale), (1, false, 1.0));
    }

    #[test]
    fn other_rows_round_to_the_nearest_level_and_their_largest_weight_takes_the_top_level() {
        // 4-bit levels (top 7): row 0 in steps of 0.875 / 7 = 0.125, row 1 of 1.75 / 7 = 0.25;
        // halves round away from zero (-2.5 -> -3, 1.5 -> 2).
        let rows: [&[f64]; 2] = [&[0.875, -0.3125, 0.1875, 0.05], &[-1.75, 0.5, 0.25, 1.0]];
        let m =
            chain(&[4], vec![("fc", affine(&rows, &[0.0, 0.0])), ("lif", if_neurons(&[1.0, 1.0], 0.0))], &zero_reset());
        let net = quantise(&m, &options(Rules::fpga(4, 8, 6, 16, None), integers(0.0, 1.0))).unwrap();
        let l = &net.layers[0];
        let w = &l.projections[0].weights;
        assert_eq!((w.bits, w.values.to_vec()), (4, vec![7, -3, 2, 0, -7, 2, 1, 4]));
        assert_eq!(l.unit, vec![0.125 / 64.0, 0.25 / 64.0]);
        assert_eq!(l.params.thr, vec![512, 256]);
        // One bit per weight holds only +-1: these rows are refused, naming the layer.
        let e = quantise(&m, &options(Rules::fpga(1, 8, 6, 16, None), integers(0.0, 1.0))).unwrap_err();
        assert_eq!(e.node.as_deref(), Some("lif"));
        assert!(e.message.contains("1-bit weights hold +1 and -1 only and its rows are not binary"), "{e}");
    }

    #[test]
    fn thresholds_leak_targets_and_reset_values_are_rounded_in_units() {
        // LIF tau 4 (beta 0.75 = 1 - 2^-2), r 4 (gain 1), unit 0.5 / 64 = 1/128.
        let lif = Op::LIF {
            tau: vec1(&[4.0, 4.0]),
            r: vec1(&[4.0, 4.0]),
            v_leak: vec1(&[0.5, -0.3]),
            v_threshold: vec1(&[1.0, 0.7]),
            v_reset: vec1(&[-0.25, 0.1]),
        };
        let fc = affine(&[&[0.5, -0.5], &[0.5, 0.5]], &[0.25, 0.0]);
        let stats = integers(0.0, 1.0);
        let m = chain(&[2], vec![("fc", fc.clone()), ("lif", lif.clone())], &zero_reset());
        let net = quantise(&m, &options(Rules::fpga(8, 8, 6, 16, None), stats)).unwrap();
        let pr = &net.layers[0].params;
        // thr: 128, 89.6 -> 90; C = (bias + (1 - beta) v_leak) / unit: 48, -9.6 -> -10;
        // VR: -32, 12.8 -> 13.
        assert_eq!((&pr.thr, &pr.bias, &pr.vreset), (&vec![128, 90], &vec![48, -10], &vec![-32, 13]));
        assert_eq!(net.layers[0].leak, Leak::Shift { k: 2 });
        // Reset by subtraction stores no reset value.
        let sub = DialectOverrides { reset: Some(ResetMode::Subtract), ..Default::default() };
        let m = chain(&[2], vec![("fc", fc), ("lif", lif)], &sub);
        let net = quantise(&m, &options(Rules::fpga(8, 8, 6, 16, None), stats)).unwrap();
        assert_eq!(net.layers[0].params.vreset, vec![0]);
    }

    #[test]
    fn leak_multipliers_are_beta_times_2_to_the_p_rounded() {
        // 0.9 * 2^16 = 58982.4, 0.8 * 2^16 = 52428.8.
        assert_eq!(leak_of("l", &[0.9], 16), Ok(Leak::Mul { b: vec![58982] }));
        assert_eq!(leak_of("l", &[0.9, 0.9, 0.9], 16), Ok(Leak::Mul { b: vec![58982] }));
        assert_eq!(leak_of("l", &[0.9, 0.8], 16), Ok(Leak::Mul { b: vec![58982, 52429] }));
        assert_eq!(leak_of("l", &[0.9], 8), Ok(Leak::Mul { b: vec![230] }));
        assert_eq!(leak_of("l", &[0.0, 1.0], 16), Ok(Leak::Mul { b: vec![0, 65536] }));
    }

    #[test]
    fn beta_1_minus_2_to_the_minus_k_is_an_exact_shift_for_k_up_to_p() {
        assert_eq!(leak_of("l", &[0.5], 16), Ok(Leak::Shift { k: 1 }));
        assert_eq!(leak_of("l", &[0.75, 0.75], 16), Ok(Leak::Shift { k: 2 }));
        assert_eq!(leak_of("l", &[0.9375], 4), Ok(Leak::Shift { k: 4 }));
        // k = 4 > P = 3: a multiplier, 0.9375 * 8 = 7.5 -> 8.
        assert_eq!(leak_of("l", &[0.9375], 3), Ok(Leak::Mul { b: vec![8] }));
        // Per-neuron shifts are multipliers.
        assert_eq!(leak_of("l", &[0.5, 0.75], 16), Ok(Leak::Mul { b: vec![32768, 49152] }));
    }

    #[test]
    fn beta_1_and_0_need_no_arithmetic_and_beta_outside_0_1_is_refused() {
        assert_eq!(leak_of("l", &[1.0, 1.0], 16), Ok(Leak::One));
        assert_eq!(leak_of("l", &[0.0], 16), Ok(Leak::Zero));
        let e = leak_of("l", &[0.5, 1.5], 16).unwrap_err();
        assert_eq!(e.node.as_deref(), Some("l"));
        assert!(e.message.starts_with("decay beta = 1 - dt/tau = 1.5 is outside [0, 1]"), "{e}");
        assert!(leak_of("l", &[-0.1], 16).is_err());
    }

    #[test]
    fn a_state_beyond_62_bits_is_refused_naming_the_layer_unless_capped() {
        // Weights of 1e-20 against a threshold of 1: the threshold is 6.4e21 units.
        let m = chain(
            &[3],
            vec![("fc", affine(&[&[1e-20, -1e-20, 1e-20]], &[0.0])), ("lif", if_neurons(&[1.0], 0.0))],
            &zero_reset(),
        );
        let e = quantise(&m, &options(Rules::fpga(8, 8, 6, 16, None), integers(0.0, 1.0))).unwrap_err();
        assert!(e.to_string().starts_with("hardware plan: node 'lif': its state needs more than 62 bits"), "{e}");
        // Under a 16-bit cap the layer saturates instead, its threshold too.
        let net = quantise(&m, &options(Rules::fpga(8, 8, 6, 16, Some(16)), integers(0.0, 1.0))).unwrap();
        let l = &net.layers[0];
        assert_eq!((l.v_bits, l.saturate, &l.params.thr), (16, true, &vec![32767]));
    }
}
