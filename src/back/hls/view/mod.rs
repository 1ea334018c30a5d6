//! Everything the HLS templates print, computed from the plan: types and widths, constants,
//! ROM initialisers, index arithmetic and the terms of the neuron update. This module assembles
//! the design's view from its parts: [`layer`] (layers: state arrays, event lists, spike
//! planes), [`update`] (the neuron update's parameters, terms and signature), [`proj`]
//! (accumulate functions) and [`memory`] (where each array is placed, and the weight tables);
//! [`common`] holds what they share (the error, the stream width, a layer's event type and
//! spike plane).
//!
//! Invariants: the view is a pure function of the plan (deterministic); a plan outside the
//! back end's limits ([`crate::back::limits`]) is refused before anything is built.

mod common;
mod layer;
mod memory;
mod proj;
mod update;

pub use common::{EmitError, bytes_width};
use layer::{LayerView, layer_view};
use memory::storage;

use crate::back::common::{external_image, header, out_word_bits, reads_input, top_name};
use crate::back::limits;
use crate::hw::Plan;
use crate::names::Namer;

/// Names the generated code uses besides the ones derived from the plan; the namer never
/// hands these out for a model (`sf_` + model name is the top function).
const FIXED: &[&str] = &[
    "in_ev",
    "in_n",
    "obuf",
    "counts",
    "load_input",
    "run",
    "cfg",
    "hls",
    "act",
    "casc",
    "margin",
    "stg",
    "cum",
    "cumb",
    "stages",
    "order",
    "best",
    "second",
    "nxt",
];

/// The whole design.
pub struct TopView {
    /// Top function.
    pub top: String,
    /// Header comment lines.
    pub header: Vec<String>,
    /// Input bits per value.
    pub in_bits: u32,
    /// Input stream word width (bytes).
    pub in_w: usize,
    /// Two's complement inputs.
    pub in_signed: bool,
    /// Input values per LOAD.
    pub n_in: usize,
    /// Input shape (C, H, W).
    pub in_shape: [usize; 3],
    /// One input per step.
    pub per_step: bool,
    /// Some projection reads input events.
    pub has_in_events: bool,
    /// Timesteps.
    pub t_max: usize,
    /// Output word width (logical bits).
    pub out_bits: usize,
    /// Output stream word width (bytes).
    pub out_w: usize,
    /// Output words per step.
    pub out_rows: usize,
    /// Output neurons.
    pub n_out: usize,
    /// The output layer's largest count per step (1 for spikes), what a class can still
    /// gain per remaining step.
    pub out_max: i64,
    /// Early exit.
    pub early_exit: bool,
    /// The streamed (layer-major) schedule: each layer runs all its steps before the next
    /// starts, so event lists, spike planes and per-step inputs have one copy per step.
    pub streamed: bool,
    /// The external weight memory's 16-bit words (0: every weight on chip), and its image.
    pub ext_words: usize,
    /// See `ext_words`.
    pub ext_image: Vec<u64>,
    /// Layers.
    pub layers: Vec<LayerView>,
    /// Some layer's update reads `late`.
    pub any_late: bool,
    /// Some dense projection counts bits (`sf_popcount` is defined).
    pub popcount: bool,
    /// Pragmas of the input event list.
    pub in_pragmas: Vec<String>,
    /// Pragmas of the output buffer.
    pub out_pragmas: Vec<String>,
    /// A design taking a student mask ([`Plan::takes_mask`]): its students, the width of the
    /// top function's `act` argument (bit s: student s runs); 0 for any other design.
    pub students: usize,
    /// A design running the cascade (`Plan::cascade`): its order, and the bits of its `margin`
    /// argument the testbench reads from casc.hex (bit `margin_w` turns it on).
    pub cascade: Option<CascadeView>,
}

/// The cascade of a design running it.
pub struct CascadeView {
    /// The stages' order: every student once.
    pub order: Vec<usize>,
    /// Bits of the margin in a casc.hex line, below the on bit.
    pub margin_w: usize,
}

impl CascadeView {
    /// The order as a C++ initialiser list.
    pub fn order_list(&self) -> String {
        self.order.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", ")
    }
}

/// Builds the view of `plan`.
pub fn build(plan: &Plan) -> Result<TopView, EmitError> {
    limits::check_hls(plan).map_err(|e| EmitError::Unsupported(e.to_string()))?;
    let mut namer = Namer::new();
    for r in FIXED {
        namer.reserve(r);
    }
    namer.reserve("sf");
    let top = top_name(&mut namer, plan);
    let ids: Vec<String> = plan.layers.iter().map(|l| namer.name(&l.name)).collect();
    let inp = &plan.input;
    let has_in_events = reads_input(plan);
    let mut layers = vec![];
    for (k, l) in plan.layers.iter().enumerate() {
        layers.push(layer_view(plan, k, l, &ids)?);
    }
    let ol = &plan.layers[plan.output.layer];
    let out_bits = out_word_bits(plan);
    let ext_image = if plan.external.is_some() { external_image(plan, 16) } else { vec![] };
    let mut header = header(plan, "words", out_bits);
    header.push(format!(
        "arithmetic: reset {}, fire on {}, leak multipliers with {} fraction bits{}",
        plan.reset,
        if plan.fire_on_equal { "v >= THR" } else { "v > THR" },
        plan.rules.leak_bits(),
        if plan.early_exit { ", early exit" } else { "" }
    ));
    Ok(TopView {
        top,
        header,
        in_bits: inp.bits,
        in_w: bytes_width(inp.bits as usize),
        in_signed: inp.signed,
        n_in: inp.numel(),
        in_shape: inp.shape,
        per_step: inp.per_step,
        has_in_events,
        t_max: plan.timesteps,
        out_bits,
        out_w: bytes_width(out_bits),
        out_rows: ol.rows,
        n_out: ol.neurons(),
        early_exit: plan.early_exit,
        streamed: plan.schedule == crate::hw::Schedule::Streamed,
        ext_words: ext_image.len(),
        ext_image,
        out_max: plan.layers[plan.output.layer].event_max(),
        any_late: layers.iter().any(|l| l.uses_late),
        popcount: layers.iter().flat_map(|l| &l.projs).any(|p| p.dense.as_ref().is_some_and(|d| d.gather != "one")),
        layers,
        students: plan.mask_students().map_or(0, |st| st.names.len()),
        cascade: plan
            .cascade
            .as_ref()
            .map(|c| CascadeView { order: c.order.clone(), margin_w: crate::hw::memory::count_bits(plan) + 1 }),
        in_pragmas: if has_in_events {
            vec![format!("BIND_STORAGE variable=sf_in_ev {}", storage(plan, "input.events", false))]
        } else {
            vec![]
        },
        out_pragmas: vec![format!(
            "BIND_STORAGE variable=sf_obuf {}",
            storage(plan, &format!("{}.out", ol.name), false)
        )],
    })
}
