//! The integer a pass keeps neuron state in: i64 always works; i32 halves the memory and
//! doubles the vector lanes of the sweeps and accumulations.
//!
//! Invariant of a narrow (i32) pass: every kernel computes its values mod 2^32, which equal
//! the wide pass's values mod 2^32. A value the wide pass would check (after an ACC phase,
//! the update's V and next state) is therefore the same in both passes whenever it lies
//! within i32. [`super::Engine`] allows narrow passes only where the checked widths and the
//! largest change a phase or update can make keep such values within i32 as long as every
//! earlier check passed; a narrow pass with any out-of-width value is run again wide.

/// A neuron state word (see the module's invariant).
pub(super) trait Word: Copy + Default + PartialOrd + Send + 'static {
    /// Bits of the word.
    const BITS: u32;
    /// `v` mod 2^BITS.
    fn of(v: i64) -> Self;
    /// `v` (every i32 fits).
    fn of32(v: i32) -> Self;
    /// The word's value.
    fn get(self) -> i64;
    /// Wrapping sum.
    fn add(self, o: Self) -> Self;
    /// Wrapping difference.
    fn sub(self, o: Self) -> Self;
    /// `self << s` mod 2^BITS.
    fn shl(self, s: u32) -> Self;
    /// Arithmetic `self >> s`.
    fn sar(self, s: u32) -> Self;
    /// Bitwise and.
    fn and(self, o: Self) -> Self;
    /// `(self * b + 2^(p-1)) >> p`, the leak multiplier's rounding.
    fn mul_round(self, b: i64, p: u32) -> Self;
    /// The slice as i64, when the word is i64 (kernels without a narrow form take only these).
    fn wide(v: &mut [Self]) -> Option<&mut [i64]>;
    /// Of two tables holding the same values, the one of this word.
    fn pick<'a>(wide: &'a [i64], narrow: &'a [i32]) -> &'a [Self];
}

impl Word for i64 {
    const BITS: u32 = 64;
    #[inline(always)]
    fn of(v: i64) -> Self {
        v
    }
    #[inline(always)]
    fn of32(v: i32) -> Self {
        i64::from(v)
    }
    #[inline(always)]
    fn get(self) -> i64 {
        self
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        self.wrapping_add(o)
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        self.wrapping_sub(o)
    }
    #[inline(always)]
    fn shl(self, s: u32) -> Self {
        self.wrapping_shl(s)
    }
    #[inline(always)]
    fn sar(self, s: u32) -> Self {
        self.wrapping_shr(s)
    }
    #[inline(always)]
    fn and(self, o: Self) -> Self {
        self & o
    }
    #[inline(always)]
    fn mul_round(self, b: i64, p: u32) -> Self {
        ((self as i128 * b as i128 + (1i128 << (p - 1))) >> p) as i64
    }
    #[inline(always)]
    fn wide(v: &mut [Self]) -> Option<&mut [i64]> {
        Some(v)
    }
    #[inline(always)]
    fn pick<'a>(wide: &'a [i64], _: &'a [i32]) -> &'a [Self] {
        wide
    }
}

impl Word for i32 {
    const BITS: u32 = 32;
    #[inline(always)]
    fn of(v: i64) -> Self {
        v as i32
    }
    #[inline(always)]
    fn of32(v: i32) -> Self {
        v
    }
    #[inline(always)]
    fn get(self) -> i64 {
        i64::from(self)
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        self.wrapping_add(o)
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        self.wrapping_sub(o)
    }
    #[inline(always)]
    fn shl(self, s: u32) -> Self {
        // x << s for s >= 32 is 0 mod 2^32.
        if s >= 32 { 0 } else { self.wrapping_shl(s) }
    }
    #[inline(always)]
    fn sar(self, s: u32) -> Self {
        self >> s.min(31)
    }
    #[inline(always)]
    fn and(self, o: Self) -> Self {
        self & o
    }
    #[inline(always)]
    fn mul_round(self, b: i64, p: u32) -> Self {
        // Narrow passes have |b| < 2^31 (Engine::new), so the product fits i64; the result is
        // the wide one mod 2^32.
        ((i64::from(self).wrapping_mul(b).wrapping_add(1i64 << (p - 1))) >> p) as i32
    }
    #[inline(always)]
    fn wide(_: &mut [Self]) -> Option<&mut [i64]> {
        None
    }
    #[inline(always)]
    fn pick<'a>(_: &'a [i64], narrow: &'a [i32]) -> &'a [Self] {
        narrow
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every operation of the narrow word is the wide one's mod 2^32.
    #[test]
    fn narrow_ops_are_wide_ops_mod_2_32() {
        let mut seed = 0x1234_5678_9abc_def0u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let a = (next() as i64) >> (next() % 40);
            let a32 = a as i32;
            let b = (next() as i64) >> (next() % 40);
            let (na, nb) = (i32::of(a), i32::of(b));
            assert_eq!(na.add(nb), i64::of(a).add(b) as i32);
            assert_eq!(na.sub(nb), a.sub(b) as i32);
            assert_eq!(na.and(nb), a.and(b) as i32);
            let s = (next() % 70) as u32;
            if s < 64 {
                assert_eq!(na.shl(s), a.shl(s) as i32, "{a} << {s}");
            }
            // Arithmetic shifts and the leak's rounding agree on values within i32.
            assert_eq!(a32.sar(s), i64::from(a32).sar(s.min(63)) as i32, "{a32} >> {s}");
            let m = (next() as i64) >> (33 + next() % 31);
            let p = 1 + (next() % 20) as u32;
            assert_eq!(a32.mul_round(m, p), i64::from(a32).mul_round(m, p) as i32, "{a32} * {m} >> {p}");
        }
    }
}
