//! The kernel taps an ACC phase presents for a convolution event: only those that can reach
//! a target (the window clipped at the map's borders), per axis a run `k0, k0 + step, ...,
//! k0 + (n - 1) * step` chosen by the event's source coordinate. A conv event then costs
//! `candidates x ny(y) x nx(x) x ncg` beats ([`super::schedule::beats_at`]) instead of
//! `candidates x kh x kw x ncg`, so its beats approach its synaptic operations / lanes.
//!
//! Invariant: every tap that reaches a target is presented exactly once; a presented tap that
//! reaches none (the one tap of a coordinate with no valid tap, or any tap of an axis that is
//! not clipped) is a beat with an empty lane mask, as every out-of-map tap was before.
//! An axis is clipped when the conv input coordinate is a function of the event alone (no
//! pre-pooling, or one candidate window on that axis) and its first taps and counts are each a
//! [`Pattern`] of at most [`TABLE_TERMS`] terms (a periodic pattern with border exceptions, so
//! the RTL's tables stay small on any input length); otherwise it presents all `k` taps.
//! Each coordinate's taps are found in closed form (O(1), whatever the kernel's size).

use super::Layer;
use crate::quant::{ProjKind, Projection};

/// The most terms ([`Pattern::terms`]) a clipped axis' table may take.
pub const TABLE_TERMS: usize = 64;

/// Values over coordinates `0..n` as a pattern repeating every `period` (a power of two) and
/// the coordinates that differ from it: value(v) = the exception's value, else
/// `base[v % period]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Pattern {
    /// Period (a power of two).
    pub period: usize,
    /// Value per residue.
    pub base: Vec<usize>,
    /// (coordinate, value) where the value is not the residue's, in coordinate order.
    pub exceptions: Vec<(usize, usize)>,
}

impl Pattern {
    /// A pattern of `f` over `0..n` with at most `limit` terms ([`Pattern::terms`]), the
    /// one with the fewest over periods 1, 2, 4, ... 64; None when none has so few. Each
    /// residue's value is taken at the coordinate nearest the middle (where border effects are
    /// farthest), every other coordinate checked against it.
    pub fn of(n: usize, limit: usize, f: impl Fn(usize) -> usize) -> Option<Pattern> {
        let mut best: Option<Pattern> = None;
        let mut period = 1;
        while period <= 64 && (period == 1 || period <= n) {
            let mid = n / 2 / period * period;
            let base: Vec<usize> = (0..period)
                .map(|r| {
                    if mid + r < n {
                        f(mid + r)
                    } else if r < n {
                        f(r)
                    } else {
                        0
                    }
                })
                .collect();
            // Exceptions this period may have: within the limit, and fewer terms than the best.
            let most = best.as_ref().map_or(limit, |b| b.terms() - 1);
            if period > most {
                break;
            }
            let cap = most - period;
            let mut exceptions = vec![];
            let mut ok = true;
            for v in 0..n {
                if !ok {
                    break;
                }
                let x = f(v);
                if x != base[v % period] {
                    exceptions.push((v, x));
                    ok = exceptions.len() <= cap;
                }
            }
            if ok && (n > 0 || period == 1) {
                best = Some(Pattern { period, base, exceptions });
            }
            period *= 2;
        }
        best
    }

    /// Compares the table needs: one per exception and per residue.
    pub fn terms(&self) -> usize {
        self.exceptions.len() + self.period
    }

    /// The value at `v`.
    pub fn at(&self, v: usize) -> usize {
        match self.exceptions.binary_search_by_key(&v, |e| e.0) {
            Ok(i) => self.exceptions[i].1,
            Err(_) => self.base[v % self.period],
        }
    }
}

/// One axis: per source coordinate (of the event, before any pre-pooling), the first tap
/// presented and how many (at least 1).
#[derive(Clone, Debug, PartialEq)]
pub struct AxisTaps {
    /// Source coordinates.
    pub extent: usize,
    /// First tap per source coordinate.
    pub k0: Pattern,
    /// Taps presented per source coordinate (>= 1).
    pub n: Pattern,
    /// Distance between presented taps.
    pub step: usize,
    /// False when the axis presents all taps from 0 (k0 = 0, n = k, step = 1 everywhere).
    pub clipped: bool,
    /// The fewest and most taps presented at any coordinate.
    pub range: (usize, usize),
}

impl AxisTaps {
    fn full(extent: usize, k: usize) -> AxisTaps {
        let flat = |v| Pattern { period: 1, base: vec![v], exceptions: vec![] };
        AxisTaps { extent, k0: flat(0), n: flat(k), step: 1, clipped: false, range: (k, k) }
    }

    /// Taps presented at every coordinate, in order.
    pub fn counts(&self) -> Vec<usize> {
        (0..self.extent).map(|v| self.n.at(v)).collect()
    }
}

/// Both axes of a convolution projection.
#[derive(Clone, Debug, PartialEq)]
pub struct ConvTaps {
    /// (y, x).
    pub axes: [AxisTaps; 2],
}

/// The presented taps of projection `p` into `l`; None unless `p` is a convolution.
pub fn conv_taps(l: &Layer, p: &Projection) -> Option<ConvTaps> {
    let ProjKind::Conv { kh, kw, stride, pad, dil, .. } = &p.kind else {
        return None;
    };
    let k = [*kh, *kw];
    let axes = [0, 1].map(|d| {
        let pool = p.pre_pool.as_ref().map(|g| (g.k[d], g.s[d], g.p[d], g.out[d]));
        axis_taps(p.src_shape[1 + d], l.shape[1 + d], k[d], stride[d], dil[d], pad[d], pool)
    });
    Some(ConvTaps { axes })
}

/// The valid taps of conv input coordinate + padding `a`: kernel `k`, stride `s`, dilation
/// `dil` (both at least 1), `out` outputs. Tap t is valid when `t * dil <= a`, `a - t * dil`
/// is a multiple of `s` and `(a - t * dil) / s < out`; the valid ones are `first, first +
/// step, ...` (`count` of them, possibly 0), with `step = s / gcd(s, dil)`: `(first, count,
/// step)`. O(log s), whatever the kernel.
pub(crate) fn valid_taps(a: usize, k: usize, s: usize, dil: usize, out: usize) -> (usize, usize, usize) {
    let (s, dil) = (s.max(1), dil.max(1));
    let g = gcd(s, dil);
    let step = s / g;
    if !a.is_multiple_of(g) || k == 0 {
        return (0, 0, step);
    }
    // t * (dil / g) = a / g (mod step), dil / g invertible modulo step.
    let inv = mod_inverse((dil / g) % step, step);
    let r = ((a / g % step) as u128 * inv as u128 % step as u128) as usize;
    // t * dil in (a - out * s, a]: t >= lo, t <= hi.
    let hi = (a / dil).min(k - 1);
    let lo = match a.checked_sub(out.saturating_mul(s)) {
        Some(low) => low / dil + 1,
        None => 0,
    };
    if lo > hi {
        return (0, 0, step);
    }
    // The first t >= lo with t = r (mod step).
    let first = lo + (r + step - lo % step) % step;
    if first > hi { (0, 0, step) } else { (first, (hi - first) / step + 1, step) }
}

fn valid_run(a: usize, k: usize, s: usize, dil: usize, out: usize) -> (usize, usize) {
    let (first, n, _) = valid_taps(a, k, s, dil, out);
    (first, n)
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The inverse of `m` modulo `n` (coprime; 0 for n = 1), by the extended Euclidean algorithm.
fn mod_inverse(m: usize, n: usize) -> usize {
    if n <= 1 {
        return 0;
    }
    let (mut r0, mut r1) = (n as i128, m as i128);
    let (mut t0, mut t1) = (0i128, 1i128);
    while r1 != 0 {
        let q = r0 / r1;
        (r0, r1) = (r1, r0 - q * r1);
        (t0, t1) = (t1, t0 - q * t1);
    }
    t0.rem_euclid(n as i128) as usize
}

/// True when an axis's taps are worked out per source coordinate: a kernel, and no
/// pre-pooling window that holds a coordinate more than once.
fn per_coordinate(pool: Option<(usize, usize, usize, usize)>, k: usize) -> bool {
    k > 0 && pool.is_none_or(|(pk, ps, _, _)| pk.div_ceil(ps) == 1)
}

/// The conv input coordinate of source coordinate `v`: `v` itself, or the one pre-pooling
/// window holding it (None outside every window); `pool` is (kernel, stride, padding, output)
/// of a window that holds each coordinate at most once.
fn pooled_input(v: usize, pool: Option<(usize, usize, usize, usize)>) -> Option<usize> {
    match pool {
        None => Some(v),
        Some((pk, ps, pp, po)) => {
            let vp = v + pp;
            let o = vp / ps;
            (o < po && vp - o * ps < pk).then_some(o)
        }
    }
}

/// Per source coordinate (y, then x) of convolution `p` into `l`, whether an event there has
/// a target: at least one valid tap. Every coordinate counts as reached where that is not
/// worked out per coordinate (overlapping pre-pooling windows, an empty kernel), so a
/// coordinate marked unreached never has a target. None unless `p` is a convolution.
pub fn conv_reach(l: &Layer, p: &Projection) -> Option<[Vec<bool>; 2]> {
    let ProjKind::Conv { kh, kw, stride, pad, dil, .. } = &p.kind else {
        return None;
    };
    let k = [*kh, *kw];
    Some([0, 1].map(|d| {
        let extent = p.src_shape[1 + d];
        let pool = p.pre_pool.as_ref().map(|g| (g.k[d], g.s[d], g.p[d], g.out[d]));
        if !per_coordinate(pool, k[d]) {
            return vec![true; extent];
        }
        (0..extent)
            .map(|v| {
                pooled_input(v, pool)
                    .is_some_and(|i| valid_run(i + pad[d], k[d], stride[d], dil[d].max(1), l.shape[1 + d]).1 > 0)
            })
            .collect()
    }))
}

/// One axis of [`conv_taps`]: a source extent, the conv's output extent, kernel, stride,
/// dilation and padding, and the pre-pooling window's (kernel, stride, padding, output).
fn axis_taps(
    extent: usize,
    out: usize,
    k: usize,
    stride: usize,
    dil: usize,
    pad: usize,
    pool: Option<(usize, usize, usize, usize)>,
) -> AxisTaps {
    if !per_coordinate(pool, k) {
        return AxisTaps::full(extent, k);
    }
    // The run at source coordinate v, (first, count), with (0, 1) for none.
    let run = |v: usize| -> (usize, usize) {
        match pooled_input(v, pool).map(|i| valid_run(i + pad, k, stride, dil.max(1), out)) {
            Some((first, n)) if n > 0 => (first, n),
            _ => (0, 1),
        }
    };
    let step = stride.max(1) / gcd(stride.max(1), dil.max(1));
    let (Some(k0), Some(n)) =
        (Pattern::of(extent, TABLE_TERMS, |v| run(v).0), Pattern::of(extent, TABLE_TERMS, |v| run(v).1))
    else {
        return AxisTaps::full(extent, k);
    };
    let counts = (0..extent).map(|v| n.at(v));
    let range = (counts.clone().min().unwrap_or(1), counts.max().unwrap_or(1));
    AxisTaps { extent, k0, n, step, clipped: true, range }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_valid(a: usize, t: usize, s: usize, dil: usize, out: usize) -> bool {
        let off = t * dil;
        a >= off && (a - off).is_multiple_of(s) && (a - off) / s < out
    }

    /// The closed form against brute force.
    #[test]
    fn valid_runs_are_the_valid_taps() {
        for k in 0..=9 {
            for s in [1usize, 2, 3, 4, 5, 6, 8, 9, 12] {
                for dil in 1..=6 {
                    for out in 0..=6 {
                        for a in 0..=40 {
                            let taps: Vec<usize> = (0..k).filter(|&t| is_valid(a, t, s, dil, out)).collect();
                            let (first, n, step) = valid_taps(a, k, s, dil, out);
                            assert_eq!(step, s / gcd(s, dil));
                            let run: Vec<usize> = (0..n).map(|i| first + i * step).collect();
                            assert_eq!(run, taps, "k{k} s{s} d{dil} out{out} a{a}");
                        }
                    }
                }
            }
        }
    }

    /// Every valid tap presented exactly once and nothing beyond the kernel; a clipped axis
    /// presents exactly the valid taps (one invalid when there is none). Brute force over a
    /// sweep of geometries, with and without a pre-pooling window of one candidate.
    #[test]
    fn presented_taps_cover_the_valid_ones_once() {
        let (mut clipped, mut geometries) = (0, 0);
        for k in 1..=5 {
            for s in [1usize, 2, 4] {
                for dil in 1..=3 {
                    for pad in 0..=3 {
                        for extent in 1..=9 {
                            for pool in [None, Some((2, 2, 0)), Some((3, 4, 1)), Some((3, 2, 0))] {
                                let (cin, pool) = match pool {
                                    None => (extent, None),
                                    Some((pk, ps, pp)) if extent + 2 * pp >= pk => {
                                        let po = (extent + 2 * pp - pk) / ps + 1;
                                        (po, Some((pk, ps, pp, po)))
                                    }
                                    Some(_) => continue,
                                };
                                let span = (k - 1) * dil + 1;
                                if cin + 2 * pad < span {
                                    continue;
                                }
                                let out = (cin + 2 * pad - span) / s + 1;
                                let ax = axis_taps(extent, out, k, s, dil, pad, pool);
                                clipped += usize::from(ax.clipped);
                                geometries += 1;
                                for v in 0..extent {
                                    let a = match pool {
                                        None => Some(v + pad),
                                        Some((pk, ps, pp, po)) => {
                                            let o = (v + pp) / ps;
                                            (o < po && v + pp - o * ps < pk).then_some(o + pad)
                                        }
                                    };
                                    let pres: Vec<usize> = (0..ax.n.at(v)).map(|i| ax.k0.at(v) + i * ax.step).collect();
                                    let at = format!("k{k} s{s} d{dil} p{pad} e{extent} {pool:?} v{v}: {pres:?}");
                                    assert!(!pres.is_empty() && pres.iter().all(|&t| t < k), "{at}");
                                    let nvalid =
                                        (0..k).filter(|&t| a.is_some_and(|a| is_valid(a, t, s, dil, out))).count();
                                    for t in 0..k {
                                        if a.is_some_and(|a| is_valid(a, t, s, dil, out)) {
                                            assert_eq!(pres.iter().filter(|&&p| p == t).count(), 1, "{at} tap {t}");
                                        }
                                    }
                                    if ax.clipped {
                                        assert_eq!(ax.n.at(v), nvalid.max(1), "{at}");
                                    } else {
                                        assert_eq!(pres, (0..k).collect::<Vec<_>>(), "{at}");
                                    }
                                }
                                let counts = ax.counts();
                                assert_eq!(ax.range, (*counts.iter().min().unwrap(), *counts.iter().max().unwrap()));
                            }
                        }
                    }
                }
            }
        }
        println!("{geometries} axis geometries, {clipped} clipped");
        assert!(clipped > 3000, "the sweep clips most axes ({clipped})");
    }

    /// Long inputs and large kernels: the tables stay a few terms (so a 1-d convolution over a
    /// long sequence is clipped), and a kernel of a million taps, whose counts ramp, is left
    /// whole.
    #[test]
    fn long_axes_stay_small() {
        for (k, s, dil, pad) in [(3, 1, 1, 1), (3, 2, 1, 1), (5, 2, 2, 3), (7, 4, 1, 3), (2, 1, 1, 0), (9, 1, 1, 0)] {
            for extent in [1usize, 5, 64, 1000, 1 << 21] {
                let span = (k - 1) * dil + 1;
                if extent + 2 * pad < span {
                    continue;
                }
                let out = (extent + 2 * pad - span) / s + 1;
                let ax = axis_taps(extent, out, k, s, dil, pad, None);
                assert!(ax.clipped, "k{k} s{s} d{dil} p{pad} e{extent}");
                assert!(
                    ax.k0.terms() <= 2 * k + 4 && ax.n.terms() <= 2 * k + 4,
                    "k{k} s{s} e{extent}: {:?} {:?}",
                    ax.k0,
                    ax.n
                );
                for v in [0, 1, extent / 2, extent - 1] {
                    let (first, n) = valid_run(v.min(extent - 1) + pad, k, s, dil, out);
                    assert_eq!((ax.k0.at(v), ax.n.at(v)), if n == 0 { (0, 1) } else { (first, n) });
                }
            }
        }
        // A kernel of a million taps over two million inputs: its counts ramp at both borders,
        // too many terms for a table, so that axis keeps the whole kernel (in closed form per
        // coordinate; a scan over the kernel would take 2^41 steps here).
        let ax = axis_taps(1 << 21, (1 << 21) - (1 << 20) + 1, 1 << 20, 1, 1, 0, None);
        assert!(!ax.clipped && ax.range == (1 << 20, 1 << 20));
        // A table without structure is not clipped.
        assert!(Pattern::of(1000, TABLE_TERMS, |v| (v * 7919 % 13) % 3).is_none());
    }
}
