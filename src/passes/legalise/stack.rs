//! Stack: dense sibling branches (weighted op into a neuron layer each, fed by the same source)
//! become one weighted op into one neuron layer, their readers reading it through zeros.

use std::collections::HashMap;

use petgraph::graph::NodeIndex;

use super::graph::{dense, dense_children, dtype_of, only_from};
use super::neurons::concat_neurons;
use super::rewrite::{Rewrite, merged_name};
use crate::ir::{Graph, Op, Tensor};
use crate::valid::GraphInfo;

/// The first Stack that applies, sources in evaluation order.
pub(super) fn find_stack(g: &Graph, info: &GraphInfo) -> Option<Rewrite> {
    for &s in &info.order {
        // Candidates: W -> N, N a neuron only W feeds, N's consumers dense ops only N feeds.
        let mut cands: Vec<(NodeIndex, NodeIndex, Vec<NodeIndex>)> = vec![];
        for (w, n) in dense_children(g, info, s) {
            let op = &g.g[n].op;
            if op.descriptor().is_none() || !only_from(g, info, n, w) {
                continue;
            }
            let outs = g.out_edges(n);
            let consumers: Vec<NodeIndex> = outs.iter().map(|&(_, c)| c).collect();
            let ok = !outs.is_empty()
                && outs.iter().all(|&(e, c)| !info.is_recurrent(e) && dense(&g.g[c].op).is_some())
                && consumers.iter().all(|&c| only_from(g, info, c, n));
            if ok {
                cands.push((w, n, consumers));
            }
        }
        // Group by neuron model; the first group of two or more merges.
        let mut groups: Vec<Vec<usize>> = vec![];
        for (i, (_, n, _)) in cands.iter().enumerate() {
            let d = std::mem::discriminant(&g.g[*n].op);
            match groups.iter_mut().find(|gr| std::mem::discriminant(&g.g[cands[gr[0]].1].op) == d) {
                Some(gr) => gr.push(i),
                None => groups.push(vec![i]),
            }
        }
        for gr in groups.into_iter().filter(|gr| gr.len() >= 2) {
            let members: Vec<&(NodeIndex, NodeIndex, Vec<NodeIndex>)> = gr.iter().map(|&i| &cands[i]).collect();
            if let Some(r) = stack(g, info, &members) {
                return Some(r);
            }
        }
    }
    None
}

/// Stacks `members` (weighted op, neuron, consumers).
fn stack(g: &Graph, info: &GraphInfo, members: &[&(NodeIndex, NodeIndex, Vec<NodeIndex>)]) -> Option<Rewrite> {
    let sizes: Vec<usize> = members.iter().map(|(_, n, _)| info.out_numel(*n)).collect();
    let total: usize = sizes.iter().sum();
    let cols = dense(&g.g[members[0].0].op)?.1;
    // Rows of every weighted op in order; a Linear's bias is zero.
    let (mut w, mut b) = (Vec::with_capacity(total * cols), Vec::with_capacity(total));
    for (k, (wi, _, _)) in members.iter().enumerate() {
        let (rows, c, wt, bias) = dense(&g.g[*wi].op)?;
        if c != cols || rows != sizes[k] {
            return None;
        }
        w.extend(wt.iter());
        b.extend(bias.map_or_else(|| vec![0.0; rows], |t| t.to_vec()));
    }
    let neurons: Vec<&Op> = members.iter().map(|(_, n, _)| &g.g[*n].op).collect();
    let neuron = concat_neurons(&neurons, &sizes)?;
    let dt = dtype_of(members.iter().flat_map(|(wi, _, _)| g.g[*wi].op.params().into_iter().map(|(_, t)| t)));
    let weighted = Op::Affine { weight: Tensor::new(dt, vec![total, cols], w), bias: Tensor::new(dt, vec![total], b) };
    // Each consumer reads its block of the merged neurons: zeros in the other columns.
    let mut replace = HashMap::new();
    let mut zeros = 0usize;
    let mut offset = 0;
    for (k, (_, _, consumers)) in members.iter().enumerate() {
        for &c in consumers {
            let (rows, cc, wt, bias) = dense(&g.g[c].op)?;
            if cc != sizes[k] {
                return None;
            }
            let mut wide = vec![0.0; rows * total];
            for r in 0..rows {
                for j in 0..cc {
                    wide[r * total + offset + j] = wt.at(r * cc + j);
                }
            }
            zeros += rows * (total - cc);
            let weight = wt.like(vec![rows, total], wide);
            replace.insert(
                c,
                match bias {
                    Some(b) => Op::Affine { weight, bias: b.clone() },
                    None => Op::Linear { weight },
                },
            );
        }
        offset += sizes[k];
    }
    let wnames: Vec<&str> = members.iter().map(|(wi, _, _)| g.g[*wi].name.as_str()).collect();
    let nnames: Vec<&str> = members.iter().map(|(_, n, _)| g.g[*n].name.as_str()).collect();
    let wname = merged_name(g, &wnames, &[]);
    let nname = merged_name(g, &nnames, std::slice::from_ref(&wname));
    let what = format!(
        "stacked {} branches ({}) into '{nname}': one layer of {total} neurons fed by '{wname}'; their consumers \
         read it through {zeros} added zero weights",
        members.len(),
        nnames.join(", "),
    );
    Some(Rewrite {
        merge: vec![
            (members.iter().map(|m| m.0).collect(), wname, weighted),
            (members.iter().map(|m| m.1).collect(), nname, neuron),
        ],
        replace,
        bypass: vec![],
        drop_edges: vec![],
        remove: vec![],
        insert: None,
        what,
    })
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::find_stack;
    use crate::ir::{DType, Graph, Op, ResetMode, Tensor};

    /// Two students of the input (3): wa (2x3) -> na (2) -> ra (2x2) -> out and wb (3x3) -> nb
    /// (3) -> rb (2x3) -> out; nb is `nb`.
    fn students(nb: Op) -> Graph {
        let mut g = empty(ResetMode::Zero);
        let input = g.add_node("input", Op::Input { shape: vec![3] });
        let out = g.add_node("out", lif(&[0.5, 0.75]));
        let output = g.add_node("output", Op::Output);
        let wa = g.add_node("wa", affine(2, 3, vec![1.0, 0.5, 0.25, 0.25, 1.5, -0.5], vec![0.25, 0.0]));
        let na = g.add_node("na", lif(&[0.5, 0.75]));
        let ra = g.add_node("ra", linear(2, 2, vec![1.0, -0.5, 0.25, 1.25]));
        let wb = g.add_node("wb", affine(3, 3, values(9, 31).iter().map(|v| v.abs()).collect(), vec![0.0, -0.25, 0.5]));
        let nb = g.add_node("nb", nb);
        let rb = g.add_node("rb", linear(2, 3, vec![0.75, 0.5, -0.5, 1.0, -0.25, 0.5]));
        chain(&mut g, &[input, wa, na, ra, out, output]);
        chain(&mut g, &[input, wb, nb, rb, out]);
        g
    }

    /// The students' first layers stack: one Affine (5x3) whose rows and biases are wa's then
    /// wb's, one LIF layer of 5 whose thresholds are na's then nb's; ra and rb read it through
    /// zeros in the other student's columns; the outputs stay.
    #[test]
    fn sibling_layers_stack_and_their_readers_widen() {
        let g = students(lif(&[1.0, 0.5, 0.25]));
        let (h, what) = rewrite(&g, find_stack);
        assert_eq!(
            what,
            "stacked 2 branches (na, nb) into 'na+nb': one layer of 5 neurons fed by 'wa+wb'; their consumers read \
             it through 10 added zero weights"
        );
        assert_eq!(names(&h), ["input", "out", "output", "wa+wb", "na+nb", "ra", "rb"]);
        let all = [
            ("input", "wa+wb"),
            ("wa+wb", "na+nb"),
            ("na+nb", "ra"),
            ("na+nb", "rb"),
            ("ra", "out"),
            ("rb", "out"),
            ("out", "output"),
        ];
        assert_eq!(edges(&h), pairs(&all));
        let Op::Affine { weight: stacked, bias } = op(&h, "wa+wb") else { panic!("an Affine") };
        let mut rows = weight(&g, "wa").1;
        rows.extend(weight(&g, "wb").1);
        assert_eq!((stacked.shape.as_slice(), stacked.to_vec()), (&[5, 3][..], rows));
        assert_eq!(bias.to_vec(), [0.25, 0.0, 0.0, -0.25, 0.5]);
        let Op::LIF { v_threshold, .. } = op(&h, "na+nb") else { panic!("a LIF layer") };
        assert_eq!(v_threshold.to_vec(), [0.5, 0.75, 1.0, 0.5, 0.25]);
        assert_eq!(weight(&h, "ra"), (vec![2, 5], vec![1.0, -0.5, 0.0, 0.0, 0.0, 0.25, 1.25, 0.0, 0.0, 0.0]));
        assert_eq!(weight(&h, "rb"), (vec![2, 5], vec![0.0, 0.0, 0.75, 0.5, -0.5, 0.0, 0.0, 1.0, -0.25, 0.5]));
        assert_same_function(&g, &h);
    }

    /// Layers of different neuron models (LIF and IF) do not stack.
    #[test]
    fn different_neuron_models_stay_apart() {
        let s = |v| Tensor::scalar(DType::F64, v);
        let g = students(Op::IF { r: s(1.0), v_threshold: s(0.5), v_reset: s(0.0) });
        assert!(find_stack(&g, &info(&g)).is_none());
    }
}
