//! `compare`: one student on every target, side by side. Each target runs its own exact model
//! (the cycle engine on an FPGA or ASIC plan, a chip back end's chip model, or for a chip
//! spikefab only prices the FPGA layout's nominal integers) on the same checked inputs, and
//! gives one row: whether the model fits and why not, accuracy and agreement with the
//! reference, latency, energy and resources, each with its source. A target that cannot take
//! the model is a row that says why; it never fails the table.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::chip;
use super::compile::{CompileOptions, CompileSettings, FpgaOutcome, Hardware};
use super::shard::{self, Shard};
use super::{Error, Job, Progress};
use crate::data::{self, InputBatch};
use crate::energy::{self, Estimate};
use crate::options::PlanSettings;
use crate::sim::cycle;
use crate::sim::reference::{self, RunOptions};
use crate::target::{Flow, Target};

/// What `compare` takes besides the model, inputs and the shared options.
#[derive(Clone, Debug, Default, PartialEq, clap::Args, Serialize, Deserialize)]
#[serde(default)]
pub struct CompareSettings {
    /// Targets to compare, comma-separated [default: every bundled target].
    #[arg(long, value_delimiter = ',', value_name = "TARGETS")]
    pub targets: Vec<String>,
    /// Build the bitstream of every FPGA target with an open flow (its resources and Fmax into
    /// the row; slow) into the output folder.
    #[arg(long)]
    pub bitstream: bool,
    /// Folder for the bitstream builds.
    #[arg(long, value_name = "DIR", default_value = "build/compare")]
    pub out_dir: PathBuf,
    /// Write the HTML report (the table and charts of energy against accuracy and latency).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

pub use super::resource::Resource;

/// A figure and where it comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sourced {
    /// The figure.
    pub value: f64,
    /// Where it comes from.
    pub source: String,
}

/// One target's row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Target name.
    pub target: String,
    /// `fpga`, `asic` or `neuromorphic`.
    pub kind: String,
    /// True when the model fits the target (for an FPGA without a bitstream build: its
    /// memories; the logic is then unchecked and `notes` says so).
    pub fits: bool,
    /// Why not, each limit with the figures (or why the target refused the model).
    pub why_not: Vec<String>,
    /// What the row's figures come from and what they leave out.
    pub notes: Vec<String>,
    /// Accuracy under the target's exact model, with labels.
    pub accuracy: Option<f64>,
    /// Class agreement with the reference engine.
    pub agreement: Option<f64>,
    /// Latency per inference, microseconds.
    pub latency_us: Option<Sourced>,
    /// Energy per inference, joules.
    pub energy_j: Option<Sourced>,
    /// Resources used.
    pub resources: Vec<Resource>,
}

impl Row {
    fn refused(target: &str, kind: &str, why: String) -> Row {
        Row {
            target: target.to_string(),
            kind: kind.to_string(),
            fits: false,
            why_not: vec![why],
            notes: vec![],
            accuracy: None,
            agreement: None,
            latency_us: None,
            energy_j: None,
            resources: vec![],
        }
    }
}

/// The table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Model file.
    pub model: String,
    /// Samples checked.
    pub samples: usize,
    /// Timesteps.
    pub timesteps: usize,
    /// Accuracy of the reference engine (the float model), with labels.
    pub reference_accuracy: Option<f64>,
    /// One row per target, in the order asked.
    pub rows: Vec<Row>,
}

impl Comparison {
    /// What `compare --json` prints.
    pub fn json(&self) -> Value {
        serde_json::to_value(self).expect("plain data")
    }

    /// The HTML report: energy against accuracy and against latency first (one labelled point
    /// per target that has the figures, logarithmic where they span decades), then the table,
    /// each row's sources and notes folded under it.
    pub fn html(&self) -> String {
        use crate::report::{Point, esc, fmt_j, labelled_scatter};
        use std::fmt::Write as _;
        let pct = |v: Option<f64>| v.map_or_else(|| "-".into(), |a| format!("{:.2}%", 100.0 * a));
        let mut b = String::new();
        let _ = writeln!(
            b,
            "<p>{} inputs, T = {}{}. Each target runs its own exact model; a target that cannot take the model says why.</p>",
            self.samples,
            self.timesteps,
            self.reference_accuracy
                .map(|a| format!("; the float model's accuracy {:.2}%", 100.0 * a))
                .unwrap_or_default()
        );
        let points = |y: &dyn Fn(&Row) -> Option<f64>| -> Vec<Point<'_>> {
            self.rows
                .iter()
                .filter(|r| r.fits)
                .filter_map(|r| {
                    Some(Point { label: &r.target, series: &r.kind, x: r.energy_j.as_ref()?.value * 1e9, y: y(r)? })
                })
                .collect()
        };
        let acc = points(&|r| r.accuracy.or(r.agreement).map(|a| 100.0 * a));
        let lat = points(&|r| r.latency_us.as_ref().map(|l| l.value));
        let _ = writeln!(
            b,
            "<div class=\"chart\">{}</div>\n<div class=\"chart\">{}</div>",
            labelled_scatter("Accuracy against energy, one point per target", "nJ per inference", "accuracy (%)", &acc),
            labelled_scatter(
                "Latency against energy, one point per target",
                "nJ per inference",
                "us per inference",
                &lat
            )
        );
        b.push_str("<table><tr><th>target</th><th>kind</th><th>fits</th><th>accuracy</th><th>agreement</th><th>latency</th><th>energy per inference</th><th>resources</th></tr>\n");
        for r in &self.rows {
            let res: Vec<String> = r
                .resources
                .iter()
                .map(|x| format!("{} {}{}", x.name, x.used, x.available.map(|a| format!("/{a}")).unwrap_or_default()))
                .collect();
            let mut why: Vec<String> = r.why_not.iter().map(|w| format!("does not fit: {w}")).collect();
            why.extend(r.latency_us.iter().map(|l| format!("latency: {}", l.source)));
            why.extend(r.energy_j.iter().filter(|e| !e.source.is_empty()).map(|e| format!("energy: {}", e.source)));
            why.extend(r.notes.iter().cloned());
            let _ = writeln!(
                b,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&r.target),
                esc(&r.kind),
                if r.fits { "yes" } else { "no" },
                pct(r.accuracy),
                pct(r.agreement),
                r.latency_us.as_ref().map_or_else(|| "-".into(), |l| format!("{:.1} us", l.value)),
                r.energy_j.as_ref().map_or_else(|| "-".into(), |e| fmt_j(e.value)),
                esc(&res.join(", ")),
            );
            if !why.is_empty() {
                let head = if r.why_not.is_empty() {
                    format!("{} sources and notes", why.len())
                } else {
                    format!("why it does not fit, and {} more", why.len() - r.why_not.len())
                };
                let items: String = why.iter().map(|w| format!("<li>{}</li>", esc(w))).collect();
                let _ = writeln!(
                    b,
                    "<tr class=\"notes\"><td colspan=\"8\"><details><summary>{}</summary><ul>{items}</ul></details></td></tr>",
                    esc(&head)
                );
            }
        }
        b.push_str("</table>\n");
        crate::report::page(&format!("spikefab compare: {}", self.model), &b)
    }

    /// True when some target fits (the command exits 0).
    pub fn any_fits(&self) -> bool {
        self.rows.iter().any(|r| r.fits)
    }
}

/// One shard's rows of `compare`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CompareShard {
    /// Which shard.
    pub shard: Shard,
    /// Every target of the run, in order (the shard's rows are those it owns).
    pub targets: Vec<String>,
    /// The table of this shard's targets.
    pub part: Comparison,
}

/// The targets asked for, or every bundled one.
fn targets_of(s: &CompareSettings) -> Vec<String> {
    if s.targets.is_empty() {
        Target::bundled_names().into_iter().map(String::from).collect()
    } else {
        s.targets.clone()
    }
}

/// Runs `job` on every target of `s` and compares them.
pub fn compare(job: &Job<'_>, s: &CompareSettings, progress: &dyn Progress) -> Result<Comparison, Error> {
    table(job, s, &targets_of(s), progress)
}

/// A target's estimated cost in `compare`, for balancing shards (relative units; every row
/// runs the same model): a bitstream build through an open flow takes minutes, far above a
/// chip back end's mapping and run, which is above a plan and a cycle-engine run.
fn target_cost(job: &Job<'_>, s: &CompareSettings, name: &str) -> u64 {
    let Ok(t) = job.plan.target_named(name) else { return 1 };
    if s.bitstream && matches!(t.flow(), Flow::OpenIce40 | Flow::OpenEcp5) {
        1000
    } else if chip::backend(&t).is_some() {
        20
    } else {
        10
    }
}

/// `compare` on the targets shard `shard` owns (balanced by their estimated cost).
pub fn compare_shard(
    job: &Job<'_>,
    s: &CompareSettings,
    shard: Shard,
    progress: &dyn Progress,
) -> Result<CompareShard, Error> {
    let all = targets_of(s);
    if shard.count > all.len() {
        return Err(Error::Usage(format!(
            "{} shards for {} targets: give at most {}",
            shard.count,
            all.len(),
            all.len()
        )));
    }
    let costs: Vec<u64> = all.iter().map(|t| target_cost(job, s, t)).collect();
    let owned = shard.owned(&costs);
    let mine: Vec<String> = all.iter().zip(owned).filter(|(_, o)| *o).map(|(t, _)| t.clone()).collect();
    Ok(CompareShard { shard, targets: all, part: table(job, s, &mine, progress)? })
}

/// Merges every shard's rows into the table one run prints.
pub fn merge_compare(parts: Vec<CompareShard>) -> Result<Comparison, Error> {
    shard::covered(parts.iter().map(|p| p.shard).collect())?;
    let first = parts.first().ok_or_else(|| Error::Usage("no parts to merge".into()))?;
    let (targets, base) = (first.targets.clone(), first.part.clone());
    let mut rows = vec![];
    for p in &parts {
        let same = (&p.part.model, p.part.samples, p.part.timesteps, p.part.reference_accuracy)
            == (&base.model, base.samples, base.timesteps, base.reference_accuracy);
        if p.targets != targets || !same {
            return Err(Error::Usage("the parts compare different models, inputs or targets".into()));
        }
        rows.extend(p.part.rows.iter().cloned());
    }
    let order = |r: &Row| targets.iter().position(|t| *t == r.target).unwrap_or(usize::MAX);
    rows.sort_by_key(order);
    Ok(Comparison { rows, ..base })
}

fn table(job: &Job<'_>, s: &CompareSettings, targets: &[String], progress: &dyn Progress) -> Result<Comparison, Error> {
    let prep = job.prepare(progress)?;
    let steps = prep.steps;
    let checked = job.checked()?;
    let batch = &*checked.inputs;
    let output = prep.cut.graph.select_output(None).map_err(reference::SimError::from)?;
    let r = super::progress::step(progress, "running the reference engine", || {
        reference::run(
            &prep.cut.graph,
            &prep.cut.info,
            prep.cut.dialect(),
            batch,
            &RunOptions { steps, f64: false, output },
            None,
        )
    })?;
    let reference = r.outputs.classes();
    let labels = checked.labels;
    let mut rows = vec![];
    for name in targets {
        let t = match job.plan.target_named(name) {
            Ok(t) => t,
            Err(e) => {
                rows.push(Row::refused(&crate::names::label(name), "unknown", e.to_string()));
                continue;
            }
        };
        progress.note(&format!("compare: {}", t.name));
        let scored = |classes: Vec<usize>| {
            (labels.map(|l| data::agreement(&classes, l)), Some(data::agreement(&classes, &reference)))
        };
        let row = match chip::backend(&t) {
            Some(c) => chip_row(job, &prep.model, steps, batch, &t, c, &scored),
            None => plan_row(job, &prep.model, steps, batch, &t, s, &scored, progress),
        };
        rows.push(row.unwrap_or_else(|e| Row::refused(&t.name, &t.kind.to_string(), e.to_string())));
    }
    Ok(Comparison {
        model: prep.model.path.display().to_string(),
        samples: batch.n,
        timesteps: steps,
        reference_accuracy: labels.map(|l| data::agreement(&reference, l)),
        rows,
    })
}

type Scored<'a> = dyn Fn(Vec<usize>) -> (Option<f64>, Option<f64>) + 'a;

/// A chip with a back end: its own mapping and chip model.
fn chip_row(
    job: &Job<'_>,
    m: &crate::Model,
    steps: usize,
    batch: &InputBatch,
    t: &Target,
    c: &'static dyn chip::ChipBackend,
    scored: &Scored<'_>,
) -> Result<Row, Error> {
    // The FPGA rows' options (--lanes, ...) are not this row's: the chip reads its own.
    let mut settings = job.plan.for_chips();
    if !c.info().takes_spike_cap {
        settings.spike_cap = None;
    }
    let map = c.map(m, &settings, t, steps, Some(job.inputs))?;
    let run = map.run(batch);
    let (accuracy, agreement) = scored(run.outputs().classes());
    let est = run.estimate(t);
    let latency_us = map.step_time().map(|(dt, source)| Sourced {
        value: dt * map.chip_steps() as f64 * 1e6,
        source: format!("{} chip steps x {dt} s ({source})", map.chip_steps()),
    });
    Ok(Row {
        target: t.name.clone(),
        kind: t.kind.to_string(),
        fits: true,
        why_not: vec![],
        notes: map.notes().to_vec(),
        accuracy,
        agreement,
        latency_us,
        energy_j: est.map(|e| Sourced { value: e.energy_per_inference_j, source: e.basis.unwrap_or_default() }),
        resources: map.resources(),
    })
}

/// An FPGA or ASIC target, or a chip spikefab only prices: the FPGA layout's plan on the cycle
/// engine; with `--bitstream`, an FPGA with an open flow is compiled and built too.
#[allow(clippy::too_many_arguments)]
fn plan_row(
    job: &Job<'_>,
    m: &crate::Model,
    steps: usize,
    batch: &InputBatch,
    t: &Target,
    s: &CompareSettings,
    scored: &Scored<'_>,
    progress: &dyn Progress,
) -> Result<Row, Error> {
    let o = job.plan.for_fpgas().options_for(t.clone(), steps, Some(job.inputs))?;
    let plan = super::options::lower(m, &o, Some(job.inputs))?;
    let run = cycle::run(&plan, batch, steps);
    let (accuracy, agreement) = scored(run.outputs.classes());
    let est: Estimate = energy::estimate(&plan, t, &run);
    let cycles = est.cycles;
    let mut row = Row {
        target: t.name.clone(),
        kind: t.kind.to_string(),
        fits: true,
        why_not: vec![],
        notes: vec![],
        accuracy,
        agreement,
        latency_us: None,
        energy_j: Some(Sourced {
            value: est.energy_per_inference_j,
            source: format!(
                "{} schedule; counted events x {}'s constants (docs/energy.md)",
                plan.schedule.name(),
                t.name
            ),
        }),
        resources: vec![],
    };
    if t.is_chip() {
        // A chip without a back end: the generic mapping says whether its cores and limits hold.
        let net = plan.quantised();
        let mapping = crate::chip::map(&net, t).map_err(|e| Error::Usage(e.to_string()))?;
        row.fits = mapping.fits();
        row.why_not = mapping.violations.clone();
        row.resources = vec![Resource {
            name: "cores".into(),
            used: mapping.cores.len() as u64,
            available: t.chip.as_ref().map(|c| c.cores),
        }];
        row.notes
            .push(format!("no chip model for {}: accuracy from the FPGA layout's integers; no latency model", t.name));
        return Ok(row);
    }
    row.why_not = plan.device_misfits(t);
    row.fits = row.why_not.is_empty();
    row.resources = vec![Resource {
        name: "block RAM".into(),
        used: plan.block_rams(),
        available: (t.device.block_rams > 0).then_some(t.device.block_rams),
    }];
    row.latency_us = Some(Sourced {
        value: cycles / plan.clock_mhz,
        source: format!("{cycles:.0} cycles at the planned {} MHz clock", plan.clock_mhz),
    });
    let open = matches!(t.flow(), Flow::OpenIce40 | Flow::OpenEcp5);
    if s.bitstream && open && row.fits {
        let mut co = CompileOptions::new(
            PlanSettings { target: t.name.clone(), ..job.plan.for_fpgas() },
            s.out_dir.join(&t.name),
        );
        co.passes = job.passes.clone();
        co.samples = job.samples;
        co.inputs = Some(job.inputs.clone());
        co.labels = job.labels.map(<[usize]>::to_vec);
        co.build = CompileSettings { bitstream: true, cosim_samples: 0, ..Default::default() };
        let r = super::compile(m, &co, progress)?;
        if let Hardware::Rtl(x) = &r.hardware
            && let Some(outcome) = &x.fpga
        {
            match outcome {
                FpgaOutcome::DoesNotFit { does_not_fit } => {
                    row.fits = false;
                    row.why_not.push(format!("the bitstream build: {does_not_fit}"));
                }
                built => {
                    row.resources = built
                        .resources()
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(name, used, a)| Resource { name, used, available: Some(a) })
                        .collect();
                    if let Some(f) = built.fmax_mhz() {
                        row.latency_us = Some(Sourced {
                            value: cycles / f.min(plan.clock_mhz).max(f64::MIN_POSITIVE),
                            source: format!(
                                "{cycles:.0} cycles at {:.2} MHz (the bitstream build's Fmax{})",
                                f.min(plan.clock_mhz),
                                if f < plan.clock_mhz { ", below the planned clock" } else { " met the planned clock" }
                            ),
                        });
                    }
                }
            }
        }
        row.notes.extend(r.failures);
    } else if open {
        row.notes.push("logic unchecked: no bitstream build (give --bitstream)".into());
    }
    Ok(row)
}
