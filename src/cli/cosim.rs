//! `spikefab cosim`: the emitted RTL in iverilog or Verilator against the cycle engine.

use std::path::PathBuf;

use clap::Args;
use spikefab::driver::{CosimSettings, cosim_step, steps_for};
use spikefab::options::Samples;

use super::print::speed_line;
use super::{Bars, Failure, ModelOnInputs};

/// Samples co-simulated when `--samples` is not given.
const DEFAULT_SAMPLES: usize = 16;

#[derive(Args, Debug)]
pub struct CosimArgs {
    #[command(flatten)]
    on: ModelOnInputs,
    #[command(flatten)]
    cosim: CosimSettings,
    /// Work folder for the RTL, testbench and simulator files.
    #[arg(short, long, default_value = "build/cosim")]
    out_dir: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(a: CosimArgs) -> Result<(), Failure> {
    let (m, batch) = a.on.load()?;
    let steps = steps_for(&m, Some(&batch))?;
    let plan = a.on.plan.plan(&m, steps, Some(&batch))?;
    let first = Samples { samples: Some(a.on.input.samples.samples.unwrap_or(DEFAULT_SAMPLES)) }
        .of(&batch)
        .map_err(Failure::input)?;
    // One engine run: its cycle counts predict the simulator's time, its results are compared.
    let eng = spikefab::sim::cycle::run(&plan, &first, plan.timesteps);
    let outcome = cosim_step(&plan, &first, &eng.samples, &a.cosim, &a.out_dir, &Bars::default())?;
    let r = match outcome {
        spikefab::driver::Step::Ran(r) => r,
        spikefab::driver::Step::Skipped { skipped } => {
            return Err(Failure::input(anyhow::anyhow!("co-simulation not run: {skipped}")));
        }
    };
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
