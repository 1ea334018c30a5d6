//! `simulate`: a model run on the reference engine (what the framework computes) or on the
//! hardware's integers (the FPGA plan cycle by cycle, or a chip's own model).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::backend;
use super::{Error, Job, Progress};
use crate::Model;
use crate::data::{self, Outputs};
use crate::passes::PassRecord;
use crate::sim::reference::{self, RunOptions};

/// Which engine `simulate` runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// Floating point, what the training framework computes.
    #[default]
    Reference,
    /// The hardware in integers: the FPGA plan cycle by cycle (bit-exact with the RTL), or on a
    /// chip target the chip's own integer model (bit-exact with the vendor's simulator).
    Cycle,
}

/// What `simulate` takes besides the model, inputs and the shared options.
#[derive(Clone, Debug, PartialEq, clap::Args, Serialize, Deserialize)]
#[serde(default)]
pub struct SimulateOptions {
    /// Engine.
    #[arg(long, value_enum, default_value = "reference")]
    pub engine: Engine,
    /// Compute the reference engine in f64 instead of f32.
    #[arg(long)]
    pub f64: bool,
    /// Output node to report when the model has several.
    #[arg(long)]
    pub output: Option<String>,
    /// Run only these students of the ensemble (names or indices as `inspect` lists them,
    /// comma-separated): a run-time input of one compiled design. The cycle engine runs the
    /// full design's integers with the others switched off; the reference engine runs the
    /// model without the others (as `--students` prunes it).
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub active_students: Vec<String>,
    /// Run the active students as an input-adaptive cascade (cycle engine, the streamed
    /// schedule's design): one at a time in plan order, stopping after the first whose
    /// combined output's margin (top class's spike count less the runner-up's, over every
    /// step) reaches MARGIN; a run-time input of the one design.
    #[arg(long, value_name = "MARGIN")]
    pub cascade: Option<u64>,
    /// The cascade's order, every student once (names or indices); default: chosen on the
    /// inputs, best first (the design agreeing most with the full ensemble at each stage).
    #[arg(long, value_delimiter = ',', value_name = "NAMES", requires = "cascade")]
    pub cascade_order: Vec<String>,
    /// Write a VCD waveform (GTKWave) of one sample on the cycle engine (FPGA and ASIC
    /// targets).
    #[arg(long, value_name = "FILE")]
    pub vcd: Option<PathBuf>,
    /// Sample traced by --vcd.
    #[arg(long, default_value_t = 0)]
    pub vcd_sample: usize,
    /// Neurons traced per layer by --vcd.
    #[arg(long, default_value_t = 32)]
    pub vcd_neurons: usize,
}

impl Default for SimulateOptions {
    fn default() -> Self {
        crate::options::defaults()
    }
}

/// What `simulate` computed.
#[derive(Clone, Debug)]
pub struct Simulation {
    /// The model that ran (after the passes).
    pub model: Model,
    /// Engine.
    pub engine: Engine,
    /// Reference engine in f64.
    pub f64: bool,
    /// Samples.
    pub samples: usize,
    /// Timesteps.
    pub steps: usize,
    /// The output node's values, `samples x steps x output shape`.
    pub outputs: Outputs,
    /// Spikes per neuron per step of each spiking layer.
    pub rates: Vec<(String, f64)>,
    /// Accuracy, with labels.
    pub accuracy: Option<f64>,
    /// Cycles per inference, mean (FPGA cycle engine).
    pub cycles_mean: Option<f64>,
    /// Steps run per inference, mean (FPGA cycle engine).
    pub mean_steps: Option<f64>,
    /// What the passes changed, and on a chip what its mapping noted.
    pub records: Vec<PassRecord>,
    /// What the chip's quantisation and placement noted (chip targets).
    pub notes: Vec<String>,
    /// The students that ran (`--active-students`; empty: every student).
    pub active_students: Vec<String>,
    /// The cascade's threshold (`--cascade`).
    pub cascade: Option<u64>,
    /// The cascade's order, student names (given, or chosen on the inputs).
    pub cascade_order: Vec<String>,
    /// Under the cascade: the students run per inference, mean.
    pub students_mean: Option<f64>,
}

impl Simulation {
    /// What `simulate --json` prints.
    pub fn json(&self) -> Value {
        json!({
            "model": self.model.path.display().to_string(),
            "engine": match self.engine { Engine::Reference => "reference", Engine::Cycle => "cycle" },
            "precision": if self.engine == Engine::Cycle { "plan integers" } else if self.f64 { "f64" } else { "f32" },
            "cycles_per_inference": self.cycles_mean,
            "mean_steps": self.mean_steps,
            "dialect": self.model.dialect(),
            "samples": self.samples,
            "timesteps": self.steps,
            "spike_rates": self.rates.iter().map(|(n, r)| json!({"node": n, "rate": r})).collect::<Vec<_>>(),
            "classes": self.outputs.classes(),
            "accuracy": self.accuracy,
            "passes": self.records,
            "notes": self.notes,
            "active_students": self.active_students,
            "cascade": self.cascade,
            "cascade_order": self.cascade_order,
            "students_per_inference": self.students_mean,
        })
    }
}

/// Runs `job`'s checked inputs with the reference or the cycle engine, after the passes.
pub fn simulate(job: &Job<'_>, o: &SimulateOptions, progress: &dyn Progress) -> Result<Simulation, Error> {
    let active = &o.active_students;
    if o.cascade.is_none() && !o.cascade_order.is_empty() {
        return Err(Error::Usage("--cascade-order orders the cascade: give it with --cascade".into()));
    }
    if o.cascade.is_some() && o.engine == Engine::Reference {
        return Err(Error::Usage(
            "--cascade decides on the design's integer spike counts; give it with --engine cycle".into(),
        ));
    }
    if o.cascade.is_some() && (!job.passes.students.is_empty() || job.passes.keep_students.is_some()) {
        return Err(Error::Usage(
            "--cascade chooses students at run time; give it without --students or --keep-students".into(),
        ));
    }
    if o.cascade.is_some() && o.vcd.is_some() {
        return Err(Error::Usage("--vcd traces the full design; give it without --cascade".into()));
    }
    if !active.is_empty() && o.engine == Engine::Reference {
        // What the framework computes without the other students: the model pruned to these.
        if !job.passes.students.is_empty() || job.passes.keep_students.is_some() {
            return Err(Error::Usage(
                "--active-students chooses students at run time; give it without --students or --keep-students".into(),
            ));
        }
        let passes = crate::options::PassSettings { students: active.clone(), ..job.passes.clone() };
        let pruned = Job { passes: &passes, ..*job };
        let o = SimulateOptions { active_students: vec![], ..o.clone() };
        return simulate(&pruned, &o, progress).map(|s| Simulation { active_students: active.clone(), ..s });
    }
    if !active.is_empty() && o.vcd.is_some() {
        return Err(Error::Usage("--vcd traces the full design; give it without --active-students".into()));
    }
    let prep = job.prepare(progress)?;
    let steps = prep.steps;
    let checked = job.checked()?;
    let batch = &*checked.inputs;
    // The reference engine runs the cut model as the framework would; the cycle engine the
    // simplified one it is built from.
    let m = if o.engine == Engine::Reference { prep.cut.clone() } else { prep.model.clone() };
    let output = m.graph.select_output(o.output.as_deref()).map_err(reference::SimError::from)?;
    if o.vcd.is_some() && o.engine != Engine::Cycle {
        return Err(Error::Usage("--vcd needs --engine cycle".into()));
    }
    let (mut cycles_mean, mut mean_steps, mut notes, mut students_mean) = (None, None, vec![], None);
    let mut cascade_order: Vec<String> = vec![];
    let mut records = prep.records;
    let (outputs, rates) = match o.engine {
        Engine::Reference => {
            let g = &m.graph;
            let r = reference::run(g, &m.info, m.dialect(), batch, &RunOptions { steps, f64: o.f64, output }, None)?;
            let rates = m
                .info
                .order
                .iter()
                .filter(|&&ix| g.g[ix].op.emits_spikes())
                .map(|&ix| {
                    let k = ix.index();
                    let total = (batch.n * steps * r.activity.numel[k]) as f64;
                    (g.g[ix].name.clone(), r.activity.nonzero[k] as f64 / total)
                })
                .collect();
            (r.outputs, rates)
        }
        Engine::Cycle => {
            let target = job.plan.target()?;
            let (design, phase) = backend::of(&target).lay_out(&m, job.plan, &target, steps, Some(job.inputs))?;
            records.extend(phase);
            // The cascade's order, resolved once (chosen on every input unless given).
            if let (Some(_), Some(plan)) = (o.cascade, design.plan()) {
                let st = plan.students.as_ref().map(|st| st.names.clone()).unwrap_or_default();
                let order = super::mask::cascade_order(plan, Some(job.inputs), &o.cascade_order)?;
                cascade_order = order.iter().map(|&s| st[s].clone()).collect();
            }
            let order = if cascade_order.is_empty() { &o.cascade_order } else { &cascade_order };
            let cascade = o.cascade.map(|margin| backend::CascadeArgs { margin, order, calib: job.inputs });
            let run = backend::run_design(&*design, batch, &target, active, cascade)?;
            if o.cascade.is_some() {
                students_mean = run.cycle.as_ref().map(super::cascade_students_mean);
            }
            if let Some(path) = &o.vcd {
                let plan = design
                    .plan()
                    .ok_or_else(|| Error::Usage("--vcd traces the FPGA plan; give an FPGA or ASIC --target".into()))?;
                if o.vcd_sample >= batch.n {
                    return Err(Error::Usage(format!(
                        "--vcd-sample {} but there are {} samples",
                        o.vcd_sample, batch.n
                    )));
                }
                crate::sim::vcd::write(plan, batch, o.vcd_sample, steps, o.vcd_neurons, path)
                    .map_err(|e| crate::flow::FlowError::Io(format!("{}: {e}", path.display())))?;
            }
            (cycles_mean, mean_steps, notes) = (run.cycles_mean, run.mean_steps, design.notes());
            (run.outputs, run.rates)
        }
    };
    let accuracy = checked.labels.map(|l| data::agreement(&outputs.classes(), l));
    Ok(Simulation {
        model: m,
        engine: o.engine,
        f64: o.f64,
        samples: batch.n,
        steps,
        outputs,
        rates,
        accuracy,
        cycles_mean,
        mean_steps,
        records,
        notes,
        active_students: active.clone(),
        cascade: o.cascade,
        cascade_order,
        students_mean,
    })
}
