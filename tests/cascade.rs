//! The input-adaptive cascade (`--cascade`): one streamed design of an ensemble runs its active
//! students one per stage, the shared layers after each, and stops when the output's margin
//! reaches a run-time threshold. Each stage computes what the design under the students run
//! so far computes; the RTL is spike- and cycle-exact against the cycle engine for a stream
//! whose students, margins and cascade switch change at every inference.

use crate::common;

use common::{Case, students};
use spikefab::data::InputBatch;
use spikefab::hw::{Cascade, Plan, PlanOptions};
use spikefab::sim::cycle;
use spikefab::target::{ScheduleChoice, Target};

fn case(name: &str) -> Case {
    students().into_iter().map(|(c, _)| c).find(|c| c.name == name).unwrap()
}

fn streamed(c: &Case) -> (spikefab::Model, Plan) {
    let m = c.load();
    let batch = c.batch(&m);
    let mut o = PlanOptions::new(Target::load("ice40-up5k").unwrap(), c.timesteps);
    o.input_stats = Some(spikefab::quant::InputStats::of(&batch));
    o.settings.schedule = Some(ScheduleChoice::Streamed);
    let p = spikefab::hw::lower(&m, &o).unwrap();
    (m, p)
}

/// Stage k of the cascade is the design under the first k active students in its order (the
/// students', or one of the design's own): the output of the stage it stops at is that
/// prefix's masked run, bit for bit, the earlier stages' outputs are the shorter prefixes',
/// and it stops at the first stage whose margin reaches the threshold.
/// Margin 0 stops after one student, a margin no output reaches runs them all, and more
/// students cost more cycles than fewer.
#[test]
fn each_stage_is_the_design_under_the_students_so_far() {
    let c = case("ensemble_bw");
    let (m, bare) = streamed(&c);
    assert_eq!(bare.cascade_refusal(), None);
    let batch = c.batch(&m).take(64);
    let n = bare.students.as_ref().unwrap().names.len();
    let numel = bare.layers[bare.output.layer].neurons();
    let mut ordered = bare.clone();
    ordered.cascade = Some(Cascade { margin: 0, order: vec![2, 0, 3, 1] });
    for (plan, active) in [(&bare, vec![true; n]), (&bare, vec![false, true, false, true]), (&ordered, vec![true; n])] {
        let order: Vec<usize> = plan.cascade_order().into_iter().filter(|&s| active[s]).collect();
        let prefixes: Vec<cycle::BatchResult> = (1..=order.len())
            .map(|k| {
                let mask: Vec<bool> = (0..n).map(|s| order[..k].contains(&s)).collect();
                cycle::run_active(plan, &batch, c.timesteps, &mask).unwrap()
            })
            .collect();
        let mut stops = vec![0usize; order.len()];
        let one = cycle::run_cascade(plan, &batch, c.timesteps, &active, 0).unwrap();
        for margin in [0u64, 2, 4, 8, 1000] {
            let r = cycle::run_cascade(plan, &batch, c.timesteps, &active, margin).unwrap();
            for (i, s) in r.samples.iter().enumerate() {
                let k = s.stage_raw.len();
                assert_eq!(s.raw, prefixes[k].samples[i].raw, "sample {i} margin {margin}: the last stage");
                for (j, st) in s.stage_raw.iter().enumerate() {
                    assert_eq!(st, &prefixes[j].samples[i].raw);
                    assert!(cycle::output_margin(st, numel) < margin, "stage {j} went on though its margin was met");
                }
                assert!(k + 1 == order.len() || cycle::output_margin(&s.raw, numel) >= margin);
                if margin == 0 {
                    assert_eq!(k, 0);
                }
                if margin == 1000 {
                    assert_eq!(k + 1, order.len());
                }
                stops[k] += 1;
            }
            assert!(one.total.cycles <= r.total.cycles, "margin 0 stops first: the fewest cycles");
        }
        assert!(stops.iter().all(|&s| s > 0), "{active:?} {order:?}: every stage ends some inference: {stops:?}");
    }
    // A sequential plan runs every layer at each step: refused with the reason.
    let mut o = PlanOptions::new(Target::load("ice40-up5k").unwrap(), c.timesteps);
    o.input_stats = Some(spikefab::quant::InputStats::of(&c.batch(&m)));
    o.settings.schedule = Some(ScheduleChoice::Sequential);
    let seq_plan = spikefab::hw::lower(&m, &o).unwrap();
    let err = cycle::run_cascade(&seq_plan, &batch, c.timesteps, &[true; 4], 2).unwrap_err();
    assert!(err.to_string().contains("--schedule streamed"), "{err}");
}

/// One streamed design with the cascade runs a stream whose students, margins and cascade
/// switch change at every inference, spike- and cycle-exact against the cycle engine (every
/// stage's output words), under Icarus; Verilator -Wall is clean.
#[test]
fn one_rtl_design_runs_any_margin_exactly() {
    let test = "one_rtl_design_runs_any_margin_exactly";
    if !common::tool_or_skip("iverilog", test) {
        return;
    }
    for name in ENSEMBLES {
        let c = case(name);
        let (plan, stream, engine, masks, margins) = cascade_stream(&c);
        let n = plan.students.as_ref().unwrap().names.len();
        let stages: Vec<usize> = engine.iter().map(|s| s.stage_raw.len() + 1).collect();
        assert!(
            stages.contains(&1) && stages.iter().any(|&k| k > 1 && k < n) && stages.contains(&n),
            "{name}: {stages:?}"
        );
        let dir = common::scratch(&format!("cascade-rtl-{name}"));
        let r = spikefab::flow::cosim::cosim_against_cascade(
            &plan,
            &stream,
            &engine,
            Some(&masks),
            Some(&margins),
            spikefab::flow::cosim::Simulator::Iverilog,
            &dir,
            &|_| {},
        )
        .unwrap();
        assert!(r.exact(), "{name}: {:?} (stages {stages:?})", r.first_differences);
        assert_eq!(r.samples, masks.len());
        if name == "ensemble_bw" && common::tool_or_skip("verilator", &format!("{test} (Verilator lint)")) {
            let design = spikefab::back::verilog::emit(&plan, None).unwrap();
            common::assert_lint_clean(&design, "cascade-lint", "ensemble_bw with the cascade");
        }
    }
}

/// The bundled ensembles: 4 and 8 students.
const ENSEMBLES: [&str; 2] = ["ensemble_bw", "ensemble_bw8"];

/// The streamed design of `c` with the cascade in an order of its own (2, 0, 1, then the rest
/// in index order: the design's priority of the next student), and a stream (13 inferences, 7
/// beyond 4 students) changing students, margins and the cascade switch at every inference,
/// with the cycle engine's run of each:
/// (plan, inputs, engine runs, masks, margins).
#[allow(clippy::type_complexity)]
fn cascade_stream(c: &Case) -> (Plan, InputBatch, Vec<cycle::SampleResult>, Vec<Vec<bool>>, Vec<Option<u64>>) {
    let (m, mut plan) = streamed(c);
    let n = plan.students.as_ref().unwrap().names.len();
    plan.cascade = Some(Cascade { margin: 3, order: [2, 0, 1].into_iter().chain(3..n).collect() });
    let all = vec![true; n];
    let some: Vec<bool> = (0..n).map(|s| s != 1).collect();
    let one: Vec<bool> = (0..n).map(|s| s == 2).collect();
    let odd: Vec<bool> = (0..n).map(|s| s % 2 == 1).collect();
    let mut runs: Vec<(Vec<bool>, Option<u64>)> = vec![];
    if n <= 4 {
        for margin in [Some(0), Some(2), Some(4), Some(8), None, Some(1000)] {
            runs.push((all.clone(), margin));
        }
        runs.extend([(some.clone(), Some(3)), (one.clone(), Some(5)), (some.clone(), None), (all.clone(), Some(3))]);
        runs.extend([(odd, Some(6)), (all.clone(), Some(5)), (all.clone(), Some(2))]);
    } else {
        // A larger ensemble's stages take longer: 7 inferences, each kind of change once.
        runs.extend([(all.clone(), Some(0)), (some.clone(), Some(3)), (one, Some(5)), (odd.clone(), None)]);
        runs.extend([(odd, Some(6)), (all.clone(), Some(2)), (all, Some(1000))]);
    }
    let stream = c.batch(&m).take(runs.len());
    let engine: Vec<cycle::SampleResult> = runs
        .iter()
        .enumerate()
        .map(|(i, (a, mg))| {
            let b = stream.range(i..i + 1);
            let r = match mg {
                Some(mg) => cycle::run_cascade(&plan, &b, c.timesteps, a, *mg).unwrap(),
                None => cycle::run_active(&plan, &b, c.timesteps, a).unwrap(),
            };
            r.samples.into_iter().next().unwrap()
        })
        .collect();
    let masks: Vec<Vec<bool>> = runs.iter().map(|r| r.0.clone()).collect();
    let margins: Vec<Option<u64>> = runs.iter().map(|r| r.1).collect();
    (plan, stream, engine, masks, margins)
}

/// The HLS C++ of the same design runs the same stream (its `casc` and `margin` arguments from
/// casc.hex), every stage's output words exact against the cycle engine (g++); a malformed
/// casc.hex line is refused by the testbench (exit 2); `csim --cascade` on the command line.
#[test]
fn one_hls_design_runs_any_margin_exactly() {
    let test = "one_hls_design_runs_any_margin_exactly";
    if !common::tool_or_skip("g++", test) {
        return;
    }
    let part = Target::load("ice40-up5k").unwrap().hls_part().to_string();
    for name in ENSEMBLES {
        let c = case(name);
        let (plan, stream, engine, masks, margins) = cascade_stream(&c);
        let dir = common::scratch(&format!("cascade-hls-{name}"));
        let r = spikefab::flow::csim::csim_against_cascade(
            &plan,
            &stream,
            &engine,
            Some(&masks),
            Some(&margins),
            &part,
            &dir,
        )
        .unwrap();
        assert!(r.exact(), "{name}: {:?}", r.first_differences);
        assert_eq!(r.samples, masks.len());
        let streamed: usize = engine.iter().map(|s| s.stage_raw.len() + 1).sum::<usize>() * c.timesteps;
        assert_eq!(r.steps, streamed, "{name}: every stage's steps");
    }
    // ensemble_bw's testbench (built above) with its last casc.hex line malformed.
    let dir = common::root().join("target/test-scratch/cascade-hls-ensemble_bw");
    let lines = std::fs::read_to_string(dir.join("casc.hex")).unwrap().lines().count();
    std::fs::write(dir.join("casc.hex"), "23\n".repeat(lines - 1) + "7g\n").unwrap();
    let out = std::process::Command::new(dir.join("tb")).current_dir(&dir).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a 6-bit hex word"));
    let out = common::scratch("cascade-csim-cli");
    let (code, stdout, stderr) =
        ensemble_cli("csim", &["--samples", "3", "--schedule", "streamed", "--cascade", "2"], &out);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("csim: bit-exact with the cycle engine"), "{stdout}");
    assert_eq!(std::fs::read_to_string(out.join("casc.hex")).unwrap(), "22\n22\n22\n");
}

/// `spikefab COMMAND` on ensemble_bw at T = 8 with the test digits: `args`, then `-o out`.
fn ensemble_cli(command: &str, args: &[&str], out: &std::path::Path) -> (i32, String, String) {
    let out = out.display().to_string();
    let mut a = vec![command, "models/ensemble_bw/ensemble_bw.nir", "-T", "8", "--inputs", "models/digits_test_x.npy"];
    a.extend(args);
    a.extend(["-o", out.as_str()]);
    common::spikefab(&a)
}

/// `cosim --cascade` co-simulates the streamed design with the cascade at that margin (exit 0,
/// exact, the margin in casc.hex); `simulate --cascade` reports the students run; a design that
/// cannot run it, the reference engine, and the commands that do not run it yet are refused
/// with exit 2 and the reason.
#[test]
fn the_commands_take_the_cascade() {
    let out = common::scratch("cascade-cli");
    if common::tool_or_skip("iverilog", "the_commands_take_the_cascade (cosim)") {
        let args = ["--samples", "3", "--simulator", "iverilog", "--schedule", "streamed", "--cascade", "3", "--json"];
        let (code, stdout, stderr) = ensemble_cli("cosim", &args, &out);
        assert_eq!(code, 0, "{stdout}\n{stderr}");
        assert!(stdout.trim_end().ends_with("cosim: spike- and cycle-exact"), "{stdout}");
        // Bit 5 (the margin port is 5 bits at T = 8) the cascade on, the margin 3 below it.
        assert_eq!(std::fs::read_to_string(out.join("casc.hex")).unwrap(), "23\n23\n23\n");
    }
    let simulate = |extra: &[&str]| {
        let mut a = vec!["simulate", "models/ensemble_bw/ensemble_bw.nir", "-T", "8", "--inputs"];
        a.extend(["models/digits_test_x.npy", "--labels", "models/digits_test_y.npy", "--json"]);
        a.extend(extra);
        common::spikefab(&a)
    };
    let sim = |extra: &[&str]| {
        let mut a = vec!["--engine", "cycle"];
        a.extend(extra);
        simulate(&a)
    };
    let (code, stdout, stderr) = sim(&["--schedule", "streamed", "--cascade", "2", "--active-students", "s1,s2,s3"]);
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let k = v["students_per_inference"].as_f64().unwrap();
    assert!(k > 1.0 && k < 3.0, "{v}");
    // Chosen on the inputs unless given; a given order is every student once.
    assert_eq!(v["cascade_order"].as_array().unwrap().len(), 4, "{v}");
    let (code, stdout, stderr) = sim(&["--schedule", "streamed", "--cascade", "2", "--cascade-order", "3,s2,s1,s0"]);
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["cascade_order"], serde_json::json!(["s3", "s2", "s1", "s0"]));
    for (order, why) in
        [("s0,s1,s0,s3", "twice"), ("s0,s1", "give every student once"), ("s0,s1,s2,s7", "no student 's7'")]
    {
        let (code, _, stderr) = sim(&["--schedule", "streamed", "--cascade", "2", "--cascade-order", order]);
        assert_eq!(code, 2, "{order}: {stderr}");
        assert!(stderr.contains(why), "{order}: {stderr}");
    }
    let (code, _, stderr) = sim(&["--schedule", "streamed", "--cascade-order", "s0,s1,s2,s3"]);
    assert_eq!(code, 2, "--cascade-order needs --cascade: {stderr}");
    for (args, why) in [
        (vec!["--schedule", "sequential", "--cascade", "2"], "--schedule streamed"),
        (vec!["--schedule", "streamed", "--cascade", "2", "--students", "s0,s1"], "without --students"),
    ] {
        let (code, _, stderr) = sim(&args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(why), "{args:?}: {stderr}");
    }
    let (code, _, stderr) = simulate(&["--schedule", "streamed", "--cascade", "2"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--engine cycle"), "{stderr}");
}

/// `verify --cascade` runs the design's cascade on the cycle engine and the reference engine on
/// the model pruned to each prefix of its order, stopping where the margin is met: the
/// cycle engine's accuracy and stages are `simulate --cascade`'s; at margin 0 the reference is
/// the model pruned to the order's first student (`simulate --students`), at a margin no
/// output reaches it is the whole ensemble (plain `verify`'s reference); shards merge into the
/// whole check; a chip, and `--students` beside it, are refused. `compare --cascade` runs it
/// in the FPGA rows, and a chip's row says it cannot.
#[test]
fn verify_and_compare_run_the_cascade() {
    let base = ["models/ensemble_bw/ensemble_bw.nir", "-T", "8", "--inputs", "models/digits_test_x.npy"];
    let opts = ["--labels", "models/digits_test_y.npy", "--samples", "96", "--schedule", "streamed"];
    let run = |cmd: &str, extra: &[&str]| -> serde_json::Value {
        let args = [&[cmd][..], &base[..], &opts[..], extra, &["--json"]].concat();
        let (code, out, err) = common::spikefab(&args);
        assert_eq!(code, 0, "{cmd} {extra:?}: {err}");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
    };
    let v = run("verify", &["--cascade", "3"]);
    assert_eq!(v["pass"], true, "{v}");
    let sim = run("simulate", &["--engine", "cycle", "--cascade", "3"]);
    assert_eq!(v["cycle_accuracy"], sim["accuracy"], "{v}\n{sim}");
    assert_eq!(v["cascade"]["stages_mean"], sim["students_per_inference"], "{v}\n{sim}");
    assert_eq!(v["cascade"]["order"], sim["cascade_order"], "{v}\n{sim}");
    let stages = v["cascade"]["stages_mean"].as_f64().unwrap();
    assert!(stages > 1.0 && stages < 4.0, "{v}");
    assert!(v["cascade"]["stage_outputs_compared"].as_u64().unwrap() > 0, "{v}");
    assert!(v["active_students"].is_null(), "{v}");
    // Over some students: the order keeps only them, and the engine runs the same cascade.
    // (Three students' merge constants are the full ensemble's less the shares, rounded once
    // (docs/passes.md): one or two of 96 classes may differ from the pruned float model.)
    let some = run("verify", &["--cascade", "3", "--active-students", "s0,s2,s3", "--min-agreement", "0.95"]);
    assert_eq!(some["active_students"], serde_json::json!(["s0", "s2", "s3"]));
    assert_eq!(some["cascade"]["order"].as_array().unwrap().len(), 3, "{some}");
    let sim_some = run("simulate", &["--engine", "cycle", "--cascade", "3", "--active-students", "s0,s2,s3"]);
    assert_eq!(some["cycle_accuracy"], sim_some["accuracy"], "{some}\n{sim_some}");
    assert_eq!(some["cascade"]["stages_mean"], sim_some["students_per_inference"], "{some}\n{sim_some}");
    let first = v["cascade"]["order"][0].as_str().unwrap().to_string();
    // One student's outputs often tie between classes, where the masked design's rounding and
    // the pruned float model may break the tie apart: the bound is lowered for this run.
    let v0 = run("verify", &["--cascade", "0", "--min-agreement", "0.9"]);
    assert_eq!(v0["cascade"]["reference_stages_mean"], 1.0);
    assert_eq!(v0["cascade"]["stage_outputs_compared"], 0);
    let pruned = run("simulate", &["--students", &first]);
    assert_eq!(v0["reference_accuracy"], pruned["accuracy"], "{v0}\n{pruned}");
    let all = run("verify", &["--cascade", "1000"]);
    let plain = run("verify", &[]);
    assert_eq!(all["cascade"]["reference_stages_mean"], 4.0);
    assert_eq!(all["reference_accuracy"], plain["reference_accuracy"], "{all}\n{plain}");
    assert_eq!(all["cycle_accuracy"], plain["cycle_accuracy"], "{all}\n{plain}");
    // Two shards merged are the whole check.
    let dir = common::scratch("cascade-verify-shards");
    let mut parts = vec![];
    for i in 0..2 {
        let shard = format!("{i}/2");
        let args = [&["verify"][..], &base[..], &opts[..], &["--cascade", "3", "--shard", &shard]].concat();
        let (code, out, err) = common::spikefab(&args);
        assert_eq!(code, 0, "{err}");
        let p = dir.join(format!("part-{i}.json"));
        std::fs::write(&p, out).unwrap();
        parts.push(p.display().to_string());
    }
    let (code, out, err) =
        common::spikefab(&[&["merge", "--json"][..], &parts.iter().map(String::as_str).collect::<Vec<_>>()].concat());
    assert_eq!(code, 0, "{err}");
    let merged: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(merged["cycle_accuracy"], v["cycle_accuracy"]);
    assert_eq!(merged["cascade"], v["cascade"]);
    // compare: the FPGA row runs the cascade (simulate --cascade's accuracy), a chip refuses.
    let c = run("compare", &["--targets", "ice40-up5k,loihi2", "--cascade", "3"]);
    assert_eq!(c["cascade"], 3, "{c}");
    let rows = c["rows"].as_array().unwrap();
    assert_eq!(rows[0]["accuracy"], sim["accuracy"], "{c}");
    assert_eq!(rows[1]["fits"], false, "{c}");
    assert!(rows[1]["why_not"][0].as_str().unwrap().contains("cannot stop after some of them"), "{c}");
    for (extra, why) in [
        (&["--schedule", "streamed", "--cascade", "3", "--students", "s0,s1"][..], "without --students"),
        (&["--cascade", "3", "--target", "loihi2"][..], "cannot switch students at run time"),
    ] {
        let (code, _, err) = common::spikefab(&[&["verify"][..], &base[..], extra].concat());
        assert_eq!(code, 2, "{extra:?}: {err}");
        assert!(err.contains(why), "{extra:?}: {err}");
    }
}

/// `explore` on the streamed schedule sweeps the cascade's margin on the one design (0 to the
/// largest an output reaches, T = 8: 0..=8), each configuration the same figures as `energy
/// --cascade M` on it (accuracy and energy), fewer students run at a lower margin; the
/// sequential schedule's design cannot run it and has none.
#[test]
fn explore_sweeps_the_margin_on_the_one_design() {
    let run = |command: &str, schedule: &str, extra: &[&str]| -> serde_json::Value {
        let mut a = vec![command, "models/ensemble_bw/ensemble_bw.nir", "-T", "8", "--schedule", schedule];
        a.extend(["--datapath", "event", "--labels", "models/digits_test_y.npy", "--json"]);
        a.extend(extra);
        let (code, out, err) = common::spikefab(&a);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str(&out).unwrap()
    };
    let x = run("explore", "streamed", &["--calib", "models/digits_test_x.npy"])["exploration"].clone();
    let cascade: Vec<&serde_json::Value> =
        x["configurations"].as_array().unwrap().iter().filter(|c| !c["cascade"].is_null()).collect();
    let margins: Vec<u64> = cascade.iter().map(|c| c["cascade"].as_u64().unwrap()).collect();
    assert_eq!(margins, (0..=8).collect::<Vec<_>>(), "{cascade:?}");
    assert!(cascade.iter().all(|c| c["run_time"] == true && c["students"].as_array().unwrap().len() == 4));
    let at = |m: u64| cascade.iter().find(|c| c["cascade"] == m).unwrap();
    assert!(at(0)["energy_j"].as_f64() < at(4)["energy_j"].as_f64());
    let e = run("energy", "streamed", &["--inputs", "models/digits_test_x.npy", "--cascade", "3"]);
    assert_eq!(at(3)["energy_j"], e["energy_per_inference_j"], "{}\n{e}", at(3));
    assert_eq!(at(3)["accuracy"], e["accuracy"], "{}\n{e}", at(3));
    // NeuroBench counts one model: under the cascade every student's, and it says so.
    assert!(e["counts_of"].as_str().unwrap().contains("the cascade stops earlier"), "{e}");
    let x = run("explore", "sequential", &["--calib", "models/digits_test_x.npy"])["exploration"].clone();
    assert!(x["configurations"].as_array().unwrap().iter().all(|c| c["cascade"].is_null()));
}
