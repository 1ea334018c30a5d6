//! Checks shared by the fuzz targets: what every loader promises (src/front/mod.rs), and
//! validation of what it returns.
#![allow(dead_code)]

use std::collections::HashSet;
use std::path::Path;
use std::sync::OnceLock;

use spikefab::Model;
use spikefab::hw::{Plan, PlanOptions};
use spikefab::ir::dialect::DialectOverrides;
use spikefab::ir::{Graph, Op};
use spikefab::options::Datapath;
use spikefab::quant::InputStats;
use spikefab::target::{ScheduleChoice, Target};

/// A loader's contract: unique node names, parameter tensors as long as their shapes say.
pub fn check_graph(g: &Graph) {
    let mut names = HashSet::new();
    for n in g.g.node_weights() {
        assert!(names.insert(n.name.as_str()), "duplicate node name {:?}", n.name);
        for (field, t) in n.op.params() {
            assert_eq!(t.numel(), t.shape.iter().product::<usize>(), "node {:?} field {field}", n.name);
        }
    }
}

/// Overrides that let most graphs resolve a dialect (NIR stores no dt).
pub fn overrides(timesteps: usize) -> DialectOverrides {
    DialectOverrides { dt: Some(1e-3), timesteps: Some(timesteps), ..Default::default() }
}

/// Checks the contract, then validates; errors must format without panicking.
pub fn load_checked(path: &Path, r: Result<Graph, spikefab::front::FrontError>) -> Option<Model> {
    match r {
        Ok(g) => {
            check_graph(&g);
            match Model::from_graph(path, g, &overrides(4)) {
                Ok(m) => Some(m),
                Err(e) => {
                    let _ = e.to_string();
                    None
                }
            }
        }
        Err(e) => {
            let _ = e.to_string();
            None
        }
    }
}

/// The targets the option bytes choose from: the iCE40s (auto schedule), the generic FPGA and
/// ASIC ones (sequential) and an ECP5 (pipelined).
const TARGETS: &[&str] =
    &["ice40-up5k", "ice40-hx8k", "xc7a35t", "generic-45nm", "ecp5-25k", "ecp5-85k", "ice40-up5k", "ecp5-45k"];

fn targets() -> &'static Vec<Target> {
    static T: OnceLock<Vec<Target>> = OnceLock::new();
    T.get_or_init(|| TARGETS.iter().map(|n| Target::load(n).expect("bundled target")).collect())
}

/// Bounds on the work one input may ask for: neurons per node and in total, parameters, and
/// conv multiply-accumulates per step.
pub fn too_large(m: &Model) -> bool {
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

/// Plan options from 6 bytes, covering what the `compile` flags accept:
/// `c[0]`: T - 1 (bits 0-2), early exit, signed input, integer input, per-step input, input
/// scale given; `c[1]`: target (bits 0-1 and 7), lanes 1 ... 64 or the target's (bits 2-4),
/// schedule: the target's, sequential, pipelined or auto (bits 5-6); `c[2]`: weight and input
/// bits; `c[3]`: fraction and leak bits, the streamed schedule instead (bit 6); `c[4]`: membrane cap (bits 0-6), dense datapath (bit 7);
/// `c[5]`: input range or scale.
pub fn options(c: &[u8; 6]) -> PlanOptions {
    let timesteps = 1 + (c[0] & 7) as usize;
    let target = targets()[((c[1] & 3) | ((c[1] >> 5) & 4)) as usize].clone();
    let mut o = PlanOptions::new(target, timesteps);
    // The CLI accepts lanes 1, 2, 4 ... 64.
    o.settings.lanes = match (c[1] >> 2) & 7 {
        0 => None,
        k => Some(1 << (k - 1)),
    };
    o.settings.weight_bits = 1 + (c[2] & 15) as u32;
    o.settings.input_bits = 1 + (c[2] >> 4) as u32;
    o.settings.frac_bits = (c[3] & 15) as u32 + (c[3] >> 7) as u32; // 0..=16
    o.settings.leak_bits = [16, 2, 8, 24][((c[3] >> 4) & 3) as usize];
    o.settings.membrane_bits = match c[4] & 0x7f {
        0 => None,
        b => Some((b & 63) as u32),
    };
    // Every projection that can gather densely does (docs/hardware.md 4c).
    o.settings.datapath = if c[4] & 0x80 != 0 { Datapath::Dense } else { Datapath::Event };
    o.settings.early_exit = c[0] & 8 != 0;
    // As the CLI does: an early exit turns a pipelined default sequential.
    o.settings.schedule = match (c[1] >> 5) & 3 {
        0 => None,
        1 => Some(ScheduleChoice::Sequential),
        2 => Some(ScheduleChoice::Pipelined),
        _ => Some(ScheduleChoice::Auto),
    };
    if c[3] & 0x40 != 0 {
        o.settings.schedule = Some(ScheduleChoice::Streamed);
    }
    let signed = c[0] & 16 != 0;
    let integers = c[0] & 32 != 0;
    let max = if integers { c[5] as f64 } else { c[5] as f64 / 16.0 };
    o.input_stats =
        Some(InputStats { min: if signed { -max } else { 0.0 }, max, integers, grid: None, per_step: c[0] & 64 != 0 });
    if c[0] & 128 != 0 {
        o.settings.input_scale = Some((1 + c[5] as u32) as f64 / 256.0);
    }
    o
}

/// The plan of an input made of 6 option bytes ([`options`]) and a JSON model: None when the
/// model does not load, is too large ([`too_large`]) or does not lower (errors must format).
/// Also gives a seed made of the option bytes and the text's length.
pub fn planned(data: &[u8]) -> Option<(PlanOptions, Plan, u64)> {
    if data.len() < 6 {
        return None;
    }
    let (c, rest) = data.split_at(6);
    let c: &[u8; 6] = c.try_into().unwrap();
    let text = std::str::from_utf8(rest).ok()?;
    let path = Path::new("fuzz.json");
    let g = spikefab::front::json::from_str(path, text).ok()?;
    check_graph(&g);
    let o = options(c);
    let m = Model::from_graph(path, g, &overrides(o.timesteps)).ok()?;
    if too_large(&m) {
        return None;
    }
    let plan = match spikefab::hw::lower(&m, &o) {
        Ok(p) => p,
        Err(e) => {
            let _ = e.to_string();
            return None;
        }
    };
    let seed = (rest.len() as u64) << 48 ^ u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], 0, 0]);
    Some((o, plan, seed))
}
