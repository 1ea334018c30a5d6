//! Absorb: a shortcut around one weighted op becomes +1 on that op's identity.

use std::collections::HashMap;

use super::super::pass::conv_with;
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

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::find_absorb;
    use crate::ir::{DType, Graph, Op, ResetMode};

    /// input -> `w0` -> lif0 -> `w1` -> lif1 -> output, and lif0 -> lif1 (the shortcut).
    fn residual(shape: Vec<usize>, w0: Op, w1: Op, neurons: usize) -> Graph {
        let mut g = empty(ResetMode::Zero);
        let input = g.add_node("input", Op::Input { shape });
        let a = g.add_node("w0", w0);
        let l0 = g.add_node("lif0", lif(&thresholds(neurons)));
        let b = g.add_node("w1", w1);
        let l1 = g.add_node("lif1", lif(&thresholds(neurons)));
        let out = g.add_node("output", Op::Output);
        chain(&mut g, &[input, a, l0, b, l1, out]);
        g.add_edge(l0, l1);
        g
    }

    /// A dense op around which the shortcut runs gains +1 on its diagonal (bias kept), and the
    /// shortcut's edge goes; the outputs stay.
    #[test]
    fn a_dense_shortcut_adds_one_on_the_diagonal() {
        let g = residual(vec![3], linear(3, 3, values(9, 11)), affine(3, 3, values(9, 13), vec![0.25, 0.0, -0.5]), 3);
        let (h, what) = rewrite(&g, find_absorb);
        assert_eq!(
            what,
            "the shortcut from 'lif0' into 'lif1' joins 'w1' as +1 on its identity (3 weights changed, none added)"
        );
        let all = ["input", "w0", "lif0", "w1", "lif1", "output"];
        assert_eq!(names(&h), all);
        assert_eq!(edges(&h), pairs(&all.windows(2).map(|w| (w[0], w[1])).collect::<Vec<_>>()));
        let Op::Affine { weight, bias } = op(&h, "w1") else { panic!("an Affine") };
        let old = weight_of(&g, "w1");
        let expected: Vec<f64> = (0..9).map(|i| old[i] + if i % 4 == 0 { 1.0 } else { 0.0 }).collect();
        assert_eq!((weight.shape.as_slice(), weight.to_vec(), weight.dtype()), (&[3, 3][..], expected, DType::F64));
        assert_eq!(bias.to_vec(), [0.25, 0.0, -0.5]);
        assert_same_function(&g, &h);
    }

    /// A padded 3x3 convolution (2 channels) gains +1 on its centre tap of channel c reading
    /// channel c, nothing else; the outputs stay.
    #[test]
    fn a_conv_shortcut_adds_one_on_the_centre_taps() {
        let g =
            residual(vec![1, 3, 3], conv(2, 1, 3, 1, values(18, 17), None), conv(2, 2, 3, 1, values(36, 19), None), 18);
        let (h, what) = rewrite(&g, find_absorb);
        assert!(what.ends_with("joins 'w1' as +1 on its identity (2 weights changed, none added)"), "{what}");
        assert!(!edges(&h).contains(&("lif0".to_string(), "lif1".to_string())));
        assert_eq!(h.g.edge_count(), 5);
        let (old, new) = (weight_of(&g, "w1"), weight_of(&h, "w1"));
        for (i, (a, b)) in old.iter().zip(&new).enumerate() {
            // (out channel, in channel, row, column) of index i in 2x2x3x3.
            let (o, c, tap) = (i / 18, i / 9 % 2, i % 9);
            let plus = if o == c && tap == 4 { 1.0 } else { 0.0 };
            assert_eq!(*b, a + plus, "weight {i}");
        }
        assert_same_function(&g, &h);
    }

    /// A shortcut from a layer other than the weighted op's source is not an identity around it.
    #[test]
    fn a_shortcut_around_two_ops_is_not_absorbed() {
        let mut g = residual(vec![3], linear(3, 3, values(9, 11)), linear(3, 3, values(9, 13)), 3);
        let (input, l1) = (g.find("input").unwrap(), g.find("lif1").unwrap());
        let e = g.g.find_edge(g.find("lif0").unwrap(), l1).unwrap();
        g.g.remove_edge(e);
        g.add_edge(input, l1);
        assert!(find_absorb(&g, &info(&g)).is_none());
    }

    fn weight_of(g: &Graph, name: &str) -> Vec<f64> {
        weight(g, name).1
    }
}
