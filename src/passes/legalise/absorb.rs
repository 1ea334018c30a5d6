//! Absorb: a shortcut around one weighted op becomes +1 on that op's identity.

use std::collections::HashMap;

use super::super::conv_with;
use super::graph::{dense, identity_tap, only_from, single_out};
use super::rewrite::Rewrite;
use crate::ir::{DType, Graph, Op, Tensor};
use crate::valid::GraphInfo;

/// The first shortcut that applies: a node fed by a weighted op W (fed only by S) and by S
/// directly, with W's output the shape of S's, becomes fed by W + I alone.
pub(super) fn find_absorb(g: &Graph, info: &GraphInfo) -> Option<Rewrite> {
    for &t in &info.order {
        let ins = g.in_edges(t);
        if ins.iter().any(|&(e, _)| info.is_recurrent(e)) {
            continue;
        }
        for &(_, w) in &ins {
            let Some(&(_, s)) = g.in_edges(w).first() else { continue };
            if !only_from(g, info, w, s) || single_out(g, info, w) != Some(t) {
                continue;
            }
            let direct: Vec<_> = ins.iter().filter(|&&(_, x)| x == s).map(|&(e, _)| e).collect();
            if direct.is_empty() || info.out_shape[s.index()] != info.out_shape[w.index()] {
                continue;
            }
            let k = direct.len() as f64;
            let op = &g.g[w].op;
            let n = info.out_numel(s);
            // Dense: one diagonal weight per neuron; conv: one centre tap per channel.
            let changed = if dense(op).is_some() { n } else { info.out_shape[s.index()].first().copied().unwrap_or(n) };
            let new = if let Some((rows, cols, wt, bias)) = dense(op) {
                if rows != n || cols != n {
                    continue;
                }
                let mut v = wt.to_vec();
                for i in 0..n {
                    v[i * n + i] += k;
                }
                let weight = Tensor::new(DType::F64, wt.shape.clone(), v);
                match bias {
                    Some(b) => Op::Affine { weight, bias: b.clone() },
                    None => Op::Linear { weight },
                }
            } else if let Some(tap) = identity_tap(op, &info.in_shape[w.index()], &info.out_shape[w.index()]) {
                let Op::Conv { weight, bias, groups, .. } = op else { continue };
                let (co, ci_g) = (weight.shape[0], weight.shape[1]);
                let co_g = co / (*groups).max(1);
                let ksz: Vec<usize> = weight.shape[2..].to_vec();
                let per: usize = ksz.iter().product();
                let centre = tap.iter().zip(&ksz).fold(0, |acc, (&t, &k)| acc * k + t);
                let mut v = weight.to_vec();
                for c in 0..co {
                    // Channel c reads input channel c: its index within c's group.
                    let cil = c - (c / co_g) * ci_g;
                    if cil >= ci_g {
                        v.clear();
                        break;
                    }
                    v[(c * ci_g + cil) * per + centre] += k;
                }
                if v.is_empty() {
                    continue;
                }
                let Some(op) = conv_with(op, Tensor::new(DType::F64, weight.shape.clone(), v), bias.clone()) else {
                    continue;
                };
                op
            } else {
                continue;
            };
            let what = format!(
                "the shortcut from '{}' into '{}' joins '{}' as {} on its identity ({changed} weights changed, none \
                 added)",
                g.g[s].name,
                g.g[t].name,
                g.g[w].name,
                if k == 1.0 { "+1".to_string() } else { format!("+{k}") }
            );
            return Some(Rewrite {
                merge: vec![],
                replace: HashMap::from([(w, new)]),
                bypass: vec![],
                drop_edges: direct,
                remove: vec![],
                insert: None,
                what,
            });
        }
    }
    None
}
