//! Xylo export: `spec.npz` holds exactly the keyword arguments of rockpool's
//! `XyloSim.from_specification` (names, shapes and integer dtypes as rockpool's mapper writes
//! them), `inputs.npy` the event counts fed to the chip (`N x T' x 16`, uint8, at most 15),
//! `expected_spikes.npy` spikefab's simulation of the chip (`N x T' x outputs`, uint8) and
//! `run_xylosim.py` loads the specification into XyloSim (and into samna's configuration where
//! samna is installed), runs every sample and compares.
//!
//! rockpool 3.1.0's Xylo packages import samna unguarded (the Xylo package's `__init__.py`, and
//! Xylo Audio 3's own, `syns65302`), and samna is not needed to simulate: without it the script
//! registers those packages as bare modules and imports only what XyloSim needs
//! ([`RockpoolXylo`]). The script of every chip is one template; Xylo IMU's and Xylo Audio 2's
//! render as they always have.
//!
//! `T' = T + lag`: the chip's output runs `lag` steps behind the model (see
//! [`crate::chip::xylo`]).

use std::io::Write;

use crate::data::npy_bytes as npy;

use crate::chip::xylo::XyloSpec;

/// The arrays of `spec.npz`, in the order rockpool's mapper returns them.
pub fn spec_arrays(s: &XyloSpec) -> Vec<(&'static str, Vec<u8>)> {
    let (nin, nh, no, ns) = (s.n_in, s.n_hidden, s.n_out, s.synapses);
    let no_aliases: [i64; 0] = [];
    vec![
        ("weights_in", npy(&[nin, s.ien, ns], &s.weights_in)),
        ("weights_out", npy(&[s.oen, no], &s.weights_out)),
        ("weights_rec", npy(&[nh, nh, ns], &s.weights_rec)),
        ("dash_mem", npy(&[nh], &s.dash_mem)),
        ("dash_mem_out", npy(&[no], &s.dash_mem_out)),
        ("dash_syn", npy(&[nh], &s.dash_syn)),
        ("dash_syn_2", npy(&[nh], &s.dash_syn_2)),
        ("dash_syn_out", npy(&[no], &s.dash_syn_out)),
        ("threshold", npy(&[nh], &s.threshold)),
        ("threshold_out", npy(&[no], &s.threshold_out)),
        ("bias", npy(&[nh], &s.bias)),
        ("bias_out", npy(&[no], &s.bias_out)),
        ("weight_shift_in", npy(&[], &[s.weight_shift_in])),
        ("weight_shift_rec", npy(&[], &[s.weight_shift_rec])),
        ("weight_shift_out", npy(&[], &[s.weight_shift_out])),
        ("aliases", npy(&[nh, 0], &no_aliases)),
        ("dt", npy(&[], &[s.dt])),
    ]
}

/// `numpy.savez`'s format: a stored (uncompressed) zip of `<name>.npy` files.
pub fn npz(arrays: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(vec![]);
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .last_modified_time(zip::DateTime::default());
        for (name, bytes) in arrays {
            z.start_file(format!("{name}.npy"), opts).expect("writing into memory");
            z.write_all(bytes).expect("writing into memory");
        }
        z.finish().expect("writing into memory");
    }
    buf.into_inner()
}

/// The files of the export: (name, bytes). `inputs` is `n x steps x 16` event counts,
/// `expected` `n x steps x n_out` output spikes.
pub fn files(
    spec: &XyloSpec,
    chip: &str,
    n: usize,
    steps: usize,
    inputs: &[u8],
    expected: &[u8],
) -> Vec<(String, Vec<u8>)> {
    vec![
        ("spec.npz".into(), npz(&spec_arrays(spec))),
        ("inputs.npy".into(), npy(&[n, steps, spec.n_in], inputs)),
        ("expected_spikes.npy".into(), npy(&[n, steps, spec.n_out], expected)),
        ("run_xylosim.py".into(), script(chip).into_bytes()),
    ]
}

/// What the export's script must know of one of rockpool 3.1.0's Xylo packages
/// (`rockpool/devices/xylo/<module>/`) whose XyloSim runs xylosim's v2 core, the core
/// [`crate::sim::xylo`] models.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RockpoolXylo {
    /// The package's name, a target's `chip.vendor_module`.
    pub module: &'static str,
    /// Its XyloSim records the hidden neurons' second synaptic current (`Isyn2`) whatever the
    /// specification: syns61201's own `xylo_sim.py` does; syns63300's, which syns65302 imports,
    /// does not, even for a specification with two synapses per neuron.
    pub records_isyn2: bool,
    /// Its `__init__.py` imports samna outside any guard (syns65302, through `afe_samna_pdm.py`):
    /// without samna the script registers the package bare and takes `XyloSim` from the module
    /// that `__init__.py` imports it from.
    pub imports_samna: bool,
}

/// rockpool 3.1.0's Xylo packages on the xylosim v2 core: Xylo IMU, Xylo Audio 2, Xylo Audio 3.
/// (syns61300, Xylo Audio 1, runs xylosim's v1 core, which spikefab does not model.)
pub const ROCKPOOL_XYLO: &[RockpoolXylo] = &[
    RockpoolXylo { module: "syns63300", records_isyn2: false, imports_samna: false },
    RockpoolXylo { module: "syns61201", records_isyn2: true, imports_samna: false },
    RockpoolXylo { module: "syns65302", records_isyn2: false, imports_samna: true },
];

/// rockpool's Xylo package `module`, when spikefab knows it.
pub fn rockpool_xylo(module: &str) -> Option<&'static RockpoolXylo> {
    ROCKPOOL_XYLO.iter().find(|m| m.module == module)
}

/// True when XyloSim records the hidden neurons' second synaptic current for `chip` (rockpool's
/// module of the chip; false for a module spikefab does not know).
pub fn records_isyn2(chip: &str) -> bool {
    rockpool_xylo(chip).is_some_and(|m| m.records_isyn2)
}

/// The script that runs the export in XyloSim. `chip` is rockpool's module of the chip, a
/// plain token (`Target::check`).
pub fn script(chip: &str) -> String {
    let isyn2 = if records_isyn2(chip) { "\"Isyn2\", " } else { "" };
    let bare = rockpool_xylo(chip).is_some_and(|m| m.imports_samna);
    SCRIPT
        .replace("{IMPORT_CHIP}", if bare { BARE_CHIP } else { IMPORT_CHIP })
        .replace("{CHIP}", chip)
        .replace("{ISYN2}", isyn2)
}

/// The end of `xylo_module()` for a package that imports without samna once its parent is bare.
const IMPORT_CHIP: &str = "        return importlib.import_module(name + \".\" + CHIP), False\n";

/// The end of `xylo_module()` for a package whose own `__init__.py` imports samna unguarded.
const BARE_CHIP: &str = r#"        # rockpool 3.1's {CHIP}/__init__.py imports samna unguarded too: register the chip's
        # package bare as well and take XyloSim from the module its __init__.py imports it from
        # by name (read, not run), which must load without samna.
        import ast

        chip = types.ModuleType(name + "." + CHIP)
        chip.__path__ = [os.path.join(pkg.__path__[0], CHIP)]
        sys.modules[chip.__name__] = chip
        with open(os.path.join(chip.__path__[0], "__init__.py")) as f:
            tree = ast.parse(f.read())
        froms = [n for n in tree.body if isinstance(n, ast.ImportFrom)
                 and any(a.name == "XyloSim" and a.asname is None for a in n.names)]
        if len(froms) != 1:
            raise ImportError("%s/__init__.py does not import XyloSim from one module" % CHIP)
        src = importlib.import_module("." * froms[0].level + (froms[0].module or ""), chip.__name__)
        chip.XyloSim = src.XyloSim
        if "samna" in sys.modules:
            raise ImportError("loading XyloSim imported samna")
        return chip, False
"#;

const SCRIPT: &str = r#""""Runs spikefab's Xylo export in rockpool's XyloSim (generated by spikefab).

Loads spec.npz unchanged into XyloSim.from_specification (and, where samna is installed, into
samna's Xylo configuration), runs every sample of inputs.npy from a reset state and compares the
output spikes with expected_spikes.npy (spikefab's simulation of the chip). With --record FILE
it also saves what XyloSim recorded (output spikes, hidden spikes, membranes and currents).
Prints one JSON line; exits 0 when every output spike matches, 1 otherwise.

Usage: python run_xylosim.py [--record FILE]
"""
import argparse
import importlib
import json
import os
import sys
import types

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
CHIP = "{CHIP}"
RECORDED = ["Spikes", "Vmem", "Isyn", {ISYN2}"Vmem_out", "Isyn_out"]


def xylo_module():
    # rockpool 3.1's rockpool/devices/xylo/__init__.py imports samna unguarded: without samna,
    # register the package as a plain namespace so the chip's own module imports.
    try:
        return importlib.import_module("rockpool.devices.xylo." + CHIP), True
    except ImportError:
        import rockpool

        name = "rockpool.devices.xylo"
        for k in [k for k in sys.modules if k.startswith(name)]:
            del sys.modules[k]
        pkg = types.ModuleType(name)
        pkg.__path__ = [os.path.join(os.path.dirname(rockpool.__file__), "devices", "xylo")]
        sys.modules[name] = pkg
{IMPORT_CHIP}

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--record", help="save XyloSim's recordings to this .npz")
    args = ap.parse_args()
    spec = dict(np.load(os.path.join(HERE, "spec.npz")))
    x = np.load(os.path.join(HERE, "inputs.npy"))
    expected = np.load(os.path.join(HERE, "expected_spikes.npy"))
    mod, with_samna = xylo_module()
    samna_config = "samna not installed"
    if with_samna:
        try:
            mod.config_from_specification(**spec)
            samna_config = "loaded"
        except Exception as e:  # the configuration check of the real chip
            samna_config = "refused: %s" % e
    sim = mod.XyloSim.from_specification(**spec)
    outs, rec = [], {k: [] for k in RECORDED}
    for i in range(x.shape[0]):
        sim.reset_state()
        out, _, r = sim(x[i], record=True)
        outs.append(np.asarray(out, dtype=np.int64))
        for k in RECORDED:
            rec[k].append(np.asarray(r[k], dtype=np.int64))
    outs = np.stack(outs)
    if args.record:
        # C order: XyloSim records Fortran-ordered arrays, and stacking one sample keeps that.
        np.savez(args.record, out_spikes=outs, **{k: np.ascontiguousarray(np.stack(v)) for k, v in rec.items()})
    mismatches = int(np.count_nonzero(outs != expected))
    print(json.dumps({
        "chip": CHIP,
        "samples": int(x.shape[0]),
        "steps": int(x.shape[1]),
        "output_spikes": int(outs.sum()),
        "mismatching_outputs": mismatches,
        "samna_configuration": samna_config,
    }))
    sys.exit(0 if mismatches == 0 else 1)


if __name__ == "__main__":
    main()
"#;

#[cfg(test)]
mod tests {
    use super::{ROCKPOOL_XYLO, script};

    #[test]
    fn only_a_package_that_imports_samna_is_loaded_bare() {
        for m in ROCKPOOL_XYLO {
            let s = script(m.module);
            for p in ["{CHIP}", "{ISYN2}", "{IMPORT_CHIP}"] {
                assert!(!s.contains(p), "{}: {p}", m.module);
            }
            assert!(s.contains(&format!("CHIP = \"{}\"\n", m.module)));
            assert_eq!(s.contains("\"Isyn2\", "), m.records_isyn2, "{}", m.module);
            assert_eq!(s.contains("import ast"), m.imports_samna, "{}", m.module);
            assert_eq!(
                s.matches("return importlib.import_module(name + \".\" + CHIP), False").count(),
                usize::from(!m.imports_samna)
            );
        }
        // Xylo IMU's and Audio 2's scripts differ in the chip's name and Audio 2's Isyn2 only.
        let imu = script("syns63300").replace("\"Isyn\", ", "\"Isyn\", \"Isyn2\", ");
        assert_eq!(imu.replace("syns63300", "syns61201"), script("syns61201"));
    }
}
