//! What a design or a placement uses of a target, beside what the target has (a chip
//! mapping's resources), and the row `compare` gives a target: the back ends fill it.

use serde::{Deserialize, Serialize};

/// One resource of a row: how much the model uses, of how much the target has.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    /// Name (`LUT4`, `block RAM`, `cores`...).
    pub name: String,
    /// Used.
    pub used: u64,
    /// Available, when the target states it.
    pub available: Option<u64>,
}

/// A figure and where it comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sourced {
    /// The figure.
    pub value: f64,
    /// Where it comes from.
    pub source: String,
}

/// One target's row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Target name.
    pub target: String,
    /// `fpga`, `asic` or `neuromorphic`.
    pub kind: String,
    /// True when the model fits the target (for an FPGA without a bitstream build: its
    /// memories; the logic is then unchecked and `notes` says so).
    pub fits: bool,
    /// Why not, each limit with the figures (or why the target refused the model).
    pub why_not: Vec<String>,
    /// What the row's figures come from and what they leave out.
    pub notes: Vec<String>,
    /// Accuracy under the target's exact model, with labels.
    pub accuracy: Option<f64>,
    /// Class agreement with the reference engine.
    pub agreement: Option<f64>,
    /// Latency per inference, microseconds.
    pub latency_us: Option<Sourced>,
    /// Energy per inference, joules.
    pub energy_j: Option<Sourced>,
    /// Resources used.
    pub resources: Vec<Resource>,
}

impl Row {
    pub(crate) fn refused(target: &str, kind: &str, why: String) -> Row {
        Row {
            target: target.to_string(),
            kind: kind.to_string(),
            fits: false,
            why_not: vec![why],
            notes: vec![],
            accuracy: None,
            agreement: None,
            latency_us: None,
            energy_j: None,
            resources: vec![],
        }
    }
}
