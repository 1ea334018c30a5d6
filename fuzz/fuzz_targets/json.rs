//! spikefab JSON text -> `front::json::from_str` -> validate. The body is `common::json`, which the test suite also compiles and runs.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| common::json(data));
