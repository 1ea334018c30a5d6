//! A loaded model: graph, validation info and resolved dialect, ready for every stage.

use std::path::{Path, PathBuf};

use crate::front::{self, FrontError};
use crate::ir::{Dialect, Graph, dialect::DialectError, dialect::DialectOverrides};
use crate::valid::{self, GraphInfo, ValidError};

/// Why a model could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read or parsed.
    #[error(transparent)]
    Front(#[from] FrontError),
    /// The graph is malformed.
    #[error("{path}: {err}")]
    Valid {
        /// File.
        path: PathBuf,
        /// Validation error.
        err: ValidError,
    },
    /// The dialect cannot be resolved.
    #[error("{path}: {err}")]
    Dialect {
        /// File.
        path: PathBuf,
        /// Dialect error.
        err: DialectError,
    },
}

/// A validated model with its dialect.
#[derive(Clone, Debug)]
pub struct Model {
    /// Where it was read from.
    pub path: PathBuf,
    /// The graph; `graph.dialect` is the resolved dialect.
    pub graph: Graph,
    /// Validation side table.
    pub info: GraphInfo,
    /// What the loader defaulted or ignored, and dialect options that override what the
    /// model's own equations fix (ONNX); each safe to print.
    pub warnings: Vec<String>,
}

impl Model {
    /// Loads, validates and resolves the dialect.
    pub fn load(path: &Path, overrides: &DialectOverrides) -> Result<Model, LoadError> {
        let graph = front::load(path)?;
        Self::from_graph(path, graph, overrides)
    }

    /// Validates an in-memory graph and resolves its dialect.
    pub fn from_graph(path: &Path, mut graph: Graph, overrides: &DialectOverrides) -> Result<Model, LoadError> {
        graph.make_names_safe();
        let info = valid::validate(&graph).map_err(|err| LoadError::Valid { path: path.into(), err })?;
        let dialect =
            Dialect::resolve(&graph, overrides).map_err(|err| LoadError::Dialect { path: path.into(), err })?;
        let mut warnings = graph.provenance.warnings.clone();
        if let Some(fixed) = graph.fixed_dialect() {
            warnings.extend(crate::ir::dialect::overridden(&fixed, &dialect));
        }
        // A NIR file stores no dialect; a spikefab JSON file converted from one does (its
        // provenance still says nir), and what it stores was chosen, not lost.
        if graph.provenance.format == "nir" && graph.dialect == Dialect::default() {
            warnings.extend(nir_losses(&graph, &dialect, overrides));
        }
        graph.dialect = dialect;
        Ok(Model { path: path.into(), graph, info, warnings })
    }

    /// The resolved dialect.
    pub fn dialect(&self) -> &Dialect {
        &self.graph.dialect
    }
}

/// What a NIR file cannot store and spikefab assumed for this model, one warning each, with
/// the option that changes it: the reset (NIR stores only a hard reset), and under
/// `--from sinabs` the membrane floor and the spike function `sinabs.from_nir` restores.
/// Nothing is said of what the user set explicitly.
fn nir_losses(graph: &Graph, d: &Dialect, o: &DialectOverrides) -> Vec<String> {
    use crate::ir::Op;
    use crate::ir::dialect::{Preset, SpikeMode, VMin};
    let names = |f: &dyn Fn(&Op) -> bool| -> String {
        let mut v: Vec<String> = graph
            .g
            .node_weights()
            .filter(|n| f(&n.op))
            .map(|n| format!("'{}'", crate::names::label(&n.name)))
            .collect();
        v.sort();
        if v.len() > 4 {
            let more = v.len() - 3;
            v.truncate(3);
            v.push(format!("{more} more"));
        }
        v.join(", ")
    };
    let spiking = |op: &Op| op.emits_spikes() && op.is_neuron();
    let mut w = vec![];
    let has_spiking = graph.g.node_weights().any(|n| spiking(&n.op));
    if has_spiking && o.from.is_none() && o.reset.is_none() && d.preset.is_none() {
        w.push(format!(
            "NIR stores only a hard reset: spikefab assumed neurons {} reset to v_reset; a model trained with a \
             subtract reset needs --reset subtract (SpikingJelly, Sinabs) or subtract-undecayed (snnTorch), or --from \
             FRAMEWORK",
            names(&spiking)
        ));
    }
    if d.preset == Some(Preset::Sinabs) {
        let is_if = |op: &Op| matches!(op, Op::IF { .. });
        if o.v_min.is_none() && d.switches.v_min == VMin::Sinabs && graph.g.node_weights().any(|n| is_if(&n.op)) {
            w.push(format!(
                "NIR stores no membrane floor: as sinabs.from_nir does, IF neurons {} are floored at -v_threshold after \
                 each reset (Sinabs' min_v_mem), LIF neurons are not; --v-min VALUE|-threshold|none changes it",
                names(&is_if)
            ));
        }
        let leaky = |op: &Op| matches!(op, Op::LIF { .. } | Op::LI { .. } | Op::CubaLIF { .. } | Op::CubaLI { .. });
        if o.integration.is_none() && graph.g.node_weights().any(|n| leaky(&n.op)) {
            w.push(format!(
                "NIR stores no norm_input: spikefab assumed Sinabs' default norm_input=True for {} (input gain \
                 1 - exp(-1/tau)); sinabs.from_nir reads them with norm_input=False, which --integration \
                 exact-unnormalised computes",
                names(&leaky)
            ));
        }
        if o.spikes.is_none() && d.switches.spikes == SpikeMode::Multi && has_spiking {
            w.push(
                "NIR stores no spike function: spikefab assumed Sinabs' default MultiSpike (trunc(v / v_threshold) \
                 spikes per step); --spikes single for a model trained with SingleSpike"
                    .into(),
            );
        }
    }
    w
}
