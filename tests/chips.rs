//! Chip targets through the chip interface: the generic mapping of a chip spikefab only prices,
//! and the refusal to generate code for it.

mod common;

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
