//! The pass options every model-running command shares; the library's
//! [`spikefab::driver::prepare`] applies them.

use std::path::PathBuf;

use clap::Args;
use spikefab::Model;
use spikefab::data;
use spikefab::driver::PassSettings;
use spikefab::passes::PassRecord;

use super::{Failure, ModelArgs};

#[derive(Args, Debug, Clone, Default)]
pub struct PassArgs {
    /// Skip the simplification passes (scale folding, dead neurons and nodes).
    #[arg(long)]
    pub no_simplify: bool,
    /// Keep the best K students of the ensemble, measured on the calibration inputs.
    #[arg(long, value_name = "K")]
    pub keep_students: Option<usize>,
    /// Keep these students (names or indices as `inspect` lists them, comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub students: Vec<String>,
    /// Keep the most accurate students whose energy per inference fits this budget (J).
    #[arg(long, value_name = "JOULES")]
    pub energy_budget: Option<f64>,
    /// Run the smallest T' whose class agreement with the full T meets --min-agreement (or
    /// whose accuracy drop meets --max-accuracy-drop), measured on the calibration inputs.
    #[arg(long)]
    pub auto_timesteps: bool,
    /// Minimum class agreement: of --auto-timesteps' T' with full T, and (verify, compile) of
    /// the hardware with the reference engine [default: 0.99].
    #[arg(long, value_name = "A")]
    pub min_agreement: Option<f64>,
    /// With labels: --auto-timesteps keeps accuracy within this of full T's.
    #[arg(long, value_name = "D")]
    pub max_accuracy_drop: Option<f64>,
    /// Calibration inputs (.npy) for the choices [default: --inputs].
    #[arg(long, value_name = "FILE")]
    pub calib: Option<PathBuf>,
    /// Labels (.npy) of --calib [default: --labels when calibrating on --inputs].
    #[arg(long, value_name = "FILE")]
    pub calib_labels: Option<PathBuf>,
    /// What --keep-students and --energy-budget maximise [default: accuracy when the
    /// calibration inputs have labels, else agreement with the whole ensemble].
    #[arg(long, value_enum, value_name = "CRITERION")]
    pub select_by: Option<CriterionArg>,
}

super::cli_enum! {
    /// What a data-driven choice of students maximises.
    CriterionArg => spikefab::driver::Criterion {
        /// Accuracy on the labelled calibration inputs.
        Accuracy,
        /// Class agreement with the whole ensemble (no labels needed).
        Agreement,
    }
}

impl PassArgs {
    /// The library's pass settings; the calibration files are read for `m`'s input.
    pub fn settings(&self, m: &Model, model: &ModelArgs) -> Result<PassSettings, Failure> {
        let calib = match &self.calib {
            Some(p) => Some(model.inputs(m, p)?),
            None => None,
        };
        let calib_labels = match (&self.calib_labels, &calib) {
            (Some(l), Some(c)) => Some(data::load_labels(l, c.n).map_err(Failure::input)?),
            (Some(_), None) => return Err(Failure::input(anyhow::anyhow!("--calib-labels needs --calib"))),
            _ => None,
        };
        Ok(PassSettings {
            no_simplify: self.no_simplify,
            keep_students: self.keep_students,
            students: self.students.clone(),
            energy_budget: self.energy_budget,
            auto_timesteps: self.auto_timesteps,
            min_agreement: self.min_agreement,
            max_accuracy_drop: self.max_accuracy_drop,
            calib,
            calib_labels,
            select_by: self.select_by.map(Into::into),
        })
    }
}

/// Prints what the passes changed.
pub fn print_records(records: &[PassRecord]) {
    for r in records {
        if r.changes.is_empty() {
            println!("pass {}: no change", r.pass);
            continue;
        }
        println!("pass {}: nodes {} -> {}, parameters {} -> {}", r.pass, r.nodes.0, r.nodes.1, r.params.0, r.params.1);
        for c in &r.changes {
            println!("  {c}");
        }
    }
}
