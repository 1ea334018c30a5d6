//! Back ends: writers from the IR (NIR) or from the hardware plan (Verilog, HLS C++).

pub mod namer;
pub mod nir;
pub mod verilog;
