//! `explore`: the accuracy-energy-latency trade-off of a student's cuts (students kept,
//! timesteps, early exit, lanes), measured on calibration inputs with the cycle engine, whole
//! or shard by shard.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::energy::counts;
use super::shard::{self, Shard};
use super::verify::html_report;
use super::{Error, Prepared, Progress, prepare, steps_for};
use crate::Model;
use crate::data::InputBatch;
use crate::dse::{self as select, Evaluator, Exploration, ExplorePart};
use crate::energy;
use crate::options::{Datapath, PassSettings, PlanSettings};
use crate::passes::students;
use crate::report::TradeOff;
use crate::sim::cycle;

/// What `explore` sweeps besides students, timesteps and early exit.
#[derive(Clone, Debug, Default, PartialEq, clap::Args, Serialize, Deserialize)]
#[serde(default)]
pub struct ExploreSettings {
    /// Lane counts to sweep, comma-separated [default: the target's].
    #[arg(long = "lanes-sweep", value_delimiter = ',', value_name = "L")]
    pub lanes_sweep: Vec<usize>,
    /// Datapaths to sweep, comma-separated: event, dense (docs/hardware.md 4c) [default: the
    /// plan's --datapath, where auto measures as event: its per-projection choice is `plan`'s].
    #[arg(long = "datapath-sweep", value_delimiter = ',', value_name = "D", value_enum)]
    pub datapath_sweep: Vec<Datapath>,
    /// Skip the simplification passes.
    #[arg(long)]
    pub no_simplify: bool,
    /// Write the HTML report (with the accuracy-energy plot) to this file.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

fn usage(msg: impl Into<String>) -> Error {
    Error::Usage(msg.into())
}

/// What `explore` measured.
pub struct Explored {
    /// The model file.
    pub model: String,
    /// Target name.
    pub target: String,
    /// Wall time, seconds (summed over the shards of a merged run).
    pub seconds: f64,
    /// What the passes changed (as JSON).
    pub passes: Value,
    /// Every configuration, the Pareto front and the ensemble's K sweep.
    pub exploration: Exploration,
}

impl Explored {
    /// What `explore --json` prints (and `--out` writes).
    pub fn json(&self) -> Value {
        json!({
            "model": self.model,
            "target": self.target,
            "seconds": self.seconds,
            "passes": self.passes,
            "exploration": self.exploration,
        })
    }
}

/// One shard's part of `explore`: the configurations whose job index it owns.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExploreShard {
    /// Which shard.
    pub shard: Shard,
    /// The model file.
    pub model: String,
    /// Target name.
    pub target: String,
    /// This shard's wall time.
    pub seconds: f64,
    /// What the passes changed.
    pub passes: Value,
    /// Its configurations.
    pub part: ExplorePart,
}

/// Merges the parts of every shard of one `explore` run into the exploration one run makes.
pub fn merge_explore(parts: Vec<ExploreShard>) -> Result<Explored, Error> {
    shard::covered(parts.iter().map(|p| p.shard).collect())?;
    let mut it = parts.into_iter();
    let first = it.next().ok_or_else(|| usage("no parts to merge"))?;
    let (model, target, passes, mut seconds, mut part) =
        (first.model, first.target, first.passes, first.seconds, first.part);
    for p in it {
        if (&p.model, &p.target, &p.passes) != (&model, &target, &passes) {
            return Err(usage("the parts explore different models, targets or passes"));
        }
        seconds += p.seconds;
        part.merge(p.part).map_err(|e| usage(e.to_string()))?;
    }
    let exploration = part.complete().map_err(|e| usage(e.to_string()))?;
    Ok(Explored { model, target, seconds, passes, exploration })
}
/// The configuration label `explore` prints for `s`.
pub fn config_label(x: &Exploration, s: &select::Score) -> String {
    format!(
        "{}T={}{}{}{}{}",
        if x.ensemble.is_some() { format!("{} ", students_label(x, s)) } else { String::new() },
        s.timesteps,
        if s.early_exit { " exit" } else { "" },
        match (s.cascade, s.run_time) {
            (Some(m), _) => format!(" cascade M={m}"),
            (None, true) => " masked".into(),
            (None, false) => String::new(),
        },
        s.lanes.map(|l| format!(" L={l}")).unwrap_or_default(),
        s.datapath.map(|d| format!(" {d:?}").to_lowercase()).unwrap_or_default()
    )
}

/// The students of `s`, `+`-joined, or `all`.
pub fn students_label(x: &Exploration, s: &select::Score) -> String {
    match &x.ensemble {
        Some(e) if !s.students.is_empty() => {
            s.students.iter().map(|&i| e.students[i].name.as_str()).collect::<Vec<_>>().join("+")
        }
        _ => "all".into(),
    }
}

/// Sweeps students, timesteps, early exit and lanes on the calibration `batch` with the cycle
/// engine; with `x.report`, writes the HTML report with the trade-off plot there.
pub fn explore(
    m: Model,
    batch: &InputBatch,
    labels: Option<&[usize]>,
    settings: &PlanSettings,
    x: &ExploreSettings,
    progress: &dyn Progress,
) -> Result<Explored, Error> {
    let t0 = std::time::Instant::now();
    let (prep, part) = explore_part(m, batch, labels, settings, x, None, progress)?;
    let xp = part.complete().map_err(|e| usage(e.to_string()))?;
    let seconds = t0.elapsed().as_secs_f64();
    let (model, steps) = (&prep.model, prep.steps);
    if let Some(path) = &x.report {
        // The report shows the uncut model and the trade-off of every configuration.
        let plan = settings.plan(model, steps, Some(batch))?;
        let run = cycle::run(&plan, batch, steps);
        let t = settings.target()?;
        let est = energy::estimate(&plan, &t, &run);
        let counts = counts(&prep.cut, batch, steps)?;
        let tradeoffs = xp
            .configurations
            .iter()
            .zip(&xp.pareto)
            .map(|(s, &p)| TradeOff {
                config: config_label(&xp, s),
                accuracy: s.metric(),
                energy_j: s.energy_j,
                cycles: s.cycles,
                pareto: p,
            })
            .collect();
        html_report(path, model, &plan, batch, &run, 0, labels, vec![est], Some(counts), None, tradeoffs)?;
    }
    Ok(Explored {
        model: prep.model.path.display().to_string(),
        target: settings.target.clone(),
        seconds,
        passes: json!(prep.records),
        exploration: xp,
    })
}

/// `explore` on shard `shard` of its configurations (balanced by their estimated cost).
pub fn explore_shard(
    m: Model,
    batch: &InputBatch,
    labels: Option<&[usize]>,
    settings: &PlanSettings,
    x: &ExploreSettings,
    shard: Shard,
    progress: &dyn Progress,
) -> Result<ExploreShard, Error> {
    let t0 = std::time::Instant::now();
    let (prep, part) = explore_part(m, batch, labels, settings, x, Some(shard), progress)?;
    Ok(ExploreShard {
        shard,
        model: prep.model.path.display().to_string(),
        target: settings.target.clone(),
        seconds: t0.elapsed().as_secs_f64(),
        passes: json!(prep.records),
        part,
    })
}

fn explore_part(
    m: Model,
    batch: &InputBatch,
    labels: Option<&[usize]>,
    settings: &PlanSettings,
    x: &ExploreSettings,
    shard: Option<Shard>,
    progress: &dyn Progress,
) -> Result<(Prepared, ExplorePart), Error> {
    let lanes = &x.lanes_sweep;
    let steps = steps_for(&m, Some(batch))?;
    if let Some(l) = labels
        && l.len() != batch.n
    {
        return Err(usage(format!("{} labels for {} inputs", l.len(), batch.n)));
    }
    if lanes.iter().any(|l| !l.is_power_of_two() || *l > 64) {
        return Err(usage("--lanes-sweep takes powers of two from 1 to 64"));
    }
    let pa = PassSettings { no_simplify: x.no_simplify, ..Default::default() };
    let prep = prepare(m, steps, &pa, settings, Some(batch), labels, progress)?;
    let model = &prep.model;
    let ens = students::ensembles(&model.graph, &model.info).into_iter().next();
    let opts = settings.options(steps, Some(batch))?;
    let ev = Evaluator::new(model, opts, batch, labels, steps)
        .map_err(|e| usage(format!("{}: {e}", model.path.display())))?;
    if x.datapath_sweep.contains(&Datapath::Auto) {
        return Err(usage("--datapath-sweep takes event and dense (auto is a choice, not a datapath to sweep)"));
    }
    let lanes: Vec<Option<usize>> =
        if lanes.is_empty() { vec![None] } else { lanes.iter().map(|&l| Some(l)).collect() };
    let paths: Vec<Option<Datapath>> =
        if x.datapath_sweep.is_empty() { vec![None] } else { x.datapath_sweep.iter().map(|&d| Some(d)).collect() };
    let layouts: Vec<select::Layout> = lanes.iter().flat_map(|&l| paths.iter().map(move |&d| (l, d))).collect();
    let part = select::explore_part(&ev, ens.as_ref(), &layouts, |costs| match shard {
        Some(s) => s.owned(costs),
        None => vec![true; costs.len()],
    })
    .map_err(|e| usage(format!("{}: {e}", model.path.display())))?;
    Ok((prep, part))
}
