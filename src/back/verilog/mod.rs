//! Verilog back end: a [`Plan`] to synthesizable Verilog-2005, ROM images and a testbench.
//!
//! The hand-written primitives in `hdl/` (memory, accumulator lane, neuron lane, event
//! reader) are instantiated by glue generated from `templates/verilog/` (`top.v` includes one
//! file per concern from `top/`, each printing one part of [`view`]). This module
//! computes every constant, ROM image and address expression the templates need, so the
//! templates only hold structure. Contract: the emitted design is cycle-exact with
//! [`crate::sim::cycle`] (the schedule in [`crate::hw::schedule`]); output is deterministic.

pub mod sdram;
mod view;

use askama::Template;

pub use view::{Design, EmitError, SdramPorts};

use crate::back::render::render;
use crate::hw::Plan;

/// Hand-written primitives, embedded so a design is self-contained.
pub const PRIMITIVES: &[(&str, &str)] = &[
    ("sf_ram.v", include_str!("../../../hdl/sf_ram.v")),
    ("sf_acc_lane.v", include_str!("../../../hdl/sf_acc_lane.v")),
    ("sf_neuron.v", include_str!("../../../hdl/sf_neuron.v")),
    ("sf_events.v", include_str!("../../../hdl/sf_events.v")),
];

/// The event reader that follows a list being written (pipelined designs with a direct input).
pub const FOLLOW_PRIMITIVES: &[(&str, &str)] =
    &[("sf_events_follow.v", include_str!("../../../hdl/sf_events_follow.v"))];

/// The accumulator lane's addend, for state memories whose units share their adder (streamed
/// plans, `view::banks::share_state_adders`).
pub const TERM_PRIMITIVES: &[(&str, &str)] = &[("sf_acc_term.v", include_str!("../../../hdl/sf_acc_term.v"))];

/// The spike plane memory (designs with a dense projection, docs/hardware.md 4c).
pub const PLANE_PRIMITIVES: &[(&str, &str)] = &[("sf_plane.v", include_str!("../../../hdl/sf_plane.v"))];

/// Primitives of designs with weight ROMs in iCE40 SPRAM.
pub const SPRAM_PRIMITIVES: &[(&str, &str)] = &[
    ("sf_spram.v", include_str!("../../../hdl/sf_spram.v")),
    ("sf_spram_rom.v", include_str!("../../../hdl/sf_spram_rom.v")),
];

#[derive(Template)]
#[template(path = "verilog/top.v", escape = "none")]
struct TopTemplate<'a> {
    v: &'a view::TopView,
}

#[derive(Template)]
#[template(path = "verilog/board.v", escape = "none")]
struct BoardTemplate<'a> {
    v: &'a view::TopView,
}

#[derive(Template)]
#[template(path = "verilog/tb.v", escape = "none")]
struct TbTemplate<'a> {
    v: &'a view::TopView,
    samples: usize,
    max_cycles: u64,
}

/// Emits the design (core RTL, board pin wrapper, ROM images) for `plan`. `tb` adds a
/// testbench for `samples` inputs with a per-sample cycle limit.
pub fn emit(plan: &Plan, tb: Option<(usize, u64)>) -> Result<Design, EmitError> {
    let v = view::build(plan)?;
    let tpl = |e: askama::Error| EmitError::Template(e.to_string());
    let mut files = vec![
        (format!("{}.v", v.module), render(&TopTemplate { v: &v }).map_err(tpl)?),
        (format!("{}_board.v", v.module), render(&BoardTemplate { v: &v }).map_err(tpl)?),
    ];
    let follow: &[(&str, &str)] = if v.follow { FOLLOW_PRIMITIVES } else { &[] };
    let spram: &[(&str, &str)] = if v.wl.spram.is_empty() { &[] } else { SPRAM_PRIMITIVES };
    let plane: &[(&str, &str)] = if v.layers.iter().any(|l| l.plane.is_some()) { PLANE_PRIMITIVES } else { &[] };
    let term: &[(&str, &str)] =
        if v.layers.iter().flat_map(|l| &l.projs).any(|p| p.sadd && p.dense.is_none()) { TERM_PRIMITIVES } else { &[] };
    // Streamed weights: the SDRAM controller, and for simulation the chip model.
    let stream: &[(&str, &str)] = match (&v.tiles, tb) {
        (None, _) => &[],
        (Some(_), None) => &[sdram::STREAM],
        (Some(_), Some(_)) => &[sdram::STREAM, sdram::MODEL],
    };
    for (name, text) in PRIMITIVES.iter().chain(follow).chain(spram).chain(plane).chain(term).chain(stream) {
        files.push((name.to_string(), text.to_string()));
    }
    files.extend(v.roms.iter().cloned());
    if let Some((samples, max_cycles)) = tb {
        files.push(("tb.v".to_string(), render(&TbTemplate { v: &v, samples, max_cycles }).map_err(tpl)?));
    }
    Ok(Design {
        module: v.module.clone(),
        files,
        out_width: v.out_w,
        in_width: v.in_w,
        weight_load: !v.wl.spram.is_empty(),
        sdram: v.tiles.as_ref().map(|x| SdramPorts { ba: x.ba_w, a: x.a_w, dq: x.dw }),
    })
}

/// The board ports the design reads (the rest it drives).
const BOARD_INPUTS: [&str; 9] =
    ["clk", "rst", "start", "in_valid", "in_data", "out_ready", "wl_valid", "wl_data", "sd_dq"];

/// A board port wired to the SDRAM's pins (`sd_*`), not to the board's general pins.
pub fn is_sdram_port(name: &str) -> bool {
    name.starts_with("sd_")
}

/// The board ports as a Verilog module's port declarations (one per line, comma-separated), for
/// the clock wrappers that stand between the pins and `<module>_board`.
pub fn board_port_decls(d: &Design) -> String {
    let decl: Vec<String> = board_ports(d)
        .iter()
        .map(|(n, w)| {
            let dir = if BOARD_INPUTS.contains(&n.as_str()) { "input " } else { "output" };
            if *w == 1 { format!("    {dir} wire {n}") } else { format!("    {dir} wire [{}:0] {n}", w - 1) }
        })
        .collect();
    decl.join(",\n")
}

/// Board-level ports of the pin wrapper, in pin-assignment order: (name, width).
pub fn board_ports(d: &Design) -> Vec<(String, usize)> {
    let mut v =
        vec![("clk".to_string(), 1), ("rst".into(), 1), ("start".into(), 1), ("busy".into(), 1), ("done".into(), 1)];
    v.push(("in_valid".into(), 1));
    v.push(("in_ready".into(), 1));
    v.push(("in_data".into(), d.in_width));
    v.push(("out_valid".into(), 1));
    v.push(("out_ready".into(), 1));
    v.push(("out_data".into(), d.out_width));
    v.push(("out_last".into(), 1));
    if d.weight_load {
        v.push(("wl_valid".into(), 1));
        v.push(("wl_ready".into(), 1));
        v.push(("wl_data".into(), 4));
    }
    if let Some(p) = d.sdram {
        for n in ["sd_cs_n", "sd_ras_n", "sd_cas_n", "sd_we_n"] {
            v.push((n.into(), 1));
        }
        v.push(("sd_ba".into(), p.ba));
        v.push(("sd_a".into(), p.a));
        v.push(("sd_dq".into(), p.dq));
        v.push(("sd_cke".into(), 1));
        v.push(("sd_dqm".into(), p.dq / 8));
    }
    v
}
