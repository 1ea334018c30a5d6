//! What a design or a placement uses of a target, beside what the target has (`compare`'s
//! rows, a chip mapping's resources).

use serde::{Deserialize, Serialize};

/// One resource of a row: how much the model uses, of how much the target has.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    /// Name (`LUT4`, `block RAM`, `cores`...).
    pub name: String,
    /// Used.
    pub used: u64,
    /// Available, when the target states it.
    pub available: Option<u64>,
}
