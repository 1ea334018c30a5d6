//! The quantised network's types: the target's arithmetic [`Rules`], the [`Network`] with its
//! layers, projections and neuron parameters, and its input and output streams (the arithmetic
//! is described in the module's overview, [`super`]). They are plain data and call none of the
//! quantiser's steps, so [`super::calib`], [`super::quantise`], [`super::range`],
//! [`super::trace`] and the chip quantisers import them without importing one another's
//! callers (issue 53: no import cycles between files); `quant/mod.rs` re-exports them at their
//! old paths.

use serde::Serialize;

use super::packed::WeightValues;
use crate::ir::ResetMode;

/// The arithmetic a target implements, as data. The quantiser reads it to choose the
/// integers; the target family's simulator and back ends implement exactly it.
///
/// The forms listed are those a simulator and a back end in spikefab implement; a target
/// family adds its forms here together with the simulator that executes them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rules {
    /// How weights are stored.
    pub weights: WeightRule,
    /// How state (membranes, synaptic currents) is stored.
    pub state: StateRule,
    /// How decays are computed.
    pub decay: DecayRule,
    /// Which reset the hardware performs.
    pub reset: ResetRule,
    /// Most spikes one neuron emits in one step; `None`: as many as range analysis bounds,
    /// each layer's count carried in as many bits as it needs.
    pub max_spikes: Option<u32>,
    /// Bits of quantised real-valued inputs.
    pub input_bits: u32,
}

/// Weight storage.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WeightRule {
    /// Bits of a non-binary weight (binary rows take 1).
    pub bits: u32,
    /// How real weights become integers.
    pub form: WeightForm,
}

/// How real weights become integers.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum WeightForm {
    /// A real scale per output row (channel) folds into each neuron's unit; a row of `+-a`
    /// becomes 1-bit `+-1`, other rows `bits`-bit levels. The first weighted projection of a
    /// layer is shifted left by `frac_bits` (the membrane's fraction below one weight unit).
    RowScale {
        /// F.
        frac_bits: u32,
    },
    /// One left shift per weight matrix (input, recurrent, output) and `bits`-bit weights;
    /// each neuron's own unit absorbs its row's scale (Xylo).
    MatrixShift {
        /// Largest shift.
        max_shift: u32,
    },
    /// `bits`-bit weights with one exponent per layer (`w << exp`), one threshold mantissa
    /// per layer into which each row's scale folds (Loihi, lava-dl netx).
    LayerExponent {
        /// Largest exponent.
        max_exp: u32,
    },
}

/// State storage.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StateRule {
    /// Most bits of a state word; below the range-analysed width the arithmetic saturates
    /// (`None`: the analysed width, which never overflows).
    pub max_bits: Option<u32>,
}

/// How decays are computed.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum DecayRule {
    /// `(x * B + 2^(P-1)) >> P` with `P = frac_bits`, or `x - (x >> k)` when beta is exactly
    /// `1 - 2^-k`.
    Multiplier {
        /// P.
        frac_bits: u32,
    },
    /// `x - d` with `d = x >> k`, or +-1 when that is 0 and x is not, for `k <= max`: the
    /// nearest `1 - 2^-k` to beta (Xylo).
    Shift {
        /// Largest k.
        max: u32,
    },
    /// `x * (2^P - d) / 2^P` rounded toward zero, one 12-bit `d` per layer (Loihi).
    Truncate {
        /// P.
        frac_bits: u32,
    },
}

/// Which reset the hardware performs.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ResetRule {
    /// Whatever the dialect says the model was trained with (every [`ResetMode`]).
    AsTrained,
    /// Subtract the threshold per spike, whatever the model was trained with (Xylo).
    Subtract,
    /// Set the membrane to zero per spike, whatever the model was trained with (Loihi).
    Zero,
}

impl Rules {
    /// The FPGA rules: `weight_bits`-bit row-scaled weights with F = `frac_bits`, leak
    /// multipliers of `leak_bits` fraction bits, range-analysed state (saturating under
    /// `max_state_bits`), any reset, single- or multi-spike neurons (counts as wide as range
    /// analysis needs).
    pub fn fpga(
        weight_bits: u32,
        input_bits: u32,
        frac_bits: u32,
        leak_bits: u32,
        max_state_bits: Option<u32>,
    ) -> Rules {
        Rules {
            weights: WeightRule { bits: weight_bits, form: WeightForm::RowScale { frac_bits } },
            state: StateRule { max_bits: max_state_bits },
            decay: DecayRule::Multiplier { frac_bits: leak_bits },
            reset: ResetRule::AsTrained,
            max_spikes: None,
            input_bits,
        }
    }

    /// Xylo's SNN core (xylosim v2): 8-bit weights with one shift per matrix (at most 7, so
    /// that `127 << shift` stays a 16-bit value), 16-bit saturating state, decays as shifts of
    /// at most 15, reset by subtraction, up to 31 spikes per hidden neuron and step, inputs as
    /// event counts of at most 15.
    pub fn xylo() -> Rules {
        Rules {
            weights: WeightRule { bits: 8, form: WeightForm::MatrixShift { max_shift: 7 } },
            state: StateRule { max_bits: Some(16) },
            decay: DecayRule::Shift { max: 15 },
            reset: ResetRule::Subtract,
            max_spikes: Some(31),
            input_bits: 4,
        }
    }

    /// Loihi's CUBA neuron as Lava's fixed-point model computes it (lava-nc 0.10.0): 8-bit
    /// weights with a per-layer exponent, 24-bit state, 12-bit decays truncated toward zero,
    /// zero reset, one spike per step, graded (integer) input spikes of up to 8 bits.
    pub fn loihi() -> Rules {
        Rules {
            weights: WeightRule { bits: 8, form: WeightForm::LayerExponent { max_exp: 7 } },
            state: StateRule { max_bits: Some(24) },
            decay: DecayRule::Truncate { frac_bits: 12 },
            reset: ResetRule::Zero,
            max_spikes: Some(1),
            input_bits: 8,
        }
    }

    /// F: fraction bits of membranes below one weight unit (0 unless row-scaled).
    pub fn frac_bits(&self) -> u32 {
        match self.weights.form {
            WeightForm::RowScale { frac_bits } => frac_bits,
            WeightForm::MatrixShift { .. } | WeightForm::LayerExponent { .. } => 0,
        }
    }

    /// P: fraction bits of leak multipliers (0 for shift decays).
    pub fn leak_bits(&self) -> u32 {
        match self.decay {
            DecayRule::Multiplier { frac_bits } | DecayRule::Truncate { frac_bits } => frac_bits,
            DecayRule::Shift { .. } => 0,
        }
    }
}

/// A quantised network. `L` is the layer type: [`Layer`] itself, or a target family's layer
/// that wraps it with its placement (the FPGA plan's `hw::Layer`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Network<L = Layer> {
    /// Model file name, as a safe label ([`crate::names::label`]).
    pub model: String,
    /// Timesteps per inference.
    pub timesteps: usize,
    /// The arithmetic the integers were chosen for.
    pub rules: Rules,
    /// Reset mode of spiking layers.
    pub reset: ResetMode,
    /// Spike on `v >= THR`.
    pub fire_on_equal: bool,
    /// Input stream.
    pub input: InputPlan,
    /// Layers in update order.
    pub layers: Vec<L>,
    /// Output stream.
    pub output: OutputPlan,
    /// Stop an inference once the output class cannot change (spike-count decoding).
    pub early_exit: bool,
    /// What the quantiser had to approximate, one sentence each (empty when exact).
    pub notes: Vec<String>,
    /// The ensemble's students, when the network has one ensemble: what a run-time mask
    /// switches (see `quant::students`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub students: Option<Students>,
}

impl<L> Network<L> {
    /// The same network with every layer mapped by `f` (a target family's placement).
    pub fn map_layers<M>(self, f: impl FnMut(L) -> M) -> Network<M> {
        Network {
            model: self.model,
            timesteps: self.timesteps,
            rules: self.rules,
            reset: self.reset,
            fire_on_equal: self.fire_on_equal,
            input: self.input,
            layers: self.layers.into_iter().map(f).collect(),
            output: self.output,
            early_exit: self.early_exit,
            notes: self.notes,
            students: self.students,
        }
    }
}

/// The model's file name as a safe label, for [`Network::model`].
pub(super) fn model_label(m: &crate::Model) -> String {
    crate::names::label(&m.path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default())
}

/// Sets each layer's `has_consumers`: some projection reads its events.
pub(super) fn mark_consumers(layers: &mut [Layer]) {
    for k in 0..layers.len() {
        let used = layers.iter().any(|l| l.projections.iter().any(|p| p.source == Source::Layer(k)));
        layers[k].has_consumers = used;
    }
}

/// Which layers and projections belong to which student of the network's ensemble.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Students {
    /// The graph node the students sum into.
    pub merge: String,
    /// Student names, in the ensemble's order (`passes::students`).
    pub names: Vec<String>,
    /// Per layer: the student it belongs to; None for a shared layer.
    pub layer: Vec<Option<usize>>,
    /// Per layer, per projection: the student whose events or weights it carries; None for a
    /// shared projection.
    pub projection: Vec<Vec<Option<usize>>>,
    /// The constants students' projections add to shared layers.
    pub shares: Vec<BiasShare>,
}

/// What one student's projections add to a shared layer's constants, in that layer's units
/// (each vector of length 1 when uniform, empty when the student adds none to it).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BiasShare {
    /// The shared layer.
    pub layer: usize,
    /// The student.
    pub student: usize,
    /// To [`NeuronParams::bias`].
    pub bias: Vec<i64>,
    /// To [`NeuronParams::bias_late`].
    pub bias_late: Vec<i64>,
    /// To [`NeuronParams::syn_bias`].
    pub syn_bias: Vec<i64>,
    /// To [`NeuronParams::syn_bias_late`].
    pub syn_bias_late: Vec<i64>,
}

/// Neuron model of a quantised layer.
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
    /// A spiking layer (index into [`Network::layers`]).
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
    pub values: WeightValues,
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
    /// Membrane floor VMIN: `X' = leak(max(vhat, VMIN)) - ...`; empty when the layer has none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vmin: Vec<i64>,
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
    /// Multi-spike neurons (Sinabs' `MultiSpike`): a neuron that fires emits
    /// `count = floor(V / THR)` spikes (THR > 0), the subtract resets remove `count * THR`, and
    /// its event carries the count as its value.
    #[serde(default, skip_serializing_if = "is_false")]
    pub multi: bool,
    /// The largest count a neuron of a multi-spike layer can emit in a step (range analysis;
    /// 0 for single-spike layers, whose events are worth 1).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_count: u64,
    /// Bits of that count, unsigned (0 for single-spike layers).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub count_bits: u32,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

impl Layer {
    /// The most one event of this layer is worth: its largest count, or 1.
    pub fn event_max(&self) -> i64 {
        (self.max_count as i64).max(1)
    }

    /// Bits of one event's value as a consumer reads it: the count's, or 1 for a spike.
    pub fn event_bits(&self) -> u32 {
        self.count_bits.max(1)
    }

    /// Number of neurons.
    pub fn neurons(&self) -> usize {
        self.shape.iter().product()
    }

    /// Positions per channel (H*W).
    pub fn positions(&self) -> usize {
        self.shape[1] * self.shape[2]
    }

    /// True when the layer emits spikes.
    pub fn spiking(&self) -> bool {
        self.kind.spiking()
    }

    /// True when a per-neuron vector takes one value per channel (the same at every position).
    pub fn channelwise(&self, v: &[i64]) -> bool {
        let pos = self.positions();
        v.len() == 1 || pos == 1 || v.chunks(pos).all(|ch| ch.iter().all(|&x| x == ch[0]))
    }

    /// True when every per-neuron parameter is per channel (convolution layers): a layout can
    /// store one word per channel instead of one per neuron.
    pub fn params_per_channel(&self) -> bool {
        let pr = &self.params;
        let mut vecs: Vec<&Vec<i64>> =
            vec![&pr.thr, &pr.bias, &pr.bias_late, &pr.vreset, &pr.syn_bias, &pr.syn_bias_late, &pr.vmin];
        for lk in std::iter::once(&self.leak).chain(self.syn_leak.as_ref()) {
            if let Leak::Mul { b } = lk {
                vecs.push(b);
            }
        }
        self.positions() > 1 && vecs.iter().all(|v| self.channelwise(v))
    }

    /// True when the per-target weights of projection `p` (pool, one-to-one) are per channel.
    pub fn weights_per_channel(&self, p: &Projection) -> bool {
        self.positions() > 1 && self.channelwise(&p.weights.values.to_vec())
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
    #[inline]
    pub fn quantise(&self, x: f64) -> i64 {
        let (lo, hi) = self.code_range();
        ((x / self.scale).round() as i64).clamp(lo, hi)
    }

    /// The smallest and largest input code.
    #[inline]
    fn code_range(&self) -> (i64, i64) {
        if self.signed {
            (-(1i64 << (self.bits - 1)) + 1, (1i64 << (self.bits - 1)) - 1)
        } else {
            (0, (1i64 << self.bits) - 1)
        }
    }

    /// [`InputPlan::quantise`] of every value of `xs`, into `out` (replacing its contents);
    /// returns how many codes are non-zero. A power-of-two scale multiplies by its
    /// reciprocal, which is the division's exact result (both round the same real number).
    /// Inlined so that callers compiled for wider vectors round in registers.
    #[inline(always)]
    pub fn quantise_into(&self, xs: &[f64], out: &mut Vec<i64>) -> u64 {
        let (lo, hi) = self.code_range();
        out.clear();
        out.resize(xs.len(), 0);
        // Plain loops, no closures: a closure is a function of its own, compiled without the
        // caller's vector features unless inlined (and then `trunc` is a library call).
        let mut nz = 0u64;
        if i32::try_from(lo).is_ok() && i32::try_from(hi).is_ok() {
            // Clamped in f64 and converted through i32, which vector units convert directly
            // (NaN gives 0 either way; the codes include 0).
            let (flo, fhi) = (lo as f64, hi as f64);
            if let Some(r) = exact_reciprocal(self.scale) {
                for (o, &x) in out.iter_mut().zip(xs) {
                    let q = round_half_away(x * r).clamp(flo, fhi) as i32;
                    *o = i64::from(q);
                    nz += u64::from(q != 0);
                }
            } else {
                for (o, &x) in out.iter_mut().zip(xs) {
                    let q = round_half_away(x / self.scale).clamp(flo, fhi) as i32;
                    *o = i64::from(q);
                    nz += u64::from(q != 0);
                }
            }
        } else {
            for (o, &x) in out.iter_mut().zip(xs) {
                let q = (round_half_away(x / self.scale) as i64).clamp(lo, hi);
                *o = q;
                nz += u64::from(q != 0);
            }
        }
        nz
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

/// `x.round()` (half away from zero) as far as `as i64` can tell (a result of zero may lose its
/// sign), from `trunc`, which vector units have, where `round` is a library call per lane.
/// Exact: `x - trunc(x)` is exact for every finite `x`, and `trunc(x) +- 1` whenever it matters
/// (`|x| < 2^52`).
#[inline(always)]
fn round_half_away(x: f64) -> f64 {
    let t = x.trunc();
    t + if (x - t).abs() >= 0.5 { 1f64.copysign(x) } else { 0.0 }
}

/// `1 / s` when `s` and `1 / s` are both normal powers of two (then `x * (1 / s) == x / s`
/// for every `x`: both are the correctly rounded `x * 2^-k`).
fn exact_reciprocal(s: f64) -> Option<f64> {
    let pow2 = |v: f64| {
        let b = v.to_bits();
        let e = (b >> 52) & 0x7ff;
        b & ((1u64 << 52) - 1) == 0 && e != 0 && e != 0x7ff
    };
    let r = 1.0 / s;
    (pow2(s) && pow2(r)).then_some(r)
}

/// What the hardware streams out each step.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OutputPlan {
    /// Output node.
    pub node: String,
    /// Layer whose spikes or values are streamed.
    pub layer: usize,
    /// True for spikes (1 bit per neuron), false for V values.
    pub spikes: bool,
}

/// `lo..hi (per neuron)` or the one value of a per-neuron vector.
pub fn range_str<T: PartialOrd + Copy + std::fmt::Display>(v: &[T]) -> String {
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

#[cfg(test)]
mod tests {
    use super::InputPlan;

    #[test]
    fn batch_quantisation_equals_value_by_value() {
        let mut xs = vec![0.0, -0.0, 0.5, -0.5, 1.5, 2.5, -2.5, 1e300, -1e300, f64::INFINITY, f64::NAN, 5e-324];
        let mut r = 7u64;
        for _ in 0..2000 {
            r = r.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            xs.push(((r >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 70.0);
            xs.push((r >> 40) as f64 * 0.125);
        }
        for scale in [1.0, 0.25, 8.0, 2f64.powi(-1022), 2f64.powi(1023), 2f64.powi(-1074), 0.1, 3.0, 1.0 / 3.0] {
            for (bits, signed) in [(5, false), (8, true), (16, true), (31, false), (32, true), (40, true)] {
                let p = InputPlan { node: "in".into(), shape: [xs.len(), 1, 1], bits, signed, scale, per_step: false };
                let mut q = vec![];
                let nz = p.quantise_into(&xs, &mut q);
                let want: Vec<i64> = xs.iter().map(|&x| p.quantise(x)).collect();
                assert_eq!(q, want, "scale {scale:e} bits {bits}");
                assert_eq!(nz, want.iter().filter(|&&v| v != 0).count() as u64);
            }
        }
    }
}
