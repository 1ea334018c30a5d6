//! How a projection accumulates (event-driven or dense) and the figures the automatic choice
//! weighed.

use serde::{Deserialize, Serialize};

/// How a projection accumulates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Each source event scatters into its targets (one beat per lane group it reaches).
    #[default]
    Event,
    /// Each target row gathers its input from the source's spike plane, one word per cycle.
    Dense,
}

impl Mode {
    /// `event` or `dense`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Event => "event",
            Mode::Dense => "dense",
        }
    }
}

/// A projection's predicted figures in one mode (per inference, mean over the calibration
/// inputs), the plan's other projections as chosen.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ModeFigures {
    /// Words the projection reads: weight words, and plane words (dense) or event entries.
    pub reads: u64,
    /// Cycles per inference of the whole plan.
    pub cycles: f64,
    /// Energy per inference of the whole plan, joules.
    pub energy_j: f64,
    /// The plan's memories fit the device.
    pub fits: bool,
    /// The plan's predicted logic is within `--logic-margin` of the device (or, when the plan
    /// as laid out already is not, no larger than it); true without a logic model.
    pub logic_fits: bool,
    /// The plan's predicted logic is within the device itself (a layout beyond the margin but
    /// within the device may still fit; the choice falls back to it before a layout whose
    /// memories certainly do not fit). True without a logic model.
    #[serde(skip)]
    pub logic_on_device: bool,
}

/// The automatic choice for one eligible projection.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModeChoice {
    /// Layer index.
    pub layer: usize,
    /// Projection index in the layer.
    pub projection: usize,
    /// The mode chosen.
    pub mode: Mode,
    /// Predicted with the projection event-driven.
    pub event: ModeFigures,
    /// Predicted with the projection dense.
    pub dense: ModeFigures,
}
