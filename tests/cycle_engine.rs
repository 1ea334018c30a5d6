//! The cycle-accurate engine: agreement with the reference on every student, the documented
//! cycle formula, and range analysis under adversarial inputs.

use crate::common;

use common::{plan_for, root, students};
use spikefab::data::{Encoding, InputBatch, agreement};
use spikefab::hw::{PlanOptions, Schedule, lower, schedule};
use spikefab::ir::Op;
use spikefab::quant::{InputStats, ProjKind};
use spikefab::sim::cycle::Simd;
use spikefab::sim::{cycle, reference};

#[test]
fn every_student_agrees_with_the_reference_at_default_settings() {
    let labels_path = root().join("models/digits_test_y.npy");
    for (c, _) in students() {
        let (m, plan, batch) = plan_for(&c, None);
        let labels = spikefab::data::load_labels(&labels_path, batch.n).unwrap();
        let output = m.graph.select_output(None).unwrap();
        let r = reference::run(
            &m.graph,
            &m.info,
            m.dialect(),
            &batch,
            &reference::RunOptions { steps: c.timesteps, f64: false, output },
            None,
        )
        .unwrap();
        let e = cycle::run(&plan, &batch, c.timesteps);
        let (rc, ec) = (r.outputs.classes(), e.outputs.classes());
        let agree = agreement(&rc, &ec);
        let (ra, ea) = (agreement(&rc, &labels), agreement(&ec, &labels));
        println!("{}: class agreement {agree:.4}, accuracy reference {ra:.4} cycle {ea:.4}", c.name);
        assert!(agree >= 0.99, "{}: class agreement {agree}", c.name);
        assert!((ra - ea).abs() <= 0.005, "{}: accuracy {ra} vs {ea}", c.name);
        assert_eq!(e.total.overflows(), 0, "{}", c.name);
        assert_eq!(e.total.saturations(), 0, "{}: no cap, no saturation", c.name);
    }
}

/// The cycle formula of docs/hardware.md, written out independently of the engine, with the
/// sequencer's one cycle after every phase:
/// total = sum LOAD (n_in + 1) + sum ACC (1 + 1 if empty, 2 + beats + 4 + 1 otherwise)
///       + sum UPD (1 + rows + 12 + 1) + per step OUT (1 + rows_out + 1) + 1 (done).
#[test]
fn cycle_formula_matches_the_engine() {
    for (c, _) in students() {
        for lanes in [1, 2, 8] {
            let (_, plan, batch) = plan_for(&c, Some(lanes));
            let batch = batch.take(40);
            let e = cycle::run(&plan, &batch, c.timesteps);
            for s in &e.samples {
                let k = &s.counters;
                let loads = if plan.input.per_step { k.steps_run } else { 1 };
                let mut total = loads * (plan.input.numel() as u64 + 1);
                for (li, l) in plan.layers.iter().enumerate() {
                    let lc = &k.layers[li];
                    let nonempty = lc.acc_phases - lc.empty_acc_phases;
                    total += lc.empty_acc_phases * 2 + nonempty * 7 + lc.beats;
                    total += lc.update_passes * (l.rows as u64 + 1 + 12 + 1);
                }
                total += k.steps_run * (plan.layers[plan.output.layer].rows as u64 + 2);
                total += 1;
                assert_eq!(total, k.cycles, "{} lanes {lanes}", c.name);
                // And the engine's own accounting agrees with the schedule module.
                assert_eq!(schedule::DONE + schedule::START, 1);
            }
        }
    }
}

/// Replaces every threshold of a model (to force all-spiking or no-spiking layers).
fn with_thresholds(m: &spikefab::Model, v: f64) -> spikefab::Model {
    let mut g = m.graph.clone();
    for n in g.g.node_weights_mut() {
        match &mut n.op {
            Op::LIF { v_threshold, .. } | Op::IF { v_threshold, .. } | Op::CubaLIF { v_threshold, .. } => {
                *v_threshold = v_threshold.map(|_| v);
            }
            Op::Threshold { threshold } => {
                *threshold = threshold.map(|_| v);
            }
            _ => {}
        }
    }
    let mut m2 = m.clone();
    m2.graph = g;
    m2
}

/// All inputs at the largest code, every neuron spiking every step (thresholds far below
/// reach) or never (thresholds far above, so membranes integrate without reset): no state
/// ever leaves its analysed width. With widths capped, arithmetic saturates and counts.
#[test]
fn range_analysis_holds_under_adversarial_inputs() {
    let target = spikefab::target::Target::load("ice40-up5k").unwrap();
    for (c, _) in students() {
        let m = c.load();
        let calib = c.batch(&m);
        let stats = InputStats::of(&calib);
        let max_in = InputBatch {
            n: 2,
            numel: calib.numel,
            encoding: Encoding::Direct,
            data: {
                let mut d = vec![stats.max; calib.numel];
                d.extend(vec![stats.min; calib.numel]);
                d
            },
        };
        for thr in [-1.0e3, 1.0e3, 0.0] {
            let m2 = with_thresholds(&m, thr);
            let mut o = PlanOptions::new(target.clone(), c.timesteps);
            o.input_stats = Some(stats);
            let plan = lower(&m2, &o).unwrap();
            let e = cycle::run(&plan, &max_in, c.timesteps);
            assert_eq!(e.total.overflows(), 0, "{} thr {thr}", c.name);
            assert_eq!(e.total.saturations(), 0, "{} thr {thr}", c.name);
            let spikes: u64 = e.total.layers.iter().map(|l| l.spikes).sum();
            if thr < 0.0 {
                let neurons: u64 = plan.layers.iter().filter(|l| l.spiking()).map(|l| l.neurons() as u64).sum();
                assert_eq!(spikes, neurons * 2 * c.timesteps as u64, "{}: all spike every step", c.name);
            }
            // Capped widths: saturation is counted, never a silent wrap.
            let mut o = PlanOptions::new(target.clone(), c.timesteps);
            o.input_stats = Some(stats);
            o.settings.membrane_bits = Some(10);
            let plan = lower(&m2, &o).unwrap();
            assert!(plan.layers.iter().any(|l| l.saturate));
            let e = cycle::run(&plan, &max_in, c.timesteps);
            assert_eq!(e.total.overflows(), 0, "{} thr {thr} capped", c.name);
            if thr > 0.0 {
                assert!(e.total.saturations() > 0, "{} thr {thr}: capped widths must saturate", c.name);
            }
        }
    }
}

/// The VCD of one sample parses back, and the output layer's spike pulses are the engine's
/// output spikes of that sample (all neurons traced).
#[test]
fn vcd_waveform_matches_the_engine() {
    let (c, _) = students().into_iter().find(|(c, _)| c.name == "mlp_bw").unwrap();
    let (_, plan, batch) = plan_for(&c, None);
    let dir = common::scratch("vcd");
    let path = dir.join("s3.vcd");
    let r = spikefab::sim::vcd::write(&plan, &batch, 3, c.timesteps, 1000, &path).unwrap();
    let mut parser = vcd::Parser::new(std::io::BufReader::new(std::fs::File::open(&path).unwrap()));
    let header = parser.parse_header().unwrap();
    let out = &plan.layers[plan.output.layer];
    let mut ids = std::collections::HashMap::new();
    for n in 0..out.neurons() {
        let var = header.find_var(&["spikefab", "lif2", &format!("n{n}_spike")]).expect("output spike wire");
        ids.insert(var.code, n);
    }
    let mut pulses = vec![0i64; out.neurons()];
    for cmd in parser {
        if let vcd::Command::ChangeScalar(id, vcd::Value::V1) = cmd.unwrap()
            && let Some(&n) = ids.get(&id)
        {
            pulses[n] += 1;
        }
    }
    let mut want = vec![0i64; out.neurons()];
    for (i, &v) in r.raw.iter().enumerate() {
        want[i % out.neurons()] += v;
    }
    assert_eq!(pulses, want);
    assert!(want.iter().sum::<i64>() > 0);
}

/// Counts the tracer's calls (the traced run takes the general, per-neuron update path).
struct NoteCalls(u64);

impl cycle::Tracer for NoteCalls {
    fn neuron(&mut self, _: u64, _: usize, _: usize, _: i64, _: bool) {
        self.0 += 1;
    }
    fn step(&mut self, _: u64, _: usize) {}
}

/// The fast path (several samples per pass, packed and column kernels, branch-free update
/// sweeps, counters derived from event counts) and the general path (every event scattered
/// in the RTL's order, every neuron updated on its own) give the same outputs, step ends and
/// every counter: on every student and every corpus model that lowers (direct and per-step,
/// graded and spike inputs, convolutions, pools, recurrence, current-based neurons), at 1, 2
/// and 4 lanes, with and without early exit, under both schedules, with analysed widths and with membranes capped
/// so that layers saturate, and with 1, 5 and 64 samples per pass.
#[test]
fn fast_path_equals_the_general_path() {
    let t = spikefab::target::Target::load("ice40-up5k").unwrap();
    let mut models: Vec<(String, spikefab::Model, InputBatch, usize)> = vec![];
    for (c, _) in students() {
        let m = c.load();
        let b = c.batch(&m).take(24);
        models.push((c.name.clone(), m, b, c.timesteps));
    }
    for c in common::cases(&root().join("tests/data/nir/cases.json")) {
        let m = c.load();
        let b = c.batch(&m);
        models.push((c.name.clone(), m, b, c.timesteps));
    }
    let (mut checked, mut saturating, mut saturations, mut exits) = (0, 0, 0, 0);
    for (name, m, batch, steps) in &models {
        for lanes in [1usize, 2, 4] {
            for (early_exit, schedule) in
                [(false, Schedule::Sequential), (true, Schedule::Sequential), (false, Schedule::Pipelined)]
            {
                for cap in [None, Some(8)] {
                    let mut o = PlanOptions::new(t.clone(), *steps);
                    o.input_stats = Some(InputStats::of(batch));
                    o.settings.lanes = Some(lanes);
                    o.settings.early_exit = early_exit;
                    o.settings.membrane_bits = cap;
                    o.settings.schedule = Some(schedule.into());
                    let Ok(plan) = lower(m, &o) else { continue };
                    if cap.is_some() && !plan.layers.iter().any(|l| l.saturate) {
                        continue;
                    }
                    let general: Vec<cycle::SampleResult> = (0..batch.n)
                        .map(|i| {
                            let mut calls = NoteCalls(0);
                            let g = cycle::run_traced(&plan, batch, i, *steps, &mut calls);
                            assert!(calls.0 > 0, "{name}: the traced run visits neurons");
                            g
                        })
                        .collect();
                    // Every pass size on the widest instruction set here, and the narrower
                    // builds of the fast path (AVX2, portable) on two of them.
                    for (per_pass, simd) in
                        [(1usize, Simd::Best), (5, Simd::Best), (64, Simd::Best), (5, Simd::Avx2), (64, Simd::Portable)]
                    {
                        let fast = cycle::run_passes_simd(&plan, batch, *steps, per_pass, simd);
                        assert_eq!(fast.samples.len(), batch.n);
                        for (i, (s, g)) in fast.samples.iter().zip(&general).enumerate() {
                            let ctx = format!(
                                "{name} lanes {lanes} early exit {early_exit} {schedule:?} cap {cap:?} {per_pass} per pass \
                                 {simd:?}, sample {i}"
                            );
                            assert_eq!(s.raw, g.raw, "{ctx}: outputs");
                            assert_eq!(s.step_end_cycles, g.step_end_cycles, "{ctx}: step ends");
                            assert_eq!(s.counters, g.counters, "{ctx}: counters");
                        }
                    }
                    checked += 1;
                    if cap.is_some() {
                        saturating += 1;
                        saturations += general.iter().map(|g| g.counters.saturations()).sum::<u64>();
                    }
                    exits += general.iter().filter(|g| (g.counters.steps_run as usize) < *steps).count();
                }
            }
        }
    }
    println!(
        "fast path = general path on {checked} plans ({saturating} saturating, {saturations} saturated writes, {exits} early exits)"
    );
    assert!(checked >= 250, "{checked} plans checked");
    assert!(saturating >= 50 && saturations > 0, "{saturating} saturating plans, {saturations} saturations");
    assert!(exits > 0);
}

/// Records the largest |V| the general path sees in one layer.
struct MaxV(usize, i64);

impl cycle::Tracer for MaxV {
    fn neuron(&mut self, _: u64, layer: usize, _: usize, v: i64, _: bool) {
        if layer == self.0 {
            self.1 = self.1.max(v.saturating_abs());
        }
    }
    fn step(&mut self, _: u64, _: usize) {}
}

/// A pass that keeps state in i32 ([`cycle`]'s narrow passes) is run again in i64 once a value
/// leaves its width: here the first layer's membrane grows sixteenfold per step (a leak
/// multiplier of 16, thresholds out of reach) until the exact values no longer fit i32, and
/// the fast path must still equal the general path in every output, step end and counter.
#[test]
fn narrow_passes_rerun_wide_when_values_leave_their_width() {
    // Every bundled student without convolutions (which have no narrow kernels) runs narrow
    // passes.
    for (c, _) in students() {
        let plan = plan_for(&c, None).1;
        let conv = plan.layers.iter().flat_map(|l| &l.projections).any(|p| matches!(p.kind, ProjKind::Conv { .. }));
        assert_eq!(cycle::narrow_state(&plan), !conv, "{}: narrow passes", c.name);
    }
    let (_, plan, batch) = plan_for(&students().into_iter().next().expect("a student").0, None);
    let p = plan.rules.leak_bits();
    assert!(p > 0, "the first student's leak is a multiplier");
    let steps = plan.timesteps;
    let top = (1i64 << 19) - 1;
    let plan = common::relayout(&plan, None, |n| {
        let l = &mut n.layers[0];
        l.leak = spikefab::quant::Leak::Mul { b: vec![16 << p] };
        l.v_bits = 20;
        l.params.thr.iter_mut().for_each(|t| *t = top);
    });
    assert!(cycle::narrow_state(&plan), "the changed plan still runs narrow passes");
    let batch = batch.take(16);
    let mut widest = 0;
    let general: Vec<cycle::SampleResult> = (0..batch.n)
        .map(|i| {
            let mut m = MaxV(0, 0);
            let g = cycle::run_traced(&plan, &batch, i, steps, &mut m);
            widest = widest.max(m.1);
            g
        })
        .collect();
    assert!(widest > i64::from(i32::MAX), "the first layer's V reaches {widest}, within i32");
    assert!(general.iter().all(|g| g.counters.overflows() > 0));
    for (per_pass, simd) in [(1usize, Simd::Best), (16, Simd::Best), (5, Simd::Avx2), (16, Simd::Portable)] {
        let fast = cycle::run_passes_simd(&plan, &batch, steps, per_pass, simd);
        for (i, (s, g)) in fast.samples.iter().zip(&general).enumerate() {
            let ctx = format!("{per_pass} per pass {simd:?}, sample {i}");
            assert_eq!(s.raw, g.raw, "{ctx}: outputs");
            assert_eq!(s.step_end_cycles, g.step_end_cycles, "{ctx}: step ends");
            assert_eq!(s.counters, g.counters, "{ctx}: counters");
        }
    }
}

/// The engine counts non-saturating state values outside their width (a bug detector: range
/// analysis sizes widths so it never happens). With a layer's width forced below what its
/// sums need, values leave it in accumulate phases and updates, and the fast path (with its
/// narrow passes) must count exactly what the general path counts, and some. (The count after
/// an accumulate phase has an expectation of its own in
/// `static_sum_overflows_are_counted_per_sum_after_the_accumulate_phase`.)
#[test]
fn accumulate_overflows_are_counted_alike_on_both_paths() {
    for (c, _) in students() {
        let (_, plan, batch) = plan_for(&c, None);
        let batch = batch.take(12);
        assert!(!plan.layers[0].saturate, "{}: analysed widths do not saturate", c.name);
        let plan = common::relayout(&plan, None, |n| n.layers[0].v_bits = 6);
        let general: Vec<cycle::SampleResult> =
            (0..batch.n).map(|i| cycle::run_traced(&plan, &batch, i, c.timesteps, &mut Nop)).collect();
        let fast = cycle::run(&plan, &batch, c.timesteps);
        let total: u64 = general.iter().map(|g| g.counters.layers[0].overflows).sum();
        assert!(total > 0, "{}: a 6-bit membrane overflows", c.name);
        for (i, (f, g)) in fast.samples.iter().zip(&general).enumerate() {
            assert_eq!(f.counters, g.counters, "{} sample {i}", c.name);
        }
    }
}

/// The count after an accumulate phase, against an expectation computed here: with the static
/// sums' width forced below what they need, every layer whose static projection reads the
/// direct input (the MLP students' first layers, the ensemble's members) counts exactly its sums
/// outside that width, one count per sum at step 0, and nothing in its updates (the membrane
/// keeps its analysed width, which holds the sums). The sums are the projection's dense product
/// of the quantised input, `(w . x) << shift`, taken here from the plan's weights, not the
/// engine's kernels. Both paths must count the same.
#[test]
fn static_sum_overflows_are_counted_per_sum_after_the_accumulate_phase() {
    use spikefab::quant::{AccTarget, ProjKind, Source};
    let mut layers_checked = 0;
    for (c, _) in students() {
        let (_, plan, batch) = plan_for(&c, None);
        let batch = batch.take(8);
        let mut forced = vec![];
        let plan = common::relayout(&plan, None, |n| {
            for (k, l) in n.layers.iter_mut().enumerate() {
                let statics: Vec<usize> = (0..l.projections.len())
                    .filter(|&j| {
                        let p = &l.projections[j];
                        p.target == AccTarget::Static
                            && p.source == Source::Input
                            && matches!(p.kind, ProjKind::Dense { .. })
                    })
                    .collect();
                if statics.len() == 1 && l.projections.len() == 1 && !l.saturate {
                    l.s_bits = 6;
                    forced.push((k, statics[0]));
                }
            }
        });
        if forced.is_empty() {
            continue;
        }
        let general: Vec<cycle::SampleResult> =
            (0..batch.n).map(|i| cycle::run_traced(&plan, &batch, i, c.timesteps, &mut Nop)).collect();
        let fast = cycle::run(&plan, &batch, c.timesteps);
        let mut q = vec![];
        let mut total = 0;
        for (i, (g, f)) in general.iter().zip(&fast.samples).enumerate() {
            plan.input.quantise_into(batch.at(i, 0), &mut q);
            for &(k, j) in &forced {
                let l = &plan.layers[k];
                let p = &l.projections[j];
                let ProjKind::Dense { cols } = p.kind else { unreachable!() };
                let (lo, hi) = (-(1i64 << (l.s_bits - 1)), (1i64 << (l.s_bits - 1)) - 1);
                let expected = (0..l.neurons())
                    .filter(|&n| {
                        let sum: i64 = (0..cols).map(|x| p.weights.at(n * cols + x) * q[x]).sum::<i64>() << p.shift;
                        sum < lo || sum > hi
                    })
                    .count() as u64;
                let got = g.counters.layers[k].overflows;
                assert_eq!(got, expected, "{} sample {i} layer {}: out-of-width static sums", c.name, l.name);
                total += expected;
                layers_checked += 1;
            }
            assert_eq!(f.counters, g.counters, "{} sample {i}", c.name);
        }
        assert!(total > 0, "{}: 6-bit static sums overflow", c.name);
    }
    assert!(layers_checked >= 3 * 8, "{layers_checked} layer-samples");
}

struct Nop;

impl cycle::Tracer for Nop {
    fn neuron(&mut self, _: u64, _: usize, _: usize, _: i64, _: bool) {}
    fn step(&mut self, _: u64, _: usize) {}
}

/// A convolution event presents only the taps that reach a target (hw::taps), so with
/// stride 1 and full lane groups every beat does `lanes` synaptic operations: the beats of
/// conv_bw's convolutions times the lanes equal their synaptic operations (counted by the
/// engine's own valid-tap test, not the tap tables) under both schedules, while an interior
/// event still presents the whole window. (fast_path_equals_the_general_path checks both
/// engine paths on every corpus convolution; the RTL co-simulations check the beats' cycles.)
#[test]
fn conv_beats_are_the_taps_that_reach_a_target() {
    let (c, _) = students().into_iter().find(|(c, _)| c.name == "conv_bw").expect("conv_bw");
    for lanes in [1, 2, 4, 8, 16] {
        for sched in [Schedule::Sequential, Schedule::Pipelined] {
            let (_, mut plan, batch) = plan_for(&c, Some(lanes));
            plan.schedule = sched;
            let r = cycle::run(&plan, &batch.take(24), c.timesteps);
            let mut convs = 0;
            for (k, l) in plan.layers.iter().enumerate() {
                for (pi, p) in l.projections.iter().enumerate() {
                    let ProjKind::Conv { kh, kw, stride, .. } = p.kind else { continue };
                    assert!(stride == [1, 1] && p.pre_pool.is_none() && l.group_size % l.lanes == 0);
                    convs += 1;
                    let lc = &r.total.layers[k];
                    let (beats, ops) = (lc.proj_weight_reads[pi], lc.proj_synaptic_ops[pi]);
                    assert_eq!(beats * l.lanes as u64, ops, "{} lanes {lanes} {sched:?}", l.name);
                    assert_eq!(schedule::beats_per_event(l, p), (kh * kw * l.ncg) as u64, "{}", l.name);
                }
            }
            assert_eq!(convs, 3, "conv_bw has three convolutions");
        }
    }
}

/// The framework-exported multi-spike models with a membrane floor (Sinabs, read with
/// `--from sinabs`) and their variants without the floor or with single spikes.
fn sinabs_models() -> Vec<(String, spikefab::Model, InputBatch, usize)> {
    let dir = root().join("tests/data/frameworks/importers");
    let mut v = vec![];
    for (name, variants) in [("sinabs_if_dense", true), ("sinabs_cnn", false)] {
        let opts: Vec<(&str, spikefab::ir::dialect::DialectOverrides)> = {
            use spikefab::ir::dialect::{DialectOverrides, Preset, SpikeMode, VMin};
            let base = DialectOverrides { from: Some(Preset::Sinabs), timesteps: Some(10), ..Default::default() };
            let mut o = vec![("", base.clone())];
            if variants {
                o.push(("no floor", DialectOverrides { v_min: Some(VMin::None), ..base.clone() }));
                o.push(("single", DialectOverrides { spikes: Some(SpikeMode::Single), ..base.clone() }));
                o.push(("value floor", DialectOverrides { v_min: Some(VMin::Value(-0.25)), ..base }));
            }
            o
        };
        for (what, o) in opts {
            let m = spikefab::Model::load(&dir.join(name).join("model.nir"), &o).unwrap();
            let input = m.graph.the_input().unwrap();
            let b = InputBatch::load(&dir.join(name).join("inputs.npy"), &m.info.out_shape[input.index()]).unwrap();
            v.push((format!("{name} {what}"), m, b, 10));
        }
    }
    v
}

/// Multi-spike layers and floors on the fast path (which updates them on the general path's
/// kernels and scatters their counted events) equal the general path, every output, step end
/// and counter, in both schedules and with early exit; and the counts are what an independent
/// integer model of docs/hardware.md section 2 computes (dense IF layers: V = X + sum w n << s
/// + C, n = floor(V / THR) when V >= THR, X' = max(V - n THR, VMIN)).
#[test]
fn multi_spike_and_floor_layers_are_exact_on_both_paths() {
    let t = spikefab::target::Target::load("ecp5-85k").unwrap();
    let mut checked = 0;
    for (name, m, batch, steps) in sinabs_models() {
        let batch = batch.take(6);
        for (early_exit, schedule) in
            [(false, Schedule::Sequential), (true, Schedule::Sequential), (false, Schedule::Pipelined)]
        {
            let mut o = PlanOptions::new(t.clone(), steps);
            o.input_stats = Some(InputStats::of(&batch));
            o.settings.early_exit = early_exit;
            o.settings.schedule = Some(schedule.into());
            let plan = lower(&m, &o).unwrap_or_else(|e| panic!("{name}: {e}"));
            let general: Vec<cycle::SampleResult> =
                (0..batch.n).map(|i| cycle::run_traced(&plan, &batch, i, steps, &mut NoteCalls(0))).collect();
            for per_pass in [1usize, 4] {
                let fast = cycle::run_passes(&plan, &batch, steps, per_pass);
                for (i, (s, g)) in fast.samples.iter().zip(&general).enumerate() {
                    let ctx = format!("{name} early exit {early_exit} {schedule:?} {per_pass} per pass, sample {i}");
                    assert_eq!(s.raw, g.raw, "{ctx}: outputs");
                    assert_eq!(s.step_end_cycles, g.step_end_cycles, "{ctx}: step ends");
                    assert_eq!(s.counters, g.counters, "{ctx}: counters");
                    assert_eq!(s.counters.overflows(), 0, "{ctx}");
                }
            }
            let out = &plan.layers[plan.output.layer];
            let most = general.iter().flat_map(|g| g.raw.iter().copied()).max().unwrap_or(0);
            assert!(most <= out.event_max(), "{name}: a count {most} above the bound {}", out.event_max());
            if plan.layers.iter().all(|l| l.projections.iter().all(|p| matches!(p.kind, ProjKind::Dense { .. })))
                && !early_exit
            {
                for (i, g) in general.iter().enumerate() {
                    assert_eq!(g.raw, integer_model(&plan, &batch, i, steps), "{name}: sample {i}");
                }
            }
            checked += 1;
        }
        // Multi-spike counts above one do occur in these models (else nothing is tested).
        if !name.contains("single") {
            let plan = lower(&m, &{
                let mut o = PlanOptions::new(t.clone(), steps);
                o.input_stats = Some(InputStats::of(&batch));
                o
            })
            .unwrap();
            assert!(plan.layers.iter().any(|l| l.multi && l.max_count > 1), "{name}");
            let e = cycle::run(&plan, &batch, steps);
            let most = e.samples.iter().flat_map(|s| s.raw.iter().copied()).max().unwrap();
            assert!(most > 1, "{name}: the output counts reach {most}");
        }
    }
    assert!(checked >= 15);
}

/// docs/hardware.md section 2 for plans of dense projections into IF layers (no leak, no
/// static sum, subtract reset), written from the plan's integers alone.
fn integer_model(plan: &spikefab::hw::Plan, batch: &InputBatch, i: usize, steps: usize) -> Vec<i64> {
    use spikefab::quant::{Leak, Source, at};
    let mut x: Vec<Vec<i64>> = plan.layers.iter().map(|l| vec![0; l.neurons()]).collect();
    let mut out_vals: Vec<Vec<i64>> = plan.layers.iter().map(|l| vec![0; l.neurons()]).collect();
    let mut raw = vec![];
    let mut q = vec![];
    let mut stat: Vec<Vec<i64>> = plan.layers.iter().map(|l| vec![0; l.neurons()]).collect();
    for t in 0..steps {
        let inp: Vec<i64> = {
            if t == 0 || plan.input.per_step {
                plan.input.quantise_into(batch.at(i, t), &mut q);
            }
            q.clone()
        };
        for (k, l) in plan.layers.iter().enumerate() {
            assert!(matches!(l.leak, Leak::One) && plan.reset == spikefab::ir::ResetMode::Subtract);
            for p in &l.projections {
                let ProjKind::Dense { cols } = p.kind else { unreachable!() };
                let src: Vec<i64> = match p.source {
                    Source::Input => inp.clone(),
                    Source::Layer(s) => out_vals[s].clone(),
                };
                let static_sum = p.target == spikefab::quant::AccTarget::Static;
                if static_sum && t > 0 {
                    continue;
                }
                for n in 0..l.neurons() {
                    let s: i64 = (0..cols).map(|j| (p.weights.values[n * cols + j] * src[j]) << p.shift).sum();
                    if static_sum { stat[k][n] += s } else { x[k][n] += s }
                }
            }
            let pr = &l.params;
            for n in 0..l.neurons() {
                let v = x[k][n] + stat[k][n] + at(&pr.bias, n) + if t > 0 { at(&pr.bias_late, n) } else { 0 };
                let thr = at(&pr.thr, n);
                let fires = if plan.fire_on_equal { v >= thr } else { v > thr };
                let c = if !fires {
                    0
                } else if l.multi {
                    v / thr
                } else {
                    1
                };
                let vhat = v - c * thr;
                x[k][n] = if pr.vmin.is_empty() { vhat } else { vhat.max(at(&pr.vmin, n)) };
                out_vals[k][n] = c;
            }
        }
        raw.extend_from_slice(&out_vals[plan.output.layer]);
    }
    raw
}
