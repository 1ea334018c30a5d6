//! The settings every model-running command shares: the hardware plan's and the passes'.

use super::Error;
use crate::Model;
use crate::data::InputBatch;
use crate::hw::{Plan, PlanOptions};
use crate::quant::InputStats;
use crate::target::{ScheduleChoice, Target};

/// How to build the hardware plan.
#[derive(Clone, Debug)]
pub struct PlanSettings {
    /// Target: a bundled name or a path to a `.toml` file.
    pub target: String,
    /// Neuron lanes per layer (a power of two up to 64) [default: the target's].
    pub lanes: Option<usize>,
    /// Bits of non-binary weights (1..=16).
    pub weight_bits: u32,
    /// Bits of quantised real-valued inputs (1..=16).
    pub input_bits: u32,
    /// Fractional bits of membranes below the weight unit (<= 16).
    pub frac_bits: u32,
    /// Fractional bits of leak multipliers (2..=24).
    pub leak_bits: u32,
    /// Cap on state widths; below the analysed width arithmetic saturates (counted).
    pub membrane_bits: Option<u32>,
    /// Real value of one input LSB [default: from the calibration inputs].
    pub input_scale: Option<f64>,
    /// Stop an inference once the output class can no longer change.
    pub early_exit: bool,
    /// Clock in MHz [default: the target's].
    pub clock_mhz: Option<f64>,
    /// How the layers share the hardware in time [default: the target's, sequential with early
    /// exit].
    pub schedule: Option<ScheduleChoice>,
}

impl PlanSettings {
    /// Defaults for `target`: 8-bit weights and inputs, F = 6, P = 16.
    pub fn new(target: impl Into<String>) -> Self {
        PlanSettings {
            target: target.into(),
            lanes: None,
            weight_bits: 8,
            input_bits: 8,
            frac_bits: 6,
            leak_bits: 16,
            membrane_bits: None,
            input_scale: None,
            early_exit: false,
            clock_mhz: None,
            schedule: None,
        }
    }

    /// The target, with the clock applied.
    pub fn target(&self) -> Result<Target, Error> {
        self.target_named(&self.target)
    }

    /// Another target by name, with the clock applied.
    pub fn target_named(&self, name: &str) -> Result<Target, Error> {
        let mut t = Target::load(name)?;
        if let Some(f) = self.clock_mhz {
            if !(f.is_finite() && f > 0.0 && f <= 1000.0) {
                return Err(Error::Usage(format!("--clock-mhz must be in (0, 1000], got {f}")));
            }
            t.clock.board_mhz.get_or_insert(t.clock.default_mhz);
            t.clock.default_mhz = f;
        }
        Ok(t)
    }

    /// The plan options for `steps` timesteps, the input range taken from `calib`.
    pub fn options(&self, steps: usize, calib: Option<&InputBatch>) -> Result<PlanOptions, Error> {
        self.options_for(self.target()?, steps, calib)
    }

    /// The plan options on `target`.
    pub fn options_for(&self, target: Target, steps: usize, calib: Option<&InputBatch>) -> Result<PlanOptions, Error> {
        if !(1..=16).contains(&self.weight_bits) || !(1..=16).contains(&self.input_bits) {
            return Err(Error::Usage("--weight-bits and --input-bits must be 1..=16".into()));
        }
        if self.frac_bits > 16 || !(2..=24).contains(&self.leak_bits) {
            return Err(Error::Usage("--frac-bits must be <= 16 and --leak-bits 2..=24".into()));
        }
        if self.lanes.is_some_and(|l| !l.is_power_of_two() || l > 64) {
            return Err(Error::Usage("--lanes must be a power of two from 1 to 64".into()));
        }
        let widest = crate::quant::range::MAX_STATE_BITS;
        if self.membrane_bits.is_some_and(|b| !(2..=widest).contains(&b)) {
            return Err(Error::Usage(format!("--membrane-bits must be 2..={widest}")));
        }
        let mut o = PlanOptions::new(target, steps);
        o.lanes = self.lanes;
        o.weight_bits = self.weight_bits;
        o.input_bits = self.input_bits;
        o.frac_bits = self.frac_bits;
        o.leak_bits = self.leak_bits;
        o.membrane_bits = self.membrane_bits;
        o.input_scale = self.input_scale;
        o.input_stats = calib.map(InputStats::of);
        o.early_exit = self.early_exit;
        // A schedule asked for stays (lower refuses pipelined with early exit).
        o.schedule = self.schedule.unwrap_or(o.target.mapping.schedule.with_early_exit(self.early_exit));
        Ok(o)
    }

    /// Lowers `m` for `steps` timesteps to an FPGA plan, the input range from `calib`.
    pub fn plan(&self, m: &Model, steps: usize, calib: Option<&InputBatch>) -> Result<Plan, Error> {
        let o = self.options(steps, calib)?;
        crate::hw::lower(m, &o).map_err(|err| Error::Quant { path: m.path.clone(), err })
    }
}

/// What a data-driven choice of students maximises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Criterion {
    /// Accuracy on the labelled calibration inputs.
    Accuracy,
    /// Class agreement with the whole ensemble (no labels needed).
    Agreement,
}

/// Which passes to run and what they may measure.
#[derive(Clone, Debug, Default)]
pub struct PassSettings {
    /// Skip the simplification passes (scale folding, dead neurons and nodes).
    pub no_simplify: bool,
    /// Keep the best K students of the ensemble, measured on the calibration inputs.
    pub keep_students: Option<usize>,
    /// Keep these students (names or indices as `inspect` lists them).
    pub students: Vec<String>,
    /// Keep the best students whose energy per inference fits this budget (J).
    pub energy_budget: Option<f64>,
    /// Run the smallest T' meeting the agreement (or accuracy-drop) bound.
    pub auto_timesteps: bool,
    /// Minimum class agreement (T' against full T; hardware against the reference)
    /// [default: 0.99].
    pub min_agreement: Option<f64>,
    /// With labels: T' keeps accuracy within this of full T's.
    pub max_accuracy_drop: Option<f64>,
    /// Calibration inputs for the choices [default: the inputs].
    pub calib: Option<InputBatch>,
    /// Labels of `calib`.
    pub calib_labels: Option<Vec<usize>>,
    /// What the student choice maximises [default: accuracy with labels, else agreement].
    pub select_by: Option<Criterion>,
}

impl PassSettings {
    /// The agreement bound (default 0.99).
    pub fn min_agreement(&self) -> f64 {
        self.min_agreement.unwrap_or(0.99)
    }

    /// True when some choice measures on calibration data.
    pub fn needs_data(&self) -> bool {
        self.keep_students.is_some() || self.energy_budget.is_some() || self.auto_timesteps
    }
}
