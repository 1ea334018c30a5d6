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

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::find_pool_fold;
    use crate::ir::{Graph, Op, ResetMode};

    /// input (2x4x4) -> 2x2/2 pooling (sum or average) -> flatten -> fc (3x8) -> LIF -> output.
    fn pooled(avg: bool) -> Graph {
        let mut g = empty(ResetMode::Zero);
        let input = g.add_node("input", Op::Input { shape: vec![2, 4, 4] });
        let (kernel, stride, padding) = (vec![2, 2], vec![2, 2], vec![0, 0]);
        let pool =
            if avg { Op::AvgPool2d { kernel, stride, padding } } else { Op::SumPool2d { kernel, stride, padding } };
        let p = g.add_node("pool", pool);
        let f = g.add_node("flatten", Op::Flatten { start_dim: 0, end_dim: -1 });
        let fc = g.add_node("fc", linear(3, 8, values(24, 3)));
        let l = g.add_node("lif", lif(&thresholds(3)));
        let out = g.add_node("output", Op::Output);
        chain(&mut g, &[input, p, f, fc, l, out]);
        g
    }

    /// The pooling goes; each of fc's 8 columns (channel, pooled row, pooled column) spreads
    /// over the 4 input positions of its window, divided by 4 for an average; the outputs stay.
    #[test]
    fn pooling_spreads_each_column_over_its_window() {
        for avg in [false, true] {
            let g = pooled(avg);
            let (h, what) = rewrite(&g, find_pool_fold);
            let kind = if avg { "AvgPool2d" } else { "SumPool2d" };
            assert_eq!(what, format!("'pool' ({kind}) folded into 'fc': 3x8 weights become 3x32"));
            assert_eq!(names(&h), ["input", "flatten", "fc", "lif", "output"]);
            assert_eq!(edges(&h), pairs(&[("input", "flatten"), ("flatten", "fc"), ("fc", "lif"), ("lif", "output")]));
            let (shape, w) = weight(&h, "fc");
            assert_eq!(shape, [3, 32]);
            let old = weight(&g, "fc").1;
            let factor = if avg { 0.25 } else { 1.0 };
            for r in 0..3 {
                for ch in 0..2 {
                    for y in 0..4 {
                        for x in 0..4 {
                            let pooled_col = (ch * 2 + y / 2) * 2 + x / 2;
                            assert_eq!(w[r * 32 + (ch * 4 + y) * 4 + x], old[r * 8 + pooled_col] * factor, "avg {avg}");
                        }
                    }
                }
            }
            assert!(matches!(op(&h, "fc"), Op::Linear { .. }), "a Linear stays a Linear");
            assert_same_function(&g, &h);
        }
    }

    /// A Flatten read by a second dense op cannot take the unpooled positions for both: no fold.
    #[test]
    fn a_flatten_read_twice_keeps_its_pooling() {
        let mut g = pooled(false);
        let (f, l) = (g.find("flatten").unwrap(), g.find("lif").unwrap());
        let fc2 = g.add_node("fc2", linear(3, 8, values(24, 5)));
        g.add_edge(f, fc2);
        g.add_edge(fc2, l);
        assert!(find_pool_fold(&g, &info(&g)).is_none());
    }
}
