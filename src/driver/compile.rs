//! `compile`: a model to Verilog and/or HLS C++ for a target, verified against the reference,
//! co-simulated and C-simulated against the cycle engine, built to a bitstream where the
//! target's flow allows, with its energy estimate and NeuroBench counts.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::chip::{
    ChipEnergy, ChipVerification, LoihiEnergy, LoihiSection, XyloSection, lava_check, loihi_energy, loihi_run,
    loihi_section, vendor_check, verify_outputs, verify_xylo, write_loihi, write_xylo, xylo_energy, xylo_run,
    xylo_section,
};
use super::progress::step;
use super::verify::{EarlyExit, Verification, cosim_step, early_exit_check, html_report, verify};
use super::{Error, PassSettings, PlanSettings, Progress, prepare, steps_for};
use crate::Model;
use crate::back::{hls, verilog};
use crate::data::InputBatch;
use crate::energy::neurobench::{self, Counts};
use crate::energy::{self, Estimate};
use crate::flow::cosim::{CosimReport, Simulator};
use crate::flow::csim::{self, CsimReport};
use crate::flow::ecp5::{self, Ecp5Report};
use crate::flow::ice40::{self, Ice40Report};
use crate::flow::lava::LavaReport;
use crate::flow::xylosim::XyloSimReport;
use crate::flow::{self, FlowError, vivado};
use crate::hw::{PlanSummary, Schedule};
use crate::passes::PassRecord;
use crate::report::Resources;
use crate::sim::cycle;
use crate::target::{Flow, Kind, ScheduleChoice, Target};

/// Which hardware descriptions to emit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Verilog RTL (co-simulated; a bitstream on targets with an open flow).
    Verilog,
    /// HLS C++ for Vitis HLS in `hls/` (C-simulated with g++).
    Hls,
    /// Both.
    Both,
}

/// Co-simulation settings.
#[derive(Clone, Debug)]
pub struct CosimSettings {
    /// Samples to co-simulate (0: skip).
    pub samples: usize,
    /// The simulator, or `None` for the installed one predicted to finish first.
    pub simulator: Option<Simulator>,
    /// Skip (with the prediction) above this many predicted seconds.
    pub budget_s: f64,
}

impl Default for CosimSettings {
    fn default() -> Self {
        CosimSettings { samples: 16, simulator: None, budget_s: 600.0 }
    }
}

/// Everything `compile` takes besides the model.
#[derive(Clone, Debug)]
pub struct CompileOptions {
    /// The hardware plan.
    pub plan: PlanSettings,
    /// The passes.
    pub passes: PassSettings,
    /// Calibration and verification inputs.
    pub inputs: Option<InputBatch>,
    /// Labels of `inputs`, for accuracies.
    pub labels: Option<Vec<usize>>,
    /// Verify (and count energy, co-simulate, C-simulate) only the first this many inputs;
    /// the input range is still calibrated on all of them [default: all].
    pub samples: Option<usize>,
    /// Output folder; everything is written inside it.
    pub out_dir: PathBuf,
    /// Hardware descriptions to emit.
    pub backend: Backend,
    /// Build the bitstream (targets with an open flow).
    pub bitstream: bool,
    /// Placement seeds the bitstream build tries, keeping the fastest (1..=64).
    pub pnr_seeds: u32,
    /// Co-simulation.
    pub cosim: CosimSettings,
    /// Samples to C-simulate with the HLS back end [default: all inputs; 0: skip].
    pub csim_samples: Option<usize>,
    /// Write the HTML report here (needs inputs).
    pub html_report: Option<PathBuf>,
    /// The sample whose spike raster the report shows.
    pub raster_sample: usize,
}

impl CompileOptions {
    /// Verilog for `plan`'s target into `out_dir`, default passes, no inputs.
    pub fn new(plan: PlanSettings, out_dir: impl Into<PathBuf>) -> Self {
        CompileOptions {
            plan,
            passes: PassSettings::default(),
            inputs: None,
            labels: None,
            samples: None,
            out_dir: out_dir.into(),
            backend: Backend::Verilog,
            bitstream: false,
            pnr_seeds: 1,
            cosim: CosimSettings::default(),
            csim_samples: None,
            html_report: None,
            raster_sample: 0,
        }
    }
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

/// A step that ran, or was skipped with a reason.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum Step<T> {
    /// It ran.
    Ran(T),
    /// It did not run.
    Skipped {
        /// Why.
        skipped: String,
    },
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
    /// The Fmax and the clock asked for, when a built design's Fmax is below the clock.
    fn missed_clock(&self) -> Option<(f64, f64)> {
        let (fmax, want) = match self {
            FpgaOutcome::Built(r) => (r.fmax_mhz(), r.target_mhz),
            FpgaOutcome::BuiltEcp5(r) => (r.fmax_mhz(), r.target_mhz),
            FpgaOutcome::DoesNotFit { .. } => return None,
        };
        fmax.filter(|&f| f < want).map(|f| (f, want))
    }
}

/// What `compile` did and measured (written as `report.json`).
#[derive(Clone, Debug, Serialize)]
pub struct CompileReport {
    /// Model file.
    pub model: String,
    /// Target name.
    pub target: String,
    /// Clock the latency figures assume.
    pub clock_mhz: f64,
    /// Timesteps run.
    pub timesteps: usize,
    /// Top Verilog module, when Verilog was emitted.
    pub top: Option<String>,
    /// Verilog files, when emitted.
    pub files: Option<Vec<String>>,
    /// The FPGA plan without weight values (FPGA and ASIC targets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<PlanSummary>,
    /// The chip placement and export (Xylo targets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xylo: Option<XyloSection>,
    /// The chip against the reference engine (chip targets, with inputs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chip_verify: Option<ChipVerification>,
    /// The export in the vendor's simulator (chip targets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xylosim: Option<Step<XyloSimReport>>,
    /// Energy on the chip (chip targets that publish a power).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chip_energy: Option<ChipEnergy>,
    /// The netx export (Loihi targets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loihi: Option<LoihiSection>,
    /// The export in Lava's fixed-point simulator (Loihi targets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lava: Option<Step<LavaReport>>,
    /// Energy on Loihi from the counted operations (Loihi targets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loihi_energy: Option<LoihiEnergy>,
    /// What the passes changed.
    pub passes: Vec<PassRecord>,
    /// The HLS project, when emitted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hls: Option<HlsInfo>,
    /// Reference against hardware, with inputs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify: Option<Verification>,
    /// Early exit against every step, when enabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub early_exit: Option<EarlyExit>,
    /// Energy, with inputs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub energy: Option<EnergySection>,
    /// Co-simulation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cosim: Option<Step<CosimReport>>,
    /// C simulation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csim: Option<Step<CsimReport>>,
    /// The bitstream build.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fpga: Option<FpgaOutcome>,
    /// The HTML report written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<String>,
    /// Checks that failed (the command exits 1): agreement below its bound, a mismatch in
    /// co-simulation or C simulation, timing not met, a design that does not fit.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<String>,
}

impl CompileReport {
    /// Resource use of the placed design, for the HTML report.
    pub fn resources(&self) -> Option<Resources> {
        if let Some(FpgaOutcome::BuiltEcp5(r)) = &self.fpga {
            return Some(vec![
                ("LUT4".to_string(), r.luts.used, r.luts.available),
                ("flip-flops".to_string(), r.ffs.used, r.ffs.available),
                ("block RAM (DP16KD)".to_string(), r.block_rams.used, r.block_rams.available),
                ("DSP (MULT18X18D)".to_string(), r.dsps.used, r.dsps.available),
                ("I/O".to_string(), r.ios.used, r.ios.available),
            ]);
        }
        let Some(FpgaOutcome::Built(r)) = &self.fpga else { return None };
        let mut v = vec![
            ("LUT4".to_string(), r.luts.used, r.luts.available),
            ("flip-flops".to_string(), r.ffs.used, r.ffs.available),
            ("block RAM".to_string(), r.block_rams.used, r.block_rams.available),
            ("DSP".to_string(), r.dsps.used, r.dsps.available),
        ];
        if let Some(lc) = &r.logic_cells {
            v.push(("logic cells".into(), lc.used, lc.available));
        }
        if let Some(io) = &r.ios {
            v.push(("I/O".into(), io.used, io.available));
        }
        Some(v)
    }
}

fn write(out: &Path, name: &str, text: &str) -> Result<(), Error> {
    std::fs::write(out.join(name), text).map_err(|e| FlowError::Io(format!("{}: {e}", out.join(name).display())).into())
}

/// Compiles `m` as `o` says. Checks that fail are listed in [`CompileReport::failures`];
/// `report.json` is written into the output folder either way.
pub fn compile(m: &Model, o: &CompileOptions, progress: &dyn Progress) -> Result<CompileReport, Error> {
    let target = o.plan.target()?;
    if target.kind == Kind::Neuromorphic && target.family == crate::target::Family::Loihi {
        return compile_loihi(m, o, &target, progress);
    }
    if target.kind == Kind::Neuromorphic {
        return compile_chip(m, o, &target, progress);
    }
    match compile_fpga(m, o, target.clone(), &o.plan, None, progress)? {
        Ok(r) => Ok(r),
        Err(why) => {
            // `--schedule auto` laid the plan out pipelined and its bitstream build found it
            // does not fit or misses the clock.
            progress.note(&format!("{why}: compiling the sequential schedule"));
            let mut settings = o.plan.clone();
            settings.schedule = Some(ScheduleChoice::Sequential);
            let note = format!("auto: sequential; {why}");
            let Ok(r) = compile_fpga(m, o, target, &settings, Some(note), progress)? else {
                unreachable!("a sequential plan is never rebuilt")
            };
            Ok(r)
        }
    }
}

/// `compile` for an FPGA or a generic target, the plan built as `settings` says (`o.plan`
/// but for the schedule of a fallback, whose reason is `note`). `Err(why)`: the plan was
/// pipelined by `--schedule auto` and its bitstream build (run before verification then)
/// found that it does not fit the device or misses the clock; its design files are removed
/// again.
fn compile_fpga(
    m: &Model,
    o: &CompileOptions,
    target: Target,
    settings: &PlanSettings,
    note: Option<String>,
    progress: &dyn Progress,
) -> Result<Result<CompileReport, String>, Error> {
    let batch = o.inputs.as_ref();
    if o.html_report.is_some() && batch.is_none() {
        return Err(Error::Usage("--report needs --inputs (the report shows measured activity)".into()));
    }
    if o.labels.is_some() && batch.is_none() {
        return Err(Error::Usage("--labels needs --inputs".into()));
    }
    match o.samples {
        Some(0) => return Err(Error::Usage("--samples must be at least 1".into())),
        Some(_) if batch.is_none() => return Err(Error::Usage("--samples needs --inputs".into())),
        _ => {}
    }
    let rtl = o.backend != Backend::Hls;
    let with_hls = o.backend != Backend::Verilog;
    if !(1..=crate::flow::MAX_SEEDS).contains(&o.pnr_seeds) {
        return Err(Error::Usage(format!("--pnr-seeds must be 1..={}, not {}", crate::flow::MAX_SEEDS, o.pnr_seeds)));
    }
    if o.pnr_seeds > 1 && !o.bitstream {
        return Err(Error::Usage("--pnr-seeds is for the bitstream build: add --bitstream".into()));
    }
    if o.bitstream && !rtl {
        return Err(Error::Usage("--bitstream builds the Verilog: use --backend verilog or both".into()));
    }
    if o.bitstream && !matches!(target.flow(), Flow::OpenIce40 | Flow::OpenEcp5) {
        return Err(Error::Usage(format!(
            "--bitstream builds with the open iCE40 and ECP5 flows; for {} run {} in {} yourself",
            target.name,
            if target.flow() == Flow::Vivado { "vivado.tcl with Vivado" } else { "a synthesis flow" },
            o.out_dir.display()
        )));
    }
    if o.bitstream && target.flow() == Flow::OpenEcp5 {
        // Before the long steps: the YoWASP tools are a pip install away.
        ecp5::tools()?;
    }
    let steps = steps_for(m, batch)?;
    let prep = prepare(m.clone(), steps, &o.passes, settings, batch, o.labels.as_deref(), progress)?;
    let (steps, m) = (prep.steps, &prep.model);
    let mut plan = settings.plan(m, steps, batch)?;
    if note.is_some() {
        plan.schedule_note = note;
    }
    let out = &o.out_dir;
    // Both back ends refuse exactly the plans `back::limits` refuses: the Verilog back end (or
    // the HLS one alone) refuses before anything is written.
    let mut design = if rtl { Some(verilog::emit(&plan, None)?) } else { None };
    // A clock the board's PLL cannot make is refused before anything is written too.
    let clock = match &design {
        Some(d) if target.flow() == Flow::OpenIce40 => ice40::clock_top(d, &target).map_err(Error::Usage)?,
        Some(d) if target.flow() == Flow::OpenEcp5 => ecp5::clock_top(d, &target).map_err(Error::Usage)?,
        _ => None,
    };
    let hls_dir = out.join("hls");
    if let Some(d) = &mut design {
        flow::write_design(d, out)?;
        // A large network's ROM images are megabytes: written, they are not held while the
        // HLS design is emitted (only the file names are read from here on).
        for (_, text) in &mut d.files {
            *text = String::new();
        }
        match target.flow() {
            Flow::OpenIce40 => {
                if let Some((name, text)) = &clock {
                    write(out, name, text)?;
                }
                write(out, &format!("{}.pcf", d.module), &ice40::pcf(d, &target)?)?;
                write(out, &format!("{}.ys", d.module), &ice40::yosys_script(d, &target))?;
                write(out, "build.sh", &ice40::build_script(d, &target))?;
            }
            Flow::OpenEcp5 => {
                if let Some((name, text)) = &clock {
                    write(out, name, text)?;
                }
                write(out, &format!("{}.lpf", d.module), &ecp5::lpf(d, &target)?)?;
                write(out, &format!("{}.ys", d.module), &ecp5::yosys_script(d, &target))?;
                write(out, "build.sh", &ecp5::build_script(d, &target))?;
            }
            Flow::Vivado => {
                write(out, "vivado.tcl", &vivado::tcl(d, &target))?;
                write(out, &format!("{}.xdc", d.module), &vivado::xdc(d, &target))?;
            }
            Flow::XyloSim | Flow::Lava | Flow::None => {}
        }
    }
    let hls_design = if with_hls {
        Some(hls::write(&plan, target.hls_part(), &hls_dir).map_err(|e| match e {
            hls::WriteError::Emit(e) => Error::from(e),
            hls::WriteError::Io(msg) => FlowError::Io(msg).into(),
        })?)
    } else {
        None
    };
    let summary = plan.summary();
    write(out, "plan.json", &(serde_json::to_string_pretty(&summary).expect("plain data") + "\n"))?;
    // An automatic pipelined choice is built first: when it does not fit or misses the clock,
    // the sequential design is compiled instead, without verifying this one.
    let mut built = None;
    if o.bitstream && plan.schedule == Schedule::Pipelined && plan.schedule_note.is_some() {
        let d = design.as_ref().expect("--bitstream checked to emit Verilog");
        let b = bitstream(d, &target, o, progress)?;
        let why = match &b.0 {
            FpgaOutcome::DoesNotFit { does_not_fit } => {
                Some(format!("the pipelined design does not fit: {does_not_fit}"))
            }
            outcome => outcome
                .missed_clock()
                .map(|(f, want)| format!("the pipelined design misses the {want} MHz clock (Fmax {f:.2} MHz)")),
        };
        if let Some(why) = why {
            for (name, _) in &d.files {
                let path = out.join(name);
                std::fs::remove_file(&path).map_err(|e| FlowError::Io(format!("{}: {e}", path.display())))?;
            }
            return Ok(Err(why));
        }
        built = Some(b);
    }
    let mut r = CompileReport {
        model: m.path.display().to_string(),
        target: target.name.clone(),
        clock_mhz: plan.clock_mhz,
        timesteps: steps,
        top: design.as_ref().map(|d| d.module.clone()),
        files: design.as_ref().map(|d| d.files.iter().map(|(n, _)| n.clone()).collect()),
        plan: Some(summary),
        xylo: None,
        chip_verify: None,
        xylosim: None,
        chip_energy: None,
        loihi: None,
        lava: None,
        loihi_energy: None,
        passes: prep.records.clone(),
        hls: hls_design.map(|d| HlsInfo {
            top: d.top,
            dir: hls_dir.display().to_string(),
            files: d.files,
            part: target.hls_part().to_string(),
            vitis: "run_hls.tcl is written for Vitis HLS and not run here".into(),
        }),
        verify: None,
        early_exit: None,
        energy: None,
        cosim: None,
        csim: None,
        fpga: None,
        report: None,
        failures: vec![],
    };
    let mut measured = None;
    // The verification inputs: the first `samples` of the calibration inputs.
    let first;
    let (batch, labels) = match (batch, o.samples) {
        (Some(b), Some(n)) if n < b.n => {
            first = b.take(n);
            (Some(&first), o.labels.as_deref().map(|l| &l[..n]))
        }
        _ => (batch, o.labels.as_deref()),
    };
    if let Some(b) = batch {
        // The reference runs the cut model unsimplified: verification covers the passes.
        // NeuroBench's counts come from the verification's reference run, not a second one.
        let counter = step(progress, "counting synapses for NeuroBench", || {
            neurobench::Counter::new(&prep.cut.graph, &prep.cut.info, prep.cut.dialect())
        });
        let (v, _, c) = verify(&prep.cut, &plan, b, steps, labels, Some(&counter), progress)?;
        let min_agreement = o.passes.min_agreement();
        if v.class_agreement < min_agreement {
            r.failures
                .push(format!("class agreement {:.4} is below --min-agreement {min_agreement}", v.class_agreement));
        }
        let cycles = c.cycles();
        r.verify = Some(v);
        let est = energy::estimate(&plan, &target, &c);
        let counts = counter.counts(&prep.cut.graph, &prep.cut.info, b.n, steps);
        if let Some(e) = early_exit_check(&plan, b, steps, &c) {
            if e.changed > 0 {
                r.failures.push(format!("early exit changed the class of {} inputs", e.changed));
            }
            r.early_exit = Some(e);
        }
        r.energy = Some(EnergySection {
            energy_per_inference_j: est.energy_per_inference_j,
            counts: counts.clone(),
            estimate: est.clone(),
        });
        if rtl && o.cosim.samples > 0 {
            let outcome = cosim_step(&plan, b, &cycles, &o.cosim, &out.join("cosim"), progress)?;
            r.cosim = Some(match outcome {
                Ok(rep) => {
                    if !rep.exact() {
                        r.failures.push(format!("co-simulation: {}", rep.first_differences.join("; ")));
                    }
                    Step::Ran(rep)
                }
                Err(why) => {
                    progress.note(&format!("co-simulation skipped: {why}"));
                    Step::Skipped { skipped: why }
                }
            });
        }
        if with_hls && o.csim_samples != Some(0) {
            let n = o.csim_samples.unwrap_or(b.n).min(b.n);
            r.csim = Some(if flow::have("g++") {
                let rep = step(progress, &format!("C-simulating {n} samples (g++)"), || {
                    csim::csim(&plan, b, Some(n), target.hls_part(), &hls_dir)
                })?;
                if !rep.exact() {
                    r.failures.push(format!("C simulation: {}", rep.first_differences.join("; ")));
                }
                Step::Ran(rep)
            } else {
                // The project still gets its testbench data.
                let bn = b.take(n);
                let eng = cycle::run(&plan, &bn, plan.timesteps);
                csim::write_project(&plan, &bn, &eng, target.hls_part(), &hls_dir)?;
                let why = format!("g++ is not installed (Debian package: {})", flow::package_of("g++"));
                progress.note(&format!("C simulation skipped: {why}"));
                Step::Skipped { skipped: why }
            });
        }
        measured = Some((c, est, counts));
    }
    if o.bitstream {
        let (outcome, failures) = match built {
            Some(b) => b,
            None => bitstream(design.as_ref().expect("--bitstream checked to emit Verilog"), &target, o, progress)?,
        };
        r.failures.extend(failures);
        r.fpga = Some(outcome);
    }
    if let (Some(path), Some((c, est, counts)), Some(b)) = (&o.html_report, measured, batch) {
        html_report(path, m, &plan, b, &c, o.raster_sample, labels, vec![est], Some(counts), r.resources(), vec![])?;
        r.report = Some(path.display().to_string());
    }
    write(out, "report.json", &(serde_json::to_string_pretty(&r).expect("plain data") + "\n"))?;
    Ok(Ok(r))
}

/// The bitstream build of `d` into `o.out_dir` with the failures it found (timing not met,
/// no timing figure, the design not fitting).
fn bitstream(
    d: &verilog::Design,
    target: &Target,
    o: &CompileOptions,
    progress: &dyn Progress,
) -> Result<(FpgaOutcome, Vec<String>), Error> {
    let out = &o.out_dir;
    let mut failures = vec![];
    let ecp5_flow = target.flow() == Flow::OpenEcp5;
    let what = if ecp5_flow {
        "building the bitstream (yosys, nextpnr-ecp5, ecppack)"
    } else {
        "building the bitstream (yosys, nextpnr-ice40, icepack, icetime)"
    };
    progress.begin(what, None);
    let t0 = std::time::Instant::now();
    let mut no_fmax = false;
    let built = if ecp5_flow {
        ecp5::build(d, target, out, o.pnr_seeds, &|s| progress.note(s)).map(|r| {
            no_fmax = r.fmax_mhz().is_none();
            FpgaOutcome::BuiltEcp5(Box::new(r))
        })
    } else {
        ice40::build(d, target, out, o.pnr_seeds, &|s| progress.note(s)).map(|r| FpgaOutcome::Built(Box::new(r)))
    };
    progress.end(what, t0.elapsed().as_secs_f64());
    if no_fmax {
        failures.push("timing unknown: nextpnr-ecp5's report (nextpnr.json) holds no Fmax".into());
    }
    let outcome = match built {
        Ok(rep) => {
            if let Some((f, want)) = rep.missed_clock() {
                failures.push(format!(
                    "timing not met: Fmax {f:.2} MHz is below the {want} MHz clock; give --clock-mhz {} or fewer --lanes",
                    (f * 10.0).floor() / 10.0
                ));
            }
            rep
        }
        Err(FlowError::DoesNotFit(msg)) => {
            failures.push(format!("the design does not fit: {msg}"));
            FpgaOutcome::DoesNotFit { does_not_fit: msg }
        }
        Err(e) => return Err(e.into()),
    };
    Ok((outcome, failures))
}

/// `compile` for a chip: quantise and place under the chip's rules, simulate the chip on the
/// inputs, compare with the reference, export into `<out>/xylo`, and run the export in the
/// vendor's simulator.
fn compile_chip(
    m: &Model,
    o: &CompileOptions,
    target: &Target,
    progress: &dyn Progress,
) -> Result<CompileReport, Error> {
    let chip = super::chip::xylo_chip(target)?;
    if o.bitstream {
        return Err(Error::Usage(format!("--bitstream is for FPGA targets; {} takes a specification", target.name)));
    }
    let batch = o.inputs.as_ref().ok_or_else(|| {
        Error::Usage(format!(
            "compiling for {} needs --inputs: the quantiser calibrates on them and the export holds the chip's \
             inputs and its expected spikes",
            target.name
        ))
    })?;
    let steps = steps_for(m, Some(batch))?;
    let prep = prepare(m.clone(), steps, &o.passes, &o.plan, Some(batch), o.labels.as_deref(), progress)?;
    let steps = prep.steps;
    let run = step(progress, &format!("simulating {} samples on {}", batch.n, target.name), || {
        xylo_run(&prep.model, &o.plan, target, steps, batch)
    })?;
    let mut failures = vec![];
    let v = verify_xylo(&prep.cut, &run, batch, o.labels.as_deref(), progress)?;
    let min = o.passes.min_agreement();
    if v.class_agreement < min {
        failures.push(format!("class agreement of the chip {:.4} is below --min-agreement {min}", v.class_agreement));
    }
    let dir = o.out_dir.join("xylo");
    let files = write_xylo(&run, chip, &dir)?;
    let vendor = match vendor_check(&run, chip, &dir, progress)? {
        Ok(rep) => {
            if !rep.exact() {
                failures.push(format!("XyloSim differs from spikefab: {}", rep.first_differences.join("; ")));
            }
            Step::Ran(rep)
        }
        Err(why) => {
            progress.note(&format!("XyloSim check skipped: {why}"));
            Step::Skipped { skipped: why }
        }
    };
    let r = CompileReport {
        model: prep.model.path.display().to_string(),
        target: target.name.clone(),
        clock_mhz: target.clock.default_mhz,
        timesteps: steps,
        top: None,
        files: None,
        plan: None,
        xylo: Some(xylo_section(&run, chip, &dir, files)),
        chip_verify: Some(v),
        xylosim: Some(vendor),
        chip_energy: xylo_energy(&run, target),
        loihi: None,
        lava: None,
        loihi_energy: None,
        passes: prep.records,
        hls: None,
        verify: None,
        early_exit: None,
        energy: None,
        cosim: None,
        csim: None,
        fpga: None,
        report: None,
        failures,
    };
    write(&o.out_dir, "report.json", &(serde_json::to_string_pretty(&r).expect("plain data") + "\n"))?;
    Ok(r)
}

/// `compile` for Loihi: quantise to Loihi's CUBA arithmetic, lay out as netx, simulate the chip
/// on the inputs (`T + D` steps for `D` layers), compare with the reference, export into
/// `<out>/loihi`, and run the export in Lava's fixed-point simulator.
fn compile_loihi(
    m: &Model,
    o: &CompileOptions,
    target: &Target,
    progress: &dyn Progress,
) -> Result<CompileReport, Error> {
    super::chip::loihi_target(target)?;
    if o.bitstream {
        return Err(Error::Usage(format!("--bitstream is for FPGA targets; {} takes a netx network", target.name)));
    }
    let batch = o.inputs.as_ref().ok_or_else(|| {
        Error::Usage(format!(
            "compiling for {} needs --inputs: the quantiser calibrates on them and the export holds the chip's \
             inputs and its expected spikes",
            target.name
        ))
    })?;
    let steps = steps_for(m, Some(batch))?;
    let prep = prepare(m.clone(), steps, &o.passes, &o.plan, Some(batch), o.labels.as_deref(), progress)?;
    let steps = prep.steps;
    let run = step(progress, &format!("simulating {} samples on {}", batch.n, target.name), || {
        loihi_run(&prep.model, &o.plan, target, steps, batch)
    })?;
    let mut failures = vec![];
    let v = verify_outputs(&prep.cut, steps, &run.outputs(), batch, o.labels.as_deref(), progress)?;
    let min = o.passes.min_agreement();
    if v.class_agreement < min {
        failures.push(format!("class agreement of the chip {:.4} is below --min-agreement {min}", v.class_agreement));
    }
    let dir = o.out_dir.join("loihi");
    let files = write_loihi(&run, &dir)?;
    let vendor = match lava_check(&run, &dir, progress)? {
        Ok(rep) => {
            if !rep.exact() {
                failures.push(format!("Lava differs from spikefab: {}", rep.first_differences.join("; ")));
            }
            Step::Ran(rep)
        }
        Err(why) => {
            progress.note(&format!("Lava check skipped: {why}"));
            Step::Skipped { skipped: why }
        }
    };
    let r = CompileReport {
        model: prep.model.path.display().to_string(),
        target: target.name.clone(),
        clock_mhz: target.clock.default_mhz,
        timesteps: steps,
        top: None,
        files: None,
        plan: None,
        xylo: None,
        chip_verify: Some(v),
        xylosim: None,
        chip_energy: None,
        loihi: Some(loihi_section(&run, &dir, files)),
        lava: Some(vendor),
        loihi_energy: Some(loihi_energy(&run, target)),
        passes: prep.records,
        hls: None,
        verify: None,
        early_exit: None,
        energy: None,
        cosim: None,
        csim: None,
        fpga: None,
        report: None,
        failures,
    };
    write(&o.out_dir, "report.json", &(serde_json::to_string_pretty(&r).expect("plain data") + "\n"))?;
    Ok(r)
}
