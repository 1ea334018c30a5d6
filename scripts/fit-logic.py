#!/usr/bin/env python3
"""Fits spikefab's logic model (src/hw/logic/) from Yosys on this project's own designs.

  scripts/fit-logic.py BIN OUT [--target ice40-up5k] [--designs 36] [--jobs 2] [--seed 1]
                       [--refresh] [--write | --check]

BIN is a spikefab binary (a release build), OUT a work folder (kept: a design already
synthesised there is not built again). For each design, `spikefab compile --backend verilog
--cosim-samples 0` writes the RTL and plan.json (whose `logic_features` are the units the
model prices), Yosys runs the target's own synthesis script (the flow's .ys) with
`stat -json`, and nextpnr's `--pack-only` packs the netlist into logic cells (the count full
placement reports): iCE40's Yosys and nextpnr-ice40, ECP5's YoWASP tools (as the ECP5 flow
runs them; from $SPIKEFAB_YOWASP_BIN when set). An ECP5 LUT4 count is LUT4 + 2 per CCU2C
carry, its packed cells TRELLIS_COMB.

- Fit set: random binary-weight LIF students (MLPs and CNNs on the 8x8 digits, then
  ensembles and residual CNNs, seeded) under random schedules, datapaths, lane counts and
  membrane widths. The coefficients of LUT4s, flip-flops, carry cells and packed logic cells
  are fitted on them by non-negative least squares on the relative error (each design
  weighted by 1 / its count), so a coefficient is the cells of one unit of a feature and none
  is negative.
- Held-out set: the bundled students (models/cases.json) at compile's defaults and at
  sequential event-driven, which the fit never sees. The model's stated errors (LUT4s and
  logic cells) are measured on them.

Prints one line per design, the errors and the held-out table (also written to
OUT/held_out.md, the table of docs/results/logic-model.md). With --write it writes the
family's coefficient file (src/hw/logic/<family>.json, with the commit, date and command).
--check fits nothing: it measures the committed coefficients on the held-out designs of
--target (another device of the family), and with --write records that device's errors in
the coefficient file. Needs numpy and nir (the spikefab-py venv has both) and the family's
tools. About 17 minutes on 2 cores at the default 36 designs on iCE40.
"""
import argparse
import concurrent.futures as cf
import datetime
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib

import numpy as np
import nir

REPO = os.path.realpath(os.path.join(os.path.dirname(__file__), ".."))
INPUTS = os.path.join(REPO, "models", "digits_test_x.npy")
DT = 1e-4
KINDS = ("lut4", "ff", "carry", "lc")


def lif(shape, beta, thr):
    tau = DT / (1.0 - beta)
    return nir.LIF(tau=np.full(shape, tau), r=np.full(shape, tau / DT), v_leak=np.zeros(shape),
                   v_threshold=np.full(shape, thr), v_reset=np.zeros(shape))


def signs(rng, shape):
    """Binary weights +-a_i per output row, a_i on a power-of-two grid (exact float sums)."""
    s = rng.choice([-1.0, 1.0], size=shape)
    a = 2.0 ** rng.integers(-5, -1, size=(shape[0],) + (1,) * (len(shape) - 1))
    return (s * a).astype(np.float32)


def random_mlp(rng):
    sizes = [64] + [int(rng.choice([16, 32, 48, 64, 96, 128, 192, 256]))
                    for _ in range(int(rng.integers(1, 4)))] + [int(rng.choice([4, 10, 16]))]
    beta, thr = float(rng.choice([0.5, 0.75, 0.875, 0.9375])), float(rng.choice([0.5, 1.0, 2.0]))
    nodes, edges, prev = {"input": nir.Input(input_type=np.array([64]))}, [], "input"
    for i in range(len(sizes) - 1):
        fc, lf = f"fc{i}", f"lif{i}"
        nodes[fc] = nir.Affine(weight=signs(rng, (sizes[i + 1], sizes[i])), bias=np.zeros(sizes[i + 1], np.float32))
        nodes[lf] = lif((sizes[i + 1],), beta, thr)
        edges += [(prev, fc), (fc, lf)]
        prev = lf
    nodes["output"] = nir.Output(output_type=np.array([sizes[-1]]))
    edges.append((prev, "output"))
    return nir.NIRGraph(nodes=nodes, edges=edges), "mlp " + "-".join(map(str, sizes))


def conv3x3(rng, cin, cout):
    """A binary 3x3 convolution on 8x8, padded to keep the size."""
    return nir.Conv2d(input_shape=(8, 8), weight=signs(rng, (cout, cin, 3, 3)), stride=(1, 1), padding=(1, 1),
                      dilation=(1, 1), groups=1, bias=np.zeros(cout, np.float32))


def pooled_head(rng, nodes, edges, prev, c, out, beta, thr):
    """2x2 average pooling of `prev` (c x 8 x 8), flattened into an Affine -> LIF readout."""
    nodes["pool"] = nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0]))
    nodes["flatten"] = nir.Flatten(input_type={"input": np.array([c, 4, 4])}, start_dim=0, end_dim=-1)
    nodes["fc"] = nir.Affine(weight=signs(rng, (out, c * 16)), bias=np.zeros(out, np.float32))
    nodes["lif_out"] = lif((out,), beta, thr)
    nodes["output"] = nir.Output(output_type=np.array([out]))
    edges += [(prev, "pool"), ("pool", "flatten"), ("flatten", "fc"), ("fc", "lif_out"), ("lif_out", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges)


def random_cnn(rng):
    c1 = int(rng.choice([4, 8, 16]))
    two = bool(rng.integers(0, 2))
    c2 = int(rng.choice([8, 16])) if two else c1
    out = int(rng.choice([10, 16]))
    beta, thr = float(rng.choice([0.5, 0.75, 0.875])), float(rng.choice([0.5, 1.0]))
    nodes = {"input": nir.Input(input_type=np.array([1, 8, 8]))}
    nodes["conv0"], nodes["lif0"] = conv3x3(rng, 1, c1), lif((c1, 8, 8), beta, thr)
    edges, prev = [("input", "conv0"), ("conv0", "lif0")], "lif0"
    if two:
        nodes["conv1"], nodes["lif1"] = conv3x3(rng, c1, c2), lif((c2, 8, 8), beta, thr)
        edges += [("lif0", "conv1"), ("conv1", "lif1")]
        prev = "lif1"
    g = pooled_head(rng, nodes, edges, prev, c2, out, beta, thr)
    return g, f"cnn {c1}{'-' + str(c2) if two else ''}-{out}"


def random_resnet(rng):
    """A CNN with a residual block: the block's LIF takes its conv and the block's input."""
    c = int(rng.choice([4, 8, 16]))
    out = int(rng.choice([10, 16]))
    beta, thr = float(rng.choice([0.5, 0.75, 0.875])), float(rng.choice([0.5, 1.0]))
    nodes = {"input": nir.Input(input_type=np.array([1, 8, 8]))}
    nodes["conv0"], nodes["lif0"] = conv3x3(rng, 1, c), lif((c, 8, 8), beta, thr)
    nodes["conv1"], nodes["lif1"] = conv3x3(rng, c, c), lif((c, 8, 8), beta, thr)
    edges = [("input", "conv0"), ("conv0", "lif0"), ("lif0", "conv1"), ("conv1", "lif1"), ("lif0", "lif1")]
    return pooled_head(rng, nodes, edges, "lif1", c, out, beta, thr), f"resnet {c}-{out}"


def random_ensemble(rng):
    """N students 64-h1-h2, each head summed into one output LIF (an ensemble's merge)."""
    n = int(rng.choice([2, 3, 4, 6, 8]))
    h1, h2 = int(rng.choice([16, 32, 64])), int(rng.choice([8, 16]))
    out = 10
    beta, thr = float(rng.choice([0.75, 0.875])), float(rng.choice([0.5, 1.0]))
    nodes = {"input": nir.Input(input_type=np.array([64])), "lif_out": lif((out,), beta, thr),
             "output": nir.Output(output_type=np.array([out]))}
    edges = [("lif_out", "output")]
    for s in range(n):
        p = f"s{s}_"
        nodes[p + "fc1"] = nir.Affine(weight=signs(rng, (h1, 64)), bias=np.zeros(h1, np.float32))
        nodes[p + "lif1"] = lif((h1,), beta, thr)
        nodes[p + "fc2"] = nir.Affine(weight=signs(rng, (h2, h1)), bias=np.zeros(h2, np.float32))
        nodes[p + "lif2"] = lif((h2,), beta, thr)
        nodes[p + "head"] = nir.Affine(weight=signs(rng, (out, h2)), bias=np.zeros(out, np.float32))
        edges += [("input", p + "fc1"), (p + "fc1", p + "lif1"), (p + "lif1", p + "fc2"), (p + "fc2", p + "lif2"),
                  (p + "lif2", p + "head"), (p + "head", "lif_out")]
    return nir.NIRGraph(nodes=nodes, edges=edges), f"ensemble {n}x(64-{h1}-{h2})-{out}"


def random_options(rng, target):
    opts = ["--target", target, "-T", str(int(rng.choice([4, 8, 16]))),
            "--schedule", str(rng.choice(["sequential", "pipelined", "streamed"])),
            "--datapath", str(rng.choice(["event", "dense"])),
            "--lanes", str(int(rng.choice([1, 2, 4, 8, 16])))]
    if rng.random() < 0.3:
        opts += ["--membrane-bits", str(int(rng.choice([10, 12, 16])))]
    return opts


def fit_designs(n, seed, out, target):
    """The fit set: (name, model path, compile options, description)."""
    rng = np.random.default_rng(seed)
    designs = []
    os.makedirs(os.path.join(out, "models"), exist_ok=True)
    for i in range(n):
        g, desc = (random_cnn if rng.random() < 0.35 else random_mlp)(rng)
        path = os.path.join(out, "models", f"r{i:02d}.nir")
        nir.write(path, g)
        opts = random_options(rng, target)
        designs.append((f"r{i:02d}", path, opts, desc + " " + " ".join(opts[4:])))
    # Topologies the first generator lacks (ensembles, residual blocks), from their own stream
    # so the designs above stay the same whatever n.
    rng = np.random.default_rng(seed + 1000)
    for i in range(n // 2):
        g, desc = (random_resnet if i % 3 == 2 else random_ensemble)(rng)
        path = os.path.join(out, "models", f"t{i:02d}.nir")
        nir.write(path, g)
        opts = random_options(rng, target)
        designs.append((f"t{i:02d}", path, opts, desc + " " + " ".join(opts[4:])))
    return designs


def held_out(target):
    """The bundled students at compile's defaults and at sequential event-driven."""
    cases = json.load(open(os.path.join(REPO, "models", "cases.json")))
    out = []
    for c in cases:
        if not c.get("exact") or c["model"].endswith(".json") or "xylo" in c["name"]:
            continue
        base = ["--target", target, "-T", str(c["timesteps"]), "--reset", c["reset"]]
        if c.get("fire_on_equal"):
            base.append("--fire-on-equal")
        m = os.path.join(REPO, "models", c["model"])
        out.append((c["name"], m, base, c["name"] + " defaults"))
        out.append((c["name"] + "-seq-event", m, base + ["--schedule", "sequential", "--datapath", "event"],
                    c["name"] + " sequential event"))
    return out


def run(cmd, cwd=None, log=None):
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if log:
        with open(log, "w") as f:
            f.write(r.stdout + r.stderr)
    return r


def rtl(d):
    """The design's Verilog files, by name."""
    return {f: open(os.path.join(d, f), "rb").read() for f in sorted(os.listdir(d)) if f.endswith(".v")}


def compile_cmd(bin_, model, opts, d):
    return [bin_, "compile", model, "--inputs", INPUTS, "--samples", "64", "--backend", "verilog",
            "--cosim-samples", "0", "--min-agreement", "0", "-o", d] + opts


def build(bin_, out, design, refresh, fl):
    """Compiles and synthesises one design; returns (features, cells, schedule) or an error.

    A design synthesised before (the same model bytes and options, spec.json) is not built
    again; with `refresh` it is compiled again and, when its Verilog is byte for byte the one
    synthesised, only its plan.json (the features) is replaced, else it is built again."""
    name, model, opts, _ = design
    d = os.path.join(out, name)
    done = os.path.join(d, "yosys_stat.json")
    spec = {"model_sha256": hashlib.sha256(open(model, "rb").read()).hexdigest(), "options": opts}
    cached = os.path.exists(done) and os.path.exists(os.path.join(d, "spec.json")) \
        and json.load(open(os.path.join(d, "spec.json"))) == spec
    if cached and refresh:
        fresh = d + ".refresh"
        shutil.rmtree(fresh, ignore_errors=True)
        r = run(compile_cmd(bin_, model, opts, fresh))
        if r.returncode == 0 and rtl(fresh) == rtl(d):
            shutil.copy(os.path.join(fresh, "plan.json"), os.path.join(d, "plan.json"))
        else:
            cached = False
        shutil.rmtree(fresh, ignore_errors=True)
    if not cached:
        shutil.rmtree(d, ignore_errors=True)
        r = run(compile_cmd(bin_, model, opts, d))
        if r.returncode != 0:
            return f"compile exit {r.returncode}: {(r.stderr or r.stdout).strip().splitlines()[-1:]}"
        ys = [f for f in os.listdir(d) if f.endswith(".ys")]
        if len(ys) != 1:
            return f"no synthesis script in {d}"
        r = run([fl["yosys"], "-q", "-l", "yosys.log", "-s", ys[0], "-p", "tee -q -o yosys_stat.json stat -json"],
                cwd=d)
        if r.returncode != 0 or not os.path.exists(done):
            return f"yosys exit {r.returncode}"
        json.dump(spec, open(os.path.join(d, "spec.json"), "w"))
    # nextpnr's packer: the logic cells (iCE40: a LUT4, a flip-flop and a carry each, shared
    # only when they connect; ECP5: a slice's LUT4 halves, carries and LUT-RAM) that placement
    # has to fit in the device's.
    packed = os.path.join(d, "pack.json")
    if not os.path.exists(packed):
        top = [f for f in os.listdir(d) if f.endswith(".ys")][0][:-3]
        r = run([fl["nextpnr"], *fl["args"], "--json", top + ".json", fl["constraints"], top + fl["suffix"],
                 "--pack-only", "--report", "pack.json", "-q"], cwd=d, log=os.path.join(d, "pack.log"))
        if r.returncode != 0 or not os.path.exists(packed):
            return f"nextpnr --pack-only exit {r.returncode}"
    plan = json.load(open(os.path.join(d, "plan.json")))
    cells = json.load(open(done))["design"]["num_cells_by_type"]
    lc = json.load(open(packed))["utilization"][fl["packed"]]["used"]
    if fl["family"] == "ecp5":
        # A CCU2C carry takes two LUT4 positions of a slice (the count the device's LUT4s cap).
        got = {"lut4": cells.get("LUT4", 0) + 2 * cells.get("CCU2C", 0), "ff": cells.get("TRELLIS_FF", 0),
               "carry": cells.get("CCU2C", 0), "lc": lc}
    else:
        got = {"lut4": cells.get("SB_LUT4", 0), "ff": sum(v for k, v in cells.items() if k.startswith("SB_DFF")),
               "carry": cells.get("SB_CARRY", 0), "lc": lc}
    return plan["logic_features"], got, plan["schedule"]


def open_flow(target):
    """The target's family and the open flow's tools for it: iCE40's Yosys and nextpnr-ice40 on
    the PATH, ECP5's YoWASP Yosys and nextpnr-ecp5 (from $SPIKEFAB_YOWASP_BIN when set)."""
    toml = tomllib.load(open(os.path.join(REPO, "targets", target + ".toml"), "rb"))
    args = toml["device"]["nextpnr_args"]
    if toml["family"] == "ice40":
        return {"family": "ice40", "yosys": "yosys", "nextpnr": "nextpnr-ice40", "args": args,
                "constraints": "--pcf", "suffix": ".pcf", "packed": "ICESTORM_LC", "synth": "synth_ice40"}
    if toml["family"] == "ecp5":
        yb = os.environ.get("SPIKEFAB_YOWASP_BIN")
        tool = lambda n: os.path.join(yb, "yowasp-" + n) if yb else "yowasp-" + n
        return {"family": "ecp5", "yosys": tool("yosys"), "nextpnr": tool("nextpnr-ecp5"), "args": args,
                "constraints": "--lpf", "suffix": ".lpf", "packed": "TRELLIS_COMB", "synth": "synth_ecp5"}
    sys.exit(f"no logic-model fit for target {target}: its family {toml['family']} has no open flow here")


def nnls(a, b, iters=500):
    """Lawson-Hanson non-negative least squares: min |a x - b| with x >= 0."""
    m, n = a.shape
    x, passive = np.zeros(n), np.zeros(n, bool)
    w = a.T @ (b - a @ x)
    for _ in range(iters):
        if passive.all() or w[~passive].max() <= 1e-10:
            break
        j = np.where(~passive, w, -np.inf).argmax()
        passive[j] = True
        while True:
            s = np.zeros(n)
            s[passive] = np.linalg.lstsq(a[:, passive], b, rcond=None)[0]
            if s[passive].min() > 0:
                break
            neg = passive & (s <= 0)
            alpha = np.min(x[neg] / (x[neg] - s[neg]))
            x = x + alpha * (s - x)
            passive &= x > 1e-12
        x = s
        w = a.T @ (b - a @ x)
    return x


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bin")
    ap.add_argument("out")
    ap.add_argument("--target", default="ice40-up5k")
    ap.add_argument("--designs", type=int, default=36)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--refresh", action="store_true",
                    help="recompile the cached designs and take their new features when their RTL is unchanged")
    ap.add_argument("--check", action="store_true",
                    help="fit nothing: measure the committed coefficients on the held-out designs of --target")
    ap.add_argument("--write", action="store_true", help="write the coefficient file and the results table")
    a = ap.parse_args()
    bin_, out = os.path.realpath(a.bin), os.path.realpath(a.out)
    os.makedirs(out, exist_ok=True)
    fl = open_flow(a.target)
    family = fl["family"]
    fit = [] if a.check else fit_designs(a.designs, a.seed, out, a.target)
    held = held_out(a.target)
    t0 = time.time()
    results = {}
    with cf.ThreadPoolExecutor(a.jobs) as ex:
        futs = {ex.submit(build, bin_, out, d, a.refresh, fl): d for d in fit + held}
        for i, f in enumerate(cf.as_completed(futs)):
            d = futs[f]
            results[d[0]] = f.result()
            r = results[d[0]]
            what = r if isinstance(r, str) else f"{r[1]['lut4']} LUT4, {r[1]['ff']} FF, {r[1]['carry']} carry"
            print(f"[{i + 1}/{len(futs)} {time.time() - t0:.0f} s] {d[0]} ({d[3]}): {what}", flush=True)
    built = [r for r in results.values() if not isinstance(r, str)]
    if not built:
        sys.exit("no design built")
    feats = list(built[0][0])  # the model's feature names, in plan.json's order

    def rows(ds):
        ok = [d for d in ds if not isinstance(results[d[0]], str)]
        x = np.array([[results[d[0]][0][f] for f in feats] for d in ok], float)
        y = {k: np.array([results[d[0]][1][k] for d in ok], float) for k in KINDS}
        return ok, x, y

    hok, hx, hy = rows(held)
    coef = {}
    if a.check:
        committed = json.load(open(os.path.join(REPO, "src", "hw", "logic", f"{family}.json")))
        for k in KINDS:
            coef[k] = np.array([committed[k].get(f, 0.0) for f in feats])
        print(f"\nthe committed model (fitted at {committed['fitted']['commit']}) on {a.target}")
    else:
        fok, fx, fy = rows(fit)
        if len(fok) < len(feats) + 4:
            sys.exit(f"only {len(fok)} fit designs built; need at least {len(feats) + 4}")
        for k in KINDS:
            wgt = 1.0 / np.maximum(fy[k], 1.0)
            coef[k] = nnls(fx * wgt[:, None], fy[k] * wgt)
        fit_err = (np.maximum(fx @ coef["lut4"], 0).round() - fy["lut4"]) / fy["lut4"]
        print(f"\nfit: {len(fok)} designs, LUT4 |error| mean {np.abs(fit_err).mean():.3f} "
              f"max {np.abs(fit_err).max():.3f}")
    pred = lambda x, k: np.maximum(x @ coef[k], 0).round()
    held_err = (pred(hx, "lut4") - hy["lut4"]) / hy["lut4"]
    lc_err = (pred(hx, "lc") - hy["lc"]) / hy["lc"]
    print(f"held out: {len(hok)} designs, LUT4 |error| mean {np.abs(held_err).mean():.3f} "
          f"max {np.abs(held_err).max():.3f}; logic cells |error| mean {np.abs(lc_err).mean():.3f} "
          f"max {np.abs(lc_err).max():.3f}")
    table = []
    for d, x, e in zip(hok, hx, held_err):
        r = results[d[0]]
        p = {k: int(max(x @ coef[k], 0).round()) for k in KINDS}
        le = (p["lc"] - r[1]["lc"]) / r[1]["lc"]
        table.append(f"| {d[3]} | {r[2]} | {r[1]['lut4']:,} | {p['lut4']:,} | {e:+.1%} | {r[1]['lc']:,} | {p['lc']:,} "
                     f"| {le:+.1%} | {r[1]['ff']:,} | {p['ff']:,} | {r[1]['carry']:,} | {p['carry']:,} |")
        print(table[-1])
    with open(os.path.join(out, "held_out.md"), "w") as f:
        f.write("\n".join(table) + "\n")
    failed = [f"{n}: {r}" for n, r in results.items() if isinstance(r, str)]
    for f in failed:
        print("not built:", f)
    stat = lambda e: {"designs": len(hok), "max_abs": round(float(np.abs(e).max()), 4),
                      "mean_abs": round(float(np.abs(e).mean()), 4)}
    error = {"lut4": stat(held_err), "lc": stat(lc_err)}
    if a.check:
        if a.write:
            # The committed model's error on this device, beside the others'.
            path = os.path.join(REPO, "src", "hw", "logic", f"{family}.json")
            committed = json.load(open(path))
            committed["error"][a.target] = error
            with open(path, "w") as f:
                json.dump(committed, f, indent=1)
                f.write("\n")
            print(f"wrote {a.target}'s error into src/hw/logic/{family}.json")
        return
    if not a.write:
        return
    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    # "Yosys 0.70 (git sha1 28ba3cb92, Release, Clang ...)": the version and the commit.
    yv = subprocess.run([fl["yosys"], "-V"], capture_output=True, text=True).stdout.strip().split(", ")[0]
    yv += ")" if "(" in yv and not yv.endswith(")") else ""
    cmd = f"scripts/fit-logic.py BIN OUT --target {a.target} --designs {a.designs} --seed {a.seed} --write"
    date = datetime.date.today().isoformat()
    model = {
        "family": family,
        "synthesis": f"{yv}: the flow's {fl['synth']} script ({a.target})",
        "fitted": {"command": cmd, "commit": commit, "date": date, "designs": len(fok)},
        **{k: {f: round(float(v), 4) for f, v in zip(feats, coef[k]) if v > 0} for k in KINDS},
        "error": {a.target: error},
    }
    with open(os.path.join(REPO, "src", "hw", "logic", f"{family}.json"), "w") as f:
        json.dump(model, f, indent=1)
        f.write("\n")
    print(f"wrote src/hw/logic/{family}.json")


if __name__ == "__main__":
    main()
