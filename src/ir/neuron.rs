//! Neuron models: one [`Descriptor`] per neuron-like NIR primitive, from which the op's
//! methods ([`Op::emits_spikes`], [`Op::is_neuron`], ...), the NIR reader's datasets and
//! defaults, validation's parameter constraints and the ONNX front end's support list are
//! derived; and the discrete-time coefficients (docs/semantics.md), computed once in f64
//! from a neuron op's parameters and dt, broadcast to one value per neuron.
//!
//! `v[t] = v_leak + beta*(vhat[t-1] - v_leak) + gain*drive[t]`, where `drive` is the summed
//! input, or for current-based neurons `i[t] = alpha*i[t-1] + syn_gain*I[t]`.

use super::dialect::{CubaInput, Integration};
use super::{Dialect, Op, Tensor};

/// What a parameter's values must satisfy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Constraint {
    /// Any finite value.
    Any,
    /// Strictly positive (time constants).
    Positive,
}

/// What the NIR reader uses when a file lacks a parameter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Absent {
    /// The parameter is required.
    Required,
    /// Filled with `value` in the shape and dtype of parameter `like`, with a warning saying
    /// `why`.
    Like {
        /// Parameter whose shape and dtype to copy.
        like: &'static str,
        /// Value.
        value: f64,
        /// Why files lack it.
        why: &'static str,
    },
    /// A scalar `value` in the dtype of parameter `like`, with a warning.
    Scalar {
        /// Parameter whose dtype to copy.
        like: &'static str,
        /// Value.
        value: f64,
    },
}

/// One parameter of a neuron model: its NIR dataset name, constraint and default.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Param {
    /// NIR dataset name (also the `Op` field name).
    pub name: &'static str,
    /// What its values must satisfy.
    pub constraint: Constraint,
    /// When a file lacks it.
    pub absent: Absent,
}

/// One neuron-like NIR primitive.
#[derive(Clone, Copy, Debug)]
pub struct Descriptor {
    /// NIR type name.
    pub nir_type: &'static str,
    /// Parameters in the order of the `Op` variant's fields and [`Op::params`].
    pub params: &'static [Param],
    /// Has a membrane (every neuron model; not the stateless Threshold).
    pub membrane: bool,
    /// Emits spikes.
    pub spiking: bool,
    /// Keeps state between steps.
    pub stateful: bool,
    /// Its dynamics depend on dt.
    pub needs_dt: bool,
    /// Current-based (a synaptic state).
    pub current_based: bool,
    /// How the ONNX front end produces it, or `None`.
    pub onnx: Option<&'static str>,
    /// The op from its parameters, in [`Descriptor::params`] order.
    pub build: fn(Vec<Tensor>) -> Op,
}

const fn req(name: &'static str) -> Param {
    Param { name, constraint: Constraint::Any, absent: Absent::Required }
}

const fn tau(name: &'static str) -> Param {
    Param { name, constraint: Constraint::Positive, absent: Absent::Required }
}

const V_RESET: Param = Param {
    name: "v_reset",
    constraint: Constraint::Any,
    absent: Absent::Like {
        like: "v_threshold",
        value: 0.0,
        why: "file written before NIR stored it; it matters only under the zero reset",
    },
};

const W_IN: Param =
    Param { name: "w_in", constraint: Constraint::Any, absent: Absent::Scalar { like: "tau_syn", value: 1.0 } };

fn take<const N: usize>(v: Vec<Tensor>) -> [Tensor; N] {
    v.try_into().unwrap_or_else(|v: Vec<Tensor>| panic!("descriptor built with {} parameters, expected {N}", v.len()))
}

/// Every neuron-like primitive.
pub static DESCRIPTORS: &[Descriptor] = &[
    Descriptor {
        nir_type: "Threshold",
        params: &[req("threshold")],
        membrane: false,
        spiking: true,
        stateful: false,
        needs_dt: false,
        current_based: false,
        onnx: Some("a comparison of a stateless value with a constant (Greater or GreaterOrEqual and Cast)"),
        build: |v| {
            let [threshold] = take(v);
            Op::Threshold { threshold }
        },
    },
    Descriptor {
        nir_type: "I",
        params: &[req("r")],
        membrane: true,
        spiking: false,
        stateful: true,
        needs_dt: true,
        current_based: false,
        onnx: Some("a membrane that accumulates without decay or threshold (an integrator readout)"),
        build: |v| {
            let [r] = take(v);
            Op::I { r }
        },
    },
    Descriptor {
        nir_type: "IF",
        params: &[req("r"), req("v_threshold"), V_RESET],
        membrane: true,
        spiking: true,
        stateful: true,
        needs_dt: true,
        current_based: false,
        onnx: Some("snnTorch Leaky with beta = 1"),
        build: |v| {
            let [r, v_threshold, v_reset] = take(v);
            Op::IF { r, v_threshold, v_reset }
        },
    },
    Descriptor {
        nir_type: "LI",
        params: &[tau("tau"), req("r"), req("v_leak")],
        membrane: true,
        spiking: false,
        stateful: true,
        needs_dt: true,
        current_based: false,
        onnx: Some("a decaying membrane without threshold (a leaky-integrator readout)"),
        build: |v| {
            let [tau, r, v_leak] = take(v);
            Op::LI { tau, r, v_leak }
        },
    },
    Descriptor {
        nir_type: "LIF",
        params: &[tau("tau"), req("r"), req("v_leak"), req("v_threshold"), V_RESET],
        membrane: true,
        spiking: true,
        stateful: true,
        needs_dt: true,
        current_based: false,
        onnx: Some(
            "snnTorch Leaky (its subtract or zero reset, or a decaying subtraction) as one step with the membrane as state",
        ),
        build: |v| {
            let [tau, r, v_leak, v_threshold, v_reset] = take(v);
            Op::LIF { tau, r, v_leak, v_threshold, v_reset }
        },
    },
    Descriptor {
        nir_type: "CubaLI",
        params: &[tau("tau_syn"), tau("tau_mem"), req("r"), req("v_leak"), W_IN],
        membrane: true,
        spiking: false,
        stateful: true,
        needs_dt: true,
        current_based: true,
        onnx: None,
        build: |v| {
            let [tau_syn, tau_mem, r, v_leak, w_in] = take(v);
            Op::CubaLI { tau_syn, tau_mem, r, v_leak, w_in }
        },
    },
    Descriptor {
        nir_type: "CubaLIF",
        params: &[tau("tau_syn"), tau("tau_mem"), req("r"), req("v_leak"), W_IN, req("v_threshold"), V_RESET],
        membrane: true,
        spiking: true,
        stateful: true,
        needs_dt: true,
        current_based: true,
        onnx: None,
        build: |v| {
            let [tau_syn, tau_mem, r, v_leak, w_in, v_threshold, v_reset] = take(v);
            Op::CubaLIF { tau_syn, tau_mem, r, v_leak, w_in, v_threshold, v_reset }
        },
    },
];

/// The descriptor of NIR type `name`.
pub fn descriptor(name: &str) -> Option<&'static Descriptor> {
    DESCRIPTORS.iter().find(|d| d.nir_type == name)
}

/// The neuron models the ONNX front end recognises and how, one line each (the README's list).
pub fn onnx_support() -> Vec<String> {
    DESCRIPTORS.iter().filter_map(|d| d.onnx.map(|how| format!("{}: {how}", d.nir_type))).collect()
}

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
    /// Membrane floor after the reset (the dialect's `v_min`), when the neurons have one.
    pub v_min: Option<Vec<f64>>,
}

fn b(t: &Tensor, n: usize) -> Vec<f64> {
    (0..n).map(|i| t.at(i)).collect()
}

/// Coefficients for a neuron op (I, IF, LI, LIF, CubaLI, CubaLIF) or a Threshold under a
/// dialect; `None` for other ops. dt is ignored by Threshold.
pub fn coeffs(op: &Op, n: usize, d: &Dialect) -> Option<Coeffs> {
    let dt = d.dt_or_one();
    let exact = d.switches.integration != Integration::Euler;
    let normalised = d.switches.integration != Integration::ExactUnnormalised;
    let zeros = vec![0.0; n];
    let beta_of = |tau: f64| if exact { (-dt / tau).exp() } else { 1.0 - dt / tau };
    let decay = |tau: &Tensor| (0..n).map(|j| beta_of(tau.at(j))).collect::<Vec<f64>>();
    let gain_tau = |r: &Tensor, tau: &Tensor| {
        (0..n)
            .map(|j| match (exact, normalised) {
                (true, true) => r.at(j) * (1.0 - beta_of(tau.at(j))),
                (true, false) => r.at(j),
                _ => r.at(j) * dt / tau.at(j),
            })
            .collect::<Vec<f64>>()
    };
    let syn_gain = |w_in: &Tensor, tau_syn: &Tensor| {
        (0..n)
            .map(|j| match d.switches.cuba_input {
                CubaInput::Unit => w_in.at(j),
                CubaInput::Scaled if exact && !normalised => w_in.at(j),
                CubaInput::Scaled if exact => w_in.at(j) * (1.0 - beta_of(tau_syn.at(j))),
                CubaInput::Scaled => w_in.at(j) * dt / tau_syn.at(j),
            })
            .collect::<Vec<f64>>()
    };
    let gain_dt = |r: &Tensor| (0..n).map(|j| r.at(j) * dt).collect::<Vec<f64>>();
    let mut c = match op {
        Op::Threshold { threshold } => Coeffs {
            beta: zeros.clone(),
            gain: vec![1.0; n],
            v_leak: zeros.clone(),
            v_th: Some(b(threshold, n)),
            v_reset: zeros,
            syn: None,
            v_min: None,
        },
        Op::I { r } => Coeffs {
            beta: vec![1.0; n],
            gain: gain_dt(r),
            v_leak: zeros.clone(),
            v_th: None,
            v_reset: zeros,
            syn: None,
            v_min: None,
        },
        Op::IF { r, v_threshold, v_reset } => Coeffs {
            beta: vec![1.0; n],
            gain: gain_dt(r),
            v_leak: zeros,
            v_th: Some(b(v_threshold, n)),
            v_reset: b(v_reset, n),
            syn: None,
            v_min: None,
        },
        Op::LI { tau, r, v_leak } => Coeffs {
            beta: decay(tau),
            gain: gain_tau(r, tau),
            v_leak: b(v_leak, n),
            v_th: None,
            v_reset: zeros,
            syn: None,
            v_min: None,
        },
        Op::LIF { tau, r, v_leak, v_threshold, v_reset } => Coeffs {
            beta: decay(tau),
            gain: gain_tau(r, tau),
            v_leak: b(v_leak, n),
            v_th: Some(b(v_threshold, n)),
            v_reset: b(v_reset, n),
            syn: None,
            v_min: None,
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
                v_min: None,
            }
        }
        _ => return None,
    };
    c.v_min = d.switches.v_min.of(op, c.v_th.as_deref(), n);
    Some(c)
}

/// The facts of an op that its neuron model's descriptor states.
impl Op {
    /// The NIR type string of this op (`Conv` reports `Conv1d`/`Conv2d` by weight rank).
    pub fn type_name(&self) -> &'static str {
        match self {
            Op::Input { .. } => "Input",
            Op::Output => "Output",
            Op::Affine { .. } => "Affine",
            Op::Linear { .. } => "Linear",
            Op::Scale { .. } => "Scale",
            Op::Conv { weight, .. } => {
                if weight.shape.len() == 3 {
                    "Conv1d"
                } else {
                    "Conv2d"
                }
            }
            Op::SumPool2d { .. } => "SumPool2d",
            Op::AvgPool2d { .. } => "AvgPool2d",
            Op::Flatten { .. } => "Flatten",
            Op::Delay { .. } => "Delay",
            op => op.descriptor().expect("every other op is neuron-like").nir_type,
        }
    }

    /// The neuron model's descriptor, for neuron-like ops (neurons and Threshold).
    pub fn descriptor(&self) -> Option<&'static Descriptor> {
        let name = match self {
            Op::Threshold { .. } => "Threshold",
            Op::I { .. } => "I",
            Op::IF { .. } => "IF",
            Op::LI { .. } => "LI",
            Op::LIF { .. } => "LIF",
            Op::CubaLI { .. } => "CubaLI",
            Op::CubaLIF { .. } => "CubaLIF",
            _ => return None,
        };
        descriptor(name)
    }

    /// True for ops that keep state between steps (a cycle must pass through one).
    pub fn is_stateful(&self) -> bool {
        matches!(self, Op::Delay { .. }) || self.descriptor().is_some_and(|d| d.stateful)
    }

    /// True for ops whose output is a binary spike train.
    pub fn emits_spikes(&self) -> bool {
        self.descriptor().is_some_and(|d| d.spiking)
    }

    /// True for neuron models (ops with a membrane).
    pub fn is_neuron(&self) -> bool {
        self.descriptor().is_some_and(|d| d.membrane)
    }

    /// True when the op's dynamics depend on dt.
    pub fn needs_dt(&self) -> bool {
        matches!(self, Op::Delay { .. }) || self.descriptor().is_some_and(|d| d.needs_dt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Op::params` is the one per-variant list left: it must name the descriptor's
    /// parameters in order, and `build` must put each tensor where `params` finds it.
    #[test]
    fn descriptors_match_the_ops_they_build() {
        for d in DESCRIPTORS {
            let tensors: Vec<Tensor> =
                (0..d.params.len()).map(|k| Tensor::scalar(super::super::DType::F64, k as f64)).collect();
            let op = (d.build)(tensors);
            assert_eq!(op.type_name(), d.nir_type);
            assert!(std::ptr::eq(op.descriptor().unwrap(), d), "{}", d.nir_type);
            let names: Vec<&str> = op.params().iter().map(|(n, _)| *n).collect();
            let want: Vec<&str> = d.params.iter().map(|p| p.name).collect();
            assert_eq!(names, want, "{}", d.nir_type);
            for (k, (_, t)) in op.params().iter().enumerate() {
                assert_eq!(t.to_vec(), vec![k as f64], "{}: parameter {k}", d.nir_type);
            }
        }
        assert!(onnx_support().iter().any(|l| l.starts_with("LIF:")));
    }
}
