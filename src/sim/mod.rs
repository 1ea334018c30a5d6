//! Simulators: the floating-point reference engine and (later stages) the cycle-accurate
//! engine of the hardware plan, plus the `.npy` input/output conventions they share.

pub mod cycle;
pub mod io;
pub mod reference;
pub mod vcd;
