//! The operations of the spiking dataflow graph (the NIR primitives) and their parameters.
//! What an op's neuron model means (its descriptor, whether it keeps state or spikes) is in
//! `neuron.rs`.

use serde::{Deserialize, Serialize};

use super::tensor::Tensor;

/// Convolution padding as NIR writes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Padding {
    /// Explicit zero padding per spatial dimension (both sides).
    Explicit(Vec<usize>),
    /// Output size equals input size (stride 1); extra padding goes at the end.
    Same,
    /// No padding.
    Valid,
}

/// One operation of the spiking dataflow graph (the NIR primitives). Field names are the
/// NIR dataset names; neuron parameters are scalars or one value per neuron.
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Op {
    /// Graph input; `shape` excludes the batch dimension.
    Input { shape: Vec<usize> },
    /// Graph output; its value is the sum of its inputs.
    Output,
    /// `y = W x + b`, `weight` (out, in), `bias` (out).
    Affine { weight: Tensor, bias: Tensor },
    /// `y = W x`.
    Linear { weight: Tensor },
    /// `y = scale * x` elementwise (broadcast).
    Scale { scale: Tensor },
    /// 1-d or 2-d convolution (PyTorch cross-correlation). `weight` is (Co, Ci/g, K...).
    Conv {
        weight: Tensor,
        bias: Option<Tensor>,
        stride: Vec<usize>,
        padding: Padding,
        dilation: Vec<usize>,
        groups: usize,
        /// Spatial input shape when the file states it.
        input_shape: Option<Vec<usize>>,
    },
    /// 2-d sum pooling with zero padding.
    SumPool2d { kernel: Vec<usize>, stride: Vec<usize>, padding: Vec<usize> },
    /// 2-d average pooling (window sum / kernel area; padding counted).
    AvgPool2d { kernel: Vec<usize>, stride: Vec<usize>, padding: Vec<usize> },
    /// Flatten dims `start_dim..=end_dim` of the shape without batch dimension.
    Flatten { start_dim: i64, end_dim: i64 },
    /// `y[t] = x[t - round(delay/dt)]`.
    Delay { delay: Tensor },
    /// Stateless Heaviside `y = x > threshold`.
    Threshold { threshold: Tensor },
    /// Integrator `dv/dt = r I`.
    I { r: Tensor },
    /// Integrate-and-fire.
    IF { r: Tensor, v_threshold: Tensor, v_reset: Tensor },
    /// Leaky integrator (readout): `tau dv/dt = (v_leak - v) + r I`.
    LI { tau: Tensor, r: Tensor, v_leak: Tensor },
    /// Leaky integrate-and-fire.
    LIF { tau: Tensor, r: Tensor, v_leak: Tensor, v_threshold: Tensor, v_reset: Tensor },
    /// Current-based leaky integrator.
    CubaLI { tau_syn: Tensor, tau_mem: Tensor, r: Tensor, v_leak: Tensor, w_in: Tensor },
    /// Current-based leaky integrate-and-fire.
    CubaLIF {
        tau_syn: Tensor,
        tau_mem: Tensor,
        r: Tensor,
        v_leak: Tensor,
        w_in: Tensor,
        v_threshold: Tensor,
        v_reset: Tensor,
    },
}

impl Op {
    /// The op's parameter tensors with their NIR dataset names.
    pub fn params(&self) -> Vec<(&'static str, &Tensor)> {
        match self {
            Op::Input { .. } | Op::Output | Op::SumPool2d { .. } | Op::AvgPool2d { .. } | Op::Flatten { .. } => vec![],
            Op::Affine { weight, bias } => vec![("weight", weight), ("bias", bias)],
            Op::Linear { weight } => vec![("weight", weight)],
            Op::Scale { scale } => vec![("scale", scale)],
            Op::Conv { weight, bias, .. } => {
                let mut v = vec![("weight", weight)];
                if let Some(b) = bias {
                    v.push(("bias", b));
                }
                v
            }
            Op::Delay { delay } => vec![("delay", delay)],
            Op::Threshold { threshold } => vec![("threshold", threshold)],
            Op::I { r } => vec![("r", r)],
            Op::IF { r, v_threshold, v_reset } => {
                vec![("r", r), ("v_threshold", v_threshold), ("v_reset", v_reset)]
            }
            Op::LI { tau, r, v_leak } => vec![("tau", tau), ("r", r), ("v_leak", v_leak)],
            Op::LIF { tau, r, v_leak, v_threshold, v_reset } => {
                vec![("tau", tau), ("r", r), ("v_leak", v_leak), ("v_threshold", v_threshold), ("v_reset", v_reset)]
            }
            Op::CubaLI { tau_syn, tau_mem, r, v_leak, w_in } => {
                vec![("tau_syn", tau_syn), ("tau_mem", tau_mem), ("r", r), ("v_leak", v_leak), ("w_in", w_in)]
            }
            Op::CubaLIF { tau_syn, tau_mem, r, v_leak, w_in, v_threshold, v_reset } => vec![
                ("tau_syn", tau_syn),
                ("tau_mem", tau_mem),
                ("r", r),
                ("v_leak", v_leak),
                ("w_in", w_in),
                ("v_threshold", v_threshold),
                ("v_reset", v_reset),
            ],
        }
    }

    /// Mutable access to the op's parameter tensors (same order as [`Op::params`]).
    pub fn params_mut(&mut self) -> Vec<(&'static str, &mut Tensor)> {
        match self {
            Op::Input { .. } | Op::Output | Op::SumPool2d { .. } | Op::AvgPool2d { .. } | Op::Flatten { .. } => vec![],
            Op::Affine { weight, bias } => vec![("weight", weight), ("bias", bias)],
            Op::Linear { weight } => vec![("weight", weight)],
            Op::Scale { scale } => vec![("scale", scale)],
            Op::Conv { weight, bias, .. } => {
                let mut v = vec![("weight", weight)];
                if let Some(b) = bias {
                    v.push(("bias", b));
                }
                v
            }
            Op::Delay { delay } => vec![("delay", delay)],
            Op::Threshold { threshold } => vec![("threshold", threshold)],
            Op::I { r } => vec![("r", r)],
            Op::IF { r, v_threshold, v_reset } => {
                vec![("r", r), ("v_threshold", v_threshold), ("v_reset", v_reset)]
            }
            Op::LI { tau, r, v_leak } => vec![("tau", tau), ("r", r), ("v_leak", v_leak)],
            Op::LIF { tau, r, v_leak, v_threshold, v_reset } => {
                vec![("tau", tau), ("r", r), ("v_leak", v_leak), ("v_threshold", v_threshold), ("v_reset", v_reset)]
            }
            Op::CubaLI { tau_syn, tau_mem, r, v_leak, w_in } => {
                vec![("tau_syn", tau_syn), ("tau_mem", tau_mem), ("r", r), ("v_leak", v_leak), ("w_in", w_in)]
            }
            Op::CubaLIF { tau_syn, tau_mem, r, v_leak, w_in, v_threshold, v_reset } => vec![
                ("tau_syn", tau_syn),
                ("tau_mem", tau_mem),
                ("r", r),
                ("v_leak", v_leak),
                ("w_in", w_in),
                ("v_threshold", v_threshold),
                ("v_reset", v_reset),
            ],
        }
    }

    /// Number of scalar parameters.
    pub fn param_count(&self) -> usize {
        self.params().iter().map(|(_, t)| t.numel()).sum()
    }
}
