//! Chip targets through the chip interface: the generic mapping of a chip spikefab only prices,
//! and the refusal to generate code for it.

use crate::common;

use common::{scratch, spikefab};

/// A chip target maps the network onto its cores and names every limit it exceeds; code
/// generation for a chip without a back end is refused as usage.
#[test]
fn chip_targets_map_onto_cores_and_name_their_limits() {
    let plan = |model: &str, dialect: &[&str]| {
        let mut a = vec!["plan", model];
        a.extend(dialect);
        a.extend(["-T", "8", "--inputs", "models/digits_test_x.npy", "--target", "truenorth", "--json"]);
        spikefab(&a)
    };
    let (code, out, err) = plan("models/mlp_bw/mlp_bw.nir", &["--from", "snntorch"]);
    assert_eq!(code, 0, "{err}");
    let m: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(m["cores"].as_array().unwrap().len(), 2);
    assert_eq!(m["input_channels"], 64);
    assert_eq!(m["max_neuron_fan_in"], 128);
    let (code, _, err) = plan("models/conv_bw/conv_bw.nir", &["--dt", "1e-4"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("fan-in 1024 of one neuron; truenorth takes 256"), "{err}");
    let (code, _, err) = spikefab(&[
        "compile",
        "models/mlp_bw/mlp_bw.nir",
        "--from",
        "snntorch",
        "-T",
        "8",
        "--target",
        "truenorth",
        "-o",
        scratch("newcomer-chip-compile").to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("no back end")
            && err.contains("compile and chipsim take loihi2, kapoho-point, xylo-imu, xylo-audio2, xylo-audio3"),
        "{err}"
    );
}

/// The plan options a chip's own arithmetic fixes (lanes, bit widths, schedule, early exit, ...)
/// are refused on a chip target, naming them, rather than ignored; `compare` runs FPGA and chip
/// targets side by side and gives each the options it reads.
#[test]
fn fpga_options_on_a_chip_target_are_refused_not_ignored() {
    let base = ["models/mlp_bw/mlp_bw.nir", "--from", "snntorch", "-T", "8", "--inputs", "models/digits_test_x.npy"];
    for (cmd, target) in [("plan", "xylo-imu"), ("simulate", "loihi2"), ("verify", "loihi2"), ("energy", "loihi2")] {
        let mut a = vec![cmd];
        a.extend(base);
        if cmd != "plan" {
            a.extend(["--samples", "4"]);
        }
        if cmd == "simulate" {
            a.extend(["--engine", "cycle"]);
        }
        a.extend(["--target", target, "--lanes", "4", "--early-exit"]);
        let (code, _, err) = spikefab(&a);
        assert_eq!(code, 2, "{cmd} {target}: {err}");
        assert!(err.contains("--lanes, --early-exit are options of the FPGA plan"), "{cmd} {target}: {err}");
        assert!(err.contains(target), "{err}");
    }
    let out = scratch("chip-options");
    let mut a = vec!["compile"];
    a.extend(base);
    a.extend(["--target", "loihi2", "--weight-bits", "4", "-o", out.to_str().unwrap()]);
    let (code, _, err) = spikefab(&a);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--weight-bits is an option of the FPGA plan"), "{err}");
    // Side by side: the FPGA row takes --lanes, the chip row its own layout.
    let mut a = vec!["compare"];
    a.extend(base);
    a.extend(["--samples", "4", "--targets", "ice40-up5k,loihi2", "--lanes", "4", "--json"]);
    let (code, out, err) = spikefab(&a);
    assert_eq!(code, 0, "{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rows = r["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for row in rows {
        assert!(row["fits"] == true && row["agreement"].as_f64().is_some(), "{row}");
    }
}

/// The frameworks' networks in `compare`: the snnTorch recurrent CubaLIF on loihi2 (netx
/// dense_rec) beside the FPGA and Xylo, and the Sinabs CNN's multi-spike counts with
/// `--spike-cap`, which Loihi reads and the other rows do not (Xylo's row names its own limit).
#[test]
fn framework_networks_appear_in_compare_on_every_target_that_takes_them() {
    let d = "tests/data/frameworks/importers";
    let rows = |args: &[&str]| {
        let mut a = vec!["compare"];
        a.extend(args);
        a.extend(["--samples", "4", "--json"]);
        let (code, out, err) = spikefab(&a);
        assert_eq!(code, 0, "{err}");
        let r: serde_json::Value = serde_json::from_str(&out).unwrap();
        r["rows"].as_array().unwrap().clone()
    };
    let (model, inputs) = (format!("{d}/snntorch_cuba_rec/model.nir"), format!("{d}/snntorch_cuba_rec/inputs.npy"));
    let r = rows(&[
        &model,
        "--from",
        "snntorch",
        "--reset",
        "zero",
        "-T",
        "20",
        "--inputs",
        &inputs,
        "--targets",
        "ice40-up5k,loihi2,xylo-imu",
    ]);
    assert_eq!(r.len(), 3);
    for row in &r {
        assert!(row["fits"] == true && row["agreement"].as_f64().unwrap() >= 0.75, "{row}");
    }
    let (model, inputs) = (format!("{d}/sinabs_cnn/model.nir"), format!("{d}/sinabs_cnn/inputs.npy"));
    let r = rows(&[
        &model,
        "--from",
        "sinabs",
        "-T",
        "10",
        "--inputs",
        &inputs,
        "--targets",
        "ecp5-85k,loihi2,xylo-imu",
        "--spike-cap",
        "8",
    ]);
    assert_eq!(r.len(), 3);
    assert!(r[0]["fits"] == true && r[0]["agreement"] == 1.0, "{}", r[0]);
    assert!(r[1]["fits"] == true && r[1]["agreement"].as_f64().is_some(), "{}", r[1]);
    let why = r[2]["why_not"].to_string();
    assert!(r[2]["fits"] == false && why.contains("input channels") && !why.contains("spike-cap"), "{why}");
}
