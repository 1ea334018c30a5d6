//! Loihi mapping: a network quantised under Loihi's rules ([`crate::quant::loihi`]) as the
//! layers of a lava-dl netx HDF5 file, with netx's limits checked and the weights netx will
//! actually use computed.
//!
//! netx does not store a weight exponent: it reads integer weights and picks the exponent
//! itself (`lava.lib.dl.netx.utils.optimize_weight_bits`): it shifts the matrix left by
//! `sb = floor(log2(scale)) + signed` bits (`scale` being the largest factor that keeps the
//! matrix within 8 signed bits, or 8 unsigned bits for a one-signed matrix), and Lava's Dense
//! process then clips the shifted weights to 8 bits (9 with the sign) and drops their low bits
//! that the matrix does not use, and shifts each step's sum right by `sb`. [`netx_dense`]
//! computes that round trip; for the integers the quantiser chooses (within +-127) it gives
//! back the same integers, which [`map`] checks (the simulation uses the round trip's result
//! either way). Conv layers keep their integers as they are, and their sums are clamped to 24
//! signed bits.
//!
//! Every layer adds one step: a layer's synapses deliver, at step `t`, the spikes of the
//! layer below at `t - 1`. The output of a network of `D` layers thus runs `D` steps behind
//! the model ([`NetxNet::lag`]): a sample's model step `t` reaches the output at its chip step
//! `t + D` (how samples follow each other: [`crate::sim::loihi`]).
//!
//! Placement ([`Placement`]): each layer on cores of its own, at most the target's
//! `neurons_per_core` per core, cores filled into chips in layer order, a chip holding at most
//! `cores` cores and (when the target states it) `synapses_per_chip` synapses of dense layers;
//! a network that needs more chips than the target's `chips` is refused, naming the layer that
//! does not fit. These are the published maxima (targets/loihi2.toml); a core's memory, which
//! Intel's closed compiler allocates, may hold fewer neurons or synapses.

use serde::Serialize;

use crate::quant::loihi::{BIAS_RANGE, DECAY_ONE, MAX_VTH, MAX_WEIGHT};
use crate::quant::{Leak, Network, ProjKind};
use crate::target::{ChipSpec, Family, Target, Toolchain};

/// The `reset_offset` spikefab passes to netx: layer `k` then clears `u` and `v` at the
/// 0-based stream steps `k + 1 (mod T)`, just before its input of a sample's model step 0
/// arrives. The export writes it and the chip model follows it.
pub const RESET_OFFSET: usize = 1;

/// A convolution's geometry, (height, width) pairs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConvGeom {
    /// Input (C, H, W).
    pub in_shape: [usize; 3],
    /// Kernel (h, w).
    pub kernel: [usize; 2],
    /// Stride.
    pub stride: [usize; 2],
    /// Padding on both sides.
    pub padding: [usize; 2],
    /// Dilation.
    pub dilation: [usize; 2],
    /// Groups.
    pub groups: usize,
}

/// One netx layer of CUBA neurons.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NetxLayer {
    /// Layer name, as a safe label.
    pub name: String,
    /// Output (C, H, W); dense layers `(n, 1, 1)`.
    pub shape: [usize; 3],
    /// Convolution, or `None` for dense.
    pub conv: Option<ConvGeom>,
    /// A netx `flatten` layer comes before this (dense after conv).
    pub flatten_before: bool,
    /// Columns of a dense layer (its inputs).
    pub in_features: usize,
    /// Integer weights as stored: dense `(out, in)`, conv `(out, in/groups, kh, kw)`.
    pub weights: Vec<i64>,
    /// The weights Lava uses after netx's rescaling (dense), or the stored ones (conv).
    pub effective: Vec<i64>,
    /// The per-step sum of `effective` is shifted by this (negative: right).
    pub weight_exp: i32,
    /// Bias mantissa per neuron (`x 2^6`).
    pub bias: Vec<i64>,
    /// Current decay, of 4096.
    pub i_decay: i64,
    /// Voltage decay, of 4096.
    pub v_decay: i64,
    /// Threshold mantissa (`x 2^6`).
    pub vth: i64,
    /// A recurrent dense layer's weights onto itself (netx `dense_rec`, `weight_rec`).
    pub rec: Option<NetxRec>,
    /// A multi-spike layer's units ([`Units`]): each neuron is `k` consecutive units (a conv
    /// layer's channel `c` is unit channels `c k ..`).
    pub units: Option<Units>,
}

/// A layer of multi-spike IF neurons (subtract reset) as Loihi computes it: each neuron is `k`
/// CUBA units that all receive its inputs, whose current integrates (iDecay 0) and whose
/// voltage is that current plus the unit's bias (vDecay 4096). Unit `j` (1-based) has the bias
/// `vth - (j theta - 1)`, so it spikes when the current reaches `j theta`: the units that fire
/// count `min(k, floor(u / theta))` spikes, and the layers reading it see each unit with the
/// neuron's weight, `w * count`. Two Lava processes beside the netx chain complete it: a
/// recurrence of weight `-theta` from every unit of a neuron to every unit of it (a Dense of a
/// dense layer, a 1x1 Conv of a conv layer), which subtracts `theta` per spike one step later
/// (for IF the subtract reset), and a constant input `drive` per unit into the units' current
/// (the neuron's bias, which the units' bias field no longer holds).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Units {
    /// Units per neuron: the most spikes a neuron emits per step.
    pub k: usize,
    /// The threshold in the current's units (before `<< 6`).
    pub theta: i64,
    /// The constant input per unit and step (the neuron's bias), in the same units.
    pub drive: Vec<i64>,
}

/// A layer's recurrent weights: its spikes of a step reach it at the next, through a second
/// Dense process with the layer's exponent.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NetxRec {
    /// Integer weights as stored, `(n, n)`.
    pub weights: Vec<i64>,
    /// The weights Lava uses after netx's rescaling.
    pub effective: Vec<i64>,
}

impl NetxLayer {
    /// Neurons.
    pub fn neurons(&self) -> usize {
        self.shape.iter().product()
    }
}

/// A network as netx layers.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NetxNet {
    /// Model file, as a safe label.
    pub model: String,
    /// Input shape as netx's input layer states it: `[n]` or `[C, H, W]`.
    pub input_shape: Vec<usize>,
    /// Bits of an input spike's payload (1: unary spikes).
    pub input_bits: u32,
    /// Layers in order.
    pub layers: Vec<NetxLayer>,
    /// Steps the output runs behind the model (the number of layers).
    pub lag: usize,
    /// Units per output neuron (a multi-spike output layer's `k`, else 1): an output neuron's
    /// spikes are its units' summed.
    pub out_group: usize,
    /// Where the layers sit on the target's cores and chips.
    pub placement: Placement,
}

/// The layers on cores and chips.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Placement {
    /// Cores used.
    pub cores: usize,
    /// Chips used.
    pub chips: usize,
    /// Chips the target has.
    pub system_chips: usize,
    /// Cores per chip.
    pub cores_per_chip: usize,
    /// Neurons per core at most.
    pub neurons_per_core: usize,
    /// Synapses per chip at most (dense layers), when the target states it.
    pub synapses_per_chip: Option<u64>,
    /// Per layer, in order.
    pub layers: Vec<LayerPlacement>,
}

/// One layer's cores.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LayerPlacement {
    /// Cores.
    pub cores: usize,
    /// Synapses: connections with a non-zero weight (a convolution's counted at every position).
    pub synapses: u64,
    /// First and last chip its cores sit on (0-based).
    pub chips: [usize; 2],
}

impl NetxNet {
    /// Input elements per step.
    pub fn input_numel(&self) -> usize {
        self.input_shape.iter().product()
    }

    /// Output neurons.
    pub fn outputs(&self) -> usize {
        self.layers.last().map_or(0, NetxLayer::neurons)
    }
}

/// Why a network cannot be written as netx for the target.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{target}: {message}")]
pub struct LoihiMapError {
    /// Target name.
    pub target: String,
    /// The limit and the network's figure.
    pub message: String,
}

/// What netx and Lava's Dense make of the integer matrix `w`: the weights used and the
/// exponent of each step's sum. `None` for a matrix netx cannot scale (all zero, or a shift
/// to the right).
pub fn netx_dense(w: &[i64]) -> Option<(Vec<i64>, i32)> {
    let s = netx_scale(w)?;
    Some((lava_dense(w, &s)?, -(s.sb as i32)))
}

/// What netx and Lava make of a recurrent layer's weights (`dense_rec`): netx scales the
/// concatenation `[w | w_rec]` once (`optimize_weight_bits`), and each of the block's two
/// Dense processes clips and truncates its own matrix under its own sign mode with the shared
/// bits (lava-dl 0.6.0 `RecurrentDense`, which passes no sign mode). The weights used, each
/// matrix's, and the shared exponent.
pub fn netx_dense_rec(w: &[i64], w_rec: &[i64]) -> Option<(Vec<i64>, Vec<i64>, i32)> {
    let all: Vec<i64> = w.iter().chain(w_rec).copied().collect();
    let s = netx_scale(&all)?;
    Some((lava_dense(w, &s)?, lava_dense(w_rec, &s)?, -(s.sb as i32)))
}

/// netx's scaling of a matrix (`optimize_weight_bits`, lava-dl 0.6.0 netx/utils.py).
struct NetxScale {
    /// The left shift of every weight (the exponent is `-sb`).
    sb: i64,
    /// Lava's `num_weight_bits`.
    nwb: i64,
    /// The matrix was clipped to its 9-bit range first.
    clip: bool,
}

fn netx_scale(w: &[i64]) -> Option<NetxScale> {
    let mx = *w.iter().max()?;
    let mn = *w.iter().min()?;
    if mx == 0 && mn == 0 {
        return None;
    }
    // optimize_weight_bits: clip beyond its 9-bit range.
    let clip = (mx > 254 && mn < 0) || (mn < -256 && mx > 0);
    let w: Vec<i64> = if clip { w.iter().map(|&x| x.clamp(-256, 254)).collect() } else { w.to_vec() };
    let mx = *w.iter().max()?;
    let mn = *w.iter().min()?;
    let (mode, signed) = sign_mode(mx, mn);
    let scale = match mode {
        Mode::Mixed => (127.0 / mx as f64).min(-128.0 / mn as f64),
        Mode::Inh => -256.0 / mn as f64,
        Mode::Exc => 255.0 / mx as f64,
    };
    let sb = scale.log2().floor() as i64 + signed;
    if sb < 0 {
        return None;
    }
    // The largest n <= 8 with every weight a multiple of 2^n.
    let mut n: i64 = 8;
    while n > 0 && w.iter().any(|&x| x % (1 << n) != 0) {
        n -= 1;
    }
    n -= signed;
    Some(NetxScale { sb, nwb: 8 - sb - n, clip })
}

/// Sign modes.
#[derive(PartialEq)]
enum Mode {
    Mixed,
    Exc,
    Inh,
}

/// netx's sign mode of a matrix (`optimize_weight_bits`): one-signed only when strictly
/// negative or non-negative, and whether it counts a sign bit.
fn sign_mode(mx: i64, mn: i64) -> (Mode, i64) {
    if mx < 0 {
        (Mode::Inh, 0)
    } else if mn >= 0 {
        (Mode::Exc, 0)
    } else {
        (Mode::Mixed, 1)
    }
}

/// Lava's sign mode of a Dense process's matrix (`determine_sign_mode`, which netx does not
/// override): a matrix of zeros and negatives is inhibitory, where netx called it mixed.
fn lava_sign_mode(mx: i64, mn: i64) -> (Mode, i64) {
    if mn >= 0 {
        (Mode::Exc, 0)
    } else if mx <= 0 {
        (Mode::Inh, 0)
    } else {
        (Mode::Mixed, 1)
    }
}

/// Lava's Dense on the matrix `w` netx scaled by `s`: shifted left by `sb`, clipped to its own
/// sign mode's 8 bits, its low bits beyond `num_weight_bits` dropped (`clip_weights`,
/// `truncate_weights`). `None` when the truncation would shift right by a negative amount (a
/// one-signed matrix under a mixed scaling with `num_weight_bits` 9: numpy makes it zero).
fn lava_dense(w: &[i64], s: &NetxScale) -> Option<Vec<i64>> {
    let w: Vec<i64> = if s.clip { w.iter().map(|&x| x.clamp(-256, 254)).collect() } else { w.to_vec() };
    let shifted: Vec<i64> = w.iter().map(|&x| x << s.sb).collect();
    let (mode, signed) = match (shifted.iter().max(), shifted.iter().min()) {
        (Some(&mx), Some(&mn)) => lava_sign_mode(mx, mn),
        _ => return Some(vec![]),
    };
    // Clip to the sign mode's 8 bits, then drop 8 - nwb (+1 mixed) low bits.
    let ntb = 8 - s.nwb + signed;
    if ntb < 0 {
        return None;
    }
    Some(
        shifted
            .iter()
            .map(|&x| match mode {
                Mode::Mixed => (x.clamp(-256, 255) >> ntb) << ntb,
                Mode::Exc => (x.clamp(0, 255) >> ntb) << ntb,
                Mode::Inh => -(((-x).clamp(0, 255) >> ntb) << ntb),
            })
            .collect(),
    )
}

/// The neuron and the unit (0-based) of unit `u` of a layer of `shape` (C, H, W) with `k`
/// units per neuron: a dense layer's neuron `i` is units `i k ..`, a conv layer's channel `c`
/// unit channels `c k ..` at every position.
pub fn unit_of(shape: [usize; 3], k: usize, u: usize) -> (usize, usize) {
    let pos = shape[1] * shape[2];
    let (uc, p) = (u / pos, u % pos);
    ((uc / k) * pos + p, uc % k)
}

/// `w` of a projection of `kind` from a source of `src` (C, H, W) into `co` output channels
/// (rows) as netx stores it for units: every output row (channel) repeated `kk` times, and each
/// source unit's column (input channel) its neuron's (each unit of a neuron takes the neuron's
/// weights; a source unit counts as its neuron).
fn expand(w: &[i64], kind: &ProjKind, src: [usize; 3], co: usize, kk: usize, ks: usize) -> Vec<i64> {
    if kk == 1 && ks == 1 {
        return w.to_vec();
    }
    match kind {
        ProjKind::Dense { cols } => {
            let rows = w.len() / cols.max(&1);
            // A flattened unit layer's units u: their neurons' columns.
            let col_of: Vec<usize> = (0..cols * ks).map(|u| unit_of(src, ks, u).0).collect();
            let mut out = Vec::with_capacity(w.len() * kk * ks);
            for r in 0..rows {
                let row: Vec<i64> = col_of.iter().map(|&c| w[r * cols + c]).collect();
                for _ in 0..kk {
                    out.extend_from_slice(&row);
                }
            }
            out
        }
        ProjKind::Conv { ci, kh, kw, groups, .. } => {
            let (cig, taps) = (ci / groups.max(&1), kh * kw);
            let mut out = Vec::with_capacity(w.len() * kk * ks);
            for o in 0..co {
                let kernel: Vec<i64> = (0..cig)
                    .flat_map(|c| {
                        let taps_of = &w[(o * cig + c) * taps..(o * cig + c + 1) * taps];
                        std::iter::repeat_n(taps_of, ks).flatten().copied()
                    })
                    .collect();
                for _ in 0..kk {
                    out.extend_from_slice(&kernel);
                }
            }
            out
        }
        ProjKind::Pool(_) | ProjKind::OneToOne => w.to_vec(),
    }
}

fn single(leak: &Leak) -> Option<i64> {
    match leak {
        Leak::Mul { b } if b.len() == 1 => Some(DECAY_ONE - b[0]),
        _ => None,
    }
}

/// Lays out `net` (quantised under [`crate::quant::Rules::loihi`]) as netx layers for
/// `target`, checking every limit netx and the chip state. Notes on weights netx does not
/// reproduce are appended to `notes`.
pub fn map(net: &Network, target: &Target, notes: &mut Vec<String>) -> Result<NetxNet, LoihiMapError> {
    let err = |message: String| LoihiMapError { target: target.name.clone(), message };
    let c = target.chip.as_ref().ok_or_else(|| err("the target has no [chip] section".into()))?;
    let mut layers: Vec<NetxLayer> = vec![];
    let mut prev_conv = false;
    for (k, l) in net.layers.iter().enumerate() {
        let name = crate::names::label(&l.name);
        // Units per neuron of this layer and of its source (multi-spike layers, [`Units`]).
        let kk = if l.multi { l.max_count.max(1) as usize } else { 1 };
        let ks = match k {
            0 => 1,
            _ => layers[k - 1].units.as_ref().map_or(1, |u| u.k),
        };
        let (p, r) = match &l.projections[..] {
            [p] => (p, None),
            [p, r] if r.source == crate::quant::Source::Layer(k) && matches!(r.kind, ProjKind::Dense { .. }) => {
                (p, Some(r))
            }
            ps => {
                return Err(err(format!(
                    "layer '{name}': {} projections; netx takes one, and a dense recurrence onto the layer",
                    ps.len()
                )));
            }
        };
        let (Some(i_decay), Some(v_decay)) = (l.syn_leak.as_ref().and_then(single), single(&l.leak)) else {
            return Err(err(format!("layer '{name}': per-neuron decays; netx takes one iDecay and vDecay per layer")));
        };
        if !(0..=DECAY_ONE).contains(&i_decay) || !(0..=DECAY_ONE).contains(&v_decay) {
            return Err(err(format!(
                "layer '{name}': decays iDecay {i_decay}, vDecay {v_decay}; netx's are 12-bit fractions of 4096 \
                 (0..=4096)"
            )));
        }
        let [theta] = l.params.thr[..] else {
            return Err(err(format!("layer '{name}': per-neuron thresholds; netx takes one vThMant per layer")));
        };
        let (i_decay, v_decay, vth) =
            if l.multi { (0, DECAY_ONE, (kk as i64 + 1) * theta / 2) } else { (i_decay, v_decay, theta) };
        if !(0..=MAX_VTH).contains(&vth) {
            return Err(err(format!("layer '{name}': threshold mantissa {vth}; Loihi's is 17-bit (0..={MAX_VTH})")));
        }
        let n = l.neurons() * kk;
        let own_bias: Vec<i64> = (0..l.neurons()).map(|i| crate::quant::at(&l.params.bias, i)).collect();
        // A unit layer: each unit's bias is its threshold offset, the neuron's bias its drive.
        let (bias, units) = if l.multi {
            let per_unit = |j: usize| vth - ((j as i64 + 1) * theta - 1);
            let (mut bias, mut drive) = (Vec::with_capacity(n), Vec::with_capacity(n));
            for u in 0..n {
                let (nrn, j) = unit_of(l.shape, kk, u);
                bias.push(per_unit(j));
                drive.push(own_bias[nrn]);
            }
            (bias, Some(Units { k: kk, theta, drive }))
        } else {
            (own_bias, None)
        };
        if let Some(b) = bias.iter().find(|b| !(BIAS_RANGE.0..=BIAS_RANGE.1).contains(*b)) {
            return Err(err(format!(
                "layer '{name}': bias mantissa {b}; Loihi's is 13-bit ({}..={})",
                BIAS_RANGE.0, BIAS_RANGE.1
            )));
        }
        if (kk > 1 || ks > 1) && r.is_some() {
            return Err(err(format!("layer '{name}': a recurrent layer reading or made of multi-spike units")));
        }
        let w = &expand(&p.weights.values.to_vec(), &p.kind, p.src_shape, l.shape[0], kk, ks);
        let w_rec = r.map(|r| r.weights.values.to_vec());
        if let Some(x) = w.iter().chain(w_rec.iter().flatten()).find(|x| x.abs() > MAX_WEIGHT) {
            return Err(err(format!(
                "layer '{name}': weight {x}; spikefab stores weights within +-{MAX_WEIGHT} (8-bit mantissas)"
            )));
        }
        let mut rec = None;
        let (conv, flatten_before, in_features, effective, weight_exp) = match &p.kind {
            ProjKind::Dense { cols } => {
                let (eff, eff_rec, exp) = match &w_rec {
                    None => {
                        let (eff, exp) = netx_dense(w).ok_or_else(|| {
                            err(format!("layer '{name}': netx cannot scale this weight matrix (every weight zero)"))
                        })?;
                        (eff, vec![], exp)
                    }
                    Some(wr) => netx_dense_rec(w, wr).ok_or_else(|| {
                        err(format!(
                            "layer '{name}': netx cannot scale this layer's weights with its recurrent weights \
                             (every weight zero, or Lava would zero a one-signed matrix)"
                        ))
                    })?,
                };
                let lost = eff
                    .iter()
                    .zip(w)
                    .chain(eff_rec.iter().zip(w_rec.iter().flatten()))
                    .filter(|&(&e, &x)| e != x << -exp)
                    .count();
                if lost > 0 {
                    notes.push(format!(
                        "'{name}': netx's rescaling changes {lost} of {} weights (the simulation uses what netx \
                         makes of them)",
                        w.len() + w_rec.as_ref().map_or(0, Vec::len)
                    ));
                }
                if let Some(wr) = w_rec {
                    rec = Some(NetxRec { weights: wr, effective: eff_rec });
                }
                (None, prev_conv, cols * ks, eff, exp)
            }
            ProjKind::Conv { ci, ih, iw, kh, kw, stride, pad, dil, groups } => {
                if k > 0 && !prev_conv {
                    return Err(err(format!(
                        "layer '{name}': a convolution after a dense layer; netx's dense output is flat"
                    )));
                }
                if bias.chunks(l.positions()).any(|ch| ch.iter().any(|&b| b != ch[0])) {
                    return Err(err(format!("layer '{name}': per-position biases; netx's conv bias is per channel")));
                }
                let g = ConvGeom {
                    in_shape: [ci * ks, *ih, *iw],
                    kernel: [*kh, *kw],
                    stride: *stride,
                    padding: *pad,
                    dilation: *dil,
                    groups: (*groups).max(1),
                };
                (Some(g), false, ci * ks * ih * iw, w.clone(), 0)
            }
            ProjKind::Pool(_) | ProjKind::OneToOne => {
                return Err(err(format!("layer '{name}': netx takes dense and conv layers only")));
            }
        };
        prev_conv = conv.is_some();
        layers.push(NetxLayer {
            name,
            shape: [l.shape[0] * kk, l.shape[1], l.shape[2]],
            conv,
            flatten_before,
            in_features,
            weights: w.clone(),
            effective,
            weight_exp,
            bias,
            i_decay,
            v_decay,
            vth,
            rec,
            units,
        });
    }
    let placement = place(&layers, c, &target.name)?;
    let input_shape = match layers.first().and_then(|l| l.conv.as_ref()) {
        Some(_) => net.input.shape.to_vec(),
        None => vec![net.input.numel()],
    };
    Ok(NetxNet {
        model: net.model.clone(),
        input_shape,
        input_bits: net.input.bits,
        lag: layers.len(),
        out_group: layers.last().and_then(|l| l.units.as_ref()).map_or(1, |u| u.k),
        layers,
        placement,
    })
}

/// Synapses of each neuron of `l`: its connections with a non-zero weight, its recurrent ones
/// included (for a convolution, the kernel taps that fall inside the input at the neuron's
/// position).
pub fn synapses_per_neuron(l: &NetxLayer) -> Vec<u64> {
    let n = l.neurons();
    let Some(g) = &l.conv else {
        let cols = l.in_features.max(1);
        let own = |i: usize| {
            l.rec.as_ref().map_or(0, |r| r.weights[i * n..(i + 1) * n].iter().filter(|&&w| w != 0).count() as u64)
        };
        return l
            .weights
            .chunks(cols)
            .take(n)
            .enumerate()
            .map(|(i, r)| r.iter().filter(|&&w| w != 0).count() as u64 + own(i))
            .collect();
    };
    let [ci, ih, iw] = g.in_shape;
    let [co, oh, ow] = l.shape;
    let cig = ci / g.groups.max(1);
    let [kh, kw] = g.kernel;
    // Non-zero weights per (output channel, ky, kx), over the group's input channels.
    let nz: Vec<u64> = (0..co * kh * kw)
        .map(|e| {
            let (o, tap) = (e / (kh * kw), e % (kh * kw));
            (0..cig).filter(|&c| l.weights[(o * cig + c) * kh * kw + tap] != 0).count() as u64
        })
        .collect();
    let inside = |o: usize, i: usize, k: usize, d: usize| {
        let (s, p, dl) = (g.stride[d], g.padding[d], g.dilation[d]);
        (o * s + k * dl).checked_sub(p).is_some_and(|x| x < i)
    };
    let mut out = Vec::with_capacity(n);
    for o in 0..co {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut s = 0;
                for ky in (0..kh).filter(|&ky| inside(oy, ih, ky, 0)) {
                    for kx in (0..kw).filter(|&kx| inside(ox, iw, kx, 1)) {
                        s += nz[(o * kh + ky) * kw + kx];
                    }
                }
                out.push(s);
            }
        }
    }
    out
}

/// `x` with thousands separators.
fn thousands(x: u64) -> String {
    let s = x.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Places `layers` on `c`'s cores and chips ([`Placement`]): the placement, or why it does not
/// fit (the limit, the figures and the layer).
pub fn place(layers: &[NetxLayer], c: &ChipSpec, target: &str) -> Result<Placement, LoihiMapError> {
    let err = |message: String| LoihiMapError { target: target.to_string(), message };
    let per_core = c.neurons_per_core.max(1) as usize;
    let cores_per_chip = c.cores.max(1) as usize;
    let system_chips = c.chips.unwrap_or(1).max(1) as usize;
    let syn_max = c.synapses_per_chip;
    let (mut chip, mut on_chip, mut syn_on_chip, mut cores) = (0usize, 0usize, 0u64, 0usize);
    let mut first_over: Option<&str> = None;
    let mut placed = vec![];
    for l in layers {
        let syn = synapses_per_neuron(l);
        // A convolution's shared kernel: how the chip stores it is not published; only dense
        // layers count against the chip's synapses.
        let counted = l.conv.is_none();
        let mut chips = [usize::MAX, 0];
        for part in syn.chunks(per_core) {
            let s: u64 = if counted { part.iter().sum() } else { 0 };
            if let Some(max) = syn_max
                && s > max
            {
                return Err(err(format!(
                    "layer '{}': {} synapses on one core ({} neurons of up to {} inputs); a chip holds up to {}",
                    l.name,
                    thousands(s),
                    part.len(),
                    l.in_features,
                    thousands(max)
                )));
            }
            if on_chip == cores_per_chip || syn_max.is_some_and(|m| syn_on_chip + s > m) {
                (chip, on_chip, syn_on_chip) = (chip + 1, 0, 0);
            }
            if chip >= system_chips && first_over.is_none() {
                first_over = Some(&l.name);
            }
            on_chip += 1;
            syn_on_chip += s;
            cores += 1;
            chips = [chips[0].min(chip), chip];
        }
        if syn.is_empty() {
            chips = [chip, chip];
        }
        placed.push(LayerPlacement { cores: syn.len().div_ceil(per_core), synapses: syn.iter().sum(), chips });
    }
    let used = if cores == 0 { 0 } else { chip + 1 };
    if let Some(name) = first_over {
        let syn = syn_max.map_or(String::new(), |m| format!(" and up to {} synapses of dense layers", thousands(m)));
        let more: Vec<String> = crate::target::BUNDLED
            .iter()
            .filter_map(|(n, _)| Target::load(n).ok())
            .filter(|t| t.family == Family::Loihi && t.toolchain == Toolchain::Lava)
            .filter_map(|t| t.chip.as_ref().map(|c| (t.name.clone(), c.chips.unwrap_or(1) as usize, c.cores as usize)))
            .filter(|&(_, ch, co)| ch * co >= cores && ch >= used)
            .map(|(n, ch, _)| format!("{n} ({ch} chips)"))
            .collect();
        let hint = if more.is_empty() { String::new() } else { format!("; a larger system: {}", more.join(", ")) };
        return Err(err(format!(
            "layer '{name}' does not fit: the network needs {cores} cores on {used} chips (up to {per_core} neurons \
             per core, one layer per core; {cores_per_chip} cores{syn} per chip); {target} has {system_chips} \
             chip{}{hint}",
            if system_chips == 1 { "" } else { "s" }
        )));
    }
    Ok(Placement {
        cores,
        chips: used,
        system_chips,
        cores_per_chip,
        neurons_per_core: per_core,
        synapses_per_chip: syn_max,
        layers: placed,
    })
}

#[cfg(test)]
mod tests {
    use super::netx_dense;

    #[test]
    fn netx_reproduces_weights_within_127() {
        for w in [vec![-127, 5, 127, 0], vec![3, -6, 1], vec![0, 64, 127], vec![-1, -127, 0], vec![-3, -127]] {
            let (eff, exp) = netx_dense(&w).unwrap();
            let back: Vec<i64> = eff.iter().map(|&e| e >> -exp).collect();
            assert_eq!(back, w, "{w:?} -> {eff:?} >> {}", -exp);
        }
        assert!(netx_dense(&[0, 0]).is_none());
        // An inhibitory matrix whose smallest weight is a power of two: netx clips -256 to -255.
        let (eff, exp) = netx_dense(&[-64, -32]).unwrap();
        assert_ne!(eff.iter().map(|&e| e >> -exp).collect::<Vec<_>>(), vec![-64, -32]);
    }
}
