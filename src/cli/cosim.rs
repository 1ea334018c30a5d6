//! `spikefab cosim`: the emitted RTL in iverilog or Verilator against the cycle engine, and
//! the co-simulation options `compile` shares.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use spikefab::driver::{CosimSettings, cosim_step, steps_for};
use spikefab::flow::cosim::{Simulator, SpeedComparison};

use super::{Bars, Failure, ModelArgs, PlanArgs};

/// RTL simulator choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SimChoice {
    /// The installed simulator predicted to finish first (Verilator unless the run is short).
    Auto,
    /// Icarus Verilog.
    Iverilog,
    /// Verilator.
    Verilator,
}

/// Co-simulation options shared by `cosim` and `compile`.
#[derive(Args, Debug, Clone)]
pub struct CosimOptions {
    /// RTL simulator.
    #[arg(long, value_enum, default_value = "auto")]
    pub simulator: SimChoice,
    /// Skip co-simulation (with the prediction) when it is predicted to take longer than this
    /// many seconds; the prediction comes from the cycle engine's cycle counts.
    #[arg(long, value_name = "SECONDS", default_value_t = 600.0)]
    pub cosim_budget: f64,
}

impl SimChoice {
    /// The simulator asked for, `None` for the library's choice.
    pub fn simulator(self) -> Option<Simulator> {
        match self {
            SimChoice::Auto => None,
            SimChoice::Iverilog => Some(Simulator::Iverilog),
            SimChoice::Verilator => Some(Simulator::Verilator),
        }
    }
}

#[derive(Args, Debug)]
pub struct CosimArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    plan: PlanArgs,
    /// Inputs (.npy); also the calibration data for the input range.
    #[arg(long)]
    inputs: PathBuf,
    #[command(flatten)]
    cosim: CosimOptions,
    /// Co-simulate the first N samples.
    #[arg(long, default_value_t = 16)]
    samples: usize,
    /// Work folder for the RTL, testbench and simulator files.
    #[arg(short, long, default_value = "build/cosim")]
    out_dir: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(a: CosimArgs) -> Result<(), Failure> {
    let m = a.model.load()?;
    let batch = a.model.inputs(&m, &a.inputs)?;
    let steps = steps_for(&m, Some(&batch))?;
    let plan = a.plan.settings().plan(&m, steps, Some(&batch))?;
    let first = batch.take(a.samples);
    let eng = spikefab::sim::cycle::run(&plan, &first, plan.timesteps);
    let s =
        CosimSettings { samples: a.samples, simulator: a.cosim.simulator.simulator(), budget_s: a.cosim.cosim_budget };
    let outcome = cosim_step(&plan, &batch, &eng.cycles(), &s, &a.out_dir, &Bars::default())?;
    let r = outcome.map_err(|why| Failure::input(anyhow::anyhow!("co-simulation not run: {why}")))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r).expect("json"));
    } else {
        println!("simulator: {:?}, samples: {}", r.simulator, r.samples);
        println!("output words: {} compared, {} differ", r.words, r.word_mismatches);
        println!("cycle counts: {} of {} differ", r.cycle_mismatches, r.samples);
        let mean = r.rtl_cycles.iter().sum::<u64>() as f64 / r.rtl_cycles.len().max(1) as f64;
        println!("RTL cycles per inference: mean {mean:.1}");
        println!("{} build {:.1} s, run {:.2} s", r.simulator.tool(), r.build_seconds, r.run_seconds);
        if let Some(c) = &r.speed {
            println!("{}", speed_line(c));
        }
        for d in &r.first_differences {
            println!("  {d}");
        }
    }
    if !r.exact() {
        return Err(Failure::check("the RTL does not match the cycle engine"));
    }
    println!("cosim: spike- and cycle-exact");
    Ok(())
}

/// `speed: engine (1 thread) 35517 samples/s (171.7 M cycles/s; repeats: median 36210, best
/// 38002) vs verilator 202.3 samples/s (978.1 k cycles/s, build not counted): 176x`.
pub fn speed_line(c: &SpeedComparison) -> String {
    format!(
        "speed: engine (1 thread) {:.0} samples/s ({} cycles/s; repeats: median {:.0}, best {:.0}) vs {} {:.1} samples/s ({} cycles/s, build not counted): {:.0}x",
        c.engine.samples_per_s,
        si(c.engine.cycles_per_s),
        c.engine_repeat_median_samples_per_s,
        c.engine_repeat_best_samples_per_s,
        c.simulator.tool(),
        c.rtl.samples_per_s,
        si(c.rtl.cycles_per_s),
        c.engine_over_rtl
    )
}

/// `171.7 M`, `1.3 k`, `950`.
fn si(x: f64) -> String {
    if x >= 1e9 {
        format!("{:.1} G", x / 1e9)
    } else if x >= 1e6 {
        format!("{:.1} M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1} k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}
