//! The logic model: the LUTs, flip-flops and carry cells a plan's RTL takes, predicted before
//! synthesis (docs/hardware.md, "The logic model").
//!
//! A plan's RTL instantiates units whose size follows from the plan alone: an update datapath
//! per group of layers (one for every layer in the sequential and streamed schedules, one per
//! layer in the pipelined one) as wide as its widest layer, an accumulate unit per projection
//! (event-driven: an adder per lane; dense: an AND and popcount per weight bit), a
//! multiplexer per layer into its datapath, the memories' glue, and ROMs and RAMs mapped to
//! logic. [`Features`] counts those; a family's [`Coefficients`] (fitted by
//! `scripts/fit-logic.py` from Yosys on random plans, committed with the fit's commit) turn
//! them into cell counts. The prediction is linear in the features, so each coefficient is the
//! cells of one unit of a feature.
//!
//! Invariant: [`Features::of`] reads only the plan (the same plan gives the same features on
//! every machine), and a coefficient file names only features [`Features::NAMES`] knows
//! (checked when it is read; a unit test reads every committed file).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::dense::{self, Mode};
use super::memory::bits_for;
use super::{MemMap, Plan};
use crate::options::LogicMargin;
use crate::quant::{AccTarget, ProjKind};
use crate::target::{Family, Target};

/// What the plan instantiates, in the units the coefficients price (see [`Features::NAMES`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Features {
    /// 1: the fixed part (the top's control, input load, output stream, pin wrapper).
    pub one: f64,
    /// Layers.
    pub layers: f64,
    /// Projections (each its own accumulate unit and event reader or plane reader).
    pub projections: f64,
    /// Convolution projections (their window address arithmetic).
    pub conv_projections: f64,
    /// Students of an ensemble whose design takes a run-time mask (the mask's gating).
    pub students: f64,
    /// Update datapaths: per datapath, its lanes x (membrane + static + synaptic widths).
    pub update_bits: f64,
    /// Each layer's words multiplexed into its datapath: per layer, its datapath's lanes x
    /// membrane width.
    pub update_mux_bits: f64,
    /// Event-driven accumulate lanes: per event projection, the layer's lanes x the width it
    /// accumulates into.
    pub event_acc_bits: f64,
    /// Dense accumulate bits: per dense projection, its weight word (lanes x plane word), each
    /// bit an AND into a popcount; the units of a streamed plan's shared popcount datapath
    /// (`dense::popcount_sharers`) once, at its width.
    pub dense_bits: f64,
    /// Row and position counters: per layer, the bits of its rows.
    pub row_bits: f64,
    /// Saturating arithmetic: per layer whose writes saturate (a capped width), its lanes x
    /// membrane width (the clamps in its accumulators and update).
    pub saturate_bits: f64,
    /// ROMs in logic: one per bit of width per 16 words (a LUT4's depth).
    pub rom_logic: f64,
    /// RAM bits in flip-flops.
    pub ram_reg_bits: f64,
    /// Memories in block or large RAM: their data widths (read registers and multiplexers). A
    /// memory in external memory has none: the tile buffer it is read through is counted.
    pub block_mem_width: f64,
}

impl Features {
    /// The feature names a coefficient file may use, in [`Features::values`]' order.
    pub const NAMES: [&'static str; 14] = [
        "one",
        "layers",
        "projections",
        "conv_projections",
        "students",
        "update_bits",
        "update_mux_bits",
        "event_acc_bits",
        "dense_bits",
        "row_bits",
        "saturate_bits",
        "rom_logic",
        "ram_reg_bits",
        "block_mem_width",
    ];

    /// The values, in [`Features::NAMES`]' order.
    pub fn values(&self) -> [f64; 14] {
        [
            self.one,
            self.layers,
            self.projections,
            self.conv_projections,
            self.students,
            self.update_bits,
            self.update_mux_bits,
            self.event_acc_bits,
            self.dense_bits,
            self.row_bits,
            self.saturate_bits,
            self.rom_logic,
            self.ram_reg_bits,
            self.block_mem_width,
        ]
    }

    /// The units `plan` instantiates.
    pub fn of(plan: &Plan) -> Features {
        let layers = &plan.layers;
        let mut f = Features { one: 1.0, layers: layers.len() as f64, ..Features::default() };
        if plan.takes_mask() {
            f.students = plan.students.as_ref().map_or(0, |s| s.names.len()) as f64;
        }
        // Each update datapath is as wide as the widest of its layers.
        for ks in &plan.update_groups() {
            let max = |g: &dyn Fn(usize) -> usize| ks.iter().map(|&k| g(k)).max().unwrap_or(0);
            let lanes = max(&|k| layers[k].lanes);
            let vw = max(&|k| layers[k].v_bits as usize);
            let sw = max(&|k| layers[k].s_bits as usize);
            let yw = max(&|k| layers[k].y_bits as usize);
            f.update_bits += (lanes * (vw + sw + yw)) as f64;
            f.update_mux_bits += (ks.len() * lanes * vw) as f64;
        }
        // State memories whose units share one adder (`dense::adds_in_bank`).
        let mut shared_adders = std::collections::BTreeSet::new();
        // Dense units that gather through one shared popcount datapath
        // (`dense::popcount_sharers`), counted once below: its lanes and plane word.
        let sharers = dense::popcount_sharers(plan);
        let (mut shared_lanes, mut shared_pw) = (0, 0);
        for (k, l) in layers.iter().enumerate() {
            f.row_bits += bits_for(l.rows) as f64;
            if l.saturate {
                f.saturate_bits += (l.lanes * l.v_bits as usize) as f64;
            }
            for (pi, p) in l.projections.iter().enumerate() {
                f.projections += 1.0;
                if matches!(p.kind, ProjKind::Conv { .. }) {
                    f.conv_projections += 1.0;
                }
                // The state memory it accumulates into, and its width there.
                let (kind, width) = match p.target {
                    AccTarget::Dynamic if l.y_bits > 0 => ("y", l.y_bits as usize),
                    AccTarget::Dynamic => ("x", l.v_bits as usize),
                    AccTarget::Static => ("s", l.s_bits as usize),
                };
                if sharers.contains(&(k, pi)) {
                    let pw = dense::geometry(plan, k, pi).map(|d| d.plane.width()).unwrap_or(width);
                    shared_lanes = shared_lanes.max(l.lanes);
                    shared_pw = shared_pw.max(pw);
                } else if dense::is(l, pi, Mode::Dense) {
                    // A dense projection's geometry exists (the plan was built with it).
                    let bits = dense::geometry(plan, k, pi).map(|d| d.weight_width).unwrap_or(l.lanes * width);
                    f.dense_bits += bits as f64;
                } else if !dense::adds_in_bank(plan, k, pi) {
                    f.event_acc_bits += (l.lanes * width) as f64;
                } else {
                    // Its adder is its state memory's, counted once per memory below.
                    match plan.banks.iter().position(|b| b.kind == kind && b.layers.contains(&k)) {
                        Some(b) => _ = shared_adders.insert(b),
                        None => f.event_acc_bits += (l.lanes * width) as f64,
                    }
                }
            }
        }
        f.dense_bits += (shared_lanes * shared_pw) as f64;
        // A shared state adder, one accumulate lane set as wide as its memory's word.
        for &b in &shared_adders {
            f.event_acc_bits += plan.banks[b].width as f64;
        }
        // A memory in a bank is counted with its bank.
        for m in plan.memories.iter().filter(|m| !super::memory::is_banked(m, &plan.banks)) {
            match &m.map {
                MemMap::Registers if m.rom => f.rom_logic += (m.width * m.depth.div_ceil(16)) as f64,
                MemMap::Registers => f.ram_reg_bits += m.bits() as f64,
                MemMap::BlockRam { .. } | MemMap::LargeRam { .. } => f.block_mem_width += m.width as f64,
                // Read through the tile buffer, a memory of the plan counted once itself: the
                // external memory's words have no read port of their own on chip (a ROM
                // narrower than the buffer's row keeps a slot register and multiplexer, which
                // no feature counts; the dense units' words fill the row).
                MemMap::External { .. } | MemMap::Sram => {}
            }
        }
        for b in &plan.banks {
            if matches!(b.map, MemMap::Registers) {
                f.ram_reg_bits += (b.depth * b.width) as f64;
            } else {
                f.block_mem_width += b.width as f64;
            }
        }
        f
    }
}

/// One kind of cell's coefficients: cells per unit of each named feature.
pub type Cell = BTreeMap<String, f64>;

/// A family's fitted logic model (a committed `src/hw/logic/<family>.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Coefficients {
    /// The family it prices (`ice40`).
    pub family: String,
    /// The synthesis the cells were counted after (tool, version, command).
    pub synthesis: String,
    /// How and when it was fitted: the command, the commit, the date, the designs.
    pub fitted: Fitted,
    /// LUT4s (the figure the device's `luts` caps).
    pub lut4: Cell,
    /// Flip-flops.
    pub ff: Cell,
    /// Carry cells.
    pub carry: Cell,
    /// Logic cells after packing (nextpnr's: a LUT4, a flip-flop and a carry share one only
    /// when they connect), the figure placement must fit in the device's.
    pub lc: Cell,
    /// The predictions' error on designs the fit did not use, per device (target name) it was
    /// measured on.
    pub error: BTreeMap<String, DeviceError>,
}

/// The measured error on one device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceError {
    /// Of the LUT4s.
    pub lut4: Error,
    /// Of the packed logic cells.
    pub lc: Error,
}

/// The fit's provenance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fitted {
    /// The command that fitted it.
    pub command: String,
    /// The commit whose RTL it synthesised.
    pub commit: String,
    /// The date.
    pub date: String,
    /// Designs fitted on.
    pub designs: usize,
}

/// Measured relative error of a prediction on one device, `(predicted - measured) / measured`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Error {
    /// Designs held out of the fit it was measured on.
    pub designs: usize,
    /// The largest |error| among them.
    pub max_abs: f64,
    /// The mean |error|.
    pub mean_abs: f64,
}

/// A coefficient file that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("logic model {file}: {message}")]
pub struct ModelError {
    /// The file.
    pub file: String,
    /// What is wrong.
    pub message: String,
}

impl Coefficients {
    /// Parses a coefficient file's `text` (`file` names it in errors): every feature it names
    /// must be one of [`Features::NAMES`], and every coefficient finite.
    pub fn parse(file: &str, text: &str) -> Result<Coefficients, ModelError> {
        let err = |message: String| ModelError { file: file.into(), message };
        let c: Coefficients = serde_json::from_str(text).map_err(|e| err(e.to_string()))?;
        for (kind, cell) in [("lut4", &c.lut4), ("ff", &c.ff), ("carry", &c.carry), ("lc", &c.lc)] {
            for (name, v) in cell {
                if !Features::NAMES.contains(&name.as_str()) {
                    return Err(err(format!(
                        "{kind}: unknown feature '{name}' (known: {})",
                        Features::NAMES.join(", ")
                    )));
                }
                if !v.is_finite() {
                    return Err(err(format!("{kind}: feature '{name}' has coefficient {v}")));
                }
            }
        }
        Ok(c)
    }

    /// The committed model of `family` (None: none fitted yet).
    pub fn of(family: Family) -> Option<Coefficients> {
        let (file, text) = match family {
            Family::Ice40 => ("src/hw/logic/ice40.json", include_str!("ice40.json")),
            Family::Ecp5 => ("src/hw/logic/ecp5.json", include_str!("ecp5.json")),
            _ => return None,
        };
        Some(Self::parse(file, text).expect("a committed logic model parses (unit-tested)"))
    }

    /// The stated errors (LUT4s, logic cells) on `target`: its own measured largest |error|,
    /// else the largest measured on any device of the family.
    pub fn error_on(&self, target: &str) -> (f64, f64) {
        match self.error.get(target) {
            Some(e) => (e.lut4.max_abs, e.lc.max_abs),
            None => self.error.values().fold((0.0, 0.0), |(a, b), e| (e.lut4.max_abs.max(a), e.lc.max_abs.max(b))),
        }
    }

    /// `cell` priced on `f`, rounded to a whole cell (at least 0).
    fn price(cell: &Cell, f: &Features) -> u64 {
        let v: f64 =
            Features::NAMES.iter().zip(f.values()).map(|(n, x)| cell.get(*n).copied().unwrap_or(0.0) * x).sum();
        v.max(0.0).round() as u64
    }

    /// The predicted cells of a design with features `f`.
    pub fn predict(&self, f: &Features) -> Cells {
        Cells {
            lut4: Self::price(&self.lut4, f),
            ff: Self::price(&self.ff, f),
            carry: Self::price(&self.carry, f),
            lc: Self::price(&self.lc, f),
        }
    }
}

/// Cell counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Cells {
    /// LUT4s.
    pub lut4: u64,
    /// Flip-flops.
    pub ff: u64,
    /// Carry cells.
    pub carry: u64,
    /// Logic cells after packing.
    pub lc: u64,
}

/// A plan's predicted logic on its target's device.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Logic {
    /// The features priced.
    pub features: Features,
    /// The predicted cells.
    pub predicted: Cells,
    /// The device's logic cells (LUT4s on iCE40; the predicted LUT4s and packed cells are
    /// both held to it).
    pub device_luts: u64,
    /// The model's stated LUT4 error on this device (largest |relative error| on designs held
    /// out of its fit, [`Coefficients::error_on`]).
    pub error: f64,
    /// ... and its stated error of the packed logic cells.
    pub lc_error: f64,
}

/// Why the automatic choices refuse `plan` on `target` under `margin` ([`Logic::over_margin`];
/// None: within it, or no model for the target's family).
pub fn over_margin(plan: &Plan, target: &Target, margin: LogicMargin) -> Option<String> {
    Logic::of(plan, target)?.over_margin(margin)
}

impl Logic {
    /// The logic of `plan` on `target` (None: no model for the family yet, or a plan with
    /// `--fuse-steps`, whose datapath no build has measured).
    pub fn of(plan: &Plan, target: &Target) -> Option<Logic> {
        if plan.fuse_steps {
            return None;
        }
        let c = Coefficients::of(target.family)?;
        let features = Features::of(plan);
        let (error, lc_error) = c.error_on(&target.name);
        Some(Logic { error, lc_error, predicted: c.predict(&features), features, device_luts: target.device.luts })
    }

    /// The predicted packed logic cells as a share of the device's.
    pub fn lc_share(&self) -> f64 {
        self.predicted.lc as f64 / self.device_luts.max(1) as f64
    }

    /// Why the design is predicted not to fit the device: its predicted LUT4s or packed logic
    /// cells exceed the device's logic cells (None: both within).
    pub fn misfit(&self) -> Option<String> {
        let p = &self.predicted;
        let over: Vec<String> = [("LUT4", p.lut4), ("logic cells after packing", p.lc)]
            .into_iter()
            .filter(|(_, need)| *need > self.device_luts)
            .map(|(what, need)| format!("{need} {what}"))
            .collect();
        (!over.is_empty()).then(|| {
            format!(
                "the logic model predicts {} of the device's {} (its errors are up to {:.0}% and {:.0}%)",
                over.join(" and "),
                self.device_luts,
                self.error * 100.0,
                self.lc_error * 100.0
            )
        })
    }

    /// The most LUT4s and packed logic cells a design may be predicted to take for the
    /// automatic choices to keep it under `margin`: the device's cells less the margin's share
    /// (None: `off`).
    pub fn limits(&self, margin: LogicMargin) -> Option<(u64, u64)> {
        let (lut4, lc) = match margin {
            LogicMargin::Off => return None,
            LogicMargin::Stated => (self.error, self.lc_error),
            LogicMargin::Fraction(m) => (m, m),
        };
        // A predicted p of a measured x errs by (p - x) / x >= -e, so x <= p / (1 - e): a
        // prediction within (1 - e) of the device fits it whenever the error is within e.
        // (1e-9: 5280 x (1 - 0.3) is 3696 cells, not the 3695.99.. of its binary product.)
        let cap = |e: f64| (self.device_luts as f64 * (1.0 - e.clamp(0.0, LogicMargin::MAX)) + 1e-9).floor() as u64;
        Some((cap(lut4), cap(lc)))
    }

    /// Why the automatic choices refuse the design under `margin`: its predicted LUT4s or
    /// packed logic cells exceed [`Logic::limits`] (None: within, or the margin is off).
    pub fn over_margin(&self, margin: LogicMargin) -> Option<String> {
        let (lut4, lc) = self.limits(margin)?;
        let p = &self.predicted;
        if p.lut4 <= lut4 && p.lc <= lc {
            return None;
        }
        let whose = match margin {
            LogicMargin::Fraction(m) => format!("--logic-margin {m}"),
            _ => format!(
                "the model's stated errors on it, {:.0}% and {:.0}%",
                self.lc_error.clamp(0.0, LogicMargin::MAX) * 100.0,
                self.error.clamp(0.0, LogicMargin::MAX) * 100.0
            ),
        };
        Some(format!(
            "the logic model predicts {} logic cells and {} LUT4, beyond the {lc} and {lut4} a design is kept to \
             (the device's {} less {whose})",
            p.lc, p.lut4, self.device_luts
        ))
    }

    /// One line: the predicted cells against the device's.
    pub fn line(&self) -> String {
        let p = &self.predicted;
        format!(
            "{} logic cells of {} ({:.0}%) after packing {} LUT4, {} flip-flops and {} carry cells (predicted; on \
             designs held out of the model's fit its errors are up to {:.0}% in logic cells, {:.0}% in LUT4s)",
            p.lc,
            self.device_luts,
            self.lc_share() * 100.0,
            p.lut4,
            p.ff,
            p.carry,
            self.lc_error * 100.0,
            self.error * 100.0
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hw::{PlanOptions, lower};
    use crate::ir::dialect::{DialectOverrides, Preset};
    use crate::target::ScheduleChoice;

    fn plan(schedule: ScheduleChoice, lanes: usize) -> Plan {
        plan_with("mlp_bw", schedule, lanes, crate::options::Datapath::Auto)
    }

    /// A bundled student's plan on the UP5K.
    fn plan_with(student: &str, schedule: ScheduleChoice, lanes: usize, datapath: crate::options::Datapath) -> Plan {
        let d = DialectOverrides { from: Some(Preset::Snntorch), timesteps: Some(8), ..Default::default() };
        let m = crate::Model::load(format!("models/{student}/{student}.nir").as_ref(), &d).unwrap();
        let x = crate::data::InputBatch::load("models/digits_test_x.npy".as_ref(), &[64]).unwrap();
        let mut o = PlanOptions::new(Target::load("ice40-up5k").unwrap(), 8);
        o.input_stats = Some(crate::quant::InputStats::of(&x));
        o.settings.schedule = Some(schedule);
        o.settings.lanes = Some(lanes);
        o.settings.datapath = datapath;
        lower(&m, &o).unwrap()
    }

    #[test]
    fn every_committed_model_parses_and_states_its_error() {
        let c = Coefficients::of(Family::Ice40).expect("iCE40 has a model");
        assert_eq!(c.family, "ice40");
        assert!(c.fitted.designs > Features::NAMES.len(), "{c:?}");
        for t in ["ice40-up5k", "ice40-hx8k"] {
            let d = &c.error[t];
            for e in [&d.lut4, &d.lc] {
                assert!(e.designs > 0 && e.max_abs > 0.0 && e.mean_abs <= e.max_abs, "{t}: {c:?}");
            }
            assert_eq!(c.error_on(t), (d.lut4.max_abs, d.lc.max_abs));
        }
        // A device not measured: the family's worst.
        let worst = c.error.values().map(|e| e.lut4.max_abs).fold(0.0, f64::max);
        assert_eq!(c.error_on("ice40-lp1k").0, worst);
        assert!(!c.lut4.is_empty() && !c.ff.is_empty() && !c.lc.is_empty(), "{c:?}");
        let e = Coefficients::of(Family::Ecp5).expect("ECP5 has a model");
        assert_eq!(e.family, "ecp5");
        let d = &e.error["ecp5-85k"];
        assert!(d.lut4.designs > 0 && d.lc.max_abs > 0.0 && d.lc.mean_abs <= d.lc.max_abs, "{e:?}");
        // The 25F and 45F, not measured, get the 85F's (the family's only) error.
        assert_eq!(e.error_on("ecp5-25k"), (d.lut4.max_abs, d.lc.max_abs));
        assert!(Coefficients::of(Family::Loihi).is_none() && Coefficients::of(Family::Xc7).is_none());
    }

    #[test]
    fn the_margin_keeps_a_prediction_within_the_devices_cells_less_the_error() {
        let l = |lut4, lc| Logic {
            features: Features::default(),
            predicted: Cells { lut4, ff: 0, carry: 0, lc },
            device_luts: 1000,
            error: 0.2,
            lc_error: 0.1,
        };
        assert_eq!(l(0, 0).limits(LogicMargin::Stated), Some((800, 900)));
        assert_eq!(l(0, 0).limits(LogicMargin::Fraction(0.25)), Some((750, 750)));
        assert_eq!(l(0, 0).limits(LogicMargin::Off), None);
        assert!(l(800, 900).over_margin(LogicMargin::Stated).is_none());
        // One cell over either limit is refused, and the message says by what.
        let why = l(800, 901).over_margin(LogicMargin::Stated).unwrap();
        assert!(
            why.contains("901 logic cells") && why.contains("the 900 and 800") && why.contains("10% and 20%"),
            "{why}"
        );
        assert!(l(801, 900).over_margin(LogicMargin::Stated).is_some());
        assert!(l(801, 900).over_margin(LogicMargin::Fraction(0.0)).is_none());
        assert!(l(5000, 5000).over_margin(LogicMargin::Off).is_none());
        // Beyond the device is a misfit whatever the margin.
        assert!(l(800, 900).misfit().is_none() && l(800, 1001).misfit().is_some());
    }

    #[test]
    fn the_automatic_schedule_refuses_a_pipelined_design_predicted_beyond_the_margin() {
        let d = DialectOverrides { from: Some(Preset::Snntorch), timesteps: Some(8), ..Default::default() };
        let m = crate::Model::load("models/mlp_bw/mlp_bw.nir".as_ref(), &d).unwrap();
        let x = crate::data::InputBatch::load("models/digits_test_x.npy".as_ref(), &[64]).unwrap();
        let lay = |luts: u64, margin: LogicMargin| {
            let mut t = Target::load("ice40-up5k").unwrap();
            t.device.luts = luts;
            let mut o = PlanOptions::new(t, 8);
            o.input_stats = Some(crate::quant::InputStats::of(&x));
            o.settings.schedule = Some(ScheduleChoice::Auto);
            o.settings.logic_margin = margin;
            lower(&m, &o).unwrap()
        };
        let pipelined = Logic::of(&lay(5280, LogicMargin::Stated), &Target::load("ice40-up5k").unwrap()).unwrap();
        assert_eq!(lay(5280, LogicMargin::Stated).schedule, crate::hw::Schedule::Pipelined);
        // A device exactly as large as the pipelined design's predicted cells: within the
        // device, beyond the margin.
        let luts = pipelined.predicted.lc;
        let p = lay(luts, LogicMargin::Stated);
        assert_eq!(p.schedule, crate::hw::Schedule::Sequential);
        let note = p.schedule_note.unwrap();
        assert!(note.starts_with("auto: sequential; pipelined, the logic model predicts"), "{note}");
        // A margin of 0 keeps it (the prediction is within the cells), `off` ignores the model.
        assert_eq!(lay(luts, LogicMargin::Fraction(0.0)).schedule, crate::hw::Schedule::Pipelined);
        assert_eq!(lay(luts / 2, LogicMargin::Off).schedule, crate::hw::Schedule::Pipelined);
    }

    #[test]
    fn a_coefficient_file_names_only_known_features() {
        let ok = r#"{"family":"ice40","synthesis":"s","fitted":{"command":"c","commit":"x","date":"d","designs":20},
            "lut4":{"one":100,"layers":2.5},"ff":{},"carry":{},"lc":{"projections":2},
            "error":{"ice40-up5k":{"lut4":{"designs":4,"max_abs":0.1,"mean_abs":0.05},
            "lc":{"designs":4,"max_abs":0.2,"mean_abs":0.1}}}}"#;
        let c = Coefficients::parse("f.json", ok).unwrap();
        let f = Features { one: 1.0, layers: 3.0, projections: 7.0, ..Features::default() };
        assert_eq!(c.predict(&f), Cells { lut4: 108, ff: 0, carry: 0, lc: 14 });
        let bad = ok.replace("\"layers\"", "\"lanes\"");
        let e = Coefficients::parse("f.json", &bad).unwrap_err();
        assert!(e.to_string().contains("f.json") && e.to_string().contains("unknown feature 'lanes'"), "{e}");
        assert!(Coefficients::parse("f.json", &ok.replace("2.5", "1e999")).is_err());
        assert!(Coefficients::parse("f.json", "{}").is_err());
    }

    #[test]
    fn features_follow_the_units_each_schedule_instantiates() {
        let seq = Features::of(&plan(ScheduleChoice::Sequential, 4));
        let pipe = Features::of(&plan(ScheduleChoice::Pipelined, 4));
        assert_eq!(Features::NAMES.len(), seq.values().len());
        assert_eq!((seq.one, seq.layers, seq.projections), (1.0, 2.0, 2.0));
        // One shared datapath against one per layer: the pipelined one is never narrower.
        assert!(pipe.update_bits >= seq.update_bits, "{seq:?} {pipe:?}");
        // Twice the lanes, twice the event accumulators.
        let wide = Features::of(&plan(ScheduleChoice::Sequential, 8));
        assert_eq!(wide.event_acc_bits, 2.0 * seq.event_acc_bits);
        // Streamed, the units (event-driven, not saturating) share their state memory's adder:
        // one per memory, as wide as its word, not one per unit.
        let st = plan(ScheduleChoice::Streamed, 4);
        assert!(st.layers.iter().all(|l| !l.saturate));
        let adders: Vec<_> = st.banks.iter().filter(|b| ["x", "s", "y"].contains(&b.kind.as_str())).collect();
        assert!(!adders.is_empty() && adders.iter().map(|b| b.layers.len()).sum::<usize>() >= 2, "{adders:?}");
        let widths: usize = adders.iter().map(|b| b.width).sum();
        assert_eq!(Features::of(&st).event_acc_bits, widths as f64);
        // Streamed and dense, the binary units gather through one shared popcount datapath:
        // its weight word counted once, not once per unit (pipelined: one each).
        let sd = plan_with("conv_bw", ScheduleChoice::Streamed, 4, crate::options::Datapath::Dense);
        let sharers = dense::popcount_sharers(&sd);
        assert!(sharers.len() >= 2, "{:?}", sd.layers.iter().map(|l| &l.modes).collect::<Vec<_>>());
        let width = |&(k, pi): &(usize, usize)| dense::geometry(&sd, k, pi).unwrap().weight_width;
        let others: usize = (sd.layers.iter().enumerate())
            .flat_map(|(k, l)| (0..l.projections.len()).map(move |pi| (k, pi)))
            .filter(|u| dense::is(&sd.layers[u.0], u.1, Mode::Dense) && !sharers.contains(u))
            .map(|u| width(&u))
            .sum();
        let shared = sharers.iter().map(width).max().unwrap();
        assert_eq!(Features::of(&sd).dense_bits, (shared + others) as f64, "{sharers:?}");
        assert!(
            dense::popcount_sharers(&plan_with(
                "conv_bw",
                ScheduleChoice::Pipelined,
                4,
                crate::options::Datapath::Dense
            ))
            .is_empty()
        );
        // The same plan, the same features.
        assert_eq!(seq, Features::of(&plan(ScheduleChoice::Sequential, 4)));
        // The serialised names are the coefficient files' names, in order.
        let v = serde_json::to_value(&seq).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut names = Features::NAMES.to_vec();
        names.sort();
        assert_eq!(keys, names);
    }
}
