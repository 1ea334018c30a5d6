//! `--datapath auto`: each projection's mode measured, not guessed. The calibration inputs (at
//! most [`CHOICE_SAMPLES`]) run on the cycle engine with every eligible projection dense and
//! with none; the cheaper start is kept, then each eligible projection in plan order is flipped
//! alone and kept when the predicted energy per inference (or, under `--optimize latency`, the
//! cycles) drops, layouts ranked first by whether their memories and predicted logic fit
//! ([`rank`]: a layout beyond `--logic-margin` only when none whose memories fit is within it;
//! when the plan as laid out is itself beyond it, one no larger than that plan counts as
//! within). Each eligible
//! projection's figures in both modes, the others as chosen, go into the plan for `plan` to
//! print (docs/hardware.md 4c).

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::HashMap;

use crate::data::InputBatch;
use crate::energy;
use crate::hw::Plan;
use crate::hw::dense::{self, Mode, ModeChoice, ModeFigures};
use crate::hw::logic::Logic;
use crate::options::{Datapath, Optimize, PlanSettings};
use crate::quant::Source;
use crate::sim::cycle;
use crate::target::Target;

/// Calibration inputs the choice runs at most.
pub const CHOICE_SAMPLES: usize = 64;

type Modes = Vec<Vec<Mode>>;

/// `plan` with its modes chosen as `s.datapath` asks (it comes event-driven or all dense from
/// the layout; only `auto` measures).
pub fn choose(plan: Plan, t: &Target, s: &PlanSettings, calib: Option<&InputBatch>) -> Plan {
    if s.datapath != Datapath::Auto {
        return plan;
    }
    if plan.fuse_steps {
        let mut plan = plan;
        plan.datapath_note = Some("--fuse-steps: every projection that can gather densely does".into());
        return plan;
    }
    let eligible: Vec<(usize, usize)> = plan
        .layers
        .iter()
        .enumerate()
        .flat_map(|(k, l)| (0..l.projections.len()).map(move |pi| (k, pi)))
        .filter(|&(k, pi)| dense::geometry(&plan, k, pi).is_ok())
        .collect();
    let mut plan = plan;
    if eligible.is_empty() {
        plan.datapath_note = Some("auto: every projection event-driven (none can gather densely)".into());
        return plan;
    }
    let Some(calib) = calib else {
        plan.datapath_note =
            Some("auto: event-driven, as no calibration inputs measure the activity the choice needs".into());
        return plan;
    };
    let batch = calib.take(calib.n.min(CHOICE_SAMPLES));
    let fits = plan.memory_misfit(t).is_none();
    // The predicted logic bounds the layouts: within the margin, or, when the plan as laid out
    // is already beyond it, no larger than that plan.
    let (margin, base) = (s.logic_margin, Logic::of(&plan, t));
    let base_over = base.as_ref().and_then(|l| l.over_margin(margin)).is_some();
    // (A family without a model has none for any layout: every layout fits.)
    let logic_fits = |logic: Option<&Logic>| {
        logic.is_none_or(|l| {
            let no_larger = |b: &Logic| l.predicted.lc <= b.predicted.lc && l.predicted.lut4 <= b.predicted.lut4;
            l.over_margin(margin).is_none() || (base_over && base.as_ref().is_some_and(no_larger))
        })
    };
    let steps = plan.timesteps;
    // Each layout measured once: its figures, and per projection (plan order) the words it reads.
    let seen: RefCell<HashMap<Modes, (ModeFigures, Vec<u64>)>> = RefCell::default();
    let measure = |modes: &Modes| -> (ModeFigures, Vec<u64>) {
        if let Some(f) = seen.borrow().get(modes) {
            return f.clone();
        }
        let p = plan.with_modes(modes, t).expect("only eligible projections are made dense");
        let run = cycle::run(&p, &batch, steps);
        let est = energy::estimate(&p, t, &run);
        let logic = Logic::of(&p, t);
        let n = batch.n.max(1) as u64;
        // Weight words, and plane words (dense) or event entries: every event-mode projection
        // of a source reads each of its entries once, so the source's reads split evenly.
        let event_projs = |s: usize| {
            p.layers
                .iter()
                .flat_map(|l| l.projections.iter().zip(&l.modes))
                .filter(|(q, m)| q.source == Source::Layer(s) && **m == Mode::Event)
                .count() as u64
        };
        let mut reads = vec![];
        for (k, l) in p.layers.iter().enumerate() {
            let lc = &run.total.layers[k];
            for (pi, q) in l.projections.iter().enumerate() {
                let w = lc.proj_weight_reads.get(pi).copied().unwrap_or(0);
                let other = match (l.modes[pi], q.source) {
                    (Mode::Dense, _) => w,
                    (Mode::Event, Source::Layer(s)) => run.total.layers[s].event_reads / event_projs(s).max(1),
                    (Mode::Event, Source::Input) => 0,
                };
                reads.push((w + other) / n);
            }
        }
        let f = ModeFigures {
            reads: 0,
            cycles: est.cycles,
            energy_j: est.energy_per_inference_j,
            fits: p.memory_misfit(t).is_none(),
            logic_fits: logic_fits(logic.as_ref()),
            logic_on_device: logic.as_ref().is_none_or(|l| l.misfit().is_none()),
        };
        seen.borrow_mut().insert(modes.clone(), (f.clone(), reads.clone()));
        (f, reads)
    };
    let cost = |f: &ModeFigures| rank(f, fits, s.optimize);
    let none: Modes = plan.modes();
    let all = dense::all_dense(&plan);
    let (f_none, _) = measure(&none);
    let (f_all, _) = measure(&all);
    let mut cur = if cost(&f_all) < cost(&f_none) { all } else { none };
    let mut best = cost(&measure(&cur).0);
    for &(k, pi) in &eligible {
        let mut flip = cur.clone();
        flip[k][pi] = if flip[k][pi] == Mode::Dense { Mode::Event } else { Mode::Dense };
        let c = cost(&measure(&flip).0);
        if c < best {
            (cur, best) = (flip, c);
        }
    }
    // The figures of each eligible projection in both modes, the others as chosen.
    let index = |k: usize, pi: usize| plan.layers[..k].iter().map(|l| l.projections.len()).sum::<usize>() + pi;
    let choices_of = |cur: &Modes| {
        let mut choices = vec![];
        for &(k, pi) in &eligible {
            let as_mode = |m: Mode| {
                let mut v = cur.clone();
                v[k][pi] = m;
                let (mut f, reads) = measure(&v);
                f.reads = reads[index(k, pi)];
                f
            };
            let (event, dense) = (as_mode(Mode::Event), as_mode(Mode::Dense));
            choices.push(ModeChoice { layer: k, projection: pi, mode: cur[k][pi], event, dense });
        }
        choices
    };
    let mut choices = choices_of(&cur);
    // The search ended beyond the margin: a layout of tier 0 that the figures just measured
    // (each projection flipped from the choice) is better; the best of them (ties to the
    // first in mode order, so the choice is deterministic) is taken.
    if best.0 == 1 {
        let better =
            seen.borrow().iter().map(|(m, (f, _))| (cost(f), m.clone())).filter(|(c, _)| c.0 == 0).min_by(|a, b| {
                a.0.partial_cmp(&b.0).unwrap_or(Ordering::Equal).then_with(|| order(&a.1).cmp(&order(&b.1)))
            });
        if let Some((c, m)) = better {
            (cur, best) = (m, c);
            choices = choices_of(&cur);
        }
    }
    let mut out = plan.with_modes(&cur, t).expect("only eligible projections are made dense");
    let n_dense = cur.iter().flatten().filter(|m| **m == Mode::Dense).count();
    let refused = seen.borrow().values().filter(|(f, _)| !f.logic_fits).count();
    let mut bound = match (refused, base_over) {
        (0, _) => String::new(),
        (n, false) => format!("; {n} layouts measured refused, their predicted logic beyond the margin"),
        (n, true) => format!(
            "; {n} layouts measured refused, their predicted logic larger than the laid-out design's, itself beyond \
             the margin"
        ),
    };
    if best.0 == 1 {
        bound.push_str(
            "; no layout measured whose memories fit keeps its predicted logic within the margin, so this one is beyond \
             it (within the device): the memories' count is exact, the model's prediction is not",
        );
    }
    out.datapath_note = Some(format!(
        "auto: {n_dense} of {} eligible projections dense, by the predicted {} on {} calibration inputs{bound}",
        eligible.len(),
        match s.optimize {
            Optimize::Energy => "energy per inference",
            Optimize::Latency => "cycles per inference",
        },
        batch.n
    ));
    out.mode_choices = choices;
    out
}

/// A layout's modes as a sortable key (event before dense, plan order).
fn order(m: &Modes) -> Vec<bool> {
    m.iter().flatten().map(|&x| x == Mode::Dense).collect()
}

/// A layout's rank in the choice (lower is better; tuples compare tier first): (0) memories
/// and predicted logic within the margin; (1) memories that fit and logic beyond the margin
/// yet within the device (the model errs, the memories' count does not), chosen only when no
/// layout of tier 0 is found; (2) memories the device lacks, when the laid-out plan's
/// (`base_fits` false) lack them too, and logic within the margin. Anything else is no choice:
/// tier 3 ranks every such layout alike, so the search never moves to one.
fn rank(f: &ModeFigures, base_fits: bool, optimize: Optimize) -> (u8, f64) {
    let v = match optimize {
        Optimize::Energy => f.energy_j,
        Optimize::Latency => f.cycles,
    };
    match (f.fits, f.logic_fits) {
        (true, true) => (0, v),
        (true, false) if f.logic_on_device => (1, v),
        (false, true) if !base_fits => (2, v),
        _ => (3, 0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fig(energy_j: f64, fits: bool, logic_fits: bool, logic_on_device: bool) -> ModeFigures {
        ModeFigures { energy_j, cycles: energy_j * 1e9, fits, logic_fits, logic_on_device, ..Default::default() }
    }

    /// Memories that fit beat a smaller energy whose memories do not; within the margin beats
    /// beyond it; beyond the device, or memories lacking when the laid-out plan's fit, is
    /// never better than anything.
    #[test]
    fn tiers_order_the_layouts() {
        let r = |f: &ModeFigures, base| rank(f, base, Optimize::Energy);
        let ok = fig(2.0, true, true, true);
        let over_margin = fig(1.0, true, false, true);
        let over_device = fig(0.5, true, false, false);
        let no_mem = fig(0.1, false, true, true);
        assert!(r(&ok, false) < r(&over_margin, false));
        assert!(r(&over_margin, false) < r(&no_mem, false));
        assert!(r(&no_mem, false) < r(&over_device, false));
        // The laid-out plan's memories fit: a layout lacking them is no choice.
        assert!(r(&over_device, true) == r(&no_mem, true));
        assert!(r(&fig(0.01, false, false, false), true) >= r(&no_mem, true));
        // Memories lacking and logic beyond the margin is no choice either way.
        assert_eq!(r(&fig(0.01, false, false, true), false), (3, 0.0));
        assert_eq!(r(&fig(0.01, true, false, false), false), (3, 0.0));
        // Within a tier, the figure optimised decides.
        assert!(r(&fig(1.0, true, true, true), false) < r(&ok, false));
        assert!(rank(&fig(1.0, true, true, true), false, Optimize::Latency) < rank(&ok, false, Optimize::Latency));
    }
}
