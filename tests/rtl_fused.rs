//! The steps side by side (`--fuse-steps`) in RTL (docs/streaming.md section 3, "Its RTL"): a
//! fused layer's FUSE phase gathers each row's T steps at once into the sum buffer and drives
//! the update datapath through them. Its co-simulation must match the cycle engine word for
//! word and cycle for cycle, and each design is Verilator -Wall clean.

use crate::common;

use common::{assert_lint_clean, root, scratch, students, tool_or_skip};
use spikefab::flow::cosim::{self, Simulator};
use spikefab::hw::dense::{self, Mode};
use spikefab::hw::{PlanOptions, lower};
use spikefab::quant::InputStats;
use spikefab::target::{ScheduleChoice, Target};

/// `m` lowered with `--fuse-steps` under the streamed schedule at `lanes` lanes, `steps`
/// steps and plane words of at most `plane_bits` (None: the default) on `t` (calibrated on the
/// first `n` inputs of `batch`), its
/// dense gathers of bit planes (multi-bit weights, which the Verilog back end does not gather
/// yet) event-driven instead; None when the streamed schedule refuses it.
fn fused_plan(
    m: &spikefab::Model,
    batch: &spikefab::data::InputBatch,
    (lanes, steps, plane_bits): Config,
    t: &Target,
    n: usize,
) -> Option<(spikefab::hw::Plan, spikefab::data::InputBatch)> {
    let batch = batch.take(n);
    let mut o = PlanOptions::new(t.clone(), steps);
    o.input_stats = Some(InputStats::of(&batch));
    o.settings.lanes = Some(lanes);
    if let Some(b) = plane_bits {
        o.settings.plane_bits = b;
    }
    o.settings.schedule = Some(ScheduleChoice::Streamed);
    o.settings.fuse_steps = true;
    let plan = lower(m, &o).ok()?;
    let modes: Vec<Vec<Mode>> = (0..plan.layers.len())
        .map(|k| {
            (0..plan.layers[k].projections.len())
                .map(|j| match dense::geometry(&plan, k, j) {
                    Ok(d) if d.bit_planes() == 1 && dense::is(&plan.layers[k], j, Mode::Dense) => Mode::Dense,
                    _ => Mode::Event,
                })
                .collect()
        })
        .collect();
    let plan = plan.with_modes(&modes, t).ok()?;
    Some((plan, batch))
}

/// A binary MLP on the digits (64 inputs): `fc0` (64 -> `n0`) into LIF `lif0`, `fc1` into LIF
/// `lif1` (`n1`), `fc2` into LIF `lif2` (`n2`), `fc3` into the output LIF (10). Binary weights:
/// each row +-a_r, signs from a fixed pseudo-random sequence. Under `--fuse-steps`, `lif1` and
/// `lif2` are fused (the first reads the static input, the last is the output). `lif1`'s
/// thresholds differ by neuron.
fn binary_mlp(n0: usize, n1: usize, n2: usize) -> (spikefab::Model, spikefab::data::InputBatch) {
    // (lif2's plane of 10 lane groups takes two words a step, so its step-tagged write
    // address is wider than the step tag.)
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    // `pos` percent of the signs positive.
    let mut fc = |rows: usize, cols: usize, pos: u64, a: &dyn Fn(usize) -> f64| -> String {
        let mut w = vec![];
        for r in 0..rows {
            for _ in 0..cols {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                w.push(format!("{}", if seed % 100 < pos { a(r) } else { -a(r) }));
            }
        }
        format!(
            r#"{{"type": "Affine", "weight": {{"dtype": "f32", "shape": [{rows}, {cols}], "data": [{}]}},
               "bias": {{"dtype": "f32", "shape": [{rows}], "data": [{}]}}}}"#,
            w.join(", "),
            vec!["0"; rows].join(", ")
        )
    };
    // Thresholds `thr` + `step` x (i mod 3) for neuron i: with a step, per-neuron parameters
    // (a ROM read at the row).
    let lif = |n: usize, thr: f64, step: f64| {
        let v =
            |x: f64| format!(r#"{{"dtype": "f32", "shape": [{n}], "data": [{}]}}"#, vec![x.to_string(); n].join(", "));
        let th: Vec<String> = (0..n).map(|i| (thr + step * (i % 3) as f64).to_string()).collect();
        format!(
            r#"{{"type": "LIF", "tau": {}, "r": {}, "v_leak": {}, "v_threshold": {{"dtype": "f32", "shape": [{n}], "data": [{}]}}, "v_reset": {}}}"#,
            v(4.0),
            v(1.0),
            v(0.0),
            th.join(", "),
            v(0.0)
        )
    };
    let json = format!(
        r#"{{"format": "spikefab-graph", "version": 1,
            "dialect": {{"dt": 1.0, "reset": "zero", "fire_on_equal": false, "timesteps": 4}},
            "nodes": [
              {{"name": "input", "op": {{"type": "Input", "shape": [64]}}}},
              {{"name": "fc0", "op": {}}},
              {{"name": "lif0", "op": {}}},
              {{"name": "fc1", "op": {}}},
              {{"name": "lif1", "op": {}}},
              {{"name": "fc2", "op": {}}},
              {{"name": "lif2", "op": {}}},
              {{"name": "fc3", "op": {}}},
              {{"name": "lif3", "op": {}}},
              {{"name": "output", "op": {{"type": "Output"}}}}],
            "edges": [["input", "fc0"], ["fc0", "lif0"], ["lif0", "fc1"], ["fc1", "lif1"], ["lif1", "fc2"],
                      ["fc2", "lif2"], ["lif2", "fc3"], ["fc3", "lif3"], ["lif3", "output"]]}}"#,
        fc(n0, 64, 55, &|r| 0.06 + 0.004 * (r % 7) as f64),
        lif(n0, 1.0, 0.0),
        fc(n1, n0, 60, &|r| 0.25 + 0.02 * (r % 5) as f64),
        lif(n1, 1.0, 0.25),
        fc(n2, n1, 65, &|r| 0.4 + 0.05 * (r % 3) as f64),
        lif(n2, 1.0, 0.0),
        fc(10, n2, 60, &|r| 0.5 + 0.02 * r as f64),
        lif(10, 1.0, 0.0),
    );
    let path = scratch(&format!("fused-mlp-{n0}-{n1}-{n2}")).join("mlp.json");
    std::fs::write(&path, json).unwrap();
    let m = spikefab::Model::load(&path, &Default::default()).unwrap();
    let batch = spikefab::data::InputBatch::load(&root().join("models/digits_test_x.npy"), &[64, 1, 1]).unwrap();
    (m, batch)
}

/// Lanes, steps and the widest plane word (None: the default).
type Config = (usize, usize, Option<usize>);

/// A model to co-simulate: its name, the model, its inputs and its settings.
type Run = (String, spikefab::Model, spikefab::data::InputBatch, Vec<Config>);

/// The students and a binary MLP with two fused layers in a row (the second reading the first's
/// plane of T steps a word), with their weights on chip and streamed from the ULX3S's SDRAM:
/// every design the Verilog back end builds is exact against the cycle engine (outputs and
/// cycles) and lint clean, its fused layers spiking; the others are refused with the reason.
#[test]
fn fused_rtl_cosim_is_exact() {
    if !tool_or_skip("verilator", "fused_rtl_cosim_is_exact") {
        return;
    }
    let targets = [Target::load("ice40-up5k").unwrap(), Target::load("ulx3s-85f").unwrap()];
    let mut done = vec![];
    // (lanes, steps) per model: the MLP also at 3 steps (not a power of two).
    let mut models: Vec<Run> = vec![];
    for (c, _) in students() {
        let m = c.load();
        let b = c.batch(&m);
        models.push((c.name.clone(), m, b, vec![(16, 4, None)]));
    }
    // At 4 lanes: 34 and 18 rows, the last lane group of each half padding (blocks of 16, 16
    // and 2, and of 16 and 2; short blocks' passes padded to the loop); with 64-bit planes a
    // row gathers 4 words, so a block's gather outruns its updates and the third block's
    // waits for the first's; and 10 and 10 rows (one block each).
    let (m, b) = binary_mlp(200, 134, 70);
    models.push(("binary_mlp".into(), m, b, vec![(4, 4, None), (4, 3, None), (4, 4, Some(64))]));
    let (m, b) = binary_mlp(200, 40, 40);
    models.push(("binary_mlp_small".into(), m, b, vec![(4, 4, None)]));
    for (name, m, b, configs) in &models {
        for t in &targets {
            for &(lanes, steps, plane_bits) in configs {
                let bits = plane_bits.map_or(String::new(), |b| format!(", {b}-bit planes"));
                let what = format!("{name} at {lanes} lanes, T = {steps}{bits}, on {}", t.name);
                let Some((plan, batch)) = fused_plan(m, b, (lanes, steps, plane_bits), t, 3) else {
                    println!("{what}: no streamed plan");
                    continue;
                };
                if !(0..plan.layers.len()).any(|k| plan.fused(k)) {
                    println!("{what}: no fused layer");
                    continue;
                }
                let d = match spikefab::back::verilog::emit(&plan, None) {
                    Ok(d) => d,
                    Err(e) => {
                        println!("{what}: refused: {e}");
                        continue;
                    }
                };
                // The fused layers spike (their outputs are not trivially all zero).
                let e = spikefab::sim::cycle::run(&plan, &batch, plan.timesteps);
                for k in (0..plan.layers.len()).filter(|&k| plan.fused(k)) {
                    let spikes: u64 = e.samples.iter().map(|s| s.counters.layers[k].spikes).sum();
                    assert!(spikes > 0, "{what}: fused layer {} never spikes", plan.layers[k].name);
                }
                let pb = plane_bits.unwrap_or(0);
                let dir = scratch(&format!("fused-{name}-{lanes}-{steps}-{pb}-{}", t.name));
                let r = cosim::cosim(&plan, &batch, batch.n, Simulator::Verilator, &dir, &|_| {})
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
                assert!(r.exact(), "{what}: {:?}", r.first_differences);
                assert_lint_clean(&d, &format!("fused-lint-{name}-{lanes}-{steps}-{pb}"), &what);
                done.push(what);
            }
        }
    }
    println!("co-simulated fused: {}", done.join(", "));
    // The students' fused layers are beyond the fused unit so far (docs/streaming.md section
    // 3): the MLPs' two fused layers, chained, on chip and streamed from the SDRAM, at T = 4
    // and 3, in blocks and in one.
    assert!(done.len() >= 8, "fused designs co-simulated: {done:?}");
}
