//! The pipelined schedule's sequencing ([`crate::hw::schedule::Pipe`]): one sequencer per
//! unit (the input load, every layer, the output), each layer's event list written into one
//! copy per consumer, and the input's copies.
//!
//! Invariants: a list holds two steps, one half per step parity (a direct input, loaded once,
//! holds one); a copy has one reader unit, whose phases read it one at a time; a phase's
//! start condition compares registered step counters only.

use super::expr::{abits, concat_bits};
use super::sequencer::PhaseView;
use super::types::LayerView;
use crate::back::common::in_registers;
use crate::hw::Plan;
use crate::hw::memory::{event_readers, input_event_width, two_steps};
use crate::quant::{AccTarget, Projection, Source};

/// A sequencer of the pipelined schedule (see [`crate::hw::schedule::Pipe`]).
pub struct UnitView {
    /// Signal prefix (`gin_`, `g<k>_`, `gout_`).
    pub p: String,
    /// What it runs, for the comment.
    pub comment: String,
    /// Its program; `enter` reads `<p>pc_oh` and `<p>late`.
    pub phases: Vec<PhaseView>,
    /// Per phase, MSB first: the condition to start it at the unit's step (`<p>t`) and at the
    /// next step (`<p>t1`), as `{..}` concatenations of 1-bit expressions.
    pub ok_t: String,
    /// See `ok_t`.
    pub ok_t1: String,
    /// One-hot literal of the phase that ends a step.
    pub step_mask: String,
    /// Runs once (a direct input's load): its counter then jumps to T.
    pub once: bool,
}

/// Pipelined: a layer's event list, written into every copy.
pub struct PipeProducerView {
    /// Layer prefix `l<k>`.
    pub pre: String,
    /// Its update datapath's prefix.
    pub gp: String,
    /// Row address width, lanes, entry fields and width.
    pub raw: usize,
    /// See `raw`.
    pub lanes: usize,
    /// See `raw`.
    pub ecw: usize,
    /// See `raw`.
    pub eyw: usize,
    /// See `raw`.
    pub exw: usize,
    /// See `raw`.
    pub ew: usize,
    /// The lane counts and a comma of a multi-spike layer's entries (else empty).
    pub counts: String,
    /// The kept positions' tables (`banks::reach_terms`).
    pub reach_decl: String,
    pub reach_and: String,
}

/// Pipelined: one consumer's copy of an event list (a layer's or the input's), written by the
/// list's producer (the LOAD unit or the layer's update pass) into every copy at once.
pub struct PipeListView {
    /// Memory prefix (`l<s>r<k>`, `inpr<k>`).
    pub pre: String,
    /// For the comment.
    pub comment: String,
    /// Entry width, words, address width.
    pub width: usize,
    /// See `width`.
    pub depth: usize,
    /// See `width`.
    pub aw: usize,
    /// In logic.
    pub logic: bool,
    /// Write enable, address and data (expressions).
    pub we: String,
    /// See `we`.
    pub waddr: String,
    /// See `we`.
    pub wdata: String,
    /// Readers (one unit, one phase at a time): (projection prefix, read address).
    pub readers: Vec<(String, String)>,
}

/// The pipelined schedule's sequencers, layer lists and the copies of every list.
pub struct PipeViews {
    /// Sequencers: the input load, each layer, the output.
    pub units: Vec<UnitView>,
    /// Layers whose lists have readers.
    pub producers: Vec<PipeProducerView>,
    /// The input's copies, then each layer's.
    pub lists: Vec<PipeListView>,
}

/// The prefix of layer `k`'s copy of `src`'s event list.
pub fn pipe_copy(src: Source, k: usize) -> String {
    match src {
        Source::Input => format!("inpr{k}"),
        Source::Layer(s) => format!("l{s}r{k}"),
    }
}

/// The half of its source's list layer `k` reads through `p` (1 bit): the parity of its step,
/// or of the step before through a recurrent edge.
fn pipe_read_parity(k: usize, p: &Projection) -> String {
    if p.delayed { format!("!g{k}_t[0]") } else { format!("g{k}_t[0]") }
}

/// The one-hot "enter" terms of a unit's program (see [`UnitView`]): within a step the next
/// phase, static phases skipped after step 0; the step's last phase (always dynamic) leads to
/// the first dynamic phase of the next step.
fn unit_enter(p: &str, statik: &[bool]) -> Vec<String> {
    let n = statik.len();
    let next = |i: usize, late: bool| -> Option<usize> {
        let mut j = i + 1;
        while j < n && late && statik[j] {
            j += 1;
        }
        (j < n).then_some(j)
    };
    let start_late = (0..n).find(|&j| !statik[j]).unwrap_or(0);
    (0..n)
        .map(|j| {
            let mut terms = vec![];
            for i in 0..n {
                let at = |late: bool| next(i, late).unwrap_or(start_late) == j;
                match (at(false), at(true)) {
                    (true, true) => terms.push(format!("{p}pc_oh[{i}]")),
                    (true, false) => terms.push(format!("(!{p}late & {p}pc_oh[{i}])")),
                    (false, true) => terms.push(format!("({p}late & {p}pc_oh[{i}])")),
                    (false, false) => {}
                }
            }
            if terms.is_empty() { "1'b0".into() } else { terms.join(" | ") }
        })
        .collect()
}

/// A unit with prefix `p` running `phases` (kind, unit, static); `ok(i, tau)` is phase `i`'s
/// start condition at the step held in signal `tau`.
fn unit(
    p: String,
    comment: String,
    phases: Vec<(&str, String, bool)>,
    ok: &dyn Fn(usize, &str) -> String,
    once: bool,
) -> UnitView {
    let statik: Vec<bool> = phases.iter().map(|x| x.2).collect();
    let enter = unit_enter(&p, &statik);
    let n = phases.len();
    let ok_t: Vec<String> = (0..n).map(|i| ok(i, &format!("{p}t"))).collect();
    let ok_t1: Vec<String> = (0..n).map(|i| ok(i, &format!("{p}t1"))).collect();
    UnitView {
        comment,
        phases: phases
            .into_iter()
            .zip(enter)
            .enumerate()
            .map(|(idx, ((kind, unit, _), enter))| PhaseView { idx, kind: kind.into(), unit, layer: None, enter })
            .collect(),
        ok_t: concat_bits(&ok_t),
        ok_t1: concat_bits(&ok_t1),
        step_mask: format!("{n}'b1{}", "0".repeat(n - 1)),
        once,
        p,
    }
}

/// "Unit `u` has ended step tau - 2 + d": t_u + 1 >= tau + d, as a compare of registers
/// (`t1` is t + 1 while the unit runs, and at least T after).
fn done_with(u: &str, tau: &str, d: usize) -> String {
    if d == 0 { format!("({u}t1 >= {tau})") } else { format!("({u}t >= {tau})") }
}

/// The sequencers: the input load, each layer's (its ACC phases, then UPD), the output.
fn units(plan: &Plan, layers: &[LayerView]) -> Vec<UnitView> {
    // The input load: per step, the half of step t is free once every reader has ended t - 2.
    let in_readers = event_readers(plan, Source::Input);
    let per_step = plan.input.per_step;
    let mut units = vec![unit(
        "gin_".into(),
        "input load".into(),
        vec![("load", "inp".into(), false)],
        &|_, tau| {
            if !per_step || in_readers.is_empty() {
                return "1'b1".into();
            }
            in_readers.iter().map(|&c| done_with(&format!("g{c}_"), tau, 0)).collect::<Vec<_>>().join(" && ")
        },
        !per_step,
    )];
    units.extend(layers.iter().enumerate().map(|(k, lv)| layer_unit(plan, k, &lv.name)));
    let out_k = plan.output.layer;
    units.push(unit(
        "gout_".into(),
        "output".into(),
        vec![("out", "out".into(), false)],
        &|_, tau| format!("(g{out_k}_t > {tau})"),
        false,
    ));
    units
}

/// Layer `k`'s sequencer: an ACC phase waits for its source's step; UPD waits until every
/// consumer of the layer's list (or output rows) in another unit is done with that half.
fn layer_unit(plan: &Plan, k: usize, name: &str) -> UnitView {
    let l = &plan.layers[k];
    let mut phases: Vec<(&str, String, bool)> = l
        .projections
        .iter()
        .enumerate()
        .map(|(j, p)| ("acc", format!("l{k}p{j}"), p.target == AccTarget::Static))
        .collect();
    phases.push(("upd", format!("l{k}"), false));
    // Consumers of this layer's list (or output rows) in other units, with their delays.
    let mut cons: Vec<(String, usize)> = vec![];
    for (c, lc) in plan.layers.iter().enumerate() {
        for p in &lc.projections {
            if p.source == Source::Layer(k) && c != k {
                let e = (format!("g{c}_"), usize::from(p.delayed));
                if !cons.contains(&e) {
                    cons.push(e);
                }
            }
        }
    }
    if k == plan.output.layer {
        cons.push(("gout_".into(), 0));
    }
    let projs = &l.projections;
    let per_step = plan.input.per_step;
    let ok = |i: usize, tau: &str| -> String {
        if i == projs.len() {
            if cons.is_empty() {
                return "1'b1".into();
            }
            return cons.iter().map(|(u, d)| done_with(u, tau, *d)).collect::<Vec<_>>().join(" && ");
        }
        let p = &projs[i];
        match p.source {
            // A direct input's readers follow its load (ProjView::follow).
            Source::Input if !per_step => "1'b1".into(),
            Source::Input => format!("(gin_t > {tau})"),
            Source::Layer(s) if s == k => "1'b1".into(),
            Source::Layer(s) if p.delayed => format!("(g{s}_t >= {tau})"),
            Source::Layer(s) => format!("(g{s}_t > {tau})"),
        }
    };
    unit(format!("g{k}_"), format!("layer {name}"), phases, &ok, false)
}

/// Layer `c`'s readers of `src` (one phase at a time): their read addresses in c's copy, with
/// the half of the step each reads on top when the list holds two steps.
fn readers_in(plan: &Plan, c: usize, src: Source, two: bool) -> Vec<(String, String)> {
    plan.layers[c]
        .projections
        .iter()
        .enumerate()
        .filter(|(j, p)| p.source == src && crate::hw::dense::is(&plan.layers[c], *j, crate::hw::dense::Mode::Event))
        .map(|(j, p)| {
            let pp = format!("l{c}p{j}");
            let addr =
                if two { format!("{{{}, {pp}_ev_raddr}}", pipe_read_parity(c, p)) } else { format!("{pp}_ev_raddr") };
            (pp, addr)
        })
        .collect()
}

/// The input's copies, two steps deep when the input changes every step.
fn input_copies(plan: &Plan, layers: &[LayerView]) -> Vec<PipeListView> {
    let per_step = plan.input.per_step;
    let n_in = plan.input.numel();
    let iaw = abits(n_in);
    let (depth, aw) = if per_step { (two_steps(n_in), iaw + 1) } else { (n_in, iaw) };
    event_readers(plan, Source::Input)
        .into_iter()
        .map(|c| PipeListView {
            pre: pipe_copy(Source::Input, c),
            comment: format!("input events read by {}", layers[c].name),
            width: input_event_width(plan),
            depth,
            aw,
            logic: in_registers(plan, &format!("input.events.{}", plan.layers[c].name)),
            we: "ld_acc && ld_nz".into(),
            waddr: if per_step {
                format!("{{gin_t[0], ld_base[{}:0]}}", iaw - 1)
            } else {
                format!("ld_base[{}:0]", iaw - 1)
            },
            wdata: "{ld_c, ld_y, ld_x, in_data}".into(),
            readers: readers_in(plan, c, Source::Input, per_step),
        })
        .collect()
}

/// Every spiking layer with readers writes its list into each reader's copy, at its step's
/// half: the producers, and their copies appended to `lists`.
fn layer_lists(plan: &Plan, layers: &[LayerView], lists: &mut Vec<PipeListView>) -> Vec<PipeProducerView> {
    let mut producers = vec![];
    for (k, l) in plan.layers.iter().enumerate() {
        let rs = event_readers(plan, Source::Layer(k));
        if rs.is_empty() || !l.spiking() {
            continue;
        }
        let lv = &layers[k];
        let (reach_decl, reach_and) = super::banks::reach_terms(lv, &lv.gp);
        producers.push(PipeProducerView {
            pre: lv.pre.clone(),
            gp: lv.gp.clone(),
            raw: abits(lv.lrows),
            lanes: lv.lanes,
            ecw: lv.ecw,
            eyw: lv.eyw,
            exw: lv.exw,
            ew: lv.ew,
            counts: super::banks::entry_counts(lv, (crate::hw::schedule::count_stages(plan) as usize).max(1)),
            reach_decl,
            reach_and,
        });
        for c in rs {
            let bank = plan.banks.iter().find(|b| b.kind == "events" && b.layers == [k] && b.reader == Some(c));
            lists.push(PipeListView {
                pre: pipe_copy(Source::Layer(k), c),
                comment: format!("{} events read by {}", lv.name, layers[c].name),
                width: lv.ew,
                depth: two_steps(lv.lrows),
                aw: abits(lv.lrows) + 1,
                logic: bank.is_none_or(|b| b.map == crate::hw::MemMap::Registers),
                we: format!("{}_ev_we", lv.pre),
                waddr: format!("{}_ev_waddr", lv.pre),
                wdata: format!("{}_ev_wdata", lv.pre),
                readers: readers_in(plan, c, Source::Layer(k), true),
            });
        }
    }
    producers
}

/// The pipelined schedule's sequencers, layer lists and input copies.
pub fn pipe_views(plan: &Plan, layers: &[LayerView]) -> PipeViews {
    let units = units(plan, layers);
    let mut lists = input_copies(plan, layers);
    let producers = layer_lists(plan, layers, &mut lists);
    PipeViews { units, producers, lists }
}
