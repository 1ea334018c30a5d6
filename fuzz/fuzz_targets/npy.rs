//! .npy bytes -> an input batch, read back (`common::npy`). The body is `common::npy`, which the test suite also compiles and runs.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| common::npy(data));
