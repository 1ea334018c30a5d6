//! What the view's parts share: the error every builder returns, the stream width rule, and a
//! layer's event type and spike plane, which the layer's projections and update read. It
//! defines these items only and calls none of the view's builders, so [`super::layer`],
//! [`super::proj`] and [`super::update`] import it without importing each other's callers
//! (issue 53: no import cycles between files).

use crate::hw::{Layer, Plan, Schedule};

/// A plan the HLS back end cannot emit (exactly the plans the Verilog back end refuses).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EmitError {
    /// The plan is outside the back end's limits (`back::limits`).
    #[error("HLS back end: {0}")]
    Unsupported(String),
    /// A projection marked dense that cannot gather densely.
    #[error("HLS back end: {0}")]
    Dense(crate::hw::dense::ModeError),
    /// A large RAM of a shape the back end does not emit.
    #[error("HLS back end: {mem}: large RAM of {depth} x {width} bits: only iCE40 SPRAM (16384 x 16) is emitted")]
    LargeRam {
        /// The memory.
        mem: String,
        /// Words per block.
        depth: usize,
        /// Bits per word.
        width: usize,
    },
    /// A template failed to render.
    #[error("HLS back end: template: {0}")]
    Template(String),
}

/// Bytes-aligned stream width (AXI-Stream TDATA is a whole number of bytes).
pub fn bytes_width(bits: usize) -> usize {
    bits.div_ceil(8).max(1) * 8
}

/// A layer's spike plane, written by its update pass.
pub struct PlaneView {
    /// The array (in the top function).
    pub var: String,
    /// Bits per word.
    pub width: usize,
    /// Words.
    pub depth: usize,
    /// Lane groups per word.
    pub m: usize,
    /// Positions (H*W).
    pub hw: usize,
    /// `~(lanes' mask << bit)` is kept on a write: the lanes' mask as a literal.
    pub lane_mask: String,
    /// Pragmas of the array.
    pub pragmas: Vec<String>,
}

/// The C++ type of `l`'s event entries: a lane mask, and for a multi-spike layer each lane's
/// count.
pub fn ev_type(l: &Layer) -> String {
    if l.multi { format!("sf::ev_count_entry<{}>", l.lanes) } else { "sf::ev_entry".into() }
}

/// The index of a step's copy of an array written once per step and read by later layers:
/// `[t]` under the streamed (layer-major) schedule, where every step's event list and spike
/// plane lives until the layer's readers run (and per-step inputs are all loaded first); none
/// otherwise, where one copy is rewritten at every step.
pub fn at_step(plan: &Plan) -> &'static str {
    if plan.schedule == Schedule::Streamed { "[t]" } else { "" }
}
