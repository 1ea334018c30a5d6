//! The hardware plan: exactly which integers the chip stores and adds, where, and when.
//!
//! [`lower`] turns a validated [`crate::Model`] into a [`Plan`]; the cycle engine
//! ([`crate::sim::cycle`]) executes the plan clock by clock, and the Verilog and HLS back ends
//! emit it. All three implement the arithmetic and schedule written here; docs/hardware.md
//! explains them with the cycle formula.
//!
//! # Arithmetic (per neuron i, all integers)
//!
//! A layer's membrane `V` is in units `u_i` (real value of one LSB, [`Layer::unit`]). A
//! projection adds `(w * x) << shift` per event into the layer's `X` memory, where `w` is the
//! stored integer weight and `x` the event value (1 for a spike, the quantised input for an
//! input event). Once per step the update pass computes, for every neuron:
//!
//! ```text
//! cuba:   i  = Y + S + CS (+ CSL after step 0);  Y' = leak_syn(i)
//! v  = X + S + C (+ CL after step 0)      [cuba: X + i + C]
//! s  = v > THR   (v >= THR with fire-on-equal; never for non-spiking kinds)
//! vhat = zero: s ? VR : v     subtract: v - s*THR     subtract-undecayed: v
//! X' = leak(vhat) - (subtract-undecayed && s ? THR : 0)        (0 after the last step)
//! leak(x) = (x * B + 2^(P-1)) >> P   (arithmetic shift), or x - (x >> k) when beta = 1-2^-k,
//!           x when beta = 1, 0 when beta = 0
//! ```
//!
//! `S` holds the static accumulation of direct-encoded input (accumulated once, at step 0).
//! Widths come from range analysis so nothing overflows for any input; with a user cap
//! (`membrane_bits`) every write saturates and the engine counts saturations.
//!
//! # Layout and events
//!
//! A layer of logical shape (C, H, W) with group size Gc and L lanes stores neuron
//! (c, y, x) at row `(c/Gc * ncg + (c%Gc)/L) * H*W + y*W + x`, lane `(c%Gc) % L`, with
//! `ncg = ceil(Gc/L)`. The update pass walks rows in order and appends one event entry
//! (base channel, y, x, lane mask) per row with at least one spike. A consumer expands the
//! mask lowest lane first: each set lane is one event (c, y, x, value 1). Input events are
//! the non-zero quantised inputs, in C order.

pub mod lower;
pub mod memory;
pub mod range;
pub mod schedule;

use serde::Serialize;

use crate::ir::ResetMode;

pub use lower::{PlanError, PlanOptions, lower};

/// Neuron model of a layer after lowering.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NeuronKind {
    /// Leaky integrate-and-fire (also IF with beta = 1, Threshold with beta = 0).
    Lif,
    /// Leaky integrator readout (also I with beta = 1).
    Li,
    /// Current-based LIF.
    CubaLif,
    /// Current-based LI.
    CubaLi,
    /// Synaptic current read out directly (an Output fed by a weighted op, no neuron).
    Current,
}

impl NeuronKind {
    /// True when the layer emits spikes.
    pub fn spiking(self) -> bool {
        matches!(self, NeuronKind::Lif | NeuronKind::CubaLif)
    }

    /// True for current-based neurons (a synaptic state memory Y).
    pub fn cuba(self) -> bool {
        matches!(self, NeuronKind::CubaLif | NeuronKind::CubaLi)
    }
}

/// A decay in fixed point.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Leak {
    /// beta = 0: the state does not carry over.
    Zero,
    /// beta = 1: no decay.
    One,
    /// beta = 1 - 2^-k: `x - (x >> k)`.
    Shift {
        /// k.
        k: u32,
    },
    /// `(x * b + 2^(P-1)) >> P`, one `b` per layer or per neuron.
    Mul {
        /// Multipliers (length 1 or one per neuron).
        b: Vec<i64>,
    },
}

/// Where a projection's events come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "layer", rename_all = "lowercase")]
pub enum Source {
    /// The input stream.
    Input,
    /// A spiking layer (index into [`Plan::layers`]).
    Layer(usize),
}

/// Pooling window geometry (applied to a spike source before or instead of weights).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PoolGeom {
    /// Kernel (h, w).
    pub k: [usize; 2],
    /// Stride (h, w); powers of two.
    pub s: [usize; 2],
    /// Padding (h, w).
    pub p: [usize; 2],
    /// Pooled output (h, w).
    pub out: [usize; 2],
}

impl PoolGeom {
    /// Candidate windows per event along each axis: `ceil(k / s)`.
    pub fn candidates(&self) -> [usize; 2] {
        [self.k[0].div_ceil(self.s[0]), self.k[1].div_ceil(self.s[1])]
    }
}

/// How a projection maps a source event to its targets.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ProjKind {
    /// Fully connected: every target neuron of an (N,1,1) layer; weights `w[i][j]`.
    Dense {
        /// Source elements (after pre-pooling), the weight matrix's columns.
        cols: usize,
    },
    /// Convolution; weights `w[co][ci_g][ky][kx]`.
    Conv {
        /// Input channels.
        ci: usize,
        /// Input spatial size (after pre-pooling).
        ih: usize,
        /// Input width.
        iw: usize,
        /// Kernel height.
        kh: usize,
        /// Kernel width.
        kw: usize,
        /// Stride (powers of two).
        stride: [usize; 2],
        /// Zero padding before (top, left).
        pad: [usize; 2],
        /// Dilation.
        dil: [usize; 2],
        /// Groups.
        groups: usize,
    },
    /// Pooling straight into the neurons; one weight (per target neuron).
    Pool(PoolGeom),
    /// Element to element (identity edge, Flatten, Scale); one weight per target neuron.
    OneToOne,
}

/// Stored weights of a projection, in logical (lane-independent) order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Weights {
    /// Bits per stored weight; 1 means binary: the stored value is +1 or -1 (bit 1 / 0).
    pub bits: u32,
    /// Values: Dense `out*cols`, Conv `co*ci_g*kh*kw`, Pool/OneToOne one per target neuron
    /// (or a single value when uniform).
    pub values: Vec<i64>,
}

impl Weights {
    /// True for 1-bit +-1 weights.
    pub fn binary(&self) -> bool {
        self.bits == 1
    }

    /// Weight `i`, broadcasting a single value.
    pub fn at(&self, i: usize) -> i64 {
        if self.values.len() == 1 { self.values[0] } else { self.values[i] }
    }
}

/// Which state a projection accumulates into.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AccTarget {
    /// Membrane X (or Y for current-based neurons).
    Dynamic,
    /// The static memory S (direct input, accumulated once at step 0).
    Static,
}

/// One path of events into a layer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Projection {
    /// Graph nodes on the path, source first (for messages and reports).
    pub path: Vec<String>,
    /// Event source.
    pub source: Source,
    /// The source's (C, H, W).
    pub src_shape: [usize; 3],
    /// Reads the source's previous-step events (a recurrent edge on the path).
    pub delayed: bool,
    /// Where the sum goes.
    pub target: AccTarget,
    /// Pooling applied to source events before the weights.
    pub pre_pool: Option<PoolGeom>,
    /// Mapping.
    pub kind: ProjKind,
    /// Weights.
    pub weights: Weights,
    /// Left shift applied to `w * x`.
    pub shift: u32,
    /// Real weight value of one unit of `w` (for binary: a per-row scale folds into the layer
    /// unit, so this is informative only).
    pub binary_source: bool,
}

/// Per-neuron integer parameters (length 1 when uniform over the layer).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NeuronParams {
    /// Threshold THR.
    pub thr: Vec<i64>,
    /// Constant per step C (bias and leak-to-v_leak terms).
    pub bias: Vec<i64>,
    /// Extra constant from step 1 on (biases on delayed projections).
    pub bias_late: Vec<i64>,
    /// Reset value VR.
    pub vreset: Vec<i64>,
    /// Synaptic constant CS (current-based).
    pub syn_bias: Vec<i64>,
    /// Synaptic constant from step 1 on.
    pub syn_bias_late: Vec<i64>,
}

/// Value at neuron `i` of a per-neuron or uniform parameter.
#[inline]
pub fn at(v: &[i64], i: usize) -> i64 {
    if v.len() == 1 { v[0] } else { v[i] }
}

/// A group of neurons updated together, with the projections into it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Layer {
    /// Graph node of the neurons (or of the weighted op for a current readout).
    pub name: String,
    /// Neuron model.
    pub kind: NeuronKind,
    /// Logical (C, H, W).
    pub shape: [usize; 3],
    /// Channels per group (Gc); C unless a grouped convolution feeds the layer.
    pub group_size: usize,
    /// Neuron lanes.
    pub lanes: usize,
    /// Lane groups per channel group: `ceil(Gc / L)`.
    pub ncg: usize,
    /// Rows: `C/Gc * ncg * H * W`.
    pub rows: usize,
    /// Membrane decay.
    pub leak: Leak,
    /// Synaptic decay (current-based).
    pub syn_leak: Option<Leak>,
    /// Integer parameters.
    pub params: NeuronParams,
    /// Real value of one V LSB per neuron (length 1 when uniform).
    pub unit: Vec<f64>,
    /// Width of V and X.
    pub v_bits: u32,
    /// Width of S (0 without static projections).
    pub s_bits: u32,
    /// Width of Y (0 unless current-based).
    pub y_bits: u32,
    /// Writes saturate (a width cap is below the range-analysis width).
    pub saturate: bool,
    /// Worst-case |V| from range analysis (before any cap).
    pub v_bound: i64,
    /// Projections, in the order the accumulate phases run.
    pub projections: Vec<Projection>,
    /// True when another layer consumes this layer's events.
    pub has_consumers: bool,
}

impl Layer {
    /// Number of neurons.
    pub fn neurons(&self) -> usize {
        self.shape.iter().product()
    }

    /// Positions per channel (H*W).
    pub fn positions(&self) -> usize {
        self.shape[1] * self.shape[2]
    }

    /// (row, lane) of neuron (c, y, x).
    pub fn slot(&self, c: usize, y: usize, x: usize) -> (usize, usize) {
        let g = c / self.group_size;
        let local = c % self.group_size;
        let cgi = g * self.ncg + local / self.lanes;
        (cgi * self.positions() + y * self.shape[2] + x, local % self.lanes)
    }

    /// Channel of lane `l` in lane group `cgi` (may be >= C or outside the group: padding).
    pub fn channel_of(&self, cgi: usize, l: usize) -> Option<usize> {
        let g = cgi / self.ncg;
        let local = (cgi % self.ncg) * self.lanes + l;
        (local < self.group_size).then_some(g * self.group_size + local)
    }

    /// True when the layer emits spikes.
    pub fn spiking(&self) -> bool {
        self.kind.spiking()
    }

    /// Lane groups: rows per position (`C/Gc * ncg`).
    pub fn lane_groups(&self) -> usize {
        self.rows / self.positions()
    }

    /// True when a per-neuron vector takes one value per channel (the same at every position).
    pub fn channelwise(&self, v: &[i64]) -> bool {
        let pos = self.positions();
        v.len() == 1 || pos == 1 || v.chunks(pos).all(|ch| ch.iter().all(|&x| x == ch[0]))
    }

    /// True when every per-neuron parameter is per channel: the parameter ROM then holds one
    /// word per lane group instead of one per row (convolution layers).
    pub fn params_per_channel(&self) -> bool {
        let pr = &self.params;
        let mut vecs: Vec<&Vec<i64>> =
            vec![&pr.thr, &pr.bias, &pr.bias_late, &pr.vreset, &pr.syn_bias, &pr.syn_bias_late];
        for lk in std::iter::once(&self.leak).chain(self.syn_leak.as_ref()) {
            if let Leak::Mul { b } = lk {
                vecs.push(b);
            }
        }
        self.positions() > 1 && vecs.iter().all(|v| self.channelwise(v))
    }

    /// True when the per-target weights of projection `p` (pool, one-to-one) are per channel.
    pub fn weights_per_channel(&self, p: &Projection) -> bool {
        self.positions() > 1 && self.channelwise(&p.weights.values)
    }

    /// Words of the parameter ROM.
    pub fn param_depth(&self) -> usize {
        if self.params_per_channel() { self.lane_groups() } else { self.rows }
    }

    /// True when a projection accumulates into S.
    pub fn has_static(&self) -> bool {
        self.projections.iter().any(|p| p.target == AccTarget::Static)
    }
}

/// The quantised input stream.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InputPlan {
    /// Input node.
    pub node: String,
    /// Logical (C, H, W).
    pub shape: [usize; 3],
    /// Bits per input value.
    pub bits: u32,
    /// Two's complement (else unsigned).
    pub signed: bool,
    /// Real value of one input LSB.
    pub scale: f64,
    /// True when every step streams its own input (else once per sample).
    pub per_step: bool,
}

impl InputPlan {
    /// Elements per step.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// Quantises a real input: round half away from zero, then clamp to the range.
    pub fn quantise(&self, x: f64) -> i64 {
        let q = (x / self.scale).round() as i64;
        let (lo, hi) = if self.signed {
            (-(1i64 << (self.bits - 1)) + 1, (1i64 << (self.bits - 1)) - 1)
        } else {
            (0, (1i64 << self.bits) - 1)
        };
        q.clamp(lo, hi)
    }

    /// The real values the quantiser can represent; inputs beyond are clamped into it.
    pub fn range(&self) -> (f64, f64) {
        let hi = self.max_abs() as f64 * self.scale;
        (if self.signed { -hi } else { 0.0 }, hi)
    }

    /// Largest |value|.
    pub fn max_abs(&self) -> i64 {
        if self.signed { (1i64 << (self.bits - 1)) - 1 } else { (1i64 << self.bits) - 1 }
    }
}

/// What the chip streams out each step.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OutputPlan {
    /// Output node.
    pub node: String,
    /// Layer whose spikes or values are streamed.
    pub layer: usize,
    /// True for spikes (1 bit per neuron), false for V values.
    pub spikes: bool,
}

/// Where a logical memory lives on the device.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum MemMap {
    /// Flip-flops.
    Registers,
    /// Initialised or plain block RAMs.
    BlockRam {
        /// Number of blocks.
        blocks: u64,
        /// Aspect ratio used (depth, width).
        mode: [u64; 2],
    },
    /// Large single-port RAM (SPRAM).
    LargeRam {
        /// Number of blocks.
        blocks: u64,
    },
    /// Counted only (ASIC targets).
    Sram,
}

/// A logical memory of the design.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Memory {
    /// Name, e.g. `fc1.v`, `fc1.w0`, `lif1.events`.
    pub name: String,
    /// Layer index.
    pub layer: Option<usize>,
    /// What it holds: `membrane`, `static`, `synaptic`, `params`, `weights`, `events`,
    /// `input`, `output`.
    pub role: String,
    /// Words.
    pub depth: usize,
    /// Bits per word.
    pub width: usize,
    /// True for read-only (initialised) memories.
    pub rom: bool,
    /// Device mapping.
    pub map: MemMap,
}

impl Memory {
    /// Total bits.
    pub fn bits(&self) -> u64 {
        self.depth as u64 * self.width as u64
    }
}

/// The complete hardware plan.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Plan {
    /// Model file name, as a safe label ([`crate::names::label`]).
    pub model: String,
    /// Target name.
    pub target: String,
    /// Clock in MHz the latency figures assume.
    pub clock_mhz: f64,
    /// Timesteps per inference.
    pub timesteps: usize,
    /// Fractional bits F of membranes relative to the weight unit.
    pub frac_bits: u32,
    /// Fractional bits P of leak multipliers.
    pub leak_bits: u32,
    /// Reset mode of spiking layers.
    pub reset: ResetMode,
    /// Spike on `v >= THR`.
    pub fire_on_equal: bool,
    /// Input stream.
    pub input: InputPlan,
    /// Layers in update order.
    pub layers: Vec<Layer>,
    /// Output stream.
    pub output: OutputPlan,
    /// Logical memories and their mapping.
    pub memories: Vec<Memory>,
    /// Stop an inference once the output class cannot change (spike-count decoding).
    pub early_exit: bool,
}

/// A readable summary of one projection.
#[derive(Clone, Debug, Serialize)]
pub struct ProjSummary {
    /// Source node.
    pub from: String,
    /// Kind (`dense`, `conv`, `pool`, `one-to-one`, with `pool+` for pre-pooling).
    pub kind: String,
    /// `binary` or `k-bit`.
    pub weights: String,
    /// Left shift of each product.
    pub shift: u32,
    /// Beats per event.
    pub beats_per_event: u64,
    /// Static (direct input, once per sample) or dynamic.
    pub target: AccTarget,
    /// Reads the previous step.
    pub delayed: bool,
}

/// A readable summary of one layer.
#[derive(Clone, Debug, Serialize)]
pub struct LayerSummary {
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: NeuronKind,
    /// (C, H, W).
    pub shape: [usize; 3],
    /// Lanes.
    pub lanes: usize,
    /// Rows.
    pub rows: usize,
    /// Membrane bits.
    pub v_bits: u32,
    /// Static accumulator bits.
    pub s_bits: u32,
    /// Synaptic state bits.
    pub y_bits: u32,
    /// Saturating arithmetic.
    pub saturate: bool,
    /// Leak, e.g. `x*58982>>16`.
    pub leak: String,
    /// Threshold in LSBs (one value or a range).
    pub threshold: String,
    /// Real value of one membrane LSB (one value or a range).
    pub unit: String,
    /// Projections.
    pub projections: Vec<ProjSummary>,
}

/// A plan without its weight values.
#[derive(Clone, Debug, Serialize)]
pub struct PlanSummary {
    /// Model.
    pub model: String,
    /// Target.
    pub target: String,
    /// Clock.
    pub clock_mhz: f64,
    /// T.
    pub timesteps: usize,
    /// F.
    pub frac_bits: u32,
    /// P.
    pub leak_bits: u32,
    /// Reset.
    pub reset: ResetMode,
    /// Fire on equal.
    pub fire_on_equal: bool,
    /// Input.
    pub input: InputPlan,
    /// Layers.
    pub layers: Vec<LayerSummary>,
    /// Output.
    pub output: OutputPlan,
    /// Memories.
    pub memories: Vec<Memory>,
    /// Block RAMs used by the memory map.
    pub block_rams: u64,
    /// Bits of memories mapped to registers.
    pub register_bits: u64,
    /// Early exit.
    pub early_exit: bool,
}

fn range_str<T: PartialOrd + Copy + std::fmt::Display>(v: &[T]) -> String {
    let mut lo = v[0];
    let mut hi = v[0];
    for &x in v {
        if x < lo {
            lo = x;
        }
        if x > hi {
            hi = x;
        }
    }
    if v.len() == 1 || lo == hi { format!("{lo}") } else { format!("{lo}..{hi} (per neuron)") }
}

impl Leak {
    /// Short form, e.g. `x - (x >> 3)`.
    pub fn describe(&self, p: u32) -> String {
        match self {
            Leak::Zero => "0 (no state)".into(),
            Leak::One => "x (no decay)".into(),
            Leak::Shift { k } => format!("x - (x >> {k})"),
            Leak::Mul { b } => format!("(x * {} + 2^{}) >> {p}", range_str(b), p - 1),
        }
    }
}

impl Plan {
    /// The plan without weights, for reports.
    pub fn summary(&self) -> PlanSummary {
        let name_of = |s: &Source| match s {
            Source::Input => self.input.node.clone(),
            Source::Layer(k) => self.layers[*k].name.clone(),
        };
        let layers = self
            .layers
            .iter()
            .map(|l| LayerSummary {
                name: l.name.clone(),
                kind: l.kind,
                shape: l.shape,
                lanes: l.lanes,
                rows: l.rows,
                v_bits: l.v_bits,
                s_bits: l.s_bits,
                y_bits: l.y_bits,
                saturate: l.saturate,
                leak: l.leak.describe(self.leak_bits),
                threshold: if l.spiking() { range_str(&l.params.thr) } else { "-".into() },
                unit: {
                    let (lo, hi) = l.unit.iter().fold((f64::INFINITY, 0.0f64), |(a, b), &u| (a.min(u), b.max(u)));
                    if lo == hi { format!("{lo:.4e}") } else { format!("{lo:.4e}..{hi:.4e}") }
                },
                projections: l
                    .projections
                    .iter()
                    .map(|p| ProjSummary {
                        from: name_of(&p.source),
                        kind: format!(
                            "{}{}",
                            if p.pre_pool.is_some() { "pool+" } else { "" },
                            match p.kind {
                                ProjKind::Dense { .. } => "dense",
                                ProjKind::Conv { .. } => "conv",
                                ProjKind::Pool(_) => "pool",
                                ProjKind::OneToOne => "one-to-one",
                            }
                        ),
                        weights: if p.weights.binary() { "binary".into() } else { format!("{}-bit", p.weights.bits) },
                        shift: p.shift,
                        beats_per_event: schedule::beats_per_event(l, p),
                        target: p.target,
                        delayed: p.delayed,
                    })
                    .collect(),
            })
            .collect();
        let block_rams =
            self.memories.iter().map(|m| if let MemMap::BlockRam { blocks, .. } = m.map { blocks } else { 0 }).sum();
        let register_bits = self.memories.iter().filter(|m| m.map == MemMap::Registers).map(|m| m.bits()).sum();
        PlanSummary {
            model: self.model.clone(),
            target: self.target.clone(),
            clock_mhz: self.clock_mhz,
            timesteps: self.timesteps,
            frac_bits: self.frac_bits,
            leak_bits: self.leak_bits,
            reset: self.reset,
            fire_on_equal: self.fire_on_equal,
            input: self.input.clone(),
            layers,
            output: self.output.clone(),
            memories: self.memories.clone(),
            block_rams,
            register_bits,
            early_exit: self.early_exit,
        }
    }
}
