//! Neuromorphic chips with a back end (Xylo, Loihi): quantise under the chip's rules, place on the
//! chip, simulate the chip exactly, compare with the reference, export the vendor's files and
//! have the vendor's simulator judge them.

use std::path::Path;

use serde::Serialize;

use super::progress::step;
use super::{Error, PlanSettings, Progress};
use crate::Model;
use crate::chip::loihi::{self, NetxNet};
use crate::chip::xylo::{self, Place, XyloSpec};
use crate::data::{self, InputBatch, Outputs};
use crate::flow::lava::{self, LavaReport};
use crate::flow::xylosim::{self, XyloSimReport};
use crate::quant::{self, InputStats, Network, QuantOptions, Rules};
use crate::sim::loihi::{self as lsim, LoihiRecord};
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
        schedule: None,
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

// ---------------------------------------------------------------------------------------------
// Loihi (lava-dl netx, checked in Lava's fixed-point simulator)
// ---------------------------------------------------------------------------------------------

/// A batch run on Loihi's arithmetic.
#[derive(Clone, Debug)]
pub struct LoihiRun {
    /// The quantised network.
    pub net: Network,
    /// Its netx layers.
    pub netx: NetxNet,
    /// Model steps T (the chip runs `T + lag`).
    pub steps: usize,
    /// Input payloads as fed, `n x (T + lag) x inputs`.
    pub inputs: Vec<u8>,
    /// Input values beyond the largest payload (clipped).
    pub clipped_inputs: u64,
    /// One record per sample.
    pub records: Vec<LoihiRecord>,
}

impl LoihiRun {
    /// Steps the chip runs per inference.
    pub fn chip_steps(&self) -> usize {
        self.steps + self.netx.lag
    }

    /// The output spikes aligned to the model's steps (the chip's step `t + lag` is the
    /// model's `t`).
    pub fn outputs(&self) -> Outputs {
        let (no, lag, ts) = (self.netx.outputs(), self.netx.lag, self.chip_steps());
        let mut data = Vec::with_capacity(self.records.len() * self.steps * no);
        for r in &self.records {
            data.extend(r.out_spikes[lag * no..ts * no].iter().map(|&s| f64::from(s)));
        }
        Outputs { n: self.records.len(), steps: self.steps, numel: no, shape: vec![no], spikes: true, data }
    }

    /// The output spikes as the chip emits them, `n x (T + lag) x outputs`.
    pub fn chip_outputs(&self) -> Vec<u8> {
        self.records.iter().flat_map(|r| r.out_spikes.iter().copied()).collect()
    }
}

/// Checks that `target` is a Loihi target spikefab generates code for.
pub fn loihi_target(target: &Target) -> Result<(), Error> {
    match target.flow() {
        crate::target::Flow::Lava => Ok(()),
        _ if target.family == Family::Loihi => Err(Error::Usage(format!(
            "target '{}' is Loihi's energy table (`spikefab energy --compare {}`); compile, simulate and chipsim \
             for Loihi with --target loihi2",
            target.name, target.name
        ))),
        _ => Err(Error::Usage(format!("target '{}' is not a Loihi target", target.name))),
    }
}

/// Quantises `m` for a Loihi `target` (the input scale from `settings.input_scale`, the
/// calibration statistics from `batch`), lays it out as netx, and runs `batch` on the chip
/// model for `steps + lag` steps (the inputs padded with zeros).
pub fn loihi_run(
    m: &Model,
    settings: &PlanSettings,
    target: &Target,
    steps: usize,
    batch: &InputBatch,
) -> Result<LoihiRun, Error> {
    loihi_target(target)?;
    let o = QuantOptions {
        rules: Rules::loihi(),
        input_scale: settings.input_scale,
        input_stats: Some(InputStats::of(batch)),
        timesteps: steps,
        output: None,
        early_exit: false,
    };
    let mut net = quant::quantise(m, &o).map_err(|err| Error::Quant { path: m.path.clone(), err })?;
    let mut notes = std::mem::take(&mut net.notes);
    let netx =
        loihi::map(&net, target, &mut notes).map_err(|e| Error::DoesNotFit(format!("{}: {e}", m.path.display())))?;
    net.notes = notes;
    let (ts, nin) = (steps + netx.lag, netx.input_numel());
    let max = (1u32 << net.input.bits) - 1;
    let mut inputs = vec![0u8; batch.n * ts * nin];
    let mut clipped = 0u64;
    for i in 0..batch.n {
        for t in 0..steps {
            for (c, &x) in batch.at(i, t).iter().enumerate() {
                let q = (x / net.input.scale).round().max(0.0);
                if q > f64::from(max) {
                    clipped += 1;
                }
                inputs[(i * ts + t) * nin + c] = q.min(f64::from(max)) as u8;
            }
        }
    }
    let records: Vec<LoihiRecord> = lsim::run_batch(&netx, &inputs, batch.n, ts);
    Ok(LoihiRun { net, netx, steps, inputs, clipped_inputs: clipped, records })
}

/// Runs the reference engine on `cut` and compares with the chip's aligned `chip` outputs.
pub fn verify_outputs(
    cut: &Model,
    steps: usize,
    chip: &Outputs,
    batch: &InputBatch,
    labels: Option<&[usize]>,
    progress: &dyn Progress,
) -> Result<ChipVerification, Error> {
    let output = cut.graph.select_output(None).map_err(reference::SimError::from)?;
    let r = step(progress, "verifying against the reference engine", || {
        reference::run(&cut.graph, &cut.info, cut.dialect(), batch, &RunOptions { steps, f64: false, output }, None)
    })?;
    let (rc, cc) = (r.outputs.classes(), chip.classes());
    let same = r.outputs.data.iter().zip(&chip.data).filter(|(a, b)| (**a > 0.0) == (**b > 0.0)).count();
    Ok(ChipVerification {
        samples: batch.n,
        class_agreement: data::agreement(&rc, &cc),
        output_agreement: same as f64 / chip.data.len().max(1) as f64,
        reference_accuracy: labels.map(|l| data::agreement(&rc, l)),
        chip_accuracy: labels.map(|l| data::agreement(&cc, l)),
    })
}

/// Energy of one inference on Loihi, from the operations the chip model counted.
#[derive(Clone, Debug, Serialize)]
pub struct LoihiEnergy {
    /// Synaptic events per inference (non-zero inputs times their targets), mean.
    pub synaptic_ops: f64,
    /// Neuron updates per inference (every neuron every step, `T + lag` steps).
    pub neuron_updates: f64,
    /// Spikes per inference, mean (every layer).
    pub spikes: f64,
    /// Joules per inference.
    pub energy_per_inference_j: f64,
    /// Where the figures come from.
    pub basis: String,
}

/// `run`'s energy priced with `target`'s per-operation figures, as an
/// [`crate::energy::Estimate`] beside the other targets'.
pub fn loihi_estimate(run: &LoihiRun, target: &Target) -> crate::energy::Estimate {
    let e = &target.energy;
    let (syn_j, upd_j, spk_j) =
        (e.synop_j.unwrap_or(0.0), e.neuron_update_j.unwrap_or(0.0), e.spike_out_j.unwrap_or(0.0));
    let n = run.records.len().max(1) as f64;
    let ts = run.chip_steps() as f64;
    let per_sample: Vec<f64> = run
        .records
        .iter()
        .map(|r| {
            let syn: u64 = r.synops.iter().sum();
            let spk: u64 = r.spikes.iter().map(|s| s.iter().map(|&x| u64::from(x)).sum::<u64>()).sum();
            let upd: f64 = run.netx.layers.iter().map(|l| l.neurons() as f64 * ts).sum();
            syn as f64 * syn_j + upd * upd_j + spk as f64 * spk_j
        })
        .collect();
    let mean = per_sample.iter().sum::<f64>() / n;
    let std = (per_sample.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
    let mut comp = [0.0f64; 3];
    let layers: Vec<crate::energy::LayerEnergy> = run
        .netx
        .layers
        .iter()
        .enumerate()
        .map(|(k, l)| {
            let syn = run.records.iter().map(|r| r.synops[k] as f64).sum::<f64>() / n;
            let spikes =
                run.records.iter().map(|r| r.spikes[k].iter().map(|&x| f64::from(x)).sum::<f64>()).sum::<f64>() / n;
            let upd = l.neurons() as f64 * ts;
            comp[0] += syn * syn_j;
            comp[1] += upd * upd_j;
            comp[2] += spikes * spk_j;
            crate::energy::LayerEnergy {
                name: l.name.clone(),
                synaptic_ops: syn,
                neuron_updates: upd,
                spikes,
                synaptic_j: syn * syn_j,
                neuron_j: upd * upd_j + spikes * spk_j,
                memory_j: 0.0,
                total_j: syn * syn_j + upd * upd_j + spikes * spk_j,
            }
        })
        .collect();
    let ann = crate::energy::ann_of_layers(run.net.layers.iter(), run.net.input.numel(), target);
    let ratio = |a: f64| if mean > 0.0 { a / mean } else { 0.0 };
    crate::energy::Estimate {
        target: target.name.clone(),
        schedule: None,
        kind: target.kind.to_string(),
        samples: run.records.len(),
        energy_per_inference_j: mean,
        energy_min_j: per_sample.iter().copied().fold(f64::INFINITY, f64::min).min(mean),
        energy_max_j: per_sample.iter().copied().fold(0.0, f64::max),
        energy_std_j: std,
        latency_s: None,
        cycles: 0.0,
        components: vec![
            crate::energy::Component { name: "synaptic".into(), joules: comp[0] },
            crate::energy::Component { name: "neuron".into(), joules: comp[1] },
            crate::energy::Component { name: "spikes".into(), joules: comp[2] },
        ],
        layers,
        memories: vec![],
        operations_j: mean,
        ann_fp32_over_snn: ratio(ann.fp32_j),
        ann_int8_over_snn: ratio(ann.int8_j),
        ann,
    }
}

/// The energy summary of `run` on `target`.
pub fn loihi_energy(run: &LoihiRun, target: &Target) -> LoihiEnergy {
    let est = loihi_estimate(run, target);
    let sum = |f: fn(&crate::energy::LayerEnergy) -> f64| est.layers.iter().map(f).sum::<f64>();
    LoihiEnergy {
        synaptic_ops: sum(|l| l.synaptic_ops),
        neuron_updates: sum(|l| l.neuron_updates),
        spikes: sum(|l| l.spikes),
        energy_per_inference_j: est.energy_per_inference_j,
        basis: format!(
            "the operations spikefab's chip model counted over {} steps, priced with {}'s per-operation figures \
             (Loihi 1: Davies et al. 2018, SANA-FE; Intel publishes none for Loihi 2)",
            run.chip_steps(),
            target.name
        ),
    }
}

/// What was written, and what the quantisation approximated.
#[derive(Clone, Debug, Serialize)]
pub struct LoihiSection {
    /// Layers (each its own netx layer of CUBA neurons).
    pub layers: Vec<LoihiLayerSummary>,
    /// Steps the output runs behind the model (one per layer).
    pub lag: usize,
    /// Bits of the input spikes' payload (1: unary).
    pub input_bits: u32,
    /// Cores used.
    pub cores: usize,
    /// What the quantisation approximated.
    pub notes: Vec<String>,
    /// Input values beyond the largest payload (clipped).
    pub clipped_inputs: u64,
    /// Folder of the export.
    pub dir: String,
    /// Files written.
    pub files: Vec<String>,
}

/// One layer in the report.
#[derive(Clone, Debug, Serialize)]
pub struct LoihiLayerSummary {
    /// Name (safe label).
    pub name: String,
    /// `dense` or `conv`.
    pub kind: &'static str,
    /// Neurons.
    pub neurons: usize,
    /// iDecay, vDecay (of 4096).
    pub decays: [i64; 2],
    /// Threshold mantissa.
    pub vth: i64,
    /// Exponent netx gives the weights.
    pub weight_exp: i32,
}

/// Writes the export of `run` into `dir`.
pub fn write_loihi(run: &LoihiRun, dir: &Path) -> Result<Vec<String>, Error> {
    let n = run.records.len();
    let files = crate::back::loihi::files(&run.netx, n, run.chip_steps(), &run.inputs, &run.chip_outputs())
        .map_err(crate::flow::FlowError::Io)?;
    std::fs::create_dir_all(dir).map_err(|e| crate::flow::FlowError::Io(format!("{}: {e}", dir.display())))?;
    for (name, bytes) in &files {
        std::fs::write(dir.join(name), bytes)
            .map_err(|e| crate::flow::FlowError::Io(format!("{}: {e}", dir.join(name).display())))?;
    }
    Ok(files.into_iter().map(|(n, _)| n).collect())
}

/// The summary for reports.
pub fn loihi_section(run: &LoihiRun, dir: &Path, files: Vec<String>) -> LoihiSection {
    LoihiSection {
        layers: run
            .netx
            .layers
            .iter()
            .map(|l| LoihiLayerSummary {
                name: l.name.clone(),
                kind: if l.conv.is_some() { "conv" } else { "dense" },
                neurons: l.neurons(),
                decays: [l.i_decay, l.v_decay],
                vth: l.vth,
                weight_exp: l.weight_exp,
            })
            .collect(),
        lag: run.netx.lag,
        input_bits: run.netx.input_bits,
        cores: run.netx.cores,
        notes: run.net.notes.clone(),
        clipped_inputs: run.clipped_inputs,
        dir: dir.display().to_string(),
        files,
    }
}

/// Runs the export in `dir` in Lava, when a Python with lava-dl exists (`Err(reason)`
/// otherwise).
pub fn lava_check(run: &LoihiRun, dir: &Path, progress: &dyn Progress) -> Result<Result<LavaReport, String>, Error> {
    let Some(py) = lava::python() else {
        return Ok(Err("no Python with Lava (lava-nc 0.10.0, lava-dl 0.6.0; see the README's Loihi section; point \
             SPIKEFAB_LAVA_PYTHON at it)"
            .into()));
    };
    let what = format!("running {} samples in Lava (fixed_pt)", run.records.len());
    let r = step(progress, &what, || lava::check(dir, &py, &run.records))?;
    Ok(Ok(r))
}
