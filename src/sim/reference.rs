//! The reference engine: the imported model in floating point, as the training framework
//! computes it (SEMANTICS.md section 1, docs/conventions.md).
//!
//! Per sample and step, nodes run in [`GraphInfo::order`]; a node's input is the sum of its
//! in-edges in file order (a recurrent edge reads the source's previous-step output, zero at
//! the first step). Arithmetic is f32 (or f64 on request) with parameters converted once;
//! weighted sums accumulate in input order and add the bias last, as PyTorch does. Samples
//! run in parallel (rayon); each sample's arithmetic is sequential, so results do not
//! depend on the thread count.

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
    /// Conversion from f64 (rounding).
    fn of(v: f64) -> Self;
    /// Conversion to f64 (exact).
    fn f64(self) -> f64;
    /// Division.
    fn div(self, o: Self) -> Self;
    /// Truncation toward zero.
    fn trunc(self) -> Self;
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
    let per_sample: Vec<(Vec<f64>, Vec<u64>)> =
        (0..batch.n).into_par_iter().map(|i| prog.sample(batch, i, opts.steps, out_ix, hook)).collect();
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
    t.data.iter().map(|&v| T::of(v)).collect()
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
                    Kernel::Conv(Box::new(ConvK {
                        w: conv(weight),
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

    /// Runs one sample; returns the selected output per step and non-zero counts per node.
    fn sample(
        &self,
        batch: &InputBatch,
        i: usize,
        steps: usize,
        out: NodeIndex,
        hook: Option<&dyn StepHook>,
    ) -> (Vec<f64>, Vec<u64>) {
        let n = self.kernels.len();
        let mut cur: Vec<Vec<T>> = self.out_numel.iter().map(|&k| vec![T::ZERO; k]).collect();
        let mut prev = cur.clone();
        let mut state: Vec<State<T>> =
            (0..n).map(|k| State::new(&self.kernels[k], self.in_numel[k], self.v_from_leak)).collect();
        let mut nz = vec![0u64; n];
        let mut result = Vec::with_capacity(steps * self.out_numel[out.index()]);
        let mut buf: Vec<T> = vec![];
        for t in 0..steps {
            std::mem::swap(&mut cur, &mut prev);
            for &ix in &self.order {
                let k = ix.index();
                buf.clear();
                buf.resize(self.in_numel[k], T::ZERO);
                if k == self.input_node {
                    for (b, &v) in buf.iter_mut().zip(batch.at(i, t)) {
                        *b = T::of(v);
                    }
                } else {
                    for &(src, rec) in &self.inputs[k] {
                        let v = if rec { &prev[src] } else { &cur[src] };
                        for (b, &x) in buf.iter_mut().zip(v) {
                            *b += x;
                        }
                    }
                }
                let mut o = std::mem::take(&mut cur[k]);
                let v_before: Option<Vec<f64>> = match (&state[k], hook) {
                    (State::Neuron { v_pre, .. }, Some(_)) => Some(v_pre.iter().map(|x| x.f64()).collect()),
                    _ => None,
                };
                self.step(k, &buf, &mut o, &mut state[k], t);
                nz[k] += o.iter().filter(|v| v.f64() != 0.0).count() as u64;
                if let Some(h) = hook {
                    let inp: Vec<f64> =
                        if k == self.input_node { vec![] } else { buf.iter().map(|v| v.f64()).collect() };
                    let outp: Vec<f64> = o.iter().map(|v| v.f64()).collect();
                    h.on_step(i, t, ix, &inp, &outp);
                    if let (Some(before), State::Neuron { v_pre, .. }) = (&v_before, &state[k]) {
                        let after: Vec<f64> = v_pre.iter().map(|x| x.f64()).collect();
                        h.on_membrane(i, t, ix, before, &after);
                    }
                }
                cur[k] = o;
            }
            result.extend(cur[out.index()].iter().map(|v| v.f64()));
        }
        (result, nz)
    }

    fn step(&self, k: usize, x: &[T], y: &mut [T], st: &mut State<T>, t: usize) {
        match &self.kernels[k] {
            Kernel::Input | Kernel::Pass => y.copy_from_slice(x),
            Kernel::Affine { w, b, rows, cols } => {
                y.iter_mut().for_each(|v| *v = T::ZERO);
                // Row-wise dot products in input order, skipping zero inputs (exact: 0*w adds 0).
                for (r, out) in y.iter_mut().enumerate().take(*rows) {
                    let row = &w[r * cols..(r + 1) * cols];
                    let mut acc = T::ZERO;
                    for (wv, &xv) in row.iter().zip(x) {
                        if xv != T::ZERO {
                            acc += *wv * xv;
                        }
                    }
                    *out = acc;
                }
                if let Some(b) = b {
                    for (o, &bv) in y.iter_mut().zip(b) {
                        *o += bv;
                    }
                }
            }
            Kernel::Scale { s } => {
                for ((o, &xv), &sv) in y.iter_mut().zip(x).zip(s) {
                    *o = sv * xv;
                }
            }
            Kernel::Conv(c) => conv_step(c, x, y),
            Kernel::Pool { avg, c, ih, iw, oh, ow, k, s, p } => {
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
            Kernel::Delay { steps } => {
                let State::Delay(hist) = st else { unreachable!("state matches kernel") };
                hist.push(x.to_vec());
                for (j, o) in y.iter_mut().enumerate() {
                    let d = steps[j];
                    *o = if d > t { T::ZERO } else { hist[t - d][j] };
                }
            }
            Kernel::Threshold { th } => {
                for ((o, &xv), &h) in y.iter_mut().zip(x).zip(th) {
                    *o = if self.fires(xv, h) { T::ONE } else { T::ZERO };
                }
            }
            Kernel::Neuron(p) => {
                let State::Neuron { v, i, s_prev, v_pre } = st else { unreachable!("state matches kernel") };
                let multi = p.multi;
                for j in 0..y.len() {
                    let drive = match &p.syn {
                        Some((alpha, gs)) => {
                            i[j] = alpha[j] * i[j] + gs[j] * x[j];
                            i[j]
                        }
                        None => x[j],
                    };
                    let leaked = if p.v_leak[j] == T::ZERO {
                        p.beta[j] * v[j]
                    } else {
                        p.v_leak[j] + p.beta[j] * (v[j] - p.v_leak[j])
                    };
                    let mut vt = leaked + p.gain[j] * drive;
                    match &p.v_th {
                        None => {
                            v_pre[j] = vt;
                            v[j] = vt;
                            y[j] = vt;
                        }
                        Some(th) => {
                            if self.reset == ResetMode::SubtractUndecayed && s_prev[j] != T::ZERO {
                                vt = vt - s_prev[j] * th[j];
                            }
                            v_pre[j] = vt;
                            let s = self.fires(vt, th[j]);
                            // Spikes this step: 1, or trunc(v / thr) for multi-spike neurons.
                            let count = match (s, multi) {
                                (false, _) => T::ZERO,
                                (true, false) => T::ONE,
                                (true, true) => vt.div(th[j]).trunc().max_one(),
                            };
                            y[j] = count;
                            v[j] = match self.reset {
                                ResetMode::Zero if s => p.v_reset[j],
                                ResetMode::Subtract if s => vt - count * th[j],
                                _ => vt,
                            };
                            s_prev[j] = count;
                        }
                    }
                }
            }
        }
    }

    #[inline]
    fn fires(&self, v: T, th: T) -> bool {
        if self.fire_on_equal { v >= th } else { v > th }
    }
}

fn conv_step<T: Real>(c: &ConvK<T>, x: &[T], y: &mut [T]) {
    y.iter_mut().for_each(|v| *v = T::ZERO);
    let ci_g = c.ci / c.groups;
    let co_g = c.co / c.groups;
    let (kh, kw) = (c.k[0], c.k[1]);
    // Scatter each non-zero input to the outputs whose window covers it.
    for ci in 0..c.ci {
        let grp = ci / ci_g;
        let cil = ci % ci_g;
        for iy in 0..c.ih {
            for ix in 0..c.iw {
                let xv = x[(ci * c.ih + iy) * c.iw + ix];
                if xv == T::ZERO {
                    continue;
                }
                for ky in 0..kh {
                    let num_y = iy as isize + c.pb[0] as isize - (ky * c.d[0]) as isize;
                    if num_y < 0 || num_y % c.s[0] as isize != 0 {
                        continue;
                    }
                    let oy = num_y as usize / c.s[0];
                    if oy >= c.oh {
                        continue;
                    }
                    for kx in 0..kw {
                        let num_x = ix as isize + c.pb[1] as isize - (kx * c.d[1]) as isize;
                        if num_x < 0 || num_x % c.s[1] as isize != 0 {
                            continue;
                        }
                        let ox = num_x as usize / c.s[1];
                        if ox >= c.ow {
                            continue;
                        }
                        for col in 0..co_g {
                            let co = grp * co_g + col;
                            let w = c.w[((co * ci_g + cil) * kh + ky) * kw + kx];
                            y[(co * c.oh + oy) * c.ow + ox] += w * xv;
                        }
                    }
                }
            }
        }
    }
    if let Some(b) = &c.b {
        let per = c.oh * c.ow;
        for (co, &bv) in b.iter().enumerate() {
            for v in &mut y[co * per..(co + 1) * per] {
                *v += bv;
            }
        }
    }
}

enum State<T> {
    None,
    Delay(Vec<Vec<T>>),
    /// Membrane, synaptic current, spikes of the previous step, membrane before the reset.
    Neuron {
        v: Vec<T>,
        i: Vec<T>,
        s_prev: Vec<T>,
        v_pre: Vec<T>,
    },
}

impl<T: Real> State<T> {
    fn new(k: &Kernel<T>, n: usize, v_from_leak: bool) -> Self {
        match k {
            Kernel::Delay { .. } => State::Delay(vec![]),
            Kernel::Neuron(p) => State::Neuron {
                v: if v_from_leak { p.v_leak.clone() } else { vec![T::ZERO; n] },
                i: if p.syn.is_some() { vec![T::ZERO; n] } else { vec![] },
                s_prev: vec![T::ZERO; n],
                v_pre: vec![T::ZERO; n],
            },
            _ => State::None,
        }
    }
}

/// Neuron coefficients computed in f64 ([`crate::ir::neuron::coeffs`]), rounded to T once.
fn neuron_params<T: Real>(op: &Op, n: usize, d: &Dialect) -> NeuronParams<T> {
    let c = crate::ir::neuron::coeffs(op, n, d).expect("neuron_params is called for neuron ops only");
    let to = |v: Vec<f64>| v.into_iter().map(T::of).collect::<Vec<T>>();
    NeuronParams {
        beta: to(c.beta),
        gain: to(c.gain),
        v_leak: to(c.v_leak),
        v_th: c.v_th.map(to),
        v_reset: to(c.v_reset),
        syn: c.syn.map(|(a, g)| (to(a), to(g))),
        multi: false,
    }
}
