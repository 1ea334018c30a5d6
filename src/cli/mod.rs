//! Command definitions. Every command that takes a model shares [`ModelArgs`].

mod bench;
mod chipsim;
mod compile;
mod convert;
mod cosim;
mod csim;
mod energy;
mod explore;
mod inspect;
mod merge;
mod passes;
mod plan;
mod simulate;
mod verify;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use spikefab::Model;
use spikefab::data::InputBatch;
use spikefab::driver::{PlanSettings, Progress};
use spikefab::ir::dialect;
use spikefab::ir::dialect::DialectOverrides;

/// A command-line mirror of a library enum: the library stays free of clap, and the two
/// conversions are exhaustive matches, so a variant added on either side fails to compile.
macro_rules! cli_enum {
    ($(#[$m:meta])* $cli:ident => $lib:path { $($(#[$vm:meta])* $v:ident),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
        pub enum $cli { $($(#[$vm])* $v),* }
        impl From<$cli> for $lib {
            fn from(c: $cli) -> Self { match c { $($cli::$v => <$lib>::$v),* } }
        }
        impl From<$lib> for $cli {
            fn from(c: $lib) -> Self { match c { $(<$lib>::$v => $cli::$v),* } }
        }
    };
}
pub(crate) use cli_enum;

cli_enum! {
    /// How layers share the hardware in time.
    ScheduleArg => spikefab::target::ScheduleChoice {
        /// One phase at a time; small layers share memories and one update datapath.
        Sequential,
        /// Every layer has its own sequencer, update datapath and memories and runs
        /// concurrently with the others on different timesteps (not with --early-exit).
        Pipelined,
        /// Pipelined when its memories fit the device, else sequential; with --bitstream,
        /// sequential also when the pipelined logic does not fit or misses the clock.
        Auto,
    }
}

cli_enum! {
    /// Source framework preset.
    PresetArg => dialect::Preset {
        /// snnTorch `Leaky`: dt 1e-4, reset subtract-undecayed, fires on `>`.
        Snntorch,
        /// SpikingJelly `LIFNode` via `export_to_nir(dt=1e-4)`: hard reset, fires on `>=`.
        Spikingjelly,
        /// Norse 1.1 `to_nir`: dt = 1e-6 (its exporter writes tau*dt), hard reset, unit
        /// synaptic input, v starts at v_leak.
        Norse,
        /// Sinabs: dt = 1, reset subtract, fires on `>=`, exact decay, multi-spike.
        Sinabs,
        /// Plain NIR: hard reset, `>`, dt inferred or given.
        Nir,
    }
}

cli_enum! {
    /// Reset after a spike.
    ResetArg => dialect::ResetMode {
        /// NIR hard reset to v_reset.
        Zero,
        /// Subtract the threshold before the leak (SpikingJelly soft reset).
        Subtract,
        /// Subtract the threshold after the leak, undecayed (snnTorch `Leaky` default).
        SubtractUndecayed,
    }
}

cli_enum! {
    /// Discretisation.
    IntegrationArg => dialect::Integration {
        /// beta = 1 - dt/tau.
        Euler,
        /// beta = exp(-dt/tau) (Sinabs).
        Exact,
    }
}

cli_enum! {
    /// Synaptic input of CubaLIF.
    CubaInputArg => dialect::CubaInput {
        /// Scaled by dt/tau_syn (NIR).
        Scaled,
        /// Unit jumps (Norse).
        Unit,
    }
}

cli_enum! {
    /// Spikes per step.
    SpikesArg => dialect::SpikeMode {
        /// At most one.
        Single,
        /// trunc(v/threshold) (Sinabs MultiSpike).
        Multi,
        /// Multi-spike except the readout neurons, which spike once (Xylo).
        MultiHidden,
    }
}

cli_enum! {
    /// Initial membrane.
    InitialVArg => dialect::InitialV {
        /// Zero.
        Zero,
        /// v_leak (Norse).
        VLeak,
    }
}

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
    /// Lower a model to a hardware plan and print it.
    Plan(plan::PlanCmdArgs),
    /// Run the reference and cycle-accurate engines side by side and compare.
    Verify(verify::VerifyArgs),
    /// Simulate the emitted RTL (iverilog or Verilator) against the cycle engine.
    Cosim(cosim::CosimArgs),
    /// Compile the HLS C++ with g++ and run it against the cycle engine (C simulation).
    Csim(csim::CsimArgs),
    /// Run a chip export in the vendor's simulator (XyloSim) against spikefab's chip model.
    Chipsim(chipsim::ChipsimArgs),
    /// Compile to Verilog and/or HLS C++, verify, co-simulate and (iCE40) build a bitstream.
    Compile(compile::CompileArgs),
    /// Time the cycle-accurate and reference engines side by side.
    Bench(bench::BenchArgs),
    /// Energy per inference on a target, next to the conventional network.
    Energy(energy::EnergyArgs),
    /// Sweep students, timesteps, early exit and lanes: the accuracy-energy trade-off.
    Explore(explore::ExploreArgs),
    /// Combine the partial results of `verify`, `explore` or `bench --shard I/N` runs into what
    /// one run prints.
    Merge(merge::MergeArgs),
}

/// Model file and the dialect options NIR does not store.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// Model file: .nir (HDF5), .json (spikefab) or .onnx.
    pub model: PathBuf,
    /// Source framework preset: sets dt, reset and firing rule as that framework computes.
    #[arg(long, value_enum)]
    pub from: Option<PresetArg>,
    /// Time step in seconds (NIR does not store it).
    #[arg(long, value_name = "SECONDS")]
    pub dt: Option<f64>,
    /// Reset after a spike [default: zero, NIR's hard reset].
    #[arg(long, value_enum)]
    pub reset: Option<ResetArg>,
    /// Fire when v >= threshold (default: v > threshold).
    #[arg(long)]
    pub fire_on_equal: bool,
    /// Timesteps per inference.
    #[arg(long, short = 'T', value_name = "T")]
    pub timesteps: Option<usize>,
    /// Discretisation: euler (beta = 1 - dt/tau) or exact (beta = exp(-dt/tau), Sinabs).
    #[arg(long, value_enum)]
    pub integration: Option<IntegrationArg>,
    /// Synaptic input of CubaLIF: scaled by dt/tau_syn (NIR) or unit (Norse).
    #[arg(long, value_enum)]
    pub cuba_input: Option<CubaInputArg>,
    /// Spikes per step: single, or multi (trunc(v/thr), Sinabs' MultiSpike).
    #[arg(long, value_enum)]
    pub spikes: Option<SpikesArg>,
    /// Initial membrane: zero, or v-leak (Norse).
    #[arg(long, value_enum)]
    pub initial_v: Option<InitialVArg>,
}

impl ModelArgs {
    /// The dialect overrides these options express.
    pub fn overrides(&self) -> DialectOverrides {
        DialectOverrides {
            from: self.from.map(Into::into),
            dt: self.dt,
            reset: self.reset.map(Into::into),
            fire_on_equal: self.fire_on_equal,
            timesteps: self.timesteps,
            integration: self.integration.map(Into::into),
            cuba_input: self.cuba_input.map(Into::into),
            spikes: self.spikes.map(Into::into),
            initial_v: self.initial_v.map(Into::into),
        }
    }

    /// Loads and validates the model, printing its warnings (defaults the loader applied,
    /// options that override what an ONNX graph's own equations fix).
    pub fn load(&self) -> Result<Model, Failure> {
        let m = Model::load(&self.model, &self.overrides()).map_err(Failure::input)?;
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

/// Hardware plan options shared by plan, verify, simulate --engine cycle, compile, energy.
#[derive(Args, Debug, Clone)]
pub struct PlanArgs {
    /// Target device or chip (bundled name or path to a .toml).
    #[arg(long, default_value = "ice40-up5k")]
    pub target: String,
    /// Neuron lanes per layer [default: the target's].
    #[arg(long)]
    pub lanes: Option<usize>,
    /// Bits of non-binary weights (binary rows, +-a, take 1 bit whatever this says; 1 refuses
    /// any other row).
    #[arg(long, default_value_t = 8)]
    pub weight_bits: u32,
    /// Bits of quantised real-valued inputs.
    #[arg(long, default_value_t = 8)]
    pub input_bits: u32,
    /// Fractional bits of membranes below the weight unit.
    #[arg(long, default_value_t = 6)]
    pub frac_bits: u32,
    /// Fractional bits of leak multipliers.
    #[arg(long, default_value_t = 16)]
    pub leak_bits: u32,
    /// Cap membrane width; below the analysed width, arithmetic saturates (counted).
    #[arg(long)]
    pub membrane_bits: Option<u32>,
    /// Real value of one input LSB [default: from the calibration inputs].
    #[arg(long)]
    pub input_scale: Option<f64>,
    /// Stop an inference once the output class can no longer change.
    #[arg(long)]
    pub early_exit: bool,
    /// Clock the design runs at, MHz [default: the target's].
    #[arg(long, value_name = "MHZ")]
    pub clock_mhz: Option<f64>,
    /// How layers share the hardware in time [default: the target's (pipelined on ECP5, auto on
    /// iCE40, sequential elsewhere); sequential with --early-exit].
    #[arg(long, value_enum)]
    pub schedule: Option<ScheduleArg>,
}

impl PlanArgs {
    /// The library's plan settings.
    pub fn settings(&self) -> PlanSettings {
        PlanSettings {
            target: self.target.clone(),
            lanes: self.lanes,
            weight_bits: self.weight_bits,
            input_bits: self.input_bits,
            frac_bits: self.frac_bits,
            leak_bits: self.leak_bits,
            membrane_bits: self.membrane_bits,
            input_scale: self.input_scale,
            early_exit: self.early_exit,
            clock_mhz: self.clock_mhz,
            schedule: self.schedule.map(Into::into),
        }
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
        Failure { code: 2, error: e.into() }
    }

    /// A check failed: exit 1.
    #[allow(dead_code)]
    pub fn check(msg: impl Into<String>) -> Self {
        Failure { code: 1, error: anyhow::anyhow!(msg.into()) }
    }
}

impl From<spikefab::driver::Error> for Failure {
    /// The library says which errors are bad input (2) and which a failing tool (1).
    fn from(e: spikefab::driver::Error) -> Self {
        Failure { code: e.exit_code(), error: e.into() }
    }
}

/// Progress on stderr: a bar for steps with a known size, a spinner otherwise, then the time
/// each step took; notes are printed as they come.
#[derive(Default)]
pub struct Bars {
    bar: std::sync::Mutex<Option<indicatif::ProgressBar>>,
}

impl Progress for Bars {
    fn begin(&self, what: &str, total: Option<u64>) {
        let bar = match total {
            Some(n) => {
                let b = indicatif::ProgressBar::new(n);
                b.set_style(
                    indicatif::ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} [{elapsed}]")
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                b
            }
            None => indicatif::ProgressBar::new_spinner(),
        };
        bar.set_message(what.to_string());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        if let Ok(mut slot) = self.bar.lock() {
            *slot = Some(bar);
        }
    }

    fn advance(&self, done: u64) {
        if let Ok(slot) = self.bar.lock()
            && let Some(b) = slot.as_ref()
        {
            b.set_position(done);
        }
    }

    fn end(&self, what: &str, seconds: f64) {
        if let Ok(mut slot) = self.bar.lock()
            && let Some(b) = slot.take()
        {
            b.finish_and_clear();
        }
        eprintln!("{what}: {seconds:.1} s");
    }

    fn note(&self, msg: &str) {
        match self.bar.lock().ok().as_ref().and_then(|s| s.as_ref()) {
            Some(b) => b.suspend(|| eprintln!("{msg}")),
            None => eprintln!("{msg}"),
        }
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
        Command::Bench(a) => bench::run(a),
        Command::Energy(a) => energy::run(a),
        Command::Explore(a) => explore::run(a),
        Command::Merge(a) => merge::run(a),
    }
}
