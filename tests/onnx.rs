//! ONNX import: the students' single-step ONNX exports run to the same spikes as their NIR
//! exports and as snnTorch's golden outputs, with no dialect options; the QONNX MLP too; the
//! hardware plan of the imported MLP equals the NIR one; further single-step variants
//! (tests/data/onnx/variants, goldens from onnxruntime) match spike for spike; broken files
//! fail with exit code 2 and a located message.

use crate::common;

use std::path::{Path, PathBuf};

use common::{cases, root, spikefab};
use serde::Deserialize;
use spikefab::Model;
use spikefab::data::{InputBatch, read_npy};
use spikefab::ir::dialect::DialectOverrides;
use spikefab::ir::{Op, ResetMode};
use spikefab::sim::{cycle, reference};

/// (student case in models/cases.json, its ONNX export).
const STUDENTS: [(&str, &str); 3] = [
    ("mlp_bw", "mlp_bw/mlp_bw_step.onnx"),
    ("mlp_bw", "mlp_bw/mlp_bw_step.qonnx.onnx"),
    ("conv_bw", "conv_bw/conv_bw_step.onnx"),
];

/// Only the number of timesteps: the ONNX graph fixes dt, reset and firing rule itself.
fn no_dialect_options(t: usize) -> DialectOverrides {
    DialectOverrides { timesteps: Some(t), ..Default::default() }
}

fn load_onnx(path: &Path, t: usize) -> Model {
    Model::load(path, &no_dialect_options(t)).unwrap_or_else(|e| panic!("{e}"))
}

/// Output values of the reference engine, and whether they are spikes.
fn run_values(m: &Model, inputs: &Path, steps: usize) -> (Vec<f64>, bool) {
    let input = m.graph.the_input().unwrap();
    let batch = InputBatch::load(inputs, &m.info.out_shape[input.index()]).unwrap();
    let output = m.graph.select_output(None).unwrap();
    let r = reference::run(
        &m.graph,
        &m.info,
        m.dialect(),
        &batch,
        &reference::RunOptions { steps, f64: false, output },
        None,
    )
    .unwrap();
    (r.outputs.data, r.outputs.spikes)
}

fn run_reference(m: &Model, inputs: &Path, steps: usize) -> Vec<f64> {
    let (v, spikes) = run_values(m, inputs, steps);
    assert!(spikes, "{}: the output is spikes", m.path.display());
    v
}

fn differing(a: &[f64], b: &[f64]) -> usize {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).filter(|(x, y)| x != y).count()
}

#[test]
fn student_onnx_exports_match_nir_and_snntorch_spike_for_spike() {
    let all = cases(&root().join("models/cases.json"));
    for (name, rel) in STUDENTS {
        let c = all.iter().find(|c| c.name == name).expect("student case");
        let onnx = load_onnx(&root().join("models").join(rel), c.timesteps);
        let d = onnx.dialect();
        assert_eq!(d.reset.to_string(), c.reset.clone().unwrap(), "{rel}: reset fixed by the graph");
        assert_eq!(d.fire_on_equal, c.fire_on_equal.unwrap(), "{rel}");
        assert_eq!(d.dt, c.dt, "{rel}: dt of the neuron parameters");
        let nir = c.load();
        let inputs = c.path(&c.inputs);
        let got = run_reference(&onnx, &inputs, c.timesteps);
        let from_nir = run_reference(&nir, &inputs, c.timesteps);
        let golden = read_npy(&c.path(&c.expected)).unwrap().data;
        let (vs_nir, vs_golden) = (differing(&got, &from_nir), differing(&got, &golden));
        let spikes = got.iter().filter(|&&v| v == 1.0).count();
        println!(
            "{rel}: {} output values compared ({spikes} spikes): {vs_nir} differ from the NIR export, {vs_golden} from \
             snnTorch's golden",
            got.len()
        );
        assert!(spikes > got.len() / 20, "{rel}: the comparison covers real activity");
        assert_eq!(vs_nir, 0, "{rel} vs {}", c.model);
        assert_eq!(vs_golden, 0, "{rel} vs {}", c.expected);
    }
}

#[test]
fn qonnx_binary_weights_are_exactly_plus_minus_scale() {
    let plain = load_onnx(&root().join("models/mlp_bw/mlp_bw_step.onnx"), 8);
    let q = load_onnx(&root().join("models/mlp_bw/mlp_bw_step.qonnx.onnx"), 8);
    let weights = |m: &Model| -> Vec<spikefab::ir::Tensor> {
        m.info
            .order
            .iter()
            .filter_map(|&i| match &m.graph.g[i].op {
                Op::Affine { weight, .. } => Some(weight.clone()),
                _ => None,
            })
            .collect()
    };
    let (a, b) = (weights(&plain), weights(&q));
    assert_eq!(a.len(), 2);
    assert_eq!(a, b, "BipolarQuant evaluates to the exported weights bit for bit");
    for w in &b {
        match spikefab::analysis::classify_weights(w) {
            spikefab::analysis::WeightKind::Binary { scales } => assert_eq!(scales.len(), w.shape[0]),
            other => panic!("QONNX weights should stay binary, got {other:?}"),
        }
        let cols = w.shape[1];
        for row in w.to_vec().chunks(cols) {
            assert!(row.iter().all(|v| v.abs() == row[0].abs()), "exactly +-a_i per row");
        }
    }
}

/// A plan as JSON without the fields that name nodes (ONNX and NIR name them differently).
fn anonymous(plan: &spikefab::hw::Plan) -> serde_json::Value {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(o) => {
                for key in ["model", "node", "path", "name"] {
                    o.remove(key);
                }
                o.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v = serde_json::to_value(plan).unwrap();
    strip(&mut v);
    v
}

/// Paths where two JSON values differ (for a readable failure).
fn json_diff(a: &serde_json::Value, b: &serde_json::Value, at: String, out: &mut Vec<String>) {
    use serde_json::Value::{Array, Object};
    match (a, b) {
        (Object(x), Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                json_diff(
                    &x.get(k).cloned().unwrap_or_default(),
                    &y.get(k).cloned().unwrap_or_default(),
                    format!("{at}.{k}"),
                    out,
                );
            }
        }
        (Array(x), Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                json_diff(p, q, format!("{at}[{i}]"), out);
            }
        }
        _ if a != b && out.len() < 20 => out.push(format!("{at}: {} vs {}", short(a), short(b))),
        _ => {}
    }
}

fn short(v: &serde_json::Value) -> String {
    let s = v.to_string();
    if s.len() > 80 { format!("{}...", &s[..80]) } else { s }
}

#[test]
fn cycle_engine_plan_of_the_onnx_mlp_equals_the_nir_plan() {
    let all = cases(&root().join("models/cases.json"));
    let c = all.iter().find(|c| c.name == "mlp_bw").unwrap();
    let (_, nir_plan, batch) = common::plan_for(c, None);
    for rel in ["mlp_bw/mlp_bw_step.onnx", "mlp_bw/mlp_bw_step.qonnx.onnx"] {
        let onnx = load_onnx(&root().join("models").join(rel), c.timesteps);
        let t = spikefab::target::Target::load("ice40-up5k").unwrap();
        let mut o = spikefab::hw::PlanOptions::new(t, c.timesteps);
        o.input_stats = Some(spikefab::quant::InputStats::of(&batch));
        let plan = spikefab::hw::lower(&onnx, &o).unwrap_or_else(|e| panic!("{rel}: {e}"));
        let mut diff = vec![];
        json_diff(&anonymous(&plan), &anonymous(&nir_plan), String::new(), &mut diff);
        assert!(diff.is_empty(), "{rel}: plan differs from the NIR export's:\n{}", diff.join("\n"));
        let (a, b) = (cycle::run(&plan, &batch, c.timesteps), cycle::run(&nir_plan, &batch, c.timesteps));
        let d = differing(&a.outputs.data, &b.outputs.data);
        let cycles = |r: &cycle::BatchResult| r.samples.iter().map(|s| s.counters.cycles).collect::<Vec<_>>();
        println!("{rel}: cycle engine, {} output values, {d} differ from the NIR plan's", a.outputs.data.len());
        assert_eq!(d, 0, "{rel}");
        assert_eq!(cycles(&a), cycles(&b), "{rel}: cycle counts");
        let mut golden = a.outputs.clone();
        golden.data = read_npy(&c.path(&c.expected)).unwrap().data;
        let agree = spikefab::data::agreement(&a.outputs.classes(), &golden.classes());
        assert!(agree >= 0.99, "{rel}: cycle engine class agreement with snnTorch {agree}");
    }
}

#[derive(Deserialize)]
struct Variant {
    name: String,
    model: String,
    inputs: String,
    expected: String,
    timesteps: usize,
    reset: String,
    fire_on_equal: bool,
    output: String,
    notes: String,
}

#[test]
fn onnx_variants_match_onnxruntime_spike_for_spike() {
    let dir = root().join("tests/data/onnx/variants");
    let list: Vec<Variant> = serde_json::from_str(&std::fs::read_to_string(dir.join("cases.json")).unwrap()).unwrap();
    assert!(list.len() >= 7);
    let mut resets = std::collections::BTreeSet::new();
    for v in &list {
        let m = load_onnx(&dir.join(&v.model), v.timesteps);
        assert_eq!(m.dialect().reset.to_string(), v.reset, "{}: {}", v.name, v.notes);
        assert_eq!(m.dialect().fire_on_equal, v.fire_on_equal, "{}", v.name);
        let (got, spikes) = run_values(&m, &dir.join(&v.inputs), v.timesteps);
        assert_eq!(spikes, v.output == "spikes", "{}: output kind", v.name);
        let want = read_npy(&dir.join(&v.expected)).unwrap().data;
        let d = differing(&got, &want);
        let nonzero = want.iter().filter(|&&x| x != 0.0).count();
        assert!(nonzero > got.len() / 10, "{}: the comparison covers real activity", v.name);
        println!("{}: {} {} values, {nonzero} non-zero, {d} differ ({})", v.name, got.len(), v.output, v.notes);
        assert_eq!(d, 0, "{}: {}", v.name, v.notes);
        resets.insert(m.dialect().reset.to_string());
        if v.name == "snntorch_zero_batchnorm" {
            // BatchNorm folds into the bias-free MatMul: an Affine feeding the neuron with gain 1.
            let ops: Vec<&str> = m.info.order.iter().map(|&i| m.graph.g[i].op.type_name()).collect();
            assert_eq!(ops, ["Input", "Affine", "LIF", "Affine", "LIF", "Output"], "{}", v.name);
        }
    }
    let all: Vec<String> =
        [ResetMode::Zero, ResetMode::Subtract, ResetMode::SubtractUndecayed].iter().map(|r| r.to_string()).collect();
    assert!(all.iter().all(|r| resets.contains(r)), "variants cover every reset mode: {resets:?}");
}

fn model_arg(rel: &str) -> String {
    root().join(rel).to_string_lossy().into_owned()
}

#[test]
fn cli_commands_accept_onnx_like_nir() {
    let model = model_arg("models/mlp_bw/mlp_bw_step.onnx");
    let x = model_arg("models/digits_test_x.npy");
    let y = model_arg("models/digits_test_y.npy");
    let (code, out, err) = spikefab(&["inspect", &model]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("reset subtract-undecayed") && out.contains("LIF"), "{out}");
    let (code, out, err) = spikefab(&["simulate", &model, "-T", "8", "--inputs", &x, "--labels", &y]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("accuracy: 0.9644"), "{out}");
    assert!(err.is_empty(), "no dialect options, no warnings: {err}");
    let (code, out, err) = spikefab(&["verify", &model, "-T", "8", "--inputs", &x, "--labels", &y]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = spikefab(&["plan", &model, "-T", "8", "--inputs", &x]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = spikefab(&["energy", &model, "-T", "8", "--inputs", &x, "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let scratch = common::scratch("onnx_compile");
    let (code, out, err) = spikefab(&[
        "compile",
        &model_arg("models/conv_bw/conv_bw_step.onnx"),
        "-T",
        "8",
        "--inputs",
        &x,
        "--labels",
        &y,
        "--cosim-samples",
        "0",
        "-o",
        scratch.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(std::fs::read_dir(&scratch).unwrap().any(|e| e.unwrap().path().extension().is_some_and(|x| x == "v")));
}

#[test]
fn dialect_options_override_the_graph_with_a_warning() {
    let model = model_arg("models/conv_bw/conv_bw_step.onnx");
    let x = model_arg("models/digits_test_x.npy");
    // Options that agree with the graph are silent.
    let (code, _, err) = spikefab(&["simulate", &model, "-T", "8", "--inputs", &x, "--reset", "zero", "--dt", "1e-4"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.is_empty(), "{err}");
    // Conflicting ones win, as for every format, and say what they change.
    let (code, out, err) = spikefab(&["simulate", &model, "-T", "8", "--inputs", &x, "--from", "snntorch"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("reset subtract-undecayed"), "{out}");
    assert!(err.contains("warning:") && err.contains("overrides the graph's own reset, zero"), "{err}");
    let (_, out, _) = spikefab(&["inspect", &model, "--dt", "1e-3"]);
    assert!(out.contains("dt 1e-3 s changes the decay"), "{out}");
}

#[derive(Deserialize)]
struct Broken {
    name: String,
    model: String,
    expect: String,
}

#[test]
fn broken_onnx_files_fail_cleanly_with_exit_2() {
    let dir = root().join("tests/data/onnx/broken");
    let list: Vec<Broken> = serde_json::from_str(&std::fs::read_to_string(dir.join("cases.json")).unwrap()).unwrap();
    assert!(list.len() >= 14);
    for b in &list {
        let path: PathBuf = dir.join(&b.model);
        assert!(path.exists(), "{}", b.name);
        for cmd in ["inspect", "simulate"] {
            let p = path.to_str().unwrap();
            let mut args = vec![cmd, p];
            if cmd == "simulate" {
                args.extend(["--inputs", "nonexistent.npy", "-T", "4"]);
            }
            let (code, _out, err) = spikefab(&args);
            assert_eq!(code, 2, "{} ({cmd}): exit {code}, stderr: {err}", b.name);
            assert!(err.starts_with("error: "), "{} ({cmd}): {err}", b.name);
            assert!(!err.contains("panicked"), "{} ({cmd}) panicked: {err}", b.name);
            assert!(err.contains(&b.expect), "{} ({cmd}): should mention '{}': {err}", b.name, b.expect);
            assert!(err.contains(&b.model), "{} ({cmd}): should name the file: {err}", b.name);
        }
        // The library reports the same error without panicking.
        let e = spikefab::front::load(&path).expect_err(&b.name);
        assert!(e.to_string().contains(&b.expect), "{}: {e}", b.name);
    }
}

/// Every prefix of a valid model and every single-byte corruption of its header fail cleanly
/// or load: the reader never panics on damaged bytes.
#[test]
fn damaged_bytes_never_panic() {
    let good = std::fs::read(root().join("tests/data/onnx/variants/where_zero_geq.onnx")).unwrap();
    let dir = common::scratch("onnx_damaged");
    let p = dir.join("m.onnx");
    let mut failures = 0;
    for cut in (0..good.len()).step_by(7) {
        std::fs::write(&p, &good[..cut]).unwrap();
        failures += spikefab::front::load(&p).is_err() as usize;
    }
    for i in 0..good.len().min(400) {
        let mut b = good.clone();
        b[i] ^= 0xA5;
        std::fs::write(&p, &b).unwrap();
        let _ = spikefab::front::load(&p);
    }
    assert!(failures > good.len() / 8, "most truncations are refused ({failures})");
}

/// The README's lists of ONNX ops and neuron models are the ones the code dispatches and
/// recognises (generated from the op table and the neuron descriptors).
#[test]
fn readme_lists_what_the_onnx_front_supports() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let ops = format!("Supported ops (the op table): {}.", spikefab::front::onnx::supported());
    assert!(readme.contains(&ops), "README.md must contain, on one line:\n{ops}");
    for line in spikefab::ir::neuron::onnx_support() {
        let want = format!("- {line}");
        assert!(readme.contains(&want), "README.md must list the neuron model:\n{want}");
    }
}
