//! Lowering a validated model to an FPGA [`Plan`]: quantisation under the FPGA rules, then
//! the layout.

use super::{Plan, Schedule, layout_planes};
use crate::model::Model;
use crate::options::{Datapath, PlanSettings};
use crate::quant::{self, InputStats, Network, QuantError, QuantOptions, Rules};
use crate::target::{ScheduleChoice, Target};

/// Why a model cannot become a plan.
pub type PlanError = QuantError;

/// What [`lower`] takes: the settings as given, resolved against a loaded target.
#[derive(Clone, Debug)]
pub struct PlanOptions {
    /// Target device, its clock as the settings ask.
    pub target: Target,
    /// Timesteps.
    pub timesteps: usize,
    /// The knobs (lanes, bits, schedule...), as the commands take them.
    pub settings: PlanSettings,
    /// Calibration input range.
    pub input_stats: Option<InputStats>,
    /// Output node name (when the model has several).
    pub output: Option<String>,
}

impl PlanOptions {
    /// The default knobs on `target`, on the sequential schedule (the commands resolve an
    /// absent schedule to the target's; library callers of this constructor choose theirs).
    pub fn new(target: Target, timesteps: usize) -> Self {
        let settings = PlanSettings { schedule: Some(ScheduleChoice::Sequential), ..PlanSettings::new(&target.name) };
        PlanOptions { target, timesteps, settings, input_stats: None, output: None }
    }

    /// The schedule: the one asked for, else the target's (sequential with early exit).
    pub fn schedule(&self) -> ScheduleChoice {
        let s = &self.settings;
        s.schedule.unwrap_or(self.target.mapping.schedule.with_early_exit(s.early_exit))
    }

    /// The FPGA arithmetic these options ask for.
    pub fn rules(&self) -> Rules {
        let s = &self.settings;
        Rules::fpga(s.weight_bits, s.input_bits, s.frac_bits, s.leak_bits, s.membrane_bits)
    }

    /// The quantisation options under `rules`.
    pub fn quant_with(&self, rules: Rules) -> QuantOptions {
        QuantOptions {
            rules,
            input_scale: self.settings.input_scale,
            input_stats: self.input_stats,
            timesteps: self.timesteps,
            output: self.output.clone(),
            early_exit: self.settings.early_exit,
            spike_cap: self.settings.spike_cap,
        }
    }

    /// The quantisation options under the FPGA rules.
    pub fn quant(&self) -> QuantOptions {
        self.quant_with(self.rules())
    }
}

/// Lowers `m` to a plan: [`quant::quantise`] under the FPGA rules, then [`layout`].
pub fn lower(m: &Model, o: &PlanOptions) -> Result<Plan, PlanError> {
    let early_exit = o.settings.early_exit;
    if o.schedule() == ScheduleChoice::Pipelined && early_exit {
        return Err(PlanError {
            node: None,
            message: "early exit needs the sequential schedule: a pipelined design runs its layers on different \
                      steps, so no step ends for all of them at once (drop --early-exit or use --schedule sequential)"
                .into(),
        });
    }
    if o.schedule() == ScheduleChoice::Streamed && early_exit {
        return Err(PlanError {
            node: None,
            message: "early exit needs the sequential schedule: a streamed design runs each layer's steps before \
                      the next layer, so no step ends for all layers before the last (drop --early-exit or use \
                      --schedule sequential)"
                .into(),
        });
    }
    if o.settings.fuse_steps && o.settings.datapath == Datapath::Event {
        return Err(PlanError {
            node: None,
            message: "--fuse-steps gathers every projection that can, so it takes no --datapath event".into(),
        });
    }
    let net = quant::quantise(m, &o.quant())?;
    let plan = lay_out(net, o);
    if o.settings.fuse_steps && plan.schedule != Schedule::Streamed {
        return Err(PlanError {
            node: None,
            message: format!(
                "--fuse-steps needs the streamed schedule, which runs a layer's steps together (the plan's schedule \
                 is {}: add --schedule streamed)",
                plan.schedule.name()
            ),
        });
    }
    if plan.schedule == Schedule::Streamed
        && let Err(super::schedule::OrderError::ReadsPreviousStep(layer)) = super::schedule::layer_major_order(&plan)
    {
        return Err(PlanError {
            node: Some(layer),
            message: "reads the previous step of its source (a recurrent or delayed projection), which a streamed \
                      design has overwritten: it runs each layer's steps before the next layer (use --schedule \
                      sequential or pipelined)"
                .into(),
        });
    }
    if let Some(mem) = &plan.external {
        let words: u64 = plan.tiles().iter().map(|t| t.words).sum();
        let refused = if words > mem.geometry.words() {
            Some(format!(
                "the weights need {words} words of external memory, the {} holds {}",
                mem.part,
                mem.geometry.words()
            ))
        } else {
            super::sdram::Streamer::new(mem.geometry, mem.timing.at(plan.clock_mhz))
                .err()
                .map(|e| format!("the {} at the plan's {} MHz clock: {e}", mem.part, plan.clock_mhz))
        };
        if let Some(message) = refused {
            return Err(PlanError { node: None, message: format!("streamed weights: {message}") });
        }
    }
    Ok(plan)
}

/// Lays a quantised network out on `o`'s target under `o`'s schedule; `auto` keeps pipelined
/// when its memories fit the device and its predicted logic is within `--logic-margin`. The
/// arithmetic is `net`'s, whatever the layout.
pub fn lay_out(net: Network, o: &PlanOptions) -> Plan {
    let lay = |net, s| {
        let mut p = layout_planes(net, &o.target, o.settings.lanes, o.settings.plane_bits, s);
        // The steps side by side gather every projection that can (a layer fuses when all do).
        p.fuse_steps = o.settings.fuse_steps && s == Schedule::Streamed;
        match o.settings.datapath {
            _ if p.fuse_steps => {
                let modes = super::dense::all_dense(&p);
                p.with_modes(&modes, &o.target).expect("every projection asked is eligible")
            }
            // Auto starts event-driven; the driver then measures and chooses.
            Datapath::Event | Datapath::Auto => p,
            Datapath::Dense => {
                let modes = super::dense::all_dense(&p);
                p.with_modes(&modes, &o.target).expect("every projection asked is eligible")
            }
        }
    };
    match o.schedule() {
        ScheduleChoice::Sequential => lay(net, Schedule::Sequential),
        ScheduleChoice::Pipelined => lay(net, Schedule::Pipelined),
        ScheduleChoice::Streamed => lay(net, Schedule::Streamed),
        ScheduleChoice::Auto if o.settings.early_exit => {
            let mut p = lay(net, Schedule::Sequential);
            p.schedule_note = Some("auto: sequential, as early exit needs".into());
            p
        }
        ScheduleChoice::Auto => {
            let (t, margin) = (&o.target, o.settings.logic_margin);
            // A layout is kept when its memories fit and its predicted logic is within the margin.
            let unfit = |p: &Plan| p.memory_misfit(t).or_else(|| super::logic::over_margin(p, t, margin));
            let mut p = lay(net.clone(), Schedule::Pipelined);
            // Auto datapath: pipelined also when only its dense layout (fewer event lists)
            // fits; the choice then keeps to layouts that fit. Why the dense one did not, too.
            let mut dense_why = None;
            if o.settings.datapath == Datapath::Auto
                && unfit(&p).is_some()
                && let Ok(d) = p.with_modes(&super::dense::all_dense(&p), t)
            {
                match unfit(&d) {
                    None => p = d,
                    why => dense_why = why,
                }
            }
            // On a board with external memory, weights spilled into logic are a misfit too:
            // they can stream instead.
            let board = t.external_memory.is_some();
            let misfit = if board {
                weights_off_chip(&p, t).or_else(|| super::logic::over_margin(&p, t, margin))
            } else {
                unfit(&p)
            }
            .map(|why| match &dense_why {
                Some(d) => format!("{why}; its dense layout, {d}"),
                None => why,
            });
            match misfit {
                None => {
                    let blocks = match t.device.block_rams {
                        0 => String::new(),
                        n => format!(" ({} of {n} block RAMs)", p.block_rams()),
                    };
                    // The laid-out design's (the datapath choice keeps to the margin too).
                    let logic = super::logic::Logic::of(&p, t)
                        .and_then(|l| Some((l.predicted.lc, l.limits(margin)?.1)))
                        .map(|(need, lc)| {
                            format!(
                                " and its logic is predicted to ({need} logic cells as laid out, within the {lc} a \
                                 design is kept to)"
                            )
                        })
                        .unwrap_or_default();
                    p.schedule_note = Some(format!(
                        "auto: pipelined, its memories fit the {}{blocks}{logic}; the bitstream build checks the \
                         logic and timing and compiles the sequential schedule if they fail",
                        t.name
                    ));
                    p
                }
                Some(why) => {
                    let mut s = lay(net.clone(), Schedule::Sequential);
                    s.schedule_note = Some(format!("auto: sequential; pipelined, {why}"));
                    let Some(mem) = o.target.external_memory.as_ref() else { return s };
                    let Some(miss) = weights_off_chip(&s, &o.target) else { return s };
                    let mut t = lay(net, Schedule::Streamed);
                    if let Err(e) = super::schedule::layer_major_order(&t) {
                        s.schedule_note = Some(format!(
                            "auto: sequential; pipelined, {why}; sequential, {miss}; streamed refused: {e}"
                        ));
                        return s;
                    }
                    t.schedule_note = Some(format!(
                        "auto: streamed, the weights from the board's {}, as they do not fit on chip: pipelined, \
                         {why}; sequential, {miss}",
                        mem.part
                    ));
                    t
                }
            }
        }
    }
}

/// Why the on-chip plan `p` does not hold its weights on `t`: its memories do not fit, or a
/// weight ROM deeper than [`super::memory::LOGIC_ROM_WORDS`] went to logic because the block
/// RAMs ran out (the memory check does not bound ROMs in logic). None: every weight is where a fitting design keeps it.
fn weights_off_chip(p: &Plan, t: &crate::target::Target) -> Option<String> {
    if let Some(why) = p.memory_misfit(t) {
        return Some(why);
    }
    let spilled = p
        .memories
        .iter()
        .filter(|m| m.rom && m.role == "weights" && m.map == super::MemMap::Registers)
        .filter(|m| m.depth > super::memory::LOGIC_ROM_WORDS)
        .count();
    (spilled > 0).then(|| {
        format!(
            "puts {spilled} weight {} in logic: the block RAMs ran out",
            if spilled == 1 { "memory" } else { "memories" }
        )
    })
}
