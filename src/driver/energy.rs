//! `energy`: energy per inference on a target (the cycle engine's counters on the FPGA plan, or
//! a chip back end's own estimate) and on the targets it is compared with, with NeuroBench's
//! counts and the conventional network's cost beside it.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::backend::{self, Design};
use super::verify::html_report;
use super::{Error, Job, Progress};
use crate::Model;
use crate::data::{self, InputBatch};
use crate::energy::Estimate;
use crate::energy::neurobench::{self, Counts};
use crate::passes::PassRecord;
use crate::sim::cycle;

/// What `energy` takes besides the model, inputs and the shared options.
#[derive(Clone, Debug, Default, PartialEq, clap::Args, Serialize, Deserialize)]
#[serde(default)]
pub struct EnergySettings {
    /// More targets to compare, comma-separated (e.g. loihi,truenorth,generic-45nm).
    #[arg(long, value_delimiter = ',')]
    pub compare: Vec<String>,
    /// Write a self-contained HTML report (charts as inline SVG) to this file (FPGA and ASIC
    /// targets).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// The sample whose spike raster the report shows.
    #[arg(long, default_value_t = 0)]
    pub raster_sample: usize,
    /// Run only these students of the ensemble (names or indices as `inspect` lists them,
    /// comma-separated), a run-time input of the one design (see `simulate`); a compared target
    /// that cannot switch students at run time is listed as refused.
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub active_students: Vec<String>,
    /// Run the active students as an input-adaptive cascade with this margin (see
    /// `simulate`); a compared target that cannot switch students is listed as refused. The
    /// NeuroBench counts are those of every active student's model.
    #[arg(long, value_name = "MARGIN")]
    pub cascade: Option<u64>,
    /// The cascade's order (see `simulate`).
    #[arg(long, value_delimiter = ',', value_name = "NAMES", requires = "cascade")]
    pub cascade_order: Vec<String>,
}

/// What `energy` estimated.
pub struct EnergyRun {
    /// The model after the passes.
    pub model: Model,
    /// Timesteps.
    pub steps: usize,
    /// One estimate per target, the main target first.
    pub estimates: Vec<Estimate>,
    /// NeuroBench-compatible counts (reference engine, the model before simplification).
    pub counts: Counts,
    /// Which model `counts` counts: the model, the model pruned to the active students, or
    /// under the cascade the model over every active student (the cascade's stages are not
    /// a model NeuroBench counts).
    pub counts_of: String,
    /// Accuracy of the hardware, with labels.
    pub accuracy: Option<f64>,
    /// What the passes changed.
    pub records: Vec<PassRecord>,
    /// The HTML report written.
    pub report: Option<PathBuf>,
    /// Compared targets that cannot take the model, and why.
    pub refused: Vec<Refusal>,
}

/// One target's estimate, the classes of its run, and the FPGA plan and run (a chip's: none).
/// A target's estimate, its classes, and its design with the cycle engine's run (for the report).
type Priced = (Estimate, Vec<usize>, (Box<dyn Design>, Option<cycle::BatchResult>));

/// A compared target that cannot take the model.
#[derive(Clone, Debug, Serialize)]
pub struct Refusal {
    /// Target name.
    pub target: String,
    /// Why (the limit and the figure, or the reason).
    pub why: String,
}

impl EnergyRun {
    /// What `energy --json` prints.
    pub fn json(&self) -> Value {
        json!({
            "model": self.model.path.display().to_string(),
            "timesteps": self.steps,
            "energy_per_inference_j": self.estimates[0].energy_per_inference_j,
            "accuracy": self.accuracy,
            "counts": self.counts,
            "counts_of": self.counts_of,
            "passes": self.records,
            "estimate": self.estimates[0],
            "compare": &self.estimates[1..],
            "refused": self.refused,
            "report": self.report.as_ref().map(|p| p.display().to_string()),
        })
    }
}

/// NeuroBench-compatible counts of the model on `batch` (reference engine).
pub fn counts(m: &Model, batch: &InputBatch, steps: usize) -> Result<Counts, Error> {
    Ok(neurobench::count(&m.graph, &m.info, m.dialect(), batch, steps)?)
}

/// Energy per inference on `job`'s target and on each of `s.compare`, averaged over the checked
/// inputs; with `s.report`, the HTML report is written there.
pub fn energy(job: &Job<'_>, s: &EnergySettings, progress: &dyn Progress) -> Result<EnergyRun, Error> {
    if s.cascade.is_none() && !s.cascade_order.is_empty() {
        return Err(Error::Usage("--cascade-order orders the cascade: give it with --cascade".into()));
    }
    if (!s.active_students.is_empty() || s.cascade.is_some())
        && (!job.passes.students.is_empty() || job.passes.keep_students.is_some())
    {
        return Err(Error::Usage(
            "--active-students chooses students at run time; give it without --students or --keep-students".into(),
        ));
    }
    let prep = job.prepare(progress)?;
    let (steps, m) = (prep.steps, &prep.model);
    let checked = job.checked()?;
    let batch = &*checked.inputs;
    let mut estimates = vec![];
    let mut refused = vec![];
    let mut main = None;
    let mut classes = None;
    for (k, name) in std::iter::once(&job.plan.target).chain(&s.compare).enumerate() {
        // A compared target that cannot take the model is a row that says why; the main
        // target's refusal is the command's error.
        let one = || -> Result<Priced, Error> {
            let t = job.plan.target_named(name)?;
            let (design, _) = backend::of(&t).lay_out(m, job.plan, &t, steps, Some(job.inputs))?;
            let cascade =
                s.cascade.map(|margin| backend::CascadeArgs { margin, order: &s.cascade_order, calib: job.inputs });
            let run = backend::run_design(&*design, batch, &t, &s.active_students, cascade)?;
            let est = run.estimate.ok_or_else(|| Error::Usage(format!("target '{}' publishes no power", t.name)))?;
            Ok((est, run.outputs.classes(), (design, run.cycle)))
        };
        match one() {
            Ok((est, c, built)) => {
                estimates.push(est);
                if k == 0 {
                    (classes, main) = (Some(c), Some(built));
                }
            }
            Err(e) if k > 0 => {
                progress.note(&format!("{}: not compared: {e}", crate::names::label(name)));
                refused.push(Refusal { target: crate::names::label(name), why: e.to_string() });
            }
            Err(e) => return Err(e),
        }
    }
    // NeuroBench counts the model that ran: with a mask, the model without the other students.
    // The cascade runs a prefix of them per input, the merge layer once per stage: not one
    // model, so the counts are those of every active student, and say so.
    let counts = if s.active_students.is_empty() {
        counts(&prep.cut, batch, steps)?
    } else {
        let passes = crate::options::PassSettings { students: s.active_students.clone(), ..job.passes.clone() };
        let pruned = Job { passes: &passes, ..*job }.prepare(progress)?;
        counts(&pruned.cut, batch, steps)?
    };
    let counts_of = match (s.cascade, s.active_students.is_empty()) {
        (Some(_), true) => "the model with every student (the cascade stops earlier; its stages are not counted)",
        (Some(_), false) => {
            "the model pruned to the active students (the cascade stops earlier; its stages are not counted)"
        }
        (None, true) => "the model",
        (None, false) => "the model pruned to the active students",
    }
    .to_string();
    if let Some(path) = &s.report {
        // The report draws the FPGA plan of the main target.
        let drawn = main.as_ref().and_then(|(d, run): &(Box<dyn Design>, _)| d.plan().zip(run.as_ref()));
        let Some((plan, run)) = drawn else {
            return Err(Error::Usage("--report draws an FPGA plan; give an FPGA or ASIC --target".into()));
        };
        // The raster is the design's own run of its sample: under the students that ran it
        // (with the cascade, those of the stage it stopped at: what its output is).
        let order = match s.cascade {
            Some(_) => Some(super::mask::cascade_order(plan, Some(job.inputs), &s.cascade_order)?),
            None => None,
        };
        let mut drawn_plan = plan.clone();
        drawn_plan.power_on = raster_students(plan, run, s.raster_sample, &s.active_students, order.as_deref())?;
        let plan = &drawn_plan;
        let l = checked.labels;
        html_report(
            path,
            m,
            plan,
            batch,
            run,
            s.raster_sample,
            l,
            estimates.clone(),
            Some(counts.clone()),
            None,
            vec![],
        )?;
    }
    let accuracy = checked.labels.zip(classes).map(|(l, c)| data::agreement(&c, l));
    Ok(EnergyRun {
        model: prep.model,
        steps,
        estimates,
        counts,
        counts_of,
        accuracy,
        records: prep.records,
        report: s.report.clone(),
        refused,
    })
}

/// The students of the report's raster sample `sample` (None: every student, no mask):
/// `names` (every student when empty) and, under the cascade in `order`, only the first of
/// them in that order, as many as the sample's stages in `run`.
fn raster_students(
    plan: &crate::hw::Plan,
    run: &cycle::BatchResult,
    sample: usize,
    names: &[String],
    order: Option<&[usize]>,
) -> Result<Option<Vec<bool>>, Error> {
    use crate::quant::students::MaskError;
    if names.is_empty() && order.is_none() {
        return Ok(None);
    }
    let st = plan.students.as_ref().ok_or(MaskError::NoEnsemble).map_err(super::mask::mask_usage)?;
    let mut active = match names {
        [] => vec![true; st.names.len()],
        names => st.mask(names).map_err(super::mask::mask_usage)?,
    };
    if let Some(order) = order {
        let stages = run.samples.get(sample).map_or(1, |s| s.stage_raw.len() + 1);
        let ran: Vec<usize> = order.iter().copied().filter(|&k| active[k]).take(stages).collect();
        active = (0..active.len()).map(|k| ran.contains(&k)).collect();
    }
    Ok(Some(active))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::PlanSettings;
    use crate::target::ScheduleChoice;
    use std::path::PathBuf;

    /// The report's raster runs the students that produced its sample's output: none chosen
    /// without a mask or the cascade; the mask's; under the cascade the first of the order, as
    /// many as the sample's stages (margin 0: one, a margin no output reaches: all of them).
    #[test]
    fn the_raster_runs_the_students_of_its_sample() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let o: crate::ir::dialect::DialectOverrides =
            serde_json::from_value(serde_json::json!({"timesteps": 8, "reset": "zero"})).unwrap();
        let m = Model::load(&root.join("models/ensemble_bw/ensemble_bw.nir"), &o).unwrap();
        let input = m.graph.the_input().unwrap();
        let batch =
            InputBatch::load(&root.join("models/digits_test_x.npy"), &m.info.out_shape[input.index()]).unwrap().take(3);
        let settings = PlanSettings {
            target: "ice40-up5k".into(),
            schedule: Some(ScheduleChoice::Streamed),
            ..Default::default()
        };
        let opts = settings.options(8, Some(&batch)).unwrap();
        let plan = crate::driver::options::lower(&m, &opts, Some(&batch)).unwrap();
        let order = [2, 0, 1, 3];
        let mut ordered = plan.clone();
        ordered.cascade = Some(crate::hw::Cascade { margin: 0, order: order.to_vec() });
        let plain = cycle::run(&plan, &batch, 8);
        assert_eq!(raster_students(&plan, &plain, 0, &[], None).unwrap(), None);
        let s02 = ["s0".to_string(), "s2".to_string()];
        assert_eq!(raster_students(&plan, &plain, 0, &s02, None).unwrap(), Some(vec![true, false, true, false]));
        let first = cycle::run_cascade(&ordered, &batch, 8, &[true; 4], 0).unwrap();
        assert_eq!(
            raster_students(&plan, &first, 1, &[], Some(&order)).unwrap(),
            Some(vec![false, false, true, false])
        );
        assert_eq!(
            raster_students(&plan, &first, 1, &s02, Some(&order)).unwrap(),
            Some(vec![false, false, true, false])
        );
        let all = cycle::run_cascade(&ordered, &batch, 8, &[true; 4], 1000).unwrap();
        assert_eq!(raster_students(&plan, &all, 2, &[], Some(&order)).unwrap(), Some(vec![true; 4]));
        assert_eq!(raster_students(&plan, &all, 2, &s02, Some(&order)).unwrap(), Some(vec![true, false, true, false]));
        // The report's spike rates: a student's layers run T steps once whichever stage they
        // are in, so with every stage run (margin 1000) they are the plain run's.
        let st = plan.students.as_ref().unwrap();
        let (r_all, r_plain) = (crate::report::rates(&plan, &all), crate::report::rates(&plan, &plain));
        for (k, l) in plan.layers.iter().enumerate().filter(|(k, l)| st.layer[*k].is_some() && l.spiking()) {
            assert_eq!(r_all[k], r_plain[k], "{}", l.name);
            assert!(r_plain[k] > 0.0, "{}", l.name);
        }
    }
}
