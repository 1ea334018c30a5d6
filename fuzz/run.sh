#!/usr/bin/env bash
# Runs the fuzz targets one after another, one job each, with the project's limits (2 GB RSS,
# 10 s per input). Each target runs for RUNS executions (`--runs`, default 2,000,000) or for
# SECONDS (`--seconds`). Logs go to fuzz/logs/<target>.log, crashes, time-outs and OOMs to
# fuzz/artifacts/<target>/; the last lines printed are a table of executions per target.
# Usage: fuzz/run.sh [--runs N | --seconds S] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
limit=(-runs=2000000)
case ${1:-} in
    --runs) limit=(-runs="$2"); shift 2 ;;
    --seconds) limit=(-max_total_time="$2"); shift 2 ;;
esac
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(nir onnx json npy pipeline engine)
[ -d corpus/engine ] || ./seed.sh
cargo +nightly fuzz build -O -a
mkdir -p logs
for t in "${targets[@]}"; do
    extra=()
    case $t in
        json) extra=(-dict=dict/json.dict -max_len=65536) ;;
        pipeline | engine) extra=(-dict=dict/json.dict -max_len=65536) ;;
        onnx) extra=(-dict=dict/onnx.dict) ;;
    esac
    echo "== $t (${limit[*]})"
    start=$(date +%s)
    status=0
    cargo +nightly fuzz run -O -a "$t" corpus/$t -- -jobs=1 -rss_limit_mb=2048 -timeout=10 \
        "${limit[@]}" -print_final_stats=1 "${extra[@]}" >logs/$t.log 2>&1 || status=$?
    secs=$(($(date +%s) - start))
    runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' logs/$t.log | tail -1 | grep -o '[0-9]*$' || echo 0)
    grep -E '==[0-9]+== ERROR|^SUMMARY|Test unit written' logs/$t.log || true
    echo "$t: $runs executions in ${secs}s, exit $status" | tee -a logs/summary.txt
    [ $status -eq 0 ] || exit 1
done
