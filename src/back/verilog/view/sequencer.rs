//! The sequential schedule's sequencer program: [LOAD] per layer [ACC..., UPD], OUT, and with
//! early exit EXIT and CLEAR, run one phase at a time, one-hot ([`crate::hw::schedule`]).
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
    /// First phase at steps after 0.
    pub start_late: usize,
    /// OUT, EXIT and CLEAR phase indices (EXIT and CLEAR 0 without early exit).
    pub out_pc: usize,
    /// See `out_pc`.
    pub exit_pc: usize,
    /// See `out_pc`.
    pub clear_pc: usize,
    /// Layer index width.
    pub lw: usize,
}

struct Ph {
    kind: &'static str,
    unit: String,
    statik: bool,
    layer: usize,
}

/// The program's phases in order.
fn phases(plan: &Plan) -> Vec<Ph> {
    let mut prog: Vec<Ph> = vec![Ph { kind: "load", unit: "inp".into(), statik: !plan.input.per_step, layer: 0 }];
    for (k, l) in plan.layers.iter().enumerate() {
        for (j, p) in l.projections.iter().enumerate() {
            prog.push(Ph { kind: "acc", unit: format!("l{k}p{j}"), statik: p.target == AccTarget::Static, layer: k });
        }
        prog.push(Ph { kind: "upd", unit: format!("l{k}"), statik: false, layer: k });
    }
    prog.push(Ph { kind: "out", unit: "out".into(), statik: false, layer: 0 });
    if plan.early_exit {
        prog.push(Ph { kind: "exit", unit: "ex".into(), statik: false, layer: 0 });
        prog.push(Ph { kind: "clear", unit: "clr".into(), statik: false, layer: 0 });
    }
    prog
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
    let phases = (0..prog.len())
        .map(|i| PhaseView {
            idx: i,
            kind: prog[i].kind.into(),
            unit: prog[i].unit.clone(),
            enter: enter(&prog, out_pc, after_out, &next, i),
        })
        .collect();
    let mask = |f: &dyn Fn(&Ph) -> bool| -> String {
        let bits: String = prog.iter().rev().map(|p| if p.kind == "upd" && f(p) { '1' } else { '0' }).collect();
        format!("{}'b{bits}", prog.len())
    };
    let lw = abits(plan.layers.len());
    Program {
        phases,
        upd_mask: mask(&|_| true),
        layer_masks: (0..lw).map(|b| mask(&|p: &Ph| (p.layer >> b) & 1 == 1)).collect(),
        start_late,
        out_pc,
        exit_pc,
        clear_pc,
        lw,
    }
}
