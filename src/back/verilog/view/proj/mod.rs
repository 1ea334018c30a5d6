//! One projection's accumulate unit as the templates print it: its event reader, the layout
//! of the source's entries, the address arithmetic ([`addr`]), the beat counters ([`beat`]),
//! its weights (a ROM image, a large-RAM placement or one constant) and the state it adds
//! into.
//!
//! Invariants: the address arithmetic is `aw` bits wide and no intermediate wraps at that
//! width; an event's entry without its lane mask is {c, y, x} (input entries: {c, y, x,
//! value}), most significant first.

mod addr;
mod beat;
mod dense;

use addr::Addresses;
pub use dense::DenseView;

use super::expr::{abits, lit};
use super::pipe::pipe_copy;
use super::rom::{SpramView, spram_view, weight_image};
use super::{EmitError, Roms};
use crate::back::common::{acc_target, in_registers, proj_comment};
use crate::hw::memory::weight_depth;
use crate::hw::schedule::beats_range;
use crate::hw::{Layer, Plan, Schedule};
use crate::quant::{ProjKind, Projection, Source};

/// One projection's accumulate unit.
pub struct ProjView {
    /// Signal prefix.
    pub pre: String,
    /// Path, for comments.
    pub comment: String,
    /// Source prefix (`inp` or `l<k>`).
    pub src: String,
    /// Source is the input stream.
    pub src_input: bool,
    /// Source is a multi-spike layer: an event's value is its lane's count (`valw` bits, the
    /// lane's field in the entry's counts between x and the mask).
    pub src_counts: bool,
    /// Source lane mask width (0 for input entries).
    pub src_maskw: usize,
    /// Source entry width.
    pub src_ew: usize,
    /// Source entry address width.
    pub src_aw: usize,
    /// Lane index width of the source.
    pub src_liw: usize,
    /// Entry field extraction: (hi, lo) of c, y, x.
    pub c_hi: usize,
    /// Low bit of c.
    pub c_lo: usize,
    /// High bit of y.
    pub y_hi: usize,
    /// Low bit of y.
    pub y_lo: usize,
    /// High bit of x.
    pub x_hi: usize,
    /// Low bit of x.
    pub x_lo: usize,
    /// Width of the address arithmetic (every intermediate fits).
    pub aw: usize,
    /// Zero bits above the channel field up to `aw`.
    pub c_pad: usize,
    /// Pad of y.
    pub y_pad: usize,
    /// Pad of x.
    pub x_pad: usize,
    /// Event value width.
    pub valw: usize,
    /// Event value signed.
    pub val_signed: bool,
    /// High bit of the value field (input entries).
    pub val_hi: usize,
    /// `x`, `s` or `y`.
    pub target: String,
    /// Target state width.
    pub tw: usize,
    /// Weight bits.
    pub wb: usize,
    /// Shift.
    pub shift: u32,
    /// Has a weight ROM (else one constant weight).
    pub has_wrom: bool,
    /// Weight ROM file.
    pub wfile: String,
    /// Weight ROM depth.
    pub wdepth: usize,
    /// Weight ROM address width.
    pub waw: usize,
    /// Weight ROM in logic.
    pub wlogic: bool,
    /// Constant weight literal (WB bits) when there is no ROM.
    pub wconst: String,
    /// The weight ROM's large-RAM placement, when it has one.
    pub spram: Option<SpramView>,
    /// The address arithmetic and the beat counters.
    pub arith: Addresses,
    /// Beats an event takes: the fewest and the most.
    pub beats_min: u64,
    pub beats_max: u64,
    /// An event of one beat, as an expression of the head event (`beats_min < 2 <= beats_max`).
    pub one_now: String,
    /// The target row's current value at stage 3 (the bank's register), `lanes * tw` bits.
    pub old: String,
    /// The source list's entry count for this reader (Verilog expression; the load's own count
    /// when the reader follows it) and the word its read port returns.
    pub ev_count: String,
    /// See `ev_count`.
    pub ev_rdata: String,
    /// Pipelined: what `ev_count` (a register) is loaded with each cycle (empty otherwise).
    pub ev_count_nx: String,
    /// Pipelined, reading a direct input: the reader follows the load as it writes the list
    /// (hdl/sf_events_follow.v, `schedule::Clock::acc_follow`), so the phase awaits nothing.
    pub follow: bool,
    /// A dense projection's unit (docs/hardware.md 4c); None: event-driven.
    pub dense: Option<DenseView>,
}

/// Where the fields of a source entry lie (positions in the entry without its lane mask,
/// which sf_events strips) and what an event carries.
struct SourceLayout {
    /// Prefix `inp` or `l<s>`.
    pre: String,
    input: bool,
    /// A multi-spike layer's entries: a count per lane below x.
    counts: bool,
    /// Lane mask width (0 for input entries).
    maskw: usize,
    /// Source shape (C, H, W).
    shape: [usize; 3],
    /// Bits below x in the entry without its mask: the value of an input entry, the lane
    /// counts of a multi-spike layer's (0 for other layers).
    tailw: usize,
    val_signed: bool,
    valw: usize,
    cw: usize,
    yw: usize,
    xw: usize,
    c_hi: usize,
    c_lo: usize,
    y_hi: usize,
    y_lo: usize,
    x_hi: usize,
    x_lo: usize,
    /// Entry width and address width of the list.
    ew: usize,
    aw: usize,
    /// Lane index width.
    liw: usize,
}

impl SourceLayout {
    /// Entries MSB first: c, y, x, then the value (input), or the lane counts (a multi-spike
    /// layer) and the lane mask.
    fn of(plan: &Plan, p: &Projection) -> Self {
        let (pre, input, maskw, shape, tailw, val_signed, valw) = match p.source {
            Source::Input => {
                let i = &plan.input;
                ("inp".to_string(), true, 0, i.shape, i.bits as usize, i.signed, i.bits as usize)
            }
            Source::Layer(s) => {
                let sl = &plan.layers[s];
                let cb = if sl.multi { sl.count_bits as usize } else { 0 };
                (format!("l{s}"), false, sl.lanes, sl.shape, sl.lanes * cb, false, cb.max(1))
            }
        };
        let counts = !input && tailw > 0;
        let (cw, yw, xw) = (abits(shape[0]), abits(shape[1]), abits(shape[2]));
        let x_lo = tailw;
        let x_hi = x_lo + xw - 1;
        let (y_lo, y_hi) = (x_hi + 1, x_hi + yw);
        let (c_lo, c_hi) = (y_hi + 1, y_hi + cw);
        let aw = match p.source {
            Source::Input => abits(plan.input.numel()),
            Source::Layer(s) => abits(plan.layers[s].rows),
        };
        SourceLayout {
            pre,
            input,
            counts,
            maskw,
            shape,
            tailw,
            val_signed,
            valw,
            cw,
            yw,
            xw,
            c_hi,
            c_lo,
            y_hi,
            y_lo,
            x_hi,
            x_lo,
            ew: c_hi + 1 + maskw,
            aw,
            liw: abits(maskw.max(1)),
        }
    }
}

/// How the unit's event reader finds its list: (entry count, read data, the count's next
/// value when registered, follows the load).
///
/// Pipelined, the unit reads its own copy of the source's list, the half of the step it reads
/// (its own step, the one before through a recurrent edge); its count is registered from the
/// half of the step the unit is in next cycle: a list is complete two cycles before a phase
/// reading it can go (schedule::Pipe). A direct input's reader follows the load: it takes the
/// load's count itself (ProjView::follow).
fn event_reader(
    plan: &Plan,
    k: usize,
    p: &Projection,
    pre: &str,
    src: &SourceLayout,
) -> (String, String, String, bool) {
    let pipelined = plan.schedule == Schedule::Pipelined;
    let follow = pipelined && src.input && !plan.input.per_step;
    let s = &src.pre;
    if follow {
        ("inp_ev_cnt".to_string(), format!("{}_rdata", pipe_copy(p.source, k)), String::new(), true)
    } else if pipelined {
        let par = if p.delayed { format!("!g{k}_t0n") } else { format!("g{k}_t0n") };
        let count = format!("({par} ? {s}_ev_c1 : {s}_ev_c0)");
        (format!("{pre}_evn"), format!("{}_rdata", pipe_copy(p.source, k)), count, false)
    } else {
        (format!("{s}_ev_cnt"), format!("{s}_ev_rdata"), String::new(), false)
    }
}

/// Width of the address arithmetic: every intermediate (coordinates plus padding and taps,
/// rows, weight addresses, flattened source indices) is below the bound, so nothing wraps.
fn arith_width(l: &Layer, p: &Projection, src: &SourceLayout, wdepth: usize) -> usize {
    let pool_reach = |g: &crate::quant::PoolGeom| 2 * g.p[0].max(g.p[1]) + g.k[0].max(g.k[1]) + 2 * g.s[0].max(g.s[1]);
    let reach = match &p.kind {
        ProjKind::Conv { kh, kw, pad, dil, stride, .. } => {
            2 * pad[0].max(pad[1]) + (kh * dil[0]).max(kw * dil[1]) + stride[0].max(stride[1])
        }
        ProjKind::Pool(g) => pool_reach(g),
        _ => 0,
    } + p.pre_pool.as_ref().map_or(0, pool_reach);
    let s = src.shape;
    let bound =
        [l.rows, wdepth, s.iter().product(), l.neurons(), s[1].max(s[2]) + reach].into_iter().max().unwrap_or(1);
    (abits(bound + 1) + 1).max(src.cw.max(src.yw).max(src.xw).max(src.liw) + 1)
}

/// A projection's weight ROM: file, words, address width, in logic.
struct WeightRomFile {
    file: String,
    depth: usize,
    aw: usize,
    logic: bool,
}

/// The weights of projection `j` of layer `k`: a ROM (its image added to `roms`, or placed in
/// large RAM) when it has more than one word, and the constant weight literal.
fn weights(
    plan: &Plan,
    (k, j): (usize, usize),
    l: &Layer,
    p: &Projection,
    ident: &str,
    roms: &mut Roms,
) -> Result<(Option<WeightRomFile>, Option<SpramView>, String), EmitError> {
    let wb = p.weights.bits as usize;
    let depth = weight_depth(plan, k, j);
    let wconst = if wb == 1 { format!("1'b{}", u8::from(p.weights.at(0) > 0)) } else { lit(p.weights.at(0), wb) };
    if depth == 0 {
        return Ok((None, None, wconst));
    }
    let file = format!("{ident}_w{j}.hex");
    roms.push((file.clone(), weight_image(l, p, wb, depth)));
    let mem = format!("{}.w{j}", l.name);
    let spram = spram_view(plan, &mem, &file, l.lanes * wb)?;
    let rom = WeightRomFile { file, depth, aw: abits(depth), logic: in_registers(plan, &mem) };
    Ok((Some(rom), spram, wconst))
}

/// The view of projection `j` of layer `k` (its weight ROM image added to `roms`).
pub fn proj_view(
    plan: &Plan,
    k: usize,
    j: usize,
    l: &Layer,
    p: &Projection,
    ident: &str,
    roms: &mut Roms,
) -> Result<ProjView, EmitError> {
    let pre = format!("l{k}p{j}");
    let src = SourceLayout::of(plan, p);
    let (ev_count, ev_rdata, ev_count_nx, follow) = event_reader(plan, k, p, &pre, &src);
    let aw = arith_width(l, p, &src, weight_depth(plan, k, j));
    let a = addr::addresses(&pre, aw, &src, l, p);
    let mut dense = if crate::hw::dense::is(l, j, crate::hw::dense::Mode::Dense) {
        Some(dense::dense_view(plan, (k, j), l, p, ident, roms)?)
    } else {
        None
    };
    let (wrom, spram, wconst) = if let Some(d) = dense.as_mut() {
        (None, d.spram.take(), String::new())
    } else {
        weights(plan, (k, j), l, p, ident, roms)?
    };
    let (target, tw) = acc_target(l, p);
    let (beats_min, beats_max) = beats_range(l, p);
    Ok(ProjView {
        comment: proj_comment(plan, l, p),
        src_input: src.input,
        src_counts: src.counts,
        src_maskw: src.maskw,
        src_ew: src.ew,
        src_aw: src.aw,
        src_liw: src.liw,
        c_hi: src.c_hi,
        c_lo: src.c_lo,
        y_hi: src.y_hi,
        y_lo: src.y_lo,
        x_hi: src.x_hi,
        x_lo: src.x_lo,
        aw,
        c_pad: aw - src.cw,
        y_pad: aw - src.yw,
        x_pad: aw - src.xw,
        valw: src.valw,
        val_signed: src.val_signed,
        val_hi: src.tailw.saturating_sub(1),
        src: src.pre,
        target: target.letter().into(),
        tw: tw as usize,
        wb: p.weights.bits as usize,
        shift: p.shift,
        has_wrom: wrom.is_some(),
        wfile: wrom.as_ref().map(|w| w.file.clone()).unwrap_or_default(),
        wdepth: wrom.as_ref().map_or(0, |w| w.depth),
        waw: wrom.as_ref().map_or(1, |w| w.aw),
        wlogic: wrom.as_ref().is_some_and(|w| w.logic),
        wconst,
        spram,
        one_now: beat::one_now(&a.counters),
        arith: a,
        beats_min,
        beats_max,
        old: String::new(),
        ev_count,
        ev_rdata,
        ev_count_nx,
        follow,
        pre,
        dense,
    })
}
