//! Data that every stage shares: input batches and recorded outputs as `.npy` arrays, labels,
//! and class decoding. Depends on nothing but [`crate::limits`].
//!
//! Inputs: `N x input_shape` or `N x numel` (direct encoding: the same values every step), or
//! `N x T x input_shape` / `N x T x numel` (per-step). Outputs: `N x T x output_shape`,
//! uint8 for spikes and float32 for membranes or currents.

use std::path::{Path, PathBuf};

use npyz::WriterBuilder;

/// An `.npy` problem.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct IoError {
    /// The file.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

fn err(path: &Path, message: impl Into<String>) -> IoError {
    IoError { path: path.into(), message: message.into() }
}

/// A numeric `.npy` array read as f64.
pub struct Array {
    /// Shape.
    pub shape: Vec<usize>,
    /// Values, C order.
    pub data: Vec<f64>,
}

/// Largest array accepted (elements).
const MAX_ARRAY: u64 = 1 << 31;

/// Reads a numeric `.npy` file (bool, int, uint, float of any width).
pub fn read_npy(path: &Path) -> Result<Array, IoError> {
    let bytes = std::fs::read(path).map_err(|e| err(path, format!("cannot read: {e}")))?;
    read_npy_bytes(path, &bytes)
}

/// Parses the contents of a `.npy` file; `path` only names the file in errors.
pub fn read_npy_bytes(path: &Path, bytes: &[u8]) -> Result<Array, IoError> {
    let data_start = header_end(path, bytes)?;
    let npy = npyz::NpyFile::new(bytes).map_err(|e| err(path, format!("not a valid .npy file: {e}")))?;
    if npy.order() != npyz::Order::C {
        return Err(err(path, "Fortran-order arrays are not supported; save with np.ascontiguousarray"));
    }
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let total = npy.shape().iter().try_fold(1u64, |a, &b| a.checked_mul(b));
    if total.is_none_or(|t| t > MAX_ARRAY) {
        return Err(err(path, format!("array of shape {shape:?} is too large")));
    }
    crate::limits::check_bytes(|| format!("reading an array of shape {shape:?}"), total.unwrap_or(u64::MAX), 8)
        .map_err(|e| err(path, e.to_string()))?;
    let npyz::DType::Plain(ts) = npy.dtype() else {
        return Err(err(path, "structured arrays are not supported; expected a plain numeric array"));
    };
    use npyz::TypeChar as C;
    let size = ts.size_field();
    let have = (bytes.len() - data_start) as u64;
    if let Some(need) = total.and_then(|t| t.checked_mul(size)).filter(|&need| need > have) {
        return Err(err(
            path,
            format!("shape {shape:?} of {ts} needs {need} bytes of data, the file holds {have} (truncated?)"),
        ));
    }
    let bad = |e: std::io::Error| err(path, format!("cannot decode data: {e}"));
    let data: Vec<f64> = match (ts.type_char(), size) {
        (C::Bool, 1) => npy.into_vec::<bool>().map_err(bad)?.into_iter().map(|b| b as u8 as f64).collect(),
        (C::Float, 4) => npy.into_vec::<f32>().map_err(bad)?.into_iter().map(f64::from).collect(),
        (C::Float, 8) => npy.into_vec::<f64>().map_err(bad)?,
        (C::Int, 1) => npy.into_vec::<i8>().map_err(bad)?.into_iter().map(f64::from).collect(),
        (C::Int, 2) => npy.into_vec::<i16>().map_err(bad)?.into_iter().map(f64::from).collect(),
        (C::Int, 4) => npy.into_vec::<i32>().map_err(bad)?.into_iter().map(f64::from).collect(),
        (C::Int, 8) => npy.into_vec::<i64>().map_err(bad)?.into_iter().map(|v| v as f64).collect(),
        (C::Uint, 1) => npy.into_vec::<u8>().map_err(bad)?.into_iter().map(f64::from).collect(),
        (C::Uint, 2) => npy.into_vec::<u16>().map_err(bad)?.into_iter().map(f64::from).collect(),
        (C::Uint, 4) => npy.into_vec::<u32>().map_err(bad)?.into_iter().map(f64::from).collect(),
        (C::Uint, 8) => npy.into_vec::<u64>().map_err(bad)?.into_iter().map(|v| v as f64).collect(),
        _ => {
            return Err(err(path, format!("unsupported dtype {ts}; expected bool, int, uint or float")));
        }
    };
    if let Some(i) = data.iter().position(|v| !v.is_finite()) {
        return Err(err(path, format!("element {i} is {}; inputs must be finite", data[i])));
    }
    // The reference engine runs in f32: a value f32 cannot hold would silently become infinite.
    if let Some(i) = data.iter().position(|v| v.abs() > f64::from(f32::MAX)) {
        return Err(err(
            path,
            format!("element {i} is {:e}, beyond the f32 range (+-{:e}) the engines compute in", data[i], f32::MAX),
        ));
    }
    Ok(Array { shape, data })
}

/// Where the data of a `.npy` file starts, checking the header length the file declares
/// against its size before anything is allocated for it (npyz allocates it unchecked).
fn header_end(path: &Path, bytes: &[u8]) -> Result<usize, IoError> {
    const MAGIC: &[u8] = b"\x93NUMPY";
    if bytes.len() < 10 || !bytes.starts_with(MAGIC) {
        return Err(err(path, "not a valid .npy file: the \\x93NUMPY signature is missing or the file is truncated"));
    }
    let (len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12),
        v => {
            return Err(err(
                path,
                format!("not a valid .npy file: unsupported format version {v} or truncated header"),
            ));
        }
    };
    if len > bytes.len() - start {
        return Err(err(
            path,
            format!("not a valid .npy file: the header declares {len} bytes, the file holds {}", bytes.len() - start),
        ));
    }
    // npyz's header parser takes time exponential in the bracket nesting (a 118-deep header
    // ran for minutes): a plain array's header nests 2 deep, structured ones (refused
    // anyway) a few more.
    let mut depth = 0usize;
    for &b in &bytes[start..start + len] {
        match b {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth > MAX_HEADER_NESTING {
            return Err(err(
                path,
                format!("not a valid .npy file: the header nests brackets deeper than {MAX_HEADER_NESTING}"),
            ));
        }
    }
    // npyz multiplies the dimensions (and their strides) unchecked: refuse a shape whose
    // non-zero dimensions overflow u64 before it sees it. Every digit run of the tuple after
    // 'shape' counts, a superset of the dimensions whatever literal syntax the parser takes.
    let header = String::from_utf8_lossy(&bytes[start..start + len]);
    if let Some(k) = header.find("'shape'").or_else(|| header.find("\"shape\"")) {
        let rest = &header[k..];
        if let Some(tuple) = rest.find('(').map(|a| &rest[a + 1..]).map(|t| &t[..t.find(')').unwrap_or(t.len())]) {
            let product =
                tuple.split(|c: char| !c.is_ascii_digit()).filter(|d| !d.is_empty()).try_fold(1u64, |a, d| {
                    match d.parse::<u64>().ok()? {
                        0 => Some(a),
                        v => a.checked_mul(v),
                    }
                });
            if product.is_none() {
                return Err(err(
                    path,
                    format!("the header's shape ({}) has dimensions whose product passes 2^64", tuple.trim()),
                ));
            }
        }
    }
    Ok(start + len)
}

/// Deepest bracket nesting accepted in an `.npy` header.
const MAX_HEADER_NESTING: usize = 6;

/// How a batch feeds the Input node.
#[derive(Clone, Debug, PartialEq)]
pub enum Encoding {
    /// The same input every step.
    Direct,
    /// One input per step; the array holds this many steps.
    PerStep(usize),
}

/// A batch of inputs matched to a model's Input node.
#[derive(Clone, Debug)]
pub struct InputBatch {
    /// Number of samples.
    pub n: usize,
    /// Elements per sample per step.
    pub numel: usize,
    /// Encoding.
    pub encoding: Encoding,
    /// Values: `n x numel` (direct) or `n x steps x numel` (per-step).
    pub data: Vec<f64>,
}

impl InputBatch {
    /// Interprets `a` for an Input of shape `shape`.
    pub fn from_array(path: &Path, a: Array, shape: &[usize]) -> Result<Self, IoError> {
        let numel: usize = shape.iter().product();
        let s = &a.shape;
        let n = *s.first().ok_or_else(|| err(path, "a 0-d array is not a batch"))?;
        let direct = (s.len() == 1 + shape.len() && s[1..] == *shape) || (s.len() == 2 && s[1] == numel);
        let per_step = (s.len() == 2 + shape.len() && s[2..] == *shape) || (s.len() == 3 && s[2] == numel);
        let encoding = if direct {
            Encoding::Direct
        } else if per_step {
            Encoding::PerStep(s[1])
        } else {
            return Err(err(
                path,
                format!(
                    "shape {s:?} does not fit the model input {shape:?}: expected N x {shape:?} or N x {numel} \
                     (same input every step), or N x T x {shape:?} (one input per step)"
                ),
            ));
        };
        if n == 0 {
            return Err(err(path, "the batch is empty"));
        }
        if matches!(encoding, Encoding::PerStep(0)) {
            return Err(err(path, "the batch has zero timesteps"));
        }
        Ok(InputBatch { n, numel, encoding, data: a.data })
    }

    /// Reads and interprets a `.npy` input file.
    pub fn load(path: &Path, shape: &[usize]) -> Result<Self, IoError> {
        Self::from_array(path, read_npy(path)?, shape)
    }

    /// The input of sample `i` at step `t` (0-based).
    pub fn at(&self, i: usize, t: usize) -> &[f64] {
        match self.encoding {
            Encoding::Direct => &self.data[i * self.numel..(i + 1) * self.numel],
            Encoding::PerStep(steps) => {
                let o = (i * steps + t) * self.numel;
                &self.data[o..o + self.numel]
            }
        }
    }

    /// Samples `r` (a range within `0..n`).
    pub fn range(&self, r: std::ops::Range<usize>) -> InputBatch {
        let per = self.data.len() / self.n;
        let n = r.len();
        InputBatch {
            n,
            numel: self.numel,
            encoding: self.encoding.clone(),
            data: self.data[r.start * per..r.end * per].to_vec(),
        }
    }

    /// The first `n` samples.
    pub fn take(&self, n: usize) -> InputBatch {
        let n = n.min(self.n);
        let per = self.data.len() / self.n;
        InputBatch { n, numel: self.numel, encoding: self.encoding.clone(), data: self.data[..n * per].to_vec() }
    }

    /// Resolves the number of steps to run: per-step batches run their own length unless a
    /// shorter `requested` is given; direct batches need `requested`.
    pub fn steps(&self, requested: Option<usize>) -> Result<usize, StepsError> {
        match (&self.encoding, requested) {
            (Encoding::PerStep(s), None) => Ok(*s),
            (Encoding::PerStep(s), Some(t)) if t <= *s => Ok(t),
            (Encoding::PerStep(s), Some(t)) => Err(StepsError::BeyondInputs { asked: t, have: *s }),
            (Encoding::Direct, Some(t)) => Ok(t),
            (Encoding::Direct, None) => Err(StepsError::NeedTimesteps),
        }
    }
}

/// Why a batch cannot run the steps asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StepsError {
    /// More steps than per-step inputs hold.
    #[error("--timesteps {asked} exceeds the {have} steps in the per-step inputs")]
    BeyondInputs {
        /// Steps asked for.
        asked: usize,
        /// Steps the inputs hold.
        have: usize,
    },
    /// Direct-encoded inputs and no T.
    #[error("the inputs are direct-encoded (one value per input, applied every step): give --timesteps T")]
    NeedTimesteps,
}

/// Reads class labels (any integer dtype), checking the count.
pub fn load_labels(path: &Path, n: usize) -> Result<Vec<usize>, IoError> {
    let a = read_npy(path)?;
    if a.shape.len() != 1 || a.shape[0] != n {
        return Err(err(path, format!("expected {n} labels (shape [{n}]), found shape {:?}", a.shape)));
    }
    a.data
        .iter()
        .map(|&v| {
            if v >= 0.0 && v.fract() == 0.0 {
                Ok(v as usize)
            } else {
                Err(err(path, format!("label {v} is not a non-negative integer")))
            }
        })
        .collect()
}

/// Output values of a batch: `n x steps x numel`.
#[derive(Clone, Debug, PartialEq)]
pub struct Outputs {
    /// Samples.
    pub n: usize,
    /// Steps.
    pub steps: usize,
    /// Elements per step.
    pub numel: usize,
    /// Logical output shape.
    pub shape: Vec<usize>,
    /// True when the values are spikes (0/1).
    pub spikes: bool,
    /// Values, `n x steps x numel`.
    pub data: Vec<f64>,
}

impl Outputs {
    /// Values of sample `i` at step `t`.
    pub fn at(&self, i: usize, t: usize) -> &[f64] {
        let o = (i * self.steps + t) * self.numel;
        &self.data[o..o + self.numel]
    }

    /// Class of sample `i`: argmax over the first `steps` steps of the summed output, ties
    /// to the lowest index (numpy's argmax).
    pub fn class_at(&self, i: usize, steps: usize) -> usize {
        let mut sum = vec![0.0f64; self.numel];
        for t in 0..steps.min(self.steps) {
            for (s, v) in sum.iter_mut().zip(self.at(i, t)) {
                *s += v;
            }
        }
        argmax(&sum)
    }

    /// Class of every sample over all steps.
    pub fn classes(&self) -> Vec<usize> {
        (0..self.n).map(|i| self.class_at(i, self.steps)).collect()
    }

    /// Writes the `.npy` file: uint8 for spikes, float32 otherwise.
    pub fn write_npy(&self, path: &Path) -> Result<(), IoError> {
        let mut shape = vec![self.n, self.steps];
        shape.extend(&self.shape);
        let bytes = if self.spikes {
            npy_bytes(&shape, &self.data.iter().map(|&v| v as u8).collect::<Vec<_>>())
        } else {
            npy_bytes(&shape, &self.data.iter().map(|&v| v as f32).collect::<Vec<_>>())
        };
        std::fs::write(path, bytes).map_err(|e| err(path, format!("cannot write: {e}")))
    }
}

/// One `.npy` file in memory: `data` (C order) of `shape`, in `T`'s default dtype.
pub fn npy_bytes<T: npyz::Serialize + npyz::AutoSerialize + Copy>(shape: &[usize], data: &[T]) -> Vec<u8> {
    let mut buf = vec![];
    let shape: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    let mut w = npyz::WriteOptions::<T>::new()
        .default_dtype()
        .shape(&shape)
        .writer(std::io::Cursor::new(&mut buf))
        .begin_nd()
        .expect("writing into memory");
    w.extend(data.iter().copied()).expect("writing into memory");
    w.finish().expect("writing into memory");
    buf
}

/// Index of the largest value, ties to the lowest index.
pub fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// Fraction of `a`'s classes equal to `b`'s.
pub fn agreement(a: &[usize], b: &[usize]) -> f64 {
    if a.is_empty() {
        return 1.0;
    }
    a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / a.len() as f64
}
