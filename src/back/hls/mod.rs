//! HLS C++ back end: a [`Plan`] to C++17 for Vitis HLS, with a testbench and a Vitis project
//! script.
//!
//! The hand-written primitives in `hdl/hls/sf_hls.h` (fixed-width integers with explicit
//! wrap/saturate, decays, streams, AXI-Stream words) are used by glue generated from
//! `templates/hls/*`: one accumulate function per projection, one update function per layer
//! and a top function with AXI-Stream input and output and AXI-Lite control. This module
//! computes every constant, table and index expression the templates need.
//!
//! Contract: for every plan the Verilog back end emits, the C++ computes the same integers as
//! [`crate::sim::cycle`] (events in the RTL's order, every state written through the layer's
//! width: wrapping, or saturating when the plan caps the width), so every output word and the
//! number of steps run equal the engine's; it refuses exactly what the Verilog back end
//! refuses ([`crate::back::limits`]). The clock-by-clock schedule is left to the HLS tool.
//! Output is deterministic: identical plans give identical bytes.

mod view;

use askama::Template;

pub use view::EmitError;

use crate::hw::Plan;

/// The hand-written header every design includes, embedded so a design is self-contained.
pub const LIBRARY: (&str, &str) = ("sf_hls.h", include_str!("../../../hdl/hls/sf_hls.h"));

/// Compiler flags the C simulation uses (and that the emitted C++ is kept clean under).
pub const CXXFLAGS: &[&str] = &["-std=c++17", "-Wall", "-Wextra", "-Werror", "-O2"];

/// Emitted files.
#[derive(Debug, Clone)]
pub struct HlsDesign {
    /// Top function.
    pub top: String,
    /// (file name, contents), deterministic order.
    pub files: Vec<(String, String)>,
    /// Bits of a quantised input value.
    pub in_bits: u32,
    /// Used bits of an output word.
    pub out_bits: usize,
}

impl HlsDesign {
    /// The C++ sources to compile for the C simulation (design and testbench).
    pub fn sources(&self) -> Vec<String> {
        vec![format!("{}.cpp", self.top), "tb.cpp".to_string()]
    }
}

#[derive(Template)]
#[template(path = "hls/top.cpp", escape = "none")]
struct TopTemplate<'a> {
    v: &'a view::TopView,
}

#[derive(Template)]
#[template(path = "hls/top.h", escape = "none")]
struct HeaderTemplate<'a> {
    v: &'a view::TopView,
}

#[derive(Template)]
#[template(path = "hls/tb.cpp", escape = "none")]
struct TbTemplate<'a> {
    v: &'a view::TopView,
}

#[derive(Template)]
#[template(path = "hls/run_hls.tcl", escape = "none")]
struct TclTemplate<'a> {
    v: &'a view::TopView,
    part: &'a str,
    clock_mhz: f64,
    period: String,
}

/// Counts the bytes written to it.
struct Count(usize);

impl std::fmt::Write for Count {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0 += s.len();
        Ok(())
    }
}

/// Renders `t` into a string of exactly its size (measured by a first rendering that keeps
/// nothing: the top file of a large network is mostly weight tables).
fn render<T: Template>(t: &T) -> Result<String, EmitError> {
    let err = |e: askama::Error| EmitError(format!("template: {e}"));
    let mut n = Count(0);
    t.render_into(&mut n).map_err(err)?;
    let mut s = String::with_capacity(n.0 + 1);
    t.render_into(&mut s).map_err(err)?;
    s.push('\n');
    Ok(s)
}

/// Emits the design for `plan`: `sf_hls.h`, `<top>.h`, `<top>.cpp`, the testbench `tb.cpp`
/// and `run_hls.tcl` for the FPGA part `part`.
pub fn emit(plan: &Plan, part: &str) -> Result<HlsDesign, EmitError> {
    let v = view::build(plan)?;
    let files = vec![
        (LIBRARY.0.to_string(), LIBRARY.1.to_string()),
        (format!("{}.h", v.top), render(&HeaderTemplate { v: &v })?),
        (format!("{}.cpp", v.top), render(&TopTemplate { v: &v })?),
        ("tb.cpp".to_string(), render(&TbTemplate { v: &v })?),
        (
            "run_hls.tcl".to_string(),
            render(&TclTemplate {
                v: &v,
                part,
                clock_mhz: plan.clock_mhz,
                period: format!("{:.3}", 1000.0 / plan.clock_mhz),
            })?,
        ),
    ];
    Ok(HlsDesign { top: v.top.clone(), files, in_bits: v.in_bits, out_bits: v.out_bits })
}
