//! Shared memories of the sequential schedule's kind: the state memories (X, S, Y) and the
//! event lists, each holding the rows of one or more layers that never run at the same time.
//!
//! Invariants: a memory's layers hold their rows from the bases the plan gives them
//! (`crate::hw::memory::Bank`: one after another, or under the streamed schedule shared by
//! layers whose lifetimes do not meet); lanes are sign-extended to the widest layer's; the units
//! that read or write a memory run one at a time, so their addresses and data are OR-ed (each
//! zero while idle).

use super::common::EmitError;
use super::expr::abits;
use super::types::{LayerView, PlaneBankView, PlaneMemberView};
use super::update::Shared;
use crate::hw::memory::Bank;
use crate::hw::{MemMap, Plan};
use crate::names::list_label;

/// One layer's place in a shared memory.
pub struct MemberView {
    /// Layer index.
    pub k: usize,
    /// Layer prefix `l<k>`.
    pub pre: String,
    /// First row of the layer in the memory (`aw`-bit literal).
    pub base: String,
    /// Update pass write data at the memory's width (X and Y).
    pub uw: String,
    /// Clear address.
    pub clr: String,
}

/// One accumulate unit writing a shared memory.
pub struct ClientView {
    /// Projection prefix.
    pub pre: String,
    /// Row address width of the target layer.
    pub raw: usize,
    /// Width of the unit's result (target lanes x target width).
    pub neww: usize,
    /// Memory read address from `<pre>_rrow`.
    pub raddr: String,
    /// Memory write address from `<pre>_wrow`.
    pub waddr: String,
    /// Memory write data from `<pre>_sum` (the unit's registered sums).
    pub wdata: String,
    /// Its sums are the memory's shared ones (`<bank>_dsum`, [`share_state_adders`]), so it
    /// has no adder or sum of its own.
    pub shared: bool,
    /// Of those, a unit that hands the memory its addends (`<pre>_add`, `lanes` of `w` bits,
    /// meaningful in its stage-3 beats): a one-to-one or event-driven unit. The shared
    /// popcounts' units hand theirs through `dsh_rs` instead.
    pub add: bool,
    /// The target layer's lanes and its width in this memory.
    pub lanes: usize,
    /// See `lanes`.
    pub w: usize,
}

/// A state memory (X, S or Y) holding the rows of one or more layers, which never run at the
/// same time: the layers' rows follow each other; lanes are sign-extended to the widest.
pub struct BankView {
    /// Signal prefix.
    pub pre: String,
    /// `x`, `s` or `y`.
    pub kind: String,
    /// Member names, for the comment.
    pub comment: String,
    /// Word width (lanes x lane width), and the lane width.
    pub width: usize,
    /// See `width`.
    pub lw: usize,
    /// Rows.
    pub rows: usize,
    /// Address width.
    pub aw: usize,
    /// In logic.
    pub logic: bool,
    /// Several layers.
    pub multi: bool,
    /// Rows carry an epoch bit: the early-exit clear flips the epoch instead of writing.
    pub epoch: bool,
    /// The epoch an epoch memory's rows are compared with: `ep`, the design's, or (a design
    /// taking a student mask, a memory of one student's layers) `<pre>_ep`, its own, which the
    /// clear flips only when the student ran. An inactive student's rows are not rewritten at
    /// step 0; with its epoch held they keep reading as they were left (zero or cleared).
    pub ep: String,
    /// Its own epoch's student (see `ep`).
    pub ep_student: Option<usize>,
    /// Update pass read and write addresses.
    pub uraddr: String,
    /// Update pass write address.
    pub uwaddr: String,
    /// Update pass write enable.
    pub uon: String,
    /// Layers.
    pub members: Vec<MemberView>,
    /// Accumulate units.
    pub clients: Vec<ClientView>,
    /// The accumulate units' write data, OR-ed (each zero unless its beat writes).
    pub acc_r: String,
    /// Its units share one adder ([`share_state_adders`]): their beat in stage 3 (any of
    /// them), and the lanes' new values (`<pre>_dold` plus the active unit's addend).
    pub dshared: bool,
    /// With units of both kinds (the shared popcounts' and ones handing their addends): a
    /// beat of the former in stage 3, which gates `dsh_rs` (it holds a stale sum while
    /// another unit runs); empty otherwise.
    pub dsd: String,
    /// See `dshared`.
    pub dsw: String,
    /// See `dshared`.
    pub dnew: String,
    /// Prefix of the update datapath writing it (see [`LayerView::gp`]) and its layer index width.
    pub gp: String,
    /// See `gp`.
    pub glw: usize,
}

/// One layer's event list in a shared event memory.
pub struct EvMemberView {
    /// Layer prefix.
    pub pre: String,
    /// Row address width (of every row, a layer in tiles too).
    pub raw: usize,
    /// Tiles of lane groups: a tile after the first appends to each step's entries.
    pub tiles: usize,
    /// Entry width.
    pub ew: usize,
    /// Lanes and entry field widths (c, y, x).
    pub lanes: usize,
    /// Entry c width.
    pub ecw: usize,
    /// Entry y width.
    pub eyw: usize,
    /// Entry x width.
    pub exw: usize,
    /// Write address from the layer's entry count.
    pub waddr: String,
    /// Write data at the memory's width.
    pub wdata: String,
    /// A multi-spike layer's lane counts and a comma, placed between x and the lane mask of
    /// its entries; empty otherwise.
    pub counts: String,
    /// The kept positions' tables ([`reach_terms`]): declarations, and the write enable's term.
    pub reach_decl: String,
    pub reach_and: String,
}

/// An event list memory shared by one or more layers.
pub struct EvBankView {
    /// Signal prefix.
    pub pre: String,
    /// Member names, for the comment.
    pub comment: String,
    /// Word width.
    pub width: usize,
    /// Rows.
    pub rows: usize,
    /// Address width.
    pub aw: usize,
    /// In logic.
    pub logic: bool,
    /// Layers.
    pub members: Vec<EvMemberView>,
    /// Readers: (projection prefix, read address).
    pub readers: Vec<(String, String)>,
}

/// A layer's lane counts and a comma for its entries ({c, y, x, counts, mask}), or nothing.
pub fn entry_counts(l: &LayerView, qw: usize) -> String {
    if l.multi { format!("{}, ", l.count_bus(qw)) } else { String::new() }
}

/// `sig` (`sw` bits) plus `base` as an `aw`-bit address.
fn bank_addr(base: usize, sig: &str, sw: usize, aw: usize) -> String {
    let s = if sw > aw {
        format!("{sig}[{}:0]", aw - 1)
    } else if sw < aw {
        format!("{{{}'d0, {sig}}}", aw - sw)
    } else {
        sig.to_string()
    };
    if base == 0 { s } else { format!("{aw}'d{base} + {s}") }
}

/// `{lane n-1, ..., lane 0}` of a bank word: lane l = `f(l)` below `lanes`, zero above.
fn bank_word(n: usize, lanes: usize, lw: usize, f: impl Fn(usize) -> String) -> String {
    let parts: Vec<String> = (0..n).rev().map(|l| if l < lanes { f(l) } else { format!("{lw}'d0") }).collect();
    format!("{{{}}}", parts.join(", "))
}

/// The state memories, X then S then Y banks in plan order; connects each member layer's read
/// data (`*_sig`, `*_lw`) and each accumulate unit's current row value (`old`).
pub fn state_banks(plan: &Plan, layers: &mut [LayerView], lsh: &[Shared]) -> Vec<BankView> {
    let mut banks = vec![];
    for kind in ["x", "s", "y"] {
        for (gi, bank) in plan.banks.iter().filter(|b| b.kind == kind).enumerate() {
            banks.push(state_bank(plan, kind, gi, bank, layers, &lsh[bank.layers[0]]));
        }
    }
    banks
}

/// Bank `gi` of kind `kind`; `sh` is the datapath its layers share.
fn state_bank(plan: &Plan, kind: &str, gi: usize, bank: &Bank, layers: &mut [LayerView], sh: &Shared) -> BankView {
    let g = &bank.layers;
    let (gp, glw) = (layers[g[0]].gp.clone(), layers[g[0]].glw);
    let pre = format!("{kind}b{gi}");
    let w_of = |l: &LayerView| match kind {
        "s" => l.sw,
        "y" => l.yw,
        _ => l.vw,
    };
    let lanes = g.iter().map(|&k| layers[k].lanes).max().unwrap_or(1);
    let lw = g.iter().map(|&k| w_of(&layers[k])).max().unwrap_or(1);
    let rows = bank.depth;
    let aw = abits(rows);
    let multi = g.len() > 1;
    debug_assert_eq!(bank.width, lanes * lw);
    debug_assert!(g.iter().zip(&bank.bases).all(|(&k, b)| b + layers[k].rows <= rows));
    let mut members = vec![];
    let mut clients = vec![];
    for (&k, &base) in g.iter().zip(&bank.bases) {
        let l = &mut layers[k];
        let w = w_of(l);
        let uw = match kind {
            "y" => bank_word(lanes, l.lanes, lw, |i| LayerView::sext(&format!("{gp}u_ynm"), i * sh.yw, w, lw)),
            "x" => bank_word(lanes, l.lanes, lw, |i| LayerView::sext(&format!("{gp}u_xnm"), i * sh.vw, w, lw)),
            _ => String::new(),
        };
        members.push(MemberView {
            k,
            pre: l.pre.clone(),
            base: format!("{aw}'d{base}"),
            uw,
            clr: bank_addr(base, &format!("clr_row_{k}"), l.raw, aw),
        });
        let sig = format!("{pre}_rdata");
        match kind {
            "s" => (l.s_sig, l.s_lw) = (sig, lw),
            "y" => (l.y_sig, l.y_lw) = (sig, lw),
            _ => (l.x_sig, l.x_lw) = (sig, lw),
        }
        // A fused layer's gathers go to the sum buffer, not into its state.
        if !plan.fused(k) {
            clients.extend(connect_clients(&pre, kind, base, lanes, lw, aw, l));
        }
    }
    let epoch = multi && plan.early_exit;
    // A masked design's memories never mix students (`hw::memory`): the members' student.
    let ep_student = plan.mask_students().filter(|_| epoch).and_then(|st| st.layer[g[0]]);
    debug_assert!(!epoch || plan.mask_students().is_none_or(|st| g.iter().all(|&k| st.layer[k] == st.layer[g[0]])));
    let ep = if ep_student.is_some() { format!("{pre}_ep") } else { "ep".into() };
    let (uraddr, uwaddr, uon) = if multi {
        (
            format!("{pre}_rbase + {}", bank_addr(0, &format!("{gp}u_raddr"), sh.rw, aw)),
            format!("{pre}_wbase + {}", bank_addr(0, &format!("{gp}u_wrow"), sh.rw, aw)),
            format!("{pre}_uon"),
        )
    } else {
        (
            bank_addr(0, &format!("{gp}u_raddr"), sh.rw, aw),
            bank_addr(0, &format!("{gp}u_wrow"), sh.rw, aw),
            format!("{}_u_on", members[0].pre),
        )
    };
    BankView {
        comment: list_label(g.iter().map(|&k| layers[k].name.as_str())),
        pre,
        kind: kind.into(),
        width: lanes * lw,
        lw,
        rows,
        aw,
        logic: bank.map == MemMap::Registers,
        multi,
        epoch,
        ep,
        ep_student,
        uraddr,
        uwaddr,
        uon,
        acc_r: clients.iter().map(|c| c.wdata.as_str()).collect::<Vec<_>>().join(" | "),
        members,
        clients,
        dshared: false,
        dsd: String::new(),
        dsw: String::new(),
        dnew: String::new(),
        gp,
        glw,
    }
}

/// A streamed plan's accumulate units share one adder and one sum register per state memory,
/// as its dense units share the popcounts (`dsh_*`): only one unit runs at a time, the beat
/// ahead of a beat is always the same unit's, and every reader of a state memory (the units'
/// current values, the update pass) takes the low bits of a lane at its layer's width
/// (`LayerView::u_state`). So the shared adder works at the memory's lane width: the lane's
/// stored value (or the sum ahead, forwarded) plus the active unit's addend, whose low bits at
/// the unit's width are what its own adder gave (addition modulo 2^w takes the low bits of a
/// wider one, and a wrapped addend has the low bits of the exact one). The bits above a
/// layer's width are then the wider sum's rather than its sign, and no reader sees them.
///
/// The units that share it: the shared popcounts' (their addend the shared row sum `dsh_rs`,
/// `dense_rs`'s lanes of its row-sum width, when the plan has that datapath), and the ones
/// [`crate::hw::dense::adds_in_bank`] names (the one-to-one dense units, their registered row
/// sums, and the event-driven units of layers that do not saturate, their `sf_acc_term`s),
/// which hand it their addends `<pre>_add`. Each addend is gated by its unit's stage-3 beat,
/// so the memory ORs them.
pub fn share_state_adders(
    plan: &Plan,
    banks: &mut [BankView],
    layers: &mut [LayerView],
    dense_rs: Option<(usize, usize)>,
) {
    use std::collections::BTreeSet;
    let (lanes, tw) = dense_rs.unwrap_or((0, 0));
    let dense: BTreeSet<String> = layers
        .iter()
        .flat_map(|l| &l.projs)
        .filter(|p| p.dense.as_ref().is_some_and(|d| d.shared_tw.is_some()))
        .map(|p| p.pre.clone())
        .collect();
    let own: BTreeSet<String> = (0..plan.layers.len())
        .flat_map(|k| (0..plan.layers[k].projections.len()).map(move |j| (k, j)))
        .filter(|&(k, j)| crate::hw::dense::adds_in_bank(plan, k, j))
        .map(|(k, j)| format!("l{k}p{j}"))
        .collect();
    let (mut adding, mut adders) = (BTreeSet::new(), BTreeSet::new());
    for b in banks.iter_mut() {
        for c in b.clients.iter_mut() {
            if dense.contains(&c.pre) {
                c.shared = true;
                adding.insert(c.pre.clone());
            } else if own.contains(&c.pre) {
                (c.shared, c.add) = (true, true);
                adders.insert(c.pre.clone());
            }
        }
        let beats = |add: bool| -> Vec<String> {
            b.clients.iter().filter(|c| c.shared && c.add == add).map(|c| format!("{}_s3w", c.pre)).collect()
        };
        let (dbeats, abeats) = (beats(false), beats(true));
        if dbeats.is_empty() && abeats.is_empty() {
            continue;
        }
        let lw = b.lw;
        let bl = b.width / lw;
        let pre = &b.pre;
        // Only the popcounts' units: their row sum alone, ungated (it is used in their beats only).
        let gate = !abeats.is_empty();
        let adds: Vec<(&str, usize, usize)> =
            b.clients.iter().filter(|c| c.add).map(|c| (c.pre.as_str(), c.lanes, c.w)).collect();
        let lane = |i: usize| {
            let old = format!("{pre}_dold[{} +: {lw}]", i * lw);
            let mut terms = vec![];
            if !dbeats.is_empty() && i < lanes {
                let rs = if tw >= lw {
                    format!("dsh_rs[{} +: {lw}]", i * tw)
                } else {
                    LayerView::sext("dsh_rs", i * tw, tw, lw)
                };
                terms.push(if gate { format!("({{{lw}{{{pre}_dsd}}}} & {rs})") } else { rs });
            }
            for &(c, lanes_k, w) in &adds {
                if i < lanes_k {
                    let t = LayerView::sext(&format!("{c}_add"), i * w, w, lw);
                    terms.push(format!("({{{lw}{{{c}_s3w}}}} & {t})"));
                }
            }
            match terms.len() {
                0 => old,
                1 => format!("({old} + {})", terms[0]),
                _ => format!("({old} + ({}))", terms.join(" | ")),
            }
        };
        b.dnew = format!("{{{}}}", (0..bl).rev().map(lane).collect::<Vec<_>>().join(", "));
        b.dsd = if gate { dbeats.join(" | ") } else { String::new() };
        b.dsw = dbeats.iter().chain(&abeats).cloned().collect::<Vec<_>>().join(" | ");
        b.dshared = true;
        let mut acc: Vec<&str> = b.clients.iter().filter(|c| !c.shared).map(|c| c.wdata.as_str()).collect();
        let dsum = format!("{pre}_dsum");
        acc.push(&dsum);
        b.acc_r = acc.join(" | ");
    }
    // Each such unit drops its own adder (a unit writing no state memory keeps it).
    for p in layers.iter_mut().flat_map(|l| l.projs.iter_mut()) {
        if let Some(d) = p.dense.as_mut().filter(|_| adding.contains(&p.pre)) {
            d.shared_add = true;
        }
        p.sadd = adders.contains(&p.pre);
    }
}

/// The accumulate units of layer `l` writing bank `pre` (rows from `base`, `lanes` of `lw`
/// bits); sets each unit's current row value.
fn connect_clients(
    pre: &str,
    kind: &str,
    base: usize,
    lanes: usize,
    lw: usize,
    aw: usize,
    l: &mut LayerView,
) -> Vec<ClientView> {
    let w = match kind {
        "s" => l.sw,
        "y" => l.yw,
        _ => l.vw,
    };
    let (lanes_k, raw) = (l.lanes, l.raw);
    let mut clients = vec![];
    for p in l.projs.iter_mut().filter(|p| p.target == kind) {
        let c = &p.pre;
        clients.push(ClientView {
            pre: c.clone(),
            raw,
            neww: lanes_k * w,
            raddr: bank_addr(base, &format!("{c}_rrow"), raw, aw),
            waddr: bank_addr(base, &format!("{c}_wrow"), raw, aw),
            wdata: bank_word(lanes, lanes_k, lw, |i| LayerView::sext(&format!("{c}_sum"), i * w, w, lw)),
            shared: false,
            add: false,
            lanes: lanes_k,
            w,
        });
        // The row's current value: the unit's own registered sum when the beat ahead wrote the
        // row (no OR of the bank's units on the adder's loop).
        let parts: Vec<String> = (0..lanes_k).rev().map(|i| format!("{pre}_old_m[{} +: {w}]", i * lw)).collect();
        p.old = format!("{pre}_fwd ? {c}_sum : {{{}}}", parts.join(", "));
    }
    clients
}

/// The event list memories (sequential and streamed schedules), in plan order. Streamed, a
/// layer's list holds every step: its step t at `t x rows` in the layer's region, which is
/// `rows x T` words (`hw::memory::steps_held`).
pub fn event_banks(plan: &Plan, layers: &[LayerView]) -> Vec<EvBankView> {
    let qw = (crate::hw::schedule::count_stages(plan) as usize).max(1);
    let held = crate::hw::memory::steps_held(plan);
    plan.banks
        .iter()
        .filter(|b| b.kind == "events")
        .enumerate()
        .map(|(gi, bank)| event_bank(gi, bank, layers, qw, held))
        .collect()
}

fn event_bank(gi: usize, bank: &Bank, layers: &[LayerView], qw: usize, held: usize) -> EvBankView {
    let g = &bank.layers;
    let pre = format!("eb{gi}");
    let width = g.iter().map(|&k| layers[k].ew).max().unwrap_or(1);
    let rows = bank.depth;
    debug_assert_eq!(bank.width, width);
    // A layer in tiles of lane groups lists every tile's rows (its view's `rows` are a
    // tile's), of the positions its list keeps.
    let whole = |l: &LayerView| l.lrows;
    debug_assert!(g.iter().zip(&bank.bases).all(|(&k, b)| b + whole(&layers[k]) * held <= rows));
    let aw = abits(rows);
    // Step t's entries of a layer of `n` rows (streamed): t x n further.
    let at_step = |addr: String, n: usize| {
        if held > 1 { super::common::StepBase::new(n, held).add(&addr, aw) } else { addr }
    };
    let mut members = vec![];
    let mut readers = vec![];
    for (&k, &base) in g.iter().zip(&bank.bases) {
        let l = &layers[k];
        let wdata = if l.ew == width {
            format!("{}_ev_wdata", l.pre)
        } else {
            format!("{{{}'d0, {}_ev_wdata}}", width - l.ew, l.pre)
        };
        let (n, raw) = (whole(l), abits(whole(l)));
        let (reach_decl, reach_and) = reach_terms(l, "");
        members.push(EvMemberView {
            pre: l.pre.clone(),
            raw,
            tiles: l.tiles,
            ew: l.ew,
            lanes: l.lanes,
            ecw: l.ecw,
            eyw: l.eyw,
            exw: l.exw,
            waddr: at_step(bank_addr(base, &format!("{}_ev_cnt[{}:0]", l.pre, raw - 1), raw, aw), n),
            wdata,
            counts: entry_counts(l, qw),
            reach_decl,
            reach_and,
        });
        for p in layers.iter().flat_map(|l2| l2.projs.iter()).filter(|p| p.src == l.pre && p.dense.is_none()) {
            readers.push((p.pre.clone(), at_step(bank_addr(base, &format!("{}_ev_raddr", p.pre), p.src_aw, aw), n)));
        }
    }
    EvBankView {
        pre,
        comment: list_label(g.iter().map(|&k| layers[k].name.as_str())),
        width,
        rows,
        aw,
        logic: bank.map == MemMap::Registers,
        members,
        readers,
    }
}

/// The streamed schedule's plane memories (`crate::hw::memory`'s plane banks): each member's
/// writes at its base plus its step's words, each dense reader's reads likewise.
pub fn plane_banks(plan: &Plan, layers: &[LayerView]) -> Result<Vec<PlaneBankView>, EmitError> {
    use crate::hw::dense::{Plane, plane_readers};
    let held = crate::hw::memory::steps_held(plan);
    let t = plan.timesteps.max(1);
    let tw = super::fused::step_tag_bits(plan);
    let mut out = vec![];
    for (gi, bank) in plan.banks.iter().filter(|b| b.kind == "plane").enumerate() {
        let aw = abits(bank.depth);
        // A plane a fused layer reads holds a position's T steps side by side in a word, at
        // its step-0 address; written a step's slice at a time (`hw::memory`'s plane shape).
        let wide = |k: usize| plane_readers(plan, k).into_iter().any(|r| plan.fused(r));
        let wide0 = wide(bank.layers[0]);
        let steps = if wide0 { t } else { 1 };
        if bank.layers.iter().any(|&k| wide(k) != wide0) {
            return Err(EmitError::Unsupported(format!(
                "plane memory of {}: planes of the steps side by side and of one step in one memory",
                list_label(bank.layers.iter().map(|&k| layers[k].name.as_str()))
            )));
        }
        let mut members = vec![];
        let mut readers = vec![];
        for (&k, &base) in bank.layers.iter().zip(&bank.bases) {
            let pl = Plane::of(&plan.layers[k]);
            let words = if steps > 1 { pl.depth() } else { pl.depth() * held };
            debug_assert!(base + words <= bank.depth);
            // The step the writer's row is at: the sequencer's, or a fused layer's row's own.
            let step = if plan.fused(k) { "fz_tw" } else { "t" };
            // `sig` (an address of step 0's words) at `step` (when the plane holds every step
            // at its own words), then from the plane's base.
            let at = |sig: String, write: bool| {
                let sw = abits(pl.depth());
                let ext = if aw > sw { format!("{{{}'d0, {sig}}}", aw - sw) } else { sig };
                let stepped = if steps > 1 || held <= 1 {
                    ext
                } else if write && plan.fused(k) {
                    let tag = if aw > tw { format!("{{{}'d0, fz_tw}}", aw - tw) } else { "fz_tw".to_string() };
                    format!("({ext} + {tag} * {aw}'d{})", pl.depth())
                } else {
                    super::common::StepBase::new(pl.depth(), held).add(&ext, aw)
                };
                if base == 0 { stepped } else { format!("({aw}'d{base} + {stepped})") }
            };
            let pre = layers[k].pre.clone();
            let (we, wd) = if steps > 1 {
                let g = steps * pl.m;
                (
                    format!("({{{}'d0, {pre}_pl_we}} << ({step} * {}))", g - pl.m, pl.m),
                    format!("{{{steps}{{{pre}_pl_wd}}}}"),
                )
            } else {
                (format!("{pre}_pl_we"), format!("{pre}_pl_wd"))
            };
            members.push(PlaneMemberView { pre, waddr: at(format!("l{k}_pl_wa"), true), we, wd });
            for r in plane_readers(plan, k) {
                readers.extend(
                    super::common::plane_units(plan, k, r)
                        .into_iter()
                        .map(|u| (u.clone(), at(format!("{u}_pa_b"), false))),
                );
            }
        }
        let m = Plane::of(&plan.layers[bank.layers[0]]).m;
        out.push(PlaneBankView {
            pre: format!("plb{gi}"),
            comment: list_label(bank.layers.iter().map(|&k| layers[k].name.as_str())),
            width: bank.width,
            m: m * steps,
            steps,
            rows: bank.depth,
            aw,
            logic: bank.map == MemMap::Registers,
            members,
            readers,
        });
    }
    Ok(out)
}

/// A list that keeps only some positions (`LayerView::reach`): the declarations of its y and
/// x tables, and the term its write enable ANDs in (the update pass's y and x, with the
/// datapath prefix `gp`); both empty when it keeps every position.
pub fn reach_terms(l: &LayerView, gp: &str) -> (String, String) {
    match &l.reach {
        Some((ry, rx)) => {
            let (ny, nx) = (1usize << l.eyw, 1usize << l.exw);
            let pre = &l.pre;
            (
                format!(
                    "\n    // Kept positions: only rows some event-mode reader can deliver to a target are listed.\n    localparam [{}:0] {pre}_EV_RY = {ry};\n    localparam [{}:0] {pre}_EV_RX = {rx};",
                    ny - 1,
                    nx - 1
                ),
                format!(" && {pre}_EV_RY[{gp}uy[{}:0]] && {pre}_EV_RX[{gp}ux[{}:0]]", l.eyw - 1, l.exw - 1),
            )
        }
        None => (String::new(), String::new()),
    }
}
