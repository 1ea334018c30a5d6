//! The Python package's tests (python/tests, pytest) against this build's command line.
//!
//! `SPIKEFAB_PY` names the Python of a venv where `pip install .` installed this checkout
//! (.ci/run makes /opt/venvs/spikefab-py). Without it the test is skipped, except under CI,
//! where it fails.

use std::process::Command;

#[test]
fn pytest_suite() {
    let Some(py) = std::env::var_os("SPIKEFAB_PY") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but SPIKEFAB_PY names no Python with spikefab installed (see .ci/run)"
        );
        eprintln!("skipped: set SPIKEFAB_PY to a Python where `pip install .` installed spikefab");
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
