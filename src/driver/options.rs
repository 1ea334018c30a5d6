//! The settings every model-running command shares ([`crate::options`]), resolved: a target
//! loaded with the clock applied, the plan options of a run, a plan.

use super::Error;
use crate::Model;
use crate::data::InputBatch;
use crate::hw::{Plan, PlanOptions};
use crate::options::PlanSettings;
use crate::quant::InputStats;
use crate::target::Target;

impl PlanSettings {
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

    /// The plan options on `target` for `steps` timesteps, the input range taken from `calib`.
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
        if !self.plane_bits.is_power_of_two() || !(8..=crate::hw::dense::PLANE_BITS_MAX).contains(&self.plane_bits) {
            return Err(Error::Usage(format!(
                "--plane-bits must be a power of two from 8 to {}, not {}",
                crate::hw::dense::PLANE_BITS_MAX,
                self.plane_bits
            )));
        }
        let widest = crate::quant::range::MAX_STATE_BITS;
        if self.membrane_bits.is_some_and(|b| !(2..=widest).contains(&b)) {
            return Err(Error::Usage(format!("--membrane-bits must be 2..={widest}")));
        }
        Ok(PlanOptions {
            target,
            timesteps: steps,
            settings: self.clone(),
            input_stats: calib.map(InputStats::of),
            output: None,
        })
    }

    /// The plan options on the settings' target.
    pub fn options(&self, steps: usize, calib: Option<&InputBatch>) -> Result<PlanOptions, Error> {
        self.options_for(self.target()?, steps, calib)
    }

    /// Lowers `m` for `steps` timesteps to an FPGA plan, the input range from `calib`.
    pub fn plan(&self, m: &Model, steps: usize, calib: Option<&InputBatch>) -> Result<Plan, Error> {
        let o = self.options(steps, calib)?;
        lower(m, &o, calib)
    }
}

/// Lowers `m` under `o` to an FPGA plan, its datapath chosen as `o` asks on `calib`
/// (`--datapath auto` measures on them).
pub fn lower(m: &Model, o: &PlanOptions, calib: Option<&InputBatch>) -> Result<Plan, Error> {
    let plan = crate::hw::lower(m, o).map_err(|err| Error::Quant { path: m.path.clone(), err })?;
    Ok(super::datapath::choose(plan, &o.target, &o.settings, calib))
}
