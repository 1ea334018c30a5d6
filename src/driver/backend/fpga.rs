//! The FPGA (and ASIC) back end: the FPGA layout's plan, run on the cycle engine, emitted as
//! Verilog and HLS C++, built where the target's flow allows.

use super::api::{BackendInfo, Design, DesignRun, PlanView, RowContext, Stage, Streaming, TargetBackend};
use crate::Model;
use crate::data::InputBatch;
use crate::driver::checked::{Checked, plan_check};
use crate::driver::compile::{CompileOptions, CompileReport, CompileSettings, FpgaOutcome, Hardware, fpga};
use crate::driver::options::lower;
use crate::driver::resource::{Resource, Row, Sourced};
use crate::driver::{Error, Prepared, Progress};
use crate::energy::{self, Estimate};
use crate::hw::Plan;
use crate::hw::sdram::{StreamError, stream_figures};
use crate::options::PlanSettings;
use crate::quant::students::MaskError;
use crate::sim::cycle;
use crate::target::{Flow, Target};

/// FPGA and ASIC targets.
pub(super) struct Fpga;

/// Every plan option: the FPGA layout reads them all (`--spike-cap` only to refuse it, naming
/// why: an FPGA carries exact spike counts).
pub(super) const PLAN_OPTIONS: &[&str] = &[
    "--input-scale",
    "--spike-cap",
    "--lanes",
    "--weight-bits",
    "--input-bits",
    "--frac-bits",
    "--leak-bits",
    "--membrane-bits",
    "--early-exit",
    "--clock-mhz",
    "--schedule",
    "--datapath",
    "--optimize",
    "--plane-bits",
    "--logic-margin",
    "--fuse-steps",
];

static INFO: BackendInfo = BackendInfo {
    kind: "fpga",
    stages: &[Stage::Plan, Stage::CycleEngine, Stage::Verilog, Stage::Hls, Stage::Bitstream, Stage::Energy],
    shards: true,
    options: PLAN_OPTIONS,
    why_not_others: "reads every plan option",
};

impl TargetBackend for Fpga {
    fn info(&self) -> &'static BackendInfo {
        &INFO
    }

    fn settings_beside_others(&self, s: &PlanSettings) -> PlanSettings {
        s.for_fpgas()
    }

    fn design(
        &self,
        m: &Model,
        settings: &PlanSettings,
        target: &Target,
        steps: usize,
        calib: Option<&InputBatch>,
    ) -> Result<Box<dyn Design>, Error> {
        Ok(Box::new(plan_design(m, settings, target, steps, calib)?))
    }

    fn vendor_simulator(&self, target: &Target) -> Result<&'static str, Error> {
        Err(Error::Usage(format!("chipsim runs a chip's export; '{}' is not a chip", target.name)))
    }

    fn compile(
        &self,
        m: &Model,
        o: &CompileOptions,
        target: &Target,
        progress: &dyn Progress,
    ) -> Result<CompileReport, Error> {
        fpga::compile(m, o, target.clone(), progress)
    }
}

/// The FPGA layout's plan of `m` on `target`.
pub(super) fn plan_design(
    m: &Model,
    settings: &PlanSettings,
    target: &Target,
    steps: usize,
    calib: Option<&InputBatch>,
) -> Result<PlanDesign, Error> {
    let o = settings.options_for(target.clone(), steps, calib)?;
    Ok(PlanDesign { plan: Box::new(lower(m, &o, calib)?) })
}

/// A mask the plan cannot take: bad input (exit 2).
fn mask_error(e: MaskError) -> Error {
    Error::Usage(e.to_string())
}

/// A model laid out as an FPGA plan.
pub(super) struct PlanDesign {
    pub(super) plan: Box<Plan>,
}

impl PlanDesign {
    /// The plan's run on the cycle engine, priced on `target`.
    pub(super) fn cycle_run(&self, batch: &InputBatch, target: &Target) -> DesignRun {
        let c = cycle::run(&self.plan, batch, self.plan.timesteps);
        self.priced(batch, target, c)
    }

    /// The plan's run on the cycle engine with only the students `names` active
    /// ([`cycle::run_active`]), priced on `target`.
    pub(super) fn cycle_run_active(
        &self,
        batch: &InputBatch,
        target: &Target,
        names: &[String],
    ) -> Result<DesignRun, Error> {
        let plan = &self.plan;
        let st = plan.students.as_ref().ok_or(MaskError::NoEnsemble).map_err(mask_error)?;
        let active = st.mask(names).map_err(mask_error)?;
        let c = cycle::run_active(plan, batch, plan.timesteps, &active).map_err(mask_error)?;
        Ok(self.priced(batch, target, c))
    }

    /// The cascade over the students `names` (every student when empty) as `cascade` asks
    /// (its order chosen on `cascade.calib` unless given) on the cycle engine ([`cycle::run_cascade`]), priced on `target`.
    pub(super) fn cycle_run_cascade(
        &self,
        batch: &InputBatch,
        target: &Target,
        names: &[String],
        cascade: super::CascadeArgs<'_>,
    ) -> Result<DesignRun, Error> {
        let st = self.plan.students.as_ref().ok_or(MaskError::NoEnsemble).map_err(mask_error)?;
        let active = if names.is_empty() { vec![true; st.names.len()] } else { st.mask(names).map_err(mask_error)? };
        let order = crate::driver::mask::cascade_order(&self.plan, Some(cascade.calib), cascade.order)?;
        let mut plan = (*self.plan).clone();
        plan.cascade = Some(crate::hw::Cascade { margin: cascade.margin, order });
        let c = cycle::run_cascade(&plan, batch, plan.timesteps, &active, cascade.margin).map_err(mask_error)?;
        Ok(self.priced(batch, target, c))
    }

    fn priced(&self, batch: &InputBatch, target: &Target, c: cycle::BatchResult) -> DesignRun {
        let plan = &self.plan;
        // Spikes over each layer's own neuron updates (neurons x the steps it ran): under early
        // exit, a mask or the cascade a layer runs other steps than T per input.
        let rates = plan
            .layers
            .iter()
            .zip(&c.total.layers)
            .filter(|(l, _)| l.spiking())
            .map(|(l, lc)| {
                let rate = if lc.neuron_updates == 0 { 0.0 } else { lc.spikes as f64 / lc.neuron_updates as f64 };
                (l.name.clone(), rate)
            })
            .collect();
        let est: Estimate = energy::estimate(plan, target, &c);
        DesignRun {
            outputs: c.outputs.clone(),
            rates,
            cycles_mean: Some(c.total.cycles as f64 / batch.n as f64),
            mean_steps: Some(c.total.steps_run as f64 / batch.n as f64),
            estimate: Some(est),
            cycle: Some(c),
        }
    }

    /// The row of `compare` before what only FPGAs add: accuracy and the counted energy.
    pub(super) fn base_row(&self, cx: &RowContext<'_>) -> Result<(Row, f64), Error> {
        let t = cx.target;
        let run = match (cx.active, cx.cascade) {
            (names, Some(c)) => self.cycle_run_cascade(cx.batch, t, names, c)?,
            ([], None) => self.cycle_run(cx.batch, t),
            (names, None) => self.cycle_run_active(cx.batch, t, names)?,
        };
        let (accuracy, agreement) = (cx.scored)(run.outputs.classes());
        let est = run.estimate.expect("a plan is always priced");
        // A plan streaming its weights: the SDRAM's share beside the FPGA's.
        let external = est
            .components
            .iter()
            .find(|c| c.name == "external memory")
            .map(|c| {
                format!(
                    "; external memory {:.3} uJ ({:.1}%), the FPGA {:.3} uJ",
                    c.joules * 1e6,
                    100.0 * c.joules / est.energy_per_inference_j,
                    (est.energy_per_inference_j - c.joules) * 1e6
                )
            })
            .unwrap_or_default();
        let row = Row {
            target: t.name.clone(),
            kind: t.kind.to_string(),
            fits: true,
            why_not: vec![],
            notes: vec![],
            accuracy,
            agreement,
            latency_us: None,
            energy_j: Some(Sourced {
                value: est.energy_per_inference_j,
                source: format!(
                    "{} schedule; counted events x {}'s constants (docs/energy.md){external}",
                    self.plan.schedule.name(),
                    t.name
                ),
            }),
            resources: vec![],
        };
        Ok((row, est.cycles))
    }

    /// The check against the reference engine.
    pub(super) fn plan_checked(
        &self,
        prep: &Prepared,
        batch: &InputBatch,
        labels: Option<&[usize]>,
        min_agreement: f64,
        progress: &dyn Progress,
    ) -> Result<Checked, Error> {
        let check = plan_check(prep, &self.plan, batch, labels, min_agreement, None, progress)?;
        Ok(Checked::Plan { plan: self.plan.clone(), check })
    }
}

impl Design for PlanDesign {
    fn notes(&self) -> Vec<String> {
        vec![]
    }

    fn run(&self, batch: &InputBatch, target: &Target) -> DesignRun {
        self.cycle_run(batch, target)
    }

    fn run_active(&self, batch: &InputBatch, target: &Target, names: &[String]) -> Result<DesignRun, Error> {
        self.cycle_run_active(batch, target, names)
    }

    fn run_cascade(
        &self,
        batch: &InputBatch,
        target: &Target,
        names: &[String],
        cascade: super::CascadeArgs<'_>,
    ) -> Result<DesignRun, Error> {
        self.cycle_run_cascade(batch, target, names, cascade)
    }

    fn check(
        &self,
        prep: &Prepared,
        batch: &InputBatch,
        labels: Option<&[usize]>,
        min_agreement: f64,
        _target: &Target,
        progress: &dyn Progress,
    ) -> Result<Checked, Error> {
        self.plan_checked(prep, batch, labels, min_agreement, progress)
    }

    fn check_active(
        &self,
        cut: &Prepared,
        batch: &InputBatch,
        labels: Option<&[usize]>,
        min_agreement: f64,
        _target: &Target,
        names: &[String],
        progress: &dyn Progress,
    ) -> Result<Checked, Error> {
        let st = self.plan.students.as_ref().ok_or(MaskError::NoEnsemble).map_err(mask_error)?;
        let active = st.mask(names).map_err(mask_error)?;
        let check = plan_check(cut, &self.plan, batch, labels, min_agreement, Some(&active), progress)?;
        Ok(Checked::Plan { plan: self.plan.clone(), check })
    }

    fn view(&self, target: &Target) -> Result<PlanView, Error> {
        let (streaming, streaming_warning) = match &target.external_memory {
            Some(mem) => match stream_figures(&self.plan, mem, 1) {
                Ok(f) => {
                    let energy_per_pass = crate::energy::sdram::pass_energy(&f, mem);
                    (Some(Box::new(Streaming { figures: f, energy_per_pass, bus_bits: mem.geometry.width })), None)
                }
                Err(e @ StreamError::TooLarge { .. }) => (None, Some(e.to_string())),
                Err(e) => return Err(Error::Usage(format!("target {}: {e}", target.name))),
            },
            None => (None, None),
        };
        Ok(PlanView::Fpga {
            plan: self.plan.clone(),
            misfits: self.plan.device_misfits(target),
            streaming,
            streaming_warning,
        })
    }

    fn row(&self, cx: &RowContext<'_>) -> Result<Row, Error> {
        let (mut row, cycles) = self.base_row(cx)?;
        let (t, plan) = (cx.target, &self.plan);
        row.why_not = plan.device_misfits(t);
        let open = matches!(t.flow(), Flow::OpenIce40 | Flow::OpenEcp5);
        // A build runs only with --bitstream, on an open flow, for a design whose memories fit.
        let builds = cx.bitstream.is_some() && open && row.why_not.is_empty();
        // Without a build to judge it, a design predicted not to fit is no fitting row (never
        // the table's choice); a build judges it for itself.
        let logic = crate::hw::logic::Logic::of(plan, t);
        if !builds && let Some(why) = logic.as_ref().and_then(|l| l.misfit()) {
            row.why_not.push(why);
        }
        row.fits = row.why_not.is_empty();
        row.resources = vec![Resource {
            name: "block RAM".into(),
            used: plan.block_rams(),
            available: (t.device.block_rams > 0).then_some(t.device.block_rams),
        }];
        row.latency_us = Some(Sourced {
            value: cycles / plan.clock_mhz,
            source: format!("{cycles:.0} cycles at the planned {} MHz clock", plan.clock_mhz),
        });
        match cx.bitstream {
            Some((out, base)) if builds => {
                let mut co = base.clone();
                co.plan = PlanSettings { target: t.name.clone(), ..base.plan.for_fpgas() };
                co.out_dir = out.join(&t.name);
                co.build = CompileSettings {
                    bitstream: true,
                    cosim_samples: 0,
                    mask: base.build.mask.clone(),
                    ..Default::default()
                };
                let r = fpga::compile(cx.model, &co, t.clone(), cx.progress)?;
                r.write(&co.out_dir)?;
                if let Hardware::Rtl(x) = &r.hardware
                    && let Some(outcome) = &x.fpga
                {
                    built_row(&mut row, outcome, cycles, plan.clock_mhz);
                }
                row.notes.extend(r.failures);
            }
            None if open => row.notes.push(match &logic {
                Some(l) => format!("logic unchecked: no bitstream build (give --bitstream); {}", l.line()),
                None => "logic unchecked: no bitstream build (give --bitstream)".into(),
            }),
            _ => {}
        }
        Ok(row)
    }

    fn plan(&self) -> Option<&Plan> {
        Some(&self.plan)
    }
}

/// What a bitstream build says of a row: it does not fit, or its resources and Fmax.
fn built_row(row: &mut Row, outcome: &FpgaOutcome, cycles: f64, clock_mhz: f64) {
    match outcome {
        FpgaOutcome::DoesNotFit { does_not_fit } => {
            row.fits = false;
            row.why_not.push(format!("the bitstream build: {does_not_fit}"));
        }
        built => {
            row.resources = built
                .resources()
                .unwrap_or_default()
                .into_iter()
                .map(|(name, used, a)| Resource { name, used, available: Some(a) })
                .collect();
            if let Some(f) = built.fmax_mhz() {
                row.latency_us = Some(Sourced {
                    value: cycles / f.min(clock_mhz).max(f64::MIN_POSITIVE),
                    source: format!(
                        "{cycles:.0} cycles at {:.2} MHz (the bitstream build's Fmax{})",
                        f.min(clock_mhz),
                        if f < clock_mhz { ", below the planned clock" } else { " met the planned clock" }
                    ),
                });
            }
        }
    }
}
