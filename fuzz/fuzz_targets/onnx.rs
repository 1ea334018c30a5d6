//! ONNX bytes -> `front::onnx::from_bytes` -> validate. The body is `common::onnx`, which the test suite also compiles and runs.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| common::onnx(data));
