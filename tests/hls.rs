//! The emitted HLS C++: C simulation (g++, warnings are errors) against the cycle engine on
//! every student and on the NIR op corpus, every output word and step count compared; a
//! wrong design is caught and located; a golden snapshot of a tiny model's C++; determinism;
//! the same refusals as the Verilog back end; the `csim` and `compile --backend` commands.

use crate::common;

use common::{cases, plan_for, root, rtl_students, scratch, spikefab, tool_or_skip};
use spikefab::back::{hls, verilog};
use spikefab::flow::csim;
use spikefab::hw::{PlanOptions, dense, lower};
use spikefab::quant::InputStats;
use spikefab::sim::cycle;

const PART: &str = spikefab::target::DEFAULT_HLS_PART;

/// Every student, every test input: the C++ must reproduce the engine's output words exactly.
#[test]
fn csim_every_student() {
    if !tool_or_skip("g++", "csim_every_student") {
        return;
    }
    for (c, _) in rtl_students() {
        for lanes in [None, Some(8)] {
            let (_, plan, batch) = plan_for(&c, lanes);
            let dir = scratch(&format!("csim-{}-{lanes:?}", c.name));
            let r = csim::csim(&plan, &batch, None, PART, &dir).unwrap_or_else(|e| panic!("{}: {e}", c.name));
            println!(
                "{} (lanes {}): {} samples, {} steps, {} words, {} outputs ({} spikes), {} differ; g++ {:.2} s, run {:.3} s",
                c.name,
                plan.layers[0].lanes,
                r.samples,
                r.steps,
                r.words,
                r.outputs,
                r.spikes,
                r.mismatches,
                r.compile_seconds,
                r.run_seconds
            );
            assert_eq!(r.samples, batch.n);
            assert_eq!(r.outputs, batch.n * c.timesteps * plan.layers[plan.output.layer].neurons());
            assert!(r.spikes > 0, "{}: a test without spikes proves little", c.name);
            assert!(r.exact(), "{}: {:?}", c.name, r.first_differences);
        }
    }
}

/// Dense mode (docs/hardware.md 4c): every student with every projection that can gather
/// densely doing so. Layers read densely write spike planes, dense projections gather from
/// them with popcounts; every output word and step count still equals the engine's.
#[test]
fn csim_every_student_dense() {
    if !tool_or_skip("g++", "csim_every_student_dense") {
        return;
    }
    for (c, _) in rtl_students() {
        for lanes in [None, Some(8)] {
            let (_, plan, batch) = plan_for(&c, lanes);
            let t = spikefab::target::Target::load(&plan.target).unwrap();
            let plan = plan.with_modes(&dense::all_dense(&plan), &t).unwrap();
            let n_dense = plan.layers.iter().flat_map(|l| &l.modes).filter(|m| **m == dense::Mode::Dense).count();
            assert!(n_dense > 0, "{}: some projection must run dense", c.name);
            let d = hls::emit(&plan, PART).unwrap();
            let cpp = &d.files.iter().find(|(n, _)| *n == format!("{}.cpp", d.top)).unwrap().1;
            assert!(cpp.contains("dense mode (docs/hardware.md 4c)") && cpp.contains("_plane["), "{}", c.name);
            // A layer whose readers are all dense keeps no event list.
            for (k, l) in plan.layers.iter().enumerate() {
                if l.has_consumers && !dense::has_event_readers(&plan, k) {
                    assert!(!cpp.contains(&format!("sf::ev_entry {}_ev[", layer_id(&d, k, &plan))), "{}", l.name);
                }
            }
            let dir = scratch(&format!("csim-dense-{}-{lanes:?}", c.name));
            let r = csim::csim(&plan, &batch, None, PART, &dir).unwrap_or_else(|e| panic!("{}: {e}", c.name));
            println!(
                "{} dense (lanes {}, {n_dense} dense projection(s)): {} samples, {} steps, {} outputs ({} spikes), {} differ",
                c.name, plan.layers[0].lanes, r.samples, r.steps, r.outputs, r.spikes, r.mismatches
            );
            assert_eq!(r.samples, batch.n);
            assert_eq!(r.outputs, batch.n * c.timesteps * plan.layers[plan.output.layer].neurons());
            assert!(r.spikes > 0, "{}: a test without spikes proves little", c.name);
            assert!(r.exact(), "{} dense: {:?}", c.name, r.first_differences);
        }
    }
}

/// The streamed (layer-major) schedule with its weights on chip: every layer runs all its
/// steps before the next, so event lists, spike planes and per-step inputs have one copy per
/// step. On the NIR op corpus (event-driven, 2 lanes) and every student (event-driven at 2
/// lanes, every eligible projection dense at 8), every output word and step count equals the
/// engine's; models the order refuses (a recurrent or delayed projection) are counted.
#[test]
fn csim_streamed_schedule() {
    if !tool_or_skip("g++", "csim_streamed_schedule") {
        return;
    }
    let t = spikefab::target::Target::load("ice40-up5k").unwrap();
    let mut all: Vec<_> = cases(&root().join("tests/data/nir/cases.json"));
    let first_student = all.len();
    all.extend(rtl_students().into_iter().map(|(c, _)| c));
    let (mut done, mut refused, mut per_step, mut dense_runs) = (vec![], 0, 0, 0);
    for (i, c) in all.iter().enumerate() {
        let m = c.load();
        let batch = c.batch(&m).take(3);
        let configs: &[(usize, bool)] = if i >= first_student { &[(2, false), (8, true)] } else { &[(2, false)] };
        for &(lanes, dense) in configs {
            let mut o = PlanOptions::new(t.clone(), c.timesteps);
            o.input_stats = Some(InputStats::of(&batch));
            o.settings.lanes = Some(lanes);
            o.settings.schedule = Some(spikefab::target::ScheduleChoice::Streamed);
            let plan = match lower(&m, &o) {
                Ok(p) => p,
                Err(e) => {
                    o.settings.schedule = None;
                    assert!(e.message.contains("previous step") || lower(&m, &o).is_err(), "{}: {e}", c.name);
                    refused += usize::from(e.message.contains("previous step"));
                    continue;
                }
            };
            let plan = if dense { plan.with_modes(&dense::all_dense(&plan), &t).unwrap() } else { plan };
            let what = format!("{} at {lanes} lanes{}", c.name, if dense { ", dense" } else { "" });
            let d = hls::emit(&plan, PART).unwrap_or_else(|e| panic!("{what}: {e}"));
            let cpp = &d.files.iter().find(|(n, _)| *n == format!("{}.cpp", d.top)).unwrap().1;
            assert!(cpp.contains("The streamed (layer-major) schedule"), "{what}");
            let dir = scratch(&format!("csim-streamed-{}-{lanes}", c.name));
            let r = csim::csim(&plan, &batch, None, PART, &dir).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(r.samples, batch.n, "{what}");
            assert_eq!(r.outputs, batch.n * c.timesteps * plan.layers[plan.output.layer].neurons(), "{what}");
            assert!(r.exact(), "{what}: {:?}", r.first_differences);
            per_step += usize::from(plan.input.per_step);
            dense_runs += usize::from(plan.layers.iter().any(|l| l.modes.contains(&dense::Mode::Dense)));
            done.push(what);
        }
    }
    println!("C-simulated streamed: {}; {refused} refused by the order", done.join(", "));
    assert!(done.len() >= 20 && refused > 0 && per_step > 0 && dense_runs > 0, "{done:?}");
}

/// Weights streamed from external memory through the `m_axi` port: on the ULX3S (its SDRAM
/// holds the weights under the streamed schedule) every student, event-driven at 2 lanes,
/// dense at 8, and cut into tiles of lane groups (the board's block RAMs cut to 4), both
/// ways. The image the C++ reads (`weights.hex`) is the RTL's SDRAM image word for word, and
/// every output word equals the engine's.
#[test]
fn csim_weights_from_external_memory() {
    if !tool_or_skip("g++", "csim_weights_from_external_memory") {
        return;
    }
    let board = spikefab::target::Target::load("ulx3s-85f").unwrap();
    let (mut done, mut tiled, mut wide, mut narrow, mut signed) = (vec![], 0, 0, 0, 0);
    // The NIR corpus's weights are multi-bit (signed table entries): event-driven at 2 lanes.
    for c in cases(&root().join("tests/data/nir/cases.json")) {
        let m = c.load();
        let batch = c.batch(&m).take(2);
        let mut o = PlanOptions::new(board.clone(), c.timesteps);
        o.input_stats = Some(InputStats::of(&batch));
        o.settings.lanes = Some(2);
        o.settings.schedule = Some(spikefab::target::ScheduleChoice::Streamed);
        let Ok(plan) = lower(&m, &o) else { continue };
        if plan.memories.iter().all(|m| !matches!(m.map, spikefab::hw::MemMap::External { .. })) {
            continue;
        }
        let d = hls::emit(&plan, PART).unwrap_or_else(|e| panic!("{}: {e}", c.name));
        let cpp = &d.files.iter().find(|(n, _)| *n == format!("{}.cpp", d.top)).unwrap().1;
        signed += usize::from(cpp.contains("[a][e] = sf::int_t<"));
        let dir = scratch(&format!("csim-ext-corpus-{}", c.name));
        let r = csim::csim(&plan, &batch, None, PART, &dir).unwrap_or_else(|e| panic!("{}: {e}", c.name));
        assert!(r.exact(), "{}: {:?}", c.name, r.first_differences);
        done.push(c.name.clone());
    }
    for (c, _) in rtl_students() {
        let m = c.load();
        let batch = c.batch(&m).take(3);
        let plan_at = |t: &spikefab::target::Target, lanes: usize, dense: bool| {
            let mut o = PlanOptions::new(t.clone(), c.timesteps);
            o.input_stats = Some(InputStats::of(&batch));
            o.settings.lanes = Some(lanes);
            o.settings.schedule = Some(spikefab::target::ScheduleChoice::Streamed);
            let plan = lower(&m, &o).unwrap_or_else(|e| panic!("{}: {e}", c.name));
            if dense { plan.with_modes(&dense::all_dense(&plan), t).unwrap() } else { plan }
        };
        let mut plans = vec![(plan_at(&board, 2, false), "2 lanes"), (plan_at(&board, 8, true), "8 lanes, dense")];
        let mut small = board.clone();
        small.device.block_rams = 4;
        for dense in [false, true] {
            let cut = [16, 8, 4, 2, 1]
                .into_iter()
                .map(|n| plan_at(&small, n, dense))
                .find(|p| p.layers.iter().any(|l| l.tiles > 1));
            if let Some(p) = cut {
                plans.push((p, if dense { "in tiles, dense" } else { "in tiles" }));
            }
        }
        for (plan, how) in plans {
            let what = format!("{} ({how})", c.name);
            assert!(plan.external.is_some(), "{what}");
            let d = hls::emit(&plan, PART).unwrap_or_else(|e| panic!("{what}: {e}"));
            let cpp = &d.files.iter().find(|(n, _)| *n == format!("{}.cpp", d.top)).unwrap().1;
            assert!(cpp.contains("mode=m_axi port=wmem") && cpp.contains("_load(wmem);"), "{what}");
            let image =
                &d.files.iter().find(|(n, _)| n == "weights.hex").unwrap_or_else(|| panic!("{what}: no image")).1;
            let v = verilog::emit(&plan, None).unwrap();
            let rtl_image = &v.files.iter().find(|(n, _)| n.ends_with("_sdram.hex")).unwrap().1;
            assert!(image == rtl_image, "{what}: the HLS image is not the RTL's SDRAM image");
            let dir = scratch(&format!("csim-ext-{}-{}", c.name, done.len()));
            let r = csim::csim(&plan, &batch, None, PART, &dir).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(r.outputs, batch.n * c.timesteps * plan.layers[plan.output.layer].neurons(), "{what}");
            assert!(r.spikes > 0, "{what}: a test without spikes proves little");
            assert!(r.exact(), "{what}: {:?}", r.first_differences);
            tiled += usize::from(plan.layers.iter().any(|l| l.tiles > 1));
            for m in &plan.memories {
                if let spikefab::hw::MemMap::External { layout, .. } = m.map {
                    wide += usize::from(layout.cols > 1);
                    narrow += usize::from(layout.per_word > 1);
                }
            }
            done.push(what);
        }
    }
    println!("C-simulated with weights through m_axi: {}", done.join(", "));
    assert!(done.len() >= 20 && tiled >= 2 && wide > 0 && narrow > 0 && signed > 0, "{done:?}");
}

/// The identifier the design gives layer `k` (its update function is `<id>_update`).
fn layer_id(d: &hls::HlsDesign, k: usize, plan: &spikefab::hw::Plan) -> String {
    let cpp = &d.files.iter().find(|(n, _)| *n == format!("{}.cpp", d.top)).unwrap().1;
    let marker = format!("// UPD {k}: ");
    let at = cpp.find(&marker).unwrap_or_else(|| panic!("no update of layer {}", plan.layers[k].name));
    let rest = &cpp[at..];
    let f = rest.find("static void ").unwrap() + "static void ".len();
    rest[f..].split("_update(").next().unwrap().to_string()
}

/// Capped widths take the saturating paths (accumulate and update); still bit-exact.
#[test]
fn csim_saturating_arithmetic() {
    if !tool_or_skip("g++", "csim_saturating_arithmetic") {
        return;
    }
    for name in ["mlp_bw", "ensemble_bw", "conv_bw"] {
        let c = rtl_students().into_iter().map(|(c, _)| c).find(|c| c.name == name).unwrap();
        let m = c.load();
        let batch = c.batch(&m).take(100);
        let t = spikefab::target::Target::load("ice40-up5k").unwrap();
        let mut o = PlanOptions::new(t, c.timesteps);
        o.input_stats = Some(InputStats::of(&batch));
        o.settings.membrane_bits = Some(if name == "conv_bw" { 9 } else { 11 });
        let plan = lower(&m, &o).unwrap();
        assert!(plan.layers.iter().any(|l| l.saturate));
        let e = cycle::run(&plan, &batch, c.timesteps);
        assert!(e.total.saturations() > 0, "{name}: the cap must bite");
        let dir = scratch(&format!("csim-sat-{name}"));
        let r = csim::csim(&plan, &batch, None, PART, &dir).unwrap();
        println!("{name} saturating: {} outputs, {} saturations in the engine", r.outputs, e.total.saturations());
        assert!(r.exact(), "{name}: {:?}", r.first_differences);
    }
}

/// Early exit: inferences stop at different steps; the C++ stops at the same ones (students
/// with direct input, corpus models with per-step input whose unread steps stay in the stream).
#[test]
fn csim_early_exit() {
    if !tool_or_skip("g++", "csim_early_exit") {
        return;
    }
    let corpus = cases(&root().join("tests/data/nir/cases.json"));
    let picks: Vec<_> = rtl_students()
        .into_iter()
        .map(|(c, _)| c)
        .filter(|c| c.name == "mlp_bw" || c.name == "ensemble_bw")
        .chain(corpus.into_iter().filter(|c| c.name == "affine_lif_perstep" || c.name == "conv_sumpool_flatten_affine"))
        .collect();
    for c in picks {
        let name = &c.name;
        let m = c.load();
        let batch = c.batch(&m);
        let t = spikefab::target::Target::load("ice40-up5k").unwrap();
        let mut o = PlanOptions::new(t, c.timesteps);
        o.input_stats = Some(InputStats::of(&batch));
        o.settings.early_exit = true;
        let plan = lower(&m, &o).unwrap();
        let dir = scratch(&format!("csim-exit-{name}"));
        let r = csim::csim(&plan, &batch, None, PART, &dir).unwrap();
        println!(
            "{name} early exit: {} steps over {} samples (per-step input: {})",
            r.steps, r.samples, plan.input.per_step
        );
        assert!(r.steps < batch.n * c.timesteps, "{name}: some inference must stop early");
        assert!(r.exact(), "{name}: {:?}", r.first_differences);
    }
}

/// Every model of the NIR op corpus that lowers to hardware, at 1 and 4 lanes: CubaLIF, IF, LI,
/// Threshold and current layers, value outputs, recurrence, shortcuts, pooling, strided,
/// dilated and grouped convolutions, per-step and direct input, every reset mode.
#[test]
fn csim_op_corpus() {
    if !tool_or_skip("g++", "csim_op_corpus") {
        return;
    }
    let t = spikefab::target::Target::load("ice40-up5k").unwrap();
    let mut done = vec![];
    let mut refused = vec![];
    let mut kinds = std::collections::BTreeSet::new();
    for c in cases(&root().join("tests/data/nir/cases.json")) {
        let m = c.load();
        let batch = c.batch(&m);
        for lanes in [1usize, 4] {
            let mut o = PlanOptions::new(t.clone(), c.timesteps);
            o.input_stats = Some(InputStats::of(&batch));
            o.settings.lanes = Some(lanes);
            let plan = match lower(&m, &o) {
                Ok(p) => p,
                Err(e) => {
                    refused.push(format!("{}: {e}", c.name));
                    break;
                }
            };
            for l in &plan.layers {
                kinds.insert(format!("{:?}", l.kind));
                for p in &l.projections {
                    let k = format!("{:?}", p.kind);
                    kinds.insert(k.split([' ', '(', '{']).next().unwrap_or("").to_string());
                    if p.pre_pool.is_some() {
                        kinds.insert("pre-pool".into());
                    }
                }
            }
            let dir = scratch(&format!("csim-corpus-{}-{lanes}", c.name));
            let r = csim::csim(&plan, &batch, None, PART, &dir).unwrap_or_else(|e| panic!("{}: {e}", c.name));
            assert!(r.outputs > 0);
            assert!(r.exact(), "{} lanes {lanes}: {:?}", c.name, r.first_differences);
            done.push(format!("{} (L={lanes}, {} outputs)", c.name, r.outputs));
        }
    }
    println!("C-simulated: {}", done.join(", "));
    println!("refused by the plan: {}", refused.join("\n  "));
    println!("covered: {kinds:?}");
    assert!(done.len() >= 30, "most of the corpus lowers to hardware: {done:?}");
    for k in ["Lif", "Li", "CubaLif", "CubaLi", "Dense", "Conv", "OneToOne", "pre-pool"] {
        assert!(kinds.contains(k), "the corpus must exercise {k}: {kinds:?}");
    }
}

/// The op corpus in dense mode (lanes 1 and 4): every model with a projection that can
/// gather densely runs so, bit-exact like event mode. The corpus' weights are multi-bit, so
/// only its one-to-one projections qualify (residual_merge); the students cover the binary
/// matrix and conv gathers.
#[test]
fn csim_op_corpus_dense() {
    if !tool_or_skip("g++", "csim_op_corpus_dense") {
        return;
    }
    let t = spikefab::target::Target::load("ice40-up5k").unwrap();
    let mut done = vec![];
    for c in cases(&root().join("tests/data/nir/cases.json")) {
        let m = c.load();
        let batch = c.batch(&m);
        for lanes in [1usize, 4] {
            let mut o = PlanOptions::new(t.clone(), c.timesteps);
            o.input_stats = Some(InputStats::of(&batch));
            o.settings.lanes = Some(lanes);
            let Ok(plan) = lower(&m, &o) else { break };
            let plan = plan.with_modes(&dense::all_dense(&plan), &t).unwrap();
            let n = plan.layers.iter().flat_map(|l| &l.modes).filter(|m| **m == dense::Mode::Dense).count();
            if n == 0 {
                break;
            }
            let dir = scratch(&format!("csim-corpus-dense-{}-{lanes}", c.name));
            let r = csim::csim(&plan, &batch, None, PART, &dir).unwrap_or_else(|e| panic!("{}: {e}", c.name));
            assert!(r.outputs > 0);
            assert!(r.exact(), "{} lanes {lanes} dense: {:?}", c.name, r.first_differences);
            done.push(format!("{} (L={lanes}, {n} dense, {} outputs)", c.name, r.outputs));
        }
    }
    println!("C-simulated dense: {}", done.join(", "));
    assert!(!done.is_empty(), "some corpus model has a dense-eligible projection");
}

/// Variants of the corpus model conv -> LIF -> SumPool -> Flatten -> Affine -> LIF (spikefab
/// JSON written here): `pool` ends in an overlapping AvgPool2d straight into LIF neurons with
/// per-neuron thresholds (a pool projection, several windows per event); `current` ends in the
/// Affine feeding the Output directly (a current readout with value outputs). The op corpus
/// has neither.
fn derived_models(dir: &std::path::Path) -> Vec<(String, std::path::PathBuf)> {
    use serde_json::{Value, json};
    let c = cases(&root().join("tests/data/nir/cases.json"))
        .into_iter()
        .find(|c| c.name == "conv_sumpool_flatten_affine")
        .unwrap();
    let m = c.load();
    let base: Value = serde_json::from_str(&spikefab::front::json::to_string(&m.graph)).unwrap();
    let node =
        |v: &Value, name: &str| v["nodes"].as_array().unwrap().iter().find(|n| n["name"] == name).unwrap().clone();
    let mut out = vec![];
    // pool: ... lif1 -> pool (AvgPool2d 3x3, stride 2, pad 1) -> lifp [2, 4, 4] -> output
    let mut v = base.clone();
    let mut lifp = node(&v, "lif1");
    lifp["name"] = json!("lifp");
    for key in ["tau", "r", "v_leak", "v_threshold", "v_reset"] {
        if lifp["op"].get(key).is_none() {
            continue;
        }
        let data: Vec<f64> = (0..32)
            .map(|i| {
                let x = lifp["op"][key]["data"][0].as_f64().unwrap();
                if key == "v_threshold" { x * (0.5 + 0.25 * (i % 3) as f64) } else { x }
            })
            .collect();
        lifp["op"][key]["shape"] = json!([2, 4, 4]);
        lifp["op"][key]["data"] = json!(data);
    }
    let nodes = v["nodes"].as_array_mut().unwrap();
    nodes.retain(|n| !["flat", "fc", "lif2"].contains(&n["name"].as_str().unwrap()));
    for n in nodes.iter_mut() {
        if n["name"] == "pool" {
            n["op"] = json!({"type": "AvgPool2d", "kernel": [3, 3], "stride": [2, 2], "padding": [1, 1]});
        }
    }
    nodes.push(lifp);
    v["edges"] = json!([["input", "conv"], ["conv", "lif1"], ["lif1", "pool"], ["pool", "lifp"], ["lifp", "output"]]);
    out.push(("pool".to_string(), v));
    // current: ... lif1 -> pool -> flat -> fc -> output
    let mut v = base.clone();
    v["nodes"].as_array_mut().unwrap().retain(|n| n["name"] != "lif2");
    v["edges"] = json!([
        ["input", "conv"],
        ["conv", "lif1"],
        ["lif1", "pool"],
        ["pool", "flat"],
        ["flat", "fc"],
        ["fc", "output"]
    ]);
    out.push(("current".to_string(), v));
    out.into_iter()
        .map(|(name, v)| {
            let p = dir.join(format!("{name}.json"));
            std::fs::write(&p, serde_json::to_string_pretty(&v).unwrap()).unwrap();
            (name, p)
        })
        .collect()
}

#[test]
fn csim_pool_projection_and_current_readout() {
    if !tool_or_skip("g++", "csim_pool_projection_and_current_readout") {
        return;
    }
    let c = cases(&root().join("tests/data/nir/cases.json"))
        .into_iter()
        .find(|c| c.name == "conv_sumpool_flatten_affine")
        .unwrap();
    let dir = scratch("csim-derived");
    let t = spikefab::target::Target::load("ice40-up5k").unwrap();
    for (name, path) in derived_models(&dir) {
        let m = spikefab::Model::load(&path, &c.overrides()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let batch = c.batch(&m);
        for lanes in [1usize, 2, 4] {
            let mut o = PlanOptions::new(t.clone(), c.timesteps);
            o.input_stats = Some(InputStats::of(&batch));
            o.settings.lanes = Some(lanes);
            let plan = lower(&m, &o).unwrap_or_else(|e| panic!("{name}: {e}"));
            let last = &plan.layers[plan.layers.len() - 1];
            match name.as_str() {
                "pool" => {
                    assert!(matches!(last.projections[0].kind, spikefab::quant::ProjKind::Pool(_)));
                    assert!(last.params.thr.len() > 1, "per-neuron thresholds");
                }
                _ => {
                    assert_eq!(last.kind, spikefab::quant::NeuronKind::Current);
                    assert!(!plan.output.spikes);
                }
            }
            verilog::emit(&plan, None).expect("the Verilog back end emits it too");
            let r = csim::csim(&plan, &batch, None, PART, &dir.join(format!("{name}-{lanes}"))).unwrap();
            println!("{name} (L={lanes}): {} outputs, {} spikes, exact {}", r.outputs, r.spikes, r.exact());
            assert!(r.exact(), "{name} lanes {lanes}: {:?}", r.first_differences);
            let want = std::fs::read_to_string(dir.join(format!("{name}-{lanes}/expected.txt"))).unwrap();
            assert!(
                want.lines().any(|l| l.starts_with("o ") && l.trim_start_matches("o ").chars().any(|c| c != '0')),
                "{name}: the outputs must not be all zero"
            );
        }
    }
}

/// A design that differs from the plan by one threshold LSB is caught, and the report names
/// sample, step and neuron.
#[test]
fn csim_detects_and_locates_a_wrong_design() {
    if !tool_or_skip("g++", "csim_detects_and_locates_a_wrong_design") {
        return;
    }
    let c = rtl_students().into_iter().map(|(c, _)| c).find(|c| c.name == "mlp_bw").unwrap();
    let (_, plan, batch) = plan_for(&c, None);
    let batch = batch.take(40);
    let eng = cycle::run(&plan, &batch, plan.timesteps);
    let wrong = common::relayout(&plan, None, |n| {
        let out = n.output.layer;
        for t in &mut n.layers[out].params.thr {
            *t -= 1 << 10;
        }
    });
    let dir = scratch("csim-wrong");
    let design = csim::write_project(&wrong, &batch, &eng.samples, PART, &dir).unwrap();
    let tb = csim::build_and_run(&design, &dir).unwrap();
    assert_eq!(tb.exit, 1, "the testbench's own check sees the difference");
    let r = csim::compare(&plan, &eng.samples, &tb, &design.top);
    println!("{:?}", r.first_differences);
    assert!(!r.exact());
    assert!(r.mismatches > 0 && r.word_mismatches > 0);
    assert!(r.tb_agrees);
    let d = &r.first_differences[0];
    assert!(d.starts_with("sample ") && d.contains(" step ") && d.contains(" neuron "), "{d}");
    assert!(d.contains("engine spike 0, C++ 1"), "{d}");
}

/// The emitted C++ of a tiny model, committed in tests/golden/hls; a change shows as a diff.
/// Regenerate with SPIKEFAB_BLESS=1.
#[test]
fn golden_hls_snapshot_of_a_tiny_model() {
    let c =
        cases(&root().join("tests/data/nir/cases.json")).into_iter().find(|c| c.name == "affine_lif_perstep").unwrap();
    let (_, plan, _) = plan_for(&c, Some(2));
    let d = hls::emit(&plan, PART).unwrap();
    common::check_golden("hls", &d.files);
}

#[test]
fn hls_emission_is_deterministic() {
    for (c, _) in rtl_students() {
        let (_, p1, _) = plan_for(&c, None);
        let (_, p2, _) = plan_for(&c, None);
        let a = hls::emit(&p1, PART).unwrap();
        let b = hls::emit(&p2, PART).unwrap();
        assert_eq!(a.files, b.files, "{}", c.name);
    }
}

/// Both back ends share their limits: a plan one refuses, the other refuses with the same
/// reason; a plan one accepts, the other accepts.
#[test]
fn hls_refuses_exactly_what_verilog_refuses() {
    let c = rtl_students().into_iter().map(|(c, _)| c).find(|c| c.name == "mlp_bw").unwrap();
    let (_, plan, _) = plan_for(&c, None);
    assert!(verilog::emit(&plan, None).is_ok() && hls::emit(&plan, PART).is_ok());
    let wide = common::relayout(&plan, None, |n| n.layers[0].v_bits = 60);
    let (v, h) = (verilog::emit(&wide, None).unwrap_err(), hls::emit(&wide, PART).unwrap_err());
    let (verilog::EmitError::Unsupported(v), hls::EmitError::Unsupported(h)) = (v, h) else {
        panic!("both refuse the plan's limits")
    };
    assert_eq!(v, h);
    assert!(h.starts_with("layer 'lif1' needs 60 membrane bits"), "{h}");
}

/// `csim --datapath dense`: the command C-simulates the dense design, bit-exact.
#[test]
fn csim_command_dense_datapath() {
    if !tool_or_skip("g++", "csim_command_dense_datapath") {
        return;
    }
    let dir = scratch("csim-cli-dense");
    let (code, stdout, stderr) = spikefab(&[
        "csim",
        "models/mlp_bw/mlp_bw.nir",
        "--from",
        "snntorch",
        "-T",
        "8",
        "--inputs",
        "models/digits_test_x.npy",
        "--samples",
        "20",
        "--datapath",
        "dense",
        "-o",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("20 samples") && stdout.contains("csim: bit-exact"), "{stdout}");
    let cpp = std::fs::read_to_string(dir.join("sf_mlp_bw.cpp")).unwrap();
    assert!(cpp.contains("sf_popcount(s & ") && cpp.contains("_plane["), "the dense gather is emitted");
}

#[test]
fn csim_command_exit_codes() {
    if !tool_or_skip("g++", "csim_command_exit_codes") {
        return;
    }
    let out = scratch("csim-cli");
    let dir = out.join("mlp");
    let (code, stdout, stderr) = spikefab(&[
        "csim",
        "models/mlp_bw/mlp_bw.nir",
        "--from",
        "snntorch",
        "-T",
        "8",
        "--inputs",
        "models/digits_test_x.npy",
        "--samples",
        "20",
        "-o",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("20 samples") && stdout.contains("csim: bit-exact"), "{stdout}");
    for f in ["sf_hls.h", "sf_mlp_bw.h", "sf_mlp_bw.cpp", "tb.cpp", "run_hls.tcl", "inputs.hex", "outputs.txt"] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    // Bad input is exit 2 with a clear message, nothing written.
    let bad = out.join("bad");
    let (code, _, err) = spikefab(&[
        "csim",
        "tests/data/nir/delay.nir",
        "--dt",
        "0.25",
        "-T",
        "6",
        "--inputs",
        "tests/data/nir/delay.inputs.npy",
        "-o",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("Delay") && !err.contains("panicked"), "{err}");
    assert!(!bad.exists(), "nothing written for a refused model");
    let (code, _, err) = spikefab(&[
        "csim",
        "models/mlp_bw/mlp_bw.nir",
        "--from",
        "snntorch",
        "-T",
        "8",
        "--inputs",
        "models/no_such.npy",
        "-o",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no_such.npy"), "{err}");
    // A relative output folder (the testbench runs inside it).
    let model = root().join("models/mlp_bw/mlp_bw.nir");
    let inputs = root().join("models/digits_test_x.npy");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_spikefab"))
        .args(["csim", model.to_str().unwrap(), "--from", "snntorch", "-T", "8", "--samples", "3"])
        .args(["--inputs", inputs.to_str().unwrap(), "-o", "rel/dir"])
        .current_dir(&out)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(out.join("rel/dir/outputs.txt").is_file());
    // Without g++: exit 2, naming the Debian package.
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_spikefab"))
        .args(["csim", "models/mlp_bw/mlp_bw.nir", "--from", "snntorch", "-T", "8", "--samples", "2"])
        .args(["--inputs", "models/digits_test_x.npy", "-o", out.join("nogxx").to_str().unwrap()])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{err}");
    assert!(err.contains("g++ is not installed (Debian package: g++)"), "{err}");
}

/// `compile --backend both`: Verilog and the HLS project side by side, the C simulation on the
/// verification inputs in report.json and the summary, and the testbench's own check passes.
#[test]
fn compile_with_the_hls_backend() {
    if !tool_or_skip("g++", "compile_with_the_hls_backend") {
        return;
    }
    let out = scratch("compile-hls");
    let (code, stdout, stderr) = spikefab(&[
        "compile",
        "models/mlp_bw_t4/mlp_bw_t4.nir",
        "--from",
        "snntorch",
        "-T",
        "4",
        "--inputs",
        "models/digits_test_x.npy",
        "--target",
        "xc7a35t",
        "--backend",
        "both",
        "--cosim-samples",
        "0",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("csim (g++"), "{stdout}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(r["csim"]["samples"], 450);
    assert_eq!(r["csim"]["mismatches"], 0);
    assert!(out.join("sf_mlp_bw_t4.v").is_file(), "Verilog next to the HLS project");
    let hls = out.join("hls");
    let tcl = std::fs::read_to_string(hls.join("run_hls.tcl")).unwrap();
    assert!(tcl.contains("set_part xc7a35tcsg324-1") && tcl.contains("create_clock -period 10.000"), "{tcl}");
    for f in ["sf_hls.h", "sf_mlp_bw_t4.cpp", "tb.cpp", "inputs.hex", "expected.txt"] {
        assert!(hls.join(f).is_file(), "{f}");
    }
    // The delivered testbench checks itself against expected.txt, as Vitis' csim_design would.
    let run = std::process::Command::new(hls.join("tb")).current_dir(&hls).output().unwrap();
    let text = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success() && text.contains("0 of"), "{text}");
    // HLS only: no Verilog is written.
    let only = scratch("compile-hls-only");
    let (code, stdout, stderr) = spikefab(&[
        "compile",
        "models/mlp_bw_t4/mlp_bw_t4.nir",
        "--from",
        "snntorch",
        "-T",
        "4",
        "--input-scale",
        "1",
        "--backend",
        "hls",
        "-o",
        only.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(only.join("hls/sf_mlp_bw_t4.cpp").is_file());
    assert!(!only.join("sf_mlp_bw_t4.v").exists());
}

/// Stricter than the C simulation's flags: pedantic and shadowing warnings as errors, and no
/// undefined behaviour or memory error at run time (sanitizers abort on the first report).
#[test]
fn generated_cpp_is_clean_under_sanitizers() {
    if !tool_or_skip("g++", "generated_cpp_is_clean_under_sanitizers") {
        return;
    }
    let students: Vec<_> = rtl_students().into_iter().map(|(c, _)| c).collect();
    let corpus = cases(&root().join("tests/data/nir/cases.json"));
    let picks = [("conv_bw", &students, 8), ("ensemble_bw", &students, 2), ("cuba_lif", &corpus, 4)];
    for (name, set, lanes) in picks {
        let c = set.iter().find(|c| c.name == name).unwrap();
        let (_, plan, batch) = plan_for(c, Some(lanes));
        let batch = batch.take(40);
        let eng = cycle::run(&plan, &batch, plan.timesteps);
        let dir = scratch(&format!("csim-sanitize-{name}"));
        let d = csim::write_project(&plan, &batch, &eng.samples, PART, &dir).unwrap();
        let mut args = vec!["-std=c++17", "-Wall", "-Wextra", "-Wpedantic", "-Wshadow", "-Werror", "-O1"];
        args.extend(["-fsanitize=undefined,address", "-fno-sanitize-recover=all", "-o", "tb"]);
        let srcs = d.sources();
        args.extend(srcs.iter().map(String::as_str));
        let out = std::process::Command::new("g++").args(&args).current_dir(&dir).output().unwrap();
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let run = std::process::Command::new(dir.join("tb")).current_dir(&dir).output().unwrap();
        let (o, e) = (String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
        assert!(run.status.success() && o.contains("tb: 0 of"), "{name}: {o}\n{e}");
    }
}

/// Multi-spike neurons and membrane floors (docs/hardware.md section 2) on the networks Sinabs
/// exported (tests/data/frameworks/importers, `--from sinabs`): C simulation bit-exact with
/// the cycle engine, each feature alone and together, with early exit (a multi-spike hidden
/// layer under a single-spike output), and the CNN's C++ clean under the sanitizers.
#[test]
fn csim_multi_spike_and_floor() {
    use spikefab::ir::dialect::{DialectOverrides, Preset, SpikeMode, VMin};
    if !tool_or_skip("g++", "csim_multi_spike_and_floor") {
        return;
    }
    let dir = root().join("tests/data/frameworks/importers");
    let t = spikefab::target::Target::load("ecp5-85k").unwrap();
    let variants: [(&str, &str, DialectOverrides, bool); 6] = [
        ("sinabs_if_dense", "as-exported", DialectOverrides::default(), false),
        (
            "sinabs_if_dense",
            "floor-only",
            DialectOverrides { spikes: Some(SpikeMode::Single), ..Default::default() },
            false,
        ),
        ("sinabs_if_dense", "counts-only", DialectOverrides { v_min: Some(VMin::None), ..Default::default() }, false),
        (
            "sinabs_if_dense",
            "exit",
            DialectOverrides { spikes: Some(SpikeMode::MultiHidden), ..Default::default() },
            true,
        ),
        ("sinabs_if_dense", "multi-exit", DialectOverrides::default(), true),
        ("sinabs_cnn", "as-exported", DialectOverrides::default(), false),
    ];
    for (name, what, o, exit) in variants {
        let o = DialectOverrides { from: Some(Preset::Sinabs), timesteps: Some(10), ..o };
        let m = spikefab::Model::load(&dir.join(name).join("model.nir"), &o).unwrap();
        let input = m.graph.the_input().unwrap();
        let batch =
            spikefab::data::InputBatch::load(&dir.join(name).join("inputs.npy"), &m.info.out_shape[input.index()])
                .unwrap();
        let mut po = PlanOptions::new(t.clone(), 10);
        po.input_stats = Some(InputStats::of(&batch));
        po.settings.early_exit = exit;
        po.settings.schedule = Some(spikefab::hw::Schedule::Sequential.into());
        let plan = lower(&m, &po).unwrap();
        let d = scratch(&format!("csim-multi-{name}-{what}"));
        let r = csim::csim(&plan, &batch, None, PART, &d).unwrap();
        println!("{name} {what}: {} outputs, {} steps", r.outputs, r.steps);
        assert!(r.exact(), "{name} {what}: {:?}", r.first_differences);
        if what == "exit" {
            assert!(r.steps < batch.n * 10, "{name} {what}: some inference stops early");
        }
        if name == "sinabs_cnn" {
            let eng = cycle::run(&plan, &batch.take(4), 10);
            let sd = scratch("csim-sanitize-sinabs_cnn");
            let proj = csim::write_project(&plan, &batch.take(4), &eng.samples, PART, &sd).unwrap();
            let mut args = vec!["-std=c++17", "-Wall", "-Wextra", "-Wpedantic", "-Wshadow", "-Werror", "-O1"];
            args.extend(["-fsanitize=undefined,address", "-fno-sanitize-recover=all", "-o", "tb"]);
            let srcs = proj.sources();
            args.extend(srcs.iter().map(String::as_str));
            let out = std::process::Command::new("g++").args(&args).current_dir(&sd).output().unwrap();
            assert!(out.status.success(), "sanitized build: {}", String::from_utf8_lossy(&out.stderr));
            let run = std::process::Command::new(sd.join("tb")).current_dir(&sd).output().unwrap();
            let (so, se) = (String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
            assert!(run.status.success() && so.contains("tb: 0 of"), "sanitized run: {so}\n{se}");
        }
    }
}
