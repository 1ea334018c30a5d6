"""ONNX export of one timestep with the membranes as explicit state:
(x, mem1, mem2, ...) -> (spk_out, mem1', mem2', ...), looped over T outside.

The step modules reuse the trained (frozen, binarised) layers and snnTorch Leaky neurons
rebuilt with surrogate_disable=True (plain Heaviside, exportable). Also a QONNX variant in
which every weight is produced by BipolarQuant(sign latent, per-row scale a_i).
"""
import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn
import torch.nn.functional as F
import snntorch as snn
from onnx import helper, numpy_helper, TensorProto

from common import THRESHOLD

OPSET = 17


def _leaky(m):
    return snn.Leaky(beta=m.beta, threshold=THRESHOLD, reset_mechanism=m.reset, surrogate_disable=True)


class MLPStep(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.fc1, self.fc2 = m.fc1, m.fc2
        self.lif1, self.lif2 = _leaky(m), _leaky(m)

    def forward(self, x, mem1, mem2):
        spk1, mem1 = self.lif1(F.linear(x, self.fc1.weight, self.fc1.bias), mem1)
        spk2, mem2 = self.lif2(F.linear(spk1, self.fc2.weight, self.fc2.bias), mem2)
        return spk2, mem1, mem2


class ConvStep(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m
        self.l0, self.l1, self.l2, self.l3 = _leaky(m), _leaky(m), _leaky(m), _leaky(m)

    def forward(self, x, mem0, mem1, mem2, mem3):
        m = self.m
        x = x.view(-1, 1, 8, 8)
        s0, mem0 = self.l0(F.conv2d(x, m.conv0.weight, m.conv0.bias, 1, 1), mem0)
        s1, mem1 = self.l1(F.conv2d(s0, m.conv1.weight, m.conv1.bias, 1, 1) + s0, mem1)
        s2, mem2 = self.l2(F.conv2d(s1, m.conv2.weight, m.conv2.bias, 1, 1) + s1, mem2)
        p = F.avg_pool2d(s2, 2).flatten(1)
        s3, mem3 = self.l3(F.linear(p, m.fc.weight, m.fc.bias), mem3)
        return s3, mem0, mem1, mem2, mem3


def state_shapes(kind, m):
    if kind == "mlp":
        return [(m.fc1.out_features,), (10,)]
    return [(m.ch, 8, 8)] * 3 + [(10,)]


def export_step(kind, m, path):
    step = MLPStep(m) if kind == "mlp" else ConvStep(m)
    step.eval()
    shapes = state_shapes(kind, m)
    B = 2
    args = (torch.zeros(B, 64),) + tuple(torch.zeros((B,) + s) for s in shapes)
    in_names = ["x"] + [f"mem{i}" for i in range(len(shapes))]
    out_names = ["spk_out"] + [f"mem{i}_next" for i in range(len(shapes))]
    dyn = {n: {0: "batch"} for n in in_names + out_names}
    with torch.no_grad():
        torch.onnx.export(step, args, path, input_names=in_names, output_names=out_names,
                          dynamic_axes=dyn, opset_version=OPSET, dynamo=False)
    model = onnx.load(path)
    onnx.checker.check_model(model)
    return shapes


def run_onnx(path, x, T, shapes, executor="ort"):
    """Loop the one-step model over T; returns N x T x 10 uint8 spikes."""
    N = x.shape[0]
    x = np.asarray(x, dtype=np.float32).reshape(N, 64)
    mems = [np.zeros((N,) + s, np.float32) for s in shapes]
    out = []
    if executor == "ort":
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        run = lambda feeds: sess.run(None, feeds)
    else:
        from qonnx.core.modelwrapper import ModelWrapper
        import qonnx.core.onnx_exec as qexec
        from qonnx.core.onnx_exec import execute_onnx
        _patch_qonnx_ir_version(qexec)
        from qonnx.transformation.infer_shapes import InferShapes
        mw = ModelWrapper(_with_batch(onnx.load(path), N)).transform(InferShapes())
        names = [o.name for o in mw.graph.output]

        def run(feeds):
            r = execute_onnx(mw, feeds)
            return [r[n] for n in names]
    for t in range(T):
        feeds = {"x": x}
        feeds.update({f"mem{i}": v for i, v in enumerate(mems)})
        res = run(feeds)
        out.append(res[0].reshape(N, 10))
        mems = res[1:]
    return np.stack(out, 1).astype(np.uint8)


def _patch_qonnx_ir_version(qexec):
    """qonnx 1.0.0 runs each node through onnxruntime in a one-node model made by
    onnx.helper.make_model, which with onnx 1.23 gets IR version 14; onnxruntime 1.31 accepts at
    most 13 ("Unsupported model IR version: 14, max supported IR version: 13"). Pin IR 8."""
    if getattr(qexec, "_spikefab_patched", False):
        return
    orig = qexec.qonnx_make_model

    def make(graph, **kw):
        m = orig(graph, **kw)
        m.ir_version = 8
        return m
    qexec.qonnx_make_model = make
    qexec._spikefab_patched = True


def _with_batch(model, n):
    """Copy of the model with the batch dimension of every graph input/output fixed to n."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for vi in list(m.graph.input) + list(m.graph.output):
        d = vi.type.tensor_type.shape.dim[0]
        d.Clear()
        d.dim_value = n
    del m.graph.value_info[:]
    return m


def make_qonnx(src, dst):
    """Rewrite every weight initializer W (2-D or 4-D, binary rows +-a_i) as
    W = BipolarQuant(sign(W) as +-1 latent, scale a_i of shape (out, 1[, 1, 1])) from the QONNX
    custom-op domain: BipolarQuant(X, scale) = (X >= 0 ? 1 : -1) * scale."""
    model = onnx.load(src)
    g = model.graph
    new_inits, new_nodes = [], []
    for init in list(g.initializer):
        w = numpy_helper.to_array(init)
        if w.ndim not in (2, 4):
            continue
        rows = np.abs(w.reshape(w.shape[0], -1))
        if not np.all(rows == rows[:, :1]):
            continue
        a = rows[:, 0].reshape((w.shape[0],) + (1,) * (w.ndim - 1)).astype(np.float32)
        latent = np.where(w >= 0, 1.0, -1.0).astype(np.float32)
        name = init.name
        g.initializer.remove(init)
        new_inits += [numpy_helper.from_array(latent, name + "_latent"),
                      numpy_helper.from_array(a, name + "_scale")]
        new_nodes.append(helper.make_node("BipolarQuant", [name + "_latent", name + "_scale"], [name],
                                          domain="qonnx.custom_op.general", name=name + "_bipolarquant"))
    g.initializer.extend(new_inits)
    nodes = list(g.node)
    del g.node[:]
    g.node.extend(new_nodes + nodes)
    model.opset_import.append(helper.make_opsetid("qonnx.custom_op.general", 1))
    # QONNX/FINN tools expect static shapes: the saved file has batch size 1
    onnx.save(_with_batch(model, 1), dst)
    return len(new_nodes)
