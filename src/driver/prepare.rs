//! The pass pipeline every model-running command shares: student pruning and the timestep
//! choice (measured on calibration data on the cycle engine), then the simplifications.

use super::options::{Criterion, PassSettings, PlanSettings};
use super::{Error, Progress};
use crate::Model;
use crate::data::InputBatch;
use crate::passes::select::{self, Bound, Evaluator};
use crate::passes::students::{self, KeepStudents};
use crate::passes::{Context, PassError, PassRecord, Pipeline};

/// A model after the passes, with the steps to run.
pub struct Prepared {
    /// After the cuts (students, timesteps): what the reference engine runs.
    pub cut: Model,
    /// After the cuts and the simplifications: what the hardware is built from.
    pub model: Model,
    /// Steps to run (T, or the chosen T').
    pub steps: usize,
    /// What each pass changed.
    pub records: Vec<PassRecord>,
}

fn record(pass: &str, m: &Model, changes: Vec<String>) -> PassRecord {
    let n = m.graph.len();
    let p = crate::passes::param_count(&m.graph);
    PassRecord { pass: pass.into(), changes, nodes: (n, n), params: (p, p) }
}

fn pct(x: f64) -> String {
    format!("{:.2}%", 100.0 * x)
}

/// Applies the pass settings to `m` (run for `steps` steps): simplifications, then student
/// pruning, then the timestep choice. `inputs` and `labels` calibrate unless the settings
/// bring their own calibration data.
pub fn prepare(
    m: Model,
    steps: usize,
    pa: &PassSettings,
    plan: &PlanSettings,
    inputs: Option<&InputBatch>,
    labels: Option<&[usize]>,
    progress: &dyn Progress,
) -> Result<Prepared, Error> {
    let path = m.path.clone();
    let failed = |err: PassError| Error::Pass { path: path.clone(), err };
    let bad = |msg: String| failed(PassError::Refused(msg));
    // Calibration data: --calib (+ --calib-labels), else --inputs (+ --labels).
    let (calib, calib_labels): (Option<&InputBatch>, Option<&[usize]>) = match &pa.calib {
        Some(c) => {
            if let Some(l) = &pa.calib_labels
                && l.len() != c.n
            {
                return Err(bad(format!("{} calibration labels for {} calibration inputs", l.len(), c.n)));
            }
            (Some(c), pa.calib_labels.as_deref())
        }
        None => {
            if pa.calib_labels.is_some() {
                return Err(bad("--calib-labels needs --calib".into()));
            }
            (inputs, labels)
        }
    };
    if pa.needs_data() && calib.is_none() {
        return Err(bad(
            "--keep-students, --energy-budget and --auto-timesteps measure on calibration data: give --calib (or --inputs)"
                .into(),
        ));
    }
    if pa.max_accuracy_drop.is_some() && calib_labels.is_none() {
        return Err(bad("--max-accuracy-drop needs labels of the calibration inputs".into()));
    }
    let criterion = match (pa.select_by, calib_labels) {
        (Some(Criterion::Accuracy), None) => {
            return Err(bad(if pa.calib.is_some() && labels.is_some() {
                "--select-by accuracy needs labels of --calib: give --calib-labels (--labels belong to --inputs)".into()
            } else {
                "--select-by accuracy needs labels of the calibration inputs (--labels, or --calib-labels with --calib)"
                    .into()
            }));
        }
        (Some(c), _) => c,
        (None, Some(_)) => Criterion::Accuracy,
        (None, None) => Criterion::Agreement,
    };
    let choices = [pa.keep_students.is_some(), !pa.students.is_empty(), pa.energy_budget.is_some()];
    if choices.iter().filter(|&&c| c).count() > 1 {
        return Err(bad("choose students one way: --keep-students, --students or --energy-budget".into()));
    }
    // The hardware clamps inputs to its quantiser's range, so bounds hold for any input there.
    let range = match calib {
        Some(b) => {
            let o = plan.options(steps, Some(b))?;
            crate::quant::input_plan("input", [1, 1, 1], &o.quant()).ok().map(|ip| ip.range())
        }
        None => None,
    };
    let cx = Context { steps, input_range: range };
    let mut records = vec![];
    let mut model = m.clone();
    // Students.
    let keep: Option<(Vec<usize>, Vec<String>)> = if !pa.students.is_empty() {
        let e = students::the_ensemble(&model.graph, &model.info).map_err(bad)?;
        let k = students::resolve(&e, &pa.students).map_err(bad)?;
        Some((k, vec![]))
    } else if pa.keep_students.is_some() || pa.energy_budget.is_some() {
        let e = students::the_ensemble(&model.graph, &model.info).map_err(bad)?;
        let b = calib.expect("checked above");
        let opts = plan.options(steps, Some(b))?;
        let by_accuracy = criterion == Criterion::Accuracy;
        let ev = Evaluator::new(&model, opts, b, calib_labels.filter(|_| by_accuracy), steps).map_err(failed)?;
        let (rows, all) = select::k_sweep(&ev, &e, steps).map_err(failed)?;
        let what = if by_accuracy { "accuracy" } else { "agreement with all students" };
        let chosen = if let Some(k) = pa.keep_students {
            if k == 0 || k > e.students.len() {
                return Err(bad(format!("--keep-students {k}: the ensemble has {} students", e.students.len())));
            }
            rows[k - 1].best.clone()
        } else {
            let budget = pa.energy_budget.expect("checked");
            match select::within_budget(&all, budget) {
                Some(s) => s.clone(),
                None => {
                    let min = all.iter().map(|s| s.energy_j).fold(f64::INFINITY, f64::min);
                    return Err(bad(format!(
                        "no student subset fits --energy-budget {budget:.3e} J (the cheapest needs {min:.3e} J)"
                    )));
                }
            }
        };
        let names: Vec<&str> = chosen.students.iter().map(|&i| e.students[i].name.as_str()).collect();
        let k = chosen.students.len();
        let row = &rows[k - 1];
        // The criterion is always said, not only with --verbose.
        progress.note(&format!(
            "students: kept {} by {what} on {} calibration inputs ({}){}",
            names.join(", "),
            b.n,
            pct(chosen.metric()),
            if by_accuracy || calib_labels.is_some() {
                String::new()
            } else if pa.calib.is_some() && labels.is_some() {
                "; --labels belong to --inputs: give --calib-labels to choose by accuracy".into()
            } else {
                "; give labels to choose by accuracy".into()
            }
        ));
        let mut notes = vec![format!(
            "chose {} on {} calibration inputs: {what} {} (mean of random {k}-subsets {}), {:.3e} J per inference",
            names.join(", "),
            b.n,
            pct(chosen.metric()),
            pct(row.random_mean),
            chosen.energy_j
        )];
        for r in &rows {
            notes.push(format!(
                "  K = {}: best {} {}, random mean {}",
                r.k,
                r.best.students.iter().map(|&i| e.students[i].name.as_str()).collect::<Vec<_>>().join("+"),
                pct(r.best.metric()),
                pct(r.random_mean)
            ));
        }
        Some((chosen.students, notes))
    } else {
        None
    };
    if let Some((k, notes)) = keep {
        let (mm, mut r) = Pipeline::new().then(KeepStudents { keep: k }).run(&model, &cx).map_err(failed)?;
        if let Some(first) = r.first_mut() {
            first.changes.extend(notes);
        }
        model = mm;
        records.extend(r);
    }
    // Timesteps.
    let mut steps_out = steps;
    if pa.auto_timesteps {
        let b = calib.expect("checked above");
        let opts = plan.options(steps, Some(b))?;
        let ev = Evaluator::new(&model, opts, b, calib_labels, steps).map_err(failed)?;
        let sweep = select::t_sweep(&ev, &model, &[], false).map_err(failed)?;
        let bound = match pa.max_accuracy_drop {
            Some(d) => Bound::MaxAccuracyDrop(d),
            None => Bound::MinAgreement(pa.min_agreement()),
        };
        let chosen = select::smallest_t(&sweep, bound).expect("full T always meets its own bound");
        steps_out = chosen.timesteps;
        let mut notes = vec![format!(
            "T = {} -> {} on {} calibration inputs ({}): agreement {}{}",
            steps,
            steps_out,
            b.n,
            match bound {
                Bound::MinAgreement(a) => format!("agreement >= {}", pct(a)),
                Bound::MaxAccuracyDrop(d) => format!("accuracy drop <= {}", pct(d)),
            },
            pct(chosen.agreement),
            chosen.accuracy.map(|a| format!(", accuracy {}", pct(a))).unwrap_or_default()
        )];
        for s in &sweep {
            notes.push(format!(
                "  T' = {}: agreement {}{}, {:.3e} J, {:.0} cycles",
                s.timesteps,
                pct(s.agreement),
                s.accuracy.map(|a| format!(", accuracy {}", pct(a))).unwrap_or_default(),
                s.energy_j,
                s.cycles
            ));
        }
        records.push(record("auto-timesteps", &model, notes));
    }
    let cut = model.clone();
    if !pa.no_simplify {
        let cx = Context { steps: steps_out, input_range: range };
        let (mm, r) = Pipeline::simplify().run(&model, &cx).map_err(failed)?;
        model = mm;
        records.extend(r);
    }
    Ok(Prepared { cut, model, steps: steps_out, records })
}
