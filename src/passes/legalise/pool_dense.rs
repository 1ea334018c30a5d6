//! Pool into dense: sum or average pooling, Flatten, then a dense op become Flatten and one
//! dense op over the unpooled positions.

use std::collections::HashMap;

use super::graph::{at, dense, only_from, single_out};
use super::rewrite::Rewrite;
use crate::ir::{DType, Graph, Op, Tensor};
use crate::valid::GraphInfo;

/// The first pooling that folds: SumPool2d or AvgPool2d, then Flatten, then a dense op, each
/// feeding only the next, become Flatten and one dense op over the unpooled positions (a
/// pooled position's column spread over its window, divided by the window's area for an
/// average, whose padding counts).
pub(super) fn find_pool_fold(g: &Graph, info: &GraphInfo) -> Option<Rewrite> {
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
