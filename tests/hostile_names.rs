//! Node and model names written by an attacker: every emitted text stays safe.
//!
//! Real models get hostile node names (newlines that end comments, preprocessor lines, comment
//! terminators, quotes, backslashes, NUL, shell/TCL/printf/VCD/HTML metacharacters, unicode and
//! bidi overrides, path separators, 100,000 characters) and a hostile file name, then go
//! through `compile --backend both` with co-simulation, C simulation and the HTML report, a
//! VCD trace, `inspect`, `plan` and `energy`. Every emitted file must parse (iverilog, Verilator
//! lint, `g++ -fsyntax-only`, the VCD reader), no marker command may run, and nothing may be
//! written outside the output folder.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{root, scratch, tool_or_skip};

/// Hostile names; `{M}` is replaced by the absolute marker path a successful injection
/// would create.
const HOSTILE: &[&str] = &[
    "a\n#include <cstdlib>\nstatic int x = std::system(\"touch {M}\");\n//",
    "b */ module evil; initial $system(\"touch {M}\"); endmodule /*",
    "c\\",
    "d\r\n`define X initial $system(\"touch {M}\");\n`X",
    "e\"; $system(\"touch {M}\"); \"",
    "f\0nul",
    "../../../../tmp/escape",
    "/abs/path/name",
    "Schicht_\u{e4}\u{f6}\u{fc}_\u{202e}txt.exe",
    "g$(touch {M})`touch {M}`",
    "h[exec touch {M}]",
    "i%s%n%x",
    "j $end $scope module evil $end",
    "<script>alert(1)</script>",
    "k'\";--",
    "",
    " ",
    "l\u{1b}[2J\u{1b}]0;pwned\u{7}",
    "m\t\u{b}\u{c}\u{85}\u{2028}",
];

fn hostile_names(marker: &Path, count: usize) -> Vec<String> {
    let m = marker.display().to_string();
    let long = format!("n{}", "x".repeat(100_000));
    let mut v: Vec<String> = HOSTILE.iter().map(|s| s.replace("{M}", &m)).collect();
    v.push(long.clone());
    v.push(long); // a duplicate after truncation
    v.into_iter().cycle().take(count).collect()
}

/// Converts `model` to JSON and renames every node (and edge end) with hostile names.
fn hostile_json(model: &str, dialect: &[&str], marker: &Path, dir: &Path) -> String {
    let json = dir.join("plain.json");
    let mut args = vec!["convert", model];
    args.extend(dialect);
    args.extend(["-o", json.to_str().unwrap()]);
    let (code, _, err) = common::spikefab(&args);
    assert_eq!(code, 0, "convert {model}: {err}");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    std::fs::remove_file(&json).unwrap();
    let nodes = v["nodes"].as_array_mut().unwrap();
    let names = hostile_names(marker, nodes.len());
    let mut map = std::collections::HashMap::new();
    for (n, new) in nodes.iter_mut().zip(&names) {
        // Distinct raw names (the IR requires them); the label may still collide.
        let new = format!("{new}{}", map.len());
        map.insert(n["name"].as_str().unwrap().to_string(), new.clone());
        n["name"] = serde_json::Value::String(new);
    }
    for e in v["edges"].as_array_mut().unwrap() {
        for end in e.as_array_mut().unwrap() {
            let new = map[end.as_str().unwrap()].clone();
            *end = serde_json::Value::String(new);
        }
    }
    serde_json::to_string(&v).unwrap()
}

fn run_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_spikefab")).args(args).current_dir(dir).output().expect("run spikefab");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut v = vec![];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() { v.extend(files_under(&p)) } else { v.push(p) }
    }
    v.sort();
    v
}

fn check(case: &str, model: &str, dialect: &[&str], inputs: &str, extra: &[&str]) {
    let base = scratch(&format!("hostile-{case}"));
    let marker = base.join("MARKER");
    let work = base.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let text = hostile_json(&root().join(model).display().to_string(), dialect, &marker, &base);
    // A hostile file name too (no '/' or NUL: the file system forbids them).
    let file = work.join("m\n`touch MARKER`$(touch MARKER) *\\ %s.json");
    std::fs::write(&file, text).unwrap();
    let model_arg = file.to_str().unwrap();
    let inputs = root().join(inputs);
    let inputs = inputs.to_str().unwrap();

    let mut args =
        vec!["compile", model_arg, "--inputs", inputs, "--backend", "both", "-o", "out", "--report", "out/report.html"];
    args.extend(["--cosim-samples", "4", "--csim-samples", "4", "--min-agreement", "0"]);
    args.extend(extra);
    let (code, out, err) = run_in(&work, &args);
    assert_eq!(code, 0, "{case}: compile failed\nstdout: {out}\nstderr: {err}");
    assert!(out.contains("spike- and cycle-exact"), "{case}: co-simulation not exact: {out}");
    assert!(out.contains("bit-exact"), "{case}: C simulation not exact: {out}");
    assert!(err.contains("node names held bytes outside") || out.contains("node names"), "{case}: no rename notice");

    let mut sim = vec!["simulate", model_arg, "--inputs", inputs, "--engine", "cycle", "--vcd", "out/trace.vcd"];
    sim.extend(extra.iter().filter(|a| a.starts_with("-T") || a.parse::<usize>().is_ok()));
    let (code, so, se) = run_in(&work, &sim);
    assert_eq!(code, 0, "{case}: simulate failed: {so}\n{se}");
    for cmd in ["inspect", "plan", "energy"] {
        let mut a = vec![cmd, model_arg];
        if cmd != "inspect" {
            a.extend(["--inputs", inputs]);
            a.extend(extra.iter().filter(|a| a.starts_with("-T") || a.parse::<usize>().is_ok()));
        }
        let (code, so, se) = run_in(&work, &a);
        assert_eq!(code, 0, "{case}: {cmd} failed: {so}\n{se}");
        for t in [&so, &se] {
            assert!(
                !t.contains('\u{1b}') && !t.contains('\0') && !t.contains('\u{202e}'),
                "{case}: {cmd} printed control text"
            );
            assert!(t.lines().all(|l| l.len() < 5000), "{case}: {cmd} printed an overlong line");
        }
    }

    assert!(!marker.exists(), "{case}: an injected command ran");
    // Everything written is inside the output folder (the model file is ours).
    for f in files_under(&base) {
        assert!(
            f.starts_with(work.join("out")) || f == file,
            "{case}: wrote {} outside the output folder",
            f.display()
        );
    }
    let out_dir = work.join("out");
    let files = files_under(&out_dir);
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        let Ok(t) = std::str::from_utf8(&bytes) else { continue };
        let name = f.display();
        if f.extension().is_some_and(|e| e == "json") {
            // Strings in JSON are escaped by construction; the file must parse.
            serde_json::from_str::<serde_json::Value>(t).unwrap_or_else(|e| panic!("{case}: {name}: {e}"));
            continue;
        }
        assert!(!t.contains('\0'), "{case}: {name} holds NUL");
        assert!(t.lines().all(|l| l.len() < 5000), "{case}: {name} has an overlong line");
        for bad in ["std::system(", "$system(", "<script", "`define X", "$(touch", "`touch", "[exec"] {
            assert!(!t.contains(bad), "{case}: {name} contains '{bad}'");
        }
    }
    // The VCD parses.
    let vcd = std::fs::File::open(out_dir.join("trace.vcd")).unwrap();
    let mut p = vcd::Parser::new(std::io::BufReader::new(vcd));
    let h = p.parse_header().unwrap_or_else(|e| panic!("{case}: trace.vcd: {e}"));
    assert!(h.find_scope(&["spikefab"]).is_some(), "{case}: VCD scope");
    for cmd in p {
        cmd.unwrap_or_else(|e| panic!("{case}: trace.vcd: {e}"));
    }
    // Every emitted Verilog file passes Verilator's lint; every C++ file g++'s parser.
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("report.json")).unwrap()).unwrap();
    let top = report["top"].as_str().unwrap().to_string();
    let vs: Vec<String> = files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "v") && !f.starts_with(out_dir.join("cosim")))
        .map(|f| f.file_name().unwrap().to_str().unwrap().to_string())
        .collect();
    if tool_or_skip("verilator", case) {
        for t in [top.clone(), format!("{top}_board")] {
            let mut a =
                vec!["--lint-only".to_string(), "-Wall".into(), "-Wno-DECLFILENAME".into(), "--top-module".into(), t];
            a.extend(vs.iter().filter(|v| !v.starts_with("tb")).cloned());
            let o = Command::new("verilator").args(&a).current_dir(&out_dir).output().unwrap();
            assert!(o.status.success(), "{case}: verilator lint: {}", String::from_utf8_lossy(&o.stderr));
        }
    }
    if tool_or_skip("iverilog", case) {
        let mut a = vec!["-g2005".to_string(), "-o".into(), "/dev/null".into()];
        a.extend(vs.iter().cloned());
        let o = Command::new("iverilog").args(&a).current_dir(&out_dir).output().unwrap();
        assert!(o.status.success(), "{case}: iverilog: {}", String::from_utf8_lossy(&o.stderr));
    }
    if tool_or_skip("g++", case) {
        let hls = out_dir.join("hls");
        for f in files_under(&hls).iter().filter(|f| f.extension().is_some_and(|e| e == "cpp")) {
            let o = Command::new("g++")
                .args(["-std=c++17", "-fsyntax-only", "-I", "."])
                .arg(f)
                .current_dir(&hls)
                .output()
                .unwrap();
            assert!(o.status.success(), "{case}: g++ {}: {}", f.display(), String::from_utf8_lossy(&o.stderr));
        }
    }
    assert!(!marker.exists(), "{case}: an injected command ran");
}

#[test]
fn hostile_names_in_a_binary_mlp_student() {
    check("mlp", "models/mlp_bw/mlp_bw.nir", &["--from", "snntorch"], "models/digits_test_x.npy", &["-T", "4"]);
}

#[test]
fn hostile_names_in_a_conv_pool_model() {
    check(
        "conv",
        "tests/data/nir/conv_pool_flatten.nir",
        &["--dt", "1"],
        "tests/data/nir/conv_pool_flatten.inputs.npy",
        &["-T", "4"],
    );
}
