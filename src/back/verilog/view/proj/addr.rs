//! The address arithmetic of an accumulate unit: from an event's entry and the beat
//! counters, the target row, the weight address and the lane mask of every beat.
//!
//! Pipeline: stage 1 registers the event and its beat (`evregs`: sums of the entry's
//! coordinates, registered with the event; `lines`: wires of the beat's coordinates); stage
//! 1b registers every stage-1 signal the addresses read (`regs` and `lines`, as `<name>_b`),
//! so the row, weight address and mask are short sums of registers. Invariant: every
//! expression is `aw` bits wide (1 for conditions, `lanes` for masks) and never wraps.
//! The result's view types ([`Addresses`], [`LineView`]) are in [`super::types`].

mod conv;

use super::types::{Addresses, CounterView, LineView, SourceLayout, TableView};
use crate::back::common::weights_per_lane_group;
use crate::back::verilog::view::expr::{bits_for_count, cw, log2, mask_lit};
use crate::hw::Layer;
use crate::quant::{PoolGeom, ProjKind, Projection};

/// The row, weight address and lane mask of a beat, as stage-1 expressions.
struct Exprs {
    row: String,
    waddr: String,
    mask: String,
}

/// The source coordinates a projection sees (after pre-pooling): y, x, valid, and the extent.
struct Seen {
    y: String,
    x: String,
    ok: String,
    h: usize,
    w: usize,
}

/// The arithmetic being built: signals named from `pre`, `aw` bits wide.
struct Arith<'a> {
    pre: &'a str,
    aw: usize,
    /// Width of the sequencer's tile register `tj` (0: no layer in tiles).
    tjw: usize,
    src: &'a SourceLayout,
    counters: Vec<CounterView>,
    tables: Vec<TableView>,
    evregs: Vec<LineView>,
    lines: Vec<LineView>,
}

impl Arith<'_> {
    /// `v` as an `aw`-bit constant.
    fn k(&self, v: usize) -> String {
        cw(self.aw, v)
    }

    /// The lane of index `x` (a channel or flat neuron index) among `lanes`: a mask when the
    /// lanes are a power of two (every user entry asks for one), else a constant modulo.
    fn lane_of(&self, x: &str, lanes: usize) -> String {
        if lanes.is_power_of_two() {
            format!("{x} & {}", self.k(lanes - 1))
        } else {
            format!("{x} % {}", self.k(lanes))
        }
    }

    /// The lane group of index `x`: a shift when the lanes are a power of two, else a constant
    /// division.
    fn group_of(&self, x: &str, lanes: usize) -> String {
        if lanes.is_power_of_two() { format!("{x} >> {}", log2(lanes)) } else { format!("{x} / {}", self.k(lanes)) }
    }

    fn line(&mut self, name: String, w: usize, expr: String) {
        self.lines.push(LineView { name, w, expr });
    }

    fn evreg(&mut self, name: String, w: usize, expr: String) {
        self.evregs.push(LineView { name, w, expr });
    }

    /// A counter to `max` - 1; returns its stage-1 value (`<name>w`, `aw` bits).
    fn count(&mut self, name: String, max: usize) -> String {
        self.counters.push(CounterView { name: name.clone(), max, w: bits_for_count(max), nm1: None });
        format!("{name}w")
    }

    /// Bits `hi..lo` of the event's entry, zero-extended from `w` to `aw` bits.
    fn ev(&self, hi: usize, lo: usize, w: usize) -> String {
        format!("{{{}'d0, {}_ev_pos[{hi}:{lo}]}}", self.aw - w, self.pre)
    }

    /// The event's y and x plus `pad`, registered with the event as `<pre>_<name>y`, `..x`.
    fn ev_sum(&mut self, name: &str, pad: [usize; 2]) -> (String, String) {
        let (pre, s) = (self.pre, self.src);
        let (ny, nx) = (format!("{pre}_{name}y"), format!("{pre}_{name}x"));
        self.evreg(ny.clone(), self.aw, format!("{} + {}", self.ev(s.y_hi, s.y_lo, s.yw), self.k(pad[0])));
        self.evreg(nx.clone(), self.aw, format!("{} + {}", self.ev(s.x_hi, s.x_lo, s.xw), self.k(pad[1])));
        (ny, nx)
    }

    /// Pooling window candidate code over source coordinates plus padding `u` (expressions, per
    /// axis) with candidate counters `cand`; declares `<pre>_<tag>y`, `<pre>_<tag>x` and
    /// `<pre>_<tag>ok`. With `top = u >> log2 s` and `rem = u mod s`, candidate `kc` is window
    /// `top - kc`, valid when `kc <= top`, `top - kc < out` and `rem + kc * s < k`: one subtract
    /// and compares that do not chain.
    fn pool(&mut self, tag: &str, g: &PoolGeom, u: (&str, &str), cand: (&str, &str)) {
        let pre = self.pre;
        for (d, (uu, kc)) in [(u.0, cand.0), (u.1, cand.1)].into_iter().enumerate() {
            let ax = if d == 0 { "y" } else { "x" };
            let top = format!("{pre}_{tag}t{ax}");
            self.line(top.clone(), self.aw, format!("({uu}) >> {}", log2(g.s[d])));
            let ok = format!(
                "({kc} <= {top}) && ({top} < {kc} + {}) && ((({uu}) & {}) + ({kc} << {}) < {})",
                self.k(g.out[d]),
                self.k(g.s[d] - 1),
                log2(g.s[d]),
                self.k(g.k[d])
            );
            self.line(format!("{pre}_{tag}ok{ax}"), 1, ok);
            self.line(format!("{pre}_{tag}{ax}"), self.aw, format!("{top} - {kc}"));
        }
        self.line(format!("{pre}_{tag}ok"), 1, format!("{pre}_{tag}oky && {pre}_{tag}okx"));
    }

    /// The source coordinates after the projection's pre-pooling (each window candidate of
    /// the event is a beat), or the event's own.
    fn pre_pool(&mut self, p: &Projection) -> Seen {
        let pre = self.pre;
        let Some(g) = &p.pre_pool else {
            let s = self.src.shape;
            return Seen { y: format!("{pre}_y"), x: format!("{pre}_x"), ok: "1'b1".into(), h: s[1], w: s[2] };
        };
        let cand = g.candidates();
        let ky = self.count(format!("{pre}_pa"), cand[0]);
        let kx = self.count(format!("{pre}_pb"), cand[1]);
        let (uy, ux) = self.ev_sum("pu", g.p);
        self.pool("p", g, (&uy, &ux), (&ky, &kx));
        Seen { y: format!("{pre}_py"), x: format!("{pre}_px"), ok: format!("{pre}_pok"), h: g.out[0], w: g.out[1] }
    }

    /// `{L{1'b1}}`, `{L{1'b0}}` and the last lane group's valid lanes.
    fn lane_masks(l: &Layer) -> (String, String, String) {
        let lanes = l.lanes;
        (
            format!("{{{lanes}{{1'b1}}}}"),
            format!("{{{lanes}{{1'b0}}}}"),
            mask_lit(lanes, l.group_size - (l.ncg - 1) * lanes),
        )
    }

    /// The lane groups a beat counter runs over: the layer's, or a tile's when the layer is
    /// in tiles of lane groups (`hw::memory::tileable`: one channel group). Its weight ROM's
    /// slice then holds the tile's lane groups fastest, so the word of (w, beat) is
    /// `w * groups + beat` in every tile.
    fn beat_groups(l: &Layer) -> usize {
        l.ncg / l.tiles.max(1)
    }

    /// The condition that beat `b` is the channel group's last lane group (its padding lanes
    /// masked): in a layer in tiles, the last beat of the last tile.
    fn last_group(&self, l: &Layer, b: &str) -> String {
        let g = Self::beat_groups(l);
        if l.tiles > 1 {
            format!("(({b} == {}) && (tj == {}'d{}))", self.k(g - 1), self.tjw, l.tiles - 1)
        } else {
            format!("({b} == {})", self.k(g - 1))
        }
    }

    /// Dense: one beat per lane group of the target, at the event's flattened source index.
    fn dense(&mut self, l: &Layer, seen: &Seen) -> Exprs {
        let pre = self.pre;
        let (all, zero, lastmask) = Self::lane_masks(l);
        let g = Self::beat_groups(l);
        let b = self.count(format!("{pre}_b"), g);
        let j = format!("({pre}_c * {} + {}) * {} + {}", self.k(seen.h), seen.y, self.k(seen.w), seen.x);
        self.line(format!("{pre}_j"), self.aw, j);
        let last = self.last_group(l, &b);
        Exprs {
            waddr: format!("{pre}_j * {} + {b}", self.k(g)),
            mask: format!("{} ? ({last} ? {lastmask} : {all}) : {zero}", seen.ok),
            row: b,
        }
    }

    /// Pool: one beat per window candidate, one lane (the event's channel's).
    fn pool_kind(&mut self, l: &Layer, p: &Projection, g: &PoolGeom, seen: &Seen) -> Exprs {
        let (pre, lanes) = (self.pre, l.lanes);
        let cand = g.candidates();
        let ky = self.count(format!("{pre}_wa"), cand[0]);
        let kx = self.count(format!("{pre}_wb"), cand[1]);
        let (uy, ux) = if p.pre_pool.is_some() {
            (format!("{} + {}", seen.y, self.k(g.p[0])), format!("{} + {}", seen.x, self.k(g.p[1])))
        } else {
            self.ev_sum("qu", g.p)
        };
        self.pool("q", g, (&uy, &ux), (&ky, &kx));
        self.line(format!("{pre}_lane"), self.aw, self.lane_of(&format!("{pre}_c"), lanes));
        let row = format!(
            "({}) * {} + {pre}_qy * {} + {pre}_qx",
            self.group_of(&format!("{pre}_c"), lanes),
            self.k(l.positions()),
            self.k(l.shape[2])
        );
        let onehot = format!("{{{{{}{{1'b0}}}}, 1'b1}} << {pre}_lane", lanes - 1);
        self.line(format!("{pre}_onehot"), lanes, onehot);
        Exprs { waddr: row.clone(), row, mask: format!("{pre}_qok ? {pre}_onehot : {{{lanes}{{1'b0}}}}") }
    }

    /// One-to-one: one beat, one lane; the target neuron has the event's flattened index (or
    /// its position when the channels match: a reshape of H, W keeps it).
    fn one_to_one(&mut self, l: &Layer, p: &Projection) -> Exprs {
        let (pre, lanes, s) = (self.pre, l.lanes, self.src.shape);
        let (c, y, x) = (format!("{pre}_c"), format!("{pre}_y"), format!("{pre}_x"));
        let row = if p.src_shape[0] == l.shape[0] {
            self.line(format!("{pre}_lane"), self.aw, self.lane_of(&c, lanes));
            format!("({}) * {} + {y} * {} + {x}", self.group_of(&c, lanes), self.k(l.positions()), self.k(s[2]))
        } else {
            let j = format!("({c} * {} + {y}) * {} + {x}", self.k(s[1]), self.k(s[2]));
            self.line(format!("{pre}_j"), self.aw, j);
            self.line(format!("{pre}_lane"), self.aw, self.lane_of(&format!("{pre}_j"), lanes));
            self.group_of(&format!("{pre}_j"), lanes)
        };
        let onehot = format!("{{{{{}{{1'b0}}}}, 1'b1}} << {pre}_lane", lanes - 1);
        self.line(format!("{pre}_onehot"), lanes, onehot);
        Exprs { waddr: row.clone(), row, mask: format!("{pre}_onehot") }
    }
}

/// `expr` with every identifier in `names` replaced by its stage-1b register `<name>_b`.
fn stage_b(expr: &str, names: &[&str]) -> String {
    let mut out = String::with_capacity(expr.len() + 16);
    let b = expr.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let ch = b[i];
        let starts = (ch.is_ascii_alphabetic() || ch == b'_') && (i == 0 || b[i - 1] != b'\'');
        if starts {
            let j = i + b[i..].iter().take_while(|c| c.is_ascii_alphanumeric() || **c == b'_').count();
            let id = &expr[i..j];
            out.push_str(id);
            if names.contains(&id) {
                out.push_str("_b");
            }
            i = j;
        } else if ch.is_ascii_digit() {
            // A number or sized literal (12'd5): copied whole.
            let j = i + b[i..].iter().take_while(|c| c.is_ascii_alphanumeric() || **c == b'\'' || **c == b'_').count();
            out.push_str(&expr[i..j]);
            i = j;
        } else {
            out.push(ch as char);
            i += 1;
        }
    }
    out
}

/// The address arithmetic of unit `pre` (projection `p` into `l`), `aw` bits wide.
pub fn addresses(pre: &str, aw: usize, tjw: usize, src: &SourceLayout, l: &Layer, p: &Projection) -> Addresses {
    let mut a = Arith { pre, aw, tjw, src, counters: vec![], tables: vec![], evregs: vec![], lines: vec![] };
    let seen = a.pre_pool(p);
    let e = match &p.kind {
        ProjKind::Dense { .. } => a.dense(l, &seen),
        ProjKind::Conv { .. } => a.conv(l, p, &seen),
        ProjKind::Pool(g) => a.pool_kind(l, p, g, &seen),
        ProjKind::OneToOne => a.one_to_one(l, p),
    };
    // Per-target weights are addressed by the target row, or by its lane group when they are
    // per channel (then the ROM holds one word per lane group).
    let wrom_addr = match p.kind {
        ProjKind::Dense { .. } | ProjKind::Conv { .. } => e.waddr.clone(),
        _ if weights_per_lane_group(l, p) => a.group_of(&format!("{pre}_c"), l.lanes),
        _ => e.row.clone(),
    };
    // Stage 1b: every stage-1 signal the addresses use is registered once more.
    let reg = |name: String, w: usize| LineView { name, w, expr: String::new() };
    let mut regs = vec![
        reg(format!("{pre}_c"), aw),
        reg(format!("{pre}_y"), aw),
        reg(format!("{pre}_x"), aw),
        reg(format!("{pre}_val"), src.valw),
    ];
    regs.extend(a.counters.iter().map(|k| reg(format!("{}w", k.name), aw)));
    let names: Vec<&str> = regs.iter().chain(&a.lines).map(|r| r.name.as_str()).collect();
    let (row, waddr, mask, wrom_addr) =
        (stage_b(&e.row, &names), stage_b(&e.waddr, &names), stage_b(&e.mask, &names), stage_b(&wrom_addr, &names));
    Addresses {
        counters: a.counters,
        tables: a.tables,
        evregs: a.evregs,
        lines: a.lines,
        regs,
        row,
        waddr,
        mask,
        wrom_addr,
    }
}
