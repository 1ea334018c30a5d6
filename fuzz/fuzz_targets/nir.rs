//! NIR (HDF5) bytes -> `front::nir::from_bytes` -> validate.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.nir");
    common::load_checked(path, spikefab::front::nir::from_bytes(path, data.to_vec()));
});
