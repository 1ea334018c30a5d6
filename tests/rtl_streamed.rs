//! The streamed schedule's RTL (docs/hardware.md 4d): layer-major, each layer running every
//! step before the next, with event lists, spike planes and a per-step input holding every
//! step. Its co-simulation must match the cycle engine word for word and cycle for cycle, and
//! each design is Verilator -Wall clean.

use crate::common;

use common::{assert_lint_clean, cases, root, rtl_students, scratch, tool_or_skip};
use spikefab::flow::cosim::{self, Simulator};
use spikefab::hw::dense::{self, Mode};
use spikefab::hw::{PlanOptions, Schedule, lower};
use spikefab::quant::InputStats;
use spikefab::target::{ScheduleChoice, Target};

/// The NIR op corpus models the layer-major order allows (feed-forward: every projection reads
/// an earlier layer at the same step), in turn at 2 and at 4 lanes (one design each, to keep
/// the suite short), and the students in turn at 2 lanes event-driven and at 8 lanes with
/// every eligible projection dense (tests/rtl_tiles.rs runs them with their weights streamed
/// from the SDRAM): exact against the cycle engine. Covers per-step and direct inputs,
/// current-based neurons, pooling, convolutions, shortcuts, several layers reading one list,
/// the output layer's OUT phase inside its layer's steps, one state memory that every layer
/// reuses from row 0, and event lists and spike planes that reuse the words of ones no longer
/// read.
#[test]
fn streamed_rtl_cosim_is_exact() {
    if !tool_or_skip("iverilog", "streamed_rtl_cosim_is_exact") {
        return;
    }
    let lint = tool_or_skip("verilator", "streamed_rtl_cosim_is_exact (Verilator lint)");
    let t = Target::load("ice40-up5k").unwrap();
    let mut all: Vec<_> = cases(&root().join("tests/data/nir/cases.json"));
    all.extend(rtl_students().into_iter().map(|(c, _)| c));
    let (mut done, mut per_step, mut dense_runs, mut refused) = (vec![], 0, 0, 0);
    let (mut shared_states, mut reused_lists, mut reused_planes, mut shared_dense) = (0, 0, 0, 0);
    let (mut shared_addends, mut shared_terms, mut shared_o2o) = (0, 0, 0);
    let first_student = all.len() - rtl_students().len();
    for (i, c) in all.iter().enumerate() {
        let m = c.load();
        let batch = c.batch(&m).take(3);
        // Binary students gather densely; the corpus's weights are multi-bit, so its dense
        // turn only varies the lanes.
        let configs: &[(usize, bool)] = if i >= first_student {
            if (i - first_student) % 2 == 1 { &[(8, true)] } else { &[(2, false)] }
        } else if i % 2 == 0 {
            &[(2, false)]
        } else {
            &[(4, true)]
        };
        for &(lanes, dense) in configs {
            let mut o = PlanOptions::new(t.clone(), c.timesteps);
            o.input_stats = Some(InputStats::of(&batch));
            o.settings.lanes = Some(lanes);
            o.settings.schedule = Some(ScheduleChoice::Streamed);
            let plan = match lower(&m, &o) {
                Ok(p) => p,
                Err(e) => {
                    // Refused by the order (a recurrent or delayed projection), or by the plan
                    // whatever the schedule.
                    o.settings.schedule = None;
                    assert!(e.message.contains("previous step") || lower(&m, &o).is_err(), "{}: {e}", c.name);
                    refused += usize::from(e.message.contains("previous step"));
                    continue;
                }
            };
            assert_eq!(plan.schedule, Schedule::Streamed);
            let plan = if dense { plan.with_modes(&dense::all_dense(&plan), &t).unwrap() } else { plan };
            let what = format!("{} at {lanes} lanes{}", c.name, if dense { ", dense" } else { "" });
            let dir = scratch(&format!("streamed-{}-{lanes}", c.name));
            // The students' designs are larger: Verilator builds them faster than iverilog runs.
            let sim = if i >= first_student && lint { Simulator::Verilator } else { Simulator::Iverilog };
            let r = cosim::cosim(&plan, &batch, batch.n, sim, &dir, &|_| {}).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert!(r.exact(), "{what}: {:?}", r.first_differences);
            let d = spikefab::back::verilog::emit(&plan, None).unwrap();
            if lint {
                assert_lint_clean(&d, &format!("streamed-lint-{}-{lanes}", c.name), &what);
            }
            // Two or more binary dense units share one popcount datapath (one phase at a time).
            let projs: Vec<(usize, usize)> = (0..plan.layers.len())
                .flat_map(|k| (0..plan.layers[k].projections.len()).map(move |j| (k, j)))
                .collect();
            let is_dense = |k: usize, j: usize| plan.layers[k].modes[j] == Mode::Dense;
            let one_to_one =
                |k, j| matches!(dense::geometry(&plan, k, j).map(|g| g.gather), Ok(dense::Gather::OneToOne));
            let binary_dense = projs.iter().filter(|&&(k, j)| is_dense(k, j) && !one_to_one(k, j)).count();
            let has_shared = d.files.iter().any(|(_, text)| text.contains("shared dense datapath"));
            assert_eq!(has_shared, binary_dense >= 2, "{what}: {binary_dense} binary dense units");
            // Its units add in their state memory's one adder, not each in its own; so do the
            // event-driven units of layers that do not saturate and the one-to-one units, which
            // hand it their addends (the former through sf_acc_term).
            let shared_adder = d.files.iter().any(|(_, text)| text.contains("Shared state adder"));
            let addends = d.files.iter().any(|(_, text)| text.contains("its addends, for the shared adder"));
            let terms = d.files.iter().any(|(name, _)| name == "sf_acc_term.v");
            let events = projs.iter().any(|&(k, j)| !is_dense(k, j) && !plan.layers[k].saturate);
            let o2o = projs.iter().any(|&(k, j)| is_dense(k, j) && one_to_one(k, j));
            assert_eq!(terms, events, "{what}: the event-driven units' addends (sf_acc_term)");
            assert_eq!(addends, events || o2o, "{what}: the other units' addends");
            assert_eq!(shared_adder, has_shared || events || o2o, "{what}: the shared state adder");
            shared_o2o += usize::from(o2o && addends);
            shared_addends += usize::from(addends);
            shared_terms += usize::from(terms);
            shared_dense += usize::from(has_shared);
            per_step += usize::from(plan.input.per_step);
            dense_runs += usize::from(plan.layers.iter().any(|l| l.modes.contains(&Mode::Dense)));
            shared_states += usize::from(plan.banks.iter().any(|b| b.kind == "x" && b.layers.len() > 1));
            let held = spikefab::hw::memory::steps_held(&plan);
            let words =
                |b: &spikefab::hw::memory::Bank| b.layers.iter().map(|&k| dense::listed_rows(&plan, k) * held).sum();
            reused_lists += usize::from(plan.banks.iter().any(|b| b.kind == "events" && b.depth < words(b)));
            let plane_words = |b: &spikefab::hw::memory::Bank| {
                b.layers.iter().map(|&k| dense::Plane::of(&plan.layers[k]).depth() * held).sum()
            };
            reused_planes += usize::from(plan.banks.iter().any(|b| b.kind == "plane" && b.depth < plane_words(b)));
            done.push(what);
        }
    }
    println!(
        "co-simulated streamed: {}; {refused} refused by the order; {shared_addends} with other units' addends in the shared adder ({shared_terms} event-driven, {shared_o2o} one-to-one)",
        done.join(", ")
    );
    assert!(
        done.len() >= 30
            && per_step > 0
            && dense_runs > 0
            && refused > 0
            && shared_states > 0
            && reused_lists > 0
            && reused_planes > 0
            && shared_dense > 0
            && shared_terms > 0
            && shared_o2o > 0,
        "{shared_dense} with a shared dense datapath, {per_step} per-step, {dense_runs} dense, {refused} refused, {shared_states} with one state memory, \
         {reused_lists} reusing event-list words, {reused_planes} reusing plane words: {done:?}"
    );
}

/// `--plane-bits` wider than the default packs more lane groups of a position into one plane
/// word, so a dense cycle gathers more synapses: the students, streamed and sequential, dense at
/// 8 lanes with 64- and 128-bit plane words, are exact against the cycle engine, and the
/// multi-group plane words do take fewer cycles than the default's.
#[test]
fn wider_plane_words_cosim_is_exact() {
    let test = "wider_plane_words_cosim_is_exact";
    if !tool_or_skip("iverilog", test) {
        return;
    }
    let lint = tool_or_skip("verilator", &format!("{test} (Verilator lint)"));
    let t = Target::load("ice40-up5k").unwrap();
    let mut wide = 0;
    // Each student co-simulates one (order, width) pair and the pairs rotate over the students,
    // so both orders and both widths are co-simulated on every run while the test stays one
    // co-simulation per student (each takes a while; the orders share the dense units).
    let pairs = [
        (ScheduleChoice::Streamed, 128),
        (ScheduleChoice::Sequential, 64),
        (ScheduleChoice::Streamed, 64),
        (ScheduleChoice::Sequential, 128),
    ];
    for (i, (c, _)) in rtl_students().into_iter().enumerate() {
        let m = c.load();
        let batch = c.batch(&m).take(2);
        let (schedule, bits) = pairs[i % pairs.len()];
        let cycles_at = |bits: usize| {
            let mut o = PlanOptions::new(t.clone(), c.timesteps);
            o.input_stats = Some(InputStats::of(&batch));
            o.settings.lanes = Some(8);
            o.settings.plane_bits = bits;
            o.settings.schedule = Some(schedule);
            let plan = lower(&m, &o).unwrap_or_else(|e| panic!("{}: {e}", c.name));
            let plan = plan.with_modes(&dense::all_dense(&plan), &t).unwrap();
            let cycles = spikefab::sim::cycle::run(&plan, &batch, c.timesteps).total.cycles;
            (plan, cycles)
        };
        let (_, narrow) = cycles_at(dense::WORD_MAX);
        let (plan, cycles) = cycles_at(bits);
        let widest = (0..plan.layers.len())
            .flat_map(|k| (0..plan.layers[k].projections.len()).map(move |j| (k, j)))
            .filter(|&(k, j)| plan.layers[k].modes[j] == Mode::Dense)
            .filter_map(|(k, j)| dense::geometry(&plan, k, j).ok())
            .map(|g| g.plane.width())
            .max()
            .unwrap_or(0);
        let what = format!("{} {schedule:?} at {bits}-bit plane words (widest {widest})", c.name);
        assert!(widest <= bits, "{what}");
        let dir = scratch(&format!("plane-bits-{}-{schedule:?}-{bits}", c.name));
        let r = cosim::cosim(&plan, &batch, batch.n, Simulator::Iverilog, &dir, &|_| {})
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(r.exact(), "{what}: {:?}", r.first_differences);
        if lint {
            let d = spikefab::back::verilog::emit(&plan, None).unwrap();
            assert_lint_clean(&d, &format!("plane-bits-lint-{}-{bits}", c.name), &what);
        }
        if widest > dense::WORD_MAX {
            wide += 1;
            assert!(cycles < narrow, "{what}: {cycles} cycles, {narrow} at the default");
        }
    }
    assert!(wide > 0, "no student has a plane word wider than the default at 8 lanes");
}

/// Both back ends emit the streamed schedule, with its weights on chip and streamed from the
/// board's SDRAM: the RTL through its controller (tests/rtl_tiles.rs), the HLS C++ through an
/// `m_axi` port (tests/hls.rs C-simulates both forms).
#[test]
fn both_back_ends_emit_the_streamed_schedule() {
    let (c, _) = rtl_students().into_iter().next().unwrap();
    let m = c.load();
    let batch = c.batch(&m);
    let mut o = PlanOptions::new(Target::load("ice40-up5k").unwrap(), c.timesteps);
    o.input_stats = Some(InputStats::of(&batch));
    o.settings.schedule = Some(ScheduleChoice::Streamed);
    let plan = lower(&m, &o).unwrap();
    assert!(plan.external.is_none());
    assert!(spikefab::back::verilog::emit(&plan, None).is_ok());
    assert!(spikefab::back::hls::emit(&plan, "xc7a35t").is_ok());
    o.target = Target::load("ulx3s-85f").unwrap();
    let plan = lower(&m, &o).unwrap();
    assert!(plan.external.is_some());
    assert!(spikefab::back::verilog::emit(&plan, None).is_ok());
    let h = spikefab::back::hls::emit(&plan, "xc7a35t").unwrap();
    assert!(h.files.iter().any(|(n, _)| n == "weights.hex"));
}
