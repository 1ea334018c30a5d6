//! The pass options every model-running command shares ([`PassSettings`], applied by the
//! library's [`spikefab::driver::prepare`]) and the calibration files that go with them.

use std::path::PathBuf;

use clap::Args;
use spikefab::Model;
use spikefab::data;
use spikefab::options::PassSettings;

use super::failure::Failure;
use super::model_args::ModelArgs;

#[derive(Args, Debug, Clone)]
pub struct PassArgs {
    #[command(flatten)]
    pub settings: PassSettings,
    /// Calibration inputs (.npy) for the passes' choices [default: --inputs].
    #[arg(long, value_name = "FILE")]
    pub calib: Option<PathBuf>,
    /// Labels (.npy) of --calib [default: --labels when calibrating on --inputs].
    #[arg(long, value_name = "FILE")]
    pub calib_labels: Option<PathBuf>,
}

impl PassArgs {
    /// The library's pass settings with the calibration files read for `m`'s input.
    pub fn settings(&self, m: &Model, model: &ModelArgs) -> Result<PassSettings, Failure> {
        let mut s = self.settings.clone();
        s.calib = match &self.calib {
            Some(p) => Some(model.inputs(m, p)?),
            None => None,
        };
        s.calib_labels = match (&self.calib_labels, &s.calib) {
            (Some(l), Some(c)) => Some(data::load_labels(l, c.n).map_err(Failure::input)?),
            (Some(_), None) => return Err(Failure::input(anyhow::anyhow!("--calib-labels needs --calib"))),
            _ => None,
        };
        Ok(s)
    }
}
