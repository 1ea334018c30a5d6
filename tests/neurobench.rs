//! spikefab's NeuroBench-compatible counts against NeuroBench 2.3.0 itself: the numbers in
//! models/<student>/neurobench.json were produced by training/neurobench_counts.py running the
//! `neurobench` package on the snnTorch rebuild of each student (0 differing spikes to
//! expected.npy). Integer totals must be equal; per-sample figures equal up to the 10
//! significant digits the script stores.

use crate::common;

use common::{cases, root};
use serde_json::Value;
use spikefab::energy::neurobench::{Counts, LayerCounts, count};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

fn f(v: &Value, path: &[&str]) -> f64 {
    let mut x = v;
    for p in path {
        x = &x[*p];
    }
    x.as_f64().unwrap_or_else(|| panic!("neurobench.json: no number at {path:?}"))
}

fn layer<'a>(c: &'a Counts, name: &str) -> &'a LayerCounts {
    c.layers.iter().find(|l| l.name == name).unwrap_or_else(|| panic!("no counted layer '{name}'"))
}

#[test]
fn counts_equal_neurobench_on_every_checked_student() {
    let all = cases(&root().join("models/cases.json"));
    let mut checked = 0;
    for c in &all {
        let path = root().join("models").join(&c.name).join("neurobench.json");
        if !path.exists() {
            println!("{}: no neurobench.json (not a NeuroBench-checked student)", c.name);
            continue;
        }
        let nb: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let m = c.load();
        let batch = c.batch(&m);
        let got = count(&m.graph, &m.info, m.dialect(), &batch, c.timesteps).unwrap();
        let n = &nb["neurobench"];
        let name = &c.name;
        assert_eq!(got.samples as f64, f(&nb, &["setup", "samples"]), "{name}: samples");

        // Per layer, exact integer totals over the test set.
        let per = &nb["per_layer"];
        let syn = per["synaptic_operations"].as_object().unwrap();
        for (lname, d) in syn {
            let l = layer(&got, lname);
            let t = &d["totals_over_test_set"];
            assert_eq!(l.totals[0] as f64, f(t, &["exact_effective"]), "{name}/{lname}: effective ops");
            assert_eq!(l.totals[1] as f64, f(t, &["exact_dense"]), "{name}/{lname}: dense ops");
            assert!(close(l.effective_macs.unwrap(), f(d, &["Effective_MACs"])), "{name}/{lname}: MACs {l:?}");
            assert!(close(l.effective_acs.unwrap(), f(d, &["Effective_ACs"])), "{name}/{lname}: ACs {l:?}");
        }
        let neu = per["neurons"].as_object().unwrap();
        for (lname, d) in neu {
            let l = layer(&got, lname);
            assert_eq!(l.totals[0] as f64, f(d, &["membrane_updates_total"]), "{name}/{lname}: membrane updates");
            assert_eq!(l.totals[1] as f64, f(d, &["spikes_total"]), "{name}/{lname}: spikes");
            assert_eq!(l.totals[2] as f64, f(d, &["activations_total"]), "{name}/{lname}: activations");
            let by = f(n, &["ActivationSparsityByLayer", lname]);
            assert!(close(l.activation_sparsity.unwrap(), by), "{name}/{lname}: sparsity");
        }
        assert_eq!(got.layers.len(), syn.len() + neu.len(), "{name}: counted layers");

        // NeuroBench's own totals per sample.
        let so = &n["SynapticOperations"];
        assert!(close(got.effective_macs, f(so, &["Effective_MACs"])), "{name}: MACs {}", got.effective_macs);
        assert!(close(got.effective_acs, f(so, &["Effective_ACs"])), "{name}: ACs {}", got.effective_acs);
        assert!(close(got.dense_ops, f(so, &["Dense"])), "{name}: dense {}", got.dense_ops);
        assert!(close(got.membrane_updates, f(n, &["MembraneUpdates"])), "{name}: updates");
        assert!(close(got.neuron_ops, f(n, &["NeuronOperations", "Effective Neuron Ops"])), "{name}: neuron ops");
        assert!(close(got.neuron_dense_ops, f(n, &["NeuronOperations", "Neuron Dense Ops"])), "{name}: dense n ops");
        assert!(close(got.activation_sparsity, f(n, &["ActivationSparsity"])), "{name}: activation sparsity");
        assert_eq!(got.footprint_bytes as f64, f(n, &["Footprint"]), "{name}: footprint");
        assert_eq!(got.parameter_count as f64, f(n, &["ParameterCount"]), "{name}: parameters");
        let cs = (got.connection_sparsity * 1e4).round() / 1e4;
        assert_eq!(cs, f(n, &["ConnectionSparsity"]), "{name}: connection sparsity");
        println!(
            "{name}: ACs {:.3}, MACs {:.3}, dense {:.0}, membrane updates {:.3}, sparsity {:.6}, footprint {} B: equal to NeuroBench",
            got.effective_acs,
            got.effective_macs,
            got.dense_ops,
            got.membrane_updates,
            got.activation_sparsity,
            got.footprint_bytes
        );
        checked += 1;
    }
    assert!(checked >= 1, "no student has NeuroBench reference counts");
}

/// `compile` counts on the verification's own reference run: its report holds exactly what a
/// separate count over the same inputs gives.
#[test]
fn compile_counts_on_the_verification_run() {
    let all = cases(&root().join("models/cases.json"));
    let c = all.iter().find(|c| c.name == "conv_bw").expect("conv_bw in models/cases.json");
    let out = common::scratch("neurobench-compile");
    let (code, stdout, stderr) = common::spikefab(&[
        "compile",
        "models/conv_bw/conv_bw.nir",
        "--dt",
        "1e-4",
        "-T",
        "8",
        "--inputs",
        "models/digits_test_x.npy",
        "--cosim-samples",
        "0",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(!stderr.contains("counting operations"), "a second reference run: {stderr}");
    let r: Value = serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let in_report: Counts = serde_json::from_value(r["energy"]["counts"].clone()).unwrap();
    let m = c.load();
    let separate = count(&m.graph, &m.info, m.dialect(), &c.batch(&m), 8).unwrap();
    assert_eq!(in_report.samples, separate.samples);
    assert_eq!(in_report.layers.len(), separate.layers.len());
    for (a, b) in in_report.layers.iter().zip(&separate.layers) {
        assert_eq!((&a.name, &a.totals), (&b.name, &b.totals), "layer totals");
    }
    assert_eq!(in_report.effective_acs, separate.effective_acs);
    assert_eq!(in_report.membrane_updates, separate.membrane_updates);
}
