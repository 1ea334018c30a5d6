//! Streamed designs whose weights live in the SDRAM (docs/hardware.md 4d): the RTL's tile
//! buffer, filled by `hdl/sf_sdram_stream.v` from the chip model `hdl/sf_sdram_model.v`
//! preloaded with the design's memory image, must match the cycle engine word for word and
//! cycle for cycle, waits for tiles included; the chip model checks every command's timing;
//! each design is Verilator -Wall clean.

use crate::common;

use common::{assert_lint_clean, cases, root, rtl_students, scratch, tool_or_skip};
use spikefab::flow::cosim::{self, Simulator};
use spikefab::hw::dense;
use spikefab::hw::memory::LargeLayout;
use spikefab::hw::{MemMap, Plan, PlanOptions, lower};
use spikefab::quant::InputStats;
use spikefab::sim::cycle;
use spikefab::target::{ScheduleChoice, Target};

/// The ULX3S at `mhz` (its SDRAM's clock is 50 MHz; the board's oscillator 25).
fn board(mhz: f64) -> Target {
    let mut t = Target::load("ulx3s-85f").unwrap();
    t.clock.default_mhz = mhz;
    t
}

/// The packed layouts of `plan`'s external ROMs.
fn layouts(plan: &Plan) -> Vec<LargeLayout> {
    plan.memories
        .iter()
        .filter_map(|m| if let MemMap::External { layout, .. } = m.map { Some(layout) } else { None })
        .collect()
}

/// The NIR op corpus models the layer-major order allows, at 2 lanes and the board's 25 MHz
/// (iverilog), and the students at the SDRAM's 50 MHz, in turn at 2 lanes event-driven
/// (iverilog) and at 16 lanes dense (Verilator), one design each to keep the suite short:
/// exact against the cycle engine, the chip model finding no violation.
/// Covers narrow ROM words sharing a memory word, wide ones over several, three or more tiles
/// (each buffer half refilled), and layers waiting for their tiles.
#[test]
fn tile_buffer_cosim_is_exact() {
    if !tool_or_skip("iverilog", "tile_buffer_cosim_is_exact") {
        return;
    }
    let lint = tool_or_skip("verilator", "tile_buffer_cosim_is_exact (Verilator lint)");
    let mut all: Vec<_> = cases(&root().join("tests/data/nir/cases.json"));
    let first_student = all.len();
    all.extend(rtl_students().into_iter().map(|(c, _)| c));
    let (mut done, mut narrow, mut wide, mut refills, mut waits) = (vec![], 0, 0, 0, 0u64);
    let mut shared_slots = 0;
    for (i, c) in all.iter().enumerate() {
        let student = i >= first_student;
        let m = c.load();
        let batch = c.batch(&m).take(if student { 2 } else { 3 });
        let configs: &[(usize, bool)] =
            if student && (i - first_student) % 2 == 1 { &[(16, true)] } else { &[(2, false)] };
        for &(lanes, dense) in configs {
            let t = board(if student { 50.0 } else { 25.0 });
            let mut o = PlanOptions::new(t.clone(), c.timesteps);
            o.input_stats = Some(InputStats::of(&batch));
            o.settings.lanes = Some(lanes);
            o.settings.schedule = Some(ScheduleChoice::Streamed);
            // Refused by the order (recurrent or delayed projections), by the plan whatever
            // the schedule, or without weights to stream: tests/rtl_streamed.rs covers those.
            let Ok(plan) = lower(&m, &o) else { continue };
            let plan = if dense { plan.with_modes(&dense::all_dense(&plan), &t).unwrap() } else { plan };
            if plan.tiles().is_empty() {
                continue;
            }
            let what = format!("{} at {lanes} lanes{}", c.name, if dense { ", dense" } else { "" });
            let dir = scratch(&format!("tiles-{}-{lanes}", c.name));
            let sim = if dense && lint { Simulator::Verilator } else { Simulator::Iverilog };
            let r = cosim::cosim(&plan, &batch, batch.n, sim, &dir, &|_| {}).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert!(r.exact(), "{what}: {:?}", r.first_differences);
            let d = spikefab::back::verilog::emit(&plan, None).unwrap();
            // Narrow ROMs of one slot width read it through one shared multiplexer.
            shared_slots += usize::from(d.files[0].1.contains("multiplexer for their ROMs"));
            if lint {
                assert!(d.files.iter().any(|(n, _)| n == "sf_sdram_stream.v"), "{what}: the controller");
                assert!(
                    d.files.iter().all(|(n, _)| n != "sf_sdram_model.v"),
                    "{what}: the chip model is for simulation"
                );
                assert_lint_clean(&d, &format!("tiles-lint-{}-{lanes}", c.name), &what);
            }
            let lay = layouts(&plan);
            narrow += usize::from(lay.iter().any(|l| l.per_word > 1));
            wide += usize::from(lay.iter().any(|l| l.cols > 1));
            refills += usize::from(plan.tiles().len() >= 3);
            let run = cycle::run(&plan, &batch, plan.timesteps);
            waits += run.samples.iter().map(|s| s.counters.stall_cycles).sum::<u64>();
            done.push(what);
        }
    }
    println!("co-simulated with the SDRAM: {}; {shared_slots} with a shared slot multiplexer", done.join(", "));
    assert!(
        done.len() >= 20 && narrow > 0 && wide > 0 && refills > 0 && waits > 0 && shared_slots > 0,
        "{narrow} narrow, {wide} wide, {refills} refilled, {waits} cycles waited, {shared_slots} sharing a slot multiplexer: {done:?}"
    );
}

/// Layers in tiles of lane groups (docs/hardware.md 4d): each student, event-driven and dense
/// where it can be, on a ULX3S cut to 4 block RAMs so its layers' weights do not fit half the
/// tile buffer whole, at the most lanes (of 1 to 16) that still cut a layer, and dense at 6
/// lanes (channels that are not a multiple of the lanes: padding lanes in the last tile's last
/// lane group): each tiled layer
/// runs its steps once per tile, its state memories holding one tile's rows, its weights one
/// slice per tile (an event-driven ROM's permuted to the tile's lane groups), each tile
/// appending to its steps' event lists. Co-simulated with the SDRAM model spike- and
/// cycle-exact against the cycle engine, Verilator -Wall clean; covers dense matrix,
/// convolution and one-to-one gathers and event-driven dense and convolution projections into
/// tiled layers, tiled layers writing event lists and spike planes, padding lanes, and layers
/// in more than two tiles (the buffer's halves alternating).
#[test]
fn layers_in_tiles_cosim_is_exact() {
    if !tool_or_skip("iverilog", "layers_in_tiles_cosim_is_exact") {
        return;
    }
    let lint = tool_or_skip("verilator", "layers_in_tiles_cosim_is_exact (Verilator lint)");
    let (mut done, mut kinds) = (vec![], std::collections::BTreeSet::new());
    // Each configuration adds kinds to the coverage asserted below; the ones that only repeated
    // others (the T = 4 student, the ensemble at 8 lanes) are left out to keep the test short.
    let configs = [
        ("mlp_bw", true, None),
        ("mlp_bw", false, None),
        ("mlp_bw", true, Some(6)),
        ("conv_bw", true, None),
        ("ensemble_bw", true, Some(6)),
    ];
    let all = rtl_students();
    for (name, dense, at) in configs {
        let (c, _) = all.iter().find(|(c, _)| c.name == name).unwrap_or_else(|| panic!("no student {name}"));
        let m = c.load();
        let batch = c.batch(&m).take(2);
        let lanes: Vec<usize> = at.map_or(vec![16, 8, 4, 2, 1], |n| vec![n]);
        let cut = lanes.into_iter().find_map(|lanes| {
            let mut t = board(50.0);
            t.device.block_rams = 4;
            let mut o = PlanOptions::new(t.clone(), c.timesteps);
            o.input_stats = Some(InputStats::of(&batch));
            o.settings.lanes = Some(lanes);
            o.settings.schedule = Some(ScheduleChoice::Streamed);
            let plan = lower(&m, &o).unwrap_or_else(|e| panic!("{}: {e}", c.name));
            let plan = if dense { plan.with_modes(&dense::all_dense(&plan), &t).unwrap() } else { plan };
            plan.layers.iter().any(|l| l.tiles > 1).then_some((lanes, plan))
        });
        let Some((lanes, plan)) = cut else { continue };
        spikefab::back::limits::check_verilog(&plan).unwrap_or_else(|e| panic!("{}: {e}", c.name));
        for l in plan.layers.iter().filter(|l| l.tiles > 1) {
            for (p, mode) in l.projections.iter().zip(&l.modes) {
                kinds.insert(format!("{mode:?} {}", format!("{:?}", p.kind).split(['(', ' ', '{']).next().unwrap()));
            }
            if l.tiles > 2 {
                kinds.insert("more than two tiles".into());
            }
            if l.group_size % l.lanes != 0 {
                kinds.insert("padding lanes".into());
            }
            let k = plan.layers.iter().position(|x| x.name == l.name).unwrap();
            if dense::has_event_readers(&plan, k) {
                kinds.insert("writes events".into());
            }
            if !dense::plane_readers(&plan, k).is_empty() {
                kinds.insert("writes a plane".into());
            }
        }
        let tiled: Vec<String> =
            plan.layers.iter().filter(|l| l.tiles > 1).map(|l| format!("{} in {}", l.name, l.tiles)).collect();
        let what = format!("{}{} at {lanes} lanes ({})", c.name, if dense { ", dense" } else { "" }, tiled.join(", "));
        let dir = scratch(&format!("layer-tiles-{}-{dense}-{lanes}", c.name));
        let sim = if lint { Simulator::Verilator } else { Simulator::Iverilog };
        let r = cosim::cosim(&plan, &batch, batch.n, sim, &dir, &|_| {}).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(r.exact(), "{what}: {:?}", r.first_differences);
        let d = spikefab::back::verilog::emit(&plan, None).unwrap();
        if d.files.iter().any(|(_, text)| text.contains("shared dense datapath")) {
            kinds.insert("a shared dense datapath".into());
        }
        if lint {
            assert_lint_clean(&d, &format!("layer-tiles-lint-{}-{dense}-{lanes}", c.name), &what);
        }
        done.push(what);
    }
    println!("co-simulated in tiles: {}; projections into tiled layers: {kinds:?}", done.join("; "));
    for k in [
        "Dense Dense",
        "Dense Conv",
        "Dense OneToOne",
        "Event Dense",
        "Event Conv",
        "more than two tiles",
        "writes events",
        "writes a plane",
        "padding lanes",
        "a shared dense datapath",
    ] {
        assert!(kinds.contains(k), "no {k} in tiles: {kinds:?}");
    }
}

/// The chip model judges the design: the same testbench with the model told the chip needs one
/// more cycle between ACTIVATE and READ than the controller was built for stops the run with a
/// tRCD violation, which the co-simulation reports as a failed check.
#[test]
fn the_chip_model_stops_a_design_that_breaks_its_timing() {
    if !tool_or_skip("iverilog", "the_chip_model_stops_a_design_that_breaks_its_timing") {
        return;
    }
    let (c, _) = rtl_students().into_iter().next().unwrap();
    let m = c.load();
    let batch = c.batch(&m).take(1);
    let mut o = PlanOptions::new(board(50.0), c.timesteps);
    o.input_stats = Some(InputStats::of(&batch));
    o.settings.schedule = Some(ScheduleChoice::Streamed);
    let plan = lower(&m, &o).unwrap();
    let dir = scratch("tiles-violation");
    let r = cosim::cosim(&plan, &batch, 1, Simulator::Iverilog, &dir, &|_| {}).unwrap();
    assert!(r.exact(), "{:?}", r.first_differences);
    let tb = std::fs::read_to_string(dir.join("tb.v")).unwrap();
    let line = tb.lines().find(|l| l.contains("sf_sdram_model #(")).expect("the chip model in the testbench");
    let rcd = line.split(".RCD(").nth(1).and_then(|r| r.split(')').next()).unwrap();
    let slower = line.replace(&format!(".RCD({rcd})"), &format!(".RCD({})", rcd.parse::<u64>().unwrap() + 1));
    std::fs::write(dir.join("tb.v"), tb.replace(line, &slower)).unwrap();
    let mut srcs: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| n.ends_with(".v"))
        .collect();
    srcs.sort();
    let ok = std::process::Command::new("iverilog")
        .args(["-g2005", "-o", "tb.vvp", "-s", "tb"])
        .args(&srcs)
        .current_dir(&dir)
        .status()
        .unwrap();
    assert!(ok.success());
    let out = std::process::Command::new("vvp").args(["-n", "tb.vvp"]).current_dir(&dir).output().unwrap();
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(out.lines().any(|l| l.starts_with("SDRAM VIOLATION") && l.contains("tRCD")), "{out}");
}

/// The ULX3S bitstream of a design streaming its weights from the board's SDRAM, through
/// YoWASP's Yosys, nextpnr-ecp5 and ecppack: the MLP student at the SDRAM's 50 MHz (the PLL
/// from the board's 25 MHz, the chip's clock a second PLL output forwarded by an ODDRX1F),
/// its SDRAM ports on the memory's pins, co-simulated with the chip model spike- and
/// cycle-exact, and meeting its clock.
#[test]
fn a_streaming_design_builds_a_ulx3s_bitstream() {
    if common::ecp5_tools("a_streaming_design_builds_a_ulx3s_bitstream").is_none() {
        return;
    }
    let out = scratch("tiles-ulx3s");
    let _ = std::fs::remove_dir_all(&out);
    let o = out.to_str().unwrap();
    let args = [
        "compile",
        "models/mlp_bw/mlp_bw.nir",
        "--from",
        "snntorch",
        "-T",
        "4",
        "--inputs",
        "models/digits_test_x.npy",
        "--target",
        "ulx3s-85f",
        "--clock-mhz",
        "50",
        "--schedule",
        "streamed",
        "--bitstream",
        "--cosim-samples",
        "2",
        "-o",
        o,
    ];
    let (code, stdout, stderr) = common::spikefab(&args);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let mems = r["plan"]["memories"].as_array().unwrap();
    let external = mems.iter().filter(|m| m["map"]["kind"] == "external").count();
    assert!(external > 0 && mems.iter().any(|m| m["role"] == "tiles"), "the weights stream from the SDRAM: {mems:?}");
    assert_eq!((&r["cosim"]["word_mismatches"], &r["cosim"]["cycle_mismatches"]), (&0.into(), &0.into()), "{stdout}");
    let f = &r["fpga"];
    let fmax = f["fmax_nextpnr_mhz"].as_f64().expect("nextpnr Fmax");
    assert!(fmax >= 50.0, "Fmax {fmax} MHz\n{stdout}");
    let t = Target::load("ulx3s-85f").unwrap();
    let pins = &t.external_memory.as_ref().unwrap().pins;
    let lpf = std::fs::read_to_string(out.join("sf_mlp_bw.lpf")).unwrap();
    for (port, pin) in
        [("sd_clk", &pins.clock), ("sd_cs_n", &pins.cs_n), ("sd_dq[15]", &pins.dq[15]), ("sd_a[12]", &pins.a[12])]
    {
        assert!(lpf.contains(&format!("LOCATE COMP \"{port}\" SITE \"{pin}\";")), "{port}: {lpf}");
    }
    let top = std::fs::read_to_string(out.join("sf_mlp_bw_top.v")).unwrap();
    assert!(top.contains("ODDRX1F") && top.contains("CLKOS("), "{top}");
    let bytes = std::fs::read(out.join(f["bitstream"].as_str().unwrap())).unwrap();
    assert!(bytes.len() > 100_000 && String::from_utf8_lossy(&bytes[..64]).contains("LFE5U-85F"));
    println!("{stdout}");
}
