#!/usr/bin/env python3
"""Ground-truth fixtures: run small spiking MLPs in each framework and export them to NIR.

Every fixture: input 12 -> Affine 16 -> neuron -> Affine 4 -> neuron, direct input encoding
(the same input vector applied as current at every step), N = 32 samples, T = 10 (T != 12 so
that Sinabs's Input shape [T, 12] is unambiguous).  The framework's own forward pass (float32,
CPU) gives expected.npy (N x T x 4, uint8); the framework's exporter writes model.nir where it
works (FINDINGS.md lists the workarounds).  Seeded and deterministic (PYTHONHASHSEED is pinned
because nirtorch writes edges in hash order): two runs give byte-identical files.

Writes tests/data/frameworks/<framework>/<fixture>/{model.nir,inputs.npy,expected.npy},
tests/data/frameworks/cases.json (snntorch, spikingjelly, norse, sinabs),
tests/data/frameworks/rockpool/cases.json, and training/frameworks/results.json (spike
differences of nir_numpy_sim.py under dialect variants, export logs, file dumps).

Needs (in /opt/venv): torch, snntorch, spikingjelly, norse, sinabs, rockpool, nir 1.0.8,
nirtorch 2.6.  Uninstall samna (pulled in by sinabs): its PyPI stub tries to pip-install from a
non-PyPI index when imported (rockpool imports it).

Usage:  /opt/venv/bin/python training/frameworks/make_fixtures.py [--only NAME ...]
        (NAME: a framework, e.g. norse, or a case, e.g. norse_lif)

Files written by nir 1.0.4 (the version sinabs 3.1.3 pins: all Sinabs model.nir files and
norse/lif/model_nir104.nir) need $NIR104 (default /tmp/nir104) to hold
`pip install --no-deps --target $NIR104 nir==1.0.4 nirtorch==2.0.2`; the export then runs in a
subprocess with PYTHONPATH=$NIR104.  Without it, those files are written by the main nir.
"""
import argparse
import copy
import importlib.metadata as md
import json
import os
import subprocess
import sys
import traceback
import warnings

import numpy as np
import torch

warnings.filterwarnings("ignore")

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(REPO, "tests", "data", "frameworks")
sys.path.insert(0, HERE)

N, NIN, NH, NOUT, T = 32, 12, 16, 4, 10
GAINS = [0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0, 48.0, 64.0, 96.0, 128.0, 192.0, 256.0]
RATE_LO, RATE_HI, TARGET_RATE = 0.05, 0.50, 0.2


# ----------------------------------------------------------------------------- common
def make_inputs(seed):
    rng = np.random.default_rng(seed)
    # multiples of 1/4 in [0, 1]: exact in float32, so dyadic models compute exactly
    return (np.round(rng.uniform(0, 1, (N, NIN)) * 4) / 4).astype(np.float32)


def base_weights(seed):
    rng = np.random.default_rng(seed)
    b1 = 1 / np.sqrt(NIN)
    b2 = 1 / np.sqrt(NH)
    return dict(
        w1=rng.uniform(-b1, b1, (NH, NIN)), b1=rng.uniform(-b1, b1, NH),
        w2=rng.uniform(-b2, b2, (NOUT, NH)), b2=rng.uniform(-b2, b2, NOUT))


def scaled(base, g1, g2, quant):
    """quant: round weights/biases to multiples of 1/8 (dyadic: exact sums in f32, and
    coarse enough that v == threshold happens, which separates '>' from '>=')."""
    w = {}
    for k, v in base.items():
        v = v * (g1 if k.endswith("1") else g2)
        if quant:
            v = np.round(v * 8) / 8
        w[k] = v.astype(np.float32)
    return w


def tune(spec, base, x):
    """Gains (from GAINS) whose hidden, then output, spike rate is closest to TARGET_RATE;
    asserts the rates lie in [RATE_LO, RATE_HI]."""
    def rate(g1, g2, layer):
        h, o = spec["forward"](spec["build"](scaled(base, g1, g2, spec["quant"])), x)
        return float(((h if layer == 0 else o) > 0).mean())
    gains = spec.get("gains", GAINS)
    g1 = min(gains, key=lambda g: abs(rate(g, 1.0, 0) - TARGET_RATE))
    g2 = min(gains, key=lambda g: abs(rate(g1, g, 1) - TARGET_RATE))
    for layer in (0, 1):
        r = rate(g1, g2, layer)
        assert RATE_LO <= r <= RATE_HI, (spec["name"], layer, r)
    return g1, g2


def lin(w, b):
    m = torch.nn.Linear(w.shape[1], w.shape[0])
    with torch.no_grad():
        m.weight.copy_(torch.from_numpy(w))
        m.bias.copy_(torch.from_numpy(b))
    return m


def scalars_to_arrays(graph):
    """nir 1.0.8 cannot write 0-d datasets ("Scalar datasets don't support chunk/filter
    options"): the minimal user fix, np.atleast_1d on every parameter (shape (1,))."""
    import nir
    for node in graph.nodes.values():
        if isinstance(node, nir.NIRGraph):
            scalars_to_arrays(node)
            continue
        for k, v in list(vars(node).items()):
            if isinstance(v, torch.Tensor):
                v = v.detach().cpu().numpy()
                setattr(node, k, v)
            if isinstance(v, np.ndarray) and v.ndim == 0 and k not in ("input_type", "output_type"):
                setattr(node, k, np.atleast_1d(v))
    return graph


def _nir_writes_0d_fails():
    """nir >= 1.0.5 passes compression options to every ndarray dataset, which h5py refuses
    for 0-d arrays; nir 1.0.4 writes them as scalar datasets."""
    import nir
    from packaging.version import Version
    return Version(nir.__version__) > Version("1.0.4")


def hook_outputs(module, store):
    def h(_m, _i, out):
        store.append((out[0] if isinstance(out, tuple) else out).detach().clone())
    return module.register_forward_hook(h)


# ----------------------------------------------------------------------------- snnTorch
def snntorch_specs():
    import snntorch as snn
    from snntorch.export_nir import export_to_nir
    import nir

    def build_factory(beta1, beta2, reset, thr_vec):
        def build(w):
            t1 = torch.ones(NH) if thr_vec else 1.0
            t2 = torch.ones(NOUT) if thr_vec else 1.0
            return torch.nn.Sequential(
                lin(w["w1"], w["b1"]),
                snn.Leaky(beta=beta1, threshold=t1, init_hidden=True, reset_mechanism=reset),
                lin(w["w2"], w["b2"]),
                snn.Leaky(beta=beta2, threshold=t2, init_hidden=True, output=True,
                          reset_mechanism=reset))
        return build

    def forward(net, x):
        for m in net:
            if isinstance(m, snn.Leaky):
                m.mem = torch.zeros(0)  # fresh state (shape mismatch -> zeros)
        hid, outs = [], []
        hk = hook_outputs(net[1], hid)
        xt = torch.from_numpy(x)
        with torch.no_grad():
            for _ in range(T):
                spk, _mem = net(xt)
                outs.append(spk.clone())
        hk.remove()
        return torch.stack(hid, 1).numpy(), torch.stack(outs, 1).numpy()

    def manual_nir(net, path):
        """What users do when export_to_nir fails: the exporter's Leaky mapping, by hand."""
        dt = 1e-4
        nodes, edges = {"input": nir.Input(input_type={"input": np.array([NIN])})}, []
        prev = "input"
        for i, m in enumerate(net):
            name = str(i)
            if isinstance(m, torch.nn.Linear):
                nodes[name] = nir.Affine(weight=m.weight.detach().numpy(),
                                         bias=m.bias.detach().numpy())
                n = m.weight.shape[0]
            else:
                beta = np.full(n, m.beta.detach().numpy(), dtype=np.float32)
                vthr = np.full(n, m.threshold.detach().numpy(), dtype=np.float32)
                tau = dt / (1 - beta)
                nodes[name] = nir.LIF(tau=tau, r=tau / dt, v_leak=np.zeros_like(beta),
                                      v_threshold=vthr, v_reset=np.zeros_like(vthr))
            edges.append((prev, name))
            prev = name
        nodes["output"] = nir.Output(output_type={"output": np.array([NOUT])})
        edges.append((prev, "output"))
        g = nir.NIRGraph(nodes=nodes, edges=edges)
        nir.write(path, g)
        return "built with nir.NIRGraph (exporter mapping by hand, dt = 1e-4)"

    def export_subtract(net, path):
        log = []
        try:
            export_to_nir(copy.deepcopy(net), torch.zeros(1, NIN))
            log.append("export_to_nir(net, x[1,12]) unexpectedly worked")
        except Exception as e:
            log.append(f"export_to_nir(net, torch.zeros(1,12)) -> {type(e).__name__}: {e}")
        try:
            export_to_nir(copy.deepcopy(net), torch.zeros(1, NIN), ignore_dims=[0])
            log.append("export_to_nir(..., ignore_dims=[0]) unexpectedly worked")
        except Exception as e:
            log.append(f"export_to_nir(net, torch.zeros(1,12), ignore_dims=[0]) -> "
                       f"{type(e).__name__}: {e}")
        log.append(manual_nir(net, path))
        return log

    def export_zero(net, path):
        log = []
        try:
            export_to_nir(copy.deepcopy(net), torch.zeros(1, NIN))
            log.append("export_to_nir without ignore_dims unexpectedly worked")
        except Exception as e:
            log.append(f"export_to_nir(net, torch.zeros(1,12)) -> {type(e).__name__}: {e}")
        g = export_to_nir(copy.deepcopy(net), torch.zeros(1, NIN), ignore_dims=[0])
        nir.write(path, g)
        log.append("export_to_nir(net, torch.zeros(1,12), ignore_dims=[0]) OK "
                   "(per-neuron beta and threshold tensors)")
        return log

    rng = np.random.default_rng(7)
    beta_h = torch.from_numpy(rng.choice([0.5, 0.75, 0.875], NH).astype(np.float32))
    beta_o = torch.from_numpy(rng.choice([0.5, 0.75, 0.875], NOUT).astype(np.float32))
    ver = md.version("snntorch")
    return [
        dict(framework="snntorch", name="subtract", seed=11, quant=False,
             build=build_factory(0.9, 0.9, "subtract", False), forward=forward,
             export=export_subtract,
             dialect=dict(dt=1e-4, reset="subtract-undecayed", fire_on_equal=False),
             naive=dict(dt=1e-4, reset="zero", fire_on_equal=False),
             notes=f"snntorch {ver} Leaky(beta=0.9 scalar, threshold=1, reset_mechanism="
                   "'subtract' default, reset_delay=True); export_to_nir fails on this model, "
                   "NIR built by hand with the exporter's mapping (tau=dt/(1-beta), r=tau/dt, "
                   "dt=1e-4)"),
        dict(framework="snntorch", name="zero", seed=12, quant=True,
             build=build_factory(beta_h, beta_o, "zero", True), forward=forward,
             export=export_zero,
             dialect=dict(dt=1e-4, reset="zero", fire_on_equal=False),
             naive=dict(dt=1e-4, reset="zero", fire_on_equal=False),
             notes=f"snntorch {ver} Leaky(per-neuron beta in {{0.5,0.75,0.875}}, per-neuron "
                   "threshold 1, reset_mechanism='zero'); snntorch.export_to_nir(net, x, "
                   "ignore_dims=[0]); dyadic weights/inputs so v == threshold ties occur "
                   "(tests '>'); tau was computed in float32 from float32(1e-4): a float64 simulator "
                   "must round dt to float32 (or simulate in float32) or ties break (87 spikes)"),
    ]


# ----------------------------------------------------------------------------- SpikingJelly
def spikingjelly_specs():
    from spikingjelly.activation_based import functional, neuron
    from spikingjelly.activation_based.nir_exchange import export_to_nir

    def build_factory(tau, v_reset, decay_input):
        def build(w):
            return torch.nn.Sequential(
                lin(w["w1"], w["b1"]),
                neuron.LIFNode(tau=tau, decay_input=decay_input, v_reset=v_reset,
                               step_mode="s"),
                lin(w["w2"], w["b2"]),
                neuron.LIFNode(tau=tau, decay_input=decay_input, v_reset=v_reset,
                               step_mode="s"))
        return build

    def forward(net, x):
        functional.reset_net(net)
        hid, outs = [], []
        hk = hook_outputs(net[1], hid)
        xt = torch.from_numpy(x)
        with torch.no_grad():
            for _ in range(T):
                outs.append(net(xt).clone())
        hk.remove()
        functional.reset_net(net)
        return torch.stack(hid, 1).numpy(), torch.stack(outs, 1).numpy()

    def export_hard(net, path):
        import nir
        g = export_to_nir(net, torch.zeros(1, NIN), dt=1e-4)
        nir.write(path, g)
        functional.reset_net(net)
        return ["spikingjelly.activation_based.nir_exchange.export_to_nir(net, "
                "torch.zeros(1,12), dt=1e-4) OK"]

    def export_soft(net, path):
        import nir
        log = []
        try:
            export_to_nir(net, torch.zeros(1, NIN), dt=1e-4)
            log.append("export_to_nir on soft reset unexpectedly worked")
        except Exception as e:
            log.append(f"export_to_nir(net, x, dt=1e-4) -> {type(e).__name__}: {e}")
        net2 = copy.deepcopy(net)
        for m in net2:
            if isinstance(m, neuron.LIFNode):
                m.v_reset = 0.0
        g = export_to_nir(net2, torch.zeros(1, NIN), dt=1e-4)
        nir.write(path, g)
        log.append("workaround: deep copy with every LIFNode.v_reset = 0.0, then "
                   "export_to_nir(copy, x, dt=1e-4): the file says hard reset to 0")
        return log

    ver = md.version("spikingjelly")
    return [
        dict(framework="spikingjelly", name="hard", seed=21, quant=True,
             build=build_factory(2.0, 0.0, True), forward=forward, export=export_hard,
             dialect=dict(dt=1e-4, reset="zero", fire_on_equal=True),
             naive=dict(dt=1e-4, reset="zero", fire_on_equal=False),
             notes=f"spikingjelly {ver} LIFNode(tau=2, decay_input=True, v_reset=0, "
                   "step_mode='s'); export_to_nir(dt=1e-4); dyadic weights/inputs: v == "
                   "threshold ties occur (tests '>=')"),
        dict(framework="spikingjelly", name="soft", seed=22, quant=True,
             build=build_factory(4.0, None, True), forward=forward, export=export_soft,
             dialect=dict(dt=1e-4, reset="subtract", fire_on_equal=True),
             naive=dict(dt=1e-4, reset="zero", fire_on_equal=False),
             notes=f"spikingjelly {ver} LIFNode(tau=4, decay_input=True, v_reset=None = soft "
                   "reset); export_to_nir refuses soft reset, file written from a copy with "
                   "v_reset=0 (says hard reset); dyadic: ties occur"),
        dict(framework="spikingjelly", name="hard_nodecay", seed=23, quant=True,
             build=build_factory(2.0, 0.0, False), forward=forward, export=export_hard,
             dialect=dict(dt=1e-4, reset="zero", fire_on_equal=True),
             naive=dict(dt=1e-4, reset="zero", fire_on_equal=False),
             notes=f"spikingjelly {ver} LIFNode(tau=2, decay_input=False, v_reset=0); "
                   "export_to_nir(dt=1e-4) writes r = tau (steps); dyadic: ties occur"),
    ]


# ----------------------------------------------------------------------------- Norse
NORSE_DT = {"lifbox": 1e-3, "lif": 1e-3, "lifbox_dyadic": 2.0 ** -10}


def norse_build_factory(kind):
    def build(w):
        import norse.torch as norse
        if kind == "lifbox":
            cells = [norse.LIFBoxCell(), norse.LIFBoxCell()]
        elif kind == "lif":
            cells = [norse.LIFCell(), norse.LIFCell()]
        elif kind == "lifbox_dyadic":
            # dt = 2^-10 s, tau_mem_inv = 512/s: dt * tau_mem_inv = 1/2 exactly
            p = norse.LIFBoxParameters(tau_mem_inv=torch.tensor(512.0))
            cells = [norse.LIFBoxCell(p, dt=NORSE_DT[kind]), norse.LIFBoxCell(p, dt=NORSE_DT[kind])]
        net = norse.SequentialState(lin(w["w1"], w["b1"]), cells[0], lin(w["w2"], w["b2"]), cells[1])
        net.nir_dt = NORSE_DT[kind]
        return net
    return build


def norse_export(net, path):
    import nir
    import norse.torch as norse
    dt = net.nir_dt
    g = norse.to_nir(net, torch.zeros(1, NIN), dt=dt)
    call = f"norse.to_nir(net, torch.zeros(1,12){'' if dt == 1e-3 else f', dt={dt!r}'})"
    if _nir_writes_0d_fails():
        try:
            nir.write(path, g)
            return ["nir.write unexpectedly accepted 0-d tensors"]
        except Exception as e:
            msg = f"{call} OK; nir {nir.__version__} nir.write -> {type(e).__name__}: {e}"
        nir.write(path, scalars_to_arrays(g))
        return [msg, "workaround: every 0-d parameter made a shape-(1,) array (np.atleast_1d)"]
    nir.write(path, g)
    return [f"{call} + nir {nir.__version__} nir.write OK (0-d datasets, no v_reset)"]


def norse_specs():
    def forward(net, x):
        hid, outs = [], []
        xt = torch.from_numpy(x)
        s = [None] * 4
        with torch.no_grad():
            for _ in range(T):
                h = net[0](xt)
                z1, s[1] = net[1](h, s[1])
                o = net[2](z1)
                z2, s[3] = net[3](o, s[3])
                hid.append(z1)
                outs.append(z2)
            # the same through SequentialState itself (must agree)
            st, outs2 = None, []
            for _ in range(T):
                z, st = net(xt, st)
                outs2.append(z)
        assert torch.equal(torch.stack(outs), torch.stack(outs2))
        return torch.stack(hid, 1).numpy(), torch.stack(outs, 1).numpy()

    ver = md.version("norse")
    return [
        dict(framework="norse", name="lifbox", seed=31, quant=False,
             build=norse_build_factory("lifbox"), forward=forward, export=norse_export,
             nir104=False,
             dialect=dict(dt=1e-6, reset="zero", fire_on_equal=False),
             naive=dict(dt=1e-3, reset="zero", fire_on_equal=False),
             notes=f"norse {ver} LIFBoxCell() defaults (tau_mem_inv=100, dt=1e-3, v_th=1, "
                   "reset to v_reset=0) -> LIF with tau = dt/tau_mem_inv = 1e-5; reproduces "
                   "only with dt = 1e-6 (= dt^2)"),
        dict(framework="norse", name="lifbox_dyadic", seed=33, quant=True,
             build=norse_build_factory("lifbox_dyadic"), forward=forward, export=norse_export,
             nir104=False,
             dialect=dict(dt=2.0 ** -20, reset="zero", fire_on_equal=False),
             naive=dict(dt=2.0 ** -10, reset="zero", fire_on_equal=False),
             notes=f"norse {ver} LIFBoxCell(tau_mem_inv=512, dt=2^-10), to_nir(dt=2^-10): "
                   "tau = 2^-19; reproduces with dt = 2^-20 (= dt^2); dyadic: v == threshold "
                   "ties occur (tests '>')"),
        dict(framework="norse", name="lif", seed=32, quant=False,
             build=norse_build_factory("lif"), forward=forward, export=norse_export,
             nir104="extra",
             dialect=dict(dt=1e-6, reset="zero", fire_on_equal=False, cuba_input="unit"),
             naive=dict(dt=1e-3, reset="zero", fire_on_equal=False),
             notes=f"norse {ver} LIFCell() defaults (tau_syn_inv=200, tau_mem_inv=100, "
                   "dt=1e-3) -> CubaLIF (tau = dt/tau_inv, r=1, w_in=1); needs dt = 1e-6 and "
                   "the synaptic current to jump by the full input (cuba_input='unit')"),
    ]


# ----------------------------------------------------------------------------- Sinabs
def sinabs_build_factory(kind):
    def build(w):
        import sinabs.layers as sl
        from sinabs.activation import MembraneReset, MembraneSubtract, MultiSpike, SingleSpike
        if kind == "lif":
            mk = lambda: sl.LIF(tau_mem=5.0, spike_fn=SingleSpike, reset_fn=MembraneSubtract())
        elif kind == "iaf_zero":
            mk = lambda: sl.IAF(spike_fn=SingleSpike, reset_fn=MembraneReset())
        elif kind == "iaf_multispike":
            mk = lambda: sl.IAF()  # defaults: MultiSpike, MembraneSubtract
        return torch.nn.Sequential(lin(w["w1"], w["b1"]), mk(), lin(w["w2"], w["b2"]), mk())
    return build


def sinabs_export(net, path):
    import nir
    import sinabs
    sinabs.reset_states(net)
    g = sinabs.to_nir(net, torch.zeros(1, T, NIN))
    sinabs.reset_states(net)
    if _nir_writes_0d_fails():
        try:
            nir.write(path, g)
            return [f"sinabs.to_nir(net, torch.zeros(1,T,12)) + nir {nir.__version__} "
                    "nir.write OK"]
        except Exception as e:
            msg = f"sinabs.to_nir(net, torch.zeros(1,T,12)) OK; nir {nir.__version__} " \
                  f"nir.write -> {type(e).__name__}: {e}"
        nir.write(path, scalars_to_arrays(g))
        return [msg, "workaround: every 0-d parameter made a shape-(1,) array (np.atleast_1d)"]
    nir.write(path, g)
    return [f"sinabs.to_nir(net, torch.zeros(1,T,12)) + nir {nir.__version__} nir.write OK"]


def sinabs_specs():
    import sinabs

    def forward(net, x):
        sinabs.reset_states(net)
        hid = []
        hk = hook_outputs(net[1], hid)
        xt = torch.from_numpy(x)[:, None, :].repeat(1, T, 1)  # (N, T, 12)
        with torch.no_grad():
            out = net(xt)
        hk.remove()
        sinabs.reset_states(net)
        return hid[0].numpy(), out.numpy()

    ver = md.version("sinabs")
    return [
        dict(framework="sinabs", name="lif", seed=41, quant=False,
             build=sinabs_build_factory("lif"), forward=forward, export=sinabs_export,
             nir104="primary",
             dialect=dict(dt=1.0, reset="subtract", fire_on_equal=True, integration="exact"),
             naive=dict(dt=1.0, reset="zero", fire_on_equal=False),
             notes=f"sinabs {ver} LIF(tau_mem=5, SingleSpike, MembraneSubtract, norm_input="
                   "True): v = exp(-1/tau) v + (1-exp(-1/tau)) I; needs dt=1, subtract, '>=' "
                   "and exact (exponential) integration"),
        dict(framework="sinabs", name="iaf_zero", seed=42, quant=True,
             build=sinabs_build_factory("iaf_zero"), forward=forward, export=sinabs_export,
             nir104="primary",
             dialect=dict(dt=1.0, reset="zero", fire_on_equal=True),
             naive=dict(dt=1.0, reset="zero", fire_on_equal=False),
             notes=f"sinabs {ver} IAF(SingleSpike, MembraneReset(0)) -> IF(r=1); dyadic: ties "
                   "occur (tests '>=')"),
        dict(framework="sinabs", name="iaf_multispike", seed=43, quant=True,
             build=sinabs_build_factory("iaf_multispike"), forward=forward,
             export=sinabs_export, nir104="primary",
             dialect=dict(dt=1.0, reset="subtract", fire_on_equal=True, multi_spike=True),
             naive=dict(dt=1.0, reset="zero", fire_on_equal=False),
             notes=f"sinabs {ver} IAF() defaults (MultiSpike, MembraneSubtract) -> IF(r=1); "
                   "outputs are spike COUNTS per step (uint8, can be > 1); needs multi_spike"),
    ]


# ----------------------------------------------------------------------------- Rockpool
def rockpool_specs():
    from rockpool.nn.combinators import Sequential
    from rockpool.nn.modules import LIFTorch, LinearTorch
    from rockpool.nn.modules.torch.nir import to_nir

    def build(w):
        def layer(wk, bk):
            return LinearTorch(w[wk].T.shape, weight=torch.from_numpy(w[wk].T.copy()),
                               bias=torch.from_numpy(w[bk]), has_bias=True)
        # defaults: dt = 1e-3, max_spikes_per_dt = 2^16 (multi-spike), subtractive reset
        return Sequential(layer("w1", "b1"), LIFTorch(NH, tau_mem=0.02, tau_syn=0.005),
                          layer("w2", "b2"), LIFTorch(NOUT, tau_mem=0.02, tau_syn=0.005))

    def forward(net, x):
        net.reset_state()
        xt = torch.from_numpy(x)[:, None, :].repeat(1, T, 1)
        with torch.no_grad():
            out, _, rec = net(xt, record=True)
        net.reset_state()
        return rec["1_LIFTorch_output"].numpy(), out.numpy()

    def export(net, path):
        import nir
        g = to_nir(net, torch.zeros(1, NIN))
        nir.write(path, g)
        return ["rockpool.nn.modules.torch.nir.to_nir(net, torch.zeros(1,12)) + nir.write OK"]

    ver = md.version("rockpool")
    return [
        dict(framework="rockpool", name="lif", seed=51, quant=False, build=build,
             gains=[0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0],  # multi-spike counts stay small
             forward=forward, export=export,
             dialect=dict(dt=1e-3, reset="subtract", fire_on_equal=True, integration="exact",
                          cuba_input="unit-decayed", membrane_gain="unit", multi_spike=True),
             naive=dict(dt=1e-3, reset="zero", fire_on_equal=False),
             notes=f"rockpool {ver} LIFTorch(tau_mem=20ms, tau_syn=5ms, dt=1ms) defaults "
                   "(multi-spike, subtract) -> CubaLIF(r = tau_mem*exp(-dt/tau_mem)/dt); "
                   "reproduced only by a Rockpool-specific rule: i = exp(-dt/tau_syn)*(i + I), "
                   "v = exp(-dt/tau_mem)*v + i (r ignored), s = floor(v/thr) if v >= thr"),
    ]


# ----------------------------------------------------------------------------- driver
def variants_for(spec):
    d = spec["dialect"]
    v = {"naive": spec["naive"]}
    v["fire '>'" if d["fire_on_equal"] else "fire '>='"] = {"fire_on_equal": not d["fire_on_equal"]}
    for r in ("zero", "subtract", "subtract-undecayed"):
        if r != d["reset"]:
            v[f"reset {r}"] = {"reset": r}
    for dt in (1e-3, 1e-4, 1e-6, 1.0):
        if dt != d["dt"]:
            v[f"dt {dt:g}"] = {"dt": dt}
    if d.get("integration", "euler") == "exact":
        v["integration euler"] = {"integration": "euler"}
    elif spec["framework"] in ("sinabs",):
        v["integration exact"] = {"integration": "exact"}
    if d.get("cuba_input") in ("unit", "unit-decayed"):
        v["cuba_input scaled"] = {"cuba_input": "scaled"}
    if d.get("cuba_input") == "unit-decayed":
        v["cuba_input unit"] = {"cuba_input": "unit"}
    if d.get("membrane_gain") == "unit":
        v["membrane_gain nir"] = {"membrane_gain": "nir"}
        v["cuba_input unit + membrane_gain nir"] = {"cuba_input": "unit",
                                                     "membrane_gain": "nir"}
    if d.get("multi_spike"):
        v["single spike"] = {"multi_spike": False}
        v["single spike, zero, '>'"] = {"multi_spike": False, "reset": "zero",
                                       "fire_on_equal": False}
    return v


def nir104_export(spec, w, path):
    nir104 = os.environ.get("NIR104", "/tmp/nir104")
    if not os.path.isdir(os.path.join(nir104, "nir")):
        return None, [f"skipped: {nir104} has no nir 1.0.4"]
    wpath = path + ".weights.npz"
    np.savez(wpath, **w)
    env = dict(os.environ, PYTHONPATH=nir104)
    r = subprocess.run([sys.executable, __file__, "--export-nir104", spec["framework"],
                        spec["name"], wpath, path], env=env, capture_output=True, text=True)
    os.remove(wpath)
    if r.returncode != 0:
        return None, [f"nir104 export failed: {r.stderr[-2000:]}"]
    return path, [l for l in r.stdout.splitlines() if l.strip()]


def all_specs(only=None):
    out = []
    for fn in (snntorch_specs, spikingjelly_specs, norse_specs, sinabs_specs, rockpool_specs):
        try:
            out += fn()
        except Exception as e:  # an uninstalled framework must not stop the others
            print(f"{fn.__name__}: {type(e).__name__}: {e}")
            traceback.print_exc()
    if only:
        out = [s for s in out if f"{s['framework']}_{s['name']}" in only or s["framework"] in only]
    return out


def main():
    # nirtorch's extract_nir_graph (snnTorch, Norse, Sinabs, Rockpool exporters) emits the
    # edges in set order, i.e. in string-hash order: pin the hash seed so files are
    # byte-for-byte reproducible.
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable] + sys.argv)
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--export-nir104", nargs=4, metavar=("FW", "NAME", "WEIGHTS", "OUT"))
    a = ap.parse_args()

    if a.export_nir104:
        fw, name, wpath, out = a.export_nir104
        import nir
        w = dict(np.load(wpath))
        kind = name
        build = norse_build_factory(kind) if fw == "norse" else sinabs_build_factory(kind)
        net = build(w)
        log = norse_export(net, out) if fw == "norse" else sinabs_export(net, out)
        print(f"nir {nir.__version__}, nirtorch {md.version('nirtorch')}: " + "; ".join(log))
        return

    import nir_numpy_sim as sim
    torch.manual_seed(0)
    os.makedirs(OUT, exist_ok=True)
    manifest_path = os.path.join(OUT, "cases.json")
    cases, results = [], {}
    if a.only and os.path.exists(manifest_path):
        keep = {f"{s['framework']}_{s['name']}" for s in all_specs(a.only)}
        cases = [c for c in json.load(open(manifest_path))
                 if not any(c["name"].startswith(k) for k in keep)]
        rp = os.path.join(HERE, "results.json")
        if os.path.exists(rp):
            results = {k: v for k, v in json.load(open(rp)).items()
                       if not any(k.startswith(kk) for kk in keep)}
    for spec in all_specs(a.only):
        cname = f"{spec['framework']}_{spec['name']}"
        d = os.path.join(OUT, spec["framework"], spec["name"])
        os.makedirs(d, exist_ok=True)
        x = make_inputs(spec["seed"])
        base = base_weights(spec["seed"])
        g1, g2 = tune(spec, base, x)
        w = scaled(base, g1, g2, spec["quant"])
        net = spec["build"](w)
        hid, out = spec["forward"](net, x)
        # determinism: a rebuilt model gives the same spikes
        hid2, out2 = spec["forward"](spec["build"](w), x)
        assert np.array_equal(out, out2) and np.array_equal(hid, hid2)
        assert out.min() >= 0 and out.max() <= 255 and np.all(out == np.round(out))  # uint8
        np.save(os.path.join(d, "inputs.npy"), x)
        np.save(os.path.join(d, "expected.npy"), out.astype(np.uint8))
        mode104 = spec.get("nir104", False)
        log = None
        if mode104 == "primary":
            # the nir version the framework pins writes model.nir (falls back below)
            p104, log104 = nir104_export(spec, w, os.path.join(d, "model.nir"))
            if p104:
                log = [l for l in log104]
                spec["notes"] += "; model.nir written by nir 1.0.4 (pinned by sinabs 3.1.3: " \
                                 "nir<=1.0.4): 0-d datasets where the exporter gave 0-d tensors, no v_reset"
            else:
                print("    nir 1.0.4 not available, writing with the main environment: " + "; ".join(log104))
        if log is None:
            log = spec["export"](net, os.path.join(d, "model.nir"))
        # the export must not have changed what the model computes
        _, out3 = spec["forward"](net, x)
        assert np.array_equal(out, out3)
        rel = lambda p: os.path.relpath(p, OUT)
        case = {"name": cname, "model": rel(os.path.join(d, "model.nir")),
                "inputs": rel(os.path.join(d, "inputs.npy")),
                "expected": rel(os.path.join(d, "expected.npy")), "timesteps": T}
        case.update(spec["dialect"])
        case.update({"from": spec["framework"], "output": "spikes", "exact": spec["quant"],
                     "notes": spec["notes"]})
        new_cases = [case]
        if mode104 == "extra":
            p104, log104 = nir104_export(spec, w, os.path.join(d, "model_nir104.nir"))
            log += ["nir 1.0.4 file: " + l for l in log104]
            if p104:
                c2 = dict(case, name=cname + "_nir104", model=rel(p104),
                          notes=case["notes"] + "; file written by nir 1.0.4 (the version "
                          "sinabs pins): 0-d datasets, no v_reset")
                new_cases.append(c2)
        info = {"gains": [g1, g2], "hidden_rate": float((hid > 0).mean()),
                "output_rate": float((out > 0).mean()), "output_spikes": int(out.sum()),
                "max_count": int(out.max()), "hidden_max_count": int(hid.max()),
                "export_log": log, "variants": {}}
        for c in new_cases:
            cases.append(c)
            info_c = dict(info, variants={}, file=sim.describe(os.path.join(OUT, c["model"])))
            base_d = sim.case_dialect(c)
            for dtype in ("float32", "float64"):
                diff, tot, ties = sim.run_case(OUT, c, base_d, dtype)
                info_c[f"chosen_{dtype}"] = {"diff": diff, "ties": ties}
            for label, alt in variants_for(spec).items():
                dd = dict(base_d)
                dd.update(alt)
                info_c["variants"][label] = {
                    dtype: sim.run_case(OUT, c, dd, dtype)[0] for dtype in ("float32", "float64")}
            results[c["name"]] = info_c
            print(f"{c['name']:30s} gains {g1},{g2} rates hid {info['hidden_rate']:.2f} "
                  f"out {info['output_rate']:.2f} spikes {info['output_spikes']} | chosen "
                  f"f32 {info_c['chosen_float32']} f64 {info_c['chosen_float64']} | naive "
                  f"{info_c['variants']['naive']}")
            for l in log:
                print("    " + l[:300])
    order = ["snntorch", "spikingjelly", "norse", "sinabs"]
    main_cases = [c for c in cases if c["from"] in order]
    main_cases.sort(key=lambda c: (order.index(c["from"]), c["name"]))
    with open(manifest_path, "w") as f:
        json.dump(main_cases, f, indent=2)
        f.write("\n")
    # frameworks without a spikefab preset get their own manifest beside their files
    for fw in sorted({c["from"] for c in cases} - set(order)):
        sub = []
        for c in cases:
            if c["from"] == fw:
                c = dict(c)
                for k in ("model", "inputs", "expected"):
                    c[k] = os.path.relpath(os.path.join(OUT, c[k]), os.path.join(OUT, fw))
                sub.append(c)
        with open(os.path.join(OUT, fw, "cases.json"), "w") as f:
            json.dump(sub, f, indent=2)
            f.write("\n")
    with open(os.path.join(HERE, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
