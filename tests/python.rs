//! The Python package's tests (python/tests, pytest) against this build's command line.
//!
//! `SPIKEFAB_PY` names the Python of a venv where `pip install .` installed this checkout
//! (.ci/run makes /opt/venvs/spikefab-py). Without it the test is skipped, except under CI,
//! where it fails.

use crate::common;

use std::process::Command;

#[test]
fn pytest_suite() {
    let why = "SPIKEFAB_PY names no Python where `pip install .` installed spikefab";
    let Some(py) = common::require(std::env::var_os("SPIKEFAB_PY").ok_or(why.to_string()), "pytest_suite") else {
        return;
    };
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new(&py)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "python/tests"])
        .current_dir(root)
        .env("SPIKEFAB_BIN", env!("CARGO_BIN_EXE_spikefab"))
        .output()
        .expect("run pytest");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    println!("{text}");
    assert!(out.status.success(), "pytest failed:\n{text}");
    assert!(text.contains(" passed"), "pytest ran no test:\n{text}");
}
