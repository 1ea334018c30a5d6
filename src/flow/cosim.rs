//! Co-simulation: the emitted RTL in iverilog or Verilator against the cycle engine, every
//! output word (spikes or membrane values) and every cycle count compared, no tolerance.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use super::{FlowError, have, run, run_polled, write_design};
use crate::back::verilog::{self, Design};
use crate::data::InputBatch;
use crate::hw::Plan;
use crate::quant::students::MaskError;
use crate::sim::cycle::{self, SampleResult};

/// The RTL simulator asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SimulatorChoice {
    /// The installed simulator predicted to finish first (Verilator unless the run is short).
    #[default]
    Auto,
    /// Icarus Verilog.
    Iverilog,
    /// Verilator.
    Verilator,
}

impl SimulatorChoice {
    /// The simulator asked for, `None` for the fastest installed.
    pub fn simulator(self) -> Option<Simulator> {
        match self {
            SimulatorChoice::Auto => None,
            SimulatorChoice::Iverilog => Some(Simulator::Iverilog),
            SimulatorChoice::Verilator => Some(Simulator::Verilator),
        }
    }
}

/// Which RTL simulator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Simulator {
    /// Icarus Verilog.
    Iverilog,
    /// Verilator (`--binary --timing`).
    Verilator,
}

impl Simulator {
    /// The executable that must be installed.
    pub fn tool(self) -> &'static str {
        match self {
            Simulator::Iverilog => "iverilog",
            Simulator::Verilator => "verilator",
        }
    }

    /// Predicted wall-clock seconds to co-simulate `cycles` clock cycles in total of a design
    /// of `units` ([`sim_units`]): start-up (Verilator compiles the design to C++) plus cycles
    /// at the simulator's rate, both taken as proportional to the units above 64 (a small
    /// design: Verilator about 1,000,000 cycles/s after about 8 s of compiling, iverilog about
    /// 20,000 cycles/s). Measured on the 2-core development machine (`cosim`, 40 digits, and
    /// `compile` of the ResNet-18 scale model on 4 inputs), run against predicted: mlp_bw at 2
    /// lanes 5.3 s / 8 s, at 16 lanes 11.5 s / 8 s; conv_bw at 8 lanes 12.7 s / 11 s;
    /// ensemble_bw at 16 lanes (336 units) 18.3 s / 34 s; the ResNet-18 streamed at 16 lanes
    /// (704 units, 41 million cycles) 828 s / 543 s. So within 0.5x to 1.5x.
    pub fn predicted_seconds(self, cycles: u64, units: usize) -> f64 {
        let scale = (units as f64 / 64.0).max(1.0);
        match self {
            Simulator::Iverilog => 0.5 * scale + cycles as f64 * scale / 2.0e4,
            Simulator::Verilator => 8.0 * scale + cycles as f64 * scale / 1.0e6,
        }
    }

    /// The installed simulator predicted to finish `cycles` of a design of `units` first
    /// (Verilator for all but short runs), or `None` when neither is installed.
    pub fn fastest_installed(cycles: u64, units: usize) -> Option<Simulator> {
        [Simulator::Verilator, Simulator::Iverilog]
            .into_iter()
            .filter(|s| have(s.tool()))
            .min_by(|a, b| a.predicted_seconds(cycles, units).total_cmp(&b.predicted_seconds(cycles, units)))
    }
}

/// A design's size for the simulators' speed: per layer, its lanes times its units (its
/// update lanes and one accumulate unit per projection).
pub fn sim_units(plan: &Plan) -> usize {
    plan.layers.iter().map(|l| l.lanes * (1 + l.projections.len())).sum()
}

/// Outcome of a co-simulation.
#[derive(Clone, Debug, Serialize)]
pub struct CosimReport {
    /// Simulator.
    pub simulator: Simulator,
    /// Samples compared.
    pub samples: usize,
    /// Output words compared.
    pub words: usize,
    /// Words that differ.
    pub word_mismatches: usize,
    /// Samples whose cycle count differs.
    pub cycle_mismatches: usize,
    /// Cycle counts from the RTL.
    pub rtl_cycles: Vec<u64>,
    /// Cycle counts from the engine.
    pub engine_cycles: Vec<u64>,
    /// First differences, for the message.
    pub first_differences: Vec<String>,
    /// Seconds the simulator took to build the testbench (Verilator: to C++ and a binary;
    /// iverilog: to its byte code).
    pub build_seconds: f64,
    /// Seconds the simulator ran the testbench on the samples (process start to exit).
    pub run_seconds: f64,
    /// The cycle engine's speed against the simulator's on these samples, when measured
    /// (see [`compare_speed`]).
    pub speed: Option<SpeedComparison>,
}

impl CosimReport {
    /// True when every word and every cycle count matched.
    pub fn exact(&self) -> bool {
        self.word_mismatches == 0 && self.cycle_mismatches == 0 && self.rtl_cycles.len() == self.samples
    }

    /// The simulator's speed: samples and clock cycles (the design's, as the testbench counts
    /// them) per second of its run, its build not counted.
    pub fn rtl_speed(&self) -> Speed {
        Speed::of(self.samples, self.rtl_cycles.iter().sum(), self.run_seconds, 1)
    }
}

/// Samples and clock cycles per second of a run.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Speed {
    /// Samples run (over every repetition).
    pub samples: usize,
    /// Seconds taken.
    pub seconds: f64,
    /// Samples per second.
    pub samples_per_s: f64,
    /// Clock cycles simulated per second.
    pub cycles_per_s: f64,
}

impl Speed {
    /// `samples` samples of `cycles` cycles in all, run `repeats` times in `seconds`.
    pub fn of(samples: usize, cycles: u64, seconds: f64, repeats: usize) -> Speed {
        let s = seconds.max(1e-9);
        Speed {
            samples: samples * repeats,
            seconds,
            samples_per_s: (samples * repeats) as f64 / s,
            cycles_per_s: cycles as f64 * repeats as f64 / s,
        }
    }
}

/// The cycle engine against the RTL simulator on the same design and samples, one thread each.
#[derive(Clone, Debug, Serialize)]
pub struct SpeedComparison {
    /// The simulator.
    pub simulator: Simulator,
    /// Its build, not counted in its speed.
    pub simulator_build_seconds: f64,
    /// The simulator's run.
    pub rtl: Speed,
    /// The cycle engine on one thread, the same samples repeated for at least `min_seconds`.
    pub engine: Speed,
    /// Engine samples per second over the simulator's.
    pub engine_over_rtl: f64,
    /// The engine's samples per second in its median repeat: on a shared host the repeats'
    /// spread shows how much of `engine` was the host's interference.
    pub engine_repeat_median_samples_per_s: f64,
    /// The engine's samples per second in its fastest repeat.
    pub engine_repeat_best_samples_per_s: f64,
}

/// Times the cycle engine on one thread on the first `samples` of `batch` (the samples a
/// co-simulation ran), repeating the run until `min_seconds` have passed, and compares it
/// with the simulator's run in `report`.
pub fn compare_speed(plan: &Plan, batch: &InputBatch, report: &CosimReport, min_seconds: f64) -> SpeedComparison {
    let batch = batch.take(report.samples);
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build();
    // The repeats run inside one `install`: handing every repeat to the pool's thread and
    // back would time the hand-off too.
    let repeat = || {
        let (mut cycles, mut each) = (0u64, Vec::new());
        let t0 = Instant::now();
        while each.is_empty() || t0.elapsed().as_secs_f64() < min_seconds {
            let t1 = Instant::now();
            cycles = cycle::run(plan, &batch, plan.timesteps).total.cycles;
            each.push(t1.elapsed().as_secs_f64());
        }
        (each, cycles, t0.elapsed().as_secs_f64())
    };
    let (mut each, cycles, seconds) = match &one {
        Ok(pool) => pool.install(repeat),
        Err(_) => repeat(),
    };
    let engine = Speed::of(batch.n, cycles, seconds, each.len());
    each.sort_by(f64::total_cmp);
    let per = |t: f64| batch.n as f64 / t.max(1e-9);
    let rtl = report.rtl_speed();
    SpeedComparison {
        simulator: report.simulator,
        simulator_build_seconds: report.build_seconds,
        rtl,
        engine,
        engine_over_rtl: engine.samples_per_s / rtl.samples_per_s.max(1e-12),
        engine_repeat_median_samples_per_s: per(each[each.len() / 2]),
        engine_repeat_best_samples_per_s: per(each[0]),
    }
}

/// The words the RTL streams for one inference, as the engine predicts them (hex, RTL width).
pub fn expected_words(plan: &Plan, s: &SampleResult) -> Vec<String> {
    // Under the cascade every stage streams its output, the last stage's last.
    let mut out: Vec<String> = s.stage_raw.iter().flat_map(|r| raw_words(plan, r)).collect();
    out.extend(raw_words(plan, &s.raw));
    out
}

/// The output words of one run's outputs `raw` (steps x the output layer's neurons).
fn raw_words(plan: &Plan, raw: &[i64]) -> Vec<String> {
    let l = &plan.layers[plan.output.layer];
    let n = l.neurons();
    let steps = raw.len() / n;
    let pos = l.positions();
    let w = crate::hw::memory::out_lane_bits(plan);
    let width = l.lanes * w;
    let mut out = vec![];
    for t in 0..steps {
        for row in 0..l.rows {
            let mut bits = vec![false; width];
            for lane in 0..l.lanes {
                let Some(c) = l.channel_of(row / pos, lane) else { continue };
                let v = raw[t * n + c * pos + row % pos];
                for b in 0..w {
                    bits[lane * w + b] = (v >> b.min(63)) & 1 == 1;
                }
            }
            let digits = width.div_ceil(4);
            let mut h = String::new();
            for d in (0..digits).rev() {
                let mut nib = 0u32;
                for b in 0..4 {
                    if d * 4 + b < width && bits[d * 4 + b] {
                        nib |= 1 << b;
                    }
                }
                h.push(char::from_digit(nib, 16).expect("nibble"));
            }
            out.push(h);
        }
    }
    out
}

/// The quantised input words the testbench streams, one hex value per line.
pub fn input_hex(plan: &Plan, batch: &InputBatch) -> String {
    let steps = if plan.input.per_step { plan.timesteps } else { 1 };
    let bits = plan.input.bits;
    let mask = (1u64 << bits) - 1;
    let mut s = String::new();
    for i in 0..batch.n {
        for t in 0..steps {
            for &x in batch.at(i, t) {
                let q = plan.input.quantise(x);
                let _ = writeln!(s, "{:x}", (q as u64) & mask);
            }
        }
    }
    s
}

/// Samples the testbench has finished so far (its `c` lines in outputs.txt).
fn samples_done(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("outputs.txt")).map_or(0, |t| t.lines().filter(|l| l.starts_with("c ")).count())
}

/// A design streaming from external memory is judged by the chip model in its testbench
/// (`hdl/sf_sdram_model.v`), which stops the run with a line starting "SDRAM VIOLATION" on a
/// command that breaks a timing or state rule: that line, as a failed check.
fn memory_violation(stdout: &str) -> Result<(), FlowError> {
    match stdout.lines().find(|l| l.starts_with("SDRAM VIOLATION")) {
        Some(l) => Err(FlowError::Failed { tool: "sf_sdram_model".into(), message: l.to_string() }),
        None => Ok(()),
    }
}

/// Builds and runs the testbench in `dir` with `sim`, reporting finished samples to
/// `progress`; returns the simulator's output file and the seconds to build and to run.
fn simulate(
    design: &Design,
    dir: &Path,
    sim: Simulator,
    progress: &dyn Fn(usize),
) -> Result<(String, f64, f64), FlowError> {
    let mut poll = || progress(samples_done(dir));
    let mut srcs: Vec<String> =
        design.files.iter().filter(|(n, _)| n.ends_with(".v")).map(|(n, _)| n.clone()).collect();
    srcs.sort();
    let srcs: Vec<&str> = srcs.iter().map(String::as_str).collect();
    let t0 = Instant::now();
    let (build, ran);
    match sim {
        Simulator::Iverilog => {
            let mut args = vec!["-g2005", "-Wall", "-o", "tb.vvp", "-s", "tb"];
            args.extend(&srcs);
            run("iverilog", &args, dir)?;
            if !have("vvp") {
                return Err(FlowError::Missing { tool: "vvp".into(), package: "iverilog".into() });
            }
            build = t0.elapsed().as_secs_f64();
            let t1 = Instant::now();
            let out = run_polled(Path::new("vvp"), &["-n", "tb.vvp"], dir, &mut poll)?;
            memory_violation(&out)?;
            ran = t1.elapsed().as_secs_f64();
        }
        Simulator::Verilator => {
            let mut args = vec![
                "--binary",
                "--timing",
                "-O2",
                "--top-module",
                "tb",
                "-Wno-fatal",
                "--Mdir",
                "obj_dir",
                "-o",
                "tb",
            ];
            args.extend(&srcs);
            run("verilator", &args, dir)?;
            // By absolute path: a relative program path with a working directory is resolved
            // differently across platforms (a relative -o folder failed here).
            let exe = dir.join("obj_dir").join("tb");
            let exe = std::path::absolute(&exe).map_err(|e| FlowError::Io(format!("{}: {e}", exe.display())))?;
            build = t0.elapsed().as_secs_f64();
            let t1 = Instant::now();
            let out = run_polled(&exe, &[], dir, &mut poll)?;
            memory_violation(&out)?;
            ran = t1.elapsed().as_secs_f64();
        }
    }
    let text =
        std::fs::read_to_string(dir.join("outputs.txt")).map_err(|e| FlowError::Io(format!("outputs.txt: {e}")))?;
    Ok((text, build, ran))
}

/// Co-simulates the first `samples` inputs in `dir` (created; all files stay inside it) against
/// a cycle-engine run of them, calling `progress` with the number of samples the RTL has
/// finished. [`cosim_against`] takes an engine run the caller already has.
pub fn cosim(
    plan: &Plan,
    batch: &InputBatch,
    samples: usize,
    sim: Simulator,
    dir: &Path,
    progress: &dyn Fn(usize),
) -> Result<CosimReport, FlowError> {
    let batch = batch.take(samples);
    let eng = cycle::run(plan, &batch, plan.timesteps);
    cosim_against(plan, &batch, &eng.samples, sim, dir, progress)
}

/// [`cosim`] with only the students `active` running (one flag per student of the plan's
/// ensemble): the design takes the mask at its `act` port, and the cycle engine runs the same
/// mask ([`cycle::run_active`]). A plan whose RTL takes no mask ([`Plan::takes_mask`]) is
/// refused (exit 2).
pub fn cosim_active(
    plan: &Plan,
    batch: &InputBatch,
    samples: usize,
    active: &[bool],
    sim: Simulator,
    dir: &Path,
    progress: &dyn Fn(usize),
) -> Result<CosimReport, FlowError> {
    let batch = batch.take(samples);
    let eng = cycle::run_active(plan, &batch, plan.timesteps, active)?;
    cosim_against_active(plan, &batch, &eng.samples, Some(active), sim, dir, progress)
}

/// Co-simulates every input of `batch` in `dir` and compares the RTL with `engine`, the
/// cycle engine's results of the same inputs (one per sample, in order). A design taking a
/// student mask runs every student.
pub fn cosim_against(
    plan: &Plan,
    batch: &InputBatch,
    engine: &[SampleResult],
    sim: Simulator,
    dir: &Path,
    progress: &dyn Fn(usize),
) -> Result<CosimReport, FlowError> {
    cosim_against_active(plan, batch, engine, None, sim, dir, progress)
}

/// `act.hex` for a design of `plan` run on `n` inputs with `masks` (one per input; None:
/// every student): a line per input, or None when the design takes no mask. A mask on a plan
/// whose design takes none, or one its ensemble cannot take, is refused. The RTL's
/// testbench and the HLS C++'s read the same file.
pub(super) fn act_file(plan: &Plan, masks: Option<&[Vec<bool>]>, n: usize) -> Result<Option<String>, FlowError> {
    if let Some(masks) = masks {
        plan.students.as_ref().ok_or(MaskError::NoEnsemble)?;
        let st = plan.mask_students().ok_or_else(|| {
            MaskError::Unsupported(
                "this plan's design takes no student mask (the sequential schedule's does, with every weight on chip)"
                    .into(),
            )
        })?;
        if masks.len() != n {
            return Err(FlowError::Io(format!("{} student masks for {n} inputs", masks.len())));
        }
        for m in masks {
            crate::quant::students::Activity::of(st, m)?;
        }
    }
    Ok(plan.mask_students().map(|st| {
        let s = st.names.len();
        (0..n).map(|i| act_hex(s, masks.map(|m| m[i].as_slice()))).collect()
    }))
}

/// `casc.hex` for a design of `plan` run on `n` inputs with `margins` (one per input; None:
/// the cascade off): a line per input, bit `w` (the margin port's width) the cascade on and
/// the margin below it, at most [`Plan::cascade_margin_cap`] (a larger one is never met
/// either). None when the design has no cascade; margins for one without are refused.
pub(super) fn casc_file(plan: &Plan, margins: Option<&[Option<u64>]>, n: usize) -> Result<Option<String>, FlowError> {
    if plan.cascade.is_none() {
        return match margins {
            Some(_) => Err(MaskError::Unsupported(
                "--cascade: this design has no cascade (compile it with --cascade on the streamed schedule)".into(),
            )
            .into()),
            None => Ok(None),
        };
    }
    if margins.is_some_and(|m| m.len() != n) {
        return Err(FlowError::Io(format!("cascade margins for {} inputs, not {n}", margins.map_or(0, |m| m.len()))));
    }
    let w = crate::hw::memory::count_bits(plan) + 1;
    let cap = plan.cascade_margin_cap();
    Ok(Some(
        (0..n)
            .map(|i| {
                let v = match margins.and_then(|m| m[i]) {
                    Some(m) => (1u128 << w) | u128::from(m.min(cap)),
                    None => 0,
                };
                format!("{v:x}\n")
            })
            .collect(),
    ))
}

/// One line of `act.hex`: a sample's students (bit s: student s; every student when None).
fn act_hex(n: usize, active: Option<&[bool]>) -> String {
    let on = |s: usize| s < n && active.is_none_or(|a| a[s]);
    // Digit d holds students 4d..4d + 3; the most significant digit first.
    let digit = |d: usize| (0..4).filter(|&b| on(4 * d + b)).fold(0u32, |v, b| v | 1 << b);
    let hex: String = (0..n.div_ceil(4)).rev().map(|d| char::from_digit(digit(d), 16).unwrap_or('0')).collect();
    hex + "\n"
}

/// [`cosim_against`] with the students `active` running (None: every student): `engine` is the
/// cycle engine's run under the same mask, and the design is given it.
pub fn cosim_against_active(
    plan: &Plan,
    batch: &InputBatch,
    engine: &[SampleResult],
    active: Option<&[bool]>,
    sim: Simulator,
    dir: &Path,
    progress: &dyn Fn(usize),
) -> Result<CosimReport, FlowError> {
    let masks = active.map(|a| vec![a.to_vec(); batch.n]);
    cosim_against_masks(plan, batch, engine, masks.as_deref(), sim, dir, progress)
}

/// [`cosim_against`] with a student mask per sample (`masks[i]` for sample i; None: every
/// student): `engine[i]` is the cycle engine's run of sample i under its mask, and the design
/// takes each sample's at its start, so a student switched off and on again between
/// inferences is covered. A mask on a plan whose RTL takes none, or one the plan's ensemble
/// cannot take, is refused.
pub fn cosim_against_masks(
    plan: &Plan,
    batch: &InputBatch,
    engine: &[SampleResult],
    masks: Option<&[Vec<bool>]>,
    sim: Simulator,
    dir: &Path,
    progress: &dyn Fn(usize),
) -> Result<CosimReport, FlowError> {
    cosim_against_cascade(plan, batch, engine, masks, None, sim, dir, progress)
}

/// [`cosim_against_masks`] for a design running the cascade (`Plan::cascade`), with each
/// sample's threshold (`margins[i]`; None: the cascade off, one stage of every active student;
/// `margins` None: off for every sample): `engine[i]` is the cycle engine's run of sample i
/// ([`cycle::run_cascade`] under its mask and margin, or [`cycle::run_active`] when off). The
/// testbench gives each sample's to the `casc` and `margin` ports (casc.hex) and compares
/// every stage's output words.
#[allow(clippy::too_many_arguments)] // the stream's parts, per sample
pub fn cosim_against_cascade(
    plan: &Plan,
    batch: &InputBatch,
    engine: &[SampleResult],
    masks: Option<&[Vec<bool>]>,
    margins: Option<&[Option<u64>]>,
    sim: Simulator,
    dir: &Path,
    progress: &dyn Fn(usize),
) -> Result<CosimReport, FlowError> {
    let act = act_file(plan, masks, batch.n)?;
    let casc = casc_file(plan, margins, batch.n)?;
    if engine.len() != batch.n {
        return Err(FlowError::Io(format!("{} engine results for {} inputs", engine.len(), batch.n)));
    }
    let max = engine.iter().map(|s| s.counters.cycles).max().unwrap_or(1000);
    let design = verilog::emit(plan, Some((batch.n, max * 4 + 1000)))?;
    write_design(&design, dir)?;
    std::fs::write(dir.join("inputs.hex"), input_hex(plan, batch))
        .map_err(|e| FlowError::Io(format!("inputs.hex: {e}")))?;
    if let Some(text) = act {
        std::fs::write(dir.join("act.hex"), text).map_err(|e| FlowError::Io(format!("act.hex: {e}")))?;
    }
    if let Some(text) = casc {
        std::fs::write(dir.join("casc.hex"), text).map_err(|e| FlowError::Io(format!("casc.hex: {e}")))?;
    }
    let (text, build_seconds, run_seconds) = simulate(&design, dir, sim, progress)?;
    let mut words: Vec<String> = vec![];
    let mut rtl_cycles = vec![];
    let mut per_sample: Vec<Vec<String>> = vec![];
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("o ") {
            words.push(h.trim().to_ascii_lowercase());
        } else if let Some(c) = line.strip_prefix("c ") {
            rtl_cycles.push(c.trim().parse::<u64>().unwrap_or(u64::MAX));
            per_sample.push(std::mem::take(&mut words));
        } else if line.starts_with("invariant") {
            return Err(FlowError::Failed {
                tool: "testbench".into(),
                message: format!("RTL broke an invariant: {line}"),
            });
        } else if line.starts_with("timeout") {
            return Err(FlowError::Failed { tool: "testbench".into(), message: format!("RTL did not finish: {line}") });
        }
    }
    let mut report = CosimReport {
        simulator: sim,
        samples: batch.n,
        words: 0,
        word_mismatches: 0,
        cycle_mismatches: 0,
        rtl_cycles: rtl_cycles.clone(),
        engine_cycles: engine.iter().map(|s| s.counters.cycles).collect(),
        first_differences: vec![],
        build_seconds,
        run_seconds,
        speed: None,
    };
    for (i, s) in engine.iter().enumerate() {
        let want = expected_words(plan, s);
        let got = per_sample.get(i).cloned().unwrap_or_default();
        report.words += want.len().max(got.len());
        for k in 0..want.len().max(got.len()) {
            let (a, b) = (want.get(k), got.get(k));
            if a != b {
                report.word_mismatches += 1;
                if report.first_differences.len() < 8 {
                    report.first_differences.push(format!("sample {i} word {k}: engine {a:?}, RTL {b:?}"));
                }
            }
        }
        if rtl_cycles.get(i) != Some(&s.counters.cycles) {
            report.cycle_mismatches += 1;
            if report.first_differences.len() < 8 {
                report.first_differences.push(format!(
                    "sample {i}: engine {} cycles, RTL {:?}",
                    s.counters.cycles,
                    rtl_cycles.get(i)
                ));
            }
        }
    }
    Ok(report)
}
