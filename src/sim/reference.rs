//! The reference engine: the imported model in floating point, as the training framework
//! computes it (SEMANTICS.md section 1, docs/conventions.md).
//!
//! Per sample and step, nodes run in [`GraphInfo::order`]; a node's input is the sum of its
//! in-edges in file order (a recurrent edge reads the source's previous-step output, zero at
//! the first step). Arithmetic is f32 (or f64 on request) with parameters converted once.
//! Samples run in chunks of up to [`CHUNK`] (fewer for large networks, see [`chunk_size`]),
//! chunks in parallel (rayon). Within a chunk a dense layer is one matrix product over the
//! chunk's samples (`product`: the `gemm` crate's kernels where the CPU has AVX2 and FMA,
//! `matrixmultiply` elsewhere); a convolution whose input is zeros and ones adds the
//! weights under its ones (`conv_binary`, bit-identical to the product, for layers with at
//! least 64 output channels per group and depth 64), other inputs less than
//! 1/[`EVENT_FRACTION`] non-zero run event by event (taps in (ci, ky, kx) order, zero
//! inputs skipped), and the chunk's remaining samples as one unrolled matrix product
//! (im2col, then `product`); biases are added last, as PyTorch does. Element-wise loops run
//! with AVX2 and FMA where the CPU has them. Every value of a sample depends only on that
//! sample: each output element is one dot product whose summation order is fixed by the
//! layer's shape and the sample's own activity, never by the chunk or the thread count.

use petgraph::graph::NodeIndex;
use rayon::prelude::*;

use crate::data::{InputBatch, Outputs};
use crate::ir::dialect::InitialV;
use crate::ir::{Dialect, Graph, Op, Padding, ResetMode, Tensor};
use crate::valid::GraphInfo;

/// Floating-point type the engine computes in.
pub trait Real:
    Copy
    + Send
    + Sync
    + PartialOrd
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::AddAssign
    + std::fmt::Debug
    + 'static
{
    /// Zero.
    const ZERO: Self;
    /// One.
    const ONE: Self;
    /// `c (m x n, row stride rsc) = a (m x k) . b (k x n)`, with `a` and `b` given by their
    /// (row, column) strides; every element is one dot product over `k` whose summation
    /// order depends only on `k`.
    #[allow(clippy::too_many_arguments)]
    fn gemm(
        m: usize,
        k: usize,
        n: usize,
        a: &[Self],
        sa: (usize, usize),
        b: &[Self],
        sb: (usize, usize),
        c: &mut [Self],
        rsc: usize,
    );
    /// Conversion from f64 (rounding).
    fn of(v: f64) -> Self;
    /// Conversion to f64 (exact).
    fn f64(self) -> f64;
    /// Division.
    fn div(self, o: Self) -> Self;
    /// Truncation toward zero.
    fn trunc(self) -> Self;
    /// `self * a + b` rounded once.
    fn mul_add(self, a: Self, b: Self) -> Self;
    /// `max(self, 1)`.
    fn max_one(self) -> Self {
        if self < Self::ONE { Self::ONE } else { self }
    }
}

impl Real for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    fn of(v: f64) -> Self {
        v as f32
    }
    fn f64(self) -> f64 {
        self as f64
    }
    fn div(self, o: Self) -> Self {
        self / o
    }
    fn trunc(self) -> Self {
        f32::trunc(self)
    }
    fn mul_add(self, a: Self, b: Self) -> Self {
        f32::mul_add(self, a, b)
    }
    fn gemm(
        m: usize,
        k: usize,
        n: usize,
        a: &[Self],
        sa: (usize, usize),
        b: &[Self],
        sb: (usize, usize),
        c: &mut [Self],
        rsc: usize,
    ) {
        check_gemm(m, k, n, a.len(), sa, b.len(), sb, c.len(), rsc);
        // SAFETY: check_gemm proved every index the product touches lies inside its slice.
        unsafe {
            matrixmultiply::sgemm(
                m,
                k,
                n,
                1.0,
                a.as_ptr(),
                sa.0 as isize,
                sa.1 as isize,
                b.as_ptr(),
                sb.0 as isize,
                sb.1 as isize,
                0.0,
                c.as_mut_ptr(),
                rsc as isize,
                1,
            )
        }
    }
}

impl Real for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    fn of(v: f64) -> Self {
        v
    }
    fn f64(self) -> f64 {
        self
    }
    fn div(self, o: Self) -> Self {
        self / o
    }
    fn trunc(self) -> Self {
        f64::trunc(self)
    }
    fn mul_add(self, a: Self, b: Self) -> Self {
        f64::mul_add(self, a, b)
    }
    fn gemm(
        m: usize,
        k: usize,
        n: usize,
        a: &[Self],
        sa: (usize, usize),
        b: &[Self],
        sb: (usize, usize),
        c: &mut [Self],
        rsc: usize,
    ) {
        check_gemm(m, k, n, a.len(), sa, b.len(), sb, c.len(), rsc);
        // SAFETY: check_gemm proved every index the product touches lies inside its slice.
        unsafe {
            matrixmultiply::dgemm(
                m,
                k,
                n,
                1.0,
                a.as_ptr(),
                sa.0 as isize,
                sa.1 as isize,
                b.as_ptr(),
                sb.0 as isize,
                sb.1 as isize,
                0.0,
                c.as_mut_ptr(),
                rsc as isize,
                1,
            )
        }
    }
}

/// Panics unless the strided operands of a product lie inside their slices (a broken
/// invariant of the engine, never of the input).
#[allow(clippy::too_many_arguments)]
fn check_gemm(
    m: usize,
    k: usize,
    n: usize,
    la: usize,
    sa: (usize, usize),
    lb: usize,
    sb: (usize, usize),
    lc: usize,
    rsc: usize,
) {
    if m == 0 || k == 0 || n == 0 {
        return;
    }
    let last = |rows: usize, cols: usize, s: (usize, usize)| (rows - 1) * s.0 + (cols - 1) * s.1;
    assert!(last(m, k, sa) < la && last(k, n, sb) < lb && last(m, n, (rsc, 1)) < lc, "gemm operands out of bounds");
}

/// Depth of one `gemm` call. Up to 512 terms `gemm` sums each element in one accumulator,
/// fused multiply-adds in depth order (its depth block is `min(k, 512)` whatever the shape).
const DEPTH_BLOCK: usize = 512;

/// The depth of [`product`]'s blocks for depth `k`: equal blocks of at most [`DEPTH_BLOCK`]
/// (the last shorter by less than their count), so there is no short tail product; at
/// least 1. [`conv_binary`] reproduces the product's sums through this same split.
fn depth_block(k: usize) -> usize {
    k.div_ceil(k.div_ceil(DEPTH_BLOCK)).max(1)
}

/// `c (m x n, row stride rsc) = a (m x k) . b (k x n)` as [`Real::gemm`], faster where the
/// CPU has AVX2 and FMA: the depth runs in equal blocks of at most [`DEPTH_BLOCK`], each
/// element of a block summed from zero by fused multiply-adds in depth order and added to
/// the previous blocks' sum. The order depends only on `k`: shapes that `gemm` would hand to a differently ordered
/// kernel (gemv, horizontal dot products, depth <= 2) take a scalar loop with that same order.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn product<T: Real>(
    m: usize,
    k: usize,
    n: usize,
    a: &[T],
    sa: (usize, usize),
    b: &[T],
    sb: (usize, usize),
    c: &mut [T],
    rsc: usize,
) {
    if !fma_kernels() {
        return T::gemm(m, k, n, a, sa, b, sb, c, rsc);
    }
    check_gemm(m, k, n, a.len(), sa, b.len(), sb, c.len(), rsc);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        for i in 0..m {
            c[i * rsc..i * rsc + n].fill(T::ZERO);
        }
        return;
    }
    let block = depth_block(k);
    let mut acc: Vec<T> = vec![];
    let mut d0 = 0;
    while d0 < k {
        let kb = (k - d0).min(block);
        let first = d0 == 0;
        if m >= 2 && n >= 2 && m * n > 256 && kb >= 3 {
            // SAFETY: check_gemm proved that every element of a (m x k), b (k x n) and
            // c (m x n) lies inside its slice; the block reads columns d0..d0+kb of a and
            // rows d0..d0+kb of b.
            unsafe {
                gemm::gemm(
                    m,
                    n,
                    kb,
                    c.as_mut_ptr(),
                    1,
                    rsc as isize,
                    !first,
                    a.as_ptr().add(d0 * sa.1),
                    sa.1 as isize,
                    sa.0 as isize,
                    b.as_ptr().add(d0 * sb.0),
                    sb.1 as isize,
                    sb.0 as isize,
                    T::ONE,
                    T::ONE,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                )
            }
        } else {
            // Each element's sum still runs in depth order; the loop over a row's elements
            // is innermost so that it vectorises.
            for i in 0..m {
                acc.clear();
                acc.resize(n, T::ZERO);
                for d in d0..d0 + kb {
                    let av = a[i * sa.0 + d * sa.1];
                    let brow = &b[d * sb.0..];
                    for (j, s) in acc.iter_mut().enumerate() {
                        *s = av.mul_add(brow[j * sb.1], *s);
                    }
                }
                for (o, &s) in c[i * rsc..i * rsc + n].iter_mut().zip(&acc) {
                    *o = if first { s } else { *o + s };
                }
            }
        }
        d0 += kb;
    }
}

/// Whether `gemm` runs its fused multiply-add kernels here (its x86-64-v3 level); also what
/// [`Program::chunk_avx2`] is compiled for.
fn fma_kernels() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx")
            && std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// A simulation setup error (bad request, not bad arithmetic).
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// Input or output selection.
    #[error("{0}")]
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
    #[error("{0}")]
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
}

enum Kernel<T> {
    Input,
    Pass,
    Affine {
        w: Vec<T>,
        b: Option<Vec<T>>,
        rows: usize,
        cols: usize,
    },
    Scale {
        s: Vec<T>,
    },
    Conv(Box<ConvK<T>>),
    Pool {
        avg: Option<T>,
        c: usize,
        ih: usize,
        iw: usize,
        oh: usize,
        ow: usize,
        k: [usize; 2],
        s: [usize; 2],
        p: [usize; 2],
    },
    Delay {
        steps: Vec<usize>,
    },
    Threshold {
        th: Vec<T>,
    },
    Neuron(Box<NeuronParams<T>>),
}

struct ConvK<T> {
    w: Vec<T>,
    /// The kernels in [`tile_kernels`]' layout, for the event and 0/1 paths.
    wt: Vec<T>,
    /// Every weight is finite (as [`conv_binary`] requires).
    finite: bool,
    b: Option<Vec<T>>,
    groups: usize,
    ci: usize,
    co: usize,
    ih: usize,
    iw: usize,
    oh: usize,
    ow: usize,
    k: [usize; 2],
    s: [usize; 2],
    d: [usize; 2],
    pb: [usize; 2],
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
                    Kernel::Pool {
                        avg,
                        c: ins[0],
                        ih: ins[1],
                        iw: ins[2],
                        oh: outs[1],
                        ow: outs[2],
                        k: [kernel[0], kernel[1]],
                        s: [stride[0], stride[1]],
                        p: [padding[0], padding[1]],
                    }
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
            Kernel::Pool { avg, c, ih, iw, oh, ow, k, s, p } => {
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
                let multi = p.multi;
                let w = p.beta.len();
                if let (None, Some(th), false, true) = (&p.syn, &p.v_th, multi, p.no_leak_offset) {
                    // The common case without branches (it vectorises): the same operations in
                    // the same order as the general loop below.
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
                    for j in 0..w {
                        let e = r * w + j;
                        let drive = match &p.syn {
                            Some((alpha, gs)) => {
                                i[e] = alpha[j] * i[e] + gs[j] * x[e];
                                i[e]
                            }
                            None => x[e],
                        };
                        let leaked = if p.v_leak[j] == T::ZERO {
                            p.beta[j] * v[e]
                        } else {
                            p.v_leak[j] + p.beta[j] * (v[e] - p.v_leak[j])
                        };
                        let mut vt = leaked + p.gain[j] * drive;
                        match &p.v_th {
                            None => {
                                v_pre[e] = vt;
                                v[e] = vt;
                                y[e] = vt;
                            }
                            Some(th) => {
                                if self.reset == ResetMode::SubtractUndecayed && s_prev[e] != T::ZERO {
                                    vt = vt - s_prev[e] * th[j];
                                }
                                v_pre[e] = vt;
                                let s = self.fires(vt, th[j]);
                                // Spikes this step: 1, or trunc(v / thr) for multi-spike neurons.
                                let count = match (s, multi) {
                                    (false, _) => T::ZERO,
                                    (true, false) => T::ONE,
                                    (true, true) => vt.div(th[j]).trunc().max_one(),
                                };
                                y[e] = count;
                                v[e] = match self.reset {
                                    ResetMode::Zero if s => p.v_reset[j],
                                    ResetMode::Subtract if s => vt - count * th[j],
                                    _ => vt,
                                };
                                s_prev[e] = count;
                            }
                        }
                    }
                }
                let _ = b;
            }
        }
    }

    #[inline]
    fn fires(&self, v: T, th: T) -> bool {
        if self.fire_on_equal { v >= th } else { v > th }
    }
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

/// Unrolled inputs kept at once by a convolution (elements); bounds the samples per product.
const COLS_MAX: usize = 1 << 18;
/// Columns (samples x output positions) a convolution's product aims for at least.
const PRODUCT_WIDTH: usize = 512;

/// Buffers a step reuses between nodes.
struct Scratch<T> {
    vals: Vec<T>,
    bits: Vec<u64>,
}

impl<T> Default for Scratch<T> {
    fn default() -> Self {
        Scratch { vals: vec![], bits: vec![] }
    }
}

/// Convolution of `b` samples: 0/1 inputs by adding the weights of their ones, other sparse
/// inputs event by event, the rest as matrix products.
#[inline(always)]
fn conv_step<T: Real>(c: &ConvK<T>, b: usize, x: &[T], y: &mut [T], scratch: &mut Scratch<T>) {
    let kk = c.ci / c.groups * c.k[0] * c.k[1];
    let pix = c.oh * c.ow;
    let (wi, wo) = (c.ci * c.ih * c.iw, c.co * pix);
    // The gather forms the product's exact sums only where the product is `product`'s own.
    let gather = c.finite && fma_kernels() && kk >= GATHER_DEPTH_MIN && c.co / c.groups >= GATHER_TILE;
    let mut dense = Vec::with_capacity(b);
    let mut binary = Vec::with_capacity(b);
    for s in 0..b {
        let xs = &x[s * wi..(s + 1) * wi];
        let (mut ones, mut zero_one) = (0usize, true);
        for &v in xs {
            ones += (v != T::ZERO) as usize;
            zero_one &= v == T::ZERO || v == T::ONE;
        }
        if gather && zero_one && ones * BINARY_DENOM < wi * BINARY_NUM {
            binary.push(s);
        } else if ones * EVENT_FRACTION < wi {
            conv_events(c, xs, &mut y[s * wo..(s + 1) * wo], &mut scratch.vals);
        } else {
            dense.push(s);
        }
    }
    // Samples together, so that each word's weights are read once for all of them, up to
    // GATHER_COLUMNS columns (whose running sums then stay in L2).
    for group in binary.chunks((GATHER_COLUMNS / pix.max(1)).max(1)) {
        conv_binary(c, group, x, y, scratch);
    }
    // Enough samples per product that each packed weight panel serves at least PRODUCT_WIDTH
    // columns, and no more unrolled inputs than COLS_MAX beyond that.
    let per = (COLS_MAX / (kk * pix).max(1)).max(PRODUCT_WIDTH.div_ceil(pix.max(1))).clamp(1, dense.len().max(1));
    for group in dense.chunks(per) {
        conv_dense(c, group, x, y, &mut scratch.vals);
    }
}

/// A 0/1 convolution input with fewer than BINARY_NUM/BINARY_DENOM ones takes
/// [`conv_binary`].
const BINARY_NUM: usize = 7;
const BINARY_DENOM: usize = 10;

/// Columns (samples x positions) one [`conv_binary`] call gathers at most.
const GATHER_COLUMNS: usize = 2048;

/// Depth (taps per output) from which [`conv_binary`] beats the product (measured: a
/// 3-channel 3x3 input layer, depth 27, runs faster as a product). It also needs at least
/// one whole tile of output channels per group: with fewer, the per-tap work is too small
/// for the bit scan (16 channels measured no faster than the product).
const GATHER_DEPTH_MIN: usize = 64;

/// Output channels one pass of [`conv_binary`] keeps in registers.
const GATHER_TILE: usize = 64;

/// The output channel tiles `(first, width)` of a group's channels: GATHER_TILE wide, then
/// 32, 16, 8 and 1 for the rest. Fields: channels, channels already tiled.
struct Tiles(usize, usize);

impl Tiles {
    fn of(co_g: usize) -> Self {
        Tiles(co_g, 0)
    }
}

impl Iterator for Tiles {
    type Item = (usize, usize);
    #[inline(always)]
    fn next(&mut self) -> Option<(usize, usize)> {
        let left = self.0 - self.1;
        let w = [GATHER_TILE, 32, 16, 8, 1].into_iter().find(|&w| w <= left)?;
        self.1 += w;
        Some((self.1 - w, w))
    }
}

/// A convolution's kernels (`w_at(i)` for `i` in [co][ci/groups][kh][kw] order) for the
/// event and 0/1 paths: per group, per tile of output channels ([`Tiles`]), per input tap
/// `kk` of them, the tile's weights; so a tile's rows are one contiguous run.
fn tile_kernels<T: Real>(co: usize, groups: usize, kk: usize, w_at: impl Fn(usize) -> T) -> Vec<T> {
    let co_g = co / groups;
    let mut wt = Vec::with_capacity(co * kk);
    for grp in 0..groups {
        for (t0, w) in Tiles::of(co_g) {
            for tap in 0..kk {
                wt.extend((0..w).map(|col| w_at((grp * co_g + t0 + col) * kk + tap)));
            }
        }
    }
    wt
}

/// Convolution of the samples `which`, whose inputs are zeros and ones, bit-identical to
/// [`conv_dense`]:
/// each output adds the weights of its taps whose input is one, in (ci, ky, kx) order and in
/// [`product`]'s depth blocks (each from zero, then added to the blocks before), then the
/// bias. Same bits because `product` sums with fused multiply-adds: `fma(w, 1, s) = s + w`,
/// and for finite `w`, `fma(w, 0, s) = s` (a sum started at +0 never becomes -0).
#[inline(always)]
fn conv_binary<T: Real>(c: &ConvK<T>, which: &[usize], x: &[T], y: &mut [T], scratch: &mut Scratch<T>) {
    let ci_g = c.ci / c.groups;
    let co_g = c.co / c.groups;
    let (kh, kw) = (c.k[0], c.k[1]);
    let kk = ci_g * kh * kw;
    let pix = c.oh * c.ow;
    let (wi, wo) = (c.ci * c.ih * c.iw, c.co * pix);
    // Columns: sample-major positions of the samples `which`.
    let ncols = which.len() * pix;
    let block = depth_block(kk);
    let nblocks = kk.div_ceil(block);
    // Words of one depth block; bit `j` of word `w` of block `blk` is tap blk*block + 64*w + j.
    let wpb = block.div_ceil(64);
    let Scratch { vals, bits } = scratch;
    vals.clear();
    vals.resize(ncols * (co_g + GATHER_TILE), T::ZERO);
    let (tot, part) = vals.split_at_mut(ncols * co_g);
    for grp in 0..c.groups {
        bits.clear();
        bits.resize(nblocks * wpb * ncols, 0);
        for (si, &smp) in which.iter().enumerate() {
            for cil in 0..ci_g {
                let plane = &x[smp * wi + (grp * ci_g + cil) * c.ih * c.iw..][..c.ih * c.iw];
                for ky in 0..kh {
                    for kx in 0..kw {
                        let k = (cil * kh + ky) * kw + kx;
                        let (blk, local) = (k / block, k % block);
                        let word = &mut bits[(blk * wpb + local / 64) * ncols + si * pix..][..pix];
                        let bit = local % 64;
                        let r = TapRange::new(c, ky, kx);
                        for oy in r.ylo..r.yhi {
                            let iy = (oy as isize * c.s[0] as isize + r.offy) as usize;
                            let src = &plane[iy * c.iw..(iy + 1) * c.iw];
                            let first = (r.lo as isize * c.s[1] as isize + r.off) as usize;
                            let dst = &mut word[oy * c.ow + r.lo..oy * c.ow + r.hi];
                            if c.s[1] == 1 {
                                for (d, &v) in dst.iter_mut().zip(&src[first..first + (r.hi - r.lo)]) {
                                    *d |= ((v != T::ZERO) as u64) << bit;
                                }
                            } else {
                                for (d, &v) in dst.iter_mut().zip(src[first..].iter().step_by(c.s[1])) {
                                    *d |= ((v != T::ZERO) as u64) << bit;
                                }
                            }
                        }
                    }
                }
            }
        }
        let wg = &c.wt[grp * kk * co_g..(grp + 1) * kk * co_g];
        for (t0, w) in Tiles::of(co_g) {
            let wtile = &wg[t0 * kk..(t0 + w) * kk];
            let tile = (t0, co_g, block, nblocks, wpb);
            match w {
                GATHER_TILE => gather_tile::<T, GATHER_TILE>(wtile, tile, bits, ncols, part, tot),
                32 => gather_tile::<T, 32>(wtile, tile, bits, ncols, part, tot),
                16 => gather_tile::<T, 16>(wtile, tile, bits, ncols, part, tot),
                8 => gather_tile::<T, 8>(wtile, tile, bits, ncols, part, tot),
                _ => gather_tile::<T, 1>(wtile, tile, bits, ncols, part, tot),
            }
        }
        for (si, &smp) in which.iter().enumerate() {
            for col in 0..co_g {
                let co = grp * co_g + col;
                let dst = &mut y[smp * wo + co * pix..][..pix];
                for (p, d) in dst.iter_mut().enumerate() {
                    // With no taps (kk = 0) `tot` keeps its zeros, the product's.
                    let v = tot[(si * pix + p) * co_g + col];
                    *d = match &c.b {
                        Some(b) => v + b[co],
                        None => v,
                    };
                }
            }
        }
    }
}

/// Output channels `t0..t0 + W` of [`conv_binary`] for each of `pix` columns into `tot`
/// (column-major, `co_g` wide); `wtile` is their kernels, `W` per tap.
#[inline(always)]
fn gather_tile<T: Real, const W: usize>(
    wtile: &[T],
    (t0, co_g, block, nblocks, wpb): (usize, usize, usize, usize, usize),
    bits: &[u64],
    pix: usize,
    part: &mut [T],
    tot: &mut [T],
) {
    // Word by word, so that a word's 64 weight rows stay in L1 while every position adds
    // its taps of the word to its running sum (kept in `part` between words).
    let part = &mut part[..pix * W];
    for blk in 0..nblocks {
        for w in 0..wpb {
            let words = &bits[(blk * wpb + w) * pix..][..pix];
            let last = w + 1 == wpb;
            for (p, &word) in words.iter().enumerate() {
                let sum: &mut [T; W] = (&mut part[p * W..(p + 1) * W]).try_into().expect("W sums");
                let mut a = if w == 0 { [T::ZERO; W] } else { *sum };
                let mut m = word;
                let base = &wtile[(blk * block + w * 64) * W..];
                while m != 0 {
                    let k = m.trailing_zeros() as usize;
                    m &= m - 1;
                    debug_assert!((k + 1) * W <= base.len());
                    // SAFETY: bits are set only for taps below kk, and wtile holds kk rows
                    // of W, so tap blk*block + w*64 + k's row lies inside `base`.
                    let row = unsafe { &*(base.as_ptr().add(k * W) as *const [T; W]) };
                    for j in 0..W {
                        a[j] += row[j];
                    }
                }
                if !last {
                    *sum = a;
                    continue;
                }
                // The block's sum, added to the blocks before.
                let dst: &mut [T; W] = (&mut tot[p * co_g + t0..][..W]).try_into().expect("W sums");
                if blk == 0 {
                    *dst = a;
                } else {
                    for j in 0..W {
                        dst[j] += a[j];
                    }
                }
            }
        }
    }
}

/// A convolution input with fewer than 1/EVENT_FRACTION non-zero values runs event by event
/// (measured on conv_bw's 16-channel layers: single-thread reference 1.87 s at 20%, 1.60 s
/// at 10%, 1.70 s with no event path at all).
pub const EVENT_FRACTION: usize = 10;

/// One sample's convolution by scattering each non-zero input into the outputs whose window
/// covers it, vectorised over output channels. Each output sums its taps in (ci, ky, kx)
/// order, skipping zero inputs, then adds the bias.
fn conv_events<T: Real>(c: &ConvK<T>, x: &[T], y: &mut [T], acc: &mut Vec<T>) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the feature the function is compiled for was detected above.
        return unsafe { conv_events_avx2(c, x, y, acc) };
    }
    conv_events_body(c, x, y, acc)
}

/// [`conv_events`] with 256-bit vectors: the same operations in the same order (Rust never
/// fuses a multiply and an add), so the same results.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn conv_events_avx2<T: Real>(c: &ConvK<T>, x: &[T], y: &mut [T], acc: &mut Vec<T>) {
    conv_events_body(c, x, y, acc)
}

#[inline(always)]
fn conv_events_body<T: Real>(c: &ConvK<T>, x: &[T], y: &mut [T], acc: &mut Vec<T>) {
    let ci_g = c.ci / c.groups;
    let co_g = c.co / c.groups;
    let kk = ci_g * c.k[0] * c.k[1];
    let pix = c.oh * c.ow;
    acc.clear();
    acc.resize(pix * c.co, T::ZERO);
    for grp in 0..c.groups {
        let wg = &c.wt[grp * kk * co_g..(grp + 1) * kk * co_g];
        for (t0, w) in Tiles::of(co_g) {
            let wtile = &wg[t0 * kk..(t0 + w) * kk];
            let at = grp * co_g + t0;
            match w {
                GATHER_TILE => events_tile::<T, GATHER_TILE>(c, x, grp, wtile, at, acc),
                32 => events_tile::<T, 32>(c, x, grp, wtile, at, acc),
                16 => events_tile::<T, 16>(c, x, grp, wtile, at, acc),
                8 => events_tile::<T, 8>(c, x, grp, wtile, at, acc),
                _ => events_tile::<T, 1>(c, x, grp, wtile, at, acc),
            }
        }
    }
    for (p, row) in acc.chunks_exact(c.co).enumerate() {
        for (co, &v) in row.iter().enumerate() {
            y[co * pix + p] = match &c.b {
                Some(b) => v + b[co],
                None => v,
            };
        }
    }
}

/// The output index whose window puts input `i` (padded by `pad`) under tap offset `off`
/// with stride `s`, if any below `n` (no division at stride 1).
#[inline(always)]
fn tap_output(i: usize, pad: usize, off: usize, s: usize, n: usize) -> Option<usize> {
    let num = (i + pad).checked_sub(off)?;
    let o = if s == 1 {
        num
    } else if num % s == 0 {
        num / s
    } else {
        return None;
    };
    (o < n).then_some(o)
}

/// Output channels `at..at + W` (of group `grp`, kernels `wtile`, W per tap) of
/// [`conv_events`], into `acc` (position-major, `co` wide).
#[inline(always)]
fn events_tile<T: Real, const W: usize>(c: &ConvK<T>, x: &[T], grp: usize, wtile: &[T], at: usize, acc: &mut [T]) {
    let ci_g = c.ci / c.groups;
    let (kh, kw) = (c.k[0], c.k[1]);
    for cil in 0..ci_g {
        let ci = grp * ci_g + cil;
        for iy in 0..c.ih {
            for ix in 0..c.iw {
                let xv = x[(ci * c.ih + iy) * c.iw + ix];
                if xv == T::ZERO {
                    continue;
                }
                for ky in 0..kh {
                    let Some(oy) = tap_output(iy, c.pb[0], ky * c.d[0], c.s[0], c.oh) else { continue };
                    for kx in 0..kw {
                        let Some(ox) = tap_output(ix, c.pb[1], kx * c.d[1], c.s[1], c.ow) else { continue };
                        let tap = (cil * kh + ky) * kw + kx;
                        let wr: &[T; W] = wtile[tap * W..(tap + 1) * W].try_into().expect("W weights");
                        let o: &mut [T; W] =
                            (&mut acc[(oy * c.ow + ox) * c.co + at..][..W]).try_into().expect("W sums");
                        for j in 0..W {
                            o[j] += wr[j] * xv;
                        }
                    }
                }
            }
        }
    }
}

/// Convolution of the samples `which` as one matrix product per group: their inputs
/// unrolled into a (ci/groups * kh * kw) x (samples * oh * ow) matrix, multiplied by the
/// group's kernels.
#[inline(always)]
fn conv_dense<T: Real>(c: &ConvK<T>, which: &[usize], x: &[T], y: &mut [T], scratch: &mut Vec<T>) {
    let ci_g = c.ci / c.groups;
    let co_g = c.co / c.groups;
    let (kh, kw) = (c.k[0], c.k[1]);
    let kk = ci_g * kh * kw;
    let pix = c.oh * c.ow;
    let (wi, wo) = (c.ci * c.ih * c.iw, c.co * pix);
    {
        let nb = which.len();
        let width = nb * pix;
        // One sample's product goes straight into its output rows; several share `prod`.
        let staged = if nb == 1 { 0 } else { co_g * width };
        // Every element is written below (unrolled inputs, then the product with beta = 0).
        if scratch.len() < kk * width + staged {
            scratch.resize(kk * width + staged, T::ZERO);
        }
        let (cols, prod) = scratch.split_at_mut(kk * width);
        for grp in 0..c.groups {
            for s in 0..nb {
                let xs = &x[which[s] * wi..(which[s] + 1) * wi];
                for cil in 0..ci_g {
                    let ci = grp * ci_g + cil;
                    let plane = &xs[ci * c.ih * c.iw..(ci + 1) * c.ih * c.iw];
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let row = &mut cols[((cil * kh + ky) * kw + kx) * width + s * pix..][..pix];
                            unroll_row(c, plane, ky, kx, row);
                        }
                    }
                }
            }
            let wg = &c.w[grp * co_g * kk..(grp + 1) * co_g * kk];
            if nb == 1 {
                let dst = &mut y[which[0] * wo + grp * co_g * pix..][..co_g * pix];
                product(co_g, kk, width, wg, (kk, 1), cols, (width, 1), dst, pix);
                if let Some(bias) = &c.b {
                    for (row, &bv) in dst.chunks_exact_mut(pix).zip(&bias[grp * co_g..]) {
                        for v in row {
                            *v += bv;
                        }
                    }
                }
                continue;
            }
            product(co_g, kk, width, wg, (kk, 1), cols, (width, 1), prod, width);
            for s in 0..nb {
                let ys = &mut y[which[s] * wo..(which[s] + 1) * wo];
                for col in 0..co_g {
                    let co = grp * co_g + col;
                    let dst = &mut ys[co * pix..(co + 1) * pix];
                    dst.copy_from_slice(&prod[col * width + s * pix..][..pix]);
                    if let Some(bias) = &c.b {
                        for v in dst.iter_mut() {
                            *v += bias[co];
                        }
                    }
                }
            }
        }
    }
}

/// The outputs whose input under tap (ky, kx) lies inside the plane: rows `ylo..yhi`,
/// columns `lo..hi`; output (oy, ox) reads input (oy*s + offy, ox*s + off).
struct TapRange {
    ylo: usize,
    yhi: usize,
    lo: usize,
    hi: usize,
    offy: isize,
    off: isize,
}

impl TapRange {
    #[inline(always)]
    fn new<T>(c: &ConvK<T>, ky: usize, kx: usize) -> Self {
        let off = (kx * c.d[1]) as isize - c.pb[1] as isize;
        let sx = c.s[1] as isize;
        let lo = if off >= 0 { 0 } else { ((-off + sx - 1) / sx) as usize }.min(c.ow);
        let hi =
            if (c.iw as isize) <= off { 0 } else { (((c.iw as isize - off + sx - 1) / sx) as usize).min(c.ow) }.max(lo);
        let offy = (ky * c.d[0]) as isize - c.pb[0] as isize;
        let sy = c.s[0] as isize;
        let ylo = if offy >= 0 { 0 } else { ((-offy + sy - 1) / sy) as usize }.min(c.oh);
        let yhi = if (c.ih as isize) <= offy { 0 } else { (((c.ih as isize - offy + sy - 1) / sy) as usize).min(c.oh) }
            .max(ylo);
        // An empty column range empties the rows too.
        let yhi = if lo == hi { ylo } else { yhi };
        TapRange { ylo, yhi, lo, hi, offy, off }
    }
}

/// One row of a convolution's unrolled input: `row[oy * ow + ox]` is the input under tap
/// (ky, kx) of output (oy, ox), zero where that falls in the padding.
#[inline(always)]
fn unroll_row<T: Real>(c: &ConvK<T>, plane: &[T], ky: usize, kx: usize, row: &mut [T]) {
    let TapRange { ylo, yhi, lo, hi, offy, off } = TapRange::new(c, ky, kx);
    let (sx, sy) = (c.s[1] as isize, c.s[0] as isize);
    let ow = c.ow;
    row[..ylo * ow].fill(T::ZERO);
    row[yhi * ow..].fill(T::ZERO);
    if ylo == yhi || lo == hi {
        row[ylo * ow..yhi * ow].fill(T::ZERO);
        return;
    }
    if sx == 1 && sy == 1 && ow == c.iw {
        // Output and input rows have the same length, so row index j reads plane index
        // j + offy*iw + off: one copy of the valid rows (their out-of-row ends read the
        // neighbouring input rows), then those ends zeroed.
        let (a, b) = (ylo * ow + lo, (yhi - 1) * ow + hi);
        let from = (a as isize + offy * c.iw as isize + off) as usize;
        row[a..b].copy_from_slice(&plane[from..from + (b - a)]);
        for oy in ylo..yhi {
            for d in &mut row[oy * ow..oy * ow + lo] {
                *d = T::ZERO;
            }
            for d in &mut row[oy * ow + hi..(oy + 1) * ow] {
                *d = T::ZERO;
            }
        }
        return;
    }
    let first = (lo as isize * sx + off) as usize;
    for oy in ylo..yhi {
        let iy = (oy as isize * sy + offy) as usize;
        let src = &plane[iy * c.iw..(iy + 1) * c.iw];
        let dst = &mut row[oy * ow..(oy + 1) * ow];
        dst[..lo].fill(T::ZERO);
        dst[hi..].fill(T::ZERO);
        for (d, &v) in dst[lo..hi].iter_mut().zip(src[first..].iter().step_by(c.s[1])) {
            *d = v;
        }
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values with full mantissas and mixed signs (a fixed LCG), so any change of summation
    /// order shows in the last bits.
    fn values<T: Real>(n: usize, seed: u64) -> Vec<T> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                T::of(((s >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 3.7)
            })
            .collect()
    }

    /// Every element of [`product`] is the same whatever the rest of the product: each row
    /// alone (m = 1, the gemv-shaped case), each column alone (n = 1), a 2 x 2 corner (the
    /// horizontal-kernel size) and the whole, over depths around the block size and with
    /// strided operands (a conv's unrolled inputs, a dense layer's transposed weights).
    fn independent_of_shape<T: Real>() {
        for &(m, k, n) in
            &[(40, 1, 33), (40, 2, 33), (3, 7, 5), (64, 511, 48), (37, 512, 129), (20, 513, 300), (9, 1300, 70)]
        {
            let a: Vec<T> = values(m * k, 1 + k as u64);
            let b: Vec<T> = values(k * n, 2 + k as u64);
            // a row-major (k, 1); b column-major (1, k), as the dense layer passes w^T.
            let bt: Vec<T> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
            for (bs, sb) in [(&b, (n, 1)), (&bt, (1, k))] {
                let mut whole = vec![T::ZERO; m * n];
                product(m, k, n, &a, (k, 1), bs, sb, &mut whole, n);
                for i in 0..m {
                    let mut row = vec![T::ZERO; n];
                    product(1, k, n, &a[i * k..], (k, 1), bs, sb, &mut row, n);
                    assert_eq!(row, whole[i * n..(i + 1) * n], "row {i} of {m}x{k}x{n}");
                }
                for j in 0..n {
                    let mut col = vec![T::ZERO; m];
                    product(m, k, 1, &a, (k, 1), &bs[j * sb.1..], sb, &mut col, 1);
                    let want: Vec<T> = (0..m).map(|i| whole[i * n + j]).collect();
                    assert_eq!(col, want, "column {j} of {m}x{k}x{n}");
                }
                let mut corner = vec![T::ZERO; 4];
                product(2, k, 2, &a, (k, 1), bs, sb, &mut corner, 2);
                assert_eq!(corner, [whole[0], whole[1], whole[n], whole[n + 1]], "corner of {m}x{k}x{n}");
            }
        }
    }

    /// A convolution of the given shape with full-mantissa weights and bias.
    #[allow(clippy::too_many_arguments)]
    fn conv_k<T: Real>(
        ci: usize,
        co: usize,
        groups: usize,
        ih: usize,
        iw: usize,
        k: usize,
        s: usize,
        d: usize,
        p: usize,
    ) -> ConvK<T> {
        let ci_g = ci / groups;
        let w: Vec<T> = values(co * ci_g * k * k, (ci * 31 + co) as u64);
        let wt = tile_kernels(co, groups, ci_g * k * k, |i| w[i]);
        let out = |i: usize| (i + 2 * p - d * (k - 1) - 1) / s + 1;
        ConvK {
            w,
            wt,
            finite: true,
            b: Some(values(co, 7)),
            groups,
            ci,
            co,
            ih,
            iw,
            oh: out(ih),
            ow: out(iw),
            k: [k, k],
            s: [s, s],
            d: [d, d],
            pb: [p, p],
        }
    }

    /// [`conv_binary`] (the gather of 0/1 inputs) gives the product's bits, and so does
    /// [`conv_events`] within one depth block: depths inside
    /// one block, across blocks that are not whole words (576 = 2 x 288), channel counts
    /// with 8-wide and single remainders, groups, strides, dilation and padding, at several
    /// densities. Fails if the gather sums in another order or skips a block boundary.
    fn binary_matches_dense<T: Real>() {
        for &(ci, co, groups, ih, k, s, d, p) in &[
            (3, 16, 1, 9, 3, 1, 1, 1),
            (64, 75, 1, 8, 3, 1, 1, 1),
            (16, 123, 1, 7, 3, 1, 1, 1),
            (130, 64, 1, 6, 3, 2, 1, 1),
            (8, 12, 2, 10, 3, 1, 2, 2),
            (40, 130, 1, 5, 1, 2, 1, 0),
        ] {
            let c = conv_k::<T>(ci, co, groups, ih, ih + 1, k, s, d, p);
            let wi = ci * c.ih * c.iw;
            let wo = co * c.oh * c.ow;
            for density in [0.05, 0.4, 0.69] {
                let mut st = 99u64 + ci as u64;
                let x: Vec<T> = (0..2 * wi)
                    .map(|_| {
                        st = st.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        if ((st >> 11) as f64 / (1u64 << 53) as f64) < density { T::ONE } else { T::ZERO }
                    })
                    .collect();
                let mut dense = vec![T::ZERO; 2 * wo];
                conv_dense(&c, &[0, 1], &x, &mut dense, &mut vec![]);
                let mut scratch = Scratch::default();
                let mut both = vec![T::ZERO; 2 * wo];
                conv_binary(&c, &[0, 1], &x, &mut both, &mut scratch);
                for smp in 0..2 {
                    let mut got = vec![T::ZERO; 2 * wo];
                    conv_binary(&c, &[smp], &x, &mut got, &mut scratch);
                    assert!(
                        got[smp * wo..(smp + 1) * wo] == both[smp * wo..(smp + 1) * wo],
                        "sample {smp} alone and with the other"
                    );
                    let want = &dense[smp * wo..(smp + 1) * wo];
                    if c.ci / groups * k * k <= DEPTH_BLOCK {
                        // Within one depth block the event path sums in the same order too.
                        let mut ev = vec![T::ZERO; wo];
                        conv_events(&c, &x[smp * wi..(smp + 1) * wi], &mut ev, &mut vec![]);
                        assert!(ev == want, "events {ci}->{co} g{groups} k{k} s{s} d{d} p{p} density {density}");
                    }
                    let got = &got[smp * wo..(smp + 1) * wo];
                    for (i, (g, w)) in got.iter().zip(want).enumerate() {
                        assert!(
                            g.f64().to_bits() == w.f64().to_bits(),
                            "{ci}->{co} g{groups} k{k} s{s} d{d} p{p} density {density}: output {i} is {} not {}",
                            g.f64(),
                            w.f64()
                        );
                    }
                }
            }
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn binary_and_event_convolutions_are_the_product_bit_for_bit() {
        // conv_step takes the gather only where `product` runs its own fused kernels.
        assert!(fma_kernels(), "this test needs a CPU with AVX2 and FMA");
        binary_matches_dense::<f32>();
        binary_matches_dense::<f64>();
    }

    #[test]
    fn product_elements_do_not_depend_on_the_shape() {
        independent_of_shape::<f32>();
        independent_of_shape::<f64>();
    }
}
