//! Bad input gives a clear error naming the problem and exit code 2, never a panic.

use crate::common;

use common::{root, spikefab};
use serde::Deserialize;

#[derive(Deserialize)]
struct Broken {
    name: String,
    model: String,
    expect: String,
}

/// stderr after the loader's warnings (each one line starting `warning: `): the error.
fn after_warnings(err: &str) -> String {
    err.lines().skip_while(|l| l.starts_with("warning: ")).collect::<Vec<_>>().join("\n")
}

#[test]
fn broken_nir_files_fail_cleanly_with_exit_2() {
    let dir = root().join("tests/data/nir/broken");
    let list: Vec<Broken> = serde_json::from_str(&std::fs::read_to_string(dir.join("cases.json")).unwrap()).unwrap();
    assert!(list.len() >= 12);
    for b in &list {
        let path = dir.join(&b.model);
        for cmd in ["inspect", "simulate"] {
            let mut args = vec![cmd, path.to_str().unwrap()];
            if cmd == "simulate" {
                args.extend(["--inputs", "nonexistent.npy", "--dt", "1e-3"]);
            }
            let (code, _out, err) = spikefab(&args);
            assert_eq!(code, 2, "{} ({cmd}): exit {code}, stderr: {err}", b.name);
            assert!(after_warnings(&err).starts_with("error: "), "{} ({cmd}): stderr: {err}", b.name);
            assert!(!err.contains("panicked"), "{} ({cmd}) panicked: {err}", b.name);
            assert!(err.contains(&b.expect), "{} ({cmd}): error should mention '{}': {err}", b.name, b.expect);
            assert!(err.contains(&b.model), "{} ({cmd}): error should name the file: {err}", b.name);
        }
    }
}

#[derive(Deserialize)]
struct BrokenRun {
    name: String,
    args: Vec<String>,
    expect: String,
}

/// tests/data/broken: hostile JSON models, inputs and options (and every crash the fuzzers
/// found), each run as its `args` say (`{dir}` is this folder, `{root}` the repository).
#[test]
fn broken_json_models_inputs_and_options_fail_cleanly_with_exit_2() {
    let dir = root().join("tests/data/broken");
    let list: Vec<BrokenRun> = serde_json::from_str(&std::fs::read_to_string(dir.join("cases.json")).unwrap()).unwrap();
    assert!(list.len() >= 9);
    for b in &list {
        let args: Vec<String> = b
            .args
            .iter()
            .map(|a| a.replace("{dir}", dir.to_str().unwrap()).replace("{root}", root().to_str().unwrap()))
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, _out, err) = spikefab(&args);
        assert_eq!(code, 2, "{}: exit {code}, stderr: {err}", b.name);
        assert!(after_warnings(&err).starts_with("error: ") && !err.contains("panicked"), "{}: stderr: {err}", b.name);
        assert!(err.contains(&b.expect), "{}: error should mention '{}': {err}", b.name, b.expect);
    }
}

/// The fuzz targets' bodies (fuzz/fuzz_targets/common.rs; fuzz/ is a workspace of its own,
/// built by cargo-fuzz on a nightly toolchain, whose targets each hand their input to one body).
/// Compiled here, they cannot go stale against the library unnoticed, as they once did when a
/// tensor's fields became private.
#[path = "../fuzz/fuzz_targets/common.rs"]
mod fuzz_bodies;

/// The files under `dirs` (recursively) whose extension is `ext`, sorted.
fn files(dirs: &[&str], ext: &str) -> Vec<std::path::PathBuf> {
    fn walk(d: &std::path::Path, ext: &str, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, ext, out);
            } else if p.extension().is_some_and(|x| x == ext) {
                out.push(p);
            }
        }
    }
    let mut out = vec![];
    for d in dirs {
        walk(&root().join(d), ext, &mut out);
    }
    out.sort();
    out
}

/// Every fuzz target's body on the repository's own files, the seeds fuzz/seed.sh starts the
/// corpora from: every .nir, .onnx and .npy of tests/data and models (the broken corpora
/// included), the JSON models of tests/data/broken and the NIR corpus written as spikefab JSON,
/// and those JSON models behind seed.sh's option prefixes for the compile path (`pipeline`) and
/// the cycle engine's two paths (`engine`, which asserts they agree). A body that panics fails
/// this test.
#[test]
fn fuzz_target_bodies_run_on_the_repositorys_files() {
    let read = |p: &std::path::Path| std::fs::read(p).unwrap();
    let dirs = ["tests/data", "models"];
    let (nir, onnx, npy) = (files(&dirs, "nir"), files(&dirs, "onnx"), files(&dirs, "npy"));
    assert!(nir.len() >= 40 && onnx.len() >= 10 && npy.len() >= 40, "{} {} {}", nir.len(), onnx.len(), npy.len());
    for f in &nir {
        fuzz_bodies::nir(&read(f));
    }
    for f in &onnx {
        fuzz_bodies::onnx(&read(f));
    }
    for f in &npy {
        fuzz_bodies::npy(&read(f));
    }
    let mut json: Vec<String> = files(&["tests/data/broken"], "json")
        .iter()
        .filter(|p| !p.ends_with("cases.json"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    for f in
        nir.iter().filter(|p| p.starts_with(root().join("tests/data/nir")) && !p.to_string_lossy().contains("broken"))
    {
        if let Ok(g) = spikefab::front::nir::from_bytes(f, read(f)) {
            json.push(spikefab::front::json::to_string(&g));
        }
    }
    assert!(json.len() >= 30, "{} JSON models", json.len());
    // fuzz/seed.sh's option prefixes (fuzz_targets/common.rs `options`): T, target and lanes,
    // weight and input bits, fraction and leak bits, membrane cap and datapath, input range.
    let prefixes: [&[u8; 6]; 5] = [
        b"\x03\x00\x77\x06\x00\x10",
        b"\x27\x05\x00\x06\x00\x01",
        b"\x9f\x0e\xff\x9a\x0c\x40",
        b"\x43\x64\x00\x06\x00\x01",
        b"\x07\x28\x70\x06\x80\x10",
    ];
    let mut planned = 0;
    for text in &json {
        fuzz_bodies::json(text.as_bytes());
        for pre in prefixes {
            let data = [&pre[..], text.as_bytes()].concat();
            planned += usize::from(fuzz_bodies::planned(&data).is_some());
            fuzz_bodies::pipeline(&data);
            fuzz_bodies::engine(&data);
        }
    }
    // The prefixes must reach the back ends, not stop at the loader.
    assert!(planned >= 50, "only {planned} inputs planned");
}
