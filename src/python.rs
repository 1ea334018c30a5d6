//! The Python extension module `spikefab._spikefab` (cargo feature `python`, built by maturin).
//!
//! A thin layer over [`crate::driver`]: the same functions the command line calls, with the
//! options as one keyword dictionary that the Python package (`python/spikefab/`) assembles
//! from typed signatures. Inputs arrive as C-ordered float64 numpy arrays; outputs leave as
//! numpy arrays that take over the engine's buffer (no copy). Results are the JSON the command
//! prints with `--json`, parsed on the Python side. Errors are `SpikefabError`s carrying the
//! command line's message; a panic becomes a `SpikefabError` too, never a crash.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray1, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use serde::Deserialize;

use crate::Model;
use crate::data::{Array, InputBatch};
use crate::driver::{
    self, Backend, CompileOptions, CosimSettings, Criterion, Engine, PassSettings, PlanSettings, Quiet,
    SimulateOptions, VcdSettings,
};
use crate::flow::cosim::Simulator;
use crate::ir::dialect::{CubaInput, DialectOverrides, InitialV, Integration, Preset, ResetMode, SpikeMode};

pyo3::create_exception!(
    _spikefab,
    SpikefabError,
    PyException,
    "A spikefab error; `exit_code` is what the command line exits with (2 bad input, 1 a tool)."
);

/// The command line's message of an error: its chain, `: `-joined, control characters removed.
fn message(e: impl Into<anyhow::Error>) -> String {
    let msg = format!("{:#}", e.into());
    msg.lines().map(|l| crate::names::text(l, 4000)).collect::<Vec<_>>().join("\n")
}

fn error(py: Python<'_>, msg: String, code: u8) -> PyErr {
    let e = SpikefabError::new_err(msg);
    // The exit code rides along as an attribute; setting it cannot fail on a fresh exception.
    let _ = e.value(py).setattr("exit_code", code);
    e
}

fn usage(msg: impl Into<String>) -> driver::Error {
    driver::Error::Usage(msg.into())
}

/// Runs `f` without the GIL; its errors and panics become `SpikefabError`s.
fn run<T: Send>(py: Python<'_>, f: impl FnOnce() -> Result<T, driver::Error> + Send) -> PyResult<T> {
    let r = py.detach(|| catch_unwind(AssertUnwindSafe(f)));
    outcome(py, r)
}

/// Runs `f` holding the GIL (it reads Python objects); errors and panics as in [`run`].
fn held<T>(py: Python<'_>, f: impl FnOnce() -> Result<T, driver::Error>) -> PyResult<T> {
    outcome(py, catch_unwind(AssertUnwindSafe(f)))
}

fn outcome<T>(py: Python<'_>, r: std::thread::Result<Result<T, driver::Error>>) -> PyResult<T> {
    match r {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => {
            let code = e.exit_code();
            Err(error(py, message(e), code))
        }
        Err(p) => {
            let what = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(error(py, format!("internal error (please report): {what}"), 101))
        }
    }
}

/// Every option any function takes, as the Python layer passes them (CLI names, `_` for `-`).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct Options {
    // Dialect.
    from: Option<Preset>,
    dt: Option<f64>,
    reset: Option<ResetMode>,
    fire_on_equal: bool,
    timesteps: Option<usize>,
    integration: Option<Integration>,
    cuba_input: Option<CubaInput>,
    spikes: Option<SpikeMode>,
    initial_v: Option<InitialV>,
    // Plan.
    target: Option<String>,
    lanes: Option<usize>,
    weight_bits: Option<u32>,
    input_bits: Option<u32>,
    frac_bits: Option<u32>,
    leak_bits: Option<u32>,
    membrane_bits: Option<u32>,
    input_scale: Option<f64>,
    early_exit: bool,
    clock_mhz: Option<f64>,
    schedule: Option<crate::target::ScheduleChoice>,
    // Passes.
    no_simplify: bool,
    keep_students: Option<usize>,
    students: Vec<String>,
    energy_budget: Option<f64>,
    auto_timesteps: bool,
    min_agreement: Option<f64>,
    max_accuracy_drop: Option<f64>,
    select_by: Option<String>,
    // Commands.
    samples: Option<usize>,
    engine: Option<String>,
    f64: bool,
    output: Option<String>,
    vcd: Option<PathBuf>,
    vcd_sample: Option<usize>,
    vcd_neurons: Option<usize>,
    out_dir: Option<PathBuf>,
    backend: Option<String>,
    bitstream: bool,
    cosim_samples: Option<usize>,
    csim_samples: Option<usize>,
    simulator: Option<String>,
    cosim_budget: Option<f64>,
    report: Option<PathBuf>,
    raster_sample: Option<usize>,
    compare: Vec<String>,
    lanes_sweep: Vec<usize>,
}

impl Options {
    fn parse(json: &str) -> Result<Options, driver::Error> {
        serde_json::from_str(json).map_err(|e| {
            // Name the option at fault: try each alone.
            let fields: serde_json::Map<String, serde_json::Value> = serde_json::from_str(json).unwrap_or_default();
            let bad = fields.into_iter().find_map(|(k, v)| {
                let one = serde_json::Value::Object([(k.clone(), v)].into_iter().collect());
                serde_json::from_value::<Options>(one).err().map(|e| (k, e))
            });
            match bad {
                Some((k, e)) => usage(format!("option {}: {e}", if k == "from" { "from_" } else { &k })),
                None => usage(format!("options: {e}")),
            }
        })
    }

    fn dialect(&self) -> DialectOverrides {
        DialectOverrides {
            from: self.from,
            dt: self.dt,
            reset: self.reset,
            fire_on_equal: self.fire_on_equal,
            timesteps: self.timesteps,
            integration: self.integration,
            cuba_input: self.cuba_input,
            spikes: self.spikes,
            initial_v: self.initial_v,
        }
    }

    fn plan(&self) -> PlanSettings {
        let mut p = PlanSettings::new(self.target.clone().unwrap_or_else(|| "ice40-up5k".into()));
        p.lanes = self.lanes;
        p.weight_bits = self.weight_bits.unwrap_or(p.weight_bits);
        p.input_bits = self.input_bits.unwrap_or(p.input_bits);
        p.frac_bits = self.frac_bits.unwrap_or(p.frac_bits);
        p.leak_bits = self.leak_bits.unwrap_or(p.leak_bits);
        p.membrane_bits = self.membrane_bits;
        p.input_scale = self.input_scale;
        p.early_exit = self.early_exit;
        p.clock_mhz = self.clock_mhz;
        p.schedule = self.schedule;
        p
    }

    fn passes(&self) -> Result<PassSettings, driver::Error> {
        let select_by = match self.select_by.as_deref() {
            None => None,
            Some("accuracy") => Some(Criterion::Accuracy),
            Some("agreement") => Some(Criterion::Agreement),
            Some(x) => return Err(usage(format!("select_by '{x}': expected 'accuracy' or 'agreement'"))),
        };
        Ok(PassSettings {
            no_simplify: self.no_simplify,
            keep_students: self.keep_students,
            students: self.students.clone(),
            energy_budget: self.energy_budget,
            auto_timesteps: self.auto_timesteps,
            min_agreement: self.min_agreement,
            max_accuracy_drop: self.max_accuracy_drop,
            calib: None,
            calib_labels: None,
            select_by,
        })
    }
}

/// A loaded, validated model with its dialect resolved.
#[pyclass(name = "Model", module = "spikefab._spikefab", frozen)]
struct PyModel {
    model: Model,
}

#[pymethods]
impl PyModel {
    /// The file the model was read from (or the name given to an in-memory graph).
    #[getter]
    fn path(&self) -> String {
        self.model.path.display().to_string()
    }

    /// Defaults the loader applied, options that override what the file fixes.
    #[getter]
    fn warnings(&self) -> Vec<String> {
        self.model.warnings.clone()
    }

    /// The resolved dialect as JSON.
    fn dialect_json(&self) -> String {
        serde_json::to_string(self.model.dialect()).expect("plain data")
    }

    /// The dialect in words, as `simulate` prints it.
    #[getter]
    fn dialect_text(&self) -> String {
        self.model.dialect().describe()
    }

    /// The shape of one input sample (the model's single Input), or `None`.
    #[getter]
    fn input_shape(&self) -> Option<Vec<usize>> {
        let g = &self.model.graph;
        g.the_input().ok().map(|i| self.model.info.out_shape[i.index()].clone())
    }

    fn __repr__(&self) -> String {
        format!("spikefab.Model({:?}, {})", self.path(), self.model.dialect().describe())
    }
}

/// Loads a model file (.nir, .json, .onnx) with the dialect options in `options` (JSON);
/// `name` replaces the path the model reports (for a graph written to a temporary file).
#[pyfunction]
#[pyo3(signature = (path, options, name=None))]
fn load(py: Python<'_>, path: PathBuf, options: &str, name: Option<String>) -> PyResult<PyModel> {
    let model = run(py, || {
        let o = Options::parse(options)?;
        // The message exactly as the command line prints a load error.
        let load = |e: crate::model::LoadError| usage(message(e));
        let graph = crate::front::load(&path).map_err(|e| load(e.into()))?;
        let shown = name.map(PathBuf::from).unwrap_or_else(|| path.clone());
        Model::from_graph(&shown, graph, &o.dialect()).map_err(load)
    })?;
    Ok(PyModel { model })
}

/// The pass settings of `o`, with the calibration inputs and labels the passes choose on.
fn pass_settings(
    o: &Options,
    m: &Model,
    calib: Option<&PyReadonlyArrayDyn<'_, f64>>,
    calib_labels: Option<&PyReadonlyArray1<'_, i64>>,
) -> Result<PassSettings, driver::Error> {
    let mut p = o.passes()?;
    if let Some(c) = calib {
        let b = batch(m, c, None)?;
        p.calib_labels = labels(calib_labels, b.n)?;
        p.calib = Some(b);
    } else if calib_labels.is_some() {
        return Err(usage("calib_labels needs calib"));
    }
    Ok(p)
}

/// The inputs as a batch for `m`'s Input: N x shape (same every step) or N x T x shape.
fn batch(m: &Model, x: &PyReadonlyArrayDyn<'_, f64>, samples: Option<usize>) -> Result<InputBatch, driver::Error> {
    let input = m.graph.the_input().map_err(|e| usage(format!("{}: {e}", m.path.display())))?;
    let data: Vec<f64> = match x.as_slice() {
        Ok(s) => s.to_vec(),
        Err(_) => x.as_array().iter().copied().collect(),
    };
    if let Some(bad) = data.iter().find(|v| !v.is_finite()) {
        return Err(usage(format!("inputs: the value {bad} is not finite")));
    }
    let a = Array { shape: x.shape().to_vec(), data };
    let b = InputBatch::from_array(Path::new("inputs"), a, &m.info.out_shape[input.index()])?;
    Ok(match samples {
        Some(n) => b.take(n),
        None => b,
    })
}

fn labels(y: Option<&PyReadonlyArray1<'_, i64>>, n: usize) -> Result<Option<Vec<usize>>, driver::Error> {
    let Some(y) = y else { return Ok(None) };
    let y = y.as_array();
    if y.len() < n {
        return Err(usage(format!("labels: {} labels for {n} inputs", y.len())));
    }
    y.iter()
        .take(n)
        .map(|&v| usize::try_from(v).map_err(|_| usage(format!("labels: {v} is not a class index"))))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn to_json(v: &serde_json::Value) -> String {
    serde_json::to_string(v).expect("plain data")
}

/// Runs the reference or cycle engine: the outputs (`N x T x output shape`, float64, the
/// engine's own buffer) and the `simulate --json` document.
#[pyfunction]
#[pyo3(signature = (model, inputs, labels_=None, options="{}", calib=None, calib_labels=None))]
fn simulate<'py>(
    py: Python<'py>,
    model: &PyModel,
    inputs: PyReadonlyArrayDyn<'py, f64>,
    labels_: Option<PyReadonlyArray1<'py, i64>>,
    options: &str,
    calib: Option<PyReadonlyArrayDyn<'py, f64>>,
    calib_labels: Option<PyReadonlyArray1<'py, i64>>,
) -> PyResult<(Bound<'py, PyAny>, String)> {
    let o = held(py, || Options::parse(options))?;
    let m = model.model.clone();
    let passes = held(py, || pass_settings(&o, &m, calib.as_ref(), calib_labels.as_ref()))?;
    let b = held(py, || batch(&m, &inputs, o.samples))?;
    let l = held(py, || labels(labels_.as_ref(), b.n))?;
    let (data, shape, json) = run(py, || {
        let engine = match o.engine.as_deref().unwrap_or("reference") {
            "reference" => Engine::Reference,
            "cycle" => Engine::Cycle,
            x => return Err(usage(format!("engine '{x}': expected 'reference' or 'cycle'"))),
        };
        let so = SimulateOptions {
            engine,
            f64: o.f64,
            output: o.output.clone(),
            vcd: o.vcd.clone().map(|path| VcdSettings {
                path,
                sample: o.vcd_sample.unwrap_or(0),
                neurons: o.vcd_neurons.unwrap_or(32),
            }),
        };
        let s = driver::simulate(m, &b, l.as_deref(), &passes, &o.plan(), &so, &Quiet)?;
        let json = to_json(&s.json());
        let mut shape = vec![s.outputs.n, s.outputs.steps];
        shape.extend(&s.outputs.shape);
        Ok((s.outputs.data, shape, json))
    })?;
    let flat = PyArray1::from_vec(py, data);
    let arr = flat.reshape(shape)?;
    Ok((arr.into_any(), json))
}

/// The reference engine against the hardware: the `verify --json` document and why the check
/// failed (`None` when it passed).
#[pyfunction]
#[pyo3(signature = (model, inputs, labels_=None, options="{}", calib=None, calib_labels=None))]
fn verify<'py>(
    py: Python<'py>,
    model: &PyModel,
    inputs: PyReadonlyArrayDyn<'py, f64>,
    labels_: Option<PyReadonlyArray1<'py, i64>>,
    options: &str,
    calib: Option<PyReadonlyArrayDyn<'py, f64>>,
    calib_labels: Option<PyReadonlyArray1<'py, i64>>,
) -> PyResult<(String, Option<String>)> {
    let o = held(py, || Options::parse(options))?;
    let m = model.model.clone();
    let passes = held(py, || pass_settings(&o, &m, calib.as_ref(), calib_labels.as_ref()))?;
    let b = held(py, || batch(&m, &inputs, o.samples))?;
    let l = held(py, || labels(labels_.as_ref(), b.n))?;
    run(py, || {
        let c = driver::check(m, &b, l.as_deref(), &passes, &o.plan(), &Quiet)?;
        Ok((to_json(&c.json()), c.failure()))
    })
}

/// Compiles into `out_dir`: the report (what `report.json` holds) as JSON.
#[pyfunction]
#[pyo3(signature = (model, inputs=None, labels_=None, options="{}", calib=None, calib_labels=None))]
fn compile<'py>(
    py: Python<'py>,
    model: &PyModel,
    inputs: Option<PyReadonlyArrayDyn<'py, f64>>,
    labels_: Option<PyReadonlyArray1<'py, i64>>,
    options: &str,
    calib: Option<PyReadonlyArrayDyn<'py, f64>>,
    calib_labels: Option<PyReadonlyArray1<'py, i64>>,
) -> PyResult<String> {
    let o = held(py, || Options::parse(options))?;
    let m = model.model.clone();
    let passes = held(py, || pass_settings(&o, &m, calib.as_ref(), calib_labels.as_ref()))?;
    let b = match &inputs {
        Some(x) => Some(held(py, || batch(&m, x, o.samples))?),
        None => None,
    };
    let l = match &b {
        Some(b) => held(py, || labels(labels_.as_ref(), b.n))?,
        None if labels_.is_some() => return Err(error(py, "labels need inputs".into(), 2)),
        None => None,
    };
    run(py, || {
        let out_dir = o.out_dir.clone().ok_or_else(|| usage("give out_dir"))?;
        let mut c = CompileOptions::new(o.plan(), out_dir);
        c.passes = passes;
        c.inputs = b;
        c.labels = l;
        c.backend = match o.backend.as_deref().unwrap_or("verilog") {
            "verilog" => Backend::Verilog,
            "hls" => Backend::Hls,
            "both" => Backend::Both,
            x => return Err(usage(format!("backend '{x}': expected 'verilog', 'hls' or 'both'"))),
        };
        c.bitstream = o.bitstream;
        let simulator = match o.simulator.as_deref().unwrap_or("auto") {
            "auto" => None,
            "iverilog" => Some(Simulator::Iverilog),
            "verilator" => Some(Simulator::Verilator),
            x => return Err(usage(format!("simulator '{x}': expected 'auto', 'iverilog' or 'verilator'"))),
        };
        c.cosim = CosimSettings {
            samples: o.cosim_samples.unwrap_or(16),
            simulator,
            budget_s: o.cosim_budget.unwrap_or(600.0),
        };
        c.csim_samples = o.csim_samples;
        c.html_report = o.report.clone();
        c.raster_sample = o.raster_sample.unwrap_or(0);
        let r = driver::compile(&m, &c, &Quiet)?;
        Ok(serde_json::to_string(&r).expect("plain data"))
    })
}

/// Energy per inference: the `energy --json` document.
#[pyfunction]
#[pyo3(signature = (model, inputs, labels_=None, options="{}", calib=None, calib_labels=None))]
fn energy<'py>(
    py: Python<'py>,
    model: &PyModel,
    inputs: PyReadonlyArrayDyn<'py, f64>,
    labels_: Option<PyReadonlyArray1<'py, i64>>,
    options: &str,
    calib: Option<PyReadonlyArrayDyn<'py, f64>>,
    calib_labels: Option<PyReadonlyArray1<'py, i64>>,
) -> PyResult<String> {
    let o = held(py, || Options::parse(options))?;
    let m = model.model.clone();
    let passes = held(py, || pass_settings(&o, &m, calib.as_ref(), calib_labels.as_ref()))?;
    let b = held(py, || batch(&m, &inputs, o.samples))?;
    let l = held(py, || labels(labels_.as_ref(), b.n))?;
    run(py, || {
        let report = o.report.clone().map(|p| (p, o.raster_sample.unwrap_or(0)));
        let e = driver::energy(m, &b, l.as_deref(), &passes, &o.plan(), &o.compare, report, &Quiet)?;
        Ok(to_json(&e.json()))
    })
}

/// The accuracy-energy trade-off: the `explore --json` document.
#[pyfunction]
#[pyo3(signature = (model, calib, labels_=None, options="{}"))]
fn explore<'py>(
    py: Python<'py>,
    model: &PyModel,
    calib: PyReadonlyArrayDyn<'py, f64>,
    labels_: Option<PyReadonlyArray1<'py, i64>>,
    options: &str,
) -> PyResult<String> {
    let o = held(py, || Options::parse(options))?;
    let m = model.model.clone();
    let b = held(py, || batch(&m, &calib, o.samples))?;
    let l = held(py, || labels(labels_.as_ref(), b.n))?;
    run(py, || {
        let x = driver::explore(
            m,
            &b,
            l.as_deref(),
            &o.plan(),
            &o.lanes_sweep,
            o.no_simplify,
            o.report.as_deref(),
            &Quiet,
        )?;
        Ok(to_json(&x.json()))
    })
}

/// The extension module.
#[pymodule]
fn _spikefab(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("SpikefabError", m.py().get_type::<SpikefabError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<PyModel>()?;
    m.add_function(wrap_pyfunction!(load, m)?)?;
    m.add_function(wrap_pyfunction!(simulate, m)?)?;
    m.add_function(wrap_pyfunction!(verify, m)?)?;
    m.add_function(wrap_pyfunction!(compile, m)?)?;
    m.add_function(wrap_pyfunction!(energy, m)?)?;
    m.add_function(wrap_pyfunction!(explore, m)?)?;
    Ok(())
}
