//! Stack of convolutional branches: sibling 2-d convolutions that slide alike, each into a
//! neuron layer, become one convolution over their output channels into one neuron layer.

use std::collections::HashMap;

use petgraph::graph::NodeIndex;

use super::super::pass::conv_with;
use super::graph::{dense, dtype_of, only_from, single_out};
use super::neurons::concat_neurons;
use super::rewrite::{Rewrite, merged_name};
use crate::ir::{Graph, Op, Tensor};
use crate::valid::GraphInfo;

/// How a convolution slides (kernel size, stride, padding, dilation, output size): sibling
/// convolutions that slide alike stack along their output channels.
fn conv_geometry(op: &Op, out: &[usize]) -> Option<String> {
    let Op::Conv { weight, stride, padding, dilation, groups: 1, input_shape, .. } = op else { return None };
    Some(format!("{:?} {stride:?} {padding:?} {dilation:?} {input_shape:?} {:?}", &weight.shape[2..], out.get(1..)))
}

/// What reads a convolutional branch's neurons, widened to read the stacked layer: a
/// convolution (its input channels), a dense op (its columns), or a Flatten whose readers are
/// dense ops (the Flatten merges with its siblings'; the dense ops widen).
enum ConvReader {
    Conv(NodeIndex),
    Dense(NodeIndex),
    Flatten(NodeIndex, Vec<NodeIndex>),
}

/// The first Stack of convolutional branches: 2-d convolutions (groups 1) fed by the same
/// source and sliding alike, each into a neuron layer of the same model that only it feeds,
/// become one convolution whose output channels are theirs in order, into one neuron layer.
/// Each reader of those neurons reads only them and is a convolution, a dense op, or a Flatten
/// into dense ops; it reads the stacked layer through its old channels or columns, zeros
/// elsewhere (a conv ensemble becomes a chain).
pub(super) fn find_stack_conv(g: &Graph, info: &GraphInfo) -> Option<Rewrite> {
    for &s in &info.order {
        let mut cands: Vec<(NodeIndex, NodeIndex, Vec<ConvReader>, String)> = vec![];
        let mut seen = vec![];
        for (e, w) in g.out_edges(s) {
            if info.is_recurrent(e) || seen.contains(&w) {
                continue;
            }
            seen.push(w);
            let Some(n) = single_out(g, info, w) else { continue };
            let Some(geom) = conv_geometry(&g.g[w].op, &info.out_shape[w.index()]) else { continue };
            if !only_from(g, info, w, s) || !g.g[n].op.is_neuron() || !only_from(g, info, n, w) {
                continue;
            }
            let mut readers = vec![];
            for (e, c) in g.out_edges(n) {
                if info.is_recurrent(e) || !only_from(g, info, c, n) {
                    readers.clear();
                    break;
                }
                let r = match &g.g[c].op {
                    Op::Conv { weight, groups: 1, .. } if weight.shape.len() == 4 => ConvReader::Conv(c),
                    op if dense(op).is_some() => ConvReader::Dense(c),
                    Op::Flatten { .. } => {
                        let ds: Vec<NodeIndex> = g.out_edges(c).into_iter().map(|(_, d)| d).collect();
                        let ok = !ds.is_empty()
                            && g.out_edges(c).iter().all(|&(e, _)| !info.is_recurrent(e))
                            && ds.iter().all(|&d| dense(&g.g[d].op).is_some() && only_from(g, info, d, c));
                        if !ok {
                            readers.clear();
                            break;
                        }
                        ConvReader::Flatten(c, ds)
                    }
                    _ => {
                        readers.clear();
                        break;
                    }
                };
                readers.push(r);
            }
            if readers.is_empty() {
                continue;
            }
            let key = format!("{geom} {:?}", std::mem::discriminant(&g.g[n].op));
            cands.push((w, n, readers, key));
        }
        let mut keys: Vec<&String> = cands.iter().map(|c| &c.3).collect();
        keys.dedup();
        for key in keys {
            let members: Vec<&(NodeIndex, NodeIndex, Vec<ConvReader>, String)> =
                cands.iter().filter(|c| &c.3 == key).collect();
            if members.len() >= 2
                && let Some(r) = stack_conv(g, info, &members)
            {
                return Some(r);
            }
        }
    }
    None
}

/// Stacks the convolutional branches `members` (convolution, neurons, readers, key).
fn stack_conv(
    g: &Graph,
    info: &GraphInfo,
    members: &[&(NodeIndex, NodeIndex, Vec<ConvReader>, String)],
) -> Option<Rewrite> {
    let chans: Vec<usize> = members.iter().map(|m| info.out_shape[m.1.index()][0]).collect();
    let total: usize = chans.iter().sum();
    let shape = &info.out_shape[members[0].1.index()];
    if shape.len() != 3 {
        return None;
    }
    let area = shape[1] * shape[2];
    let (mut w, mut b) = (vec![], vec![]);
    let mut kshape = vec![];
    for m in members {
        let Op::Conv { weight, bias, .. } = &g.g[m.0].op else { return None };
        if kshape.is_empty() {
            kshape = weight.shape[1..].to_vec();
        } else if weight.shape[1..] != kshape[..] {
            return None;
        }
        w.extend(weight.iter());
        b.extend(bias.as_ref().map_or_else(|| vec![0.0; weight.shape[0]], |t| t.to_vec()));
    }
    let dt = dtype_of(members.iter().flat_map(|m| g.g[m.0].op.params().into_iter().map(|(_, t)| t)));
    let mut wshape = vec![total];
    wshape.extend(&kshape);
    let conv = conv_with(&g.g[members[0].0].op, Tensor::new(dt, wshape, w), Some(Tensor::new(dt, vec![total], b)))?;
    let neurons: Vec<&Op> = members.iter().map(|m| &g.g[m.1].op).collect();
    let sizes: Vec<usize> = chans.iter().map(|c| c * area).collect();
    let neuron = concat_neurons(&neurons, &sizes)?;
    // Dense readers: their columns at the branch's offset in the stacked (channel-major) layer.
    let widen_dense = |d: NodeIndex, offset: usize, own: usize| -> Option<Op> {
        let (rows, cols, wt, bias) = dense(&g.g[d].op)?;
        if cols != own {
            return None;
        }
        let wide_cols = total * area;
        let mut v = vec![0.0; rows * wide_cols];
        for r in 0..rows {
            for j in 0..cols {
                v[r * wide_cols + offset + j] = wt.at(r * cols + j);
            }
        }
        let weight = wt.like(vec![rows, wide_cols], v);
        Some(match bias {
            Some(b) => Op::Affine { weight, bias: b.clone() },
            None => Op::Linear { weight },
        })
    };
    let mut replace = HashMap::new();
    let mut flattens = vec![];
    let mut offset = 0;
    for (k, m) in members.iter().enumerate() {
        let own = chans[k] * area;
        for r in &m.2 {
            match r {
                ConvReader::Conv(c) => {
                    let Op::Conv { weight, bias, .. } = &g.g[*c].op else { return None };
                    let (co, ci, kh, kw) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3]);
                    if ci != chans[k] {
                        return None;
                    }
                    let first = offset / area;
                    let mut v = vec![0.0; co * total * kh * kw];
                    for o in 0..co {
                        for i in 0..ci {
                            for t in 0..kh * kw {
                                v[(o * total + first + i) * kh * kw + t] = weight.at((o * ci + i) * kh * kw + t);
                            }
                        }
                    }
                    let wide = weight.like(vec![co, total, kh, kw], v);
                    replace.insert(*c, conv_with(&g.g[*c].op, wide, bias.clone())?);
                }
                ConvReader::Dense(d) => {
                    replace.insert(*d, widen_dense(*d, offset, own)?);
                }
                ConvReader::Flatten(f, ds) => {
                    if flattens.first().is_some_and(|&f0: &NodeIndex| g.g[f0].op != g.g[*f].op) {
                        return None;
                    }
                    flattens.push(*f);
                    for &d in ds {
                        replace.insert(d, widen_dense(d, offset, own)?);
                    }
                }
            }
        }
        offset += own;
    }
    let wnames: Vec<&str> = members.iter().map(|m| g.g[m.0].name.as_str()).collect();
    let nnames: Vec<&str> = members.iter().map(|m| g.g[m.1].name.as_str()).collect();
    let wname = merged_name(g, &wnames, &[]);
    let nname = merged_name(g, &nnames, std::slice::from_ref(&wname));
    let mut merge = vec![
        (members.iter().map(|m| m.0).collect(), wname.clone(), conv),
        (members.iter().map(|m| m.1).collect(), nname.clone(), neuron),
    ];
    if flattens.len() >= 2 {
        let fnames: Vec<&str> = flattens.iter().map(|&f| g.g[f].name.as_str()).collect();
        let fname = merged_name(g, &fnames, &[wname.clone(), nname.clone()]);
        merge.push((flattens.clone(), fname, g.g[flattens[0]].op.clone()));
    }
    let what = format!(
        "stacked {} convolutional branches ({}) into '{nname}': one layer of {total} channels fed by '{wname}'; their \
         readers read it through zeros in the other channels",
        members.len(),
        nnames.join(", "),
    );
    Some(Rewrite { merge, replace, bypass: vec![], drop_edges: vec![], remove: vec![], insert: None, what })
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::find_stack_conv;
    use crate::ir::{Graph, Op, ResetMode};

    /// Two conv students of the input (1x4x4): ca (1 channel, bias) -> na -> fa (flatten) ->
    /// da (2x16) -> out and cb (2 channels, no bias) -> nb -> fb (flatten) -> db (2x32) -> out.
    fn conv_students() -> Graph {
        let mut g = empty(ResetMode::Zero);
        let input = g.add_node("input", Op::Input { shape: vec![1, 4, 4] });
        let out = g.add_node("out", lif(&[0.5, 0.75]));
        let output = g.add_node("output", Op::Output);
        let flatten = || Op::Flatten { start_dim: 0, end_dim: -1 };
        let ca = g.add_node("ca", conv(1, 1, 3, 1, values(9, 37), Some(vec![0.25])));
        let na = g.add_node("na", lif(&thresholds(16)));
        let fa = g.add_node("fa", flatten());
        let da = g.add_node("da", linear(2, 16, values(32, 41)));
        let cb = g.add_node("cb", conv(2, 1, 3, 1, values(18, 43), None));
        let nb = g.add_node("nb", lif(&thresholds(32)));
        let fb = g.add_node("fb", flatten());
        let db = g.add_node("db", linear(2, 32, values(64, 47)));
        chain(&mut g, &[input, ca, na, fa, da, out, output]);
        chain(&mut g, &[input, cb, nb, fb, db, out]);
        g
    }

    /// The convolutions stack along their output channels (3: ca's then cb's, cb's missing bias
    /// zero), the neuron layers and the Flattens merge, and da and db read the 48 stacked
    /// values through zeros outside their own 16 or 32 columns; the outputs stay.
    #[test]
    fn sibling_convolutions_stack_their_channels() {
        let g = conv_students();
        let (h, what) = rewrite(&g, find_stack_conv);
        assert_eq!(
            what,
            "stacked 2 convolutional branches (na, nb) into 'na+nb': one layer of 3 channels fed by 'ca+cb'; their \
             readers read it through zeros in the other channels"
        );
        assert_eq!(names(&h), ["input", "out", "output", "ca+cb", "na+nb", "fa+fb", "da", "db"]);
        let all = [
            ("input", "ca+cb"),
            ("ca+cb", "na+nb"),
            ("na+nb", "fa+fb"),
            ("fa+fb", "da"),
            ("fa+fb", "db"),
            ("da", "out"),
            ("db", "out"),
            ("out", "output"),
        ];
        assert_eq!(edges(&h), pairs(&all));
        let Op::Conv { weight: kernel, bias, stride, padding, .. } = op(&h, "ca+cb") else { panic!("a convolution") };
        let Op::Conv { stride: s0, padding: p0, .. } = op(&g, "ca") else { unreachable!() };
        assert_eq!((stride, padding), (s0, p0), "the geometry kept");
        let mut taps = weight(&g, "ca").1;
        taps.extend(weight(&g, "cb").1);
        assert_eq!((kernel.shape.as_slice(), kernel.to_vec()), (&[3, 1, 3, 3][..], taps));
        assert_eq!(bias.as_ref().map(|b| b.to_vec()), Some(vec![0.25, 0.0, 0.0]));
        let Op::LIF { v_threshold, .. } = op(&h, "na+nb") else { panic!("a LIF layer") };
        let mut thr = thresholds(16);
        thr.extend(thresholds(32));
        assert_eq!(v_threshold.to_vec(), thr);
        for (name, offset, cols) in [("da", 0, 16), ("db", 16, 32)] {
            let (old, (shape, wide)) = (weight(&g, name).1, weight(&h, name));
            assert_eq!(shape, [2, 48], "{name}");
            for r in 0..2 {
                for j in 0..48 {
                    let own = (offset..offset + cols).contains(&j);
                    let expected = if own { old[r * cols + j - offset] } else { 0.0 };
                    assert_eq!(wide[r * 48 + j], expected, "{name} ({r}, {j})");
                }
            }
        }
        assert_same_function(&g, &h);
    }

    /// Convolutions that slide differently (another padding, so another output size) do not stack.
    #[test]
    fn convolutions_that_slide_differently_stay_apart() {
        let mut g = conv_students();
        let [cb, nb, db] = ["cb", "nb", "db"].map(|n| g.find(n).unwrap());
        // cb without padding: 2x2x2 outputs, its neurons and reader resized to match.
        g.g[cb].op = conv(2, 1, 3, 0, values(18, 43), None);
        g.g[nb].op = lif(&thresholds(8));
        g.g[db].op = linear(2, 8, values(16, 47));
        assert!(find_stack_conv(&g, &info(&g)).is_none());
        g.g[cb].op = conv(2, 1, 3, 1, values(18, 43), None);
        g.g[nb].op = lif(&thresholds(32));
        g.g[db].op = linear(2, 32, values(64, 47));
        assert!(find_stack_conv(&g, &info(&g)).is_some(), "padded alike again, they stack");
    }
}
