//! `spikefab verify`: the reference and cycle-accurate engines side by side.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;
use spikefab::sim::{cycle, io, reference};

use super::plan::{load_inputs, print_plan, steps_for};
use super::{Failure, ModelArgs, PlanArgs};

#[derive(Args, Debug)]
pub struct VerifyArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    plan: PlanArgs,
    /// Inputs (.npy); also the calibration data for the input range.
    #[arg(long)]
    inputs: PathBuf,
    /// Labels (.npy) to report both accuracies.
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Exit 1 when class agreement is below this.
    #[arg(long, default_value_t = 0.99)]
    min_agreement: f64,
    /// Verify only the first N samples.
    #[arg(long)]
    samples: Option<usize>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Also print the plan.
    #[arg(short, long)]
    verbose: bool,
}

pub fn run(a: VerifyArgs) -> Result<(), Failure> {
    let m = a.model.load()?;
    let mut batch = load_inputs(&m, &a.inputs)?;
    if let Some(n) = a.samples {
        batch = batch.take(n);
    }
    let steps = steps_for(&m, Some(&batch))?;
    let labels = match &a.labels {
        Some(p) => Some(io::load_labels(p, batch.n).map_err(Failure::input)?),
        None => None,
    };
    let plan = a.plan.plan(&m, steps, Some(&batch))?;
    let output = reference::select_output(&m.graph, None).map_err(Failure::input)?;
    let r = reference::run(
        &m.graph,
        &m.info,
        m.dialect(),
        &batch,
        &reference::RunOptions { steps, f64: false, output },
        None,
    )
    .map_err(Failure::input)?;
    let c = cycle::run(&plan, &batch, steps);
    let rc = r.outputs.classes();
    let cc = c.outputs.classes();
    let class_agreement = io::agreement(&rc, &cc);
    let spikes = r.outputs.spikes;
    let differing = r.outputs.data.iter().zip(&c.outputs.data).filter(|(a, b)| a != b).count();
    let spike_agreement = 1.0 - differing as f64 / r.outputs.data.len() as f64;
    let acc = |cls: &[usize]| labels.as_ref().map(|l| io::agreement(cls, l));
    let cycles = c.cycles();
    let mean = cycles.iter().sum::<u64>() as f64 / cycles.len() as f64;
    let sats = c.total.saturations();
    if a.json {
        let v = json!({
            "model": m.path.display().to_string(),
            "samples": batch.n,
            "timesteps": steps,
            "class_agreement": class_agreement,
            "output_agreement": spike_agreement,
            "output_elements_differing": differing,
            "reference_accuracy": acc(&rc),
            "cycle_accuracy": acc(&cc),
            "cycles_mean": mean,
            "cycles_min": cycles.iter().min(),
            "cycles_max": cycles.iter().max(),
            "latency_us_mean": mean / plan.clock_mhz,
            "saturations": sats,
            "plan": plan.summary(),
            "min_agreement": a.min_agreement,
            "pass": class_agreement >= a.min_agreement,
        });
        println!("{}", serde_json::to_string_pretty(&v).expect("json"));
    } else {
        if a.verbose {
            print_plan(&plan);
            println!();
        }
        println!("samples: {}, timesteps: {steps}", batch.n);
        for l in plan.summary().layers {
            println!(
                "  {:<16} V {:>2} bits{}  leak {}  threshold {}",
                l.name,
                l.v_bits,
                if l.saturate { " (saturating)" } else { "" },
                l.leak,
                l.threshold
            );
        }
        println!(
            "{} agreement: {:.4} ({} of {} differ)",
            if spikes { "spike" } else { "output" },
            spike_agreement,
            differing,
            r.outputs.data.len()
        );
        println!("class agreement: {class_agreement:.4}");
        if let (Some(ra), Some(ca)) = (acc(&rc), acc(&cc)) {
            println!("accuracy: reference {ra:.4}, cycle engine {ca:.4}");
        }
        println!(
            "cycles per inference: mean {:.1}, min {}, max {}; latency {:.1} us at {} MHz",
            mean,
            cycles.iter().min().unwrap(),
            cycles.iter().max().unwrap(),
            mean / plan.clock_mhz,
            plan.clock_mhz
        );
        if sats > 0 {
            println!("saturated writes: {sats}");
        }
    }
    if class_agreement < a.min_agreement {
        return Err(Failure::check(format!(
            "class agreement {class_agreement:.4} is below --min-agreement {}",
            a.min_agreement
        )));
    }
    Ok(())
}
