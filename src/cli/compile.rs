//! `spikefab compile`: a student to Verilog (+ testbench, constraints, build script) and/or HLS
//! C++ (+ testbench, Vitis HLS script), verified, co-simulated, C-simulated and (iCE40) built
//! to a bitstream by [`spikefab::driver::compile`]; this file parses and prints.

use std::path::PathBuf;

use clap::Args;
use spikefab::data;
use spikefab::driver::{self, CompileOptions, CompileReport, CosimSettings, FpgaOutcome, Step};

use super::cosim::CosimOptions;
use super::energy as energy_cli;
use super::passes::{PassArgs, print_records};
use super::verify::print_early_exit;
use super::{Bars, Failure, ModelArgs, PlanArgs};

super::cli_enum! {
    /// Which hardware descriptions to emit.
    BackendArg => driver::Backend {
        /// Verilog RTL (co-simulated, bitstream for iCE40 and ECP5).
        Verilog,
        /// HLS C++ for Vitis HLS in `hls/` (C-simulated with g++).
        Hls,
        /// Both.
        Both,
    }
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
    /// Verify, count energy, co-simulate and C-simulate only the first N inputs (the input
    /// range is still calibrated on all of them) [default: all].
    #[arg(long, value_name = "N")]
    samples: Option<usize>,
    /// Build the bitstream (iCE40 targets: yosys, nextpnr-ice40, icepack, icetime; ECP5
    /// targets: YoWASP's yosys, nextpnr-ecp5 and ecppack).
    #[arg(long)]
    bitstream: bool,
    /// Place and route with seeds 1..=N and keep the fastest placement (iCE40: by the lower of
    /// nextpnr's and icetime's Fmax; ECP5: nextpnr's). Near full devices and near the clock
    /// target, placements of the same netlist differ by several MHz.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pnr_seeds: u32,
    /// Hardware descriptions to emit: Verilog RTL, HLS C++ (into <out>/hls), or both.
    #[arg(long, value_enum, default_value = "verilog")]
    backend: BackendArg,
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
    let mut o = CompileOptions::new(a.plan.settings(), &a.out_dir);
    o.passes = a.passes.settings(&m, &a.model)?;
    o.inputs = inputs;
    o.labels = labels;
    o.samples = a.samples;
    o.backend = a.backend.into();
    o.bitstream = a.bitstream;
    o.pnr_seeds = a.pnr_seeds;
    o.cosim = CosimSettings {
        samples: a.cosim_samples,
        simulator: a.cosim.simulator.simulator(),
        budget_s: a.cosim.cosim_budget,
    };
    o.csim_samples = a.csim_samples;
    o.html_report = a.report.clone();
    o.raster_sample = a.raster_sample;
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
    let schedule = r.plan.as_ref().map(|p| format!(", {} schedule", p.schedule.name())).unwrap_or_default();
    println!("compiled {} for {} at {} MHz, T = {}{schedule}", r.model, r.target, r.clock_mhz, r.timesteps);
    if let Some(why) = r.plan.as_ref().and_then(|p| p.schedule_note.as_ref()) {
        println!("  schedule: {why}");
    }
    if let (Some(top), Some(files)) = (&r.top, &r.files) {
        let roms = files.iter().filter(|n| n.ends_with(".hex")).count();
        println!(
            "  RTL: {}/{top}.v (+ pin wrapper, 4 primitives, {roms} ROM images), plan.json, report.json",
            out.display()
        );
    }
    if let Some(h) = &r.hls {
        println!(
            "  HLS C++: {}/{}.cpp (+ sf_hls.h, tb.cpp, run_hls.tcl for Vitis HLS on {}; not run here)",
            h.dir, h.top, h.part
        );
    }
    if let Some(v) = &r.verify {
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
    if let Some(e) = &r.early_exit {
        print!("  ");
        print_early_exit(e, r.timesteps);
    }
    if let Some(e) = &r.energy {
        let est = &e.estimate;
        let j = energy_cli::fmt_j;
        println!(
            "  energy: {} per inference on {} (estimate; min {}, max {}), ANN fp32 / SNN {:.2}x (operation energy)",
            j(e.energy_per_inference_j),
            est.target,
            j(est.energy_min_j),
            j(est.energy_max_j),
            est.ann_fp32_over_snn
        );
        let c = &e.counts;
        println!(
            "  NeuroBench counts per sample: effective ACs {:.1}, MACs {:.1}, dense {:.0}, membrane updates {:.1}, activation sparsity {:.4}",
            c.effective_acs, c.effective_macs, c.dense_ops, c.membrane_updates, c.activation_sparsity
        );
    }
    match &r.cosim {
        Some(Step::Skipped { skipped }) => println!("  cosim: skipped ({skipped})"),
        Some(Step::Ran(c)) => println!(
            "  cosim ({:?}, {} inputs): {}",
            c.simulator,
            c.samples,
            if c.exact() {
                "spike- and cycle-exact".to_string()
            } else {
                format!("{} words, {} cycle counts differ", c.word_mismatches, c.cycle_mismatches)
            }
        ),
        None => {}
    }
    if let Some(Step::Ran(spikefab::flow::cosim::CosimReport { speed: Some(c), .. })) = &r.cosim {
        println!("  cosim {}", super::cosim::speed_line(c));
    }
    match &r.csim {
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
    match &r.fpga {
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
            println!(
                "  clock: Fmax {} MHz (icetime), {} MHz (nextpnr) vs target {} MHz",
                f.fmax_icetime_mhz.map_or_else(
                    || format!("? ({})", f.icetime_missing.as_deref().unwrap_or("no figure")),
                    |x| format!("{x:.2}")
                ),
                f.fmax_nextpnr_mhz.map_or("?".into(), |x| format!("{x:.2}")),
                f.target_mhz
            );
            print_seeds(&f.seeds);
            println!("  bitstream: {}/{} ({} bytes)", out.display(), f.bitstream, f.bitstream_bytes);
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
    if let Some(x) = &r.xylo {
        println!(
            "  Xylo ({}): {} hidden neurons ({} take input, {} drive the {} outputs), weight shifts in/rec/out {:?}; \
             outputs {} step(s) behind the model",
            x.chip, x.hidden_neurons, x.input_neurons, x.output_source_neurons, x.outputs, x.weight_shifts, x.lag
        );
        for p in &x.places {
            println!(
                "    '{}': {} {}..{} ({} steps behind)",
                p.layer,
                p.population,
                p.first,
                p.first + p.neurons,
                p.delay
            );
        }
        println!("  export: {}/ ({})", x.dir, x.files.join(", "));
        if x.dropped_input_events > 0 {
            println!(
                "  inputs: {} events above 15 per channel and step are not taken by the chip",
                x.dropped_input_events
            );
        }
        for n in &x.notes {
            println!("  note: {n}");
        }
    }
    if let Some(x) = &r.loihi {
        println!(
            "  Loihi (netx): {} layers on {} cores, input spikes of {} bit(s); outputs {} step(s) behind the model \
             (each layer adds one)",
            x.layers.len(),
            x.cores,
            x.input_bits,
            x.lag
        );
        for l in &x.layers {
            println!(
                "    '{}': {} {} neurons, iDecay {} vDecay {}, vThMant {}, weight exponent {}",
                l.name, l.kind, l.neurons, l.decays[0], l.decays[1], l.vth, l.weight_exp
            );
        }
        println!("  export: {}/ ({})", x.dir, x.files.join(", "));
        if x.clipped_inputs > 0 {
            println!("  inputs: {} values beyond the largest payload are clipped", x.clipped_inputs);
        }
        for n in &x.notes {
            println!("  note: {n}");
        }
    }
    if let Some(v) = &r.chip_verify {
        print!(
            "  verify: {} inputs, class agreement of the chip with the reference {:.4}, output spikes agreeing {:.4}",
            v.samples, v.class_agreement, v.output_agreement
        );
        if let (Some(ra), Some(ca)) = (v.reference_accuracy, v.chip_accuracy) {
            print!(", accuracy reference {ra:.4} / chip {ca:.4}");
        }
        println!();
    }
    match &r.xylosim {
        Some(Step::Ran(x)) => println!(
            "  XyloSim: {} samples x {} steps, {} values compared: {} (samna: {})",
            x.samples,
            x.steps,
            x.words,
            if x.exact() {
                "every output spike, hidden spike, membrane and current identical".to_string()
            } else {
                format!(
                    "{} outputs, {} spikes, {} states differ",
                    x.output_mismatches, x.spike_mismatches, x.state_mismatches
                )
            },
            x.samna_configuration
        ),
        Some(Step::Skipped { skipped }) => println!("  XyloSim: skipped ({skipped})"),
        None => {}
    }
    match &r.lava {
        Some(Step::Ran(x)) => println!(
            "  Lava (fixed_pt): {} samples x {} steps, {} values compared ({} output spikes, the rest u and v): {}",
            x.samples,
            x.steps,
            x.words,
            x.output_words,
            if x.exact() {
                "every output spike, current and voltage identical".to_string()
            } else {
                format!("{} outputs, {} states differ", x.output_mismatches, x.state_mismatches)
            }
        ),
        Some(Step::Skipped { skipped }) => println!("  Lava: skipped ({skipped})"),
        None => {}
    }
    if let Some(e) = &r.loihi_energy {
        println!(
            "  energy: {} per inference ({:.0} synaptic ops, {:.0} neuron updates, {:.1} spikes; {})",
            energy_cli::fmt_j(e.energy_per_inference_j),
            e.synaptic_ops,
            e.neuron_updates,
            e.spikes,
            e.basis
        );
    }
    if let Some(e) = &r.chip_energy {
        println!(
            "  energy: {} per inference ({} W x {:.4} s; {})",
            energy_cli::fmt_j(e.energy_per_inference_j),
            e.dynamic_power_w,
            e.seconds_per_inference,
            e.basis
        );
    }
    if let Some(p) = &r.report {
        println!("  report: {p}");
    }
}

/// The placement seeds a bitstream build tried, when it tried more than one.
fn print_seeds(s: &spikefab::flow::Seeds) {
    if s.tried.len() > 1 {
        let each: Vec<String> =
            s.tried.iter().map(|(k, f)| format!("{k}: {}", f.map_or("?".into(), |f| format!("{f:.2}")))).collect();
        println!("  placement: seed {} kept of {} tried (MHz by seed: {})", s.kept, s.tried.len(), each.join(", "));
    }
}
