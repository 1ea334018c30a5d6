//! Loihi: spikefab's simulation of Loihi's CUBA arithmetic against Lava's fixed-point
//! simulator (`Loihi2SimCfg(select_tag="fixed_pt")`) running the netx export, value for value
//! (output spikes, u and v of every neuron at every step), on random dense and conv networks and
//! on a compiled trained student; and netx's limits refused with their figures.

mod common;

use common::scratch;
use spikefab::chip::loihi::{ConvGeom, NetxLayer, NetxNet, netx_dense};
use spikefab::sim::loihi;

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
    fn pick(&mut self, v: &[i64]) -> i64 {
        v[(self.next() % v.len() as u64) as usize]
    }
}

fn python_or_skip(test: &str) -> Option<std::path::PathBuf> {
    match spikefab::flow::lava::python() {
        Some(p) => Some(p),
        None if std::env::var_os("CI").is_some() => {
            panic!("{test}: Lava is required in CI (SPIKEFAB_LAVA_PYTHON with lava-nc 0.10.0 and lava-dl 0.6.0)")
        }
        None => {
            eprintln!("SKIPPED {test}: no Python with Lava (set SPIKEFAB_LAVA_PYTHON)");
            None
        }
    }
}

/// A layer with random decays (the edges 0 and 4096 included), threshold and biases.
fn layer(
    r: &mut Rng,
    name: &str,
    shape: [usize; 3],
    weights: Vec<i64>,
    in_features: usize,
    conv: Option<ConvGeom>,
) -> NetxLayer {
    let n: usize = shape.iter().product();
    let (effective, weight_exp) = match conv {
        None => netx_dense(&weights).unwrap(),
        Some(_) => (weights.clone(), 0),
    };
    let pos = shape[1] * shape[2];
    let per_channel: Vec<i64> = (0..shape[0]).map(|_| r.range(-60, 60)).collect();
    let (ri, rv) = (r.range(0, 4096), r.range(0, 4096));
    NetxLayer {
        name: name.into(),
        shape,
        flatten_before: false,
        in_features,
        weights,
        effective,
        weight_exp,
        bias: (0..n).map(|i| per_channel[i / pos]).collect(),
        i_decay: r.pick(&[0, 1, 409, 1024, 2048, 4095, 4096, ri]),
        v_decay: r.pick(&[0, 1, 128, 512, 1024, 4095, 4096, rv]),
        vth: r.range(20, 600),
        conv,
    }
}

fn dense_weights(r: &mut Rng, out: usize, inp: usize, lo: i64, hi: i64) -> Vec<i64> {
    (0..out * inp).map(|_| r.range(lo, hi)).collect()
}

/// Random networks: mixed, small (a negative netx exponent), one-signed and large-sum dense
/// layers (u wraps, v clips), graded inputs, and a strided, padded convolution with flatten.
fn random_nets(seed: u64) -> Vec<(String, NetxNet, u8)> {
    let mut r = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut nets = vec![];
    let net = |input_shape: Vec<usize>, bits: u32, layers: Vec<NetxLayer>| NetxNet {
        model: "random".into(),
        input_shape,
        input_bits: bits,
        lag: layers.len(),
        cores: layers.len(),
        layers,
    };
    let (a, b) = (dense_weights(&mut r, 16, 20, -127, 127), dense_weights(&mut r, 10, 16, -127, 127));
    let l = vec![layer(&mut r, "d1", [16, 1, 1], a, 20, None), layer(&mut r, "d2", [10, 1, 1], b, 16, None)];
    nets.push(("dense mixed int8, unary".into(), net(vec![20], 1, l), 1));
    let (a, b) = (dense_weights(&mut r, 16, 20, -6, 6), dense_weights(&mut r, 10, 16, 0, 127));
    let mut l = vec![layer(&mut r, "d1", [16, 1, 1], a, 20, None), layer(&mut r, "d2", [10, 1, 1], b, 16, None)];
    l[0].vth = r.range(2, 20);
    nets.push(("dense small weights then excitatory, graded 5-bit".into(), net(vec![20], 5, l), 31));
    let (a, b) = (dense_weights(&mut r, 12, 60, -127, -100), dense_weights(&mut r, 8, 12, -127, 127));
    let mut l = vec![layer(&mut r, "d1", [12, 1, 1], a, 60, None), layer(&mut r, "d2", [8, 1, 1], b, 12, None)];
    (l[0].i_decay, l[0].v_decay, l[0].vth) = (0, 0, (1 << 17) - 1);
    l[0].bias = vec![-4000; 12];
    nets.push((
        "dense large inhibitory sums, iDecay 0: u wraps, v clips, graded 8-bit".into(),
        net(vec![60], 8, l),
        255,
    ));
    // conv 3x3 (2 -> 4, 6x5, stride (2, 1), pad (1, 0), dilation 1), flatten, dense.
    let cw: Vec<i64> = (0..4 * 2 * 3 * 3).map(|_| r.range(-127, 127)).collect();
    let g =
        ConvGeom { in_shape: [2, 6, 5], kernel: [3, 3], stride: [2, 1], padding: [1, 0], dilation: [1, 1], groups: 1 };
    let c = layer(&mut r, "c1", [4, 3, 3], cw, 60, Some(g));
    let dw = dense_weights(&mut r, 10, 36, -127, 127);
    let mut d = layer(&mut r, "d2", [10, 1, 1], dw, 36, None);
    d.flatten_before = true;
    nets.push(("conv3x3 stride (2,1) pad (1,0) + flatten + dense".into(), net(vec![2, 6, 5], 1, vec![c, d]), 1));
    // grouped, dilated conv 2x2 (4 -> 4, groups 2, dilation 2), then a second conv.
    let cw: Vec<i64> = (0..4 * 2 * 2 * 2).map(|_| r.range(-127, 127)).collect();
    let g =
        ConvGeom { in_shape: [4, 5, 5], kernel: [2, 2], stride: [1, 1], padding: [1, 1], dilation: [2, 2], groups: 2 };
    let c1 = layer(&mut r, "c1", [4, 5, 5], cw, 100, Some(g));
    let cw: Vec<i64> = (0..3 * 4 * 3 * 3).map(|_| r.range(-127, 127)).collect();
    let g =
        ConvGeom { in_shape: [4, 5, 5], kernel: [3, 3], stride: [2, 2], padding: [0, 0], dilation: [1, 1], groups: 1 };
    let c2 = layer(&mut r, "c2", [3, 2, 2], cw, 100, Some(g));
    nets.push(("grouped dilated conv + strided conv, graded 3-bit".into(), net(vec![4, 5, 5], 3, vec![c1, c2]), 7));
    nets
}

/// Every random network runs in Lava exactly as spikefab simulates it: every output spike and
/// every u and v of every neuron at every step.
#[test]
fn random_dense_and_conv_networks_match_lava_bit_for_bit() {
    let test = "random_dense_and_conv_networks_match_lava_bit_for_bit";
    let Some(py) = python_or_skip(test) else { return };
    let (n, t) = (3usize, 12usize);
    for (k, (label, net, max)) in random_nets(7).into_iter().enumerate() {
        let mut r = Rng(1000 + k as u64);
        let nin = net.input_numel();
        let ts = t + net.lag;
        let mut inputs = vec![0u8; n * ts * nin];
        for i in 0..n {
            for s in 0..t {
                for c in 0..nin {
                    if r.range(0, 99) < 35 {
                        inputs[(i * ts + s) * nin + c] = r.range(1, i64::from(max)) as u8;
                    }
                }
            }
        }
        let recs = loihi::run_batch(&net, &inputs, n, ts);
        let spikes: usize = recs.iter().map(|r| r.spikes.iter().flatten().filter(|&&s| s > 0).count()).sum();
        assert!(spikes > 0, "{label}: no neuron spiked; the case tests nothing");
        if label.contains("wraps") {
            // Negative weights, positive inputs: a positive u is a wrap, v at -(2^23 - 1) a clip.
            assert!(recs.iter().any(|r| r.u[0].iter().any(|&u| u > 0)), "{label}: u never wrapped");
            assert!(recs.iter().any(|r| r.v[0].contains(&(1 - (1 << 23)))), "{label}: v never clipped");
        }
        let expected: Vec<u8> = recs.iter().flat_map(|r| r.out_spikes.iter().copied()).collect();
        let dir = scratch(&format!("loihi-random-{k}"));
        for (name, bytes) in spikefab::back::loihi::files(&net, n, ts, &inputs, &expected).unwrap() {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
        let rep = spikefab::flow::lava::check(&dir, &py, &recs).unwrap();
        eprintln!(
            "{label}: {} values ({} output spikes), {} output and {} state mismatches, {spikes} spikes",
            rep.words, rep.output_words, rep.output_mismatches, rep.state_mismatches
        );
        assert!(rep.exact(), "{label}: {:?}", rep.first_differences);
        let per_sample: usize = net.layers.iter().map(|l| 2 * l.neurons()).sum::<usize>() + net.outputs();
        assert_eq!(rep.words, n * ts * per_sample, "{label}");
    }
}

/// With netx's periodic reset every sample's aligned outputs are its own: the same whether it
/// runs alone or after other samples.
#[test]
fn samples_are_independent_after_the_reset() {
    for (label, net, max) in random_nets(11) {
        let (n, t) = (3usize, 9usize);
        let ts = t + net.lag;
        let nin = net.input_numel();
        let mut r = Rng(99);
        let inputs: Vec<u8> = (0..n * ts * nin)
            .map(|e| if (e / nin) % ts < t && r.range(0, 99) < 40 { r.range(1, i64::from(max)) as u8 } else { 0 })
            .collect();
        let batch = loihi::run_batch(&net, &inputs, n, ts);
        let no = net.outputs();
        let mut compared = 0;
        for (i, rec) in batch.iter().enumerate() {
            let alone = loihi::run_batch(&net, &inputs[i * ts * nin..(i + 1) * ts * nin], 1, ts);
            assert_eq!(rec.out_spikes[net.lag * no..], alone[0].out_spikes[net.lag * no..], "{label}: sample {i}");
            compared += 1;
        }
        assert_eq!(compared, n);
    }
}

/// A spike crosses one layer per step: the output of `D` pass-through layers answers an input
/// spike `D` steps later, which is the lag compile aligns by.
#[test]
fn each_layer_adds_one_step() {
    for depth in 1..=3usize {
        let eye: Vec<i64> = (0..16).map(|e| if e % 5 == 0 { 100 } else { 0 }).collect();
        let layers: Vec<NetxLayer> = (0..depth)
            .map(|k| {
                let (effective, weight_exp) = netx_dense(&eye).unwrap();
                NetxLayer {
                    name: format!("l{k}"),
                    shape: [4, 1, 1],
                    conv: None,
                    flatten_before: false,
                    in_features: 4,
                    weights: eye.clone(),
                    effective,
                    weight_exp,
                    bias: vec![0; 4],
                    i_decay: 4096,
                    v_decay: 4096,
                    vth: 50,
                }
            })
            .collect();
        let net =
            NetxNet { model: "eye".into(), input_shape: vec![4], input_bits: 1, lag: depth, cores: depth, layers };
        let mut x = vec![0u8; 12 * 4];
        x[3 * 4] = 1;
        let r = loihi::run(&net, &x, 12);
        let at: Vec<usize> = (0..12).filter(|&t| r.out_spikes[t * 4] == 1).collect();
        assert_eq!(at, vec![3 + depth], "depth {depth}");
    }
}

/// The trained binary-weight MLP student compiled for loihi2: the export runs in Lava exactly
/// as spikefab simulates it, and the chip model's accuracy is measured against the float model.
#[test]
fn trained_student_compiles_and_lava_agrees_bit_for_bit() {
    let test = "trained_student_compiles_and_lava_agrees_bit_for_bit";
    let Some(py) = python_or_skip(test) else { return };
    let out = scratch("loihi-student");
    // All samples run in one Lava run (about 0.1 s per sample after a few seconds of setup).
    let x = spikefab::data::read_npy(&common::root().join("models/digits_test_x.npy")).unwrap();
    let (n, numel) = (40usize, x.shape[1]);
    let xs = out.join("x.npy");
    let mut f = std::fs::File::create(&xs).unwrap();
    {
        use npyz::WriterBuilder;
        let mut w = npyz::WriteOptions::<u8>::new()
            .default_dtype()
            .shape(&[n as u64, numel as u64])
            .writer(&mut f)
            .begin_nd()
            .unwrap();
        w.extend(x.data[..n * numel].iter().map(|&v| v as u8)).unwrap();
        w.finish().unwrap();
    }
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_spikefab"))
        .args(["compile", "models/mlp_bw/mlp_bw.nir", "--from", "snntorch", "--timesteps", "8", "--dt", "0.0001"])
        .args(["--inputs", xs.to_str().unwrap(), "--target", "loihi2", "--min-agreement", "0", "--json"])
        .args(["-o", out.join("o").to_str().unwrap()])
        .current_dir(common::root())
        .env("SPIKEFAB_LAVA_PYTHON", &py)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["kind"], "chip");
    let lava = &r["vendor_check"];
    assert_eq!(lava["simulator"], "Lava");
    assert_eq!(lava["samples"], n);
    assert_eq!(lava["steps"], 10, "T = 8 plus one step per layer");
    // 10 steps x (10 outputs + u and v of 138 neurons) per sample.
    assert_eq!(lava["words"], n * 10 * (10 + 2 * 138), "{lava}");
    assert_eq!(lava["output_mismatches"], 0, "{lava}");
    assert_eq!(lava["state_mismatches"], 0, "{lava}");
    assert!(lava["output_spikes"].as_u64().unwrap() > 0);
    let notes = r["notes"].as_array().unwrap();
    assert!(notes.iter().any(|n| n.as_str().unwrap().contains("zero")), "the reset mismatch is said: {notes:?}");
    assert!(r["energy"]["energy_per_inference_j"].as_f64().unwrap() > 0.0);
    let dir = out.join("o/loihi");
    for f in ["network.net", "inputs.npy", "expected_spikes.npy", "run_lava.py"] {
        assert!(dir.join(f).exists(), "{f}");
    }
    let fed = spikefab::data::read_npy(&dir.join("inputs.npy")).unwrap();
    assert_eq!(fed.shape, vec![n, 10, 64]);
    // The script runs on its own and agrees with the expected spikes.
    let s = std::process::Command::new(&py).arg(dir.join("run_lava.py")).args(["--samples", "1"]).output().unwrap();
    assert!(s.status.success(), "{}", String::from_utf8_lossy(&s.stderr));
}

/// netx's limits, each refused with the figure at fault.
#[test]
fn loihi_limits_are_refused_with_their_figures() {
    let out = scratch("loihi-limits");
    let o = out.to_str().unwrap();
    // Pooling: netx has no pooling layer.
    let (c, _, err) = common::spikefab(&[
        "compile",
        "models/conv_bw/conv_bw.nir",
        "--from",
        "snntorch",
        "--timesteps",
        "8",
        "--inputs",
        "models/digits_test_x.npy",
        "--target",
        "loihi2",
        "-o",
        o,
    ]);
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("netx") && (err.contains("pool") || err.contains("chain")), "{err}");
    // Real-valued inputs need a scale.
    let xs = out.join("real.npy");
    {
        use npyz::WriterBuilder;
        let mut f = std::fs::File::create(&xs).unwrap();
        let mut w = npyz::WriteOptions::<f32>::new().default_dtype().shape(&[2, 64]).writer(&mut f).begin_nd().unwrap();
        w.extend((0..128).map(|i| i as f32 * 0.37)).unwrap();
        w.finish().unwrap();
    }
    let base = ["compile", "models/mlp_bw/mlp_bw.nir", "--from", "snntorch", "--timesteps", "8", "--target", "loihi2"];
    let (c, _, err) = common::spikefab(&[&base[..], &["--inputs", xs.to_str().unwrap(), "-o", o]].concat());
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("--input-scale"), "{err}");
    // Payloads beyond 8 bits.
    let (c, _, err) = common::spikefab(
        &[&base[..], &["--inputs", "models/digits_test_x.npy", "--input-scale", "0.01", "-o", o]].concat(),
    );
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("1600") && err.contains("8 bits"), "{err}");
    // The energy table is not a code-generation target.
    let (c, _, err) = common::spikefab(
        &["compile", "models/mlp_bw/mlp_bw.nir", "--from", "snntorch", "--timesteps", "8", "--target", "loihi"]
            .iter()
            .copied()
            .chain(["--inputs", "models/digits_test_x.npy", "-o", o])
            .collect::<Vec<_>>(),
    );
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("loihi2"), "{err}");
}

/// Hostile node names and a hostile model file name: the export's Python script parses and
/// runs in Lava exactly, the report parses, no injected command runs and nothing is written
/// outside the output folder.
#[test]
fn hostile_names_in_the_loihi_export() {
    let test = "hostile_names_in_the_loihi_export";
    let base = scratch("loihi-hostile");
    let marker = base.join("MARKER");
    let m = marker.display().to_string();
    let hostile = [
        "a\"\"\"\nimport os; os.system(\"touch {M}\")\n\"\"\"",
        "b'; __import__('os').system('touch {M}'); '",
        "c\\",
        "d\r\n# coding: evil\n",
        "e\u{1b}[2J\u{202e}$(touch {M})",
        "",
    ];
    let json = base.join("plain.json");
    let (c, _, err) =
        common::spikefab(&["convert", "models/mlp_bw/mlp_bw.nir", "--from", "snntorch", "-o", json.to_str().unwrap()]);
    assert_eq!(c, 0, "{err}");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    std::fs::remove_file(&json).unwrap();
    let mut map = std::collections::HashMap::new();
    for (k, n) in v["nodes"].as_array_mut().unwrap().iter_mut().enumerate() {
        let new = format!("{}{k}", hostile[k % hostile.len()].replace("{M}", &m));
        map.insert(n["name"].as_str().unwrap().to_string(), new.clone());
        n["name"] = serde_json::Value::String(new);
    }
    for e in v["edges"].as_array_mut().unwrap() {
        for end in e.as_array_mut().unwrap() {
            *end = serde_json::Value::String(map[end.as_str().unwrap()].clone());
        }
    }
    let work = base.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let file = work.join("m\"\"\"\n`touch MARKER`$(touch MARKER).json");
    std::fs::write(&file, serde_json::to_string(&v).unwrap()).unwrap();
    let x = common::root().join("models/digits_test_x.npy");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_spikefab"));
    cmd.args(["compile", file.to_str().unwrap(), "--timesteps", "4", "--target", "loihi2", "--min-agreement", "0"])
        .args(["--inputs", x.to_str().unwrap(), "-o", "out"])
        .current_dir(&work);
    let py = python_or_skip(test);
    match &py {
        Some(p) => cmd.env("SPIKEFAB_LAVA_PYTHON", p),
        None => cmd.env("SPIKEFAB_LAVA_PYTHON", "/nonexistent"),
    };
    let o = cmd.output().unwrap();
    let (so, se) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "{so}\n{se}");
    if py.is_some() {
        assert!(so.contains("Lava: ") && so.contains(" values identical ("), "{so}");
    }
    for t in [&so, &se] {
        assert!(!t.contains('\u{1b}') && !t.contains('\u{202e}'), "printed control text: {t}");
    }
    let script = std::fs::read_to_string(work.join("out/loihi/run_lava.py")).unwrap();
    // Names are labels: printable ASCII inside string literals, never a line of their own.
    assert!(script.is_ascii());
    assert!(
        !script.lines().any(|l| l.trim_start().starts_with("import os;") || l.trim_start().starts_with("# coding")),
        "a name escaped its string literal"
    );
    if let Some(p) = &py {
        let c = std::process::Command::new(p)
            .args(["-c", "import ast, sys; ast.parse(open(sys.argv[1]).read())"])
            .arg(work.join("out/loihi/run_lava.py"))
            .output()
            .unwrap();
        assert!(c.status.success(), "{}", String::from_utf8_lossy(&c.stderr));
    }
    let report = std::fs::read_to_string(work.join("out/report.json")).unwrap();
    serde_json::from_str::<serde_json::Value>(&report).unwrap();
    assert!(!report.contains('\u{1b}') && !report.contains("\\u001b"), "report.json holds raw control text");
    assert!(!marker.exists(), "an injected command ran");
    assert!(!work.join("MARKER").exists(), "an injected command ran");
}

/// Conv networks through the whole compiler (quantiser, netx layout, export): strided and
/// padded, dilated and grouped convolutions run in Lava exactly as spikefab simulates them and
/// agree with the float model on at least 99% of the output spikes. Per-neuron decays are
/// refused with the layer named.
#[test]
fn conv_models_compile_to_netx_and_run_in_lava_exactly() {
    let test = "conv_models_compile_to_netx_and_run_in_lava_exactly";
    let py = python_or_skip(test);
    for m in ["conv2d_stride2_pad1", "conv2d_valid_dil2_groups2"] {
        let out = scratch(&format!("loihi-{m}"));
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_spikefab"));
        cmd.args(["compile", &format!("tests/data/nir/{m}.nir"), "--dt", "1", "--target", "loihi2", "--json"])
            .args(["--inputs", &format!("tests/data/nir/{m}.inputs.npy"), "--min-agreement", "0"])
            .args(["-o", out.to_str().unwrap()])
            .current_dir(common::root());
        cmd.env("SPIKEFAB_LAVA_PYTHON", py.as_deref().unwrap_or(std::path::Path::new("/nonexistent")));
        let o = cmd.output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{m}: {}", String::from_utf8_lossy(&o.stderr));
        let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(r["layout"]["layers"][0]["kind"], "conv", "{m}");
        let v = &r["verify"];
        assert!(v["output_agreement"].as_f64().unwrap() >= 0.99, "{m}: {v}");
        if py.is_some() {
            let lava = &r["vendor_check"];
            assert!(lava["words"].as_u64().unwrap() > 1000, "{m}: {lava}");
            assert_eq!(lava["output_mismatches"], 0, "{m}: {lava}");
            assert_eq!(lava["state_mismatches"], 0, "{m}: {lava}");
        }
    }
    let (c, _, err) = common::spikefab(&[
        "compile",
        "tests/data/nir/cuba_lif.nir",
        "--dt",
        "1",
        "--target",
        "loihi2",
        "--inputs",
        "tests/data/nir/cuba_lif.inputs.npy",
        "-o",
        scratch("loihi-cuba").to_str().unwrap(),
    ]);
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("'cubalif'") && err.contains("one vDecay per layer"), "{err}");
    let (c, _, err) = common::spikefab(&[
        "compile",
        "tests/data/nir/delay.nir",
        "--dt",
        "1",
        "--target",
        "loihi2",
        "--inputs",
        "tests/data/nir/delay.inputs.npy",
        "-o",
        scratch("loihi-delay").to_str().unwrap(),
    ]);
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("'delay'") && err.contains("62 steps"), "{err}");
}
