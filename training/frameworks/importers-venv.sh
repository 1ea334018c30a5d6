#!/usr/bin/env bash
# The Python environment of training/frameworks/importers.py (fixtures from the frameworks' own
# NIR importers). Usage: bash training/frameworks/importers-venv.sh [VENV]  (default
# /opt/venvs/frameworks). Idempotent: does nothing when VENV already holds these versions.
#
#   VENV             torch 2.3.1, numpy 1.26.4, snntorch 1.0.0, nir 1.0.8, nirtorch 2.6,
#                    sinabs 3.1.3 without its dependencies: its dependency samna is a PyPI stub
#                    that pip-installs from a non-PyPI host when imported, so it is never
#                    installed (sinabs itself never imports it); sinabs' real dependencies
#                    (pbr, matplotlib, numpy, torch) are installed by name.
#   VENV/sinabs-nir  nir 1.0.4 + nirtorch 2.0.2, what `pip install sinabs` resolves to (sinabs
#                    3.1.3 requires nir<=1.0.4; nirtorch >= 2.0.3 requires nir>=1.0.6), which
#                    snnTorch 1.0's importer cannot use (it needs nirtorch.nir_to_torch, 2.x
#                    with nir>=1.0.6). importers.py puts it first on PYTHONPATH for the Sinabs
#                    cases only.
#
# torch 2.3.1 from PyPI brings its CUDA wheels (about 2.5 GB, the same ones /opt/venvs/lava
# uses); the fixtures run on the CPU.
set -euo pipefail
venv="${1:-/opt/venvs/frameworks}"
pipq=(--quiet --disable-pip-version-check)

ready() {
    [ -x "$venv/bin/python" ] && [ -d "$venv/sinabs-nir/nir" ] && [ -d "$venv/sinabs-nir/nirtorch" ] &&
        "$venv/bin/python" - "$venv/sinabs-nir" >/dev/null 2>&1 <<'PY'
import importlib.metadata as md, importlib.util, sys
want = {"torch": "2.3.1", "numpy": "1.26.4", "snntorch": "1.0.0", "nir": "1.0.8",
        "nirtorch": "2.6", "sinabs": "3.1.3", "h5py": "3.16.0", "pbr": "7.1.3",
        "matplotlib": "3.11.2"}
assert all(md.version(k) == v for k, v in want.items())
assert importlib.util.find_spec("samna") is None
side = {d.metadata["Name"].lower(): d.version for d in md.distributions(path=[sys.argv[1]])}
assert side.get("nir") == "1.0.4" and side.get("nirtorch") == "2.0.2", side
PY
}

if ready; then
    echo "importers-venv: $venv is ready"
    exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install "${pipq[@]}" torch==2.3.1 numpy==1.26.4 h5py==3.16.0 pbr==7.1.3 \
    matplotlib==3.11.2
"$venv/bin/pip" install "${pipq[@]}" --no-deps nir==1.0.8 nirtorch==2.6 snntorch==1.0.0 sinabs==3.1.3
rm -rf "$venv/sinabs-nir"
"$venv/bin/pip" install "${pipq[@]}" --no-deps --target "$venv/sinabs-nir" nir==1.0.4 nirtorch==2.0.2
"$venv/bin/pip" uninstall --quiet --disable-pip-version-check -y samna >/dev/null 2>&1 || true
ready || { echo "importers-venv: $venv does not hold the expected versions" >&2; exit 1; }
echo "importers-venv: made $venv"
