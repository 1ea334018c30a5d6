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

/// Why back end `what` cannot emit `plan`: it has a projection in the dense datapath
/// (docs/hardware.md 4c), which that back end does not implement yet. None: all event-driven.
pub fn dense_unsupported(plan: &crate::hw::Plan, what: &str) -> Option<String> {
    let (k, pi) = plan
        .layers
        .iter()
        .enumerate()
        .find_map(|(k, l)| l.modes.iter().position(|m| *m == crate::hw::dense::Mode::Dense).map(|pi| (k, pi)))?;
    Some(format!(
        "the {what} back end does not emit the dense datapath yet (layer '{}', projection {pi} is dense): use \
         --datapath event for RTL (the HLS back end, --backend hls, emits it)",
        plan.layers[k].name
    ))
}
