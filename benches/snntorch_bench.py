"""Times snnTorch on CPU (one thread) on a NIR model and an input file, for comparison with
`spikefab bench` on the same files. The network is built from the NIR graph with snnTorch
`Leaky` neurons (beta = 1 - dt/tau, reset "zero" or "subtract", threshold from the file) and
torch layers, executed in topological order per step (edges into a node sum).

Usage: python benches/snntorch_bench.py MODEL.nir INPUTS.npy [--dt 1e-4] [--reset zero]
       [--timesteps T] [--batch 256] [--repeat 3] [--check EXPECTED.npy]
Prints one JSON line: samples, T, batch, seconds (fastest wall time), samples_per_s,
cpu_seconds (fastest CPU time of the process, all threads), samples_per_cpu_s, torch and
snntorch versions.
"""
import argparse
import json
import time

import nir
import numpy as np
import snntorch as snn
import torch


def build(graph, dt, reset):
    mods, order = {}, []
    for name, node in graph.nodes.items():
        if isinstance(node, nir.Input) or isinstance(node, nir.Output):
            mods[name] = None
        elif isinstance(node, nir.Affine):
            m = torch.nn.Linear(node.weight.shape[1], node.weight.shape[0])
            m.weight.data = torch.tensor(node.weight, dtype=torch.float32)
            m.bias.data = torch.tensor(node.bias, dtype=torch.float32)
            mods[name] = m
        elif isinstance(node, nir.Linear):
            m = torch.nn.Linear(node.weight.shape[1], node.weight.shape[0], bias=False)
            m.weight.data = torch.tensor(node.weight, dtype=torch.float32)
            mods[name] = m
        elif isinstance(node, nir.Conv2d):
            w = torch.tensor(node.weight, dtype=torch.float32)
            pad = node.padding if isinstance(node.padding, str) else tuple(int(p) for p in np.atleast_1d(node.padding))
            m = torch.nn.Conv2d(w.shape[1] * int(node.groups), w.shape[0], tuple(w.shape[2:]),
                                stride=tuple(int(s) for s in np.atleast_1d(node.stride)), padding=pad,
                                dilation=tuple(int(d) for d in np.atleast_1d(node.dilation)),
                                groups=int(node.groups), bias=node.bias is not None)
            m.weight.data = w
            if node.bias is not None:
                m.bias.data = torch.tensor(node.bias, dtype=torch.float32)
            mods[name] = m
        elif isinstance(node, nir.AvgPool2d):
            k = tuple(int(v) for v in np.broadcast_to(node.kernel_size, 2))
            s = tuple(int(v) for v in np.broadcast_to(node.stride, 2))
            p = tuple(int(v) for v in np.broadcast_to(node.padding, 2))
            mods[name] = torch.nn.AvgPool2d(k, s, p)
        elif isinstance(node, nir.SumPool2d):
            k = tuple(int(v) for v in np.broadcast_to(node.kernel_size, 2))
            s = tuple(int(v) for v in np.broadcast_to(node.stride, 2))
            p = tuple(int(v) for v in np.broadcast_to(node.padding, 2))
            mods[name] = torch.nn.LPPool2d(1, k, s) if p == (0, 0) else torch.nn.AvgPool2d(k, s, p, divisor_override=1)
        elif isinstance(node, nir.Flatten):
            mods[name] = torch.nn.Flatten(int(node.start_dim) + 1, int(node.end_dim) if node.end_dim < 0 else int(node.end_dim) + 1)
        elif isinstance(node, nir.LIF):
            beta = torch.tensor(1.0 - dt / np.asarray(node.tau, dtype=np.float64), dtype=torch.float32)
            thr = torch.tensor(np.asarray(node.v_threshold, dtype=np.float32))
            # snnTorch's Leaky takes the input unscaled: r*dt/tau must be 1 (snnTorch's mapping).
            mods[name] = snn.Leaky(beta=beta.flatten()[0].item() if beta.numel() > 0 and bool((beta == beta.flatten()[0]).all()) else beta,
                                   threshold=thr.flatten()[0].item() if bool((thr == thr.flatten()[0]).all()) else thr,
                                   reset_mechanism=reset, init_hidden=False)
        else:
            raise SystemExit(f"snntorch_bench: node type {type(node).__name__} not supported")
    preds = {n: [] for n in graph.nodes}
    for a, b in graph.edges:
        preds[b].append(a)
    done = set()
    while len(order) < len(graph.nodes):
        for n in graph.nodes:
            if n not in done and all(p in done for p in preds[n]):
                order.append(n)
                done.add(n)
    return mods, order, preds


def run(graph, mods, order, preds, x, steps, per_step):
    mems = {n: m.init_leaky() for n, m in mods.items() if isinstance(m, snn.Leaky)}
    out = []
    for t in range(steps):
        vals = {}
        for n in order:
            node = graph.nodes[n]
            if isinstance(node, nir.Input):
                vals[n] = x[:, t] if per_step else x
                continue
            inp = sum(vals[p] for p in preds[n])
            m = mods[n]
            if m is None:
                vals[n] = inp
            elif isinstance(m, snn.Leaky):
                spk, mems[n] = m(inp, mems[n])
                vals[n] = spk
            else:
                vals[n] = m(inp)
            if isinstance(node, nir.Output):
                out.append(vals[n])
    return torch.stack(out, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("inputs")
    ap.add_argument("--dt", type=float, default=1e-4)
    ap.add_argument("--reset", default="zero", choices=["zero", "subtract"])
    ap.add_argument("--timesteps", type=int, default=None)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--check", default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    g = nir.read(a.model)
    mods, order, preds = build(g, a.dt, a.reset)
    x = np.load(a.inputs).astype(np.float32)
    in_shape = tuple(int(v) for v in np.atleast_1d(g.nodes[[n for n in g.nodes if isinstance(g.nodes[n], nir.Input)][0]].input_type["input"]))
    numel = int(np.prod(in_shape))
    per_step = x.ndim == 2 + len(in_shape) or (x.ndim == 3 and x.shape[2] == numel and len(in_shape) > 1) or (x.ndim == 3 and len(in_shape) == 1)
    steps = a.timesteps or (x.shape[1] if per_step else None)
    if steps is None:
        raise SystemExit("direct-encoded inputs: give --timesteps")
    xt = torch.tensor(x.reshape((x.shape[0], steps) + in_shape if per_step else (x.shape[0],) + in_shape))
    best, best_cpu, outs = float("inf"), float("inf"), None
    with torch.no_grad():
        for _ in range(a.repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            outs = [run(g, mods, order, preds, xt[i:i + a.batch], steps, per_step) for i in range(0, xt.shape[0], a.batch)]
            best = min(best, time.perf_counter() - t0)
            best_cpu = min(best_cpu, time.process_time() - c0)
    res = {"model": a.model, "samples": int(xt.shape[0]), "timesteps": steps, "batch": a.batch, "threads": a.threads,
           "seconds": best, "samples_per_s": xt.shape[0] / best, "cpu_seconds": best_cpu,
           "samples_per_cpu_s": xt.shape[0] / best_cpu, "torch": torch.__version__, "snntorch": snn.__version__}
    if a.check:
        spikes = torch.cat(outs).numpy().astype(np.uint8)
        exp = np.load(a.check)
        res["differing_spikes"] = int((spikes != exp).sum())
    print(json.dumps(res))


if __name__ == "__main__":
    main()
