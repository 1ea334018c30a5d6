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
//! `trunc` rounds toward zero. Unary input spikes count as 1 whatever their value.

use crate::chip::loihi::{ConvGeom, NetxNet};

const M: i64 = 1 << 23;

/// What one inference did, row major by step.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoihiRecord {
    /// Steps run.
    pub steps: usize,
    /// Output spikes, `steps x outputs`.
    pub out_spikes: Vec<u8>,
    /// Per layer: spikes, `steps x neurons`.
    pub spikes: Vec<Vec<u8>>,
    /// Per layer: currents `u` after the step.
    pub u: Vec<Vec<i32>>,
    /// Per layer: voltages `v` after the step (after the reset).
    pub v: Vec<Vec<i32>>,
    /// Synaptic events per layer: non-zero inputs times their targets.
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

/// Runs `net` on `inputs` (`steps x input_numel` payloads, C order) for `steps` steps.
pub fn run(net: &NetxNet, inputs: &[u8], steps: usize) -> LoihiRecord {
    let nin = net.input_numel();
    let nl = net.layers.len();
    let mut u: Vec<Vec<i64>> = net.layers.iter().map(|l| vec![0; l.neurons()]).collect();
    let mut v = u.clone();
    let mut a_buf = u.clone();
    let mut acc = u.clone();
    let mut rec = LoihiRecord {
        steps,
        spikes: vec![vec![]; nl],
        u: vec![vec![]; nl],
        v: vec![vec![]; nl],
        synops: vec![0; nl],
        ..Default::default()
    };
    let unary = net.input_bits <= 1;
    for t in 0..steps {
        let mut src: Vec<i64> = inputs[t * nin..(t + 1) * nin]
            .iter()
            .map(|&x| if unary { i64::from(x != 0) } else { i64::from(x) })
            .collect();
        for (k, l) in net.layers.iter().enumerate() {
            let n = l.neurons();
            match &l.conv {
                None => {
                    let cols = l.in_features;
                    let sh = l.weight_exp;
                    let acc_k = &mut acc[k];
                    acc_k.iter_mut().for_each(|a| *a = 0);
                    for (j, &s) in src.iter().enumerate() {
                        if s == 0 {
                            continue;
                        }
                        rec.synops[k] += n as u64;
                        for (i, a) in acc_k.iter_mut().enumerate() {
                            *a += l.effective[i * cols + j] * s;
                        }
                    }
                    for a in acc_k.iter_mut() {
                        *a = if sh > 0 { *a << sh } else { *a >> -sh };
                    }
                }
                Some(g) => conv(&src, &l.effective, g, l.shape, &mut acc[k], &mut rec.synops[k]),
            }
            std::mem::swap(&mut a_buf[k], &mut acc[k]);
            // a_buf now holds this step's sum; acc the one to deliver now.
            let vth = l.vth << 6;
            let mut spk = vec![0i64; n];
            for i in 0..n {
                let uu = wrap(decay(u[k][i], l.i_decay) + (acc[k][i] << 6));
                let vv = (decay(v[k][i], l.v_decay) + uu + (l.bias[i] << 6)).clamp(-(M - 1), M - 1);
                let s = vv > vth;
                u[k][i] = uu;
                v[k][i] = if s { 0 } else { vv };
                spk[i] = i64::from(s);
            }
            rec.spikes[k].extend(spk.iter().map(|&s| s as u8));
            rec.u[k].extend(u[k].iter().map(|&x| x as i32));
            rec.v[k].extend(v[k].iter().map(|&x| x as i32));
            src = spk;
        }
        rec.out_spikes.extend(src.iter().map(|&s| s as u8));
    }
    rec
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
