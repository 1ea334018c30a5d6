//! spikefab JSON text -> `front::json::from_str` -> validate.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let path = Path::new("fuzz.json");
    common::load_checked(path, spikefab::front::json::from_str(path, text));
});
