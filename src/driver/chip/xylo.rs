//! Xylo's back end: quantised under [`Rules::xylo`], placed by [`crate::chip::xylo`], run on
//! [`crate::sim::xylo`], exported by [`crate::back::xylo`] and judged by rockpool's XyloSim
//! ([`crate::flow::xylosim`]).

use std::path::Path;

use rayon::prelude::*;

use super::interface::{ChipBackend, ChipInfo, ChipMap, ChipRun, payloads, quant_options, rate, write_files};
use super::layout::{ChipLayout, XyloLayout};
use crate::Model;
use crate::chip::xylo::{self as map, Place, XyloSpec};
use crate::data::{InputBatch, Outputs};
use crate::driver::progress::step;
use crate::driver::resource::Resource;
use crate::driver::{Error, Progress, Step};
use crate::energy::{Component, Estimate, LayerEnergy, ann_of_layers};
use crate::flow::vendor::VendorCheck;
use crate::flow::xylosim;
use crate::options::PlanSettings;
use crate::quant::{self, Network, Rules};
use crate::sim::xylo::{self as sim, MAX_INPUT_EVENTS, XyloRecord};
use crate::target::Target;

/// What the commands say of this back end.
static INFO: ChipInfo = ChipInfo {
    name: "Xylo",
    simulator: "XyloSim",
    install: "pip install rockpool==3.1.0 xylosim==0.1.3; point SPIKEFAB_XYLO_PYTHON at its Python",
    export_dir: "xylo",
    takes_spike_cap: false,
    legalise_reset: crate::ir::ResetMode::Subtract,
};

/// The Xylo back end (Xylo IMU, Xylo Audio 2, Xylo Audio 3: the xylosim v2 core).
pub struct Xylo;

impl ChipBackend for Xylo {
    fn info(&self) -> &'static ChipInfo {
        &INFO
    }

    fn map(
        &self,
        m: &Model,
        settings: &PlanSettings,
        target: &Target,
        steps: usize,
        calib: Option<&InputBatch>,
    ) -> Result<Box<dyn ChipMap>, Error> {
        let module = target.chip.as_ref().and_then(|c| c.vendor_module.clone()).ok_or_else(|| {
            Error::Usage(format!(
                "target '{}': a Xylo target names rockpool's module in chip.vendor_module",
                target.name
            ))
        })?;
        if crate::back::xylo::rockpool_xylo(&module).is_none() {
            let known: Vec<&str> = crate::back::xylo::ROCKPOOL_XYLO.iter().map(|m| m.module).collect();
            return Err(Error::Usage(format!(
                "target '{}': chip.vendor_module '{module}' is not a rockpool 3.1.0 Xylo module on xylosim's v2 \
                 core, the core spikefab models (known: {})",
                target.name,
                known.join(", ")
            )));
        }
        let o = quant_options(Rules::xylo(), settings, steps, calib)?;
        let net = quant::xylo::quantise(m, &o).map_err(|err| Error::Quant { path: m.path.clone(), err })?;
        let mut spec = map::map(&net, target).map_err(|e| Error::DoesNotFit(format!("{}: {e}", m.path.display())))?;
        spec.dt = m.dialect().dt.unwrap_or(1e-3);
        Ok(Box::new(Mapped { net, spec, module, steps, limits: target.chip.clone() }))
    }
}

/// A network placed on Xylo.
struct Mapped {
    net: Network,
    spec: XyloSpec,
    /// rockpool's module of the chip.
    module: String,
    /// Model steps.
    steps: usize,
    /// The target's limits.
    limits: Option<crate::target::ChipSpec>,
}

impl Mapped {
    /// XyloSim records the hidden neurons' second synaptic current (Xylo Audio 2's XyloSim).
    fn isyn2(&self) -> bool {
        crate::back::xylo::records_isyn2(&self.module)
    }
}

impl ChipMap for Mapped {
    fn layout(&self) -> ChipLayout {
        let s = &self.spec;
        ChipLayout::Xylo(XyloLayout {
            chip: self.module.clone(),
            hidden_neurons: s.n_hidden,
            input_neurons: s.ien,
            output_source_neurons: s.oen,
            outputs: s.n_out,
            lag: s.lag,
            weight_shifts: [s.weight_shift_in, s.weight_shift_rec, s.weight_shift_out],
            places: s.places.clone(),
        })
    }

    fn notes(&self) -> &[String] {
        &self.net.notes
    }

    fn chip_steps(&self) -> usize {
        self.steps + self.spec.lag
    }

    fn step_time(&self) -> Option<(f64, String)> {
        Some((self.spec.dt, "Xylo runs one step per dt in real time; dt is the model's".into()))
    }

    fn resources(&self) -> Vec<Resource> {
        let s = &self.spec;
        let weights = |w: &[i8]| w.iter().filter(|&&x| x != 0).count() as u64;
        let limit = |f: fn(&crate::target::ChipSpec) -> Option<u64>| self.limits.as_ref().and_then(f);
        vec![
            Resource {
                name: "hidden neurons".into(),
                used: s.n_hidden as u64,
                available: self.limits.as_ref().map(|c| c.neurons_per_core),
            },
            Resource { name: "output neurons".into(), used: s.n_out as u64, available: limit(|c| c.output_neurons) },
            Resource { name: "input channels".into(), used: s.n_in as u64, available: limit(|c| c.input_channels) },
            Resource {
                name: "synapses".into(),
                used: weights(&s.weights_in) + weights(&s.weights_rec) + weights(&s.weights_out),
                available: None,
            },
            Resource {
                name: "connections between hidden neurons".into(),
                used: s.weights_rec.chunks(s.synapses.max(1)).filter(|w| w.iter().any(|&x| x != 0)).count() as u64,
                available: limit(|c| c.hidden_synapses),
            },
        ]
    }

    fn run<'a>(&'a self, batch: &InputBatch) -> Box<dyn ChipRun + 'a> {
        let (ts, nin) = (self.chip_steps(), self.spec.n_in);
        let (inputs, _, dropped) = payloads(batch, self.steps, ts, nin, self.net.input.scale, MAX_INPUT_EVENTS);
        let records: Vec<XyloRecord> = (0..batch.n)
            .into_par_iter()
            .map(|i| sim::run(&self.spec, &inputs[i * ts * nin..(i + 1) * ts * nin], ts))
            .collect();
        Box::new(Run { map: self, inputs, dropped, records })
    }
}

/// A batch run on Xylo's chip-exact model.
struct Run<'a> {
    map: &'a Mapped,
    /// Event counts as fed, `n x (T + lag) x 16`, each at most 15.
    inputs: Vec<u8>,
    /// Events above 15 per channel and step, not taken.
    dropped: u64,
    records: Vec<XyloRecord>,
}

impl Run<'_> {
    /// Spikes of `p`'s neurons in one sample's record.
    fn spikes_of<'r>(&self, r: &'r XyloRecord, p: &Place) -> (&'r [u8], usize) {
        if p.population == "output" {
            (&r.out_spikes, self.map.spec.n_out)
        } else {
            (&r.spikes, self.map.spec.n_hidden)
        }
    }
}

impl ChipRun for Run<'_> {
    fn outputs(&self) -> Outputs {
        let (no, lag, ts, steps) = (self.map.spec.n_out, self.map.spec.lag, self.map.chip_steps(), self.map.steps);
        let mut data = Vec::with_capacity(self.records.len() * steps * no);
        for r in &self.records {
            data.extend(r.out_spikes[lag * no..ts * no].iter().map(|&s| f64::from(s)));
        }
        Outputs { n: self.records.len(), steps, numel: no, shape: vec![no], spikes: true, data }
    }

    fn rates(&self) -> Vec<(String, f64)> {
        let ts = self.map.chip_steps();
        self.map
            .spec
            .places
            .iter()
            .map(|p| {
                let per: Vec<&[u8]> = self.records.iter().map(|r| self.spikes_of(r, p).0).collect();
                let (first, width) =
                    if p.population == "output" { (0, self.map.spec.n_out) } else { (p.first, self.map.spec.n_hidden) };
                (p.layer.clone(), rate(&per, width, first, p.neurons, ts))
            })
            .collect()
    }

    fn inputs_not_taken(&self) -> Option<String> {
        (self.dropped > 0)
            .then(|| format!("{} input events above 15 per channel and step are not taken by the chip", self.dropped))
    }

    fn write_export(&self, dir: &Path) -> Result<Vec<String>, Error> {
        let n = self.records.len();
        let expected: Vec<u8> = self.records.iter().flat_map(|r| r.out_spikes.iter().copied()).collect();
        let m = self.map;
        write_files(dir, crate::back::xylo::files(&m.spec, &m.module, n, m.chip_steps(), &self.inputs, &expected))
    }

    fn vendor_check(&self, dir: &Path, progress: &dyn Progress) -> Result<Step<VendorCheck>, Error> {
        let Some(py) = xylosim::python() else {
            return Ok(Step::skipped(format!("no Python with rockpool and xylosim ({})", INFO.install)));
        };
        let what = format!("running {} samples in rockpool's XyloSim", self.records.len());
        Ok(Step::Ran(step(progress, &what, || xylosim::check(dir, &py, &self.records, self.map.isyn2()))?))
    }

    fn estimate(&self, target: &Target) -> Option<Estimate> {
        let p = target.chip.as_ref()?.dynamic_power_w?;
        let m = self.map;
        let ts = m.chip_steps();
        let j = p * ts as f64 * m.spec.dt;
        let ann = ann_of_layers(m.net.layers.iter(), m.net.input.numel(), target);
        let ratio = |a: f64| if j > 0.0 { a / j } else { 0.0 };
        let n = self.records.len().max(1) as f64;
        let layers = m
            .spec
            .places
            .iter()
            .enumerate()
            .map(|(k, p)| {
                let (first, width) =
                    if p.population == "output" { (0, m.spec.n_out) } else { (p.first, m.spec.n_hidden) };
                let spikes: u64 = self
                    .records
                    .iter()
                    .map(|r| {
                        let s = self.spikes_of(r, p).0;
                        s.chunks(width)
                            .map(|row| row[first..first + p.neurons].iter().map(|&x| u64::from(x)).sum::<u64>())
                            .sum::<u64>()
                    })
                    .sum();
                LayerEnergy {
                    name: m.net.layers.get(k).map_or_else(|| p.layer.clone(), |l| l.name.clone()),
                    synaptic_ops: 0.0,
                    neuron_updates: (p.neurons * ts) as f64,
                    spikes: spikes as f64 / n,
                    synaptic_j: 0.0,
                    neuron_j: 0.0,
                    memory_j: 0.0,
                    total_j: 0.0,
                }
            })
            .collect();
        Some(Estimate {
            target: target.name.clone(),
            schedule: None,
            exceeds_device: vec![],
            logic: None,
            basis: Some(format!(
                "the core's published dynamic inference power, {p} W (Xylo Audio 2, Bos and Muir 2024), times {ts} \
                 steps of {} s; an estimate for a network of a different size and activity",
                m.spec.dt
            )),
            kind: target.kind.to_string(),
            samples: self.records.len(),
            energy_per_inference_j: j,
            energy_min_j: j,
            energy_max_j: j,
            energy_std_j: 0.0,
            latency_s: Some(ts as f64 * m.spec.dt),
            cycles: 0.0,
            components: vec![Component { name: "dynamic power x duration".into(), joules: j }],
            layers,
            memories: vec![],
            operations_j: j,
            ann_fp32_over_snn: ratio(ann.fp32_j),
            ann_int8_over_snn: ratio(ann.int8_j),
            ann,
        })
    }
}
