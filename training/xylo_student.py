"""The Xylo-shaped student (issue 14): an 8-bit-weight, current-based SNN whose neuron is the
one Xylo's SNN core computes, trained on sklearn digits encoded as 16 channels of event counts.

Data: the digits split of training/common.py (1347 train, 450 test). Each 8x8 image becomes 8
steps of 16 input channels: at step t, channels 0-7 carry row t and channels 8-15 column t,
each pixel (0..16) as that many input events, at most 15 (Xylo takes 15 events per channel and
step). Written as models/xylo_q8/digits16_test_x.npy (uint8, 450 x 8 x 16).

Network: 16 inputs -> 128 hidden -> 10 outputs, no biases, 8-bit weights on a power-of-two grid
per layer (k * q, |k| <= 127: float32 sums are exact, and Xylo's weights are 8-bit), trained in
full precision and then fine-tuned with the quantised weights; every neuron current-based as on
Xylo, with dyadic decays (alpha = 1 - 2^-2 for the synaptic current, beta = 1 - 2^-4 for the
membrane), threshold 1, firing on v >= threshold, reset by subtracting the threshold; the
current decays after the step's input is added, in Xylo's order:

    i[t] = alpha * (i[t-1] + W x[t])      v[t] = beta * vhat[t-1] + i[t]
    s[t] = min(floor(v[t]), 31) (hidden)  s[t] = v[t] >= 1 (outputs)   vhat[t] = v[t] - s[t]

Hidden neurons spike as often as the membrane holds thresholds (at most 31 per step) and output
neurons at most once, as on Xylo.

Exported as NIR (CubaLIF: tau_syn = dt/(1-alpha), tau_mem = dt/(1-beta), r = tau_mem/dt so the
gain is 1, w_in = alpha so that i = alpha * i + w_in * I is Xylo's order, v_threshold = 1,
v_reset = 0) with dt = 1e-3, and as spikefab JSON with
that dialect stored. NIR cannot say the reset, firing rule, spikes per step or how the current
takes its input; the command line says: --dt 1e-3 --reset subtract --fire-on-equal
--cuba-input unit --spikes multi-hidden (multi-spike hidden neurons, single-spike readout).

Writes models/xylo_q8/: xylo_q8.nir, xylo_q8.json (via spikefab convert when the binary is
given), digits16_test_x.npy, golden_spikes.npy (this script's float32 forward on the test set,
N x T x 10 uint8), summary.json. Deterministic: fixed seeds, one torch thread.

Run: /opt/venvs/train/bin/python training/xylo_student.py [--spikefab target/release/spikefab]
(needs torch, numpy, scikit-learn, nir, h5py).
"""
import argparse
import json
import math
import os
import subprocess
import sys

import nir
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import load_data, round_ste, set_seed  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "models", "xylo_q8")
T = 8
HIDDEN = 128
CLASSES = 10
ALPHA = 0.75     # 1 - 2^-2
BETA = 0.9375   # 1 - 2^-4
DT = 1e-3
EPOCHS = 100
INPUT_SCALE = 1.0 / 16
SEED = 14


def encode(x):
    """N x 64 pixels (0..16) -> N x T x 16 event counts (<= 15): row t and column t."""
    img = x.reshape(-1, 8, 8).astype(np.int64)
    rows = img                                # step t: row t
    cols = img.transpose(0, 2, 1)             # step t: column t
    return np.minimum(np.concatenate([rows, cols], axis=2), 15).astype(np.uint8)


class Spike(torch.autograd.Function):
    """Heaviside v >= 0 with a fast-sigmoid surrogate."""

    @staticmethod
    def forward(ctx, v):
        ctx.save_for_backward(v)
        return (v >= 0).to(v.dtype)

    @staticmethod
    def backward(ctx, g):
        (v,) = ctx.saved_tensors
        return g / (1.0 + 10.0 * v.abs()) ** 2


class MultiSpike(torch.autograd.Function):
    """Xylo's hidden neuron: floor(v) spikes for v >= 1 (threshold 1), at most 31; the surrogate
    is the fast sigmoid at the threshold plus a unit slope above it."""

    @staticmethod
    def forward(ctx, v):
        ctx.save_for_backward(v)
        return torch.clamp(torch.floor(v), 0, 31)

    @staticmethod
    def backward(ctx, g):
        (v,) = ctx.saved_tensors
        return g / (1.0 + 10.0 * (v - 1.0).abs()) ** 2 + g * ((v > 1.0) & (v < 32.0)).to(g.dtype)


class Q8Linear(nn.Module):
    """Weights k * q with integer |k| <= 127 and q a power of two per layer (max |k| in
    [64, 128)), rounded with a straight-through estimator once `quantised` is set: float32
    sums of such weights over event counts and spikes are exact, in any order."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_out, n_in) * (1.0 / math.sqrt(n_in)))
        self.quantised = False

    def q8(self):
        q = 2.0 ** (math.floor(math.log2(float(self.weight.detach().abs().max()))) - 6)
        return torch.clamp(round_ste(self.weight / q), -127, 127) * q

    def effective(self):
        return self.q8() if self.quantised else self.weight

    def forward(self, x):
        return F.linear(x, self.effective())


class XyloStudent(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = Q8Linear(16, HIDDEN)
        self.fc2 = Q8Linear(HIDDEN, CLASSES)

    def forward(self, x):
        """x: B x T x 16 (float event counts). Returns output spikes B x T x 10."""
        b = x.shape[0]
        i1 = torch.zeros(b, HIDDEN)
        v1 = torch.zeros(b, HIDDEN)
        i2 = torch.zeros(b, CLASSES)
        v2 = torch.zeros(b, CLASSES)
        out = []
        for t in range(x.shape[1]):
            # Events scaled by 1/16 while training; the power of two folds into fc1 on export.
            i1 = ALPHA * (i1 + self.fc1(x[:, t] * INPUT_SCALE))
            v1 = BETA * v1 + i1
            s1 = MultiSpike.apply(v1)
            v1 = v1 - s1
            i2 = ALPHA * (i2 + self.fc2(s1))
            v2 = BETA * v2 + i2
            s2 = Spike.apply(v2 - 1.0)
            v2 = v2 - s2
            out.append(s2)
        return torch.stack(out, dim=1)


def cuba_lif(n):
    tau_syn = DT / (1.0 - ALPHA)
    tau_mem = DT / (1.0 - BETA)
    full = lambda v: np.full(n, v, dtype=np.float64)  # noqa: E731
    return nir.CubaLIF(tau_syn=full(tau_syn), tau_mem=full(tau_mem), r=full(tau_mem / DT), v_leak=full(0.0),
                       w_in=full(ALPHA), v_threshold=full(1.0), v_reset=full(0.0))


def export(model):
    w1 = (model.fc1.effective() * INPUT_SCALE).detach().numpy().astype(np.float32)
    w2 = model.fc2.effective().detach().numpy().astype(np.float32)
    nodes = {
        "input": nir.Input(input_type=np.array([16])),
        "fc1": nir.Linear(weight=w1),
        "lif1": cuba_lif(HIDDEN),
        "fc2": nir.Linear(weight=w2),
        "lif2": cuba_lif(CLASSES),
        "output": nir.Output(output_type=np.array([CLASSES])),
    }
    edges = [("input", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"), ("lif2", "output")]
    meta = {"producer": "spikefab training/xylo_student.py", "dt": DT, "reset": "subtract", "fire_on_equal": True,
            "cuba_input": "unit", "timesteps": T, "alpha": ALPHA, "beta": BETA, "threshold": 1.0}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spikefab", help="spikefab binary: also write xylo_q8.json with the dialect")
    args = ap.parse_args()
    torch.set_num_threads(1)
    set_seed(SEED)
    xtr, ytr, xte, yte = load_data()
    etr, ete = encode(xtr), encode(xte)
    xt = torch.tensor(etr, dtype=torch.float32)
    yt = torch.tensor(ytr)
    model = XyloStudent()
    rng = np.random.default_rng(SEED)
    # Two stages: full precision, then fine-tuning with the 8-bit dyadic weights.
    for stage, lr in [(1, 2e-3), (2, 2e-4)]:
        for layer in (model.fc1, model.fc2):
            layer.quantised = stage == 2
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        for epoch in range(EPOCHS):
            idx = rng.permutation(len(xt))
            for k in range(0, len(idx), 64):
                j = idx[k:k + 64]
                counts = model(xt[j]).sum(dim=1)
                loss = F.cross_entropy(counts * 2.0, yt[j])
                opt.zero_grad()
                loss.backward()
                opt.step()
    with torch.no_grad():
        spikes = model(torch.tensor(ete, dtype=torch.float32)).numpy()
        train_acc = float((model(xt).sum(1).argmax(1) == yt).float().mean())
    pred = spikes.sum(1).argmax(1)
    acc = float((pred == yte).mean())
    os.makedirs(OUT, exist_ok=True)
    np.save(os.path.join(OUT, "digits16_test_x.npy"), ete)
    np.save(os.path.join(OUT, "golden_spikes.npy"), spikes.astype(np.uint8))
    path = os.path.join(OUT, "xylo_q8.nir")
    nir.write(path, export(model))
    summary = {"model": "xylo_q8", "hidden": HIDDEN, "timesteps": T, "dt": DT, "alpha": ALPHA, "beta": BETA,
               "epochs_per_stage": EPOCHS, "seed": SEED, "test_accuracy": acc, "train_accuracy": train_acc,
               "dialect": "--dt 1e-3 --reset subtract --fire-on-equal --cuba-input unit --spikes multi-hidden"}
    if args.spikefab:
        subprocess.run([args.spikefab, "convert", path, "--dt", "1e-3", "--reset", "subtract", "--fire-on-equal",
                        "--cuba-input", "unit", "--spikes", "multi-hidden", "-T", str(T), "-o", os.path.join(OUT, "xylo_q8.json")], check=True)
    with open(os.path.join(OUT, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
