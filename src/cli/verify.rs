//! `spikefab verify`: the reference and cycle-accurate engines side by side.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;
use spikefab::data;
use spikefab::sim::{cycle, reference};

use super::passes::{PassArgs, prepare, print_records};
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
    #[command(flatten)]
    passes: PassArgs,
    /// Verify only the first N samples.
    #[arg(long)]
    samples: Option<usize>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Also print the plan and what the passes changed.
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
        Some(p) => Some(data::load_labels(p, batch.n).map_err(Failure::input)?),
        None => None,
    };
    let prep = prepare(m, steps, &a.passes, &a.plan, Some(&batch), labels.as_deref())?;
    let (steps, m) = (prep.steps, &prep.model);
    let min_agreement = a.passes.min_agreement();
    let plan = a.plan.plan(m, steps, Some(&batch))?;
    // The reference runs the cut model unsimplified: the comparison covers the
    // simplifications and the lowering.
    let rm = &prep.cut;
    let output = rm.graph.select_output(None).map_err(Failure::input)?;
    let r = reference::run(
        &rm.graph,
        &rm.info,
        rm.dialect(),
        &batch,
        &reference::RunOptions { steps, f64: false, output },
        None,
    )
    .map_err(Failure::input)?;
    let c = cycle::run(&plan, &batch, steps);
    let exit = early_exit_check(&plan, &batch, steps, &c);
    let rc = r.outputs.classes();
    let cc = c.outputs.classes();
    let class_agreement = data::agreement(&rc, &cc);
    let spikes = r.outputs.spikes;
    // Compare the steps the hardware ran (all T, or up to an early exit).
    let per_step = r.outputs.numel;
    let (mut differing, mut compared) = (0usize, 0usize);
    for (i, s) in c.samples.iter().enumerate() {
        let run = (s.counters.steps_run as usize).min(steps);
        let base = i * steps * per_step;
        let (x, y) = (&r.outputs.data[base..base + run * per_step], &c.outputs.data[base..base + run * per_step]);
        differing += x.iter().zip(y).filter(|(a, b)| a != b).count();
        compared += run * per_step;
    }
    let spike_agreement = 1.0 - differing as f64 / compared.max(1) as f64;
    let acc = |cls: &[usize]| labels.as_ref().map(|l| data::agreement(cls, l));
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
            "min_agreement": min_agreement,
            "pass": class_agreement >= min_agreement && exit.as_ref().is_none_or(|e| e.changed == 0),
            "early_exit": exit,
            "passes": prep.records,
        });
        println!("{}", serde_json::to_string_pretty(&v).expect("json"));
    } else {
        if a.verbose {
            print_records(&prep.records);
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
            compared
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
        if let Some(e) = &exit {
            print_early_exit(e, steps);
        }
    }
    if let Some(e) = &exit
        && e.changed > 0
    {
        return Err(Failure::check(format!("early exit changed the class of {} inputs", e.changed)));
    }
    if class_agreement < min_agreement {
        return Err(Failure::check(format!(
            "class agreement {class_agreement:.4} is below --min-agreement {min_agreement}"
        )));
    }
    Ok(())
}

/// Early exit against running every step, on the same inputs.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct EarlyExit {
    /// Steps run per inference, mean.
    pub mean_steps: f64,
    /// Cycles per inference with and without early exit, mean.
    pub cycles: f64,
    pub cycles_full: f64,
    /// Inputs whose class differs from running all T steps (must be 0).
    pub changed: usize,
}

/// With early exit on, runs the plan without it and compares classes and cycles.
pub fn early_exit_check(
    plan: &spikefab::hw::Plan,
    batch: &spikefab::data::InputBatch,
    steps: usize,
    run: &cycle::BatchResult,
) -> Option<EarlyExit> {
    if !plan.early_exit {
        return None;
    }
    let mut full = plan.clone();
    full.early_exit = false;
    let f = cycle::run(&full, batch, steps);
    let n = batch.n.max(1) as f64;
    let (a, b) = (run.outputs.classes(), f.outputs.classes());
    Some(EarlyExit {
        mean_steps: run.total.steps_run as f64 / n,
        cycles: run.total.cycles as f64 / n,
        cycles_full: f.total.cycles as f64 / n,
        changed: a.iter().zip(&b).filter(|(x, y)| x != y).count(),
    })
}

pub fn print_early_exit(e: &EarlyExit, steps: usize) {
    println!(
        "early exit: {:.2} of {steps} steps on average, {:.1} cycles vs {:.1} without ({:.1}% saved), {} classes changed",
        e.mean_steps,
        e.cycles,
        e.cycles_full,
        100.0 * (1.0 - e.cycles / e.cycles_full.max(1.0)),
        e.changed
    );
}
