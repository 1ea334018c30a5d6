//! One popcount datapath shared by the dense units of a streamed plan (docs/hardware.md 4c,
//! "One datapath for a streamed plan's dense units").
//!
//! A streamed plan runs one phase at a time: the sequencer's program counter is one-hot, and a
//! dense unit's phase ends (`fin`) after its last row's sum is written. So at most one dense
//! unit is active (`<unit>_act`, high from its `go` to its `fin`) in any cycle, and its stages
//! C to E (the lanes' AND, popcounts, row accumulators and row sums, the part that grows with
//! the lanes) can be one datapath for all of them. Each unit keeps its own counters, addresses
//! and stage flags, and adds the shared row sum's low bits into its own state.
//!
//! Invariants: the shared widths are the largest of its units' (`lanes`, plane word, row
//! accumulator, target state), so every unit's values are the same integers as in its own
//! datapath; a unit takes the row sum modulo 2^its target width, which is what its own
//! datapath computes (a left shift and a truncation commute with taking the low bits). The
//! inputs are the active unit's, selected by its `act`; a source that every unit reading that
//! lane shares is taken as it is (an idle cycle's data is gated by the popcount's valid flag).

use std::collections::BTreeMap;

use super::expr::{abits, lit};
use super::proj::{pairs, pop_tree};
use super::types::{LayerView, PlaneBankView};
use crate::hw::Plan;

/// The shared datapath as the template prints it.
pub struct SharedDenseView {
    /// The units it serves (prefixes, for the comment).
    pub units: String,
    /// Lanes, and the plane word's bits (the widest units').
    pub lanes: usize,
    /// See `lanes`.
    pub pw: usize,
    /// The plane word's nibbles, the padding of the last one, their counts summed in pairs,
    /// the popcount's width and its adder tree (as a dense unit's, for `pw` bits).
    pub nn: usize,
    /// See `nn`.
    pub np: usize,
    /// See `nn`.
    pub npad: usize,
    /// See `nn`.
    pub pair: String,
    /// See `nn`.
    pub pcw: usize,
    /// See `nn`.
    pub pop: String,
    /// Row accumulator width, the signed width of `2 * A - P`, and the row sum's width (the
    /// widest target state).
    pub accw: usize,
    /// See `accw`.
    pub dw: usize,
    /// See `accw`.
    pub tw: usize,
    /// The plane word: the active unit's, `pw` bits.
    pub s: String,
    /// Each lane's weight bits: the active unit's, `pw` bits.
    pub w: Vec<String>,
    /// The active unit's stage-C valid flag (its tap reads a word), row-start flag at stage D,
    /// lane mask at stage E (`lanes` bits), and shift (`shw` bits).
    pub pv: String,
    /// See `pv`.
    pub fd: String,
    /// See `pv`.
    pub lm: String,
    /// See `pv`.
    pub shift: String,
    /// See `pv`.
    pub shw: usize,
}

/// `e` (`w` bits) zero-extended to `to` bits.
fn zext(e: &str, w: usize, to: usize) -> String {
    if w < to { format!("{{{}'d0, {e}}}", to - w) } else { e.to_string() }
}

/// The OR of the expressions `e`, each gated by the `act` of the units reading it (`to` bits
/// each); one expression ungated when every unit reading this input reads it.
fn select(groups: &BTreeMap<String, Vec<String>>, to: usize) -> String {
    if groups.len() == 1 {
        return groups.keys().next().cloned().unwrap_or_default();
    }
    let mut s = format!("{to}'d0");
    for (e, acts) in groups {
        s += &format!(" | ({{{to}{{{}}}}} & {e})", acts.join(" | "));
    }
    s
}

/// The datapath the dense units of `plan` share (`hw::dense::popcount_sharers`: a streamed
/// plan's binary dense units, when there are two or more), its units marked shared in
/// `layers` (the plan's, by index); None when there is nothing to share.
pub fn shared_dense(plan: &Plan, layers: &mut [LayerView], plbanks: &[PlaneBankView]) -> Option<SharedDenseView> {
    let sharers = crate::hw::dense::popcount_sharers(plan);
    if sharers.is_empty() {
        return None;
    }
    // A layer's plane data is its bank's (the bank's members' aliases name one memory).
    let bank_of: BTreeMap<String, String> = plbanks
        .iter()
        .flat_map(|b| b.members.iter().map(move |m| (format!("{}_pl_rdata", m.pre), format!("{}_rdata", b.pre))))
        .collect();
    // A binary dense unit: its prefix, lanes, plane bits, accumulator bits, target bits, shift,
    // plane data (its memory's read data) and the signal its weight word starts at bit 0 of.
    struct Unit {
        pre: String,
        lanes: usize,
        pw: usize,
        accw: usize,
        tw: usize,
        shift: u32,
        plane: String,
        wbase: String,
    }
    let mut units = vec![];
    for &(k, j) in &sharers {
        let (l, p) = (&layers[k], &layers[k].projs[j]);
        // A projection's view is dense exactly when the plan runs it dense.
        let Some(d) = &p.dense else { continue };
        let plane = bank_of.get(&d.prdata).cloned().unwrap_or_else(|| d.prdata.clone());
        // Wide tile-buffer words are the buffer's row itself (`tx_q` from bit 0).
        let wbase = match &p.ext {
            Some(x) if x.pw_log == 0 => "tx_q".to_string(),
            _ => format!("{}_w", p.pre),
        };
        units.push(Unit {
            pre: p.pre.clone(),
            lanes: l.lanes,
            pw: d.pw,
            accw: d.accw,
            tw: p.tw,
            shift: p.shift,
            plane,
            wbase,
        });
    }
    let lanes = units.iter().map(|u| u.lanes).max().unwrap_or(1);
    let pw = units.iter().map(|u| u.pw).max().unwrap_or(1);
    let tw = units.iter().map(|u| u.tw).max().unwrap_or(1);
    let nn = pw.div_ceil(4);
    let np = nn.div_ceil(2);
    let (pop, pcw) = pop_tree("y", 4, 0, np);
    let accw = units.iter().map(|u| u.accw).max().unwrap_or(1).max(pcw + 1);
    let act = |u: &Unit| format!("{}_act", u.pre);
    // The plane word, by memory.
    let mut planes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for u in &units {
        planes.entry(zext(&u.plane, u.pw, pw)).or_default().push(act(u));
    }
    let s = select(&planes, pw);
    // Each lane's weight bits, by (signal, slice); a unit with fewer lanes does not read the
    // lanes above its own.
    let w = (0..lanes)
        .map(|g| {
            let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for u in units.iter().filter(|u| g < u.lanes) {
                let slice = format!("{}[{}:{}]", u.wbase, g * u.pw + u.pw - 1, g * u.pw);
                groups.entry(zext(&slice, u.pw, pw)).or_default().push(act(u));
            }
            select(&groups, pw)
        })
        .collect();
    let or_of = |f: &dyn Fn(&Unit) -> String| {
        let parts: Vec<String> = units.iter().map(f).collect();
        format!("({})", parts.join(" | "))
    };
    let pv = or_of(&|u| format!("({}_act & {}_pvc)", u.pre, u.pre));
    let fd = or_of(&|u| format!("({}_act & {}_fd)", u.pre, u.pre));
    let lm = or_of(&|u| format!("({{{lanes}{{{}_act}}}} & {})", u.pre, zext(&format!("{}_lm", u.pre), u.lanes, lanes)));
    let max_shift = units.iter().map(|u| u.shift).max().unwrap_or(0);
    let shw = abits(max_shift as usize + 1);
    let shift = if units.iter().all(|u| u.shift == max_shift) {
        lit(i64::from(max_shift), shw)
    } else {
        or_of(&|u| format!("({{{shw}{{{}_act}}}} & {})", u.pre, lit(i64::from(u.shift), shw)))
    };
    for &(k, j) in &sharers {
        if let Some(d) = layers[k].projs[j].dense.as_mut() {
            d.shared_tw = Some(tw);
        }
    }
    Some(SharedDenseView {
        units: units.iter().map(|u| u.pre.as_str()).collect::<Vec<_>>().join(", "),
        lanes,
        pw,
        nn,
        np,
        npad: nn * 4 - pw,
        pair: pairs("y", nn),
        pcw,
        pop,
        accw,
        dw: accw + 2,
        tw,
        s,
        w,
        pv,
        fd,
        lm,
        shift,
        shw,
    })
}
