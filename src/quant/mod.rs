//! The quantised network: target-neutral integers (weights, shifts, leaks, thresholds, biases,
//! resets, units and state widths) chosen under a target's arithmetic [`Rules`].
//!
//! [`quantise`] turns a validated [`crate::Model`] into a [`Network`]: [`trace`] finds the
//! layers (neuron and Threshold nodes) and the projections between them with real weights,
//! the quantiser picks integers under the rules, and [`range`] analyses the state widths. A
//! target family then maps the network: the FPGA layout ([`crate::hw`]: lanes, memories,
//! schedule) or a chip mapping ([`crate::chip`]: cores, fan-in, input channels). Nothing here
//! knows about lanes, memories or cores.
//!
//! # Arithmetic (per neuron i, all integers)
//!
//! A layer's membrane `V` is in units `u_i` (real value of one LSB, [`Layer::unit`]). A
//! projection adds `(w * x) << shift` per event into the layer's `X` state, where `w` is the
//! stored integer weight and `x` the event value (1 for a spike, the quantised input for an
//! input event). Once per step every neuron computes:
//!
//! ```text
//! cuba:   i  = Y + S + CS (+ CSL after step 0);  Y' = leak_syn(i)
//! v  = X + S + C (+ CL after step 0)      [cuba: X + i + C]
//! s  = v > THR   (v >= THR with fire-on-equal; never for non-spiking kinds)
//! vhat = zero: s ? VR : v     subtract: v - s*THR     subtract-undecayed: v
//! X' = leak(vhat) - (subtract-undecayed && s ? THR : 0)        (0 after the last step)
//! leak(x) = (x * B + 2^(P-1)) >> P   (arithmetic shift), or x - (x >> k) when beta = 1-2^-k,
//!           x when beta = 1, 0 when beta = 0
//! ```
//!
//! `S` holds the static accumulation of direct-encoded input (accumulated once, at step 0).
//! Widths come from range analysis so nothing overflows for any input; under a state-width
//! cap every write saturates and the engines count saturations. Input events are the non-zero
//! quantised inputs, in C order.

mod calib;
mod chips;
pub mod loihi;
mod network;
mod packed;
mod quantise;
pub mod range;
pub mod students;
#[cfg(test)]
mod testing;
pub mod trace;
pub mod xylo;

pub use calib::{InputStats, QuantOptions, input_plan};
pub use network::{
    AccTarget, DecayRule, InputPlan, Layer, Leak, Network, NeuronKind, NeuronParams, OutputPlan, PoolGeom, ProjKind,
    Projection, ResetRule, Rules, Source, StateRule, WeightForm, WeightRule, Weights, at, range_str,
};
pub use packed::{WeightIter, WeightValues};
pub use quantise::quantise;

// The error stays in this file: it names nothing else of quant/, so every file of quant/ may
// import it without an import cycle (issue 53); the types live in network.rs.

/// Why a model cannot be quantised for a target.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantError {
    /// Node at fault, when there is one.
    pub node: Option<String>,
    /// What is unsupported or wrong, and what would work.
    pub message: String,
}

impl std::fmt::Display for QuantError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.node {
            Some(n) => write!(f, "hardware plan: node '{n}': {}", self.message),
            None => write!(f, "hardware plan: {}", self.message),
        }
    }
}

impl std::error::Error for QuantError {}

pub(crate) fn perr(node: &str, message: impl Into<String>) -> QuantError {
    QuantError { node: Some(node.to_string()), message: message.into() }
}
