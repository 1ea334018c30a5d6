//! spikefab: a compiler from trained spiking neural networks to verified hardware.
//!
//! The pipeline, one module per stage; data flows down only:
//!
//! ```text
//!  .nir / .onnx / .json  front/    one loader per format -> ir::Graph, node names made safe
//!  ir::Graph             ir/       plain data: a petgraph graph of typed NIR ops + the dialect
//!  validate              valid/    shapes, recurrence, parameter checks -> GraphInfo
//!                                  (a Model is the three together: Model::load)
//!  passes                passes/   simplify, prune ensemble students, choose T'
//!  quantised network     quant/    target-neutral integers under a target's arithmetic Rules
//!  mapping               hw/       FPGA layout: lanes, memories, schedule (a Plan)
//!                        chip/     neuromorphic chip: cores, fan-in, limits
//!  back ends             back/     Verilog, HLS C++, NIR
//!  simulators            sim/      reference (float, the framework's answer), cycle (the Plan,
//!                                  bit-exact and cycle-exact with the RTL)
//!  tools                 flow/     iverilog, Verilator, Yosys, nextpnr, icepack, icetime, g++
//!  energy / report       energy/, report/
//!  design search         dse.rs    choosing cuts (students, T, lanes) by running each candidate
//!  driver                driver/   the commands as functions: prepare, verify, compile
//! ```
//!
//! [`data`], [`limits`], [`names`] and [`target`] are shared by every stage.
//!
//! Load a student and run it as the framework that trained it computes:
//!
//! ```
//! use spikefab::data::InputBatch;
//! use spikefab::ir::dialect::{DialectOverrides, Preset};
//! use spikefab::sim::reference::{self, RunOptions};
//!
//! let dialect = DialectOverrides { from: Some(Preset::Snntorch), timesteps: Some(8), ..Default::default() };
//! let m = spikefab::Model::load("models/mlp_bw/mlp_bw.nir".as_ref(), &dialect)?;
//! let x = InputBatch::load("models/digits_test_x.npy".as_ref(), &[64])?.take(50);
//! let y = spikefab::data::load_labels("models/digits_test_y.npy".as_ref(), 450)?;
//! let output = m.graph.select_output(None)?;
//! let r = reference::run(&m.graph, &m.info, m.dialect(), &x, &RunOptions { steps: 8, f64: false, output }, None)?;
//! let accuracy = spikefab::data::agreement(&r.outputs.classes(), &y[..50]);
//! assert!(accuracy > 0.9, "{accuracy}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`driver::compile`] does what `spikefab compile` does.

#![warn(missing_docs)]

pub mod analysis;
pub mod back;
pub mod chip;
pub mod data;
pub mod driver;
pub mod dse;
pub mod energy;
pub mod flow;
pub mod front;
pub mod hw;
pub mod ir;
pub mod limits;
pub mod model;
pub mod names;
pub mod options;
pub mod passes;
#[cfg(feature = "python")]
mod python;
pub mod quant;
pub mod report;
pub mod sim;
pub mod target;
pub mod valid;

pub use driver::{CompileOptions, CompileReport, compile};
pub use model::{LoadError, Model};
