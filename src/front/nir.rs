//! NIR reader (`.nir` files are HDF5), through the pure-Rust `hdf5-pure` crate.
//!
//! Layout read (nir 0.1.x to 1.0.x): root dataset `version`, root group `node` holding the
//! top `NIRGraph`; every node group has a `type` string and one dataset per parameter; graph
//! nodes have `nodes/` and an (E,2) string dataset `edges`. Nested graphs are flattened with
//! dot-qualified names; their inner Input/Output nodes are pass-throughs and are removed by
//! connecting every predecessor to every successor, keeping file order. Parameters keep
//! their stored float dtype; integer datasets become f64. Files written before NIR had
//! `v_reset` get 0, and a missing CubaLI(F) `w_in` gets 1; both are reported as warnings. The
//! datasets of neuron models, their defaults and warnings come from `ir::neuron::DESCRIPTORS`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use hdf5_pure::{DType as H5Type, File, Group};
use petgraph::graph::NodeIndex;

use super::{FrontError, MAX_ELEMENTS};
use crate::ir::{Graph, Op, Padding, Provenance, Tensor, neuron};

/// A node as stored, before flattening.
enum Raw {
    Leaf(Box<Op>),
    Graph { nodes: Vec<(String, Raw)>, edges: Vec<(String, String)> },
}

struct Reader<'a> {
    path: &'a Path,
    warnings: Vec<String>,
}

/// Reads a `.nir` file.
pub fn load(path: &Path) -> Result<Graph, FrontError> {
    let bytes = std::fs::read(path).map_err(|e| FrontError::file(path, format!("cannot read: {e}")))?;
    from_bytes(path, bytes)
}

/// Parses the contents of a `.nir` file; `path` only names the file in errors.
pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Graph, FrontError> {
    if !hdf5_pure::is_hdf5_bytes(&bytes) {
        return Err(FrontError::file(path, "not an HDF5 file (a .nir file is HDF5; the signature is missing)"));
    }
    let file = File::from_bytes(bytes)
        .map_err(|e| FrontError::file(path, format!("cannot parse the HDF5 structure (truncated or corrupt?): {e}")))?;
    let mut r = Reader { path, warnings: vec![] };
    let root = file.root();
    let members = r.list(&root, "", Members::Datasets)?;
    if !members.iter().any(|m| m == "version") {
        return Err(FrontError::file(
            path,
            "not a NIR file: the root has no 'version' dataset (NIR files store e.g. \"1.0.8\")",
        ));
    }
    let version = r.string(&root, "(root)", "version")?;
    let groups = r.list(&root, "", Members::Groups)?;
    if !groups.iter().any(|m| m == "node") {
        return Err(FrontError::file(path, "not a NIR file: the root has no 'node' group"));
    }
    let top = root.group("node").map_err(|e| FrontError::file(path, format!("cannot open group 'node': {e}")))?;
    let raw = r.node(&top, "")?;
    let Raw::Graph { nodes, edges } = raw else {
        return Err(FrontError::file(path, "the root node is not a NIRGraph"));
    };
    let mut graph = flatten(path, nodes, edges)?;
    strip_leading_input_dims(&mut graph, &mut r.warnings);
    graph.provenance = Provenance { format: "nir".into(), version: Some(version), warnings: r.warnings };
    Ok(graph)
}

#[derive(Clone, Copy)]
enum Members {
    Datasets,
    Groups,
}

impl Reader<'_> {
    fn err(&self, node: &str, field: Option<&str>, msg: impl Into<String>) -> FrontError {
        FrontError::at(self.path, display_name(node), field, msg)
    }

    fn list(&self, g: &Group, node: &str, what: Members) -> Result<Vec<String>, FrontError> {
        let r = match what {
            Members::Datasets => g.datasets(),
            Members::Groups => g.groups(),
        };
        let mut v = r.map_err(|e| {
            if node.is_empty() {
                FrontError::file(self.path, format!("cannot read group members (truncated or corrupt file?): {e}"))
            } else {
                self.err(node, None, format!("cannot read group members (truncated or corrupt file?): {e}"))
            }
        })?;
        v.sort();
        Ok(v)
    }

    fn dataset(&self, g: &Group, node: &str, field: &str) -> Result<hdf5_pure::Dataset, FrontError> {
        g.dataset(field).map_err(|e| self.err(node, Some(field), format!("cannot open dataset: {e}")))
    }

    fn checked_len(&self, ds: &hdf5_pure::Dataset, node: &str, field: &str) -> Result<Vec<usize>, FrontError> {
        let shape = ds.shape().map_err(|e| self.err(node, Some(field), format!("unreadable shape: {e}")))?;
        let mut n: u64 = 1;
        for &d in &shape {
            n = n.checked_mul(d).filter(|&n| n <= MAX_ELEMENTS).ok_or_else(|| {
                self.err(
                    node,
                    Some(field),
                    format!("declared shape {shape:?} is too large (limit {MAX_ELEMENTS} elements)"),
                )
            })?;
        }
        Ok(shape.into_iter().map(|d| d as usize).collect())
    }

    fn string(&self, g: &Group, node: &str, field: &str) -> Result<String, FrontError> {
        let ds = self.dataset(g, node, field)?;
        self.checked_len(&ds, node, field)?;
        let ty = ds.dtype().map_err(|e| self.err(node, Some(field), format!("unreadable type: {e}")))?;
        if !matches!(ty, H5Type::String | H5Type::VariableLengthString) {
            return Err(self.err(node, Some(field), format!("expected a string, found {ty}")));
        }
        let v = ds.read_string().map_err(|e| self.err(node, Some(field), format!("cannot read string: {e}")))?;
        v.into_iter()
            .next()
            .map(|s| s.trim_end_matches('\0').to_string())
            .ok_or_else(|| self.err(node, Some(field), "empty string dataset"))
    }

    fn has(&self, members: &[String], field: &str) -> bool {
        members.iter().any(|m| m == field)
    }

    /// A numeric dataset as a tensor (floats keep their dtype; integers become f64).
    fn tensor(&self, g: &Group, node: &str, field: &str) -> Result<Tensor, FrontError> {
        let ds = self.dataset(g, node, field)?;
        let shape = self.checked_len(&ds, node, field)?;
        let ty = ds.dtype().map_err(|e| self.err(node, Some(field), format!("unreadable type: {e}")))?;
        let rd = |e: hdf5_pure::Error| self.err(node, Some(field), format!("cannot read data: {e}"));
        // The data read may disagree with the declared shape in a malformed file: check
        // before building the tensor, whose invariant is `data.len() == numel`.
        let numel = shape.iter().product::<usize>();
        let mismatch = |len: usize| {
            self.err(node, Some(field), format!("{len} values stored, the declared shape {shape:?} needs {numel}"))
        };
        let t = match ty {
            H5Type::F32 => {
                let v = ds.read_f32().map_err(rd)?;
                if v.len() != numel {
                    return Err(mismatch(v.len()));
                }
                Tensor::f32_vec(shape, v)
            }
            H5Type::F64
            | H5Type::I8
            | H5Type::I16
            | H5Type::I32
            | H5Type::I64
            | H5Type::U8
            | H5Type::U16
            | H5Type::U32
            | H5Type::U64 => {
                let v = ds.read_f64().map_err(rd)?;
                if v.len() != numel {
                    return Err(mismatch(v.len()));
                }
                Tensor::f64(shape, v)
            }
            other => {
                return Err(self.err(
                    node,
                    Some(field),
                    format!("expected a numeric array (f32/f64/int), found {other}"),
                ));
            }
        };
        Ok(t)
    }

    /// Integer parameters (stride, padding...) as a flat list; floats must be integral.
    fn ints(&self, g: &Group, node: &str, field: &str) -> Result<Vec<i64>, FrontError> {
        let t = self.tensor(g, node, field)?;
        t.iter()
            .map(|v| {
                if v.fract() == 0.0 && v.abs() < 1e15 {
                    Ok(v as i64)
                } else {
                    Err(self.err(node, Some(field), format!("expected integers, found {v}")))
                }
            })
            .collect()
    }

    /// Non-negative integers broadcast to `n` dims.
    fn dims(&self, g: &Group, node: &str, field: &str, n: usize) -> Result<Vec<usize>, FrontError> {
        let v = self.ints(g, node, field)?;
        let v: Vec<usize> = v
            .into_iter()
            .map(|x| {
                usize::try_from(x)
                    .map_err(|_| self.err(node, Some(field), format!("expected a non-negative integer, found {x}")))
            })
            .collect::<Result<_, _>>()?;
        match v.len() {
            1 => Ok(vec![v[0]; n]),
            l if l == n => Ok(v),
            l => Err(self.err(node, Some(field), format!("expected 1 or {n} values, found {l}"))),
        }
    }

    fn node(&mut self, g: &Group, qname: &str) -> Result<Raw, FrontError> {
        let datasets = self.list(g, qname, Members::Datasets)?;
        if !self.has(&datasets, "type") {
            return Err(self.err(qname, Some("type"), "missing dataset (every NIR node has a 'type' string)"));
        }
        let ty = self.string(g, qname, "type")?;
        if ty == "NIRGraph" {
            return self.graph(g, qname, &datasets);
        }
        let known: &[&str] = match ty.as_str() {
            "Input" | "Output" => &["shape"],
            "Affine" => &["weight", "bias"],
            "Linear" => &["weight"],
            "Scale" => &["scale"],
            "Conv1d" | "Conv2d" => &["weight", "bias", "stride", "padding", "dilation", "groups", "input_shape"],
            "SumPool2d" | "AvgPool2d" => &["kernel_size", "stride", "padding"],
            "Flatten" => &["start_dim", "end_dim"],
            "Delay" => &["delay"],
            t if neuron::descriptor(t).is_some() => &[],
            other => {
                return Err(self.err(
                    qname,
                    Some("type"),
                    format!(
                        "unknown node type '{}' (expected a NIR primitive: Input, Output, Affine, Linear, \
                         Scale, Conv1d, Conv2d, SumPool2d, AvgPool2d, Flatten, Delay, Threshold, I, IF, LI, \
                         LIF, CubaLI, CubaLIF, or NIRGraph)",
                        other.escape_debug()
                    ),
                ));
            }
        };
        let desc = neuron::descriptor(&ty);
        for d in &datasets {
            let d = d.as_str();
            let is_param = known.contains(&d) || desc.is_some_and(|nd| nd.params.iter().any(|p| p.name == d));
            if d != "type" && d != "input_type" && d != "output_type" && !is_param {
                self.warnings.push(format!(
                    "node '{}' ({ty}): ignored unknown dataset '{}'",
                    display_name(qname),
                    d.escape_debug()
                ));
            }
        }
        let req = |r: &Self, f: &str| -> Result<Tensor, FrontError> {
            if r.has(&datasets, f) {
                r.tensor(g, qname, f)
            } else {
                Err(r.err(qname, Some(f), format!("missing dataset (required for {ty})")))
            }
        };
        let op = match ty.as_str() {
            "Input" => {
                let field = if self.has(&datasets, "shape") {
                    "shape"
                } else if self.has(&datasets, "input_type") {
                    "input_type"
                } else {
                    return Err(self.err(qname, Some("shape"), "missing dataset (required for Input)"));
                };
                let shape = self.dims_any(g, qname, field)?;
                Op::Input { shape }
            }
            "Output" => Op::Output,
            "Affine" => Op::Affine { weight: req(self, "weight")?, bias: req(self, "bias")? },
            "Linear" => Op::Linear { weight: req(self, "weight")? },
            "Scale" => Op::Scale { scale: req(self, "scale")? },
            "Conv1d" | "Conv2d" => {
                let nd = if ty == "Conv1d" { 1 } else { 2 };
                let weight = req(self, "weight")?;
                if weight.shape.len() != nd + 2 {
                    return Err(self.err(
                        qname,
                        Some("weight"),
                        format!(
                            "{ty} weight must have rank {} (Co, Ci/groups, K...), found shape {:?}",
                            nd + 2,
                            weight.shape
                        ),
                    ));
                }
                let bias = if self.has(&datasets, "bias") { Some(self.tensor(g, qname, "bias")?) } else { None };
                let stride =
                    if self.has(&datasets, "stride") { self.dims(g, qname, "stride", nd)? } else { vec![1; nd] };
                let dilation =
                    if self.has(&datasets, "dilation") { self.dims(g, qname, "dilation", nd)? } else { vec![1; nd] };
                let groups = if self.has(&datasets, "groups") {
                    let v = self.dims(g, qname, "groups", 1)?;
                    v[0]
                } else {
                    1
                };
                let padding = if !self.has(&datasets, "padding") {
                    Padding::Explicit(vec![0; nd])
                } else {
                    let ds = self.dataset(g, qname, "padding")?;
                    let t =
                        ds.dtype().map_err(|e| self.err(qname, Some("padding"), format!("unreadable type: {e}")))?;
                    if matches!(t, H5Type::String | H5Type::VariableLengthString) {
                        match self.string(g, qname, "padding")?.as_str() {
                            "same" => Padding::Same,
                            "valid" => Padding::Valid,
                            other => {
                                return Err(self.err(
                                    qname,
                                    Some("padding"),
                                    format!(
                                        "expected an integer, \"same\" or \"valid\", found \"{}\"",
                                        other.escape_debug()
                                    ),
                                ));
                            }
                        }
                    } else {
                        Padding::Explicit(self.dims(g, qname, "padding", nd)?)
                    }
                };
                let input_shape = if self.has(&datasets, "input_shape") {
                    Some(self.dims_any(g, qname, "input_shape")?)
                } else {
                    None
                };
                Op::Conv { weight, bias, stride, padding, dilation, groups, input_shape }
            }
            "SumPool2d" | "AvgPool2d" => {
                let kernel = self.dims(g, qname, "kernel_size", 2)?;
                let stride =
                    if self.has(&datasets, "stride") { self.dims(g, qname, "stride", 2)? } else { kernel.clone() };
                let padding =
                    if self.has(&datasets, "padding") { self.dims(g, qname, "padding", 2)? } else { vec![0, 0] };
                if ty == "SumPool2d" {
                    Op::SumPool2d { kernel, stride, padding }
                } else {
                    Op::AvgPool2d { kernel, stride, padding }
                }
            }
            "Flatten" => {
                let one = |r: &Self, f: &str, def: i64| -> Result<i64, FrontError> {
                    if r.has(&datasets, f) {
                        let v = r.ints(g, qname, f)?;
                        v.first().copied().ok_or_else(|| r.err(qname, Some(f), "empty dataset"))
                    } else {
                        Ok(def)
                    }
                };
                Op::Flatten { start_dim: one(self, "start_dim", 1)?, end_dim: one(self, "end_dim", -1)? }
            }
            "Delay" => Op::Delay { delay: req(self, "delay")? },
            t if let Some(d) = neuron::descriptor(t) => {
                // Parameters in the descriptor's order; absent ones as the descriptor says.
                let mut got: Vec<Option<Tensor>> = vec![];
                for p in d.params {
                    got.push(if self.has(&datasets, p.name) { Some(self.tensor(g, qname, p.name)?) } else { None });
                }
                let mut tensors = vec![];
                for (k, p) in d.params.iter().enumerate() {
                    let like = |name: &str| -> Result<&Tensor, FrontError> {
                        let i =
                            d.params.iter().position(|q| q.name == name).expect("descriptor names its own parameter");
                        got[i]
                            .as_ref()
                            .ok_or_else(|| self.err(qname, Some(name), format!("missing dataset (required for {ty})")))
                    };
                    let t = match (&got[k], p.absent) {
                        (Some(t), _) => t.clone(),
                        (None, neuron::Absent::Required) => {
                            return Err(self.err(qname, Some(p.name), format!("missing dataset (required for {ty})")));
                        }
                        (None, neuron::Absent::Like { like: l, value, why }) => {
                            let base = like(l)?;
                            self.warnings.push(format!(
                                "node '{}': no '{}' dataset ({why}): spikefab assumed {value}",
                                display_name(qname),
                                p.name
                            ));
                            Tensor::full(base.dtype(), base.shape.clone(), value)
                        }
                        (None, neuron::Absent::Scalar { like: l, value }) => {
                            let base = like(l)?;
                            self.warnings.push(format!(
                                "node '{}' ({ty}): no '{}' dataset, using {value}",
                                display_name(qname),
                                p.name
                            ));
                            Tensor::scalar(base.dtype(), value)
                        }
                    };
                    tensors.push(t);
                }
                (d.build)(tensors)
            }
            _ => unreachable!("the type list above is exhaustive"),
        };
        Ok(Raw::Leaf(Box::new(op)))
    }

    /// A shape dataset of any rank, as non-negative integers.
    fn dims_any(&self, g: &Group, node: &str, field: &str) -> Result<Vec<usize>, FrontError> {
        self.ints(g, node, field)?
            .into_iter()
            .map(|x| {
                usize::try_from(x)
                    .map_err(|_| self.err(node, Some(field), format!("expected non-negative sizes, found {x}")))
            })
            .collect()
    }

    fn graph(&mut self, g: &Group, qname: &str, datasets: &[String]) -> Result<Raw, FrontError> {
        let groups = self.list(g, qname, Members::Groups)?;
        if !groups.iter().any(|m| m == "nodes") {
            return Err(self.err(qname, Some("nodes"), "missing group (a NIRGraph holds its nodes in 'nodes/')"));
        }
        if !self.has(datasets, "edges") {
            return Err(self.err(
                qname,
                Some("edges"),
                "missing dataset (a NIRGraph stores its edges as an (E,2) string array)",
            ));
        }
        let ng = g.group("nodes").map_err(|e| self.err(qname, Some("nodes"), format!("cannot open: {e}")))?;
        let mut nodes = vec![];
        for name in self.list(&ng, qname, Members::Groups)? {
            if name.contains('\u{FFFD}') || name.chars().any(|c| c.is_control()) {
                return Err(self.err(
                    qname,
                    Some("nodes"),
                    format!("node name '{}' is not valid UTF-8 text", name.escape_debug()),
                ));
            }
            let child =
                ng.group(&name).map_err(|e| self.err(&qualify(qname, &name), None, format!("cannot open: {e}")))?;
            let raw = self.node(&child, &qualify(qname, &name))?;
            nodes.push((name, raw));
        }
        let ds = self.dataset(g, qname, "edges")?;
        let shape = self.checked_len(&ds, qname, "edges")?;
        let ty = ds.dtype().map_err(|e| self.err(qname, Some("edges"), format!("unreadable type: {e}")))?;
        let edges = if shape.iter().product::<usize>() == 0 {
            vec![]
        } else {
            if !matches!(ty, H5Type::String | H5Type::VariableLengthString) {
                return Err(self.err(qname, Some("edges"), format!("expected (E,2) strings, found {ty}")));
            }
            if shape.len() != 2 || shape[1] != 2 {
                return Err(self.err(qname, Some("edges"), format!("expected shape (E, 2), found {shape:?}")));
            }
            let v = ds.read_string().map_err(|e| self.err(qname, Some("edges"), format!("cannot read: {e}")))?;
            v.chunks(2)
                .map(|c| (c[0].trim_end_matches('\0').to_string(), c[1].trim_end_matches('\0').to_string()))
                .collect()
        };
        Ok(Raw::Graph { nodes, edges })
    }
}

fn qualify(prefix: &str, name: &str) -> String {
    if prefix.is_empty() { name.to_string() } else { format!("{prefix}.{name}") }
}

fn display_name(q: &str) -> &str {
    if q.is_empty() { "(top graph)" } else { q }
}

/// A scope of the flattening: local names to nodes or nested scopes.
enum Entry {
    Node(NodeIndex),
    Sub(Scope),
}

#[derive(Default)]
struct Scope {
    names: BTreeMap<String, Entry>,
    inputs: Vec<NodeIndex>,
    outputs: Vec<NodeIndex>,
}

struct Flattener<'a> {
    path: &'a Path,
    g: Graph,
    passthrough: HashSet<NodeIndex>,
}

fn flatten(path: &Path, nodes: Vec<(String, Raw)>, edges: Vec<(String, String)>) -> Result<Graph, FrontError> {
    let mut f = Flattener { path, g: Graph::default(), passthrough: HashSet::new() };
    f.scope("", nodes, edges, true)?;
    f.contract()
}

impl Flattener<'_> {
    fn scope(
        &mut self,
        prefix: &str,
        nodes: Vec<(String, Raw)>,
        edges: Vec<(String, String)>,
        top: bool,
    ) -> Result<Scope, FrontError> {
        let mut s = Scope::default();
        for (name, raw) in nodes {
            let q = qualify(prefix, &name);
            match raw {
                Raw::Leaf(op) => {
                    let is_in = matches!(*op, Op::Input { .. });
                    let is_out = matches!(*op, Op::Output);
                    if self.g.find(&q).is_some() {
                        return Err(FrontError::at(
                            self.path,
                            q,
                            None,
                            "duplicate qualified node name after flattening nested graphs",
                        ));
                    }
                    let ix = self.g.add_node(q, *op);
                    if !top && (is_in || is_out) {
                        self.passthrough.insert(ix);
                    }
                    if is_in {
                        s.inputs.push(ix);
                    }
                    if is_out {
                        s.outputs.push(ix);
                    }
                    s.names.insert(name, Entry::Node(ix));
                }
                Raw::Graph { nodes, edges } => {
                    let sub = self.scope(&q, nodes, edges, false)?;
                    s.names.insert(name, Entry::Sub(sub));
                }
            }
        }
        for (a, b) in &edges {
            let src = self.resolve(&s, prefix, a, true)?;
            let dst = self.resolve(&s, prefix, b, false)?;
            self.g.add_edge(src, dst);
        }
        Ok(s)
    }

    fn resolve(&self, s: &Scope, prefix: &str, name: &str, as_source: bool) -> Result<NodeIndex, FrontError> {
        let end = if as_source { "source" } else { "target" };
        let unknown = || {
            FrontError::at(
                self.path,
                display_name(prefix).to_string(),
                Some("edges"),
                format!("edge {end} '{}' names no node of this graph", name.escape_debug()),
            )
        };
        let pick = |sub: &Scope, label: &str| -> Result<NodeIndex, FrontError> {
            let cands = if as_source { &sub.outputs } else { &sub.inputs };
            match cands.as_slice() {
                [one] => Ok(*one),
                [] => Err(FrontError::at(
                    self.path,
                    qualify(prefix, label),
                    Some("edges"),
                    format!(
                        "edge {end} is a nested graph without {} node",
                        if as_source { "an Output" } else { "an Input" }
                    ),
                )),
                _ => Err(FrontError::at(
                    self.path,
                    qualify(prefix, label),
                    Some("edges"),
                    format!(
                        "edge {end} is a nested graph with several {} nodes; name one as '{label}.<node>'",
                        if as_source { "Output" } else { "Input" }
                    ),
                )),
            }
        };
        match s.names.get(name) {
            Some(Entry::Node(ix)) => return Ok(*ix),
            Some(Entry::Sub(sub)) => return pick(sub, name),
            None => {}
        }
        let (head, rest) = name.split_once('.').ok_or_else(unknown)?;
        match s.names.get(head) {
            Some(Entry::Sub(sub)) => self.resolve(sub, &qualify(prefix, head), rest, as_source).map_err(|_| unknown()),
            _ => Err(unknown()),
        }
    }

    /// Removes pass-through nodes, wiring every predecessor to every successor in file order.
    fn contract(self) -> Result<Graph, FrontError> {
        let old = &self.g;
        let mut out = Graph::default();
        let mut map = HashMap::new();
        for ix in old.g.node_indices() {
            if !self.passthrough.contains(&ix) {
                let n = &old.g[ix];
                map.insert(ix, out.add_node(n.name.clone(), n.op.clone()));
            }
        }
        for (src, dst) in old.edges() {
            if self.passthrough.contains(&src) {
                continue;
            }
            let mut targets = vec![];
            self.expand(dst, 0, &mut targets)?;
            for t in targets {
                out.add_edge(map[&src], map[&t]);
            }
        }
        Ok(out)
    }

    fn expand(&self, n: NodeIndex, depth: usize, acc: &mut Vec<NodeIndex>) -> Result<(), FrontError> {
        if !self.passthrough.contains(&n) {
            acc.push(n);
            return Ok(());
        }
        if depth > 64 {
            return Err(FrontError::at(
                self.path,
                self.g.g[n].name.clone(),
                None,
                "nested Input/Output nodes form a loop",
            ));
        }
        for (_, t) in self.g.out_edges(n) {
            self.expand(t, depth + 1, acc)?;
        }
        Ok(())
    }
}

/// Elements one sample takes at a consumer (and the rank it reads), when its parameters say.
fn consumer_numel(op: &Op) -> Option<(usize, usize)> {
    match op {
        Op::Affine { weight, .. } | Op::Linear { weight } if weight.shape.len() == 2 => Some((weight.shape[1], 1)),
        Op::Conv { weight, groups, .. } => Some((weight.shape[1] * groups, weight.shape.len() - 1)),
        _ => None,
    }
}

/// Some exporters write a time or batch dimension into the Input shape (Sinabs writes
/// `[T, n]`). When every consumer of an Input shows that a sample is only the trailing
/// dimensions, the leading ones are dropped, with a warning.
fn strip_leading_input_dims(g: &mut Graph, warnings: &mut Vec<String>) {
    for ix in g.inputs() {
        let Op::Input { shape } = &g.g[ix].op else { continue };
        let shape = shape.clone();
        let consumers: Vec<_> = g.out_edges(ix).into_iter().map(|(_, t)| consumer_numel(&g.g[t].op)).collect();
        if consumers.is_empty() || consumers.iter().any(Option::is_none) {
            continue;
        }
        let total: usize = shape.iter().product();
        for k in 1..shape.len() {
            let tail = &shape[k..];
            let fits = consumers.iter().flatten().all(|&(n, rank)| {
                if rank == 1 { tail.iter().product::<usize>() == n } else { tail.len() == rank && tail[0] == n }
            });
            if fits && tail.iter().product::<usize>() != total {
                warnings.push(format!(
                    "Input '{}' declares shape {shape:?} but its consumers take {tail:?} per sample: the leading \
                     dimension(s) look like the exporter's time or batch axis and are dropped",
                    g.g[ix].name
                ));
                g.g[ix].op = Op::Input { shape: tail.to_vec() };
                break;
            }
        }
    }
}
