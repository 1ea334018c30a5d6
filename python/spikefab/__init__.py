"""spikefab from Python: load a trained spiking network (a .nir/.onnx/.json file or an
in-memory ``nir.NIRGraph``), simulate it, verify the hardware against the framework's answer,
compile it for an FPGA or chip target, estimate its energy and explore its trade-offs.

The functions are the command line's commands, computed by the same library code; keyword
options carry the command line's names with ``_`` for ``-`` (``from_`` for ``--from``).
Errors raise :class:`SpikefabError` with the command line's message and its ``exit_code``.
"""

import json as _json
import os as _os
import tempfile as _tempfile
import warnings as _warnings
from typing import Any as _Any, Optional as _Optional, Union as _Union

import numpy as _np

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
    "compare",
    "plan",
    "cosim",
    "csim",
    "options",
    "__version__",
]

# Arrays the functions take beside their options (the command line reads them from files).
_ARRAYS = ("calib", "calib_labels")


def options(function: str) -> list:
    """The keyword options ``function`` takes: the command line's options of the same command,
    read from the one definition the command line and this package share (``from_`` for
    ``--from``)."""
    names = ["from_" if n == "from" else n for n in _native.options(function)]
    return names + [a for a in _ARRAYS if function in ("simulate", "verify", "compile", "energy", "compare")]


def _plain(v: _Any) -> _Any:
    """Options as JSON: numpy scalars as numbers, paths as strings, one name as a list."""
    if isinstance(v, _np.generic):
        return v.item()
    if isinstance(v, _os.PathLike):
        return _os.fspath(v)
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def _options(command: str, given: dict) -> str:
    allowed = options(command or "load")
    unknown = sorted(k for k in given if k not in allowed)
    if unknown:
        raise TypeError(f"{command or 'load'}() got unexpected option(s) {', '.join(unknown)}; it takes {', '.join(allowed)}")
    out = {}
    for k, v in given.items():
        if v is None or v is False:
            continue
        if k in ("students", "compare", "lanes_sweep", "targets") and isinstance(v, str):
            v = [s for s in v.split(",") if s]
        out["from" if k == "from_" else k] = _plain(v)
    return _json.dumps(out)


def _is_nir_graph(obj: _Any) -> bool:
    return type(obj).__name__ == "NIRGraph" and hasattr(obj, "nodes") and hasattr(obj, "edges")


def load(model: _Union[str, _os.PathLike, _Any], *, name: _Optional[str] = None, **dialect: _Any) -> Model:
    """Loads and validates a model: a path to a .nir (HDF5), .json (spikefab) or .onnx file, or a
    ``nir.NIRGraph`` (written to a temporary file with ``nir.write``; ``name`` names it,
    default ``model``, which sets the Verilog top ``sf_<name>``).

    Dialect options (NIR does not store them): ``options("load")`` lists them: ``from_``
    (snntorch, spikingjelly, norse, sinabs, nir), ``dt``, ``reset`` (zero, subtract,
    subtract-undecayed), ``fire_on_equal``, ``timesteps``, ``integration`` (euler, exact),
    ``cuba_input`` (scaled, unit), ``spikes`` (single, multi, multi-hidden), ``initial_v`` (zero,
    v-leak). The loader's warnings are issued as Python warnings.
    """
    opts = _options("", dialect)
    if isinstance(model, Model):
        raise TypeError("load() takes a path or a nir.NIRGraph; this is already a spikefab.Model")
    if _is_nir_graph(model):
        import nir  # the graph came from nir, so it is installed

        stem = name or "model"
        if not stem.replace("_", "").isalnum():
            raise ValueError(f"name {stem!r}: use letters, digits and '_'")
        with _tempfile.TemporaryDirectory(prefix="spikefab-") as d:
            path = _os.path.join(d, stem + ".nir")
            nir.write(path, model)
            m = _native.load(path, opts, stem + ".nir")
    elif isinstance(model, (str, _os.PathLike)):
        m = _native.load(_os.fspath(model), opts, name)
    else:
        raise TypeError(f"load() takes a path or a nir.NIRGraph, not {type(model).__name__}")
    for w in m.warnings:
        _warnings.warn(f"{m.path}: {w}", stacklevel=2)
    return m


def _model(model: _Any, given: dict) -> Model:
    dialect_options = options("load")
    dialect = {k: given.pop(k) for k in list(given) if k in dialect_options}
    if isinstance(model, Model):
        if dialect:
            raise TypeError(f"dialect options ({', '.join(sorted(dialect))}) go to load(), not to a loaded Model")
        return model
    return load(model, **dialect)


def _inputs(x: _Any, what: str = "inputs") -> _np.ndarray:
    """A C-ordered float64 view of ``x``: no copy when it already is one."""
    a = _np.asarray(x)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{what}: expected a numeric array, got dtype {a.dtype}")
    return _np.ascontiguousarray(a, dtype=_np.float64)


def _calib(given: dict) -> tuple:
    """The passes' calibration inputs and labels (`--calib`, `--calib-labels`)."""
    c, cl = given.pop("calib", None), given.pop("calib_labels", None)
    return (None if c is None else _inputs(c, "calib")), _labels(cl)


def _labels(y: _Any) -> _Optional[_np.ndarray]:
    if y is None:
        return None
    a = _np.asarray(y)
    if a.ndim != 1:
        raise ValueError(f"labels: expected a 1-d array of class indices, got shape {a.shape}")
    if a.dtype.kind not in "biu":
        raise TypeError(f"labels: expected integer class indices, got dtype {a.dtype}")
    return _np.ascontiguousarray(a, dtype=_np.int64)


class Result:
    """A command's JSON document with attribute access: ``r.class_agreement``, ``r["plan"]``,
    ``r.to_dict()`` (exactly what the command prints with ``--json``)."""

    def __init__(self, doc: dict):
        object.__setattr__(self, "_doc", doc)

    def __getattr__(self, key: str) -> _Any:
        try:
            return _wrap(self._doc[key])
        except KeyError:
            raise AttributeError(key) from None

    def __getitem__(self, key: str) -> _Any:
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
        return f"{type(self).__name__}({_json.dumps(self._doc)[:200]})"


def _wrap(v: _Any) -> _Any:
    if isinstance(v, dict):
        return Result(v)
    if isinstance(v, list):
        return [_wrap(x) for x in v]
    return v


class CompileReport(Result):
    """What :func:`compile` did and measured: ``report.json`` with attribute access. Its fields
    are those the library writes, whatever they are: ``kind`` says which section the target got
    (``"rtl"``: the FPGA layout's ``top``, ``files``, ``plan``, ``verify``, ``cosim``, ``csim``,
    ``fpga`` ...; ``"chip"``: the chip's ``layout``, ``verify``, ``export``, ``vendor_check``,
    ``energy`` ...). ``ok`` is True when no check failed; ``out_dir`` is the output folder."""

    def __init__(self, doc: dict, out_dir: str):
        super().__init__(doc)
        object.__setattr__(self, "out_dir", out_dir)

    @property
    def ok(self) -> bool:
        """No check failed (the command line would exit 0)."""
        return not self._doc.get("failures")


def simulate(model: _Any, inputs: _Any, *, labels: _Any = None, summary: bool = False, **opts: _Any):
    """Runs the model on ``inputs`` (N x input shape, the same input every step, or
    N x T x input shape) and returns its output node's values per step, a float64 array
    N x T x output shape (spikes are 0/1) that owns the engine's buffer.

    ``engine="reference"`` (float, as the framework computes; ``f64=True`` for double) or
    ``"cycle"`` (the hardware's integers on ``target``). With ``summary=True`` returns
    ``(outputs, Result)`` where the result is ``simulate --json``'s document (spike rates,
    classes, accuracy with ``labels``, cycles). ``options("simulate")`` lists the options.
    """
    m = _model(model, opts)
    c, cl = _calib(opts)
    doc, out, _ = _native.run_command("simulate", m, _inputs(inputs), _labels(labels), _options("simulate", opts), c, cl)
    return (out, Result(_json.loads(doc))) if summary else out


def verify(model: _Any, inputs: _Any, *, labels: _Any = None, **opts: _Any) -> Result:
    """The reference engine against the hardware on ``inputs``: ``verify --json``'s document,
    plus ``failure`` (why the command line would exit 1, or None). A failed check is a result,
    not an exception: test ``r.passed``. ``options("verify")`` lists the options."""
    m = _model(model, opts)
    c, cl = _calib(opts)
    doc, _, failure = _native.run_command("verify", m, _inputs(inputs), _labels(labels), _options("verify", opts), c, cl)
    r = Result(_json.loads(doc))
    object.__setattr__(r, "failure", failure)
    object.__setattr__(r, "passed", failure is None)
    return r


def compile(model: _Any, *, target: str = "ice40-up5k", out_dir: _Union[str, _os.PathLike], inputs: _Any = None,
            labels: _Any = None, **opts: _Any) -> CompileReport:
    """Compiles for ``target`` into ``out_dir``: an FPGA's Verilog and/or HLS C++ (``backend``;
    with ``inputs``: verified against the reference, co-simulated, energy estimated;
    ``bitstream=True`` builds an iCE40 or ECP5 bitstream), or a chip's export judged by its
    vendor's simulator. Returns the report; checks that failed are in ``report.failures``
    (``report.ok`` is False) rather than raised. ``options("compile")`` lists the options."""
    m = _model(model, opts)
    c, cl = _calib(opts)
    opts["target"] = target
    x = None if inputs is None else _inputs(inputs)
    out = _os.fspath(out_dir)
    doc = _json.loads(_options("compile", {**opts, "out_dir": out}))
    report = _native.compile(m, x, _labels(labels), _json.dumps(doc), c, cl)
    return CompileReport(_json.loads(report), out)


def energy(model: _Any, inputs: _Any, *, labels: _Any = None, **opts: _Any) -> Result:
    """Energy per inference on ``target`` (and each of ``compare``), with NeuroBench counts:
    ``energy --json``'s document. ``options("energy")`` lists the options."""
    m = _model(model, opts)
    c, cl = _calib(opts)
    doc, _, _ = _native.run_command("energy", m, _inputs(inputs), _labels(labels), _options("energy", opts), c, cl)
    return Result(_json.loads(doc))


def plan(model: _Any, inputs: _Any = None, **opts: _Any) -> Result:
    """The model laid out on ``target`` by its back end (``plan --json``'s document: an FPGA
    plan's layers, memories and schedule, with the external memory's streaming figures on a
    board that has one; a chip's placement; a priced chip's mapping). ``inputs`` calibrate the
    input range. ``failure`` says why the layout does not fit a chip's limits (``passed`` is
    False), as the command line's exit 1. ``options("plan")`` lists the options."""
    m = _model(model, opts)
    c, cl = _calib(opts)
    x = None if inputs is None else _inputs(inputs)
    doc, failure = _native.plan(m, x, _options("plan", opts), c, cl)
    r = Result(_json.loads(doc))
    object.__setattr__(r, "failure", failure)
    object.__setattr__(r, "passed", failure is None)
    return r


def _rtl(command: str, model: _Any, inputs: _Any, out_dir: _Any, opts: dict) -> Result:
    m = _model(model, opts)
    doc = _options(command, {**opts, "out_dir": _os.fspath(out_dir)})
    report, failure = _native.simulate_rtl(command, m, _inputs(inputs), doc)
    r = Result(_json.loads(report))
    object.__setattr__(r, "failure", failure)
    object.__setattr__(r, "passed", failure is None)
    return r


def cosim(model: _Any, inputs: _Any, *, out_dir: _Union[str, _os.PathLike], **opts: _Any) -> Result:
    """The emitted Verilog in iverilog or Verilator against the cycle engine on the first
    ``samples`` inputs (16 by default), in ``out_dir``: ``cosim --json``'s document. ``passed``
    is True when every output word and cycle count agrees, else ``failure`` says what differs.
    ``options("cosim")`` lists the options."""
    return _rtl("cosim", model, inputs, out_dir, opts)


def csim(model: _Any, inputs: _Any, *, out_dir: _Union[str, _os.PathLike], **opts: _Any) -> Result:
    """The emitted HLS C++ compiled with g++ against the cycle engine on the first ``samples``
    inputs (all by default), in ``out_dir``: ``csim --json``'s document. ``passed`` is True when
    every output and step count agrees. ``options("csim")`` lists the options."""
    return _rtl("csim", model, inputs, out_dir, opts)


def explore(model: _Any, calib: _Any, *, labels: _Any = None, **opts: _Any) -> Result:
    """The accuracy-energy-latency trade-off over students, timesteps, early exit and
    ``lanes_sweep``: ``explore --json``'s document. ``options("explore")`` lists the options."""
    m = _model(model, opts)
    return Result(_json.loads(_native.explore(m, _inputs(calib, "calib"), _labels(labels), _options("explore", opts))))


def compare(model: _Any, inputs: _Any, *, labels: _Any = None, **opts: _Any) -> Result:
    """One student on every target (``targets``, default all bundled), side by side:
    ``compare --json``'s document, whose ``rows`` say per target whether the model fits (or why
    not), its accuracy and agreement under the target's exact model, latency, energy and
    resources, each with its source. ``options("compare")`` lists the options."""
    m = _model(model, opts)
    c, cl = _calib(opts)
    doc, _, _ = _native.run_command("compare", m, _inputs(inputs), _labels(labels), _options("compare", opts), c, cl)
    return Result(_json.loads(doc))
