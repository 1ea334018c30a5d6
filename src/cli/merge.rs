//! `spikefab merge`: combines the partial results that `verify`, `explore` and `bench` print
//! with `--shard I/N` into exactly what one unsharded run prints (text, or `--json`). Only
//! wall times differ: a merged run reports the sum of its shards' times.

use std::path::PathBuf;

use clap::Args;
use serde::{Deserialize, Serialize};
use spikefab::driver::{ExploreShard, VerifyPart, merge_explore, merge_verify, shard};

use super::Failure;
use super::bench::{BenchPart, print_bench};
use super::explore::print_exploration;
use super::verify::print_plan_check;

/// The format version of partial results.
const FORMAT: u32 = 1;

/// Largest partial result read, bytes.
const MAX_PART_BYTES: u64 = 1 << 30;

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

/// One shard's partial result.
#[derive(Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "lowercase")]
pub enum Part {
    /// `verify --shard`.
    Verify { part: VerifyPart },
    /// `explore --shard`; `all` is its `--all`.
    Explore { part: ExploreShard, all: bool },
    /// `bench --shard`.
    Bench { part: BenchPart },
}

#[derive(Serialize, Deserialize)]
struct Document {
    spikefab_partial: u32,
    #[serde(flatten)]
    part: Part,
}

/// Prints a partial result on stdout.
pub fn write_part(part: &Part) -> Result<(), Failure> {
    #[derive(Serialize)]
    struct Out<'a> {
        spikefab_partial: u32,
        #[serde(flatten)]
        part: &'a Part,
    }
    println!("{}", serde_json::to_string_pretty(&Out { spikefab_partial: FORMAT, part }).expect("plain data"));
    Ok(())
}

fn read(path: &std::path::Path) -> Result<Part, Failure> {
    let bad = |m: String| Failure::input(anyhow::anyhow!("{}: {m}", path.display()));
    let size = std::fs::metadata(path).map_err(|e| bad(format!("cannot read: {e}")))?.len();
    if size > MAX_PART_BYTES {
        return Err(bad(format!("{size} bytes is above the limit of {MAX_PART_BYTES} for a partial result")));
    }
    let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read: {e}")))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("not a partial result (invalid JSON: {e})")))?;
    match v.get("spikefab_partial").and_then(|f| f.as_u64()) {
        Some(f) if f == u64::from(FORMAT) => {}
        Some(f) => return Err(bad(format!("partial result format {f}; this spikefab reads format {FORMAT}"))),
        None => return Err(bad("not a partial result of `verify`, `explore` or `bench --shard`".into())),
    }
    let d: Document = serde_json::from_value(v).map_err(|e| bad(format!("malformed partial result: {e}")))?;
    Ok(d.part)
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
            let e = merge_explore(parts)?;
            let doc = e.json();
            if let Some(p) = &a.out {
                std::fs::write(p, serde_json::to_string_pretty(&doc).expect("json") + "\n")
                    .map_err(|e| Failure::input(anyhow::anyhow!("{}: cannot write: {e}", p.display())))?;
            }
            if a.json {
                println!("{}", serde_json::to_string_pretty(&doc).expect("json"));
                return Ok(());
            }
            print_exploration(&e, all);
            if let Some(p) = &a.out {
                println!("wrote {}", p.display());
            }
            Ok(())
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
                total.add(&p).map_err(|m| Failure::input(anyhow::anyhow!(m)))?;
            }
            print_bench(&total, a.json);
            Ok(())
        }
    }
}
