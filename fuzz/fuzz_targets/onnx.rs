//! ONNX bytes -> `front::onnx::from_bytes` -> validate. The model's folder does not exist,
//! so external data references fail cleanly instead of reading this machine's files.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("/nonexistent-spikefab-fuzz/fuzz.onnx");
    common::load_checked(path, spikefab::front::onnx::from_bytes(path, data));
});
