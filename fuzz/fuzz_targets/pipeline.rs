//! The whole compile path from spikefab JSON: load -> validate -> plan (`hw::lower`) -> emit
//! Verilog (with testbench) and HLS C++.
//!
//! Input: 6 option bytes, then the JSON text. The options cover what the `compile` flags
//! accept (`common::options`): T in 1..=8, the target, lanes, the schedule,
//! weight/input/fraction/leak bits, a membrane cap, early exit, and the calibration range or
//! an input scale. Models whose validated sizes are large are skipped before lowering (see
//! `common::too_large`), so the fuzzer spends its time on structure, not on legitimately big
//! designs.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use spikefab::Model;
use spikefab::back::{hls, verilog};

mod common;

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
    let o = common::options(c);
    let m = match Model::from_graph(path, g, &common::overrides(o.timesteps)) {
        Ok(m) => m,
        Err(_) => return,
    };
    if common::too_large(&m) {
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
