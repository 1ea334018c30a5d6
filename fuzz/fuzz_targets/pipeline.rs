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

use libfuzzer_sys::fuzz_target;
use spikefab::back::{hls, verilog};

mod common;

fuzz_target!(|data: &[u8]| {
    let Some((o, plan, _)) = common::planned(data) else { return };
    if let Err(e) = verilog::emit(&plan, Some((2, 10_000))) {
        let _ = e.to_string();
    }
    if let Err(e) = hls::emit(&plan, o.target.hls_part()) {
        let _ = e.to_string();
    }
});
