//! Range analysis: worst-case magnitudes of every stored quantity over T steps and any input,
//! hence the widths that can never overflow.
//!
//! Per neuron, the most one step can add is `M = sum over projections of sum |w| * xmax * m
//! << shift` (xmax: largest input code, or 1 for spikes; m: source events a pooled element
//! can gather). The membrane bound iterates
//! `B' = leak(max(B, |VR|)) + M + |C| + |CL| + |THR| + 1` for T steps (the |THR| covers both
//! subtract resets, the 1 the leak rounding), which holds whatever the spikes and resets do.
//! Widths are the signed widths of these bounds. Under a user cap the layer saturates, and its
//! parameters (threshold, biases, reset value) saturate to the capped width as well.

use super::{AccTarget, Leak, Network, ProjKind, Source, at};

/// The widest state a plan may need (`--membrane-bits` caps at it too): the engines hold
/// state and its sums in i64, so an update's few terms stay clear of overflow.
pub const MAX_STATE_BITS: u32 = 62;

fn signed_bits(v: i64) -> u32 {
    (64 - v.unsigned_abs().leading_zeros()) + 1
}

/// Sum of |w| over `ws`, saturating (a hostile parameter may quantise to the ends of i64).
fn abs_sum<'a>(ws: impl Iterator<Item = &'a i64>) -> i64 {
    ws.map(|w| w.saturating_abs()).fold(0, i64::saturating_add)
}

/// Upper bound of |leak(x)| for |x| <= b.
fn leak_bound(l: &Leak, b: i64, p: u32, i: usize) -> i64 {
    match l {
        Leak::Zero => 0,
        Leak::One => b,
        Leak::Shift { .. } => b.saturating_add(1),
        Leak::Mul { b: m } => {
            let q = (b as i128 * at(m, i) as i128 + (1i128 << p) - 1) >> p;
            (q as i64).saturating_add(1)
        }
    }
}

/// Per-neuron worst-case sums per step of (static, dynamic) projections, in state units.
fn step_bounds(plan: &Network, k: usize) -> (Vec<i64>, Vec<i64>) {
    let l = &plan.layers[k];
    let n = l.neurons();
    let pos = l.positions();
    let mut stat = vec![0i64; n];
    let mut dynm = vec![0i64; n];
    for p in &l.projections {
        let xmax = match p.source {
            Source::Input => plan.input.max_abs(),
            Source::Layer(_) => 1,
        };
        let mult = p.pre_pool.as_ref().map_or(1, |g| (g.k[0] * g.k[1]) as i64);
        let unit = xmax.saturating_mul(mult) << p.shift;
        let dst = if p.target == AccTarget::Static { &mut stat } else { &mut dynm };
        match &p.kind {
            ProjKind::Dense { cols } => {
                for (i, d) in dst.iter_mut().enumerate() {
                    let s = abs_sum(p.weights.values.range(i * cols..(i + 1) * cols));
                    *d = d.saturating_add(s.saturating_mul(unit));
                }
            }
            ProjKind::Conv { .. } => {
                let co = l.shape[0];
                let per = p.weights.values.len() / co;
                for c in 0..co {
                    let s = abs_sum(p.weights.values.range(c * per..(c + 1) * per));
                    for d in &mut dst[c * pos..(c + 1) * pos] {
                        *d = d.saturating_add(s.saturating_mul(unit));
                    }
                }
            }
            ProjKind::Pool(g) => {
                let per_window = (g.k[0] * g.k[1]) as i64;
                for (i, d) in dst.iter_mut().enumerate() {
                    *d = d.saturating_add(
                        p.weights.at(i).saturating_abs().saturating_mul(per_window).saturating_mul(unit),
                    );
                }
            }
            ProjKind::OneToOne => {
                for (i, d) in dst.iter_mut().enumerate() {
                    *d = d.saturating_add(p.weights.at(i).saturating_abs().saturating_mul(unit));
                }
            }
        }
    }
    (stat, dynm)
}

/// Sets the widths of layer `k` (and `saturate` when the rules' state cap is below what the
/// analysis needs).
pub fn analyse(plan: &mut Network, k: usize) {
    let (stat, dynm) = step_bounds(plan, k);
    let t_steps = plan.timesteps;
    let p = plan.rules.leak_bits();
    let cap = plan.rules.state.max_bits;
    let l = &plan.layers[k];
    let pr = &l.params;
    let n = l.neurons();
    let mut vmax = 0i64;
    let mut smax = 0i64;
    let mut ymax = 0i64;
    for i in 0..n {
        let thr = at(&pr.thr, i).saturating_abs();
        let vr = at(&pr.vreset, i).saturating_abs();
        smax = smax.max(stat[i]);
        let input = if let Some(sl) = &l.syn_leak {
            // Current-based: bound the synaptic state first.
            let m = dynm[i]
                .saturating_add(stat[i])
                .saturating_add(at(&pr.syn_bias, i).saturating_abs())
                .saturating_add(at(&pr.syn_bias_late, i).saturating_abs());
            let mut b = 0i64;
            let mut top = 0i64;
            for _ in 0..t_steps {
                b = leak_bound(sl, b, p, i).saturating_add(m).saturating_add(1);
                top = top.max(b);
            }
            ymax = ymax.max(top);
            top
        } else {
            dynm[i].saturating_add(stat[i])
        };
        let m = input
            .saturating_add(at(&pr.bias, i).saturating_abs())
            .saturating_add(at(&pr.bias_late, i).saturating_abs());
        let mut b = 0i64;
        let mut top = thr.max(vr);
        for _ in 0..t_steps {
            b = leak_bound(&l.leak, b.max(vr), p, i).saturating_add(m).saturating_add(thr).saturating_add(1);
            top = top.max(b);
        }
        vmax = vmax.max(top);
    }
    let l = &mut plan.layers[k];
    l.v_bound = vmax;
    let (mut v, mut s, mut y) = (signed_bits(vmax).max(2), 0, 0);
    if l.has_static() {
        s = signed_bits(smax).max(2);
    }
    if l.kind.cuba() {
        y = signed_bits(ymax).max(2);
    }
    l.saturate = false;
    if let Some(c) = cap {
        let c = c.max(2);
        if v > c || s > c || y > c {
            l.saturate = true;
        }
        v = v.min(c);
        if s > 0 {
            s = s.min(c);
        }
        if y > 0 {
            y = y.min(c);
        }
    }
    l.v_bits = v;
    l.s_bits = s;
    l.y_bits = y;
    if l.saturate {
        // Parameters are stored in the state widths too: saturate them the same way.
        let sat = |vals: &mut Vec<i64>, bits: u32| {
            let (lo, hi) = (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1);
            for x in vals.iter_mut() {
                *x = (*x).clamp(lo, hi);
            }
        };
        let p = &mut l.params;
        for vals in [&mut p.thr, &mut p.bias, &mut p.bias_late, &mut p.vreset] {
            sat(vals, v);
        }
        if y > 0 {
            sat(&mut p.syn_bias, y);
            sat(&mut p.syn_bias_late, y);
        }
    }
}
