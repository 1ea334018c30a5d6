#!/usr/bin/env python3
"""Fixtures that check spikefab's NIR import against the frameworks' OWN importers.

For each case: build a small network in Sinabs or snnTorch (fixed seeds, dyadic weights),
export it with the framework's exporter (`sinabs.to_nir`, `snntorch.export_nir.export_to_nir`),
read the written file back with `nir.read` and the framework's importer (`sinabs.from_nir`,
`snntorch.import_nir.import_from_nir`), run both the imported model and the original model on
the same per-step inputs from zero state, and write

    DIR/<case>/model.nir      the exported file (what the importer read)
    DIR/<case>/inputs.npy     float32, N x T x input_shape (per-step inputs)
    DIR/<case>/expected.npy   float32, N x T x output_shape: the IMPORTER's output per step
                              (spike counts for Sinabs' multi-spike neurons); for the recurrent
                              snnTorch cases, which no released importer runs, the original's
                              forward pass (expected_source "forward"), with importer_fixed.npy
                              = snnTorch's importer with its two bugs worked around
    DIR/<case>/forward.npy    float32, the ORIGINAL model's own forward pass on the same inputs
    DIR/cases.json            manifest: spikefab options per file, versions, counts, differences

Manifest keys per case: `options` are spikefab dialect options (DialectOverrides field names:
from, reset, timesteps, v_min, ...) under which spikefab should reproduce expected.npy, or null
when no spikefab dialect expresses what the importer computes; `forward_options` the same for
forward.npy; `expected_source` is "importer" (or "forward" where the importer cannot run the
case, see `importer_failure`); `counts.differing_values` is the number of entries where
expected.npy != forward.npy, with `counts.differing_reason`. `extra` lists further outputs
(e.g. the same model without its membrane floor) with their options. IMPORTERS.md has the
findings.

Environment (training/frameworks/importers-venv.sh VENV makes it): the venv holds torch 2.3.1,
numpy 1.26, snntorch 1.0.0, nir 1.0.8, nirtorch 2.6 and sinabs 3.1.3 (installed without its
dependency samna); VENV/sinabs-nir holds nir 1.0.4 + nirtorch 2.0.2, the versions
`pip install sinabs` resolves to (sinabs 3.1.3 requires nir<=1.0.4, and nirtorch >= 2.0.3
requires nir>=1.0.6). Every case runs in its own subprocess; Sinabs cases get
PYTHONPATH=VENV/sinabs-nir ($SINABS_NIR_PATH overrides it). samna is never imported.

Usage:  VENV/bin/python training/frameworks/importers.py --out DIR [--only CASE ...]
Deterministic: re-executes itself with PYTHONHASHSEED=0 (nirtorch writes edges in hash order
and sums a node's inputs in set order); two runs give byte-identical files (model.nir included).
"""
import argparse
import copy
import importlib.metadata as md
import json
import os
import subprocess
import sys
import warnings
from collections import OrderedDict

import numpy as np

warnings.filterwarnings("ignore")

HERE = os.path.dirname(os.path.abspath(__file__))

SINABS_CASES = ["sinabs_cnn", "sinabs_if_dense", "sinabs_lif"]
SNNTORCH_CASES = ["snntorch_rleaky_subtract", "snntorch_rleaky_zero",
                  "snntorch_rsynaptic_subtract", "snntorch_rsynaptic_zero", "snntorch_cuba_rec"]
CASES = SINABS_CASES + SNNTORCH_CASES

N = 16                    # samples per case
RATE_LO, RATE_HI, TARGET = 0.05, 0.50, 0.2
GAINS = [0.25, 0.375, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0]
Q = 64.0                  # weights and biases are multiples of 1/Q: sums of 0/1 inputs are exact


# ----------------------------------------------------------------------------- common
def quant(a):
    return (np.round(np.asarray(a, dtype=np.float64) * Q) / Q).astype(np.float32)


def set_param(p, value):
    import torch
    with torch.no_grad():
        p.copy_(torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32)))


def base_params(module, seed):
    """Deterministic base weights (uniform +-1/sqrt(fan_in), PyTorch's default range) for
    every Linear/Conv2d of `module`, by module name."""
    import torch
    rng = np.random.default_rng(seed)
    base = {}
    for name, m in module.named_modules():
        if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)):
            fan_in = int(np.prod(m.weight.shape[1:]))
            b = 1.0 / np.sqrt(fan_in)
            base[name] = (rng.uniform(-b, b, tuple(m.weight.shape)),
                          rng.uniform(-b, b, tuple(m.bias.shape)) if m.bias is not None else None)
    return base


def load_params(module, base, gains):
    """Sets every Linear/Conv2d to quant(gain * base); gains by module name (default 1)."""
    for name, m in module.named_modules():
        if name in base:
            w, b = base[name]
            g = gains.get(name, 1.0)
            set_param(m.weight, quant(g * w))
            if b is not None:
                set_param(m.bias, quant(g * b))
    return module


def rate(a):
    return float((np.asarray(a) != 0).mean())


def tune(layers, rates_of, gains0=None, gains=GAINS):
    """Chooses, layer by layer, the gain whose spike rate (fraction of non-zero outputs) is
    closest to TARGET; rates_of(gains) -> {layer: rate}."""
    g = dict(gains0 or {})
    for layer in layers:
        best = min(gains, key=lambda x: (abs(rates_of({**g, layer: x})[layer] - TARGET), x))
        g[layer] = best
    return g


def hook_outputs(module, store, key):
    def h(_m, _i, out):
        store.setdefault(key, []).append(
            (out[0] if isinstance(out, tuple) else out).detach().clone().numpy())
    return module.register_forward_hook(h)


def topo_order(graph):
    """Node names of a NIRGraph in depth-first topological order from the Input nodes
    (edges in file order), back edges ignored; unreachable nodes last, by name."""
    import nir
    names = list(graph.nodes)
    out_edges = {n: [t for s, t in graph.edges if s == n] for n in names}
    seen, order = set(), []

    def dfs(n):
        seen.add(n)
        for t in out_edges.get(n, []):
            if t not in seen:
                dfs(t)
        order.append(n)
    for n in sorted(names):
        if isinstance(graph.nodes[n], nir.Input) and n not in seen:
            dfs(n)
    for n in sorted(names):
        if n not in seen:
            dfs(n)
    return order[::-1]


def describe_file(path):
    """What the .nir file stores, read with h5py (not the nir package): node types, datasets
    (shape, dtype), edges in file order, and the recurrent edges as spikefab defines them
    (back edges of a DFS from the Input nodes in name order, out-edges in file order)."""
    import h5py

    def val(ds):
        v = ds[()]
        return v.decode() if isinstance(v, bytes) else v

    def walk(g, prefix, nodes, edges):
        for name in sorted(g["nodes"].keys()):
            ng = g["nodes"][name]
            full = prefix + name
            t = val(ng["type"])
            if t == "NIRGraph":
                walk(ng, full + ".", nodes, edges)
                continue
            ds = {}
            for k in sorted(ng.keys()):
                if k in ("type", "metadata") or isinstance(ng[k], h5py.Group):
                    continue
                d = ng[k]
                ds[k] = {"shape": list(d.shape), "dtype": str(d.dtype)}
                if d.shape == () and d.dtype.kind in "fiu":
                    ds[k]["value"] = float(d[()])
                if k == "shape" or (k in ("stride", "padding", "kernel_size", "input_shape",
                                          "start_dim", "end_dim", "dilation", "groups")):
                    ds[k]["value"] = np.asarray(d[()]).tolist()
            nodes[full] = {"type": t, "datasets": ds}
        if "edges" in g:
            for s, t in g["edges"][()]:
                s, t = (x.decode() if isinstance(x, bytes) else str(x) for x in (s, t))
                edges.append([prefix + s, prefix + t])

    with h5py.File(path, "r") as f:
        version = val(f["version"])
        nodes, edges = {}, []
        walk(f["node"], "", nodes, edges)
    out = {n: [t for s, t in edges if s == n] for n in nodes}
    state, back = {}, []

    def dfs(n):
        state[n] = 1
        for t in out.get(n, []):
            if state.get(t) == 1:
                back.append([n, t])
            elif t not in state:
                dfs(t)
        state[n] = 2
    for n in sorted(nodes):
        if nodes[n]["type"] == "Input" and n not in state:
            dfs(n)
    return {"nir_version": version, "nodes": nodes, "edges": edges, "recurrent_edges": back}


def versions(*pkgs):
    out = {}
    for p in pkgs:
        try:
            out[p] = md.version(p)
        except md.PackageNotFoundError:
            out[p] = None
    import nir
    out["nir"] = nir.__version__  # the one imported (side directory for Sinabs)
    return out


def summarize(expected, forward, reason):
    diff = int((expected != forward).sum())
    return {"expected_total": float(expected.sum()), "forward_total": float(forward.sum()),
            "expected_rate": rate(expected), "forward_rate": rate(forward),
            "expected_max": float(expected.max()), "forward_max": float(forward.max()),
            "differing_values": diff, "differing_samples": int((expected != forward).reshape(
                expected.shape[0], -1).any(1).sum()),
            "differing_reason": reason if diff else None}


# ----------------------------------------------------------------------------- Sinabs
def sinabs_write(graph, path, log):
    """nir.write the exporter's graph. Conv2d/Flatten nodes need their shapes (sinabs writes
    input_shape=None, which h5py refuses: "One of data, shape or dtype must be specified");
    0-d parameters become shape (1,) (nir >= 1.0.5 cannot write them, and sinabs.from_nir
    cannot import the 0-d datasets nir 1.0.4 writes, see IMPORTERS.md)."""
    import nir
    import torch
    if any(isinstance(n, (nir.Conv2d, nir.Flatten)) for n in graph.nodes.values()):
        import contextlib
        import io
        with contextlib.redirect_stdout(io.StringIO()):  # nir 1.0.4 prints "[warning] ..."
            graph.infer_types()
        log.append("graph.infer_types() before nir.write (Conv2d.input_shape was None)")
    made_1d = []
    for name, node in graph.nodes.items():
        for k, v in list(vars(node).items()):
            if isinstance(v, torch.Tensor):
                v = v.detach().cpu().numpy()
                setattr(node, k, v)
            if isinstance(v, np.ndarray) and v.ndim == 0 and k not in ("input_type", "output_type"):
                setattr(node, k, np.atleast_1d(v))
                made_1d.append(f"{name}.{k}")
    if made_1d:
        log.append("0-d parameters written as shape (1,): " + ", ".join(made_1d))
    nir.write(path, graph)


def sinabs_case(name, out):
    import nir
    import sinabs
    import sinabs.layers as sl
    import torch

    torch.manual_seed(0)
    log = []
    extra = []
    counts_extra = {}
    if name == "sinabs_cnn":
        T, C, H, W = 10, 2, 16, 16
        rng = np.random.default_rng(101)
        # event input: Bernoulli(0.1) ON/OFF events per pixel and step
        x = (rng.random((N, T, C, H, W)) < 0.1).astype(np.float32)

        def build(min_v=-1.0):
            return torch.nn.Sequential(OrderedDict([
                ("conv1", torch.nn.Conv2d(2, 8, 3, stride=2, padding=1)),
                ("iaf1", sl.IAFSqueeze(batch_size=N, min_v_mem=min_v)),
                ("pool1", sl.SumPool2d(2)),
                ("conv2", torch.nn.Conv2d(8, 16, 3, padding=1)),
                ("iaf2", sl.IAFSqueeze(batch_size=N, min_v_mem=min_v)),
                ("flat", torch.nn.Flatten()),
                ("fc", torch.nn.Linear(256, 10)),
                ("iaf3", sl.IAFSqueeze(batch_size=N, min_v_mem=min_v)),
            ]))
        hidden = {"conv1": "iaf1", "conv2": "iaf2", "fc": "iaf3"}
        xin = torch.from_numpy(x.reshape(N * T, C, H, W))
        sample = torch.zeros(N * T, C, H, W)
        out_shape = (10,)
        desc = ("Conv2d(2,8,3,s2,p1) -> IAFSqueeze(min_v_mem=-1) -> SumPool2d(2) -> "
                "Conv2d(8,16,3,p1) -> IAFSqueeze(min_v_mem=-1) -> Flatten -> Linear(256,10) -> "
                "IAFSqueeze(min_v_mem=-1); spike_threshold 1, MultiSpike, MembraneSubtract "
                "(defaults); per-step Bernoulli(0.1) events 2x16x16")
        squeeze = True
    elif name == "sinabs_if_dense":
        T = 10  # != 12 inputs: the Input node [T, 12] stays unambiguous
        rng = np.random.default_rng(102)
        x = (rng.random((N, T, 12)) < 0.3).astype(np.float32)
        thr1, thr2 = 0.5, 1.5

        def build(min_v=(True, True)):
            return torch.nn.Sequential(OrderedDict([
                ("fc1", torch.nn.Linear(12, 16)),
                ("iaf1", sl.IAF(spike_threshold=thr1, min_v_mem=-thr1 if min_v[0] else None)),
                ("fc2", torch.nn.Linear(16, 4)),
                ("iaf2", sl.IAF(spike_threshold=thr2, min_v_mem=-thr2 if min_v[1] else None)),
            ]))
        hidden = {"fc1": "iaf1", "fc2": "iaf2"}
        xin = torch.from_numpy(x)
        sample = torch.zeros(1, T, 12)
        out_shape = (4,)
        desc = (f"Linear(12,16) -> IAF(spike_threshold={thr1}, min_v_mem=-{thr1}) -> "
                f"Linear(16,4) -> IAF(spike_threshold={thr2}, min_v_mem=-{thr2}); MultiSpike, "
                "MembraneSubtract (defaults); IAF (not Squeeze): input (N, T, 12), so the "
                "Input node has shape [T, 12]; per-step Bernoulli(0.3) spikes")
        squeeze = False
    elif name == "sinabs_lif":
        T = 10
        rng = np.random.default_rng(103)
        x = (rng.random((N, T, 12)) < 0.3).astype(np.float32)

        def build(norm_input=True):
            return torch.nn.Sequential(OrderedDict([
                ("fc1", torch.nn.Linear(12, 16)),
                ("lif1", sl.LIF(tau_mem=5.0, norm_input=norm_input)),
                ("fc2", torch.nn.Linear(16, 4)),
                ("lif2", sl.LIF(tau_mem=5.0, norm_input=norm_input)),
            ]))
        hidden = {"fc1": "lif1", "fc2": "lif2"}
        xin = torch.from_numpy(x)
        sample = torch.zeros(1, T, 12)
        out_shape = (4,)
        desc = ("Linear(12,16) -> LIF(tau_mem=5) -> Linear(16,4) -> LIF(tau_mem=5); defaults: "
                "norm_input=True, MultiSpike, MembraneSubtract, min_v_mem=None, threshold 1; "
                "input (N, T, 12), Input node [T, 12]; per-step Bernoulli(0.3) spikes")
        squeeze = False
    else:
        raise ValueError(name)

    def run(net):
        """Forward from zero state; per layer outputs as (N, T, ...)."""
        sinabs.reset_states(net)
        store, hooks = {}, []
        for lname, mname in hidden.items():
            hooks.append(hook_outputs(getattr(net, mname), store, mname))
        with torch.no_grad():
            y = net(xin)
        for h in hooks:
            h.remove()
        sinabs.reset_states(net)
        res = {k: (v[0].reshape(N, T, *v[0].shape[1:]) if squeeze else v[0])
               for k, v in store.items()}
        res["out"] = y.detach().numpy().reshape(N, T, *out_shape)
        return res

    base = base_params(build(), seed={"sinabs_cnn": 11, "sinabs_if_dense": 17, "sinabs_lif": 13}[name])

    def rates_of(gains):
        r = run(load_params(build(), base, gains))
        return {l: rate(r[m]) for l, m in hidden.items()}
    gains = tune(list(hidden), rates_of)
    net = load_params(build(), base, gains)
    fwd = run(net)
    fwd2 = run(load_params(build(), base, gains))
    assert all(np.array_equal(fwd[k], fwd2[k]) for k in fwd), "forward not deterministic"

    # export
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "model.nir")
    sinabs.reset_states(net)
    g = sinabs.to_nir(net, sample)
    sinabs.reset_states(net)
    log.append(f"sinabs.to_nir(net, torch.zeros{tuple(sample.shape)}) OK")
    sinabs_write(g, path, log)
    assert all(np.array_equal(run(net)[k], fwd[k]) for k in fwd), "export changed the model"

    # import the file back with the framework's importer
    try:
        g2 = nir.read(path)
    except ValueError as e:  # nir >= 1.0.5 type-checks, and Input is [T, 12] here
        log.append(f"nir.read(path) -> ValueError: {e}; read with type_check=False")
        g2 = nir.read(path, type_check=False)
    imported = sinabs.from_nir(g2, batch_size=N)
    kinds = {k: type(m).__name__ for k, m in imported.named_children()}
    log.append(f"nir.read + sinabs.from_nir(graph, batch_size={N}) OK: " + ", ".join(
        f"{k}={v}" for k, v in sorted(kinds.items())))
    imp_desc = {}
    for k, m in imported.named_children():
        if isinstance(m, (sl.IAFSqueeze, sl.LIFSqueeze)):
            imp_desc[k] = {
                "class": type(m).__name__,
                "spike_fn": getattr(m.spike_fn, "__name__", type(m.spike_fn).__name__),
                "reset_fn": type(m.reset_fn).__name__,
                "min_v_mem": None if m.min_v_mem is None else
                sorted(set(np.round(np.asarray(m.min_v_mem.detach()).ravel(), 6).tolist())),
                "norm_input": bool(getattr(m, "norm_input", False)),
                "spike_threshold": sorted(set(np.round(np.asarray(
                    m.spike_threshold.detach()).ravel(), 6).tolist())),
                "tau_mem": None if getattr(m, "tau_mem", None) is None else
                sorted(set(np.round(np.asarray(m.tau_mem.detach()).ravel(), 6).tolist())),
            }
    with torch.no_grad():
        y = imported(xin.reshape(N * T, *xin.shape[2:]) if not squeeze else xin)
    y = y[0] if isinstance(y, tuple) else y
    expected = y.detach().numpy().reshape(N, T, *out_shape).astype(np.float32)
    forward = fwd["out"].astype(np.float32)

    opts = {"from": "sinabs", "timesteps": T}
    fopts = dict(opts)
    reason = None
    if name == "sinabs_cnn":
        # the same model without the floor: how often min_v_mem changes the output
        nofloor = run(load_params(build(min_v=None), base, gains))
        nf = nofloor["out"].astype(np.float32)
        np.save(os.path.join(d, "forward_no_floor.npy"), nf)
        extra.append({"file": f"{name}/forward_no_floor.npy",
                      "what": "the original model with min_v_mem=None (no membrane floor)",
                      "options": {"from": "sinabs", "timesteps": T, "v_min": "none"}})
        counts_extra["no_floor_differing_values"] = int((nf != expected).sum())
        counts_extra["no_floor_differing_hidden"] = {
            m: int((nofloor[m] != fwd[m]).sum()) for m in hidden.values() if m != "iaf3"}
        reason = "float rounding"
    elif name == "sinabs_if_dense":
        for label, mv in (("no_floor", (False, False)), ("no_floor_layer1", (False, True)),
                          ("no_floor_layer2", (True, False))):
            r = run(load_params(build(min_v=mv), base, gains))
            counts_extra[f"{label}_differing_values"] = int((r["out"] != expected).sum())
        counts_extra["no_floor_differing_hidden"] = int((run(load_params(
            build(min_v=(False, False)), base, gains))["iaf1"] != fwd["iaf1"]).sum())
        reason = "float rounding"
    elif name == "sinabs_lif":
        # the importer's LIFSqueeze has norm_input=False; check that the original model with
        # norm_input=False computes the importer's output
        nn_false = run(load_params(build(norm_input=False), base, gains))
        counts_extra["norm_input_false_vs_expected_differing"] = int(
            (nn_false["out"] != expected).sum())
        reason = ("norm_input is not exported: the original LIF has norm_input=True "
                  "(v = a v + (1-a) I, a = exp(-1/tau)), sinabs.from_nir builds "
                  "LIFSqueeze(norm_input=False) (v = a v + I): the importer's input gain is "
                  "1/(1-a) = 5.52 times larger")
        # the importer's LIFSqueeze(norm_input=False): exact decay with unit input gain
        opts = {"from": "sinabs", "timesteps": T, "integration": "exact-unnormalised"}
    counts = summarize(expected, forward, reason)
    counts.update(counts_extra)
    for lname, mname in hidden.items():
        counts.setdefault("forward_layers", {})[mname] = {
            "rate": rate(fwd[mname]), "max_count": float(fwd[mname].max()),
            "counts_above_1": int((fwd[mname] > 1).sum()), "total": float(fwd[mname].sum())}
    counts["gains"] = gains

    np.save(os.path.join(d, "inputs.npy"), x)
    np.save(os.path.join(d, "expected.npy"), expected)
    np.save(os.path.join(d, "forward.npy"), forward)
    v = versions("sinabs", "nirtorch", "torch", "numpy")
    entry = {
        "name": name, "framework": "sinabs",
        "model": f"{name}/model.nir", "inputs": f"{name}/inputs.npy",
        "expected": f"{name}/expected.npy", "forward": f"{name}/forward.npy",
        "samples": N, "timesteps": T, "output": "spike_counts",
        "expected_source": "importer",
        "options": opts, "forward_options": fopts,
        "exporter": f"sinabs.to_nir (sinabs {v['sinabs']}, nirtorch {v['nirtorch']}, "
                    f"nir {v['nir']})",
        "importer": f"nir.read + sinabs.from_nir(graph, batch_size={N}) (sinabs {v['sinabs']}, "
                    f"nirtorch {v['nirtorch']}, nir {v['nir']})",
        "versions": v, "model_description": desc, "imported_layers": imp_desc,
        "counts": counts, "extra": extra, "log": log,
    }
    if name == "sinabs_lif":
        entry["options_note"] = ("the importer's LIF (v = exp(-1/tau) v + I) is "
                                 "--integration exact-unnormalised; --from sinabs alone uses the "
                                 "gain r (1 - exp(-1/tau)) with r = 1 from the file, which is what "
                                 "the original norm_input=True model computes (forward.npy)")
    return entry


# ----------------------------------------------------------------------------- snnTorch
def snntorch_import(path, fix_edges):
    """nir.read + snntorch.import_nir.import_from_nir on the file, with the nodes put in
    topological order (nirtorch 2.6 otherwise wires the recurrent subgraph twice and fails).
    fix_edges: also connect the subgraph's Input to the LIF node instead of to w_rec (snnTorch
    1.0.0's _create_rnn_subgraph writes ("<key>.input", w_rec)). Returns the module."""
    import contextlib
    import io

    import nir
    import snntorch.import_nir as imp
    g = nir.read(path)
    g.nodes = OrderedDict((k, g.nodes[k]) for k in topo_order(g))
    orig = imp._create_rnn_subgraph

    def fixed(graph, lif_nk, w_nk):
        graph = orig(graph, lif_nk, w_nk)
        key = lif_nk.split(".")[0]
        sg = graph.nodes[key]
        sg.edges = [(s, lif_nk) if (s == f"{key}.input" and t == w_nk) else (s, t)
                    for s, t in sg.edges]
        return graph
    imp._create_rnn_subgraph = fixed if fix_edges else orig
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return imp.import_from_nir(g)
    finally:
        imp._create_rnn_subgraph = orig


def snntorch_case(name, out):
    import contextlib
    import io

    import nir
    import snntorch as snn
    import torch
    from snntorch.export_nir import export_to_nir
    from snntorch.import_nir import import_from_nir

    torch.manual_seed(0)
    log = []
    if name == "snntorch_cuba_rec":
        kind, reset = "cuba", "zero"
    else:
        _, kind, reset = name.split("_")
    T = 20
    NH, NO = 40, 7
    rng = np.random.default_rng({"snntorch_rleaky_subtract": 201, "snntorch_rleaky_zero": 202,
                                 "snntorch_rsynaptic_subtract": 203,
                                 "snntorch_rsynaptic_zero": 204,
                                 "snntorch_cuba_rec": 205}[name])
    x = (rng.random((N, T, 12)) < 0.3).astype(np.float32)
    beta_h, alpha_h = 0.875, 0.75
    beta_o, alpha_o = 0.75, 0.5

    def build():
        if kind == "rleaky":
            lif1 = snn.RLeaky(beta=beta_h, all_to_all=True, linear_features=NH,
                              init_hidden=True, reset_mechanism=reset)
        else:
            lif1 = snn.RSynaptic(alpha=alpha_h, beta=beta_h, all_to_all=True, linear_features=NH,
                                 init_hidden=True, reset_mechanism=reset)
        # the exporter needs per-neuron parameters on non-recurrent layers (FINDINGS.md)
        if kind == "cuba":
            lif2 = snn.Synaptic(alpha=torch.full((NO,), alpha_o), beta=torch.full((NO,), beta_o),
                                threshold=torch.ones(NO), init_hidden=True, output=True,
                                reset_mechanism=reset)
        else:
            lif2 = snn.Leaky(beta=torch.full((NO,), beta_o), threshold=torch.ones(NO),
                             init_hidden=True, output=True, reset_mechanism=reset)
        return torch.nn.Sequential(OrderedDict([
            ("fc1", torch.nn.Linear(12, NH)), ("lif1", lif1),
            ("fc2", torch.nn.Linear(NH, NO)), ("lif2", lif2)]))

    def fresh(net):
        for m in net.modules():
            if hasattr(m, "reset_mem"):
                for attr in ("spk", "syn", "mem"):
                    if isinstance(getattr(m, attr, None), torch.Tensor):
                        setattr(m, attr, torch.zeros(0))
        return net

    xt = torch.from_numpy(x)

    def run(net):
        """The original model, step by step from zero state: hidden and output spikes."""
        fresh(net)
        hid, outs = [], []
        with torch.no_grad():
            for t in range(T):
                h = net.lif1(net.fc1(xt[:, t]))
                o = net.lif2(net.fc2(h))
                hid.append(h.clone())
                outs.append((o[0] if isinstance(o, tuple) else o).clone())
        fresh(net)
        return {"lif1": torch.stack(hid, 1).numpy(), "out": torch.stack(outs, 1).numpy()}

    def run_imported(m, hidden=None):
        """The imported GraphModule step by step (its state dict carried, from None):
        output spikes; `hidden` (a dict) receives the hidden LIF node's spikes."""
        store = {}
        hk = hook_outputs(dict(m.named_modules())["lif1.lif1_lif"], store, "h")
        state, ys = None, []
        with torch.no_grad():
            for t in range(T):
                y, state = m(xt[:, t], state)
                ys.append(y.clone())
        hk.remove()
        if hidden is not None:
            hidden["lif1"] = np.stack(store["h"], 1)
        return torch.stack(ys, 1).numpy().astype(np.float32)

    base = base_params(build(), seed={"rleaky": 21, "rsynaptic": 22, "cuba": 23}[kind]
                       + (0 if reset == "subtract" else 5))

    def load(gains):
        net = load_params(build(), base, gains)
        # recurrent weight: gain 1 (uniform +-1/sqrt(40)), bias 0: snnTorch adds
        # recurrent(spk=0) = bias at t=1, which NIR's recurrent edge (0 at t=1) cannot carry
        with torch.no_grad():
            net.lif1.recurrent.bias.zero_()
        return net

    def rates_of(gains):
        r = run(load(gains))
        return {"fc1": rate(r["lif1"]), "fc2": rate(r["out"])}
    gains = tune(["fc1", "fc2"], rates_of)
    net = load(gains)
    fwd = run(net)
    fwd2 = run(load(gains))
    assert all(np.array_equal(fwd[k], fwd2[k]) for k in fwd), "forward not deterministic"
    fresh(net)
    with torch.no_grad():  # the step loop above equals calling the Sequential itself
        seq = [net(xt[:, t]) for t in range(T)]
    fresh(net)
    seq = torch.stack([s[0] if isinstance(s, tuple) else s for s in seq], 1).numpy()
    assert np.array_equal(seq, fwd["out"])

    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "model.nir")
    try:
        export_to_nir(copy.deepcopy(net), torch.zeros(1, 12))
        log.append("export_to_nir(net, torch.zeros(1,12)) unexpectedly worked")
    except Exception as e:
        log.append(f"export_to_nir(net, torch.zeros(1,12)) -> {type(e).__name__}: {e}")
    g = export_to_nir(copy.deepcopy(net), torch.zeros(1, 12), ignore_dims=[0])
    log.append("export_to_nir(net, torch.zeros(1,12), ignore_dims=[0]) OK")
    nir.write(path, g)
    assert np.array_equal(run(net)["out"], fwd["out"]), "export changed the model"
    forward = fwd["out"].astype(np.float32)

    # 1. the importer on the file as nir.read returns it
    failure = {}
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            import_from_nir(nir.read(path))
        log.append("import_from_nir(nir.read(path)) unexpectedly worked")
    except Exception as e:
        failure["as_read"] = f"{type(e).__name__}: {e}"
        log.append(f"import_from_nir(nir.read(path)) -> {failure['as_read']}")
    # 2. nodes in topological order: it runs, but the subgraph's input goes through w_rec
    as_is = run_imported(snntorch_import(path, fix_edges=False))
    code = snntorch_import(path, fix_edges=False).lif1.code
    wired_wrong = "lif1_w_rec(add" in code
    failure["topological_order"] = (
        "runs, but computes lif(w_rec(input + lif_prev)): snntorch/import_nir.py "
        "_create_rnn_subgraph adds the edge (\"lif1.input\", \"lif1.w_rec\") instead of "
        "(\"lif1.input\", \"lif1.lif\")" if wired_wrong else "runs")
    log.append("import_from_nir(graph with nodes in topological order) -> "
               + failure["topological_order"])
    # 3. both fixed: what the importer's modules compute on the graph the file describes
    fixed_hidden = {}
    fixed = run_imported(snntorch_import(path, fix_edges=True), fixed_hidden)
    fixed2 = run_imported(snntorch_import(path, fix_edges=True))
    assert np.array_equal(fixed, fixed2)
    imported = snntorch_import(path, fix_edges=True)
    imp_desc = {}
    for k, m in imported.named_modules():
        if isinstance(m, (snn.Leaky, snn.Synaptic, snn.RLeaky, snn.RSynaptic)):
            imp_desc[k] = {"class": type(m).__name__, "reset_mechanism": m.reset_mechanism,
                           "reset_delay": bool(m.reset_delay),
                           "beta": sorted(set(np.asarray(m.beta.detach()).ravel().tolist())),
                           "threshold": sorted(set(np.asarray(
                               m.threshold.detach()).ravel().tolist()))}
            if hasattr(m, "alpha"):
                imp_desc[k]["alpha"] = sorted(set(np.asarray(m.alpha.detach()).ravel().tolist()))
        elif isinstance(m, torch.nn.Linear):
            imp_desc[k] = {"class": "Linear", "shape": list(m.weight.shape)}
    np.save(os.path.join(d, "importer_fixed.npy"), fixed)

    if reset == "subtract":
        reset_reason = ("the importer builds every neuron with reset_mechanism='zero', "
                        "reset_delay=False (NIR's zero reset; the file has no reset mechanism); "
                        "the original subtracts the threshold one step late "
                        "(subtract-undecayed)")
    else:
        reset_reason = ("snnTorch's RLeaky/Synaptic/RSynaptic reset_mechanism='zero' (with the "
                        "default reset_delay=True) sets the membrane to 0 for the whole step "
                        "after a spike, discarding that step's input (mem = base - reset*base); "
                        "the importer's Leaky/Synaptic(reset_delay=False) zero the membrane "
                        "right after the spike and integrate the next step's input (NIR's zero "
                        "reset)")
    expected = forward  # the importer cannot run this case: see importer_failure
    counts = summarize(expected, forward, None)
    counts["forward_layers"] = {"lif1": {"rate": rate(fwd["lif1"]),
                                         "total": float(fwd["lif1"].sum())}}
    counts["importer_as_is_total"] = float(as_is.sum())
    counts["importer_as_is_vs_forward_differing"] = int((as_is != forward).sum())
    counts["importer_fixed_total"] = float(fixed.sum())
    counts["importer_fixed_rate"] = rate(fixed)
    counts["importer_fixed_hidden_rate"] = rate(fixed_hidden["lif1"])
    counts["importer_fixed_vs_forward_differing"] = int((fixed != forward).sum())
    counts["importer_fixed_vs_forward_reason"] = (
        reset_reason if counts["importer_fixed_vs_forward_differing"] else None)
    counts["gains"] = gains

    np.save(os.path.join(d, "inputs.npy"), x)
    np.save(os.path.join(d, "expected.npy"), expected)
    np.save(os.path.join(d, "forward.npy"), forward)
    v = versions("snntorch", "nirtorch", "torch", "numpy")
    neuron = {"rleaky": "RLeaky", "rsynaptic": "RSynaptic", "cuba": "RSynaptic"}[kind]
    outn = "Synaptic" if kind == "cuba" else "Leaky"
    desc = (f"Linear(12,{NH}) -> {neuron}(" + (f"alpha={alpha_h}, " if kind != "rleaky" else "")
            + f"beta={beta_h}, all_to_all=True, linear_features={NH} (recurrent nn.Linear, its "
            f"bias set to 0), reset_mechanism='{reset}') -> Linear({NH},{NO}) -> {outn}("
            + (f"alpha={alpha_o}, " if kind == "cuba" else "")
            + f"beta={beta_o}, threshold=1, per-neuron tensors, reset_mechanism='{reset}'); "
            "modules fc1, lif1, fc2, lif2, init_hidden=True; per-step Bernoulli(0.3) spikes")
    fopts = {"from": "snntorch", "timesteps": T} if reset == "subtract" else None
    entry = {
        "name": name, "framework": "snntorch",
        "model": f"{name}/model.nir", "inputs": f"{name}/inputs.npy",
        "expected": f"{name}/expected.npy", "forward": f"{name}/forward.npy",
        "samples": N, "timesteps": T, "output": "spikes",
        "expected_source": "forward",
        "importer_failure": failure,
        "options": fopts, "forward_options": fopts,
        "exporter": f"snntorch.export_nir.export_to_nir(net, torch.zeros(1,12), "
                    f"ignore_dims=[0]) (snntorch {v['snntorch']}, nirtorch {v['nirtorch']}, "
                    f"nir {v['nir']})",
        "importer": f"nir.read + snntorch.import_nir.import_from_nir (snntorch {v['snntorch']}, "
                    f"nirtorch {v['nirtorch']}, nir {v['nir']})",
        "versions": v, "model_description": desc, "imported_layers": imp_desc,
        "counts": counts,
        "extra": [{"file": f"{name}/importer_fixed.npy",
                   "what": "snnTorch's importer with two fixes (nodes in topological order; the "
                           "recurrent subgraph's input edge to the LIF node, not w_rec): NIR "
                           "semantics with zero reset, as nirtorch runs snnTorch's Leaky/"
                           "Synaptic modules",
                   "options": {"from": "snntorch", "reset": "zero", "timesteps": T}}],
        "log": log,
    }
    entry["options_note"] = (
        "expected.npy is the original model's forward pass (the importer is broken for "
        "recurrent graphs in every snnTorch version, IMPORTERS.md); "
        + ("--from snntorch (subtract-undecayed) computes it" if fopts else
           "no spikefab reset mode computes snnTorch's delayed zero reset of RLeaky/Synaptic/"
           "RSynaptic (membrane 0 for the whole step after a spike), so options is null; "
           "importer_fixed.npy is the NIR reading"))
    return entry


# ----------------------------------------------------------------------------- driver
def side_dir():
    p = os.environ.get("SINABS_NIR_PATH") or os.path.join(sys.prefix, "sinabs-nir")
    return p if os.path.isdir(os.path.join(p, "nir")) else None


def run_worker(case, out, result_path):
    import torch
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    assert "samna" not in sys.modules
    entry = (sinabs_case if case in SINABS_CASES else snntorch_case)(case, out)
    assert "samna" not in sys.modules, "samna was imported"
    entry["file"] = describe_file(os.path.join(out, case, "model.nir"))
    with open(result_path, "w") as f:
        json.dump(entry, f, indent=2, default=float)


def main():
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable] + sys.argv)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--only", nargs="*", choices=CASES, help="cases to (re)make")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    a = ap.parse_args()
    out = os.path.abspath(a.out)
    if a.worker:
        run_worker(a.worker, out, a.result)
        return
    os.makedirs(out, exist_ok=True)
    manifest_path = os.path.join(out, "cases.json")
    todo = a.only or CASES
    entries = {}
    if a.only and os.path.exists(manifest_path):
        entries = {c["name"]: c for c in json.load(open(manifest_path))}
    failed = []
    for case in todo:
        env = dict(os.environ, PYTHONHASHSEED="0", OMP_NUM_THREADS="1")
        if case in SINABS_CASES:
            sd = side_dir()
            if sd:
                env["PYTHONPATH"] = sd + os.pathsep + env.get("PYTHONPATH", "")
            else:
                print(f"{case}: no nir 1.0.4 side directory (VENV/sinabs-nir or "
                      "$SINABS_NIR_PATH); using the venv's nir", file=sys.stderr)
        result = os.path.join(out, f".{case}.json")
        r = subprocess.run([sys.executable, os.path.abspath(__file__), "--out", out,
                            "--worker", case, "--result", result], env=env)
        if r.returncode != 0 or not os.path.exists(result):
            failed.append(case)
            continue
        with open(result) as f:
            e = json.load(f)
        os.remove(result)
        entries[case] = e
        c = e["counts"]
        print(f"{case:28s} T {e['timesteps']:2d} expected {c['expected_total']:7.0f} "
              f"(rate {c['expected_rate']:.2f}, max {c['expected_max']:.0f}) forward "
              f"{c['forward_total']:7.0f} differing {c['differing_values']}")
    ordered = [entries[c] for c in CASES if c in entries]
    with open(manifest_path, "w") as f:
        json.dump(ordered, f, indent=2, default=float)
        f.write("\n")
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
