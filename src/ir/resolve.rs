//! The dialect a graph is read with: dt inferred from its parameters, the preset and options
//! resolved against what the graph fixes, and which neurons emit spike counts.

use super::dialect::{Dialect, DialectError, DialectOverrides, DtSource, SpikeMode};
use super::graph::Graph;
use super::op::Op;

/// Result of dt inference from the parameters.
#[derive(Debug, PartialEq)]
pub enum DtInference {
    /// No node depends on dt.
    NotNeeded,
    /// One common dt.
    Found(f64),
    /// Not inferable, with the reason.
    Ambiguous(String),
}

/// Infers dt from `r = tau / dt` on every LIF and CubaLIF node (snnTorch's export mapping).
pub fn infer_dt(graph: &Graph) -> DtInference {
    let mut needs = false;
    let mut found: Option<(f64, String)> = None;
    for n in graph.g.node_weights() {
        needs |= n.op.needs_dt();
        let (tau, r) = match &n.op {
            Op::LIF { tau, r, .. } | Op::LI { tau, r, .. } => (tau, r),
            Op::CubaLIF { tau_mem, r, .. } | Op::CubaLI { tau_mem, r, .. } => (tau_mem, r),
            Op::IF { .. } | Op::I { .. } | Op::Delay { .. } => {
                return DtInference::Ambiguous(format!("node '{}' ({}) does not encode dt", n.name, n.op.type_name()));
            }
            _ => continue,
        };
        let len = tau.numel().max(r.numel());
        for i in 0..len {
            let (t, rr) = (tau.at(i), r.at(i));
            if rr == 1.0 {
                return DtInference::Ambiguous(format!("node '{}' has r = 1, which fits any dt", n.name));
            }
            if !(rr > 0.0 && t > 0.0) {
                return DtInference::Ambiguous(format!("node '{}' has r = {rr}, tau = {t}", n.name));
            }
            let dt = t / rr;
            match &found {
                None => found = Some((dt, n.name.clone())),
                Some((d0, first)) => {
                    // The exporter computes r in f32, so allow f32-level disagreement.
                    if ((dt - d0) / d0).abs() > 1e-5 {
                        return DtInference::Ambiguous(format!(
                            "tau / r gives dt = {d0:e} on '{first}' but {dt:e} on '{}'",
                            n.name
                        ));
                    }
                }
            }
        }
    }
    match found {
        Some((dt, _)) => DtInference::Found(round_sig(dt, 6)),
        None if needs => DtInference::Ambiguous("no LIF or CubaLIF node encodes dt".into()),
        None => DtInference::NotNeeded,
    }
}

/// Rounds to `sig` significant digits (an exporter's dt is a short decimal like 1e-4).
fn round_sig(x: f64, sig: i32) -> f64 {
    let e = x.abs().log10().floor() as i32;
    let p = 10f64.powi(sig - 1 - e);
    (x * p).round() / p
}

impl Dialect {
    /// True when neuron `node` of `g` may spike several times per step under this dialect.
    pub fn multi_spike(&self, g: &Graph, node: petgraph::graph::NodeIndex) -> bool {
        match self.switches.spikes {
            SpikeMode::Single => false,
            SpikeMode::Multi => true,
            SpikeMode::MultiHidden => !g.readout_neurons().contains(&node),
        }
    }

    /// Resolves the dialect of `graph` (whose own `dialect` field is the file's) with the
    /// user's overrides.
    pub fn resolve(graph: &Graph, o: &DialectOverrides) -> Result<Dialect, DialectError> {
        let file = &graph.dialect;
        let mut d = Dialect {
            dt: None,
            dt_source: DtSource::Unset,
            reset: file.reset,
            fire_on_equal: file.fire_on_equal,
            timesteps: file.timesteps,
            preset: file.preset,
            switches: file.switches,
        };
        if let Some(dt) = file.dt {
            if !(dt.is_finite() && dt > 0.0) {
                return Err(DialectError::BadFileDt(dt));
            }
            d.dt = Some(dt);
            d.dt_source = DtSource::File;
        }
        if let Some(p) = o.from {
            let (dt, reset, foe) = p.settings();
            d.preset = Some(p);
            d.reset = reset;
            d.fire_on_equal = foe;
            d.switches = p.switches();
            if let Some(dt) = dt {
                d.dt = Some(dt);
                d.dt_source = DtSource::Preset;
            }
        }
        if let Some(dt) = o.dt {
            if !(dt.is_finite() && dt > 0.0) {
                return Err(DialectError::BadDt(dt));
            }
            d.dt = Some(dt);
            d.dt_source = DtSource::Given;
        }
        if let Some(r) = o.reset {
            d.reset = r;
        }
        if o.fire_on_equal {
            d.fire_on_equal = true;
        }
        if let Some(v) = o.integration {
            d.switches.integration = v;
        }
        if let Some(v) = o.cuba_input {
            d.switches.cuba_input = v;
        }
        if let Some(v) = o.spikes {
            d.switches.spikes = v;
        }
        if let Some(v) = o.initial_v {
            d.switches.initial_v = v;
        }
        if let Some(v) = o.v_min {
            d.switches.v_min = v;
        }
        if let Some(t) = o.timesteps {
            d.timesteps = Some(t);
        }
        match d.timesteps {
            Some(0) => return Err(DialectError::ZeroTimesteps),
            Some(t) if t > crate::limits::MAX_TIMESTEPS => return Err(DialectError::TooManyTimesteps(t)),
            _ => {}
        }
        if d.dt.is_none() {
            match infer_dt(graph) {
                DtInference::NotNeeded => d.dt_source = DtSource::NotNeeded,
                DtInference::Found(dt) => {
                    d.dt = Some(dt);
                    d.dt_source = DtSource::Inferred;
                }
                DtInference::Ambiguous(reason) => return Err(DialectError::NeedDt { reason }),
            }
        }
        Ok(d)
    }
}
