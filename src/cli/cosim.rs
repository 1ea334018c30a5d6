//! `spikefab cosim`: the emitted RTL in iverilog or Verilator against the cycle engine.

use std::path::PathBuf;

use clap::Args;
use spikefab::flow::cosim::{self, Simulator};

use super::plan::{load_inputs, steps_for};
use super::{Failure, ModelArgs, PlanArgs};

#[derive(Args, Debug)]
pub struct CosimArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    plan: PlanArgs,
    /// Inputs (.npy); also the calibration data for the input range.
    #[arg(long)]
    inputs: PathBuf,
    /// RTL simulator.
    #[arg(long, value_enum, default_value = "iverilog")]
    simulator: Simulator,
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
    let r = cosim::cosim(&plan, &batch, a.samples, a.simulator, &a.out_dir).map_err(Failure::input)?;
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
