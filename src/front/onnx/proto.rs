//! ONNX protobuf to plain data: the model's opsets, graph inputs and outputs, nodes with their
//! attributes, and initializers decoded into [`Arr`]s.
//!
//! Invariants: every decoded tensor holds exactly as many values as its dims say (checked
//! against [`MAX_ELEMENTS`] before allocating); external data is read only from files inside
//! the model's folder; nothing here panics on malformed bytes.

use std::path::Path;

use onnx_protobuf::tensor_proto::DataLocation;
use onnx_protobuf::tensor_shape_proto::dimension;
use onnx_protobuf::type_proto;
use onnx_protobuf::{AttributeProto, Message, ModelProto, TensorProto, attribute_proto::AttributeType};

use super::value::{Arr, Elem};
use crate::front::{FrontError, MAX_ELEMENTS};

/// Oldest default-domain opset read.
pub const MIN_OPSET: i64 = 13;

/// A parsed model.
pub(super) struct Model {
    pub ir_version: i64,
    /// Version of the default (`ai.onnx`) opset.
    pub opset: i64,
    pub producer: String,
    pub graph: GraphDef,
}

/// One dimension of a declared shape.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Dim {
    Fixed(i64),
    Symbolic(String),
}

/// A graph input or output as declared.
pub(super) struct ValueInfo {
    pub name: String,
    /// `TensorProto.DataType` code; 0 when not declared.
    pub elem_type: i32,
    /// `None` when the shape is not declared.
    pub dims: Option<Vec<Dim>>,
}

/// An attribute value.
#[derive(Clone, Debug)]
pub(super) enum Attr {
    Float(f32),
    Int(i64),
    Str(String),
    Floats(Vec<f32>),
    Ints(Vec<i64>),
    Tensor(Arr),
    /// A kind spikefab never reads (graphs, sparse tensors, types), by name.
    Other(&'static str),
}

/// One node.
pub(super) struct NodeDef {
    /// The node's name, or `<op_type> #<position>` when the file leaves it empty.
    pub name: String,
    pub op_type: String,
    pub domain: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub attrs: Vec<(String, Attr)>,
}

impl Attr {
    /// The attribute's kind, for messages.
    pub fn describe(&self) -> String {
        match self {
            Attr::Float(v) => format!("the float {v}"),
            Attr::Int(v) => format!("the int {v}"),
            Attr::Str(v) => format!("the string '{}'", v.escape_debug()),
            Attr::Floats(v) => format!("{} floats", v.len()),
            Attr::Ints(v) => format!("the ints {v:?}"),
            Attr::Tensor(t) => format!("a tensor of shape {:?}", t.shape),
            Attr::Other(kind) => format!("a {kind} attribute"),
        }
    }
}

impl NodeDef {
    pub fn attr(&self, name: &str) -> Option<&Attr> {
        self.attrs.iter().find(|(n, _)| n == name).map(|(_, a)| a)
    }
}

/// The main graph.
pub(super) struct GraphDef {
    pub nodes: Vec<NodeDef>,
    /// Graph inputs that are not initializers, in file order.
    pub inputs: Vec<ValueInfo>,
    pub outputs: Vec<ValueInfo>,
    pub initializers: Vec<(String, Arr)>,
}

/// Parses `bytes` (the contents of `path`).
pub(super) fn parse(path: &Path, bytes: &[u8]) -> Result<Model, FrontError> {
    if bytes.is_empty() {
        return Err(FrontError::file(path, "the file is empty (an ONNX model is a protobuf ModelProto)"));
    }
    let m = ModelProto::parse_from_bytes(bytes)
        .map_err(|e| FrontError::file(path, format!("not a valid ONNX protobuf (truncated or corrupt file?): {e}")))?;
    let Some(g) = m.graph.as_ref() else {
        return Err(FrontError::file(path, "field 'graph': missing (not an ONNX model, or the file is truncated)"));
    };
    let mut opset = None;
    for o in &m.opset_import {
        if o.domain.is_empty() || o.domain == "ai.onnx" {
            opset = Some(o.version);
        }
    }
    let Some(opset) = opset else {
        return Err(FrontError::file(path, "field 'opset_import': no opset for the default ONNX domain"));
    };
    if opset < MIN_OPSET {
        return Err(FrontError {
            path: path.into(),
            node: None,
            field: Some("opset_import".into()),
            message: format!(
                "the model uses ONNX opset {opset}; spikefab reads opset {MIN_OPSET} and newer (re-export with \
                 torch.onnx.export(..., opset_version=17) or convert with onnx.version_converter)"
            ),
        });
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut initializers = Vec::with_capacity(g.initializer.len());
    for t in &g.initializer {
        let a = tensor(t, dir).map_err(|msg| FrontError::at(path, t.name.clone(), Some("initializer"), msg))?;
        initializers.push((t.name.clone(), a));
    }
    if let Some(s) = g.sparse_initializer.first() {
        let name = s.values.as_ref().map(|v| v.name.clone()).unwrap_or_default();
        return Err(FrontError::at(path, name, Some("sparse_initializer"), "sparse initializers are not supported"));
    }
    let is_init = |n: &str| g.initializer.iter().any(|t| t.name == n);
    let inputs = g.input.iter().filter(|v| !is_init(&v.name)).map(value_info).collect();
    let outputs = g.output.iter().map(value_info).collect();
    let mut nodes = Vec::with_capacity(g.node.len());
    for (k, n) in g.node.iter().enumerate() {
        let name = if n.name.is_empty() { format!("{} #{k}", n.op_type) } else { n.name.clone() };
        let mut attrs = Vec::with_capacity(n.attribute.len());
        for a in &n.attribute {
            let v = attr(a, dir)
                .map_err(|msg| FrontError::at(path, name.clone(), Some(&format!("attribute '{}'", a.name)), msg))?;
            attrs.push((a.name.clone(), v));
        }
        nodes.push(NodeDef {
            name,
            op_type: n.op_type.clone(),
            domain: n.domain.clone(),
            inputs: n.input.clone(),
            outputs: n.output.clone(),
            attrs,
        });
    }
    Ok(Model {
        ir_version: m.ir_version,
        opset,
        producer: format!("{} {}", m.producer_name, m.producer_version).trim().to_string(),
        graph: GraphDef { nodes, inputs, outputs, initializers },
    })
}

fn value_info(v: &onnx_protobuf::ValueInfoProto) -> ValueInfo {
    let (elem_type, dims) = match v.type_.as_ref().and_then(|t| t.value.as_ref()) {
        Some(type_proto::Value::TensorType(t)) => {
            let dims = t.shape.as_ref().map(|s| {
                s.dim
                    .iter()
                    .map(|d| match &d.value {
                        Some(dimension::Value::DimValue(v)) => Dim::Fixed(*v),
                        Some(dimension::Value::DimParam(p)) => Dim::Symbolic(p.clone()),
                        _ => Dim::Symbolic(String::new()),
                    })
                    .collect()
            });
            (t.elem_type, dims)
        }
        _ => (0, None),
    };
    ValueInfo { name: v.name.clone(), elem_type, dims }
}

fn attr(a: &AttributeProto, dir: &Path) -> Result<Attr, String> {
    Ok(match a.type_.enum_value() {
        Ok(AttributeType::FLOAT) => Attr::Float(a.f),
        Ok(AttributeType::INT) => Attr::Int(a.i),
        Ok(AttributeType::STRING) => Attr::Str(String::from_utf8_lossy(&a.s).into_owned()),
        Ok(AttributeType::FLOATS) => Attr::Floats(a.floats.clone()),
        Ok(AttributeType::INTS) => Attr::Ints(a.ints.clone()),
        Ok(AttributeType::TENSOR) => match a.t.as_ref() {
            Some(t) => Attr::Tensor(tensor(t, dir)?),
            None => return Err("tensor attribute without a tensor".into()),
        },
        Ok(AttributeType::GRAPH) | Ok(AttributeType::GRAPHS) => Attr::Other("graph"),
        Ok(AttributeType::SPARSE_TENSOR) | Ok(AttributeType::SPARSE_TENSORS) => Attr::Other("sparse tensor"),
        Ok(AttributeType::TYPE_PROTO) | Ok(AttributeType::TYPE_PROTOS) => Attr::Other("type"),
        Ok(AttributeType::STRINGS) => Attr::Other("strings"),
        Ok(AttributeType::TENSORS) => Attr::Other("tensors"),
        Ok(AttributeType::UNDEFINED) | Err(_) => {
            // Files written before attribute types were recorded: infer from the set field.
            if a.t.is_some() {
                Attr::Tensor(tensor(a.t.as_ref().expect("checked"), dir)?)
            } else if !a.ints.is_empty() {
                Attr::Ints(a.ints.clone())
            } else if !a.floats.is_empty() {
                Attr::Floats(a.floats.clone())
            } else if !a.s.is_empty() {
                Attr::Str(String::from_utf8_lossy(&a.s).into_owned())
            } else if a.f != 0.0 {
                Attr::Float(a.f)
            } else {
                Attr::Int(a.i)
            }
        }
    })
}

/// Element type and byte size of a `TensorProto.DataType` code.
fn elem_of(code: i32) -> Result<(Elem, usize, &'static str), String> {
    Ok(match code {
        1 => (Elem::F32, 4, "float32"),
        2 => (Elem::Int, 1, "uint8"),
        3 => (Elem::Int, 1, "int8"),
        4 => (Elem::Int, 2, "uint16"),
        5 => (Elem::Int, 2, "int16"),
        6 => (Elem::Int, 4, "int32"),
        7 => (Elem::Int, 8, "int64"),
        9 => (Elem::Bool, 1, "bool"),
        10 => (Elem::F16, 2, "float16"),
        11 => (Elem::F64, 8, "float64"),
        12 => (Elem::Int, 4, "uint32"),
        13 => (Elem::Int, 8, "uint64"),
        16 => (Elem::F32, 2, "bfloat16"),
        0 => return Err("tensor has no data type".into()),
        8 => return Err("string tensors are not supported".into()),
        c => return Err(format!("tensor data type {c} is not supported (float, double, float16, ints, bool)")),
    })
}

/// Decodes one tensor (raw, typed or external data).
pub(super) fn tensor(t: &TensorProto, dir: &Path) -> Result<Arr, String> {
    let (elem, size, tname) = elem_of(t.data_type)?;
    let mut shape = Vec::with_capacity(t.dims.len());
    let mut n: u64 = 1;
    for &d in &t.dims {
        let d = u64::try_from(d).map_err(|_| format!("negative dimension {d} in dims {:?}", t.dims))?;
        n = n
            .checked_mul(d)
            .filter(|&n| n <= MAX_ELEMENTS)
            .ok_or_else(|| format!("dims {:?} are too large (limit {MAX_ELEMENTS} elements)", t.dims))?;
        shape.push(d as usize);
    }
    let n = n as usize;
    let external = t.data_location.enum_value() == Ok(DataLocation::EXTERNAL);
    let owned;
    let raw: Option<&[u8]> = if external {
        owned = external_bytes(t, dir, n * size)?;
        Some(&owned)
    } else if !t.raw_data.is_empty() || n == 0 {
        Some(&t.raw_data)
    } else {
        None
    };
    let data: Vec<f64> = match raw {
        Some(raw) => {
            if raw.len() != n * size {
                return Err(format!(
                    "raw data holds {} bytes but dims {:?} of {tname} need {}",
                    raw.len(),
                    t.dims,
                    n * size
                ));
            }
            decode_raw(t.data_type, raw)
        }
        None => {
            let d: Vec<f64> = match t.data_type {
                1 => t.float_data.iter().map(|&v| v as f64).collect(),
                11 => t.double_data.clone(),
                7 => t.int64_data.iter().map(|&v| v as f64).collect(),
                12 | 13 => t.uint64_data.iter().map(|&v| v as f64).collect(),
                10 => t.int32_data.iter().map(|&v| half::f16::from_bits(v as u16).to_f64()).collect(),
                16 => t.int32_data.iter().map(|&v| half::bf16::from_bits(v as u16).to_f64()).collect(),
                _ => t.int32_data.iter().map(|&v| v as f64).collect(),
            };
            if d.len() != n {
                return Err(format!("holds {} values but dims {:?} need {n}", d.len(), t.dims));
            }
            d
        }
    };
    Ok(Arr { elem, shape, data })
}

fn decode_raw(code: i32, raw: &[u8]) -> Vec<f64> {
    fn le<const N: usize>(raw: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
        raw.chunks_exact(N).map(|c| {
            let mut b = [0u8; N];
            b.copy_from_slice(c);
            b
        })
    }
    match code {
        1 => le::<4>(raw).map(|b| f32::from_le_bytes(b) as f64).collect(),
        2 => raw.iter().map(|&b| b as f64).collect(),
        3 => raw.iter().map(|&b| b as i8 as f64).collect(),
        4 => le::<2>(raw).map(|b| u16::from_le_bytes(b) as f64).collect(),
        5 => le::<2>(raw).map(|b| i16::from_le_bytes(b) as f64).collect(),
        6 => le::<4>(raw).map(|b| i32::from_le_bytes(b) as f64).collect(),
        7 => le::<8>(raw).map(|b| i64::from_le_bytes(b) as f64).collect(),
        9 => raw.iter().map(|&b| (b != 0) as u8 as f64).collect(),
        10 => le::<2>(raw).map(|b| half::f16::from_le_bytes(b).to_f64()).collect(),
        11 => le::<8>(raw).map(f64::from_le_bytes).collect(),
        12 => le::<4>(raw).map(|b| u32::from_le_bytes(b) as f64).collect(),
        13 => le::<8>(raw).map(|b| u64::from_le_bytes(b) as f64).collect(),
        16 => le::<2>(raw).map(|b| half::bf16::from_le_bytes(b).to_f64()).collect(),
        _ => vec![],
    }
}

/// Reads external tensor data from a file next to the model.
fn external_bytes(t: &TensorProto, dir: &Path, want: usize) -> Result<Vec<u8>, String> {
    let get = |k: &str| t.external_data.iter().find(|e| e.key == k).map(|e| e.value.as_str());
    let Some(loc) = get("location") else {
        return Err("external data without a 'location' entry".into());
    };
    let rel = Path::new(loc);
    if rel.is_absolute() || rel.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
        return Err(format!("external data location '{loc}' must be a relative path inside the model's folder"));
    }
    let num = |k: &str| -> Result<Option<u64>, String> {
        get(k)
            .map(|v| v.parse::<u64>().map_err(|_| format!("external data '{k}' is '{v}', not a byte count")))
            .transpose()
    };
    let offset = num("offset")?.unwrap_or(0);
    let length = num("length")?;
    let file = dir.join(rel);
    let bytes = std::fs::read(&file).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            format!("external data file '{}' is not present (it must sit next to the model)", file.display())
        } else {
            format!("cannot read external data file '{}': {e}", file.display())
        }
    })?;
    let len = length.unwrap_or(want as u64);
    let end = offset.checked_add(len).filter(|&e| e <= bytes.len() as u64).ok_or_else(|| {
        format!(
            "external data file '{}' has {} bytes; offset {offset} + length {len} runs past its end",
            file.display(),
            bytes.len()
        )
    })?;
    Ok(bytes[offset as usize..end as usize].to_vec())
}
