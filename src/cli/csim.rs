//! `spikefab csim`: the emitted HLS C++ compiled with g++ and run against the cycle engine.

use std::path::PathBuf;

use clap::Args;

use spikefab::driver::StudentMask;

use super::failure::Failure;
use super::model_args::ModelOnInputs;

#[derive(Args, Debug)]
pub struct CsimArgs {
    #[command(flatten)]
    on: ModelOnInputs,
    #[command(flatten)]
    mask: StudentMask,
    /// Work folder for the C++, testbench, inputs and results (everything is written inside it).
    #[arg(short, long, default_value = "build/csim")]
    out_dir: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(a: CsimArgs) -> Result<(), Failure> {
    let (m, batch) = a.on.load()?;
    let r = spikefab::driver::csim(&m, &batch, &a.on.plan, &a.mask, a.on.input.samples.samples, &a.out_dir)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r).expect("json"));
    } else {
        println!("C simulation of {} ({}, {}): {} samples", r.top, r.compiler, r.flags.join(" "), r.samples);
        println!(
            "compared: {} steps, {} output words, {} neuron outputs ({} spikes)",
            r.steps, r.words, r.outputs, r.spikes
        );
        println!(
            "differ: {} neuron outputs, {} words, {} step counts",
            r.mismatches, r.word_mismatches, r.step_mismatches
        );
        println!("g++: {:.2} s, run: {:.3} s; files in {}", r.compile_seconds, r.run_seconds, a.out_dir.display());
        for d in &r.first_differences {
            println!("  {d}");
        }
    }
    if !r.exact() {
        return Err(Failure::check("the HLS C++ does not match the cycle engine"));
    }
    println!("csim: bit-exact with the cycle engine");
    Ok(())
}
