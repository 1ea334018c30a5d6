//! One back end per target kind, behind one interface ([`TargetBackend`]), and the one table
//! that picks it ([`of`]).
//!
//! Adding an FPGA family needs no row here (its target file's `[device]` and flow); adding a
//! chip with a model needs its [`crate::driver::chip::ChipBackend`] (one row in that module's
//! table); a chip spikefab only prices needs only its target file.

mod api;
mod chip;
mod fpga;

pub use api::{BackendInfo, Design, DesignRun, PlanView, RowContext, Stage, Streaming, TargetBackend};
pub(crate) use api::{CascadeArgs, run_design};

/// The back end of `target`: a chip with a model, a chip spikefab prices, or the FPGA layout
/// (FPGA and ASIC targets).
pub fn of(target: &crate::target::Target) -> Box<dyn TargetBackend> {
    match crate::driver::chip::backend(target) {
        Some(c) => Box::new(chip::Modelled(c)),
        None if target.is_chip() => Box::new(chip::Priced),
        None => Box::new(fpga::Fpga),
    }
}
