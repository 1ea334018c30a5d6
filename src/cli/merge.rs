//! `spikefab merge`: combines the partial results that `verify`, `explore` and `bench` print
//! with `--shard I/N` into exactly what one unsharded run prints (text, or `--json`). Only
//! wall times differ: a merged run reports the sum of its shards' times.

use std::path::PathBuf;

use clap::Args;
use spikefab::driver::{merge_compare, merge_explore, merge_verify, shard};

use super::failure::Failure;
use super::part::{Part, read};
use super::print::{exploration_out, print_bench, print_comparison, print_plan_check};

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Partial results (what `verify`, `explore` or `bench` print with --shard), one per
    /// shard, in any order.
    #[arg(required = true, value_name = "PART")]
    parts: Vec<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// explore: also write the whole exploration as JSON to this file (as `explore --out`).
    #[arg(short, long, value_name = "FILE")]
    out: Option<PathBuf>,
}

pub fn run(a: MergeArgs) -> Result<(), Failure> {
    let parts = a.parts.iter().map(|p| read(p)).collect::<Result<Vec<_>, _>>()?;
    let mixed = || Failure::input(anyhow::anyhow!("the parts come from different commands"));
    match &parts[0] {
        Part::Verify { .. } => {
            let parts = parts
                .into_iter()
                .map(|p| if let Part::Verify { part } = p { Ok(part) } else { Err(mixed()) })
                .collect::<Result<Vec<_>, _>>()?;
            let check = merge_verify(parts)?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&check.json()).expect("json"));
            } else {
                print_plan_check(&check);
            }
            match check.failure() {
                Some(msg) => Err(Failure::check(msg)),
                None => Ok(()),
            }
        }
        Part::Explore { all, .. } => {
            let all = *all;
            let parts = parts
                .into_iter()
                .map(|p| if let Part::Explore { part, .. } = p { Ok(part) } else { Err(mixed()) })
                .collect::<Result<Vec<_>, _>>()?;
            exploration_out(&merge_explore(parts)?, a.out.as_deref(), a.json, all)
        }
        Part::Compare { .. } => {
            let parts = parts
                .into_iter()
                .map(|p| if let Part::Compare { part } = p { Ok(part) } else { Err(mixed()) })
                .collect::<Result<Vec<_>, _>>()?;
            let c = merge_compare(parts)?;
            print_comparison(&c, a.json);
            if c.any_fits() { Ok(()) } else { Err(Failure::check("no target fits the model")) }
        }
        Part::Bench { .. } => {
            let parts = parts
                .into_iter()
                .map(|p| if let Part::Bench { part } = p { Ok(part) } else { Err(mixed()) })
                .collect::<Result<Vec<_>, _>>()?;
            let shards = parts.iter().map(|p| p.shard().ok_or_else(mixed)).collect::<Result<Vec<_>, _>>()?;
            shard::covered(shards)?;
            let mut it = parts.into_iter();
            let mut total = it.next().expect("at least one part");
            for p in it {
                total.add(&p)?;
            }
            print_bench(&total, a.json);
            Ok(())
        }
    }
}
