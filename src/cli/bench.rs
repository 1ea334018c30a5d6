//! `spikefab bench`: the cycle-accurate engine and the reference engine side by side in one
//! run, on one thread each, on the same model and inputs: samples per second (per second of
//! wall time and per second of the process's CPU time, which other jobs on a shared machine
//! disturb less), synaptic events per second, and their ratio. (benches/snntorch_bench.py
//! times snnTorch on the same files, the same two ways.)

use std::time::Instant;

use clap::Args;
use spikefab::driver::shard::Shard;
use spikefab::driver::steps_for;
use spikefab::sim::{cycle, reference};

use super::failure::Failure;
use super::model_args::ModelOnInputs;
use super::part::{BenchPart, Part, write_part};
use super::print::print_bench;

/// Most threads per engine `bench` starts.
const MAX_THREADS: usize = 1024;

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(flatten)]
    on: ModelOnInputs,
    /// Threads per engine (1 to 1024).
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

pub fn run(a: BenchArgs) -> Result<(), Failure> {
    if !(1..=MAX_THREADS).contains(&a.threads) {
        return Err(Failure::input(anyhow::anyhow!("--threads must be 1 to {MAX_THREADS}")));
    }
    let (m, all) = a.on.load()?;
    let steps = steps_for(&m, Some(&all))?;
    // The plan of every input: each shard and each --samples runs the same hardware.
    let plan = a.on.plan.plan(&m, steps, Some(&all))?;
    let mut batch = a.on.input.samples.of(&all).map_err(Failure::input)?.into_owned();
    let shard = a.shard.as_deref().map(Shard::parse).transpose()?;
    if let Some(s) = shard {
        batch = batch.range(s.samples(batch.n)?);
    }
    // The system refusing threads is not the user's input.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(a.threads)
        .build()
        .map_err(|e| Failure::io(anyhow::anyhow!("cannot start {} threads: {e}", a.threads)))?;
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
        return write_part(&Part::Bench { part });
    }
    print_bench(&part, a.json);
    Ok(())
}
