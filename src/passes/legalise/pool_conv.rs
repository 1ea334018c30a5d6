//! Pool into conv: sum or average pooling that alone feeds a 2-d convolution becomes part of
//! its kernel.

use std::collections::HashMap;

use super::graph::{at, only_from, pad_before, single_out};
use super::rewrite::Rewrite;
use crate::ir::{DType, Graph, Op, Padding, Tensor};
use crate::valid::{self, GraphInfo};

/// The first pooling that folds into the convolution it feeds: SumPool2d or AvgPool2d whose
/// only consumer is a 2-d convolution it alone feeds becomes part of that convolution, whose
/// kernel then covers the pooling windows of its taps (a K-tap kernel at dilation D after a
/// k-window pooling at stride s: (K - 1) D s + k taps at stride S s, dilation 1). Exact when
/// every pooled position the convolution's padding reads lies wholly outside the input (so
/// both read zeros there) and the output size stays; otherwise the pooling stays.
pub(super) fn find_pool_conv(g: &Graph, info: &GraphInfo) -> Option<Rewrite> {
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

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::find_pool_conv;
    use crate::ir::{Graph, Op, Padding, ResetMode};

    /// input (2 x `side` x `side`) -> average pooling (`k`, stride `s`, padding `p`) -> 3x3
    /// convolution (2 -> 2 channels, padding 1, bias) -> LIF -> output.
    fn pooled(side: usize, k: usize, s: usize, p: usize) -> Graph {
        let mut g = empty(ResetMode::Zero);
        let input = g.add_node("input", Op::Input { shape: vec![2, side, side] });
        let pool = g.add_node("pool", Op::AvgPool2d { kernel: vec![k, k], stride: vec![s, s], padding: vec![p, p] });
        let c = g.add_node("conv", conv(2, 2, 3, 1, values(36, 7), Some(vec![0.25, -0.25])));
        let pooled = (side + 2 * p - k) / s + 1;
        let l = g.add_node("lif", lif(&thresholds(2 * pooled * pooled)));
        let out = g.add_node("output", Op::Output);
        chain(&mut g, &[input, pool, c, l, out]);
        g
    }

    /// 2x2/2 average pooling before a padded 3x3 convolution: a 6x6 kernel at stride 2 and
    /// padding 2 whose tap (y, x) is the old tap (y / 2, x / 2) divided by 4; bias and groups
    /// kept, the pooling gone, the outputs the same.
    #[test]
    fn pooling_widens_the_kernel_and_its_stride() {
        let g = pooled(4, 2, 2, 0);
        let (h, what) = rewrite(&g, find_pool_conv);
        assert_eq!(
            what,
            "'pool' (AvgPool2d 2x2) folded into 'conv': its 3x3 kernel becomes 6x6 at stride 2x2 (36 weights become 144)"
        );
        assert_eq!(names(&h), ["input", "conv", "lif", "output"]);
        assert_eq!(edges(&h), pairs(&[("input", "conv"), ("conv", "lif"), ("lif", "output")]));
        let old = weight(&g, "conv").1;
        let Op::Conv { weight, bias, stride, padding, dilation, groups, input_shape } = op(&h, "conv") else {
            panic!("a convolution")
        };
        assert_eq!(weight.shape, [2, 2, 6, 6]);
        assert_eq!((stride, padding, dilation, *groups), (&vec![2, 2], &Padding::Explicit(vec![2, 2]), &vec![1, 1], 1));
        assert_eq!(input_shape.as_deref(), Some(&[4, 4][..]));
        assert_eq!(bias.as_ref().map(|b| b.to_vec()), Some(vec![0.25, -0.25]));
        for oi in 0..4 {
            for y in 0..6 {
                for x in 0..6 {
                    assert_eq!(
                        weight.at((oi * 6 + y) * 6 + x),
                        old[(oi * 3 + y / 2) * 3 + x / 2] * 0.25,
                        "({oi}, {y}, {x})"
                    );
                }
            }
        }
        assert_same_function(&g, &h);
    }

    /// 3x3/2 pooling with padding 1 of an 8x8 map: the convolution's padding would read the
    /// pooled position past the end, which covers input row 8 (outside) and row 7 (inside), so
    /// the larger kernel would not read zeros there: no fold.
    #[test]
    fn overlapping_windows_the_padding_reads_stay() {
        let g = pooled(8, 3, 2, 1);
        assert!(find_pool_conv(&g, &info(&g)).is_none());
    }
}
