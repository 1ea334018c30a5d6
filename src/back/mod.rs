//! Back ends: writers from the IR (NIR) or from the hardware plan (Verilog, HLS C++), and the
//! limits the hardware back ends share.

mod common;
pub mod hls;
pub mod limits;
pub mod loihi;
pub mod nir;
mod render;
pub mod verilog;
pub mod xylo;
