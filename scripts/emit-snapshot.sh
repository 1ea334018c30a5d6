#!/bin/sh
# Emits the files every back end writes for the bundled models into OUT (one folder per model
# and target), without the reports (they carry times) and without running any checker, so two
# snapshots of different commits can be compared byte for byte:
#   scripts/emit-snapshot.sh /tmp/before && (checkout other) && scripts/emit-snapshot.sh /tmp/after
#   diff -r /tmp/before /tmp/after
# Uses the release binary of the current checkout (built if needed).
set -eu
out=${1:?usage: scripts/emit-snapshot.sh OUT}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo build --release --quiet
bin="$root/target/release/spikefab"
x=models/digits_test_x.npy
mkdir -p "$out"
run() { # name target model-and-dialect...
    name=$1 target=$2
    shift 2
    dir="$out/$name@$target"
    rm -rf "$dir"
    # The vendor simulators and co-/C simulators are left out: only the emitted files count.
    env -u SPIKEFAB_XYLO_PYTHON -u SPIKEFAB_LAVA_PYTHON "$bin" compile "$@" --target "$target" \
        --samples 32 --min-agreement 0 --cosim-samples 0 -o "$dir" >"$dir.log" 2>&1 || {
        echo "compile $name for $target failed: $dir.log" >&2
        exit 1
    }
    find "$dir" -name 'report.json' -delete
    rm -f "$dir.log"
}
for t in ice40-up5k ecp5-85k; do
    run mlp_bw $t models/mlp_bw/mlp_bw.nir --from snntorch -T 8 --inputs $x --backend both --csim-samples 0
    run mlp_bw_t4 $t models/mlp_bw_t4/mlp_bw_t4.nir --from snntorch -T 4 --inputs $x --backend both --csim-samples 0
    run conv_bw $t models/conv_bw/conv_bw.nir --dt 1e-4 --reset zero -T 8 --inputs $x --backend both --csim-samples 0
    run ensemble_bw $t models/ensemble_bw/ensemble_bw.nir --dt 1e-4 --reset zero -T 8 --inputs $x --backend both \
        --csim-samples 0
done
run mlp_bw xc7a35t models/mlp_bw/mlp_bw.nir --from snntorch -T 8 --inputs $x --backend hls --csim-samples 0
for t in xylo-imu xylo-audio3; do
    run xylo_q8 $t models/xylo_q8/xylo_q8.json --inputs models/xylo_q8/digits16_test_x.npy
done
run mlp_bw loihi2 models/mlp_bw/mlp_bw.nir --from snntorch -T 8 --inputs $x
run conv_bw loihi2 models/conv_bw/conv_bw.nir --dt 1e-4 --reset zero -T 8 --inputs $x
echo "snapshot in $out: $(find "$out" -type f | wc -l) files"
