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
