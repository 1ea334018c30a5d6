//! `spikefab verify`: the reference and cycle-accurate engines side by side.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;
use spikefab::data;
use spikefab::driver::{EarlyExit, early_exit_check, prepare, steps_for, verify};
use spikefab::target::Family;

use super::passes::{PassArgs, print_records};
use super::plan::print_plan;
use super::{Bars, Failure, ModelArgs, PlanArgs};

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
    let progress = Bars::default();
    let prep = prepare(m, steps, &passes, &settings, Some(&batch), labels.as_deref(), &progress)?;
    let (steps, m) = (prep.steps, &prep.model);
    let min_agreement = passes.min_agreement();
    let target = settings.target()?;
    let chip = if target.flow() == spikefab::target::Flow::Lava {
        let run = spikefab::driver::chip::loihi_run(m, &settings, &target, steps, &batch)?;
        let v = spikefab::driver::chip::verify_outputs(
            &prep.cut,
            steps,
            &run.outputs(),
            &batch,
            labels.as_deref(),
            &progress,
        )?;
        Some((v, run.net.notes.clone(), run.chip_steps()))
    } else if target.family == Family::Xylo {
        let run = spikefab::driver::chip::xylo_run(m, &settings, &target, steps, &batch)?;
        let v = spikefab::driver::chip::verify_xylo(&prep.cut, &run, &batch, labels.as_deref(), &progress)?;
        Some((v, run.net.notes.clone(), run.chip_steps()))
    } else {
        None
    };
    if let Some((v, notes, chip_steps)) = chip {
        if a.json {
            let mut j = serde_json::to_value(&v).expect("plain data");
            j["target"] = json!(target.name);
            j["notes"] = json!(notes);
            j["min_agreement"] = json!(min_agreement);
            j["pass"] = json!(v.class_agreement >= min_agreement);
            println!("{}", serde_json::to_string_pretty(&j).expect("plain data"));
        } else {
            for n in &notes {
                println!("note: {n}");
            }
            println!("samples: {}, timesteps: {steps} (the chip runs {chip_steps})", batch.n);
            println!("output spike agreement (aligned steps): {:.4}", v.output_agreement);
            println!("class agreement: {:.4}", v.class_agreement);
            if let (Some(ra), Some(ca)) = (v.reference_accuracy, v.chip_accuracy) {
                println!("accuracy: reference {ra:.4}, {} {ca:.4}", target.name);
            }
        }
        if v.class_agreement < min_agreement {
            return Err(Failure::check(format!(
                "class agreement {:.4} is below --min-agreement {min_agreement}",
                v.class_agreement
            )));
        }
        return Ok(());
    }
    let plan = settings.plan(m, steps, Some(&batch))?;
    // The reference runs the cut model unsimplified: the comparison covers the
    // simplifications and the lowering.
    let (v, r, c) = verify(&prep.cut, &plan, &batch, steps, labels.as_deref(), None, &progress)?;
    let exit = early_exit_check(&plan, &batch, steps, &c);
    let spikes = r.outputs.spikes;
    let class_agreement = v.class_agreement;
    if a.json {
        let v = json!({
            "model": m.path.display().to_string(),
            "samples": batch.n,
            "timesteps": steps,
            "class_agreement": v.class_agreement,
            "output_agreement": v.output_agreement,
            "output_elements_differing": v.output_elements_differing,
            "reference_accuracy": v.reference_accuracy,
            "cycle_accuracy": v.cycle_accuracy,
            "cycles_mean": v.cycles_mean,
            "cycles_min": v.cycles_min,
            "cycles_max": v.cycles_max,
            "latency_us_mean": v.latency_us_mean,
            "saturations": v.saturations,
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
            "{} agreement: {:.4} ({} differ)",
            if spikes { "spike" } else { "output" },
            v.output_agreement,
            v.output_elements_differing,
        );
        println!("class agreement: {class_agreement:.4}");
        if let (Some(ra), Some(ca)) = (v.reference_accuracy, v.cycle_accuracy) {
            println!("accuracy: reference {ra:.4}, cycle engine {ca:.4}");
        }
        println!(
            "cycles per inference: mean {:.1}, min {}, max {}; latency {:.1} us at {} MHz",
            v.cycles_mean, v.cycles_min, v.cycles_max, v.latency_us_mean, plan.clock_mhz
        );
        if v.saturations > 0 {
            println!("saturated writes: {}", v.saturations);
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
