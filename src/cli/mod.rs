//! Command definitions. Every command that takes a model shares [`ModelArgs`].

mod bench;
mod compile;
mod convert;
mod cosim;
mod csim;
mod energy;
mod explore;
mod inspect;
mod passes;
mod plan;
mod simulate;
mod verify;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use spikefab::Model;
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
    /// Compile to Verilog and/or HLS C++, verify, co-simulate and (iCE40) build a bitstream.
    Compile(compile::CompileArgs),
    /// Time the cycle-accurate and reference engines side by side.
    Bench(bench::BenchArgs),
    /// Energy per inference on a target, next to the conventional network.
    Energy(energy::EnergyArgs),
    /// Sweep students, timesteps, early exit and lanes: the accuracy-energy trade-off.
    Explore(explore::ExploreArgs),
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

    /// Loads and validates the model; warns on stderr where an option overrides what the
    /// model's own equations fix (ONNX).
    pub fn load(&self) -> Result<Model, Failure> {
        let graph = spikefab::front::load(&self.model).map_err(Failure::input)?;
        for w in &graph.provenance.warnings {
            eprintln!("warning: {}: {w}", spikefab::names::text(&self.model.display().to_string(), 1000));
        }
        let fixed = fixed_dialect(&graph);
        let m = Model::from_graph(&self.model, graph, &self.overrides()).map_err(Failure::input)?;
        if let Some(f) = fixed {
            for w in spikefab::ir::dialect::overridden(&f, m.dialect()) {
                eprintln!("warning: {}: {w}", spikefab::names::text(&self.model.display().to_string(), 1000));
            }
        }
        Ok(m)
    }
}

/// The dialect a graph's own equations fix, for formats that store them (ONNX).
pub fn fixed_dialect(g: &spikefab::ir::Graph) -> Option<spikefab::ir::Dialect> {
    (g.provenance.format == "onnx").then(|| g.dialect.clone())
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
    /// Bits of non-binary weights.
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
}

impl PlanArgs {
    /// Lowers `m` for `steps` timesteps, taking the input range from `calib`.
    pub fn plan(
        &self,
        m: &Model,
        steps: usize,
        calib: Option<&spikefab::data::InputBatch>,
    ) -> Result<spikefab::hw::Plan, Failure> {
        let o = self.options(m, steps, calib)?;
        spikefab::hw::lower(m, &o).map_err(|e| Failure::input(anyhow::anyhow!("{}: {e}", m.path.display())))
    }

    /// The target, with --clock-mhz applied.
    pub fn target(&self) -> Result<spikefab::target::Target, Failure> {
        self.target_named(&self.target)
    }

    /// A named target, with --clock-mhz applied.
    pub fn target_named(&self, name: &str) -> Result<spikefab::target::Target, Failure> {
        let mut t = spikefab::target::Target::load(name).map_err(Failure::input)?;
        if let Some(f) = self.clock_mhz {
            if !(f.is_finite() && f > 0.0 && f <= 1000.0) {
                return Err(Failure::input(anyhow::anyhow!("--clock-mhz must be in (0, 1000], got {f}")));
            }
            t.clock.default_mhz = f;
        }
        Ok(t)
    }

    /// The plan options these arguments express.
    pub fn options(
        &self,
        _m: &Model,
        steps: usize,
        calib: Option<&spikefab::data::InputBatch>,
    ) -> Result<spikefab::hw::PlanOptions, Failure> {
        let target = self.target()?;
        if !(1..=16).contains(&self.weight_bits) || !(1..=16).contains(&self.input_bits) {
            return Err(Failure::input(anyhow::anyhow!("--weight-bits and --input-bits must be 1..=16")));
        }
        if self.frac_bits > 16 || !(2..=24).contains(&self.leak_bits) {
            return Err(Failure::input(anyhow::anyhow!("--frac-bits must be <= 16 and --leak-bits 2..=24")));
        }
        if self.lanes.is_some_and(|l| !l.is_power_of_two() || l > 64) {
            return Err(Failure::input(anyhow::anyhow!("--lanes must be a power of two from 1 to 64")));
        }
        let mut o = spikefab::hw::PlanOptions::new(target, steps);
        o.lanes = self.lanes;
        o.weight_bits = self.weight_bits;
        o.input_bits = self.input_bits;
        o.frac_bits = self.frac_bits;
        o.leak_bits = self.leak_bits;
        o.membrane_bits = self.membrane_bits;
        o.input_scale = self.input_scale;
        o.input_stats = calib.map(spikefab::quant::InputStats::of);
        o.early_exit = self.early_exit;
        Ok(o)
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

    /// An external tool failed: exit 1 with the tool's message; a missing tool or bad
    /// input for it stays exit 2.
    pub fn tool(e: spikefab::flow::FlowError) -> Self {
        use spikefab::flow::FlowError;
        match e {
            FlowError::Failed { .. } => Failure { code: 1, error: e.into() },
            _ => Failure::input(e),
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
        Command::Compile(a) => compile::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Energy(a) => energy::run(a),
        Command::Explore(a) => explore::run(a),
    }
}
