//! The student mask of the commands that take one (`--active-students`): which students of
//! an ensemble run, resolved against a plan, and the refusals.

use super::Error;
use crate::hw::Plan;
use crate::quant::students::MaskError;

/// The students that run in a check, co-simulation or C simulation, or from power-on in a
/// compiled board design (`--active-students`).
#[derive(Clone, Debug, Default, PartialEq, clap::Args, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct StudentMask {
    /// Run only these students of the ensemble (names or indices, as `inspect` lists them),
    /// given to the design at run time (the RTL's `act` port, the HLS C++'s `act` argument; the
    /// sequential and streamed schedules' designs take it), and the cycle engine runs the same
    /// mask; in `verify` and `compare` the reference runs the model pruned to them; in
    /// `compile`, the board's power-on default, and every check runs under it.
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub active_students: Vec<String>,
    /// Run the active students as an input-adaptive cascade: one per stage in plan order, the
    /// shared layers after each, stopping at the first stage whose output margin (top class's
    /// spike count less the runner-up's) reaches MARGIN (the streamed schedule's design: its
    /// `casc` and `margin` ports); in `compile`, the board's power-on margin.
    #[arg(long, value_name = "MARGIN")]
    pub cascade: Option<u64>,
}

/// A mask the plan's ensemble cannot take, as bad usage (exit 2).
pub(crate) fn mask_usage(e: MaskError) -> Error {
    Error::Usage(e.to_string())
}

impl StudentMask {
    /// The flags of the students named (None when none is named): one per student of
    /// `plan`'s ensemble, unknown names and a plan without an ensemble refused.
    pub(crate) fn resolve(&self, plan: &Plan) -> Result<Option<Vec<bool>>, Error> {
        match self.active_students.as_slice() {
            [] => Ok(None),
            names => {
                let st = plan.students.as_ref().ok_or(MaskError::NoEnsemble).map_err(mask_usage)?;
                Ok(Some(st.mask(names).map_err(mask_usage)?))
            }
        }
    }

    /// `--cascade` on `plan`: its threshold when given, refused (with the reason) when the
    /// plan's design cannot run the cascade.
    pub(crate) fn cascade_for(&self, plan: &Plan) -> Result<Option<u64>, Error> {
        let Some(m) = self.cascade else { return Ok(None) };
        match plan.cascade_refusal() {
            None => Ok(Some(m)),
            Some(why) => Err(Error::Usage(format!("--cascade: this plan's design cannot run the cascade: {why}"))),
        }
    }

    /// Refuses `--cascade` in a command that does not run it yet (`what`).
    pub(crate) fn no_cascade(&self, what: &str) -> Result<(), Error> {
        match self.cascade {
            None => Ok(()),
            Some(_) => Err(Error::Usage(format!(
                "--cascade: {what} does not run the cascade yet (simulate, energy, cosim and compile do)"
            ))),
        }
    }

    /// Refuses a mask when `plan`'s design (`what`: "RTL" or "HLS C++") takes none.
    pub(crate) fn designed_for(&self, plan: &Plan, what: &str) -> Result<(), Error> {
        match plan.mask_refusal().filter(|_| !self.active_students.is_empty()) {
            None => Ok(()),
            Some(why) => Err(Error::Usage(format!(
                "--active-students: the {what} of this plan takes no student mask yet ({why})"
            ))),
        }
    }
}
