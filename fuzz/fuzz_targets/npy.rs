//! .npy bytes -> `data::read_npy_bytes` -> an input batch for a model input of the
//! array's own trailing shape, a flat one and a fixed one, read back sample by sample.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use spikefab::data::{Array, InputBatch, read_npy_bytes};

fn exercise(path: &Path, a: &Array, shape: &[usize]) {
    let b = match InputBatch::from_array(path, Array { shape: a.shape.clone(), data: a.data.clone() }, shape) {
        Ok(b) => b,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let _ = spikefab::quant::InputStats::of(&b);
    for req in [None, Some(1), Some(3)] {
        if let Ok(steps) = b.steps(req) {
            for i in [0, b.n - 1] {
                for t in [0, steps.saturating_sub(1)] {
                    assert_eq!(b.at(i, t).len(), b.numel);
                }
            }
        }
    }
    let _ = b.take(2);
}

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.npy");
    let a = match read_npy_bytes(path, data) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    assert_eq!(a.data.len(), a.shape.iter().product::<usize>());
    if a.shape.len() >= 2 {
        exercise(path, &a, &a.shape[1..]);
        exercise(path, &a, &[a.shape[1..].iter().product()]);
    }
    if a.shape.len() >= 3 {
        exercise(path, &a, &a.shape[2..]);
    }
    exercise(path, &a, &[64]);
});
