//! Verification steps shared by `verify`, `compile` and `cosim`: the reference engine against
//! the cycle engine, early exit against running every step, the RTL against the cycle engine
//! (with a predicted cost and a budget), and the HTML report.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::progress::step;
use super::{Error, Progress, Step};
use crate::Model;
use crate::data::{self, InputBatch};
use crate::energy::Estimate;
use crate::energy::neurobench::{Counter, Counts};
use crate::flow::cosim::{self, CosimReport, Simulator, SimulatorChoice};
use crate::hw::Plan;
use crate::report::{self, ReportData, Resources, TradeOff};
use crate::sim::cycle::{self, BatchResult, SampleResult};
use crate::sim::reference::{self, RunOptions, RunResult};

/// The hardware plan against the reference engine on the same inputs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Verification {
    /// Samples compared.
    pub samples: usize,
    /// Fraction of samples whose class is the same.
    pub class_agreement: f64,
    /// Output values (spikes or membranes) that agree, over the steps the hardware ran.
    pub output_agreement: f64,
    /// Output values that differ.
    pub output_elements_differing: usize,
    /// Accuracy of the reference engine, with labels.
    pub reference_accuracy: Option<f64>,
    /// Accuracy of the cycle engine (the hardware), with labels.
    pub cycle_accuracy: Option<f64>,
    /// Cycles per inference, mean.
    pub cycles_mean: f64,
    /// Cycles per inference, least.
    pub cycles_min: u64,
    /// Cycles per inference, most.
    pub cycles_max: u64,
    /// Mean latency at the plan's clock, microseconds.
    pub latency_us_mean: f64,
    /// Saturated state writes (0 unless the state width is capped).
    pub saturations: u64,
}

/// What a [`Verification`] is computed from: counts that add up over parts of a batch, so
/// that sharded runs merge into exactly the figures of one run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VerifyCounts {
    /// Samples compared.
    pub samples: usize,
    /// Samples whose class is the same.
    pub classes_agreeing: usize,
    /// Output values compared (over the steps the hardware ran).
    pub compared: usize,
    /// Output values that differ.
    pub differing: usize,
    /// Samples the reference engine classifies right, with labels.
    pub reference_correct: Option<usize>,
    /// Samples the cycle engine classifies right, with labels.
    pub cycle_correct: Option<usize>,
    /// Cycles over every inference.
    pub cycles_total: u64,
    /// Cycles of the shortest inference.
    pub cycles_min: Option<u64>,
    /// Cycles of the longest inference.
    pub cycles_max: Option<u64>,
    /// Saturated state writes.
    pub saturations: u64,
}

impl VerifyCounts {
    /// Counts the reference run `r` against the cycle run `c` of the same inputs.
    pub fn of(r: &RunResult, c: &BatchResult, steps: usize, labels: Option<&[usize]>) -> VerifyCounts {
        let (rc, cc) = (r.outputs.classes(), c.outputs.classes());
        // Compare the steps the hardware ran (all T, or up to an early exit).
        let per_step = r.outputs.numel;
        let (mut differing, mut compared) = (0usize, 0usize);
        for (i, s) in c.samples.iter().enumerate() {
            let run = (s.counters.steps_run as usize).min(steps);
            let base = i * steps * per_step;
            let (x, y) = (&r.outputs.data[base..base + run * per_step], &c.outputs.data[base..base + run * per_step]);
            differing += x.iter().zip(y).filter(|(a, b)| a != b).count();
            compared += run * per_step;
        }
        let same = |a: &[usize], b: &[usize]| a.iter().zip(b).filter(|(x, y)| x == y).count();
        let cycles = c.cycles();
        VerifyCounts {
            samples: rc.len(),
            classes_agreeing: same(&rc, &cc),
            compared,
            differing,
            reference_correct: labels.map(|l| same(&rc, l)),
            cycle_correct: labels.map(|l| same(&cc, l)),
            cycles_total: cycles.iter().sum(),
            cycles_min: cycles.iter().copied().min(),
            cycles_max: cycles.iter().copied().max(),
            saturations: c.total.saturations(),
        }
    }

    /// Adds the counts of another part of the batch.
    pub fn add(&mut self, o: &VerifyCounts) {
        let opt = |a: Option<usize>, b: Option<usize>| a.zip(b).map(|(x, y)| x + y);
        self.samples += o.samples;
        self.classes_agreeing += o.classes_agreeing;
        self.compared += o.compared;
        self.differing += o.differing;
        self.reference_correct = opt(self.reference_correct, o.reference_correct);
        self.cycle_correct = opt(self.cycle_correct, o.cycle_correct);
        self.cycles_total += o.cycles_total;
        self.cycles_min = [self.cycles_min, o.cycles_min].into_iter().flatten().min();
        self.cycles_max = [self.cycles_max, o.cycles_max].into_iter().flatten().max();
        self.saturations += o.saturations;
    }

    /// The figures, latency at `clock_mhz`.
    pub fn verification(&self, clock_mhz: f64) -> Verification {
        let n = self.samples;
        let ratio = |k: usize| if n == 0 { 1.0 } else { k as f64 / n as f64 };
        let mean = self.cycles_total as f64 / n.max(1) as f64;
        Verification {
            samples: n,
            class_agreement: ratio(self.classes_agreeing),
            output_agreement: 1.0 - self.differing as f64 / self.compared.max(1) as f64,
            output_elements_differing: self.differing,
            reference_accuracy: self.reference_correct.map(ratio),
            cycle_accuracy: self.cycle_correct.map(ratio),
            cycles_mean: mean,
            cycles_min: self.cycles_min.unwrap_or(0),
            cycles_max: self.cycles_max.unwrap_or(0),
            latency_us_mean: mean / clock_mhz,
            saturations: self.saturations,
        }
    }
}

/// Runs the reference engine on `cut` (the model before simplification, as the framework
/// computes it) and the cycle engine on `plan` over `batch`, and compares them; `counter`
/// counts NeuroBench's metrics on the same reference run. Both engines run on consecutive
/// parts of the batch (about a second of work each), so the progress shows samples done and
/// an estimate of the time left; the results are exactly those of one run over the batch.
pub fn verify(
    cut: &Model,
    plan: &Plan,
    batch: &InputBatch,
    steps: usize,
    labels: Option<&[usize]>,
    counter: Option<&Counter>,
    progress: &dyn Progress,
) -> Result<(Verification, RunResult, BatchResult), Error> {
    verify_active(cut, plan, batch, steps, labels, counter, None, progress)
}

/// [`verify`] with the cycle engine running only the students `active` (None: every student;
/// [`cycle::run_active`]): `cut` is then the model pruned to those students.
#[allow(clippy::too_many_arguments)]
pub fn verify_active(
    cut: &Model,
    plan: &Plan,
    batch: &InputBatch,
    steps: usize,
    labels: Option<&[usize]>,
    counter: Option<&Counter>,
    active: Option<&[bool]>,
    progress: &dyn Progress,
) -> Result<(Verification, RunResult, BatchResult), Error> {
    let output = cut.graph.select_output(None).map_err(crate::sim::reference::SimError::from)?;
    let what = format!("verifying {} samples against the reference engine", batch.n);
    progress.begin(&what, Some(batch.n as u64));
    let t0 = std::time::Instant::now();
    let opts = RunOptions { steps, f64: false, output };
    let hook = counter.map(|c| c as &dyn reference::StepHook);
    let threads = rayon::current_num_threads().max(1);
    let (mut runs, mut done, mut part) = (vec![], 0usize, threads);
    while done < batch.n || runs.is_empty() {
        let n = part.min(batch.n - done);
        let range = done..done + n;
        let owned;
        let b = if n == batch.n {
            batch
        } else {
            owned = batch.range(range);
            &owned
        };
        let r = match reference::run(&cut.graph, &cut.info, cut.dialect(), b, &opts, hook) {
            Ok(r) => r,
            Err(e) => {
                progress.end(&what, t0.elapsed().as_secs_f64());
                return Err(e.into());
            }
        };
        let c = match active {
            None => cycle::run(plan, b, steps),
            Some(a) => match cycle::run_active(plan, b, steps, a) {
                Ok(c) => c,
                Err(e) => {
                    progress.end(&what, t0.elapsed().as_secs_f64());
                    return Err(super::mask::mask_usage(e));
                }
            },
        };
        runs.push((r, c));
        done += n;
        progress.advance(done as u64);
        // The next part: about a second at the rate so far, at least a sample per thread.
        let per_sample = t0.elapsed().as_secs_f64() / done.max(1) as f64;
        part = ((1.0 / per_sample.max(1e-9)) as usize).max(threads);
        if n == 0 {
            break;
        }
    }
    progress.end(&what, t0.elapsed().as_secs_f64());
    let (r, c) = join_runs(runs);
    let v = VerifyCounts::of(&r, &c, steps, labels).verification(plan.clock_mhz);
    Ok((v, r, c))
}

/// What the cascade's check counts beyond [`VerifyCounts`]: where the design and the reference
/// stopped, and the outputs of the stages before the last. Adds up over parts of a batch.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CascadeCounts {
    /// Samples.
    pub samples: usize,
    /// Samples whose design stopped at the stage the reference stopped at.
    pub same_stage: usize,
    /// Stages the design ran, over every inference.
    pub stages: u64,
    /// Stages the reference ran (its first prefix whose margin reaches the threshold).
    pub reference_stages: u64,
    /// Output values of the design's stages before its last, compared with the reference's
    /// prefix of the same length.
    pub stage_compared: usize,
    /// Those that differ.
    pub stage_differing: usize,
}

impl CascadeCounts {
    /// Adds the counts of another part of the batch.
    pub fn add(&mut self, o: &CascadeCounts) {
        self.samples += o.samples;
        self.same_stage += o.same_stage;
        self.stages += o.stages;
        self.reference_stages += o.reference_stages;
        self.stage_compared += o.stage_compared;
        self.stage_differing += o.stage_differing;
    }
}

/// The margin of sample `i` of the reference's outputs, counted as the design's is
/// ([`cycle::output_margin`]; spikes are 0/1, so the counts are integers).
fn reference_margin(o: &data::Outputs, i: usize) -> u64 {
    let per_sample = o.steps * o.numel;
    let raw: Vec<i64> = o.data[i * per_sample..(i + 1) * per_sample].iter().map(|v| v.round() as i64).collect();
    cycle::output_margin(&raw, o.numel)
}

/// The cascade against the reference engine: `prefixes[k]` is the model pruned to the first
/// k + 1 students of `plan`'s cascade order among the `active` ones; the reference runs each
/// and stops, as the design does, at the first prefix whose margin reaches `margin` (or the
/// last). The cycle engine runs the cascade ([`cycle::run_cascade`]). The final outputs
/// compare as in [`verify`]; the design's earlier stages against the reference's prefixes.
#[allow(clippy::too_many_arguments)]
pub fn verify_cascade(
    prefixes: &[&Model],
    plan: &Plan,
    batch: &InputBatch,
    steps: usize,
    labels: Option<&[usize]>,
    active: &[bool],
    margin: u64,
    progress: &dyn Progress,
) -> Result<(VerifyCounts, CascadeCounts), Error> {
    let what = format!("verifying {} samples through a cascade of {} students", batch.n, prefixes.len());
    progress.begin(&what, Some((batch.n * (prefixes.len() + 1)) as u64));
    let t0 = std::time::Instant::now();
    let runs = || -> Result<(Vec<RunResult>, BatchResult), Error> {
        let mut refs = Vec::with_capacity(prefixes.len());
        for (k, m) in prefixes.iter().enumerate() {
            let output = m.graph.select_output(None).map_err(crate::sim::reference::SimError::from)?;
            let opts = RunOptions { steps, f64: false, output };
            refs.push(reference::run(&m.graph, &m.info, m.dialect(), batch, &opts, None)?);
            progress.advance(((k + 1) * batch.n) as u64);
        }
        let c = cycle::run_cascade(plan, batch, steps, active, margin).map_err(super::mask::mask_usage)?;
        progress.advance((batch.n * (prefixes.len() + 1)) as u64);
        Ok((refs, c))
    };
    let done = runs();
    progress.end(&what, t0.elapsed().as_secs_f64());
    let (refs, c) = done?;
    let Some(first) = refs.first() else {
        return Err(Error::Usage("--cascade: no student is active".into()));
    };
    // The reference's cascade: each sample's outputs from the prefix it stops at.
    let mut r = first.clone();
    let per_sample = steps * r.outputs.numel;
    let mut counts = CascadeCounts { samples: batch.n, ..CascadeCounts::default() };
    for (i, s) in c.samples.iter().enumerate() {
        let stop = (0..refs.len()).find(|&k| reference_margin(&refs[k].outputs, i) >= margin).unwrap_or(refs.len() - 1);
        let base = i * per_sample;
        r.outputs.data[base..base + per_sample].copy_from_slice(&refs[stop].outputs.data[base..base + per_sample]);
        let ran = s.stage_raw.len() + 1;
        counts.stages += ran as u64;
        counts.reference_stages += stop as u64 + 1;
        counts.same_stage += usize::from(ran == stop + 1);
        for (k, raw) in s.stage_raw.iter().enumerate() {
            let want = &refs[k].outputs.data[base..base + per_sample];
            counts.stage_compared += want.len();
            counts.stage_differing +=
                raw.iter().zip(want).filter(|(a, b)| **a as f64 != **b).count() + want.len().abs_diff(raw.len());
        }
    }
    Ok((VerifyCounts::of(&r, &c, steps, labels), counts))
}

/// One run of consecutive parts of a batch, in order.
fn join_runs(runs: Vec<(RunResult, BatchResult)>) -> (RunResult, BatchResult) {
    let mut it = runs.into_iter();
    let (mut r, mut c) = it.next().expect("at least one part");
    for (r2, c2) in it {
        r.outputs.n += r2.outputs.n;
        r.outputs.data.extend(r2.outputs.data);
        for (a, b) in r.activity.nonzero.iter_mut().zip(&r2.activity.nonzero) {
            *a += b;
        }
        c.outputs.n += c2.outputs.n;
        c.outputs.data.extend(c2.outputs.data);
        c.total.add(&c2.total);
        c.samples.extend(c2.samples);
    }
    (r, c)
}

/// Early exit against running every step, on the same inputs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EarlyExit {
    /// Steps run per inference, mean.
    pub mean_steps: f64,
    /// Cycles per inference with early exit, mean.
    pub cycles: f64,
    /// Cycles per inference without, mean.
    pub cycles_full: f64,
    /// Inputs whose class differs from running all T steps (must be 0).
    pub changed: usize,
}

/// Early exit's counts over a batch, which add up over parts of it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EarlyExitCounts {
    /// Samples.
    pub samples: usize,
    /// Steps run over every inference.
    pub steps_run: u64,
    /// Cycles with early exit.
    pub cycles: u64,
    /// Cycles without.
    pub cycles_full: u64,
    /// Inputs whose class differs.
    pub changed: usize,
}

impl EarlyExitCounts {
    /// Adds the counts of another part of the batch.
    pub fn add(&mut self, o: &EarlyExitCounts) {
        self.samples += o.samples;
        self.steps_run += o.steps_run;
        self.cycles += o.cycles;
        self.cycles_full += o.cycles_full;
        self.changed += o.changed;
    }

    /// The means.
    pub fn early_exit(&self) -> EarlyExit {
        let n = self.samples.max(1) as f64;
        EarlyExit {
            mean_steps: self.steps_run as f64 / n,
            cycles: self.cycles as f64 / n,
            cycles_full: self.cycles_full as f64 / n,
            changed: self.changed,
        }
    }
}

/// With early exit on, runs the plan without it and compares classes and cycles.
pub fn early_exit_check(plan: &Plan, batch: &InputBatch, steps: usize, run: &BatchResult) -> Option<EarlyExit> {
    early_exit_counts(plan, batch, steps, run).map(|c| c.early_exit())
}

/// [`early_exit_check`] of a run under the student mask `active` (None: every student): the
/// run to the last step runs the same mask.
pub fn early_exit_check_active(
    plan: &Plan,
    batch: &InputBatch,
    steps: usize,
    run: &BatchResult,
    active: Option<&[bool]>,
) -> Result<Option<EarlyExit>, Error> {
    Ok(early_exit_counts_active(plan, batch, steps, run, active)?.map(|c| c.early_exit()))
}

/// [`early_exit_counts`] of a run under the student mask `active` (None: every student).
pub fn early_exit_counts_active(
    plan: &Plan,
    batch: &InputBatch,
    steps: usize,
    run: &BatchResult,
    active: Option<&[bool]>,
) -> Result<Option<EarlyExitCounts>, Error> {
    let Some(a) = active else { return Ok(early_exit_counts(plan, batch, steps, run)) };
    if !plan.early_exit {
        return Ok(None);
    }
    let f = cycle::run_active(&plan.without_early_exit(), batch, steps, a).map_err(super::mask::mask_usage)?;
    Ok(Some(counts_against(batch, run, &f)))
}

/// [`early_exit_check`]'s counts.
pub fn early_exit_counts(plan: &Plan, batch: &InputBatch, steps: usize, run: &BatchResult) -> Option<EarlyExitCounts> {
    if !plan.early_exit {
        return None;
    }
    let f = cycle::run(&plan.without_early_exit(), batch, steps);
    Some(counts_against(batch, run, &f))
}

/// The counts of the early-exit `run` against `full`, the same inputs run to the last step.
fn counts_against(batch: &InputBatch, run: &BatchResult, full: &BatchResult) -> EarlyExitCounts {
    let (a, b) = (run.outputs.classes(), full.outputs.classes());
    EarlyExitCounts {
        samples: batch.n,
        steps_run: run.total.steps_run,
        cycles: run.total.cycles,
        cycles_full: full.total.cycles,
        changed: a.iter().zip(&b).filter(|(x, y)| x != y).count(),
    }
}

/// How to co-simulate (the command line's `--simulator`, `--cosim-budget`, `--speed`).
#[derive(Clone, Debug, PartialEq, clap::Args, Serialize, Deserialize)]
#[serde(default)]
pub struct CosimSettings {
    /// RTL simulator.
    #[arg(long, value_enum, default_value = "auto")]
    pub simulator: SimulatorChoice,
    /// Skip co-simulation (with the prediction) when it is predicted to take longer than this
    /// many seconds; the prediction comes from the cycle engine's cycle counts.
    #[arg(long, value_name = "SECONDS", default_value_t = 600.0)]
    pub cosim_budget: f64,
    /// Also time the cycle engine (one thread) against the simulator on the co-simulated
    /// samples: at least half a second of repeated engine runs.
    #[arg(long)]
    pub speed: bool,
}

impl Default for CosimSettings {
    fn default() -> Self {
        crate::options::defaults()
    }
}

/// Co-simulates every input of `batch` in `dir` against `engine`, the cycle engine's results of
/// the same inputs (the verification's, not a second run): picks the simulator (asked for, or
/// the installed one predicted to finish first), predicts the wall time from the engine's
/// cycle counts, and skips (with the reason) without running when a tool is missing or the
/// prediction exceeds the budget. With `s.speed`, the report carries the engine's speed (one
/// thread) against the simulator's. `active`: the student mask the engine ran (None: every
/// student), given to the design; `margin`: the cascade's threshold the engine ran (a plan with
/// the cascade; None: off).
#[allow(clippy::too_many_arguments)] // the command's parts
pub fn cosim_step(
    plan: &Plan,
    batch: &InputBatch,
    engine: &[SampleResult],
    active: Option<&[bool]>,
    margin: Option<u64>,
    s: &CosimSettings,
    dir: &Path,
    progress: &dyn Progress,
) -> Result<Step<CosimReport>, Error> {
    let budget_s = s.cosim_budget;
    if !(budget_s.is_finite() && budget_s >= 0.0) {
        return Err(Error::Usage("--cosim-budget must be a non-negative number of seconds".into()));
    }
    // A plan the back end refuses is refused before the simulator is chosen or announced.
    crate::back::limits::check_verilog(plan)
        .map_err(|e| crate::back::verilog::EmitError::Unsupported(e.to_string()))?;
    let n = batch.n;
    let cycles: u64 = engine.iter().map(|r| r.counters.cycles).sum();
    let units = cosim::sim_units(plan);
    let sim = match s.simulator.simulator().or_else(|| Simulator::fastest_installed(cycles, units)) {
        Some(s) => s,
        None => {
            return Ok(Step::skipped(
                "neither iverilog nor verilator is installed (Debian packages iverilog, verilator)",
            ));
        }
    };
    if !crate::flow::have(sim.tool()) {
        let tool = sim.tool();
        return Ok(Step::skipped(format!(
            "{tool} is not installed (Debian package: {})",
            crate::flow::package_of(tool)
        )));
    }
    let predicted = sim.predicted_seconds(cycles, units);
    if predicted > budget_s {
        return Ok(Step::skipped(format!(
            "{n} samples need {cycles} clock cycles, predicted {} with {}, above --cosim-budget {budget_s}; \
             give --cosim-budget {} to run it, or fewer samples",
            duration(predicted),
            sim.tool(),
            predicted.ceil()
        )));
    }
    let what = format!("co-simulating {n} samples with {} (predicted {})", sim.tool(), duration(predicted));
    progress.begin(&what, Some(n as u64));
    let t0 = std::time::Instant::now();
    let masks = active.map(|a| vec![a.to_vec(); n]);
    let margins = margin.map(|m| vec![Some(m); n]);
    let r =
        cosim::cosim_against_cascade(plan, batch, engine, masks.as_deref(), margins.as_deref(), sim, dir, &|done| {
            progress.advance(done as u64)
        });
    progress.end(&what, t0.elapsed().as_secs_f64());
    let mut r = r?;
    if s.speed {
        r.speed = Some(step(progress, "timing the cycle engine against the simulator", || {
            cosim::compare_speed(plan, batch, &r, ENGINE_TIMING_S)
        }));
    }
    Ok(Step::Ran(r))
}

/// The cycle engine's speed against the simulator's is timed over repeats of the co-simulated
/// samples for at least this many seconds (one run when that takes longer).
const ENGINE_TIMING_S: f64 = 0.5;

/// `42 s`, `12 min`, `3.5 h`.
fn duration(s: f64) -> String {
    if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 7200.0 {
        format!("{:.0} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

/// Writes the self-contained HTML report for `plan` run on `batch` (`run`, the cycle engine's
/// result) to `path`, showing sample `sample`'s spike raster.
#[allow(clippy::too_many_arguments)]
pub fn html_report(
    path: &Path,
    model: &Model,
    plan: &Plan,
    batch: &InputBatch,
    run: &BatchResult,
    sample: usize,
    labels: Option<&[usize]>,
    estimates: Vec<Estimate>,
    counts: Option<Counts>,
    resources: Option<Resources>,
    tradeoffs: Vec<TradeOff>,
) -> Result<(), Error> {
    if sample >= batch.n {
        return Err(Error::Usage(format!("--raster-sample {sample}: the inputs hold {} samples", batch.n)));
    }
    let accuracy = labels.map(|l| data::agreement(&run.outputs.classes(), l));
    let d = ReportData {
        title: model.path.display().to_string(),
        plan,
        estimates,
        raster: report::raster(plan, batch, sample, plan.timesteps),
        raster_sample: sample,
        rates: report::rates(plan, run),
        accuracy,
        resources,
        tradeoffs,
        counts,
    };
    std::fs::write(path, report::render(&d))
        .map_err(|e| crate::flow::FlowError::Io(format!("{}: cannot write the report: {e}", path.display())).into())
}
