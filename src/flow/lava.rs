//! Lava's judgement: a Loihi export run in Lava's fixed-point simulator (through Python), its
//! output spikes and every layer's `u` and `v` compared value for value with spikefab's
//! simulation of the chip ([`crate::sim::loihi`]).
//!
//! The Python interpreter is `SPIKEFAB_LAVA_PYTHON` when set, else `python3`; it must import
//! `lava.lib.dl.netx` (lava-nc 0.10.0 and lava-dl 0.6.0; see the README for the install).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;

use super::FlowError;
use super::xylosim::read_npz;
use crate::sim::loihi::LoihiRecord;

/// The interpreter that runs Lava, when one is installed.
pub fn python() -> Option<PathBuf> {
    let py = std::env::var_os("SPIKEFAB_LAVA_PYTHON").map_or_else(|| PathBuf::from("python3"), PathBuf::from);
    let ok = Command::new(&py).args(["-c", "import lava.lib.dl.netx"]).output().is_ok_and(|o| o.status.success());
    ok.then_some(py)
}

/// What Lava did against spikefab's simulation.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LavaReport {
    /// Samples run.
    pub samples: usize,
    /// Steps per sample (T + layers).
    pub steps: usize,
    /// Values compared (output spikes, and u and v of every neuron at every step).
    pub words: usize,
    /// Output spikes compared.
    pub output_words: usize,
    /// Output spikes that differ.
    pub output_mismatches: usize,
    /// u and v values that differ.
    pub state_mismatches: usize,
    /// Output spikes Lava emitted.
    pub output_spikes: u64,
    /// The first differences, for the message.
    pub first_differences: Vec<String>,
    /// Seconds Lava took.
    pub seconds: f64,
}

impl LavaReport {
    /// True when every value matched.
    pub fn exact(&self) -> bool {
        self.output_mismatches == 0 && self.state_mismatches == 0 && self.words > 0
    }
}

/// A recorded array's name and how to read spikefab's side of it.
type Field = (String, Box<dyn Fn(&LoihiRecord) -> Vec<i64>>);

/// Runs `dir/run_lava.py` with `python` and compares Lava's recordings with `ours` (one
/// record per sample, as spikefab simulated the same inputs).
pub fn check(dir: &Path, python: &Path, ours: &[LoihiRecord]) -> Result<LavaReport, FlowError> {
    let dir = std::path::absolute(dir).map_err(|e| FlowError::Io(format!("{}: {e}", dir.display())))?;
    let record = dir.join("lava_record.npz");
    let t0 = std::time::Instant::now();
    let out = Command::new(python)
        .arg(dir.join("run_lava.py"))
        .arg("--record")
        .arg(&record)
        .current_dir(&dir)
        .output()
        .map_err(|e| FlowError::Failed { tool: "Lava (python)".into(), message: e.to_string() })?;
    let seconds = t0.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary: serde_json::Value =
        stdout.lines().rev().find_map(|l| serde_json::from_str(l).ok()).ok_or_else(|| FlowError::Failed {
            tool: "Lava (python)".into(),
            message: format!("{}{}", stdout, String::from_utf8_lossy(&out.stderr)),
        })?;
    let rec = read_npz(&record)?;
    let mut r = LavaReport {
        samples: ours.len(),
        steps: ours.first().map_or(0, |o| o.steps),
        output_spikes: summary["output_spikes"].as_u64().unwrap_or(0),
        seconds,
        ..Default::default()
    };
    let layers = ours.first().map_or(0, |o| o.u.len());
    let mut fields: Vec<Field> =
        vec![("out_spikes".into(), Box::new(|o: &LoihiRecord| o.out_spikes.iter().map(|&x| i64::from(x)).collect()))];
    for k in 0..layers {
        fields.push((format!("u{k}"), Box::new(move |o: &LoihiRecord| o.u[k].iter().map(|&x| i64::from(x)).collect())));
        fields.push((format!("v{k}"), Box::new(move |o: &LoihiRecord| o.v[k].iter().map(|&x| i64::from(x)).collect())));
    }
    for (name, get) in &fields {
        let (shape, theirs) = rec.get(name).ok_or_else(|| FlowError::Io(format!("Lava recorded no '{name}'")))?;
        if shape.first() != Some(&ours.len()) {
            return Err(FlowError::Io(format!("Lava's '{name}' has shape {shape:?} for {} samples", ours.len())));
        }
        let per = theirs.len() / ours.len().max(1);
        for (i, o) in ours.iter().enumerate() {
            let mine = get(o);
            let theirs = &theirs[i * per..(i + 1) * per];
            let len = mine.len().max(theirs.len());
            r.words += len;
            if name == "out_spikes" {
                r.output_words += len;
            }
            for k in 0..len {
                let (a, b) = (mine.get(k), theirs.get(k));
                if a != b {
                    if name == "out_spikes" {
                        r.output_mismatches += 1;
                    } else {
                        r.state_mismatches += 1;
                    }
                    if r.first_differences.len() < 8 {
                        r.first_differences.push(format!("sample {i} {name}[{k}]: spikefab {a:?}, Lava {b:?}"));
                    }
                }
            }
        }
    }
    Ok(r)
}
