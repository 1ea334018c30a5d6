//! `spikefab chipsim`: a chip export run in the vendor's own simulator (rockpool's XyloSim for
//! Xylo, Lava's fixed-point simulator for Loihi 2) against spikefab's simulation of the chip,
//! every value the simulator records compared.

use std::path::PathBuf;

use clap::Args;
use spikefab::driver::backend;
use spikefab::driver::{Job, steps_for};
use spikefab::options::PassSettings;

use super::bars::Bars;
use super::failure::Failure;
use super::model_args::ModelOnInputs;

#[derive(Args, Debug)]
pub struct ChipsimArgs {
    #[command(flatten)]
    on: ModelOnInputs,
    /// Folder for the export and the simulator's recordings.
    #[arg(short, long, default_value = "build/chipsim")]
    out_dir: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(a: ChipsimArgs) -> Result<(), Failure> {
    let (m, batch) = a.on.load()?;
    let steps = steps_for(&m, Some(&batch))?;
    let target = a.on.plan.target()?;
    let backend = backend::of(&target);
    let simulator = backend.vendor_simulator(&target)?;
    let passes = PassSettings { no_simplify: true, ..Default::default() };
    let checked = Job { samples: a.on.input.samples, ..Job::new(&m, &batch, &a.on.plan, &passes) }.checked()?;
    let (design, _) = backend.lay_out(&m, &a.on.plan, &target, steps, Some(&batch))?;
    let map = design.chip().expect("a back end with a vendor export places on a chip");
    let run = map.run(&checked.inputs);
    let files = run.write_export(&a.out_dir)?;
    let r = match run.vendor_check(&a.out_dir, &Bars::default())? {
        spikefab::driver::Step::Ran(r) => r,
        spikefab::driver::Step::Skipped { skipped } => {
            return Err(Failure::input(anyhow::anyhow!("{} cannot run: {skipped}", simulator)));
        }
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r).expect("plain data"));
    } else {
        println!(
            "{} on {}: {} samples x {} chip steps (T = {steps}) in {} ({:.1} s), files {} in {}",
            m.path.display(),
            target.name,
            r.samples,
            r.steps,
            r.simulator,
            r.seconds,
            files.join(", "),
            a.out_dir.display()
        );
        println!("compared: {}", r.verdict());
        for n in &r.notes {
            println!("  {n}");
        }
        for d in &r.first_differences {
            println!("  {d}");
        }
    }
    if !r.exact() {
        return Err(Failure::check(format!("{} differs from spikefab's simulation of the chip", r.simulator)));
    }
    if !a.json {
        println!("chipsim: {} and spikefab agree on every value", r.simulator);
    }
    Ok(())
}
