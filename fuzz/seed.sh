#!/usr/bin/env bash
# Builds the fuzz corpora in fuzz/corpus/<target>/ from the repository's own files: every
# .nir/.onnx/.npy under tests/data and models (the broken-input corpora included), the
# crash regressions in tests/data/fuzz, and for JSON every model converted with
# `spikefab convert` (compact, up to 64 KB). The pipeline corpus is the JSON corpus behind
# a few option prefixes (see fuzz_targets/common.rs), and so is the engine corpus. Existing corpus files are kept.
set -euo pipefail
cd "$(dirname "$0")/.."
C=fuzz/corpus
mkdir -p $C/nir $C/onnx $C/json $C/npy $C/pipeline $C/engine
cp_into() { # dir files...
    local d=$1; shift
    for f in "$@"; do cp "$f" "$d/seed_$(echo "$f" | tr '/' '_')"; done
}
mapfile -t nir < <(find tests/data models -name '*.nir' | sort)
mapfile -t onnx < <(find tests/data models -name '*.onnx' | sort)
mapfile -t npy < <(find tests/data models -name '*.npy' | sort)
cp_into $C/nir "${nir[@]}"
cp_into $C/onnx "${onnx[@]}"
cp_into $C/npy "${npy[@]}"
for t in nir onnx json npy pipeline; do
    if [ -d tests/data/fuzz/$t ]; then cp_into $C/$t $(find tests/data/fuzz/$t -type f ! -name '*.json' -o -type f -path "*/fuzz/json/*" -name '*.json' | sort); fi
done
cargo build --release --quiet
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for f in "${nir[@]}" "${onnx[@]}"; do
    case $f in *broken*) continue ;; esac
    out=$tmp/$(echo "${f%.*}" | tr '/' '_').json
    if [ "${f##*.}" = onnx ]; then
        target/release/spikefab convert "$f" -T 4 -o "$out" >/dev/null 2>&1 || continue
    else
        target/release/spikefab convert "$f" --dt 1e-3 -T 4 -o "$out" >/dev/null 2>&1 || continue
    fi
    python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])), separators=(",", ":")))' "$out" >"$out.min"
    [ "$(stat -c %s "$out.min")" -le 65536 ] || continue
    b=$(basename "$out")
    cp "$out.min" $C/json/seed_$b
    # Option prefixes: T, target/lanes, weight/input bits, frac/leak bits, membrane cap (bit 7:
    # the dense datapath), input max. The dense ones have binary weights (weight bits 1), the
    # only weights a projection gathers densely with.
    for p in '\x03\x00\x77\x06\x00\x10' '\x27\x05\x00\x06\x00\x01' '\x9f\x0e\xff\x9a\x0c\x40' '\x03\xc8\x77\x06\x00\x10' '\x43\x64\x00\x06\x00\x01' '\x03\x00\x70\x06\x80\x10' '\x27\x45\x00\x06\x80\x01' '\x07\x28\x70\x06\x80\x10'; do
        { printf "$p"; cat "$out.min"; } >$C/pipeline/seed_${p//\\x/}_$b
        cp $C/pipeline/seed_${p//\\x/}_$b $C/engine/
    done
    # The same model with binary weights (each weight's sign, so every row is +-1) behind the
    # dense prefixes: the models here are multi-bit, and a projection gathers densely only
    # with binary weights (docs/hardware.md 4c).
    python3 -c 'import json,sys
g = json.load(open(sys.argv[1]))
for n in g["nodes"]:
    if n["op"]["type"] in ("Conv", "Affine", "Linear"):
        w = n["op"]["weight"]
        w["data"] = [1.0 if v >= 0 else -1.0 for v in w["data"]]
print(json.dumps(g, separators=(",", ":")))' "$out.min" >"$out.bin"
    for p in '\x03\x00\x70\x06\x80\x10' '\x27\x45\x00\x06\x80\x01' '\x07\x28\x70\x06\x80\x10'; do
        { printf "$p"; cat "$out.bin"; } >$C/pipeline/seed_${p//\\x/}_binary_$b
        cp $C/pipeline/seed_${p//\\x/}_binary_$b $C/engine/
    done
done
for t in nir onnx json npy pipeline engine; do echo "$t: $(ls $C/$t | wc -l) files"; done
