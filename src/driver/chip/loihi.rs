//! Loihi 2's back end: quantised under [`Rules::loihi`], laid out as lava-dl netx layers by
//! [`crate::chip::loihi`], run on [`crate::sim::loihi`], exported as netx HDF5 by
//! [`crate::back::loihi`] and judged by Lava's fixed-point simulator ([`crate::flow::lava`]).

use std::path::Path;

use super::interface::{ChipBackend, ChipInfo, ChipMap, ChipRun, payloads, quant_options, rate, write_files};
use super::layout::{ChipLayout, LoihiLayout, NetxLayerSummary};
use crate::Model;
use crate::chip::loihi::{self as map, NetxNet};
use crate::data::{InputBatch, Outputs};
use crate::driver::progress::step;
use crate::driver::resource::Resource;
use crate::driver::{Error, Progress, Step};
use crate::energy::{Component, Estimate, LayerEnergy, ann_of_layers};
use crate::flow::lava;
use crate::flow::vendor::VendorCheck;
use crate::options::PlanSettings;
use crate::quant::{self, Network, Rules};
use crate::sim::loihi::{self as sim, LoihiRecord};
use crate::target::Target;

/// What the commands say of this back end.
static INFO: ChipInfo = ChipInfo {
    name: "Loihi",
    simulator: "Lava",
    install: "lava-nc 0.10.0 and lava-dl 0.6.0, installed as .ci/run does; point SPIKEFAB_LAVA_PYTHON at its Python",
    export_dir: "loihi",
    takes_spike_cap: true,
    legalise_reset: crate::ir::ResetMode::Zero,
};

/// The Loihi 2 back end (lava-dl netx).
pub struct Loihi;

impl ChipBackend for Loihi {
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
        let o = quant_options(Rules::loihi(), settings, steps, calib)?;
        let mut net = quant::loihi::quantise(m, &o).map_err(|err| Error::Quant { path: m.path.clone(), err })?;
        let mut notes = std::mem::take(&mut net.notes);
        let netx =
            map::map(&net, target, &mut notes).map_err(|e| Error::DoesNotFit(format!("{}: {e}", m.path.display())))?;
        net.notes = notes;
        Ok(Box::new(Mapped { net, netx, steps }))
    }
}

/// A network laid out as netx layers.
struct Mapped {
    net: Network,
    netx: NetxNet,
    /// Model steps.
    steps: usize,
}

impl ChipMap for Mapped {
    fn layout(&self) -> ChipLayout {
        let x = &self.netx;
        let p = &x.placement;
        ChipLayout::Loihi(LoihiLayout {
            layers: x
                .layers
                .iter()
                .zip(&p.layers)
                .map(|(l, at)| NetxLayerSummary {
                    name: l.name.clone(),
                    kind: if l.conv.is_some() { "conv" } else { "dense" },
                    neurons: l.neurons(),
                    cores: at.cores,
                    chips: at.chips,
                    synapses: at.synapses,
                    decays: [l.i_decay, l.v_decay],
                    vth: l.vth,
                    weight_exp: l.weight_exp,
                })
                .collect(),
            lag: x.lag,
            input_bits: x.input_bits,
            cores: p.cores,
            chips: p.chips,
            system_chips: p.system_chips,
            cores_per_chip: p.cores_per_chip,
            neurons_per_core: p.neurons_per_core,
            synapses_per_chip: p.synapses_per_chip,
        })
    }

    fn notes(&self) -> &[String] {
        &self.net.notes
    }

    /// A sample's first input to its last output; in a stream of samples each takes `T` steps.
    fn chip_steps(&self) -> usize {
        self.steps + self.netx.lag
    }

    fn step_time(&self) -> Option<(f64, String)> {
        // Loihi's cores are time-multiplexed and a step lasts as long as its activity takes:
        // Intel publishes no step time of Loihi 2 to compute a latency from.
        None
    }

    /// Cores and chips against the system's (Loihi 2's published maxima per core and chip),
    /// neurons against the cores' maxima, dense layers' synapses against the chips'.
    fn resources(&self) -> Vec<Resource> {
        let p = &self.netx.placement;
        let chips = p.system_chips as u64;
        let cores = chips * p.cores_per_chip as u64;
        let neurons: usize = self.netx.layers.iter().map(|l| l.neurons()).sum();
        let dense: u64 =
            self.netx.layers.iter().zip(&p.layers).filter(|(l, _)| l.conv.is_none()).map(|(_, at)| at.synapses).sum();
        let stored: u64 = self.netx.layers.iter().map(|l| l.weights.iter().filter(|&&w| w != 0).count() as u64).sum();
        vec![
            Resource { name: "chips".into(), used: p.chips as u64, available: Some(chips) },
            Resource { name: "cores".into(), used: p.cores as u64, available: Some(cores) },
            Resource {
                name: "neurons".into(),
                used: neurons as u64,
                available: Some(cores * p.neurons_per_core as u64),
            },
            Resource {
                name: "synapses of dense layers".into(),
                used: dense,
                available: p.synapses_per_chip.map(|s| s * chips),
            },
            Resource { name: "weights stored".into(), used: stored, available: None },
        ]
    }

    fn run<'a>(&'a self, batch: &InputBatch) -> Box<dyn ChipRun + 'a> {
        let t = self.steps;
        let max = ((1u32 << self.net.input.bits) - 1).min(255) as u8;
        let (inputs, clipped, _) = payloads(batch, t, t, self.netx.input_numel(), self.net.input.scale, max);
        let records = sim::run_stream(&self.netx, &inputs, batch.n, t);
        Box::new(Run { map: self, inputs, clipped, records })
    }
}

/// A batch run on Loihi's arithmetic.
struct Run<'a> {
    map: &'a Mapped,
    /// Input payloads as fed, `n x T x inputs` (the stream adds `lag` zero steps at its end).
    inputs: Vec<u8>,
    /// Input values beyond the largest payload (clipped).
    clipped: u64,
    records: Vec<LoihiRecord>,
}

impl ChipRun for Run<'_> {
    /// Each sample's output spikes over its model steps (the records hold nothing else); a
    /// multi-spike output neuron's are its units' summed, its count.
    fn outputs(&self) -> Outputs {
        let g = self.map.netx.out_group.max(1);
        let (no, steps) = (self.map.netx.outputs() / g, self.map.steps);
        let data = self
            .records
            .iter()
            .flat_map(|r| r.out_spikes.chunks(g).map(|u| u.iter().map(|&s| f64::from(s)).sum::<f64>()))
            .collect();
        Outputs { n: self.records.len(), steps, numel: no, shape: vec![no], spikes: true, data }
    }

    fn rates(&self) -> Vec<(String, f64)> {
        let ts = self.map.steps;
        self.map
            .netx
            .layers
            .iter()
            .enumerate()
            .map(|(k, l)| {
                let per: Vec<&[u8]> = self.records.iter().map(|r| r.spikes[k].as_slice()).collect();
                (l.name.clone(), rate(&per, l.neurons(), 0, l.neurons(), ts))
            })
            .collect()
    }

    fn inputs_not_taken(&self) -> Option<String> {
        (self.clipped > 0).then(|| format!("{} input values beyond the largest payload are clipped", self.clipped))
    }

    fn write_export(&self, dir: &Path) -> Result<Vec<String>, Error> {
        let n = self.records.len();
        let expected: Vec<u8> = self.records.iter().flat_map(|r| r.out_spikes.iter().copied()).collect();
        let files = crate::back::loihi::files(&self.map.netx, n, self.map.steps, &self.inputs, &expected)?;
        write_files(dir, files)
    }

    fn vendor_check(&self, dir: &Path, progress: &dyn Progress) -> Result<Step<VendorCheck>, Error> {
        let Some(py) = lava::python() else {
            return Ok(Step::skipped(format!("no Python with Lava ({})", INFO.install)));
        };
        let what = format!("running {} samples in Lava (fixed_pt)", self.records.len());
        Ok(Step::Ran(step(progress, &what, || lava::check(dir, &py, &self.records))?))
    }

    /// The operations the chip model counted, priced with the target's per-operation figures.
    fn estimate(&self, target: &Target) -> Option<Estimate> {
        let e = &target.energy;
        let (syn_j, upd_j, spk_j) =
            (e.synop_j.unwrap_or(0.0), e.neuron_update_j.unwrap_or(0.0), e.spike_out_j.unwrap_or(0.0));
        let m = self.map;
        let n = self.records.len().max(1) as f64;
        let ts = m.steps as f64;
        let upd: f64 = m.netx.layers.iter().map(|l| l.neurons() as f64 * ts).sum();
        let per_sample: Vec<f64> = self
            .records
            .iter()
            .map(|r| {
                let syn: u64 = r.synops.iter().sum();
                let spk: u64 = r.spikes.iter().map(|s| s.iter().map(|&x| u64::from(x)).sum::<u64>()).sum();
                syn as f64 * syn_j + upd * upd_j + spk as f64 * spk_j
            })
            .collect();
        let mean = per_sample.iter().sum::<f64>() / n;
        let std = (per_sample.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
        let mut comp = [0.0f64; 3];
        let layers: Vec<LayerEnergy> = m
            .netx
            .layers
            .iter()
            .enumerate()
            .map(|(k, l)| {
                let syn = self.records.iter().map(|r| r.synops[k] as f64).sum::<f64>() / n;
                let spikes =
                    self.records.iter().map(|r| r.spikes[k].iter().map(|&x| f64::from(x)).sum::<f64>()).sum::<f64>()
                        / n;
                let upd = l.neurons() as f64 * ts;
                comp[0] += syn * syn_j;
                comp[1] += upd * upd_j;
                comp[2] += spikes * spk_j;
                LayerEnergy {
                    name: l.name.clone(),
                    synaptic_ops: syn,
                    neuron_updates: upd,
                    spikes,
                    synaptic_j: syn * syn_j,
                    neuron_j: upd * upd_j + spikes * spk_j,
                    memory_j: 0.0,
                    total_j: syn * syn_j + upd * upd_j + spikes * spk_j,
                }
            })
            .collect();
        let ann = ann_of_layers(m.net.layers.iter(), m.net.input.numel(), target);
        let ratio = |a: f64| if mean > 0.0 { a / mean } else { 0.0 };
        let basis = format!(
            "the operations spikefab's chip model counted over each sample's {ts} steps in a stream of samples \
             (every layer's {ts} steps of the sample; a sample run alone adds {} steps of every layer), priced \
             with {}'s per-operation figures (Loihi 1: Davies et al. 2018, SANA-FE; Intel publishes none for Loihi 2)",
            m.netx.lag, target.name
        );
        Some(Estimate {
            target: target.name.clone(),
            schedule: None,
            exceeds_device: vec![],
            logic: None,
            basis: Some(basis),
            kind: target.kind.to_string(),
            samples: self.records.len(),
            energy_per_inference_j: mean,
            energy_min_j: per_sample.iter().copied().fold(f64::INFINITY, f64::min).min(mean),
            energy_max_j: per_sample.iter().copied().fold(0.0, f64::max),
            energy_std_j: std,
            latency_s: None,
            cycles: 0.0,
            components: vec![
                Component { name: "synaptic".into(), joules: comp[0] },
                Component { name: "neuron".into(), joules: comp[1] },
                Component { name: "spikes".into(), joules: comp[2] },
            ],
            layers,
            memories: vec![],
            operations_j: mean,
            ann_fp32_over_snn: ratio(ann.fp32_j),
            ann_int8_over_snn: ratio(ann.int8_j),
            ann,
        })
    }
}
