//! The SDR SDRAM primitives: the streaming read controller (`hdl/sf_sdram_stream.v`, part of
//! external-memory designs) and the command-level chip model that judges it in simulation
//! (`hdl/sf_sdram_model.v`), with the parameter values that make them the
//! [`Streamer`] and the `sim::sdram::Sdram` of a chip at a clock.

use crate::hw::memory::bits_for;
use crate::hw::sdram::Streamer;

/// The controller.
pub const STREAM: (&str, &str) = ("sf_sdram_stream.v", include_str!("../../../hdl/sf_sdram_stream.v"));

/// The chip model (simulation only).
pub const MODEL: (&str, &str) = ("sf_sdram_model.v", include_str!("../../../hdl/sf_sdram_model.v"));

/// The parameters both modules take: address bits of the bank, row and column (each a power
/// of two, as every SDRAM part's geometry is; the target file checks it), of the pins (A10
/// at least), the data width and the timing in cycles.
fn shared(s: &Streamer) -> Vec<(&'static str, u64)> {
    let (g, t) = (s.geometry(), s.timing());
    let log2 = |n: u32| u64::from(n.trailing_zeros());
    let (ra, ca) = (log2(g.rows), log2(g.cols));
    vec![
        ("BA_W", log2(g.banks)),
        ("RA_W", ra),
        ("CA_W", ca),
        ("A_W", ra.max(ca).max(11)),
        ("DW", u64::from(g.width)),
        ("CL", t.cl),
        ("RCD", t.rcd),
        ("RP", t.rp),
        ("RAS", t.ras),
        ("RC", t.rc),
        ("RRD", t.rrd),
        ("RFC", t.rfc),
        ("REFI", t.refi),
        ("INIT", t.init),
        ("MRD", t.mrd),
    ]
}

/// Bits that hold the value `n`.
fn value_bits(n: u64) -> u64 {
    bits_for(n as usize + 1) as u64
}

/// `sf_sdram_stream`'s parameters for `s`: the shared ones, the request length's width and the
/// counters' (which hold the refresh interval, a chunk's overhead and a row, and the wait).
pub fn stream_params(s: &Streamer) -> Vec<(&'static str, u64)> {
    let (g, t) = (s.geometry(), s.timing());
    let mut p = shared(s);
    p.push(("LW", value_bits(g.words())));
    p.push(("CW", value_bits((t.refi + s.overhead() + u64::from(g.cols)).max(t.init)) + 1));
    p
}

/// `sf_sdram_model`'s numeric parameters for the chip of `s`, storing the first `depth` words.
pub fn model_params(s: &Streamer, depth: u64) -> Vec<(&'static str, u64)> {
    let mut p = shared(s);
    p.extend([("ROWS", u64::from(s.geometry().rows)), ("DEPTH", depth), ("WR", s.timing().wr)]);
    p
}

/// A Verilog parameter override list, `#(.NAME(value), ...)`.
pub fn overrides(params: &[(&str, u64)]) -> String {
    let items: Vec<String> = params.iter().map(|(n, v)| format!(".{n}({v})")).collect();
    format!("#({})", items.join(", "))
}
