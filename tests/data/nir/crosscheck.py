#!/usr/bin/env python3
"""Optional cross-check of gen.py's numpy reference against PyTorch and snnTorch.

    /opt/venv/bin/python tests/data/nir/crosscheck.py

1. Every Conv1d/Conv2d/SumPool2d/AvgPool2d node of every model: gen.py's implementation
   vs torch.nn.functional (conv1d/conv2d incl. padding="same", avg_pool2d with
   count_include_pad=True) on random float64 inputs of the node's input shape.
2. affine_lif.nir (LIF with v_leak = v_reset = 0, r = tau so g = 1) vs snntorch.Leaky:
   reset "zero" = Leaky(reset_mechanism="zero", reset_delay=False), "subtract-undecayed" =
   Leaky("subtract", reset_delay=True), compared spike for spike with the expected files.
3. The same model vs SpikingJelly LIFNode(decay_input=False) (fires on >=): hard reset
   = "zero", soft reset = "subtract", against gen.Sim with fire_on_equal=True.
Writes nothing.
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.dont_write_bytecode = True
import gen  # noqa: E402

torch.set_default_dtype(torch.float64)


def load(path):
    try:
        return gen.nir.read(path, type_check=False)
    except Exception:
        return gen.patched_read(path)


def torch_node(node, x):
    ty = type(node).__name__
    t = torch.from_numpy(x)
    if ty in ("Conv1d", "Conv2d"):
        w = torch.from_numpy(np.asarray(node.weight, np.float64))
        b = None if node.bias is None else torch.from_numpy(np.asarray(node.bias, np.float64))
        nd = w.ndim - 2
        pad = node.padding
        if isinstance(pad, bytes):
            pad = pad.decode()
        if not isinstance(pad, str):
            pad = gen.tup(pad, nd)
        fn = F.conv1d if nd == 1 else F.conv2d
        return fn(t, w, b, stride=gen.tup(node.stride, nd), padding=pad,
                  dilation=gen.tup(node.dilation, nd), groups=int(np.asarray(node.groups))).numpy()
    k = gen.tup(node.kernel_size, 2)
    y = F.avg_pool2d(t, k, gen.tup(node.stride, 2), gen.tup(node.padding, 2), count_include_pad=True)
    if ty == "SumPool2d":
        y = y * (k[0] * k[1])
    return y.numpy()


def check_ops(cases):
    rng = np.random.default_rng(0)
    n = 0
    for model in sorted({c["model"] for c in cases}):
        c = next(c for c in cases if c["model"] == model)
        g = load(HERE / model)
        sim = gen.Sim(g, c["dt"], c["reset"], c["fire_on_equal"])
        x = np.load(HERE / c["inputs"])
        ishape = sim.nodes[sim.inputs[0]].input_type["input"]
        sim.run(x, c["timesteps"], x[0].size == c["timesteps"] * int(np.prod(ishape)))
        for name, node in sim.nodes.items():
            if type(node).__name__ not in ("Conv1d", "Conv2d", "SumPool2d", "AvgPool2d"):
                continue
            u = rng.standard_normal((3,) + sim.in_shapes[name])
            ours = sim.step(name, node, u, {})
            ref = torch_node(node, u)
            assert ours.shape == ref.shape and np.allclose(ours, ref, rtol=0, atol=1e-12), (model, name)
            n += 1
            print(f"ok  {model:34s} {name:8s} {type(node).__name__:9s} in {sim.in_shapes[name]} out {ref.shape[1:]}")
    return n


def affine_lif_parts():
    g = load(HERE / "affine_lif.nir")
    fc, lif = g.nodes["fc"], g.nodes["lif"]
    tau = np.asarray(lif.tau, np.float64)
    assert np.all(np.asarray(lif.r) == tau) and not np.any(lif.v_leak) and not np.any(lif.v_reset)
    assert len(np.unique(tau)) == 1 and len(np.unique(lif.v_threshold)) == 1
    w = torch.from_numpy(np.asarray(fc.weight, np.float64))
    b = torch.from_numpy(np.asarray(fc.bias, np.float64))
    return g, float(tau.ravel()[0]), float(np.asarray(lif.v_threshold).ravel()[0]), w, b


def run_neuron(step, x, w, b, T):
    x = torch.from_numpy(x.astype(np.float64))
    out = []
    for t in range(T):
        xt = x[:, t] if x.ndim == 3 else x
        out.append(step(xt @ w.T + b).detach().numpy())
    return np.stack(out, 1).astype(np.uint8)


def check_snntorch(cases):
    """zero = Leaky(zero, reset_delay=False); subtract-undecayed = Leaky(subtract,
    reset_delay=True). (Leaky(subtract, reset_delay=False) is not used: when v - thr is
    still above thr it undoes the next step's subtraction and suppresses that spike.)"""
    import snntorch as snn

    g, tau, thr, w, b = affine_lif_parts()
    n = 0
    for c in cases:
        if c["model"] != "affine_lif.nir" or c["fire_on_equal"] or c["reset"] == "subtract":
            continue
        mech, delay = {"zero": ("zero", False), "subtract-undecayed": ("subtract", True)}[c["reset"]]
        neuron = snn.Leaky(beta=1.0 - c["dt"] / tau, threshold=thr, reset_mechanism=mech, reset_delay=delay)
        state = {"mem": neuron.init_leaky()}

        def step(i):
            spk, state["mem"] = neuron(i, state["mem"])
            return spk

        got = run_neuron(step, np.load(HERE / c["inputs"]), w, b, c["timesteps"])
        exp = np.load(HERE / c["expected"])
        assert np.array_equal(got, exp), f"{c['name']}: snnTorch differs in {int((got != exp).sum())} spikes"
        n += 1
        print(f"ok  {c['name']:40s} == snntorch.Leaky(reset_mechanism={mech!r}, reset_delay={delay})")
    return n


def check_spikingjelly(cases):
    """SpikingJelly LIFNode(decay_input=False): v = v - v/tau + x, fires on v >= thr; soft
    reset (v_reset=None) = "subtract", hard reset to 0 = "zero". Compared with gen.Sim run
    with fire_on_equal=True on the affine_lif inputs."""
    from spikingjelly.activation_based import neuron

    g, tau, thr, w, b = affine_lif_parts()
    n = 0
    for c in cases:
        if c["model"] != "affine_lif.nir" or c["name"] == "fire_on_equal_false":
            continue
        if c["reset"] not in ("zero", "subtract"):
            continue
        x = np.load(HERE / c["inputs"])
        node = neuron.LIFNode(tau=tau / c["dt"], decay_input=False, v_threshold=thr,
                              v_reset=None if c["reset"] == "subtract" else 0.0)
        got = run_neuron(node, x, w, b, c["timesteps"])
        sim = gen.Sim(g, c["dt"], c["reset"], True)
        ours = sim.run(x, c["timesteps"], x.ndim == 3).astype(np.uint8)
        assert np.array_equal(got, ours), f"{c['name']}: SpikingJelly differs in {int((got != ours).sum())} spikes"
        if c["fire_on_equal"]:
            assert np.array_equal(got, np.load(HERE / c["expected"]))
        n += 1
        print(f"ok  {c['name']:40s} (with fire_on_equal) == spikingjelly LIFNode(v_reset={node.v_reset})")
    return n


if __name__ == "__main__":
    cases = json.loads((HERE / "cases.json").read_text())
    a = check_ops(cases)
    b = check_snntorch(cases)
    c = check_spikingjelly(cases)
    print(f"{a} conv/pool nodes match torch; {b} LIF cases match snnTorch; {c} match SpikingJelly")
