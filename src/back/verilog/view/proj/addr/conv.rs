//! Convolution addresses: one beat per tap and lane group. A clipped axis
//! ([`crate::hw::taps`]) counts only the taps that reach a target from the event's
//! coordinate, from its first (a table of the coordinate) by the axis' step.
//!
//! Invariant: with `a` = source coordinate + padding - first tap's offset and `d` the beat's
//! tap offset from the first, the target is `n = a - d`, valid when `a >= d`,
//! `a = d (mod stride)` and `a < out * stride + d`: compares that do not wait for the
//! subtraction.

use super::{Arith, Exprs, Seen};
use crate::back::verilog::view::expr::{abits, bits_for_count, cw, log2};
use crate::back::verilog::view::proj::types::{CounterView, TableView};
use crate::hw::Layer;
use crate::hw::taps::{AxisTaps, Pattern, conv_taps};
use crate::quant::{ProjKind, Projection};

/// One axis' tap as the arithmetic reads it.
struct Tap {
    /// The presented tap (`aw` bits).
    tap: String,
    /// The tap's offset from the first, in taps (`aw` bits).
    off: String,
    /// Clipped axes: the first tap as registered with the event and as its table reads it.
    k0: Option<(String, String)>,
}

impl Arith<'_> {
    /// Axis `d` (`ax` = y or x) of a `k`-tap kernel: its counter, and the tap it presents.
    fn conv_axis(&mut self, t: &AxisTaps, d: usize, ax: &str, k: usize) -> Tap {
        let (pre, aw) = (self.pre, self.aw);
        let (hi, lo) = if d == 0 { (self.src.y_hi, self.src.y_lo) } else { (self.src.x_hi, self.src.x_lo) };
        let (nmin, nmax) = t.range;
        if !t.clipped {
            let kk = self.count(format!("{pre}_k{ax}"), k);
            return Tap { tap: kk.clone(), off: kk, k0: None };
        }
        let k0 = format!("{pre}_tk0{ax}");
        let k0w = abits(k);
        let pos = format!("{pre}_ev_pos");
        self.tables.push(TableView { name: k0.clone(), w: k0w, pos: pos.clone(), hi, lo, pattern: t.k0.clone() });
        let w = bits_for_count(nmax);
        let nm1 = (nmin != nmax).then(|| {
            let name = format!("{pre}_tn{ax}");
            let minus1 = Pattern {
                period: t.n.period,
                base: t.n.base.iter().map(|&n| n.saturating_sub(1)).collect(),
                exceptions: t.n.exceptions.iter().map(|&(v, n)| (v, n.saturating_sub(1))).collect(),
            };
            self.tables.push(TableView { name: name.clone(), w, pos, hi, lo, pattern: minus1 });
            name
        });
        let name = format!("{pre}_k{ax}");
        self.counters.push(CounterView { name: name.clone(), max: nmax, w, nm1 });
        // The first tap and the tap are narrow (below k); expressions they join are evaluated
        // at the address width.
        let k0r = format!("{pre}_k0{ax}");
        self.evreg(k0r.clone(), k0w, k0.clone());
        let tap = format!("{pre}_tap{ax}");
        let ctr = if k0w > w { format!("{{{}'d0, {name}_d}}", k0w - w) } else { format!("{name}_d") };
        // One tap presented (a 1x1 kernel, a stride beyond the kernel): the counter stays 0,
        // and the step may not fit the tap's width. More: the second tap, first + step, is
        // below k, so the step fits.
        let e = if nmax <= 1 { k0r.clone() } else { format!("{k0r} + {ctr} * {}", cw(k0w, t.step)) };
        self.line(tap.clone(), k0w, e);
        let wide = |v: &str| format!("{{{}'d0, {v}}}", aw - k0w);
        Tap { tap: wide(&tap), off: format!("{name}w * {}", cw(aw, t.step)), k0: Some((wide(&k0r), wide(&k0))) }
    }

    /// `a` per axis: the (pre-pooled) coordinate plus padding minus the first tap's offset,
    /// registered with the event unless pre-pooled (its first tap then read from the table).
    fn conv_a(
        &mut self,
        p: &Projection,
        seen: &Seen,
        pad: [usize; 2],
        dil: [usize; 2],
        taps: [&Tap; 2],
    ) -> [String; 2] {
        let pre = self.pre;
        let aw = self.aw;
        let minus = |k0: Option<&String>, dl: usize| k0.map_or(String::new(), |k0| format!(" - {k0} * {}", cw(aw, dl)));
        let names = [format!("{pre}_ay"), format!("{pre}_ax")];
        let s = self.src;
        for d in 0..2 {
            if p.pre_pool.is_some() {
                let coord = if d == 0 { &seen.y } else { &seen.x };
                let k0 = taps[d].k0.as_ref().map(|k| &k.0);
                let e = format!("{coord} + {}{}", self.k(pad[d]), minus(k0, dil[d]));
                self.line(names[d].clone(), self.aw, e);
            } else {
                let coord = if d == 0 { self.ev(s.y_hi, s.y_lo, s.yw) } else { self.ev(s.x_hi, s.x_lo, s.xw) };
                let k0 = taps[d].k0.as_ref().map(|k| &k.1);
                let e = format!("{coord} + {}{}", self.k(pad[d]), minus(k0, dil[d]));
                self.evreg(names[d].clone(), self.aw, e);
            }
        }
        names
    }

    /// The convolution's beats: taps (y, x), then lane groups of the target.
    pub(super) fn conv(&mut self, l: &Layer, p: &Projection, seen: &Seen) -> Exprs {
        let ProjKind::Conv { ci, kh, kw, stride, pad, dil, groups, .. } = &p.kind else {
            unreachable!("a convolution")
        };
        let pre = self.pre;
        let taps = conv_taps(l, p).expect("a convolution");
        let ty = self.conv_axis(&taps.axes[0], 0, "y", *kh);
        let tx = self.conv_axis(&taps.axes[1], 1, "x", *kw);
        let g = Self::beat_groups(l);
        let cb = self.count(format!("{pre}_cb"), g);
        let a = self.conv_a(p, seen, *pad, *dil, [&ty, &tx]);
        let outs = [l.shape[1], l.shape[2]];
        for (d, ax) in ["y", "x"].into_iter().enumerate() {
            let (a, st) = (&a[d], stride[d]);
            let off = if d == 0 { &ty.off } else { &tx.off };
            self.line(format!("{pre}_d{ax}"), self.aw, format!("({off}) * {}", self.k(dil[d])));
            self.line(format!("{pre}_n{ax}"), self.aw, format!("{a} - {pre}_d{ax}"));
            let v = format!(
                "({a} >= {pre}_d{ax}) && (({a} & {m}) == ({pre}_d{ax} & {m})) && ({a} < {pre}_d{ax} + {})",
                self.k(outs[d] * st),
                m = self.k(st - 1),
            );
            self.line(format!("{pre}_v{ax}"), 1, v);
        }
        // limits::check refused groups of a non-power-of-two size.
        let grp = if *groups > 1 { format!("({pre}_c >> {})", log2(ci / groups)) } else { cw(self.aw, 0) };
        // The event's parts of both addresses are products of its channel (stage 1); the
        // beat's parts are small counters.
        self.line(format!("{pre}_wc"), self.aw, format!("{pre}_c * {}", self.k(kh * kw * g)));
        self.line(format!("{pre}_rg"), self.aw, format!("{grp} * {}", self.k(l.ncg * l.positions())));
        let (all, zero, lastmask) = Self::lane_masks(l);
        let last = self.last_group(l, &cb);
        Exprs {
            waddr: format!("{pre}_wc + ({} * {} + {}) * {} + {cb}", ty.tap, self.k(*kw), tx.tap, self.k(g)),
            row: format!(
                "{pre}_rg + {cb} * {} + ({pre}_ny >> {}) * {} + ({pre}_nx >> {})",
                self.k(l.positions()),
                log2(stride[0]),
                self.k(l.shape[2]),
                log2(stride[1])
            ),
            mask: format!("({} && {pre}_vy && {pre}_vx) ? ({last} ? {lastmask} : {all}) : {zero}", seen.ok),
        }
    }
}
