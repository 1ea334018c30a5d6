//! The pass pipeline every model-running command shares: student pruning and the timestep
//! choice (measured on calibration data on the cycle engine), then the simplifications.

use super::{Error, Progress};
use crate::Model;
use crate::data::InputBatch;
use crate::dse::{self as select, Bound, DseError, Evaluator};
use crate::options::{Criterion, PassSettings, PlanSettings};
use crate::passes::students::{self, Ensemble, KeepStudents};
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

fn pct(x: f64) -> String {
    format!("{:.2}%", 100.0 * x)
}

/// The data the passes' choices measure on, and how they choose.
struct Calibration<'a> {
    inputs: Option<&'a InputBatch>,
    labels: Option<&'a [usize]>,
    criterion: Criterion,
    /// `--calib` came with `--labels` of the inputs but no `--calib-labels`.
    labels_elsewhere: bool,
}

/// What the pass settings refuse, as the pass error of `m`'s file.
fn refused(m: &Model, msg: impl Into<String>) -> Error {
    Error::Pass { path: m.path.clone(), err: PassError::Refused(msg.into()) }
}

/// The calibration data (`--calib` with `--calib-labels`, else the inputs with their labels)
/// and the criterion of the student choice, every combination of options checked.
fn calibration<'a>(
    m: &Model,
    pa: &'a PassSettings,
    inputs: Option<&'a InputBatch>,
    labels: Option<&'a [usize]>,
) -> Result<Calibration<'a>, Error> {
    let (calib, calib_labels) = match &pa.calib {
        Some(c) => {
            if let Some(l) = &pa.calib_labels
                && l.len() != c.n
            {
                return Err(refused(m, format!("{} calibration labels for {} calibration inputs", l.len(), c.n)));
            }
            (Some(c), pa.calib_labels.as_deref())
        }
        None if pa.calib_labels.is_some() => return Err(refused(m, "--calib-labels needs --calib")),
        None => (inputs, labels),
    };
    if pa.needs_data() && calib.is_none() {
        return Err(refused(
            m,
            "--keep-students, --energy-budget and --auto-timesteps measure on calibration data: give --calib (or --inputs)",
        ));
    }
    if pa.max_accuracy_drop.is_some() && calib_labels.is_none() {
        return Err(refused(m, "--max-accuracy-drop needs labels of the calibration inputs"));
    }
    let criterion = match (pa.select_by, calib_labels) {
        (Some(Criterion::Accuracy), None) => {
            return Err(refused(
                m,
                if pa.calib.is_some() && labels.is_some() {
                    "--select-by accuracy needs labels of --calib: give --calib-labels (--labels belong to --inputs)"
                } else {
                    "--select-by accuracy needs labels of the calibration inputs (--labels, or --calib-labels with \
                     --calib)"
                },
            ));
        }
        (Some(c), _) => c,
        (None, Some(_)) => Criterion::Accuracy,
        (None, None) => Criterion::Agreement,
    };
    let choices = [pa.keep_students.is_some(), !pa.students.is_empty(), pa.energy_budget.is_some()];
    if choices.iter().filter(|&&c| c).count() > 1 {
        return Err(refused(m, "choose students one way: --keep-students, --students or --energy-budget"));
    }
    let labels_elsewhere = pa.calib.is_some() && labels.is_some() && calib_labels.is_none();
    Ok(Calibration { inputs: calib, labels: calib_labels, criterion, labels_elsewhere })
}

/// The students chosen by measurement (`--keep-students`, `--energy-budget`) on `b`, with the
/// notes that say how.
fn measured_students(
    model: &Model,
    e: &Ensemble,
    pa: &PassSettings,
    plan: &PlanSettings,
    steps: usize,
    cal: &Calibration<'_>,
    progress: &dyn Progress,
) -> Result<(Vec<usize>, Vec<String>), Error> {
    let failed = |err: DseError| Error::Choice { path: model.path.clone(), err };
    let b = cal.inputs.expect("checked by calibration()");
    let by_accuracy = cal.criterion == Criterion::Accuracy;
    let ev = Evaluator::new(model, plan.options(steps, Some(b))?, b, cal.labels.filter(|_| by_accuracy), steps)
        .map_err(failed)?;
    let (rows, all) = select::k_sweep(&ev, e, steps).map_err(failed)?;
    let what = if by_accuracy { "accuracy" } else { "agreement with all students" };
    let chosen = match (pa.keep_students, pa.energy_budget) {
        (Some(k), _) if k == 0 || k > e.students.len() => {
            return Err(refused(model, format!("--keep-students {k}: the ensemble has {} students", e.students.len())));
        }
        (Some(k), _) => rows[k - 1].best.clone(),
        (None, budget) => {
            let budget = budget.expect("a measured choice");
            select::within_budget(&all, budget).cloned().ok_or_else(|| {
                let min = all.iter().map(|s| s.energy_j).fold(f64::INFINITY, f64::min);
                refused(
                    model,
                    format!("no student subset fits --energy-budget {budget:.3e} J (the cheapest needs {min:.3e} J)"),
                )
            })?
        }
    };
    let name = |i: &usize| e.students[*i].name.as_str();
    let names: Vec<&str> = chosen.students.iter().map(name).collect();
    let k = chosen.students.len();
    // The criterion is always said, not only with --verbose.
    progress.note(&format!(
        "students: kept {} by {what} on {} calibration inputs ({}){}",
        names.join(", "),
        b.n,
        pct(chosen.metric()),
        if by_accuracy || cal.labels.is_some() {
            ""
        } else if cal.labels_elsewhere {
            "; --labels belong to --inputs: give --calib-labels to choose by accuracy"
        } else {
            "; give labels to choose by accuracy"
        }
    ));
    let mut notes = vec![format!(
        "chose {} on {} calibration inputs: {what} {} (mean of random {k}-subsets {}), {:.3e} J per inference",
        names.join(", "),
        b.n,
        pct(chosen.metric()),
        pct(rows[k - 1].random_mean),
        chosen.energy_j
    )];
    for r in &rows {
        let best: Vec<&str> = r.best.students.iter().map(name).collect();
        notes.push(format!(
            "  K = {}: best {} {}, random mean {}",
            r.k,
            best.join("+"),
            pct(r.best.metric()),
            pct(r.random_mean)
        ));
    }
    Ok((chosen.students, notes))
}

/// The smallest T' that meets the bound on the calibration data, and its record.
fn auto_timesteps(
    model: &Model,
    pa: &PassSettings,
    plan: &PlanSettings,
    steps: usize,
    cal: &Calibration<'_>,
) -> Result<(usize, PassRecord), Error> {
    let failed = |err: DseError| Error::Choice { path: model.path.clone(), err };
    let b = cal.inputs.expect("checked by calibration()");
    let ev = Evaluator::new(model, plan.options(steps, Some(b))?, b, cal.labels, steps).map_err(failed)?;
    let sweep = select::t_sweep(&ev, model, &[], false).map_err(failed)?;
    let bound = match pa.max_accuracy_drop {
        Some(d) => Bound::MaxAccuracyDrop(d),
        None => Bound::MinAgreement(pa.min_agreement),
    };
    let chosen = select::smallest_t(&sweep, bound).expect("full T always meets its own bound");
    let accuracy = |a: Option<f64>| a.map(|a| format!(", accuracy {}", pct(a))).unwrap_or_default();
    let mut notes = vec![format!(
        "T = {} -> {} on {} calibration inputs ({}): agreement {}{}",
        steps,
        chosen.timesteps,
        b.n,
        match bound {
            Bound::MinAgreement(a) => format!("agreement >= {}", pct(a)),
            Bound::MaxAccuracyDrop(d) => format!("accuracy drop <= {}", pct(d)),
        },
        pct(chosen.agreement),
        accuracy(chosen.accuracy)
    )];
    for s in &sweep {
        notes.push(format!(
            "  T' = {}: agreement {}{}, {:.3e} J, {:.0} cycles",
            s.timesteps,
            pct(s.agreement),
            accuracy(s.accuracy),
            s.energy_j,
            s.cycles
        ));
    }
    let (n, p) = (model.graph.len(), crate::passes::param_count(&model.graph));
    let record = PassRecord { pass: "auto-timesteps".into(), changes: notes, nodes: (n, n), params: (p, p) };
    Ok((chosen.timesteps, record))
}

/// Applies the pass settings to `m` (run for `steps` steps): student pruning, then the
/// timestep choice, then the simplifications. `inputs` and `labels` calibrate unless the
/// settings bring their own calibration data.
pub fn prepare(
    m: Model,
    steps: usize,
    pa: &PassSettings,
    plan: &PlanSettings,
    inputs: Option<&InputBatch>,
    labels: Option<&[usize]>,
    progress: &dyn Progress,
) -> Result<Prepared, Error> {
    let failed = |err: PassError| Error::Pass { path: m.path.clone(), err };
    let cal = calibration(&m, pa, inputs, labels)?;
    // The hardware clamps inputs to its quantiser's range, so bounds hold for any input there.
    let range = match cal.inputs {
        Some(b) => {
            let o = plan.options(steps, Some(b))?;
            crate::quant::input_plan("input", [1, 1, 1], &o.quant()).ok().map(|ip| ip.range())
        }
        None => None,
    };
    let mut records = vec![];
    let mut model = m.clone();
    let keep = if !pa.students.is_empty() {
        let e = students::the_ensemble(&model.graph, &model.info).map_err(|e| refused(&m, e.to_string()))?;
        Some((students::resolve(&e, &pa.students).map_err(|e| refused(&m, e.to_string()))?, vec![]))
    } else if pa.keep_students.is_some() || pa.energy_budget.is_some() {
        let e = students::the_ensemble(&model.graph, &model.info).map_err(|e| refused(&m, e.to_string()))?;
        Some(measured_students(&model, &e, pa, plan, steps, &cal, progress)?)
    } else {
        None
    };
    if let Some((k, notes)) = keep {
        let cx = Context { steps, input_range: range };
        let (mm, mut r) = Pipeline::new().then(KeepStudents { keep: k }).run(&model, &cx).map_err(failed)?;
        if let Some(first) = r.first_mut() {
            first.changes.extend(notes);
        }
        model = mm;
        records.extend(r);
    }
    let mut steps_out = steps;
    if pa.auto_timesteps {
        let (t, record) = auto_timesteps(&model, pa, plan, steps, &cal)?;
        steps_out = t;
        records.push(record);
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
