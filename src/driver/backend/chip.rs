//! The chip back ends: a chip with a model ([`Modelled`]: its own quantiser, chip-exact model
//! and vendor export, through [`ChipBackend`]) and a chip spikefab only prices ([`Priced`]: the
//! generic mapping of its `[chip]` limits, its accuracy and energy from the FPGA layout's
//! integers and counts).

use super::api::{BackendInfo, Design, DesignRun, PlanView, RowContext, Stage, TargetBackend};
use super::fpga::{PlanDesign, plan_design};
use crate::Model;
use crate::data::InputBatch;
use crate::driver::checked::Checked;
use crate::driver::chip::{self, ChipBackend, ChipMap};
use crate::driver::compile::chip::compile as chip_compile;
use crate::driver::compile::{CompileOptions, CompileReport};
use crate::driver::resource::{Resource, Row, Sourced};
use crate::driver::{Error, Prepared, Progress};
use crate::hw::Plan;
use crate::options::PlanSettings;
use crate::passes::Pipeline;
use crate::target::Target;

/// A chip with a model.
pub(super) struct Modelled(pub(super) &'static dyn ChipBackend);

static MODELLED: BackendInfo = BackendInfo {
    kind: "chip",
    stages: &[Stage::ChipMap, Stage::ChipModel, Stage::VendorExport, Stage::Energy],
    shards: false,
    // The chip's quantiser refuses --spike-cap itself where the chip has no use for it.
    options: &["--input-scale", "--spike-cap"],
    why_not_others: "is a chip (its own arithmetic fixes the rest)",
};

impl TargetBackend for Modelled {
    fn info(&self) -> &'static BackendInfo {
        &MODELLED
    }

    fn settings_beside_others(&self, s: &PlanSettings) -> PlanSettings {
        // The FPGA rows' options (--lanes, ...) are not this row's: the chip reads its own.
        let mut settings = s.for_chips();
        if !self.0.info().takes_spike_cap {
            settings.spike_cap = None;
        }
        settings
    }

    fn passes(&self) -> Pipeline {
        // The chip computes a chain of layers: branches merged, pooling folded, shortcuts
        // joined or relayed, for the reset the chip implements.
        Pipeline::legalise(Some(self.0.info().legalise_reset))
    }

    fn design(
        &self,
        m: &Model,
        settings: &PlanSettings,
        target: &Target,
        steps: usize,
        calib: Option<&InputBatch>,
    ) -> Result<Box<dyn Design>, Error> {
        Ok(Box::new(ChipDesign { map: self.0.map(m, settings, target, steps, calib)? }))
    }

    fn vendor_simulator(&self, _target: &Target) -> Result<&'static str, Error> {
        Ok(self.0.info().simulator)
    }

    fn compile(
        &self,
        m: &Model,
        o: &CompileOptions,
        target: &Target,
        progress: &dyn Progress,
    ) -> Result<CompileReport, Error> {
        self.accept(&o.plan, target)?;
        chip_compile(self.0, &self.passes(), m, o, target, progress)
    }
}

/// A model placed on a chip with a model.
struct ChipDesign {
    map: Box<dyn ChipMap>,
}

impl Design for ChipDesign {
    fn notes(&self) -> Vec<String> {
        self.map.notes().to_vec()
    }

    fn run(&self, batch: &InputBatch, target: &Target) -> DesignRun {
        let run = self.map.run(batch);
        DesignRun {
            outputs: run.outputs(),
            rates: run.rates(),
            cycles_mean: None,
            mean_steps: None,
            estimate: run.estimate(target),
            cycle: None,
        }
    }

    fn check(
        &self,
        prep: &Prepared,
        batch: &InputBatch,
        labels: Option<&[usize]>,
        _min_agreement: f64,
        target: &Target,
        progress: &dyn Progress,
    ) -> Result<Checked, Error> {
        let run = self.map.run(batch);
        Ok(Checked::Chip {
            verification: chip::verify(&prep.cut, prep.steps, &run.outputs(), batch, labels, progress)?,
            target: target.name.clone(),
            notes: self.map.notes().to_vec(),
            chip_steps: self.map.chip_steps(),
        })
    }

    fn view(&self, _target: &Target) -> Result<PlanView, Error> {
        Ok(PlanView::Chip { layout: self.map.layout(), chip_steps: self.map.chip_steps(), notes: self.notes() })
    }

    fn row(&self, cx: &RowContext<'_>) -> Result<Row, Error> {
        super::api::fixed_students_row(cx)?;
        let (t, map) = (cx.target, &self.map);
        let run = map.run(cx.batch);
        let (accuracy, agreement) = (cx.scored)(run.outputs().classes());
        let est = run.estimate(t);
        let latency_us = map.step_time().map(|(dt, source)| Sourced {
            value: dt * map.chip_steps() as f64 * 1e6,
            source: format!("{} chip steps x {dt} s ({source})", map.chip_steps()),
        });
        Ok(Row {
            target: t.name.clone(),
            kind: t.kind.to_string(),
            fits: true,
            why_not: vec![],
            notes: map.notes().to_vec(),
            accuracy,
            agreement,
            latency_us,
            energy_j: est.map(|e| Sourced { value: e.energy_per_inference_j, source: e.basis.unwrap_or_default() }),
            resources: map.resources(),
        })
    }

    fn chip(&self) -> Option<&dyn ChipMap> {
        Some(&*self.map)
    }
}

/// A chip spikefab only prices.
pub(super) struct Priced;

static PRICED: BackendInfo = BackendInfo {
    kind: "priced-chip",
    stages: &[Stage::Plan, Stage::ChipLimits, Stage::CycleEngine, Stage::Energy],
    shards: true,
    // Its accuracy and counts come from the FPGA layout's plan.
    options: super::fpga::PLAN_OPTIONS,
    why_not_others: "reads every plan option",
};

impl TargetBackend for Priced {
    fn info(&self) -> &'static BackendInfo {
        &PRICED
    }

    fn settings_beside_others(&self, s: &PlanSettings) -> PlanSettings {
        // Its accuracy comes from the FPGA layout's integers, under the FPGA rows' options.
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
        Ok(Box::new(PricedDesign(plan_design(m, settings, target, steps, calib)?)))
    }

    fn vendor_simulator(&self, target: &Target) -> Result<&'static str, Error> {
        Err(no_back_end(target))
    }

    fn compile(
        &self,
        _m: &Model,
        _o: &CompileOptions,
        target: &Target,
        _progress: &dyn Progress,
    ) -> Result<CompileReport, Error> {
        Err(no_back_end(target))
    }
}

/// What `compile` and `chipsim` say of a chip spikefab only prices: the chips they take.
fn no_back_end(target: &Target) -> Error {
    let with: Vec<&str> = Target::bundled_names()
        .into_iter()
        .filter(|n| Target::load(n).is_ok_and(|t| crate::driver::chip::backend(&t).is_some()))
        .collect();
    Error::Usage(format!(
        "target '{}' is a chip whose energy spikefab prices (`spikefab energy --compare {}`) but for which it has no \
         back end; compile and chipsim take {}",
        target.name,
        target.name,
        with.join(", ")
    ))
}

/// A priced chip's design: the FPGA layout's plan (its integers and counts), mapped onto the
/// chip's `[chip]` limits for `plan` and `compare`.
struct PricedDesign(PlanDesign);

impl PricedDesign {
    /// The plan's quantised network and its generic mapping onto `target`'s `[chip]` limits.
    fn mapping(&self, target: &Target) -> Result<(crate::quant::Network, crate::chip::ChipMapping), Error> {
        let net = self.0.plan.quantised();
        let mapping = crate::chip::map(&net, target).map_err(|e| Error::Usage(e.to_string()))?;
        Ok((net, mapping))
    }
}

impl Design for PricedDesign {
    fn notes(&self) -> Vec<String> {
        vec![]
    }

    fn run(&self, batch: &InputBatch, target: &Target) -> DesignRun {
        self.0.cycle_run(batch, target)
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
        self.0.plan_checked(prep, batch, labels, min_agreement, progress)
    }

    fn view(&self, target: &Target) -> Result<PlanView, Error> {
        let (net, mapping) = self.mapping(target)?;
        let layers = net
            .layers
            .iter()
            .enumerate()
            .map(|(k, l)| {
                let cs: Vec<_> = mapping.cores.iter().filter(|c| c.layer == k).collect();
                let syn: u64 = cs.iter().map(|c| c.synapses).sum();
                let fan = cs.iter().map(|c| c.fan_in).max().unwrap_or(0);
                (l.name.clone(), l.neurons(), cs.len(), syn, fan)
            })
            .collect();
        Ok(PlanView::PricedChip { mapping, layers, model: net.model.clone() })
    }

    fn row(&self, cx: &RowContext<'_>) -> Result<Row, Error> {
        super::api::fixed_students_row(cx)?;
        let (mut row, _) = self.0.base_row(cx)?;
        let t = cx.target;
        // A chip without a back end: the generic mapping says whether its cores and limits hold.
        let (_, mapping) = self.mapping(t)?;
        row.fits = mapping.fits();
        row.why_not = mapping.violations.clone();
        row.resources = vec![Resource {
            name: "cores".into(),
            used: mapping.cores.len() as u64,
            available: t.chip.as_ref().map(|c| c.cores),
        }];
        row.notes
            .push(format!("no chip model for {}: accuracy from the FPGA layout's integers; no latency model", t.name));
        Ok(row)
    }

    fn plan(&self) -> Option<&Plan> {
        Some(&self.0.plan)
    }
}
