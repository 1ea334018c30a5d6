//! The interface every target kind implements once: an FPGA or ASIC family (the FPGA layout's
//! plan, its RTL and HLS C++), a chip with a model (its own quantiser, chip-exact model and
//! vendor export) and a chip spikefab only prices (the generic chip mapping and the FPGA
//! layout's counts). The commands look a target's back end up once ([`super::of`]) and call
//! only this interface; none asks which kind a target is.

use std::path::Path;

use serde::Serialize;

use crate::Model;
use crate::data::{InputBatch, Outputs};
use crate::driver::checked::Checked;
use crate::driver::chip::{ChipLayout, ChipMap};
use crate::driver::compile::{CompileOptions, CompileReport};
use crate::driver::phase::run_phase;
use crate::driver::resource::Row;
use crate::driver::{Error, Prepared, Progress};
use crate::energy::Estimate;
use crate::hw::Plan;
use crate::hw::sdram::StreamFigures;
use crate::options::PlanSettings;
use crate::passes::{PassRecord, Pipeline};
use crate::sim::cycle::BatchResult;
use crate::target::Target;

/// A stage of the compiler a back end runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// The FPGA plan: quantised layers, memories, schedule, datapaths.
    Plan,
    /// The cycle engine on the plan (bit-exact with the RTL).
    CycleEngine,
    /// Verilog RTL, co-simulated against the cycle engine.
    Verilog,
    /// HLS C++, C-simulated against the cycle engine.
    Hls,
    /// A bitstream through the target's flow.
    Bitstream,
    /// The chip's own quantisation and placement.
    ChipMap,
    /// The chip-exact model.
    ChipModel,
    /// The vendor's files, judged by the vendor's simulator.
    VendorExport,
    /// The generic chip mapping of the `[chip]` limits (cores, fan-in).
    ChipLimits,
    /// Energy per inference.
    Energy,
}

/// What a back end is and does.
#[derive(Debug, Serialize)]
pub struct BackendInfo {
    /// `fpga` (FPGA and ASIC targets), `chip` (a chip with a model) or `priced-chip`.
    pub kind: &'static str,
    /// The stages it runs, in order.
    pub stages: &'static [Stage],
    /// Its `verify` checks a batch in shards that add up (`--shard`).
    pub shards: bool,
    /// The plan options it reads (their flags); the others are refused when set.
    pub options: &'static [&'static str],
    /// Why it reads no others, for the refusal.
    pub why_not_others: &'static str,
}

impl BackendInfo {
    /// It runs `stage`.
    pub fn runs(&self, stage: Stage) -> bool {
        self.stages.contains(&stage)
    }
}

/// A target kind's back end.
pub trait TargetBackend: Sync {
    /// What it is and which stages it runs.
    fn info(&self) -> &'static BackendInfo;

    /// The plan settings it reads of `s` in a command that runs several kinds side by side
    /// (`compare`): the others' options at their defaults. Alone, a back end refuses an option
    /// it does not read (exit 2, naming it).
    fn settings_beside_others(&self, s: &PlanSettings) -> PlanSettings;

    /// The passes its designs need the model to have run first (the chips' legalisation),
    /// beyond the ones every target shares; the driver runs them ([`TargetBackend::lay_out`]).
    fn passes(&self) -> Pipeline {
        Pipeline::new()
    }

    /// Refuses the plan options set in `s` that this back end does not read ([`Error::Usage`],
    /// exit 2, naming them and the target): it would ignore them.
    fn accept(&self, s: &PlanSettings, target: &Target) -> Result<(), Error> {
        let info = self.info();
        let ignored: Vec<&str> = s.options_set().into_iter().filter(|f| !info.options.contains(f)).collect();
        if ignored.is_empty() {
            return Ok(());
        }
        let one = ignored.len() == 1;
        Err(Error::Usage(format!(
            "{} {} the FPGA plan's; target '{}' {}, which takes of the plan options only {}: drop {}",
            ignored.join(", "),
            if one { "is an option of" } else { "are options of" },
            target.name,
            info.why_not_others,
            info.options.join(" and "),
            if one { "it" } else { "them" },
        )))
    }

    /// Runs [`TargetBackend::accept`] on `settings` and [`TargetBackend::passes`] on `m`, then
    /// lays the result out ([`TargetBackend::design`]):
    /// the design and what the passes changed, as pass records.
    fn lay_out(
        &self,
        m: &Model,
        settings: &PlanSettings,
        target: &Target,
        steps: usize,
        calib: Option<&InputBatch>,
    ) -> Result<(Box<dyn Design>, Vec<PassRecord>), Error> {
        self.accept(settings, target)?;
        let (legal, records) = run_phase(m, &self.passes(), steps)?;
        Ok((self.design(&legal, settings, target, steps, calib)?, records))
    }

    /// Quantises and lays out `m` on `target` for `steps` steps, the input range from
    /// `settings.input_scale` or `calib`. `m` has run [`TargetBackend::passes`].
    fn design(
        &self,
        m: &Model,
        settings: &PlanSettings,
        target: &Target,
        steps: usize,
        calib: Option<&InputBatch>,
    ) -> Result<Box<dyn Design>, Error>;

    /// The vendor's simulator that judges this back end's export (`chipsim`); a back end
    /// without an export says why not.
    fn vendor_simulator(&self, target: &Target) -> Result<&'static str, Error>;

    /// `compile`: the back end's files written into `o.out_dir`, checked.
    fn compile(
        &self,
        m: &Model,
        o: &CompileOptions,
        target: &Target,
        progress: &dyn Progress,
    ) -> Result<CompileReport, Error>;
}

/// The refusal of `--active-students` by a target whose students are fixed at compile time.
pub(crate) fn fixed_students() -> Error {
    Error::Usage(
        "--active-students: this target cannot switch students at run time; choose them at compile time with \
         --students"
            .into(),
    )
}

/// The refusal of a row asking a target whose students are fixed at compile time to switch
/// them at run time (`--active-students` or `--cascade`); Ok when it asks neither.
pub(crate) fn fixed_students_row(cx: &RowContext<'_>) -> Result<(), Error> {
    match (cx.cascade, cx.active) {
        (Some(_), _) => Err(cascade_refused()),
        (None, []) => Ok(()),
        (None, _) => Err(fixed_students()),
    }
}

/// The refusal of `--cascade` by a target whose students are fixed at compile time.
fn cascade_refused() -> Error {
    Error::Usage(
        "--cascade: this target cannot switch students at run time, so it cannot stop after some of them".into(),
    )
}

/// `--cascade MARGIN` and `--cascade-order NAMES` (empty: chosen on `calib`).
#[derive(Clone, Copy, Debug)]
pub struct CascadeArgs<'a> {
    /// The threshold.
    pub margin: u64,
    /// The order.
    pub order: &'a [String],
    /// The inputs an order not given is chosen on: every input of the command (the ones that
    /// calibrate), not only the `--samples` checked, so that every command choosing the order
    /// on the same inputs gets the design `compile --cascade` builds.
    pub calib: &'a InputBatch,
}

/// `design`'s run of `batch` on `target`: every student (`names` empty), the students `names`
/// (`--active-students`), or the cascade over them (`--cascade`).
pub(crate) fn run_design(
    design: &dyn Design,
    batch: &InputBatch,
    target: &Target,
    names: &[String],
    cascade: Option<CascadeArgs<'_>>,
) -> Result<DesignRun, Error> {
    match (names, cascade) {
        (_, Some(c)) => design.run_cascade(batch, target, names, c),
        ([], None) => Ok(design.run(batch, target)),
        (names, None) => design.run_active(batch, target, names),
    }
}

/// A model laid out on a target.
pub trait Design: Send + Sync {
    /// What the quantisation approximated and the layout decided.
    fn notes(&self) -> Vec<String>;

    /// Runs `batch` on the target's integer model (the cycle engine, or the chip-exact model).
    fn run(&self, batch: &InputBatch, target: &Target) -> DesignRun;

    /// [`Design::run`] with only the students `names` of the ensemble active, a run-time input
    /// of the one design (`--active-students`). A target that cannot switch students at run
    /// time refuses: its students are chosen at compile time (`--students`).
    fn run_active(&self, _batch: &InputBatch, _target: &Target, _names: &[String]) -> Result<DesignRun, Error> {
        Err(fixed_students())
    }

    /// The input-adaptive cascade over the students `names` (every student when empty) as
    /// `cascade` asks ([`crate::sim::cycle::run_cascade`]), a run-time input of the one design
    /// (`--cascade`). A target that cannot switch students at run time refuses.
    fn run_cascade(
        &self,
        _batch: &InputBatch,
        _target: &Target,
        _names: &[String],
        _cascade: CascadeArgs<'_>,
    ) -> Result<DesignRun, Error> {
        Err(cascade_refused())
    }

    /// [`Design::check`] with only the students `names` active in the design at run time:
    /// `cut` (the model pruned to them) is the reference. Refused like [`Design::run_active`]
    /// by a target that cannot switch students at run time.
    #[allow(clippy::too_many_arguments)]
    fn check_active(
        &self,
        _cut: &Prepared,
        _batch: &InputBatch,
        _labels: Option<&[usize]>,
        _min_agreement: f64,
        _target: &Target,
        _names: &[String],
        _progress: &dyn Progress,
    ) -> Result<Checked, Error> {
        Err(fixed_students())
    }

    /// The hardware against the reference engine on `batch`: `prep.cut` is the reference.
    fn check(
        &self,
        prep: &Prepared,
        batch: &InputBatch,
        labels: Option<&[usize]>,
        min_agreement: f64,
        target: &Target,
        progress: &dyn Progress,
    ) -> Result<Checked, Error>;

    /// What `plan` shows of the layout.
    fn view(&self, target: &Target) -> Result<PlanView, Error>;

    /// The row `compare` shows: `scored` gives accuracy and agreement of a run's classes.
    fn row(&self, cx: &RowContext<'_>) -> Result<Row, Error>;

    /// The FPGA plan, for what draws or traces it (VCD, the HTML report, shards).
    fn plan(&self) -> Option<&Plan> {
        None
    }

    /// The chip placement, for what runs the vendor's simulator (`chipsim`).
    fn chip(&self) -> Option<&dyn ChipMap> {
        None
    }
}

/// What one run on a design computed.
pub struct DesignRun {
    /// The output values, `samples x steps x output shape`.
    pub outputs: Outputs,
    /// Spikes per neuron per step of each spiking layer.
    pub rates: Vec<(String, f64)>,
    /// Cycles per inference, mean (designs with a cycle model).
    pub cycles_mean: Option<f64>,
    /// Steps run per inference, mean (designs with a cycle model).
    pub mean_steps: Option<f64>,
    /// Energy per inference, when the target prices it.
    pub estimate: Option<Estimate>,
    /// The cycle engine's result (FPGA plans).
    pub cycle: Option<BatchResult>,
}

/// What `compare` hands a design for its row.
pub struct RowContext<'a> {
    /// The model the design was made from.
    pub model: &'a Model,
    /// The target.
    pub target: &'a Target,
    /// The checked inputs.
    pub batch: &'a InputBatch,
    /// Steps.
    pub steps: usize,
    /// Accuracy and agreement of a run's classes.
    pub scored: &'a dyn Fn(Vec<usize>) -> (Option<f64>, Option<f64>),
    /// The students switched on at run time (`--active-students`; empty: every student): a
    /// target that cannot switch students refuses the row.
    pub active: &'a [String],
    /// The input-adaptive cascade over them (`--cascade`): a target that cannot switch
    /// students refuses the row, and an FPGA design that cannot run it says why.
    pub cascade: Option<CascadeArgs<'a>>,
    /// Build bitstreams where the target's flow allows, into this folder's `<target>/`: the
    /// compile options of the row's build.
    pub bitstream: Option<(&'a Path, &'a CompileOptions)>,
    /// Progress.
    pub progress: &'a dyn Progress,
}

/// What `plan` shows: the layout each kind of back end makes.
#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum PlanView {
    /// An FPGA plan, with the figures of streaming its weights from the board's external memory
    /// when the target has one.
    Fpga {
        /// The plan.
        #[serde(skip)]
        plan: Box<Plan>,
        /// Why the plan does not fit the device, each with its figures.
        misfits: Vec<String>,
        /// Streaming the weights from the external memory, when the target has one.
        streaming: Option<Box<Streaming>>,
        /// Why the streaming figures are missing although the target has external memory.
        streaming_warning: Option<String>,
    },
    /// A chip's own placement.
    Chip {
        /// The placement.
        layout: ChipLayout,
        /// Steps the chip runs per inference.
        chip_steps: usize,
        /// What the quantisation approximated and the placement decided.
        notes: Vec<String>,
    },
    /// A chip spikefab prices: the generic mapping of its `[chip]` limits.
    PricedChip {
        /// The mapping.
        mapping: crate::chip::ChipMapping,
        /// Per layer: name, neurons, cores, synapses, largest fan-in of a core.
        layers: Vec<(String, usize, usize, u64, u64)>,
        /// The model's name.
        model: String,
    },
}

/// The weights streamed from external memory: the pass's figures and its SDRAM energy.
#[derive(Serialize)]
pub struct Streaming {
    /// Bytes, cycles and the bandwidth bound of one pass over the weights.
    pub figures: StreamFigures,
    /// The SDRAM energy of one pass.
    pub energy_per_pass: crate::energy::sdram::SdramEnergy,
    /// The memory's bus width, bits.
    pub bus_bits: u32,
}
