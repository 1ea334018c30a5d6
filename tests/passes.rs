//! The passes: simplifications keep every output identical (reference engine in f32 and f64,
//! cycle engine), student pruning matches an independent rebuild, the K-sweep beats random
//! subsets, timestep and early-exit choices hold their promises, and the RTL with early exit
//! matches the cycle engine.

use crate::common;

use common::{Case, plan_for, scratch, spikefab, students, tool_or_skip};
use petgraph::graph::NodeIndex;
use spikefab::Model;
use spikefab::data::{self, InputBatch};
use spikefab::dse::{self as select, Bound, Evaluator};
use spikefab::hw::PlanOptions;
use spikefab::ir::dialect::DialectOverrides;
use spikefab::ir::{Graph, Op, Tensor};
use spikefab::passes::students::{self, KeepStudents};
use spikefab::passes::{Context, PassError, Pipeline};
use spikefab::sim::cycle;
use spikefab::sim::reference::{self, RunOptions};
use spikefab::target::Target;

fn case(name: &str) -> Case {
    students().into_iter().map(|(c, _)| c).find(|c| c.name == name).unwrap()
}

fn labels() -> Vec<usize> {
    data::load_labels(&common::root().join("models/digits_test_y.npy"), 450).unwrap()
}

/// A copy of `g` with its nodes' ops changed by `f` and `extra` inserted on edge `a -> b`.
fn edit(g: &Graph, f: &dyn Fn(&str, &Op) -> Op, insert: Option<(&str, &str, &str, Op)>) -> Graph {
    let mut out = Graph { g: Default::default(), dialect: g.dialect.clone(), provenance: g.provenance.clone() };
    let map: Vec<NodeIndex> =
        g.g.node_indices().map(|i| out.add_node(g.g[i].name.clone(), f(&g.g[i].name, &g.g[i].op))).collect();
    let extra = insert.as_ref().map(|(_, _, n, op)| out.add_node(*n, op.clone()));
    for (s, t) in g.edges() {
        match &insert {
            Some((a, b, _, _)) if g.g[s].name == *a && g.g[t].name == *b => {
                out.add_edge(map[s.index()], extra.unwrap());
                out.add_edge(extra.unwrap(), map[t.index()]);
            }
            _ => {
                out.add_edge(map[s.index()], map[t.index()]);
            }
        }
    }
    out
}

fn model_of(m: &Model, g: Graph) -> Model {
    Model::from_graph(&m.path, g, &DialectOverrides::default()).unwrap()
}

fn reference_out(m: &Model, batch: &InputBatch, steps: usize, f64: bool) -> Vec<f64> {
    let output = m.graph.select_output(None).unwrap();
    reference::run(&m.graph, &m.info, m.dialect(), batch, &RunOptions { steps, f64, output }, None)
        .unwrap()
        .outputs
        .data
}

fn opts(batch: &InputBatch, steps: usize) -> PlanOptions {
    let mut o = PlanOptions::new(Target::load("ice40-up5k").unwrap(), steps);
    o.input_stats = Some(spikefab::quant::InputStats::of(batch));
    o
}

fn cycle_out(m: &Model, batch: &InputBatch, steps: usize) -> Vec<f64> {
    let plan = spikefab::hw::lower(m, &opts(batch, steps)).unwrap();
    cycle::run(&plan, batch, steps).outputs.data
}

fn hw_range(batch: &InputBatch, steps: usize) -> Option<(f64, f64)> {
    spikefab::quant::input_plan("input", [1, 1, 1], &opts(batch, steps).quant()).ok().map(|p| p.range())
}

/// `after` must give exactly `before`'s outputs on both engines.
fn same_outputs(before: &Model, after: &Model, batch: &InputBatch, steps: usize, what: &str) {
    for f64 in [false, true] {
        let (a, b) = (reference_out(before, batch, steps, f64), reference_out(after, batch, steps, f64));
        let differ = a.iter().zip(&b).filter(|(x, y)| x != y).count();
        assert_eq!(differ, 0, "{what}: {differ} reference outputs differ (f64 = {f64})");
    }
    let (a, b) = (cycle_out(before, batch, steps), cycle_out(after, batch, steps));
    assert_eq!(a, b, "{what}: cycle-engine outputs differ");
}

#[test]
fn scales_fold_into_weights_without_changing_any_spike() {
    let c = case("mlp_bw");
    let m = c.load();
    let batch = c.batch(&m);
    // Power-of-two scales before fc1 (per input) and after fc2 (per row): exact in float.
    let pre: Vec<f64> = (0..64).map(|i| [0.5, 1.0, 2.0, 0.25][i % 4]).collect();
    let post: Vec<f64> = (0..10).map(|i| [2.0, 1.0, 0.5][i % 3]).collect();
    let g1 = edit(
        &m.graph,
        &|_, op| op.clone(),
        Some(("input", "fc1", "pre_scale", Op::Scale { scale: Tensor::f64(vec![64], pre) })),
    );
    let m1 = model_of(&m, g1);
    let g2 = edit(
        &m1.graph,
        &|_, op| op.clone(),
        Some(("fc2", "lif2", "post_scale", Op::Scale { scale: Tensor::f64(vec![10], post) })),
    );
    let scaled = model_of(&m, g2);
    let cx = Context { steps: c.timesteps, input_range: hw_range(&batch, c.timesteps) };
    let (folded, rec) = Pipeline::simplify().run(&scaled, &cx).unwrap();
    assert!(folded.graph.find("pre_scale").is_none() && folded.graph.find("post_scale").is_none());
    assert_eq!(rec[0].pass, "fold-scale");
    assert_eq!(rec[0].changes.len(), 2, "{:?}", rec[0].changes);
    assert_eq!(rec[0].nodes, (scaled.graph.len(), scaled.graph.len() - 2));
    same_outputs(&scaled, &folded, &batch, c.timesteps, "fold-scale");

    // A per-channel scale before a convolution: the lowering refuses it, the fold removes it.
    let c = case("conv_bw");
    let m = c.load();
    let batch = c.batch(&m);
    let conv_in = m.graph.in_edges(m.graph.find("conv0").unwrap())[0].1;
    let src = m.graph.g[conv_in].name.clone();
    let g = edit(
        &m.graph,
        &|_, op| op.clone(),
        Some((&src, "conv0", "in_scale", Op::Scale { scale: Tensor::f64(vec![1], vec![0.5]) })),
    );
    let scaled = model_of(&m, g);
    let refused = spikefab::hw::lower(&scaled, &opts(&batch, c.timesteps)).unwrap_err().to_string();
    assert!(refused.contains("Scale before a convolution"), "{refused}");
    let (folded, _) = Pipeline::simplify().run(&scaled, &cx).unwrap();
    assert!(folded.graph.find("in_scale").is_none());
    assert!(spikefab::hw::lower(&folded, &opts(&batch, c.timesteps)).is_ok(), "the folded model lowers");
    for f64 in [false, true] {
        let (a, b) =
            (reference_out(&scaled, &batch, c.timesteps, f64), reference_out(&folded, &batch, c.timesteps, f64));
        assert_eq!(a, b, "conv fold, f64 = {f64}");
    }
}

#[test]
fn never_firing_neurons_and_dead_branches_are_removed_exactly() {
    let c = case("mlp_bw");
    let m = c.load();
    let batch = c.batch(&m);
    // Twelve hidden neurons get a bias no input can overcome.
    let dead: Vec<usize> = (0..128).step_by(11).collect();
    let g = edit(
        &m.graph,
        &|name, op| match (name, op) {
            ("fc1", Op::Affine { weight, bias }) => {
                let mut b = bias.to_vec();
                for &j in &dead {
                    b[j] = -1.0e4;
                }
                Op::Affine { weight: weight.clone(), bias: bias.like(bias.shape.clone(), b) }
            }
            _ => op.clone(),
        },
        Some(("lif1", "fc2", "dangling", Op::Scale { scale: Tensor::f64(vec![], vec![1.0]) })),
    );
    // Also a node that reaches no output: a copy of fc2 hanging off lif1.
    let mut g = g;
    let lif1 = g.find("lif1").unwrap();
    let fc2 = g.g[g.find("fc2").unwrap()].op.clone();
    let orphan = g.add_node("orphan", fc2);
    g.add_edge(lif1, orphan);
    let before = model_of(&m, g);
    let cx = Context { steps: c.timesteps, input_range: hw_range(&batch, c.timesteps) };
    let (after, rec) = Pipeline::simplify().run(&before, &cx).unwrap();
    let neurons = rec.iter().find(|r| r.pass == "dead-neurons").unwrap();
    assert!(neurons.changes.iter().any(|l| l.contains(&format!("removed {} of 128", dead.len()))), "{neurons:?}");
    let nodes = rec.iter().find(|r| r.pass == "dead-nodes").unwrap();
    assert!(nodes.changes.iter().any(|l| l.contains("'orphan'")), "{nodes:?}");
    assert!(after.graph.find("orphan").is_none());
    let lif1 = after.graph.find("lif1").unwrap();
    assert_eq!(after.info.out_numel(lif1), 128 - dead.len());
    same_outputs(&before, &after, &batch, c.timesteps, "dead neurons");

    // A student whose spikes can never reach the merge: zero head bias, dead hidden layer.
    let c = case("ensemble_bw");
    let m = c.load();
    let batch = c.batch(&m);
    let g = edit(
        &m.graph,
        &|name, op| match (name, op) {
            ("s3_fc2", Op::Affine { weight, bias }) => {
                Op::Affine { weight: weight.clone(), bias: Tensor::f64(bias.shape.clone(), vec![-1.0e4; bias.numel()]) }
            }
            ("s3_head", Op::Affine { weight, bias }) => {
                Op::Affine { weight: weight.clone(), bias: Tensor::f64(bias.shape.clone(), vec![0.0; bias.numel()]) }
            }
            _ => op.clone(),
        },
        None,
    );
    let before = model_of(&m, g);
    let (after, rec) = Pipeline::simplify().run(&before, &cx).unwrap();
    let neurons = rec.iter().find(|r| r.pass == "dead-neurons").unwrap();
    assert!(neurons.changes.iter().any(|l| l.contains("'s3_head' always outputs 0")), "{neurons:?}");
    assert!(after.graph.find("s3_fc1").is_none(), "the dead student's nodes go");
    same_outputs(&before, &after, &batch, c.timesteps, "dead branch");
}

#[test]
fn simplifying_the_trained_students_keeps_every_output() {
    for (c, _) in students() {
        let m = c.load();
        let batch = c.batch(&m);
        let cx = Context { steps: c.timesteps, input_range: hw_range(&batch, c.timesteps) };
        let (after, rec) = Pipeline::simplify().run(&m, &cx).unwrap();
        println!("{}: {:?}", c.name, rec.iter().map(|r| (&r.pass, r.changes.len())).collect::<Vec<_>>());
        same_outputs(&m, &after, &batch, c.timesteps, &c.name);
    }
}

#[test]
fn a_failing_pass_is_named() {
    let c = case("mlp_bw");
    let m = c.load();
    let cx = Context { steps: 8, input_range: None };
    let err = Pipeline::new().then(KeepStudents { keep: vec![0] }).run(&m, &cx).unwrap_err();
    assert!(matches!(&err, PassError::Failed { pass, .. } if pass == "prune-students"), "{err}");
    assert!(err.to_string().contains("prune-students") && err.to_string().contains("no ensemble"), "{err}");
}

/// The pruned ensemble rebuilt by hand: drop every node of the other students by name.
#[test]
fn k_sweep_matches_independent_accuracies_and_beats_random_subsets() {
    let c = case("ensemble_bw");
    let m = c.load();
    let batch = c.batch(&m);
    let y = labels();
    let ev = Evaluator::new(&m, opts(&batch, c.timesteps), &batch, Some(&y), c.timesteps).unwrap();
    let e = students::the_ensemble(&m.graph, &m.info).unwrap();
    assert_eq!(e.students.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["s0", "s1", "s2", "s3"]);
    let (rows, all) = select::k_sweep(&ev, &e, c.timesteps).unwrap();
    assert_eq!(rows.len(), 4);
    assert_eq!(all.len(), 15, "every non-empty subset of 4 is scored");
    for r in &rows {
        // Independent: the rebuilt model through the plan and the cycle engine.
        let hand = common::without_students(&m, &e, &r.best.students);
        let plan = spikefab::hw::lower(&hand, &opts(&batch, c.timesteps)).unwrap();
        let acc = data::agreement(&cycle::run(&plan, &batch, c.timesteps).outputs.classes(), &y);
        assert_eq!(acc, r.best.accuracy.unwrap(), "K = {}: {:?}", r.k, r.best.students);
        // The best subset is the best of all of its size.
        let size_k: Vec<_> = all.iter().filter(|s| s.students.len() == r.k).collect();
        assert!(size_k.iter().all(|s| s.metric() <= r.best.metric()));
        let mean = size_k.iter().map(|s| s.metric()).sum::<f64>() / size_k.len() as f64;
        assert!((mean - r.random_mean).abs() < 1e-12);
        println!("K = {}: best {:?} {:.4}, random mean {:.4}", r.k, r.best.students, r.best.metric(), r.random_mean);
        if r.k < e.students.len() {
            assert!(r.best.metric() > r.random_mean, "K = {}: the chosen subset must beat SNE's random K", r.k);
        }
    }
    // The reference engine agrees on the chosen pair's pruned graph too.
    let two = &rows[1].best.students;
    let pruned = ev.pruned(Some(&e), two).unwrap();
    let hand = common::without_students(&m, &e, two);
    assert_eq!(reference_out(&pruned, &batch, 8, false), reference_out(&hand, &batch, 8, false));
    // The budget picks the most accurate subset that fits.
    let budget = rows[1].best.energy_j * 1.001;
    let pick = select::within_budget(&all, budget).unwrap();
    assert!(pick.energy_j <= budget);
    assert!(all.iter().filter(|s| s.energy_j <= budget).all(|s| s.metric() <= pick.metric()));
}

#[test]
fn timestep_choice_is_the_smallest_meeting_the_bound() {
    for name in ["mlp_bw", "mlp_bw_t4", "conv_bw"] {
        let c = case(name);
        let m = c.load();
        let batch = c.batch(&m);
        let y = labels();
        let ev = Evaluator::new(&m, opts(&batch, c.timesteps), &batch, Some(&y), c.timesteps).unwrap();
        let sweep = select::t_sweep(&ev, &m, &[], false).unwrap();
        assert_eq!(sweep.len(), c.timesteps);
        assert_eq!(sweep.last().unwrap().agreement, 1.0);
        for bound in [Bound::MinAgreement(0.95), Bound::MinAgreement(0.99), Bound::MaxAccuracyDrop(0.01)] {
            let t = select::smallest_t(&sweep, bound).unwrap();
            let ok = |s: &select::Score| match bound {
                Bound::MinAgreement(a) => s.agreement >= a,
                Bound::MaxAccuracyDrop(d) => s.accuracy.unwrap() >= sweep.last().unwrap().accuracy.unwrap() - d - 1e-12,
            };
            assert!(ok(t));
            assert!(sweep.iter().filter(|s| s.timesteps < t.timesteps).all(|s| !ok(s)), "{name}: {bound:?}");
            println!("{name} {bound:?}: T' = {} (agreement {:.4})", t.timesteps, t.agreement);
        }
        // Energy falls with T'.
        assert!(sweep.first().unwrap().energy_j < sweep.last().unwrap().energy_j);
    }
}

#[test]
fn early_exit_never_changes_a_class_and_saves_steps() {
    for (c, _) in students() {
        let m = c.load();
        let batch = c.batch(&m);
        let mut o = opts(&batch, c.timesteps);
        let full = cycle::run(&spikefab::hw::lower(&m, &o).unwrap(), &batch, c.timesteps);
        o.settings.early_exit = true;
        let exit = cycle::run(&spikefab::hw::lower(&m, &o).unwrap(), &batch, c.timesteps);
        assert_eq!(exit.outputs.classes(), full.outputs.classes(), "{}: early exit changed a class", c.name);
        let steps = exit.total.steps_run as f64 / batch.n as f64;
        let saved = 1.0 - exit.total.cycles as f64 / full.total.cycles as f64;
        println!(
            "{}: {:.2} of {} steps, {:.1}% cycles saved on all 450 test inputs",
            c.name,
            steps,
            c.timesteps,
            100.0 * saved
        );
        assert!(steps < c.timesteps as f64, "{}: early exit never triggered", c.name);
        assert!(saved > 0.0);
    }
}

#[test]
fn early_exit_rtl_matches_the_cycle_engine() {
    if !tool_or_skip("iverilog", "early_exit_rtl_matches_the_cycle_engine") {
        return;
    }
    for name in ["mlp_bw", "mlp_bw_t4", "ensemble_bw", "conv_bw"] {
        let c = case(name);
        let (m, _, batch) = plan_for(&c, None);
        let n = if name == "conv_bw" { 1 } else { 6 };
        let mut o = opts(&batch, c.timesteps);
        o.settings.early_exit = true;
        if name == "conv_bw" {
            o.settings.lanes = Some(8);
        }
        let plan = spikefab::hw::lower(&m, &o).unwrap();
        let dir = scratch(&format!("cosim-exit-{name}"));
        let r =
            spikefab::flow::cosim::cosim(&plan, &batch, n, spikefab::flow::cosim::Simulator::Iverilog, &dir, &|_| {})
                .unwrap();
        assert!(r.exact(), "{name}: {:?}", r.first_differences);
        let full: u64 = {
            let p = plan.without_early_exit();
            cycle::run(&p, &batch.take(n), c.timesteps).total.cycles
        };
        let rtl: u64 = r.rtl_cycles.iter().sum();
        assert!(rtl < full, "{name}: the RTL exits early ({rtl} cycles against {full})");
    }
}

#[test]
fn cli_cuts_and_explore() {
    let x = "models/digits_test_x.npy";
    let y = "models/digits_test_y.npy";
    let ens = ["models/ensemble_bw/ensemble_bw.nir", "--dt", "1e-4", "-T", "8"];
    // simulate, verify and energy take the same cuts.
    let (code, out, err) =
        spikefab(&[&["simulate"], &ens[..], &["--inputs", x, "--labels", y, "--students", "s1,s3", "--json"]].concat());
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["passes"][0]["changes"][0].as_str().unwrap().contains("s1, s3"), "{v}");
    let (code, out, err) = spikefab(
        &[
            &["verify"],
            &ens[..],
            &["--inputs", x, "--labels", y, "--keep-students", "2", "--auto-timesteps", "--early-exit", "--json"],
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v["timesteps"].as_u64().unwrap() <= 8);
    assert_eq!(v["early_exit"]["changed"], 0);
    let passes: Vec<&str> = v["passes"].as_array().unwrap().iter().map(|p| p["pass"].as_str().unwrap()).collect();
    assert_eq!(&passes[..2], ["prune-students", "auto-timesteps"]);
    // Bad choices are usage errors.
    for bad in [
        vec![
            "verify",
            "models/mlp_bw/mlp_bw.nir",
            "--from",
            "snntorch",
            "-T",
            "8",
            "--inputs",
            x,
            "--keep-students",
            "2",
        ],
        vec!["verify", ens[0], "--dt", "1e-4", "-T", "8", "--inputs", x, "--students", "s9"],
        vec!["verify", ens[0], "--dt", "1e-4", "-T", "8", "--inputs", x, "--keep-students", "5"],
        vec!["verify", ens[0], "--dt", "1e-4", "-T", "8", "--inputs", x, "--energy-budget", "1e-12"],
        vec![
            "verify",
            ens[0],
            "--dt",
            "1e-4",
            "-T",
            "8",
            "--inputs",
            x,
            "--auto-timesteps",
            "--max-accuracy-drop",
            "0.01",
        ],
    ] {
        let (code, _, err) = spikefab(&bad);
        assert_eq!(code, 2, "{bad:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        println!("{bad:?}: {}", err.trim());
    }
    // explore: the table, its JSON and the report.
    let dir = scratch("explore");
    let json = dir.join("explore.json");
    let html = dir.join("explore.html");
    let (code, out, err) = spikefab(
        &[
            &["explore"],
            &ens[..],
            &["--calib", x, "--labels", y, "-o", json.to_str().unwrap(), "--report", html.to_str().unwrap()],
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Pareto front") && out.contains("random mean"), "{out}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let x = &v["exploration"];
    assert_eq!(x["k_sweep"].as_array().unwrap().len(), 4);
    let confs = x["configurations"].as_array().unwrap();
    // The pruned models, then the one design under the 14 proper subsets (run-time masks at
    // T = 8, tests/ensemble_mask.rs): the UP5K's auto schedule is sequential (the pipelined
    // design is predicted not to fit its logic), which takes a mask, with and without early
    // exit.
    let pruned = confs.iter().filter(|c| c["run_time"] != true).count();
    assert_eq!(pruned, 4 * (8 + 7), "4 subsets x (8 T' + 7 with early exit)");
    assert_eq!(confs.len(), pruned + 2 * 14);
    assert_eq!(x["pareto"].as_array().unwrap().len(), confs.len());
    assert!(x["pareto"].as_array().unwrap().iter().any(|p| p == true));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("Accuracy against energy"));
    // Every configuration carries its schedule: on a pipelined target (ECP5) the early-exit
    // ones take the sequential schedule, which early exit needs, instead of failing to lower.
    let json5 = dir.join("explore-ecp5.json");
    let (code, out, err) = spikefab(
        &[
            &["explore"],
            &ens[..],
            &["--calib", "models/digits_test_x.npy", "--target", "ecp5-25k", "-o", json5.to_str().unwrap()],
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json5).unwrap()).unwrap();
    let confs = v["exploration"]["configurations"].as_array().unwrap();
    // The pipelined design takes no mask: masked configurations only with early exit.
    assert_eq!(confs.len(), 4 * (8 + 7) + 14);
    for c in confs {
        let want = if c["early_exit"] == true { "sequential" } else { "pipelined" };
        assert_eq!(c["schedule"], want, "{c}");
    }
}

/// With labels, students are kept by accuracy, and the criterion is always printed; asking
/// for accuracy without labels of the calibration data is refused.
#[test]
fn keep_students_says_and_honours_its_criterion() {
    let base = [
        "simulate",
        "models/ensemble_bw/ensemble_bw.nir",
        "--dt",
        "1e-4",
        "-T",
        "8",
        "--inputs",
        "models/digits_test_x.npy",
        "--keep-students",
        "2",
    ];
    let (code, _, err) = spikefab(&[&base[..], &["--labels", "models/digits_test_y.npy"]].concat());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("students: kept") && err.contains("by accuracy"), "{err}");
    let (code, _, err) = spikefab(&base);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("by agreement with all students") && err.contains("give labels"), "{err}");
    let (code, _, err) = spikefab(
        &[
            &base[..],
            &["--labels", "models/digits_test_y.npy", "--calib", "models/digits_test_x.npy", "--select-by", "accuracy"],
        ]
        .concat(),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--calib-labels"), "{err}");
    // Chosen by accuracy, the kept pair is the most accurate pair explore ranks.
    let (code, out, err) = spikefab(&[
        "explore",
        "models/ensemble_bw/ensemble_bw.nir",
        "--dt",
        "1e-4",
        "-T",
        "8",
        "--calib",
        "models/digits_test_x.npy",
        "--labels",
        "models/digits_test_y.npy",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let e: serde_json::Value = serde_json::from_str(&out).unwrap();
    let sweep = e["exploration"]["k_sweep"].as_array().unwrap();
    let best2 = sweep.iter().find(|r| r["k"] == 2).unwrap()["best"]["students"].clone();
    let (code, out, err) = spikefab(
        &[&base[..], &["--labels", "models/digits_test_y.npy", "--verbose", "--select-by", "accuracy"]].concat(),
    );
    assert_eq!(code, 0, "{err}");
    let names: Vec<String> = best2.as_array().unwrap().iter().map(|i| format!("s{}", i)).collect();
    assert!(out.contains(&format!("chose {}", names.join(", "))), "explore's best pair {names:?}: {out}");
}
