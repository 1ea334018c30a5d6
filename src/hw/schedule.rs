//! The schedule and its cycle formula, shared by the cycle engine, the RTL and the docs.
//!
//! One inference runs layers in sequence, step by step (no pipelining across layers):
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
//!      = ACC_HEAD + events * beats_per_event + ACC_TAIL   otherwise
//! UPD  = UPD_HEAD + rows + UPD_TAIL
//! OUT  = OUT_HEAD + rows_out + OUT_TAIL
//! EXIT = EXIT_CHECK;  CLEAR = max rows
//! total = START + sum of (phase + GAP) + DONE
//! ```
//!
//! beats_per_event: Dense `ncg`; Conv `kh*kw*ncg`; Pool `ceil(kh/sh)*ceil(kw/sw)`;
//! OneToOne 1; a pre-pooling stage multiplies by its candidate windows.

use super::{Layer, Plan};
use crate::quant::{ProjKind, Projection};

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

/// Beats an event of `p` costs in layer `l`.
pub fn beats_per_event(l: &Layer, p: &Projection) -> u64 {
    let inner = match &p.kind {
        ProjKind::Dense { .. } => l.ncg as u64,
        ProjKind::Conv { kh, kw, .. } => (kh * kw * l.ncg) as u64,
        ProjKind::Pool(g) => {
            let c = g.candidates();
            (c[0] * c[1]) as u64
        }
        ProjKind::OneToOne => 1,
    };
    let pre = p.pre_pool.as_ref().map_or(1, |g| {
        let c = g.candidates();
        (c[0] * c[1]) as u64
    });
    inner * pre
}

/// Duration of an ACC phase with `events` source events.
pub fn acc_cycles(l: &Layer, p: &Projection, events: u64) -> u64 {
    acc_cycles_of(beats_per_event(l, p), events)
}

/// [`acc_cycles`] from the projection's [`beats_per_event`].
#[inline]
pub fn acc_cycles_of(beats_per_event: u64, events: u64) -> u64 {
    GAP + if events == 0 { ACC_EMPTY } else { ACC_HEAD + events * beats_per_event + ACC_TAIL }
}

/// The summed duration of `phases` ACC phases of a projection with `beats_per_event`, of
/// which `empty` had no events and the rest `events` in all: the sum of [`acc_cycles_of`]
/// over the phases.
#[inline]
pub fn acc_cycles_total(beats_per_event: u64, phases: u64, empty: u64, events: u64) -> u64 {
    phases * GAP + empty * ACC_EMPTY + (phases - empty) * (ACC_HEAD + ACC_TAIL) + events * beats_per_event
}

/// Duration of an UPD phase.
pub fn upd_cycles(l: &Layer) -> u64 {
    UPD_HEAD + l.rows as u64 + UPD_TAIL + GAP
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

/// Duration of the clear after an early exit: the largest layer's rows.
pub fn clear_cycles(plan: &Plan) -> u64 {
    plan.layers.iter().map(|l| l.rows as u64).max().unwrap_or(0) + GAP
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acc_cycles_total_is_the_sum_over_phases() {
        for bpe in [1u64, 5, 64] {
            for events in [[0u64, 0, 0].as_slice(), &[3, 0, 7, 1], &[2], &[0], &[]] {
                let sum: u64 = events.iter().map(|&e| acc_cycles_of(bpe, e)).sum();
                let empty = events.iter().filter(|&&e| e == 0).count() as u64;
                let total = acc_cycles_total(bpe, events.len() as u64, empty, events.iter().sum());
                assert_eq!(total, sum, "bpe {bpe} events {events:?}");
            }
        }
    }
}
