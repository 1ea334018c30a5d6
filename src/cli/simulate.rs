//! `spikefab simulate`: run the reference engine on a batch.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;
use spikefab::data;
use spikefab::driver::{prepare, steps_for};
use spikefab::sim::reference::{self, RunOptions};
use spikefab::target::Family;

use super::passes::{PassArgs, print_records};
use super::{Bars, Failure, ModelArgs, PlanArgs};

/// Which engine runs the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Engine {
    /// Floating point, what the training framework computes.
    Reference,
    /// The hardware in integers: the FPGA plan cycle by cycle (bit-exact with the RTL), or on a
    /// chip target the chip's own integer model (bit-exact with the vendor's simulator).
    Cycle,
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
    let steps = steps_for(&m, Some(&batch))?;
    let labels = match &a.labels {
        Some(p) => Some(data::load_labels(p, batch.n).map_err(Failure::input)?),
        None => None,
    };
    let passes = a.passes.settings(&m, &a.model)?;
    let settings = a.plan.settings();
    let prep = prepare(m, steps, &passes, &settings, Some(&batch), labels.as_deref(), &Bars::default())?;
    let steps = prep.steps;
    // The reference engine runs the cut model as the framework would; the cycle engine the
    // simplified one it is built from.
    let m = if a.engine == Engine::Reference { prep.cut.clone() } else { prep.model.clone() };
    let g = &m.graph;
    let output = g.select_output(a.output.as_deref()).map_err(Failure::input)?;
    if a.vcd.is_some() && a.engine != Engine::Cycle {
        return Err(Failure::input(anyhow::anyhow!("--vcd needs --engine cycle")));
    }
    let mut cycles_mean = None;
    let mut mean_steps = None;
    let (outputs, rates) = match a.engine {
        Engine::Reference => {
            let opts = RunOptions { steps, f64: a.f64, output };
            let r = reference::run(g, &m.info, m.dialect(), &batch, &opts, None).map_err(Failure::input)?;
            let rates: Vec<(String, f64)> = m
                .info
                .order
                .iter()
                .filter(|&&ix| g.g[ix].op.emits_spikes())
                .map(|&ix| {
                    let k = ix.index();
                    let total = (batch.n * steps * r.activity.numel[k]) as f64;
                    (g.g[ix].name.clone(), r.activity.nonzero[k] as f64 / total)
                })
                .collect();
            (r.outputs, rates)
        }
        Engine::Cycle if settings.target()?.flow() == spikefab::target::Flow::Lava => {
            // Loihi: spikefab's simulation of Lava's fixed-point CUBA neurons.
            let t = settings.target()?;
            if a.vcd.is_some() {
                return Err(Failure::input(anyhow::anyhow!(
                    "--vcd traces the FPGA plan; give an FPGA or ASIC --target"
                )));
            }
            let run = spikefab::driver::chip::loihi_run(&m, &settings, &t, steps, &batch)?;
            for n in &run.net.notes {
                eprintln!("note: {n}");
            }
            let ts = run.chip_steps();
            let rates = run
                .netx
                .layers
                .iter()
                .enumerate()
                .map(|(k, l)| {
                    let total: u64 =
                        run.records.iter().map(|r| r.spikes[k].iter().map(|&s| u64::from(s)).sum::<u64>()).sum();
                    (l.name.clone(), total as f64 / (batch.n * ts * l.neurons()) as f64)
                })
                .collect();
            (run.outputs(), rates)
        }
        Engine::Cycle if settings.target()?.family == Family::Xylo => {
            // A chip target: its own integer model (spikefab's simulation of Xylo).
            let t = settings.target()?;
            if a.vcd.is_some() {
                return Err(Failure::input(anyhow::anyhow!(
                    "--vcd traces the FPGA plan; give an FPGA or ASIC --target"
                )));
            }
            let run = spikefab::driver::chip::xylo_run(&m, &settings, &t, steps, &batch)?;
            for n in &run.net.notes {
                eprintln!("note: {n}");
            }
            let ts = run.chip_steps();
            let rates = run
                .spec
                .places
                .iter()
                .map(|p| {
                    let nh = run.spec.n_hidden;
                    let total: u64 = run
                        .records
                        .iter()
                        .map(|r| {
                            if p.population == "output" {
                                r.out_spikes.iter().map(|&s| u64::from(s)).sum::<u64>()
                            } else {
                                r.spikes
                                    .chunks(nh)
                                    .map(|row| {
                                        row[p.first..p.first + p.neurons].iter().map(|&s| u64::from(s)).sum::<u64>()
                                    })
                                    .sum()
                            }
                        })
                        .sum();
                    (p.layer.clone(), total as f64 / (batch.n * ts * p.neurons) as f64)
                })
                .collect();
            (run.outputs(), rates)
        }
        Engine::Cycle => {
            let plan = settings.plan(&m, steps, Some(&batch))?;
            let c = spikefab::sim::cycle::run(&plan, &batch, steps);
            let rates = plan
                .layers
                .iter()
                .zip(&c.total.layers)
                .filter(|(l, _)| l.spiking())
                .map(|(l, lc)| (l.name.clone(), lc.spikes as f64 / (batch.n * steps * l.neurons()) as f64))
                .collect();
            cycles_mean = Some(c.total.cycles as f64 / batch.n as f64);
            mean_steps = Some(c.total.steps_run as f64 / batch.n as f64);
            if let Some(path) = &a.vcd {
                if a.vcd_sample >= batch.n {
                    return Err(Failure::input(anyhow::anyhow!(
                        "--vcd-sample {} but there are {} samples",
                        a.vcd_sample,
                        batch.n
                    )));
                }
                spikefab::sim::vcd::write(&plan, &batch, a.vcd_sample, steps, a.vcd_neurons, path)
                    .map_err(|e| Failure::input(anyhow::anyhow!("{}: {e}", path.display())))?;
            }
            (c.outputs, rates)
        }
    };
    if let Some(p) = &a.out {
        outputs.write_npy(p).map_err(Failure::input)?;
    }
    let classes = outputs.classes();
    let accuracy = labels.as_ref().map(|l| data::agreement(&classes, l));
    if a.json {
        let v = json!({
            "model": m.path.display().to_string(),
            "engine": match a.engine { Engine::Reference => "reference", Engine::Cycle => "cycle" },
            "precision": if a.engine == Engine::Cycle { "plan integers" } else if a.f64 { "f64" } else { "f32" },
            "cycles_per_inference": cycles_mean,
            "mean_steps": mean_steps,
            "dialect": m.dialect(),
            "samples": batch.n,
            "timesteps": steps,
            "spike_rates": rates.iter().map(|(n, r)| json!({"node": n, "rate": r})).collect::<Vec<_>>(),
            "classes": classes,
            "accuracy": accuracy,
            "passes": prep.records,
        });
        println!("{}", serde_json::to_string_pretty(&v).expect("json value"));
    } else {
        match a.engine {
            Engine::Reference => println!("engine: reference ({})", if a.f64 { "f64" } else { "f32" }),
            Engine::Cycle => println!("engine: cycle-accurate ({} target)", a.plan.target),
        }
        if a.verbose {
            print_records(&prep.records);
        }
        println!("dialect: {}", m.dialect().describe());
        println!("samples: {}", batch.n);
        println!("timesteps: {steps}");
        println!("spike rates (spikes per neuron per step):");
        let w = rates.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
        for (n, r) in &rates {
            println!("  {n}{}  {r:.4}", " ".repeat(w - n.len()));
        }
        if let Some(acc) = accuracy {
            println!("accuracy: {acc:.4}");
        }
        if let Some(c) = cycles_mean {
            println!("cycles per inference: {c:.1}");
        }
        if let (Some(ms), true) = (mean_steps, a.plan.early_exit) {
            println!("early exit: {ms:.2} of {steps} steps run on average");
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
