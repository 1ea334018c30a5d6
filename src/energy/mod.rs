//! Energy per inference: the cycle engine's counters priced with a target's constants, next to
//! the conventional network it replaces. docs/energy.md explains the model and its limits.
//!
//! FPGA and ASIC targets (per inference):
//!
//! ```text
//! E = E_synaptic + E_neuron + E_memory + E_static + E_clock
//! E_synaptic = sum over projections of ops x (E_add(acc bits)          binary weights or spikes
//!                                           + E_mult(w bits x x bits)) multi-bit weights and values
//!                                                               (inputs, spike counts)
//! E_neuron   = neuron updates x (3 E_add(V bits) + compare + leak, E_mult when beta is a multiply,
//!                                + a compare for a membrane floor, + count bits x E_add(V bits)
//!                                for a multi-spike layer's count divider)
//! E_memory   = sum over memories of accesses x per-access energy
//!              per-access = (sram_base + sram_per_bit x memory bits) x ceil(width / 32)   block RAM / SRAM
//!                         = register_access x width / 32                                   registers
//! E_static   = static power x latency,  E_clock = energy per cycle x cycles
//! ```
//!
//! Neuromorphic targets price the same counted events with the chip's published per-event
//! energies: `synaptic ops x synop + neuron updates x neuron_update + spikes x spike_out`.
//!
//! The conventional network (ANN) is the same topology evaluated once: every weight is one
//! MAC (fp32, the SNN literature's E_MAC, and int8), every shortcut and pooling input one
//! add, weights and activations read or written once from SRAM sized by the fp32 weights.

pub mod neurobench;
pub mod sdram;

use serde::Serialize;

use crate::hw::dense::{self, Gather, Mode};
use crate::hw::{MemMap, Plan, Schedule};
use crate::quant::{AccTarget, Leak, ProjKind, Source};
use crate::sim::cycle::{BatchResult, Counters};
use crate::target::Kind;
use crate::target::Target;

/// Energy of one integer add of `bits` bits (Horowitz: 8-bit 0.03 pJ, 32-bit 0.1 pJ, linear).
pub fn e_add(t: &Target, bits: u32) -> f64 {
    let (e8, e32) = (t.energy.int8_add_j, t.energy.int_add_j);
    let b = bits as f64;
    if b <= 8.0 { e8 * b / 8.0 } else { e8 + (e32 - e8) * (b - 8.0) / 24.0 }
}

/// Energy of an integer multiply of `a` x `b` bits (array multiplier: proportional to a*b,
/// anchored at Horowitz's 8x8 = 0.2 pJ; 32x32 then gives 3.2 pJ against the measured 3.1).
pub fn e_mult(t: &Target, a: u32, b: u32) -> f64 {
    t.energy.int8_mult_j * (a as f64 * b as f64) / 64.0
}

/// Energy of a popcount of `w` bits: an adder tree, `w / 2^i` adds of `i` bits at level `i`.
pub fn e_popcount(t: &Target, w: usize) -> f64 {
    let mut e = 0.0;
    let (mut n, mut bits) = (w, 1u32);
    while n > 1 {
        n = n.div_ceil(2);
        e += n as f64 * e_add(t, bits);
        bits += 1;
    }
    e
}

/// Energy of one access to memory `m`.
pub fn e_access(t: &Target, map: &MemMap, bits: u64, width: usize) -> f64 {
    match map {
        MemMap::Registers => t.energy.register_access_j * width as f64 / 32.0,
        _ => (t.energy.sram_base_j + t.energy.sram_per_bit_j * bits as f64) * (width.div_ceil(32).max(1)) as f64,
    }
}

/// One component of the breakdown (joules per inference, mean over the inputs).
#[derive(Clone, Debug, Serialize)]
pub struct Component {
    /// Name: `synaptic`, `neuron`, `memory`, `static`, `clock`.
    pub name: String,
    /// Joules per inference.
    pub joules: f64,
}

/// Per layer (mean per inference).
#[derive(Clone, Debug, Serialize)]
pub struct LayerEnergy {
    /// Layer.
    pub name: String,
    /// Synaptic accumulates.
    pub synaptic_ops: f64,
    /// Neuron updates.
    pub neuron_updates: f64,
    /// Spikes emitted.
    pub spikes: f64,
    /// Joules: synaptic operations.
    pub synaptic_j: f64,
    /// Joules: neuron updates.
    pub neuron_j: f64,
    /// Joules: the layer's memories.
    pub memory_j: f64,
    /// Total.
    pub total_j: f64,
}

/// One memory's traffic (mean per inference).
#[derive(Clone, Debug, Serialize)]
pub struct MemoryEnergy {
    /// Memory name.
    pub name: String,
    /// Accesses per inference.
    pub accesses: f64,
    /// Bits per access (the memory's word).
    pub width: usize,
    /// Joules per access.
    pub per_access_j: f64,
    /// Joules per inference.
    pub joules: f64,
}

/// The conventional network's cost.
#[derive(Clone, Debug, Serialize)]
pub struct AnnBaseline {
    /// Multiply-accumulates per inference.
    pub macs: u64,
    /// Additions (shortcuts, pooling) per inference.
    pub adds: u64,
    /// Parameters (weights and biases).
    pub params: u64,
    /// Activations written and read.
    pub activations: u64,
    /// Memory energy (weights and activations through SRAM, fp32).
    pub memory_j: f64,
    /// Total with fp32 MACs (E_MAC 4.6 pJ at 45 nm).
    pub fp32_j: f64,
    /// Total with int8 MACs.
    pub int8_j: f64,
}

/// The estimate for one target.
#[derive(Clone, Debug, Serialize)]
pub struct Estimate {
    /// Target.
    pub target: String,
    /// `fpga`, `asic` or `neuromorphic`.
    pub kind: String,
    /// Inputs the figures are averaged over.
    pub samples: usize,
    /// Energy per inference in joules (mean).
    pub energy_per_inference_j: f64,
    /// Smallest over the inputs.
    pub energy_min_j: f64,
    /// Largest.
    pub energy_max_j: f64,
    /// Standard deviation.
    pub energy_std_j: f64,
    /// Latency per inference in seconds at the target clock (mean), when the target runs the plan.
    pub latency_s: Option<f64>,
    /// Cycles per inference (mean).
    pub cycles: f64,
    /// Breakdown by component.
    pub components: Vec<Component>,
    /// Breakdown by layer.
    pub layers: Vec<LayerEnergy>,
    /// Breakdown by memory.
    pub memories: Vec<MemoryEnergy>,
    /// Operation-level energy (synaptic + neuron + memory, without static power and clock),
    /// the part comparable with the conventional network's per-operation cost.
    pub operations_j: f64,
    /// The conventional network.
    pub ann: AnnBaseline,
    /// ANN (fp32) energy over the SNN's operation-level energy: how many times less the SNN
    /// spends on the same work (> 1: the SNN is cheaper).
    pub ann_fp32_over_snn: f64,
    /// ANN (int8) energy over the SNN's operation-level energy.
    pub ann_int8_over_snn: f64,
    /// The FPGA plan's schedule, or when `--schedule auto` chose it, its note (`auto: ...`,
    /// which names it and why); None on chips.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// Where a chip's figures come from and what they assume; None on FPGA and ASIC targets
    /// (the components say it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basis: Option<String>,
    /// What the plan needs beyond the device (FPGA memories), each with the figures: the
    /// estimate is of a design the device cannot hold.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exceeds_device: Vec<String>,
    /// The design's predicted logic (FPGA families with a fitted logic model).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logic: Option<crate::hw::logic::Logic>,
}

/// Accesses of every memory in one inference: (memory index in the plan, reads + writes).
fn memory_accesses(plan: &Plan, c: &Counters) -> Vec<f64> {
    let mut acc = vec![0.0; plan.memories.len()];
    let find = |name: &str| plan.memories.iter().position(|m| m.name == name);
    let mut add = |name: String, n: u64| {
        if let Some(i) = find(&name) {
            acc[i] += n as f64;
        }
    };
    // Reads of the input's events per event: one per projection from the input, each tile of
    // a layer in tiles reading them again; a layer that ran no step (a student a run-time mask
    // left out) reads none.
    let ran = |k: usize| c.layers.get(k).is_none_or(|lc| lc.update_passes > 0);
    let input_projs = |k: usize, l: &crate::hw::Layer| {
        u64::from(ran(k)) * l.tiles as u64 * l.projections.iter().filter(|p| p.source == Source::Input).count() as u64
    };
    if plan.schedule == Schedule::Pipelined {
        // A copy per reader: every event written to each, read by that reader's projections.
        for (k, l) in plan.layers.iter().enumerate().filter(|&(k, l)| input_projs(k, l) > 0) {
            add(format!("input.events.{}", l.name), c.input_events * (1 + input_projs(k, l)));
        }
    } else {
        let reads: u64 = plan.layers.iter().enumerate().map(|(k, l)| input_projs(k, l)).sum();
        add("input.events".into(), c.input_events * (1 + reads));
    }
    // The input's bit planes (--fuse-steps): every value written as it loads.
    add("input.plane".into(), c.input_values);
    // The tile buffer: each row written once per pass over the weights (a row gathers several
    // memory words).
    let passes = c.external.reads.div_ceil(plan.tiles().iter().map(|t| t.words).sum::<u64>().max(1));
    add("weights.tiles".into(), passes * crate::hw::memory::tile_rows_written(plan));
    for (k, l) in plan.layers.iter().enumerate() {
        let lc = &c.layers[k];
        // X: accumulate read-modify-writes and the update pass (read and write per row).
        let static_only = l.projections.iter().all(|p| p.target == AccTarget::Static);
        if static_only && l.s_bits > 0 {
            add(format!("{}.s", l.name), lc.state_reads + lc.state_writes - 2 * lc.update_passes * l.rows as u64);
            add(format!("{}.v", l.name), 2 * lc.update_passes * l.rows as u64);
        } else {
            add(format!("{}.v", l.name), lc.state_reads + lc.state_writes);
        }
        if l.s_bits > 0 && lc.update_passes > 0 {
            // The update pass reads S every step and clears it after the last.
            add(format!("{}.s", l.name), lc.update_passes * l.rows as u64 + l.rows as u64);
        }
        if l.y_bits > 0 {
            add(format!("{}.y", l.name), 2 * lc.update_passes * l.rows as u64);
        }
        if plan.fused(k) {
            // Each row's sum of each step written as its gather ends and read by its update.
            add("fused.sums".into(), 2 * lc.update_passes * l.rows as u64);
        }
        add(format!("{}.params", l.name), lc.param_reads);
        add(format!("{}.events", l.name), lc.event_writes + lc.event_reads);
        for (j, &r) in lc.proj_weight_reads.iter().enumerate() {
            add(format!("{}.w{j}", l.name), r);
            // A dense projection reads one plane word per weight word; a fused one holds a
            // weight word over its source's planes and a plane word over its weights' planes.
            let r = match plan.fused(k).then(|| dense::geometry(plan, k, j).ok()).flatten() {
                Some(g) => r * g.source_planes as u64 / g.weight_planes as u64,
                None => r,
            };
            match (l.modes[j], l.projections[j].source) {
                (Mode::Dense, Source::Layer(s)) => add(dense::plane_memory(plan, s, k), r),
                (Mode::Dense, Source::Input) => add("input.plane".into(), r),
                _ => {}
            }
        }
        // Every copy of the plane is written each row of each update pass.
        if lc.plane_writes > 0 {
            let mut planes: Vec<String> =
                dense::plane_readers(plan, k).into_iter().map(|r| dense::plane_memory(plan, k, r)).collect();
            planes.dedup();
            let copies = planes.len() as u64;
            for name in planes {
                add(name, lc.plane_writes / copies);
            }
        }
        if k == plan.output.layer {
            add(format!("{}.out", l.name), lc.update_passes * l.rows as u64 + c.output_words);
        }
    }
    acc
}

/// Energy of one inference from its counters: (total, components, per layer, per memory).
fn sample_energy(plan: &Plan, t: &Target, c: &Counters) -> (f64, Vec<Component>, Vec<LayerEnergy>, Vec<MemoryEnergy>) {
    let neuromorphic = t.kind == Kind::Neuromorphic;
    let mut layers = vec![];
    let (mut syn_total, mut neu_total) = (0.0, 0.0);
    let accesses = memory_accesses(plan, c);
    // Weights in external memory are read from the on-chip tile buffer.
    let tiles = plan.memories.iter().find(|m| m.role == "tiles");
    let mems: Vec<MemoryEnergy> = plan
        .memories
        .iter()
        .zip(&accesses)
        .map(|(m, &a)| {
            let per = match (neuromorphic, &m.map, tiles) {
                (true, _, _) => 0.0,
                (false, MemMap::External { .. }, Some(b)) => e_access(t, &b.map, b.bits(), m.width),
                _ => e_access(t, &m.map, m.bits(), m.width),
            };
            MemoryEnergy { name: m.name.clone(), accesses: a, width: m.width, per_access_j: per, joules: a * per }
        })
        .collect();
    for (k, l) in plan.layers.iter().enumerate() {
        let lc = &c.layers[k];
        let mut syn = 0.0;
        for (j, p) in l.projections.iter().enumerate() {
            let ops = lc.proj_synaptic_ops.get(j).copied().unwrap_or(0) as f64;
            let acc_bits = match p.target {
                AccTarget::Static => l.s_bits,
                AccTarget::Dynamic if l.kind.cuba() => l.y_bits,
                AccTarget::Dynamic => l.v_bits,
            };
            let xbits = match p.source {
                Source::Input => plan.input.bits,
                Source::Layer(s) => plan.layers[s].event_bits(),
            };
            let mult = !p.weights.binary() && xbits > 1;
            let dense = (l.modes[j] == Mode::Dense).then(|| dense::geometry(plan, k, j).ok()).flatten();
            syn += if let (Some(g), false) = (dense, neuromorphic) {
                // Each word: a popcount of the plane word alone, and per lane the popcount of
                // its AND with the weights and one add into the row's sum (one-to-one: the add).
                // A fused layer does that for each step and source plane of a weight word read.
                let reads = lc.proj_weight_reads.get(j).copied().unwrap_or(0) as f64;
                let words =
                    if plan.fused(k) { reads * lc.update_passes as f64 * g.source_planes as f64 } else { reads };
                let lanes = l.lanes as f64;
                let w = g.plane.width();
                match g.gather {
                    Gather::OneToOne => words * lanes * e_add(t, acc_bits),
                    _ => words * (e_popcount(t, w) + lanes * (e_popcount(t, w) + e_add(t, acc_bits))),
                }
            } else if neuromorphic {
                ops * t.energy.synop_j.unwrap_or(0.0)
            } else {
                ops * (e_add(t, acc_bits) + if mult { e_mult(t, p.weights.bits, xbits) } else { 0.0 })
            };
        }
        let n = lc.neuron_updates as f64;
        let neu = if neuromorphic {
            n * t.energy.neuron_update_j.unwrap_or(0.0) + lc.spikes as f64 * t.energy.spike_out_j.unwrap_or(0.0)
        } else {
            let leak_mult = matches!(l.leak, Leak::Mul { .. });
            // A floor is one more compare; a multi-spike layer's count divider one subtraction
            // per count bit.
            let extra = u32::from(!l.params.vmin.is_empty()) + if l.multi { l.count_bits } else { 0 };
            n * ((4.0 + extra as f64) * e_add(t, l.v_bits)
                + if leak_mult { e_mult(t, l.v_bits, plan.rules.leak_bits() + 1) } else { 0.0 })
        };
        let mem: f64 = plan.memories.iter().zip(&mems).filter(|(m, _)| m.layer == Some(k)).map(|(_, e)| e.joules).sum();
        syn_total += syn;
        neu_total += neu;
        layers.push(LayerEnergy {
            name: l.name.clone(),
            synaptic_ops: lc.synaptic_ops as f64,
            neuron_updates: n,
            spikes: lc.spikes as f64,
            synaptic_j: syn,
            neuron_j: neu,
            memory_j: mem,
            total_j: syn + neu + mem,
        });
    }
    let mem_total: f64 = mems.iter().map(|m| m.joules).sum();
    let cycles = c.cycles as f64;
    let latency = cycles / (plan.clock_mhz * 1e6);
    let (stat, clock) =
        if neuromorphic { (0.0, 0.0) } else { (t.energy.static_w * latency, t.energy.energy_per_cycle_j * cycles) };
    let mut components = vec![
        Component { name: "synaptic".into(), joules: syn_total },
        Component { name: "neuron".into(), joules: neu_total },
        Component { name: "memory".into(), joules: mem_total },
        Component { name: "static".into(), joules: stat },
        Component { name: "clock".into(), joules: clock },
    ];
    // A plan streaming its weights: the SDRAM's commands and background over the inference.
    if let Some(mem) = &plan.external {
        let e = c.external;
        let counts = crate::sim::sdram::Counts {
            activates: e.activates,
            reads: e.reads,
            writes: 0,
            precharges: e.activates,
            refreshes: e.refreshes,
            cycles: c.cycles,
        };
        let j = sdram::energy(&mem.power, &counts, plan.clock_mhz).total_j();
        components.push(Component { name: "external memory".into(), joules: j });
    }
    let total = components.iter().map(|c| c.joules).sum();
    (total, components, layers, mems)
}

/// The conventional network of the same topology as `plan`, evaluated once.
pub fn ann_baseline(plan: &Plan, t: &Target) -> AnnBaseline {
    ann_of_layers(plan.layers.iter().map(|l| &**l), plan.input.numel(), t)
}

/// The conventional network of the same topology as a quantised network's `layers` on
/// `input_numel` inputs, evaluated once, priced with `t`'s per-operation constants.
pub fn ann_of_layers<'a>(
    layers: impl IntoIterator<Item = &'a crate::quant::Layer>,
    input_numel: usize,
    t: &Target,
) -> AnnBaseline {
    let (mut macs, mut adds, mut params, mut acts) = (0u64, 0u64, 0u64, input_numel as u64);
    for l in layers {
        let n = l.neurons() as u64;
        acts += n;
        params += n; // one bias or threshold per output
        for p in &l.projections {
            match &p.kind {
                ProjKind::Dense { cols } => {
                    macs += n * *cols as u64;
                    params += n * *cols as u64;
                }
                ProjKind::Conv { ci, kh, kw, groups, .. } => {
                    let per_out = (ci / groups * kh * kw) as u64;
                    macs += n * per_out;
                    params += l.shape[0] as u64 * per_out;
                }
                ProjKind::Pool(g) => adds += n * (g.k[0] * g.k[1]) as u64,
                ProjKind::OneToOne => adds += n,
            }
            if let Some(g) = &p.pre_pool {
                adds += (p.src_shape.iter().product::<usize>() * g.k[0] * g.k[1] / (g.s[0] * g.s[1]).max(1)) as u64;
            }
        }
    }
    // Every weight read once and every activation written once and read once, as fp32 words.
    let per = t.energy.sram_base_j + t.energy.sram_per_bit_j * (params * 32) as f64;
    let memory_j = (params + 2 * acts) as f64 * per;
    let fp32_j = macs as f64 * t.energy.mac_j + adds as f64 * t.energy.ac_j + memory_j;
    let int8_j =
        macs as f64 * (t.energy.int8_mult_j + t.energy.int8_add_j) + adds as f64 * t.energy.int8_add_j + memory_j / 4.0;
    AnnBaseline { macs, adds, params, activations: 2 * acts, memory_j, fp32_j, int8_j }
}

type SampleEnergy = (f64, Vec<Component>, Vec<LayerEnergy>, Vec<MemoryEnergy>);

/// Mean joules of each component over the samples.
fn components_mean(per: &[SampleEnergy], n: f64) -> Vec<f64> {
    let mut acc = vec![0.0; per.first().map_or(0, |p| p.1.len())];
    for p in per {
        for (a, c) in acc.iter_mut().zip(&p.1) {
            *a += c.joules / n;
        }
    }
    acc
}

/// Prices a cycle-engine run of `plan` on target `t`.
pub fn estimate(plan: &Plan, t: &Target, run: &BatchResult) -> Estimate {
    let per: Vec<_> = run.samples.iter().map(|s| sample_energy(plan, t, &s.counters)).collect();
    let n = per.len().max(1) as f64;
    let totals: Vec<f64> = per.iter().map(|p| p.0).collect();
    let mean = totals.iter().sum::<f64>() / n;
    let var = totals.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / n;
    let avg = |f: &dyn Fn(&SampleEnergy) -> Vec<f64>| -> Vec<f64> {
        let mut acc: Vec<f64> = vec![];
        for p in &per {
            let v = f(p);
            if acc.is_empty() {
                acc = vec![0.0; v.len()];
            }
            for (a, b) in acc.iter_mut().zip(v) {
                *a += b / n;
            }
        }
        acc
    };
    let first = &per[0];
    let comp = avg(&|p| p.1.iter().map(|c| c.joules).collect());
    let components = first.1.iter().zip(comp).map(|(c, j)| Component { name: c.name.clone(), joules: j }).collect();
    let fields = |l: &LayerEnergy| {
        vec![l.synaptic_ops, l.neuron_updates, l.spikes, l.synaptic_j, l.neuron_j, l.memory_j, l.total_j]
    };
    let lav = avg(&|p| p.2.iter().flat_map(fields).collect());
    let layers = first
        .2
        .iter()
        .enumerate()
        .map(|(k, l)| {
            let f = &lav[k * 7..k * 7 + 7];
            LayerEnergy {
                name: l.name.clone(),
                synaptic_ops: f[0],
                neuron_updates: f[1],
                spikes: f[2],
                synaptic_j: f[3],
                neuron_j: f[4],
                memory_j: f[5],
                total_j: f[6],
            }
        })
        .collect();
    let mav = avg(&|p| p.3.iter().flat_map(|m| [m.accesses, m.joules]).collect());
    let memories = first
        .3
        .iter()
        .enumerate()
        .map(|(i, m)| MemoryEnergy {
            name: m.name.clone(),
            accesses: mav[2 * i],
            width: m.width,
            per_access_j: m.per_access_j,
            joules: mav[2 * i + 1],
        })
        .collect();
    let cycles = run.samples.iter().map(|s| s.counters.cycles as f64).sum::<f64>() / n;
    let ann = ann_baseline(plan, t);
    let latency_s = (t.kind != Kind::Neuromorphic).then(|| cycles / (plan.clock_mhz * 1e6));
    let operations_j: f64 = first
        .1
        .iter()
        .zip(&components_mean(&per, n))
        .filter(|(c, _)| matches!(c.name.as_str(), "synaptic" | "neuron" | "memory"))
        .map(|(_, j)| j)
        .sum();
    Estimate {
        target: t.name.clone(),
        kind: t.kind.to_string(),
        samples: per.len(),
        energy_per_inference_j: mean,
        energy_min_j: totals.iter().cloned().fold(f64::INFINITY, f64::min),
        energy_max_j: totals.iter().cloned().fold(0.0, f64::max),
        energy_std_j: var.sqrt(),
        latency_s,
        cycles,
        components,
        layers,
        memories,
        operations_j,
        ann_fp32_over_snn: ann.fp32_j / operations_j,
        ann_int8_over_snn: ann.int8_j / operations_j,
        ann,
        schedule: Some(plan.schedule_note.clone().unwrap_or_else(|| plan.schedule.name().to_string())),
        basis: None,
        exceeds_device: plan.device_misfits(t),
        logic: crate::hw::logic::Logic::of(plan, t),
    }
}
