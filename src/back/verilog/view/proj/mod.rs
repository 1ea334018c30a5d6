//! One projection's accumulate unit as the templates print it: its event reader, the layout
//! of the source's entries, the address arithmetic ([`addr`]), the beat counters ([`beat`]),
//! its weights (a ROM image, a large-RAM placement or one constant) and the state it adds
//! into. The view's types ([`ProjView`] and its parts) live in [`types`], which the parts'
//! builders ([`addr`], [`beat`], [`dense`]) import without importing this builder.
//!
//! Invariants: the address arithmetic is `aw` bits wide and no intermediate wraps at that
//! width; an event's entry without its lane mask is {c, y, x} (input entries: {c, y, x,
//! value}), most significant first.

mod addr;
mod beat;
mod dense;
mod types;

pub(super) use dense::{pairs, pop_tree};
pub use types::ProjView;
use types::SourceLayout;

use super::common::{EmitError, ExtView, Roms, SpramView};
use super::expr::{abits, lit};
use super::pipe::pipe_copy;
use super::rom::{ext_view, spram_view, weight_image};
use crate::back::common::{acc_target, in_registers, proj_comment};
use crate::hw::memory::weight_depth;
use crate::hw::schedule::beats_range;
use crate::hw::{Layer, Plan, Schedule};
use crate::quant::{ProjKind, Projection};

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
    } else if plan.schedule == Schedule::Streamed && (!src.input || plan.input.per_step) {
        // Streamed, the source's list of every step is kept, with its entry count per step:
        // the reader takes the count of the step its layer is at.
        (format!("{s}_ev_len[t{}]", step_index(plan)), format!("{s}_ev_rdata"), String::new(), false)
    } else {
        (format!("{s}_ev_cnt"), format!("{s}_ev_rdata"), String::new(), false)
    }
}

/// The slice of the step counter `t` (`abits(T + 1)` bits) that indexes a T-entry array, or
/// nothing when it is all of it.
pub fn step_index(plan: &Plan) -> String {
    let (tw, iw) = (abits(plan.timesteps + 1), abits(plan.timesteps));
    if iw < tw { format!("[{}:0]", iw - 1) } else { String::new() }
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

/// A projection's weights: its ROM file, the ROM's large-RAM placement or tile-buffer read,
/// and the constant weight literal.
type Weights = (Option<WeightRomFile>, Option<SpramView>, Option<ExtView>, String);

/// The weights of projection `j` of layer `k`: a ROM (its image added to `roms`, or placed in
/// large RAM) when it has more than one word, and the constant weight literal.
fn weights(
    plan: &Plan,
    (k, j): (usize, usize),
    l: &Layer,
    p: &Projection,
    ident: &str,
    roms: &mut Roms,
) -> Result<Weights, EmitError> {
    let wb = p.weights.bits as usize;
    let depth = weight_depth(plan, k, j);
    let wconst = if wb == 1 { format!("1'b{}", u8::from(p.weights.at(0) > 0)) } else { lit(p.weights.at(0), wb) };
    if depth == 0 {
        return Ok((None, None, None, wconst));
    }
    let file = format!("{ident}_w{j}.hex");
    roms.push((file.clone(), weight_image(l, p, wb, depth)));
    let mem = format!("{}.w{j}", l.name);
    let spram = spram_view(plan, &mem, &file, l.lanes * wb)?;
    let ext = ext_view(plan, &mem, &file, l.lanes * wb);
    let rom = WeightRomFile { file, depth, aw: abits(depth), logic: in_registers(plan, &mem) };
    Ok((Some(rom), spram, ext, wconst))
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
    let tjw = super::common::tj_width(plan);
    let a = addr::addresses(&pre, aw, tjw, &src, l, p);
    let mut dense = if crate::hw::dense::is(l, j, crate::hw::dense::Mode::Dense) {
        Some(dense::dense_view(plan, (k, j), l, p, ident, roms)?)
    } else {
        None
    };
    let (wrom, spram, ext, wconst) = if let Some(d) = dense.as_mut() {
        (None, d.spram.take(), d.ext.take(), String::new())
    } else {
        weights(plan, (k, j), l, p, ident, roms)?
    };
    let (target, tw) = acc_target(l, p);
    // A layer in tiles: each tile's unit takes its lane groups' share of an event's beats
    // (`hw::memory::tileable`: one beat per lane group and tap).
    let (beats_min, beats_max) = beats_range(l, p);
    let n = l.tiles.max(1) as u64;
    let (beats_min, beats_max) = (beats_min / n, beats_max / n);
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
        ext,
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
        sadd: false,
    })
}
