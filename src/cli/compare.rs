//! `spikefab compare`: one student on every target, one row per target (fits or why not,
//! accuracy and agreement, latency, energy, resources), as text, JSON or an HTML report.

use clap::Args;
use spikefab::driver::shard::Shard;
use spikefab::driver::{CompareSettings, compare, compare_shard};

use super::bars::Bars;
use super::failure::Failure;
use super::part::{Part, write_part};
use super::print::print_comparison;
use super::run_args::RunArgs;

#[derive(Args, Debug)]
pub struct CompareArgs {
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    settings: CompareSettings,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Compare only shard I of N (0-based) of the targets and print a partial result for
    /// `spikefab merge`; `/N` takes I from $JOB_COMPLETION_INDEX or $SLURM_ARRAY_TASK_ID.
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
}

pub fn run(a: CompareArgs) -> Result<(), Failure> {
    let loaded = a.run.load()?;
    let job = a.run.job(&loaded);
    if let Some(s) = &a.shard {
        if a.settings.report.is_some() {
            return Err(Failure::input(anyhow::anyhow!("--report needs the whole table: give it to `merge`")));
        }
        let part = compare_shard(&job, &a.settings, Shard::parse(s)?, &Bars::default())?;
        return write_part(&Part::Compare { part });
    }
    let c = compare(&job, &a.settings, &Bars::default())?;
    if let Some(p) = &a.settings.report {
        std::fs::write(p, c.html())
            .map_err(|e| Failure::io(anyhow::anyhow!("{}: cannot write the report: {e}", p.display())))?;
    }
    print_comparison(&c, a.json);
    if !a.json
        && let Some(p) = &a.settings.report
    {
        println!("report: {}", p.display());
    }
    if c.any_fits() { Ok(()) } else { Err(Failure::check("no target fits the model")) }
}
