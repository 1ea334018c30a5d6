//! The reference engine's convolution kernels. A convolution whose input is zeros and ones
//! adds the weights under its ones ([`conv_binary`], bit-identical to the product, for layers
//! with at least 64 output channels per group and depth 64); other inputs less than
//! 1/[`EVENT_FRACTION`] non-zero run event by event (taps in (ci, ky, kx) order, zero inputs
//! skipped); the remaining samples of a chunk run as one unrolled matrix product (im2col,
//! then [`product`]). Biases are added last, as PyTorch does. Each output element's
//! summation order is fixed by the layer's shape and the sample's own activity.

use super::product::{Real, depth_block, fma_kernels, product};

/// A convolution's parameters and geometry (two spatial axes; a 1-d convolution has height 1).
pub(super) struct ConvK<T> {
    /// Weights, [co][ci/groups][kh][kw].
    pub(super) w: Vec<T>,
    /// The kernels in [`tile_kernels`]' layout, for the event and 0/1 paths.
    pub(super) wt: Vec<T>,
    /// Every weight is finite (as [`conv_binary`] requires).
    pub(super) finite: bool,
    pub(super) b: Option<Vec<T>>,
    pub(super) groups: usize,
    /// Input and output channels, input and output planes.
    pub(super) ci: usize,
    pub(super) co: usize,
    pub(super) ih: usize,
    pub(super) iw: usize,
    pub(super) oh: usize,
    pub(super) ow: usize,
    /// Kernel, stride, dilation and leading padding per axis (height, width).
    pub(super) k: [usize; 2],
    pub(super) s: [usize; 2],
    pub(super) d: [usize; 2],
    pub(super) pb: [usize; 2],
}

/// Unrolled inputs kept at once by a convolution (elements); bounds the samples per product.
const COLS_MAX: usize = 1 << 18;
/// Columns (samples x output positions) a convolution's product aims for at least.
const PRODUCT_WIDTH: usize = 512;

/// Buffers a step reuses between nodes.
pub(super) struct Scratch<T> {
    vals: Vec<T>,
    bits: Vec<u64>,
}

impl<T> Default for Scratch<T> {
    fn default() -> Self {
        Scratch { vals: vec![], bits: vec![] }
    }
}

/// Convolution of `b` samples: 0/1 inputs by adding the weights of their ones, other sparse
/// inputs event by event, the rest as matrix products.
#[inline(always)]
pub(super) fn conv_step<T: Real>(c: &ConvK<T>, b: usize, x: &[T], y: &mut [T], scratch: &mut Scratch<T>) {
    let kk = c.ci / c.groups * c.k[0] * c.k[1];
    let pix = c.oh * c.ow;
    let (wi, wo) = (c.ci * c.ih * c.iw, c.co * pix);
    // The gather forms the product's exact sums only where the product is `product`'s own.
    let gather = c.finite && fma_kernels() && kk >= GATHER_DEPTH_MIN && c.co / c.groups >= GATHER_TILE;
    let mut dense = Vec::with_capacity(b);
    let mut binary = Vec::with_capacity(b);
    for s in 0..b {
        let xs = &x[s * wi..(s + 1) * wi];
        let (mut ones, mut zero_one) = (0usize, true);
        for &v in xs {
            ones += (v != T::ZERO) as usize;
            zero_one &= v == T::ZERO || v == T::ONE;
        }
        if gather && zero_one && ones * BINARY_DENOM < wi * BINARY_NUM {
            binary.push(s);
        } else if ones * EVENT_FRACTION < wi {
            conv_events(c, xs, &mut y[s * wo..(s + 1) * wo], &mut scratch.vals);
        } else {
            dense.push(s);
        }
    }
    // Samples together, so that each word's weights are read once for all of them, up to
    // GATHER_COLUMNS columns (whose running sums then stay in L2).
    for group in binary.chunks((GATHER_COLUMNS / pix.max(1)).max(1)) {
        conv_binary(c, group, x, y, scratch);
    }
    // Enough samples per product that each packed weight panel serves at least PRODUCT_WIDTH
    // columns, and no more unrolled inputs than COLS_MAX beyond that.
    let per = (COLS_MAX / (kk * pix).max(1)).max(PRODUCT_WIDTH.div_ceil(pix.max(1))).clamp(1, dense.len().max(1));
    for group in dense.chunks(per) {
        conv_dense(c, group, x, y, &mut scratch.vals);
    }
}

/// A 0/1 convolution input with fewer than BINARY_NUM/BINARY_DENOM ones takes
/// [`conv_binary`].
const BINARY_NUM: usize = 7;
const BINARY_DENOM: usize = 10;

/// Columns (samples x positions) one [`conv_binary`] call gathers at most.
const GATHER_COLUMNS: usize = 2048;

/// Depth (taps per output) from which [`conv_binary`] beats the product (measured: a
/// 3-channel 3x3 input layer, depth 27, runs faster as a product). It also needs at least
/// one whole tile of output channels per group: with fewer, the per-tap work is too small
/// for the bit scan (16 channels measured no faster than the product).
const GATHER_DEPTH_MIN: usize = 64;

/// Output channels one pass of [`conv_binary`] keeps in registers.
const GATHER_TILE: usize = 64;

/// The output channel tiles `(first, width)` of a group's channels: GATHER_TILE wide, then
/// 32, 16, 8 and 1 for the rest. Fields: channels, channels already tiled.
struct Tiles(usize, usize);

impl Tiles {
    fn of(co_g: usize) -> Self {
        Tiles(co_g, 0)
    }
}

impl Iterator for Tiles {
    type Item = (usize, usize);
    #[inline(always)]
    fn next(&mut self) -> Option<(usize, usize)> {
        let left = self.0 - self.1;
        let w = [GATHER_TILE, 32, 16, 8, 1].into_iter().find(|&w| w <= left)?;
        self.1 += w;
        Some((self.1 - w, w))
    }
}

/// A convolution's kernels (`w_at(i)` for `i` in [co][ci/groups][kh][kw] order) for the
/// event and 0/1 paths: per group, per tile of output channels ([`Tiles`]), per input tap
/// `kk` of them, the tile's weights; so a tile's rows are one contiguous run.
pub(super) fn tile_kernels<T: Real>(co: usize, groups: usize, kk: usize, w_at: impl Fn(usize) -> T) -> Vec<T> {
    let co_g = co / groups;
    let mut wt = Vec::with_capacity(co * kk);
    for grp in 0..groups {
        for (t0, w) in Tiles::of(co_g) {
            for tap in 0..kk {
                wt.extend((0..w).map(|col| w_at((grp * co_g + t0 + col) * kk + tap)));
            }
        }
    }
    wt
}

/// Convolution of the samples `which`, whose inputs are zeros and ones, bit-identical to
/// [`conv_dense`]:
/// each output adds the weights of its taps whose input is one, in (ci, ky, kx) order and in
/// [`product`]'s depth blocks (each from zero, then added to the blocks before), then the
/// bias. Same bits because `product` sums with fused multiply-adds: `fma(w, 1, s) = s + w`,
/// and for finite `w`, `fma(w, 0, s) = s` (a sum started at +0 never becomes -0).
#[inline(always)]
fn conv_binary<T: Real>(c: &ConvK<T>, which: &[usize], x: &[T], y: &mut [T], scratch: &mut Scratch<T>) {
    let ci_g = c.ci / c.groups;
    let co_g = c.co / c.groups;
    let (kh, kw) = (c.k[0], c.k[1]);
    let kk = ci_g * kh * kw;
    let pix = c.oh * c.ow;
    let (wi, wo) = (c.ci * c.ih * c.iw, c.co * pix);
    // Columns: sample-major positions of the samples `which`.
    let ncols = which.len() * pix;
    let block = depth_block(kk);
    let nblocks = kk.div_ceil(block);
    // Words of one depth block; bit `j` of word `w` of block `blk` is tap blk*block + 64*w + j.
    let wpb = block.div_ceil(64);
    let Scratch { vals, bits } = scratch;
    vals.clear();
    vals.resize(ncols * (co_g + GATHER_TILE), T::ZERO);
    let (tot, part) = vals.split_at_mut(ncols * co_g);
    for grp in 0..c.groups {
        bits.clear();
        bits.resize(nblocks * wpb * ncols, 0);
        for (si, &smp) in which.iter().enumerate() {
            for cil in 0..ci_g {
                let plane = &x[smp * wi + (grp * ci_g + cil) * c.ih * c.iw..][..c.ih * c.iw];
                for ky in 0..kh {
                    for kx in 0..kw {
                        let k = (cil * kh + ky) * kw + kx;
                        let (blk, local) = (k / block, k % block);
                        let word = &mut bits[(blk * wpb + local / 64) * ncols + si * pix..][..pix];
                        let bit = local % 64;
                        let r = TapRange::new(c, ky, kx);
                        for oy in r.ylo..r.yhi {
                            let iy = (oy as isize * c.s[0] as isize + r.offy) as usize;
                            let src = &plane[iy * c.iw..(iy + 1) * c.iw];
                            let first = (r.lo as isize * c.s[1] as isize + r.off) as usize;
                            let dst = &mut word[oy * c.ow + r.lo..oy * c.ow + r.hi];
                            if c.s[1] == 1 {
                                for (d, &v) in dst.iter_mut().zip(&src[first..first + (r.hi - r.lo)]) {
                                    *d |= ((v != T::ZERO) as u64) << bit;
                                }
                            } else {
                                for (d, &v) in dst.iter_mut().zip(src[first..].iter().step_by(c.s[1])) {
                                    *d |= ((v != T::ZERO) as u64) << bit;
                                }
                            }
                        }
                    }
                }
            }
        }
        let wg = &c.wt[grp * kk * co_g..(grp + 1) * kk * co_g];
        for (t0, w) in Tiles::of(co_g) {
            let wtile = &wg[t0 * kk..(t0 + w) * kk];
            let tile = (t0, co_g, block, nblocks, wpb);
            match w {
                GATHER_TILE => gather_tile::<T, GATHER_TILE>(wtile, tile, bits, ncols, part, tot),
                32 => gather_tile::<T, 32>(wtile, tile, bits, ncols, part, tot),
                16 => gather_tile::<T, 16>(wtile, tile, bits, ncols, part, tot),
                8 => gather_tile::<T, 8>(wtile, tile, bits, ncols, part, tot),
                _ => gather_tile::<T, 1>(wtile, tile, bits, ncols, part, tot),
            }
        }
        for (si, &smp) in which.iter().enumerate() {
            for col in 0..co_g {
                let co = grp * co_g + col;
                let dst = &mut y[smp * wo + co * pix..][..pix];
                for (p, d) in dst.iter_mut().enumerate() {
                    // With no taps (kk = 0) `tot` keeps its zeros, the product's.
                    let v = tot[(si * pix + p) * co_g + col];
                    *d = match &c.b {
                        Some(b) => v + b[co],
                        None => v,
                    };
                }
            }
        }
    }
}

/// Output channels `t0..t0 + W` of [`conv_binary`] for each of `pix` columns into `tot`
/// (column-major, `co_g` wide); `wtile` is their kernels, `W` per tap.
#[inline(always)]
fn gather_tile<T: Real, const W: usize>(
    wtile: &[T],
    (t0, co_g, block, nblocks, wpb): (usize, usize, usize, usize, usize),
    bits: &[u64],
    pix: usize,
    part: &mut [T],
    tot: &mut [T],
) {
    // Word by word, so that a word's 64 weight rows stay in L1 while every position adds
    // its taps of the word to its running sum (kept in `part` between words).
    let part = &mut part[..pix * W];
    for blk in 0..nblocks {
        for w in 0..wpb {
            let words = &bits[(blk * wpb + w) * pix..][..pix];
            let last = w + 1 == wpb;
            for (p, &word) in words.iter().enumerate() {
                let sum: &mut [T; W] = (&mut part[p * W..(p + 1) * W]).try_into().expect("W sums");
                let mut a = if w == 0 { [T::ZERO; W] } else { *sum };
                let mut m = word;
                let base = &wtile[(blk * block + w * 64) * W..];
                while m != 0 {
                    let k = m.trailing_zeros() as usize;
                    m &= m - 1;
                    debug_assert!((k + 1) * W <= base.len());
                    // SAFETY: bits are set only for taps below kk, and wtile holds kk rows
                    // of W, so tap blk*block + w*64 + k's row lies inside `base`.
                    let row = unsafe { &*(base.as_ptr().add(k * W) as *const [T; W]) };
                    for j in 0..W {
                        a[j] += row[j];
                    }
                }
                if !last {
                    *sum = a;
                    continue;
                }
                // The block's sum, added to the blocks before.
                let dst: &mut [T; W] = (&mut tot[p * co_g + t0..][..W]).try_into().expect("W sums");
                if blk == 0 {
                    *dst = a;
                } else {
                    for j in 0..W {
                        dst[j] += a[j];
                    }
                }
            }
        }
    }
}

/// A convolution input with fewer than 1/EVENT_FRACTION non-zero values runs event by event
/// (measured on conv_bw's 16-channel layers: single-thread reference 1.87 s at 20%, 1.60 s
/// at 10%, 1.70 s with no event path at all).
pub const EVENT_FRACTION: usize = 10;

/// One sample's convolution by scattering each non-zero input into the outputs whose window
/// covers it, vectorised over output channels. Each output sums its taps in (ci, ky, kx)
/// order, skipping zero inputs, then adds the bias.
fn conv_events<T: Real>(c: &ConvK<T>, x: &[T], y: &mut [T], acc: &mut Vec<T>) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the feature the function is compiled for was detected above.
        return unsafe { conv_events_avx2(c, x, y, acc) };
    }
    conv_events_body(c, x, y, acc)
}

/// [`conv_events`] with 256-bit vectors: the same operations in the same order (Rust never
/// fuses a multiply and an add), so the same results.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn conv_events_avx2<T: Real>(c: &ConvK<T>, x: &[T], y: &mut [T], acc: &mut Vec<T>) {
    conv_events_body(c, x, y, acc)
}

#[inline(always)]
fn conv_events_body<T: Real>(c: &ConvK<T>, x: &[T], y: &mut [T], acc: &mut Vec<T>) {
    let ci_g = c.ci / c.groups;
    let co_g = c.co / c.groups;
    let kk = ci_g * c.k[0] * c.k[1];
    let pix = c.oh * c.ow;
    acc.clear();
    acc.resize(pix * c.co, T::ZERO);
    for grp in 0..c.groups {
        let wg = &c.wt[grp * kk * co_g..(grp + 1) * kk * co_g];
        for (t0, w) in Tiles::of(co_g) {
            let wtile = &wg[t0 * kk..(t0 + w) * kk];
            let at = grp * co_g + t0;
            match w {
                GATHER_TILE => events_tile::<T, GATHER_TILE>(c, x, grp, wtile, at, acc),
                32 => events_tile::<T, 32>(c, x, grp, wtile, at, acc),
                16 => events_tile::<T, 16>(c, x, grp, wtile, at, acc),
                8 => events_tile::<T, 8>(c, x, grp, wtile, at, acc),
                _ => events_tile::<T, 1>(c, x, grp, wtile, at, acc),
            }
        }
    }
    for (p, row) in acc.chunks_exact(c.co).enumerate() {
        for (co, &v) in row.iter().enumerate() {
            y[co * pix + p] = match &c.b {
                Some(b) => v + b[co],
                None => v,
            };
        }
    }
}

/// The output index whose window puts input `i` (padded by `pad`) under tap offset `off`
/// with stride `s`, if any below `n` (no division at stride 1).
#[inline(always)]
fn tap_output(i: usize, pad: usize, off: usize, s: usize, n: usize) -> Option<usize> {
    let num = (i + pad).checked_sub(off)?;
    let o = if s == 1 {
        num
    } else if num % s == 0 {
        num / s
    } else {
        return None;
    };
    (o < n).then_some(o)
}

/// Output channels `at..at + W` (of group `grp`, kernels `wtile`, W per tap) of
/// [`conv_events`], into `acc` (position-major, `co` wide).
#[inline(always)]
fn events_tile<T: Real, const W: usize>(c: &ConvK<T>, x: &[T], grp: usize, wtile: &[T], at: usize, acc: &mut [T]) {
    let ci_g = c.ci / c.groups;
    let (kh, kw) = (c.k[0], c.k[1]);
    for cil in 0..ci_g {
        let ci = grp * ci_g + cil;
        for iy in 0..c.ih {
            for ix in 0..c.iw {
                let xv = x[(ci * c.ih + iy) * c.iw + ix];
                if xv == T::ZERO {
                    continue;
                }
                for ky in 0..kh {
                    let Some(oy) = tap_output(iy, c.pb[0], ky * c.d[0], c.s[0], c.oh) else { continue };
                    for kx in 0..kw {
                        let Some(ox) = tap_output(ix, c.pb[1], kx * c.d[1], c.s[1], c.ow) else { continue };
                        let tap = (cil * kh + ky) * kw + kx;
                        let wr: &[T; W] = wtile[tap * W..(tap + 1) * W].try_into().expect("W weights");
                        let o: &mut [T; W] =
                            (&mut acc[(oy * c.ow + ox) * c.co + at..][..W]).try_into().expect("W sums");
                        for j in 0..W {
                            o[j] += wr[j] * xv;
                        }
                    }
                }
            }
        }
    }
}

/// Convolution of the samples `which` as one matrix product per group: their inputs
/// unrolled into a (ci/groups * kh * kw) x (samples * oh * ow) matrix, multiplied by the
/// group's kernels.
#[inline(always)]
fn conv_dense<T: Real>(c: &ConvK<T>, which: &[usize], x: &[T], y: &mut [T], scratch: &mut Vec<T>) {
    let ci_g = c.ci / c.groups;
    let co_g = c.co / c.groups;
    let (kh, kw) = (c.k[0], c.k[1]);
    let kk = ci_g * kh * kw;
    let pix = c.oh * c.ow;
    let (wi, wo) = (c.ci * c.ih * c.iw, c.co * pix);
    {
        let nb = which.len();
        let width = nb * pix;
        // One sample's product goes straight into its output rows; several share `prod`.
        let staged = if nb == 1 { 0 } else { co_g * width };
        // Every element is written below (unrolled inputs, then the product with beta = 0).
        if scratch.len() < kk * width + staged {
            scratch.resize(kk * width + staged, T::ZERO);
        }
        let (cols, prod) = scratch.split_at_mut(kk * width);
        for grp in 0..c.groups {
            for s in 0..nb {
                let xs = &x[which[s] * wi..(which[s] + 1) * wi];
                for cil in 0..ci_g {
                    let ci = grp * ci_g + cil;
                    let plane = &xs[ci * c.ih * c.iw..(ci + 1) * c.ih * c.iw];
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let row = &mut cols[((cil * kh + ky) * kw + kx) * width + s * pix..][..pix];
                            unroll_row(c, plane, ky, kx, row);
                        }
                    }
                }
            }
            let wg = &c.w[grp * co_g * kk..(grp + 1) * co_g * kk];
            if nb == 1 {
                let dst = &mut y[which[0] * wo + grp * co_g * pix..][..co_g * pix];
                product(co_g, kk, width, wg, (kk, 1), cols, (width, 1), dst, pix);
                if let Some(bias) = &c.b {
                    for (row, &bv) in dst.chunks_exact_mut(pix).zip(&bias[grp * co_g..]) {
                        for v in row {
                            *v += bv;
                        }
                    }
                }
                continue;
            }
            product(co_g, kk, width, wg, (kk, 1), cols, (width, 1), prod, width);
            for s in 0..nb {
                let ys = &mut y[which[s] * wo..(which[s] + 1) * wo];
                for col in 0..co_g {
                    let co = grp * co_g + col;
                    let dst = &mut ys[co * pix..(co + 1) * pix];
                    dst.copy_from_slice(&prod[col * width + s * pix..][..pix]);
                    if let Some(bias) = &c.b {
                        for v in dst.iter_mut() {
                            *v += bias[co];
                        }
                    }
                }
            }
        }
    }
}

/// The outputs whose input under tap (ky, kx) lies inside the plane: rows `ylo..yhi`,
/// columns `lo..hi`; output (oy, ox) reads input (oy*s + offy, ox*s + off).
struct TapRange {
    ylo: usize,
    yhi: usize,
    lo: usize,
    hi: usize,
    offy: isize,
    off: isize,
}

impl TapRange {
    #[inline(always)]
    fn new<T>(c: &ConvK<T>, ky: usize, kx: usize) -> Self {
        let off = (kx * c.d[1]) as isize - c.pb[1] as isize;
        let sx = c.s[1] as isize;
        let lo = if off >= 0 { 0 } else { ((-off + sx - 1) / sx) as usize }.min(c.ow);
        let hi =
            if (c.iw as isize) <= off { 0 } else { (((c.iw as isize - off + sx - 1) / sx) as usize).min(c.ow) }.max(lo);
        let offy = (ky * c.d[0]) as isize - c.pb[0] as isize;
        let sy = c.s[0] as isize;
        let ylo = if offy >= 0 { 0 } else { ((-offy + sy - 1) / sy) as usize }.min(c.oh);
        let yhi = if (c.ih as isize) <= offy { 0 } else { (((c.ih as isize - offy + sy - 1) / sy) as usize).min(c.oh) }
            .max(ylo);
        // An empty column range empties the rows too.
        let yhi = if lo == hi { ylo } else { yhi };
        TapRange { ylo, yhi, lo, hi, offy, off }
    }
}

/// One row of a convolution's unrolled input: `row[oy * ow + ox]` is the input under tap
/// (ky, kx) of output (oy, ox), zero where that falls in the padding.
#[inline(always)]
fn unroll_row<T: Real>(c: &ConvK<T>, plane: &[T], ky: usize, kx: usize, row: &mut [T]) {
    let TapRange { ylo, yhi, lo, hi, offy, off } = TapRange::new(c, ky, kx);
    let (sx, sy) = (c.s[1] as isize, c.s[0] as isize);
    let ow = c.ow;
    row[..ylo * ow].fill(T::ZERO);
    row[yhi * ow..].fill(T::ZERO);
    if ylo == yhi || lo == hi {
        row[ylo * ow..yhi * ow].fill(T::ZERO);
        return;
    }
    if sx == 1 && sy == 1 && ow == c.iw {
        // Output and input rows have the same length, so row index j reads plane index
        // j + offy*iw + off: one copy of the valid rows (their out-of-row ends read the
        // neighbouring input rows), then those ends zeroed.
        let (a, b) = (ylo * ow + lo, (yhi - 1) * ow + hi);
        let from = (a as isize + offy * c.iw as isize + off) as usize;
        row[a..b].copy_from_slice(&plane[from..from + (b - a)]);
        for oy in ylo..yhi {
            for d in &mut row[oy * ow..oy * ow + lo] {
                *d = T::ZERO;
            }
            for d in &mut row[oy * ow + hi..(oy + 1) * ow] {
                *d = T::ZERO;
            }
        }
        return;
    }
    let first = (lo as isize * sx + off) as usize;
    for oy in ylo..yhi {
        let iy = (oy as isize * sy + offy) as usize;
        let src = &plane[iy * c.iw..(iy + 1) * c.iw];
        let dst = &mut row[oy * ow..(oy + 1) * ow];
        dst[..lo].fill(T::ZERO);
        dst[hi..].fill(T::ZERO);
        for (d, &v) in dst[lo..hi].iter_mut().zip(src[first..].iter().step_by(c.s[1])) {
            *d = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::product::DEPTH_BLOCK;
    use super::super::product::tests::values;
    use super::*;

    /// A convolution of the given shape with full-mantissa weights and bias.
    #[allow(clippy::too_many_arguments)]
    fn conv_k<T: Real>(
        ci: usize,
        co: usize,
        groups: usize,
        ih: usize,
        iw: usize,
        k: usize,
        s: usize,
        d: usize,
        p: usize,
    ) -> ConvK<T> {
        let ci_g = ci / groups;
        let w: Vec<T> = values(co * ci_g * k * k, (ci * 31 + co) as u64);
        let wt = tile_kernels(co, groups, ci_g * k * k, |i| w[i]);
        let out = |i: usize| (i + 2 * p - d * (k - 1) - 1) / s + 1;
        ConvK {
            w,
            wt,
            finite: true,
            b: Some(values(co, 7)),
            groups,
            ci,
            co,
            ih,
            iw,
            oh: out(ih),
            ow: out(iw),
            k: [k, k],
            s: [s, s],
            d: [d, d],
            pb: [p, p],
        }
    }

    /// [`conv_binary`] (the gather of 0/1 inputs) gives the product's bits, and so does
    /// [`conv_events`] within one depth block: depths inside
    /// one block, across blocks that are not whole words (576 = 2 x 288), channel counts
    /// with 8-wide and single remainders, groups, strides, dilation and padding, at several
    /// densities. Fails if the gather sums in another order or skips a block boundary.
    fn binary_matches_dense<T: Real>() {
        for &(ci, co, groups, ih, k, s, d, p) in &[
            (3, 16, 1, 9, 3, 1, 1, 1),
            (64, 75, 1, 8, 3, 1, 1, 1),
            (16, 123, 1, 7, 3, 1, 1, 1),
            (130, 64, 1, 6, 3, 2, 1, 1),
            (8, 12, 2, 10, 3, 1, 2, 2),
            (40, 130, 1, 5, 1, 2, 1, 0),
        ] {
            let c = conv_k::<T>(ci, co, groups, ih, ih + 1, k, s, d, p);
            let wi = ci * c.ih * c.iw;
            let wo = co * c.oh * c.ow;
            for density in [0.05, 0.4, 0.69] {
                let mut st = 99u64 + ci as u64;
                let x: Vec<T> = (0..2 * wi)
                    .map(|_| {
                        st = st.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        if ((st >> 11) as f64 / (1u64 << 53) as f64) < density { T::ONE } else { T::ZERO }
                    })
                    .collect();
                let mut dense = vec![T::ZERO; 2 * wo];
                conv_dense(&c, &[0, 1], &x, &mut dense, &mut vec![]);
                let mut scratch = Scratch::default();
                let mut both = vec![T::ZERO; 2 * wo];
                conv_binary(&c, &[0, 1], &x, &mut both, &mut scratch);
                for smp in 0..2 {
                    let mut got = vec![T::ZERO; 2 * wo];
                    conv_binary(&c, &[smp], &x, &mut got, &mut scratch);
                    assert!(
                        got[smp * wo..(smp + 1) * wo] == both[smp * wo..(smp + 1) * wo],
                        "sample {smp} alone and with the other"
                    );
                    let want = &dense[smp * wo..(smp + 1) * wo];
                    if c.ci / groups * k * k <= DEPTH_BLOCK {
                        // Within one depth block the event path sums in the same order too.
                        let mut ev = vec![T::ZERO; wo];
                        conv_events(&c, &x[smp * wi..(smp + 1) * wi], &mut ev, &mut vec![]);
                        assert!(ev == want, "events {ci}->{co} g{groups} k{k} s{s} d{d} p{p} density {density}");
                    }
                    let got = &got[smp * wo..(smp + 1) * wo];
                    for (i, (g, w)) in got.iter().zip(want).enumerate() {
                        assert!(
                            g.f64().to_bits() == w.f64().to_bits(),
                            "{ci}->{co} g{groups} k{k} s{s} d{d} p{p} density {density}: output {i} is {} not {}",
                            g.f64(),
                            w.f64()
                        );
                    }
                }
            }
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn binary_and_event_convolutions_are_the_product_bit_for_bit() {
        // conv_step takes the gather only where `product` runs its own fused kernels.
        assert!(fma_kernels(), "this test needs a CPU with AVX2 and FMA");
        binary_matches_dense::<f32>();
        binary_matches_dense::<f64>();
    }
}
