//! `compile`: a model to hardware for a target, checked, with its energy estimate. FPGA and ASIC
//! targets get the FPGA layout's Verilog and/or HLS C++ ([`fpga`]: verified against the
//! reference, co-simulated and C-simulated against the cycle engine, built to a bitstream where
//! the target's flow allows); chip targets get their chip back end's export, judged by the
//! vendor's simulator ([`crate::driver::chip`]). The report holds one section for whichever
//! of the two ran ([`Hardware`]).

pub(crate) mod chip;
pub(crate) mod fpga;
mod run;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Error;
use super::chip::ChipSection;
use super::step::Step;
use super::verify::{CosimSettings, EarlyExit, Verification};
use crate::data::InputBatch;
use crate::energy::Estimate;
use crate::energy::neurobench::Counts;
use crate::flow::FlowError;
use crate::flow::cosim::CosimReport;
use crate::flow::csim::CsimReport;
use crate::flow::ecp5::Ecp5Report;
use crate::flow::ice40::Ice40Report;
use crate::hw::PlanSummary;
use crate::options::{PassSettings, PlanSettings, Samples};
use crate::passes::PassRecord;
use crate::report::Resources;

pub use run::compile;

/// Which hardware descriptions to emit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Verilog RTL (co-simulated; a bitstream on targets with an open flow).
    #[default]
    Verilog,
    /// HLS C++ for Vitis HLS in `hls/` (C-simulated with g++).
    Hls,
    /// Both.
    Both,
}

/// What `compile` builds and checks besides the plan and the passes: the command line's
/// compile options, which Python passes by name.
#[derive(Clone, Debug, PartialEq, clap::Args, Serialize, Deserialize)]
#[serde(default)]
pub struct CompileSettings {
    /// Hardware descriptions to emit: Verilog RTL, HLS C++ (into <out>/hls), or both (FPGA and
    /// ASIC targets; a chip target writes its vendor's files).
    #[arg(long, value_enum, default_value = "verilog")]
    pub backend: Backend,
    /// Build the bitstream: iCE40 (Yosys, nextpnr-ice40, icepack; icetime when installed) and
    /// ECP5 (Yosys, nextpnr-ecp5, ecppack) targets, with the Debian tools on the PATH or else
    /// YoWASP's from PyPI, installed on first use (docs/fpga-flows.md).
    #[arg(long)]
    pub bitstream: bool,
    /// Place and route with seeds 1..=N and keep the fastest placement (iCE40: by the lower of
    /// nextpnr's and icetime's Fmax; ECP5: nextpnr's). Near full devices and near the clock
    /// target, placements of the same netlist differ by several MHz.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub pnr_seeds: u32,
    /// Samples of the checked inputs to co-simulate (0: skip co-simulation).
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub cosim_samples: usize,
    /// Co-simulation.
    #[command(flatten)]
    #[serde(flatten)]
    pub cosim: CosimSettings,
    /// Samples of the checked inputs to C-simulate with the HLS back end [default: all; 0: skip].
    #[arg(long, value_name = "N")]
    pub csim_samples: Option<usize>,
    /// Write a self-contained HTML report (energy, counts, spike raster, resources) to this
    /// file (needs inputs; FPGA and ASIC targets).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// The sample whose spike raster the report shows.
    #[arg(long, default_value_t = 0)]
    pub raster_sample: usize,
    /// The students the board design runs from power-on.
    #[command(flatten)]
    #[serde(flatten)]
    pub mask: crate::driver::mask::StudentMask,
}

impl Default for CompileSettings {
    fn default() -> Self {
        crate::options::defaults()
    }
}

/// Everything `compile` takes besides the model.
#[derive(Clone, Debug)]
pub struct CompileOptions {
    /// The hardware plan.
    pub plan: PlanSettings,
    /// The passes.
    pub passes: PassSettings,
    /// Which inputs are checked (all calibrate).
    pub samples: Samples,
    /// What is built and checked.
    pub build: CompileSettings,
    /// Calibration and verification inputs.
    pub inputs: Option<InputBatch>,
    /// Labels of `inputs`, for accuracies.
    pub labels: Option<Vec<usize>>,
    /// Output folder; everything is written inside it.
    pub out_dir: PathBuf,
}

impl CompileOptions {
    /// Verilog for `plan`'s target into `out_dir`, default passes, no inputs.
    pub fn new(plan: PlanSettings, out_dir: impl Into<PathBuf>) -> Self {
        CompileOptions {
            plan,
            passes: PassSettings::default(),
            samples: Samples::default(),
            build: CompileSettings::default(),
            inputs: None,
            labels: None,
            out_dir: out_dir.into(),
        }
    }

    /// The inputs, or the usage error naming what needs them.
    pub(crate) fn needs_inputs(&self, why: &str) -> Result<&InputBatch, Error> {
        self.inputs.as_ref().ok_or_else(|| Error::Usage(format!("{why} needs --inputs")))
    }
}

/// The energy of one inference.
#[derive(Clone, Debug, Serialize)]
pub struct EnergySection {
    /// Mean energy per inference, J.
    pub energy_per_inference_j: f64,
    /// NeuroBench-compatible counts (reference engine).
    pub counts: Counts,
    /// The estimate, component by component.
    pub estimate: Estimate,
}

/// What an FPGA or ASIC compile emitted, checked and built: the FPGA layout's designs.
#[derive(Clone, Debug, Serialize)]
pub struct RtlSection {
    /// Top Verilog module, when Verilog was emitted.
    pub top: Option<String>,
    /// Verilog files, when emitted.
    pub files: Option<Vec<String>>,
    /// The FPGA plan without weight values.
    pub plan: PlanSummary,
    /// What the plan needs beyond the device (its memories against the device's; the logic is
    /// predicted in `logic` and checked by a bitstream build), each with the figures. Empty: it
    /// fits.
    pub exceeds_device: Vec<String>,
    /// The logic model's prediction for the design compiled (iCE40 and ECP5): beside the
    /// bitstream build's own counts, it says how far the model was off.
    pub logic: Option<crate::hw::logic::Logic>,
    /// The HLS project, when emitted.
    pub hls: Option<HlsInfo>,
    /// Reference against the cycle engine, with inputs.
    pub verify: Option<Verification>,
    /// Early exit against every step, when enabled.
    pub early_exit: Option<EarlyExit>,
    /// Energy, with inputs.
    pub energy: Option<EnergySection>,
    /// Co-simulation.
    pub cosim: Option<Step<CosimReport>>,
    /// C simulation.
    pub csim: Option<Step<CsimReport>>,
    /// The bitstream build.
    pub fpga: Option<FpgaOutcome>,
    /// The HTML report written.
    pub report: Option<String>,
    /// The students the board design runs from power-on and the checks ran (`--active-students`);
    /// None: every student.
    pub active_students: Option<Vec<String>>,
}

/// What the target's mapping built and checked: one section per kind of mapping.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Hardware {
    /// The FPGA layout's Verilog and HLS C++ (FPGA and ASIC targets).
    Rtl(Box<RtlSection>),
    /// A chip back end's export (neuromorphic targets).
    Chip(Box<ChipSection>),
}

/// What `compile` did and measured (written as `report.json`).
#[derive(Clone, Debug, Serialize)]
pub struct CompileReport {
    /// Model file.
    pub model: String,
    /// Target name.
    pub target: String,
    /// Clock the latency figures assume (a chip's nominal clock).
    pub clock_mhz: f64,
    /// Timesteps run.
    pub timesteps: usize,
    /// What the passes changed.
    pub passes: Vec<PassRecord>,
    /// The target's section (`kind`: `rtl` or `chip`).
    #[serde(flatten)]
    pub hardware: Hardware,
    /// Checks that failed (the command exits 1): agreement below its bound, a mismatch in
    /// co-simulation, C simulation or the vendor's simulator, timing not met, a design that
    /// does not fit.
    pub failures: Vec<String>,
}

impl CompileReport {
    /// The FPGA section, when the target took the FPGA layout.
    pub fn rtl(&self) -> Option<&RtlSection> {
        match &self.hardware {
            Hardware::Rtl(r) => Some(r),
            Hardware::Chip(_) => None,
        }
    }

    /// The chip section, when the target is a chip.
    pub fn chip(&self) -> Option<&ChipSection> {
        match &self.hardware {
            Hardware::Chip(c) => Some(c),
            Hardware::Rtl(_) => None,
        }
    }

    /// Resource use of the placed design, for the HTML report.
    pub fn resources(&self) -> Option<Resources> {
        self.rtl()?.fpga.as_ref()?.resources()
    }

    /// Writes `report.json` into `out`.
    pub(crate) fn write(&self, out: &Path) -> Result<(), Error> {
        write(out, "report.json", &(serde_json::to_string_pretty(self).expect("plain data") + "\n"))
    }
}

/// Writes `text` as `out/name`.
pub(crate) fn write(out: &Path, name: &str, text: &str) -> Result<(), Error> {
    let path = out.join(name);
    std::fs::write(&path, text).map_err(|e| FlowError::Io(format!("{}: {e}", path.display())).into())
}

/// The HLS project written.
#[derive(Clone, Debug, Serialize)]
pub struct HlsInfo {
    /// Top function.
    pub top: String,
    /// Folder.
    pub dir: String,
    /// Files.
    pub files: Vec<String>,
    /// The part `run_hls.tcl` synthesises for.
    pub part: String,
    /// What runs it.
    pub vitis: String,
}

/// The FPGA build's outcome.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum FpgaOutcome {
    /// Placed, routed and packed (iCE40).
    Built(Box<Ice40Report>),
    /// Placed, routed and packed (ECP5).
    BuiltEcp5(Box<Ecp5Report>),
    /// The design does not fit the device.
    DoesNotFit {
        /// What overflowed.
        does_not_fit: String,
    },
}

impl FpgaOutcome {
    /// A built design's Fmax (the figure its flow signs off with) and the clock asked for.
    pub(super) fn timing(&self) -> Option<(Option<f64>, f64)> {
        match self {
            FpgaOutcome::Built(r) => Some((r.fmax_mhz(), r.target_mhz)),
            FpgaOutcome::BuiltEcp5(r) => Some((r.fmax_mhz(), r.target_mhz)),
            FpgaOutcome::DoesNotFit { .. } => None,
        }
    }

    /// A built design's Fmax (the figure its flow signs off with).
    pub fn fmax_mhz(&self) -> Option<f64> {
        self.timing()?.0
    }

    /// The Fmax and the clock asked for, when a built design's Fmax is below the clock.
    pub(super) fn missed_clock(&self) -> Option<(f64, f64)> {
        let (fmax, want) = self.timing()?;
        fmax.filter(|&f| f < want).map(|f| (f, want))
    }

    /// Resource use of the placed design, for the HTML report.
    pub fn resources(&self) -> Option<Resources> {
        let row = |n: &str, u: &crate::flow::ice40::Use| (n.to_string(), u.used, u.available);
        match self {
            FpgaOutcome::BuiltEcp5(r) => Some(vec![
                row("LUT4", &r.luts),
                row("flip-flops", &r.ffs),
                row("block RAM (DP16KD)", &r.block_rams),
                row("DSP (MULT18X18D)", &r.dsps),
                row("I/O", &r.ios),
            ]),
            FpgaOutcome::Built(r) => {
                let mut v = vec![
                    row("LUT4", &r.luts),
                    row("flip-flops", &r.ffs),
                    row("block RAM", &r.block_rams),
                    row("DSP", &r.dsps),
                ];
                v.extend(r.logic_cells.as_ref().map(|lc| row("logic cells", lc)));
                v.extend(r.ios.as_ref().map(|io| row("I/O", io)));
                Some(v)
            }
            FpgaOutcome::DoesNotFit { .. } => None,
        }
    }
}
