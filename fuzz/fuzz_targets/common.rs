//! The fuzz targets' bodies, one function per target (each file beside this one hands its
//! input to one of them), and the checks they share: what every loader promises
//! (src/front/mod.rs), and validation of what it returns. The test suite compiles this file
//! too and runs every body on the repository's own files (tests/broken_inputs.rs), so the
//! bodies cannot go stale against the library without a failing `cargo test`.
#![allow(dead_code)]

use std::collections::HashSet;
use std::path::Path;
use std::sync::OnceLock;

use spikefab::Model;
use spikefab::back::{hls, verilog};
use spikefab::data::{Array, Encoding, InputBatch, read_npy_bytes};
use spikefab::hw::dense::{self, Mode};
use spikefab::hw::{Plan, PlanOptions};
use spikefab::ir::dialect::DialectOverrides;
use spikefab::ir::{Graph, Op};
use spikefab::options::Datapath;
use spikefab::quant::InputStats;
use spikefab::sim::cycle::{self, Simd, Tracer};
use spikefab::target::{ScheduleChoice, Target};

/// Target `nir`: NIR (HDF5) bytes -> `front::nir::from_bytes` -> validate.
pub fn nir(data: &[u8]) {
    let path = Path::new("fuzz.nir");
    load_checked(path, spikefab::front::nir::from_bytes(path, data.to_vec()));
}

/// Target `onnx`: ONNX bytes -> `front::onnx::from_bytes` -> validate. The model's folder does
/// not exist, so external data references fail cleanly instead of reading this machine's files.
pub fn onnx(data: &[u8]) {
    let path = Path::new("/nonexistent-spikefab-fuzz/fuzz.onnx");
    load_checked(path, spikefab::front::onnx::from_bytes(path, data));
}

/// Target `json`: spikefab JSON text -> `front::json::from_str` -> validate.
pub fn json(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let path = Path::new("fuzz.json");
    load_checked(path, spikefab::front::json::from_str(path, text));
}

/// Target `npy`: .npy bytes -> `data::read_npy_bytes` -> an input batch for a model input of
/// the array's own trailing shape, a flat one and a fixed one, read back sample by sample.
pub fn npy(data: &[u8]) {
    let path = Path::new("fuzz.npy");
    let a = match read_npy_bytes(path, data) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    assert_eq!(a.data.len(), a.shape.iter().product::<usize>());
    if a.shape.len() >= 2 {
        npy_batch(path, &a, &a.shape[1..]);
        npy_batch(path, &a, &[a.shape[1..].iter().product()]);
    }
    if a.shape.len() >= 3 {
        npy_batch(path, &a, &a.shape[2..]);
    }
    npy_batch(path, &a, &[64]);
}

fn npy_batch(path: &Path, a: &Array, shape: &[usize]) {
    let b = match InputBatch::from_array(path, Array { shape: a.shape.clone(), data: a.data.clone() }, shape) {
        Ok(b) => b,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let _ = spikefab::quant::InputStats::of(&b);
    for req in [None, Some(1), Some(3)] {
        if let Ok(steps) = b.steps(req) {
            for i in [0, b.n - 1] {
                for t in [0, steps.saturating_sub(1)] {
                    assert_eq!(b.at(i, t).len(), b.numel);
                }
            }
        }
    }
    let _ = b.take(2);
}

/// Target `pipeline`: the whole compile path from spikefab JSON: load -> validate -> plan
/// (`hw::lower`) -> emit Verilog (with testbench) and HLS C++.
///
/// Input: 6 option bytes, then the JSON text. The options cover what the `compile` flags
/// accept ([`options`]): T in 1..=8, the target, lanes, the schedule, weight/input/fraction/leak
/// bits, a membrane cap, early exit, and the calibration range or an input scale. Models whose
/// validated sizes are large are skipped before lowering ([`too_large`]), so the fuzzer spends
/// its time on structure, not on legitimately big designs.
pub fn pipeline(data: &[u8]) {
    let Some((o, plan, _)) = planned(data) else { return };
    if let Err(e) = verilog::emit(&plan, Some((2, 10_000))) {
        let _ = e.to_string();
    }
    if let Err(e) = hls::emit(&plan, o.target.hls_part()) {
        let _ = e.to_string();
    }
}

struct Quiet;

impl Tracer for Quiet {
    fn neuron(&mut self, _: u64, _: usize, _: usize, _: i64, _: bool) {}
    fn step(&mut self, _: u64, _: usize) {}
}

/// Three samples in the options' input range, about half of the values zero (events are
/// the non-zero values).
fn engine_batch(o: &PlanOptions, numel: usize, seed: u64) -> InputBatch {
    let s = o.input_stats.expect("options give stats");
    let steps = if s.per_step { o.timesteps } else { 1 };
    let n = 3;
    let mut x = seed | 1;
    let data = (0..n * steps * numel)
        .map(|_| {
            // xorshift64*
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            let r = x.wrapping_mul(0x2545_f491_4f6c_dd1d);
            if r & 1 == 0 {
                return 0.0;
            }
            let u = (r >> 11) as f64 / (1u64 << 53) as f64;
            let v = s.min + (s.max - s.min) * u;
            if s.integers { v.round() } else { v }
        })
        .collect();
    let encoding = if s.per_step { Encoding::PerStep(steps) } else { Encoding::Direct };
    InputBatch { n, numel, encoding, data }
}

/// Target `engine`: the cycle engine against itself. Its fast path (several samples per pass,
/// packed and column kernels, vector widths) and its general path (every event scattered in the
/// RTL's order) must give the same outputs, step ends and counters on any plan, as
/// tests/cycle_engine.rs checks on the corpus. Co-simulation compares the RTL with the fast
/// path, so a difference here is a wrong spike or cycle count on one side or the other.
///
/// Input: the option bytes and JSON text of the `pipeline` target ([`options`]), then inputs
/// drawn in the calibration range from a generator seeded by the text's length and the options.
pub fn engine(data: &[u8]) {
    let Some((o, plan, seed)) = planned(data) else { return };
    let b = engine_batch(&o, plan.input.numel(), seed);
    let steps = o.timesteps;
    let general: Vec<cycle::SampleResult> =
        (0..b.n).map(|i| cycle::run_traced(&plan, &b, i, steps, &mut Quiet)).collect();
    for (per_pass, simd) in [(1usize, Simd::Best), (2, Simd::Best), (3, Simd::Portable)] {
        let fast = cycle::run_passes_simd(&plan, &b, steps, per_pass, simd);
        assert_eq!(fast.samples.len(), b.n);
        for (i, (s, g)) in fast.samples.iter().zip(&general).enumerate() {
            let ctx = format!("{per_pass} per pass {simd:?}, sample {i}, {:?}", plan.schedule);
            assert_eq!(s.raw, g.raw, "{ctx}: outputs");
            assert_eq!(s.step_end_cycles, g.step_end_cycles, "{ctx}: step ends");
            assert_eq!(s.counters, g.counters, "{ctx}: counters");
        }
    }
    // A dense plan gives every output of its event-driven layout (docs/hardware.md 4c): the
    // plan against its other mode, whichever bit 7 of the options asked for, wherever a
    // projection can gather densely.
    let dense_now = plan.layers.iter().any(|l| l.modes.contains(&Mode::Dense));
    let other = if dense_now {
        plan.layers.iter().map(|l| vec![Mode::Event; l.modes.len()]).collect()
    } else {
        dense::all_dense(&plan)
    };
    if dense_now || other.iter().flatten().any(|m| *m == Mode::Dense) {
        let p = plan.with_modes(&other, &o.target).expect("every projection asked is eligible");
        for (i, g) in general.iter().enumerate() {
            let e = cycle::run_traced(&p, &b, i, steps, &mut Quiet);
            assert_eq!(e.raw, g.raw, "sample {i}: dense and event outputs");
        }
    }
}

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
