//! The options the model-running commands share, defined once: the command line flattens these
//! structs (clap), the Python package passes their fields by name (serde), and the library
//! fills them. Each default is written once, in its `#[arg]` attribute: `Default` parses an
//! empty command line ([`defaults`]), and serde fills absent fields from `Default`.
//!
//! Which inputs do what is the same in every command: all the inputs given calibrate (the
//! quantiser's input range, the passes' choices unless `--calib` is given), and `--samples N`
//! checks only the first N of them.

use serde::{Deserialize, Serialize};

use crate::ir::dialect::{CubaInput, DialectOverrides, InitialV, Integration, Preset, ResetMode, SpikeMode, VMin};
use crate::target::ScheduleChoice;

/// The default target.
pub const DEFAULT_TARGET: &str = "ice40-up5k";

/// A struct of options with every field at its command-line default.
pub fn defaults<T: clap::Args + clap::FromArgMatches>() -> T {
    let cmd = T::augment_args(clap::Command::new("defaults").no_binary_name(true));
    let m = cmd.try_get_matches_from(std::iter::empty::<String>()).expect("no option is required");
    T::from_arg_matches(&m).expect("every default parses")
}

/// The names of `T`'s options as the Python package passes them: the long flags with `_` for
/// `-` (`from` is `from_` in Python, a keyword there).
pub fn names<T: clap::Args>() -> Vec<String> {
    T::augment_args(clap::Command::new("names"))
        .get_arguments()
        .filter_map(|a| a.get_long())
        .map(|l| l.replace('-', "_"))
        .collect()
}

/// How to quantise a model and lay it out on a target.
#[derive(Clone, Debug, PartialEq, clap::Args, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlanSettings {
    /// Target device or chip (a bundled name or the path of a .toml file).
    #[arg(long, default_value = DEFAULT_TARGET)]
    pub target: String,
    /// Neuron lanes per layer, a power of two up to 64 [default: the target's].
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
    /// Most spikes a multi-spike neuron carries per step on a chip that bounds it (Loihi 2,
    /// where a count of K is K units): counts beyond K saturate, as Sinabs' MaxSpike(K). Without
    /// it a chip refuses a layer whose count can exceed what it carries. FPGAs carry exact
    /// counts and refuse the option.
    #[arg(long, value_name = "K")]
    pub spike_cap: Option<u32>,
    /// Clock the design runs at, MHz [default: the target's].
    #[arg(long, value_name = "MHZ")]
    pub clock_mhz: Option<f64>,
    /// How layers share the hardware in time [default: the target's (pipelined on ECP5, auto on
    /// iCE40, sequential elsewhere); sequential with --early-exit].
    #[arg(long, value_enum)]
    pub schedule: Option<ScheduleChoice>,
    /// How projections accumulate (docs/hardware.md 4c): `event` scatters every spike, `dense`
    /// gathers packed spike words wherever a projection can, `auto` picks per projection what
    /// the calibration inputs' activity predicts is cheaper (see --optimize; event-driven when
    /// there are no calibration inputs) among layouts whose predicted logic is within
    /// --logic-margin. With --bitstream, a dense projection whose built design does not fit or
    /// misses the clock is built event-driven instead, the least saving first.
    #[arg(long, value_enum, default_value = "auto")]
    pub datapath: Datapath,
    /// What the automatic datapath choice minimises: energy per inference or latency.
    #[arg(long, value_enum, default_value = "energy")]
    pub optimize: Optimize,
    /// Widest spike-plane word a dense projection reads per cycle, bits (a power of two, 8 to
    /// 256): lane groups of a position are packed up to it, so a cycle gathers
    /// lanes x this many synapses (docs/hardware.md 4c). Wider gathers more per cycle for
    /// more popcount logic and a wider weight word.
    #[arg(long, value_name = "BITS", default_value_t = crate::hw::dense::WORD_MAX)]
    pub plane_bits: usize,
    /// Streamed schedule: run each layer whose projections all gather densely with the T steps
    /// of a row side by side, T popcount sets on each weight word, so a weight word is read
    /// once for all steps (docs/streaming.md section 3). Every projection that can gather
    /// does. The cycle engine models it (`plan`, `simulate`, `energy`); the Verilog and HLS
    /// back ends refuse it, as its datapath is not built yet.
    #[arg(long)]
    pub fuse_steps: bool,
    /// How far below the device's logic cells the automatic choices (schedule, datapath) keep a
    /// design's predicted logic (docs/hardware.md, "The logic model"): `stated` leaves the logic
    /// model's stated error on the device, a number from 0 to 0.9 that fraction of the device,
    /// `off` ignores the prediction (the choices respect memories only, and `--bitstream`'s
    /// fallback finds a logic misfit by building).
    #[arg(long, value_name = "MARGIN", default_value = "stated")]
    pub logic_margin: LogicMargin,
}

/// `--logic-margin`: how far below the device's logic cells the automatic choices keep a
/// design's predicted logic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "serde_json::Value", into = "MarginValue")]
pub enum LogicMargin {
    /// The logic model's stated error on the device (its largest on designs held out of its fit).
    #[default]
    Stated,
    /// This fraction of the device's logic cells, 0 to [`LogicMargin::MAX`].
    Fraction(f64),
    /// None: the prediction does not constrain the choices.
    Off,
}

impl LogicMargin {
    /// The largest fraction a margin may be.
    pub const MAX: f64 = 0.9;
}

impl std::str::FromStr for LogicMargin {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "stated" => Ok(LogicMargin::Stated),
            "off" => Ok(LogicMargin::Off),
            _ => match s.parse::<f64>() {
                // `abs`: "-0" is 0.
                Ok(m) if (0.0..=Self::MAX).contains(&m) => Ok(LogicMargin::Fraction(m.abs())),
                _ => {
                    Err(format!("'{s}' is no logic margin: expected stated, off or a fraction from 0 to {}", Self::MAX))
                }
            },
        }
    }
}

impl std::fmt::Display for LogicMargin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LogicMargin::Stated => f.write_str("stated"),
            LogicMargin::Off => f.write_str("off"),
            LogicMargin::Fraction(m) => write!(f, "{m}"),
        }
    }
}

/// A logic margin as JSON (and the Python package) writes it: a word or a number.
#[derive(Serialize)]
#[serde(untagged)]
enum MarginValue {
    Number(f64),
    Word(String),
}

/// A logic margin as JSON (and the Python package) gives it: a word or a number, anything else
/// refused with what it takes.
impl TryFrom<serde_json::Value> for LogicMargin {
    type Error = String;
    fn try_from(v: serde_json::Value) -> Result<Self, String> {
        match v {
            serde_json::Value::Number(m) => m.to_string().parse(),
            serde_json::Value::String(w) => w.parse(),
            other => {
                Err(format!("{other} is no logic margin: expected stated, off or a fraction from 0 to {}", Self::MAX))
            }
        }
    }
}

impl From<LogicMargin> for MarginValue {
    fn from(m: LogicMargin) -> Self {
        match m {
            LogicMargin::Fraction(m) => MarginValue::Number(m),
            w => MarginValue::Word(w.to_string()),
        }
    }
}

/// `--datapath`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Datapath {
    /// Per projection, the mode with the lower predicted energy (or latency).
    Auto,
    /// Every projection event-driven.
    Event,
    /// Every projection that can gather densely does.
    Dense,
}

/// `--optimize`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Optimize {
    /// Energy per inference.
    Energy,
    /// Cycles per inference.
    Latency,
}

impl Default for PlanSettings {
    fn default() -> Self {
        defaults()
    }
}

impl PlanSettings {
    /// The defaults on `target`.
    pub fn new(target: impl Into<String>) -> Self {
        PlanSettings { target: target.into(), ..Default::default() }
    }

    /// The plan options that differ from their defaults, as their flags (`--target` aside): a
    /// back end refuses those it does not read rather than ignore them.
    pub fn options_set(&self) -> Vec<&'static str> {
        let d = Self::default();
        let set = [
            ("--input-scale", self.input_scale != d.input_scale),
            ("--spike-cap", self.spike_cap != d.spike_cap),
            ("--lanes", self.lanes != d.lanes),
            ("--weight-bits", self.weight_bits != d.weight_bits),
            ("--input-bits", self.input_bits != d.input_bits),
            ("--frac-bits", self.frac_bits != d.frac_bits),
            ("--leak-bits", self.leak_bits != d.leak_bits),
            ("--membrane-bits", self.membrane_bits != d.membrane_bits),
            ("--early-exit", self.early_exit != d.early_exit),
            ("--clock-mhz", self.clock_mhz != d.clock_mhz),
            ("--schedule", self.schedule != d.schedule),
            ("--datapath", self.datapath != d.datapath),
            ("--optimize", self.optimize != d.optimize),
            ("--plane-bits", self.plane_bits != d.plane_bits),
            ("--fuse-steps", self.fuse_steps != d.fuse_steps),
            ("--logic-margin", self.logic_margin != d.logic_margin),
        ];
        set.into_iter().filter(|&(_, on)| on).map(|(flag, _)| flag).collect()
    }

    /// These settings as a chip reads them (the FPGA-only options at their defaults), for a
    /// command that runs FPGA and chip targets side by side (`compare`).
    pub fn for_chips(&self) -> Self {
        PlanSettings {
            target: self.target.clone(),
            input_scale: self.input_scale,
            spike_cap: self.spike_cap,
            ..Default::default()
        }
    }

    /// These settings as an FPGA plan reads them (no chip-only `spike_cap`).
    pub fn for_fpgas(&self) -> Self {
        PlanSettings { spike_cap: None, ..self.clone() }
    }
}

/// What a data-driven choice of students maximises.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Criterion {
    /// Accuracy on the labelled calibration inputs.
    Accuracy,
    /// Class agreement with the whole ensemble (no labels needed).
    Agreement,
}

/// Which passes to run and what they may measure.
#[derive(Clone, Debug, clap::Args, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PassSettings {
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
    /// the hardware with the reference engine.
    #[arg(long, value_name = "A", default_value_t = 0.99)]
    pub min_agreement: f64,
    /// With labels: --auto-timesteps keeps accuracy within this of full T's.
    #[arg(long, value_name = "D")]
    pub max_accuracy_drop: Option<f64>,
    /// What --keep-students and --energy-budget maximise [default: accuracy when the
    /// calibration inputs have labels, else agreement with the whole ensemble].
    #[arg(long, value_enum, value_name = "CRITERION")]
    pub select_by: Option<Criterion>,
    /// Calibration inputs for the choices, when they are not the inputs (`--calib`).
    #[arg(skip)]
    #[serde(skip)]
    pub calib: Option<crate::data::InputBatch>,
    /// Labels of `calib` (`--calib-labels`).
    #[arg(skip)]
    #[serde(skip)]
    pub calib_labels: Option<Vec<usize>>,
}

impl Default for PassSettings {
    fn default() -> Self {
        defaults()
    }
}

impl PassSettings {
    /// True when some choice measures on calibration data.
    pub fn needs_data(&self) -> bool {
        self.keep_students.is_some() || self.energy_budget.is_some() || self.auto_timesteps
    }
}

/// Which of the inputs a command checks. Every input calibrates; the first `samples` are
/// checked (verified, simulated, priced, co-simulated).
#[derive(Clone, Copy, Debug, Default, PartialEq, clap::Args, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Samples {
    /// Check only the first N inputs; all of them still calibrate the input range (and the
    /// passes' choices unless --calib is given) [default: all; cosim: 16].
    #[arg(long, value_name = "N")]
    pub samples: Option<usize>,
}

impl Samples {
    /// The first `samples` of `batch` (all of them by default), refusing 0.
    pub fn of<'a>(
        &self,
        batch: &'a crate::data::InputBatch,
    ) -> Result<std::borrow::Cow<'a, crate::data::InputBatch>, NoSamples> {
        match self.samples {
            Some(0) => Err(NoSamples),
            Some(n) if n < batch.n => Ok(std::borrow::Cow::Owned(batch.take(n))),
            _ => Ok(std::borrow::Cow::Borrowed(batch)),
        }
    }
}

/// `--samples 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("--samples must be at least 1")]
pub struct NoSamples;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_logic_margin_is_a_word_or_a_fraction_from_json_and_the_command_line() {
        let parse = |j: &str| serde_json::from_str::<LogicMargin>(j).map_err(|e| e.to_string());
        assert_eq!(parse("0.1"), Ok(LogicMargin::Fraction(0.1)));
        assert_eq!(parse("\"0.1\""), Ok(LogicMargin::Fraction(0.1)));
        assert_eq!(parse("0"), Ok(LogicMargin::Fraction(0.0)));
        assert_eq!(parse("\"off\""), Ok(LogicMargin::Off));
        assert_eq!(parse("\"stated\""), Ok(LogicMargin::Stated));
        for bad in ["true", "1.5", "-0.1", "null", "\"half\"", "[0.1]"] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains("no logic margin: expected stated, off or a fraction from 0 to 0.9"), "{bad}: {e}");
        }
        // "-0" is 0, and each margin writes back as it reads.
        assert_eq!("-0".parse::<LogicMargin>().unwrap().to_string(), "0");
        for m in [LogicMargin::Stated, LogicMargin::Off, LogicMargin::Fraction(0.25)] {
            assert_eq!(parse(&serde_json::to_string(&m).unwrap()), Ok(m));
        }
        assert_eq!(PlanSettings::default().logic_margin, LogicMargin::Stated);
    }

    #[test]
    fn defaults_come_from_the_command_line_definition() {
        let p = PlanSettings::default();
        assert_eq!(
            (p.target.as_str(), p.weight_bits, p.input_bits, p.frac_bits, p.leak_bits),
            ("ice40-up5k", 8, 8, 6, 16)
        );
        assert_eq!((p.lanes, p.schedule, p.early_exit), (None, None, false));
        assert_eq!(PassSettings::default().min_agreement, 0.99);
        // serde fills an absent field from the same defaults.
        let q: PlanSettings = serde_json::from_str(r#"{"lanes": 4}"#).unwrap();
        assert_eq!(q, PlanSettings { lanes: Some(4), ..p });
        assert!(names::<PlanSettings>().contains(&"weight_bits".to_string()));
    }
}

/// The dialect options on the command line: the flags of [`DialectOverrides`] (the IR's plain
/// data, which Python fills by name), field for field (a test checks it).
#[derive(Clone, Debug, Default, PartialEq, clap::Args)]
pub struct DialectArgs {
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
    /// Discretisation: euler (beta = 1 - dt/tau), exact (beta = exp(-dt/tau), gain r (1 - beta):
    /// Sinabs) or exact-unnormalised (gain r: Sinabs' norm_input=False, as sinabs.from_nir reads
    /// a LIF).
    #[arg(long, value_enum)]
    pub integration: Option<Integration>,
    /// Synaptic input of CubaLIF: scaled by dt/tau_syn (NIR) or unit (Norse).
    #[arg(long, value_enum)]
    pub cuba_input: Option<CubaInput>,
    /// Spikes per step: single, multi (trunc(v/thr), Sinabs' MultiSpike) or multi-hidden.
    #[arg(long, value_enum)]
    pub spikes: Option<SpikeMode>,
    /// Initial membrane: zero, or v-leak (Norse).
    #[arg(long, value_enum)]
    pub initial_v: Option<InitialV>,
    /// Membrane floor after each step's reset (Sinabs' min_v_mem; NIR does not store it):
    /// a value, -threshold (each spiking neuron's), sinabs (-threshold on IF neurons only, as
    /// sinabs.from_nir) or none [default: none; sinabs with --from sinabs].
    #[arg(long, value_name = "VALUE|-threshold|sinabs|none", allow_hyphen_values = true)]
    pub v_min: Option<VMin>,
}

impl From<&DialectArgs> for DialectOverrides {
    fn from(a: &DialectArgs) -> Self {
        let DialectArgs {
            from,
            dt,
            reset,
            fire_on_equal,
            timesteps,
            integration,
            cuba_input,
            spikes,
            initial_v,
            v_min,
        } = a.clone();
        DialectOverrides {
            from,
            dt,
            reset,
            fire_on_equal,
            timesteps,
            integration,
            cuba_input,
            spikes,
            initial_v,
            v_min,
        }
    }
}

/// `clap::ValueEnum` for an IR enum (the IR knows no command line): each variant's flag value
/// is its serde name (a test checks it), so a flag takes exactly what a JSON file or Python
/// does; the help is the command line's.
macro_rules! value_enum {
    ($t:ident { $($v:ident = $name:literal: $help:literal),+ $(,)? }) => {
        impl clap::ValueEnum for $t {
            fn value_variants<'a>() -> &'a [Self] {
                &[$($t::$v),+]
            }
            fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
                Some(match self { $($t::$v => clap::builder::PossibleValue::new($name).help($help)),+ })
            }
        }
    };
}

value_enum!(Preset {
    Snntorch = "snntorch": "snnTorch `Leaky`: dt 1e-4, reset subtract-undecayed, fires on `>`",
    Spikingjelly = "spikingjelly": "SpikingJelly `LIFNode` via `export_to_nir(dt=1e-4)`: hard reset, fires on `>=`",
    Norse = "norse": "Norse 1.1 `to_nir`: tau written as tau*dt, so dt = 1e-6 (1e-3 squared); hard reset; the synaptic \
            current jumps by the full input; v starts at v_leak",
    Sinabs = "sinabs": "Sinabs: dt = 1 (tau in steps), reset subtract, fires on `>=`, exact exponential decay, multi-spike \
             (its default `MultiSpike`), the membrane floor `sinabs.from_nir` restores (`-v_threshold` on IF \
             neurons)",
    Nir = "nir": "Plain NIR: hard reset, `>`, dt inferred or given",
});
value_enum!(ResetMode {
    Zero = "zero": "NIR hard reset: `vhat = v_reset` after a spike",
    Subtract = "subtract": "Soft reset before the leak: `vhat = v - v_threshold * s`",
    SubtractUndecayed = "subtract-undecayed": "snnTorch's default: the threshold is subtracted after the leak, undecayed: `v[t+1] = \
                        leak(v[t]) + g I[t+1] - v_threshold * s[t]`",
});
value_enum!(Integration {
    Euler = "euler": "Forward Euler: `beta = 1 - dt/tau`, gain `r dt / tau` (NIR, snnTorch, SpikingJelly, Norse)",
    Exact = "exact": "Exact exponential: `beta = exp(-dt/tau)`, gain `r (1 - beta)` (Sinabs, `norm_input=True`, its default)",
    ExactUnnormalised = "exact-unnormalised": "Exact exponential decay without the input normalisation: `beta = exp(-dt/tau)`, gain `r` \
                        (Sinabs with `norm_input=False`, which is how `sinabs.from_nir` builds a LIF)",
});
value_enum!(CubaInput {
    Scaled = "scaled": "NIR: `i += (dt / tau_syn) * w_in * I`",
    Unit = "unit": "Norse: the current jumps by the full input, `i += w_in * I`",
});
value_enum!(SpikeMode {
    Single = "single": "At most one spike per step",
    Multi = "multi": "`trunc(v / threshold)` spikes per step, each subtracting a threshold (Sinabs' default `MultiSpike`)",
    MultiHidden = "multi-hidden": "Multi-spike, except the readout neurons (those whose spikes reach an Output without passing \
                  another neuron), which spike at most once per step: Xylo's hidden and output neurons",
});
value_enum!(InitialV {
    Zero = "zero": "Zero (NIR, snnTorch, SpikingJelly, Sinabs)",
    VLeak = "v-leak": "`v_leak` (Norse)",
});

#[cfg(test)]
mod dialect_flags {
    use super::*;

    /// The command line's dialect flags are the fields Python and JSON fill, one for one.
    #[test]
    fn dialect_flags_are_the_overrides_fields() {
        let json = serde_json::to_value(DialectOverrides::default()).unwrap();
        let mut fields: Vec<String> = json.as_object().unwrap().keys().cloned().collect();
        let mut flags = names::<DialectArgs>();
        fields.sort();
        flags.sort();
        assert_eq!(flags, fields);
    }

    /// A flag's values are the serde names (what a JSON file or Python gives).
    #[test]
    fn flag_values_are_serde_names() {
        fn check<T: clap::ValueEnum + Serialize>() {
            for v in T::value_variants() {
                let name = v.to_possible_value().unwrap().get_name().to_string();
                assert_eq!(serde_json::to_value(v).unwrap(), serde_json::Value::String(name));
            }
        }
        check::<Preset>();
        check::<ResetMode>();
        check::<Integration>();
        check::<CubaInput>();
        check::<SpikeMode>();
        check::<InitialV>();
    }
}
