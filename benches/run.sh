#!/bin/sh
# Side-by-side benchmark: spikefab's cycle-accurate and reference engines (`spikefab bench`)
# and snnTorch (benches/snntorch_bench.py), one thread each, same models and inputs, in one run,
# then a table of samples per second of wall time and per second of CPU time (the process's,
# which other jobs on a shared machine disturb less) with the ratios against snnTorch.
# Usage: benches/run.sh [SCALE_DIR [SCALE50_DIR]]
#   SCALE_DIR from `training/gen_scale_models.py SCALE_DIR` (10% activity),
#   SCALE50_DIR from `training/gen_scale_models.py SCALE50_DIR --rate 0.5`; both optional.
# Environment: PYTHON (with torch, snntorch, nir; default python3), RESNET_SAMPLES (default 16),
#   SCHEDULE (the cycle engine's plan schedule: sequential, pipelined or auto; default: the
#   target's, auto on the UP5K, whose pipelined cycle model costs the engine more).
# Needs: a release build (cargo build --release).
set -e
cd "$(dirname "$0")/.."
SF=./target/release/spikefab
PY=${PYTHON:-python3}
NR=${RESNET_SAMPLES:-16}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
# run NAME MODEL INPUTS "DIALECT" RESET "T" REPEAT BATCH
run() {
    echo "== $1" >&2
    $SF bench "$2" $4 --inputs "$3" --repeat "$7" $6 ${SCHEDULE:+--schedule $SCHEDULE} --json > "$OUT/$1.engine.json"
    $PY benches/snntorch_bench.py "$2" "$3" --reset "$5" ${6:+--timesteps ${6#-T }} --repeat "$7" --batch "$8" > "$OUT/$1.snntorch.json"
    echo "$1" >> "$OUT/order"
}
run mlp_bw models/mlp_bw/mlp_bw.nir models/digits_test_x.npy "--from snntorch" subtract "-T 8" 10 256
run mlp_bw_t4 models/mlp_bw_t4/mlp_bw_t4.nir models/digits_test_x.npy "--from snntorch" subtract "-T 4" 10 256
run ensemble_bw models/ensemble_bw/ensemble_bw.nir models/digits_test_x.npy "--dt 1e-4" zero "-T 8" 10 256
run conv_bw models/conv_bw/conv_bw.nir models/digits_test_x.npy "--dt 1e-4" zero "-T 8" 5 256
for d in "$1" "$2"; do
    [ -n "$d" ] || continue
    rate=$($PY -c "import json; print(int(round(100 * json.load(open('$d/scale_models.json'))['target_rate'])))")
    run "mlp784_$rate" "$d/mlp784.nir" "$d/inputs_mlp784.npy" "" zero "" 3 256
    $PY -c "import numpy as np; np.save('$OUT/resnet_$rate.npy', np.load('$d/inputs_resnet18_cifar.npy')[:$NR])"
    run "resnet18_$rate" "$d/resnet18_cifar.nir" "$OUT/resnet_$rate.npy" "" zero "" 2 "$NR"
done
$PY - "$OUT" <<'EOF'
import json, sys, os
out = sys.argv[1]
rows = open(os.path.join(out, "order")).read().split()
print("| model | samples | cycle engine /s (/CPU-s) | reference /s (/CPU-s) | snnTorch /s (/CPU-s) | cycle / snnTorch | reference / snnTorch |")
print("|---|---|---|---|---|---|---|")
for name in rows:
    e = json.load(open(os.path.join(out, name + ".engine.json")))
    t = json.load(open(os.path.join(out, name + ".snntorch.json")))
    ce, re = e["cycle_engine"], e["reference_engine"]
    f = lambda v: f"{v:,.1f}" if v < 100 else f"{v:,.0f}"
    ratio = lambda a, b, c, d: f"{a / b:.2f}x ({c / d:.2f}x)"
    print(f"| {name} | {e['samples']} | {f(ce['samples_per_s'])} ({f(ce['samples_per_cpu_s'])}) | "
          f"{f(re['samples_per_s'])} ({f(re['samples_per_cpu_s'])}) | {f(t['samples_per_s'])} ({f(t['samples_per_cpu_s'])}) | "
          f"{ratio(ce['samples_per_s'], t['samples_per_s'], ce['samples_per_cpu_s'], t['samples_per_cpu_s'])} | "
          f"{ratio(re['samples_per_s'], t['samples_per_s'], re['samples_per_cpu_s'], t['samples_per_cpu_s'])} |")
print(f"\ntorch {t['torch']}, snnTorch {t['snntorch']}; one thread each; cycle engine schedule: "
      f"{os.environ.get('SCHEDULE') or 'the target default'}")
EOF
# Calibration search: explore's whole sweep (students, T', early exit) on the 450 test inputs.
echo "== calibration search (spikefab explore, all threads)"
explore() {
    $SF explore "models/$1/$1.nir" $2 --calib models/digits_test_x.npy --labels models/digits_test_y.npy | head -n 1
}
explore mlp_bw "--from snntorch -T 8"
explore mlp_bw_t4 "--from snntorch -T 4"
explore ensemble_bw "--dt 1e-4 -T 8"
explore conv_bw "--dt 1e-4 -T 8"
