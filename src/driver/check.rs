//! `verify`: the reference engine against the hardware (the cycle engine on the FPGA plan, or
//! a chip's own model) on the checked inputs, whole or shard by shard.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::backend;
use super::checked::{Checked, PlanCheck, agreement_failure, plan_check_cascade};
use super::mask::StudentMask;
use super::shard::{self, Shard};
use super::{Error, Job, Progress};
use crate::Model;
use crate::data::InputBatch;
use crate::options::PassSettings;
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
    check_masked(job, &StudentMask::default(), progress)
}

/// The model pruned to the students of `mask` (None without one): the reference a check under
/// the mask compares with. A mask beside compile-time student choices is refused.
/// Under `--cascade` it is the model over the active students (`compare`'s reference); `verify`
/// checks the cascade against the prefixes of its order instead ([`cascade_checked`]).
pub(super) fn masked_reference(job: &Job<'_>, mask: &StudentMask) -> Result<Option<super::Prepared>, Error> {
    if mask.active_students.is_empty() && mask.cascade.is_none() {
        return Ok(None);
    }
    if !job.passes.students.is_empty() || job.passes.keep_students.is_some() {
        return Err(Error::Usage(format!(
            "{} chooses students at run time; give it without --students or --keep-students",
            if mask.cascade.is_some() { "--cascade" } else { "--active-students" }
        )));
    }
    if mask.active_students.is_empty() {
        return Ok(None);
    }
    if mask.cascade.is_none() && !mask.cascade_order.is_empty() {
        return Err(Error::Usage("--cascade-order orders the cascade: give it with --cascade".into()));
    }
    let passes = PassSettings { students: mask.active_students.clone(), ..job.passes.clone() };
    Ok(Some(Job { passes: &passes, ..*job }.prepare(&super::Quiet)?))
}

/// [`check`] with only the students of `mask` switched on in the design at run time
/// (`verify --active-students`): the cycle engine runs the full design under the mask, the
/// reference engine the model pruned to those students.
pub fn check_masked(job: &Job<'_>, mask: &StudentMask, progress: &dyn Progress) -> Result<Check, Error> {
    let pruned = masked_reference(job, mask)?;
    let prep = job.prepare(progress)?;
    let steps = prep.steps;
    let min_agreement = job.passes.min_agreement;
    let target = job.plan.target()?;
    let checked = job.checked()?;
    let (batch, labels) = (&*checked.inputs, checked.labels);
    let (design, phase) = backend::of(&target).lay_out(&prep.model, job.plan, &target, steps, Some(job.inputs))?;
    let result = match &pruned {
        _ if mask.cascade.is_some() => {
            cascade_checked(job, mask, &prep, &*design, batch, job.inputs, labels, progress)?
        }
        None => design.check(&prep, batch, labels, min_agreement, &target, progress)?,
        Some(cut) => {
            let names = &mask.active_students;
            design.check_active(cut, batch, labels, min_agreement, &target, names, progress)?
        }
    };
    let records = prep.records.into_iter().chain(phase).collect();
    Ok(Check { model: prep.model, samples: batch.n, steps, min_agreement, records, checked: result })
}

/// `verify` on shard `shard` of `job`'s checked inputs: the passes and the plan are made from
/// every input (so every shard checks the same hardware), the comparison runs on the shard's
/// samples.
pub fn check_shard(job: &Job<'_>, shard: Shard, progress: &dyn Progress) -> Result<VerifyPart, Error> {
    check_shard_masked(job, shard, &StudentMask::default(), progress)
}

/// [`check_shard`] under a run-time student mask ([`check_masked`]).
pub fn check_shard_masked(
    job: &Job<'_>,
    shard: Shard,
    mask: &StudentMask,
    progress: &dyn Progress,
) -> Result<VerifyPart, Error> {
    let target = job.plan.target()?;
    let backend = backend::of(&target);
    if !backend.info().shards {
        return Err(Error::Usage("--shard checks the FPGA layout's plans; a chip's back end runs unsharded".into()));
    }
    let pruned = masked_reference(job, mask)?;
    let prep = job.prepare(progress)?;
    let (design, _) = backend.lay_out(&prep.model, job.plan, &target, prep.steps, Some(job.inputs))?;
    let checked = job.checked()?;
    let range = shard.samples(checked.inputs.n)?;
    let part = checked.inputs.range(range.clone());
    let part_labels = checked.labels.map(|l| &l[range]);
    let min = job.passes.min_agreement;
    let result = match &pruned {
        // The order is chosen on every input, so that every shard checks the same design.
        _ if mask.cascade.is_some() => {
            cascade_checked(job, mask, &prep, &*design, &part, job.inputs, part_labels, progress)?
        }
        None => design.check(&prep, &part, part_labels, min, &target, progress)?,
        Some(cut) => design.check_active(cut, &part, part_labels, min, &target, &mask.active_students, progress)?,
    };
    match result {
        Checked::Plan { check, .. } => Ok(VerifyPart { shard, samples_total: checked.inputs.n, check }),
        Checked::Chip { .. } => Err(Error::Usage(format!("target '{}' checks no shards", target.name))),
    }
}

/// `verify --cascade` of `design` on `batch`: the plan given the cascade (its order from
/// `--cascade-order`, or chosen on `order_on`) runs it on the cycle engine, and the reference
/// engine runs the model pruned to each prefix of the order ([`plan_check_cascade`]).
#[allow(clippy::too_many_arguments)]
fn cascade_checked(
    job: &Job<'_>,
    mask: &StudentMask,
    prep: &super::Prepared,
    design: &dyn backend::Design,
    batch: &InputBatch,
    order_on: &InputBatch,
    labels: Option<&[usize]>,
    progress: &dyn Progress,
) -> Result<Checked, Error> {
    let Some(plan) = design.plan() else {
        return Err(Error::Usage(
            "--cascade: this target cannot switch students at run time, so it cannot stop after some of them".into(),
        ));
    };
    let cascade =
        super::progress::step(progress, "choosing the cascade's order", || mask.cascade_for(plan, Some(order_on)))?
            .expect("--cascade is given");
    let st = plan.students.as_ref().expect("a plan that can run the cascade has students");
    let named = mask.resolve(plan)?;
    let active = named.clone().unwrap_or_else(|| vec![true; st.names.len()]);
    let order: Vec<usize> = cascade.order.iter().copied().filter(|&s| active[s]).collect();
    let prefixes = super::progress::step(progress, "pruning the model to each prefix of the order", || {
        (1..=order.len())
            .map(|k| {
                let passes = PassSettings {
                    students: order[..k].iter().map(|&s| st.names[s].clone()).collect(),
                    ..job.passes.clone()
                };
                Job { passes: &passes, ..*job }.prepare(&super::Quiet)
            })
            .collect::<Result<Vec<_>, Error>>()
    })?;
    let margin = cascade.margin;
    let mut plan = plan.clone();
    plan.cascade = Some(cascade);
    let min = job.passes.min_agreement;
    let named = named.is_some();
    let check = plan_check_cascade(prep, &prefixes, &plan, batch, labels, min, &active, named, margin, progress)?;
    Ok(Checked::Plan { plan: Box::new(plan), check })
}
