//! The reference engine's batching: samples run together through shared matrix products
//! (dense inputs) or one by one event by event (sparse inputs); either way every sample's
//! values are those it gets when run alone, whatever the batch and thread count.

use crate::common;

use common::root;
use spikefab::Model;
use spikefab::data::{Array, InputBatch, read_npy};
use spikefab::ir::dialect::DialectOverrides;
use spikefab::sim::reference::{self, RunOptions};

/// Inputs whose samples range from all zero to fully dense, so both convolution paths run.
fn mixed(path: &std::path::Path) -> Array {
    let a = read_npy(path).unwrap();
    let per = a.data.len() / a.shape[0];
    let mut data = vec![];
    let n = 12;
    for i in 0..n {
        let src = &a.data[(i % a.shape[0]) * per..][..per];
        // Sample i keeps roughly i/(n-1) of its values (a fixed pattern, no RNG needed).
        data.extend(
            src.iter().enumerate().map(|(j, &v)| if (j * 7919 + i * 104729) % (n - 1) < i { v + 1.0 } else { 0.0 }),
        );
    }
    let mut s = a.shape.clone();
    s[0] = n;
    Array { shape: s, data }
}

#[test]
fn every_sample_is_the_same_alone_in_any_batch_and_on_any_thread_count() {
    let dir = root().join("tests/data/nir");
    let cases = [
        ("conv2d_same", "conv2d_same"),
        ("conv2d_stride2_pad1", "conv2d_stride2_pad1"),
        ("conv2d_valid_dil2_groups2", "conv2d_valid_dil2_groups2"),
        ("conv1d_dil2_groups2_valid", "conv1d_dil2_groups2_valid"),
        ("conv_pool_flatten", "conv_pool_flatten"),
        ("affine_lif", "affine_lif.perstep"),
        ("residual", "residual"),
        ("recurrent", "recurrent"),
        ("delay", "delay"),
    ];
    for (name, inputs) in cases {
        let model = dir.join(format!("{name}.nir"));
        let m = Model::load(&model, &DialectOverrides { dt: Some(1e-3), ..Default::default() }).unwrap();
        let input = m.graph.the_input().unwrap();
        let shape = m.info.out_shape[input.index()].clone();
        let a = mixed(&dir.join(format!("{inputs}.inputs.npy")));
        let one_shape = [&[1][..], &a.shape[1..]].concat();
        let per_in = a.data.len() / a.shape[0];
        let batch =
            InputBatch::from_array(&model, Array { shape: a.shape.clone(), data: a.data.clone() }, &shape).unwrap();
        let output = m.graph.select_output(None).unwrap();
        for f64 in [false, true] {
            let steps = batch.steps(None).unwrap_or(6).min(6);
            let opts = RunOptions { steps, f64, output };
            let run = |b: &InputBatch, threads: usize| {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                pool.install(|| reference::run(&m.graph, &m.info, m.dialect(), b, &opts, None)).unwrap().outputs.data
            };
            let together = run(&batch, 1);
            assert_eq!(together, run(&batch, 2), "{name}: 1 vs 2 threads");
            let per = together.len() / batch.n;
            for i in 0..batch.n {
                let data = a.data[i * per_in..(i + 1) * per_in].to_vec();
                let one = InputBatch::from_array(&model, Array { shape: one_shape.clone(), data }, &shape).unwrap();
                let alone = run(&one, 1);
                assert_eq!(alone, together[i * per..(i + 1) * per], "{name} sample {i} (f64 {f64})");
            }
        }
    }
}
