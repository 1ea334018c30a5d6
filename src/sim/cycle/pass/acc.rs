//! The fast path's ACC phases: every active sample's accumulation of a projection, with the
//! kernel its [`Fast`] form and source allow.

use crate::quant::{ProjKind, Source};

use super::super::account::{AccPhase, Account, Synapses};
use super::super::kernels;
use super::super::packed::{conv_binary, conv_cols, dense_bits, dense_planes, planes_of};
use super::super::types::{Engine, Event, Fast, PoolDense, Scratch, conv_geo, out_of_range, target_state};
use super::super::word::Word;
use super::update::{flags_mask, pack_flags};
use super::{Pass, part};

/// A binary convolution whose source has fewer than 1/EVENT_DENSITY of its neurons spiking
/// runs event by event, else packed (the packed kernel was faster on the ResNet-18-like model
/// at 10% activity already).
const EVENT_DENSITY: u64 = 20;

/// A dense kernel that reads a layer's fired flags ([`Engine::acc_phase`]).
#[derive(Clone, Copy)]
enum FromFlags<'a> {
    /// Binary weights: sign bit rows of `words` words.
    Bits(&'a [u64], usize),
    /// Weight columns, one per source neuron.
    Cols(&'a [i32]),
}

impl Engine<'_> {
    /// The ACC phase of projection `pi` into layer `k` at step `t` for every active sample,
    /// each reported to its account.
    #[inline(always)]
    pub(super) fn acc_phase<T: Word>(
        &self,
        k: usize,
        pi: usize,
        t: usize,
        ps: &mut Pass<T>,
        acs: &mut [Account],
        active: &[usize],
    ) -> Option<()> {
        let l = &self.plan.layers[k];
        let p = &l.projections[pi];
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
            self.acc_from_flags(k, pi, t, src, kernel, ps, acs, active);
            return Some(());
        }
        let kept = self.kept_by(k, pi).is_some();
        for &s in active {
            let ne = match p.source {
                Source::Input => ps.in_n[s],
                // From a list that keeps only some positions, the events it holds (the others
                // have no target here).
                Source::Layer(src) if kept => ps.listed[src][s],
                Source::Layer(src) => ps.spikes[src][s],
            };
            let beats = self.sample_beats(k, pi, s, ne, ps);
            let reads = match p.source {
                Source::Layer(src) => ps.entries[src][s],
                Source::Input => 0,
            };
            let (syn, ovf) = self.acc_sample(k, pi, s, ne, ps)?;
            acs[s].acc(k, pi, t, AccPhase { events: ne, beats, reads, syn, ovf });
        }
        Some(())
    }

    /// [`Engine::acc_phase`] of a dense projection from layer `src`'s fired flags.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn acc_from_flags<T: Word>(
        &self,
        k: usize,
        pi: usize,
        t: usize,
        src: usize,
        kernel: FromFlags,
        ps: &mut Pass<T>,
        acs: &mut [Account],
        active: &[usize],
    ) {
        let l = &self.plan.layers[k];
        let p = &l.projections[pi];
        let (bpe, _) = self.beats[k][pi];
        let (n, ns) = (l.neurons(), self.plan.layers[src].neurons());
        let Pass { x, s: sv, y, fired, spikes, entries, scratch, .. } = ps;
        for &s in active {
            let ne = spikes[src][s];
            let (dst, bits) = target_state(l, p, part(&mut x[k], s, n), part(&mut sv[k], s, n), part(&mut y[k], s, n));
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
            let syn = Synapses { ops: ne * n as u64, rows: bpe * ne, sat: 0 };
            acs[s].acc(k, pi, t, AccPhase { events: ne, beats: bpe * ne, reads: entries[src][s], syn, ovf });
        }
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
    fn acc_sample<T: Word>(&self, k: usize, pi: usize, s: usize, ne: u64, ps: &mut Pass<T>) -> Option<(Synapses, u64)> {
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
        let (ops, rows) = match (&p.kind, &self.fast[k][pi], p.source) {
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
            (ProjKind::Dense { cols }, Fast::PoolDense(pd), src) => {
                // A plain source's events are its fired flags (no list is built for it).
                let flags = match src {
                    Source::Layer(src) if self.plain[src] => {
                        let ns = plan.layers[src].neurons();
                        Some(&fired[src][s * ns..(s + 1) * ns])
                    }
                    _ => None,
                };
                let valid = pool_dense(pd, *cols, (sh, sw), events, flags, shift, T::wide(dst)?, scratch);
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
                let syn = self.scatter(k, pi, events, T::wide(dst)?, bits);
                sat = syn.sat;
                (syn.ops, syn.rows)
            }
        };
        let ovf = if l.saturate { 0 } else { out_of_range(dst, bits) };
        Some((Synapses { ops, rows, sat }, ovf))
    }
}

/// A dense projection after pre-pooling ([`PoolDense`]), `cols` pooled inputs from a
/// `(sh, sw)` source: the pooled input counts (each valid candidate window of an event adds
/// its value), then one dot product per neuron, in i32 when the sums cannot overflow.
/// `flags`: the source's fired flags when it keeps no list. Returns the valid candidates.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn pool_dense(
    pd: &PoolDense,
    cols: usize,
    (sh, sw): (usize, usize),
    events: &[Event],
    flags: Option<&[u8]>,
    shift: u32,
    dst: &mut [i64],
    scratch: &mut Scratch,
) -> u64 {
    let PoolDense { wr, table, start, members, mstart, pooled, fits32 } = pd;
    let pooled = *pooled;
    let mut valid = 0u64;
    // Spike inputs: each pooled input counts the fired flags in its window (no
    // branch per spike); every (spike, window) pair is one valid candidate.
    let windows = flags.map(|f| {
        let counts = &mut scratch.cnt32;
        counts.clear();
        counts.resize(cols, 0);
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
            counts.resize(cols, 0);
            for &(c, yy, xx, _) in events {
                let q = yy * sw + xx;
                for &pp in &table[start[q] as usize..start[q + 1] as usize] {
                    counts[c * pooled + pp as usize] += 1;
                    valid += 1;
                }
            }
        }
        if valid > 0 {
            for (d, row) in dst.iter_mut().zip(wr.chunks_exact(cols)) {
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
                counts.resize(cols, 0);
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
            for (d, row) in dst.iter_mut().zip(wr.chunks_exact(cols)) {
                let dot: i64 = row.iter().zip(counts.iter()).map(|(&w, &c)| i64::from(w) * c).sum();
                *d += dot << shift;
            }
        }
    }
    valid
}
