//! An ensemble's students in the quantised network, and the run-time mask that leaves some of
//! them out of one compiled network (docs/passes.md, "Run-time student masks").
//!
//! The quantiser tags each layer and projection with the student that owns it
//! ([`Students`]). A student owns the layers of its branch (the nodes that reach the merge only
//! through it) and every projection that carries its events or its head's weights into a shared
//! layer. The constants such a projection brings to a shared layer (a head's bias, summed into
//! the merge layer's one bias by the quantiser) are kept per student as [`BiasShare`]s, in the
//! shared layer's own units, with the shared layer's constant left as it always was: a
//! projection's share is what adding its bias to the running sum (in projection order) changes
//! in the rounded constant, so the shares add up to the constant, and a prefix of the
//! projections gets exactly the constant of its own sum.
//!
//! A mask ([`Activity`]) then defines the masked network on the full network's integers:
//! an inactive student's layers do not run, its projections deliver nothing, and each shared
//! layer's constants lose the inactive students' shares. With every student active it is the
//! full network, integer for integer. It is not, in general, the network a compile-time pruning
//! of the same students quantises (`passes::students::KeepStudents`): that one picks its units
//! from the students it keeps and rounds their summed biases once.

pub use super::network::{BiasShare, Students};
use super::network::{Layer, NeuronParams, Source, at};

/// A mask that cannot be applied to the network.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[allow(missing_docs)] // the messages say what each is
pub enum MaskError {
    #[error(
        "the network has no single ensemble (no merge of students, or several), so it has no students to switch \
         (--active-students)"
    )]
    NoEnsemble,
    #[error("--active-students leaves out the output layer '{layer}', which belongs to student '{student}'")]
    OutputInStudent { layer: String, student: String },
    #[error(
        "--active-students: layer '{layer}' saturates its constants to the target's capped state width, so taking a \
         student's share away would not give the constant of the others"
    )]
    Saturated { layer: String },
    #[error("--active-students names {given} students; the ensemble at '{merge}' has {students}")]
    Length { given: usize, students: usize, merge: String },
    #[error("--active-students leaves no student of the ensemble at '{merge}' active")]
    NoneActive { merge: String },
    #[error("--active-students: no student '{name}' in the ensemble at '{merge}' (its students: {})", students.join(", "))]
    NoSuchStudent { name: String, merge: String, students: Vec<String> },
    #[error("{0}")]
    Unsupported(String),
}

impl Students {
    /// The mask that keeps the students `names` (names or indices, as `inspect` lists them)
    /// active.
    pub fn mask(&self, names: &[String]) -> Result<Vec<bool>, MaskError> {
        let mut active = vec![false; self.names.len()];
        for n in names {
            let n = n.trim();
            let i = self
                .names
                .iter()
                .position(|s| s == n)
                .or_else(|| n.parse::<usize>().ok().filter(|&i| i < self.names.len()))
                .ok_or_else(|| MaskError::NoSuchStudent {
                    name: n.to_string(),
                    merge: self.merge.clone(),
                    students: self.names.clone(),
                })?;
            active[i] = true;
        }
        Ok(active)
    }
}

/// What runs under a mask: per layer, and per layer and projection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Activity {
    /// The mask, per student.
    pub active: Vec<bool>,
    /// Per layer: it runs its phases.
    pub layer: Vec<bool>,
    /// Per layer and projection: the phase runs (its layer runs and its student is active).
    pub projection: Vec<Vec<bool>>,
}

impl Activity {
    /// The activity of `active` (one flag per student) in a network of `layers` with
    /// `students`.
    pub fn of(students: &Students, active: &[bool]) -> Result<Activity, MaskError> {
        if active.len() != students.names.len() {
            return Err(MaskError::Length {
                given: active.len(),
                students: students.names.len(),
                merge: students.merge.clone(),
            });
        }
        if !active.iter().any(|&a| a) {
            return Err(MaskError::NoneActive { merge: students.merge.clone() });
        }
        let on = |s: &Option<usize>| s.is_none_or(|s| active[s]);
        let layer: Vec<bool> = students.layer.iter().map(on).collect();
        let projection = students
            .projection
            .iter()
            .zip(&layer)
            .map(|(ps, &runs)| ps.iter().map(|s| runs && on(s)).collect())
            .collect();
        Ok(Activity { active: active.to_vec(), layer, projection })
    }
}

/// `p` less the shares of the students `act` leaves out (`p` unchanged when every student is
/// active). The shares are added in the full network, so this is the full network's integers
/// with those students' constants taken away.
pub fn masked_params(p: &NeuronParams, k: usize, students: &Students, act: &Activity) -> NeuronParams {
    let mut out = p.clone();
    for sh in students.shares.iter().filter(|s| s.layer == k && !act.active[s.student]) {
        sub(&mut out.bias, &sh.bias);
        sub(&mut out.bias_late, &sh.bias_late);
        sub(&mut out.syn_bias, &sh.syn_bias);
        sub(&mut out.syn_bias_late, &sh.syn_bias_late);
    }
    out
}

/// `v -= s`, elementwise (either of length 1 when uniform; `s` empty adds nothing). A
/// per-neuron `v` stays per neuron, as the design stores it.
fn sub(v: &mut Vec<i64>, s: &[i64]) {
    if s.is_empty() {
        return;
    }
    let n = v.len().max(s.len());
    *v = (0..n).map(|i| at(v, i) - at(s, i)).collect();
}

/// Tags the layers of a quantised network: `student_of` gives a graph node's student.
pub(super) fn tag(
    layers: &[Layer],
    student_of: &dyn Fn(&str) -> Option<usize>,
) -> (Vec<Option<usize>>, Vec<Vec<Option<usize>>>) {
    let layer: Vec<Option<usize>> = layers.iter().map(|l| student_of(&l.name)).collect();
    let projection = layers
        .iter()
        .zip(&layer)
        .map(|(l, own)| {
            l.projections
                .iter()
                .map(|p| {
                    own.or_else(|| match p.source {
                        Source::Layer(s) => layer[s],
                        Source::Input => None,
                    })
                    .or_else(|| p.path.iter().find_map(|n| student_of(n)))
                })
                .collect()
        })
        .collect();
    (layer, projection)
}
