//! The patch a rule returns ([`Rewrite`]) and how it applies to a graph ([`apply`]).

use std::collections::HashMap;

use petgraph::graph::NodeIndex;

use crate::ir::{Graph, Op};

/// A change: nodes replaced by one new node, and ops replaced in place.
pub(super) struct Rewrite {
    /// Old nodes that become the new node `name` with `op` (the first keeps its position).
    pub(super) merge: Vec<(Vec<NodeIndex>, String, Op)>,
    /// Old nodes whose op changes.
    pub(super) replace: HashMap<NodeIndex, Op>,
    /// Old nodes removed, their single source feeding their single target instead.
    pub(super) bypass: Vec<NodeIndex>,
    /// Old edges removed.
    pub(super) drop_edges: Vec<petgraph::graph::EdgeIndex>,
    /// Old nodes removed with their edges.
    pub(super) remove: Vec<NodeIndex>,
    /// An old edge that becomes a path through new nodes (name, op), in order.
    pub(super) insert: Option<(petgraph::graph::EdgeIndex, Vec<(String, Op)>)>,
    /// What happened, for the record.
    pub(super) what: String,
}

/// A name for the merge of `names`, unique in `g` and among `taken`.
pub(super) fn merged_name(g: &Graph, names: &[&str], taken: &[String]) -> String {
    let joined = if names.len() <= 3 { names.join("+") } else { format!("{}+..+{}", names[0], names[names.len() - 1]) };
    let base = crate::names::label(&joined);
    let mut cand = base.clone();
    let mut k = 2;
    while g.find(&cand).is_some() || taken.contains(&cand) {
        cand = format!("{base}~{k}");
        k += 1;
    }
    cand
}

/// `g` with `r` applied: merged nodes at their first member's place, bypassed nodes and
/// dropped edges gone, edges in their order with the duplicates merging makes dropped.
pub(super) fn apply(g: &Graph, r: &Rewrite) -> Graph {
    let mut out = Graph { g: Default::default(), dialect: g.dialect.clone(), provenance: g.provenance.clone() };
    let mut group_of: HashMap<NodeIndex, usize> = HashMap::new();
    for (k, (members, _, _)) in r.merge.iter().enumerate() {
        for &m in members {
            group_of.insert(m, k);
        }
    }
    let mut map: Vec<Option<NodeIndex>> = vec![None; g.g.node_count()];
    let mut made: Vec<Option<NodeIndex>> = vec![None; r.merge.len()];
    for ix in g.g.node_indices() {
        if r.bypass.contains(&ix) || r.remove.contains(&ix) {
            continue;
        }
        map[ix.index()] = Some(match group_of.get(&ix) {
            Some(&k) => *made[k].get_or_insert_with(|| out.add_node(r.merge[k].1.clone(), r.merge[k].2.clone())),
            None => out.add_node(g.g[ix].name.clone(), r.replace.get(&ix).unwrap_or(&g.g[ix].op).clone()),
        });
    }
    // A bypassed node's target, through chains of bypassed nodes.
    let through = |mut t: NodeIndex| {
        while r.bypass.contains(&t) {
            t = g.out_edges(t)[0].1;
        }
        t
    };
    let mut seen = std::collections::HashSet::new();
    for e in g.g.edge_indices() {
        let (s, t) = g.g.edge_endpoints(e).expect("edge of this graph");
        if r.drop_edges.contains(&e) || r.bypass.contains(&s) || r.remove.contains(&s) || r.remove.contains(&t) {
            continue;
        }
        let t = through(t);
        let (mut a, b) = (map[s.index()].expect("mapped"), map[t.index()].expect("mapped"));
        if let Some((ie, nodes)) = &r.insert
            && *ie == e
        {
            for (name, op) in nodes {
                let n = out.add_node(name.clone(), op.clone());
                out.add_edge(a, n);
                a = n;
            }
        }
        let merged = group_of.contains_key(&s) || group_of.contains_key(&t);
        if !merged || seen.insert((a, b)) {
            out.add_edge(a, b);
        }
    }
    out
}
