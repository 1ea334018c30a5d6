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

thread_local! {
    /// The buffers of this thread's last pass, kept for the next run of the same shape: for
    /// small networks, allocating them anew every run cost page faults (the allocator hands
    /// the freed top of the heap back to the system), about 30 per run of 128 samples on
    /// mlp_bw_t4.
    static SPARE: std::cell::RefCell<Option<Pass>> = const { std::cell::RefCell::new(None) };
}

/// A pass's buffers on loan from the thread's spare (or new); given back when dropped.
pub(super) struct Lease(Option<Pass>);

impl Lease {
    pub(super) fn new(plan: &Plan, cap: usize) -> Lease {
        let shape = Pass::shape_of(plan, cap);
        let spare = SPARE.with(|s| s.borrow_mut().take()).filter(|p| p.shape == shape);
        Lease(Some(spare.unwrap_or_else(|| Pass::new(plan, cap))))
    }

    pub(super) fn get(&mut self) -> &mut Pass {
        self.0.as_mut().expect("a leased pass")
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(p) = self.0.take().filter(|p| p.bytes() <= SPARE_BYTES) {
            // A thread being torn down has no spare to keep.
            let _ = SPARE.try_with(|s| *s.borrow_mut() = Some(p));
        }
    }
}

/// The buffers of one pass (reused from pass to pass).
pub(super) struct Pass {
    /// What the buffers were sized for: the cap, then per layer its neurons and which of
    /// S and Y it has ([`Pass::shape_of`]).
    shape: Vec<usize>,
    cap: usize,
    /// Per layer, `cap` samples' X, S and Y (S and Y empty when the layer has none).
    x: Vec<Vec<i64>>,
    s: Vec<Vec<i64>>,
    y: Vec<Vec<i64>>,
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

impl Pass {
    pub(super) fn new(plan: &Plan, cap: usize) -> Pass {
        let nl = plan.layers.len();
        let state = |on: fn(&Layer) -> bool| -> Vec<Vec<i64>> {
            plan.layers.iter().map(|l| if on(l) { vec![0; l.neurons() * cap] } else { vec![] }).collect()
        };
        let most = plan.layers.iter().map(|l| l.neurons()).max().unwrap_or(0);
        Pass {
            shape: Pass::shape_of(plan, cap),
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
        8 * words + self.fired.iter().map(Vec::len).sum::<usize>() + self.ovf.len()
    }

    /// Ready for a new pass: zero state, no events.
    fn reset(&mut self) {
        for v in self.x.iter_mut().chain(self.s.iter_mut()).chain(self.y.iter_mut()) {
            v.fill(0);
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
    /// Per sample and projection: [`P_EVENTS`], [`P_EMPTY`], [`P_SYN`], [`P_STATE`].
    proj: Vec<[u64; 4]>,
    /// Per sample and layer: [`L_SPIKES`], [`L_WRITES`], [`L_READS`], [`L_OVF`], [`L_SAT`].
    lay: Vec<[u64; 5]>,
    /// Per sample and step: the output row (`out_n` values) and the cycle the step ended.
    raw: Vec<i64>,
    step_end: Vec<u64>,
    /// Per sample: output spikes so far per neuron (early exit).
    counts: Vec<i64>,
}

/// Events delivered, ACC phases without events, synaptic operations and state row accesses
/// (reads, equal to writes) of a projection's ACC phases.
const P_EVENTS: usize = 0;
const P_EMPTY: usize = 1;
const P_SYN: usize = 2;
const P_STATE: usize = 3;
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
        self.proj.resize(nb * np, [0; 4]);
        self.lay.clear();
        self.lay.resize(nb * nl, [0; 5]);
        self.raw.clear();
        self.raw.resize(nb * steps * out_n, 0);
        self.counts.clear();
        self.counts.resize(nb * out_n, 0);
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
fn part(v: &mut [i64], s: usize, n: usize) -> &mut [i64] {
    if v.is_empty() { v } else { &mut v[s * n..(s + 1) * n] }
}

/// Packs 0/1 flags into a bitset (bit j = flag j).
#[inline(always)]
fn pack_flags(f: &[u8], bits: &mut Vec<u64>) {
    bits.clear();
    bits.resize(f.len().div_ceil(64), 0);
    for (w, chunk) in bits.iter_mut().zip(f.chunks(64)) {
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
        *w = acc;
    }
}

/// Sum of 0/1 (or small) byte flags.
#[inline(always)]
fn flag_sum(f: &[u8]) -> u64 {
    // Bytes summed in u16 lanes of 255-byte blocks never overflow.
    f.chunks(255).map(|c| c.iter().map(|&v| u16::from(v)).sum::<u16>() as u64).sum()
}

impl Engine<'_> {
    /// Runs samples `first..first + nb` of `batch` in one pass, compiled for the widest vector
    /// extensions the CPU has up to `simd` (checked at run time; the integers are the same on
    /// every path).
    pub(super) fn pass(
        &self,
        ps: &mut Pass,
        batch: &InputBatch,
        first: usize,
        nb: usize,
        steps: usize,
        simd: Simd,
    ) -> Vec<SampleResult> {
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
    fn pass_avx2(&self, ps: &mut Pass, batch: &InputBatch, first: usize, nb: usize, steps: usize) -> Vec<SampleResult> {
        self.pass_body(ps, batch, first, nb, steps)
    }

    /// 512-bit vectors and vector popcounts (the packed kernels' AND-popcounts, the update
    /// sweeps).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,bmi2,popcnt,avx512f,avx512bw,avx512dq,avx512vl,avx512vpopcntdq")]
    fn pass_avx512(
        &self,
        ps: &mut Pass,
        batch: &InputBatch,
        first: usize,
        nb: usize,
        steps: usize,
    ) -> Vec<SampleResult> {
        self.pass_body(ps, batch, first, nb, steps)
    }

    #[inline(always)]
    fn pass_body(&self, ps: &mut Pass, batch: &InputBatch, first: usize, nb: usize, steps: usize) -> Vec<SampleResult> {
        let plan = self.plan;
        assert!(nb <= ps.cap, "a pass holds at most {} samples", ps.cap);
        let steps = steps.min(plan.timesteps);
        ps.reset();
        let out_l = plan.output.layer;
        let out_n = plan.layers[out_l].neurons();
        ps.book.reset(nb, self.nproj, plan.layers.len(), steps, out_n);
        let mut active: Vec<usize> = (0..nb).collect();
        let clear = schedule::clear_cycles(plan);
        for t in 0..steps {
            if active.is_empty() {
                break;
            }
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
                }
            }
            let last = t + 1 == steps;
            for k in 0..plan.layers.len() {
                for (pi, p) in plan.layers[k].projections.iter().enumerate() {
                    if p.target == AccTarget::Static && t > 0 {
                        continue;
                    }
                    self.acc_phase(k, pi, ps, &active);
                }
                self.update_pass(k, t, last, ps, nb, &active);
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
        (0..nb).map(|s| self.result_of(&ps.book, s)).collect()
    }

    /// Sample `s`'s result from the pass's tallies: the counters the general path
    /// ([`Engine::sample`]) counts phase by phase, summed here from the events and spikes
    /// each phase saw and the steps the sample ran.
    fn result_of(&self, bk: &Book, s: usize) -> SampleResult {
        let plan = self.plan;
        let run = bk.steps_run[s];
        let ran = run as usize;
        let cyc = bk.cyc[s] + schedule::DONE;
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
                let (bpe, wmem) = self.beats[k][pi];
                let phases = if p.target == AccTarget::Static { 1 } else { run };
                let ne = pt[P_EVENTS];
                lc.acc_phases += phases;
                lc.empty_acc_phases += pt[P_EMPTY];
                lc.cycles += schedule::acc_cycles_total(bpe, phases, pt[P_EMPTY], ne);
                lc.events_in += ne;
                lc.beats += bpe * ne;
                let wr = if wmem { bpe * ne } else { 0 };
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
        let at = s * bk.steps * bk.out_n;
        SampleResult {
            raw: bk.raw[at..at + ran * bk.out_n].to_vec(),
            counters: c,
            step_end_cycles: bk.step_end[s * bk.steps..s * bk.steps + ran].to_vec(),
        }
    }

    /// The ACC phase of projection `pi` into layer `k` for every active sample.
    #[inline(always)]
    fn acc_phase(&self, k: usize, pi: usize, ps: &mut Pass, active: &[usize]) {
        let l = &self.plan.layers[k];
        let p = &l.projections[pi];
        let (bpe, _) = self.beats[k][pi];
        let gp = self.proj_base[k] + pi;
        for &s in active {
            let ne = match p.source {
                Source::Input => ps.in_n[s],
                Source::Layer(src) => ps.spikes[src][s],
            };
            let bk = &mut ps.book;
            bk.cyc[s] += schedule::acc_cycles_of(bpe, ne);
            if let Source::Layer(src) = p.source {
                bk.lay[s * bk.nl + src][L_READS] += ps.entries[src][s];
            }
            let (syn, state, ovf, sat) = self.acc_sample(k, pi, s, ne, ps);
            let bk = &mut ps.book;
            let pt = &mut bk.proj[s * bk.np + gp];
            pt[P_EVENTS] += ne;
            pt[P_EMPTY] += u64::from(ne == 0);
            pt[P_SYN] += syn;
            pt[P_STATE] += state;
            let ly = &mut bk.lay[s * bk.nl + k];
            ly[L_OVF] += ovf;
            ly[L_SAT] += sat;
        }
    }

    /// Sample `s`'s ACC phase of projection `pi` into layer `k`, with `ne` source events;
    /// returns its synaptic operations, state row accesses, out-of-width values and saturated
    /// writes.
    #[inline(always)]
    fn acc_sample(&self, k: usize, pi: usize, s: usize, ne: u64, ps: &mut Pass) -> (u64, u64, u64, u64) {
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
            (ProjKind::Dense { .. }, Fast::DenseBinary { pos, words }, src) => {
                if ne > 0 {
                    match src {
                        Source::Layer(src) => {
                            let ns = plan.layers[src].neurons();
                            pack_flags(&fired[src][s * ns..(s + 1) * ns], &mut scratch.bits);
                            dense_bits(&scratch.bits, ne as i64, pos, *words, shift, dst);
                        }
                        Source::Input if self.input_planes == Some(*words) => {
                            dense_planes(&in_planes[s], in_nb[s], pos, *words, shift, dst)
                        }
                        Source::Input => {
                            let nb = planes_of(events, (sh, sw), *words, &mut scratch.planes);
                            dense_planes(&scratch.planes, nb, pos, *words, shift, dst)
                        }
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
                            *d += i64::from(w) << shift;
                        }
                    } else {
                        for (d, &w) in dst.iter_mut().zip(col) {
                            *d += (i64::from(w) * v) << shift;
                        }
                    }
                }
                (events.len() as u64 * n as u64, bpe * events.len() as u64)
            }
            (ProjKind::Dense { cols }, Fast::PoolDense { wr, table, start, members, mstart, pooled, fits32 }, src) => {
                // The pooled input counts (each valid candidate window of an event adds its
                // value), then one dot product per neuron; i32 when the sums cannot overflow.
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
                let valid = conv_cols(events, &geo, *ci, l.shape[0], w16, table, shift, dst, scratch);
                (valid * geo.co as u64, valid * l.ncg as u64)
            }
            (ProjKind::Conv { .. }, Fast::ConvBinary { pos, words, taps_at, .. }, _)
                if events.iter().all(|e| e.3 == 1) =>
            {
                let geo = conv_geo(l, &p.kind).expect("a convolution");
                if ne > 0 {
                    conv_binary(events, &geo, pos, *words, shift, dst, scratch);
                }
                let valid: u64 = events.iter().map(|&(_, yy, xx, _)| u64::from(taps_at[yy * geo.iw + xx])).sum();
                (valid * geo.co as u64, valid * l.ncg as u64)
            }
            (ProjKind::Conv { ci, groups, .. }, Fast::ConvCols { wt, table }, _) => {
                let geo = conv_geo(l, &p.kind).expect("a convolution");
                let valid = conv_cols(events, &geo, ci / groups, l.shape[0] / groups, wt, table, shift, dst, scratch);
                (valid * (l.shape[0] / groups) as u64, valid * l.ncg as u64)
            }
            _ => {
                let mut lc = LayerCounters::default();
                self.scatter(k, pi, events, dst, bits, &mut lc);
                sat = lc.saturations;
                (lc.synaptic_ops, lc.state_reads)
            }
        };
        let ovf = if l.saturate { 0 } else { out_of_range(dst, bits) };
        (syn, state, ovf, sat)
    }

    /// The update pass of layer `k` for the pass's active samples.
    #[inline(always)]
    fn update_pass(&self, k: usize, t: usize, last: bool, ps: &mut Pass, nb: usize, active: &[usize]) {
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
                let e = self.update(
                    k,
                    t,
                    last,
                    (part(&mut x[k], s, n), part(&mut sv[k], s, n), part(&mut y[k], s, n)),
                    &mut lc,
                    list,
                    out,
                    None,
                );
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
            return;
        }
        let m = nb * n;
        let p = plan.rules.leak_bits();
        match &l.leak {
            Leak::Zero => self.upd_block(k, t, ps, nb, active, |_, _| 0),
            Leak::One => self.upd_block(k, t, ps, nb, active, |x, _| x),
            Leak::Shift { k: sh } => {
                let sh = *sh;
                self.upd_block(k, t, ps, nb, active, move |x, _| x - (x >> sh))
            }
            Leak::Mul { b } if b.len() == 1 => {
                let b = b[0] as i128;
                self.upd_block(k, t, ps, nb, active, move |x, _| ((x as i128 * b + (1i128 << (p - 1))) >> p) as i64)
            }
            Leak::Mul { .. } => {
                let b = &prep.leak_full;
                self.upd_block(k, t, ps, nb, active, |x, i| {
                    ((x as i128 * b[i] as i128 + (1i128 << (p - 1))) >> p) as i64
                })
            }
        }
        if last {
            ps.x[k][..m].fill(0);
            if l.s_bits > 0 {
                ps.s[k][..m].fill(0);
            }
        }
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
    }

    /// The branch-free update of layer `k` for the pass: small layers in one sweep over all
    /// `nb` samples (exited ones too; nothing reads them), larger ones sample by sample over
    /// the active ones. Leaves each active sample's out-of-width values in `ps.ovf_s`.
    #[inline(always)]
    fn upd_block(
        &self,
        k: usize,
        t: usize,
        ps: &mut Pass,
        nb: usize,
        active: &[usize],
        leak: impl Fn(i64, usize) -> i64 + Copy,
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
    fn upd_range(
        &self,
        k: usize,
        t: usize,
        ps: &mut Pass,
        r: std::ops::Range<usize>,
        ovf: bool,
        leak: impl Fn(i64, usize) -> i64 + Copy,
    ) -> u64 {
        let plan = self.plan;
        let l = &plan.layers[k];
        let prep = &self.prep[k];
        // The parameter tables hold one sample's values, or the whole pass's for small layers.
        let off = r.start - r.start % prep.table_len;
        let pr = r.start - off..r.end - off;
        let stat: &[i64] = if l.s_bits > 0 { &ps.s[k][r.clone()] } else { &prep.zeros[pr.clone()] };
        let params = UpdParams {
            thr: &prep.thr_full[pr.clone()],
            bias: &prep.bias_full[pr.clone()],
            bias_late: if t > 0 { &prep.bias_late_full[pr.clone()] } else { &prep.zero32[pr.clone()] },
            vreset: &prep.vreset_full[pr.clone()],
            hi: (1i64 << (l.v_bits - 1)) - 1,
            lo: -(1i64 << (l.v_bits - 1)),
            spiking: l.spiking(),
        };
        let base = pr.start;
        let leak = move |x: i64, i: usize| leak(x, base + i);
        let (x, f, o) = (&mut ps.x[k][r.clone()], &mut ps.fired[k][r.clone()], &mut ps.ovf[r.start..r.end]);
        macro_rules! core {
            ($reset:literal, $eq:literal) => {
                match (prep.extra, ovf) {
                    (false, false) => upd_core::<$reset, $eq, false, false>(x, stat, &params, f, o, leak),
                    (false, true) => upd_core::<$reset, $eq, false, true>(x, stat, &params, f, o, leak),
                    (true, false) => upd_core::<$reset, $eq, true, false>(x, stat, &params, f, o, leak),
                    (true, true) => upd_core::<$reset, $eq, true, true>(x, stat, &params, f, o, leak),
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
        if prep.contiguous {
            return spikes_entries_contiguous(f, l.lanes);
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

/// Spikes and rows with a spike when row r holds neurons `r*lanes .. r*lanes + lanes` (flags
/// 0/1): eight flags at a time, summed by one multiplication and OR-folded within each group
/// of `lanes` bytes.
#[inline(always)]
fn spikes_entries_contiguous(f: &[u8], lanes: usize) -> (u64, u64) {
    if !(lanes <= 8 && 8 % lanes == 0) {
        let e = f.chunks(lanes).map(|c| u64::from(c.iter().fold(0, |a, &v| a | v))).sum();
        return (flag_sum(f), e);
    }
    // Bit 0 of the first byte of every group after folding.
    let low = match lanes {
        1 => 0x0101_0101_0101_0101u64,
        2 => 0x0001_0001_0001_0001,
        4 => 0x0000_0001_0000_0001,
        _ => 1,
    };
    let (mut ns, mut e) = (0u64, 0u64);
    let mut eights = f.chunks_exact(8);
    for b in eights.by_ref() {
        let mut v = u64::from_le_bytes(b.try_into().expect("8 bytes"));
        // Eight 0/1 bytes: their sum lands in the top byte and cannot carry out of it.
        ns += v.wrapping_mul(0x0101_0101_0101_0101) >> 56;
        let mut w = 1;
        while w < lanes {
            v |= v >> (8 * w);
            w *= 2;
        }
        e += u64::from((v & low).count_ones());
    }
    let rest = eights.remainder();
    ns += flag_sum(rest);
    e += rest.chunks(lanes).map(|c| u64::from(c.iter().fold(0, |a, &v| a | v))).sum::<u64>();
    (ns, e)
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
            for lanes in [1usize, 2, 4, 8, 16] {
                let rows = f.chunks(lanes).filter(|c| c.iter().any(|&v| v != 0)).count() as u64;
                assert_eq!(spikes_entries_contiguous(&f, lanes), (want.len() as u64, rows), "len {len} lanes {lanes}");
            }
        }
    }
}
