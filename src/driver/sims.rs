//! `cosim` and `csim`: the emitted Verilog in iverilog or Verilator, and the emitted HLS C++
//! compiled with g++, each against the cycle engine on the target's FPGA plan.

use std::path::Path;

use super::backend::{self, Design, Stage};
use super::mask::{StudentMask, mask_usage};
use super::verify::{CosimSettings, cosim_step};
use super::{Error, Progress, Step};
use crate::Model;
use crate::data::InputBatch;
use crate::flow::cosim::CosimReport;
use crate::flow::csim::{self, CsimReport};
use crate::hw::Plan;
use crate::options::{PlanSettings, Samples};
use crate::quant::students::MaskError;
use crate::sim::cycle;
use crate::target::Target;

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
    mask.designed_for(plan, "RTL")?;
    if let Some((p, a, margin, eng)) = cascade_run(plan, batch, &first, mask)? {
        return match cosim_step(&p, &first, &eng.samples, Some(&a), Some(margin), cosim, dir, progress)? {
            Step::Ran(r) => Ok(r),
            Step::Skipped { skipped } => Err(Error::Usage(format!("co-simulation not run: {skipped}"))),
        };
    }
    // One engine run: its cycle counts predict the simulator's time, its results are compared.
    // A mask the plan's ensemble cannot run is refused here with its reason.
    let eng = match &active {
        None => cycle::run(plan, &first, plan.timesteps),
        Some(a) => cycle::run_active(plan, &first, plan.timesteps, a).map_err(mask_usage)?,
    };
    match cosim_step(plan, &first, &eng.samples, active.as_deref(), None, cosim, dir, progress)? {
        Step::Ran(r) => Ok(r),
        Step::Skipped { skipped } => Err(Error::Usage(format!("co-simulation not run: {skipped}"))),
    }
}

/// The plan given the cascade, the students that run, the margin, and the engine's run.
type CascadeRun = (Plan, Vec<bool>, u64, cycle::BatchResult);

/// `--cascade` in a co-simulation or C simulation of `first`: `plan` given the cascade (its
/// order chosen on every input of `batch` unless given), the students that run (every student
/// without `--active-students`), the margin, and the cycle engine's cascade of `first` at it,
/// which the design is compared with; None without `--cascade`.
fn cascade_run(
    plan: &Plan,
    batch: &InputBatch,
    first: &InputBatch,
    mask: &StudentMask,
) -> Result<Option<CascadeRun>, Error> {
    let Some(c) = mask.cascade_for(plan, Some(batch))? else { return Ok(None) };
    let margin = c.margin;
    let mut p = plan.clone();
    p.cascade = Some(c);
    let st = p.students.as_ref().ok_or(MaskError::NoEnsemble).map_err(mask_usage)?;
    let a = mask.resolve(plan)?.unwrap_or_else(|| vec![true; st.names.len()]);
    let eng = cycle::run_cascade(&p, first, p.timesteps, &a, margin).map_err(mask_usage)?;
    Ok(Some((p, a, margin, eng)))
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
    if let Some((p, a, margin, eng)) = cascade_run(plan, batch, &first, mask)? {
        let masks = vec![a; first.n];
        let margins = vec![Some(margin); first.n];
        return Ok(csim::csim_against_cascade(
            &p,
            &first,
            &eng.samples,
            Some(&masks),
            Some(&margins),
            target.hls_part(),
            dir,
        )?);
    }
    match mask.resolve(plan)? {
        None => Ok(csim::csim(plan, &first, None, target.hls_part(), dir)?),
        Some(active) => {
            mask.designed_for(plan, "HLS C++")?;
            plan.masked(&active).map_err(mask_usage)?;
            Ok(csim::csim_active(plan, &first, None, &active, target.hls_part(), dir)?)
        }
    }
}
