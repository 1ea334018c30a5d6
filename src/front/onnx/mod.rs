//! ONNX reader for single-step spiking models: `(x, mem1, mem2, ...) -> (spikes, mem1', ...)`,
//! one timestep with the membranes as explicit state, looped over T outside (what
//! `torch.onnx.export` writes for snnTorch `Leaky` with `surrogate_disable=True`), plus QONNX
//! weight quantisers.
//!
//! Stages: `proto` decodes the protobuf (opset 13 and newer; initializers, `Constant` nodes,
//! external data next to the model); `ops` evaluates every node in file order, constants
//! exactly and runtime tensors as linear forms; `build` pairs state inputs with state
//! outputs, recognises each membrane update as a neuron and writes the IR. The neuron
//! equations fix dt (`build::DT`), the reset mode and the firing rule, which become the
//! graph's dialect, so with no dialect options the model runs as its framework computed it.

mod build;
mod ops;
mod proto;
mod value;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use ops::{Importer, LeafDef, Value};
use proto::Dim;
use value::{Atom, Lin};

pub use build::DT;
pub use ops::supported;

use super::FrontError;
use crate::ir::{Graph, Provenance};

/// Reads a `.onnx` file.
pub fn load(path: &Path) -> Result<Graph, FrontError> {
    let bytes = std::fs::read(path).map_err(|e| FrontError::file(path, format!("cannot read: {e}")))?;
    from_bytes(path, &bytes)
}

/// Parses the contents of a `.onnx` file; `path` names the file in errors and external data
/// is looked up in its folder.
pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Graph, FrontError> {
    let model = proto::parse(path, bytes)?;
    let gd = &model.graph;
    let mut im = Importer {
        path,
        nodes: &gd.nodes,
        values: HashMap::new(),
        leaves: vec![],
        layers: vec![],
        heavs: vec![],
        batch: None,
        warnings: vec![],
    };
    for (name, a) in &gd.initializers {
        im.values.insert(name.clone(), Value::Const(a.clone()));
    }
    for vi in &gd.inputs {
        let at = |m: String| FrontError::at(path, vi.name.clone(), Some("input"), m);
        if !matches!(vi.elem_type, 1 | 10 | 11 | 16) {
            return Err(at(format!(
                "graph input has element type {}; spikefab feeds float tensors (float32/float64/float16)",
                vi.elem_type
            )));
        }
        let Some(dims) = &vi.dims else {
            return Err(at("graph input declares no shape; export with static per-sample dimensions".into()));
        };
        if dims.len() < 2 {
            return Err(at(format!("graph input has rank {}; expected (batch, ...)", dims.len())));
        }
        match &dims[0] {
            Dim::Fixed(b) if *b >= 1 => match im.batch {
                Some(p) if p != *b as usize => {
                    return Err(at(format!("batch dimension {b} differs from another input's {p}")));
                }
                _ => im.batch = Some(*b as usize),
            },
            Dim::Fixed(b) => return Err(at(format!("batch dimension {b} is not positive"))),
            Dim::Symbolic(_) => {}
        }
        let mut shape = Vec::with_capacity(dims.len() - 1);
        for d in &dims[1..] {
            match d {
                Dim::Fixed(v) if *v >= 1 && (*v as u64) <= super::MAX_ELEMENTS => shape.push(*v as usize),
                other => {
                    return Err(at(format!(
                        "per-sample dimension {other:?} is not a fixed positive size (only the batch may be symbolic)"
                    )));
                }
            }
        }
        if shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d as u64)).is_none_or(|n| n > super::MAX_ELEMENTS) {
            return Err(at(format!("shape {shape:?} is too large")));
        }
        im.leaves.push(LeafDef { name: vi.name.clone(), shape: shape.clone() });
        im.values.insert(vi.name.clone(), Value::Dyn(Lin::atom(Atom::Leaf(im.leaves.len() - 1), shape)));
    }
    let mut unavailable: HashMap<String, String> = HashMap::new();
    let produced: HashSet<&str> = gd.nodes.iter().flat_map(|n| n.outputs.iter().map(String::as_str)).collect();
    for k in 0..gd.nodes.len() {
        let n = &gd.nodes[k];
        for (i, name) in n.inputs.iter().enumerate() {
            if name.is_empty() || im.values.contains_key(name) {
                continue;
            }
            if let Some(producer) = unavailable.get(name) {
                return Err(FrontError::at(
                    path,
                    n.name.clone(),
                    Some(&format!("input {i} ('{name}')")),
                    format!("reads an optional output of '{producer}' that spikefab does not compute"),
                ));
            }
            let why = if produced.contains(name.as_str()) {
                "is used before the node that produces it (ONNX nodes must be in topological order)"
            } else {
                "is not a graph input, an initializer or the output of any node (missing initializer?)"
            };
            return Err(FrontError::at(path, n.name.clone(), Some(&format!("input {i} ('{name}')")), why));
        }
        let Some(f) = ops::lookup(&n.domain, &n.op_type) else {
            let dom = if n.domain.is_empty() { "ai.onnx".to_string() } else { n.domain.clone() };
            let hint =
                if n.domain.is_empty() || n.domain == "ai.onnx" || ops::QONNX_DOMAINS.contains(&n.domain.as_str()) {
                    format!("supported: {}", ops::supported())
                } else {
                    format!(
                        "unknown domain (QONNX ops are read from {})",
                        ops::QONNX_DOMAINS.iter().map(|d| format!("'{d}'")).collect::<Vec<_>>().join(", ")
                    )
                };
            return Err(FrontError::at(
                path,
                n.name.clone(),
                Some("op_type"),
                format!("unsupported op '{}' (domain '{dom}'); {hint}", n.op_type.escape_debug()),
            ));
        };
        let mut outs = f(&mut im, k)?.into_iter();
        for name in &n.outputs {
            match outs.next() {
                _ if name.is_empty() => {}
                Some(v) => {
                    im.values.insert(name.clone(), v);
                }
                None => {
                    unavailable.insert(name.clone(), n.name.clone());
                }
            }
        }
    }
    let outputs: Vec<String> = gd.outputs.iter().map(|o| o.name.clone()).collect();
    if outputs.is_empty() {
        return Err(FrontError::file(path, "the graph has no outputs"));
    }
    let mut graph = build::build(&mut im, &outputs)?;
    graph.provenance = Provenance {
        format: "onnx".into(),
        version: Some(format!(
            "ir {}, opset {}{}",
            model.ir_version,
            model.opset,
            if model.producer.is_empty() { String::new() } else { format!(", {}", model.producer) }
        )),
        warnings: im.warnings,
    };
    Ok(graph)
}
