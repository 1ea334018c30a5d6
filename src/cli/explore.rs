//! `spikefab explore`: the accuracy-energy-latency trade-off of a student's cuts (students
//! kept, timesteps, early exit, lanes), measured on calibration data with the cycle engine.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use spikefab::data;
use spikefab::passes::select::{self, Evaluator, Exploration, Score};
use spikefab::passes::students;
use spikefab::report::TradeOff;
use spikefab::sim::cycle;

use spikefab::driver::{PassSettings, html_report, prepare, steps_for};

use super::energy as energy_cli;
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
}

fn pct(x: f64) -> String {
    format!("{:.2}%", 100.0 * x)
}

fn students_of(x: &Exploration, s: &Score) -> String {
    match &x.ensemble {
        Some(e) if !s.students.is_empty() => {
            s.students.iter().map(|&i| e.students[i].name.as_str()).collect::<Vec<_>>().join("+")
        }
        _ => "all".into(),
    }
}

fn config(x: &Exploration, s: &Score) -> String {
    format!(
        "{}T={}{}{}",
        if x.ensemble.is_some() { format!("{} ", students_of(x, s)) } else { String::new() },
        s.timesteps,
        if s.early_exit { " exit" } else { "" },
        s.lanes.map(|l| format!(" L={l}")).unwrap_or_default()
    )
}

pub fn run(a: ExploreArgs) -> Result<(), Failure> {
    let t0 = Instant::now();
    let m = a.model.load()?;
    let batch = a.model.inputs(&m, &a.calib)?;
    let steps = steps_for(&m, Some(&batch))?;
    let labels = match &a.labels {
        Some(p) => Some(data::load_labels(p, batch.n).map_err(Failure::input)?),
        None => None,
    };
    if a.lanes_sweep.iter().any(|l| !l.is_power_of_two() || *l > 64) {
        return Err(Failure::input(anyhow::anyhow!("--lanes-sweep takes powers of two from 1 to 64")));
    }
    let pa = PassSettings { no_simplify: a.no_simplify, ..Default::default() };
    let settings = a.plan.settings();
    let prep = prepare(m, steps, &pa, &settings, Some(&batch), labels.as_deref(), &Bars::default())?;
    let model = &prep.model;
    let ens = students::ensembles(&model.graph, &model.info).into_iter().next();
    let opts = settings.options(steps, Some(&batch))?;
    let ev = Evaluator::new(model, opts, &batch, labels.as_deref(), steps)
        .map_err(|e| Failure::input(anyhow::anyhow!("{}: {e}", model.path.display())))?;
    let lanes: Vec<Option<usize>> =
        if a.lanes_sweep.is_empty() { vec![None] } else { a.lanes_sweep.iter().map(|&l| Some(l)).collect() };
    let x = select::explore(&ev, ens.as_ref(), &lanes)
        .map_err(|e| Failure::input(anyhow::anyhow!("{}: {e}", model.path.display())))?;
    let elapsed = t0.elapsed().as_secs_f64();
    let doc = serde_json::json!({
        "model": model.path.display().to_string(),
        "target": a.plan.target,
        "seconds": elapsed,
        "passes": prep.records,
        "exploration": x,
    });
    if let Some(p) = &a.out {
        std::fs::write(p, serde_json::to_string_pretty(&doc).expect("json") + "\n")
            .map_err(|e| Failure::input(anyhow::anyhow!("{}: cannot write: {e}", p.display())))?;
    }
    if let Some(path) = &a.report {
        // The report shows the uncut model and the trade-off of every configuration.
        let plan = settings.plan(model, steps, Some(&batch))?;
        let run = cycle::run(&plan, &batch, steps);
        let t = settings.target()?;
        let est = spikefab::energy::estimate(&plan, &t, &run);
        let counts = energy_cli::counts(&prep.cut, &batch, steps)?;
        let tradeoffs = x
            .configurations
            .iter()
            .zip(&x.pareto)
            .map(|(s, &p)| TradeOff {
                config: config(&x, s),
                accuracy: s.metric(),
                energy_j: s.energy_j,
                cycles: s.cycles,
                pareto: p,
            })
            .collect();
        html_report(path, model, &plan, &batch, &run, 0, labels.as_deref(), vec![est], Some(counts), None, tradeoffs)?;
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&doc).expect("json"));
        return Ok(());
    }
    println!(
        "explored {} configurations of {} on {} calibration inputs ({} target) in {:.2} s; ranked by {}",
        x.configurations.len(),
        model.path.display(),
        x.samples,
        a.plan.target,
        elapsed,
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
                students_of(&x, &r.best),
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
        if a.all { "every configuration (* = on the Pareto front)" } else { "Pareto front (accuracy against energy)" }
    );
    println!(
        "  {:<30} {:>9} {:>9} {:>12} {:>10} {:>11} {:>6} {:>6}",
        "configuration", x.metric, "agreement", "energy/inf", "cycles", "latency", "steps", "BRAM"
    );
    for (s, &p) in x.configurations.iter().zip(&x.pareto) {
        if !a.all && !p {
            continue;
        }
        println!(
            "{} {:<30} {:>9} {:>9} {:>9.1} nJ {:>10.0} {:>11} {:>6.2} {:>6}",
            if p { "*" } else { " " },
            config(&x, s),
            pct(s.metric()),
            pct(s.agreement),
            s.energy_j * 1e9,
            s.cycles,
            s.latency_s.map(|l| format!("{:.1} us", l * 1e6)).unwrap_or_else(|| "-".into()),
            s.mean_steps,
            s.block_rams
        );
    }
    if let Some(p) = &a.out {
        println!("wrote {}", p.display());
    }
    if let Some(p) = &a.report {
        println!("report: {}", p.display());
    }
    Ok(())
}
