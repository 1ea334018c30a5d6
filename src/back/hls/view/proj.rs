//! One projection's accumulate function as the templates print it: its source events, the
//! target it adds into, the geometry of its kind (dense, conv, pool, one-to-one), its weight
//! table, and the dense gather that replaces the event scatter when it runs in Dense mode.
//!
//! Invariants: the weights read are the RTL's, word for word (the tables of
//! [`super::memory`]); a nonzero `limit` skips the padding lanes of the last lane group.

use super::common::{EmitError, at_step, ev_type};
use super::memory::{ExtLoadView, RomView, dense_table, external_table, weight_table};
use crate::back::common::{acc_target, proj_comment, weights_per_lane_group};
use crate::hw::dense::{self, Gather, Mode};
use crate::hw::memory::weight_depth;
use crate::hw::{Layer, Plan};
use crate::quant::{AccTarget, PoolGeom, ProjKind, Projection, Source};

/// A pool window geometry as printed.
pub struct PoolView {
    /// Candidate windows per axis.
    pub ca: usize,
    /// Candidates along x.
    pub cb: usize,
    /// Kernel.
    pub k: [usize; 2],
    /// Stride.
    pub s: [usize; 2],
    /// Padding.
    pub p: [usize; 2],
    /// Pooled size.
    pub out: [usize; 2],
}

impl PoolView {
    fn of(g: &PoolGeom) -> Self {
        let c = g.candidates();
        PoolView { ca: c[0], cb: c[1], k: g.k, s: g.s, p: g.p, out: g.out }
    }
}

/// One projection's accumulate function.
pub struct ProjView {
    /// Under a student mask, the condition on `act` for it to run (a shared layer's
    /// projection from a student); set by the layer's view.
    pub on: Option<String>,
    /// Function name.
    pub func: String,
    /// Description for the comment.
    pub comment: String,
    /// Source is the input stream.
    pub src_input: bool,
    /// Source event list variable (in the top function) and its count.
    pub src_ev: String,
    /// Count variable.
    pub src_n: String,
    /// Source event array depth.
    pub ev_depth: usize,
    /// Lanes of the source layer.
    pub src_lanes: usize,
    /// The source is a multi-spike layer: an event's value is its lane's count.
    pub src_counts: bool,
    /// The C++ type of the source's entries (layer sources).
    pub src_type: String,
    /// Accumulates into the static memory (only at step 0).
    pub statik: bool,
    /// Target state array in the top function.
    pub dst: String,
    /// Target width.
    pub tw: u32,
    /// `true`/`false`: the target saturates.
    pub sat: &'static str,
    /// Left shift of each product.
    pub shift: u32,
    /// `dense`, `conv`, `pool` or `one`.
    pub kind: &'static str,
    /// Pre-pooling of the source events.
    pub pre: Option<PoolView>,
    /// Pooled source height and width seen by a dense projection.
    pub ph: usize,
    /// Width.
    pub pw: usize,
    /// Lane groups of the target (beats per target position).
    pub ncg: usize,
    /// Lanes of the target.
    pub lanes: usize,
    /// Lane guard of the last lane group: `b * L + l >= limit` skips (0: all lanes valid).
    pub limit: usize,
    /// Convolution geometry.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Stride.
    pub stride: [usize; 2],
    /// Padding.
    pub pad: [usize; 2],
    /// Dilation.
    pub dil: [usize; 2],
    /// Input channels per group.
    pub cig: usize,
    /// Output size.
    pub oh: usize,
    /// Output width.
    pub ow: usize,
    /// Target positions H*W.
    pub pos: usize,
    /// Target width W (pool).
    pub w: usize,
    /// Pool geometry (pool projections).
    pub pool: Option<PoolView>,
    /// Source height and width (one-to-one).
    pub sh: usize,
    /// Source width.
    pub sw: usize,
    /// Weight table.
    pub rom: Option<RomView>,
    /// The line defining `w` (int64_t) for the current lane.
    pub w_line: String,
    /// The dense gather replacing the event scatter (the projection runs in Dense mode).
    pub dense: Option<DenseView>,
    /// The weight table's loader when its ROM is in external memory.
    pub ext: Option<ExtLoadView>,
}

/// A projection in Dense mode (docs/hardware.md 4c): its ACC walks the target rows and
/// gathers each from the source's spike plane ([`Dense::word`]).
pub struct DenseView {
    /// The source's plane array (in the top function).
    pub plane: String,
    /// Plane word bits.
    pub width: usize,
    /// Plane words.
    pub depth: usize,
    /// `matrix`, `conv` or `one` ([`Gather`]).
    pub gather: &'static str,
    /// (plane word, weight word) pairs per target row.
    pub wpr: usize,
    /// Source positions (H*W) of the plane.
    pub hw: usize,
    /// Lane groups per plane word.
    pub m: usize,
    /// Plane words per source position.
    pub chunks: usize,
    /// Kernel (h, w), stride, padding, dilation and input (h, w) of a conv gather.
    pub k: [usize; 2],
    /// Stride.
    pub stride: [usize; 2],
    /// Padding.
    pub pad: [usize; 2],
    /// Dilation.
    pub dil: [usize; 2],
    /// Input (h, w).
    pub input: [usize; 2],
    /// Weight ROM word of a one-to-one row `r` (an expression of `r`).
    pub one_addr: String,
    /// Weight table: packed binary words `[depth][lanes]` of `width` bits (matrix, conv), or
    /// the event layout's table (one-to-one).
    pub rom: Option<RomView>,
    /// The padding guard of the target's lanes is needed (channels per group not a multiple
    /// of the lanes).
    pub partial: bool,
    /// Channels per group of the target.
    pub gc: usize,
}

pub fn proj_view(
    plan: &Plan,
    k: usize,
    j: usize,
    l: &Layer,
    p: &Projection,
    ids: &[String],
) -> Result<ProjView, EmitError> {
    let id = &ids[k];
    let lanes = l.lanes;
    let pos = l.positions();
    let (src_input, src_ev, src_n, ev_depth, src_lanes) = match p.source {
        Source::Input => {
            let t = if plan.input.per_step { at_step(plan) } else { "" };
            (true, format!("sf_in_ev{t}"), format!("sf_in_n{t}"), plan.input.numel(), 1)
        }
        Source::Layer(s) => {
            let (sl, t) = (&plan.layers[s], at_step(plan));
            (false, format!("{}_ev{t}", ids[s]), format!("{}_nev{t}", ids[s]), dense::listed_rows(plan, s), sl.lanes)
        }
    };
    let (src_counts, src_type) = match p.source {
        Source::Input => (false, "sf::in_event".to_string()),
        Source::Layer(s) => (plan.layers[s].multi, ev_type(&plan.layers[s])),
    };
    let (target, tw) = acc_target(l, p);
    let dst = format!("{id}_{}", target.letter());
    let binary = p.weights.binary();
    let depth = weight_depth(plan, k, j);
    let per_ch = weights_per_lane_group(l, p);
    let mem = format!("{}.w{j}", l.name);
    let geom = if dense::is(l, j, Mode::Dense) {
        let g = dense::geometry(plan, k, j)
            .map_err(|why| EmitError::Dense(dense::ModeError { layer: l.name.clone(), projection: j, why }))?;
        Some(g)
    } else {
        None
    };
    // The weight table, laid out like the RTL's ROM: one word of `lanes` weights per beat (a
    // dense matrix or conv gather has its own table instead).
    let event_rom = geom.is_none_or(|g| g.gather == Gather::OneToOne);
    let rom = (depth > 0 && event_rom).then(|| weight_table(plan, l, p, &mem, depth));
    // Address of the weight word and the lane variable, per kind.
    let (kind, waddr, lane_var) = match &p.kind {
        ProjKind::Dense { .. } => ("dense", format!("j * {} + b", l.ncg), "l"),
        ProjKind::Conv { .. } => ("conv", "addr".to_string(), "l"),
        ProjKind::Pool(_) => ("pool", if per_ch { format!("pc / {lanes}") } else { "row".into() }, "lane"),
        ProjKind::OneToOne => ("one", if per_ch { format!("ch / {lanes}") } else { "row".into() }, "lane"),
    };
    let w_line = match (&rom, binary) {
        (Some(_), true) => format!("const int64_t w = sf::bit<{lanes}>(rom[{waddr}], {lane_var}) ? 1 : -1;"),
        (Some(_), false) => format!("const int64_t w = rom[{waddr}][{lane_var}];"),
        (None, _) => format!("const int64_t w = {};", p.weights.at(0)),
    };
    let (ph, pw) = match (&p.pre_pool, &p.kind) {
        (Some(g), _) => (g.out[0], g.out[1]),
        _ => (p.src_shape[1], p.src_shape[2]),
    };
    let mut v = ProjView {
        on: None,
        func: format!("{id}_acc{j}"),
        comment: proj_comment(plan, l, p),
        src_input,
        src_ev,
        src_n,
        ev_depth,
        src_lanes,
        src_counts,
        src_type,
        statik: p.target == AccTarget::Static,
        dst,
        tw,
        sat: if l.saturate { "true" } else { "false" },
        shift: p.shift,
        kind,
        pre: p.pre_pool.as_ref().map(PoolView::of),
        ph,
        pw,
        ncg: l.ncg,
        lanes,
        limit: 0,
        kh: 0,
        kw: 0,
        stride: [1, 1],
        pad: [0, 0],
        dil: [1, 1],
        cig: 1,
        oh: l.shape[1],
        ow: l.shape[2],
        pos,
        w: l.shape[2],
        pool: None,
        sh: p.src_shape[1],
        sw: p.src_shape[2],
        rom,
        w_line,
        dense: None,
        ext: None,
    };
    if let Some(g) = geom {
        let src = match p.source {
            Source::Layer(s) => s,
            Source::Input => unreachable!("dense projections read a layer"),
        };
        let rom = match g.gather {
            Gather::OneToOne => v.rom.take(),
            _ => Some(dense_table(plan, k, j, &g, &mem)),
        };
        v.w_line = match (&rom, binary) {
            (Some(_), true) if g.gather == Gather::OneToOne => {
                format!("const int64_t w = sf::bit<{lanes}>(rom[a], l) ? 1 : -1;")
            }
            (Some(_), false) => "const int64_t w = rom[a][l];".into(),
            _ => format!("const int64_t w = {};", p.weights.at(0)),
        };
        let (k2, stride, pad, dil, input) = match g.gather {
            Gather::Conv { k, stride, pad, dil, input } => (k, stride, pad, dil, input),
            _ => ([1, 1], [1, 1], [0, 0], [1, 1], [1, 1]),
        };
        v.dense = Some(DenseView {
            plane: format!("{}_plane{}", ids[src], at_step(plan)),
            width: g.plane.width(),
            depth: g.plane.depth(),
            gather: match g.gather {
                Gather::Matrix => "matrix",
                Gather::Conv { .. } => "conv",
                Gather::OneToOne => "one",
            },
            wpr: g.words_per_row,
            hw: g.plane.hw,
            m: g.plane.m,
            chunks: g.plane.chunks(),
            k: k2,
            stride,
            pad,
            dil,
            input,
            one_addr: match g.weight_depth {
                0 => "0".into(),
                d if d == l.rows => "r".into(),
                _ => format!("r / {pos}"),
            },
            rom,
            partial: !l.group_size.is_multiple_of(lanes),
            gc: l.group_size,
        });
    }
    match &p.kind {
        ProjKind::Dense { .. } => {
            if !l.shape[0].is_multiple_of(lanes) {
                v.limit = l.shape[0];
            }
        }
        ProjKind::Conv { ci, kh, kw, stride, pad, dil, groups, .. } => {
            let co_g = l.shape[0] / groups;
            if !co_g.is_multiple_of(lanes) {
                v.limit = co_g;
            }
            v.kh = *kh;
            v.kw = *kw;
            v.stride = *stride;
            v.pad = *pad;
            v.dil = *dil;
            v.cig = ci / groups;
        }
        ProjKind::Pool(g) => v.pool = Some(PoolView::of(g)),
        ProjKind::OneToOne => {}
    }
    // A table streamed from external memory: a dense gather's words are lanes x plane bits,
    // an event table's a packed binary word or lanes x the weights' bits.
    let func = v.func.clone();
    let (table, shape) = match v.dense.as_mut() {
        Some(d) if d.gather != "one" => (d.rom.as_mut(), (lanes, d.width, false, false)),
        Some(d) => (d.rom.as_mut(), event_shape(lanes, p)),
        None => (v.rom.as_mut(), event_shape(lanes, p)),
    };
    if let Some(r) = table {
        v.ext = external_table(plan, (k, j), r, &func, shape)?;
    }
    Ok(v)
}

/// An event-layout table word: one packed binary word of `lanes` bits, or `lanes` signed
/// weights of the projection's bits.
fn event_shape(lanes: usize, p: &Projection) -> (usize, usize, bool, bool) {
    if p.weights.binary() { (1, lanes, false, true) } else { (lanes, p.weights.bits as usize, true, false) }
}
