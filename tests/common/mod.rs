//! Shared test helpers: golden-case manifests (docs/conventions.md) and CLI runs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use spikefab::Model;
use spikefab::data::{InputBatch, read_npy};
use spikefab::ir::dialect::DialectOverrides;
use spikefab::ir::{Preset, ResetMode};
use spikefab::sim::reference::{self, RunOptions};

/// One golden case of a `cases.json` manifest.
#[derive(Debug, Clone, Deserialize)]
pub struct Case {
    pub name: String,
    pub model: String,
    pub inputs: String,
    pub expected: String,
    pub timesteps: usize,
    #[serde(default)]
    pub dt: Option<f64>,
    #[serde(default)]
    pub reset: Option<String>,
    #[serde(default)]
    pub fire_on_equal: Option<bool>,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub output: Option<String>,
    #[serde(default)]
    pub exact: bool,
    #[serde(default)]
    pub integration: Option<String>,
    #[serde(default)]
    pub cuba_input: Option<String>,
    #[serde(default)]
    pub multi_spike: Option<bool>,
    /// The membrane floor (`--v-min`: a number, "-threshold", "sinabs" or "none").
    #[serde(default)]
    pub v_min: Option<String>,
    #[serde(skip)]
    pub dir: PathBuf,
    /// Load with only the `from` preset (tests that presets alone reproduce a framework).
    #[serde(skip)]
    pub preset_only: bool,
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Cases of a manifest, with paths resolved against the manifest's folder.
pub fn cases(manifest: &Path) -> Vec<Case> {
    let text = std::fs::read_to_string(manifest).unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
    let mut v: Vec<Case> = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
    for c in &mut v {
        c.dir = manifest.parent().unwrap().to_path_buf();
    }
    v
}

impl Case {
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// The dialect the case states; with `preset_only`, just its `from` preset and T.
    pub fn overrides_preset_only(&self) -> DialectOverrides {
        let mut o = self.overrides();
        o.dt = None;
        o.reset = None;
        o.fire_on_equal = false;
        o.integration = None;
        o.cuba_input = None;
        o.spikes = None;
        o.v_min = None;
        o
    }

    pub fn overrides(&self) -> DialectOverrides {
        let reset = self.reset.as_deref().map(|r| match r {
            "zero" => ResetMode::Zero,
            "subtract" => ResetMode::Subtract,
            "subtract-undecayed" => ResetMode::SubtractUndecayed,
            other => panic!("case {}: unknown reset {other}", self.name),
        });
        let from = self.from.as_deref().map(|p| match p {
            "snntorch" => Preset::Snntorch,
            "spikingjelly" => Preset::Spikingjelly,
            "norse" => Preset::Norse,
            "sinabs" => Preset::Sinabs,
            "nir" => Preset::Nir,
            other => panic!("case {}: unknown preset {other}", self.name),
        });
        use spikefab::ir::dialect::{CubaInput, Integration, SpikeMode};
        DialectOverrides {
            from,
            dt: self.dt,
            reset,
            fire_on_equal: self.fire_on_equal.unwrap_or(false),
            timesteps: Some(self.timesteps),
            // A case states every switch its framework used; absent means the NIR default.
            integration: Some(match self.integration.as_deref().unwrap_or("euler") {
                "euler" => Integration::Euler,
                "exact" => Integration::Exact,
                "exact-unnormalised" => Integration::ExactUnnormalised,
                other => panic!("case {}: unknown integration {other}", self.name),
            }),
            cuba_input: Some(match self.cuba_input.as_deref().unwrap_or("scaled") {
                "scaled" => CubaInput::Scaled,
                "unit" => CubaInput::Unit,
                other => panic!("case {}: unknown cuba_input {other}", self.name),
            }),
            spikes: Some(if self.multi_spike.unwrap_or(false) { SpikeMode::Multi } else { SpikeMode::Single }),
            initial_v: None,
            v_min: Some(match self.v_min.as_deref() {
                None => spikefab::ir::dialect::VMin::None,
                Some(s) => s.parse().unwrap_or_else(|e| panic!("case {}: {e}", self.name)),
            }),
        }
    }

    pub fn load(&self) -> Model {
        let o = if self.preset_only { self.overrides_preset_only() } else { self.overrides() };
        Model::load(&self.path(&self.model), &o).unwrap_or_else(|e| panic!("case {}: {e}", self.name))
    }

    pub fn batch(&self, m: &Model) -> InputBatch {
        let input = m.graph.the_input().unwrap();
        InputBatch::load(&self.path(&self.inputs), &m.info.out_shape[input.index()])
            .unwrap_or_else(|e| panic!("case {}: {e}", self.name))
    }

    pub fn expected(&self) -> (Vec<usize>, Vec<f64>) {
        let a = read_npy(&self.path(&self.expected)).unwrap_or_else(|e| panic!("case {}: {e}", self.name));
        (a.shape, a.data)
    }
}

/// Outcome of comparing the reference engine with a golden file.
#[derive(Debug)]
pub struct Comparison {
    pub elements: usize,
    pub differing: usize,
    pub max_abs_diff: f64,
    pub class_agreement: f64,
}

pub fn compare_reference(c: &Case, f64: bool) -> Comparison {
    let m = c.load();
    let batch = c.batch(&m);
    let output = m.graph.select_output(None).unwrap();
    let steps = batch.steps(Some(c.timesteps)).unwrap();
    let r = reference::run(&m.graph, &m.info, m.dialect(), &batch, &RunOptions { steps, f64, output }, None)
        .unwrap_or_else(|e| panic!("case {}: {e}", c.name));
    let (shape, want) = c.expected();
    assert_eq!(shape[0], batch.n, "case {}: expected batch size", c.name);
    assert_eq!(shape[1], steps, "case {}: expected steps", c.name);
    assert_eq!(want.len(), r.outputs.data.len(), "case {}: expected element count", c.name);
    let mut differing = 0;
    let mut max_abs_diff = 0.0f64;
    for (a, b) in r.outputs.data.iter().zip(&want) {
        if a != b {
            differing += 1;
        }
        max_abs_diff = max_abs_diff.max((a - b).abs());
    }
    let got = r.outputs.classes();
    let mut exp = r.outputs.clone();
    exp.data = want;
    let class_agreement = spikefab::data::agreement(&got, &exp.classes());
    Comparison { elements: r.outputs.data.len(), differing, max_abs_diff, class_agreement }
}

/// Runs the spikefab binary; returns (exit code, stdout, stderr).
pub fn spikefab(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_spikefab")).args(args).output().expect("run spikefab");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The ECP5 tools (YoWASP's, or native ones), found without installing them, as [`require`]
/// gives them: missing, the test fails in CI and is skipped elsewhere.
pub fn ecp5_tools(test: &str) -> Option<spikefab::flow::yowasp::Tools> {
    use spikefab::flow::yowasp::{Env, Family, Lookup, lookup};
    let found = match lookup(Family::Ecp5, &Env::from_process()) {
        Ok(Lookup::Found(t)) => Ok(t),
        _ => Err("the ECP5 tools are not installed (SPIKEFAB_YOWASP_BIN, docs/fpga-flows.md)".to_string()),
    };
    require(found, test)
}

/// What a test needs from the machine (a tool, a simulator's Python, a cluster): `Ok` gives it;
/// `Err(why)` fails the test when CI is set and otherwise skips it with `why` printed. The one
/// place a test may skip.
pub fn require<T>(found: Result<T, String>, test: &str) -> Option<T> {
    match found {
        Ok(t) => Some(t),
        Err(why) if std::env::var_os("CI").is_some() => panic!("{test}: required in CI: {why} (.ci/run installs it)"),
        Err(why) => {
            eprintln!("SKIPPED {test}: {why}");
            None
        }
    }
}

/// True when `tool` is installed ([`require`]).
pub fn tool_or_skip(tool: &str, test: &str) -> bool {
    let why = || format!("{tool} is not installed (Debian package {})", spikefab::flow::package_of(tool));
    require(if spikefab::flow::have(tool) { Ok(()) } else { Err(why()) }, test).is_some()
}

/// Verilator's `--lint-only -Wall` on an emitted design written to the scratch folder `dir`,
/// its core and its board wrapper as tops: no warning.
pub fn assert_lint_clean(d: &spikefab::back::verilog::Design, dir: &str, what: &str) {
    let dir = scratch(dir);
    spikefab::flow::write_design(d, &dir).unwrap();
    let srcs = spikefab::flow::ice40::sources(d);
    for top in [d.module.clone(), format!("{}_board", d.module)] {
        let mut args = vec!["--lint-only", "-Wall", "--top-module", top.as_str()];
        args.extend(srcs.iter().map(String::as_str));
        let out = Command::new("verilator").args(&args).current_dir(&dir).output().unwrap();
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && !text.contains("%Warning"), "{what} ({top}): {text}");
    }
}

/// Yosys's SB_LUT4 count for the design compiled into `dir`, synthesised by its own script
/// `<module>.ys` (as `build.sh` runs it).
pub fn yosys_lut4(dir: &Path, module: &str) -> u64 {
    let ok = Command::new("yosys")
        .args(["-q", "-l", "yosys.log", "-s", &format!("{module}.ys")])
        .current_dir(dir)
        .status()
        .unwrap()
        .success();
    assert!(ok, "yosys failed in {}", dir.display());
    let log = std::fs::read_to_string(dir.join("yosys.log")).unwrap();
    let line = log.lines().rev().find(|l| l.trim_start().starts_with("SB_LUT4")).expect("SB_LUT4 in yosys.log");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Checks the committed iCE40 logic model against the open flow on the UP5K design compiled
/// into `dir` (its plan.json's features, what `compile` wrote) and synthesised there by
/// [`yosys_lut4`]: the LUT4s it predicts are within the model's stated error of `yosys`, and
/// the logic cells within its stated error of what nextpnr's packer makes of the netlist.
pub fn assert_logic_predicted(dir: &Path, module: &str, yosys: u64) {
    let target = spikefab::target::Target::load("ice40-up5k").unwrap();
    let ok = Command::new("nextpnr-ice40")
        .args(&target.device.nextpnr_args)
        .args(["--json", &format!("{module}.json"), "--pcf", &format!("{module}.pcf")])
        .args(["--pack-only", "--report", "pack.json", "-q"])
        .current_dir(dir)
        .status()
        .unwrap()
        .success();
    assert!(ok, "nextpnr-ice40 --pack-only failed in {}", dir.display());
    let pack: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("pack.json")).unwrap()).unwrap();
    let packed = pack["utilization"]["ICESTORM_LC"]["used"].as_u64().unwrap();
    assert_logic_within(dir, "ice40-up5k", yosys, packed);
}

/// Checks the committed logic model of `target`'s family on the design compiled into `dir`
/// for `target` (its plan.json's features, what `compile` wrote, priced by the library's own
/// `Coefficients::predict`): the LUT4s it predicts within the model's stated error on the
/// device of `lut4` (synthesis), the packed logic cells of `lc` (nextpnr).
pub fn assert_logic_within(dir: &Path, target: &str, lut4: u64, lc: u64) {
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("plan.json")).unwrap()).unwrap();
    assert_eq!(plan["target"], target);
    let target = spikefab::target::Target::load(target).unwrap();
    let c = spikefab::hw::logic::Coefficients::of(target.family).unwrap();
    // Every feature, none unknown: the library's own prediction of what compile wrote.
    let f: spikefab::hw::logic::Features = serde_json::from_value(plan["logic_features"].clone()).unwrap();
    let predicted = c.predict(&f);
    let (lut4_err, lc_err) = c.error_on(&target.name);
    for (what, predicted, measured, stated) in
        [("LUT4", predicted.lut4, lut4, lut4_err), ("logic cells", predicted.lc, lc, lc_err)]
    {
        let err = (predicted as f64 - measured as f64) / measured as f64;
        assert!(
            err.abs() <= stated,
            "{}: predicted {predicted} {what}, measured {measured}: error {err:+.3} beyond the stated {stated}",
            dir.display()
        );
    }
}

/// What `plan --json` makes of `model` (its arguments) on the target file `toml`.
pub fn plan_on(model: &[&str], toml: &Path) -> serde_json::Value {
    let mut args = vec!["plan"];
    args.extend(model);
    args.extend(["--target", toml.to_str().unwrap(), "--json"]);
    let (code, stdout, stderr) = spikefab(&args);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    serde_json::from_str(&stdout).unwrap()
}

/// A target file in `dir`: the UP5K (schedule auto) named `up5k-small`, with `luts` LUT4s.
pub fn up5k_with_luts(dir: &Path, luts: u64) -> PathBuf {
    let up5k = std::fs::read_to_string(root().join("targets/ice40-up5k.toml")).unwrap();
    let small = up5k
        .replace("name = \"ice40-up5k\"", "name = \"up5k-small\"")
        .replace("luts = 5280 ", &format!("luts = {luts} "));
    assert!(small.contains(&format!("luts = {luts} ")) && small.contains("schedule = \"auto\""));
    let toml = dir.join("up5k-small.toml");
    std::fs::write(&toml, small).unwrap();
    toml
}

/// Each projection's mode in a plan summary (`plan --json`, report.json's `plan`), in order.
pub fn plan_modes(p: &serde_json::Value) -> Vec<String> {
    p["layers"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|l| l["projections"].as_array().unwrap().iter().map(|q| q["mode"].as_str().unwrap().to_string()))
        .collect()
}

/// A fresh scratch folder under target/ for a test.
pub fn scratch(name: &str) -> PathBuf {
    let d = root().join("target").join("test-scratch").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The example students with the plan options their RTL tests use.
pub fn students() -> Vec<(Case, Vec<&'static str>)> {
    let all = cases(&root().join("models/cases.json"));
    all.into_iter()
        .map(|c| {
            // The conv student gets more lanes so its co-simulation stays short.
            let extra = if c.name == "conv_bw" { vec!["--lanes", "8"] } else { vec![] };
            (c, extra)
        })
        .collect()
}

/// The students whose designs the every-student co-simulations and C simulations run:
/// [`students`] without `ensemble_bw8`, whose 8-student design takes about 7x ensemble_bw's
/// cycles per digit and would double each of those tests. Its RTL and HLS C++ are
/// co-simulated under student masks and the cascade in tests/cascade.rs; the engines' tests
/// run it with every other student.
pub fn rtl_students() -> Vec<(Case, Vec<&'static str>)> {
    students().into_iter().filter(|(c, _)| c.name != "ensemble_bw8").collect()
}

/// Lowers a case to a plan with CLI-like options.
pub fn plan_for(c: &Case, lanes: Option<usize>) -> (spikefab::Model, spikefab::hw::Plan, InputBatch) {
    let m = c.load();
    let batch = c.batch(&m);
    let t = spikefab::target::Target::load("ice40-up5k").unwrap();
    let mut o = spikefab::hw::PlanOptions::new(t, c.timesteps);
    o.settings.lanes = lanes;
    o.input_stats = Some(spikefab::quant::InputStats::of(&batch));
    let plan = spikefab::hw::lower(&m, &o).unwrap_or_else(|e| panic!("{}: {e}", c.name));
    (m, plan, batch)
}

/// `plan` (of [`plan_for`] with `lanes`) with its quantised network changed by `f` and laid out
/// again the same way: the layout never changes the arithmetic, so tests that force it (a
/// width too narrow, early exit on) change the network and lay it out anew.
pub fn relayout(
    plan: &spikefab::hw::Plan,
    lanes: Option<usize>,
    f: impl FnOnce(&mut spikefab::quant::Network),
) -> spikefab::hw::Plan {
    let mut net = plan.quantised();
    f(&mut net);
    let t = spikefab::target::Target::load(&plan.target).unwrap();
    spikefab::hw::layout(net, &t, lanes, plan.schedule)
}

/// Compares emitted files with the committed snapshot in `tests/golden/<dir>` (every file and
/// nothing else); `SPIKEFAB_BLESS=1` rewrites the snapshot instead.
pub fn check_golden(dir: &str, files: &[(String, String)]) {
    let gold = root().join("tests/golden").join(dir);
    let bless = std::env::var_os("SPIKEFAB_BLESS").is_some();
    if bless {
        let _ = std::fs::remove_dir_all(&gold);
        std::fs::create_dir_all(&gold).unwrap();
    }
    let mut names = vec![];
    for (name, text) in files {
        names.push(name.clone());
        let p = gold.join(name);
        if bless {
            std::fs::write(&p, text).unwrap();
        } else {
            let want = std::fs::read_to_string(&p)
                .unwrap_or_else(|_| panic!("missing golden {} (SPIKEFAB_BLESS=1)", p.display()));
            assert_eq!(&want, text, "{name} differs from tests/golden/{dir} (SPIKEFAB_BLESS=1 to accept)");
        }
    }
    let mut on_disk: Vec<String> =
        std::fs::read_dir(&gold).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    on_disk.sort();
    names.sort();
    assert_eq!(on_disk, names);
}

/// `m` rebuilt by hand without the students of `e` not in `keep`: every node that reaches the
/// merge only through them goes, with its edges (an independent rebuild to check pruning and
/// run-time masks against).
pub fn without_students(m: &Model, e: &spikefab::passes::students::Ensemble, keep: &[usize]) -> Model {
    let drop: Vec<&String> = e.students.iter().filter(|s| !keep.contains(&s.index)).flat_map(|s| &s.nodes).collect();
    let mut g = spikefab::ir::Graph {
        g: Default::default(),
        dialect: m.graph.dialect.clone(),
        provenance: m.graph.provenance.clone(),
    };
    let mut map = std::collections::HashMap::new();
    for i in m.graph.g.node_indices() {
        if !drop.contains(&&m.graph.g[i].name) {
            map.insert(i, g.add_node(m.graph.g[i].name.clone(), m.graph.g[i].op.clone()));
        }
    }
    for (s, t) in m.graph.edges() {
        if let (Some(&a), Some(&b)) = (map.get(&s), map.get(&t)) {
            g.add_edge(a, b);
        }
    }
    Model::from_graph(&m.path, g, &DialectOverrides::default()).unwrap()
}

/// A tracer that keeps nothing (for the cycle engine's traced runs).
pub struct NoTrace;

impl spikefab::sim::cycle::Tracer for NoTrace {
    fn neuron(&mut self, _: u64, _: usize, _: usize, _: i64, _: bool) {}
    fn step(&mut self, _: u64, _: usize) {}
}
