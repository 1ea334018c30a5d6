//! `spikefab explore`: the accuracy-energy-latency trade-off of a student's cuts (students
//! kept, timesteps, early exit, lanes), measured on calibration data with the cycle engine.

use std::path::PathBuf;

use clap::Args;
use spikefab::data;
use spikefab::driver::shard::Shard;
use spikefab::driver::{ExploreSettings, explore, explore_shard};
use spikefab::options::PlanSettings;

use super::bars::Bars;
use super::failure::Failure;
use super::model_args::ModelArgs;
use super::part::{Part, write_part};
use super::print::exploration_out;

#[derive(Args, Debug)]
pub struct ExploreArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    plan: PlanSettings,
    #[command(flatten)]
    settings: ExploreSettings,
    /// Calibration inputs (.npy).
    #[arg(long)]
    calib: PathBuf,
    /// Labels (.npy) of the calibration inputs: rank by accuracy (else by class agreement
    /// with the uncut model at full T).
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Print every configuration, not only the Pareto front.
    #[arg(long)]
    all: bool,
    /// Write the whole exploration as JSON to this file.
    #[arg(short, long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Measure only shard I of N (0-based) of the configurations and print a partial result for
    /// `spikefab merge`; `/N` takes I from $JOB_COMPLETION_INDEX or $SLURM_ARRAY_TASK_ID.
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
}

pub fn run(a: ExploreArgs) -> Result<(), Failure> {
    let m = a.model.load()?;
    let batch = a.model.inputs(&m, &a.calib)?;
    let labels = match &a.labels {
        Some(p) => Some(data::load_labels(p, batch.n).map_err(Failure::input)?),
        None => None,
    };
    if let Some(s) = &a.shard {
        let shard = Shard::parse(s)?;
        if a.out.is_some() || a.settings.report.is_some() {
            return Err(Failure::input(anyhow::anyhow!(
                "--out and --report need the whole exploration: give them to `merge`"
            )));
        }
        let part = explore_shard(m, &batch, labels.as_deref(), &a.plan, &a.settings, shard, &Bars::default())?;
        return write_part(&Part::Explore { part, all: a.all });
    }
    let e = explore(m, &batch, labels.as_deref(), &a.plan, &a.settings, &Bars::default())?;
    exploration_out(&e, a.out.as_deref(), a.json, a.all)?;
    if let (Some(p), false) = (&a.settings.report, a.json) {
        println!("report: {}", p.display());
    }
    Ok(())
}
