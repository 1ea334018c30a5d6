//! From the evaluated ONNX graph to the IR.
//!
//! 1. Graph outputs whose form reads a graph input directly (`beta * mem + ...`) are state
//!    outputs; each is paired with that input, its membrane state. The other outputs are the
//!    model's results (the spikes); the remaining inputs are data inputs.
//! 2. Starting from the results, every atom is materialised as an IR node: a layer with its
//!    input (constant scales and offsets folded into the layer's weights and bias where the
//!    layer has no other use, else a Scale node), a graph input, or for a comparison of a
//!    membrane with a threshold the neuron owning that membrane.
//! 3. A neuron's membrane form `alpha*v + gamma*H(v - thr)*v + delta*H(v - thr) + sum(g*I) + b`
//!    decides its model: decay `beta = alpha`, input gain `g`, and per element the resets it is
//!    consistent with: zero (`gamma = -alpha`, `v_reset = delta/alpha`), subtract-undecayed
//!    (`delta = -thr`, snnTorch's Leaky) or subtract (`delta = -alpha*thr`). One reset mode must
//!    fit every neuron: it becomes the graph's dialect. `tau` and `r` are chosen so that the
//!    IR's Euler step with `dt` = [`DT`] reproduces `beta` and `g` (`tau = dt/(1-beta)`,
//!    `r = g*tau/dt`), as snnTorch's NIR export does.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;

use petgraph::graph::NodeIndex;

use super::ops::{Importer, LayerKind};
use super::value::{Arr, Atom, Elem, Lin, close};
use crate::front::FrontError;
use crate::ir::dialect::DtSource;
use crate::ir::{DType, Dialect, Graph, Op, ResetMode, Tensor};

/// The time step the neuron parameters are written for (snnTorch's NIR convention).
pub const DT: f64 = 1e-4;

struct Neuron {
    leaf: usize,
    /// Graph output carrying the updated membrane.
    output: String,
    /// ONNX node producing that output (for messages).
    at: String,
    m: Lin,
    name: String,
}

struct Built {
    node: NodeIndex,
    threshold: Option<Vec<f64>>,
    or_equal: bool,
}

struct Builder<'a, 'b> {
    im: &'b mut Importer<'a>,
    path: &'a Path,
    g: Graph,
    names: HashSet<String>,
    neurons: Vec<Neuron>,
    /// Neuron by its state leaf.
    state: HashMap<usize, usize>,
    uses: HashMap<usize, usize>,
    input_shape: HashMap<usize, Vec<usize>>,
    leaf_node: HashMap<usize, NodeIndex>,
    layer_node: HashMap<usize, NodeIndex>,
    neuron_node: HashMap<usize, Built>,
    busy: HashSet<Atom>,
    busy_neurons: HashSet<usize>,
    ir_shape: HashMap<NodeIndex, Vec<usize>>,
    /// Reset modes every spiking neuron so far allows, with the first neuron that narrowed it.
    resets: Option<(Vec<ResetMode>, String)>,
    fire: Option<(bool, String)>,
}

/// Graph inputs read directly (not through a layer) by a form's top-level terms.
fn direct_leaves(l: &Lin) -> BTreeSet<usize> {
    l.terms
        .iter()
        .filter_map(|(a, _)| match a {
            Atom::Leaf(i) => Some(*i),
            Atom::Prod(_, x) => match x.as_ref() {
                Atom::Leaf(i) => Some(*i),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

fn uniform(v: &[f64]) -> bool {
    v.iter().all(|&x| x == v[0])
}

/// A parameter tensor: one value when all agree, else one per element of `shape`.
fn param(v: &[f64], shape: &[usize]) -> Tensor {
    if v.is_empty() || uniform(v) {
        Tensor::scalar(DType::F64, v.first().copied().unwrap_or(0.0))
    } else {
        Tensor::f64(shape.to_vec(), v.to_vec())
    }
}

fn weight_tensor(a: &Arr) -> Tensor {
    match a.elem {
        Elem::F64 | Elem::Int | Elem::Bool => Tensor::f64(a.shape.clone(), a.data.clone()),
        Elem::F32 | Elem::F16 => Tensor::new(DType::F32, a.shape.clone(), a.data.clone()),
    }
}

fn bias_tensor(b: &[f64], like: Elem) -> Tensor {
    weight_tensor(&Arr { elem: like, shape: vec![b.len()], data: b.to_vec() })
}

/// Per-channel values of a per-element vector over `shape` (channel = first dim), when
/// uniform within each channel.
fn per_channel(v: &[f64], shape: &[usize]) -> Option<Vec<f64>> {
    let c = *shape.first()?;
    let per = v.len() / c.max(1);
    (0..c)
        .map(|ch| {
            let s = &v[ch * per..(ch + 1) * per];
            uniform(s).then_some(s[0])
        })
        .collect()
}

fn sanitise(name: &str) -> String {
    let s: String = name.trim_start_matches('/').replace('/', ".");
    if s.is_empty() { "node".into() } else { s }
}

/// Builds the IR graph; returns it with the reset and firing rule the neurons fix.
pub(super) fn build<'a>(im: &mut Importer<'a>, outputs: &[String]) -> Result<Graph, FrontError> {
    let nodes = im.nodes;
    let path: &'a Path = im.path;
    let mut b = Builder {
        im,
        path,
        g: Graph::default(),
        names: HashSet::new(),
        neurons: vec![],
        state: HashMap::new(),
        uses: HashMap::new(),
        input_shape: HashMap::new(),
        leaf_node: HashMap::new(),
        layer_node: HashMap::new(),
        neuron_node: HashMap::new(),
        busy: HashSet::new(),
        busy_neurons: HashSet::new(),
        ir_shape: HashMap::new(),
        resets: None,
        fire: None,
    };
    // 1. Pair state inputs with state outputs.
    let mut results: Vec<(String, Lin)> = vec![];
    let mut paired: HashMap<usize, usize> = HashMap::new();
    for name in outputs {
        let lin = match b.im.values.get(name) {
            None => {
                return Err(FrontError::at(
                    path,
                    name.clone(),
                    Some("output"),
                    "graph output is not produced by any node",
                ));
            }
            Some(super::ops::Value::Const(_)) => {
                return Err(FrontError::at(path, name.clone(), Some("output"), "graph output is a constant"));
            }
            Some(super::ops::Value::Dyn(l)) => l.clone(),
        };
        let at =
            nodes.iter().find(|n| n.outputs.contains(name)).map(|n| n.name.clone()).unwrap_or_else(|| name.clone());
        let mut leaves = direct_leaves(&lin);
        if leaves.len() > 1 {
            let with_reset: BTreeSet<usize> = leaves.iter().copied().filter(|&s| b.has_reset_of(&lin, s)).collect();
            if with_reset.len() != 1 {
                let names: Vec<_> = leaves.iter().map(|&i| b.im.leaves[i].name.clone()).collect();
                return Err(FrontError::at(
                    path,
                    at,
                    Some("output"),
                    format!(
                        "graph output '{name}' reads several graph inputs directly ({}); cannot tell which is its \
                         membrane state",
                        names.join(", ")
                    ),
                ));
            }
            leaves = with_reset;
        }
        let Some(&s) = leaves.iter().next() else {
            results.push((name.clone(), lin));
            continue;
        };
        let leaf = &b.im.leaves[s];
        if leaf.shape != lin.shape {
            return Err(FrontError::at(
                path,
                at,
                Some("output"),
                format!(
                    "state output '{name}' has per-sample shape {:?} but its state input '{}' has {:?}",
                    lin.shape, leaf.name, leaf.shape
                ),
            ));
        }
        if let Some(&prev) = paired.get(&s) {
            let p = &b.neurons[prev];
            if !(p.m.same_terms(&lin) && p.m.bias.iter().zip(&lin.bias).all(|(x, y)| close(*x, *y))) {
                return Err(FrontError::at(
                    path,
                    at,
                    Some("output"),
                    format!(
                        "state input '{}' is updated by two different outputs, '{}' and '{name}'",
                        leaf.name, p.output
                    ),
                ));
            }
            // The same membrane listed twice: the earlier output reads it as a result.
            results.push((p.output.clone(), p.m.clone()));
            b.neurons[prev].output = name.clone();
            continue;
        }
        let scope = at.trim_start_matches('/');
        let nname = match scope.rsplit_once('/') {
            Some((head, _)) if !head.is_empty() => head.replace('/', "."),
            _ => name.clone(),
        };
        paired.insert(s, b.neurons.len());
        b.state.insert(s, b.neurons.len());
        b.neurons.push(Neuron { leaf: s, output: name.clone(), at, m: lin, name: nname });
    }
    if results.is_empty() {
        return Err(FrontError::file(
            path,
            "every graph output is a state output; the model has no result (spike) output",
        ));
    }
    // 2. Uses of each layer by the forms that get materialised, and the data inputs' shapes.
    let mut sinks: Vec<&Lin> = b.im.layers.iter().map(|l| &l.input).collect();
    sinks.extend(b.neurons.iter().map(|n| &n.m));
    sinks.extend(results.iter().map(|(_, l)| l));
    let mut uses: HashMap<usize, usize> = HashMap::new();
    let mut seen_shapes: HashMap<usize, Vec<Vec<usize>>> = HashMap::new();
    for l in &sinks {
        for a in l.atoms() {
            match a {
                Atom::Layer(i) => *uses.entry(*i).or_default() += 1,
                Atom::Leaf(i) if !b.state.contains_key(i) => seen_shapes.entry(*i).or_default().push(l.shape.clone()),
                _ => {}
            }
        }
    }
    for (i, shapes) in seen_shapes {
        let first = &shapes[0];
        if shapes.iter().all(|s| s == first)
            && first.iter().product::<usize>() == b.im.leaves[i].shape.iter().product::<usize>()
        {
            b.input_shape.insert(i, first.clone());
        }
    }
    b.uses = uses;
    // 3. Materialise from the results.
    for (name, lin) in &results {
        let srcs = b.sum(lin, name, Some("output"))?;
        let out = b.add_node(name, Op::Output);
        for s in srcs {
            b.g.add_edge(s, out);
        }
    }
    let mut warnings = vec![];
    for (i, n) in b.neurons.iter().enumerate() {
        if !b.neuron_node.contains_key(&i) {
            warnings.push(format!(
                "state '{}' (updated by '{}') does not reach any result output; its neuron is dropped",
                b.im.leaves[n.leaf].name, n.at
            ));
        }
    }
    for (i, l) in b.im.leaves.iter().enumerate() {
        if !b.state.contains_key(&i) && !b.leaf_node.contains_key(&i) {
            warnings.push(format!("graph input '{}' is not used", l.name));
        }
    }
    if b.leaf_node.is_empty() {
        return Err(FrontError::file(path, "no data input reaches the outputs (every graph input is a state)"));
    }
    let spiking = b.resets.is_some();
    let reset = match &b.resets {
        Some((set, _)) => *[ResetMode::Zero, ResetMode::SubtractUndecayed, ResetMode::Subtract]
            .iter()
            .find(|m| set.contains(m))
            .expect("an empty set is refused when it forms"),
        None => ResetMode::Zero,
    };
    let needs_dt = b.g.g.node_weights().any(|n| n.op.needs_dt());
    b.g.dialect = Dialect {
        dt: needs_dt.then_some(DT),
        dt_source: if needs_dt { DtSource::File } else { DtSource::Unset },
        reset,
        fire_on_equal: b.fire.as_ref().is_some_and(|f| f.0),
        ..Default::default()
    };
    if !spiking {
        warnings.push("no spiking neuron was found: the model runs as a stateless network".into());
    }
    b.im.warnings.extend(warnings);
    Ok(b.g)
}

impl Builder<'_, '_> {
    fn add_node(&mut self, name: &str, op: Op) -> NodeIndex {
        let base = sanitise(name);
        let mut n = base.clone();
        let mut k = 1;
        while self.names.contains(&n) {
            n = format!("{base}_{k}");
            k += 1;
        }
        self.names.insert(n.clone());
        self.g.add_node(n, op)
    }

    fn node_names(&self, l: &Lin) -> String {
        l.nodes.iter().map(|&k| self.im.nodes[k].name.clone()).collect::<Vec<_>>().join(", ")
    }

    /// The threshold of Heaviside `h` when it is `H(state s - thr)`: a reset indicator.
    fn reset_indicator(&self, h: usize, s: usize) -> Option<(Vec<f64>, bool)> {
        let d = &self.im.heavs[h];
        match d.inner.terms.as_slice() {
            [(Atom::Leaf(i), c)] if *i == s && c.iter().all(|&v| v == 1.0) => {
                Some((d.inner.bias.iter().map(|b| -b).collect(), d.or_equal))
            }
            _ => None,
        }
    }

    fn has_reset_of(&self, l: &Lin, s: usize) -> bool {
        l.terms.iter().any(|(a, _)| match a {
            Atom::Heav(h) | Atom::Prod(h, _) => self.reset_indicator(*h, s).is_some(),
            _ => false,
        })
    }

    /// IR nodes whose outputs sum to `l`. `at`/`field` locate errors.
    fn sum(&mut self, l: &Lin, at: &str, field: Option<&str>) -> Result<Vec<NodeIndex>, FrontError> {
        let err = |b: &Self, m: String| FrontError::at(b.path, at.to_string(), field, m);
        if l.terms.is_empty() {
            return Err(err(self, "is a constant where a runtime tensor is expected".into()));
        }
        let direct = direct_leaves(l);
        if let Some(s) = direct.iter().find(|s| self.state.contains_key(s)) {
            let n = self.state[s];
            let m = &self.neurons[n].m;
            if !(m.same_terms(l) && m.bias.iter().zip(&l.bias).all(|(x, y)| close(*x, *y))) {
                return Err(err(
                    self,
                    format!(
                        "reads membrane state '{}' other than as its neuron's update (ONNX nodes: {})",
                        self.im.leaves[*s].name,
                        self.node_names(l)
                    ),
                ));
            }
            return Ok(vec![self.neuron(n, None, false, at)?]);
        }
        let mut terms = l.terms.clone();
        if l.has_bias() && !self.fold_bias(&mut terms, &l.bias)? {
            return Err(err(
                self,
                format!(
                    "adds a constant to a runtime tensor that no layer bias can absorb (ONNX nodes: {})",
                    self.node_names(l)
                ),
            ));
        }
        let mut out = Vec::with_capacity(terms.len());
        for (a, c) in &terms {
            out.push(self.scaled(a, c, &l.shape, at, field)?);
        }
        Ok(out)
    }

    /// Adds `bias` to the bias of a single-use weighted layer among `terms` (divided by its
    /// coefficient). False when none can take it.
    fn fold_bias(&mut self, terms: &mut [(Atom, Vec<f64>)], bias: &[f64]) -> Result<bool, FrontError> {
        for (a, c) in terms.iter() {
            let Atom::Layer(id) = a else { continue };
            if self.uses.get(id) != Some(&1) || c.contains(&0.0) {
                continue;
            }
            let add: Vec<f64> = bias.iter().zip(c).map(|(b, c)| b / c).collect();
            let layer = &mut self.im.layers[*id];
            let shape = layer.shape.clone();
            match &mut layer.kind {
                LayerKind::Dense { bias: lb, .. } => {
                    let lb = lb.get_or_insert_with(|| vec![0.0; add.len()]);
                    for (x, y) in lb.iter_mut().zip(&add) {
                        *x += y;
                    }
                    return Ok(true);
                }
                LayerKind::Conv { bias: lb, .. } => {
                    let Some(per) = per_channel(&add, &shape) else { continue };
                    let lb = lb.get_or_insert_with(|| vec![0.0; per.len()]);
                    for (x, y) in lb.iter_mut().zip(&per) {
                        *x += y;
                    }
                    return Ok(true);
                }
                _ => continue,
            }
        }
        Ok(false)
    }

    /// The node for `c * a`: folded into a single-use weighted layer, or a Scale node.
    fn scaled(
        &mut self,
        a: &Atom,
        c: &[f64],
        shape: &[usize],
        at: &str,
        field: Option<&str>,
    ) -> Result<NodeIndex, FrontError> {
        let ones = c.iter().all(|&v| v == 1.0);
        if !ones
            && let Atom::Layer(id) = a
            && self.uses.get(id) == Some(&1)
            && self.fold_scale(*id, c)
        {
            return self.atom(a, at, field);
        }
        let src = self.atom(a, at, field)?;
        if ones {
            return Ok(src);
        }
        let name = format!("{}.scale", self.g.g[src].name);
        let node = self.add_node(&name, Op::Scale { scale: param(c, shape) });
        self.g.add_edge(src, node);
        let s = self.ir_shape.get(&src).cloned().unwrap_or_else(|| shape.to_vec());
        self.ir_shape.insert(node, s);
        Ok(node)
    }

    /// Multiplies layer `id`'s output rows (channels) by `c` in its weights and bias.
    fn fold_scale(&mut self, id: usize, c: &[f64]) -> bool {
        let layer = &mut self.im.layers[id];
        let shape = layer.shape.clone();
        let (weight, bias, per) = match &mut layer.kind {
            LayerKind::Pool { sum, kernel, .. } => {
                // A window average times the window area is a window sum.
                let area = kernel.iter().product::<usize>() as f64;
                if !*sum && c.iter().all(|&v| v == area) {
                    *sum = true;
                    return true;
                }
                return false;
            }
            LayerKind::Dense { weight, bias } => (weight, bias, c.to_vec()),
            LayerKind::Conv { weight, bias, .. } => match per_channel(c, &shape) {
                Some(p) => (weight, bias, p),
                None => return false,
            },
            _ => return false,
        };
        let row = weight.data.len() / per.len().max(1);
        for (r, k) in per.iter().enumerate() {
            for w in &mut weight.data[r * row..(r + 1) * row] {
                *w *= k;
            }
        }
        if let Some(b) = bias {
            for (x, k) in b.iter_mut().zip(&per) {
                *x *= k;
            }
        }
        true
    }

    fn atom(&mut self, a: &Atom, at: &str, field: Option<&str>) -> Result<NodeIndex, FrontError> {
        match a {
            Atom::Leaf(i) => {
                if let Some(&n) = self.leaf_node.get(i) {
                    return Ok(n);
                }
                let leaf = &self.im.leaves[*i];
                let shape = self.input_shape.get(i).cloned().unwrap_or_else(|| leaf.shape.clone());
                let name = leaf.name.clone();
                let n = self.add_node(&name, Op::Input { shape: shape.clone() });
                self.ir_shape.insert(n, shape);
                self.leaf_node.insert(*i, n);
                Ok(n)
            }
            Atom::Layer(id) => self.layer(*id),
            Atom::Heav(h) => self.spike(*h),
            Atom::Prod(h, _) => {
                let nodes = self.node_names(&self.im.heavs[*h].inner);
                Err(FrontError::at(
                    self.path,
                    at.to_string(),
                    field,
                    format!(
                        "multiplies a comparison result by a runtime tensor outside a neuron's reset, which the IR \
                         cannot express (ONNX nodes: {nodes})"
                    ),
                ))
            }
        }
    }

    fn layer(&mut self, id: usize) -> Result<NodeIndex, FrontError> {
        if let Some(&n) = self.layer_node.get(&id) {
            return Ok(n);
        }
        let key = Atom::Layer(id);
        let onnx = self.im.nodes[self.im.layers[id].node].name.clone();
        if !self.busy.insert(key.clone()) {
            return Err(FrontError::at(
                self.path,
                onnx,
                None,
                "feeds itself within one step (a recurrent connection through a layer is not supported)",
            ));
        }
        let input = self.im.layers[id].input.clone();
        let srcs = self.sum(&input, &onnx, Some("input 0"))?;
        let src_shape = self.ir_shape.get(&srcs[0]).cloned().unwrap_or_default();
        let layer = &self.im.layers[id];
        let out_shape = layer.shape.clone();
        let op = match &layer.kind {
            LayerKind::Dense { weight, bias } => match bias {
                Some(b) => Op::Affine { weight: weight_tensor(weight), bias: bias_tensor(b, weight.elem) },
                None => Op::Linear { weight: weight_tensor(weight) },
            },
            LayerKind::Conv { weight, bias, stride, padding, dilation, groups } => Op::Conv {
                weight: weight_tensor(weight),
                bias: bias.as_ref().map(|b| bias_tensor(b, weight.elem)),
                stride: stride.clone(),
                padding: padding.clone(),
                dilation: dilation.clone(),
                groups: *groups,
                input_shape: (src_shape != input.shape).then(|| input.shape.clone()),
            },
            LayerKind::Pool { sum, kernel, stride, padding } => {
                if src_shape != input.shape {
                    return Err(FrontError::at(
                        self.path,
                        onnx,
                        Some("input 0"),
                        format!(
                            "pools a tensor reshaped from {src_shape:?} to {:?}; the IR pools only (C, H, W) values as \
                             produced",
                            input.shape
                        ),
                    ));
                }
                let (kernel, stride, padding) = (kernel.clone(), stride.clone(), padding.clone());
                if *sum { Op::SumPool2d { kernel, stride, padding } } else { Op::AvgPool2d { kernel, stride, padding } }
            }
            LayerKind::Flatten => Op::Flatten { start_dim: 0, end_dim: -1 },
        };
        let n = self.add_node(&onnx, op);
        for s in srcs {
            self.g.add_edge(s, n);
        }
        self.ir_shape.insert(n, out_shape);
        self.layer_node.insert(id, n);
        self.busy.remove(&key);
        Ok(n)
    }

    /// The node emitting the spikes of comparison `h`: a neuron, or a stateless Threshold.
    fn spike(&mut self, h: usize) -> Result<NodeIndex, FrontError> {
        let inner = self.im.heavs[h].inner.clone();
        let or_equal = self.im.heavs[h].or_equal;
        let mut owners: BTreeSet<usize> = BTreeSet::new();
        for a in inner.atoms() {
            match a {
                Atom::Leaf(s) if self.state.contains_key(s) => {
                    owners.insert(self.state[s]);
                }
                Atom::Heav(g) | Atom::Prod(g, _) => {
                    for (&s, &n) in &self.state {
                        if self.reset_indicator(*g, s).is_some() {
                            owners.insert(n);
                        }
                    }
                }
                _ => {}
            }
        }
        let at = self.im.nodes[self.im.heavs[h].node].name.clone();
        let owners: Vec<usize> = owners.into_iter().collect();
        match owners.as_slice() {
            [] => {
                // A comparison of stateless values: a Threshold node.
                let mut l = inner.clone();
                let th: Vec<f64> = l.bias.iter().map(|b| -b).collect();
                l.bias = vec![0.0; l.numel()];
                self.fire_rule(or_equal, &at)?;
                let srcs = self.sum(&l, &at, None)?;
                let n = self.add_node(&at, Op::Threshold { threshold: param(&th, &l.shape) });
                for s in srcs {
                    self.g.add_edge(s, n);
                }
                self.ir_shape.insert(n, l.shape.clone());
                Ok(n)
            }
            [n] => {
                let n = *n;
                let m = &self.neurons[n].m;
                let s = self.neurons[n].leaf;
                if self.reset_indicator(h, s).is_some() {
                    return Err(FrontError::at(
                        self.path,
                        at,
                        None,
                        format!(
                            "uses the previous step's spike of state '{}' as a value (a recurrent connection), which \
                             is not supported; ONNX nodes looked at: {}",
                            self.im.leaves[s].name,
                            self.node_names(&inner)
                        ),
                    ));
                }
                if !m.same_terms(&inner) {
                    return Err(FrontError::at(
                        self.path,
                        at,
                        None,
                        format!(
                            "compares a value with a threshold that is not the membrane update of state '{}' (output \
                             '{}'); not a recognised spike pattern; ONNX nodes looked at: {}",
                            self.im.leaves[s].name,
                            self.neurons[n].output,
                            self.node_names(&inner)
                        ),
                    ));
                }
                let th: Vec<f64> = m.bias.iter().zip(&inner.bias).map(|(a, b)| a - b).collect();
                self.neuron(n, Some(th), or_equal, &at)
            }
            _ => Err(FrontError::at(
                self.path,
                at,
                None,
                format!(
                    "compares a value mixing several membrane states; not a recognised spike pattern; ONNX nodes \
                     looked at: {}",
                    self.node_names(&inner)
                ),
            )),
        }
    }

    fn fire_rule(&mut self, or_equal: bool, at: &str) -> Result<(), FrontError> {
        match &self.fire {
            None => self.fire = Some((or_equal, at.to_string())),
            Some((f, first)) if *f != or_equal => {
                return Err(FrontError::at(
                    self.path,
                    at.to_string(),
                    None,
                    format!(
                        "fires on {} but '{first}' fires on {}; spikefab needs one firing rule for the whole model",
                        if or_equal { "v >= thr" } else { "v > thr" },
                        if *f { "v >= thr" } else { "v > thr" }
                    ),
                ));
            }
            _ => {}
        }
        Ok(())
    }

    /// The IR node of neuron `n`, created on first use. `threshold` is `None` when the
    /// membrane itself is read (a leaky integrator readout).
    fn neuron(
        &mut self,
        n: usize,
        threshold: Option<Vec<f64>>,
        or_equal: bool,
        at: &str,
    ) -> Result<NodeIndex, FrontError> {
        if let Some(b) = self.neuron_node.get(&n) {
            let same = match (&b.threshold, &threshold) {
                (Some(a), Some(t)) => a.iter().zip(t).all(|(x, y)| close(*x, *y)) && b.or_equal == or_equal,
                (None, None) => true,
                _ => false,
            };
            if !same {
                let nn = &self.neurons[n];
                return Err(FrontError::at(
                    self.path,
                    at.to_string(),
                    None,
                    format!(
                        "uses the membrane of state '{}' with a different threshold (or as a value) than elsewhere",
                        self.im.leaves[nn.leaf].name
                    ),
                ));
            }
            return Ok(b.node);
        }
        if !self.busy_neurons.insert(n) {
            return Err(FrontError::at(
                self.path,
                self.neurons[n].at.clone(),
                None,
                "the neuron's input depends on its own output within one step",
            ));
        }
        let nn = &self.neurons[n];
        let (s, m, name, out_at) = (nn.leaf, nn.m.clone(), nn.name.clone(), nn.at.clone());
        let sname = self.im.leaves[s].name.clone();
        let unrecognised = |b: &Self, why: String| {
            FrontError::at(
                b.path,
                out_at.clone(),
                None,
                format!(
                    "the update of state '{sname}' (output '{}') is not a recognised neuron: {why}; ONNX nodes looked at: {}",
                    b.neurons[n].output,
                    b.node_names(&m)
                ),
            )
        };
        let len = m.numel();
        let (mut alpha, mut gamma, mut delta) = (vec![0.0; len], vec![0.0; len], vec![0.0; len]);
        let mut reset_th: Option<(Vec<f64>, bool)> = None;
        let mut syn: Vec<(Atom, Vec<f64>)> = vec![];
        let add = |acc: &mut Vec<f64>, c: &[f64]| acc.iter_mut().zip(c).for_each(|(x, y)| *x += y);
        for (a, c) in &m.terms {
            match a {
                Atom::Leaf(i) if *i == s => add(&mut alpha, c),
                Atom::Heav(h) | Atom::Prod(h, _) if self.reset_indicator(*h, s).is_some() => {
                    let r = self.reset_indicator(*h, s).expect("checked");
                    if let Some(prev) = &reset_th
                        && (prev.1 != r.1 || !prev.0.iter().zip(&r.0).all(|(x, y)| close(*x, *y)))
                    {
                        return Err(unrecognised(self, "two different reset conditions".into()));
                    }
                    reset_th = Some(r);
                    match a {
                        Atom::Heav(_) => add(&mut delta, c),
                        Atom::Prod(_, x) if **x == Atom::Leaf(s) => add(&mut gamma, c),
                        _ => {
                            return Err(unrecognised(
                                self,
                                "the reset multiplies something other than the membrane".into(),
                            ));
                        }
                    }
                }
                Atom::Prod(_, x) if **x == Atom::Leaf(s) => {
                    return Err(unrecognised(
                        self,
                        "the membrane is multiplied by a comparison that is not its own reset condition".into(),
                    ));
                }
                Atom::Leaf(i) if self.state.contains_key(i) => {
                    return Err(unrecognised(self, format!("it also reads state '{}'", self.im.leaves[*i].name)));
                }
                _ => syn.push((a.clone(), c.clone())),
            }
        }
        if syn.is_empty() {
            return Err(unrecognised(self, "it has no synaptic input".into()));
        }
        let has_reset = gamma.iter().chain(&delta).any(|&v| v != 0.0);
        let beta = alpha;
        let mut v_reset = vec![0.0; len];
        if let Some(th) = &threshold {
            self.fire_rule(or_equal, at)?;
            if let Some((rt, req)) = &reset_th
                && (*req != or_equal || !rt.iter().zip(th).all(|(x, y)| close(*x, *y)))
            {
                return Err(unrecognised(
                    self,
                    "the reset condition differs from the firing condition (threshold or >/>=)".into(),
                ));
            }
            let mut allowed = vec![ResetMode::Zero, ResetMode::SubtractUndecayed, ResetMode::Subtract];
            for j in 0..len {
                let (a, gm, d, t) = (beta[j], gamma[j], delta[j], th[j]);
                let zero = close(gm, -a) && (a != 0.0 || d == 0.0);
                let und = gm == 0.0 && close(d, -t);
                let sub = gm == 0.0 && close(d, -a * t);
                if zero && a != 0.0 {
                    v_reset[j] = d / a;
                }
                allowed.retain(|m| match m {
                    ResetMode::Zero => zero,
                    ResetMode::SubtractUndecayed => und,
                    ResetMode::Subtract => sub,
                });
                if allowed.is_empty() {
                    let why = if gm == 0.0 && d == 0.0 {
                        "the membrane is not reset after a spike (snnTorch reset_mechanism='none'), which spikefab's \
                         neurons cannot express"
                            .to_string()
                    } else {
                        format!(
                            "element {j}: decay {a}, reset terms {gm}*H*v and {d}*H with threshold {t} match none of the \
                             resets zero, subtract, subtract-undecayed"
                        )
                    };
                    return Err(unrecognised(self, why));
                }
            }
            let modes: Vec<String> = allowed.iter().map(|m| m.to_string()).collect();
            match &mut self.resets {
                None => self.resets = Some((allowed, name.clone())),
                Some((set, first)) => {
                    let both: Vec<ResetMode> = set.iter().copied().filter(|m| allowed.contains(m)).collect();
                    if both.is_empty() {
                        let theirs: Vec<String> = set.iter().map(|m| m.to_string()).collect();
                        return Err(FrontError::at(
                            self.path,
                            out_at,
                            None,
                            format!(
                                "neuron '{name}' resets by {} but neuron '{first}' by {}; spikefab needs one reset mode \
                                 for the whole model",
                                modes.join(" or "),
                                theirs.join(" or ")
                            ),
                        ));
                    }
                    *set = both;
                }
            }
        } else if has_reset {
            return Err(unrecognised(self, "the membrane is reset but also read as a value".into()));
        }
        // Scales of single-use layers (BatchNorm, Mul/Div by constants) go into their weights;
        // the input gain is the common coefficient of what remains.
        for (a, c) in &mut syn {
            if let Atom::Layer(id) = a
                && self.uses.get(id) == Some(&1)
                && c.iter().any(|&v| v != 1.0)
                && self.fold_scale(*id, c)
            {
                c.iter_mut().for_each(|v| *v = 1.0);
            }
        }
        let first = syn[0].1.clone();
        let gain = if !first.contains(&0.0) && syn.iter().all(|(_, c)| c.iter().zip(&first).all(|(x, y)| close(*x, *y)))
        {
            first
        } else {
            vec![1.0; len]
        };
        for (_, c) in &mut syn {
            for (x, g) in c.iter_mut().zip(&gain) {
                *x /= g;
                if close(*x, 1.0) {
                    *x = 1.0;
                }
            }
        }
        let mut v_leak = vec![0.0; len];
        if m.has_bias() {
            let per_input: Vec<f64> = m.bias.iter().zip(&gain).map(|(b, g)| b / g).collect();
            if !self.fold_bias(&mut syn, &per_input)? {
                if beta.contains(&1.0) {
                    return Err(unrecognised(
                        self,
                        "a constant input without decay or a layer bias to absorb it".into(),
                    ));
                }
                // v = beta*v + (1 - beta)*v_leak + g*I, so a constant drive b is v_leak = b/(1 - beta).
                v_leak = m.bias.iter().zip(&beta).map(|(b, a)| b / (1.0 - a)).collect();
            }
        }
        let mut srcs = Vec::with_capacity(syn.len());
        for (a, c) in &syn {
            srcs.push(self.scaled(a, c, &m.shape, &out_at, None)?);
        }
        let shape = &m.shape;
        let integrator = beta.iter().all(|&b| b == 1.0);
        if !integrator && beta.contains(&1.0) {
            return Err(unrecognised(self, "some elements decay and others do not (beta = 1)".into()));
        }
        let tau: Vec<f64> = beta.iter().map(|b| DT / (1.0 - b)).collect();
        let op = match (&threshold, integrator) {
            (Some(th), true) => {
                if v_leak.iter().any(|&v| v != 0.0) {
                    return Err(unrecognised(self, "an integrate-and-fire neuron with a leak target".into()));
                }
                Op::IF {
                    r: param(&gain.iter().map(|g| g / DT).collect::<Vec<_>>(), shape),
                    v_threshold: param(th, shape),
                    v_reset: param(&v_reset, shape),
                }
            }
            (Some(th), false) => Op::LIF {
                tau: param(&tau, shape),
                r: param(&gain.iter().zip(&tau).map(|(g, t)| g * t / DT).collect::<Vec<_>>(), shape),
                v_leak: param(&v_leak, shape),
                v_threshold: param(th, shape),
                v_reset: param(&v_reset, shape),
            },
            (None, true) => Op::I { r: param(&gain.iter().map(|g| g / DT).collect::<Vec<_>>(), shape) },
            (None, false) => Op::LI {
                tau: param(&tau, shape),
                r: param(&gain.iter().zip(&tau).map(|(g, t)| g * t / DT).collect::<Vec<_>>(), shape),
                v_leak: param(&v_leak, shape),
            },
        };
        let node = self.add_node(&name, op);
        for s in srcs {
            self.g.add_edge(s, node);
        }
        self.ir_shape.insert(node, shape.clone());
        self.busy_neurons.remove(&n);
        self.neuron_node.insert(n, Built { node, threshold, or_equal });
        Ok(node)
    }
}
