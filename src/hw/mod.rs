//! The FPGA layout: a quantised [`Network`] placed in neuron lanes, logical memories mapped
//! onto the device, and the event-driven schedule.
//!
//! [`lower()`] quantises a validated [`crate::Model`] under the FPGA [`crate::quant::Rules`] and
//! lays it out as a [`Plan`]; the cycle engine ([`crate::sim::cycle`]) executes the plan clock
//! by clock, and the Verilog and HLS back ends emit it. All three implement the arithmetic of
//! [`crate::quant`] and the layout and schedule written here; docs/hardware.md explains them
//! with the cycle formula.
//!
//! # Layout and events
//!
//! A layer of logical shape (C, H, W) with group size Gc and L lanes stores neuron
//! (c, y, x) at row `(c/Gc * ncg + (c%Gc)/L) * H*W + y*W + x`, lane `(c%Gc) % L`, with
//! `ncg = ceil(Gc/L)`. The update pass walks rows in order and appends one event entry
//! (base channel, y, x, lane mask) per row with at least one spike. A consumer expands the
//! mask lowest lane first: each set lane is one event (c, y, x, value 1). Input events are
//! the non-zero quantised inputs, in C order.
//!
//! A [`Plan`] dereferences to its [`Network`] and an FPGA [`Layer`] to its quantised
//! [`quant::Layer`]: the layout adds placement, never changes the arithmetic.

pub mod dense;
pub mod logic;
pub mod lower;
mod memmap;
pub mod memory;
mod mode;
mod plan;
pub mod schedule;
pub mod sdram;
pub mod taps;

use serde::Serialize;

use crate::ir::ResetMode;
use crate::quant::{AccTarget, InputPlan, Network, NeuronKind, OutputPlan, ProjKind, Source, range_str};
use crate::target::Target;

pub use lower::{PlanError, PlanOptions, lay_out, lower};
pub use memmap::{MemMap, Memory};
pub use plan::{Cascade, Layer, Plan, StoredShare, Tile};
pub use schedule::Schedule;

impl Plan {
    /// Block RAMs the RTL uses: its shared memories (`banks`) and the other memories.
    pub fn block_rams(&self) -> u64 {
        memory::block_rams(&self.memories, &self.banks)
    }

    /// What of this plan's memories the device lacks, each with the figures: more block RAMs
    /// than it has, or more register-mapped RAM bits (one flip-flop each) than its flip-flops.
    /// Empty: they fit. Large RAMs (SPRAM) are only ever placed within the device's count, and
    /// the logic around the memories is measured by synthesis, not here.
    pub fn device_misfits(&self, target: &Target) -> Vec<String> {
        let mut why = vec![];
        let (blocks, have) = (self.block_rams(), target.device.block_rams);
        if have > 0 && blocks > have {
            why.push(format!("its memories need {blocks} block RAMs, the device has {have}"));
        }
        let ram_bits: u64 =
            self.memories.iter().filter(|m| m.map == MemMap::Registers && !m.rom).map(|m| m.bits()).sum();
        let ffs = target.device.ffs;
        if ffs > 0 && ram_bits > ffs {
            why.push(format!("its register memories need {ram_bits} flip-flops, the device has {ffs}"));
        }
        why
    }

    /// The same plan with its projections in `modes` (per layer, one per projection), its
    /// memories mapped again on `t`; the arithmetic is unchanged. Err names the first
    /// projection asked to run dense that cannot, and why.
    pub fn with_modes(&self, modes: &[Vec<dense::Mode>], t: &Target) -> Result<Plan, dense::ModeError> {
        let mut p = self.clone();
        for (k, l) in p.net.layers.iter_mut().enumerate() {
            l.modes = modes.get(k).cloned().unwrap_or_default();
            l.modes.resize(l.projections.len(), dense::Mode::Event);
        }
        for (k, l) in p.layers.iter().enumerate() {
            for (pi, m) in l.modes.iter().enumerate() {
                if *m == dense::Mode::Dense
                    && let Err(why) = dense::geometry(&p, k, pi)
                {
                    return Err(dense::ModeError { layer: l.name.clone(), projection: pi, why });
                }
            }
        }
        memory::map_into(&mut p, t);
        Ok(p)
    }

    /// The first of [`Plan::device_misfits`], or None when the memories fit.
    pub fn memory_misfit(&self, target: &Target) -> Option<String> {
        self.device_misfits(target).into_iter().next()
    }
}

/// Lays `net` out for `target`: `lanes` per layer (default: the target's), then the memory
/// map for `schedule`; plane words of the default width ([`layout_planes`]).
pub fn layout(net: Network, target: &Target, lanes: Option<usize>, schedule: Schedule) -> Plan {
    layout_planes(net, target, lanes, dense::WORD_MAX, schedule)
}

/// [`layout`] with spike-plane words at most `plane_bits` wide (`--plane-bits`).
pub fn layout_planes(
    net: Network,
    target: &Target,
    lanes: Option<usize>,
    plane_bits: usize,
    schedule: Schedule,
) -> Plan {
    let lanes = lanes.unwrap_or(target.mapping.default_lanes);
    let mut plan = Plan {
        net: net.map_layers(|q| Layer::place(q, lanes, plane_bits)),
        target: target.name.clone(),
        clock_mhz: target.clock.default_mhz,
        memories: vec![],
        banks: vec![],
        device_block_rams: target.device.block_rams,
        schedule,
        fuse_steps: false,
        schedule_note: None,
        datapath_note: None,
        mode_choices: vec![],
        external: target.external_memory.clone().filter(|_| schedule == Schedule::Streamed),
        power_on: None,
        cascade: None,
    };
    memory::map_into(&mut plan, target);
    plan
}

/// A readable summary of one projection.
#[derive(Clone, Debug, Serialize)]
pub struct ProjSummary {
    /// Source node.
    pub from: String,
    /// Kind (`dense`, `conv`, `pool`, `one-to-one`, with `pool+` for pre-pooling).
    pub kind: String,
    /// `binary` or `k-bit`.
    pub weights: String,
    /// Left shift of each product.
    pub shift: u32,
    /// Beats per event, the most (every event's but a convolution's).
    pub beats_per_event: u64,
    /// The fewest beats per event (fewer than the most for a convolution whose window is
    /// clipped at the borders).
    pub beats_per_event_min: u64,
    /// Static (direct input, once per sample) or dynamic.
    pub target: AccTarget,
    /// Reads the previous step.
    pub delayed: bool,
    /// `event` or `dense` (docs/hardware.md 4c).
    pub mode: dense::Mode,
    /// Why the projection cannot run dense (None: it can).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dense_refused: Option<String>,
    /// `--datapath auto`'s predicted figures in both modes (eligible projections).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub choice: Option<dense::ModeChoice>,
}

/// A readable summary of one layer.
#[derive(Clone, Debug, Serialize)]
pub struct LayerSummary {
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: NeuronKind,
    /// (C, H, W).
    pub shape: [usize; 3],
    /// Lanes.
    pub lanes: usize,
    /// Rows.
    pub rows: usize,
    /// Membrane bits.
    pub v_bits: u32,
    /// Static accumulator bits.
    pub s_bits: u32,
    /// Synaptic state bits.
    pub y_bits: u32,
    /// Saturating arithmetic.
    pub saturate: bool,
    /// Leak, e.g. `x*58982>>16`.
    pub leak: String,
    /// Threshold in LSBs (one value or a range).
    pub threshold: String,
    /// Real value of one membrane LSB (one value or a range).
    pub unit: String,
    /// Membrane floor in LSBs (one value or a range), when the layer has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub floor: Option<String>,
    /// A multi-spike layer's largest count per neuron and step, and its bits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counts: Option<(u64, u32)>,
    /// Tiles of lane groups a streamed plan runs the layer in, one after another (omitted: 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tiles: Option<usize>,
    /// The layer runs its rows with the T steps side by side (`--fuse-steps`; omitted: no).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub fused: bool,
    /// Under `--fuse-steps`, why the layer is not fused (omitted: it is, or the plan does not
    /// fuse).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unfused: Option<String>,
    /// Projections.
    pub projections: Vec<ProjSummary>,
}

/// A plan without its weight values.
#[derive(Clone, Debug, Serialize)]
pub struct PlanSummary {
    /// Model.
    pub model: String,
    /// Target.
    pub target: String,
    /// Clock.
    pub clock_mhz: f64,
    /// T.
    pub timesteps: usize,
    /// F.
    pub frac_bits: u32,
    /// P.
    pub leak_bits: u32,
    /// Reset.
    pub reset: ResetMode,
    /// Fire on equal.
    pub fire_on_equal: bool,
    /// Input.
    pub input: InputPlan,
    /// Layers.
    pub layers: Vec<LayerSummary>,
    /// Output.
    pub output: OutputPlan,
    /// Memories.
    pub memories: Vec<Memory>,
    /// The RTL's shared memories.
    pub banks: Vec<memory::Bank>,
    /// Block RAMs the RTL uses.
    pub block_rams: u64,
    /// The target device's block RAMs (0: none or not an FPGA).
    pub device_block_rams: u64,
    /// Bits of memories mapped to registers.
    pub register_bits: u64,
    /// Early exit.
    pub early_exit: bool,
    /// Schedule.
    pub schedule: Schedule,
    /// Why `--schedule auto` chose it (absent when it was asked for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule_note: Option<String>,
    /// How `--datapath auto` chose the modes (absent when they were asked for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datapath_note: Option<String>,
    /// The widest spike-plane word (`--plane-bits`; absent at the default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plane_bits: Option<usize>,
}

impl Plan {
    /// The plan without weights, for reports.
    pub fn summary(&self) -> PlanSummary {
        let name_of = |s: &Source| match s {
            Source::Input => self.input.node.clone(),
            Source::Layer(k) => self.layers[*k].name.clone(),
        };
        let layers = self
            .layers
            .iter()
            .enumerate()
            .map(|(k, l)| LayerSummary {
                name: l.name.clone(),
                kind: l.kind,
                shape: l.shape,
                lanes: l.lanes,
                rows: l.rows,
                v_bits: l.v_bits,
                s_bits: l.s_bits,
                y_bits: l.y_bits,
                saturate: l.saturate,
                leak: l.leak.describe(self.rules.leak_bits()),
                threshold: if l.spiking() { range_str(&l.params.thr) } else { "-".into() },
                floor: (!l.params.vmin.is_empty()).then(|| range_str(&l.params.vmin)),
                counts: l.multi.then_some((l.max_count, l.count_bits)),
                tiles: (l.tiles > 1).then_some(l.tiles),
                fused: self.fused(k),
                unfused: dense::unfused_why(self, k),
                unit: {
                    let (lo, hi) = l.unit.iter().fold((f64::INFINITY, 0.0f64), |(a, b), &u| (a.min(u), b.max(u)));
                    if lo == hi { format!("{lo:.4e}") } else { format!("{lo:.4e}..{hi:.4e}") }
                },
                projections: l
                    .projections
                    .iter()
                    .enumerate()
                    .map(|(pi, p)| {
                        let (beats_min, beats_max) = schedule::beats_range(l, p);
                        ProjSummary {
                            from: name_of(&p.source),
                            kind: format!(
                                "{}{}",
                                if p.pre_pool.is_some() { "pool+" } else { "" },
                                match p.kind {
                                    ProjKind::Dense { .. } => "dense",
                                    ProjKind::Conv { .. } => "conv",
                                    ProjKind::Pool(_) => "pool",
                                    ProjKind::OneToOne => "one-to-one",
                                }
                            ),
                            weights: if p.weights.binary() {
                                "binary".into()
                            } else {
                                format!("{}-bit", p.weights.bits)
                            },
                            shift: p.shift,
                            beats_per_event: beats_max,
                            beats_per_event_min: beats_min,
                            target: p.target,
                            delayed: p.delayed,
                            mode: l.modes[pi],
                            dense_refused: dense::geometry(self, k, pi).err().map(|e| e.to_string()),
                            choice: self.mode_choices.iter().find(|c| c.layer == k && c.projection == pi).cloned(),
                        }
                    })
                    .collect(),
            })
            .collect();
        let block_rams = self.block_rams();
        let register_bits = self.memories.iter().filter(|m| m.map == MemMap::Registers).map(|m| m.bits()).sum();
        PlanSummary {
            model: self.model.clone(),
            target: self.target.clone(),
            clock_mhz: self.clock_mhz,
            timesteps: self.timesteps,
            frac_bits: self.rules.frac_bits(),
            leak_bits: self.rules.leak_bits(),
            reset: self.reset,
            fire_on_equal: self.fire_on_equal,
            input: self.input.clone(),
            layers,
            output: self.output.clone(),
            memories: self.memories.clone(),
            banks: self.banks.clone(),
            block_rams,
            device_block_rams: self.device_block_rams,
            register_bits,
            early_exit: self.early_exit,
            schedule: self.schedule,
            schedule_note: self.schedule_note.clone(),
            datapath_note: self.datapath_note.clone(),
            plane_bits: self.layers.first().map(|l| l.plane_bits).filter(|&b| b != dense::WORD_MAX),
        }
    }
}
