//! What the chip quantisers ([`super::xylo`], [`super::loihi`]) share: inputs as non-negative
//! integers (event counts, spike payloads), membrane biases with synaptic biases at their
//! steady state, and layers of saturating current-based neurons.

use super::calib::{InputStats, QuantOptions};
use super::network::{Layer, Leak, NeuronKind, NeuronParams, Projection};
use super::{QuantError, perr};
use crate::ir::neuron::Coeffs;

/// How a chip words its integer inputs in notes and errors.
pub struct IntegerInputs {
    /// What a given scale is called (`the event scale`).
    pub scale_name: &'static str,
    /// The refusal of negative inputs under a given scale.
    pub negative: &'static str,
    /// The refusal of real-valued or negative inputs without a scale.
    pub not_integers: &'static str,
    /// The note on a given scale `s`.
    pub note: fn(f64) -> String,
}

/// The real value of one input unit under `o` for a chip that takes non-negative integers: the
/// given scale (said in `notes`), or 1 for non-negative integer (or unknown) inputs.
pub fn integer_scale(
    name: &str,
    o: &QuantOptions,
    t: &IntegerInputs,
    notes: &mut Vec<String>,
) -> Result<f64, QuantError> {
    match (o.input_scale, o.input_stats) {
        (Some(s), _) if !(s.is_finite() && s > 0.0) => {
            Err(perr(name, format!("{} must be positive, got {s}", t.scale_name)))
        }
        (Some(s), st) => {
            if st.is_some_and(|st| st.min < 0.0) {
                return Err(perr(name, t.negative));
            }
            notes.push((t.note)(s));
            Ok(s)
        }
        (None, Some(InputStats { integers: true, min, .. })) if min >= 0.0 => Ok(1.0),
        (None, Some(_)) => Err(perr(name, t.not_integers)),
        (None, None) => Ok(1.0),
    }
}

/// Gain from a bias on the neuron's input to its membrane, per step at steady state: `g` for a
/// plain neuron, `g gs / (1 - alpha)` for a current-based one.
pub fn steady_gain(c: &Coeffs, i: usize) -> f64 {
    match &c.syn {
        Some((alpha, gs)) => c.gain[i] * gs[i] / (1.0 - alpha[i]).max(1e-12),
        None => c.gain[i],
    }
}

/// The membrane's constant input per step from the leak towards `v_leak`, per neuron.
pub fn leak_bias(c: &Coeffs, n: usize) -> Vec<f64> {
    (0..n).map(|i| (1.0 - c.beta[i]) * c.v_leak[i]).collect()
}

/// Threshold and membrane bias per neuron, no other constants, no reset value.
pub fn thr_bias(thr: Vec<i64>, bias: Vec<i64>) -> NeuronParams {
    NeuronParams {
        thr,
        bias,
        bias_late: vec![0],
        vreset: vec![0],
        syn_bias: vec![0],
        syn_bias_late: vec![0],
        vmin: vec![],
    }
}

/// A layer of saturating current-based neurons with `bits`-bit state, `(leak, syn_leak)` decays,
/// and `projections`.
pub fn cuba_layer(
    name: String,
    shape: [usize; 3],
    leaks: (Leak, Leak),
    params: NeuronParams,
    unit: Vec<f64>,
    bits: u32,
    projections: Vec<Projection>,
) -> Layer {
    Layer {
        name,
        kind: NeuronKind::CubaLif,
        shape,
        group_size: shape[0],
        leak: leaks.0,
        syn_leak: Some(leaks.1),
        params,
        unit,
        v_bits: bits,
        s_bits: 0,
        y_bits: bits,
        saturate: true,
        v_bound: 0,
        projections,
        has_consumers: false,
        multi: false,
        max_count: 0,
        count_bits: 0,
    }
}

/// The note for a layer whose model floors the membrane at `v_min` (per neuron) on a chip
/// that has no floor: the floor is dropped, and `spikefab verify` measures what that costs.
pub fn floor_note(layer: &str, v_min: &[f64], chip: &str) -> String {
    let (lo, hi) = v_min.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
    let at = if lo == hi { format!("{lo}") } else { format!("{lo}..{hi}") };
    format!(
        "'{layer}': the model floors the membrane at {at} after each reset (Sinabs' min_v_mem); {chip} has no \
         membrane floor, so it is dropped (measured: compare `spikefab verify`)"
    )
}
