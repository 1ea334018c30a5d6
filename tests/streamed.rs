//! The layer-major order a design that streams its weights runs in (docs/streaming.md): every
//! layer runs all its steps before the next layer starts. The cycle engine runs it through the
//! same kernels, so its outputs and counters equal the step-major run's wherever the order is
//! allowed; plans whose arithmetic the order would change (early exit, a projection reading the
//! previous step) are refused.

mod common;

use common::{relayout, root, students};
use spikefab::hw::{PlanOptions, lower};
use spikefab::quant::{InputStats, Source};
use spikefab::sim::cycle::{self, OrderError};
use spikefab::target::Target;

/// On the students and the NIR corpus (direct and per-step inputs, convolutions, pools,
/// recurrence, current-based neurons), at 1, 2 and 8 lanes, event and dense, with analysed and
/// capped (saturating) membranes: outputs and every counter of every sample equal.
#[test]
fn layer_major_order_computes_what_step_major_computes() {
    let t = Target::load("ice40-up5k").unwrap();
    let mut cases: Vec<_> = students().into_iter().map(|(c, _)| c).collect();
    cases.extend(common::cases(&root().join("tests/data/nir/cases.json")));
    let (mut runs, mut per_step, mut saturating, mut refused) = (0, 0, 0, 0);
    for c in &cases {
        let m = c.load();
        let batch = c.batch(&m).take(24);
        for lanes in [1, 2, 8] {
            for cap in [None, Some(8)] {
                let mut o = PlanOptions::new(t.clone(), c.timesteps);
                o.input_stats = Some(InputStats::of(&batch));
                o.settings.lanes = Some(lanes);
                o.settings.membrane_bits = cap;
                let Ok(event) = lower(&m, &o) else { continue };
                if cap.is_some() && !event.layers.iter().any(|l| l.saturate) {
                    continue;
                }
                let previous_step = event.layers.iter().enumerate().any(|(k, l)| {
                    l.projections.iter().any(|p| p.delayed || matches!(p.source, Source::Layer(s) if s >= k))
                });
                let dense = event.with_modes(&spikefab::hw::dense::all_dense(&event), &t).unwrap();
                for (mode, plan) in [("event", &event), ("dense", &dense)] {
                    let what = format!("{} at {lanes} lanes, cap {cap:?}, {mode}", c.name);
                    let steps = plan.timesteps;
                    let got = cycle::run_layer_major(plan, &batch, steps);
                    if previous_step {
                        assert!(matches!(got, Err(OrderError::ReadsPreviousStep(_))), "{what}: not refused");
                        refused += 1;
                        continue;
                    }
                    let got = got.unwrap_or_else(|e| panic!("{what}: {e}"));
                    let want = cycle::run(plan, &batch, steps);
                    assert_eq!(got.outputs.data, want.outputs.data, "{what}: outputs");
                    for (i, (g, w)) in got.samples.iter().zip(&want.samples).enumerate() {
                        assert_eq!(g.raw, w.raw, "{what}: sample {i}");
                        assert_eq!(g.counters, w.counters, "{what}: sample {i}'s counters");
                    }
                    runs += 1;
                    per_step += usize::from(plan.input.per_step);
                    saturating += usize::from(cap.is_some());
                }
            }
        }
    }
    println!("{runs} runs equal ({per_step} with per-step inputs, {saturating} saturating), {refused} refused");
    assert!(runs >= 24 && per_step > 0 && saturating > 0 && refused > 0, "{runs} {per_step} {saturating} {refused}");
}

#[test]
fn layer_major_order_refuses_early_exit() {
    let (c, _) = students().into_iter().next().unwrap();
    let (_, plan, batch) = common::plan_for(&c, Some(2));
    let plan = relayout(&plan, Some(2), |n| n.early_exit = true);
    let e = cycle::run_layer_major(&plan, &batch, plan.timesteps).expect_err("refused");
    assert_eq!(e, OrderError::EarlyExit);
}
