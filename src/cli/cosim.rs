//! `spikefab cosim`: the emitted RTL in iverilog or Verilator against the cycle engine.

use std::path::PathBuf;

use clap::Args;
use spikefab::driver::{CosimSettings, StudentMask};

use super::bars::Bars;
use super::failure::Failure;
use super::model_args::ModelOnInputs;
use super::print::speed_line;

#[derive(Args, Debug)]
pub struct CosimArgs {
    #[command(flatten)]
    on: ModelOnInputs,
    #[command(flatten)]
    cosim: CosimSettings,
    #[command(flatten)]
    mask: StudentMask,
    /// Work folder for the RTL, testbench and simulator files.
    #[arg(short, long, default_value = "build/cosim")]
    out_dir: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(a: CosimArgs) -> Result<(), Failure> {
    let (m, batch) = a.on.load()?;
    let samples = a.on.input.samples.samples;
    let r = spikefab::driver::cosim(&m, &batch, &a.on.plan, &a.cosim, &a.mask, samples, &a.out_dir, &Bars::default())?;
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
