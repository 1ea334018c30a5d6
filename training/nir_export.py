"""NIR export of the trained students, built with the `nir` package exactly as snnTorch 1.0's
exporter maps its modules (its own `export_to_nir` fails type inference on these models, see
README): Leaky(beta, threshold) -> LIF(tau = dt/(1-beta), r = tau/dt, v_leak = 0,
v_threshold = threshold, v_reset = 0) with dt = 1e-4; nn.Linear -> Affine(weight, bias);
nn.Conv2d -> Conv2d; nn.AvgPool2d -> AvgPool2d; flatten -> Flatten.

Weights are the binarised float32 weights (+-a_i per output row / channel). Neuron
parameters are float64 so that beta = 1 - dt/tau and g = r*dt/tau come back exactly
(beta is a dyadic fraction, 1 - 2^-k, for every student).
"""
import numpy as np
import nir
import traceback

from common import DT, THRESHOLD


def lif_node(beta, shape):
    beta = np.full(shape, beta, dtype=np.float64)
    tau = DT / (1.0 - beta)
    return nir.LIF(tau=tau, r=tau / DT, v_leak=np.zeros(shape), v_threshold=np.full(shape, THRESHOLD, dtype=np.float64),
                   v_reset=np.zeros(shape))


def affine(layer):
    return nir.Affine(weight=layer.weight.detach().numpy().astype(np.float32),
                      bias=layer.bias.detach().numpy().astype(np.float32))


def conv(layer, hw):
    return nir.Conv2d(input_shape=hw, weight=layer.weight.detach().numpy().astype(np.float32),
                      stride=(1, 1), padding=(1, 1), dilation=(1, 1), groups=1,
                      bias=layer.bias.detach().numpy().astype(np.float32))


def meta(model, T, name):
    return {"producer": "spikefab training/ (snnTorch 1.0.0 Leaky)", "model": name, "dt": DT,
            "reset": "subtract-undecayed" if model.reset == "subtract" else "zero",
            "timesteps": T, "beta": model.beta, "threshold": THRESHOLD}


def export_mlp(model, T, name):
    nodes = {
        "input": nir.Input(input_type=np.array([64])),
        "fc1": affine(model.fc1),
        "lif1": lif_node(model.beta, (model.fc1.out_features,)),
        "fc2": affine(model.fc2),
        "lif2": lif_node(model.beta, (10,)),
        "output": nir.Output(output_type=np.array([10])),
    }
    edges = [("input", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"), ("lif2", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta(model, T, name))


def export_conv(model, T, name):
    ch = model.ch
    nodes = {
        "input": nir.Input(input_type=np.array([1, 8, 8])),
        "conv0": conv(model.conv0, (8, 8)),
        "lif0": lif_node(model.beta, (ch, 8, 8)),
        "conv1": conv(model.conv1, (8, 8)),
        "lif1": lif_node(model.beta, (ch, 8, 8)),
        "conv2": conv(model.conv2, (8, 8)),
        "lif2": lif_node(model.beta, (ch, 8, 8)),
        "pool": nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])),
        "flatten": nir.Flatten(input_type={"input": np.array([ch, 4, 4])}, start_dim=0, end_dim=-1),
        "fc": affine(model.fc),
        "lif_out": lif_node(model.beta, (10,)),
        "output": nir.Output(output_type=np.array([10])),
    }
    edges = [("input", "conv0"), ("conv0", "lif0"),
             ("lif0", "conv1"), ("conv1", "lif1"), ("lif0", "lif1"),     # shortcut: 2nd edge into lif1
             ("lif1", "conv2"), ("conv2", "lif2"), ("lif1", "lif2"),     # shortcut: 2nd edge into lif2
             ("lif2", "pool"), ("pool", "flatten"), ("flatten", "fc"), ("fc", "lif_out"),
             ("lif_out", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta(model, T, name))


def export_ensemble(model, T, name):
    n, fd = model.n, model.feat
    if n & (n - 1):
        raise ValueError(f"{n} students: the head's bias splits exactly only into a power of two")
    wh = model.head.weight.detach().numpy().astype(np.float32)
    bh = model.head.bias.detach().numpy().astype(np.float32)
    nodes = {"input": nir.Input(input_type=np.array([64]))}
    edges = []
    for k in range(n):
        p = f"s{k}_"
        nodes[p + "fc1"] = affine(model.fc1[k])
        nodes[p + "lif1"] = lif_node(model.beta, (model.fc1[k].out_features,))
        nodes[p + "fc2"] = affine(model.fc2[k])
        nodes[p + "lif2"] = lif_node(model.beta, (fd,))
        # head slice k: columns k*8..k*8+7 of the shared binary head, bias split b/N (exact:
        # N is a power of two, checked above)
        nodes[p + "head"] = nir.Affine(weight=np.ascontiguousarray(wh[:, k * fd:(k + 1) * fd]),
                                       bias=(bh / n).astype(np.float32))
        edges += [("input", p + "fc1"), (p + "fc1", p + "lif1"), (p + "lif1", p + "fc2"),
                  (p + "fc2", p + "lif2"), (p + "lif2", p + "head"), (p + "head", "lif_out")]
    nodes["lif_out"] = lif_node(model.beta, (10,))
    nodes["output"] = nir.Output(output_type=np.array([10]))
    edges.append(("lif_out", "output"))
    md = meta(model, T, name)
    md["students"] = n
    md["student_prefixes"] = [f"s{k}_" for k in range(n)]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=md)


def try_snntorch_export(model):
    """Try snnTorch's own exporter on a plain Leaky MLP; return the error text (or None)."""
    import torch
    import torch.nn as nn
    import snntorch as snn
    from snntorch.export_nir import export_to_nir
    seq = nn.Sequential(nn.Linear(64, model.fc1.out_features),
                        snn.Leaky(beta=model.beta, init_hidden=True),
                        nn.Linear(model.fc1.out_features, 10),
                        snn.Leaky(beta=model.beta, init_hidden=True, output=True))
    with torch.no_grad():
        seq[0].weight.copy_(model.fc1.weight); seq[0].bias.copy_(model.fc1.bias)
        seq[2].weight.copy_(model.fc2.weight); seq[2].bias.copy_(model.fc2.bias)
    errors = {}
    for label, sample in (("batched sample (1, 64)", torch.zeros(1, 64)), ("unbatched sample (64,)", torch.zeros(64))):
        try:
            export_to_nir(seq, sample)
            errors[label] = None
        except Exception as e:  # noqa: BLE001 -- we report whatever it raises
            errors[label] = f"{type(e).__name__}: {e}"
    return errors
