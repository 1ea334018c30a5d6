//! The op registry: one function per ONNX op family, evaluating each node symbolically. One
//! concept, over 1,200 lines: the ops are its entries, each read against the others' values.
//!
//! Constants (initializers, `Constant` nodes and everything computed only from them, including
//! QONNX weight quantisers) are evaluated at import in the op's element type. Runtime tensors
//! become linear forms ([`Lin`]); weighted and structural ops on them (Gemm, MatMul, Conv,
//! AveragePool, Flatten) become [`LayerDef`]s whose output is an atom. Views (Reshape,
//! Squeeze, Unsqueeze) only change the per-sample shape: values are C-order throughout.

use std::collections::HashMap;
use std::path::Path;

use super::proto::{Attr, NodeDef};
use super::value::{Arr, Atom, Elem, Lin, checked_numel};
use crate::front::FrontError;
use crate::ir::Padding;
use crate::ir::conv_out_len;

/// A value of the evaluation.
#[derive(Clone, Debug)]
pub(super) enum Value {
    Const(Arr),
    Dyn(Lin),
}

/// A non-initializer graph input.
pub(super) struct LeafDef {
    pub name: String,
    /// Per-sample shape (batch dimension removed).
    pub shape: Vec<usize>,
}

/// A comparison `inner > 0` (`>= 0` with `or_equal`) of a runtime tensor.
pub(super) struct HeavDef {
    pub inner: Lin,
    pub or_equal: bool,
    /// The comparison's ONNX node.
    pub node: usize,
}

/// What a layer computes.
#[derive(Clone, Debug)]
pub(super) enum LayerKind {
    /// `W x (+ b)`, weight (out, in).
    Dense {
        weight: Arr,
        bias: Option<Vec<f64>>,
    },
    Conv {
        weight: Arr,
        bias: Option<Vec<f64>>,
        stride: Vec<usize>,
        padding: Padding,
        dilation: Vec<usize>,
        groups: usize,
    },
    /// Window average (or sum).
    Pool {
        sum: bool,
        kernel: Vec<usize>,
        stride: Vec<usize>,
        padding: Vec<usize>,
    },
    Flatten,
}

/// A layer: `kind` applied to the runtime tensor `input`.
pub(super) struct LayerDef {
    pub kind: LayerKind,
    pub input: Lin,
    /// The ONNX node.
    pub node: usize,
    /// Per-sample output shape.
    pub shape: Vec<usize>,
}

/// Evaluation state.
pub(super) struct Importer<'a> {
    pub path: &'a Path,
    pub nodes: &'a [NodeDef],
    pub values: HashMap<String, Value>,
    pub leaves: Vec<LeafDef>,
    pub layers: Vec<LayerDef>,
    pub heavs: Vec<HeavDef>,
    /// Static batch size of the graph inputs, when declared.
    pub batch: Option<usize>,
    pub warnings: Vec<String>,
}

type OpFn = fn(&mut Importer, usize) -> Result<Vec<Value>, FrontError>;

/// Domains whose `Quant`/`BipolarQuant` follow QONNX.
pub(super) const QONNX_DOMAINS: [&str; 3] = ["onnx.brevitas", "qonnx.custom_op.general", "finn.custom_op.general"];

/// Which domains a row of the op table serves.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Domains {
    /// The default domain (`""` or `ai.onnx`).
    Default,
    /// QONNX's domains ([`QONNX_DOMAINS`]).
    Qonnx,
}

/// One row of the op table: the ops a handler evaluates, and what the supported-ops message
/// says of them (`None`: supported as ONNX defines it).
struct OpRow {
    domains: Domains,
    names: &'static [&'static str],
    handler: OpFn,
    note: Option<&'static str>,
}

const CONST_ONLY: Option<&str> = Some("on constants only");

/// The op table: dispatch ([`lookup`]) and the supported-ops message ([`supported`]) both
/// come from it.
static OPS: &[OpRow] = &[
    OpRow { domains: Domains::Default, names: &["Gemm"], handler: gemm, note: None },
    OpRow { domains: Domains::Default, names: &["MatMul"], handler: matmul, note: None },
    OpRow { domains: Domains::Default, names: &["Conv"], handler: conv, note: None },
    OpRow { domains: Domains::Default, names: &["AveragePool", "GlobalAveragePool"], handler: pool, note: None },
    OpRow {
        domains: Domains::Default,
        names: &["MaxPool", "GlobalMaxPool", "LpPool"],
        handler: pool,
        note: Some("refused with a message: a max over spikes is not in the IR"),
    },
    OpRow {
        domains: Domains::Default,
        names: &["Flatten", "Reshape", "Squeeze", "Unsqueeze"],
        handler: reshape,
        note: None,
    },
    OpRow { domains: Domains::Default, names: &["Shape"], handler: shape_ops, note: None },
    OpRow {
        domains: Domains::Default,
        names: &["Gather", "Concat", "Transpose", "Slice"],
        handler: shape_ops,
        note: CONST_ONLY,
    },
    OpRow { domains: Domains::Default, names: &["Add", "Sub", "Mul", "Div", "Neg"], handler: arith, note: None },
    OpRow { domains: Domains::Default, names: &["Identity", "Cast", "Dropout"], handler: passthrough, note: None },
    OpRow {
        domains: Domains::Default,
        names: &["Greater", "GreaterOrEqual", "Less", "LessOrEqual"],
        handler: compare,
        note: None,
    },
    OpRow { domains: Domains::Default, names: &["Where", "Not", "And", "Or"], handler: logic, note: None },
    OpRow {
        domains: Domains::Default,
        names: &["Clip", "Sqrt", "Reciprocal", "Abs", "Sign", "Floor", "Ceil", "Relu", "Exp"],
        handler: unary,
        note: CONST_ONLY,
    },
    OpRow { domains: Domains::Default, names: &["BatchNormalization"], handler: batchnorm, note: None },
    OpRow { domains: Domains::Default, names: &["Constant"], handler: constant, note: None },
    OpRow {
        domains: Domains::Qonnx,
        names: &["BipolarQuant", "Quant"],
        handler: qonnx_quant,
        note: Some("QONNX, on weights"),
    },
];

/// The registry: the function evaluating `op` of `domain`.
pub(super) fn lookup(domain: &str, op: &str) -> Option<OpFn> {
    let d = if domain.is_empty() || domain == "ai.onnx" {
        Domains::Default
    } else if QONNX_DOMAINS.contains(&domain) {
        Domains::Qonnx
    } else {
        return None;
    };
    OPS.iter().find(|r| r.domains == d && r.names.contains(&op)).map(|r| r.handler)
}

/// Op names the registry knows, with their notes, for error messages and the README.
pub fn supported() -> String {
    OPS.iter()
        .map(|r| {
            let names = r.names.join(", ");
            match r.note {
                Some(n) => format!("{names} ({n})"),
                None => names,
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl Importer<'_> {
    pub fn node(&self, k: usize) -> &NodeDef {
        &self.nodes[k]
    }

    pub fn err(&self, k: usize, field: Option<&str>, msg: impl Into<String>) -> FrontError {
        FrontError::at(self.path, self.nodes[k].name.clone(), field, msg)
    }

    fn in_field(&self, k: usize, i: usize) -> String {
        match self.nodes[k].inputs.get(i) {
            Some(n) if !n.is_empty() => format!("input {i} ('{n}')"),
            _ => format!("input {i}"),
        }
    }

    /// Input `i`, `None` when absent or left empty (optional inputs).
    fn opt(&self, k: usize, i: usize) -> Option<&Value> {
        let name = self.nodes[k].inputs.get(i)?;
        if name.is_empty() { None } else { self.values.get(name) }
    }

    fn req(&self, k: usize, i: usize) -> Result<Value, FrontError> {
        self.opt(k, i).cloned().ok_or_else(|| {
            self.err(k, Some(&self.in_field(k, i)), format!("missing (required by {})", self.nodes[k].op_type))
        })
    }

    fn konst(&self, k: usize, i: usize) -> Result<Arr, FrontError> {
        match self.req(k, i)? {
            Value::Const(a) => Ok(a),
            Value::Dyn(_) => Err(self.err(
                k,
                Some(&self.in_field(k, i)),
                "must be a constant (an initializer or computed from initializers), found a runtime tensor",
            )),
        }
    }

    fn opt_konst(&self, k: usize, i: usize) -> Result<Option<Arr>, FrontError> {
        match self.opt(k, i) {
            None => Ok(None),
            Some(_) => self.konst(k, i).map(Some),
        }
    }

    fn dynamic(&self, k: usize, i: usize) -> Result<Lin, FrontError> {
        match self.req(k, i)? {
            Value::Dyn(l) => Ok(l),
            Value::Const(_) => Err(self.err(
                k,
                Some(&self.in_field(k, i)),
                format!("{} of a constant is not supported: expected a runtime tensor", self.nodes[k].op_type),
            )),
        }
    }

    fn attr_int(&self, k: usize, name: &str, default: i64) -> Result<i64, FrontError> {
        match self.nodes[k].attr(name) {
            None => Ok(default),
            Some(Attr::Int(v)) => Ok(*v),
            Some(other) => Err(self.err(
                k,
                Some(&format!("attribute '{name}'")),
                format!("expected an int, found {}", other.describe()),
            )),
        }
    }

    fn attr_float(&self, k: usize, name: &str, default: f32) -> Result<f32, FrontError> {
        match self.nodes[k].attr(name) {
            None => Ok(default),
            Some(Attr::Float(v)) => Ok(*v),
            Some(other) => Err(self.err(
                k,
                Some(&format!("attribute '{name}'")),
                format!("expected a float, found {}", other.describe()),
            )),
        }
    }

    fn attr_str(&self, k: usize, name: &str, default: &str) -> Result<String, FrontError> {
        match self.nodes[k].attr(name) {
            None => Ok(default.to_string()),
            Some(Attr::Str(v)) => Ok(v.clone()),
            Some(other) => Err(self.err(
                k,
                Some(&format!("attribute '{name}'")),
                format!("expected a string, found {}", other.describe()),
            )),
        }
    }

    fn attr_ints(&self, k: usize, name: &str) -> Result<Option<Vec<i64>>, FrontError> {
        match self.nodes[k].attr(name) {
            None => Ok(None),
            Some(Attr::Ints(v)) => Ok(Some(v.clone())),
            Some(Attr::Int(v)) => Ok(Some(vec![*v])),
            Some(other) => Err(self.err(
                k,
                Some(&format!("attribute '{name}'")),
                format!("expected ints, found {}", other.describe()),
            )),
        }
    }

    /// Non-negative ints of length `n` (default `fill`).
    fn attr_dims(&self, k: usize, name: &str, n: usize, fill: usize) -> Result<Vec<usize>, FrontError> {
        let field = format!("attribute '{name}'");
        match self.attr_ints(k, name)? {
            None => Ok(vec![fill; n]),
            Some(v) if v.len() == n => v
                .iter()
                .map(|&x| {
                    usize::try_from(x)
                        .ok()
                        .filter(|&x| x <= 1 << 24)
                        .ok_or_else(|| self.err(k, Some(&field), format!("{x} is negative or too large")))
                })
                .collect(),
            Some(v) => Err(self.err(k, Some(&field), format!("expected {n} values, found {}", v.len()))),
        }
    }

    /// A layer over the runtime tensor `input`; returns its output as a form.
    fn layer(&mut self, k: usize, kind: LayerKind, input: Lin, shape: Vec<usize>) -> Value {
        self.layers.push(LayerDef { kind, input, node: k, shape: shape.clone() });
        let mut l = Lin::atom(Atom::Layer(self.layers.len() - 1), shape);
        l.nodes.insert(k);
        Value::Dyn(l)
    }

    /// Both operands of a binary op; a constant is expanded to the runtime operand's shape.
    fn pair(&self, k: usize) -> Result<(Value, Value), FrontError> {
        Ok((self.req(k, 0)?, self.req(k, 1)?))
    }

    fn as_lin(&self, k: usize, i: usize, v: &Value, shape: &[usize]) -> Result<Lin, FrontError> {
        match v {
            Value::Dyn(l) => Ok(l.clone()),
            Value::Const(a) => {
                let data = a.expand_to(shape).map_err(|m| self.err(k, Some(&self.in_field(k, i)), m))?;
                Ok(Lin::konst(shape.to_vec(), data))
            }
        }
    }

    fn lin_err(&self, k: usize, m: String) -> FrontError {
        self.err(k, None, m)
    }
}

fn dyn_shape(vs: &[&Value]) -> Option<Vec<usize>> {
    vs.iter().find_map(|v| match v {
        Value::Dyn(l) => Some(l.shape.clone()),
        Value::Const(_) => None,
    })
}

fn tag(mut l: Lin, k: usize) -> Value {
    l.nodes.insert(k);
    Value::Dyn(l)
}

fn arith(im: &mut Importer, k: usize) -> Result<Vec<Value>, FrontError> {
    let op = im.node(k).op_type.clone();
    if op == "Neg" {
        return Ok(vec![match im.req(k, 0)? {
            Value::Const(a) => Value::Const(a.map(|x| -x)),
            Value::Dyn(l) => tag(l.neg(), k),
        }]);
    }
    let (a, b) = im.pair(k)?;
    if let (Value::Const(x), Value::Const(y)) = (&a, &b) {
        let int = x.elem.join(y.elem) == Elem::Int;
        let r = match op.as_str() {
            "Add" => x.zip(y, |p, q| p + q),
            "Sub" => x.zip(y, |p, q| p - q),
            "Mul" => x.zip(y, |p, q| p * q),
            _ => {
                if int && y.data.contains(&0.0) {
                    return Err(im.err(k, Some(&im.in_field(k, 1)), "integer division by zero"));
                }
                x.zip(y, |p, q| p / q)
            }
        };
        return r.map(|r| vec![Value::Const(r)]).map_err(|m| im.lin_err(k, m));
    }
    let shape = dyn_shape(&[&a, &b]).expect("one operand is a runtime tensor");
    if op == "Div" {
        let Value::Const(d) = &b else {
            return Err(im.err(k, Some(&im.in_field(k, 1)), "division by a runtime tensor is not supported"));
        };
        let d = d.expand_to(&shape).map_err(|m| im.err(k, Some(&im.in_field(k, 1)), m))?;
        if d.contains(&0.0) {
            return Err(im.err(k, Some(&im.in_field(k, 1)), "division by zero"));
        }
        let la = im.as_lin(k, 0, &a, &shape)?;
        let inv: Vec<f64> = d.iter().map(|v| 1.0 / v).collect();
        return Ok(vec![tag(la.scale(&inv), k)]);
    }
    let la = im.as_lin(k, 0, &a, &shape)?;
    let lb = im.as_lin(k, 1, &b, &shape)?;
    let r = match op.as_str() {
        "Add" => la.add(&lb),
        "Sub" => la.sub(&lb),
        _ => la.mul(&lb),
    }
    .map_err(|m| im.lin_err(k, m))?;
    Ok(vec![tag(r, k)])
}

fn compare(im: &mut Importer, k: usize) -> Result<Vec<Value>, FrontError> {
    let op = im.node(k).op_type.clone();
    let (a, b) = im.pair(k)?;
    let (a, b) = if op.starts_with("Less") { (b, a) } else { (a, b) };
    let or_equal = op.ends_with("OrEqual");
    if let (Value::Const(x), Value::Const(y)) = (&a, &b) {
        let mut r =
            x.zip(y, |p, q| if p > q || (or_equal && p == q) { 1.0 } else { 0.0 }).map_err(|m| im.lin_err(k, m))?;
        r.elem = Elem::Bool;
        return Ok(vec![Value::Const(r)]);
    }
    let shape = dyn_shape(&[&a, &b]).expect("one operand is a runtime tensor");
    let (ia, ib) = if op.starts_with("Less") { (1, 0) } else { (0, 1) };
    let inner = im.as_lin(k, ia, &a, &shape)?.sub(&im.as_lin(k, ib, &b, &shape)?).map_err(|m| im.lin_err(k, m))?;
    let mut nodes = inner.nodes.clone();
    im.heavs.push(HeavDef { inner, or_equal, node: k });
    let mut l = Lin::atom(Atom::Heav(im.heavs.len() - 1), shape);
    l.boolean = true;
    nodes.insert(k);
    l.nodes = nodes;
    Ok(vec![Value::Dyn(l)])
}

fn logic(im: &mut Importer, k: usize) -> Result<Vec<Value>, FrontError> {
    let op = im.node(k).op_type.clone();
    let n_in = if op == "Not" {
        1
    } else if op == "Where" {
        3
    } else {
        2
    };
    let vals: Vec<Value> = (0..n_in).map(|i| im.req(k, i)).collect::<Result<_, _>>()?;
    let refs: Vec<&Value> = vals.iter().collect();
    let Some(shape) = dyn_shape(&refs) else {
        let c: Vec<&Arr> = vals
            .iter()
            .map(|v| match v {
                Value::Const(a) => a,
                Value::Dyn(_) => unreachable!("no runtime operand"),
            })
            .collect();
        let r = match op.as_str() {
            "Not" => Ok(c[0].map(|x| (x == 0.0) as u8 as f64)),
            "And" => c[0].zip(c[1], |p, q| (p != 0.0 && q != 0.0) as u8 as f64),
            "Or" => c[0].zip(c[1], |p, q| (p != 0.0 || q != 0.0) as u8 as f64),
            _ => c[0].zip(c[1], |p, q| if p != 0.0 { q } else { f64::NAN }).and_then(|sel| {
                let keep = c[0].zip(c[2], |p, _| p)?;
                let mut r = sel.zip(&keep, |s, _| s)?.zip(c[2], |s, q| if s.is_nan() { q } else { s })?;
                r.elem = c[1].elem.join(c[2].elem);
                Ok(r)
            }),
        }
        .map_err(|m| im.lin_err(k, m))?;
        return Ok(vec![Value::Const(r)]);
    };
    let lins: Vec<Lin> = vals.iter().enumerate().map(|(i, v)| im.as_lin(k, i, v, &shape)).collect::<Result<_, _>>()?;
    for (i, l) in lins.iter().enumerate() {
        let is_cond = op != "Where" || i == 0;
        if is_cond && !l.boolean && !l.terms.is_empty() {
            return Err(im.err(k, Some(&im.in_field(k, i)), "expected a comparison result (a boolean runtime tensor)"));
        }
    }
    let one = Lin::konst(shape.clone(), vec![1.0; lins[0].numel()]);
    let e = |m: String| im.lin_err(k, m);
    let mut r = match op.as_str() {
        "Not" => one.sub(&lins[0]).map_err(e)?,
        "And" => lins[0].mul(&lins[1]).map_err(e)?,
        "Or" => {
            let both = lins[0].mul(&lins[1]).map_err(e)?;
            lins[0].add(&lins[1]).and_then(|s| s.sub(&both)).map_err(e)?
        }
        _ => {
            let yes = lins[0].mul(&lins[1]).map_err(e)?;
            let no = one.sub(&lins[0]).and_then(|c| c.mul(&lins[2])).map_err(e)?;
            yes.add(&no).map_err(e)?
        }
    };
    r.boolean = op != "Where" || (lins[1].boolean && lins[2].boolean);
    Ok(vec![tag(r, k)])
}

fn passthrough(im: &mut Importer, k: usize) -> Result<Vec<Value>, FrontError> {
    let op = im.node(k).op_type.clone();
    let v = im.req(k, 0)?;
    match op.as_str() {
        "Identity" => Ok(vec![v]),
        "Dropout" => {
            if let Some(t) = im.opt_konst(k, 2)?
                && t.data.iter().any(|&x| x != 0.0)
            {
                return Err(im.err(
                    k,
                    Some(&im.in_field(k, 2)),
                    "training_mode is true; export the model in eval mode",
                ));
            }
            Ok(vec![v])
        }
        _ => {
            let to = im.attr_int(k, "to", 0)?;
            let elem = match to {
                1 | 16 => Elem::F32,
                10 => Elem::F16,
                11 => Elem::F64,
                9 => Elem::Bool,
                2..=7 | 12 | 13 => Elem::Int,
                t => return Err(im.err(k, Some("attribute 'to'"), format!("cast to data type {t} is not supported"))),
            };
            match v {
                Value::Const(a) => Ok(vec![Value::Const(Arr {
                    elem,
                    shape: a.shape.clone(),
                    data: a.data.iter().map(|&x| elem.round(x)).collect(),
                })]),
                Value::Dyn(l) if elem.is_float() || l.boolean => Ok(vec![tag(l, k)]),
                Value::Dyn(_) => Err(im.err(
                    k,
                    Some("attribute 'to'"),
                    "casts a runtime tensor to an integer or boolean type, which the IR cannot express",
                )),
            }
        }
    }
}

fn constant(im: &mut Importer, k: usize) -> Result<Vec<Value>, FrontError> {
    let n = im.node(k);
    let a = match n.attrs.first() {
        Some((_, Attr::Tensor(t))) => t.clone(),
        Some((name, Attr::Float(f))) if name == "value_float" => Arr::scalar(Elem::F32, *f as f64),
        Some((name, Attr::Floats(f))) if name == "value_floats" => {
            Arr { elem: Elem::F32, shape: vec![f.len()], data: f.iter().map(|&v| v as f64).collect() }
        }
        Some((name, Attr::Int(i))) if name == "value_int" => Arr::scalar(Elem::Int, *i as f64),
        Some((name, Attr::Ints(i))) if name == "value_ints" => {
            Arr { elem: Elem::Int, shape: vec![i.len()], data: i.iter().map(|&v| v as f64).collect() }
        }
        Some((name, _)) => {
            return Err(im.err(
                k,
                Some(&format!("attribute '{name}'")),
                "unsupported Constant value (sparse or string)",
            ));
        }
        None => return Err(im.err(k, Some("attribute 'value'"), "missing (a Constant needs a value)")),
    };
    Ok(vec![Value::Const(a)])
}

fn unary(im: &mut Importer, k: usize) -> Result<Vec<Value>, FrontError> {
    let op = im.node(k).op_type.clone();
    let a = match im.req(k, 0)? {
        Value::Const(a) => a,
        Value::Dyn(_) => {
            let why = match op.as_str() {
                "Relu" => "ReLU is an ANN activation; a spiking model has none between its layers",
                "Clip" => "clipping a runtime tensor (e.g. a membrane) is not part of any supported neuron model",
                _ => "the IR has no elementwise nonlinearity",
            };
            return Err(im.err(
                k,
                Some(&im.in_field(k, 0)),
                format!("{op} of a runtime tensor is not supported: {why}"),
            ));
        }
    };
    let r = match op.as_str() {
        "Clip" => {
            let lo = im.opt_konst(k, 1)?;
            let hi = im.opt_konst(k, 2)?;
            let mut r = a;
            if let Some(lo) = lo {
                r = r.zip(&lo, f64::max).map_err(|m| im.lin_err(k, m))?;
            }
            if let Some(hi) = hi {
                r = r.zip(&hi, f64::min).map_err(|m| im.lin_err(k, m))?;
            }
            r
        }
        "Sqrt" => a.map(f64::sqrt),
        "Reciprocal" => a.map(|x| 1.0 / x),
        "Abs" => a.map(f64::abs),
        "Sign" => a.map(|x| {
            if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else {
                0.0
            }
        }),
        "Floor" => a.map(f64::floor),
        "Ceil" => a.map(f64::ceil),
        "Relu" => a.map(|x| x.max(0.0)),
        _ => a.map(f64::exp),
    };
    Ok(vec![Value::Const(r)])
}

/// Resolves ONNX axes (which count the batch dimension) against rank `r`.
fn axis(im: &Importer, k: usize, field: &str, a: i64, r: usize) -> Result<usize, FrontError> {
    let n = if a < 0 { a + r as i64 } else { a };
    if n < 0 || n >= r as i64 {
        return Err(im.err(k, Some(field), format!("axis {a} is out of range for rank {r}")));
    }
    Ok(n as usize)
}

fn reshape(im: &mut Importer, k: usize) -> Result<Vec<Value>, FrontError> {
    let op = im.node(k).op_type.clone();
    let v = im.req(k, 0)?;
    // The full shape (batch first for runtime tensors).
    let batch = im.batch.unwrap_or(1);
    let full: Vec<usize> = match &v {
        Value::Const(a) => a.shape.clone(),
        Value::Dyn(l) => [&[batch][..], &l.shape].concat(),
    };
    let r = full.len();
    let new_full: Vec<usize> = match op.as_str() {
        "Flatten" => {
            let ax = im.attr_int(k, "axis", 1)?;
            let ax = if ax < 0 { ax + r as i64 } else { ax };
            if ax < 0 || ax > r as i64 {
                return Err(im.err(k, Some("attribute 'axis'"), format!("axis {ax} is out of range for rank {r}")));
            }
            let ax = ax as usize;
            vec![full[..ax].iter().product(), full[ax..].iter().product()]
        }
        "Reshape" => {
            let target = im.konst(k, 1)?.ints().map_err(|m| im.err(k, Some(&im.in_field(k, 1)), m))?;
            let allowzero = im.attr_int(k, "allowzero", 0)? != 0;
            let mut out = Vec::with_capacity(target.len());
            let mut infer = None;
            for (i, &t) in target.iter().enumerate() {
                match t {
                    -1 if infer.is_none() => {
                        infer = Some(i);
                        out.push(1);
                    }
                    0 if !allowzero => match full.get(i) {
                        Some(&d) => out.push(d),
                        None => {
                            return Err(im.err(k, Some(&im.in_field(k, 1)), "0 copies a dimension the input lacks"));
                        }
                    },
                    t if t >= 0 => out.push(t as usize),
                    t => return Err(im.err(k, Some(&im.in_field(k, 1)), format!("invalid target dimension {t}"))),
                }
            }
            let too_big = || im.err(k, Some(&im.in_field(k, 1)), format!("target {target:?} is too large"));
            let total = checked_numel(&full).ok_or_else(too_big)?;
            if let Some(i) = infer {
                let rest = checked_numel(&out).ok_or_else(too_big)?;
                if rest == 0 || !total.is_multiple_of(rest) {
                    return Err(im.err(
                        k,
                        Some(&im.in_field(k, 1)),
                        format!("cannot reshape {full:?} to {target:?}: the sizes do not divide"),
                    ));
                }
                out[i] = total / rest;
            }
            if checked_numel(&out) != Some(total) {
                return Err(im.err(
                    k,
                    Some(&im.in_field(k, 1)),
                    format!("cannot reshape {full:?} ({total} elements) to {target:?}"),
                ));
            }
            if matches!(v, Value::Dyn(_)) && im.batch.is_none() && !matches!(target.first(), Some(-1) | Some(0)) {
                return Err(im.err(
                    k,
                    Some(&im.in_field(k, 1)),
                    format!("target {target:?} fixes the symbolic batch dimension; it must start with -1 or 0"),
                ));
            }
            out
        }
        _ => {
            let axes: Option<Vec<i64>> = match im.opt_konst(k, 1)? {
                Some(a) => Some(a.ints().map_err(|m| im.err(k, Some(&im.in_field(k, 1)), m))?),
                None => im.attr_ints(k, "axes")?,
            };
            if op == "Squeeze" {
                let drop: Vec<usize> = match axes {
                    Some(ax) => ax.iter().map(|&a| axis(im, k, "axes", a, r)).collect::<Result<_, _>>()?,
                    None => (0..r).filter(|&i| full[i] == 1 && !(matches!(v, Value::Dyn(_)) && i == 0)).collect(),
                };
                if matches!(v, Value::Dyn(_)) && drop.contains(&0) {
                    return Err(im.err(k, Some("axes"), "squeezes the batch dimension"));
                }
                if drop.iter().any(|&i| full[i] != 1) {
                    return Err(im.err(k, Some("axes"), format!("squeezes a dimension of {full:?} that is not 1")));
                }
                full.iter().enumerate().filter(|(i, _)| !drop.contains(i)).map(|(_, &d)| d).collect()
            } else {
                let ax = axes.ok_or_else(|| im.err(k, Some("axes"), "missing"))?;
                let nr = r + ax.len();
                let mut ins: Vec<usize> = ax.iter().map(|&a| axis(im, k, "axes", a, nr)).collect::<Result<_, _>>()?;
                ins.sort_unstable();
                if matches!(v, Value::Dyn(_)) && ins.first() == Some(&0) {
                    return Err(im.err(k, Some("axes"), "inserts a dimension before the batch dimension"));
                }
                let mut out = full.clone();
                for i in ins {
                    out.insert(i, 1);
                }
                out
            }
        }
    };
    match v {
        Value::Const(mut a) => {
            a.shape = new_full;
            Ok(vec![Value::Const(a)])
        }
        Value::Dyn(mut l) => {
            if new_full.first() != Some(&batch) {
                return Err(im.err(k, None, format!("changes the batch dimension ({full:?} -> {new_full:?})")));
            }
            let per = new_full[1..].to_vec();
            if op == "Flatten" && l.shape.len() > 1 {
                return Ok(vec![im.layer(k, LayerKind::Flatten, l, per)]);
            }
            l.shape = per;
            Ok(vec![tag(l, k)])
        }
    }
}

fn shape_ops(im: &mut Importer, k: usize) -> Result<Vec<Value>, FrontError> {
    let op = im.node(k).op_type.clone();
    if op == "Shape" {
        let full: Vec<usize> = match im.req(k, 0)? {
            Value::Const(a) => a.shape,
            Value::Dyn(l) => [&[im.batch.unwrap_or(1)][..], &l.shape].concat(),
        };
        let r = full.len() as i64;
        let norm = |x: i64| (if x < 0 { x + r } else { x }).clamp(0, r) as usize;
        let s = norm(im.attr_int(k, "start", 0)?);
        let e = norm(im.attr_int(k, "end", r)?);
        let dims: Vec<f64> = full[s..e.max(s)].iter().map(|&d| d as f64).collect();
        return Ok(vec![Value::Const(Arr { elem: Elem::Int, shape: vec![dims.len()], data: dims })]);
    }
    let n_in = im.node(k).inputs.len();
    if n_in == 0 {
        return Err(im.err(k, Some("inputs"), format!("{op} needs at least one input")));
    }
    let mut cs = Vec::with_capacity(n_in);
    for i in 0..n_in {
        if im.opt(k, i).is_some() || i == 0 {
            cs.push(Some(im.konst(k, i).map_err(|_| {
                im.err(
                    k,
                    Some(&im.in_field(k, i)),
                    format!("{op} of a runtime tensor is not supported (the IR has no {op} layer)"),
                )
            })?));
        } else {
            cs.push(None);
        }
    }
    let e = |m: String| im.lin_err(k, m);
    let a = cs[0].clone().expect("input 0 is required");
    let r = a.shape.len();
    let strides = |s: &[usize]| -> Vec<usize> {
        let mut st = vec![1; s.len()];
        for i in (0..s.len().saturating_sub(1)).rev() {
            st[i] = st[i + 1] * s[i + 1];
        }
        st
    };
    let out = match op.as_str() {
        "Gather" => {
            let idx = cs.get(1).cloned().flatten().ok_or_else(|| im.err(k, Some("input 1"), "missing"))?;
            let ax = axis(im, k, "attribute 'axis'", im.attr_int(k, "axis", 0)?, r.max(1))?;
            if r == 0 {
                return Err(im.err(k, Some("input 0"), "cannot gather from a scalar"));
            }
            let dim = a.shape[ax] as i64;
            let ids: Vec<usize> = idx
                .ints()
                .map_err(e)?
                .iter()
                .map(|&i| {
                    let j = if i < 0 { i + dim } else { i };
                    if (0..dim).contains(&j) {
                        Ok(j as usize)
                    } else {
                        Err(im.err(k, Some("input 1"), format!("index {i} is out of range for size {dim}")))
                    }
                })
                .collect::<Result<_, _>>()?;
            let shape = [&a.shape[..ax], &idx.shape[..], &a.shape[ax + 1..]].concat();
            if checked_numel(&shape).is_none() {
                return Err(im.err(k, Some("input 1"), format!("gathering gives shape {shape:?}, which is too large")));
            }
            let outer: usize = a.shape[..ax].iter().product();
            let inner: usize = a.shape[ax + 1..].iter().product();
            let mut data = Vec::with_capacity(outer * ids.len() * inner);
            for o in 0..outer {
                for &j in &ids {
                    let base = (o * a.shape[ax] + j) * inner;
                    data.extend_from_slice(&a.data[base..base + inner]);
                }
            }
            Arr { elem: a.elem, shape, data }
        }
        "Concat" => {
            if r == 0 {
                return Err(im.err(k, Some("input 0"), "cannot concatenate scalars"));
            }
            let parts: Vec<Arr> = cs.into_iter().flatten().collect();
            let ax = axis(im, k, "attribute 'axis'", im.attr_int(k, "axis", 0)?, r.max(1))?;
            let mut shape = a.shape.clone();
            for p in &parts[1..] {
                if p.shape.len() != r || (0..r).any(|d| d != ax && p.shape[d] != a.shape[d]) {
                    return Err(im.err(k, None, format!("cannot concatenate {:?} and {:?}", a.shape, p.shape)));
                }
                shape[ax] += p.shape[ax];
            }
            let outer: usize = a.shape[..ax].iter().product();
            let mut data = vec![];
            for o in 0..outer {
                for p in &parts {
                    let chunk: usize = p.shape[ax..].iter().product();
                    data.extend_from_slice(&p.data[o * chunk..(o + 1) * chunk]);
                }
            }
            Arr { elem: parts.iter().fold(a.elem, |e, p| e.join(p.elem)), shape, data }
        }
        "Transpose" => {
            let perm: Vec<usize> = match im.attr_ints(k, "perm")? {
                Some(p) => p.iter().map(|&x| axis(im, k, "attribute 'perm'", x, r)).collect::<Result<_, _>>()?,
                None => (0..r).rev().collect(),
            };
            if perm.len() != r {
                return Err(im.err(k, Some("attribute 'perm'"), format!("has {} entries for rank {r}", perm.len())));
            }
            let shape: Vec<usize> = perm.iter().map(|&p| a.shape[p]).collect();
            let (ss, ds) = (strides(&a.shape), strides(&shape));
            let n = a.numel();
            let mut data = vec![0.0; n];
            for (flat, d) in data.iter_mut().enumerate() {
                let mut src = 0;
                for (i, &p) in perm.iter().enumerate() {
                    src += (flat / ds[i]) % shape[i] * ss[p];
                }
                *d = a.data[src];
            }
            Arr { elem: a.elem, shape, data }
        }
        _ => {
            // Slice(data, starts, ends, axes?, steps?)
            let get = |i: usize| -> Result<Option<Vec<i64>>, FrontError> {
                cs.get(i)
                    .cloned()
                    .flatten()
                    .map(|x| x.ints().map_err(|m| im.err(k, Some(&im.in_field(k, i)), m)))
                    .transpose()
            };
            let starts = get(1)?.ok_or_else(|| im.err(k, Some("input 1"), "missing"))?;
            let ends = get(2)?.ok_or_else(|| im.err(k, Some("input 2"), "missing"))?;
            let axes = get(3)?.unwrap_or_else(|| (0..starts.len() as i64).collect());
            let steps = get(4)?.unwrap_or_else(|| vec![1; starts.len()]);
            if ends.len() != starts.len() || axes.len() != starts.len() || steps.len() != starts.len() {
                return Err(im.err(k, None, "starts, ends, axes and steps differ in length"));
            }
            let mut sel: Vec<Vec<usize>> = a.shape.iter().map(|&d| (0..d).collect()).collect();
            for i in 0..starts.len() {
                let ax = axis(im, k, "input 3", axes[i], r)?;
                let d = a.shape[ax] as i64;
                if steps[i] <= 0 {
                    return Err(im.err(k, Some("input 4"), "only positive slice steps are supported"));
                }
                let cl = |x: i64| (if x < 0 { x + d } else { x }).clamp(0, d);
                let (s, e2) = (cl(starts[i]), cl(ends[i]));
                sel[ax] = (s..e2).step_by(steps[i] as usize).map(|x| x as usize).collect();
            }
            let shape: Vec<usize> = sel.iter().map(Vec::len).collect();
            let ss = strides(&a.shape);
            let ds = strides(&shape);
            let n: usize = shape.iter().product();
            let data = (0..n)
                .map(|flat| {
                    let src: usize = (0..r).map(|i| sel[i][(flat / ds[i]) % shape[i]] * ss[i]).sum();
                    a.data[src]
                })
                .collect();
            Arr { elem: a.elem, shape, data }
        }
    };
    Ok(vec![Value::Const(out)])
}

/// A constant weight matrix as an Arr of shape (out, in).
fn matrix(im: &Importer, k: usize, i: usize, w: &Arr, transpose: bool) -> Result<Arr, FrontError> {
    if w.shape.len() != 2 {
        return Err(im.err(k, Some(&im.in_field(k, i)), format!("expected a 2-d weight, found shape {:?}", w.shape)));
    }
    if !transpose {
        return Ok(w.clone());
    }
    let (r, c) = (w.shape[0], w.shape[1]);
    let mut data = vec![0.0; r * c];
    for y in 0..r {
        for x in 0..c {
            data[x * r + y] = w.data[y * c + x];
        }
    }
    Ok(Arr { elem: w.elem, shape: vec![c, r], data })
}

fn vector_input(im: &Importer, k: usize, x: &Lin) -> Result<usize, FrontError> {
    if x.shape.len() != 1 {
        return Err(im.err(
            k,
            Some(&im.in_field(k, 0)),
            format!("expects a (batch, features) input, found per-sample shape {:?}; add a Flatten", x.shape),
        ));
    }
    Ok(x.shape[0])
}

fn gemm(im: &mut Importer, k: usize) -> Result<Vec<Value>, FrontError> {
    let x = im.dynamic(k, 0)?;
    if im.attr_int(k, "transA", 0)? != 0 {
        return Err(im.err(
            k,
            Some("attribute 'transA'"),
            "transA = 1 is not supported (the input must be (batch, features))",
        ));
    }
    let n_in = vector_input(im, k, &x)?;
    let b = im.konst(k, 1)?;
    let mut w = matrix(im, k, 1, &b, im.attr_int(k, "transB", 0)? == 0)?;
    let alpha = im.attr_float(k, "alpha", 1.0)? as f64;
    if alpha != 1.0 {
        w = w.map(|v| v * alpha);
    }
    if w.shape[1] != n_in {
        return Err(im.err(
            k,
            Some(&im.in_field(k, 1)),
            format!("weight takes {} inputs but the input has {n_in} features", w.shape[1]),
        ));
    }
    let out = w.shape[0];
    let bias = match im.opt_konst(k, 2)? {
        None => None,
        Some(c) => {
            let beta = im.attr_float(k, "beta", 1.0)? as f64;
            let v = c.expand_to(&[out]).map_err(|m| im.err(k, Some(&im.in_field(k, 2)), m))?;
            Some(v.iter().map(|&b| c.elem.round(b * beta)).collect())
        }
    };
    Ok(vec![im.layer(k, LayerKind::Dense { weight: w, bias }, x, vec![out])])
}

fn matmul(im: &mut Importer, k: usize) -> Result<Vec<Value>, FrontError> {
    let x = im.dynamic(k, 0)?;
    let n_in = vector_input(im, k, &x)?;
    let b = im.konst(k, 1)?;
    let w = matrix(im, k, 1, &b, true)?;
    if w.shape[1] != n_in {
        return Err(im.err(
            k,
            Some(&im.in_field(k, 1)),
            format!("weight takes {} inputs but the input has {n_in} features", w.shape[1]),
        ));
    }
    let out = w.shape[0];
    Ok(vec![im.layer(k, LayerKind::Dense { weight: w, bias: None }, x, vec![out])])
}

/// Symmetric padding per spatial dim from `pads` / `auto_pad`.
fn padding(
    im: &Importer,
    k: usize,
    nd: usize,
    kernel: &[usize],
    stride: &[usize],
    dil: &[usize],
) -> Result<Padding, FrontError> {
    let auto = im.attr_str(k, "auto_pad", "NOTSET")?;
    match auto.as_str() {
        "NOTSET" => {
            let p = im.attr_dims(k, "pads", 2 * nd, 0)?;
            if p[..nd] != p[nd..] {
                return Err(im.err(
                    k,
                    Some("attribute 'pads'"),
                    format!("asymmetric padding {p:?} is not supported (begin and end must be equal)"),
                ));
            }
            Ok(Padding::Explicit(p[..nd].to_vec()))
        }
        "VALID" => Ok(Padding::Valid),
        "SAME_UPPER" | "SAME_LOWER" => {
            if stride.iter().any(|&s| s != 1) {
                return Err(im.err(k, Some("attribute 'auto_pad'"), format!("{auto} is supported with stride 1 only")));
            }
            let odd = (0..nd).any(|d| dil[d] * (kernel[d] - 1) % 2 == 1);
            if auto == "SAME_LOWER" && odd {
                return Err(im.err(
                    k,
                    Some("attribute 'auto_pad'"),
                    "SAME_LOWER with an even kernel pads at the start, which the IR cannot express",
                ));
            }
            Ok(Padding::Same)
        }
        other => Err(im.err(k, Some("attribute 'auto_pad'"), format!("unknown value '{other}'"))),
    }
}

fn conv(im: &mut Importer, k: usize) -> Result<Vec<Value>, FrontError> {
    let x = im.dynamic(k, 0)?;
    let w = im.konst(k, 1)?;
    let nd = w.shape.len().saturating_sub(2);
    if !(1..=2).contains(&nd) {
        return Err(im.err(
            k,
            Some(&im.in_field(k, 1)),
            format!("expected a 1-d or 2-d kernel, found weight shape {:?}", w.shape),
        ));
    }
    if x.shape.len() != nd + 1 {
        return Err(im.err(
            k,
            Some(&im.in_field(k, 0)),
            format!(
                "a {nd}-d convolution expects a (batch, C, {}) input, found per-sample shape {:?}",
                if nd == 1 { "L" } else { "H, W" },
                x.shape
            ),
        ));
    }
    let kernel = w.shape[2..].to_vec();
    if let Some(ks) = im.attr_ints(k, "kernel_shape")?
        && ks.iter().map(|&v| v as usize).collect::<Vec<_>>() != kernel
    {
        return Err(im.err(
            k,
            Some("attribute 'kernel_shape'"),
            format!("{ks:?} does not match the weight's {kernel:?}"),
        ));
    }
    let stride = im.attr_dims(k, "strides", nd, 1)?;
    let dilation = im.attr_dims(k, "dilations", nd, 1)?;
    let groups = im.attr_int(k, "group", 1)?;
    let groups = usize::try_from(groups)
        .ok()
        .filter(|&g| g >= 1)
        .ok_or_else(|| im.err(k, Some("attribute 'group'"), format!("{groups} is not a positive group count")))?;
    if stride.contains(&0) || dilation.contains(&0) {
        return Err(im.err(k, Some("attribute 'strides'"), "strides and dilations must be positive"));
    }
    let co = w.shape[0];
    if w.shape[1].checked_mul(groups) != Some(x.shape[0]) || co % groups != 0 {
        return Err(im.err(
            k,
            Some(&im.in_field(k, 1)),
            format!("weight {:?} with {groups} group(s) does not fit the input's {} channels", w.shape, x.shape[0]),
        ));
    }
    let pad = padding(im, k, nd, &kernel, &stride, &dilation)?;
    let mut out = vec![co];
    for d in 0..nd {
        let l = match &pad {
            Padding::Same => Some(x.shape[1 + d]),
            Padding::Valid => conv_out_len(x.shape[1 + d], 0, dilation[d], kernel[d], stride[d]),
            Padding::Explicit(p) => conv_out_len(x.shape[1 + d], 2 * p[d], dilation[d], kernel[d], stride[d]),
        }
        .ok_or_else(|| {
            im.err(k, Some(&im.in_field(k, 1)), format!("kernel {kernel:?} does not fit input {:?}", x.shape))
        })?;
        out.push(l);
    }
    let bias = match im.opt_konst(k, 2)? {
        None => None,
        Some(b) => Some(b.expand_to(&[co]).map_err(|m| im.err(k, Some(&im.in_field(k, 2)), m))?),
    };
    Ok(vec![im.layer(k, LayerKind::Conv { weight: w, bias, stride, padding: pad, dilation, groups }, x, out)])
}

fn pool(im: &mut Importer, k: usize) -> Result<Vec<Value>, FrontError> {
    let op = im.node(k).op_type.clone();
    let x = im.dynamic(k, 0)?;
    if op.contains("Max") || op == "LpPool" {
        return Err(im.err(
            k,
            None,
            format!(
                "{op} is not supported: over spikes a max is a logical OR, which spikefab's IR (sum and average \
                 pooling, as in NIR) cannot express; use AveragePool (or a strided convolution) in the model"
            ),
        ));
    }
    if x.shape.len() != 3 {
        return Err(im.err(
            k,
            Some(&im.in_field(k, 0)),
            format!("pooling expects a (batch, C, H, W) input, found per-sample shape {:?}", x.shape),
        ));
    }
    let (kernel, stride, padv) = if op == "GlobalAveragePool" {
        (vec![x.shape[1], x.shape[2]], vec![x.shape[1], x.shape[2]], vec![0, 0])
    } else {
        let kernel = im.attr_dims(k, "kernel_shape", 2, 0)?;
        if kernel.contains(&0) {
            return Err(im.err(k, Some("attribute 'kernel_shape'"), "missing or zero"));
        }
        let stride = im.attr_dims(k, "strides", 2, 1)?;
        if stride.contains(&0) {
            return Err(im.err(k, Some("attribute 'strides'"), "strides must be positive"));
        }
        if im.attr_dims(k, "dilations", 2, 1)? != [1, 1] {
            return Err(im.err(k, Some("attribute 'dilations'"), "dilated pooling is not supported"));
        }
        let p = match padding(im, k, 2, &kernel, &stride, &[1, 1])? {
            Padding::Explicit(p) => p,
            Padding::Valid => vec![0, 0],
            Padding::Same => {
                return Err(im.err(k, Some("attribute 'auto_pad'"), "SAME padding of pooling is not supported"));
            }
        };
        if p.iter().any(|&v| v > 0) && im.attr_int(k, "count_include_pad", 0)? == 0 {
            return Err(im.err(
                k,
                Some("attribute 'count_include_pad'"),
                "padded average pooling that excludes the padding from the count is not supported (the IR divides by the kernel area)",
            ));
        }
        (kernel, stride, p)
    };
    let mut out = vec![x.shape[0]];
    for d in 0..2 {
        let floor = conv_out_len(x.shape[1 + d], 2 * padv[d], 1, kernel[d], stride[d]).ok_or_else(|| {
            im.err(k, Some("attribute 'kernel_shape'"), format!("kernel {kernel:?} does not fit input {:?}", x.shape))
        })?;
        if im.attr_int(k, "ceil_mode", 0)? != 0 && (x.shape[1 + d] + 2 * padv[d] - kernel[d]) % stride[d] != 0 {
            return Err(im.err(
                k,
                Some("attribute 'ceil_mode'"),
                "ceil_mode adds a partial window, which the IR does not have",
            ));
        }
        out.push(floor);
    }
    Ok(vec![im.layer(k, LayerKind::Pool { sum: false, kernel, stride, padding: padv }, x, out)])
}

fn batchnorm(im: &mut Importer, k: usize) -> Result<Vec<Value>, FrontError> {
    let x = im.dynamic(k, 0)?;
    if im.attr_int(k, "training_mode", 0)? != 0 {
        return Err(im.err(k, Some("attribute 'training_mode'"), "export the model in eval mode"));
    }
    let eps = im.attr_float(k, "epsilon", 1e-5)? as f64;
    let c = x.shape.first().copied().unwrap_or(1);
    let mut p = Vec::with_capacity(4);
    for i in 1..=4 {
        let a = im.konst(k, i)?;
        if a.numel() != c {
            return Err(im.err(k, Some(&im.in_field(k, i)), format!("has {} values for {c} channels", a.numel())));
        }
        p.push(a.data);
    }
    let per: usize = x.shape.iter().skip(1).product();
    let mut scale = Vec::with_capacity(x.numel());
    let mut shift = Vec::with_capacity(x.numel());
    for (ch, ((g, beta), (mean, var))) in p[0].iter().zip(&p[1]).zip(p[2].iter().zip(&p[3])).enumerate() {
        let kk = g / (var + eps).sqrt();
        if !kk.is_finite() {
            return Err(im.err(
                k,
                Some(&im.in_field(k, 4)),
                format!("channel {ch}: variance + epsilon is not positive"),
            ));
        }
        let b = beta - mean * kk;
        scale.extend(std::iter::repeat_n(kk, per));
        shift.extend(std::iter::repeat_n(b, per));
    }
    let r = x.scale(&scale).add(&Lin::konst(x.shape.clone(), shift)).map_err(|m| im.lin_err(k, m))?;
    Ok(vec![tag(r, k)])
}

/// Rounding of QONNX `Quant` (`rounding_mode`), as qonnx implements it.
fn qround(mode: &str, x: f64) -> Option<f64> {
    Some(match mode {
        "ROUND" | "HALF_EVEN" => {
            let r = x.round();
            if (x - x.trunc()).abs() == 0.5 { 2.0 * (x / 2.0).round() } else { r }
        }
        "CEIL" => x.ceil(),
        "FLOOR" => x.floor(),
        "UP" => x.signum() * x.abs().ceil(),
        "DOWN" => x.trunc(),
        "HALF_UP" => x.signum() * (x.abs() + 0.5).floor(),
        "HALF_DOWN" => x.signum() * (x.abs() - 0.5).ceil(),
        _ => return None,
    })
}

fn qonnx_quant(im: &mut Importer, k: usize) -> Result<Vec<Value>, FrontError> {
    let op = im.node(k).op_type.clone();
    if let Value::Dyn(_) = im.req(k, 0)? {
        return Err(im.err(
            k,
            Some(&im.in_field(k, 0)),
            format!(
                "{op} of a runtime tensor (activation quantisation) is not supported; only weights may be quantised"
            ),
        ));
    }
    let x = im.konst(k, 0)?;
    let scale = im.konst(k, 1)?;
    let e = |m: String| im.lin_err(k, m);
    if op == "BipolarQuant" {
        let r = x.zip(&scale, |v, s| if v >= 0.0 { s } else { -s }).map_err(e)?;
        return Ok(vec![Value::Const(r)]);
    }
    let zeropt = im.konst(k, 2)?;
    let bits = im.konst(k, 3)?;
    if bits.numel() != 1 || !(bits.data[0] >= 1.0 && bits.data[0] <= 32.0) {
        return Err(im.err(
            k,
            Some(&im.in_field(k, 3)),
            format!("bit width must be one value in 1..=32, found {:?}", bits.data),
        ));
    }
    let bw = bits.data[0].round() as i32;
    let signed = im.attr_int(k, "signed", 1)? != 0;
    let narrow = im.attr_int(k, "narrow", 0)? != 0;
    let mode = im.attr_str(k, "rounding_mode", "ROUND")?.to_ascii_uppercase();
    if qround(&mode, 0.0).is_none() {
        return Err(im.err(k, Some("attribute 'rounding_mode'"), format!("unknown rounding mode '{mode}'")));
    }
    let (lo, hi) = match (signed, narrow) {
        (true, true) => (-(2f64.powi(bw - 1)) + 1.0, 2f64.powi(bw - 1) - 1.0),
        (true, false) => (-(2f64.powi(bw - 1)), 2f64.powi(bw - 1) - 1.0),
        (false, false) => (0.0, 2f64.powi(bw) - 1.0),
        (false, true) => (0.0, 2f64.powi(bw) - 2.0),
    };
    let y = x.zip(&scale, |v, s| v / s).and_then(|y| y.zip(&zeropt, |v, z| v + z)).map_err(e)?;
    let y = if bw == 1 && signed {
        y.map(|v| if v >= 0.0 { 1.0 } else { -1.0 })
    } else {
        y.map(|v| qround(&mode, v.clamp(lo, hi)).expect("mode checked"))
    };
    let r = y.zip(&zeropt, |v, z| v - z).and_then(|y| y.zip(&scale, |v, s| v * s)).map_err(e)?;
    Ok(vec![Value::Const(r)])
}

#[cfg(test)]
mod table_tests {
    use super::*;

    /// Every op the table dispatches appears in the message, and every name in the message
    /// dispatches.
    #[test]
    fn dispatch_and_the_supported_message_agree() {
        let msg = supported();
        // The names, without the notes in parentheses.
        let mut bare = String::new();
        let mut depth = 0;
        for c in msg.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                c if depth == 0 => bare.push(c),
                _ => {}
            }
        }
        let words: Vec<&str> = bare.split([',', ';', ' ']).filter(|w| !w.is_empty()).collect();
        for r in OPS {
            for n in r.names {
                let dom = if r.domains == Domains::Qonnx { QONNX_DOMAINS[0] } else { "" };
                assert!(lookup(dom, n).is_some(), "{n} does not dispatch");
                assert!(words.contains(n), "{n} missing from: {msg}");
            }
        }
        for w in &words {
            assert!(
                lookup("", w).is_some() || lookup(QONNX_DOMAINS[0], w).is_some(),
                "'{w}' is listed but not dispatched"
            );
        }
        assert!(lookup("", "Softplus").is_none());
        assert!(lookup("com.example", "Gemm").is_none());
    }
}
