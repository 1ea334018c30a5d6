//! The graph: named nodes of [`Op`]s, edges in file order, the dialect it is simulated with and
//! where it came from.

use petgraph::graph::{DiGraph, EdgeIndex, NodeIndex};
use serde::{Deserialize, Serialize};

use super::dialect::Dialect;
use super::op::Op;

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
