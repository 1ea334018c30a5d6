//! Loihi's CUBA neurons, integer for integer: what Lava's fixed-point models (lava-nc 0.10.0,
//! `Loihi2SimCfg(select_tag="fixed_pt")`: `lava/proc/lif/models.py`, `dense/models.py`,
//! `conv/models.py`) compute for a netx network, and so, as Lava documents it, what Loihi
//! computes. Lava states this model is bit-accurate to Loihi 1's CUBA neuron; whether Loihi 2
//! matches it can only be confirmed with Intel's closed tools.
//!
//! Per step `t`, layer by layer in order (`M = 2^23`):
//! 1. the layer's synapses deliver `a`, what they accumulated at step `t - 1`, and accumulate
//!    this step's spikes `s` of the layer below (or the input payloads):
//!    dense `(W s) >> -exp` (arithmetic), conv `clamp(conv(W, s), -M, M - 1)`;
//! 2. `u = wrap(trunc(u (4096 - iDecay) / 4096) + (a << 6))`, wrapping once into
//!    `(-M, M]` (a value above `M` loses `2M`, one at or below `-M` gains `2M`);
//! 3. `v = clip(trunc(v (4096 - vDecay) / 4096) + u + (bias << 6), -(M - 1), M - 1)`;
//! 4. spike when `v > vThMant << 6`, then `v = 0` (`u` is kept).
//!
//! A recurrent layer (netx `dense_rec`) has a second Dense from its own spikes: at step `t` it
//! delivers `(W_rec s) >> -exp` of the layer's spikes at `t - 1`, added to `a` (each of the
//! two sums shifted on its own). A multi-spike layer's units ([`crate::chip::loihi::Units`])
//! add to `a` their neuron's constant drive and `-theta` times the number of its units that
//! spiked at `t - 1`.
//!
//! `trunc` rounds toward zero. Unary input spikes count as 1 whatever their value.
//!
//! Samples run back to back as one stream of `T` steps each, as netx runs them with
//! `reset_interval = T` (LIFReset) ([`run_stream`]). Layer `k` (0-based) handles a sample's
//! model step `t` at stream step `i T + t + k + 1` and clears its `u` and `v` at every stream
//! step `k + 1 (mod T)`: exactly when its input of a sample's model step 0 arrives. Every
//! layer thus starts every sample from zero and a sample's steps never see another sample:
//! a sample gives the same `u`, `v` and spikes whether it runs alone or after any others.
//! The stream ends with `D` zero steps (`D` layers) so that the last sample reaches the
//! output; a layer's steps outside every sample's window (the first `k + 1`, the last
//! `D - 1 - k`) belong to no sample. The reset clears `u` and `v` but not a recurrent
//! synapse's buffer, which would carry a sample's last spikes into the next sample's first
//! step: the host clears that buffer after every stream step `k (mod T)` of a recurrent layer
//! `k`, as run_lava.py does between chunks of the run.

use crate::chip::loihi::{ConvGeom, NetxNet};

const M: i64 = 1 << 23;

/// What one sample did on the chip, row major by step: each layer over its own window of
/// the sample's model steps (layer `k`'s step `t` is the stream's step `i T + t + k + 1`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoihiRecord {
    /// Model steps recorded.
    pub steps: usize,
    /// Output spikes, `steps x outputs` (the last layer's spikes).
    pub out_spikes: Vec<u8>,
    /// Per layer: spikes, `steps x neurons`.
    pub spikes: Vec<Vec<u8>>,
    /// Per layer: currents `u` after the step.
    pub u: Vec<Vec<i32>>,
    /// Per layer: voltages `v` after the step (after the reset).
    pub v: Vec<Vec<i32>>,
    /// Synaptic events per layer: non-zero inputs of the sample's steps times their targets.
    pub synops: Vec<u64>,
}

/// `x (4096 - d) / 4096`, rounded toward zero.
#[inline]
fn decay(x: i64, d: i64) -> i64 {
    let p = x * (4096 - d);
    p.signum() * (p.abs() >> 12)
}

/// Lava's 24-bit wrap of the current.
#[inline]
fn wrap(x: i64) -> i64 {
    let w = if x > M { x - 2 * M } else { x };
    if w <= -M { x + 2 * M } else { w }
}

/// Cross-correlation of `s` (C, H, W) with `w` (O, C/groups, kh, kw), as `torch.conv2d`.
fn conv(s: &[i64], w: &[i64], g: &ConvGeom, out: [usize; 3], acc: &mut [i64], synops: &mut u64) {
    let [ci, ih, iw] = g.in_shape;
    let [co, oh, ow] = out;
    let (cig, cog) = (ci / g.groups, co / g.groups);
    let [kh, kw] = g.kernel;
    acc.iter_mut().for_each(|a| *a = 0);
    for c in 0..ci {
        let grp = c / cig;
        for y in 0..ih {
            for x in 0..iw {
                let sv = s[(c * ih + y) * iw + x];
                if sv == 0 {
                    continue;
                }
                // Output positions whose window holds (y, x) at kernel offset (ky, kx).
                for ky in 0..kh {
                    let ty = y + g.padding[0];
                    let Some(oy) = ty.checked_sub(ky * g.dilation[0]) else { continue };
                    if oy % g.stride[0] != 0 || oy / g.stride[0] >= oh {
                        continue;
                    }
                    for kx in 0..kw {
                        let tx = x + g.padding[1];
                        let Some(ox) = tx.checked_sub(kx * g.dilation[1]) else { continue };
                        if ox % g.stride[1] != 0 || ox / g.stride[1] >= ow {
                            continue;
                        }
                        let (oy, ox) = (oy / g.stride[0], ox / g.stride[1]);
                        for o in grp * cog..(grp + 1) * cog {
                            let wv = w[((o * cig + (c - grp * cig)) * kh + ky) * kw + kx];
                            acc[(o * oh + oy) * ow + ox] += wv * sv;
                            *synops += 1;
                        }
                    }
                }
            }
        }
    }
    for a in acc.iter_mut() {
        *a = (*a).clamp(-M, M - 1);
    }
}

/// The chip's state between steps.
struct State {
    u: Vec<Vec<i64>>,
    v: Vec<Vec<i64>>,
    a_buf: Vec<Vec<i64>>,
    acc: Vec<Vec<i64>>,
    /// A recurrent layer's own synapse, or a unit layer's recurrence: what it delivers next
    /// step.
    rec_buf: Vec<Vec<i64>>,
    /// Steps run so far (Lava's `time_step` is this plus one).
    steps: usize,
}

impl State {
    fn new(net: &NetxNet) -> State {
        let z: Vec<Vec<i64>> = net.layers.iter().map(|l| vec![0; l.neurons()]).collect();
        State { u: z.clone(), v: z.clone(), a_buf: z.clone(), acc: z.clone(), rec_buf: z, steps: 0 }
    }

    /// One step on the input row `row`; `reset`: netx's `reset_interval`. Returns each
    /// layer's spikes, the synaptic events its synapses accumulated this step from the layer
    /// below, and those its recurrent synapses accumulated from its own spikes.
    fn step(&mut self, net: &NetxNet, row: &[u8], reset: Option<usize>) -> (Vec<Vec<u8>>, Vec<u64>, Vec<u64>) {
        let unary = net.input_bits <= 1;
        let time_step = self.steps + 1;
        self.steps += 1;
        let mut src: Vec<i64> = row.iter().map(|&x| if unary { i64::from(x != 0) } else { i64::from(x) }).collect();
        let mut spikes = Vec::with_capacity(net.layers.len());
        let mut synops = vec![0u64; net.layers.len()];
        let mut rec_synops = vec![0u64; net.layers.len()];
        for (k, l) in net.layers.iter().enumerate() {
            let n = l.neurons();
            match &l.conv {
                None => {
                    let cols = l.in_features;
                    let sh = l.weight_exp;
                    let acc_k = &mut self.acc[k];
                    acc_k.iter_mut().for_each(|a| *a = 0);
                    for (j, &s) in src.iter().enumerate() {
                        if s == 0 {
                            continue;
                        }
                        synops[k] += n as u64;
                        for (i, a) in acc_k.iter_mut().enumerate() {
                            *a += l.effective[i * cols + j] * s;
                        }
                    }
                    for a in acc_k.iter_mut() {
                        *a = if sh > 0 { *a << sh } else { *a >> -sh };
                    }
                }
                Some(g) => conv(&src, &l.effective, g, l.shape, &mut self.acc[k], &mut synops[k]),
            }
            // a_buf now holds this step's sum (delivered next step); acc the one delivered now.
            std::mem::swap(&mut self.a_buf[k], &mut self.acc[k]);
            if let Some(every) = reset
                && time_step % every == reset_offset(k) % every
            {
                self.u[k].iter_mut().for_each(|x| *x = 0);
                self.v[k].iter_mut().for_each(|x| *x = 0);
            }
            let vth = l.vth << 6;
            let (u, v, a, ar) = (&mut self.u[k], &mut self.v[k], &self.acc[k], &self.rec_buf[k]);
            let drive = |i: usize| l.units.as_ref().map_or(0, |x| x.drive[i]);
            let spk: Vec<i64> = (0..n)
                .map(|i| {
                    let uu = wrap(decay(u[i], l.i_decay) + ((a[i] + ar[i] + drive(i)) << 6));
                    let vv = (decay(v[i], l.v_decay) + uu + (l.bias[i] << 6)).clamp(-(M - 1), M - 1);
                    let s = vv > vth;
                    u[i] = uu;
                    v[i] = if s { 0 } else { vv };
                    i64::from(s)
                })
                .collect();
            if let Some(x) = &l.units {
                // -theta per unit of the neuron that spiked, to each of its units.
                let buf = &mut self.rec_buf[k];
                let mut fired = vec![0i64; n / x.k.max(1)];
                for (uidx, &s) in spk.iter().enumerate() {
                    if s != 0 {
                        fired[crate::chip::loihi::unit_of(l.shape, x.k, uidx).0] += 1;
                        rec_synops[k] += x.k as u64;
                    }
                }
                for (uidx, b) in buf.iter_mut().enumerate() {
                    *b = -x.theta * fired[crate::chip::loihi::unit_of(l.shape, x.k, uidx).0];
                }
            }
            if let Some(r) = &l.rec {
                let sh = l.weight_exp;
                let buf = &mut self.rec_buf[k];
                buf.iter_mut().for_each(|a| *a = 0);
                for (j, _) in spk.iter().enumerate().filter(|&(_, &s)| s != 0) {
                    rec_synops[k] += n as u64;
                    for (i, a) in buf.iter_mut().enumerate() {
                        *a += r.effective[i * n + j];
                    }
                }
                for a in buf.iter_mut() {
                    *a = if sh > 0 { *a << sh } else { *a >> -sh };
                }
            }
            spikes.push(spk.iter().map(|&s| s as u8).collect());
            src = spk;
        }
        (spikes, synops, rec_synops)
    }

    /// What the host does between samples: clears the recurrent synapses' buffers of the
    /// layers whose next step starts a sample's window (stream step `c`, `steps` per sample).
    fn clear_recurrent(&mut self, net: &NetxNet, c: usize, steps: usize) {
        for (k, l) in net.layers.iter().enumerate() {
            if (l.rec.is_some() || l.units.is_some()) && c % steps == k % steps {
                self.rec_buf[k].iter_mut().for_each(|a| *a = 0);
            }
        }
    }

    /// Appends layer `k`'s state after a step, and its spikes, to `rec`.
    fn record_layer(&self, k: usize, spikes: &[u8], rec: &mut LoihiRecord) {
        rec.spikes[k].extend_from_slice(spikes);
        rec.u[k].extend(self.u[k].iter().map(|&x| x as i32));
        rec.v[k].extend(self.v[k].iter().map(|&x| x as i32));
    }
}

/// The `reset_offset` netx gives layer `k` when the network is built with
/// `reset_offset=RESET_OFFSET` (lava-dl 0.6.0 `netx/hdf5.py`: one more than asked for the
/// first layer, one more per dense or conv layer). Lava's LIFReset compares it, reduced modulo
/// the interval, with its 1-based `time_step` (`lava/proc/lif/models.py`).
pub fn reset_offset(k: usize) -> usize {
    RESET_OFFSET + 1 + k
}

pub use crate::chip::loihi::RESET_OFFSET;

fn record(net: &NetxNet, steps: usize) -> LoihiRecord {
    let nl = net.layers.len();
    LoihiRecord {
        steps,
        spikes: vec![vec![]; nl],
        u: vec![vec![]; nl],
        v: vec![vec![]; nl],
        synops: vec![0; nl],
        ..Default::default()
    }
}

/// Runs `net` on `inputs` (`steps x input_numel` payloads, C order) for `steps` steps from a
/// zero state, without resets: one record of every layer at every step (the output runs `D`
/// steps behind the input).
pub fn run(net: &NetxNet, inputs: &[u8], steps: usize) -> LoihiRecord {
    let nin = net.input_numel();
    let mut st = State::new(net);
    let mut rec = record(net, steps);
    for t in 0..steps {
        let (spikes, synops, rec_synops) = st.step(net, &inputs[t * nin..(t + 1) * nin], None);
        for (k, s) in spikes.iter().enumerate() {
            st.record_layer(k, s, &mut rec);
            rec.synops[k] += synops[k] + rec_synops[k];
        }
        if let Some(last) = spikes.last() {
            rec.out_spikes.extend_from_slice(last);
        }
    }
    rec
}

/// Runs `n` samples of `steps` model steps each (`inputs` is `n x steps x input_numel`) as
/// one stream, as Lava runs the export: `n steps + D` chip steps with netx's periodic reset
/// (`reset_interval = steps`, `reset_offset =` [`RESET_OFFSET`]), the last `D` on zero input.
/// One record per sample, each layer over its window of the sample's model steps; its
/// synaptic events are those of the layer below's window (the inputs for the first layer).
pub fn run_stream(net: &NetxNet, inputs: &[u8], n: usize, steps: usize) -> Vec<LoihiRecord> {
    let nin = net.input_numel();
    let depth = net.layers.len();
    let mut st = State::new(net);
    let mut recs: Vec<LoihiRecord> = (0..n).map(|_| record(net, steps)).collect();
    if steps == 0 {
        return recs;
    }
    let zero = vec![0u8; nin];
    // The sample whose window holds stream step `c` when the window starts at `start`.
    let owner = |c: usize, start: usize| c.checked_sub(start).map(|x| x / steps).filter(|&i| i < n);
    for c in 0..n * steps + depth {
        let row = if c < n * steps { &inputs[c * nin..(c + 1) * nin] } else { &zero[..] };
        let (spikes, synops, rec_synops) = st.step(net, row, Some(steps));
        for (k, s) in spikes.iter().enumerate() {
            if let Some(i) = owner(c, k + 1) {
                st.record_layer(k, s, &mut recs[i]);
                recs[i].synops[k] += rec_synops[k];
            }
            if let Some(i) = owner(c, k) {
                recs[i].synops[k] += synops[k];
            }
        }
        st.clear_recurrent(net, c, steps);
    }
    for r in &mut recs {
        r.out_spikes = r.spikes.last().cloned().unwrap_or_default();
    }
    recs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decay_truncates_toward_zero_and_wrap_is_lavas() {
        assert_eq!(decay(-4097, 1), -4095); // -4097 * 4095 / 4096 = -4095.9998
        assert_eq!(decay(4097, 2048), 2048);
        assert_eq!(decay(100, 4096), 0);
        assert_eq!(wrap(M + 5), -M + 5);
        assert_eq!(wrap(M), M);
        assert_eq!(wrap(-M), M);
        assert_eq!(wrap(-M - 3), M - 3);
    }
}
