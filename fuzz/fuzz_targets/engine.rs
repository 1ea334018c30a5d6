//! The cycle engine against itself: its fast path (several samples per pass, packed and
//! column kernels, vector widths) and its general path (every event scattered in the RTL's
//! order) must give the same outputs, step ends and counters on any plan, as
//! tests/cycle_engine.rs checks on the corpus. Co-simulation compares the RTL with the fast
//! path, so a difference here is a wrong spike or cycle count on one side or the other.
//!
//! Input: the option bytes and JSON text of the `pipeline` target (`common::options`), then
//! inputs drawn in the calibration range from a generator seeded by the text's length and
//! the options.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spikefab::data::{Encoding, InputBatch};
use spikefab::hw::dense::{self, Mode};
use spikefab::sim::cycle::{self, Simd, Tracer};

mod common;

struct Quiet;

impl Tracer for Quiet {
    fn neuron(&mut self, _: u64, _: usize, _: usize, _: i64, _: bool) {}
    fn step(&mut self, _: u64, _: usize) {}
}

/// Three samples in the options' input range, about half of the values zero (events are
/// the non-zero values).
fn batch(o: &spikefab::hw::PlanOptions, numel: usize, seed: u64) -> InputBatch {
    let s = o.input_stats.expect("options give stats");
    let steps = if s.per_step { o.timesteps } else { 1 };
    let n = 3;
    let mut x = seed | 1;
    let data = (0..n * steps * numel)
        .map(|_| {
            // xorshift64*
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            let r = x.wrapping_mul(0x2545_f491_4f6c_dd1d);
            if r & 1 == 0 {
                return 0.0;
            }
            let u = (r >> 11) as f64 / (1u64 << 53) as f64;
            let v = s.min + (s.max - s.min) * u;
            if s.integers { v.round() } else { v }
        })
        .collect();
    let encoding = if s.per_step { Encoding::PerStep(steps) } else { Encoding::Direct };
    InputBatch { n, numel, encoding, data }
}

fuzz_target!(|data: &[u8]| {
    let Some((o, plan, seed)) = common::planned(data) else { return };
    let b = batch(&o, plan.input.numel(), seed);
    let steps = o.timesteps;
    let general: Vec<cycle::SampleResult> =
        (0..b.n).map(|i| cycle::run_traced(&plan, &b, i, steps, &mut Quiet)).collect();
    for (per_pass, simd) in [(1usize, Simd::Best), (2, Simd::Best), (3, Simd::Portable)] {
        let fast = cycle::run_passes_simd(&plan, &b, steps, per_pass, simd);
        assert_eq!(fast.samples.len(), b.n);
        for (i, (s, g)) in fast.samples.iter().zip(&general).enumerate() {
            let ctx = format!("{per_pass} per pass {simd:?}, sample {i}, {:?}", plan.schedule);
            assert_eq!(s.raw, g.raw, "{ctx}: outputs");
            assert_eq!(s.step_end_cycles, g.step_end_cycles, "{ctx}: step ends");
            assert_eq!(s.counters, g.counters, "{ctx}: counters");
        }
    }
    // A dense plan gives every output of its event-driven layout (docs/hardware.md 4c): the
    // plan against its other mode, whichever bit 7 of the options asked for, wherever a
    // projection can gather densely.
    let dense_now = plan.layers.iter().any(|l| l.modes.contains(&Mode::Dense));
    let other = if dense_now {
        plan.layers.iter().map(|l| vec![Mode::Event; l.modes.len()]).collect()
    } else {
        dense::all_dense(&plan)
    };
    if dense_now || other.iter().flatten().any(|m| *m == Mode::Dense) {
        let p = plan.with_modes(&other, &o.target).expect("every projection asked is eligible");
        for (i, g) in general.iter().enumerate() {
            let e = cycle::run_traced(&p, &b, i, steps, &mut Quiet);
            assert_eq!(e.raw, g.raw, "sample {i}: dense and event outputs");
        }
    }
});
