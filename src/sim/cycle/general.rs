//! The general path: one sample at a time, every event scattered in the RTL's order and
//! every neuron updated on its own, saturating writes clamped one by one. It runs traced
//! samples ([`super::run_traced`]) and is the reference the fast path ([`super::pass`]) is
//! tested against; the fast path also calls its kernels ([`Engine::scatter`],
//! [`Engine::update`]) for projections and layers without a packed form.

use crate::data::InputBatch;
use crate::hw::schedule::{self, beats_per_event};
use crate::hw::{Layer, Plan};
use crate::ir::ResetMode;
use crate::quant::{Leak, ProjKind, Projection, Source, at};

use super::account::{AccPhase, Account, Synapses, UpdPhase};
use super::report::{SampleResult, Tracer};
use super::types::{Engine, Event, Fast, events_of, kept_events, out_of_range, pool_candidates, target_state};

/// One sample's state on the general path.
pub(super) struct SampleState {
    x: Vec<Vec<i64>>,
    s: Vec<Vec<i64>>,
    y: Vec<Vec<i64>>,
    /// Current event list of each layer (its last update), in RTL order.
    ev: Vec<Vec<Event>>,
    /// Event entries (rows with a spike) of each layer's current list.
    ev_entries: Vec<u64>,
}

impl SampleState {
    pub(super) fn new(plan: &Plan) -> Self {
        let nl = plan.layers.len();
        SampleState {
            x: plan.layers.iter().map(|l| vec![0; l.neurons()]).collect(),
            s: plan.layers.iter().map(|l| if l.has_static() { vec![0; l.neurons()] } else { vec![] }).collect(),
            y: plan.layers.iter().map(|l| if l.kind.cuba() { vec![0; l.neurons()] } else { vec![] }).collect(),
            ev: vec![vec![]; nl],
            ev_entries: vec![0; nl],
        }
    }
}

impl Engine<'_> {
    /// One sample on the general path (see [`super::run_traced`]); every phase is reported to
    /// the sample's [`Account`].
    pub(super) fn sample(
        &self,
        st: &mut SampleState,
        batch: &InputBatch,
        i: usize,
        steps: usize,
        tracer: &mut dyn Tracer,
    ) -> SampleResult {
        if self.layer_major {
            return self.sample_layer_major(st, batch, i, steps, tracer);
        }
        let plan = self.plan;
        let mut acct = Account::new(self, steps);
        let steps = acct.steps();
        let out_l = plan.output.layer;
        let (mut in_q, mut in_ev): (Vec<i64>, Vec<Event>) = (vec![], vec![]);
        let mut out = vec![0i64; plan.layers[out_l].neurons()];
        for t in 0..steps {
            if t == 0 || plan.input.per_step {
                self.input_values(batch, i, t, &mut in_q);
                events_of(&in_q, plan.input.shape, &mut in_ev);
                acct.load(t, &in_q, in_ev.len() as u64);
            }
            let last = t + 1 == steps;
            for k in (0..plan.layers.len()).filter(|&k| self.runs(k)) {
                for (pi, p) in plan.layers[k].projections.iter().enumerate() {
                    if !self.proj_runs(k, pi, t) {
                        continue;
                    }
                    // Take the source's list out while the phase mutates the state (a layer may
                    // read its own previous-step events).
                    let events = match p.source {
                        Source::Input => std::mem::take(&mut in_ev),
                        Source::Layer(s) => std::mem::take(&mut st.ev[s]),
                    };
                    let reads = match p.source {
                        Source::Layer(s) => st.ev_entries[s],
                        Source::Input => 0,
                    };
                    acct.acc(k, pi, t, self.acc_general(st, k, pi, &events, reads));
                    match p.source {
                        Source::Input => in_ev = events,
                        Source::Layer(s) => st.ev[s] = events,
                    }
                }
                let go = acct.upd(k, t);
                let SampleState { x, s, y, ev, ev_entries } = st;
                let o: &mut [i64] = if k == out_l { &mut out } else { &mut [] };
                let u =
                    self.update(k, t, last, (&mut x[k], &mut s[k], &mut y[k]), &mut ev[k], o, Some((go, &mut *tracer)));
                ev_entries[k] = u.entries;
                acct.updated(k, u);
                if k == out_l {
                    acct.row(t).copy_from_slice(&out);
                }
            }
            let (end, exited) = acct.out(t);
            tracer.step(end, t);
            if exited {
                break;
            }
        }
        acct.result()
    }

    /// [`Self::sample`] layer-major: layer k runs steps 0..T before layer k + 1, each phase
    /// reading its sources' event lists of the same step (kept per layer and step) and the
    /// input of that step. Plans that read a previous step or exit early are refused before
    /// (`hw::schedule::layer_major_order`), so every phase reads what it reads step-major.
    fn sample_layer_major(
        &self,
        st: &mut SampleState,
        batch: &InputBatch,
        i: usize,
        steps: usize,
        tracer: &mut dyn Tracer,
    ) -> SampleResult {
        let plan = self.plan;
        let mut acct = Account::new(self, steps);
        let steps = acct.steps();
        let out_l = plan.output.layer;
        // Every step's input events (a direct input's, loaded once, serve every step).
        let mut inputs: Vec<Vec<Event>> = Vec::with_capacity(steps);
        let mut in_q = vec![];
        for t in 0..steps {
            if t == 0 || plan.input.per_step {
                self.input_values(batch, i, t, &mut in_q);
                let mut ev = vec![];
                events_of(&in_q, plan.input.shape, &mut ev);
                acct.load(t, &in_q, ev.len() as u64);
                inputs.push(ev);
            }
        }
        // Per layer and step: the event list its update wrote, and its entries.
        let mut lists: Vec<Vec<(Vec<Event>, u64)>> = vec![Vec::with_capacity(steps); plan.layers.len()];
        let mut out = vec![0i64; plan.layers[out_l].neurons()];
        for k in 0..plan.layers.len() {
            if !self.runs(k) {
                // Nothing reads a layer that does not run: its lists stay empty.
                lists[k] = vec![(vec![], 0); steps];
                continue;
            }
            // A layer in tiles, or fused: its neurons' cycles are known once it has run.
            let tiled = acct.defers(k);
            let mut held = Held::default();
            for t in 0..steps {
                for (pi, p) in plan.layers[k].projections.iter().enumerate() {
                    if !self.proj_runs(k, pi, t) {
                        continue;
                    }
                    let (events, reads) = match p.source {
                        Source::Input => (&inputs[t.min(inputs.len() - 1)], 0),
                        Source::Layer(s) => (&lists[s][t].0, lists[s][t].1),
                    };
                    acct.acc(k, pi, t, self.acc_general(st, k, pi, events, reads));
                }
                let go = acct.upd(k, t);
                let SampleState { x, s, y, .. } = st;
                let o: &mut [i64] = if k == out_l { &mut out } else { &mut [] };
                let mut ev = vec![];
                let tr: &mut dyn Tracer = if tiled { &mut held } else { &mut *tracer };
                let u =
                    self.update(k, t, t + 1 == steps, (&mut x[k], &mut s[k], &mut y[k]), &mut ev, o, Some((go, tr)));
                lists[k].push((ev, u.entries));
                acct.updated(k, u);
                if k == out_l {
                    acct.row(t).copy_from_slice(&out);
                    let (end, _) = acct.out(t);
                    tracer.step(end, t);
                }
            }
            acct.layer_done(k);
            if tiled {
                held.replay(&acct, plan, k, tracer);
            }
        }
        acct.result()
    }

    /// One sample's ACC phase of projection `pi` into layer `k` on the general path: `events`
    /// from a source whose list has `reads` entries.
    fn acc_general(&self, st: &mut SampleState, k: usize, pi: usize, events: &[Event], reads: u64) -> AccPhase {
        let l = &self.plan.layers[k];
        let p = &l.projections[pi];
        let (dst, bits) = target_state(l, p, &mut st.x[k], &mut st.s[k], &mut st.y[k]);
        let syn = self.scatter(k, pi, events, dst, bits);
        let ovf = if l.saturate { 0 } else { out_of_range(dst, bits) };
        // From a list that keeps only some positions, the events it holds.
        let listed = kept_events(self.kept_by(k, pi), p.src_shape[2], events);
        AccPhase { events: listed, beats: self.phase_beats(k, pi, events), reads, syn, ovf }
    }

    /// The per-event path, in the RTL's order (saturating layers, general weights): adds
    /// `events` of projection `pi` into layer `k`'s state `dst` (width `bits`). Counts
    /// synaptic operations and state row accesses per valid target, and saturated writes.
    #[inline(always)]
    pub(super) fn scatter(&self, k: usize, pi: usize, events: &[Event], dst: &mut [i64], bits: u32) -> Synapses {
        let l = &self.plan.layers[k];
        let p = &l.projections[pi];
        let shift = p.shift;
        let [_, sh, sw] = p.src_shape;
        let mut cands = vec![];
        let sat = l.saturate;
        let add = |d: &mut i64, v: i64, saturated: &mut u64| {
            *d = if sat { clamp(*d + v, bits, saturated) } else { *d + v };
        };
        let mut syn = Synapses::default();
        let cand_n = p.pre_pool.as_ref().map_or(1, |g| (g.candidates()[0] * g.candidates()[1]) as u64);
        let inner = beats_per_event(l, p) / cand_n;
        let mut pooled: Vec<Option<(usize, usize, usize)>> = vec![];
        for &(c, yy, xx, val) in events {
            // Pre-pooling: each candidate window becomes a pooled event.
            pooled.clear();
            match &p.pre_pool {
                Some(g) => {
                    pool_candidates(g, yy, xx, &mut cands);
                    pooled.extend(cands.iter().map(|o| o.map(|(a, b)| (c, a, b))));
                }
                None => pooled.push(Some((c, yy, xx))),
            }
            // A candidate outside the pooled map still costs its beats (counted in `beats`).
            for &(pc, py, px) in pooled.iter().flatten() {
                match (&p.kind, &self.fast[k][pi]) {
                    (ProjKind::Dense { cols }, fast) => {
                        let (ph, pw) = match &p.pre_pool {
                            Some(g) => (g.out[0], g.out[1]),
                            None => (sh, sw),
                        };
                        let j = (pc * ph + py) * pw + px;
                        debug_assert!(j < *cols);
                        let n = l.neurons();
                        match fast {
                            Fast::DenseCols(wc) => {
                                for (d, &w) in dst.iter_mut().zip(&wc[j * n..(j + 1) * n]) {
                                    add(d, (w as i64 * val) << shift, &mut syn.sat);
                                }
                            }
                            // Binary dense on a saturating layer or with pre-pooling: per weight.
                            _ => {
                                for (i, d) in dst.iter_mut().enumerate().take(n) {
                                    add(d, (p.weights.values[i * cols + j] * val) << shift, &mut syn.sat);
                                }
                            }
                        }
                        syn.ops += n as u64;
                        syn.rows += inner;
                    }
                    (ProjKind::Conv { .. }, _) => scatter_conv(l, p, (pc, py, px), val, dst, add, &mut syn),
                    (ProjKind::Pool(g), _) => {
                        pool_candidates(g, py, px, &mut cands);
                        for &(oy, ox) in cands.iter().flatten() {
                            let n = (pc * l.shape[1] + oy) * l.shape[2] + ox;
                            add(&mut dst[n], (p.weights.at(n) * val) << shift, &mut syn.sat);
                            syn.ops += 1;
                            syn.rows += 1;
                        }
                    }
                    (ProjKind::OneToOne, _) => {
                        // Flat index: reshapes keep the C-order element index.
                        let n = (pc * sh + py) * sw + px;
                        add(&mut dst[n], (p.weights.at(n) * val) << shift, &mut syn.sat);
                        syn.ops += 1;
                        syn.rows += 1;
                    }
                }
            }
        }
        syn
    }

    /// The general update pass of layer `k` at step `t` on one sample's state `(x, s, y)`,
    /// neuron by neuron in (row, lane) order: writes the events into `events` in the RTL's
    /// order and the layer's per-neuron output (spikes or V) into `out` when it is not empty;
    /// returns what it counted. The tracer gets every neuron at `start + UPD_HEAD + tail + row`
    /// (`tracer` = (start, tracer): the update's go).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(super) fn update(
        &self,
        k: usize,
        t: usize,
        last: bool,
        (x, s, y): (&mut [i64], &mut [i64], &mut [i64]),
        events: &mut Vec<Event>,
        out: &mut [i64],
        mut tracer: Option<(u64, &mut dyn Tracer)>,
    ) -> UpdPhase {
        let l = &self.plan.layers[k];
        let prep = &self.prep[k];
        let is_out = !out.is_empty();
        events.clear();
        let (late, spiking) = (t > 0, l.spiking());
        let mut u = UpdPhase::default();
        let (kept, pos) = (self.kept[k].as_deref(), l.positions());
        for row in 0..l.rows {
            let mut mask = 0u64;
            let first_event = events.len();
            for lane in 0..l.lanes {
                let slot = prep.slots[row * l.lanes + lane];
                if slot == u32::MAX {
                    continue;
                }
                let i = slot as usize;
                let (v, count) = self.neuron(k, i, late, last, (&mut *x, &mut *s, &mut *y), &mut u);
                let spike = count > 0;
                if spike {
                    mask |= 1 << lane;
                    let (c, yy, xx) = prep.coords[i];
                    events.push((c as usize, yy as usize, xx as usize, count));
                }
                if is_out {
                    out[i] = if spiking { count } else { v };
                }
                if let Some((start, tr)) = tracer.as_mut() {
                    let cycle = *start + schedule::UPD_HEAD + schedule::upd_tail(self.plan) + row as u64;
                    tr.neuron_at(cycle, k, i, t, v, spike);
                }
            }
            if mask != 0 {
                // A row at a position the list does not keep writes no entry.
                u.entries += u64::from(kept.is_none_or(|kp| kp[row % pos]));
                u.spikes += (events.len() - first_event) as u64;
            }
        }
        u
    }

    /// The update of neuron `i` of layer `k` as the RTL's neuron unit computes it: synaptic
    /// current (current-based layers), V = X + static + current + biases (the late bias after
    /// the first step), fire, reset, decay; every value through its width (clamped when the
    /// layer saturates, else counted in `u.ovf` when outside it). The last step leaves the
    /// state zero. Returns V (before the reset) and the spike count: 0 or 1, or for a
    /// multi-spike layer `floor(V / THR)` when it fires.
    #[inline(always)]
    fn neuron(
        &self,
        k: usize,
        i: usize,
        late: bool,
        last: bool,
        (x, s, y): (&mut [i64], &mut [i64], &mut [i64]),
        u: &mut UpdPhase,
    ) -> (i64, i64) {
        let plan = self.plan;
        let l = &plan.layers[k];
        let pr = &l.params;
        let p = plan.rules.leak_bits();
        let sat = l.saturate;
        let has_s = l.s_bits > 0;
        let spiking = l.spiking();
        let mut sc = 0u64;
        let st_val = if has_s { s[i] } else { 0 };
        let mut v;
        if l.kind.cuba() {
            let mut cur = y[i] + st_val + at(&pr.syn_bias, i) + if late { at(&pr.syn_bias_late, i) } else { 0 };
            if sat {
                cur = clamp(cur, l.y_bits, &mut sc);
            } else if !fits(cur, l.y_bits) {
                u.ovf += 1;
            }
            let sl = l.syn_leak.as_ref().expect("cuba layers have a synaptic leak");
            y[i] = if last { 0 } else { leak(sl, cur, p, i) };
            v = x[i] + cur + at(&pr.bias, i) + if late { at(&pr.bias_late, i) } else { 0 };
        } else {
            v = x[i] + st_val + at(&pr.bias, i) + if late { at(&pr.bias_late, i) } else { 0 };
        }
        if sat {
            v = clamp(v, l.v_bits, &mut sc);
        } else if !fits(v, l.v_bits) {
            u.ovf += 1;
        }
        let thr = at(&pr.thr, i);
        let spike = spiking && if plan.fire_on_equal { v >= thr } else { v > thr };
        // A multi-spike layer's THR is positive and a neuron fires only with V >= THR.
        let count = match (spike, l.multi) {
            (false, _) => 0,
            (true, false) => 1,
            (true, true) => v / thr,
        };
        let vhat = match plan.reset {
            ResetMode::Zero if spike => at(&pr.vreset, i),
            ResetMode::Subtract if spike => v - count * thr,
            _ => v,
        };
        let vhat = if pr.vmin.is_empty() { vhat } else { vhat.max(at(&pr.vmin, i)) };
        let mut next = leak(&l.leak, vhat, p, i);
        if spiking && plan.reset == ResetMode::SubtractUndecayed && spike {
            next -= count * thr;
        }
        if sat {
            next = clamp(next, l.v_bits, &mut sc);
        } else if !fits(next, l.v_bits) {
            u.ovf += 1;
        }
        x[i] = if last { 0 } else { next };
        if has_s && last {
            s[i] = 0;
        }
        u.sat += sc;
        (v, count)
    }
}

/// One event `(pc, py, px)` of value `val` of convolution `p` into layer `l`'s state `dst`,
/// kernel taps in (ky, kx) order, output channels of the event's group lowest first; `add`
/// writes (clamping when the layer saturates).
#[inline(always)]
fn scatter_conv(
    l: &Layer,
    p: &Projection,
    (pc, py, px): (usize, usize, usize),
    val: i64,
    dst: &mut [i64],
    add: impl Fn(&mut i64, i64, &mut u64),
    syn: &mut Synapses,
) {
    let ProjKind::Conv { ci, kh, kw, stride, pad, dil, groups, .. } = p.kind else { unreachable!("a convolution") };
    let co = l.shape[0];
    let (oh, ow) = (l.shape[1], l.shape[2]);
    let ci_g = ci / groups;
    let co_g = co / groups;
    let grp = pc / ci_g;
    let cil = pc % ci_g;
    for ky in 0..kh {
        for kx in 0..kw {
            let ny = py as isize + pad[0] as isize - (ky * dil[0]) as isize;
            let nx = px as isize + pad[1] as isize - (kx * dil[1]) as isize;
            let ok = ny >= 0
                && nx >= 0
                && (ny as usize).is_multiple_of(stride[0])
                && (nx as usize).is_multiple_of(stride[1])
                && (ny as usize / stride[0]) < oh
                && (nx as usize / stride[1]) < ow;
            if !ok {
                continue;
            }
            let (oy, ox) = (ny as usize / stride[0], nx as usize / stride[1]);
            for col in 0..co_g {
                let o = grp * co_g + col;
                let w = p.weights.values[((o * ci_g + cil) * kh + ky) * kw + kx];
                add(&mut dst[(o * oh + oy) * ow + ox], (w * val) << p.shift, &mut syn.sat);
            }
            syn.ops += co_g as u64;
            syn.rows += l.ncg as u64;
        }
    }
}

#[inline]
fn fits(v: i64, bits: u32) -> bool {
    v >= -(1i64 << (bits - 1)) && v < (1i64 << (bits - 1))
}

/// `v` clamped to `bits`-bit two's complement; a clamp counts into `sat`.
#[inline]
fn clamp(v: i64, bits: u32, sat: &mut u64) -> i64 {
    let hi = (1i64 << (bits - 1)) - 1;
    let lo = -(1i64 << (bits - 1));
    if v > hi {
        *sat += 1;
        hi
    } else if v < lo {
        *sat += 1;
        lo
    } else {
        v
    }
}

/// Applies a fixed-point decay.
#[inline]
pub fn leak(l: &Leak, x: i64, p: u32, i: usize) -> i64 {
    match l {
        Leak::Zero => 0,
        Leak::One => x,
        Leak::Shift { k } => x - (x >> k),
        Leak::Mul { b } => ((x as i128 * at(b, i) as i128 + (1i128 << (p - 1))) >> p) as i64,
    }
}

/// A layer in tiles' (or a fused layer's) neuron updates, held until it has run (their cycles
/// are known then): each with its cycle from a go of 0, `UPD_HEAD + tail + row`.
#[derive(Default)]
struct Held(Vec<(u64, usize, usize, i64, bool)>);

impl Tracer for Held {
    fn neuron(&mut self, _: u64, _: usize, _: usize, _: i64, _: bool) {
        unreachable!("the engine reports neurons with their step")
    }

    fn neuron_at(&mut self, cycle: u64, _: usize, n: usize, t: usize, v: i64, spike: bool) {
        self.0.push((cycle, n, t, v, spike));
    }

    fn step(&mut self, _: u64, _: usize) {}
}

impl Held {
    /// Reports every held update of layer `k` to `tracer` at its cycle: tile j's rows from
    /// that tile's go at the update's step ([`Account::tile_go`]), tile by tile, step by step.
    fn replay(mut self, acct: &Account, plan: &Plan, k: usize, tracer: &mut dyn Tracer) {
        let head = schedule::UPD_HEAD + schedule::upd_tail(plan);
        let rows = plan.layers[k].tile_rows() as u64;
        let fused = plan.fused(k);
        let at = |&(cycle, _, t, _, _): &(u64, usize, usize, i64, bool)| {
            let row = cycle - head;
            let j = row / rows;
            if fused {
                // Read at its block's pass of step t, written head cycles later.
                acct.fused_read(j as usize, (row - j * rows) as usize, t) + head
            } else {
                acct.tile_go(j as usize, t) + head + row - j * rows
            }
        };
        self.0.sort_by_key(|e| at(e));
        for e in &self.0 {
            tracer.neuron_at(at(e), k, e.1, e.2, e.3, e.4);
        }
    }
}
