//! The layer-major order a design that streams its weights runs in (docs/streaming.md): every
//! layer runs all its steps before the next layer starts. The cycle engine runs it through the
//! same kernels, so its outputs and counters equal the step-major run's wherever the order is
//! allowed; plans whose arithmetic the order would change (early exit, a projection reading the
//! previous step) are refused.

use crate::common;

use common::{relayout, root, students};
use spikefab::hw::dense::{self, Mode};
use spikefab::hw::schedule::{self, Schedule};
use spikefab::hw::{MemMap, PlanOptions, lower};
use spikefab::quant::{AccTarget, InputStats, Source};
use spikefab::sim::cycle::{self, OrderError};
use spikefab::target::{ScheduleChoice, Target};

/// On the students and the NIR corpus (direct and per-step inputs, convolutions, pools,
/// recurrence, current-based neurons), at 1, 2 and 8 lanes, event and dense, with analysed and
/// capped (saturating) membranes: outputs and every counter of every sample equal.
#[test]
fn layer_major_order_computes_what_step_major_computes() {
    let t = Target::load("ice40-up5k").unwrap();
    let mut cases: Vec<_> = students().into_iter().map(|(c, _)| c).collect();
    cases.extend(common::cases(&root().join("tests/data/nir/cases.json")));
    let (mut runs, mut per_step, mut saturating, mut refused) = (0, 0, 0, 0);
    for c in &cases {
        let m = c.load();
        let batch = c.batch(&m).take(24);
        for lanes in [1, 2, 8] {
            for cap in [None, Some(8)] {
                let mut o = PlanOptions::new(t.clone(), c.timesteps);
                o.input_stats = Some(InputStats::of(&batch));
                o.settings.lanes = Some(lanes);
                o.settings.membrane_bits = cap;
                let Ok(event) = lower(&m, &o) else { continue };
                if cap.is_some() && !event.layers.iter().any(|l| l.saturate) {
                    continue;
                }
                let previous_step = event.layers.iter().enumerate().any(|(k, l)| {
                    l.projections.iter().any(|p| p.delayed || matches!(p.source, Source::Layer(s) if s >= k))
                });
                let dense = event.with_modes(&spikefab::hw::dense::all_dense(&event), &t).unwrap();
                for (mode, plan) in [("event", &event), ("dense", &dense)] {
                    let what = format!("{} at {lanes} lanes, cap {cap:?}, {mode}", c.name);
                    let steps = plan.timesteps;
                    let got = cycle::run_layer_major(plan, &batch, steps);
                    if previous_step {
                        assert!(matches!(got, Err(OrderError::ReadsPreviousStep(_))), "{what}: not refused");
                        refused += 1;
                        continue;
                    }
                    let got = got.unwrap_or_else(|e| panic!("{what}: {e}"));
                    let want = cycle::run(plan, &batch, steps);
                    assert_eq!(got.outputs.data, want.outputs.data, "{what}: outputs");
                    for (i, (g, w)) in got.samples.iter().zip(&want.samples).enumerate() {
                        assert_eq!(g.raw, w.raw, "{what}: sample {i}");
                        assert_eq!(g.counters, w.counters, "{what}: sample {i}'s counters");
                    }
                    runs += 1;
                    per_step += usize::from(plan.input.per_step);
                    saturating += usize::from(cap.is_some());
                }
            }
        }
    }
    println!("{runs} runs equal ({per_step} with per-step inputs, {saturating} saturating), {refused} refused");
    assert!(runs >= 24 && per_step > 0 && saturating > 0 && refused > 0, "{runs} {per_step} {saturating} {refused}");
}

#[test]
fn layer_major_order_refuses_early_exit() {
    let (c, _) = students().into_iter().next().unwrap();
    let (_, plan, batch) = common::plan_for(&c, Some(2));
    let plan = relayout(&plan, Some(2), |n| n.early_exit = true);
    let e = cycle::run_layer_major(&plan, &batch, plan.timesteps).expect_err("refused");
    assert_eq!(e, OrderError::EarlyExit);
}

/// A streamed sample's step ends, checked against its counters independently of the engine's
/// account: each step ends with the output layer's OUT phase, after every layer before it in
/// plan order has run all its steps; the last step's end is the total less the layers after
/// the output layer and DONE.
fn check_step_ends(plan: &spikefab::hw::Plan, k: &cycle::Counters, ends: &[u64], what: &str) {
    let o = plan.output.layer;
    assert_eq!(ends.len() as u64, k.steps_run, "{what}");
    assert!(ends.windows(2).all(|w| w[0] < w[1]), "{what}: step ends {ends:?}");
    let after: u64 = k.layers[o + 1..].iter().map(|l| l.cycles).sum();
    assert_eq!(ends.last().copied(), Some(k.cycles - after - schedule::DONE), "{what}");
    let before: u64 = k.layers[..o].iter().map(|l| l.cycles).sum();
    let loads = if plan.input.per_step { k.steps_run } else { 1 };
    assert!(ends[0] > loads * (plan.input.numel() as u64 + 1) + before, "{what}: step 0 ends after the layers before");
}

/// `--schedule streamed` on the students and the NIR corpus, at 1 and 8 lanes, event and dense,
/// analysed and capped membranes: the outputs and every counter of every sample, cycles
/// included, equal the sequential schedule's (the same phases, each at its sequential cost, in
/// layer-major order), on the fast path and the general path; each step ends with the output
/// layer's OUT phase; and plans that read a previous step are refused at lowering, naming the
/// layer.
#[test]
fn the_streamed_schedule_computes_what_the_sequential_one_computes() {
    let t = Target::load("ice40-up5k").unwrap();
    let mut cases: Vec<_> = students().into_iter().map(|(c, _)| c).collect();
    cases.extend(common::cases(&root().join("tests/data/nir/cases.json")));
    let (mut runs, mut dense_runs, mut refused) = (0, 0, 0);
    for c in &cases {
        let m = c.load();
        let batch = c.batch(&m).take(16);
        for lanes in [1, 8] {
            for cap in [None, Some(8)] {
                let mut o = PlanOptions::new(t.clone(), c.timesteps);
                o.input_stats = Some(InputStats::of(&batch));
                o.settings.lanes = Some(lanes);
                o.settings.membrane_bits = cap;
                let Ok(seq) = lower(&m, &o) else { continue };
                if cap.is_some() && !seq.layers.iter().any(|l| l.saturate) {
                    continue;
                }
                o.settings.schedule = Some(ScheduleChoice::Streamed);
                let what = format!("{} at {lanes} lanes, cap {cap:?}", c.name);
                let streamed = match lower(&m, &o) {
                    Ok(p) => p,
                    Err(e) => {
                        let back = seq.layers.iter().enumerate().find(|(k, l)| {
                            l.projections.iter().any(|p| p.delayed || matches!(p.source, Source::Layer(s) if s >= *k))
                        });
                        let (_, l) = back.unwrap_or_else(|| panic!("{what}: refused without a reason: {e}"));
                        assert_eq!(e.node.as_deref(), Some(l.name.as_str()), "{what}: {e}");
                        assert!(e.message.contains("previous step"), "{what}: {e}");
                        refused += 1;
                        continue;
                    }
                };
                assert_eq!(streamed.schedule, Schedule::Streamed);
                let modes = dense::all_dense(&seq);
                let pairs = [
                    ("event", seq.clone(), streamed.clone()),
                    ("dense", seq.with_modes(&modes, &t).unwrap(), streamed.with_modes(&modes, &t).unwrap()),
                ];
                for (mode, seq, streamed) in &pairs {
                    let what = format!("{what}, {mode}");
                    let steps = streamed.timesteps;
                    let got = cycle::run(streamed, &batch, steps);
                    let want = cycle::run(seq, &batch, steps);
                    assert_eq!(got.outputs.data, want.outputs.data, "{what}: outputs");
                    for (i, (g, w)) in got.samples.iter().zip(&want.samples).enumerate() {
                        assert_eq!(g.raw, w.raw, "{what}: sample {i}");
                        assert_eq!(g.counters, w.counters, "{what}: sample {i}'s counters");
                        check_step_ends(streamed, &g.counters, &g.step_end_cycles, &format!("{what}: sample {i}"));
                    }
                    // The general path runs the same order with the same account.
                    for i in [0, batch.n - 1] {
                        let traced = cycle::run_traced(streamed, &batch, i, steps, &mut common::NoTrace);
                        assert_eq!(traced.raw, got.samples[i].raw, "{what}: general path, sample {i}");
                        assert_eq!(traced.counters, got.samples[i].counters, "{what}: general path, sample {i}");
                        assert_eq!(traced.step_end_cycles, got.samples[i].step_end_cycles, "{what}: sample {i}");
                    }
                    runs += 1;
                    dense_runs += usize::from(streamed.layers.iter().any(|l| l.modes.contains(&Mode::Dense)));
                }
            }
        }
    }
    println!("{runs} streamed runs equal ({dense_runs} with dense projections), {refused} refused");
    assert!(runs >= 24 && dense_runs > 0 && refused > 0, "{runs} {dense_runs} {refused}");
}

/// The general path's layer-major order (`run_traced_layer_major`) computes what its
/// step-major order computes, counters included, on a sequential plan.
#[test]
fn the_general_path_runs_layer_major_too() {
    for (c, _) in students() {
        let (_, plan, batch) = common::plan_for(&c, Some(2));
        for i in [0, 1] {
            let want = cycle::run_traced(&plan, &batch, i, plan.timesteps, &mut common::NoTrace);
            let got = cycle::run_traced_layer_major(&plan, &batch, i, plan.timesteps, &mut common::NoTrace).unwrap();
            assert_eq!(got.raw, want.raw, "{} sample {i}", c.name);
            assert_eq!(got.counters, want.counters, "{} sample {i}", c.name);
        }
    }
}

/// The streamed schedule refuses early exit at lowering (the back ends' refusals are in
/// tests/rtl_streamed.rs).
#[test]
fn the_streamed_schedule_refuses_early_exit() {
    let (c, _) = students().into_iter().next().unwrap();
    let m = c.load();
    let batch = c.batch(&m);
    let t = Target::load("ice40-up5k").unwrap();
    let mut o = PlanOptions::new(t, c.timesteps);
    o.input_stats = Some(InputStats::of(&batch));
    o.settings.schedule = Some(ScheduleChoice::Streamed);
    o.settings.early_exit = true;
    let e = lower(&m, &o).expect_err("early exit refused");
    assert!(e.message.contains("early exit"), "{e}");
}

/// Energy of a streamed plan with its weights on chip: the sequential plan's accesses, memory
/// by memory, and the same synaptic energy (the same phases in another order); only memories
/// holding every step are deeper.
#[test]
fn streamed_energy_counts_what_the_sequential_schedule_counts() {
    let t = Target::load("ice40-up5k").unwrap();
    let mut deeper = 0;
    for (c, _) in students() {
        let m = c.load();
        let batch = c.batch(&m).take(32);
        let mut o = PlanOptions::new(t.clone(), c.timesteps);
        o.input_stats = Some(InputStats::of(&batch));
        let seq = lower(&m, &o).unwrap();
        o.settings.schedule = Some(ScheduleChoice::Streamed);
        let streamed = lower(&m, &o).unwrap();
        let modes = dense::all_dense(&seq);
        let (seq, streamed) = (seq.with_modes(&modes, &t).unwrap(), streamed.with_modes(&modes, &t).unwrap());
        let es = spikefab::energy::estimate(&seq, &t, &cycle::run(&seq, &batch, seq.timesteps));
        let ef = spikefab::energy::estimate(&streamed, &t, &cycle::run(&streamed, &batch, streamed.timesteps));
        let syn = |e: &spikefab::energy::Estimate| e.components.iter().find(|x| x.name == "synaptic").unwrap().joules;
        assert!((syn(&es) - syn(&ef)).abs() <= 1e-9 * syn(&es).abs(), "{}: synaptic energy", c.name);
        assert_eq!(es.memories.len(), ef.memories.len(), "{}", c.name);
        for (a, b) in es.memories.iter().zip(&ef.memories) {
            assert_eq!((&a.name, a.accesses), (&b.name, b.accesses), "{}", c.name);
        }
        for (a, b) in seq.memories.iter().zip(&streamed.memories) {
            assert_eq!(a.name, b.name, "{}", c.name);
            let all_steps = matches!(a.role.as_str(), "events" | "plane") || (a.role == "input" && seq.input.per_step);
            let want = if all_steps { a.depth * seq.timesteps } else { a.depth };
            assert_eq!(b.depth, want, "{}: {}", c.name, a.name);
            deeper += usize::from(all_steps);
        }
    }
    assert!(deeper > 0);
}

/// A student laid out streamed on the ULX3S (its SDRAM at the plan's 50 MHz clock), with
/// `lanes` and, when `dense`, every eligible projection dense.
fn on_the_board(c: &common::Case, lanes: usize, dense: bool) -> (spikefab::hw::Plan, spikefab::data::InputBatch) {
    on_a_board_of(c, lanes, dense, None)
}

/// [`on_the_board`] on the ULX3S's FPGA cut to `blocks` block RAMs (None: all of them).
fn on_a_board_of(
    c: &common::Case,
    lanes: usize,
    dense: bool,
    blocks: Option<u64>,
) -> (spikefab::hw::Plan, spikefab::data::InputBatch) {
    let m = c.load();
    let batch = c.batch(&m).take(12);
    let mut t = Target::load("ulx3s-85f").unwrap();
    t.clock.default_mhz = 50.0;
    if let Some(b) = blocks {
        t.device.block_rams = b;
    }
    let mut o = PlanOptions::new(t.clone(), c.timesteps);
    o.input_stats = Some(InputStats::of(&batch));
    o.settings.lanes = Some(lanes);
    o.settings.schedule = Some(ScheduleChoice::Streamed);
    let plan = lower(&m, &o).unwrap_or_else(|e| panic!("{}: {e}", c.name));
    let plan = if dense { plan.with_modes(&dense::all_dense(&plan), &t).unwrap() } else { plan };
    (plan, batch)
}

/// On the board, every weight memory lives in the SDRAM exactly once, in schedule order: each
/// layer's weights one contiguous request (its tile), the tiles back to back from word 0, as
/// many words as the bandwidth figures stream; each ROM packed in whole memory words (narrow
/// words in power-of-two slots, wide ones over several memory words); the tile buffer holds
/// two of the largest layer's packed rows, each as wide as the widest packed word.
#[test]
fn streamed_weights_are_one_contiguous_tile_per_layer_in_schedule_order() {
    for (c, _) in students() {
        for dense in [false, true] {
            let (plan, _) = on_the_board(&c, 2, dense);
            let what = format!("{}, dense {dense}", c.name);
            let mem = plan.external.clone().expect("streams from the board's SDRAM");
            let width = mem.geometry.width as u64;
            let tiles = plan.tiles();
            let mut next = 0;
            for (j, tile) in tiles.iter().enumerate() {
                assert_eq!(tile.addr, next, "{what}: tile {j} follows the one before");
                assert!(j == 0 || tiles[j - 1].layer < tile.layer, "{what}: one tile per layer, in plan order");
                let owned: u64 = plan
                    .memories
                    .iter()
                    .filter(|m| m.role == "weights" && m.layer == Some(tile.layer))
                    .map(|m| packed(m.depth as u64, m.width as u64, width))
                    .sum();
                assert_eq!(tile.words, owned, "{what}: tile {j} holds its layer's weights");
                next += tile.words;
            }
            for m in plan.memories.iter().filter(|m| m.role == "weights") {
                assert!(matches!(m.map, MemMap::External { .. }), "{what}: {} on chip", m.name);
            }
            let f = spikefab::hw::sdram::stream_figures(&plan, &mem, 1).unwrap();
            assert_eq!(f.words, next, "{what}: the figures stream every tile");
            let buffer = plan.memories.iter().find(|m| m.name == "weights.tiles").expect("a tile buffer");
            let weights = || plan.memories.iter().filter(|m| m.role == "weights");
            // A row is the widest word's power-of-two slot (at least a memory word); a ROM
            // takes ceil(depth / (row / its slot)) rows.
            let row = weights().map(|m| m.width.next_power_of_two()).max().unwrap().max(width as usize);
            let rows = |t: &spikefab::hw::Tile| -> usize {
                weights()
                    .filter(|m| m.layer == Some(t.layer))
                    .map(|m| m.depth.div_ceil(row / m.width.next_power_of_two()))
                    .sum()
            };
            assert_eq!(buffer.depth, 2 * tiles.iter().map(rows).max().unwrap(), "{what}");
            assert_eq!(buffer.width, row, "{what}");
        }
    }
}

/// The memory words of a `depth x width` ROM in memory words of `word` bits, worked out here
/// from the rule: words of at most `word` bits in slots of the next power of two, `word / slot`
/// to a memory word; wider ones over `ceil(width / word)` memory words each.
fn packed(depth: u64, width: u64, word: u64) -> u64 {
    if width <= word { depth.div_ceil(word / width.next_power_of_two()) } else { depth * width.div_ceil(word) }
}

/// A streamed inference's cycles, rebuilt from a sample's counters (each layer's own cycles)
/// and the memory, independently of the engine's account: the controller steps beside the
/// layers against the chip model, which checks every command's timing; tile j is offered from
/// the cycle its buffer half is free (0 for the first two, else the end of the layer of tile
/// j - 2) and is ready three cycles after its last word is on the bus (the chip model here
/// takes each command in the cycle it is decided; the RTL's pins carry it a cycle later, then
/// the controller registers the word and the buffer writes it); a layer starts no earlier.
/// Returns the total cycles, the cycles layers waited and the chip's commands up to done.
/// The timeline of `k`'s phases rebuilt with the chip model: its done cycle, its waits for
/// weights (in all and per layer) and the memory's commands.
fn streamed_timeline(plan: &spikefab::hw::Plan, k: &cycle::Counters) -> (u64, u64, Vec<u64>, cycle::MemoryCommands) {
    use spikefab::hw::sdram::{Request, Streamer};
    use spikefab::sim::sdram::{Sdram, tick};
    let mem = plan.external.as_ref().unwrap();
    let timing = mem.timing.at(plan.clock_mhz);
    let mut ctl = Streamer::at_start(mem.geometry, timing).unwrap();
    let mut chip = Sdram::new(mem.geometry, timing);
    let tiles = plan.tiles();
    let mut cum = vec![];
    let mut total = 0;
    for t in &tiles {
        total += t.words;
        cum.push(total);
    }
    let (mut ready, mut ends) = (vec![None; tiles.len()], vec![None; tiles.len()]);
    let (mut next, mut words, mut mc) = (0, 0u64, 0u64);
    let loads = if plan.input.per_step { k.steps_run } else { 1 };
    let (mut cyc, mut stalls) = (loads * (plan.input.numel() as u64 + 1), 0);
    let mut running: Option<usize> = None;
    let mut by_layer = vec![0; k.layers.len()];
    for (li, lc) in k.layers.iter().enumerate() {
        // A layer in n tiles runs them in turn, each a share n of its cycles (each tile's
        // phases have the same heads, and its rows' or lane groups' share of the work).
        let n = plan.layers[li].tiles;
        assert_eq!(lc.cycles % n as u64, 0, "layer {li}: its tiles take the same cycles");
        let layer_tiles: Vec<Option<usize>> = match tiles.iter().position(|t| t.layer == li) {
            Some(first) => (first..first + n).map(Some).collect(),
            None => vec![None],
        };
        for (jj, tile) in layer_tiles.into_iter().enumerate() {
            if let Some(p) = running.take() {
                ends[p] = Some(cyc);
            }
            if let Some(j) = tile {
                assert_eq!(tiles[j].layer, li);
                while ready[j].is_none() {
                    let free = |i: usize| if i < 2 { Some(0) } else { ends[i - 2] };
                    let offer = next < tiles.len() && next <= j + 1 && free(next).is_some_and(|f| mc >= f);
                    let req = offer.then(|| Request { addr: tiles[next].addr, len: tiles[next].words });
                    let got = tick(&mut ctl, &mut chip, req).unwrap_or_else(|v| panic!("cycle {mc}: {v}"));
                    next += usize::from(got.accepted);
                    if got.word.is_some() {
                        words += 1;
                        if let Some(i) = cum.iter().position(|&c| c == words) {
                            ready[i] = Some(mc + 3);
                        }
                    }
                    mc += 1;
                }
                let go = ready[j].unwrap().max(cyc);
                stalls += go - cyc;
                by_layer[li] += go - cyc;
                cyc = go;
                running = Some(j);
            }
            // The output layer's steps each end with their OUT phase.
            cyc += lc.cycles / n as u64 + if li == plan.output.layer && jj == 0 { k.out_cycles } else { 0 };
        }
    }
    let done = cyc + 1;
    // The controller goes on (refreshing) until done.
    while mc < done {
        tick(&mut ctl, &mut chip, None).unwrap_or_else(|v| panic!("cycle {mc}: {v}"));
        mc += 1;
    }
    let n = chip.counts();
    (done, stalls, by_layer, cycle::MemoryCommands { activates: n.activates, reads: n.reads, refreshes: n.refreshes })
}

/// On the board, every sample's cycles, waits and memory commands are the timeline rebuilt
/// with the chip model (which finds no timing violation), every weight word read once; without
/// the waits they are the same plan's with its
/// weights on chip; and the values are the on-chip plan's.
#[test]
fn streamed_weights_arrive_as_the_memory_allows() {
    let mut waited = 0;
    for (c, _) in students() {
        for lanes in [2, 8] {
            for dense in [false, true] {
                let (plan, batch) = on_the_board(&c, lanes, dense);
                let what = format!("{} at {lanes} lanes, dense {dense}", c.name);
                let got = cycle::run(&plan, &batch, plan.timesteps);
                let mut on_chip = plan.clone();
                on_chip.external = None;
                let want = cycle::run(&on_chip, &batch, plan.timesteps);
                assert_eq!(got.outputs.data, want.outputs.data, "{what}");
                for (i, (g, w)) in got.samples.iter().zip(&want.samples).enumerate() {
                    let (cycles, stalls, by_layer, commands) = streamed_timeline(&plan, &g.counters);
                    let k = &g.counters;
                    assert_eq!(
                        (k.cycles, k.stall_cycles, k.external),
                        (cycles, stalls, commands),
                        "{what}: sample {i}"
                    );
                    // Each layer's waits, which add up to the sample's.
                    let waits: Vec<u64> = k.layers.iter().map(|l| l.weight_waits).collect();
                    assert_eq!(waits, by_layer, "{what}: sample {i}");
                    assert_eq!(k.external.reads, plan.tiles().iter().map(|t| t.words).sum::<u64>(), "{what}");
                    assert_eq!(g.counters.cycles - stalls, w.counters.cycles, "{what}: sample {i}");
                    waited += stalls;
                }
            }
        }
    }
    assert!(waited > 0, "some layer waits for its weights");
}

/// `energy` of a plan streaming from the board's SDRAM has an "external memory" component: the
/// IDD-method energy of the controller's commands and the chip's background over each
/// inference, from the engine's counters; a plan with its weights on chip has none.
#[test]
fn streamed_energy_counts_the_external_memory() {
    let (c, _) = students().into_iter().next().unwrap();
    let (plan, batch) = on_the_board(&c, 2, true);
    let run = cycle::run(&plan, &batch, plan.timesteps);
    let e = spikefab::energy::estimate(&plan, &Target::load("ulx3s-85f").unwrap(), &run);
    let mem = plan.external.as_ref().unwrap();
    let want: f64 = run
        .samples
        .iter()
        .map(|s| {
            let k = &s.counters;
            let n = spikefab::sim::sdram::Counts {
                activates: k.external.activates,
                reads: k.external.reads,
                writes: 0,
                precharges: k.external.activates,
                refreshes: k.external.refreshes,
                cycles: k.cycles,
            };
            spikefab::energy::sdram::energy(&mem.power, &n, plan.clock_mhz).total_j()
        })
        .sum::<f64>()
        / batch.n as f64;
    let got = e.components.iter().find(|x| x.name == "external memory").expect("an external memory component").joules;
    assert!(want > 0.0 && (got - want).abs() <= 1e-9 * want, "{got} vs {want}");
    let total: f64 = e.components.iter().map(|x| x.joules).sum();
    assert!((total - e.energy_per_inference_j).abs() <= 1e-9 * total, "the total counts it");
    let mut on_chip = plan.clone();
    on_chip.external = None;
    let e = spikefab::energy::estimate(
        &on_chip,
        &Target::load("ulx3s-85f").unwrap(),
        &cycle::run(&on_chip, &batch, plan.timesteps),
    );
    assert!(e.components.iter().all(|x| x.name != "external memory"));
}

/// The streamed clock worked by hand on a network small enough to count: 4 inputs, two dense
/// projections, each into 2 integrate-and-fire neurons (one lane, so 2 rows a layer), T = 3,
/// the input all zero (every ACC phase empty):
///
/// - LOAD: 4 values + GAP = 5 (a direct input, loaded once);
/// - an empty ACC phase: ACC_EMPTY + GAP = 2, at every step it runs (the first projection's
///   once if it accumulates into the static state, which a direct input's does);
/// - UPD: UPD_HEAD + 2 rows + UPD_TAIL + GAP = 1 + 2 + 12 + 1 = 16; OUT: 1 + 2 + 0 + 1 = 4;
/// - DONE: 1.
///
/// Streamed, layer 1 runs its three steps (ACC and UPD), then layer 2 its three (ACC, UPD and
/// OUT): the steps end at 5 + a + 48 + 22, + 22 and + 22, where a is layer 1's ACC cycles.
/// Sequential, every step runs both layers: step 0 ends at 5 + a0 + 16 + 2 + 16 + 4, then each
/// step adds (ACC of layer 1 if not static) + 38. Both total the same phases.
#[test]
fn the_streamed_clock_worked_by_hand() {
    let json = r#"{"format": "spikefab-graph", "version": 1,
        "dialect": {"dt": 1.0, "reset": "subtract", "fire_on_equal": true, "timesteps": 3},
        "nodes": [
          {"name": "input", "op": {"type": "Input", "shape": [4]}},
          {"name": "fc1", "op": {"type": "Affine",
             "weight": {"dtype": "f32", "shape": [2, 4], "data": [1, 1, 1, 1, 1, -1, 1, -1]},
             "bias": {"dtype": "f32", "shape": [2], "data": [0, 0]}}},
          {"name": "iaf1", "op": {"type": "IF",
             "r": {"dtype": "f32", "shape": [2], "data": [1, 1]},
             "v_threshold": {"dtype": "f32", "shape": [2], "data": [1, 1]},
             "v_reset": {"dtype": "f32", "shape": [2], "data": [0, 0]}}},
          {"name": "fc2", "op": {"type": "Affine",
             "weight": {"dtype": "f32", "shape": [2, 2], "data": [1, -1, -1, 1]},
             "bias": {"dtype": "f32", "shape": [2], "data": [0, 0]}}},
          {"name": "iaf2", "op": {"type": "IF",
             "r": {"dtype": "f32", "shape": [2], "data": [1, 1]},
             "v_threshold": {"dtype": "f32", "shape": [2], "data": [1, 1]},
             "v_reset": {"dtype": "f32", "shape": [2], "data": [0, 0]}}},
          {"name": "output", "op": {"type": "Output"}}],
        "edges": [["input", "fc1"], ["fc1", "iaf1"], ["iaf1", "fc2"], ["fc2", "iaf2"], ["iaf2", "output"]]}"#;
    let path = common::scratch("streamed-by-hand").join("tiny.json");
    std::fs::write(&path, json).unwrap();
    let m = spikefab::Model::load(&path, &Default::default()).unwrap();
    let batch =
        spikefab::data::InputBatch { n: 1, numel: 4, encoding: spikefab::data::Encoding::Direct, data: vec![0.0; 4] };
    let mut o = PlanOptions::new(Target::load("ice40-up5k").unwrap(), 3);
    o.settings.lanes = Some(1);
    o.settings.input_scale = Some(1.0);
    let seq = lower(&m, &o).unwrap();
    o.settings.schedule = Some(ScheduleChoice::Streamed);
    let streamed = lower(&m, &o).unwrap();
    let rows: Vec<usize> = streamed.layers.iter().map(|l| l.rows).collect();
    assert_eq!((rows, streamed.input.per_step, streamed.output.layer), (vec![2, 2], false, 1));
    // Layer 1's ACC cycles at each step: its projection from the direct input runs once if it
    // accumulates into the static state.
    let a: [u64; 3] = if streamed.layers[0].projections[0].target == AccTarget::Static { [2, 0, 0] } else { [2, 2, 2] };
    let l1 = a.iter().sum::<u64>() + 3 * 16;
    let by_hand = vec![5 + l1 + 22, 5 + l1 + 44, 5 + l1 + 66];
    let sequential = vec![5 + a[0] + 38, 5 + a[0] + a[1] + 76, 5 + a[0] + a[1] + a[2] + 114];
    let got = cycle::run(&streamed, &batch, 3).samples.remove(0);
    let want = cycle::run(&seq, &batch, 3).samples.remove(0);
    assert_eq!((got.step_end_cycles, want.step_end_cycles), (by_hand, sequential));
    assert_eq!((got.counters.cycles, want.counters.cycles), (5 + l1 + 66 + 1, 5 + l1 + 66 + 1));
}

/// Every neuron's and every step end's cycle, in the order reported, and each neuron's
/// (cycle, layer, neuron, step).
#[derive(Default)]
struct Cycles(Vec<u64>, Vec<(u64, usize, usize, usize)>);

impl cycle::Tracer for Cycles {
    fn neuron(&mut self, c: u64, _: usize, _: usize, _: i64, _: bool) {
        self.0.push(c);
    }
    fn neuron_at(&mut self, c: u64, k: usize, n: usize, t: usize, v: i64, spike: bool) {
        self.1.push((c, k, n, t));
        self.neuron(c, k, n, v, spike);
    }
    fn step(&mut self, c: u64, _: usize) {
        self.0.push(c);
    }
}

/// Under the streamed schedule the tracer sees each update with its step: the spike raster
/// (which `energy --report` and `explore` draw) equals the sequential schedule's, step for
/// step, and every neuron and step end is reported before done and in cycle order (as the
/// waveform of `simulate --vcd` needs).
#[test]
fn streamed_traces_carry_each_update_step() {
    let t = Target::load("ice40-up5k").unwrap();
    for (c, _) in students() {
        let m = c.load();
        let batch = c.batch(&m).take(2);
        let mut o = PlanOptions::new(t.clone(), c.timesteps);
        o.input_stats = Some(InputStats::of(&batch));
        let seq = lower(&m, &o).unwrap();
        o.settings.schedule = Some(ScheduleChoice::Streamed);
        let streamed = lower(&m, &o).unwrap();
        let sort = |mut r: spikefab::report::Raster| {
            r.spikes.iter_mut().for_each(|l| l.sort_unstable());
            r.spikes
        };
        let want = sort(spikefab::report::raster(&seq, &batch, 0, seq.timesteps));
        let got = sort(spikefab::report::raster(&streamed, &batch, 0, streamed.timesteps));
        assert!(want.iter().any(|l| l.iter().any(|&(s, _)| s > 0)), "{}: spikes after step 0", c.name);
        assert_eq!(got, want, "{}", c.name);
        let mut tr = Cycles::default();
        let r = cycle::run_traced(&streamed, &batch, 0, streamed.timesteps, &mut tr);
        assert!(tr.0.iter().all(|&x| x < r.counters.cycles), "{}: a neuron after done", c.name);
        // In cycle order, as a waveform (`--vcd`) needs them.
        assert!(tr.0.windows(2).all(|w| w[0] <= w[1]), "{}: reported out of cycle order", c.name);
    }
}

/// On a board whose block RAMs cannot hold a whole layer's weights twice, a streamed plan cuts
/// its layers into tiles of lane groups (`hw::memory::map_into`), and only then: on the whole
/// board the same students keep one tile per layer. A tiled layer's tiles divide its lane
/// groups, its state memories hold one tile's rows, and its weights are one slice per tile,
/// each tile's slices one contiguous request, back to back in schedule order. The values are
/// the whole-layer plan's; the counters say each tile re-reads its sources' events and runs
/// every phase's head again: cycles = work + tiles x (the whole layer's cycles - work), the
/// work being its beats and updated rows; the timeline rebuilt tile by tile with the chip
/// model gives the engine's cycles and waits; the Verilog back end takes the plan.
#[test]
fn layers_in_tiles_compute_what_whole_layers_compute() {
    let mut tiled_layers = 0;
    for (c, _) in students() {
        for dense in [false, true] {
            let what = format!("{}, dense {dense}", c.name);
            let (whole, batch) = on_the_board(&c, 2, dense);
            assert!(whole.layers.iter().all(|l| l.tiles == 1), "{what}: tiles on a board that holds the layers");
            let (plan, _) = on_a_board_of(&c, 2, dense, Some(4));
            let n_tiled = plan.layers.iter().filter(|l| l.tiles > 1).count();
            tiled_layers += n_tiled;
            for (k, l) in plan.layers.iter().enumerate() {
                assert_eq!(l.lane_groups() % l.tiles, 0, "{what}: {}", l.name);
                assert!(l.tiles == 1 || spikefab::hw::memory::tileable(&plan, k), "{what}: {}", l.name);
                let v = plan.memories.iter().find(|m| m.name == format!("{}.v", l.name)).unwrap();
                assert_eq!(v.depth, l.rows / l.tiles, "{what}: {} holds a tile's rows", l.name);
            }
            // Each tile's slices are back to back, the tiles in schedule order.
            let tiles = plan.tiles();
            let mut next = 0;
            for t in &tiles {
                assert_eq!(t.addr, next, "{what}");
                next += t.words;
            }
            for l in plan.layers.iter().filter(|l| l.tiles > 1) {
                assert_eq!(tiles.iter().filter(|t| plan.layers[t.layer].name == l.name).count(), l.tiles, "{what}");
            }
            let got = cycle::run(&plan, &batch, plan.timesteps);
            let want = cycle::run(&whole, &batch, whole.timesteps);
            assert_eq!(got.outputs.data, want.outputs.data, "{what}");
            for (i, (g, w)) in got.samples.iter().zip(&want.samples).enumerate() {
                for (k, l) in plan.layers.iter().enumerate() {
                    let (gl, wl) = (&g.counters.layers[k], &w.counters.layers[k]);
                    let n = l.tiles as u64;
                    let work = wl.beats + wl.update_passes * l.rows as u64;
                    assert_eq!(gl.cycles, work + n * (wl.cycles - work), "{what}: sample {i}, {}", l.name);
                    assert_eq!(gl.events_in, n * wl.events_in, "{what}: sample {i}, {}", l.name);
                    assert_eq!(
                        (gl.beats, gl.synaptic_ops, gl.spikes, gl.state_reads, gl.weight_reads),
                        (wl.beats, wl.synaptic_ops, wl.spikes, wl.state_reads, wl.weight_reads),
                        "{what}: sample {i}, {}",
                        l.name
                    );
                }
                let (cycles, stalls, by_layer, commands) = streamed_timeline(&plan, &g.counters);
                let k = &g.counters;
                assert_eq!((k.cycles, k.stall_cycles, k.external), (cycles, stalls, commands), "{what}: sample {i}");
                let waits: Vec<u64> = k.layers.iter().map(|l| l.weight_waits).collect();
                assert_eq!(waits, by_layer, "{what}: sample {i}: the waits of layers in tiles");
                let f = spikefab::hw::sdram::stream_figures(&plan, plan.external.as_ref().unwrap(), 1).unwrap();
                assert_eq!(k.external.reads, f.words, "{what}: the figures stream what the tiles fetch");
            }
            // The RTL emits layers in tiles (tests/rtl_tiles.rs co-simulates them).
            spikefab::back::limits::check_verilog(&plan).unwrap_or_else(|e| panic!("{what}: {e}"));
        }
    }
    assert!(tiled_layers > 0, "some student is cut into tiles");
}

/// The general path (traces, `--vcd`) runs a layer in tiles too: the same counters as the
/// fast path; every neuron reported once per step, in cycle order, before done; a tiled
/// layer's updates tile by tile, each tile's steps in order, and within a tile and step one
/// row per cycle from the tile's first row (the update pass's rows in order).
#[test]
fn traces_follow_the_tiles() {
    let mut traced = 0;
    for ((c, _), dense) in students().into_iter().flat_map(|c| [(c.clone(), false), (c, true)]) {
        let (plan, batch) = on_a_board_of(&c, 2, dense, Some(4));
        if plan.layers.iter().all(|l| l.tiles == 1) {
            continue;
        }
        traced += 1;
        let fast = cycle::run(&plan, &batch, plan.timesteps);
        let mut tr = Cycles::default();
        let r = cycle::run_traced(&plan, &batch, 0, plan.timesteps, &mut tr);
        assert_eq!(r.counters, fast.samples[0].counters, "{}", c.name);
        assert!(tr.0.iter().all(|&x| x < r.counters.cycles), "{}: a neuron after done", c.name);
        assert!(tr.0.windows(2).all(|w| w[0] <= w[1]), "{}: reported out of cycle order", c.name);
        let neurons: usize = plan.layers.iter().map(|l| l.neurons()).sum();
        assert_eq!(tr.0.len(), neurons * plan.timesteps + plan.timesteps, "{}", c.name);
        for (k, l) in plan.layers.iter().enumerate().filter(|(_, l)| l.tiles > 1) {
            let [_, h, w] = l.shape;
            let rows = l.tile_rows();
            // (tile, step) and the cycle of the tile's first row, for each report in order.
            let at: Vec<((usize, usize), u64)> =
                tr.1.iter()
                    .filter(|e| e.1 == k)
                    .map(|&(cy, _, n, t)| {
                        let (row, _) = l.slot(n / (h * w), n / w % h, n % w);
                        ((row / rows, t), cy - (row % rows) as u64)
                    })
                    .collect();
            assert!(at.windows(2).all(|p| p[0].0 <= p[1].0), "{}, {}: tile by tile, step by step", c.name, l.name);
            assert!(
                at.windows(2).all(|p| p[0].0 != p[1].0 || p[0].1 == p[1].1),
                "{}, {}: a tile's rows one per cycle",
                c.name,
                l.name
            );
            assert_eq!(at.last().map(|a| a.0), Some((l.tiles - 1, plan.timesteps - 1)), "{}", l.name);
        }
    }
    assert!(traced > 0, "some student is traced in tiles");
}

/// `--fuse-steps`: `c`'s streamed plan and its fused plan at `lanes` lanes on `t` (None: the
/// streamed plan is refused, as the order needs), with `c`'s calibration batch.
fn fused_pair(
    c: &common::Case,
    lanes: usize,
    t: &Target,
) -> Option<(spikefab::hw::Plan, spikefab::hw::Plan, spikefab::data::InputBatch)> {
    let m = c.load();
    let batch = c.batch(&m).take(12);
    let mut o = PlanOptions::new(t.clone(), c.timesteps);
    o.input_stats = Some(InputStats::of(&batch));
    o.settings.lanes = Some(lanes);
    o.settings.schedule = Some(ScheduleChoice::Streamed);
    let streamed = lower(&m, &o).ok()?;
    o.settings.fuse_steps = true;
    let fused = lower(&m, &o).unwrap_or_else(|e| panic!("{}: fused refused where streamed is not: {e}", c.name));
    Some((streamed, fused, batch))
}

/// Words a row of fused layer `k` gathers: each projection's pairs times its bit planes.
fn fused_words(plan: &spikefab::hw::Plan, k: usize) -> usize {
    (0..plan.layers[k].projections.len())
        .map(|pi| dense::geometry(plan, k, pi).map(|g| g.words_per_row * g.bit_planes()).unwrap())
        .sum()
}

/// The steps side by side (`--fuse-steps`) compute what the streamed schedule computes, on the
/// students and the NIR corpus at 1 and 8 lanes, with the weights on chip (UP5K) and from the
/// ULX3S's SDRAM: the same outputs and every sample's spikes, synaptic accumulates and neuron
/// updates per layer; a fused layer's cycles are its tiles' `schedule::fused_cycles` over the
/// words its projections gather (bit planes included), and it reads each weight word once for
/// its T steps; the inference's cycles are its layers' phases, loads and OUT phases in layer
/// order, rebuilt with the SDRAM's chip model on the board; the general path gives the same
/// counters and reports every neuron once per step, in cycle order, before done.
#[test]
fn the_fused_steps_compute_what_the_streamed_schedule_computes() {
    let mut cases: Vec<_> = students().into_iter().map(|(c, _)| c).collect();
    cases.extend(common::cases(&root().join("tests/data/nir/cases.json")));
    let mut board = Target::load("ulx3s-85f").unwrap();
    board.clock.default_mhz = 50.0;
    let targets = [Target::load("ice40-up5k").unwrap(), board];
    let (mut runs, mut fused_layers, mut from_input, mut bit_planes) = (0, 0, 0, 0);
    for c in &cases {
        for t in &targets {
            for lanes in [1, 8] {
                let what = format!("{} at {lanes} lanes on {}", c.name, t.name);
                let Some((streamed, fused, batch)) = fused_pair(c, lanes, t) else { continue };
                let steps = fused.timesteps;
                let got = cycle::run(&fused, &batch, steps);
                let want = cycle::run(&streamed, &batch, steps);
                assert_eq!(got.outputs.data, want.outputs.data, "{what}: outputs");
                let is_fused: Vec<bool> = (0..fused.layers.len()).map(|k| fused.fused(k)).collect();
                for (k, l) in fused.layers.iter().enumerate().filter(|&(k, _)| is_fused[k]) {
                    fused_layers += 1;
                    for (pi, p) in l.projections.iter().enumerate() {
                        let g = dense::geometry(&fused, k, pi).unwrap();
                        from_input += usize::from(p.source == Source::Input);
                        bit_planes += usize::from(g.bit_planes() > 1);
                    }
                }
                for (i, (g, w)) in got.samples.iter().zip(&want.samples).enumerate() {
                    let what = format!("{what}: sample {i}");
                    assert_eq!(g.raw, w.raw, "{what}");
                    let k = &g.counters;
                    for (li, l) in fused.layers.iter().enumerate() {
                        let (gl, wl) = (&k.layers[li], &w.counters.layers[li]);
                        assert_eq!(
                            (gl.spikes, gl.synaptic_ops, gl.neuron_updates),
                            (wl.spikes, wl.synaptic_ops, wl.neuron_updates),
                            "{what}, {}",
                            l.name
                        );
                        if !is_fused[li] {
                            continue;
                        }
                        let words = fused_words(&fused, li);
                        let rows = l.tile_rows();
                        let tile = schedule::fused_cycles(&fused, rows, words, steps, |_, _, _| ());
                        assert_eq!(gl.cycles, l.tiles as u64 * tile, "{what}, {}: its fused phases", l.name);
                        assert_eq!(gl.beats, (steps * l.rows * words) as u64, "{what}, {}", l.name);
                        // Each weight word once (held while a source's bit planes pass it), each
                        // T-step plane word once (held while the weights' bit planes pass it).
                        let (mut wr, mut pr) = (0, 0);
                        for pi in 0..l.projections.len() {
                            let g = dense::geometry(&fused, li, pi).unwrap();
                            let pairs = l.rows * g.words_per_row;
                            wr += pairs * g.weight_planes;
                            pr += pairs * g.source_planes;
                        }
                        assert_eq!((gl.weight_reads, gl.plane_reads), (wr as u64, pr as u64), "{what}, {}", l.name);
                    }
                    if fused.external.is_some() {
                        let (cycles, stalls, by_layer, commands) = streamed_timeline(&fused, k);
                        assert_eq!((k.cycles, k.stall_cycles, k.external), (cycles, stalls, commands), "{what}");
                        let waits: Vec<u64> = k.layers.iter().map(|l| l.weight_waits).collect();
                        assert_eq!(waits, by_layer, "{what}");
                    } else {
                        let loads = if fused.input.per_step { k.steps_run } else { 1 };
                        let phases: u64 = k.layers.iter().map(|l| l.cycles).sum();
                        let load = loads * schedule::load_cycles(&fused);
                        assert_eq!(k.cycles, load + phases + k.out_cycles + schedule::DONE, "{what}: the clock");
                    }
                }
                // The general path: the same account, and every neuron traced once per step.
                let mut tr = Cycles::default();
                let r = cycle::run_traced(&fused, &batch, 0, steps, &mut tr);
                assert_eq!(r.raw, got.samples[0].raw, "{what}: general path");
                assert_eq!(r.counters, got.samples[0].counters, "{what}: general path");
                assert!(tr.0.iter().all(|&x| x < r.counters.cycles), "{what}: a neuron after done");
                assert!(tr.0.windows(2).all(|w| w[0] <= w[1]), "{what}: reported out of cycle order");
                let neurons: usize = fused.layers.iter().map(|l| l.neurons()).sum();
                assert_eq!(tr.0.len(), neurons * steps + steps, "{what}");
                runs += 1;
            }
        }
    }
    // Under a student mask a fused layer that does not run takes no cycle: the layers' cycles,
    // loads and OUT phases still make the inference's.
    let c = students().into_iter().map(|(c, _)| c).find(|c| c.name == "ensemble_bw").unwrap();
    let (_, fused, batch) = fused_pair(&c, 8, &targets[0]).unwrap();
    let n = fused.students.as_ref().unwrap().names.len();
    let active: Vec<bool> = (0..n).map(|i| i == 0).collect();
    let r = cycle::run_active(&fused, &batch, fused.timesteps, &active).unwrap();
    let idle = |k: usize| fused.fused(k) && r.samples[0].counters.layers[k].update_passes == 0;
    assert!((0..fused.layers.len()).any(idle), "ensemble_bw: a fused layer of another student");
    for s in &r.samples {
        let k = &s.counters;
        let phases: u64 = k.layers.iter().map(|l| l.cycles).sum();
        assert_eq!(k.cycles, k.load_cycles + phases + k.out_cycles + schedule::DONE, "ensemble_bw, one student");
    }
    println!(
        "{runs} fused runs equal, {fused_layers} fused layers, {from_input} gathering the input, {bit_planes} by bit planes"
    );
    assert!(
        runs >= 24 && fused_layers > 0 && from_input > 0 && bit_planes > 0,
        "{runs} {fused_layers} {from_input} {bit_planes}"
    );
}

/// A fused plan's memories (`--fuse-steps`, docs/streaming.md section 3): a fused layer's state
/// memories hold one block of rows (`schedule::fuse_rows`), so the shared ones are as deep as
/// the largest of those and of the other layers' tiles; a plane a fused layer reads holds a
/// position's T steps in one word, the same bits; the sum buffer holds two blocks' rows of T
/// sums; an input every reader gathers keeps bit planes (one plane per input bit) and no event
/// list.
#[test]
fn fused_memories_hold_a_block_of_rows_and_planes_of_all_steps_a_word() {
    let mut board = Target::load("ulx3s-85f").unwrap();
    board.clock.default_mhz = 50.0;
    let mut gathered_inputs = 0;
    let mut cases: Vec<_> = students().into_iter().map(|(c, _)| c).collect();
    cases.extend(common::cases(&root().join("tests/data/nir/cases.json")));
    for c in cases {
        let Some((streamed, fused, _)) = fused_pair(&c, 8, &board) else { continue };
        let steps = fused.timesteps;
        let mem = |p: &spikefab::hw::Plan, name: String| p.memories.iter().find(|m| m.name == name).cloned();
        for (k, l) in fused.layers.iter().enumerate() {
            let v = mem(&fused, format!("{}.v", l.name)).unwrap();
            let rows = if fused.fused(k) { l.tile_rows().min(schedule::FUSE_BLOCK) } else { l.tile_rows() };
            assert_eq!(v.depth, rows, "{}, {}", c.name, l.name);
            if dense::plane_readers(&fused, k).iter().any(|&r| fused.fused(r)) {
                let pl = dense::Plane::of(l);
                let p = mem(&fused, format!("{}.plane", l.name)).unwrap();
                assert_eq!((p.depth, p.width), (pl.depth(), pl.width() * steps), "{}, {}", c.name, l.name);
                if let Some(q) = mem(&streamed, format!("{}.plane", l.name)) {
                    assert_eq!(q.depth * q.width, p.depth * p.width, "{}, {}: the same bits", c.name, l.name);
                }
            }
        }
        let banked = fused.banks.iter().find(|b| b.kind == "x").unwrap();
        let deepest = (0..fused.layers.len())
            .map(|k| {
                let l = &fused.layers[k];
                if fused.fused(k) { l.tile_rows().min(schedule::FUSE_BLOCK) } else { l.tile_rows() }
            })
            .max()
            .unwrap();
        assert_eq!(banked.depth, deepest, "{}", c.name);
        if (0..fused.layers.len()).any(|k| fused.fused(k)) {
            let sums = mem(&fused, "fused.sums".into()).unwrap();
            assert_eq!(sums.depth, 2 * schedule::FUSE_BLOCK * steps, "{}", c.name);
        }
        let readers = dense::readers(&fused, Source::Input, Mode::Event);
        let gathered = dense::readers(&fused, Source::Input, Mode::Dense);
        if readers.is_empty() && !gathered.is_empty() {
            gathered_inputs += 1;
            assert!(mem(&fused, "input.events".into()).is_none(), "{}", c.name);
            let p = mem(&fused, "input.plane".into()).unwrap();
            let pl = dense::input_plane(&fused, &fused.layers[gathered[0]]);
            let held = if fused.input.per_step { steps } else { 1 };
            let (depth, width) = if fused.fused(gathered[0]) {
                (pl.depth() * fused.input.bits as usize, pl.width() * held)
            } else {
                (pl.depth() * fused.input.bits as usize * held, pl.width())
            };
            assert_eq!((p.depth, p.width), (depth, width), "{}", c.name);
        }
    }
    assert!(gathered_inputs > 0, "some student's input is gathered");
}
