//! `spikefab explore`: the accuracy-energy-latency trade-off of a student's cuts (students
//! kept, timesteps, early exit, lanes), measured on calibration data with the cycle engine.

use std::path::PathBuf;

use clap::Args;
use spikefab::data;
use spikefab::driver::shard::Shard;
use spikefab::driver::{Explored, config_label, explore, explore_shard, students_label};
use spikefab::passes::select;

use super::{Bars, Failure, ModelArgs, PlanArgs};

#[derive(Args, Debug)]
pub struct ExploreArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    plan: PlanArgs,
    /// Calibration inputs (.npy).
    #[arg(long)]
    calib: PathBuf,
    /// Labels (.npy) of the calibration inputs: rank by accuracy (else by class agreement
    /// with the uncut model at full T).
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Lane counts to sweep, comma-separated [default: the target's].
    #[arg(long = "lanes-sweep", value_delimiter = ',', value_name = "L")]
    lanes_sweep: Vec<usize>,
    /// Skip the simplification passes.
    #[arg(long)]
    no_simplify: bool,
    /// Print every configuration, not only the Pareto front.
    #[arg(long)]
    all: bool,
    /// Write the whole exploration as JSON to this file.
    #[arg(short, long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Write the HTML report (with the accuracy-energy plot) to this file.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Measure only shard I of N (0-based) of the configurations and print a partial result for
    /// `spikefab merge`; `/N` takes I from $JOB_COMPLETION_INDEX or $SLURM_ARRAY_TASK_ID.
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
}

fn pct(x: f64) -> String {
    format!("{:.2}%", 100.0 * x)
}

pub fn run(a: ExploreArgs) -> Result<(), Failure> {
    let m = a.model.load()?;
    let batch = a.model.inputs(&m, &a.calib)?;
    let labels = match &a.labels {
        Some(p) => Some(data::load_labels(p, batch.n).map_err(Failure::input)?),
        None => None,
    };
    let settings = a.plan.settings();
    if let Some(s) = &a.shard {
        let shard = Shard::parse(s)?;
        if a.out.is_some() || a.report.is_some() {
            return Err(Failure::input(anyhow::anyhow!(
                "--out and --report need the whole exploration: give them to `merge`"
            )));
        }
        let (lanes, no_simplify) = (&a.lanes_sweep, a.no_simplify);
        let part = explore_shard(m, &batch, labels.as_deref(), &settings, lanes, no_simplify, shard, &Bars::default())?;
        return super::merge::write_part(&super::merge::Part::Explore { part, all: a.all });
    }
    let e = explore(
        m,
        &batch,
        labels.as_deref(),
        &settings,
        &a.lanes_sweep,
        a.no_simplify,
        a.report.as_deref(),
        &Bars::default(),
    )?;
    let doc = e.json();
    if let Some(p) = &a.out {
        std::fs::write(p, serde_json::to_string_pretty(&doc).expect("json") + "\n")
            .map_err(|e| Failure::input(anyhow::anyhow!("{}: cannot write: {e}", p.display())))?;
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&doc).expect("json"));
        return Ok(());
    }
    print_exploration(&e, a.all);
    if let Some(p) = &a.out {
        println!("wrote {}", p.display());
    }
    if let Some(p) = &a.report {
        println!("report: {}", p.display());
    }
    Ok(())
}

/// Prints an exploration as text: the K sweep of an ensemble, then the Pareto front (or every
/// configuration with `all`).
pub fn print_exploration(e: &Explored, all: bool) {
    let x = &e.exploration;
    println!(
        "explored {} configurations of {} on {} calibration inputs ({} target) in {:.2} s; ranked by {}",
        x.configurations.len(),
        e.model,
        x.samples,
        e.target,
        e.seconds,
        x.metric
    );
    if let Some(e) = &x.ensemble {
        println!(
            "\nensemble at '{}': {} students; best K against SNE's random K (mean over {} subsets), T = {}:",
            e.merge,
            e.students.len(),
            if e.students.len() <= select::EXHAUSTIVE_MAX { "all" } else { "32 sampled" },
            x.timesteps
        );
        println!(
            "  {:>2}  {:<24} {:>9}  {:>12}  {:>10}  {:>12}  {:>12}",
            "K", "best students", x.metric, "random mean", "random min", "energy best", "energy rand."
        );
        for r in &x.k_sweep {
            println!(
                "  {:>2}  {:<24} {:>9}  {:>12}  {:>10}  {:>10.1} nJ  {:>10.1} nJ",
                r.k,
                students_label(x, &r.best),
                pct(r.best.metric()),
                pct(r.random_mean),
                pct(r.random_min),
                r.best.energy_j * 1e9,
                r.random_energy_j * 1e9
            );
        }
    }
    println!(
        "\n{}:",
        if all { "every configuration (* = on the Pareto front)" } else { "Pareto front (accuracy against energy)" }
    );
    println!(
        "  {:<30} {:>9} {:>9} {:>12} {:>10} {:>11} {:>6} {:>6} {:>10}",
        "configuration", x.metric, "agreement", "energy/inf", "cycles", "latency", "steps", "BRAM", "schedule"
    );
    for (s, &p) in x.configurations.iter().zip(&x.pareto) {
        if !all && !p {
            continue;
        }
        println!(
            "{} {:<30} {:>9} {:>9} {:>9.1} nJ {:>10.0} {:>11} {:>6.2} {:>6} {:>10}",
            if p { "*" } else { " " },
            config_label(x, s),
            pct(s.metric()),
            pct(s.agreement),
            s.energy_j * 1e9,
            s.cycles,
            s.latency_s.map(|l| format!("{:.1} us", l * 1e6)).unwrap_or_else(|| "-".into()),
            s.mean_steps,
            s.block_rams,
            s.schedule.name()
        );
    }
}
