//! The cycle-accurate engine: executes a hardware [`Plan`] in integers, bit-exact and
//! cycle-exact with the emitted RTL.
//!
//! Events are processed in the RTL's order (event entries in row order, lanes lowest first,
//! beats in the order of [`crate::hw::schedule`]). Every state write goes through the
//! layer's width: when a width cap makes the layer saturating, writes clamp and each clamp is
//! counted; otherwise range analysis guarantees no clamp happens and accumulation order does
//! not change the result, so binary dense projections use packed popcounts. Samples run in
//! parallel; each sample is sequential and deterministic.
//!
//! Two paths run a sample: the general path ([`general`], every event and neuron on its own;
//! [`run_traced`]) and the fast path ([`pass`], several samples per pass with packed kernels;
//! [`run`]), which give the same outputs and counters. Both prepare from one [`engine`] and
//! report every phase to one [`account`], which alone counts cycles and counters.
//!
//! Files by concern, imports one way: [`types`] holds what every file shares (the prepared
//! engine, events, scratch buffers; it imports only [`word`]) and [`report`] what a run
//! reports (counters, results; it imports none). No two files import each other:
//! `engine` (preparation), the paths and their kernels import the shared files, never the
//! reverse, and this file only drives the run.

use rayon::prelude::*;

use crate::data::{InputBatch, Outputs};
use crate::hw::Plan;
pub use crate::hw::schedule::OrderError;
use crate::hw::schedule::layer_major_order;

mod account;
mod engine;
mod general;
mod kernels;
mod packed;
mod pass;
mod report;
mod types;
mod word;

pub use account::decided;
pub use general::leak;
pub use pass::Simd;
pub use report::{
    BatchResult, Counters, INLINE_PROJECTIONS, LayerCounters, MemoryCommands, ProjCounts, SampleResult, Tracer,
};
use types::Engine;

/// Runs `steps` steps (at most the plan's T) on every sample.
pub fn run(plan: &Plan, batch: &InputBatch, steps: usize) -> BatchResult {
    run_passes(plan, batch, steps, pass::samples_per_pass(plan, batch.n))
}

/// [`run`] with up to `samples_per_pass` samples side by side in each pass (what [`run`]
/// chooses from the network's size); the results do not depend on it.
pub fn run_passes(plan: &Plan, batch: &InputBatch, steps: usize, samples_per_pass: usize) -> BatchResult {
    run_passes_simd(plan, batch, steps, samples_per_pass, Simd::Best)
}

/// [`run_passes`] on at most the instruction set `simd`.
pub fn run_passes_simd(
    plan: &Plan,
    batch: &InputBatch,
    steps: usize,
    samples_per_pass: usize,
    simd: Simd,
) -> BatchResult {
    let cap = samples_per_pass.max(1);
    run_engine(plan, Engine::new(plan, cap), batch, steps, cap, simd)
}

/// [`run`] with only the students `active` of the plan's ensemble running (one flag per
/// student, [`Plan::masked`]): an inactive student's layers run no phase, its projections into
/// shared layers deliver nothing, and the shared layers' constants lose its share. Every phase
/// that runs costs what it costs unmasked; a phase that does not run costs no cycle.
pub fn run_active(
    plan: &Plan,
    batch: &InputBatch,
    steps: usize,
    active: &[bool],
) -> Result<BatchResult, crate::quant::students::MaskError> {
    let (masked, act) = plan.masked(active)?;
    let cap = pass::samples_per_pass(&masked, batch.n).max(1);
    let eng = Engine::new(&masked, cap).masked(plan, act);
    Ok(run_engine(&masked, eng, batch, steps, cap, Simd::Best))
}

/// The input-adaptive cascade over the students `active` (one flag per student of the plan's
/// ensemble), with threshold `margin` (docs/hardware.md, "The cascade"): stage k runs the k-th
/// active student in [`Plan::cascade_order`] (its layers, every step), then the layers after every student
/// from step 0 with the first k active students' projections and shares (the plan under that
/// prefix mask, [`run_active`]), streaming the output, and a decision phase
/// ([`crate::hw::schedule::decide_cycles`]). The inference stops after the first stage whose
/// output's margin (the largest class count over every step less the runner-up's; the count
/// itself with one class) reaches `margin`, or after the last active student. Its `raw` is the
/// last stage's output, `stage_raw` the stages' before it.
///
/// Each student's layers see only the input, and the tail starts each stage from zero state
/// (the streamed update's last step clears every row), so stage k computes what the design
/// under the prefix mask computes: this composes the prefix runs, each student's layers
/// counted at its own stage, the tail and OUT at every stage, LOAD, START and DONE once.
/// `step_end_cycles` is not kept (empty). [`run`] and [`run_active`] of a plan with the cascade
/// (`Plan::cascade`) run its one stage with the cascade off: every active student, and the
/// decision.
pub fn run_cascade(
    plan: &Plan,
    batch: &InputBatch,
    steps: usize,
    active: &[bool],
    margin: u64,
) -> Result<BatchResult, crate::quant::students::MaskError> {
    use crate::quant::students::MaskError;
    if let Some(why) = plan.cascade_refusal() {
        return Err(MaskError::Unsupported(format!("--cascade: this plan's design cannot run the cascade: {why}")));
    }
    let st = plan.students.as_ref().ok_or(MaskError::NoEnsemble)?;
    crate::quant::students::Activity::of(st, active)?;
    let order: Vec<usize> = plan.cascade_order().into_iter().filter(|&s| active.get(s) == Some(&true)).collect();
    // The stages' runs without the decision (counted here, once per stage).
    let mut bare = plan.clone();
    bare.cascade = None;
    let plan = &bare;
    let mut prefix = vec![false; active.len()];
    let mut runs = Vec::with_capacity(order.len());
    for &s in &order {
        prefix[s] = true;
        runs.push(run_active(plan, batch, steps, &prefix)?);
    }
    let numel = plan.layers[plan.output.layer].neurons();
    let samples = (0..batch.n)
        .map(|i| {
            let first = &runs[0].samples[i].counters;
            let mut c = Counters {
                load_cycles: first.load_cycles,
                control_cycles: first.control_cycles,
                input_values: first.input_values,
                input_events: first.input_events,
                stall_cycles: first.stall_cycles,
                external: first.external,
                layers: vec![LayerCounters::default(); plan.layers.len()],
                ..Counters::default()
            };
            let mut stage_raw = vec![];
            let mut raw = vec![];
            for (k, run) in runs.iter().enumerate() {
                let r = &run.samples[i];
                debug_assert_eq!(
                    r.counters.cycles,
                    r.counters.load_cycles
                        + r.counters.out_cycles
                        + r.counters.control_cycles
                        + r.counters.stall_cycles
                        + r.counters.layers.iter().map(|l| l.cycles).sum::<u64>(),
                    "a streamed run's cycles are its phases'"
                );
                for (l, lc) in r.counters.layers.iter().enumerate() {
                    if st.layer[l].is_none_or(|s| s == order[k]) {
                        c.layers[l].add(lc);
                    }
                }
                c.out_cycles += r.counters.out_cycles;
                c.output_words += r.counters.output_words;
                c.steps_run += r.counters.steps_run;
                c.control_cycles += crate::hw::schedule::decide_cycles();
                if k + 1 == runs.len() || output_margin(&r.raw, numel) >= margin {
                    raw = r.raw.clone();
                    break;
                }
                stage_raw.push(r.raw.clone());
            }
            c.empty_acc_phases = c.layers.iter().map(|l| l.empty_acc_phases).sum();
            c.cycles = c.load_cycles
                + c.out_cycles
                + c.control_cycles
                + c.stall_cycles
                + c.layers.iter().map(|l| l.cycles).sum::<u64>();
            SampleResult { raw, counters: c, step_end_cycles: vec![], stage_raw }
        })
        .collect();
    Ok(batch_result(plan, samples, steps))
}

/// The cascade order of `plan`'s students chosen on `batch`, best first: greedily, the student
/// whose addition to those before it agrees with the full ensemble's class on the most inputs
/// (the design's own integers, [`run_active`]; ties to the lower index). It needs no labels:
/// the cascade approximates the full ensemble.
pub fn greedy_cascade_order(plan: &Plan, batch: &InputBatch) -> Result<Vec<usize>, crate::quant::students::MaskError> {
    let n = plan.students.as_ref().ok_or(crate::quant::students::MaskError::NoEnsemble)?.names.len();
    let full = run_active(plan, batch, plan.timesteps, &vec![true; n])?.outputs.classes();
    let mut chosen = vec![false; n];
    let mut order = vec![];
    while order.len() < n {
        let mut best: Option<(usize, usize)> = None;
        for s in (0..n).filter(|&s| !chosen[s]) {
            let mut m = chosen.clone();
            m[s] = true;
            let c = run_active(plan, batch, plan.timesteps, &m)?.outputs.classes();
            let agree = c.iter().zip(&full).filter(|(a, b)| a == b).count();
            if best.is_none_or(|(_, a)| agree > a) {
                best = Some((s, agree));
            }
        }
        let (s, _) = best.expect("a student is left");
        chosen[s] = true;
        order.push(s);
    }
    Ok(order)
}

/// The cascade's margin of one stage's output `raw` (steps x `numel` spike counts): the
/// largest class count over the steps less the runner-up's (the count itself with one class).
pub fn output_margin(raw: &[i64], numel: usize) -> u64 {
    let mut counts = vec![0i64; numel];
    for (j, &v) in raw.iter().enumerate() {
        counts[j % numel] += v;
    }
    counts.sort_unstable_by(|a, b| b.cmp(a));
    let best = counts.first().copied().unwrap_or(0);
    let second = counts.get(1).copied().unwrap_or(0);
    (best - second).max(0) as u64
}

/// [`run_traced`] under a student mask ([`run_active`]).
pub fn run_traced_active(
    plan: &Plan,
    batch: &InputBatch,
    sample: usize,
    steps: usize,
    active: &[bool],
    tracer: &mut dyn Tracer,
) -> Result<SampleResult, crate::quant::students::MaskError> {
    let (masked, act) = plan.masked(active)?;
    let eng = Engine::new(&masked, 1).masked(plan, act);
    Ok(eng.sample(&mut general::SampleState::new(&masked), batch, sample, steps, tracer))
}

/// [`run`] in layer-major order: each layer runs every step before the next layer starts (the
/// order of the streamed schedule, docs/streaming.md), through the same kernels, so its outputs
/// and counters equal [`run`]'s. The cycles are `plan`'s own schedule's: a sequential plan
/// counts the sequential schedule's sums, a streamed plan (which [`run`] already runs
/// layer-major) its own.
///
/// Err when the order would change what the plan computes ([`layer_major_order`]): early exit,
/// or a projection that reads the previous step.
pub fn run_layer_major(plan: &Plan, batch: &InputBatch, steps: usize) -> Result<BatchResult, OrderError> {
    layer_major_order(plan)?;
    let cap = pass::samples_per_pass(plan, batch.n).max(1);
    let mut eng = Engine::new(plan, cap);
    eng.layer_major = true;
    Ok(run_engine(plan, eng, batch, steps, cap, Simd::Best))
}

/// [`run_traced`] in layer-major order (see [`run_layer_major`]).
pub fn run_traced_layer_major(
    plan: &Plan,
    batch: &InputBatch,
    sample: usize,
    steps: usize,
    tracer: &mut dyn Tracer,
) -> Result<SampleResult, OrderError> {
    layer_major_order(plan)?;
    let mut eng = Engine::new(plan, 1);
    eng.layer_major = true;
    Ok(eng.sample(&mut general::SampleState::new(plan), batch, sample, steps, tracer))
}

fn run_engine(plan: &Plan, eng: Engine<'_>, batch: &InputBatch, steps: usize, cap: usize, simd: Simd) -> BatchResult {
    // Passes of up to `cap` samples run in parallel; each worker reuses one pass's buffers.
    let starts: Vec<usize> = (0..batch.n).step_by(cap).collect();
    let parts: Vec<Vec<SampleResult>> = starts
        .into_par_iter()
        .map_init(
            || pass::Worker::new(&eng, cap, steps),
            |w, first| eng.run_pass(w, batch, first, cap.min(batch.n - first), steps, simd),
        )
        .collect();
    let mut samples: Vec<SampleResult> = Vec::with_capacity(batch.n);
    for p in parts {
        samples.extend(p);
    }
    batch_result(plan, samples, steps)
}

/// The batch of `samples` (one per input, in order): their outputs as the reference engine
/// reports them and the sum of their counters.
fn batch_result(plan: &Plan, samples: Vec<SampleResult>, steps: usize) -> BatchResult {
    let n = samples.len();
    let mut total = Counters::default();
    for s in &samples {
        total.add(&s.counters);
    }
    let out_layer = &plan.layers[plan.output.layer];
    let numel = out_layer.neurons();
    let mut data = Vec::with_capacity(n * steps * numel);
    for s in &samples {
        if plan.output.spikes {
            data.extend(s.raw.iter().map(|&v| v as f64));
        } else {
            data.extend(s.raw.iter().enumerate().map(|(j, &v)| v as f64 * at_f(&out_layer.unit, j % numel)));
        }
        // Steps after an early exit are zero.
        data.resize(data.len() + steps * numel - s.raw.len(), 0.0);
    }
    let outputs = Outputs { n, steps, numel, shape: out_shape(plan), spikes: plan.output.spikes, data };
    BatchResult { samples, outputs, total }
}

/// True when the fast path keeps `plan`'s state in i32 words (half the memory, twice the
/// vector lanes of i64), rerunning a pass in i64 if a value leaves its width; the results
/// are the same either way.
pub fn narrow_state(plan: &Plan) -> bool {
    Engine::new(plan, 1).narrow
}

/// Runs one sample with a tracer attached, on the general path: every event scattered in
/// the RTL's order, every neuron updated on its own (the fast path is checked against it).
pub fn run_traced(
    plan: &Plan,
    batch: &InputBatch,
    sample: usize,
    steps: usize,
    tracer: &mut dyn Tracer,
) -> SampleResult {
    Engine::new(plan, 1).sample(&mut general::SampleState::new(plan), batch, sample, steps, tracer)
}

fn out_shape(plan: &Plan) -> Vec<usize> {
    let s = plan.layers[plan.output.layer].shape;
    if s[1] * s[2] == 1 { vec![s[0]] } else { s.to_vec() }
}

fn at_f(v: &[f64], i: usize) -> f64 {
    if v.len() == 1 { v[0] } else { v[i] }
}
