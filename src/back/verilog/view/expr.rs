//! Verilog literals and widths the views print: address widths, sized constants, masks and
//! concatenations.
//!
//! Invariant: every literal carries its width (`w'h..`, `w'd..`, `w'b..`), so an expression
//! never takes its width from context.

/// Bits to address `n` words (at least 1).
pub fn abits(n: usize) -> usize {
    (usize::BITS - n.saturating_sub(1).leading_zeros()).max(1) as usize
}

/// Bits of a counter that counts to `max` - 1 (at least 1).
pub fn bits_for_count(max: usize) -> usize {
    abits(max.max(2))
}

/// log2 of a power of two.
pub fn log2(n: usize) -> usize {
    debug_assert!(n.is_power_of_two());
    n.trailing_zeros() as usize
}

/// A `w`-bit two's complement literal.
pub fn lit(v: i64, w: usize) -> String {
    let mask = if w >= 64 { u64::MAX } else { (1u64 << w) - 1 };
    format!("{w}'h{:x}", (v as u64) & mask)
}

/// A `w`-bit hex literal (`w'hNN`) re-expressed as a sign-extended `to`-bit literal.
pub fn sext_literal(lit_w: &str, w: usize, to: usize) -> String {
    let hex = lit_w.split("'h").nth(1).unwrap_or("0");
    let v = u64::from_str_radix(hex, 16).unwrap_or(0);
    let neg = w > 0 && w < 64 && (v >> (w - 1)) & 1 == 1;
    let val = if neg { (v as i64) - (1i64 << w) } else { v as i64 };
    lit(val, to)
}

/// Constant as an unsigned `aw`-bit literal.
pub fn cw(aw: usize, v: usize) -> String {
    format!("{aw}'d{v}")
}

/// A `bits`-bit literal with the low `n` bits set.
pub fn mask_lit(bits: usize, n: usize) -> String {
    bits_lit(bits, |b| b < n)
}

/// A `bits`-bit binary literal whose bit b is `on(b)`.
pub fn bits_lit(bits: usize, on: impl Fn(usize) -> bool) -> String {
    let s: String = (0..bits).rev().map(|b| if on(b) { '1' } else { '0' }).collect();
    format!("{bits}'b{s}")
}

/// `{bit n-1, ..., bit 0}` of 1-bit expressions.
pub fn concat_bits(bits: &[String]) -> String {
    let parts: Vec<&str> = bits.iter().rev().map(String::as_str).collect();
    format!("{{{}}}", parts.join(", "))
}
