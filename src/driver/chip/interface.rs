//! The interface every chip back end implements ([`ChipBackend`], [`ChipMap`], [`ChipRun`]),
//! what the commands read of it, and the helpers the families share.

use std::path::Path;

use serde::Serialize;

use super::layout::ChipLayout;
use crate::Model;
use crate::data::{self, InputBatch, Outputs};
use crate::driver::progress::step;
use crate::driver::resource::Resource;
use crate::driver::{Error, Progress, Step};
use crate::energy::Estimate;
use crate::flow::FlowError;
use crate::flow::vendor::VendorCheck;
use crate::options::PlanSettings;
use crate::sim::reference::{self, RunOptions};
use crate::target::Target;

/// What the commands say of a chip back end.
#[derive(Debug)]
pub struct ChipInfo {
    /// The family's name in messages (`Xylo`).
    pub name: &'static str,
    /// The vendor's simulator that judges the export.
    pub simulator: &'static str,
    /// How to install the vendor's simulator.
    pub install: &'static str,
    /// The export's folder inside the output folder.
    pub export_dir: &'static str,
    /// It reads `--spike-cap` (its neurons carry a bounded spike count).
    pub takes_spike_cap: bool,
    /// The reset its neurons implement, which the legalisation (the merge-branches pass, run
    /// by the driver before [`ChipBackend::map`]) keeps the model's function under.
    pub legalise_reset: crate::ir::ResetMode,
}

/// A chip family's back end.
pub trait ChipBackend: Sync {
    /// Its names and where its files go.
    fn info(&self) -> &'static ChipInfo;
    /// Quantises `m` (legalised: the target back end's pass phase ran on it) under the chip's
    /// arithmetic for `steps` model steps and places it on `target`; the input range comes from `settings.input_scale` or `calib`. A model beyond
    /// the chip's limits is [`Error::DoesNotFit`], naming the limit, the figure and the node.
    fn map(
        &self,
        m: &Model,
        settings: &PlanSettings,
        target: &Target,
        steps: usize,
        calib: Option<&InputBatch>,
    ) -> Result<Box<dyn ChipMap>, Error>;
}

/// A model placed on a chip.
pub trait ChipMap: Send + Sync {
    /// The placement, for `plan` and the reports.
    fn layout(&self) -> ChipLayout;
    /// What the quantisation approximated and the placement decided.
    fn notes(&self) -> &[String];
    /// Steps the chip runs per inference (the model's steps and the chip's lag).
    fn chip_steps(&self) -> usize;
    /// Seconds per chip step and where that figure comes from, when there is one.
    fn step_time(&self) -> Option<(f64, String)>;
    /// What the placement uses of the chip (cores, neurons, synapses), against its limits.
    fn resources(&self) -> Vec<Resource>;
    /// Runs `batch` on the chip-exact model, sample by sample as the vendor's script runs them.
    fn run<'a>(&'a self, batch: &InputBatch) -> Box<dyn ChipRun + 'a>;
}

/// A batch run on a chip-exact model.
pub trait ChipRun: Send {
    /// The output spikes on the model's steps (the chip's step `t + lag` is the model's `t`).
    fn outputs(&self) -> Outputs;
    /// Spikes per neuron per chip step of every layer.
    fn rates(&self) -> Vec<(String, f64)>;
    /// What of the inputs the chip does not take (events above its limit), when any.
    fn inputs_not_taken(&self) -> Option<String>;
    /// Writes the vendor's files (the placement, the inputs as fed, the expected spikes, the
    /// script that runs them) into `dir`: their names.
    fn write_export(&self, dir: &Path) -> Result<Vec<String>, Error>;
    /// Has the vendor's simulator run the export in `dir` and compares every value it records
    /// with this run; skipped, with the reason, when the simulator is not installed.
    fn vendor_check(&self, dir: &Path, progress: &dyn Progress) -> Result<Step<VendorCheck>, Error>;
    /// Energy per inference, when the target prices it (`None`: it publishes no figure).
    fn estimate(&self, target: &Target) -> Option<Estimate>;
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

/// Runs the reference engine on `cut` over `batch` for `steps` steps and compares it with the
/// chip's aligned outputs.
pub fn verify(
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

/// The export written.
#[derive(Clone, Debug, Serialize)]
pub struct Export {
    /// Folder.
    pub dir: String,
    /// Files.
    pub files: Vec<String>,
}

/// What a chip compile placed, checked and measured.
#[derive(Clone, Debug, Serialize)]
pub struct ChipSection {
    /// The placement.
    pub layout: ChipLayout,
    /// Steps the chip runs per inference.
    pub chip_steps: usize,
    /// What the quantisation approximated and the placement decided.
    pub notes: Vec<String>,
    /// What of the inputs the chip does not take, when any.
    pub inputs_not_taken: Option<String>,
    /// The chip against the reference engine.
    pub verify: ChipVerification,
    /// The vendor's files.
    pub export: Export,
    /// The export in the vendor's simulator.
    pub vendor_check: Step<VendorCheck>,
    /// Energy per inference, when the target prices it.
    pub energy: Option<Estimate>,
}

/// The quantisation options of a chip's `rules` for `steps` model steps, the input range from
/// `settings.input_scale` or `calib`. The target back end has refused the plan options the chip
/// does not read (`TargetBackend::accept`).
pub(crate) fn quant_options(
    rules: crate::quant::Rules,
    settings: &PlanSettings,
    steps: usize,
    calib: Option<&InputBatch>,
) -> Result<crate::quant::QuantOptions, Error> {
    Ok(crate::quant::QuantOptions {
        rules,
        input_scale: settings.input_scale,
        input_stats: calib.map(crate::quant::InputStats::of),
        timesteps: steps,
        output: None,
        early_exit: false,
        spike_cap: settings.spike_cap,
    })
}

/// Writes `files` into `dir` (created): their names.
pub(crate) fn write_files(dir: &Path, files: Vec<(String, Vec<u8>)>) -> Result<Vec<String>, Error> {
    let io = |p: &Path, e: std::io::Error| Error::from(FlowError::Io(format!("{}: {e}", p.display())));
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    for (name, bytes) in &files {
        std::fs::write(dir.join(name), bytes).map_err(|e| io(&dir.join(name), e))?;
    }
    Ok(files.into_iter().map(|(n, _)| n).collect())
}

/// Inputs as integer payloads the chip takes: `batch`'s values over `scale` rounded, at least 0,
/// capped at `max`, laid out `n x chip_steps x width` (channels past the batch's and steps past
/// the model's are zero). Also returns the values above `max` and the sum of their excess.
pub(crate) fn payloads(
    batch: &InputBatch,
    steps: usize,
    chip_steps: usize,
    width: usize,
    scale: f64,
    max: u8,
) -> (Vec<u8>, u64, u64) {
    let nin = width;
    let mut out = vec![0u8; batch.n * chip_steps * nin];
    let (mut clipped, mut excess) = (0u64, 0u64);
    for i in 0..batch.n {
        for t in 0..steps {
            for (c, &x) in batch.at(i, t).iter().enumerate() {
                let q = (x / scale).round().max(0.0);
                if q > f64::from(max) {
                    clipped += 1;
                    excess += (q - f64::from(max)) as u64;
                }
                out[(i * chip_steps + t) * nin + c] = q.min(f64::from(max)) as u8;
            }
        }
    }
    (out, clipped, excess)
}

/// Spikes per neuron per step of `per_sample` spike vectors (`steps x neurons`, row major),
/// counting neurons `first..first + neurons` of each row of `width`.
pub(crate) fn rate(per_sample: &[&[u8]], width: usize, first: usize, neurons: usize, steps: usize) -> f64 {
    let total: u64 = per_sample
        .iter()
        .map(|s| {
            s.chunks(width.max(1))
                .map(|row| row[first..first + neurons].iter().map(|&x| u64::from(x)).sum::<u64>())
                .sum::<u64>()
        })
        .sum();
    total as f64 / (per_sample.len() * steps * neurons).max(1) as f64
}
