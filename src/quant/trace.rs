//! Tracing a validated model into layers and projections with real weights: the part of
//! quantisation every target family shares.
//!
//! Layers are the neuron nodes (and Threshold nodes); everything between two layers must be
//! a chain of linear ops that lowers to one projection: optional pooling of the source
//! spikes, then at most one weighted op (Affine/Linear/Conv), with Scale nodes folded into
//! it and Flatten nodes as index identities. Several paths into a layer become several
//! projections. Anything else is refused with the path that could not be lowered.

use std::collections::HashMap;

use petgraph::graph::NodeIndex;

use super::network::{AccTarget, PoolGeom, ProjKind, Projection, Source, Weights};
use super::{QuantError, perr};
use crate::ir::{Op, Padding, Tensor};
use crate::model::Model;

/// A layer with its incoming projections, before quantisation.
#[derive(Clone, Debug, PartialEq)]
pub struct RealLayer {
    /// The neuron node (or, for a current readout, the Output node).
    pub node: NodeIndex,
    /// Layer name: the node's, or `<output>.current` for a current readout.
    pub name: String,
    /// A current readout: the weighted sum read out directly, no neuron.
    pub current: bool,
    /// Incoming projections, in the order the accumulate phases run.
    pub projections: Vec<RealProj>,
}

/// A model traced into layers (in evaluation order; a current readout last).
#[derive(Clone, Debug, PartialEq)]
pub struct RealNet {
    /// The Input node.
    pub input: NodeIndex,
    /// Its (C, H, W).
    pub input_shape: [usize; 3],
    /// The Output node.
    pub output: NodeIndex,
    /// The layer whose spikes or values are the output.
    pub output_layer: usize,
    /// Layers.
    pub layers: Vec<RealLayer>,
}

/// Traces `m` (its Output `output`, or the only one).
pub fn trace(m: &Model, output: Option<&str>) -> Result<RealNet, QuantError> {
    let mut layers = vec![];
    let h = trace_each(m, output, |_, l| {
        layers.push(l);
        Ok(())
    })?;
    Ok(RealNet { input: h.input, input_shape: h.input_shape, output: h.output, output_layer: h.output_layer, layers })
}

/// A traced model without its layers.
#[derive(Clone, Debug, PartialEq)]
pub struct RealHead {
    /// The Input node.
    pub input: NodeIndex,
    /// Its (C, H, W).
    pub input_shape: [usize; 3],
    /// The Output node.
    pub output: NodeIndex,
    /// The layer whose spikes or values are the output.
    pub output_layer: usize,
    /// Number of layers.
    pub layers: usize,
}

/// Traces `m` layer by layer, giving each layer to `f` as soon as it is traced, so that only
/// one layer's real weights are held at a time.
pub fn trace_each(
    m: &Model,
    output: Option<&str>,
    mut f: impl FnMut(&RealHead, RealLayer) -> Result<(), QuantError>,
) -> Result<RealHead, QuantError> {
    let g = &m.graph;
    let info = &m.info;
    let input_ix = g.the_input().map_err(|e| QuantError { node: None, message: e.to_string() })?;
    let in_name = g.g[input_ix].name.clone();
    let input_shape = chw(&info.out_shape[input_ix.index()])
        .ok_or_else(|| perr(&in_name, "inputs of rank above 3 are not supported"))?;
    let out_ix = g.select_output(output).map_err(|e| QuantError { node: None, message: e.to_string() })?;
    let out_name = g.g[out_ix].name.clone();
    let feeders = g.in_edges(out_ix);
    let current_readout = !(feeders.len() == 1 && is_layer(&g.g[feeders[0].1].op));
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
    let output_layer = if current_readout { layer_nodes.len() - 1 } else { layer_of[&feeders[0].1] };
    let head = RealHead { input: input_ix, input_shape, output: out_ix, output_layer, layers: layer_nodes.len() };
    for &lx in &layer_nodes {
        let current = lx == out_ix;
        let name = if current { format!("{out_name}.current") } else { g.g[lx].name.clone() };
        let mut projections = vec![];
        for p in trace_paths(m, lx)? {
            projections.push(classify_path(m, p, &layer_of, &name, input_ix, input_shape)?);
        }
        if projections.is_empty() {
            return Err(perr(&name, "receives no input"));
        }
        f(&head, RealLayer { node: lx, name, current, projections })?;
    }
    Ok(head)
}

/// (C, H, W) of a logical shape.
pub fn chw(shape: &[usize]) -> Option<[usize; 3]> {
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

/// A path into a layer, classified, with real-valued weights.
#[derive(Clone, Debug, PartialEq)]
pub struct RealProj {
    /// Graph nodes on the path, source first.
    pub path: Vec<String>,
    /// Event source.
    pub source: Source,
    /// The source's (C, H, W).
    pub src_shape: [usize; 3],
    /// Reads the source's previous-step events.
    pub delayed: bool,
    /// Pooling of the source events before the weights.
    pub pre_pool: Option<PoolGeom>,
    /// Mapping.
    pub kind: ProjKind,
    /// Dense `out*cols`, Conv `co*ci_g*kh*kw`, Pool/OneToOne one per target neuron (read
    /// flat; the graph's own tensor when the path does not rescale it).
    pub w: Tensor,
    /// Real bias per target neuron (all neurons of the layer).
    pub bias: Option<Vec<f64>>,
    /// Output shape of the projection (C, H, W).
    pub out_shape: [usize; 3],
}

impl RealProj {
    /// This path as a quantised projection into `target` with integer `weights` and `shift`;
    /// events from layers are spikes.
    pub(super) fn projection(&self, target: AccTarget, weights: Weights, shift: u32) -> Projection {
        Projection {
            path: self.path.clone(),
            source: self.source,
            src_shape: self.src_shape,
            delayed: self.delayed,
            target,
            pre_pool: self.pre_pool.clone(),
            kind: self.kind.clone(),
            weights,
            shift,
            binary_source: self.source != Source::Input,
        }
    }
}

/// True for the ops that become layers: neurons and Threshold nodes.
pub fn is_layer(op: &Op) -> bool {
    op.is_neuron() || matches!(op, Op::Threshold { .. })
}

/// True for the ops a path between layers may hold.
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

/// True for the strides hardware takes (powers of two).
fn pow2(v: usize) -> bool {
    v.is_power_of_two()
}

/// Every path of linear ops from a source (Input or layer) into `layer`.
fn trace_paths(m: &Model, layer: NodeIndex) -> Result<Vec<Path>, QuantError> {
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

/// `source -> op (Type) -> ... -> layer`, for messages.
fn describe(m: &Model, p: &Path, layer: &str) -> String {
    let g = &m.graph;
    let mut v = vec![g.g[p.source].name.clone()];
    v.extend(p.ops.iter().map(|&n| format!("{} ({})", g.g[n].name, g.g[n].op.type_name())));
    v.push(layer.to_string());
    v.join(" -> ")
}

/// The geometry of a pooling node `name` over (C, H, W) output `out`; strides must be powers of two.
fn pool_geom(
    name: &str,
    kernel: &[usize],
    stride: &[usize],
    padding: &[usize],
    out: &[usize],
) -> Result<PoolGeom, QuantError> {
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

/// A path's error: the layer, the path, what is wrong.
type Bad<'a> = &'a dyn Fn(&str) -> QuantError;

/// The ops between a path's source and its layer, read as one projection: optional pooling of
/// the source events, Scales, at most one weighted op, Scales.
struct Chain {
    /// Leading pooling of the source events.
    pre_pool: Option<PoolGeom>,
    /// 1 / kernel area for average pooling, else 1.
    pool_factor: f64,
    /// (C, H, W) after the pooling: the weighted op's input.
    cur_shape: [usize; 3],
    /// Scales before the weighted op, per element of `cur_shape`.
    pre_scale: Option<Vec<f64>>,
    /// The Affine, Linear or Conv node, if any.
    weighted: Option<NodeIndex>,
    /// Scales after it, per output element.
    post_scale: Option<Vec<f64>>,
}

/// What a chain lowers to: the projection's mapping, real weights, bias and output shape.
struct Lowered {
    pre_pool: Option<PoolGeom>,
    kind: ProjKind,
    w: Tensor,
    bias: Option<Vec<f64>>,
    out_shape: [usize; 3],
}

/// Path `p` into layer `lname` as a projection with real weights, or why it does not lower to one.
fn classify_path(
    m: &Model,
    p: Path,
    layer_of: &HashMap<NodeIndex, usize>,
    lname: &str,
    input_ix: NodeIndex,
    in_shape: [usize; 3],
) -> Result<RealProj, QuantError> {
    let g = &m.graph;
    let desc = describe(m, &p, lname);
    let bad = |msg: &str| QuantError { node: Some(lname.to_string()), message: format!("path {desc}: {msg}") };
    if p.delayed > 1 {
        return Err(bad("more than one recurrent edge on one path (a delay of several steps) is not supported"));
    }
    let (source, src_shape) = path_source(m, &p, layer_of, input_ix, in_shape, &bad)?;
    let chain = read_chain(m, &p, src_shape, &bad)?;
    let lowered = match chain.weighted.map(|wn| (wn, &g.g[wn].op)) {
        None => elementwise(chain),
        Some((_, Op::Affine { weight, bias })) => dense(chain, weight, Some(bias)),
        Some((_, Op::Linear { weight })) => dense(chain, weight, None),
        Some((wn, Op::Conv { .. })) => conv(m, wn, chain, &bad)?,
        Some(_) => unreachable!("weighted ops are Affine, Linear or Conv"),
    };
    Ok(RealProj {
        path: std::iter::once(p.source).chain(p.ops.iter().copied()).map(|n| g.g[n].name.clone()).collect(),
        source,
        src_shape,
        delayed: p.delayed == 1,
        pre_pool: lowered.pre_pool,
        kind: lowered.kind,
        w: lowered.w,
        bias: lowered.bias,
        out_shape: lowered.out_shape,
    })
}

/// The event source of `p` and its (C, H, W): the input, or a spiking layer.
fn path_source(
    m: &Model,
    p: &Path,
    layer_of: &HashMap<NodeIndex, usize>,
    input_ix: NodeIndex,
    in_shape: [usize; 3],
    bad: Bad,
) -> Result<(Source, [usize; 3]), QuantError> {
    if p.source == input_ix {
        return Ok((Source::Input, in_shape));
    }
    if !m.graph.g[p.source].op.emits_spikes() {
        return Err(bad("the source layer is not spiking; hardware passes only spikes between layers"));
    }
    let s = chw(&m.info.out_shape[p.source.index()]).ok_or_else(|| bad("source of rank above 3"))?;
    Ok((Source::Layer(layer_of[&p.source]), s))
}

/// The ops of `p` (Flatten and Output aside) read as a [`Chain`], or why they are not one.
fn read_chain(m: &Model, p: &Path, src_shape: [usize; 3], bad: Bad) -> Result<Chain, QuantError> {
    let g = &m.graph;
    let ops: Vec<NodeIndex> =
        p.ops.iter().copied().filter(|&n| !matches!(g.g[n].op, Op::Flatten { .. } | Op::Output)).collect();
    let mut chain = Chain {
        pre_pool: None,
        pool_factor: 1.0,
        cur_shape: src_shape,
        pre_scale: None,
        weighted: None,
        post_scale: None,
    };
    let mut k = 0;
    if let Some(&n) = ops.first()
        && let Op::SumPool2d { kernel, stride, padding } | Op::AvgPool2d { kernel, stride, padding } = &g.g[n].op
    {
        let out = chw(&m.info.out_shape[n.index()]).ok_or_else(|| bad("pool output rank"))?;
        if m.info.in_shape[n.index()].len() != 3 {
            return Err(bad("pooling needs a (C, H, W) source"));
        }
        chain.pre_pool = Some(pool_geom(&g.g[n].name, kernel, stride, padding, &m.info.out_shape[n.index()])?);
        if matches!(g.g[n].op, Op::AvgPool2d { .. }) {
            chain.pool_factor = 1.0 / (kernel[0] * kernel[1]) as f64;
        }
        chain.cur_shape = out;
        k = 1;
    }
    let n_in: usize = chain.cur_shape.iter().product();
    chain.pre_scale = fold_scales(m, &ops, &mut k, |_| n_in);
    if k < ops.len() && matches!(g.g[ops[k]].op, Op::Affine { .. } | Op::Linear { .. } | Op::Conv { .. }) {
        chain.weighted = Some(ops[k]);
        k += 1;
    }
    chain.post_scale = fold_scales(m, &ops, &mut k, |n| m.info.out_numel(n));
    if k < ops.len() {
        let names: Vec<_> = ops.iter().map(|&n| g.g[n].op.type_name()).collect();
        return Err(bad(&format!(
            "the op sequence [{}] does not lower to one projection (supported: optional pooling of the \
             source, Scale, at most one Affine/Linear/Conv, Scale, with Flatten anywhere)",
            names.join(", ")
        )));
    }
    Ok(chain)
}

/// The product of the consecutive Scale ops from `ops[*k]` on, per element (`len` of the first
/// one's elements); `k` moves past them. `None` when `ops[*k]` is not a Scale.
fn fold_scales(m: &Model, ops: &[NodeIndex], k: &mut usize, len: impl Fn(NodeIndex) -> usize) -> Option<Vec<f64>> {
    let mut out: Option<Vec<f64>> = None;
    while let Some(&n) = ops.get(*k)
        && let Op::Scale { scale } = &m.graph.g[n].op
    {
        let v = out.get_or_insert_with(|| vec![1.0; len(n)]);
        for (i, x) in v.iter_mut().enumerate() {
            *x *= scale.at(i);
        }
        *k += 1;
    }
    out
}

/// A chain without weighted op: pooling straight into the neurons, or one-to-one; one weight per
/// target neuron.
fn elementwise(c: Chain) -> Lowered {
    let n: usize = c.cur_shape.iter().product();
    let mut w = vec![c.pool_factor; n];
    for s in [&c.pre_scale, &c.post_scale].into_iter().flatten() {
        for (x, s) in w.iter_mut().zip(s) {
            *x *= s;
        }
    }
    let kind = match c.pre_pool {
        Some(geom) => ProjKind::Pool(geom),
        None => ProjKind::OneToOne,
    };
    Lowered { pre_pool: None, kind, w: Tensor::f64(vec![n], w), bias: None, out_shape: c.cur_shape }
}

/// An Affine or Linear `weight` (out, in) with the chain's pooling factor and Scales folded into
/// its columns (before) and rows and bias (after); the graph's own tensor when nothing scales it.
fn dense(chain: Chain, weight: &Tensor, bias: Option<&Tensor>) -> Lowered {
    let (rows, cols) = (weight.shape[0], weight.shape[1]);
    let unscaled = chain.pool_factor == 1.0 && chain.pre_scale.is_none() && chain.post_scale.is_none();
    let mut w: Vec<f64> = if unscaled { vec![] } else { weight.iter().map(|v| v * chain.pool_factor).collect() };
    if let Some(ps) = &chain.pre_scale {
        for r in 0..rows {
            for c in 0..cols {
                w[r * cols + c] *= ps[c];
            }
        }
    }
    let mut bias = bias.map(Tensor::to_vec);
    if let Some(ps) = &chain.post_scale {
        for r in 0..rows {
            for c in 0..cols {
                w[r * cols + c] *= ps[r];
            }
            if let Some(b) = bias.as_mut() {
                b[r] *= ps[r];
            }
        }
    }
    Lowered {
        pre_pool: chain.pre_pool,
        kind: ProjKind::Dense { cols },
        w: if unscaled { weight.clone() } else { Tensor::f64(vec![rows * cols], w) },
        bias,
        out_shape: [rows, 1, 1],
    }
}

/// The convolution node `wn` from a source of `c.cur_shape`, 1-d as 2-d with height 1, with the
/// chain's pooling factor and a post-Scale (uniform per channel) folded into its kernels and bias.
fn conv(m: &Model, wn: NodeIndex, c: Chain, bad: Bad) -> Result<Lowered, QuantError> {
    let node = &m.graph.g[wn];
    let Op::Conv { weight, bias, .. } = &node.op else { unreachable!("a Conv node") };
    if c.pre_scale.is_some() {
        return Err(bad("a Scale before a convolution is not supported"));
    }
    let (kind, out) = conv_geometry(m, wn, c.cur_shape, bad)?;
    let co = weight.shape[0];
    let per_ch = out[1] * out[2];
    let unscaled = c.pool_factor == 1.0 && c.post_scale.is_none();
    let mut w: Vec<f64> = if unscaled { vec![] } else { weight.iter().map(|v| v * c.pool_factor).collect() };
    let mut b: Option<Vec<f64>> = bias.as_ref().map(|b| (0..co * per_ch).map(|i| b.at(i / per_ch)).collect());
    if let Some(ps) = &c.post_scale {
        // Per output element; must be uniform per channel to fold into weights.
        let per = w.len() / co;
        for ch in 0..co {
            let s0 = ps[ch * per_ch];
            if ps[ch * per_ch..(ch + 1) * per_ch].iter().any(|&s| s != s0) {
                return Err(bad("a Scale after a convolution must be uniform per channel"));
            }
            for x in &mut w[ch * per..(ch + 1) * per] {
                *x *= s0;
            }
            if let Some(bb) = b.as_mut() {
                for x in &mut bb[ch * per_ch..(ch + 1) * per_ch] {
                    *x *= s0;
                }
            }
        }
    }
    Ok(Lowered {
        pre_pool: c.pre_pool,
        kind,
        w: if unscaled { weight.clone() } else { Tensor::f64(vec![w.len()], w) },
        bias: b,
        out_shape: out,
    })
}

/// The mapping of convolution node `wn` over an input of `cur_shape`, and its (C, H, W) output.
fn conv_geometry(
    m: &Model,
    wn: NodeIndex,
    cur_shape: [usize; 3],
    bad: Bad,
) -> Result<(ProjKind, [usize; 3]), QuantError> {
    let node = &m.graph.g[wn];
    let Op::Conv { weight, stride, padding, dilation, groups, .. } = &node.op else { unreachable!("a Conv node") };
    let lin = &m.info.in_shape[wn.index()];
    let nd = weight.shape.len() - 2;
    let (ci, ih, iw) = if nd == 1 { (lin[0], 1, lin[1]) } else { (lin[0], lin[1], lin[2]) };
    if ci * ih * iw != cur_shape.iter().product::<usize>() {
        return Err(bad("the convolution's input does not match its source"));
    }
    let out = chw(&m.info.out_shape[wn.index()]).ok_or_else(|| bad("conv output rank"))?;
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
        return Err(perr(&node.name, format!("convolution stride {st:?} must be a power of two in hardware")));
    }
    Ok((ProjKind::Conv { ci, ih, iw, kh, kw, stride: st, pad, dil: dl, groups: *groups }, out))
}
