//! The cycle engine's fast path against its general path (`common::engine`). The body is `common::engine`, which the test suite also compiles and runs.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| common::engine(data));
