//! `compile` for a chip target: the chip back end's mapping, chip-exact run, verification,
//! export and vendor check, as one compile report.

use super::{Backend, CompileOptions, CompileReport, Hardware};
use crate::Model;
use crate::driver::chip::{ChipBackend, ChipSection, Export, verify};
use crate::driver::phase::run_phase;
use crate::driver::progress::step;
use crate::driver::{Error, Job, Progress};
use crate::passes::Pipeline;
use crate::target::Target;

/// `compile` for a chip: run the back end's `passes` (its legalisation), quantise and place under the chip's rules (calibrated on every input),
/// run the checked inputs on the chip-exact model, compare with the reference, export them into
/// `<out>/<export_dir>`, and have the vendor's simulator judge the export.
pub(crate) fn compile(
    chip: &dyn ChipBackend,
    passes: &Pipeline,
    m: &Model,
    o: &CompileOptions,
    target: &Target,
    progress: &dyn Progress,
) -> Result<CompileReport, Error> {
    let b = &o.build;
    if b.bitstream || b.report.is_some() || b.backend != Backend::Verilog {
        return Err(Error::Usage(format!(
            "--bitstream, --report and --backend are for FPGA and ASIC targets; {} ({}) writes its vendor's files",
            target.name,
            chip.info().name
        )));
    }
    let inputs = o.inputs.as_ref().ok_or_else(|| {
        Error::Usage(format!(
            "compiling for {} needs --inputs: the quantiser calibrates on them and the export holds the chip's \
             inputs and its expected spikes",
            target.name
        ))
    })?;
    // A chip cannot switch students at run time: `--active-students` compiles those students
    // only (as `--students` does), and says so.
    if b.mask.cascade.is_some() {
        return Err(Error::Usage(format!(
            "--cascade: {} cannot switch students at run time, so it cannot stop after some of them",
            target.name
        )));
    }
    let pruned;
    let passes_o = match b.mask.active_students.as_slice() {
        [] => &o.passes,
        names => {
            if !o.passes.students.is_empty() || o.passes.keep_students.is_some() {
                return Err(Error::Usage(
                    "--active-students chooses the students to run; give it without --students or --keep-students"
                        .into(),
                ));
            }
            progress.note(&format!(
                "{} cannot switch students at run time: compiling only the students {} (as --students does)",
                target.name,
                names.join(", ")
            ));
            pruned = crate::options::PassSettings { students: names.to_vec(), ..o.passes.clone() };
            &pruned
        }
    };
    let job = Job { labels: o.labels.as_deref(), samples: o.samples, ..Job::new(m, inputs, &o.plan, passes_o) };
    let mut prep = job.prepare(progress)?;
    let steps = prep.steps;
    // The back end's pass phase (legalisation), recorded with the shared passes.
    let (legal, records) = run_phase(&prep.model, passes, steps)?;
    let map = chip.map(&legal, &o.plan, target, steps, Some(inputs))?;
    prep.records.extend(records);
    let checked = job.checked()?;
    let run = step(progress, &format!("simulating {} samples on {}", checked.inputs.n, target.name), || {
        map.run(&checked.inputs)
    });
    let mut failures = vec![];
    let v = verify(&prep.cut, steps, &run.outputs(), &checked.inputs, checked.labels, progress)?;
    let min = o.passes.min_agreement;
    if v.class_agreement < min {
        failures.push(format!("class agreement of the chip {:.4} is below --min-agreement {min}", v.class_agreement));
    }
    let dir = o.out_dir.join(chip.info().export_dir);
    let files = run.write_export(&dir)?;
    let vendor = run.vendor_check(&dir, progress)?.noted(&format!("{} check", chip.info().simulator), progress);
    if let Some(rep) = vendor.ran()
        && !rep.exact()
    {
        failures.push(format!("{} differs from spikefab: {}", rep.simulator, rep.first_differences.join("; ")));
    }
    let section = ChipSection {
        layout: map.layout(),
        chip_steps: map.chip_steps(),
        notes: map.notes().to_vec(),
        inputs_not_taken: run.inputs_not_taken(),
        verify: v,
        export: Export { dir: dir.display().to_string(), files },
        vendor_check: vendor,
        energy: run.estimate(target),
    };
    Ok(CompileReport {
        model: prep.model.path.display().to_string(),
        target: target.name.clone(),
        clock_mhz: target.clock.default_mhz,
        timesteps: steps,
        passes: prep.records,
        hardware: Hardware::Chip(Box::new(section)),
        failures,
    })
}
