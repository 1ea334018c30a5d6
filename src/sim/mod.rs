//! Simulators: the floating-point reference engine (what the training framework computes)
//! and the cycle-accurate engine of the FPGA plan, plus VCD traces of the latter. Inputs and
//! outputs are [`crate::data`] batches.

pub mod cycle;
pub mod loihi;
pub mod reference;
pub mod sdram;
pub mod vcd;
pub mod xylo;
