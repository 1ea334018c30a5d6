//! Lowering a validated model to a hardware [`Plan`].
//!
//! Layers are the neuron nodes (and Threshold nodes); everything between two layers must be
//! a chain of linear ops that lowers to one projection: optional pooling of the source
//! spikes, then at most one weighted op (Affine/Linear/Conv), with Scale nodes folded into
//! it and Flatten nodes as index identities. Several paths into a layer become several
//! projections sharing the layer's membrane unit. Anything else is refused with the path
//! that could not be lowered.

use std::collections::HashMap;
use std::fmt;

use petgraph::graph::NodeIndex;

use super::{
    AccTarget, InputPlan, Layer, Leak, NeuronKind, NeuronParams, OutputPlan, Plan, PoolGeom, ProjKind, Projection,
    Source, Weights, memory, range,
};
use crate::analysis::{WeightKind, classify_weights};
use crate::ir::dialect::{InitialV, SpikeMode};
use crate::ir::{Op, Padding, ResetMode, Tensor, neuron};
use crate::model::Model;
use crate::target::Target;

/// Why a model cannot become a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanError {
    /// Node at fault, when there is one.
    pub node: Option<String>,
    /// What is unsupported or wrong, and what would work.
    pub message: String,
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.node {
            Some(n) => write!(f, "hardware plan: node '{n}': {}", self.message),
            None => write!(f, "hardware plan: {}", self.message),
        }
    }
}

impl std::error::Error for PlanError {}

fn perr(node: &str, message: impl Into<String>) -> PlanError {
    PlanError { node: Some(node.to_string()), message: message.into() }
}

/// Range of the calibration inputs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InputStats {
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Every value is an integer.
    pub integers: bool,
    /// The coarsest step g found such that every value is an integer multiple of g (exactly
    /// for power-of-two steps, to 1e-9 relative otherwise), when the data lies on a grid.
    pub grid: Option<f64>,
    /// Inputs are per-step (N x T x ...).
    pub per_step: bool,
}

impl InputStats {
    /// Statistics of a batch.
    pub fn of(b: &crate::data::InputBatch) -> InputStats {
        let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
        let mut integers = true;
        for &v in &b.data {
            min = min.min(v);
            max = max.max(v);
            integers &= v.fract() == 0.0;
        }
        let grid = if integers { Some(1.0) } else { grid_of(&b.data) };
        InputStats { min, max, integers, grid, per_step: matches!(b.encoding, crate::data::Encoding::PerStep(_)) }
    }
}

/// The step of the grid `data` lies on (see [`InputStats::grid`]).
fn grid_of(data: &[f64]) -> Option<f64> {
    // A power-of-two step: the finest 2^-e any value needs, exact in floating point.
    let mut e_max = 0;
    let pow2 = data.iter().all(|&v| {
        let mut e = 0;
        while (v * f64::powi(2.0, e)).fract() != 0.0 {
            e += 1;
            if e > 24 {
                return false;
            }
        }
        e_max = e_max.max(e);
        true
    });
    if pow2 {
        return Some(f64::powi(2.0, -e_max));
    }
    // Another step (k/10, k/255...): the smallest gap between distinct values of a sample,
    // checked against every value.
    let mut sample: Vec<f64> = data.iter().take(1 << 20).copied().collect();
    sample.sort_by(f64::total_cmp);
    sample.dedup();
    let g = sample.windows(2).map(|w| w[1] - w[0]).fold(f64::INFINITY, f64::min);
    if !(g.is_finite() && g > 0.0) {
        return None;
    }
    let on_grid = |v: f64| {
        let k = v / g;
        (k - k.round()).abs() <= 1e-9 * k.abs().max(1.0)
    };
    data.iter().all(|&v| on_grid(v)).then_some(g)
}

/// Plan options (the `plan`/`verify`/`compile` flags).
#[derive(Clone, Debug)]
pub struct PlanOptions {
    /// Target device.
    pub target: Target,
    /// Neuron lanes per layer (default: the target's).
    pub lanes: Option<usize>,
    /// Bits of non-binary weights.
    pub weight_bits: u32,
    /// Bits of quantised real-valued inputs.
    pub input_bits: u32,
    /// Fractional bits F of membranes.
    pub frac_bits: u32,
    /// Fractional bits P of leak multipliers.
    pub leak_bits: u32,
    /// Cap on membrane width (saturating arithmetic when below the analysed width).
    pub membrane_bits: Option<u32>,
    /// Real value of one input LSB (else derived from `input_stats`).
    pub input_scale: Option<f64>,
    /// Calibration input range.
    pub input_stats: Option<InputStats>,
    /// Timesteps.
    pub timesteps: usize,
    /// Output node name (when the model has several).
    pub output: Option<String>,
    /// Decided early exit.
    pub early_exit: bool,
}

impl PlanOptions {
    /// Defaults for a target: 8-bit weights and inputs, F = 6, P = 16.
    pub fn new(target: Target, timesteps: usize) -> Self {
        PlanOptions {
            target,
            lanes: None,
            weight_bits: 8,
            input_bits: 8,
            frac_bits: 6,
            leak_bits: 16,
            membrane_bits: None,
            input_scale: None,
            input_stats: None,
            timesteps,
            output: None,
            early_exit: false,
        }
    }
}

/// (C, H, W) of a logical shape.
pub(crate) fn chw(shape: &[usize]) -> Option<[usize; 3]> {
    match shape {
        [n] => Some([*n, 1, 1]),
        [c, l] => Some([*c, 1, *l]),
        [c, h, w] => Some([*c, *h, *w]),
        _ => None,
    }
}

/// One path from a source to a layer: the ops in between, source first.
struct Path {
    source: NodeIndex,
    ops: Vec<NodeIndex>,
    delayed: usize,
}

/// A path classified, with real-valued weights.
struct RealProj {
    path: Vec<String>,
    source: Source,
    src_shape: [usize; 3],
    delayed: bool,
    pre_pool: Option<PoolGeom>,
    kind: ProjKind,
    /// Dense `out*cols`, Conv `co*ci_g*kh*kw`, Pool/OneToOne one per target neuron.
    w: Vec<f64>,
    /// Real bias per target neuron (all neurons of the layer).
    bias: Option<Vec<f64>>,
    /// Output shape of the projection (C, H, W).
    out_shape: [usize; 3],
}

fn is_layer(op: &Op) -> bool {
    op.is_neuron() || matches!(op, Op::Threshold { .. })
}

fn is_linear(op: &Op) -> bool {
    matches!(
        op,
        Op::Affine { .. }
            | Op::Linear { .. }
            | Op::Scale { .. }
            | Op::Conv { .. }
            | Op::SumPool2d { .. }
            | Op::AvgPool2d { .. }
            | Op::Flatten { .. }
            | Op::Output
    )
}

fn pow2(v: usize) -> bool {
    v.is_power_of_two()
}

/// Lowers `m` to a plan.
pub fn lower(m: &Model, o: &PlanOptions) -> Result<Plan, PlanError> {
    let g = &m.graph;
    let info = &m.info;
    let d = m.dialect();
    let ins = g.inputs();
    if ins.len() != 1 {
        return Err(PlanError {
            node: None,
            message: format!("the model has {} Input nodes; hardware takes one", ins.len()),
        });
    }
    let input_ix = ins[0];
    let in_name = g.g[input_ix].name.clone();
    let in_shape = chw(&info.out_shape[input_ix.index()])
        .ok_or_else(|| perr(&in_name, "inputs of rank above 3 are not supported"))?;
    let input = input_plan(&in_name, in_shape, o)?;

    // The output and the layer feeding it.
    let out_ix = g.select_output(o.output.as_deref()).map_err(|e| PlanError { node: None, message: e.to_string() })?;
    let out_name = g.g[out_ix].name.clone();
    let feeders = g.in_edges(out_ix);
    let current_readout = !(feeders.len() == 1 && is_layer(&g.g[feeders[0].1].op));

    if d.switches.spikes == SpikeMode::Multi {
        return Err(PlanError {
            node: None,
            message: "multi-spike neurons (Sinabs MultiSpike) are not supported in hardware; retrain with \
                      SingleSpike or pass --spikes single if the model used it"
                .into(),
        });
    }
    for &ix in &info.order {
        if let Op::Delay { .. } = g.g[ix].op {
            return Err(perr(&g.g[ix].name, "Delay nodes are not supported by the hardware plan"));
        }
    }
    // Layer nodes in evaluation order; a current readout comes last.
    let mut layer_nodes: Vec<NodeIndex> = info.order.iter().copied().filter(|&ix| is_layer(&g.g[ix].op)).collect();
    if current_readout {
        layer_nodes.push(out_ix);
    }
    let layer_of: HashMap<NodeIndex, usize> = layer_nodes.iter().enumerate().map(|(k, &n)| (n, k)).collect();

    let mut layers = Vec::with_capacity(layer_nodes.len());
    for &lx in &layer_nodes {
        let name = if lx == out_ix { format!("{out_name}.current") } else { g.g[lx].name.clone() };
        let paths = trace_paths(m, lx)?;
        let mut real = vec![];
        for p in paths {
            real.push(classify_path(m, p, &layer_of, &name, input_ix, in_shape)?);
        }
        if real.is_empty() {
            return Err(perr(&name, "receives no input"));
        }
        layers.push(quantise_layer(m, o, &name, lx, lx == out_ix, real, &input, d.reset)?);
    }
    // Consumers.
    for k in 0..layers.len() {
        let used = layers.iter().any(|l| l.projections.iter().any(|p| p.source == Source::Layer(k)));
        layers[k].has_consumers = used;
    }
    let out_layer = if current_readout { layers.len() - 1 } else { layer_of[&feeders[0].1] };
    let output = OutputPlan { node: out_name, layer: out_layer, spikes: layers[out_layer].spiking() };
    if o.early_exit && !output.spikes {
        return Err(PlanError {
            node: Some(output.node.clone()),
            message: "early exit needs spike-count decoding (a spiking output layer)".into(),
        });
    }
    let mut plan = Plan {
        model: crate::names::label(&m.path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default()),
        target: o.target.name.clone(),
        clock_mhz: o.target.clock.default_mhz,
        timesteps: o.timesteps,
        frac_bits: o.frac_bits,
        leak_bits: o.leak_bits,
        reset: d.reset,
        fire_on_equal: d.fire_on_equal,
        input,
        layers,
        output,
        memories: vec![],
        early_exit: o.early_exit,
    };
    for k in 0..plan.layers.len() {
        range::analyse(&mut plan, k, o.membrane_bits);
    }
    plan.memories = memory::map(&plan, &o.target);
    Ok(plan)
}

/// How the plan quantises the input (bits, sign, scale) under `o`.
pub fn input_plan(name: &str, shape: [usize; 3], o: &PlanOptions) -> Result<InputPlan, PlanError> {
    let bits_unsigned = |max: f64| (64 - (max as u64).leading_zeros()).max(1);
    let (bits, signed, scale) = match (o.input_scale, o.input_stats) {
        (Some(s), stats) => {
            if !(s.is_finite() && s > 0.0) {
                return Err(perr(name, format!("input scale must be positive, got {s}")));
            }
            (o.input_bits, stats.is_some_and(|st| st.min < 0.0), s)
        }
        (None, Some(st)) => {
            let signed = st.min < 0.0;
            let amax = st.min.abs().max(st.max.abs());
            let fits =
                if signed { amax < (1u64 << (o.input_bits - 1)) as f64 } else { amax < (1u64 << o.input_bits) as f64 };
            // Data on a grid (integers, k/16 pixels...) whose codes fit: exact, with just the
            // bits it needs.
            let on_grid = st.grid.map(|g| (g, (amax / g).round())).filter(|&(_, codes)| {
                if signed { codes < (1u64 << (o.input_bits - 1)) as f64 } else { codes < (1u64 << o.input_bits) as f64 }
            });
            if st.integers && fits {
                let b = bits_unsigned(amax) + u32::from(signed);
                (b.max(1), signed, 1.0)
            } else if let Some((g, codes)) = on_grid {
                let b = bits_unsigned(codes) + u32::from(signed);
                (b.max(1), signed, g)
            } else {
                let codes = if signed { (1u64 << (o.input_bits - 1)) - 1 } else { (1u64 << o.input_bits) - 1 } as f64;
                (o.input_bits, signed, if amax > 0.0 { amax / codes } else { 1.0 })
            }
        }
        (None, None) => {
            return Err(perr(
                name,
                "the input range is unknown: give calibration inputs (--inputs/--calib) or --input-scale",
            ));
        }
    };
    if !(1..=16).contains(&bits) {
        return Err(perr(name, format!("input bits must be 1..=16, got {bits}")));
    }
    Ok(InputPlan {
        node: name.to_string(),
        shape,
        bits,
        signed,
        scale,
        per_step: o.input_stats.is_some_and(|s| s.per_step),
    })
}

/// Every path of linear ops from a source (Input or layer) into `layer`.
fn trace_paths(m: &Model, layer: NodeIndex) -> Result<Vec<Path>, PlanError> {
    let g = &m.graph;
    let mut out = vec![];
    // (node, ops so far from node's successor to the layer, delays)
    let mut stack: Vec<(NodeIndex, Vec<NodeIndex>, usize, bool)> = vec![];
    for (e, src) in g.in_edges(layer).into_iter().rev() {
        stack.push((src, vec![], usize::from(m.info.is_recurrent(e)), false));
    }
    let mut guard = 0usize;
    while let Some((n, ops, delayed, _)) = stack.pop() {
        guard += 1;
        if guard > 1_000_000 {
            return Err(perr(&g.g[layer].name, "too many paths into this layer"));
        }
        let op = &g.g[n].op;
        // A layer reached through at least one op is a source (itself, for self-recurrence).
        if matches!(op, Op::Input { .. }) || (is_layer(op) && (n != layer || !ops.is_empty())) {
            let mut ops = ops;
            ops.reverse();
            out.push(Path { source: n, ops, delayed });
            continue;
        }
        if n == layer || !is_linear(op) {
            return Err(perr(
                &g.g[n].name,
                format!("{} between layers is not supported by the hardware plan", op.type_name()),
            ));
        }
        let mut ops2 = ops.clone();
        ops2.push(n);
        for (e, src) in g.in_edges(n).into_iter().rev() {
            stack.push((src, ops2.clone(), delayed + usize::from(m.info.is_recurrent(e)), false));
        }
    }
    Ok(out)
}

fn describe(m: &Model, p: &Path, layer: &str) -> String {
    let g = &m.graph;
    let mut v = vec![g.g[p.source].name.clone()];
    v.extend(p.ops.iter().map(|&n| format!("{} ({})", g.g[n].name, g.g[n].op.type_name())));
    v.push(layer.to_string());
    v.join(" -> ")
}

fn pool_geom(
    name: &str,
    kernel: &[usize],
    stride: &[usize],
    padding: &[usize],
    out: &[usize],
) -> Result<PoolGeom, PlanError> {
    if !stride.iter().all(|&s| pow2(s)) {
        return Err(perr(name, format!("pooling stride {stride:?} must be a power of two in hardware")));
    }
    Ok(PoolGeom {
        k: [kernel[0], kernel[1]],
        s: [stride[0], stride[1]],
        p: [padding[0], padding[1]],
        out: [out[1], out[2]],
    })
}

#[allow(clippy::too_many_lines)]
fn classify_path(
    m: &Model,
    p: Path,
    layer_of: &HashMap<NodeIndex, usize>,
    lname: &str,
    input_ix: NodeIndex,
    in_shape: [usize; 3],
) -> Result<RealProj, PlanError> {
    let g = &m.graph;
    let info = &m.info;
    let desc = describe(m, &p, lname);
    let bad = |msg: &str| PlanError { node: Some(lname.to_string()), message: format!("path {desc}: {msg}") };
    if p.delayed > 1 {
        return Err(bad("more than one recurrent edge on one path (a delay of several steps) is not supported"));
    }
    let (source, src_shape) = if p.source == input_ix {
        (Source::Input, in_shape)
    } else {
        let k = layer_of[&p.source];
        if !g.g[p.source].op.emits_spikes() {
            return Err(bad("the source layer is not spiking; hardware passes only spikes between layers"));
        }
        let s = chw(&info.out_shape[p.source.index()]).ok_or_else(|| bad("source of rank above 3"))?;
        (Source::Layer(k), s)
    };
    let ops: Vec<NodeIndex> =
        p.ops.iter().copied().filter(|&n| !matches!(g.g[n].op, Op::Flatten { .. } | Op::Output)).collect();
    let mut k = 0;
    let mut pre_pool = None;
    let mut pool_factor = 1.0;
    let mut cur_shape = src_shape;
    // Leading pooling on the source events.
    if let Some(&n) = ops.first()
        && let Op::SumPool2d { kernel, stride, padding } | Op::AvgPool2d { kernel, stride, padding } = &g.g[n].op
    {
        let out = chw(&info.out_shape[n.index()]).ok_or_else(|| bad("pool output rank"))?;
        if info.in_shape[n.index()].len() != 3 {
            return Err(bad("pooling needs a (C, H, W) source"));
        }
        pre_pool = Some(pool_geom(&g.g[n].name, kernel, stride, padding, &info.out_shape[n.index()])?);
        if matches!(g.g[n].op, Op::AvgPool2d { .. }) {
            pool_factor = 1.0 / (kernel[0] * kernel[1]) as f64;
        }
        cur_shape = out;
        k = 1;
    }
    // Scales before the weighted op (per source element).
    let mut pre_scale: Option<Vec<f64>> = None;
    while k < ops.len() {
        if let Op::Scale { scale } = &g.g[ops[k]].op {
            let n: usize = cur_shape.iter().product();
            let v = pre_scale.get_or_insert_with(|| vec![1.0; n]);
            for (i, x) in v.iter_mut().enumerate() {
                *x *= scale.at(i);
            }
            k += 1;
        } else {
            break;
        }
    }
    // The weighted op, if any.
    let mut weighted: Option<NodeIndex> = None;
    if k < ops.len() && matches!(g.g[ops[k]].op, Op::Affine { .. } | Op::Linear { .. } | Op::Conv { .. }) {
        weighted = Some(ops[k]);
        k += 1;
    }
    // Scales after it (per output element).
    let mut post_scale: Option<Vec<f64>> = None;
    while k < ops.len() {
        if let Op::Scale { scale } = &g.g[ops[k]].op {
            let n = info.out_numel(ops[k]);
            let v = post_scale.get_or_insert_with(|| vec![1.0; n]);
            for (i, x) in v.iter_mut().enumerate() {
                *x *= scale.at(i);
            }
            k += 1;
        } else {
            break;
        }
    }
    if k < ops.len() {
        let names: Vec<_> = ops.iter().map(|&n| g.g[n].op.type_name()).collect();
        return Err(bad(&format!(
            "the op sequence [{}] does not lower to one projection (supported: optional pooling of the \
             source, Scale, at most one Affine/Linear/Conv, Scale, with Flatten anywhere)",
            names.join(", ")
        )));
    }
    let path_names: Vec<String> =
        std::iter::once(p.source).chain(p.ops.iter().copied()).map(|n| g.g[n].name.clone()).collect();
    let delayed = p.delayed == 1;
    match weighted {
        None => {
            // Pool straight into neurons, or one-to-one.
            let n: usize = cur_shape.iter().product();
            let mut w = vec![pool_factor; n];
            if let Some(ps) = &pre_scale {
                for (x, s) in w.iter_mut().zip(ps) {
                    *x *= s;
                }
            }
            if let Some(ps) = &post_scale {
                for (x, s) in w.iter_mut().zip(ps) {
                    *x *= s;
                }
            }
            let kind = match pre_pool.take() {
                Some(geom) => ProjKind::Pool(geom),
                None => ProjKind::OneToOne,
            };
            Ok(RealProj {
                path: path_names,
                source,
                src_shape,
                delayed,
                pre_pool: None,
                kind,
                w,
                bias: None,
                out_shape: cur_shape,
            })
        }
        Some(wn) => {
            let node = &g.g[wn];
            match &node.op {
                Op::Affine { weight, .. } | Op::Linear { weight } => {
                    let (rows, cols) = (weight.shape[0], weight.shape[1]);
                    let mut w: Vec<f64> = weight.data.iter().map(|v| v * pool_factor).collect();
                    if let Some(ps) = &pre_scale {
                        for r in 0..rows {
                            for c in 0..cols {
                                w[r * cols + c] *= ps[c];
                            }
                        }
                    }
                    let mut bias = match &node.op {
                        Op::Affine { bias, .. } => Some(bias.data.clone()),
                        _ => None,
                    };
                    if let Some(ps) = &post_scale {
                        for r in 0..rows {
                            for c in 0..cols {
                                w[r * cols + c] *= ps[r];
                            }
                            if let Some(b) = bias.as_mut() {
                                b[r] *= ps[r];
                            }
                        }
                    }
                    Ok(RealProj {
                        path: path_names,
                        source,
                        src_shape,
                        delayed,
                        pre_pool,
                        kind: ProjKind::Dense { cols },
                        w,
                        bias,
                        out_shape: [rows, 1, 1],
                    })
                }
                Op::Conv { weight, bias, stride, padding, dilation, groups, .. } => {
                    if pre_scale.is_some() {
                        return Err(bad("a Scale before a convolution is not supported"));
                    }
                    let lin = &info.in_shape[wn.index()];
                    let lout = &info.out_shape[wn.index()];
                    let nd = weight.shape.len() - 2;
                    let (ci, ih, iw) = if nd == 1 { (lin[0], 1, lin[1]) } else { (lin[0], lin[1], lin[2]) };
                    if ci * ih * iw != cur_shape.iter().product::<usize>() {
                        return Err(bad("the convolution's input does not match its source"));
                    }
                    let out = chw(lout).ok_or_else(|| bad("conv output rank"))?;
                    let (kh, kw) = if nd == 1 { (1, weight.shape[2]) } else { (weight.shape[2], weight.shape[3]) };
                    let two = |v: &[usize], one: usize| if nd == 1 { [one, v[0]] } else { [v[0], v[1]] };
                    let st = two(stride, 1);
                    let dl = two(dilation, 1);
                    let pad = match padding {
                        Padding::Explicit(p) => two(p, 0),
                        Padding::Valid => [0, 0],
                        Padding::Same => [dl[0] * (kh - 1) / 2, dl[1] * (kw - 1) / 2],
                    };
                    if !st.iter().all(|&s| pow2(s)) {
                        return Err(perr(
                            &node.name,
                            format!("convolution stride {st:?} must be a power of two in hardware"),
                        ));
                    }
                    let co = weight.shape[0];
                    let per_ch = out[1] * out[2];
                    let mut w: Vec<f64> = weight.data.iter().map(|v| v * pool_factor).collect();
                    let mut b: Option<Vec<f64>> =
                        bias.as_ref().map(|b| (0..co * per_ch).map(|i| b.data[i / per_ch]).collect());
                    if let Some(ps) = &post_scale {
                        // Per output element; must be uniform per channel to fold into weights.
                        let per = w.len() / co;
                        for c in 0..co {
                            let s0 = ps[c * per_ch];
                            if ps[c * per_ch..(c + 1) * per_ch].iter().any(|&s| s != s0) {
                                return Err(bad("a Scale after a convolution must be uniform per channel"));
                            }
                            for x in &mut w[c * per..(c + 1) * per] {
                                *x *= s0;
                            }
                            if let Some(bb) = b.as_mut() {
                                for x in &mut bb[c * per_ch..(c + 1) * per_ch] {
                                    *x *= s0;
                                }
                            }
                        }
                    }
                    Ok(RealProj {
                        path: path_names,
                        source,
                        src_shape,
                        delayed,
                        pre_pool,
                        kind: ProjKind::Conv { ci, ih, iw, kh, kw, stride: st, pad, dil: dl, groups: *groups },
                        w,
                        bias: b,
                        out_shape: out,
                    })
                }
                _ => unreachable!("weighted ops matched above"),
            }
        }
    }
}

/// Row scale of each target neuron of a projection and whether every row is +-a.
struct RowScales {
    /// Per target neuron.
    scale: Vec<f64>,
    binary: bool,
}

fn row_tensor(w: &[f64], rows: usize) -> Tensor {
    Tensor::f64(vec![rows, w.len() / rows], w.to_vec())
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
            let t = row_tensor(&p.w, rows);
            let (per_row, binary) = match classify_weights(&t) {
                WeightKind::Binary { scales } if scales.iter().all(|&a| a > 0.0) => (scales, true),
                _ => {
                    let s = t
                        .data
                        .chunks(t.data.len() / rows)
                        .map(|r| r.iter().fold(0.0f64, |m, v| m.max(v.abs())) / codes)
                        .collect();
                    (s, false)
                }
            };
            let per_pos = n / rows;
            RowScales { scale: (0..n).map(|i| per_row[i / per_pos]).collect(), binary }
        }
        ProjKind::Pool(_) | ProjKind::OneToOne => {
            let binary = p.w.iter().all(|&v| v.abs() == p.w[0].abs() && v != 0.0);
            RowScales { scale: (0..n).map(|i| p.w[i % p.w.len()].abs()).collect(), binary }
        }
    }
}

fn signed_bits(max_abs: i64) -> u32 {
    (64 - (max_abs.unsigned_abs()).leading_zeros()) + 1
}

fn uniform<T: PartialEq + Clone>(v: Vec<T>) -> Vec<T> {
    if v.windows(2).all(|w| w[0] == w[1]) && !v.is_empty() { vec![v[0].clone()] } else { v }
}

fn leak_of(name: &str, beta: &[f64], p: u32) -> Result<Leak, PlanError> {
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

#[allow(clippy::too_many_arguments, clippy::too_many_lines)]
fn quantise_layer(
    m: &Model,
    o: &PlanOptions,
    name: &str,
    lx: NodeIndex,
    is_current: bool,
    real: Vec<RealProj>,
    input: &InputPlan,
    reset: ResetMode,
) -> Result<Layer, PlanError> {
    let g = &m.graph;
    let op = &g.g[lx].op;
    // Logical shape: the structured output of a Conv/Pool projection, else the node's shape.
    let node_shape =
        if is_current { m.info.in_shape[lx.index()].clone() } else { m.info.out_shape[lx.index()].clone() };
    let n: usize = node_shape.iter().product();
    let mut shape = chw(&node_shape).ok_or_else(|| perr(name, "layers of rank above 3 are not supported"))?;
    for p in &real {
        if matches!(p.kind, ProjKind::Conv { .. } | ProjKind::Pool(_)) {
            if p.out_shape.iter().product::<usize>() != n {
                return Err(perr(name, format!("projection from {} does not match the layer size", p.path[0])));
            }
            shape = p.out_shape;
        }
    }
    let mut group_size = shape[0];
    for p in &real {
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
    let kind = if is_current {
        NeuronKind::Current
    } else {
        match op {
            Op::LIF { .. } | Op::IF { .. } | Op::Threshold { .. } => NeuronKind::Lif,
            Op::LI { .. } | Op::I { .. } => NeuronKind::Li,
            Op::CubaLIF { .. } => NeuronKind::CubaLif,
            Op::CubaLI { .. } => NeuronKind::CubaLi,
            _ => unreachable!("layers are neuron or Threshold nodes"),
        }
    };
    let coeffs = if is_current {
        neuron::Coeffs {
            beta: vec![0.0; n],
            gain: vec![1.0; n],
            v_leak: vec![0.0; n],
            v_th: None,
            v_reset: vec![0.0; n],
            syn: None,
        }
    } else {
        neuron::coeffs(op, n, m.dialect()).expect("layer ops have coefficients")
    };
    if let Some(&gn) = coeffs.gain.iter().find(|&&x| !(x > 0.0 && x.is_finite())) {
        return Err(perr(name, format!("input gain r*dt/tau = {gn} must be positive")));
    }
    // Gain from the accumulated input to the state it accumulates into.
    let acc_gain: Vec<f64> = match &coeffs.syn {
        Some((_, gs)) => gs.clone(),
        None => coeffs.gain.clone(),
    };
    if let Some(&gn) = acc_gain.iter().find(|&&x| !(x > 0.0 && x.is_finite())) {
        return Err(perr(name, format!("synaptic gain w_in*dt/tau_syn = {gn} must be positive")));
    }
    let f = o.frac_bits;
    let two_f = (1u64 << f) as f64;
    let src_scale = |p: &RealProj| {
        if p.source == Source::Input { input.scale } else { 1.0 }
    };
    // Primary projection: the first with a weight matrix, else the first.
    let primary =
        real.iter().position(|p| matches!(p.kind, ProjKind::Dense { .. } | ProjKind::Conv { .. })).unwrap_or(0);
    let rs = row_scales(&real[primary], n, shape, o.weight_bits);
    let s0: Vec<f64> = rs.scale.iter().map(|&s| if s > 0.0 { s } else { 1.0 }).collect();
    // Unit of the accumulated state (X, or Y for current-based neurons), per neuron.
    let acc_unit: Vec<f64> = (0..n).map(|i| acc_gain[i] * s0[i] * src_scale(&real[primary]) / two_f).collect();
    // Unit of V: for current-based neurons v += gain * i, and i is in acc units.
    let unit: Vec<f64> = match &coeffs.syn {
        Some(_) => (0..n).map(|i| acc_unit[i] * coeffs.gain[i]).collect(),
        None => acc_unit.clone(),
    };
    let mut projections = vec![];
    let mut bias = vec![0.0; n];
    let mut bias_late = vec![0.0; n];
    for (k, p) in real.iter().enumerate() {
        let (weights, shift) = if k == primary {
            let vals: Vec<i64> = match &p.kind {
                ProjKind::Dense { cols } => (0..p.w.len()).map(|e| (p.w[e] / s0[e / cols]).round() as i64).collect(),
                ProjKind::Conv { .. } => {
                    let per = p.w.len() / shape[0];
                    let pos = shape[1] * shape[2];
                    (0..p.w.len()).map(|e| (p.w[e] / s0[(e / per) * pos]).round() as i64).collect()
                }
                _ => (0..n).map(|i| (p.w[i % p.w.len()] / s0[i]).round() as i64).collect(),
            };
            let bits = if rs.binary { 1 } else { o.weight_bits };
            (Weights { bits, values: uniform_if_elementwise(&p.kind, vals) }, f)
        } else {
            let ss = src_scale(p);
            let vals: Vec<i64> = match &p.kind {
                ProjKind::Dense { cols } => (0..p.w.len())
                    .map(|e| (acc_gain[e / cols] * p.w[e] * ss / acc_unit[e / cols]).round() as i64)
                    .collect(),
                ProjKind::Conv { .. } => {
                    let per = p.w.len() / shape[0];
                    let pos = shape[1] * shape[2];
                    (0..p.w.len())
                        .map(|e| {
                            let i = (e / per) * pos;
                            (acc_gain[i] * p.w[e] * ss / acc_unit[i]).round() as i64
                        })
                        .collect()
                }
                _ => (0..n).map(|i| (acc_gain[i] * p.w[i % p.w.len()] * ss / acc_unit[i]).round() as i64).collect(),
            };
            let maxw = vals.iter().map(|v| v.abs()).max().unwrap_or(0);
            let binary = vals.iter().all(|&v| v.abs() == 1);
            let bits = if binary { 1 } else { signed_bits(maxw).max(2) };
            (Weights { bits, values: uniform_if_elementwise(&p.kind, vals) }, 0)
        };
        if let Some(b) = &p.bias {
            let dst = if p.delayed { &mut bias_late } else { &mut bias };
            for i in 0..n {
                dst[i] += b[i];
            }
        }
        let target = if p.source == Source::Input && !input.per_step && !p.delayed {
            AccTarget::Static
        } else {
            AccTarget::Dynamic
        };
        let (pre_pool, kind) = (p.pre_pool.clone(), p.kind.clone());
        projections.push(Projection {
            path: p.path.clone(),
            source: p.source,
            src_shape: p.src_shape,
            delayed: p.delayed,
            target,
            pre_pool,
            kind,
            weights,
            shift,
            binary_source: p.source != Source::Input,
        });
    }
    let rnd = |x: f64| x.round() as i64;
    let cuba = coeffs.syn.is_some();
    // Norse starts v at v_leak: step 0 gets beta*v_leak more than the zero-start recurrence.
    let init: Vec<f64> = if m.dialect().switches.initial_v == InitialV::VLeak {
        (0..n).map(|i| coeffs.beta[i] * coeffs.v_leak[i]).collect()
    } else {
        vec![0.0; n]
    };
    let (c, cl, cs, csl): (Vec<i64>, Vec<i64>, Vec<i64>, Vec<i64>) = if cuba {
        (
            (0..n).map(|i| rnd(((1.0 - coeffs.beta[i]) * coeffs.v_leak[i] + init[i]) / unit[i])).collect(),
            (0..n).map(|i| rnd(-init[i] / unit[i])).collect(),
            (0..n).map(|i| rnd(acc_gain[i] * bias[i] / acc_unit[i])).collect(),
            (0..n).map(|i| rnd(acc_gain[i] * bias_late[i] / acc_unit[i])).collect(),
        )
    } else {
        (
            (0..n)
                .map(|i| rnd((acc_gain[i] * bias[i] + (1.0 - coeffs.beta[i]) * coeffs.v_leak[i] + init[i]) / unit[i]))
                .collect(),
            (0..n).map(|i| rnd((acc_gain[i] * bias_late[i] - init[i]) / unit[i])).collect(),
            vec![0],
            vec![0],
        )
    };
    let thr: Vec<i64> = match &coeffs.v_th {
        Some(th) => (0..n).map(|i| rnd(th[i] / unit[i])).collect(),
        None => vec![0],
    };
    let vreset: Vec<i64> = if reset == ResetMode::Zero && kind.spiking() {
        (0..n).map(|i| rnd(coeffs.v_reset[i] / unit[i])).collect()
    } else {
        vec![0]
    };
    let leak = leak_of(name, &coeffs.beta, o.leak_bits)?;
    let syn_leak = match &coeffs.syn {
        Some((alpha, _)) => Some(leak_of(name, alpha, o.leak_bits)?),
        None => None,
    };
    // Lanes are a power of two so lane and row of a channel are a shift and a mask.
    let lanes = o.lanes.unwrap_or(o.target.mapping.default_lanes).max(1).min(group_size.next_power_of_two());
    let ncg = group_size.div_ceil(lanes);
    let rows = (shape[0] / group_size) * ncg * shape[1] * shape[2];
    Ok(Layer {
        name: name.to_string(),
        kind,
        shape,
        group_size,
        lanes,
        ncg,
        rows,
        leak,
        syn_leak,
        params: NeuronParams {
            thr: uniform(thr),
            bias: uniform(c),
            bias_late: uniform(cl),
            vreset: uniform(vreset),
            syn_bias: uniform(cs),
            syn_bias_late: uniform(csl),
        },
        unit: uniform(unit),
        v_bits: 0,
        s_bits: 0,
        y_bits: 0,
        saturate: false,
        v_bound: 0,
        projections,
        has_consumers: false,
    })
}

/// Element-wise weights collapse to one value when uniform; matrices stay as they are.
fn uniform_if_elementwise(kind: &ProjKind, v: Vec<i64>) -> Vec<i64> {
    match kind {
        ProjKind::Pool(_) | ProjKind::OneToOne => uniform(v),
        _ => v,
    }
}
