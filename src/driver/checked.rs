//! What `verify` compares, per kind of hardware: the FPGA plan's check in counts (which shards
//! add up), or a chip model's agreement. The back ends make these; `verify` prints them.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::chip::ChipVerification;
use super::verify::{
    CascadeCounts, EarlyExit, EarlyExitCounts, Verification, VerifyCounts, early_exit_counts_active, verify_active,
    verify_cascade,
};
use super::{Error, Prepared, Progress};
use crate::data::InputBatch;
use crate::hw::Plan;

/// What `verify` compared.
pub enum Checked {
    /// An FPGA or ASIC plan against the reference engine.
    Plan {
        /// The plan.
        plan: Box<Plan>,
        /// The comparison.
        check: PlanCheck,
    },
    /// A chip's integer model against the reference engine.
    Chip {
        /// The comparison.
        verification: ChipVerification,
        /// Target name.
        target: String,
        /// Notes on the placement.
        notes: Vec<String>,
        /// Steps the chip runs.
        chip_steps: usize,
    },
}

pub(crate) fn agreement_failure(agreement: f64, min: f64) -> Option<String> {
    (agreement < min).then(|| format!("class agreement {agreement:.4} is below --min-agreement {min}"))
}

/// Why two partial checks cannot be added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the parts check different models, plans or options")]
pub struct DifferentChecks;

/// A plan's check in counts: what `verify` prints is computed from it, and the checks of
/// parts of a batch add up to the check of the whole ([`PlanCheck::add`]).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PlanCheck {
    /// The fields every part shares: model, timesteps, plan summary, passes, bound.
    pub base: Value,
    /// Timesteps.
    pub steps: usize,
    /// The bound on class agreement.
    pub min_agreement: f64,
    /// The plan's clock.
    pub clock_mhz: f64,
    /// The outputs are spikes.
    pub spikes: bool,
    /// The text lines that describe the plan's layers.
    pub layer_lines: Vec<String>,
    /// Reference against hardware.
    pub counts: VerifyCounts,
    /// Early exit against every step, when enabled.
    pub early_exit: Option<EarlyExitCounts>,
    /// The cascade's stages against the reference's prefixes, under `--cascade`.
    #[serde(default)]
    pub cascade: Option<CascadeCounts>,
}

impl PlanCheck {
    /// The figures.
    pub fn verification(&self) -> Verification {
        self.counts.verification(self.clock_mhz)
    }

    /// Early exit's figures.
    pub fn exit(&self) -> Option<EarlyExit> {
        self.early_exit.as_ref().map(EarlyExitCounts::early_exit)
    }

    /// Why the check failed, or `None`.
    pub fn failure(&self) -> Option<String> {
        match self.early_exit.as_ref().map_or(0, |e| e.changed) {
            0 => agreement_failure(self.verification().class_agreement, self.min_agreement),
            changed => Some(format!("early exit changed the class of {changed} inputs")),
        }
    }

    /// What `verify --json` prints.
    pub fn json(&self) -> Value {
        let v = self.verification();
        let exit = self.exit();
        let mut j = self.base.clone();
        let figures = json!({
            "samples": v.samples,
            "class_agreement": v.class_agreement,
            "output_agreement": v.output_agreement,
            "output_elements_differing": v.output_elements_differing,
            "reference_accuracy": v.reference_accuracy,
            "cycle_accuracy": v.cycle_accuracy,
            "cycles_mean": v.cycles_mean,
            "cycles_min": v.cycles_min,
            "cycles_max": v.cycles_max,
            "latency_us_mean": v.latency_us_mean,
            "saturations": v.saturations,
            "pass": v.class_agreement >= self.min_agreement && exit.as_ref().is_none_or(|e| e.changed == 0),
            "early_exit": exit,
            "cascade": self.cascade.as_ref().map(|c| json!({
                "margin": self.base["cascade"]["margin"],
                "order": self.base["cascade"]["order"],
                "stages_mean": c.stages as f64 / c.samples.max(1) as f64,
                "reference_stages_mean": c.reference_stages as f64 / c.samples.max(1) as f64,
                "stage_agreement": c.same_stage as f64 / c.samples.max(1) as f64,
                "stage_outputs_compared": c.stage_compared,
                "stage_outputs_differing": c.stage_differing,
            })),
        });
        if let (Value::Object(j), Value::Object(f)) = (&mut j, figures) {
            j.extend(f);
        }
        j
    }

    /// Adds the check of another part of the same batch.
    pub fn add(&mut self, o: &PlanCheck) -> Result<(), DifferentChecks> {
        fn shape(c: &PlanCheck) -> (&Value, usize, f64, bool, &[String], bool, bool) {
            (&c.base, c.steps, c.clock_mhz, c.spikes, &c.layer_lines, c.early_exit.is_some(), c.cascade.is_some())
        }
        if shape(self) != shape(o) {
            return Err(DifferentChecks);
        }
        self.counts.add(&o.counts);
        if let (Some(a), Some(b)) = (&mut self.early_exit, &o.early_exit) {
            a.add(b);
        }
        if let (Some(a), Some(b)) = (&mut self.cascade, &o.cascade) {
            a.add(b);
        }
        Ok(())
    }
}

/// The check of `plan` against the reference engine on `batch`; under the student mask
/// `active` (None: every student) the cycle engine runs it and `prep` is the model pruned to
/// those students.
pub(crate) fn plan_check(
    prep: &Prepared,
    plan: &Plan,
    batch: &InputBatch,
    labels: Option<&[usize]>,
    min_agreement: f64,
    active: Option<&[bool]>,
    progress: &dyn Progress,
) -> Result<PlanCheck, Error> {
    let steps = prep.steps;
    // The reference runs the cut model unsimplified: the comparison covers the
    // simplifications and the lowering.
    let (_, r, c) = verify_active(&prep.cut, plan, batch, steps, labels, None, active, progress)?;
    let mut check = plan_check_of(prep, plan, min_agreement, active, VerifyCounts::of(&r, &c, steps, labels));
    check.spikes = r.outputs.spikes;
    check.early_exit = early_exit_counts_active(plan, batch, steps, &c, active)?;
    Ok(check)
}

/// The check of the cascade of `plan` (whose `cascade` gives the order and the board's margin)
/// at `margin` over the students `active` (`named`: given by `--active-students`, else every
/// student) against the reference engine on `batch`:
/// `prefixes[k]` is the model pruned to the first k + 1 of them in the order
/// ([`verify_cascade`]); `prep` is the model with every student.
#[allow(clippy::too_many_arguments)]
pub(crate) fn plan_check_cascade(
    prep: &Prepared,
    prefixes: &[Prepared],
    plan: &Plan,
    batch: &InputBatch,
    labels: Option<&[usize]>,
    min_agreement: f64,
    active: &[bool],
    named: bool,
    margin: u64,
    progress: &dyn Progress,
) -> Result<PlanCheck, Error> {
    let steps = prep.steps;
    let models: Vec<&crate::Model> = prefixes.iter().map(|p| &p.cut).collect();
    let (counts, cascade) = verify_cascade(&models, plan, batch, steps, labels, active, margin, progress)?;
    let mut check = plan_check_of(prep, plan, min_agreement, named.then_some(active), counts);
    let st = plan.students.as_ref().expect("a plan that runs the cascade has students");
    let order: Vec<&str> =
        plan.cascade_order().into_iter().filter(|&s| active[s]).map(|s| st.names[s].as_str()).collect();
    check.base["cascade"] = json!({ "margin": margin, "order": order });
    check.cascade = Some(cascade);
    Ok(check)
}

/// A [`PlanCheck`] of `counts` with the plan's description; spiking outputs, no early exit.
fn plan_check_of(
    prep: &Prepared,
    plan: &Plan,
    min_agreement: f64,
    active: Option<&[bool]>,
    counts: VerifyCounts,
) -> PlanCheck {
    let steps = prep.steps;
    let active_students: Option<Vec<&str>> = active
        .zip(plan.students.as_ref())
        .map(|(a, st)| st.names.iter().zip(a).filter(|(_, on)| **on).map(|(n, _)| n.as_str()).collect());
    let summary = plan.summary();
    let layer_lines = summary
        .layers
        .iter()
        .map(|l| {
            format!(
                "  {:<16} V {:>2} bits{}  leak {}  threshold {}",
                l.name,
                l.v_bits,
                if l.saturate { " (saturating)" } else { "" },
                l.leak,
                l.threshold
            )
        })
        .collect();
    PlanCheck {
        base: json!({
            "model": prep.model.path.display().to_string(),
            "timesteps": steps,
            "plan": summary,
            "min_agreement": min_agreement,
            "passes": prep.records,
            "active_students": active_students,
        }),
        steps,
        min_agreement,
        clock_mhz: plan.clock_mhz,
        spikes: true,
        layer_lines,
        counts,
        early_exit: None,
        cascade: None,
    }
}
