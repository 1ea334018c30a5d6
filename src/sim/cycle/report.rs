//! What a run reports: per-inference [`Counters`] (per layer [`LayerCounters`]), each sample's
//! [`SampleResult`], a batch's [`BatchResult`], and the [`Tracer`] that records a traced
//! sample's every state change. Both paths report through `super::account`, which alone
//! fills the counters; the general path's count is the reference the fast path must equal.

use serde::Serialize;

use crate::data::Outputs;

/// Projections per layer whose counters a [`LayerCounters`] holds without a heap allocation.
pub const INLINE_PROJECTIONS: usize = 4;

/// One counter per projection of a layer.
pub type ProjCounts = smallvec::SmallVec<[u64; INLINE_PROJECTIONS]>;

/// Activity and cost counters of one layer (sums over samples when aggregated).
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct LayerCounters {
    /// Events delivered into the layer (over all its projections).
    pub events_in: u64,
    /// Accumulate beats (one weight word read and one membrane row read-modify-write each).
    pub beats: u64,
    /// Synaptic accumulates: (event, target neuron) pairs added.
    pub synaptic_ops: u64,
    /// Weight memory words read.
    pub weight_reads: u64,
    /// Membrane/state rows read (accumulate and update).
    pub state_reads: u64,
    /// Membrane/state rows written.
    pub state_writes: u64,
    /// Parameter ROM rows read.
    pub param_reads: u64,
    /// Neuron updates (neurons x steps run).
    pub neuron_updates: u64,
    /// Spikes emitted.
    pub spikes: u64,
    /// Event entries written.
    pub event_writes: u64,
    /// Event entries read by consumers.
    pub event_reads: u64,
    /// Writes that saturated.
    pub saturations: u64,
    /// Non-saturating writes outside the state's width: range analysis says this never
    /// happens; a non-zero count is a bug (the RTL would wrap).
    pub overflows: u64,
    /// Accumulate phases run (including empty ones).
    pub acc_phases: u64,
    /// Accumulate phases whose source had no events.
    pub empty_acc_phases: u64,
    /// Update passes run.
    pub update_passes: u64,
    /// Synaptic accumulates per projection (inline up to [`INLINE_PROJECTIONS`]).
    pub proj_synaptic_ops: ProjCounts,
    /// Weight memory words read per projection.
    pub proj_weight_reads: ProjCounts,
    /// Cycles of this layer's ACC and UPD phases.
    pub cycles: u64,
    /// Streamed from external memory: cycles this layer's tiles were waited for before their
    /// first phase (their sum over the layers is [`Counters::stall_cycles`]).
    pub weight_waits: u64,
    /// Words of source spike planes read by this layer's dense projections (docs/hardware.md
    /// 4c): one per (plane word, weight word) pair gathered, each `lanes` popcounts.
    pub plane_reads: u64,
    /// Words of this layer's spike plane(s) written (a row's lanes each, every copy).
    pub plane_writes: u64,
}

impl LayerCounters {
    pub(super) fn add(&mut self, o: &LayerCounters) {
        self.events_in += o.events_in;
        self.beats += o.beats;
        self.synaptic_ops += o.synaptic_ops;
        self.weight_reads += o.weight_reads;
        self.state_reads += o.state_reads;
        self.state_writes += o.state_writes;
        self.param_reads += o.param_reads;
        self.neuron_updates += o.neuron_updates;
        self.spikes += o.spikes;
        self.event_writes += o.event_writes;
        self.event_reads += o.event_reads;
        self.saturations += o.saturations;
        self.overflows += o.overflows;
        self.acc_phases += o.acc_phases;
        self.empty_acc_phases += o.empty_acc_phases;
        self.update_passes += o.update_passes;
        if self.proj_synaptic_ops.len() < o.proj_synaptic_ops.len() {
            self.proj_synaptic_ops.resize(o.proj_synaptic_ops.len(), 0);
            self.proj_weight_reads.resize(o.proj_synaptic_ops.len(), 0);
        }
        for (a, b) in self.proj_synaptic_ops.iter_mut().zip(&o.proj_synaptic_ops) {
            *a += b;
        }
        for (a, b) in self.proj_weight_reads.iter_mut().zip(&o.proj_weight_reads) {
            *a += b;
        }
        self.cycles += o.cycles;
        self.weight_waits += o.weight_waits;
        self.plane_reads += o.plane_reads;
        self.plane_writes += o.plane_writes;
    }
}

/// Counters of one inference (or their sum over a batch).
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Counters {
    /// Total cycles from start to done.
    pub cycles: u64,
    /// Cycles of LOAD phases.
    pub load_cycles: u64,
    /// Cycles of OUT phases.
    pub out_cycles: u64,
    /// Cycles of START, DONE and early-exit checks.
    pub control_cycles: u64,
    /// Input values loaded.
    pub input_values: u64,
    /// Non-zero input values (input events).
    pub input_events: u64,
    /// Output words streamed.
    pub output_words: u64,
    /// Steps run (T, or fewer with early exit).
    pub steps_run: u64,
    /// Accumulate phases skipped because their source had no events.
    pub empty_acc_phases: u64,
    /// Cycles phases waited: the pipelined schedule's units for each other, the streamed
    /// schedule's layers for their weights from external memory (partners outside the design
    /// are always ready).
    pub stall_cycles: u64,
    /// Commands the external memory controller issued from start to done (a streamed plan
    /// whose weights are in external memory; else none).
    pub external: MemoryCommands,
    /// Per layer.
    pub layers: Vec<LayerCounters>,
}

/// Commands an external memory controller issued.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub struct MemoryCommands {
    /// ACTIVATE commands (each closed by a PRECHARGE).
    pub activates: u64,
    /// READ commands (words read).
    pub reads: u64,
    /// REFRESH commands.
    pub refreshes: u64,
}

impl MemoryCommands {
    fn add(&mut self, o: &MemoryCommands) {
        self.activates += o.activates;
        self.reads += o.reads;
        self.refreshes += o.refreshes;
    }
}

impl Counters {
    /// Adds the counters of another inference (or batch).
    pub fn add(&mut self, o: &Counters) {
        self.cycles += o.cycles;
        self.load_cycles += o.load_cycles;
        self.out_cycles += o.out_cycles;
        self.control_cycles += o.control_cycles;
        self.input_values += o.input_values;
        self.input_events += o.input_events;
        self.output_words += o.output_words;
        self.steps_run += o.steps_run;
        self.empty_acc_phases += o.empty_acc_phases;
        self.stall_cycles += o.stall_cycles;
        self.external.add(&o.external);
        if self.layers.len() < o.layers.len() {
            self.layers.resize(o.layers.len(), LayerCounters::default());
        }
        for (a, b) in self.layers.iter_mut().zip(&o.layers) {
            a.add(b);
        }
    }

    /// Total saturated writes.
    pub fn saturations(&self) -> u64 {
        self.layers.iter().map(|l| l.saturations).sum()
    }

    /// Total out-of-width writes (must be 0).
    pub fn overflows(&self) -> u64 {
        self.layers.iter().map(|l| l.overflows).sum()
    }
}

/// One inference's result.
#[derive(Clone, Debug)]
pub struct SampleResult {
    /// Output per step run: spikes (0/1) or V integers, `steps_run x out_neurons`, flat
    /// neuron order (C, H, W).
    pub raw: Vec<i64>,
    /// Counters; `cycles` is the exact cycle count.
    pub counters: Counters,
    /// Cycles at the end of each step (from start).
    pub step_end_cycles: Vec<u64>,
    /// Under the cascade ([`super::run_cascade`]): the outputs of each stage before the last,
    /// in the form of `raw` (the design streams them before `raw`); empty otherwise.
    pub stage_raw: Vec<Vec<i64>>,
}

/// A batch result.
#[derive(Clone, Debug)]
pub struct BatchResult {
    /// Per sample.
    pub samples: Vec<SampleResult>,
    /// Outputs as the reference engine reports them (spikes 0/1, values in real units;
    /// steps after an early exit are zero).
    pub outputs: Outputs,
    /// Sum of counters.
    pub total: Counters,
}

impl BatchResult {
    /// Cycles of each sample.
    pub fn cycles(&self) -> Vec<u64> {
        self.samples.iter().map(|s| s.counters.cycles).collect()
    }
}

/// A waveform recorder: receives every state change with its cycle.
///
/// Every schedule reports in cycle order. Step-major schedules report each step's neurons
/// before its `step`; the streamed schedule reports a layer's steps in turn before the next
/// layer, and each `step` after the output layer's update of it, so a recorder that needs the
/// step of a neuron takes it from [`Tracer::neuron_at`].
pub trait Tracer {
    /// Neuron `n` of layer `layer` was updated at `cycle`: its membrane `v` (before reset)
    /// and spike.
    fn neuron(&mut self, cycle: u64, layer: usize, n: usize, v: i64, spike: bool);
    /// [`Tracer::neuron`], with the step `t` of the update (what the engine calls).
    fn neuron_at(&mut self, cycle: u64, layer: usize, n: usize, t: usize, v: i64, spike: bool) {
        let _ = t;
        self.neuron(cycle, layer, n, v, spike);
    }
    /// A step ended at `cycle`.
    fn step(&mut self, cycle: u64, t: usize);
}
