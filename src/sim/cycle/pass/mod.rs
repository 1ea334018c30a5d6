//! The fast path: several samples per pass, layer by layer and step by step.
//!
//! A pass keeps the state of up to `cap` samples side by side (sample-major per layer). Every
//! ACC phase runs its kernel once per sample; the update pass of a plain layer (not
//! saturating, not current-based) is one branch-free sweep over all the pass's samples. Each
//! sample reports every phase to its own [`Account`], as the general path
//! ([`Engine::sample`]) does; a sample that exits early leaves the pass while the others
//! continue (its state keeps being swept, and nothing reads it). The ACC phases are in
//! [`acc`], the update passes in [`update`].

use crate::data::InputBatch;
use crate::hw::{Layer, Plan};
use crate::quant::Source;

use super::account::Account;
use super::packed::planes_of_values;
use super::report::SampleResult;
use super::types::{Engine, Event, Scratch, events_of};
use super::word::Word;

mod acc;
mod update;

/// Most samples one pass runs together.
const MAX_PASS: usize = 64;
/// State bytes a pass aims to keep (about an L2 cache).
const PASS_BYTES: usize = 1 << 18;
/// Layers with fewer neurons are updated in one sweep over all the pass's samples.
pub(super) const SWEEP_SAMPLES_BELOW: usize = 64;

/// The widest vector instructions the fast path may use (it uses the widest the CPU has up
/// to this); the results do not depend on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Simd {
    /// AVX-512 with vector popcounts where present, else as [`Simd::Avx2`].
    Best,
    /// AVX2, BMI2 and POPCNT where present, else portable.
    Avx2,
    /// The build's baseline instruction set.
    Portable,
}

/// Samples per pass for `n` samples of `plan`: as many as keep the pass's state within
/// [`PASS_BYTES`], at most [`MAX_PASS`], and no more than leave every thread a pass.
pub(super) fn samples_per_pass(plan: &Plan, n: usize) -> usize {
    let per: usize = plan
        .layers
        .iter()
        .map(|l| l.neurons() * (8 * (1 + usize::from(l.has_static()) + usize::from(l.kind.cuba())) + 2))
        .sum::<usize>()
        .max(1);
    let threads = rayon::current_num_threads().max(1);
    (PASS_BYTES / per).clamp(1, MAX_PASS).min(n.div_ceil(threads)).max(1)
}

/// The largest pass (bytes of state, [`Pass::bytes`]) a thread keeps for its next run.
const SPARE_BYTES: usize = 1 << 22;

type Spare<T> = std::cell::RefCell<Option<Pass<T>>>;

thread_local! {
    /// The buffers of this thread's last pass of each word, kept for the next run of the
    /// same shape: for small networks, allocating them anew every run cost page faults (the
    /// allocator hands the freed top of the heap back to the system), about 30 per run of 128
    /// samples on mlp_bw_t4.
    static SPARE_WIDE: Spare<i64> = const { std::cell::RefCell::new(None) };
    static SPARE_NARROW: Spare<i32> = const { std::cell::RefCell::new(None) };
}

/// A state word with a thread's spare pass.
pub(super) trait PassWord: Word {
    fn spare() -> &'static std::thread::LocalKey<Spare<Self>>;
}

impl PassWord for i64 {
    fn spare() -> &'static std::thread::LocalKey<Spare<Self>> {
        &SPARE_WIDE
    }
}

impl PassWord for i32 {
    fn spare() -> &'static std::thread::LocalKey<Spare<Self>> {
        &SPARE_NARROW
    }
}

/// A pass's buffers on loan from the thread's spare (or new); given back when dropped.
pub(super) struct Lease<T: PassWord>(Option<Pass<T>>);

impl<T: PassWord> Lease<T> {
    pub(super) fn new(plan: &Plan, cap: usize) -> Lease<T> {
        let shape = Pass::<T>::shape_of(plan, cap);
        let spare = T::spare().with(|s| s.borrow_mut().take()).filter(|p| p.shape == shape);
        Lease(Some(spare.unwrap_or_else(|| Pass::new(plan, cap))))
    }

    pub(super) fn get(&mut self) -> &mut Pass<T> {
        self.0.as_mut().expect("a leased pass")
    }
}

impl<T: PassWord> Drop for Lease<T> {
    fn drop(&mut self) {
        if let Some(p) = self.0.take().filter(|p| p.bytes() <= SPARE_BYTES) {
            // A thread being torn down has no spare to keep.
            let _ = T::spare().try_with(|s| *s.borrow_mut() = Some(p));
        }
    }
}

/// A worker's buffers: its passes (narrow when the engine allows them, wide when it does not
/// or a narrow pass had to be run again; each leased on first use) and one account per
/// sample of a pass.
pub(in crate::sim::cycle) struct Worker<'e> {
    plan: &'e Plan,
    cap: usize,
    narrow: Option<Lease<i32>>,
    wide: Option<Lease<i64>>,
    accounts: Vec<Account<'e>>,
}

impl<'e> Worker<'e> {
    /// A worker for passes of up to `cap` samples of `steps` steps.
    pub(in crate::sim::cycle) fn new(eng: &'e Engine<'e>, cap: usize, steps: usize) -> Worker<'e> {
        let accounts = (0..cap).map(|_| Account::new(eng, steps)).collect();
        Worker { plan: eng.plan, cap, narrow: None, wide: None, accounts }
    }
}

/// The buffers of one pass (reused from pass to pass), state in words `T`.
pub(super) struct Pass<T> {
    /// What the buffers were sized for: the cap, then per layer its neurons and which of
    /// S and Y it has ([`Pass::shape_of`]).
    shape: Vec<usize>,
    cap: usize,
    /// Per layer, `cap` samples' X, S and Y (S and Y empty when the layer has none).
    x: Vec<Vec<T>>,
    s: Vec<Vec<T>>,
    y: Vec<Vec<T>>,
    /// Per layer, the fired flags (0/1) of its last update, `cap` samples.
    fired: Vec<Vec<u8>>,
    /// Per neuron, out-of-width values of the last plain update (scratch).
    ovf: Vec<u8>,
    /// Per sample, out-of-width values of the last plain update.
    ovf_s: Vec<u64>,
    /// Per layer and sample: events and event entries of its last update.
    spikes: Vec<Vec<u64>>,
    entries: Vec<Vec<u64>>,
    /// Per layer and sample: the events its list holds (the spikes at the positions it keeps,
    /// `Engine::kept`; every spike when it keeps all).
    listed: Vec<Vec<u64>>,
    /// Per layer and sample: the events of its last update, when a consumer reads a list.
    lists: Vec<Vec<Vec<Event>>>,
    /// Per sample: the current input events, and their bit planes and bits per magnitude
    /// when a binary dense projection reads them.
    in_ev: Vec<Vec<Event>>,
    in_planes: Vec<Vec<u64>>,
    in_nb: Vec<usize>,
    /// Per sample: the current quantised input values, and how many are non-zero.
    in_q: Vec<Vec<i64>>,
    in_n: Vec<u64>,
    /// The output of a general update (scratch).
    out: Vec<i64>,
    scratch: Scratch,
}

impl<T: Word> Pass<T> {
    pub(super) fn new(plan: &Plan, cap: usize) -> Pass<T> {
        let nl = plan.layers.len();
        let state = |on: fn(&Layer) -> bool| -> Vec<Vec<T>> {
            plan.layers.iter().map(|l| if on(l) { vec![T::default(); l.neurons() * cap] } else { vec![] }).collect()
        };
        let most = plan.layers.iter().map(|l| l.neurons()).max().unwrap_or(0);
        Pass {
            shape: Self::shape_of(plan, cap),
            cap,
            x: state(|_| true),
            s: state(|l| l.has_static()),
            y: state(|l| l.kind.cuba()),
            fired: plan.layers.iter().map(|l| vec![0; l.neurons() * cap]).collect(),
            ovf: vec![0; most * cap],
            ovf_s: vec![0; cap],
            spikes: vec![vec![0; cap]; nl],
            entries: vec![vec![0; cap]; nl],
            listed: vec![vec![0; cap]; nl],
            lists: vec![vec![vec![]; cap]; nl],
            in_ev: vec![vec![]; cap],
            in_planes: vec![vec![]; cap],
            in_nb: vec![0; cap],
            in_q: vec![vec![]; cap],
            in_n: vec![0; cap],
            out: vec![],
            scratch: Scratch::default(),
        }
    }

    fn shape_of(plan: &Plan, cap: usize) -> Vec<usize> {
        let mut v = vec![cap, plan.layers.len()];
        for l in &plan.layers {
            v.extend([l.neurons(), usize::from(l.has_static()), usize::from(l.kind.cuba())]);
        }
        v
    }

    /// Bytes of the per-neuron buffers.
    fn bytes(&self) -> usize {
        let words: usize = self.x.iter().chain(&self.s).chain(&self.y).map(Vec::len).sum();
        (T::BITS as usize / 8) * words + self.fired.iter().map(Vec::len).sum::<usize>() + self.ovf.len()
    }

    /// Ready for a new pass: zero state, no events.
    fn reset(&mut self) {
        for v in self.x.iter_mut().chain(self.s.iter_mut()).chain(self.y.iter_mut()) {
            v.fill(T::default());
        }
        self.fired.iter_mut().for_each(|f| f.fill(0));
        self.spikes.iter_mut().chain(self.entries.iter_mut()).chain(self.listed.iter_mut()).for_each(|v| v.fill(0));
        self.lists.iter_mut().flatten().for_each(Vec::clear);
    }
}

/// Sample `s`'s part of a per-layer buffer of `n` values per sample (empty stays empty).
#[inline(always)]
fn part<T>(v: &mut [T], s: usize, n: usize) -> &mut [T] {
    if v.is_empty() { v } else { &mut v[s * n..(s + 1) * n] }
}

impl Engine<'_> {
    /// Runs samples `first..first + nb` of `batch`: in a narrow pass when the engine allows
    /// it, else (or when the narrow pass saw an out-of-width value) in a wide one.
    pub(in crate::sim::cycle) fn run_pass(
        &self,
        w: &mut Worker,
        batch: &InputBatch,
        first: usize,
        nb: usize,
        steps: usize,
        simd: Simd,
    ) -> Vec<SampleResult> {
        let acs = &mut w.accounts[..nb];
        if self.narrow {
            let ps = w.narrow.get_or_insert_with(|| Lease::new(w.plan, w.cap)).get();
            if let Some(r) = self.pass(ps, acs, batch, first, steps, simd) {
                return r;
            }
        }
        let ps = w.wide.get_or_insert_with(|| Lease::new(w.plan, w.cap)).get();
        self.pass(ps, acs, batch, first, steps, simd).expect("a wide pass runs every kernel and every value")
    }

    /// Runs samples `first..first + acs.len()` of `batch` in one pass (each reported to its
    /// account), compiled for the widest vector extensions the CPU has up to `simd` (checked
    /// at run time; the integers are the same on every path). None when the pass is narrow
    /// and must be run wide (see [`super::word`]).
    fn pass<T: Word>(
        &self,
        ps: &mut Pass<T>,
        acs: &mut [Account],
        batch: &InputBatch,
        first: usize,
        steps: usize,
        simd: Simd,
    ) -> Option<Vec<SampleResult>> {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            let avx2 = has!("avx2") && has!("bmi2") && has!("popcnt");
            if simd == Simd::Best
                && avx2
                && has!("avx512f")
                && has!("avx512bw")
                && has!("avx512dq")
                && has!("avx512vl")
                && has!("avx512vpopcntdq")
            {
                // SAFETY: every feature the function is compiled for was detected above.
                return unsafe { self.pass_avx512(ps, acs, batch, first, steps) };
            }
            if simd != Simd::Portable && avx2 {
                // SAFETY: every feature the function is compiled for was detected above.
                return unsafe { self.pass_avx2(ps, acs, batch, first, steps) };
            }
        }
        self.pass_body(ps, acs, batch, first, steps)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,bmi2,popcnt")]
    fn pass_avx2<T: Word>(
        &self,
        ps: &mut Pass<T>,
        acs: &mut [Account],
        batch: &InputBatch,
        first: usize,
        steps: usize,
    ) -> Option<Vec<SampleResult>> {
        self.pass_body(ps, acs, batch, first, steps)
    }

    /// 512-bit vectors and vector popcounts (the packed kernels' AND-popcounts, the update
    /// sweeps).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,bmi2,popcnt,avx512f,avx512bw,avx512dq,avx512vl,avx512vpopcntdq")]
    fn pass_avx512<T: Word>(
        &self,
        ps: &mut Pass<T>,
        acs: &mut [Account],
        batch: &InputBatch,
        first: usize,
        steps: usize,
    ) -> Option<Vec<SampleResult>> {
        self.pass_body(ps, acs, batch, first, steps)
    }

    #[inline(always)]
    fn pass_body<T: Word>(
        &self,
        ps: &mut Pass<T>,
        acs: &mut [Account],
        batch: &InputBatch,
        first: usize,
        steps: usize,
    ) -> Option<Vec<SampleResult>> {
        if self.layer_major {
            return self.pass_body_layer_major(ps, acs, batch, first, steps);
        }
        let plan = self.plan;
        let nb = acs.len();
        assert!(nb <= ps.cap, "a pass holds at most {} samples", ps.cap);
        let steps = steps.min(plan.timesteps);
        ps.reset();
        acs.iter_mut().for_each(Account::reset);
        let mut active: Vec<usize> = (0..nb).collect();
        for t in 0..steps {
            if active.is_empty() {
                break;
            }
            if t == 0 || plan.input.per_step {
                for &s in &active {
                    self.load_input(ps, &mut acs[s], batch, first + s, s, t);
                }
            }
            for k in (0..plan.layers.len()).filter(|&k| self.runs(k)) {
                self.layer_step(k, t, t + 1 == steps, ps, acs, &active)?;
            }
            active.retain(|&s| !acs[s].out(t).1);
        }
        // A narrow pass's values equal the wide pass's only while every checked value stayed
        // within its width (see [`super::word`]).
        if T::BITS < 64 && acs.iter().any(|a| a.overflows() > 0) {
            return None;
        }
        Some(acs.iter().map(Account::result).collect())
    }

    /// Layer `k`'s step `t`: its projections' accumulate phases (static ones at step 0 only),
    /// then its update pass.
    #[inline(always)]
    fn layer_step<T: Word>(
        &self,
        k: usize,
        t: usize,
        last: bool,
        ps: &mut Pass<T>,
        acs: &mut [Account],
        active: &[usize],
    ) -> Option<()> {
        for pi in 0..self.plan.layers[k].projections.len() {
            if self.proj_runs(k, pi, t) {
                self.acc_phase(k, pi, t, ps, acs, active)?;
            }
        }
        self.update_pass(k, t, last, ps, acs, active)
    }

    /// [`Self::pass_body`] layer-major: layer k runs steps 0..T before layer k + 1 (the output
    /// layer's steps each followed by their OUT phase), each phase seeing its sources' buffers
    /// of the same step (kept per layer and step) and the input of that step. The caller has
    /// refused early exit and projections that read a previous step, so every phase reads
    /// exactly what it reads step-major.
    #[inline(always)]
    fn pass_body_layer_major<T: Word>(
        &self,
        ps: &mut Pass<T>,
        acs: &mut [Account],
        batch: &InputBatch,
        first: usize,
        steps: usize,
    ) -> Option<Vec<SampleResult>> {
        let plan = self.plan;
        let nb = acs.len();
        assert!(nb <= ps.cap, "a pass holds at most {} samples", ps.cap);
        let steps = steps.min(plan.timesteps);
        ps.reset();
        acs.iter_mut().for_each(Account::reset);
        let active: Vec<usize> = (0..nb).collect();
        // Per-step inputs are kept for every step; a direct input is loaded once and no phase
        // writes the input buffers, so it stays in place.
        let mut inputs: Vec<InputSnap> = vec![];
        for t in 0..steps {
            if t == 0 || plan.input.per_step {
                for &s in &active {
                    self.load_input(ps, &mut acs[s], batch, first + s, s, t);
                }
            }
            if plan.input.per_step {
                inputs.push(InputSnap::take(ps));
            }
        }
        // Per layer and step: the buffers its update left for its readers.
        let mut outs: Vec<Vec<LayerSnap>> = vec![Vec::with_capacity(steps); plan.layers.len()];
        for k in 0..plan.layers.len() {
            if !self.runs(k) {
                // Nothing reads a layer that does not run.
                outs[k] = (0..steps).map(|_| LayerSnap::take(ps, k)).collect();
                continue;
            }
            let projections = &plan.layers[k].projections;
            let reads_input = projections.iter().any(|p| p.source == Source::Input);
            let sources: Vec<usize> = projections
                .iter()
                .filter_map(|p| match p.source {
                    Source::Layer(j) => Some(j),
                    Source::Input => None,
                })
                .collect();
            for t in 0..steps {
                if let Some(i) = inputs.get(t).filter(|_| reads_input) {
                    i.put(ps);
                }
                for &j in &sources {
                    outs[j][t].put(ps, j);
                }
                self.layer_step(k, t, t + 1 == steps, ps, acs, &active)?;
                outs[k].push(LayerSnap::take(ps, k));
                // The output layer's step ends with its OUT phase.
                if k == plan.output.layer {
                    for &s in &active {
                        acs[s].out(t);
                    }
                }
            }
            // A layer in tiles runs them now that every step is known.
            for &s in &active {
                acs[s].layer_done(k);
            }
        }
        if T::BITS < 64 && acs.iter().any(|a| a.overflows() > 0) {
            return None;
        }
        Some(acs.iter().map(Account::result).collect())
    }

    /// Batch sample `i`'s input of step `t` into pass slot `s`: its values, and the event list
    /// and bit planes its readers take.
    #[inline(always)]
    fn load_input<T: Word>(
        &self,
        ps: &mut Pass<T>,
        acct: &mut Account,
        batch: &InputBatch,
        i: usize,
        s: usize,
        t: usize,
    ) {
        let plan = self.plan;
        ps.in_n[s] = self.input_values(batch, i, t, &mut ps.in_q[s]);
        if self.input_list {
            events_of(&ps.in_q[s], plan.input.shape, &mut ps.in_ev[s]);
        }
        if let Some(words) = self.input_planes {
            ps.in_nb[s] = planes_of_values(&ps.in_q[s], words, &mut ps.in_planes[s], &mut ps.scratch.bytes);
        }
        acct.load(t, &ps.in_q[s], ps.in_n[s]);
    }
}

/// A pass's input buffers of one step (layer-major runs).
struct InputSnap {
    ev: Vec<Vec<Event>>,
    planes: Vec<Vec<u64>>,
    nb: Vec<usize>,
    q: Vec<Vec<i64>>,
    n: Vec<u64>,
}

impl InputSnap {
    fn take<T>(ps: &Pass<T>) -> InputSnap {
        InputSnap {
            ev: ps.in_ev.clone(),
            planes: ps.in_planes.clone(),
            nb: ps.in_nb.clone(),
            q: ps.in_q.clone(),
            n: ps.in_n.clone(),
        }
    }

    fn put<T>(&self, ps: &mut Pass<T>) {
        ps.in_ev.clone_from(&self.ev);
        ps.in_planes.clone_from(&self.planes);
        ps.in_nb.clone_from(&self.nb);
        ps.in_q.clone_from(&self.q);
        ps.in_n.clone_from(&self.n);
    }
}

/// What a layer's update of one step leaves for its readers (layer-major runs).
#[derive(Clone)]
struct LayerSnap {
    fired: Vec<u8>,
    spikes: Vec<u64>,
    entries: Vec<u64>,
    listed: Vec<u64>,
    lists: Vec<Vec<Event>>,
}

impl LayerSnap {
    fn take<T>(ps: &Pass<T>, k: usize) -> LayerSnap {
        LayerSnap {
            fired: ps.fired[k].clone(),
            spikes: ps.spikes[k].clone(),
            entries: ps.entries[k].clone(),
            listed: ps.listed[k].clone(),
            lists: ps.lists[k].clone(),
        }
    }

    fn put<T>(&self, ps: &mut Pass<T>, k: usize) {
        ps.fired[k].clone_from(&self.fired);
        ps.spikes[k].clone_from(&self.spikes);
        ps.entries[k].clone_from(&self.entries);
        ps.listed[k].clone_from(&self.listed);
        ps.lists[k].clone_from(&self.lists);
    }
}
