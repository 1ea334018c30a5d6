#!/usr/bin/env bash
# `spikefab compare` of the four bundled students on every target in targets/, all 450 test
# inputs, as docs/results/compare.md records it.
#
#   scripts/compare-students.sh BIN OUT_DIR
#
# Writes OUT_DIR/NAME.txt (the table) and OUT_DIR/NAME.json per student; prints each exit code
# and wall time.
set -uo pipefail
bin=$1
out=$2
cd "$(dirname "$0")/.."
mkdir -p "$out"
x=models/digits_test_x.npy
y=models/digits_test_y.npy
while read -r name model rest; do
  start=$(date +%s.%N)
  # shellcheck disable=SC2086
  "$bin" compare "$model" $rest --inputs $x --labels $y >"$out/$name.txt" 2>"$out/$name.err"
  code=$?
  # shellcheck disable=SC2086
  "$bin" compare "$model" $rest --inputs $x --labels $y --json >"$out/$name.json" 2>/dev/null
  printf '%s exit %s, %.2f s\n' "$name" "$code" "$(echo "$(date +%s.%N) - $start" | bc)"
done <<'LIST'
mlp_bw models/mlp_bw/mlp_bw.nir --from snntorch -T 8
mlp_bw_t4 models/mlp_bw_t4/mlp_bw_t4.nir --from snntorch -T 4
conv_bw models/conv_bw/conv_bw.nir --dt 1e-4 -T 8
ensemble_bw models/ensemble_bw/ensemble_bw.nir --dt 1e-4 -T 8
LIST
