//! The vendor's judgement: a Xylo export run in rockpool's XyloSim (through Python), its output
//! spikes, hidden spikes, membranes and currents compared word for word with spikefab's
//! simulation of the chip ([`crate::sim::xylo`]).
//!
//! The Python interpreter is `SPIKEFAB_XYLO_PYTHON` when set, else `python3`; it must import
//! `rockpool` and `xylosim` (`pip install rockpool==3.1.0 xylosim==0.1.3`; samna is not needed).

use std::path::{Path, PathBuf};

use super::FlowError;
use super::vendor::{self, Class, Field, Judge, VendorCheck};
use crate::sim::xylo::XyloRecord;

/// The interpreter that runs XyloSim, when one is installed.
pub fn python() -> Option<PathBuf> {
    vendor::python("SPIKEFAB_XYLO_PYTHON", "rockpool, xylosim")
}

/// Runs `dir/run_xylosim.py` with `python` and compares XyloSim's recordings with `ours`
/// (one record per sample, as spikefab simulated the same inputs); `isyn2`: the hidden
/// neurons' second synaptic current is recorded too (Xylo Audio 2's XyloSim records it,
/// [`crate::back::xylo::records_isyn2`]).
pub fn check(dir: &Path, python: &Path, ours: &[XyloRecord], isyn2: bool) -> Result<VendorCheck, FlowError> {
    type Get = fn(&XyloRecord) -> Vec<i64>;
    let arrays: [(&str, Get, Class); 7] = [
        ("out_spikes", |o| o.out_spikes.iter().map(|&x| i64::from(x)).collect(), Class::Output),
        ("Spikes", |o| o.spikes.iter().map(|&x| i64::from(x)).collect(), Class::Spikes),
        ("Vmem", |o| o.vmem.iter().map(|&x| i64::from(x)).collect(), Class::State),
        ("Isyn", |o| o.isyn.iter().map(|&x| i64::from(x)).collect(), Class::State),
        ("Vmem_out", |o| o.vmem_out.iter().map(|&x| i64::from(x)).collect(), Class::State),
        ("Isyn_out", |o| o.isyn_out.iter().map(|&x| i64::from(x)).collect(), Class::State),
        ("Isyn2", |o| o.isyn2.iter().map(|&x| i64::from(x)).collect(), Class::State),
    ];
    let fields: Vec<Field<'_>> = arrays
        .into_iter()
        .filter(|(name, ..)| isyn2 || *name != "Isyn2")
        .map(|(name, get, class)| Field { name: name.into(), class, ours: Box::new(move |i| get(&ours[i])) })
        .collect();
    let j = Judge {
        simulator: "XyloSim",
        python,
        script: "run_xylosim.py",
        record: "xylosim_record.npz",
        samples: ours.len(),
        steps: ours.first().map_or(0, |o| o.steps),
        notes: &["samna_configuration"],
    };
    vendor::judge(dir, &j, &fields)
}
