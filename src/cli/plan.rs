//! `spikefab plan`: lower a model to a hardware plan and print it.

use std::path::PathBuf;

use clap::Args;
use spikefab::driver::{prepare, steps_for};
use spikefab::hw::{MemMap, Plan};
use spikefab::target::Kind;

use super::passes::{PassArgs, print_records};
use super::{Bars, Failure, ModelArgs, PlanArgs};

#[derive(Args, Debug)]
pub struct PlanCmdArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    plan: PlanArgs,
    #[command(flatten)]
    passes: PassArgs,
    /// Calibration inputs (.npy) for the input range; also reports measured cycles.
    #[arg(long)]
    inputs: Option<PathBuf>,
    /// Print JSON (the plan without weight values).
    #[arg(long)]
    json: bool,
}

/// A chip target: the network on the chip's cores, every stated limit checked (exit 1 when
/// one is exceeded).
fn chip_plan(
    a: &PlanCmdArgs,
    m: &spikefab::Model,
    settings: &spikefab::driver::PlanSettings,
    target: &spikefab::target::Target,
    steps: usize,
    batch: Option<&spikefab::data::InputBatch>,
) -> Result<(), Failure> {
    let mut o = settings.options_for(target.clone(), steps, batch)?.quant();
    if target.family == spikefab::target::Family::Xylo {
        o.rules = spikefab::quant::Rules::xylo();
        let net = spikefab::quant::quantise(m, &o)
            .map_err(|err| spikefab::driver::Error::Quant { path: m.path.clone(), err })?;
        let spec = spikefab::chip::xylo::map(&net, target).map_err(|e| Failure::check(e.to_string()))?;
        if a.json {
            println!("{}", serde_json::to_string_pretty(&spec).expect("plain data"));
            return Ok(());
        }
        println!(
            "Xylo placement of {} on {}: {} hidden neurons ({} take input, {} drive the {} outputs), weight shifts \
             in/rec/out {}/{}/{}; outputs {} step(s) behind the model",
            net.model,
            target.name,
            spec.n_hidden,
            spec.ien,
            spec.oen,
            spec.n_out,
            spec.weight_shift_in,
            spec.weight_shift_rec,
            spec.weight_shift_out,
            spec.lag
        );
        for p in &spec.places {
            println!(
                "  '{}': {} {}..{} ({} steps behind)",
                p.layer,
                p.population,
                p.first,
                p.first + p.neurons,
                p.delay
            );
        }
        for n in &net.notes {
            println!("note: {n}");
        }
        return Ok(());
    }
    if target.flow() == spikefab::target::Flow::Lava {
        o.rules = spikefab::quant::Rules::loihi();
        let net = spikefab::quant::quantise(m, &o)
            .map_err(|err| spikefab::driver::Error::Quant { path: m.path.clone(), err })?;
        let mut notes = net.notes.clone();
        let netx = spikefab::chip::loihi::map(&net, target, &mut notes)
            .map_err(|e| spikefab::driver::Error::DoesNotFit(format!("{}: {e}", m.path.display())))?;
        if a.json {
            println!("{}", serde_json::to_string_pretty(&netx).expect("plain data"));
            return Ok(());
        }
        println!(
            "netx layout of {} for {}: {} layers on {} cores, input spikes of {} bit(s); outputs {} step(s) behind \
             the model",
            net.model,
            target.name,
            netx.layers.len(),
            netx.cores,
            netx.input_bits,
            netx.lag
        );
        for l in &netx.layers {
            println!(
                "  '{}': {} {} neurons, iDecay {} vDecay {}, vThMant {}, weight exponent {}",
                l.name,
                if l.conv.is_some() { "conv" } else { "dense" },
                l.neurons(),
                l.i_decay,
                l.v_decay,
                l.vth,
                l.weight_exp
            );
        }
        for n in &notes {
            println!("note: {n}");
        }
        return Ok(());
    }
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

/// Where a memory lives, for the listing.
fn map_text(m: &MemMap) -> String {
    match m {
        MemMap::Registers => "registers".to_string(),
        MemMap::BlockRam { blocks, mode } => format!("{blocks} block RAM ({}x{})", mode[0], mode[1]),
        MemMap::LargeRam { blocks, .. } => format!("{blocks} large RAM"),
        MemMap::Sram => "SRAM".to_string(),
    }
}

pub fn print_plan(p: &Plan) {
    let s = p.summary();
    println!(
        "plan: {} for {} at {} MHz, T = {}, {} schedule",
        s.model,
        s.target,
        s.clock_mhz,
        s.timesteps,
        s.schedule.name()
    );
    if let Some(why) = &s.schedule_note {
        println!("schedule: {why}");
    }
    println!(
        "input '{}': {:?}, {}-bit {}, scale {} per LSB, {}",
        s.input.node,
        s.input.shape,
        s.input.bits,
        if s.input.signed { "signed" } else { "unsigned" },
        s.input.scale,
        if s.input.per_step { "one input per step" } else { "same input every step (accumulated once)" }
    );
    println!(
        "arithmetic: membranes with {} fractional bits, leak multipliers with {} bits, reset {}, fire {}",
        s.frac_bits,
        s.leak_bits,
        s.reset,
        if s.fire_on_equal { "v >= THR" } else { "v > THR" }
    );
    for l in &s.layers {
        println!(
            "layer '{}' ({:?}): shape {:?}, {} lanes x {} rows; V {} bits{}{}{}; leak {}; threshold {}; unit {}",
            l.name,
            l.kind,
            l.shape,
            l.lanes,
            l.rows,
            l.v_bits,
            if l.s_bits > 0 { format!(", S {} bits", l.s_bits) } else { String::new() },
            if l.y_bits > 0 { format!(", Y {} bits", l.y_bits) } else { String::new() },
            if l.saturate { " (saturating)" } else { "" },
            l.leak,
            l.threshold,
            l.unit
        );
        for pr in &l.projections {
            println!(
                "  <- {} : {} {}, << {}, {} beats/event{}{}",
                pr.from,
                pr.kind,
                pr.weights,
                pr.shift,
                if pr.beats_per_event_min == pr.beats_per_event {
                    pr.beats_per_event.to_string()
                } else {
                    format!("{}-{}", pr.beats_per_event_min, pr.beats_per_event)
                },
                if pr.target == spikefab::quant::AccTarget::Static { ", static (step 0 only)" } else { "" },
                if pr.delayed { ", previous step" } else { "" }
            );
        }
    }
    println!(
        "output '{}': layer '{}' {}",
        s.output.node,
        p.layers[s.output.layer].name,
        if s.output.spikes { "spikes" } else { "values" }
    );
    println!("memories:");
    for m in &s.memories {
        let map = map_text(&m.map);
        println!(
            "  {:<24} {:>6} x {:<4} {:>8} bits  {}{}",
            m.name,
            m.depth,
            m.width,
            m.bits(),
            map,
            if m.rom { " (ROM)" } else { "" }
        );
    }
    let copies: Vec<_> = s.banks.iter().filter_map(|b| b.reader.map(|r| (b, r))).collect();
    if !copies.is_empty() {
        println!("event list copies (pipelined: each reader has its own, two steps deep):");
        for (b, r) in copies {
            let map = map_text(&b.map);
            println!(
                "  {:<24} {:>6} x {:<4} {map}  (read by {})",
                format!("{}.events", p.layers[b.layers[0]].name),
                b.depth,
                b.width,
                p.layers[r].name
            );
        }
    }
    let shared: Vec<_> = s.banks.iter().filter(|b| b.layers.len() > 1).collect();
    if !shared.is_empty() {
        println!("shared by layers in the RTL (they never run at once; counted once below):");
        for b in shared {
            let names: Vec<&str> = b.layers.iter().map(|&k| p.layers[k].name.as_str()).collect();
            let map = map_text(&b.map);
            let what = match b.kind.as_str() {
                "x" => "membranes",
                "s" => "static sums",
                "y" => "synaptic currents",
                _ => "event lists",
            };
            println!("  {what:<18} {:>6} x {:<4} {map}  ({})", b.depth, b.width, names.join(", "));
        }
    }
    if s.device_block_rams == 0 {
        println!("block RAMs: {}, register bits: {}", s.block_rams, s.register_bits);
    } else if s.block_rams <= s.device_block_rams {
        println!(
            "block RAMs: {} of the device's {}, register bits: {}",
            s.block_rams, s.device_block_rams, s.register_bits
        );
    } else {
        println!(
            "block RAMs: {} of the device's {}: MORE than it has (the RAMs alone; every ROM is in logic), \
             so the design does not fit; register bits: {}",
            s.block_rams, s.device_block_rams, s.register_bits
        );
    }
}

pub fn run(a: PlanCmdArgs) -> Result<(), Failure> {
    let m = a.model.load()?;
    let batch = match &a.inputs {
        Some(p) => Some(a.model.inputs(&m, p)?),
        None => None,
    };
    let steps = steps_for(&m, batch.as_ref())?;
    let passes = a.passes.settings(&m, &a.model)?;
    let settings = a.plan.settings();
    let prep = prepare(m, steps, &passes, &settings, batch.as_ref(), None, &Bars::default())?;
    let steps = prep.steps;
    let target = settings.target()?;
    if target.kind == Kind::Neuromorphic {
        return chip_plan(&a, &prep.model, &settings, &target, steps, batch.as_ref());
    }
    let plan = settings.plan(&prep.model, steps, batch.as_ref())?;
    if a.json {
        let mut v = serde_json::to_value(plan.summary()).expect("json");
        v["passes"] = serde_json::to_value(&prep.records).expect("json");
        println!("{}", serde_json::to_string_pretty(&v).expect("json"));
        return Ok(());
    }
    print_records(&prep.records);
    print_plan(&plan);
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
        .map(|(l, c)| (c.update_passes * spikefab::hw::schedule::upd_cycles(l)) as f64)
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
