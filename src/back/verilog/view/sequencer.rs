//! The sequencer programs of the sequential and streamed schedules, run one phase at a time,
//! one-hot ([`crate::hw::schedule`]):
//! - sequential: per step, [LOAD], per layer [ACC..., UPD], OUT, and with early exit EXIT and
//!   CLEAR;
//! - streamed (layer-major): LOAD of every step, then per layer every step's [ACC..., UPD] (and
//!   OUT after the output layer's UPD), the step counter `t` back to 0 as each layer starts.
//!
//! Invariants: at step 0 every phase runs; after it the static phases (a direct input's load,
//! static accumulations) are skipped, so they are no later step's predecessor; each phase's
//! `enter` term is an OR of its predecessors' one-hot bits.

use super::expr::abits;
use crate::hw::Plan;
use crate::quant::AccTarget;

/// A phase of a sequencer program.
pub struct PhaseView {
    /// Index.
    pub idx: usize,
    /// `load`, `acc`, `upd`, `out`, `exit`, `clear`.
    pub kind: String,
    /// Unit prefix (`l1p0`, `l1`, ...).
    pub unit: String,
    /// The layer it runs (ACC, UPD; OUT in the streamed program: the output layer).
    pub layer: Option<usize>,
    /// When this phase is the one after the running phase: a 1-bit Verilog expression of
    /// `pc_oh`, `late` and `last` (indices and keywords only).
    pub enter: String,
}

/// The program and the masks the template decodes it with.
pub struct Program {
    /// The phases.
    pub phases: Vec<PhaseView>,
    /// One-hot masks (Verilog literals, NPH bits): the UPD phases, and per bit of the layer
    /// index the UPD phases whose layer has that bit set.
    pub upd_mask: String,
    /// See `upd_mask`.
    pub layer_masks: Vec<String>,
    /// One-hot mask of the FUSE phases (a fused layer's, [`Plan::fused`]); None without one.
    pub fuse_mask: Option<String>,
    /// First phase at steps after 0.
    pub start_late: usize,
    /// EXIT and CLEAR phase indices (0 without early exit).
    pub exit_pc: usize,
    /// See `exit_pc`.
    pub clear_pc: usize,
    /// Layer index width.
    pub lw: usize,
    /// When the running phase's end ends the inference, moves to the next step, or starts a
    /// layer's steps again at step 0: 1-bit Verilog expressions of `pc_oh`, `late` and `last`.
    pub st_fin: String,
    /// See `st_fin`.
    pub t_inc: String,
    /// See `st_fin` (streamed only).
    pub t_rst: String,
    /// Streamed with a layer in tiles of lane groups: the width of `tj`, the running layer's
    /// tile (0 without tiles), and when the running phase's end moves to the layer's next tile
    /// or leaves a layer in tiles (1-bit Verilog expressions of `pc_oh`, `late`, `last`, `tj`).
    pub tjw: usize,
    /// See `tjw`.
    pub tj_inc: String,
    /// See `tjw`.
    pub tj_rst: String,
    /// A design taking a student mask: per phase, when it is the first phase of a step after
    /// step 0 (a 1-bit Verilog expression of `act_r`, the inference's mask), the bits of
    /// `oh_start`, which replaces the constant start of a later step.
    pub start_oh: Option<Vec<String>>,
    /// A design running the cascade: its decision phase (streamed only).
    pub dec: Option<Decision>,
}

struct Ph {
    kind: &'static str,
    unit: String,
    statik: bool,
    layer: usize,
    /// The student whose mask bit the phase runs under (a design taking a student mask).
    student: Option<usize>,
}

/// The program's phases in order.
fn phases(plan: &Plan) -> Vec<Ph> {
    let st = plan.mask_students();
    let ph = |kind, unit, statik, layer, student| Ph { kind, unit, statik, layer, student };
    let mut prog: Vec<Ph> = vec![ph("load", "inp".into(), !plan.input.per_step, 0, None)];
    for (k, l) in plan.layers.iter().enumerate() {
        for (j, p) in l.projections.iter().enumerate() {
            let student = st.and_then(|st| st.projection[k][j]);
            prog.push(ph("acc", format!("l{k}p{j}"), p.target == AccTarget::Static, k, student));
        }
        prog.push(ph("upd", format!("l{k}"), false, k, st.and_then(|st| st.layer[k])));
    }
    prog.push(ph("out", "out".into(), false, 0, None));
    if plan.early_exit {
        prog.push(ph("exit", "ex".into(), false, 0, None));
        prog.push(ph("clear", "clr".into(), false, 0, None));
    }
    prog
}

/// A conjunction of mask bits (`act_r[s]` when true, `!act_r[s]` when false), or None when it
/// can never hold.
type Cond = Option<std::collections::BTreeMap<usize, bool>>;

fn and(c: Cond, s: usize, on: bool) -> Cond {
    let mut c = c?;
    match c.insert(s, on) {
        Some(was) if was != on => None,
        _ => Some(c),
    }
}

/// The conjunction's literals, each after " & " (empty when it always holds).
fn cond_text(c: &std::collections::BTreeMap<usize, bool>) -> String {
    cond_text_of(c, None)
}

/// [`cond_text`], where a design running the cascade over `n` students (`Some(n)`) keys a
/// student's layers by `n + s` (its bit of `stg_r`, the stage's student) and its projections
/// into the shared layers by `s` (`act_r`, the students run so far).
fn cond_text_of(c: &std::collections::BTreeMap<usize, bool>, stages: Option<usize>) -> String {
    c.iter()
        .map(|(&k, &on)| {
            let bit = match stages {
                Some(n) if k >= n => format!("stg_r[{}]", k - n),
                _ => format!("act_r[{k}]"),
            };
            if on { format!(" & {bit}") } else { format!(" & !{bit}") }
        })
        .collect()
}

/// Under a student mask: when phase `j` follows phase `i` directly (`i` None: from the start of
/// a step after step 0), at step 0 (`late` false) or after it. Every phase between them must be
/// skipped (static after step 0, or its student inactive) and `j` must run.
fn masked_path(prog: &[Ph], i: Option<usize>, j: usize, late: bool) -> Cond {
    let runs = |c: Cond, m: usize| -> Cond {
        if late && prog[m].statik {
            return None;
        }
        match prog[m].student {
            Some(s) => and(c, s, true),
            None => c,
        }
    };
    let skipped = |c: Cond, m: usize| -> Cond {
        if late && prog[m].statik {
            return c;
        }
        and(c, prog[m].student?, false)
    };
    let from = i.map_or(0, |i| i + 1);
    let mut c: Cond = Some(Default::default());
    if let Some(i) = i {
        c = runs(c, i);
    }
    for m in from..j {
        c = skipped(c, m);
    }
    runs(c, j)
}

/// The enter terms of a design taking a student mask (the phases before OUT; see [`enter`]):
/// from each predecessor `i` whose path to `j` some mask allows, at step 0 and after it, and
/// after OUT at a step that is not the last, `oh_start[j]` (without early exit).
fn enter_masked(prog: &[Ph], out_pc: usize, early_exit: bool, j: usize) -> String {
    let mut terms = vec![];
    for i in 0..j.min(out_pc) {
        // The running phase's own student is active: its bit is left out of the term.
        let own = |c: Cond| {
            c.map(|mut c| {
                if let Some(s) = prog[i].student {
                    c.remove(&s);
                }
                c
            })
        };
        let (t0, lt) = (own(masked_path(prog, Some(i), j, false)), own(masked_path(prog, Some(i), j, true)));
        match (t0, lt) {
            (Some(a), Some(b)) if a == b => terms.push(format!("(pc_oh[{i}]{})", cond_text(&a))),
            (a, b) => {
                if let Some(a) = a {
                    terms.push(format!("(pc_oh[{i}] & !late{})", cond_text(&a)));
                }
                if let Some(b) = b {
                    terms.push(format!("(pc_oh[{i}] & late{})", cond_text(&b)));
                }
            }
        }
    }
    if j < out_pc && !early_exit {
        terms.push(format!("(pc_oh[{out_pc}] & !last & oh_start[{j}])"));
    }
    if terms.is_empty() { "1'b0".into() } else { terms.join(" | ") }
}

/// Phase `j`'s enter term: its predecessors at step 0 and at later steps (`next`: the phase
/// after `i`, static ones skipped when late); after OUT at a step that is not the last, EXIT
/// or the next step's first phase (`after_out`).
fn enter(prog: &[Ph], out_pc: usize, after_out: usize, next: &dyn Fn(usize, bool) -> usize, j: usize) -> String {
    let t0: Vec<usize> = (0..out_pc).filter(|&i| next(i, false) == j).collect();
    let lt: Vec<usize> = (0..out_pc).filter(|&i| !prog[i].statik && next(i, true) == j).collect();
    let ors = |v: Vec<usize>| v.iter().map(|i| format!("pc_oh[{i}]")).collect::<Vec<_>>().join(" | ");
    let mut terms = Vec::new();
    let both: Vec<usize> = t0.iter().copied().filter(|i| lt.contains(i)).collect();
    let t0_only: Vec<usize> = t0.iter().copied().filter(|i| !lt.contains(i)).collect();
    let lt_only: Vec<usize> = lt.iter().copied().filter(|i| !t0.contains(i)).collect();
    if !both.is_empty() {
        terms.push(ors(both));
    }
    if !t0_only.is_empty() {
        terms.push(format!("(!late & ({}))", ors(t0_only)));
    }
    if !lt_only.is_empty() {
        terms.push(format!("(late & ({}))", ors(lt_only)));
    }
    if j == after_out {
        terms.push(format!("(pc_oh[{out_pc}] & !last)"));
    }
    if terms.is_empty() { "1'b0".into() } else { terms.join(" | ") }
}

/// The sequential program of `plan`.
pub fn program(plan: &Plan) -> Program {
    let prog = phases(plan);
    let out_pc = prog.iter().position(|p| p.kind == "out").expect("an OUT phase");
    let (exit_pc, clear_pc) = if plan.early_exit { (out_pc + 1, out_pc + 2) } else { (0, 0) };
    let next = |i: usize, late: bool| -> usize {
        let mut j = i + 1;
        while j < out_pc && late && prog[j].statik {
            j += 1;
        }
        j
    };
    let start_late = if plan.input.per_step { 0 } else { next(0, true).min(out_pc) };
    let after_out = if plan.early_exit { exit_pc } else { start_late };
    let masked = plan.takes_mask();
    // Under every mask some phase of a later step runs before OUT (`takes_mask` keeps the
    // output layer, whose UPD is never static, outside every student), so `oh_start` has a bit.
    debug_assert!(!masked || prog[..out_pc].iter().any(|p| p.student.is_none() && !p.statik));
    let phases = (0..prog.len())
        .map(|i| PhaseView {
            idx: i,
            kind: prog[i].kind.into(),
            unit: prog[i].unit.clone(),
            layer: matches!(prog[i].kind, "acc" | "upd").then_some(prog[i].layer),
            enter: if masked && i <= out_pc {
                enter_masked(&prog, out_pc, plan.early_exit, i)
            } else {
                enter(&prog, out_pc, after_out, &next, i)
            },
        })
        .collect();
    // Under a mask, a later step starts at its first phase that runs: every phase before it is
    // static or its student's.
    let start_oh = masked.then(|| {
        (0..prog.len())
            .map(|j| match masked_path(&prog, None, j, true).filter(|_| j < out_pc) {
                Some(c) => format!("1'b1{}", cond_text(&c)),
                None => "1'b0".into(),
            })
            .collect()
    });
    let lw = abits(plan.layers.len());
    let st_fin = if plan.early_exit {
        format!("(pc_oh[{out_pc}] & last) | pc_oh[{clear_pc}]")
    } else {
        format!("(pc_oh[{out_pc}] & last)")
    };
    let t_inc = if plan.early_exit { "1'b0".to_string() } else { format!("pc_oh[{out_pc}] & !last") };
    Program {
        upd_mask: upd_mask(&prog),
        layer_masks: layer_masks(&prog, lw),
        fuse_mask: None,
        phases,
        start_late,
        exit_pc,
        clear_pc,
        lw,
        st_fin,
        t_inc,
        t_rst: "1'b0".into(),
        tjw: 0,
        tj_inc: "1'b0".into(),
        tj_rst: "1'b0".into(),
        start_oh,
        dec: None,
    }
}

/// One-hot mask (a Verilog literal of one bit per phase) of the UPD phases `f` accepts.
fn mask(prog: &[Ph], f: &dyn Fn(&Ph) -> bool) -> String {
    let bits: String =
        prog.iter().rev().map(|p| if matches!(p.kind, "upd" | "fuse") && f(p) { '1' } else { '0' }).collect();
    format!("{}'b{bits}", prog.len())
}

fn upd_mask(prog: &[Ph]) -> String {
    mask(prog, &|_| true)
}

fn layer_masks(prog: &[Ph], lw: usize) -> Vec<String> {
    (0..lw).map(|b| mask(prog, &|p: &Ph| (p.layer >> b) & 1 == 1)).collect()
}

/// Where a transition of the streamed program lands: a phase, or the end of the inference.
#[derive(Clone, Copy, PartialEq, Eq)]
enum To {
    Ph(usize),
    Fin,
}

/// A transition's condition beyond its edge's own: a `late` literal (None: either) and mask
/// bits ([`Cond`]'s map).
type Lits = (Option<bool>, std::collections::BTreeMap<usize, bool>);

/// Under the streamed program, where entering phase `j` at a step whose `late` is `late`
/// (None: not known from the edge) lands, and when: a static phase after step 0 and an inactive
/// student's phase are passed over, the next phase of the step, or, past a layer's last phase
/// (a student's layer, whose every phase is then skipped, entered at step 0), the next layer's
/// first at step 0, or the end. `c` is the condition so far; branches that cannot hold are
/// dropped.
fn land(prog: &[Ph], span: &[(usize, usize)], j: To, late: Option<bool>, c: Lits, out: &mut Vec<(Lits, To)>) {
    let To::Ph(j) = j else {
        out.push((c, To::Fin));
        return;
    };
    let next = |late: Option<bool>| -> (To, Option<bool>) {
        let k = prog[j].layer;
        if j < span[k].1 {
            (To::Ph(j + 1), late)
        } else if k + 1 < span.len() {
            (To::Ph(span[k + 1].0), Some(false))
        } else {
            (To::Fin, late)
        }
    };
    if prog[j].statik {
        match late {
            Some(true) => {
                let (n, l) = next(late);
                return land(prog, span, n, l, c, out);
            }
            None => {
                let mut early = c.clone();
                early.0 = Some(false);
                land(prog, span, To::Ph(j), Some(false), early, out);
                let mut lt = c;
                lt.0 = Some(true);
                let (n, l) = next(Some(true));
                return land(prog, span, n, l, lt, out);
            }
            Some(false) => {}
        }
    }
    match prog[j].student {
        None => out.push((c, To::Ph(j))),
        Some(s) => {
            for on in [true, false] {
                let mut b = c.clone();
                match b.1.insert(s, on) {
                    Some(was) if was != on => continue,
                    _ => {}
                }
                if on {
                    out.push((b, To::Ph(j)));
                } else {
                    let (n, l) = next(late);
                    land(prog, span, n, l, b, out);
                }
            }
        }
    }
}

/// The streamed (layer-major) program of `plan`: LOAD (every step's in turn when the input
/// changes every step, `t` counting them), then per layer its phases at every step, the output
/// layer's UPD followed by OUT. After a layer's last phase: at a step that is not the last,
/// the layer's first phase that runs late (`t` + 1); at the last, the next layer's first phase
/// (`t` back to 0), or done after the last layer. A layer in `n` tiles of lane groups
/// (`hw::Layer::tiles`) runs its steps once per tile: after its last phase at the last step,
/// while tiles remain, back to its first phase (`t` to 0, `tj` + 1), else on (`tj` to 0).
/// The caller has checked the order (`hw::schedule::layer_major_order`: no early exit).
///
/// A design taking a student mask passes over an inactive student's phases: its layers (all
/// their steps, entered at step 0 and left at step 0) and its projections into shared layers.
/// Each transition then lands on the first phase after it that runs, under a condition on
/// `act_r` (a skipped phase costs no cycle and no gap, as the cycle engine counts it); the
/// step counter moves as the running phase's edge says.
///
/// A design running the cascade (`Plan::cascade`) ends each stage with a decision phase
/// (DEC) after the last layer's last step instead of the end: it goes on at the next stage's
/// student's first phase (the sequencer's override), or ends the inference. Its student
/// layers run under `stg_r` (the stage's student; every active student with the cascade off)
/// and its projections into the shared layers under `act_r` (the students run so far).
pub fn program_streamed(plan: &Plan) -> Program {
    let st = plan.mask_students();
    let stages = plan.cascade.as_ref().and(st).map(|st| st.names.len());
    // The key of a phase's condition: a student's own layers by `n + s` under the cascade.
    let key = |k: usize, s: Option<usize>| match (stages, st) {
        (Some(n), Some(st)) if st.layer[k].is_some() => s.map(|s| n + s),
        _ => s,
    };
    let mut prog: Vec<Ph> = vec![Ph { kind: "load", unit: "inp".into(), statik: false, layer: 0, student: None }];
    // Per layer: its first phase and its last.
    let mut span: Vec<(usize, usize)> = vec![];
    for (k, l) in plan.layers.iter().enumerate() {
        let first = prog.len();
        if plan.fused(k) {
            // A fused layer: one FUSE phase (a tile's every step, its gathers and updates).
            let student = key(k, st.and_then(|st| st.layer[k]));
            prog.push(Ph { kind: "fuse", unit: format!("l{k}f"), statik: false, layer: k, student });
            span.push((first, first));
            continue;
        }
        for (j, p) in l.projections.iter().enumerate() {
            prog.push(Ph {
                kind: "acc",
                unit: format!("l{k}p{j}"),
                statik: p.target == AccTarget::Static,
                layer: k,
                student: key(k, st.and_then(|st| st.projection[k][j])),
            });
        }
        let student = key(k, st.and_then(|st| st.layer[k]));
        prog.push(Ph { kind: "upd", unit: format!("l{k}"), statik: false, layer: k, student });
        if k == plan.output.layer {
            prog.push(Ph { kind: "out", unit: "out".into(), statik: false, layer: k, student: None });
        }
        span.push((first, prog.len() - 1));
    }
    // The cascade's decision, after the last layer's last phase.
    let dec_pc = stages.map(|_| {
        let layer = plan.layers.len() - 1;
        prog.push(Ph { kind: "dec", unit: "dec".into(), statik: false, layer, student: None });
        prog.len() - 1
    });
    let n = prog.len();
    // Raw edges (from, condition, to, `late` at the target when the condition does not say):
    // the condition a Verilog term of `late`, `last` and `tj`.
    let mut raw: Vec<(usize, String, To, Option<bool>)> = vec![];
    let (mut inc, mut rst) = (vec![], vec![]);
    let (mut tj_inc, mut tj_rst) = (vec![], vec![]);
    let tjw = super::common::tj_width(plan);
    if plan.input.per_step {
        raw.push((0, "!last".into(), To::Ph(0), Some(true)));
        inc.push("(pc_oh[0] & !last)".to_string());
        raw.push((0, "last".into(), To::Ph(span[0].0), Some(false)));
        rst.push("(pc_oh[0] & last)".to_string());
    } else {
        raw.push((0, "1'b1".into(), To::Ph(span[0].0), Some(false)));
    }
    for (k, &(first, last_pc)) in span.iter().enumerate() {
        for i in first..last_pc {
            // Within a step: the next phase, static ones skipped after step 0.
            raw.push((i, "1'b1".into(), To::Ph(i + 1), None));
        }
        // A fused layer's phase runs every step (`t` stays 0); any other layer's, one.
        let fused = plan.fused(k);
        if !fused {
            raw.push((last_pc, "!last".into(), To::Ph(first), Some(true)));
            inc.push(format!("(pc_oh[{last_pc}] & !last)"));
        }
        // The last step of the layer's last tile (of the layer, without tiles).
        let n = plan.layers[k].tiles;
        let done = if fused {
            "1'b1".to_string()
        } else if n > 1 {
            let tl = format!("(tj == {tjw}'d{})", n - 1);
            raw.push((last_pc, format!("last & !{tl}"), To::Ph(first), Some(false)));
            rst.push(format!("(pc_oh[{last_pc}] & last & !{tl})"));
            tj_inc.push(format!("(pc_oh[{last_pc}] & last & !{tl})"));
            tj_rst.push(format!("(pc_oh[{last_pc}] & last & {tl})"));
            format!("last & {tl}")
        } else {
            "last".to_string()
        };
        if k + 1 < span.len() {
            raw.push((last_pc, done.clone(), To::Ph(span[k + 1].0), Some(false)));
            rst.push(format!("(pc_oh[{last_pc}] & {done})"));
        } else if let Some(dec) = dec_pc {
            raw.push((last_pc, done.clone(), To::Ph(dec), Some(false)));
            rst.push(format!("(pc_oh[{last_pc}] & {done})"));
        } else {
            raw.push((last_pc, done, To::Fin, Some(false)));
        }
    }
    // Each raw edge lands on the phases that run ([`land`]); the running phase's own student
    // is active, so its bit is assumed and left out of the terms.
    let mut edges: Vec<(usize, String, To)> = vec![];
    for (i, c, to, late) in raw {
        let mut own = std::collections::BTreeMap::new();
        if let Some(s) = prog[i].student {
            own.insert(s, true);
        }
        let mut landed = vec![];
        land(&prog, &span, to, late, (None, own), &mut landed);
        for ((l, mut bits), to) in landed {
            if let Some(s) = prog[i].student {
                bits.remove(&s);
            }
            let mut term = if c == "1'b1" { String::new() } else { format!(" & {c}") };
            if let Some(l) = l {
                term += if l { " & late" } else { " & !late" };
            }
            term += &cond_text_of(&bits, stages);
            edges.push((i, term, to));
        }
    }
    let term = |i: usize, c: &str| if c.is_empty() { format!("pc_oh[{i}]") } else { format!("(pc_oh[{i}]{c})") };
    let fin: Vec<String> = edges.iter().filter(|e| e.2 == To::Fin).map(|(i, c, _)| term(*i, c)).collect();
    let enter = |j: usize| -> String {
        let terms: Vec<String> = edges.iter().filter(|e| e.2 == To::Ph(j)).map(|(i, c, _)| term(*i, c)).collect();
        if terms.is_empty() { "1'b0".into() } else { terms.join(" | ") }
    };
    let or = |v: Vec<String>| if v.is_empty() { "1'b0".to_string() } else { v.join(" | ") };
    let lw = abits(plan.layers.len());
    Program {
        phases: (0..n)
            .map(|i| PhaseView {
                idx: i,
                kind: prog[i].kind.into(),
                unit: prog[i].unit.clone(),
                layer: (!matches!(prog[i].kind, "load" | "dec")).then_some(prog[i].layer),
                enter: enter(i),
            })
            .collect(),
        upd_mask: upd_mask(&prog),
        layer_masks: layer_masks(&prog, lw),
        fuse_mask: prog.iter().any(|p| p.kind == "fuse").then(|| {
            let bits: String = prog.iter().rev().map(|p| if p.kind == "fuse" { '1' } else { '0' }).collect();
            format!("{}'b{bits}", prog.len())
        }),
        start_late: 0,
        exit_pc: 0,
        clear_pc: 0,
        lw,
        st_fin: or(fin),
        t_inc: or(inc),
        t_rst: or(rst),
        tjw,
        tj_inc: or(tj_inc),
        tj_rst: or(tj_rst),
        start_oh: None,
        dec: dec_pc.zip(st).map(|(pc, st)| Decision {
            pc,
            // Each student's first phase: its first layer's first (at step 0 nothing is skipped).
            firsts: (0..st.names.len())
                .map(|s| {
                    let k = st.layer.iter().position(|&l| l == Some(s)).unwrap_or(0);
                    span[k].0
                })
                .collect(),
            order: plan.cascade_order(),
        }),
    }
}

/// The cascade's decision phase and where the next stage starts.
pub struct Decision {
    /// Its phase.
    pub pc: usize,
    /// Per student, its first phase (the next stage's start when it is the next active one).
    pub firsts: Vec<usize>,
    /// The stages' order ([`Plan::cascade_order`]): every student once.
    pub order: Vec<usize>,
}

impl Decision {
    /// The first student in the stages' order among the bits of the Verilog vector `v` (one
    /// hot, zero when none): a priority chain, `w` bits.
    pub fn order_text(&self) -> String {
        self.order.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", ")
    }

    /// See [`Decision::first_of`].
    pub fn first_of(&self, v: &str, w: impl std::borrow::Borrow<usize>) -> String {
        let w = *w.borrow();
        let mut e = format!("{w}'d0");
        for &s in self.order.iter().rev() {
            e = format!("({v}[{s}] ? {w}'d{} : {e})", 1u128 << s);
        }
        e
    }

    /// The one-hot start of the stage of the students `nxt` names (a Verilog expression of
    /// `nxt`, NPH bits): the first phase of the student whose bit is set.
    pub fn next_oh(&self, nph: impl std::borrow::Borrow<usize>) -> String {
        let nph = *nph.borrow();
        self.firsts
            .iter()
            .enumerate()
            .map(|(s, &f)| format!("({{{nph}{{nxt[{s}]}}}} & ({nph}'d1 << {f}))"))
            .collect::<Vec<_>>()
            .join(" | ")
    }
}
