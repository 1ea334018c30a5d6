//! The emitted RTL: co-simulation against the cycle engine (every output word and every
//! cycle count, both simulators), Verilator lint, a real UP5K bitstream, a golden snapshot
//! of the Verilog of a tiny model, determinism, and clear compile-time errors.

use crate::common;

use std::process::Command;

use common::{plan_for, root, rtl_students, scratch, spikefab, tool_or_skip};
use spikefab::flow::cosim::{self, Simulator};

/// Co-simulates every student on `samples` inputs (conv_bw, the longest inference, on
/// `conv_samples`). Verilator runs the long check; iverilog, an event-driven simulator and far
/// slower, runs the same designs on fewer samples to catch what a cycle-based simulator can hide
/// (races, X propagation).
fn cosim_all(sim: Simulator, tool: &str, test: &str, samples: usize, conv_samples: usize) {
    if !tool_or_skip(tool, test) {
        return;
    }
    for (c, _) in rtl_students() {
        let lanes = if c.name == "conv_bw" { Some(8) } else { None };
        let (_, plan, batch) = plan_for(&c, lanes);
        let n = if c.name == "conv_bw" { conv_samples } else { samples };
        let dir = scratch(&format!("{test}-{}", c.name));
        let r = cosim::cosim(&plan, &batch, n, sim, &dir, &|_| {}).unwrap_or_else(|e| panic!("{}: {e}", c.name));
        println!("{} ({tool}): {} words, {} samples, cycles {:?}", c.name, r.words, r.samples, r.rtl_cycles);
        assert_eq!(r.samples, n);
        assert!(r.words > 0);
        assert!(r.exact(), "{}: {:?}", c.name, r.first_differences);
        assert_eq!(r.rtl_cycles, r.engine_cycles);
    }
}

#[test]
fn cosim_every_student_iverilog() {
    cosim_all(Simulator::Iverilog, "iverilog", "cosim_every_student_iverilog", 3, 1);
}

/// Capped widths take the saturating paths of every primitive; they must stay bit-exact.
#[test]
fn cosim_saturating_arithmetic_iverilog() {
    if !tool_or_skip("iverilog", "cosim_saturating_arithmetic_iverilog") {
        return;
    }
    for name in ["mlp_bw", "ensemble_bw"] {
        let c = rtl_students().into_iter().map(|(c, _)| c).find(|c| c.name == name).unwrap();
        let m = c.load();
        let batch = c.batch(&m);
        let t = spikefab::target::Target::load("ice40-up5k").unwrap();
        let mut o = spikefab::hw::PlanOptions::new(t, c.timesteps);
        o.input_stats = Some(spikefab::quant::InputStats::of(&batch));
        o.settings.membrane_bits = Some(11);
        let plan = spikefab::hw::lower(&m, &o).unwrap();
        let e = spikefab::sim::cycle::run(&plan, &batch.take(8), c.timesteps);
        assert!(e.total.saturations() > 0, "{name}: the cap must bite");
        let dir = scratch(&format!("cosim-sat-{name}"));
        let r = cosim::cosim(&plan, &batch, 8, Simulator::Iverilog, &dir, &|_| {}).unwrap();
        assert!(r.exact(), "{name}: {:?}", r.first_differences);
    }
}

/// The accumulate pipeline forwards the sums a read of the state memory can miss: those of
/// the beats one, two and three ahead (stage 3, the registered write port, and the write the
/// port makes during the read). A dense layer of R rows revisits each row every R beats, so
/// layers of 1, 2, 3 and 4 rows make each forwarding path (and the memory) decide the sums.
#[test]
fn cosim_accumulate_forwarding_at_every_revisit_distance_iverilog() {
    let test = "cosim_accumulate_forwarding_at_every_revisit_distance_iverilog";
    if !tool_or_skip("iverilog", test) {
        return;
    }
    let c = common::cases(&root().join("tests/data/nir/cases.json"))
        .into_iter()
        .find(|c| c.name == "affine_lif_perstep")
        .unwrap();
    for (lanes, rows) in [(8, 1), (4, 2), (3, 3), (2, 4)] {
        let (_, plan, batch) = plan_for(&c, Some(lanes));
        assert_eq!(plan.layers[0].rows, rows, "{lanes} lanes");
        let dir = scratch(&format!("{test}-{lanes}"));
        let n = batch.n.min(16);
        let r = cosim::cosim(&plan, &batch, n, Simulator::Iverilog, &dir, &|_| {}).unwrap();
        assert!(r.exact(), "{rows} rows: {:?}", r.first_differences);
        assert_eq!(r.rtl_cycles, r.engine_cycles, "{rows} rows");
    }
}

/// Lanes that are not a power of two (the library takes them; every user entry asks for a power
/// of two): the event-driven units find a channel's lane and lane group by a constant modulo
/// and division instead of a mask and a shift. conv_bw (event-driven one-to-one shortcuts)
/// at 3 lanes, sequential and streamed, spike- and cycle-exact on a digit.
#[test]
fn event_units_at_lanes_that_are_not_a_power_of_two() {
    let test = "event_units_at_lanes_that_are_not_a_power_of_two";
    // Verilator: the student at 3 lanes runs about 100,000 cycles a digit, minutes in Icarus.
    if !tool_or_skip("verilator", test) {
        return;
    }
    let (c, _) = rtl_students().into_iter().find(|(c, _)| c.name == "conv_bw").unwrap();
    let (_, plan, batch) = plan_for(&c, Some(3));
    assert!(plan.layers.iter().all(|l| l.lanes == 3));
    let one_to_one = |p: &spikefab::hw::Plan| {
        p.layers.iter().any(|l| {
            l.projections.iter().zip(&l.modes).any(|(p, m)| {
                matches!(p.kind, spikefab::quant::ProjKind::OneToOne) && *m == spikefab::hw::dense::Mode::Event
            })
        })
    };
    assert!(one_to_one(&plan), "an event-driven one-to-one projection");
    let t = spikefab::target::Target::load("ice40-up5k").unwrap();
    let streamed = spikefab::hw::layout(plan.quantised(), &t, Some(3), spikefab::hw::Schedule::Streamed);
    for (what, plan) in [("sequential", &plan), ("streamed", &streamed)] {
        let dir = scratch(&format!("{test}-{what}"));
        let r = cosim::cosim(plan, &batch.take(1), 1, Simulator::Verilator, &dir, &|_| {}).unwrap();
        assert!(r.exact(), "{what}: {:?}", r.first_differences);
    }
}

#[test]
fn cosim_every_student_verilator() {
    cosim_all(Simulator::Verilator, "verilator", "cosim_every_student_verilator", 12, 4);
}

#[test]
fn verilator_lint_is_clean() {
    if !tool_or_skip("verilator", "verilator_lint_is_clean") {
        return;
    }
    for ((c, _), exit) in rtl_students().into_iter().flat_map(|s| [(s.clone(), false), (s, true)]) {
        let plan = common::relayout(&plan_for(&c, None).1, None, |n| n.early_exit = exit);
        let d = spikefab::back::verilog::emit(&plan, None).unwrap();
        common::assert_lint_clean(&d, &format!("lint-{}{}", c.name, if exit { "-exit" } else { "" }), &c.name);
    }
}

#[test]
fn mlp_student_builds_a_real_up5k_bitstream() {
    let test = "mlp_student_builds_a_real_up5k_bitstream";
    if !["yosys", "nextpnr-ice40", "icepack", "icetime"].iter().all(|t| tool_or_skip(t, test)) {
        return;
    }
    let out = scratch("bitstream-mlp");
    let html = out.join("report.html");
    let (code, stdout, stderr) = spikefab(&[
        "compile",
        "models/mlp_bw/mlp_bw.nir",
        "--from",
        "snntorch",
        "-T",
        "8",
        "--inputs",
        "models/digits_test_x.npy",
        "--labels",
        "models/digits_test_y.npy",
        "--target",
        "ice40-up5k",
        "--bitstream",
        "--cosim-samples",
        "4",
        "-o",
        out.to_str().unwrap(),
        "--report",
        html.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    // compile's summary carries the energy estimate, and the report the resources.
    assert!(stdout.contains("energy:") && stdout.contains("per inference on ice40-up5k"), "{stdout}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("Resources against the device") && page.contains("LUT4"), "report lacks resources");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let f = &r["fpga"];
    let used = |k: &str| f[k]["used"].as_u64().unwrap();
    let avail = |k: &str| f[k]["available"].as_u64().unwrap();
    // Sanity of the tools' figures: the design uses real logic and memory and fits.
    assert!(used("luts") > 200 && used("luts") <= avail("luts"), "{f}");
    assert_eq!(avail("luts"), 5280);
    assert!(used("block_rams") >= 2 && used("block_rams") <= 30, "{f}");
    assert!(used("ffs") > 100, "{f}");
    let fmax = f["fmax_icetime_mhz"].as_f64().expect("icetime Fmax");
    assert!(fmax > 12.0 && fmax < 300.0, "Fmax {fmax} MHz");
    let bin = out.join(f["bitstream"].as_str().unwrap());
    let bytes = std::fs::read(&bin).unwrap();
    // An iCE40 UP5K bitstream: about 104 kB, starting with the 0x7EAA997E sync word after the comment.
    assert!(bytes.len() > 50_000, "{} bytes", bytes.len());
    assert!(bytes.windows(4).any(|w| w == [0x7e, 0xaa, 0x99, 0x7e]), "no iCE40 sync word");
    assert_eq!(r["verify"]["class_agreement"], 1.0);
    assert_eq!(r["cosim"]["word_mismatches"], 0);
    // The iCE40 default (`--schedule auto`): this student's pipelined design fits the UP5K.
    assert_eq!(r["plan"]["schedule"], "pipelined", "{}", r["plan"]);
    assert!(r["plan"]["schedule_note"].as_str().unwrap().starts_with("auto: pipelined"), "{}", r["plan"]);
    let e = r["energy"]["energy_per_inference_j"].as_f64().unwrap();
    assert!(e > 0.0 && e.is_finite(), "energy {e}");
    assert!(r["energy"]["counts"]["effective_acs"].as_f64().unwrap() > 0.0);
    println!("{stdout}");

    // The same design asked to run far above its Fmax (99 MHz, which the PLL makes from the
    // board's 12 MHz): the build with the PLL wrapper succeeds, the timing check fails.
    let fast = scratch("bitstream-mlp-fast");
    let (code, _, stderr) = spikefab(&[
        "compile",
        "models/mlp_bw/mlp_bw.nir",
        "--from",
        "snntorch",
        "-T",
        "8",
        "--inputs",
        "models/digits_test_x.npy",
        "--bitstream",
        "--cosim-samples",
        "0",
        "--clock-mhz",
        "99",
        "--pnr-seeds",
        "2",
        "-o",
        fast.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("timing not met") && stderr.contains("99 MHz"), "{stderr}");
    // The clock it advises is at or below the Fmax and one the PLL makes from the board's
    // oscillator (the flow's own chooser accepts it).
    let fmax: f64 =
        stderr.split("timing not met: Fmax ").nth(1).unwrap().split_whitespace().next().unwrap().parse().unwrap();
    let advice = stderr.split("give --clock-mhz ").nth(1).expect("a clock advised");
    let clock: f64 = advice.split_whitespace().next().unwrap().parse().unwrap();
    assert!(clock <= fmax && advice.contains("made from the board's 12 MHz"), "{stderr}");
    let mut at_clock = spikefab::target::Target::load("ice40-up5k").unwrap();
    at_clock.clock.board_mhz = Some(at_clock.clock.default_mhz);
    at_clock.clock.default_mhz = clock;
    assert!(spikefab::flow::ice40::pll(&at_clock).unwrap().is_some(), "{clock} MHz: {stderr}");
    // `--schedule auto` built the pipelined design first; it missed the clock, so the
    // sequential one was built (and missed it too: the exit status above).
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fast.join("report.json")).unwrap()).unwrap();
    assert_eq!(r["plan"]["schedule"], "sequential", "{}", r["plan"]);
    let note = r["plan"]["schedule_note"].as_str().unwrap();
    assert!(note.starts_with("auto: sequential; the pipelined design misses the 99 MHz clock (Fmax "), "{note}");
    // Two placements were tried; the one kept has the higher of their lower Fmax figures, and
    // the report's figures are that placement's.
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fast.join("report.json")).unwrap()).unwrap();
    let f = &r["fpga"];
    let tried: Vec<(u64, f64)> = f["seeds"]["tried"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t[0].as_u64().unwrap(), t[1].as_f64().unwrap()))
        .collect();
    assert_eq!(tried.iter().map(|t| t.0).collect::<Vec<_>>(), [1, 2], "{f}");
    let kept = f["seeds"]["kept"].as_u64().unwrap();
    let best = tried.iter().fold((0, f64::MIN), |b, &t| if t.1 > b.1 { t } else { b });
    assert_eq!(kept, best.0, "{f}");
    let low = f["fmax_icetime_mhz"].as_f64().unwrap().min(f["fmax_nextpnr_mhz"].as_f64().unwrap());
    assert!((low - best.1).abs() < 1e-9, "kept {kept}: {low} vs {best:?}");
    let top = std::fs::read_to_string(fast.join("sf_mlp_bw_top.v")).unwrap();
    assert!(top.contains("SB_PLL40_PAD") && top.contains(".DIVF(7'd65)") && top.contains(".DIVQ(3'd3)"), "{top}");
    assert!(std::fs::read_to_string(fast.join("sf_mlp_bw.ys")).unwrap().contains("-top sf_mlp_bw_top"));
}

/// Placement seeds out of range, or without a bitstream build, are usage errors (exit 2)
/// found before anything runs.
#[test]
fn placement_seeds_are_checked_before_anything_runs() {
    let out = scratch("pnr-seeds");
    for (extra, want) in [
        (&["--bitstream", "--pnr-seeds", "0"][..], "--pnr-seeds must be 1..=64, not 0"),
        (&["--bitstream", "--pnr-seeds", "65"][..], "--pnr-seeds must be 1..=64, not 65"),
        (&["--pnr-seeds", "2"][..], "--pnr-seeds is for the bitstream build"),
    ] {
        let mut args = vec!["compile", "models/mlp_bw/mlp_bw.nir", "--from", "snntorch", "-T", "8"];
        args.extend(["--inputs", "models/digits_test_x.npy", "--cosim-samples", "0", "-o", out.to_str().unwrap()]);
        args.extend(extra);
        let (code, stdout, stderr) = spikefab(&args);
        assert_eq!(code, 2, "{extra:?}: {stdout}{stderr}");
        assert!(stderr.contains(want), "{extra:?}: {stderr}");
        assert!(!out.join("sf_mlp_bw.json").exists(), "{extra:?}: synthesis ran");
    }
}

/// A clock the board's PLL cannot make is bad input, refused before anything is written, with
/// the nearest clocks it can make.
#[test]
fn a_clock_the_pll_cannot_make_is_refused() {
    let out = scratch("pll-refused");
    let _ = std::fs::remove_dir_all(&out);
    let (code, _, stderr) = spikefab(&[
        "compile",
        "models/mlp_bw/mlp_bw.nir",
        "--from",
        "snntorch",
        "-T",
        "8",
        "--inputs",
        "models/digits_test_x.npy",
        "--target",
        "ice40-up5k",
        "--clock-mhz",
        "40",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("39.75 and 40.5"), "{stderr}");
    assert!(!out.exists(), "nothing is written");
}

/// The emitted Verilog of a tiny model, committed in tests/golden/verilog; a change shows as a
/// diff. Regenerate with SPIKEFAB_BLESS=1.
#[test]
fn golden_verilog_snapshot_of_a_tiny_model() {
    let c = common::cases(&root().join("tests/data/nir/cases.json"))
        .into_iter()
        .find(|c| c.name == "affine_lif_perstep")
        .unwrap();
    let (_, plan, _) = plan_for(&c, Some(2));
    let d = spikefab::back::verilog::emit(&plan, None).unwrap();
    common::check_golden("verilog", &d.files);
}

/// The block RAMs the RTL's RAMs leave (its shared state memories counted once) go to ROMs,
/// most LUTs saved per block first; the rest are in logic. Every ROM the plan puts in block RAM
/// is held there (sf_ram `BLOCK`), every other one is in logic (`LOGIC`), and the RTL never
/// needs more blocks than the device has. ensemble_bw's ROMs do not all fit (a 16-word
/// parameter ROM goes to logic), mlp_bw's do.
#[test]
fn block_roms_fill_the_block_rams_the_rams_leave() {
    let mut seen = (false, false);
    for (c, _) in rtl_students() {
        let (_, plan, _) = plan_for(&c, None);
        let d = spikefab::back::verilog::emit(&plan, None).unwrap();
        let top = &d.files.iter().find(|(n, _)| *n == format!("{}.v", d.module)).unwrap().1;
        assert!(plan.block_rams() <= plan.device_block_rams, "{}", c.name);
        let in_blocks = |m: &spikefab::hw::Memory| matches!(m.map, spikefab::hw::MemMap::BlockRam { .. });
        let roms: Vec<_> = plan.memories.iter().filter(|m| m.rom).collect();
        let held = top.matches(".LOGIC(0), .BLOCK(1)").count();
        assert_eq!(held, roms.iter().filter(|m| in_blocks(m)).count(), "{}", c.name);
        assert!(!top.contains(".LOGIC(0), .BLOCK(0)) "), "{}: a ROM left to synthesis", c.name);
        assert!(!top.contains(".LOGIC(1), .BLOCK(1)"), "{}", c.name);
        // A ROM deeper than 16 words is in logic only when the blocks it needs (UP5K EBR modes)
        // are not free.
        let free = (plan.device_block_rams - plan.block_rams()) as usize;
        for m in roms.iter().filter(|m| !in_blocks(m) && m.depth > 16) {
            let need = [[256, 16], [512, 8], [1024, 4], [2048, 2]]
                .iter()
                .map(|[d, w]| m.depth.div_ceil(*d) * m.width.div_ceil(*w))
                .min()
                .unwrap();
            assert!(need > free, "{}: {} in logic with {free} blocks free", c.name, m.name);
        }
        if roms.iter().any(|m| !in_blocks(m) && m.role == "params" && m.depth * m.width > 1024) {
            seen.1 = true;
        } else if roms.iter().all(|m| in_blocks(m) || m.depth <= 16) {
            seen.0 = true;
        }
        // `plan` prints the RTL's block RAMs, with shared memories counted once.
        let (model, inputs, t) = (c.dir.join(&c.model), c.dir.join(&c.inputs), c.timesteps.to_string());
        let mut args = vec!["plan", model.to_str().unwrap(), "-T", &t, "--inputs", inputs.to_str().unwrap()];
        // The plan above is sequential and event-driven (`PlanOptions`' default lays out, the
        // driver's auto datapath choice is not run); the iCE40 defaults are auto.
        args.extend(["--target", "ice40-up5k", "--schedule", "sequential", "--datapath", "event"]);
        let dt = c.dt.map(|d| d.to_string());
        if let Some(d) = &dt {
            args.extend(["--dt", d]);
        }
        if let Some(f) = &c.from {
            args.extend(["--from", f]);
        }
        let (code, out, err) = common::spikefab(&args);
        assert_eq!(code, 0, "{}: {out}{err}", c.name);
        let line = format!("block RAMs: {} of the device's {}", plan.block_rams(), plan.device_block_rams);
        assert!(out.contains(&line), "{}: {line}\n{out}", c.name);
        assert!(!out.contains("MORE than it has"), "{}: {out}", c.name);
        assert_eq!(
            out.contains("shared by layers in the RTL"),
            plan.banks.iter().any(|b| b.layers.len() > 1),
            "{}",
            c.name
        );
    }
    assert_eq!(seen, (true, true), "both cases are exercised");
}

#[test]
fn emission_is_deterministic() {
    for (c, _) in rtl_students() {
        let (_, p1, _) = plan_for(&c, None);
        let (_, p2, _) = plan_for(&c, None);
        let a = spikefab::back::verilog::emit(&p1, Some((3, 1000))).unwrap();
        let b = spikefab::back::verilog::emit(&p2, Some((3, 1000))).unwrap();
        assert_eq!(a.files, b.files, "{}", c.name);
    }
}

#[test]
fn unsupported_models_fail_at_compile_time_with_a_clear_error() {
    let out = scratch("unsupported");
    // A Delay node has no hardware lowering.
    let (code, _, err) = spikefab(&[
        "compile",
        "tests/data/nir/delay.nir",
        "--dt",
        "0.25",
        "-T",
        "6",
        "--input-scale",
        "0.125",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("Delay") && err.contains("delay.nir"), "{err}");
    assert!(!err.contains("panicked"));
    assert!(std::fs::read_dir(&out).unwrap().next().is_none(), "nothing written for a refused model");
}

/// `cosim --json` reports the simulator's build and run apart and the cycle engine's speed on
/// the same samples against the run (figures only checked for consistency, never timed).
#[test]
fn cosim_reports_engine_and_simulator_speed() {
    if !tool_or_skip("iverilog", "cosim_reports_engine_and_simulator_speed") {
        return;
    }
    let dir = scratch("cosim-speed");
    let (m, x) = (root().join("models/mlp_bw/mlp_bw.nir"), root().join("models/digits_test_x.npy"));
    let (code, out, err) = spikefab(&[
        "cosim",
        m.to_str().unwrap(),
        "--from",
        "snntorch",
        "-T",
        "8",
        "--inputs",
        x.to_str().unwrap(),
        "--simulator",
        "iverilog",
        "--samples",
        "2",
        "--speed",
        "--json",
        "-o",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let json = &out[out.find('{').expect("json")..out.rfind('}').unwrap() + 1];
    let r: serde_json::Value = serde_json::from_str(json).unwrap();
    let s = &r["speed"];
    assert_eq!(s["simulator"], "iverilog");
    assert_eq!(s["rtl"]["samples"], 2);
    assert_eq!(s["rtl"]["seconds"], r["run_seconds"]);
    assert_eq!(s["simulator_build_seconds"], r["build_seconds"]);
    let cycles: u64 = r["rtl_cycles"].as_array().unwrap().iter().map(|c| c.as_u64().unwrap()).sum();
    let (rtl, eng) = (&s["rtl"], &s["engine"]);
    let f = |v: &serde_json::Value| v.as_f64().unwrap();
    assert!(f(&rtl["seconds"]) > 0.0 && f(&r["build_seconds"]) > 0.0);
    assert_eq!(f(&rtl["cycles_per_s"]), cycles as f64 / f(&rtl["seconds"]));
    let repeats = eng["samples"].as_u64().unwrap();
    assert!(repeats >= 2 && repeats % 2 == 0, "the engine runs the same samples whole: {repeats}");
    assert!(f(&eng["samples_per_s"]) > 0.0);
    assert_eq!(f(&s["engine_over_rtl"]), f(&eng["samples_per_s"]) / f(&rtl["samples_per_s"]));
    // The fastest repeat is at least the median one and at least the mean over all repeats
    // (whose time also holds the loop between them).
    let (med, best) = (f(&s["engine_repeat_median_samples_per_s"]), f(&s["engine_repeat_best_samples_per_s"]));
    assert!(med > 0.0 && best >= med && best >= f(&eng["samples_per_s"]), "median {med}, best {best}");
}

/// Runs spikefab in `dir`.
fn run_in(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_spikefab")).args(args).current_dir(dir).output().expect("run");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `cosim --simulator verilator` with the default (relative) work folder used to fail with
/// "tb failed: No such file or directory".
#[test]
fn verilator_cosim_works_in_a_relative_default_folder() {
    if !tool_or_skip("verilator", "verilator_cosim_works_in_a_relative_default_folder") {
        return;
    }
    let dir = scratch("newcomer-relative-cosim");
    let model = root().join("models/mlp_bw/mlp_bw.nir");
    let inputs = root().join("models/digits_test_x.npy");
    let args = ["cosim", model.to_str().unwrap(), "--from", "snntorch", "-T", "4"];
    let (code, out, err) = run_in(
        &dir,
        &[&args[..], &["--inputs", inputs.to_str().unwrap(), "--simulator", "verilator", "--samples", "2"]].concat(),
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("spike- and cycle-exact"), "{out}");
    assert!(dir.join("build/cosim/obj_dir").is_dir(), "the default folder is relative to the working directory");
}

/// Co-simulation predicts its cost from the cycle engine's counts and skips, with the
/// estimate and the option that forces it, above the budget.
#[test]
fn cosim_beyond_its_budget_is_skipped_with_the_prediction() {
    let out = scratch("newcomer-cosim-budget");
    let (code, stdout, stderr) = spikefab(&[
        "compile",
        "models/conv_bw/conv_bw.nir",
        "--dt",
        "1e-4",
        "-T",
        "8",
        "--inputs",
        "models/digits_test_x.npy",
        "--cosim-budget",
        "1",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stderr.contains("co-simulation skipped") && stderr.contains("give --cosim-budget"), "{stderr}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let why = r["cosim"]["skipped"].as_str().unwrap();
    assert!(why.contains("clock cycles, predicted"), "{why}");
}
