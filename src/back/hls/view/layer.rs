//! One layer as the templates print it: its state arrays and their pragmas, its event list
//! and spike plane, the terms and signature of its update function, and its projections.
//!
//! Invariants: a layer keeps an event list only when it spikes and some reader takes events,
//! and a spike plane only when it spikes and some reader is dense; its update collects the
//! row's spike bits exactly when it keeps either.

use super::common::{EmitError, PlaneView, ev_type};
use super::memory::{RomView, state_pragmas, storage};
use super::proj::{ProjView, proj_view};
use super::update::{param_defs, update, update_call};
use crate::hw::dense::{self, Plane};
use crate::hw::{Layer, Plan};
use crate::names::label;

/// One layer: state memories, update function, projections.
pub struct LayerView {
    /// Index.
    pub k: usize,
    /// Graph name.
    pub name: String,
    /// Identifier from the namer.
    pub id: String,
    /// Summary line.
    pub desc: String,
    /// Lanes.
    pub lanes: usize,
    /// Rows.
    pub rows: usize,
    /// Rows of its event list: the lane groups times the positions it keeps.
    pub lrows: usize,
    /// The kept positions' tables (declarations) and the entry's condition on them; empty
    /// when the list keeps every position.
    pub keep_decl: String,
    /// See `keep_decl`.
    pub keep: String,
    /// Positions H*W.
    pub pos: usize,
    /// Width W.
    pub w: usize,
    /// Channels per group.
    pub gc: usize,
    /// Lane groups per channel group.
    pub ncg: usize,
    /// Some lanes of the last lane group are padding.
    pub partial: bool,
    /// Membrane width.
    pub vw: u32,
    /// Static accumulator width (0: none).
    pub sw: u32,
    /// Synaptic state width (0: none).
    pub yw: u32,
    /// Saturating writes (`true`/`false`).
    pub sat: &'static str,
    /// Current-based.
    pub cuba: bool,
    /// Output layer.
    pub is_out: bool,
    /// Keeps an event list (spiking, with event-mode readers).
    pub has_events: bool,
    /// Keeps a spike plane (spiking, with dense readers).
    pub plane: Option<PlaneView>,
    /// The update collects the row's spike bits (for the event list or the plane).
    pub spike_mask: bool,
    /// The update reads `late` (a constant that starts after step 0).
    pub uses_late: bool,
    /// Counts output spikes for early exit.
    pub counts: bool,
    /// Parameter tables.
    pub roms: Vec<RomView>,
    /// Parameter lines (`const int64_t thr = ...;`) for the current lane.
    pub params: Vec<String>,
    /// Synaptic current before saturation (cuba).
    pub cur_expr: String,
    /// Next synaptic state from `cur` (cuba).
    pub syn_next: String,
    /// Membrane sum.
    pub v_expr: String,
    /// The membrane value is needed.
    pub use_v: bool,
    /// Spike condition (`false` for non-spiking layers).
    pub spike_expr: String,
    /// The update reads `spike`.
    pub spike_used: bool,
    /// The update reads the row's lane group, position, and each lane's channel in its group.
    pub need_cgi: bool,
    /// Position.
    pub need_p: bool,
    /// Channel within the group.
    pub need_local: bool,
    /// `vhat` (membrane after reset), when the decay reads it.
    pub vhat_expr: Option<String>,
    /// Next membrane before the write policy.
    pub next_expr: String,
    /// Output word field width per lane and the value written.
    pub out_w: u32,
    /// Output value.
    pub out_value: String,
    /// A multi-spike layer's count this step, `count` (its events carry it per lane).
    pub count_expr: Option<String>,
    /// The C++ type of the layer's event entries.
    pub ev_type: String,
    /// Pragmas of the state arrays (emitted in the top function).
    pub state_pragmas: Vec<String>,
    /// Pragmas of the event list.
    pub ev_pragmas: Vec<String>,
    /// Arguments of the update call (after `late`, `last`).
    pub upd_args: String,
    /// Parameters of the update function.
    pub upd_params: String,
    /// Projections.
    pub projs: Vec<ProjView>,
    /// Under a student mask, the condition on `act` for the layer to run (a student's layer).
    pub on: Option<String>,
}

/// The pragmas of the layer's state arrays (X, S, Y as the plan places them).
fn layer_state_pragmas(plan: &Plan, l: &Layer, id: &str) -> Vec<String> {
    let mut v = state_pragmas(plan, &format!("{id}_x"), &format!("{}.v", l.name));
    if l.s_bits > 0 {
        v.extend(state_pragmas(plan, &format!("{id}_s"), &format!("{}.s", l.name)));
    }
    if l.kind.cuba() {
        v.extend(state_pragmas(plan, &format!("{id}_y"), &format!("{}.y", l.name)));
    }
    v
}

/// The summary line of a layer.
fn layer_desc(l: &Layer, p_bits: u32) -> String {
    format!(
        "{:?} {:?}, {} lanes x {} rows; V {} bits{}{}{}; leak {}",
        l.kind,
        l.shape,
        l.lanes,
        l.rows,
        l.v_bits,
        if l.s_bits > 0 { format!(", S {} bits", l.s_bits) } else { String::new() },
        if l.kind.cuba() { format!(", Y {} bits", l.y_bits) } else { String::new() },
        if l.saturate { " (saturating)" } else { "" },
        l.leak.describe(p_bits)
    )
}

/// Layer `k`'s spike plane ([`Plane`]): placed as the plan maps `<layer>.plane` (pipelined
/// plans keep a copy per reader; the C++ runs in the sequential order and keeps one).
fn plane_view(plan: &Plan, k: usize, id: &str) -> PlaneView {
    let l = &plan.layers[k];
    let pl = Plane::of(l);
    let var = format!("{id}_plane");
    let mem = dense::plane_memory(plan, k, dense::plane_readers(plan, k).first().copied().unwrap_or(k));
    let lane_mask = if l.lanes >= 64 { u64::MAX } else { (1u64 << l.lanes) - 1 };
    PlaneView {
        pragmas: state_pragmas(plan, &var, &mem).into_iter().filter(|p| !p.contains("dim=2")).collect(),
        var,
        width: pl.width(),
        depth: pl.depth(),
        m: pl.m,
        hw: pl.hw,
        lane_mask: format!("0x{lane_mask:x}ull"),
    }
}

pub fn layer_view(plan: &Plan, k: usize, l: &Layer, ids: &[String]) -> Result<LayerView, EmitError> {
    let id = ids[k].clone();
    let lanes = l.lanes;
    let (spiking, cuba, is_out) = (l.spiking(), l.kind.cuba(), k == plan.output.layer);
    let (defs, terms) = param_defs(plan, k, l);
    let u = update(plan, l, is_out, &terms);
    let read = u.reads(cuba, is_out);
    let reads = |n: &str| read.iter().any(|r| r == n);
    let has_events = spiking && l.has_consumers && dense::has_event_readers(plan, k);
    let plane = (spiking && !dense::plane_readers(plan, k).is_empty()).then(|| plane_view(plan, k, &id));
    let spike_mask = has_events || plane.is_some();
    // The output's spike counts: early exit's, and the cascade's margin per stage.
    let counts = is_out && (plan.early_exit || plan.cascade.is_some());
    let partial = !l.group_size.is_multiple_of(lanes);
    let need_local = partial || counts;
    // Only the parameters an emitted expression reads are defined.
    let mut roms = vec![];
    let mut params = vec![];
    for d in defs.into_iter().filter(|d| reads(d.name)) {
        params.push(d.line);
        roms.extend(d.roms);
    }
    let ev_pragmas = if has_events {
        vec![format!("BIND_STORAGE variable={id}_ev {}", storage(plan, &format!("{}.events", l.name), false))]
    } else {
        vec![]
    };
    // The list keeps only the rows at positions an event-mode reader reaches, as the RTL's
    // (hw::dense::event_reach): its array holds those, an entry elsewhere is not written.
    let lrows = dense::listed_rows(plan, k);
    let (keep_decl, keep) = match dense::event_reach(plan, k).filter(|_| has_events) {
        Some(r) => {
            let table = |v: &[bool]| v.iter().map(|&b| if b { "true" } else { "false" }).collect::<Vec<_>>().join(", ");
            (
                format!(
                    "static const bool keep_y[{}] = {{{}}};  // positions an event reader reaches\n    static const bool keep_x[{}] = {{{}}};",
                    r.y.len(),
                    table(&r.y),
                    r.x.len(),
                    table(&r.x)
                ),
                format!(" && keep_y[p / {w}] && keep_x[p % {w}]", w = l.shape[2]),
            )
        }
        None => (String::new(), String::new()),
    };
    let st = plan.mask_students();
    let act_bits = st.filter(|_| !plan.stored_shares(k).is_empty()).map(|st| st.names.len());
    let (upd_args, upd_params) =
        update_call(plan, l, &id, is_out, has_events.then_some(lrows), plane.as_ref(), counts, act_bits);
    // Under a student mask a student's layer runs only when its student is active, and a
    // shared layer's projection from a student only when that student is.
    // Under the cascade a student's layers run under the stage's student (`sf_stg`), the
    // projections from a student under the students run so far (`sf_cum`).
    let cascade = plan.cascade.is_some();
    let on = |s: Option<usize>| {
        s.map(|s| if cascade { format!("((sf_stg >> {s}) & 1) != 0") } else { format!("sf::field(act, {s}, 1) != 0") })
    };
    let on_proj = |s: Option<usize>| {
        s.map(|s| if cascade { format!("((sf_cum >> {s}) & 1) != 0") } else { format!("sf::field(act, {s}, 1) != 0") })
    };
    let own = st.and_then(|st| st.layer[k]);
    let mut projs: Vec<ProjView> =
        l.projections.iter().enumerate().map(|(j, p)| proj_view(plan, k, j, l, p, ids)).collect::<Result<_, _>>()?;
    if let (Some(st), None) = (st, own) {
        for (p, s) in projs.iter_mut().zip(&st.projection[k]) {
            p.on = on_proj(*s);
        }
    }
    Ok(LayerView {
        k,
        name: label(&l.name),
        desc: layer_desc(l, plan.rules.leak_bits()),
        lanes,
        rows: l.rows,
        lrows,
        keep_decl,
        keep,
        pos: l.positions(),
        w: l.shape[2],
        gc: l.group_size,
        ncg: l.ncg,
        partial,
        spike_used: spiking && (reads("spike") || spike_mask || counts),
        need_cgi: need_local || spike_mask || (l.params_per_channel() && !roms.is_empty()),
        need_p: spike_mask || counts,
        need_local,
        vw: l.v_bits,
        sw: l.s_bits,
        yw: l.y_bits,
        sat: if l.saturate { "true" } else { "false" },
        cuba,
        is_out,
        has_events,
        plane,
        spike_mask,
        uses_late: reads("late"),
        counts,
        roms,
        params,
        cur_expr: u.cur_expr,
        syn_next: u.syn_next,
        v_expr: u.v_expr,
        use_v: u.use_v,
        spike_expr: u.spike_expr,
        vhat_expr: u.vhat_expr,
        next_expr: u.next_expr,
        out_w: u.out_w,
        out_value: u.out_value,
        // Emitted only where something reads it (its events, the early-exit counts, the output
        // word, the reset).
        count_expr: u.count_expr.filter(|_| has_events || counts || reads("count")),
        ev_type: ev_type(l),
        state_pragmas: layer_state_pragmas(plan, l, &id),
        ev_pragmas,
        upd_args,
        upd_params,
        projs,
        on: on(own),
        id,
    })
}
