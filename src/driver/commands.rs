//! The model-running commands as functions: `simulate`, `verify`, `energy` and `explore` take
//! a loaded model, inputs and options, and return what the command prints, as data. The command
//! line renders it as text or JSON; the Python bindings hand it to Python. Each result's
//! `json()` is exactly what the command prints with `--json`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::chip::{ChipVerification, loihi_estimate, loihi_run, verify_outputs, verify_xylo, xylo_estimate, xylo_run};
use super::shard::{self, Shard};
use super::verify::{EarlyExit, EarlyExitCounts, Verification, VerifyCounts, early_exit_counts, html_report, verify};
use super::{Error, PassSettings, PlanSettings, Prepared, Progress, prepare, steps_for};
use crate::Model;
use crate::data::{self, InputBatch, Outputs};
use crate::energy::neurobench::{self, Counts};
use crate::energy::{self, Estimate};
use crate::hw::Plan;
use crate::passes::PassRecord;
use crate::passes::select::{self, Evaluator, Exploration, ExplorePart};
use crate::passes::students;
use crate::report::TradeOff;
use crate::sim::cycle;
use crate::sim::reference::{self, RunOptions};
use crate::target::{Family, Flow};

/// Which engine `simulate` runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// Floating point, what the training framework computes.
    Reference,
    /// The hardware in integers: the FPGA plan cycle by cycle, or a chip's integer model.
    Cycle,
}

/// A VCD waveform of one sample on the cycle engine.
#[derive(Clone, Debug)]
pub struct VcdSettings {
    /// File to write.
    pub path: PathBuf,
    /// Sample traced.
    pub sample: usize,
    /// Neurons traced per layer.
    pub neurons: usize,
}

/// What `simulate` takes besides the model and inputs.
#[derive(Clone, Debug)]
pub struct SimulateOptions {
    /// Engine.
    pub engine: Engine,
    /// Compute the reference engine in f64.
    pub f64: bool,
    /// Output node, when the model has several.
    pub output: Option<String>,
    /// Waveform (cycle engine on an FPGA target).
    pub vcd: Option<VcdSettings>,
}

/// What `simulate` computed.
#[derive(Clone, Debug)]
pub struct Simulation {
    /// The model that ran (after the passes).
    pub model: Model,
    /// Engine.
    pub engine: Engine,
    /// Reference engine in f64.
    pub f64: bool,
    /// Samples.
    pub samples: usize,
    /// Timesteps.
    pub steps: usize,
    /// The output node's values, `samples x steps x output shape`.
    pub outputs: Outputs,
    /// Spikes per neuron per step of each spiking layer.
    pub rates: Vec<(String, f64)>,
    /// Accuracy, with labels.
    pub accuracy: Option<f64>,
    /// Cycles per inference, mean (FPGA cycle engine).
    pub cycles_mean: Option<f64>,
    /// Steps run per inference, mean (FPGA cycle engine).
    pub mean_steps: Option<f64>,
    /// What the passes changed.
    pub records: Vec<PassRecord>,
}

impl Simulation {
    /// What `simulate --json` prints.
    pub fn json(&self) -> Value {
        json!({
            "model": self.model.path.display().to_string(),
            "engine": match self.engine { Engine::Reference => "reference", Engine::Cycle => "cycle" },
            "precision": if self.engine == Engine::Cycle { "plan integers" } else if self.f64 { "f64" } else { "f32" },
            "cycles_per_inference": self.cycles_mean,
            "mean_steps": self.mean_steps,
            "dialect": self.model.dialect(),
            "samples": self.samples,
            "timesteps": self.steps,
            "spike_rates": self.rates.iter().map(|(n, r)| json!({"node": n, "rate": r})).collect::<Vec<_>>(),
            "classes": self.outputs.classes(),
            "accuracy": self.accuracy,
            "passes": self.records,
        })
    }
}

fn usage(msg: impl Into<String>) -> Error {
    Error::Usage(msg.into())
}

/// Runs `m` on `batch` with the reference or the cycle engine, after the passes.
pub fn simulate(
    m: Model,
    batch: &InputBatch,
    labels: Option<&[usize]>,
    passes: &PassSettings,
    settings: &PlanSettings,
    o: &SimulateOptions,
    progress: &dyn Progress,
) -> Result<Simulation, Error> {
    let steps = steps_for(&m, Some(batch))?;
    if let Some(l) = labels
        && l.len() != batch.n
    {
        return Err(usage(format!("{} labels for {} inputs", l.len(), batch.n)));
    }
    let prep = prepare(m, steps, passes, settings, Some(batch), labels, progress)?;
    let steps = prep.steps;
    // The reference engine runs the cut model as the framework would; the cycle engine the
    // simplified one it is built from.
    let m = if o.engine == Engine::Reference { prep.cut.clone() } else { prep.model.clone() };
    let g = &m.graph;
    let output = g.select_output(o.output.as_deref()).map_err(reference::SimError::from)?;
    if o.vcd.is_some() && o.engine != Engine::Cycle {
        return Err(usage("--vcd needs --engine cycle"));
    }
    let mut cycles_mean = None;
    let mut mean_steps = None;
    let (outputs, rates) = match o.engine {
        Engine::Reference => {
            let opts = RunOptions { steps, f64: o.f64, output };
            let r = reference::run(g, &m.info, m.dialect(), batch, &opts, None)?;
            let rates: Vec<(String, f64)> = m
                .info
                .order
                .iter()
                .filter(|&&ix| g.g[ix].op.emits_spikes())
                .map(|&ix| {
                    let k = ix.index();
                    let total = (batch.n * steps * r.activity.numel[k]) as f64;
                    (g.g[ix].name.clone(), r.activity.nonzero[k] as f64 / total)
                })
                .collect();
            (r.outputs, rates)
        }
        Engine::Cycle if settings.target()?.flow() == Flow::Lava => {
            // Loihi: spikefab's simulation of Lava's fixed-point CUBA neurons.
            let t = settings.target()?;
            if o.vcd.is_some() {
                return Err(usage("--vcd traces the FPGA plan; give an FPGA or ASIC --target"));
            }
            let run = loihi_run(&m, settings, &t, steps, batch)?;
            for n in &run.net.notes {
                progress.note(&format!("note: {n}"));
            }
            let ts = run.chip_steps();
            let rates = run
                .netx
                .layers
                .iter()
                .enumerate()
                .map(|(k, l)| {
                    let total: u64 =
                        run.records.iter().map(|r| r.spikes[k].iter().map(|&s| u64::from(s)).sum::<u64>()).sum();
                    (l.name.clone(), total as f64 / (batch.n * ts * l.neurons()) as f64)
                })
                .collect();
            (run.outputs(), rates)
        }
        Engine::Cycle if settings.target()?.family == Family::Xylo => {
            // A chip target: its own integer model (spikefab's simulation of Xylo).
            let t = settings.target()?;
            if o.vcd.is_some() {
                return Err(usage("--vcd traces the FPGA plan; give an FPGA or ASIC --target"));
            }
            let run = xylo_run(&m, settings, &t, steps, batch)?;
            for n in &run.net.notes {
                progress.note(&format!("note: {n}"));
            }
            let ts = run.chip_steps();
            let rates = run
                .spec
                .places
                .iter()
                .map(|p| {
                    let nh = run.spec.n_hidden;
                    let total: u64 = run
                        .records
                        .iter()
                        .map(|r| {
                            if p.population == "output" {
                                r.out_spikes.iter().map(|&s| u64::from(s)).sum::<u64>()
                            } else {
                                r.spikes
                                    .chunks(nh)
                                    .map(|row| {
                                        row[p.first..p.first + p.neurons].iter().map(|&s| u64::from(s)).sum::<u64>()
                                    })
                                    .sum()
                            }
                        })
                        .sum();
                    (p.layer.clone(), total as f64 / (batch.n * ts * p.neurons) as f64)
                })
                .collect();
            (run.outputs(), rates)
        }
        Engine::Cycle => {
            let plan = settings.plan(&m, steps, Some(batch))?;
            let c = cycle::run(&plan, batch, steps);
            let rates = plan
                .layers
                .iter()
                .zip(&c.total.layers)
                .filter(|(l, _)| l.spiking())
                .map(|(l, lc)| (l.name.clone(), lc.spikes as f64 / (batch.n * steps * l.neurons()) as f64))
                .collect();
            cycles_mean = Some(c.total.cycles as f64 / batch.n as f64);
            mean_steps = Some(c.total.steps_run as f64 / batch.n as f64);
            if let Some(v) = &o.vcd {
                if v.sample >= batch.n {
                    return Err(usage(format!("--vcd-sample {} but there are {} samples", v.sample, batch.n)));
                }
                crate::sim::vcd::write(&plan, batch, v.sample, steps, v.neurons, &v.path)
                    .map_err(|e| usage(format!("{}: {e}", v.path.display())))?;
            }
            (c.outputs, rates)
        }
    };
    let accuracy = labels.map(|l| data::agreement(&outputs.classes(), l));
    Ok(Simulation {
        model: m,
        engine: o.engine,
        f64: o.f64,
        samples: batch.n,
        steps,
        outputs,
        rates,
        accuracy,
        cycles_mean,
        mean_steps,
        records: prep.records,
    })
}

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

    /// Adds the check of another part of the same batch; `Err` when it is another check.
    pub fn add(&mut self, o: &PlanCheck) -> Result<(), String> {
        if (&self.base, self.steps, self.clock_mhz, self.spikes, &self.layer_lines, self.early_exit.is_some())
            != (&o.base, o.steps, o.clock_mhz, o.spikes, &o.layer_lines, o.early_exit.is_some())
        {
            return Err("the parts check different models, plans or options".into());
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
    /// Samples in the whole batch.
    pub samples_total: usize,
    /// The check of this shard's samples.
    pub check: PlanCheck,
}

/// Merges the parts of every shard of one `verify` run into its check.
pub fn merge_verify(parts: Vec<VerifyPart>) -> Result<PlanCheck, Error> {
    let total = parts.first().map(|p| p.samples_total).unwrap_or(0);
    shard::covered(parts.iter().map(|p| p.shard).collect())?;
    let mut it = parts.into_iter();
    let mut check = it.next().ok_or_else(|| usage("no parts to merge"))?.check;
    for p in it {
        if p.samples_total != total {
            return Err(usage("the parts check different batches"));
        }
        check.add(&p.check).map_err(usage)?;
    }
    Ok(check)
}

/// Runs the reference engine and the hardware (the cycle engine on the plan, or a chip's
/// integer model) side by side on `batch` and compares them.
pub fn check(
    m: Model,
    batch: &InputBatch,
    labels: Option<&[usize]>,
    passes: &PassSettings,
    settings: &PlanSettings,
    progress: &dyn Progress,
) -> Result<Check, Error> {
    let steps = steps_for(&m, Some(batch))?;
    if let Some(l) = labels
        && l.len() != batch.n
    {
        return Err(usage(format!("{} labels for {} inputs", l.len(), batch.n)));
    }
    let prep = prepare(m, steps, passes, settings, Some(batch), labels, progress)?;
    let steps = prep.steps;
    let min_agreement = passes.min_agreement();
    let target = settings.target()?;
    let checked = if target.flow() == Flow::Lava {
        let run = loihi_run(&prep.model, settings, &target, steps, batch)?;
        let v = verify_outputs(&prep.cut, steps, &run.outputs(), batch, labels, progress)?;
        Checked::Chip {
            verification: v,
            target: target.name.clone(),
            notes: run.net.notes.clone(),
            chip_steps: run.chip_steps(),
        }
    } else if target.family == Family::Xylo {
        let run = xylo_run(&prep.model, settings, &target, steps, batch)?;
        let v = verify_xylo(&prep.cut, &run, batch, labels, progress)?;
        Checked::Chip {
            verification: v,
            target: target.name.clone(),
            notes: run.net.notes.clone(),
            chip_steps: run.chip_steps(),
        }
    } else {
        let plan = settings.plan(&prep.model, steps, Some(batch))?;
        let check = plan_check(&prep, &plan, batch, labels, min_agreement, progress)?;
        Checked::Plan { plan: Box::new(plan), check }
    };
    Ok(Check { model: prep.model, samples: batch.n, steps, min_agreement, records: prep.records, checked })
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

/// `verify` on shard `shard` of `batch`: the passes and the plan are made from the whole batch
/// (so every shard checks the same hardware), the comparison runs on the shard's samples.
pub fn check_shard(
    m: Model,
    batch: &InputBatch,
    labels: Option<&[usize]>,
    passes: &PassSettings,
    settings: &PlanSettings,
    shard: Shard,
    progress: &dyn Progress,
) -> Result<VerifyPart, Error> {
    let steps = steps_for(&m, Some(batch))?;
    if let Some(l) = labels
        && l.len() != batch.n
    {
        return Err(usage(format!("{} labels for {} inputs", l.len(), batch.n)));
    }
    let range = shard.samples(batch.n)?;
    let t = settings.target()?;
    if t.family == Family::Xylo || t.flow() == Flow::Lava {
        return Err(usage("--shard checks FPGA and ASIC plans; a chip target runs unsharded"));
    }
    let prep = prepare(m, steps, passes, settings, Some(batch), labels, progress)?;
    let plan = settings.plan(&prep.model, prep.steps, Some(batch))?;
    let part = batch.range(range.clone());
    let part_labels = labels.map(|l| &l[range]);
    let check = plan_check(&prep, &plan, &part, part_labels, passes.min_agreement(), progress)?;
    Ok(VerifyPart { shard, samples_total: batch.n, check })
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
    /// Accuracy of the hardware, with labels.
    pub accuracy: Option<f64>,
    /// What the passes changed.
    pub records: Vec<PassRecord>,
    /// The HTML report written.
    pub report: Option<PathBuf>,
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
            "passes": self.records,
            "estimate": self.estimates[0],
            "compare": &self.estimates[1..],
            "report": self.report.as_ref().map(|p| p.display().to_string()),
        })
    }
}

/// NeuroBench-compatible counts of the model on `batch` (reference engine).
pub fn counts(m: &Model, batch: &InputBatch, steps: usize) -> Result<Counts, Error> {
    Ok(neurobench::count(&m.graph, &m.info, m.dialect(), batch, steps)?)
}

/// Energy per inference on `settings`' target and on each of `compare`, averaged over `batch`;
/// with `report`, the HTML report (raster of `raster_sample`) is written there.
#[allow(clippy::too_many_arguments)]
pub fn energy(
    m: Model,
    batch: &InputBatch,
    labels: Option<&[usize]>,
    passes: &PassSettings,
    settings: &PlanSettings,
    compare: &[String],
    report: Option<(PathBuf, usize)>,
    progress: &dyn Progress,
) -> Result<EnergyRun, Error> {
    let steps = steps_for(&m, Some(batch))?;
    if let Some(l) = labels
        && l.len() != batch.n
    {
        return Err(usage(format!("{} labels for {} inputs", l.len(), batch.n)));
    }
    let prep = prepare(m, steps, passes, settings, Some(batch), labels, progress)?;
    let (steps, m) = (prep.steps, &prep.model);
    let mut targets = vec![settings.target.clone()];
    targets.extend(compare.iter().cloned());
    let mut estimates = vec![];
    let mut main = None;
    let mut chip_classes = None;
    for name in &targets {
        let t = settings.target_named(name)?;
        let mut pa = settings.clone();
        pa.target = name.clone();
        if t.flow() == Flow::Lava {
            // Loihi: the operations its chip model counts, priced per operation.
            let run = loihi_run(m, &pa, &t, steps, batch)?;
            if estimates.is_empty() {
                chip_classes = Some(run.outputs().classes());
            }
            estimates.push(loihi_estimate(&run, &t));
            continue;
        }
        if t.family == Family::Xylo {
            // The chip's own model: its energy is its published power over the run.
            let run = xylo_run(m, &pa, &t, steps, batch)?;
            let est =
                xylo_estimate(&run, &t).ok_or_else(|| usage(format!("target '{}' publishes no power", t.name)))?;
            if estimates.is_empty() {
                chip_classes = Some(run.outputs().classes());
            }
            estimates.push(est);
            continue;
        }
        let plan = pa.plan(m, steps, Some(batch))?;
        let run = cycle::run(&plan, batch, steps);
        estimates.push(energy::estimate(&plan, &t, &run));
        if main.is_none() {
            main = Some((plan, run));
        }
    }
    let counts = counts(&prep.cut, batch, steps)?;
    let classes = match chip_classes {
        Some(classes) => {
            // A chip target first: no FPGA plan to draw the HTML report from.
            if report.is_some() {
                return Err(usage("--report draws an FPGA plan; give an FPGA or ASIC --target"));
            }
            classes
        }
        None => {
            let (plan, run) = main.expect("at least one target");
            if let Some((path, sample)) = &report {
                html_report(
                    path,
                    m,
                    &plan,
                    batch,
                    &run,
                    *sample,
                    labels,
                    estimates.clone(),
                    Some(counts.clone()),
                    None,
                    vec![],
                )?;
            }
            run.outputs.classes()
        }
    };
    let accuracy = labels.map(|l| data::agreement(&classes, l));
    Ok(EnergyRun {
        model: prep.model,
        steps,
        estimates,
        counts,
        accuracy,
        records: prep.records,
        report: report.map(|r| r.0),
    })
}

/// What `explore` measured.
pub struct Explored {
    /// The model file.
    pub model: String,
    /// Target name.
    pub target: String,
    /// Wall time, seconds (summed over the shards of a merged run).
    pub seconds: f64,
    /// What the passes changed (as JSON).
    pub passes: Value,
    /// Every configuration, the Pareto front and the ensemble's K sweep.
    pub exploration: Exploration,
}

impl Explored {
    /// What `explore --json` prints (and `--out` writes).
    pub fn json(&self) -> Value {
        json!({
            "model": self.model,
            "target": self.target,
            "seconds": self.seconds,
            "passes": self.passes,
            "exploration": self.exploration,
        })
    }
}

/// One shard's part of `explore`: the configurations whose job index it owns.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExploreShard {
    /// Which shard.
    pub shard: Shard,
    /// The model file.
    pub model: String,
    /// Target name.
    pub target: String,
    /// This shard's wall time.
    pub seconds: f64,
    /// What the passes changed.
    pub passes: Value,
    /// Its configurations.
    pub part: ExplorePart,
}

/// Merges the parts of every shard of one `explore` run into the exploration one run makes.
pub fn merge_explore(parts: Vec<ExploreShard>) -> Result<Explored, Error> {
    shard::covered(parts.iter().map(|p| p.shard).collect())?;
    let mut it = parts.into_iter();
    let first = it.next().ok_or_else(|| usage("no parts to merge"))?;
    let (model, target, passes, mut seconds, mut part) =
        (first.model, first.target, first.passes, first.seconds, first.part);
    for p in it {
        if (&p.model, &p.target, &p.passes) != (&model, &target, &passes) {
            return Err(usage("the parts explore different models, targets or passes"));
        }
        seconds += p.seconds;
        part.merge(p.part).map_err(usage)?;
    }
    let exploration = part.complete().map_err(usage)?;
    Ok(Explored { model, target, seconds, passes, exploration })
}
/// The configuration label `explore` prints for `s`.
pub fn config_label(x: &Exploration, s: &select::Score) -> String {
    format!(
        "{}T={}{}{}",
        if x.ensemble.is_some() { format!("{} ", students_label(x, s)) } else { String::new() },
        s.timesteps,
        if s.early_exit { " exit" } else { "" },
        s.lanes.map(|l| format!(" L={l}")).unwrap_or_default()
    )
}

/// The students of `s`, `+`-joined, or `all`.
pub fn students_label(x: &Exploration, s: &select::Score) -> String {
    match &x.ensemble {
        Some(e) if !s.students.is_empty() => {
            s.students.iter().map(|&i| e.students[i].name.as_str()).collect::<Vec<_>>().join("+")
        }
        _ => "all".into(),
    }
}

/// Sweeps students, timesteps, early exit and `lanes` on the calibration `batch` with the
/// cycle engine; with `report`, writes the HTML report with the trade-off plot there.
#[allow(clippy::too_many_arguments)]
pub fn explore(
    m: Model,
    batch: &InputBatch,
    labels: Option<&[usize]>,
    settings: &PlanSettings,
    lanes: &[usize],
    no_simplify: bool,
    report: Option<&std::path::Path>,
    progress: &dyn Progress,
) -> Result<Explored, Error> {
    let t0 = std::time::Instant::now();
    let (prep, part) = explore_part(m, batch, labels, settings, lanes, no_simplify, None, progress)?;
    let x = part.complete().map_err(usage)?;
    let seconds = t0.elapsed().as_secs_f64();
    let (model, steps) = (&prep.model, prep.steps);
    if let Some(path) = report {
        // The report shows the uncut model and the trade-off of every configuration.
        let plan = settings.plan(model, steps, Some(batch))?;
        let run = cycle::run(&plan, batch, steps);
        let t = settings.target()?;
        let est = energy::estimate(&plan, &t, &run);
        let counts = counts(&prep.cut, batch, steps)?;
        let tradeoffs = x
            .configurations
            .iter()
            .zip(&x.pareto)
            .map(|(s, &p)| TradeOff {
                config: config_label(&x, s),
                accuracy: s.metric(),
                energy_j: s.energy_j,
                cycles: s.cycles,
                pareto: p,
            })
            .collect();
        html_report(path, model, &plan, batch, &run, 0, labels, vec![est], Some(counts), None, tradeoffs)?;
    }
    Ok(Explored {
        model: prep.model.path.display().to_string(),
        target: settings.target.clone(),
        seconds,
        passes: json!(prep.records),
        exploration: x,
    })
}

/// `explore` on shard `shard` of its configurations (round-robin over the job order).
#[allow(clippy::too_many_arguments)]
pub fn explore_shard(
    m: Model,
    batch: &InputBatch,
    labels: Option<&[usize]>,
    settings: &PlanSettings,
    lanes: &[usize],
    no_simplify: bool,
    shard: Shard,
    progress: &dyn Progress,
) -> Result<ExploreShard, Error> {
    let t0 = std::time::Instant::now();
    let (prep, part) = explore_part(m, batch, labels, settings, lanes, no_simplify, Some(shard), progress)?;
    Ok(ExploreShard {
        shard,
        model: prep.model.path.display().to_string(),
        target: settings.target.clone(),
        seconds: t0.elapsed().as_secs_f64(),
        passes: json!(prep.records),
        part,
    })
}

#[allow(clippy::too_many_arguments)]
fn explore_part(
    m: Model,
    batch: &InputBatch,
    labels: Option<&[usize]>,
    settings: &PlanSettings,
    lanes: &[usize],
    no_simplify: bool,
    shard: Option<Shard>,
    progress: &dyn Progress,
) -> Result<(Prepared, ExplorePart), Error> {
    let steps = steps_for(&m, Some(batch))?;
    if let Some(l) = labels
        && l.len() != batch.n
    {
        return Err(usage(format!("{} labels for {} inputs", l.len(), batch.n)));
    }
    if lanes.iter().any(|l| !l.is_power_of_two() || *l > 64) {
        return Err(usage("--lanes-sweep takes powers of two from 1 to 64"));
    }
    let pa = PassSettings { no_simplify, ..Default::default() };
    let prep = prepare(m, steps, &pa, settings, Some(batch), labels, progress)?;
    let model = &prep.model;
    let ens = students::ensembles(&model.graph, &model.info).into_iter().next();
    let opts = settings.options(steps, Some(batch))?;
    let ev = Evaluator::new(model, opts, batch, labels, steps)
        .map_err(|e| usage(format!("{}: {e}", model.path.display())))?;
    let lanes: Vec<Option<usize>> =
        if lanes.is_empty() { vec![None] } else { lanes.iter().map(|&l| Some(l)).collect() };
    let part = select::explore_part(&ev, ens.as_ref(), &lanes, |j| shard.is_none_or(|s| s.owns(j)))
        .map_err(|e| usage(format!("{}: {e}", model.path.display())))?;
    Ok((prep, part))
}
