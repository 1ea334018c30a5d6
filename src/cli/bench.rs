//! `spikefab bench`: the cycle-accurate engine and the reference engine side by side in one
//! run, on one thread each, on the same model and inputs: samples per second (per second of
//! wall time and per second of the process's CPU time, which other jobs on a shared machine
//! disturb less), synaptic events per second, and their ratio. (benches/snntorch_bench.py
//! times snnTorch on the same files, the same two ways.)

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use serde_json::json;
use spikefab::sim::{cycle, reference};

use super::{Failure, ModelArgs, PlanArgs};
use spikefab::driver::shard::Shard;
use spikefab::driver::steps_for;

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    plan: PlanArgs,
    /// Inputs (.npy).
    #[arg(long)]
    inputs: PathBuf,
    /// Samples to run (default: all).
    #[arg(long)]
    samples: Option<usize>,
    /// Threads per engine.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Repetitions (the fastest is reported).
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Skip the reference engine.
    #[arg(long)]
    no_reference: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Run only shard I of N (0-based) of the samples and print a partial result for
    /// `spikefab merge`; `/N` takes I from $JOB_COMPLETION_INDEX or $SLURM_ARRAY_TASK_ID.
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
}

/// CPU time of this process (every thread), seconds.
fn process_cpu_seconds() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid timespec for clock_gettime to write.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if r == 0 { ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9 } else { f64::NAN }
}

/// Runs `f` `repeat` times; the fastest wall time, the fastest CPU time and the last result.
fn best<T>(repeat: usize, mut f: impl FnMut() -> T) -> (f64, f64, T) {
    let (mut wall, mut cpu) = (f64::INFINITY, f64::INFINITY);
    let mut out = None;
    for _ in 0..repeat.max(1) {
        let (t0, c0) = (Instant::now(), process_cpu_seconds());
        let r = f();
        wall = wall.min(t0.elapsed().as_secs_f64());
        cpu = cpu.min(process_cpu_seconds() - c0);
        out = Some(r);
    }
    (wall, cpu, out.expect("at least one run"))
}

/// What one bench run (or one shard of it) measured, in sums that add up over shards.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BenchPart {
    shard: Option<Shard>,
    model: String,
    samples: usize,
    timesteps: usize,
    threads: usize,
    cycle_seconds: f64,
    /// CPU seconds of the process (absent in parts written before it was measured).
    #[serde(default)]
    cycle_cpu_seconds: Option<f64>,
    synaptic_events: u64,
    cycles: u64,
    reference_seconds: Option<f64>,
    #[serde(default)]
    reference_cpu_seconds: Option<f64>,
}

impl BenchPart {
    /// Adds another shard's measurements (times add: the work of one run, shard by shard).
    pub fn add(&mut self, o: &BenchPart) -> Result<(), String> {
        if (&self.model, self.timesteps, self.threads, self.reference_seconds.is_some())
            != (&o.model, o.timesteps, o.threads, o.reference_seconds.is_some())
        {
            return Err("the parts bench different models or options".into());
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

pub fn run(a: BenchArgs) -> Result<(), Failure> {
    let m = a.model.load()?;
    let mut batch = a.model.inputs(&m, &a.inputs)?;
    if let Some(n) = a.samples {
        batch = batch.take(n);
    }
    let steps = steps_for(&m, Some(&batch))?;
    // The plan of the whole batch: every shard runs the same hardware.
    let plan = a.plan.settings().plan(&m, steps, Some(&batch))?;
    let shard = a.shard.as_deref().map(Shard::parse).transpose()?;
    if let Some(s) = shard {
        batch = batch.range(s.samples(batch.n)?);
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(a.threads)
        .build()
        .map_err(|e| Failure::input(anyhow::anyhow!("thread pool: {e}")))?;
    let (t_cycle, cpu_cycle, c) = pool.install(|| best(a.repeat, || cycle::run(&plan, &batch, steps)));
    let mut part = BenchPart {
        shard,
        model: m.path.display().to_string(),
        samples: batch.n,
        timesteps: steps,
        threads: a.threads,
        cycle_seconds: t_cycle,
        cycle_cpu_seconds: Some(cpu_cycle),
        synaptic_events: c.total.layers.iter().map(|l| l.synaptic_ops).sum(),
        cycles: c.total.cycles,
        reference_seconds: None,
        reference_cpu_seconds: None,
    };
    if !a.no_reference {
        let output = m.graph.select_output(None).map_err(Failure::input)?;
        let opts = reference::RunOptions { steps, f64: false, output };
        let (t_ref, cpu_ref, r) =
            pool.install(|| best(a.repeat, || reference::run(&m.graph, &m.info, m.dialect(), &batch, &opts, None)));
        r.map_err(Failure::input)?;
        part.reference_seconds = Some(t_ref);
        part.reference_cpu_seconds = Some(cpu_ref);
    }
    if shard.is_some() {
        return super::merge::write_part(&super::merge::Part::Bench { part });
    }
    print_bench(&part, a.json);
    Ok(())
}

/// Prints what `bench` measured as text or JSON.
pub fn print_bench(p: &BenchPart, json_out: bool) {
    let n = p.samples as f64;
    let (t_cycle, events) = (p.cycle_seconds, p.synaptic_events);
    let mut report = json!({
        "model": p.model,
        "samples": p.samples,
        "timesteps": p.timesteps,
        "threads": p.threads,
        "cycle_engine": {
            "seconds": t_cycle,
            "samples_per_s": n / t_cycle,
            "synaptic_events_per_sample": events as f64 / n,
            "synaptic_events_per_s": events as f64 / t_cycle,
            "cycles_per_inference_mean": p.cycles as f64 / n,
        },
    });
    if let Some(c) = p.cycle_cpu_seconds {
        report["cycle_engine"]["cpu_seconds"] = json!(c);
        report["cycle_engine"]["samples_per_cpu_s"] = json!(n / c);
    }
    if let Some(t_ref) = p.reference_seconds {
        report["reference_engine"] = json!({"seconds": t_ref, "samples_per_s": n / t_ref});
        if let Some(c) = p.reference_cpu_seconds {
            report["reference_engine"]["cpu_seconds"] = json!(c);
            report["reference_engine"]["samples_per_cpu_s"] = json!(n / c);
        }
        report["cycle_over_reference"] = json!(t_ref / t_cycle);
    }
    let steps = p.timesteps;
    if json_out {
        println!("{}", serde_json::to_string_pretty(&report).expect("json"));
    } else {
        let ce = &report["cycle_engine"];
        println!(
            "{}: {} samples, T = {steps}, {} thread(s)",
            report["model"].as_str().unwrap_or(""),
            p.samples,
            p.threads
        );
        let cpu = |v: &serde_json::Value| match v["samples_per_cpu_s"].as_f64() {
            Some(c) => format!("  {c:>10.1} samples/CPU-s"),
            None => String::new(),
        };
        println!(
            "  cycle engine:     {:>10.1} samples/s{}  {:>8.3e} synaptic events/s  ({:.0} events and {:.0} cycles per inference)",
            ce["samples_per_s"].as_f64().unwrap_or(0.0),
            cpu(ce),
            ce["synaptic_events_per_s"].as_f64().unwrap_or(0.0),
            ce["synaptic_events_per_sample"].as_f64().unwrap_or(0.0),
            ce["cycles_per_inference_mean"].as_f64().unwrap_or(0.0),
        );
        if let Some(r) = report.get("reference_engine") {
            println!(
                "  reference engine: {:>10.1} samples/s{}   (cycle engine {:.2}x the reference)",
                r["samples_per_s"].as_f64().unwrap_or(0.0),
                cpu(r),
                report["cycle_over_reference"].as_f64().unwrap_or(0.0)
            );
        }
    }
}
