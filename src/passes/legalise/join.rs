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
