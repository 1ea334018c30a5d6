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

use crate::Model;
use crate::data::{Array, InputBatch};
use crate::driver::{
    self, CompareSettings, CompileOptions, CompileSettings, CosimSettings, EnergySettings, ExploreSettings, Job, Quiet,
    SimulateOptions,
};
use crate::ir::dialect::DialectOverrides;
use crate::options::{PassSettings, PlanSettings, Samples, names};

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

/// The option groups of each function, as the command line defines them (their fields are the
/// keyword options Python takes): the one definition the Python package reads its option
/// names from ([`options`]).
fn groups(command: &str) -> Option<Vec<Vec<String>>> {
    let shared = || vec![names::<PlanSettings>(), names::<PassSettings>(), names::<Samples>()];
    Some(match command {
        "load" => vec![names::<crate::options::DialectArgs>()],
        "simulate" => [shared(), vec![names::<SimulateOptions>()]].concat(),
        "verify" => [shared(), vec![names::<driver::StudentMask>()]].concat(),
        "compile" => [shared(), vec![names::<CompileSettings>(), vec!["out_dir".to_string()]]].concat(),
        "energy" => [shared(), vec![names::<EnergySettings>()]].concat(),
        "compare" => [shared(), vec![names::<CompareSettings>()]].concat(),
        "explore" => vec![names::<PlanSettings>(), names::<ExploreSettings>()],
        "plan" => vec![names::<PlanSettings>(), names::<PassSettings>()],
        "cosim" => vec![
            names::<PlanSettings>(),
            names::<Samples>(),
            names::<CosimSettings>(),
            names::<driver::StudentMask>(),
            vec!["out_dir".into()],
        ],
        "csim" => {
            vec![names::<PlanSettings>(), names::<Samples>(), names::<driver::StudentMask>(), vec!["out_dir".into()]]
        }
        _ => return None,
    })
}

/// The keyword options `command` takes (`from` is `from_` in Python).
#[pyfunction]
fn options(command: &str) -> PyResult<Vec<String>> {
    groups(command)
        .map(|g| g.concat())
        .ok_or_else(|| SpikefabError::new_err(format!("no function '{}'", crate::names::label(command))))
}

/// The options one function was given (JSON object), checked against its option names.
struct Options {
    map: serde_json::Map<String, serde_json::Value>,
}

impl Options {
    fn parse(json: &str, command: &str) -> Result<Options, driver::Error> {
        let map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(json).map_err(|e| usage(format!("options: {e}")))?;
        let known = groups(command).map(|g| g.concat()).unwrap_or_default();
        if let Some(k) = map.keys().find(|k| !known.contains(k)) {
            return Err(usage(format!("{command}() takes no option '{}'", crate::names::label(k))));
        }
        Ok(Options { map })
    }

    /// One group of options: absent fields take their command-line defaults.
    fn get<T: serde::de::DeserializeOwned + clap::Args>(&self) -> Result<T, driver::Error> {
        self.get_named(names::<T>())
    }

    /// The options named `n` as a `T` (serde fills absent fields with their defaults).
    fn get_named<T: serde::de::DeserializeOwned>(&self, n: Vec<String>) -> Result<T, driver::Error> {
        let mine: serde_json::Map<_, _> =
            { self.map.iter().filter(|(k, _)| n.contains(k)).map(|(k, v)| (k.clone(), v.clone())).collect() };
        serde_json::from_value(serde_json::Value::Object(mine.clone())).map_err(|e| {
            // Name the option at fault: try each alone.
            let bad = mine.into_iter().find_map(|(k, v)| {
                let one = serde_json::Value::Object([(k.clone(), v)].into_iter().collect());
                serde_json::from_value::<T>(one).err().map(|e| (k, e))
            });
            match bad {
                Some((k, e)) => usage(format!("option {}: {e}", if k == "from" { "from_" } else { &k })),
                None => usage(format!("options: {e}")),
            }
        })
    }

    fn samples(&self) -> Result<Samples, driver::Error> {
        self.get::<Samples>()
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
        let dialect: DialectOverrides =
            Options::parse(options, "load")?.get_named(names::<crate::options::DialectArgs>())?;
        // The message exactly as the command line prints a load error.
        let load = |e: crate::model::LoadError| usage(message(e));
        let graph = crate::front::load(&path).map_err(|e| load(e.into()))?;
        let shown = name.map(PathBuf::from).unwrap_or_else(|| path.clone());
        Model::from_graph(&shown, graph, &dialect).map_err(load)
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
    let mut p: PassSettings = o.get()?;
    if let Some(c) = calib {
        let b = batch(m, c)?;
        p.calib_labels = labels(calib_labels, b.n)?;
        p.calib = Some(b);
    } else if calib_labels.is_some() {
        return Err(usage("calib_labels needs calib"));
    }
    Ok(p)
}

/// The inputs as a batch for `m`'s Input: N x shape (same every step) or N x T x shape.
fn batch(m: &Model, x: &PyReadonlyArrayDyn<'_, f64>) -> Result<InputBatch, driver::Error> {
    let input = m.graph.the_input().map_err(|e| usage(format!("{}: {e}", m.path.display())))?;
    let data: Vec<f64> = match x.as_slice() {
        Ok(s) => s.to_vec(),
        Err(_) => x.as_array().iter().copied().collect(),
    };
    if let Some(bad) = data.iter().find(|v| !v.is_finite()) {
        return Err(usage(format!("inputs: the value {bad} is not finite")));
    }
    let a = Array { shape: x.shape().to_vec(), data };
    Ok(InputBatch::from_array(Path::new("inputs"), a, &m.info.out_shape[input.index()])?)
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

/// The model, inputs and labels of a function, as the library's job takes them.
struct Data {
    model: Model,
    inputs: InputBatch,
    labels: Option<Vec<usize>>,
    plan: PlanSettings,
    passes: PassSettings,
    samples: Samples,
}

impl Data {
    fn job(&self) -> Job<'_> {
        Job {
            labels: self.labels.as_deref(),
            samples: self.samples,
            ..Job::new(&self.model, &self.inputs, &self.plan, &self.passes)
        }
    }
}

/// Reads a function's arguments (holding the GIL) into its data and options.
#[allow(clippy::too_many_arguments)]
fn data(
    py: Python<'_>,
    model: &PyModel,
    inputs: &PyReadonlyArrayDyn<'_, f64>,
    labels_: Option<&PyReadonlyArray1<'_, i64>>,
    options: &str,
    command: &str,
    calib: Option<&PyReadonlyArrayDyn<'_, f64>>,
    calib_labels: Option<&PyReadonlyArray1<'_, i64>>,
) -> PyResult<(Data, Options)> {
    held(py, || {
        let o = Options::parse(options, command)?;
        let m = model.model.clone();
        let passes = pass_settings(&o, &m, calib, calib_labels)?;
        let inputs = batch(&m, inputs)?;
        let labels = labels(labels_, inputs.n)?;
        let d = Data { model: m, inputs, labels, plan: o.get()?, passes, samples: o.samples()? };
        Ok((d, o))
    })
}

/// Runs `command` (`simulate`, `verify`, `energy` or `compare`) on `inputs`: its `--json` document, with
/// `simulate`'s outputs (`N x T x output shape`, float64, the engine's own buffer) and why
/// `verify`'s check failed (`None` when it passed).
#[pyfunction]
#[pyo3(signature = (command, model, inputs, labels_=None, options="{}", calib=None, calib_labels=None))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn run_command<'py>(
    py: Python<'py>,
    command: &str,
    model: &PyModel,
    inputs: PyReadonlyArrayDyn<'py, f64>,
    labels_: Option<PyReadonlyArray1<'py, i64>>,
    options: &str,
    calib: Option<PyReadonlyArrayDyn<'py, f64>>,
    calib_labels: Option<PyReadonlyArray1<'py, i64>>,
) -> PyResult<(String, Option<Bound<'py, PyAny>>, Option<String>)> {
    let (d, o) = data(py, model, &inputs, labels_.as_ref(), options, command, calib.as_ref(), calib_labels.as_ref())?;
    let (json, outputs, failure) = run(py, || match command {
        "simulate" => {
            let s = driver::simulate(&d.job(), &o.get::<SimulateOptions>()?, &Quiet)?;
            let mut shape = vec![s.outputs.n, s.outputs.steps];
            shape.extend(&s.outputs.shape);
            Ok((to_json(&s.json()), Some((s.outputs.data, shape)), None))
        }
        "verify" => {
            let c = driver::check_masked(&d.job(), &o.get::<driver::StudentMask>()?, &Quiet)?;
            Ok((to_json(&c.json()), None, c.failure()))
        }
        "energy" => Ok((to_json(&driver::energy(&d.job(), &o.get::<EnergySettings>()?, &Quiet)?.json()), None, None)),
        "compare" => {
            let c = driver::compare(&d.job(), &o.get::<CompareSettings>()?, &Quiet)?;
            if let Some(p) = &o.get::<CompareSettings>()?.report {
                std::fs::write(p, c.html()).map_err(|e| {
                    crate::flow::FlowError::Io(format!("{}: cannot write the report: {e}", p.display()))
                })?;
            }
            Ok((to_json(&c.json()), None, None))
        }
        x => Err(usage(format!("no function '{}'", crate::names::label(x)))),
    })?;
    let outputs = match outputs {
        Some((data, shape)) => Some(PyArray1::from_vec(py, data).reshape(shape)?.into_any()),
        None => None,
    };
    Ok((json, outputs, failure))
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
    let c = held(py, || {
        let o = Options::parse(options, "compile")?;
        let m = &model.model;
        let out_dir = o.map.get("out_dir").and_then(|v| v.as_str()).ok_or_else(|| usage("give out_dir"))?;
        let mut c = CompileOptions::new(o.get()?, out_dir);
        c.passes = pass_settings(&o, m, calib.as_ref(), calib_labels.as_ref())?;
        c.samples = o.samples()?;
        c.build = o.get()?;
        c.inputs = inputs.as_ref().map(|x| batch(m, x)).transpose()?;
        c.labels = match &c.inputs {
            Some(b) => labels(labels_.as_ref(), b.n)?,
            None if labels_.is_some() => return Err(usage("labels need inputs")),
            None => None,
        };
        Ok(c)
    })?;
    let m = model.model.clone();
    run(py, || Ok(serde_json::to_string(&driver::compile(&m, &c, &Quiet)?).expect("plain data")))
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
    let (o, b, l) = held(py, || {
        let o = Options::parse(options, "explore")?;
        let b = batch(&model.model, &calib)?;
        let l = labels(labels_.as_ref(), b.n)?;
        Ok((o, b, l))
    })?;
    let m = model.model.clone();
    run(py, || {
        let x = driver::explore(m, &b, l.as_deref(), &o.get()?, &o.get::<ExploreSettings>()?, &Quiet)?;
        Ok(to_json(&x.json()))
    })
}

/// The layout on the target (`plan --json`'s document) and why it does not fit (`None` when
/// it does).
#[pyfunction]
#[pyo3(signature = (model, inputs=None, options="{}", calib=None, calib_labels=None))]
fn plan<'py>(
    py: Python<'py>,
    model: &PyModel,
    inputs: Option<PyReadonlyArrayDyn<'py, f64>>,
    options: &str,
    calib: Option<PyReadonlyArrayDyn<'py, f64>>,
    calib_labels: Option<PyReadonlyArray1<'py, i64>>,
) -> PyResult<(String, Option<String>)> {
    let (o, passes, b) = held(py, || {
        let o = Options::parse(options, "plan")?;
        let passes = pass_settings(&o, &model.model, calib.as_ref(), calib_labels.as_ref())?;
        let b = inputs.as_ref().map(|x| batch(&model.model, x)).transpose()?;
        Ok((o, passes, b))
    })?;
    let m = model.model.clone();
    run(py, || {
        let r = driver::plan(m, &o.get()?, &passes, b.as_ref(), &Quiet)?;
        Ok((to_json(&r.json()), r.failure()))
    })
}

/// Co-simulation (`"cosim"`) of the RTL or C simulation (`"csim"`) of the HLS C++ against the
/// cycle engine, in `out_dir`: the report as JSON, and what differs (`None` when exact).
#[pyfunction]
#[pyo3(signature = (command, model, inputs, options="{}"))]
fn simulate_rtl<'py>(
    py: Python<'py>,
    command: &str,
    model: &PyModel,
    inputs: PyReadonlyArrayDyn<'py, f64>,
    options: &str,
) -> PyResult<(String, Option<String>)> {
    let (o, b) = held(py, || {
        let o = Options::parse(options, command)?;
        let b = batch(&model.model, &inputs)?;
        Ok((o, b))
    })?;
    let m = model.model.clone();
    run(py, || {
        let out_dir = o.map.get("out_dir").and_then(|v| v.as_str()).ok_or_else(|| usage("give out_dir"))?;
        let (plan, samples) = (o.get::<PlanSettings>()?, o.samples()?.samples);
        match command {
            "cosim" => {
                let r = driver::cosim(&m, &b, &plan, &o.get()?, &o.get()?, samples, Path::new(out_dir), &Quiet)?;
                let failure = (!r.exact()).then(|| "the RTL does not match the cycle engine".to_string());
                Ok((serde_json::to_string(&r).expect("plain data"), failure))
            }
            "csim" => {
                let r = driver::csim(&m, &b, &plan, &o.get()?, samples, Path::new(out_dir))?;
                let failure = (!r.exact()).then(|| "the HLS C++ does not match the cycle engine".to_string());
                Ok((serde_json::to_string(&r).expect("plain data"), failure))
            }
            x => Err(usage(format!("no function '{}'", crate::names::label(x)))),
        }
    })
}

/// The extension module.
#[pymodule]
fn _spikefab(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("SpikefabError", m.py().get_type::<SpikefabError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<PyModel>()?;
    m.add_function(wrap_pyfunction!(options, m)?)?;
    m.add_function(wrap_pyfunction!(load, m)?)?;
    m.add_function(wrap_pyfunction!(run_command, m)?)?;
    m.add_function(wrap_pyfunction!(compile, m)?)?;
    m.add_function(wrap_pyfunction!(explore, m)?)?;
    m.add_function(wrap_pyfunction!(plan, m)?)?;
    m.add_function(wrap_pyfunction!(simulate_rtl, m)?)?;
    Ok(())
}
