//! The `--from` presets against the frameworks themselves: each fixture in
//! tests/data/frameworks was simulated by its framework (snnTorch, SpikingJelly, Norse,
//! Sinabs); reading its NIR export with the documented dialect must reproduce every spike.

use crate::common;

use common::{cases, compare_reference, root};
use spikefab::ir::Dialect;
use spikefab::ir::dialect::{CubaInput, DialectOverrides, InitialV, Integration, SpikeMode};
use spikefab::ir::{Preset, ResetMode};

#[test]
fn framework_fixtures_reproduce_spike_for_spike() {
    let all = cases(&root().join("tests/data/frameworks/cases.json"));
    assert!(all.len() >= 10);
    let mut failures = vec![];
    for c in &all {
        let r = compare_reference(c, false);
        if r.differing != 0 || r.class_agreement < 1.0 {
            failures.push(format!("{}: {} of {} spikes differ", c.name, r.differing, r.elements));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A fixture whose framework ran with its defaults reproduces with `--from` alone. (Sinabs'
/// preset reads a file as `sinabs.from_nir` does, with the membrane floor its `IF` import
/// restores; tests/framework_importers.rs checks it against that importer. Its fixtures here
/// were trained without a floor: `sinabs_iaf_without_floor_needs_v_min_none`.)
#[test]
fn presets_alone_reproduce_default_configurations() {
    let all = cases(&root().join("tests/data/frameworks/cases.json"));
    let defaults = ["snntorch_subtract", "spikingjelly_hard", "norse_lifbox", "norse_lif"];
    for name in defaults {
        let mut c = all.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("fixture {name}")).clone();
        c.preset_only = true;
        let r = compare_reference(&c, false);
        assert_eq!(
            r.differing,
            0,
            "{name} with --from {} alone: {} spikes differ",
            c.from.as_deref().unwrap(),
            r.differing
        );
    }
}

/// `IAF()` with its default `min_v_mem=None`, read with `--from sinabs`, gets the floor
/// `sinabs.from_nir` restores (-v_threshold), which changes its spikes; `--v-min none` gives
/// the model as trained back.
#[test]
fn sinabs_iaf_without_floor_needs_v_min_none() {
    let all = cases(&root().join("tests/data/frameworks/cases.json"));
    let mut c = all.iter().find(|c| c.name == "sinabs_iaf_multispike").unwrap().clone();
    c.preset_only = true;
    assert!(compare_reference(&c, false).differing > 0, "the preset's floor changes this model's spikes");
    c.preset_only = false;
    assert_eq!(c.v_min, None, "the case states no floor");
    assert_eq!(compare_reference(&c, false).differing, 0);
}

#[test]
fn preset_settings_are_the_documented_ones() {
    let g = spikefab::ir::Graph::default();
    let get = |p| Dialect::resolve(&g, &DialectOverrides { from: Some(p), ..Default::default() }).unwrap();
    let s = get(Preset::Snntorch);
    assert_eq!((s.dt, s.reset, s.fire_on_equal), (Some(1e-4), ResetMode::SubtractUndecayed, false));
    let j = get(Preset::Spikingjelly);
    assert_eq!((j.dt, j.reset, j.fire_on_equal), (Some(1e-4), ResetMode::Zero, true));
    let n = get(Preset::Norse);
    assert_eq!((n.dt, n.reset, n.fire_on_equal), (Some(1e-6), ResetMode::Zero, false));
    assert_eq!((n.switches.cuba_input, n.switches.initial_v), (CubaInput::Unit, InitialV::VLeak));
    let b = get(Preset::Sinabs);
    assert_eq!((b.dt, b.reset, b.fire_on_equal), (Some(1.0), ResetMode::Subtract, true));
    assert_eq!((b.switches.integration, b.switches.spikes), (Integration::Exact, SpikeMode::Multi));
    assert_eq!(b.switches.v_min, spikefab::ir::dialect::VMin::Sinabs);
}

/// Without a preset, a naive reading of a framework file is measurably wrong (the reason the
/// presets exist): snnTorch's subtract-reset fixture read with NIR's hard reset.
#[test]
fn naive_reading_differs() {
    let all = cases(&root().join("tests/data/frameworks/cases.json"));
    let mut c = all.iter().find(|c| c.name == "snntorch_subtract").unwrap().clone();
    c.from = None;
    c.reset = Some("zero".into());
    let r = compare_reference(&c, false);
    assert!(r.differing > 0);
}
