//! Back ends: writers from the IR (or the hardware plan) to files.

pub mod nir;
