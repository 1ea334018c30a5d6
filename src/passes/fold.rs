//! Folds Scale nodes into the adjacent weighted op: `W (s * x) = (W diag s) x` for a scale
//! before an Affine/Linear (per input column) or a Conv (per input channel), and
//! `s * (W x + b) = (diag s W) x + s b` after one (per output row or channel); chains of
//! scales merge. The products are computed in f64 and kept in f64 unless exact in f32, which
//! is what the hardware lowering computes too, so hardware plans are identical; in floating
//! point the fold is exact for power-of-two scales and otherwise moves rounding by an ulp.
//!
//! BatchNorm does not occur in the IR: NIR has no such primitive (exporters fold it) and the
//! ONNX importer folds it into the preceding convolution or affine map.

use petgraph::graph::NodeIndex;

use super::pass::{Context, Pass, Refusal, conv_with, rebuild};
use crate::ir::{DType, Graph, Op, Tensor};
use crate::valid::{self, GraphInfo};

/// The scale-folding pass.
pub struct FoldScale;

fn tensor(shape: Vec<usize>, data: Vec<f64>) -> Tensor {
    let exact = data.iter().all(|&v| (v as f32) as f64 == v);
    Tensor::new(if exact { DType::F32 } else { DType::F64 }, shape, data)
}

/// Per-channel values of a scale over `c` channels of `per` elements each, if uniform.
fn per_channel(s: &Tensor, c: usize, per: usize) -> Option<Vec<f64>> {
    if s.numel() == 1 {
        return Some(vec![s.at(0); c]);
    }
    if s.numel() != c * per {
        return None;
    }
    let v: Vec<f64> = (0..c).map(|ch| s.at(ch * per)).collect();
    (0..c).all(|ch| s.slice(ch * per..(ch + 1) * per).all(|x| x == v[ch])).then_some(v)
}

/// Single non-recurrent in-edge source and single out-edge target of `n`.
fn single_in(g: &Graph, info: &GraphInfo, n: NodeIndex) -> Option<NodeIndex> {
    let ins = g.in_edges(n);
    (ins.len() == 1 && !info.is_recurrent(ins[0].0)).then(|| ins[0].1)
}

fn single_out(g: &Graph, info: &GraphInfo, n: NodeIndex) -> Option<NodeIndex> {
    let outs = g.out_edges(n);
    (outs.len() == 1 && !info.is_recurrent(outs[0].0)).then(|| outs[0].1)
}

/// The weighted op with a scale `s` applied to its input.
fn scale_input(op: &Op, s: &Tensor, in_shape: &[usize]) -> Option<Op> {
    match op {
        Op::Affine { weight, .. } | Op::Linear { weight } if s.numel() == 1 || s.numel() == weight.shape[1] => {
            let cols = weight.shape[1];
            let w: Vec<f64> = weight.iter().enumerate().map(|(k, w)| w * s.at(k % cols)).collect();
            let weight = tensor(weight.shape.clone(), w);
            // The bias is added after the product: an input scale does not touch it.
            Some(match op {
                Op::Affine { bias, .. } => Op::Affine { weight, bias: bias.clone() },
                _ => Op::Linear { weight },
            })
        }
        Op::Conv { weight, bias, groups, .. } => {
            let ci = in_shape[0];
            let per: usize = in_shape[1..].iter().product();
            let sc = per_channel(s, ci, per)?;
            let ci_g = ci / groups;
            let co_g = weight.shape[0] / groups;
            let k: usize = weight.shape[2..].iter().product();
            let w: Vec<f64> = weight
                .iter()
                .enumerate()
                .map(|(idx, w)| {
                    let co = idx / (ci_g * k);
                    let cil = (idx / k) % ci_g;
                    w * sc[(co / co_g) * ci_g + cil]
                })
                .collect();
            conv_with(op, tensor(weight.shape.clone(), w), bias.clone())
        }
        _ => None,
    }
}

/// The weighted op with a scale `s` applied to its output.
fn scale_output(op: &Op, s: &Tensor, out_shape: &[usize]) -> Option<Op> {
    match op {
        Op::Affine { weight, .. } | Op::Linear { weight } if s.numel() == 1 || s.numel() == weight.shape[0] => {
            let cols = weight.shape[1];
            let w: Vec<f64> = weight.iter().enumerate().map(|(k, w)| w * s.at(k / cols)).collect();
            let weight = tensor(weight.shape.clone(), w);
            Some(match op {
                Op::Affine { bias, .. } => {
                    let b: Vec<f64> = bias.iter().enumerate().map(|(i, b)| b * s.at(i)).collect();
                    Op::Affine { weight, bias: tensor(bias.shape.clone(), b) }
                }
                _ => Op::Linear { weight },
            })
        }
        Op::Conv { weight, bias, .. } => {
            let co = out_shape[0];
            let per: usize = out_shape[1..].iter().product();
            let sc = per_channel(s, co, per)?;
            let per_co: usize = weight.shape[1..].iter().product();
            let w: Vec<f64> = weight.iter().enumerate().map(|(idx, w)| w * sc[idx / per_co]).collect();
            let bias = bias.as_ref().map(|b| tensor(b.shape.clone(), b.iter().zip(&sc).map(|(b, s)| b * s).collect()));
            conv_with(op, tensor(weight.shape.clone(), w), bias)
        }
        _ => None,
    }
}

/// One fold: (the folded scale, the changed node, its new op, description).
fn find_fold(g: &Graph, info: &GraphInfo) -> Option<(NodeIndex, NodeIndex, Op, String)> {
    for &s_ix in &info.order {
        let Op::Scale { scale } = &g.g[s_ix].op else { continue };
        let name = &g.g[s_ix].name;
        // A scale (of the sum of its feed-forward inputs) into a weighted op with no other input.
        let ff_inputs = g.in_edges(s_ix).iter().all(|(e, _)| !info.is_recurrent(*e));
        if let Some(w_ix) = single_out(g, info, s_ix)
            && single_in(g, info, w_ix) == Some(s_ix)
            && ff_inputs
        {
            if let Some(op) = scale_input(&g.g[w_ix].op, scale, &info.in_shape[w_ix.index()]) {
                return Some((s_ix, w_ix, op, format!("Scale '{name}' folded into the input of '{}'", g.g[w_ix].name)));
            }
            if let Op::Scale { scale: s2 } = &g.g[w_ix].op
                && (scale.numel() == 1 || s2.numel() == 1 || scale.numel() == s2.numel())
            {
                let n = scale.numel().max(s2.numel());
                let shape = if scale.numel() >= s2.numel() { scale.shape.clone() } else { s2.shape.clone() };
                let v = (0..n).map(|i| scale.at(i) * s2.at(i)).collect();
                let op = Op::Scale { scale: tensor(shape, v) };
                return Some((s_ix, w_ix, op, format!("Scale '{name}' merged into Scale '{}'", g.g[w_ix].name)));
            }
        }
        // A scale after a weighted op that feeds nothing else.
        if let Some(w_ix) = single_in(g, info, s_ix)
            && single_out(g, info, w_ix) == Some(s_ix)
            && let Some(op) = scale_output(&g.g[w_ix].op, scale, &info.out_shape[w_ix.index()])
        {
            return Some((s_ix, w_ix, op, format!("Scale '{name}' folded into the output of '{}'", g.g[w_ix].name)));
        }
    }
    None
}

impl Pass for FoldScale {
    fn name(&self) -> String {
        "fold-scale".into()
    }

    fn run(&self, g: &Graph, info: &GraphInfo, _cx: &Context) -> Result<(Graph, Vec<String>), Refusal> {
        let mut g = g.clone();
        let mut info = info.clone();
        let mut changes = vec![];
        while let Some((s_ix, w_ix, op, what)) = find_fold(&g, &info) {
            let pre = single_out(&g, &info, s_ix) == Some(w_ix);
            let ng = rebuild(
                &g,
                &|ix| {
                    if ix == s_ix {
                        None
                    } else if ix == w_ix {
                        Some(op.clone())
                    } else {
                        Some(g.g[ix].op.clone())
                    }
                },
                &|_, a, b| match (pre, a == s_ix, b == s_ix) {
                    // Scale -> W: the scale's source now feeds W directly.
                    (true, false, true) => Some((a, w_ix)),
                    (true, true, _) => None,
                    // W -> Scale -> X: W now feeds X, in the scale's edge positions.
                    (false, true, _) => Some((w_ix, b)),
                    (false, false, true) => None,
                    _ => Some((a, b)),
                },
            );
            info = valid::validate(&ng).map_err(|err| Refusal::Invalid { after: "folding".into(), err })?;
            g = ng;
            changes.push(what);
        }
        Ok((g, changes))
    }
}
