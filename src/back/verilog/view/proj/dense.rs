//! A dense projection's accumulate unit (docs/hardware.md 4c) as the templates print it: the
//! walk over (row, word) pairs, the plane and weight ROM addresses of each pair, the popcount
//! tree, the row sum's widths and the weight ROM image of [`crate::hw::dense::Dense`]. The
//! unit's view types ([`DenseView`], [`TapSteps`]) are in [`super::types`].
//!
//! Invariants: one (plane word, weight word) pair per cycle, in `Dense::word`'s order; every
//! width holds its values (the row sum is exact modulo the target width, which holds the row's
//! state after the phase); a plane word that `Dense::word` says is none reads as zero.

use super::super::common::{EmitError, Roms};
use super::super::expr::{abits, bits_for_count, lit, mask_lit};
use super::super::rom::{bits_image, ext_view, spram_view, weight_image};
use super::super::types::by_tile;
use super::types::{DenseView, TapSteps};
use crate::back::common::in_registers;
use crate::hw::dense::{Dense, Gather, geometry};
use crate::hw::memory::weight_depth;
use crate::hw::{Layer, Plan, Schedule};
use crate::quant::{Projection, Source};

/// A balanced adder tree summing the `lw`-bit counts `lo .. lo + n` packed in `y`:
/// (expression, width).
pub(in crate::back::verilog::view) fn pop_tree(y: &str, lw: usize, lo: usize, n: usize) -> (String, usize) {
    if n == 1 {
        return (format!("{y}[{}:{}]", lw * lo + lw - 1, lw * lo), lw);
    }
    let h = n / 2;
    let (a, wa) = pop_tree(y, lw, lo, h);
    let (b, wb) = pop_tree(y, lw, lo + h, n - h);
    let w = wa.max(wb) + 1;
    let ext = |e: String, we: usize| if we < w { format!("{{{}'d0, {e}}}", w - we) } else { e };
    (format!("({} + {})", ext(a, wa), ext(b, wb)), w)
}

/// The 3-bit counts of `y` (`nn` of them) summed in pairs into 4-bit counts, packed (the last
/// one alone when `nn` is odd).
pub(in crate::back::verilog::view) fn pairs(y: &str, nn: usize) -> String {
    let parts: Vec<String> = (0..nn.div_ceil(2))
        .rev()
        .map(|q| {
            let a = format!("{y}[{}:{}]", 6 * q + 2, 6 * q);
            if 2 * q + 1 < nn {
                format!("({{1'b0, {a}}} + {{1'b0, {y}[{}:{}]}})", 6 * q + 5, 6 * q + 3)
            } else {
                format!("{{1'b0, {a}}}")
            }
        })
        .collect();
    format!("{{{}}}", parts.join(", "))
}

/// The image of a binary dense weight ROM ([`Dense::weight_bits`]), one hex line per word.
fn dense_image(plan: &Plan, k: usize, j: usize, d: &Dense) -> String {
    bits_image((0..d.weight_depth).map(|a| d.weight_bits(plan, k, j, a)))
}

/// The dense unit of projection `j` of layer `k` (its weight ROM image added to `roms`).
pub fn dense_view(
    plan: &Plan,
    (k, j): (usize, usize),
    l: &Layer,
    p: &Projection,
    ident: &str,
    roms: &mut Roms,
) -> Result<DenseView, EmitError> {
    let d = geometry(plan, k, j)
        .map_err(|why| EmitError::Dense(crate::hw::dense::ModeError { layer: l.name.clone(), projection: j, why }))?;
    let Source::Layer(s) = p.source else { unreachable!("dense projections read a layer") };
    let pipelined = plan.schedule == Schedule::Pipelined;
    let (pw, m) = (d.plane.width(), d.plane.m);
    let paw = abits(d.plane.depth());
    let prdata = if pipelined { format!("l{s}pl{k}_rdata") } else { format!("l{s}_pl_rdata") };
    let nn = pw.div_ceil(4);
    let np = nn.div_ceil(2);
    let (pop, pcw) = pop_tree("y", 4, 0, np);
    // At least a bit above the popcount's, so the popcount is zero-extended into it.
    let accw = abits(d.words_per_row * pw + 1).max(pcw + 1);
    let mem = format!("{}.w{j}", l.name);
    let kind = match d.gather {
        Gather::Matrix => "matrix",
        Gather::Conv { .. } => "conv",
        Gather::OneToOne => "o2o",
    };
    // Weights: binary ROMs of the dense layout; one-to-one keeps the event layout's ROM.
    let (wwidth, wdepth, wb) = match d.gather {
        Gather::OneToOne => (l.lanes * p.weights.bits as usize, weight_depth(plan, k, j), p.weights.bits as usize),
        _ => (d.weight_width, d.weight_depth, 1),
    };
    let wconst = if wb == 1 { format!("1'b{}", u8::from(p.weights.at(0) > 0)) } else { lit(p.weights.at(0), wb) };
    let (wfile, spram, ext) = if wdepth == 0 {
        (String::new(), None, None)
    } else {
        let file = format!("{ident}_w{j}.hex");
        let image = match d.gather {
            Gather::OneToOne => weight_image(l, p, wb, wdepth),
            _ => dense_image(plan, k, j, &d),
        };
        roms.push((file.clone(), image));
        let sp = spram_view(plan, &mem, &file, wwidth)?;
        let ext = ext_view(plan, &mem, &file, wwidth);
        (file, sp, ext)
    };
    let widx = match d.gather {
        Gather::OneToOne if wdepth == l.rows => "row",
        Gather::OneToOne => "group",
        _ => "",
    };
    // The tiles' first rows (`hw::Layer::tiles`): the row's lane group, and for a one-to-one
    // gather its source row's slot (the source has the target's rows).
    let n = l.tiles.max(1);
    let tjw = super::super::common::tj_width(plan);
    let row0: Vec<usize> = (0..n).map(|j| j * l.tile_rows()).collect();
    let cg0: Vec<usize> = row0.iter().map(|r| (r / l.positions()) % l.ncg).collect();
    let slot0: Vec<(usize, usize)> = row0.iter().map(|&r| d.plane.slot(r)).collect();
    let word0: Vec<usize> = slot0.iter().map(|s| s.0).collect();
    let oh0: Vec<usize> = slot0.iter().map(|s| 1 << (s.1 / d.plane.lanes)).collect();
    let gc_rem = l.group_size % l.lanes;
    let has_pad = gc_rem != 0 && !matches!(d.gather, Gather::OneToOne);
    let mut v = DenseView {
        kind,
        w: d.words_per_row,
        iw: bits_for_count(d.words_per_row),
        hw: l.positions(),
        hww: bits_for_count(l.positions()),
        ncg: l.ncg,
        ncgw: bits_for_count(l.ncg),
        padmask: mask_lit(l.lanes, if has_pad { gc_rem } else { l.lanes }),
        pw,
        m,
        paw,
        prdata,
        nn,
        np,
        pair: pairs("y", nn),
        npad: nn * 4 - pw,
        pcw,
        pop,
        accw,
        dw: accw + 2,
        wwidth,
        wdepth,
        waw: abits(wdepth.max(1)),
        wfile,
        wlogic: in_registers(plan, &mem),
        spram,
        ext,
        wb,
        wconst,
        widx,
        cg0: by_tile(tjw, bits_for_count(l.ncg), &cg0),
        word0: by_tile(tjw, paw, &word0),
        oh0: by_tile(tjw, m, &oh0),
        sw: 2,
        taps: TapSteps::default(),
        hin: String::new(),
        win: String::new(),
        oyw: 1,
        oxw: 1,
        oy_last: 0,
        ox_last: 0,
        iy0: String::new(),
        ix0: String::new(),
        pb0: String::new(),
        sy: String::new(),
        sx: String::new(),
        pbrow: String::new(),
        wstep: String::new(),
        shared_tw: None,
        shared_add: false,
    };
    if let Gather::Conv { k: kk, stride, pad, dil, input } = d.gather {
        let (hout, wout) = (l.shape[1], l.shape[2]);
        let hw_in = d.plane.hw;
        let reach = |o: usize, s: usize, kk: usize, dd: usize, p: usize, n: usize| o * s + kk * dd + p + n;
        let bound = (reach(hout, stride[0], kk[0], dil[0], pad[0], input[0]) * input[1]
            + reach(wout, stride[1], kk[1], dil[1], pad[1], input[1]))
        .max(d.plane.depth() + hw_in)
        .max(d.weight_depth);
        let sw = abits(bound + 1) + 2;
        let chunks = d.plane.chunks();
        let li = |x: i64| lit(x, sw);
        // Pair i is tap (ky, kx) = (t / kw, t % kw) and chunk ch of t = i / chunks: the unit
        // steps counters with i (a table of one entry per pair is a ROM Yosys puts in block RAM).
        v.taps = TapSteps {
            chunks,
            chw: bits_for_count(chunks),
            kw: kk[1],
            kxw: bits_for_count(kk[1]),
            ch_step: li(hw_in as i64),
            x_step: li(dil[1] as i64),
            y_step: li(dil[0] as i64),
            row_step: li(dil[0] as i64 * input[1] as i64),
        };
        v.sw = sw;
        v.hin = li(input[0] as i64);
        v.win = li(input[1] as i64);
        v.oyw = bits_for_count(hout);
        v.oxw = bits_for_count(wout);
        v.oy_last = hout - 1;
        v.ox_last = wout - 1;
        v.iy0 = li(-(pad[0] as i64));
        v.ix0 = li(-(pad[1] as i64));
        v.pb0 = li(-(pad[0] as i64) * input[1] as i64 - pad[1] as i64);
        v.sy = li(stride[0] as i64);
        v.sx = li(stride[1] as i64);
        v.pbrow = li(stride[0] as i64 * input[1] as i64 - (wout as i64 - 1) * stride[1] as i64);
        v.wstep = li(d.words_per_row as i64);
    }
    Ok(v)
}
