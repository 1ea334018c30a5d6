//! Ensemble students: the parallel branches that sum into one node, each holding neurons of
//! its own (`analysis::merges`). Pruning a student removes every node that reaches the merge
//! only through it, its head contribution (and head bias) included; the merge node and the
//! other students are unchanged.

use std::collections::BTreeSet;

use serde::Serialize;

use super::pass::{Context, Pass, Refusal, rebuild};
use crate::analysis;
use crate::ir::Graph;
use crate::valid::GraphInfo;

/// One student of an ensemble.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct Student {
    /// Position among the merge's inputs.
    pub index: usize,
    /// Name: the common prefix of its nodes' names (e.g. `s0` for `s0_fc1`, `s0_lif1`...), or
    /// its first node's name when the prefixes do not tell the students apart.
    pub name: String,
    /// Its nodes, in evaluation order.
    pub nodes: Vec<String>,
}

/// An ensemble: students summing into `merge`.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct Ensemble {
    /// The merge node.
    pub merge: String,
    /// The students, in in-edge order.
    pub students: Vec<Student>,
}

fn common_prefix(names: &[String]) -> String {
    let Some(first) = names.first() else { return String::new() };
    let mut n = first.len();
    for s in &names[1..] {
        n = n.min(first.bytes().zip(s.bytes()).take_while(|(a, b)| a == b).count());
    }
    let mut p = first[..n].to_string();
    while p.ends_with(['_', '.', '-', ':', '/']) {
        p.pop();
    }
    p
}

/// Every ensemble of the graph.
pub fn ensembles(g: &Graph, info: &GraphInfo) -> Vec<Ensemble> {
    analysis::merges(g, info)
        .into_iter()
        .filter(|m| m.ensemble)
        .map(|m| {
            let prefixes: Vec<String> = m.branches.iter().map(|b| common_prefix(&b.nodes)).collect();
            let distinct: BTreeSet<&String> = prefixes.iter().collect();
            let use_prefix = distinct.len() == prefixes.len() && prefixes.iter().all(|p| !p.is_empty());
            let students = m
                .branches
                .iter()
                .enumerate()
                .map(|(k, b)| Student {
                    index: k,
                    name: if use_prefix { prefixes[k].clone() } else { b.name.clone() },
                    nodes: b.nodes.clone(),
                })
                .collect();
            Ensemble { merge: m.node, students }
        })
        .collect()
}

/// The graph's single ensemble.
pub fn the_ensemble(g: &Graph, info: &GraphInfo) -> Result<Ensemble, Refusal> {
    let mut all = ensembles(g, info);
    match all.len() {
        0 => Err(Refusal::NoEnsemble),
        1 => Ok(all.remove(0)),
        _ => Err(Refusal::SeveralEnsembles { merges: all.iter().map(|e| e.merge.clone()).collect() }),
    }
}

/// Student indices from names or indices (`s0,s2` or `0,2`).
pub fn resolve(e: &Ensemble, names: &[String]) -> Result<Vec<usize>, Refusal> {
    let mut out = BTreeSet::new();
    for n in names {
        let n = n.trim();
        let hit = e
            .students
            .iter()
            .find(|s| s.name == n || s.nodes.first().is_some_and(|f| f == n))
            .map(|s| s.index)
            .or_else(|| n.parse::<usize>().ok().filter(|&i| i < e.students.len()));
        match hit {
            Some(i) => {
                out.insert(i);
            }
            None => {
                return Err(Refusal::NoSuchStudent {
                    name: n.to_string(),
                    merge: e.merge.clone(),
                    students: e.students.iter().map(|s| s.name.clone()).collect(),
                });
            }
        }
    }
    if out.is_empty() {
        return Err(Refusal::NoStudentKept);
    }
    Ok(out.into_iter().collect())
}

/// Keeps the listed students of the graph's ensemble.
pub struct KeepStudents {
    /// Indices of the students kept.
    pub keep: Vec<usize>,
}

impl Pass for KeepStudents {
    fn name(&self) -> String {
        "prune-students".into()
    }

    fn run(&self, g: &Graph, info: &GraphInfo, _cx: &Context) -> Result<(Graph, Vec<String>), Refusal> {
        let e = the_ensemble(g, info)?;
        if self.keep.is_empty() || self.keep.iter().any(|&k| k >= e.students.len()) {
            return Err(Refusal::StudentsOutOfRange { keep: self.keep.clone(), students: e.students.len() });
        }
        let drop: BTreeSet<&str> = e
            .students
            .iter()
            .filter(|s| !self.keep.contains(&s.index))
            .flat_map(|s| s.nodes.iter().map(String::as_str))
            .collect();
        let kept: Vec<&str> =
            e.students.iter().filter(|s| self.keep.contains(&s.index)).map(|s| s.name.as_str()).collect();
        let changes = if drop.is_empty() {
            vec![]
        } else {
            vec![format!(
                "kept {} of {} students at '{}': {}; removed {} nodes",
                kept.len(),
                e.students.len(),
                e.merge,
                kept.join(", "),
                drop.len()
            )]
        };
        let ng =
            rebuild(g, &|i| (!drop.contains(g.g[i].name.as_str())).then(|| g.g[i].op.clone()), &|_, a, b| Some((a, b)));
        Ok((ng, changes))
    }
}
