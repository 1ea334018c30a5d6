//! Front ends: one loader per file format, each producing a [`Graph`].
//!
//! Contract: a loader either returns a graph whose node names are unique and whose parameter
//! tensors hold as many values as their shapes say, or a [`FrontError`] naming the file, the
//! node and the field at fault; [`load`] then makes every node name a safe label
//! ([`Graph::make_names_safe`]). Loaders never panic on malformed files and check declared
//! sizes before allocating. Semantic checks (shapes along edges, cycles, parameter ranges)
//! belong to [`crate::valid`].

pub mod json;
pub mod nir;
pub mod onnx;

use std::fmt;
use std::path::{Path, PathBuf};

use crate::ir::Graph;

/// Largest number of elements a single parameter dataset may declare.
pub const MAX_ELEMENTS: u64 = 1 << 27;

/// A load failure, located as precisely as the format allows.
#[derive(Debug)]
pub struct FrontError {
    /// The file.
    pub path: PathBuf,
    /// The node (qualified name), when the fault is inside one.
    pub node: Option<String>,
    /// The dataset or field, when known.
    pub field: Option<String>,
    /// What is wrong and what was expected.
    pub message: String,
}

impl FrontError {
    /// An error about the file as a whole.
    pub fn file(path: &Path, message: impl Into<String>) -> Self {
        FrontError { path: path.into(), node: None, field: None, message: message.into() }
    }

    /// An error about a node's field.
    pub fn at(path: &Path, node: impl Into<String>, field: Option<&str>, message: impl Into<String>) -> Self {
        FrontError {
            path: path.into(),
            node: Some(node.into()),
            field: field.map(str::to_string),
            message: message.into(),
        }
    }
}

impl fmt::Display for FrontError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(n) = &self.node {
            write!(f, ": node '{n}'")?;
        }
        if let Some(fl) = &self.field {
            write!(f, ": field '{fl}'")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for FrontError {}

/// Model file formats spikefab reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// NIR (HDF5).
    Nir,
    /// spikefab's own JSON form.
    Json,
    /// ONNX protobuf.
    Onnx,
}

/// Picks the format from the extension, falling back to the file's magic bytes.
pub fn detect_format(path: &Path) -> Result<Format, FrontError> {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("nir") | Some("h5") | Some("hdf5") => return Ok(Format::Nir),
        Some("json") => return Ok(Format::Json),
        Some("onnx") => return Ok(Format::Onnx),
        _ => {}
    }
    let head = read_head(path)?;
    if head.starts_with(b"\x89HDF\r\n\x1a\n") {
        Ok(Format::Nir)
    } else if head.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        Ok(Format::Json)
    } else {
        Err(FrontError::file(path, "unknown model format: expected a .nir (HDF5), .json (spikefab) or .onnx file"))
    }
}

fn read_head(path: &Path) -> Result<Vec<u8>, FrontError> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| FrontError::file(path, format!("cannot open: {e}")))?;
    let mut buf = vec![0u8; 16];
    let n = f.read(&mut buf).map_err(|e| FrontError::file(path, format!("cannot read: {e}")))?;
    buf.truncate(n);
    Ok(buf)
}

/// Loads a model in any supported format.
pub fn load(path: &Path) -> Result<Graph, FrontError> {
    if !path.exists() {
        return Err(FrontError::file(path, "no such file"));
    }
    let mut g = match detect_format(path)? {
        Format::Nir => nir::load(path),
        Format::Json => json::load(path),
        Format::Onnx => onnx::load(path),
    }?;
    g.make_names_safe();
    Ok(g)
}
