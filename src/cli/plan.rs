//! `spikefab plan`: lower a model to a hardware plan and print it.

use std::path::PathBuf;

use clap::Args;
use spikefab::driver::chip::backend;
use spikefab::driver::{prepare, steps_for};
use spikefab::hw::Plan;
use spikefab::options::PlanSettings;

use super::passes::PassArgs;
use super::print::{print_plan, print_records};
use super::{Bars, Failure, ModelArgs};

#[derive(Args, Debug)]
pub struct PlanCmdArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    plan: PlanSettings,
    #[command(flatten)]
    passes: PassArgs,
    /// Inputs (.npy): they calibrate the input range (else --calib does) and give measured cycles.
    #[arg(long)]
    inputs: Option<PathBuf>,
    /// Print JSON (the plan without weight values).
    #[arg(long)]
    json: bool,
}

/// A chip target: the network on the chip's cores, every stated limit checked (exit 1 when
/// one is exceeded). A chip with a back end shows its own placement; a chip spikefab only
/// prices gets the generic mapping of its `[chip]` limits.
fn chip_plan(
    a: &PlanCmdArgs,
    m: &spikefab::Model,
    target: &spikefab::target::Target,
    steps: usize,
    batch: Option<&spikefab::data::InputBatch>,
) -> Result<(), Failure> {
    if let Some(chip) = backend(target) {
        let map = chip.map(m, &a.plan, target, steps, batch)?;
        let layout = map.layout();
        if a.json {
            let j = serde_json::json!({"layout": layout, "chip_steps": map.chip_steps(), "notes": map.notes()});
            println!("{}", serde_json::to_string_pretty(&j).expect("plain data"));
            return Ok(());
        }
        println!("{} on {}:", m.path.display(), target.name);
        for line in layout.lines() {
            println!("{line}");
        }
        for n in map.notes() {
            println!("note: {n}");
        }
        return Ok(());
    }
    let o = a.plan.options_for(target.clone(), steps, batch)?.quant();
    let net =
        spikefab::quant::quantise(m, &o).map_err(|err| spikefab::driver::Error::Quant { path: m.path.clone(), err })?;
    let mapping = spikefab::chip::map(&net, target).map_err(Failure::input)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&mapping).expect("plain data"));
    } else {
        println!("chip mapping of {} onto {} ({} cores used)", net.model, mapping.chip, mapping.cores.len());
        println!(
            "inputs: {} channels; outputs: {} neurons; largest neuron fan-in {}",
            mapping.input_channels, mapping.output_neurons, mapping.max_neuron_fan_in
        );
        for (k, l) in net.layers.iter().enumerate() {
            let cs: Vec<_> = mapping.cores.iter().filter(|c| c.layer == k).collect();
            let syn: u64 = cs.iter().map(|c| c.synapses).sum();
            let fan = cs.iter().map(|c| c.fan_in).max().unwrap_or(0);
            println!(
                "  layer '{}': {} neurons on {} cores, {syn} synapses, up to {fan} sources per core",
                l.name,
                l.neurons(),
                cs.len()
            );
        }
    }
    if !mapping.fits() {
        return Err(Failure::check(format!(
            "the model does not fit {}: {}",
            mapping.chip,
            mapping.violations.join("; ")
        )));
    }
    if !a.json {
        println!("fits {}", mapping.chip);
    }
    Ok(())
}

pub fn run(a: PlanCmdArgs) -> Result<(), Failure> {
    let m = a.model.load()?;
    let batch = match &a.inputs {
        Some(p) => Some(a.model.inputs(&m, p)?),
        None => None,
    };
    let steps = steps_for(&m, batch.as_ref())?;
    let passes = a.passes.settings(&m, &a.model)?;
    let prep = prepare(m, steps, &passes, &a.plan, batch.as_ref(), None, &Bars::default())?;
    let steps = prep.steps;
    let target = a.plan.target()?;
    // The input range comes from --inputs, else from the passes' --calib inputs.
    let range = batch.as_ref().or(passes.calib.as_ref());
    if target.is_chip() {
        return chip_plan(&a, &prep.model, &target, steps, range);
    }
    let plan = a.plan.plan(&prep.model, steps, range)?;
    let streaming = match &target.external_memory {
        Some(mem) => match spikefab::hw::sdram::stream_figures(&plan, mem, 1) {
            Ok(f) => Some((f, mem)),
            Err(e @ spikefab::hw::sdram::StreamError::TooLarge { .. }) => {
                eprintln!("warning: {e}");
                None
            }
            Err(e) => return Err(Failure::input(anyhow::anyhow!("target {}: {e}", target.name))),
        },
        None => None,
    };
    if a.json {
        let mut v = serde_json::to_value(plan.summary()).expect("json");
        v["passes"] = serde_json::to_value(&prep.records).expect("json");
        if let Some((f, mem)) = &streaming {
            v["external_memory"] = serde_json::to_value(f).expect("json");
            v["external_memory"]["energy_per_pass"] = serde_json::to_value(pass_energy(f, mem)).expect("json");
        }
        println!("{}", serde_json::to_string_pretty(&v).expect("json"));
        return Ok(());
    }
    print_records(&prep.records);
    print_plan(&plan);
    for why in plan.device_misfits(&target) {
        println!("warning: the plan does not fit the {}: {why}", target.name);
    }
    if let Some((f, mem)) = &streaming {
        print_streaming(f, mem);
    }
    if let Some(b) = &batch {
        let r = spikefab::sim::cycle::run(&plan, b, steps);
        let c = r.cycles();
        let mean = c.iter().sum::<u64>() as f64 / c.len() as f64;
        println!(
            "cycles per inference on {} inputs: mean {:.1}, min {}, max {} ({:.1} us at {} MHz)",
            c.len(),
            mean,
            c.iter().min().unwrap(),
            c.iter().max().unwrap(),
            mean / plan.clock_mhz,
            plan.clock_mhz
        );
        print_bound(&plan, &r.total, c.len());
    }
    Ok(())
}

/// The mean latency against its lower bound, synaptic events x fan-out / lanes (what the
/// accumulate lanes must do at one target row per cycle), and where the other cycles go.
fn print_bound(plan: &Plan, total: &spikefab::sim::cycle::Counters, n: usize) {
    let n = n.max(1) as f64;
    let bound: f64 =
        plan.layers.iter().zip(&total.layers).map(|(l, c)| c.synaptic_ops as f64 / l.lanes as f64).sum::<f64>() / n;
    let beats: f64 = total.layers.iter().map(|c| c.beats as f64).sum::<f64>() / n;
    let cycles = total.cycles as f64 / n;
    let upd: f64 = plan
        .layers
        .iter()
        .zip(&total.layers)
        .map(|(l, c)| (c.update_passes * spikefab::hw::schedule::upd_cycles(plan, l)) as f64)
        .sum::<f64>()
        / n;
    let io = (total.load_cycles + total.out_cycles) as f64 / n;
    let ratio = if bound > 0.0 { format!("{:.2}", cycles / bound) } else { "n/a (no synaptic events)".into() };
    if plan.schedule == spikefab::hw::Schedule::Pipelined {
        // Units overlap: their busy cycles add up to more than the latency.
        let (k, busy) = total
            .layers
            .iter()
            .enumerate()
            .map(|(k, c)| (k, c.cycles as f64 / n))
            .fold((0, 0.0), |a, b| if b.1 > a.1 { b } else { a });
        println!(
            "latency bound (synaptic events x fan-out / lanes): {bound:.1} cycles; accumulate beats {beats:.1}, update \
             passes {upd:.1}, input and output {io:.1}, all overlapping; the busiest layer '{}' is busy {busy:.1} \
             cycles, units waited {:.1}; cycles / bound {ratio}",
            plan.layers[k].name,
            total.stall_cycles as f64 / n
        );
        return;
    }
    println!(
        "latency bound (synaptic events x fan-out / lanes): {bound:.1} cycles; accumulate beats {beats:.1}, update passes \
         {upd:.1}, input and output {io:.1}, phase control {:.1}; cycles / bound {ratio}",
        (cycles - beats - upd - io).max(0.0),
    );
}

/// The SDRAM energy of one pass over the weights.
fn pass_energy(
    f: &spikefab::hw::sdram::StreamFigures,
    mem: &spikefab::target::ExternalMemory,
) -> spikefab::energy::sdram::SdramEnergy {
    let c = spikefab::sim::sdram::Counts {
        activates: f.activates,
        reads: f.reads,
        writes: 0,
        precharges: f.activates,
        refreshes: f.refreshes,
        cycles: f.cycles_per_pass,
    };
    spikefab::energy::sdram::energy(&mem.power, &c, f.clock_mhz)
}

/// What streaming the weights from the board's SDRAM would move and allow.
fn print_streaming(f: &spikefab::hw::sdram::StreamFigures, mem: &spikefab::target::ExternalMemory) {
    let e = pass_energy(f, mem);
    println!(
        "external memory ({}, {}-bit SDR at {} MHz): the weights ({} bits in {} memories, {} words) are {:.0} bytes per \
         inference; one pass takes {} cycles at {:.3} words per cycle of the bus's {:.1} MB/s peak: bandwidth bound \
         {:.1} inferences per second",
        f.part,
        mem.geometry.width,
        f.clock_mhz,
        f.weight_bits,
        f.memories,
        f.words,
        f.bytes_per_inference,
        f.cycles_per_pass,
        f.efficiency,
        f.peak_bytes_per_s / 1e6,
        f.bound_inferences_per_s
    );
    println!(
        "external memory energy per pass: {:.3} uJ (reads {:.3}, activates {:.3}, refresh {:.3}, background {:.3}; IDD \
         method, docs/energy.md)",
        e.total_j() * 1e6,
        e.read_j * 1e6,
        e.activate_j * 1e6,
        e.refresh_j * 1e6,
        e.background_j * 1e6
    );
    println!(
        "note: designs do not stream from external memory yet: compile keeps every weight on chip, so these are the \
         figures of the streaming form, not of the design built"
    );
}
