//! Run-time student masks (`--active-students`): one plan of an ensemble runs any subset of its
//! students. With every student active it is the unmasked run, value for value and cycle for
//! cycle; an inactive student's layers run no phase, report nothing and cost no cycle; and where
//! a compile-time pruning of the same students quantises to the same integers (the first
//! student kept, so the merge layer keeps its units), the masked full plan gives the pruned
//! plan's outputs and cycles exactly.

use crate::common;

use common::{Case, spikefab, students};
use spikefab::Model;
use spikefab::data::InputBatch;
use spikefab::hw::{Plan, PlanOptions};
use spikefab::passes::students as ens;
use spikefab::sim::cycle;
use spikefab::target::{ScheduleChoice, Target};

fn case(name: &str) -> Case {
    students().into_iter().map(|(c, _)| c).find(|c| c.name == name).unwrap()
}

/// `spikefab COMMAND` on ensemble_bw at T = 8 with the test digits: `args`, then `-o out`,
/// then `extra`.
fn ensemble_cli(command: &str, args: &[&str], out: &std::path::Path, extra: &[&str]) -> (i32, String, String) {
    let out = out.display().to_string();
    let mut a = vec![command, "models/ensemble_bw/ensemble_bw.nir", "-T", "8", "--inputs", "models/digits_test_x.npy"];
    a.extend(args);
    a.extend(["-o", out.as_str()]);
    a.extend(extra);
    spikefab(&a)
}

fn plan(m: &Model, batch: &InputBatch, steps: usize, schedule: ScheduleChoice, lanes: Option<usize>) -> Plan {
    let mut o = PlanOptions::new(Target::load("ice40-up5k").unwrap(), steps);
    o.input_stats = Some(spikefab::quant::InputStats::of(batch));
    o.settings.schedule = Some(schedule);
    o.settings.lanes = lanes;
    spikefab::hw::lower(m, &o).unwrap()
}

#[test]
fn a_mask_runs_the_full_plan_with_the_other_students_switched_off() {
    let c = case("ensemble_bw");
    let m = c.load();
    let batch = c.batch(&m).take(96);
    let steps = c.timesteps;
    let e = ens::the_ensemble(&m.graph, &m.info).unwrap();
    let n = e.students.len();
    let mut compared = 0;
    for (schedule, lanes) in
        [(ScheduleChoice::Sequential, None), (ScheduleChoice::Sequential, Some(4)), (ScheduleChoice::Streamed, Some(2))]
    {
        let full = plan(&m, &batch, steps, schedule, lanes);
        let st = full.students.as_ref().expect("the ensemble's students are tagged");
        assert_eq!(st.names, ["s0", "s1", "s2", "s3"]);
        let merge = full.layers.iter().position(|l| l.name == st.merge).unwrap();
        assert!(st.layer[merge].is_none() && st.projection[merge].iter().all(Option::is_some));
        let unmasked = cycle::run(&full, &batch, steps);
        let all = cycle::run_active(&full, &batch, steps, &vec![true; n]).unwrap();
        assert_eq!(all.outputs.data, unmasked.outputs.data, "{schedule:?}: every student active");
        for (a, b) in all.samples.iter().zip(&unmasked.samples) {
            assert_eq!(a.counters, b.counters, "{schedule:?}: every student active");
        }
        for bits in 1..(1u32 << n) - 1 {
            let active: Vec<bool> = (0..n).map(|s| bits >> s & 1 == 1).collect();
            let keep: Vec<usize> = (0..n).filter(|&s| active[s]).collect();
            let what = format!("{schedule:?} lanes {lanes:?}, students {keep:?}");
            let run = cycle::run_active(&full, &batch, steps, &active).unwrap();
            // The traced (general) path agrees with the fast one.
            for i in [0, 3] {
                let traced = cycle::run_traced_active(&full, &batch, i, steps, &active, &mut common::NoTrace).unwrap();
                assert_eq!(traced.raw, run.samples[i].raw, "{what}: traced path, sample {i}");
                assert_eq!(traced.counters, run.samples[i].counters, "{what}: traced path, sample {i}");
                assert_eq!(traced.step_end_cycles, run.samples[i].step_end_cycles, "{what}: sample {i}");
            }
            // An inactive student's layers run nothing; removing a student saves cycles.
            for (k, l) in full.layers.iter().enumerate() {
                let lc = &run.total.layers[k];
                if st.layer[k].is_some_and(|s| !active[s]) {
                    assert_eq!(
                        (lc.update_passes, lc.acc_phases, lc.cycles, lc.spikes),
                        (0, 0, 0, 0),
                        "{what}: {}",
                        l.name
                    );
                    assert_eq!((lc.events_in, lc.event_reads, lc.event_writes), (0, 0, 0), "{what}: {}", l.name);
                }
                // The merge's projections from inactive students deliver nothing.
                for (pi, s) in st.projection[k].iter().enumerate() {
                    if k == merge && s.is_some_and(|s| !active[s]) {
                        assert_eq!(lc.proj_synaptic_ops[pi], 0, "{what}: {} projection {pi}", l.name);
                        assert_eq!(lc.proj_weight_reads[pi], 0, "{what}: {} projection {pi}", l.name);
                    }
                }
            }
            assert!(run.total.cycles < unmasked.total.cycles, "{what}: fewer students, fewer cycles");
            // The pruned plan is the same arithmetic for a prefix of the students: it keeps the
            // merge layer's units (the first student's head sets them), and the shares are those
            // of a running sum in student order, so a prefix gets its own sum's constants (other
            // subsets may differ by the rounding of their sum).
            let prefix = keep.iter().enumerate().all(|(i, &s)| i == s);
            if !prefix {
                continue;
            }
            let p = plan(&common::without_students(&m, &e, &keep), &batch, steps, schedule, lanes);
            let pm = p.layers.iter().position(|l| l.name == st.merge).unwrap();
            let (masked_plan, _) = full.masked(&active).unwrap();
            assert_eq!(p.layers[pm].params, masked_plan.layers[merge].params, "{what}: a prefix's constants");
            compared += 1;
            let r = cycle::run(&p, &batch, steps);
            assert_eq!(run.outputs.data, r.outputs.data, "{what}: outputs against the pruned plan");
            for (i, (a, b)) in run.samples.iter().zip(&r.samples).enumerate() {
                assert_eq!(a.counters.cycles, b.counters.cycles, "{what}: sample {i}'s cycles against the pruned plan");
            }
        }
    }
    assert_eq!(compared, 9, "three prefixes on each of three plans");
}

#[test]
fn masks_that_cannot_run_are_refused() {
    let c = case("ensemble_bw");
    let m = c.load();
    let batch = c.batch(&m).take(8);
    let full = plan(&m, &batch, c.timesteps, ScheduleChoice::Sequential, None);
    for bad in [vec![false; 4], vec![true; 3]] {
        assert!(cycle::run_active(&full, &batch, c.timesteps, &bad).is_err(), "{bad:?}");
    }
    // A merge layer whose constants were clamped to a capped width has no exact share to take.
    let capped = common::relayout(&full, None, |net| {
        let k = net.layers.iter().position(|l| l.name == "lif_out").unwrap();
        net.layers[k].saturate = true;
    });
    let err = cycle::run_active(&capped, &batch, c.timesteps, &[true, false, true, true]).unwrap_err();
    assert!(err.to_string().contains("saturates its constants"), "{err}");
    let model = c.path(&c.model);
    let x = c.path(&c.inputs);
    let base = ["simulate", model.to_str().unwrap(), "--inputs", x.to_str().unwrap(), "-T", "8", "--samples", "4"];
    let run = |extra: &[&str]| {
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        spikefab(&args)
    };
    for (extra, needle) in [
        (&["--engine", "cycle", "--schedule", "sequential", "--active-students", "s9"][..], "no student 's9'"),
        (&["--engine", "cycle", "--schedule", "pipelined", "--active-students", "s0"][..], "pipelined schedule"),
        (&["--engine", "cycle", "--target", "loihi2", "--active-students", "s0"][..], "cannot switch students"),
        (&["--engine", "reference", "--students", "s1", "--active-students", "s0"][..], "without --students"),
    ] {
        let (code, _, err) = run(extra);
        assert_eq!(code, 2, "{extra:?}: {err}");
        assert!(err.contains(needle), "{extra:?}: {err}");
    }
    // A network without an ensemble has no students to switch.
    let mlp = case("mlp_bw");
    let mp = mlp.path(&mlp.model);
    let (code, _, err) = spikefab(&[
        "simulate",
        mp.to_str().unwrap(),
        "--inputs",
        x.to_str().unwrap(),
        "-T",
        "8",
        "--samples",
        "4",
        "--engine",
        "cycle",
        "--active-students",
        "s0",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no single ensemble"), "{err}");
    // The masked run on the command line: fewer students, fewer cycles.
    let cycles = |extra: &[&str]| {
        let (code, out, err) = run(&[&["--engine", "cycle", "--schedule", "sequential", "--json"][..], extra].concat());
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v["cycles_per_inference"].as_f64().unwrap_or_else(|| panic!("{out}"))
    };
    let (all, two, one) = (cycles(&[]), cycles(&["--active-students", "s0,s2"]), cycles(&["--active-students", "1"]));
    assert!(one < two && two < all, "{one} {two} {all}");
    // And less energy per inference.
    let energy = |extra: &[&str]| {
        let mut args = vec!["energy", model.to_str().unwrap(), "--inputs", x.to_str().unwrap(), "-T", "8"];
        args.extend(["--samples", "16", "--schedule", "sequential", "--json"]);
        args.extend(extra);
        let (code, out, err) = spikefab(&args);
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v["energy_per_inference_j"].as_f64().unwrap_or_else(|| panic!("{out}"))
    };
    let (all, two, one) = (energy(&[]), energy(&["--active-students", "s0,s2"]), energy(&["--active-students", "s1"]));
    assert!(one < two && two < all, "{one} {two} {all} J");
}

/// The cycle engine's run of each inference of `stream` under its own mask: what a
/// co-simulated or C-simulated stream of masks is compared with.
fn masked_runs(plan: &Plan, stream: &InputBatch, masks: &[Vec<bool>], steps: usize) -> Vec<cycle::SampleResult> {
    masks
        .iter()
        .enumerate()
        .map(|(i, a)| cycle::run_active(plan, &stream.range(i..i + 1), steps, a).unwrap().samples.remove(0))
        .collect()
}

/// A stream of one inference per mask: every subset of `n` students once, then students
/// switched off and on again between inferences (what a student leaves in the design must not
/// reach a later inference).
fn every_subset_then_switches(n: usize) -> Vec<Vec<bool>> {
    let mut bits: Vec<u32> = (1..1 << n).collect();
    bits.extend([0b0001, (1 << n) - 1, 0b0001, 0b0110, 0b1010]);
    bits.iter().map(|b| (0..n).map(|s| b >> s & 1 == 1).collect()).collect()
}

/// The sequential and the streamed RTL take the mask at their `act` port: one emitted design
/// of ensemble_bw per schedule runs a stream through every student subset, then students
/// switched off and on again, each inference spike- and cycle-exact against the cycle engine's
/// masked run (iverilog), fewer students in fewer cycles; Verilator -Wall clean. With early
/// exit, a stream that skips each student between early exits is exact too.
#[test]
fn one_rtl_design_runs_every_subset_exactly() {
    let test = "one_rtl_design_runs_every_subset_exactly";
    if !common::tool_or_skip("iverilog", test) {
        return;
    }
    let c = case("ensemble_bw");
    let m = c.load();
    let mut full = None;
    for schedule in [ScheduleChoice::Sequential, ScheduleChoice::Streamed] {
        let plan = plan(&m, &c.batch(&m), c.timesteps, schedule, None);
        assert!(plan.takes_mask(), "the {schedule:?} plan of an ensemble takes a mask");
        let n = plan.students.as_ref().unwrap().names.len();
        let masks = every_subset_then_switches(n);
        let stream = c.batch(&m).take(masks.len());
        let engine = masked_runs(&plan, &stream, &masks, c.timesteps);
        let all = cycle::run(&plan, &stream, c.timesteps);
        let fewer = (0..masks.len())
            .filter(|&i| masks[i].contains(&false) && engine[i].counters.cycles < all.samples[i].counters.cycles)
            .count();
        let partial = masks.iter().filter(|a| a.contains(&false)).count();
        assert_eq!(fewer, partial, "{schedule:?}: every subset takes fewer cycles than the full ensemble");
        let dir = common::scratch(&format!("mask-rtl-{schedule:?}"));
        let r = spikefab::flow::cosim::cosim_against_masks(
            &plan,
            &stream,
            &engine,
            Some(&masks),
            spikefab::flow::cosim::Simulator::Iverilog,
            &dir,
            &|_| {},
        )
        .unwrap_or_else(|e| panic!("{schedule:?}: {e}"));
        assert!(r.exact(), "{schedule:?}: {:?}", r.first_differences);
        assert_eq!(r.samples, masks.len());
        if common::tool_or_skip("verilator", &format!("{test} (Verilator lint, {schedule:?})")) {
            let design = spikefab::back::verilog::emit(&plan, None).unwrap();
            common::assert_lint_clean(&design, &format!("mask-lint-{schedule:?}"), "ensemble_bw with a student mask");
        }
        if schedule == ScheduleChoice::Sequential {
            full = Some(plan);
        }
    }
    let full = full.unwrap();
    let n = full.students.as_ref().unwrap().names.len();

    // Early exit: a state memory holding a student's layers tells stale rows by an epoch of its
    // own, flipped only when the student ran. The stream runs every student and exits early,
    // skips one student in an inference that exits early too, then runs it again: with one
    // epoch for every memory, two flips later its rows left at the first exit read as current.
    let exit = common::relayout(&full, None, |n| n.early_exit = true);
    assert!(exit.takes_mask(), "early exit takes a mask");
    let all_on = (1u32 << n) - 1;
    let mut bits: Vec<u32> = (0..n as u32).flat_map(|s| [all_on, all_on ^ (1 << s)]).collect();
    bits.push(all_on);
    let masks: Vec<Vec<bool>> = bits.iter().map(|b| (0..n).map(|s| b >> s & 1 == 1).collect()).collect();
    let stream = c.batch(&m).take(masks.len());
    let engine = masked_runs(&exit, &stream, &masks, c.timesteps);
    let out_n = exit.layers[exit.output.layer].neurons();
    let early = engine.iter().filter(|r| r.raw.len() / out_n < c.timesteps).count();
    assert!(early * 2 > masks.len(), "{early} of {} inferences exit early", masks.len());
    let design = spikefab::back::verilog::emit(&exit, None).unwrap();
    let top = &design.files.iter().find(|(f, _)| f.ends_with(".v") && f.starts_with("sf_")).unwrap().1;
    assert!(top.contains("_ep <= !"), "a student's memory keeps its own epoch");
    let dir = common::scratch("mask-rtl-exit-stream");
    let r = spikefab::flow::cosim::cosim_against_masks(
        &exit,
        &stream,
        &engine,
        Some(&masks),
        spikefab::flow::cosim::Simulator::Iverilog,
        &dir,
        &|_| {},
    )
    .unwrap_or_else(|e| panic!("early exit stream: {e}"));
    assert!(r.exact(), "early exit stream: {:?}", r.first_differences);
    if common::tool_or_skip("verilator", &format!("{test} (Verilator lint, early exit)")) {
        common::assert_lint_clean(&design, "mask-exit-lint", "ensemble_bw with a student mask and early exit");
    }
}

/// `cosim --active-students` co-simulates the sequential design with the students given at its
/// `act` port (exit 0, exact); a design whose RTL takes no mask, or an unknown student, is
/// refused with exit 2.
#[test]
fn cosim_takes_the_active_students() {
    let test = "cosim_takes_the_active_students";
    if !common::tool_or_skip("iverilog", test) {
        return;
    }
    let out = common::scratch("mask-cosim-cli");
    let run = |extra: &[&str]| ensemble_cli("cosim", &["--samples", "2", "--simulator", "iverilog"], &out, extra);
    let (code, stdout, stderr) = run(&["--schedule", "sequential", "--active-students", "s1,s3", "--json"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    // The report, then the verdict line.
    let r: serde_json::Value = serde_json::Deserializer::from_str(&stdout).into_iter().next().unwrap().unwrap();
    assert!(stdout.trim_end().ends_with("cosim: spike- and cycle-exact"), "{stdout}");
    assert_eq!((r["word_mismatches"].as_u64(), r["cycle_mismatches"].as_u64()), (Some(0), Some(0)), "{r}");
    assert_eq!(std::fs::read_to_string(out.join("act.hex")).unwrap(), "a\na\n", "students 1 and 3, each sample");
    let (code, _, stderr) = run(&["--schedule", "pipelined", "--active-students", "s1"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("takes no student mask yet (pipelined schedule") && stderr.contains("--schedule sequential"),
        "{stderr}"
    );
    let (code, stdout, stderr) = run(&["--schedule", "streamed", "--active-students", "s0,s3", "--json"]);
    assert_eq!(code, 0, "the streamed design takes a mask: {stdout}\n{stderr}");
    assert_eq!(std::fs::read_to_string(out.join("act.hex")).unwrap(), "9\n9\n", "students 0 and 3, each sample");
    let (code, stdout, stderr) = run(&["--schedule", "sequential", "--early-exit", "--active-students", "s1"]);
    assert_eq!(code, 0, "early exit takes a mask: {stdout}\n{stderr}");
    let (code, _, stderr) = run(&["--schedule", "sequential", "--active-students", "s9"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("no student 's9'"), "{stderr}");
}

/// The HLS C++ of the sequential plan takes the mask as its `act` argument: one compiled
/// testbench runs a stream whose mask changes at every inference, through every subset, each
/// inference exact against the cycle engine under its mask; without `act.hex` every student
/// runs. `csim --active-students` runs it from the command line (also with early exit), and
/// refuses a design that takes no mask.
#[test]
fn one_hls_design_runs_every_subset_exactly() {
    let test = "one_hls_design_runs_every_subset_exactly";
    if !common::tool_or_skip("g++", test) {
        return;
    }
    let c = case("ensemble_bw");
    let m = c.load();
    let part = Target::load("ice40-up5k").unwrap().hls_part().to_string();
    let mut sequential = None;
    for schedule in [ScheduleChoice::Streamed, ScheduleChoice::Sequential] {
        let full = plan(&m, &c.batch(&m), c.timesteps, schedule, None);
        let masks = every_subset_then_switches(full.students.as_ref().unwrap().names.len());
        let stream = c.batch(&m).take(masks.len());
        let engine = masked_runs(&full, &stream, &masks, c.timesteps);
        let dir = common::scratch(&format!("mask-hls-{schedule:?}"));
        let r = spikefab::flow::csim::csim_against_masks(&full, &stream, &engine, Some(&masks), &part, &dir)
            .unwrap_or_else(|e| panic!("{schedule:?}: {e}"));
        assert!(r.exact(), "{schedule:?}: {:?}", r.first_differences);
        assert_eq!(r.samples, masks.len());
        // The stream differs from the unmasked run, so the comparison saw the mask.
        let all = cycle::run(&full, &stream, c.timesteps);
        let differ = all.samples.iter().zip(&engine).filter(|(a, b)| a.raw != b.raw).count();
        assert!(
            differ > masks.len() / 2,
            "{schedule:?}: {differ} of {} inferences change under their mask",
            masks.len()
        );
        sequential = Some((full, masks, dir, all));
    }
    let (full, masks, dir, all) = sequential.unwrap();
    let act = std::fs::read_to_string(dir.join("act.hex")).unwrap();
    assert_eq!(act.lines().next(), Some("1"), "student 0 alone is bit 0");
    // The same executable without act.hex runs every student.
    std::fs::remove_file(dir.join("act.hex")).unwrap();
    std::fs::write(dir.join("expected.txt"), spikefab::flow::csim::expected_lines(&full, &all.samples)).unwrap();
    let out = std::process::Command::new(dir.join("tb")).current_dir(&dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    // A malformed mask is refused by the testbench (exit 2).
    std::fs::write(dir.join("act.hex"), "1\n".repeat(masks.len() - 1) + "g\n").unwrap();
    let out = std::process::Command::new(dir.join("tb")).current_dir(&dir).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a 4-bit hex mask"));

    // The command line: the mask given, the act.hex written, also with early exit and in the
    // streamed schedule; the pipelined design and an unknown student refused.
    let out = common::scratch("mask-csim-cli");
    let run = |extra: &[&str]| ensemble_cli("csim", &["--samples", "3"], &out, extra);
    let (code, stdout, stderr) = run(&["--schedule", "sequential", "--active-students", "s0,s2"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("csim: bit-exact with the cycle engine"), "{stdout}");
    assert_eq!(std::fs::read_to_string(out.join("act.hex")).unwrap(), "5\n5\n5\n", "students 0 and 2, each sample");
    let (code, stdout, stderr) = run(&["--schedule", "sequential", "--early-exit", "--active-students", "s1,s3"]);
    assert_eq!(code, 0, "early exit takes a mask: {stdout}\n{stderr}");
    let (code, stdout, stderr) = run(&["--schedule", "streamed", "--active-students", "s3"]);
    assert_eq!(code, 0, "the streamed design takes a mask: {stdout}\n{stderr}");
    let (code, _, stderr) = run(&["--schedule", "pipelined", "--active-students", "s0"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("the HLS C++ of this plan takes no student mask yet (pipelined schedule"), "{stderr}");
    let (code, _, stderr) = run(&["--schedule", "sequential", "--active-students", "s0,nobody"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("no student 'nobody'"), "{stderr}");
}

/// `compile --active-students` makes the students the board design's power-on default (the
/// wrapper ties `act` to them) and runs every check under them: the reference engine on the
/// model pruned to them against the masked cycle engine, co-simulation and C simulation
/// exact, energy below the full ensemble's. Compile-time pruning beside it, a design that
/// takes no mask and an unknown student are refused (exit 2).
#[test]
fn compile_sets_the_power_on_students() {
    let test = "compile_sets_the_power_on_students";
    if !common::tool_or_skip("iverilog", test) || !common::tool_or_skip("g++", test) {
        return;
    }
    let compile = |dir: &str, extra: &[&str]| {
        let out = common::scratch(dir);
        let base = ["--labels", "models/digits_test_y.npy", "--samples", "24", "--json"];
        let (code, stdout, stderr) = ensemble_cli("compile", &base, &out, extra);
        (code, stdout, stderr, out)
    };
    let (code, stdout, stderr, out) = compile(
        "mask-compile",
        &["--active-students", "s0,s2", "--schedule", "sequential", "--backend", "both", "--cosim-samples", "2"],
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let r: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(r["active_students"], serde_json::json!(["s0", "s2"]), "{r}");
    let (code, stdout, stderr, _) = compile(
        "mask-compile-indices",
        &["--active-students", "2,0", "--schedule", "sequential", "--cosim-samples", "0"],
    );
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let by_index: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(by_index["active_students"], serde_json::json!(["s0", "s2"]), "indices are reported by name");
    let board = std::fs::read_to_string(out.join("sf_ensemble_bw_board.v")).unwrap();
    assert!(board.contains(".act(4'b0101)"), "students 0 and 2 at power-on");
    let h = &r;
    assert_eq!(h["verify"]["class_agreement"], 1.0, "{}", h["verify"]);
    assert_eq!((h["cosim"]["word_mismatches"].as_u64(), h["cosim"]["cycle_mismatches"].as_u64()), (Some(0), Some(0)));
    assert_eq!(h["csim"]["mismatches"], 0, "{}", h["csim"]);
    assert_eq!(std::fs::read_to_string(out.join("hls/act.hex")).unwrap(), "5\n".repeat(24));
    // The full ensemble, built the same way: more energy, and the board runs every student.
    let (code, stdout, stderr, full) =
        compile("mask-compile-full", &["--schedule", "sequential", "--cosim-samples", "0"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let f: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let energy = |v: &serde_json::Value| v["energy"]["energy_per_inference_j"].as_f64().unwrap();
    assert!(energy(&r) < 0.7 * energy(&f), "two of four students: {} against {}", energy(&r), energy(&f));
    assert!(std::fs::read_to_string(full.join("sf_ensemble_bw_board.v")).unwrap().contains(".act(4'b1111)"));
    // Everything but the board wrapper is the same design.
    let mut same = 0;
    for e in std::fs::read_dir(&out).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().to_string();
        if (name.ends_with(".v") || name.ends_with(".hex")) && !name.ends_with("_board.v") {
            let a = std::fs::read(out.join(&name)).unwrap();
            assert_eq!(a, std::fs::read(full.join(&name)).unwrap(), "{name} does not depend on the mask");
            same += 1;
        }
    }
    assert!(same > 10, "{same} files compared");
    for (extra, want) in [
        (
            &["--active-students", "s0", "--students", "s0", "--schedule", "sequential"][..],
            "give it without --students",
        ),
        (&["--active-students", "s0", "--schedule", "pipelined"][..], "takes no student mask yet (pipelined schedule"),
        (&["--active-students", "s7", "--schedule", "sequential"][..], "no student 's7'"),
    ] {
        let (code, _, stderr, _) = compile("mask-compile-refused", &[extra, &["--cosim-samples", "0"]].concat());
        assert_eq!(code, 2, "{extra:?}: {stderr}");
        assert!(stderr.contains(want), "{extra:?}: {stderr}");
    }
}

/// `explore` measures the ensemble's one design under every proper subset of its students (a
/// run-time mask, at full T, with and without early exit) beside the models pruned at compile
/// time: each masked configuration is what `energy --active-students` measures on the same
/// design (accuracy and energy), and the front is chosen among both. A design that takes no
/// mask (pipelined) has masked configurations only where early exit turns it sequential.
#[test]
fn explore_runs_the_one_design_under_every_subset() {
    let args = |schedule: &str| -> Vec<String> {
        ["models/ensemble_bw/ensemble_bw.nir", "-T", "8", "--schedule", schedule, "--datapath", "event"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let explore = |schedule: &str| -> serde_json::Value {
        let mut a = vec!["explore".to_string()];
        a.extend(args(schedule));
        a.extend(
            ["--calib", "models/digits_test_x.npy", "--labels", "models/digits_test_y.npy", "--json"].map(String::from),
        );
        let (code, out, err) = spikefab(&a.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(code, 0, "{err}");
        serde_json::from_str::<serde_json::Value>(&out).unwrap()["exploration"].clone()
    };
    let x = explore("sequential");
    let configs = x["configurations"].as_array().unwrap();
    let masked: Vec<&serde_json::Value> = configs.iter().filter(|c| c["run_time"] == true).collect();
    // 14 proper subsets of 4 students, without and with early exit, all at T = 8.
    assert_eq!(masked.len(), 28, "{masked:?}");
    assert!(masked.iter().all(|c| c["timesteps"] == 8 && c["students"].as_array().unwrap().len() < 4));
    let mut subsets: Vec<String> = masked.iter().map(|c| format!("{}{}", c["students"], c["early_exit"])).collect();
    subsets.sort();
    subsets.dedup();
    assert_eq!(subsets.len(), 28, "every subset once per early-exit setting");
    // s1+s3 without early exit is `energy --active-students s1,s3` on the same design.
    let c = masked.iter().find(|c| c["students"] == serde_json::json!([1, 3]) && c["early_exit"] == false).unwrap();
    let mut a = vec!["energy".to_string()];
    a.extend(args("sequential"));
    a.extend(
        ["--inputs", "models/digits_test_x.npy", "--labels", "models/digits_test_y.npy", "--active-students", "s1,s3"]
            .map(String::from),
    );
    a.push("--json".into());
    let (code, out, err) = spikefab(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 0, "{err}");
    let e: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(c["energy_j"], e["energy_per_inference_j"], "{c}\n{e}");
    assert_eq!(c["accuracy"], e["accuracy"], "{c}\n{e}");
    // Fewer students, less energy on the one design.
    let energy = |s: serde_json::Value| {
        masked.iter().find(|c| c["students"] == s && c["early_exit"] == false).unwrap()["energy_j"].as_f64().unwrap()
    };
    assert!(energy(serde_json::json!([1])) < energy(serde_json::json!([1, 3])));
    assert!(energy(serde_json::json!([1, 3])) < energy(serde_json::json!([0, 1, 3])));
    // The pipelined design takes no mask; with early exit the plan is sequential and does.
    let x = explore("pipelined");
    let masked: Vec<&serde_json::Value> =
        x["configurations"].as_array().unwrap().iter().filter(|c| c["run_time"] == true).collect();
    assert_eq!(masked.len(), 14);
    assert!(masked.iter().all(|c| c["early_exit"] == true && c["schedule"] == "sequential"));
}

/// `verify --active-students` checks the one design under the mask against the reference
/// engine on the model pruned to those students (the cycle engine's accuracy is `simulate
/// --active-students`'s, the reference's `simulate --students`'s), also shard by shard; beside
/// `--students` it is refused. `compare --active-students` prices every FPGA and ASIC design
/// under the mask, and a chip, whose students are fixed at compile time, is a row that says so.
#[test]
fn verify_and_compare_take_the_active_students() {
    let base = ["models/ensemble_bw/ensemble_bw.nir", "-T", "8", "--inputs", "models/digits_test_x.npy"];
    let labels = ["--labels", "models/digits_test_y.npy", "--samples", "64", "--schedule", "sequential"];
    let run = |cmd: &str, extra: &[&str]| -> serde_json::Value {
        let args = [&[cmd][..], &base[..], &labels[..], extra, &["--json"]].concat();
        let (code, out, err) = spikefab(&args);
        assert_eq!(code, 0, "{cmd} {extra:?}: {err}");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
    };
    let v = run("verify", &["--active-students", "s0,s2"]);
    assert_eq!(v["active_students"], serde_json::json!(["s0", "s2"]));
    assert_eq!(v["pass"], true, "{v}");
    let masked = run("simulate", &["--engine", "cycle", "--active-students", "s0,s2"]);
    assert_eq!(v["cycle_accuracy"], masked["accuracy"], "{v}\n{masked}");
    let pruned = run("simulate", &["--students", "s0,s2"]);
    assert_eq!(v["reference_accuracy"], pruned["accuracy"], "{v}\n{pruned}");
    let full = run("verify", &[]);
    assert!(full["active_students"].is_null());
    assert!(v["cycles_mean"].as_f64() < full["cycles_mean"].as_f64(), "fewer students, fewer cycles");
    // Two shards merged are the whole check.
    let dir = common::scratch("mask-verify-shards");
    let mut parts = vec![];
    for i in 0..2 {
        let shard = format!("{i}/2");
        let args =
            [&["verify"][..], &base[..], &labels[..], &["--active-students", "s0,s2", "--shard", &shard]].concat();
        let (code, out, err) = spikefab(&args);
        assert_eq!(code, 0, "{err}");
        let p = dir.join(format!("part-{i}.json"));
        std::fs::write(&p, out).unwrap();
        parts.push(p.display().to_string());
    }
    let (code, out, err) =
        spikefab(&[&["merge", "--json"][..], &parts.iter().map(String::as_str).collect::<Vec<_>>()].concat());
    assert_eq!(code, 0, "{err}");
    let merged: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(merged["cycle_accuracy"], v["cycle_accuracy"]);
    assert_eq!(merged["active_students"], v["active_students"]);
    let (code, _, err) =
        spikefab(&[&["verify"][..], &base[..], &["--students", "s1", "--active-students", "s0"]].concat());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("give it without --students"), "{err}");

    let c = run("compare", &["--targets", "ice40-up5k,loihi2", "--active-students", "s0,s2"]);
    assert_eq!(c["active_students"], serde_json::json!(["s0", "s2"]));
    let rows = c["rows"].as_array().unwrap();
    assert_eq!(rows[0]["fits"], true, "{c}");
    assert_eq!(rows[0]["accuracy"], v["cycle_accuracy"], "{c}");
    assert_eq!(rows[1]["fits"], false, "{c}");
    assert!(rows[1]["why_not"][0].as_str().unwrap().contains("cannot switch students at run time"), "{c}");
}

/// The HTML report's spike raster of a board design with power-on students (`compile
/// --active-students --report`) is the design's own run under them: an inactive student's
/// layers show no spike, an active student's layers are the unmasked run's, and the output
/// layer's spikes are the masked run's.
#[test]
fn the_report_raster_runs_the_power_on_students() {
    let c = case("ensemble_bw");
    let m = c.load();
    let batch = c.batch(&m).take(2);
    let mut p = plan(&m, &batch, c.timesteps, ScheduleChoice::Sequential, None);
    let st = p.students.clone().unwrap();
    let full = spikefab::report::raster(&p, &batch, 0, c.timesteps);
    let active = st.mask(&["s0".into(), "s2".into()]).unwrap();
    p.power_on = Some(active.clone());
    let masked = spikefab::report::raster(&p, &batch, 0, c.timesteps);
    for (k, l) in p.layers.iter().enumerate() {
        match st.layer[k] {
            Some(s) if !active[s] => {
                assert!(!full.spikes[k].is_empty() && masked.spikes[k].is_empty(), "{}", l.name)
            }
            Some(_) => assert_eq!(masked.spikes[k], full.spikes[k], "{}", l.name),
            None => {}
        }
    }
    let out = p.output.layer;
    let run = cycle::run_active(&p, &batch.range(0..1), c.timesteps, &active).unwrap();
    let spikes = run.samples[0].raw.iter().filter(|&&v| v != 0).count();
    assert_eq!(masked.spikes[out].len(), spikes, "the output raster is the masked run's");
    assert_ne!(masked.spikes[out], full.spikes[out]);
}

/// A chip cannot switch students at run time: `compile --active-students` on Loihi 2 compiles
/// those students only, as `--students` does (the same export), and says so; beside
/// `--students` it is refused. (Lava's check of the export is tests/loihi.rs's; here it is left
/// out.)
#[test]
fn a_chip_compiles_the_active_students_only() {
    let run = |out: &std::path::Path, extra: &[&str]| {
        let out = out.display().to_string();
        let mut args = vec!["compile", "models/ensemble_bw/ensemble_bw.nir", "-T", "8", "--target", "loihi2"];
        args.extend(["--inputs", "models/digits_test_x.npy", "--samples", "8", "-o", out.as_str(), "--json"]);
        args.extend(extra);
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_spikefab"))
            .args(&args)
            .env_remove("SPIKEFAB_LAVA_PYTHON")
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (masked_dir, pruned_dir) = (common::scratch("mask-chip-active"), common::scratch("mask-chip-students"));
    let (code, out, err) = run(&masked_dir, &["--active-students", "s0,s2"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("loihi2 cannot switch students at run time: compiling only the students s0, s2"), "{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(r["passes"][0]["changes"][0].as_str().unwrap().contains("kept 2 of 4 students"), "{r}");
    let (code, _, err) = run(&pruned_dir, &["--students", "s0,s2"]);
    assert_eq!(code, Some(0), "{err}");
    for f in ["network.net", "expected_spikes.npy"] {
        let (a, b) = (masked_dir.join("loihi").join(f), pruned_dir.join("loihi").join(f));
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap(), "{f}: the export of --students s0,s2");
    }
    let (code, _, err) = run(&masked_dir, &["--active-students", "s0", "--students", "s1"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("give it without --students"), "{err}");
}
