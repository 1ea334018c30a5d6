//! The reference engine's number type and its matrix product: `gemm`'s fused multiply-add
//! kernels where the CPU has AVX2 and FMA, `matrixmultiply` elsewhere. Every element of a
//! product is one dot product whose summation order depends only on its depth, never on the
//! product's other dimensions (so never on how many samples share it).

/// Floating-point type the engine computes in.
pub trait Real:
    Copy
    + Send
    + Sync
    + PartialOrd
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::AddAssign
    + std::fmt::Debug
    + 'static
{
    /// Zero.
    const ZERO: Self;
    /// One.
    const ONE: Self;
    /// `c (m x n, row stride rsc) = a (m x k) . b (k x n)`, with `a` and `b` given by their
    /// (row, column) strides; every element is one dot product over `k` whose summation
    /// order depends only on `k`.
    #[allow(clippy::too_many_arguments)]
    fn gemm(
        m: usize,
        k: usize,
        n: usize,
        a: &[Self],
        sa: (usize, usize),
        b: &[Self],
        sb: (usize, usize),
        c: &mut [Self],
        rsc: usize,
    );
    /// Conversion from f64 (rounding).
    fn of(v: f64) -> Self;
    /// Conversion to f64 (exact).
    fn f64(self) -> f64;
    /// Division.
    fn div(self, o: Self) -> Self;
    /// Truncation toward zero.
    fn trunc(self) -> Self;
    /// `self * a + b` rounded once.
    fn mul_add(self, a: Self, b: Self) -> Self;
    /// `max(self, 1)`.
    fn max_one(self) -> Self {
        if self < Self::ONE { Self::ONE } else { self }
    }
}

impl Real for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    fn of(v: f64) -> Self {
        v as f32
    }
    fn f64(self) -> f64 {
        self as f64
    }
    fn div(self, o: Self) -> Self {
        self / o
    }
    fn trunc(self) -> Self {
        f32::trunc(self)
    }
    fn mul_add(self, a: Self, b: Self) -> Self {
        f32::mul_add(self, a, b)
    }
    fn gemm(
        m: usize,
        k: usize,
        n: usize,
        a: &[Self],
        sa: (usize, usize),
        b: &[Self],
        sb: (usize, usize),
        c: &mut [Self],
        rsc: usize,
    ) {
        check_gemm(m, k, n, a.len(), sa, b.len(), sb, c.len(), rsc);
        // SAFETY: check_gemm proved every index the product touches lies inside its slice.
        unsafe {
            matrixmultiply::sgemm(
                m,
                k,
                n,
                1.0,
                a.as_ptr(),
                sa.0 as isize,
                sa.1 as isize,
                b.as_ptr(),
                sb.0 as isize,
                sb.1 as isize,
                0.0,
                c.as_mut_ptr(),
                rsc as isize,
                1,
            )
        }
    }
}

impl Real for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    fn of(v: f64) -> Self {
        v
    }
    fn f64(self) -> f64 {
        self
    }
    fn div(self, o: Self) -> Self {
        self / o
    }
    fn trunc(self) -> Self {
        f64::trunc(self)
    }
    fn mul_add(self, a: Self, b: Self) -> Self {
        f64::mul_add(self, a, b)
    }
    fn gemm(
        m: usize,
        k: usize,
        n: usize,
        a: &[Self],
        sa: (usize, usize),
        b: &[Self],
        sb: (usize, usize),
        c: &mut [Self],
        rsc: usize,
    ) {
        check_gemm(m, k, n, a.len(), sa, b.len(), sb, c.len(), rsc);
        // SAFETY: check_gemm proved every index the product touches lies inside its slice.
        unsafe {
            matrixmultiply::dgemm(
                m,
                k,
                n,
                1.0,
                a.as_ptr(),
                sa.0 as isize,
                sa.1 as isize,
                b.as_ptr(),
                sb.0 as isize,
                sb.1 as isize,
                0.0,
                c.as_mut_ptr(),
                rsc as isize,
                1,
            )
        }
    }
}

/// Panics unless the strided operands of a product lie inside their slices (a broken
/// invariant of the engine, never of the input).
#[allow(clippy::too_many_arguments)]
fn check_gemm(
    m: usize,
    k: usize,
    n: usize,
    la: usize,
    sa: (usize, usize),
    lb: usize,
    sb: (usize, usize),
    lc: usize,
    rsc: usize,
) {
    if m == 0 || k == 0 || n == 0 {
        return;
    }
    let last = |rows: usize, cols: usize, s: (usize, usize)| (rows - 1) * s.0 + (cols - 1) * s.1;
    assert!(last(m, k, sa) < la && last(k, n, sb) < lb && last(m, n, (rsc, 1)) < lc, "gemm operands out of bounds");
}

/// Depth of one `gemm` call. Up to 512 terms `gemm` sums each element in one accumulator,
/// fused multiply-adds in depth order (its depth block is `min(k, 512)` whatever the shape).
pub(super) const DEPTH_BLOCK: usize = 512;

/// The depth of [`product`]'s blocks for depth `k`: equal blocks of at most [`DEPTH_BLOCK`]
/// (the last shorter by less than their count), so there is no short tail product; at
/// least 1. [`super::conv`]'s 0/1 gather reproduces the product's sums through this same split.
pub(super) fn depth_block(k: usize) -> usize {
    k.div_ceil(k.div_ceil(DEPTH_BLOCK)).max(1)
}

/// `c (m x n, row stride rsc) = a (m x k) . b (k x n)` as [`Real::gemm`], faster where the
/// CPU has AVX2 and FMA: the depth runs in equal blocks of at most [`DEPTH_BLOCK`], each
/// element of a block summed from zero by fused multiply-adds in depth order and added to
/// the previous blocks' sum. The order depends only on `k`: shapes that `gemm` would hand to a differently ordered
/// kernel (gemv, horizontal dot products, depth <= 2) take a scalar loop with that same order.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(super) fn product<T: Real>(
    m: usize,
    k: usize,
    n: usize,
    a: &[T],
    sa: (usize, usize),
    b: &[T],
    sb: (usize, usize),
    c: &mut [T],
    rsc: usize,
) {
    if !fma_kernels() {
        return T::gemm(m, k, n, a, sa, b, sb, c, rsc);
    }
    check_gemm(m, k, n, a.len(), sa, b.len(), sb, c.len(), rsc);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        for i in 0..m {
            c[i * rsc..i * rsc + n].fill(T::ZERO);
        }
        return;
    }
    let block = depth_block(k);
    let mut acc: Vec<T> = vec![];
    let mut d0 = 0;
    while d0 < k {
        let kb = (k - d0).min(block);
        let first = d0 == 0;
        if m >= 2 && n >= 2 && m * n > 256 && kb >= 3 {
            // SAFETY: check_gemm proved that every element of a (m x k), b (k x n) and
            // c (m x n) lies inside its slice; the block reads columns d0..d0+kb of a and
            // rows d0..d0+kb of b.
            unsafe {
                gemm::gemm(
                    m,
                    n,
                    kb,
                    c.as_mut_ptr(),
                    1,
                    rsc as isize,
                    !first,
                    a.as_ptr().add(d0 * sa.1),
                    sa.1 as isize,
                    sa.0 as isize,
                    b.as_ptr().add(d0 * sb.0),
                    sb.1 as isize,
                    sb.0 as isize,
                    T::ONE,
                    T::ONE,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                )
            }
        } else {
            // Each element's sum still runs in depth order; the loop over a row's elements
            // is innermost so that it vectorises.
            for i in 0..m {
                acc.clear();
                acc.resize(n, T::ZERO);
                for d in d0..d0 + kb {
                    let av = a[i * sa.0 + d * sa.1];
                    let brow = &b[d * sb.0..];
                    for (j, s) in acc.iter_mut().enumerate() {
                        *s = av.mul_add(brow[j * sb.1], *s);
                    }
                }
                for (o, &s) in c[i * rsc..i * rsc + n].iter_mut().zip(&acc) {
                    *o = if first { s } else { *o + s };
                }
            }
        }
        d0 += kb;
    }
}

/// Whether `gemm` runs its fused multiply-add kernels here (its x86-64-v3 level); also what
/// the reference engine's AVX2 chunk loop is compiled for.
pub(super) fn fma_kernels() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx")
            && std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Values with full mantissas and mixed signs (a fixed LCG), so any change of summation
    /// order shows in the last bits.
    pub(in crate::sim::reference) fn values<T: Real>(n: usize, seed: u64) -> Vec<T> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                T::of(((s >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 3.7)
            })
            .collect()
    }

    /// Every element of [`product`] is the same whatever the rest of the product: each row
    /// alone (m = 1, the gemv-shaped case), each column alone (n = 1), a 2 x 2 corner (the
    /// horizontal-kernel size) and the whole, over depths around the block size and with
    /// strided operands (a conv's unrolled inputs, a dense layer's transposed weights).
    fn independent_of_shape<T: Real>() {
        for &(m, k, n) in
            &[(40, 1, 33), (40, 2, 33), (3, 7, 5), (64, 511, 48), (37, 512, 129), (20, 513, 300), (9, 1300, 70)]
        {
            let a: Vec<T> = values(m * k, 1 + k as u64);
            let b: Vec<T> = values(k * n, 2 + k as u64);
            // a row-major (k, 1); b column-major (1, k), as the dense layer passes w^T.
            let bt: Vec<T> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
            for (bs, sb) in [(&b, (n, 1)), (&bt, (1, k))] {
                let mut whole = vec![T::ZERO; m * n];
                product(m, k, n, &a, (k, 1), bs, sb, &mut whole, n);
                for i in 0..m {
                    let mut row = vec![T::ZERO; n];
                    product(1, k, n, &a[i * k..], (k, 1), bs, sb, &mut row, n);
                    assert_eq!(row, whole[i * n..(i + 1) * n], "row {i} of {m}x{k}x{n}");
                }
                for j in 0..n {
                    let mut col = vec![T::ZERO; m];
                    product(m, k, 1, &a, (k, 1), &bs[j * sb.1..], sb, &mut col, 1);
                    let want: Vec<T> = (0..m).map(|i| whole[i * n + j]).collect();
                    assert_eq!(col, want, "column {j} of {m}x{k}x{n}");
                }
                let mut corner = vec![T::ZERO; 4];
                product(2, k, 2, &a, (k, 1), bs, sb, &mut corner, 2);
                assert_eq!(corner, [whole[0], whole[1], whole[n], whole[n + 1]], "corner of {m}x{k}x{n}");
            }
        }
    }
    #[test]
    fn product_elements_do_not_depend_on_the_shape() {
        independent_of_shape::<f32>();
        independent_of_shape::<f64>();
    }
}
