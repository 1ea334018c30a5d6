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
use crate::hw::{Layer, Plan, Schedule};
use crate::ir::ResetMode;
use crate::quant::{AccTarget, Leak, PoolGeom, ProjKind, Projection, Source, WeightValues, at};

mod kernels;
mod pass;
mod word;

use word::Word;

/// Projections per layer whose counters a [`LayerCounters`] holds without a heap allocation.
pub const INLINE_PROJECTIONS: usize = 4;

/// One counter per projection of a layer.
pub type ProjCounts = smallvec::SmallVec<[u64; INLINE_PROJECTIONS]>;

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
    /// Synaptic accumulates per projection (inline up to [`INLINE_PROJECTIONS`]).
    pub proj_synaptic_ops: ProjCounts,
    /// Weight memory words read per projection.
    pub proj_weight_reads: ProjCounts,
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
        if self.proj_synaptic_ops.len() < o.proj_synaptic_ops.len() {
            self.proj_synaptic_ops.resize(o.proj_synaptic_ops.len(), 0);
            self.proj_weight_reads.resize(o.proj_synaptic_ops.len(), 0);
        }
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
    run_passes(plan, batch, steps, pass::samples_per_pass(plan, batch.n))
}

/// [`run`] with up to `samples_per_pass` samples side by side in each pass (what [`run`]
/// chooses from the network's size); the results do not depend on it.
pub fn run_passes(plan: &Plan, batch: &InputBatch, steps: usize, samples_per_pass: usize) -> BatchResult {
    run_passes_simd(plan, batch, steps, samples_per_pass, Simd::Best)
}

/// The widest vector instructions the fast path may use (it uses the widest the CPU has up
/// to this); the results do not depend on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Simd {
    /// AVX-512 with vector popcounts where present, else as [`Simd::Avx2`].
    Best,
    /// AVX2, BMI2 and POPCNT where present, else portable.
    Avx2,
    /// The build's baseline instruction set.
    Portable,
}

/// [`run_passes`] on at most the instruction set `simd`.
pub fn run_passes_simd(
    plan: &Plan,
    batch: &InputBatch,
    steps: usize,
    samples_per_pass: usize,
    simd: Simd,
) -> BatchResult {
    let cap = samples_per_pass.max(1);
    let eng = Engine::new(plan, cap);
    // Passes of up to `cap` samples run in parallel; each worker reuses one pass's buffers.
    let starts: Vec<usize> = (0..batch.n).step_by(cap).collect();
    let parts: Vec<Vec<SampleResult>> = starts
        .into_par_iter()
        .map_init(
            || pass::Leases::new(plan, cap),
            |ls, first| eng.run_pass(ls, batch, first, cap.min(batch.n - first), steps, simd),
        )
        .collect();
    let mut samples: Vec<SampleResult> = Vec::with_capacity(batch.n);
    for p in parts {
        samples.extend(p);
    }
    let mut total = Counters::default();
    for s in &samples {
        total.add(&s.counters);
    }
    let out_layer = &plan.layers[plan.output.layer];
    let numel = out_layer.neurons();
    let mut data = Vec::with_capacity(batch.n * steps * numel);
    for s in &samples {
        if plan.output.spikes {
            data.extend(s.raw.iter().map(|&v| v as f64));
        } else {
            data.extend(s.raw.iter().enumerate().map(|(j, &v)| v as f64 * at_f(&out_layer.unit, j % numel)));
        }
        // Steps after an early exit are zero.
        data.resize(data.len() + steps * numel - s.raw.len(), 0.0);
    }
    let outputs = Outputs { n: batch.n, steps, numel, shape: out_shape(plan), spikes: plan.output.spikes, data };
    BatchResult { samples, outputs, total }
}

/// True when the fast path keeps `plan`'s state in i32 words (half the memory, twice the
/// vector lanes of i64), rerunning a pass in i64 if a value leaves its width; the results
/// are the same either way.
pub fn narrow_state(plan: &Plan) -> bool {
    Engine::new(plan, 1).narrow
}

/// Runs one sample with a tracer attached, on the general path: every event scattered in
/// the RTL's order, every neuron updated on its own (the fast path is checked against it).
pub fn run_traced(
    plan: &Plan,
    batch: &InputBatch,
    sample: usize,
    steps: usize,
    tracer: &mut dyn Tracer,
) -> SampleResult {
    Engine::new(plan, 1).sample(&mut SampleState::new(plan), batch, sample, steps, tracer)
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
    ConvBinary {
        pos: Vec<u64>,
        words: usize,
        taps_at: Vec<u32>,
        /// The weights as i16 [input channel][tap][output channel] for the per-event kernel
        /// (empty when `ci * taps` might not fit i16).
        w16: Vec<i16>,
        table: TapTable,
        /// For fewer than 64 input channels: the +1 weights of each output channel's whole
        /// window, bit `tap * ci + c`, as [window word][output channel] (else empty).
        win: Vec<u64>,
    },
    /// One-to-one weights expanded to one per neuron.
    OneToOne(Vec<i64>),
    /// Dense after a pre-pooling stage: row-major weights `wr[i * cols + j]`, and for every
    /// source position the pooled positions whose window holds it
    /// (`table[start[q]..start[q + 1]]`, as `py * pw + px`; `pooled = ph * pw`).
    PoolDense {
        wr: Vec<i32>,
        table: Vec<u32>,
        start: Vec<u32>,
        /// The inverse of `table`: per pooled position, the source positions in its window
        /// (`members[mstart[pp]..mstart[pp + 1]]`, with `table`'s multiplicities).
        members: Vec<u32>,
        mstart: Vec<u32>,
        pooled: usize,
        /// Spike inputs keep every dot product within i32 (`cols * window * max |w|`).
        fits32: bool,
    },
    /// Column-major dense weights `w[j * n + i]`.
    DenseCols(Vec<i32>),
    /// Convolution weights as [input channel][tap][output channel of its group]: one
    /// contiguous run per event and tap (non-saturating layers, weights within i32).
    ConvCols { wt: Vec<i32>, table: TapTable },
    /// Other kinds use the plan's weights directly.
    Scatter,
}

/// The +1 weights of `rows` rows of `n` values (`w`, row-major) as bitsets of `words` words
/// per row (bit j of a row: its column j is positive); packed signs are copied 64 at a time.
fn bits_of(w: &WeightValues, n: usize, words: usize, rows: usize) -> Vec<u64> {
    let mut v = vec![0u64; rows * words];
    for (r, bits) in v.chunks_exact_mut(words).enumerate() {
        for (wi, word) in bits.iter_mut().enumerate() {
            let (start, len) = (r * n + wi * 64, 64.min(n - wi * 64));
            *word = match w {
                WeightValues::Signs { words: signs, .. } => {
                    let (at, off) = (start / 64, start % 64);
                    let lo = signs[at] >> off;
                    let hi = if off > 0 { signs.get(at + 1).map_or(0, |h| h << (64 - off)) } else { 0 };
                    (lo | hi) & (u64::MAX >> (64 - len))
                }
                WeightValues::Ints(vals) => {
                    vals[start..start + len].iter().enumerate().fold(0, |a, (bit, &x)| a | (u64::from(x > 0) << bit))
                }
            };
        }
    }
    v
}

/// For every input position of a convolution, the kernel taps that land inside the output
/// and where: `(tap, output position)` pairs in tap order, `ent[start[p]..start[p + 1]]`.
struct TapTable {
    start: Vec<u32>,
    ent: Vec<(u32, u32)>,
}

/// Most entries a [`TapTable`] holds (128 MiB; a 32x32 map under a 3x3 kernel needs 9,216); a
/// convolution with more runs on the general path, which finds each event's taps as it goes.
const TAP_TABLE_MAX: u64 = 1 << 24;

impl TapTable {
    /// The table, built from each axis' closed-form tap runs (`hw::taps::valid_taps`), so its
    /// cost is its size; None when it would hold more than [`TAP_TABLE_MAX`] entries.
    fn new(g: &ConvGeo) -> Option<Self> {
        let runs = |d: usize, extent: usize, k: usize, out: usize| -> Vec<(usize, usize, usize)> {
            (0..extent).map(|i| crate::hw::taps::valid_taps(i + g.pad[d], k, g.stride[d], g.dil[d], out)).collect()
        };
        let (ry, rx) = (runs(0, g.ih, g.kh, g.oh), runs(1, g.iw, g.kw, g.ow));
        let total = |r: &[(usize, usize, usize)]| r.iter().map(|&(_, n, _)| n as u64).sum::<u64>();
        if total(&ry).checked_mul(total(&rx)).is_none_or(|n| n > TAP_TABLE_MAX) {
            return None;
        }
        let (mut start, mut ent) = (vec![0u32], vec![]);
        let at = |d: usize, i: usize, t: usize| (i + g.pad[d] - t * g.dil[d]) / g.stride[d];
        for (y, &(ky0, ny, sy)) in ry.iter().enumerate() {
            for (x, &(kx0, nx, sx)) in rx.iter().enumerate() {
                for ky in (0..ny).map(|i| ky0 + i * sy) {
                    let oy = at(0, y, ky);
                    for kx in (0..nx).map(|i| kx0 + i * sx) {
                        ent.push(((ky * g.kw + kx) as u32, (oy * g.ow + at(1, x, kx)) as u32));
                    }
                }
                start.push(ent.len() as u32);
            }
        }
        Some(TapTable { start, ent })
    }

    #[inline(always)]
    fn at(&self, p: usize) -> &[(u32, u32)] {
        &self.ent[self.start[p] as usize..self.start[p + 1] as usize]
    }

    /// Valid taps per input position.
    fn counts(&self) -> Vec<u32> {
        self.start.windows(2).map(|w| w[1] - w[0]).collect()
    }
}

/// Per-layer tables for the update pass (computed once per plan).
struct LayerPrep {
    /// Neuron of each (row, lane), `u32::MAX` for padding lanes.
    slots: Vec<u32>,
    /// (channel, y, x) of each neuron.
    coords: Vec<(u32, u32, u32)>,
    /// The layer has a per-neuron parameter ROM (counted as reads).
    param_rom: bool,
    /// Parameters expanded to one value per neuron, when they fit i32 (wider ones only occur
    /// in pathological plans, which take the general path); repeated for every sample of a
    /// pass when the layer is updated in one sweep over the pass ([`pass::SWEEP_SAMPLES_BELOW`]).
    /// Each table has `table_len` values (a multiple of the neurons).
    table_len: usize,
    thr_full: Vec<i32>,
    bias_full: Vec<i32>,
    bias_late_full: Vec<i32>,
    vreset_full: Vec<i32>,
    /// Per-neuron leak multipliers, repeated as the parameters (`Leak::Mul` with one value
    /// per neuron), else empty.
    leak_full: Vec<i64>,
    /// Zeros, as many as a parameter table (absent static state, the first step's late bias).
    zeros: Vec<i64>,
    zero32: Vec<i32>,
    /// Every parameter fits i32 (else the general update path is used).
    params_i32: bool,
    /// The update adds a static accumulation or a bias (else V = X).
    extra: bool,
    /// The used slots' neurons in (row, lane) order.
    order: Vec<u32>,
    /// Channels of each lane group (a row holds one lane group at one position):
    /// `group_chans[group_start[g]..group_start[g + 1]]`.
    group_chans: Vec<u32>,
    group_start: Vec<u32>,
    /// Row r holds neurons `r*lanes ..` (one position per channel, lane groups of
    /// consecutive channels): a dense layer without groups.
    contiguous: Option<pass::RowFold>,
    /// The event each neuron emits.
    event_of: Vec<Event>,
}

/// How consumers read a layer's events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Lists {
    /// Only as fired flags (binary dense and convolution, one-to-one, and pooled or
    /// column-weight dense consumers of a plain layer): no event list.
    None,
    /// As a list in any order (non-saturating consumers: sums do not depend on order).
    Any,
    /// As a list in the RTL's (row, lane) order (a saturating consumer clamps every write).
    Ordered,
}

struct Engine<'p> {
    plan: &'p Plan,
    fast: Vec<Vec<Fast>>,
    /// Per layer and projection: beats per event and whether a beat reads a weight memory.
    beats: Vec<Vec<(u64, bool)>>,
    /// Per layer and projection: the beats of an event at each source position (y * W + x)
    /// when they differ by position (a convolution clipped at the borders,
    /// [`schedule::beats_at`]); else every event costs `beats`'s.
    beats_at: Vec<Vec<Option<Vec<u32>>>>,
    prep: Vec<LayerPrep>,
    /// How each layer's consumers read its events.
    lists: Vec<Lists>,
    /// Per layer: the fast path updates it in one branch-free sweep ([`upd_core`]), so its
    /// events are exactly its fired flags, each of value 1.
    plain: Vec<bool>,
    /// Words of the input's bit planes when binary dense projections read the input, all in
    /// its own layout (the planes are then built once per input load, for all of them).
    input_planes: Option<usize>,
    /// Some projection reads the input as an event list (else only shared planes do).
    input_list: bool,
    /// Per layer: the global index of its first projection (layers' projections numbered
    /// in order), and the number of projections in all.
    proj_base: Vec<usize>,
    nproj: usize,
    /// Passes may keep state in i32 ([`word`]): every layer is plain, every projection has a
    /// narrow kernel, and no value a pass computes from in-width values can leave i32.
    narrow: bool,
    /// The pipelined schedule's dependencies (None: sequential).
    pipe: Option<schedule::Pipe>,
}

/// Whether passes over `plan` may keep state in i32 (see [`word`]). Starting from values
/// within their checked widths, bounds every value a narrow pass computes before the next
/// check: the state after each ACC phase (its width plus the most one phase can add to a
/// neuron) and the update's V and next state. Every bound must stay below 2^31.
fn narrow_fits(plan: &Plan, fast: &[Vec<Fast>], plain: &[bool]) -> bool {
    const LIMIT: f64 = 2147483648.0;
    let half = |bits: u32| 2f64.powi(bits as i32 - 1);
    let max_abs = |v: &[i64]| v.iter().map(|&x| x.unsigned_abs() as f64).fold(0.0, f64::max);
    let input_max = plan.input.max_abs() as f64;
    for (k, l) in plan.layers.iter().enumerate() {
        if !plain[k] || l.v_bits > 31 || l.s_bits > 31 {
            return false;
        }
        for (p, f) in l.projections.iter().zip(&fast[k]) {
            let (n_src, v_max) = match p.source {
                Source::Input => (plan.input.numel() as f64, input_max),
                Source::Layer(src) => (plan.layers[src].neurons() as f64, 1.0),
            };
            let w_max = if p.weights.binary() {
                1.0
            } else {
                p.weights.values.iter().map(|w| w.unsigned_abs() as f64).fold(0.0, f64::max)
            };
            // The most one phase adds to a neuron, before the shift.
            let add = match (&p.kind, f, p.source) {
                (ProjKind::Dense { .. }, Fast::DenseBinary { .. }, _) => n_src * v_max,
                (ProjKind::Dense { .. }, Fast::DenseCols(_), _) if p.pre_pool.is_none() => n_src * v_max * w_max,
                (ProjKind::OneToOne, Fast::OneToOne(_), Source::Layer(_)) => w_max,
                _ => return false,
            };
            let width = if p.target == AccTarget::Static { l.s_bits } else { l.v_bits };
            if half(width) + add * 2f64.powi(p.shift as i32) >= LIMIT {
                return false;
            }
        }
        let pr = &l.params;
        let v = half(l.v_bits)
            + if l.s_bits > 0 { half(l.s_bits) } else { 0.0 }
            + max_abs(&pr.bias)
            + max_abs(&pr.bias_late);
        let th = max_abs(&pr.thr);
        let vhat = v.max(max_abs(&pr.vreset)) + th;
        let leaked = match &l.leak {
            Leak::Zero => 0.0,
            Leak::One => vhat,
            Leak::Shift { .. } => vhat + 1.0,
            Leak::Mul { b } => {
                let b = max_abs(b);
                if b >= LIMIT {
                    return false;
                }
                vhat * b / 2f64.powi(plan.rules.leak_bits() as i32) + 1.0
            }
        };
        if v >= LIMIT || leaked + th >= LIMIT {
            return false;
        }
    }
    true
}

/// One sample's state on the general path.
struct SampleState {
    x: Vec<Vec<i64>>,
    s: Vec<Vec<i64>>,
    y: Vec<Vec<i64>>,
    /// Current event list of each layer (its last update), in RTL order.
    ev: Vec<Vec<Event>>,
    /// Event entries (rows with a spike) of each layer's current list.
    ev_entries: Vec<u64>,
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
            counters: Counters { layers: vec![LayerCounters::default(); nl], ..Default::default() },
        }
    }
}

/// Buffers the packed kernels reuse across phases (contents are dead between calls).
#[derive(Default)]
struct Scratch {
    idx: Vec<u32>,
    bits: Vec<u64>,
    planes: Vec<u64>,
    inmap: Vec<u64>,
    cnt: Vec<i64>,
    acc: Vec<u64>,
    res: Vec<i64>,
    orbuf: Vec<u8>,
    bytes: Vec<u8>,
    acc16: Vec<i16>,
    cnt32: Vec<i32>,
}

/// Input events a buffer makes room for at once ([`events_of`]).
const INPUT_RESERVE: usize = 1024;

/// The non-zero values of `q` (C order over `shape`) as input events into `out`.
#[inline(always)]
fn events_of(q: &[i64], [_, h, w]: [usize; 3], out: &mut Vec<Event>) {
    out.clear();
    // Room for a typical input at once (a pass keeps each sample slot's buffer across steps
    // and passes); a larger one grows on demand instead of reserving its whole size.
    out.reserve(q.len().min(INPUT_RESERVE));
    // (c, y, x) of value j, stepped along (no division per value).
    let (mut c, mut y, mut x) = (0, 0, 0);
    for &v in q {
        if v != 0 {
            out.push((c, y, x, v));
        }
        x += 1;
        if x == w {
            x = 0;
            y += 1;
            if y == h {
                y = 0;
                c += 1;
            }
        }
    }
}

/// Counts values of `v` outside `bits`-bit two's complement.
fn out_of_range<T: Word>(v: &[T], bits: u32) -> u64 {
    // A narrow word holds every value of a width up to its own.
    if bits >= T::BITS {
        return 0;
    }
    let hi = T::of((1i64 << (bits - 1)) - 1);
    let lo = T::of(-(1i64 << (bits - 1)));
    // Almost every call finds none: a minimum and maximum in the word's own width (vector
    // lanes of it, no widening to a u64 count), then the count only when one is out.
    let (mn, mx) = v.iter().fold((hi, lo), |(a, b), &x| (if x < a { x } else { a }, if x > b { x } else { b }));
    if mn >= lo && mx <= hi {
        return 0;
    }
    v.iter().map(|&x| u64::from(x > hi || x < lo)).sum()
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
    /// The beats of `events` of projection `pi` into layer `k` ([`schedule::beats_at`]).
    #[inline]
    fn phase_beats(&self, k: usize, pi: usize, events: &[Event]) -> u64 {
        match &self.beats_at[k][pi] {
            Some(at) => {
                let w = self.plan.layers[k].projections[pi].src_shape[2];
                events.iter().map(|&(_, y, x, _)| u64::from(at[y * w + x])).sum()
            }
            None => self.beats[k][pi].0 * events.len() as u64,
        }
    }

    /// The beats of a (non-zero) input value at flat position `q` (C order) for projection
    /// `pi` into layer `k`.
    #[inline]
    fn input_beats(&self, k: usize, pi: usize, q: usize) -> u64 {
        match &self.beats_at[k][pi] {
            Some(at) => u64::from(at[q % at.len()]),
            None => self.beats[k][pi].0,
        }
    }

    /// Prepares `plan` for passes of up to `cap` samples.
    fn new(plan: &'p Plan, cap: usize) -> Self {
        let fast: Vec<Vec<Fast>> = plan
            .layers
            .iter()
            .map(|l| {
                l.projections
                    .iter()
                    .map(|p| match (&p.kind, &p.pre_pool) {
                        (ProjKind::Dense { cols }, None) if p.weights.binary() && !l.saturate => {
                            let words = cols.div_ceil(64);
                            let n = l.neurons();
                            let pos = bits_of(&p.weights.values, *cols, words, n);
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
                            let w16 = if ci * taps <= i16::MAX as usize {
                                let mut w16 = vec![0i16; p.weights.values.len()];
                                for o in 0..co {
                                    for c in 0..*ci {
                                        for tap in 0..taps {
                                            w16[(c * taps + tap) * co + o] =
                                                p.weights.values[(o * ci + c) * taps + tap] as i16;
                                        }
                                    }
                                }
                                w16
                            } else {
                                vec![]
                            };
                            let Some(table) = TapTable::new(&g) else { return Fast::Scatter };
                            let win = if *ci < 64 && (taps * ci).div_ceil(64) <= kernels::WINDOW_WORDS {
                                let ww = (taps * ci).div_ceil(64);
                                let mut win = vec![0u64; ww * co];
                                for o in 0..co {
                                    for c in 0..*ci {
                                        for tap in 0..taps {
                                            if p.weights.values[(o * ci + c) * taps + tap] > 0 {
                                                let b = tap * ci + c;
                                                win[(b / 64) * co + o] |= 1 << (b % 64);
                                            }
                                        }
                                    }
                                }
                                win
                            } else {
                                vec![]
                            };
                            Fast::ConvBinary { pos, words, taps_at: table.counts(), w16, table, win }
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
                            let g = conv_geo(l, &p.kind).expect("a convolution");
                            match TapTable::new(&g) {
                                Some(table) => Fast::ConvCols { wt, table },
                                None => Fast::Scatter,
                            }
                        }
                        (ProjKind::OneToOne, None) if !l.saturate => {
                            Fast::OneToOne((0..l.neurons()).map(|i| p.weights.at(i)).collect())
                        }
                        (ProjKind::Dense { cols }, Some(g))
                            if !l.saturate && p.weights.values.iter().all(|&w| i32::try_from(w).is_ok()) =>
                        {
                            let wr = p.weights.values.iter().map(|&w| w as i32).collect();
                            let [_, sh, sw] = p.src_shape;
                            let (mut table, mut start, mut cands) = (vec![], vec![0u32], vec![]);
                            for y in 0..sh {
                                for x in 0..sw {
                                    pool_candidates(g, y, x, &mut cands);
                                    table.extend(cands.iter().flatten().map(|&(a, b)| (a * g.out[1] + b) as u32));
                                    start.push(table.len() as u32);
                                }
                            }
                            let wmax = p.weights.values.iter().map(|w| w.unsigned_abs()).max().unwrap_or(0);
                            let fits32 = (*cols as u64)
                                .checked_mul((g.k[0] * g.k[1]) as u64)
                                .and_then(|v| v.checked_mul(wmax))
                                .is_some_and(|v| v < i32::MAX as u64);
                            let pooled = g.out[0] * g.out[1];
                            let mut lists = vec![vec![]; pooled];
                            for q in 0..sh * sw {
                                for &pp in &table[start[q] as usize..start[q + 1] as usize] {
                                    lists[pp as usize].push(q as u32);
                                }
                            }
                            let mut mstart = vec![0u32];
                            for m in &lists {
                                mstart.push(mstart[mstart.len() - 1] + m.len() as u32);
                            }
                            let members = lists.concat();
                            Fast::PoolDense { wr, table, start, members, mstart, pooled, fits32 }
                        }
                        (ProjKind::Dense { cols }, _) if p.weights.values.iter().all(|&w| i32::try_from(w).is_ok()) => {
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
        let cap = cap.max(1);
        let prep: Vec<LayerPrep> = plan
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
                let reps = if n < pass::SWEEP_SAMPLES_BELOW { cap } else { 1 };
                let expand = |v: &[i64]| {
                    if params_i32 { (0..n).map(|i| at(v, i) as i32).collect::<Vec<i32>>().repeat(reps) } else { vec![] }
                };
                let leak_full = match &l.leak {
                    Leak::Mul { b } if b.len() > 1 => b[..n].repeat(reps),
                    _ => vec![],
                };
                let order: Vec<u32> = slots.iter().copied().filter(|&s| s != u32::MAX).collect();
                let (mut group_chans, mut group_start) = (vec![], vec![0u32]);
                for g in 0..l.lane_groups() {
                    group_chans.extend((0..l.lanes).filter_map(|lane| l.channel_of(g, lane)).map(|c| c as u32));
                    group_start.push(group_chans.len() as u32);
                }
                let contiguous = pos == 1 && order.iter().enumerate().all(|(i, &o)| o as usize == i) && {
                    let mut r = 0;
                    let mut ok = true;
                    for (g, w) in group_start.windows(2).enumerate() {
                        ok &= group_chans[w[0] as usize..w[1] as usize]
                            .iter()
                            .enumerate()
                            .all(|(i, &c)| c as usize == g * l.lanes + i);
                        r = w[1] as usize;
                    }
                    ok && r == n
                };
                let contiguous = contiguous.then(|| pass::RowFold::new(l.lanes));
                let event_of = coords.iter().map(|&(c, y, x)| (c as usize, y as usize, x as usize, 1i64)).collect();
                LayerPrep {
                    slots,
                    coords,
                    param_rom: crate::hw::memory::param_lane_bits(plan, k) > 0,
                    thr_full: expand(&pr.thr),
                    bias_full: expand(&pr.bias),
                    bias_late_full: expand(&pr.bias_late),
                    vreset_full: expand(&pr.vreset),
                    leak_full,
                    table_len: (n * reps).max(1),
                    zeros: vec![0; n * reps],
                    zero32: vec![0; n * reps],
                    params_i32,
                    extra: l.s_bits > 0 || pr.bias.iter().chain(&pr.bias_late).any(|&b| b != 0),
                    order,
                    group_chans,
                    group_start,
                    contiguous,
                    event_of,
                }
            })
            .collect();
        let plain: Vec<bool> = plan
            .layers
            .iter()
            .enumerate()
            .map(|(k, l)| {
                let is_out = k == plan.output.layer;
                !l.saturate && !l.kind.cuba() && prep[k].params_i32 && (l.spiking() || !is_out)
            })
            .collect();
        let mut lists = vec![Lists::None; plan.layers.len()];
        for (k, l) in plan.layers.iter().enumerate() {
            for (pi, p) in l.projections.iter().enumerate() {
                if let Source::Layer(src) = p.source {
                    let need = if l.saturate {
                        Lists::Ordered
                    } else if matches!(
                        fast[k][pi],
                        Fast::DenseBinary { .. } | Fast::ConvBinary { .. } | Fast::OneToOne(_)
                    ) || (plain[src] && matches!(fast[k][pi], Fast::PoolDense { .. }))
                        || (plain[src] && matches!(fast[k][pi], Fast::DenseCols(_)) && p.pre_pool.is_none())
                    {
                        Lists::None
                    } else {
                        Lists::Any
                    };
                    lists[src] = lists[src].max(need);
                }
            }
        }
        let beats = plan
            .layers
            .iter()
            .map(|l| l.projections.iter().map(|p| (beats_per_event(l, p), weight_memory(l, p))).collect())
            .collect();
        let beats_at =
            plan.layers.iter().map(|l| l.projections.iter().map(|p| schedule::beats_at(l, p)).collect()).collect();
        // Shared planes need every binary dense reader of the input to see the input's own
        // layout (validation guarantees it; a reader that did not would build its own).
        let readers: Vec<(&Projection, usize)> = plan
            .layers
            .iter()
            .zip(&fast)
            .flat_map(|(l, f)| l.projections.iter().zip(f))
            .filter_map(|(p, f)| match f {
                Fast::DenseBinary { words, .. } if p.source == Source::Input => Some((p, *words)),
                _ => None,
            })
            .collect();
        let in_words = plan.input.numel().div_ceil(64);
        let input_planes = (!readers.is_empty()
            && readers.iter().all(|&(p, w)| w == in_words && p.src_shape == plan.input.shape))
        .then_some(in_words);
        let input_list = plan.layers.iter().zip(&fast).flat_map(|(l, f)| l.projections.iter().zip(f)).any(|(p, f)| {
            p.source == Source::Input && !(matches!(f, Fast::DenseBinary { .. }) && input_planes.is_some())
        });
        let mut proj_base = Vec::with_capacity(plan.layers.len());
        let mut nproj = 0;
        for l in &plan.layers {
            proj_base.push(nproj);
            nproj += l.projections.len();
        }
        let narrow = narrow_fits(plan, &fast, &plain);
        let pipe = (plan.schedule == Schedule::Pipelined).then(|| schedule::Pipe::new(plan));
        Engine {
            plan,
            fast,
            beats,
            beats_at,
            prep,
            lists,
            plain,
            input_planes,
            input_list,
            proj_base,
            nproj,
            narrow,
            pipe,
        }
    }

    /// Sample `i`'s quantised input of step `t` into `q` (one value per input, C order);
    /// returns how many are non-zero.
    #[inline(always)]
    fn input_values(&self, batch: &InputBatch, i: usize, t: usize, q: &mut Vec<i64>) -> u64 {
        self.plan.input.quantise_into(batch.at(i, t), q)
    }

    /// One sample on the general path (see [`run_traced`]).
    fn sample(
        &self,
        st: &mut SampleState,
        batch: &InputBatch,
        i: usize,
        steps: usize,
        tracer: &mut dyn Tracer,
    ) -> SampleResult {
        let plan = self.plan;
        let steps = steps.min(plan.timesteps);
        let nl = plan.layers.len();
        let out_l = plan.output.layer;
        let out_n = plan.layers[out_l].neurons();
        let mut raw = Vec::with_capacity(steps * out_n);
        let mut step_end = Vec::with_capacity(steps);
        let mut cyc = schedule::START;
        st.counters.control_cycles += schedule::START;
        // Pipelined: every phase's duration goes to the units' clock instead of `cyc`.
        let mut clock = self.pipe.as_ref().map(schedule::Clock::new);
        let (mut in_q, mut in_ev): (Vec<i64>, Vec<Event>) = (vec![], vec![]);
        let mut counts = vec![0i64; out_n];
        let mut out = vec![0i64; out_n];
        for t in 0..steps {
            if t == 0 || plan.input.per_step {
                self.input_values(batch, i, t, &mut in_q);
                events_of(&in_q, plan.input.shape, &mut in_ev);
                let c = schedule::load_cycles(plan);
                match &mut clock {
                    Some(ck) => ck.load(t, c),
                    None => cyc += c,
                }
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
                    let beats = self.phase_beats(k, pi, &events);
                    let c = schedule::acc_cycles(events.len() as u64, beats);
                    if events.is_empty() {
                        st.counters.empty_acc_phases += 1;
                    }
                    match &mut clock {
                        Some(ck) if ck.follows(k, pi) => {
                            let late = schedule::follow_late(&in_q, |q| self.input_beats(k, pi, q));
                            ck.acc_follow(k, pi, events.len() as u64, beats, late)
                        }
                        Some(ck) => ck.acc(k, pi, t, c),
                        None => cyc += c,
                    }
                    st.counters.layers[k].cycles += c;
                    st.counters.layers[k].acc_phases += 1;
                    if events.is_empty() {
                        st.counters.layers[k].empty_acc_phases += 1;
                    }
                    if let Source::Layer(s) = p.source {
                        st.counters.layers[s].event_reads += st.ev_entries[s];
                    }
                    let (ops0, w0) = (st.counters.layers[k].synaptic_ops, st.counters.layers[k].weight_reads);
                    {
                        let SampleState { x, s, y, counters, .. } = st;
                        let cnt = &mut counters.layers[k];
                        count_phase_of(beats, weight_memory(l, p), events.len() as u64, cnt);
                        let (dst, bits) = target_state(l, p, &mut x[k], &mut s[k], &mut y[k]);
                        self.scatter(k, pi, &events, dst, bits, cnt);
                        if !l.saturate {
                            cnt.overflows += out_of_range(dst, bits);
                        }
                    }
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
                let upd_start = match &mut clock {
                    Some(ck) => ck.upd(k, t, c),
                    None => {
                        cyc += c;
                        cyc - c
                    }
                };
                st.counters.layers[k].cycles += c;
                st.counters.layers[k].update_passes += 1;
                let SampleState { x, s, y, counters, ev, ev_entries } = st;
                let o: &mut [i64] = if k == out_l { &mut out } else { &mut [] };
                let mut events = std::mem::take(&mut ev[k]);
                ev_entries[k] = self.update(
                    k,
                    t,
                    last,
                    (&mut x[k], &mut s[k], &mut y[k]),
                    &mut counters.layers[k],
                    &mut events,
                    o,
                    Some((upd_start, &mut *tracer)),
                );
                ev[k] = events;
                if k == out_l {
                    raw.extend_from_slice(&out);
                }
            }
            let c = schedule::out_cycles(plan);
            match &mut clock {
                Some(ck) => cyc = ck.out(t, c),
                None => cyc += c,
            }
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
                    tracer.step(cyc, t);
                    // The RTL clears every state memory before done.
                    let clear = schedule::clear_cycles(plan);
                    cyc += clear;
                    st.counters.control_cycles += clear;
                    break;
                }
            }
            step_end.push(cyc);
            tracer.step(cyc, t);
        }
        if let Some(ck) = &clock {
            // Wall time; the phase counters are each unit's busy cycles (they overlap).
            st.counters.control_cycles += schedule::PIPE_DONE;
            st.counters.stall_cycles = ck.stalls;
            st.counters.cycles = ck.total();
        } else {
            cyc += schedule::DONE;
            st.counters.control_cycles += schedule::DONE;
            st.counters.cycles = cyc;
        }
        SampleResult { raw, counters: std::mem::take(&mut st.counters), step_end_cycles: step_end }
    }

    /// The per-event path, in the RTL's order (saturating layers, general weights). Counts
    /// synaptic operations and state accesses per valid target.
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

    /// The general update pass of layer `k` at step `t` on one sample's state `(x, s, y)`,
    /// neuron by neuron in (row, lane) order: writes the events into `events` in the RTL's
    /// order and the layer's per-neuron output (spikes or V) into `out` when it is not empty;
    /// returns the event entries. The tracer gets the update's start cycle and every neuron.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn update(
        &self,
        k: usize,
        t: usize,
        last: bool,
        (x, s, y): (&mut [i64], &mut [i64], &mut [i64]),
        cnt: &mut LayerCounters,
        events: &mut Vec<Event>,
        out: &mut [i64],
        mut tracer: Option<(u64, &mut dyn Tracer)>,
    ) -> u64 {
        let plan = self.plan;
        let l = &plan.layers[k];
        let prep = &self.prep[k];
        let pr = &l.params;
        let p = plan.rules.leak_bits();
        let is_out = !out.is_empty();
        let n = l.neurons();
        events.clear();
        let spiking = l.spiking();
        let sat = l.saturate;
        let cuba = l.kind.cuba();
        let has_s = l.s_bits > 0;
        let undecayed = spiking && plan.reset == ResetMode::SubtractUndecayed;
        let (fire_eq, reset) = (plan.fire_on_equal, plan.reset);
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
                let st_val = if has_s { s[i] } else { 0 };
                let mut v;
                if cuba {
                    let mut cur = y[i] + st_val + at(&pr.syn_bias, i) + if late { at(&pr.syn_bias_late, i) } else { 0 };
                    if sat {
                        cur = clamp(cur, l.y_bits, &mut sc);
                    } else if !fits(cur, l.y_bits) {
                        cnt.overflows += 1;
                    }
                    let sl = l.syn_leak.as_ref().expect("cuba layers have a synaptic leak");
                    y[i] = if last { 0 } else { leak(sl, cur, p, i) };
                    v = x[i] + cur + at(&pr.bias, i) + if late { at(&pr.bias_late, i) } else { 0 };
                } else {
                    v = x[i] + st_val + at(&pr.bias, i) + if late { at(&pr.bias_late, i) } else { 0 };
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
                x[i] = if last { 0 } else { next };
                if has_s && last {
                    s[i] = 0;
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
                if let Some((start, tr)) = tracer.as_mut() {
                    tr.neuron(*start + schedule::UPD_HEAD + schedule::UPD_TAIL + row as u64, k, i, v, spike);
                }
            }
            if mask != 0 {
                entries += 1;
                cnt.spikes += (events.len() - first_event) as u64;
            }
        }
        cnt.event_writes += entries;
        cnt.neuron_updates += n as u64;
        cnt.state_reads += l.rows as u64;
        cnt.state_writes += l.rows as u64;
        if prep.param_rom {
            cnt.param_reads += l.rows as u64;
        }
        entries
    }
}

/// Per-neuron parameters of one update pass (slices of length n).
struct UpdParams<'a, T> {
    thr: &'a [i32],
    bias: &'a [i32],
    bias_late: &'a [i32],
    vreset: &'a [i32],
    hi: T,
    lo: T,
    spiking: bool,
}

/// The branch-free neuron update: V = x + static + biases (`EXTRA`; else every term is 0),
/// fire, reset (`RESET`: 0 zero, 1 subtract, 2 subtract-undecayed), decay; writes the next x,
/// the fired flags and (`OVF`) per neuron the number of values outside the membrane width
/// (`ovf`), and returns their sum.
#[inline(always)]
fn upd_core<const RESET: u8, const EQ: bool, const EXTRA: bool, const OVF: bool, T: Word>(
    x: &mut [T],
    stat: &[T],
    p: &UpdParams<T>,
    fired: &mut [u8],
    ovf: &mut [u8],
    leak: impl Fn(T, usize) -> T,
) -> u64 {
    let n = x.len();
    let (stat, thr, bias, bl, vr, fired, ovf) =
        (&stat[..n], &p.thr[..n], &p.bias[..n], &p.bias_late[..n], &p.vreset[..n], &mut fired[..n], &mut ovf[..n]);
    let mut overflows = 0u64;
    // Counts are summed in the state's own word (lanes as wide as the state's), at most
    // 2 * UPD_CHUNK per chunk.
    for c0 in (0..n).step_by(UPD_CHUNK) {
        let mut count = T::default();
        for i in c0..n.min(c0 + UPD_CHUNK) {
            let v = if EXTRA { x[i].add(stat[i]).add(T::of32(bias[i])).add(T::of32(bl[i])) } else { x[i] };
            let th = T::of32(thr[i]);
            let spike = p.spiking & if EQ { v >= th } else { v > th };
            let zero = T::default();
            let vhat = match RESET {
                0 => {
                    if spike {
                        T::of32(vr[i])
                    } else {
                        v
                    }
                }
                1 => v.sub(if spike { th } else { zero }),
                _ => v,
            };
            let mut next = leak(vhat, i);
            if RESET == 2 {
                next = next.sub(if spike { th } else { zero });
            }
            let (ov, on) = (v > p.hi || v < p.lo, next > p.hi || next < p.lo);
            count = count.add(T::of32(i32::from(ov) + i32::from(on)));
            if OVF {
                ovf[i] = u8::from(ov) + u8::from(on);
            }
            x[i] = next;
            fired[i] = u8::from(spike);
        }
        overflows += count.get() as u64;
    }
    overflows
}

/// Neurons per chunk of [`upd_core`]'s overflow counts.
const UPD_CHUNK: usize = 1 << 20;

/// Counts an ACC phase's `ne` events, their `beats` and the weight reads (one per beat when
/// the projection reads a weight memory; the same for every kernel).
#[inline(always)]
fn count_phase_of(beats: u64, weights: bool, ne: u64, cnt: &mut LayerCounters) {
    cnt.events_in += ne;
    cnt.beats += beats;
    cnt.weight_reads += if weights { beats } else { 0 };
}

/// The state projection `p` of layer `l` accumulates into, and its width.
#[inline(always)]
fn target_state<'a, T>(
    l: &Layer,
    p: &Projection,
    x: &'a mut [T],
    s: &'a mut [T],
    y: &'a mut [T],
) -> (&'a mut [T], u32) {
    match p.target {
        AccTarget::Static => (s, l.s_bits),
        AccTarget::Dynamic if l.kind.cuba() => (y, l.y_bits),
        AccTarget::Dynamic => (x, l.v_bits),
    }
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

/// The sign-magnitude bit planes of input events for [`dense_planes`]: plane `2*b + (v < 0)`
/// (`words` words) holds the inputs whose |value| has bit b set, for the `nb` bits the
/// largest magnitude needs; returns `nb`. Built without branches.
#[inline(always)]
fn planes_of(events: &[Event], (sh, sw): (usize, usize), words: usize, planes: &mut Vec<u64>) -> usize {
    let nb = 64 - events.iter().fold(0u64, |m, e| m | e.3.unsigned_abs()).leading_zeros() as usize;
    planes.clear();
    planes.resize(2 * nb * words, 0);
    for &(c, yy, xx, v) in events {
        let j = (c * sh + yy) * sw + xx;
        let (wd, bit) = (j / 64, 1u64 << (j % 64));
        let neg = usize::from(v < 0);
        let mag = v.unsigned_abs();
        for b in 0..nb {
            planes[(2 * b + neg) * words + wd] |= bit & 0u64.wrapping_sub((mag >> b) & 1);
        }
    }
    nb
}

/// [`planes_of`] from every input's value (`q`, C order; the input's own layout), with no
/// event list. Magnitudes below 256 go through bytes (`bytes`, scratch): a plane's eight bits
/// of eight values are one multiplication; larger ones one pass over the values per bit.
#[inline(always)]
fn planes_of_values(q: &[i64], words: usize, planes: &mut Vec<u64>, bytes: &mut Vec<u8>) -> usize {
    let nb = 64 - q.iter().fold(0u64, |m, v| m | v.unsigned_abs()).leading_zeros() as usize;
    planes.clear();
    planes.resize(2 * nb * words, 0);
    if nb <= 8 {
        // Magnitudes of the positive values, then of the negative ones, each padded to whole
        // words with zeros.
        let half = words * 64;
        bytes.clear();
        bytes.resize(2 * half, 0);
        let (plus, minus) = bytes.split_at_mut(half);
        for ((p, m), &v) in plus.iter_mut().zip(minus.iter_mut()).zip(q) {
            let mag = v.unsigned_abs() as u8;
            *p = if v > 0 { mag } else { 0 };
            *m = if v < 0 { mag } else { 0 };
        }
        let any_neg = q.iter().any(|&v| v < 0);
        for (sign, half) in [plus, minus].into_iter().enumerate() {
            if sign == 1 && !any_neg {
                break;
            }
            for (wd, chunk) in half.chunks_exact(64).enumerate() {
                let eights: [u64; 8] =
                    std::array::from_fn(|i| u64::from_le_bytes(chunk[8 * i..8 * i + 8].try_into().expect("8 bytes")));
                for b in 0..nb {
                    let mut word = 0u64;
                    for (i, &e) in eights.iter().enumerate() {
                        // Bit b of byte j of `e` lands on bit 56 + j; no two products overlap
                        // or carry.
                        let lows = (e >> b) & 0x0101_0101_0101_0101;
                        word |= (lows.wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * i);
                    }
                    planes[(2 * b + sign) * words + wd] = word;
                }
            }
        }
        return nb;
    }
    for (wd, chunk) in q.chunks(64).enumerate() {
        for b in 0..nb {
            let (mut plus, mut minus) = (0u64, 0u64);
            for (j, &v) in chunk.iter().enumerate() {
                let bit = ((v.unsigned_abs() >> b) & 1) << j;
                let neg = 0u64.wrapping_sub(u64::from(v < 0));
                plus |= bit & !neg;
                minus |= bit & neg;
            }
            planes[2 * b * words + wd] = plus;
            planes[(2 * b + 1) * words + wd] = minus;
        }
    }
    nb
}

/// Packed binary dense accumulation of bit planes ([`planes_of`]): per output row i,
/// `sum_j sign_ij * x_j`, plane by plane: (+-2^b) * (2*popcount - total) << shift is the
/// plane's sum shifted by b + shift, negated for negative values (two's complement, mod 2^64).
#[inline(always)]
fn dense_planes<T: Word>(planes: &[u64], nb: usize, pos: &[u64], words: usize, shift: u32, dst: &mut [T]) {
    for pl in 0..2 * nb {
        let bits = &planes[pl * words..(pl + 1) * words];
        let total: i64 = bits.iter().map(|w| i64::from(w.count_ones())).sum();
        let sh = shift as usize + pl / 2;
        // A term shifted by the word's bits or more is 0 mod 2^bits: skipping it is exact.
        if total == 0 || sh >= T::BITS as usize {
            continue;
        }
        dense_bits_signed(bits, total, pos, words, sh as u32, pl % 2 == 1, dst);
    }
}

/// Binary dense accumulation of spikes given as a bitset over the columns (`total` set
/// bits): `2*popcount(row & in) - |in|` per row.
#[inline(always)]
fn dense_bits<T: Word>(bits: &[u64], total: i64, pos: &[u64], words: usize, shift: u32, dst: &mut [T]) {
    dense_bits_signed(bits, total, pos, words, shift, false, dst)
}

/// [`dense_bits`], the sums negated when `neg`.
#[inline(always)]
fn dense_bits_signed<T: Word>(
    bits: &[u64],
    total: i64,
    pos: &[u64],
    words: usize,
    shift: u32,
    neg: bool,
    dst: &mut [T],
) {
    macro_rules! rows {
        ($w:literal) => {
            if neg {
                dense_bits_n::<$w, true, T>(bits, total, pos, shift, dst)
            } else {
                dense_bits_n::<$w, false, T>(bits, total, pos, shift, dst)
            }
        };
    }
    match words {
        1 => rows!(1),
        2 => rows!(2),
        3 => rows!(3),
        4 => rows!(4),
        _ => {
            let bits = &bits[..words];
            let t = T::of(total);
            for (d, row) in dst.iter_mut().zip(pos.chunks_exact(words)) {
                let pc: i64 = row.iter().zip(bits).map(|(a, b)| (a & b).count_ones() as i64).sum();
                let v = T::of(2 * pc).sub(t).shl(shift);
                *d = if neg { d.sub(v) } else { d.add(v) };
            }
        }
    }
}

/// [`dense_bits_signed`] for rows of `W` words.
#[inline(always)]
fn dense_bits_n<const W: usize, const NEG: bool, T: Word>(
    bits: &[u64],
    total: i64,
    pos: &[u64],
    shift: u32,
    dst: &mut [T],
) {
    let bits: &[u64; W] = bits[..W].try_into().expect("W words");
    let t = T::of(total);
    for (d, row) in dst.iter_mut().zip(pos.chunks_exact(W)) {
        let mut pc = 0u32;
        for w in 0..W {
            pc += (row[w] & bits[w]).count_ones();
        }
        let v = T::of(2 * i64::from(pc)).sub(t).shl(shift);
        *d = if NEG { d.sub(v) } else { d.add(v) };
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
    /// Output coordinate along one axis that input `i` reaches through kernel tap `k` (the
    /// brute-force reference of the tests).
    #[cfg(test)]
    fn target(&self, d: usize, i: usize, k: usize) -> Option<usize> {
        let n = i as isize + self.pad[d] as isize - (k * self.dil[d]) as isize;
        let out = if d == 0 { self.oh } else { self.ow };
        (n >= 0 && (n as usize).is_multiple_of(self.stride[d]) && (n as usize / self.stride[d]) < out)
            .then(|| n as usize / self.stride[d])
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
    wt: &[impl Copy + Into<i64>],
    table: &TapTable,
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
        let hits = table.at(yy * g.iw + xx);
        valid += hits.len() as u64;
        for &(tap, op) in hits {
            let w = &wt[(c * taps + tap as usize) * co_g..][..co_g];
            let a = &mut acc[op as usize * g.co + grp * co_g..][..co_g];
            if val == 1 {
                for (a, &w) in a.iter_mut().zip(w) {
                    *a += w.into();
                }
            } else {
                for (a, &w) in a.iter_mut().zip(w) {
                    *a += w.into() * val;
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

    /// A small deterministic generator (tests only; the kernel tests use it too).
    pub(super) fn lcg(seed: &mut u64) -> u64 {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        *seed >> 33
    }

    #[test]
    fn packed_dense_equals_per_event_sums() {
        let mut r = 7u64;
        for &(cols, n) in &[(70usize, 9usize), (130, 33), (64, 1), (200, 7), (300, 5), (9, 5)] {
            let w: Vec<i64> = (0..n * cols).map(|_| if lcg(&mut r).is_multiple_of(2) { 1 } else { -1 }).collect();
            let words = cols.div_ceil(64);
            let pos = bits_of(&WeightValues::new(w.clone()), cols, words, n);
            for vals in [vec![1i64], vec![1, 3, 17, 255], vec![-5, 7, -128, 1]] {
                let mut events: Vec<Event> = vec![];
                for j in 0..cols {
                    if lcg(&mut r).is_multiple_of(3) {
                        events.push((j, 0, 0, vals[lcg(&mut r) as usize % vals.len()]));
                    }
                }
                let mut fast = vec![5i64; n];
                let mut planes = vec![];
                let nb = planes_of(&events, (1, 1), words, &mut planes);
                dense_planes(&planes, nb, &pos, words, 3, &mut fast);
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
    fn value_planes_equal_event_planes() {
        let mut r = 11u64;
        for &(n, range) in &[(64usize, 32i64), (70, 256), (200, 3), (130, 1), (5, 100_000), (129, 255), (64, 31)] {
            let q: Vec<i64> = (0..n)
                .map(|_| if lcg(&mut r).is_multiple_of(3) { 0 } else { (lcg(&mut r) as i64 % (2 * range + 1)) - range })
                .collect();
            let events: Vec<Event> =
                q.iter().enumerate().filter(|(_, v)| **v != 0).map(|(j, &v)| (j, 0, 0, v)).collect();
            let words = n.div_ceil(64);
            let (mut a, mut b) = (vec![], vec![]);
            let na = planes_of(&events, (1, 1), words, &mut a);
            let nb = planes_of_values(&q, words, &mut b, &mut vec![]);
            assert_eq!((na, a), (nb, b), "{n} values in +-{range}");
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
                let valid = conv_cols(
                    &events,
                    &g,
                    ci_g,
                    co_g,
                    &wt,
                    &TapTable::new(&g).unwrap(),
                    2,
                    &mut fast,
                    &mut Scratch::default(),
                );
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

    /// The tap table from closed-form runs equals brute force over every (position, tap),
    /// strides that are not powers of two included; a table above TAP_TABLE_MAX is refused at
    /// once (the projection then takes the general path) instead of allocated.
    #[test]
    fn tap_table_is_the_valid_taps() {
        let mut tables = 0;
        for (ih, iw) in [(1usize, 1usize), (5, 7), (9, 4)] {
            for k in 1..=5 {
                for s in 1..=4 {
                    for dil in 1..=3 {
                        for pad in 0..=3 {
                            let out = |i: usize| (i + 2 * pad).checked_sub(dil * (k - 1)).map(|v| v / s + 1);
                            let (Some(oh), Some(ow)) = (out(ih), out(iw)) else { continue };
                            let g = ConvGeo {
                                ih,
                                iw,
                                kh: k,
                                kw: k.max(2) - 1,
                                stride: [s, s],
                                pad: [pad, pad],
                                dil: [dil, dil],
                                co: 1,
                                oh,
                                ow,
                            };
                            let t = TapTable::new(&g).expect("a small table");
                            for y in 0..ih {
                                for x in 0..iw {
                                    let mut want = vec![];
                                    for ky in 0..g.kh {
                                        for kx in 0..g.kw {
                                            if let (Some(oy), Some(ox)) = (g.target(0, y, ky), g.target(1, x, kx)) {
                                                want.push(((ky * g.kw + kx) as u32, (oy * g.ow + ox) as u32));
                                            }
                                        }
                                    }
                                    assert_eq!(
                                        t.at(y * iw + x),
                                        &want[..],
                                        "{ih}x{iw} k{k} s{s} d{dil} p{pad} at {y},{x}"
                                    );
                                }
                            }
                            tables += 1;
                        }
                    }
                }
            }
        }
        assert!(tables > 500, "{tables} geometries");
        // 16384 x 16384 positions under a 64 x 64 kernel: 1.1e12 entries, refused without
        // building them.
        let n = 1 << 14;
        let g =
            ConvGeo { ih: n, iw: n, kh: 64, kw: 64, stride: [1, 1], pad: [32, 32], dil: [1, 1], co: 1, oh: n, ow: n };
        assert!(TapTable::new(&g).is_none());
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
