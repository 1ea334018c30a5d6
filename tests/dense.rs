//! The dense datapath (docs/hardware.md 4c): the gather adds what the scatter adds, the engine
//! gives every output unchanged in both modes, and its cycles follow the documented formula.

use crate::common;

use common::{
    assert_logic_predicted, plan_for, plan_modes, scratch, spikefab, students, tool_or_skip, up5k_with_luts, yosys_lut4,
};
use spikefab::hw::dense::{self, Gather, Mode, Plane};
use spikefab::hw::{Plan, Schedule, schedule};
use spikefab::quant::{ProjKind, Source};
use spikefab::sim::cycle;

fn lcg(seed: &mut u64) -> u64 {
    *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    *seed >> 33
}

/// What projection `pi` of layer `k` adds to neuron (c, y, x) of its target from source
/// neurons spiking where `spike(c, y, x)`, straight from the quantised weights (the scatter's
/// arithmetic, in no particular order).
fn direct(
    plan: &Plan,
    k: usize,
    pi: usize,
    co: usize,
    oy: usize,
    ox: usize,
    spike: &dyn Fn(usize, usize, usize) -> bool,
) -> i64 {
    let l = &plan.layers[k];
    let p = &l.projections[pi];
    let [sc, sh, sw] = p.src_shape;
    let mut sum = 0;
    match &p.kind {
        ProjKind::Dense { cols } => {
            for c in 0..sc {
                for y in 0..sh {
                    for x in 0..sw {
                        if spike(c, y, x) {
                            let col = match &p.pre_pool {
                                Some(g) => (c * g.out[0] + y / g.s[0]) * g.out[1] + x / g.s[1],
                                None => (c * sh + y) * sw + x,
                            };
                            sum += p.weights.at(co * cols + col);
                        }
                    }
                }
            }
        }
        ProjKind::Conv { ci, kh, kw, stride, pad, dil, .. } => {
            for c in 0..*ci {
                for ky in 0..*kh {
                    for kx in 0..*kw {
                        let iy = (oy * stride[0] + ky * dil[0]).checked_sub(pad[0]).filter(|&v| v < sh);
                        let ix = (ox * stride[1] + kx * dil[1]).checked_sub(pad[1]).filter(|&v| v < sw);
                        if let (Some(y), Some(x)) = (iy, ix)
                            && spike(c, y, x)
                        {
                            sum += p.weights.at(((co * ci + c) * kh + ky) * kw + kx);
                        }
                    }
                }
            }
        }
        ProjKind::OneToOne => {
            if spike(co, oy, ox) {
                let i = if p.weights.values.len() == 1 { 0 } else { (co * l.shape[1] + oy) * l.shape[2] + ox };
                sum += p.weights.at(i);
            }
        }
        ProjKind::Pool(_) => unreachable!("pooling stays event-driven"),
    }
    sum << p.shift
}

/// Every eligible projection of every student, in 1, 2 and 8 lanes: each target row's gather
/// through the plane and the packed weight words equals the direct sum, on random spikes of
/// several densities.
#[test]
fn the_gather_adds_what_the_scatter_adds() {
    let mut seed = 7u64;
    let mut checked = 0usize;
    for (c, _) in students() {
        for lanes in [1, 2, 8] {
            let (_, plan, _) = plan_for(&c, Some(lanes));
            for (k, l) in plan.layers.iter().enumerate() {
                for pi in 0..l.projections.len() {
                    let Ok(g) = dense::geometry(&plan, k, pi) else { continue };
                    let Source::Layer(s) = l.projections[pi].source else { unreachable!() };
                    let src = &plan.layers[s];
                    assert_eq!(g.plane, Plane::of(src));
                    for density in [0u64, 3, 50, 100] {
                        let n = src.neurons();
                        let on: Vec<bool> = (0..n).map(|_| lcg(&mut seed) % 100 < density).collect();
                        let at = |c: usize, y: usize, x: usize| on[(c * src.shape[1] + y) * src.shape[2] + x];
                        let plane = g.plane.pack(|r, lane| {
                            src.channel_of(r / src.positions(), lane).is_some_and(|ch| {
                                let pos = r % src.positions();
                                at(ch, pos / src.shape[2], pos % src.shape[2])
                            })
                        });
                        for r in 0..l.rows {
                            let got = g.row_sum(&plan, k, pi, r, &plane);
                            for (lane, v) in got.iter().enumerate() {
                                let want = match l.channel_of(r / l.positions(), lane) {
                                    Some(co) => {
                                        let pos = r % l.positions();
                                        direct(&plan, k, pi, co, pos / l.shape[2], pos % l.shape[2], &at)
                                    }
                                    None => 0,
                                };
                                assert_eq!(
                                    *v, want,
                                    "{} lanes {lanes} layer {} proj {pi} row {r} lane {lane}",
                                    c.name, l.name
                                );
                                checked += 1;
                            }
                        }
                    }
                }
            }
        }
    }
    println!("{checked} lane sums equal");
    assert!(checked > 10_000, "only {checked} lane sums were checked");
}

/// conv_bw runs its two hidden convolutions, their residual one-to-ones and its pooled output
/// dense; the input stays event-driven and says why.
#[test]
fn eligibility_names_why() {
    let (c, _) = students().into_iter().find(|(c, _)| c.name == "conv_bw").unwrap();
    let (_, plan, _) = plan_for(&c, Some(2));
    let modes = dense::all_dense(&plan);
    let dense_count: usize = modes.iter().flatten().filter(|m| **m == Mode::Dense).count();
    assert_eq!(dense_count, 5, "{modes:?}");
    let why = dense::geometry(&plan, 0, 0).unwrap_err();
    assert_eq!(why, dense::NotDense::InputSource, "{why}");
    let g = dense::geometry(&plan, 1, 0).unwrap();
    assert!(matches!(g.gather, Gather::Conv { .. }));
    assert_eq!((g.plane.width(), g.words_per_row), (16, 9));
}

/// Both modes give every output of every sample; the dense plan's cycles follow the formula
/// of docs/hardware.md 4c written out here; its layers whose readers are all dense keep no
/// event list; pipelined plans keep the same outputs.
#[test]
fn every_output_is_the_same_in_both_modes_and_cycles_follow_the_formula() {
    let t = spikefab::target::Target::load("ice40-up5k").unwrap();
    for (c, _) in students() {
        for lanes in [1, 2, 8] {
            let (_, plan, batch) = plan_for(&c, Some(lanes));
            let batch = batch.take(24);
            let dense_plan = plan.with_modes(&dense::all_dense(&plan), &t).unwrap();
            let e = cycle::run(&plan, &batch, c.timesteps);
            let d = cycle::run(&dense_plan, &batch, c.timesteps);
            for (a, b) in e.samples.iter().zip(&d.samples) {
                assert_eq!(a.raw, b.raw, "{} lanes {lanes}", c.name);
            }
            assert_eq!(e.outputs.data, d.outputs.data);
            for s in &d.samples {
                let k = &s.counters;
                let loads = if dense_plan.input.per_step { k.steps_run } else { 1 };
                let mut total = loads * (dense_plan.input.numel() as u64 + 1);
                for (li, l) in dense_plan.layers.iter().enumerate() {
                    let lc = &k.layers[li];
                    let mut dense_phases = 0;
                    let mut words = 0;
                    for (pi, m) in l.modes.iter().enumerate() {
                        if *m == Mode::Dense {
                            let g = dense::geometry(&dense_plan, li, pi).unwrap();
                            dense_phases += lc.update_passes;
                            words += lc.update_passes * (l.rows * g.words_per_row) as u64;
                            assert_eq!(lc.proj_weight_reads[pi], lc.update_passes * (l.rows * g.words_per_row) as u64);
                        }
                    }
                    assert_eq!(lc.plane_reads, words);
                    let nonempty = lc.acc_phases - lc.empty_acc_phases - dense_phases;
                    total += lc.empty_acc_phases * 2 + nonempty * 7 + (lc.beats - words);
                    total += dense_phases * (1 + 2 + 7) + words;
                    total += lc.update_passes * (l.rows as u64 + 1 + 12 + 1);
                    if !dense::has_event_readers(&dense_plan, li) {
                        assert_eq!(lc.event_writes, 0);
                        assert!(!dense_plan.memories.iter().any(|m| m.name == format!("{}.events", l.name)));
                    }
                    let copies = dense::plane_readers(&dense_plan, li).len().min(1) as u64;
                    assert_eq!(lc.plane_writes, copies * lc.update_passes * l.rows as u64);
                }
                total += k.steps_run * (dense_plan.layers[dense_plan.output.layer].rows as u64 + 2);
                total += 1;
                assert_eq!(total, k.cycles, "{} lanes {lanes}", c.name);
                assert_eq!(schedule::DENSE_HEAD + schedule::DENSE_TAIL, 9);
            }
            // The pipelined layout of the same network in both modes.
            let pipe = spikefab::hw::layout(plan.quantised(), &t, Some(lanes), Schedule::Pipelined);
            let pipe_dense = pipe.with_modes(&dense::all_dense(&pipe), &t).unwrap();
            let p = cycle::run(&pipe_dense, &batch, c.timesteps);
            assert_eq!(p.outputs.data, e.outputs.data, "{} lanes {lanes} pipelined", c.name);
        }
    }
}

/// `--datapath auto` measures: on conv_bw it makes the hidden convolutions and the pooled
/// output dense, keeps the input's graded events, and `plan` prints both modes' figures; the
/// auto plan costs less than the event one; `--optimize latency` never takes more cycles than
/// the event plan either. The measurement alone (`--logic-margin off`): the UP5K's logic takes
/// none of those dense designs, and by default the choice keeps them event-driven.
#[test]
fn auto_chooses_by_measurement_and_plan_prints_both_modes() {
    let root = common::root();
    let model = root.join("models/conv_bw/conv_bw.nir");
    let x = root.join("models/digits_test_x.npy");
    let with_margin = |margin: &str, d: &str, opt: &str| {
        vec![
            "plan".to_string(),
            model.to_str().unwrap().into(),
            "--dt".into(),
            "1e-4".into(),
            "-T".into(),
            "8".into(),
            "--inputs".into(),
            x.to_str().unwrap().into(),
            "--datapath".into(),
            d.into(),
            "--optimize".into(),
            opt.into(),
            "--logic-margin".into(),
            margin.into(),
        ]
    };
    let args = |d: &str, opt: &str| with_margin("off", d, opt);
    let run = |a: Vec<String>| {
        let a: Vec<&str> = a.iter().map(|s| s.as_str()).collect();
        common::spikefab(&a)
    };
    let (code, out, err) = run(args("auto", "energy"));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("datapath: auto:"), "{out}");
    assert!(out.contains("event: ") && out.contains("; dense: "), "{out}");
    let mut json = args("auto", "energy");
    json.push("--json".into());
    let (code, out, err) = run(json);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let layers = v["layers"].as_array().unwrap();
    assert_eq!(layers[0]["projections"][0]["mode"], "event");
    assert!(layers[0]["projections"][0]["dense_refused"].as_str().unwrap().contains("input"));
    for l in [1, 2] {
        let p = &layers[l]["projections"][0];
        assert_eq!(p["mode"], "dense", "{p}");
        let c = &p["choice"];
        assert!(c["dense"]["energy_j"].as_f64() < c["event"]["energy_j"].as_f64(), "{c}");
    }
    // With the logic model's margin (the default), the cheaper dense layouts are refused.
    let mut json = with_margin("stated", "auto", "energy");
    json.push("--json".into());
    let (code, out, err) = run(json);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    for l in [1, 2] {
        let p = &v["layers"][l]["projections"][0];
        assert_eq!((&p["mode"], &p["choice"]["dense"]["logic_fits"]), (&"event".into(), &false.into()), "{p}");
    }
    assert!(v["datapath_note"].as_str().unwrap().contains("layouts measured refused"), "{v}");
    // Latency: the chosen plan's cycles are no more than the all-event plan's.
    let mut lat = args("auto", "latency");
    lat.push("--json".into());
    let (code, out, err) = run(lat);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    for l in v["layers"].as_array().unwrap() {
        for p in l["projections"].as_array().unwrap() {
            if let Some(c) = p.get("choice") {
                let chosen = if p["mode"] == "dense" { &c["dense"] } else { &c["event"] };
                let other = if p["mode"] == "dense" { &c["event"] } else { &c["dense"] };
                assert!(chosen["cycles"].as_f64() <= other["cycles"].as_f64(), "{p}");
            }
        }
    }
}

/// `compile --datapath dense` emits the dense RTL (its spike planes, no event list of a layer
/// read only densely; tests/rtl_dense.rs co-simulates it); explore sweeps both datapaths and its
/// front holds configurations no other beats on accuracy, energy and latency at once.
#[test]
fn compile_emits_dense_and_explore_sweeps_both() {
    let root = common::root();
    let model = root.join("models/mlp_bw/mlp_bw.nir");
    let x = root.join("models/digits_test_x.npy");
    let y = root.join("models/digits_test_y.npy");
    let dir = common::scratch("dense-compile");
    let (code, _, err) = common::spikefab(&[
        "compile",
        model.to_str().unwrap(),
        "--from",
        "snntorch",
        "-T",
        "8",
        "--inputs",
        x.to_str().unwrap(),
        "--samples",
        "8",
        "--cosim-samples",
        "0",
        "--datapath",
        "dense",
        "-o",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let rtl = std::fs::read_to_string(dir.join("sf_mlp_bw.v")).unwrap();
    assert!(rtl.contains("plane"), "the dense design keeps a spike plane");
    let json = dir.join("explore.json");
    let (code, out, err) = common::spikefab(&[
        "explore",
        model.to_str().unwrap(),
        "--from",
        "snntorch",
        "-T",
        "8",
        "--calib",
        x.to_str().unwrap(),
        "--labels",
        y.to_str().unwrap(),
        "--datapath-sweep",
        "event,dense",
        "-o",
        json.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("accuracy, energy and latency"), "{out}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let confs = v["exploration"]["configurations"].as_array().unwrap();
    let front = v["exploration"]["pareto"].as_array().unwrap();
    assert_eq!(confs.len(), 2 * (8 + 7));
    let n = |d: &str| confs.iter().filter(|c| c["datapath"] == d).count();
    assert_eq!((n("event"), n("dense")), (15, 15));
    let m = |c: &serde_json::Value| c["accuracy"].as_f64().unwrap();
    let e = |c: &serde_json::Value| c["energy_j"].as_f64().unwrap();
    let k = |c: &serde_json::Value| c["cycles"].as_f64().unwrap();
    for (i, c) in confs.iter().enumerate() {
        let dominated = confs
            .iter()
            .any(|o| m(o) >= m(c) && e(o) <= e(c) && k(o) <= k(c) && (m(o) > m(c) || e(o) < e(c) || k(o) < k(c)));
        assert_eq!(front[i].as_bool().unwrap(), !dominated, "{c}");
    }
    assert!(confs.iter().zip(front).any(|(c, p)| p == true && c["datapath"] == "dense"));
    // Each configuration's predicted logic (the UP5K's model): the dense designs take more,
    // and every one of this small student fits.
    let cells = |d: &str| confs.iter().filter(|c| c["datapath"] == d).map(|c| c["logic_cells"].as_u64().unwrap()).max();
    assert!(cells("dense").unwrap() > cells("event").unwrap(), "{confs:?}");
    assert!(confs.iter().all(|c| c.get("logic_misfit").is_none()), "{confs:?}");
}

/// Under the default `--datapath auto`, a dense design the bitstream build finds too large is
/// given up projection by projection (the least saving first) for event-driven ones, before
/// verification; what is built, verified and co-simulated is the design that fits, and the
/// report says which projections turned event-driven and why. The device: the UP5K with as
/// many LUT4s as halfway between what Yosys makes of mlp_bw's sequential design event-driven
/// and auto's, both measured here first.
#[test]
fn auto_datapath_builds_event_driven_projections_when_dense_logic_does_not_fit() {
    let test = "auto_datapath_builds_event_driven_projections_when_dense_logic_does_not_fit";
    if !["yosys", "nextpnr-ice40", "icepack", "icetime"].iter().all(|t| tool_or_skip(t, test)) {
        return;
    }
    let model = [
        "models/mlp_bw/mlp_bw.nir",
        "--from",
        "snntorch",
        "-T",
        "8",
        "--inputs",
        "models/digits_test_x.npy",
        "--schedule",
        "sequential",
    ];
    let luts = |datapath: &str| -> (u64, serde_json::Value) {
        let dir = scratch(&format!("{test}-{datapath}"));
        let mut args = vec!["compile"];
        args.extend(model);
        args.extend(["--cosim-samples", "0", "--datapath", datapath, "-o", dir.to_str().unwrap()]);
        let (code, stdout, stderr) = spikefab(&args);
        assert_eq!(code, 0, "{stdout}\n{stderr}");
        let plan = serde_json::from_str(&std::fs::read_to_string(dir.join("plan.json")).unwrap()).unwrap();
        let luts = yosys_lut4(&dir, "sf_mlp_bw");
        // The logic model predicted it (docs/hardware.md, "The logic model").
        assert_logic_predicted(&dir, "sf_mlp_bw", luts);
        (luts, plan)
    };
    let dense_in = |p: &serde_json::Value| plan_modes(p).iter().filter(|m| *m == "dense").count();
    let ((event, _), (auto, auto_plan)) = (luts("event"), luts("auto"));
    assert!(dense_in(&auto_plan) > 0, "auto chose no dense projection: {auto_plan}");
    assert!(event < auto, "event-driven {event} LUT4, auto {auto}");
    let limit = (event + auto) / 2;
    let dir = scratch(test);
    let toml = up5k_with_luts(&dir, limit);
    // The logic model foresees it: no layout larger than the event-driven one (itself beyond
    // the margin on so small a device) is chosen.
    let foreseen = common::plan_on(&model, &toml);
    assert_eq!(dense_in(&foreseen), 0, "{foreseen}");
    let note = foreseen["datapath_note"].as_str().unwrap();
    assert!(
        note.contains("layouts measured refused, their predicted logic larger than the laid-out design's"),
        "{note}"
    );
    // With the prediction off, the build finds the misfit and falls back: the ladder.
    let out = dir.join("out");
    let mut args = vec!["compile"];
    args.extend(model);
    args.extend([
        "--target",
        toml.to_str().unwrap(),
        "--logic-margin",
        "off",
        "--bitstream",
        "--cosim-samples",
        "2",
        "-o",
        out.to_str().unwrap(),
    ]);
    let (code, stdout, stderr) = spikefab(&args);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let want = format!(
        "event-driven after the design with it dense does not fit: synthesis needs {auto} LUT4 cells but up5k-small has {limit}"
    );
    assert!(stdout.contains(&want), "{stdout}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let note = r["plan"]["datapath_note"].as_str().unwrap();
    assert!(note.starts_with("auto: ") && note.contains(&want), "{note}");
    let dense_left = dense_in(&r["plan"]);
    assert!(dense_left < dense_in(&auto_plan), "{}", r["plan"]);
    let used = r["fpga"]["luts"]["used"].as_u64().unwrap();
    assert!(used <= limit, "{used} LUT4 on a device of {limit}");
    if dense_left == 0 {
        assert_eq!(used, event, "the all-event design is the one measured first");
    }
    assert_eq!(r["cosim"]["word_mismatches"], 0);
    assert_eq!(r["failures"], serde_json::json!([]), "{}", r["failures"]);
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("plan.json")).unwrap()).unwrap();
    assert_eq!(plan["datapath_note"], r["plan"]["datapath_note"]);
    assert_eq!(dense_in(&plan), dense_left);
}
