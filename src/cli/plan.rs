//! `spikefab plan`: lower a model to a hardware plan and print it.

use std::path::PathBuf;

use clap::Args;
use spikefab::data::InputBatch;
use spikefab::hw::{MemMap, Plan};
use spikefab::sim::reference;

use super::passes::{PassArgs, prepare, print_records};
use super::{Failure, ModelArgs, PlanArgs};

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

/// Loads inputs for a model's single Input.
pub fn load_inputs(m: &spikefab::Model, path: &std::path::Path) -> Result<InputBatch, Failure> {
    let input = m.graph.the_input().map_err(Failure::input)?;
    InputBatch::load(path, &m.info.out_shape[input.index()]).map_err(Failure::input)
}

/// Steps to run: per-step inputs give their own length, otherwise --timesteps is needed.
/// Checks the run against [`spikefab::limits`] before anything is allocated for it.
pub fn steps_for(m: &spikefab::Model, batch: Option<&InputBatch>) -> Result<usize, Failure> {
    let steps = match batch {
        Some(b) => b.steps(m.dialect().timesteps).map_err(|e| Failure::input(anyhow::anyhow!(e)))?,
        None => m.dialect().timesteps.ok_or_else(|| Failure::input(anyhow::anyhow!("give --timesteps T")))?,
    };
    let max = spikefab::limits::MAX_TIMESTEPS;
    if steps > max {
        return Err(Failure::input(anyhow::anyhow!("{steps} timesteps is above the limit of {max}")));
    }
    if let Some(b) = batch {
        let out = m.graph.outputs().iter().map(|&o| m.info.out_numel(o)).max().unwrap_or(0);
        let hist = reference::history_numel(&m.graph, &m.info);
        spikefab::limits::check_run(b.n, steps, out, hist)
            .map_err(|e| Failure::input(anyhow::anyhow!("{}: {e}", m.path.display())))?;
    }
    Ok(steps)
}

pub fn print_plan(p: &Plan) {
    let s = p.summary();
    println!("plan: {} for {} at {} MHz, T = {}", s.model, s.target, s.clock_mhz, s.timesteps);
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
                pr.beats_per_event,
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
        let map = match &m.map {
            MemMap::Registers => "registers".to_string(),
            MemMap::BlockRam { blocks, mode } => {
                format!("{blocks} block RAM ({}x{})", mode[0], mode[1])
            }
            MemMap::LargeRam { blocks } => format!("{blocks} large RAM"),
            MemMap::Sram => "SRAM".to_string(),
        };
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
    println!("block RAMs: {}, register bits: {}", s.block_rams, s.register_bits);
}

pub fn run(a: PlanCmdArgs) -> Result<(), Failure> {
    let m = a.model.load()?;
    let batch = match &a.inputs {
        Some(p) => Some(load_inputs(&m, p)?),
        None => None,
    };
    let steps = steps_for(&m, batch.as_ref())?;
    let prep = prepare(m, steps, &a.passes, &a.plan, batch.as_ref(), None)?;
    let steps = prep.steps;
    let plan = a.plan.plan(&prep.model, steps, batch.as_ref())?;
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
    }
    Ok(())
}
