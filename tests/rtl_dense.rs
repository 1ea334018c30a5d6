//! The dense datapath in the RTL (docs/hardware.md 4c): every student with every eligible
//! projection dense, under both schedules, co-simulated against the cycle engine (every output
//! word and every cycle count) in iverilog and Verilator, and lint clean.

use crate::common;

use common::{plan_for, rtl_students, scratch, tool_or_skip};
use spikefab::flow::cosim::{self, Simulator};
use spikefab::hw::dense::{self, Mode};
use spikefab::hw::{Plan, Schedule};

/// Every student's plan (sequential and pipelined) with every eligible projection dense.
fn dense_plans() -> Vec<(String, Plan, spikefab::data::InputBatch)> {
    let t = spikefab::target::Target::load("ice40-up5k").unwrap();
    let mut out = vec![];
    for (c, _) in rtl_students() {
        let lanes = if c.name == "conv_bw" { Some(8) } else { None };
        let (_, plan, batch) = plan_for(&c, lanes);
        for schedule in [Schedule::Sequential, Schedule::Pipelined] {
            let laid = spikefab::hw::layout(plan.quantised(), &t, lanes, schedule);
            let d = laid.with_modes(&dense::all_dense(&laid), &t).unwrap();
            assert!(d.layers.iter().any(|l| l.modes.contains(&Mode::Dense)), "{}: some projection runs dense", c.name);
            out.push((format!("{}-{schedule:?}", c.name), d, batch.clone()));
        }
    }
    out
}

/// `every`: each student in both schedules; else each in one, the schedules alternating over
/// the students (both still co-simulated).
fn cosim_dense(sim: Simulator, tool: &str, test: &str, samples: usize, conv_samples: usize, every: bool) {
    if !tool_or_skip(tool, test) {
        return;
    }
    let plans = dense_plans().into_iter().enumerate().filter(|(i, _)| every || (i / 2 + i % 2) % 2 == 0);
    for (_, (name, plan, batch)) in plans {
        let n = if name.starts_with("conv_bw") { conv_samples } else { samples };
        let dir = scratch(&format!("{test}-{name}"));
        let r = cosim::cosim(&plan, &batch, n, sim, &dir, &|_| {}).unwrap_or_else(|e| panic!("{name}: {e}"));
        println!("{name} ({tool}): {} words, {} samples, cycles {:?}", r.words, r.samples, r.rtl_cycles);
        assert_eq!(r.samples, n);
        assert!(r.words > 0);
        assert!(r.exact(), "{name}: {:?}", r.first_differences);
        assert_eq!(r.rtl_cycles, r.engine_cycles, "{name}");
    }
}

#[test]
fn dense_cosim_every_student_iverilog() {
    cosim_dense(Simulator::Iverilog, "iverilog", "dense_cosim_every_student_iverilog", 2, 1, true);
}

#[test]
fn dense_cosim_every_student_verilator() {
    cosim_dense(Simulator::Verilator, "verilator", "dense_cosim_every_student_verilator", 4, 2, false);
}

#[test]
fn dense_verilator_lint_is_clean() {
    if !tool_or_skip("verilator", "dense_verilator_lint_is_clean") {
        return;
    }
    for (name, plan, _) in dense_plans() {
        let d = spikefab::back::verilog::emit(&plan, None).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(d.files.iter().any(|(f, _)| f == "sf_plane.v"), "{name}: a dense design has spike planes");
        common::assert_lint_clean(&d, &format!("dense-lint-{name}"), &name);
    }
}

/// Early exit (sequential only): the shared state memories tell stale rows by their epoch and
/// the spike planes are never cleared (every bit is rewritten before it is read); still exact.
#[test]
fn dense_cosim_early_exit_iverilog() {
    let test = "dense_cosim_early_exit_iverilog";
    if !tool_or_skip("iverilog", test) {
        return;
    }
    let t = spikefab::target::Target::load("ice40-up5k").unwrap();
    for name in ["mlp_bw", "ensemble_bw"] {
        let c = rtl_students().into_iter().map(|(c, _)| c).find(|c| c.name == name).unwrap();
        let (_, plan, batch) = plan_for(&c, None);
        let exit = common::relayout(&plan, None, |n| n.early_exit = true);
        let d = exit.with_modes(&dense::all_dense(&exit), &t).unwrap();
        assert!(d.early_exit && d.schedule == Schedule::Sequential);
        let r = cosim::cosim(&d, &batch, 4, Simulator::Iverilog, &scratch(&format!("{test}-{name}")), &|_| {})
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(r.exact(), "{name}: {:?}", r.first_differences);
        assert_eq!(r.rtl_cycles, r.engine_cycles, "{name}");
    }
}

/// The op corpus's dense-eligible projections (its residual merge's one-to-one edge with
/// multi-bit weights; the corpus's other weights are multi-bit), at 1 and 4 lanes, both
/// schedules, in iverilog.
#[test]
fn dense_cosim_corpus_iverilog() {
    let test = "dense_cosim_corpus_iverilog";
    if !tool_or_skip("iverilog", test) {
        return;
    }
    let t = spikefab::target::Target::load("ice40-up5k").unwrap();
    let mut done = vec![];
    for c in common::cases(&common::root().join("tests/data/nir/cases.json")) {
        let m = c.load();
        let batch = c.batch(&m);
        for lanes in [1usize, 4] {
            for schedule in [Schedule::Sequential, Schedule::Pipelined] {
                let mut o = spikefab::hw::PlanOptions::new(t.clone(), c.timesteps);
                o.input_stats = Some(spikefab::quant::InputStats::of(&batch));
                o.settings.lanes = Some(lanes);
                o.settings.schedule = Some(schedule.into());
                let Ok(plan) = spikefab::hw::lower(&m, &o) else { continue };
                let plan = plan.with_modes(&dense::all_dense(&plan), &t).unwrap();
                let n = plan.layers.iter().flat_map(|l| &l.modes).filter(|m| **m == Mode::Dense).count();
                if n == 0 || spikefab::back::verilog::emit(&plan, None).is_err() {
                    continue;
                }
                let name = format!("{}-{lanes}-{schedule:?}", c.name);
                let r = cosim::cosim(
                    &plan,
                    &batch,
                    batch.n.min(3),
                    Simulator::Iverilog,
                    &scratch(&format!("{test}-{name}")),
                    &|_| {},
                )
                .unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(r.exact(), "{name}: {:?}", r.first_differences);
                assert_eq!(r.rtl_cycles, r.engine_cycles, "{name}");
                done.push(format!("{name} ({n} dense)"));
            }
        }
    }
    println!("co-simulated dense: {}", done.join(", "));
    assert!(!done.is_empty(), "some corpus model has a dense-eligible projection");
}
