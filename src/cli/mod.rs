//! Command definitions. Every command that takes a model shares [`ModelArgs`].

mod bars;
mod bench;
mod chipsim;
mod compare;
mod compile;
mod convert;
mod cosim;
mod csim;
mod energy;
mod explore;
mod failure;
mod inspect;
mod merge;
mod part;
mod passes;
mod plan;
mod print;
mod simulate;
mod verify;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use spikefab::Model;
use spikefab::data::{self, InputBatch};
use spikefab::driver::Job;
use spikefab::options::DialectArgs;
use spikefab::options::{PlanSettings, Samples};

use failure::Failure;
use passes::PassArgs;

/// spikefab: compile trained spiking neural networks to verified hardware: Verilog, HLS C++ and
/// bitstreams for FPGAs (iCE40, ECP5, AMD 7 Series), and exports for neuromorphic chips (Xylo,
/// Loihi 2) judged by the vendors' own simulators.
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
    /// Run the reference engine (or the hardware's integers) on inputs; spikes and accuracy.
    Simulate(simulate::SimulateArgs),
    /// Convert a model to spikefab JSON (or NIR).
    Convert(convert::ConvertArgs),
    /// Lower a model to a hardware plan (FPGA layout, or a chip's placement) and print it.
    Plan(plan::PlanCmdArgs),
    /// Run the reference engine and the hardware (cycle engine, or a chip's model) side by side.
    Verify(verify::VerifyArgs),
    /// Simulate the emitted RTL (iverilog or Verilator) against the cycle engine.
    Cosim(cosim::CosimArgs),
    /// Compile the HLS C++ with g++ and run it against the cycle engine (C simulation).
    Csim(csim::CsimArgs),
    /// Run a chip export in the vendor's simulator (XyloSim, Lava) against spikefab's chip model.
    Chipsim(chipsim::ChipsimArgs),
    /// Compile for a target: FPGA Verilog and/or HLS C++ (verified, co-simulated, bitstream for
    /// iCE40 and ECP5), or a chip's export (verified, judged by the vendor's simulator).
    Compile(compile::CompileArgs),
    /// One student on every target side by side: fits or why not, accuracy, latency, energy,
    /// resources.
    Compare(compare::CompareArgs),
    /// Time the cycle-accurate and reference engines side by side.
    Bench(bench::BenchArgs),
    /// Energy per inference on a target, next to the conventional network.
    Energy(energy::EnergyArgs),
    /// Sweep students, timesteps, early exit and lanes: the accuracy-energy trade-off.
    Explore(explore::ExploreArgs),
    /// Combine the partial results of `verify`, `explore`, `bench` or `compare --shard I/N` runs
    /// into what one run prints.
    Merge(merge::MergeArgs),
}

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

pub fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Inspect(a) => inspect::run(a),
        Command::Simulate(a) => simulate::run(a),
        Command::Convert(a) => convert::run(a),
        Command::Plan(a) => plan::run(a),
        Command::Verify(a) => verify::run(a),
        Command::Cosim(a) => cosim::run(a),
        Command::Csim(a) => csim::run(a),
        Command::Chipsim(a) => chipsim::run(a),
        Command::Compile(a) => compile::run(a),
        Command::Compare(a) => compare::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Energy(a) => energy::run(a),
        Command::Explore(a) => explore::run(a),
        Command::Merge(a) => merge::run(a),
    }
}
