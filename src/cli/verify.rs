//! `spikefab verify`: the reference and cycle-accurate engines side by side.

use std::path::PathBuf;

use clap::Args;
use spikefab::data;
use spikefab::driver::shard::Shard;
use spikefab::driver::{Check, Checked, EarlyExit, PlanCheck, check, check_shard};

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
    /// Check only shard I of N (0-based) of the samples and print a partial result for
    /// `spikefab merge`; `/N` takes I from $JOB_COMPLETION_INDEX or $SLURM_ARRAY_TASK_ID.
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
}

pub fn run(a: VerifyArgs) -> Result<(), Failure> {
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
    if let Some(s) = &a.shard {
        let shard = Shard::parse(s)?;
        if a.verbose {
            return Err(Failure::input(anyhow::anyhow!("--verbose prints the plan; run without --shard")));
        }
        let part = check_shard(m, &batch, labels.as_deref(), &passes, &a.plan.settings(), shard, &Bars::default())?;
        return super::merge::write_part(&super::merge::Part::Verify { part });
    }
    let c = check(m, &batch, labels.as_deref(), &passes, &a.plan.settings(), &Bars::default())?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&c.json()).expect("json"));
    } else {
        print_check(&c, a.verbose);
    }
    match c.failure() {
        Some(msg) => Err(Failure::check(msg)),
        None => Ok(()),
    }
}

/// Prints a check as text.
fn print_check(c: &Check, verbose: bool) {
    let steps = c.steps;
    match &c.checked {
        Checked::Chip { verification: v, target, notes, chip_steps } => {
            for n in notes {
                println!("note: {n}");
            }
            println!("samples: {}, timesteps: {steps} (the chip runs {chip_steps})", c.samples);
            println!("output spike agreement (aligned steps): {:.4}", v.output_agreement);
            println!("class agreement: {:.4}", v.class_agreement);
            if let (Some(ra), Some(ca)) = (v.reference_accuracy, v.chip_accuracy) {
                println!("accuracy: reference {ra:.4}, {target} {ca:.4}");
            }
        }
        Checked::Plan { plan, check } => {
            if verbose {
                print_records(&c.records);
                print_plan(plan);
                println!();
            }
            print_plan_check(check);
        }
    }
}

/// Prints a plan's check as text (also what `merge` prints for sharded parts).
pub fn print_plan_check(c: &PlanCheck) {
    let v = c.verification();
    println!("samples: {}, timesteps: {}", v.samples, c.steps);
    for l in &c.layer_lines {
        println!("{l}");
    }
    println!(
        "{} agreement: {:.4} ({} differ)",
        if c.spikes { "spike" } else { "output" },
        v.output_agreement,
        v.output_elements_differing,
    );
    println!("class agreement: {:.4}", v.class_agreement);
    if let (Some(ra), Some(ca)) = (v.reference_accuracy, v.cycle_accuracy) {
        println!("accuracy: reference {ra:.4}, cycle engine {ca:.4}");
    }
    println!(
        "cycles per inference: mean {:.1}, min {}, max {}; latency {:.1} us at {} MHz",
        v.cycles_mean, v.cycles_min, v.cycles_max, v.latency_us_mean, c.clock_mhz
    );
    if v.saturations > 0 {
        println!("saturated writes: {}", v.saturations);
    }
    if let Some(e) = c.exit() {
        print_early_exit(&e, c.steps);
    }
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
