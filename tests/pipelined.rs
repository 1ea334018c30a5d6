//! The pipelined schedule (docs/hardware.md section 4): every layer, the input load and the
//! output run on their own sequencers, concurrently on different steps. The RTL is
//! co-simulated against the cycle engine's model of it (every output word, every cycle count)
//! on every corpus model that lowers and on every student; its cycles are compared with the
//! sequential schedule's; early exit is refused.

mod common;

use common::{root, scratch, spikefab, students, tool_or_skip};
use spikefab::data::{Encoding, InputBatch};
use spikefab::flow::cosim::{self, Simulator};
use spikefab::hw::{Plan, PlanOptions, Schedule};
use spikefab::quant::InputStats;
use spikefab::sim::cycle;

/// Every corpus model that lowers (direct and per-step inputs, graded and spike inputs,
/// convolutions, pools, recurrent edges, current-based neurons, value outputs, residual and
/// ensemble branches), at 1 and 4 lanes, in iverilog (event-driven: races and X values show).
#[test]
fn pipelined_cosim_every_corpus_model_iverilog() {
    let test = "pipelined_cosim_every_corpus_model_iverilog";
    if !tool_or_skip("iverilog", test) {
        return;
    }
    let mut checked = 0;
    for c in common::cases(&root().join("tests/data/nir/cases.json")) {
        for lanes in [1usize, 4] {
            let m = c.load();
            let batch = c.batch(&m);
            let Some(plan) = pipelined_plan(&m, &c, lanes, &batch) else { continue };
            cosim_exact(&plan, &batch, batch.n.min(6), &format!("{test}-{}-{lanes}", c.name));
            checked += 1;
        }
    }
    println!("{checked} pipelined corpus designs co-simulated exactly");
    assert!(checked >= 40, "{checked} designs");
}

/// `c`'s pipelined plan on the UP5K at `lanes`, input widths from `stats`, when it lowers and
/// emits Verilog (None otherwise).
fn pipelined_plan(m: &spikefab::Model, c: &common::Case, lanes: usize, stats: &InputBatch) -> Option<Plan> {
    let t = spikefab::target::Target::load("ice40-up5k").unwrap();
    let mut o = PlanOptions::new(t, c.timesteps);
    o.lanes = Some(lanes);
    o.input_stats = Some(InputStats::of(stats));
    o.schedule = Schedule::Pipelined;
    let plan = spikefab::hw::lower(m, &o).ok()?;
    spikefab::back::verilog::emit(&plan, None).is_ok().then_some(plan)
}

/// Co-simulates `n` inputs of `batch` in iverilog: every output word and cycle count equal.
fn cosim_exact(plan: &Plan, batch: &InputBatch, n: usize, name: &str) {
    let r = cosim::cosim(plan, batch, n, Simulator::Iverilog, &scratch(name), &|_| {})
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(r.exact(), "{name}: {:?}", r.first_differences);
    assert_eq!(r.rtl_cycles, r.engine_cycles, "{name}");
}

/// Every student in Verilator (lint clean, co-simulated exactly), and its latency under both
/// schedules: the pipelined one is never slower on any input.
#[test]
fn pipelined_students_are_exact_lint_clean_and_faster() {
    let test = "pipelined_students_are_exact_lint_clean_and_faster";
    if !tool_or_skip("verilator", test) {
        return;
    }
    for (c, _) in students() {
        let lanes = if c.name == "conv_bw" { Some(8) } else { None };
        let m = c.load();
        let batch = c.batch(&m);
        let t = spikefab::target::Target::load("ice40-up5k").unwrap();
        let mut o = PlanOptions::new(t, c.timesteps);
        o.lanes = lanes;
        o.input_stats = Some(InputStats::of(&batch));
        let seq = spikefab::hw::lower(&m, &o).unwrap();
        o.schedule = Schedule::Pipelined;
        let plan = spikefab::hw::lower(&m, &o).unwrap();
        let d = spikefab::back::verilog::emit(&plan, None).unwrap();
        common::assert_lint_clean(&d, &format!("{test}-lint-{}", c.name), &c.name);
        let n = if c.name == "conv_bw" { 4 } else { 12 };
        let dir = scratch(&format!("{test}-{}", c.name));
        let r = cosim::cosim(&plan, &batch, n, Simulator::Verilator, &dir, &|_| {})
            .unwrap_or_else(|e| panic!("{}: {e}", c.name));
        assert!(r.exact(), "{}: {:?}", c.name, r.first_differences);
        assert_eq!(r.rtl_cycles, r.engine_cycles, "{}", c.name);
        // Same outputs as the sequential schedule, in fewer cycles on every input.
        let b = batch.take(64);
        let (a, p) = (cycle::run(&seq, &b, c.timesteps), cycle::run(&plan, &b, c.timesteps));
        for (i, (x, y)) in a.samples.iter().zip(&p.samples).enumerate() {
            assert_eq!(x.raw, y.raw, "{} sample {i}: outputs", c.name);
            assert!(
                y.counters.cycles < x.counters.cycles,
                "{} sample {i}: {} >= {}",
                c.name,
                y.counters.cycles,
                x.counters.cycles
            );
        }
    }
}

/// Early exit decides at the end of a step of every layer; the pipelined schedule has none.
#[test]
fn early_exit_with_the_pipelined_schedule_is_refused() {
    let (code, _, stderr) = spikefab(&[
        "plan",
        "models/mlp_bw/mlp_bw.nir",
        "--from",
        "snntorch",
        "-T",
        "8",
        "--input-scale",
        "1",
        "--early-exit",
        "--schedule",
        "pipelined",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("early exit needs the sequential schedule"), "{stderr}");
}

/// The readers of a direct input follow its load (hdl/sf_events_follow.v): an entry is read
/// once written, and the list ends with its last event or, when the load ends later, with
/// the load. Inputs that put the reader in each case, on every corpus model with a direct
/// input and every direct-input student, at 1 and 4 lanes: no event (the load's end alone),
/// one value first or last, every value, the real input's values only in its last quarter
/// (the reader waits mid-list), and the real input (the students but conv_bw).
#[test]
fn pipelined_readers_follow_the_load_on_edge_inputs_iverilog() {
    let test = "pipelined_readers_follow_the_load_on_edge_inputs_iverilog";
    if !tool_or_skip("iverilog", test) {
        return;
    }
    let mut cases: Vec<common::Case> = common::cases(&root().join("tests/data/nir/cases.json"));
    // conv_bw's convolutions are in the corpus; at these lanes it would take minutes.
    cases.extend(students().into_iter().map(|(c, _)| c).filter(|c| c.name != "conv_bw"));
    let mut checked = 0;
    for c in cases {
        let m = c.load();
        let real = c.batch(&m);
        if real.encoding != Encoding::Direct {
            continue;
        }
        let numel = real.numel;
        let x0 = &real.data[..numel];
        let big = real.data.iter().fold(0f64, |a, &v| if v.abs() > a.abs() { v } else { a });
        let mut data = vec![0.0; numel];
        let one = |j: usize| (0..numel).map(|i| if i == j { big } else { 0.0 }).collect::<Vec<_>>();
        data.extend(one(0));
        data.extend(one(numel - 1));
        data.extend(vec![big; numel]);
        data.extend(x0.iter().enumerate().map(|(i, &v)| if i >= numel - numel / 4 { v } else { 0.0 }));
        data.extend_from_slice(x0);
        let batch = InputBatch { n: data.len() / numel, numel, encoding: Encoding::Direct, data };
        for lanes in [1usize, 4] {
            let Some(plan) = pipelined_plan(&m, &c, lanes, &real) else { continue };
            if plan.input.per_step {
                continue;
            }
            cosim_exact(&plan, &batch, batch.n, &format!("{test}-{}-{lanes}", c.name));
            checked += 1;
        }
    }
    println!("{checked} designs with a direct input co-simulated on edge inputs");
    assert!(checked >= 12, "{checked} designs");
}
