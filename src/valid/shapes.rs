//! Shape inference: every node's input and output shape (batch dimension excluded).
//!
//! Tensors flow as flat C-order vectors with a logical shape. Where an op needs structure the
//! element count decides: an Affine/Linear accepts any input with as many elements as its
//! weight has columns, a neuron with per-neuron parameters any input with as many elements
//! as the parameter, a convolution a flat input when its `input_shape` says how to read it.

use petgraph::graph::NodeIndex;

use super::error::{MAX_NUMEL, ValidError};
use crate::ir::{Graph, Op, Padding, Tensor, conv_out_len};

/// Element count, saturating at `usize::MAX` (shapes come from files).
fn numel(s: &[usize]) -> usize {
    s.iter().try_fold(1usize, |a, &b| a.checked_mul(b)).unwrap_or(usize::MAX)
}

/// Input and output shape of every node, by node index.
type Shapes = (Vec<Vec<usize>>, Vec<Vec<usize>>);

pub(super) fn infer(g: &Graph, order: &[NodeIndex], recurrent: &[bool]) -> Result<Shapes, ValidError> {
    let n = g.g.node_count();
    let mut ins: Vec<Option<Vec<usize>>> = vec![None; n];
    let mut outs: Vec<Option<Vec<usize>>> = vec![None; n];
    for &ix in order {
        let node = &g.g[ix];
        let mut input: Option<Vec<usize>> = None;
        for (e, src) in g.in_edges(ix) {
            if recurrent[e.index()] {
                continue;
            }
            let s = outs[src.index()].clone().expect("topological order visits sources first");
            match &input {
                None => input = Some(s),
                Some(prev) if numel(prev) == numel(&s) => {}
                Some(prev) => {
                    return Err(ValidError::at(
                        &node.name,
                        None,
                        format!(
                            "shape mismatch along edge from '{}': it delivers {:?} ({} elements) but other inputs deliver {:?} ({} elements)",
                            g.g[src].name,
                            s,
                            numel(&s),
                            prev,
                            numel(prev)
                        ),
                    ));
                }
            }
        }
        let input = match input {
            Some(s) => s,
            None => implied_input(g, ix)?,
        };
        let (input, out) = output_shape(&node.name, &node.op, &input)?;
        if numel(&out) > MAX_NUMEL {
            return Err(ValidError::at(
                &node.name,
                None,
                format!("output shape {out:?} is too large (limit {MAX_NUMEL} elements)"),
            ));
        }
        if numel(&out) == 0 {
            return Err(ValidError::at(&node.name, None, format!("output shape {out:?} has no elements")));
        }
        ins[ix.index()] = Some(input);
        outs[ix.index()] = Some(out);
    }
    // Recurrent edges must deliver what their target takes.
    for e in g.g.edge_indices() {
        if !recurrent[e.index()] {
            continue;
        }
        let (s, t) = g.g.edge_endpoints(e).expect("edge of this graph");
        let (Some(so), Some(ti)) = (outs[s.index()].as_ref(), ins[t.index()].as_ref()) else {
            return Err(unshaped(g, if outs[s.index()].is_none() { s } else { t }));
        };
        if numel(so) != numel(ti) {
            return Err(ValidError::at(
                &g.g[t].name,
                None,
                format!(
                    "shape mismatch along recurrent edge from '{}': it delivers {:?} but the node takes {:?}",
                    g.g[s].name, so, ti
                ),
            ));
        }
    }
    let mut shapes = (vec![], vec![]);
    for (k, (i, o)) in ins.into_iter().zip(outs).enumerate() {
        match (i, o) {
            (Some(i), Some(o)) => {
                shapes.0.push(i);
                shapes.1.push(o);
            }
            _ => return Err(unshaped(g, NodeIndex::new(k))),
        }
    }
    Ok(shapes)
}

/// A node that shape inference never reached (no path from an Input leads to it).
fn unshaped(g: &Graph, ix: NodeIndex) -> ValidError {
    ValidError::at(&g.g[ix].name, None, "no shape could be inferred: no path from an Input reaches this node")
}

/// Input shape of a node with no feed-forward input edge (fed only by recurrent edges).
fn implied_input(g: &Graph, ix: NodeIndex) -> Result<Vec<usize>, ValidError> {
    let node = &g.g[ix];
    match &node.op {
        Op::Input { shape } => Ok(shape.clone()),
        Op::Affine { weight, .. } | Op::Linear { weight } if weight.shape.len() == 2 => Ok(vec![weight.shape[1]]),
        op => {
            if let Some(s) = neuron_shape(op)
                && !s.is_empty()
            {
                return Ok(s);
            }
            Err(ValidError::at(&node.name, None, "has no input edge and its input shape cannot be inferred"))
        }
    }
}

/// The common shape of a neuron-like op's non-scalar parameters (empty when all are scalar).
fn neuron_shape(op: &Op) -> Option<Vec<usize>> {
    let mut shape: Vec<usize> = vec![];
    for (_, t) in op.params() {
        if !t.is_scalar() && numel(&t.shape) > numel(&shape) {
            shape = t.shape.clone();
        }
    }
    Some(shape)
}

fn check_broadcast(name: &str, op: &Op, n: usize) -> Result<(), ValidError> {
    for (field, t) in op.params() {
        if !t.is_scalar() && t.numel() != n {
            return Err(ValidError::at(
                name,
                Some(field),
                format!(
                    "has {} values ({:?}) but the node's input delivers {n} elements; expected one value \
                     or one per input element (shape mismatch along the incoming edge?)",
                    t.numel(),
                    t.shape
                ),
            ));
        }
    }
    Ok(())
}

fn matrix(name: &str, w: &Tensor) -> Result<(usize, usize), ValidError> {
    if w.shape.len() != 2 {
        return Err(ValidError::at(
            name,
            Some("weight"),
            format!("expected a 2-d (out, in) matrix, found shape {:?}", w.shape),
        ));
    }
    Ok((w.shape[0], w.shape[1]))
}

/// (input shape as the op reads it, output shape).
fn output_shape(name: &str, op: &Op, input: &[usize]) -> Result<(Vec<usize>, Vec<usize>), ValidError> {
    let n_in = numel(input);
    if let Op::Conv { weight, bias, stride, padding, dilation, groups, input_shape } = op {
        return conv_shape(
            name,
            weight,
            bias.as_ref(),
            stride,
            padding,
            dilation,
            *groups,
            input_shape.as_deref(),
            input,
        );
    }
    let out = match op {
        Op::Input { shape } => shape.clone(),
        Op::Output => input.to_vec(),
        Op::Affine { weight, bias } => {
            let (o, i) = matrix(name, weight)?;
            if bias.numel() != o {
                return Err(ValidError::at(
                    name,
                    Some("bias"),
                    format!("has {} values but weight has {o} output rows", bias.numel()),
                ));
            }
            fan_in(name, i, input)?;
            vec![o]
        }
        Op::Linear { weight } => {
            let (o, i) = matrix(name, weight)?;
            fan_in(name, i, input)?;
            vec![o]
        }
        Op::Scale { scale } => {
            if !scale.is_scalar() && scale.numel() != n_in {
                return Err(ValidError::at(
                    name,
                    Some("scale"),
                    format!("has {} values but the input has {n_in} elements ({input:?})", scale.numel()),
                ));
            }
            input.to_vec()
        }
        Op::Conv { .. } => unreachable!("handled above"),
        Op::SumPool2d { kernel, stride, padding } | Op::AvgPool2d { kernel, stride, padding } => {
            if input.len() != 3 {
                return Err(ValidError::at(name, None, format!("pooling expects a (C, H, W) input, found {input:?}")));
            }
            for (field, v) in [("kernel_size", kernel), ("stride", stride), ("padding", padding)] {
                if v.len() != 2 {
                    return Err(ValidError::at(name, Some(field), format!("expected 2 values, found {}", v.len())));
                }
            }
            if kernel.contains(&0) || stride.contains(&0) {
                return Err(ValidError::at(name, Some("kernel_size"), "kernel and stride must be positive"));
            }
            let mut out = vec![input[0]];
            for d in 0..2 {
                let l =
                    padding[d].checked_mul(2).and_then(|pt| conv_out_len(input[d + 1], pt, 1, kernel[d], stride[d]));
                let l = l.ok_or_else(|| {
                    ValidError::at(
                        name,
                        Some("kernel_size"),
                        format!("kernel {kernel:?} does not fit input {input:?} with padding {padding:?}"),
                    )
                })?;
                out.push(l);
            }
            out
        }
        Op::Flatten { start_dim, end_dim } => {
            let r = input.len() as i64;
            let norm = |d: i64| if d < 0 { d + r } else { d };
            let (s, e) = (norm(*start_dim), norm(*end_dim));
            if r == 0 || s < 0 || e >= r || s > e {
                return Err(ValidError::at(
                    name,
                    Some("start_dim"),
                    format!(
                        "dims {start_dim}..={end_dim} are out of range for input {input:?} (batch dimension excluded)"
                    ),
                ));
            }
            let (s, e) = (s as usize, e as usize);
            let mut out = input[..s].to_vec();
            out.push(numel(&input[s..=e]));
            out.extend_from_slice(&input[e + 1..]);
            out
        }
        Op::Delay { .. }
        | Op::Threshold { .. }
        | Op::I { .. }
        | Op::IF { .. }
        | Op::LI { .. }
        | Op::LIF { .. }
        | Op::CubaLI { .. }
        | Op::CubaLIF { .. } => {
            check_broadcast(name, op, n_in)?;
            // Per-neuron parameters with the input's element count: keep the input's structure.
            input.to_vec()
        }
    };
    Ok((input.to_vec(), out))
}

fn fan_in(name: &str, cols: usize, input: &[usize]) -> Result<(), ValidError> {
    if numel(input) != cols {
        return Err(ValidError::at(
            name,
            Some("weight"),
            format!("has {cols} input columns but the node receives {input:?} ({} elements)", numel(input)),
        ));
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn conv_shape(
    name: &str,
    weight: &Tensor,
    bias: Option<&Tensor>,
    stride: &[usize],
    padding: &Padding,
    dilation: &[usize],
    groups: usize,
    declared: Option<&[usize]>,
    input: &[usize],
) -> Result<(Vec<usize>, Vec<usize>), ValidError> {
    if !(3..=4).contains(&weight.shape.len()) || weight.shape.contains(&0) {
        return Err(ValidError::at(
            name,
            Some("weight"),
            format!("expected a (Co, Ci/groups, K) or (Co, Ci/groups, Kh, Kw) kernel, found shape {:?}", weight.shape),
        ));
    }
    let nd = weight.shape.len() - 2;
    let (co, ci_g) = (weight.shape[0], weight.shape[1]);
    for (field, v) in [("stride", stride), ("dilation", dilation)] {
        if v.len() != nd {
            return Err(ValidError::at(name, Some(field), format!("expected {nd} values, found {}", v.len())));
        }
    }
    let ci = ci_g
        .checked_mul(groups)
        .filter(|&c| c <= MAX_NUMEL)
        .ok_or_else(|| ValidError::at(name, Some("groups"), format!("{groups} groups is too many")))?;
    if groups == 0 || co % groups != 0 {
        return Err(ValidError::at(
            name,
            Some("groups"),
            format!("{groups} groups do not divide {co} output channels"),
        ));
    }
    if let Some(b) = bias
        && b.numel() != co
    {
        return Err(ValidError::at(name, Some("bias"), format!("has {} values for {co} output channels", b.numel())));
    }
    if stride.contains(&0) || dilation.contains(&0) {
        return Err(ValidError::at(name, Some("stride"), "stride and dilation must be positive"));
    }
    // The logical input: (C, spatial...), taken from the edge or from `input_shape`.
    let logical: Vec<usize> = if input.len() == nd + 1 {
        input.to_vec()
    } else if let Some(d) = declared {
        let d = if d.len() == nd { [&[ci][..], d].concat() } else { d.to_vec() };
        if d.len() != nd + 1 || numel(&d) != numel(input) {
            return Err(ValidError::at(
                name,
                Some("input_shape"),
                format!("{d:?} does not match the incoming {input:?}"),
            ));
        }
        d
    } else {
        return Err(ValidError::at(
            name,
            None,
            format!(
                "expects a (C, {}) input, found {input:?} and no 'input_shape' to read it with",
                if nd == 1 { "L" } else { "H, W" }
            ),
        ));
    };
    if logical[0] != ci {
        return Err(ValidError::at(
            name,
            Some("weight"),
            format!("expects {ci} input channels ({ci_g} per group x {groups} groups) but receives {}", logical[0]),
        ));
    }
    let mut out = vec![co];
    for d in 0..nd {
        let k = weight.shape[2 + d];
        let l = match padding {
            Padding::Same => {
                if stride[d] != 1 {
                    return Err(ValidError::at(name, Some("padding"), "padding \"same\" requires stride 1"));
                }
                Some(logical[1 + d])
            }
            Padding::Valid => conv_out_len(logical[1 + d], 0, dilation[d], k, stride[d]),
            Padding::Explicit(p) => {
                if p.len() != nd {
                    return Err(ValidError::at(
                        name,
                        Some("padding"),
                        format!("expected {nd} values, found {}", p.len()),
                    ));
                }
                p[d].checked_mul(2).and_then(|pt| conv_out_len(logical[1 + d], pt, dilation[d], k, stride[d]))
            }
        }
        .ok_or_else(|| ValidError::at(name, Some("weight"), format!("kernel does not fit the input {logical:?}")))?;
        out.push(l);
    }
    Ok((logical, out))
}
