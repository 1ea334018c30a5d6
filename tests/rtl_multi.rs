//! Multi-spike neurons and membrane floors in the RTL (docs/hardware.md section 2), on networks
//! the frameworks exported (tests/data/frameworks/importers, read with `--from sinabs`: Sinabs'
//! MultiSpike IAF layers with `min_v_mem`): co-simulated against the cycle engine, every output
//! word (spike counts) and every cycle count, in iverilog and Verilator, both schedules, with
//! the floor or the counts alone, with early exit, and lint clean.

use crate::common;

use common::{root, scratch, tool_or_skip};
use spikefab::Model;
use spikefab::data::InputBatch;
use spikefab::flow::cosim::{self, Simulator};
use spikefab::hw::{Plan, PlanOptions, Schedule, lower};
use spikefab::ir::dialect::{DialectOverrides, Preset, SpikeMode, VMin};
use spikefab::quant::InputStats;
use spikefab::sim::cycle;

/// A framework model of tests/data/frameworks/importers read with `--from sinabs -T 10` and
/// `o`'s further options, and its inputs.
fn load(name: &str, o: DialectOverrides) -> (Model, InputBatch) {
    let dir = root().join("tests/data/frameworks/importers").join(name);
    let o = DialectOverrides { from: Some(Preset::Sinabs), timesteps: Some(10), ..o };
    let m = Model::load(&dir.join("model.nir"), &o).unwrap_or_else(|e| panic!("{name}: {e}"));
    let input = m.graph.the_input().unwrap();
    let b = InputBatch::load(&dir.join("inputs.npy"), &m.info.out_shape[input.index()]).unwrap();
    (m, b)
}

/// The plan of `m` on the ECP5-85F with `schedule` (and early exit).
fn plan(m: &Model, batch: &InputBatch, schedule: Schedule, early_exit: bool) -> Plan {
    let mut o = PlanOptions::new(spikefab::target::Target::load("ecp5-85k").unwrap(), 10);
    o.input_stats = Some(InputStats::of(batch));
    o.settings.schedule = Some(schedule.into());
    o.settings.early_exit = early_exit;
    lower(m, &o).unwrap()
}

fn exact(name: &str, plan: &Plan, batch: &InputBatch, samples: usize, sim: Simulator, test: &str) {
    let dir = scratch(&format!("{test}-{name}"));
    let r = cosim::cosim(plan, batch, samples, sim, &dir, &|_| {}).unwrap_or_else(|e| panic!("{name}: {e}"));
    println!("{name}: {} words, {} samples, cycles {:?}", r.words, r.samples, r.rtl_cycles);
    assert_eq!(r.samples, samples, "{name}");
    assert!(r.exact(), "{name}: {:?}", r.first_differences);
    assert_eq!(r.rtl_cycles, r.engine_cycles, "{name}");
}

/// The dense Sinabs network (two MultiSpike IAF layers with floors -0.5 and -1.5) as exported,
/// with its floor alone (`--spikes single`), with its counts alone (`--v-min none`) and with a
/// fixed floor, both schedules, in iverilog; the counts reach above one.
#[test]
fn multi_spike_and_floor_cosim_iverilog() {
    let test = "multi_spike_and_floor_cosim_iverilog";
    if !tool_or_skip("iverilog", test) {
        return;
    }
    let variants = [
        ("as-exported", DialectOverrides::default()),
        ("floor-only", DialectOverrides { spikes: Some(SpikeMode::Single), ..Default::default() }),
        ("counts-only", DialectOverrides { v_min: Some(VMin::None), ..Default::default() }),
        ("fixed-floor", DialectOverrides { v_min: Some(VMin::Value(-0.25)), ..Default::default() }),
    ];
    for (what, o) in variants {
        let (m, batch) = load("sinabs_if_dense", o);
        for schedule in [Schedule::Sequential, Schedule::Pipelined] {
            let p = plan(&m, &batch, schedule, false);
            let counts = p.layers.iter().any(|l| l.multi);
            assert_eq!(counts, what != "floor-only", "{what}");
            assert_eq!(p.layers.iter().all(|l| !l.params.vmin.is_empty()), what != "counts-only", "{what}");
            if counts {
                let e = cycle::run(&p, &batch, 10);
                let most = e.samples.iter().flat_map(|s| s.raw.iter()).max().copied().unwrap_or(0);
                assert!(most > 1, "{what}: output counts above one are exercised ({most})");
            }
            exact(&format!("if-dense-{what}-{schedule:?}"), &p, &batch, 6, Simulator::Iverilog, test);
        }
    }
}

/// The Sinabs CNN (conv stride 2 and padding 1, sum pooling folded into the next conv's events,
/// MultiSpike IAF with floors at every layer) in Verilator, both schedules.
#[test]
fn sinabs_cnn_cosim_verilator() {
    let test = "sinabs_cnn_cosim_verilator";
    if !tool_or_skip("verilator", test) {
        return;
    }
    let (m, batch) = load("sinabs_cnn", DialectOverrides::default());
    for schedule in [Schedule::Sequential, Schedule::Pipelined] {
        let p = plan(&m, &batch, schedule, false);
        assert!(p.layers.iter().all(|l| l.multi && !l.params.vmin.is_empty()));
        assert!(spikefab::hw::schedule::count_stages(&p) > 0);
        exact(&format!("cnn-{schedule:?}"), &p, &batch, 4, Simulator::Verilator, test);
    }
}

/// Early exit with counts: a multi-spike hidden layer under a single-spike output (exits
/// happen), and a multi-spike output whose counts are small enough for the decision to be
/// reached (its output weights scaled down), where a class can gain its largest count per
/// step; both exact, exits included.
#[test]
fn multi_spike_early_exit_cosim_iverilog() {
    let test = "multi_spike_early_exit_cosim_iverilog";
    if !tool_or_skip("iverilog", test) {
        return;
    }
    let (m, batch) =
        load("sinabs_if_dense", DialectOverrides { spikes: Some(SpikeMode::MultiHidden), ..Default::default() });
    let p = plan(&m, &batch, Schedule::Sequential, true);
    let e = cycle::run(&p, &batch, 10);
    assert!(e.samples.iter().any(|s| s.counters.steps_run < 10), "some sample exits early");
    exact("multi-hidden-exit", &p, &batch, 8, Simulator::Iverilog, test);

    // One multi-spike IF layer read out directly: class 0's weights are large (counts of 1-3
    // per step against a bound of 6), so its lead outgrows what the others can still gain.
    let rows = [0.45, 0.15, -0.3, 0.05];
    let w: Vec<String> = rows.iter().flat_map(|&r| std::iter::repeat_n(r.to_string(), 12)).collect();
    let json = format!(
        r#"{{"format": "spikefab-graph", "version": 1,
            "dialect": {{"dt": 1.0, "reset": "subtract", "fire_on_equal": true, "timesteps": 10,
                         "spikes": "multi", "v_min": "-threshold"}},
            "nodes": [
              {{"name": "input", "op": {{"type": "Input", "shape": [12]}}}},
              {{"name": "fc", "op": {{"type": "Affine",
                 "weight": {{"dtype": "f32", "shape": [4, 12], "data": [{}]}},
                 "bias": {{"dtype": "f32", "shape": [4], "data": [0, 0, 0, 0]}}}}}},
              {{"name": "iaf", "op": {{"type": "IF",
                 "r": {{"dtype": "f32", "shape": [4], "data": [1, 1, 1, 1]}},
                 "v_threshold": {{"dtype": "f32", "shape": [4], "data": [1, 1, 1, 1]}},
                 "v_reset": {{"dtype": "f32", "shape": [4], "data": [0, 0, 0, 0]}}}}}},
              {{"name": "output", "op": {{"type": "Output"}}}}],
            "edges": [["input", "fc"], ["fc", "iaf"], ["iaf", "output"]]}}"#,
        w.join(", ")
    );
    let path = scratch("multi-out-model").join("multi_out.json");
    std::fs::write(&path, json).unwrap();
    let m = Model::load(&path, &DialectOverrides::default()).unwrap();
    let p = plan(&m, &batch, Schedule::Sequential, true);
    let out = &p.layers[p.output.layer];
    assert!(out.multi && out.max_count > 1, "a multi-spike output ({} at most)", out.max_count);
    let e = cycle::run(&p, &batch, 10);
    assert!(e.samples.iter().flat_map(|s| s.raw.iter()).any(|&v| v > 1), "counts above one reach the output");
    assert!(e.samples.iter().any(|s| s.counters.steps_run < 10), "some sample exits early");
    exact("multi-out-exit", &p, &batch, 16, Simulator::Iverilog, test);
}

#[test]
fn multi_spike_verilator_lint_is_clean() {
    if !tool_or_skip("verilator", "multi_spike_verilator_lint_is_clean") {
        return;
    }
    for name in ["sinabs_if_dense", "sinabs_cnn"] {
        let (m, batch) = load(name, DialectOverrides::default());
        for (schedule, exit) in
            [(Schedule::Sequential, false), (Schedule::Sequential, true), (Schedule::Pipelined, false)]
        {
            let p = plan(&m, &batch, schedule, exit);
            let d = spikefab::back::verilog::emit(&p, None).unwrap();
            common::assert_lint_clean(&d, &format!("multi-lint-{name}-{schedule:?}-{exit}"), name);
        }
    }
}
