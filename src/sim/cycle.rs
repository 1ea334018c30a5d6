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

use crate::data::{InputBatch, Outputs};
use crate::hw::schedule::{self, beats_per_event};
use crate::hw::{Layer, Plan};
use crate::ir::ResetMode;
use crate::quant::{AccTarget, Leak, PoolGeom, ProjKind, Projection, Source, at};

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
    /// Synaptic accumulates per projection.
    pub proj_synaptic_ops: Vec<u64>,
    /// Weight memory words read per projection.
    pub proj_weight_reads: Vec<u64>,
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
        let n = self.proj_synaptic_ops.len().max(o.proj_synaptic_ops.len());
        self.proj_synaptic_ops.resize(n, 0);
        self.proj_weight_reads.resize(n, 0);
        for (a, b) in self.proj_synaptic_ops.iter_mut().zip(&o.proj_synaptic_ops) {
            *a += b;
        }
        for (a, b) in self.proj_weight_reads.iter_mut().zip(&o.proj_weight_reads) {
            *a += b;
        }
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
    /// Adds the counters of another inference (or batch).
    pub fn add(&mut self, o: &Counters) {
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
    // Each worker reuses one sample state (its buffers are reset per sample).
    let samples: Vec<SampleResult> = (0..batch.n)
        .into_par_iter()
        .map_init(|| SampleState::new(plan), |st, i| eng.sample_fast(st, batch, i, steps))
        .collect();
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
    Engine::new(plan).sample(&mut SampleState::new(plan), batch, sample, steps, Some(tracer))
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

/// Projection data prepared for fast execution. The packed paths compute the same integer
/// sums as the per-event scatter (the RTL's order); they are used only on non-saturating
/// layers, where range analysis makes the order irrelevant.
enum Fast {
    /// Binary dense: per output row, the bitset of +1 weights over the columns (`words` u64 per
    /// row, rows contiguous).
    DenseBinary { pos: Vec<u64>, words: usize },
    /// Binary convolution, one group: per (tap, word, output channel), the +1 weights over the
    /// input channels; and the valid taps of every input position.
    ConvBinary { pos: Vec<u64>, words: usize, taps_at: Vec<u32> },
    /// Column-major dense weights `w[j * n + i]`.
    DenseCols(Vec<i32>),
    /// Convolution weights as [input channel][tap][output channel of its group]: one
    /// contiguous run per event and tap (non-saturating layers, weights within i32).
    ConvCols(Vec<i32>),
    /// Other kinds use the plan's weights directly.
    Scatter,
}

fn bits_of(n: usize, words: usize, mut plus: impl FnMut(usize, usize) -> bool, rows: usize) -> Vec<u64> {
    let mut v = vec![0u64; rows * words];
    for (r, row) in v.chunks_mut(words).enumerate() {
        for (wi, word) in row.iter_mut().enumerate() {
            let mut b = 0u64;
            for bit in 0..64.min(n - wi * 64) {
                b |= u64::from(plus(r, wi * 64 + bit)) << bit;
            }
            *word = b;
        }
    }
    v
}

/// Kernel taps that land inside the output, for every input position of a convolution
/// projection (for the counters of the packed path).
fn valid_tap_table(g: &ConvGeo) -> Vec<u32> {
    let mut v = vec![0u32; g.ih * g.iw];
    for y in 0..g.ih {
        for x in 0..g.iw {
            v[y * g.iw + x] = g.valid_targets(y, x) as u32;
        }
    }
    v
}

/// Per-layer tables for the update pass (computed once per plan).
struct LayerPrep {
    /// Neuron of each (row, lane), `u32::MAX` for padding lanes.
    slots: Vec<u32>,
    /// (channel, y, x) of each neuron.
    coords: Vec<(u32, u32, u32)>,
    /// The layer has a per-neuron parameter ROM (counted as reads).
    param_rom: bool,
    /// Parameters expanded to one value per neuron when they fit i32 (wider ones only occur
    /// in pathological plans, which take the general path).
    thr_full: Vec<i32>,
    bias_full: Vec<i32>,
    bias_late_full: Vec<i32>,
    vreset_full: Vec<i32>,
    /// Zeros, one per neuron (absent static state, the first step's late bias).
    zeros: Vec<i64>,
    zero32: Vec<i32>,
    /// Every parameter fits i32 (else the general update path is used).
    params_i32: bool,
    /// The used slots' neurons in (row, lane) order, and where each row starts in it.
    order: Vec<u32>,
    row_start: Vec<u32>,
    /// The event each neuron emits.
    event_of: Vec<Event>,
}

struct Engine<'p> {
    plan: &'p Plan,
    fast: Vec<Vec<Fast>>,
    prep: Vec<LayerPrep>,
}

struct SampleState {
    x: Vec<Vec<i64>>,
    s: Vec<Vec<i64>>,
    y: Vec<Vec<i64>>,
    /// Current event list of each layer (its last update), in RTL order.
    ev: Vec<Vec<Event>>,
    /// Event entries (rows with a spike) of each layer's current list.
    ev_entries: Vec<u64>,
    /// Fired flags of each layer's last update (scratch of the fast update pass).
    fired: Vec<Vec<u8>>,
    scratch: Scratch,
    counters: Counters,
}

impl SampleState {
    fn new(plan: &Plan) -> Self {
        let nl = plan.layers.len();
        SampleState {
            x: plan.layers.iter().map(|l| vec![0; l.neurons()]).collect(),
            s: plan.layers.iter().map(|l| if l.has_static() { vec![0; l.neurons()] } else { vec![] }).collect(),
            y: plan.layers.iter().map(|l| if l.kind.cuba() { vec![0; l.neurons()] } else { vec![] }).collect(),
            ev: vec![vec![]; nl],
            ev_entries: vec![0; nl],
            fired: vec![vec![]; nl],
            scratch: Scratch::default(),
            counters: Counters::default(),
        }
    }

    /// Ready for a new sample: zero state, no events, fresh counters (buffers kept).
    fn reset(&mut self, plan: &Plan) {
        for v in self.x.iter_mut().chain(self.s.iter_mut()).chain(self.y.iter_mut()) {
            v.fill(0);
        }
        self.ev.iter_mut().for_each(Vec::clear);
        self.ev_entries.fill(0);
        self.counters = Counters { layers: vec![LayerCounters::default(); plan.layers.len()], ..Default::default() };
    }
}

/// Buffers the packed kernels reuse across phases (contents are dead between calls).
#[derive(Default)]
struct Scratch {
    idx: Vec<u32>,
    bits: Vec<u64>,
    inmap: Vec<u64>,
    cnt: Vec<i64>,
    acc: Vec<u64>,
    res: Vec<i64>,
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
                    .map(|p| match (&p.kind, &p.pre_pool) {
                        (ProjKind::Dense { cols }, None) if p.weights.binary() && !l.saturate => {
                            let words = cols.div_ceil(64);
                            let n = l.neurons();
                            let pos = bits_of(*cols, words, |i, j| p.weights.values[i * cols + j] > 0, n);
                            Fast::DenseBinary { pos, words }
                        }
                        (ProjKind::Conv { ci, kh, kw, groups: 1, .. }, None) if p.weights.binary() && !l.saturate => {
                            let words = ci.div_ceil(64);
                            // Layout [tap][word][output channel]: the inner loop runs over output
                            // channels, which vectorises.
                            let co = l.shape[0];
                            let taps = kh * kw;
                            let mut pos = vec![0u64; taps * words * co];
                            for o in 0..co {
                                for c in 0..*ci {
                                    for tap in 0..taps {
                                        if p.weights.values[(o * ci + c) * taps + tap] > 0 {
                                            pos[(tap * words + c / 64) * co + o] |= 1 << (c % 64);
                                        }
                                    }
                                }
                            }
                            let g = conv_geo(l, &p.kind).expect("a convolution");
                            Fast::ConvBinary { pos, words, taps_at: valid_tap_table(&g) }
                        }
                        (ProjKind::Conv { ci, kh, kw, groups, .. }, None)
                            if !l.saturate && p.weights.values.iter().all(|&w| i32::try_from(w).is_ok()) =>
                        {
                            let (co, taps) = (l.shape[0], kh * kw);
                            let (ci_g, co_g) = (ci / groups, co / groups);
                            let mut wt = vec![0i32; p.weights.values.len()];
                            for o in 0..co {
                                let (grp, col) = (o / co_g, o % co_g);
                                for cil in 0..ci_g {
                                    for tap in 0..taps {
                                        wt[((grp * ci_g + cil) * taps + tap) * co_g + col] =
                                            p.weights.values[(o * ci_g + cil) * taps + tap] as i32;
                                    }
                                }
                            }
                            Fast::ConvCols(wt)
                        }
                        (ProjKind::Dense { cols }, _) => {
                            let n = l.neurons();
                            let mut w = vec![0i32; n * cols];
                            for i in 0..n {
                                for j in 0..*cols {
                                    w[j * n + i] = p.weights.values[i * cols + j] as i32;
                                }
                            }
                            Fast::DenseCols(w)
                        }
                        _ => Fast::Scatter,
                    })
                    .collect()
            })
            .collect();
        let prep = plan
            .layers
            .iter()
            .enumerate()
            .map(|(k, l)| {
                let pos = l.positions();
                let w = l.shape[2];
                let mut slots = vec![u32::MAX; l.rows * l.lanes];
                for row in 0..l.rows {
                    for lane in 0..l.lanes {
                        if let Some(c) = l.channel_of(row / pos, lane) {
                            slots[row * l.lanes + lane] = (c * pos + row % pos) as u32;
                        }
                    }
                }
                let coords: Vec<(u32, u32, u32)> =
                    (0..l.neurons()).map(|n| ((n / pos) as u32, ((n % pos) / w) as u32, (n % w) as u32)).collect();
                let n = l.neurons();
                let pr = &l.params;
                let fits32 = |v: &[i64]| v.iter().all(|&x| i32::try_from(x).is_ok());
                let params_i32 = [&pr.thr, &pr.bias, &pr.bias_late, &pr.vreset].iter().all(|v| fits32(v));
                let expand = |v: &[i64]| {
                    if params_i32 { (0..n).map(|i| at(v, i) as i32).collect::<Vec<i32>>() } else { vec![] }
                };
                let order: Vec<u32> = slots.iter().copied().filter(|&s| s != u32::MAX).collect();
                let mut row_start = vec![0u32];
                for row in slots.chunks(l.lanes) {
                    let used = row.iter().filter(|&&s| s != u32::MAX).count() as u32;
                    row_start.push(row_start.last().copied().unwrap_or(0) + used);
                }
                let event_of = coords.iter().map(|&(c, y, x)| (c as usize, y as usize, x as usize, 1i64)).collect();
                LayerPrep {
                    slots,
                    coords,
                    param_rom: crate::hw::memory::param_lane_bits(plan, k) > 0,
                    thr_full: expand(&pr.thr),
                    bias_full: expand(&pr.bias),
                    bias_late_full: expand(&pr.bias_late),
                    vreset_full: expand(&pr.vreset),
                    zeros: vec![0; n],
                    zero32: vec![0; n],
                    params_i32,
                    order,
                    row_start,
                    event_of,
                }
            })
            .collect();
        Engine { plan, fast, prep }
    }

    fn input_events(&self, batch: &InputBatch, i: usize, t: usize) -> Vec<Event> {
        let inp = &self.plan.input;
        let [_, h, w] = inp.shape;
        batch
            .at(i, t)
            .iter()
            .enumerate()
            .filter_map(|(j, &x)| {
                if x == 0.0 {
                    return None;
                }
                let q = inp.quantise(x);
                (q != 0).then(|| (j / (h * w), (j / w) % h, j % w, q))
            })
            .collect()
    }

    /// One sample without a tracer, compiled for the widest vector extensions the CPU has
    /// (checked at run time; the results are the same integers on every path).
    fn sample_fast(&self, st: &mut SampleState, batch: &InputBatch, i: usize, steps: usize) -> SampleResult {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512vpopcntdq")
                && std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("bmi2")
                && std::arch::is_x86_feature_detected!("popcnt")
            {
                // SAFETY: every feature the function is compiled for was detected above.
                return unsafe { self.sample_avx512(st, batch, i, steps) };
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("bmi2")
                && std::arch::is_x86_feature_detected!("popcnt")
            {
                // SAFETY: as above.
                return unsafe { self.sample_avx2(st, batch, i, steps) };
            }
        }
        self.sample(st, batch, i, steps, None)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512vpopcntdq,avx2,bmi2,popcnt")]
    fn sample_avx512(&self, st: &mut SampleState, batch: &InputBatch, i: usize, steps: usize) -> SampleResult {
        self.sample(st, batch, i, steps, None)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,bmi2,popcnt")]
    fn sample_avx2(&self, st: &mut SampleState, batch: &InputBatch, i: usize, steps: usize) -> SampleResult {
        self.sample(st, batch, i, steps, None)
    }

    #[inline(always)]
    fn sample(
        &self,
        st: &mut SampleState,
        batch: &InputBatch,
        i: usize,
        steps: usize,
        mut tracer: Option<&mut dyn Tracer>,
    ) -> SampleResult {
        let plan = self.plan;
        let steps = steps.min(plan.timesteps);
        let nl = plan.layers.len();
        st.reset(plan);
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
                    // Take the source's list out while the phase mutates the state (a layer may
                    // read its own previous-step events).
                    let events: Vec<Event> = match p.source {
                        Source::Input => std::mem::take(&mut in_ev),
                        Source::Layer(s) => std::mem::take(&mut st.ev[s]),
                    };
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
                        st.counters.layers[s].event_reads += st.ev_entries[s];
                    }
                    let (ops0, w0) = (st.counters.layers[k].synaptic_ops, st.counters.layers[k].weight_reads);
                    self.accumulate(k, pi, &events, st);
                    self.check_after_acc(k, pi, st);
                    let lc = &mut st.counters.layers[k];
                    if lc.proj_synaptic_ops.len() < l.projections.len() {
                        lc.proj_synaptic_ops.resize(l.projections.len(), 0);
                        lc.proj_weight_reads.resize(l.projections.len(), 0);
                    }
                    lc.proj_synaptic_ops[pi] += lc.synaptic_ops - ops0;
                    lc.proj_weight_reads[pi] += lc.weight_reads - w0;
                    match p.source {
                        Source::Input => in_ev = events,
                        Source::Layer(s) => st.ev[s] = events,
                    }
                }
                let c = schedule::upd_cycles(l);
                let upd_start = cyc;
                cyc += c;
                st.counters.layers[k].cycles += c;
                st.counters.layers[k].update_passes += 1;
                let spikes_out = self.update(k, t, last, st, upd_start, &mut tracer);
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
                let c = schedule::exit_cycles();
                cyc += c;
                st.counters.control_cycles += c;
                let row = &raw[t * out_n..(t + 1) * out_n];
                for (c, v) in counts.iter_mut().zip(row) {
                    *c += v;
                }
                if decided(&counts, (steps - 1 - t) as i64) {
                    step_end.push(cyc);
                    if let Some(tr) = tracer.as_deref_mut() {
                        tr.step(cyc, t);
                    }
                    // The RTL clears every state memory before done.
                    let clear = schedule::clear_cycles(plan);
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
        SampleResult { raw, counters: std::mem::take(&mut st.counters), step_end_cycles: step_end }
    }

    /// One ACC phase: adds projection `pi`'s contributions of `events` into layer `k`.
    #[inline(always)]
    fn accumulate(&self, k: usize, pi: usize, events: &[Event], st: &mut SampleState) {
        let plan = self.plan;
        let l = &plan.layers[k];
        let p = &l.projections[pi];
        let bpe = beats_per_event(l, p);
        let ne = events.len() as u64;
        {
            let cnt = &mut st.counters.layers[k];
            cnt.events_in += ne;
            cnt.beats += bpe * ne;
            cnt.weight_reads += if weight_memory(l, p) { bpe * ne } else { 0 };
        }
        let bits = if p.target == AccTarget::Static {
            l.s_bits
        } else if l.kind.cuba() {
            l.y_bits
        } else {
            l.v_bits
        };
        let SampleState { x, s, y, counters, scratch, .. } = st;
        let dst: &mut Vec<i64> = match p.target {
            AccTarget::Static => &mut s[k],
            AccTarget::Dynamic if l.kind.cuba() => &mut y[k],
            AccTarget::Dynamic => &mut x[k],
        };
        let cnt = &mut counters.layers[k];
        let shift = p.shift;
        let [_, sh, sw] = p.src_shape;
        match (&p.kind, &self.fast[k][pi]) {
            (ProjKind::Dense { .. }, Fast::DenseBinary { pos, words }) => {
                dense_binary(events, (sh, sw), pos, *words, shift, dst, scratch);
                cnt.synaptic_ops += ne * l.neurons() as u64;
                cnt.state_reads += bpe * ne;
                cnt.state_writes += bpe * ne;
            }
            (ProjKind::Conv { .. }, Fast::ConvBinary { pos, words, taps_at }) if events.iter().all(|e| e.3 == 1) => {
                let geo = conv_geo(l, &p.kind).expect("a convolution");
                conv_binary(events, &geo, pos, *words, shift, dst, scratch);
                let valid: u64 = events.iter().map(|&(_, yy, xx, _)| u64::from(taps_at[yy * geo.iw + xx])).sum();
                cnt.synaptic_ops += valid * geo.co as u64;
                cnt.state_reads += valid * l.ncg as u64;
                cnt.state_writes += valid * l.ncg as u64;
            }
            (ProjKind::Conv { ci, groups, .. }, Fast::ConvCols(wt)) => {
                let geo = conv_geo(l, &p.kind).expect("a convolution");
                let valid = conv_cols(events, &geo, ci / groups, l.shape[0] / groups, wt, shift, dst, scratch);
                cnt.synaptic_ops += valid * (l.shape[0] / groups) as u64;
                cnt.state_reads += valid * l.ncg as u64;
                cnt.state_writes += valid * l.ncg as u64;
            }
            _ => self.scatter(k, pi, events, dst, bits, cnt),
        }
    }

    /// The per-event path, in the RTL's order (saturating layers, general weights).
    #[inline(always)]
    fn scatter(&self, k: usize, pi: usize, events: &[Event], dst: &mut [i64], bits: u32, cnt: &mut LayerCounters) {
        let l = &self.plan.layers[k];
        let p = &l.projections[pi];
        let shift = p.shift;
        let [_, sh, sw] = p.src_shape;
        let mut cands = vec![];
        let sat = l.saturate;
        let add = |d: &mut i64, v: i64, cnt: &mut LayerCounters| {
            *d = if sat { clamp(*d + v, bits, &mut cnt.saturations) } else { *d + v };
        };
        let cand_n = p.pre_pool.as_ref().map_or(1, |g| (g.candidates()[0] * g.candidates()[1]) as u64);
        let inner = beats_per_event(l, p) / cand_n;
        let mut pooled: Vec<Option<(usize, usize, usize)>> = vec![];
        for &(c, yy, xx, val) in events {
            // Pre-pooling: each candidate window becomes a pooled event.
            pooled.clear();
            match &p.pre_pool {
                Some(g) => {
                    pool_candidates(g, yy, xx, &mut cands);
                    pooled.extend(cands.iter().map(|o| o.map(|(a, b)| (c, a, b))));
                }
                None => pooled.push(Some((c, yy, xx))),
            }
            // A candidate outside the pooled map still costs its beats (counted in `beats`).
            for &(pc, py, px) in pooled.iter().flatten() {
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
                            add(d, (w as i64 * val) << shift, cnt);
                        }
                        cnt.synaptic_ops += n as u64;
                        cnt.state_reads += inner;
                        cnt.state_writes += inner;
                    }
                    (ProjKind::Dense { cols }, _) => {
                        // Binary dense on a saturating layer or with pre-pooling: per weight.
                        let (ph, pw) = match &p.pre_pool {
                            Some(g) => (g.out[0], g.out[1]),
                            None => (sh, sw),
                        };
                        let j = (pc * ph + py) * pw + px;
                        let n = l.neurons();
                        for (i, d) in dst.iter_mut().enumerate().take(n) {
                            add(d, (p.weights.values[i * cols + j] * val) << shift, cnt);
                        }
                        cnt.synaptic_ops += n as u64;
                        cnt.state_reads += inner;
                        cnt.state_writes += inner;
                    }
                    (ProjKind::Conv { ci, kh, kw, stride, pad, dil, groups, .. }, _) => {
                        let co = l.shape[0];
                        let (oh, ow) = (l.shape[1], l.shape[2]);
                        let ci_g = ci / groups;
                        let co_g = co / groups;
                        let grp = pc / ci_g;
                        let cil = pc % ci_g;
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
                        for &(oy, ox) in cands.iter().flatten() {
                            let n = (pc * l.shape[1] + oy) * l.shape[2] + ox;
                            add(&mut dst[n], (p.weights.at(n) * val) << shift, cnt);
                            cnt.synaptic_ops += 1;
                            cnt.state_reads += 1;
                            cnt.state_writes += 1;
                        }
                    }
                    (ProjKind::OneToOne, _) => {
                        // Flat index: reshapes keep the C-order element index.
                        let n = (pc * sh + py) * sw + px;
                        add(&mut dst[n], (p.weights.at(n) * val) << shift, cnt);
                        cnt.synaptic_ops += 1;
                        cnt.state_reads += 1;
                        cnt.state_writes += 1;
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
    #[inline(always)]
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
        if !l.saturate
            && !l.kind.cuba()
            && tracer.is_none()
            && self.prep[k].params_i32
            && (l.spiking() || k != plan.output.layer)
        {
            let p = plan.rules.leak_bits();
            return match &l.leak {
                Leak::Zero => self.update_plain(k, t, last, st, |_, _| 0),
                Leak::One => self.update_plain(k, t, last, st, |x, _| x),
                Leak::Shift { k: sh } => {
                    let sh = *sh;
                    self.update_plain(k, t, last, st, move |x, _| x - (x >> sh))
                }
                Leak::Mul { b } if b.len() == 1 => {
                    let b = b[0] as i128;
                    self.update_plain(k, t, last, st, move |x, _| ((x as i128 * b + (1i128 << (p - 1))) >> p) as i64)
                }
                Leak::Mul { b } => self
                    .update_plain(k, t, last, st, |x, i| ((x as i128 * b[i] as i128 + (1i128 << (p - 1))) >> p) as i64),
            };
        }
        let prep = &self.prep[k];
        let pr = &l.params;
        let p = plan.rules.leak_bits();
        let is_out = k == plan.output.layer;
        let n = l.neurons();
        let mut out = if is_out { vec![0i64; n] } else { vec![] };
        let mut events = std::mem::take(&mut st.ev[k]);
        events.clear();
        let spiking = l.spiking();
        let sat = l.saturate;
        let cuba = l.kind.cuba();
        let has_s = l.s_bits > 0;
        let undecayed = spiking && plan.reset == ResetMode::SubtractUndecayed;
        let (fire_eq, reset) = (plan.fire_on_equal, plan.reset);
        let SampleState { x, s, y, counters, ev_entries, .. } = st;
        let cnt = &mut counters.layers[k];
        let late = t > 0;
        let mut entries = 0u64;
        for row in 0..l.rows {
            let mut mask = 0u64;
            let first_event = events.len();
            for lane in 0..l.lanes {
                let slot = prep.slots[row * l.lanes + lane];
                if slot == u32::MAX {
                    continue;
                }
                let i = slot as usize;
                let mut sc = 0u64;
                let st_val = if has_s { s[k][i] } else { 0 };
                let mut v;
                if cuba {
                    let mut cur =
                        y[k][i] + st_val + at(&pr.syn_bias, i) + if late { at(&pr.syn_bias_late, i) } else { 0 };
                    if sat {
                        cur = clamp(cur, l.y_bits, &mut sc);
                    } else if !fits(cur, l.y_bits) {
                        cnt.overflows += 1;
                    }
                    let sl = l.syn_leak.as_ref().expect("cuba layers have a synaptic leak");
                    y[k][i] = if last { 0 } else { leak(sl, cur, p, i) };
                    v = x[k][i] + cur + at(&pr.bias, i) + if late { at(&pr.bias_late, i) } else { 0 };
                } else {
                    v = x[k][i] + st_val + at(&pr.bias, i) + if late { at(&pr.bias_late, i) } else { 0 };
                }
                if sat {
                    v = clamp(v, l.v_bits, &mut sc);
                } else if !fits(v, l.v_bits) {
                    cnt.overflows += 1;
                }
                let thr = at(&pr.thr, i);
                let spike = spiking && if fire_eq { v >= thr } else { v > thr };
                let vhat = match reset {
                    ResetMode::Zero if spike => at(&pr.vreset, i),
                    ResetMode::Subtract if spike => v - thr,
                    _ => v,
                };
                let mut next = leak(&l.leak, vhat, p, i);
                if undecayed && spike {
                    next -= thr;
                }
                if sat {
                    next = clamp(next, l.v_bits, &mut sc);
                } else if !fits(next, l.v_bits) {
                    cnt.overflows += 1;
                }
                x[k][i] = if last { 0 } else { next };
                if has_s && last {
                    s[k][i] = 0;
                }
                cnt.saturations += sc;
                if spike {
                    mask |= 1 << lane;
                    let (c, yy, xx) = prep.coords[i];
                    events.push((c as usize, yy as usize, xx as usize, 1i64));
                }
                if is_out {
                    out[i] = if spiking { i64::from(spike) } else { v };
                }
                if let Some(tr) = tracer.as_deref_mut() {
                    tr.neuron(start + schedule::UPD_HEAD + schedule::UPD_TAIL + row as u64, k, i, v, spike);
                }
            }
            if mask != 0 {
                entries += 1;
                cnt.spikes += (events.len() - first_event) as u64;
            }
        }
        cnt.event_writes += entries;
        ev_entries[k] = entries;
        cnt.neuron_updates += n as u64;
        cnt.state_reads += l.rows as u64;
        cnt.state_writes += l.rows as u64;
        if prep.param_rom {
            cnt.param_reads += l.rows as u64;
        }
        st.ev[k] = events;
        out
    }
}

impl Engine<'_> {
    /// The update pass of a non-saturating, non-current-based layer without a tracer: the
    /// same arithmetic as [`Engine::update`], in two passes. The first runs over the neurons
    /// in index order without data-dependent branches (it vectorises) and records which
    /// fired; the second emits the events in the RTL's (row, lane) order.
    #[inline(always)]
    fn update_plain(
        &self,
        k: usize,
        t: usize,
        last: bool,
        st: &mut SampleState,
        leak: impl Fn(i64, usize) -> i64 + Copy,
    ) -> Vec<i64> {
        let plan = self.plan;
        let l = &plan.layers[k];
        let prep = &self.prep[k];
        let n = l.neurons();
        let spiking = l.spiking();
        let mut fired = std::mem::take(&mut st.fired[k]);
        fired.resize(n, 0);
        let zeros = &prep.zeros[..n];
        let xk = &mut st.x[k][..n];
        let stat: &[i64] = if l.s_bits > 0 { &st.s[k][..n] } else { zeros };
        let params = UpdParams {
            thr: &prep.thr_full[..n],
            bias: &prep.bias_full[..n],
            bias_late: if t > 0 { &prep.bias_late_full[..n] } else { &prep.zero32[..n] },
            vreset: &prep.vreset_full[..n],
            hi: (1i64 << (l.v_bits - 1)) - 1,
            lo: -(1i64 << (l.v_bits - 1)),
            spiking,
        };
        let fired_s = &mut fired[..n];
        let overflows = match (plan.reset, plan.fire_on_equal) {
            (ResetMode::Zero, false) => upd_core::<0, false>(xk, stat, &params, fired_s, leak),
            (ResetMode::Zero, true) => upd_core::<0, true>(xk, stat, &params, fired_s, leak),
            (ResetMode::Subtract, false) => upd_core::<1, false>(xk, stat, &params, fired_s, leak),
            (ResetMode::Subtract, true) => upd_core::<1, true>(xk, stat, &params, fired_s, leak),
            (ResetMode::SubtractUndecayed, false) => upd_core::<2, false>(xk, stat, &params, fired_s, leak),
            (ResetMode::SubtractUndecayed, true) => upd_core::<2, true>(xk, stat, &params, fired_s, leak),
        };
        if last {
            xk.fill(0);
            if l.s_bits > 0 {
                st.s[k].fill(0);
            }
        }
        // Non-spiking output layers take the general path (they output V, not flags).
        let out = if k == plan.output.layer { fired.iter().map(|&f| i64::from(f)).collect() } else { vec![] };
        let mut events = std::mem::take(&mut st.ev[k]);
        events.clear();
        let mut entries = 0u64;
        if spiking {
            // Branch-free in (row, lane) order: every used slot writes its neuron index and the
            // length advances only by the fired flag; the events are then read off the indices.
            let idx = &mut st.scratch.idx;
            idx.clear();
            idx.resize(n, 0);
            let mut len = 0usize;
            for r in prep.row_start.windows(2) {
                let mut any = 0u8;
                for &i in &prep.order[r[0] as usize..r[1] as usize] {
                    let f = fired[i as usize];
                    idx[len] = i;
                    len += usize::from(f);
                    any |= f;
                }
                entries += u64::from(any);
            }
            events.extend(idx[..len].iter().map(|&i| prep.event_of[i as usize]));
        }
        let cnt = &mut st.counters.layers[k];
        cnt.overflows += overflows;
        cnt.spikes += events.len() as u64;
        cnt.event_writes += entries;
        st.ev_entries[k] = entries;
        cnt.neuron_updates += n as u64;
        cnt.state_reads += l.rows as u64;
        cnt.state_writes += l.rows as u64;
        if prep.param_rom {
            cnt.param_reads += l.rows as u64;
        }
        st.ev[k] = events;
        st.fired[k] = fired;
        out
    }
}

/// Per-neuron parameters of one update pass (slices of length n).
struct UpdParams<'a> {
    thr: &'a [i32],
    bias: &'a [i32],
    bias_late: &'a [i32],
    vreset: &'a [i32],
    hi: i64,
    lo: i64,
    spiking: bool,
}

/// The branch-free neuron update: V = x + static + biases, fire, reset (`RESET`: 0 zero,
/// 1 subtract, 2 subtract-undecayed), decay; writes the next x and the fired flags and
/// returns the number of values outside the membrane width.
#[inline(always)]
fn upd_core<const RESET: u8, const EQ: bool>(
    x: &mut [i64],
    stat: &[i64],
    p: &UpdParams,
    fired: &mut [u8],
    leak: impl Fn(i64, usize) -> i64,
) -> u64 {
    let n = x.len();
    let (stat, thr, bias, bl, vr, fired) =
        (&stat[..n], &p.thr[..n], &p.bias[..n], &p.bias_late[..n], &p.vreset[..n], &mut fired[..n]);
    let mut overflows = 0u64;
    for i in 0..n {
        let v = x[i] + stat[i] + i64::from(bias[i]) + i64::from(bl[i]);
        let th = i64::from(thr[i]);
        let spike = p.spiking & if EQ { v >= th } else { v > th };
        let vhat = match RESET {
            0 => {
                if spike {
                    i64::from(vr[i])
                } else {
                    v
                }
            }
            1 => v - if spike { th } else { 0 },
            _ => v,
        };
        let mut next = leak(vhat, i);
        if RESET == 2 {
            next -= if spike { th } else { 0 };
        }
        overflows += u64::from(v > p.hi || v < p.lo) + u64::from(next > p.hi || next < p.lo);
        x[i] = next;
        fired[i] = u8::from(spike);
    }
    overflows
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

/// Packed binary dense accumulation: per output row i, `sum_j sign_ij * x_j`, as bit-plane
/// popcounts (one plane when every event value is 1; sign-magnitude planes otherwise).
#[inline(always)]
fn dense_binary(
    events: &[Event],
    shape: (usize, usize),
    pos: &[u64],
    words: usize,
    shift: u32,
    dst: &mut [i64],
    scratch: &mut Scratch,
) {
    if events.iter().all(|e| e.3 == 1) {
        // Spikes: one plane, `2*popcount(row & in) - |in|` per row.
        let (sh, sw) = shape;
        let bits = &mut scratch.bits;
        bits.clear();
        bits.resize(words, 0);
        for &(c, yy, xx, _) in events {
            let j = (c * sh + yy) * sw + xx;
            bits[j / 64] |= 1 << (j % 64);
        }
        let total = events.len() as i64;
        for (d, row) in dst.iter_mut().zip(pos.chunks_exact(words)) {
            let pc: i64 = row.iter().zip(bits.iter()).map(|(a, b)| (a & b).count_ones() as i64).sum();
            *d += (2 * pc - total) << shift;
        }
        return;
    }
    dense_binary_body(events, shape, pos, words, shift, dst)
}

#[inline(always)]
fn dense_binary_body(
    events: &[Event],
    (sh, sw): (usize, usize),
    pos: &[u64],
    words: usize,
    shift: u32,
    dst: &mut [i64],
) {
    // Planes: (coefficient, bits, number of set bits).
    let mut planes: Vec<(i64, Vec<u64>, i64)> = vec![];
    let plane = |coef: i64, j: usize, planes: &mut Vec<(i64, Vec<u64>, i64)>| {
        let idx = match planes.iter().position(|p| p.0 == coef) {
            Some(i) => i,
            None => {
                planes.push((coef, vec![0u64; words], 0));
                planes.len() - 1
            }
        };
        let p = &mut planes[idx];
        p.1[j / 64] |= 1 << (j % 64);
        p.2 += 1;
    };
    for &(c, yy, xx, v) in events {
        let j = (c * sh + yy) * sw + xx;
        let (sign, mut mag) = if v < 0 { (-1i64, v.unsigned_abs()) } else { (1i64, v as u64) };
        let mut b = 0;
        while mag != 0 {
            if mag & 1 == 1 {
                plane(sign << b, j, &mut planes);
            }
            mag >>= 1;
            b += 1;
        }
    }
    for (i, d) in dst.iter_mut().enumerate() {
        let row = &pos[i * words..(i + 1) * words];
        let mut acc = 0i64;
        for (coef, bits, total) in &planes {
            let pc: i64 = row.iter().zip(bits).map(|(a, b)| (a & b).count_ones() as i64).sum();
            acc += coef * (2 * pc - total);
        }
        *d += acc << shift;
    }
}

/// The geometry of a convolution projection into layer `l`.
fn conv_geo(l: &Layer, kind: &ProjKind) -> Option<ConvGeo> {
    match kind {
        ProjKind::Conv { ih, iw, kh, kw, stride, pad, dil, .. } => Some(ConvGeo {
            ih: *ih,
            iw: *iw,
            kh: *kh,
            kw: *kw,
            stride: *stride,
            pad: *pad,
            dil: *dil,
            co: l.shape[0],
            oh: l.shape[1],
            ow: l.shape[2],
        }),
        _ => None,
    }
}

/// Geometry of a convolution projection.
struct ConvGeo {
    ih: usize,
    iw: usize,
    kh: usize,
    kw: usize,
    stride: [usize; 2],
    pad: [usize; 2],
    dil: [usize; 2],
    co: usize,
    oh: usize,
    ow: usize,
}

impl ConvGeo {
    /// Output coordinate along one axis that input `i` reaches through kernel tap `k`.
    #[inline]
    fn target(&self, d: usize, i: usize, k: usize) -> Option<usize> {
        let n = i as isize + self.pad[d] as isize - (k * self.dil[d]) as isize;
        let out = if d == 0 { self.oh } else { self.ow };
        (n >= 0 && (n as usize).is_multiple_of(self.stride[d]) && (n as usize / self.stride[d]) < out)
            .then(|| n as usize / self.stride[d])
    }

    /// Kernel taps of an input at (y, x) that land inside the output.
    fn valid_targets(&self, y: usize, x: usize) -> usize {
        let ny = (0..self.kh).filter(|&k| self.target(0, y, k).is_some()).count();
        let nx = (0..self.kw).filter(|&k| self.target(1, x, k).is_some()).count();
        ny * nx
    }
}

/// Convolution event by event into a position-major accumulator (each tap adds one
/// contiguous run of output channels), then added into `dst`, which is channel-major. Only
/// for non-saturating layers: the sums are the per-event path's, in another order, which
/// range analysis makes irrelevant. Returns the valid taps (for the counters).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn conv_cols(
    events: &[Event],
    g: &ConvGeo,
    ci_g: usize,
    co_g: usize,
    wt: &[i32],
    shift: u32,
    dst: &mut [i64],
    scratch: &mut Scratch,
) -> u64 {
    let pix = g.oh * g.ow;
    let taps = g.kh * g.kw;
    let acc = &mut scratch.res;
    acc.clear();
    acc.resize(pix * g.co, 0);
    let mut valid = 0u64;
    for &(c, yy, xx, val) in events {
        let grp = c / ci_g;
        for ky in 0..g.kh {
            let Some(oy) = g.target(0, yy, ky) else { continue };
            for kx in 0..g.kw {
                let Some(ox) = g.target(1, xx, kx) else { continue };
                valid += 1;
                let w = &wt[(c * taps + ky * g.kw + kx) * co_g..][..co_g];
                let a = &mut acc[(oy * g.ow + ox) * g.co + grp * co_g..][..co_g];
                if val == 1 {
                    for (a, &w) in a.iter_mut().zip(w) {
                        *a += i64::from(w);
                    }
                } else {
                    for (a, &w) in a.iter_mut().zip(w) {
                        *a += i64::from(w) * val;
                    }
                }
            }
        }
    }
    // Blocked transpose-add, as in conv_binary.
    for p0 in (0..pix).step_by(16) {
        let p1 = (p0 + 16).min(pix);
        for o in 0..g.co {
            for (k, d) in dst[o * pix + p0..o * pix + p1].iter_mut().enumerate() {
                *d += acc[(p0 + k) * g.co + o] << shift;
            }
        }
    }
    valid
}

/// Packed binary convolution from spikes: input spikes packed over channels per position,
/// weights packed per (tap, output channel); every output gathers `2*popcount(in & w+) - |in|`
/// over its taps.
#[inline(always)]
fn conv_binary(
    events: &[Event],
    g: &ConvGeo,
    pos: &[u64],
    words: usize,
    shift: u32,
    dst: &mut [i64],
    scratch: &mut Scratch,
) {
    conv_binary_body(events, g, pos, words, shift, dst, scratch)
}

#[inline(always)]
fn conv_binary_body(
    events: &[Event],
    g: &ConvGeo,
    pos: &[u64],
    words: usize,
    shift: u32,
    dst: &mut [i64],
    scratch: &mut Scratch,
) {
    let npos = g.ih * g.iw;
    let Scratch { inmap, cnt, acc, res, .. } = scratch;
    inmap.clear();
    inmap.resize(npos * words, 0);
    cnt.clear();
    cnt.resize(npos, 0);
    for &(c, yy, xx, _) in events {
        let p = yy * g.iw + xx;
        inmap[p * words + c / 64] |= 1 << (c % 64);
        cnt[p] += 1;
    }
    let co = g.co;
    acc.clear();
    acc.resize(co, 0);
    let plane = g.oh * g.ow;
    // Results position-major first (contiguous writes), added to the channel-major state once.
    res.clear();
    res.resize(plane * co, 0);
    for oy in 0..g.oh {
        for ox in 0..g.ow {
            acc.iter_mut().for_each(|a| *a = 0);
            let mut total = 0i64;
            for ky in 0..g.kh {
                // Input row reaching (oy, ox) through tap ky: iy = oy*s + ky*d - pad.
                let iy = (oy * g.stride[0] + ky * g.dil[0]) as isize - g.pad[0] as isize;
                if iy < 0 || iy as usize >= g.ih {
                    continue;
                }
                for kx in 0..g.kw {
                    let ix = (ox * g.stride[1] + kx * g.dil[1]) as isize - g.pad[1] as isize;
                    if ix < 0 || ix as usize >= g.iw {
                        continue;
                    }
                    let p = iy as usize * g.iw + ix as usize;
                    if cnt[p] == 0 {
                        continue;
                    }
                    total += cnt[p];
                    let tap = ky * g.kw + kx;
                    for wd in 0..words {
                        let m = inmap[p * words + wd];
                        if m == 0 {
                            continue;
                        }
                        let wrow = &pos[(tap * words + wd) * co..(tap * words + wd + 1) * co];
                        for (a, w) in acc.iter_mut().zip(wrow) {
                            *a += u64::from((m & w).count_ones());
                        }
                    }
                }
            }
            if total > 0 {
                let o0 = oy * g.ow + ox;
                for (r, a) in res[o0 * co..(o0 + 1) * co].iter_mut().zip(acc.iter()) {
                    *r = (2 * *a as i64 - total) << shift;
                }
            }
        }
    }
    // Blocked transpose-add: 16 positions at a time keep both sides in cache.
    for p0 in (0..plane).step_by(16) {
        let p1 = (p0 + 16).min(plane);
        for o in 0..co {
            let d = &mut dst[o * plane + p0..o * plane + p1];
            for (k, v) in d.iter_mut().enumerate() {
                *v += res[(p0 + k) * co + o];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (tests only).
    fn lcg(seed: &mut u64) -> u64 {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        *seed >> 33
    }

    #[test]
    fn packed_dense_equals_per_event_sums() {
        let mut r = 7u64;
        for &(cols, n) in &[(70usize, 9usize), (130, 33), (64, 1)] {
            let w: Vec<i64> = (0..n * cols).map(|_| if lcg(&mut r).is_multiple_of(2) { 1 } else { -1 }).collect();
            let words = cols.div_ceil(64);
            let pos = bits_of(cols, words, |i, j| w[i * cols + j] > 0, n);
            for vals in [vec![1i64], vec![1, 3, 17, 255], vec![-5, 7, -128, 1]] {
                let mut events: Vec<Event> = vec![];
                for j in 0..cols {
                    if lcg(&mut r).is_multiple_of(3) {
                        events.push((j, 0, 0, vals[lcg(&mut r) as usize % vals.len()]));
                    }
                }
                let mut fast = vec![5i64; n];
                dense_binary(&events, (1, 1), &pos, words, 3, &mut fast, &mut Scratch::default());
                let mut slow = vec![5i64; n];
                for &(j, _, _, v) in &events {
                    for i in 0..n {
                        slow[i] += (w[i * cols + j] * v) << 3;
                    }
                }
                assert_eq!(fast, slow);
            }
        }
    }

    #[test]
    fn column_conv_equals_per_event_sums() {
        let mut r = 13u64;
        for &(ci, co, groups, ih, k, s, pad, dil) in &[
            (3usize, 6usize, 1usize, 7usize, 3usize, 1usize, 1usize, 1usize),
            (8, 4, 2, 6, 3, 2, 1, 1),
            (4, 8, 4, 9, 2, 1, 0, 2),
        ] {
            let oh = (ih + 2 * pad - dil * (k - 1) - 1) / s + 1;
            let g =
                ConvGeo { ih, iw: ih, kh: k, kw: k, stride: [s, s], pad: [pad, pad], dil: [dil, dil], co, oh, ow: oh };
            let (ci_g, co_g, taps) = (ci / groups, co / groups, k * k);
            let w: Vec<i64> = (0..co * ci_g * taps).map(|_| lcg(&mut r) as i64 % 255 - 127).collect();
            let mut wt = vec![0i32; w.len()];
            for o in 0..co {
                for cil in 0..ci_g {
                    for tap in 0..taps {
                        wt[(((o / co_g) * ci_g + cil) * taps + tap) * co_g + o % co_g] =
                            w[(o * ci_g + cil) * taps + tap] as i32;
                    }
                }
            }
            for vals in [vec![1i64], vec![1, 3, 17, 255], vec![-5, 7, -128, 1]] {
                let mut events: Vec<Event> = vec![];
                for e in 0..ci * ih * ih {
                    if lcg(&mut r).is_multiple_of(3) {
                        events.push((e / (ih * ih), (e / ih) % ih, e % ih, vals[lcg(&mut r) as usize % vals.len()]));
                    }
                }
                let mut fast = vec![9i64; co * oh * oh];
                let valid = conv_cols(&events, &g, ci_g, co_g, &wt, 2, &mut fast, &mut Scratch::default());
                let mut slow = vec![9i64; co * oh * oh];
                let mut taps_hit = 0u64;
                for &(c, y, x, v) in &events {
                    let (grp, cil) = (c / ci_g, c % ci_g);
                    for ky in 0..k {
                        for kx in 0..k {
                            if let (Some(oy), Some(ox)) = (g.target(0, y, ky), g.target(1, x, kx)) {
                                taps_hit += 1;
                                for col in 0..co_g {
                                    let o = grp * co_g + col;
                                    slow[(o * oh + oy) * oh + ox] += (w[((o * ci_g + cil) * k + ky) * k + kx] * v) << 2;
                                }
                            }
                        }
                    }
                }
                assert_eq!(fast, slow, "ci {ci} co {co} groups {groups}");
                assert_eq!(valid, taps_hit);
            }
        }
    }

    #[test]
    fn packed_conv_equals_per_event_sums() {
        let mut r = 11u64;
        for &(ci, co, ih, k, s, pad, dil) in
            &[(3usize, 5usize, 7usize, 3usize, 1usize, 1usize, 1usize), (70, 4, 6, 3, 2, 1, 1), (8, 3, 9, 2, 1, 0, 2)]
        {
            let oh = (ih + 2 * pad - dil * (k - 1) - 1) / s + 1;
            let g =
                ConvGeo { ih, iw: ih, kh: k, kw: k, stride: [s, s], pad: [pad, pad], dil: [dil, dil], co, oh, ow: oh };
            let w: Vec<i64> =
                (0..co * ci * k * k).map(|_| if lcg(&mut r).is_multiple_of(2) { 1 } else { -1 }).collect();
            let words = ci.div_ceil(64);
            let taps = k * k;
            let mut pos = vec![0u64; taps * words * co];
            for o in 0..co {
                for c in 0..ci {
                    for tap in 0..taps {
                        if w[(o * ci + c) * taps + tap] > 0 {
                            pos[(tap * words + c / 64) * co + o] |= 1 << (c % 64);
                        }
                    }
                }
            }
            let events: Vec<Event> = (0..ci * ih * ih)
                .filter(|_| lcg(&mut r).is_multiple_of(4))
                .map(|e| (e / (ih * ih), (e / ih) % ih, e % ih, 1))
                .collect();
            let mut fast = vec![0i64; co * oh * oh];
            conv_binary(&events, &g, &pos, words, 2, &mut fast, &mut Scratch::default());
            let mut slow = vec![0i64; co * oh * oh];
            for &(c, y, x, _) in &events {
                for ky in 0..k {
                    for kx in 0..k {
                        if let (Some(oy), Some(ox)) = (g.target(0, y, ky), g.target(1, x, kx)) {
                            for o in 0..co {
                                slow[(o * oh + oy) * oh + ox] += w[((o * ci + c) * k + ky) * k + kx] << 2;
                            }
                        }
                    }
                }
            }
            assert_eq!(fast, slow, "ci {ci} co {co}");
        }
    }
}
