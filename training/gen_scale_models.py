"""Deterministic generator of large random binary-weight LIF students for benchmarks
(not committed; written to OUTDIR):

  mlp784.nir          784-1024-1024-10 LIF MLP, Affine weights +-a_i per row
  mlp784_up5k.nir     784-1024-10 LIF MLP (0.81 Mbit of binary weights: the UP5K's SPRAM size)
  resnet18_cifar.nir  3x32x32 ResNet-18-like conv SNN: binary 3x3 convs, BasicBlocks whose
                      shortcut is a second edge into the block's second LIF node (identity, or a
                      binary 1x1 stride-2 Conv2d when the shape changes), AvgPool2d 4x4, Flatten,
                      Affine head -> LIF
  vgg_cifar.nir       3x32x32 VGG-like binary conv SNN whose weights and neuron state fit an
                      FPGA's block RAM (82 k weights; an ECP5-85F holds its state): two binary
                      3x3 convs per stage with ResNet-20's widths (16, 32, 64 channels),
                      AvgPool2d 2x2 after each stage, Flatten, Affine 1024->10 -> LIF
  inputs_mlp784.npy, inputs_resnet18_cifar.npy, inputs_vgg_cifar.npy
                      256 samples, T = 8, per-step spikes at a 10% rate (N x T x in, uint8)
  scale_models.json   what was generated, measured spike rate of every LIF layer, timings

Semantics: dt = 1e-4, LIF beta = 0.875 (tau = 8e-4, r = 8, so g = 1), v_threshold = 1,
zero reset, fire on `>`. Per-layer scales a are calibrated (bisection on a batch of the
random inputs, layer by layer in graph order) so that every LIF layer spikes at about
TARGET_RATE; row scales a_i = a * (1 + 0.25 u_i), u_i ~ U(-1, 1), rounded to a power-of-two
grid like the trained students (f32 sums exact). Biases are zero.

Usage: python training/gen_scale_models.py OUTDIR [--calib 32] [--rate 0.5] [--only NAME,...]

--rate sets the input spike rate and every LIF layer's target rate (default 0.10; the engine
benchmarks also use 0.5, where most inputs of a busy layer spike).
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
import nir

DT = 1e-4
BETA = 0.875
THR = 1.0
T = 8
N_SAMPLES = 256
IN_RATE = 0.10
TARGET_RATE = 0.10
SEED = 1234


def lif_scan(I):
    """Zero-reset LIF over T (I: T x B x ...), returns spikes (float32)."""
    v = torch.zeros_like(I[0])
    s_prev = torch.zeros_like(I[0])
    out = []
    for t in range(I.shape[0]):
        v = torch.where(s_prev > 0, torch.zeros_like(v), v)
        v = BETA * v + I[t]
        s = (v > THR).float()
        out.append(s)
        s_prev = s
    return torch.stack(out)


def grid_scales(a):
    q = 2.0 ** (math.floor(math.log2(float(a.max()))) - 7)
    return np.maximum(np.round(a / q), 1) * q


def calibrate(syn, extra, target=None):
    """syn: T x B x ... synaptic current for unit scale; extra: added unscaled (shortcut) or None.
    Returns the scale s with spike rate of lif(s*syn + extra) closest to target (bisection in log)."""
    target = TARGET_RATE if target is None else target
    lo, hi = 1e-4, 1e3
    for _ in range(40):
        mid = math.sqrt(lo * hi)
        I = mid * syn + (extra if extra is not None else 0)
        r = float(lif_scan(I).mean())
        if r < target:
            lo = mid
        else:
            hi = mid
    return math.sqrt(lo * hi)


class Builder:
    def __init__(self, rng):
        self.rng = rng
        self.nodes, self.edges, self.rates, self.scales = {}, [], {}, {}

    def signs(self, shape):
        return np.where(self.rng.rand(*shape) < 0.5, -1.0, 1.0).astype(np.float32)

    def row_var(self, n):
        return (1.0 + 0.25 * self.rng.uniform(-1, 1, size=n)).astype(np.float64)

    def lif(self, name, shape):
        shape = tuple(shape)
        tau = np.full(shape, DT / (1 - BETA))
        self.nodes[name] = nir.LIF(tau=tau, r=tau / DT, v_leak=np.zeros(shape), v_threshold=np.full(shape, THR),
                                   v_reset=np.zeros(shape))


def binary_layer_weights(b, sgn, syn_unit, extra, name):
    """Calibrate one binary layer. sgn: sign tensor; syn_unit(w): current for weights w."""
    rv = b.row_var(sgn.shape[0])
    w_unit = torch.as_tensor(sgn * rv.reshape((-1,) + (1,) * (sgn.ndim - 1)).astype(np.float32))
    syn = syn_unit(w_unit)
    s = calibrate(syn, extra)
    a = grid_scales(s * rv).astype(np.float32)
    w = (sgn * a.reshape((-1,) + (1,) * (sgn.ndim - 1))).astype(np.float32)
    b.scales[name] = float(s)
    return w


def gen_mlp784(rng, x, sizes=(784, 1024, 1024, 10)):
    """x: T x B x 784 spikes (calibration batch); sizes: the layer widths."""
    b = Builder(rng)
    b.nodes["input"] = nir.Input(input_type=np.array([sizes[0]]))
    prev, h = "input", x
    for i in range(len(sizes) - 1):
        n_in, n_out = sizes[i], sizes[i + 1]
        sgn = b.signs((n_out, n_in))
        fc, lif = f"fc{i + 1}", f"lif{i + 1}"
        w = binary_layer_weights(b, sgn, lambda wu: h @ wu.T, None, fc)
        b.nodes[fc] = nir.Affine(weight=w, bias=np.zeros(n_out, np.float32))
        b.lif(lif, (n_out,))
        b.edges += [(prev, fc), (fc, lif)]
        h = lif_scan(h @ torch.as_tensor(w).T)
        b.rates[lif] = float(h.mean())
        prev = lif
    b.nodes["output"] = nir.Output(output_type=np.array([sizes[-1]]))
    b.edges.append((prev, "output"))
    return nir.NIRGraph(nodes=b.nodes, edges=b.edges, metadata={"generator": "spikefab gen_scale_models.py",
                                                                  "dt": DT, "reset": "zero", "timesteps": T}), b


def gen_resnet18(rng, x):
    """x: T x B x 3 x 32 x 32 spikes. ResNet-18 layout: conv 3->64, 4 stages x 2 BasicBlocks
    (64, 128, 256, 512; stride 2 at the first block of stages 2-4), avgpool 4x4, fc 512->10."""
    b = Builder(rng)
    Tn, B = x.shape[:2]
    b.nodes["input"] = nir.Input(input_type=np.array([3, 32, 32]))

    def conv_apply(h, w, stride, pad):
        y = F.conv2d(h.flatten(0, 1), w, None, stride, pad)
        return y.view((Tn, B) + y.shape[1:])

    def conv_node(name, prev, h, cin, cout, k, stride, hw, extra=None, lif=None):
        sgn = b.signs((cout, cin, k, k))
        pad = k // 2
        if lif is not None:
            w = binary_layer_weights(b, sgn, lambda wu: conv_apply(h, wu, stride, pad), extra, name)
        else:
            w = sgn * np.float32(1.0)
        b.nodes[name] = nir.Conv2d(input_shape=hw, weight=w.astype(np.float32), stride=(stride, stride),
                                   padding=(pad, pad), dilation=(1, 1), groups=1, bias=np.zeros(cout, np.float32))
        b.edges.append((prev, name))
        return w

    # stem
    w = conv_node("conv1", "input", x, 3, 64, 3, 1, (32, 32), lif=True)
    b.lif("lif1", (64, 32, 32))
    b.edges.append(("conv1", "lif1"))
    h = lif_scan(conv_apply(x, torch.as_tensor(w), 1, 1))
    b.rates["lif1"] = float(h.mean())
    prev, cin, hw = "lif1", 64, 32
    for si, cout in enumerate([64, 128, 256, 512]):
        for bi in range(2):
            stride = 2 if (si > 0 and bi == 0) else 1
            p = f"l{si + 1}b{bi}_"
            hw_out = hw // stride
            # sub-mode a: conv -> LIF
            wa = conv_node(p + "conva", prev, h, cin, cout, 3, stride, (hw, hw), lif=True)
            b.lif(p + "lifa", (cout, hw_out, hw_out))
            b.edges.append((p + "conva", p + "lifa"))
            ha = lif_scan(conv_apply(h, torch.as_tensor(wa), stride, 1))
            b.rates[p + "lifa"] = float(ha.mean())
            # shortcut: identity (spikes of the block input) or binary 1x1 stride-2 conv
            if stride == 1 and cin == cout:
                sc = h
                sc_src = prev
            else:
                sgn = b.signs((cout, cin, 1, 1))
                a = grid_scales(np.full(cout, 0.5 / math.sqrt(max(1.0, cin * IN_RATE)))).astype(np.float32)
                ws = (sgn * a.reshape(-1, 1, 1, 1)).astype(np.float32)
                b.nodes[p + "down"] = nir.Conv2d(input_shape=(hw, hw), weight=ws, stride=(2, 2), padding=(0, 0),
                                                 dilation=(1, 1), groups=1, bias=np.zeros(cout, np.float32))
                b.edges.append((prev, p + "down"))
                sc = conv_apply(h, torch.as_tensor(ws), 2, 0)
                sc_src = p + "down"
            # sub-mode b: conv -> LIF, plus the shortcut as a second edge into the LIF
            wb = conv_node(p + "convb", p + "lifa", ha, cout, cout, 3, 1, (hw_out, hw_out), extra=sc, lif=True)
            b.lif(p + "lifb", (cout, hw_out, hw_out))
            b.edges += [(p + "convb", p + "lifb"), (sc_src, p + "lifb")]
            h = lif_scan(conv_apply(ha, torch.as_tensor(wb), 1, 1) + sc)
            b.rates[p + "lifb"] = float(h.mean())
            prev, cin, hw = p + "lifb", cout, hw_out
    b.nodes["pool"] = nir.AvgPool2d(kernel_size=np.array([4, 4]), stride=np.array([4, 4]), padding=np.array([0, 0]))
    b.nodes["flatten"] = nir.Flatten(input_type={"input": np.array([512, 1, 1])}, start_dim=0, end_dim=-1)
    b.edges += [(prev, "pool"), ("pool", "flatten"), ("flatten", "fc")]
    pooled = F.avg_pool2d(h.flatten(0, 1), 4).view(Tn, B, 512)
    sgn = b.signs((10, 512))
    w = binary_layer_weights(b, sgn, lambda wu: pooled @ wu.T, None, "fc")
    b.nodes["fc"] = nir.Affine(weight=w, bias=np.zeros(10, np.float32))
    b.lif("lif_out", (10,))
    b.edges.append(("fc", "lif_out"))
    b.rates["lif_out"] = float(lif_scan(pooled @ torch.as_tensor(w).T).mean())
    b.nodes["output"] = nir.Output(output_type=np.array([10]))
    b.edges.append(("lif_out", "output"))
    return nir.NIRGraph(nodes=b.nodes, edges=b.edges, metadata={"generator": "spikefab gen_scale_models.py",
                                                                  "dt": DT, "reset": "zero", "timesteps": T}), b


def gen_vgg_cifar(rng, x):
    """x: T x B x 3 x 32 x 32 spikes. Stages of two binary 3x3 convs (padding 1) -> LIF with 16,
    32 and 64 channels; a 2x2 average pool after each stage (it feeds the next conv, or the
    head); Flatten and a binary Affine 1024 -> 10 -> LIF."""
    b = Builder(rng)
    Tn, B = x.shape[:2]
    b.nodes["input"] = nir.Input(input_type=np.array([3, 32, 32]))
    h, prev, cin, hw = x, "input", 3, 32
    for si, cout in enumerate([16, 32, 64]):
        for ci in range(2):
            name, lif = f"conv{si + 1}{'ab'[ci]}", f"lif{si + 1}{'ab'[ci]}"
            sgn = b.signs((cout, cin, 3, 3))

            def syn(wu, h=h):
                y = F.conv2d(h.flatten(0, 1), wu, None, 1, 1)
                return y.view((Tn, B) + y.shape[1:])

            w = binary_layer_weights(b, sgn, syn, None, name)
            b.nodes[name] = nir.Conv2d(input_shape=(hw, hw), weight=w, stride=(1, 1), padding=(1, 1),
                                       dilation=(1, 1), groups=1, bias=np.zeros(cout, np.float32))
            b.lif(lif, (cout, hw, hw))
            b.edges += [(prev, name), (name, lif)]
            h = lif_scan(syn(torch.as_tensor(w)))
            b.rates[lif] = float(h.mean())
            prev, cin = lif, cout
        pool = f"pool{si + 1}"
        b.nodes[pool] = nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                                      padding=np.array([0, 0]))
        b.edges.append((prev, pool))
        hw //= 2
        h = F.avg_pool2d(h.flatten(0, 1), 2).view((Tn, B, cin, hw, hw))
        prev = pool
    n_flat = cin * hw * hw
    b.nodes["flatten"] = nir.Flatten(input_type={"input": np.array([cin, hw, hw])}, start_dim=0, end_dim=-1)
    b.edges += [(prev, "flatten"), ("flatten", "fc")]
    flat = h.reshape(Tn, B, n_flat)
    sgn = b.signs((10, n_flat))
    w = binary_layer_weights(b, sgn, lambda wu: flat @ wu.T, None, "fc")
    b.nodes["fc"] = nir.Affine(weight=w, bias=np.zeros(10, np.float32))
    b.lif("lif_out", (10,))
    b.edges.append(("fc", "lif_out"))
    b.rates["lif_out"] = float(lif_scan(flat @ torch.as_tensor(w).T).mean())
    b.nodes["output"] = nir.Output(output_type=np.array([10]))
    b.edges.append(("lif_out", "output"))
    return nir.NIRGraph(nodes=b.nodes, edges=b.edges, metadata={"generator": "spikefab gen_scale_models.py",
                                                                  "dt": DT, "reset": "zero", "timesteps": T}), b


MODELS = (("mlp784", (784,), gen_mlp784),
          ("mlp784_up5k", (784,), lambda rng, x: gen_mlp784(rng, x, (784, 1024, 10))),
          ("resnet18_cifar", (3, 32, 32), gen_resnet18),
          ("vgg_cifar", (3, 32, 32), gen_vgg_cifar))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--calib", type=int, default=16, help="samples used to calibrate the layer scales")
    ap.add_argument("--rate", type=float, default=0.10,
                    help="input spike rate and the target spike rate of every LIF layer (default 0.10)")
    ap.add_argument("--only", default="", help="comma-separated model names to generate (default: all)")
    args = ap.parse_args()
    only = [m for m in args.only.split(",") if m]
    unknown = sorted(set(only) - {m[0] for m in MODELS})
    if unknown:
        ap.error(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(m[0] for m in MODELS)}")
    global IN_RATE, TARGET_RATE
    IN_RATE = TARGET_RATE = args.rate
    os.makedirs(args.outdir, exist_ok=True)
    torch.set_num_threads(2)
    t_all = time.time()
    info = {"dt": DT, "beta": BETA, "threshold": THR, "reset": "zero", "fire_on_equal": False, "timesteps": T,
            "input_spike_rate": IN_RATE, "target_rate": TARGET_RATE, "seed": SEED, "models": {}}
    for name, shape, gen in MODELS:
        if only and name not in only:
            continue
        t0 = time.time()
        rng = np.random.RandomState(SEED)
        n_in = int(np.prod(shape))
        inputs = (rng.rand(N_SAMPLES, T, n_in) < IN_RATE).astype(np.uint8)
        ipath = os.path.join(args.outdir, f"inputs_{name}.npy")
        np.save(ipath, inputs)
        xc = torch.as_tensor(inputs[:args.calib], dtype=torch.float32).permute(1, 0, 2).reshape((T, args.calib) + shape)
        g, b = gen(rng, xc)
        path = os.path.join(args.outdir, f"{name}.nir")
        nir.write(path, g)
        dt_s = time.time() - t0
        n_w = sum(int(np.prod(n.weight.shape)) for n in g.nodes.values() if hasattr(n, "weight"))
        info["models"][name] = {"file": f"{name}.nir", "inputs": f"inputs_{name}.npy",
                                "input_shape": list(shape), "binary_weights": n_w, "nodes": len(g.nodes),
                                "edges": len(g.edges), "file_bytes": os.path.getsize(path),
                                "calibrated_spike_rates": b.rates, "generation_seconds": round(dt_s, 2)}
        r = list(b.rates.values())
        print(f"{name}: {len(g.nodes)} nodes, {len(g.edges)} edges, {n_w:,} binary weights, "
              f"{os.path.getsize(path) / 1e6:.1f} MB, LIF spike rates {min(r):.3f}..{max(r):.3f} "
              f"(mean {np.mean(r):.3f}) on {args.calib} calibration samples; generated in {dt_s:.1f} s", flush=True)
    info["total_seconds"] = round(time.time() - t_all, 2)
    with open(os.path.join(args.outdir, "scale_models.json"), "w") as f:
        json.dump(info, f, indent=2)
    print(f"total generation time {info['total_seconds']:.1f} s -> {args.outdir}")


if __name__ == "__main__":
    sys.exit(main())
