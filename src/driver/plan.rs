//! `plan`: a model laid out on a target by its back end (the FPGA plan, a chip's placement, or
//! the generic mapping of a chip spikefab prices), with measured cycles and their lower bound
//! when inputs are given.

use serde::Serialize;
use serde_json::{Value, json};

use super::backend::{self, PlanView};
use super::{Error, Progress, prepare};
use crate::Model;
use crate::data::InputBatch;
use crate::hw::{Plan, Schedule};
use crate::options::{PassSettings, PlanSettings};
use crate::passes::PassRecord;
use crate::sim::cycle::{self, Counters};

/// What `plan` found.
#[derive(Serialize)]
pub struct PlanReport {
    /// The model file.
    pub model: String,
    /// The target.
    pub target: String,
    /// Steps per inference.
    pub steps: usize,
    /// What the passes changed.
    pub passes: Vec<PassRecord>,
    /// The layout.
    pub view: PlanView,
    /// Cycles measured on the inputs (FPGA plans given inputs).
    pub cycles: Option<MeasuredCycles>,
    /// The weights' transfer against the datapath's work (FPGA plans on a board with external
    /// memory, given inputs).
    pub balance: Option<StreamBalance>,
    /// The design's predicted logic (FPGA plans on a family with a fitted logic model).
    pub logic: Option<crate::hw::logic::Logic>,
}

/// A streamed design's two limits per inference: moving the weights (the bandwidth bound, at
/// the memory's clock) and the plan's datapath doing the work (its mean cycles measured on the
/// inputs, at the plan's clock), as if the two overlapped perfectly. The datapath is the plan's
/// as laid out, step by step; a layer-major streamed schedule does the same arithmetic with
/// other phase overheads, so this is an estimate of its compute time, not a measurement of it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StreamBalance {
    /// Seconds per inference the weights' transfer takes (one pass over the batch).
    pub transfer_s: f64,
    /// Seconds per inference the datapath takes.
    pub compute_s: f64,
    /// Inferences per second with both overlapped: `1 / max(transfer_s, compute_s)`.
    pub inferences_per_s: f64,
    /// That over the bandwidth bound: `transfer_s / max(transfer_s, compute_s)` (1: the memory
    /// is the limit).
    pub fraction_of_bound: f64,
    /// Synaptic accumulates ((event, target neuron) pairs) per inference, mean over the inputs.
    pub synaptic_ops: f64,
    /// Of those, per cycle of the plan's clock: what the datapath does now.
    pub ops_per_cycle: f64,
    /// ... and what it would have to do for the transfer to be the limit.
    pub ops_per_cycle_needed: f64,
    /// True when the plan streams its weights from this memory (the streamed schedule on the
    /// board): the compute is then the cycle engine's run with the memory's timing, transfers
    /// and waits included, so the throughput and the fraction of the bound are measured, not
    /// estimated.
    pub measured: bool,
    /// Cycles per inference the layers waited for their weights (mean; 0 unless measured).
    pub stall_cycles: f64,
    /// The same cycles by layer, the layers that waited, longest wait first (by layer order
    /// on a tie): where the transfer, not the datapath, is the limit.
    pub waits_by_layer: Vec<LayerWait>,
}

/// Cycles per inference (mean) a layer waited for its weights.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LayerWait {
    /// The layer's name.
    pub layer: String,
    /// Its waits, mean cycles per inference.
    pub cycles: f64,
}

impl StreamBalance {
    /// The balance of `transfer_s` seconds of transfer per inference against `mean_cycles`
    /// cycles at `clock_mhz` doing `synaptic_ops` accumulates.
    pub fn of(transfer_s: f64, mean_cycles: f64, clock_mhz: f64, synaptic_ops: f64) -> StreamBalance {
        let hz = clock_mhz * 1e6;
        let compute_s = mean_cycles / hz;
        let slowest = transfer_s.max(compute_s);
        let per_cycle = |cycles: f64| if cycles > 0.0 { synaptic_ops / cycles } else { 0.0 };
        StreamBalance {
            transfer_s,
            compute_s,
            inferences_per_s: if slowest > 0.0 { 1.0 / slowest } else { 0.0 },
            fraction_of_bound: if slowest > 0.0 { transfer_s / slowest } else { 1.0 },
            synaptic_ops,
            ops_per_cycle: per_cycle(mean_cycles),
            ops_per_cycle_needed: per_cycle(transfer_s * hz),
            measured: false,
            stall_cycles: 0.0,
            waits_by_layer: vec![],
        }
    }
}

/// Cycles per inference on the inputs, and where they go.
#[derive(Clone, Debug, Serialize)]
pub struct MeasuredCycles {
    /// Inputs run.
    pub samples: usize,
    /// Mean, min and max cycles per inference.
    pub mean: f64,
    /// Fewest.
    pub min: u64,
    /// Most.
    pub max: u64,
    /// The plan's clock, MHz.
    pub clock_mhz: f64,
    /// The mean latency against its lower bound.
    pub bound: LatencyBound,
}

/// The mean latency against its lower bound, synaptic events x fan-out / lanes (what the
/// accumulate lanes must do at one target row per cycle), and where the other cycles go, each
/// per inference.
#[derive(Clone, Debug, Serialize)]
pub struct LatencyBound {
    /// The bound, cycles.
    pub bound: f64,
    /// Accumulate beats.
    pub beats: f64,
    /// Update passes' cycles.
    pub updates: f64,
    /// Input load and output cycles.
    pub io: f64,
    /// Cycles per inference.
    pub cycles: f64,
    /// Pipelined schedule: the busiest layer, its busy cycles and the cycles units waited.
    pub busiest: Option<(String, f64, f64)>,
    /// Streamed schedule: cycles layers waited for their weights from external memory.
    pub weight_waits: f64,
    /// `--fuse-steps`: the fused layers' phases (gathers and updates overlapped in them; not in
    /// `beats` or `updates`; omitted when none).
    #[serde(skip_serializing_if = "is_zero")]
    pub fused: f64,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

impl LatencyBound {
    /// Cycles no unit accounts for (sequential and streamed schedules): phase control.
    pub fn phase_control(&self) -> f64 {
        (self.cycles - self.beats - self.updates - self.io - self.weight_waits - self.fused).max(0.0)
    }

    /// Cycles over the bound, when there is a bound.
    pub fn ratio(&self) -> Option<f64> {
        (self.bound > 0.0).then(|| self.cycles / self.bound)
    }

    /// The figures of `total` over `n` inferences of `plan`.
    pub fn of(plan: &Plan, total: &Counters, n: usize) -> LatencyBound {
        let n = n.max(1) as f64;
        let per = |x: f64| x / n;
        let bound =
            per(plan.layers.iter().zip(&total.layers).map(|(l, c)| c.synaptic_ops as f64 / l.lanes as f64).sum());
        let fused = |k: usize| plan.fused(k);
        let updates = per(plan
            .layers
            .iter()
            .zip(&total.layers)
            .enumerate()
            .filter(|&(k, _)| !fused(k))
            .map(|(_, (l, c))| {
                // A layer in tiles runs an update pass per tile, over the tile's rows.
                let per = match l.tiles {
                    1 => crate::hw::schedule::upd_cycles(plan, l),
                    n => n as u64 * crate::hw::schedule::tile_upd_cycles(plan, l),
                };
                (c.update_passes * per) as f64
            })
            .sum());
        // Units overlap under the pipelined schedule: their busy cycles add up to more than
        // the latency, so the busiest one is what bounds it.
        let busiest = (plan.schedule == Schedule::Pipelined).then(|| {
            let (k, busy) = total
                .layers
                .iter()
                .enumerate()
                .map(|(k, c)| (k, c.cycles as f64 / n))
                .fold((0, 0.0), |a, b| if b.1 > a.1 { b } else { a });
            (plan.layers[k].name.clone(), busy, total.stall_cycles as f64 / n)
        });
        LatencyBound {
            bound,
            beats: per(total.layers.iter().enumerate().filter(|&(k, _)| !fused(k)).map(|(_, c)| c.beats as f64).sum()),
            fused: per(total.layers.iter().enumerate().filter(|&(k, _)| fused(k)).map(|(_, c)| c.cycles as f64).sum()),
            updates,
            io: per((total.load_cycles + total.out_cycles) as f64),
            cycles: per(total.cycles as f64),
            weight_waits: if plan.schedule == Schedule::Streamed { per(total.stall_cycles as f64) } else { 0.0 },
            busiest,
        }
    }
}

impl PlanReport {
    /// What `plan --json` prints: the FPGA plan's summary (with the passes and the external
    /// memory's figures), a chip's placement, or a priced chip's mapping.
    pub fn json(&self) -> Value {
        match &self.view {
            PlanView::Fpga { plan, streaming, .. } => {
                let mut v = serde_json::to_value(plan.summary()).expect("plain data");
                v["passes"] = json!(self.passes);
                v["logic"] = json!(self.logic);
                if let Some(s) = streaming {
                    v["external_memory"] = json!(s.figures);
                    v["external_memory"]["energy_per_pass"] = json!(s.energy_per_pass);
                    if let Some(b) = &self.balance {
                        v["external_memory"]["balance"] = json!(b);
                    }
                }
                v
            }
            PlanView::Chip { layout, chip_steps, notes } => {
                json!({"layout": layout, "chip_steps": chip_steps, "notes": notes})
            }
            PlanView::PricedChip { mapping, .. } => json!(mapping),
        }
    }

    /// Why the layout does not fit a chip's limits (the command exits 1), or `None`.
    pub fn failure(&self) -> Option<String> {
        match &self.view {
            PlanView::PricedChip { mapping, .. } if !mapping.fits() => {
                Some(format!("the model does not fit {}: {}", mapping.chip, mapping.violations.join("; ")))
            }
            _ => None,
        }
    }
}

/// Lays `m` out on `settings`' target after the passes; the input range comes from `inputs`,
/// else from the passes' `--calib` inputs. With `inputs`, an FPGA plan runs them on the cycle
/// engine.
pub fn plan(
    m: Model,
    settings: &PlanSettings,
    passes: &PassSettings,
    inputs: Option<&InputBatch>,
    progress: &dyn Progress,
) -> Result<PlanReport, Error> {
    let steps = super::steps_for(&m, inputs)?;
    let prep = prepare(m, steps, passes, settings, inputs, None, progress)?;
    let steps = prep.steps;
    let target = settings.target()?;
    let range = inputs.or(passes.calib.as_ref());
    let (design, phase) = backend::of(&target).lay_out(&prep.model, settings, &target, steps, range)?;
    let view = design.view(&target)?;
    let (mut cycles, mut balance) = (None, None);
    if let (PlanView::Fpga { plan, streaming, .. }, Some(b)) = (&view, inputs) {
        let r = cycle::run(plan, b, steps);
        let c = r.cycles();
        let n = c.len().max(1) as f64;
        let measured = MeasuredCycles {
            samples: c.len(),
            mean: c.iter().sum::<u64>() as f64 / n,
            min: c.iter().copied().min().unwrap_or(0),
            max: c.iter().copied().max().unwrap_or(0),
            clock_mhz: plan.clock_mhz,
            bound: LatencyBound::of(plan, &r.total, c.len()),
        };
        balance = streaming.as_ref().map(|s| {
            let f = &s.figures;
            let transfer_s = f.cycles_per_pass as f64 / f.batch.max(1) as f64 / (f.clock_mhz * 1e6);
            let ops = r.total.layers.iter().map(|l| l.synaptic_ops as f64).sum::<f64>() / n;
            let stalls = r.samples.iter().map(|s| s.counters.stall_cycles as f64).sum::<f64>() / n;
            let streams = plan.external.is_some();
            let mut waits: Vec<LayerWait> = (plan.layers.iter().zip(&r.total.layers))
                .filter(|(_, c)| streams && c.weight_waits > 0)
                .map(|(l, c)| LayerWait { layer: l.name.clone(), cycles: c.weight_waits as f64 / n })
                .collect();
            // A stable sort: equal waits keep the layers' order.
            waits.sort_by(|a, b| b.cycles.total_cmp(&a.cycles));
            StreamBalance {
                measured: streams,
                stall_cycles: if streams { stalls } else { 0.0 },
                waits_by_layer: waits,
                ..StreamBalance::of(transfer_s, measured.mean, plan.clock_mhz, ops)
            }
        });
        cycles = Some(measured);
    }
    let logic = match &view {
        PlanView::Fpga { plan, .. } => crate::hw::logic::Logic::of(plan, &target),
        _ => None,
    };
    Ok(PlanReport {
        logic,
        model: prep.model.path.display().to_string(),
        target: target.name.clone(),
        steps,
        passes: prep.records.into_iter().chain(phase).collect(),
        view,
        cycles,
        balance,
    })
}

#[cfg(test)]
mod tests {
    use super::StreamBalance;

    #[test]
    fn the_slower_of_transfer_and_compute_bounds_a_streamed_design() {
        // 1 ms of transfer; 25,000 cycles at 25 MHz is 1 ms of compute: balanced.
        let b = StreamBalance::of(1e-3, 25_000.0, 25.0, 50_000.0);
        assert_eq!((b.fraction_of_bound, b.inferences_per_s), (1.0, 1000.0));
        assert_eq!((b.ops_per_cycle, b.ops_per_cycle_needed), (2.0, 2.0));
        // Four times the cycles: compute bound, a quarter of the bandwidth bound, and the
        // datapath would need four times the accumulates per cycle.
        let b = StreamBalance::of(1e-3, 100_000.0, 25.0, 50_000.0);
        assert_eq!((b.fraction_of_bound, b.inferences_per_s), (0.25, 250.0));
        assert_eq!((b.ops_per_cycle, b.ops_per_cycle_needed), (0.5, 2.0));
        // Faster compute than transfer: the memory is the limit.
        let b = StreamBalance::of(1e-3, 5_000.0, 25.0, 50_000.0);
        assert_eq!((b.fraction_of_bound, b.inferences_per_s), (1.0, 1000.0));
    }
}
