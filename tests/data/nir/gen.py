#!/usr/bin/env python3
"""Golden NIR test data for spikefab.

Writes every model (.nir), input (.npy) and expected output (.npy) in this folder, plus
cases.json, broken/ and broken/cases.json. Deterministic: rerunning reproduces every file
byte for byte.

    /opt/venv/bin/python tests/data/nir/gen.py

Semantics: ../../../docs/conventions.md ("Semantics the golden files follow"). The reference
below is an independent numpy interpreter over nir.NIRGraph objects, run in float64. Every
case is built from dyadic values (small multiples of 1/4, 1/8 or 1/16; dt/tau a power-of-two
fraction) and checked so that float32 arithmetic is exact in any summation order (see
Exact below); such cases are marked "exact": true.
"""

import json
import math
import shutil
from fractions import Fraction
from pathlib import Path

import h5py
import nir
import numpy as np

OUT = Path(__file__).resolve().parent
BROKEN = OUT / "broken"
F32 = np.float32
F64 = np.float64

# --------------------------------------------------------------------------------------
# Exactness: a sum of terms, each a multiple of 2**-K, with sum(|terms|) < 2**(24-K), is
# computed exactly in float32 whatever the order and association of the additions (every
# partial sum is a multiple of 2**-K below 2**(24-K)), and so is every single product term.
# --------------------------------------------------------------------------------------


def frac_bits(a):
    """Smallest K such that every element of a is a multiple of 2**-K."""
    a = np.abs(np.asarray(a, F64)).ravel()
    a = a[a != 0]
    if a.size == 0:
        return 0
    assert np.all(np.isfinite(a))
    m, e = np.frexp(a)
    mi = (m * 2.0**53).astype(np.int64)
    low = mi & -mi
    tz = np.round(np.log2(low.astype(F64))).astype(np.int64)
    return int(max(0, (53 - e - tz).max()))


class Exact:
    def __init__(self):
        self.fail = []
        self.worst = 0.0  # max over checks of log2(sum|terms|) + K, must stay < 24

    def terms(self, label, terms):
        terms = [np.asarray(t, F64) for t in terms]
        k = max(frac_bits(t) for t in terms)
        s = sum(np.abs(t) for t in terms)
        self._check(label, float(np.max(s)), k)

    def dot(self, label, abs_sum, k):
        self._check(label, float(np.max(abs_sum)), k)

    def _check(self, label, smax, k):
        if smax == 0:
            return
        bits = math.log2(smax) + k
        self.worst = max(self.worst, bits)
        if bits >= 24:
            self.fail.append(f"{label}: sum|terms|={smax} K={k} bits={bits:.1f}")

    def value(self, label, a):
        a = np.asarray(a, F64)
        if not np.array_equal(a.astype(F32).astype(F64), a):
            self.fail.append(f"{label}: not representable in float32")


# --------------------------------------------------------------------------------------
# Reference interpreter
# --------------------------------------------------------------------------------------


def arr(x):
    return np.asarray(x, F64)


def flatten_graph(g, prefix=""):
    """Flatten nested NIRGraphs. Returns (nodes {qualname: node}, edges [(src, dst)] in
    file order, top-level input names). Edges into a subgraph go to its (single) Input
    node, edges out of it leave from its (single) Output node; the subgraph's Input and
    Output nodes become identities."""
    nodes, edges = {}, []

    def port(name, kind):
        node = g.nodes[name]
        if isinstance(node, nir.NIRGraph):
            cls = nir.Input if kind == "in" else nir.Output
            ports = sorted(k for k, v in node.nodes.items() if isinstance(v, cls))
            assert len(ports) == 1, f"subgraph {name} needs exactly one {cls.__name__}"
            return prefix + name + "." + ports[0]
        return prefix + name

    for name, node in g.nodes.items():
        if isinstance(node, nir.NIRGraph):
            sn, se, _ = flatten_graph(node, prefix + name + ".")
            nodes.update(sn)
            edges.extend(se)
        else:
            nodes[prefix + name] = node
    for a, b in g.edges:
        a, b = str(a), str(b)
        assert a in g.nodes and b in g.nodes, (a, b)
        edges.append((port(a, "out"), port(b, "in")))
    inputs = sorted(prefix + k for k, v in g.nodes.items() if isinstance(v, nir.Input))
    outputs = sorted(prefix + k for k, v in g.nodes.items() if isinstance(v, nir.Output))
    return nodes, edges, (inputs, outputs)


def order_edges(nodes, edges, inputs):
    """Back edges of a DFS from the Input nodes (name order), out-edges in file order;
    then a topological order of the remaining DAG."""
    out = {n: [] for n in nodes}
    for i, (a, b) in enumerate(edges):
        out[a].append((i, b))
    color = {n: 0 for n in nodes}  # 0 white, 1 on stack, 2 done
    back = set()
    for s in inputs:
        if color[s]:
            continue
        color[s] = 1
        stack = [(s, iter(out[s]))]
        while stack:
            n, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                color[n] = 2
                stack.pop()
                continue
            i, m = nxt
            if color[m] == 1:
                back.add(i)
            elif color[m] == 0:
                color[m] = 1
                stack.append((m, iter(out[m])))
    unreached = [n for n in nodes if color[n] == 0]
    assert not unreached, f"nodes not reachable from the inputs: {unreached}"
    indeg = {n: 0 for n in nodes}
    for i, (a, b) in enumerate(edges):
        if i not in back:
            indeg[b] += 1
    ready = sorted(n for n in nodes if indeg[n] == 0)
    topo = []
    while ready:
        n = ready.pop(0)
        topo.append(n)
        for i, m in out[n]:
            if i not in back:
                indeg[m] -= 1
                if indeg[m] == 0:
                    ready.append(m)
    assert len(topo) == len(nodes)
    return back, topo


def tup(x, nd):
    x = np.asarray(x).astype(np.int64).ravel()
    if x.size == 1:
        return (int(x[0]),) * nd
    assert x.size == nd, x
    return tuple(int(v) for v in x)


def conv_nd(x, w, b, stride, padding, dilation, groups):
    """PyTorch cross-correlation. x (N, C, *S), w (Co, C/groups, *K)."""
    nd = w.ndim - 2
    ksz = w.shape[2:]
    stride, dilation = tup(stride, nd), tup(dilation, nd)
    if isinstance(padding, (str, bytes)):
        padding = padding.decode() if isinstance(padding, bytes) else padding
        if padding == "valid":
            pads = [(0, 0)] * nd
        else:
            assert padding == "same" and all(s == 1 for s in stride)
            tot = [dilation[i] * (ksz[i] - 1) for i in range(nd)]
            pads = [(t // 2, t - t // 2) for t in tot]
    else:
        pads = [(p, p) for p in tup(padding, nd)]
    xp = np.pad(x, [(0, 0), (0, 0)] + pads)
    sp = xp.shape[2:]
    osz = [(sp[i] - dilation[i] * (ksz[i] - 1) - 1) // stride[i] + 1 for i in range(nd)]
    assert all(o > 0 for o in osz)
    n, c = x.shape[:2]
    co = w.shape[0]
    cig, cog = c // groups, co // groups
    assert cig == w.shape[1] and cig * groups == c and cog * groups == co
    y = np.zeros((n, co, *osz))
    for kk in np.ndindex(*ksz):
        sl = tuple(
            slice(kk[i] * dilation[i], kk[i] * dilation[i] + stride[i] * (osz[i] - 1) + 1, stride[i])
            for i in range(nd)
        )
        xs = xp[(slice(None), slice(None)) + sl]
        for gi in range(groups):
            wk = w[(slice(gi * cog, (gi + 1) * cog), slice(None)) + kk]
            y[:, gi * cog:(gi + 1) * cog] += np.einsum("oc,nc...->no...", wk, xs[:, gi * cig:(gi + 1) * cig])
    if b is not None:
        y += b.reshape((1, co) + (1,) * nd)
    return y


def pool_sum(x, kernel, stride, padding):
    c = x.shape[1]
    k = tup(kernel, 2)
    w = np.ones((c, 1, *k))
    return conv_nd(x, w, None, stride, tup(padding, 2), 1, c), k


def node_type(node):
    return type(node).__name__


class Sim:
    """Runs a NIR graph over N samples and T steps. Records spike rates and tie counts."""

    def __init__(self, graph, dt, reset, fire_on_equal):
        assert reset in ("zero", "subtract", "subtract-undecayed")
        self.dt, self.reset, self.foe = float(dt), reset, bool(fire_on_equal)
        self.nodes, self.edges, (self.inputs, self.outputs) = flatten_graph(graph)
        assert len(self.inputs) == 1 and len(self.outputs) == 1
        self.back, self.topo = order_edges(self.nodes, self.edges, self.inputs)
        self.incoming = {n: [] for n in self.nodes}
        for i, (a, b) in enumerate(self.edges):
            self.incoming[b].append((i, a))
        self.ex = Exact()
        self.stats = {}  # spiking node -> [spikes, elements, v == thr ties]
        self.in_shapes = {}

    def p(self, node, name, shape):
        v = arr(getattr(node, name))
        return np.broadcast_to(v, shape)

    def fire(self, v, thr):
        return (v >= thr) if self.foe else (v > thr)

    def run(self, x, T, per_step):
        x = arr(x)
        inp = self.nodes[self.inputs[0]]
        ishape = tuple(int(s) for s in np.asarray(inp.input_type["input"]).ravel())
        n = x.shape[0]
        if per_step:
            assert x.shape[1] == T
            x = x.reshape((n, T) + ishape)
        else:
            x = x.reshape((n,) + ishape)
        self.ex.terms("input", [x])
        self.ex.value("input", x)
        state = {}
        prev = {}
        outs = []
        for t in range(T):
            cur = {}
            for name in self.topo:
                node = self.nodes[name]
                if name == self.inputs[0]:
                    cur[name] = x[:, t] if per_step else x
                    continue
                ins = []
                for i, src in self.incoming[name]:
                    if i in self.back:
                        if src in prev:
                            ins.append(prev[src])
                    else:
                        ins.append(cur[src])
                assert ins, f"{name} has only recurrent inputs at t=0"
                self.in_shapes[name] = ins[0].shape[1:]
                shapes = {a.shape for a in ins}
                assert len(shapes) == 1, f"{name}: incoming shapes differ {shapes}"
                if len(ins) > 1:
                    self.ex.terms(f"{name} edge sum", ins)
                u = sum(ins[1:], ins[0].copy())
                y = self.step(name, node, u, state)
                self.ex.value(f"{name} out", y)
                cur[name] = y
            prev = cur
            outs.append(cur[self.outputs[0]])
        out = np.stack(outs, axis=1)
        oshape = tuple(int(s) for s in np.asarray(self.nodes[self.outputs[0]].output_type["output"]).ravel())
        assert out.shape[2:] == oshape, (out.shape, oshape)
        return out

    def record(self, name, s, ties):
        st = self.stats.setdefault(name, [0, 0, 0])
        st[0] += int(s.sum())
        st[1] += int(s.size)
        st[2] += int(ties)

    def step(self, name, node, u, state):
        ty = node_type(node)
        dt, ex = self.dt, self.ex
        n = u.shape[0]
        if ty in ("Input", "Output"):  # identities inside nested graphs, and the Output
            return u
        if ty in ("Affine", "Linear"):
            w = arr(node.weight)
            assert w.ndim == 2
            xf = u.reshape(n, -1)
            assert xf.shape[1] == w.shape[1], f"{name}: input {u.shape[1:]} vs weight {w.shape}"
            b = arr(node.bias) if ty == "Affine" else np.zeros(w.shape[0])
            s = np.abs(xf) @ np.abs(w).T + np.abs(b)
            ex.dot(name, s, max(frac_bits(w) + frac_bits(xf), frac_bits(b)))
            return xf @ w.T + b
        if ty == "Scale":
            s = self.p(node, "scale", u.shape[1:])
            ex.terms(name, [s * u])
            return s * u
        if ty in ("Conv1d", "Conv2d"):
            w = arr(node.weight)
            assert u.ndim == w.ndim, f"{name}: input {u.shape[1:]}"
            b = arr(node.bias) if getattr(node, "bias", None) is not None else None
            args = (node.stride, node.padding, node.dilation, int(np.asarray(node.groups)))
            y = conv_nd(u, w, b, *args)
            s = conv_nd(np.abs(u), np.abs(w), None if b is None else np.abs(b), *args)
            ex.dot(name, s, max(frac_bits(w) + frac_bits(u), frac_bits(b if b is not None else 0)))
            return y
        if ty in ("SumPool2d", "AvgPool2d"):
            assert u.ndim == 4
            y, k = pool_sum(u, node.kernel_size, node.stride, node.padding)
            ex.dot(name, pool_sum(np.abs(u), node.kernel_size, node.stride, node.padding)[0], frac_bits(u))
            if ty == "AvgPool2d":
                area = k[0] * k[1]
                assert area & (area - 1) == 0, "keep kh*kw a power of two (exact division)"
                y = y / area
            return y
        if ty == "Flatten":
            shp = u.shape[1:]
            nd = len(shp)
            s0 = int(np.asarray(node.start_dim)) % nd
            e0 = int(np.asarray(node.end_dim)) % nd
            new = shp[:s0] + (int(np.prod(shp[s0:e0 + 1])),) + shp[e0 + 1:]
            return u.reshape((n,) + new)
        if ty == "Delay":
            d = self.p(node, "delay", u.shape[1:]) / dt
            steps = np.round(d).astype(np.int64)
            assert np.all(np.abs(d - steps) < 1e-9) and np.all(steps >= 0)
            hist = state.setdefault(name, [])
            hist.append(u)
            t = len(hist) - 1
            y = np.zeros_like(u)
            for idx in np.ndindex(*u.shape[1:]):
                k = steps[idx]
                if t - k >= 0:
                    y[(slice(None),) + idx] = hist[t - k][(slice(None),) + idx]
            return y
        if ty == "Threshold":
            thr = self.p(node, "threshold", u.shape[1:])
            s = self.fire(u, thr)
            self.record(name, s, (u == thr).sum())
            return s.astype(F64)
        # ---- neurons
        shp = u.shape[1:]
        st = state.setdefault(name, {})
        if ty == "I":
            r = self.p(node, "r", shp)
            g = r * dt
            v = st.get("v", np.zeros_like(u))
            ex.terms(name, [v, g * u])
            st["v"] = v + g * u
            return st["v"]
        if ty == "IF":
            r, thr, vr = (self.p(node, k, shp) for k in ("r", "v_threshold", "v_reset"))
            g = r * dt
            v = st.get("vhat", np.zeros_like(u))
            ex.terms(name, [v, g * u, thr])
            v = v + g * u
            if self.reset == "subtract-undecayed":  # beta = 1: the same as subtract
                v = v - thr * st.get("s", 0.0)
            return self.spike_reset(name, st, v, thr, vr)
        if ty in ("CubaLI", "CubaLIF"):
            tau_syn = self.p(node, "tau_syn", shp)
            w_in = self.p(node, "w_in", shp)
            a = 1.0 - dt / tau_syn
            cur = st.get("i", np.zeros_like(u))
            ex.terms(name + " syn", [cur, a * cur, (dt / tau_syn) * cur, (dt / tau_syn) * w_in * u, w_in * u, u])
            cur = a * cur + (dt / tau_syn) * w_in * u
            st["i"] = cur
            u = cur
            tau = self.p(node, "tau_mem", shp)
        else:
            tau = self.p(node, "tau", shp)
        r, vl = self.p(node, "r", shp), self.p(node, "v_leak", shp)
        beta = 1.0 - dt / tau
        g = r * dt / tau
        vh = st.get("vhat", np.zeros_like(u))
        terms = [vh, vl, beta * vh, beta * vl, (dt / tau) * vh, (dt / tau) * vl, g * u, u]
        if ty in ("LI", "CubaLI"):
            ex.terms(name, terms)
            st["vhat"] = vl + beta * (vh - vl) + g * u
            return st["vhat"]
        thr, vr = self.p(node, "v_threshold", shp), self.p(node, "v_reset", shp)
        ex.terms(name, terms + [thr])
        v = vl + beta * (vh - vl) + g * u
        if self.reset == "subtract-undecayed":
            v = v - thr * st.get("s", 0.0)
        return self.spike_reset(name, st, v, thr, vr)

    def spike_reset(self, name, st, v, thr, vr):
        s = self.fire(v, thr)
        self.record(name, s, (v == thr).sum())
        if self.reset == "zero":
            st["vhat"] = np.where(s, vr, v)
        elif self.reset == "subtract":
            st["vhat"] = v - thr * s
        else:
            st["vhat"] = v
            st["s"] = s.astype(F64)
        return s.astype(F64)


def param_exact(graph, dt):
    """dt/tau, r*dt/tau, r*dt, 1-dt/tau, delay/dt must all be exact (any evaluation order)."""
    nodes, _, _ = flatten_graph(graph)
    fdt = Fraction(dt)
    for name, node in nodes.items():
        ty = node_type(node)
        vals = []
        taus = []
        if ty in ("LIF", "LI"):
            taus = [arr(node.tau)]
        if ty in ("CubaLI", "CubaLIF"):
            taus = [arr(node.tau_mem), arr(node.tau_syn)]
        for tau in taus:
            r = np.broadcast_to(arr(node.r), tau.shape)
            for tv, rv in zip(tau.ravel(), r.ravel()):
                ft, fr = Fraction(float(tv)), Fraction(float(rv))
                vals += [fdt / ft, 1 - fdt / ft, fr * fdt / ft, fr * fdt, fr / ft]
        if ty in ("I", "IF"):
            vals += [Fraction(float(rv)) * fdt for rv in arr(node.r).ravel()]
        if ty == "Delay":
            for dv in arr(node.delay).ravel():
                q = Fraction(float(dv)) / fdt
                assert q.denominator == 1, f"{name}: delay/dt = {q} not an integer"
        for q in vals:
            f = float(q)
            assert Fraction(f) == q and Fraction(float(F32(f))) == q, f"{name}: {q} not exact in f32"


# --------------------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------------------


def h5_write(path, tree, version="1.0.8", compression="gzip"):
    """Mirror of nir.write's layout for files nir.write cannot produce (0-d arrays, absent
    optional datasets, old versions). Values of None are skipped; 0-d arrays are stored as
    scalar datasets (HDF5 cannot chunk or compress them)."""

    def rec(group, node):
        for k, v in node.items():
            if v is None:
                continue
            if k == "metadata":
                if v:
                    rec(group.create_group(k), v)
            elif isinstance(v, str):
                group.create_dataset(k, data=v, dtype=h5py.string_dtype())
            elif isinstance(v, np.ndarray) and v.dtype.kind == "O":
                group.create_dataset(k, data=v, dtype=h5py.string_dtype())
            elif isinstance(v, np.ndarray) and v.ndim > 0:
                group.create_dataset(k, data=v, dtype=v.dtype, compression=compression)
            elif isinstance(v, dict):
                rec(group.create_group(k if isinstance(k, bytes) else str(k)), v)
            else:
                group.create_dataset(k, data=v)

    with h5py.File(path, "w") as f:
        if version is not None:
            f.create_dataset("version", data=version, dtype=h5py.string_dtype())
        rec(f.create_group("node"), tree)


def graph_tree(graph):
    return graph.to_dict()


def drop(tree, path):
    """Remove tree['nodes'][a]['nodes'][b]...[field] given 'a/b/field'."""
    parts = path.split("/")
    d = tree
    for p in parts[:-1]:
        d = d["nodes"][p]
    del d[parts[-1]]


# --------------------------------------------------------------------------------------
# Model builders
# --------------------------------------------------------------------------------------


def dy(rng, shape, lo, hi, den):
    """Uniform multiples of 1/den in [lo, hi]."""
    return (rng.integers(round(lo * den), round(hi * den) + 1, size=shape) / den)


def spikes(rng, shape, p):
    return (rng.random(shape) < p).astype(np.uint8)


def lif(shape, tau, r, thr, vleak=0.0, vreset=0.0, dt=F32):
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    mk = lambda v: np.broadcast_to(np.asarray(v, dt), shape).copy()
    return nir.LIF(tau=mk(tau), r=mk(r), v_leak=mk(vleak), v_threshold=mk(thr), v_reset=mk(vreset))


def affine(rng, nout, nin, wden=8, wmax=1.0, bmax=0.25, bden=8, dt=F32):
    return nir.Affine(weight=dy(rng, (nout, nin), -wmax, wmax, wden).astype(dt),
                      bias=dy(rng, (nout,), -bmax, bmax, bden).astype(dt))


def graph(nodes, edges):
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def io(ishape, oshape):
    return nir.Input(input_type=np.array(ishape if isinstance(ishape, (list, tuple)) else [ishape])), \
        nir.Output(output_type=np.array(oshape if isinstance(oshape, (list, tuple)) else [oshape]))


def chain(names_nodes):
    names = [k for k, _ in names_nodes]
    return graph(dict(names_nodes), [(names[i], names[i + 1]) for i in range(len(names) - 1)])


# Each builder takes a numpy Generator and returns one model and the cases that use it:
# graph, dt, T, output ("spikes" | "values"), inputs {key: array} (N x shape: direct,
# N x T x shape: per-step), runs [(case name, reset, fire_on_equal, inputs key, notes)],
# optional distinct [case groups whose expected outputs must differ], need_ties,
# recurrent (the back edge that must matter). @builder(model, seed, writer=...) picks the
# file writer (see write_model; default nir.write(compression=None)). build() tries seeds
# seed, seed+1, ... until every acceptance check passes (deterministic).

BUILDERS = []


def builder(name, seed, **kw):
    def deco(fn):
        BUILDERS.append(dict(model=name, seed=seed, fn=fn, **kw))
        return fn
    return deco


@builder("affine_lif", 100, writer="nir")
def b_affine_lif(rng):
    i_, o_ = io(6, 8)
    g = chain([("input", i_), ("fc", affine(rng, 8, 6, wden=8, bmax=0.25)),
               ("lif", lif(8, tau=4.0, r=4.0, thr=1.0)), ("output", o_)])
    T = 8
    n = 10
    return dict(
        graph=g, dt=1.0, T=T, output="spikes",
        inputs={"direct": dy(rng, (n, 6), 0, 1, 8).astype(F32),
                "perstep": spikes(rng, (n, T, 6), 0.4)},
        runs=[
            ("affine_lif_direct", "zero", False, "direct",
             "Affine(6->8) -> LIF (tau=4, r=4, thr=1, dt=1: beta=0.75, g=1), zero reset, direct encoding (N x 6 float32)"),
            ("affine_lif_perstep", "zero", False, "perstep",
             "same model, per-step encoding: N x T x 6 uint8 spikes"),
            ("affine_lif_perstep_subtract", "subtract", False, "perstep",
             "same model and inputs, reset=subtract: vhat = v - thr*s (the subtracted value decays)"),
            ("affine_lif_perstep_subtract_undecayed", "subtract-undecayed", False, "perstep",
             "same model and inputs, reset=subtract-undecayed (snnTorch Leaky default): v[t] = beta*v[t-1] + g*I[t] - thr*s[t-1]"),
            ("fire_on_equal_false", "zero", False, "perstep",
             "same model and inputs as affine_lif_perstep (identical expected): v lands exactly on thr=1 at some steps and fire_on_equal=false spikes only on v > thr"),
            ("fire_on_equal_true", "zero", True, "perstep",
             "same model and inputs, fire_on_equal=true: spike on v >= thr; expected differs from fire_on_equal_false"),
        ],
        distinct=[("affine_lif_perstep", "affine_lif_perstep_subtract", "affine_lif_perstep_subtract_undecayed"),
                  ("fire_on_equal_false", "fire_on_equal_true")],
        need_ties=True,
    )


@builder("linear_lif_f64", 200)
def b_linear_lif(rng):
    i_, o_ = io(6, 8)
    g = chain([("input", i_), ("fc", nir.Linear(weight=dy(rng, (8, 6), -1, 1, 16).astype(F64))),
               ("lif", lif(8, tau=2.0, r=1.0, thr=0.5, dt=F64)), ("output", o_)])
    return dict(graph=g, dt=1.0, T=8, output="spikes",
                inputs={"x": dy(rng, (10, 6), 0, 1, 8).astype(F32)},
                runs=[("linear_lif_direct_float64", "zero", False, "x",
                       "Linear(6->8) -> LIF (tau=2, r=1, thr=0.5, dt=1: beta=0.5, g=0.5), zero reset, direct encoding; every parameter dataset is float64 (weights multiples of 1/16)")])


@builder("lif_vector_params", 300)
def b_lif_vector(rng):
    n = 8
    i_, o_ = io(6, n)
    tau = np.array([2, 4, 2, 4, 4, 2, 4, 2], F32)
    r = np.array([2, 4, 1, 4, 2, 2, 4, 4], F32)
    thr = np.array([1.0, 0.75, 0.5, 1.0, 1.25, 0.5, 1.0, 0.75], F32)
    vleak = np.array([0.25, -0.25, 0.125, 0.5, 0.0, 0.625, -0.5, 0.25], F32)
    vreset = np.array([-0.25, 0.25, 0.0, -0.5, 0.125, 0.25, -0.125, 0.5], F32)
    g = chain([("input", i_), ("fc", affine(rng, n, 6, wden=4, wmax=0.75, bmax=0.25)),
               ("lif", nir.LIF(tau=tau, r=r, v_leak=vleak, v_threshold=thr, v_reset=vreset)),
               ("output", o_)])
    return dict(graph=g, dt=1.0, T=8, output="spikes",
                inputs={"x": dy(rng, (10, 6), 0, 1, 4).astype(F32)},
                runs=[("lif_vector_params_vleak_vreset", "zero", False, "x",
                       "per-neuron (vector) tau/r/v_threshold, v_leak != 0 (neuron 5 has v_leak 0.625 > thr 0.5: fires without input), v_reset != 0, zero reset (vhat = v_reset)"),
                      ("lif_vector_params_vleak_undecayed", "subtract-undecayed", False, "x",
                       "same model and inputs with subtract-undecayed; project decision for v_leak != 0: v[t] = v_leak + beta*(v[t-1]-v_leak) + g*I[t] - thr*s[t-1]; v_reset unused by subtract resets")],
                distinct=[("lif_vector_params_vleak_vreset", "lif_vector_params_vleak_undecayed")])


def _scalar_lif_graph(rng, shape):
    i_, o_ = io(6, 8)
    mk = lambda v: np.full(shape, v, F32)
    node = nir.LIF(tau=mk(2.0), r=mk(2.0), v_leak=mk(0.125), v_threshold=mk(1.0), v_reset=mk(-0.25))
    return chain([("input", i_), ("fc", affine(rng, 8, 6, wden=8, bmax=0.25)), ("lif", node), ("output", o_)])


@builder("lif_scalar_shape1", 400)
def b_scalar1(rng):
    g = _scalar_lif_graph(rng, (1,))
    return dict(graph=g, dt=1.0, T=8, output="spikes",
                inputs={"x": dy(rng, (10, 6), 0, 1, 8).astype(F32)},
                runs=[("lif_scalar_shape1", "zero", False, "x",
                       "LIF parameters stored as shape-(1,) arrays (tau=2, r=2, v_leak=0.125, thr=1, v_reset=-0.25) broadcast to the 8 neurons fed by Affine(6->8); written with nir.write")])


@builder("lif_scalar_0d", 500, writer="scalar0d")
def b_scalar0(rng):
    g = _scalar_lif_graph(rng, ())
    return dict(graph=g, dt=1.0, T=8, output="spikes",
                inputs={"x": dy(rng, (10, 6), 0, 1, 8).astype(F32)},
                runs=[("lif_scalar_0d", "zero", False, "x",
                       "LIF parameters stored as 0-d (scalar) float32 datasets, broadcast to 8 neurons; written with h5py (nir.write cannot write a 0-d array: it asks for gzip on every ndarray)")])


@builder("scale_if", 700)
def b_scale_if(rng):
    i_, o_ = io(6, 6)
    scale = np.array([0.5, -0.25, 1.5, 2.0, 0.75, 1.0], F32)
    node = nir.IF(r=np.array([1, 2, 1, 1, 2, 1], F32), v_threshold=np.array([1.0, 0.5, 1.0, 2.0, 1.0, 0.75], F32),
                  v_reset=np.array([0.0, -0.25, 0.25, 0.0, -0.5, 0.0], F32))
    g = chain([("input", i_), ("scale", nir.Scale(scale=scale)), ("if", node), ("output", o_)])
    return dict(graph=g, dt=0.5, T=10, output="spikes",
                inputs={"x": dy(rng, (10, 6), -0.5, 1, 8).astype(F32)},
                runs=[("scale_if", "zero", False, "x",
                       "Scale (y = s*x, vector s incl. negative) -> IF (v += r*dt*I, vector r/thr/v_reset, dt=0.5), zero reset, direct encoding")])


@builder("i_integrator", 800)
def b_i(rng):
    i_, o_ = io(6, 4)
    g = chain([("input", i_), ("fc", affine(rng, 4, 6, wden=4, bmax=0.25, bden=4)),
               ("i", nir.I(r=np.array([1.0, 2.0, 4.0, 0.5], F32))), ("output", o_)])
    return dict(graph=g, dt=0.25, T=8, output="values",
                inputs={"x": dy(rng, (10, 8, 6), -1, 1, 4).astype(F32)},
                runs=[("i_integrator_values", "zero", False, "x",
                       "Affine(6->4) -> I (v[t] = v[t-1] + r*dt*I[t], dt=0.25, vector r), per-step float32 input, output = v as float32 values")])


@builder("li_readout", 900)
def b_li(rng):
    i_, o_ = io(8, 4)
    li = nir.LI(tau=np.array([2, 4, 2, 4], F32), r=np.array([2, 4, 1, 2], F32),
                v_leak=np.array([0.0, 0.25, -0.25, 0.0], F32))
    g = chain([("input", i_), ("fc1", affine(rng, 10, 8, wden=8, bmax=0.25)),
               ("lif1", lif(10, tau=2.0, r=2.0, thr=1.0)),
               ("fc2", affine(rng, 4, 10, wden=8, bmax=0.25)), ("li", li), ("output", o_)])
    return dict(graph=g, dt=1.0, T=8, output="values",
                inputs={"x": dy(rng, (10, 8), 0, 1, 8).astype(F32)},
                runs=[("li_readout_values", "zero", False, "x",
                       "Affine -> LIF -> Affine -> LI readout (vector tau/r, v_leak != 0), output = LI membrane as float32 values")])


@builder("delay", 1100)
def b_delay(rng):
    i_, o_ = io(6, 6)
    g = chain([("input", i_), ("delay", nir.Delay(delay=np.array([0.0, 0.25, 0.5, 0.75, 0.5, 1.0], F32))),
               ("output", o_)])
    return dict(graph=g, dt=0.25, T=8, output="spikes",
                inputs={"x": spikes(rng, (10, 8, 6), 0.3)},
                runs=[("delay", "zero", False, "x",
                       "Delay with per-element delay [0, .25, .5, .75, .5, 1.0] s at dt=0.25 -> [0,1,2,3,2,4] steps; y[t] = x[t-d], zero before; per-step uint8 spikes in and out")])


@builder("cuba_li", 1200)
def b_cuba_li(rng):
    i_, o_ = io(6, 4)
    node = nir.CubaLI(tau_syn=np.array([2, 2, 4, 2], F32), tau_mem=np.array([4, 2, 2, 4], F32),
                      r=np.array([4, 2, 2, 1], F32), v_leak=np.array([0.0, 0.25, 0.0, -0.25], F32),
                      w_in=np.array([1.0, 0.5, 2.0, 1.0], F32))
    g = chain([("input", i_), ("fc", affine(rng, 4, 6, wden=4, bmax=0.0, bden=4)), ("cuba", node), ("output", o_)])
    return dict(graph=g, dt=1.0, T=8, output="values",
                inputs={"x": spikes(rng, (10, 8, 6), 0.4)},
                runs=[("cuba_li_values", "zero", False, "x",
                       "Affine -> CubaLI (i = (1-dt/tau_syn)*i + dt/tau_syn*w_in*I; membrane as LI on i), vector w_in, output membrane float32")])


@builder("cuba_lif", 1300)
def b_cuba_lif(rng):
    i_, o_ = io(8, 6)
    node = nir.CubaLIF(tau_syn=np.array([2, 2, 4, 2, 2, 2], F32), tau_mem=np.array([2, 4, 2, 2, 2, 2], F32),
                       r=np.array([2, 4, 2, 2, 2, 2], F32), v_leak=np.zeros(6, F32),
                       v_threshold=np.array([0.5, 0.5, 0.25, 0.5, 0.75, 0.5], F32),
                       v_reset=np.array([0.0, 0.0, -0.125, 0.0, 0.125, 0.0], F32),
                       w_in=np.array([1.0, 2.0, 1.0, 0.5, 1.0, 2.0], F32))
    g = chain([("input", i_), ("fc", affine(rng, 6, 8, wden=4, bmax=0.0, bden=4)), ("cubalif", node), ("output", o_)])
    return dict(graph=g, dt=1.0, T=8, output="spikes",
                inputs={"x": spikes(rng, (10, 8, 8), 0.3)},
                runs=[("cuba_lif", "zero", False, "x",
                       "Affine -> CubaLIF (synaptic current then LIF on i), vector w_in/thr/v_reset, zero reset, per-step uint8 spikes")])


@builder("conv1d_pad1", 1400)
def b_conv1d_a(rng):
    i_, o_ = io([2, 12], [3, 12])
    conv = nir.Conv1d(input_shape=12, weight=dy(rng, (3, 2, 3), -1, 1, 4).astype(F32), stride=1, padding=1,
                      dilation=1, groups=1, bias=dy(rng, (3,), -0.25, 0.25, 8).astype(F32))
    g = chain([("input", i_), ("conv", conv), ("lif", lif((3, 12), tau=2.0, r=2.0, thr=1.0)), ("output", o_)])
    return dict(graph=g, dt=1.0, T=6, output="spikes",
                inputs={"x": dy(rng, (8, 24), 0, 1, 4).astype(F32)},
                runs=[("conv1d_pad1_bias", "zero", False, "x",
                       "Conv1d(2->3, k=3, stride 1, padding int 1, bias, input_shape=12 stored) -> LIF with (3,12) params; direct input given flattened as N x 24 (C order)")])


@builder("conv1d_dil2_groups2_valid", 1500, writer="drop:conv/input_shape,conv/bias")
def b_conv1d_b(rng):
    i_, o_ = io([4, 12], [4, 4])
    conv = nir.Conv1d(input_shape=None, weight=dy(rng, (4, 2, 3), -1, 1, 4).astype(F32), stride=2, padding="valid",
                      dilation=2, groups=2, bias=None)
    g = chain([("input", i_), ("conv", conv), ("lif", lif((4, 4), tau=2.0, r=2.0, thr=0.5)), ("output", o_)])
    return dict(graph=g, dt=1.0, T=8, output="spikes",
                inputs={"x": spikes(rng, (8, 8, 4, 12), 0.4)},
                runs=[("conv1d_dil2_groups2_valid_nobias", "zero", False, "x",
                       "Conv1d(4->4, k=3, stride 2, padding 'valid', dilation 2, groups 2) with NO bias dataset and NO input_shape dataset (written with h5py; decision: absent bias = zeros) -> LIF (4,4); per-step uint8 spikes")])


@builder("conv2d_stride2_pad1", 1600, writer="nir")
def b_conv2d_a(rng):
    i_, o_ = io([2, 8, 8], [4, 4, 4])
    conv = nir.Conv2d(input_shape=(8, 8), weight=dy(rng, (4, 2, 3, 3), -1, 1, 4).astype(F32), stride=2, padding=1,
                      dilation=1, groups=1, bias=dy(rng, (4,), -0.25, 0.25, 8).astype(F32))
    g = chain([("input", i_), ("conv", conv), ("lif", lif((4, 4, 4), tau=2.0, r=2.0, thr=1.0)), ("output", o_)])
    return dict(graph=g, dt=1.0, T=6, output="spikes",
                inputs={"x": spikes(rng, (8, 6, 2, 8, 8), 0.3)},
                runs=[("conv2d_stride2_pad1", "zero", False, "x",
                       "Conv2d(2->4, 3x3, stride 2 (int), padding 1 (int), bias, input_shape stored) -> LIF (4,4,4); per-step spikes")])


@builder("conv1x1_stride2", 1650)
def b_conv2d_1x1s2(rng):
    i_, o_ = io([2, 8, 8], [4, 4, 4])
    conv = nir.Conv2d(input_shape=(8, 8), weight=dy(rng, (4, 2, 3, 3), -1, 1, 4).astype(F32), stride=1, padding=1,
                      dilation=1, groups=1, bias=dy(rng, (4,), -0.25, 0.25, 8).astype(F32))
    short = nir.Conv2d(input_shape=(8, 8), weight=dy(rng, (4, 4, 1, 1), -1, 1, 4).astype(F32), stride=2, padding=0,
                       dilation=1, groups=1, bias=np.zeros(4, F32))
    g = chain([("input", i_), ("conv", conv), ("lif1", lif((4, 8, 8), tau=2.0, r=2.0, thr=0.5)),
               ("short", short), ("lif2", lif((4, 4, 4), tau=2.0, r=2.0, thr=0.5)), ("output", o_)])
    return dict(graph=g, dt=1.0, T=6, output="spikes",
                inputs={"x": spikes(rng, (8, 6, 2, 8, 8), 0.3)},
                runs=[("conv1x1_stride2", "zero", False, "x",
                       "Conv2d(2->4, 3x3, padding 1) -> LIF (4,8,8) -> Conv2d(4->4, 1x1, stride 2, no padding: only even rows and columns reach a target, as a ResNet's downsampling shortcut) -> LIF (4,4,4); per-step spikes")])


@builder("conv2d_same", 1700, writer="drop:conv/input_shape")
def b_conv2d_b(rng):
    i_, o_ = io([2, 6, 6], [3, 6, 6])
    conv = nir.Conv2d(input_shape=None, weight=dy(rng, (3, 2, 2, 3), -1, 1, 4).astype(F32), stride=1, padding="same",
                      dilation=1, groups=1, bias=np.zeros(3, F32))
    g = chain([("input", i_), ("conv", conv), ("lif", lif((3, 6, 6), tau=2.0, r=2.0, thr=1.0)), ("output", o_)])
    return dict(graph=g, dt=1.0, T=6, output="spikes",
                inputs={"x": dy(rng, (8, 2, 6, 6), 0, 1, 4).astype(F32)},
                runs=[("conv2d_same_evenkernel", "zero", False, "x",
                       "Conv2d(2->3, kernel 2x3, padding 'same': H pads 0 before / 1 after (extra at the end), W pads 1/1; bias all zeros as exporters write for bias=False; no input_shape dataset) -> LIF; direct input")])


@builder("conv2d_valid_dil2_groups2", 1800)
def b_conv2d_c(rng):
    i_, o_ = io([4, 9, 9], [4, 5, 3])
    conv = nir.Conv2d(input_shape=(9, 9), weight=dy(rng, (4, 2, 3, 3), -1, 1, 4).astype(F32), stride=(1, 2),
                      padding="valid", dilation=2, groups=2, bias=dy(rng, (4,), -0.25, 0.25, 8).astype(F32))
    g = chain([("input", i_), ("conv", conv), ("lif", lif((4, 5, 3), tau=2.0, r=2.0, thr=1.0)), ("output", o_)])
    return dict(graph=g, dt=1.0, T=4, output="spikes",
                inputs={"x": spikes(rng, (8, 4, 4, 9, 9), 0.3)},
                runs=[("conv2d_valid_dil2_groups2", "zero", False, "x",
                       "Conv2d(4->4, 3x3, stride (1,2) tuple, padding 'valid', dilation 2 (int), groups 2, bias) -> LIF (4,5,3); per-step spikes")])


@builder("conv_pool_flatten", 1900)
def b_cpf(rng):
    i_, o_ = io([1, 8, 8], 5)
    conv = nir.Conv2d(input_shape=(8, 8), weight=dy(rng, (2, 1, 3, 3), -0.5, 1, 4).astype(F32), stride=1, padding=1,
                      dilation=1, groups=1, bias=np.zeros(2, F32))
    g = chain([("input", i_), ("conv", conv), ("lif1", lif((2, 8, 8), tau=2.0, r=2.0, thr=1.0)),
               ("pool", nir.SumPool2d(kernel_size=2, stride=2, padding=0)),
               ("flat", nir.Flatten(input_type=np.array([2, 4, 4]), start_dim=0, end_dim=-1)),
               ("fc", affine(rng, 5, 32, wden=8, bmax=0.0)),
               ("lif2", lif(5, tau=2.0, r=2.0, thr=1.0)), ("output", o_)])
    return dict(graph=g, dt=1.0, T=8, output="spikes",
                inputs={"x": spikes(rng, (8, 8, 1, 8, 8), 0.4)},
                runs=[("conv_sumpool_flatten_affine", "zero", False, "x",
                       "Conv2d -> LIF (2,8,8) -> SumPool2d(kernel/stride/padding as scalars 2/2/0) -> Flatten(start_dim 0, end_dim -1) -> Affine(32->5) -> LIF; per-step spikes")])


@builder("pool_chain", 2000)
def b_pools(rng):
    i_, o_ = io([2, 8, 8], [2, 3, 2])
    g = chain([("input", i_),
               ("avg_t", nir.AvgPool2d(kernel_size=(2, 4), stride=(1, 2), padding=(1, 2))),
               ("sum_t", nir.SumPool2d(kernel_size=np.array([3, 2]), stride=np.array([2, 2]), padding=np.array([1, 0]))),
               ("avg_s", nir.AvgPool2d(kernel_size=2, stride=2, padding=1)),
               ("output", o_)])
    return dict(graph=g, dt=1.0, T=4, output="values",
                inputs={"x": dy(rng, (8, 2, 8, 8), -1, 1, 4).astype(F32)},
                runs=[("pool_chain", "zero", False, "x",
                       "AvgPool2d(kernel (2,4), stride (1,2), padding (1,2) as tuples; /8) (2,8,8)->(2,9,5); SumPool2d(kernel (3,2), stride (2,2), padding (1,0) as arrays) ->(2,5,2); AvgPool2d(kernel 2, stride 2, padding 1 as scalars; /4) ->(2,3,2). Zero padding, counted in the average (torch count_include_pad=True); float32 values")])


@builder("flatten_threshold", 2300)
def b_flat(rng):
    i_, o_ = io([2, 3, 4], [2, 12])
    thr = dy(rng, (2, 12), -0.5, 0.5, 4).astype(F32)
    g = chain([("input", i_), ("flat", nir.Flatten(input_type=np.array([2, 3, 4]), start_dim=1, end_dim=2)),
               ("thr", nir.Threshold(threshold=thr)), ("output", o_)])
    return dict(graph=g, dt=1.0, T=4, output="spikes",
                inputs={"x": dy(rng, (8, 4, 2, 3, 4), -1, 1, 4).astype(F32)},
                runs=[("flatten_threshold", "zero", False, "x",
                       "Flatten(start_dim 1, end_dim 2) on (2,3,4) -> (2,12) (dims exclude the batch), into a stateless Threshold (y = x > thr) with (2,12) thresholds; output (2,12); per-step float32 values, many exact ties"),
                      ("flatten_threshold_fire_on_equal", "zero", True, "x",
                       "same model and inputs, fire_on_equal=true: Threshold y = x >= thr")],
                distinct=[("flatten_threshold", "flatten_threshold_fire_on_equal")])


@builder("residual", 2400)
def b_res(rng):
    i_, o_ = io(8, 8)
    g = graph({"input": i_, "fc1": affine(rng, 8, 8), "lif1": lif(8, tau=2.0, r=2.0, thr=1.0),
               "fc2": affine(rng, 8, 8, wmax=0.5), "lif2": lif(8, tau=2.0, r=2.0, thr=1.0), "output": o_},
              [("input", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"), ("lif1", "lif2"), ("lif2", "output")])
    g.metadata = {"source": "spikefab golden data", "note": "metadata must not change semantics"}
    g.nodes["lif2"].metadata = {"comment": "two incoming edges: fc2 and the lif1 shortcut", "scale": np.array([9.0, 9.0])}
    return dict(graph=g, dt=1.0, T=8, output="spikes",
                inputs={"x": dy(rng, (10, 8), 0, 1, 8).astype(F32)},
                runs=[("residual_merge", "zero", False, "x",
                       "lif2 receives fc2(lif1) + lif1 (identity shortcut): two edges into one LIF summed; graph and node metadata groups present (ignore)")])


@builder("nested", 2500)
def b_nested(rng):
    i_, o_ = io(6, 4)
    bi, bo = io(6, 8)
    block1 = graph({"input": bi, "fc": affine(rng, 8, 6), "lif": lif(8, tau=2.0, r=2.0, thr=1.0), "output": bo},
                   [("input", "fc"), ("fc", "lif"), ("lif", "output")])
    ii, io_ = io(8, 8)
    inner = graph({"in": ii, "lif": lif(8, tau=4.0, r=4.0, thr=1.0), "out": io_}, [("in", "lif"), ("lif", "out")])
    b2i, b2o = io(8, 8)
    block2 = graph({"input": b2i, "fc": affine(rng, 8, 8), "inner": inner, "output": b2o},
                   [("input", "fc"), ("fc", "inner"), ("inner", "output")])
    g = graph({"input": i_, "block1": block1, "block2": block2, "head": affine(rng, 4, 8),
               "lif": lif(4, tau=2.0, r=2.0, thr=1.0), "output": o_},
              [("input", "block1"), ("block1", "block2"), ("block2", "head"), ("head", "lif"), ("lif", "output")])
    return dict(graph=g, dt=1.0, T=8, output="spikes",
                inputs={"x": dy(rng, (10, 6), 0, 1, 8).astype(F32)},
                runs=[("nested_graph", "zero", False, "x",
                       "NIRGraph nodes inside the top graph, two levels (block1.fc, block1.lif, block2.fc, block2.inner.lif); edges name the subgraph, which routes to its single Input/Output node")])


@builder("recurrent", 2600)
def b_rec(rng):
    i_, o_ = io(6, 8)
    g = graph({"input": i_, "fc_in": affine(rng, 8, 6), "lif": lif(8, tau=2.0, r=2.0, thr=1.0),
               "fc_rec": affine(rng, 8, 8, wmax=1.0, bmax=0.25), "output": o_},
              [("input", "fc_in"), ("fc_in", "lif"), ("lif", "fc_rec"), ("fc_rec", "lif"), ("lif", "output")])
    return dict(graph=g, dt=1.0, T=10, output="spikes",
                inputs={"x": dy(rng, (10, 6), 0, 1, 8).astype(F32)},
                runs=[("recurrent_lif", "zero", False, "x",
                       "lif -> fc_rec -> lif: (fc_rec, lif) is the DFS back edge and delivers fc_rec's output of the previous step (zero at t=1, so fc_rec's bias is absent at t=1)")],
                recurrent=("fc_rec", "lif"))


@builder("ensemble", 2700)
def b_ens(rng):
    i_, o_ = io(8, 4)
    nodes = {"input": i_}
    edges = []
    for k in range(3):
        nodes[f"b{k}_fc"] = affine(rng, 6, 8)
        nodes[f"b{k}_lif"] = lif(6, tau=[2.0, 4.0, 2.0][k], r=[2.0, 4.0, 2.0][k], thr=1.0)
        nodes[f"b{k}_head"] = affine(rng, 4, 6, bmax=0.125)
        edges += [("input", f"b{k}_fc"), (f"b{k}_fc", f"b{k}_lif"), (f"b{k}_lif", f"b{k}_head"), (f"b{k}_head", "out_lif")]
    nodes["out_lif"] = lif(4, tau=2.0, r=2.0, thr=1.0)
    nodes["output"] = o_
    edges.append(("out_lif", "output"))
    g = graph(nodes, edges)
    return dict(graph=g, dt=1.0, T=8, output="spikes",
                inputs={"x": dy(rng, (10, 8), 0, 1, 8).astype(F32)},
                runs=[("ensemble_3branch", "zero", False, "x",
                       "3 parallel branches input -> b{k}_fc -> b{k}_lif -> b{k}_head (Affine 6->4), all three heads summed into out_lif")])


@builder("old_v011", 2900, writer="old011")
def b_old(rng):
    i_, o_ = io(6, 8)
    g = chain([("input", i_), ("fc", affine(rng, 8, 6)), ("lif", lif(8, tau=2.0, r=2.0, thr=1.0)), ("output", o_)])
    return dict(graph=g, dt=1.0, T=8, output="spikes",
                inputs={"x": dy(rng, (10, 6), 0, 1, 8).astype(F32)},
                runs=[("old_version_0_1_1", "zero", False, "x",
                       "nir 0.1.x layout written with h5py: root version '0.1.1', no v_reset dataset (defaults to 0), no metadata, arrays uncompressed")])


# --------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------

RATE_LO, RATE_HI = 0.05, 0.60


def simulate(spec, graph, run):
    name, reset, foe, key, _ = run
    x = spec["inputs"][key]
    ishape = [v for v in spec["graph"].nodes.values() if isinstance(v, nir.Input)][0].input_type["input"]
    per_step = x[0].size == spec["T"] * int(np.prod(ishape))
    sim = Sim(graph, spec["dt"], reset, foe)
    y = sim.run(x, spec["T"], per_step)
    return y, sim, per_step


def acceptable(spec, results):
    """Rates of every spiking node in range, exactness, non-trivial outputs, variants differ."""
    why = []
    for run, (y, sim, _) in zip(spec["runs"], results):
        if sim.ex.fail:
            why.append(f"{run[0]} inexact: {sim.ex.fail[:2]}")
        for node, (s, tot, ties) in sim.stats.items():
            rate = s / tot
            if not (RATE_LO <= rate <= RATE_HI):
                why.append(f"{run[0]} {node} rate {rate:.3f}")
        if np.all(y == y.flat[0]):
            why.append(f"{run[0]} constant output")
        if spec["output"] == "values" and len(np.unique(y)) < 8:
            why.append(f"{run[0]} too few distinct values")
    by = {run[0]: r[0] for run, r in zip(spec["runs"], results)}
    for group in spec.get("distinct", []):
        for i in range(len(group)):
            for j in range(i + 1, len(group)):
                if np.array_equal(by[group[i]], by[group[j]]):
                    why.append(f"{group[i]} == {group[j]}")
    if spec.get("need_ties"):
        ties = sum(st[2] for r in results for st in r[1].stats.values())
        if ties < 3:
            why.append("too few ties")
    if spec.get("recurrent"):
        # the recurrent path must matter: the same graph minus the back edge must differ
        a, b = spec["recurrent"]
        g = spec["graph"]
        g2 = graph(dict(g.nodes), [e for e in g.edges if tuple(e) != (a, b)])
        for run, r in zip(spec["runs"], results):
            assert r[1].back == {list(map(tuple, g.edges)).index((a, b))}, r[1].back
            if np.array_equal(simulate(spec, g2, run)[0], r[0]):
                why.append(f"{run[0]} recurrent edge has no effect")
    return why


def build(b):
    from collections import Counter

    reasons = Counter()
    for k in range(200):
        rng = np.random.default_rng(b["seed"] + k)
        spec = b["fn"](rng)
        param_exact(spec["graph"], spec["dt"])
        results = [simulate(spec, spec["graph"], run) for run in spec["runs"]]
        why = acceptable(spec, results)
        if not why:
            return spec, results, b["seed"] + k
        reasons.update(w.split(":")[0].split(" rate")[0] for w in why)
    raise RuntimeError(f"{b['model']}: no acceptable seed; reasons: {reasons.most_common(8)}; last: {why}")


def write_model(b, spec, path):
    w = b.get("writer", "nir-nocompress")
    g = spec["graph"]
    if w == "nir":
        nir.write(path, g)
    elif w == "nir-nocompress":
        nir.write(path, g, compression=None)
    elif w == "scalar0d":
        h5_write(path, graph_tree(g), compression=None)
    elif w == "old011":
        tree = graph_tree(g)
        for node in tree["nodes"].values():
            node.pop("v_reset", None)
            node.pop("metadata", None)
        tree.pop("metadata", None)
        h5_write(path, tree, version="0.1.1", compression=None)
    elif w.startswith("drop:"):
        tree = graph_tree(g)
        for p in w[5:].split(","):
            drop(tree, p)
        h5_write(path, tree, compression=None)
    else:
        raise ValueError(w)
    return {
        "nir": "file: nir.write, gzip-compressed chunked arrays",
        "nir-nocompress": "file: nir.write(compression=None), contiguous arrays",
        "scalar0d": "file: h5py in nir.write's layout, 0-d scalar datasets, contiguous arrays",
        "old011": "file: h5py, nir 0.1.x layout, contiguous arrays",
    }.get(w, "file: h5py in nir.write's layout without " + w[5:] + ", contiguous arrays")


def patched_read(path):
    """nir.read, with an absent conv `bias` filled with zeros (project decision)."""
    from nir.serialization import hdf2dict

    with h5py.File(path, "r") as f:
        d = hdf2dict(f["node"])

    def fix(node):
        if node.get("type") == "NIRGraph":
            for sub in node["nodes"].values():
                fix(sub)
        elif node.get("type") in ("Conv1d", "Conv2d"):
            node.setdefault("bias", np.zeros(node["weight"].shape[0], node["weight"].dtype))
            node.setdefault("input_shape", None)

    fix(d)
    d["type_check"] = False
    return nir.dict2NIRNode(d)


def readback_check(path, spec, results):
    """Read the written file back and re-simulate: must match exactly."""
    try:
        g2, how = nir.read(path, type_check=False), "nir.read"
    except Exception:  # nir.read rejects an absent conv bias
        g2, how = patched_read(path), "patched read"
    for run, (y, _, _) in zip(spec["runs"], results):
        y2, _, _ = simulate(spec, g2, run)
        assert np.array_equal(y, y2), f"{run[0]}: read-back mismatch"
    return how


# --------------------------------------------------------------------------------------
# Broken corpus: one defect per file
# --------------------------------------------------------------------------------------


def small_tree(rng, with_fc=False):
    """Input -> [fc Affine(4->3)] -> lif LIF(3) -> Output(3), as a nir.write-style tree."""
    if with_fc:
        i_, o_ = io(4, 3)
        g = chain([("input", i_), ("fc", affine(rng, 3, 4)), ("lif", lif(3, tau=2.0, r=2.0, thr=1.0)), ("output", o_)])
    else:
        i_, o_ = io(3, 3)
        g = chain([("input", i_), ("lif", lif(3, tau=2.0, r=2.0, thr=1.0)), ("output", o_)])
    return g.to_dict()


def write_broken():
    BROKEN.mkdir()
    rng = np.random.default_rng(7)
    out = []

    def add(name, expect, notes, writer=None, tree=None, version="1.0.8", raw=None):
        path = BROKEN / f"{name}.nir"
        if raw is not None:
            path.write_bytes(raw)
        else:
            h5_write(path, tree, version=version, compression=None)
        try:
            nir.read(path)
            nr = "nir.read accepts it"
        except Exception as e:
            nr = f"nir.read raises {type(e).__name__}"
        out.append({"name": name, "model": f"{name}.nir", "expect": expect, "notes": f"{notes} ({nr})"})

    good = (OUT / "affine_lif.nir").read_bytes()
    add("truncated_half", "", "first half of ../affine_lif.nir (gzip; valid superblock, objects past EOF); any error, no panic", raw=good[: len(good) // 2])
    add("not_hdf5", "", "a text file named .nir; any error (e.g. 'not an HDF5 file'), no panic",
        raw=b"this is not an HDF5 file, just text with a .nir extension\n")

    t = small_tree(rng)
    t["nodes"]["lif"]["type"] = "LIFF"
    add("unknown_type_liff", "LIFF", "node lif has type string 'LIFF'", tree=t)

    t = small_tree(rng)
    del t["nodes"]["lif"]["tau"]
    add("lif_missing_tau", "tau", "LIF node lif has no tau dataset", tree=t)

    t = small_tree(rng, with_fc=True)
    t["nodes"]["fc"]["weight"] = "0.5 0.25 -0.5 1.0"
    add("weight_is_string", "weight", "Affine fc: weight is a scalar UTF-8 string dataset instead of a float array", tree=t)

    t = small_tree(rng, with_fc=True)
    t["nodes"]["fc"]["bias"] = np.zeros(5, F32)
    add("affine_bias_length", "bias", "Affine fc: weight (3,4) but bias of length 5", tree=t)

    i_, o_ = io(3, 12)
    g = chain([("input", i_), ("fc_out10", affine(rng, 10, 3)), ("lif_in12", lif(12, tau=2.0, r=2.0, thr=1.0)), ("output", o_)])
    add("edge_shape_mismatch", "lif_in12", "edge fc_out10 -> lif_in12: Affine output 10 into a LIF of 12 neurons", tree=g.to_dict())

    t = small_tree(rng)
    t["edges"] = t["edges"] + [("lif", "ghost")]
    add("edge_unknown_node", "ghost", "edge lif -> ghost; no node named ghost", tree=t)

    big = [100000, 100000, 100000]
    g = graph({"huge_input": nir.Input(input_type=np.array(big)), "output": nir.Output(output_type=np.array(big))},
              [("huge_input", "output")])
    add("huge_input_shape", "huge_input", "Input huge_input declares shape [100000, 100000, 100000] (1e15 elements; must be refused before allocating)", tree=g.to_dict())

    t = small_tree(rng)
    bad = b"\xff\xfe"
    t["nodes"][bad] = t["nodes"].pop("lif")
    t["edges"] = np.array([[b"input", bad], [bad, b"output"]], dtype=object)
    add("non_utf8_node_name", "", "node group named with bytes 0xff 0xfe (not UTF-8), also used in the edges dataset (vlen UTF-8 strings holding invalid bytes); must be rejected, not decoded lossily; any error, ideally saying 'not valid UTF-8'", tree=t)

    t = small_tree(rng, with_fc=True)
    t["nodes"]["fc"]["weight"][1, 2] = np.nan
    add("nan_weight", "weight", "Affine fc: weight[1,2] is NaN", tree=t)

    t = small_tree(rng)
    t["nodes"]["lif"]["tau"] = np.array([2.0, 0.0, 2.0], F32)
    add("tau_zero", "tau", "LIF lif: tau[1] = 0 (tau must be > 0)", tree=t)

    i_, o_ = io(3, 3)
    g = graph({"input": i_, "loop_a": affine(rng, 3, 3), "loop_b": affine(rng, 3, 3), "output": o_},
              [("input", "loop_a"), ("loop_a", "loop_b"), ("loop_b", "loop_a"), ("loop_b", "output")])
    add("cycle_without_state", "loop_", "loop_a -> loop_b -> loop_a: a cycle of two Affine nodes with no stateful node (expect names either node)", tree=g.to_dict())

    t = small_tree(rng)
    del t["edges"]
    add("missing_edges", "edges", "top-level graph group has no edges dataset", tree=t)

    add("missing_version", "version", "no root version dataset", tree=small_tree(rng), version=None)

    (BROKEN / "cases.json").write_text(json.dumps(out, indent=2) + "\n")
    return out


def main():
    for p in OUT.glob("*.nir"):
        p.unlink()
    for p in OUT.glob("*.npy"):
        p.unlink()
    if BROKEN.exists():
        shutil.rmtree(BROKEN)
    cases = []
    log = []
    for b in BUILDERS:
        spec, results, seed = build(b)
        model = f"{b['model']}.nir"
        storage = write_model(b, spec, OUT / model)
        rb = readback_check(OUT / model, spec, results)
        saved = {}
        for run, (y, sim, per_step) in zip(spec["runs"], results):
            name, reset, foe, key, notes = run
            if key not in saved:
                fn = f"{b['model']}.{key}.inputs.npy" if len(spec["inputs"]) > 1 else f"{b['model']}.inputs.npy"
                np.save(OUT / fn, spec["inputs"][key])
                saved[key] = fn
            if spec["output"] == "spikes":
                assert set(np.unique(y)) <= {0.0, 1.0}
                yo = y.astype(np.uint8)
            else:
                yo = y.astype(F32)
                assert np.array_equal(yo.astype(F64), y)
            np.save(OUT / f"{name}.expected.npy", yo)
            rates = {k: round(v[0] / v[1], 3) for k, v in sim.stats.items()}
            ties = sum(v[2] for v in sim.stats.values())
            cases.append({
                "name": name, "model": model, "inputs": saved[key], "expected": f"{name}.expected.npy",
                "timesteps": spec["T"], "dt": spec["dt"], "reset": reset, "fire_on_equal": foe,
                "from": None, "output": spec["output"], "exact": True,
                "notes": notes + f" [{'per-step' if per_step else 'direct'} input; {storage}; spike rates {rates}; v==thr ties {ties}]",
            })
            log.append(f"{name:42s} seed={seed} rb={rb[:60]} worst_bits={sim.ex.worst:.1f} rates={rates} ties={ties}")
    (OUT / "cases.json").write_text(json.dumps(cases, indent=2) + "\n")
    for c in write_broken():
        log.append(f"broken/{c['model']:32s} expect={c['expect']!r:14s} {c['notes'][-40:]}")
    print("\n".join(log))


if __name__ == "__main__":
    main()
