//! Loihi: spikefab's simulation of Loihi's CUBA arithmetic against Lava's fixed-point
//! simulator (`Loihi2SimCfg(select_tag="fixed_pt")`) running the netx export, value for value
//! (output spikes, u and v of every neuron at every model step), on random dense and conv
//! networks and on compiled trained students; every sample giving the same answer alone as in
//! the stream (in spikefab's chip model and in Lava), spikefab's accuracy equal to the readout
//! of `run_lava.py`; netx's limits and Loihi 2's cores and chips refused with their figures.

use crate::common;

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
    let why = "no Python with Lava (SPIKEFAB_LAVA_PYTHON with lava-nc 0.10.0 and lava-dl 0.6.0)";
    common::require(spikefab::flow::lava::python().ok_or(why.to_string()), test)
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
        rec: None,
        units: None,
    }
}

/// `l` made recurrent (netx `dense_rec`) with `w_rec` onto itself: the weights Lava uses for
/// both matrices under their shared exponent.
fn with_rec(mut l: NetxLayer, w_rec: Vec<i64>) -> NetxLayer {
    let (eff, eff_rec, exp) = spikefab::chip::loihi::netx_dense_rec(&l.weights, &w_rec).unwrap();
    (l.effective, l.weight_exp) = (eff, exp);
    l.rec = Some(spikefab::chip::loihi::NetxRec { weights: w_rec, effective: eff_rec });
    l
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
        out_group: 1,
        placement: Default::default(),
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
    // Recurrent dense layers (netx dense_rec): mixed recurrence between two plain layers; an
    // inhibitory recurrence whose -64s netx and Lava turn into -63.5 (their sign modes differ
    // from the concatenation's); a recurrent first layer fed by graded inputs.
    let (a, b, c) = (
        dense_weights(&mut r, 12, 16, -127, 127),
        dense_weights(&mut r, 10, 12, -100, 127),
        dense_weights(&mut r, 6, 10, -127, 127),
    );
    let mid = with_rec(layer(&mut r, "r2", [10, 1, 1], b, 12, None), dense_weights(&mut r, 10, 10, -80, 127));
    let l = vec![layer(&mut r, "d1", [12, 1, 1], a, 16, None), mid, layer(&mut r, "d3", [6, 1, 1], c, 10, None)];
    nets.push(("dense, dense_rec (mixed recurrence), dense".into(), net(vec![16], 1, l), 1));
    let (a, b) = (dense_weights(&mut r, 8, 16, -60, 60), dense_weights(&mut r, 5, 8, -127, 127));
    let inh: Vec<i64> = (0..64).map(|e| if e / 8 == e % 8 { 0 } else { -64 }).collect();
    let first = with_rec(layer(&mut r, "r1", [8, 1, 1], a, 16, None), inh);
    let l = vec![first, layer(&mut r, "d2", [5, 1, 1], b, 8, None)];
    nets.push(("dense_rec first (inhibitory -64 recurrence), graded 4-bit".into(), net(vec![16], 4, l), 15));
    nets
}

/// Random inputs: `n` samples of `t` steps, `pct`% of the payloads non-zero (1..=max).
fn random_inputs(r: &mut Rng, n: usize, t: usize, nin: usize, max: u8, pct: i64) -> Vec<u8> {
    (0..n * t * nin).map(|_| if r.range(0, 99) < pct { r.range(1, i64::from(max)) as u8 } else { 0 }).collect()
}

/// Every random network runs in Lava exactly as spikefab simulates it: every output spike and
/// every u and v of every neuron at every model step of every sample; and the samples that
/// `run_lava.py` runs again alone give the output spikes they gave in the stream.
#[test]
fn random_dense_and_conv_networks_match_lava_bit_for_bit() {
    let test = "random_dense_and_conv_networks_match_lava_bit_for_bit";
    let Some(py) = python_or_skip(test) else { return };
    let (n, t) = (3usize, 12usize);
    for (k, (label, net, max)) in random_nets(7).into_iter().enumerate() {
        let mut r = Rng(1000 + k as u64);
        let inputs = random_inputs(&mut r, n, t, net.input_numel(), max, 35);
        let recs = loihi::run_stream(&net, &inputs, n, t);
        let spikes: usize = recs.iter().map(|r| r.spikes.iter().flatten().filter(|&&s| s > 0).count()).sum();
        assert!(spikes > 0, "{label}: no neuron spiked; the case tests nothing");
        if label.contains("wraps") {
            // Negative weights, positive inputs: a positive u is a wrap, v at -(2^23 - 1) a clip.
            assert!(recs.iter().any(|r| r.u[0].iter().any(|&u| u > 0)), "{label}: u never wrapped");
            assert!(recs.iter().any(|r| r.v[0].contains(&(1 - (1 << 23)))), "{label}: v never clipped");
        }
        let expected: Vec<u8> = recs.iter().flat_map(|r| r.out_spikes.iter().copied()).collect();
        let dir = scratch(&format!("loihi-random-{k}"));
        for (name, bytes) in spikefab::back::loihi::files(&net, n, t, &inputs, &expected).unwrap() {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
        let rep = spikefab::flow::lava::check(&dir, &py, &recs).unwrap();
        eprintln!(
            "{label}: {} values ({} output spikes), {} output and {} state mismatches, {spikes} spikes; {:?}",
            rep.words, rep.output_words, rep.output_mismatches, rep.state_mismatches, rep.notes
        );
        assert!(rep.exact(), "{label}: {:?}", rep.first_differences);
        let per_sample: usize = net.layers.iter().map(|l| 2 * l.neurons()).sum::<usize>() + net.outputs();
        assert_eq!(rep.words, n * t * per_sample, "{label}");
        assert_eq!(
            rep.notes,
            vec![format!(
                "alone: 2 of {n} samples run alone in a fresh network: 0 output spikes differ from the stream"
            )],
            "{label}"
        );
    }
}

/// A sample's record (every layer's spikes, u and v over its model steps, its synaptic events)
/// is the same whether it runs alone or in a stream after other samples, in any order, also
/// when a sample has fewer steps than the network has layers (T = 1, 2).
#[test]
fn a_sample_gives_the_same_record_alone_and_after_others() {
    for (label, net, max) in random_nets(11) {
        let nin = net.input_numel();
        let (mut spikes, mut wrapped) = (0, false);
        for t in [1usize, 2, 9] {
            let n = 4usize;
            let mut r = Rng(99 + t as u64);
            let inputs = random_inputs(&mut r, n, t, nin, max, 40);
            let stream = loihi::run_stream(&net, &inputs, n, t);
            assert_eq!(stream.len(), n);
            let reversed: Vec<u8> =
                (0..n).rev().flat_map(|i| inputs[i * t * nin..(i + 1) * t * nin].to_vec()).collect();
            let back = loihi::run_stream(&net, &reversed, n, t);
            let mut charged = 0;
            for (i, rec) in stream.iter().enumerate() {
                assert_eq!(rec.steps, t);
                assert_eq!(rec.out_spikes.len(), t * net.outputs(), "{label}: T = {t}");
                let alone = loihi::run_stream(&net, &inputs[i * t * nin..(i + 1) * t * nin], 1, t);
                assert_eq!(rec, &alone[0], "{label}: T = {t}, sample {i} alone");
                assert_eq!(rec, &back[n - 1 - i], "{label}: T = {t}, sample {i} in reversed order");
                spikes += rec.spikes.iter().flatten().filter(|&&s| s > 0).count();
                charged += rec.u.iter().flatten().filter(|&&u| u != 0).count();
            }
            assert!(charged > 0, "{label}: T = {t}: no current; the case tests nothing");
            if label.contains("wraps") {
                // Inhibitory sums on positive inputs: a positive u is a wrap.
                wrapped |= stream.iter().any(|r| r.u[0].iter().any(|&u| u > 0));
            }
        }
        if label.contains("wraps") {
            assert!(wrapped, "{label}: u never wrapped; the case tests nothing");
        } else {
            assert!(spikes > 0, "{label}: no neuron spiked; the case tests nothing");
        }
    }
}

/// Without the periodic reset the same samples do depend on what ran before: the reset is
/// what makes them independent (the test above is not vacuous).
#[test]
fn without_the_reset_a_sample_depends_on_the_one_before() {
    let (label, net, max) = random_nets(11).into_iter().next().unwrap();
    let (n, t) = (2usize, 9usize);
    let nin = net.input_numel();
    let mut r = Rng(5);
    let inputs = random_inputs(&mut r, n, t, nin, max, 40);
    let d = net.lag;
    let mut padded = vec![0u8; (2 * t + d) * nin];
    padded[..2 * t * nin].copy_from_slice(&inputs);
    let joint = loihi::run(&net, &padded, 2 * t + d);
    let alone = loihi::run_stream(&net, &inputs[t * nin..], 1, t);
    let no = net.outputs();
    let second = &joint.out_spikes[(t + d) * no..(2 * t + d) * no];
    assert_ne!(second, &alone[0].out_spikes[..], "{label}: the second sample never saw the first");
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
                    rec: None,
                    units: None,
                }
            })
            .collect();
        let net = NetxNet {
            model: "eye".into(),
            input_shape: vec![4],
            input_bits: 1,
            lag: depth,
            out_group: 1,
            placement: Default::default(),
            layers,
        };
        let mut x = vec![0u8; 12 * 4];
        x[3 * 4] = 1;
        let r = loihi::run(&net, &x, 12);
        let at: Vec<usize> = (0..12).filter(|&t| r.out_spikes[t * 4] == 1).collect();
        assert_eq!(at, vec![3 + depth], "depth {depth}");
    }
}

/// The first `n` rows of the `.npy` file `src` (under the repository) written to `dst`, as
/// uint8 (inputs) or int64 (labels).
fn first_rows(src: &str, n: usize, dst: &std::path::Path, labels: bool) {
    use npyz::WriterBuilder;
    let x = spikefab::data::read_npy(&common::root().join(src)).unwrap();
    let mut shape: Vec<u64> = x.shape.iter().map(|&d| d as u64).collect();
    shape[0] = n as u64;
    let numel: usize = x.shape[1..].iter().product();
    let mut f = std::fs::File::create(dst).unwrap();
    if labels {
        let mut w = npyz::WriteOptions::<i64>::new().default_dtype().shape(&shape).writer(&mut f).begin_nd().unwrap();
        w.extend(x.data[..n * numel].iter().map(|&v| v as i64)).unwrap();
        w.finish().unwrap();
    } else {
        let mut w = npyz::WriteOptions::<u8>::new().default_dtype().shape(&shape).writer(&mut f).begin_nd().unwrap();
        w.extend(x.data[..n * numel].iter().map(|&v| v as u8)).unwrap();
        w.finish().unwrap();
    }
}

/// `spikefab compile ... --json` run from the repository's root: the report.
fn compile_json(args: &[&str], py: &std::path::Path) -> serde_json::Value {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_spikefab"))
        .arg("compile")
        .args(args)
        .args(["--min-agreement", "0", "--json"])
        .current_dir(common::root())
        .env("SPIKEFAB_LAVA_PYTHON", py)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The binary-weight MLP students (mlp_bw, T = 8, and mlp_bw_t4, T = 4) on every test sample:
/// the export runs in Lava, all samples in one stream, exactly as spikefab simulates it (every
/// output spike, every u and v of every model step), and the chip model's accuracy is measured
/// against the float model. (ensemble_bw and conv_bw, legalised: tests/legalise.rs.)
#[test]
fn trained_students_compile_and_lava_agrees_bit_for_bit_on_every_test_sample() {
    let test = "trained_students_compile_and_lava_agrees_bit_for_bit_on_every_test_sample";
    let Some(py) = python_or_skip(test) else { return };
    let n = spikefab::data::read_npy(&common::root().join("models/digits_test_x.npy")).unwrap().shape[0];
    assert_eq!(n, 450, "the bundled test digits");
    for (name, t) in [("mlp_bw", 8usize), ("mlp_bw_t4", 4)] {
        let out = scratch(&format!("loihi-student-{name}"));
        let (model, ts) = (format!("models/{name}/{name}.nir"), t.to_string());
        let r = compile_json(
            &[
                &model,
                "--from",
                "snntorch",
                "--timesteps",
                &ts,
                "--dt",
                "0.0001",
                "--inputs",
                "models/digits_test_x.npy",
                "--labels",
                "models/digits_test_y.npy",
                "--target",
                "loihi2",
                "-o",
                out.join("o").to_str().unwrap(),
            ],
            &py,
        );
        assert_eq!(r["kind"], "chip");
        assert_eq!(r["chip_steps"], t + 2, "{name}: T plus one step per layer");
        let lava = &r["vendor_check"];
        eprintln!("{name}: {lava}");
        assert_eq!(lava["simulator"], "Lava");
        assert_eq!(lava["samples"], n);
        assert_eq!(lava["steps"], t, "{name}: each sample's model steps");
        // T steps x (10 outputs + u and v of 138 neurons) per sample.
        assert_eq!(lava["words"], n * t * (10 + 2 * 138), "{name}: {lava}");
        assert_eq!(lava["output_mismatches"], 0, "{name}: {lava}");
        assert_eq!(lava["state_mismatches"], 0, "{name}: {lava}");
        assert!(lava["output_spikes"].as_u64().unwrap() > 0);
        assert_eq!(
            lava["notes"][0],
            format!("alone: 2 of {n} samples run alone in a fresh network: 0 output spikes differ from the stream")
        );
        let notes = r["notes"].as_array().unwrap();
        assert!(notes.iter().any(|n| n.as_str().unwrap().contains("zero")), "the reset mismatch is said: {notes:?}");
        assert!(r["energy"]["energy_per_inference_j"].as_f64().unwrap() > 0.0);
        assert!(r["verify"]["chip_accuracy"].as_f64().unwrap() > 0.85, "{name}: {}", r["verify"]);
        let layout = &r["layout"];
        assert_eq!(
            (layout["family"].as_str(), layout["cores"].as_u64(), layout["chips"].as_u64()),
            (Some("loihi"), Some(2), Some(1))
        );
        assert_eq!(layout["layers"][0]["synapses"], 128 * 64, "binary weights: every connection a synapse");
        let dir = out.join("o/loihi");
        for f in ["network.net", "inputs.npy", "expected_spikes.npy", "run_lava.py"] {
            assert!(dir.join(f).exists(), "{f}");
        }
        let fed = spikefab::data::read_npy(&dir.join("inputs.npy")).unwrap();
        assert_eq!(fed.shape, vec![n, t, 64]);
        let expected = spikefab::data::read_npy(&dir.join("expected_spikes.npy")).unwrap();
        assert_eq!(expected.shape, vec![n, t, 10], "model steps only");
    }
}

/// Every sample run alone in a fresh Lava network gives, on its model steps, exactly the output
/// spikes it gave in the stream of all samples (`run_lava.py --alone all`), and the readout of
/// `run_lava.py` (the class of most output spikes over the model steps) has the accuracy
/// spikefab reports for the chip: on the binary-weight MLP student (mlp_bw, T = 8) and on a
/// trained 2-layer CubaLIF
/// network (the Xylo student, 16-128-10 current-based neurons with one decay per layer, as
/// single-spike neurons).
#[test]
fn a_sample_gives_lava_the_same_answer_alone_and_spikefab_the_readout_accuracy() {
    let test = "a_sample_gives_lava_the_same_answer_alone_and_spikefab_the_readout_accuracy";
    let Some(py) = python_or_skip(test) else { return };
    // A binary-weight student (mlp_bw_t4, the same network at T = 4, runs the whole test set in
    // one stream above) and a current-based one, each sample of both run alone in Lava.
    let n = 8usize;
    let cases: [(&str, &[&str], &str); 2] = [
        ("mlp_bw", &["models/mlp_bw/mlp_bw.nir", "--from", "snntorch", "-T", "8"], "models/digits_test_x.npy"),
        ("cuba", &["models/xylo_q8/xylo_q8.json", "--spikes", "single"], "models/xylo_q8/digits16_test_x.npy"),
    ];
    for (name, model, inputs) in cases {
        let out = scratch(&format!("loihi-alone-{name}"));
        let (xs, ys) = (out.join("x.npy"), out.join("y.npy"));
        first_rows(inputs, n, &xs, false);
        first_rows("models/digits_test_y.npy", n, &ys, true);
        let (x, y, o) = (xs.to_str().unwrap(), ys.to_str().unwrap(), out.join("o"));
        let mut args = model.to_vec();
        args.extend(["--inputs", x, "--labels", y, "--target", "loihi2", "-o", o.to_str().unwrap()]);
        let r = compile_json(&args, &py);
        assert_eq!(r["vendor_check"]["output_mismatches"], 0, "{name}: {}", r["vendor_check"]);
        assert_eq!(r["vendor_check"]["state_mismatches"], 0, "{name}: {}", r["vendor_check"]);
        let chip_accuracy = r["verify"]["chip_accuracy"].as_f64().unwrap();
        let s = std::process::Command::new(&py)
            .arg(o.join("loihi/run_lava.py"))
            .args(["--alone", "all", "--labels", y])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&s.stdout);
        assert!(s.status.success(), "{name}: {stdout}{}", String::from_utf8_lossy(&s.stderr));
        let sum: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
        eprintln!("{name}: spikefab's chip accuracy {chip_accuracy}; run_lava.py: {sum}");
        assert_eq!(sum["samples"], n, "{name}");
        assert_eq!(sum["alone_samples"], n, "{name}: every sample run alone");
        assert_eq!(sum["alone_differences"], 0, "{name}: {sum}");
        assert_eq!(sum["mismatching_outputs"], 0, "{name}: {sum}");
        assert!(sum["output_spikes"].as_u64().unwrap() > 0, "{name}: no output spike; the case tests nothing");
        assert_eq!(sum["accuracy"].as_f64(), Some(chip_accuracy), "{name}: the readout's accuracy is spikefab's");
        assert_eq!(sum["correct"].as_f64(), Some((chip_accuracy * n as f64).round()), "{name}");
    }
}

/// netx's limits, each refused with the figure at fault.
#[test]
fn loihi_limits_are_refused_with_their_figures() {
    let out = scratch("loihi-limits");
    let o = out.to_str().unwrap();
    // conv_bw's pooling, once refused here, folds into its dense layer since main's legalisation
    // (tests/legalise.rs compiles it to loihi2).
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

/// `spikefab plan ... --json` for a chip target: (exit code, the report or null, stderr).
fn plan_json(args: &[&str]) -> (i32, serde_json::Value, String) {
    let (c, out, err) = common::spikefab(&[&["plan"], args, &["--json"]].concat());
    (c, serde_json::from_str(&out).unwrap_or(serde_json::Value::Null), err)
}

/// Cores and chips: each layer on cores of its own (at most `neurons_per_core`), cores filled
/// into chips in layer order, a chip's dense synapses at most `synapses_per_chip`; a network
/// needing more chips than the target has is refused (exit 1) naming the layer, the figures and
/// a larger system; the same network maps onto a system of more chips.
#[test]
fn cores_and_chips_against_loihi_2s_limits() {
    let out = scratch("loihi-chips");
    // A Loihi 2 system with small figures: mlp_bw's 128 + 10 neurons take 2 + 1 cores of 100.
    let bundled = std::fs::read_to_string(common::root().join("targets/loihi2.toml")).unwrap();
    let small = |name: &str, chips: u64, syn: u64| {
        let t = bundled
            .replace("name = \"loihi2\"", &format!("name = \"{name}\""))
            .replace("cores = 128", "cores = 2")
            .replace("neurons_per_core = 8192", "neurons_per_core = 100")
            .replace("synapses_per_chip = 120000000", &format!("synapses_per_chip = {syn}"))
            .replace("chips = 1", &format!("chips = {chips}"));
        assert_ne!(t, bundled);
        let p = out.join(format!("{name}.toml"));
        std::fs::write(&p, t).unwrap();
        p.to_str().unwrap().to_string()
    };
    let mlp = ["models/mlp_bw/mlp_bw.nir", "--from", "snntorch", "-T", "8", "--target"];
    let one = small("one-chip", 1, 1_000_000);
    let (c, _, err) = plan_json(&[&mlp[..], &[one.as_str()]].concat());
    assert_eq!(c, 1, "{err}");
    assert!(
        err.contains("does not fit: the network needs 3 cores on 2 chips (up to 100 neurons per core")
            && err.contains("2 cores and up to 1,000,000 synapses of dense layers per chip); one-chip has 1 chip"),
        "{err}"
    );
    let (c, r, err) = plan_json(&[&mlp[..], &[small("two-chips", 2, 1_000_000).as_str()]].concat());
    assert_eq!(c, 0, "{err}");
    let l = &r["layout"];
    assert_eq!(
        (l["cores"].as_u64(), l["chips"].as_u64(), l["system_chips"].as_u64()),
        (Some(3), Some(2), Some(2)),
        "{l}"
    );
    assert_eq!(l["layers"][0]["chips"], serde_json::json!([0, 0]), "{l}");
    assert_eq!(l["layers"][1]["chips"], serde_json::json!([1, 1]), "{l}");
    // Synapses: the first layer's 100 + 28 neurons hold 6,400 + 1,792 synapses (64 inputs, binary
    // weights), the second 1,280.
    let (c, _, err) = plan_json(&[&mlp[..], &[small("few-synapses", 8, 6_000).as_str()]].concat());
    assert_eq!(c, 1, "{err}");
    assert!(
        err.contains("6,400 synapses on one core (100 neurons of up to 64 inputs); a chip holds up to 6,000"),
        "{err}"
    );
    let (c, r, err) = plan_json(&[&mlp[..], &[small("tight", 8, 9_000).as_str()]].concat());
    assert_eq!(c, 0, "{err}");
    let l = &r["layout"];
    assert_eq!((l["cores"].as_u64(), l["chips"].as_u64()), (Some(3), Some(2)), "8,192 + 1,280 > 9,000: {l}");
    assert_eq!(l["layers"][0]["synapses"], 8192, "{l}");
    assert_eq!(l["layers"][1]["chips"], serde_json::json!([1, 1]), "{l}");

    // Loihi 2's own figures: a convolution of 1,049,600 neurons needs 129 cores of 8,192, more
    // than one chip's 128; kapoho-point's 8 chips hold it.
    let tensor = |shape: &[usize], v: f64| serde_json::json!({"dtype": "f32", "shape": shape, "data": vec![v; shape.iter().product()]});
    let g = serde_json::json!({
        "format": "spikefab-graph",
        "version": 1,
        "nodes": [
            {"name": "input", "op": {"type": "Input", "shape": [1, 1025, 1024]}},
            {"name": "conv", "op": {"type": "Conv", "weight": tensor(&[1, 1, 1, 1], 1.0), "bias": tensor(&[1], 0.0),
                "stride": [1, 1], "padding": {"explicit": [0, 0]}, "dilation": [1, 1], "groups": 1,
                "input_shape": null}},
            {"name": "big", "op": {"type": "LIF", "tau": tensor(&[], 2.0), "r": tensor(&[], 2.0),
                "v_leak": tensor(&[], 0.0), "v_threshold": tensor(&[], 0.5), "v_reset": tensor(&[], 0.0)}},
            {"name": "output", "op": {"type": "Output"}}
        ],
        "edges": [["input", "conv"], ["conv", "big"], ["big", "output"]]
    });
    let model = out.join("big.json");
    std::fs::write(&model, g.to_string()).unwrap();
    let big = [model.to_str().unwrap(), "--dt", "1", "-T", "4", "--target"];
    let (c, _, err) = plan_json(&[&big[..], &["loihi2"]].concat());
    assert_eq!(c, 1, "{err}");
    assert!(
        err.contains("layer 'big' does not fit: the network needs 129 cores on 2 chips (up to 8192 neurons per core")
            && err.contains("128 cores and up to 120,000,000 synapses of dense layers per chip); loihi2 has 1 chip")
            && err.contains("a larger system: kapoho-point (8 chips)"),
        "{err}"
    );
    let (c, r, err) = plan_json(&[&big[..], &["kapoho-point"]].concat());
    assert_eq!(c, 0, "{err}");
    let l = &r["layout"];
    assert_eq!(
        (l["cores"].as_u64(), l["chips"].as_u64(), l["system_chips"].as_u64()),
        (Some(129), Some(2), Some(8)),
        "{l}"
    );
    assert_eq!(l["layers"][0]["chips"], serde_json::json!([0, 1]), "{l}");
    assert_eq!(l["layers"][0]["synapses"], 1025 * 1024, "one connection per neuron");
    // The text layout names cores and chips.
    let (c, text, err) = common::spikefab(&[&["plan"], &big[..], &["kapoho-point"]].concat());
    assert_eq!(c, 0, "{err}");
    assert!(text.contains("1 layer on 129 cores of 2 chips (128 per chip, up to 8192 neurons per core"), "{text}");
    assert!(text.contains("the system has 8 chips"), "{text}");
    assert!(text.contains("'big': conv 1049600 neurons on 129 cores (chips 0-1)"), "{text}");
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

/// A recurrent network snnTorch exported (tests/data/frameworks/importers/snntorch_cuba_rec:
/// 12-40-7 CubaLIF, the hidden layer feeding back through `lif1.w_rec`, zero reset) compiles
/// for Loihi 2 as a netx `dense_rec` layer, and Lava reproduces spikefab's chip model on every
/// output spike and every u and v of all 16 samples in one stream, and each sample alone (the
/// host clears the recurrent synapse between samples).
#[test]
fn a_recurrent_snntorch_network_compiles_for_loihi2_and_lava_agrees() {
    let test = "a_recurrent_snntorch_network_compiles_for_loihi2_and_lava_agrees";
    let Some(py) = python_or_skip(test) else { return };
    let out = scratch("loihi-recurrent");
    let d = "tests/data/frameworks/importers/snntorch_cuba_rec";
    let (model, inputs) = (format!("{d}/model.nir"), format!("{d}/inputs.npy"));
    let o = out.join("o");
    let r = compile_json(
        &[
            &model,
            "--from",
            "snntorch",
            "--reset",
            "zero",
            "-T",
            "20",
            "--inputs",
            &inputs,
            "--target",
            "loihi2",
            "-o",
            o.to_str().unwrap(),
        ],
        &py,
    );
    let lava = &r["vendor_check"];
    eprintln!("recurrent CubaLIF: {lava}");
    assert_eq!(lava["samples"], 16);
    // 20 steps x (7 outputs + u and v of 40 + 7 neurons) per sample.
    assert_eq!(lava["words"], 16 * 20 * (7 + 2 * 47), "{lava}");
    assert_eq!((lava["output_mismatches"].as_u64(), lava["state_mismatches"].as_u64()), (Some(0), Some(0)), "{lava}");
    assert!(lava["output_spikes"].as_u64().unwrap() > 0);
    let net = std::fs::read(o.join("loihi/network.net")).unwrap();
    assert!(
        net.windows(9).any(|w| w == b"dense_rec") && net.windows(10).any(|w| w == b"weight_rec"),
        "a dense_rec layer"
    );
    // Every sample alone in a fresh network gives what it gave in the stream.
    let summary = run_alone(&py, &o.join("loihi"));
    assert_eq!(
        (summary["alone_samples"].as_u64(), summary["alone_differences"].as_u64()),
        (Some(16), Some(0)),
        "{summary}"
    );
    assert_eq!(summary["mismatching_outputs"], 0, "{summary}");
    // The float model's own answer (snnTorch's importer with its two bugs fixed, zero reset):
    // the reference engine equals it, and the chip's agreement with it is measured.
    assert!(r["verify"]["output_agreement"].as_f64().unwrap() > 0.8, "{}", r["verify"]);
}

/// The run_lava.py summary of `--alone all` in the export folder `dir`.
fn run_alone(py: &std::path::Path, dir: &std::path::Path) -> serde_json::Value {
    let run = std::process::Command::new(py).args(["run_lava.py", "--alone", "all"]).current_dir(dir).output().unwrap();
    // Its summary is the last line (lava-dl prints a warning on import).
    let text = String::from_utf8_lossy(&run.stdout);
    let summary: serde_json::Value = serde_json::from_str(text.lines().last().unwrap_or("")).unwrap();
    assert!(run.status.success(), "{summary}\n{}", String::from_utf8_lossy(&run.stderr));
    summary
}

/// Sinabs' own exports with multi-spike IF neurons (MultiSpike, subtract reset, min_v_mem)
/// compile for loihi2 with the count intact: each neuron becomes K units of graded thresholds
/// (the Units construction), and Lava's fixed-point run equals spikefab's chip model value for
/// value (outputs as counts, every unit's u and v), all samples in one stream and each alone.
/// The dense network's counts are bounded by range analysis (K 7 and 60); the CNN's second
/// layer could reach 227, beyond what Loihi's threshold range holds, so it compiles with
/// `--spike-cap 8`, which on these inputs changes no output (caps 8, 16 and 64 give the same
/// output counts).
#[test]
fn sinabs_multi_spike_networks_compile_for_loihi2_and_lava_agrees() {
    let test = "sinabs_multi_spike_networks_compile_for_loihi2_and_lava_agrees";
    let Some(py) = python_or_skip(test) else { return };
    let out = scratch("loihi-multi");
    let d = "tests/data/frameworks/importers";
    // The dense network on 8 of its 16 samples (each is also run alone in a fresh network).
    let o = out.join("dense");
    let dense_x = out.join("dense_x.npy");
    first_rows(&format!("{d}/sinabs_if_dense/inputs.npy"), 8, &dense_x, false);
    let r = compile_json(
        &[
            &format!("{d}/sinabs_if_dense/model.nir"),
            "--from",
            "sinabs",
            "-T",
            "10",
            "--inputs",
            dense_x.to_str().unwrap(),
            "--target",
            "loihi2",
            "-o",
            o.to_str().unwrap(),
        ],
        &py,
    );
    let lava = &r["vendor_check"];
    eprintln!("sinabs IF dense: {lava}");
    assert_eq!(lava["samples"], 8);
    assert_eq!((lava["output_mismatches"].as_u64(), lava["state_mismatches"].as_u64()), (Some(0), Some(0)), "{lava}");
    assert!(lava["output_spikes"].as_u64().unwrap() > 0);
    let units = std::fs::read_dir(o.join("loihi"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with("units"));
    assert_eq!(units.count(), 2, "both layers are multi-spike units");
    // Output neurons fire more than once in a step: the count is carried, as the spikes of
    // each neuron's K consecutive units (4 outputs).
    let expected = spikefab::data::read_npy(&o.join("loihi/expected_spikes.npy")).unwrap();
    let k = expected.shape[2] / 4;
    assert!(k > 1 && expected.shape[2] == 4 * k, "{:?}", expected.shape);
    let most = expected.data.chunks(k).map(|u| u.iter().sum::<f64>()).fold(0.0, f64::max);
    assert!(most > 1.0, "the largest output count per step is {most}");
    let notes = r["notes"].to_string();
    assert!(notes.contains("Loihi has no membrane floor"), "{notes}");
    let s = run_alone(&py, &o.join("loihi"));
    assert_eq!((s["alone_samples"].as_u64(), s["alone_differences"].as_u64()), (Some(8), Some(0)), "{s}");
    assert!(r["verify"]["class_agreement"].as_f64().unwrap() >= 0.9, "{}", r["verify"]);

    // The CNN: without a cap its bound is refused, naming the layer, the count and the option.
    let (c, _, err) = common::spikefab(&[
        "compile",
        &format!("{d}/sinabs_cnn/model.nir"),
        "--from",
        "sinabs",
        "-T",
        "10",
        "--inputs",
        &format!("{d}/sinabs_cnn/inputs.npy"),
        "--target",
        "loihi2",
        "-o",
        out.join("refused").to_str().unwrap(),
    ]);
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("iaf2") && err.contains("--spike-cap"), "{err}");
    // With the cap, on 2 samples (Lava runs this CNN at about 5 s a sample, and each runs again
    // alone).
    let xs = out.join("cnn_x.npy");
    first_rows(&format!("{d}/sinabs_cnn/inputs.npy"), 2, &xs, false);
    let o = out.join("cnn");
    let r = compile_json(
        &[
            &format!("{d}/sinabs_cnn/model.nir"),
            "--from",
            "sinabs",
            "-T",
            "10",
            "--inputs",
            xs.to_str().unwrap(),
            "--target",
            "loihi2",
            "--spike-cap",
            "8",
            "-o",
            o.to_str().unwrap(),
        ],
        &py,
    );
    let lava = &r["vendor_check"];
    eprintln!("sinabs CNN: {lava}");
    assert_eq!(lava["samples"], 2);
    assert_eq!((lava["output_mismatches"].as_u64(), lava["state_mismatches"].as_u64()), (Some(0), Some(0)), "{lava}");
    assert!(lava["output_spikes"].as_u64().unwrap() > 0);
    assert!(r["notes"].to_string().contains("--spike-cap 8"), "{}", r["notes"]);
    let s = run_alone(&py, &o.join("loihi"));
    assert_eq!((s["alone_samples"].as_u64(), s["alone_differences"].as_u64()), (Some(2), Some(0)), "{s}");
}

/// `--spike-cap` saturates a chip's counts; targets that carry counts exactly (FPGAs) or have
/// their own rule (Xylo) refuse it rather than ignore it.
#[test]
fn the_spike_cap_is_refused_where_it_would_mean_nothing() {
    let out = scratch("spike-cap-refused");
    let d = "tests/data/frameworks/importers/sinabs_if_dense";
    for target in ["ice40-up5k", "ecp5-85k", "xylo-imu"] {
        let (c, _, err) = common::spikefab(&[
            "compile",
            &format!("{d}/model.nir"),
            "--from",
            "sinabs",
            "-T",
            "10",
            "--inputs",
            &format!("{d}/inputs.npy"),
            "--target",
            target,
            "--spike-cap",
            "4",
            "-o",
            out.to_str().unwrap(),
        ]);
        assert_eq!(c, 2, "{target}: {err}");
        assert!(err.contains("--spike-cap 4"), "{target}: {err}");
    }
}
