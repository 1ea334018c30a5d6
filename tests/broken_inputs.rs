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

/// The fuzz targets that found the crashes above (fuzz/: a workspace of its own, built by
/// cargo-fuzz on a nightly toolchain, so `cargo test` never builds them) still compile
/// against the library: `cargo check` of every target, in a target folder of its own. They
/// went stale once unnoticed when a tensor's fields became private.
#[test]
fn fuzz_targets_compile() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let target_dir = root().join("target/fuzz-check");
    let out = std::process::Command::new(cargo)
        .args(["check", "--quiet", "--bins", "--manifest-path"])
        .arg(root().join("fuzz/Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .output()
        .expect("cargo runs");
    assert!(out.status.success(), "cargo check of fuzz/ failed:\n{}", String::from_utf8_lossy(&out.stderr));
}
