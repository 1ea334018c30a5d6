//! [`RunArgs`], what the model-running commands share, and the [`Loaded`] model and data.

use std::path::PathBuf;

use clap::Args;
use spikefab::Model;
use spikefab::data::{self, InputBatch};
use spikefab::driver::Job;

use super::failure::Failure;
use super::model_args::ModelOnInputs;
use super::passes::PassArgs;

/// What the model-running commands share: the model on its inputs with their labels, and the
/// passes.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    #[command(flatten)]
    pub on: ModelOnInputs,
    /// Class labels (.npy, N integers) to report accuracy.
    #[arg(long)]
    pub labels: Option<PathBuf>,
    #[command(flatten)]
    pub passes: PassArgs,
}

/// A command's model and data as loaded: [`RunArgs::job`] is the library's view of them.
pub struct Loaded {
    pub model: Model,
    pub inputs: InputBatch,
    pub labels: Option<Vec<usize>>,
    pub passes: spikefab::options::PassSettings,
}

impl RunArgs {
    /// Loads the model, its inputs and labels, and the pass settings' calibration files.
    pub fn load(&self) -> Result<Loaded, Failure> {
        let (model, inputs) = self.on.load()?;
        let labels = match &self.labels {
            Some(p) => Some(data::load_labels(p, inputs.n).map_err(Failure::input)?),
            None => None,
        };
        let passes = self.passes.settings(&model, &self.on.model)?;
        Ok(Loaded { model, inputs, labels, passes })
    }

    /// The library's job on what `l` loaded.
    pub fn job<'a>(&'a self, l: &'a Loaded) -> Job<'a> {
        let j = Job::new(&l.model, &l.inputs, &self.on.plan, &l.passes);
        Job { labels: l.labels.as_deref(), samples: self.on.input.samples, ..j }
    }
}
