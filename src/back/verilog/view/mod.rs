//! Everything the Verilog templates print, computed from the plan: widths, constants, ROM
//! images and the address arithmetic of each projection. This module assembles the design's
//! view from its parts: [`layer`] (layers and their parameters), [`proj`] (accumulate units),
//! [`rom`] (memory images), [`banks`] (shared state memories and event lists), [`update`]
//! (update datapaths), [`sequencer`] (the sequential program) and [`pipe`] (the pipelined
//! schedule's sequencers and list copies). What they share is defined apart from the
//! builders: [`common`] (the error, the list of ROM images, a weight ROM's large-RAM
//! placement) and [`types`] (a layer's view, which the parts read and fill).
//!
//! Invariants: the view is a pure function of the plan (deterministic); a plan outside the
//! RTL's limits ([`crate::back::limits`]) is refused before anything is built.

mod banks;
mod common;
mod dense_shared;
mod expr;
mod fused;
mod layer;
mod pipe;
mod proj;
mod rom;
mod sequencer;
mod tiles;
mod types;
mod update;

use banks::{BankView, EvBankView};
pub use common::EmitError;
use pipe::{PipeListView, PipeProducerView, UnitView};
use rom::WeightLoad;
use sequencer::Program;
use types::LayerView;
use update::UGroupView;

use crate::back::common::{header, in_registers, out_word_bits, reads_input, top_name};
use crate::back::limits;
use crate::hw::{Plan, Schedule};
use crate::ir::ResetMode;
use crate::names::Namer;
use expr::abits;

/// Emitted files.
#[derive(Debug, Clone)]
pub struct Design {
    /// Top module name.
    pub module: String,
    /// (file name, contents), deterministic order.
    pub files: Vec<(String, String)>,
    /// Bits of an output word.
    pub out_width: usize,
    /// Bits of an input word.
    pub in_width: usize,
    /// The design has the weight-load port (`wl_valid`, `wl_ready`, `wl_data[3:0]`): weight
    /// ROMs in SPRAM, loaded from `<module>_wl.hex` after reset.
    pub weight_load: bool,
    /// Weights streamed from the board's SDRAM: the widths of its bank address, address and
    /// data pins (the design's `sd_*` ports, on the memory's own pins).
    pub sdram: Option<SdramPorts>,
}

/// The widths of a design's SDRAM pins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdramPorts {
    /// Bank address bits.
    pub ba: usize,
    /// Address bits.
    pub a: usize,
    /// Data bits.
    pub dq: usize,
}

/// The whole design.
pub struct TopView {
    /// Module name.
    pub module: String,
    /// Cycles from a row's read data to its write (the neuron pipeline, `schedule::upd_tail`).
    pub u_lat: u64,
    /// The neuron lanes' count divider stages (`schedule::count_stages`: the widest count of
    /// a multi-spike layer, 0 without one) and the width of their `count` (at least 1).
    pub qb: usize,
    /// See `qb`.
    pub qw: usize,
    /// Some layer has a membrane floor.
    pub floor: bool,
    /// The output layer's largest count per step (1 for spikes): what a class can still gain
    /// per remaining step, for the early-exit decision.
    pub out_max: usize,
    /// Widths of the update pass's y and x counters over every layer (the early-exit counts).
    pub uyw: usize,
    pub uxw: usize,
    /// Model and plan description for the header.
    pub header: Vec<String>,
    /// Input word width.
    pub in_w: usize,
    /// Input elements per step.
    pub n_in: usize,
    /// Input height.
    pub in_hh: usize,
    /// Input width.
    pub in_ww: usize,
    /// Input entry field widths.
    pub icw: usize,
    /// Input y width.
    pub iyw: usize,
    /// Input x width.
    pub ixw: usize,
    /// Input entry width.
    pub iew: usize,
    /// Input entry address width.
    pub iaw: usize,
    /// Some projection reads input events.
    pub has_in_events: bool,
    /// Some projection follows the input's load (see [`proj::ProjView::follow`]).
    pub follow: bool,
    /// Input events in registers.
    pub in_logic: bool,
    /// Input per step.
    pub per_step: bool,
    /// Timesteps.
    pub t_max: usize,
    /// Step counter width.
    pub tw: usize,
    /// Layers.
    pub layers: Vec<LayerView>,
    /// Output word width.
    pub out_w: usize,
    /// Output rows per step.
    pub out_rows: usize,
    /// Early exit.
    pub early_exit: bool,
    /// Output neurons.
    pub n_out: usize,
    /// Spike counter width.
    pub cnt_w: usize,
    /// The sequential schedule's sequencer program.
    pub prog: Program,
    /// Rows CLEAR walks.
    pub clear_rows: usize,
    /// Clear row width.
    pub clear_w: usize,
    /// ROM images (file name, hex text).
    pub roms: Vec<(String, String)>,
    /// The weight-load port (large-RAM weight ROMs).
    pub wl: WeightLoad,
    /// Leak multiplier fraction bits.
    pub leak_bits: u32,
    /// Reset code: 0 zero, 1 subtract, 2 subtract-undecayed.
    pub reset: usize,
    /// Fire on equal.
    pub fire_eq: bool,
    /// Output words are spike masks.
    pub out_spikes: bool,
    /// State memories (X, S, Y), each shared by one or more layers.
    pub banks: Vec<BankView>,
    /// Event list memories, each shared by one or more layers.
    pub evbanks: Vec<EvBankView>,
    /// Spike plane memories shared in time (streamed schedule).
    pub plbanks: Vec<types::PlaneBankView>,
    /// Streamed: the popcount datapath the dense units share.
    pub dshared: Option<dense_shared::SharedDenseView>,
    /// Streamed with `--fuse-steps`: the fused layers' sum buffer and units.
    pub fsums: Option<types::FusedSumsView>,
    /// Some bank tells stale rows by an epoch bit instead of being cleared, against the
    /// design's epoch `ep`.
    pub any_epoch: bool,
    /// The plan's block RAMs fit the device: ROMs are held to block RAM (sf_ram BLOCK).
    pub hold_brams: bool,
    /// The pipelined schedule (else sequential).
    pub pipe: bool,
    /// Update datapaths.
    pub ugroups: Vec<UGroupView>,
    /// Pipelined: the sequencers, the layers' lists and their copies, the input's copies.
    pub units: Vec<UnitView>,
    /// See `units`.
    pub pproducers: Vec<PipeProducerView>,
    /// See `units`: every consumer's copy of the input's and the layers' event lists.
    pub plists: Vec<PipeListView>,
    /// The output buffer's words, address width, and write and read addresses.
    pub out_depth: usize,
    /// See `out_depth`.
    pub out_aw: usize,
    /// See `out_depth`.
    pub out_wa: String,
    /// See `out_depth`.
    pub out_ra: String,
    /// The streamed schedule (layer-major; the sequential schedule's units, memories holding
    /// every step at `t x` their step's words).
    pub streamed: bool,
    /// Streamed: the sequencer's step bases, one per words-per-step of a memory holding
    /// every step.
    pub step_bases: Vec<common::StepBase>,
    /// Streamed with a per-step input read as events: the input list's step base.
    pub in_step: Option<common::StepBase>,
    /// See [`Self::t_index`].
    t_slice: String,
    /// Weights streamed from external memory: the tile buffer and its controller.
    pub tiles: Option<tiles::TilesView>,
    /// A design taking a student mask ([`Plan::takes_mask`]): its students (the width of the
    /// `act` port), else 0.
    pub mask: usize,
    /// The `act` the board wrapper ties (a Verilog literal): [`Plan::power_on`], every student
    /// by default.
    pub act_default: String,
    /// A design running the cascade: the width of its `margin` port (one bit wider than the
    /// output counts, so it holds [`Plan::cascade_margin_cap`]), and the margin the board
    /// wrapper ties ([`Plan::cascade`], at most the cap).
    pub margin_w: usize,
    /// See `margin_w`.
    pub margin_default: u64,
}

impl TopView {
    /// `n_in - 2`, floored at zero (a compare a one-value input never reaches).
    pub fn n_in_minus_2(&self) -> usize {
        self.n_in.saturating_sub(2)
    }

    /// The sequencer phase of layer `pre`'s update pass.
    pub fn upd_pc(&self, pre: &str) -> usize {
        self.prog.phases.iter().find(|p| p.kind == "upd" && p.unit == pre).map_or(0, |p| p.idx)
    }

    /// The FUSE phases' one-hot mask (empty without a fused layer).
    pub fn fuse_mask(&self) -> &str {
        self.prog.fuse_mask.as_deref().unwrap_or("")
    }

    /// The slice of `t` that indexes a T-entry array (empty when `t` is as narrow).
    pub fn t_index(&self) -> &str {
        &self.t_slice
    }

    /// Streamed: the input list's write address, step t's at t x n_in.
    pub fn in_waddr(&self) -> String {
        let Some(b) = &self.in_step else { return String::new() };
        let local = if b.w > self.iaw {
            format!("{{{}'d0, ld_base[{}:0]}}", b.w - self.iaw, self.iaw - 1)
        } else {
            format!("ld_base[{}:0]", self.iaw - 1)
        };
        b.add(&local, b.w)
    }

    /// Streamed: the input list's read address, the readers' (each 0 while idle) OR-ed at step
    /// t's words.
    pub fn in_raddr(&self) -> String {
        let Some(b) = &self.in_step else { return String::new() };
        let pad = if b.w > self.iaw { format!("{}'d0, ", b.w - self.iaw) } else { String::new() };
        let mut s = format!("{}'d0", b.w);
        for p in self.layers.iter().flat_map(|l| l.projs.iter()).filter(|p| p.src_input) {
            s += &format!(" | {{{pad}{}_ev_raddr}}", p.pre);
        }
        b.add(&format!("({s})"), b.w)
    }
}

/// The step bases a streamed plan's memories need (every distinct words-per-step), and the
/// input list's.
fn step_bases(plan: &Plan) -> (Vec<common::StepBase>, Option<common::StepBase>) {
    if plan.schedule != Schedule::Streamed {
        return (vec![], None);
    }
    let t = plan.timesteps;
    let mut strides = std::collections::BTreeSet::new();
    for (k, l) in plan.layers.iter().enumerate() {
        if l.spiking() && crate::hw::dense::has_event_readers(plan, k) {
            strides.insert(crate::hw::dense::listed_rows(plan, k));
        }
        if !crate::hw::dense::plane_readers(plan, k).is_empty() {
            strides.insert(crate::hw::dense::Plane::of(l).depth());
        }
    }
    let input = (plan.input.per_step && reads_input(plan)).then(|| common::StepBase::new(plan.input.numel(), t));
    if let Some(b) = &input {
        strides.insert(b.stride);
    }
    (strides.into_iter().map(|s| common::StepBase::new(s, t)).collect(), input)
}

/// The output buffer: (words, address width, write address, read address). Pipelined, it
/// holds two steps (the output unit streams one while the layer writes the next), each half
/// at its step's parity.
fn out_buffer(plan: &Plan, ugroups: &[UGroupView]) -> (usize, usize, String, String) {
    let out_k = plan.output.layer;
    let rows = plan.layers[out_k].rows;
    let oraw = abits(rows);
    if plan.schedule == Schedule::Pipelined {
        let depth = crate::hw::memory::two_steps(rows);
        debug_assert_eq!(ugroups[out_k].sh.rw, oraw, "a pipelined layer's datapath has its own row width");
        (depth, oraw + 1, format!("{{g{out_k}_t[0], g{out_k}_u_wrow}}"), "{gout_t[0], out_raddr}".into())
    } else {
        (rows, oraw, format!("u_wrow[{}:0]", oraw - 1), "out_raddr".into())
    }
}

/// Builds the view of `plan`.
pub fn build(plan: &Plan) -> Result<TopView, EmitError> {
    limits::check_verilog(plan).map_err(|e| EmitError::Unsupported(e.to_string()))?;
    let mut namer = Namer::new();
    for r in ["clk", "rst", "start", "busy", "done", "cycles", "tb", "chip", "ctl", "act"] {
        namer.reserve(r);
    }
    let module = top_name(&mut namer, plan);
    let mut roms = vec![];
    let mut layers = vec![];
    for (k, l) in plan.layers.iter().enumerate() {
        layers.push(layer::layer_view(plan, k, l, &mut namer, &mut roms)?);
    }
    let wl = rom::weight_load(&mut layers, &mut roms, &module);
    let pipelined = plan.schedule == Schedule::Pipelined;
    let (ugroups, lsh) = update::update_groups(plan, &mut layers);
    let banks = banks::state_banks(plan, &mut layers, &lsh);
    let evbanks = if pipelined { vec![] } else { banks::event_banks(plan, &layers) };
    let plbanks = banks::plane_banks(plan, &layers)?;
    let pv = if pipelined {
        pipe::pipe_views(plan, &layers)
    } else {
        pipe::PipeViews { units: vec![], producers: vec![], lists: vec![] }
    };
    let inp = &plan.input;
    let [_, in_hh, in_ww] = inp.shape;
    let (icw, iyw, ixw) = (abits(inp.shape[0]), abits(in_hh), abits(in_ww));
    let ol = &plan.layers[plan.output.layer];
    let out_w = out_word_bits(plan);
    let (out_depth, out_aw, out_wa, out_ra) = out_buffer(plan, &ugroups);
    let clear_rows = plan.layers.iter().map(|l| l.rows).max().unwrap_or(1);
    let streamed = plan.schedule == Schedule::Streamed;
    let (sbases, in_step) = step_bases(plan);
    let prog = if streamed { sequencer::program_streamed(plan) } else { sequencer::program(plan) };
    let tiles = tiles::tiles_view(plan, &mut layers, &prog, &mut roms, &module)?;
    let mask = plan.mask_students().map_or(0, |st| st.names.len());
    // After the tile buffer's view, which places the streamed weight words in its rows.
    let dshared = dense_shared::shared_dense(plan, &mut layers, &plbanks);
    let mut banks = banks;
    if streamed {
        banks::share_state_adders(plan, &mut banks, &mut layers, dshared.as_ref().map(|sh| (sh.lanes, sh.tw)));
    }
    // After the memories' views: a fused unit reads its membranes' read data.
    let grw = ugroups.first().map_or(1, |g| g.sh.rw);
    let fsums = fused::fused_views(plan, &mut layers, grw)?;
    Ok(TopView {
        module,
        u_lat: crate::hw::schedule::upd_tail(plan),
        qb: crate::hw::schedule::count_stages(plan) as usize,
        qw: (crate::hw::schedule::count_stages(plan) as usize).max(1),
        out_max: ol.event_max() as usize,
        floor: plan.layers.iter().any(|l| !l.params.vmin.is_empty()),
        uyw: abits(plan.layers.iter().map(|l| l.shape[1]).max().unwrap_or(1)),
        uxw: abits(plan.layers.iter().map(|l| l.shape[2]).max().unwrap_or(1)),
        header: header(plan, "rows", out_w),
        in_w: inp.bits as usize,
        n_in: inp.numel(),
        in_hh,
        in_ww,
        icw,
        iyw,
        ixw,
        iew: icw + iyw + ixw + inp.bits as usize,
        iaw: abits(inp.numel()),
        has_in_events: reads_input(plan),
        follow: layers.iter().any(|l| l.projs.iter().any(|p| p.follow)),
        in_logic: in_registers(plan, "input.events"),
        per_step: inp.per_step,
        t_max: plan.timesteps,
        tw: abits(plan.timesteps + 1),
        layers,
        out_w,
        out_rows: ol.rows,
        early_exit: plan.early_exit,
        n_out: ol.neurons(),
        cnt_w: crate::hw::memory::count_bits(plan),
        prog,
        tiles,
        mask,
        // Bit s (from the right) is student s; every student unless compile chose some.
        act_default: format!(
            "{mask}'b{}",
            (0..mask.max(1))
                .rev()
                .map(|s| if plan.power_on.as_ref().is_none_or(|a| a.get(s) != Some(&false)) { '1' } else { '0' })
                .collect::<String>()
        ),
        margin_w: crate::hw::memory::count_bits(plan) + 1,
        margin_default: plan.cascade.as_ref().map_or(0, |c| c.margin.min(plan.cascade_margin_cap())),
        streamed,
        step_bases: sbases,
        in_step,
        t_slice: proj::step_index(plan),
        clear_rows,
        // Wide enough to hold `rows` itself: the clear compares the row counter against it.
        clear_w: abits(clear_rows + 1),
        roms,
        wl,
        leak_bits: plan.rules.leak_bits(),
        out_spikes: plan.output.spikes,
        any_epoch: banks.iter().any(|b| b.epoch && b.ep_student.is_none()),
        hold_brams: plan.device_block_rams > 0 && plan.block_rams() <= plan.device_block_rams,
        banks,
        evbanks,
        plbanks,
        dshared,
        fsums,
        reset: match plan.reset {
            ResetMode::Zero => 0,
            ResetMode::Subtract => 1,
            ResetMode::SubtractUndecayed => 2,
        },
        fire_eq: plan.fire_on_equal,
        pipe: pipelined,
        out_depth,
        out_aw,
        out_wa,
        out_ra,
        ugroups,
        units: pv.units,
        pproducers: pv.producers,
        plists: pv.lists,
    })
}
