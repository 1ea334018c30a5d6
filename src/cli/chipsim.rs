//! `spikefab chipsim`: the chip export run in the vendor's own simulator (rockpool's XyloSim for
//! Xylo, Lava's fixed-point simulator for Loihi) against spikefab's simulation of the chip, every
//! output spike, hidden spike, membrane and synaptic current compared.

use std::path::PathBuf;

use clap::Args;
use spikefab::driver::chip::{lava_check, loihi_run, vendor_check, write_loihi, write_xylo, xylo_chip, xylo_run};
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
    if target.flow() == spikefab::target::Flow::Lava {
        return run_lava(&a, &m, &settings, &target, steps, &batch);
    }
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

/// Loihi: the netx export run in Lava (`Loihi2SimCfg(select_tag="fixed_pt")`).
fn run_lava(
    a: &ChipsimArgs,
    m: &spikefab::Model,
    settings: &spikefab::driver::PlanSettings,
    target: &spikefab::target::Target,
    steps: usize,
    batch: &spikefab::data::InputBatch,
) -> Result<(), Failure> {
    let run = loihi_run(m, settings, target, steps, batch)?;
    let files = write_loihi(&run, &a.out_dir)?;
    let r = lava_check(&run, &a.out_dir, &Bars::default())?
        .map_err(|why| Failure::input(anyhow::anyhow!("Lava cannot run: {why}")))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r).expect("plain data"));
    } else {
        println!(
            "{} on {}: {} samples x {} steps (T = {} + {} layers) in Lava fixed_pt ({:.1} s), files {} in {}",
            m.path.display(),
            target.name,
            r.samples,
            r.steps,
            steps,
            run.netx.lag,
            r.seconds,
            files.join(", "),
            a.out_dir.display()
        );
        println!(
            "compared {} values ({} output spikes, the rest u and v of every neuron): {} output spikes and {} \
             states differ",
            r.words, r.output_words, r.output_mismatches, r.state_mismatches
        );
        for d in &r.first_differences {
            println!("  {d}");
        }
    }
    if !r.exact() {
        return Err(Failure::check("Lava differs from spikefab's simulation of the chip"));
    }
    if !a.json {
        println!("chipsim: Lava and spikefab agree on every value");
    }
    Ok(())
}
