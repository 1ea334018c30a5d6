//! `spikefab energy`: energy per inference from the cycle engine's counters and a target's
//! constants, with the conventional network's cost beside it.

use std::path::PathBuf;

use clap::Args;
use spikefab::data;
use spikefab::driver::energy;
use spikefab::energy::Estimate;
use spikefab::energy::neurobench::Counts;

use super::passes::{PassArgs, print_records};
use super::{Bars, Failure, ModelArgs, PlanArgs};

#[derive(Args, Debug)]
pub struct EnergyArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    plan: PlanArgs,
    #[command(flatten)]
    passes: PassArgs,
    /// Print what the passes changed.
    #[arg(short, long)]
    verbose: bool,
    /// Inputs (.npy) the estimate averages over (also the calibration data).
    #[arg(long)]
    inputs: PathBuf,
    /// More targets to compare, comma-separated (e.g. loihi,truenorth,generic-45nm).
    #[arg(long, value_delimiter = ',')]
    compare: Vec<String>,
    /// Labels (.npy, N integers): report the hardware plan's accuracy.
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Write a self-contained HTML report (charts as inline SVG) to this file.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// The sample whose spike raster the report shows.
    #[arg(long, default_value_t = 0)]
    raster_sample: usize,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// `1.23 uJ`-style formatting.
pub fn fmt_j(j: f64) -> String {
    let a = j.abs();
    let (v, u) = if a >= 1e-3 {
        (j * 1e3, "mJ")
    } else if a >= 1e-6 {
        (j * 1e6, "uJ")
    } else if a >= 1e-9 {
        (j * 1e9, "nJ")
    } else {
        (j * 1e12, "pJ")
    };
    format!("{v:.3} {u}")
}

/// Prints one estimate as text.
pub fn print_estimate(e: &Estimate) {
    println!("energy on {} ({}), {} inputs:", e.target, e.kind, e.samples);
    println!(
        "  energy per inference: {} (min {}, max {}, std {})",
        fmt_j(e.energy_per_inference_j),
        fmt_j(e.energy_min_j),
        fmt_j(e.energy_max_j),
        fmt_j(e.energy_std_j)
    );
    if let Some(l) = e.latency_s {
        println!("  latency: {:.1} us ({:.1} cycles)", l * 1e6, e.cycles);
    }
    if let Some(s) = &e.schedule {
        println!("  schedule: {s}");
    }
    let total = e.energy_per_inference_j.max(f64::MIN_POSITIVE);
    let parts: Vec<String> = e
        .components
        .iter()
        .filter(|c| c.joules > 0.0)
        .map(|c| format!("{} {} ({:.1}%)", c.name, fmt_j(c.joules), 100.0 * c.joules / total))
        .collect();
    println!("  components: {}", parts.join(", "));
    println!("  per layer:");
    for l in &e.layers {
        println!(
            "    {:<18} {:>12.0} synaptic ops {:>10.0} neuron updates {:>8.0} spikes  {}",
            l.name,
            l.synaptic_ops,
            l.neuron_updates,
            l.spikes,
            fmt_j(l.total_j)
        );
    }
    println!(
        "  conventional network (same topology, once): {} MACs, {} adds: fp32 {}, int8 {};",
        e.ann.macs,
        e.ann.adds,
        fmt_j(e.ann.fp32_j),
        fmt_j(e.ann.int8_j),
    );
    println!(
        "    against the SNN's operation energy {} (without static and clock): fp32 ANN / SNN = {:.2}x, int8 ANN / SNN = {:.2}x",
        fmt_j(e.operations_j),
        e.ann_fp32_over_snn,
        e.ann_int8_over_snn
    );
}

/// Prints NeuroBench-compatible counts as text.
pub fn print_counts(c: &Counts) {
    println!(
        "  NeuroBench counts (reference engine, per sample): effective ACs {:.1}, effective MACs {:.1}, dense ops {:.0}, \
         membrane updates {:.1}, activation sparsity {:.4}, footprint {} bytes",
        c.effective_acs, c.effective_macs, c.dense_ops, c.membrane_updates, c.activation_sparsity, c.footprint_bytes
    );
}

pub fn run(a: EnergyArgs) -> Result<(), Failure> {
    let m = a.model.load()?;
    let batch = a.model.inputs(&m, &a.inputs)?;
    let labels = match &a.labels {
        Some(p) => Some(data::load_labels(p, batch.n).map_err(Failure::input)?),
        None => None,
    };
    let passes = a.passes.settings(&m, &a.model)?;
    let report = a.report.clone().map(|p| (p, a.raster_sample));
    let e = energy(m, &batch, labels.as_deref(), &passes, &a.plan.settings(), &a.compare, report, &Bars::default())?;
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
        println!("  accuracy of the hardware plan on the inputs: {:.4}", acc);
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
    if let Some(p) = &a.report {
        println!("report: {}", p.display());
    }
    Ok(())
}
