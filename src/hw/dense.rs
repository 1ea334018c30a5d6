//! The dense bit-parallel datapath (docs/hardware.md 4c): a projection that, instead of
//! scattering each source event, gathers every target row's input from its source's packed
//! spike vector, one word per cycle.
//!
//! A source layer read densely keeps a **spike plane**: its spikes of one step, `m` lane groups
//! of one position per word ([`Plane`]). A dense projection's ACC phase walks the target rows
//! in order and, for each, `words_per_row` (plane word, weight word) pairs; the lane sum of a
//! binary row is `sum_j 2 * popcount(s_j & w_j) - popcount(s_j)` (weight bit set: +1), shifted
//! left by the projection's shift, added to the row once. A one-to-one projection reads the
//! row's own lanes and adds each set lane's weight. Padding lanes of the target add 0; padding
//! lanes of the source never spike, so their plane bits are 0.
//!
//! Invariant: the gather adds exactly what the event-driven scatter adds, in another order.
//! Range analysis bounds every partial sum, so the state after the phase is the same, and the
//! mode changes only cycles, memory traffic and energy. A saturating layer (capped widths)
//! clamps per write, where order matters: it stays event-driven.

use serde::Serialize;

pub use super::mode::{Mode, ModeChoice, ModeFigures};
use super::{Layer, Plan};
use crate::quant::{AccTarget, ProjKind, Source};

pub use super::plan::WORD_MAX;

/// The most `--plane-bits` takes.
pub const PLANE_BITS_MAX: usize = 256;

/// The spike plane of a source layer: word `(g / m) * HW + pos` holds lane groups `g` with
/// `g % m` in `0..m` at position `pos`, group `g`'s lanes at bits `(g % m) * lanes ..`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Plane {
    /// The source's lanes.
    pub lanes: usize,
    /// Lane groups per position (the source's rows / HW).
    pub groups: usize,
    /// Positions (H * W).
    pub hw: usize,
    /// Lane groups per word.
    pub m: usize,
}

impl Plane {
    /// The plane of layer `l`.
    pub fn of(l: &Layer) -> Plane {
        let groups = l.lane_groups();
        let m = groups.min((l.plane_bits / l.lanes).max(1));
        Plane { lanes: l.lanes, groups, hw: l.positions(), m }
    }

    /// Bits per word.
    pub fn width(&self) -> usize {
        self.m * self.lanes
    }

    /// Words per position.
    pub fn chunks(&self) -> usize {
        self.groups.div_ceil(self.m)
    }

    /// Words of one step.
    pub fn depth(&self) -> usize {
        self.chunks() * self.hw
    }

    /// The word holding source row `r`'s lanes, and the bit of its lane 0.
    pub fn slot(&self, r: usize) -> (usize, usize) {
        let (g, pos) = (r / self.hw, r % self.hw);
        ((g / self.m) * self.hw + pos, (g % self.m) * self.lanes)
    }

    /// The source row and lane behind bit `b` of word `j` (None: past the last lane group).
    pub fn row_of(&self, j: usize, b: usize) -> Option<(usize, usize)> {
        let (chunk, pos) = (j / self.hw, j % self.hw);
        let g = chunk * self.m + b / self.lanes;
        (g < self.groups && b < self.width()).then_some((g * self.hw + pos, b % self.lanes))
    }
}

/// What a dense projection gathers for each target row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Gather {
    /// Every plane word (a dense matrix; an exactly tiling pre-pooling folded into it).
    Matrix,
    /// The words of each kernel tap at the row's position, every chunk of a tap in turn;
    /// a tap outside the input reads nothing (its words count as all zero).
    Conv {
        /// Kernel (h, w).
        k: [usize; 2],
        /// Stride (h, w).
        stride: [usize; 2],
        /// Zero padding before (top, left).
        pad: [usize; 2],
        /// Dilation (h, w).
        dil: [usize; 2],
        /// Input (h, w).
        input: [usize; 2],
    },
    /// The row's own word; each set lane adds its weight.
    OneToOne,
}

/// A projection's dense geometry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Dense {
    /// The source's plane.
    pub plane: Plane,
    /// What each row gathers.
    pub gather: Gather,
    /// (plane word, weight word) pairs per target row: cycles per row.
    pub words_per_row: usize,
    /// Weight ROM words (0: the weights are one constant).
    pub weight_depth: usize,
    /// Weight ROM bits per word: the target's lanes times the plane width (binary), or times
    /// the weight bits (one-to-one).
    pub weight_width: usize,
    /// Bit planes of the weights: 1 (binary, +-1: `2 popcount(s & w) - popcount(s)`; or
    /// one-to-one, whose lane adds its weight whatever its width), or under `--fuse-steps` a
    /// multi-bit weight's bits, the ROM holding each plane as words of its own (`weight_depth`
    /// counts them).
    pub weight_planes: usize,
    /// Bit planes of the source: 1 (spikes), or under `--fuse-steps` the input's bits.
    ///
    /// With `s = sum_b 2^b s_b` and `w = sum_c k_c 2^c w_c` (two's complement: `k` = -1 for a
    /// signed value's top bit, else 1), `sum_i s_i w_i = sum_b sum_c k_b k_c 2^(b + c)
    /// popcount(s_b & w_c)`: exact integers, one popcount of a word pair each, so a row takes
    /// `words_per_row x` [`Dense::bit_planes`] cycles. With the T steps side by side a weight
    /// word is held while the source's planes pass it and a plane word while the weights'
    /// planes pass it: a row reads `words_per_row x weight_planes` weight words and
    /// `words_per_row x source_planes` plane words.
    pub source_planes: usize,
}

/// The input's plane as layer `l` reads it under `--fuse-steps`: the input's channels in `l`'s
/// lanes (the LOAD phase writes each value's bit planes there), `plane_bits` wide at most.
pub fn input_plane(plan: &Plan, l: &Layer) -> Plane {
    let [c, h, w] = plan.input.shape;
    let groups = c.div_ceil(l.lanes);
    Plane { lanes: l.lanes, groups, hw: h * w, m: groups.min((l.plane_bits / l.lanes).max(1)) }
}

/// Why a projection cannot gather densely (it stays event-driven).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotDense {
    /// The input's values arrive as events.
    #[error("its source is the input (graded values, read as events)")]
    InputSource,
    /// A recurrence or a delayed projection.
    #[error("it reads a later layer or the previous step")]
    LaterOrDelayed,
    /// Multi-spike sources carry counts.
    #[error("its source emits spike counts (multi-spike neurons), read as events")]
    CountSource,
    /// The static sum is added once, not per step.
    #[error("it accumulates into the static sum")]
    StaticSum,
    /// A capped membrane makes the order of additions visible.
    #[error("its layer saturates (capped width), where the order of additions matters")]
    Saturating,
    /// Dense gathers pack binary weights.
    #[error("its weights are {0}-bit, not binary")]
    NotBinary(u32),
    /// Pooling windows with overlap or a remainder.
    #[error("its pooling windows do not tile the source exactly")]
    PoolNotTiling,
    /// Grouped convolutions.
    #[error("it is a grouped convolution")]
    Grouped,
    /// Pooling before a convolution.
    #[error("it pools before the convolution")]
    PoolBeforeConv,
    /// One-to-one between differently laid-out layers.
    #[error("its source is laid out unlike its target")]
    LayoutDiffers,
    /// Pooling straight into neurons.
    #[error("pooling straight into neurons stays event-driven")]
    PoolIntoNeurons,
}

/// A plan asked to run a projection dense that cannot ([`super::Plan::with_modes`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("layer '{layer}', projection {projection} cannot run dense: {why}")]
pub struct ModeError {
    /// The layer.
    pub layer: String,
    /// Its projection.
    pub projection: usize,
    /// Why.
    pub why: NotDense,
}

/// Why projection `pi` of layer `k` cannot run dense, or its geometry.
pub fn geometry(plan: &Plan, k: usize, pi: usize) -> Result<Dense, NotDense> {
    let l = &plan.layers[k];
    let p = &l.projections[pi];
    // Under --fuse-steps the input gathers from its bit planes, and multi-bit weights by
    // theirs ([`Dense::source_planes`]); today's dense units take spikes and binary weights only.
    let fuse = plan.fuse_steps;
    let (src, source_bits) = match p.source {
        Source::Layer(s) => {
            if s >= k || p.delayed {
                return Err(NotDense::LaterOrDelayed);
            }
            if plan.layers[s].multi {
                return Err(NotDense::CountSource);
            }
            (Some(&plan.layers[s]), 1)
        }
        Source::Input if fuse => (None, plan.input.bits),
        Source::Input => return Err(NotDense::InputSource),
    };
    if p.target != AccTarget::Dynamic {
        return Err(NotDense::StaticSum);
    }
    if l.saturate {
        return Err(NotDense::Saturating);
    }
    let plane = src.map_or_else(|| input_plane(plan, l), Plane::of);
    let src_shape = src.map_or(plan.input.shape, |s| s.shape);
    let wplanes = if p.weights.binary() { 1 } else { p.weights.bits.max(1) as usize };
    let binary = || if p.weights.binary() || fuse { Ok(()) } else { Err(NotDense::NotBinary(p.weights.bits)) };
    let (gather, words_per_row, weight_depth) = match &p.kind {
        ProjKind::Dense { .. } => {
            binary()?;
            if let Some(g) = &p.pre_pool
                && !(g.k == g.s
                    && g.p == [0, 0]
                    && g.out[0] * g.s[0] == src_shape[1]
                    && g.out[1] * g.s[1] == src_shape[2])
            {
                return Err(NotDense::PoolNotTiling);
            }
            (Gather::Matrix, plane.depth(), l.rows * plane.depth() * wplanes)
        }
        ProjKind::Conv { kh, kw, stride, pad, dil, groups, ih, iw, .. } => {
            binary()?;
            if *groups != 1 {
                return Err(NotDense::Grouped);
            }
            if p.pre_pool.is_some() {
                return Err(NotDense::PoolBeforeConv);
            }
            let taps = kh * kw * plane.chunks();
            (
                Gather::Conv { k: [*kh, *kw], stride: *stride, pad: *pad, dil: *dil, input: [*ih, *iw] },
                taps,
                l.lane_groups() * taps * wplanes,
            )
        }
        ProjKind::OneToOne => {
            let alike = |s: &&Layer| s.lanes == l.lanes && s.rows == l.rows && s.shape == l.shape;
            if p.pre_pool.is_some() || !src.is_some_and(|s| alike(&s)) {
                return Err(NotDense::LayoutDiffers);
            }
            let d = l.weight_depth(pi);
            (Gather::OneToOne, 1, d)
        }
        ProjKind::Pool(_) => return Err(NotDense::PoolIntoNeurons),
    };
    let weight_width = match gather {
        Gather::OneToOne => l.lanes * p.weights.bits as usize,
        _ => l.lanes * plane.width(),
    };
    // A one-to-one lane adds its weight whatever its width: one pair a row.
    let (weight_planes, source_planes) =
        if gather == Gather::OneToOne { (1, 1) } else { (wplanes, source_bits.max(1) as usize) };
    Ok(Dense { plane, gather, words_per_row, weight_depth, weight_width, weight_planes, source_planes })
}

impl Dense {
    /// Gathers per (plane word, weight word) pair: the weights' bit planes times the source's
    /// (1 but under `--fuse-steps`).
    pub fn bit_planes(&self) -> usize {
        self.weight_planes * self.source_planes
    }

    /// The plane word target row `r` reads at its `i`-th cycle (None: a tap outside the
    /// input, all zero), and the weight ROM word it pairs with.
    pub fn word(&self, l: &Layer, r: usize, i: usize) -> (Option<usize>, usize) {
        match self.gather {
            Gather::Matrix => (Some(i), r * self.words_per_row + i),
            Gather::OneToOne => {
                let a = match self.weight_depth {
                    0 => 0,
                    d if d == l.rows => r,
                    _ => r / l.positions(),
                };
                (Some(self.plane.slot(r).0), a)
            }
            Gather::Conv { k, stride, pad, dil, input } => {
                let chunks = self.plane.chunks();
                let (tap, chunk) = (i / chunks, i % chunks);
                let (ky, kx) = (tap / k[1], tap % k[1]);
                let (g, pos) = (r / l.positions(), r % l.positions());
                let (oy, ox) = (pos / l.shape[2], pos % l.shape[2]);
                let iy = (oy * stride[0] + ky * dil[0]).checked_sub(pad[0]).filter(|&v| v < input[0]);
                let ix = (ox * stride[1] + kx * dil[1]).checked_sub(pad[1]).filter(|&v| v < input[1]);
                let word = iy.zip(ix).map(|(y, x)| chunk * self.plane.hw + y * input[1] + x);
                (word, g * self.words_per_row + i)
            }
        }
    }

    /// Weight ROM word `a` as bits (lane `l` of the target at bits `l * plane width ..`):
    /// set where the weight from that source neuron is +1. One-to-one ROMs are the
    /// event-driven layout's ([`super::Layer::weight_depth`]), not built here.
    pub fn weight_bits(&self, plan: &Plan, k: usize, pi: usize, a: usize) -> Vec<bool> {
        let l = &plan.layers[k];
        let p = &l.projections[pi];
        let Source::Layer(s) = p.source else { unreachable!("dense projections read a layer") };
        let src = &plan.layers[s];
        let width = self.plane.width();
        let mut bits = vec![false; l.lanes * width];
        let (g, i) = (a / self.words_per_row, a % self.words_per_row);
        for (lane, chunk) in bits.chunks_mut(width).enumerate() {
            let Some(co) = l.channel_of(g, lane) else { continue };
            for (b, bit) in chunk.iter_mut().enumerate() {
                let w = match self.gather {
                    Gather::Matrix => {
                        let Some((sr, sl)) = self.plane.row_of(i, b) else { continue };
                        let Some(c) = src.channel_of(sr / src.positions(), sl) else { continue };
                        let pos = sr % src.positions();
                        let (y, x) = (pos / src.shape[2], pos % src.shape[2]);
                        let col = match &p.pre_pool {
                            Some(pg) => (c * pg.out[0] + y / pg.s[0]) * pg.out[1] + x / pg.s[1],
                            None => (c * src.shape[1] + y) * src.shape[2] + x,
                        };
                        let ProjKind::Dense { cols } = p.kind else { unreachable!() };
                        p.weights.at(co * cols + col)
                    }
                    Gather::Conv { k, .. } => {
                        let chunks = self.plane.chunks();
                        let (tap, ch) = (i / chunks, i % chunks);
                        let Some((sr, sl)) = self.plane.row_of(ch * self.plane.hw, b) else { continue };
                        let Some(ci) = src.channel_of(sr / src.positions(), sl) else { continue };
                        let ProjKind::Conv { ci: nci, .. } = p.kind else { unreachable!() };
                        p.weights.at((co * nci + ci) * k[0] * k[1] + tap)
                    }
                    Gather::OneToOne => unreachable!("one-to-one ROMs keep the event layout"),
                };
                *bit = w > 0;
            }
        }
        bits
    }
}

/// The layers with a projection from `src` in `mode`, in plan order, each once.
pub fn readers(plan: &Plan, src: Source, mode: Mode) -> Vec<usize> {
    (0..plan.layers.len())
        .filter(|&t| {
            let l = &plan.layers[t];
            l.projections.iter().zip(&l.modes).any(|(p, m)| p.source == src && *m == mode)
        })
        .collect()
}

/// True when layer `k` needs an event list: some projection reads its events in event mode.
pub fn has_event_readers(plan: &Plan, k: usize) -> bool {
    !readers(plan, Source::Layer(k), Mode::Event).is_empty()
}

/// Which positions of layer `k` its event list keeps: the rows (y, x) whose spikes some
/// event-mode reader can deliver to a target. A reader that is not a convolution reaches
/// every position; a convolution the coordinates [`super::taps::conv_reach`] marks on each
/// axis (a strided 1x1 convolution, every `s`-th). Separable: y in `y` and x in `x`, each
/// axis the union over the readers (a superset of the union of their position sets, so no
/// event with a target is ever dropped).
#[derive(Clone, Debug, PartialEq)]
pub struct Reach {
    /// Per y: kept.
    pub y: Vec<bool>,
    /// Per x: kept.
    pub x: Vec<bool>,
}

impl Reach {
    /// True when the position at flat index `pos` (`y * W + x`) is kept.
    pub fn at(&self, pos: usize) -> bool {
        let w = self.x.len();
        self.y[pos / w] && self.x[pos % w]
    }

    /// Positions kept.
    pub fn positions(&self) -> usize {
        self.y.iter().filter(|&&b| b).count() * self.x.iter().filter(|&&b| b).count()
    }
}

/// Layer `k`'s [`Reach`]; None when its list keeps every position (some reader reaches
/// them all, or it has no event-mode reader).
pub fn event_reach(plan: &Plan, k: usize) -> Option<Reach> {
    let [_, h, w] = plan.layers[k].shape;
    let mut r = Reach { y: vec![false; h], x: vec![false; w] };
    let mut any = false;
    for l in &plan.layers {
        for (p, m) in l.projections.iter().zip(&l.modes) {
            if p.source != Source::Layer(k) || *m != Mode::Event {
                continue;
            }
            any = true;
            let [ry, rx] = super::taps::conv_reach(l, p)?;
            if ry.len() != h || rx.len() != w {
                return None;
            }
            r.y.iter_mut().zip(&ry).for_each(|(a, &b)| *a |= b);
            r.x.iter_mut().zip(&rx).for_each(|(a, &b)| *a |= b);
        }
    }
    (any && r.positions() < h * w).then_some(r)
}

/// Rows of layer `k`'s event list at one step: lane groups times the positions it keeps
/// ([`event_reach`]).
pub fn listed_rows(plan: &Plan, k: usize) -> usize {
    let l = &plan.layers[k];
    // At least one position's rows: a list no reader reaches keeps none, and has no entry.
    event_reach(plan, k).map_or(l.rows, |r| l.lane_groups() * r.positions().max(1))
}

/// The layers reading layer `k`'s spike plane, in plan order, each once.
pub fn plane_readers(plan: &Plan, k: usize) -> Vec<usize> {
    readers(plan, Source::Layer(k), Mode::Dense)
}

/// The memory holding layer `k`'s spike plane as reader `r` reads it: `<layer>.plane`
/// (sequential and streamed: one, read in turn) or `<layer>.plane.<reader>` (pipelined: a copy per reader).
pub fn plane_memory(plan: &Plan, k: usize, r: usize) -> String {
    match plan.schedule {
        super::Schedule::Sequential | super::Schedule::Streamed => format!("{}.plane", plan.layers[k].name),
        super::Schedule::Pipelined => format!("{}.plane.{}", plan.layers[k].name, plan.layers[r].name),
    }
}

/// Whether projection `pi` of layer `k` hands its addends to an adder its state memory's units
/// share, keeping none of its own: a streamed plan's one-to-one dense units and the event-driven
/// units of layers that do not saturate (a saturating sum is not the low bits of a wider one).
/// The units run one at a time, and every reader of a state memory takes a lane's low bits at
/// its layer's width, so one adder at the memory's lane width serves them (docs/hardware.md 4c,
/// "Their state adder shared"). The shared popcounts' units add there too, through their row sum.
pub fn adds_in_bank(plan: &Plan, k: usize, pi: usize) -> bool {
    let l = &plan.layers[k];
    plan.schedule == super::Schedule::Streamed
        && if is(l, pi, Mode::Dense) {
            matches!(geometry(plan, k, pi).map(|g| g.gather), Ok(Gather::OneToOne))
        } else {
            !l.saturate
        }
}

/// The dense units of a streamed plan that gather through one shared popcount datapath, by
/// (layer, projection): every binary (not one-to-one) dense unit, when there are two or more;
/// empty otherwise. A streamed plan runs one phase at a time, so at most one of them is active
/// in any cycle (docs/hardware.md 4c, "One datapath for a streamed plan's dense units"). The
/// datapath is as wide as the most lanes times the widest plane word among them.
pub fn popcount_sharers(plan: &Plan) -> Vec<(usize, usize)> {
    if plan.schedule != super::Schedule::Streamed {
        return vec![];
    }
    let units: Vec<(usize, usize)> = (plan.layers.iter().enumerate())
        .flat_map(|(k, l)| (0..l.projections.len()).map(move |pi| (k, pi)))
        .filter(|&(k, pi)| {
            // A fused layer's gathers run in its own unit (T steps side by side).
            !plan.fused(k)
                && is(&plan.layers[k], pi, Mode::Dense)
                && geometry(plan, k, pi).is_ok_and(|g| !matches!(g.gather, Gather::OneToOne))
        })
        .collect();
    if units.len() < 2 { vec![] } else { units }
}

/// True when projection `p` of `l` runs in `mode`.
pub fn is(l: &Layer, pi: usize, mode: Mode) -> bool {
    l.modes.get(pi).copied().unwrap_or_default() == mode
}

/// Why layer `k` of a plan with [`Plan::fuse_steps`] is not fused (None: it is, or the
/// plan does not fuse).
pub fn unfused_why(plan: &Plan, k: usize) -> Option<String> {
    if !plan.fuse_steps || plan.fused(k) {
        return None;
    }
    let l = &plan.layers[k];
    Some(if k == plan.output.layer {
        "the output layer's rows go out step by step".into()
    } else if let Some(pi) = l.modes.iter().position(|m| *m != Mode::Dense) {
        let why = geometry(plan, k, pi).err().map_or_else(|| "it is event-driven".into(), |e| e.to_string());
        let from = match l.projections[pi].source {
            Source::Input => plan.input.node.clone(),
            Source::Layer(s) => plan.layers[s].name.clone(),
        };
        format!("its projection from '{from}' does not gather: {why}")
    } else {
        "it has no projection".into()
    })
}

/// Dense wherever a projection can be, event-driven elsewhere.
pub fn all_dense(plan: &Plan) -> Vec<Vec<Mode>> {
    plan.layers
        .iter()
        .enumerate()
        .map(|(k, l)| {
            (0..l.projections.len())
                .map(|pi| if geometry(plan, k, pi).is_ok() { Mode::Dense } else { Mode::Event })
                .collect()
        })
        .collect()
}

impl Plane {
    /// Packs one step's spikes of `l` (`spike(row, lane)`) into the plane's words.
    pub fn pack(&self, spike: impl Fn(usize, usize) -> bool) -> Vec<u64> {
        let mut words = vec![0u64; self.depth()];
        for r in 0..self.groups * self.hw {
            let (w, b) = self.slot(r);
            for lane in 0..self.lanes {
                if spike(r, lane) {
                    words[w] |= 1 << (b + lane);
                }
            }
        }
        words
    }
}

impl Dense {
    /// What target row `r` adds, per lane, gathering from `plane` (words of [`Plane::pack`]):
    /// the arithmetic every back end implements, written once (docs/hardware.md 4c).
    pub fn row_sum(&self, plan: &Plan, k: usize, pi: usize, r: usize, plane: &[u64]) -> Vec<i64> {
        let l = &plan.layers[k];
        let p = &l.projections[pi];
        let width = self.plane.width();
        let mut sums = vec![0i64; l.lanes];
        for i in 0..self.words_per_row {
            let (word, a) = self.word(l, r, i);
            let s = word.map_or(0, |w| plane[w]);
            match self.gather {
                Gather::OneToOne => {
                    let b = self.plane.slot(r).1;
                    for (lane, sum) in sums.iter_mut().enumerate() {
                        if s >> (b + lane) & 1 == 1 {
                            *sum += one_to_one_weight(l, pi, r, lane) << p.shift;
                        }
                    }
                }
                _ => {
                    let bits = self.weight_bits(plan, k, pi, a);
                    let ones = s.count_ones() as i64;
                    for (lane, sum) in sums.iter_mut().enumerate() {
                        let w: u64 = bits[lane * width..(lane + 1) * width]
                            .iter()
                            .enumerate()
                            .fold(0, |acc, (b, &set)| acc | (u64::from(set) << b));
                        *sum += (2 * (s & w).count_ones() as i64 - ones) << p.shift;
                    }
                }
            }
        }
        for (lane, sum) in sums.iter_mut().enumerate() {
            if l.channel_of(r / l.positions(), lane).is_none() {
                *sum = 0;
            }
        }
        sums
    }
}

/// The one-to-one weight of target row `r`, lane `lane` (the event layout's value).
fn one_to_one_weight(l: &Layer, pi: usize, r: usize, lane: usize) -> i64 {
    let p = &l.projections[pi];
    let Some(c) = l.channel_of(r / l.positions(), lane) else { return 0 };
    let i = if p.weights.values.len() == 1 { 0 } else { c * l.positions() + r % l.positions() };
    p.weights.at(i)
}
