//! Range analysis: worst-case magnitudes of every stored quantity over T steps and any input,
//! hence the widths that can never overflow.
//!
//! Per neuron, the most one step can add is `M = sum over projections of sum |w| * xmax * m
//! << shift` (xmax: largest input code, or 1 for spikes; m: source events a pooled element
//! can gather). The membrane bound iterates
//! `B' = leak(max(B, |VR|)) + M + |C| + |CL| + |THR| + 1` for T steps (the |THR| covers both
//! subtract resets, the 1 the leak rounding), which holds whatever the spikes and resets do.
//! Widths are the signed widths of these bounds. Under a user cap the layer saturates, and its
//! parameters (threshold, biases, reset value) saturate to the capped width as well. A floor
//! VMIN counts like a reset value (`max(B, |VR|, |VMIN|)`).
//!
//! A multi-spike layer's counts: whatever the reset, the membrane a neuron carries into a step
//! is at most `P0 = max(THR, VR, VMIN) + 1` (a neuron that fired keeps less than one threshold,
//! or its reset value; one that did not is at most THR; the leak never raises a positive
//! value by more than its rounding), so its V is at most `P = P0 + M + |C| + |CL|` and its
//! count at most `floor(P / THR)`. The layer's largest count is its events' `xmax` for the
//! layers it feeds.

use super::network::{AccTarget, Leak, Network, NeuronParams, ProjKind, Source, at};

/// The widest state a plan may need (`--membrane-bits` caps at it too): the engines hold
/// state and its sums in i64, so an update's few terms stay clear of overflow.
pub const MAX_STATE_BITS: u32 = 62;

/// Bits of the two's complement word that holds `-v..=v`.
pub(super) fn signed_bits(v: i64) -> u32 {
    (64 - v.unsigned_abs().leading_zeros()) + 1
}

/// Sum of |w| over `ws`, saturating (a hostile parameter may quantise to the ends of i64).
fn abs_sum<'a>(ws: impl Iterator<Item = &'a i64>) -> i64 {
    ws.map(|w| w.saturating_abs()).fold(0, i64::saturating_add)
}

/// Upper bound of |leak(x)| for |x| <= b.
fn leak_bound(l: &Leak, b: i64, p: u32, i: usize) -> i64 {
    match l {
        Leak::Zero => 0,
        Leak::One => b,
        Leak::Shift { .. } => b.saturating_add(1),
        Leak::Mul { b: m } => {
            let q = (b as i128 * at(m, i) as i128 + (1i128 << p) - 1) >> p;
            (q as i64).saturating_add(1)
        }
    }
}

/// Per-neuron worst-case sums per step of (static, dynamic) projections, in state units.
fn step_bounds(plan: &Network, k: usize) -> (Vec<i64>, Vec<i64>) {
    let l = &plan.layers[k];
    let n = l.neurons();
    let pos = l.positions();
    let mut stat = vec![0i64; n];
    let mut dynm = vec![0i64; n];
    for p in &l.projections {
        let xmax = match p.source {
            Source::Input => plan.input.max_abs(),
            Source::Layer(s) => plan.layers[s].event_max(),
        };
        let mult = p.pre_pool.as_ref().map_or(1, |g| (g.k[0] * g.k[1]) as i64);
        let unit = xmax.saturating_mul(mult) << p.shift;
        let dst = if p.target == AccTarget::Static { &mut stat } else { &mut dynm };
        match &p.kind {
            ProjKind::Dense { cols } => {
                for (i, d) in dst.iter_mut().enumerate() {
                    let s = abs_sum(p.weights.values.range(i * cols..(i + 1) * cols));
                    *d = d.saturating_add(s.saturating_mul(unit));
                }
            }
            ProjKind::Conv { .. } => {
                let co = l.shape[0];
                let per = p.weights.values.len() / co;
                for c in 0..co {
                    let s = abs_sum(p.weights.values.range(c * per..(c + 1) * per));
                    for d in &mut dst[c * pos..(c + 1) * pos] {
                        *d = d.saturating_add(s.saturating_mul(unit));
                    }
                }
            }
            ProjKind::Pool(g) => {
                let per_window = (g.k[0] * g.k[1]) as i64;
                for (i, d) in dst.iter_mut().enumerate() {
                    *d = d.saturating_add(
                        p.weights.at(i).saturating_abs().saturating_mul(per_window).saturating_mul(unit),
                    );
                }
            }
            ProjKind::OneToOne => {
                for (i, d) in dst.iter_mut().enumerate() {
                    *d = d.saturating_add(p.weights.at(i).saturating_abs().saturating_mul(unit));
                }
            }
        }
    }
    (stat, dynm)
}

/// Sets the widths of layer `k` (and `saturate` when the rules' state cap is below what the
/// analysis needs).
pub fn analyse(plan: &mut Network, k: usize) {
    let (vmax, smax, ymax, count) = state_bounds(plan, k);
    let cap = plan.rules.state.max_bits;
    let l = &mut plan.layers[k];
    l.v_bound = vmax;
    if l.multi {
        l.max_count = count.max(1);
        l.count_bits = 64 - l.max_count.leading_zeros();
    }
    let (mut v, mut s, mut y) = (signed_bits(vmax).max(2), 0, 0);
    if l.has_static() {
        s = signed_bits(smax).max(2);
    }
    if l.kind.cuba() {
        y = signed_bits(ymax).max(2);
    }
    l.saturate = false;
    if let Some(c) = cap {
        let c = c.max(2);
        if v > c || s > c || y > c {
            l.saturate = true;
        }
        v = v.min(c);
        if s > 0 {
            s = s.min(c);
        }
        if y > 0 {
            y = y.min(c);
        }
    }
    l.v_bits = v;
    l.s_bits = s;
    l.y_bits = y;
    if l.saturate {
        saturate_params(&mut l.params, v, y);
    }
}

/// Worst-case |V|, |S| and |Y| of layer `k` over its neurons, T steps and any input, and for
/// a multi-spike layer its largest count (0 otherwise).
fn state_bounds(plan: &Network, k: usize) -> (i64, i64, i64, u64) {
    let (stat, dynm) = step_bounds(plan, k);
    let t_steps = plan.timesteps;
    let p = plan.rules.leak_bits();
    let l = &plan.layers[k];
    let pr = &l.params;
    let mut vmax = 0i64;
    let mut smax = 0i64;
    let mut ymax = 0i64;
    let mut count = 0u64;
    let zero_reset = plan.reset == crate::ir::ResetMode::Zero;
    for i in 0..l.neurons() {
        let thr = at(&pr.thr, i).saturating_abs();
        // A floor lifts the carried membrane to VMIN at most: |vhat| stays within |VMIN| too.
        let vr = at(&pr.vreset, i).saturating_abs().max(if pr.vmin.is_empty() {
            0
        } else {
            at(&pr.vmin, i).saturating_abs()
        });
        smax = smax.max(stat[i]);
        let input = if let Some(sl) = &l.syn_leak {
            // Current-based: bound the synaptic state first.
            let m = dynm[i]
                .saturating_add(stat[i])
                .saturating_add(at(&pr.syn_bias, i).saturating_abs())
                .saturating_add(at(&pr.syn_bias_late, i).saturating_abs())
                .saturating_add(share_bound(plan, k, i, |s| [&s.syn_bias, &s.syn_bias_late]));
            let top = iterate(t_steps, 0, |b| leak_bound(sl, b, p, i).saturating_add(m).saturating_add(1));
            ymax = ymax.max(top);
            top
        } else {
            dynm[i].saturating_add(stat[i])
        };
        let m = input
            .saturating_add(at(&pr.bias, i).saturating_abs())
            .saturating_add(at(&pr.bias_late, i).saturating_abs())
            .saturating_add(share_bound(plan, k, i, |s| [&s.bias, &s.bias_late]));
        // A multi-spike subtract-undecayed reset can take a whole V away (`count * THR <= V`).
        let multi = l.multi;
        let top = iterate(t_steps, thr.max(vr), |b| {
            let leaked = leak_bound(&l.leak, b.max(vr), p, i);
            let leaked = if multi { leaked.max(b) } else { leaked };
            leaked.saturating_add(m).saturating_add(thr).saturating_add(1)
        });
        vmax = vmax.max(top);
        if multi {
            let t = at(&pr.thr, i);
            let carried = t
                .max(if zero_reset { at(&pr.vreset, i) } else { 0 })
                .max(if pr.vmin.is_empty() { 0 } else { at(&pr.vmin, i) })
                .saturating_add(1);
            let v_top = carried.saturating_add(m).min(top);
            if t > 0 {
                count = count.max((v_top / t) as u64);
            }
        }
    }
    (vmax, smax, ymax, count)
}

/// What a run-time student mask can add to neuron `i`'s constants (the `fields` of the
/// students' shares of layer `k`, [`super::students`]): taking away any set of shares moves a
/// constant by at most the sum of their magnitudes, so the bound holds under every mask.
fn share_bound(
    plan: &Network,
    k: usize,
    i: usize,
    fields: impl Fn(&super::students::BiasShare) -> [&Vec<i64>; 2],
) -> i64 {
    let Some(st) = &plan.students else { return 0 };
    st.shares
        .iter()
        .filter(|s| s.layer == k)
        .flat_map(fields)
        .filter(|v| !v.is_empty())
        .fold(0i64, |acc, v| acc.saturating_add(at(v, i).saturating_abs()))
}

/// The largest of `floor` and the bounds `b_1..b_T` of `b_t = step(b_{t-1})` from `b_0 = 0`.
fn iterate(t_steps: usize, floor: i64, step: impl Fn(i64) -> i64) -> i64 {
    let mut b = 0i64;
    let mut top = floor;
    for _ in 0..t_steps {
        b = step(b);
        top = top.max(b);
    }
    top
}

/// Clamps the parameters stored in the state widths (threshold, biases, reset value in `v`
/// bits; synaptic biases in `y` bits, when there is a Y) to those widths.
fn saturate_params(p: &mut NeuronParams, v: u32, y: u32) {
    let sat = |vals: &mut Vec<i64>, bits: u32| {
        let (lo, hi) = (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1);
        for x in vals.iter_mut() {
            *x = (*x).clamp(lo, hi);
        }
    };
    for vals in [&mut p.thr, &mut p.bias, &mut p.bias_late, &mut p.vreset, &mut p.vmin] {
        sat(vals, v);
    }
    if y > 0 {
        sat(&mut p.syn_bias, y);
        sat(&mut p.syn_bias_late, y);
    }
}

#[cfg(test)]
mod tests {
    use super::{MAX_STATE_BITS, analyse, signed_bits, step_bounds};
    use crate::ir::ResetMode;
    use crate::quant::{
        AccTarget, InputPlan, Layer, Leak, Network, NeuronKind, NeuronParams, OutputPlan, PoolGeom, ProjKind,
        Projection, Rules, Source, Weights,
    };

    /// A projection of `kind` with `w` (stored as given) from `source` into `target`.
    fn proj(source: Source, target: AccTarget, kind: ProjKind, w: Vec<i64>, shift: u32) -> Projection {
        Projection {
            path: vec!["src".into(), "dst".into()],
            source,
            src_shape: [w.len(), 1, 1],
            delayed: false,
            target,
            pre_pool: None,
            kind,
            weights: Weights { bits: 8, values: w.into() },
            shift,
            binary_source: source != Source::Input,
        }
    }

    /// A LIF layer of `shape` without decay state (beta = 0), threshold `thr`, no constants.
    fn layer(shape: [usize; 3], thr: i64, projections: Vec<Projection>) -> Layer {
        Layer {
            name: "lif".into(),
            kind: NeuronKind::Lif,
            shape,
            group_size: shape[0],
            leak: Leak::Zero,
            syn_leak: None,
            params: NeuronParams {
                thr: vec![thr],
                bias: vec![0],
                bias_late: vec![0],
                vreset: vec![0],
                syn_bias: vec![0],
                syn_bias_late: vec![0],
                vmin: vec![],
            },
            unit: vec![1.0],
            v_bits: 0,
            s_bits: 0,
            y_bits: 0,
            saturate: false,
            v_bound: 0,
            projections,
            has_consumers: false,
            multi: false,
            max_count: 0,
            count_bits: 0,
        }
    }

    /// A one-layer network over `timesteps` with `bits`-bit inputs, P = 16 and state cap `cap`.
    fn net(l: Layer, bits: u32, signed: bool, timesteps: usize, cap: Option<u32>) -> Network {
        let n = l.neurons();
        Network {
            model: "t".into(),
            timesteps,
            rules: Rules::fpga(8, bits, 0, 16, cap),
            reset: ResetMode::Zero,
            fire_on_equal: false,
            input: InputPlan { node: "in".into(), shape: [n, 1, 1], bits, signed, scale: 1.0, per_step: false },
            layers: vec![l],
            output: OutputPlan { node: "out".into(), layer: 0, spikes: true },
            early_exit: false,
            notes: vec![],
            students: None,
        }
    }

    /// `v` is a `bits`-bit two's complement value.
    fn fits(v: i64, bits: u32) -> bool {
        (-(1i64 << (bits - 1))..1i64 << (bits - 1)).contains(&v)
    }

    /// Rows [3, -5, 9] and [1, 1, -1] of a dense projection from the input, shifted by 2.
    fn dense_from_input(target: AccTarget) -> Projection {
        proj(Source::Input, target, ProjKind::Dense { cols: 3 }, vec![3, -5, 9, 1, 1, -1], 2)
    }

    #[test]
    fn signed_width_holds_the_magnitude_and_its_negation() {
        assert_eq!([0, 1, 2, 3, 4, 127, 128, 1023, 1024].map(signed_bits), [1, 2, 3, 3, 4, 8, 9, 11, 12]);
        for v in [1i64, 127, 128, 1023, 1024, 1 << 40] {
            let b = signed_bits(v);
            assert!(fits(v, b) && fits(-v, b) && !fits(v, b - 1), "{v}");
        }
    }

    #[test]
    fn dense_width_holds_the_extreme_sum_and_one_bit_less_does_not() {
        // Signed 5-bit input: |x| <= 15. Row 0: (3 + 5 + 9) * 15 << 2 = 1020; the threshold's 2
        // and the rounding's 1 make the bound 1023, the largest 11-bit value.
        let mut n = net(layer([2, 1, 1], 2, vec![dense_from_input(AccTarget::Dynamic)]), 5, true, 1, None);
        analyse(&mut n, 0);
        let l = &n.layers[0];
        assert_eq!((l.v_bound, l.v_bits, l.s_bits, l.y_bits, l.saturate), (1023, 11, 0, 0, false));
        // The input that reaches the bound's sum: x = 15 sign(w) on row 0.
        let x = [15i64, -15, 15];
        let w = l.projections[0].weights.values.to_vec();
        let sum: i64 = (0..3).map(|j| (w[j] * x[j]) << 2).sum();
        assert_eq!(sum, 1020);
        assert!(fits(sum, l.v_bits) && fits(-sum, l.v_bits));
        assert!(!fits(sum, l.v_bits - 1) && !fits(-sum, l.v_bits - 1));
    }

    #[test]
    fn input_bounds_take_the_largest_code_of_the_input_format() {
        // |w| * xmax for every sign of w: unsigned 4-bit and signed 5-bit inputs share xmax 15,
        // unsigned 5-bit has 31, spikes 1.
        let bound = |bits, signed| {
            let mut n = net(layer([2, 1, 1], 2, vec![dense_from_input(AccTarget::Dynamic)]), bits, signed, 1, None);
            analyse(&mut n, 0);
            (n.layers[0].v_bound, n.layers[0].v_bits)
        };
        assert_eq!(bound(4, false), (1023, 11));
        assert_eq!(bound(5, true), (1023, 11));
        assert_eq!(bound(5, false), (17 * 31 * 4 + 3, 13));
        let spikes =
            proj(Source::Layer(0), AccTarget::Dynamic, ProjKind::Dense { cols: 3 }, vec![3, -5, 9, 1, 1, -1], 2);
        let mut n = net(layer([2, 1, 1], 2, vec![spikes]), 5, false, 1, None);
        analyse(&mut n, 0);
        assert_eq!((n.layers[0].v_bound, n.layers[0].v_bits), (17 * 4 + 3, 8));
    }

    #[test]
    fn static_input_gets_its_own_width_and_adds_to_the_membrane() {
        let mut n = net(layer([2, 1, 1], 2, vec![dense_from_input(AccTarget::Static)]), 5, true, 1, None);
        analyse(&mut n, 0);
        let l = &n.layers[0];
        // S holds at most 1020 (11 bits); V adds the threshold and the rounding.
        assert_eq!((l.s_bits, l.v_bound, l.v_bits), (11, 1023, 11));
        let (stat, dynm) = step_bounds(&n, 0);
        assert_eq!((stat, dynm), (vec![1020, 180], vec![0, 0]));
    }

    #[test]
    fn conv_and_pool_bounds_are_per_channel_and_per_window() {
        // Conv into (2, 2, 2): kernels [1, -2, 3] and [4, 0, -1] (|w| sums 6 and 5) over spikes
        // pooled 2x2 first (4 spikes per pooled element).
        let mut conv = proj(
            Source::Layer(0),
            AccTarget::Dynamic,
            ProjKind::Conv { ci: 3, ih: 2, iw: 2, kh: 1, kw: 1, stride: [1, 1], pad: [0, 0], dil: [1, 1], groups: 1 },
            vec![1, -2, 3, 4, 0, -1],
            0,
        );
        conv.pre_pool = Some(PoolGeom { k: [2, 2], s: [2, 2], p: [0, 0], out: [2, 2] });
        let n = net(layer([2, 2, 2], 0, vec![conv]), 8, false, 1, None);
        assert_eq!(step_bounds(&n, 0).1, vec![24, 24, 24, 24, 20, 20, 20, 20]);
        // Sum pooling 3x3 straight into the neurons: |w| * 9 per neuron, shifted by 1.
        let pool = proj(
            Source::Layer(0),
            AccTarget::Dynamic,
            ProjKind::Pool(PoolGeom { k: [3, 3], s: [2, 2], p: [1, 1], out: [1, 2] }),
            vec![2, -3],
            1,
        );
        let n = net(layer([1, 1, 2], 0, vec![pool]), 8, false, 1, None);
        assert_eq!(step_bounds(&n, 0).1, vec![36, 54]);
        // One-to-one with a single (broadcast) weight.
        let one = proj(Source::Layer(0), AccTarget::Dynamic, ProjKind::OneToOne, vec![-7], 3);
        let n = net(layer([3, 1, 1], 0, vec![one]), 8, false, 1, None);
        assert_eq!(step_bounds(&n, 0).1, vec![56, 56, 56]);
    }

    #[test]
    fn without_decay_the_bound_grows_by_one_step_each_step() {
        // B' = B + M + |C| + |CL| + |THR| + 1 = B + 10 + 2 + 1 + 5 + 1 per step (M from one
        // spike through weight 10).
        let one = proj(Source::Layer(0), AccTarget::Dynamic, ProjKind::OneToOne, vec![10], 0);
        let mut l = layer([1, 1, 1], 5, vec![one]);
        l.leak = Leak::One;
        l.params.bias = vec![-2];
        l.params.bias_late = vec![1];
        for (t, want) in [(1, 19), (2, 38), (3, 57)] {
            let mut n = net(l.clone(), 8, false, t, None);
            analyse(&mut n, 0);
            assert_eq!(n.layers[0].v_bound, want, "T = {t}");
        }
        // A reset value above the bound lifts it: leak(max(B, |VR|)).
        l.params.vreset = vec![-100];
        let mut n = net(l, 8, false, 2, None);
        analyse(&mut n, 0);
        assert_eq!(n.layers[0].v_bound, 100 + 19 + 19);
    }

    #[test]
    fn multiplier_leak_bound_rounds_up_and_adds_one() {
        // B = 49152 / 2^16 = 0.75: leak bound ceil(0.75 b) + 1.
        let one = proj(Source::Layer(0), AccTarget::Dynamic, ProjKind::OneToOne, vec![100], 0);
        let mut l = layer([1, 1, 1], 0, vec![one]);
        l.leak = Leak::Mul { b: vec![49152] };
        let mut n = net(l.clone(), 8, false, 2, None);
        analyse(&mut n, 0);
        // Step 1: 0 + 1 + 100 + 1 = 102; step 2: ceil(76.5) + 1 + 100 + 1 = 179.
        assert_eq!(n.layers[0].v_bound, 179);
        // A shift leak x - (x >> k) is bounded by b + 1.
        l.leak = Leak::Shift { k: 3 };
        let mut n = net(l, 8, false, 2, None);
        analyse(&mut n, 0);
        assert_eq!(n.layers[0].v_bound, 102 + 1 + 101);
    }

    #[test]
    fn current_based_layers_bound_the_synaptic_state_first() {
        let one = proj(Source::Layer(0), AccTarget::Dynamic, ProjKind::OneToOne, vec![30], 0);
        let mut l = layer([1, 1, 1], 4, vec![one]);
        l.kind = NeuronKind::CubaLif;
        l.syn_leak = Some(Leak::One);
        l.params.syn_bias = vec![-3];
        l.params.bias = vec![2];
        let mut n = net(l, 8, false, 2, None);
        analyse(&mut n, 0);
        let l = &n.layers[0];
        // Y: 30 + 3 + 1 = 34, then 68 (8 bits); V takes Y's top each step: 68 + 2 + 4 + 1 = 75.
        assert_eq!((l.y_bits, l.v_bound, l.v_bits), (8, 75, 8));
    }

    #[test]
    fn a_cap_below_the_width_saturates_the_layer_and_its_parameters() {
        let mut l = layer([2, 1, 1], 300, vec![dense_from_input(AccTarget::Dynamic)]);
        l.params.bias = vec![-500, 7];
        l.params.vreset = vec![129];
        // Uncapped: 1020 + 500 + 300 + 1 = 1821 (neuron 0), 12 bits.
        let mut n = net(l.clone(), 5, true, 1, None);
        analyse(&mut n, 0);
        assert_eq!((n.layers[0].v_bound, n.layers[0].v_bits, n.layers[0].saturate), (1821, 12, false));
        // A cap at the width changes nothing.
        let mut n = net(l.clone(), 5, true, 1, Some(12));
        analyse(&mut n, 0);
        assert_eq!((n.layers[0].v_bits, n.layers[0].saturate, &n.layers[0].params), (12, false, &l.params));
        // One bit less saturates, and so do the parameters stored in that width.
        let mut n = net(l.clone(), 5, true, 1, Some(8));
        analyse(&mut n, 0);
        let c = &n.layers[0];
        assert_eq!((c.v_bound, c.v_bits, c.saturate), (1821, 8, true));
        assert_eq!((&c.params.thr, &c.params.bias, &c.params.vreset), (&vec![127], &vec![-128, 7], &vec![127]));
        let mut n = net(l, 5, true, 1, Some(11));
        analyse(&mut n, 0);
        assert_eq!((n.layers[0].v_bits, n.layers[0].saturate), (11, true));
    }

    #[test]
    fn a_threshold_beyond_62_bits_needs_a_wider_state_without_overflowing() {
        for (thr, bits) in [((1i64 << 61) - 3, 62), (1 << 61, 63), (i64::MAX, 64)] {
            let one = proj(Source::Layer(0), AccTarget::Dynamic, ProjKind::OneToOne, vec![1], 0);
            let mut n = net(layer([1, 1, 1], thr, vec![one]), 8, false, 4, None);
            analyse(&mut n, 0);
            assert_eq!(n.layers[0].v_bits, bits, "thr {thr}");
            assert_eq!(n.layers[0].v_bits > MAX_STATE_BITS, bits > 62);
        }
    }
}
