#!/bin/sh
# Side-by-side benchmark: spikefab's cycle-accurate and reference engines (`spikefab bench`)
# and snnTorch (benches/snntorch_bench.py), one thread each, same models and inputs, in one run.
# Usage: benches/run.sh [SCALE_DIR]   (SCALE_DIR from training/gen_scale_models.py; optional)
# Needs: a release build (cargo build --release) and Python with torch, snntorch, nir.
set -e
cd "$(dirname "$0")/.."
SF=./target/release/spikefab
PY=${PYTHON:-python3}
run() {
    name=$1; model=$2; inputs=$3; dialect=$4; reset=$5; T=$6
    echo "== $name"
    $SF bench "$model" $dialect --inputs "$inputs" --repeat 5 $T
    $PY benches/snntorch_bench.py "$model" "$inputs" --reset "$reset" ${T:+--timesteps ${T#-T }} --repeat 5
}
run mlp_bw models/mlp_bw/mlp_bw.nir models/digits_test_x.npy "--from snntorch" subtract "-T 8"
run mlp_bw_t4 models/mlp_bw_t4/mlp_bw_t4.nir models/digits_test_x.npy "--from snntorch" subtract "-T 4"
run ensemble_bw models/ensemble_bw/ensemble_bw.nir models/digits_test_x.npy "--dt 1e-4" zero "-T 8"
run conv_bw models/conv_bw/conv_bw.nir models/digits_test_x.npy "--dt 1e-4" zero "-T 8"
# Calibration search: explore's whole sweep (students, T', early exit) on the 450 test inputs.
echo "== calibration search (spikefab explore, all threads)"
explore() {
    $SF explore "models/$1/$1.nir" $2 --calib models/digits_test_x.npy --labels models/digits_test_y.npy | head -n 1
}
explore mlp_bw "--from snntorch -T 8"
explore mlp_bw_t4 "--from snntorch -T 4"
explore ensemble_bw "--dt 1e-4 -T 8"
explore conv_bw "--dt 1e-4 -T 8"
if [ -n "$1" ]; then
    run mlp784 "$1/mlp784.nir" "$1/inputs_mlp784.npy" "" zero ""
    $PY -c "import numpy as np; np.save('$1/inputs_resnet_32.npy', np.load('$1/inputs_resnet18_cifar.npy')[:32])"
    echo "== resnet18_cifar (32 samples)"
    $SF bench "$1/resnet18_cifar.nir" --inputs "$1/inputs_resnet_32.npy" --repeat 2
    $PY benches/snntorch_bench.py "$1/resnet18_cifar.nir" "$1/inputs_resnet_32.npy" --batch 32 --repeat 2
fi
