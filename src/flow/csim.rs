//! C simulation: the emitted HLS C++ compiled with g++ and run on the inputs; every output
//! word (spikes or membrane values) and the steps each inference ran are compared with the
//! cycle engine, no tolerance. Differences are reported per sample, step and neuron.
//!
//! The work folder holds the design (`sf_hls.h`, `<top>.h`, `<top>.cpp`, `tb.cpp`,
//! `run_hls.tcl`), `inputs.hex` (the co-simulation's input format), `expected.txt` (the
//! engine's lines, which the testbench also checks itself), the `tb` executable and the
//! testbench's `outputs.txt`. Nothing is written outside it.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use serde::Serialize;

use super::cosim::{act_file, expected_words, input_hex};
use super::{FlowError, have, package_of, write_files};
use crate::back::hls::{self, CXXFLAGS, HlsDesign};
use crate::data::InputBatch;
use crate::hw::Plan;
use crate::sim::cycle::{self, SampleResult};

/// Outcome of a C simulation.
#[derive(Clone, Debug, Serialize)]
pub struct CsimReport {
    /// Top function.
    pub top: String,
    /// Samples run.
    pub samples: usize,
    /// Steps compared (over all samples, as the engine ran them).
    pub steps: usize,
    /// Output words compared.
    pub words: usize,
    /// Neuron outputs compared (spikes or membrane values): steps x output neurons.
    pub outputs: usize,
    /// Spikes among them (engine), for spiking outputs.
    pub spikes: u64,
    /// Neuron outputs that differ.
    pub mismatches: usize,
    /// Output words that differ.
    pub word_mismatches: usize,
    /// Samples whose number of steps run differs (early exit).
    pub step_mismatches: usize,
    /// First differences: sample, step, neuron, both values.
    pub first_differences: Vec<String>,
    /// Wall time of the g++ build of design and testbench.
    pub compile_seconds: f64,
    /// Wall time of the testbench run.
    pub run_seconds: f64,
    /// g++ version.
    pub compiler: String,
    /// Compiler flags.
    pub flags: Vec<String>,
    /// The testbench's own check against expected.txt gave the same verdict.
    pub tb_agrees: bool,
}

impl CsimReport {
    /// True when every output and every step count matched.
    pub fn exact(&self) -> bool {
        self.mismatches == 0 && self.word_mismatches == 0 && self.step_mismatches == 0 && self.tb_agrees
    }
}

/// What the testbench printed, and how long building and running took.
#[derive(Clone, Debug)]
pub struct TbRun {
    /// Contents of `outputs.txt`.
    pub outputs: String,
    /// Testbench exit code (0 all lines equal expected.txt or none given, 1 differences).
    pub exit: i32,
    /// Seconds in g++.
    pub compile_seconds: f64,
    /// Seconds running.
    pub run_seconds: f64,
    /// g++ version.
    pub compiler: String,
}

/// The engine's lines for `outputs.txt`: per sample its output words (`o <hex>`) and the
/// steps it ran (`n <steps>`).
pub fn expected_lines(plan: &Plan, eng: &[SampleResult]) -> String {
    let n = plan.layers[plan.output.layer].neurons();
    let mut s = String::new();
    for r in eng {
        for w in expected_words(plan, r) {
            let _ = writeln!(s, "o {w}");
        }
        let _ = writeln!(s, "n {}", streamed_steps(r, n));
    }
    s
}

/// The steps a design streamed for one inference: its run's, and under the cascade every
/// stage's (`stage_raw`, each T steps).
fn streamed_steps(r: &SampleResult, n: usize) -> usize {
    (r.raw.len() + r.stage_raw.iter().map(Vec::len).sum::<usize>()) / n.max(1)
}

/// Compiles design and testbench in `dir` (where `write_files` put them) and runs it.
pub fn build_and_run(design: &HlsDesign, dir: &Path) -> Result<TbRun, FlowError> {
    if !have("g++") {
        return Err(FlowError::Missing { tool: "g++".into(), package: package_of("g++").into() });
    }
    let version = Command::new("g++")
        .arg("-dumpfullversion")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let mut args: Vec<String> = CXXFLAGS.iter().map(|s| s.to_string()).collect();
    args.extend(["-o".to_string(), "tb".to_string()]);
    args.extend(design.sources());
    let t0 = Instant::now();
    let out = Command::new("g++")
        .args(&args)
        .current_dir(dir)
        .output()
        .map_err(|e| FlowError::Failed { tool: "g++".into(), message: e.to_string() })?;
    let compile_seconds = t0.elapsed().as_secs_f64();
    if !out.status.success() {
        let text = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = text.lines().take(40).collect();
        return Err(FlowError::Failed {
            tool: "g++".into(),
            message: format!("the generated C++ does not compile ({}):\n{}", args.join(" "), tail.join("\n")),
        });
    }
    // An absolute path: a relative one would be resolved against the new working directory.
    let exe = std::path::absolute(dir.join("tb")).map_err(|e| FlowError::Io(format!("{}: {e}", dir.display())))?;
    let t1 = Instant::now();
    let run = Command::new(exe)
        .current_dir(dir)
        .output()
        .map_err(|e| FlowError::Failed { tool: "tb".into(), message: e.to_string() })?;
    let run_seconds = t1.elapsed().as_secs_f64();
    let exit = run.status.code().unwrap_or(-1);
    if exit != 0 && exit != 1 {
        return Err(FlowError::Failed {
            tool: "C simulation testbench".into(),
            message: format!("exit {exit}: {}", String::from_utf8_lossy(&run.stderr).trim()),
        });
    }
    let outputs =
        std::fs::read_to_string(dir.join("outputs.txt")).map_err(|e| FlowError::Io(format!("outputs.txt: {e}")))?;
    Ok(TbRun { outputs, exit, compile_seconds, run_seconds, compiler: format!("g++ {version}") })
}

/// Bits of a hex word (least significant first), `width` of them.
fn hex_bits(h: &str, width: usize) -> Option<Vec<bool>> {
    let mut bits = vec![false; width];
    for (d, ch) in h.chars().rev().enumerate() {
        let nib = ch.to_digit(16)?;
        for b in 0..4 {
            let i = d * 4 + b;
            if nib >> b & 1 == 1 {
                if i >= width {
                    return None;
                }
                bits[i] = true;
            }
        }
    }
    Some(bits)
}

/// Compares the testbench's `outputs.txt` with the engine's run, output by output.
pub fn compare(plan: &Plan, eng: &[SampleResult], tb: &TbRun, top: &str) -> CsimReport {
    let l = &plan.layers[plan.output.layer];
    let n = l.neurons();
    let pos = l.positions();
    let w = crate::hw::memory::out_lane_bits(plan);
    let width = l.lanes * w;
    // Per sample: words and steps run, as the testbench wrote them.
    let mut got: Vec<(Vec<String>, Option<usize>)> = vec![];
    let mut cur = vec![];
    let mut malformed = vec![];
    for line in tb.outputs.lines() {
        if let Some(h) = line.strip_prefix("o ") {
            cur.push(h.trim().to_ascii_lowercase());
        } else if let Some(s) = line.strip_prefix("n ") {
            got.push((std::mem::take(&mut cur), s.trim().parse().ok()));
        } else if !line.trim().is_empty() {
            malformed.push(line.to_string());
        }
    }
    let mut r = CsimReport {
        top: top.to_string(),
        samples: eng.len(),
        steps: 0,
        words: 0,
        outputs: 0,
        spikes: 0,
        mismatches: 0,
        word_mismatches: 0,
        step_mismatches: 0,
        first_differences: vec![],
        compile_seconds: tb.compile_seconds,
        run_seconds: tb.run_seconds,
        compiler: tb.compiler.clone(),
        flags: CXXFLAGS.iter().map(|s| s.to_string()).collect(),
        tb_agrees: true,
    };
    let note = |r: &mut CsimReport, msg: String| {
        if r.first_differences.len() < 12 {
            r.first_differences.push(msg);
        }
    };
    for m in malformed.iter().take(3) {
        note(&mut r, format!("unexpected testbench line '{m}'"));
    }
    if got.len() != eng.len() {
        r.step_mismatches += eng.len().abs_diff(got.len());
        let msg = format!("the testbench ran {} samples, the engine {}", got.len(), eng.len());
        note(&mut r, msg);
    }
    // Value of lane `lane` in a word's bits.
    let lane_value = |bits: &[bool], lane: usize| -> i64 {
        let mut v = 0i64;
        for b in 0..w {
            if bits[lane * w + b] {
                v |= 1 << b;
            }
        }
        if !plan.output.spikes && w < 64 && bits[lane * w + w - 1] {
            v -= 1 << w;
        }
        v
    };
    for (i, s) in eng.iter().enumerate() {
        let want = expected_words(plan, s);
        let steps = streamed_steps(s, n);
        r.steps += steps;
        r.outputs += steps * n;
        if plan.output.spikes {
            r.spikes += s.raw.iter().filter(|&&v| v != 0).count() as u64;
        }
        let (words, got_steps) = got.get(i).cloned().unwrap_or_default();
        if got_steps != Some(steps) {
            r.step_mismatches += 1;
            note(&mut r, format!("sample {i}: the engine ran {steps} steps, the C++ {got_steps:?}"));
        }
        r.words += want.len().max(words.len());
        for k in 0..want.len().max(words.len()) {
            let (a, b) = (want.get(k), words.get(k));
            if a == b {
                continue;
            }
            r.word_mismatches += 1;
            let (t, row) = (k / l.rows, k % l.rows);
            let ab = a.and_then(|h| hex_bits(h, width));
            let bb = b.and_then(|h| hex_bits(h, width));
            for lane in 0..l.lanes {
                let Some(c) = l.channel_of(row / pos, lane) else { continue };
                let p = row % pos;
                let nn = c * pos + p;
                let va = ab.as_ref().map(|x| lane_value(x, lane));
                let vb = bb.as_ref().map(|x| lane_value(x, lane));
                if va != vb {
                    r.mismatches += 1;
                    let what = if plan.output.spikes { "spike" } else { "value" };
                    let show = |v: Option<i64>| v.map_or("missing".to_string(), |v| v.to_string());
                    note(
                        &mut r,
                        format!(
                            "sample {i} step {t} neuron {nn} (c {c}, y {}, x {}): engine {what} {}, C++ {}",
                            p / l.shape[2],
                            p % l.shape[2],
                            show(va),
                            show(vb)
                        ),
                    );
                }
            }
        }
    }
    if !malformed.is_empty() {
        r.word_mismatches += malformed.len();
    }
    let exact = r.mismatches == 0 && r.word_mismatches == 0 && r.step_mismatches == 0;
    r.tb_agrees = (tb.exit == 0) == exact;
    if !r.tb_agrees {
        let msg = format!("the testbench's own check (exit {}) disagrees with this comparison", tb.exit);
        note(&mut r, msg);
    }
    r
}

/// Writes the design for `plan` with `inputs.hex` and `expected.txt` of `batch` into `dir`
/// (and, for a design taking a student mask, `act.hex` with every student running).
pub fn write_project(
    plan: &Plan,
    batch: &InputBatch,
    eng: &[SampleResult],
    part: &str,
    dir: &Path,
) -> Result<HlsDesign, FlowError> {
    write_project_masks(plan, batch, eng, None, part, dir)
}

/// [`write_project`] with a student mask per sample (`masks[i]` for sample i, in `act.hex`;
/// None: every student), `eng` the cycle engine's runs under them.
pub fn write_project_masks(
    plan: &Plan,
    batch: &InputBatch,
    eng: &[SampleResult],
    masks: Option<&[Vec<bool>]>,
    part: &str,
    dir: &Path,
) -> Result<HlsDesign, FlowError> {
    write_project_cascade(plan, batch, eng, masks, None, part, dir)
}

/// [`write_project_masks`] for a design running the cascade, with each sample's threshold in
/// `casc.hex` (`margins[i]`; None: the cascade off), as co-simulation writes it.
pub fn write_project_cascade(
    plan: &Plan,
    batch: &InputBatch,
    eng: &[SampleResult],
    masks: Option<&[Vec<bool>]>,
    margins: Option<&[Option<u64>]>,
    part: &str,
    dir: &Path,
) -> Result<HlsDesign, FlowError> {
    let act = act_file(plan, masks, batch.n)?;
    let casc = super::cosim::casc_file(plan, margins, batch.n)?;
    let design = hls::emit(plan, part)?;
    write_files(&design.files, dir)?;
    let put = |name: &str, text: String| {
        std::fs::write(dir.join(name), text).map_err(|e| FlowError::Io(format!("{}: {e}", dir.join(name).display())))
    };
    put("inputs.hex", input_hex(plan, batch))?;
    put("expected.txt", expected_lines(plan, eng))?;
    if let Some(text) = act {
        put("act.hex", text)?;
    }
    if let Some(text) = casc {
        put("casc.hex", text)?;
    }
    Ok(design)
}

/// C-simulates the first `samples` inputs (all with `None`) in `dir` (created; all files stay
/// inside it) and compares with a cycle-engine run of them. [`csim_against`] takes an engine
/// run the caller already has.
pub fn csim(
    plan: &Plan,
    batch: &InputBatch,
    samples: Option<usize>,
    part: &str,
    dir: &Path,
) -> Result<CsimReport, FlowError> {
    let batch = batch.take(samples.unwrap_or(batch.n));
    let eng = cycle::run(plan, &batch, plan.timesteps);
    csim_against(plan, &batch, &eng.samples, part, dir)
}

/// C-simulates every input of `batch` in `dir` and compares with `eng`, the cycle engine's
/// results of the same inputs. A design taking a student mask runs every student.
pub fn csim_against(
    plan: &Plan,
    batch: &InputBatch,
    eng: &[SampleResult],
    part: &str,
    dir: &Path,
) -> Result<CsimReport, FlowError> {
    csim_against_masks(plan, batch, eng, None, part, dir)
}

/// [`csim`] with only the students `active` running (one flag per student of the plan's
/// ensemble): the design takes the mask as its `act` argument, and the cycle engine runs the
/// same mask ([`cycle::run_active`]). A plan whose design takes no mask
/// ([`Plan::takes_mask`]) is refused (exit 2).
pub fn csim_active(
    plan: &Plan,
    batch: &InputBatch,
    samples: Option<usize>,
    active: &[bool],
    part: &str,
    dir: &Path,
) -> Result<CsimReport, FlowError> {
    let batch = batch.take(samples.unwrap_or(batch.n));
    let eng = cycle::run_active(plan, &batch, plan.timesteps, active)?;
    let masks = vec![active.to_vec(); batch.n];
    csim_against_masks(plan, &batch, &eng.samples, Some(&masks), part, dir)
}

/// [`csim_against`] with a student mask per sample (`masks[i]` for sample i; None: every
/// student): `eng[i]` is the cycle engine's run of sample i under its mask, and the design is
/// called with each sample's, so one compiled testbench covers a stream whose mask changes.
pub fn csim_against_masks(
    plan: &Plan,
    batch: &InputBatch,
    eng: &[SampleResult],
    masks: Option<&[Vec<bool>]>,
    part: &str,
    dir: &Path,
) -> Result<CsimReport, FlowError> {
    csim_against_cascade(plan, batch, eng, masks, None, part, dir)
}

/// [`csim_against_masks`] for a design running the cascade (`Plan::cascade`), each sample
/// with its threshold (`margins[i]`; None: the cascade off): `eng[i]` is the cycle engine's
/// run of sample i ([`cycle::run_cascade`], or [`cycle::run_active`] when off), and every
/// stage's output words are compared.
pub fn csim_against_cascade(
    plan: &Plan,
    batch: &InputBatch,
    eng: &[SampleResult],
    masks: Option<&[Vec<bool>]>,
    margins: Option<&[Option<u64>]>,
    part: &str,
    dir: &Path,
) -> Result<CsimReport, FlowError> {
    let design = write_project_cascade(plan, batch, eng, masks, margins, part, dir)?;
    let tb = build_and_run(&design, dir)?;
    Ok(compare(plan, eng, &tb, &design.top))
}
