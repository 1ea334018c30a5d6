//! Option bytes and spikefab JSON -> plan -> Verilog and HLS C++ (`common::pipeline`). The body is `common::pipeline`, which the test suite also compiles and runs.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| common::pipeline(data));
