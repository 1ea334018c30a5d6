//! Every model of the NIR op corpus that lowers to hardware is co-simulated: the RTL must
//! match the cycle engine word for word and cycle for cycle (covers CubaLIF, IF, LI and
//! Threshold layers, value outputs, recurrence, shortcuts, pooling, strided, dilated and
//! grouped convolutions, a strided 1x1 convolution whose source lists only the positions it
//! reaches, per-step and direct input, all reset modes), and each design is
//! Verilator -Wall clean.

use crate::common;

use common::{cases, root, scratch, tool_or_skip};
use spikefab::flow::cosim::{self, Simulator};
use spikefab::hw::{PlanOptions, lower};
use spikefab::quant::InputStats;

#[test]
fn op_corpus_cosim_iverilog() {
    if !tool_or_skip("iverilog", "op_corpus_cosim_iverilog") {
        return;
    }
    // Verilator lints each design when installed (always in CI).
    let lint = tool_or_skip("verilator", "op_corpus_cosim_iverilog (Verilator lint)");
    let t = spikefab::target::Target::load("ice40-up5k").unwrap();
    let mut done = vec![];
    let mut refused = vec![];
    // Plans whose event list keeps only the positions its readers reach (a strided 1x1
    // convolution's source: conv1x1_stride2).
    let mut kept_lists = 0;
    for c in cases(&root().join("tests/data/nir/cases.json")) {
        let m = c.load();
        let batch = c.batch(&m);
        for lanes in [1usize, 4] {
            let mut o = PlanOptions::new(t.clone(), c.timesteps);
            o.input_stats = Some(InputStats::of(&batch));
            o.settings.lanes = Some(lanes);
            let plan = match lower(&m, &o) {
                Ok(p) => p,
                Err(e) => {
                    refused.push(format!("{}: {e}", c.name));
                    break;
                }
            };
            let dir = scratch(&format!("corpus-{}-{lanes}", c.name));
            let r = cosim::cosim(&plan, &batch, 4, Simulator::Iverilog, &dir, &|_| {})
                .unwrap_or_else(|e| panic!("{}: {e}", c.name));
            assert!(r.exact(), "{} lanes {lanes}: {:?}", c.name, r.first_differences);
            if lint {
                let d = spikefab::back::verilog::emit(&plan, None).unwrap();
                let srcs = spikefab::flow::ice40::sources(&d);
                let top = format!("{}_board", d.module);
                let mut args = vec!["--lint-only", "-Wall", "--top-module", top.as_str()];
                args.extend(srcs.iter().map(String::as_str));
                let out = std::process::Command::new("verilator").args(&args).current_dir(&dir).output().unwrap();
                let text = String::from_utf8_lossy(&out.stderr);
                assert!(out.status.success() && !text.contains("%Warning"), "{} lint: {text}", c.name);
            }
            kept_lists += usize::from(
                (0..plan.layers.len()).any(|k| spikefab::hw::dense::listed_rows(&plan, k) < plan.layers[k].rows),
            );
            done.push(format!("{} (L={lanes})", c.name));
        }
    }
    println!("co-simulated: {}", done.join(", "));
    println!("refused by the plan: {}", refused.join("\n  "));
    assert!(done.len() >= 30, "most of the corpus lowers to hardware: {done:?}");
    assert!(kept_lists >= 2, "an event list keeping only the positions its readers reach, at 1 and 4 lanes");
}

/// Layers share state and event memories; under early exit those memories tell stale rows
/// by an epoch bit. Every spiking-output corpus model with early exit (and capped, saturating
/// widths) at 2 and 8 lanes must stay exact, including the inference after an early exit.
#[test]
fn op_corpus_early_exit_and_saturation_cosim_iverilog() {
    if !tool_or_skip("iverilog", "op_corpus_early_exit_and_saturation_cosim_iverilog") {
        return;
    }
    let t = spikefab::target::Target::load("ice40-up5k").unwrap();
    let mut done = vec![];
    for c in cases(&root().join("tests/data/nir/cases.json")) {
        let m = c.load();
        let batch = c.batch(&m);
        for (lanes, cap) in [(2usize, None), (8, Some(10u32))] {
            let mut o = PlanOptions::new(t.clone(), c.timesteps);
            o.input_stats = Some(InputStats::of(&batch));
            o.settings.lanes = Some(lanes);
            o.settings.membrane_bits = cap;
            let Ok(plan) = lower(&m, &o) else { break };
            // Per-step inputs included: after an early exit the testbench starts the next sample
            // at its own inputs (the host skips the steps the design did not read).
            if !plan.output.spikes {
                break;
            }
            o.settings.early_exit = true;
            let plan = lower(&m, &o).unwrap_or_else(|e| panic!("{}: {e}", c.name));
            let dir = scratch(&format!("corpus-exit-{}-{lanes}", c.name));
            let r = cosim::cosim(&plan, &batch, 10, Simulator::Iverilog, &dir, &|_| {})
                .unwrap_or_else(|e| panic!("{}: {e}", c.name));
            assert!(r.exact(), "{} lanes {lanes} early exit: {:?}", c.name, r.first_differences);
            assert_eq!(r.rtl_cycles, r.engine_cycles, "{} lanes {lanes}", c.name);
            done.push(format!("{} (L={lanes})", c.name));
        }
    }
    println!("co-simulated with early exit: {}", done.join(", "));
    assert!(done.len() >= 10, "most spiking corpus models take early exit: {done:?}");
}
