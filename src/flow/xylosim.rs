//! The vendor's judgement: a Xylo export run in rockpool's XyloSim (through Python), its output
//! spikes, hidden spikes, membranes and currents compared word for word with spikefab's
//! simulation of the chip ([`crate::sim::xylo`]).
//!
//! The Python interpreter is `SPIKEFAB_XYLO_PYTHON` when set, else `python3`; it must import
//! `rockpool` and `xylosim` (`pip install rockpool==3.1.0 xylosim==0.1.3`; samna is not needed).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;

use super::FlowError;
use crate::sim::xylo::XyloRecord;

/// The interpreter that runs XyloSim, when one is installed.
pub fn python() -> Option<PathBuf> {
    let py = std::env::var_os("SPIKEFAB_XYLO_PYTHON").map_or_else(|| PathBuf::from("python3"), PathBuf::from);
    let ok = Command::new(&py).args(["-c", "import rockpool, xylosim"]).output().is_ok_and(|o| o.status.success());
    ok.then_some(py)
}

/// What XyloSim did against spikefab's simulation.
#[derive(Clone, Debug, Default, Serialize)]
pub struct XyloSimReport {
    /// Samples run.
    pub samples: usize,
    /// Steps per sample.
    pub steps: usize,
    /// Values compared (output spikes, hidden spikes, membranes, currents).
    pub words: usize,
    /// Output spikes that differ.
    pub output_mismatches: usize,
    /// Hidden spike counts that differ.
    pub spike_mismatches: usize,
    /// Membrane and current values that differ.
    pub state_mismatches: usize,
    /// Output spikes XyloSim emitted.
    pub output_spikes: u64,
    /// What samna's configuration check said (or that samna is not installed).
    pub samna_configuration: String,
    /// The first differences, for the message.
    pub first_differences: Vec<String>,
    /// Seconds XyloSim took.
    pub seconds: f64,
}

impl XyloSimReport {
    /// True when every value matched.
    pub fn exact(&self) -> bool {
        self.output_mismatches == 0 && self.spike_mismatches == 0 && self.state_mismatches == 0 && self.words > 0
    }
}

/// Arrays of an `.npz` file by name: (shape, values).
pub(crate) type Npz = std::collections::HashMap<String, (Vec<usize>, Vec<i64>)>;

pub(crate) fn read_npz(path: &Path) -> Result<Npz, FlowError> {
    let io = |e: String| FlowError::Io(format!("{}: {e}", path.display()));
    let f = std::fs::File::open(path).map_err(|e| io(e.to_string()))?;
    let mut z = zip::ZipArchive::new(f).map_err(|e| io(e.to_string()))?;
    let mut out = std::collections::HashMap::new();
    for i in 0..z.len() {
        let mut entry = z.by_index(i).map_err(|e| io(e.to_string()))?;
        let name = entry.name().map_err(|e| io(e.to_string()))?.trim_end_matches(".npy").to_string();
        let mut bytes = vec![];
        std::io::Read::read_to_end(&mut entry, &mut bytes).map_err(|e| io(e.to_string()))?;
        let npy = npyz::NpyFile::new(&bytes[..]).map_err(|e| io(format!("{name}: {e}")))?;
        let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
        let data: Vec<i64> = npy.into_vec::<i64>().map_err(|e| io(format!("{name}: {e}")))?;
        out.insert(name, (shape, data));
    }
    Ok(out)
}

/// Runs `dir/run_xylosim.py` with `python` and compares XyloSim's recordings with `ours`
/// (one record per sample, as spikefab simulated the same inputs).
pub fn check(dir: &Path, python: &Path, ours: &[XyloRecord], isyn2: bool) -> Result<XyloSimReport, FlowError> {
    let dir = std::path::absolute(dir).map_err(|e| FlowError::Io(format!("{}: {e}", dir.display())))?;
    let record = dir.join("xylosim_record.npz");
    let t0 = std::time::Instant::now();
    let out = Command::new(python)
        .arg(dir.join("run_xylosim.py"))
        .arg("--record")
        .arg(&record)
        .current_dir(&dir)
        .output()
        .map_err(|e| FlowError::Failed { tool: "XyloSim (python)".into(), message: e.to_string() })?;
    let seconds = t0.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary: serde_json::Value =
        stdout.lines().rev().find_map(|l| serde_json::from_str(l).ok()).ok_or_else(|| FlowError::Failed {
            tool: "XyloSim (python)".into(),
            message: format!("{}{}", stdout, String::from_utf8_lossy(&out.stderr)),
        })?;
    let rec = read_npz(&record)?;
    let mut r = XyloSimReport {
        samples: ours.len(),
        steps: ours.first().map_or(0, |o| o.steps),
        output_spikes: summary["output_spikes"].as_u64().unwrap_or(0),
        samna_configuration: summary["samna_configuration"].as_str().unwrap_or("").to_string(),
        seconds,
        ..Default::default()
    };
    type Get = fn(&XyloRecord) -> Vec<i64>;
    let fields: Vec<(&str, Get, u8)> = vec![
        ("out_spikes", |o| o.out_spikes.iter().map(|&x| i64::from(x)).collect(), 0),
        ("Spikes", |o| o.spikes.iter().map(|&x| i64::from(x)).collect(), 1),
        ("Vmem", |o| o.vmem.iter().map(|&x| i64::from(x)).collect(), 2),
        ("Isyn", |o| o.isyn.iter().map(|&x| i64::from(x)).collect(), 2),
        ("Vmem_out", |o| o.vmem_out.iter().map(|&x| i64::from(x)).collect(), 2),
        ("Isyn_out", |o| o.isyn_out.iter().map(|&x| i64::from(x)).collect(), 2),
        ("Isyn2", |o| o.isyn2.iter().map(|&x| i64::from(x)).collect(), 2),
    ];
    for (name, get, class) in fields {
        if name == "Isyn2" && !isyn2 {
            continue;
        }
        let (shape, theirs) = rec.get(name).ok_or_else(|| FlowError::Io(format!("XyloSim recorded no '{name}'")))?;
        let per = theirs.len() / ours.len().max(1);
        if shape.first() != Some(&ours.len()) {
            return Err(FlowError::Io(format!("XyloSim's '{name}' has shape {shape:?} for {} samples", ours.len())));
        }
        for (i, o) in ours.iter().enumerate() {
            let mine = get(o);
            let theirs = &theirs[i * per..(i + 1) * per];
            r.words += mine.len().max(theirs.len());
            for k in 0..mine.len().max(theirs.len()) {
                let (a, b) = (mine.get(k), theirs.get(k));
                if a != b {
                    match class {
                        0 => r.output_mismatches += 1,
                        1 => r.spike_mismatches += 1,
                        _ => r.state_mismatches += 1,
                    }
                    if r.first_differences.len() < 8 {
                        r.first_differences.push(format!("sample {i} {name}[{k}]: spikefab {a:?}, XyloSim {b:?}"));
                    }
                }
            }
        }
    }
    Ok(r)
}
