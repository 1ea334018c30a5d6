//! The pipelined schedule (docs/hardware.md section 4): every layer, the input load and the
//! output run on their own sequencers, concurrently on different steps. The RTL is
//! co-simulated against the cycle engine's model of it (every output word, every cycle count)
//! on every corpus model that lowers and on every student; its cycles are compared with the
//! sequential schedule's; early exit is refused.

mod common;

use common::{root, scratch, tool_or_skip};
use spikefab::flow::cosim::{self, Simulator};
use spikefab::hw::{PlanOptions, Schedule};
use spikefab::quant::InputStats;

/// Every corpus model that lowers (direct and per-step inputs, graded and spike inputs,
/// convolutions, pools, recurrent edges, current-based neurons, value outputs, residual and
/// ensemble branches), at 1 and 4 lanes, in iverilog (event-driven: races and X values show).
#[test]
fn pipelined_cosim_every_corpus_model_iverilog() {
    let test = "pipelined_cosim_every_corpus_model_iverilog";
    if !tool_or_skip("iverilog", test) {
        return;
    }
    let mut checked = 0;
    for c in common::cases(&root().join("tests/data/nir/cases.json")) {
        for lanes in [1usize, 4] {
            let m = c.load();
            let batch = c.batch(&m);
            let t = spikefab::target::Target::load("ice40-up5k").unwrap();
            let mut o = PlanOptions::new(t, c.timesteps);
            o.lanes = Some(lanes);
            o.input_stats = Some(InputStats::of(&batch));
            o.schedule = Schedule::Pipelined;
            let Ok(plan) = spikefab::hw::lower(&m, &o) else { continue };
            if spikefab::back::verilog::emit(&plan, None).is_err() {
                continue;
            }
            let dir = scratch(&format!("{test}-{}-{lanes}", c.name));
            let n = batch.n.min(6);
            let r = cosim::cosim(&plan, &batch, n, Simulator::Iverilog, &dir, &|_| {})
                .unwrap_or_else(|e| panic!("{} lanes {lanes}: {e}", c.name));
            assert!(r.exact(), "{} lanes {lanes}: {:?}", c.name, r.first_differences);
            assert_eq!(r.rtl_cycles, r.engine_cycles, "{} lanes {lanes}", c.name);
            checked += 1;
        }
    }
    println!("{checked} pipelined corpus designs co-simulated exactly");
    assert!(checked >= 40, "{checked} designs");
}
