//! A fused layer's unit (`--fuse-steps`, [`Plan::fused`]; docs/streaming.md section 3, "Its
//! RTL"): one FUSE phase gathers every row's T steps side by side into the sum buffer, then
//! drives the update datapath through the T steps of its rows, a block of rows at a time.
//!
//! Invariants (the plan's, checked by [`crate::back::limits`]): the layer is in one tile; every
//! projection is a binary fully connected gather from a spiking layer's plane, which holds a
//! position's T steps side by side in one word (only fused layers read it). The unit's reads
//! follow [`schedule::fused_cycles`]: blocks of [`schedule::FUSE_BLOCK`] rows (the last may be
//! short); block b's sums are in the buffer's half b mod 2 `FUSE_SUMS + T` cycles after its
//! last row's last gather cycle (`R = max(W, T)` cycles a row); its T update passes
//! (`max(n_b, fuse_loop)` cycles each, the last block's last one ending with its last row)
//! start then or when block b - 1's end, whichever is later; block b's gather waits for block
//! b - 2's updates to end (its half of the buffer). The state memories hold one block's rows
//! (row i of a block at i); the per-row parameters are read at the layer's row, and the
//! layer's plane writes start each pass at its block's first row.

use super::common::EmitError;
use super::expr::abits;
use super::proj::{pairs, pop_tree};
use super::types::{FusedProjView, FusedSumsView, FusedView, LayerView};
use crate::hw::{Plan, schedule};

/// Bits of a fused row's step tag (`fz_t`, `fz_tw`): T - 1 fits, at least one bit.
pub fn step_tag_bits(plan: &Plan) -> usize {
    abits(plan.timesteps.max(2))
}

/// The fused units of `plan` (each set on its layer's view, whose membrane read it replaces by
/// the membrane plus the step's sum) and the sum buffer they share; None without a fused layer.
pub fn fused_views(plan: &Plan, layers: &mut [LayerView], grw: usize) -> Result<Option<FusedSumsView>, EmitError> {
    let fused: Vec<usize> = (0..plan.layers.len()).filter(|&k| plan.fused(k)).collect();
    if fused.is_empty() {
        return Ok(None);
    }
    let bad = |m: String| Err(EmitError::Unsupported(m));
    let Some(mem) = plan.memories.iter().find(|m| m.name == "fused.sums") else {
        return bad("a fused plan without its sum buffer".into());
    };
    let t = plan.timesteps;
    let ttw = step_tag_bits(plan);
    let lp = schedule::fuse_loop(plan);
    let fsaw = abits(mem.depth);
    // `e` (`w` bits) zero-extended, or its low bits, at `to` bits.
    let fit = |e: &str, w: usize, to: usize| {
        if w < to {
            format!("{{{}'d0, {e}}}", to - w)
        } else if w == to {
            e.to_string()
        } else {
            format!("{e}[{}:0]", to - 1)
        }
    };
    // Step t's sums of a block's row r (below 16, `rw` bits) at h x 16 T + t x 16 + r, h the
    // block's half of the buffer (its index mod 2; one bit, or none for a layer of one block).
    let at = |h: Option<&str>, t: &str, r: &str, rw: usize| {
        let half = h.map_or(String::new(), |h| {
            format!("({{{fsaw}{{{h}}}}} & {fsaw}'d{}) + ", schedule::FUSE_BLOCK * plan.timesteps)
        });
        format!("({half}{} * {fsaw}'d{} + {})", fit(t, ttw, fsaw), schedule::FUSE_BLOCK, fit(r, rw, fsaw))
    };
    let mut units = vec![];
    for &k in &fused {
        let l = &mut layers[k];
        let rows = l.rows;
        let mut projs = vec![];
        let mut b = 0;
        for p in &l.projs {
            let Some(d) = &p.dense else { return bad(format!("{}: a fused projection that does not gather", p.pre)) };
            if p.spram.is_some() {
                return bad(format!("{}: a fused projection's weights in SPRAM", p.pre));
            }
            projs.push(FusedProjView {
                pre: p.pre.clone(),
                w: d.w,
                b,
                pw: d.pw,
                paw: d.paw,
                waw: d.waw,
                shift: p.shift,
                s: d.prdata.clone(),
                turn: String::new(),
                pa: String::new(),
            });
            b += d.w;
        }
        let words = b;
        let r = words.max(t);
        let cw = abits(r.max(2));
        let pre = format!("l{k}f");
        for p in projs.iter_mut() {
            // c in [b, b + w): the bounds a cw-bit counter can pass (no constant compare).
            let mut c = vec![];
            if p.b > 0 {
                c.push(format!("({pre}_g_c >= {cw}'d{})", p.b));
            }
            if p.b + p.w < r {
                c.push(format!("({pre}_g_c < {cw}'d{})", p.b + p.w));
            }
            p.turn = if c.is_empty() { format!("{pre}_g_go") } else { format!("{pre}_g_go && {}", c.join(" && ")) };
            let i = format!("{}_i", p.pre);
            p.pa = fit(&i, cw, p.paw);
        }
        let pw = projs.iter().map(|p| p.pw).max().unwrap_or(1);
        let nn = pw.div_ceil(4);
        let np = nn.div_ceil(2);
        let (pop, pcw) = pop_tree("y", 4, 0, np);
        // Blocks: `nb` of `nf` rows, the last of `nl`; their passes' cycles.
        let fb = schedule::FUSE_BLOCK;
        let nb = rows.div_ceil(fb);
        let (nf, nl) = (rows.min(fb), rows - (nb - 1) * fb);
        let (pf, pl) = ((nf as u64).max(lp) as usize, (nl as u64).max(lp) as usize);
        let max_shift = projs.iter().map(|p| p.shift).max().unwrap_or(0);
        let shw = abits(max_shift as usize + 1);
        // The turn's values, one-hot by `<unit>_jb` (stage B) and `<unit>_jc` (stage C).
        let or_sel = |sel: &str, w: usize, f: &dyn Fn(&FusedProjView) -> String| -> String {
            let mut e = format!("{w}'d0");
            for (j, p) in projs.iter().enumerate() {
                e += &format!(" | ({{{w}{{{pre}_{sel}[{j}]}}}} & {})", f(p));
            }
            e
        };
        let zext = |e: String, w: usize, to: usize| if w < to { format!("{{{}'d0, {e}}}", to - w) } else { e };
        // Registered into stage B from stage A's turns, as `<unit>_jb`.
        let mut sh_sel = format!("{shw}'d0");
        for p in &projs {
            sh_sel += &format!(" | ({{{shw}{{{}_turn}}}} & {shw}'d{})", p.pre, p.shift);
        }
        let s_sel = or_sel("jc", t * pw, &|p| {
            let parts: Vec<String> = (0..t)
                .rev()
                .map(|st| zext(format!("{}[{}:{}]", p.s, st * p.pw + p.pw - 1, st * p.pw), p.pw, pw))
                .collect();
            format!("{{{}}}", parts.join(", "))
        });
        let lanes = l.lanes;
        let w_sel = or_sel("jc", lanes * pw, &|p| {
            let parts: Vec<String> = (0..lanes)
                .rev()
                .map(|g| zext(format!("{}_w[{}:{}]", p.pre, g * p.pw + p.pw - 1, g * p.pw), p.pw, pw))
                .collect();
            format!("{{{}}}", parts.join(", "))
        });
        let pair = if words < r { format!("{pre}_g_go && ({pre}_g_c < {cw}'d{words})") } else { format!("{pre}_g_go") };
        let fsw = l.lanes * l.vw;
        if fsw > mem.width {
            return bad(format!("{}: its sums are wider than the sum buffer", l.name));
        }
        let rw = abits(rows.max(2));
        let pw_pass = abits(pf.max(pl));
        // The gather's row within its block and the block (bits 4 and up, several blocks).
        let blk = abits(fb);
        let (hw_r, hw_h) = if nb > 1 {
            (format!("{pre}_hw_r[{}:0]", blk - 1), Some(format!("{pre}_hw_r[{blk}]")))
        } else {
            (format!("{pre}_hw_r"), None)
        };
        let bw = abits(nb.max(2));
        let fpa = if l.has_prom && !l.prom_by_cgi {
            let a = l.prom_aw;
            let ui = fit(&format!("{pre}_ui"), pw_pass, a);
            if nb > 1 { format!("({} * {a}'d{fb} + {ui})", fit(&format!("{pre}_ub"), bw, a)) } else { ui }
        } else {
            String::new()
        };
        let view = FusedView {
            grw,
            row_ext: fit(&format!("{pre}_ui"), pw_pass, grw),
            fs_wa: at(hw_h.as_deref(), &format!("{pre}_hw_t"), &hw_r, rw.min(blk)),
            nb,
            nf,
            nl,
            pf,
            pl,
            bw,
            gbw: rw.saturating_sub(blk),
            blk,
            dly: schedule::FUSE_SUMS as usize + t - 1,
            fpa,
            pre,
            lanes: l.lanes,
            rows,
            rw,
            t,
            ttw,
            words,
            r,
            cw,
            pw_pass,
            vw: l.vw,
            pw,
            nn,
            np,
            npad: nn * 4 - pw,
            pairs: pairs("y", nn),
            pcw,
            pop,
            shw,
            projs,
            pair,
            sh_sel,
            s_sel,
            w_sel,
            x_mem: l.x_sig.clone(),
            x_lw: l.x_lw,
            fsaw,
            fsw: mem.width,
        };
        l.x_sig = format!("{}_fx", l.pre);
        units.push(view.pre.clone());
        l.fused = Some(view);
    }
    Ok(Some(FusedSumsView {
        depth: mem.depth,
        aw: fsaw,
        width: mem.width,
        units,
        ttw,
        grw,
        raddr: at(Some("fz_h"), "fz_t", "fz_row", grw),
        logic: mem.map == crate::hw::MemMap::Registers,
    }))
}
