//! Carry: a shortcut around weighted op, neuron layer, weighted op rides relay neurons added to
//! that layer, so both paths into its target cross the same number of neuron layers.

use std::collections::HashMap;

use petgraph::graph::NodeIndex;

use super::super::pass::conv_with;
use super::graph::{dense, identity_tap, only_from, pad_before, single_out, spiking, sum_bias};
use super::neurons::{concat_neurons, relay_neuron, relays_exact};
use super::rewrite::Rewrite;
use crate::ir::{DType, Graph, Op, Tensor};
use crate::valid::GraphInfo;

/// How a shortcut into a layer reads its source: through the identity (`m` None) or a dense
/// matrix or 1x1 convolution `m` (`to` x `from` rows-major, per neuron or per channel) with
/// its bias, sampling the source at `stride` from offset `-pad` (convolutions).
struct Shortcut<'a> {
    m: Option<&'a Tensor>,
    bias: Option<&'a Tensor>,
    stride: Vec<usize>,
    pad: Vec<usize>,
}

/// The first shortcut over a neuron layer that relay neurons can carry: a layer T fed by
/// W2 <- L1 <- W1 <- S (weighted, neuron, weighted, each feeding only the next) and by S
/// itself (or a dense op or 1x1 convolution P fed only by S). L1 gains one relay neuron per
/// value of S it needs (W1 gains their identity rows or taps), and W2 reads the relays
/// through the identity or P's weights (P's bias joins W2's), so every path into T crosses
/// the same number of neuron layers. Exact where relays are ([`relay_neuron`]): under a zero
/// reset (`reset`), for LIF and IF layers.
pub(super) fn find_carry(g: &Graph, info: &GraphInfo, reset: crate::ir::ResetMode) -> Option<Rewrite> {
    if !relays_exact(g, reset) {
        return None;
    }
    for &t in &info.order {
        let ins = g.in_edges(t);
        if ins.len() != 2 || ins.iter().any(|&(e, _)| info.is_recurrent(e)) || ins[0].1 == ins[1].1 {
            continue;
        }
        for (main, short) in [(0, 1), (1, 0)] {
            let (w2, x) = (ins[main].1, ins[short].1);
            let Some(&(_, l1)) = g.in_edges(w2).first() else { continue };
            let Some(&(_, w1)) = g.in_edges(l1).first() else { continue };
            let Some(&(_, src)) = g.in_edges(w1).first() else { continue };
            if !(only_from(g, info, w2, l1)
                && single_out(g, info, w2) == Some(t)
                && only_from(g, info, l1, w1)
                && single_out(g, info, l1) == Some(w2)
                && only_from(g, info, w1, src)
                && single_out(g, info, w1) == Some(l1)
                && g.g[l1].op.is_neuron()
                && spiking(g, src))
            {
                continue;
            }
            let sc = if x == src {
                Shortcut { m: None, bias: None, stride: vec![1, 1], pad: vec![0, 0] }
            } else if only_from(g, info, x, src) && single_out(g, info, x) == Some(t) {
                match &g.g[x].op {
                    Op::Affine { weight, bias } if weight.shape.len() == 2 => {
                        Shortcut { m: Some(weight), bias: Some(bias), stride: vec![], pad: vec![] }
                    }
                    Op::Linear { weight } if weight.shape.len() == 2 => {
                        Shortcut { m: Some(weight), bias: None, stride: vec![], pad: vec![] }
                    }
                    Op::Conv { weight, bias, stride, padding, dilation, groups: 1, .. }
                        if weight.shape.len() == 4 && weight.shape[2..] == [1, 1] =>
                    {
                        let pad = (0..2).map(|d| pad_before(padding, d, 1, dilation[d])).collect::<Option<Vec<_>>>();
                        let Some(pad) = pad else { continue };
                        Shortcut { m: Some(weight), bias: bias.as_ref(), stride: stride.clone(), pad }
                    }
                    _ => continue,
                }
            } else {
                continue;
            };
            if let Some(r) = carry(g, info, [src, w1, l1, w2, t], x, &sc) {
                return Some(r);
            }
        }
    }
    None
}

/// The Carry rewrite of [`find_carry`]'s match (`x`: the shortcut's source, S or P).
fn carry(g: &Graph, info: &GraphInfo, nodes: [NodeIndex; 5], x: NodeIndex, sc: &Shortcut) -> Option<Rewrite> {
    let [src, w1, l1, w2, t] = nodes;
    let (s_shape, l_shape, t_shape) =
        (&info.out_shape[src.index()], &info.out_shape[l1.index()], &info.in_shape[t.index()]);
    let (n_l1, n_t) = (info.out_numel(l1), t_shape.iter().product::<usize>());
    let w1_max = g.g[w1].op.params().first()?.1.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    let w_r = if w1_max > 0.0 { w1_max } else { 1.0 };
    let relay = relay_neuron(&g.g[l1].op, w_r, &g.dialect)?;
    // Channels (conv) or neurons (dense) the shortcut reads from S and writes into T.
    let (from, to) = match sc.m {
        Some(m) => (m.shape[1], m.shape[0]),
        None => (s_shape[0], t_shape[0]),
    };
    // M[to][from]: what T's channel or neuron takes from S's.
    let m_at = |o: usize, i: usize| match sc.m {
        Some(m) => m.at(o * from + i),
        None => f64::from(u8::from(o == i)),
    };
    if sc.m.is_none() && (from != to || s_shape != t_shape) {
        return None;
    }
    let (w1_new, w2_new, n_relays, added) = match (dense(&g.g[w1].op), dense(&g.g[w2].op)) {
        (Some((h1, n_s, wt1, b1)), Some((nt, h1b, wt2, b2))) => {
            if h1b != h1 || nt != n_t || from != n_s || to != n_t || sc.m.is_some_and(|m| m.shape.len() != 2) {
                return None;
            }
            let mut v1 = wt1.to_vec();
            v1.extend((0..n_s).flat_map(|r| (0..n_s).map(move |c| if r == c { w_r } else { 0.0 })));
            let cols = h1 + n_s;
            let mut v2 = vec![0.0; nt * cols];
            for o in 0..nt {
                for j in 0..h1 {
                    v2[o * cols + j] = wt2.at(o * h1 + j);
                }
                for i in 0..n_s {
                    v2[o * cols + h1 + i] = m_at(o, i);
                }
            }
            let mut bias1 = b1.map(|b| b.to_vec());
            if let Some(b) = bias1.as_mut() {
                b.extend(std::iter::repeat_n(0.0, n_s));
            }
            let op1 = match bias1 {
                Some(b) => Op::Affine {
                    weight: Tensor::new(DType::F64, vec![cols, n_s], v1),
                    bias: Tensor::new(DType::F64, vec![cols], b),
                },
                None => Op::Linear { weight: Tensor::new(DType::F64, vec![cols, n_s], v1) },
            };
            let bias2 = sum_bias(b2, sc.bias, nt);
            let weight = Tensor::new(DType::F64, vec![nt, cols], v2);
            let op2 = match bias2 {
                Some(b) => Op::Affine { weight, bias: Tensor::new(DType::F64, vec![nt], b) },
                None => Op::Linear { weight },
            };
            (op1, op2, n_s, n_s * n_s + nt * n_s)
        }
        (None, None) => {
            let (
                Op::Conv { weight: k1, bias: b1, stride: st1, padding: p1, dilation: d1, groups: 1, .. },
                Op::Conv { weight: k2, bias: b2, groups: 1, .. },
            ) = (&g.g[w1].op, &g.g[w2].op)
            else {
                return None;
            };
            if k1.shape.len() != 4 || s_shape.len() != 3 || l_shape.len() != 3 || l_shape[1..] != t_shape[1..] {
                return None;
            }
            let tap2 = identity_tap(&g.g[w2].op, &info.in_shape[w2.index()], &info.out_shape[w2.index()])?;
            // W1's tap that reads S where the shortcut samples it, for every output position.
            let mut tap1 = vec![];
            for d in 0..2 {
                let (k, dil) = (k1.shape[2 + d], d1[d]);
                let before = pad_before(p1, d, k, dil)?;
                let (sst, spad) = (sc.stride.get(d).copied()?, sc.pad.get(d).copied()?);
                let off = before.checked_sub(spad)?;
                if st1[d] != sst || off % dil != 0 || off / dil >= k {
                    return None;
                }
                tap1.push(off / dil);
            }
            let (c1, cs, kh, kw) = (k1.shape[0], k1.shape[1], k1.shape[2], k1.shape[3]);
            let (ct, c1b, kh2, kw2) = (k2.shape[0], k2.shape[1], k2.shape[2], k2.shape[3]);
            if cs != s_shape[0] || c1b != c1 || ct != t_shape[0] || from != cs || to != ct {
                return None;
            }
            let mut v1 = k1.to_vec();
            let base = v1.len();
            v1.resize(base + cs * cs * kh * kw, 0.0);
            for c in 0..cs {
                v1[base + ((c * cs + c) * kh + tap1[0]) * kw + tap1[1]] = w_r;
            }
            let ci2 = c1 + cs;
            let mut v2 = vec![0.0; ct * ci2 * kh2 * kw2];
            for o in 0..ct {
                for i in 0..c1 {
                    for k in 0..kh2 * kw2 {
                        v2[(o * ci2 + i) * kh2 * kw2 + k] = k2.at((o * c1 + i) * kh2 * kw2 + k);
                    }
                }
                for i in 0..cs {
                    v2[((o * ci2 + c1 + i) * kh2 + tap2[0]) * kw2 + tap2[1]] = m_at(o, i);
                }
            }
            let bias1 = b1.as_ref().map(|b| {
                let mut v = b.to_vec();
                v.extend(std::iter::repeat_n(0.0, cs));
                Tensor::new(DType::F64, vec![c1 + cs], v)
            });
            let op1 = conv_with(&g.g[w1].op, Tensor::new(DType::F64, vec![c1 + cs, cs, kh, kw], v1), bias1)?;
            let bias2 = sum_bias(b2.as_ref(), sc.bias, ct).map(|v| Tensor::new(DType::F64, vec![ct], v));
            let op2 = conv_with(&g.g[w2].op, Tensor::new(DType::F64, vec![ct, ci2, kh2, kw2], v2), bias2)?;
            let relays = cs * l_shape[1] * l_shape[2];
            (op1, op2, relays, cs * cs * kh * kw + ct * cs * kh2 * kw2)
        }
        _ => return None,
    };
    let neuron = concat_neurons(&[&g.g[l1].op, &relay], &[n_l1, n_relays])?;
    let mut remove = vec![];
    let mut drop_edges = vec![];
    let via = if x == src {
        drop_edges.extend(g.in_edges(t).into_iter().filter(|&(_, y)| y == src).map(|(e, _)| e));
        "the identity".to_string()
    } else {
        remove.push(x);
        format!("the weights of '{}', now in '{}'", g.g[x].name, g.g[w2].name)
    };
    let what = format!(
        "the shortcut from '{}' into '{}' rides {n_relays} relay neurons added to '{}' (through {via}), so both paths \
         cross two neuron layers: {n_relays} neurons and {added} weights (zeros included) added",
        g.g[src].name, g.g[t].name, g.g[l1].name
    );
    Some(Rewrite {
        merge: vec![],
        replace: HashMap::from([(w1, w1_new), (l1, neuron), (w2, w2_new)]),
        bypass: vec![],
        drop_edges,
        remove,
        insert: None,
        what,
    })
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::find_carry;
    use crate::ir::{Graph, Op, ResetMode};

    /// input (3) -> fc0 -> s (3) -> w1 (2x3) -> l1 (2) -> w2 (3x2) -> t (3) -> output, and
    /// s -> t: a shortcut over the neuron layer l1.
    fn deep_residual() -> Graph {
        let mut g = empty(ResetMode::Zero);
        let input = g.add_node("input", Op::Input { shape: vec![3] });
        let fc0 = g.add_node("fc0", linear(3, 3, vec![1.5, 0.5, 0.25, 0.25, 1.0, 0.5, -0.5, 0.25, 0.75]));
        let s = g.add_node("s", lif(&thresholds(3)));
        let w1 = g.add_node("w1", linear(2, 3, vec![1.0, -0.5, 0.75, 0.25, 1.5, -1.25]));
        let l1 = g.add_node("l1", lif(&[0.5, 0.75]));
        let w2 = g.add_node("w2", linear(3, 2, vec![0.5, -0.25, 1.0, 0.75, -1.5, 0.5]));
        let t = g.add_node("t", lif(&thresholds(3)));
        let out = g.add_node("output", Op::Output);
        chain(&mut g, &[input, fc0, s, w1, l1, w2, t, out]);
        g.add_edge(s, t);
        g
    }

    /// l1 gains 3 relay neurons fed by w1's new identity rows (weight max |w1| = 1.5, threshold
    /// gain 1/2 x 1.5 / 1.5 = 1/2), w2 reads them through the identity, the shortcut goes; the
    /// outputs stay.
    #[test]
    fn relays_in_the_middle_layer_carry_the_shortcut() {
        let g = deep_residual();
        let (h, what) = rewrite(&g, |g, i| find_carry(g, i, ResetMode::Zero));
        assert_eq!(
            what,
            "the shortcut from 's' into 't' rides 3 relay neurons added to 'l1' (through the identity), so both paths \
             cross two neuron layers: 3 neurons and 18 weights (zeros included) added"
        );
        let all = ["input", "fc0", "s", "w1", "l1", "w2", "t", "output"];
        assert_eq!(names(&h), all);
        assert_eq!(edges(&h), pairs(&all.windows(2).map(|w| (w[0], w[1])).collect::<Vec<_>>()));
        let (shape, w1) = weight(&h, "w1");
        assert_eq!(shape, [5, 3]);
        let old1 = weight(&g, "w1").1;
        assert_eq!(w1[..6], old1[..]);
        assert_eq!(w1[6..], [1.5, 0.0, 0.0, 0.0, 1.5, 0.0, 0.0, 0.0, 1.5]);
        let (shape, w2) = weight(&h, "w2");
        assert_eq!(shape, [3, 5]);
        let old2 = weight(&g, "w2").1;
        for o in 0..3 {
            assert_eq!(w2[o * 5..o * 5 + 2], old2[o * 2..o * 2 + 2], "row {o}");
            let identity: Vec<f64> = (0..3).map(|i| if i == o { 1.0 } else { 0.0 }).collect();
            assert_eq!(w2[o * 5 + 2..o * 5 + 5], identity[..], "row {o}");
        }
        let Op::LIF { v_threshold, v_reset, tau, .. } = op(&h, "l1") else { panic!("a LIF layer") };
        assert_eq!(v_threshold.to_vec(), [0.5, 0.75, 0.5, 0.5, 0.5]);
        assert_eq!((v_reset.to_vec(), tau.to_vec()), (vec![0.0], vec![2.0]), "uniform parameters stay scalars");
        assert_same_function(&g, &h);
    }

    /// A relay repeats spikes only under a zero reset: under a subtracting one nothing is carried.
    #[test]
    fn no_relays_without_a_zero_reset() {
        let g = deep_residual();
        assert!(find_carry(&g, &info(&g), ResetMode::Subtract).is_none());
        assert!(find_carry(&g, &info(&g), ResetMode::Zero).is_some());
    }
}
