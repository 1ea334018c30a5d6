//! Values of the symbolic evaluation: constants ([`Arr`]) and runtime tensors ([`Lin`]).
//!
//! A runtime tensor is kept as a linear form over *atoms* with one constant coefficient per
//! element: `sum_a c_a * atom_a + bias`. Atoms are a graph input, a layer output, a Heaviside
//! step of another linear form (a comparison), or the product of a Heaviside with an atom.
//! Elementwise ONNX arithmetic (Add, Sub, Mul, Div by constants, Where on a comparison) stays
//! inside this algebra, so a neuron's update is recognised from what it computes rather than
//! from the order of the nodes that computed it. Shapes exclude the batch dimension.

use std::collections::BTreeSet;

/// Element type of a constant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Elem {
    F32,
    F64,
    F16,
    Int,
    Bool,
}

impl Elem {
    pub fn is_float(self) -> bool {
        matches!(self, Elem::F32 | Elem::F64 | Elem::F16)
    }

    /// Rounds an exact result to this type (ONNX computes each op in its input type).
    pub fn round(self, v: f64) -> f64 {
        match self {
            Elem::F32 => v as f32 as f64,
            Elem::F64 => v,
            Elem::F16 => half::f16::from_f64(v).to_f64(),
            Elem::Int => v.trunc(),
            Elem::Bool => (v != 0.0) as u8 as f64,
        }
    }

    /// The type of a binary op's result.
    pub fn join(self, o: Elem) -> Elem {
        use Elem::*;
        match (self, o) {
            (F64, _) | (_, F64) => F64,
            (F32, _) | (_, F32) => F32,
            (F16, _) | (_, F16) => F16,
            (Int, _) | (_, Int) => Int,
            _ => Bool,
        }
    }
}

/// A constant tensor (C order, shape with every dimension the file states).
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Arr {
    pub elem: Elem,
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

fn numel(s: &[usize]) -> usize {
    s.iter().product()
}

/// Element count, `None` past [`crate::front::MAX_ELEMENTS`].
pub(super) fn checked_numel(s: &[usize]) -> Option<usize> {
    s.iter()
        .try_fold(1u64, |a, &d| a.checked_mul(d as u64))
        .filter(|&n| n <= crate::front::MAX_ELEMENTS)
        .map(|n| n as usize)
}

/// numpy broadcast of two shapes.
pub(super) fn broadcast_shapes(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let r = a.len().max(b.len());
    let mut out = vec![0; r];
    for i in 0..r {
        let x = if i + a.len() >= r { a[i + a.len() - r] } else { 1 };
        let y = if i + b.len() >= r { b[i + b.len() - r] } else { 1 };
        out[i] = match (x, y) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

/// Index into a tensor of shape `src` broadcast to `dst` (same rank after left-padding).
fn broadcast_index(src: &[usize], dst: &[usize], flat: usize) -> usize {
    let pad = dst.len() - src.len();
    let mut rem = flat;
    let mut idx = 0;
    let mut stride = 1;
    for d in (0..dst.len()).rev() {
        let coord = rem % dst[d];
        rem /= dst[d];
        if d >= pad {
            let s = src[d - pad];
            if s != 1 {
                idx += coord * stride;
            }
            stride *= s;
        }
    }
    idx
}

impl Arr {
    pub fn scalar(elem: Elem, v: f64) -> Arr {
        Arr { elem, shape: vec![], data: vec![v] }
    }

    pub fn numel(&self) -> usize {
        self.data.len()
    }

    /// Elementwise binary op with numpy broadcasting, rounded to the joined type.
    pub fn zip(&self, o: &Arr, f: impl Fn(f64, f64) -> f64) -> Result<Arr, String> {
        let shape = broadcast_shapes(&self.shape, &o.shape)
            .ok_or_else(|| format!("shapes {:?} and {:?} do not broadcast", self.shape, o.shape))?;
        let elem = self.elem.join(o.elem);
        let n = checked_numel(&shape).ok_or_else(|| {
            format!("broadcasting {:?} with {:?} gives a tensor that is too large", self.shape, o.shape)
        })?;
        let data = (0..n)
            .map(|i| {
                let a = self.data[broadcast_index(&self.shape, &shape, i)];
                let b = o.data[broadcast_index(&o.shape, &shape, i)];
                elem.round(f(a, b))
            })
            .collect();
        Ok(Arr { elem, shape, data })
    }

    pub fn map(&self, f: impl Fn(f64) -> f64) -> Arr {
        Arr {
            elem: self.elem,
            shape: self.shape.clone(),
            data: self.data.iter().map(|&v| self.elem.round(f(v))).collect(),
        }
    }

    /// Values as integers (shapes, axes); floats must be integral.
    pub fn ints(&self) -> Result<Vec<i64>, String> {
        self.data
            .iter()
            .map(|&v| {
                if v.fract() == 0.0 && v.abs() < 9.3e18 {
                    Ok(v as i64)
                } else {
                    Err(format!("expected integers, found {v}"))
                }
            })
            .collect()
    }

    /// This constant expanded to a per-sample runtime shape `p`: a leading batch dimension
    /// of 1 is dropped, the rest broadcasts into `p` without growing it.
    pub fn expand_to(&self, p: &[usize]) -> Result<Vec<f64>, String> {
        let mut cs: &[usize] = &self.shape;
        if cs.len() == p.len() + 1 {
            if cs[0] != 1 {
                return Err(format!(
                    "constant of shape {:?} does not broadcast to a runtime tensor of shape (batch, {})",
                    self.shape,
                    fmt_shape(p)
                ));
            }
            cs = &cs[1..];
        }
        if cs.len() > p.len() || broadcast_shapes(cs, p).as_deref() != Some(p) {
            return Err(format!(
                "constant of shape {:?} does not broadcast to a runtime tensor of shape (batch, {})",
                self.shape,
                fmt_shape(p)
            ));
        }
        Ok((0..numel(p)).map(|i| self.data[broadcast_index(cs, p, i)]).collect())
    }
}

fn fmt_shape(p: &[usize]) -> String {
    p.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")
}

/// A term of a linear form.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum Atom {
    /// Graph input by position among the non-initializer inputs.
    Leaf(usize),
    /// Output of layer `k`.
    Layer(usize),
    /// 0/1 step of Heaviside `k`.
    Heav(usize),
    /// Heaviside `k` times an atom that is neither a Heaviside nor a product.
    Prod(usize, Box<Atom>),
}

/// A runtime tensor: `sum(coef * atom) + bias`, elementwise over `shape`.
#[derive(Clone, Debug)]
pub(super) struct Lin {
    pub shape: Vec<usize>,
    pub terms: Vec<(Atom, Vec<f64>)>,
    pub bias: Vec<f64>,
    /// Known to hold only 0 and 1 (a comparison or logic on comparisons).
    pub boolean: bool,
    /// ONNX nodes (by position) whose elementwise arithmetic this value went through.
    pub nodes: BTreeSet<usize>,
}

impl Lin {
    /// `1 * atom`.
    pub fn atom(a: Atom, shape: Vec<usize>) -> Lin {
        let n = numel(&shape);
        Lin { terms: vec![(a, vec![1.0; n])], bias: vec![0.0; n], shape, boolean: false, nodes: BTreeSet::new() }
    }

    /// A constant as a (term-free) form.
    pub fn konst(shape: Vec<usize>, bias: Vec<f64>) -> Lin {
        Lin { shape, terms: vec![], bias, boolean: false, nodes: BTreeSet::new() }
    }

    pub fn numel(&self) -> usize {
        self.bias.len()
    }

    pub fn has_bias(&self) -> bool {
        self.bias.iter().any(|&b| b != 0.0)
    }

    fn same_shape(&self, o: &Lin) -> Result<(), String> {
        if self.shape != o.shape {
            return Err(format!(
                "runtime tensors of shapes (batch, {}) and (batch, {}) cannot be combined elementwise",
                fmt_shape(&self.shape),
                fmt_shape(&o.shape)
            ));
        }
        Ok(())
    }

    fn push_term(&mut self, a: Atom, c: Vec<f64>) {
        if let Some((_, have)) = self.terms.iter_mut().find(|(x, _)| *x == a) {
            for (h, v) in have.iter_mut().zip(&c) {
                *h += v;
            }
        } else {
            self.terms.push((a, c));
        }
    }

    fn tidy(mut self) -> Lin {
        self.terms.retain(|(_, c)| c.iter().any(|&v| v != 0.0));
        self
    }

    pub fn add(&self, o: &Lin) -> Result<Lin, String> {
        self.same_shape(o)?;
        let mut r = self.clone();
        r.boolean = false;
        for (a, c) in &o.terms {
            r.push_term(a.clone(), c.clone());
        }
        for (b, v) in r.bias.iter_mut().zip(&o.bias) {
            *b += v;
        }
        r.nodes.extend(&o.nodes);
        Ok(r.tidy())
    }

    /// Multiplies every coefficient and the bias by `k` (one value per element).
    pub fn scale(&self, k: &[f64]) -> Lin {
        let mut r = self.clone();
        r.boolean = false;
        for (_, c) in &mut r.terms {
            for (v, s) in c.iter_mut().zip(k) {
                *v *= s;
            }
        }
        for (v, s) in r.bias.iter_mut().zip(k) {
            *v *= s;
        }
        r.tidy()
    }

    pub fn neg(&self) -> Lin {
        self.scale(&vec![-1.0; self.numel()])
    }

    pub fn sub(&self, o: &Lin) -> Result<Lin, String> {
        self.add(&o.neg())
    }

    /// Elementwise product; two runtime factors multiply only where one is a Heaviside step.
    pub fn mul(&self, o: &Lin) -> Result<Lin, String> {
        self.same_shape(o)?;
        if o.terms.is_empty() {
            let mut r = self.scale(&o.bias);
            r.nodes.extend(&o.nodes);
            return Ok(r);
        }
        if self.terms.is_empty() {
            let mut r = o.scale(&self.bias);
            r.nodes.extend(&self.nodes);
            return Ok(r);
        }
        let n = self.numel();
        let mut r = Lin::konst(self.shape.clone(), self.bias.iter().zip(&o.bias).map(|(a, b)| a * b).collect());
        for (a, ca) in &self.terms {
            for (b, cb) in &o.terms {
                let atom = atom_mul(a, b)?;
                r.push_term(atom, (0..n).map(|i| ca[i] * cb[i]).collect());
            }
            r.push_term(a.clone(), (0..n).map(|i| ca[i] * o.bias[i]).collect());
        }
        for (b, cb) in &o.terms {
            r.push_term(b.clone(), (0..n).map(|i| cb[i] * self.bias[i]).collect());
        }
        r.boolean = self.boolean && o.boolean;
        r.nodes = self.nodes.clone();
        r.nodes.extend(&o.nodes);
        Ok(r.tidy())
    }

    /// Every atom, including those inside products.
    pub fn atoms(&self) -> impl Iterator<Item = &Atom> {
        self.terms.iter().flat_map(|(a, _)| {
            let inner = match a {
                Atom::Prod(_, x) => Some(x.as_ref()),
                _ => None,
            };
            std::iter::once(a).chain(inner)
        })
    }

    /// Same atoms with the same coefficients (bias ignored).
    pub fn same_terms(&self, o: &Lin) -> bool {
        self.shape == o.shape
            && self.terms.len() == o.terms.len()
            && self
                .terms
                .iter()
                .all(|(a, c)| o.terms.iter().any(|(b, d)| a == b && c.iter().zip(d).all(|(x, y)| close(*x, *y))))
    }
}

fn atom_mul(a: &Atom, b: &Atom) -> Result<Atom, String> {
    use Atom::*;
    Ok(match (a, b) {
        (Heav(h), Heav(g)) if h == g => Heav(*h),
        (Heav(h), Prod(g, x)) | (Prod(g, x), Heav(h)) if h == g => Prod(*g, x.clone()),
        (Heav(h), x @ (Leaf(_) | Layer(_))) | (x @ (Leaf(_) | Layer(_)), Heav(h)) => Prod(*h, Box::new(x.clone())),
        _ => {
            return Err("multiplies two runtime tensors; only a spike or reset indicator (a comparison) may \
                        multiply a runtime tensor"
                .into());
        }
    })
}

/// Equality of coefficients computed along different (f64) paths from the same constants.
pub(super) fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}
