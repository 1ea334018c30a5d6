//! A pass phase a back end asks for, run by the driver on the model it lays out: its changes
//! are pass records like every other pass's.

use std::borrow::Cow;

use super::Error;
use crate::Model;
use crate::passes::{Context, PassRecord, Pipeline};

/// Runs `pipeline` on `m` for `steps` steps: the model after it (`m` itself when the pipeline
/// is empty) and its records.
pub(crate) fn run_phase<'a>(
    m: &'a Model,
    pipeline: &Pipeline,
    steps: usize,
) -> Result<(Cow<'a, Model>, Vec<PassRecord>), Error> {
    if pipeline.is_empty() {
        return Ok((Cow::Borrowed(m), vec![]));
    }
    let cx = Context { steps, input_range: None };
    let (legal, records) = pipeline.run(m, &cx).map_err(|err| Error::Pass { path: m.path.clone(), err })?;
    Ok((Cow::Owned(legal), records))
}
