//! The model a command loads and the inputs it runs on: [`ModelArgs`], [`InputArgs`] and
//! [`ModelOnInputs`].

use std::path::PathBuf;

use clap::Args;
use spikefab::Model;
use spikefab::data::InputBatch;
use spikefab::options::DialectArgs;
use spikefab::options::{PlanSettings, Samples};

use super::failure::Failure;

/// Model file and the dialect options NIR does not store.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// Model file: .nir (HDF5), .json (spikefab) or .onnx.
    pub model: PathBuf,
    #[command(flatten)]
    pub dialect: DialectArgs,
}

impl ModelArgs {
    /// Loads and validates the model, printing its warnings (defaults the loader applied,
    /// options that override what an ONNX graph's own equations fix).
    pub fn load(&self) -> Result<Model, Failure> {
        let m = Model::load(&self.model, &(&self.dialect).into()).map_err(Failure::input)?;
        let file = spikefab::names::text(&self.model.display().to_string(), 1000);
        for w in &m.warnings {
            eprintln!("warning: {file}: {w}");
        }
        Ok(m)
    }

    /// Loads inputs (.npy) for the model's single Input.
    pub fn inputs(&self, m: &Model, path: &std::path::Path) -> Result<InputBatch, Failure> {
        let input = m.graph.the_input().map_err(Failure::input)?;
        InputBatch::load(path, &m.info.out_shape[input.index()]).map_err(Failure::input)
    }
}

/// The inputs a command runs on and which of them it checks.
#[derive(Args, Debug, Clone)]
pub struct InputArgs {
    /// Inputs (.npy): N x input shape (the same input every step) or N x T x input shape;
    /// all of them calibrate the input range.
    #[arg(long)]
    pub inputs: PathBuf,
    #[command(flatten)]
    pub samples: Samples,
}

/// A model with its dialect, the plan it gets, and the inputs it runs on.
#[derive(Args, Debug, Clone)]
pub struct ModelOnInputs {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub plan: PlanSettings,
    #[command(flatten)]
    pub input: InputArgs,
}

impl ModelOnInputs {
    /// The model and its inputs.
    pub fn load(&self) -> Result<(Model, InputBatch), Failure> {
        let m = self.model.load()?;
        let inputs = self.model.inputs(&m, &self.input.inputs)?;
        Ok((m, inputs))
    }
}
