//! Choosing cuts by measuring them: every candidate (students kept, timesteps, early exit,
//! lanes) is lowered to a hardware plan and run on the calibration inputs by the cycle
//! engine; its accuracy (with labels) or class agreement with the uncut model at full T,
//! energy per inference, cycles and memory use are what the choice compares.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{self, InputBatch};
use crate::energy;
use crate::hw::{self, PlanOptions};
use crate::model::Model;
use crate::options::Datapath;
use crate::passes::students::{Ensemble, KeepStudents};
use crate::passes::{Context, PassError, Pipeline};
use crate::quant::QuantError;
use crate::sim::cycle;

/// Why a measured choice could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DseError {
    /// Cutting the model to a candidate (its students) failed.
    #[error(transparent)]
    Pass(#[from] PassError),
    /// The hardware plan a candidate is measured on cannot be built.
    #[error(transparent)]
    Plan(#[from] QuantError),
    /// Parts of a sharded exploration that do not make one.
    #[error("{0}")]
    Parts(String),
    /// A run-time student mask the plan cannot run.
    #[error(transparent)]
    Mask(#[from] crate::quant::students::MaskError),
}

/// What a configuration sweeps of the layout: lanes (None: the settings') and datapath
/// (None: the settings'; `auto` is the driver's choice, so sweeps take `event` and `dense`).
pub type Layout = (Option<usize>, Option<Datapath>);

/// One measured configuration.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Score {
    /// Students kept (all when the model is no ensemble).
    pub students: Vec<usize>,
    /// Timesteps.
    pub timesteps: usize,
    /// Early exit on.
    pub early_exit: bool,
    /// Lanes (None: the target's default).
    pub lanes: Option<usize>,
    /// Datapath swept (None: the settings' `--datapath`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datapath: Option<Datapath>,
    /// Accuracy on the labels, when given.
    pub accuracy: Option<f64>,
    /// Class agreement with the uncut model at full T on the cycle engine.
    pub agreement: f64,
    /// Energy per inference (J), mean over the inputs.
    pub energy_j: f64,
    /// Cycles per inference, mean.
    pub cycles: f64,
    /// Latency at the plan clock (s); `None` on targets without a cycle model.
    pub latency_s: Option<f64>,
    /// Steps run per inference, mean (below T with early exit).
    pub mean_steps: f64,
    /// Block RAMs of the plan's memory map.
    pub block_rams: u64,
    /// Bits kept in registers.
    pub register_bits: u64,
    /// The plan's schedule (on the iCE40s `auto` picks it per configuration, from its
    /// memories and its predicted logic).
    #[serde(default)]
    pub schedule: crate::hw::Schedule,
    /// The plan's predicted logic cells after packing (None: no logic model for the family).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logic_cells: Option<u64>,
    /// The plan is predicted not to fit the device's logic cells.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub logic_misfit: bool,
    /// The full ensemble's design with only `students` switched on at run time (a student
    /// mask, `--active-students`), not a model pruned to them at compile time.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub run_time: bool,
    /// The full ensemble's design running its students as the input-adaptive cascade at this
    /// margin (`--cascade`, its order chosen on the calibration inputs); `students` are all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cascade: Option<u64>,
}

impl Score {
    /// Accuracy when labelled, else agreement: the figure choices maximise.
    pub fn metric(&self) -> f64 {
        self.accuracy.unwrap_or(self.agreement)
    }
}

/// Measures configurations of one model on calibration data.
pub struct Evaluator<'a> {
    /// The model before cuts (simplified).
    pub model: &'a Model,
    /// Plan options; timesteps, early exit and lanes are set per configuration.
    pub opts: PlanOptions,
    /// Calibration inputs.
    pub batch: &'a InputBatch,
    /// Labels of the calibration inputs.
    pub labels: Option<&'a [usize]>,
    /// Full T.
    pub steps: usize,
    /// Classes of the uncut model at full T (cycle engine).
    pub baseline: Vec<usize>,
}

impl<'a> Evaluator<'a> {
    /// An evaluator; runs the uncut model once for the baseline classes.
    pub fn new(
        model: &'a Model,
        opts: PlanOptions,
        batch: &'a InputBatch,
        labels: Option<&'a [usize]>,
        steps: usize,
    ) -> Result<Self, DseError> {
        let mut o = opts.clone();
        o.timesteps = steps;
        o.settings.early_exit = false;
        let plan = hw::lower(model, &o)?;
        let baseline = cycle::run(&plan, batch, steps).outputs.classes();
        Ok(Evaluator { model, opts, batch, labels, steps, baseline })
    }

    /// The model with only `keep` of `ens`'s students.
    pub fn pruned(&self, ens: Option<&Ensemble>, keep: &[usize]) -> Result<Model, DseError> {
        match ens {
            Some(e) if keep.len() < e.students.len() => {
                let cx = Context { steps: self.steps, input_range: None };
                Ok(Pipeline::new().then(KeepStudents { keep: keep.to_vec() }).run(self.model, &cx)?.0)
            }
            _ => Ok(self.model.clone()),
        }
    }

    /// The plan options of a configuration.
    fn options(&self, steps: usize, early_exit: bool, layout: Layout) -> PlanOptions {
        let (lanes, datapath) = layout;
        let mut o = self.opts.clone();
        o.timesteps = steps;
        o.settings.early_exit = early_exit;
        o.settings.schedule = Some(o.schedule().with_early_exit(early_exit));
        if lanes.is_some() {
            o.settings.lanes = lanes;
        }
        if let Some(d) = datapath {
            o.settings.datapath = d;
        }
        o
    }

    /// The design of the uncut model in a configuration.
    pub fn uncut_plan(&self, steps: usize, early_exit: bool, layout: Layout) -> Result<hw::Plan, DseError> {
        Ok(hw::lower(self.model, &self.options(steps, early_exit, layout))?)
    }

    /// Scores one configuration of `m` (already pruned to `students`).
    pub fn score(
        &self,
        m: &Model,
        students: &[usize],
        steps: usize,
        early_exit: bool,
        layout: Layout,
    ) -> Result<Score, DseError> {
        let o = self.options(steps, early_exit, layout);
        let plan = hw::lower(m, &o)?;
        let run = cycle::run(&plan, self.batch, steps);
        Ok(self.scored(&plan, &o, run, students, layout, false))
    }

    /// Scores `plan`, the uncut model's design in a configuration ([`Evaluator::uncut_plan`]),
    /// with only `students` of `e` switched on at run time ([`cycle::run_active`]): the full
    /// design's energy and cycles under the mask.
    pub fn score_run_time(
        &self,
        plan: &hw::Plan,
        e: &Ensemble,
        students: &[usize],
        layout: Layout,
    ) -> Result<Score, DseError> {
        let o = self.options(plan.timesteps, plan.early_exit, layout);
        let st = plan.students.as_ref().ok_or(crate::quant::students::MaskError::NoEnsemble)?;
        let names: Vec<String> = students.iter().map(|&i| e.students[i].name.clone()).collect();
        let active = st.mask(&names)?;
        let run = cycle::run_active(plan, self.batch, plan.timesteps, &active)?;
        Ok(self.scored(plan, &o, run, students, layout, true))
    }

    /// Scores `plan`, the uncut model's design in a configuration that can run the cascade,
    /// running it at `margin` in the order chosen on the calibration inputs
    /// ([`cycle::greedy_cascade_order`], every student active).
    pub fn score_cascade(
        &self,
        plan: &hw::Plan,
        order: &[usize],
        margin: u64,
        layout: Layout,
    ) -> Result<Score, DseError> {
        let o = self.options(plan.timesteps, plan.early_exit, layout);
        let mut p = plan.clone();
        p.cascade = Some(hw::Cascade { margin, order: order.to_vec() });
        let all = vec![true; order.len()];
        let run = cycle::run_cascade(&p, self.batch, p.timesteps, &all, margin)?;
        Ok(self.scored(&p, &o, run, &(0..order.len()).collect::<Vec<_>>(), layout, true))
    }

    fn scored(
        &self,
        plan: &hw::Plan,
        o: &PlanOptions,
        run: cycle::BatchResult,
        students: &[usize],
        layout: Layout,
        run_time: bool,
    ) -> Score {
        let (lanes, datapath) = layout;
        let (steps, early_exit) = (o.timesteps, o.settings.early_exit);
        let classes = run.outputs.classes();
        let est = energy::estimate(plan, &o.target, &run);
        let n = run.samples.len().max(1) as f64;
        let summary = plan.summary();
        let logic = hw::logic::Logic::of(plan, &o.target);
        Score {
            students: students.to_vec(),
            timesteps: steps,
            early_exit,
            lanes,
            datapath,
            accuracy: self.labels.map(|l| data::agreement(&classes, l)),
            agreement: data::agreement(&classes, &self.baseline),
            energy_j: est.energy_per_inference_j,
            cycles: est.cycles,
            latency_s: est.latency_s,
            mean_steps: run.total.steps_run as f64 / n,
            block_rams: summary.block_rams,
            register_bits: summary.register_bits,
            schedule: plan.schedule,
            logic_cells: logic.as_ref().map(|l| l.predicted.lc),
            logic_misfit: logic.is_some_and(|l| l.misfit().is_some()),
            run_time,
            cascade: plan.cascade.as_ref().map(|c| c.margin),
        }
    }
}

/// The K-sweep of an ensemble at T steps: for each K the best subset and the mean over
/// random subsets (SNE's random-K, exact over all subsets when N <= 8).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct KRow {
    /// Students kept.
    pub k: usize,
    /// The chosen subset's measurement.
    pub best: Score,
    /// Mean metric over the subsets of size K a random choice would draw.
    pub random_mean: f64,
    /// Worst subset's metric.
    pub random_min: f64,
    /// Subsets behind the mean.
    pub random_subsets: usize,
    /// Mean energy per inference of those subsets.
    pub random_energy_j: f64,
}

/// Subsets of `0..n` of size `k` (lexicographic).
pub fn subsets(n: usize, k: usize) -> Vec<Vec<usize>> {
    fn go(start: usize, n: usize, k: usize, cur: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if cur.len() == k {
            out.push(cur.clone());
            return;
        }
        for i in start..n {
            if n - i < k - cur.len() {
                break;
            }
            cur.push(i);
            go(i + 1, n, k, cur, out);
            cur.pop();
        }
    }
    let mut out = vec![];
    go(0, n, k, &mut vec![], &mut out);
    out
}

/// Deterministic pseudo-random subsets (splitmix64), for ensembles too big to enumerate.
fn sample_subsets(n: usize, k: usize, count: usize, seed: u64) -> Vec<Vec<usize>> {
    let mut s = seed;
    let mut next = move || {
        s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    (0..count)
        .map(|_| {
            let mut idx: Vec<usize> = (0..n).collect();
            for i in 0..k {
                let j = i + (next() % (n - i) as u64) as usize;
                idx.swap(i, j);
            }
            let mut v = idx[..k].to_vec();
            v.sort_unstable();
            v
        })
        .collect()
}

/// Exhaustive enumeration up to this many students; greedy selection beyond.
pub const EXHAUSTIVE_MAX: usize = 8;

/// One configuration `explore` measures: (students, T', early exit, layout, the uncut plan it
/// runs under a mask: an index into its designs, None for a pruned model, and the cascade's
/// margin it runs at).
type Job = (Vec<usize>, usize, bool, Layout, Option<usize>, Option<u64>);

/// The most cascade margins `explore` measures on one design (0, 1, ...).
pub const CASCADE_MARGINS: u64 = 12;

/// Scores a list of subsets at `steps` (in parallel).
pub fn score_subsets(ev: &Evaluator, e: &Ensemble, sets: &[Vec<usize>], steps: usize) -> Result<Vec<Score>, DseError> {
    sets.par_iter()
        .map(|s| {
            let m = ev.pruned(Some(e), s)?;
            ev.score(&m, s, steps, false, (None, None))
        })
        .collect()
}

fn better(a: &Score, b: &Score) -> bool {
    // A design predicted to fit before one predicted not to; then higher metric, then lower
    // energy, then the lexicographically first subset.
    if a.logic_misfit != b.logic_misfit {
        return !a.logic_misfit;
    }
    a.metric() > b.metric()
        || (a.metric() == b.metric()
            && (a.energy_j < b.energy_j || (a.energy_j == b.energy_j && a.students < b.students)))
}

fn best_of(scores: &[Score]) -> Option<&Score> {
    scores.iter().fold(None, |acc: Option<&Score>, s| match acc {
        Some(b) if !better(s, b) => Some(b),
        _ => Some(s),
    })
}

/// The K-sweep: exhaustive for N <= 8 (every subset scored), greedy forward selection beyond
/// (K+1 = the best K plus the student that helps most), with 32 sampled random subsets.
pub fn k_sweep(ev: &Evaluator, e: &Ensemble, steps: usize) -> Result<(Vec<KRow>, Vec<Score>), DseError> {
    let n = e.students.len();
    let mut rows = vec![];
    let mut all = vec![];
    if n <= EXHAUSTIVE_MAX {
        for k in 1..=n {
            let sets = subsets(n, k);
            let scores = score_subsets(ev, e, &sets, steps)?;
            let best = best_of(&scores).expect("at least one subset").clone();
            let m = scores.len() as f64;
            rows.push(KRow {
                k,
                best,
                random_mean: scores.iter().map(Score::metric).sum::<f64>() / m,
                random_min: scores.iter().map(Score::metric).fold(f64::INFINITY, f64::min),
                random_subsets: scores.len(),
                random_energy_j: scores.iter().map(|s| s.energy_j).sum::<f64>() / m,
            });
            all.extend(scores);
        }
    } else {
        let mut chosen: Vec<usize> = vec![];
        for k in 1..=n {
            let cands: Vec<Vec<usize>> = (0..n)
                .filter(|i| !chosen.contains(i))
                .map(|i| {
                    let mut s = chosen.clone();
                    s.push(i);
                    s.sort_unstable();
                    s
                })
                .collect();
            let scores = score_subsets(ev, e, &cands, steps)?;
            let best = best_of(&scores).expect("a candidate").clone();
            chosen = best.students.clone();
            let random = score_subsets(ev, e, &sample_subsets(n, k, 32, k as u64), steps)?;
            let m = random.len() as f64;
            rows.push(KRow {
                k,
                best,
                random_mean: random.iter().map(Score::metric).sum::<f64>() / m,
                random_min: random.iter().map(Score::metric).fold(f64::INFINITY, f64::min),
                random_subsets: random.len(),
                random_energy_j: random.iter().map(|s| s.energy_j).sum::<f64>() / m,
            });
            all.extend(scores);
            all.extend(random);
        }
    }
    Ok((rows, all))
}

/// The most accurate measured subset whose energy fits `budget_j`.
pub fn within_budget(scores: &[Score], budget_j: f64) -> Option<&Score> {
    let fit: Vec<Score> = scores.iter().filter(|s| s.energy_j <= budget_j).cloned().collect();
    let best = best_of(&fit)?.clone();
    scores.iter().find(|s| **s == best)
}

/// Timestep sweep at full students: T' = 1..=T.
pub fn t_sweep(ev: &Evaluator, m: &Model, students: &[usize], early_exit: bool) -> Result<Vec<Score>, DseError> {
    (1..=ev.steps).into_par_iter().map(|t| ev.score(m, students, t, early_exit, (None, None))).collect()
}

/// What a timestep choice must meet.
#[derive(Clone, Copy, Debug)]
pub enum Bound {
    /// Class agreement with full T at least this.
    MinAgreement(f64),
    /// Accuracy at most this far below full T's (needs labels).
    MaxAccuracyDrop(f64),
}

/// The smallest T' of a sweep meeting `bound` (the sweep's last entry is full T).
pub fn smallest_t(sweep: &[Score], bound: Bound) -> Option<&Score> {
    let full = sweep.last()?;
    sweep.iter().find(|s| match bound {
        Bound::MinAgreement(a) => s.agreement >= a,
        Bound::MaxAccuracyDrop(d) => match (s.accuracy, full.accuracy) {
            (Some(x), Some(f)) => x >= f - d - 1e-12,
            _ => false,
        },
    })
}

/// Marks the configurations no other beats on metric, energy and cycles at once: another is
/// at least as good on all three and better on one. A design predicted not to fit the device
/// beats none that is predicted to fit.
pub fn pareto(scores: &[Score]) -> Vec<bool> {
    scores
        .iter()
        .map(|s| {
            !scores.iter().any(|o| {
                if o.logic_misfit && !s.logic_misfit {
                    return false;
                }
                let no_worse = o.metric() >= s.metric() && o.energy_j <= s.energy_j && o.cycles <= s.cycles;
                no_worse && (o.metric() > s.metric() || o.energy_j < s.energy_j || o.cycles < s.cycles)
            })
        })
        .collect()
}

/// Everything `spikefab explore` measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Exploration {
    /// Samples measured.
    pub samples: usize,
    /// Full T.
    pub timesteps: usize,
    /// `accuracy` (labels given) or `agreement` (with the uncut model at full T).
    pub metric: String,
    /// The ensemble, when the model has one.
    pub ensemble: Option<Ensemble>,
    /// The K-sweep at full T (ensembles only).
    pub k_sweep: Vec<KRow>,
    /// Every configuration measured, cheapest first.
    pub configurations: Vec<Score>,
    /// `pareto[i]`: configuration i is on the accuracy-energy-latency front.
    pub pareto: Vec<bool>,
}

/// Sweeps students (the best subset of each size), T' = 1..=T, early exit off/on and the
/// given layouts (lanes and datapath; `None`: the settings'); for an ensemble whose design
/// takes a run-time student mask, also that one design at full T under every proper subset of
/// its students (the K sweep's subsets beyond [`EXHAUSTIVE_MAX`] students).
pub fn explore(ev: &Evaluator, ensemble: Option<&Ensemble>, layouts: &[Layout]) -> Result<Exploration, DseError> {
    let part = explore_part(ev, ensemble, layouts, |costs| vec![true; costs.len()])?;
    Ok(part.finish())
}

/// The configurations of an exploration that `keep` selects, measured: `keep` gets every job's
/// estimated cost ([`job_cost`]), in the order [`explore`] enumerates them, and says which to
/// measure. [`ExplorePart::merge`] and [`ExplorePart::complete`] make the whole exploration of
/// parts that together keep every job. Every part measures the ensemble's K sweep, which
/// decides the subsets explored.
pub fn explore_part(
    ev: &Evaluator,
    ensemble: Option<&Ensemble>,
    layouts: &[Layout],
    keep: impl Fn(&[u64]) -> Vec<bool>,
) -> Result<ExplorePart, DseError> {
    let (k_rows, subsets): (Vec<KRow>, Vec<Vec<usize>>) = match ensemble {
        Some(e) => {
            let (rows, _) = k_sweep(ev, e, ev.steps)?;
            let sets = rows.iter().map(|r| r.best.students.clone()).collect();
            (rows, sets)
        }
        None => (vec![], vec![vec![]]),
    };
    // Jobs: (students, T', early exit, layout, the uncut plan it runs under a mask: an index
    // into `uncut`, None for a pruned model, and the cascade's margin it runs at).
    let mut jobs: Vec<Job> = vec![];
    let mut uncut: Vec<hw::Plan> = vec![];
    for s in &subsets {
        for t in 1..=ev.steps {
            for exit in if t > 1 { vec![false, true] } else { vec![false] } {
                for &l in layouts {
                    jobs.push((s.clone(), t, exit, l, None, None));
                }
            }
        }
    }
    // The uncut design under a run-time mask, at full T, wherever it takes one: every proper
    // subset up to EXHAUSTIVE_MAX students, else the K sweep's subsets.
    if let Some(e) = ensemble {
        let n = e.students.len();
        let masks: Vec<Vec<usize>> = if n <= EXHAUSTIVE_MAX {
            (1..n).flat_map(|k| self::subsets(n, k)).collect()
        } else {
            k_rows.iter().map(|r| r.best.students.clone()).filter(|s| s.len() < n).collect()
        };
        for exit in if ev.steps > 1 { vec![false, true] } else { vec![false] } {
            for &l in layouts {
                let plan = ev.uncut_plan(ev.steps, exit, l)?;
                if plan.takes_mask() {
                    jobs.extend(masks.iter().map(|s| (s.clone(), ev.steps, exit, l, Some(uncut.len()), None)));
                    // The cascade over every student, at each margin from 0 to the largest
                    // an output reaches (at most CASCADE_MARGINS of them), where it runs.
                    if plan.cascade_refusal().is_none() {
                        let all: Vec<usize> = (0..n).collect();
                        let top = (plan.cascade_margin_cap() - 1).min(CASCADE_MARGINS - 1);
                        jobs.extend((0..=top).map(|m| (all.clone(), ev.steps, exit, l, Some(uncut.len()), Some(m))));
                    }
                    uncut.push(plan);
                }
            }
        }
    }
    // The cascade's order of each uncut design that runs it, chosen on the calibration inputs
    // (the same for every part: the jobs are enumerated before measuring).
    let orders: Vec<Option<Vec<usize>>> = uncut
        .iter()
        .map(|p| p.cascade_refusal().is_none().then(|| cycle::greedy_cascade_order(p, ev.batch)).transpose())
        .collect::<Result<_, _>>()?;
    let total = jobs.len();
    let costs: Vec<u64> = jobs.iter().map(|(s, t, ..)| job_cost(ev.model, ensemble, s, *t)).collect();
    let kept = keep(&costs);
    let mine: Vec<usize> = (0..total).filter(|&j| kept.get(j).copied().unwrap_or(false)).collect();
    let models: Vec<(Vec<usize>, Model)> = subsets
        .iter()
        .filter(|s| mine.iter().any(|&j| &jobs[j].0 == *s && jobs[j].4.is_none()))
        .map(|s| Ok((s.clone(), ev.pruned(ensemble, s)?)))
        .collect::<Result<_, DseError>>()?;
    let scores: Vec<Score> = mine
        .par_iter()
        .map(|&j| {
            let (s, t, exit, l, masked, margin) = &jobs[j];
            match (masked, ensemble, margin) {
                (Some(p), Some(_), Some(m)) => {
                    let order = orders[*p].as_ref().expect("an order for every design running the cascade");
                    ev.score_cascade(&uncut[*p], order, *m, *l)
                }
                (Some(p), Some(e), None) => ev.score_run_time(&uncut[*p], e, s, *l),
                _ => {
                    let m = &models.iter().find(|(k, _)| k == s).expect("model of every subset").1;
                    ev.score(m, s, *t, *exit, *l)
                }
            }
        })
        .collect::<Result<_, DseError>>()?;
    Ok(ExplorePart {
        samples: ev.batch.n,
        timesteps: ev.steps,
        metric: if ev.labels.is_some() { "accuracy".into() } else { "agreement".into() },
        ensemble: ensemble.cloned(),
        k_sweep: k_rows,
        jobs: total,
        scores: mine.into_iter().zip(scores).collect(),
    })
}

/// The estimated work of one configuration, for balancing shards: the parameters of the
/// students it keeps (every parameter when the model has no ensemble) times its T'. Lanes and
/// early exit are left out (early exit can only shorten a run).
pub fn job_cost(m: &Model, ensemble: Option<&Ensemble>, students: &[usize], steps: usize) -> u64 {
    let g = &m.graph;
    let params = match ensemble {
        Some(e) if !students.is_empty() => students
            .iter()
            .flat_map(|&i| &e.students[i].nodes)
            .filter_map(|n| g.find(n))
            .map(|i| g.node(i).op.param_count())
            .sum(),
        _ => crate::passes::param_count(g),
    };
    (params.max(1) as u64).saturating_mul(steps as u64)
}

/// Some configurations of an exploration, by job index.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ExplorePart {
    /// Samples measured.
    pub samples: usize,
    /// Full T.
    pub timesteps: usize,
    /// `accuracy` or `agreement`.
    pub metric: String,
    /// The ensemble, when the model has one.
    pub ensemble: Option<Ensemble>,
    /// The K sweep (ensembles only).
    pub k_sweep: Vec<KRow>,
    /// Jobs in the whole exploration.
    pub jobs: usize,
    /// (job index, its measurement).
    pub scores: Vec<(usize, Score)>,
}

impl ExplorePart {
    /// Adds another part of the same exploration; `Err` when it is not (other samples, T,
    /// metric, ensemble, K sweep or job count) or measured a job this one has.
    pub fn merge(&mut self, other: ExplorePart) -> Result<(), DseError> {
        if (self.samples, self.timesteps, &self.metric, &self.ensemble, &self.k_sweep, self.jobs)
            != (other.samples, other.timesteps, &other.metric, &other.ensemble, &other.k_sweep, other.jobs)
        {
            return Err(DseError::Parts("the parts come from different explorations".into()));
        }
        for (j, s) in other.scores {
            if self.scores.iter().any(|(k, _)| *k == j) {
                return Err(DseError::Parts(format!("configuration {j} is in two parts")));
            }
            self.scores.push((j, s));
        }
        Ok(())
    }

    /// The exploration, cheapest first, with its Pareto front; `Err` names the first missing job.
    pub fn complete(self) -> Result<Exploration, DseError> {
        let mut have: Vec<usize> = self.scores.iter().map(|(j, _)| *j).collect();
        have.sort_unstable();
        if let Some(missing) = (0..self.jobs).find(|j| have.binary_search(j).is_err()) {
            return Err(DseError::Parts(format!("configuration {missing} of {} is in no part", self.jobs)));
        }
        Ok(self.finish())
    }

    fn finish(mut self) -> Exploration {
        // Job order first, so ties sort as one run over every job sorts them.
        self.scores.sort_by_key(|(j, _)| *j);
        let mut configurations: Vec<Score> = self.scores.into_iter().map(|(_, s)| s).collect();
        configurations.sort_by(|a, b| {
            a.energy_j
                .total_cmp(&b.energy_j)
                .then(b.metric().total_cmp(&a.metric()))
                .then(a.timesteps.cmp(&b.timesteps))
        });
        let pareto = pareto(&configurations);
        Exploration {
            samples: self.samples,
            timesteps: self.timesteps,
            metric: self.metric,
            ensemble: self.ensemble,
            k_sweep: self.k_sweep,
            configurations,
            pareto,
        }
    }
}
