//! The reference engine: the imported model in floating point, as the training framework
//! computes it. The semantics follow docs/conventions.md ("Semantics the golden files
//! follow"); the neuron equations are those of docs/semantics.md.
//!
//! What is computed: per sample and step, nodes run in [`GraphInfo::order`]; a node's input
//! is the sum of its in-edges in file order, from zero (a recurrent edge reads the source's
//! previous-step output, zero at the first step); each op then computes its output
//! ([`Program::step`]): affine and linear maps, element-wise scales, convolutions and
//! pooling, delays (`y[t] = x[t - d]`, zero before), thresholds and the neuron updates
//! (synaptic current, leak, fire, reset). Arithmetic is f32 (or f64 on request) with
//! parameters converted once; biases are added after the weighted sum, as PyTorch does.
//!
//! How it is computed: samples run in chunks of up to [`CHUNK`] (fewer for large networks,
//! see [`chunk_size`]), chunks in parallel (rayon). Within a chunk a dense layer is one
//! matrix product over the chunk's samples ([`product()`]) and a convolution one of the kernels
//! of [`conv`]; element-wise loops run with AVX2 and FMA where the CPU has them. Every value
//! of a sample depends only on that sample: each output element is one dot product whose
//! summation order is fixed by the layer's shape and the sample's own activity, never by the
//! chunk or the thread count.

use petgraph::graph::NodeIndex;
use rayon::prelude::*;

use crate::data::{InputBatch, Outputs};
use crate::ir::dialect::InitialV;
use crate::ir::{Dialect, Graph, Op, Padding, ResetMode, Tensor};
use crate::valid::GraphInfo;

mod conv;
mod product;

pub use conv::EVENT_FRACTION;
pub use product::Real;

use conv::{ConvK, Scratch, conv_step, tile_kernels};
use product::{fma_kernels, product};

/// A simulation setup error (bad request, not bad arithmetic).
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// Input or output selection.
    #[error(transparent)]
    Select(#[from] crate::ir::SelectError),
    /// Batch does not fit.
    #[error("the inputs have {got} elements per step but Input '{node}' takes {want}")]
    InputSize {
        /// Input node.
        node: String,
        /// Expected.
        want: usize,
        /// Found.
        got: usize,
    },
    /// dt needed but unset.
    #[error("dt is required to simulate node '{0}'")]
    NoDt(String),
    /// The run would need more memory than the limit.
    #[error(transparent)]
    Limit(#[from] crate::limits::LimitError),
}

/// Most samples run together through each matrix product.
pub const CHUNK: usize = 256;

/// Values (per node output and step buffers) a chunk aims to keep at once, at least.
const CHUNK_VALUES: usize = 1 << 24;

/// Values all threads' chunks may keep at once (2 GB of f32): with few threads a chunk may
/// exceed [`CHUNK_VALUES`] up to its share, so that 0/1 convolutions gather over more samples
/// per weight read (resnet18 at 50%, one thread: 1.88 s at 2^24 values, 1.60 s at 2^26).
const TOTAL_VALUES: usize = 1 << 29;

/// Values per step a chunk's buffers aim to keep within (about an L2 cache: every node's
/// element-wise pass streams them), unless a large dense layer wants more samples.
const CACHE_VALUES: usize = 1 << 20;

/// Fewest samples a cache-sized chunk has (matrix products need some width).
const CACHE_CHUNK_MIN: usize = 16;

/// Dense layers with at least this many weights want chunks of up to [`CHUNK`] samples, so
/// that each weight loaded serves many samples.
const DENSE_WEIGHTS: usize = 1 << 16;

/// Samples per chunk for `n` samples: up to [`CHUNK`], fewer when the network's per-sample
/// buffers would exceed the thread's share of `TOTAL_VALUES` (within 1x-4x `CHUNK_VALUES`),
/// as few as keep them within `CACHE_VALUES` (at least `CACHE_CHUNK_MIN`) unless a dense
/// layer has `DENSE_WEIGHTS` weights, and no more than leave every thread a chunk.
pub fn chunk_size(info: &GraphInfo, g: &Graph, n: usize) -> usize {
    let per: usize = g.g.node_indices().map(|i| 2 * info.out_numel(i) + 3 * info.in_numel(i)).sum::<usize>().max(1);
    let threads = rayon::current_num_threads().max(1);
    let most = ((TOTAL_VALUES / threads).clamp(CHUNK_VALUES, CHUNK_VALUES << 2) / per).clamp(1, CHUNK);
    let dense = g.g.node_indices().any(|i| {
        matches!(g.g[i].op, Op::Affine { .. } | Op::Linear { .. })
            && info.in_numel(i) * info.out_numel(i) >= DENSE_WEIGHTS
    });
    let b = if dense { most } else { most.min((CACHE_VALUES / per).max(CACHE_CHUNK_MIN)) };
    b.min(n.div_ceil(threads)).max(1)
}

/// Values per step that a run keeps for the whole inference: the inputs of Delay nodes.
pub fn history_numel(g: &Graph, info: &GraphInfo) -> usize {
    g.g.node_indices().filter(|&i| matches!(g.g[i].op, Op::Delay { .. })).map(|i| info.out_numel(i)).sum()
}

/// What to run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Steps per sample.
    pub steps: usize,
    /// Compute in f64 instead of f32.
    pub f64: bool,
    /// The Output node whose values are returned.
    pub output: NodeIndex,
}

/// Per-node activity totals over the batch.
#[derive(Clone, Debug, Default)]
pub struct Activity {
    /// Non-zero output elements, summed over samples and steps, by node index.
    pub nonzero: Vec<u64>,
    /// Output elements per step, by node index.
    pub numel: Vec<usize>,
}

/// Result of a batch run.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// The selected Output's values.
    pub outputs: Outputs,
    /// Activity per node.
    pub activity: Activity,
}

/// Hook called with every node's input and output at every step of every sample.
pub trait StepHook: Sync {
    /// `input` is the summed input (empty for Input nodes), `output` the node's output.
    fn on_step(&self, sample: usize, t: usize, node: NodeIndex, input: &[f64], output: &[f64]);

    /// Called for neuron nodes after `on_step` with the membrane potential before the reset
    /// (what snnTorch keeps in `mem` between steps) at the previous step and at this one.
    fn on_membrane(&self, _sample: usize, _t: usize, _node: NodeIndex, _before: &[f64], _after: &[f64]) {}
}

/// Runs a batch.
pub fn run(
    g: &Graph,
    info: &GraphInfo,
    dialect: &Dialect,
    batch: &InputBatch,
    opts: &RunOptions,
    hook: Option<&dyn StepHook>,
) -> Result<RunResult, SimError> {
    if opts.f64 {
        run_t::<f64>(g, info, dialect, batch, opts, hook)
    } else {
        run_t::<f32>(g, info, dialect, batch, opts, hook)
    }
}

fn run_t<T: Real>(
    g: &Graph,
    info: &GraphInfo,
    dialect: &Dialect,
    batch: &InputBatch,
    opts: &RunOptions,
    hook: Option<&dyn StepHook>,
) -> Result<RunResult, SimError> {
    let input = g.the_input()?;
    let want = info.out_numel(input);
    if batch.numel != want {
        return Err(SimError::InputSize { node: g.g[input].name.clone(), want, got: batch.numel });
    }
    let out_ix = opts.output;
    let out_numel = info.out_numel(out_ix);
    crate::limits::check_run(batch.n, opts.steps, out_numel, history_numel(g, info))?;
    let prog = Program::<T>::build(g, info, dialect)?;
    // Chunks of samples run in parallel; within a chunk, samples share each matrix product.
    // Every output element is one dot product whose order does not depend on the chunk.
    let b = chunk_size(info, g, batch.n);
    let starts: Vec<usize> = (0..batch.n).step_by(b).collect();
    let per_sample: Vec<(Vec<f64>, Vec<u64>)> = starts
        .into_par_iter()
        .map(|first| prog.chunk(batch, first, b.min(batch.n - first), opts.steps, out_ix, hook))
        .collect();
    let n_nodes = g.g.node_count();
    let mut activity = Activity {
        nonzero: vec![0; n_nodes],
        numel: (0..n_nodes).map(|k| info.out_numel(NodeIndex::new(k))).collect(),
    };
    let mut data = Vec::with_capacity(batch.n * opts.steps * out_numel);
    for (o, nz) in per_sample {
        data.extend(o);
        for (a, b) in activity.nonzero.iter_mut().zip(nz) {
            *a += b;
        }
    }
    let src = g.in_edges(out_ix);
    let spikes = !src.is_empty() && src.iter().all(|&(_, s)| g.g[s].op.emits_spikes());
    Ok(RunResult {
        outputs: Outputs {
            n: batch.n,
            steps: opts.steps,
            numel: out_numel,
            shape: info.out_shape[out_ix.index()].clone(),
            spikes,
            data,
        },
        activity,
    })
}

/// Per-element neuron parameters, broadcast and converted.
struct NeuronParams<T> {
    /// Membrane decay `beta = 1 - dt/tau` (1 for I/IF).
    beta: Vec<T>,
    /// Input gain `r dt / tau` (or `r dt`).
    gain: Vec<T>,
    v_leak: Vec<T>,
    /// `None` for non-spiking neurons (I, LI, CubaLI).
    v_th: Option<Vec<T>>,
    v_reset: Vec<T>,
    /// Synaptic current: (alpha, gain) for Cuba neurons.
    syn: Option<(Vec<T>, Vec<T>)>,
    /// May spike several times per step.
    multi: bool,
    /// Every `v_leak` is zero.
    no_leak_offset: bool,
    /// Membrane floor after the reset (Sinabs' `min_v_mem`).
    v_min: Option<Vec<T>>,
}

/// What a node computes per step ([`Program::step`]).
enum Kernel<T> {
    Input,
    Pass,
    Affine { w: Vec<T>, b: Option<Vec<T>>, rows: usize, cols: usize },
    Scale { s: Vec<T> },
    Conv(Box<ConvK<T>>),
    Pool(PoolK<T>),
    Delay { steps: Vec<usize> },
    Threshold { th: Vec<T> },
    Neuron(Box<NeuronParams<T>>),
}

/// A sum or average pooling: `c` planes of `ih x iw` to `oh x ow`, kernel `k`, stride `s`,
/// zero padding `p` (per axis: height, width); `avg` is 1/(kh*kw) for an average.
struct PoolK<T> {
    avg: Option<T>,
    c: usize,
    ih: usize,
    iw: usize,
    oh: usize,
    ow: usize,
    k: [usize; 2],
    s: [usize; 2],
    p: [usize; 2],
}

/// Sum or average pooling of every sample: each output sums its window's inputs inside the
/// plane in (ky, kx) order (padding adds nothing), then scales an average by 1/(kh*kw).
fn pool_step<T: Real>(pk: &PoolK<T>, x: &[T], y: &mut [T]) {
    let PoolK { avg, c, ih, iw, oh, ow, k, s, p } = pk;
    let (wi, wo) = (c * ih * iw, c * oh * ow);
    for (y, x) in y.chunks_exact_mut(wo).zip(x.chunks_exact(wi)) {
        for ch in 0..*c {
            for oy in 0..*oh {
                for ox in 0..*ow {
                    let mut acc = T::ZERO;
                    for ky in 0..k[0] {
                        let yy = (oy * s[0] + ky) as isize - p[0] as isize;
                        if yy < 0 || yy >= *ih as isize {
                            continue;
                        }
                        for kx in 0..k[1] {
                            let xx = (ox * s[1] + kx) as isize - p[1] as isize;
                            if xx < 0 || xx >= *iw as isize {
                                continue;
                            }
                            acc += x[(ch * ih + yy as usize) * iw + xx as usize];
                        }
                    }
                    y[(ch * oh + oy) * ow + ox] = match avg {
                        Some(a) => acc * *a,
                        None => acc,
                    };
                }
            }
        }
    }
}

struct Program<T> {
    order: Vec<NodeIndex>,
    kernels: Vec<Kernel<T>>,
    /// In-edges per node: (source index, recurrent).
    inputs: Vec<Vec<(usize, bool)>>,
    in_numel: Vec<usize>,
    out_numel: Vec<usize>,
    input_node: usize,
    reset: ResetMode,
    fire_on_equal: bool,
    v_from_leak: bool,
}

fn conv<T: Real>(t: &Tensor) -> Vec<T> {
    t.iter().map(T::of).collect()
}

fn bcast<T: Real>(t: &Tensor, n: usize) -> Vec<T> {
    (0..n).map(|i| T::of(t.at(i))).collect()
}

/// Per-element f64 values of a tensor broadcast to `n`.
fn bcast64(t: &Tensor, n: usize) -> Vec<f64> {
    (0..n).map(|i| t.at(i)).collect()
}

impl<T: Real> Program<T> {
    fn build(g: &Graph, info: &GraphInfo, d: &Dialect) -> Result<Self, SimError> {
        let n_nodes = g.g.node_count();
        let mut kernels = Vec::with_capacity(n_nodes);
        for ix in g.g.node_indices() {
            let node = &g.g[ix];
            let n = info.out_numel(ix);
            let need_dt = || d.dt.ok_or_else(|| SimError::NoDt(node.name.clone()));
            let k = match &node.op {
                Op::Input { .. } => Kernel::Input,
                Op::Output | Op::Flatten { .. } => Kernel::Pass,
                Op::Affine { weight, bias } => Kernel::Affine {
                    w: conv(weight),
                    b: Some(conv(bias)),
                    rows: weight.shape[0],
                    cols: weight.shape[1],
                },
                Op::Linear { weight } => {
                    Kernel::Affine { w: conv(weight), b: None, rows: weight.shape[0], cols: weight.shape[1] }
                }
                Op::Scale { scale } => Kernel::Scale { s: bcast(scale, n) },
                Op::Conv { weight, bias, stride, padding, dilation, groups, .. } => {
                    let ins = &info.in_shape[ix.index()];
                    let outs = &info.out_shape[ix.index()];
                    let nd = weight.shape.len() - 2;
                    let two = |v: &[usize], one: usize| if nd == 1 { [one, v[0]] } else { [v[0], v[1]] };
                    let (ih, iw) = if nd == 1 { (1, ins[1]) } else { (ins[1], ins[2]) };
                    let (oh, ow) = if nd == 1 { (1, outs[1]) } else { (outs[1], outs[2]) };
                    let k = if nd == 1 { [1, weight.shape[2]] } else { [weight.shape[2], weight.shape[3]] };
                    let s = two(stride, 1);
                    let dl = two(dilation, 1);
                    let pb = match padding {
                        Padding::Explicit(p) => two(p, 0),
                        Padding::Valid => [0, 0],
                        Padding::Same => [dl[0] * (k[0] - 1) / 2, dl[1] * (k[1] - 1) / 2],
                    };
                    let (co, ci_g) = (outs[0], weight.shape[1]);
                    let wt = tile_kernels(co, *groups, ci_g * k[0] * k[1], |i| T::of(weight.at(i)));
                    Kernel::Conv(Box::new(ConvK {
                        finite: wt.iter().all(|v| v.f64().is_finite()),
                        w: conv(weight),
                        wt,
                        b: bias.as_ref().map(conv),
                        groups: *groups,
                        ci: ins[0],
                        co: outs[0],
                        ih,
                        iw,
                        oh,
                        ow,
                        k,
                        s,
                        d: dl,
                        pb,
                    }))
                }
                Op::SumPool2d { kernel, stride, padding } | Op::AvgPool2d { kernel, stride, padding } => {
                    let ins = &info.in_shape[ix.index()];
                    let outs = &info.out_shape[ix.index()];
                    let avg =
                        matches!(node.op, Op::AvgPool2d { .. }).then(|| T::of(1.0 / (kernel[0] * kernel[1]) as f64));
                    Kernel::Pool(PoolK {
                        avg,
                        c: ins[0],
                        ih: ins[1],
                        iw: ins[2],
                        oh: outs[1],
                        ow: outs[2],
                        k: [kernel[0], kernel[1]],
                        s: [stride[0], stride[1]],
                        p: [padding[0], padding[1]],
                    })
                }
                Op::Delay { delay } => {
                    let dt = need_dt()?;
                    Kernel::Delay { steps: bcast64(delay, n).iter().map(|&v| (v / dt).round() as usize).collect() }
                }
                Op::Threshold { threshold } => Kernel::Threshold { th: bcast(threshold, n) },
                op => {
                    need_dt()?;
                    let mut p = neuron_params(op, n, d);
                    p.multi = d.multi_spike(g, ix);
                    Kernel::Neuron(Box::new(p))
                }
            };
            kernels.push(k);
        }
        let inputs =
            g.g.node_indices()
                .map(|ix| g.in_edges(ix).into_iter().map(|(e, s)| (s.index(), info.is_recurrent(e))).collect())
                .collect();
        let input_node = g.the_input()?.index();
        Ok(Program {
            order: info.order.clone(),
            kernels,
            inputs,
            in_numel: (0..n_nodes).map(|k| info.in_numel(NodeIndex::new(k))).collect(),
            out_numel: (0..n_nodes).map(|k| info.out_numel(NodeIndex::new(k))).collect(),
            input_node,
            reset: d.reset,
            fire_on_equal: d.fire_on_equal,
            v_from_leak: d.switches.initial_v == InitialV::VLeak,
        })
    }

    /// Runs samples `first..first + b` together: every node's values are `b` rows of its
    /// width, so weighted sums are one matrix product over the chunk. Returns each sample's
    /// selected output per step (sample-major) and non-zero counts per node.
    fn chunk(
        &self,
        batch: &InputBatch,
        first: usize,
        b: usize,
        steps: usize,
        out: NodeIndex,
        hook: Option<&dyn StepHook>,
    ) -> (Vec<f64>, Vec<u64>) {
        #[cfg(target_arch = "x86_64")]
        if fma_kernels() {
            // SAFETY: fma_kernels detected every feature the function is compiled for.
            return unsafe { self.chunk_avx2(batch, first, b, steps, out, hook) };
        }
        self.chunk_body(batch, first, b, steps, out, hook)
    }

    /// [`Program::chunk`] with 256-bit vectors for its element-wise loops: the same
    /// operations in the same order (Rust never fuses a multiply and an add unless asked,
    /// and `mul_add` is fused everywhere), so the same values.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn chunk_avx2(
        &self,
        batch: &InputBatch,
        first: usize,
        b: usize,
        steps: usize,
        out: NodeIndex,
        hook: Option<&dyn StepHook>,
    ) -> (Vec<f64>, Vec<u64>) {
        self.chunk_body(batch, first, b, steps, out, hook)
    }

    #[inline(always)]
    fn chunk_body(
        &self,
        batch: &InputBatch,
        first: usize,
        b: usize,
        steps: usize,
        out: NodeIndex,
        hook: Option<&dyn StepHook>,
    ) -> (Vec<f64>, Vec<u64>) {
        let n = self.kernels.len();
        let mut cur: Vec<Vec<T>> = self.out_numel.iter().map(|&k| vec![T::ZERO; b * k]).collect();
        let mut prev = cur.clone();
        let mut state: Vec<State<T>> =
            (0..n).map(|k| State::new(&self.kernels[k], b, self.in_numel[k], self.v_from_leak)).collect();
        let mut nz = vec![0u64; n];
        let on = self.out_numel[out.index()];
        let mut result = vec![0.0; b * steps * on];
        let mut buf: Vec<T> = vec![];
        let mut scratch = Scratch::default();
        for t in 0..steps {
            std::mem::swap(&mut cur, &mut prev);
            for &ix in &self.order {
                let k = ix.index();
                let width = self.in_numel[k];
                buf.clear();
                if k == self.input_node {
                    buf.resize(b * width, T::ZERO);
                    for (s, row) in buf.chunks_exact_mut(width).enumerate() {
                        for (v, &x) in row.iter_mut().zip(batch.at(first + s, t)) {
                            *v = T::of(x);
                        }
                    }
                } else if let Some((&(src, rec), rest)) = self.inputs[k].split_first() {
                    // Zero plus the first in-edge, then the others, in file order.
                    let v = if rec { &prev[src] } else { &cur[src] };
                    buf.extend(v.iter().map(|&y| T::ZERO + y));
                    for &(src, rec) in rest {
                        let v = if rec { &prev[src] } else { &cur[src] };
                        for (x, &y) in buf.iter_mut().zip(v) {
                            *x += y;
                        }
                    }
                } else {
                    buf.resize(b * width, T::ZERO);
                }
                debug_assert_eq!(buf.len(), b * width, "node {k}: in-edge widths are validated");
                let mut o = std::mem::take(&mut cur[k]);
                let v_before: Option<Vec<f64>> = match (&state[k], hook) {
                    (State::Neuron { v_pre, .. }, Some(_)) => Some(v_pre.iter().map(|x| x.f64()).collect()),
                    _ => None,
                };
                self.step(k, b, &buf, &mut o, &mut state[k], t, &mut scratch);
                nz[k] += o.iter().filter(|&&v| v != T::ZERO).count() as u64;
                if let Some(h) = hook {
                    let w_out = self.out_numel[k];
                    for s in 0..b {
                        let inp: Vec<f64> = if k == self.input_node {
                            vec![]
                        } else {
                            buf[s * width..(s + 1) * width].iter().map(|v| v.f64()).collect()
                        };
                        let outp: Vec<f64> = o[s * w_out..(s + 1) * w_out].iter().map(|v| v.f64()).collect();
                        h.on_step(first + s, t, ix, &inp, &outp);
                        if let (Some(before), State::Neuron { v_pre, .. }) = (&v_before, &state[k]) {
                            let after: Vec<f64> = v_pre[s * w_out..(s + 1) * w_out].iter().map(|x| x.f64()).collect();
                            h.on_membrane(first + s, t, ix, &before[s * w_out..(s + 1) * w_out], &after);
                        }
                    }
                }
                cur[k] = o;
            }
            for (s, row) in cur[out.index()].chunks_exact(on).enumerate() {
                let at = (s * steps + t) * on;
                for (r, v) in result[at..at + on].iter_mut().zip(row) {
                    *r = v.f64();
                }
            }
        }
        (result, nz)
    }

    /// One node's step over `b` samples: `x` is `b` rows of its input width, `y` `b` rows of
    /// its output width.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn step(&self, k: usize, b: usize, x: &[T], y: &mut [T], st: &mut State<T>, t: usize, scratch: &mut Scratch<T>) {
        match &self.kernels[k] {
            Kernel::Input | Kernel::Pass => y.copy_from_slice(x),
            Kernel::Affine { w, b: bias, rows, cols } => {
                // y (b x rows) = x (b x cols) . w^T; w is rows x cols, row-major.
                product(b, *cols, *rows, x, (*cols, 1), w, (1, *cols), y, *rows);
                if let Some(bias) = bias {
                    for row in y.chunks_exact_mut(*rows) {
                        for (o, &bv) in row.iter_mut().zip(bias) {
                            *o += bv;
                        }
                    }
                }
            }
            Kernel::Scale { s } => {
                for (yr, xr) in y.chunks_exact_mut(s.len()).zip(x.chunks_exact(s.len())) {
                    for ((o, &xv), &sv) in yr.iter_mut().zip(xr).zip(s) {
                        *o = sv * xv;
                    }
                }
            }
            Kernel::Conv(c) => conv_step(c, b, x, y, scratch),
            Kernel::Pool(pool) => pool_step(pool, x, y),
            Kernel::Delay { steps } => {
                let State::Delay(hist) = st else { unreachable!("state matches kernel") };
                hist.push(x.to_vec());
                let w = steps.len();
                for (e, o) in y.iter_mut().enumerate() {
                    let d = steps[e % w];
                    *o = if d > t { T::ZERO } else { hist[t - d][e] };
                }
            }
            Kernel::Threshold { th } => {
                for (yr, xr) in y.chunks_exact_mut(th.len()).zip(x.chunks_exact(th.len())) {
                    for ((o, &xv), &h) in yr.iter_mut().zip(xr).zip(th) {
                        *o = if self.fires(xv, h) { T::ONE } else { T::ZERO };
                    }
                }
            }
            Kernel::Neuron(p) => {
                let State::Neuron { v, i, s_prev, v_pre } = st else { unreachable!("state matches kernel") };
                let w = p.beta.len();
                if let (None, Some(th), false, true, None) = (&p.syn, &p.v_th, p.multi, p.no_leak_offset, &p.v_min) {
                    // The common case without branches (it vectorises): the same operations in
                    // the same order as `neuron_row`.
                    let (reset, eq) = (self.reset, self.fire_on_equal);
                    let rows = (x.chunks_exact(w), v.chunks_exact_mut(w), y.chunks_exact_mut(w));
                    let more = (s_prev.chunks_exact_mut(w), v_pre.chunks_exact_mut(w));
                    for (((x, v), y), (s_prev, v_pre)) in rows.0.zip(rows.1).zip(rows.2).zip(more.0.zip(more.1)) {
                        let r =
                            LifRow { beta: &p.beta, gain: &p.gain, th, v_reset: &p.v_reset, x, v, y, s_prev, v_pre };
                        match (reset, eq) {
                            (ResetMode::Zero, false) => lif_row::<T, 0, false>(r),
                            (ResetMode::Zero, true) => lif_row::<T, 0, true>(r),
                            (ResetMode::Subtract, false) => lif_row::<T, 1, false>(r),
                            (ResetMode::Subtract, true) => lif_row::<T, 1, true>(r),
                            (ResetMode::SubtractUndecayed, false) => lif_row::<T, 2, false>(r),
                            (ResetMode::SubtractUndecayed, true) => lif_row::<T, 2, true>(r),
                        }
                    }
                    return;
                }
                // Row by row (one sample each), so the parameter index is the column.
                for r in 0..y.len() / w.max(1) {
                    let e = r * w..(r + 1) * w;
                    let row = NeuronRow {
                        x: &x[e.clone()],
                        v: &mut v[e.clone()],
                        i: if p.syn.is_some() { &mut i[e.clone()] } else { &mut [] },
                        y: &mut y[e.clone()],
                        s_prev: &mut s_prev[e.clone()],
                        v_pre: &mut v_pre[e],
                    };
                    self.neuron_row(p, row);
                }
            }
        }
    }

    /// One sample's neuron update (docs/semantics.md): synaptic current (Cuba neurons), leak
    /// toward `v_leak`, input, then for spiking neurons the undecayed subtraction of the last
    /// step's spikes, the spike count (1, or trunc(v / thr) for multi-spike neurons) and the
    /// reset. Non-spiking neurons output their membrane.
    #[inline(always)]
    fn neuron_row(&self, p: &NeuronParams<T>, r: NeuronRow<T>) {
        let NeuronRow { x, v, i, y, s_prev, v_pre } = r;
        for j in 0..v.len() {
            let drive = match &p.syn {
                Some((alpha, gs)) => {
                    i[j] = alpha[j] * i[j] + gs[j] * x[j];
                    i[j]
                }
                None => x[j],
            };
            let leaked =
                if p.v_leak[j] == T::ZERO { p.beta[j] * v[j] } else { p.v_leak[j] + p.beta[j] * (v[j] - p.v_leak[j]) };
            let mut vt = leaked + p.gain[j] * drive;
            let Some(th) = &p.v_th else {
                v_pre[j] = vt;
                v[j] = floor(vt, p.v_min.as_deref(), j);
                y[j] = vt;
                continue;
            };
            if self.reset == ResetMode::SubtractUndecayed && s_prev[j] != T::ZERO {
                vt = vt - s_prev[j] * th[j];
            }
            v_pre[j] = vt;
            let s = self.fires(vt, th[j]);
            let count = match (s, p.multi) {
                (false, _) => T::ZERO,
                (true, false) => T::ONE,
                (true, true) => vt.div(th[j]).trunc().max_one(),
            };
            y[j] = count;
            let vhat = match self.reset {
                ResetMode::Zero if s => p.v_reset[j],
                ResetMode::Subtract if s => vt - count * th[j],
                _ => vt,
            };
            v[j] = floor(vhat, p.v_min.as_deref(), j);
            s_prev[j] = count;
        }
    }

    #[inline]
    fn fires(&self, v: T, th: T) -> bool {
        if self.fire_on_equal { v >= th } else { v > th }
    }
}

/// `v` raised to the floor `v_min[j]`, as Sinabs computes it: `relu(v - v_min) + v_min` (in
/// the engine's float type, so a value above the floor may round).
#[inline(always)]
fn floor<T: Real>(v: T, v_min: Option<&[T]>, j: usize) -> T {
    match v_min {
        Some(m) => {
            let d = v - m[j];
            (if d > T::ZERO { d } else { T::ZERO }) + m[j]
        }
        None => v,
    }
}

/// One sample's row of a neuron layer: its input, and its state and outputs
/// ([`Program::neuron_row`]); `i` is empty without synaptic current.
struct NeuronRow<'a, T> {
    x: &'a [T],
    v: &'a mut [T],
    i: &'a mut [T],
    y: &'a mut [T],
    s_prev: &'a mut [T],
    v_pre: &'a mut [T],
}

/// One sample's row of a single-spike neuron layer without synaptic current or leak offset.
struct LifRow<'a, T> {
    beta: &'a [T],
    gain: &'a [T],
    th: &'a [T],
    v_reset: &'a [T],
    x: &'a [T],
    v: &'a mut [T],
    y: &'a mut [T],
    s_prev: &'a mut [T],
    v_pre: &'a mut [T],
}

/// The neuron update of [`Program::step`] for a [`LifRow`] (`RESET`: 0 zero, 1 subtract,
/// 2 subtract-undecayed; `EQ`: fire on equal), as selects instead of branches.
#[inline(always)]
fn lif_row<T: Real, const RESET: u8, const EQ: bool>(r: LifRow<T>) {
    let n = r.v.len();
    let (beta, gain, th, vr, x) = (&r.beta[..n], &r.gain[..n], &r.th[..n], &r.v_reset[..n], &r.x[..n]);
    let (v, y, s_prev, v_pre) = (&mut r.v[..n], &mut r.y[..n], &mut r.s_prev[..n], &mut r.v_pre[..n]);
    // Every operand is loaded unconditionally so that the selects vectorise.
    for j in 0..n {
        let (b, g, h, r, xj, sp) = (beta[j], gain[j], th[j], vr[j], x[j], s_prev[j]);
        let mut vt = b * v[j] + g * xj;
        if RESET == 2 {
            let sub = vt - sp * h;
            vt = if sp != T::ZERO { sub } else { vt };
        }
        v_pre[j] = vt;
        let s = if EQ { vt >= h } else { vt > h };
        let count = if s { T::ONE } else { T::ZERO };
        y[j] = count;
        let sub = vt - T::ONE * h;
        v[j] = match RESET {
            0 => {
                if s {
                    r
                } else {
                    vt
                }
            }
            1 => {
                if s {
                    sub
                } else {
                    vt
                }
            }
            _ => vt,
        };
        s_prev[j] = count;
    }
}

enum State<T> {
    None,
    /// Inputs of every step so far, each `b` rows.
    Delay(Vec<Vec<T>>),
    /// Membrane, synaptic current, spikes of the previous step, membrane before the reset;
    /// each `b` rows of the node's width.
    Neuron {
        v: Vec<T>,
        i: Vec<T>,
        s_prev: Vec<T>,
        v_pre: Vec<T>,
    },
}

impl<T: Real> State<T> {
    fn new(k: &Kernel<T>, b: usize, n: usize, v_from_leak: bool) -> Self {
        match k {
            Kernel::Delay { .. } => State::Delay(vec![]),
            Kernel::Neuron(p) => State::Neuron {
                v: if v_from_leak { p.v_leak.repeat(b) } else { vec![T::ZERO; b * n] },
                i: if p.syn.is_some() { vec![T::ZERO; b * n] } else { vec![] },
                s_prev: vec![T::ZERO; b * n],
                v_pre: vec![T::ZERO; b * n],
            },
            _ => State::None,
        }
    }
}

/// Neuron coefficients computed in f64 ([`crate::ir::neuron::coeffs`]), rounded to T once.
fn neuron_params<T: Real>(op: &Op, n: usize, d: &Dialect) -> NeuronParams<T> {
    let c = crate::ir::neuron::coeffs(op, n, d).expect("neuron_params is called for neuron ops only");
    let to = |v: Vec<f64>| v.into_iter().map(T::of).collect::<Vec<T>>();
    let no_leak_offset = c.v_leak.iter().all(|&v| T::of(v) == T::ZERO);
    NeuronParams {
        beta: to(c.beta),
        gain: to(c.gain),
        v_leak: to(c.v_leak),
        v_th: c.v_th.map(to),
        v_reset: to(c.v_reset),
        syn: c.syn.map(|(a, g)| (to(a), to(g))),
        multi: false,
        no_leak_offset,
        v_min: c.v_min.map(to),
    }
}
