//! The SDR SDRAM primitives: the streaming read controller (`hdl/sf_sdram_stream.v`, part of
//! external-memory designs) and the command-level chip model that judges it in simulation
//! (`hdl/sf_sdram_model.v`), with the parameter values that make them the
//! [`Streamer`] and the `sim::sdram::Sdram` of a chip at a clock.

use crate::hw::sdram::{Streamer, bits};

/// The controller.
pub const STREAM: (&str, &str) = ("sf_sdram_stream.v", include_str!("../../../hdl/sf_sdram_stream.v"));

/// The chip model (simulation only).
pub const MODEL: (&str, &str) = ("sf_sdram_model.v", include_str!("../../../hdl/sf_sdram_model.v"));

/// Address bits of a geometry's bank, row and column (each a power of two), and of the pins.
fn address_bits(s: &Streamer) -> [(&'static str, u64); 4] {
    let g = s.geometry();
    let ba = u64::from(bits(u64::from(g.banks) - 1));
    let ra = u64::from(bits(u64::from(g.rows) - 1));
    let ca = u64::from(bits(u64::from(g.cols) - 1));
    [("BA_W", ba), ("RA_W", ra), ("CA_W", ca), ("A_W", ra.max(ca).max(11))]
}

/// `sf_sdram_stream`'s parameters for `s`. Geometry must be powers of two (every SDRAM part's).
pub fn stream_params(s: &Streamer) -> Vec<(&'static str, u64)> {
    let (g, t) = (s.geometry(), s.timing());
    let mut p = address_bits(s).to_vec();
    p.extend([
        ("DW", u64::from(g.width)),
        ("LW", u64::from(bits(g.words()))),
        ("CW", u64::from(bits((t.refi + s.overhead() + u64::from(g.cols)).max(t.init)) + 1)),
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
    ]);
    p
}

/// `sf_sdram_model`'s numeric parameters for the chip of `s`, storing the first `depth` words.
pub fn model_params(s: &Streamer, depth: u64) -> Vec<(&'static str, u64)> {
    let (g, t) = (s.geometry(), s.timing());
    let mut p = address_bits(s).to_vec();
    p.extend([
        ("DW", u64::from(g.width)),
        ("ROWS", u64::from(g.rows)),
        ("DEPTH", depth),
        ("CL", t.cl),
        ("RCD", t.rcd),
        ("RP", t.rp),
        ("RAS", t.ras),
        ("RC", t.rc),
        ("RRD", t.rrd),
        ("RFC", t.rfc),
        ("WR", t.wr),
        ("REFI", t.refi),
        ("INIT", t.init),
        ("MRD", t.mrd),
    ]);
    p
}

/// A Verilog parameter override list, `#(.NAME(value), ...)`.
pub fn overrides(params: &[(&str, u64)]) -> String {
    let items: Vec<String> = params.iter().map(|(n, v)| format!(".{n}({v})")).collect();
    format!("#({})", items.join(", "))
}
