//! The fast path: several samples per pass, layer by layer and step by step.
//!
//! A pass keeps the state of up to `cap` samples side by side (sample-major per layer). Every
//! ACC phase runs its kernel once per sample; the update pass of a plain layer (not
//! saturating, not current-based) is one branch-free sweep over all the pass's samples. Each
//! sample keeps its own cycles, counters and outputs, derived from its event counts exactly
//! as on the general path ([`Engine::sample`]); a sample that exits early leaves the pass
//! while the others continue (its state keeps being swept, and nothing reads it).

use super::*;

/// Most samples one pass runs together.
const MAX_PASS: usize = 64;
/// State bytes a pass aims to keep (about an L2 cache).
const PASS_BYTES: usize = 1 << 18;
/// Layers with fewer neurons are updated in one sweep over all the pass's samples.
pub(super) const SWEEP_SAMPLES_BELOW: usize = 64;
/// A binary convolution whose source has fewer than 1/EVENT_DENSITY of its neurons spiking
/// runs event by event, else packed (the packed kernel was faster on the ResNet-18-like model
/// at 10% activity already).
const EVENT_DENSITY: u64 = 20;

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

/// A worker's passes: narrow when the engine allows them, wide when it does not or a narrow
/// pass had to be run again; each leased on first use.
pub(super) struct Leases<'a> {
    plan: &'a Plan,
    cap: usize,
    narrow: Option<Lease<i32>>,
    wide: Option<Lease<i64>>,
}

impl<'a> Leases<'a> {
    pub(super) fn new(plan: &'a Plan, cap: usize) -> Leases<'a> {
        Leases { plan, cap, narrow: None, wide: None }
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
    /// The pass's per-sample tallies.
    book: Book,
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
            lists: vec![vec![vec![]; cap]; nl],
            in_ev: vec![vec![]; cap],
            in_planes: vec![vec![]; cap],
            in_nb: vec![0; cap],
            in_q: vec![vec![]; cap],
            in_n: vec![0; cap],
            out: vec![],
            scratch: Scratch::default(),
            book: Book::default(),
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
        self.spikes.iter_mut().chain(self.entries.iter_mut()).for_each(|v| v.fill(0));
        self.lists.iter_mut().flatten().for_each(Vec::clear);
    }
}

/// Per-sample tallies of a pass: what varies from sample to sample. Every counter of
/// [`Counters`] is derived from them at the end ([`Engine::result_of`]); the rest follows
/// from the steps each sample ran.
#[derive(Default)]
struct Book {
    /// Projections over all layers (global index [`Engine::proj_base`] + projection).
    np: usize,
    nl: usize,
    /// Steps of the pass and neurons of the output layer (the `raw` and `step_end` strides).
    steps: usize,
    out_n: usize,
    /// Per sample: cycles from start, control cycles, steps run, input events.
    cyc: Vec<u64>,
    ctrl: Vec<u64>,
    steps_run: Vec<u64>,
    input_events: Vec<u64>,
    /// Per sample and projection: [`P_EVENTS`], [`P_EMPTY`], [`P_SYN`], [`P_STATE`], [`P_BEATS`].
    proj: Vec<[u64; 5]>,
    /// Per sample and layer: [`L_SPIKES`], [`L_WRITES`], [`L_READS`], [`L_OVF`], [`L_SAT`].
    lay: Vec<[u64; 5]>,
    /// Per sample and step: the output row (`out_n` values) and the cycle the step ended.
    raw: Vec<i64>,
    step_end: Vec<u64>,
    /// Per sample: output spikes so far per neuron (early exit).
    counts: Vec<i64>,
    /// Pipelined schedule only (else empty): per sample, step and projection, the events of
    /// the ACC phase and their beats, from which the units' clock is replayed at the end of
    /// the pass (then `cyc` holds the total and `stalls` the units' waits).
    phase_events: Vec<(u64, u64)>,
    /// Pipelined schedule only: per sample and projection that follows a direct input's load,
    /// its [`schedule::follow_late`].
    follow_late: Vec<u64>,
    stalls: Vec<u64>,
    /// The step the pass is in.
    t: usize,
}

/// Events delivered, ACC phases without events, synaptic operations, state row accesses
/// (reads, equal to writes) and beats of a projection's ACC phases.
const P_EVENTS: usize = 0;
const P_EMPTY: usize = 1;
const P_SYN: usize = 2;
const P_STATE: usize = 3;
const P_BEATS: usize = 4;
/// Spikes, event entries written, event entries read by consumers, out-of-width values and
/// saturated writes of a layer.
const L_SPIKES: usize = 0;
const L_WRITES: usize = 1;
const L_READS: usize = 2;
const L_OVF: usize = 3;
const L_SAT: usize = 4;

impl Book {
    /// Ready for a pass of `nb` samples.
    fn reset(&mut self, nb: usize, np: usize, nl: usize, steps: usize, out_n: usize) {
        (self.np, self.nl, self.steps, self.out_n) = (np, nl, steps, out_n);
        let fill = |v: &mut Vec<u64>, len: usize, x: u64| {
            v.clear();
            v.resize(len, x);
        };
        fill(&mut self.cyc, nb, schedule::START);
        fill(&mut self.ctrl, nb, schedule::START);
        fill(&mut self.steps_run, nb, 0);
        fill(&mut self.input_events, nb, 0);
        fill(&mut self.step_end, nb * steps, 0);
        self.proj.clear();
        self.proj.resize(nb * np, [0; 5]);
        self.lay.clear();
        self.lay.resize(nb * nl, [0; 5]);
        self.raw.clear();
        self.raw.resize(nb * steps * out_n, 0);
        self.counts.clear();
        self.counts.resize(nb * out_n, 0);
        self.phase_events.clear();
        self.follow_late.clear();
        self.stalls.clear();
        self.t = 0;
    }

    /// Sample `s`'s output row of step `t`.
    #[inline(always)]
    fn row(&mut self, s: usize, t: usize) -> &mut [i64] {
        let at = (s * self.steps + t) * self.out_n;
        &mut self.raw[at..at + self.out_n]
    }
}

/// Sample `s`'s part of a per-layer buffer of `n` values per sample (empty stays empty).
#[inline(always)]
fn part<T>(v: &mut [T], s: usize, n: usize) -> &mut [T] {
    if v.is_empty() { v } else { &mut v[s * n..(s + 1) * n] }
}

/// A dense kernel that reads a layer's fired flags ([`Engine::acc_phase`]).
#[derive(Clone, Copy)]
enum FromFlags<'a> {
    /// Binary weights: sign bit rows of `words` words.
    Bits(&'a [u64], usize),
    /// Weight columns, one per source neuron.
    Cols(&'a [i32]),
}

/// Packs 0/1 flags into a bitset (bit j = flag j).
#[inline(always)]
fn pack_flags(f: &[u8], bits: &mut Vec<u64>) {
    bits.clear();
    bits.extend(f.chunks(64).map(flags_mask));
}

/// Sum of 0/1 (or small) byte flags.
#[inline(always)]
fn flag_sum(f: &[u8]) -> u64 {
    // Bytes summed in u16 lanes of 255-byte blocks never overflow.
    f.chunks(255).map(|c| c.iter().map(|&v| u16::from(v)).sum::<u16>() as u64).sum()
}

impl Engine<'_> {
    /// Runs samples `first..first + nb` of `batch`: in a narrow pass when the engine allows
    /// it, else (or when the narrow pass saw an out-of-width value) in a wide one.
    pub(super) fn run_pass(
        &self,
        ls: &mut Leases,
        batch: &InputBatch,
        first: usize,
        nb: usize,
        steps: usize,
        simd: Simd,
    ) -> Vec<SampleResult> {
        if self.narrow {
            let ps = ls.narrow.get_or_insert_with(|| Lease::new(ls.plan, ls.cap)).get();
            if let Some(r) = self.pass(ps, batch, first, nb, steps, simd) {
                return r;
            }
        }
        let ps = ls.wide.get_or_insert_with(|| Lease::new(ls.plan, ls.cap)).get();
        self.pass(ps, batch, first, nb, steps, simd).expect("a wide pass runs every kernel and every value")
    }

    /// Runs samples `first..first + nb` of `batch` in one pass, compiled for the widest vector
    /// extensions the CPU has up to `simd` (checked at run time; the integers are the same on
    /// every path). None when the pass is narrow and must be run wide (see [`word`]).
    fn pass<T: Word>(
        &self,
        ps: &mut Pass<T>,
        batch: &InputBatch,
        first: usize,
        nb: usize,
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
                return unsafe { self.pass_avx512(ps, batch, first, nb, steps) };
            }
            if simd != Simd::Portable && avx2 {
                // SAFETY: every feature the function is compiled for was detected above.
                return unsafe { self.pass_avx2(ps, batch, first, nb, steps) };
            }
        }
        self.pass_body(ps, batch, first, nb, steps)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,bmi2,popcnt")]
    fn pass_avx2<T: Word>(
        &self,
        ps: &mut Pass<T>,
        batch: &InputBatch,
        first: usize,
        nb: usize,
        steps: usize,
    ) -> Option<Vec<SampleResult>> {
        self.pass_body(ps, batch, first, nb, steps)
    }

    /// 512-bit vectors and vector popcounts (the packed kernels' AND-popcounts, the update
    /// sweeps).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,bmi2,popcnt,avx512f,avx512bw,avx512dq,avx512vl,avx512vpopcntdq")]
    fn pass_avx512<T: Word>(
        &self,
        ps: &mut Pass<T>,
        batch: &InputBatch,
        first: usize,
        nb: usize,
        steps: usize,
    ) -> Option<Vec<SampleResult>> {
        self.pass_body(ps, batch, first, nb, steps)
    }

    #[inline(always)]
    fn pass_body<T: Word>(
        &self,
        ps: &mut Pass<T>,
        batch: &InputBatch,
        first: usize,
        nb: usize,
        steps: usize,
    ) -> Option<Vec<SampleResult>> {
        let plan = self.plan;
        assert!(nb <= ps.cap, "a pass holds at most {} samples", ps.cap);
        let steps = steps.min(plan.timesteps);
        ps.reset();
        let out_l = plan.output.layer;
        let out_n = plan.layers[out_l].neurons();
        ps.book.reset(nb, self.nproj, plan.layers.len(), steps, out_n);
        if self.pipe.is_some() {
            ps.book.phase_events.resize(nb * steps * self.nproj, (0, 0));
            ps.book.follow_late.resize(nb * self.nproj, 0);
        }
        let mut active: Vec<usize> = (0..nb).collect();
        let clear = schedule::clear_cycles(plan);
        for t in 0..steps {
            if active.is_empty() {
                break;
            }
            ps.book.t = t;
            if t == 0 || plan.input.per_step {
                let c = schedule::load_cycles(plan);
                for &s in &active {
                    ps.in_n[s] = self.input_values(batch, first + s, t, &mut ps.in_q[s]);
                    if self.input_list {
                        events_of(&ps.in_q[s], plan.input.shape, &mut ps.in_ev[s]);
                    }
                    if let Some(words) = self.input_planes {
                        ps.in_nb[s] = planes_of_values(&ps.in_q[s], words, &mut ps.in_planes[s], &mut ps.scratch.bytes);
                    }
                    ps.book.cyc[s] += c;
                    ps.book.input_events[s] += ps.in_n[s];
                    if let Some(pipe) = &self.pipe {
                        for (k, l) in plan.layers.iter().enumerate() {
                            for pi in (0..l.projections.len()).filter(|&pi| pipe.follows(k, pi)) {
                                let late = schedule::follow_late(&ps.in_q[s], |q| self.input_beats(k, pi, q));
                                ps.book.follow_late[s * self.nproj + self.proj_base[k] + pi] = late;
                            }
                        }
                    }
                }
            }
            let last = t + 1 == steps;
            for k in 0..plan.layers.len() {
                for (pi, p) in plan.layers[k].projections.iter().enumerate() {
                    if p.target == AccTarget::Static && t > 0 {
                        continue;
                    }
                    self.acc_phase(k, pi, ps, &active)?;
                }
                self.update_pass(k, t, last, ps, nb, &active)?;
            }
            let oc = schedule::out_cycles(plan);
            let bk = &mut ps.book;
            active.retain(|&s| {
                bk.cyc[s] += oc;
                bk.steps_run[s] += 1;
                if plan.early_exit && !last {
                    bk.cyc[s] += schedule::exit_cycles();
                    bk.ctrl[s] += schedule::exit_cycles();
                    let at = (s * steps + t) * out_n;
                    let counts = &mut bk.counts[s * out_n..(s + 1) * out_n];
                    for (c, v) in counts.iter_mut().zip(&bk.raw[at..at + out_n]) {
                        *c += v;
                    }
                    if decided(counts, (steps - 1 - t) as i64) {
                        bk.step_end[s * steps + t] = bk.cyc[s];
                        // The RTL clears every state memory before done.
                        bk.cyc[s] += clear;
                        bk.ctrl[s] += clear;
                        return false;
                    }
                }
                bk.step_end[s * steps + t] = bk.cyc[s];
                true
            });
        }
        // A narrow pass's values equal the wide pass's only while every checked value stayed
        // within its width (see [`word`]).
        if T::BITS < 64 && ps.book.lay.iter().any(|l| l[L_OVF] > 0) {
            return None;
        }
        if let Some(pipe) = &self.pipe {
            self.replay_pipelined(pipe, &mut ps.book, nb);
        }
        Some((0..nb).map(|s| self.result_of(&ps.book, s)).collect())
    }

    /// Sample `s`'s result from the pass's tallies: the counters the general path
    /// ([`Engine::sample`]) counts phase by phase, summed here from the events and spikes
    /// each phase saw and the steps the sample ran.
    fn result_of(&self, bk: &Book, s: usize) -> SampleResult {
        let plan = self.plan;
        let run = bk.steps_run[s];
        let ran = run as usize;
        let cyc = if self.pipe.is_some() { bk.cyc[s] } else { bk.cyc[s] + schedule::DONE };
        let loads = if run == 0 {
            0
        } else if plan.input.per_step {
            run
        } else {
            1
        };
        let mut c = Counters {
            cycles: cyc,
            load_cycles: loads * schedule::load_cycles(plan),
            out_cycles: run * schedule::out_cycles(plan),
            control_cycles: bk.ctrl[s] + schedule::DONE,
            input_values: loads * plan.input.numel() as u64,
            input_events: bk.input_events[s],
            output_words: run * plan.layers[plan.output.layer].rows as u64,
            steps_run: run,
            empty_acc_phases: 0,
            stall_cycles: 0,
            layers: Vec::with_capacity(plan.layers.len()),
        };
        for (k, l) in plan.layers.iter().enumerate() {
            let ly = &bk.lay[s * bk.nl + k];
            // The general path sizes the per-projection counters when a layer's first phase
            // runs (every layer runs a phase in every step a sample runs).
            let np = if run > 0 { l.projections.len() } else { 0 };
            let mut lc = LayerCounters {
                spikes: ly[L_SPIKES],
                event_writes: ly[L_WRITES],
                event_reads: ly[L_READS],
                overflows: ly[L_OVF],
                saturations: ly[L_SAT],
                update_passes: run,
                neuron_updates: run * l.neurons() as u64,
                state_reads: run * l.rows as u64,
                param_reads: if self.prep[k].param_rom { run * l.rows as u64 } else { 0 },
                cycles: run * schedule::upd_cycles(l),
                proj_synaptic_ops: ProjCounts::from_elem(0, np),
                proj_weight_reads: ProjCounts::from_elem(0, np),
                ..Default::default()
            };
            for (pi, p) in l.projections.iter().enumerate().take(np) {
                let pt = &bk.proj[s * bk.np + self.proj_base[k] + pi];
                let wmem = self.beats[k][pi].1;
                let phases = if p.target == AccTarget::Static { 1 } else { run };
                let (ne, nbeats) = (pt[P_EVENTS], pt[P_BEATS]);
                lc.acc_phases += phases;
                lc.empty_acc_phases += pt[P_EMPTY];
                lc.cycles += schedule::acc_cycles_total(phases, pt[P_EMPTY], nbeats);
                lc.events_in += ne;
                lc.beats += nbeats;
                let wr = if wmem { nbeats } else { 0 };
                lc.weight_reads += wr;
                lc.proj_weight_reads[pi] = wr;
                lc.synaptic_ops += pt[P_SYN];
                lc.proj_synaptic_ops[pi] = pt[P_SYN];
                lc.state_reads += pt[P_STATE];
            }
            lc.state_writes = lc.state_reads;
            c.empty_acc_phases += lc.empty_acc_phases;
            c.layers.push(lc);
        }
        if self.pipe.is_some() {
            c.control_cycles = schedule::START + schedule::PIPE_DONE;
            c.stall_cycles = bk.stalls[s];
        }
        let at = s * bk.steps * bk.out_n;
        SampleResult {
            raw: bk.raw[at..at + ran * bk.out_n].to_vec(),
            counters: c,
            step_end_cycles: bk.step_end[s * bk.steps..s * bk.steps + ran].to_vec(),
        }
    }

    /// The pipelined schedule's clock of each of the pass's `nb` samples (every one runs every
    /// step: no early exit), from the events of its ACC phases, visited in the order
    /// [`Engine::sample`] runs them: the total into `cyc`, step ends, waits.
    fn replay_pipelined(&self, pipe: &schedule::Pipe, bk: &mut Book, nb: usize) {
        let plan = self.plan;
        let (load, out) = (schedule::load_cycles(plan), schedule::out_cycles(plan));
        let mut ck = schedule::Clock::new(pipe);
        bk.stalls.resize(nb, 0);
        for s in 0..nb {
            ck.reset();
            let ran = bk.steps_run[s] as usize;
            for t in 0..ran {
                if t == 0 || plan.input.per_step {
                    ck.load(t, load);
                }
                let ev = &bk.phase_events[(s * bk.steps + t) * bk.np..];
                for (k, l) in plan.layers.iter().enumerate() {
                    for (pi, p) in l.projections.iter().enumerate() {
                        if p.target == AccTarget::Static && t > 0 {
                            continue;
                        }
                        let gp = self.proj_base[k] + pi;
                        let (ne, nbeats) = ev[gp];
                        if pipe.follows(k, pi) {
                            ck.acc_follow(k, pi, ne, nbeats, bk.follow_late[s * bk.np + gp]);
                        } else {
                            ck.acc(k, pi, t, schedule::acc_cycles(ne, nbeats));
                        }
                    }
                    ck.upd(k, t, schedule::upd_cycles(l));
                }
                bk.step_end[s * bk.steps + t] = ck.out(t, out);
            }
            bk.cyc[s] = ck.total();
            bk.stalls[s] = ck.stalls;
        }
    }

    /// The ACC phase of projection `pi` into layer `k` for every active sample.
    #[inline(always)]
    fn acc_phase<T: Word>(&self, k: usize, pi: usize, ps: &mut Pass<T>, active: &[usize]) -> Option<()> {
        let l = &self.plan.layers[k];
        let p = &l.projections[pi];
        let (bpe, _) = self.beats[k][pi];
        let gp = self.proj_base[k] + pi;
        // Dense phases from a layer read its fired flags with the kind's dispatch out of the
        // sample loop (the commonest phases of small networks): binary dense, and a weight
        // column per spike of a plain layer into a non-saturating one (sums in any order; the
        // plain layer keeps no list for this consumer, see Engine::new).
        let from_flags = match (&p.kind, &self.fast[k][pi], p.source) {
            (ProjKind::Dense { .. }, Fast::DenseBinary { pos, words }, Source::Layer(src)) => {
                Some((src, FromFlags::Bits(pos, *words)))
            }
            (ProjKind::Dense { .. }, Fast::DenseCols(wc), Source::Layer(src))
                if self.plain[src] && p.pre_pool.is_none() && !l.saturate =>
            {
                Some((src, FromFlags::Cols(wc)))
            }
            _ => None,
        };
        if let Some((src, kernel)) = from_flags {
            let (n, ns) = (l.neurons(), self.plan.layers[src].neurons());
            let Pass { x, s: sv, y, fired, spikes, entries, scratch, book, .. } = ps;
            for &s in active {
                let ne = spikes[src][s];
                book.cyc[s] += schedule::acc_cycles(ne, bpe * ne);
                book.lay[s * book.nl + src][L_READS] += entries[src][s];
                let (dst, bits) =
                    target_state(l, p, part(&mut x[k], s, n), part(&mut sv[k], s, n), part(&mut y[k], s, n));
                let f = &fired[src][s * ns..(s + 1) * ns];
                match kernel {
                    _ if ne == 0 => {}
                    FromFlags::Bits(pos, words) => {
                        pack_flags(f, &mut scratch.bits);
                        dense_bits(&scratch.bits, ne as i64, pos, words, p.shift, dst);
                    }
                    FromFlags::Cols(wc) => {
                        for (wi, chunk) in f.chunks(64).enumerate() {
                            let mut m = flags_mask(chunk);
                            while m != 0 {
                                let j = 64 * wi + m.trailing_zeros() as usize;
                                m &= m - 1;
                                for (d, &w) in dst.iter_mut().zip(&wc[j * n..(j + 1) * n]) {
                                    *d = d.add(T::of32(w).shl(p.shift));
                                }
                            }
                        }
                    }
                }
                let ovf = if l.saturate { 0 } else { out_of_range(dst, bits) };
                if !book.phase_events.is_empty() {
                    book.phase_events[(s * book.steps + book.t) * book.np + gp] = (ne, bpe * ne);
                }
                let pt = &mut book.proj[s * book.np + gp];
                pt[P_EVENTS] += ne;
                pt[P_EMPTY] += u64::from(ne == 0);
                pt[P_SYN] += ne * n as u64;
                pt[P_STATE] += bpe * ne;
                pt[P_BEATS] += bpe * ne;
                book.lay[s * book.nl + k][L_OVF] += ovf;
            }
            return Some(());
        }
        for &s in active {
            let ne = match p.source {
                Source::Input => ps.in_n[s],
                Source::Layer(src) => ps.spikes[src][s],
            };
            let nbeats = self.sample_beats(k, pi, s, ne, ps);
            let bk = &mut ps.book;
            bk.cyc[s] += schedule::acc_cycles(ne, nbeats);
            if let Source::Layer(src) = p.source {
                bk.lay[s * bk.nl + src][L_READS] += ps.entries[src][s];
            }
            let (syn, state, ovf, sat) = self.acc_sample(k, pi, s, ne, ps)?;
            let bk = &mut ps.book;
            if !bk.phase_events.is_empty() {
                bk.phase_events[(s * bk.steps + bk.t) * bk.np + gp] = (ne, nbeats);
            }
            let pt = &mut bk.proj[s * bk.np + gp];
            pt[P_EVENTS] += ne;
            pt[P_EMPTY] += u64::from(ne == 0);
            pt[P_SYN] += syn;
            pt[P_STATE] += state;
            pt[P_BEATS] += nbeats;
            let ly = &mut bk.lay[s * bk.nl + k];
            ly[L_OVF] += ovf;
            ly[L_SAT] += sat;
        }
        Some(())
    }

    /// The beats of sample `s`'s `ne` events of projection `pi` into layer `k` (from its input
    /// values or its source layer's fired flags).
    #[inline(always)]
    fn sample_beats<T: Word>(&self, k: usize, pi: usize, s: usize, ne: u64, ps: &Pass<T>) -> u64 {
        let at = match &self.beats_at[k][pi] {
            Some(at) if ne > 0 => at,
            _ => return self.beats[k][pi].0 * ne,
        };
        // Values and flags in C order: one channel's plane at a time against the positions'
        // beats (a branch-free loop the compiler vectorises).
        fn beats<V: Copy + Default + PartialEq>(values: &[V], at: &[u32]) -> u64 {
            debug_assert!(values.len().is_multiple_of(at.len()), "whole planes");
            let zero = V::default();
            values
                .chunks_exact(at.len())
                .map(|plane| plane.iter().zip(at).map(|(&v, &b)| u64::from(b) * u64::from(v != zero)).sum::<u64>())
                .sum()
        }
        match self.plan.layers[k].projections[pi].source {
            Source::Input => beats(&ps.in_q[s], at),
            // Every layer's fired flags are its events (a list may not be kept).
            Source::Layer(src) => {
                let ns = self.plan.layers[src].neurons();
                beats(&ps.fired[src][s * ns..(s + 1) * ns], at)
            }
        }
    }

    /// Sample `s`'s ACC phase of projection `pi` into layer `k`, with `ne` source events;
    /// returns its synaptic operations, state row accesses, out-of-width values and saturated
    /// writes; None when a narrow pass meets a kernel that has no narrow form.
    #[inline(always)]
    fn acc_sample<T: Word>(
        &self,
        k: usize,
        pi: usize,
        s: usize,
        ne: u64,
        ps: &mut Pass<T>,
    ) -> Option<(u64, u64, u64, u64)> {
        let plan = self.plan;
        let l = &plan.layers[k];
        let p = &l.projections[pi];
        let n = l.neurons();
        let (bpe, _) = self.beats[k][pi];
        let Pass { x, s: sv, y, fired, lists, in_ev, in_planes, in_nb, scratch, .. } = ps;
        let (dst, bits) = target_state(l, p, part(&mut x[k], s, n), part(&mut sv[k], s, n), part(&mut y[k], s, n));
        let events: &[Event] = match p.source {
            Source::Input => &in_ev[s],
            Source::Layer(src) => &lists[src][s],
        };
        let shift = p.shift;
        let [_, sh, sw] = p.src_shape;
        let mut sat = 0;
        let (syn, state) = match (&p.kind, &self.fast[k][pi], p.source) {
            // From a layer it runs in acc_phase, off the fired flags.
            (ProjKind::Dense { .. }, Fast::DenseBinary { pos, words }, Source::Input) => {
                if ne > 0 {
                    if self.input_planes == Some(*words) {
                        dense_planes(&in_planes[s], in_nb[s], pos, *words, shift, dst)
                    } else {
                        let nb = planes_of(events, (sh, sw), *words, &mut scratch.planes);
                        dense_planes(&scratch.planes, nb, pos, *words, shift, dst)
                    }
                }
                (ne * n as u64, bpe * ne)
            }
            (
                ProjKind::Conv { ci, .. },
                Fast::ConvBinary { pos, words, taps_at, w16, table, win },
                Source::Layer(src),
            ) => {
                let geo = conv_geo(l, &p.kind).expect("a convolution");
                let valid = if ne == 0 {
                    0
                } else {
                    let ns = plan.layers[src].neurons();
                    let f = &fired[src][s * ns..(s + 1) * ns];
                    let dst = T::wide(dst)?;
                    // Per event: taps x co/16 vector adds each; packed: a popcount per output
                    // channel, tap and input word at every output position.
                    if !w16.is_empty() && ne * EVENT_DENSITY < ns as u64 {
                        kernels::conv_events16(f, &geo, *ci, w16, table, shift, dst, scratch)
                    } else {
                        let v = kernels::conv_inmap(f, *ci, *words, taps_at, scratch);
                        if win.is_empty() {
                            kernels::conv_packed(&geo, pos, *words, shift, dst, scratch);
                        } else {
                            kernels::conv_window(&geo, *ci, win, shift, dst, scratch);
                        }
                        v
                    }
                };
                (valid * geo.co as u64, valid * l.ncg as u64)
            }
            (ProjKind::OneToOne, Fast::OneToOne(w), Source::Layer(src)) => {
                if ne > 0 {
                    kernels::one_to_one(&fired[src][s * n..(s + 1) * n], w, shift, dst);
                }
                (ne, ne)
            }
            (ProjKind::Dense { .. }, Fast::DenseCols(wc), _) if p.pre_pool.is_none() && !l.saturate => {
                // A column of weights per event, as the scatter adds them (list order may
                // differ: the layer does not saturate).
                for &(c, yy, xx, v) in events {
                    let j = (c * sh + yy) * sw + xx;
                    let col = &wc[j * n..(j + 1) * n];
                    if v == 1 {
                        for (d, &w) in dst.iter_mut().zip(col) {
                            *d = d.add(T::of32(w).shl(shift));
                        }
                    } else {
                        for (d, &w) in dst.iter_mut().zip(col) {
                            *d = d.add(T::of((i64::from(w) * v) << shift));
                        }
                    }
                }
                (events.len() as u64 * n as u64, bpe * events.len() as u64)
            }
            (ProjKind::Dense { cols }, Fast::PoolDense { wr, table, start, members, mstart, pooled, fits32 }, src) => {
                // The pooled input counts (each valid candidate window of an event adds its
                // value), then one dot product per neuron; i32 when the sums cannot overflow.
                let dst = T::wide(dst)?;
                let mut valid = 0u64;
                // A plain source's events are its fired flags (no list is built for it).
                let flags = match src {
                    Source::Layer(src) if self.plain[src] => {
                        let ns = plan.layers[src].neurons();
                        Some(&fired[src][s * ns..(s + 1) * ns])
                    }
                    _ => None,
                };
                // Spike inputs: each pooled input counts the fired flags in its window (no
                // branch per spike); every (spike, window) pair is one valid candidate.
                let windows = flags.map(|f| {
                    let counts = &mut scratch.cnt32;
                    counts.clear();
                    counts.resize(*cols, 0);
                    for (c, fc) in f.chunks_exact((sh * sw).max(1)).enumerate() {
                        for (pp, n) in counts[c * pooled..(c + 1) * pooled].iter_mut().enumerate() {
                            let m = &members[mstart[pp] as usize..mstart[pp + 1] as usize];
                            *n = m.iter().map(|&q| i32::from(fc[q as usize])).sum();
                            valid += *n as u64;
                        }
                    }
                });
                let small = *fits32 && (windows.is_some() || events.iter().all(|e| e.3 == 1));
                if small {
                    let counts = &mut scratch.cnt32;
                    if windows.is_none() {
                        counts.clear();
                        counts.resize(*cols, 0);
                        for &(c, yy, xx, _) in events {
                            let q = yy * sw + xx;
                            for &pp in &table[start[q] as usize..start[q + 1] as usize] {
                                counts[c * pooled + pp as usize] += 1;
                                valid += 1;
                            }
                        }
                    }
                    if valid > 0 {
                        for (d, row) in dst.iter_mut().zip(wr.chunks_exact(*cols)) {
                            let dot: i32 = row.iter().zip(counts.iter()).map(|(&w, &c)| w * c).sum();
                            *d += i64::from(dot) << shift;
                        }
                    }
                } else {
                    let counts = &mut scratch.cnt;
                    counts.clear();
                    match windows {
                        // Window counts are at most the window's size: they widen exactly.
                        Some(()) => counts.extend(scratch.cnt32.iter().map(|&n| i64::from(n))),
                        None => {
                            counts.resize(*cols, 0);
                            for &(c, yy, xx, v) in events {
                                let q = yy * sw + xx;
                                for &pp in &table[start[q] as usize..start[q + 1] as usize] {
                                    counts[c * pooled + pp as usize] += v;
                                    valid += 1;
                                }
                            }
                        }
                    }
                    if valid > 0 {
                        for (d, row) in dst.iter_mut().zip(wr.chunks_exact(*cols)) {
                            let dot: i64 = row.iter().zip(counts.iter()).map(|(&w, &c)| i64::from(w) * c).sum();
                            *d += dot << shift;
                        }
                    }
                }
                let cand = p.pre_pool.as_ref().map_or(1, |g| (g.candidates()[0] * g.candidates()[1]) as u64);
                (valid * n as u64, valid * (bpe / cand))
            }
            (ProjKind::Conv { ci, .. }, Fast::ConvBinary { w16, table, .. }, Source::Input)
                if !w16.is_empty() && events.iter().any(|e| e.3 != 1) =>
            {
                let geo = conv_geo(l, &p.kind).expect("a convolution");
                let dst = T::wide(dst)?;
                let valid = conv_cols(events, &geo, *ci, l.shape[0], w16, table, shift, dst, scratch);
                (valid * geo.co as u64, valid * l.ncg as u64)
            }
            (ProjKind::Conv { .. }, Fast::ConvBinary { pos, words, taps_at, .. }, _)
                if events.iter().all(|e| e.3 == 1) =>
            {
                let geo = conv_geo(l, &p.kind).expect("a convolution");
                let dst = T::wide(dst)?;
                if ne > 0 {
                    conv_binary(events, &geo, pos, *words, shift, dst, scratch);
                }
                let valid: u64 = events.iter().map(|&(_, yy, xx, _)| u64::from(taps_at[yy * geo.iw + xx])).sum();
                (valid * geo.co as u64, valid * l.ncg as u64)
            }
            (ProjKind::Conv { ci, groups, .. }, Fast::ConvCols { wt, table }, _) => {
                let geo = conv_geo(l, &p.kind).expect("a convolution");
                let dst = T::wide(dst)?;
                let valid = conv_cols(events, &geo, ci / groups, l.shape[0] / groups, wt, table, shift, dst, scratch);
                (valid * (l.shape[0] / groups) as u64, valid * l.ncg as u64)
            }
            _ => {
                let mut lc = LayerCounters::default();
                self.scatter(k, pi, events, T::wide(dst)?, bits, &mut lc);
                sat = lc.saturations;
                (lc.synaptic_ops, lc.state_reads)
            }
        };
        let ovf = if l.saturate { 0 } else { out_of_range(dst, bits) };
        Some((syn, state, ovf, sat))
    }

    /// The update pass of layer `k` for the pass's active samples.
    #[inline(always)]
    fn update_pass<T: Word>(
        &self,
        k: usize,
        t: usize,
        last: bool,
        ps: &mut Pass<T>,
        nb: usize,
        active: &[usize],
    ) -> Option<()> {
        let plan = self.plan;
        let l = &plan.layers[k];
        let n = l.neurons();
        let is_out = k == plan.output.layer;
        let c = schedule::upd_cycles(l);
        for &s in active {
            ps.book.cyc[s] += c;
        }
        let prep = &self.prep[k];
        if !self.plain[k] {
            for &s in active {
                let Pass { x, s: sv, y, fired, lists, spikes, entries, out, book, .. } = ps;
                let list = &mut lists[k][s];
                out.clear();
                out.resize(if is_out { n } else { 0 }, 0);
                let mut lc = LayerCounters::default();
                let (xw, sw, yw) = (part(&mut x[k], s, n), part(&mut sv[k], s, n), part(&mut y[k], s, n));
                let e = self.update(k, t, last, (T::wide(xw)?, T::wide(sw)?, T::wide(yw)?), &mut lc, list, out, None);
                let f = &mut fired[k][s * n..(s + 1) * n];
                f.fill(0);
                let [_, h, w] = l.shape;
                for &(c, yy, xx, _) in list.iter() {
                    f[(c * h + yy) * w + xx] = 1;
                }
                spikes[k][s] = list.len() as u64;
                entries[k][s] = e;
                if is_out {
                    book.row(s, t).copy_from_slice(out);
                }
                let ly = &mut book.lay[s * book.nl + k];
                ly[L_SPIKES] += lc.spikes;
                ly[L_WRITES] += lc.event_writes;
                ly[L_OVF] += lc.overflows;
                ly[L_SAT] += lc.saturations;
            }
            return Some(());
        }
        let p = plan.rules.leak_bits();
        match &l.leak {
            Leak::Zero => self.upd_block(k, t, ps, nb, active, |_, _| T::default()),
            Leak::One => self.upd_block(k, t, ps, nb, active, |x, _| x),
            Leak::Shift { k: sh } => {
                let sh = *sh;
                self.upd_block(k, t, ps, nb, active, move |x: T, _| x.sub(x.sar(sh)))
            }
            Leak::Mul { b } if b.len() == 1 => {
                let b = b[0];
                self.upd_block(k, t, ps, nb, active, move |x: T, _| x.mul_round(b, p))
            }
            Leak::Mul { .. } => {
                let b = &prep.leak_full;
                self.upd_block(k, t, ps, nb, active, |x: T, i| x.mul_round(b[i], p))
            }
        }
        // The RTL clears the state after the last step; a pass's state is cleared when the
        // next pass starts instead ([`Pass::reset`]), as nothing reads it in between.
        let spiking = l.spiking();
        for &s in active {
            let Pass { fired, ovf_s, spikes, entries, lists, scratch, book, .. } = ps;
            let f = &fired[k][s * n..(s + 1) * n];
            let (ns, e) = if spiking { self.spikes_entries(k, f, &mut scratch.orbuf) } else { (0, 0) };
            if spiking {
                let list = &mut lists[k][s];
                match self.lists[k] {
                    Lists::None => {}
                    Lists::Any => list_any(f, &prep.event_of, list),
                    Lists::Ordered => list_ordered(f, prep, list, &mut scratch.idx),
                }
            }
            spikes[k][s] = ns;
            entries[k][s] = e;
            if is_out {
                for (o, &v) in book.row(s, t).iter_mut().zip(f) {
                    *o = i64::from(v);
                }
            }
            let ly = &mut book.lay[s * book.nl + k];
            ly[L_OVF] += ovf_s[s];
            ly[L_SPIKES] += ns;
            ly[L_WRITES] += e;
        }
        Some(())
    }

    /// The branch-free update of layer `k` for the pass: small layers in one sweep over all
    /// `nb` samples (exited ones too; nothing reads them), larger ones sample by sample over
    /// the active ones. Leaves each active sample's out-of-width values in `ps.ovf_s`.
    #[inline(always)]
    fn upd_block<T: Word>(
        &self,
        k: usize,
        t: usize,
        ps: &mut Pass<T>,
        nb: usize,
        active: &[usize],
        leak: impl Fn(T, usize) -> T + Copy,
    ) {
        let l = &self.plan.layers[k];
        let n = l.neurons();
        if n >= SWEEP_SAMPLES_BELOW {
            for &s in active {
                let o = self.upd_range(k, t, ps, s * n..(s + 1) * n, false, leak);
                ps.ovf_s[s] = o;
            }
            return;
        }
        let total = self.upd_range(k, t, ps, 0..nb * n, true, leak);
        for &s in active {
            ps.ovf_s[s] = if total > 0 { flag_sum(&ps.ovf[s * n..(s + 1) * n]) } else { 0 };
        }
    }

    /// [`upd_core`] over neurons `r` of layer `k`'s pass buffers (whole samples); with `ovf`,
    /// per neuron out-of-width counts into `ps.ovf`.
    #[inline(always)]
    fn upd_range<T: Word>(
        &self,
        k: usize,
        t: usize,
        ps: &mut Pass<T>,
        r: std::ops::Range<usize>,
        ovf: bool,
        leak: impl Fn(T, usize) -> T + Copy,
    ) -> u64 {
        let plan = self.plan;
        let l = &plan.layers[k];
        let prep = &self.prep[k];
        // The parameter tables hold one sample's values, or the whole pass's for small layers.
        let off = r.start - r.start % prep.table_len;
        let pr = r.start - off..r.end - off;
        let stat: &[T] =
            if l.s_bits > 0 { &ps.s[k][r.clone()] } else { &T::pick(&prep.zeros, &prep.zero32)[pr.clone()] };
        let params = UpdParams {
            thr: &prep.thr_full[pr.clone()],
            bias: &prep.bias_full[pr.clone()],
            bias_late: if t > 0 { &prep.bias_late_full[pr.clone()] } else { &prep.zero32[pr.clone()] },
            vreset: &prep.vreset_full[pr.clone()],
            hi: T::of((1i64 << (l.v_bits - 1)) - 1),
            lo: T::of(-(1i64 << (l.v_bits - 1))),
            spiking: l.spiking(),
        };
        let base = pr.start;
        let leak = move |x: T, i: usize| leak(x, base + i);
        let (x, f, o) = (&mut ps.x[k][r.clone()], &mut ps.fired[k][r.clone()], &mut ps.ovf[r.start..r.end]);
        macro_rules! core {
            ($reset:literal, $eq:literal) => {
                match (prep.extra, ovf) {
                    (false, false) => upd_core::<$reset, $eq, false, false, T>(x, stat, &params, f, o, leak),
                    (false, true) => upd_core::<$reset, $eq, false, true, T>(x, stat, &params, f, o, leak),
                    (true, false) => upd_core::<$reset, $eq, true, false, T>(x, stat, &params, f, o, leak),
                    (true, true) => upd_core::<$reset, $eq, true, true, T>(x, stat, &params, f, o, leak),
                }
            };
        }
        match (plan.reset, plan.fire_on_equal) {
            (ResetMode::Zero, false) => core!(0, false),
            (ResetMode::Zero, true) => core!(0, true),
            (ResetMode::Subtract, false) => core!(1, false),
            (ResetMode::Subtract, true) => core!(1, true),
            (ResetMode::SubtractUndecayed, false) => core!(2, false),
            (ResetMode::SubtractUndecayed, true) => core!(2, true),
        }
    }

    /// Spikes and event entries (rows with at least one spike) of one sample's fired flags
    /// `f` (0/1) of layer `k`: a row is one lane group at one position.
    #[inline(always)]
    fn spikes_entries(&self, k: usize, f: &[u8], orbuf: &mut Vec<u8>) -> (u64, u64) {
        let l = &self.plan.layers[k];
        let prep = &self.prep[k];
        if let Some(fold) = prep.contiguous {
            return spikes_entries_contiguous(f, fold);
        }
        let ns = flag_sum(f);
        if ns == 0 {
            return (0, 0);
        }
        let pos = l.positions();
        let groups = prep.group_start.windows(2).map(|g| &prep.group_chans[g[0] as usize..g[1] as usize]);
        if pos == 1 {
            return (ns, groups.map(|ch| u64::from(ch.iter().fold(0u8, |a, &c| a | f[c as usize]))).sum());
        }
        let mut e = 0;
        for ch in groups {
            let c0 = ch[0] as usize;
            orbuf.clear();
            orbuf.extend_from_slice(&f[c0 * pos..(c0 + 1) * pos]);
            for &c in &ch[1..] {
                let c = c as usize;
                for (o, &v) in orbuf.iter_mut().zip(&f[c * pos..(c + 1) * pos]) {
                    *o |= v;
                }
            }
            e += flag_sum(orbuf);
        }
        (ns, e)
    }
}

/// Rows of `lanes` consecutive neurons, as [`spikes_entries_contiguous`] folds them: `low` has
/// bit 0 of every group of `lanes` bits set when `lanes` divides 64, else it is 0. Built once
/// per layer (it takes two divisions).
#[derive(Clone, Copy, Debug)]
pub(super) struct RowFold {
    lanes: usize,
    low: u64,
}

impl RowFold {
    pub(super) fn new(lanes: usize) -> RowFold {
        let low = if lanes > 0 && 64 % lanes == 0 { u64::MAX / ((1u128 << lanes) - 1) as u64 } else { 0 };
        RowFold { lanes, low }
    }
}

/// Spikes and rows with a spike when row r holds neurons `r*lanes .. r*lanes + lanes` (flags
/// 0/1): 64 flags at a time as a bit mask, whose set bits are the spikes; for lanes dividing
/// 64 each group of bits is OR-folded into its lowest bit, set for a row with a spike.
#[inline(always)]
fn spikes_entries_contiguous(f: &[u8], fold: RowFold) -> (u64, u64) {
    let RowFold { lanes, low } = fold;
    if low == 0 {
        let e = f.chunks(lanes.max(1)).map(|c| u64::from(c.iter().fold(0, |a, &v| a | v))).sum();
        return (flag_sum(f), e);
    }
    let (mut ns, mut e) = (0u64, 0u64);
    for c in f.chunks(64) {
        let mut m = flags_mask(c);
        ns += u64::from(m.count_ones());
        let mut w = 1;
        while w < lanes {
            m |= m >> w;
            w *= 2;
        }
        e += u64::from((m & low).count_ones());
    }
    (ns, e)
}

/// Up to 64 flags (0/1) as a bit mask (bit j: flag j), eight at a time.
#[inline(always)]
fn flags_mask(chunk: &[u8]) -> u64 {
    let mut acc = 0u64;
    let mut eights = chunk.chunks_exact(8);
    for (i, b) in eights.by_ref().enumerate() {
        let v = u64::from_le_bytes(b.try_into().expect("8 bytes"));
        // Byte i's low bit lands on bit 56 + i; no two products overlap or carry.
        acc |= (v.wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * i);
    }
    let done = chunk.len() - eights.remainder().len();
    for (i, &b) in eights.remainder().iter().enumerate() {
        acc |= u64::from(b) << (done + i);
    }
    acc
}

/// The events of fired flags `f` in neuron order (for consumers whose sums do not depend on
/// the order).
#[inline(always)]
fn list_any(f: &[u8], event_of: &[Event], list: &mut Vec<Event>) {
    list.clear();
    let mut eights = f.chunks_exact(8);
    for (i, b) in eights.by_ref().enumerate() {
        let mut v = u64::from_le_bytes(b.try_into().expect("8 bytes"));
        while v != 0 {
            let j = v.trailing_zeros() as usize / 8;
            list.push(event_of[8 * i + j]);
            v &= !(0xff << (8 * j));
        }
    }
    let done = f.len() - eights.remainder().len();
    for (j, &b) in eights.remainder().iter().enumerate() {
        if b != 0 {
            list.push(event_of[done + j]);
        }
    }
}

/// The events of fired flags `f` in the RTL's (row, lane) order.
#[inline(always)]
fn list_ordered(f: &[u8], prep: &LayerPrep, list: &mut Vec<Event>, idx: &mut Vec<u32>) {
    // Branch-free: every used slot writes its neuron and the length advances by its flag.
    idx.clear();
    idx.resize(prep.order.len() + 1, 0);
    let mut len = 0usize;
    for &i in &prep.order {
        idx[len] = i;
        len += usize::from(f[i as usize]);
    }
    list.clear();
    list.extend(idx[..len].iter().map(|&i| prep.event_of[i as usize]));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_pack_into_bits() {
        for len in [0usize, 1, 7, 8, 9, 63, 64, 65, 130] {
            let f: Vec<u8> = (0..len).map(|i| u8::from((i * 7 + i / 3) % 5 < 2)).collect();
            let mut bits = vec![];
            pack_flags(&f, &mut bits);
            assert_eq!(bits.len(), len.div_ceil(64));
            for (j, &v) in f.iter().enumerate() {
                assert_eq!(bits[j / 64] >> (j % 64) & 1, u64::from(v), "len {len} bit {j}");
            }
            let ev: Vec<Event> = (0..len).map(|i| (i, 0, 0, 1)).collect();
            let mut list = vec![];
            list_any(&f, &ev, &mut list);
            let want: Vec<Event> = (0..len).filter(|&i| f[i] == 1).map(|i| (i, 0, 0, 1)).collect();
            assert_eq!(list, want);
            assert_eq!(flag_sum(&f), want.len() as u64);
            for lanes in [1usize, 2, 3, 4, 8, 16, 32, 64] {
                let rows = f.chunks(lanes).filter(|c| c.iter().any(|&v| v != 0)).count() as u64;
                assert_eq!(
                    spikes_entries_contiguous(&f, RowFold::new(lanes)),
                    (want.len() as u64, rows),
                    "len {len} lanes {lanes}"
                );
            }
        }
    }
}
