//! Lava's judgement: a Loihi export run in Lava's fixed-point simulator (through Python), its
//! output spikes and every layer's `u` and `v` over each sample's model steps compared value
//! for value with spikefab's simulation of the chip ([`crate::sim::loihi`]). The script also
//! runs the first samples again, each alone in a fresh network, and fails when one gives other
//! output spikes than in the stream; what it found is kept as a note.
//!
//! The Python interpreter is `SPIKEFAB_LAVA_PYTHON` when set, else `python3`; it must import
//! `lava.lib.dl.netx` (lava-nc 0.10.0 and lava-dl 0.6.0; see the README for the install).

use std::path::{Path, PathBuf};

use super::FlowError;
use super::vendor::{self, Class, Field, Judge, VendorCheck};
use crate::sim::loihi::LoihiRecord;

/// The interpreter that runs Lava, when one is installed.
pub fn python() -> Option<PathBuf> {
    vendor::python("SPIKEFAB_LAVA_PYTHON", "lava.lib.dl.netx")
}

/// Runs `dir/run_lava.py` with `python` and compares Lava's recordings with `ours` (one
/// record per sample, as spikefab simulated the same inputs).
pub fn check(dir: &Path, python: &Path, ours: &[LoihiRecord]) -> Result<VendorCheck, FlowError> {
    let layers = ours.first().map_or(0, |o| o.u.len());
    let mut fields = vec![Field {
        name: "out_spikes".into(),
        class: Class::Output,
        ours: Box::new(|i| ours[i].out_spikes.iter().map(|&x| i64::from(x)).collect()),
    }];
    for k in 0..layers {
        fields.push(Field {
            name: format!("u{k}"),
            class: Class::State,
            ours: Box::new(move |i| ours[i].u[k].iter().map(|&x| i64::from(x)).collect()),
        });
        fields.push(Field {
            name: format!("v{k}"),
            class: Class::State,
            ours: Box::new(move |i| ours[i].v[k].iter().map(|&x| i64::from(x)).collect()),
        });
    }
    let j = Judge {
        simulator: "Lava",
        python,
        script: "run_lava.py",
        record: "lava_record.npz",
        samples: ours.len(),
        steps: ours.first().map_or(0, |o| o.steps),
        notes: &["alone"],
    };
    vendor::judge(dir, &j, &fields)
}
