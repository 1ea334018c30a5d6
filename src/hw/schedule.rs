//! The schedules and their cycle formulas, shared by the cycle engine, the RTL and the docs.
//!
//! Under the sequential [`Schedule`] one inference runs layers in sequence, step by step (the
//! pipelined one runs the same phases on concurrent units, see [`Pipe`]):
//!
//! ```text
//! start
//! LOAD                      direct input: once;  per-step input: at the start of every step
//! for t in 0..T:
//!   for each layer (plan order):
//!     for each projection:  ACC  (static projections only at t = 0)
//!     UPD                   the update pass over every row
//!   OUT                     the output layer's rows, one word per row
//!   [early exit check]
//! done
//! ```
//!
//! Phase durations in cycles (ready/valid partners always ready), each followed by the
//! sequencer's GAP cycle (it registers the phase's end before starting the next):
//!
//! ```text
//! LOAD = n_in + LOAD_EXTRA
//! ACC  = ACC_EMPTY                              when the source has no events
//!      = ACC_HEAD + sum of the events' beats + ACC_TAIL   otherwise
//!      = DENSE_HEAD + rows * words per row + DENSE_TAIL   a dense projection, always
//! UPD  = UPD_HEAD + rows + UPD_TAIL
//! OUT  = OUT_HEAD + rows_out + OUT_TAIL
//! EXIT = EXIT_CHECK;  CLEAR = max rows
//! total = START + sum of (phase + GAP) + DONE
//! ```
//!
//! The streamed [`Schedule`] runs layer-major (docs/streaming.md): each layer runs every step
//! before the next layer starts, so no early exit and no projection that reads a previous
//! step ([`layer_major_order`]):
//!
//! ```text
//! start
//! LOAD                      direct input: once;  per-step input: every step's, in turn
//! for each layer (plan order):
//!   for t in 0..T:
//!     for each event-mode projection:  ACC  (static projections only at t = 0)
//!   for each dense projection:  ACC_T      one phase for all T steps
//!   UPD_T                                  every row, its T steps in turn
//! OUT_T                     the output layer's rows of every step
//! done
//!
//! ACC_T = DENSE_HEAD + rows * words per row * T + DENSE_TAIL
//! UPD_T = UPD_HEAD + rows * T + UPD_TAIL
//! OUT_T = OUT_HEAD + rows_out * T + OUT_TAIL
//! ```
//!
//! An event-mode phase costs what it costs in the sequential schedule. A dense phase reads
//! each weight word once for the T steps (the sequential schedule reads it every step).
//!
//! An event's beats ([`beats_at`]): Dense `ncg`; Conv `ny(y)*nx(x)*ncg`, the kernel taps
//! that reach a target from the event's position ([`super::taps`]: the window clipped at the
//! borders, at most `kh*kw`); Pool `ceil(kh/sh)*ceil(kw/sw)`; OneToOne 1; a pre-pooling stage
//! multiplies by its candidate windows.

use super::{Layer, Plan};
use crate::quant::{ProjKind, Projection, Source};

pub use crate::target::Schedule;

/// Cycles from the cycle after `start` is sampled to the first phase.
pub const START: u64 = 0;
/// The `done` cycle after the last phase.
pub const DONE: u64 = 1;
/// Extra cycles of a LOAD phase beyond one per input value.
pub const LOAD_EXTRA: u64 = 0;
/// An ACC phase whose source has no events.
pub const ACC_EMPTY: u64 = 1;
/// ACC pipeline fill: the first event entry is read, then captured.
pub const ACC_HEAD: u64 = 2;
/// ACC pipeline drain: the last beat's event is registered, its coordinates are registered,
/// its read data arrives and is registered, and its sum is written back.
pub const ACC_TAIL: u64 = 4;
/// Dense ACC fill (docs/hardware.md 4c): the first plane and weight words are read, then
/// registered.
pub const DENSE_HEAD: u64 = 2;
/// Dense ACC drain: the last word's nibble popcounts, their sums in pairs, the total, the
/// row's accumulation (the state row read), the row sum registered, added and written back.
pub const DENSE_TAIL: u64 = 7;
/// UPD pipeline fill: the first row is read.
pub const UPD_HEAD: u64 = 1;
/// UPD pipeline drain: the neuron lanes' stages (hdl/sf_neuron.v) between a row's read data
/// and its write.
pub const UPD_TAIL: u64 = 12;
/// OUT fill.
pub const OUT_HEAD: u64 = 1;
/// OUT drain.
pub const OUT_TAIL: u64 = 0;
/// Cycles of the early-exit decision after OUT (when enabled).
pub const EXIT_CHECK: u64 = 1;
/// The cycle after every phase in which the sequencer, having registered the phase's end,
/// starts the next one (the end of a phase never reaches the sequencer's state through logic).
pub const GAP: u64 = 1;

/// The most beats an event of `p` costs in layer `l` (every event's, but for a convolution,
/// whose events cost [`beats_at`] by position).
pub fn beats_per_event(l: &Layer, p: &Projection) -> u64 {
    beats_range(l, p).1
}

/// The fewest and the most beats an event of `p` costs in layer `l`.
pub fn beats_range(l: &Layer, p: &Projection) -> (u64, u64) {
    match super::taps::conv_taps(l, p) {
        Some(t) => {
            let [y, x] = t.axes.map(|a| a.range);
            let per = l.ncg as u64 * pre_candidates(p);
            ((y.0 * x.0) as u64 * per, (y.1 * x.1) as u64 * per)
        }
        None => (uniform_beats(l, p), uniform_beats(l, p)),
    }
}

/// The pre-pooling stage's candidate windows per event (1 without one).
fn pre_candidates(p: &Projection) -> u64 {
    p.pre_pool.as_ref().map_or(1, |g| {
        let c = g.candidates();
        (c[0] * c[1]) as u64
    })
}

/// Per source position (y * W + x), the beats of an event there, when they differ between
/// positions (a convolution whose window is clipped); None when every event costs
/// [`beats_per_event`].
pub fn beats_at(l: &Layer, p: &Projection) -> Option<Vec<u32>> {
    let t = super::taps::conv_taps(l, p)?;
    if t.axes.iter().all(|a| a.range.0 == a.range.1) {
        return None;
    }
    let (ny, nx) = (t.axes[0].counts(), t.axes[1].counts());
    let per = l.ncg as u64 * pre_candidates(p);
    Some(
        ny.iter()
            .flat_map(|&a| nx.iter().map(move |&b| u32::try_from(a as u64 * b as u64 * per).unwrap_or(u32::MAX)))
            .collect(),
    )
}

/// Beats of an event of a projection that is not a clipped convolution.
fn uniform_beats(l: &Layer, p: &Projection) -> u64 {
    let inner = match &p.kind {
        ProjKind::Dense { .. } => l.ncg as u64,
        ProjKind::Conv { kh, kw, .. } => (kh * kw * l.ncg) as u64,
        ProjKind::Pool(g) => {
            let c = g.candidates();
            (c[0] * c[1]) as u64
        }
        ProjKind::OneToOne => 1,
    };
    inner * pre_candidates(p)
}

/// Duration of an ACC phase with `events` source events that take `beats` beats in all.
#[inline]
pub fn acc_cycles(events: u64, beats: u64) -> u64 {
    GAP + if events == 0 { ACC_EMPTY } else { ACC_HEAD + beats + ACC_TAIL }
}

/// The summed duration of `phases` ACC phases of a projection, of which `empty` had no
/// events and the rest `beats` beats in all: the sum of [`acc_cycles`] over the phases.
#[inline]
pub fn acc_cycles_total(phases: u64, empty: u64, beats: u64) -> u64 {
    phases * GAP + empty * ACC_EMPTY + (phases - empty) * (ACC_HEAD + ACC_TAIL) + beats
}

/// Duration of a dense ACC phase into `rows` rows of `words` words each (every phase the
/// same, whatever the spikes).
#[inline]
pub fn dense_acc_cycles(rows: usize, words: usize) -> u64 {
    GAP + DENSE_HEAD + (rows * words) as u64 + DENSE_TAIL
}

/// The stages of the neuron lanes' count divider: as many as the widest count of a multi-spike
/// layer (a restoring division, one quotient bit per stage), 0 when every layer spikes once.
pub fn count_stages(plan: &Plan) -> u64 {
    plan.layers.iter().filter(|l| l.multi).map(|l| u64::from(l.count_bits)).max().unwrap_or(0)
}

/// The neuron lanes' stages between a row's read data and its write: [`UPD_TAIL`] plus the
/// count divider's ([`count_stages`]).
pub fn upd_tail(plan: &Plan) -> u64 {
    UPD_TAIL + count_stages(plan)
}

/// Duration of an UPD phase of layer `l` of `plan`.
pub fn upd_cycles(plan: &Plan, l: &Layer) -> u64 {
    UPD_HEAD + l.rows as u64 + upd_tail(plan) + GAP
}

/// Duration of one tile's update pass of layer `l` (a streamed plan's layer in tiles,
/// [`Layer::tiles`]): [`upd_cycles`] over the tile's rows.
pub fn tile_upd_cycles(plan: &Plan, l: &Layer) -> u64 {
    UPD_HEAD + l.tile_rows() as u64 + upd_tail(plan) + GAP
}

/// Rows of a fused layer ([`Plan::fused`]) whose updates are in flight at once: a block. Its
/// rows' T sums wait in the sum buffer while the block's T update passes run, step after step,
/// so that a row's state written at step t is read back at step t + 1 no sooner than
/// [`fuse_loop`] cycles later.
pub const FUSE_BLOCK: usize = 16;

/// Cycles from a block's last pair entering the gather to its last row's T sums formed: the
/// dense unit's stages (`DENSE_HEAD + DENSE_TAIL`); the T sums are then written into the sum
/// buffer one a cycle.
pub const FUSE_SUMS: u64 = DENSE_HEAD + DENSE_TAIL;

/// The fewest cycles between the read of a row's state at one step and its read at the next:
/// the read, the neuron lanes' stages and the write ([`upd_tail`]), the cycle a state memory
/// with a registered write port (one the accumulate units write too) lands it, and the cycle
/// after it (the memory reads first).
pub fn fuse_loop(plan: &Plan) -> u64 {
    UPD_HEAD + upd_tail(plan) + 2
}

/// Rows of a fused layer's state memories: one block of its tile (the rows in flight).
pub fn fuse_rows(l: &Layer) -> usize {
    l.tile_rows().min(FUSE_BLOCK)
}

/// One tile of a fused layer ([`Plan::fused`]): the T steps of a row side by side, every
/// projection a gather (docs/streaming.md section 3). From the phase's go, in blocks of
/// [`FUSE_BLOCK`] rows (the last may be short), `n_b` rows each, `W` the words a row gathers
/// over all its projections:
///
/// ```text
/// gather b:  from gs_b = max(gs_{b-1} + n_{b-1} R, ue_{b-2})   n_b R cycles, R = max(W, T): a
///            row's W (plane, weight) word pairs one a cycle, each weight word against the T
///            steps' plane words at once, and at least T cycles, as its T sums go into the sum
///            buffer one a cycle; the buffer has two halves, so block b waits for b - 2's updates
/// sums of b: ready at gs_b + n_b R + FUSE_SUMS + T
/// update b:  from us_b = max(ready_b, ue_{b-1}), T passes over the block's rows, step after
///            step, each max(n_b, fuse_loop) cycles: ue_b = us_b + T max(n_b, fuse_loop)
/// FUSE = us_last + (T - 1) max(n_last, fuse_loop) + n_last + UPD_HEAD + upd_tail + GAP
///            the last row's read and write (as an UPD phase's), then the sequencer's GAP
/// ```
///
/// Row i of block b is read at step t in cycle `us_b + t max(n_b, fuse_loop) + i`. Calls
/// `block(b, us_b, pass)` for each block (its update's start and one pass's cycles) and returns
/// the phase's cycles, GAP included. With `W >= T` and full blocks the gather sets the pace:
/// about `rows x W` cycles for all T steps, T times fewer than the one-step-a-beat streamed
/// phases' `rows x W x T`; below, the sums' writes and the update passes do (`rows x T`).
pub fn fused_cycles(plan: &Plan, rows: usize, words: usize, steps: usize, block: impl FnMut(usize, u64, u64)) -> u64 {
    fused_cycles_at(upd_tail(plan), rows, words, steps, block)
}

/// [`fused_cycles`] with the neuron lanes' stages `tail` ([`upd_tail`]).
fn fused_cycles_at(tail: u64, rows: usize, words: usize, steps: usize, mut block: impl FnMut(usize, u64, u64)) -> u64 {
    let (lp, t) = (UPD_HEAD + tail + 2, steps as u64);
    let w = (words as u64).max(t);
    // Gather starts, and update ends, of the blocks so far (the last two of each).
    let (mut gather_free, mut ue) = (0u64, [0u64; 2]);
    let mut end = 0;
    for (b, start) in (0..rows).step_by(FUSE_BLOCK).enumerate() {
        let n = (rows - start).min(FUSE_BLOCK) as u64;
        let gs = gather_free.max(if b >= 2 { ue[b % 2] } else { 0 });
        gather_free = gs + n * w;
        let ready = gs + n * w + FUSE_SUMS + t;
        let us = ready.max(if b >= 1 { ue[(b + 1) % 2] } else { 0 });
        let pass = n.max(lp);
        block(b, us, pass);
        ue[b % 2] = us + t * pass;
        // The last pass ends with its last row's read (a short block's last pass is not
        // padded to the loop: nothing reads its rows again).
        end = us + t.saturating_sub(1) * pass + n;
    }
    end + UPD_HEAD + tail + GAP
}

/// Duration of a LOAD phase.
pub fn load_cycles(plan: &Plan) -> u64 {
    plan.input.numel() as u64 + LOAD_EXTRA + GAP
}

/// Duration of an OUT phase.
pub fn out_cycles(plan: &Plan) -> u64 {
    OUT_HEAD + plan.layers[plan.output.layer].rows as u64 + OUT_TAIL + GAP
}

/// Duration of the early-exit decision (when enabled, after every OUT but the last step's).
pub fn exit_cycles() -> u64 {
    EXIT_CHECK + GAP
}

/// Cycles of the cascade's decision after each stage's tail (docs/hardware.md, "The
/// cascade"): the margin of the output's counts against the threshold, one cycle, and GAP.
pub const DECIDE: u64 = 1;

/// Duration of the cascade's decision.
pub fn decide_cycles() -> u64 {
    DECIDE + GAP
}

/// Duration of the clear after an early exit: the largest layer's rows.
pub fn clear_cycles(plan: &Plan) -> u64 {
    plan.layers.iter().map(|l| l.rows as u64).max().unwrap_or(0) + GAP
}

/// Why a plan cannot run layer-major (the streamed schedule, or
/// `sim::cycle::run_layer_major`): the order would change what it computes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    /// Early exit decides after a step has ended in every layer.
    #[error("early exit needs every layer to end a step before the next step starts")]
    EarlyExit,
    /// The layer reads its source's previous step (a recurrence or a delayed projection).
    #[error("layer '{0}' reads the previous step of its source")]
    ReadsPreviousStep(String),
}

/// Ok when `plan` computes the same running layer-major as step-major: no early exit, and every
/// projection reads an earlier layer (or the input) at the same step. A projection from the
/// same or a later layer, or a delayed one, reads the previous step, which layer-major order
/// has overwritten.
pub fn layer_major_order(plan: &Plan) -> Result<(), OrderError> {
    if plan.early_exit {
        return Err(OrderError::EarlyExit);
    }
    for (k, l) in plan.layers.iter().enumerate() {
        for p in &l.projections {
            let backward = matches!(p.source, Source::Layer(s) if s >= k);
            if p.delayed || backward {
                return Err(OrderError::ReadsPreviousStep(l.name.clone()));
            }
        }
    }
    Ok(())
}

/// The dependencies of the pipelined schedule, from a plan.
///
/// Units: unit 0 loads the input, unit `k + 1` is layer k, the last unit streams the output.
/// Each runs its program of phases once per step with a sequencer of its own: LOAD (once for
/// a direct input); the layer's ACC phases (static ones at step 0 only) and its UPD; OUT.
/// A phase starts when the phase before it on its unit has ended and every unit it waits for
/// has ended the step it needs (each unit's step counter, registered):
///
/// ```text
/// go = max(end of the unit's previous phase, end of every awaited step + 2)
/// ACC of k from unit s at step t (delay d: a recurrent edge)   awaits s's step t - d
/// UPD of k at step t (overwrites the event list half of step t - 2)
///                     awaits each other consumer c's step t - 2 + d (c has read it)
/// LOAD at step t      awaits each consumer's step t - 2
/// OUT at step t       awaits the output layer's step t
/// ```
///
/// An ACC phase reading a direct input awaits nothing: it follows the input's list while the
/// load writes it, its reader waiting for entries not yet written ([`Clock::acc_follow`]).
///
/// (A sequencer checks the next phase's condition, registered a cycle after the awaited
/// counters change, as the phase before ends: when it holds, the next phase goes in the usual
/// GAP cycle; else it goes the cycle after the registered condition holds.)
/// Event lists, per-step input events and the output rows are double-buffered by step
/// parity, one copy per consuming unit, so no two units share a memory port. The first
/// phase of every unit goes no earlier than cycle 2 (the counters are reset in cycle 0 and the
/// conditions registered from them in cycle 1), and `done` is the cycle after the last unit's
/// end ([`PIPE_DONE`] counts both).
#[derive(Clone, Debug)]
pub struct Pipe {
    steps: usize,
    per_step: bool,
    out_layer: usize,
    /// Per layer, per projection: the unit it waits for and the delay (None: itself, or a
    /// direct input's load, which it follows).
    acc: Vec<Vec<Option<(usize, usize)>>>,
    /// Per layer, per projection: it reads a direct input ([`Clock::acc_follow`]).
    follow: Vec<Vec<bool>>,
    /// Per layer: the other units consuming its events (or output rows), with their delays.
    consumers: Vec<Vec<(usize, usize)>>,
    /// Units reading the input events.
    input_consumers: Vec<usize>,
}

/// When the reader of a direct input's list, following the load that writes it
/// (hdl/sf_events_follow.v), could take its last event at the earliest, counted from the load's
/// go: `values` are the input values the load takes one per cycle, `events` the non-zero ones,
/// `beats(pos)` the beats of the event of the value at position `pos`.
///
/// The value at position j is accepted in cycle j of the load and its entry counted a cycle
/// later; the reader sees the count a cycle after that (`avail`, registered), so entry i is
/// readable from cycle `pos_i + 2` and its event presented two cycles after its read. The
/// load's end reaches the reader with its last entry (`wdone`, cycle `n_in + 1`). The events
/// from entry i on take `B_i` beats, so the last one ends no earlier than
/// `pos_i + 2 + 2 + B_i - 1` for every entry i; when the load ends later than that, the
/// reader ends the list in the cycle it sees `wdone`.
pub fn follow_late(values: &[i64], beats: impl Fn(usize) -> u64) -> u64 {
    let mut rest = 0;
    values.iter().enumerate().rev().filter(|(_, v)| **v != 0).fold(values.len() as u64 + 1, |late, (pos, _)| {
        rest += beats(pos);
        late.max(pos as u64 + 3 + rest)
    })
}

/// Cycles after the last unit's end: the cycle in which every unit is idle (the top sequencer
/// sees it and enters its done state) and the `done` cycle.
pub const PIPE_DONE: u64 = 2;

impl Pipe {
    /// The dependencies of `plan`'s units.
    pub fn new(plan: &Plan) -> Pipe {
        let nl = plan.layers.len();
        let mut consumers: Vec<Vec<(usize, usize)>> = vec![vec![]; nl];
        let mut input_consumers = vec![];
        let mut acc = vec![];
        let mut follow = vec![];
        for (k, l) in plan.layers.iter().enumerate() {
            follow.push(l.projections.iter().map(|p| p.source == Source::Input && !plan.input.per_step).collect());
            let mut a = vec![];
            for p in &l.projections {
                let d = usize::from(p.delayed);
                match p.source {
                    Source::Layer(s) if s == k => a.push(None),
                    Source::Layer(s) => {
                        if !consumers[s].contains(&(k + 1, d)) {
                            consumers[s].push((k + 1, d));
                        }
                        a.push(Some((s + 1, d)));
                    }
                    Source::Input => {
                        if !input_consumers.contains(&(k + 1)) {
                            input_consumers.push(k + 1);
                        }
                        // A direct input's readers follow its load (Clock::acc_follow).
                        a.push(plan.input.per_step.then_some((0, d)));
                    }
                }
            }
            acc.push(a);
        }
        consumers[plan.output.layer].push((nl + 1, 0));
        Pipe {
            steps: plan.timesteps,
            per_step: plan.input.per_step,
            out_layer: plan.output.layer,
            acc,
            follow,
            consumers,
            input_consumers,
        }
    }

    /// Units: the input load, one per layer, the output.
    pub fn units(&self) -> usize {
        self.acc.len() + 2
    }

    /// Projection `j` of layer `k` follows the input's load ([`Clock::acc_follow`]).
    pub fn follows(&self, k: usize, j: usize) -> bool {
        self.follow[k][j]
    }
}

/// One inference's clock under the pipelined schedule: each unit's next free cycle and the
/// end of each of its steps. Phases are given in the sequential program's order (step by
/// step, layers in plan order, OUT last), which visits every phase after the phases it
/// awaits.
#[derive(Clone, Debug)]
pub struct Clock<'p> {
    p: &'p Pipe,
    steps: usize,
    /// Per unit: the cycle its next phase could go in, without waiting.
    ready: Vec<u64>,
    /// Per unit and step: the cycle after the step's last phase ended (its step counter
    /// shows the step from then on).
    ends: Vec<u64>,
    /// The go cycle of the (first) input load.
    load_go: u64,
    /// Cycles units spent waiting for another unit.
    pub stalls: u64,
}

impl<'p> Clock<'p> {
    /// A clock at the inference's start.
    pub fn new(p: &'p Pipe) -> Clock<'p> {
        let mut c = Clock {
            p,
            steps: p.steps,
            ready: vec![0; p.units()],
            ends: vec![0; p.units() * p.steps],
            load_go: 0,
            stalls: 0,
        };
        c.reset();
        c
    }

    /// Back to the inference's start.
    pub fn reset(&mut self) {
        self.ready.fill(2);
        self.stalls = 0;
    }

    /// Projection `j` of layer `k` follows the input's load ([`Clock::acc_follow`]).
    pub fn follows(&self, k: usize, j: usize) -> bool {
        self.p.follows(k, j)
    }

    fn end(&self, unit: usize, t: usize) -> u64 {
        self.ends[unit * self.steps + t]
    }

    /// Runs a phase of `dur` cycles on `unit` once the awaited step ended at `wait` (0: none);
    /// returns its go cycle.
    fn phase(&mut self, unit: usize, wait: u64, dur: u64) -> u64 {
        let r = self.ready[unit];
        let go = if wait > 0 { r.max(wait + 2) } else { r };
        self.stalls += go - r;
        self.ready[unit] = go + dur;
        go
    }

    fn step_end(&mut self, unit: usize, t: usize) {
        let r = self.ready[unit];
        self.ends[unit * self.steps + t] = r;
    }

    /// The input load of step `t` (per-step input), or the one load (t = 0) of a direct input.
    pub fn load(&mut self, t: usize, dur: u64) {
        let p = self.p;
        let wait = if t >= 2 { p.input_consumers.iter().map(|&c| self.end(c, t - 2)).max().unwrap_or(0) } else { 0 };
        let go = self.phase(0, wait, dur);
        if t == 0 {
            self.load_go = go;
        }
        if p.per_step {
            self.step_end(0, t);
        } else {
            for s in 0..self.steps {
                self.step_end(0, s);
            }
        }
    }

    /// ACC of projection `j` into layer `k` at step `t`.
    pub fn acc(&mut self, k: usize, j: usize, t: usize, dur: u64) {
        let p = self.p;
        debug_assert!(!p.follow[k][j], "a projection that follows the load goes through acc_follow");
        let wait = match p.acc[k][j] {
            Some((u, d)) if t >= d => self.end(u, t - d),
            _ => 0,
        };
        self.phase(k + 1, wait, dur);
    }

    /// ACC of projection `j` into layer `k` (at any step) from a direct input, whose reader
    /// follows the load ([`follow_late`] of the input gives `late`): it goes without waiting
    /// and takes [`acc_cycles`] unless it waits for entries or for the load's end, which
    /// count as stalls. With no event it ends at once once the load has ended (ACC_EMPTY),
    /// else in the cycle the reader sees the load end. `beats`: the events' beats in all.
    pub fn acc_follow(&mut self, k: usize, j: usize, events: u64, beats: u64, late: u64) {
        debug_assert!(self.p.follow[k][j]);
        let (u, late) = (k + 1, self.load_go + late);
        let go = self.ready[u];
        let nominal = acc_cycles(events, beats);
        let dur = if events == 0 && late <= go {
            nominal
        } else {
            // The cycle the list's end (last event or `wdone`) is taken, then the tail.
            (go + 1 + beats).max(late) + 1 + ACC_TAIL + GAP - go
        };
        self.stalls += dur - nominal;
        self.ready[u] = go + dur;
    }

    /// UPD of layer `k` at step `t`, its step's end; returns its go cycle.
    pub fn upd(&mut self, k: usize, t: usize, dur: u64) -> u64 {
        let p = self.p;
        let wait = p.consumers[k]
            .iter()
            .filter(|&&(_, d)| t + d >= 2)
            .map(|&(c, d)| self.end(c, t + d - 2))
            .max()
            .unwrap_or(0);
        let go = self.phase(k + 1, wait, dur);
        self.step_end(k + 1, t);
        go
    }

    /// OUT of step `t`; returns its end.
    pub fn out(&mut self, t: usize, dur: u64) -> u64 {
        let p = self.p;
        let u = p.acc.len() + 1;
        let wait = self.end(p.out_layer + 1, t);
        self.phase(u, wait, dur);
        self.step_end(u, t);
        self.ready[u]
    }

    /// Cycles of the inference, the `done` cycle included.
    pub fn total(&self) -> u64 {
        self.ready.iter().copied().max().unwrap_or(0) + PIPE_DONE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One layer fed by a per-step input, T = 3, worked out by hand: LOAD 5, ACC 10, UPD 7
    /// and OUT 3 cycles (GAP included). The load of step 2 waits for the layer's step 0 (the
    /// half it overwrites), the layer's last UPD for OUT's step 0, every OUT for its step.
    #[test]
    fn pipelined_clock_by_hand() {
        let p = Pipe {
            steps: 3,
            per_step: true,
            out_layer: 0,
            acc: vec![vec![Some((0, 0))]],
            follow: vec![vec![false]],
            consumers: vec![vec![(2, 0)]],
            input_consumers: vec![1],
        };
        let mut c = Clock::new(&p);
        let mut ends = vec![];
        for t in 0..3 {
            c.load(t, 5);
            c.acc(0, 0, t, 10);
            c.upd(0, t, 7);
            ends.push(c.out(t, 3));
        }
        assert_eq!(ends, [31, 48, 65]);
        assert_eq!((c.end(0, 2), c.end(1, 2)), (33, 60));
        assert_eq!(c.total(), 67);
        assert_eq!(c.stalls, 7 + 26 + 14 + 16 + 14);
        c.reset();
        c.load(0, 5);
        assert_eq!(c.ready[0], 7, "reset starts units at cycle 2 again");
    }

    /// A layer reading a direct input of 4 values while it loads (LOAD 5 cycles from cycle 2),
    /// by hand: one event of 3 beats at position 1 is readable from cycle 2 + 1 + 2 = 5, shown
    /// from 7, its last beat in 9, so the phase (go 2) ends at 9 + 1 + ACC_TAIL + GAP = 15, 3
    /// cycles after the ACC formula's 12. With no event, the reader sees the load's end in
    /// cycle 2 + 4 + 1 = 7 and ends there; a phase that starts after that ends at once.
    #[test]
    fn follow_by_hand() {
        let p = Pipe {
            steps: 1,
            per_step: false,
            out_layer: 0,
            acc: vec![vec![None]],
            follow: vec![vec![true]],
            consumers: vec![vec![(2, 0)]],
            input_consumers: vec![1],
        };
        let three = |_| 3;
        assert_eq!(follow_late(&[0, 5, 0, 0], three), 7);
        assert_eq!(follow_late(&[0, 0, 0, 0], three), 5);
        assert_eq!(follow_late(&[5, 5, 5, 5], three), 3 + 4 * 3, "back to back from the first entry");
        // Beats by position: the entry at 3 (1 beat) alone ends at 3 + 3 + 1 = 7; from the
        // entry at 0 (9 beats) the rest take 10, so 0 + 3 + 10 = 13.
        assert_eq!(follow_late(&[5, 0, 0, 5], |pos| if pos == 0 { 9 } else { 1 }), 13);
        let mut c = Clock::new(&p);
        c.load(0, 5);
        c.acc_follow(0, 0, 1, 3, 7);
        assert_eq!((c.ready[1], c.stalls), (15, 3));
        c.reset();
        c.load(0, 5);
        c.acc_follow(0, 0, 0, 0, 5);
        assert_eq!(c.ready[1], 2 + (7 + 1 + ACC_TAIL + GAP - 2));
        c.acc_follow(0, 0, 0, 0, 5);
        assert_eq!(c.ready[1], 13 + GAP + ACC_EMPTY, "the load has ended: empty at go");
    }

    /// A fused tile of 40 rows (blocks of 16, 16 and 8), T = 4, the neuron lanes' 12 stages
    /// (a row's next read 15 cycles after its read at the earliest), worked by hand. Gathering
    /// 9 words a row: block 0 gathers in 0..144, its sums ready at 144 + 9 + 4 = 157, its 4
    /// passes of 16 cycles end at 221; block 1 gathers in 144..288, ready 301, ends 365; block
    /// 2 (8 rows) gathers in 288..360 (block 0's half long free), ready 373, after block 1's
    /// updates ended, its passes 15 cycles each (the loop, not its 8 rows), its last row read at
    /// 373 + 3 x 15 + 7 = 425; the last write and GAP: 426 + 1 + 12 + 1 = 440. One word a row: a
    /// row still takes T = 4 cycles (its sums' writes) and the updates set the pace; block 2
    /// waits for block 0's half (gathers from 141) and for block 1's updates (from 205).
    #[test]
    fn fused_clock_by_hand() {
        let mut blocks = vec![];
        assert_eq!(fused_cycles_at(12, 40, 9, 4, |b, us, pass| blocks.push((b, us, pass))), 440);
        assert_eq!(blocks, [(0, 157, 16), (1, 301, 16), (2, 373, 15)]);
        blocks.clear();
        assert_eq!(fused_cycles_at(12, 40, 1, 4, |b, us, pass| blocks.push((b, us, pass))), 272);
        assert_eq!(blocks, [(0, 77, 16), (1, 141, 16), (2, 205, 15)]);
        assert_eq!(fused_cycles_at(12, 0, 9, 4, |_, _, _| panic!("no block")), UPD_HEAD + 12 + GAP);
    }

    #[test]
    fn acc_cycles_total_is_the_sum_over_phases() {
        for bpe in [1u64, 5, 64] {
            for events in [[0u64, 0, 0].as_slice(), &[3, 0, 7, 1], &[2], &[0], &[]] {
                let sum: u64 = events.iter().map(|&e| acc_cycles(e, e * bpe)).sum();
                let empty = events.iter().filter(|&&e| e == 0).count() as u64;
                let total = acc_cycles_total(events.len() as u64, empty, bpe * events.iter().sum::<u64>());
                assert_eq!(total, sum, "bpe {bpe} events {events:?}");
            }
        }
    }
}
