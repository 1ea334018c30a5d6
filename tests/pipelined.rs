//! The pipelined schedule (docs/hardware.md section 4): every layer, the input load and the
//! output run on their own sequencers, concurrently on different steps. The RTL is
//! co-simulated against the cycle engine's model of it (every output word, every cycle count)
//! on every corpus model that lowers and on every student; its cycles are compared with the
//! sequential schedule's; early exit is refused.

use crate::common;

use common::{
    assert_logic_predicted, plan_modes, root, rtl_students, scratch, spikefab, tool_or_skip, up5k_with_luts, yosys_lut4,
};
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
    o.settings.lanes = Some(lanes);
    o.input_stats = Some(InputStats::of(stats));
    o.settings.schedule = Some(Schedule::Pipelined.into());
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
    for (c, _) in rtl_students() {
        let lanes = if c.name == "conv_bw" { Some(8) } else { None };
        let m = c.load();
        let batch = c.batch(&m);
        let t = spikefab::target::Target::load("ice40-up5k").unwrap();
        let mut o = PlanOptions::new(t, c.timesteps);
        o.settings.lanes = lanes;
        o.input_stats = Some(InputStats::of(&batch));
        let seq = spikefab::hw::lower(&m, &o).unwrap();
        o.settings.schedule = Some(Schedule::Pipelined.into());
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
    cases.extend(rtl_students().into_iter().map(|(c, _)| c).filter(|c| c.name != "conv_bw"));
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

/// `--schedule auto`, the iCE40 default: pipelined where the pipelined memories fit the device
/// and its predicted logic is within the margin, else sequential, with the reason in the plan;
/// early exit takes the sequential schedule; a schedule asked for carries no note.
#[test]
fn auto_schedule_is_pipelined_where_the_memories_fit() {
    let plan = |model: &str, extra: &[&str]| -> serde_json::Value {
        let mut args = vec!["plan", model, "--inputs", "models/digits_test_x.npy", "--json"];
        args.extend(if model.contains("mlp_bw") {
            ["--from", "snntorch", "-T", "8"]
        } else {
            ["--dt", "1e-4", "-T", "8"]
        });
        args.extend(extra);
        let (code, stdout, stderr) = spikefab(&args);
        assert_eq!(code, 0, "{stdout}\n{stderr}");
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
    };
    let note = |p: &serde_json::Value| p["schedule_note"].as_str().unwrap_or_default().to_string();
    let mlp = plan("models/mlp_bw/mlp_bw.nir", &[]);
    assert_eq!(mlp["schedule"], "pipelined");
    assert!(note(&mlp).starts_with("auto: pipelined, its memories fit the ice40-up5k (17 of 30 block RAMs)"), "{mlp}");
    // ensemble_bw's event-driven pipelined memories overflow the UP5K; the default datapath
    // (auto) also weighs its dense layout, whose planes replace the event lists and fit.
    let ens = plan("models/ensemble_bw/ensemble_bw.nir", &["--datapath", "event"]);
    assert_eq!(ens["schedule"], "sequential");
    assert_eq!(note(&ens), "auto: sequential; pipelined, its memories need 32 block RAMs, the device has 30");
    let ens_auto = plan("models/ensemble_bw/ensemble_bw.nir", &["--logic-margin", "off"]);
    assert_eq!(ens_auto["schedule"], "pipelined");
    assert!(note(&ens_auto).starts_with("auto: pipelined, its memories fit the ice40-up5k"), "{ens_auto}");
    // That dense pipelined design is predicted far beyond the UP5K's logic (it packs into
    // 16,203 of its 5,280 cells): by default the plan is sequential.
    let ens_default = plan("models/ensemble_bw/ensemble_bw.nir", &[]);
    assert_eq!(ens_default["schedule"], "sequential");
    assert!(
        note(&ens_default).starts_with(
            "auto: sequential; pipelined, its memories need 32 block RAMs, the device has 30; its dense layout, the \
             logic model predicts"
        ),
        "{ens_default}"
    );
    let exit = plan("models/mlp_bw/mlp_bw.nir", &["--early-exit"]);
    assert_eq!(
        (exit["schedule"].as_str(), note(&exit).as_str()),
        (Some("sequential"), "auto: sequential, as early exit needs")
    );
    for s in ["sequential", "pipelined"] {
        let p = plan("models/mlp_bw/mlp_bw.nir", &["--schedule", s]);
        assert_eq!(p["schedule"], s);
        assert!(p.get("schedule_note").is_none(), "{p}");
    }
    // Asked for explicitly, auto behaves as the default; the ECP5 targets stay pipelined.
    assert_eq!(
        plan("models/ensemble_bw/ensemble_bw.nir", &["--schedule", "auto", "--datapath", "event"])["schedule"],
        "sequential"
    );
    let ecp5 = plan("models/ensemble_bw/ensemble_bw.nir", &["--target", "ecp5-25k"]);
    assert_eq!(ecp5["schedule"], "pipelined");
    assert!(ecp5.get("schedule_note").is_none(), "{ecp5}");
}

/// Under `--schedule auto` a pipelined plan whose logic does not fit the device is found by
/// the bitstream build (before verification), and the sequential design is compiled,
/// verified and built instead, its report saying why. The device: the UP5K with as many
/// LUT4s as halfway between what Yosys makes of mlp_bw's sequential and pipelined designs,
/// both measured here first.
#[test]
fn auto_schedule_compiles_sequential_when_the_pipelined_logic_does_not_fit() {
    let test = "auto_schedule_compiles_sequential_when_the_pipelined_logic_does_not_fit";
    if !["yosys", "nextpnr-ice40", "icepack", "icetime"].iter().all(|t| tool_or_skip(t, test)) {
        return;
    }
    let model = ["models/mlp_bw/mlp_bw.nir", "--from", "snntorch", "-T", "8", "--inputs", "models/digits_test_x.npy"];
    let luts = |schedule: &str| -> u64 {
        let dir = scratch(&format!("{test}-{schedule}"));
        let mut args = vec!["compile"];
        args.extend(model);
        args.extend(["--cosim-samples", "0", "--schedule", schedule, "-o", dir.to_str().unwrap()]);
        let (code, stdout, stderr) = spikefab(&args);
        assert_eq!(code, 0, "{stdout}\n{stderr}");
        let luts = yosys_lut4(&dir, "sf_mlp_bw");
        // The logic model predicted it (docs/hardware.md, "The logic model").
        assert_logic_predicted(&dir, "sf_mlp_bw", luts);
        luts
    };
    let (seq, pipe) = (luts("sequential"), luts("pipelined"));
    assert!(seq < pipe, "sequential {seq} LUT4, pipelined {pipe}");
    let limit = (seq + pipe) / 2;
    let dir = scratch(test);
    let toml = up5k_with_luts(&dir, limit);
    // The logic model foresees it: the automatic schedule is sequential from the start.
    let foreseen = common::plan_on(&model, &toml);
    assert_eq!(foreseen["schedule"], "sequential");
    let note = foreseen["schedule_note"].as_str().unwrap();
    assert!(note.starts_with("auto: sequential; pipelined, the logic model predicts"), "{note}");
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
        "auto: sequential; the pipelined design does not fit: synthesis needs {pipe} LUT4 cells but up5k-small has {limit}"
    );
    assert!(stdout.contains(&want), "{stdout}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(r["plan"]["schedule"], "sequential");
    assert!(r["plan"]["schedule_note"].as_str().unwrap().starts_with(&want), "{}", r["plan"]);
    assert_eq!(r["fpga"]["luts"]["used"].as_u64(), Some(seq), "{}", r["fpga"]);
    // The modes are those the automatic datapath chooses for the sequential layout, not the
    // pipelined one's.
    let mut args = vec!["plan"];
    args.extend(model);
    args.extend(["--schedule", "sequential", "--json"]);
    let (code, stdout, stderr) = spikefab(&args);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let seq_plan: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(plan_modes(&r["plan"]), plan_modes(&seq_plan));
    assert_eq!(r["plan"]["datapath_note"], seq_plan["datapath_note"]);
    assert_eq!(r["cosim"]["word_mismatches"], 0);
    assert_eq!(r["failures"], serde_json::json!([]), "{}", r["failures"]);
    // The files on disk are the sequential design's: plan.json says so, and every Verilog
    // module and ROM image in the folder is one the report lists (none left of the pipelined
    // design), the wrappers around the design aside.
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("plan.json")).unwrap()).unwrap();
    assert_eq!(plan["schedule"], "sequential");
    assert_eq!(plan["schedule_note"], r["plan"]["schedule_note"]);
    let listed: Vec<&str> = r["files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    for f in std::fs::read_dir(&out).unwrap() {
        let name = f.unwrap().file_name().into_string().unwrap();
        let wrapper = name.ends_with("_top.v") || name.ends_with("_board.v");
        let design = name.ends_with(".hex") || name.ends_with(".v") && !wrapper;
        assert!(!design || listed.contains(&name.as_str()), "{name} is not in the report's files {listed:?}");
    }
}
