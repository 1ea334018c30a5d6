//! The chip back ends: one interface every neuromorphic chip family implements once, and the
//! one table that picks the implementation by the target's family.
//!
//! A chip back end quantises a model under the chip's arithmetic and places it
//! ([`ChipBackend::map`]), runs inputs on its chip-exact model ([`ChipMap::run`]), writes the
//! vendor's files, has the vendor's simulator judge them, prices an inference, and describes
//! its placement for the reports ([`ChipLayout`]). The target back end of a chip with a model
//! ([`crate::driver::backend`]) calls only this interface, and the commands call only that one:
//! nothing outside a family's own modules asks which chip a target is.
//!
//! Adding a chip: its quantiser rules (`quant/<chip>.rs`), mapping (`chip/<chip>.rs`),
//! chip-exact model (`sim/<chip>.rs`), export (`back/<chip>.rs`), vendor check
//! (`flow/<chip>.rs`), its back end here (`driver/chip/<chip>.rs`: a [`ChipBackend`]; its
//! layout type and a [`ChipLayout`] variant in `layout.rs`; one row in [`backend`]), a `Family` variant and a
//! `targets/<chip>.toml` (docs/architecture.md lists them).

mod interface;
mod layout;
mod loihi;
mod xylo;

pub use interface::{ChipBackend, ChipInfo, ChipMap, ChipRun, ChipSection, ChipVerification, Export, verify};
pub use layout::{ChipLayout, LoihiLayout, NetxLayerSummary, XyloLayout};

use crate::target::{Family, Target, Toolchain};

/// The back end of `target`'s chip family: `None` for FPGA and ASIC targets and for chips
/// spikefab only prices (their energy and `plan` come from the generic chip mapping and the
/// FPGA layout's nominal counts). Only [`crate::driver::backend::of`] asks.
pub fn backend(target: &Target) -> Option<&'static dyn ChipBackend> {
    if target.is_chip() { table(target) } else { None }
}

/// The one table of chip back ends, keyed by the target's family (and for Loihi its
/// toolchain: the `loihi` target is Loihi 1's energy table, `loihi2` the netx back end).
fn table(target: &Target) -> Option<&'static dyn ChipBackend> {
    match (target.family, target.toolchain) {
        (Family::Xylo, _) => Some(&xylo::Xylo),
        (Family::Loihi, Toolchain::Lava) => Some(&loihi::Loihi),
        _ => None,
    }
}
