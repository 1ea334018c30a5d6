//! spikefab: a compiler from trained spiking neural networks to verified hardware.
//!
//! The pipeline, one module per stage:
//!
//! ```text
//!  .nir / .onnx / .json   front/     one loader per format -> ir::Graph
//!  ir::Graph              ir/        plain data: petgraph graph of typed ops
//!  validate               valid/     shapes, recurrence, parameter checks -> GraphInfo
//!  simulate               sim/       reference engine (float, what the framework computes)
//! ```
//!
//! [`model::Model::load`] runs the first three stages; everything later takes a `Model`.

#![warn(missing_docs)]

pub mod analysis;
pub mod back;
pub mod chip;
pub mod data;
pub mod driver;
pub mod energy;
pub mod flow;
pub mod front;
pub mod hw;
pub mod ir;
pub mod limits;
pub mod model;
pub mod names;
pub mod passes;
pub mod quant;
pub mod report;
pub mod sim;
pub mod target;
pub mod valid;

pub use model::{LoadError, Model};
