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

use crate::back::render::render_sized;
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

/// A file of the design: fixed text, text made here, or a template printed with a newline
/// after it.
enum File<'a> {
    Text(&'static str),
    Owned(String),
    Template(Box<dyn askama::DynTemplate + 'a>),
}

/// The design's files in order: `sf_hls.h`, `<top>.h`, `<top>.cpp`, `tb.cpp`, `run_hls.tcl`,
/// and `weights.hex` when the weights are in external memory (one 16-bit hex word per line,
/// the image the RTL's SDRAM holds).
fn files<'a>(v: &'a view::TopView, part: &'a str, clock_mhz: f64) -> Vec<(String, File<'a>)> {
    let period = format!("{:.3}", 1000.0 / clock_mhz);
    let mut out = vec![
        (LIBRARY.0.to_string(), File::Text(LIBRARY.1)),
        (format!("{}.h", v.top), File::Template(Box::new(HeaderTemplate { v }))),
        (format!("{}.cpp", v.top), File::Template(Box::new(TopTemplate { v }))),
        ("tb.cpp".to_string(), File::Template(Box::new(TbTemplate { v }))),
        ("run_hls.tcl".to_string(), File::Template(Box::new(TclTemplate { v, part, clock_mhz, period }))),
    ];
    if v.ext_words > 0 {
        let text: String = v.ext_image.iter().map(|w| format!("{w:04x}\n")).collect();
        out.push(("weights.hex".to_string(), File::Owned(text)));
    }
    out
}

/// Emits the design for `plan`: `sf_hls.h`, `<top>.h`, `<top>.cpp`, the testbench `tb.cpp`
/// and `run_hls.tcl` for the FPGA part `part`.
pub fn emit(plan: &Plan, part: &str) -> Result<HlsDesign, EmitError> {
    let v = view::build(plan)?;
    let mut out = vec![];
    for (name, f) in files(&v, part, plan.clock_mhz) {
        let text = match f {
            File::Text(t) => t.to_string(),
            File::Owned(t) => t,
            File::Template(t) => render_sized(&*t).map_err(|e| EmitError::Template(e.to_string()))?,
        };
        out.push((name, text));
    }
    Ok(HlsDesign { top: v.top.clone(), files: out, in_bits: v.in_bits, out_bits: v.out_bits })
}

/// The design [`write()`] wrote.
#[derive(Debug, Clone)]
pub struct Written {
    /// Top function.
    pub top: String,
    /// File names, in [`HlsDesign::files`]' order.
    pub files: Vec<String>,
}

/// Why [`write()`] failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The plan is refused.
    #[error(transparent)]
    Emit(#[from] EmitError),
    /// A file could not be written.
    #[error("{0}")]
    Io(String),
}

/// Writes the files [`emit`] returns into `dir` (created), printing each straight into its
/// file: a large network's top file, mostly weight tables, is never held as one string.
pub fn write(plan: &Plan, part: &str, dir: &std::path::Path) -> Result<Written, WriteError> {
    use std::io::Write as _;
    let v = view::build(plan)?;
    std::fs::create_dir_all(dir).map_err(|e| WriteError::Io(format!("{}: {e}", dir.display())))?;
    let mut names = vec![];
    for (name, f) in files(&v, part, plan.clock_mhz) {
        let path = dir.join(&name);
        let io = |e: std::io::Error| WriteError::Io(format!("{}: {e}", path.display()));
        let mut w = std::io::BufWriter::new(std::fs::File::create(&path).map_err(io)?);
        match f {
            File::Text(t) => w.write_all(t.as_bytes()).map_err(io)?,
            File::Owned(t) => w.write_all(t.as_bytes()).map_err(io)?,
            File::Template(t) => {
                t.dyn_write_into(&mut w).map_err(io)?;
                w.write_all(b"\n").map_err(io)?;
            }
        }
        w.flush().map_err(io)?;
        names.push(name);
    }
    Ok(Written { top: v.top.clone(), files: names })
}
