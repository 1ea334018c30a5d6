//! The layer-major order a design that streams its weights runs in (docs/streaming.md): every
//! layer runs all its steps before the next layer starts. The cycle engine runs it through the
//! same kernels, so on every bundled student, at several lane counts and in both datapath
//! modes, its outputs and counters equal the step-major run's; what would change the
//! arithmetic (early exit) is refused.

mod common;

use common::{plan_for, relayout, students};
use spikefab::sim::cycle;
use spikefab::target::Target;

#[test]
fn layer_major_order_computes_what_step_major_computes() {
    let t = Target::load("ice40-up5k").unwrap();
    let mut runs = 0;
    for (c, _) in students() {
        for lanes in [1, 2, 8] {
            let (_, event, batch) = plan_for(&c, Some(lanes));
            let event = relayout(&event, Some(lanes), |n| n.early_exit = false);
            let dense = event.with_modes(&spikefab::hw::dense::all_dense(&event), &t).unwrap();
            for (mode, plan) in [("event", &event), ("dense", &dense)] {
                let what = format!("{} at {lanes} lanes, {mode}", c.name);
                let steps = plan.timesteps;
                let want = cycle::run(plan, &batch, steps);
                let got = cycle::run_layer_major(plan, &batch, steps).unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_eq!(got.outputs.data, want.outputs.data, "{what}: outputs");
                for (i, (g, w)) in got.samples.iter().zip(&want.samples).enumerate() {
                    assert_eq!(g.raw, w.raw, "{what}: sample {i}");
                    assert_eq!(g.counters, w.counters, "{what}: sample {i}'s counters");
                }
                runs += 1;
            }
        }
    }
    assert!(runs >= 24, "{runs} runs");
}

#[test]
fn layer_major_order_refuses_early_exit() {
    let (c, _) = students().into_iter().next().unwrap();
    let (_, plan, batch) = plan_for(&c, Some(2));
    let plan = relayout(&plan, Some(2), |n| n.early_exit = true);
    let e = cycle::run_layer_major(&plan, &batch, plan.timesteps).expect_err("refused");
    assert_eq!(e, cycle::OrderError::EarlyExit);
}
