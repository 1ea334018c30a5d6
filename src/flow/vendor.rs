//! A vendor's judgement of a chip export: the export's own Python script runs it in the
//! vendor's simulator and records what the simulator computed into an `.npz`; every recorded
//! value is compared with spikefab's simulation of the chip on the same inputs.
//!
//! Each chip's flow module ([`super::xylosim`], [`super::lava`]) names the Python environment
//! and lists the recorded arrays with spikefab's side of each; this module runs the script and
//! counts the differences, the same way for every chip.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;

use super::FlowError;

/// The interpreter named by the environment variable `env` (else `python3`), when it imports
/// `modules` (a Python import list, e.g. `rockpool, xylosim`).
pub fn python(env: &str, modules: &str) -> Option<PathBuf> {
    let py = std::env::var_os(env).map_or_else(|| PathBuf::from("python3"), PathBuf::from);
    let ok = Command::new(&py).args(["-c", &format!("import {modules}")]).output().is_ok_and(|o| o.status.success());
    ok.then_some(py)
}

/// What a recorded array holds, for counting its differences.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Output spikes.
    Output,
    /// Hidden spike counts.
    Spikes,
    /// Membranes, currents and other neuron state.
    State,
}

/// One recorded array: its name in the `.npz`, its class, and spikefab's values of a sample.
pub struct Field<'a> {
    /// Array name (the `.npz` entry without `.npy`).
    pub name: String,
    /// What it holds.
    pub class: Class,
    /// spikefab's values for sample `i`, in the recording's order.
    pub ours: Box<dyn Fn(usize) -> Vec<i64> + 'a>,
}

/// What the vendor's simulator computed against spikefab's simulation of the chip.
#[derive(Clone, Debug, Default, Serialize)]
pub struct VendorCheck {
    /// The simulator that ran the export.
    pub simulator: String,
    /// Samples run.
    pub samples: usize,
    /// Chip steps per sample.
    pub steps: usize,
    /// Values compared (every recorded array, every sample).
    pub words: usize,
    /// Output spikes compared.
    pub output_words: usize,
    /// Output spikes that differ.
    pub output_mismatches: usize,
    /// Hidden spike counts that differ.
    pub spike_mismatches: usize,
    /// Membrane, current and other state values that differ.
    pub state_mismatches: usize,
    /// Output spikes the vendor's simulator emitted.
    pub output_spikes: u64,
    /// What the script reported besides its recordings (e.g. a configuration check).
    pub notes: Vec<String>,
    /// The first differences, for the message.
    pub first_differences: Vec<String>,
    /// Seconds the script took.
    pub seconds: f64,
}

impl VendorCheck {
    /// True when every value matched.
    pub fn exact(&self) -> bool {
        self.output_mismatches == 0 && self.spike_mismatches == 0 && self.state_mismatches == 0 && self.words > 0
    }

    /// The one-line verdict the commands print.
    pub fn verdict(&self) -> String {
        if self.exact() {
            format!(
                "{} values identical ({} output spikes, the rest the neurons' recorded state)",
                self.words, self.output_words
            )
        } else {
            format!(
                "{} output spikes, {} spike counts and {} states of {} values differ",
                self.output_mismatches, self.spike_mismatches, self.state_mismatches, self.words
            )
        }
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
        let fortran = npy.order() == npyz::Order::Fortran;
        let data: Vec<i64> = npy.into_vec::<i64>().map_err(|e| io(format!("{name}: {e}")))?;
        out.insert(name, (shape.clone(), if fortran { c_order(&shape, &data) } else { data }));
    }
    Ok(out)
}

/// `data`, stored in Fortran order (first index fastest) for `shape`, in C order (last index
/// fastest): what a recording saved from a transposed or Fortran-ordered array holds.
fn c_order(shape: &[usize], data: &[i64]) -> Vec<i64> {
    let mut out = Vec::with_capacity(data.len());
    let mut idx = vec![0usize; shape.len()];
    for _ in 0..data.len() {
        // Fortran offset of the C-order position `idx`.
        let off = idx.iter().zip(shape).rev().fold(0, |acc, (&i, &d)| acc * d + i);
        out.push(data[off]);
        for d in (0..shape.len()).rev() {
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    out
}

/// The script to run and what to compare.
pub struct Judge<'a> {
    /// The simulator's name in messages ("XyloSim").
    pub simulator: &'a str,
    /// The Python interpreter.
    pub python: &'a Path,
    /// The export's script (in the export folder), run as `script --record FILE`.
    pub script: &'a str,
    /// The recording it writes (in the export folder).
    pub record: &'a str,
    /// Samples and chip steps per sample.
    pub samples: usize,
    /// Chip steps per sample.
    pub steps: usize,
    /// Text fields of the script's summary kept as notes (`key: value`).
    pub notes: &'a [&'a str],
}

/// Runs `j.script` in `dir` and compares its recording with `fields`. The script prints a JSON
/// summary as its last JSON line: `output_spikes`, and the text fields `j.notes` names.
pub fn judge(dir: &Path, j: &Judge<'_>, fields: &[Field<'_>]) -> Result<VendorCheck, FlowError> {
    let dir = std::path::absolute(dir).map_err(|e| FlowError::Io(format!("{}: {e}", dir.display())))?;
    let record = dir.join(j.record);
    let tool = format!("{} (python)", j.simulator);
    let t0 = std::time::Instant::now();
    let out = Command::new(j.python)
        .arg(dir.join(j.script))
        .arg("--record")
        .arg(&record)
        .current_dir(&dir)
        .output()
        .map_err(|e| FlowError::Failed { tool: tool.clone(), message: e.to_string() })?;
    let seconds = t0.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary: serde_json::Value =
        stdout.lines().rev().find_map(|l| serde_json::from_str(l).ok()).filter(|_| out.status.success()).ok_or_else(
            || FlowError::Failed {
                tool: tool.clone(),
                message: format!("{}{}", stdout, String::from_utf8_lossy(&out.stderr)),
            },
        )?;
    let rec = read_npz(&record)?;
    let notes = j
        .notes
        .iter()
        .filter_map(|k| summary[k].as_str().map(|v| format!("{k}: {}", crate::names::text(v, 400))))
        .collect();
    let mut r = VendorCheck {
        simulator: j.simulator.to_string(),
        samples: j.samples,
        steps: j.steps,
        output_spikes: summary["output_spikes"].as_u64().unwrap_or(0),
        notes,
        seconds,
        ..Default::default()
    };
    for f in fields {
        let (shape, theirs) =
            rec.get(&f.name).ok_or_else(|| FlowError::Io(format!("{} recorded no '{}'", j.simulator, f.name)))?;
        if shape.first() != Some(&j.samples) {
            return Err(FlowError::Io(format!(
                "{}'s '{}' has shape {shape:?} for {} samples",
                j.simulator, f.name, j.samples
            )));
        }
        let per = theirs.len() / j.samples.max(1);
        for i in 0..j.samples {
            let mine = (f.ours)(i);
            let theirs = &theirs[i * per..(i + 1) * per];
            let len = mine.len().max(theirs.len());
            r.words += len;
            if f.class == Class::Output {
                r.output_words += len;
            }
            for k in 0..len {
                let (a, b) = (mine.get(k), theirs.get(k));
                if a == b {
                    continue;
                }
                match f.class {
                    Class::Output => r.output_mismatches += 1,
                    Class::Spikes => r.spike_mismatches += 1,
                    Class::State => r.state_mismatches += 1,
                }
                if r.first_differences.len() < 8 {
                    r.first_differences
                        .push(format!("sample {i} {}[{k}]: spikefab {a:?}, {} {b:?}", f.name, j.simulator));
                }
            }
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::c_order;

    #[test]
    fn fortran_ordered_records_read_in_c_order() {
        // [[1, 2, 3], [4, 5, 6]] stored first index fastest: 1 4 2 5 3 6.
        assert_eq!(c_order(&[2, 3], &[1, 4, 2, 5, 3, 6]), vec![1, 2, 3, 4, 5, 6]);
        // A 2x2x2 block: element (i, j, k) at Fortran offset i + 2j + 4k holds 100i + 10j + k.
        let f: Vec<i64> = (0..8).map(|o| 100 * (o % 2) + 10 * ((o / 2) % 2) + o / 4).collect();
        assert_eq!(c_order(&[2, 2, 2], &f), vec![0, 1, 10, 11, 100, 101, 110, 111]);
        assert_eq!(c_order(&[3], &[7, 8, 9]), vec![7, 8, 9]);
        assert!(c_order(&[0, 4], &[]).is_empty());
    }
}
