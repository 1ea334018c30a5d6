//! What the Verilog and HLS back ends read from a plan alike: the design's name and header
//! lines, where a memory is placed, the neuron parameters in their fixed order, what a
//! projection accumulates into, and which neuron or weight each lane of a ROM word holds.
//!
//! Contract: both back ends take these facts from here, so their designs agree on them (the
//! HLS tables are laid out word for word as the RTL's ROMs); nothing here prints the syntax of
//! either language.

use std::borrow::Cow;

use crate::hw::{Layer, MemMap, Plan};
use crate::names::{Namer, label, path_label};
use crate::quant::{AccTarget, Leak, ProjKind, Projection, Source};

/// The top module or function: `sf_` and the model's name without its file extension.
pub fn top_name(namer: &mut Namer, plan: &Plan) -> String {
    format!("sf_{}", namer.name(plan.model.trim_end_matches(".nir").trim_end_matches(".json")))
}

/// Some projection reads the input's events.
pub fn reads_input(plan: &Plan) -> bool {
    plan.layers.iter().any(|l| l.projections.iter().any(|p| p.source == Source::Input))
}

/// Bits of an output word: a spike (or a multi-spike layer's count) per lane, or each lane's
/// membrane value.
pub fn out_word_bits(plan: &Plan) -> usize {
    plan.layers[plan.output.layer].lanes * crate::hw::memory::out_lane_bits(plan)
}

/// The header's model, target, input and output lines; an output word is one of `words`
/// (`rows`, `words`) of `out_bits` bits.
pub fn header(plan: &Plan, words: &str, out_bits: usize) -> Vec<String> {
    let inp = &plan.input;
    let ol = &plan.layers[plan.output.layer];
    vec![
        format!("model: {}", label(&plan.model)),
        format!("target: {} at {} MHz; T = {}", label(&plan.target), plan.clock_mhz, plan.timesteps),
        format!(
            "input: {:?} x {}-bit {}, {}",
            inp.shape,
            inp.bits,
            if inp.signed { "signed" } else { "unsigned" },
            if inp.per_step { "one input per step" } else { "once per inference" }
        ),
        format!(
            "output: layer '{}', {} {words} of {} bits per step ({})",
            label(&ol.name),
            ol.rows,
            out_bits,
            if plan.output.spikes { "spike masks" } else { "membrane values" }
        ),
    ]
}

/// The placement of the plan's memory `name` (None: the plan has no such memory).
pub fn mem_map<'a>(plan: &'a Plan, name: &str) -> Option<&'a MemMap> {
    plan.memories.iter().find(|m| m.name == name).map(|m| &m.map)
}

/// The memory `name` is held in registers (so is a memory the plan does not list).
pub fn in_registers(plan: &Plan, name: &str) -> bool {
    mem_map(plan, name).is_none_or(|m| *m == MemMap::Registers)
}

/// The width class of a neuron parameter.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ParamClass {
    /// A membrane value (V bits).
    Membrane,
    /// A synaptic value (Y bits).
    Synaptic,
    /// A leak multiplier (leak fraction bits and more).
    Multiplier,
}

/// One per-neuron parameter: one value for every neuron, or a value per neuron.
pub struct NeuronParam<'a> {
    /// Name, as the templates and hdl/sf_neuron.v know it.
    pub name: &'static str,
    /// Values (one: uniform).
    pub vals: Cow<'a, [i64]>,
    /// Width class.
    pub class: ParamClass,
}

/// The layer's neuron parameters in the parameter ROM's order: thr, bias, bias_late, vreset,
/// syn_bias, syn_bias_late, beta_b, syn_b, vmin (a leak that is no multiplier has `beta_b` 0;
/// a layer without a floor has `vmin` 0, unused).
pub fn neuron_params(l: &Layer) -> [NeuronParam<'_>; 9] {
    fn mul(lk: Option<&Leak>) -> Cow<'_, [i64]> {
        match lk {
            Some(Leak::Mul { b }) => Cow::Borrowed(b.as_slice()),
            _ => Cow::Owned(vec![0]),
        }
    }
    fn p<'a>(name: &'static str, vals: &'a [i64], class: ParamClass) -> NeuronParam<'a> {
        NeuronParam { name, vals: Cow::Borrowed(vals), class }
    }
    let pr = &l.params;
    [
        p("thr", &pr.thr, ParamClass::Membrane),
        p("bias", &pr.bias, ParamClass::Membrane),
        p("bias_late", &pr.bias_late, ParamClass::Membrane),
        p("vreset", &pr.vreset, ParamClass::Membrane),
        p("syn_bias", &pr.syn_bias, ParamClass::Synaptic),
        p("syn_bias_late", &pr.syn_bias_late, ParamClass::Synaptic),
        NeuronParam { name: "beta_b", vals: mul(Some(&l.leak)), class: ParamClass::Multiplier },
        NeuronParam { name: "syn_b", vals: mul(l.syn_leak.as_ref()), class: ParamClass::Multiplier },
        NeuronParam {
            name: "vmin",
            vals: if pr.vmin.is_empty() { Cow::Owned(vec![0]) } else { Cow::Borrowed(pr.vmin.as_slice()) },
            class: ParamClass::Membrane,
        },
    ]
}

/// A layer's state array.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// The membrane (X).
    X,
    /// The static accumulator (S).
    S,
    /// The synaptic state (Y).
    Y,
}

impl State {
    /// `x`, `s` or `y`.
    pub fn letter(self) -> &'static str {
        match self {
            State::X => "x",
            State::S => "s",
            State::Y => "y",
        }
    }
}

/// The state `p` accumulates into and its width: S when static, else Y in a current-based
/// layer, X otherwise.
pub fn acc_target(l: &Layer, p: &Projection) -> (State, u32) {
    match p.target {
        AccTarget::Static => (State::S, l.s_bits),
        AccTarget::Dynamic if l.kind.cuba() => (State::Y, l.y_bits),
        AccTarget::Dynamic => (State::X, l.v_bits),
    }
}

/// `source -> layer (path)`, for the comment above a projection.
pub fn proj_comment(plan: &Plan, l: &Layer, p: &Projection) -> String {
    let src = match p.source {
        Source::Input => &plan.input.node,
        Source::Layer(s) => &plan.layers[s].name,
    };
    format!("{} -> {} ({})", label(src), label(&l.name), path_label(&p.path))
}

/// The neuron lane `lane` of ROM word `a` holds (None: a padding lane): words are rows, or lane
/// groups when `per_channel` (one word serves every position).
pub fn neuron_at(l: &Layer, per_channel: bool, a: usize, lane: usize) -> Option<usize> {
    let pos = l.positions();
    let (cgi, pp) = if per_channel { (a, 0) } else { (a / pos, a % pos) };
    l.channel_of(cgi, lane).map(|c| c * pos + pp)
}

/// A pool or one-to-one projection's weights are per channel (one ROM word per lane group).
pub fn weights_per_lane_group(l: &Layer, p: &Projection) -> bool {
    matches!(p.kind, ProjKind::Pool(_) | ProjKind::OneToOne) && l.weights_per_channel(p)
}

/// The weight each lane of a projection's weight ROM word holds. Dense: word `jj * ncg + b`
/// holds output channels `b * L..` of input `jj`; convolution: word `((ci * kh + ky) * kw + kx)
/// * ncg + cb` holds lane group `cb` of the input channel's group; pool and one-to-one: one
/// word per target row (or lane group, [`weights_per_lane_group`]).
pub struct WeightRom<'a> {
    l: &'a Layer,
    p: &'a Projection,
    per_channel: bool,
}

impl<'a> WeightRom<'a> {
    /// The layout of `p`'s ROM in `l`.
    pub fn new(l: &'a Layer, p: &'a Projection) -> Self {
        WeightRom { l, p, per_channel: weights_per_lane_group(l, p) }
    }

    /// Word `a`: `out[lane]` is its weight, None for a padding lane (`out` has `lanes` places).
    pub fn word(&self, a: usize, out: &mut [Option<i64>]) {
        let (l, p) = (self.l, self.p);
        let lanes = l.lanes;
        // Dense and convolution words: lane `lane < valid` holds `values[base + lane * stride]`.
        let strided = |base: usize, stride: usize, valid: usize, out: &mut [Option<i64>]| {
            for (lane, o) in out.iter_mut().enumerate() {
                *o = (lane < valid).then(|| p.weights.values[base + lane * stride]);
            }
        };
        match &p.kind {
            ProjKind::Dense { cols } => {
                let (jj, b) = (a / l.ncg, a % l.ncg);
                strided(b * lanes * cols + jj, *cols, l.shape[0].saturating_sub(b * lanes).min(lanes), out);
            }
            ProjKind::Conv { ci, kh, kw, groups, .. } => {
                let ci_g = ci / groups;
                let co_g = l.shape[0] / groups;
                let (cb, tap) = (a % l.ncg, a / l.ncg);
                let (cc, ky, kx) = (tap / (kh * kw), (tap / kw) % kh, tap % kw);
                let co0 = cc / ci_g * co_g + cb * lanes;
                let per_co = ci_g * kh * kw;
                let base = co0 * per_co + ((cc % ci_g) * kh + ky) * kw + kx;
                strided(base, per_co, co_g.saturating_sub(cb * lanes).min(lanes), out);
            }
            ProjKind::Pool(_) | ProjKind::OneToOne => {
                for (lane, o) in out.iter_mut().enumerate() {
                    *o = neuron_at(l, self.per_channel, a, lane).map(|n| p.weights.at(n));
                }
            }
        }
    }
}

/// Where table word `a` of a weight ROM streamed from external memory sits: the ROM's
/// `MemMap::External` placement, read the way the memory image holds it. A ROM of a layer in
/// `slices` tiles is that many slices of `depth / slices` words, slice `s` at `addr + s *
/// stride`; a dense gather's slice is a run of words, an event-driven ROM's words are
/// lane-group fastest (`w * G + g`), so its slice `s` holds word `(w, g)` of the tile's lane
/// groups at `w * (G / slices) + g - s G / slices`. Within a slice, position `i` is packed as
/// [`crate::hw::memory::LargeLayout::packed`]: `cols` memory words from `i * cols` (lowest
/// bits first) for a wide word, else slot `i % per_word` of memory word `i / per_word`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExternalRom {
    /// First memory word, words per slice (packed), slices and the distance between them.
    pub addr: u64,
    /// See `addr`.
    pub words: u64,
    /// See `addr`.
    pub slices: usize,
    /// See `addr`.
    pub stride: u64,
    /// Table words, and bits a table word.
    pub depth: usize,
    /// See `depth`.
    pub width: usize,
    /// The ROM's words are lane-group fastest and cut into tiles: the permutation above, with
    /// the layer's lane groups.
    pub groups: Option<usize>,
    /// The packing: memory words a table word (`> 1`: a wide word), else table words a memory
    /// word, in slots of `slot` bits.
    pub cols: usize,
    /// See `cols`.
    pub per_word: usize,
    /// See `cols`.
    pub slot: usize,
}

impl ExternalRom {
    /// The placement of projection `j` of layer `k`'s ROM (None when it is not external).
    pub fn of(plan: &Plan, k: usize, j: usize) -> Option<ExternalRom> {
        let l = &plan.layers[k];
        let m = plan.memories.iter().find(|m| m.name == format!("{}.w{j}", l.name))?;
        let MemMap::External { addr, words, layout, slices, stride } = m.map else { return None };
        let dense = crate::hw::dense::is(l, j, crate::hw::dense::Mode::Dense);
        Some(ExternalRom {
            addr,
            words,
            slices,
            stride,
            depth: m.depth,
            width: m.width,
            groups: (!dense && slices > 1).then(|| l.lane_groups()),
            cols: layout.cols,
            per_word: layout.per_word,
            slot: layout.slot,
        })
    }

    /// Words a slice holds.
    pub fn per_slice(&self) -> usize {
        self.depth / self.slices.max(1)
    }

    /// The table word at position `i` of slice `s`.
    pub fn word(&self, s: usize, i: usize) -> usize {
        match self.groups {
            Some(g) => {
                let per_g = g / self.slices;
                (i / per_g) * g + s * per_g + i % per_g
            }
            None => s * self.per_slice() + i,
        }
    }
}

/// The bits of word `a` of projection `j` of layer `k`'s weight ROM, bit 0 first: a dense
/// gather's word ([`crate::hw::dense::Dense::weight_bits`]), else `lanes` weights of the
/// projection's bits each ([`WeightRom`]; a binary weight is one bit, set for +1; a padding
/// lane is zero).
pub fn weight_word_bits(plan: &Plan, k: usize, j: usize, a: usize, lanes_buf: &mut [Option<i64>]) -> Vec<bool> {
    use crate::hw::dense::{self, Gather, Mode};
    let l = &plan.layers[k];
    let p = &l.projections[j];
    if dense::is(l, j, Mode::Dense)
        && let Ok(g) = dense::geometry(plan, k, j)
        && g.gather != Gather::OneToOne
    {
        return g.weight_bits(plan, k, j, a);
    }
    let wb = p.weights.bits as usize;
    WeightRom::new(l, p).word(a, lanes_buf);
    let mut bits = vec![false; l.lanes * wb];
    for (lane, w) in lanes_buf.iter().enumerate() {
        match *w {
            Some(v) if wb == 1 => bits[lane] = v > 0,
            Some(v) => {
                for (b, bit) in bits[lane * wb..(lane + 1) * wb].iter_mut().enumerate() {
                    *bit = (v >> b) & 1 == 1;
                }
            }
            None => {}
        }
    }
    bits
}

/// The external memory's image for `plan` (`word`-bit words, in address order; empty when
/// every weight is on chip): each streamed weight ROM's words at their [`ExternalRom`] places.
pub fn external_image(plan: &Plan, word: usize) -> Vec<u64> {
    let mut image: Vec<u64> = vec![];
    for (k, l) in plan.layers.iter().enumerate() {
        let mut lanes_buf = vec![None; l.lanes];
        for j in 0..l.projections.len() {
            let Some(x) = ExternalRom::of(plan, k, j) else { continue };
            let end = (x.addr + (x.slices.max(1) as u64 - 1) * x.stride + x.words) as usize;
            if image.len() < end {
                image.resize(end, 0);
            }
            for s in 0..x.slices.max(1) {
                let base = (x.addr + s as u64 * x.stride) as usize;
                for i in 0..x.per_slice() {
                    let bits = weight_word_bits(plan, k, j, x.word(s, i), &mut lanes_buf);
                    for b in bits.iter().enumerate().filter(|(_, set)| **set).map(|(b, _)| b) {
                        let (w, at) = if x.cols > 1 {
                            (base + i * x.cols + b / word, b % word)
                        } else {
                            (base + i / x.per_word, (i % x.per_word) * x.slot + b)
                        };
                        image[w] |= 1 << at;
                    }
                }
            }
        }
    }
    image
}
