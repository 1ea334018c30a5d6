//! `spikefab compile`: a student to Verilog (+ testbench, constraints, build script) and/or HLS
//! C++ (+ testbench, Vitis HLS script), verified against the reference, co-simulated (RTL) and
//! C-simulated (C++) against the cycle engine, and for iCE40 targets a bitstream from the open
//! flow.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::json;
use spikefab::back::{hls, verilog};
use spikefab::data;
use spikefab::energy;
use spikefab::flow::csim;
use spikefab::flow::{self, FlowError, ice40, vivado};
use spikefab::report::Resources;
use spikefab::sim::{cycle, reference};
use spikefab::target::Flow;

use super::cosim::{CosimOptions, CosimOutcome, cosim_step};
use super::energy as energy_cli;
use super::passes::{PassArgs, prepare, print_records};
use super::plan::{load_inputs, steps_for};
use super::verify::{EarlyExit, early_exit_check, print_early_exit};
use super::{Failure, ModelArgs, PlanArgs};

/// Which hardware descriptions to emit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// Verilog RTL (co-simulated, bitstream for iCE40).
    Verilog,
    /// HLS C++ for Vitis HLS in `hls/` (C-simulated with g++).
    Hls,
    /// Both.
    Both,
}

#[derive(Args, Debug)]
pub struct CompileArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    plan: PlanArgs,
    /// Output folder (everything is written inside it).
    #[arg(short, long, default_value = "build")]
    out_dir: PathBuf,
    /// Calibration and verification inputs (.npy).
    #[arg(long)]
    inputs: Option<PathBuf>,
    /// Labels (.npy) to report accuracy.
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Build the bitstream (iCE40 targets: yosys, nextpnr-ice40, icepack, icetime).
    #[arg(long)]
    bitstream: bool,
    /// Hardware descriptions to emit: Verilog RTL, HLS C++ (into <out>/hls), or both.
    #[arg(long, value_enum, default_value = "verilog")]
    backend: Backend,
    /// Samples to co-simulate (0: skip co-simulation).
    #[arg(long, default_value_t = 16)]
    cosim_samples: usize,
    /// Samples of the verification inputs to C-simulate with the HLS back end [default: all;
    /// 0: skip].
    #[arg(long)]
    csim_samples: Option<usize>,
    #[command(flatten)]
    cosim: CosimOptions,
    #[command(flatten)]
    passes: PassArgs,
    /// Print what the passes changed.
    #[arg(short, long)]
    verbose: bool,
    /// Write a self-contained HTML report (energy, counts, spike raster, resources) to this
    /// file (needs --inputs).
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// The sample whose spike raster the report shows.
    #[arg(long, default_value_t = 0)]
    raster_sample: usize,
    /// Print the JSON report instead of text.
    #[arg(long)]
    json: bool,
}

fn step<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_message(what.to_string());
    bar.enable_steady_tick(Duration::from_millis(120));
    let t0 = Instant::now();
    let r = f();
    bar.finish_and_clear();
    eprintln!("{what}: {:.1} s", t0.elapsed().as_secs_f64());
    r
}

pub fn run(a: CompileArgs) -> Result<(), Failure> {
    let m = a.model.load()?;
    let batch = match &a.inputs {
        Some(p) => Some(load_inputs(&m, p)?),
        None => None,
    };
    if a.report.is_some() && batch.is_none() {
        return Err(Failure::input(anyhow::anyhow!("--report needs --inputs (the report shows measured activity)")));
    }
    let labels = match (&a.labels, &batch) {
        (Some(p), Some(b)) => Some(data::load_labels(p, b.n).map_err(Failure::input)?),
        (Some(_), None) => return Err(Failure::input(anyhow::anyhow!("--labels needs --inputs"))),
        _ => None,
    };
    let steps = steps_for(&m, batch.as_ref())?;
    let prep = prepare(m, steps, &a.passes, &a.plan, batch.as_ref(), labels.as_deref())?;
    let (steps, m) = (prep.steps, &prep.model);
    if a.verbose && !a.json {
        print_records(&prep.records);
    }
    let plan = a.plan.plan(m, steps, batch.as_ref())?;
    let target = a.plan.target()?;
    let out = &a.out_dir;
    let rtl = a.backend != Backend::Hls;
    let with_hls = a.backend != Backend::Verilog;
    if a.bitstream && !rtl {
        return Err(Failure::input(anyhow::anyhow!("--bitstream builds the Verilog: use --backend verilog or both")));
    }
    // Both back ends refuse before anything is written.
    let design = if rtl { Some(verilog::emit(&plan, None).map_err(Failure::input)?) } else { None };
    let hls_design = if with_hls { Some(hls::emit(&plan, target.hls_part()).map_err(Failure::input)?) } else { None };
    let hls_dir = out.join("hls");
    if let Some(d) = &hls_design {
        flow::write_files(&d.files, &hls_dir).map_err(Failure::input)?;
    }
    let wr = |name: &str, text: String| -> Result<(), Failure> {
        std::fs::write(out.join(name), text)
            .map_err(|e| Failure::input(anyhow::anyhow!("{}: {e}", out.join(name).display())))
    };
    if let Some(design) = &design {
        flow::write_design(design, out).map_err(Failure::input)?;
        if target.flow() == Flow::OpenIce40 {
            wr(&format!("{}.pcf", design.module), ice40::pcf(design, &target).map_err(Failure::input)?)?;
            wr(&format!("{}.ys", design.module), ice40::yosys_script(design, &target))?;
            wr("build.sh", ice40::build_script(design, &target))?;
        } else if target.flow() == Flow::Vivado {
            wr("vivado.tcl", vivado::tcl(design, &target))?;
            wr(&format!("{}.xdc", design.module), vivado::xdc(design, &target))?;
        }
    }
    wr("plan.json", serde_json::to_string_pretty(&plan.summary()).expect("json") + "\n")?;
    let mut report = json!({
        "model": m.path.display().to_string(),
        "target": target.name,
        "clock_mhz": plan.clock_mhz,
        "timesteps": steps,
        "top": design.as_ref().map(|d| d.module.clone()),
        "files": design.as_ref().map(|d| d.files.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>()),
        "plan": plan.summary(),
        "passes": prep.records,
    });
    if let Some(d) = &hls_design {
        report["hls"] = json!({
            "top": d.top,
            "dir": hls_dir.display().to_string(),
            "files": d.files.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(),
            "part": target.hls_part(),
            "vitis": "run_hls.tcl is written for Vitis HLS and not run here",
        });
    }
    let mut failed: Option<String> = None;
    let mut measured = None;
    if let Some(b) = &batch {
        // The reference runs the cut model unsimplified: verification covers the passes.
        let rm = &prep.cut;
        let output = rm.graph.select_output(None).map_err(Failure::input)?;
        let (r, c) = step("verifying against the reference engine", || {
            let r = reference::run(
                &rm.graph,
                &rm.info,
                rm.dialect(),
                b,
                &reference::RunOptions { steps, f64: false, output },
                None,
            );
            (r, cycle::run(&plan, b, steps))
        });
        let r = r.map_err(Failure::input)?;
        let (rc, cc) = (r.outputs.classes(), c.outputs.classes());
        let agreement = data::agreement(&rc, &cc);
        let cycles = c.cycles();
        let mean = cycles.iter().sum::<u64>() as f64 / cycles.len() as f64;
        report["verify"] = json!({
            "samples": b.n,
            "class_agreement": agreement,
            "reference_accuracy": labels.as_ref().map(|l| data::agreement(&rc, l)),
            "cycle_accuracy": labels.as_ref().map(|l| data::agreement(&cc, l)),
            "cycles_mean": mean,
            "cycles_max": cycles.iter().max(),
            "latency_us_mean": mean / plan.clock_mhz,
            "saturations": c.total.saturations(),
        });
        let est = energy::estimate(&plan, &target, &c);
        let counts = step("counting operations (NeuroBench definitions)", || energy_cli::counts(rm, b, steps))?;
        if let Some(e) = early_exit_check(&plan, b, steps, &c) {
            if e.changed > 0 {
                failed.get_or_insert(format!("early exit changed the class of {} inputs", e.changed));
            }
            report["early_exit"] = serde_json::to_value(&e).expect("json");
        }
        report["energy"] = json!({
            "energy_per_inference_j": est.energy_per_inference_j,
            "counts": counts,
            "estimate": est,
        });
        let min_agreement = a.passes.min_agreement();
        if agreement < min_agreement {
            failed = Some(format!("class agreement {agreement:.4} is below --min-agreement {min_agreement}"));
        }
        if rtl && a.cosim_samples > 0 {
            match cosim_step(&plan, b, a.cosim_samples, &cycles, &a.cosim, &out.join("cosim"))? {
                CosimOutcome::Ran(rep) => {
                    if !rep.exact() && failed.is_none() {
                        failed = Some(format!("co-simulation: {}", rep.first_differences.join("; ")));
                    }
                    report["cosim"] = serde_json::to_value(&rep).expect("json");
                }
                CosimOutcome::Skipped(why) => {
                    eprintln!("co-simulation skipped: {why}");
                    report["cosim"] = json!({ "skipped": why });
                }
            }
        }
        if with_hls && a.csim_samples != Some(0) {
            let n = a.csim_samples.unwrap_or(b.n).min(b.n);
            if flow::have("g++") {
                let rep = step(&format!("C-simulating {n} samples (g++)"), || {
                    csim::csim(&plan, b, Some(n), target.hls_part(), &hls_dir)
                })
                .map_err(Failure::input)?;
                if !rep.exact() && failed.is_none() {
                    failed = Some(format!("C simulation: {}", rep.first_differences.join("; ")));
                }
                report["csim"] = serde_json::to_value(&rep).expect("json");
            } else {
                // The project still gets its testbench data.
                let bn = b.take(n);
                let eng = cycle::run(&plan, &bn, plan.timesteps);
                csim::write_project(&plan, &bn, &eng, target.hls_part(), &hls_dir).map_err(Failure::input)?;
                eprintln!("C simulation skipped: g++ is not installed (Debian package: {})", flow::package_of("g++"));
                report["csim"] = json!({"skipped": "g++ not installed"});
            }
        }
        measured = Some((c, est, counts, labels));
    }
    if a.bitstream {
        if target.flow() != Flow::OpenIce40 {
            return Err(Failure::input(anyhow::anyhow!(
                "--bitstream builds iCE40 targets with the open flow; for {} run vivado.tcl in {} with Vivado",
                target.name,
                out.display()
            )));
        }
        let bar = indicatif::ProgressBar::new_spinner();
        bar.enable_steady_tick(Duration::from_millis(120));
        let t0 = Instant::now();
        let progress = |s: &str| {
            bar.set_message(s.to_string());
            eprintln!("[{:>6.1} s] {s}", t0.elapsed().as_secs_f64());
        };
        let r = ice40::build(design.as_ref().expect("--bitstream needs the Verilog"), &target, out, &progress);
        bar.finish_and_clear();
        match r {
            Ok(r) => {
                if let Some(f) = r.fmax_mhz().filter(|&f| f < r.target_mhz) {
                    failed.get_or_insert(format!(
                        "timing not met: Fmax {f:.2} MHz is below the {} MHz clock; give --clock-mhz {} or fewer --lanes",
                        r.target_mhz,
                        (f * 10.0).floor() / 10.0
                    ));
                }
                report["fpga"] = serde_json::to_value(&r).expect("json");
            }
            Err(FlowError::DoesNotFit(msg)) => {
                report["fpga"] = json!({"does_not_fit": msg});
                failed.get_or_insert(format!("the design does not fit: {msg}"));
            }
            Err(e) => return Err(Failure::input(e)),
        }
    }
    if let (Some(path), Some((c, est, counts, labels)), Some(b)) = (&a.report, measured, &batch) {
        let inputs = energy_cli::ReportInputs {
            model: m,
            plan: &plan,
            batch: b,
            steps,
            run: &c,
            sample: a.raster_sample,
            labels: labels.as_deref(),
            resources: report.get("fpga").and_then(resources),
            tradeoffs: vec![],
        };
        energy_cli::write_report(path, inputs, vec![est], Some(counts))?;
        report["report"] = json!(path.display().to_string());
    }
    wr("report.json", serde_json::to_string_pretty(&report).expect("json") + "\n")?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report).expect("json"));
    } else {
        print_summary(&report, design.as_ref(), out);
    }
    match failed {
        Some(msg) => Err(Failure::check(msg)),
        None => Ok(()),
    }
}

/// Resource use of a placed design, from the flow's report.
fn resources(f: &serde_json::Value) -> Option<Resources> {
    f.get("luts")?;
    let row = |label: &str, key: &str| -> Option<(String, u64, u64)> {
        let v = f.get(key).filter(|v| !v.is_null())?;
        Some((label.to_string(), v["used"].as_u64()?, v["available"].as_u64()?))
    };
    Some(
        [
            ("LUT4", "luts"),
            ("flip-flops", "ffs"),
            ("block RAM", "block_rams"),
            ("DSP", "dsps"),
            ("logic cells", "logic_cells"),
            ("I/O", "ios"),
        ]
        .iter()
        .filter_map(|(l, k)| row(l, k))
        .collect(),
    )
}

fn print_summary(r: &serde_json::Value, d: Option<&verilog::Design>, out: &std::path::Path) {
    println!(
        "compiled {} for {} at {} MHz, T = {}",
        r["model"].as_str().unwrap_or(""),
        r["target"].as_str().unwrap_or(""),
        r["clock_mhz"],
        r["timesteps"]
    );
    if let Some(d) = d {
        let roms = d.files.iter().filter(|(n, _)| n.ends_with(".hex")).count();
        println!(
            "  RTL: {}/{}.v (+ pin wrapper, 4 primitives, {roms} ROM images), plan.json, report.json",
            out.display(),
            d.module
        );
    }
    if let Some(h) = r.get("hls") {
        println!(
            "  HLS C++: {}/{}.cpp (+ sf_hls.h, tb.cpp, run_hls.tcl for Vitis HLS on {}; not run here)",
            h["dir"].as_str().unwrap_or(""),
            h["top"].as_str().unwrap_or(""),
            h["part"].as_str().unwrap_or("")
        );
    }
    if let Some(v) = r.get("verify") {
        print!(
            "  verify: {} inputs, class agreement {:.4}",
            v["samples"],
            v["class_agreement"].as_f64().unwrap_or(0.0)
        );
        if let (Some(ra), Some(ca)) = (v["reference_accuracy"].as_f64(), v["cycle_accuracy"].as_f64()) {
            print!(", accuracy reference {ra:.4} / hardware {ca:.4}");
        }
        println!();
        println!(
            "  latency: {:.1} cycles per inference (mean), {:.1} us at {} MHz",
            v["cycles_mean"].as_f64().unwrap_or(0.0),
            v["latency_us_mean"].as_f64().unwrap_or(0.0),
            r["clock_mhz"]
        );
    }
    if let Some(e) = r.get("early_exit").and_then(|v| serde_json::from_value::<EarlyExit>(v.clone()).ok()) {
        print!("  ");
        print_early_exit(&e, r["timesteps"].as_u64().unwrap_or(0) as usize);
    }
    if let Some(e) = r.get("energy") {
        let est = &e["estimate"];
        let j = |v: &serde_json::Value| energy_cli::fmt_j(v.as_f64().unwrap_or(0.0));
        println!(
            "  energy: {} per inference on {} (estimate; min {}, max {}), ANN fp32 / SNN {:.2}x (operation energy)",
            j(&e["energy_per_inference_j"]),
            est["target"].as_str().unwrap_or(""),
            j(&est["energy_min_j"]),
            j(&est["energy_max_j"]),
            est["ann_fp32_over_snn"].as_f64().unwrap_or(0.0)
        );
        let c = &e["counts"];
        println!(
            "  NeuroBench counts per sample: effective ACs {:.1}, MACs {:.1}, dense {:.0}, membrane updates {:.1}, activation sparsity {:.4}",
            c["effective_acs"].as_f64().unwrap_or(0.0),
            c["effective_macs"].as_f64().unwrap_or(0.0),
            c["dense_ops"].as_f64().unwrap_or(0.0),
            c["membrane_updates"].as_f64().unwrap_or(0.0),
            c["activation_sparsity"].as_f64().unwrap_or(0.0)
        );
    }
    if let Some(c) = r.get("cosim") {
        if let Some(s) = c.get("skipped") {
            println!("  cosim: skipped ({})", s.as_str().unwrap_or(""));
        } else {
            let exact = c["word_mismatches"] == 0 && c["cycle_mismatches"] == 0;
            println!(
                "  cosim ({}, {} inputs): {}",
                c["simulator"].as_str().unwrap_or(""),
                c["samples"],
                if exact {
                    "spike- and cycle-exact".to_string()
                } else {
                    format!("{} words, {} cycle counts differ", c["word_mismatches"], c["cycle_mismatches"])
                }
            );
        }
    }
    if let Some(c) = r.get("csim") {
        if let Some(s) = c.get("skipped") {
            println!("  csim: skipped ({})", s.as_str().unwrap_or(""));
        } else {
            let exact = c["mismatches"] == 0 && c["word_mismatches"] == 0 && c["step_mismatches"] == 0;
            println!(
                "  csim ({}, {} inputs): {}, {} outputs ({} spikes) compared; g++ {:.1} s",
                c["compiler"].as_str().unwrap_or(""),
                c["samples"],
                if exact {
                    "bit-exact".to_string()
                } else {
                    format!("{} outputs, {} step counts differ", c["mismatches"], c["step_mismatches"])
                },
                c["outputs"],
                c["spikes"],
                c["compile_seconds"].as_f64().unwrap_or(0.0)
            );
        }
    }
    if let Some(f) = r.get("fpga") {
        if let Some(msg) = f.get("does_not_fit") {
            println!("  fpga: does not fit: {}", msg.as_str().unwrap_or(""));
        } else {
            let u = |k: &str| format!("{}/{}", f[k]["used"], f[k]["available"]);
            println!(
                "  resources: {} LUT4, {} FF, {} block RAM, {} DSP",
                u("luts"),
                u("ffs"),
                u("block_rams"),
                u("dsps")
            );
            if let Some(lc) = f.get("logic_cells").filter(|v| !v.is_null()) {
                println!(
                    "  placed: {}/{} logic cells, {}/{} I/O",
                    lc["used"], lc["available"], f["ios"]["used"], f["ios"]["available"]
                );
            }
            println!(
                "  clock: Fmax {} MHz (icetime), {} MHz (nextpnr) vs target {} MHz",
                f["fmax_icetime_mhz"].as_f64().map_or_else(
                    || format!("? ({})", f["icetime_missing"].as_str().unwrap_or("no figure")),
                    |x| format!("{x:.2}")
                ),
                f["fmax_nextpnr_mhz"].as_f64().map_or("?".into(), |x| format!("{x:.2}")),
                f["target_mhz"]
            );
            println!(
                "  bitstream: {}/{} ({} bytes)",
                out.display(),
                f["bitstream"].as_str().unwrap_or(""),
                f["bitstream_bytes"]
            );
        }
    }
    if let Some(p) = r.get("report").and_then(|v| v.as_str()) {
        println!("  report: {p}");
    }
}
