//! Energy per inference: every example student on every bundled target, the model's
//! equations recomputed independently from the cycle engine's counters, the JSON fields the
//! issue names, and the HTML report rendered by headless Chromium.

use crate::common;

use common::{plan_for, scratch, spikefab, students, tool_or_skip};
use serde_json::Value;
use spikefab::energy;
use spikefab::hw::PlanOptions;
use spikefab::sim::cycle;
use spikefab::target::{BUNDLED, Target};

fn rel_eq(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-30)
}

#[test]
fn every_student_on_every_target() {
    for (c, _) in students() {
        let (m, _, batch) = plan_for(&c, None);
        for (name, _) in BUNDLED {
            let t = Target::load(name).unwrap();
            // Xylo's energy comes from its own chip model (tests/xylo.rs), not an FPGA plan.
            if t.family == spikefab::target::Family::Xylo {
                continue;
            }
            let mut o = PlanOptions::new(t.clone(), c.timesteps);
            o.input_stats = Some(spikefab::quant::InputStats::of(&batch));
            let plan = spikefab::hw::lower(&m, &o).unwrap_or_else(|e| panic!("{} on {name}: {e}", c.name));
            let run = cycle::run(&plan, &batch, c.timesteps);
            let e = energy::estimate(&plan, &t, &run);
            let tag = format!("{} on {name}", c.name);
            assert!(e.energy_per_inference_j.is_finite() && e.energy_per_inference_j > 0.0, "{tag}: {e:?}");
            assert!(e.energy_min_j <= e.energy_per_inference_j && e.energy_per_inference_j <= e.energy_max_j, "{tag}");
            let parts: f64 = e.components.iter().map(|c| c.joules).sum();
            assert!(
                rel_eq(parts, e.energy_per_inference_j),
                "{tag}: components {parts} vs {}",
                e.energy_per_inference_j
            );
            let layers: f64 = e.layers.iter().map(|l| l.total_j).sum();
            let unassigned_mem: f64 = e
                .memories
                .iter()
                .filter(|m| !plan.memories.iter().any(|pm| pm.name == m.name && pm.layer.is_some()))
                .map(|m| m.joules)
                .sum();
            let get = |n: &str| e.components.iter().find(|c| c.name == n).unwrap().joules;
            assert!(
                rel_eq(layers + unassigned_mem + get("static") + get("clock"), e.energy_per_inference_j),
                "{tag}: layers do not add up"
            );
            // Independent recomputation of the target-level terms from the counters.
            let n = run.samples.len() as f64;
            let cycles = run.samples.iter().map(|s| s.counters.cycles as f64).sum::<f64>() / n;
            assert!(rel_eq(cycles, e.cycles), "{tag}: cycles");
            let mean = |f: &dyn Fn(&cycle::LayerCounters) -> u64| -> f64 {
                run.samples.iter().map(|s| s.counters.layers.iter().map(f).sum::<u64>() as f64).sum::<f64>() / n
            };
            if t.kind == spikefab::target::Kind::Neuromorphic {
                let want = mean(&|l| l.synaptic_ops) * t.energy.synop_j.unwrap()
                    + mean(&|l| l.neuron_updates) * t.energy.neuron_update_j.unwrap()
                    + mean(&|l| l.spikes) * t.energy.spike_out_j.unwrap();
                assert!(rel_eq(want, e.energy_per_inference_j), "{tag}: {want} vs {}", e.energy_per_inference_j);
                assert!(e.latency_s.is_none(), "{tag}: a neuromorphic target has no cycle model");
            } else {
                let lat = cycles / (plan.clock_mhz * 1e6);
                assert!(rel_eq(e.latency_s.unwrap(), lat), "{tag}: latency");
                assert!(rel_eq(get("clock"), cycles * t.energy.energy_per_cycle_j), "{tag}: clock energy");
                assert!(rel_eq(get("static"), lat * t.energy.static_w), "{tag}: static energy");
                assert!(get("memory") > 0.0 && get("synaptic") > 0.0 && get("neuron") > 0.0, "{tag}: {e:?}");
            }
            // The ANN baseline: one MAC per weight of the same topology.
            let ann = &e.ann;
            assert!(ann.macs > 0 && ann.fp32_j > ann.int8_j && ann.int8_j > 0.0, "{tag}: {ann:?}");
            assert!(rel_eq(e.ann_fp32_over_snn, ann.fp32_j / e.operations_j), "{tag}: ratio");
            println!(
                "{tag}: {:.4e} J per inference, ANN fp32 / SNN {:.2}x, {:.0} cycles",
                e.energy_per_inference_j, e.ann_fp32_over_snn, e.cycles
            );
        }
    }
}

#[test]
fn an_input_without_events_costs_less() {
    // Fewer events must never cost more: a blank input against the mean.
    let (c, _) = students().into_iter().find(|(c, _)| c.name == "mlp_bw").unwrap();
    let (_, plan, mut batch) = plan_for(&c, None);
    let t = Target::load("ice40-up5k").unwrap();
    let full = energy::estimate(&plan, &t, &cycle::run(&plan, &batch, c.timesteps));
    batch.data.iter_mut().for_each(|v| *v = 0.0);
    let blank = energy::estimate(&plan, &t, &cycle::run(&plan, &batch, c.timesteps));
    assert!(
        blank.energy_per_inference_j < full.energy_min_j,
        "{} vs {}",
        blank.energy_per_inference_j,
        full.energy_min_j
    );
}

#[test]
fn energy_json_names_the_fields_and_the_report_renders() {
    let dir = scratch("energy_report");
    let html = dir.join("report.html");
    let (code, out, err) = spikefab(&[
        "energy",
        "models/mlp_bw/mlp_bw.nir",
        "--from",
        "snntorch",
        "--timesteps",
        "8",
        "--inputs",
        "models/digits_test_x.npy",
        "--labels",
        "models/digits_test_y.npy",
        "--compare",
        "loihi,truenorth,generic-45nm",
        "--report",
        html.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let e = v["energy_per_inference_j"].as_f64().unwrap();
    assert!(e > 0.0 && e.is_finite());
    let counts = &v["counts"];
    for k in ["effective_acs", "effective_macs", "dense_ops", "membrane_updates", "activation_sparsity"] {
        assert!(counts[k].is_number(), "counts.{k} missing: {counts}");
    }
    let layers = counts["layers"].as_array().unwrap();
    assert!(layers.iter().any(|l| l["effective_acs"].is_number() && l["dense_ops"].is_number()));
    assert!(layers.iter().any(|l| l["membrane_updates"].is_number() && l["activation_sparsity"].is_number()));
    assert_eq!(v["compare"].as_array().unwrap().len(), 3);
    assert!(v["accuracy"].as_f64().unwrap() > 0.9);

    // Self-contained: inline SVG, no scripts, no external resources.
    let text = std::fs::read_to_string(&html).unwrap();
    let svgs = text.matches("<svg").count();
    assert!(svgs >= 7, "expected the charts and a raster per layer, found {svgs} SVGs");
    for bad in ["<script", "<link", " src=", "url(http"] {
        assert!(!text.contains(bad), "report is not self-contained: contains {bad}");
    }
    for heading in ["Energy per inference", "Per layer", "Across targets", "NeuroBench counts", "Spike raster"] {
        assert!(text.contains(heading), "report lacks '{heading}'");
    }

    if !tool_or_skip("chromium", "energy_json_names_the_fields_and_the_report_renders (browser check)") {
        return;
    }
    let url = format!("file://{}", html.canonicalize().unwrap().display());
    let headless = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"];
    let dom = std::process::Command::new("chromium").args(headless).arg("--dump-dom").arg(&url).output().unwrap();
    assert!(dom.status.success(), "chromium --dump-dom failed: {}", String::from_utf8_lossy(&dom.stderr));
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert_eq!(dom.matches("<svg").count(), svgs, "the browser's DOM holds every chart");
    assert!(dom.contains("spikefab report"), "rendered DOM lacks the title");
    let png = dir.join("report.png");
    let shot = std::process::Command::new("chromium")
        .args(headless)
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1200,3000")
        .arg(&url)
        .output()
        .unwrap();
    assert!(shot.status.success(), "chromium --screenshot failed: {}", String::from_utf8_lossy(&shot.stderr));
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG"), "screenshot is not a PNG");
    // A blank page compresses to a few kB; charts and tables do not.
    assert!(bytes.len() > 40_000, "screenshot of {} bytes looks blank", bytes.len());
    println!("report rendered by chromium: {svgs} SVG charts, screenshot {} bytes at {}", bytes.len(), png.display());
}
