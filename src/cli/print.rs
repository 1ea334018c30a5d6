//! The printers commands share: what `merge` prints for sharded parts is exactly what the
//! unsharded command prints, so both call these.

use serde_json::json;
use spikefab::driver::{Comparison, EarlyExit, Explored, PlanCheck, config_label, students_label};
use spikefab::dse as select;
use spikefab::energy::Estimate;
use spikefab::energy::neurobench::Counts;
use spikefab::flow::cosim::SpeedComparison;
use spikefab::hw::{MemMap, Plan};
use spikefab::passes::PassRecord;

use super::part::BenchPart;

/// Prints what the passes changed.
pub fn print_records(records: &[PassRecord]) {
    for r in records {
        if r.changes.is_empty() {
            println!("pass {}: no change", r.pass);
            continue;
        }
        println!("pass {}: nodes {} -> {}, parameters {} -> {}", r.pass, r.nodes.0, r.nodes.1, r.params.0, r.params.1);
        for c in &r.changes {
            println!("  {c}");
        }
    }
}

/// Where a memory lives, for the listing.
fn map_text(m: &MemMap) -> String {
    match m {
        MemMap::Registers => "registers".to_string(),
        MemMap::BlockRam { blocks, mode } => format!("{blocks} block RAM ({}x{})", mode[0], mode[1]),
        MemMap::LargeRam { blocks, .. } => format!("{blocks} large RAM"),
        MemMap::Sram => "SRAM".to_string(),
        MemMap::External { addr, words, slices: 1, .. } => format!("external memory, words {addr}..{}", addr + words),
        MemMap::External { addr, words, slices, stride, .. } => {
            format!("external memory, {slices} tiles of {words} words from {addr}, every {stride}")
        }
    }
}

pub fn print_plan(p: &Plan) {
    use spikefab::hw::dense::{Mode, ModeFigures};
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
    if let Some(why) = &s.datapath_note {
        println!("datapath: {why}");
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
    let any_dense = s.layers.iter().flat_map(|l| &l.projections).any(|p| p.mode == Mode::Dense);
    for l in &s.layers {
        println!(
            "layer '{}' ({:?}): shape {:?}, {} lanes x {} rows{}; V {} bits{}{}{}; leak {}; threshold {}{}{}; unit {}",
            l.name,
            l.kind,
            l.shape,
            l.lanes,
            l.rows,
            l.tiles.map(|n| format!(" in {n} tiles of {} rows", l.rows / n)).unwrap_or_default(),
            l.v_bits,
            if l.s_bits > 0 { format!(", S {} bits", l.s_bits) } else { String::new() },
            if l.y_bits > 0 { format!(", Y {} bits", l.y_bits) } else { String::new() },
            if l.saturate { " (saturating)" } else { "" },
            l.leak,
            l.threshold,
            l.floor.as_ref().map(|f| format!("; floor {f}")).unwrap_or_default(),
            l.counts
                .map(|(n, b)| format!("; multi-spike, up to {n} spikes per neuron and step ({b}-bit counts)"))
                .unwrap_or_default(),
            l.unit
        );
        if l.fused {
            println!("  fused: its rows run the {} steps side by side (--fuse-steps)", s.timesteps);
        } else if let Some(why) = &l.unfused {
            println!("  not fused: {why}");
        }
        for pr in &l.projections {
            let mode = match pr.mode {
                Mode::Dense => "dense".to_string(),
                Mode::Event => format!(
                    "{} beats/event",
                    if pr.beats_per_event_min == pr.beats_per_event {
                        pr.beats_per_event.to_string()
                    } else {
                        format!("{}-{}", pr.beats_per_event_min, pr.beats_per_event)
                    }
                ),
            };
            println!(
                "  <- {} : {} {}, << {}, {mode}{}{}",
                pr.from,
                pr.kind,
                pr.weights,
                pr.shift,
                if pr.target == spikefab::quant::AccTarget::Static { ", static (step 0 only)" } else { "" },
                if pr.delayed { ", previous step" } else { "" }
            );
            // Under a dense or automatic datapath, why a projection stays event-driven.
            if let (Some(why), true) = (&pr.dense_refused, s.datapath_note.is_some() || any_dense) {
                println!("     event-driven: {why}");
            }
            if let Some(c) = &pr.choice {
                let f = |m: &ModeFigures| format!("{} reads, {:.0} cycles, {}", m.reads, m.cycles, fmt_j(m.energy_j));
                println!(
                    "     event: {}; dense: {} (per inference, the plan's cycles and energy)",
                    f(&c.event),
                    f(&c.dense)
                );
            }
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
        if p.schedule == spikefab::hw::Schedule::Streamed {
            println!(
                "  (layer-major: every layer's state from row 0, zero after its last step; an event list or spike plane reuses the words of ones no longer read)"
            );
        }
        for b in shared {
            let names: Vec<&str> = b.layers.iter().map(|&k| p.layers[k].name.as_str()).collect();
            let map = map_text(&b.map);
            let what = match b.kind.as_str() {
                "x" => "membranes",
                "s" => "static sums",
                "y" => "synaptic currents",
                "plane" => "spike planes",
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

/// Prints a plan's check as text (also what `merge` prints for sharded parts).
pub fn print_plan_check(c: &PlanCheck) {
    let v = c.verification();
    println!("samples: {}, timesteps: {}", v.samples, c.steps);
    if let Some(names) = c.base["active_students"].as_array() {
        let names: Vec<&str> = names.iter().filter_map(|n| n.as_str()).collect();
        let reference = match c.cascade {
            Some(_) => "the cascade runs them; the reference runs the model pruned to each prefix of its order",
            None => "the reference runs the model pruned to them",
        };
        println!("students at run time: {} ({reference})", names.join(", "));
    }
    for l in &c.layer_lines {
        println!("{l}");
    }
    println!(
        "{} agreement: {:.4} ({} differ)",
        if c.spikes { "spike" } else { "output" },
        v.output_agreement,
        v.output_elements_differing,
    );
    println!("class agreement: {:.4}", v.class_agreement);
    if let (Some(ra), Some(ca)) = (v.reference_accuracy, v.cycle_accuracy) {
        println!("accuracy: reference {ra:.4}, cycle engine {ca:.4}");
    }
    println!(
        "cycles per inference: mean {:.1}, min {}, max {}; latency {:.1} us at {} MHz",
        v.cycles_mean, v.cycles_min, v.cycles_max, v.latency_us_mean, c.clock_mhz
    );
    if v.saturations > 0 {
        println!("saturated writes: {}", v.saturations);
    }
    if let Some(e) = c.exit() {
        print_early_exit(&e, c.steps);
    }
    if let Some(k) = &c.cascade {
        let n = k.samples.max(1) as f64;
        let order: Vec<&str> =
            c.base["cascade"]["order"].as_array().into_iter().flatten().filter_map(|v| v.as_str()).collect();
        println!(
            "cascade: margin {}, order {}; {:.2} stages per inference (the reference {:.2}), same stage on {:.4} of the inputs",
            c.base["cascade"]["margin"],
            order.join(","),
            k.stages as f64 / n,
            k.reference_stages as f64 / n,
            k.same_stage as f64 / n,
        );
        println!(
            "earlier stages against the reference's prefixes: {} of {} output values differ",
            k.stage_differing, k.stage_compared
        );
    }
}

pub fn print_early_exit(e: &EarlyExit, steps: usize) {
    println!(
        "early exit: {:.2} of {steps} steps on average, {:.1} cycles vs {:.1} without ({:.1}% saved), {} classes changed",
        e.mean_steps,
        e.cycles,
        e.cycles_full,
        100.0 * (1.0 - e.cycles / e.cycles_full.max(1.0)),
        e.changed
    );
}

/// `1.23 uJ`-style formatting.
pub fn fmt_j(j: f64) -> String {
    let a = j.abs();
    let (v, u) = if a >= 1e-3 {
        (j * 1e3, "mJ")
    } else if a >= 1e-6 {
        (j * 1e6, "uJ")
    } else if a >= 1e-9 {
        (j * 1e9, "nJ")
    } else {
        (j * 1e12, "pJ")
    };
    format!("{v:.3} {u}")
}

/// Prints one estimate as text.
pub fn print_estimate(e: &Estimate) {
    println!("energy on {} ({}), {} inputs:", e.target, e.kind, e.samples);
    println!(
        "  energy per inference: {} (min {}, max {}, std {})",
        fmt_j(e.energy_per_inference_j),
        fmt_j(e.energy_min_j),
        fmt_j(e.energy_max_j),
        fmt_j(e.energy_std_j)
    );
    if let Some(l) = e.latency_s {
        println!("  latency: {:.1} us ({:.1} cycles)", l * 1e6, e.cycles);
    }
    if let Some(s) = &e.schedule {
        println!("  schedule: {s}");
    }
    if let Some(b) = &e.basis {
        println!("  basis: {b}");
    }
    for why in &e.exceeds_device {
        println!("  warning: does not fit the device: {why}");
    }
    if let Some(l) = &e.logic {
        println!("  logic: {}", l.line());
        if let Some(why) = l.misfit() {
            println!("  warning: an estimate of a design predicted not to fit the device: {why}");
        }
    }
    let total = e.energy_per_inference_j.max(f64::MIN_POSITIVE);
    let parts: Vec<String> = e
        .components
        .iter()
        .filter(|c| c.joules > 0.0)
        .map(|c| format!("{} {} ({:.1}%)", c.name, fmt_j(c.joules), 100.0 * c.joules / total))
        .collect();
    println!("  components: {}", parts.join(", "));
    println!("  per layer:");
    for l in &e.layers {
        println!(
            "    {:<18} {:>12.0} synaptic ops {:>10.0} neuron updates {:>8.0} spikes  {}",
            l.name,
            l.synaptic_ops,
            l.neuron_updates,
            l.spikes,
            fmt_j(l.total_j)
        );
    }
    println!(
        "  conventional network (same topology, once): {} MACs, {} adds: fp32 {}, int8 {};",
        e.ann.macs,
        e.ann.adds,
        fmt_j(e.ann.fp32_j),
        fmt_j(e.ann.int8_j),
    );
    println!(
        "    against the SNN's operation energy {} (without static and clock): fp32 ANN / SNN = {:.2}x, int8 ANN / SNN = {:.2}x",
        fmt_j(e.operations_j),
        e.ann_fp32_over_snn,
        e.ann_int8_over_snn
    );
}

/// Prints NeuroBench-compatible counts as text.
pub fn print_counts(c: &Counts) {
    println!(
        "  NeuroBench counts (reference engine, per sample): effective ACs {:.1}, effective MACs {:.1}, dense ops {:.0}, \
         membrane updates {:.1}, activation sparsity {:.4}, footprint {} bytes",
        c.effective_acs, c.effective_macs, c.dense_ops, c.membrane_updates, c.activation_sparsity, c.footprint_bytes
    );
}

fn pct(x: f64) -> String {
    format!("{:.2}%", 100.0 * x)
}

/// What `explore` and `merge` print of an exploration: JSON, or the text (every configuration
/// with `all`), and its JSON written to `out` when given.
pub fn exploration_out(
    e: &Explored,
    out: Option<&std::path::Path>,
    json_out: bool,
    all: bool,
) -> Result<(), super::failure::Failure> {
    let doc = e.json();
    if let Some(p) = out {
        std::fs::write(p, serde_json::to_string_pretty(&doc).expect("json") + "\n")
            .map_err(|e| super::failure::Failure::io(anyhow::anyhow!("{}: cannot write: {e}", p.display())))?;
    }
    if json_out {
        println!("{}", serde_json::to_string_pretty(&doc).expect("json"));
        return Ok(());
    }
    print_exploration(e, all);
    if let Some(p) = out {
        println!("wrote {}", p.display());
    }
    Ok(())
}

/// Prints an exploration as text: the K sweep of an ensemble, then the Pareto front (or every
/// configuration with `all`).
pub fn print_exploration(e: &Explored, all: bool) {
    let x = &e.exploration;
    println!(
        "explored {} configurations of {} on {} calibration inputs ({} target) in {:.2} s; ranked by {}",
        x.configurations.len(),
        e.model,
        x.samples,
        e.target,
        e.seconds,
        x.metric
    );
    if let Some(e) = &x.ensemble {
        println!(
            "\nensemble at '{}': {} students; best K against SNE's random K (mean over {} subsets), T = {}:",
            e.merge,
            e.students.len(),
            if e.students.len() <= select::EXHAUSTIVE_MAX { "all" } else { "32 sampled" },
            x.timesteps
        );
        println!(
            "  {:>2}  {:<24} {:>9}  {:>12}  {:>10}  {:>12}  {:>12}",
            "K", "best students", x.metric, "random mean", "random min", "energy best", "energy rand."
        );
        for r in &x.k_sweep {
            println!(
                "  {:>2}  {:<24} {:>9}  {:>12}  {:>10}  {:>10.1} nJ  {:>10.1} nJ",
                r.k,
                students_label(x, &r.best),
                pct(r.best.metric()),
                pct(r.random_mean),
                pct(r.random_min),
                r.best.energy_j * 1e9,
                r.random_energy_j * 1e9
            );
        }
    }
    println!(
        "\n{}:",
        if all {
            "every configuration (* = on the Pareto front)"
        } else {
            "Pareto front (accuracy, energy and latency)"
        }
    );
    println!(
        "  {:<30} {:>9} {:>9} {:>12} {:>10} {:>11} {:>6} {:>6} {:>10} {:>8}",
        "configuration", x.metric, "agreement", "energy/inf", "cycles", "latency", "steps", "BRAM", "schedule", "logic"
    );
    for (s, &p) in x.configurations.iter().zip(&x.pareto) {
        if !all && !p {
            continue;
        }
        // Predicted logic cells, `!` beyond the device's.
        let logic = s.logic_cells.map_or("-".into(), |c| format!("{c}{}", if s.logic_misfit { "!" } else { "" }));
        println!(
            "{} {:<30} {:>9} {:>9} {:>9.1} nJ {:>10.0} {:>11} {:>6.2} {:>6} {:>10} {:>8}",
            if p { "*" } else { " " },
            config_label(x, s),
            pct(s.metric()),
            pct(s.agreement),
            s.energy_j * 1e9,
            s.cycles,
            s.latency_s.map(|l| format!("{:.1} us", l * 1e6)).unwrap_or_else(|| "-".into()),
            s.mean_steps,
            s.block_rams,
            s.schedule.name(),
            logic
        );
    }
    if x.configurations.iter().any(|s| s.logic_misfit) {
        println!("  logic: predicted logic cells after packing; ! = a design predicted not to fit the device");
    }
}

/// Prints what `bench` measured as text or JSON.
pub fn print_bench(p: &BenchPart, json_out: bool) {
    let n = p.samples as f64;
    let (t_cycle, events) = (p.cycle_seconds, p.synaptic_events);
    let mut report = json!({
        "model": p.model,
        "samples": p.samples,
        "timesteps": p.timesteps,
        "threads": p.threads,
        "cycle_engine": {
            "seconds": t_cycle,
            "samples_per_s": n / t_cycle,
            "synaptic_events_per_sample": events as f64 / n,
            "synaptic_events_per_s": events as f64 / t_cycle,
            "cycles_per_inference_mean": p.cycles as f64 / n,
        },
    });
    if let Some(c) = p.cycle_cpu_seconds {
        report["cycle_engine"]["cpu_seconds"] = json!(c);
        report["cycle_engine"]["samples_per_cpu_s"] = json!(n / c);
    }
    if let Some(t_ref) = p.reference_seconds {
        report["reference_engine"] = json!({"seconds": t_ref, "samples_per_s": n / t_ref});
        if let Some(c) = p.reference_cpu_seconds {
            report["reference_engine"]["cpu_seconds"] = json!(c);
            report["reference_engine"]["samples_per_cpu_s"] = json!(n / c);
        }
        report["cycle_over_reference"] = json!(t_ref / t_cycle);
    }
    let steps = p.timesteps;
    if json_out {
        println!("{}", serde_json::to_string_pretty(&report).expect("json"));
    } else {
        let ce = &report["cycle_engine"];
        println!(
            "{}: {} samples, T = {steps}, {} thread(s)",
            report["model"].as_str().unwrap_or(""),
            p.samples,
            p.threads
        );
        let cpu = |v: &serde_json::Value| match v["samples_per_cpu_s"].as_f64() {
            Some(c) => format!("  {c:>10.1} samples/CPU-s"),
            None => String::new(),
        };
        println!(
            "  cycle engine:     {:>10.1} samples/s{}  {:>8.3e} synaptic events/s  ({:.0} events and {:.0} cycles per inference)",
            ce["samples_per_s"].as_f64().unwrap_or(0.0),
            cpu(ce),
            ce["synaptic_events_per_s"].as_f64().unwrap_or(0.0),
            ce["synaptic_events_per_sample"].as_f64().unwrap_or(0.0),
            ce["cycles_per_inference_mean"].as_f64().unwrap_or(0.0),
        );
        if let Some(r) = report.get("reference_engine") {
            println!(
                "  reference engine: {:>10.1} samples/s{}   (cycle engine {:.2}x the reference)",
                r["samples_per_s"].as_f64().unwrap_or(0.0),
                cpu(r),
                report["cycle_over_reference"].as_f64().unwrap_or(0.0)
            );
        }
    }
}

/// `speed: engine (1 thread) 35517 samples/s (171.7 M cycles/s; repeats: median 36210, best
/// 38002) vs verilator 202.3 samples/s (978.1 k cycles/s, build not counted): 176x`.
pub fn speed_line(c: &SpeedComparison) -> String {
    format!(
        "speed: engine (1 thread) {:.0} samples/s ({} cycles/s; repeats: median {:.0}, best {:.0}) vs {} {:.1} samples/s ({} cycles/s, build not counted): {:.0}x",
        c.engine.samples_per_s,
        si(c.engine.cycles_per_s),
        c.engine_repeat_median_samples_per_s,
        c.engine_repeat_best_samples_per_s,
        c.simulator.tool(),
        c.rtl.samples_per_s,
        si(c.rtl.cycles_per_s),
        c.engine_over_rtl
    )
}

/// `171.7 M`, `1.3 k`, `950`.
fn si(x: f64) -> String {
    if x >= 1e9 {
        format!("{:.1} G", x / 1e9)
    } else if x >= 1e6 {
        format!("{:.1} M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1} k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

/// The placement seeds a bitstream build tried, when it tried more than one.
pub fn print_seeds(s: &spikefab::flow::Seeds) {
    if s.tried.len() > 1 {
        let each: Vec<String> =
            s.tried.iter().map(|(k, f)| format!("{k}: {}", f.map_or("?".into(), |f| format!("{f:.2}")))).collect();
        println!("  placement: seed {} kept of {} tried (MHz by seed: {})", s.kept, s.tried.len(), each.join(", "));
    }
}

/// Prints a comparison of targets as JSON, or as a table with each figure's source below it.
pub fn print_comparison(c: &Comparison, json_out: bool) {
    if json_out {
        println!("{}", serde_json::to_string_pretty(&c.json()).expect("json"));
        return;
    }
    println!(
        "{} on {} inputs, T = {}{}{}:",
        c.model,
        c.samples,
        c.timesteps,
        c.reference_accuracy.map(|a| format!("; the float model's accuracy {}", pct(a))).unwrap_or_default(),
        if c.active_students.is_empty() {
            String::new()
        } else {
            format!("; students at run time: {}", c.active_students.join(", "))
        }
    );
    if let Some(m) = c.cascade {
        println!("  (the FPGA designs run the students as a cascade stopping at output margin {m})");
    }
    println!(
        "  {:<14} {:<13} {:<5} {:>9} {:>9} {:>12} {:>12}  resources",
        "target", "kind", "fits", "accuracy", "agreement", "latency", "energy/inf"
    );
    let opt = |v: Option<f64>| v.map_or_else(|| "-".to_string(), pct);
    for r in &c.rows {
        let res: Vec<String> = r
            .resources
            .iter()
            .map(|x| match x.available {
                Some(a) => format!("{} {}/{a}", x.name, x.used),
                None => format!("{} {}", x.name, x.used),
            })
            .collect();
        println!(
            "  {:<14} {:<13} {:<5} {:>9} {:>9} {:>12} {:>12}  {}",
            r.target,
            r.kind,
            if r.fits { "yes" } else { "no" },
            opt(r.accuracy),
            opt(r.agreement),
            r.latency_us.as_ref().map_or_else(|| "-".to_string(), |l| format!("{:.1} us", l.value)),
            r.energy_j.as_ref().map_or_else(|| "-".to_string(), |e| fmt_j(e.value)),
            res.join(", ")
        );
    }
    println!("why not, sources and notes:");
    for r in &c.rows {
        for w in &r.why_not {
            println!("  {}: does not fit: {w}", r.target);
        }
        if let Some(l) = &r.latency_us {
            println!("  {}: latency: {}", r.target, l.source);
        }
        if let Some(e) = &r.energy_j
            && !e.source.is_empty()
        {
            println!("  {}: energy: {}", r.target, e.source);
        }
        for n in &r.notes {
            println!("  {}: note: {n}", r.target);
        }
    }
}
