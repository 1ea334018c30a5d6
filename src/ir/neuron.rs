//! Discrete-time neuron coefficients (SEMANTICS.md section 1), computed once in f64 from a
//! neuron op's parameters and dt, broadcast to one value per neuron.
//!
//! `v[t] = v_leak + beta*(vhat[t-1] - v_leak) + gain*drive[t]`, where `drive` is the summed
//! input, or for current-based neurons `i[t] = alpha*i[t-1] + syn_gain*I[t]`.

use super::dialect::{CubaInput, Integration};
use super::{Dialect, Op, Tensor};

/// Coefficients of `n` neurons.
#[derive(Clone, Debug, PartialEq)]
pub struct Coeffs {
    /// Membrane decay (1 for I/IF, 0 for a stateless Threshold).
    pub beta: Vec<f64>,
    /// Input gain: `r dt / tau` (LIF, LI), `r dt` (I, IF), 1 (Threshold).
    pub gain: Vec<f64>,
    /// Leak target.
    pub v_leak: Vec<f64>,
    /// Threshold; `None` for non-spiking neurons.
    pub v_th: Option<Vec<f64>>,
    /// Reset value (zero reset).
    pub v_reset: Vec<f64>,
    /// (alpha, syn_gain) for current-based neurons: `alpha = 1 - dt/tau_syn`,
    /// `syn_gain = w_in dt / tau_syn`.
    pub syn: Option<(Vec<f64>, Vec<f64>)>,
}

fn b(t: &Tensor, n: usize) -> Vec<f64> {
    (0..n).map(|i| t.at(i)).collect()
}

/// Coefficients for a neuron op (I, IF, LI, LIF, CubaLI, CubaLIF) or a Threshold under a
/// dialect; `None` for other ops. dt is ignored by Threshold.
pub fn coeffs(op: &Op, n: usize, d: &Dialect) -> Option<Coeffs> {
    let dt = d.dt_or_one();
    let exact = d.switches.integration == Integration::Exact;
    let zeros = vec![0.0; n];
    let beta_of = |tau: f64| if exact { (-dt / tau).exp() } else { 1.0 - dt / tau };
    let decay = |tau: &Tensor| (0..n).map(|j| beta_of(tau.at(j))).collect::<Vec<f64>>();
    let gain_tau = |r: &Tensor, tau: &Tensor| {
        (0..n)
            .map(|j| if exact { r.at(j) * (1.0 - beta_of(tau.at(j))) } else { r.at(j) * dt / tau.at(j) })
            .collect::<Vec<f64>>()
    };
    let syn_gain = |w_in: &Tensor, tau_syn: &Tensor| {
        (0..n)
            .map(|j| match d.switches.cuba_input {
                CubaInput::Unit => w_in.at(j),
                CubaInput::Scaled if exact => w_in.at(j) * (1.0 - beta_of(tau_syn.at(j))),
                CubaInput::Scaled => w_in.at(j) * dt / tau_syn.at(j),
            })
            .collect::<Vec<f64>>()
    };
    let gain_dt = |r: &Tensor| (0..n).map(|j| r.at(j) * dt).collect::<Vec<f64>>();
    Some(match op {
        Op::Threshold { threshold } => Coeffs {
            beta: zeros.clone(),
            gain: vec![1.0; n],
            v_leak: zeros.clone(),
            v_th: Some(b(threshold, n)),
            v_reset: zeros,
            syn: None,
        },
        Op::I { r } => Coeffs {
            beta: vec![1.0; n],
            gain: gain_dt(r),
            v_leak: zeros.clone(),
            v_th: None,
            v_reset: zeros,
            syn: None,
        },
        Op::IF { r, v_threshold, v_reset } => Coeffs {
            beta: vec![1.0; n],
            gain: gain_dt(r),
            v_leak: zeros,
            v_th: Some(b(v_threshold, n)),
            v_reset: b(v_reset, n),
            syn: None,
        },
        Op::LI { tau, r, v_leak } => Coeffs {
            beta: decay(tau),
            gain: gain_tau(r, tau),
            v_leak: b(v_leak, n),
            v_th: None,
            v_reset: zeros,
            syn: None,
        },
        Op::LIF { tau, r, v_leak, v_threshold, v_reset } => Coeffs {
            beta: decay(tau),
            gain: gain_tau(r, tau),
            v_leak: b(v_leak, n),
            v_th: Some(b(v_threshold, n)),
            v_reset: b(v_reset, n),
            syn: None,
        },
        Op::CubaLI { tau_syn, tau_mem, r, v_leak, w_in } | Op::CubaLIF { tau_syn, tau_mem, r, v_leak, w_in, .. } => {
            let (v_th, v_reset) = match op {
                Op::CubaLIF { v_threshold, v_reset, .. } => (Some(b(v_threshold, n)), b(v_reset, n)),
                _ => (None, zeros),
            };
            Coeffs {
                beta: decay(tau_mem),
                gain: gain_tau(r, tau_mem),
                v_leak: b(v_leak, n),
                v_th,
                v_reset,
                syn: Some((decay(tau_syn), syn_gain(w_in, tau_syn))),
            }
        }
        _ => return None,
    })
}
