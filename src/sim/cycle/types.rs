//! The types every file of the cycle engine shares, and the helpers both paths apply to them:
//! the prepared [`Engine`] (built once per run by `super::engine`, read-only while samples
//! run), events, the scratch buffers of the packed kernels, and convolution geometry.
//!
//! Per projection, [`Fast`] holds the weights re-laid for the fast path's kernels; they are
//! chosen only where they compute the per-event scatter's integer sums (binary weights, or
//! non-saturating layers, where range analysis makes the accumulation order irrelevant).
//! Per layer, [`LayerPrep`] holds the update pass's tables, and [`Lists`] how consumers read
//! its events.
//!
//! This file imports no other file of the engine but [`super::word`]: every other file may
//! import it.

use crate::data::InputBatch;
use crate::hw::schedule;
use crate::hw::{Layer, Plan};
use crate::quant::{AccTarget, PoolGeom, ProjKind, Projection, Source};

use super::word::Word;

/// An event: (channel, y, x, value).
pub(super) type Event = (usize, usize, usize, i64);

/// Projection data prepared for fast execution. The packed paths compute the same integer
/// sums as the per-event scatter (the RTL's order); they are used only on non-saturating
/// layers, where range analysis makes the order irrelevant.
pub(super) enum Fast {
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
    /// Dense after a pre-pooling stage.
    PoolDense(PoolDense),
    /// Column-major dense weights `w[j * n + i]`.
    DenseCols(Vec<i32>),
    /// Convolution weights as [input channel][tap][output channel of its group]: one
    /// contiguous run per event and tap (non-saturating layers, weights within i32).
    ConvCols { wt: Vec<i32>, table: TapTable },
    /// Other kinds use the plan's weights directly.
    Scatter,
}

/// A dense projection after a pre-pooling stage: row-major weights `wr[i * cols + j]`, and
/// for every source position the pooled positions whose window holds it
/// (`table[start[q]..start[q + 1]]`, as `py * pw + px`; `pooled = ph * pw`).
pub(super) struct PoolDense {
    pub(super) wr: Vec<i32>,
    pub(super) table: Vec<u32>,
    pub(super) start: Vec<u32>,
    /// The inverse of `table`: per pooled position, the source positions in its window
    /// (`members[mstart[pp]..mstart[pp + 1]]`, with `table`'s multiplicities).
    pub(super) members: Vec<u32>,
    pub(super) mstart: Vec<u32>,
    pub(super) pooled: usize,
    /// Spike inputs keep every dot product within i32 (`cols * window * max |w|`).
    pub(super) fits32: bool,
}

/// For every input position of a convolution, the kernel taps that land inside the output
/// and where: `(tap, output position)` pairs in tap order, `ent[start[p]..start[p + 1]]`.
pub(super) struct TapTable {
    start: Vec<u32>,
    ent: Vec<(u32, u32)>,
}

/// Most entries a [`TapTable`] holds (128 MiB; a 32x32 map under a 3x3 kernel needs 9,216); a
/// convolution with more runs on the general path, which finds each event's taps as it goes.
const TAP_TABLE_MAX: u64 = 1 << 24;

impl TapTable {
    /// The table, built from each axis' closed-form tap runs (`hw::taps::valid_taps`), so its
    /// cost is its size; None when it would hold more than [`TAP_TABLE_MAX`] entries.
    pub(super) fn new(g: &ConvGeo) -> Option<Self> {
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
    pub(super) fn at(&self, p: usize) -> &[(u32, u32)] {
        &self.ent[self.start[p] as usize..self.start[p + 1] as usize]
    }

    /// Valid taps per input position.
    pub(super) fn counts(&self) -> Vec<u32> {
        self.start.windows(2).map(|w| w[1] - w[0]).collect()
    }
}

/// Per-layer tables for the update pass (computed once per plan).
pub(super) struct LayerPrep {
    /// Neuron of each (row, lane), `u32::MAX` for padding lanes.
    pub(super) slots: Vec<u32>,
    /// (channel, y, x) of each neuron.
    pub(super) coords: Vec<(u32, u32, u32)>,
    /// The layer has a per-neuron parameter ROM (counted as reads).
    pub(super) param_rom: bool,
    /// Parameters expanded to one value per neuron, when they fit i32 (wider ones only occur
    /// in pathological plans, which take the general path); repeated for every sample of a
    /// pass when the layer is updated in one sweep over the pass ([`super::pass::SWEEP_SAMPLES_BELOW`]).
    /// Each table has `table_len` values (a multiple of the neurons).
    pub(super) table_len: usize,
    pub(super) thr_full: Vec<i32>,
    pub(super) bias_full: Vec<i32>,
    pub(super) bias_late_full: Vec<i32>,
    pub(super) vreset_full: Vec<i32>,
    /// Per-neuron leak multipliers, repeated as the parameters (`Leak::Mul` with one value
    /// per neuron), else empty.
    pub(super) leak_full: Vec<i64>,
    /// Zeros, as many as a parameter table (absent static state, the first step's late bias).
    pub(super) zeros: Vec<i64>,
    pub(super) zero32: Vec<i32>,
    /// Every parameter fits i32 (else the general update path is used).
    pub(super) params_i32: bool,
    /// The update adds a static accumulation or a bias (else V = X).
    pub(super) extra: bool,
    /// The used slots' neurons in (row, lane) order.
    pub(super) order: Vec<u32>,
    /// Channels of each lane group (a row holds one lane group at one position):
    /// `group_chans[group_start[g]..group_start[g + 1]]`.
    pub(super) group_chans: Vec<u32>,
    pub(super) group_start: Vec<u32>,
    /// Row r holds neurons `r*lanes ..` (one position per channel, lane groups of
    /// consecutive channels): a dense layer without groups.
    pub(super) contiguous: Option<RowFold>,
    /// The event each neuron emits.
    pub(super) event_of: Vec<Event>,
}

/// Rows of `lanes` consecutive neurons, as the update pass's `spikes_entries_contiguous` folds
/// them: `low` has bit 0 of every group of `lanes` bits set when `lanes` divides 64, else it
/// is 0. Built once per layer (it takes two divisions).
#[derive(Clone, Copy, Debug)]
pub(in crate::sim::cycle) struct RowFold {
    pub(super) lanes: usize,
    pub(super) low: u64,
}

impl RowFold {
    pub(in crate::sim::cycle) fn new(lanes: usize) -> RowFold {
        let low = if lanes > 0 && 64 % lanes == 0 { u64::MAX / ((1u128 << lanes) - 1) as u64 } else { 0 };
        RowFold { lanes, low }
    }
}

/// How consumers read a layer's events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Lists {
    /// Only as fired flags (binary dense and convolution, one-to-one, and pooled or
    /// column-weight dense consumers of a plain layer): no event list.
    None,
    /// As a list in any order (non-saturating consumers: sums do not depend on order).
    Any,
    /// As a list in the RTL's (row, lane) order (a saturating consumer clamps every write).
    Ordered,
}

/// A plan prepared for both paths; read-only while samples run.
pub(super) struct Engine<'p> {
    pub(super) plan: &'p Plan,
    pub(super) fast: Vec<Vec<Fast>>,
    /// Per layer and projection: beats per event and whether a beat reads a weight memory.
    pub(super) beats: Vec<Vec<(u64, bool)>>,
    /// Per layer and projection: the beats of an event at each source position (y * W + x)
    /// when they differ by position (a convolution clipped at the borders,
    /// [`schedule::beats_at`]); else every event costs `beats`'s.
    pub(super) beats_at: Vec<Vec<Option<Vec<u32>>>>,
    pub(super) prep: Vec<LayerPrep>,
    /// How each layer's consumers read its events.
    pub(super) lists: Vec<Lists>,
    /// Per layer: the fast path updates it in one branch-free sweep ([`super::pass`]), so its
    /// events are exactly its fired flags, each of value 1.
    pub(super) plain: Vec<bool>,
    /// Words of the input's bit planes when binary dense projections read the input, all in
    /// its own layout (the planes are then built once per input load, for all of them).
    pub(super) input_planes: Option<usize>,
    /// Some projection reads the input as an event list (else only shared planes do).
    pub(super) input_list: bool,
    /// Per layer: the global index of its first projection (layers' projections numbered
    /// in order), and the number of projections in all.
    pub(super) proj_base: Vec<usize>,
    pub(super) nproj: usize,
    /// Passes may keep state in i32 ([`super::word`]): every layer is plain, every projection has a
    /// narrow kernel, and no value a pass computes from in-width values can leave i32.
    pub(super) narrow: bool,
    /// The pipelined schedule's dependencies (None: sequential).
    pub(super) pipe: Option<schedule::Pipe>,
    /// Per layer and projection: (plane words per row, the layer's rows) of a dense
    /// projection (`crate::hw::dense`), None for an event-driven one.
    pub(super) dense: Vec<Vec<Option<(usize, usize)>>>,
    /// Per layer: an event-mode projection reads its event list (else none is written).
    pub(super) event_list: Vec<bool>,
    /// Per layer: the positions its event list keeps when not all
    /// (`crate::hw::dense::event_reach`, flat `y * W + x`); the list's entries and the
    /// events its event-mode readers take are the kept ones (the others have no target).
    pub(super) kept: Vec<Option<Vec<bool>>>,
    /// Per layer: copies of its spike plane, each written every row of every update pass.
    pub(super) plane_copies: Vec<u64>,
    /// Per layer: it runs its rows with the T steps side by side ([`crate::hw::Plan::fused`]).
    pub(super) fused: Vec<bool>,
    /// Per layer and projection of a fused layer: (weight bit planes, source bit planes) of its
    /// gather ([`crate::hw::dense::Dense::source_planes`]); (1, 1) elsewhere.
    pub(super) planes: Vec<Vec<(u64, u64)>>,
    /// Run layer-major (every step of a layer before the next layer; [`super::run_layer_major`])
    /// instead of step-major. Same kernels, so the same integers.
    pub(super) layer_major: bool,
    /// Per layer, and per layer and projection: it runs under the run's student mask
    /// ([`crate::quant::students::Activity`]; all true without one). A phase that does not
    /// run is not reported: it delivers nothing and takes no cycle.
    pub(super) runs: Vec<bool>,
    pub(super) runs_proj: Vec<Vec<bool>>,
}

impl Engine<'_> {
    /// This engine (of `plan` under a mask, [`crate::hw::Plan::masked`]) running only what
    /// `act` runs. What the design stores is `full`'s: a layer reads its parameter memory as
    /// the full plan's does, whatever values the mask leaves in it.
    pub(super) fn masked(mut self, full: &crate::hw::Plan, act: crate::quant::students::Activity) -> Self {
        for (k, p) in self.prep.iter_mut().enumerate() {
            p.param_rom = crate::hw::memory::param_lane_bits(full, k) > 0;
        }
        self.runs = act.layer;
        self.runs_proj = act.projection;
        self
    }

    /// Layer `k` runs under the run's mask.
    #[inline]
    pub(super) fn runs(&self, k: usize) -> bool {
        self.runs[k]
    }

    /// Projection `pi` of layer `k` runs at step `t` (a static one at the first step only) under
    /// the run's mask.
    #[inline]
    pub(super) fn proj_runs(&self, k: usize, pi: usize, t: usize) -> bool {
        self.runs_proj[k][pi]
            && (t == 0 || self.plan.layers[k].projections[pi].target != crate::quant::AccTarget::Static)
    }
}

/// Buffers the packed kernels reuse across phases (contents are dead between calls).
#[derive(Default)]
pub(super) struct Scratch {
    pub(super) idx: Vec<u32>,
    pub(super) bits: Vec<u64>,
    pub(super) planes: Vec<u64>,
    pub(super) inmap: Vec<u64>,
    pub(super) cnt: Vec<i64>,
    pub(super) acc: Vec<u64>,
    pub(super) res: Vec<i64>,
    pub(super) orbuf: Vec<u8>,
    pub(super) bytes: Vec<u8>,
    pub(super) acc16: Vec<i16>,
    pub(super) cnt32: Vec<i32>,
    pub(super) kept: Vec<u8>,
}

/// [`Engine::kept_by`] from the plan and the per-layer kept positions (also while the engine
/// is built).
pub(super) fn kept_by<'a>(plan: &Plan, kept: &'a [Option<Vec<bool>>], k: usize, pi: usize) -> Option<&'a [bool]> {
    let l = &plan.layers[k];
    match l.projections[pi].source {
        Source::Layer(s) if l.modes[pi] == crate::hw::dense::Mode::Event => kept[s].as_deref(),
        _ => None,
    }
}

/// Of `events` from a source of width `w`, those at positions `kept` keeps (all without it).
pub(super) fn kept_events(kept: Option<&[bool]>, w: usize, events: &[Event]) -> u64 {
    match kept {
        Some(kp) => events.iter().filter(|&&(_, y, x, _)| kp[y * w + x]).count() as u64,
        None => events.len() as u64,
    }
}

/// Input events a buffer makes room for at once ([`events_of`]).
const INPUT_RESERVE: usize = 1024;

/// The non-zero values of `q` (C order over `shape`) as input events into `out`.
#[inline(always)]
pub(super) fn events_of(q: &[i64], [_, h, w]: [usize; 3], out: &mut Vec<Event>) {
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
pub(super) fn out_of_range<T: Word>(v: &[T], bits: u32) -> u64 {
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

/// Pooled positions (py, px) whose window contains (y, x), in candidate order; `None` for
/// candidates outside the pooled map.
pub(super) fn pool_candidates(g: &PoolGeom, y: usize, x: usize, out: &mut Vec<Option<(usize, usize)>>) {
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

/// The state projection `p` of layer `l` accumulates into, and its width.
#[inline(always)]
pub(super) fn target_state<'a, T>(
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

/// The geometry of a convolution projection into layer `l`.
pub(super) fn conv_geo(l: &Layer, kind: &ProjKind) -> Option<ConvGeo> {
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
pub(super) struct ConvGeo {
    pub(super) ih: usize,
    pub(super) iw: usize,
    pub(super) kh: usize,
    pub(super) kw: usize,
    pub(super) stride: [usize; 2],
    pub(super) pad: [usize; 2],
    pub(super) dil: [usize; 2],
    pub(super) co: usize,
    pub(super) oh: usize,
    pub(super) ow: usize,
}

impl ConvGeo {
    /// Output coordinate along one axis that input `i` reaches through kernel tap `k` (the
    /// brute-force reference of the tests).
    #[cfg(test)]
    pub(super) fn target(&self, d: usize, i: usize, k: usize) -> Option<usize> {
        let n = i as isize + self.pad[d] as isize - (k * self.dil[d]) as isize;
        let out = if d == 0 { self.oh } else { self.ow };
        (n >= 0 && (n as usize).is_multiple_of(self.stride[d]) && (n as usize / self.stride[d]) < out)
            .then(|| n as usize / self.stride[d])
    }
}

impl<'p> Engine<'p> {
    /// The positions kept by the list projection `pi` into layer `k` reads, when it is an
    /// event-mode projection from a layer whose list keeps only some ([`Engine::kept`]).
    #[inline]
    pub(super) fn kept_by(&self, k: usize, pi: usize) -> Option<&[bool]> {
        kept_by(self.plan, &self.kept, k, pi)
    }

    /// The beats of `events` of projection `pi` into layer `k` ([`schedule::beats_at`]).
    #[inline]
    pub(super) fn phase_beats(&self, k: usize, pi: usize, events: &[Event]) -> u64 {
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
    pub(super) fn input_beats(&self, k: usize, pi: usize, q: usize) -> u64 {
        match &self.beats_at[k][pi] {
            Some(at) => u64::from(at[q % at.len()]),
            None => self.beats[k][pi].0,
        }
    }

    /// Sample `i`'s quantised input of step `t` into `q` (one value per input, C order);
    /// returns how many are non-zero.
    #[inline(always)]
    pub(super) fn input_values(&self, batch: &InputBatch, i: usize, t: usize, q: &mut Vec<i64>) -> u64 {
        self.plan.input.quantise_into(batch.at(i, t), q)
    }
}

#[cfg(test)]
#[cfg(test)]
mod tests {
    use super::*;

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
}
