//! Accumulation kernels of the fast path that read a source layer's fired flags directly
//! (no event list). They compute the same integer sums as the per-event scatter in another
//! order, and run only on non-saturating layers, where range analysis makes the order
//! irrelevant; each returns what the counters need (the valid kernel taps or candidates).

use super::types::{ConvGeo, Scratch, TapTable};
use super::word::Word;

/// Output positions one step of the packed convolution handles together (each weight word
/// loaded is used for all of them).
const TILE: usize = 4;

/// Packs one sample's spikes (fired flags, C x H x W) into channel words per input position
/// (`scratch.inmap`, `words` per position) and counts them per position (`scratch.cnt`).
/// Returns the valid kernel taps of all spikes (`taps_at` per position).
#[inline(always)]
pub(super) fn conv_inmap(f: &[u8], ci: usize, words: usize, taps_at: &[u32], scratch: &mut Scratch) -> u64 {
    let npos = taps_at.len();
    let Scratch { inmap, cnt, .. } = scratch;
    inmap.clear();
    inmap.resize(npos * words, 0);
    cnt.clear();
    cnt.resize(npos, 0);
    for c in 0..ci {
        let plane = &f[c * npos..(c + 1) * npos];
        let (wd, b) = (c / 64, c % 64);
        if words == 1 {
            // Contiguous words: the loop vectorises.
            for ((m, n), &v) in inmap.iter_mut().zip(cnt.iter_mut()).zip(plane) {
                *m |= u64::from(v) << b;
                *n += i64::from(v);
            }
            continue;
        }
        for (p, &v) in plane.iter().enumerate() {
            inmap[p * words + wd] |= u64::from(v) << b;
            cnt[p] += i64::from(v);
        }
    }
    cnt.iter().zip(taps_at).map(|(&n, &t)| n as u64 * u64::from(t)).sum()
}

/// Packed binary convolution from `scratch.inmap`/`scratch.cnt` ([`conv_inmap`]): every
/// output gathers `2*popcount(in & w+) - |in|` over its taps; `pos` holds the +1 weights as
/// [tap][word][output channel]. [`TILE`] output positions of a row share each weight word.
#[inline(always)]
pub(super) fn conv_packed(g: &ConvGeo, pos: &[u64], words: usize, shift: u32, dst: &mut [i64], scratch: &mut Scratch) {
    let co = g.co;
    let plane = g.oh * g.ow;
    let Scratch { inmap, cnt, acc, res, .. } = scratch;
    acc.clear();
    acc.resize(TILE * co, 0);
    res.clear();
    res.resize(plane * co, 0);
    for oy in 0..g.oh {
        for ox0 in (0..g.ow).step_by(TILE) {
            let np = TILE.min(g.ow - ox0);
            acc.iter_mut().for_each(|a| *a = 0);
            let mut total = [0i64; TILE];
            for ky in 0..g.kh {
                let iy = (oy * g.stride[0] + ky * g.dil[0]) as isize - g.pad[0] as isize;
                if iy < 0 || iy as usize >= g.ih {
                    continue;
                }
                for kx in 0..g.kw {
                    // The input position each output of the tile reads through this tap.
                    let mut at = [usize::MAX; TILE];
                    let mut any = false;
                    for (q, a) in at.iter_mut().enumerate().take(np) {
                        let ix = ((ox0 + q) * g.stride[1] + kx * g.dil[1]) as isize - g.pad[1] as isize;
                        if ix >= 0 && (ix as usize) < g.iw {
                            let p = iy as usize * g.iw + ix as usize;
                            if cnt[p] > 0 {
                                *a = p;
                                total[q] += cnt[p];
                                any = true;
                            }
                        }
                    }
                    if !any {
                        continue;
                    }
                    let tap = ky * g.kw + kx;
                    for wd in 0..words {
                        let m: [u64; TILE] =
                            std::array::from_fn(|q| if at[q] == usize::MAX { 0 } else { inmap[at[q] * words + wd] });
                        if m.iter().all(|&v| v == 0) {
                            continue;
                        }
                        let wrow = &pos[(tap * words + wd) * co..(tap * words + wd + 1) * co];
                        let (a0, rest) = acc.split_at_mut(co);
                        let (a1, rest) = rest.split_at_mut(co);
                        let (a2, a3) = rest.split_at_mut(co);
                        for o in 0..co {
                            let w = wrow[o];
                            a0[o] += u64::from((m[0] & w).count_ones());
                            a1[o] += u64::from((m[1] & w).count_ones());
                            a2[o] += u64::from((m[2] & w).count_ones());
                            a3[o] += u64::from((m[3] & w).count_ones());
                        }
                    }
                }
            }
            for q in 0..np {
                if total[q] > 0 {
                    let o0 = oy * g.ow + ox0 + q;
                    for (r, a) in res[o0 * co..(o0 + 1) * co].iter_mut().zip(&acc[q * co..(q + 1) * co]) {
                        *r = (2 * *a as i64 - total[q]) << shift;
                    }
                }
            }
        }
    }
    add_position_major(res, plane, co, dst);
}

/// Most 64-bit words of a window in [`conv_window`].
pub(super) const WINDOW_WORDS: usize = 8;

/// Packed binary convolution for fewer than 64 input channels, from `scratch.inmap`/`cnt`
/// ([`conv_inmap`], one word per position): each output position gathers the channel bits
/// of all its taps into one window (bit `tap * ci + c`), then every output channel is
/// `2*popcount(window & w+) - |in|` over the window's words (`win` as [word][channel]).
#[inline(always)]
pub(super) fn conv_window(g: &ConvGeo, ci: usize, win: &[u64], shift: u32, dst: &mut [i64], scratch: &mut Scratch) {
    match win.len() / g.co {
        1 => conv_window_n::<1>(g, ci, win, shift, dst, scratch),
        2 => conv_window_n::<2>(g, ci, win, shift, dst, scratch),
        3 => conv_window_n::<3>(g, ci, win, shift, dst, scratch),
        4 => conv_window_n::<4>(g, ci, win, shift, dst, scratch),
        5 => conv_window_n::<5>(g, ci, win, shift, dst, scratch),
        6 => conv_window_n::<6>(g, ci, win, shift, dst, scratch),
        7 => conv_window_n::<7>(g, ci, win, shift, dst, scratch),
        _ => conv_window_n::<WINDOW_WORDS>(g, ci, win, shift, dst, scratch),
    }
}

#[inline(always)]
fn conv_window_n<const W: usize>(
    g: &ConvGeo,
    ci: usize,
    win: &[u64],
    shift: u32,
    dst: &mut [i64],
    scratch: &mut Scratch,
) {
    let co = g.co;
    let plane = g.oh * g.ow;
    let Scratch { inmap, cnt, acc, res, .. } = scratch;
    acc.clear();
    acc.resize(co, 0);
    res.clear();
    res.resize(plane * co, 0);
    for oy in 0..g.oh {
        for ox in 0..g.ow {
            let mut w = [0u64; W];
            let mut total = 0i64;
            let mut put = |p: usize, tap: usize| {
                let m = inmap[p];
                total += cnt[p];
                let b = tap * ci;
                w[b / 64] |= m << (b % 64);
                if b % 64 + ci > 64 {
                    w[b / 64 + 1] |= m >> (64 - b % 64);
                }
            };
            let (y0, x0) = (oy * g.stride[0], ox * g.stride[1]);
            let inside = y0 >= g.pad[0]
                && x0 >= g.pad[1]
                && y0 - g.pad[0] + (g.kh - 1) * g.dil[0] < g.ih
                && x0 - g.pad[1] + (g.kw - 1) * g.dil[1] < g.iw;
            if inside {
                // Every tap of the window is inside the input: no bounds to check.
                let base = (y0 - g.pad[0]) * g.iw + x0 - g.pad[1];
                for ky in 0..g.kh {
                    for kx in 0..g.kw {
                        put(base + ky * g.dil[0] * g.iw + kx * g.dil[1], ky * g.kw + kx);
                    }
                }
            } else {
                for ky in 0..g.kh {
                    let iy = (y0 + ky * g.dil[0]) as isize - g.pad[0] as isize;
                    if iy < 0 || iy as usize >= g.ih {
                        continue;
                    }
                    for kx in 0..g.kw {
                        let ix = (x0 + kx * g.dil[1]) as isize - g.pad[1] as isize;
                        if ix < 0 || ix as usize >= g.iw {
                            continue;
                        }
                        put(iy as usize * g.iw + ix as usize, ky * g.kw + kx);
                    }
                }
            }
            if total == 0 {
                continue;
            }
            let o0 = oy * g.ow + ox;
            let out = &mut res[o0 * co..(o0 + 1) * co];
            // Blocks of 8 output channels whose counts stay in one vector register.
            let blocks = co / 8;
            for cb in 0..blocks {
                let mut a = [0u64; 8];
                for (wd, &m) in w.iter().enumerate() {
                    let wo = &win[wd * co + cb * 8..][..8];
                    for j in 0..8 {
                        a[j] += u64::from((m & wo[j]).count_ones());
                    }
                }
                for (r, &a) in out[cb * 8..cb * 8 + 8].iter_mut().zip(&a) {
                    *r = (2 * a as i64 - total) << shift;
                }
            }
            if blocks * 8 < co {
                acc.iter_mut().for_each(|a| *a = 0);
                for (wd, &m) in w.iter().enumerate() {
                    for (a, &wo) in acc[blocks * 8..].iter_mut().zip(&win[wd * co + blocks * 8..(wd + 1) * co]) {
                        *a += u64::from((m & wo).count_ones());
                    }
                }
                for (r, &a) in out[blocks * 8..].iter_mut().zip(&acc[blocks * 8..]) {
                    *r = (2 * a as i64 - total) << shift;
                }
            }
        }
    }
    add_position_major(res, plane, co, dst);
}

/// Binary convolution event by event from fired flags: every spike adds its +-1 weights
/// (`w16` as [input channel][tap][output channel]) into a position-major i16 accumulator;
/// `|sum| <= ci * taps` fits i16 (checked when the plan is prepared). Returns the valid taps.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) fn conv_events16(
    f: &[u8],
    g: &ConvGeo,
    ci: usize,
    w16: &[i16],
    table: &TapTable,
    shift: u32,
    dst: &mut [i64],
    scratch: &mut Scratch,
) -> u64 {
    let co = g.co;
    let plane = g.oh * g.ow;
    let npos = g.ih * g.iw;
    let taps = g.kh * g.kw;
    let acc = &mut scratch.acc16;
    acc.clear();
    acc.resize(plane * co, 0);
    let mut valid = 0u64;
    for c in 0..ci {
        let fp = &f[c * npos..(c + 1) * npos];
        let mut eights = fp.chunks_exact(8);
        let mut base = 0;
        let wc = &w16[c * taps * co..(c + 1) * taps * co];
        let mut visit = |p: usize, acc: &mut [i16]| {
            let hits = table.at(p);
            valid += hits.len() as u64;
            for &(tap, op) in hits {
                let w = &wc[tap as usize * co..][..co];
                let a = &mut acc[op as usize * co..][..co];
                for (a, &w) in a.iter_mut().zip(w) {
                    *a = a.wrapping_add(w);
                }
            }
        };
        for b in eights.by_ref() {
            let mut v = u64::from_le_bytes(b.try_into().expect("8 bytes"));
            while v != 0 {
                let j = v.trailing_zeros() as usize / 8;
                visit(base + j, acc);
                v &= !(0xff << (8 * j));
            }
            base += 8;
        }
        for (j, &b) in eights.remainder().iter().enumerate() {
            if b != 0 {
                visit(base + j, acc);
            }
        }
    }
    // Blocked transpose-add into the channel-major state.
    for p0 in (0..plane).step_by(16) {
        let p1 = (p0 + 16).min(plane);
        for o in 0..co {
            for (k, d) in dst[o * plane + p0..o * plane + p1].iter_mut().enumerate() {
                *d += i64::from(acc[(p0 + k) * co + o]) << shift;
            }
        }
    }
    valid
}

/// Adds a position-major result (`plane` positions x `co` channels) into the channel-major
/// state, 16 positions at a time so that both sides stay in cache.
#[inline(always)]
pub(super) fn add_position_major(res: &[i64], plane: usize, co: usize, dst: &mut [i64]) {
    for p0 in (0..plane).step_by(16) {
        let p1 = (p0 + 16).min(plane);
        for o in 0..co {
            for (k, d) in dst[o * plane + p0..o * plane + p1].iter_mut().enumerate() {
                *d += res[(p0 + k) * co + o];
            }
        }
    }
}

/// One-to-one projection from fired flags (0/1): `dst[i] += (w[i] * f[i]) << shift`, as a
/// mask of the shifted weight.
#[inline(always)]
pub(super) fn one_to_one<T: Word>(f: &[u8], w: &[i64], shift: u32, dst: &mut [T]) {
    for ((d, &v), &w) in dst.iter_mut().zip(f).zip(w) {
        *d = d.add(T::of(w << shift).and(T::of(-i64::from(v))));
    }
}

#[cfg(test)]
mod tests {
    use super::super::packed::tests::lcg;
    use super::*;

    /// Every flag-reading convolution kernel equals the per-event sums (binary weights, random
    /// spikes at several densities, strides, padding, dilation, fewer and more than 64
    /// channels).
    #[test]
    fn flag_kernels_equal_per_event_sums() {
        let mut r = 5u64;
        for &(ci, co, ih, k, s, pad, dil) in &[
            (3usize, 5usize, 7usize, 3usize, 1usize, 1usize, 1usize),
            (16, 16, 8, 3, 1, 1, 1),
            (70, 4, 6, 3, 2, 1, 1),
            (8, 3, 9, 2, 1, 0, 2),
            (40, 6, 5, 1, 2, 0, 1),
            (130, 9, 4, 3, 1, 1, 1),
            (12, 11, 6, 3, 1, 1, 1),
            (20, 24, 5, 3, 2, 1, 1),
        ] {
            let oh = (ih + 2 * pad - dil * (k - 1) - 1) / s + 1;
            let g =
                ConvGeo { ih, iw: ih, kh: k, kw: k, stride: [s, s], pad: [pad, pad], dil: [dil, dil], co, oh, ow: oh };
            let taps = k * k;
            let w: Vec<i64> = (0..co * ci * taps).map(|_| if lcg(&mut r).is_multiple_of(2) { 1 } else { -1 }).collect();
            let words = ci.div_ceil(64);
            let mut pos = vec![0u64; taps * words * co];
            let mut w16 = vec![0i16; w.len()];
            let ww = (taps * ci).div_ceil(64);
            let mut win = vec![0u64; ww * co];
            for o in 0..co {
                for c in 0..ci {
                    for tap in 0..taps {
                        let v = w[(o * ci + c) * taps + tap];
                        w16[(c * taps + tap) * co + o] = v as i16;
                        if v > 0 {
                            pos[(tap * words + c / 64) * co + o] |= 1 << (c % 64);
                            let b = tap * ci + c;
                            win[(b / 64) * co + o] |= 1 << (b % 64);
                        }
                    }
                }
            }
            let table = TapTable::new(&g).unwrap();
            for density in [2u64, 4, 20] {
                let f: Vec<u8> = (0..ci * ih * ih).map(|_| u8::from(lcg(&mut r).is_multiple_of(density))).collect();
                let mut slow = vec![3i64; co * oh * oh];
                let mut hits = 0u64;
                for (e, _) in f.iter().enumerate().filter(|&(_, &v)| v == 1) {
                    let (c, y, x) = (e / (ih * ih), (e / ih) % ih, e % ih);
                    for ky in 0..k {
                        for kx in 0..k {
                            if let (Some(oy), Some(ox)) = (g.target(0, y, ky), g.target(1, x, kx)) {
                                hits += 1;
                                for o in 0..co {
                                    slow[(o * oh + oy) * oh + ox] += w[((o * ci + c) * k + ky) * k + kx] << 2;
                                }
                            }
                        }
                    }
                }
                let ctx = format!("ci {ci} co {co} ih {ih} k {k} s {s} pad {pad} dil {dil} density 1/{density}");
                let mut sc = Scratch::default();
                let mut packed = vec![3i64; co * oh * oh];
                let valid = conv_inmap(&f, ci, words, &table.counts(), &mut sc);
                conv_packed(&g, &pos, words, 2, &mut packed, &mut sc);
                assert_eq!(packed, slow, "packed, {ctx}");
                assert_eq!(valid, hits, "{ctx}");
                let mut events = vec![3i64; co * oh * oh];
                assert_eq!(conv_events16(&f, &g, ci, &w16, &table, 2, &mut events, &mut sc), hits, "{ctx}");
                assert_eq!(events, slow, "per event, {ctx}");
                if ci < 64 && ww <= WINDOW_WORDS {
                    let mut window = vec![3i64; co * oh * oh];
                    conv_inmap(&f, ci, words, &table.counts(), &mut sc);
                    conv_window(&g, ci, &win, 2, &mut window, &mut sc);
                    assert_eq!(window, slow, "window, {ctx}");
                }
            }
        }
    }

    #[test]
    fn one_to_one_masks_the_shifted_weights() {
        let f = [1u8, 0, 1, 1, 0];
        let w = [3i64, -7, -2, 0, 9];
        let mut d = vec![1i64; 5];
        one_to_one(&f, &w, 3, &mut d);
        assert_eq!(d, vec![1 + 24, 1, 1 - 16, 1, 1]);
    }
}
