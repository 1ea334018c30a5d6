//! Join: dense weighted ops fed by the same source and summed into the same node become one,
//! their sum.

use std::collections::HashMap;

use petgraph::graph::NodeIndex;

use super::graph::{dense, dense_children, dtype_of};
use super::rewrite::{Rewrite, merged_name};
use crate::ir::{DType, Graph, Op, Tensor};
use crate::valid::GraphInfo;

/// The first Join that applies.
pub(super) fn find_join(g: &Graph, info: &GraphInfo) -> Option<Rewrite> {
    for &s in &info.order {
        let children = dense_children(g, info, s);
        let mut by_target: Vec<(NodeIndex, Vec<NodeIndex>)> = vec![];
        for (w, t) in children {
            match by_target.iter_mut().find(|(tt, _)| *tt == t) {
                Some((_, v)) => v.push(w),
                None => by_target.push((t, vec![w])),
            }
        }
        for (t, ws) in by_target.into_iter().filter(|(_, ws)| ws.len() >= 2) {
            let (rows, cols, _, _) = dense(&g.g[ws[0]].op)?;
            let mut w = vec![0.0; rows * cols];
            // Summands that overlap would round in F32: F64 keeps the sum as computed.
            let mut overlap = false;
            let mut b: Option<Vec<f64>> = None;
            let mut ok = true;
            for &wi in &ws {
                let (r, c, wt, bias) = dense(&g.g[wi].op)?;
                if (r, c) != (rows, cols) {
                    ok = false;
                    break;
                }
                for (x, y) in w.iter_mut().zip(wt.iter()) {
                    overlap |= *x != 0.0 && y != 0.0;
                    *x += y;
                }
                if let Some(bt) = bias {
                    let acc = b.get_or_insert_with(|| vec![0.0; rows]);
                    for (x, y) in acc.iter_mut().zip(bt.iter()) {
                        overlap |= *x != 0.0 && y != 0.0;
                        *x += y;
                    }
                }
            }
            if !ok {
                continue;
            }
            let all = ws.iter().flat_map(|&x| g.g[x].op.params().into_iter().map(|(_, t)| t));
            let dt = if overlap { DType::F64 } else { dtype_of(all) };
            let weight = Tensor::new(dt, vec![rows, cols], w);
            let op = match b {
                Some(b) => Op::Affine { bias: Tensor::new(dt, vec![rows], b), weight },
                None => Op::Linear { weight },
            };
            let names: Vec<&str> = ws.iter().map(|&x| g.g[x].name.as_str()).collect();
            let name = merged_name(g, &names, &[]);
            let what = format!(
                "joined {} weighted paths into '{}' ({}): one op '{name}', their sum, {rows}x{cols} weights",
                ws.len(),
                g.g[t].name,
                names.join(", ")
            );
            return Some(Rewrite {
                merge: vec![(ws, name, op)],
                replace: HashMap::new(),
                bypass: vec![],
                drop_edges: vec![],
                remove: vec![],
                insert: None,
                what,
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::find_join;
    use crate::ir::{DType, Graph, Op, ResetMode, Tensor};

    /// input (3) -> fc0 -> lif0 (3), then lif0 -> `h1` -> out and lif0 -> `h2` -> out (2).
    fn readouts(h1: Op, h2: Op) -> Graph {
        let mut g = empty(ResetMode::Zero);
        let input = g.add_node("input", Op::Input { shape: vec![3] });
        let fc0 = g.add_node("fc0", linear(3, 3, vec![1.5, 0.5, 0.25, 0.25, 1.0, 0.5, -0.5, 0.25, 0.75]));
        let l0 = g.add_node("lif0", lif(&thresholds(3)));
        let a = g.add_node("h1", h1);
        let b = g.add_node("h2", h2);
        let out = g.add_node("out", lif(&[0.5, 0.75]));
        let output = g.add_node("output", Op::Output);
        chain(&mut g, &[input, fc0, l0, a, out, output]);
        chain(&mut g, &[l0, b, out]);
        g
    }

    /// Two overlapping readouts become one whose weights and biases are their sums, kept in
    /// F64; the outputs stay.
    #[test]
    fn readouts_into_one_layer_become_their_sum() {
        let (w1, w2) = (vec![1.0, -0.5, 0.25, 0.75, 1.25, -1.0], vec![0.5, 0.5, -0.25, 1.0, -0.75, 0.25]);
        let g = readouts(affine(2, 3, w1.clone(), vec![0.25, 0.0]), affine(2, 3, w2.clone(), vec![-0.5, 0.25]));
        let (h, what) = rewrite(&g, find_join);
        assert_eq!(what, "joined 2 weighted paths into 'out' (h1, h2): one op 'h1+h2', their sum, 2x3 weights");
        assert_eq!(names(&h), ["input", "fc0", "lif0", "h1+h2", "out", "output"]);
        let all = [("input", "fc0"), ("fc0", "lif0"), ("lif0", "h1+h2"), ("h1+h2", "out"), ("out", "output")];
        assert_eq!(edges(&h), pairs(&all), "the merged op's duplicate edges dropped");
        let Op::Affine { weight, bias } = op(&h, "h1+h2") else { panic!("an Affine") };
        let sum: Vec<f64> = w1.iter().zip(&w2).map(|(a, b)| a + b).collect();
        assert_eq!((weight.to_vec(), bias.to_vec()), (sum, vec![-0.25, 0.25]));
        assert_eq!((weight.dtype(), bias.dtype()), (DType::F64, DType::F64));
        assert_same_function(&g, &h);
    }

    /// F32 readouts that are zero outside their own columns (what Stack leaves) add nothing
    /// to each other: the sum stays F32, a Linear without bias.
    #[test]
    fn disjoint_f32_readouts_stay_f32() {
        let f32 = |w: &[f32]| Op::Linear { weight: Tensor::f32(vec![2, 3], w) };
        let g = readouts(f32(&[1.0, 0.5, 0.0, -0.5, 0.25, 0.0]), f32(&[0.0, 0.0, 0.75, 0.0, 0.0, 1.0]));
        let (h, _) = rewrite(&g, find_join);
        let Op::Linear { weight } = op(&h, "h1+h2") else { panic!("a Linear") };
        assert_eq!(weight.dtype(), DType::F32);
        assert_eq!(weight.to_vec(), [1.0, 0.5, 0.75, -0.5, 0.25, 1.0]);
        assert_same_function(&g, &h);
    }
}
