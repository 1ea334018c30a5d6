//! `compile` for FPGA and ASIC targets: the plan's Verilog and/or HLS C++ with the target flow's
//! project files, verified against the reference engine, co-simulated and C-simulated against
//! that verification's cycle-engine results (the engine runs once per checked batch), and built
//! to a bitstream where the target has an open flow.
//!
//! With `--bitstream`, the automatic choices are built first and given up one at a time while
//! the design does not fit or misses the clock: an automatic pipelined schedule for the
//! sequential one, then under `--datapath auto` the dense projections, the least saving first,
//! for event-driven ones (the passes and the quantisation are not run again).

use std::path::Path;

use super::{CompileOptions, CompileReport, EnergySection, FpgaOutcome, Hardware, HlsInfo, RtlSection, write};
use crate::Model;
use crate::back::{hls, verilog};
use crate::data::InputBatch;
use crate::driver::datapath;
use crate::driver::progress::step;
use crate::driver::verify::{cosim_step, early_exit_check_active, html_report, verify_active};
use crate::driver::{Error, Progress, Step, prepare, steps_for};
use crate::energy::{self, neurobench};
use crate::flow::ecp5;
use crate::flow::ice40;
use crate::flow::{self, FlowError, csim, yowasp};
use crate::hw::dense::Mode;
use crate::hw::{Plan, PlanOptions, Schedule, lay_out};
use crate::options::{Datapath, Optimize, PassSettings};
use crate::target::{Flow, ScheduleChoice, Target};

/// The options `compile` refuses before it starts.
fn check_options(o: &CompileOptions, target: &Target) -> Result<(), Error> {
    let b = &o.build;
    if b.report.is_some() {
        o.needs_inputs("--report (the report shows measured activity)")?;
    }
    if !(1..=crate::flow::MAX_SEEDS).contains(&b.pnr_seeds) {
        return Err(Error::Usage(format!("--pnr-seeds must be 1..={}, not {}", crate::flow::MAX_SEEDS, b.pnr_seeds)));
    }
    if b.pnr_seeds > 1 && !b.bitstream {
        return Err(Error::Usage("--pnr-seeds is for the bitstream build: add --bitstream".into()));
    }
    if b.bitstream && b.backend == super::Backend::Hls {
        return Err(Error::Usage("--bitstream builds the Verilog: use --backend verilog or both".into()));
    }
    if b.bitstream && !matches!(target.flow(), Flow::OpenIce40 | Flow::OpenEcp5) {
        return Err(Error::Usage(format!(
            "--bitstream builds with the open iCE40 and ECP5 flows; for {} run {} in {} yourself",
            target.name,
            if target.flow() == Flow::Vivado { "vivado.tcl with Vivado" } else { "a synthesis flow" },
            o.out_dir.display()
        )));
    }
    Ok(())
}

/// Emits `plan`'s Verilog with the target flow's project files into `out`: the design, its
/// texts dropped once written. Both back ends
/// refuse exactly the plans `back::limits` refuses, so this refuses before anything is written;
/// a clock the board's PLL cannot make is refused before anything is written too.
fn write_rtl(plan: &Plan, target: &Target, out: &Path) -> Result<verilog::Design, Error> {
    let mut d = verilog::emit(plan, None)?;
    let files = flow::project_files(&d, target)?;
    flow::write_design(&d, out)?;
    for (name, text) in &files {
        write(out, name, text)?;
    }
    // A large network's ROM images are megabytes: written, they are not held any longer (only
    // the file names are read from here on).
    for (_, text) in &mut d.files {
        *text = String::new();
    }
    Ok(d)
}

/// The bitstream build of `d` into `o.out_dir` with the failures it found (timing not met,
/// no timing figure, the design not fitting).
fn bitstream(
    d: &verilog::Design,
    target: &Target,
    o: &CompileOptions,
    progress: &dyn Progress,
) -> Result<(FpgaOutcome, Vec<String>), Error> {
    let out = &o.out_dir;
    let seeds = o.build.pnr_seeds;
    let mut failures = vec![];
    let ecp5_flow = target.flow() == Flow::OpenEcp5;
    let what = if ecp5_flow {
        "building the bitstream (Yosys, nextpnr-ecp5, ecppack)"
    } else {
        "building the bitstream (Yosys, nextpnr-ice40, icepack)"
    };
    let note = |s: &str| progress.note(s);
    let built = step(progress, what, || {
        if ecp5_flow {
            ecp5::build(d, target, out, seeds, &note).map(|r| FpgaOutcome::BuiltEcp5(Box::new(r)))
        } else {
            ice40::build(d, target, out, seeds, &note).map(|r| FpgaOutcome::Built(Box::new(r)))
        }
    });
    let outcome = match built {
        Ok(rep) => {
            if let Some((None, _)) = rep.timing() {
                failures.push("timing unknown: the place-and-route report (nextpnr.json) holds no Fmax".into());
            }
            if let Some((f, want)) = rep.missed_clock() {
                // A clock the board's PLL can make (a clock it cannot is refused up front).
                let fin = target.clock.board_mhz.unwrap_or(target.clock.default_mhz);
                let clock = if ecp5_flow { ecp5::fastest_clock(fin, f) } else { ice40::fastest_clock(fin, f) };
                let give = match clock {
                    Some(c) => format!(
                        "give --clock-mhz {} (the fastest clock at or below it made from the board's {fin} MHz) or \
                         fewer --lanes",
                        (c * 1e4).floor() / 1e4
                    ),
                    None => "give fewer --lanes".to_string(),
                };
                failures.push(format!("timing not met: Fmax {f:.2} MHz is below the {want} MHz clock; {give}"));
            }
            rep
        }
        Err(FlowError::DoesNotFit(msg)) => {
            failures.push(format!("the design does not fit: {msg}"));
            FpgaOutcome::DoesNotFit { does_not_fit: msg }
        }
        Err(e) => return Err(e.into()),
    };
    Ok((outcome, failures))
}

/// Why a built design is given up for the next automatic choice: it does not fit or misses
/// the clock.
fn refused(outcome: &FpgaOutcome) -> Option<String> {
    match outcome {
        FpgaOutcome::DoesNotFit { does_not_fit } => Some(format!("does not fit: {does_not_fit}")),
        o => o.missed_clock().map(|(f, want)| format!("misses the {want} MHz clock (Fmax {f:.2} MHz)")),
    }
}

/// The next design to build after `plan`'s was refused (`why`), and what changed: an automatic
/// pipelined schedule gives way to the sequential one first (its modes chosen again on `calib`
/// under `--datapath auto`, as the schedule changes each mode's cycles and energy, else the
/// same modes); then, under `--datapath auto`, the dense projection that saves least (by the
/// choice's predictions) turns event-driven, one per build, down to an all-event design. A
/// design whose memories the plan already knows do not fit the device is not built: the next
/// projection turns event-driven with it (event lists can need more block RAM than the spike
/// planes they replace). None when no automatic choice is left to give up, or none left fits.
/// The quantised network is the same throughout.
fn fallback(
    plan: &Plan,
    opts: &PlanOptions,
    target: &Target,
    auto: (bool, bool),
    calib: Option<&InputBatch>,
    why: &str,
) -> Option<(Plan, String)> {
    let (auto_schedule, auto_datapath) = auto;
    let mut modes = plan.modes();
    if auto_schedule && plan.schedule == Schedule::Pipelined {
        let mut seq = opts.clone();
        seq.settings.schedule = Some(ScheduleChoice::Sequential);
        let laid = lay_out(plan.quantised(), &seq);
        let mut p = if auto_datapath {
            datapath::choose(laid, target, &seq.settings, calib)
        } else {
            let mut p = laid.with_modes(&modes, target).ok()?;
            p.datapath_note.clone_from(&plan.datapath_note);
            p
        };
        p.schedule_note = Some(format!("auto: sequential; the pipelined design {why}"));
        return Some((p, "compiling the sequential schedule".into()));
    }
    if !auto_datapath {
        return None;
    }
    let mut turned: Vec<String> = vec![];
    // The last skipped design's misfit (set whenever more than one projection is turned).
    let mut unfit = String::new();
    for (k, pi) in turn_order(plan, opts.settings.optimize) {
        modes[k][pi] = Mode::Event;
        turned.push(format!("layer '{}' projection {pi}", plan.layers[k].name));
        let mut p = plan.with_modes(&modes, target).ok()?;
        if let Some(misfit) = p.memory_misfit(target) {
            unfit = misfit;
            continue;
        }
        let left = modes.iter().flatten().filter(|m| **m == Mode::Dense).count();
        let what = turned.join(", ");
        let skipped = match turned.len() {
            1 => String::new(),
            n => format!(" ({} designs before it skipped unbuilt: {unfit})", n - 1),
        };
        p.datapath_note = Some(format!(
            "{}; {what} event-driven after the design with {} dense {why}{skipped}",
            plan.datapath_note.as_deref().unwrap_or("auto"),
            if turned.len() == 1 { "it" } else { "them" },
        ));
        for c in &mut p.mode_choices {
            c.mode = modes[c.layer][c.projection];
        }
        return Some((p, format!("compiling {what} event-driven ({left} dense left){skipped}")));
    }
    None
}

/// The order in which `fallback` turns `plan`'s dense projections (layer, projection)
/// event-driven: the least saving first by the choice's predictions under `optimize`, ties in
/// plan order.
fn turn_order(plan: &Plan, optimize: Optimize) -> Vec<(usize, usize)> {
    let saving = |k: usize, pi: usize| {
        plan.mode_choices.iter().find(|c| c.layer == k && c.projection == pi).map_or(0.0, |c| match optimize {
            Optimize::Energy => c.event.energy_j - c.dense.energy_j,
            Optimize::Latency => c.event.cycles - c.dense.cycles,
        })
    };
    let mut dense: Vec<(usize, usize)> = plan
        .layers
        .iter()
        .enumerate()
        .flat_map(|(k, l)| l.modes.iter().enumerate().filter(|(_, m)| **m == Mode::Dense).map(move |(pi, _)| (k, pi)))
        .collect();
    // A stable sort keeps plan order among ties.
    dense.sort_by(|a, b| saving(a.0, a.1).total_cmp(&saving(b.0, b.1)));
    dense
}

/// `--active-students` on `plan`: the flags of the students named, set as its power-on students
/// (None when none is named). Refused: alongside compile-time pruning (`--students`,
/// `--keep-students`), a mask the ensemble cannot run, and a design that takes no mask.
fn power_on(plan: &mut Plan, o: &CompileOptions) -> Result<Option<Vec<bool>>, Error> {
    let mask = &o.build.mask;
    if mask.active_students.is_empty() {
        return Ok(None);
    }
    if !o.passes.students.is_empty() || o.passes.keep_students.is_some() {
        return Err(Error::Usage(
            "--active-students chooses the students at run time (the power-on default); give it without --students or \
             --keep-students"
                .into(),
        ));
    }
    let active = mask.resolve(plan)?;
    if let Some(a) = &active {
        mask.designed_for(plan, "design")?;
        plan.masked(a).map_err(crate::driver::mask::mask_usage)?;
    }
    plan.power_on = active.clone();
    Ok(active)
}

/// `--cascade` on `plan`: the design gets the cascade, its board the margin as the power-on
/// default (the HLS C++ takes it as arguments). Refused: a plan whose design cannot run it.
fn cascade(plan: &mut Plan, o: &CompileOptions) -> Result<(), Error> {
    if o.build.mask.cascade.is_none() {
        return Ok(());
    }
    // The order from the inputs checked (else the calibration inputs), unless given.
    plan.cascade = o.build.mask.cascade_for(plan, o.inputs.as_ref().or(o.passes.calib.as_ref()))?;
    Ok(())
}

/// `compile` on an FPGA or ASIC target.
pub(crate) fn compile(
    m: &Model,
    o: &CompileOptions,
    target: Target,
    progress: &dyn Progress,
) -> Result<CompileReport, Error> {
    check_options(o, &target)?;
    let bs = &o.build;
    let (rtl, with_hls) = (bs.backend != super::Backend::Hls, bs.backend != super::Backend::Verilog);
    if bs.bitstream {
        // Before the long steps: find the flow's tools, or install YoWASP's.
        let family = if target.flow() == Flow::OpenEcp5 { yowasp::Family::Ecp5 } else { yowasp::Family::Ice40 };
        yowasp::find(family, &|s| progress.note(s))?;
    }
    let batch = o.inputs.as_ref();
    let steps = steps_for(m, batch)?;
    let prep = prepare(m.clone(), steps, &o.passes, &o.plan, batch, o.labels.as_deref(), progress)?;
    let steps = prep.steps;
    // The input range (and the datapath's choice) from the inputs, else the calibration inputs.
    let calib = batch.or(o.passes.calib.as_ref());
    let opts = o.plan.options_for(target.clone(), steps, calib)?;
    let mut plan = crate::driver::options::lower(&prep.model, &opts, calib)?;
    // `--active-students`: the board's power-on students, and the students every check runs.
    let active = power_on(&mut plan, o)?;
    cascade(&mut plan, o)?;
    if let (Some(c), Some(st)) = (&plan.cascade, &plan.students) {
        let order: Vec<&str> = c.order.iter().map(|&s| st.names[s].as_str()).collect();
        progress.note(&format!(
            "cascade: order {}, the board's power-on margin {}; the checks below run the design with its cascade \
             switch (casc) off",
            order.join(", "),
            c.margin
        ));
    }
    let out = &o.out_dir;
    let mut written = if rtl { Some(write_rtl(&plan, &target, out)?) } else { None };
    // The automatic choices are built first and given up, one at a time, while the design does
    // not fit or misses the clock (`fallback`).
    let mut built = None;
    if bs.bitstream {
        let auto_schedule = plan.schedule == Schedule::Pipelined && plan.schedule_note.is_some();
        let auto_datapath = opts.settings.datapath == Datapath::Auto;
        loop {
            let d = written.as_ref().expect("--bitstream checked to emit Verilog");
            let attempt = bitstream(d, &target, o, progress)?;
            let next = refused(&attempt.0).and_then(|why| {
                fallback(&plan, &opts, &target, (auto_schedule, auto_datapath), calib, &why).map(|p| (p, why))
            });
            let Some((p, why)) = next else {
                built = Some(attempt);
                break;
            };
            // Whether the logic model saw it coming: the report says when it was wrong.
            let predicted = crate::hw::logic::Logic::of(&plan, &target).map_or(String::new(), |l| {
                let verdict =
                    if l.misfit().is_some() { "predicted it not to fit" } else { "was wrong: it predicted a fit" };
                format!(" (the logic model {verdict}: {} LUT4, {} logic cells)", l.predicted.lut4, l.predicted.lc)
            });
            progress.note(&format!("the design {why}{predicted}: {}", p.1));
            for (name, _) in &d.files {
                let path = out.join(name);
                std::fs::remove_file(&path).map_err(|e| FlowError::Io(format!("{}: {e}", path.display())))?;
            }
            plan = p.0;
            power_on(&mut plan, o)?;
            cascade(&mut plan, o)?;
            written = Some(write_rtl(&plan, &target, out)?);
        }
    }
    let hls_dir = out.join("hls");
    let hls_design = if with_hls {
        Some(hls::write(&plan, target.hls_part(), &hls_dir).map_err(|e| match e {
            hls::WriteError::Emit(e) => Error::from(e),
            hls::WriteError::Io(msg) => FlowError::Io(msg).into(),
        })?)
    } else {
        None
    };
    // The plan, with the units its RTL instantiates (the logic model's features, whatever the
    // family: scripts/fit-logic.py fits the model from them and Yosys's counts).
    let summary = plan.summary();
    let mut plan_json = serde_json::to_value(&summary).expect("plain data");
    plan_json["logic_features"] = serde_json::json!(crate::hw::logic::Features::of(&plan));
    write(out, "plan.json", &(serde_json::to_string_pretty(&plan_json).expect("plain data") + "\n"))?;
    let logic = crate::hw::logic::Logic::of(&plan, &target);
    let exceeds_device = plan.device_misfits(&target);
    for why in &exceeds_device {
        progress.note(&format!("warning: the plan does not fit the {}: {why}", target.name));
    }
    let design = written;
    let mut r = RtlSection {
        top: design.as_ref().map(|d| d.module.clone()),
        files: design.as_ref().map(|d| d.files.iter().map(|(n, _)| n.clone()).collect()),
        plan: summary,
        exceeds_device,
        logic,
        hls: hls_design.map(|d| HlsInfo {
            top: d.top,
            dir: hls_dir.display().to_string(),
            files: d.files,
            part: target.hls_part().to_string(),
            vitis: "run_hls.tcl is written for Vitis HLS and not run here".into(),
        }),
        verify: None,
        early_exit: None,
        energy: None,
        cosim: None,
        csim: None,
        fpga: None,
        report: None,
        active_students: active.as_ref().zip(plan.students.as_ref()).map(|(a, st)| {
            // The resolved students, by name (the command line may give indices).
            st.names.iter().zip(a).filter(|(_, on)| **on).map(|(n, _)| n.clone()).collect()
        }),
    };
    let mut failures = vec![];
    let mut measured = None;
    let checked = match batch {
        Some(b) => Some(o.samples.of(b).map_err(|e| Error::Usage(e.to_string()))?),
        None => None,
    };
    let labels = o.labels.as_deref().zip(checked.as_ref()).map(|(l, b)| &l[..b.n]);
    if let Some(b) = checked.as_deref() {
        // The reference runs the cut model unsimplified: verification covers the passes.
        // NeuroBench's counts come from the verification's reference run, not a second one.
        // Under a student mask the reference runs the model pruned to those students.
        let pruned = match &active {
            None => None,
            Some(_) => {
                let passes = PassSettings { students: bs.mask.active_students.clone(), ..o.passes.clone() };
                Some(prepare(m.clone(), steps, &passes, &o.plan, batch, o.labels.as_deref(), &super::super::Quiet)?)
            }
        };
        let cut = pruned.as_ref().map_or(&prep.cut, |p| &p.cut);
        let counter = step(progress, "counting synapses for NeuroBench", || {
            neurobench::Counter::new(&cut.graph, &cut.info, cut.dialect())
        });
        let act = active.as_deref();
        let (v, _, c) = verify_active(cut, &plan, b, steps, labels, Some(&counter), act, progress)?;
        let min = o.passes.min_agreement;
        if v.class_agreement < min {
            failures.push(format!("class agreement {:.4} is below --min-agreement {min}", v.class_agreement));
        }
        r.verify = Some(v);
        let est = energy::estimate(&plan, &target, &c);
        let counts = counter.counts(&cut.graph, &cut.info, b.n, steps);
        if let Some(e) = early_exit_check_active(&plan, b, steps, &c, act)? {
            if e.changed > 0 {
                failures.push(format!("early exit changed the class of {} inputs", e.changed));
            }
            r.early_exit = Some(e);
        }
        r.energy = Some(EnergySection {
            energy_per_inference_j: est.energy_per_inference_j,
            counts: counts.clone(),
            estimate: est.clone(),
        });
        if rtl && bs.cosim_samples > 0 {
            let n = bs.cosim_samples.min(b.n);
            let first = b.take(n);
            let outcome =
                cosim_step(&plan, &first, &c.samples[..n], act, None, &bs.cosim, &out.join("cosim"), progress)?
                    .noted("co-simulation", progress);
            if let Some(rep) = outcome.ran()
                && !rep.exact()
            {
                failures.push(format!("co-simulation: {}", rep.first_differences.join("; ")));
            }
            r.cosim = Some(outcome);
        }
        if with_hls && bs.csim_samples != Some(0) {
            let n = bs.csim_samples.unwrap_or(b.n).min(b.n);
            let first = b.take(n);
            let eng = &c.samples[..n];
            let masks = act.map(|a| vec![a.to_vec(); n]);
            let outcome = if flow::have("g++") {
                let rep = step(progress, &format!("C-simulating {n} samples (g++)"), || {
                    csim::csim_against_masks(&plan, &first, eng, masks.as_deref(), target.hls_part(), &hls_dir)
                })?;
                if !rep.exact() {
                    failures.push(format!("C simulation: {}", rep.first_differences.join("; ")));
                }
                Step::Ran(rep)
            } else {
                // The project still gets its testbench data.
                csim::write_project_masks(&plan, &first, eng, masks.as_deref(), target.hls_part(), &hls_dir)?;
                Step::skipped(format!("g++ is not installed (Debian package: {})", flow::package_of("g++")))
            };
            r.csim = Some(outcome.noted("C simulation", progress));
        }
        measured = Some((c, est, counts));
    }
    if bs.bitstream {
        let (outcome, f) = match built {
            Some(first) => first,
            None => bitstream(design.as_ref().expect("--bitstream checked to emit Verilog"), &target, o, progress)?,
        };
        failures.extend(f);
        r.fpga = Some(outcome);
    }
    if let (Some(path), Some((c, est, counts)), Some(b)) = (&bs.report, measured, checked.as_deref()) {
        let resources = r.fpga.as_ref().and_then(FpgaOutcome::resources);
        let (sample, est) = (bs.raster_sample, vec![est]);
        html_report(path, m, &plan, b, &c, sample, labels, est, Some(counts), resources, vec![])?;
        r.report = Some(path.display().to_string());
    }
    Ok(CompileReport {
        model: m.path.display().to_string(),
        target: target.name.clone(),
        clock_mhz: plan.clock_mhz,
        timesteps: steps,
        passes: prep.records,
        hardware: Hardware::Rtl(Box::new(r)),
        failures,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::PlanSettings;
    use std::path::PathBuf;

    /// Block RAMs of `plan` and of each design `fallback` would consider after it (one more
    /// projection event-driven each), on `target`.
    fn block_rams_along(plan: &Plan, target: &Target, optimize: Optimize) -> Vec<u64> {
        let mut modes = plan.modes();
        let mut seq = vec![plan.block_rams()];
        for (k, pi) in turn_order(plan, optimize) {
            modes[k][pi] = Mode::Event;
            seq.push(plan.with_modes(&modes, target).expect("event mode is always possible").block_rams());
        }
        seq
    }

    /// `fallback` does not offer a design whose memories the plan knows do not fit: it turns the
    /// next projection event-driven with it and says so. Event lists can need more block RAM
    /// than the spike planes they replace, so a design can be too large while the one after it
    /// fits. The cases are found among the bundled students (sequential and streamed, on the
    /// ULX3S): where the first design `fallback` considers needs more block RAMs than a later
    /// one, the device is given one block fewer than the first needs.
    #[test]
    fn fallback_skips_designs_whose_memories_do_not_fit() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let o: crate::ir::dialect::DialectOverrides =
            serde_json::from_value(serde_json::json!({"from": "snntorch", "timesteps": 8})).unwrap();
        let mut checked = 0;
        for model in ["mlp_bw", "conv_bw", "ensemble_bw"] {
            let m = Model::load(&root.join(format!("models/{model}/{model}.nir")), &o).unwrap();
            let input = m.graph.the_input().unwrap();
            let calib = InputBatch::load(&root.join("models/digits_test_x.npy"), &m.info.out_shape[input.index()])
                .unwrap()
                .take(4);
            for schedule in [ScheduleChoice::Sequential, ScheduleChoice::Streamed] {
                let settings =
                    PlanSettings { target: "ulx3s-85f".into(), schedule: Some(schedule), ..Default::default() };
                let opts = settings.options(8, Some(&calib)).unwrap();
                let plan = crate::driver::options::lower(&m, &opts, Some(&calib)).unwrap();
                let seq = block_rams_along(&plan, &opts.target, opts.settings.optimize);
                let (first, later) = (seq.get(1).copied().unwrap_or(0), seq.iter().skip(2).min().copied());
                if later.is_none_or(|l| l >= first) {
                    continue;
                }
                // The device one block short of the first design, the plan laid out on it again.
                let mut opts = opts.clone();
                opts.target.device.block_rams = first - 1;
                let plan = crate::driver::options::lower(&m, &opts, Some(&calib)).unwrap();
                let seq = block_rams_along(&plan, &opts.target, opts.settings.optimize);
                let have = opts.target.device.block_rams;
                let Some(fits) = seq.iter().skip(1).position(|&b| b <= have).map(|j| j + 1) else { continue };
                if fits < 2 {
                    continue;
                }
                let case = format!("{model} {schedule:?}: block RAMs {seq:?}, device {have}");
                let (p, said) = fallback(&plan, &opts, &opts.target, (false, true), Some(&calib), "(test)")
                    .unwrap_or_else(|| panic!("{case}: no design offered"));
                let order = turn_order(&plan, opts.settings.optimize);
                let mut want = plan.modes();
                for &(k, pi) in &order[..fits] {
                    want[k][pi] = Mode::Event;
                }
                assert_eq!(p.modes(), want, "{case}");
                assert!(p.memory_misfit(&opts.target).is_none(), "{case}");
                assert_eq!(p.block_rams(), seq[fits], "{case}");
                let skipped = format!(
                    "({} designs before it skipped unbuilt: its memories need {} block RAMs, the device has {have})",
                    fits - 1,
                    seq[fits - 1]
                );
                assert!(said.ends_with(&skipped), "{case}: {said}");
                assert!(
                    p.datapath_note.as_deref().is_some_and(|n| n.ends_with(&skipped)),
                    "{case}: {:?}",
                    p.datapath_note
                );
                checked += 1;
            }
        }
        assert!(checked > 0, "no bundled student has a design that does not fit before one that does");
    }
}
