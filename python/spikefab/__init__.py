"""spikefab from Python: load a trained spiking network (a .nir/.onnx/.json file or an
in-memory ``nir.NIRGraph``), simulate it, verify the hardware against the framework's answer,
compile it for an FPGA or chip target, estimate its energy and explore its trade-offs.

The functions are the command line's commands, computed by the same library code; keyword
options carry the command line's names with ``_`` for ``-`` (``from_`` for ``--from``).
Errors raise :class:`SpikefabError` with the command line's message and its ``exit_code``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import warnings as _warnings
from typing import Any, Optional, Union

import numpy as np

from . import _spikefab as _native
from ._spikefab import Model, SpikefabError, __version__

__all__ = [
    "Model",
    "SpikefabError",
    "Result",
    "CompileReport",
    "load",
    "simulate",
    "verify",
    "compile",
    "energy",
    "explore",
    "__version__",
]

# The options of the command line, grouped as its commands share them.
DIALECT_OPTIONS = (
    "from_", "dt", "reset", "fire_on_equal", "timesteps", "integration", "cuba_input", "spikes", "initial_v",
)
PLAN_OPTIONS = (
    "target", "lanes", "weight_bits", "input_bits", "frac_bits", "leak_bits", "membrane_bits", "input_scale",
    "early_exit", "clock_mhz", "schedule",
)
PASS_OPTIONS = (
    "calib", "calib_labels", "no_simplify", "keep_students", "students", "energy_budget", "auto_timesteps", "min_agreement",
    "max_accuracy_drop", "select_by",
)
_COMMAND_OPTIONS = {
    "simulate": PLAN_OPTIONS + PASS_OPTIONS + ("engine", "f64", "output", "samples", "vcd", "vcd_sample", "vcd_neurons"),
    "verify": PLAN_OPTIONS + PASS_OPTIONS + ("samples",),
    "compile": PLAN_OPTIONS + PASS_OPTIONS + (
        "backend", "bitstream", "cosim_samples", "csim_samples", "simulator", "cosim_budget", "report",
        "raster_sample", "samples",
    ),
    "energy": PLAN_OPTIONS + PASS_OPTIONS + ("compare", "report", "raster_sample", "samples"),
    "explore": PLAN_OPTIONS + ("lanes_sweep", "no_simplify", "report"),
}


def _plain(v: Any) -> Any:
    """Options as JSON: numpy scalars as numbers, paths as strings, one name as a list."""
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, os.PathLike):
        return os.fspath(v)
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def _options(command: str, options: dict) -> str:
    allowed = _COMMAND_OPTIONS[command] if command else DIALECT_OPTIONS
    unknown = sorted(k for k in options if k not in allowed)
    if unknown:
        raise TypeError(f"{command or 'load'}() got unexpected option(s) {', '.join(unknown)}; it takes {', '.join(allowed)}")
    out = {}
    for k, v in options.items():
        if v is None or v is False:
            continue
        if k in ("students", "compare") and isinstance(v, str):
            v = [s for s in v.split(",") if s]
        out["from" if k == "from_" else k] = _plain(v)
    return json.dumps(out)


def _is_nir_graph(obj: Any) -> bool:
    return type(obj).__name__ == "NIRGraph" and hasattr(obj, "nodes") and hasattr(obj, "edges")


def load(model: Union[str, os.PathLike, Any], *, name: Optional[str] = None, **dialect: Any) -> Model:
    """Loads and validates a model: a path to a .nir (HDF5), .json (spikefab) or .onnx file, or a
    ``nir.NIRGraph`` (written to a temporary file with ``nir.write``; ``name`` names it,
    default ``model``, which sets the Verilog top ``sf_<name>``).

    Dialect options (NIR does not store them): ``from_`` (snntorch, spikingjelly, norse, sinabs,
    nir), ``dt``, ``reset`` (zero, subtract, subtract-undecayed), ``fire_on_equal``,
    ``timesteps``, ``integration`` (euler, exact), ``cuba_input`` (scaled, unit), ``spikes``
    (single, multi, multi-hidden), ``initial_v`` (zero, v-leak).
    The loader's warnings are issued as Python warnings.
    """
    options = _options("", dialect)
    if isinstance(model, Model):
        raise TypeError("load() takes a path or a nir.NIRGraph; this is already a spikefab.Model")
    if _is_nir_graph(model):
        import nir  # the graph came from nir, so it is installed

        stem = name or "model"
        if not stem.replace("_", "").isalnum():
            raise ValueError(f"name {stem!r}: use letters, digits and '_'")
        with tempfile.TemporaryDirectory(prefix="spikefab-") as d:
            path = os.path.join(d, stem + ".nir")
            nir.write(path, model)
            m = _native.load(path, options, stem + ".nir")
    elif isinstance(model, (str, os.PathLike)):
        m = _native.load(os.fspath(model), options, name)
    else:
        raise TypeError(f"load() takes a path or a nir.NIRGraph, not {type(model).__name__}")
    for w in m.warnings:
        _warnings.warn(f"{m.path}: {w}", stacklevel=2)
    return m


def _model(model: Any, options: dict) -> Model:
    dialect = {k: options.pop(k) for k in list(options) if k in DIALECT_OPTIONS}
    if isinstance(model, Model):
        if dialect:
            raise TypeError(f"dialect options ({', '.join(sorted(dialect))}) go to load(), not to a loaded Model")
        return model
    return load(model, **dialect)


def _inputs(x: Any, what: str = "inputs") -> np.ndarray:
    """A C-ordered float64 view of ``x``: no copy when it already is one."""
    a = np.asarray(x)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{what}: expected a numeric array, got dtype {a.dtype}")
    return np.ascontiguousarray(a, dtype=np.float64)


def _calib(options: dict) -> tuple:
    """The passes' calibration inputs and labels (`--calib`, `--calib-labels`)."""
    c, cl = options.pop("calib", None), options.pop("calib_labels", None)
    return (None if c is None else _inputs(c, "calib")), _labels(cl)


def _labels(y: Any) -> Optional[np.ndarray]:
    if y is None:
        return None
    a = np.asarray(y)
    if a.ndim != 1:
        raise ValueError(f"labels: expected a 1-d array of class indices, got shape {a.shape}")
    if a.dtype.kind not in "biu":
        raise TypeError(f"labels: expected integer class indices, got dtype {a.dtype}")
    return np.ascontiguousarray(a, dtype=np.int64)


class Result:
    """A command's JSON document with attribute access: ``r.class_agreement``, ``r["plan"]``,
    ``r.to_dict()`` (exactly what the command prints with ``--json``)."""

    def __init__(self, doc: dict):
        object.__setattr__(self, "_doc", doc)

    def __getattr__(self, key: str) -> Any:
        try:
            return _wrap(self._doc[key])
        except KeyError:
            raise AttributeError(key) from None

    def __getitem__(self, key: str) -> Any:
        return _wrap(self._doc[key])

    def __contains__(self, key: str) -> bool:
        return key in self._doc

    def __dir__(self):
        return list(self._doc)

    def keys(self):
        return self._doc.keys()

    def to_dict(self) -> dict:
        return self._doc

    def __repr__(self) -> str:
        return f"{type(self).__name__}({json.dumps(self._doc)[:200]})"


def _wrap(v: Any) -> Any:
    if isinstance(v, dict):
        return Result(v)
    if isinstance(v, list):
        return [_wrap(x) for x in v]
    return v


@dataclasses.dataclass(frozen=True)
class CompileReport:
    """What :func:`compile` did and measured: the fields of ``report.json`` (absent sections are
    ``None``). Nested sections are :class:`Result`s; ``to_dict()`` is ``report.json``."""

    model: str
    target: str
    clock_mhz: float
    timesteps: int
    top: Optional[str]
    files: Optional[list]
    plan: Optional[Result] = None
    xylo: Optional[Result] = None
    chip_verify: Optional[Result] = None
    xylosim: Optional[Result] = None
    chip_energy: Optional[Result] = None
    passes: list = dataclasses.field(default_factory=list)
    hls: Optional[Result] = None
    verify: Optional[Result] = None
    early_exit: Optional[Result] = None
    energy: Optional[Result] = None
    cosim: Optional[Result] = None
    csim: Optional[Result] = None
    fpga: Optional[Result] = None
    report: Optional[str] = None
    failures: list = dataclasses.field(default_factory=list)
    out_dir: str = ""
    _doc: dict = dataclasses.field(default_factory=dict, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """No check failed (the command line would exit 0)."""
        return not self.failures

    def to_dict(self) -> dict:
        return self._doc

    @classmethod
    def _from(cls, doc: dict, out_dir: str) -> "CompileReport":
        names = {f.name for f in dataclasses.fields(cls)} - {"out_dir", "_doc"}
        unknown = set(doc) - names
        if unknown:  # the Rust report grew a field this class does not know
            raise SpikefabError(f"report field(s) {sorted(unknown)} unknown to spikefab.CompileReport")
        return cls(**{k: _wrap(v) for k, v in doc.items()}, out_dir=out_dir, _doc=doc)


def simulate(model: Any, inputs: Any, *, labels: Any = None, summary: bool = False, **options: Any):
    """Runs the model on ``inputs`` (N x input shape, the same input every step, or
    N x T x input shape) and returns its output node's values per step, a float64 array
    N x T x output shape (spikes are 0/1) that owns the engine's buffer.

    ``engine="reference"`` (float, as the framework computes; ``f64=True`` for double) or
    ``"cycle"`` (the hardware's integers on ``target``). With ``summary=True`` returns
    ``(outputs, Result)`` where the result is ``simulate --json``'s document (spike rates,
    classes, accuracy with ``labels``, cycles).
    """
    m = _model(model, options)
    c, cl = _calib(options)
    out, doc = _native.simulate(m, _inputs(inputs), _labels(labels), _options("simulate", options), c, cl)
    return (out, Result(json.loads(doc))) if summary else out


def verify(model: Any, inputs: Any, *, labels: Any = None, **options: Any) -> Result:
    """The reference engine against the hardware on ``inputs``: ``verify --json``'s document,
    plus ``failure`` (why the command line would exit 1, or None). A failed check is a result,
    not an exception: test ``r.passed``."""
    m = _model(model, options)
    c, cl = _calib(options)
    doc, failure = _native.verify(m, _inputs(inputs), _labels(labels), _options("verify", options), c, cl)
    d = json.loads(doc)
    r = Result(d)
    object.__setattr__(r, "failure", failure)
    object.__setattr__(r, "passed", failure is None)
    return r


def compile(model: Any, *, target: str = "ice40-up5k", out_dir: Union[str, os.PathLike], inputs: Any = None,
            labels: Any = None, **options: Any) -> CompileReport:
    """Compiles for ``target`` into ``out_dir`` (Verilog and/or HLS C++ with ``backend``; with
    ``inputs``: verified against the reference, co-simulated, energy estimated; ``bitstream=True``
    builds an iCE40 bitstream). Returns the typed report; checks that failed are in
    ``report.failures`` (``report.ok`` is False) rather than raised."""
    m = _model(model, options)
    c, cl = _calib(options)
    options["target"] = target
    x = None if inputs is None else _inputs(inputs)
    out = os.fspath(out_dir)
    opts = json.loads(_options("compile", options))
    opts["out_dir"] = out
    doc = _native.compile(m, x, _labels(labels), json.dumps(opts), c, cl)
    return CompileReport._from(json.loads(doc), out)


def energy(model: Any, inputs: Any, *, labels: Any = None, **options: Any) -> Result:
    """Energy per inference on ``target`` (and each of ``compare``), with NeuroBench counts:
    ``energy --json``'s document."""
    m = _model(model, options)
    c, cl = _calib(options)
    return Result(json.loads(_native.energy(m, _inputs(inputs), _labels(labels), _options("energy", options), c, cl)))


def explore(model: Any, calib: Any, *, labels: Any = None, **options: Any) -> Result:
    """The accuracy-energy-latency trade-off over students, timesteps, early exit and
    ``lanes_sweep``: ``explore --json``'s document."""
    m = _model(model, options)
    return Result(json.loads(_native.explore(m, _inputs(calib, "calib"), _labels(labels), _options("explore", options))))
