//! The Xylo SNN core, integer for integer: what xylosim 0.1.3 (`src/v2/cpp/XyloLayer.cpp`,
//! `XyloIAFNeuron.cpp`) computes for a specification, and so what the chip computes.
//!
//! Per step, in this order:
//! 1. each input channel's event count, capped at 15, adds `int16(w << shift_in)` that many
//!    times to its targets' synaptic current (saturating to 16 bits at every add); the hidden
//!    spikes of the previous step (at most 31 each) reach hidden neurons through the recurrent
//!    matrix and output neurons through the output matrix the same way;
//! 2. every hidden neuron, in index order: each synaptic current `i -= decay(i, dash_syn)`;
//!    `dv = sat16(-decay(v, dash_mem) + sum(i))`, `dv = sat16(dv + bias)`, `v = sat16(v + dv)`;
//!    then while `v >= threshold` and fewer than 31 spikes: one more spike, `v -= threshold`
//!    (16-bit wrapping, as the C++ does);
//! 3. the output neurons the same way with one synaptic current and at most one spike.
//!
//! `decay(x, d) = x >> d` (arithmetic), or +-1 when that is 0 and x is not; `sat16(x + y)`
//! is `x + y` when `|M - x| > |y|` and `M` otherwise, `M` being 32767 for `y >= 0` and -32768
//! for `y < 0` (xylosim's `safe_add`). Hidden neurons have two synaptic currents (the second,
//! with `dash_syn_2`, receives only the weights of a third matrix axis), as rockpool's
//! `XyloSim.from_specification` builds them.

use crate::chip::xylo::XyloSpec;

/// Events per input channel per step the core takes.
pub const MAX_INPUT_EVENTS: u8 = 15;
/// Spikes per hidden neuron per step.
pub const MAX_HIDDEN_SPIKES: u8 = 31;
/// Spikes per output neuron per step.
pub const MAX_OUTPUT_SPIKES: u8 = 1;

/// Everything XyloSim records for one run (`rec` of `XyloSim.evolve(record=True)`), row major
/// by step.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct XyloRecord {
    /// Steps run.
    pub steps: usize,
    /// Output spikes, `steps x n_out`.
    pub out_spikes: Vec<u8>,
    /// Hidden spike counts, `steps x n_hidden` (`rec["Spikes"]`).
    pub spikes: Vec<u8>,
    /// Hidden membranes after the spikes' subtraction (`rec["Vmem"]`).
    pub vmem: Vec<i16>,
    /// Hidden first synaptic currents after their decay (`rec["Isyn"]`).
    pub isyn: Vec<i16>,
    /// Hidden second synaptic currents (`rec["Isyn2"]`, Xylo Audio 2).
    pub isyn2: Vec<i16>,
    /// Output membranes (`rec["Vmem_out"]`).
    pub vmem_out: Vec<i16>,
    /// Output synaptic currents (`rec["Isyn_out"]`).
    pub isyn_out: Vec<i16>,
}

/// xylosim's `safe_add` at 16 bits.
#[inline]
fn sat_add(x: i64, y: i64) -> i64 {
    let max = if y < 0 { -32768 } else { 32767 };
    if (max - x).abs() > y.abs() { x + y } else { max }
}

/// xylosim's `decay`.
#[inline]
fn decay(v: i16, dash: u8) -> i16 {
    // int16 >> dash on the promoted int; dash >= 16 leaves the sign.
    let dv = (i32::from(v) >> u32::from(dash).min(31)) as i16;
    if dv == 0 { v.signum() } else { dv }
}

struct Neuron {
    v: i16,
    i: [i16; 2],
}

impl Neuron {
    /// One `XyloIAFNeuron::evolve`; returns the spikes.
    fn evolve(&mut self, dash_mem: u8, dash_syn: [u8; 2], syns: usize, th: i16, bias: Option<i16>, max: u8) -> u8 {
        let mut total: i64 = 0;
        for (i, &dash) in self.i.iter_mut().zip(&dash_syn).take(syns) {
            *i = i.wrapping_sub(decay(*i, dash));
            total += i64::from(*i);
        }
        let mut dv = (-i32::from(decay(self.v, dash_mem))) as i16;
        dv = sat_add(i64::from(dv), total) as i16;
        if let Some(b) = bias {
            dv = sat_add(i64::from(dv), i64::from(b)) as i16;
        }
        self.v = sat_add(i64::from(self.v), i64::from(dv)) as i16;
        let mut n = 0u8;
        while self.v >= th && n < max {
            n += 1;
            self.v = self.v.wrapping_sub(th);
        }
        n
    }

    fn receive(&mut self, w: i16, syn: usize, times: u8) {
        for _ in 0..times {
            self.i[syn] = sat_add(i64::from(self.i[syn]), i64::from(w)) as i16;
        }
    }
}

/// `int16(w << shift)` as xylosim passes a shifted int8 weight on.
#[inline]
fn shifted(w: i8, shift: i8) -> i16 {
    (i32::from(w) << u32::from(shift.max(0) as u8).min(31)) as i16
}

/// Runs `spec` on `inputs` (`steps x n_in` event counts) from zero state.
pub fn run(spec: &XyloSpec, inputs: &[u8], steps: usize) -> XyloRecord {
    let (nin, nh, no, ns) = (spec.n_in, spec.n_hidden, spec.n_out, spec.synapses);
    debug_assert_eq!(inputs.len(), steps * nin);
    let has_bias = spec.bias.iter().chain(&spec.bias_out).any(|&b| b != 0);
    let bias = |b: i16| has_bias.then_some(b);
    let mut hid: Vec<Neuron> = (0..nh).map(|_| Neuron { v: 0, i: [0, 0] }).collect();
    let mut out: Vec<Neuron> = (0..no).map(|_| Neuron { v: 0, i: [0, 0] }).collect();
    let mut prev = vec![0u8; nh];
    let mut r = XyloRecord { steps, ..Default::default() };
    let first_oen = nh - spec.oen;
    for t in 0..steps {
        // 1. Deliveries: input events, then last step's hidden spikes.
        for (c, &n) in inputs[t * nin..(t + 1) * nin].iter().enumerate() {
            let n = n.min(MAX_INPUT_EVENTS);
            if n == 0 {
                continue;
            }
            for (j, neuron) in hid.iter_mut().enumerate().take(spec.ien) {
                for s in 0..ns {
                    let w = spec.weights_in[(c * spec.ien + j) * ns + s];
                    if w != 0 {
                        neuron.receive(shifted(w, spec.weight_shift_in), s, n);
                    }
                }
            }
        }
        for (p, &n) in prev.iter().enumerate() {
            let n = n.min(MAX_HIDDEN_SPIKES);
            if n == 0 {
                continue;
            }
            for (q, neuron) in hid.iter_mut().enumerate() {
                for s in 0..ns {
                    let w = spec.weights_rec[(p * nh + q) * ns + s];
                    if w != 0 {
                        neuron.receive(shifted(w, spec.weight_shift_rec), s, n);
                    }
                }
            }
            if p >= first_oen {
                for (o, neuron) in out.iter_mut().enumerate() {
                    let w = spec.weights_out[(p - first_oen) * no + o];
                    if w != 0 {
                        neuron.receive(shifted(w, spec.weight_shift_out), 0, n);
                    }
                }
            }
        }
        // 2. Hidden neurons, then 3. output neurons.
        for (q, n) in hid.iter_mut().enumerate() {
            let dash = [spec.dash_syn[q], spec.dash_syn_2[q]];
            prev[q] = n.evolve(spec.dash_mem[q], dash, 2, spec.threshold[q], bias(spec.bias[q]), MAX_HIDDEN_SPIKES);
            r.isyn.push(n.i[0]);
            r.isyn2.push(n.i[1]);
            r.vmem.push(n.v);
        }
        r.spikes.extend_from_slice(&prev);
        for (o, n) in out.iter_mut().enumerate() {
            let dash = [spec.dash_syn_out[o], 0];
            let s = n.evolve(
                spec.dash_mem_out[o],
                dash,
                1,
                spec.threshold_out[o],
                bias(spec.bias_out[o]),
                MAX_OUTPUT_SPIKES,
            );
            r.out_spikes.push(s);
            r.isyn_out.push(n.i[0]);
            r.vmem_out.push(n.v);
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturation_and_decay_follow_xylosim() {
        assert_eq!(sat_add(32760, 6), 32766);
        assert_eq!(sat_add(32760, 7), 32767);
        assert_eq!(sat_add(-32760, -8), -32768);
        assert_eq!(sat_add(-5, 3), -2);
        assert_eq!(decay(3, 4), 1);
        assert_eq!(decay(-3, 4), -1);
        assert_eq!(decay(0, 4), 0);
        assert_eq!(decay(100, 2), 25);
        assert_eq!(decay(-100, 2), -25);
        assert_eq!(shifted(-128, 8), -32768);
        assert_eq!(shifted(127, 9), (127i32 << 9) as i16);
    }
}
