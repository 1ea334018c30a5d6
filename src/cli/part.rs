//! The partial results `verify`, `explore` and `bench --shard I/N` print and `merge` reads: one
//! versioned JSON format, checked on reading.

use serde::{Deserialize, Serialize};
use spikefab::driver::shard::Shard;
use spikefab::driver::{CompareShard, ExploreShard, VerifyPart};

use super::failure::Failure;

/// The format version of partial results.
const FORMAT: u32 = 1;

/// Largest partial result read, bytes.
const MAX_PART_BYTES: u64 = 1 << 30;

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
    /// `compare --shard`.
    Compare { part: CompareShard },
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

/// Reads one partial result, refusing another format, another version or an oversized file.
pub fn read(path: &std::path::Path) -> Result<Part, Failure> {
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
        None => return Err(bad("not a partial result of `verify`, `explore`, `bench` or `compare --shard`".into())),
    }
    let d: Document = serde_json::from_value(v).map_err(|e| bad(format!("malformed partial result: {e}")))?;
    Ok(d.part)
}

/// What one bench run (or one shard of it) measured, in sums that add up over shards.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BenchPart {
    pub shard: Option<Shard>,
    pub model: String,
    pub samples: usize,
    pub timesteps: usize,
    pub threads: usize,
    pub cycle_seconds: f64,
    /// CPU seconds of the process (absent in parts written before it was measured).
    #[serde(default)]
    pub cycle_cpu_seconds: Option<f64>,
    pub synaptic_events: u64,
    pub cycles: u64,
    pub reference_seconds: Option<f64>,
    #[serde(default)]
    pub reference_cpu_seconds: Option<f64>,
}

impl BenchPart {
    /// Adds another shard's measurements (times add: the work of one run, shard by shard).
    pub fn add(&mut self, o: &BenchPart) -> Result<(), Failure> {
        if (&self.model, self.timesteps, self.threads, self.reference_seconds.is_some())
            != (&o.model, o.timesteps, o.threads, o.reference_seconds.is_some())
        {
            return Err(Failure::input(anyhow::anyhow!("the parts bench different models or options")));
        }
        self.samples += o.samples;
        self.cycle_seconds += o.cycle_seconds;
        self.cycle_cpu_seconds = self.cycle_cpu_seconds.zip(o.cycle_cpu_seconds).map(|(a, b)| a + b);
        self.reference_cpu_seconds = self.reference_cpu_seconds.zip(o.reference_cpu_seconds).map(|(a, b)| a + b);
        self.synaptic_events += o.synaptic_events;
        self.cycles += o.cycles;
        self.reference_seconds = self.reference_seconds.zip(o.reference_seconds).map(|(a, b)| a + b);
        Ok(())
    }

    pub fn shard(&self) -> Option<Shard> {
        self.shard
    }
}
