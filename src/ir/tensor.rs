//! Dense parameter tensors that remember the dtype they were read with.
//!
//! Values are held as `f64`; an `F32` tensor holds only values exactly representable in `f32`
//! (the widening is lossless), so its original bits can always be recovered.

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

/// A dense, row-major (C order) tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    /// Stored dtype.
    pub dtype: DType,
    /// Shape; empty for a scalar.
    pub shape: Vec<usize>,
    /// Values in C order; `data.len() == shape.iter().product()`.
    pub data: Vec<f64>,
}

impl Tensor {
    /// A tensor from f64 values (dtype F64).
    pub fn f64(shape: Vec<usize>, data: Vec<f64>) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        Tensor { dtype: DType::F64, shape, data }
    }

    /// A tensor from f32 values (dtype F32).
    pub fn f32(shape: Vec<usize>, data: &[f32]) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        Tensor { dtype: DType::F32, shape, data: data.iter().map(|&x| x as f64).collect() }
    }

    /// A scalar.
    pub fn scalar(dtype: DType, v: f64) -> Self {
        let v = if dtype == DType::F32 { v as f32 as f64 } else { v };
        Tensor { dtype, shape: vec![], data: vec![v] }
    }

    /// A tensor filled with one value.
    pub fn full(dtype: DType, shape: Vec<usize>, v: f64) -> Self {
        let n = shape.iter().product();
        let v = if dtype == DType::F32 { v as f32 as f64 } else { v };
        Tensor { dtype, shape, data: vec![v; n] }
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.data.len()
    }

    /// True for a single-element tensor (shape `[]`, `[1]`, `[1,1]`...).
    pub fn is_scalar(&self) -> bool {
        self.data.len() == 1
    }

    /// Element `i`, broadcasting a single-element tensor.
    #[inline]
    pub fn at(&self, i: usize) -> f64 {
        if self.data.len() == 1 { self.data[0] } else { self.data[i] }
    }

    /// Rounds every value to the tensor's dtype (keeps the F32 invariant after arithmetic).
    pub fn normalise(&mut self) {
        if self.dtype == DType::F32 {
            for v in &mut self.data {
                *v = *v as f32 as f64;
            }
        }
    }

    /// Element `i` formatted as its stored dtype prints it (`0.001`, not `0.0010000000474974513`).
    pub fn show(&self, i: usize) -> String {
        match self.dtype {
            DType::F32 => format!("{}", self.at(i) as f32),
            DType::F64 => format!("{}", self.at(i)),
        }
    }

    /// True when every value is finite.
    pub fn all_finite(&self) -> bool {
        self.data.iter().all(|v| v.is_finite())
    }
}

#[derive(Serialize)]
struct TensorOut<'a> {
    dtype: DType,
    shape: &'a [usize],
    data: TensorData,
}

#[derive(Serialize)]
#[serde(untagged)]
enum TensorData {
    F32(Vec<f32>),
    F64(Vec<f64>),
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
        let data = match self.dtype {
            DType::F32 => TensorData::F32(self.data.iter().map(|&v| v as f32).collect()),
            DType::F64 => TensorData::F64(self.data.clone()),
        };
        TensorOut { dtype: self.dtype, shape: &self.shape, data }.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Tensor {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = TensorIn::deserialize(d)?;
        let data = match r.dtype {
            // Round through f32 so "0.1" becomes the f32 nearest 0.1, as written.
            DType::F32 => r.data.into_iter().map(|x| x as f32 as f64).collect(),
            DType::F64 => r.data,
        };
        let n = r.shape.iter().try_fold(1usize, |a, &b| a.checked_mul(b));
        if n != Some(data.len()) {
            return Err(serde::de::Error::custom(format!(
                "tensor of shape {:?} does not match its {} values",
                r.shape,
                data.len()
            )));
        }
        Ok(Tensor { dtype: r.dtype, shape: r.shape, data })
    }
}
