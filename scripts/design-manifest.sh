#!/usr/bin/env bash
# Hashes every design spikefab emits for the bundled students: Verilog and its memory images,
# constraints and build scripts, HLS C++ and its testbench data, the Xylo specification arrays
# and the netx network. Refactors must leave this manifest unchanged (compare two runs with
# diff). Vendor checks, co-simulation and C simulation are not run: only what is written.
#
#   scripts/design-manifest.sh BIN OUT_DIR > manifest.txt
#
# BIN is a spikefab binary (e.g. target/release/spikefab); OUT_DIR a scratch folder.
set -euo pipefail
bin=$1
out=$2
cd "$(dirname "$0")/.."
rm -rf "$out"
mkdir -p "$out"
x=models/digits_test_x.npy
y=models/digits_test_y.npy
students=(
  "mlp_bw models/mlp_bw/mlp_bw.nir --from snntorch -T 8"
  "mlp_bw_t4 models/mlp_bw_t4/mlp_bw_t4.nir --from snntorch -T 4"
  "conv_bw models/conv_bw/conv_bw.nir --dt 1e-4 -T 8"
  "ensemble_bw models/ensemble_bw/ensemble_bw.nir --dt 1e-4 -T 8"
)
export SPIKEFAB_XYLO_PYTHON=/nonexistent SPIKEFAB_LAVA_PYTHON=/nonexistent
run() { "$bin" "$@" >/dev/null 2>"$out/last.err" || { cat "$out/last.err" >&2; exit 1; }; }
for s in "${students[@]}"; do
  read -r name model rest <<<"$s"
  # shellcheck disable=SC2086
  for t in ice40-up5k ecp5-85k generic-45nm; do
    run compile "$model" $rest --inputs $x --labels $y --target $t --cosim-samples 0 --min-agreement 0 \
      -o "$out/$name-$t"
  done
  # shellcheck disable=SC2086
  run compile "$model" $rest --inputs $x --target xc7a35t --backend both --cosim-samples 0 --csim-samples 0 \
    --min-agreement 0 -o "$out/$name-xc7a35t"
  # shellcheck disable=SC2086
  "$bin" compile "$model" $rest --inputs $x --target loihi2 --min-agreement 0 -o "$out/$name-loihi2" \
    >/dev/null 2>&1 || echo "# $name loihi2: refused" >>"$out/refused.txt"
done
for t in xylo-imu xylo-audio2 xylo-audio3; do
  "$bin" compile models/xylo_q8/xylo_q8.json --inputs models/xylo_q8/digits16_test_x.npy --labels $y \
    --target $t --min-agreement 0 -o "$out/xylo_q8-$t" >/dev/null 2>&1 || echo "# xylo_q8 $t: refused" >>"$out/refused.txt"
done
cd "$out"
cat refused.txt 2>/dev/null || true
# Everything written but the reports and plan summaries (they carry times, paths and fields that may
# grow) and tool logs.
find . -type f ! -name report.json ! -name plan.json ! -name last.err ! -name refused.txt ! -name '*.log' | LC_ALL=C sort |
  xargs sha256sum
