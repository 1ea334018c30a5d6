"""Independent numpy simulator of a NIR file under the semantics of docs/conventions.md.

It reads the HDF5 file with h5py only (not the `nir` package, not snnTorch) and runs it
batched over samples in float32. Every Affine/Linear/Conv2d sum is also computed in float64:
if the two agree everywhere the float32 synaptic sums were exact (order-independent).

Usage: python nirsim.py MODEL.nir INPUTS.npy T RESET [EXPECTED.npy]  (RESET: zero|subtract|subtract-undecayed)
"""
import sys

import h5py
import numpy as np


def _read_group(g):
    d = {}
    for k, v in g.items():
        if isinstance(v, h5py.Group):
            d[k] = _read_group(v)
        else:
            x = v[()]
            if isinstance(x, bytes):
                x = x.decode()
            d[k] = x
    return d


def load(path):
    with h5py.File(path, "r") as f:
        return _read_group(f["node"])


def flatten_graph(g, prefix=""):
    """Flatten nested NIRGraphs into one dict of nodes and a list of edges. An edge to/from a
    nested graph G is routed to G's Input / from G's Output node."""
    nodes, edges = {}, []
    sub_io = {}
    for name, nd in g["nodes"].items():
        full = prefix + name
        if nd["type"] == "NIRGraph":
            n2, e2 = flatten_graph(nd, full + ".")
            nodes.update(n2)
            edges += e2
            ins = [k for k, v in nd["nodes"].items() if v["type"] == "Input"]
            outs = [k for k, v in nd["nodes"].items() if v["type"] == "Output"]
            sub_io[full] = (full + "." + ins[0], full + "." + outs[0])
        else:
            nodes[full] = nd
    for s, t in g["edges"]:
        s, t = prefix + (s.decode() if isinstance(s, bytes) else s), prefix + (t.decode() if isinstance(t, bytes) else t)
        if s in sub_io:
            s = sub_io[s][1]
        if t in sub_io:
            t = sub_io[t][0]
        edges.append((s, t))
    return nodes, edges


def order(nodes, edges):
    """Topological order + recurrent (DFS back) edges, DFS from Input nodes in name order,
    following out-edges in file order."""
    out = {n: [] for n in nodes}
    for s, t in edges:
        out[s].append(t)
    state, post, back = {}, [], set()

    def dfs(u):
        state[u] = 1
        for v in out[u]:
            if state.get(v) == 1:
                back.add((u, v))
            elif v not in state:
                dfs(v)
        state[u] = 2
        post.append(u)

    for n in sorted(k for k, v in nodes.items() if v["type"] == "Input"):
        if n not in state:
            dfs(n)
    for n in nodes:
        if n not in state:
            dfs(n)
    return post[::-1], back


def _conv2d(x, w, b, stride, pad, dtype):
    # x: N,C,H,W ; w: Co,Ci,kh,kw ; PyTorch cross-correlation, zero padding
    x = x.astype(dtype)
    w = w.astype(dtype)
    N, C, H, W = x.shape
    Co, Ci, kh, kw = w.shape
    ph, pw = pad
    sh, sw = stride
    xp = np.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype)
    xp[:, :, ph:ph + H, pw:pw + W] = x
    Ho, Wo = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
    y = np.zeros((N, Co, Ho, Wo), dtype)
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i:i + sh * Ho:sh, j:j + sw * Wo:sw]
            y += np.einsum("nchw,oc->nohw", patch, w[:, :, i, j])
    return y + b.astype(dtype)[None, :, None, None]


def _pair(v):
    v = np.atleast_1d(np.asarray(v))
    return (int(v[0]), int(v[-1]))


def _pool(x, k, s, p, avg):
    N, C, H, W = x.shape
    xp = np.zeros((N, C, H + 2 * p[0], W + 2 * p[1]), x.dtype)
    xp[:, :, p[0]:p[0] + H, p[1]:p[1] + W] = x
    Ho, Wo = (H + 2 * p[0] - k[0]) // s[0] + 1, (W + 2 * p[1] - k[1]) // s[1] + 1
    y = np.zeros((N, C, Ho, Wo), x.dtype)
    for i in range(k[0]):
        for j in range(k[1]):
            y += xp[:, :, i:i + s[0] * Ho:s[0], j:j + s[1] * Wo:s[1]]
    return y / np.float32(k[0] * k[1]) if avg else y


def simulate(path, inputs, T, reset, dt=1e-4, fire_on_equal=False):
    g = load(path)
    nodes, edges = flatten_graph(g)
    topo, back = order(nodes, edges)
    preds = {n: [] for n in nodes}
    for s, t in edges:
        preds[t].append(s)
    inp = [n for n in sorted(nodes) if nodes[n]["type"] == "Input"][0]
    outn = [n for n in sorted(nodes) if nodes[n]["type"] == "Output"][0]
    in_shape = tuple(int(v) for v in np.atleast_1d(nodes[inp]["shape"]))
    x = np.asarray(inputs)
    N = x.shape[0]
    per_step = x.ndim >= 2 and x.shape[1] == T and x[0, 0].size == int(np.prod(in_shape))
    state, cur, prev = {}, {}, {}
    exact = True
    outs = []
    for t in range(T):
        xt = x[:, t] if per_step else x
        for n in topo:
            nd = nodes[n]
            ty = nd["type"]
            vals = []
            for s in preds[n]:
                src = prev if (s, n) in back else cur
                vals.append(src.get(s, 0.0))
            if ty == "Input":
                y = xt.reshape((N,) + in_shape).astype(np.float32)
            else:
                acc = None
                for v in vals:
                    acc = v if acc is None else acc + v
                u = acc
            if ty in ("Affine", "Linear"):
                W = nd["weight"]
                u2 = u.reshape(N, -1)
                y = u2.astype(np.float32) @ W.astype(np.float32).T
                y64 = u2.astype(np.float64) @ W.astype(np.float64).T
                if ty == "Affine":
                    y = y + nd["bias"].astype(np.float32)
                    y64 = y64 + nd["bias"].astype(np.float64)
                exact &= bool(np.array_equal(y.astype(np.float64), y64))
            elif ty == "Conv2d":
                pad = nd["padding"]
                if isinstance(pad, str):
                    raise NotImplementedError("string padding")
                y = _conv2d(u, nd["weight"], nd["bias"], _pair(nd["stride"]), _pair(pad), np.float32)
                y64 = _conv2d(u, nd["weight"], nd["bias"], _pair(nd["stride"]), _pair(pad), np.float64)
                exact &= bool(np.array_equal(y.astype(np.float64), y64))
            elif ty in ("AvgPool2d", "SumPool2d"):
                y = _pool(u, _pair(nd["kernel_size"]), _pair(nd["stride"]), _pair(nd["padding"]), ty == "AvgPool2d")
            elif ty == "Flatten":
                sd, ed = int(nd["start_dim"]), int(nd["end_dim"])
                shp = u.shape[1:]
                sd = sd % len(shp)
                ed = ed % len(shp)
                y = u.reshape((N,) + shp[:sd] + (-1,) + shp[ed + 1:])
            elif ty == "LIF":
                tau, r = nd["tau"].astype(np.float64), nd["r"].astype(np.float64)
                beta = (1.0 - dt / tau).astype(np.float32)
                gain = (r * dt / tau).astype(np.float32)
                vl = nd["v_leak"].astype(np.float32)
                th = nd["v_threshold"].astype(np.float32)
                vr = nd.get("v_reset", np.zeros_like(tau)).astype(np.float32)
                I = u.reshape((N,) + tau.shape).astype(np.float32)
                if n not in state:
                    state[n] = (np.zeros_like(I), np.zeros_like(I))
                v_prev, s_prev = state[n]
                if reset == "subtract-undecayed":
                    v = vl + beta * (v_prev - vl) + gain * I - th * s_prev
                else:
                    v = vl + beta * (v_prev - vl) + gain * I
                s = (v >= th) if fire_on_equal else (v > th)
                s = s.astype(np.float32)
                if reset == "zero":
                    vhat = np.where(s > 0, vr, v)
                elif reset == "subtract":
                    vhat = v - th * s
                else:
                    vhat = v
                state[n] = (vhat, s)
                y = s
            elif ty == "Output":
                y = u
            elif ty != "Input":
                raise NotImplementedError(ty)
            cur[n] = y
        outs.append(cur[outn].reshape(N, -1))
        prev, cur = cur, {}
    return np.stack(outs, 1).astype(np.uint8), exact


if __name__ == "__main__":
    model, inputs, T, reset = sys.argv[1], np.load(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    out, exact = simulate(model, inputs, T, reset)
    print("output", out.shape, "f32 sums exact:", exact)
    if len(sys.argv) > 5:
        exp = np.load(sys.argv[5])
        print("differing spikes:", int((out != exp).sum()), "of", exp.size)
