//! `spikefab compile`: a student to Verilog (+ testbench, constraints, build script) and/or HLS
//! C++ (+ testbench, Vitis HLS script), verified, co-simulated, C-simulated and (iCE40) built
//! to a bitstream by [`spikefab::driver::compile`]; this file parses and prints.

use std::path::PathBuf;

use clap::Args;
use spikefab::data;
use spikefab::driver::chip::ChipSection;
use spikefab::driver::{self, CompileOptions, CompileReport, CompileSettings, FpgaOutcome, Hardware, RtlSection, Step};
use spikefab::options::{PlanSettings, Samples};

use super::bars::Bars;
use super::failure::Failure;
use super::model_args::ModelArgs;
use super::passes::PassArgs;
use super::print::{fmt_j, print_early_exit, print_records, print_seeds, speed_line};

#[derive(Args, Debug)]
pub struct CompileArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    plan: PlanSettings,
    /// Output folder (everything is written inside it).
    #[arg(short, long, default_value = "build")]
    out_dir: PathBuf,
    /// Inputs (.npy): they calibrate the input range, are verified, and (chips) exported.
    #[arg(long)]
    inputs: Option<PathBuf>,
    /// Labels (.npy) to report accuracy.
    #[arg(long)]
    labels: Option<PathBuf>,
    #[command(flatten)]
    samples: Samples,
    #[command(flatten)]
    build: CompileSettings,
    #[command(flatten)]
    passes: PassArgs,
    /// Print what the passes changed.
    #[arg(short, long)]
    verbose: bool,
    /// Print the JSON report instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(a: CompileArgs) -> Result<(), Failure> {
    let m = a.model.load()?;
    let inputs = match &a.inputs {
        Some(p) => Some(a.model.inputs(&m, p)?),
        None => None,
    };
    let labels = match (&a.labels, &inputs) {
        (Some(p), Some(b)) => Some(data::load_labels(p, b.n).map_err(Failure::input)?),
        (Some(_), None) => return Err(Failure::input(anyhow::anyhow!("--labels needs --inputs"))),
        _ => None,
    };
    let o = CompileOptions {
        plan: a.plan.clone(),
        passes: a.passes.settings(&m, &a.model)?,
        samples: a.samples,
        build: a.build.clone(),
        inputs,
        labels,
        out_dir: a.out_dir.clone(),
    };
    let r = driver::compile(&m, &o, &Bars::default())?;
    if a.verbose && !a.json {
        print_records(&r.passes);
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r).expect("plain data"));
    } else {
        print_summary(&r, &a.out_dir);
    }
    match r.failures.first() {
        Some(msg) => Err(Failure::check(msg.clone())),
        None => Ok(()),
    }
}

fn print_summary(r: &CompileReport, out: &std::path::Path) {
    match &r.hardware {
        Hardware::Rtl(rtl) => print_rtl(r, rtl, out),
        Hardware::Chip(chip) => print_chip(r, chip),
    }
}

fn print_rtl(r: &CompileReport, x: &RtlSection, out: &std::path::Path) {
    let p = &x.plan;
    println!(
        "compiled {} for {} at {} MHz, T = {}, {} schedule",
        r.model,
        r.target,
        r.clock_mhz,
        r.timesteps,
        p.schedule.name()
    );
    if let Some(why) = &p.schedule_note {
        println!("  schedule: {why}");
    }
    if let Some(why) = &p.datapath_note {
        println!("  datapath: {why}");
    }
    for why in &x.exceeds_device {
        println!("  warning: does not fit the device: {why}");
    }
    if let Some(l) = &x.logic {
        println!("  logic: {}", l.line());
        if let Some(why) = l.misfit() {
            println!("  warning: the design is predicted not to fit the device: {why}");
        }
    }
    if let Some(s) = &x.active_students {
        println!("  students at power-on: {} (the board's act port; the checks below run only them)", s.join(", "));
    }
    if let (Some(top), Some(files)) = (&x.top, &x.files) {
        let roms = files.iter().filter(|n| n.ends_with(".hex")).count();
        println!(
            "  RTL: {}/{top}.v (+ pin wrapper, 4 primitives, {roms} ROM images), plan.json, report.json",
            out.display()
        );
    }
    if let Some(h) = &x.hls {
        // A design whose weights are in external memory reads them through its m_axi port
        // from weights.hex, the memory's image.
        let image = if h.files.iter().any(|f| f == "weights.hex") { ", weights.hex for its m_axi port" } else { "" };
        println!(
            "  HLS C++: {}/{}.cpp (+ sf_hls.h, tb.cpp{image}, run_hls.tcl for Vitis HLS on {}; not run here)",
            h.dir, h.top, h.part
        );
    }
    if let Some(v) = &x.verify {
        print!("  verify: {} inputs, class agreement {:.4}", v.samples, v.class_agreement);
        if let (Some(ra), Some(ca)) = (v.reference_accuracy, v.cycle_accuracy) {
            print!(", accuracy reference {ra:.4} / hardware {ca:.4}");
        }
        println!();
        println!(
            "  latency: {:.1} cycles per inference (mean), {:.1} us at {} MHz",
            v.cycles_mean, v.latency_us_mean, r.clock_mhz
        );
    }
    if let Some(e) = &x.early_exit {
        print!("  ");
        print_early_exit(e, r.timesteps);
    }
    if let Some(e) = &x.energy {
        let est = &e.estimate;
        println!(
            "  energy: {} per inference on {} (estimate; min {}, max {}), ANN fp32 / SNN {:.2}x (operation energy)",
            fmt_j(e.energy_per_inference_j),
            est.target,
            fmt_j(est.energy_min_j),
            fmt_j(est.energy_max_j),
            est.ann_fp32_over_snn
        );
        let c = &e.counts;
        println!(
            "  NeuroBench counts per sample: effective ACs {:.1}, MACs {:.1}, dense {:.0}, membrane updates {:.1}, activation sparsity {:.4}",
            c.effective_acs, c.effective_macs, c.dense_ops, c.membrane_updates, c.activation_sparsity
        );
    }
    match &x.cosim {
        Some(Step::Skipped { skipped }) => println!("  cosim: skipped ({skipped})"),
        Some(Step::Ran(c)) => {
            println!(
                "  cosim ({:?}, {} inputs): {}",
                c.simulator,
                c.samples,
                if c.exact() {
                    "spike- and cycle-exact".to_string()
                } else {
                    format!("{} words, {} cycle counts differ", c.word_mismatches, c.cycle_mismatches)
                }
            );
            if let Some(speed) = &c.speed {
                println!("  cosim {}", speed_line(speed));
            }
        }
        None => {}
    }
    match &x.csim {
        Some(Step::Skipped { skipped }) => println!("  csim: skipped ({skipped})"),
        Some(Step::Ran(c)) => println!(
            "  csim ({}, {} inputs): {}, {} outputs ({} spikes) compared; g++ {:.1} s",
            c.compiler,
            c.samples,
            if c.exact() {
                "bit-exact".to_string()
            } else {
                format!("{} outputs, {} step counts differ", c.mismatches, c.step_mismatches)
            },
            c.outputs,
            c.spikes,
            c.compile_seconds
        ),
        None => {}
    }
    match &x.fpga {
        Some(FpgaOutcome::DoesNotFit { does_not_fit }) => println!("  fpga: does not fit: {does_not_fit}"),
        Some(FpgaOutcome::Built(f)) => {
            let u = |x: &spikefab::flow::ice40::Use| format!("{}/{}", x.used, x.available);
            println!(
                "  resources: {} LUT4, {} FF, {} block RAM, {} DSP",
                u(&f.luts),
                u(&f.ffs),
                u(&f.block_rams),
                u(&f.dsps)
            );
            if let (Some(lc), Some(io)) = (&f.logic_cells, &f.ios) {
                println!("  placed: {} logic cells, {} I/O", u(lc), u(io));
            }
            if let Some(l) = &x.logic {
                print_logic_check(l, f.luts.used, f.logic_cells.as_ref().map(|lc| lc.used));
            }
            let icetime = f.fmax_icetime_mhz.map_or_else(
                || format!("no icetime: {}", f.icetime_missing.as_deref().unwrap_or("no figure")),
                |x| format!("{x:.2} MHz icetime"),
            );
            println!(
                "  clock: Fmax {} MHz (nextpnr; {icetime}) vs target {} MHz",
                f.fmax_nextpnr_mhz.map_or("?".into(), |x| format!("{x:.2}")),
                f.target_mhz
            );
            print_seeds(&f.seeds);
            println!("  bitstream: {}/{} ({} bytes; {})", out.display(), f.bitstream, f.bitstream_bytes, f.tools);
        }
        Some(FpgaOutcome::BuiltEcp5(f)) => {
            let u = |x: &spikefab::flow::ice40::Use| format!("{}/{}", x.used, x.available);
            println!(
                "  resources (nextpnr): {} LUT4, {} FF, {} EBR (DP16KD), {} MULT18X18D, {} I/O",
                u(&f.luts),
                u(&f.ffs),
                u(&f.block_rams),
                u(&f.dsps),
                u(&f.ios)
            );
            if let Some(l) = &x.logic {
                // Synthesis's LUT4 positions: a CCU2C carry takes two; placement's TRELLIS_COMB.
                let cells = |k: &str| f.yosys_cells.get(k).copied().unwrap_or(0);
                print_logic_check(l, cells("LUT4") + 2 * cells("CCU2C"), Some(f.luts.used));
            }
            println!(
                "  clock: Fmax {} MHz (nextpnr-ecp5) vs target {} MHz{}",
                f.fmax_nextpnr_mhz.map_or("?".into(), |x| format!("{x:.2}")),
                f.target_mhz,
                f.pll.map_or(String::new(), |p| format!(" (PLL from the board's {} MHz)", p.fin_mhz))
            );
            print_seeds(&f.seeds);
            println!("  bitstream: {}/{} ({} bytes; {})", out.display(), f.bitstream, f.bitstream_bytes, f.tools);
        }
        None => {}
    }
    if let Some(p) = &x.report {
        println!("  report: {p}");
    }
}

/// The logic model's prediction against synthesis's LUT4s and the placed logic cells.
fn print_logic_check(l: &spikefab::hw::logic::Logic, lut4: u64, placed: Option<u64>) {
    let err = |p: u64, m: u64| (p as f64 - m as f64) / m.max(1) as f64 * 100.0;
    print!(
        "  logic model: predicted {} LUT4, synthesis {lut4} ({:+.1}%; its stated error is up to {:.0}%)",
        l.predicted.lut4,
        err(l.predicted.lut4, lut4),
        l.error * 100.0
    );
    match placed {
        Some(lc) => println!(
            "; predicted {} logic cells, placed {lc} ({:+.1}%; up to {:.0}%)",
            l.predicted.lc,
            err(l.predicted.lc, lc),
            l.lc_error * 100.0
        ),
        None => println!(),
    }
}

fn print_chip(r: &CompileReport, c: &ChipSection) {
    println!(
        "compiled {} for {}, T = {} (the chip runs {} steps per inference)",
        r.model, r.target, r.timesteps, c.chip_steps
    );
    for line in c.layout.lines() {
        println!("  {line}");
    }
    println!("  export: {}/ ({})", c.export.dir, c.export.files.join(", "));
    if let Some(n) = &c.inputs_not_taken {
        println!("  inputs: {n}");
    }
    for n in &c.notes {
        println!("  note: {n}");
    }
    let v = &c.verify;
    print!(
        "  verify: {} inputs, class agreement of the chip with the reference {:.4}, output spikes agreeing {:.4}",
        v.samples, v.class_agreement, v.output_agreement
    );
    if let (Some(ra), Some(ca)) = (v.reference_accuracy, v.chip_accuracy) {
        print!(", accuracy reference {ra:.4} / chip {ca:.4}");
    }
    println!();
    match &c.vendor_check {
        Step::Ran(x) => {
            println!("  {}: {} samples x {} steps: {}", x.simulator, x.samples, x.steps, x.verdict());
            for n in &x.notes {
                println!("    {n}");
            }
        }
        Step::Skipped { skipped } => println!("  vendor check: skipped ({skipped})"),
    }
    match &c.energy {
        Some(e) => println!(
            "  energy: {} per inference{}",
            fmt_j(e.energy_per_inference_j),
            e.basis.as_ref().map(|b| format!(" ({b})")).unwrap_or_default()
        ),
        None => println!("  energy: the target publishes no figure to price it"),
    }
}
