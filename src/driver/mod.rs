//! The compiler as a library: what `spikefab compile` and the other commands do, with typed
//! options in and a typed report out. The command line only parses arguments into these
//! options and prints what comes back; the Python package does the same.
//!
//! ```text
//! Model --prepare (students, T', simplifications)--> Model --quantise + map--> Plan | chip map
//!       --> Verilog / HLS C++ | vendor export --> verification, co-simulation, C simulation,
//!           vendor check, bitstream, energy
//! ```
//!
//! Errors are [`Error`]s whose [`Error::exit_code`] says whether the input was bad (2) or a
//! check, a tool or writing the outputs failed (1); checks that fail (agreement below its
//! bound, a co-simulation mismatch, timing not met) are not errors but
//! [`CompileReport::failures`].
//!
//! ```
//! use spikefab::driver::{CompileOptions, Quiet, compile};
//! use spikefab::ir::dialect::{DialectOverrides, Preset};
//! use spikefab::options::PlanSettings;
//!
//! // The bundled binary-weight student, as snnTorch trained it, 8 timesteps.
//! let dialect = DialectOverrides { from: Some(Preset::Snntorch), timesteps: Some(8), ..Default::default() };
//! let model = spikefab::Model::load("models/mlp_bw/mlp_bw.nir".as_ref(), &dialect)?;
//! let inputs = spikefab::data::InputBatch::load("models/digits_test_x.npy".as_ref(), &[64])?;
//!
//! let out = std::env::temp_dir().join("spikefab-doc-compile");
//! let mut o = CompileOptions::new(PlanSettings::new("ice40-up5k"), &out);
//! o.inputs = Some(inputs.take(32));
//! o.build.cosim_samples = 0; // co-simulation needs iverilog or Verilator
//! let report = compile(&model, &o, &Quiet)?;
//!
//! let rtl = report.rtl().expect("an FPGA target");
//! assert_eq!(rtl.top.as_deref(), Some("sf_mlp_bw"));
//! assert!(rtl.verify.as_ref().unwrap().class_agreement >= 0.99);
//! assert!(report.failures.is_empty());
//! assert!(out.join("sf_mlp_bw.v").exists() && out.join("report.json").exists());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod backend;
mod check;
mod checked;
pub mod chip;
pub mod compare;
mod compile;
mod datapath;
mod energy;
mod error;
mod explore;
mod job;
mod mask;
mod options;
mod phase;
mod plan;
mod prepare;
mod progress;
mod resource;
pub mod shard;
mod sims;
mod simulate;
mod step;
mod verify;

pub use check::{Check, VerifyPart, check, check_masked, check_shard, check_shard_masked, merge_verify};
pub use checked::{Checked, DifferentChecks, PlanCheck};
pub use compare::{CompareSettings, CompareShard, Comparison, Row, compare, compare_shard, merge_compare};
pub use compile::{
    Backend, CompileOptions, CompileReport, CompileSettings, EnergySection, FpgaOutcome, Hardware, HlsInfo, RtlSection,
    compile,
};
pub use energy::{EnergyRun, EnergySettings, counts, energy};
pub use error::Error;
pub use explore::{
    ExploreSettings, ExploreShard, Explored, config_label, explore, explore_shard, merge_explore, students_label,
};
pub use job::{Checked as CheckedInputs, Job};
pub use mask::StudentMask;
pub use plan::{LatencyBound, MeasuredCycles, PlanReport, StreamBalance, plan};
pub use prepare::{Prepared, prepare};
pub use progress::{Progress, Quiet};
pub use sims::{DEFAULT_COSIM_SAMPLES, cosim, csim};
pub use simulate::{Engine, SimulateOptions, Simulation, simulate};
pub use step::Step;
pub use verify::{
    CosimSettings, EarlyExit, EarlyExitCounts, Verification, VerifyCounts, cosim_step, early_exit_check, html_report,
    verify,
};

/// Steps to run: per-step inputs give their own length, otherwise the dialect's T; checked
/// against [`crate::limits`] before anything is allocated for the run.
pub fn steps_for(m: &crate::Model, batch: Option<&crate::data::InputBatch>) -> Result<usize, Error> {
    let steps = match batch {
        Some(b) => b.steps(m.dialect().timesteps)?,
        None => m.dialect().timesteps.ok_or_else(|| Error::Usage("give --timesteps T".into()))?,
    };
    let max = crate::limits::MAX_TIMESTEPS;
    if steps > max {
        return Err(Error::Usage(format!("{steps} timesteps is above the limit of {max}")));
    }
    if let Some(b) = batch {
        let out = m.graph.outputs().iter().map(|&o| m.info.out_numel(o)).max().unwrap_or(0);
        let hist = crate::sim::reference::history_numel(&m.graph, &m.info);
        crate::limits::check_run(b.n, steps, out, hist)
            .map_err(|e| Error::Usage(format!("{}: {e}", m.path.display())))?;
    }
    Ok(steps)
}

/// Under the cascade, the students run per inference of `run`, mean (each sample's stages).
pub(crate) fn cascade_students_mean(run: &crate::sim::cycle::BatchResult) -> f64 {
    let n = run.samples.len().max(1) as f64;
    run.samples.iter().map(|s| (s.stage_raw.len() + 1) as f64).sum::<f64>() / n
}
