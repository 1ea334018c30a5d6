//! `spikefab energy`: energy per inference from the cycle engine's counters and a target's
//! constants, with the conventional network's cost beside it.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;
use spikefab::Model;
use spikefab::data::{self, InputBatch};
use spikefab::driver::{html_report, prepare, steps_for};
use spikefab::energy::neurobench::{self, Counts};
use spikefab::energy::{self, Estimate};
use spikefab::sim::cycle;
use spikefab::target::Family;

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

/// NeuroBench-compatible counts of the model on `batch` (reference engine).
pub fn counts(m: &Model, batch: &InputBatch, steps: usize) -> Result<Counts, Failure> {
    neurobench::count(&m.graph, &m.info, m.dialect(), batch, steps).map_err(Failure::input)
}

pub fn run(a: EnergyArgs) -> Result<(), Failure> {
    let m = a.model.load()?;
    let batch = a.model.inputs(&m, &a.inputs)?;
    let steps = steps_for(&m, Some(&batch))?;
    let labels = match &a.labels {
        Some(p) => Some(data::load_labels(p, batch.n).map_err(Failure::input)?),
        None => None,
    };
    let passes = a.passes.settings(&m, &a.model)?;
    let settings = a.plan.settings();
    let prep = prepare(m, steps, &passes, &settings, Some(&batch), labels.as_deref(), &Bars::default())?;
    let (steps, m) = (prep.steps, &prep.model);
    let mut targets = vec![a.plan.target.clone()];
    targets.extend(a.compare.iter().cloned());
    let mut estimates = vec![];
    let mut main = None;
    let mut chip_classes = None;
    for name in &targets {
        let t = settings.target_named(name)?;
        let mut pa = settings.clone();
        pa.target = name.clone();
        if t.flow() == spikefab::target::Flow::Lava {
            // Loihi: the operations its chip model counts, priced per operation.
            let run = spikefab::driver::chip::loihi_run(m, &pa, &t, steps, &batch)?;
            if estimates.is_empty() {
                chip_classes = Some(run.outputs().classes());
            }
            estimates.push(spikefab::driver::chip::loihi_estimate(&run, &t));
            continue;
        }
        if t.family == Family::Xylo {
            // The chip's own model: its energy is its published power over the run.
            let run = spikefab::driver::chip::xylo_run(m, &pa, &t, steps, &batch)?;
            let est = spikefab::driver::chip::xylo_estimate(&run, &t)
                .ok_or_else(|| Failure::input(anyhow::anyhow!("target '{}' publishes no power", t.name)))?;
            if estimates.is_empty() {
                chip_classes = Some(run.outputs().classes());
            }
            estimates.push(est);
            continue;
        }
        let plan = pa.plan(m, steps, Some(&batch))?;
        let run = cycle::run(&plan, &batch, steps);
        estimates.push(energy::estimate(&plan, &t, &run));
        if main.is_none() {
            main = Some((plan, run));
        }
    }
    let counts = counts(&prep.cut, &batch, steps)?;
    if let Some(classes) = chip_classes {
        // A chip target first: no FPGA plan to draw the HTML report from.
        if a.report.is_some() {
            return Err(Failure::input(anyhow::anyhow!("--report draws an FPGA plan; give an FPGA or ASIC --target")));
        }
        let accuracy = labels.as_ref().map(|l| data::agreement(&classes, l));
        return print_energy(&a, m, steps, &prep.records, &estimates, &counts, accuracy);
    }
    let (plan, run) = main.expect("at least one target");
    if let Some(path) = &a.report {
        let (sample, labels) = (a.raster_sample, labels.as_deref());
        html_report(
            path,
            m,
            &plan,
            &batch,
            &run,
            sample,
            labels,
            estimates.clone(),
            Some(counts.clone()),
            None,
            vec![],
        )?;
    }
    let accuracy = labels.as_ref().map(|l| data::agreement(&run.outputs.classes(), l));
    print_energy(&a, m, steps, &prep.records, &estimates, &counts, accuracy)
}

fn print_energy(
    a: &EnergyArgs,
    m: &Model,
    steps: usize,
    records: &[spikefab::passes::PassRecord],
    estimates: &[Estimate],
    counts: &Counts,
    accuracy: Option<f64>,
) -> Result<(), Failure> {
    if a.json {
        let v = json!({
            "model": m.path.display().to_string(),
            "timesteps": steps,
            "energy_per_inference_j": estimates[0].energy_per_inference_j,
            "accuracy": accuracy,
            "counts": counts,
            "passes": records,
            "estimate": estimates[0],
            "compare": &estimates[1..],
            "report": a.report.as_ref().map(|p| p.display().to_string()),
        });
        println!("{}", serde_json::to_string_pretty(&v).expect("json"));
        return Ok(());
    }
    if a.verbose {
        print_records(records);
    }
    print_estimate(&estimates[0]);
    print_counts(counts);
    if let Some(acc) = accuracy {
        println!("  accuracy of the hardware plan on the inputs: {:.4}", acc);
    }
    if estimates.len() > 1 {
        println!("\ntarget comparison (energy per inference):");
        for e in estimates {
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
