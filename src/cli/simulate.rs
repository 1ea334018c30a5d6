//! `spikefab simulate`: run a model on the reference engine (what the framework computes) or
//! on the hardware's integers (`--engine cycle`).

use std::path::PathBuf;

use clap::Args;
use spikefab::driver::{Engine, SimulateOptions, simulate};

use super::bars::Bars;
use super::failure::Failure;
use super::print::print_records;
use super::run_args::RunArgs;

#[derive(Args, Debug)]
pub struct SimulateArgs {
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    options: SimulateOptions,
    /// Print what the passes changed.
    #[arg(short, long)]
    verbose: bool,
    /// Write the Output node's values per step (.npy, N x T x output_shape).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(a: SimulateArgs) -> Result<(), Failure> {
    let loaded = a.run.load()?;
    let job = a.run.job(&loaded);
    let o = &a.options;
    let s = simulate(&job, o, &Bars::default())?;
    if let Some(p) = &a.out {
        s.outputs.write_npy(p).map_err(Failure::io)?;
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&s.json()).expect("json value"));
        return Ok(());
    }
    match o.engine {
        Engine::Reference => println!("engine: reference ({})", if o.f64 { "f64" } else { "f32" }),
        Engine::Cycle => println!("engine: cycle-accurate ({} target)", a.run.on.plan.target),
    }
    if a.verbose {
        print_records(&s.records);
    }
    for n in &s.notes {
        println!("note: {n}");
    }
    println!("dialect: {}", s.model.dialect().describe());
    println!("samples: {}", s.samples);
    println!("timesteps: {}", s.steps);
    println!("spike rates (spikes per neuron per step):");
    let w = s.rates.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    for (n, r) in &s.rates {
        println!("  {n}{}  {r:.4}", " ".repeat(w - n.len()));
    }
    if let Some(acc) = s.accuracy {
        println!("accuracy: {acc:.4}");
    }
    if let Some(c) = s.cycles_mean {
        println!("cycles per inference: {c:.1}");
    }
    if let (Some(ms), true) = (s.mean_steps, a.run.on.plan.early_exit) {
        println!("early exit: {ms:.2} of {} steps run on average", s.steps);
    }
    if let (Some(m), Some(k)) = (s.cascade, s.students_mean) {
        println!("cascade (margin {m}, order {}): {k:.2} students run on average", s.cascade_order.join(", "));
    }
    if let Some(v) = &o.vcd {
        println!("wrote {} (sample {}, first {} neurons per layer)", v.display(), o.vcd_sample, o.vcd_neurons);
    }
    if let Some(p) = &a.out {
        println!("wrote {}", p.display());
    }
    Ok(())
}
