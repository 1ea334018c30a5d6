//! Quantisation under Xylo's rules ([`super::Rules::xylo`]): every neuron becomes Xylo's
//! current-based neuron with shift decays, 8-bit weights with one shift per matrix, 16-bit
//! thresholds and biases, reset by subtraction; inputs become event counts.
//!
//! Xylo's neuron (see [`crate::sim::xylo`]) computes, approximately in real terms,
//! `i' = alpha * (i + J)` and `v' = beta * v + i' + b`, where `J` is the step's weighted
//! input. A model's current-based neuron computes `i' = alpha * i + gs * I` and
//! `v' = beta * v + g * i'`, so in units `u` of the membrane each weight becomes
//! `g * gs * W / (alpha * u)`. Per neuron, `u` is chosen so that the threshold is about
//! 4096 (three bits of headroom below 16-bit saturation) and the largest incoming weight
//! fits `127 << shift`, the shift of each matrix being the smallest that lets every neuron
//! reach that threshold resolution (at most 7). A row of binary weights `+-a` thus becomes
//! `+-127`, its scale `a` moved into the neuron's threshold and bias.
//!
//! What Xylo cannot compute exactly is approximated and said in [`Network::notes`]:
//! decays that are not `1 - 2^-k` (the nearest), a plain (not current-based) neuron (its
//! input is spread over later steps by the fastest synaptic decay, one half per step, with
//! the same total), a reset other than subtraction, firing more than once per step (Xylo's
//! hidden neurons may spike up to 31 times), and biases on the synaptic input (moved to the
//! membrane at their steady-state value).

use super::calib::QuantOptions;
use super::chips::{IntegerInputs, cuba_layer, integer_scale, leak_bias, steady_gain, thr_bias};
use super::network::{
    AccTarget, InputPlan, Layer, Leak, Network, OutputPlan, ProjKind, Source, Weights, mark_consumers, model_label,
};
use super::trace::{RealLayer, RealProj, trace};
use super::{QuantError, perr};
use crate::ir::{ResetMode, neuron};
use crate::model::Model;

/// The threshold the unit aims for.
const THRESHOLD_TARGET: f64 = 4096.0;

/// The nearest `k` in `lo..=max` to `x = 1 - 2^-k`, and whether it is exact.
fn nearest_shift(x: f64, lo: u32, max: u32) -> (u32, bool) {
    let f = |k: u32| 1.0 - 0.5f64.powi(k as i32);
    let k = (lo..=max).min_by(|&a, &b| (f(a) - x).abs().total_cmp(&(f(b) - x).abs())).unwrap_or(lo);
    (k, (f(k) - x).abs() <= 1e-9)
}

/// `x` to four decimals, for notes.
fn pct(x: f64) -> String {
    format!("{x:.4}")
}

/// How Xylo's input events are worded.
const EVENTS: IntegerInputs = IntegerInputs {
    scale_name: "the event scale",
    negative: "Xylo's inputs are event counts: the inputs hold negative values",
    not_integers: "Xylo takes event counts per input channel and step; these inputs are real-valued or negative: \
                   give --input-scale S to send round(x / S) events (at most 15 per step)",
    note: |s| format!("inputs become round(x / {s}) events per channel and step"),
};

/// How inputs become event counts under `o`: the real value of one event.
fn event_scale(name: &str, o: &QuantOptions) -> Result<(f64, Vec<String>), QuantError> {
    let mut notes = vec![];
    let scale = integer_scale(name, o, &EVENTS, &mut notes)?;
    if let Some(st) = o.input_stats
        && st.max / scale > 15.0
    {
        notes.push(format!(
            "inputs reach {:.0} events per channel and step; the chip takes at most 15 (the rest are dropped)",
            (st.max / scale).round()
        ));
    }
    Ok((scale, notes))
}

/// Quantises `m` for Xylo (`o.rules` must be [`super::Rules::xylo`]). `m` must be legalised for
/// Xylo (the merge-branches pass under a subtract reset, which the driver runs as the Xylo back
/// end's phase): a model that is not a chain is refused.
pub fn quantise(m: &Model, o: &QuantOptions) -> Result<Network, QuantError> {
    if let Some(k) = o.spike_cap {
        return Err(QuantError {
            node: None,
            message: format!(
                "--spike-cap {k}: Xylo's neurons emit their own bounded count per step (its hidden layers' \
                 multi-spike rule is modelled exactly); the option is for loihi2"
            ),
        });
    }
    quantise_legal(m, o)
}

/// [`quantise`] once the options are checked.
fn quantise_legal(m: &Model, o: &QuantOptions) -> Result<Network, QuantError> {
    let g = &m.graph;
    let d = m.dialect();
    let real = trace(m, o.output.as_deref())?;
    let in_name = g.g[real.input].name.clone();
    let (scale, mut notes) = event_scale(&in_name, o)?;
    let input = InputPlan {
        node: in_name,
        shape: real.input_shape,
        bits: 4,
        signed: false,
        scale,
        per_step: o.input_stats.is_some_and(|s| s.per_step),
    };
    if d.reset != ResetMode::Subtract {
        notes.push(format!(
            "the model resets {}; Xylo subtracts the threshold (then decays the rest with the membrane)",
            match d.reset {
                ResetMode::Zero => "to v_reset",
                _ => "by subtracting the threshold after the decay (snnTorch)",
            }
        ));
    }
    let out_k = real.output_layer;
    let mut lays = vec![];
    for (k, l) in real.layers.into_iter().enumerate() {
        lays.push(real_layer(m, l, k == out_k, scale, &mut notes)?);
    }
    let shift = matrix_shifts(&lays);
    let mut layers = vec![];
    for l in &lays {
        layers.push(xylo_layer(l, &shift, d.fire_on_equal)?);
    }
    mark_consumers(&mut layers);
    let output = OutputPlan { node: g.g[real.output].name.clone(), layer: out_k, spikes: true };
    Ok(Network {
        model: model_label(m),
        timesteps: o.timesteps,
        rules: o.rules.clone(),
        reset: ResetMode::Subtract,
        fire_on_equal: true,
        input,
        layers,
        output,
        early_exit: false,
        notes,
        // The chip runs a fixed set of students: a mask is a compile-time pruning there.
        students: None,
    })
}

/// A layer in real terms, as Xylo's neuron sees it: decay shifts, thresholds, membrane bias,
/// and the real weights into the current of each projection.
struct Lay {
    name: String,
    n: usize,
    dash_mem: u32,
    dash_syn: u32,
    thr_real: Vec<f64>,
    bias_real: Vec<f64>,
    /// Per projection, a weight per entry (Dense) or per neuron.
    projections: Vec<(RealProj, Vec<f64>)>,
    /// The output layer (its weights form the output matrix).
    output: bool,
}

impl Lay {
    /// Which matrix projection `p` writes: 0 input, 1 recurrent, 2 output.
    fn matrix(&self, p: &RealProj) -> usize {
        match p.source {
            Source::Input => 0,
            Source::Layer(_) if self.output => 2,
            Source::Layer(_) => 1,
        }
    }

    /// Largest |real weight| into neuron `i` from matrix `mx`.
    fn row_max(&self, mx: usize, i: usize) -> f64 {
        let mut best = 0.0f64;
        for (p, w) in self.projections.iter().filter(|(p, _)| self.matrix(p) == mx) {
            match p.kind {
                ProjKind::Dense { cols } => {
                    for x in &w[i * cols..(i + 1) * cols] {
                        best = best.max(x.abs());
                    }
                }
                _ => best = best.max(w[i].abs()),
            }
        }
        best
    }
}

/// Traced layer `l` in Xylo's real terms; what is approximated goes to `notes`.
fn real_layer(m: &Model, l: RealLayer, output: bool, scale: f64, notes: &mut Vec<String>) -> Result<Lay, QuantError> {
    let RealLayer { node, name, current, projections } = l;
    if current {
        return Err(perr(&name, "the output is a weighted sum without neurons; Xylo reads out spiking neurons"));
    }
    let (g, d) = (&m.graph, m.dialect());
    let op = &g.g[node].op;
    let n = m.info.out_numel(node);
    let c = neuron::coeffs(op, n, d).ok_or_else(|| perr(&name, "not a neuron"))?;
    let Some(v_th) = c.v_th.clone() else {
        return Err(perr(&name, format!("{} neurons do not spike; every Xylo neuron does", op.type_name())));
    };
    let (dash_mem, dash_syn, to_current) = shift_decays(&name, op.type_name(), &c, n, notes);
    let multi = d.multi_spike(g, node);
    if output && multi {
        notes.push(format!("'{name}': the model may spike several times per step; Xylo's outputs spike once"));
    } else if !output && !multi {
        notes.push(format!(
            "'{name}': the model spikes once per step; Xylo's hidden neurons spike up to 31 times when the membrane \
             exceeds several thresholds"
        ));
    }
    if let Some(f) = &c.v_min {
        notes.push(super::chips::floor_note(&crate::names::label(&name), f, "Xylo"));
    }
    // Membrane bias: the leak towards v_leak, plus input biases at their steady state.
    let mut bias_real = leak_bias(&c, n);
    let mut projections_w = vec![];
    for p in projections {
        if let Some(b) = &p.bias
            && b.iter().any(|&x| x != 0.0)
        {
            notes.push(format!(
                "'{name}': the bias of the path from '{}' is added to the membrane at its steady state",
                p.path[0]
            ));
            for (i, x) in bias_real.iter_mut().enumerate() {
                *x += steady_gain(&c, i) * b[i];
            }
        }
        let src = if p.source == Source::Input { scale } else { 1.0 };
        let n_w = p.w.numel();
        let w: Vec<f64> = match p.kind {
            ProjKind::Dense { cols } => (0..n_w).map(|e| p.w.at(e) * to_current[e / cols] * src).collect(),
            _ => (0..n).map(|i| p.w.at(i % n_w) * to_current[i] * src).collect(),
        };
        projections_w.push((p, w));
    }
    Ok(Lay { name, n, dash_mem, dash_syn, thr_real: v_th, bias_real, projections: projections_w, output })
}

/// The membrane and synaptic decay shifts of neurons `c` (of type `ty`), and the factor from a
/// real input to Xylo's current per neuron; what is approximated goes to `notes`.
fn shift_decays(name: &str, ty: &str, c: &neuron::Coeffs, n: usize, notes: &mut Vec<String>) -> (u32, u32, Vec<f64>) {
    let b0 = c.beta[0];
    if c.beta.iter().any(|&b| (b - b0).abs() > 1e-12) {
        notes.push(format!("'{name}': per-neuron decays; each neuron gets its nearest shift"));
    }
    let (dash_mem, exact) = nearest_shift(b0, 0, 15);
    if !exact {
        notes.push(format!(
            "'{name}': membrane decay {} becomes 1 - 2^-{dash_mem} = {}",
            pct(b0),
            pct(1.0 - 0.5f64.powi(dash_mem as i32))
        ));
    }
    let Some((alpha, gs)) = &c.syn else {
        notes.push(format!(
            "'{name}' is a plain {ty} neuron; Xylo's neuron is current-based: each input is spread over the following \
             steps (halving per step, the same total)"
        ));
        return (dash_mem, 1, c.gain.clone());
    };
    let (ks, exact) = nearest_shift(alpha[0], 1, 15);
    if !exact {
        notes.push(format!(
            "'{name}': synaptic decay {} becomes 1 - 2^-{ks} = {}",
            pct(alpha[0]),
            pct(1.0 - 0.5f64.powi(ks as i32))
        ));
    }
    let a = 1.0 - 0.5f64.powi(ks as i32);
    (dash_mem, ks, (0..n).map(|i| c.gain[i] * gs[i] / a).collect())
}

/// Shift per matrix (input, recurrent, output): what the neuron that needs most resolution
/// needs for a threshold of about 4096 units with weights within 127, at most 7.
fn matrix_shifts(lays: &[Lay]) -> [u32; 3] {
    let mut shift = [0u32; 3];
    for l in lays {
        for (mx, sh) in shift.iter_mut().enumerate() {
            for i in 0..l.n {
                let e = l.row_max(mx, i);
                let t = l.thr_real[i].abs();
                if e > 0.0 && t > 0.0 {
                    let need = (e * THRESHOLD_TARGET / (127.0 * t)).log2().ceil().clamp(0.0, 7.0) as u32;
                    *sh = (*sh).max(need);
                }
            }
        }
    }
    shift
}

/// Layer `l` in Xylo's integers under the matrix shifts `shift`: the unit per neuron is the
/// larger of what the weights (within 127 << shift) and a 4096-unit threshold need.
fn xylo_layer(l: &Lay, shift: &[u32; 3], fire_on_equal: bool) -> Result<Layer, QuantError> {
    let unit: Vec<f64> = (0..l.n)
        .map(|i| {
            let by_w = (0..3).map(|mx| l.row_max(mx, i) / (127.0 * f64::from(1u32 << shift[mx]))).fold(0.0, f64::max);
            let by_t = l.thr_real[i].abs() / THRESHOLD_TARGET;
            let u = by_w.max(by_t);
            if u > 0.0 { u } else { 1.0 }
        })
        .collect();
    let thr: Vec<i64> = (0..l.n)
        .map(|i| {
            let t = l.thr_real[i] / unit[i];
            let t = if fire_on_equal { t.ceil() } else { t.floor() + 1.0 };
            t.clamp(-32768.0, 32767.0) as i64
        })
        .collect();
    if thr.iter().any(|&t| t <= 0) {
        return Err(perr(&l.name, "a threshold at or below zero: Xylo neurons would spike 31 times every step"));
    }
    let bias: Vec<i64> = (0..l.n).map(|i| (l.bias_real[i] / unit[i]).round().clamp(-32768.0, 32767.0) as i64).collect();
    let mut projections = vec![];
    for (p, w) in &l.projections {
        let s = shift[l.matrix(p)];
        let den = |i: usize| unit[i] * f64::from(1u32 << s);
        let values: Vec<i64> = match p.kind {
            ProjKind::Dense { cols } => {
                (0..w.len()).map(|e| (w[e] / den(e / cols)).round().clamp(-127.0, 127.0) as i64).collect()
            }
            _ => (0..l.n).map(|i| (w[i] / den(i)).round().clamp(-127.0, 127.0) as i64).collect(),
        };
        projections.push(p.projection(AccTarget::Dynamic, Weights { bits: 8, values: values.into() }, s));
    }
    let leaks = (Leak::Shift { k: l.dash_mem }, Leak::Shift { k: l.dash_syn });
    Ok(cuba_layer(l.name.clone(), [l.n, 1, 1], leaks, thr_bias(thr, bias), unit, 16, projections))
}

#[cfg(test)]
mod tests {
    use super::{nearest_shift, quantise};
    use crate::ir::dialect::DialectOverrides;
    use crate::quant::testing::{affine, chain, cuba_lif, integers, options};
    use crate::quant::{AccTarget, Leak, Rules};

    #[test]
    fn decays_become_the_nearest_shift() {
        assert_eq!(nearest_shift(0.75, 0, 15), (2, true));
        assert_eq!(nearest_shift(0.0, 0, 15), (0, true));
        // 0.8 lies between 0.75 (k = 2) and 0.875 (k = 3), nearer the first.
        assert_eq!(nearest_shift(0.8, 0, 15), (2, false));
        assert_eq!(nearest_shift(0.82, 0, 15), (3, false));
        assert_eq!(nearest_shift(1.0, 0, 15), (15, false));
        // Below the smallest k allowed: that k.
        assert_eq!(nearest_shift(0.3, 1, 15), (1, false));
    }

    #[test]
    fn the_matrix_shift_gives_the_threshold_4096_units_and_weights_follow() {
        // alpha 0.5 (k = 1), beta 0.75 (k = 2), both gains 1: a weight W reaches the current as
        // W / alpha = 2 W. The largest (2 W) / threshold is 1 on both rows, and
        // 1 * 4096 / 127 = 32.3 needs a shift of 6 (2^6 = 64 >= 32.3 > 32).
        let m = chain(
            &[3],
            vec![
                ("fc", affine(&[&[0.5, -0.25, 0.125], &[1.0, 0.5, -0.5]], &[0.0, 0.0])),
                ("lif", cuba_lif(2.0, 4.0, &[1.0, 2.0])),
            ],
            &DialectOverrides::default(),
        );
        let net = quantise(&m, &options(Rules::xylo(), integers(0.0, 1.0))).unwrap();
        let l = &net.layers[0];
        let p = &l.projections[0];
        assert_eq!((p.shift, p.weights.bits, p.target), (6, 8, AccTarget::Dynamic));
        // Unit theta / 4096; weights 2 W / (unit << 6).
        assert_eq!(l.unit, vec![1.0 / 4096.0, 2.0 / 4096.0]);
        assert_eq!(p.weights.values.to_vec(), vec![64, -32, 16, 64, 32, -32]);
        // Spiking on v > 4096 units is v >= 4097.
        assert_eq!((&l.params.thr, &l.params.bias), (&vec![4097, 4097], &vec![0, 0]));
        assert_eq!((&l.leak, &l.syn_leak), (&Leak::Shift { k: 2 }, &Some(Leak::Shift { k: 1 })));
        assert_eq!((l.v_bits, l.y_bits, l.saturate), (16, 16, true));
        assert!(!net.notes.iter().any(|n| n.contains("becomes")), "{:?}", net.notes);
    }

    #[test]
    fn the_shift_stops_at_7_and_the_largest_weight_is_127() {
        // A tiny threshold would need a shift of 15; at 7, the weights set the unit:
        // 2 / (127 << 7) = 1 / 8128, and beta 0.8 becomes 1 - 2^-2, said in a note.
        let m = chain(
            &[2],
            vec![("fc", affine(&[&[1.0, -0.3]], &[0.0])), ("lif", cuba_lif(2.0, 5.0, &[0.0005]))],
            &DialectOverrides::default(),
        );
        let net = quantise(&m, &options(Rules::xylo(), integers(0.0, 1.0))).unwrap();
        let l = &net.layers[0];
        let p = &l.projections[0];
        assert_eq!((p.shift, p.weights.values.to_vec()), (7, vec![127, -38]));
        // 0.0005 * 8128 = 4.06 units: spikes at 5.
        assert_eq!(l.params.thr, vec![5]);
        assert_eq!(l.leak, Leak::Shift { k: 2 });
        assert!(
            net.notes.contains(&"'lif': membrane decay 0.8000 becomes 1 - 2^-2 = 0.7500".to_string()),
            "{:?}",
            net.notes
        );
    }

    #[test]
    fn a_threshold_at_or_below_zero_is_refused() {
        let m = chain(
            &[2],
            vec![("fc", affine(&[&[1.0, -0.3]], &[0.0])), ("lif", cuba_lif(2.0, 4.0, &[-1.0]))],
            &DialectOverrides::default(),
        );
        let e = quantise(&m, &options(Rules::xylo(), integers(0.0, 1.0))).unwrap_err();
        assert_eq!(e.node.as_deref(), Some("lif"));
        assert!(e.message.starts_with("a threshold at or below zero"), "{e}");
    }
}
