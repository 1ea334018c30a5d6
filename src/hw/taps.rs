//! The kernel taps an ACC phase presents for a convolution event: only those that can reach
//! a target (the window clipped at the map's borders), per axis a run `k0, k0 + step, ...,
//! k0 + (n - 1) * step` chosen by the event's source coordinate. A conv event then costs
//! `candidates x ny(y) x nx(x) x ncg` beats ([`super::schedule::event_beats`]) instead of
//! `candidates x kh x kw x ncg`, so its beats approach its synaptic operations / lanes.
//!
//! Invariant: every tap that reaches a target is presented exactly once; a presented tap that
//! reaches none (the one tap of a coordinate with no valid tap, or any tap of an axis that is
//! not clipped) is a beat with an empty lane mask, as every out-of-map tap was before.
//! An axis is clipped when the conv input coordinate is a function of the event alone (no
//! pre-pooling, or one candidate window on that axis) and every coordinate's valid taps form
//! a run with one common step; otherwise it presents all `k` taps, in order.

use super::Layer;
use crate::quant::{ProjKind, Projection};

/// One axis: per source coordinate (of the event, before any pre-pooling), the first tap
/// presented and how many (at least 1).
#[derive(Clone, Debug, PartialEq)]
pub struct AxisTaps {
    /// First tap per source coordinate.
    pub k0: Vec<usize>,
    /// Taps presented per source coordinate (>= 1).
    pub n: Vec<usize>,
    /// Distance between presented taps.
    pub step: usize,
    /// False when the axis presents all taps from 0 (k0 = 0, n = k, step = 1 everywhere).
    pub clipped: bool,
}

impl AxisTaps {
    fn full(extent: usize, k: usize) -> AxisTaps {
        AxisTaps { k0: vec![0; extent], n: vec![k; extent], step: 1, clipped: false }
    }

    /// The fewest and most taps presented at any coordinate.
    pub fn range(&self) -> (usize, usize) {
        (self.n.iter().copied().min().unwrap_or(1), self.n.iter().copied().max().unwrap_or(1))
    }
}

/// Both axes of a convolution projection.
#[derive(Clone, Debug, PartialEq)]
pub struct ConvTaps {
    /// (y, x).
    pub axes: [AxisTaps; 2],
}

impl ConvTaps {
    /// Taps presented for an event at source (y, x).
    #[inline]
    pub fn taps(&self, y: usize, x: usize) -> u64 {
        (self.axes[0].n[y] * self.axes[1].n[x]) as u64
    }
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
    // The conv input coordinate of a source coordinate: itself, or its one pooled window
    // (None outside every window: the event reaches nothing on this axis).
    let input = |v: usize| -> Option<usize> {
        match pool {
            None => Some(v),
            Some((pk, ps, pp, po)) => {
                let vp = v + pp;
                let o = vp / ps;
                (o < po && vp - o * ps < pk).then_some(o)
            }
        }
    };
    if pool.is_some_and(|(pk, ps, _, _)| pk.div_ceil(ps) != 1) {
        return AxisTaps::full(extent, k);
    }
    let valid = |a: usize, kk: usize| {
        let off = kk * dil;
        a >= off && (a - off).is_multiple_of(stride) && (a - off) / stride < out
    };
    let mut ax = AxisTaps { k0: vec![0; extent], n: vec![1; extent], step: 0, clipped: true };
    for v in 0..extent {
        let Some(i) = input(v) else { continue };
        let a = i + pad;
        let taps: Vec<usize> = (0..k).filter(|&kk| valid(a, kk)).collect();
        let Some(&first) = taps.first() else { continue };
        if taps.len() >= 2 {
            let st = taps[1] - first;
            if ax.step != 0 && ax.step != st || taps.iter().enumerate().any(|(i, &t)| t != first + i * st) {
                return AxisTaps::full(extent, k);
            }
            ax.step = st;
        }
        ax.k0[v] = first;
        ax.n[v] = taps.len();
    }
    ax.step = ax.step.max(1);
    ax
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_valid(a: usize, t: usize, s: usize, dil: usize, out: usize) -> bool {
        let off = t * dil;
        a >= off && (a - off).is_multiple_of(s) && (a - off) / s < out
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
                                    let pres: Vec<usize> = (0..ax.n[v]).map(|i| ax.k0[v] + i * ax.step).collect();
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
                                        assert_eq!(ax.n[v], nvalid.max(1), "{at}");
                                        let mut sorted = pres.clone();
                                        sorted.dedup();
                                        assert_eq!(sorted.len(), pres.len(), "{at}");
                                    } else {
                                        assert_eq!(pres, (0..k).collect::<Vec<_>>(), "{at}");
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        println!("{geometries} axis geometries, {clipped} clipped");
        assert!(clipped > 1000, "the sweep clips most axes ({clipped})");
    }
}
