//! Exit codes as documented: 0 ok; 1 a check failed, an external tool failed, or writing the
//! outputs (or getting the threads a run asks for) failed; 2 bad input or usage. Each case
//! here was once mapped to the other code.

use crate::common;

use std::os::unix::process::CommandExt;
use std::process::Command;

use common::{root, scratch, spikefab};

/// A one-neuron model whose threshold, in membrane units, needs `2^exp`: with exp 46 the
/// membrane is 57 bits wide, which the range analysis accepts (up to 62) and the hardware
/// back ends refuse (up to 56).
fn wide_model(dir: &std::path::Path, exp: i32) -> (String, String) {
    let t = |v: f64| format!(r#"{{"dtype":"f32","shape":[1],"data":[{v:?}]}}"#);
    let json = format!(
        r#"{{"format":"spikefab-graph","version":1,"source":{{"format":"nir","version":"1.0.8","warnings":[]}},
"dialect":{{"dt":0.001,"dt_source":"given","reset":"zero","fire_on_equal":false,"timesteps":4,"preset":null,
"integration":"euler","cuba_input":"scaled","spikes":"single","initial_v":"zero"}},
"nodes":[{{"name":"input","op":{{"type":"Input","shape":[1]}}}},
{{"name":"fc","op":{{"type":"Linear","weight":{{"dtype":"f32","shape":[1,1],"data":[1.0]}}}}}},
{{"name":"lif","op":{{"type":"LIF","tau":{},"r":{},"v_leak":{},"v_threshold":{},"v_reset":{}}}}},
{{"name":"output","op":{{"type":"Output"}}}}],
"edges":[["input","fc"],["fc","lif"],["lif","output"]]}}"#,
        t(0.002),
        t(1.0),
        t(0.0),
        t(2f64.powi(exp)),
        t(0.0)
    );
    let model = dir.join("wide.json");
    std::fs::write(&model, json).unwrap();
    let x = dir.join("x.npy");
    std::fs::write(&x, spikefab::data::npy_bytes(&[2, 1], &[1.0f32, 1.0])).unwrap();
    (model.display().to_string(), x.display().to_string())
}

/// The Verilog back end refusing a plan inside co-simulation is that refusal (bad input, 2),
/// with the back end's message, not a file-system failure.
#[test]
fn an_emit_error_in_cosim_is_bad_input() {
    let dir = scratch("exit-cosim-emit");
    let (model, x) = wide_model(&dir, 46);
    let (code, _, err) = spikefab(&["plan", &model, "--inputs", &x, "--json"]);
    assert_eq!(code, 0, "{err}");
    let out = dir.join("cosim");
    let (code, _, err) =
        spikefab(&["cosim", &model, "--inputs", &x, "--simulator", "iverilog", "-o", out.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("Verilog back end: layer 'lif' needs 57 membrane bits"), "{err}");
}

/// An HTML report that cannot be written is a failure to write an output (1), not bad input.
#[test]
fn a_report_that_cannot_be_written_is_exit_1() {
    let dir = scratch("exit-report");
    let blocker = dir.join("file");
    std::fs::write(&blocker, "a file, not a folder").unwrap();
    let report = blocker.join("report.html");
    let x = root().join("models/digits_test_x.npy");
    let (code, _, err) = spikefab(&[
        "energy",
        root().join("models/mlp_bw/mlp_bw.nir").to_str().unwrap(),
        "--from",
        "snntorch",
        "-T",
        "8",
        "--inputs",
        x.to_str().unwrap(),
        "--samples",
        "8",
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("cannot write the report"), "{err}");
}

/// Threads the system will not start are not the user's input (1); a thread count outside
/// 1..=1024 is (2).
#[test]
fn threads_the_system_refuses_are_exit_1() {
    let model = root().join("models/mlp_bw/mlp_bw.nir");
    let x = root().join("models/digits_test_x.npy");
    let args = |threads: &'static str| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_spikefab"));
        c.args(["bench", model.to_str().unwrap(), "--from", "snntorch", "-T", "8"]).args([
            "--inputs",
            x.to_str().unwrap(),
            "--samples",
            "4",
            "--no-reference",
            "--threads",
            threads,
        ]);
        c
    };
    let mut c = args("1000");
    // 1000 threads' stacks do not fit 400 MB of address space.
    // SAFETY: setrlimit only changes this child's limit, between fork and exec.
    unsafe {
        c.pre_exec(|| {
            let lim = libc::rlimit { rlim_cur: 400 << 20, rlim_max: 400 << 20 };
            if libc::setrlimit(libc::RLIMIT_AS, &lim) == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
        });
    }
    let o = c.output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot start 1000 threads"), "{err}");
    let o = args("0").output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--threads must be 1 to 1024"), "{err}");
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

/// `compile` without `--inputs` takes the input range from `--calib`, as its error without
/// either says; with neither it is bad input (2) naming both.
#[test]
fn compile_takes_the_input_range_from_calib() {
    let model = root().join("models/mlp_bw/mlp_bw.nir").display().to_string();
    let x = root().join("models/digits_test_x.npy").display().to_string();
    let dir = scratch("exit-calib");
    let out = dir.join("out").display().to_string();
    let (code, _, err) = spikefab(&["compile", &model, "--from", "snntorch", "-T", "8", "-o", &out]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--inputs/--calib"), "{err}");
    let (code, text, err) = spikefab(&["compile", &model, "--from", "snntorch", "-T", "8", "--calib", &x, "-o", &out]);
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("compiled") && dir.join("out/plan.json").exists(), "{text}");
}

/// `--plane-bits` outside its range is bad input (exit 2, naming the range); a plane word wider
/// than the HLS C++'s 64 bits is refused by that back end (exit 2, naming the layer), and the
/// Verilog back end emits it.
#[test]
fn plane_bits_out_of_range_or_too_wide_for_hls_is_exit_2() {
    let model = ["models/mlp_bw/mlp_bw.nir", "--from", "snntorch", "-T", "8"];
    for bad in ["12", "4", "512"] {
        let mut args = vec!["plan"];
        args.extend(model);
        args.extend(["--plane-bits", bad]);
        let (code, _, err) = spikefab(&args);
        assert_eq!(code, 2, "--plane-bits {bad}: {err}");
        assert!(err.contains("--plane-bits must be a power of two from 8 to 256"), "{err}");
    }
    let dir = common::scratch("plane-bits-hls");
    for (backend, want) in [("hls", 2), ("verilog", 0)] {
        let out = dir.join(backend);
        let mut args = vec!["compile"];
        args.extend(model);
        args.extend(["--inputs", "models/digits_test_x.npy", "--samples", "2", "--cosim-samples", "0"]);
        args.extend(["--schedule", "sequential", "--lanes", "8", "--datapath", "dense", "--plane-bits", "128"]);
        args.extend(["--min-agreement", "0", "--backend", backend, "-o", out.to_str().unwrap()]);
        let (code, _, err) = spikefab(&args);
        assert_eq!(code, want, "{backend}: {err}");
        if backend == "hls" {
            assert!(err.contains("layer 'lif1': a 128-bit spike-plane word"), "{err}");
        }
    }
}

/// `--fuse-steps` is the streamed schedule's (exit 2 under another, naming what it needs), gathers
/// every projection that can (exit 2 with `--datapath event`), is printed by `plan` layer by
/// layer, and is refused by the back ends, which do not emit its datapath yet (exit 2, saying
/// so), and by a chip, as an FPGA plan's option.
#[test]
fn fuse_steps_outside_the_streamed_cycle_engine_is_exit_2() {
    let model = ["models/conv_bw/conv_bw.nir", "--reset", "zero", "-T", "8", "--inputs", "models/digits_test_x.npy"];
    let run = |extra: &[&str]| {
        let mut args = vec!["plan"];
        args.extend(model);
        args.extend(extra);
        spikefab(&args)
    };
    let (code, _, err) = run(&["--fuse-steps", "--schedule", "sequential"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--fuse-steps needs the streamed schedule") && err.contains("sequential"), "{err}");
    let (code, _, err) = run(&["--fuse-steps", "--schedule", "streamed", "--datapath", "event"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("takes no --datapath event"), "{err}");
    let (code, text, err) = run(&["--fuse-steps", "--schedule", "streamed"]);
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("fused: its rows run the 8 steps side by side"), "{text}");
    assert!(text.contains("not fused: the output layer's rows go out step by step"), "{text}");
    assert!(text.contains("logic: not predicted"), "{text}");
    let dir = common::scratch("fuse-steps");
    for backend in ["verilog", "hls"] {
        let out = dir.join(backend);
        let mut args = vec!["compile"];
        args.extend(model);
        args.extend(["--samples", "2", "--cosim-samples", "0", "--schedule", "streamed", "--fuse-steps"]);
        args.extend(["--min-agreement", "0", "--backend", backend, "-o", out.to_str().unwrap()]);
        let (code, _, err) = spikefab(&args);
        assert_eq!(code, 2, "{backend}: {err}");
        // The Verilog back end builds some fused layers (not conv_bw's: its convolutions, the
        // input's bit planes), naming the layer it refuses; the HLS back end none.
        let why = if backend == "verilog" {
            "the Verilog back end's fused datapath builds layers in one tile"
        } else {
            "not by the HLS back end yet"
        };
        assert!(err.contains(why), "{backend}: {err}");
    }
    let (code, _, err) = run(&["--fuse-steps", "--target", "loihi2"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--fuse-steps"), "{err}");
}

/// `--logic-margin` outside stated, off and 0..=0.9 is bad input (exit 2, naming what it takes);
/// a chip, which has no logic model, refuses the option rather than ignore it.
#[test]
fn a_logic_margin_out_of_range_is_exit_2() {
    let model = ["models/mlp_bw/mlp_bw.nir", "--from", "snntorch", "-T", "8"];
    for bad in ["1.5", "-0.1", "half", "NaN"] {
        let flag = format!("--logic-margin={bad}");
        let mut args = vec!["plan"];
        args.extend(model);
        args.push(&flag);
        let (code, _, err) = spikefab(&args);
        assert_eq!(code, 2, "--logic-margin {bad}: {err}");
        assert!(err.contains("no logic margin: expected stated, off or a fraction from 0 to 0.9"), "{err}");
    }
    let mut args = vec!["plan"];
    args.extend(model);
    args.extend(["--logic-margin", "0.2", "--target", "loihi2"]);
    let (code, _, err) = spikefab(&args);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--logic-margin"), "{err}");
}
