//! NIR writer: a validated graph back to a `.nir` (HDF5) file that the `nir` package reads.
//!
//! The graph is written flat: nodes of nested graphs keep their dot-qualified names as single
//! node names (NIR allows any name; spikefab's reader resolves the full name first). Tensors
//! keep their dtype; integer parameters are int64; Input/Output shapes come from validation.

use hdf5_pure::{DatasetBuilder, FileBuilder, GroupBuilder};

use crate::ir::{DType, Graph, Op, Padding, Tensor};
use crate::valid::GraphInfo;

/// NIR version written.
pub const NIR_VERSION: &str = "1.0.8";

fn tensor(g: &mut GroupBuilder, name: &str, t: &Tensor) {
    let shape: Vec<u64> = t.shape.iter().map(|&d| d as u64).collect();
    let ds: &mut DatasetBuilder = g.create_dataset(name);
    match t.dtype() {
        DType::F32 => ds.with_f32_data(&t.to_f32_vec()),
        DType::F64 => ds.with_f64_data(&t.to_vec()),
    }
    .with_shape(&shape);
}

fn ints(g: &mut GroupBuilder, name: &str, v: &[usize]) {
    let v: Vec<i64> = v.iter().map(|&x| x as i64).collect();
    g.create_dataset(name).with_i64_data(&v);
}

fn int(g: &mut GroupBuilder, name: &str, v: i64) {
    g.create_dataset(name).with_i64_data(&[v]).with_shape(&[]);
}

fn string(g: &mut GroupBuilder, name: &str, s: &str) {
    g.create_dataset(name).with_vlen_strings(&[s]).with_shape(&[]);
}

/// The NIR file could not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NirError {
    /// The HDF5 writer could not serialise the file.
    #[error("NIR export: cannot serialise HDF5: {0}")]
    Serialise(String),
}

/// Serialises a validated graph (`info` from [`crate::valid::validate`]) as NIR bytes.
pub fn to_bytes(g: &Graph, info: &GraphInfo) -> Result<Vec<u8>, NirError> {
    let mut fb = FileBuilder::new();
    fb.create_dataset("version").with_vlen_strings(&[NIR_VERSION]).with_shape(&[]);
    let mut top = fb.create_group("node");
    string(&mut top, "type", "NIRGraph");
    let mut nodes = top.create_group("nodes");
    for ix in g.g.node_indices() {
        let n = &g.g[ix];
        let mut ng = nodes.create_group(&n.name);
        string(&mut ng, "type", n.op.type_name());
        match &n.op {
            Op::Input { shape } => ints(&mut ng, "shape", shape),
            Op::Output => ints(&mut ng, "shape", &info.out_shape[ix.index()]),
            Op::Conv { weight, bias, stride, padding, dilation, groups, input_shape } => {
                tensor(&mut ng, "weight", weight);
                match bias {
                    Some(b) => tensor(&mut ng, "bias", b),
                    None => tensor(&mut ng, "bias", &Tensor::full(weight.dtype(), vec![weight.shape[0]], 0.0)),
                }
                ints(&mut ng, "stride", stride);
                match padding {
                    Padding::Explicit(p) => ints(&mut ng, "padding", p),
                    Padding::Same => string(&mut ng, "padding", "same"),
                    Padding::Valid => string(&mut ng, "padding", "valid"),
                }
                ints(&mut ng, "dilation", dilation);
                int(&mut ng, "groups", *groups as i64);
                if let Some(s) = input_shape {
                    ints(&mut ng, "input_shape", s);
                }
            }
            Op::SumPool2d { kernel, stride, padding } | Op::AvgPool2d { kernel, stride, padding } => {
                ints(&mut ng, "kernel_size", kernel);
                ints(&mut ng, "stride", stride);
                ints(&mut ng, "padding", padding);
            }
            Op::Flatten { start_dim, end_dim } => {
                int(&mut ng, "start_dim", *start_dim);
                int(&mut ng, "end_dim", *end_dim);
                ints(&mut ng, "input_type", &info.in_shape[ix.index()]);
            }
            op => {
                for (name, t) in op.params() {
                    tensor(&mut ng, name, t);
                }
            }
        }
        nodes.add_group(ng.finish());
    }
    top.add_group(nodes.finish());
    let edges: Vec<&str> = g.edges().iter().flat_map(|&(a, b)| [g.g[a].name.as_str(), g.g[b].name.as_str()]).collect();
    top.create_dataset("edges").with_vlen_strings(&edges).with_shape(&[(edges.len() / 2) as u64, 2]);
    fb.add_group(top.finish());
    fb.finish().map_err(|e| NirError::Serialise(e.to_string()))
}
