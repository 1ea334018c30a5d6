//! `compare`: one student on every target, side by side. Each target runs its own exact model
//! (the cycle engine on an FPGA or ASIC plan, a chip back end's chip model, or for a chip
//! spikefab only prices the FPGA layout's nominal integers) on the same checked inputs, and
//! gives one row: whether the model fits and why not, accuracy and agreement with the
//! reference, latency, energy and resources, each with its source. A target that cannot take
//! the model is a row that says why; it never fails the table.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::backend::{self, CascadeArgs, RowContext, Stage};
use super::compile::CompileOptions;
use super::shard::{self, Shard};
use super::{Error, Job, Progress};
use crate::data;
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
    /// The students switched on at run time on every target that can switch them (the FPGA
    /// and ASIC designs taking a mask); the reference runs the model pruned to them, and a
    /// target that cannot switch students is a row that says so.
    #[command(flatten)]
    #[serde(flatten)]
    pub mask: super::mask::StudentMask,
}

pub use super::resource::{Resource, Row, Sourced};

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
    /// The students switched on at run time (`--active-students`; empty: every student).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub active_students: Vec<String>,
    /// The cascade's margin (`--cascade`): the FPGA rows run the cascade over those students.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cascade: Option<u64>,
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
            "<p>{} inputs, T = {}{}{}. Each target runs its own exact model; a target that cannot take the model says why.</p>",
            self.samples,
            self.timesteps,
            self.reference_accuracy
                .map(|a| format!("; the float model's accuracy {:.2}%", 100.0 * a))
                .unwrap_or_default(),
            if self.active_students.is_empty() {
                String::new()
            } else {
                format!("; students switched on at run time: {}", esc(&self.active_students.join(", ")))
            },
        );
        if let Some(m) = self.cascade {
            let _ = writeln!(
                b,
                "<p>The FPGA designs run the students as a cascade that stops at output margin {m}; agreement is with the model over every active student.</p>"
            );
        }
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
    } else if backend::of(&t).info().runs(Stage::ChipModel) {
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
        let same = (
            &p.part.model,
            p.part.samples,
            p.part.timesteps,
            p.part.reference_accuracy,
            &p.part.active_students,
            p.part.cascade,
        ) == (
            &base.model,
            base.samples,
            base.timesteps,
            base.reference_accuracy,
            &base.active_students,
            base.cascade,
        );
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
    // Under a student mask the reference is the model pruned to the active students.
    let pruned = super::check::masked_reference(job, &s.mask)?;
    let prep = job.prepare(progress)?;
    let cut = pruned.as_ref().map_or(&prep.cut, |p| &p.cut);
    let steps = prep.steps;
    let checked = job.checked()?;
    let batch = &*checked.inputs;
    let output = cut.graph.select_output(None).map_err(reference::SimError::from)?;
    let r = super::progress::step(progress, "running the reference engine", || {
        reference::run(&cut.graph, &cut.info, cut.dialect(), batch, &RunOptions { steps, f64: false, output }, None)
    })?;
    let reference = r.outputs.classes();
    let labels = checked.labels;
    // With --bitstream, the FPGA rows compile and build: these options, on each row's target.
    let build = s.bitstream.then(|| {
        let mut co = CompileOptions::new(job.plan.for_fpgas(), &s.out_dir);
        co.passes = job.passes.clone();
        co.samples = job.samples;
        co.inputs = Some(job.inputs.clone());
        co.labels = job.labels.map(<[usize]>::to_vec);
        co.build.mask = s.mask.clone();
        co
    });
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
        let b = backend::of(&t);
        let settings = b.settings_beside_others(job.plan);
        let row = b.lay_out(&prep.model, &settings, &t, steps, Some(job.inputs)).and_then(|(d, phase)| {
            let mut row = d.row(&RowContext {
                model: &prep.model,
                target: &t,
                batch,
                steps,
                scored: &scored,
                active: &s.mask.active_students,
                cascade: s.mask.cascade.map(|margin| CascadeArgs {
                    margin,
                    order: &s.mask.cascade_order,
                    calib: job.inputs,
                }),
                bitstream: build.as_ref().map(|o| (s.out_dir.as_path(), o)),
                progress,
            })?;
            // What the back end's own passes changed (a chip's legalisation), as the row's notes.
            let changes =
                phase.into_iter().flat_map(|r| r.changes.into_iter().map(move |c| format!("{}: {c}", r.pass)));
            row.notes.splice(0..0, changes);
            Ok(row)
        });
        rows.push(row.unwrap_or_else(|e| Row::refused(&t.name, &t.kind.to_string(), e.to_string())));
    }
    Ok(Comparison {
        model: prep.model.path.display().to_string(),
        samples: batch.n,
        timesteps: steps,
        reference_accuracy: labels.map(|l| data::agreement(&reference, l)),
        rows,
        active_students: s.mask.active_students.clone(),
        cascade: s.mask.cascade,
    })
}
