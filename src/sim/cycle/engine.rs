//! The prepared engine: everything both paths read about a plan, computed once per run
//! ([`Engine::new`]), and the helpers both paths share (events, beats, target states).
//!
//! Per projection, [`Fast`] holds the weights re-laid for the fast path's kernels; they are
//! chosen only where they compute the per-event scatter's integer sums (binary weights, or
//! non-saturating layers, where range analysis makes the accumulation order irrelevant).
//! Per layer, [`LayerPrep`] holds the update pass's tables, and [`Lists`] how consumers read
//! its events.

use crate::data::InputBatch;
use crate::hw::dense::{self, Mode};
use crate::hw::schedule::{self, beats_per_event};
use crate::hw::{Layer, Plan, Schedule};
use crate::quant::{AccTarget, Leak, PoolGeom, ProjKind, Projection, Source, WeightValues, at};

use super::kernels;
use super::pass;
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

/// The +1 weights of `rows` rows of `n` values (`w`, row-major) as bitsets of `words` words
/// per row (bit j of a row: its column j is positive); packed signs are copied 64 at a time.
pub(super) fn bits_of(w: &WeightValues, n: usize, words: usize, rows: usize) -> Vec<u64> {
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
    /// pass when the layer is updated in one sweep over the pass ([`pass::SWEEP_SAMPLES_BELOW`]).
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
    pub(super) contiguous: Option<pass::RowFold>,
    /// The event each neuron emits.
    pub(super) event_of: Vec<Event>,
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
    /// Per layer: copies of its spike plane, each written every row of every update pass.
    pub(super) plane_copies: Vec<u64>,
}

/// Whether passes over `plan` may keep state in i32 (see [`super::word`]). Starting from values
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

/// True when the projection reads a weight memory word per beat.
pub(super) fn weight_memory(l: &Layer, p: &Projection) -> bool {
    let _ = l;
    match p.kind {
        ProjKind::Dense { .. } | ProjKind::Conv { .. } => true,
        ProjKind::Pool(_) | ProjKind::OneToOne => p.weights.values.len() > 1,
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

impl Fast {
    /// The fast path's form of projection `p` into layer `l`.
    fn of(l: &Layer, p: &Projection) -> Fast {
        let ints32 = || p.weights.values.iter().all(|&w| i32::try_from(w).is_ok());
        match (&p.kind, &p.pre_pool) {
            (ProjKind::Dense { cols }, None) if p.weights.binary() && !l.saturate => {
                let words = cols.div_ceil(64);
                let pos = bits_of(&p.weights.values, *cols, words, l.neurons());
                Fast::DenseBinary { pos, words }
            }
            (ProjKind::Conv { ci, kh, kw, groups: 1, .. }, None) if p.weights.binary() && !l.saturate => {
                Fast::conv_binary(l, p, *ci, kh * kw)
            }
            (ProjKind::Conv { .. }, None) if !l.saturate && ints32() => Fast::conv_cols(l, p),
            (ProjKind::OneToOne, None) if !l.saturate => {
                Fast::OneToOne((0..l.neurons()).map(|i| p.weights.at(i)).collect())
            }
            (ProjKind::Dense { cols }, Some(g)) if !l.saturate && ints32() => Fast::pool_dense(p, *cols, g),
            (ProjKind::Dense { cols }, _) if ints32() => {
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
        }
    }

    /// A binary convolution of one group (`ci` input channels, `taps` kernel taps) into `l`,
    /// or [`Fast::Scatter`] when its tap table would be too large.
    fn conv_binary(l: &Layer, p: &Projection, ci: usize, taps: usize) -> Fast {
        let words = ci.div_ceil(64);
        // Layout [tap][word][output channel]: the inner loop runs over output
        // channels, which vectorises.
        let co = l.shape[0];
        let mut pos = vec![0u64; taps * words * co];
        for o in 0..co {
            for c in 0..ci {
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
                for c in 0..ci {
                    for tap in 0..taps {
                        w16[(c * taps + tap) * co + o] = p.weights.values[(o * ci + c) * taps + tap] as i16;
                    }
                }
            }
            w16
        } else {
            vec![]
        };
        let Some(table) = TapTable::new(&g) else { return Fast::Scatter };
        let win = if ci < 64 && (taps * ci).div_ceil(64) <= kernels::WINDOW_WORDS {
            let ww = (taps * ci).div_ceil(64);
            let mut win = vec![0u64; ww * co];
            for o in 0..co {
                for c in 0..ci {
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

    /// Convolution weights as contiguous output-channel runs per (input channel, tap), or
    /// [`Fast::Scatter`] when the tap table would be too large.
    fn conv_cols(l: &Layer, p: &Projection) -> Fast {
        let ProjKind::Conv { ci, kh, kw, groups, .. } = p.kind else { unreachable!("a convolution") };
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

    /// A dense projection after the pre-pooling stage `g` (`cols` pooled inputs).
    fn pool_dense(p: &Projection, cols: usize, g: &PoolGeom) -> Fast {
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
        let fits32 = (cols as u64)
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
        Fast::PoolDense(PoolDense { wr, table, start, members, mstart, pooled, fits32 })
    }
}

impl LayerPrep {
    /// Layer `k`'s (`l`) tables for passes of up to `cap` samples.
    fn new(plan: &Plan, k: usize, l: &Layer, cap: usize) -> LayerPrep {
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
    }
}

/// How each layer's consumers read its events: the most any consumer needs.
fn consumer_lists(plan: &Plan, fast: &[Vec<Fast>], plain: &[bool]) -> Vec<Lists> {
    let mut lists = vec![Lists::None; plan.layers.len()];
    for (k, l) in plan.layers.iter().enumerate() {
        for (pi, p) in l.projections.iter().enumerate() {
            if let Source::Layer(src) = p.source {
                let need = if l.saturate {
                    Lists::Ordered
                } else if matches!(fast[k][pi], Fast::DenseBinary { .. } | Fast::ConvBinary { .. } | Fast::OneToOne(_))
                    || (plain[src] && matches!(fast[k][pi], Fast::PoolDense(_)))
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
    lists
}

/// Words of the input's shared bit planes, when binary dense projections read the input
/// ([`Engine::input_planes`]).
fn shared_input_planes(plan: &Plan, fast: &[Vec<Fast>]) -> Option<usize> {
    // Shared planes need every binary dense reader of the input to see the input's own
    // layout (validation guarantees it; a reader that did not would build its own).
    let readers: Vec<(&Projection, usize)> = plan
        .layers
        .iter()
        .zip(fast)
        .flat_map(|(l, f)| l.projections.iter().zip(f))
        .filter_map(|(p, f)| match f {
            Fast::DenseBinary { words, .. } if p.source == Source::Input => Some((p, *words)),
            _ => None,
        })
        .collect();
    let in_words = plan.input.numel().div_ceil(64);
    (!readers.is_empty() && readers.iter().all(|&(p, w)| w == in_words && p.src_shape == plan.input.shape))
        .then_some(in_words)
}

impl<'p> Engine<'p> {
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

    /// Prepares `plan` for passes of up to `cap` samples.
    pub(super) fn new(plan: &'p Plan, cap: usize) -> Self {
        // A multi-spike layer's events carry counts: its readers scatter each event's value.
        let counts = |p: &Projection| matches!(p.source, Source::Layer(s) if plan.layers[s].multi);
        let fast: Vec<Vec<Fast>> = plan
            .layers
            .iter()
            .map(|l| l.projections.iter().map(|p| if counts(p) { Fast::Scatter } else { Fast::of(l, p) }).collect())
            .collect();
        let cap = cap.max(1);
        let prep: Vec<LayerPrep> =
            plan.layers.iter().enumerate().map(|(k, l)| LayerPrep::new(plan, k, l, cap)).collect();
        let plain: Vec<bool> = plan
            .layers
            .iter()
            .enumerate()
            .map(|(k, l)| {
                let is_out = k == plan.output.layer;
                !l.saturate
                    && !l.kind.cuba()
                    && prep[k].params_i32
                    && (l.spiking() || !is_out)
                    && l.params.vmin.is_empty()
                    && !l.multi
            })
            .collect();
        let lists = consumer_lists(plan, &fast, &plain);
        let beats = plan
            .layers
            .iter()
            .map(|l| l.projections.iter().map(|p| (beats_per_event(l, p), weight_memory(l, p))).collect())
            .collect();
        let beats_at =
            plan.layers.iter().map(|l| l.projections.iter().map(|p| schedule::beats_at(l, p)).collect()).collect();
        let input_planes = shared_input_planes(plan, &fast);
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
        let dense = plan
            .layers
            .iter()
            .enumerate()
            .map(|(k, l)| {
                (0..l.projections.len())
                    .map(|pi| {
                        (l.modes[pi] == Mode::Dense)
                            .then(|| dense::geometry(plan, k, pi).ok().map(|g| (g.words_per_row, l.rows)))
                            .flatten()
                    })
                    .collect()
            })
            .collect();
        let event_list = (0..plan.layers.len()).map(|k| dense::has_event_readers(plan, k)).collect();
        let plane_copies = (0..plan.layers.len())
            .map(|k| match dense::plane_readers(plan, k).len() {
                0 => 0,
                n if pipe.is_some() => n as u64,
                _ => 1,
            })
            .collect();
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
            dense,
            event_list,
            plane_copies,
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
