//! What a new user ran into (issue 12): each fixed behaviour, checked through the CLI.

mod common;

use std::process::Command;

use common::{root, scratch, spikefab, tool_or_skip};

fn run_in(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_spikefab")).args(args).current_dir(dir).output().expect("run");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `cosim --simulator verilator` with the default (relative) work folder used to fail with
/// "tb failed: No such file or directory".
#[test]
fn verilator_cosim_works_in_a_relative_default_folder() {
    if !tool_or_skip("verilator", "verilator_cosim_works_in_a_relative_default_folder") {
        return;
    }
    let dir = scratch("newcomer-relative-cosim");
    let model = root().join("models/mlp_bw/mlp_bw.nir");
    let inputs = root().join("models/digits_test_x.npy");
    let args = ["cosim", model.to_str().unwrap(), "--from", "snntorch", "-T", "4"];
    let (code, out, err) = run_in(
        &dir,
        &[&args[..], &["--inputs", inputs.to_str().unwrap(), "--simulator", "verilator", "--samples", "2"]].concat(),
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("spike- and cycle-exact"), "{out}");
    assert!(dir.join("build/cosim/obj_dir").is_dir(), "the default folder is relative to the working directory");
}

/// Co-simulation predicts its cost from the cycle engine's counts and skips, with the
/// estimate and the option that forces it, above the budget.
#[test]
fn cosim_beyond_its_budget_is_skipped_with_the_prediction() {
    let out = scratch("newcomer-cosim-budget");
    let (code, stdout, stderr) = spikefab(&[
        "compile",
        "models/conv_bw/conv_bw.nir",
        "--dt",
        "1e-4",
        "-T",
        "8",
        "--inputs",
        "models/digits_test_x.npy",
        "--cosim-budget",
        "1",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stderr.contains("co-simulation skipped") && stderr.contains("give --cosim-budget"), "{stderr}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let why = r["cosim"]["skipped"].as_str().unwrap();
    assert!(why.contains("clock cycles, predicted"), "{why}");
}

/// Inputs on an exact grid (k/16, as digits pixels often are) are quantised with that grid,
/// not 1/255: the plan and its agreement equal those with --input-scale 0.0625.
#[test]
fn inputs_on_a_grid_are_quantised_exactly() {
    let dir = scratch("newcomer-grid");
    // The digits inputs are integers 0..16; as floats k/16 they lie on a 1/16 grid.
    let a = spikefab::data::read_npy(&root().join("models/digits_test_x.npy")).unwrap();
    let x: Vec<f32> = a.data.iter().map(|&v| (v / 16.0) as f32).collect();
    let path = dir.join("x16.npy");
    {
        use npyz::WriterBuilder;
        let f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let shape: Vec<u64> = a.shape.iter().map(|&d| d as u64).collect();
        let mut w = npyz::WriteOptions::<f32>::new().default_dtype().shape(&shape).writer(f).begin_nd().unwrap();
        w.extend(x.iter().copied()).unwrap();
        w.finish().unwrap();
    }
    let plan = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec!["plan", "models/conv_bw/conv_bw.nir", "--dt", "1e-4", "-T", "8", "--json"];
        args.extend(["--inputs", path.to_str().unwrap()]);
        args.extend(extra);
        let (code, out, err) = spikefab(&args);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str(&out).unwrap()
    };
    let auto = plan(&[]);
    assert_eq!(auto["input"]["scale"].as_f64(), Some(0.0625), "{}", auto["input"]);
    assert_eq!(auto["input"]["bits"].as_u64(), Some(5), "{}", auto["input"]);
    let given = plan(&["--input-scale", "0.0625", "--input-bits", "5"]);
    assert_eq!(auto["layers"], given["layers"]);
    let agreement = |extra: &[&str]| -> f64 {
        let mut args = vec!["verify", "models/conv_bw/conv_bw.nir", "--dt", "1e-4", "-T", "8", "--json"];
        args.extend(["--inputs", path.to_str().unwrap(), "--min-agreement", "0"]);
        args.extend(extra);
        let (code, out, err) = spikefab(&args);
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v["class_agreement"].as_f64().unwrap()
    };
    // The same agreement as the exact scale given by hand, and no worse than the old 1/255.
    let auto = agreement(&[]);
    assert_eq!(auto, agreement(&["--input-scale", "0.0625", "--input-bits", "5"]));
    assert!(auto >= agreement(&["--input-scale", "0.00392156862745098"]), "{auto}");
}

/// With labels, students are kept by accuracy, and the criterion is always printed; asking
/// for accuracy without labels of the calibration data is refused.
#[test]
fn keep_students_says_and_honours_its_criterion() {
    let base = [
        "simulate",
        "models/ensemble_bw/ensemble_bw.nir",
        "--dt",
        "1e-4",
        "-T",
        "8",
        "--inputs",
        "models/digits_test_x.npy",
        "--keep-students",
        "2",
    ];
    let (code, _, err) = spikefab(&[&base[..], &["--labels", "models/digits_test_y.npy"]].concat());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("students: kept") && err.contains("by accuracy"), "{err}");
    let (code, _, err) = spikefab(&base);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("by agreement with all students") && err.contains("give labels"), "{err}");
    let (code, _, err) = spikefab(
        &[
            &base[..],
            &["--labels", "models/digits_test_y.npy", "--calib", "models/digits_test_x.npy", "--select-by", "accuracy"],
        ]
        .concat(),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--calib-labels"), "{err}");
    // Chosen by accuracy, the kept pair is the most accurate pair explore ranks.
    let (code, out, err) = spikefab(&[
        "explore",
        "models/ensemble_bw/ensemble_bw.nir",
        "--dt",
        "1e-4",
        "-T",
        "8",
        "--calib",
        "models/digits_test_x.npy",
        "--labels",
        "models/digits_test_y.npy",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let e: serde_json::Value = serde_json::from_str(&out).unwrap();
    let sweep = e["exploration"]["k_sweep"].as_array().unwrap();
    let best2 = sweep.iter().find(|r| r["k"] == 2).unwrap()["best"]["students"].clone();
    let (code, out, err) = spikefab(
        &[&base[..], &["--labels", "models/digits_test_y.npy", "--verbose", "--select-by", "accuracy"]].concat(),
    );
    assert_eq!(code, 0, "{err}");
    let names: Vec<String> = best2.as_array().unwrap().iter().map(|i| format!("s{}", i)).collect();
    assert!(out.contains(&format!("chose {}", names.join(", "))), "explore's best pair {names:?}: {out}");
}

/// A failing external tool is not bad input: exit 1 with the tool's own log.
#[test]
fn a_failing_tool_exits_1_with_its_log() {
    let dir = scratch("newcomer-failing-tool");
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let fake = bin.join("iverilog");
    std::fs::write(&fake, "#!/bin/sh\necho 'tb.v:1: syntax error (a broken simulator)' >&2\nexit 3\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new(env!("CARGO_BIN_EXE_spikefab"))
        .args(["cosim", "models/mlp_bw/mlp_bw.nir", "--from", "snntorch", "-T", "4"])
        .args(["--inputs", "models/digits_test_x.npy", "--simulator", "iverilog", "--samples", "2"])
        .args(["-o", dir.join("cosim").to_str().unwrap()])
        .current_dir(root())
        .env("PATH", path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("iverilog failed") && err.contains("a broken simulator"), "{err}");
}

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
    assert!(err.contains("does not generate code for it"), "{err}");
}
