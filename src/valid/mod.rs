//! Validation and shape inference.
//!
//! [`validate`] checks a [`Graph`] and returns a [`GraphInfo`] side table that every later
//! stage requires: a topological order, which edges are recurrent, and every node's input
//! and output shape. Promise: simulators, passes and back ends never panic on a graph that
//! validated.
//!
//! Recurrent edges are the back edges of a depth-first search that starts at the Input nodes
//! (name order) and follows out-edges in file order; a recurrent edge delivers the source's
//! output of the previous step. A cycle made only of stateless nodes is an error.

mod error;
mod shapes;

use std::collections::HashSet;

use petgraph::graph::{EdgeIndex, NodeIndex};

use crate::ir::{Graph, Op};

pub use crate::ir::conv_out_len;
pub use error::{MAX_NUMEL, ValidError};

/// What validation learned about a graph.
#[derive(Debug, Clone)]
pub struct GraphInfo {
    /// Every node, in the order a step evaluates them.
    pub order: Vec<NodeIndex>,
    /// `recurrent[e.index()]`: edge `e` reads the previous step.
    pub recurrent: Vec<bool>,
    /// Shape of each node's input (the sum of its in-edges), by node index.
    pub in_shape: Vec<Vec<usize>>,
    /// Shape of each node's output, by node index.
    pub out_shape: Vec<Vec<usize>>,
}

impl GraphInfo {
    /// True when edge `e` reads the previous step.
    pub fn is_recurrent(&self, e: EdgeIndex) -> bool {
        self.recurrent[e.index()]
    }

    /// Number of elements of node `n`'s output.
    pub fn out_numel(&self, n: NodeIndex) -> usize {
        self.out_shape[n.index()].iter().product()
    }

    /// Number of elements of node `n`'s input.
    pub fn in_numel(&self, n: NodeIndex) -> usize {
        self.in_shape[n.index()].iter().product()
    }

    /// Position of each node in `order`, by node index.
    pub fn rank(&self) -> Vec<usize> {
        let mut r = vec![0; self.order.len()];
        for (i, n) in self.order.iter().enumerate() {
            r[n.index()] = i;
        }
        r
    }
}

/// Validates `g` and infers shapes.
pub fn validate(g: &Graph) -> Result<GraphInfo, ValidError> {
    if g.inputs().is_empty() {
        return Err(ValidError::graph("the graph has no Input node"));
    }
    if g.outputs().is_empty() {
        return Err(ValidError::graph("the graph has no Output node"));
    }
    let mut seen = std::collections::HashSet::new();
    for n in g.g.node_weights() {
        if !crate::names::is_label(&n.name) {
            return Err(ValidError::at(
                &crate::names::label(&n.name),
                None,
                "the node name is not a safe label (call Graph::make_names_safe first)",
            ));
        }
        if !seen.insert(n.name.as_str()) {
            return Err(ValidError::at(&n.name, None, "two nodes have this name"));
        }
    }
    for ix in g.g.node_indices() {
        check_params(g, ix)?;
    }
    for i in g.inputs() {
        if !g.in_edges(i).is_empty() {
            return Err(ValidError::at(&g.g[i].name, None, "an Input node cannot have incoming edges"));
        }
    }
    for o in g.outputs() {
        if g.in_edges(o).is_empty() {
            return Err(ValidError::at(&g.g[o].name, None, "Output node has no incoming edge"));
        }
    }
    check_stateless_cycles(g)?;
    let recurrent = back_edges(g);
    let order = topo_order(g, &recurrent);
    let (in_shape, out_shape) = shapes::infer(g, &order, &recurrent)?;
    Ok(GraphInfo { order, recurrent, in_shape, out_shape })
}

fn check_params(g: &Graph, ix: NodeIndex) -> Result<(), ValidError> {
    let n = &g.g[ix];
    for (field, t) in n.op.params() {
        if let Some(bad) = t.iter().find(|v| !v.is_finite()) {
            return Err(ValidError::at(&n.name, Some(field), format!("contains {bad}; parameters must be finite")));
        }
        let positive =
            n.op.descriptor()
                .and_then(|d| d.params.iter().find(|p| p.name == field))
                .is_some_and(|p| p.constraint == crate::ir::neuron::Constraint::Positive);
        if positive && let Some(bad) = t.iter().find(|&v| v <= 0.0) {
            return Err(ValidError::at(&n.name, Some(field), format!("is {bad}; time constants must be positive")));
        }
        if field == "delay"
            && let Some(bad) = t.iter().find(|&v| v < 0.0)
        {
            return Err(ValidError::at(&n.name, Some(field), format!("is {bad}; delays must be non-negative")));
        }
    }
    if let Op::Input { shape } = &n.op {
        if shape.is_empty() || shape.contains(&0) {
            return Err(ValidError::at(&n.name, Some("shape"), format!("input shape {shape:?} has no elements")));
        }
        let numel = shape.iter().try_fold(1usize, |a, &b| a.checked_mul(b));
        match numel {
            Some(k) if k <= MAX_NUMEL => {}
            _ => {
                return Err(ValidError::at(
                    &n.name,
                    Some("shape"),
                    format!("declared shape {shape:?} is too large to allocate (limit {MAX_NUMEL} elements)"),
                ));
            }
        }
    }
    Ok(())
}

/// Error when stateless nodes form a cycle (no state to break the loop within a step).
fn check_stateless_cycles(g: &Graph) -> Result<(), ValidError> {
    let stateless = |i: NodeIndex| !g.g[i].op.is_stateful();
    let sub = g.g.filter_map(|i, n| stateless(i).then_some(n.name.clone()), |_, &()| Some(()));
    for scc in petgraph::algo::tarjan_scc(&sub) {
        let cyclic = scc.len() > 1 || scc.iter().any(|&i| sub.contains_edge(i, i));
        if cyclic {
            let mut names: Vec<_> = scc.iter().map(|&i| sub[i].clone()).collect();
            names.sort();
            return Err(ValidError::at(
                &names[0],
                None,
                format!(
                    "is on a cycle with no stateful node ({}); a loop must pass through a neuron or Delay",
                    names.join(" -> ")
                ),
            ));
        }
    }
    Ok(())
}

/// Back edges of the DFS described in the module docs.
fn back_edges(g: &Graph) -> Vec<bool> {
    let n = g.g.node_count();
    let mut rec = vec![false; g.g.edge_count()];
    let mut state = vec![0u8; n]; // 0 new, 1 on stack, 2 done
    let mut roots = g.inputs();
    let mut rest: Vec<_> = g.g.node_indices().filter(|i| !roots.contains(i)).collect();
    rest.sort_by(|a, b| g.g[*a].name.cmp(&g.g[*b].name));
    roots.extend(rest);
    for r in roots {
        if state[r.index()] != 0 {
            continue;
        }
        // Iterative DFS: (node, out-edges, next position).
        let mut stack = vec![(r, g.out_edges(r), 0usize)];
        state[r.index()] = 1;
        while let Some((node, edges, pos)) = stack.last_mut() {
            if *pos < edges.len() {
                let (e, t) = edges[*pos];
                *pos += 1;
                match state[t.index()] {
                    0 => {
                        state[t.index()] = 1;
                        let out = g.out_edges(t);
                        stack.push((t, out, 0));
                    }
                    1 => rec[e.index()] = true,
                    _ => {}
                }
            } else {
                state[node.index()] = 2;
                stack.pop();
            }
        }
    }
    rec
}

/// Kahn's algorithm over non-recurrent edges, ties broken by node index (file order).
fn topo_order(g: &Graph, recurrent: &[bool]) -> Vec<NodeIndex> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let n = g.g.node_count();
    let mut indeg = vec![0usize; n];
    for e in g.g.edge_indices() {
        if !recurrent[e.index()] {
            let (_, t) = g.g.edge_endpoints(e).expect("edge of this graph");
            indeg[t.index()] += 1;
        }
    }
    let mut heap: BinaryHeap<Reverse<usize>> = (0..n).filter(|&i| indeg[i] == 0).map(Reverse).collect();
    let mut order = Vec::with_capacity(n);
    let mut seen = HashSet::new();
    while let Some(Reverse(i)) = heap.pop() {
        let ix = NodeIndex::new(i);
        seen.insert(ix);
        order.push(ix);
        for (e, t) in g.out_edges(ix) {
            if !recurrent[e.index()] {
                indeg[t.index()] -= 1;
                if indeg[t.index()] == 0 {
                    heap.push(Reverse(t.index()));
                }
            }
        }
    }
    debug_assert_eq!(order.len(), n, "back edges removed leave a DAG");
    order
}
