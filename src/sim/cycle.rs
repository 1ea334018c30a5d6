//! The cycle-accurate engine: executes a hardware [`Plan`] in integers, bit-exact and
//! cycle-exact with the emitted RTL.
//!
//! Events are processed in the RTL's order (event entries in row order, lanes lowest first,
//! beats in the order of [`crate::hw::schedule`]). Every state write goes through the
//! layer's width: when a width cap makes the layer saturating, writes clamp and each clamp is
//! counted; otherwise range analysis guarantees no clamp happens and accumulation order does
//! not change the result, so binary dense projections use packed popcounts. Samples run in
//! parallel; each sample is sequential and deterministic.

use rayon::prelude::*;
use serde::Serialize;

use crate::hw::schedule::{self, beats_per_event};
use crate::hw::{AccTarget, Layer, Leak, Plan, PoolGeom, ProjKind, Projection, Source, at};
use crate::ir::ResetMode;
use crate::sim::io::{InputBatch, Outputs};

/// Activity and cost counters of one layer (sums over samples when aggregated).
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct LayerCounters {
    /// Events delivered into the layer (over all its projections).
    pub events_in: u64,
    /// Accumulate beats (one weight word read and one membrane row read-modify-write each).
    pub beats: u64,
    /// Synaptic accumulates: (event, target neuron) pairs added.
    pub synaptic_ops: u64,
    /// Weight memory words read.
    pub weight_reads: u64,
    /// Membrane/state rows read (accumulate and update).
    pub state_reads: u64,
    /// Membrane/state rows written.
    pub state_writes: u64,
    /// Parameter ROM rows read.
    pub param_reads: u64,
    /// Neuron updates (neurons x steps run).
    pub neuron_updates: u64,
    /// Spikes emitted.
    pub spikes: u64,
    /// Event entries written.
    pub event_writes: u64,
    /// Event entries read by consumers.
    pub event_reads: u64,
    /// Writes that saturated.
    pub saturations: u64,
    /// Non-saturating writes outside the state's width: range analysis says this never
    /// happens; a non-zero count is a bug (the RTL would wrap).
    pub overflows: u64,
    /// Accumulate phases run (including empty ones).
    pub acc_phases: u64,
    /// Accumulate phases whose source had no events.
    pub empty_acc_phases: u64,
    /// Update passes run.
    pub update_passes: u64,
    /// Cycles of this layer's ACC and UPD phases.
    pub cycles: u64,
}

impl LayerCounters {
    fn add(&mut self, o: &LayerCounters) {
        self.events_in += o.events_in;
        self.beats += o.beats;
        self.synaptic_ops += o.synaptic_ops;
        self.weight_reads += o.weight_reads;
        self.state_reads += o.state_reads;
        self.state_writes += o.state_writes;
        self.param_reads += o.param_reads;
        self.neuron_updates += o.neuron_updates;
        self.spikes += o.spikes;
        self.event_writes += o.event_writes;
        self.event_reads += o.event_reads;
        self.saturations += o.saturations;
        self.overflows += o.overflows;
        self.acc_phases += o.acc_phases;
        self.empty_acc_phases += o.empty_acc_phases;
        self.update_passes += o.update_passes;
        self.cycles += o.cycles;
    }
}

/// Counters of one inference (or their sum over a batch).
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Counters {
    /// Total cycles from start to done.
    pub cycles: u64,
    /// Cycles of LOAD phases.
    pub load_cycles: u64,
    /// Cycles of OUT phases.
    pub out_cycles: u64,
    /// Cycles of START, DONE and early-exit checks.
    pub control_cycles: u64,
    /// Input values loaded.
    pub input_values: u64,
    /// Non-zero input values (input events).
    pub input_events: u64,
    /// Output words streamed.
    pub output_words: u64,
    /// Steps run (T, or fewer with early exit).
    pub steps_run: u64,
    /// Accumulate phases skipped because their source had no events.
    pub empty_acc_phases: u64,
    /// Stall cycles waiting for a partner (always 0 here: partners are always ready).
    pub stall_cycles: u64,
    /// Per layer.
    pub layers: Vec<LayerCounters>,
}

impl Counters {
    fn add(&mut self, o: &Counters) {
        self.cycles += o.cycles;
        self.load_cycles += o.load_cycles;
        self.out_cycles += o.out_cycles;
        self.control_cycles += o.control_cycles;
        self.input_values += o.input_values;
        self.input_events += o.input_events;
        self.output_words += o.output_words;
        self.steps_run += o.steps_run;
        self.empty_acc_phases += o.empty_acc_phases;
        self.stall_cycles += o.stall_cycles;
        if self.layers.len() < o.layers.len() {
            self.layers.resize(o.layers.len(), LayerCounters::default());
        }
        for (a, b) in self.layers.iter_mut().zip(&o.layers) {
            a.add(b);
        }
    }

    /// Total saturated writes.
    pub fn saturations(&self) -> u64 {
        self.layers.iter().map(|l| l.saturations).sum()
    }

    /// Total out-of-width writes (must be 0).
    pub fn overflows(&self) -> u64 {
        self.layers.iter().map(|l| l.overflows).sum()
    }
}

/// One inference's result.
#[derive(Clone, Debug)]
pub struct SampleResult {
    /// Output per step run: spikes (0/1) or V integers, `steps_run x out_neurons`, flat
    /// neuron order (C, H, W).
    pub raw: Vec<i64>,
    /// Counters; `cycles` is the exact cycle count.
    pub counters: Counters,
    /// Cycles at the end of each step (from start).
    pub step_end_cycles: Vec<u64>,
}

/// A batch result.
#[derive(Clone, Debug)]
pub struct BatchResult {
    /// Per sample.
    pub samples: Vec<SampleResult>,
    /// Outputs as the reference engine reports them (spikes 0/1, values in real units;
    /// steps after an early exit are zero).
    pub outputs: Outputs,
    /// Sum of counters.
    pub total: Counters,
}

impl BatchResult {
    /// Cycles of each sample.
    pub fn cycles(&self) -> Vec<u64> {
        self.samples.iter().map(|s| s.counters.cycles).collect()
    }
}

/// A waveform recorder: receives every state change with its cycle.
pub trait Tracer {
    /// Neuron `n` of layer `layer` was updated at `cycle`: its membrane `v` (before reset)
    /// and spike.
    fn neuron(&mut self, cycle: u64, layer: usize, n: usize, v: i64, spike: bool);
    /// A step ended at `cycle`.
    fn step(&mut self, cycle: u64, t: usize);
}

/// Runs `steps` steps (at most the plan's T) on every sample.
pub fn run(plan: &Plan, batch: &InputBatch, steps: usize) -> BatchResult {
    let eng = Engine::new(plan);
    let samples: Vec<SampleResult> = (0..batch.n).into_par_iter().map(|i| eng.sample(batch, i, steps, None)).collect();
    let mut total = Counters::default();
    for s in &samples {
        total.add(&s.counters);
    }
    let out_layer = &plan.layers[plan.output.layer];
    let numel = out_layer.neurons();
    let mut data = Vec::with_capacity(batch.n * steps * numel);
    for s in &samples {
        let run = s.raw.len() / numel;
        for t in 0..steps {
            for nn in 0..numel {
                let v = if t < run { s.raw[t * numel + nn] } else { 0 };
                data.push(if plan.output.spikes { v as f64 } else { v as f64 * at_f(&out_layer.unit, nn) });
            }
        }
    }
    let outputs = Outputs { n: batch.n, steps, numel, shape: out_shape(plan), spikes: plan.output.spikes, data };
    BatchResult { samples, outputs, total }
}

/// Runs one sample with a tracer attached.
pub fn run_traced(
    plan: &Plan,
    batch: &InputBatch,
    sample: usize,
    steps: usize,
    tracer: &mut dyn Tracer,
) -> SampleResult {
    Engine::new(plan).sample(batch, sample, steps, Some(tracer))
}

fn out_shape(plan: &Plan) -> Vec<usize> {
    let s = plan.layers[plan.output.layer].shape;
    if s[1] * s[2] == 1 { vec![s[0]] } else { s.to_vec() }
}

fn at_f(v: &[f64], i: usize) -> f64 {
    if v.len() == 1 { v[0] } else { v[i] }
}

/// An event: (channel, y, x, value).
type Event = (usize, usize, usize, i64);

/// Projection data prepared for fast execution.
enum Fast {
    /// Binary dense from spikes: per output row, bitset of +1 weights over the columns.
    DenseBinary { pos: Vec<Vec<u64>>, words: usize },
    /// Column-major dense weights `w[j * n + i]`.
    DenseCols(Vec<i64>),
    /// Other kinds use the plan's weights directly.
    Scatter,
}

struct Engine<'p> {
    plan: &'p Plan,
    fast: Vec<Vec<Fast>>,
}

struct SampleState {
    x: Vec<Vec<i64>>,
    s: Vec<Vec<i64>>,
    y: Vec<Vec<i64>>,
    /// Current event list of each layer (its last update), in RTL order.
    ev: Vec<Vec<Event>>,
    counters: Counters,
}

/// Counts values of `v` outside `bits`-bit two's complement.
fn out_of_range(v: &[i64], bits: u32) -> u64 {
    let hi = (1i64 << (bits - 1)) - 1;
    let lo = -(1i64 << (bits - 1));
    v.iter().filter(|&&x| x > hi || x < lo).count() as u64
}

#[inline]
fn fits(v: i64, bits: u32) -> bool {
    v >= -(1i64 << (bits - 1)) && v < (1i64 << (bits - 1))
}

#[inline]
fn clamp(v: i64, bits: u32, sat: &mut u64) -> i64 {
    let hi = (1i64 << (bits - 1)) - 1;
    let lo = -(1i64 << (bits - 1));
    if v > hi {
        *sat += 1;
        hi
    } else if v < lo {
        *sat += 1;
        lo
    } else {
        v
    }
}

/// Applies a fixed-point decay.
#[inline]
pub fn leak(l: &Leak, x: i64, p: u32, i: usize) -> i64 {
    match l {
        Leak::Zero => 0,
        Leak::One => x,
        Leak::Shift { k } => x - (x >> k),
        Leak::Mul { b } => ((x as i128 * at(b, i) as i128 + (1i128 << (p - 1))) >> p) as i64,
    }
}

/// Pooled positions (py, px) whose window contains (y, x), in candidate order; `None` for
/// candidates outside the pooled map.
fn pool_candidates(g: &PoolGeom, y: usize, x: usize, out: &mut Vec<Option<(usize, usize)>>) {
    out.clear();
    let c = g.candidates();
    let axis = |v: usize, d: usize, w: usize| -> Option<usize> {
        let vp = v + g.p[d];
        let top = vp / g.s[d];
        if w > top {
            return None;
        }
        let o = top - w;
        (o < g.out[d] && vp - o * g.s[d] < g.k[d]).then_some(o)
    };
    for wy in 0..c[0] {
        for wx in 0..c[1] {
            out.push(match (axis(y, 0, wy), axis(x, 1, wx)) {
                (Some(a), Some(b)) => Some((a, b)),
                _ => None,
            });
        }
    }
}

impl<'p> Engine<'p> {
    fn new(plan: &'p Plan) -> Self {
        let fast = plan
            .layers
            .iter()
            .map(|l| {
                l.projections
                    .iter()
                    .map(|p| match (&p.kind, p.source, &p.pre_pool) {
                        (ProjKind::Dense { cols }, Source::Layer(_), None) if p.weights.binary() && !l.saturate => {
                            let words = cols.div_ceil(64);
                            let pos = (0..l.neurons())
                                .map(|i| {
                                    let mut b = vec![0u64; words];
                                    for j in 0..*cols {
                                        if p.weights.values[i * cols + j] > 0 {
                                            b[j / 64] |= 1 << (j % 64);
                                        }
                                    }
                                    b
                                })
                                .collect();
                            Fast::DenseBinary { pos, words }
                        }
                        (ProjKind::Dense { cols }, _, _) => {
                            let n = l.neurons();
                            let mut w = vec![0i64; n * cols];
                            for i in 0..n {
                                for j in 0..*cols {
                                    w[j * n + i] = p.weights.values[i * cols + j];
                                }
                            }
                            Fast::DenseCols(w)
                        }
                        _ => Fast::Scatter,
                    })
                    .collect()
            })
            .collect();
        Engine { plan, fast }
    }

    fn input_events(&self, batch: &InputBatch, i: usize, t: usize) -> Vec<Event> {
        let inp = &self.plan.input;
        let [_, h, w] = inp.shape;
        batch
            .at(i, t)
            .iter()
            .enumerate()
            .filter_map(|(j, &x)| {
                let q = inp.quantise(x);
                (q != 0).then(|| (j / (h * w), (j / w) % h, j % w, q))
            })
            .collect()
    }

    fn sample(&self, batch: &InputBatch, i: usize, steps: usize, mut tracer: Option<&mut dyn Tracer>) -> SampleResult {
        let plan = self.plan;
        let steps = steps.min(plan.timesteps);
        let nl = plan.layers.len();
        let mut st = SampleState {
            x: plan.layers.iter().map(|l| vec![0; l.neurons()]).collect(),
            s: plan.layers.iter().map(|l| if l.has_static() { vec![0; l.neurons()] } else { vec![] }).collect(),
            y: plan.layers.iter().map(|l| if l.kind.cuba() { vec![0; l.neurons()] } else { vec![] }).collect(),
            ev: vec![vec![]; nl],
            counters: Counters { layers: vec![LayerCounters::default(); nl], ..Default::default() },
        };
        let out_l = plan.output.layer;
        let out_n = plan.layers[out_l].neurons();
        let mut raw = Vec::with_capacity(steps * out_n);
        let mut step_end = Vec::with_capacity(steps);
        let mut cyc = schedule::START;
        st.counters.control_cycles += schedule::START;
        let mut in_ev: Vec<Event> = vec![];
        let mut counts = vec![0i64; out_n];
        for t in 0..steps {
            if t == 0 || plan.input.per_step {
                in_ev = self.input_events(batch, i, t);
                let c = schedule::load_cycles(plan);
                cyc += c;
                st.counters.load_cycles += c;
                st.counters.input_values += plan.input.numel() as u64;
                st.counters.input_events += in_ev.len() as u64;
            }
            let last = t + 1 == steps;
            for k in 0..nl {
                let l = &plan.layers[k];
                for (pi, p) in l.projections.iter().enumerate() {
                    if p.target == AccTarget::Static && t > 0 {
                        continue;
                    }
                    let events: &[Event] = match p.source {
                        Source::Input => &in_ev,
                        Source::Layer(s) => &st.ev[s],
                    };
                    let events = events.to_vec();
                    let c = schedule::acc_cycles(l, p, events.len() as u64);
                    if events.is_empty() {
                        st.counters.empty_acc_phases += 1;
                    }
                    cyc += c;
                    st.counters.layers[k].cycles += c;
                    st.counters.layers[k].acc_phases += 1;
                    if events.is_empty() {
                        st.counters.layers[k].empty_acc_phases += 1;
                    }
                    if let Source::Layer(s) = p.source {
                        let entries = entries_of(&plan.layers[s], &events);
                        st.counters.layers[s].event_reads += entries;
                    }
                    self.accumulate(k, pi, &events, &mut st);
                    self.check_after_acc(k, pi, &mut st);
                }
                let c = schedule::upd_cycles(l);
                let upd_start = cyc;
                cyc += c;
                st.counters.layers[k].cycles += c;
                st.counters.layers[k].update_passes += 1;
                let spikes_out = self.update(k, t, last, &mut st, upd_start, &mut tracer);
                if k == out_l {
                    raw.extend_from_slice(&spikes_out);
                }
            }
            let c = schedule::out_cycles(plan);
            cyc += c;
            st.counters.out_cycles += c;
            st.counters.output_words += plan.layers[out_l].rows as u64;
            st.counters.steps_run += 1;
            if plan.early_exit && !last {
                cyc += schedule::EXIT_CHECK;
                st.counters.control_cycles += schedule::EXIT_CHECK;
                let row = &raw[t * out_n..(t + 1) * out_n];
                for (c, v) in counts.iter_mut().zip(row) {
                    *c += v;
                }
                if decided(&counts, (steps - 1 - t) as i64) {
                    step_end.push(cyc);
                    if let Some(tr) = tracer.as_deref_mut() {
                        tr.step(cyc, t);
                    }
                    // The RTL clears every state memory before done; that costs the largest
                    // layer's rows.
                    let clear = plan.layers.iter().map(|l| l.rows as u64).max().unwrap_or(0);
                    cyc += clear;
                    st.counters.control_cycles += clear;
                    break;
                }
            }
            step_end.push(cyc);
            if let Some(tr) = tracer.as_deref_mut() {
                tr.step(cyc, t);
            }
        }
        cyc += schedule::DONE;
        st.counters.control_cycles += schedule::DONE;
        st.counters.cycles = cyc;
        SampleResult { raw, counters: st.counters, step_end_cycles: step_end }
    }

    /// One ACC phase: adds projection `pi`'s contributions of `events` into layer `k`.
    fn accumulate(&self, k: usize, pi: usize, events: &[Event], st: &mut SampleState) {
        let plan = self.plan;
        let l = &plan.layers[k];
        let p = &l.projections[pi];
        let bpe = beats_per_event(l, p);
        let cnt = &mut st.counters.layers[k];
        cnt.events_in += events.len() as u64;
        cnt.beats += bpe * events.len() as u64;
        cnt.weight_reads += if weight_memory(l, p) { bpe * events.len() as u64 } else { 0 };
        let bits = if p.target == AccTarget::Static {
            l.s_bits
        } else if l.kind.cuba() {
            l.y_bits
        } else {
            l.v_bits
        };
        let SampleState { x, s, y, counters, .. } = st;
        let dst: &mut Vec<i64> = match p.target {
            AccTarget::Static => &mut s[k],
            AccTarget::Dynamic if l.kind.cuba() => &mut y[k],
            AccTarget::Dynamic => &mut x[k],
        };
        let cnt = &mut counters.layers[k];
        let shift = p.shift;
        let [_, sh, sw] = p.src_shape;
        match (&p.kind, &self.fast[k][pi]) {
            (ProjKind::Dense { cols }, Fast::DenseBinary { pos, words }) => {
                // Packed: every lane of every beat of every event, in one popcount per neuron.
                let mut src = vec![0u64; *words];
                for &(c, yy, xx, _) in events {
                    let j = (c * sh + yy) * sw + xx;
                    src[j / 64] |= 1 << (j % 64);
                }
                let total = events.len() as i64;
                for (i, d) in dst.iter_mut().enumerate() {
                    let pc: i64 = pos[i].iter().zip(&src).map(|(a, b)| (a & b).count_ones() as i64).sum();
                    *d += (2 * pc - total) << shift;
                }
                let _ = cols;
                cnt.synaptic_ops += events.len() as u64 * l.neurons() as u64;
                cnt.state_reads += bpe * events.len() as u64;
                cnt.state_writes += bpe * events.len() as u64;
            }
            _ => {
                let mut cands = vec![];
                let sat = l.saturate;
                let add = |d: &mut i64, v: i64, cnt: &mut LayerCounters| {
                    *d = if sat { clamp(*d + v, bits, &mut cnt.saturations) } else { *d + v };
                };
                for &(c, yy, xx, val) in events {
                    // Pre-pooling: each candidate window becomes a pooled event.
                    let pooled: Vec<Option<(usize, usize, usize)>> = match &p.pre_pool {
                        Some(g) => {
                            pool_candidates(g, yy, xx, &mut cands);
                            cands.iter().map(|o| o.map(|(a, b)| (c, a, b))).collect()
                        }
                        None => vec![Some((c, yy, xx))],
                    };
                    for pe in pooled {
                        let inner = beats_per_event(l, p)
                            / p.pre_pool.as_ref().map_or(1, |g| (g.candidates()[0] * g.candidates()[1]) as u64);
                        // A candidate outside the pooled map still costs its beats (counted above).
                        let Some((pc, py, px)) = pe else { continue };
                        match (&p.kind, &self.fast[k][pi]) {
                            (ProjKind::Dense { cols }, Fast::DenseCols(wc)) => {
                                let (ph, pw) = match &p.pre_pool {
                                    Some(g) => (g.out[0], g.out[1]),
                                    None => (sh, sw),
                                };
                                let j = (pc * ph + py) * pw + px;
                                debug_assert!(j < *cols);
                                let n = l.neurons();
                                let col = &wc[j * n..(j + 1) * n];
                                for (d, &w) in dst.iter_mut().zip(col) {
                                    add(d, (w * val) << shift, cnt);
                                }
                                cnt.synaptic_ops += n as u64;
                                cnt.state_reads += inner;
                                cnt.state_writes += inner;
                            }
                            (ProjKind::Conv { ci, ih, iw, kh, kw, stride, pad, dil, groups }, _) => {
                                let co = l.shape[0];
                                let (oh, ow) = (l.shape[1], l.shape[2]);
                                let ci_g = ci / groups;
                                let co_g = co / groups;
                                let grp = pc / ci_g;
                                let cil = pc % ci_g;
                                let _ = (ih, iw);
                                for ky in 0..*kh {
                                    for kx in 0..*kw {
                                        let ny = py as isize + pad[0] as isize - (ky * dil[0]) as isize;
                                        let nx = px as isize + pad[1] as isize - (kx * dil[1]) as isize;
                                        let ok = ny >= 0
                                            && nx >= 0
                                            && (ny as usize).is_multiple_of(stride[0])
                                            && (nx as usize).is_multiple_of(stride[1])
                                            && (ny as usize / stride[0]) < oh
                                            && (nx as usize / stride[1]) < ow;
                                        if !ok {
                                            continue;
                                        }
                                        let (oy, ox) = (ny as usize / stride[0], nx as usize / stride[1]);
                                        for col in 0..co_g {
                                            let o = grp * co_g + col;
                                            let w = p.weights.values[((o * ci_g + cil) * kh + ky) * kw + kx];
                                            add(&mut dst[(o * oh + oy) * ow + ox], (w * val) << shift, cnt);
                                        }
                                        cnt.synaptic_ops += co_g as u64;
                                        cnt.state_reads += l.ncg as u64;
                                        cnt.state_writes += l.ncg as u64;
                                    }
                                }
                            }
                            (ProjKind::Pool(g), _) => {
                                pool_candidates(g, py, px, &mut cands);
                                for cand in cands.iter().copied().flatten() {
                                    let (oy, ox) = cand;
                                    let n = (pc * l.shape[1] + oy) * l.shape[2] + ox;
                                    add(&mut dst[n], (p.weights.at(n) * val) << shift, cnt);
                                    cnt.synaptic_ops += 1;
                                    cnt.state_reads += 1;
                                    cnt.state_writes += 1;
                                }
                            }
                            (ProjKind::OneToOne, _) => {
                                let n = if p.src_shape == l.shape {
                                    (pc * l.shape[1] + py) * l.shape[2] + px
                                } else {
                                    (pc * sh + py) * sw + px
                                };
                                add(&mut dst[n], (p.weights.at(n) * val) << shift, cnt);
                                cnt.synaptic_ops += 1;
                                cnt.state_reads += 1;
                                cnt.state_writes += 1;
                            }
                            _ => unreachable!("dense projections always have prepared weights"),
                        }
                    }
                }
            }
        }
    }

    /// Checks the target state of projection `pi` after its phase (non-saturating layers).
    fn check_after_acc(&self, k: usize, pi: usize, st: &mut SampleState) {
        let l = &self.plan.layers[k];
        if l.saturate {
            return;
        }
        let p = &l.projections[pi];
        let (v, bits) = match p.target {
            AccTarget::Static => (&st.s[k], l.s_bits),
            AccTarget::Dynamic if l.kind.cuba() => (&st.y[k], l.y_bits),
            AccTarget::Dynamic => (&st.x[k], l.v_bits),
        };
        st.counters.layers[k].overflows += out_of_range(v, bits);
    }

    /// The update pass of layer `k` at step `t`; returns the layer's per-neuron output when it
    /// is the output layer (spikes or V), else an empty vector.
    fn update(
        &self,
        k: usize,
        t: usize,
        last: bool,
        st: &mut SampleState,
        start: u64,
        tracer: &mut Option<&mut dyn Tracer>,
    ) -> Vec<i64> {
        let plan = self.plan;
        let l = &plan.layers[k];
        let pr = &l.params;
        let p = plan.leak_bits;
        let is_out = k == plan.output.layer;
        let n = l.neurons();
        let mut out = if is_out { vec![0i64; n] } else { vec![] };
        let mut events = vec![];
        let [_, h, w] = l.shape;
        let pos = h * w;
        let spiking = l.spiking();
        let sat = l.saturate;
        let SampleState { x, s, y, counters, .. } = st;
        let cnt = &mut counters.layers[k];
        let late = t > 0;
        for row in 0..l.rows {
            let cgi = row / pos;
            let pp = row % pos;
            let (yy, xx) = (pp / w, pp % w);
            let mut mask = 0u64;
            let mut row_events = vec![];
            for lane in 0..l.lanes {
                let Some(c) = l.channel_of(cgi, lane) else {
                    continue;
                };
                let i = c * pos + pp;
                let mut sc = 0u64;
                let st_val = if l.s_bits > 0 { s[k][i] } else { 0 };
                let mut v;
                if l.kind.cuba() {
                    let mut cur =
                        y[k][i] + st_val + at(&pr.syn_bias, i) + if late { at(&pr.syn_bias_late, i) } else { 0 };
                    if sat {
                        cur = clamp(cur, l.y_bits, &mut sc);
                    }
                    let sl = l.syn_leak.as_ref().expect("cuba layers have a synaptic leak");
                    y[k][i] = if last { 0 } else { leak(sl, cur, p, i) };
                    v = x[k][i] + cur + at(&pr.bias, i) + if late { at(&pr.bias_late, i) } else { 0 };
                    if !sat && !fits(cur, l.y_bits) {
                        cnt.overflows += 1;
                    }
                } else {
                    v = x[k][i] + st_val + at(&pr.bias, i) + if late { at(&pr.bias_late, i) } else { 0 };
                }
                if sat {
                    v = clamp(v, l.v_bits, &mut sc);
                } else if !fits(v, l.v_bits) {
                    cnt.overflows += 1;
                }
                let thr = at(&pr.thr, i);
                let spike = spiking && if plan.fire_on_equal { v >= thr } else { v > thr };
                let vhat = match (spiking, plan.reset) {
                    (true, ResetMode::Zero) if spike => at(&pr.vreset, i),
                    (true, ResetMode::Subtract) if spike => v - thr,
                    _ => v,
                };
                let mut next = leak(&l.leak, vhat, p, i);
                if spiking && plan.reset == ResetMode::SubtractUndecayed && spike {
                    next -= thr;
                }
                if sat {
                    next = clamp(next, l.v_bits, &mut sc);
                } else if !fits(next, l.v_bits) {
                    cnt.overflows += 1;
                }
                x[k][i] = if last { 0 } else { next };
                if l.s_bits > 0 && last {
                    s[k][i] = 0;
                }
                cnt.saturations += sc;
                if spike {
                    mask |= 1 << lane;
                    row_events.push((c, yy, xx, 1i64));
                }
                if is_out {
                    out[i] = if spiking { i64::from(spike) } else { v };
                }
                if let Some(tr) = tracer.as_deref_mut() {
                    tr.neuron(start + schedule::UPD_HEAD + row as u64, k, i, v, spike);
                }
            }
            if mask != 0 {
                cnt.event_writes += 1;
                cnt.spikes += mask.count_ones() as u64;
                events.extend(row_events);
            }
        }
        cnt.neuron_updates += n as u64;
        cnt.state_reads += l.rows as u64;
        cnt.state_writes += l.rows as u64;
        if crate::hw::memory::param_lane_bits(plan, k) > 0 {
            cnt.param_reads += l.rows as u64;
        }
        st.ev[k] = events;
        out
    }
}

/// Number of event entries (rows with a spike) that `events` of layer `l` occupy.
fn entries_of(l: &Layer, events: &[Event]) -> u64 {
    let mut last = None;
    let mut n = 0;
    for &(c, yy, xx, _) in events {
        let r = l.slot(c, yy, xx).0;
        if last != Some(r) {
            n += 1;
            last = Some(r);
        }
    }
    n
}

/// True when the projection reads a weight memory word per beat.
fn weight_memory(l: &Layer, p: &Projection) -> bool {
    let _ = l;
    match p.kind {
        ProjKind::Dense { .. } | ProjKind::Conv { .. } => true,
        ProjKind::Pool(_) | ProjKind::OneToOne => p.weights.values.len() > 1,
    }
}

/// Early-exit decision: the leader's count exceeds every other class's count plus the
/// spikes that class can still emit (one per remaining step).
pub fn decided(counts: &[i64], remaining: i64) -> bool {
    let Some((lead, &best)) = counts.iter().enumerate().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0))) else {
        return true;
    };
    counts.iter().enumerate().all(|(c, &v)| c == lead || best > v + remaining || (best == v + remaining && lead < c))
}
