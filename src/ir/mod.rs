//! The spiking dataflow IR: plain data, no behaviour.
//!
//! A [`Graph`] is a petgraph directed graph of named [`Node`]s, each carrying one typed [`Op`]
//! that mirrors a NIR primitive. Invariants kept by every front end:
//! - node names are unique; nested NIR graphs are flattened with dot-qualified names
//!   (`block1.lif`) and their inner Input/Output pass-through nodes are removed;
//! - parameters are stored as [`Tensor`]s that remember the dtype they were read with;
//! - edge insertion order is the file's order (it decides which edges are recurrent, see
//!   [`crate::valid`]).
//!
//! Shapes of inputs and outputs are not stored here: [`crate::valid`] infers them into a side
//! table. What NIR does not store (dt, reset mode, firing rule, timesteps) lives in
//! [`Dialect`].

pub mod dialect;
mod graph;
pub mod neuron;
mod op;
mod resolve;
mod tensor;

pub use dialect::{Dialect, Preset, ResetMode};
pub use graph::{Graph, Node, Provenance, SelectError};
pub use op::{Op, Padding};
pub use tensor::{DType, Tensor, TensorIter, conv_out_len};
