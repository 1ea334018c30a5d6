//! The ULX3S board target (`ulx3s-85f`: the ECP5-85F and its SDR SDRAM): `plan` reports what
//! streaming the weights from the SDRAM moves and allows, with figures the chip model agrees
//! with cycle for cycle; a model that fits on chip gets the same design on the board as on the
//! bare device, and one whose weights do not fit streams them by default.

use crate::common;

use common::{scratch, spikefab};
use spikefab::hw::sdram::{Request, Streamer};
use spikefab::sim::sdram::{Sdram, tick};
use spikefab::target::Target;

/// `plan --json` on the board: the words are the plan's weight memories packed in 16-bit words, and
/// the pass's cycles, ACTIVATEs, REFRESHes and energy are those of the streaming controller
/// run against the chip model (which accepts every command) over that many words.
#[test]
fn the_board_plan_reports_streaming_figures_the_chip_model_reproduces() {
    let plan = ["plan", "models/conv_bw/conv_bw.nir", "-T", "4", "--input-scale", "1", "--target", "ulx3s-85f"];
    let (code, stdout, stderr) = spikefab(&[&plan[..], &["--json"]].concat());
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let e = &v["external_memory"];
    let words: u64 = v["memories"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["rom"] == true && m["role"] == "weights")
        .map(|m| {
            // Packed: words of at most 16 bits in power-of-two slots, wider ones over whole words.
            let (depth, width) = (m["depth"].as_u64().unwrap(), m["width"].as_u64().unwrap());
            if width <= 16 { depth.div_ceil(16 / width.next_power_of_two()) } else { depth * width.div_ceil(16) }
        })
        .sum();
    assert!(words > 100, "{e}");
    assert_eq!(e["words"].as_u64(), Some(words), "{e}");
    assert_eq!(e["bytes_per_inference"].as_f64(), Some(2.0 * words as f64), "{e}");

    let t = Target::load("ulx3s-85f").unwrap();
    let mem = t.external_memory.as_ref().expect("the board has external memory");
    let timing = mem.timing.at(mem.clock_mhz);
    let mut chip = Sdram::new(mem.geometry, timing);
    let mut s = Streamer::initialised(mem.geometry, timing).unwrap();
    let (mut got, mut req) = (0u64, Some(Request { addr: 0, len: words }));
    while got < words {
        let r = tick(&mut s, &mut chip, req).unwrap_or_else(|v| panic!("the chip model refuses: {v}"));
        if r.accepted {
            req = None;
        }
        got += u64::from(r.word.is_some());
    }
    let c = chip.counts();
    assert_eq!(e["cycles_per_pass"].as_u64(), Some(c.cycles), "{e}");
    assert_eq!((e["activates"].as_u64(), e["refreshes"].as_u64()), (Some(c.activates), Some(c.refreshes)), "{e}");
    let bound = mem.clock_mhz * 1e6 / c.cycles as f64;
    assert!((e["bound_inferences_per_s"].as_f64().unwrap() - bound).abs() < 1e-6 * bound, "{e}");
    let energy = spikefab::energy::sdram::energy(&mem.power, &c, mem.clock_mhz);
    let j = &e["energy_per_pass"];
    for (k, want) in [
        ("read_j", energy.read_j),
        ("activate_j", energy.activate_j),
        ("refresh_j", energy.refresh_j),
        ("background_j", energy.background_j),
    ] {
        let got = j[k].as_f64().unwrap();
        assert!(want > 0.0 && (got - want).abs() <= 1e-9 * want, "{k}: {got} vs {want}");
    }

    // The text form says this plan keeps its weights on chip, and the streamed one streams.
    let (code, text, _) = spikefab(&plan);
    assert_eq!(code, 0);
    assert!(text.contains(&format!("{words} words")) && text.contains("keeps every weight on chip"), "{text}");
    let (code, text, _) = spikefab(&[&plan[..], &["--schedule", "streamed"]].concat());
    assert_eq!(code, 0);
    assert!(text.contains("external memory, words 0..") && text.contains("streams its weights"), "{text}");
}

/// With inputs, `plan` sets the weights' transfer against the datapath's work: the transfer is
/// a pass's cycles at the memory's clock, the compute the cycles measured on the inputs at the
/// plan's clock, and the fraction of the bandwidth bound follows from the slower of the two.
#[test]
fn the_board_plan_balances_transfer_against_compute() {
    let x = std::fs::read("models/digits_test_x.npy").unwrap();
    let rows = npyz::NpyFile::new(&x[..]).unwrap();
    let shape = rows.shape().to_vec();
    let v: Vec<u8> = rows.into_vec().unwrap();
    let cols = shape[1] as usize;
    let path = scratch("external_memory_inputs").join("x16.npy");
    std::fs::write(&path, spikefab::data::npy_bytes(&[16, cols], &v[..16 * cols])).unwrap();
    let args = ["plan", "models/conv_bw/conv_bw.nir", "-T", "4", "--target", "ulx3s-85f"];
    let (v, text) = plan_json_and_text(&[&args[..], &["--inputs", path.to_str().unwrap()]].concat());
    let e = &v["external_memory"];
    let b = &e["balance"];
    let f = |k: &str| b[k].as_f64().unwrap_or_else(|| panic!("{k}: {b}"));
    let t = Target::load("ulx3s-85f").unwrap();
    let memory_hz = t.external_memory.as_ref().unwrap().clock_mhz * 1e6;
    let transfer = e["cycles_per_pass"].as_f64().unwrap() / memory_hz;
    assert!((f("transfer_s") - transfer).abs() <= 1e-12, "{b}");
    let slowest = f("transfer_s").max(f("compute_s"));
    assert!((f("fraction_of_bound") - f("transfer_s") / slowest).abs() <= 1e-12, "{b}");
    assert!((f("inferences_per_s") - 1.0 / slowest).abs() <= 1e-9 / slowest, "{b}");
    assert!(f("synaptic_ops") > 0.0, "{b}");

    // The compute side is the mean cycles the text prints, at the plan's clock (the target's).
    let mean: f64 = text
        .split("cycles per inference on 16 inputs: mean ")
        .nth(1)
        .and_then(|t| t.split(',').next())
        .and_then(|m| m.parse().ok())
        .unwrap_or_else(|| panic!("{text}"));
    assert!((f("compute_s") * t.clock.default_mhz * 1e6 - mean).abs() <= 0.05, "{mean} vs {b}");
    assert!(text.contains("of the bandwidth bound"), "{text}");
}

/// A streamed plan that waits for its weights names the layers that waited: the JSON lists
/// them longest first, their waits adding up to the plan's, and the text prints them.
#[test]
fn the_streamed_plan_names_the_layers_that_wait_for_their_weights() {
    let args = "plan models/mlp_bw/mlp_bw.nir --from snntorch -T 8 --target ulx3s-85f \
                --inputs models/digits_test_x.npy --schedule streamed --clock-mhz 50";
    let (v, text) = plan_json_and_text(&args.split_whitespace().collect::<Vec<_>>());
    let b = &v["external_memory"]["balance"];
    let waits: Vec<(String, f64)> = b["waits_by_layer"]
        .as_array()
        .unwrap_or_else(|| panic!("{b}"))
        .iter()
        .map(|w| (w["layer"].as_str().unwrap().to_string(), w["cycles"].as_f64().unwrap()))
        .collect();
    assert!(!waits.is_empty() && waits.iter().all(|w| w.1 > 0.0), "{b}");
    assert!(waits.windows(2).all(|p| p[0].1 >= p[1].1), "longest first: {b}");
    let total: f64 = waits.iter().map(|w| w.1).sum();
    assert!((total - b["stall_cycles"].as_f64().unwrap()).abs() <= 1e-6, "{b}");
    let line =
        text.lines().find(|l| l.starts_with("waiting for weights, by layer")).unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains(&format!("{} {:.1}", waits[0].0, waits[0].1)), "{line}");
}

/// `args` (a `plan` command) run with `--json` and without, both exiting 0: the JSON, the text.
fn plan_json_and_text(args: &[&str]) -> (serde_json::Value, String) {
    let (code, stdout, stderr) = spikefab(&[args, &["--json"]].concat());
    assert_eq!(code, 0, "{stderr}");
    let (code, text, stderr) = spikefab(args);
    assert_eq!(code, 0, "{stderr}");
    (serde_json::from_str(&stdout).unwrap(), text)
}

/// A model that fits the FPGA: every emitted file on the board target equals the bare
/// device's but for the target's name (the board's `--schedule auto` keeps the pipelined plan
/// the bare device's default gives).
#[test]
fn a_model_that_fits_gets_the_same_design_on_the_board() {
    let mut dirs = vec![];
    for t in ["ecp5-85k", "ulx3s-85f"] {
        let out = scratch(&format!("board-same-{t}"));
        let args = [
            "compile",
            "models/mlp_bw/mlp_bw.nir",
            "--from",
            "snntorch",
            "-T",
            "8",
            "--inputs",
            "models/digits_test_x.npy",
            "--target",
            t,
            "--cosim-samples",
            "0",
            "-o",
            out.to_str().unwrap(),
        ];
        let (code, stdout, stderr) = spikefab(&args);
        assert_eq!(code, 0, "{t}: {stdout}\n{stderr}");
        dirs.push(out);
    }
    let mut names: Vec<String> = std::fs::read_dir(&dirs[0])
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n != "report.json" && n != "plan.json")
        .collect();
    names.sort();
    assert!(names.iter().any(|n| n.ends_with(".v")) && names.iter().any(|n| n.ends_with(".hex")), "{names:?}");
    for n in &names {
        let a = std::fs::read_to_string(dirs[0].join(n)).unwrap();
        let b = std::fs::read_to_string(dirs[1].join(n)).unwrap_or_else(|e| panic!("{n} on the board: {e}"));
        assert_eq!(a.replace("ecp5-85k", "ulx3s-85f"), b, "{n}");
    }
}

/// `--schedule auto`, the board's default: ensemble_bw keeps its weights on chip on the ULX3S,
/// and streams them from the SDRAM when the block RAMs cannot hold them (the board cut to 8 of
/// its 208 blocks: the pipelined plan's memories do not fit, the sequential plan puts weight
/// memories in logic). The bare ECP5 cut the same way, asked for `auto`, has no memory to
/// stream from and keeps the sequential plan. A forced schedule is kept. A recurrent model,
/// which cannot run layer-major, keeps the sequential plan and its note says why.
#[test]
fn weights_that_do_not_fit_on_chip_stream_by_default() {
    use spikefab::hw::{PlanOptions, Schedule, lower};
    use spikefab::quant::InputStats;
    use spikefab::target::ScheduleChoice;
    let (c, _) = common::students().into_iter().find(|(c, _)| c.name == "ensemble_bw").unwrap();
    let m = c.load();
    let stats = InputStats::of(&c.batch(&m));
    let plan = |t: &Target, forced: Option<ScheduleChoice>| {
        let mut o = PlanOptions::new(t.clone(), c.timesteps);
        o.input_stats = Some(stats);
        o.settings.schedule = forced;
        lower(&m, &o).unwrap()
    };
    let cut = |name: &str| {
        let mut t = Target::load(name).unwrap();
        t.device.block_rams = 8;
        t
    };
    let board = Target::load("ulx3s-85f").unwrap();
    let p = plan(&board, None);
    assert_eq!(p.schedule, Schedule::Pipelined, "{:?}", p.schedule_note);
    assert!(p.external.is_none());

    let p = plan(&cut("ulx3s-85f"), None);
    let note = p.schedule_note.clone().unwrap_or_default();
    assert_eq!(p.schedule, Schedule::Streamed, "{note}");
    assert!(p.external.is_some());
    assert!(note.starts_with("auto: streamed, the weights from the board's MT48LC16M16A2"), "{note}");
    assert!(note.contains("pipelined, its memories need") && note.contains("weight memories in logic"), "{note}");
    assert!(p.block_rams() <= 8, "the streamed plan fits: {} block RAMs", p.block_rams());
    assert!(
        p.memories
            .iter()
            .filter(|m| m.role == "weights")
            .all(|m| matches!(m.map, spikefab::hw::MemMap::External { .. }))
    );

    let p = plan(&cut("ecp5-85k"), Some(ScheduleChoice::Auto));
    assert_eq!(p.schedule, Schedule::Sequential, "{:?}", p.schedule_note);
    let p = plan(&cut("ulx3s-85f"), Some(ScheduleChoice::Sequential));
    assert_eq!(p.schedule, Schedule::Sequential);

    // A recurrent model whose weights do not fit (the board cut to one block) cannot run
    // layer-major: it keeps the sequential plan, and the note says why.
    let c = common::cases(&common::root().join("tests/data/nir/cases.json"))
        .into_iter()
        .find(|c| c.name == "recurrent_lif")
        .unwrap();
    let m = c.load();
    let mut one = board.clone();
    one.device.block_rams = 1;
    let mut o = PlanOptions::new(one, c.timesteps);
    o.settings.schedule = None;
    o.input_stats = Some(InputStats::of(&c.batch(&m)));
    let p = lower(&m, &o).unwrap();
    let note = p.schedule_note.clone().unwrap_or_default();
    assert_eq!(p.schedule, Schedule::Sequential, "{note}");
    assert!(
        note.contains("weight memory in logic")
            && note.contains("streamed refused: layer 'lif' reads the previous step"),
        "{note}"
    );
}
