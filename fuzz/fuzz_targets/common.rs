//! Checks shared by the fuzz targets: what every loader promises (src/front/mod.rs), and
//! validation of what it returns.
#![allow(dead_code)]

use std::collections::HashSet;
use std::path::Path;

use spikefab::Model;
use spikefab::ir::Graph;
use spikefab::ir::dialect::DialectOverrides;

/// A loader's contract: unique node names, parameter tensors as long as their shapes say.
pub fn check_graph(g: &Graph) {
    let mut names = HashSet::new();
    for n in g.g.node_weights() {
        assert!(names.insert(n.name.as_str()), "duplicate node name {:?}", n.name);
        for (field, t) in n.op.params() {
            assert_eq!(t.data.len(), t.shape.iter().product::<usize>(), "node {:?} field {field}", n.name);
        }
    }
}

/// Overrides that let most graphs resolve a dialect (NIR stores no dt).
pub fn overrides(timesteps: usize) -> DialectOverrides {
    DialectOverrides { dt: Some(1e-3), timesteps: Some(timesteps), ..Default::default() }
}

/// Checks the contract, then validates; errors must format without panicking.
pub fn load_checked(path: &Path, r: Result<Graph, spikefab::front::FrontError>) -> Option<Model> {
    match r {
        Ok(g) => {
            check_graph(&g);
            match Model::from_graph(path, g, &overrides(4)) {
                Ok(m) => Some(m),
                Err(e) => {
                    let _ = e.to_string();
                    None
                }
            }
        }
        Err(e) => {
            let _ = e.to_string();
            None
        }
    }
}
