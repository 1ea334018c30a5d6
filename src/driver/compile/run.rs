//! `compile`: the target's back end compiles, and the report is written.

use super::{CompileOptions, CompileReport};
use crate::Model;
use crate::driver::backend;
use crate::driver::{Error, Progress};

/// Compiles `m` as `o` says. Checks that fail are listed in [`CompileReport::failures`];
/// `report.json` is written into the output folder either way.
pub fn compile(m: &Model, o: &CompileOptions, progress: &dyn Progress) -> Result<CompileReport, Error> {
    let target = o.plan.target()?;
    if o.labels.is_some() {
        o.needs_inputs("--labels")?;
    }
    if o.samples.samples.is_some() {
        o.needs_inputs("--samples")?;
    }
    if let Some(b) = &o.inputs {
        o.samples.of(b).map_err(|e| Error::Usage(e.to_string()))?;
    }
    let r = backend::of(&target).compile(m, o, &target, progress)?;
    r.write(&o.out_dir)?;
    Ok(r)
}
