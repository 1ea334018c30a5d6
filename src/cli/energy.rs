//! `spikefab energy`: energy per inference on a target (the cycle engine's counters and the
//! target's constants, or a chip's own estimate), with the conventional network's cost beside
//! it and the targets it is compared with.

use clap::Args;
use spikefab::driver::{EnergySettings, Job, energy};
use spikefab::options::PlanSettings;

use super::passes::PassArgs;
use super::print::{fmt_j, print_counts, print_estimate, print_records};
use super::{Bars, DataArgs, Failure, ModelArgs};

#[derive(Args, Debug)]
pub struct EnergyArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    plan: PlanSettings,
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    settings: EnergySettings,
    #[command(flatten)]
    passes: PassArgs,
    /// Print what the passes changed.
    #[arg(short, long)]
    verbose: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(a: EnergyArgs) -> Result<(), Failure> {
    let m = a.model.load()?;
    let (batch, labels) = a.data.load(&m, &a.model)?;
    let passes = a.passes.settings(&m, &a.model)?;
    let job = Job { labels: labels.as_deref(), samples: a.data.samples, ..Job::new(&m, &batch, &a.plan, &passes) };
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
    if let Some(acc) = e.accuracy {
        println!("  accuracy of the hardware on the inputs: {acc:.4}");
    }
    if e.estimates.len() > 1 {
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
    }
    if let Some(p) = &e.report {
        println!("report: {}", p.display());
    }
    Ok(())
}
