//! The fast path's update passes: a plain layer (not saturating, not current-based, i32
//! parameters) in one branch-free sweep ([`upd_core`]) over its fired flags, small layers
//! over all the pass's samples at once; other layers neuron by neuron on the general path's
//! [`Engine::update`]. Then each sample's spikes, event entries and, where a consumer reads
//! one, its event list.

use crate::ir::ResetMode;
use crate::quant::Leak;

use super::super::account::{Account, UpdPhase};
use super::super::types::{Engine, Event, LayerPrep, Lists, RowFold, kept_events};
use super::super::word::Word;
use super::{Pass, SWEEP_SAMPLES_BELOW, part};

impl Engine<'_> {
    /// The update pass of layer `k` at step `t` for the pass's active samples, each reported
    /// to its account.
    #[inline(always)]
    pub(super) fn update_pass<T: Word>(
        &self,
        k: usize,
        t: usize,
        last: bool,
        ps: &mut Pass<T>,
        acs: &mut [Account],
        active: &[usize],
    ) -> Option<()> {
        for &s in active {
            acs[s].upd(k, t);
        }
        if !self.plain[k] {
            return self.update_neurons(k, t, last, ps, acs, active);
        }
        let l = &self.plan.layers[k];
        let p = self.plan.rules.leak_bits();
        let nb = acs.len();
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
                let b = &self.prep[k].leak_full;
                self.upd_block(k, t, ps, nb, active, |x: T, i| x.mul_round(b[i], p))
            }
        }
        // The RTL clears the state after the last step; a pass's state is cleared when the
        // next pass starts instead ([`Pass::reset`]), as nothing reads it in between.
        self.after_sweep(k, t, ps, acs, active);
        Some(())
    }

    /// A layer that is not plain, neuron by neuron on the general path's update (wide passes
    /// only), its fired flags set from the events.
    #[inline(always)]
    fn update_neurons<T: Word>(
        &self,
        k: usize,
        t: usize,
        last: bool,
        ps: &mut Pass<T>,
        acs: &mut [Account],
        active: &[usize],
    ) -> Option<()> {
        let l = &self.plan.layers[k];
        let n = l.neurons();
        let is_out = k == self.plan.output.layer;
        for &s in active {
            let Pass { x, s: sv, y, fired, lists, spikes, entries, listed, out, .. } = ps;
            let list = &mut lists[k][s];
            out.clear();
            out.resize(if is_out { n } else { 0 }, 0);
            let (xw, sw, yw) = (part(&mut x[k], s, n), part(&mut sv[k], s, n), part(&mut y[k], s, n));
            let u = self.update(k, t, last, (T::wide(xw)?, T::wide(sw)?, T::wide(yw)?), list, out, None);
            let f = &mut fired[k][s * n..(s + 1) * n];
            f.fill(0);
            let [_, h, w] = l.shape;
            for &(c, yy, xx, _) in list.iter() {
                f[(c * h + yy) * w + xx] = 1;
            }
            spikes[k][s] = list.len() as u64;
            entries[k][s] = u.entries;
            listed[k][s] = kept_events(self.kept[k].as_deref(), w, list);
            if is_out {
                acs[s].row(t).copy_from_slice(out);
            }
            acs[s].updated(k, u);
        }
        Some(())
    }

    /// After a plain layer's sweep: each active sample's spikes, event entries and (where a
    /// consumer reads one) event list, from its fired flags.
    #[inline(always)]
    fn after_sweep<T: Word>(&self, k: usize, t: usize, ps: &mut Pass<T>, acs: &mut [Account], active: &[usize]) {
        let l = &self.plan.layers[k];
        let n = l.neurons();
        let is_out = k == self.plan.output.layer;
        let prep = &self.prep[k];
        let spiking = l.spiking();
        for &s in active {
            let Pass { fired, ovf_s, spikes, entries, listed, lists, scratch, .. } = ps;
            let f = &fired[k][s * n..(s + 1) * n];
            let (ns, e) = if spiking { self.spikes_entries(k, f, &mut scratch.orbuf) } else { (0, 0) };
            // A list that keeps only some positions: its events and entries are those of the
            // flags there.
            let (nl, e) = match self.kept[k].as_deref() {
                Some(kp) if spiking && ns > 0 => {
                    let mut m = std::mem::take(&mut scratch.kept);
                    m.clear();
                    m.extend(
                        f.chunks_exact(kp.len())
                            .flat_map(|plane| plane.iter().zip(kp).map(|(&v, &on)| v & u8::from(on))),
                    );
                    let r = self.spikes_entries(k, &m, &mut scratch.orbuf);
                    scratch.kept = m;
                    r
                }
                _ => (ns, e),
            };
            listed[k][s] = nl;
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
                for (o, &v) in acs[s].row(t).iter_mut().zip(f) {
                    *o = i64::from(v);
                }
            }
            acs[s].updated(k, UpdPhase { spikes: ns, entries: e, ovf: ovf_s[s], sat: 0 });
        }
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

/// Per-neuron parameters of one update pass (slices of length n).
struct UpdParams<'a, T> {
    thr: &'a [i32],
    bias: &'a [i32],
    bias_late: &'a [i32],
    vreset: &'a [i32],
    hi: T,
    lo: T,
    spiking: bool,
}

/// The branch-free neuron update: V = x + static + biases (`EXTRA`; else every term is 0),
/// fire, reset (`RESET`: 0 zero, 1 subtract, 2 subtract-undecayed), decay; writes the next x,
/// the fired flags and (`OVF`) per neuron the number of values outside the membrane width
/// (`ovf`), and returns their sum.
#[inline(always)]
fn upd_core<const RESET: u8, const EQ: bool, const EXTRA: bool, const OVF: bool, T: Word>(
    x: &mut [T],
    stat: &[T],
    p: &UpdParams<T>,
    fired: &mut [u8],
    ovf: &mut [u8],
    leak: impl Fn(T, usize) -> T,
) -> u64 {
    let n = x.len();
    let (stat, thr, bias, bl, vr, fired, ovf) =
        (&stat[..n], &p.thr[..n], &p.bias[..n], &p.bias_late[..n], &p.vreset[..n], &mut fired[..n], &mut ovf[..n]);
    let mut overflows = 0u64;
    // Counts are summed in the state's own word (lanes as wide as the state's), at most
    // 2 * UPD_CHUNK per chunk.
    for c0 in (0..n).step_by(UPD_CHUNK) {
        let mut count = T::default();
        for i in c0..n.min(c0 + UPD_CHUNK) {
            let v = if EXTRA { x[i].add(stat[i]).add(T::of32(bias[i])).add(T::of32(bl[i])) } else { x[i] };
            let th = T::of32(thr[i]);
            let spike = p.spiking & if EQ { v >= th } else { v > th };
            let zero = T::default();
            let vhat = match RESET {
                0 => {
                    if spike {
                        T::of32(vr[i])
                    } else {
                        v
                    }
                }
                1 => v.sub(if spike { th } else { zero }),
                _ => v,
            };
            let mut next = leak(vhat, i);
            if RESET == 2 {
                next = next.sub(if spike { th } else { zero });
            }
            let (ov, on) = (v > p.hi || v < p.lo, next > p.hi || next < p.lo);
            count = count.add(T::of32(i32::from(ov) + i32::from(on)));
            if OVF {
                ovf[i] = u8::from(ov) + u8::from(on);
            }
            x[i] = next;
            fired[i] = u8::from(spike);
        }
        overflows += count.get() as u64;
    }
    overflows
}

/// Neurons per chunk of [`upd_core`]'s overflow counts.
const UPD_CHUNK: usize = 1 << 20;

/// Packs 0/1 flags into a bitset (bit j = flag j).
#[inline(always)]
pub(super) fn pack_flags(f: &[u8], bits: &mut Vec<u64>) {
    bits.clear();
    bits.extend(f.chunks(64).map(flags_mask));
}

/// Sum of 0/1 (or small) byte flags.
#[inline(always)]
fn flag_sum(f: &[u8]) -> u64 {
    // Bytes summed in u16 lanes of 255-byte blocks never overflow.
    f.chunks(255).map(|c| c.iter().map(|&v| u16::from(v)).sum::<u16>() as u64).sum()
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
pub(super) fn flags_mask(chunk: &[u8]) -> u64 {
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
