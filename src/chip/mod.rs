//! Chip mapping: a quantised [`Network`] placed on a neuromorphic chip's cores, with every
//! limit of the chip's `[chip]` section checked.
//!
//! Neurons are packed into cores layer by layer, in C order, never sharing a core between
//! layers (cores are configured per layer on the chips spikefab targets). For each core the
//! mapping counts its neurons, the synapses they hold, and the distinct source neurons that
//! reach it (its fan-in, the "axons" of TrueNorth); for each neuron its fan-in. Limits the
//! chip does not state are not checked. A chip family's back end (its vendor format) starts
//! from this mapping and adds what only it knows.

pub mod loihi;
pub mod xylo;

use serde::Serialize;

use crate::quant::{Network, PoolGeom, ProjKind, Projection, Source};
use crate::target::{ChipSpec, Target};

/// One core's share of a layer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CoreUse {
    /// Layer index in the network.
    pub layer: usize,
    /// First neuron of the layer on this core (C order).
    pub first: usize,
    /// Neurons on this core.
    pub neurons: usize,
    /// Synapses held (the neurons' fan-ins; an upper bound for convolutions).
    pub synapses: u64,
    /// Distinct source neurons reaching the core (an upper bound for convolutions: the
    /// smaller of the sources' size and the synapse count).
    pub fan_in: u64,
}

/// A network placed on a chip.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChipMapping {
    /// Target name.
    pub chip: String,
    /// Cores used, in layer order.
    pub cores: Vec<CoreUse>,
    /// External input channels the network reads (elements of one input step).
    pub input_channels: usize,
    /// Output neurons.
    pub output_neurons: usize,
    /// Largest fan-in of one neuron.
    pub max_neuron_fan_in: u64,
    /// Limits the network exceeds, each naming the limit and the network's figure.
    pub violations: Vec<String>,
}

impl ChipMapping {
    /// True when every limit holds.
    pub fn fits(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Fan-in of one neuron through projection `p`: the source neurons it sums (for a
/// convolution, a full window; neurons at the image borders sum fewer).
fn fan_in(p: &Projection) -> u64 {
    let pool = |g: &PoolGeom| (g.k[0] * g.k[1]) as u64;
    let direct = match &p.kind {
        ProjKind::Dense { cols } => *cols as u64,
        ProjKind::Conv { ci, kh, kw, groups, .. } => ((ci / (*groups).max(1)) * kh * kw) as u64,
        ProjKind::Pool(g) => pool(g),
        ProjKind::OneToOne => 1,
    };
    direct * p.pre_pool.as_ref().map_or(1, pool)
}

/// The target is not a chip: it has no `[chip]` section to map onto.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("target '{target}' has no [chip] section to map onto")]
pub struct NotAChip {
    /// The target's name.
    pub target: String,
}

/// Places `net` on `target`'s chip. The target must be neuromorphic with a `[chip]` section.
///
/// ```
/// # use spikefab::ir::dialect::{DialectOverrides, Preset};
/// # let d = DialectOverrides { from: Some(Preset::Snntorch), timesteps: Some(8), ..Default::default() };
/// # let m = spikefab::Model::load("models/mlp_bw/mlp_bw.nir".as_ref(), &d)?;
/// # let mut o = spikefab::hw::PlanOptions::new(spikefab::target::Target::load("ice40-up5k")?, 8);
/// # o.settings.input_scale = Some(1.0);
/// let net = spikefab::quant::quantise(&m, &o.quant())?;
/// let tn = spikefab::target::Target::load("truenorth")?;
/// let mapping = spikefab::chip::map(&net, &tn)?;
/// assert!(mapping.fits());
/// assert_eq!(mapping.cores.len(), 2); // 128 hidden and 10 output neurons, one core each
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn map(net: &Network, target: &Target) -> Result<ChipMapping, NotAChip> {
    let spec: &ChipSpec = target.chip.as_ref().ok_or_else(|| NotAChip { target: target.name.clone() })?;
    let per_core = spec.neurons_per_core.max(1) as usize;
    let mut cores = vec![];
    let mut max_neuron_fan_in = 0u64;
    for (k, l) in net.layers.iter().enumerate() {
        let n = l.neurons();
        let fan: u64 = l.projections.iter().map(fan_in).sum();
        max_neuron_fan_in = max_neuron_fan_in.max(fan);
        let sources: u64 = l
            .projections
            .iter()
            .map(|p| match p.source {
                Source::Input => net.input.numel() as u64,
                Source::Layer(s) => net.layers[s].neurons() as u64,
            })
            .sum();
        let dense_cols: Option<u64> = l
            .projections
            .iter()
            .map(|p| match p.kind {
                ProjKind::Dense { cols } if p.pre_pool.is_none() => Some(cols as u64),
                _ => None,
            })
            .sum();
        for first in (0..n).step_by(per_core) {
            let m = per_core.min(n - first);
            let synapses = fan * m as u64;
            // Dense projections reach every core with all their columns; otherwise bound.
            let fan_in = dense_cols.unwrap_or(sources.min(synapses));
            cores.push(CoreUse { layer: k, first, neurons: m, synapses, fan_in });
        }
    }
    let input_channels = net.input.numel();
    let output_neurons = net.layers[net.output.layer].neurons();
    let mut violations = vec![];
    let chip = &target.name;
    if cores.len() as u64 > spec.cores {
        violations.push(format!("{} cores needed; {chip} has {}", cores.len(), spec.cores));
    }
    if let Some(max) = spec.fan_in_per_neuron
        && max_neuron_fan_in > max
    {
        violations.push(format!("fan-in {max_neuron_fan_in} of one neuron; {chip} takes {max}"));
    }
    for c in &cores {
        let name = &net.layers[c.layer].name;
        if let Some(max) = spec.fan_in_per_core
            && c.fan_in > max
        {
            violations.push(format!("layer '{name}': {} source neurons reach one core; {chip} takes {max}", c.fan_in));
        }
        if let Some(max) = spec.synapses_per_core
            && c.synapses > max
        {
            violations.push(format!("layer '{name}': {} synapses on one core; {chip} holds {max}", c.synapses));
        }
    }
    if let Some(max) = spec.input_channels
        && input_channels as u64 > max
    {
        violations.push(format!("{input_channels} input channels; {chip} has {max}"));
    }
    if let Some(max) = spec.output_neurons
        && output_neurons as u64 > max
    {
        violations.push(format!("{output_neurons} output neurons; {chip} has {max}"));
    }
    violations.dedup();
    Ok(ChipMapping { chip: chip.clone(), cores, input_channels, output_neurons, max_neuron_fan_in, violations })
}
