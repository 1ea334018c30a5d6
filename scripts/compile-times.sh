#!/usr/bin/env bash
# Wall and CPU time of `compile` for the four bundled students on the UP5K (the README's first
# command's options), without and with --bitstream, for one spikefab binary.
#
#   scripts/compile-times.sh BIN OUT_DIR [--bitstream]
#
# Prints one line per student: name, wall seconds, user+system CPU seconds (the process and the
# tools it ran), exit code.
set -uo pipefail
bin=$1
out=$2
extra=${3:-}
cd "$(dirname "$0")/.."
mkdir -p "$out"
x=models/digits_test_x.npy
y=models/digits_test_y.npy
while read -r name model rest; do
  # shellcheck disable=SC2086
  /usr/bin/time -f "%e %U %S" -o "$out/$name.time" "$bin" compile "$model" $rest --inputs $x --labels $y \
    --target ice40-up5k $extra -o "$out/$name" >"$out/$name.log" 2>&1
  code=$?
  read -r wall user sys <"$out/$name.time"
  printf '%s %s %.2f %s\n' "$name" "$wall" "$(echo "$user + $sys" | bc)" "$code"
done <<'LIST'
mlp_bw models/mlp_bw/mlp_bw.nir --from snntorch -T 8
mlp_bw_t4 models/mlp_bw_t4/mlp_bw_t4.nir --from snntorch -T 4
conv_bw models/conv_bw/conv_bw.nir --dt 1e-4 -T 8
ensemble_bw models/ensemble_bw/ensemble_bw.nir --dt 1e-4 -T 8
LIST
