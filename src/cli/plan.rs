//! `spikefab plan`: lower a model to a hardware plan and print it.

use std::path::PathBuf;

use clap::Args;
use spikefab::driver::backend::{PlanView, Streaming};
use spikefab::driver::{LatencyBound, PlanReport, StreamBalance};
use spikefab::options::PlanSettings;

use super::bars::Bars;
use super::failure::Failure;
use super::model_args::ModelArgs;
use super::passes::PassArgs;
use super::print::{print_plan, print_records};

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

pub fn run(a: PlanCmdArgs) -> Result<(), Failure> {
    let m = a.model.load()?;
    let batch = match &a.inputs {
        Some(p) => Some(a.model.inputs(&m, p)?),
        None => None,
    };
    let passes = a.passes.settings(&m, &a.model)?;
    let r = spikefab::driver::plan(m, &a.plan, &passes, batch.as_ref(), &Bars::default())?;
    if let PlanView::Fpga { streaming_warning: Some(w), .. } = &r.view {
        eprintln!("warning: {w}");
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r.json()).expect("plain data"));
    } else {
        print_view(&r);
    }
    match r.failure() {
        Some(why) => Err(Failure::check(why)),
        None => Ok(()),
    }
}

/// The layout as text.
fn print_view(r: &PlanReport) {
    match &r.view {
        PlanView::Fpga { plan, misfits, streaming, .. } => {
            print_records(&r.passes);
            print_plan(plan);
            for why in misfits {
                println!("warning: the plan does not fit the {}: {why}", r.target);
            }
            if let Some(l) = &r.logic {
                print_logic(l, &r.target);
            } else if plan.fuse_steps {
                println!("logic: not predicted: the logic model has measured no design with the steps side by side");
            }
            if let Some(s) = streaming {
                print_streaming(s, plan.external.is_some());
            }
            if let Some(c) = &r.cycles {
                println!(
                    "cycles per inference on {} inputs: mean {:.1}, min {}, max {} ({:.1} us at {} MHz)",
                    c.samples,
                    c.mean,
                    c.min,
                    c.max,
                    c.mean / c.clock_mhz,
                    c.clock_mhz
                );
                print_bound(&c.bound);
            }
            if let Some(b) = &r.balance {
                print_balance(b);
            }
        }
        PlanView::Chip { layout, notes, .. } => {
            println!("{} on {}:", r.model, r.target);
            for line in layout.lines() {
                println!("{line}");
            }
            for n in notes {
                println!("note: {n}");
            }
        }
        PlanView::PricedChip { mapping, layers, model } => {
            println!("chip mapping of {model} onto {} ({} cores used)", mapping.chip, mapping.cores.len());
            println!(
                "inputs: {} channels; outputs: {} neurons; largest neuron fan-in {}",
                mapping.input_channels, mapping.output_neurons, mapping.max_neuron_fan_in
            );
            for (name, neurons, cores, syn, fan) in layers {
                println!(
                    "  layer '{name}': {neurons} neurons on {cores} cores, {syn} synapses, up to {fan} sources per core"
                );
            }
            if mapping.fits() {
                println!("fits {}", mapping.chip);
            }
        }
    }
}

/// The predicted logic against the device's.
fn print_logic(l: &spikefab::hw::logic::Logic, target: &str) {
    println!("logic: {}", l.line());
    if let Some(why) = l.misfit() {
        println!("warning: the design is predicted not to fit the {target}: {why}");
    }
}

/// The mean latency against its lower bound and where the other cycles go.
fn print_bound(b: &LatencyBound) {
    let ratio = match b.ratio() {
        Some(x) => format!("{x:.2}"),
        None => "n/a (no synaptic events)".into(),
    };
    if let Some((layer, busy, waited)) = &b.busiest {
        println!(
            "latency bound (synaptic events x fan-out / lanes): {:.1} cycles; accumulate beats {:.1}, update \
             passes {:.1}, input and output {:.1}, all overlapping; the busiest layer '{layer}' is busy {busy:.1} \
             cycles, units waited {waited:.1}; cycles / bound {ratio}",
            b.bound, b.beats, b.updates, b.io
        );
        return;
    }
    let mut waits =
        if b.weight_waits > 0.0 { format!(", waiting for weights {:.1}", b.weight_waits) } else { String::new() };
    if b.fused > 0.0 {
        waits += &format!(", fused layers (their gathers and updates overlapped) {:.1}", b.fused);
    }
    println!(
        "latency bound (synaptic events x fan-out / lanes): {:.1} cycles; accumulate beats {:.1}, update passes \
         {:.1}, input and output {:.1}, phase control {:.1}{waits}; cycles / bound {ratio}",
        b.bound,
        b.beats,
        b.updates,
        b.io,
        b.phase_control(),
    );
}

/// The weights' transfer against the datapath's work, were the weights streamed (or as they
/// are, for a plan that streams them).
fn print_balance(b: &StreamBalance) {
    let limit = if b.fraction_of_bound >= 1.0 { "the memory" } else { "the datapath" };
    if b.measured {
        println!(
            "streamed, measured: transfer {:.3} ms per inference; this plan, its weights fetched tile by tile with \
             the memory's timing, takes {:.3} ms ({:.1} cycles of it waiting for weights): {:.1} inferences per \
             second, {:.3} of the bandwidth bound; {:.0} synaptic accumulates per inference, {:.2} per cycle now, \
             {:.2} per cycle to keep up with the memory",
            b.transfer_s * 1e3,
            b.compute_s * 1e3,
            b.stall_cycles,
            b.inferences_per_s,
            b.fraction_of_bound,
            b.synaptic_ops,
            b.ops_per_cycle,
            b.ops_per_cycle_needed
        );
        if !b.waits_by_layer.is_empty() {
            // The longest few: the layers whose transfer outlasts the compute before them.
            const SHOWN: usize = 4;
            let parts: Vec<String> =
                b.waits_by_layer.iter().take(SHOWN).map(|w| format!("{} {:.1}", w.layer, w.cycles)).collect();
            let more = b.waits_by_layer.len().saturating_sub(SHOWN);
            let rest: f64 = b.waits_by_layer.iter().skip(SHOWN).map(|w| w.cycles).sum();
            let tail = if more > 0 { format!("; {more} more layers {rest:.1}") } else { String::new() };
            println!("waiting for weights, by layer (cycles per inference): {}{tail}", parts.join(", "));
        }
        return;
    }
    println!(
        "streamed, estimated: transfer {:.3} ms and compute {:.3} ms per inference (this plan's datapath, its cycles \
         measured above), overlapped: {:.1} inferences per second, {:.3} of the bandwidth bound ({limit} is the \
         limit); {:.0} synaptic accumulates per inference, {:.2} per cycle now, {:.2} per cycle to keep up with the \
         memory",
        b.transfer_s * 1e3,
        b.compute_s * 1e3,
        b.inferences_per_s,
        b.fraction_of_bound,
        b.synaptic_ops,
        b.ops_per_cycle,
        b.ops_per_cycle_needed
    );
}

/// What streaming the weights from the board's SDRAM would move and allow (`streams`: what
/// this plan moves).
fn print_streaming(s: &Streaming, streams: bool) {
    let (f, e) = (&s.figures, &s.energy_per_pass);
    println!(
        "external memory ({}, {}-bit SDR at {} MHz): the weights ({} bits in {} memories, {} words) are {:.0} bytes per \
         inference; one pass takes {} cycles at {:.3} words per cycle of the bus's {:.1} MB/s peak: bandwidth bound \
         {:.1} inferences per second",
        f.part,
        s.bus_bits,
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
    if streams {
        println!(
            "note: this plan streams its weights from the external memory (--schedule streamed): each layer's, \
             or each tile of a layer's lane groups, in turn into the on-chip tile buffer"
        );
    } else {
        println!(
            "note: this plan keeps every weight on chip; these are the figures of streaming them (--schedule \
             streamed)"
        );
    }
}
