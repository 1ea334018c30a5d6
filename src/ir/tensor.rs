//! Dense parameter tensors that remember the dtype they were read with.
//!
//! An `F32` tensor stores `f32` values and an `F64` tensor `f64` values; both read as `f64`
//! (widening f32 is lossless, so an `F32` tensor's original bits are always recovered). The
//! values are shared between clones: a model copied by a pass costs its shapes, not its weights.
//! A tensor of one repeated value (a per-neuron time constant, as exporters write them) is
//! stored as that value once.

use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Element type of a tensor as stored in the source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    /// 32-bit float.
    F32,
    /// 64-bit float.
    F64,
}

/// The stored values, in the tensor's dtype.
#[derive(Clone, Debug)]
enum Values {
    F32(Arc<[f32]>),
    F64(Arc<[f64]>),
    /// `len` copies of one value (exactly an f32 for dtype F32).
    Fill {
        v: f64,
        len: usize,
        dtype: DType,
    },
}

impl PartialEq for Values {
    fn eq(&self, o: &Values) -> bool {
        match (self, o) {
            (Values::F32(a), Values::F32(b)) => a == b,
            (Values::F64(a), Values::F64(b)) => a == b,
            _ => self.dtype() == o.dtype() && self.len() == o.len() && self.iter().eq(o.iter()),
        }
    }
}

impl Values {
    fn dtype(&self) -> DType {
        match self {
            Values::F32(_) => DType::F32,
            Values::F64(_) => DType::F64,
            Values::Fill { dtype, .. } => *dtype,
        }
    }

    fn len(&self) -> usize {
        match self {
            Values::F32(v) => v.len(),
            Values::F64(v) => v.len(),
            Values::Fill { len, .. } => *len,
        }
    }

    fn iter(&self) -> TensorIter<'_> {
        self.slice(0..self.len())
    }

    fn slice(&self, range: std::ops::Range<usize>) -> TensorIter<'_> {
        match self {
            Values::F32(v) => TensorIter::F32(v[range].iter()),
            Values::F64(v) => TensorIter::F64(v[range].iter()),
            Values::Fill { v, len, .. } => {
                assert!(range.start <= range.end && range.end <= *len, "range {range:?} of {len} values");
                TensorIter::Fill(*v, range.end - range.start)
            }
        }
    }
}

/// `v`'s single repeated value, when it has more than one element and all are the same bits.
fn repeated<T: Copy + Into<f64>>(v: &[T], bits: impl Fn(T) -> u64) -> Option<f64> {
    let first = *v.first()?;
    (v.len() > 1 && v.iter().all(|&x| bits(x) == bits(first))).then(|| first.into())
}

/// A dense, row-major (C order) tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    /// Shape; empty for a scalar. `shape.iter().product() == numel()`.
    pub shape: Vec<usize>,
    values: Values,
}

/// The values of a tensor as `f64`, in C order.
#[derive(Clone, Debug)]
pub enum TensorIter<'a> {
    /// From f32 storage.
    F32(std::slice::Iter<'a, f32>),
    /// From f64 storage.
    F64(std::slice::Iter<'a, f64>),
    /// A value repeated this many times.
    Fill(f64, usize),
}

impl Iterator for TensorIter<'_> {
    type Item = f64;

    #[inline]
    fn next(&mut self) -> Option<f64> {
        match self {
            TensorIter::F32(i) => i.next().map(|&v| v as f64),
            TensorIter::F64(i) => i.next().copied(),
            TensorIter::Fill(v, n) => (*n > 0).then(|| {
                *n -= 1;
                *v
            }),
        }
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            TensorIter::F32(i) => i.size_hint(),
            TensorIter::F64(i) => i.size_hint(),
            TensorIter::Fill(_, n) => (*n, Some(*n)),
        }
    }
}

impl ExactSizeIterator for TensorIter<'_> {}

impl DoubleEndedIterator for TensorIter<'_> {
    #[inline]
    fn next_back(&mut self) -> Option<f64> {
        match self {
            TensorIter::F32(i) => i.next_back().map(|&v| v as f64),
            TensorIter::F64(i) => i.next_back().copied(),
            TensorIter::Fill(v, n) => (*n > 0).then(|| {
                *n -= 1;
                *v
            }),
        }
    }
}

impl Tensor {
    /// A tensor of `dtype` from f64 values, rounded to f32 when `dtype` is `F32`.
    pub fn new(dtype: DType, shape: Vec<usize>, data: Vec<f64>) -> Self {
        match dtype {
            DType::F32 => Tensor::f32_vec(shape, data.iter().map(|&v| v as f32).collect()),
            DType::F64 => Tensor::f64(shape, data),
        }
    }

    /// A tensor from f64 values (dtype F64).
    pub fn f64(shape: Vec<usize>, data: Vec<f64>) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        let values = match repeated(&data, f64::to_bits) {
            Some(v) => Values::Fill { v, len: data.len(), dtype: DType::F64 },
            None => Values::F64(data.into()),
        };
        Tensor { shape, values }
    }

    /// A tensor from f32 values (dtype F32).
    pub fn f32(shape: Vec<usize>, data: &[f32]) -> Self {
        Tensor::f32_vec(shape, data.to_vec())
    }

    /// A tensor from owned f32 values (dtype F32).
    pub fn f32_vec(shape: Vec<usize>, data: Vec<f32>) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        let values = match repeated(&data, |x: f32| x.to_bits() as u64) {
            Some(v) => Values::Fill { v, len: data.len(), dtype: DType::F32 },
            None => Values::F32(data.into()),
        };
        Tensor { shape, values }
    }

    /// A scalar.
    pub fn scalar(dtype: DType, v: f64) -> Self {
        Tensor::new(dtype, vec![], vec![v])
    }

    /// A tensor filled with one value.
    pub fn full(dtype: DType, shape: Vec<usize>, v: f64) -> Self {
        let n = shape.iter().product();
        match dtype {
            DType::F32 => Tensor::f32_vec(shape, vec![v as f32; n]),
            DType::F64 => Tensor::f64(shape, vec![v; n]),
        }
    }

    /// A tensor of this one's dtype and `shape` from f64 values (rounded to the dtype).
    pub fn like(&self, shape: Vec<usize>, data: Vec<f64>) -> Self {
        Tensor::new(self.dtype(), shape, data)
    }

    /// Stored dtype.
    pub fn dtype(&self) -> DType {
        self.values.dtype()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.values.len()
    }

    /// True for a single-element tensor (shape `[]`, `[1]`, `[1,1]`...).
    pub fn is_scalar(&self) -> bool {
        self.numel() == 1
    }

    /// Element `i`, broadcasting a single-element tensor.
    #[inline]
    pub fn at(&self, i: usize) -> f64 {
        match &self.values {
            Values::F32(v) => (if v.len() == 1 { v[0] } else { v[i] }) as f64,
            Values::F64(v) => {
                if v.len() == 1 {
                    v[0]
                } else {
                    v[i]
                }
            }
            Values::Fill { v, len, .. } => {
                assert!(i < *len, "element {i} of {len}");
                *v
            }
        }
    }

    /// The values as f64, in C order.
    #[inline]
    pub fn iter(&self) -> TensorIter<'_> {
        self.values.iter()
    }

    /// The values of elements `range` as f64.
    pub fn slice(&self, range: std::ops::Range<usize>) -> TensorIter<'_> {
        self.values.slice(range)
    }

    /// The values as a new f64 vector.
    pub fn to_vec(&self) -> Vec<f64> {
        self.iter().collect()
    }

    /// The values as f32 (exact for an F32 tensor).
    pub fn to_f32_vec(&self) -> Vec<f32> {
        self.iter().map(|v| v as f32).collect()
    }

    /// Applies `f` to every value, rounding the results to the dtype.
    pub fn map(&self, f: impl Fn(f64) -> f64) -> Tensor {
        Tensor::new(self.dtype(), self.shape.clone(), self.iter().map(f).collect())
    }

    /// Element `i` formatted as its stored dtype prints it (`0.001`, not `0.0010000000474974513`).
    pub fn show(&self, i: usize) -> String {
        match self.dtype() {
            DType::F32 => format!("{}", self.at(i) as f32),
            DType::F64 => format!("{}", self.at(i)),
        }
    }

    /// True when every value is finite.
    pub fn all_finite(&self) -> bool {
        self.iter().all(|v| v.is_finite())
    }
}

#[derive(Serialize)]
struct TensorOut<'a> {
    dtype: DType,
    shape: &'a [usize],
    data: TensorData<'a>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum TensorData<'a> {
    F32(&'a [f32]),
    F64(&'a [f64]),
    Owned32(Vec<f32>),
    Owned64(Vec<f64>),
}

#[derive(Deserialize)]
struct TensorIn {
    dtype: DType,
    shape: Vec<usize>,
    data: Vec<f64>,
}

impl Serialize for Tensor {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // f32 tensors are written as f32 so the JSON shows the short decimal the file had.
        let data = match &self.values {
            Values::F32(v) => TensorData::F32(v),
            Values::F64(v) => TensorData::F64(v),
            Values::Fill { dtype: DType::F32, .. } => TensorData::Owned32(self.to_f32_vec()),
            Values::Fill { dtype: DType::F64, .. } => TensorData::Owned64(self.to_vec()),
        };
        TensorOut { dtype: self.dtype(), shape: &self.shape, data }.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Tensor {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = TensorIn::deserialize(d)?;
        let n = r.shape.iter().try_fold(1usize, |a, &b| a.checked_mul(b));
        if n != Some(r.data.len()) {
            return Err(serde::de::Error::custom(format!(
                "tensor of shape {:?} does not match its {} values",
                r.shape,
                r.data.len()
            )));
        }
        // "0.1" in an F32 tensor becomes the f32 nearest 0.1, as written.
        Ok(Tensor::new(r.dtype, r.shape, r.data))
    }
}

/// Output length of one convolution/pooling dimension (PyTorch formula), `None` if empty.
pub fn conv_out_len(input: usize, pad_total: usize, dilation: usize, kernel: usize, stride: usize) -> Option<usize> {
    let span = dilation.checked_mul(kernel.checked_sub(1)?)?.checked_add(1)?;
    let padded = input.checked_add(pad_total)?;
    if padded < span || stride == 0 {
        return None;
    }
    Some((padded - span) / stride + 1)
}

#[cfg(test)]
mod tests {
    use super::{DType, Tensor};

    #[test]
    fn a_repeated_value_reads_like_the_array() {
        let t = Tensor::f64(vec![2, 3], vec![0.25; 6]);
        assert_eq!((t.numel(), t.dtype(), t.to_vec()), (6, DType::F64, vec![0.25; 6]));
        assert_eq!(t.slice(2..5).collect::<Vec<_>>(), vec![0.25; 3]);
        assert_eq!(t, Tensor::new(DType::F64, vec![2, 3], vec![0.25; 6]));
        // -0.0 and 0.0 are different values.
        let z = Tensor::f32(vec![2], &[0.0, -0.0]);
        assert_eq!(z.iter().map(f64::to_bits).collect::<Vec<_>>(), vec![0.0f64.to_bits(), (-0.0f64).to_bits()]);
        // JSON writes every value, in the dtype.
        let f = Tensor::f32(vec![3], &[0.1, 0.1, 0.1]);
        let j = serde_json::to_string(&f).unwrap();
        assert_eq!(j, r#"{"dtype":"f32","shape":[3],"data":[0.1,0.1,0.1]}"#);
        assert_eq!(serde_json::from_str::<Tensor>(&j).unwrap(), f);
    }

    #[test]
    fn f32_tensors_round_and_widen_exactly() {
        let t = Tensor::new(DType::F32, vec![2], vec![0.1, 3.0]);
        assert_eq!(t.to_vec(), vec![0.1f32 as f64, 3.0]);
        assert_eq!(t.map(|x| x * 2.0).to_vec(), vec![(0.1f32 as f64 * 2.0) as f32 as f64, 6.0]);
        assert_eq!(t.show(0), "0.1");
    }
}
