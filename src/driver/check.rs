//! `verify`: the reference engine against the hardware (the cycle engine on the FPGA plan, or
//! a chip's own model) on the checked inputs, whole or shard by shard.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::backend;
use super::checked::{Checked, PlanCheck, agreement_failure};
use super::shard::{self, Shard};
use super::{Error, Job, Progress};
use crate::Model;
use crate::passes::PassRecord;

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
    let (design, phase) = backend::of(&target).lay_out(&prep.model, job.plan, &target, steps, Some(job.inputs))?;
    let result = design.check(&prep, batch, labels, min_agreement, &target, progress)?;
    let records = prep.records.into_iter().chain(phase).collect();
    Ok(Check { model: prep.model, samples: batch.n, steps, min_agreement, records, checked: result })
}

/// `verify` on shard `shard` of `job`'s checked inputs: the passes and the plan are made from
/// every input (so every shard checks the same hardware), the comparison runs on the shard's
/// samples.
pub fn check_shard(job: &Job<'_>, shard: Shard, progress: &dyn Progress) -> Result<VerifyPart, Error> {
    let target = job.plan.target()?;
    let backend = backend::of(&target);
    if !backend.info().shards {
        return Err(Error::Usage("--shard checks the FPGA layout's plans; a chip's back end runs unsharded".into()));
    }
    let prep = job.prepare(progress)?;
    let (design, _) = backend.lay_out(&prep.model, job.plan, &target, prep.steps, Some(job.inputs))?;
    let checked = job.checked()?;
    let range = shard.samples(checked.inputs.n)?;
    let part = checked.inputs.range(range.clone());
    let part_labels = checked.labels.map(|l| &l[range]);
    match design.check(&prep, &part, part_labels, job.passes.min_agreement, &target, progress)? {
        Checked::Plan { check, .. } => Ok(VerifyPart { shard, samples_total: checked.inputs.n, check }),
        Checked::Chip { .. } => Err(Error::Usage(format!("target '{}' checks no shards", target.name))),
    }
}
