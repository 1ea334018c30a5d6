//! `spikefab cosim`: the emitted RTL in iverilog or Verilator against the cycle engine; and
//! the co-simulation step `compile` shares: simulator choice, cost prediction, budget, progress.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use spikefab::data::InputBatch;
use spikefab::flow::cosim::{self, CosimReport, Simulator};
use spikefab::hw::Plan;

use super::plan::{load_inputs, steps_for};
use super::{Failure, ModelArgs, PlanArgs};

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

/// What the co-simulation step did.
pub enum CosimOutcome {
    /// Ran.
    Ran(CosimReport),
    /// Skipped, with the reason (a missing tool, or the budget).
    Skipped(String),
}

/// Co-simulates the first `samples` of `batch`: picks the simulator, predicts the wall time
/// from `engine_cycles` (the cycle engine's count for each of those samples), skips with the
/// prediction above the budget, and shows progress per sample.
pub fn cosim_step(
    plan: &Plan,
    batch: &InputBatch,
    samples: usize,
    engine_cycles: &[u64],
    o: &CosimOptions,
    dir: &Path,
) -> Result<CosimOutcome, Failure> {
    let n = samples.min(batch.n);
    let cycles: u64 = engine_cycles.iter().take(n).sum();
    let sim = match o.simulator {
        SimChoice::Iverilog => Simulator::Iverilog,
        SimChoice::Verilator => Simulator::Verilator,
        SimChoice::Auto => match Simulator::fastest_installed(cycles) {
            Some(s) => s,
            None => {
                return Ok(CosimOutcome::Skipped(
                    "neither iverilog nor verilator is installed (Debian packages iverilog, verilator)".into(),
                ));
            }
        },
    };
    if !spikefab::flow::have(sim.tool()) {
        return Ok(CosimOutcome::Skipped(format!(
            "{} is not installed (Debian package: {})",
            sim.tool(),
            spikefab::flow::package_of(sim.tool())
        )));
    }
    let predicted = sim.predicted_seconds(cycles);
    if !(o.cosim_budget.is_finite() && o.cosim_budget >= 0.0) {
        return Err(Failure::input(anyhow::anyhow!("--cosim-budget must be a non-negative number of seconds")));
    }
    if predicted > o.cosim_budget {
        return Ok(CosimOutcome::Skipped(format!(
            "{n} samples need {cycles} clock cycles, predicted {} with {}, above --cosim-budget {}; \
             give --cosim-budget {} to run it, or fewer samples",
            duration(predicted),
            sim.tool(),
            o.cosim_budget,
            predicted.ceil()
        )));
    }
    let bar = indicatif::ProgressBar::new(n as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} samples [{elapsed}, predicted {prefix}]")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_prefix(duration(predicted));
    bar.set_message(format!("co-simulating with {}", sim.tool()));
    bar.enable_steady_tick(std::time::Duration::from_millis(250));
    let t0 = std::time::Instant::now();
    let r = cosim::cosim(plan, batch, n, sim, dir, &|done| bar.set_position(done as u64));
    bar.finish_and_clear();
    let r = r.map_err(Failure::tool)?;
    eprintln!(
        "co-simulating {n} samples with {}: {:.1} s (predicted {})",
        sim.tool(),
        t0.elapsed().as_secs_f64(),
        duration(predicted)
    );
    Ok(CosimOutcome::Ran(r))
}

fn duration(s: f64) -> String {
    if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 7200.0 {
        format!("{:.0} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
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
    let batch = load_inputs(&m, &a.inputs)?;
    let steps = steps_for(&m, Some(&batch))?;
    let plan = a.plan.plan(&m, steps, Some(&batch))?;
    let first = batch.take(a.samples);
    let eng = spikefab::sim::cycle::run(&plan, &first, plan.timesteps);
    let r = match cosim_step(&plan, &batch, a.samples, &eng.cycles(), &a.cosim, &a.out_dir)? {
        CosimOutcome::Ran(r) => r,
        CosimOutcome::Skipped(why) => return Err(Failure::input(anyhow::anyhow!("co-simulation not run: {why}"))),
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r).expect("json"));
    } else {
        println!("simulator: {:?}, samples: {}", r.simulator, r.samples);
        println!("output words: {} compared, {} differ", r.words, r.word_mismatches);
        println!("cycle counts: {} of {} differ", r.cycle_mismatches, r.samples);
        let mean = r.rtl_cycles.iter().sum::<u64>() as f64 / r.rtl_cycles.len().max(1) as f64;
        println!("RTL cycles per inference: mean {mean:.1}");
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
