//! Command definitions. Every command that takes a model shares [`ModelArgs`](model_args::ModelArgs).

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
mod model_args;
mod part;
mod passes;
mod plan;
mod print;
mod run_args;
mod simulate;
mod verify;

use clap::{Parser, Subcommand};

use failure::Failure;

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
