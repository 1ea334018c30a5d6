//! The dialect: semantic facts a NIR file does not store (dt, reset, firing rule, timesteps).
//!
//! Resolution order, most specific first: explicit options, then the `--from` preset, then
//! what the model file itself carries (spikefab JSON stores a dialect), then defaults. dt is
//! never guessed: it is inferred only where the file encodes it unambiguously (every LIF and
//! CubaLIF (and LI/CubaLI readout) has `r != 1` and one common `dt = tau / r`, which is what
//! snnTorch's exporter writes); otherwise a model that needs dt is refused.

use serde::{Deserialize, Serialize};
use std::fmt;

use super::Op;
pub use super::resolve::{DtInference, infer_dt};

/// What happens to the membrane after a spike (docs/semantics.md).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResetMode {
    /// NIR hard reset: `vhat = v_reset` after a spike.
    #[default]
    Zero,
    /// Soft reset before the leak: `vhat = v - v_threshold * s`.
    Subtract,
    /// snnTorch's default: the threshold is subtracted after the leak, undecayed:
    /// `v[t+1] = leak(v[t]) + g I[t+1] - v_threshold * s[t]`.
    SubtractUndecayed,
}

impl fmt::Display for ResetMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResetMode::Zero => "zero",
            ResetMode::Subtract => "subtract",
            ResetMode::SubtractUndecayed => "subtract-undecayed",
        })
    }
}

/// How the continuous neuron equations are discretised.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Integration {
    /// Forward Euler: `beta = 1 - dt/tau`, gain `r dt / tau` (NIR, snnTorch, SpikingJelly, Norse).
    #[default]
    Euler,
    /// Exact exponential: `beta = exp(-dt/tau)`, gain `r (1 - beta)` (Sinabs, `norm_input=True`,
    /// its default).
    Exact,
    /// Exact exponential decay without the input normalisation: `beta = exp(-dt/tau)`, gain `r`
    /// (Sinabs with `norm_input=False`, which is how `sinabs.from_nir` builds a LIF).
    ExactUnnormalised,
}

/// How input reaches the synaptic current of CubaLI/CubaLIF neurons.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CubaInput {
    /// NIR: `i += (dt / tau_syn) * w_in * I`.
    #[default]
    Scaled,
    /// Norse: the current jumps by the full input, `i += w_in * I`.
    Unit,
}

/// Spikes per step a neuron may emit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SpikeMode {
    /// At most one spike per step.
    #[default]
    Single,
    /// `trunc(v / threshold)` spikes per step, each subtracting a threshold (Sinabs' default
    /// `MultiSpike`).
    Multi,
    /// Multi-spike, except the readout neurons (those whose spikes reach an Output without
    /// passing another neuron), which spike at most once per step: Xylo's hidden and output
    /// neurons.
    MultiHidden,
}

/// Initial membrane potential.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InitialV {
    /// Zero (NIR, snnTorch, SpikingJelly, Sinabs).
    #[default]
    Zero,
    /// `v_leak` (Norse).
    VLeak,
}

/// A lower bound on the membrane a neuron carries to the next step (Sinabs' `min_v_mem`),
/// applied after the spike and the reset as Sinabs computes it: `v = relu(v - v_min) + v_min`.
/// The step's output (spikes, or the membrane of a non-spiking neuron) is taken before it.
/// NIR has no field for it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum VMin {
    /// No floor (NIR, snnTorch, SpikingJelly, Norse).
    #[default]
    None,
    /// One value for every neuron with a membrane (`--v-min -1`).
    Value(f64),
    /// `-v_threshold` of each spiking neuron; non-spiking neurons have none (`-threshold`).
    MinusThreshold,
    /// As `sinabs.from_nir` restores it: `-v_threshold` on IF neurons (it builds
    /// `IAFSqueeze(min_v_mem=-v_threshold)`), none on LIF and LI (`LIFSqueeze`,
    /// `ExpLeakSqueeze` with `min_v_mem=None`) (`sinabs`).
    Sinabs,
}

impl VMin {
    /// The floor of `n` neurons of `op` whose thresholds are `v_th` (None: non-spiking), or
    /// `None` when they have none.
    pub fn of(self, op: &Op, v_th: Option<&[f64]>, n: usize) -> Option<Vec<f64>> {
        if matches!(op, Op::Threshold { .. }) {
            return None;
        }
        match self {
            VMin::None => None,
            VMin::Value(x) => Some(vec![x; n]),
            VMin::MinusThreshold => v_th.map(|t| t.iter().map(|&x| -x).collect()),
            VMin::Sinabs if matches!(op, Op::IF { .. }) => v_th.map(|t| t.iter().map(|&x| -x).collect()),
            VMin::Sinabs => None,
        }
    }
}

impl fmt::Display for VMin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VMin::None => f.write_str("none"),
            VMin::Value(x) => write!(f, "{x}"),
            VMin::MinusThreshold => f.write_str("-threshold"),
            VMin::Sinabs => f.write_str("sinabs"),
        }
    }
}

impl std::str::FromStr for VMin {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "none" => Ok(VMin::None),
            "-threshold" | "-thr" => Ok(VMin::MinusThreshold),
            "sinabs" => Ok(VMin::Sinabs),
            t => match t.parse::<f64>() {
                Ok(x) if x.is_finite() => Ok(VMin::Value(x)),
                _ => Err(format!(
                    "'{}' is not a membrane floor: give a finite number, -threshold, sinabs (as sinabs.from_nir: \
                     -threshold on IF neurons only) or none",
                    s.escape_debug()
                )),
            },
        }
    }
}

impl Serialize for VMin {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            VMin::Value(x) => s.serialize_f64(*x),
            other => s.serialize_str(&other.to_string()),
        }
    }
}

impl<'de> Deserialize<'de> for VMin {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Num(f64),
            Str(String),
        }
        match Raw::deserialize(d)? {
            Raw::Num(x) if x.is_finite() => Ok(VMin::Value(x)),
            Raw::Num(x) => Err(serde::de::Error::custom(format!("v_min must be finite, got {x}"))),
            Raw::Str(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// Source frameworks with a known dialect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// snnTorch `Leaky`: dt 1e-4, reset subtract-undecayed, fires on `>`.
    Snntorch,
    /// SpikingJelly `LIFNode` via `export_to_nir(dt=1e-4)`: hard reset, fires on `>=`.
    Spikingjelly,
    /// Norse 1.1 `to_nir`: tau written as tau*dt, so dt = 1e-6 (1e-3 squared); hard reset;
    /// the synaptic current jumps by the full input; v starts at v_leak.
    Norse,
    /// Sinabs: dt = 1 (tau in steps), reset subtract, fires on `>=`, exact exponential decay,
    /// multi-spike (its default `MultiSpike`), the membrane floor `sinabs.from_nir` restores
    /// (`-v_threshold` on IF neurons).
    Sinabs,
    /// Plain NIR: hard reset, `>`, dt inferred or given.
    Nir,
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Preset::Snntorch => "snntorch",
            Preset::Spikingjelly => "spikingjelly",
            Preset::Norse => "norse",
            Preset::Sinabs => "sinabs",
            Preset::Nir => "nir",
        })
    }
}

impl Preset {
    /// (dt, reset, fire_on_equal) of the preset; dt `None` means "infer or ask".
    pub fn settings(self) -> (Option<f64>, ResetMode, bool) {
        match self {
            Preset::Snntorch => (Some(1e-4), ResetMode::SubtractUndecayed, false),
            Preset::Spikingjelly => (Some(1e-4), ResetMode::Zero, true),
            Preset::Norse => (Some(1e-6), ResetMode::Zero, false),
            Preset::Sinabs => (Some(1.0), ResetMode::Subtract, true),
            Preset::Nir => (None, ResetMode::Zero, false),
        }
    }
}

/// How dt was decided.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DtSource {
    /// Not decided yet (or not needed).
    #[default]
    Unset,
    /// Given as an option.
    Given,
    /// Set by a `--from` preset.
    Preset,
    /// Stored in the model file (spikefab JSON).
    File,
    /// Inferred from `r = tau / dt` on every LIF/CubaLIF node.
    Inferred,
    /// The graph has no node whose dynamics depend on dt.
    NotNeeded,
}

/// Semantic switches beyond dt, reset and firing rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Switches {
    /// Discretisation.
    #[serde(default)]
    pub integration: Integration,
    /// Synaptic input of current-based neurons.
    #[serde(default)]
    pub cuba_input: CubaInput,
    /// Single or multi-spike neurons.
    #[serde(default)]
    pub spikes: SpikeMode,
    /// Initial membrane.
    #[serde(default)]
    pub initial_v: InitialV,
    /// Membrane floor.
    #[serde(default, skip_serializing_if = "is_no_floor")]
    pub v_min: VMin,
}

fn is_no_floor(v: &VMin) -> bool {
    *v == VMin::None
}

impl Preset {
    /// The preset's semantic switches.
    pub fn switches(self) -> Switches {
        match self {
            Preset::Norse => Switches { cuba_input: CubaInput::Unit, initial_v: InitialV::VLeak, ..Default::default() },
            Preset::Sinabs => Switches {
                integration: Integration::Exact,
                spikes: SpikeMode::Multi,
                v_min: VMin::Sinabs,
                ..Default::default()
            },
            _ => Switches::default(),
        }
    }
}

/// The resolved dialect a graph is simulated and compiled with.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Dialect {
    /// Time step in seconds.
    pub dt: Option<f64>,
    /// Where dt came from.
    #[serde(default)]
    pub dt_source: DtSource,
    /// Reset mode of every spiking neuron.
    #[serde(default)]
    pub reset: ResetMode,
    /// Fire on `v >= threshold` instead of `v > threshold`.
    #[serde(default)]
    pub fire_on_equal: bool,
    /// Number of timesteps per inference, when known.
    #[serde(default)]
    pub timesteps: Option<usize>,
    /// Preset the dialect came from, if any.
    #[serde(default)]
    pub preset: Option<Preset>,
    /// Further semantic switches.
    #[serde(default, flatten)]
    pub switches: Switches,
}

/// Dialect options as given by the user; `None` means "not given". Python passes its fields
/// by name (serde); the command line's flags for them are `options::DialectArgs`, which a test
/// keeps field for field equal to this struct.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DialectOverrides {
    /// Source framework preset: sets dt, reset and firing rule as that framework computes.
    pub from: Option<Preset>,
    /// Time step in seconds (NIR does not store it).
    pub dt: Option<f64>,
    /// Reset after a spike [default: zero, NIR's hard reset].
    pub reset: Option<ResetMode>,
    /// Fire when v >= threshold (default: v > threshold).
    pub fire_on_equal: bool,
    /// Timesteps per inference.
    pub timesteps: Option<usize>,
    /// Discretisation: euler (beta = 1 - dt/tau), exact (beta = exp(-dt/tau), gain r (1 - beta):
    /// Sinabs) or exact-unnormalised (gain r: Sinabs' norm_input=False, as sinabs.from_nir reads
    /// a LIF).
    pub integration: Option<Integration>,
    /// Synaptic input of CubaLIF: scaled by dt/tau_syn (NIR) or unit (Norse).
    pub cuba_input: Option<CubaInput>,
    /// Spikes per step: single, multi (trunc(v/thr), Sinabs' MultiSpike) or multi-hidden.
    pub spikes: Option<SpikeMode>,
    /// Initial membrane: zero, or v-leak (Norse).
    pub initial_v: Option<InitialV>,
    /// Membrane floor after each step's reset (Sinabs' min_v_mem; NIR does not store it):
    /// a value, -threshold (each spiking neuron's), sinabs (-threshold on IF neurons only, as
    /// sinabs.from_nir) or none [default: none; sinabs with --from sinabs].
    pub v_min: Option<VMin>,
}

/// Why a dialect could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum DialectError {
    /// dt is needed and cannot be inferred.
    #[error(
        "dt is not stored in the file and cannot be inferred: {reason}; give --dt SECONDS or \
         --from snntorch|spikingjelly|norse|sinabs"
    )]
    NeedDt {
        /// Why inference failed.
        reason: String,
    },
    /// dt given but not positive and finite.
    #[error("--dt must be a positive finite number of seconds, got {0}")]
    BadDt(f64),
    /// Zero timesteps.
    #[error("--timesteps must be at least 1")]
    ZeroTimesteps,
    /// More timesteps than [`crate::limits::MAX_TIMESTEPS`].
    #[error("{0} timesteps is above the limit of {max}", max = crate::limits::MAX_TIMESTEPS)]
    TooManyTimesteps(usize),
    /// The file's dt is not a positive finite number.
    #[error("field 'dialect.dt' is {0}; dt must be a positive finite number of seconds")]
    BadFileDt(f64),
}

pub use DialectOverrides as Overrides;

/// Facts of a dialect that the model's own equations fix (an ONNX graph computes its reset,
/// firing rule and decay) and that `resolved` changes, one message each. Options still win,
/// as for every format; these messages make the override explicit.
pub fn overridden(fixed: &Dialect, resolved: &Dialect) -> Vec<String> {
    let mut v = vec![];
    if let (Some(a), Some(b)) = (fixed.dt, resolved.dt)
        && a != b
    {
        v.push(format!(
            "dt {} s changes the decay the graph computes: its neurons are written for dt = {} s",
            fmt_seconds(b),
            fmt_seconds(a)
        ));
    }
    if fixed.reset != resolved.reset {
        v.push(format!("reset {} overrides the graph's own reset, {}", resolved.reset, fixed.reset));
    }
    if fixed.fire_on_equal != resolved.fire_on_equal {
        let rule = |e: bool| if e { "v >= thr" } else { "v > thr" };
        v.push(format!(
            "firing on {} overrides the graph's own rule, {}",
            rule(resolved.fire_on_equal),
            rule(fixed.fire_on_equal)
        ));
    }
    if fixed.switches != resolved.switches {
        v.push(format!("switches {:?} override the graph's own semantics {:?}", resolved.switches, fixed.switches));
    }
    v
}

/// Seconds in the shortest readable form: `1e-4`, `0.5`, `1`.
pub fn fmt_seconds(x: f64) -> String {
    if x != 0.0 && (x.abs() < 1e-2 || x.abs() >= 1e4) { format!("{x:e}") } else { format!("{x}") }
}

impl Dialect {
    /// dt, or 1.0 for graphs whose dynamics do not depend on it.
    pub fn dt_or_one(&self) -> f64 {
        self.dt.unwrap_or(1.0)
    }

    /// One-line description, e.g. `dt = 1e-4 s (inferred from r = tau/dt), reset zero, fire v > thr`.
    pub fn describe(&self) -> String {
        let dt = match (self.dt, self.dt_source) {
            (_, DtSource::NotNeeded) => "dt not needed".to_string(),
            (Some(dt), src) => {
                let how = match src {
                    DtSource::Given => "given",
                    DtSource::Preset => "from preset",
                    DtSource::File => "from file",
                    DtSource::Inferred => "inferred from r = tau/dt on every LIF",
                    _ => "unset",
                };
                format!("dt = {} s ({how})", fmt_seconds(dt))
            }
            (None, _) => "dt unset".to_string(),
        };
        let fire = if self.fire_on_equal { "v >= thr" } else { "v > thr" };
        let preset = self.preset.map(|p| format!("preset {p}, ")).unwrap_or_default();
        let t = self.timesteps.map(|t| format!(", T = {t}")).unwrap_or_default();
        let s = &self.switches;
        let mut extra = String::new();
        match s.integration {
            Integration::Euler => {}
            Integration::Exact => extra.push_str(", exact exponential decay"),
            Integration::ExactUnnormalised => extra.push_str(", exact exponential decay, input not normalised"),
        }
        if s.cuba_input == CubaInput::Unit {
            extra.push_str(", synaptic input unscaled");
        }
        if s.spikes == SpikeMode::Multi {
            extra.push_str(", multi-spike");
        }
        if s.initial_v == InitialV::VLeak {
            extra.push_str(", v starts at v_leak");
        }
        match s.v_min {
            VMin::None => {}
            VMin::Sinabs => extra.push_str(", membrane floor -v_threshold on IF neurons"),
            VMin::MinusThreshold => extra.push_str(", membrane floor -v_threshold"),
            VMin::Value(x) => extra.push_str(&format!(", membrane floor {x}")),
        }
        format!("{preset}{dt}, reset {}, fire {fire}{extra}{t}", self.reset)
    }
}
