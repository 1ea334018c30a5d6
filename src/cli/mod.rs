//! Command definitions. Every command that takes a model shares [`ModelArgs`].

mod convert;
mod inspect;
mod simulate;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use spikefab::Model;
use spikefab::ir::dialect::DialectOverrides;
use spikefab::ir::{Preset, ResetMode};

/// spikefab: compile trained spiking neural networks to verified hardware.
#[derive(Parser, Debug)]
#[command(name = "spikefab", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show a model's nodes, shapes, weights, dialect and parallel branches.
    Inspect(inspect::InspectArgs),
    /// Run the reference engine on inputs and report spikes and accuracy.
    Simulate(simulate::SimulateArgs),
    /// Convert a model to spikefab JSON (or NIR).
    Convert(convert::ConvertArgs),
}

/// Model file and the dialect options NIR does not store.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// Model file: .nir (HDF5), .json (spikefab) or .onnx.
    pub model: PathBuf,
    /// Source framework preset: sets dt, reset and firing rule as that framework computes.
    #[arg(long, value_enum)]
    pub from: Option<Preset>,
    /// Time step in seconds (NIR does not store it).
    #[arg(long, value_name = "SECONDS")]
    pub dt: Option<f64>,
    /// Reset after a spike [default: zero, NIR's hard reset].
    #[arg(long, value_enum)]
    pub reset: Option<ResetMode>,
    /// Fire when v >= threshold (default: v > threshold).
    #[arg(long)]
    pub fire_on_equal: bool,
    /// Timesteps per inference.
    #[arg(long, short = 'T', value_name = "T")]
    pub timesteps: Option<usize>,
}

impl ModelArgs {
    /// The dialect overrides these options express.
    pub fn overrides(&self) -> DialectOverrides {
        DialectOverrides {
            from: self.from,
            dt: self.dt,
            reset: self.reset,
            fire_on_equal: self.fire_on_equal,
            timesteps: self.timesteps,
        }
    }

    /// Loads and validates the model.
    pub fn load(&self) -> Result<Model, Failure> {
        Model::load(&self.model, &self.overrides()).map_err(Failure::input)
    }
}

/// A command failure with its exit code.
pub struct Failure {
    pub code: u8,
    pub error: anyhow::Error,
}

impl Failure {
    /// Bad input or usage: exit 2.
    pub fn input(e: impl Into<anyhow::Error>) -> Self {
        Failure {
            code: 2,
            error: e.into(),
        }
    }

    /// A check failed: exit 1.
    #[allow(dead_code)]
    pub fn check(msg: impl Into<String>) -> Self {
        Failure {
            code: 1,
            error: anyhow::anyhow!(msg.into()),
        }
    }
}

pub fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Inspect(a) => inspect::run(a),
        Command::Simulate(a) => simulate::run(a),
        Command::Convert(a) => convert::run(a),
    }
}
