//! One error type for the driver, wrapping each stage's typed error, and the exit code each
//! means: 2 for bad input or usage, 1 when a tool failed, the model or design does not fit, or
//! the outputs could not be written.

use std::path::PathBuf;

use crate::flow::FlowError;

/// Why a command could not run to its end.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The model could not be read, validated or given a dialect.
    #[error(transparent)]
    Load(#[from] crate::model::LoadError),
    /// The target could not be found or parsed.
    #[error(transparent)]
    Target(#[from] crate::target::TargetError),
    /// An input, label or output array.
    #[error(transparent)]
    Data(#[from] crate::data::IoError),
    /// Inputs that cannot run the steps asked for.
    #[error(transparent)]
    Steps(#[from] crate::data::StepsError),
    /// A run beyond the documented limits.
    #[error(transparent)]
    Limit(#[from] crate::limits::LimitError),
    /// The model cannot be quantised for the target.
    #[error("{path}: {err}")]
    Quant {
        /// Model file.
        path: PathBuf,
        /// Why.
        err: crate::quant::QuantError,
    },
    /// A simulation could not run.
    #[error(transparent)]
    Sim(#[from] crate::sim::reference::SimError),
    /// A pass refused the model.
    #[error("{path}: {err}")]
    Pass {
        /// Model file.
        path: PathBuf,
        /// Why.
        err: crate::passes::PassError,
    },
    /// A measured choice (students, T') could not be measured.
    #[error("{path}: {err}")]
    Choice {
        /// Model file.
        path: PathBuf,
        /// Why.
        err: crate::dse::DseError,
    },
    /// The Verilog back end refused the plan.
    #[error(transparent)]
    Verilog(#[from] crate::back::verilog::EmitError),
    /// The HLS back end refused the plan.
    #[error(transparent)]
    Hls(#[from] crate::back::hls::EmitError),
    /// A chip's export could not be written in its vendor's format.
    #[error(transparent)]
    Export(#[from] crate::back::loihi::NetxError),
    /// An external tool, or writing its files.
    #[error(transparent)]
    Tool(#[from] FlowError),
    /// Options that do not fit together or are out of range.
    #[error("{0}")]
    Usage(String),
    /// The model does not fit the target (a chip's limits).
    #[error("{0}")]
    DoesNotFit(String),
}

impl Error {
    /// The command-line exit code: 1 when an external tool failed, the design or model does not
    /// fit the target, or the outputs could not be written (the file system); 2 for bad input or
    /// usage (a missing tool included: install it or drop the option).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Tool(FlowError::Failed { .. } | FlowError::DoesNotFit(_) | FlowError::Io(_))
            | Error::Export(_)
            | Error::DoesNotFit(_) => 1,
            _ => 2,
        }
    }
}
