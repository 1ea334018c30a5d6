//! `cosim` and `csim`: the emitted Verilog in iverilog or Verilator, and the emitted HLS C++
//! compiled with g++, each against the cycle engine on the target's FPGA plan.

use std::path::Path;

use super::backend::{self, Design, Stage};
use super::verify::{CosimSettings, cosim_step};
use super::{Error, Progress, Step};
use crate::Model;
use crate::data::InputBatch;
use crate::flow::cosim::CosimReport;
use crate::flow::csim::{self, CsimReport};
use crate::hw::Plan;
use crate::options::{PlanSettings, Samples};
use crate::sim::cycle;
use crate::target::Target;

/// The students that run in a co-simulation or C simulation, or from power-on in a compiled
/// board design (`--active-students`).
#[derive(Clone, Debug, Default, PartialEq, clap::Args, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct StudentMask {
    /// Run only these students of the ensemble (names or indices, as `inspect` lists them),
    /// given to the design at run time (the RTL's `act` port, the HLS C++'s `act` argument; the
    /// sequential schedule's designs take it), and the cycle engine runs the same mask; in
    /// `compile`, the board's power-on default, and every check runs under it.
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub active_students: Vec<String>,
}

/// Samples co-simulated when none are asked for.
pub const DEFAULT_COSIM_SAMPLES: usize = 16;

/// The design of `m` on `settings`' target, whose back end must run `stage`, and the target.
fn design_for(
    m: &Model,
    settings: &PlanSettings,
    batch: &InputBatch,
    stage: Stage,
    what: &str,
) -> Result<(Box<dyn Design>, Target), Error> {
    let steps = super::steps_for(m, Some(batch))?;
    let target = settings.target()?;
    let b = backend::of(&target);
    if !b.info().runs(stage) {
        return Err(Error::Usage(format!(
            "{what}; target '{}' ({}) has none: give an FPGA or ASIC --target",
            target.name,
            b.info().kind
        )));
    }
    let (design, _) = b.lay_out(m, settings, &target, steps, Some(batch))?;
    Ok((design, target))
}

/// The FPGA plan of a design whose back end runs the FPGA stages.
fn plan_of<'a>(design: &'a dyn Design, target: &Target) -> Result<&'a Plan, Error> {
    design.plan().ok_or_else(|| Error::Usage(format!("target '{}' makes no FPGA plan", target.name)))
}

/// Co-simulates the RTL of `m`'s plan (calibrated on every input) on the first `samples` inputs
/// ([`DEFAULT_COSIM_SAMPLES`] when `None`) in `dir`, against the cycle engine: every output word
/// and cycle count compared. A simulator that is not installed is an error here.
#[allow(clippy::too_many_arguments)] // the command's parts, as the command line gives them
pub fn cosim(
    m: &Model,
    batch: &InputBatch,
    settings: &PlanSettings,
    cosim: &CosimSettings,
    mask: &StudentMask,
    samples: Option<usize>,
    dir: &Path,
    progress: &dyn Progress,
) -> Result<CosimReport, Error> {
    let (design, target) = design_for(m, settings, batch, Stage::Verilog, "cosim co-simulates the RTL")?;
    let plan = plan_of(&*design, &target)?;
    let first = Samples { samples: Some(samples.unwrap_or(DEFAULT_COSIM_SAMPLES)) }
        .of(batch)
        .map_err(|e| Error::Usage(e.to_string()))?;
    let active = mask.resolve(plan)?;
    // One engine run: its cycle counts predict the simulator's time, its results are compared.
    // A mask the plan cannot take is refused here with its reason.
    let eng = match &active {
        None => cycle::run(plan, &first, plan.timesteps),
        Some(a) => cycle::run_active(plan, &first, plan.timesteps, a).map_err(mask_usage)?,
    };
    mask.designed_for(plan, "RTL")?;
    match cosim_step(plan, &first, &eng.samples, active.as_deref(), cosim, dir, progress)? {
        Step::Ran(r) => Ok(r),
        Step::Skipped { skipped } => Err(Error::Usage(format!("co-simulation not run: {skipped}"))),
    }
}

/// C-simulates the HLS C++ of `m`'s plan (calibrated on every input) on the first `samples`
/// inputs (all when `None`) in `dir`, against the cycle engine: every output and step count,
/// with only the students of `mask` running when it names some.
pub fn csim(
    m: &Model,
    batch: &InputBatch,
    settings: &PlanSettings,
    mask: &StudentMask,
    samples: Option<usize>,
    dir: &Path,
) -> Result<CsimReport, Error> {
    let (design, target) = design_for(m, settings, batch, Stage::Hls, "csim C-simulates the HLS C++")?;
    let plan = plan_of(&*design, &target)?;
    let first = Samples { samples }.of(batch).map_err(|e| Error::Usage(e.to_string()))?;
    match mask.resolve(plan)? {
        None => Ok(csim::csim(plan, &first, None, target.hls_part(), dir)?),
        Some(active) => {
            // The engine refuses what no plan can take with its reason, then the design.
            plan.masked(&active).map_err(mask_usage)?;
            mask.designed_for(plan, "HLS C++")?;
            Ok(csim::csim_active(plan, &first, None, &active, target.hls_part(), dir)?)
        }
    }
}

pub(crate) fn mask_usage(e: crate::quant::students::MaskError) -> Error {
    Error::Usage(e.to_string())
}

impl StudentMask {
    /// The flags of the students named (None when none is named): one per student of
    /// `plan`'s ensemble, unknown names and a plan without an ensemble refused.
    pub(crate) fn resolve(&self, plan: &crate::hw::Plan) -> Result<Option<Vec<bool>>, Error> {
        match self.active_students.as_slice() {
            [] => Ok(None),
            names => {
                let st =
                    plan.students.as_ref().ok_or(crate::quant::students::MaskError::NoEnsemble).map_err(mask_usage)?;
                Ok(Some(st.mask(names).map_err(mask_usage)?))
            }
        }
    }

    /// Refuses a mask when `plan`'s design (`what`: "RTL" or "HLS C++") takes none.
    pub(crate) fn designed_for(&self, plan: &crate::hw::Plan, what: &str) -> Result<(), Error> {
        if self.active_students.is_empty() || plan.takes_mask() {
            return Ok(());
        }
        Err(Error::Usage(format!(
            "--active-students: the {what} of this plan takes no student mask yet ({} schedule{}); the sequential \
             schedule's does (--schedule sequential), with every weight on chip",
            plan.schedule.name(),
            if plan.external.is_some() { ", weights in external memory" } else { "" }
        )))
    }
}
