//! Packed kernels of the fast path that read event lists and bit planes: binary dense
//! projections as popcounts over sign-magnitude bit planes of their inputs, and convolutions
//! event by event into a position-major accumulator or as popcounts over packed input
//! channels. They compute the per-event scatter's integer sums in another order, so they run
//! only where order cannot matter (non-saturating layers, see [`super::types::Fast`]).

use crate::quant::WeightValues;

use super::types::{ConvGeo, Event, Scratch, TapTable};
use super::word::Word;

/// The +1 weights of `rows` rows of `n` values (`w`, row-major) as bitsets of `words` words
/// per row (bit j of a row: its column j is positive); packed signs are copied 64 at a time.
pub(super) fn bits_of(w: &WeightValues, n: usize, words: usize, rows: usize) -> Vec<u64> {
    let mut v = vec![0u64; rows * words];
    for (r, bits) in v.chunks_exact_mut(words).enumerate() {
        for (wi, word) in bits.iter_mut().enumerate() {
            let (start, len) = (r * n + wi * 64, 64.min(n - wi * 64));
            *word = match w {
                WeightValues::Signs { words: signs, .. } => {
                    let (at, off) = (start / 64, start % 64);
                    let lo = signs[at] >> off;
                    let hi = if off > 0 { signs.get(at + 1).map_or(0, |h| h << (64 - off)) } else { 0 };
                    (lo | hi) & (u64::MAX >> (64 - len))
                }
                WeightValues::Ints(vals) => {
                    vals[start..start + len].iter().enumerate().fold(0, |a, (bit, &x)| a | (u64::from(x > 0) << bit))
                }
            };
        }
    }
    v
}

/// The sign-magnitude bit planes of input events for [`dense_planes`]: plane `2*b + (v < 0)`
/// (`words` words) holds the inputs whose |value| has bit b set, for the `nb` bits the
/// largest magnitude needs; returns `nb`. Built without branches.
#[inline(always)]
pub(super) fn planes_of(events: &[Event], (sh, sw): (usize, usize), words: usize, planes: &mut Vec<u64>) -> usize {
    let nb = 64 - events.iter().fold(0u64, |m, e| m | e.3.unsigned_abs()).leading_zeros() as usize;
    planes.clear();
    planes.resize(2 * nb * words, 0);
    for &(c, yy, xx, v) in events {
        let j = (c * sh + yy) * sw + xx;
        let (wd, bit) = (j / 64, 1u64 << (j % 64));
        let neg = usize::from(v < 0);
        let mag = v.unsigned_abs();
        for b in 0..nb {
            planes[(2 * b + neg) * words + wd] |= bit & 0u64.wrapping_sub((mag >> b) & 1);
        }
    }
    nb
}

/// [`planes_of`] from every input's value (`q`, C order; the input's own layout), with no
/// event list. Magnitudes below 256 go through bytes (`bytes`, scratch): a plane's eight bits
/// of eight values are one multiplication; larger ones one pass over the values per bit.
#[inline(always)]
pub(super) fn planes_of_values(q: &[i64], words: usize, planes: &mut Vec<u64>, bytes: &mut Vec<u8>) -> usize {
    let nb = 64 - q.iter().fold(0u64, |m, v| m | v.unsigned_abs()).leading_zeros() as usize;
    planes.clear();
    planes.resize(2 * nb * words, 0);
    if nb <= 8 {
        // Magnitudes of the positive values, then of the negative ones, each padded to whole
        // words with zeros.
        let half = words * 64;
        bytes.clear();
        bytes.resize(2 * half, 0);
        let (plus, minus) = bytes.split_at_mut(half);
        for ((p, m), &v) in plus.iter_mut().zip(minus.iter_mut()).zip(q) {
            let mag = v.unsigned_abs() as u8;
            *p = if v > 0 { mag } else { 0 };
            *m = if v < 0 { mag } else { 0 };
        }
        let any_neg = q.iter().any(|&v| v < 0);
        for (sign, half) in [plus, minus].into_iter().enumerate() {
            if sign == 1 && !any_neg {
                break;
            }
            for (wd, chunk) in half.chunks_exact(64).enumerate() {
                let eights: [u64; 8] =
                    std::array::from_fn(|i| u64::from_le_bytes(chunk[8 * i..8 * i + 8].try_into().expect("8 bytes")));
                for b in 0..nb {
                    let mut word = 0u64;
                    for (i, &e) in eights.iter().enumerate() {
                        // Bit b of byte j of `e` lands on bit 56 + j; no two products overlap
                        // or carry.
                        let lows = (e >> b) & 0x0101_0101_0101_0101;
                        word |= (lows.wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * i);
                    }
                    planes[(2 * b + sign) * words + wd] = word;
                }
            }
        }
        return nb;
    }
    for (wd, chunk) in q.chunks(64).enumerate() {
        for b in 0..nb {
            let (mut plus, mut minus) = (0u64, 0u64);
            for (j, &v) in chunk.iter().enumerate() {
                let bit = ((v.unsigned_abs() >> b) & 1) << j;
                let neg = 0u64.wrapping_sub(u64::from(v < 0));
                plus |= bit & !neg;
                minus |= bit & neg;
            }
            planes[2 * b * words + wd] = plus;
            planes[(2 * b + 1) * words + wd] = minus;
        }
    }
    nb
}

/// Packed binary dense accumulation of bit planes ([`planes_of`]): per output row i,
/// `sum_j sign_ij * x_j`, plane by plane: (+-2^b) * (2*popcount - total) << shift is the
/// plane's sum shifted by b + shift, negated for negative values (two's complement, mod 2^64).
#[inline(always)]
pub(super) fn dense_planes<T: Word>(planes: &[u64], nb: usize, pos: &[u64], words: usize, shift: u32, dst: &mut [T]) {
    for pl in 0..2 * nb {
        let bits = &planes[pl * words..(pl + 1) * words];
        let total: i64 = bits.iter().map(|w| i64::from(w.count_ones())).sum();
        let sh = shift as usize + pl / 2;
        // A term shifted by the word's bits or more is 0 mod 2^bits: skipping it is exact.
        if total == 0 || sh >= T::BITS as usize {
            continue;
        }
        dense_bits_signed(bits, total, pos, words, sh as u32, pl % 2 == 1, dst);
    }
}

/// Binary dense accumulation of spikes given as a bitset over the columns (`total` set
/// bits): `2*popcount(row & in) - |in|` per row.
#[inline(always)]
pub(super) fn dense_bits<T: Word>(bits: &[u64], total: i64, pos: &[u64], words: usize, shift: u32, dst: &mut [T]) {
    dense_bits_signed(bits, total, pos, words, shift, false, dst)
}

/// [`dense_bits`], the sums negated when `neg`.
#[inline(always)]
fn dense_bits_signed<T: Word>(
    bits: &[u64],
    total: i64,
    pos: &[u64],
    words: usize,
    shift: u32,
    neg: bool,
    dst: &mut [T],
) {
    macro_rules! rows {
        ($w:literal) => {
            if neg {
                dense_bits_n::<$w, true, T>(bits, total, pos, shift, dst)
            } else {
                dense_bits_n::<$w, false, T>(bits, total, pos, shift, dst)
            }
        };
    }
    match words {
        1 => rows!(1),
        2 => rows!(2),
        3 => rows!(3),
        4 => rows!(4),
        _ => {
            let bits = &bits[..words];
            let t = T::of(total);
            for (d, row) in dst.iter_mut().zip(pos.chunks_exact(words)) {
                let pc: i64 = row.iter().zip(bits).map(|(a, b)| (a & b).count_ones() as i64).sum();
                let v = T::of(2 * pc).sub(t).shl(shift);
                *d = if neg { d.sub(v) } else { d.add(v) };
            }
        }
    }
}

/// [`dense_bits_signed`] for rows of `W` words.
#[inline(always)]
fn dense_bits_n<const W: usize, const NEG: bool, T: Word>(
    bits: &[u64],
    total: i64,
    pos: &[u64],
    shift: u32,
    dst: &mut [T],
) {
    let bits: &[u64; W] = bits[..W].try_into().expect("W words");
    let t = T::of(total);
    for (d, row) in dst.iter_mut().zip(pos.chunks_exact(W)) {
        let mut pc = 0u32;
        for w in 0..W {
            pc += (row[w] & bits[w]).count_ones();
        }
        let v = T::of(2 * i64::from(pc)).sub(t).shl(shift);
        *d = if NEG { d.sub(v) } else { d.add(v) };
    }
}

/// Convolution event by event into a position-major accumulator (each tap adds one
/// contiguous run of output channels), then added into `dst`, which is channel-major. Only
/// for non-saturating layers: the sums are the per-event path's, in another order, which
/// range analysis makes irrelevant. Returns the valid taps (for the counters).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(super) fn conv_cols(
    events: &[Event],
    g: &ConvGeo,
    ci_g: usize,
    co_g: usize,
    wt: &[impl Copy + Into<i64>],
    table: &TapTable,
    shift: u32,
    dst: &mut [i64],
    scratch: &mut Scratch,
) -> u64 {
    let pix = g.oh * g.ow;
    let taps = g.kh * g.kw;
    let acc = &mut scratch.res;
    acc.clear();
    acc.resize(pix * g.co, 0);
    let mut valid = 0u64;
    for &(c, yy, xx, val) in events {
        let grp = c / ci_g;
        let hits = table.at(yy * g.iw + xx);
        valid += hits.len() as u64;
        for &(tap, op) in hits {
            let w = &wt[(c * taps + tap as usize) * co_g..][..co_g];
            let a = &mut acc[op as usize * g.co + grp * co_g..][..co_g];
            if val == 1 {
                for (a, &w) in a.iter_mut().zip(w) {
                    *a += w.into();
                }
            } else {
                for (a, &w) in a.iter_mut().zip(w) {
                    *a += w.into() * val;
                }
            }
        }
    }
    // Blocked transpose-add, as in conv_binary.
    for p0 in (0..pix).step_by(16) {
        let p1 = (p0 + 16).min(pix);
        for o in 0..g.co {
            for (k, d) in dst[o * pix + p0..o * pix + p1].iter_mut().enumerate() {
                *d += acc[(p0 + k) * g.co + o] << shift;
            }
        }
    }
    valid
}

/// Packed binary convolution from spikes: input spikes packed over channels per position,
/// weights packed per (tap, output channel); every output gathers `2*popcount(in & w+) - |in|`
/// over its taps.
#[inline(always)]
pub(super) fn conv_binary(
    events: &[Event],
    g: &ConvGeo,
    pos: &[u64],
    words: usize,
    shift: u32,
    dst: &mut [i64],
    scratch: &mut Scratch,
) {
    conv_binary_body(events, g, pos, words, shift, dst, scratch)
}

#[inline(always)]
fn conv_binary_body(
    events: &[Event],
    g: &ConvGeo,
    pos: &[u64],
    words: usize,
    shift: u32,
    dst: &mut [i64],
    scratch: &mut Scratch,
) {
    let npos = g.ih * g.iw;
    let Scratch { inmap, cnt, acc, res, .. } = scratch;
    inmap.clear();
    inmap.resize(npos * words, 0);
    cnt.clear();
    cnt.resize(npos, 0);
    for &(c, yy, xx, _) in events {
        let p = yy * g.iw + xx;
        inmap[p * words + c / 64] |= 1 << (c % 64);
        cnt[p] += 1;
    }
    let co = g.co;
    acc.clear();
    acc.resize(co, 0);
    let plane = g.oh * g.ow;
    // Results position-major first (contiguous writes), added to the channel-major state once.
    res.clear();
    res.resize(plane * co, 0);
    for oy in 0..g.oh {
        for ox in 0..g.ow {
            acc.iter_mut().for_each(|a| *a = 0);
            let mut total = 0i64;
            for ky in 0..g.kh {
                // Input row reaching (oy, ox) through tap ky: iy = oy*s + ky*d - pad.
                let iy = (oy * g.stride[0] + ky * g.dil[0]) as isize - g.pad[0] as isize;
                if iy < 0 || iy as usize >= g.ih {
                    continue;
                }
                for kx in 0..g.kw {
                    let ix = (ox * g.stride[1] + kx * g.dil[1]) as isize - g.pad[1] as isize;
                    if ix < 0 || ix as usize >= g.iw {
                        continue;
                    }
                    let p = iy as usize * g.iw + ix as usize;
                    if cnt[p] == 0 {
                        continue;
                    }
                    total += cnt[p];
                    let tap = ky * g.kw + kx;
                    for wd in 0..words {
                        let m = inmap[p * words + wd];
                        if m == 0 {
                            continue;
                        }
                        let wrow = &pos[(tap * words + wd) * co..(tap * words + wd + 1) * co];
                        for (a, w) in acc.iter_mut().zip(wrow) {
                            *a += u64::from((m & w).count_ones());
                        }
                    }
                }
            }
            if total > 0 {
                let o0 = oy * g.ow + ox;
                for (r, a) in res[o0 * co..(o0 + 1) * co].iter_mut().zip(acc.iter()) {
                    *r = (2 * *a as i64 - total) << shift;
                }
            }
        }
    }
    // Blocked transpose-add: 16 positions at a time keep both sides in cache.
    for p0 in (0..plane).step_by(16) {
        let p1 = (p0 + 16).min(plane);
        for o in 0..co {
            let d = &mut dst[o * plane + p0..o * plane + p1];
            for (k, v) in d.iter_mut().enumerate() {
                *v += res[(p0 + k) * co + o];
            }
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A small deterministic generator (tests only; the kernel tests use it too).
    pub(in crate::sim::cycle) fn lcg(seed: &mut u64) -> u64 {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        *seed >> 33
    }

    #[test]
    fn packed_dense_equals_per_event_sums() {
        let mut r = 7u64;
        for &(cols, n) in &[(70usize, 9usize), (130, 33), (64, 1), (200, 7), (300, 5), (9, 5)] {
            let w: Vec<i64> = (0..n * cols).map(|_| if lcg(&mut r).is_multiple_of(2) { 1 } else { -1 }).collect();
            let words = cols.div_ceil(64);
            let pos = bits_of(&WeightValues::new(w.clone()), cols, words, n);
            for vals in [vec![1i64], vec![1, 3, 17, 255], vec![-5, 7, -128, 1]] {
                let mut events: Vec<Event> = vec![];
                for j in 0..cols {
                    if lcg(&mut r).is_multiple_of(3) {
                        events.push((j, 0, 0, vals[lcg(&mut r) as usize % vals.len()]));
                    }
                }
                let mut fast = vec![5i64; n];
                let mut planes = vec![];
                let nb = planes_of(&events, (1, 1), words, &mut planes);
                dense_planes(&planes, nb, &pos, words, 3, &mut fast);
                let mut slow = vec![5i64; n];
                for &(j, _, _, v) in &events {
                    for i in 0..n {
                        slow[i] += (w[i * cols + j] * v) << 3;
                    }
                }
                assert_eq!(fast, slow);
            }
        }
    }

    #[test]
    fn value_planes_equal_event_planes() {
        let mut r = 11u64;
        for &(n, range) in &[(64usize, 32i64), (70, 256), (200, 3), (130, 1), (5, 100_000), (129, 255), (64, 31)] {
            let q: Vec<i64> = (0..n)
                .map(|_| if lcg(&mut r).is_multiple_of(3) { 0 } else { (lcg(&mut r) as i64 % (2 * range + 1)) - range })
                .collect();
            let events: Vec<Event> =
                q.iter().enumerate().filter(|(_, v)| **v != 0).map(|(j, &v)| (j, 0, 0, v)).collect();
            let words = n.div_ceil(64);
            let (mut a, mut b) = (vec![], vec![]);
            let na = planes_of(&events, (1, 1), words, &mut a);
            let nb = planes_of_values(&q, words, &mut b, &mut vec![]);
            assert_eq!((na, a), (nb, b), "{n} values in +-{range}");
        }
    }

    #[test]
    fn column_conv_equals_per_event_sums() {
        let mut r = 13u64;
        for &(ci, co, groups, ih, k, s, pad, dil) in &[
            (3usize, 6usize, 1usize, 7usize, 3usize, 1usize, 1usize, 1usize),
            (8, 4, 2, 6, 3, 2, 1, 1),
            (4, 8, 4, 9, 2, 1, 0, 2),
        ] {
            let oh = (ih + 2 * pad - dil * (k - 1) - 1) / s + 1;
            let g =
                ConvGeo { ih, iw: ih, kh: k, kw: k, stride: [s, s], pad: [pad, pad], dil: [dil, dil], co, oh, ow: oh };
            let (ci_g, co_g, taps) = (ci / groups, co / groups, k * k);
            let w: Vec<i64> = (0..co * ci_g * taps).map(|_| lcg(&mut r) as i64 % 255 - 127).collect();
            let mut wt = vec![0i32; w.len()];
            for o in 0..co {
                for cil in 0..ci_g {
                    for tap in 0..taps {
                        wt[(((o / co_g) * ci_g + cil) * taps + tap) * co_g + o % co_g] =
                            w[(o * ci_g + cil) * taps + tap] as i32;
                    }
                }
            }
            for vals in [vec![1i64], vec![1, 3, 17, 255], vec![-5, 7, -128, 1]] {
                let mut events: Vec<Event> = vec![];
                for e in 0..ci * ih * ih {
                    if lcg(&mut r).is_multiple_of(3) {
                        events.push((e / (ih * ih), (e / ih) % ih, e % ih, vals[lcg(&mut r) as usize % vals.len()]));
                    }
                }
                let mut fast = vec![9i64; co * oh * oh];
                let valid = conv_cols(
                    &events,
                    &g,
                    ci_g,
                    co_g,
                    &wt,
                    &TapTable::new(&g).unwrap(),
                    2,
                    &mut fast,
                    &mut Scratch::default(),
                );
                let mut slow = vec![9i64; co * oh * oh];
                let mut taps_hit = 0u64;
                for &(c, y, x, v) in &events {
                    let (grp, cil) = (c / ci_g, c % ci_g);
                    for ky in 0..k {
                        for kx in 0..k {
                            if let (Some(oy), Some(ox)) = (g.target(0, y, ky), g.target(1, x, kx)) {
                                taps_hit += 1;
                                for col in 0..co_g {
                                    let o = grp * co_g + col;
                                    slow[(o * oh + oy) * oh + ox] += (w[((o * ci_g + cil) * k + ky) * k + kx] * v) << 2;
                                }
                            }
                        }
                    }
                }
                assert_eq!(fast, slow, "ci {ci} co {co} groups {groups}");
                assert_eq!(valid, taps_hit);
            }
        }
    }

    #[test]
    fn packed_conv_equals_per_event_sums() {
        let mut r = 11u64;
        for &(ci, co, ih, k, s, pad, dil) in
            &[(3usize, 5usize, 7usize, 3usize, 1usize, 1usize, 1usize), (70, 4, 6, 3, 2, 1, 1), (8, 3, 9, 2, 1, 0, 2)]
        {
            let oh = (ih + 2 * pad - dil * (k - 1) - 1) / s + 1;
            let g =
                ConvGeo { ih, iw: ih, kh: k, kw: k, stride: [s, s], pad: [pad, pad], dil: [dil, dil], co, oh, ow: oh };
            let w: Vec<i64> =
                (0..co * ci * k * k).map(|_| if lcg(&mut r).is_multiple_of(2) { 1 } else { -1 }).collect();
            let words = ci.div_ceil(64);
            let taps = k * k;
            let mut pos = vec![0u64; taps * words * co];
            for o in 0..co {
                for c in 0..ci {
                    for tap in 0..taps {
                        if w[(o * ci + c) * taps + tap] > 0 {
                            pos[(tap * words + c / 64) * co + o] |= 1 << (c % 64);
                        }
                    }
                }
            }
            let events: Vec<Event> = (0..ci * ih * ih)
                .filter(|_| lcg(&mut r).is_multiple_of(4))
                .map(|e| (e / (ih * ih), (e / ih) % ih, e % ih, 1))
                .collect();
            let mut fast = vec![0i64; co * oh * oh];
            conv_binary(&events, &g, &pos, words, 2, &mut fast, &mut Scratch::default());
            let mut slow = vec![0i64; co * oh * oh];
            for &(c, y, x, _) in &events {
                for ky in 0..k {
                    for kx in 0..k {
                        if let (Some(oy), Some(ox)) = (g.target(0, y, ky), g.target(1, x, kx)) {
                            for o in 0..co {
                                slow[(o * oh + oy) * oh + ox] += w[((o * ci + c) * k + ky) * k + kx] << 2;
                            }
                        }
                    }
                }
            }
            assert_eq!(fast, slow, "ci {ci} co {co}");
        }
    }
}
