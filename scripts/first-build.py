#!/usr/bin/env python3
"""Is the design `energy` describes the one `compile --bitstream` builds first?

For every bundled student (models/cases.json, the ones fit-logic.py holds out) at compile's
defaults on each target, this runs

    spikefab plan    MODEL ... --json
    spikefab energy  MODEL ... --samples 64 --json
    spikefab compile MODEL ... --samples 64 --bitstream --cosim-samples 0 -o OUT/<target>/<student>/build

and reports, per pair: the design energy describes (plan's schedule and dense projections, the
same lowering; energy's cycles and predicted logic cells, and whether it is labelled as
predicted not to fit), what the build made of it, whether compile's fallback ladder had to
give up any design (the logic model wrong), and whether the design built is energy's: no
fallback, the same schedule, projection modes and logic features as plan's, and the same
cycles as energy's on the same 64 inputs.

    scripts/first-build.py BIN OUT [--targets ice40-up5k,ice40-hx8k,ecp5-85k] [--students a,b]

Writes OUT/first-build.md (a table) and OUT/first-build.json; exits 1 when a pair's first
build is not energy's design. The ECP5 builds need YoWASP (.ci/run installs it; set
SPIKEFAB_YOWASP_BIN), and the larger students take minutes each. Run it with the spikefab-py
venv's Python (it reads the bundled cases through fit-logic.py, which needs numpy and nir).
"""

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = "64"


def bundled(target):
    """The bundled students at compile's defaults, as fit-logic.py holds them out."""
    spec = importlib.util.spec_from_file_location("fit_logic", os.path.join(REPO, "scripts", "fit-logic.py"))
    fit = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fit)
    return [(name, model, opts, fit.INPUTS) for name, model, opts, _ in fit.held_out(target)
            if not name.endswith("-seq-event")]


def run(cmd, log):
    t = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True)
    with open(log, "w") as f:
        f.write(" ".join(cmd) + "\n" + r.stdout + r.stderr)
    return r, time.time() - t


def modes(plan):
    return [q["mode"] for l in plan["layers"] for q in l["projections"]]


def one(bin_, out, target, name, model, opts, inputs):
    d = os.path.join(out, target, name)
    os.makedirs(d, exist_ok=True)
    common = [model, "--inputs", inputs, "--samples", SAMPLES] + opts
    # The design energy describes: plan's (the same lowering), and energy's own figures.
    # (plan has no --samples: every input given calibrates, in every command.)
    r, _ = run([bin_, "plan", model, "--inputs", inputs] + opts + ["--json"], os.path.join(d, "plan.log"))
    if r.returncode != 0:
        return {"target": target, "student": name, "error": f"plan exited {r.returncode}"}
    planned = json.loads(r.stdout)
    r, _ = run([bin_, "energy"] + common + ["--json"], os.path.join(d, "energy.log"))
    if r.returncode != 0:
        return {"target": target, "student": name, "error": f"energy exited {r.returncode}"}
    est = json.loads(r.stdout)["estimate"]
    logic = est.get("logic")
    row = {
        "target": target,
        "student": name,
        "schedule": planned["schedule"],
        "dense": modes(planned).count("dense"),
        "energy_cycles": est["cycles"],
        "energy_j": est["energy_per_inference_j"],
        "predicted_lc": logic["predicted"]["lc"] if logic else None,
        "predicted_lut4": logic["predicted"]["lut4"] if logic else None,
        "labelled_misfit": bool(logic) and max(logic["predicted"]["lc"], logic["predicted"]["lut4"]) > logic["device_luts"],
    }
    b = os.path.join(d, "build")
    shutil.rmtree(b, ignore_errors=True)
    r, secs = run([bin_, "compile"] + common + ["--bitstream", "--cosim-samples", "0", "--min-agreement", "0",
                                                 "-o", b], os.path.join(d, "compile.log"))
    row["compile_exit"] = r.returncode
    row["compile_s"] = round(secs, 1)
    # The ladder's notes: "the design <why>...: compiling ...".
    row["fallbacks"] = sum(1 for l in (r.stdout + r.stderr).splitlines() if "the design " in l and ": compiling " in l)
    try:
        rep = json.load(open(os.path.join(b, "report.json")))
        built_plan = json.load(open(os.path.join(b, "plan.json")))
    except (OSError, ValueError) as e:
        row["error"] = f"compile wrote no report: {e}"
        return row
    fpga = rep.get("fpga") or {}
    row["built"] = bool(fpga) and "does_not_fit" not in fpga
    # Placed logic cells: iCE40's ICESTORM_LC (logic_cells), ECP5's TRELLIS_COMB (luts).
    cells = fpga.get("logic_cells" if target.startswith("ice40") else "luts")
    row["cells"] = cells["used"] if cells else None
    row["device"] = cells["available"] if cells else None
    row["build_misfit"] = fpga.get("does_not_fit")
    en = (rep.get("energy") or {}).get("estimate") or {}
    row["same_design"] = (row["fallbacks"] == 0 and built_plan["schedule"] == planned["schedule"]
                          and modes(built_plan) == modes(planned)
                          and (logic is None or built_plan.get("logic_features") == logic["features"])
                          and en.get("cycles") == est["cycles"])
    return row


def table(rows):
    lines = ["| target | student | energy's design | cycles | predicted cells | first build | built cells | fallbacks | same design |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['target']} | {r['student']} | {r.get('error')} | | | | | | no |")
            continue
        pred = "-" if r["predicted_lc"] is None else f"{r['predicted_lc']:,}" + (" (labelled not to fit)" if r["labelled_misfit"] else "")
        built = "fits" if r["built"] else "does not fit"
        cells = "-" if r["cells"] is None else f"{r['cells']:,} of {r['device']:,}"
        lines.append(f"| {r['target']} | {r['student']} | {r['schedule']}, {r['dense']} dense | {r['energy_cycles']:,.0f} | "
                     f"{pred} | {built} ({r['compile_s']:.0f} s) | {cells} | {r['fallbacks']} | "
                     f"{'yes' if r['same_design'] else 'no'} |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bin")
    ap.add_argument("out")
    ap.add_argument("--targets", default="ice40-up5k,ice40-hx8k,ecp5-85k")
    ap.add_argument("--students", default="")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    want = set(filter(None, a.students.split(",")))
    rows = []
    for target in a.targets.split(","):
        for name, model, opts, inputs in bundled(target):
            if want and name not in want:
                continue
            print(f"{target} {name} ...", file=sys.stderr, flush=True)
            rows.append(one(a.bin, a.out, target, name, model, opts, inputs))
            r = rows[-1]
            print(f"  first build {'is' if r.get('same_design') else 'is NOT'} energy's design; "
                  f"fallbacks {r.get('fallbacks')}, built {r.get('built')}, {r.get('compile_s')} s", file=sys.stderr, flush=True)
    with open(os.path.join(a.out, "first-build.json"), "w") as f:
        json.dump(rows, f, indent=1)
    with open(os.path.join(a.out, "first-build.md"), "w") as f:
        f.write(table(rows))
    print(table(rows))
    sys.exit(0 if all(r.get("same_design") for r in rows) else 1)


if __name__ == "__main__":
    main()
