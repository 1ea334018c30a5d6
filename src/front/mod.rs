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

mod error;

pub use error::{FrontError, MAX_ELEMENTS};

use std::path::Path;

use crate::ir::Graph;

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
