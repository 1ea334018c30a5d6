//! The integration tests, one test binary: each `tests/<name>.rs` is a module of it
//! (`cargo test --test suite <name>::` runs one file). One binary links once instead of once per
//! file, and its tests share one pool of test threads, so a file's slowest test no longer leaves
//! the other threads idle while the next file waits (docs/testing.md).

mod common;

mod broken_inputs;
mod cascade;
mod chips;
mod compare;
mod cycle_engine;
mod dense;
mod docs;
mod ecp5;
mod energy;
mod ensemble_mask;
mod exit_codes;
mod external_memory;
mod framework_importers;
mod fresh_machine;
mod golden_frameworks;
mod golden_models;
mod golden_nir;
mod hls;
mod hostile_names;
mod imports;
mod kubernetes;
mod legalise;
mod litedram;
mod loihi;
mod neurobench;
mod onnx;
mod passes;
mod pipelined;
mod python;
mod quantisation;
mod reference_engine;
mod rtl;
mod rtl_corpus;
mod rtl_dense;
mod rtl_fused;
mod rtl_multi;
mod rtl_sdram;
mod rtl_streamed;
mod rtl_tiles;
mod shard;
mod slurm;
mod spram;
mod streamed;
mod xylo;
