"""Rerun everything: teacher, the five students, NIR/ONNX export, golden outputs, the
independent numpy check, models/cases.json, models/summary.json and models/README.md.

    /opt/venv/bin/python training/train_all.py [--out models]

CPU only, a few minutes on 2 cores. Seeds are fixed.
"""
import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import nir  # noqa: E402

import common  # noqa: E402
from common import setup_torch, set_seed, load_data, check_binary_rows, spike_accuracy, DT, THRESHOLD  # noqa: E402
import trainers  # noqa: E402
from trainers import tt, log, eval_spikes  # noqa: E402
import nir_export  # noqa: E402
import nirsim  # noqa: E402

E_MAC, E_AC = 4.6e-12, 0.9e-12   # J, 45 nm fp32 (docs/energy.md section 2)


def count_params(model):
    layers = model.weight_layers()
    nw = sum(l.weight.numel() for _, l in layers)
    nb = sum(l.bias.numel() for _, l in layers if l.bias is not None)
    rows = sum(l.weight.shape[0] for _, l in layers)
    neurons = 0
    return {"binary_weights": int(nw), "weight_bits": int(nw), "per_row_scales_a_i": int(rows),
            "biases": int(nb), "total_float_equivalent_params": int(nw + nb)}


@torch.no_grad()
def op_counts(model, x, T, extra_kw=None):
    """NeuroBench-style counts, per inference (mean over the test set):
    effective synaptic ops = sum over steps and weight layers of (non-zero input, non-zero weight)
    pairs (layer rerun with binarised weights and inputs, zero bias); layers fed real-valued
    pixels count as MACs, layers fed spikes (or pooled spikes) as ACs. Dense = every element.
    ANN-equivalent MACs = dense ops of one pass of the same architecture."""
    model.eval()
    rec = {}
    model(tt(x), T, record=rec, **(extra_kw or {}))
    N = x.shape[0]
    res = {"layers": {}}
    eff_mac = eff_ac = dense = 0.0
    rates = {}
    for name, layer in model.weight_layers():
        xs = torch.stack(rec[name])            # T x N x ...
        nz = (xs != 0).float()
        ones_in = torch.ones_like(xs)
        if isinstance(layer, torch.nn.Conv2d):
            w1 = torch.ones_like(layer.weight)
            f = lambda z: F.conv2d(z.flatten(0, 1), w1, None, 1, 1).sum()
        else:
            w1 = torch.ones_like(layer.weight)
            f = lambda z: F.linear(z.reshape(-1, z.shape[-1]), w1).sum()
        e = float(f(nz)) / N
        d = float(f(ones_in)) / N
        real_valued = not bool(((xs == 0) | (xs == 1)).all())
        res["layers"][name] = {"effective_ops": e, "dense_ops": d, "kind": "MAC" if real_valued else "AC"}
        if real_valued:
            eff_mac += e
        else:
            eff_ac += e
        dense += d
    for k, v in rec.items():
        if "lif" in k:
            rates[k] = float(torch.stack(v).mean())
    res.update({"snn_effective_MACs": eff_mac, "snn_effective_ACs": eff_ac,
                "snn_synaptic_ops": eff_mac + eff_ac, "snn_dense_ops": dense,
                "ann_equivalent_MACs": dense / T, "spike_rates": rates,
                "energy_pJ_45nm_estimate": {"ann": dense / T * E_MAC * 1e12,
                                            "snn": (eff_mac * E_MAC + eff_ac * E_AC) * 1e12}})
    return res


def finish_student(name, model, T, out, xte, yte, info, rows, graph_fn, teacher_acc, note):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    spikes = eval_spikes(model, xte, T)                     # golden: snnTorch itself, float32
    np.save(os.path.join(d, "expected.npy"), spikes)
    acc = spike_accuracy(spikes.sum(1), yte)
    g = graph_fn(model, T, name)
    nir_path = os.path.join(d, f"{name}.nir")
    nir.write(nir_path, g)
    binary_ok = all(check_binary_rows(n.weight) for n in g.nodes.values() if isinstance(n, (nir.Affine, nir.Conv2d)))
    reset = "subtract-undecayed" if model.reset == "subtract" else "zero"
    sim, exact = nirsim.simulate(nir_path, xte, T, reset, dt=DT)
    diff = int((sim != spikes).sum())
    sim_acc = spike_accuracy(sim.sum(1), yte)
    # the same file simulated with the other reset: what a reset mix-up costs
    other = "zero" if reset != "zero" else "subtract-undecayed"
    sim_o, _ = nirsim.simulate(nir_path, xte, T, other, dt=DT)
    log(f"  [{name}] acc {acc:.4f}; numpy NIR check: {diff} differing spikes of {spikes.size}, "
        f"f32 sums exact {exact}; binary rows {binary_ok}")
    ops = op_counts(model, xte, T)
    entry = {
        "name": name, "files": {"nir": f"{name}/{name}.nir", "expected": f"{name}/expected.npy"},
        "dialect": {"dt": DT, "reset": reset, "fire_on_equal": False, "threshold": THRESHOLD,
                    "beta": model.beta, "tau": DT / (1 - model.beta), "input_gain": 1.0,
                    "timesteps": T, "encoding": "direct (raw pixel values 0..16 as input current every step)",
                    "decoding": "argmax of output spike counts, ties to lowest index"},
        "parameters": count_params(model), "teacher_acc": teacher_acc, "student_acc": acc,
        "training": info, "ops_per_inference": ops,
        "nir_check": {"differing_spikes": diff, "total_spikes_compared": int(spikes.size),
                      "numpy_sim_acc": sim_acc, "f32_sums_exact": exact, "binary_rows": binary_ok,
                      f"acc_if_simulated_with_{other}_reset": spike_accuracy(sim_o.sum(1), yte),
                      f"differing_spikes_with_{other}_reset": int((sim_o != spikes).sum())},
    }
    rows.append({"name": name, "model": f"{name}/{name}.nir", "inputs": "digits_test_x.npy",
                 "expected": f"{name}/expected.npy", "timesteps": T, "dt": DT, "reset": reset,
                 "fire_on_equal": False,
                 # the snntorch preset means snnTorch's default (subtract-undecayed) reset; a Leaky
                 # trained with reset_mechanism="zero" is given as plain dt/reset instead
                 "from": "snntorch" if reset == "subtract-undecayed" else None,
                 "output": "spikes", "exact": bool(exact),
                 "notes": note + f" Student accuracy {acc:.4f} (teacher {teacher_acc:.4f})."
                 + ("" if reset == "subtract-undecayed" else
                    " Trained with snnTorch Leaky(reset_mechanism='zero'), so from = null (not the snntorch preset).")})
    return entry


def train_ensemble(xtr, ytr, xte, yte, tlog, tfeat, seed, n, T=8):
    """An SNE ensemble of n students (trainers.train_ensemble_bw) and its K table: every
    subset's accuracy, logged per K and kept in the training info."""
    m, info = trainers.train_ensemble_bw(xtr, ytr, xte, yte, tlog, tfeat, T=T, seed=seed, n=n)
    ktab, subsets = trainers.ensemble_k_table(m, xte, yte, T)
    info["k_table"] = ktab
    info["subset_acc"] = subsets
    for r in ktab:
        log(f"  K={r['K']}: best {r['best_acc']:.4f} {r['best_subset']}, mean {r['mean_acc_all_subsets']:.4f}")
    return m, info


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(HERE), "models"))
    args = ap.parse_args()
    out = args.out
    os.makedirs(out, exist_ok=True)
    setup_torch()
    t_start = time.time()

    xtr, ytr, xte, yte = load_data()
    np.save(os.path.join(out, "digits_test_x.npy"), xte.astype(np.uint8))
    np.save(os.path.join(out, "digits_test_y.npy"), yte.astype(np.int64))
    log(f"data: train {xtr.shape}, test {xte.shape}")

    log("teacher")
    teacher, teacher_acc = trainers.train_teacher(xtr, ytr, xte, yte, seed=0)
    teacher.eval()
    with torch.no_grad():
        tlog = teacher(tt(xtr))
        tfeat = teacher.features(tt(xtr)).numpy()
    log(f"  teacher test acc {teacher_acc:.4f}")
    teacher_info = {"architecture": "CNN conv3x3(1->32)-ReLU-conv3x3(32->64)-ReLU-maxpool2-fc(1024->128)-ReLU-"
                                    "dropout0.2-fc(128->32)-ReLU[features]-fc(32->10)",
                    "test_acc": teacher_acc, "MACs": teacher.macs(),
                    "params": int(sum(p.numel() for p in teacher.parameters())),
                    "training": "Adam lr 2e-3 wd 1e-4, cosine, 60 epochs, batch 64, random +-1 pixel shifts, seed 0"}

    rows, students = [], {}

    log("mlp_bw")
    m, info = trainers.train_mlp_bw(xtr, ytr, xte, yte, tlog, T=8, seed=1)
    students["mlp_bw"] = finish_student(
        "mlp_bw", m, 8, out, xte, yte, info, rows, nir_export.export_mlp, teacher_acc,
        "Binary-weight MLP 64-128-10 (rows +-a_i), snnTorch Leaky beta 0.875, subtract reset "
        "(snnTorch default = subtract-undecayed), direct pixel input 0..16.")
    students["mlp_bw"]["architecture"] = "64-128-10 binary-weight LIF MLP"
    snn_export_errors = nir_export.try_snntorch_export(m)
    mlp = m

    log("conv_bw")
    m, info = trainers.train_conv_bw(xtr, ytr, xte, yte, tlog, T=8, seed=2)
    students["conv_bw"] = finish_student(
        "conv_bw", m, 8, out, xte, yte, info, rows, nir_export.export_conv, teacher_acc,
        "Binary-weight conv SNN on 1x8x8 (inputs given flattened N x 64): conv0 -> LIF, "
        "residual block with one shortcut per conv->LIF sub-mode (2nd edge into lif1 and lif2), "
        "AvgPool2d 2x2, Flatten, fc -> LIF. BatchNorm folded. Zero reset, beta 0.75.")
    students["conv_bw"]["architecture"] = ("conv3x3(1->16)-LIF, [conv3x3(16->16)-LIF]+shortcut x2, "
                                           "avgpool2-flatten-fc(256->10)-LIF")
    conv = m

    log("ensemble_bw")
    m, info = train_ensemble(xtr, ytr, xte, yte, tlog, tfeat, seed=4, n=4)
    students["ensemble_bw"] = finish_student(
        "ensemble_bw", m, 8, out, xte, yte, info, rows, nir_export.export_ensemble, teacher_acc,
        "SNE-style ensemble of 4 binary students 64-32-8 (node prefixes s0_..s3_), each with its "
        "own head slice s<k>_head (10x8, bias/4) summing into lif_out. Zero reset, beta 0.9375. "
        "Dropping a student's nodes gives the K-subset model (see summary.json k_table).")
    students["ensemble_bw"]["architecture"] = "4 x (64-32-8) binary LIF students + binary head slices (4 x 10x8) -> 10 LIF"

    log("mlp_bw_t4")
    m, info = trainers.train_mlp_bw_t4(xtr, ytr, xte, yte, tlog, seed=3)
    students["mlp_bw_t4"] = finish_student(
        "mlp_bw_t4", m, 4, out, xte, yte, info, rows, nir_export.export_mlp, teacher_acc,
        "mlp_bw-shaped binary MLP self-distilled from its own T=16 version down to T=4. "
        "Subtract reset (snnTorch default), beta 0.875.")
    students["mlp_bw_t4"]["architecture"] = "64-128-10 binary-weight LIF MLP, T=4 (self-distilled from T=16)"

    log("ensemble_bw8")
    # N = 8 students (twice ensemble_bw's); two per teacher feature slice (trainers.train_ensemble_bw)
    m, info = train_ensemble(xtr, ytr, xte, yte, tlog, tfeat, seed=6, n=8)
    students["ensemble_bw8"] = finish_student(
        "ensemble_bw8", m, 8, out, xte, yte, info, rows, nir_export.export_ensemble, teacher_acc,
        "SNE-style ensemble of 8 binary students 64-32-8 (node prefixes s0_..s7_), trained with "
        "dropout-style activation (a random subset per batch, half the batches all 8); students k "
        "and k+4 regress the same teacher feature slice. Each has its own head slice s<k>_head "
        "(10x8, bias/8) summing into lif_out. Zero reset, beta 0.9375.")
    students["ensemble_bw8"]["architecture"] = "8 x (64-32-8) binary LIF students + binary head slices (8 x 10x8) -> 10 LIF"

    log("onnx")
    import onnx_export
    onnx_info = {}
    for name, kind, mdl in (("mlp_bw", "mlp", mlp), ("conv_bw", "conv", conv)):
        p = os.path.join(out, name, f"{name}_step.onnx")
        shapes = onnx_export.export_step(kind, mdl, p)
        golden = np.load(os.path.join(out, name, "expected.npy"))
        got = onnx_export.run_onnx(p, xte, 8, shapes)
        d = int((got != golden).sum())
        onnx_info[name] = {"file": f"{name}/{name}_step.onnx", "opset": onnx_export.OPSET,
                           "inputs": ["x"] + [f"mem{i}" for i in range(len(shapes))],
                           "outputs": ["spk_out"] + [f"mem{i}_next" for i in range(len(shapes))],
                           "state_shapes": [list(s) for s in shapes],
                           "onnxruntime_loop_differing_spikes": d}
        log(f"  {name}: onnxruntime loop over T=8: {d} differing spikes")
        if name == "mlp_bw":
            q = os.path.join(out, name, f"{name}_step.qonnx.onnx")
            try:
                nq = onnx_export.make_qonnx(p, q)
                gq = onnx_export.run_onnx(q, xte, 8, shapes, executor="qonnx")
                dq = int((gq != golden).sum())
                onnx_info[name]["qonnx"] = {"file": f"{name}/{name}_step.qonnx.onnx", "bipolarquant_nodes": nq,
                                            "domain": "qonnx.custom_op.general",
                                            "qonnx_execute_onnx_differing_spikes": dq}
                log(f"  {name}: QONNX BipolarQuant file ({nq} nodes), qonnx execute_onnx: {dq} differing spikes")
            except Exception as e:  # noqa: BLE001
                onnx_info[name]["qonnx_error"] = f"{type(e).__name__}: {e}"
                log("  QONNX failed:", e)

    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump(rows, f, indent=2)
    summary = {
        "data": {"dataset": "sklearn.datasets.load_digits (8x8, pixel values 0..16)",
                 "split": "train_test_split(test_size=0.25, random_state=0, stratify=y)",
                 "n_train": int(len(xtr)), "n_test": int(len(xte)),
                 "test_inputs": "digits_test_x.npy (uint8, N x 64)", "test_labels": "digits_test_y.npy (int64, N)"},
        "distillation": {"loss": "alpha*T^2*KL(softmax(teacher/T)||softmax(student/T)) + (1-alpha)*CE(student, y)",
                         "T": trainers.KD_T, "alpha": trainers.KD_ALPHA,
                         "student_logits": f"{trainers.LOGIT_SCALE} x output spike counts over the T steps"},
        "binarization": "W_b[i,:] = a_i*sign(W[i,:]), a_i = mean|W[i,:]| per output row/channel, clipped STE; "
                        "a_i and biases on a per-layer power-of-two grid q (max a_i/q in [128,256)) so float32 sums are exact",
        "teacher": teacher_info,
        "students": students,
        "onnx": onnx_info,
        "snntorch_export_to_nir_errors": snn_export_errors,
        "versions": {"torch": torch.__version__, "snntorch": __import__("snntorch").__version__,
                     "nir": nir.__version__ if hasattr(nir, "__version__") else "1.0.8", "numpy": np.__version__},
        "runtime_seconds": round(time.time() - t_start, 1),
    }
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    import report
    report.write_readme(out, summary)
    log(f"done in {time.time() - t_start:.0f}s")


if __name__ == "__main__":
    main()
