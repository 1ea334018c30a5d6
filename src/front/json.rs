//! spikefab's own JSON form of a graph: the IR as plain serde data plus the dialect.
//!
//! Invariant: `load(save(g))` reproduces `g` exactly (node order, edge order, parameter
//! dtypes and bits, dialect). f32 tensors are written as their shortest f32 decimal.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::FrontError;
use crate::ir::{Dialect, Graph, Node, Provenance};

/// Format tag written in every file.
pub const FORMAT: &str = "spikefab-graph";
/// Current version of the JSON form.
pub const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct File {
    format: String,
    version: u32,
    #[serde(default)]
    source: Option<Provenance>,
    #[serde(default)]
    dialect: Dialect,
    nodes: Vec<Node>,
    edges: Vec<(String, String)>,
}

/// Serialises a graph (pretty-printed, deterministic).
pub fn to_string(g: &Graph) -> String {
    let f = File {
        format: FORMAT.into(),
        version: VERSION,
        source: Some(g.provenance.clone()),
        dialect: g.dialect.clone(),
        nodes: g.g.node_weights().cloned().collect(),
        edges: g.edges().into_iter().map(|(a, b)| (g.g[a].name.clone(), g.g[b].name.clone())).collect(),
    };
    serde_json::to_string_pretty(&f).expect("graph data always serialises") + "\n"
}

/// Parses the JSON form.
pub fn from_str(path: &Path, text: &str) -> Result<Graph, FrontError> {
    let f: File = serde_json::from_str(text).map_err(|e| {
        FrontError::file(path, format!("invalid spikefab JSON at line {} column {}: {e}", e.line(), e.column()))
    })?;
    if f.format != FORMAT {
        return Err(FrontError::file(path, format!("field 'format' is '{}', expected '{FORMAT}'", f.format)));
    }
    if f.version != VERSION {
        return Err(FrontError::file(path, format!("field 'version' is {}, this spikefab reads {VERSION}", f.version)));
    }
    let mut g = Graph::default();
    for n in f.nodes {
        if g.find(&n.name).is_some() {
            return Err(FrontError::at(path, n.name, None, "duplicate node name"));
        }
        g.add_node(n.name, n.op);
    }
    for (i, (a, b)) in f.edges.iter().enumerate() {
        let find = |n: &str| {
            g.find(n).ok_or_else(|| {
                FrontError::at(path, n.to_string(), Some("edges"), format!("edge {i} names an unknown node"))
            })
        };
        let (s, t) = (find(a)?, find(b)?);
        g.add_edge(s, t);
    }
    g.dialect = f.dialect;
    let mut prov = f.source.unwrap_or_default();
    if prov.format.is_empty() {
        prov.format = "json".into();
    }
    g.provenance = prov;
    Ok(g)
}

/// Loads a `.json` model.
pub fn load(path: &Path) -> Result<Graph, FrontError> {
    let text = std::fs::read_to_string(path).map_err(|e| FrontError::file(path, format!("cannot read: {e}")))?;
    from_str(path, &text)
}
