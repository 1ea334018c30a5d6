//! Xylo: spikefab's simulation of the chip against rockpool's XyloSim, word for word, on random
//! integer networks (recurrence, saturation, multi-event inputs, the three chips) and on
//! compiled students.

use crate::common;

use common::scratch;
use spikefab::chip::xylo::XyloSpec;
use spikefab::sim::xylo;

/// xorshift64*: deterministic test data without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }
    /// Mostly zeros, like a real connectivity matrix.
    fn sparse_i8(&mut self, n: usize, density: u64, lo: i64, hi: i64) -> Vec<i8> {
        (0..n).map(|_| if self.next() % 100 < density { self.range(lo, hi) as i8 } else { 0 }).collect()
    }
}

fn python_or_skip(test: &str) -> Option<std::path::PathBuf> {
    let why = "no Python with XyloSim (SPIKEFAB_XYLO_PYTHON with rockpool==3.1.0 xylosim==0.1.3)";
    common::require(spikefab::flow::xylosim::python().ok_or(why.to_string()), test)
}

/// A random specification that exercises saturation: large weights and shifts, tiny and
/// negative thresholds, biases, recurrence and every decay shift.
fn random_spec(seed: u64, synapses: usize, nh: usize, no: usize, ien: usize, oen: usize) -> XyloSpec {
    let mut r = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let nin = 16;
    let threshold: Vec<i16> = (0..nh)
        .map(|_| match r.range(0, 9) {
            0 => r.range(-3, 0) as i16,
            1 => r.range(1, 8) as i16,
            _ => r.range(50, 20000) as i16,
        })
        .collect();
    XyloSpec {
        n_in: nin,
        n_hidden: nh,
        n_out: no,
        synapses,
        ien,
        oen,
        weights_in: r.sparse_i8(nin * ien * synapses, 40, -128, 127),
        weights_rec: r.sparse_i8(nh * nh * synapses, 15, -128, 127),
        weights_out: r.sparse_i8(oen * no, 50, -128, 127),
        dash_mem: (0..nh).map(|_| r.range(0, 15) as u8).collect(),
        dash_syn: (0..nh).map(|_| r.range(0, 15) as u8).collect(),
        dash_syn_2: (0..nh).map(|_| r.range(0, 15) as u8).collect(),
        dash_mem_out: (0..no).map(|_| r.range(0, 15) as u8).collect(),
        dash_syn_out: (0..no).map(|_| r.range(0, 15) as u8).collect(),
        threshold,
        threshold_out: (0..no).map(|_| r.range(1, 30000) as i16).collect(),
        bias: (0..nh).map(|_| if r.range(0, 3) == 0 { r.range(-500, 500) as i16 } else { 0 }).collect(),
        bias_out: (0..no).map(|_| r.range(-50, 50) as i16).collect(),
        weight_shift_in: r.range(0, 7) as i8,
        weight_shift_rec: r.range(0, 7) as i8,
        weight_shift_out: r.range(0, 7) as i8,
        dt: 1e-3,
        lag: 0,
        places: vec![],
    }
}

#[test]
fn random_integer_networks_match_xylosim_word_for_word() {
    let test = "random_integer_networks_match_xylosim_word_for_word";
    let Some(py) = python_or_skip(test) else { return };
    // Xylo Audio 3 (syns65302) runs Xylo IMU's XyloSim: two synapses per neuron in the
    // specification, no second current in the recording; Audio 2's records it.
    let cases = [
        ("syns63300", 1, 60, 16, 40, 30, 1u64, false),
        ("syns63300", 1, 200, 10, 128, 128, 2, false),
        ("syns61201", 2, 80, 8, 80, 80, 3, true),
        ("syns61201", 2, 33, 5, 20, 33, 4, true),
        ("syns65302", 1, 992, 32, 128, 128, 5, false),
        ("syns65302", 2, 90, 20, 60, 90, 6, false),
    ];
    for (chip, ns, nh, no, ien, oen, seed, isyn2) in cases {
        assert_eq!(spikefab::back::xylo::records_isyn2(chip), isyn2, "{chip}");
        let spec = random_spec(seed, ns, nh, no, ien, oen);
        let (n, steps) = (6, 40);
        let mut r = Rng(seed + 100);
        // Event counts up to 40: the chip takes 15 per channel and step.
        let inputs: Vec<u8> =
            (0..n * steps * 16).map(|_| if r.range(0, 2) == 0 { r.range(0, 40) as u8 } else { 0 }).collect();
        let recs: Vec<_> =
            (0..n).map(|i| xylo::run(&spec, &inputs[i * steps * 16..(i + 1) * steps * 16], steps)).collect();
        let expected: Vec<u8> = recs.iter().flat_map(|r| r.out_spikes.iter().copied()).collect();
        let dir = scratch(&format!("xylo-random-{chip}-{seed}"));
        for (name, bytes) in spikefab::back::xylo::files(&spec, chip, n, steps, &inputs, &expected) {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
        let rep = spikefab::flow::xylosim::check(&dir, &py, &recs, isyn2).unwrap();
        assert!(rep.exact(), "{chip} seed {seed}: {:?}", rep.first_differences);
        // The networks do what they are meant to exercise.
        let spikes: u64 = recs.iter().flat_map(|r| &r.spikes).map(|&s| u64::from(s)).sum();
        let saturated =
            recs.iter().flat_map(|r| r.vmem.iter().chain(&r.isyn)).filter(|&&v| v == 32767 || v == -32768).count();
        let many = recs.iter().flat_map(|r| &r.spikes).filter(|&&s| s > 1).count();
        assert!(spikes > 0 && rep.output_spikes > 0, "{chip} seed {seed}: no activity");
        assert!(saturated > 0, "{chip} seed {seed}: nothing saturated");
        assert!(many > 0, "{chip} seed {seed}: no neuron spiked more than once in a step");
        println!("{chip} seed {seed}: {} words exact, {spikes} hidden spikes, {saturated} saturated values", rep.words);
        // In a stream: the same samples back to back as one run, no reset between them, so each
        // starts from the state the previous one left.
        let stream = xylo::run(&spec, &inputs, n * steps);
        let dir = scratch(&format!("xylo-stream-{chip}-{seed}"));
        for (name, bytes) in spikefab::back::xylo::files(&spec, chip, 1, n * steps, &inputs, &stream.out_spikes) {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
        let streamed = spikefab::flow::xylosim::check(&dir, &py, std::slice::from_ref(&stream), isyn2).unwrap();
        assert!(streamed.exact(), "{chip} seed {seed}, in a stream: {:?}", streamed.first_differences);
        let carried =
            (0..n * steps * nh).filter(|&i| stream.vmem[i] != recs[i / (steps * nh)].vmem[i % (steps * nh)]).count();
        assert!(carried > 0, "{chip} seed {seed}: the stream carried no state from one sample to the next");
        println!(
            "{chip} seed {seed} in a stream: {} words exact, {carried} membranes differ from the reset runs",
            streamed.words
        );
    }
}

/// Compiles `model` for `target` with the 450 test digits, XyloSim from `py`: the report and
/// the export folder.
fn compile_for(model: &str, target: &str, out: &std::path::Path, py: &std::path::Path) -> serde_json::Value {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_spikefab"))
        .args([
            "compile",
            model,
            "--inputs",
            "models/xylo_q8/digits16_test_x.npy",
            "--labels",
            "models/digits_test_y.npy",
        ])
        .args(["--target", target, "--json", "-o", out.to_str().unwrap()])
        .current_dir(common::root())
        .env("SPIKEFAB_XYLO_PYTHON", py)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{model} on {target}: {stderr}");
    serde_json::from_slice(&o.stdout).unwrap()
}

/// XyloSim reproduced every recorded value of all 450 samples.
fn assert_xylosim_exact(r: &serde_json::Value, what: &str) {
    let xs = &r["vendor_check"];
    assert_eq!(xs["simulator"], "XyloSim", "{what}");
    assert_eq!(xs["samples"], 450, "{what}");
    assert!(xs["words"].as_u64().unwrap() > 1_000_000, "{what}: {xs}");
    for k in ["output_mismatches", "spike_mismatches", "state_mismatches"] {
        assert_eq!(xs[k], 0, "{what}: {k}: {xs}");
    }
}

/// The Xylo-shaped student: the reference engine reproduces its training forward exactly, and
/// compiled for Xylo IMU and for Xylo Audio 3 it runs in XyloSim (Audio 3's: rockpool's
/// syns65302, loaded without samna) identically to spikefab's simulation of the chip, agreeing
/// with the reference on the class of at least 99% of the test digits. Within both chips'
/// limits, the two specifications are the same bytes.
#[test]
fn xylo_student_compiles_and_xylosim_agrees_word_for_word() {
    let test = "xylo_student_compiles_and_xylosim_agrees_word_for_word";
    let x = "models/xylo_q8/digits16_test_x.npy";
    let (code, _, err) = common::spikefab(&[
        "simulate",
        "models/xylo_q8/xylo_q8.json",
        "--inputs",
        x,
        "--out",
        scratch("xylo-student-ref").join("spikes.npy").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let ours = spikefab::data::read_npy(&scratch_path("xylo-student-ref", "spikes.npy")).unwrap();
    let golden = spikefab::data::read_npy(&common::root().join("models/xylo_q8/golden_spikes.npy")).unwrap();
    assert_eq!(ours.shape, golden.shape);
    let differing = ours.data.iter().zip(&golden.data).filter(|(a, b)| a != b).count();
    assert_eq!(differing, 0, "the reference differs from the training forward");
    let Some(py) = python_or_skip(test) else { return };
    let mut specs = vec![];
    for (target, module) in [("xylo-imu", "syns63300"), ("xylo-audio3", "syns65302")] {
        let out = scratch(&format!("xylo-student-{target}"));
        let r = compile_for("models/xylo_q8/xylo_q8.json", target, &out, &py);
        assert_eq!(r["kind"], "chip");
        assert_xylosim_exact(&r, target);
        let v = &r["verify"];
        assert!(v["class_agreement"].as_f64().unwrap() >= 0.99, "{target}: {v}");
        assert!(v["chip_accuracy"].as_f64().unwrap() >= 0.9, "{target}: {v}");
        assert_eq!(r["layout"]["family"], "xylo");
        assert_eq!(r["layout"]["chip"], module);
        assert_eq!(r["layout"]["lag"], 1);
        assert!(r["notes"].as_array().unwrap().is_empty(), "the student is Xylo-shaped: {}", r["notes"]);
        assert!(r["energy"]["energy_per_inference_j"].as_f64().unwrap() > 0.0);
        let dir = out.join("xylo");
        for f in ["spec.npz", "inputs.npy", "expected_spikes.npy", "run_xylosim.py"] {
            assert!(dir.join(f).exists(), "{target}: {f}");
        }
        let script = std::fs::read_to_string(dir.join("run_xylosim.py")).unwrap();
        assert!(script.contains(&format!("CHIP = \"{module}\"")), "{target}");
        assert_eq!(script.contains("import ast"), module == "syns65302", "{target}: the bare chip package");
        // The inputs as fed to the chip: N x (T + lag) x 16 event counts of at most 15.
        let fed = spikefab::data::read_npy(&dir.join("inputs.npy")).unwrap();
        assert_eq!(fed.shape, vec![450, 9, 16]);
        assert!(fed.data.iter().all(|&v| (0.0..=15.0).contains(&v)));
        let files = ["spec.npz", "inputs.npy", "expected_spikes.npy"].map(|f| std::fs::read(dir.join(f)).unwrap());
        specs.push(files);
    }
    assert!(specs[0] == specs[1], "the student's export differs between Xylo IMU and Xylo Audio 3");
}

/// A 16-input ensemble on Xylo Audio 3: the student's 128 hidden neurons as two parallel
/// branches of 64 whose readouts sum into one output layer. It computes what the student
/// computes; Xylo's quantiser legalises it into the student's one chain (saying so in its
/// notes), so Xylo Audio 3 places it as the student: the same specification, the same spikes,
/// and XyloSim agrees.
#[test]
fn a_16_input_ensemble_runs_on_xylo_audio3_as_the_student() {
    let test = "a_16_input_ensemble_runs_on_xylo_audio3_as_the_student";
    let dir = scratch("xylo-ensemble");
    let student: serde_json::Value =
        serde_json::from_slice(&std::fs::read(common::root().join("models/xylo_q8/xylo_q8.json")).unwrap()).unwrap();
    let ensemble = dir.join("ensemble.json");
    std::fs::write(&ensemble, serde_json::to_vec_pretty(&split_student(&student)).unwrap()).unwrap();
    let x = "models/xylo_q8/digits16_test_x.npy";
    // The reference: the ensemble's spikes are the student's, to the last one.
    let spikes = dir.join("spikes.npy");
    let (code, _, err) =
        common::spikefab(&["simulate", ensemble.to_str().unwrap(), "--inputs", x, "--out", spikes.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let ours = spikefab::data::read_npy(&spikes).unwrap();
    let golden = spikefab::data::read_npy(&common::root().join("models/xylo_q8/golden_spikes.npy")).unwrap();
    assert_eq!((ours.shape.clone(), ours.data == golden.data), (golden.shape.clone(), true));
    let Some(py) = python_or_skip(test) else { return };
    let out = dir.join("ensemble");
    let r = compile_for(ensemble.to_str().unwrap(), "xylo-audio3", &out, &py);
    assert_xylosim_exact(&r, "the ensemble");
    let places: Vec<(&str, u64)> = r["layout"]["places"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["population"].as_str().unwrap(), p["first"].as_u64().unwrap()))
        .collect();
    assert_eq!(places, [("hidden", 0), ("output", 0)]);
    // The legalisation is the back end's pass phase: a pass record, not a chip note.
    let notes = r["notes"].as_array().unwrap();
    assert!(notes.iter().all(|n| !n.as_str().unwrap().contains("legalise")), "{notes:?}");
    let merge: Vec<_> = r["passes"].as_array().unwrap().iter().filter(|p| p["pass"] == "merge-branches").collect();
    assert!(merge.len() == 1 && !merge[0]["changes"].as_array().unwrap().is_empty(), "{}", r["passes"]);
    let student_out = dir.join("student");
    let s = compile_for("models/xylo_q8/xylo_q8.json", "xylo-audio3", &student_out, &py);
    for f in ["spec.npz", "expected_spikes.npy"] {
        let a = std::fs::read(out.join("xylo").join(f)).unwrap();
        let b = std::fs::read(student_out.join("xylo").join(f)).unwrap();
        assert!(a == b, "{f}: the ensemble is not placed as the student");
    }
    assert_eq!(r["verify"]["chip_accuracy"], s["verify"]["chip_accuracy"]);
}

/// Rows `rows` of an `(out, in)` tensor, or columns `cols`, as a new tensor; `None` keeps all.
fn slice_tensor(
    t: &serde_json::Value,
    rows: Option<(usize, usize)>,
    cols: Option<(usize, usize)>,
) -> serde_json::Value {
    let shape: Vec<usize> = t["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
    let data = t["data"].as_array().unwrap();
    let (nr, nc) = if shape.len() == 2 { (shape[0], shape[1]) } else { (shape[0], 1) };
    let (r0, r1) = rows.unwrap_or((0, nr));
    let (c0, c1) = cols.unwrap_or((0, nc));
    let mut v = vec![];
    for r in r0..r1 {
        for c in c0..c1 {
            v.push(data[r * nc + c].clone());
        }
    }
    let shape = if shape.len() == 2 { serde_json::json!([r1 - r0, c1 - c0]) } else { serde_json::json!([r1 - r0]) };
    serde_json::json!({"dtype": t["dtype"], "shape": shape, "data": v})
}

/// A node of the student's graph by name.
fn node<'a>(g: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    g["nodes"].as_array().unwrap().iter().find(|n| n["name"] == name).unwrap_or_else(|| panic!("no node {name}"))
}

/// The student's neurons `lo..hi` of `lif1` as a node of its own.
fn lif_slice(g: &serde_json::Value, name: &str, lo: usize, hi: usize) -> serde_json::Value {
    let mut n = node(g, "lif1").clone();
    n["name"] = name.into();
    for (_, v) in n["op"].as_object_mut().unwrap().iter_mut() {
        if v.get("shape").is_some() {
            *v = slice_tensor(v, Some((lo, hi)), None);
        }
    }
    n
}

/// The student as two branches: hidden neurons 0..64 and 64..128, each with its rows of `fc1`
/// and its columns of `fc2`, both read out by `lif2`.
fn split_student(g: &serde_json::Value) -> serde_json::Value {
    let mut out = g.clone();
    let (fc1, fc2) = (&node(g, "fc1")["op"]["weight"], &node(g, "fc2")["op"]["weight"]);
    let mut nodes: Vec<serde_json::Value> = ["input", "lif2", "output"].iter().map(|n| node(g, n).clone()).collect();
    for (b, lo, hi) in [("a", 0, 64), ("b", 64, 128)] {
        let fc = |name: String, w: serde_json::Value| serde_json::json!({"name": name, "op": {"type": "Linear", "weight": w}});
        nodes.push(fc(format!("fc1{b}"), slice_tensor(fc1, Some((lo, hi)), None)));
        nodes.push(lif_slice(g, &format!("lif1{b}"), lo, hi));
        nodes.push(fc(format!("fc2{b}"), slice_tensor(fc2, None, Some((lo, hi)))));
    }
    out["nodes"] = nodes.into();
    out["edges"] = serde_json::json!([
        ["input", "fc1a"],
        ["fc1a", "lif1a"],
        ["lif1a", "fc2a"],
        ["fc2a", "lif2"],
        ["input", "fc1b"],
        ["fc1b", "lif1b"],
        ["lif1b", "fc2b"],
        ["fc2b", "lif2"],
        ["lif2", "output"]
    ]);
    out
}

fn scratch_path(name: &str, file: &str) -> std::path::PathBuf {
    common::root().join("target").join("test-scratch").join(name).join(file)
}

/// Models that do not fit are refused, naming the limit and the model's figure.
#[test]
fn xylo_limits_are_enforced_with_the_figures() {
    let cases: &[(&[&str], i32, &str)] = &[
        (
            &[
                "models/mlp_bw/mlp_bw.nir",
                "--from",
                "snntorch",
                "-T",
                "8",
                "--inputs",
                "models/digits_test_x.npy",
                "--target",
                "xylo-imu",
            ],
            1,
            "64 input channels; xylo-imu has 16",
        ),
        (
            &[
                "models/mlp_bw/mlp_bw.nir",
                "--from",
                "snntorch",
                "-T",
                "8",
                "--inputs",
                "models/digits_test_x.npy",
                "--target",
                "xylo-audio3",
            ],
            1,
            "64 input channels; xylo-audio3 has 16",
        ),
        (
            &[
                "models/xylo_q8/xylo_q8.json",
                "--inputs",
                "models/xylo_q8/digits16_test_x.npy",
                "--target",
                "xylo-audio2",
            ],
            1,
            "10 output neurons; xylo-audio2 has 8",
        ),
        (
            &[
                "models/xylo_q8/xylo_q8.json",
                "--inputs",
                "models/xylo_q8/digits16_test_x.npy",
                "--target",
                "xylo-imu",
                "--bitstream",
            ],
            2,
            "--bitstream, --report and --backend are for FPGA and ASIC targets",
        ),
    ];
    for (args, code, want) in cases {
        let out = scratch("xylo-limits");
        let mut a = vec!["compile"];
        a.extend(args.iter());
        a.extend(["-o", out.to_str().unwrap()]);
        let (c, _, err) = common::spikefab(&a);
        assert_eq!(c, *code, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: expected '{want}': {err}");
    }
    // A target naming a rockpool module whose XyloSim is not the v2 core spikefab models
    // (syns61300, Xylo Audio 1, runs xylosim's v1 core) is refused before anything is written.
    let dir = scratch("xylo-v1-module");
    let toml = std::fs::read_to_string(common::root().join("targets/xylo-audio3.toml")).unwrap();
    let toml = toml.replace("vendor_module = \"syns65302\"", "vendor_module = \"syns61300\"");
    assert!(toml.contains("syns61300"));
    let path = dir.join("xylo-v1.toml");
    std::fs::write(&path, toml).unwrap();
    let (c, _, err) = common::spikefab(&[
        "compile",
        "models/xylo_q8/xylo_q8.json",
        "--inputs",
        "models/xylo_q8/digits16_test_x.npy",
        "--target",
        path.to_str().unwrap(),
        "-o",
        dir.join("o").to_str().unwrap(),
    ]);
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("chip.vendor_module 'syns61300' is not a rockpool 3.1.0 Xylo module"), "{err}");
    assert!(err.contains("(known: syns63300, syns61201, syns65302)"), "{err}");
    assert!(!dir.join("o").join("xylo").exists());
    // Real-valued inputs need an explicit event encoding.
    let dir = scratch("xylo-real-inputs");
    let a = spikefab::data::read_npy(&common::root().join("models/xylo_q8/digits16_test_x.npy")).unwrap();
    let real: Vec<f32> = a.data.iter().take(16 * 8 * 20).map(|&v| (v / 3.0) as f32).collect();
    let path = dir.join("x.npy");
    {
        use npyz::WriterBuilder;
        let f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let mut w = npyz::WriteOptions::<f32>::new().default_dtype().shape(&[20, 8, 16]).writer(f).begin_nd().unwrap();
        w.extend(real.iter().copied()).unwrap();
        w.finish().unwrap();
    }
    let base = ["compile", "models/xylo_q8/xylo_q8.json", "--inputs", path.to_str().unwrap(), "--target", "xylo-imu"];
    let (c, _, err) = common::spikefab(&[&base[..], &["-o", dir.join("o").to_str().unwrap()]].concat());
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("give --input-scale"), "{err}");
    let (c, out, err) = common::spikefab(
        &[&base[..], &["--input-scale", "0.3333", "--min-agreement", "0", "-o", dir.join("o").to_str().unwrap()]]
            .concat(),
    );
    assert_eq!(c, 0, "{err}");
    assert!(out.contains("round(x / 0.3333) events"), "{out}");
}
