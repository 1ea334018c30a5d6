//! `spikefab chipsim`: the chip export run in the vendor's own simulator (rockpool's XyloSim)
//! against spikefab's simulation of the chip, every output spike, hidden spike, membrane and
//! synaptic current compared.

use std::path::PathBuf;

use clap::Args;
use spikefab::driver::chip::{vendor_check, write_xylo, xylo_chip, xylo_run};
use spikefab::driver::steps_for;

use super::{Bars, Failure, ModelArgs, PlanArgs};

#[derive(Args, Debug)]
pub struct ChipsimArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    plan: PlanArgs,
    /// Inputs (.npy): event counts per channel and step, or real values with --input-scale.
    #[arg(long)]
    inputs: PathBuf,
    /// Compare the first N samples.
    #[arg(long, default_value_t = 64)]
    samples: usize,
    /// Folder for the export and the simulator's recordings.
    #[arg(short, long, default_value = "build/chipsim")]
    out_dir: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(a: ChipsimArgs) -> Result<(), Failure> {
    let m = a.model.load()?;
    let batch = a.model.inputs(&m, &a.inputs)?.take(a.samples.max(1));
    let steps = steps_for(&m, Some(&batch))?;
    let settings = a.plan.settings();
    let target = settings.target()?;
    let chip = xylo_chip(&target)?;
    let run = xylo_run(&m, &settings, &target, steps, &batch)?;
    let files = write_xylo(&run, chip, &a.out_dir)?;
    let r = vendor_check(&run, chip, &a.out_dir, &Bars::default())?
        .map_err(|why| Failure::input(anyhow::anyhow!("XyloSim cannot run: {why}")))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r).expect("plain data"));
    } else {
        println!(
            "{} on {} ({}): {} samples x {} steps in XyloSim ({:.1} s), files {} in {}",
            m.path.display(),
            target.name,
            chip,
            r.samples,
            r.steps,
            r.seconds,
            files.join(", "),
            a.out_dir.display()
        );
        println!(
            "compared {} values: {} output spikes, {} hidden spike counts, {} membranes and currents differ; samna: {}",
            r.words, r.output_mismatches, r.spike_mismatches, r.state_mismatches, r.samna_configuration
        );
        for d in &r.first_differences {
            println!("  {d}");
        }
    }
    if !r.exact() {
        return Err(Failure::check("XyloSim differs from spikefab's simulation of the chip"));
    }
    if !a.json {
        println!("chipsim: XyloSim and spikefab agree on every value");
    }
    Ok(())
}
