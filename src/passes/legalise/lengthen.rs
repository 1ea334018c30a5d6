//! Lengthen: a path into a layer that crosses fewer neuron layers than another gets a relay
//! layer, until the paths are as long.

use std::collections::HashMap;

use super::graph::spiking;
use super::neurons::{relay_neuron, relays_exact};
use super::rewrite::{Rewrite, merged_name};
use crate::ir::{DType, Graph, Op, Padding, Tensor};
use crate::valid::GraphInfo;

/// Neuron layers on the longest non-recurrent path from an input to each node's output.
fn depths(g: &Graph, info: &GraphInfo) -> Vec<usize> {
    let mut d = vec![0; g.g.node_count()];
    for &x in &info.order {
        let deepest = g.in_edges(x).iter().filter(|&&(e, _)| !info.is_recurrent(e)).map(|&(_, s)| d[s.index()]).max();
        d[x.index()] = deepest.unwrap_or(0) + usize::from(g.g[x].op.is_neuron());
    }
    d
}

/// The first path into a layer that crosses fewer neuron layers than another path into it (a
/// shallow student of an ensemble): a relay layer after the spiking layer S where that path
/// leaves (S itself feeding T, or S feeding a weighted op into T), fed from S through the
/// identity (a diagonal matrix, or a 1x1 convolution for channels), lengthens it by one; the
/// rule repeats until the paths are as long. Relays as in
/// [`find_carry`](super::carry::find_carry): zero reset, single spikes, LIF or IF.
pub(super) fn find_lengthen(g: &Graph, info: &GraphInfo, reset: crate::ir::ResetMode) -> Option<Rewrite> {
    if !relays_exact(g, reset) {
        return None;
    }
    let d = depths(g, info);
    for &t in &info.order {
        let ins: Vec<_> = g.in_edges(t).into_iter().filter(|&(e, _)| !info.is_recurrent(e)).collect();
        let Some(deepest) = ins.iter().map(|&(_, x)| d[x.index()]).max() else { continue };
        for &(e, x) in &ins {
            if d[x.index()] == deepest {
                continue;
            }
            let (s, edge) = if spiking(g, x) {
                (x, e)
            } else if let [(se, s)] = g.in_edges(x)[..]
                && !info.is_recurrent(se)
                && spiking(g, s)
                && !g.g[x].op.is_neuron()
            {
                (s, se)
            } else {
                continue;
            };
            let Some(relay) = relay_neuron(&g.g[s].op, 1.0, &g.dialect) else { continue };
            let shape = &info.out_shape[s.index()];
            let identity = if shape.len() == 1 {
                let n = shape[0];
                Op::Linear {
                    weight: Tensor::new(
                        DType::F64,
                        vec![n, n],
                        (0..n * n).map(|i| f64::from(u8::from(i / n == i % n))).collect(),
                    ),
                }
            } else if shape.len() == 3 {
                let c = shape[0];
                Op::Conv {
                    weight: Tensor::new(
                        DType::F64,
                        vec![c, c, 1, 1],
                        (0..c * c).map(|i| f64::from(u8::from(i / c == i % c))).collect(),
                    ),
                    bias: None,
                    stride: vec![1, 1],
                    padding: Padding::Explicit(vec![0, 0]),
                    dilation: vec![1, 1],
                    groups: 1,
                    input_shape: Some(shape[1..].to_vec()),
                }
            } else {
                continue;
            };
            let base = g.g[s].name.as_str();
            let rname = merged_name(g, &[&format!("{base}_relay")], &[]);
            let wname = merged_name(g, &[&format!("{base}_relay_in")], std::slice::from_ref(&rname));
            let n = info.out_numel(s);
            let what = format!(
                "the path from '{base}' into '{}' crosses {} neuron layers, another {deepest}: a relay layer '{rname}' \
                 of {n} neurons, fed from '{base}' through the identity, lengthens it by one ({n} neurons added)",
                g.g[t].name,
                d[x.index()],
            );
            return Some(Rewrite {
                merge: vec![],
                replace: HashMap::new(),
                bypass: vec![],
                drop_edges: vec![],
                remove: vec![],
                insert: Some((edge, vec![(wname, identity), (rname, relay)])),
                what,
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::find_lengthen;
    use crate::ir::{Graph, Op, ResetMode};

    /// Two students into `out`: input -> a1 -> la1 -> a2 -> la2 -> ha -> out (two neuron
    /// layers) and input -> b1 -> lb1 -> hb -> out (one).
    fn ensemble() -> Graph {
        let mut g = empty(ResetMode::Zero);
        let input = g.add_node("input", Op::Input { shape: vec![3] });
        let out = g.add_node("out", lif(&[0.5, 0.75]));
        let output = g.add_node("output", Op::Output);
        let a1 =
            g.add_node("a1", linear(4, 3, vec![1.0, 0.5, 0.25, 0.25, 1.5, -0.5, -0.25, 0.5, 1.0, 0.75, 0.75, 0.25]));
        let la1 = g.add_node("la1", lif(&thresholds(4)));
        let a2 = g.add_node("a2", linear(2, 4, vec![1.0, -0.5, 0.75, 0.5, 0.25, 1.25, -0.75, 1.0]));
        let la2 = g.add_node("la2", lif(&[0.5, 0.5]));
        let ha = g.add_node("ha", linear(2, 2, vec![1.0, -0.5, 0.25, 1.25]));
        let b1 = g.add_node("b1", linear(2, 3, vec![0.5, 1.0, -0.25, 1.25, 0.25, 0.5]));
        let lb1 = g.add_node("lb1", lif(&[0.5, 0.75]));
        let hb = g.add_node("hb", linear(2, 2, vec![0.75, 0.5, -0.5, 1.0]));
        chain(&mut g, &[input, a1, la1, a2, la2, ha, out, output]);
        chain(&mut g, &[input, b1, lb1, hb, out]);
        g
    }

    /// The shallow student's path gets a relay layer after lb1, fed through the 2x2 identity
    /// (relay threshold: gain 1/2 x weight 1 / 1.5); then both paths cross two neuron layers
    /// and the rule no longer applies; the outputs stay.
    #[test]
    fn the_shallow_path_gets_a_relay_layer() {
        let g = ensemble();
        let lengthen = |g: &Graph, i: &_| find_lengthen(g, i, ResetMode::Zero);
        let (h, what) = rewrite(&g, lengthen);
        assert_eq!(
            what,
            "the path from 'lb1' into 'out' crosses 1 neuron layers, another 2: a relay layer 'lb1_relay' of 2 \
             neurons, fed from 'lb1' through the identity, lengthens it by one (2 neurons added)"
        );
        assert_eq!(&names(&h)[g.len()..], ["lb1_relay_in", "lb1_relay"], "two nodes added after the others");
        let e = edges(&h);
        for pair in [("lb1", "lb1_relay_in"), ("lb1_relay_in", "lb1_relay"), ("lb1_relay", "hb")] {
            assert!(e.contains(&(pair.0.to_string(), pair.1.to_string())), "{pair:?} in {e:?}");
        }
        assert!(!e.contains(&("lb1".to_string(), "hb".to_string())));
        assert_eq!(e.len(), g.g.edge_count() + 2);
        assert_eq!(weight(&h, "lb1_relay_in"), (vec![2, 2], vec![1.0, 0.0, 0.0, 1.0]));
        let Op::LIF { v_threshold, v_reset, v_leak, tau, r } = op(&h, "lb1_relay") else { panic!("a LIF layer") };
        let scalars = [v_threshold, v_reset, v_leak, tau, r].map(|t| t.to_vec());
        assert_eq!(scalars, [vec![0.5 / 1.5], vec![0.0], vec![0.0], vec![2.0], vec![1.0]]);
        assert!(find_lengthen(&h, &info(&h), ResetMode::Zero).is_none(), "the paths are as long");
        assert_same_function(&g, &h);
    }

    /// Under a subtracting reset a relay would not repeat its input's spikes: no relay layer.
    #[test]
    fn no_relay_layer_without_a_zero_reset() {
        let g = ensemble();
        assert!(find_lengthen(&g, &info(&g), ResetMode::Subtract).is_none());
    }
}
