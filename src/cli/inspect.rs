//! `spikefab inspect`: what the model is, as spikefab reads it.

use clap::Args;
use serde_json::json;
use spikefab::analysis::{self, WeightKind};
use spikefab::front;
use spikefab::ir::{Dialect, Op};
use spikefab::valid;

use super::failure::Failure;
use super::model_args::ModelArgs;

#[derive(Args, Debug)]
pub struct InspectArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

fn neuron_summary(op: &Op) -> String {
    let show = |name: &str, t: &spikefab::ir::Tensor| {
        let (mut lo, mut hi) = (0, 0);
        for (i, v) in t.iter().enumerate() {
            if v < t.at(lo) {
                lo = i;
            }
            if v > t.at(hi) {
                hi = i;
            }
        }
        if t.at(lo) == t.at(hi) {
            format!("{name}={}", t.show(lo))
        } else {
            format!("{name}=[{}..{}]", t.show(lo), t.show(hi))
        }
    };
    op.params()
        .iter()
        .filter(|(n, _)| !matches!(*n, "weight" | "bias"))
        .map(|(n, t)| show(n, t))
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn run(a: InspectArgs) -> Result<(), Failure> {
    let graph = front::load(&a.model.model).map_err(Failure::input)?;
    let info =
        valid::validate(&graph).map_err(|e| Failure::input(anyhow::anyhow!("{}: {e}", a.model.model.display())))?;
    let dialect = Dialect::resolve(&graph, &(&a.model.dialect).into());
    let overridden = match (graph.fixed_dialect(), &dialect) {
        (Some(f), Ok(d)) => spikefab::ir::dialect::overridden(&f, d),
        _ => vec![],
    };
    let merges = analysis::merges(&graph, &info);
    let recurrent: Vec<(String, String)> = graph
        .g
        .edge_indices()
        .filter(|e| info.is_recurrent(*e))
        .map(|e| {
            let (s, t) = graph.g.edge_endpoints(e).expect("edge of this graph");
            (graph.g[s].name.clone(), graph.g[t].name.clone())
        })
        .collect();
    let weights = |op: &Op| analysis::weight_of(op).map(analysis::classify_weights);
    if a.json {
        let nodes: Vec<_> = info
            .order
            .iter()
            .map(|&ix| {
                let n = &graph.g[ix];
                json!({
                    "name": n.name,
                    "type": n.op.type_name(),
                    "in_shape": info.in_shape[ix.index()],
                    "out_shape": info.out_shape[ix.index()],
                    "params": n.op.param_count(),
                    "weights": weights(&n.op),
                })
            })
            .collect();
        let (d, derr) = match &dialect {
            Ok(d) => (Some(d.clone()), None),
            Err(e) => (None, Some(e.to_string())),
        };
        let v = json!({
            "model": a.model.model.display().to_string(),
            "format": graph.provenance.format,
            "version": graph.provenance.version,
            "dialect": d,
            "dialect_error": derr,
            "warnings": graph.provenance.warnings,
            "overridden": overridden,
            "nodes": nodes,
            "recurrent_edges": recurrent,
            "merges": merges,
            "ensembles": spikefab::passes::students::ensembles(&graph, &info),
            "total_params": graph.g.node_weights().map(|n| n.op.param_count()).sum::<usize>(),
        });
        println!("{}", serde_json::to_string_pretty(&v).expect("json value"));
        return Ok(());
    }
    let p = &graph.provenance;
    println!(
        "model: {} ({}{})",
        a.model.model.display(),
        p.format,
        p.version.as_ref().map(|v| format!(" {v}")).unwrap_or_default()
    );
    match &dialect {
        Ok(d) => println!("dialect: {}", d.describe()),
        Err(e) => println!("dialect: unresolved: {e}"),
    }
    for w in &p.warnings {
        println!("warning: {w}");
    }
    for w in &overridden {
        println!("warning: {w}");
    }
    println!();
    let rows: Vec<[String; 6]> = info
        .order
        .iter()
        .map(|&ix| {
            let n = &graph.g[ix];
            let detail = match weights(&n.op) {
                Some(WeightKind::Binary { .. }) | Some(WeightKind::Levels { .. }) => {
                    weights(&n.op).expect("checked").describe()
                }
                None if n.op.is_neuron() || matches!(n.op, Op::Threshold { .. } | Op::Delay { .. }) => {
                    neuron_summary(&n.op)
                }
                None => String::new(),
            };
            [
                n.name.clone(),
                n.op.type_name().to_string(),
                format!("{:?}", info.in_shape[ix.index()]),
                format!("{:?}", info.out_shape[ix.index()]),
                n.op.param_count().to_string(),
                detail,
            ]
        })
        .collect();
    let head = ["node", "op", "input", "output", "params", "weights / parameters"];
    let mut w = head.map(str::len);
    for r in &rows {
        for (k, c) in r.iter().enumerate() {
            w[k] = w[k].max(c.len());
        }
    }
    let line = |r: &[String]| {
        let mut s = String::new();
        for (k, c) in r.iter().enumerate() {
            if k == 5 {
                s.push_str(c);
            } else {
                // Padded by hand: a format width above u16::MAX panics.
                s.push_str(c);
                s.push_str(&" ".repeat(w[k] - c.len() + 2));
            }
        }
        println!("{}", s.trim_end());
    };
    line(&head.map(String::from));
    for r in &rows {
        line(r);
    }
    let total: usize = graph.g.node_weights().map(|n| n.op.param_count()).sum();
    println!("\n{} nodes, {} edges, {} parameters", graph.len(), graph.g.edge_count(), total);
    for (s, t) in &recurrent {
        println!("recurrent edge: {s} -> {t} (reads the previous step)");
    }
    let ensembles = spikefab::passes::students::ensembles(&graph, &info);
    for m in &merges {
        let kind = if m.ensemble { "ensemble students" } else { "shortcut merge" };
        println!("merge at '{}' ({kind}, {} branches):", m.node, m.branches.len());
        let names = ensembles.iter().find(|e| e.merge == m.node);
        for (k, b) in m.branches.iter().enumerate() {
            if let Some(e) = names {
                // The names --students takes.
                println!("  - student {} ({} nodes: {})", e.students[k].name, b.nodes.len(), b.nodes.join(", "));
            } else if b.nodes.is_empty() {
                println!("  - direct edge from '{}'", b.last);
            } else {
                println!("  - {} ({} nodes: {})", b.name, b.nodes.len(), b.nodes.join(", "));
            }
        }
    }
    Ok(())
}
