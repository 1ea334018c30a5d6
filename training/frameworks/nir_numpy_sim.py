#!/usr/bin/env python3
"""Small numpy interpreter of NIR graphs (independent check of the framework fixtures).

Reads the .nir file with h5py directly (not with the `nir` package), so it sees exactly
what is stored: scalar (0-d) datasets, missing `v_reset`/`w_in`, Input shapes that carry
batch/time dimensions, f32 vs f64 parameters.

Semantics: docs/conventions.md (docs/semantics.md sections 1-2), with the dialect as parameters:

  dt             seconds, used in beta = 1 - dt/tau, gain g = r*dt/tau (IF: r*dt)
  reset          zero | subtract | subtract-undecayed
  fire_on_equal  False: s = v > thr ; True: s = v >= thr
and extra switches found necessary to reproduce some frameworks (defaults = conventions):
  integration    euler (conventions) | exact: beta = exp(-dt/tau), g = r*(1-beta)
                 (same for the synaptic state of CubaLIF)             [Sinabs LIF, Rockpool]
  cuba_input     scaled (conventions: i = a*i + (dt/tau_syn)*w_in*I) | unit (i = a*i + w_in*I)
                 [Norse] | unit-decayed (i = a*(i + w_in*I), the jump decays in its own step)
                 [Rockpool]
  membrane_gain  nir (conventions: g = r*dt/tau_mem, or r*(1-beta) when exact) | unit (g = 1,
                 r ignored) [Rockpool]
  multi_spike    False | True: s = trunc(v/thr) if v > 0 else 0 (counts), subtract s*thr
                 (Sinabs MultiSpike; needs reset=subtract)
  dtype          float32 | float64 (state and parameters)
  const_math     f64 (default: beta, g, ... computed in float64 from the stored parameters,
                 then cast to dtype) | native (dt cast to dtype first, constants computed in
                 dtype arithmetic: what a plain f32 implementation does)

Usage:
  python nir_numpy_sim.py --check tests/data/frameworks/cases.json [--precision]
  python nir_numpy_sim.py model.nir inputs.npy T --dt 1e-4 --reset zero [--fire-on-equal]
"""
import argparse
import json
import math
import os
import sys

import h5py
import numpy as np

NEURONS = ("LIF", "IF", "LI", "I", "CubaLIF", "CubaLI")


# ----------------------------------------------------------------------------- reading
def _read_value(ds):
    v = ds[()]
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray) and v.dtype.kind in "OS":
        return np.vectorize(lambda b: b.decode() if isinstance(b, bytes) else b)(v)
    return v


def read_node(g):
    node = {"type": _read_value(g["type"])}
    for k in g.keys():
        if k in ("type", "metadata"):
            continue
        if isinstance(g[k], h5py.Group):
            if k == "nodes":
                node["nodes"] = {n: read_node(g["nodes"][n]) for n in g["nodes"].keys()}
            continue
        node[k] = _read_value(g[k])
    return node


def read_nir(path):
    with h5py.File(path, "r") as f:
        version = _read_value(f["version"]) if "version" in f else None
        root = read_node(f["node"])
    root["_version"] = version
    return root


def describe(path):
    """Human-readable dump of the datasets of every node (for FINDINGS)."""
    out = []
    with h5py.File(path, "r") as f:
        out.append(f"version={_read_value(f['version'])}")

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and not name.endswith("/type"):
                v = obj[()]
                if isinstance(v, np.ndarray) and v.dtype.kind in "iu" and v.size <= 4:
                    out.append(f"  {name}: shape={v.shape} {v.dtype} {v.tolist()}")
                elif isinstance(v, np.ndarray) and v.dtype.kind in "fiu":
                    uniq = np.unique(v)
                    vs = (np.array2string(uniq, precision=8) if uniq.size <= 3
                          else f"[{uniq.size} distinct, {v.min():.6g}..{v.max():.6g}]")
                    out.append(f"  {name}: shape={v.shape} {v.dtype} {vs}")
                elif isinstance(v, np.ndarray):
                    out.append(f"  {name}: shape={v.shape} {v.dtype}")
                else:
                    out.append(f"  {name}: scalar {type(v).__name__} {v!r}")
            elif isinstance(obj, h5py.Group) and "type" in obj:
                out.append(f"  {name}/ type={_read_value(obj['type'])}")
        f["node"].visititems(visit)
    return "\n".join(out)


# ----------------------------------------------------------------------------- graph order
def schedule(graph):
    nodes = graph["nodes"]
    for name, n in nodes.items():
        if n["type"] == "NIRGraph":
            raise NotImplementedError(f"nested graph {name}: not needed for these fixtures")
    edges = [tuple(e) for e in np.asarray(graph["edges"]).reshape(-1, 2)]
    out_edges = {n: [] for n in nodes}
    for s, t in edges:
        out_edges[s].append(t)
    # back edges of a DFS from the Input nodes (name order), out-edges in file order
    color, back = {}, set()

    def dfs(u):
        color[u] = 1
        for v in out_edges[u]:
            if color.get(v) == 1:
                back.add((u, v))
            elif v not in color:
                dfs(v)
        color[u] = 2

    for name in sorted(n for n in nodes if nodes[n]["type"] == "Input"):
        if name not in color:
            dfs(name)
    fwd = [e for e in edges if e not in back]
    indeg = {n: 0 for n in nodes}
    for s, t in fwd:
        indeg[t] += 1
    order, ready = [], sorted(n for n in nodes if indeg[n] == 0)
    while ready:
        u = ready.pop(0)
        order.append(u)
        for s, t in fwd:
            if s == u:
                indeg[t] -= 1
                if indeg[t] == 0:
                    ready.append(t)
    assert len(order) == len(nodes), "cycle without back edge?"
    return order, fwd, sorted(back)


# ----------------------------------------------------------------------------- simulation
def simulate(path, inputs, T, dt, reset="zero", fire_on_equal=False, integration="euler",
             cuba_input="scaled", multi_spike=False, membrane_gain="nir", dtype=np.float32,
             record=None, const_math="f64"):
    """Returns the Output node's values, shape N x T x out (float array).
    record: optional dict filled with {node: [N x T x n]} of membrane values (LIF v before reset)."""
    graph = read_nir(path)
    nodes = graph["nodes"]
    order, fwd, back = schedule(graph)
    dtype = np.dtype(dtype)
    x = np.asarray(inputs)
    N = x.shape[0]
    per_step = False  # direct encoding only in these fixtures
    prev_out = {}  # outputs of the previous step (for recurrent edges)
    state = {}
    outputs = []
    ties = 0

    cdt = np.float64 if const_math == "f64" else dtype.type  # dtype of constant arithmetic
    dt = cdt(dt)

    def P(node, key, default=None):
        if key in node:
            return np.asarray(node[key], dtype=cdt)
        if default is None:
            raise KeyError(key)
        return np.asarray(default, dtype=cdt)

    def decay(tau, r):
        # derived constants in float64, then cast
        if integration == "euler":
            beta = cdt(1.0) - dt / tau
            g = r * dt / tau
        elif integration == "exact":
            beta = np.exp(-dt / tau)
            g = r * (cdt(1.0) - beta)
        else:
            raise ValueError(integration)
        if membrane_gain == "unit":
            g = np.ones_like(g)
        return beta.astype(dtype), g.astype(dtype)

    def fire(name, node, v, thr):
        nonlocal ties
        ties += int(np.count_nonzero(v == thr))
        if multi_spike:
            s = np.where(v > 0, np.trunc(v / thr), 0).astype(dtype)
        else:
            s = (v >= thr) if fire_on_equal else (v > thr)
            s = s.astype(dtype)
        return s

    def apply_reset(name, v, s, thr, vreset):
        if reset == "zero":
            return np.where(s > 0, vreset, v).astype(dtype), None
        if reset == "subtract":
            return (v - thr * s).astype(dtype), None
        if reset == "subtract-undecayed":
            return v, (thr * s).astype(dtype)
        raise ValueError(reset)

    for t in range(T):
        cur = {}
        for name in order:
            node = nodes[name]
            typ = node["type"]
            ins = [cur[s] for s, d in fwd if d == name]
            ins += [prev_out.get(s) for s, d in back if d == name and s in prev_out]
            I = None
            if ins:
                I = ins[0]
                for extra in ins[1:]:
                    I = I + extra
            if typ == "Input":
                y = (x[:, t] if per_step else x).reshape(N, -1).astype(dtype)
            elif typ == "Output":
                y = I
                outputs.append(y)
            elif typ in ("Affine", "Linear"):
                W = np.asarray(node["weight"], dtype=dtype)
                y = I.reshape(N, -1) @ W.T
                if typ == "Affine":
                    y = y + np.asarray(node["bias"], dtype=dtype)
                y = y.astype(dtype)
            elif typ == "Scale":
                y = (I * np.asarray(node["scale"], dtype=dtype)).astype(dtype)
            elif typ == "Flatten":
                y = I.reshape(N, -1)
            elif typ == "Threshold":
                thr = np.asarray(node["threshold"], dtype=dtype)
                y = ((I >= thr) if fire_on_equal else (I > thr)).astype(dtype)
            elif typ in NEURONS:
                I = I.reshape(N, -1)
                st = state.setdefault(name, {"v": np.zeros_like(I), "i": np.zeros_like(I),
                                             "pending": None})
                drive = I
                if typ in ("CubaLIF", "CubaLI"):
                    tau_syn = P(node, "tau_syn")
                    w_in = P(node, "w_in", 1.0)
                    if integration == "euler":
                        a = cdt(1.0) - dt / tau_syn
                        c = dt / tau_syn
                    else:
                        a = np.exp(-dt / tau_syn)
                        c = cdt(1.0) - a
                    if cuba_input in ("unit", "unit-decayed"):
                        c = np.ones_like(c)
                    a = a.astype(dtype)
                    cw = (c * w_in).astype(dtype)
                    if cuba_input == "unit-decayed":
                        st["i"] = ((st["i"] + cw * I) * a).astype(dtype)
                    else:
                        st["i"] = (a * st["i"] + cw * I).astype(dtype)
                    drive = st["i"]
                if typ in ("IF", "I"):
                    r = P(node, "r")
                    v = (st["v"] + (r * dt).astype(dtype) * drive).astype(dtype)
                else:
                    tau = P(node, "tau_mem" if typ.startswith("Cuba") else "tau")
                    r = P(node, "r")
                    vl = P(node, "v_leak").astype(dtype)
                    beta, g = decay(tau, r)
                    v = (vl + beta * (st["v"] - vl) + g * drive).astype(dtype)
                if st["pending"] is not None:
                    v = (v - st["pending"]).astype(dtype)
                    st["pending"] = None
                if record is not None:
                    record.setdefault(name, []).append(v.copy())
                if typ in ("LIF", "IF", "CubaLIF"):
                    thr = P(node, "v_threshold").astype(dtype)
                    vreset = P(node, "v_reset", 0.0).astype(dtype)
                    s = fire(name, node, v, thr)
                    st["v"], st["pending"] = apply_reset(name, v, s, thr, vreset)
                    y = s
                else:
                    st["v"] = v
                    y = v
            else:
                raise NotImplementedError(typ)
            cur[name] = y
        prev_out = cur
    out = np.stack(outputs, axis=1)
    if record is not None:
        for k in list(record):
            record[k] = np.stack(record[k], axis=1)
        record["_ties"] = ties
    return out


# ----------------------------------------------------------------------------- checking
DIALECT_KEYS = ("dt", "reset", "fire_on_equal", "integration", "cuba_input", "multi_spike",
                "membrane_gain", "const_math")


def case_dialect(case):
    d = {k: case[k] for k in DIALECT_KEYS if k in case and case[k] is not None}
    d.setdefault("integration", "euler")
    d.setdefault("cuba_input", "scaled")
    d.setdefault("multi_spike", False)
    d.setdefault("membrane_gain", "nir")
    return d


def run_case(base, case, dialect, dtype):
    x = np.load(os.path.join(base, case["inputs"]))
    exp = np.load(os.path.join(base, case["expected"]))
    rec = {}
    out = simulate(os.path.join(base, case["model"]), x, case["timesteps"], dtype=dtype,
                   record=rec, **dialect)
    out = out.round().astype(np.int64)
    diff = int(np.abs(out - exp.astype(np.int64)).sum())
    return diff, int(exp.astype(np.int64).sum()), rec["_ties"]


def check(manifest, precision=False):
    base = os.path.dirname(os.path.abspath(manifest))
    cases = json.load(open(manifest))
    ok = True
    for case in cases:
        d = case_dialect(case)
        res = []
        for dt_ in (np.float32, np.float64):
            diff, total, ties = run_case(base, case, d, dt_)
            res.append((np.dtype(dt_).name, diff, total, ties))
        good = res[0][1] == 0  # float32 is the reference precision (see FINDINGS.md)
        ok &= good
        print(f"{case['name']:34s} {'OK ' if good else 'DIFF'} dialect={d} " +
              " ".join(f"{n}: {df}/{tot} spikes differ, {ti} exact ties" for n, df, tot, ti in res))
        if precision:
            row = []
            for cm in ("f64", "native"):
                for dt_ in ("float32", "float64"):
                    row.append(f"const {cm}/state {dt_}: {run_case(base, case, dict(d, const_math=cm), dt_)[0]}")
            d32 = dict(d, dt=float(np.float32(d["dt"])))
            row.append(f"float64 with dt=f32(dt): {run_case(base, case, d32, 'float64')[0]}")
            print("    " + "; ".join(row))
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", help="cases.json to verify")
    ap.add_argument("--precision", action="store_true",
                    help="also: constants in f64 vs native dtype, f64 state with dt rounded to f32")
    ap.add_argument("--describe", help="dump the datasets of a .nir file")
    ap.add_argument("model", nargs="?")
    ap.add_argument("inputs", nargs="?")
    ap.add_argument("T", nargs="?", type=int)
    ap.add_argument("--dt", type=float, default=1e-4)
    ap.add_argument("--reset", default="zero")
    ap.add_argument("--fire-on-equal", action="store_true")
    ap.add_argument("--integration", default="euler")
    ap.add_argument("--cuba-input", default="scaled")
    ap.add_argument("--multi-spike", action="store_true")
    ap.add_argument("--membrane-gain", default="nir")
    ap.add_argument("--float64", action="store_true")
    a = ap.parse_args()
    if a.describe:
        print(describe(a.describe))
        return
    if a.check:
        sys.exit(0 if check(a.check, a.precision) else 1)
    out = simulate(a.model, np.load(a.inputs), a.T, a.dt, a.reset, a.fire_on_equal,
                   a.integration, a.cuba_input, a.multi_spike, a.membrane_gain,
                   np.float64 if a.float64 else np.float32)
    print(out.round().astype(np.int64).sum(axis=(1,)))


if __name__ == "__main__":
    main()
