#!/usr/bin/env bash
# The scale models on the ULX3S with their weights streamed from the SDRAM
# (docs/results/external-memory.md, "The scale models"): generates the CIFAR VGG and the
# ResNet-18-like model with training/gen_scale_models.py (unless OUT already holds them), then
#   - plans both, streamed, at LANES lanes (the memories each needs, the bandwidth bound);
#   - builds the VGG's bitstream through the open flow and co-simulates COSIM samples with the
#     SDRAM's chip model (Verilator), and prices it with `energy` (the SDRAM's share);
#   - builds the ResNet-18's bitstream at RESNET_LANES lanes (default 8, which meets 50 MHz;
#     16 lanes reach 49.2 MHz, and 47.6 with RESNET_PLANE_BITS 64, so give RESNET_CLOCK 46.875,
#     a clock the PLL makes) at
#     RESNET_CLOCK MHz (default 50), core and SDRAM, with spike-plane words of RESNET_PLANE_BITS
#     (`--plane-bits`, default 32), and co-simulates one sample the same way.
#
#   scripts/scale-models.sh BIN OUT PYTHON [LANES] [COSIM] [RESNET_LANES] [RESNET_CLOCK] [RESNET_PLANE_BITS]
#
# BIN: a spikefab binary (a release build: the plans run the cycle engine on 4 inputs).
# PYTHON: an interpreter with torch, numpy and nir (training/requirements.txt).
# Writes OUT/<model>.{plan,energy}.txt, OUT/vgg_cifar.compile.json, the times in OUT/times.txt,
# OUT/resnet18_cifar.compile.json, and prints a summary. About 2 hours on 2 cores, most of it
# nextpnr and the ResNet's co-simulation (18.8 million cycles). Exit 1 when a step fails.
set -euo pipefail
bin=$(realpath "$1")
out=$(realpath -m "$2")
py=$3
lanes=${4:-16}
cosim=${5:-2}
resnet_lanes=${6:-8}
resnet_clock=${7:-50}
resnet_plane_bits=${8:-32}
cd "$(dirname "$0")/.."
mkdir -p "$out"
if [ ! -f "$out/vgg_cifar.nir" ] || [ ! -f "$out/resnet18_cifar.nir" ]; then
  "$py" training/gen_scale_models.py "$out" --only vgg_cifar,resnet18_cifar
fi
# The first 4 of the 256 generated samples: the cycle engine's measure and the co-simulation.
"$py" - "$out" <<'PY'
import sys
import numpy as np
d = sys.argv[1]
for n in ("vgg_cifar", "resnet18_cifar"):
    np.save(f"{d}/in4_{n}.npy", np.load(f"{d}/inputs_{n}.npy")[:4])
PY
common=(-T 8 --reset zero --target ulx3s-85f --clock-mhz 50 --schedule streamed --lanes "$lanes")
: >"$out/times.txt"
timed() {
  local what=$1
  shift
  local t0 t1
  t0=$(date +%s.%N)
  "$@"
  t1=$(date +%s.%N)
  # On stderr: the step's own output may be redirected to a file.
  printf '%s %.1f s\n' "$what" "$(echo "$t1 - $t0" | bc)" | tee -a "$out/times.txt" >&2
}
for m in vgg_cifar resnet18_cifar; do
  # A plan that does not fit still prints (with a warning): the figures are what is wanted.
  timed "plan $m" "$bin" plan "$out/$m.nir" "${common[@]}" --inputs "$out/in4_$m.npy" >"$out/$m.plan.txt" 2>&1
done
timed "energy vgg_cifar" "$bin" energy "$out/vgg_cifar.nir" "${common[@]}" --inputs "$out/in4_vgg_cifar.npy" \
  >"$out/vgg_cifar.energy.txt" 2>&1
# Random weights on random spikes: the class agreement with the float model means nothing here,
# so --min-agreement 0; the co-simulation is what judges the design.
timed "compile --bitstream vgg_cifar" "$bin" compile "$out/vgg_cifar.nir" "${common[@]}" \
  --inputs "$out/in4_vgg_cifar.npy" --samples 4 --cosim-samples "$cosim" --simulator verilator \
  --min-agreement 0 --bitstream --json -o "$out/vgg_cifar" >"$out/vgg_cifar.compile.json"
timed "compile --bitstream resnet18_cifar" "$bin" compile "$out/resnet18_cifar.nir" -T 8 --reset zero \
  --target ulx3s-85f --clock-mhz "$resnet_clock" --schedule streamed --lanes "$resnet_lanes" --plane-bits "$resnet_plane_bits" \
  --inputs "$out/in4_resnet18_cifar.npy" --samples 4 --cosim-samples 1 --simulator verilator \
  --min-agreement 0 --bitstream --json -o "$out/resnet18_cifar" >"$out/resnet18_cifar.compile.json"
"$py" - "$out" <<'PY'
import json
import re
import sys
d = sys.argv[1]
for m in ("vgg_cifar", "resnet18_cifar"):
    r = json.load(open(f"{d}/{m}.compile.json"))
    f, c, v = r["fpga"], r["cosim"], r["verify"]
    print(f"{m}: {f['yosys_cells'].get('LUT4', 0)} LUT4, {f['yosys_cells'].get('CCU2C', 0)} CCU2C, "
          f"{f['ffs']['used']} FF, {f['block_rams']['used']} of {f['block_rams']['available']} DP16KD, "
          f"Fmax {f['fmax_nextpnr_mhz']:.1f} MHz (target {f['target_mhz']:g}); {f['tools']}")
    print(f"  tool seconds: {', '.join(f'{t} {s:.0f}' for t, s in f['seconds'])}")
    print(f"  cosim ({c['simulator']}): {c['samples']} samples, {c['word_mismatches']} words and "
          f"{c['cycle_mismatches']} cycle counts differ; cycles {c['rtl_cycles']}; "
          f"build {c['build_seconds']:.0f} s, run {c['run_seconds']:.1f} s")
    print(f"  cycle engine on 4 inputs: mean {v['cycles_mean']:.1f} cycles, "
          f"{f['target_mhz'] * 1e6 / v['cycles_mean']:.1f} inferences/s at {f['target_mhz']} MHz")
    print(f"  energy per inference {r['energy']['energy_per_inference_j'] * 1e6:.1f} uJ")
for m in ("vgg_cifar", "resnet18_cifar"):
    for line in open(f"{d}/{m}.plan.txt"):
        if re.match(r"(block RAMs|external memory|cycles per inference|streamed, measured)", line):
            print(f"  {m}: {line.strip()}")
PY
