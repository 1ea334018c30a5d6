//! `spikefab energy`: energy per inference on a target (the cycle engine's counters and the
//! target's constants, or a chip's own estimate), with the conventional network's cost beside
//! it and the targets it is compared with.

use clap::Args;
use spikefab::driver::{EnergySettings, energy};

use super::bars::Bars;
use super::failure::Failure;
use super::print::{fmt_j, print_counts, print_estimate, print_records};
use super::run_args::RunArgs;

#[derive(Args, Debug)]
pub struct EnergyArgs {
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    settings: EnergySettings,
    /// Print what the passes changed.
    #[arg(short, long)]
    verbose: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(a: EnergyArgs) -> Result<(), Failure> {
    let loaded = a.run.load()?;
    let job = a.run.job(&loaded);
    let e = energy(&job, &a.settings, &Bars::default())?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&e.json()).expect("json"));
        return Ok(());
    }
    if a.verbose {
        print_records(&e.records);
    }
    print_estimate(&e.estimates[0]);
    print_counts(&e.counts);
    if e.counts_of != "the model" {
        println!("  (NeuroBench counts {})", e.counts_of);
    }
    if let Some(acc) = e.accuracy {
        println!("  accuracy of the hardware on the inputs: {acc:.4}");
    }
    if e.estimates.len() > 1 || !e.refused.is_empty() {
        println!("\ntarget comparison (energy per inference):");
        for e in &e.estimates {
            println!(
                "  {:<14} {:<13} {:>12}   ANN fp32 / SNN {:>7.2}x",
                e.target,
                e.kind,
                fmt_j(e.energy_per_inference_j),
                e.ann_fp32_over_snn
            );
        }
        for r in &e.refused {
            println!("  {:<14} cannot take the model: {}", r.target, r.why);
        }
    }
    if let Some(p) = &e.report {
        println!("report: {}", p.display());
    }
    Ok(())
}
