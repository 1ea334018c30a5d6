"""ONNX test fixtures for spikefab's ONNX front end (tests/onnx.rs).

Writes tests/data/onnx/variants/: single-step spiking models beyond the example students
(per-neuron beta and threshold, BatchNorm after a bias-free Linear, hard reset written with
Where and >=, decayed subtract reset, a 1-d convolution, a gain on the input, graded spikes,
weights in an external data file), each with inputs and the golden spikes computed by
onnxruntime looping the step model T times from zero state, and a cases.json.
Every weight, bias, BatchNorm constant, beta and threshold is on a power-of-two grid and the
inputs are small integers, so float32 sums are exact and spike-exact comparison is fair.

Writes tests/data/onnx/broken/: malformed or unsupported files with the message each must
produce (cases.json: name, model, expect).

Run: /opt/venv/bin/python training/onnx_fixtures.py   (deterministic; needs torch, snntorch,
onnx, onnxruntime)
"""
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
import snntorch as snn
import torch
import torch.nn as nn
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "onnx")
VARIANTS = os.path.join(ROOT, "variants")
BROKEN = os.path.join(ROOT, "broken")
N, T = 64, 10
rng = np.random.default_rng(7)


def grid(shape, lo, hi, step):
    """Random values k*step with integer k in [lo, hi]."""
    return (rng.integers(lo, hi + 1, size=shape) * step).astype(np.float32)


def inputs(n_in):
    return rng.integers(0, 4, size=(N, n_in)).astype(np.float32)


def run_ort(path, x, state_shapes):
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    mems = [np.zeros((x.shape[0],) + tuple(s), np.float32) for s in state_shapes]
    out = []
    for _ in range(T):
        feeds = {names[0]: x}
        feeds.update({n: m for n, m in zip(names[1:], mems)})
        res = sess.run(None, feeds)
        out.append(res[0].reshape(x.shape[0], -1))
        mems = res[1:]
    return np.stack(out, 1)


def export_torch(module, path, n_in, state_shapes):
    module.eval()
    args = (torch.zeros(2, n_in),) + tuple(torch.zeros((2,) + tuple(s)) for s in state_shapes)
    ins = ["x"] + [f"mem{i}" for i in range(len(state_shapes))]
    outs = ["spk"] + [f"mem{i}_next" for i in range(len(state_shapes))]
    with torch.no_grad():
        torch.onnx.export(module, args, path, input_names=ins, output_names=outs,
                          dynamic_axes={n: {0: "batch"} for n in ins + outs}, opset_version=17, dynamo=False)
    onnx.checker.check_model(onnx.load(path))


class VectorSubtract(nn.Module):
    """snnTorch Leaky with one beta and one threshold per neuron, reset by subtraction."""

    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(12, 16), nn.Linear(16, 5)
        with torch.no_grad():
            self.fc1.weight.copy_(torch.from_numpy(grid((16, 12), -4, 4, 0.125)))
            self.fc1.bias.copy_(torch.from_numpy(grid((16,), -4, 4, 0.0625)))
            self.fc2.weight.copy_(torch.from_numpy(grid((5, 16), -4, 4, 0.25)))
            self.fc2.bias.copy_(torch.from_numpy(grid((5,), -2, 2, 0.125)))
        b1 = torch.from_numpy(rng.choice([0.5, 0.75, 0.875, 0.9375], 16).astype(np.float32))
        t1 = torch.from_numpy(rng.choice([0.5, 1.0, 1.5], 16).astype(np.float32))
        b2 = torch.from_numpy(rng.choice([0.5, 0.75, 0.875], 5).astype(np.float32))
        t2 = torch.from_numpy(rng.choice([1.0, 2.0], 5).astype(np.float32))
        self.lif1 = snn.Leaky(beta=b1, threshold=t1, learn_beta=True, learn_threshold=True,
                              reset_mechanism="subtract", surrogate_disable=True)
        self.lif2 = snn.Leaky(beta=b2, threshold=t2, learn_beta=True, learn_threshold=True,
                              reset_mechanism="subtract", surrogate_disable=True)

    def forward(self, x, mem0, mem1):
        s1, mem0 = self.lif1(self.fc1(x), mem0)
        s2, mem1 = self.lif2(self.fc2(s1), mem1)
        return s2, mem0, mem1


class ZeroBatchNorm(nn.Module):
    """Bias-free Linear (MatMul) + BatchNorm1d + Leaky(reset zero), then Linear + Leaky."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(12, 16, bias=False)
        self.bn = nn.BatchNorm1d(16, eps=0.0)
        self.fc2 = nn.Linear(16, 5)
        with torch.no_grad():
            self.fc1.weight.copy_(torch.from_numpy(grid((16, 12), -4, 4, 0.125)))
            self.bn.weight.copy_(torch.from_numpy(rng.choice([0.5, 1.0, 2.0], 16).astype(np.float32)))
            self.bn.bias.copy_(torch.from_numpy(grid((16,), -4, 4, 0.125)))
            self.bn.running_mean.copy_(torch.from_numpy(grid((16,), -4, 4, 0.25)))
            self.bn.running_var.copy_(torch.from_numpy(rng.choice([0.25, 1.0, 4.0], 16).astype(np.float32)))
            self.fc2.weight.copy_(torch.from_numpy(grid((5, 16), -4, 4, 0.25)))
            self.fc2.bias.copy_(torch.from_numpy(grid((5,), -2, 2, 0.125)))
        self.lif1 = snn.Leaky(beta=0.75, threshold=1.0, reset_mechanism="zero", surrogate_disable=True)
        self.lif2 = snn.Leaky(beta=0.875, threshold=1.0, reset_mechanism="zero", surrogate_disable=True)

    def forward(self, x, mem0, mem1):
        s1, mem0 = self.lif1(self.bn(self.fc1(x)), mem0)
        s2, mem1 = self.lif2(self.fc2(s1), mem1)
        return s2, mem0, mem1


class GradedIF(nn.Module):
    """beta = 1 (integrate-and-fire), graded spikes of 0.5 into the second layer."""

    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(12, 16), nn.Linear(16, 5)
        with torch.no_grad():
            self.fc1.weight.copy_(torch.from_numpy(grid((16, 12), -4, 4, 0.125)))
            self.fc1.bias.copy_(torch.from_numpy(grid((16,), -4, 2, 0.0625)))
            self.fc2.weight.copy_(torch.from_numpy(grid((5, 16), -4, 4, 0.5)))
            self.fc2.bias.copy_(torch.from_numpy(grid((5,), -2, 2, 0.125)))
        self.lif1 = snn.Leaky(beta=1.0, threshold=2.0, graded_spikes_factor=0.5, surrogate_disable=True)
        self.lif2 = snn.Leaky(beta=1.0, threshold=1.0, surrogate_disable=True)

    def forward(self, x, mem0, mem1):
        s1, mem0 = self.lif1(self.fc1(x), mem0)
        s2, mem1 = self.lif2(self.fc2(s1), mem1)
        return s2, mem0, mem1


class LIReadout(nn.Module):
    """A spiking hidden layer and a leaky-integrator readout: Leaky(reset 'none') whose membrane
    is the model's output."""

    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(12, 16), nn.Linear(16, 5)
        with torch.no_grad():
            self.fc1.weight.copy_(torch.from_numpy(grid((16, 12), -4, 4, 0.125)))
            self.fc1.bias.copy_(torch.from_numpy(grid((16,), -4, 4, 0.0625)))
            self.fc2.weight.copy_(torch.from_numpy(grid((5, 16), -4, 4, 0.25)))
            self.fc2.bias.copy_(torch.from_numpy(grid((5,), -2, 2, 0.125)))
        self.lif1 = snn.Leaky(beta=0.875, threshold=1.0, surrogate_disable=True)
        self.li = snn.Leaky(beta=0.5, reset_mechanism="none", surrogate_disable=True)

    def forward(self, x, mem0, mem1):
        s1, mem0 = self.lif1(self.fc1(x), mem0)
        _, mem1 = self.li(self.fc2(s1), mem1)
        return mem1, mem0, mem1


def const(name, value):
    return helper.make_node("Constant", [], [name], name=name,
                            value=numpy_helper.from_array(np.asarray(value, np.float32), name + "_v"))


def hand_model(path, reset, fire_geq=False, opset=17, external=None, tweak=None):
    """A 2-layer step model written node by node (not by torch).

    reset: 'where_zero' (hard reset with Where), 'subtract_decayed' (v = beta*(v - thr*H) + I),
    'none' (no reset), 'undecayed' (snnTorch's order) or 'square' (membrane times itself).
    Layer 1 is MatMul + Add divided by 2 (input gain 0.5); layer 2 is Gemm.
    """
    cmp = "GreaterOrEqual" if fire_geq else "Greater"
    w1 = grid((6, 8), -4, 4, 0.25)
    b1 = grid((8,), -4, 4, 0.125)
    w2 = grid((4, 8), -4, 4, 0.25)
    b2 = grid((4,), -2, 2, 0.125)
    inits = [numpy_helper.from_array(a, n) for a, n in
             [(w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2"),
              (np.float32(0.75), "beta"), (np.float32(1.0), "thr"), (np.float32(2.0), "two")]]
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["mm"], name="fc1/MatMul"),
        helper.make_node("Add", ["mm", "b1"], ["cur1_full"], name="fc1/Add"),
        helper.make_node("Div", ["cur1_full", "two"], ["cur1"], name="fc1/Div"),
        helper.make_node("Gemm", ["spk1", "w2", "b2"], ["cur2"], name="fc2/Gemm", transB=1),
    ]

    def neuron(p, mem, cur, out_mem, spk):
        ns = [const(f"{p}/zero", 0.0)] if reset == "where_zero" else []
        if reset == "where_zero":
            ns += [helper.make_node(cmp, [mem, "thr"], [f"{p}/h"], name=f"{p}/{cmp}"),
                   helper.make_node("Where", [f"{p}/h", f"{p}/zero", mem], [f"{p}/vd"], name=f"{p}/Where"),
                   helper.make_node("Mul", ["beta", f"{p}/vd"], [f"{p}/dec"], name=f"{p}/Mul"),
                   helper.make_node("Add", [cur, f"{p}/dec"], [out_mem], name=f"{p}/Add")]
        elif reset == "subtract_decayed":
            ns += [helper.make_node(cmp, [mem, "thr"], [f"{p}/h"], name=f"{p}/{cmp}"),
                   helper.make_node("Cast", [f"{p}/h"], [f"{p}/hf"], name=f"{p}/Cast", to=TensorProto.FLOAT),
                   helper.make_node("Mul", [f"{p}/hf", "thr"], [f"{p}/r"], name=f"{p}/MulThr"),
                   helper.make_node("Sub", [mem, f"{p}/r"], [f"{p}/vr"], name=f"{p}/Sub"),
                   helper.make_node("Mul", [f"{p}/vr", "beta"], [f"{p}/dec"], name=f"{p}/Mul"),
                   helper.make_node("Add", [f"{p}/dec", cur], [out_mem], name=f"{p}/Add")]
        elif reset == "undecayed":
            ns += [helper.make_node(cmp, [mem, "thr"], [f"{p}/h"], name=f"{p}/{cmp}"),
                   helper.make_node("Cast", [f"{p}/h"], [f"{p}/hf"], name=f"{p}/Cast", to=TensorProto.FLOAT),
                   helper.make_node("Mul", ["beta", mem], [f"{p}/dec"], name=f"{p}/Mul"),
                   helper.make_node("Add", [f"{p}/dec", cur], [f"{p}/pre"], name=f"{p}/Add"),
                   helper.make_node("Sub", [f"{p}/pre", f"{p}/hf"], [out_mem], name=f"{p}/Sub")]
        elif reset == "none":
            ns += [helper.make_node("Mul", ["beta", mem], [f"{p}/dec"], name=f"{p}/Mul"),
                   helper.make_node("Add", [f"{p}/dec", cur], [out_mem], name=f"{p}/Add")]
        elif reset == "square":
            ns += [helper.make_node("Mul", [mem, mem], [f"{p}/dec"], name=f"{p}/Square"),
                   helper.make_node("Add", [f"{p}/dec", cur], [out_mem], name=f"{p}/Add")]
        ns += [helper.make_node(cmp, [out_mem, "thr"], [f"{p}/s"], name=f"{p}/Fire"),
               helper.make_node("Cast", [f"{p}/s"], [spk], name=f"{p}/SpikeCast", to=TensorProto.FLOAT)]
        return ns

    nodes = nodes[:3] + neuron("lif1", "mem0", "cur1", "mem0_next", "spk1") + nodes[3:] + \
        neuron("lif2", "mem1", "cur2", "mem1_next", "spk")
    vi = lambda n, d: helper.make_tensor_value_info(n, TensorProto.FLOAT, ["batch", d])
    graph = helper.make_graph(nodes, "step", [vi("x", 6), vi("mem0", 8), vi("mem1", 4)],
                              [vi("spk", 4), vi("mem0_next", 8), vi("mem1_next", 4)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="spikefab-fixtures")
    model.ir_version = 8
    if tweak:
        tweak(model)
    if external:
        data = os.path.join(os.path.dirname(path), external)
        if os.path.exists(data):
            os.remove(data)
        onnx.save(model, path, save_as_external_data=True, all_tensors_to_one_file=True, location=external,
                  size_threshold=0)
    else:
        onnx.save(model, path)
    return [(8,), (4,)]


def conv1d_model(path, external):
    """x (16) -> Reshape (2, 8) -> Conv1d 2->3, k3, pad 1 -> subtract-decayed LIF -> Flatten -> Gemm -> LIF."""
    w1 = grid((3, 2, 3), -4, 4, 0.25)
    b1 = grid((3,), -2, 2, 0.125)
    w2 = grid((4, 24), -4, 4, 0.25)
    b2 = grid((4,), -2, 2, 0.125)
    inits = [numpy_helper.from_array(a, n) for a, n in
             [(w1, "conv.w"), (b1, "conv.b"), (w2, "fc.w"), (b2, "fc.b"), (np.float32(0.5), "beta"),
              (np.float32(1.0), "thr"), (np.array([-1, 2, 8], np.int64), "shape")]]
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["x3"], name="Reshape"),
             helper.make_node("Conv", ["x3", "conv.w", "conv.b"], ["c"], name="Conv", pads=[1, 1], kernel_shape=[3])]

    def neuron(p, mem, cur, out_mem, spk):
        return [helper.make_node("Greater", [mem, "thr"], [f"{p}/h"], name=f"{p}/Greater"),
                helper.make_node("Cast", [f"{p}/h"], [f"{p}/hf"], name=f"{p}/Cast", to=TensorProto.FLOAT),
                helper.make_node("Mul", ["thr", f"{p}/hf"], [f"{p}/r"], name=f"{p}/MulThr"),
                helper.make_node("Sub", [mem, f"{p}/r"], [f"{p}/vr"], name=f"{p}/Sub"),
                helper.make_node("Mul", ["beta", f"{p}/vr"], [f"{p}/dec"], name=f"{p}/Mul"),
                helper.make_node("Add", [cur, f"{p}/dec"], [out_mem], name=f"{p}/Add"),
                helper.make_node("Greater", [out_mem, "thr"], [f"{p}/s"], name=f"{p}/Fire"),
                helper.make_node("Cast", [f"{p}/s"], [spk], name=f"{p}/SpikeCast", to=TensorProto.FLOAT)]

    nodes += neuron("lif1", "mem0", "c", "mem0_next", "s1")
    nodes += [helper.make_node("Flatten", ["s1"], ["f"], name="Flatten", axis=1),
              helper.make_node("Gemm", ["f", "fc.w", "fc.b"], ["cur2"], name="Gemm", transB=1)]
    nodes += neuron("lif2", "mem1", "cur2", "mem1_next", "spk")
    vi = lambda n, *d: helper.make_tensor_value_info(n, TensorProto.FLOAT, ["batch", *d])
    graph = helper.make_graph(nodes, "step", [vi("x", 16), vi("mem0", 3, 8), vi("mem1", 4)],
                              [vi("spk", 4), vi("mem0_next", 3, 8), vi("mem1_next", 4)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="spikefab-fixtures")
    model.ir_version = 8
    # Weights go to the data file; the small Reshape target stays inline (runtimes need it there).
    # onnx appends to an existing data file, so start from none.
    data = os.path.join(os.path.dirname(path), external)
    if os.path.exists(data):
        os.remove(data)
    onnx.save(model, path, save_as_external_data=True, all_tensors_to_one_file=True, location=external,
              size_threshold=64)
    return [(3, 8), (4,)]


def variants():
    """Each model is built from the first seed whose golden run has at least 10% non-zero outputs
    (and, for spikes, at most 90%), so every comparison covers real activity."""
    global rng
    os.makedirs(VARIANTS, exist_ok=True)
    cases = []

    def add(name, build, n_in, reset, fire_on_equal, notes, output="spikes"):
        global rng
        path = os.path.join(VARIANTS, name + ".onnx")
        for seed in range(100):
            rng = np.random.default_rng(seed)
            torch.manual_seed(seed)
            states = build(path)
            x = inputs(n_in)
            y = run_ort(path, x, states)
            frac = np.count_nonzero(y) / y.size
            if frac >= 0.1 and (output != "spikes" or frac <= 0.9):
                break
        if output == "spikes":
            assert set(np.unique(y)) <= {0.0, 1.0}, name
            y = y.astype(np.uint8)
        np.save(os.path.join(VARIANTS, name + ".inputs.npy"), x)
        np.save(os.path.join(VARIANTS, name + ".expected.npy"), y)
        cases.append({"name": name, "model": name + ".onnx", "inputs": name + ".inputs.npy",
                      "expected": name + ".expected.npy", "timesteps": T, "reset": reset,
                      "fire_on_equal": fire_on_equal, "output": output, "seed": seed,
                      "nonzero": int(np.count_nonzero(y)), "notes": notes})

    def torch_model(cls):
        def build(path):
            export_torch(cls(), path, 12, [(16,), (5,)])
            return [(16,), (5,)]
        return build

    add("snntorch_vector_subtract", torch_model(VectorSubtract), 12, "subtract-undecayed", False,
        "snnTorch Leaky, per-neuron beta and threshold (learn_beta/learn_threshold), reset subtract")
    add("snntorch_zero_batchnorm", torch_model(ZeroBatchNorm), 12, "zero", False,
        "bias-free Linear (MatMul) + BatchNorm1d folded into it, snnTorch Leaky reset zero")
    add("snntorch_graded_if", torch_model(GradedIF), 12, "subtract-undecayed", False,
        "beta = 1 (IF), graded_spikes_factor 0.5 on layer 1 (a Scale node), threshold 2")
    add("snntorch_li_readout", torch_model(LIReadout), 12, "subtract-undecayed", False,
        "spiking hidden layer, Leaky(reset 'none') readout whose membrane is the output (an LI node)",
        output="values")
    add("where_zero_geq", lambda p: hand_model(p, "where_zero", fire_geq=True), 6, "zero", True,
        "hand-written: hard reset with Where, fires on >=, MatMul + Add, input divided by 2 (folded into the weights)")
    add("subtract_decayed", lambda p: hand_model(p, "subtract_decayed"), 6, "subtract", False,
        "hand-written: v = beta*(v - thr*H(v - thr)) + I, the subtract reset that decays (SpikingJelly soft)")
    add("conv1d_external", lambda p: conv1d_model(p, "conv1d_external.weights"), 16, "subtract", False,
        "hand-written: Reshape to (2, 8), Conv1d with padding, Flatten, Gemm; weights in an external data file")
    with open(os.path.join(VARIANTS, "cases.json"), "w") as f:
        json.dump(cases, f, indent=2)
        f.write("\n")


def broken():
    global rng
    rng = np.random.default_rng(7)
    os.makedirs(BROKEN, exist_ok=True)
    cases = []

    def add(name, expect, notes):
        cases.append({"name": name, "model": name + ".onnx", "expect": expect, "notes": notes})

    base = os.path.join(BROKEN, "_base.onnx")
    hand_model(base, "undecayed")
    data = open(base, "rb").read()
    os.remove(base)
    with open(os.path.join(BROKEN, "truncated.onnx"), "wb") as f:
        f.write(data[: len(data) * 2 // 3])
    add("truncated", "not a valid ONNX protobuf", "the first two thirds of a valid model")
    with open(os.path.join(BROKEN, "empty.onnx"), "wb") as f:
        f.write(b"")
    add("empty", "the file is empty", "zero bytes")
    with open(os.path.join(BROKEN, "garbage.onnx"), "wb") as f:
        f.write(bytes(rng.integers(0, 256, 300, dtype=np.uint8)))
    add("garbage", "not a valid ONNX protobuf", "random bytes")

    def tweaked(name, expect, notes, fn, reset="undecayed", **kw):
        hand_model(os.path.join(BROKEN, name + ".onnx"), reset, tweak=fn, **kw)
        add(name, expect, notes)

    def set_op(op):
        def f(m):
            m.graph.node[[n.name for n in m.graph.node].index("fc1/Div")].op_type = op
        return f

    tweaked("unknown_op", "node 'fc1/Div': field 'op_type': unsupported op 'Softplus'",
            "an op spikefab does not know", set_op("Softplus"))
    tweaked("relu", "Relu of a runtime tensor is not supported", "an ANN activation between layers", set_op("Relu"))

    def drop_init(m):
        m.graph.initializer.remove([t for t in m.graph.initializer if t.name == "w2"][0])
    tweaked("missing_initializer", "node 'fc2/Gemm': field 'input 1 ('w2')'", "weight initializer removed", drop_init)

    def wrong_shape(m):
        t = [t for t in m.graph.initializer if t.name == "w2"][0]
        m.graph.initializer.remove(t)
        m.graph.initializer.append(numpy_helper.from_array(grid((4, 9), -2, 2, 0.5), "w2"))
    tweaked("wrong_shapes", "weight takes 9 inputs but the input has 8 features", "Gemm weight (4, 9) on 8 features",
            wrong_shape)
    tweaked("old_opset", "opset 11", "default-domain opset 11", None, opset=11)
    tweaked("no_reset", "is not reset after a spike", "membrane never reset (snnTorch reset_mechanism='none')", None,
            reset="none")
    tweaked("membrane_squared", "multiplies two runtime tensors", "v * v: not a neuron model", None, reset="square")

    def mixed_reset(m):
        # Layer 2 becomes a hard reset, beta * (v * (1 - H)) + I, while layer 1 subtracts.
        g = m.graph
        names = [n.name for n in g.node]
        i = names.index("lif2/Mul")
        g.node[i].input[1] = "lif2/kept"
        g.node.insert(i, helper.make_node("Mul", ["mem1", "lif2/keep"], ["lif2/kept"], name="lif2/Keep"))
        g.node.insert(i, helper.make_node("Sub", ["one", "lif2/hf"], ["lif2/keep"], name="lif2/OneMinus"))
        names = [n.name for n in g.node]
        j = names.index("lif2/Sub")
        g.node.remove(g.node[j])
        g.node.insert(j, helper.make_node("Identity", ["lif2/pre"], ["mem1_next"], name="lif2/Out"))
        g.initializer.append(numpy_helper.from_array(np.float32(1.0), "one"))
    tweaked("mixed_reset", "one reset mode", "layer 1 subtracts, layer 2 multiplies its membrane by (1 - H)",
            mixed_reset)

    def maxpool(m):
        g = m.graph
        i = [n.name for n in g.node].index("fc2/Gemm")
        g.node.insert(i, helper.make_node("MaxPool", ["spk1"], ["pooled"], name="pool", kernel_shape=[2]))
        g.node[i + 1].input[0] = "pooled"
    tweaked("maxpool_on_spikes", "node 'pool': MaxPool is not supported", "MaxPool over spikes", maxpool)

    def act_quant(m):
        g = m.graph
        i = [n.name for n in g.node].index("fc2/Gemm")
        g.node.insert(i, helper.make_node("Quant", ["spk1", "qs", "qz", "qb"], ["q"], name="act_quant",
                                          domain="qonnx.custom_op.general", signed=0, narrow=0, rounding_mode="ROUND"))
        g.node[i + 1].input[0] = "q"
        g.initializer.extend([numpy_helper.from_array(np.float32(v), n) for v, n in [(1, "qs"), (0, "qz"), (2, "qb")]])
        m.opset_import.append(helper.make_opsetid("qonnx.custom_op.general", 1))
    tweaked("activation_quant", "activation quantisation", "QONNX Quant applied to spikes, not weights", act_quant)

    # External data whose file is absent.
    hand_model(os.path.join(BROKEN, "external_missing.onnx"), "undecayed", external="external_missing.weights")
    os.remove(os.path.join(BROKEN, "external_missing.weights"))
    add("external_missing", "external data file", "weights stored in external_missing.weights, which is absent")

    def bad_conv(m):
        g = m.graph
        i = [n.name for n in g.node].index("fc2/Gemm")
        g.node.insert(i, helper.make_node("Reshape", ["spk1", "cshape"], ["s3"], name="reshape"))
        g.node.insert(i + 1, helper.make_node("Conv", ["s3", "cw"], ["cv"], name="conv", pads=[1, 0]))
        g.node.insert(i + 2, helper.make_node("Flatten", ["cv"], ["spk1f"], name="flat"))
        g.node[i + 3].input[0] = "spk1f"
        g.initializer.extend([numpy_helper.from_array(np.array([-1, 1, 8], np.int64), "cshape"),
                              numpy_helper.from_array(grid((1, 1, 2), -1, 1, 0.5), "cw")])
    tweaked("asymmetric_pads", "node 'conv': field 'attribute 'pads'': asymmetric padding",
            "Conv with pads [1, 0]", bad_conv)

    def state_misuse(m):
        # The membrane state itself feeds the second layer: not a spike.
        g = m.graph
        g.node[[n.name for n in g.node].index("fc2/Gemm")].input[0] = "mem0_next"
    tweaked("membrane_as_input", "the membrane is reset but also read as a value", "a layer reads a membrane instead of spikes",
            state_misuse)
    def huge_pads(m):
        bad_conv(m)
        conv = [n for n in m.graph.node if n.name == "conv"][0]
        conv.attribute.remove(conv.attribute[0])
        conv.attribute.append(helper.make_attribute("pads", [2**40, 2**40]))
    tweaked("huge_pads", "attribute 'pads'': 1099511627776 is negative or too large",
            "Conv pads of 2^40 (sizes are checked before any arithmetic)", huge_pads)

    def empty_concat(m):
        g = m.graph
        i = [n.name for n in g.node].index("fc2/Gemm")
        g.node.insert(i, helper.make_node("Concat", [], ["nothing"], name="concat", axis=0))
    tweaked("empty_concat", "node 'concat': field 'inputs': Concat needs at least one input",
            "a Concat with no inputs (once a panic)", empty_concat)
    with open(os.path.join(BROKEN, "cases.json"), "w") as f:
        json.dump(cases, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    variants()
    broken()
