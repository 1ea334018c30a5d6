//! `spikefab simulate`: run the reference engine on a batch.

use std::path::PathBuf;

use clap::Args;
use spikefab::data;
use spikefab::driver::{SimulateOptions, VcdSettings, simulate};

use super::passes::{PassArgs, print_records};
use super::{Bars, Failure, ModelArgs, PlanArgs};

super::cli_enum! {
    /// Which engine runs the model.
    Engine => spikefab::driver::Engine {
    /// Floating point, what the training framework computes.
    Reference,
    /// The hardware in integers: the FPGA plan cycle by cycle (bit-exact with the RTL), or on a
    /// chip target the chip's own integer model (bit-exact with the vendor's simulator).
    Cycle,
    }
}

#[derive(Args, Debug)]
pub struct SimulateArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Engine.
    #[arg(long, value_enum, default_value = "reference")]
    engine: Engine,
    #[command(flatten)]
    plan: PlanArgs,
    #[command(flatten)]
    passes: PassArgs,
    /// Print what the passes changed.
    #[arg(short, long)]
    verbose: bool,
    /// Write a VCD waveform (GTKWave) of one sample on the cycle engine.
    #[arg(long, value_name = "FILE")]
    vcd: Option<PathBuf>,
    /// Sample traced by --vcd.
    #[arg(long, default_value_t = 0)]
    vcd_sample: usize,
    /// Neurons traced per layer by --vcd.
    #[arg(long, default_value_t = 32)]
    vcd_neurons: usize,
    /// Inputs (.npy): N x input_shape (same input every step) or N x T x input_shape.
    #[arg(long)]
    inputs: PathBuf,
    /// Class labels (.npy, N integers) to report accuracy.
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Write the Output node's values per step (.npy, N x T x output_shape).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Output node to report when the model has several.
    #[arg(long)]
    output: Option<String>,
    /// Compute in f64 instead of f32.
    #[arg(long)]
    f64: bool,
    /// Simulate only the first N samples.
    #[arg(long)]
    samples: Option<usize>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(a: SimulateArgs) -> Result<(), Failure> {
    let m = a.model.load()?;
    let mut batch = a.model.inputs(&m, &a.inputs)?;
    if let Some(n) = a.samples {
        batch = batch.take(n);
    }
    let labels = match &a.labels {
        Some(p) => Some(data::load_labels(p, batch.n).map_err(Failure::input)?),
        None => None,
    };
    let passes = a.passes.settings(&m, &a.model)?;
    let o = SimulateOptions {
        engine: a.engine.into(),
        f64: a.f64,
        output: a.output.clone(),
        vcd: a.vcd.clone().map(|path| VcdSettings { path, sample: a.vcd_sample, neurons: a.vcd_neurons }),
    };
    let s = simulate(m, &batch, labels.as_deref(), &passes, &a.plan.settings(), &o, &Bars::default())?;
    if let Some(p) = &a.out {
        s.outputs.write_npy(p).map_err(Failure::input)?;
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&s.json()).expect("json value"));
    } else {
        match a.engine {
            Engine::Reference => println!("engine: reference ({})", if a.f64 { "f64" } else { "f32" }),
            Engine::Cycle => println!("engine: cycle-accurate ({} target)", a.plan.target),
        }
        if a.verbose {
            print_records(&s.records);
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
        if let (Some(ms), true) = (s.mean_steps, a.plan.early_exit) {
            println!("early exit: {ms:.2} of {} steps run on average", s.steps);
        }
        if let Some(v) = &a.vcd {
            println!("wrote {} (sample {}, first {} neurons per layer)", v.display(), a.vcd_sample, a.vcd_neurons);
        }
        if let Some(p) = &a.out {
            println!("wrote {}", p.display());
        }
    }
    Ok(())
}
