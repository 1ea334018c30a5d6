//! The spiking dataflow IR: plain data, no behaviour.
//!
//! A [`Graph`] is a petgraph directed graph of named [`Node`]s, each carrying one typed [`Op`]
//! that mirrors a NIR primitive. Invariants kept by every front end:
//! - node names are unique; nested NIR graphs are flattened with dot-qualified names
//!   (`block1.lif`) and their inner Input/Output pass-through nodes are removed;
//! - parameters are stored as [`Tensor`]s that remember the dtype they were read with;
//! - edge insertion order is the file's order (it decides which edges are recurrent, see
//!   [`crate::valid`]).
//!
//! Shapes of inputs and outputs are not stored here: [`crate::valid`] infers them into a side
//! table. What NIR does not store (dt, reset mode, firing rule, timesteps) lives in
//! [`Dialect`].

pub mod dialect;
pub mod neuron;
mod tensor;

pub use dialect::{Dialect, Preset, ResetMode};
pub use tensor::{DType, Tensor, TensorIter, conv_out_len};

use petgraph::graph::{DiGraph, EdgeIndex, NodeIndex};
use serde::{Deserialize, Serialize};

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
    pub fn descriptor(&self) -> Option<&'static neuron::Descriptor> {
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
        neuron::descriptor(name)
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

/// A named node of the graph.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Source name, dot-qualified for nodes of nested graphs.
    pub name: String,
    /// The operation.
    pub op: Op,
}

/// Where a graph came from (for messages and `inspect`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// Format: `nir`, `onnx` or `json`.
    pub format: String,
    /// Format version as stored in the file (e.g. NIR `1.0.8`), when present.
    pub version: Option<String>,
    /// Things the loader defaulted or ignored, for `inspect` to show.
    pub warnings: Vec<String>,
}

/// An Input or Output node could not be chosen.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SelectError {
    /// A batch feeds exactly one Input.
    #[error("the model has {0} Input nodes; simulation and hardware feed exactly one")]
    Inputs(usize),
    /// No Output of that name.
    #[error("no Output node named '{name}' (outputs: {})", outputs.join(", "))]
    NoOutput {
        /// Name asked for.
        name: String,
        /// The Output nodes.
        outputs: Vec<String>,
    },
    /// Several Outputs and none named.
    #[error("the model has several Output nodes ({}); choose one with --output", .0.join(", "))]
    Ambiguous(Vec<String>),
}

/// A spiking dataflow graph plus the dialect it is to be simulated with.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    /// Nodes and edges; edge indices follow file order.
    pub g: DiGraph<Node, ()>,
    /// Facts the source format does not store.
    pub dialect: Dialect,
    /// Origin of the graph.
    pub provenance: Provenance,
}

impl Graph {
    /// Adds a node; the caller guarantees the name is unique.
    pub fn add_node(&mut self, name: impl Into<String>, op: Op) -> NodeIndex {
        self.g.add_node(Node { name: name.into(), op })
    }

    /// Adds an edge `from -> to` after every existing edge.
    pub fn add_edge(&mut self, from: NodeIndex, to: NodeIndex) -> EdgeIndex {
        self.g.add_edge(from, to, ())
    }

    /// Renames every node whose name is not a safe label (see [`crate::names`]) to its label,
    /// with `~2`, `~3`... appended where that label is taken, and makes the provenance text
    /// safe to print. Returns the new names. Front ends call this before returning a graph.
    pub fn make_names_safe(&mut self) -> Vec<String> {
        use crate::names::{LABEL_MAX, is_label, label, text};
        let mut used: std::collections::HashSet<String> =
            self.g.node_weights().filter(|n| is_label(&n.name)).map(|n| n.name.clone()).collect();
        let mut renamed = vec![];
        for ix in self.g.node_indices().collect::<Vec<_>>() {
            if is_label(&self.g[ix].name) {
                continue;
            }
            let base = label(&self.g[ix].name);
            let mut cand = base.clone();
            let mut k = 2;
            while used.contains(&cand) {
                let suffix = format!("~{k}");
                let mut b = base.clone();
                b.truncate(LABEL_MAX - suffix.len());
                cand = b + &suffix;
                k += 1;
            }
            used.insert(cand.clone());
            self.g[ix].name = cand.clone();
            renamed.push(cand);
        }
        let p = &mut self.provenance;
        p.version = p.version.as_deref().map(label);
        for w in &mut p.warnings {
            *w = text(w, 1000);
        }
        if !renamed.is_empty() {
            let shown = crate::names::list_label(renamed.iter().map(String::as_str));
            p.warnings.push(format!(
                "{} node names held bytes outside [A-Za-z0-9_.,:/+=@~-] or more than {LABEL_MAX} bytes; \
                 they are used as safe labels: {shown}",
                renamed.len()
            ));
        }
        renamed
    }

    /// The dialect the graph's own equations fix, for formats that store them (ONNX).
    pub fn fixed_dialect(&self) -> Option<Dialect> {
        (self.provenance.format == "onnx").then(|| self.dialect.clone())
    }

    /// The neurons read out: those whose output reaches an Output node through non-neuron ops
    /// only.
    pub fn readout_neurons(&self) -> std::collections::HashSet<NodeIndex> {
        let mut found = std::collections::HashSet::new();
        let mut seen = std::collections::HashSet::new();
        let mut stack = self.outputs();
        while let Some(n) = stack.pop() {
            for (_, s) in self.in_edges(n) {
                if !seen.insert(s) {
                    continue;
                }
                if self.g[s].op.is_neuron() {
                    found.insert(s);
                } else {
                    stack.push(s);
                }
            }
        }
        found
    }

    /// The single Input node (what a batch feeds).
    pub fn the_input(&self) -> Result<NodeIndex, SelectError> {
        match self.inputs()[..] {
            [i] => Ok(i),
            ref ins => Err(SelectError::Inputs(ins.len())),
        }
    }

    /// The Output node named `name`, or the only one.
    pub fn select_output(&self, name: Option<&str>) -> Result<NodeIndex, SelectError> {
        let outs = self.outputs();
        let names = || outs.iter().map(|&o| self.g[o].name.clone()).collect::<Vec<_>>();
        match name {
            Some(n) => outs
                .iter()
                .copied()
                .find(|&o| self.g[o].name == n)
                .ok_or_else(|| SelectError::NoOutput { name: crate::names::label(n), outputs: names() }),
            None if outs.len() == 1 => Ok(outs[0]),
            None => Err(SelectError::Ambiguous(names())),
        }
    }

    /// Looks a node up by its (qualified) name.
    pub fn find(&self, name: &str) -> Option<NodeIndex> {
        self.g.node_indices().find(|&i| self.g[i].name == name)
    }

    /// Node by index.
    pub fn node(&self, i: NodeIndex) -> &Node {
        &self.g[i]
    }

    /// Edges into `n`, in file order, as (edge, source).
    pub fn in_edges(&self, n: NodeIndex) -> Vec<(EdgeIndex, NodeIndex)> {
        let mut v: Vec<_> = self
            .g
            .edges_directed(n, petgraph::Direction::Incoming)
            .map(|e| {
                use petgraph::visit::EdgeRef;
                (e.id(), e.source())
            })
            .collect();
        v.sort_by_key(|(e, _)| e.index());
        v
    }

    /// Edges out of `n`, in file order, as (edge, target).
    pub fn out_edges(&self, n: NodeIndex) -> Vec<(EdgeIndex, NodeIndex)> {
        let mut v: Vec<_> = self
            .g
            .edges_directed(n, petgraph::Direction::Outgoing)
            .map(|e| {
                use petgraph::visit::EdgeRef;
                (e.id(), e.target())
            })
            .collect();
        v.sort_by_key(|(e, _)| e.index());
        v
    }

    /// All edges in file order as (source, target).
    pub fn edges(&self) -> Vec<(NodeIndex, NodeIndex)> {
        self.g.edge_indices().map(|e| self.g.edge_endpoints(e).expect("edge index from this graph")).collect()
    }

    /// Input nodes in name order.
    pub fn inputs(&self) -> Vec<NodeIndex> {
        let mut v: Vec<_> = self.g.node_indices().filter(|&i| matches!(self.g[i].op, Op::Input { .. })).collect();
        v.sort_by(|a, b| self.g[*a].name.cmp(&self.g[*b].name));
        v
    }

    /// Output nodes in name order.
    pub fn outputs(&self) -> Vec<NodeIndex> {
        let mut v: Vec<_> = self.g.node_indices().filter(|&i| matches!(self.g[i].op, Op::Output)).collect();
        v.sort_by(|a, b| self.g[*a].name.cmp(&self.g[*b].name));
        v
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.g.node_count()
    }

    /// True when the graph has no nodes.
    pub fn is_empty(&self) -> bool {
        self.g.node_count() == 0
    }
}
