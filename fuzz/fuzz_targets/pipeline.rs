//! The whole compile path from spikefab JSON: load -> validate -> plan (`hw::lower`) -> emit
//! Verilog (with testbench) and HLS C++.
//!
//! Input: 6 option bytes, then the JSON text. The options cover what the `compile` flags
//! accept: T in 1..=8, the target, lanes, weight/input/fraction/leak bits, a membrane cap,
//! early exit, and the calibration range or an input scale. Models whose validated sizes are
//! large are skipped before lowering (see `too_large`), so the fuzzer spends its time on
//! structure, not on legitimately big designs.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use spikefab::Model;
use spikefab::back::{hls, verilog};
use spikefab::hw::PlanOptions;
use spikefab::quant::InputStats;
use spikefab::ir::Op;
use spikefab::target::Target;

mod common;

const TARGETS: &[&str] = &["ice40-up5k", "ice40-hx8k", "xc7a35t", "generic-45nm"];

fn targets() -> &'static Vec<Target> {
    static T: OnceLock<Vec<Target>> = OnceLock::new();
    T.get_or_init(|| TARGETS.iter().map(|n| Target::load(n).expect("bundled target")).collect())
}

/// Bounds on the work one input may ask for: neurons per node and in total, parameters, and
/// conv multiply-accumulates per step.
fn too_large(m: &Model) -> bool {
    let g = &m.graph;
    let mut total = 0usize;
    let mut params = 0usize;
    let mut macs = 0usize;
    for ix in g.g.node_indices() {
        let n = m.info.out_numel(ix).max(m.info.in_numel(ix));
        if n > 4096 {
            return true;
        }
        total += n;
        params += g.g[ix].op.param_count();
        if let Op::Conv { weight, .. } = &g.g[ix].op {
            let per_out = weight.numel() / weight.shape.first().copied().unwrap_or(1).max(1);
            macs = macs.saturating_add(m.info.out_numel(ix).saturating_mul(per_out));
        }
    }
    total > 16384 || params > 1 << 16 || macs > 1 << 20
}

fn options(c: &[u8; 6]) -> PlanOptions {
    let timesteps = 1 + (c[0] & 7) as usize;
    let target = targets()[(c[1] & 3) as usize].clone();
    let mut o = PlanOptions::new(target, timesteps);
    // The CLI accepts lanes 1, 2, 4 ... 64.
    o.lanes = match (c[1] >> 2) & 7 {
        0 => None,
        k => Some(1 << (k - 1)),
    };
    o.weight_bits = 1 + (c[2] & 15) as u32;
    o.input_bits = 1 + (c[2] >> 4) as u32;
    o.frac_bits = (c[3] & 15) as u32 + (c[3] >> 7) as u32; // 0..=16
    o.leak_bits = [16, 2, 8, 24][((c[3] >> 4) & 3) as usize];
    o.membrane_bits = match c[4] {
        0 => None,
        b => Some((b & 63) as u32),
    };
    o.early_exit = c[0] & 8 != 0;
    let signed = c[0] & 16 != 0;
    let integers = c[0] & 32 != 0;
    let max = if integers { c[5] as f64 } else { c[5] as f64 / 16.0 };
    o.input_stats =
        Some(InputStats { min: if signed { -max } else { 0.0 }, max, integers, grid: None, per_step: c[0] & 64 != 0 });
    if c[0] & 128 != 0 {
        o.input_scale = Some((1 + c[5] as u32) as f64 / 256.0);
    }
    o
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 6 {
        return;
    }
    let (c, rest) = data.split_at(6);
    let c: &[u8; 6] = c.try_into().unwrap();
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let path = Path::new("fuzz.json");
    let g = match spikefab::front::json::from_str(path, text) {
        Ok(g) => g,
        Err(_) => return,
    };
    common::check_graph(&g);
    let o = options(c);
    let m = match Model::from_graph(path, g, &common::overrides(o.timesteps)) {
        Ok(m) => m,
        Err(_) => return,
    };
    if too_large(&m) {
        return;
    }
    let plan = match spikefab::hw::lower(&m, &o) {
        Ok(p) => p,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    if let Err(e) = verilog::emit(&plan, Some((2, 10_000))) {
        let _ = e.to_string();
    }
    if let Err(e) = hls::emit(&plan, o.target.hls_part()) {
        let _ = e.to_string();
    }
});
