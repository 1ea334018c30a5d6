//! `verify`: the reference engine against the hardware (the cycle engine on the FPGA plan, or
//! a chip's own model) on the checked inputs, whole or shard by shard.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::chip::{self, ChipVerification};
use super::shard::{self, Shard};
use super::verify::{EarlyExit, EarlyExitCounts, Verification, VerifyCounts, early_exit_counts, verify};
use super::{Error, Job, Prepared, Progress};
use crate::Model;
use crate::data::InputBatch;
use crate::hw::Plan;
use crate::passes::PassRecord;

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

/// What `verify` found.
pub struct Check {
    /// The model after the passes.
    pub model: Model,
    /// Samples.
    pub samples: usize,
    /// Timesteps.
    pub steps: usize,
    /// The bound on class agreement.
    pub min_agreement: f64,
    /// What the passes changed.
    pub records: Vec<PassRecord>,
    /// The comparison.
    pub checked: Checked,
}

impl Check {
    /// Why the check failed (the command exits 1), or `None`.
    pub fn failure(&self) -> Option<String> {
        match &self.checked {
            Checked::Plan { check, .. } => check.failure(),
            Checked::Chip { verification, .. } => agreement_failure(verification.class_agreement, self.min_agreement),
        }
    }

    /// What `verify --json` prints.
    pub fn json(&self) -> Value {
        match &self.checked {
            Checked::Chip { verification, target, notes, .. } => {
                let mut j = serde_json::to_value(verification).expect("plain data");
                j["target"] = json!(target);
                j["notes"] = json!(notes);
                j["min_agreement"] = json!(self.min_agreement);
                j["pass"] = json!(verification.class_agreement >= self.min_agreement);
                j
            }
            Checked::Plan { check, .. } => check.json(),
        }
    }
}

fn agreement_failure(agreement: f64, min: f64) -> Option<String> {
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
        });
        if let (Value::Object(j), Value::Object(f)) = (&mut j, figures) {
            j.extend(f);
        }
        j
    }

    /// Adds the check of another part of the same batch.
    pub fn add(&mut self, o: &PlanCheck) -> Result<(), DifferentChecks> {
        if (&self.base, self.steps, self.clock_mhz, self.spikes, &self.layer_lines, self.early_exit.is_some())
            != (&o.base, o.steps, o.clock_mhz, o.spikes, &o.layer_lines, o.early_exit.is_some())
        {
            return Err(DifferentChecks);
        }
        self.counts.add(&o.counts);
        if let (Some(a), Some(b)) = (&mut self.early_exit, &o.early_exit) {
            a.add(b);
        }
        Ok(())
    }
}

/// One shard's part of `verify`: the check of its samples under the plan of the whole batch.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VerifyPart {
    /// Which shard.
    pub shard: Shard,
    /// Samples checked in the whole run.
    pub samples_total: usize,
    /// The check of this shard's samples.
    pub check: PlanCheck,
}

/// Merges the parts of every shard of one `verify` run into its check.
pub fn merge_verify(parts: Vec<VerifyPart>) -> Result<PlanCheck, Error> {
    let total = parts.first().map(|p| p.samples_total).unwrap_or(0);
    shard::covered(parts.iter().map(|p| p.shard).collect())?;
    let mut it = parts.into_iter();
    let mut check = it.next().ok_or_else(|| Error::Usage("no parts to merge".into()))?.check;
    for p in it {
        if p.samples_total != total {
            return Err(Error::Usage("the parts check different batches".into()));
        }
        check.add(&p.check).map_err(|e| Error::Usage(e.to_string()))?;
    }
    Ok(check)
}

/// Runs the reference engine and the hardware (the cycle engine on the plan, or a chip's
/// integer model) side by side on `job`'s checked inputs and compares them.
pub fn check(job: &Job<'_>, progress: &dyn Progress) -> Result<Check, Error> {
    let prep = job.prepare(progress)?;
    let steps = prep.steps;
    let min_agreement = job.passes.min_agreement;
    let target = job.plan.target()?;
    let checked = job.checked()?;
    let (batch, labels) = (&*checked.inputs, checked.labels);
    let result = match chip::backend(&target) {
        Some(chip) => {
            let map = chip.map(&prep.model, job.plan, &target, steps, Some(job.inputs))?;
            let run = map.run(batch);
            Checked::Chip {
                verification: chip::verify(&prep.cut, steps, &run.outputs(), batch, labels, progress)?,
                target: target.name.clone(),
                notes: map.notes().to_vec(),
                chip_steps: map.chip_steps(),
            }
        }
        None => {
            let plan = job.plan.plan(&prep.model, steps, Some(job.inputs))?;
            let check = plan_check(&prep, &plan, batch, labels, min_agreement, progress)?;
            Checked::Plan { plan: Box::new(plan), check }
        }
    };
    Ok(Check { model: prep.model, samples: batch.n, steps, min_agreement, records: prep.records, checked: result })
}

fn plan_check(
    prep: &Prepared,
    plan: &Plan,
    batch: &InputBatch,
    labels: Option<&[usize]>,
    min_agreement: f64,
    progress: &dyn Progress,
) -> Result<PlanCheck, Error> {
    let steps = prep.steps;
    // The reference runs the cut model unsimplified: the comparison covers the
    // simplifications and the lowering.
    let (_, r, c) = verify(&prep.cut, plan, batch, steps, labels, None, progress)?;
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
    Ok(PlanCheck {
        base: json!({
            "model": prep.model.path.display().to_string(),
            "timesteps": steps,
            "plan": summary,
            "min_agreement": min_agreement,
            "passes": prep.records,
        }),
        steps,
        min_agreement,
        clock_mhz: plan.clock_mhz,
        spikes: r.outputs.spikes,
        layer_lines,
        counts: VerifyCounts::of(&r, &c, steps, labels),
        early_exit: early_exit_counts(plan, batch, steps, &c),
    })
}

/// `verify` on shard `shard` of `job`'s checked inputs: the passes and the plan are made from
/// every input (so every shard checks the same hardware), the comparison runs on the shard's
/// samples.
pub fn check_shard(job: &Job<'_>, shard: Shard, progress: &dyn Progress) -> Result<VerifyPart, Error> {
    let target = job.plan.target()?;
    if chip::backend(&target).is_some() {
        return Err(Error::Usage("--shard checks the FPGA layout's plans; a chip's back end runs unsharded".into()));
    }
    let prep = job.prepare(progress)?;
    let plan = job.plan.plan(&prep.model, prep.steps, Some(job.inputs))?;
    let checked = job.checked()?;
    let range = shard.samples(checked.inputs.n)?;
    let part = checked.inputs.range(range.clone());
    let part_labels = checked.labels.map(|l| &l[range]);
    let check = plan_check(&prep, &plan, &part, part_labels, job.passes.min_agreement, progress)?;
    Ok(VerifyPart { shard, samples_total: checked.inputs.n, check })
}
