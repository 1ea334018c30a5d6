"""NeuroBench ground truth for the example students (what spikefab's counters must match).

    /opt/venv/bin/python training/neurobench_counts.py [--models mlp_bw conv_bw ensemble_bw]

For each model:

1. rebuilds the snnTorch network from the NIR file (nn.Linear / nn.Conv2d / nn.AvgPool2d /
   nn.Flatten from the Affine / Conv2d / AvgPool2d / Flatten nodes; snn.Leaky(beta = 1 - dt/tau,
   threshold = v_threshold, reset_mechanism from models/cases.json, init_hidden=True) per LIF node;
   the LIF feeding `output` gets output=True), executed in NIR edge order, a node with several
   incoming edges gets the sum of its inputs (conv_bw shortcuts, ensemble_bw head slices);
2. wraps it in neurobench.models.SNNTorchModel (its own T-step loop: net(data[:, t]) for
   t < T, `spk_out, _ = net(...)`, like NeuroBench's snnTorch examples), direct encoding by a
   preprocessor that repeats the raw pixels 0..16 over T (data: batch x T x features);
3. checks the wrapped model's output spikes against models/<name>/expected.npy (must be 0
   differing spikes; checked on a separate instance first and again on the spikes of the
   benchmark run itself);
4. runs neurobench.benchmarks.Benchmark with the static metrics Footprint, ConnectionSparsity,
   ParameterCount and the workload metrics ClassificationAccuracy (postprocessor ChooseMaxCount),
   ActivationSparsity, ActivationSparsityByLayer, MembraneUpdates, SynapticOperations,
   NeuronOperations, plus `PerLayerCounts` below (per-layer breakdowns NeuroBench does not
   expose, computed with NeuroBench's own single_layer_MACs and the MembraneUpdates formula on
   the same hooks), once with one batch of all 450 test samples (the reference numbers) and once
   with batch size 1 (some NeuroBench numbers depend on the batch size, see `batch_size_1`);
5. writes models/<name>/neurobench.json (floats rounded to 10 significant digits).

The footprint is measured on a freshly built network (snnTorch's Leaky keeps its membrane in a
non-persistent buffer `mem`, which Footprint counts: after a forward pass of batch B it adds
B x neurons x 4 bytes; `footprint_after_run_batch_450` records that value too).
"""
import argparse
import json
import os
import sys
from collections import OrderedDict, defaultdict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import nir
import snntorch as snn
import neurobench
from neurobench.benchmarks import Benchmark
from neurobench.models import SNNTorchModel
from neurobench.metrics.abstract import AccumulatedMetric
from neurobench.metrics.static import Footprint, ConnectionSparsity, ParameterCount
from neurobench.metrics.workload import (ClassificationAccuracy, ActivationSparsity,
                                         ActivationSparsityByLayer, MembraneUpdates,
                                         SynapticOperations, NeuronOperations)
from neurobench.metrics.utils.layers import single_layer_MACs
from neurobench.processors.postprocessors import ChooseMaxCount

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.join(os.path.dirname(HERE), "models")
DEFAULT = ["mlp_bw", "conv_bw", "ensemble_bw"]


# ----------------------------------------------------------------------------- NIR -> snnTorch
class NIRNet(nn.Module):
    """snnTorch network executing a NIR graph one time step per call (init_hidden Leaky)."""

    def __init__(self, graph, reset, dt):
        super().__init__()
        nodes, edges = graph.nodes, graph.edges
        self.preds = defaultdict(list)
        for a, b in edges:
            self.preds[b].append(a)
        # topological order, ties broken by first appearance in the edge list (NIR order)
        order, seen = [], set()
        names = []
        for a, b in edges:
            for n in (a, b):
                if n not in names:
                    names.append(n)
        while len(order) < len(names):
            for n in names:
                if n not in seen and all(p in seen for p in self.preds[n]):
                    order.append(n)
                    seen.add(n)
        self.order = [n for n in order if not isinstance(nodes[n], (nir.Input, nir.Output))]
        self.input_name = [n for n in order if isinstance(nodes[n], nir.Input)][0]
        self.output_src = self.preds[[n for n in order if isinstance(nodes[n], nir.Output)][0]]
        assert len(self.output_src) == 1
        for n in self.order:
            node = nodes[n]
            if isinstance(node, nir.Affine):
                w = torch.from_numpy(np.asarray(node.weight, dtype=np.float32))
                m = nn.Linear(w.shape[1], w.shape[0], bias=node.bias is not None)
                with torch.no_grad():
                    m.weight.copy_(w)
                    if node.bias is not None:
                        m.bias.copy_(torch.from_numpy(np.asarray(node.bias, dtype=np.float32)))
            elif isinstance(node, nir.Conv2d):
                w = torch.from_numpy(np.asarray(node.weight, dtype=np.float32))
                assert int(np.prod(np.atleast_1d(node.groups))) == 1
                m = nn.Conv2d(w.shape[1], w.shape[0], tuple(w.shape[2:]),
                              stride=tuple(int(s) for s in np.atleast_1d(node.stride)) * (2 // len(np.atleast_1d(node.stride))),
                              padding=tuple(int(s) for s in np.atleast_1d(node.padding)) * (2 // len(np.atleast_1d(node.padding))),
                              dilation=tuple(int(s) for s in np.atleast_1d(node.dilation)) * (2 // len(np.atleast_1d(node.dilation))),
                              bias=node.bias is not None)
                with torch.no_grad():
                    m.weight.copy_(w)
                    if node.bias is not None:
                        m.bias.copy_(torch.from_numpy(np.asarray(node.bias, dtype=np.float32)))
            elif isinstance(node, nir.LIF):
                tau = np.asarray(node.tau, dtype=np.float64)
                beta = 1.0 - dt / tau
                thr = np.asarray(node.v_threshold, dtype=np.float64)
                assert np.all(beta == beta.flat[0]) and np.all(thr == thr.flat[0])
                assert np.all(np.asarray(node.v_leak) == 0) and np.all(np.asarray(node.v_reset) == 0)
                assert np.allclose(np.asarray(node.r, dtype=np.float64) * dt / tau, 1.0)   # input gain 1
                m = snn.Leaky(beta=float(beta.flat[0]), threshold=float(thr.flat[0]),
                              reset_mechanism=reset, learn_beta=False, init_hidden=True,
                              output=(n in self.output_src))
            elif isinstance(node, nir.AvgPool2d):
                m = nn.AvgPool2d(tuple(int(k) for k in node.kernel_size), tuple(int(s) for s in node.stride),
                                 tuple(int(p) for p in node.padding))
            elif isinstance(node, nir.Flatten):
                assert node.start_dim == 0 and node.end_dim == -1
                m = nn.Flatten(1)                     # NIR dims exclude the batch dimension
            else:
                raise NotImplementedError(f"{n}: {type(node).__name__}")
            self.add_module(n, m)

    def reset(self):
        """Zero every Leaky membrane (called by SNNTorchModel before each batch)."""
        for m in self.modules():
            if isinstance(m, snn.Leaky):
                m.mem = torch.zeros_like(m.mem)

    def forward(self, x):
        vals = {self.input_name: x}
        for n in self.order:
            ins = [vals[p] for p in self.preds[n]]
            z = ins[0]
            for extra in ins[1:]:
                z = z + extra
            out = getattr(self, n)(z)
            vals[n] = out[0] if isinstance(out, tuple) else out
            if n in self.output_src:
                final = out
        return final                                  # (spk, mem) of the output LIF layer


def build(name, case):
    g = nir.read(os.path.join(MODELS, case["model"]))
    reset = {"subtract-undecayed": "subtract", "zero": "zero"}[case["reset"]]
    net = NIRNet(g, reset, case["dt"])
    in_shape = tuple(int(s) for s in np.asarray(g.nodes[net.input_name].input_type["input"]))
    return net.eval(), in_shape


# ----------------------------------------------------------------------------- per-layer metric
def _module_names(model):
    return {id(m): n for n, m in model.__net__().named_modules()}


class PerLayerCounts(AccumulatedMetric):
    """Per-layer breakdown of SynapticOperations and MembraneUpdates (NeuroBench only reports
    the totals). Same hooks, same functions: single_layer_MACs(input, layer) and
    single_layer_MACs(input, layer, total=True) per hooked call (= per time step), classified
    MAC/AC by the returned `spiking` flag; membrane updates per Leaky hook exactly as
    MembraneUpdates.__call__. Also an independent exact count (float64) of the synaptic ops as
    a cross-check of NeuroBench's float32 sums."""

    def __init__(self):
        super().__init__(requires_hooks=True)
        self.reset()

    def reset(self):
        self.syn = defaultdict(lambda: defaultdict(int))
        self.mem = defaultdict(lambda: defaultdict(int))
        self.total_samples = 0

    def __call__(self, model, preds, data):
        names = _module_names(model)
        for hook in model.connection_hooks:
            name = names[id(hook.layer)]
            d = self.syn[name]
            for spikes in hook.inputs:
                if len(spikes) == 1:
                    spikes = spikes[0]
                hook.hook.remove()
                ops, spiking = single_layer_MACs(spikes, hook.layer)
                dense, _ = single_layer_MACs(spikes, hook.layer, total=True)
                hook.register_hook()
                d["Effective_ACs" if spiking else "Effective_MACs"] += ops
                d["Dense"] += dense
                d["steps_AC" if spiking else "steps_MAC"] += 1
                # exact float64 recount (binarised input and weights, no bias)
                xb = (spikes.detach() != 0).double()
                wb = (hook.layer.weight.detach() != 0).double()
                if isinstance(hook.layer, nn.Conv2d):
                    f = lambda z, w: F.conv2d(z, w, None, hook.layer.stride, hook.layer.padding,
                                              hook.layer.dilation, hook.layer.groups)
                else:
                    f = F.linear
                d["exact_effective"] += int(f(xb, wb).sum().item())
                d["exact_dense"] += int(f(torch.ones_like(xb), torch.ones_like(wb)).sum().item())
        for hook in model.activation_hooks:
            d = self.mem[hook.name]
            updates = 0
            if len(hook.pre_fire_mem_potential) > 1:
                pre = torch.stack(hook.pre_fire_mem_potential[1:])
                post = torch.stack(hook.post_fire_mem_potential[1:])
                updates += torch.count_nonzero(pre - post).item()
            if hook.post_fire_mem_potential:
                updates += hook.post_fire_mem_potential[0].numel()
            d["membrane_updates"] += updates
            d["spikes"] += sum(int(torch.count_nonzero(o).item()) for o in hook.activation_outputs)
            d["activations"] += sum(o.numel() for o in hook.activation_outputs)
            d["calls"] += len(hook.activation_outputs)
        self.total_samples += data[0].size(0)
        return self.compute()

    def compute(self):
        n = max(self.total_samples, 1)
        syn = {k: {"Effective_MACs": v["Effective_MACs"] / n, "Effective_ACs": v["Effective_ACs"] / n,
                   "Dense": v["Dense"] / n, "steps_MAC": v["steps_MAC"], "steps_AC": v["steps_AC"],
                   "totals_over_test_set": {"Effective_MACs": v["Effective_MACs"], "Effective_ACs": v["Effective_ACs"],
                                            "Dense": v["Dense"], "exact_effective": v["exact_effective"],
                                            "exact_dense": v["exact_dense"]}}
               for k, v in self.syn.items()}
        mem = {k: {"membrane_updates": v["membrane_updates"] / n, "membrane_updates_total": v["membrane_updates"],
                   "spikes_total": v["spikes"], "activations_total": v["activations"],
                   "activation_sparsity": (v["activations"] - v["spikes"]) / v["activations"] if v["activations"] else 0.0}
               for k, v in self.mem.items()}
        return {"synaptic_operations": syn, "neurons": mem}


# ----------------------------------------------------------------------------- running
class Stash:
    """Postprocessor that keeps the raw output spikes (batch x T x 10) and passes them on."""

    def __init__(self):
        self.out = []

    def __call__(self, spikes):
        self.out.append(spikes.detach().clone())
        return spikes


def run_benchmark(name, case, x, y, batch_size):
    net, in_shape = build(name, case)
    T = case["timesteps"]
    model = SNNTorchModel(net)
    xs = torch.from_numpy(x.astype(np.float32)).reshape((-1,) + in_shape)
    ds = torch.utils.data.TensorDataset(xs, torch.from_numpy(y))
    dl = torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=False)
    # direct encoding: the same pixel currents at every one of the T steps
    repeat = lambda d: (d[0].unsqueeze(1).repeat((1, T) + (1,) * (d[0].dim() - 1)), d[1])
    stash = Stash()
    static = [Footprint, ConnectionSparsity, ParameterCount]
    # ActivationSparsityByLayer.__init__ does not call super().__init__, so its requires_hooks
    # property raises; it must come after a metric that requires hooks (any() short-circuits).
    workload = [ClassificationAccuracy, ActivationSparsity, ActivationSparsityByLayer, MembraneUpdates,
                SynapticOperations, NeuronOperations, PerLayerCounts]
    bench = Benchmark(model, dl, [repeat], [stash, ChooseMaxCount()], [static, workload])
    with torch.no_grad():
        res = bench.run(quiet=True)
    spikes = torch.cat(stash.out).numpy()
    fp_after = Footprint()(model)
    bench.workload_metric_manager.cleanup_hooks(model)
    return res, spikes, fp_after


def verify(name, case, x):
    """Separate instance: SNNTorchModel's T-step loop over the whole test set."""
    net, in_shape = build(name, case)
    model = SNNTorchModel(net)
    T = case["timesteps"]
    xs = torch.from_numpy(x.astype(np.float32)).reshape((-1,) + in_shape)
    with torch.no_grad():
        out = model(xs.unsqueeze(1).repeat((1, T) + (1,) * (xs.dim() - 1))).numpy()
    return out


def sig(v):
    if isinstance(v, dict):
        return {str(k): sig(w) for k, w in v.items()}
    if isinstance(v, (list, tuple)):
        return [sig(w) for w in v]
    if isinstance(v, torch.Tensor):
        v = v.item()
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(f"{float(v):.10g}")
    return v


def neurobench_view(res):
    """The numbers NeuroBench itself reports (Benchmark.run result)."""
    keys = ["Footprint", "ConnectionSparsity", "ParameterCount", "ClassificationAccuracy",
            "ActivationSparsity", "ActivationSparsityByLayer", "MembraneUpdates", "SynapticOperations",
            "NeuronOperations"]
    return {k: res[k] for k in keys}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="*", default=DEFAULT)
    args = ap.parse_args()
    torch.set_num_threads(1)
    cases = {c["name"]: c for c in json.load(open(os.path.join(MODELS, "cases.json")))}
    x = np.load(os.path.join(MODELS, "digits_test_x.npy"))
    y = np.load(os.path.join(MODELS, "digits_test_y.npy")).astype(np.int64)
    ok = True
    for name in args.models:
        case = cases[name]
        expected = np.load(os.path.join(MODELS, case["expected"]))
        out = verify(name, case, x)
        diff = int((out != expected.astype(np.float32)).sum())
        print(f"[{name}] snnTorch rebuild vs expected.npy: {diff} differing spikes of {expected.size}")
        if diff != 0:
            ok = False
            print(f"[{name}] MISMATCH, not writing neurobench.json")
            continue
        res, spikes, fp_after = run_benchmark(name, case, x, y, batch_size=len(x))
        diff_b = int((spikes != expected.astype(np.float32)).sum())
        res1, spikes1, _ = run_benchmark(name, case, x, y, batch_size=1)
        diff_1 = int((spikes1 != expected.astype(np.float32)).sum())
        print(f"[{name}] benchmark-run spikes vs expected.npy: {diff_b} (batch 450), {diff_1} (batch 1)")
        if diff_b or diff_1:
            ok = False
            continue
        per = res["PerLayerCounts"]
        for lname, d in per["synaptic_operations"].items():
            t = d["totals_over_test_set"]
            if t["Effective_MACs"] + t["Effective_ACs"] != t["exact_effective"] or t["Dense"] != t["exact_dense"]:
                print(f"[{name}] note: {lname} NeuroBench float32 sums differ from exact: {t}")
        nb = neurobench_view(res)
        nb1 = neurobench_view(res1)
        differs = {k: nb1[k] for k in nb if sig(nb1[k]) != sig(nb[k])}
        doc = {
            "model": name,
            "nir": case["model"],
            "versions": {"neurobench": neurobench.__version__, "snntorch": snn.__version__,
                         "torch": torch.__version__.split("+")[0], "nir": getattr(nir, "__version__", "unknown")},
            "setup": {
                "wrapper": "neurobench.models.SNNTorchModel(net); net = snnTorch Leaky(init_hidden=True) graph rebuilt from the NIR file, last LIF output=True",
                "timesteps": case["timesteps"],
                "encoding": "direct: raw pixels 0..16 (float32) repeated over T by a preprocessor, data batch x T x features",
                "postprocessor": "ChooseMaxCount (spikes.sum(1).argmax(1))",
                "reset": case["reset"],
                "samples": int(len(x)),
                "batch_size": int(len(x)),
                "batches": 1,
                "footprint_measured_on": "freshly built net (Leaky.mem buffers empty)",
            },
            "check": {"differing_spikes_vs_expected": diff, "benchmark_run_differing_spikes": diff_b,
                      "total_spikes_compared": int(expected.size)},
            "neurobench": nb,
            "footprint_after_run_batch_450": fp_after,
            "per_layer": per,
            "batch_size_1": {"note": "same benchmark with DataLoader batch_size=1 (450 batches); only the "
                                     "NeuroBench numbers that differ from the batch-450 run are listed; "
                                     "steps_MAC/steps_AC count (layer call, batch) pairs classified MAC/AC",
                             "differs": differs,
                             "per_layer_mac_ac_steps": {
                                 k: {"steps_MAC": v["steps_MAC"], "steps_AC": v["steps_AC"],
                                     "same_ops_as_batch_450": all(v[q] == per["synaptic_operations"][k][q]
                                                                  for q in ("Effective_MACs", "Effective_ACs", "Dense"))}
                                 for k, v in res1["PerLayerCounts"]["synaptic_operations"].items()}},
        }
        doc = sig(doc)
        path = os.path.join(MODELS, name, "neurobench.json")
        with open(path, "w") as f:
            json.dump(doc, f, indent=1, sort_keys=False)
            f.write("\n")
        print(f"[{name}] wrote {os.path.relpath(path, os.path.dirname(HERE))}")
        print(json.dumps(doc["neurobench"], indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
