//! `spikefab verify`: the reference engine and the hardware (the cycle engine on the FPGA
//! plan, or a chip's own model) side by side.

use clap::Args;
use spikefab::driver::shard::Shard;
use spikefab::driver::{Check, Checked, StudentMask, check_masked, check_shard_masked};

use super::bars::Bars;
use super::failure::Failure;
use super::part::{Part, write_part};
use super::print::{print_plan, print_plan_check, print_records};
use super::run_args::RunArgs;

#[derive(Args, Debug)]
pub struct VerifyArgs {
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    mask: StudentMask,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Also print the plan and what the passes changed.
    #[arg(short, long)]
    verbose: bool,
    /// Check only shard I of N (0-based) of the checked samples and print a partial result for
    /// `spikefab merge`; `/N` takes I from $JOB_COMPLETION_INDEX or $SLURM_ARRAY_TASK_ID.
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
}

pub fn run(a: VerifyArgs) -> Result<(), Failure> {
    let loaded = a.run.load()?;
    let job = a.run.job(&loaded);
    if let Some(s) = &a.shard {
        let shard = Shard::parse(s)?;
        if a.verbose {
            return Err(Failure::input(anyhow::anyhow!("--verbose prints the plan; run without --shard")));
        }
        let part = check_shard_masked(&job, shard, &a.mask, &Bars::default())?;
        return write_part(&Part::Verify { part });
    }
    let c = check_masked(&job, &a.mask, &Bars::default())?;
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
