//! The student mask of the commands that take one (`--active-students`): which students of
//! an ensemble run, resolved against a plan, and the refusals.

use super::Error;
use crate::data::InputBatch;
use crate::hw::{Cascade, Plan};
use crate::quant::students::MaskError;
use crate::sim::cycle;

/// The order of `plan`'s cascade: `names` (every student once), or, when empty, chosen on
/// `batch`, best first ([`cycle::greedy_cascade_order`]).
/// Refused (exit 2) when the plan's design cannot run the cascade.
pub(crate) fn cascade_order(plan: &Plan, batch: Option<&InputBatch>, names: &[String]) -> Result<Vec<usize>, Error> {
    if let Some(why) = plan.cascade_refusal() {
        return Err(Error::Usage(format!("--cascade: this plan's design cannot run the cascade: {why}")));
    }
    let st = plan.students.as_ref().ok_or(MaskError::NoEnsemble).map_err(mask_usage)?;
    let n = st.names.len();
    if !names.is_empty() {
        let mut order = vec![];
        for name in names {
            let one = st.mask(std::slice::from_ref(name)).map_err(mask_usage)?;
            let s = one.iter().position(|&a| a).expect("a mask of one name has its student");
            if order.contains(&s) {
                return Err(Error::Usage(format!("--cascade-order names student '{}' twice", st.names[s])));
            }
            order.push(s);
        }
        if order.len() != n {
            return Err(Error::Usage(format!(
                "--cascade-order names {} of the {n} students ({}); give every student once",
                order.len(),
                st.names.join(", ")
            )));
        }
        return Ok(order);
    }
    let Some(batch) = batch else {
        return Err(Error::Usage(
            "--cascade chooses its order on the inputs: give --inputs (or --calib), or --cascade-order".into(),
        ));
    };
    cycle::greedy_cascade_order(plan, batch).map_err(mask_usage)
}

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
    /// The cascade's order, every student once (names or indices); compiled into the design.
    /// Default: chosen from every input (not only the `--samples` checked), best first
    /// ([`cascade_order`]).
    #[arg(long, value_delimiter = ',', value_name = "NAMES", requires = "cascade")]
    pub cascade_order: Vec<String>,
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

    /// `--cascade` on `plan`: the cascade at its margin, in `--cascade-order` or the order
    /// chosen on `batch` ([`cascade_order`]); None without `--cascade`. Refused (with the
    /// reason) when the plan's design cannot run it.
    pub(crate) fn cascade_for(&self, plan: &Plan, batch: Option<&InputBatch>) -> Result<Option<Cascade>, Error> {
        let Some(margin) = self.cascade else {
            return match self.cascade_order.is_empty() {
                true => Ok(None),
                false => Err(Error::Usage("--cascade-order orders the cascade: give it with --cascade".into())),
            };
        };
        let order = cascade_order(plan, batch, &self.cascade_order)?;
        Ok(Some(Cascade { margin, order }))
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
