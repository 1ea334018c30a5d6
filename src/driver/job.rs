//! What every model-running command starts from: the model, the inputs that calibrate it, their
//! labels, and the options those commands share. The inputs mean the same in every command:
//! all of them calibrate (the quantiser's input range, and the passes' choices unless
//! `--calib` brings other data), the first `--samples` of them are checked.

use std::borrow::Cow;

use super::{Error, Prepared, Progress, prepare};
use crate::Model;
use crate::data::InputBatch;
use crate::options::{PassSettings, PlanSettings, Samples};

/// A command's model, data and shared options.
#[derive(Clone, Copy)]
pub struct Job<'a> {
    /// The model as loaded.
    pub model: &'a Model,
    /// The inputs: they calibrate, and the first `samples` of them are checked.
    pub inputs: &'a InputBatch,
    /// Labels of `inputs`, for accuracies.
    pub labels: Option<&'a [usize]>,
    /// The hardware plan.
    pub plan: &'a PlanSettings,
    /// The passes.
    pub passes: &'a PassSettings,
    /// Which inputs are checked.
    pub samples: Samples,
}

/// The inputs a command checks, with their labels.
pub struct Checked<'a> {
    /// The first `--samples` inputs.
    pub inputs: Cow<'a, InputBatch>,
    /// Their labels.
    pub labels: Option<&'a [usize]>,
}

impl<'a> Job<'a> {
    /// The job on `inputs` with default options.
    pub fn new(model: &'a Model, inputs: &'a InputBatch, plan: &'a PlanSettings, passes: &'a PassSettings) -> Self {
        Job { model, inputs, labels: None, plan, passes, samples: Samples::default() }
    }

    /// Checks the labels' count, then runs the passes (calibrated on every input).
    pub fn prepare(&self, progress: &dyn Progress) -> Result<Prepared, Error> {
        if let Some(l) = self.labels
            && l.len() != self.inputs.n
        {
            return Err(Error::Usage(format!("{} labels for {} inputs", l.len(), self.inputs.n)));
        }
        let steps = super::steps_for(self.model, Some(self.inputs))?;
        prepare(self.model.clone(), steps, self.passes, self.plan, Some(self.inputs), self.labels, progress)
    }

    /// The inputs checked: the first `--samples`, and their labels.
    pub fn checked(&self) -> Result<Checked<'a>, Error> {
        let inputs = self.samples.of(self.inputs).map_err(|e| Error::Usage(e.to_string()))?;
        let labels = self.labels.map(|l| &l[..inputs.n.min(l.len())]);
        Ok(Checked { inputs, labels })
    }
}
