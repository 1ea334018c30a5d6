//! Chip legalisation: rewrites that turn pooling, parallel branches and shortcuts into one
//! chain of weighted ops and neuron layers, for chips whose layers form a chain (netx),
//! computing the same function.
//!
//! Rules, applied until none matches (each removes a node or an edge, so this ends):
//! - **Pool into dense.** Sum or average pooling, Flatten, then a dense op become Flatten and
//!   one dense op over the unpooled positions.
//! - **Pool into conv.** Sum or average pooling that feeds a 2-d convolution alone becomes part
//!   of its kernel (larger, strided), where padding reads zeros either way.
//! - **Absorb.** A shortcut from S into T around one weighted op W (fed only by S) becomes +1
//!   on W's identity (diagonal, or centre taps).
//! - **Carry.** A shortcut from S into T around W1 -> L1 -> W2 (a neuron layer between) rides
//!   relay neurons added to L1, so both paths cross the same number of neuron layers; the
//!   shortcut's own 1x1 convolution or dense op moves into W2. Relays are exact only under a
//!   zero reset (what the chip does, given to the pass), for LIF and IF layers.
//! - **Lengthen.** A path into a layer that crosses fewer neuron layers than another path into
//!   it (a shallow ensemble student) gets a relay layer after the spiking layer it leaves, fed
//!   through the identity, until the paths are as long (same conditions as Carry).
//! - **Join.** Dense weighted ops fed by the same source and summed into the same node (an
//!   ensemble's readout slices) become one whose weights and biases are their sums.
//! - **Stack.** Dense weighted ops (Affine, Linear) fed by the same source, each into a neuron
//!   of the same model that only it feeds, become one weighted op whose rows are theirs in
//!   order, into one neuron layer whose per-neuron parameters are theirs in order. Every
//!   consumer of those neurons must be a dense weighted op that reads only them; it reads the
//!   merged layer through its old columns, zeros elsewhere (a block of a block-diagonal
//!   matrix once its siblings stack in turn). Convolutions (groups 1) that slide alike stack
//!   the same way along their output channels; their readers (convolutions, dense ops, or a
//!   Flatten into dense ops, which merges with its siblings) read through zeros elsewhere.
//!
//! Rows stack and zero columns add nothing, so Stack is exact; Join is exact where the summed
//! matrices are zero outside their own columns (what Stack leaves), and otherwise moves
//! floating-point rounding by an ulp; the folds and Absorb sum in another order (exact in real
//! arithmetic). Only Carry and Lengthen add neurons; each change says what it cost.

use std::collections::HashMap;

use petgraph::graph::NodeIndex;

use super::{Context, Pass, Refusal, conv_with};
use crate::ir::{DType, Graph, Op, Padding, Tensor};
use crate::valid::{self, GraphInfo};

/// The branch-merging pass (Pool folds, Absorb, Carry, Lengthen, Join, Stack).
pub struct MergeBranches {
    /// The reset the legalised model will run with, when not the model's own (a chip's): relay
    /// neurons are built only under a zero reset.
    pub reset: Option<crate::ir::ResetMode>,
}

/// A dense weighted op's (weight rows, columns, weights, bias or None).
fn dense(op: &Op) -> Option<(usize, usize, &Tensor, Option<&Tensor>)> {
    match op {
        Op::Affine { weight, bias } if weight.shape.len() == 2 => {
            Some((weight.shape[0], weight.shape[1], weight, Some(bias)))
        }
        Op::Linear { weight } if weight.shape.len() == 2 => Some((weight.shape[0], weight.shape[1], weight, None)),
        _ => None,
    }
}

/// The only non-recurrent edge into `n` comes from `from` (and `n` has no other in-edge).
fn only_from(g: &Graph, info: &GraphInfo, n: NodeIndex, from: NodeIndex) -> bool {
    let ins = g.in_edges(n);
    ins.len() == 1 && ins[0].1 == from && !info.is_recurrent(ins[0].0)
}

/// The single non-recurrent out-edge's target of `n`.
fn single_out(g: &Graph, info: &GraphInfo, n: NodeIndex) -> Option<NodeIndex> {
    let outs = g.out_edges(n);
    (outs.len() == 1 && !info.is_recurrent(outs[0].0)).then(|| outs[0].1)
}

/// The dense weighted children of `s` that only `s` feeds, each with its single target.
fn dense_children(g: &Graph, info: &GraphInfo, s: NodeIndex) -> Vec<(NodeIndex, NodeIndex)> {
    let mut seen = vec![];
    let mut v = vec![];
    for (e, w) in g.out_edges(s) {
        if info.is_recurrent(e) || seen.contains(&w) {
            continue;
        }
        seen.push(w);
        if dense(&g.g[w].op).is_some()
            && only_from(g, info, w, s)
            && let Some(t) = single_out(g, info, w)
        {
            v.push((w, t));
        }
    }
    v
}

/// F32 when every tensor is, else F64 (so a merge never rounds what it copies).
fn dtype_of<'a>(ts: impl IntoIterator<Item = &'a Tensor>) -> DType {
    if ts.into_iter().all(|t| t.dtype() == DType::F32) { DType::F32 } else { DType::F64 }
}

/// `p` as `n` per-neuron values (a single value repeats), or None.
fn per_neuron(p: &Tensor, n: usize) -> Option<Vec<f64>> {
    match p.numel() {
        1 => Some(vec![p.at(0); n]),
        k if k == n => Some(p.to_vec()),
        _ => None,
    }
}

/// One neuron op over the neurons of `ops` in order (`sizes` neurons each), or None when they
/// are not the same model or a parameter is neither uniform nor per neuron.
fn concat_neurons(ops: &[&Op], sizes: &[usize]) -> Option<Op> {
    let first = ops[0];
    if ops.iter().any(|o| std::mem::discriminant(*o) != std::mem::discriminant(first)) {
        return None;
    }
    let total: usize = sizes.iter().sum();
    let mut merged = first.clone();
    let params: Vec<Vec<(&'static str, &Tensor)>> = ops.iter().map(|o| o.params()).collect();
    for (i, (_, t)) in merged.params_mut().into_iter().enumerate() {
        let mut data = Vec::with_capacity(total);
        for (k, ps) in params.iter().enumerate() {
            data.extend(per_neuron(ps[i].1, sizes[k])?);
        }
        let uniform = data.iter().all(|&x| x.to_bits() == data[0].to_bits());
        if !(uniform && t.numel() == 1) {
            *t = Tensor::new(dtype_of(params.iter().map(|ps| ps[i].1)), vec![total], data);
        }
    }
    Some(merged)
}

/// A change: nodes replaced by one new node, and ops replaced in place.
struct Rewrite {
    /// Old nodes that become the new node `name` with `op` (the first keeps its position).
    merge: Vec<(Vec<NodeIndex>, String, Op)>,
    /// Old nodes whose op changes.
    replace: HashMap<NodeIndex, Op>,
    /// Old nodes removed, their single source feeding their single target instead.
    bypass: Vec<NodeIndex>,
    /// Old edges removed.
    drop_edges: Vec<petgraph::graph::EdgeIndex>,
    /// Old nodes removed with their edges.
    remove: Vec<NodeIndex>,
    /// An old edge that becomes a path through new nodes (name, op), in order.
    insert: Option<(petgraph::graph::EdgeIndex, Vec<(String, Op)>)>,
    /// What happened, for the record.
    what: String,
}

/// A name for the merge of `names`, unique in `g` and among `taken`.
fn merged_name(g: &Graph, names: &[&str], taken: &[String]) -> String {
    let joined = if names.len() <= 3 { names.join("+") } else { format!("{}+..+{}", names[0], names[names.len() - 1]) };
    let base = crate::names::label(&joined);
    let mut cand = base.clone();
    let mut k = 2;
    while g.find(&cand).is_some() || taken.contains(&cand) {
        cand = format!("{base}~{k}");
        k += 1;
    }
    cand
}

/// The first Stack that applies, sources in evaluation order.
fn find_stack(g: &Graph, info: &GraphInfo) -> Option<Rewrite> {
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
fn find_stack_conv(g: &Graph, info: &GraphInfo) -> Option<Rewrite> {
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

/// The first Join that applies.
fn find_join(g: &Graph, info: &GraphInfo) -> Option<Rewrite> {
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

/// `g` with `r` applied: merged nodes at their first member's place, bypassed nodes and
/// dropped edges gone, edges in their order with the duplicates merging makes dropped.
fn apply(g: &Graph, r: &Rewrite) -> Graph {
    let mut out = Graph { g: Default::default(), dialect: g.dialect.clone(), provenance: g.provenance.clone() };
    let mut group_of: HashMap<NodeIndex, usize> = HashMap::new();
    for (k, (members, _, _)) in r.merge.iter().enumerate() {
        for &m in members {
            group_of.insert(m, k);
        }
    }
    let mut map: Vec<Option<NodeIndex>> = vec![None; g.g.node_count()];
    let mut made: Vec<Option<NodeIndex>> = vec![None; r.merge.len()];
    for ix in g.g.node_indices() {
        if r.bypass.contains(&ix) || r.remove.contains(&ix) {
            continue;
        }
        map[ix.index()] = Some(match group_of.get(&ix) {
            Some(&k) => *made[k].get_or_insert_with(|| out.add_node(r.merge[k].1.clone(), r.merge[k].2.clone())),
            None => out.add_node(g.g[ix].name.clone(), r.replace.get(&ix).unwrap_or(&g.g[ix].op).clone()),
        });
    }
    // A bypassed node's target, through chains of bypassed nodes.
    let through = |mut t: NodeIndex| {
        while r.bypass.contains(&t) {
            t = g.out_edges(t)[0].1;
        }
        t
    };
    let mut seen = std::collections::HashSet::new();
    for e in g.g.edge_indices() {
        let (s, t) = g.g.edge_endpoints(e).expect("edge of this graph");
        if r.drop_edges.contains(&e) || r.bypass.contains(&s) || r.remove.contains(&s) || r.remove.contains(&t) {
            continue;
        }
        let t = through(t);
        let (mut a, b) = (map[s.index()].expect("mapped"), map[t.index()].expect("mapped"));
        if let Some((ie, nodes)) = &r.insert
            && *ie == e
        {
            for (name, op) in nodes {
                let n = out.add_node(name.clone(), op.clone());
                out.add_edge(a, n);
                a = n;
            }
        }
        let merged = group_of.contains_key(&s) || group_of.contains_key(&t);
        if !merged || seen.insert((a, b)) {
            out.add_edge(a, b);
        }
    }
    out
}

/// Where the identity sits in a convolution's kernel (one index per spatial dimension), when
/// output position p reads input position p through it (stride 1, the same spatial size;
/// channels may differ).
fn identity_tap(op: &Op, in_shape: &[usize], out_shape: &[usize]) -> Option<Vec<usize>> {
    let Op::Conv { weight, stride, padding, dilation, .. } = op else { return None };
    let nd = weight.shape.len().checked_sub(2)?;
    if in_shape.get(1..) != out_shape.get(1..) || stride.iter().any(|&x| x != 1) || dilation.len() != nd {
        return None;
    }
    (0..nd)
        .map(|d| {
            let k = weight.shape[2 + d];
            let before = pad_before(padding, d, k, dilation[d])?;
            (before % dilation[d] == 0 && before / dilation[d] < k).then(|| before / dilation[d])
        })
        .collect()
}

/// The zero padding a convolution puts before the first input position along spatial
/// dimension `d` (kernel size `k`, dilation `dil`).
fn pad_before(padding: &Padding, d: usize, k: usize, dil: usize) -> Option<usize> {
    Some(match padding {
        Padding::Valid => 0,
        Padding::Same => dil * (k - 1) / 2,
        Padding::Explicit(p) => *p.get(d)?,
    })
}

/// The first shortcut that applies: a node fed by a weighted op W (fed only by S) and by S
/// directly, with W's output the shape of S's, becomes fed by W + I alone.
fn find_absorb(g: &Graph, info: &GraphInfo) -> Option<Rewrite> {
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

/// A pooling parameter along dimension `i` (one value stands for both).
fn at(v: &[usize], i: usize) -> usize {
    v.get(i).or(v.first()).copied().unwrap_or(0)
}

/// The first pooling that folds: SumPool2d or AvgPool2d, then Flatten, then a dense op, each
/// feeding only the next, become Flatten and one dense op over the unpooled positions (a
/// pooled position's column spread over its window, divided by the window's area for an
/// average, whose padding counts).
fn find_pool_fold(g: &Graph, info: &GraphInfo) -> Option<Rewrite> {
    for &p in &info.order {
        let (kernel, stride, padding, avg) = match &g.g[p].op {
            Op::SumPool2d { kernel, stride, padding } => (kernel, stride, padding, false),
            Op::AvgPool2d { kernel, stride, padding } => (kernel, stride, padding, true),
            _ => continue,
        };
        let Some(f) = single_out(g, info, p) else { continue };
        let Some(d) = single_out(g, info, f) else { continue };
        if !matches!(g.g[f].op, Op::Flatten { .. })
            || !only_from(g, info, f, p)
            || !only_from(g, info, d, f)
            || g.in_edges(p).iter().any(|&(e, _)| info.is_recurrent(e))
        {
            continue;
        }
        let Some((rows, cols, wt, bias)) = dense(&g.g[d].op) else { continue };
        let (inp, out) = (&info.in_shape[p.index()], &info.out_shape[p.index()]);
        if inp.len() != 3
            || out.len() != 3
            || cols != out.iter().product::<usize>()
            || info.out_shape[f.index()].len() != 1
        {
            continue;
        }
        let ([c, h, w], [_, oh, ow]) = ([inp[0], inp[1], inp[2]], [out[0], out[1], out[2]]);
        let (k, st, pd) =
            ([at(kernel, 0), at(kernel, 1)], [at(stride, 0), at(stride, 1)], [at(padding, 0), at(padding, 1)]);
        let factor = if avg { 1.0 / (k[0] * k[1]) as f64 } else { 1.0 };
        let wide_cols = c * h * w;
        let mut v = vec![0.0; rows * wide_cols];
        for ch in 0..c {
            for py in 0..oh {
                for px in 0..ow {
                    let col = (ch * oh + py) * ow + px;
                    for ky in 0..k[0] {
                        for kx in 0..k[1] {
                            let (y, x) = ((py * st[0] + ky).checked_sub(pd[0]), (px * st[1] + kx).checked_sub(pd[1]));
                            let (Some(y), Some(x)) = (y, x) else { continue };
                            if y >= h || x >= w {
                                continue;
                            }
                            let wide = (ch * h + y) * w + x;
                            for r in 0..rows {
                                v[r * wide_cols + wide] += wt.at(r * cols + col) * factor;
                            }
                        }
                    }
                }
            }
        }
        let weight = Tensor::new(DType::F64, vec![rows, wide_cols], v);
        let new = match bias {
            Some(b) => Op::Affine { weight, bias: b.clone() },
            None => Op::Linear { weight },
        };
        let what = format!(
            "'{}' ({}) folded into '{}': {rows}x{cols} weights become {rows}x{wide_cols}",
            g.g[p].name,
            g.g[p].op.type_name(),
            g.g[d].name
        );
        return Some(Rewrite {
            merge: vec![],
            replace: HashMap::from([(d, new)]),
            bypass: vec![p],
            drop_edges: vec![],
            remove: vec![],
            insert: None,
            what,
        });
    }
    None
}

/// The first pooling that folds into the convolution it feeds: SumPool2d or AvgPool2d whose
/// only consumer is a 2-d convolution it alone feeds becomes part of that convolution, whose
/// kernel then covers the pooling windows of its taps (a K-tap kernel at dilation D after a
/// k-window pooling at stride s: (K - 1) D s + k taps at stride S s, dilation 1). Exact when
/// every pooled position the convolution's padding reads lies wholly outside the input (so
/// both read zeros there) and the output size stays; otherwise the pooling stays.
fn find_pool_conv(g: &Graph, info: &GraphInfo) -> Option<Rewrite> {
    for &p in &info.order {
        let (kernel, stride, padding, avg) = match &g.g[p].op {
            Op::SumPool2d { kernel, stride, padding } => (kernel, stride, padding, false),
            Op::AvgPool2d { kernel, stride, padding } => (kernel, stride, padding, true),
            _ => continue,
        };
        let Some(c) = single_out(g, info, p) else { continue };
        if !only_from(g, info, c, p) || g.in_edges(p).iter().any(|&(e, _)| info.is_recurrent(e)) {
            continue;
        }
        let Op::Conv { weight, bias, stride: cs, padding: cp, dilation: cd, groups, .. } = &g.g[c].op else {
            continue;
        };
        let (inp, pooled, out) = (&info.in_shape[p.index()], &info.out_shape[p.index()], &info.out_shape[c.index()]);
        if weight.shape.len() != 4 || inp.len() != 3 || pooled.len() != 3 || out.len() != 3 || cd.len() != 2 {
            continue;
        }
        // Per spatial dimension: (pool window, pool stride, new kernel, new stride, new padding).
        let mut dims = vec![];
        for d in 0..2 {
            let (h, ph, oc) = (inp[1 + d], pooled[1 + d], out[1 + d]);
            let (k, s, pd) = (at(kernel, d), at(stride, d), at(padding, d));
            let (kc, sc, dc) = (weight.shape[2 + d], at(cs, d), cd[d]);
            let Some(pc) = pad_before(cp, d, kc, dc) else { break };
            // Pooled positions -pc..0 read inputs below 0 only; those from ph on, inputs from h on.
            let last = ((oc - 1) * sc + (kc - 1) * dc) as isize - pc as isize;
            if (pc > 0 && k > s + pd) || (last >= ph as isize && ph * s < h + pd) {
                break;
            }
            let (nk, ns, np) = ((kc - 1) * dc * s + k, sc * s, pc * s + pd);
            if valid::conv_out_len(h, 2 * np, 1, nk, ns) != Some(oc) {
                break;
            }
            dims.push((k, s, dc, nk, ns, np));
        }
        if dims.len() != 2 {
            continue;
        }
        let (co, ci, kh, kw) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3]);
        let (nkh, nkw) = (dims[0].3, dims[1].3);
        let factor = if avg { 1.0 / (dims[0].0 * dims[1].0) as f64 } else { 1.0 };
        let mut v = vec![0.0; co * ci * nkh * nkw];
        for o in 0..co * ci {
            for jy in 0..kh {
                for jx in 0..kw {
                    let wv = weight.at((o * kh + jy) * kw + jx) * factor;
                    for uy in 0..dims[0].0 {
                        for ux in 0..dims[1].0 {
                            let (y, x) = (jy * dims[0].2 * dims[0].1 + uy, jx * dims[1].2 * dims[1].1 + ux);
                            v[(o * nkh + y) * nkw + x] += wv;
                        }
                    }
                }
            }
        }
        let new = Op::Conv {
            weight: Tensor::new(DType::F64, vec![co, ci, nkh, nkw], v),
            bias: bias.clone(),
            stride: vec![dims[0].4, dims[1].4],
            padding: Padding::Explicit(vec![dims[0].5, dims[1].5]),
            dilation: vec![1, 1],
            groups: *groups,
            input_shape: Some(inp[1..].to_vec()),
        };
        let what = format!(
            "'{}' ({} {}x{}) folded into '{}': its {kh}x{kw} kernel becomes {nkh}x{nkw} at stride {}x{} ({} weights \
             become {})",
            g.g[p].name,
            g.g[p].op.type_name(),
            dims[0].0,
            dims[1].0,
            g.g[c].name,
            dims[0].4,
            dims[1].4,
            weight.numel(),
            co * ci * nkh * nkw
        );
        return Some(Rewrite {
            merge: vec![],
            replace: HashMap::from([(c, new)]),
            bypass: vec![p],
            drop_edges: vec![],
            remove: vec![],
            insert: None,
            what,
        });
    }
    None
}

/// How a shortcut into a layer reads its source: through the identity (`m` None) or a dense
/// matrix or 1x1 convolution `m` (`to` x `from` rows-major, per neuron or per channel) with
/// its bias, sampling the source at `stride` from offset `-pad` (convolutions).
struct Shortcut<'a> {
    m: Option<&'a Tensor>,
    bias: Option<&'a Tensor>,
    stride: Vec<usize>,
    pad: Vec<usize>,
}

/// Relay neurons repeat a layer's spikes exactly under a zero reset, when spikes are single
/// (0 or 1 per step).
fn relays_exact(g: &Graph, reset: crate::ir::ResetMode) -> bool {
    reset == crate::ir::ResetMode::Zero && g.dialect.switches.spikes == crate::ir::dialect::SpikeMode::Single
}

/// `n` outputs spikes (what a relay can repeat), not graded values.
fn spiking(g: &Graph, n: NodeIndex) -> bool {
    g.g[n].op.descriptor().is_some_and(|d| d.spiking)
}

/// The relay neuron's margin: a spike in puts `RELAY_MARGIN` thresholds on its membrane.
const RELAY_MARGIN: f64 = 1.5;

/// A relay neuron in the model of `like` (LIF or IF): `like`'s first decay and gain, no leak
/// target, reset to zero, and the threshold at which input weight `w` fires it with
/// [`RELAY_MARGIN`]. Under a zero reset its membrane is zero before every step, so it spikes
/// exactly when its input does, in the same step.
fn relay_neuron(like: &Op, w: f64, d: &crate::ir::Dialect) -> Option<Op> {
    if !matches!(like, Op::LIF { .. } | Op::IF { .. }) {
        return None;
    }
    let mut op = like.clone();
    for (name, t) in op.params_mut() {
        let v = if matches!(name, "v_leak" | "v_reset" | "v_threshold") { 0.0 } else { t.at(0) };
        *t = Tensor::scalar(DType::F64, v);
    }
    let gain = crate::ir::neuron::coeffs(&op, 1, d)?.gain[0];
    let thr = gain * w / RELAY_MARGIN;
    if !(thr.is_finite() && thr > 0.0) {
        return None;
    }
    for (name, t) in op.params_mut() {
        if name == "v_threshold" {
            *t = Tensor::scalar(DType::F64, thr);
        }
    }
    Some(op)
}

/// The first shortcut over a neuron layer that relay neurons can carry: a layer T fed by
/// W2 <- L1 <- W1 <- S (weighted, neuron, weighted, each feeding only the next) and by S
/// itself (or a dense op or 1x1 convolution P fed only by S). L1 gains one relay neuron per
/// value of S it needs (W1 gains their identity rows or taps), and W2 reads the relays
/// through the identity or P's weights (P's bias joins W2's), so every path into T crosses
/// the same number of neuron layers. Exact where relays are ([`relay_neuron`]): under a zero
/// reset (`reset`), for LIF and IF layers.
fn find_carry(g: &Graph, info: &GraphInfo, reset: crate::ir::ResetMode) -> Option<Rewrite> {
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
/// rule repeats until the paths are as long. Relays as in [`find_carry`]: zero reset, single
/// spikes, LIF or IF.
fn find_lengthen(g: &Graph, info: &GraphInfo, reset: crate::ir::ResetMode) -> Option<Rewrite> {
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

/// The sum of two optional per-output biases (`n` values), None when both are absent.
fn sum_bias(a: Option<&Tensor>, b: Option<&Tensor>, n: usize) -> Option<Vec<f64>> {
    if a.is_none() && b.is_none() {
        return None;
    }
    let at = |t: Option<&Tensor>, i: usize| t.map_or(0.0, |t| t.at(i));
    Some((0..n).map(|i| at(a, i) + at(b, i)).collect())
}

impl Pass for MergeBranches {
    fn name(&self) -> String {
        "merge-branches".into()
    }

    fn run(&self, g: &Graph, info: &GraphInfo, _cx: &Context) -> Result<(Graph, Vec<String>), Refusal> {
        let mut g = g.clone();
        let mut info = info.clone();
        let mut changes = vec![];
        // Each rewrite removes at least one node or edge, so this ends.
        while let Some(r) = find_pool_fold(&g, &info)
            .or_else(|| find_pool_conv(&g, &info))
            .or_else(|| find_absorb(&g, &info))
            .or_else(|| find_carry(&g, &info, self.reset.unwrap_or(g.dialect.reset)))
            .or_else(|| find_lengthen(&g, &info, self.reset.unwrap_or(g.dialect.reset)))
            .or_else(|| find_join(&g, &info))
            .or_else(|| find_stack(&g, &info))
            .or_else(|| find_stack_conv(&g, &info))
        {
            let ng = apply(&g, &r);
            info = valid::validate(&ng).map_err(|e| format!("after '{}': {e}", r.what))?;
            g = ng;
            changes.push(r.what);
        }
        Ok((g, changes))
    }
}
