"""Shared pieces of the spikefab example-model training: data, binarization,
distillation loss, snnTorch student building blocks, operation counting.

Everything runs on CPU, float32, with fixed seeds.
"""
import math
import os
import random

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

DT = 1e-4           # the dt snnTorch's NIR exporter assumes (docs/semantics.md section 3)
THRESHOLD = 1.0     # every LIF layer of every student
GRID_BITS = 7       # a_i grid: q = 2**(floor(log2(max_i a_i)) - GRID_BITS), see quant_grid()


def set_seed(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def setup_torch():
    torch.set_num_threads(int(os.environ.get("SPIKEFAB_THREADS", "1")))
    torch.set_default_dtype(torch.float32)


# ----------------------------------------------------------------------------- data
def load_data():
    """sklearn digits (8x8, pixel values 0..16), fixed stratified split.

    Returns uint8 pixel arrays (N x 64) and int64 labels. The test split has 450 samples.
    """
    d = load_digits()
    x = d.data.astype(np.uint8)          # 0..16
    y = d.target.astype(np.int64)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    return xtr, ytr, xte, yte


def batches(x, y, bs, rng):
    idx = rng.permutation(len(x))
    for i in range(0, len(x), bs):
        j = idx[i:i + bs]
        yield x[j], y[j]


# ----------------------------------------------------------------------------- binarization
def quant_grid(a):
    """Power-of-two quantum q for one layer, from its largest per-row scale a.

    Every a_i and every bias value of the exported layer is an integer multiple of q and
    max_i a_i / q lies in [128, 256). With integer pixel inputs 0..16 or 0/1 spikes (or
    spikes / 4 after a 2x2 AvgPool), all partial sums of W x + b are then integer multiples
    of q (or q/4) far below 2**24 q, so float32 synaptic sums are exact in any order.
    """
    amax = float(a.detach().max())
    return 2.0 ** (math.floor(math.log2(amax)) - GRID_BITS)


class SignSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, w):
        ctx.save_for_backward(w)
        return torch.where(w >= 0, torch.ones_like(w), -torch.ones_like(w))

    @staticmethod
    def backward(ctx, g):
        (w,) = ctx.saved_tensors
        return g * (w.abs() <= 1).to(g.dtype)   # clipped straight-through estimator


def round_ste(x):
    return x + (torch.round(x) - x).detach()


def binarize(w, grid=True):
    """Magnitude-aware binarization: W_b[i,...] = a_i * sign(W[i,...]), a_i = mean|W[i,...]|
    (per output row / output channel), sign(0) = +1, straight-through gradient.
    With grid=True a_i is rounded to the layer's power-of-two grid (quant_grid). Returns (W_b, q)."""
    dims = tuple(range(1, w.dim()))
    a = w.abs().mean(dim=dims, keepdim=True)
    q = None
    if grid:
        q = quant_grid(a)
        a = torch.clamp(round_ste(a / q), min=1.0) * q
    return SignSTE.apply(w) * a, q


def quant_bias(b, q):
    if b is None or q is None:
        return b
    return round_ste(b / q) * q


class BinLinear(nn.Linear):
    """Linear layer with mode 'fp' (full precision, stage 1) or 'bin' (binary, stage 2)."""

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.mode = "fp"

    def effective(self):
        if self.mode == "fp":
            return self.weight, self.bias
        wb, q = binarize(self.weight)
        return wb, quant_bias(self.bias, q)

    def forward(self, x):
        w, b = self.effective()
        return F.linear(x, w, b)


class BinConv2d(nn.Conv2d):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.mode = "fp"

    def effective(self):
        if self.mode == "fp":
            return self.weight, self.bias
        wb, q = binarize(self.weight)
        return wb, quant_bias(self.bias, q)

    def forward(self, x):
        w, b = self.effective()
        return F.conv2d(x, w, b, self.stride, self.padding, self.dilation, self.groups)


def set_mode(model, mode):
    for m in model.modules():
        if isinstance(m, (BinLinear, BinConv2d)):
            m.mode = mode


@torch.no_grad()
def freeze_binary(model):
    """Replace every binary layer's latent weights by its exported binary weights (and grid
    biases) and switch it to 'fp' mode: the module then computes exactly what the exported
    NIR/ONNX files contain. Binarizing a frozen layer again is the identity."""
    for m in model.modules():
        if isinstance(m, (BinLinear, BinConv2d)) and m.mode == "bin":
            w, b = m.effective()
            m.weight.copy_(w)
            if b is not None:
                m.bias.copy_(b)
            m.mode = "fp"


def check_binary_rows(w):
    """True when every output row/channel takes exactly the values {+a_i, -a_i} (or one of them)."""
    w = np.asarray(w).reshape(w.shape[0], -1)
    for row in w:
        v = np.unique(np.abs(row))
        if len(v) != 1:
            return False
    return True


# ----------------------------------------------------------------------------- distillation
def kd_loss(student_logits, teacher_logits, y, T, alpha):
    """alpha * T^2 * KL(softmax(teacher/T) || softmax(student/T)) + (1 - alpha) * CE(student, y)."""
    kl = F.kl_div(F.log_softmax(student_logits / T, dim=1),
                  F.softmax(teacher_logits / T, dim=1), reduction="batchmean")
    return alpha * T * T * kl + (1 - alpha) * F.cross_entropy(student_logits, y)


def spike_accuracy(counts, y):
    """class = argmax of output spike counts, ties to the lowest index (numpy argmax)."""
    pred = np.argmax(np.asarray(counts), axis=1)
    return float((pred == np.asarray(y)).mean())


# ----------------------------------------------------------------------------- op counting
def synops_layer(fn_bin, x_bin):
    """NeuroBench-style effective synaptic ops of one weight layer for a batch of inputs:
    weights and inputs binarised (non-zero -> 1), bias zero, run, sum outputs."""
    with torch.no_grad():
        return float(fn_bin(x_bin).sum())


def sha_short(path):
    import hashlib
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()[:16]


def file_size(path):
    return os.path.getsize(path)
