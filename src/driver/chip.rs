//! Neuromorphic chips with a back end (Xylo): quantise under the chip's rules, place on the
//! chip, simulate the chip exactly, compare with the reference, export the vendor's files and
//! have the vendor's simulator judge them.

use std::path::Path;

use serde::Serialize;

use super::progress::step;
use super::{Error, PlanSettings, Progress};
use crate::Model;
use crate::chip::xylo::{self, Place, XyloSpec};
use crate::data::{self, InputBatch, Outputs};
use crate::flow::xylosim::{self, XyloSimReport};
use crate::quant::{self, InputStats, Network, QuantOptions, Rules};
use crate::sim::reference::{self, RunOptions};
use crate::sim::xylo::{self as xsim, MAX_INPUT_EVENTS, XyloRecord};
use crate::target::{Family, Target};

/// A batch run on the chip.
#[derive(Clone, Debug)]
pub struct XyloRun {
    /// The quantised network.
    pub net: Network,
    /// Its placement.
    pub spec: XyloSpec,
    /// Model steps T (the chip runs `T + lag`).
    pub steps: usize,
    /// Event counts as fed to the chip, `n x (T + lag) x 16`, each at most 15.
    pub inputs: Vec<u8>,
    /// Events above 15 per channel and step that the chip does not take.
    pub dropped_events: u64,
    /// One record per sample.
    pub records: Vec<XyloRecord>,
}

impl XyloRun {
    /// Steps the chip runs per inference.
    pub fn chip_steps(&self) -> usize {
        self.steps + self.spec.lag
    }

    /// The output spikes aligned to the model's steps (the chip's step `t + lag` is the
    /// model's `t`), as the engines' outputs.
    pub fn outputs(&self) -> Outputs {
        let (no, lag, ts) = (self.spec.n_out, self.spec.lag, self.chip_steps());
        let mut data = Vec::with_capacity(self.records.len() * self.steps * no);
        for r in &self.records {
            data.extend(r.out_spikes[lag * no..ts * no].iter().map(|&s| f64::from(s)));
        }
        Outputs { n: self.records.len(), steps: self.steps, numel: no, shape: vec![no], spikes: true, data }
    }

    /// The output spikes as the chip emits them, `n x (T + lag) x n_out`.
    pub fn chip_outputs(&self) -> Vec<u8> {
        self.records.iter().flat_map(|r| r.out_spikes.iter().copied()).collect()
    }
}

/// The chip family a neuromorphic target's back end belongs to, or why there is none.
pub fn xylo_chip(target: &Target) -> Result<&'static str, Error> {
    match target.family {
        Family::Xylo if target.chip.as_ref().is_some_and(|c| c.output_neurons == Some(8)) => Ok("syns61201"),
        Family::Xylo => Ok("syns63300"),
        _ => Err(Error::Usage(format!(
            "target '{}' is a {} chip: spikefab prices operations on it (`spikefab energy --compare {}`) but does \
             not generate code for it",
            target.name, target.kind, target.name
        ))),
    }
}

/// Quantises `m` for a Xylo `target` (the event scale from `settings.input_scale`, the
/// calibration statistics from `batch`), places it, and runs `batch` on the chip model.
pub fn xylo_run(
    m: &Model,
    settings: &PlanSettings,
    target: &Target,
    steps: usize,
    batch: &InputBatch,
) -> Result<XyloRun, Error> {
    let o = QuantOptions {
        rules: Rules::xylo(),
        input_scale: settings.input_scale,
        input_stats: Some(InputStats::of(batch)),
        timesteps: steps,
        output: None,
        early_exit: false,
    };
    let net = quant::quantise(m, &o).map_err(|err| Error::Quant { path: m.path.clone(), err })?;
    let mut spec = xylo::map(&net, target).map_err(|e| Error::DoesNotFit(format!("{}: {e}", m.path.display())))?;
    spec.dt = m.dialect().dt.unwrap_or(1e-3);
    let (ts, nin) = (steps + spec.lag, spec.n_in);
    let mut inputs = vec![0u8; batch.n * ts * nin];
    let mut dropped = 0u64;
    for i in 0..batch.n {
        for t in 0..steps {
            for (c, &x) in batch.at(i, t).iter().enumerate() {
                let events = (x / net.input.scale).round().max(0.0);
                dropped += (events - f64::from(MAX_INPUT_EVENTS)).max(0.0) as u64;
                inputs[(i * ts + t) * nin + c] = events.min(f64::from(MAX_INPUT_EVENTS)) as u8;
            }
        }
    }
    let records: Vec<XyloRecord> = {
        use rayon::prelude::*;
        (0..batch.n).into_par_iter().map(|i| xsim::run(&spec, &inputs[i * ts * nin..(i + 1) * ts * nin], ts)).collect()
    };
    Ok(XyloRun { net, spec, steps, inputs, dropped_events: dropped, records })
}

/// The chip against the reference engine.
#[derive(Clone, Debug, Serialize)]
pub struct ChipVerification {
    /// Samples compared.
    pub samples: usize,
    /// Fraction of samples whose class (most output spikes) is the same.
    pub class_agreement: f64,
    /// Fraction of output spikes (aligned steps) that agree.
    pub output_agreement: f64,
    /// Accuracy of the reference engine, with labels.
    pub reference_accuracy: Option<f64>,
    /// Accuracy of the chip, with labels.
    pub chip_accuracy: Option<f64>,
}

/// Runs the reference engine on `cut` and compares with the chip's aligned outputs.
pub fn verify_xylo(
    cut: &Model,
    run: &XyloRun,
    batch: &InputBatch,
    labels: Option<&[usize]>,
    progress: &dyn Progress,
) -> Result<ChipVerification, Error> {
    let output = cut.graph.select_output(None).map_err(reference::SimError::from)?;
    let r = step(progress, "verifying against the reference engine", || {
        reference::run(
            &cut.graph,
            &cut.info,
            cut.dialect(),
            batch,
            &RunOptions { steps: run.steps, f64: false, output },
            None,
        )
    })?;
    let chip = run.outputs();
    let (rc, cc) = (r.outputs.classes(), chip.classes());
    // A multi-spike reference counts spikes; compare fired / not fired.
    let same = r.outputs.data.iter().zip(&chip.data).filter(|(a, b)| (**a > 0.0) == (**b > 0.0)).count();
    Ok(ChipVerification {
        samples: batch.n,
        class_agreement: data::agreement(&rc, &cc),
        output_agreement: same as f64 / chip.data.len().max(1) as f64,
        reference_accuracy: labels.map(|l| data::agreement(&rc, l)),
        chip_accuracy: labels.map(|l| data::agreement(&cc, l)),
    })
}

/// Energy of one inference on a chip that runs in real time.
#[derive(Clone, Debug, Serialize)]
pub struct ChipEnergy {
    /// The published dynamic inference power, W.
    pub dynamic_power_w: f64,
    /// Steps x dt.
    pub seconds_per_inference: f64,
    /// Power x time.
    pub energy_per_inference_j: f64,
    /// Where the power comes from and what the estimate assumes.
    pub basis: String,
}

/// The energy estimate of `run` on `target`, when the target publishes a power.
pub fn xylo_energy(run: &XyloRun, target: &Target) -> Option<ChipEnergy> {
    let p = target.chip.as_ref()?.dynamic_power_w?;
    let secs = run.chip_steps() as f64 * run.spec.dt;
    Some(ChipEnergy {
        dynamic_power_w: p,
        seconds_per_inference: secs,
        energy_per_inference_j: p * secs,
        basis: format!(
            "the core's published dynamic inference power (Xylo Audio 2, Bos and Muir 2024) times {} steps of \
             {} s; an estimate for a network of a different size and activity",
            run.chip_steps(),
            run.spec.dt
        ),
    })
}

/// `run`'s energy on `target` as an [`crate::energy::Estimate`] beside the other targets'
/// (every inference lasts the same; the conventional network is priced with the target's
/// per-operation constants).
pub fn xylo_estimate(run: &XyloRun, target: &Target) -> Option<crate::energy::Estimate> {
    let e = xylo_energy(run, target)?;
    let ann = crate::energy::ann_of_layers(run.net.layers.iter(), run.net.input.numel(), target);
    let j = e.energy_per_inference_j;
    let ratio = |a: f64| if j > 0.0 { a / j } else { 0.0 };
    let n = run.records.len().max(1) as f64;
    let layers = run
        .spec
        .places
        .iter()
        .enumerate()
        .map(|(k, p)| {
            let nh = run.spec.n_hidden;
            let spikes: u64 = run
                .records
                .iter()
                .map(|r| {
                    if p.population == "output" {
                        r.out_spikes.iter().map(|&s| u64::from(s)).sum::<u64>()
                    } else {
                        r.spikes
                            .chunks(nh)
                            .map(|row| row[p.first..p.first + p.neurons].iter().map(|&s| u64::from(s)).sum::<u64>())
                            .sum()
                    }
                })
                .sum();
            crate::energy::LayerEnergy {
                name: run.net.layers.get(k).map_or_else(|| p.layer.clone(), |l| l.name.clone()),
                synaptic_ops: 0.0,
                neuron_updates: (p.neurons * run.chip_steps()) as f64,
                spikes: spikes as f64 / n,
                synaptic_j: 0.0,
                neuron_j: 0.0,
                memory_j: 0.0,
                total_j: 0.0,
            }
        })
        .collect();
    Some(crate::energy::Estimate {
        target: target.name.clone(),
        kind: target.kind.to_string(),
        samples: run.records.len(),
        energy_per_inference_j: j,
        energy_min_j: j,
        energy_max_j: j,
        energy_std_j: 0.0,
        latency_s: Some(e.seconds_per_inference),
        cycles: 0.0,
        components: vec![crate::energy::Component { name: "dynamic power x duration".into(), joules: j }],
        layers,
        memories: vec![],
        operations_j: j,
        ann_fp32_over_snn: ratio(ann.fp32_j),
        ann_int8_over_snn: ratio(ann.int8_j),
        ann,
    })
}

/// What was placed where, and what the export holds.
#[derive(Clone, Debug, Serialize)]
pub struct XyloSection {
    /// rockpool's chip module (`syns63300` Xylo IMU, `syns61201` Xylo Audio 2).
    pub chip: String,
    /// Hidden neurons used.
    pub hidden_neurons: usize,
    /// Hidden neurons that take input (the first ones).
    pub input_neurons: usize,
    /// Hidden neurons that drive the outputs (the last ones).
    pub output_source_neurons: usize,
    /// Output neurons.
    pub outputs: usize,
    /// Steps the output runs behind the model.
    pub lag: usize,
    /// Left shifts of the input, recurrent and output weights.
    pub weight_shifts: [i8; 3],
    /// Each layer's place.
    pub places: Vec<Place>,
    /// What the quantisation approximated.
    pub notes: Vec<String>,
    /// Input events above 15 per channel and step (not taken by the chip).
    pub dropped_input_events: u64,
    /// Folder of the export.
    pub dir: String,
    /// Files written.
    pub files: Vec<String>,
}

/// Writes the export of `run` into `dir`.
pub fn write_xylo(run: &XyloRun, chip: &str, dir: &Path) -> Result<Vec<String>, Error> {
    let n = run.records.len();
    let files = crate::back::xylo::files(&run.spec, chip, n, run.chip_steps(), &run.inputs, &run.chip_outputs());
    std::fs::create_dir_all(dir).map_err(|e| crate::flow::FlowError::Io(format!("{}: {e}", dir.display())))?;
    for (name, bytes) in &files {
        std::fs::write(dir.join(name), bytes)
            .map_err(|e| crate::flow::FlowError::Io(format!("{}: {e}", dir.join(name).display())))?;
    }
    Ok(files.into_iter().map(|(n, _)| n).collect())
}

/// The placement summary for reports.
pub fn xylo_section(run: &XyloRun, chip: &str, dir: &Path, files: Vec<String>) -> XyloSection {
    let s = &run.spec;
    XyloSection {
        chip: chip.into(),
        hidden_neurons: s.n_hidden,
        input_neurons: s.ien,
        output_source_neurons: s.oen,
        outputs: s.n_out,
        lag: s.lag,
        weight_shifts: [s.weight_shift_in, s.weight_shift_rec, s.weight_shift_out],
        places: s.places.clone(),
        notes: run.net.notes.clone(),
        dropped_input_events: run.dropped_events,
        dir: dir.display().to_string(),
        files,
    }
}

/// Runs the export in `dir` in XyloSim, when a Python with rockpool and xylosim exists
/// (`Err(reason)` otherwise).
pub fn vendor_check(
    run: &XyloRun,
    chip: &str,
    dir: &Path,
    progress: &dyn Progress,
) -> Result<Result<XyloSimReport, String>, Error> {
    let Some(py) = xylosim::python() else {
        return Ok(Err("no Python with rockpool and xylosim (pip install rockpool==3.1.0 xylosim==0.1.3; point \
             SPIKEFAB_XYLO_PYTHON at it)"
            .into()));
    };
    let what = format!("running {} samples in rockpool's XyloSim", run.records.len());
    let r = step(progress, &what, || xylosim::check(dir, &py, &run.records, chip == "syns61201"))?;
    Ok(Ok(r))
}
