//! Lowering a validated model to an FPGA [`Plan`]: quantisation under the FPGA rules, then
//! the layout.

use super::{Plan, Schedule, layout};
use crate::model::Model;
use crate::quant::{self, InputStats, QuantError, QuantOptions, Rules};
use crate::target::{ScheduleChoice, Target};

/// Why a model cannot become a plan.
pub type PlanError = QuantError;

/// Plan options (the `plan`/`verify`/`compile` flags).
#[derive(Clone, Debug)]
pub struct PlanOptions {
    /// Target device.
    pub target: Target,
    /// Neuron lanes per layer (default: the target's).
    pub lanes: Option<usize>,
    /// Bits of non-binary weights.
    pub weight_bits: u32,
    /// Bits of quantised real-valued inputs.
    pub input_bits: u32,
    /// Fractional bits F of membranes.
    pub frac_bits: u32,
    /// Fractional bits P of leak multipliers.
    pub leak_bits: u32,
    /// Cap on membrane width (saturating arithmetic when below the analysed width).
    pub membrane_bits: Option<u32>,
    /// Real value of one input LSB (else derived from `input_stats`).
    pub input_scale: Option<f64>,
    /// Calibration input range.
    pub input_stats: Option<InputStats>,
    /// Timesteps.
    pub timesteps: usize,
    /// Output node name (when the model has several).
    pub output: Option<String>,
    /// Decided early exit.
    pub early_exit: bool,
    /// How layers share the hardware in time (pipelined: not with early exit; auto: pipelined
    /// when its memories fit the device, else sequential).
    pub schedule: ScheduleChoice,
}

impl PlanOptions {
    /// Defaults for a target: 8-bit weights and inputs, F = 6, P = 16.
    pub fn new(target: Target, timesteps: usize) -> Self {
        PlanOptions {
            target,
            lanes: None,
            weight_bits: 8,
            input_bits: 8,
            frac_bits: 6,
            leak_bits: 16,
            membrane_bits: None,
            input_scale: None,
            input_stats: None,
            timesteps,
            output: None,
            early_exit: false,
            schedule: ScheduleChoice::Sequential,
        }
    }
}

impl PlanOptions {
    /// The FPGA arithmetic these options ask for.
    pub fn rules(&self) -> Rules {
        Rules::fpga(self.weight_bits, self.input_bits, self.frac_bits, self.leak_bits, self.membrane_bits)
    }

    /// The quantisation options.
    pub fn quant(&self) -> QuantOptions {
        QuantOptions {
            rules: self.rules(),
            input_scale: self.input_scale,
            input_stats: self.input_stats,
            timesteps: self.timesteps,
            output: self.output.clone(),
            early_exit: self.early_exit,
        }
    }
}

/// Lowers `m` to a plan: [`quant::quantise`] under the FPGA rules, then [`layout`].
pub fn lower(m: &Model, o: &PlanOptions) -> Result<Plan, PlanError> {
    if o.schedule == ScheduleChoice::Pipelined && o.early_exit {
        return Err(PlanError {
            node: None,
            message: "early exit needs the sequential schedule: a pipelined design runs its layers on different \
                      steps, so no step ends for all of them at once (drop --early-exit or use --schedule sequential)"
                .into(),
        });
    }
    let net = quant::quantise(m, &o.quant())?;
    let lay = |net, s| layout(net, &o.target, o.lanes, s);
    Ok(match o.schedule {
        ScheduleChoice::Sequential => lay(net, Schedule::Sequential),
        ScheduleChoice::Pipelined => lay(net, Schedule::Pipelined),
        ScheduleChoice::Auto if o.early_exit => {
            let mut p = lay(net, Schedule::Sequential);
            p.schedule_note = Some("auto: sequential, as early exit needs".into());
            p
        }
        ScheduleChoice::Auto => {
            let mut p = lay(net.clone(), Schedule::Pipelined);
            match p.memory_misfit(&o.target) {
                None => {
                    let blocks = match o.target.device.block_rams {
                        0 => String::new(),
                        n => format!(" ({} of {n} block RAMs)", p.block_rams()),
                    };
                    p.schedule_note = Some(format!(
                        "auto: pipelined, its memories fit the {}{blocks}; the bitstream build checks the \
                         logic and timing and compiles the sequential schedule if they fail",
                        o.target.name
                    ));
                    p
                }
                Some(why) => {
                    let mut s = lay(net, Schedule::Sequential);
                    s.schedule_note = Some(format!("auto: sequential; pipelined, {why}"));
                    s
                }
            }
        }
    })
}
