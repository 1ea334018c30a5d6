//! Chip legalisation (`passes::legalise`): the bundled ensemble student becomes one chain that
//! computes what the model computes, and that chain compiles to Loihi 2 where Lava's
//! fixed-point simulator reproduces spikefab's chip model on every test sample.

mod common;

use common::{cases, root, scratch};
use spikefab::passes::{Context, Pipeline};
use spikefab::sim::reference::{self, RunOptions};

/// ensemble_bw's four students (input -> 32 -> 8 -> a slice of the readout each) become
/// input -> 128 -> 32 -> 10: every layer fed by the one before, as many neurons as before, and
/// the same output spikes in the reference engine (f32 and f64) on the 450 digits.
#[test]
fn the_ensemble_becomes_a_chain_with_the_same_spikes() {
    let c = cases(&root().join("models/cases.json")).into_iter().find(|c| c.name == "ensemble_bw").unwrap();
    let m = c.load();
    let batch = c.batch(&m);
    let cx = Context { steps: c.timesteps, input_range: None };
    let (legal, records) = Pipeline::legalise().run(&m, &cx).unwrap();
    let changes = &records[0].changes;
    assert_eq!(changes.len(), 3, "{changes:#?}");
    assert!(changes[0].starts_with("stacked 4 branches") && changes[0].contains("128 neurons"), "{changes:#?}");
    assert!(changes[1].starts_with("stacked 4 branches") && changes[1].contains("32 neurons"), "{changes:#?}");
    assert!(changes[2].starts_with("joined 4 weighted paths into 'lif_out'"), "{changes:#?}");
    let g = &legal.graph;
    assert_eq!(g.len(), 8, "input, 3 x (weights, neurons), output");
    for ix in g.g.node_indices() {
        assert!(g.in_edges(ix).len() <= 1, "'{}' has {} inputs", g.g[ix].name, g.in_edges(ix).len());
    }
    let neurons = |m: &spikefab::Model| -> usize {
        m.graph.g.node_indices().filter(|&i| m.graph.g[i].op.is_neuron()).map(|i| m.info.out_numel(i)).sum()
    };
    assert_eq!(neurons(&legal), neurons(&m));
    for f64 in [false, true] {
        let run = |m: &spikefab::Model| {
            let output = m.graph.select_output(None).unwrap();
            let o = RunOptions { steps: c.timesteps, f64, output };
            reference::run(&m.graph, &m.info, m.dialect(), &batch, &o, None).unwrap().outputs.data
        };
        let (a, b) = (run(&m), run(&legal));
        let differing = a.iter().zip(&b).filter(|(x, y)| x != y).count();
        eprintln!("f64 {f64}: {differing} of {} output values differ", a.len());
        assert_eq!(differing, 0, "f64 {f64}");
    }
}

/// ensemble_bw, refused by netx's chain before legalisation, compiles to loihi2; Lava's
/// fixed-point simulator runs the export of all 450 digits exactly as spikefab's chip model.
#[test]
fn the_ensemble_compiles_to_loihi2_and_lava_agrees() {
    let test = "the_ensemble_compiles_to_loihi2_and_lava_agrees";
    let Some(py) = spikefab::flow::lava::python() else {
        assert!(std::env::var_os("CI").is_none(), "{test}: Lava is required in CI (SPIKEFAB_LAVA_PYTHON)");
        eprintln!("SKIPPED {test}: no Python with Lava (set SPIKEFAB_LAVA_PYTHON)");
        return;
    };
    let out = scratch("legalise-ensemble-loihi2");
    let start = std::time::Instant::now();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_spikefab"))
        .args(["compile", "models/ensemble_bw/ensemble_bw.nir", "--dt", "1e-4", "-T", "8", "--target", "loihi2"])
        .args(["--inputs", "models/digits_test_x.npy", "--labels", "models/digits_test_y.npy", "--json"])
        .args(["-o", out.to_str().unwrap()])
        .current_dir(root())
        .env("SPIKEFAB_LAVA_PYTHON", &py)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    eprintln!("compile and Lava check of 450 samples: {:.1} s", start.elapsed().as_secs_f64());
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["kind"], "chip");
    let lava = &r["vendor_check"];
    assert_eq!(lava["simulator"], "Lava", "{lava}");
    assert_eq!(lava["samples"], 450, "{lava}");
    assert_eq!(lava["output_mismatches"], 0, "{lava}");
    assert_eq!(lava["state_mismatches"], 0, "{lava}");
    assert!(lava["output_spikes"].as_u64().unwrap() > 0, "{lava}");
    let notes = r["notes"].to_string();
    assert!(notes.contains("legalise: stacked 4 branches"), "{notes}");
    assert!(notes.contains("legalise: joined 4 weighted paths"), "{notes}");
    let v = &r["verify"];
    eprintln!("ensemble_bw on loihi2: {v}");
    assert_eq!(v["samples"], 450, "{v}");
    assert!(v["chip_accuracy"].as_f64().unwrap() > 0.8, "{v}");
}
