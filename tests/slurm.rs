//! The documented Slurm sweep (docs/deploy/spikefab-sweep.sbatch) on a real one-node cluster
//! that docs/deploy/local-slurm.sh starts: the array's merged `verify` and `explore` equal one
//! run; a cancelled task and one killed at its time limit are named by their index when the
//! dependent merge fails, and rerunning only them completes the merge with the single run's
//! result. Skips outside CI when Slurm is not installed or not root; never in CI.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{root, scratch, spikefab};

const SCRIPT: &str = "docs/deploy/local-slurm.sh";
const SWEEP: &str = "docs/deploy/spikefab-sweep.sbatch";

/// A running local cluster; stopping it (its own daemons, by their pid files) on drop, so a
/// failing test leaves nothing behind.
struct Cluster {
    dir: PathBuf,
    conf: PathBuf,
}

impl Cluster {
    fn start(dir: PathBuf) -> Cluster {
        let _ = std::fs::remove_dir_all(&dir);
        let out = Command::new(root().join(SCRIPT)).args(["start"]).arg(&dir).output().expect("run local-slurm.sh");
        let c = Cluster { conf: dir.join("slurm.conf"), dir };
        assert!(out.status.success(), "{SCRIPT} start: {}", String::from_utf8_lossy(&out.stderr));
        c
    }

    /// A command with this cluster's SLURM_CONF, run in `cwd`.
    fn cmd(&self, program: impl AsRef<std::ffi::OsStr>, cwd: &Path) -> Command {
        let mut c = Command::new(program);
        c.env("SLURM_CONF", &self.conf).current_dir(cwd);
        c
    }

    /// Runs `c`, which must succeed; its stdout.
    fn ok(&self, c: &mut Command) -> String {
        let out = c.output().unwrap_or_else(|e| panic!("{c:?}: {e}"));
        assert!(out.status.success(), "{c:?}: {}{}", String::from_utf8_lossy(&out.stdout), self.explain(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn explain(&self, stderr: &[u8]) -> String {
        let mut s = String::from_utf8_lossy(stderr).into_owned();
        for log in ["slurmctld.log", "slurmd.log"] {
            let text = std::fs::read_to_string(self.dir.join("log").join(log)).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(15).collect();
            s += &format!("\n--- {log} (last lines)\n{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
        }
        s
    }

    /// Waits until the cluster has no job pending or running.
    fn drain(&self, cwd: &Path, limit: Duration) {
        let t0 = Instant::now();
        loop {
            let q = self.ok(self.cmd("squeue", cwd).args(["--noheader", "--format=%i %T %r"]));
            if q.trim().is_empty() {
                return;
            }
            assert!(t0.elapsed() < limit, "jobs still queued after {limit:?}:\n{q}{}", self.explain(b""));
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Stops the cluster; checks that none of its daemons is left.
    fn stop_checked(&self) {
        let script = root().join(SCRIPT);
        self.ok(Command::new(&script).arg("stop").arg(&self.dir));
        let status = self.ok(Command::new(&script).arg("status").arg(&self.dir));
        assert_eq!(status, "munged: stopped\nslurmctld: stopped\nslurmd: stopped\n");
        let dir = self.dir.display().to_string();
        for p in std::fs::read_dir("/proc").unwrap().flatten() {
            let cmdline = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            let daemon = ["munged", "slurmctld", "slurmd", "slurmstepd"].iter().any(|d| cmdline.contains(d));
            assert!(!(daemon && cmdline.contains(&dir)), "left running: {cmdline}");
        }
    }

    /// Waits until `job` runs.
    fn wait_running(&self, cwd: &Path, job: &str, limit: Duration) {
        let t0 = Instant::now();
        loop {
            let q = self.ok(self.cmd("squeue", cwd).args(["--noheader", "--format=%T", "--jobs", job]));
            if q.trim() == "RUNNING" {
                return;
            }
            assert!(t0.elapsed() < limit, "{job} is not running after {limit:?}: {q}{}", self.explain(b""));
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// A finished job's (state, exit code) as `scontrol` keeps them (MinJobAge = 600 s).
    fn state(&self, cwd: &Path, job: &str) -> (String, String) {
        let s = self.ok(self.cmd("scontrol", cwd).args(["show", "job", "--oneliner", job]));
        let field = |k: &str| {
            s.split_whitespace()
                .find_map(|w| w.strip_prefix(k))
                .map(str::to_string)
                .unwrap_or_else(|| panic!("{k} in {s}"))
        };
        (field("JobState="), field("ExitCode="))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(root().join(SCRIPT)).arg("stop").arg(&self.dir).status();
        if std::thread::panicking() {
            eprintln!("the cluster's config, state and logs are kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// True when this machine can run the cluster; outside CI a test skips with the reason.
fn slurm_or_skip(test: &str) -> bool {
    let missing: Vec<&str> =
        ["slurmctld", "slurmd", "sbatch", "munged"].into_iter().filter(|t| !installed(t)).collect();
    // SAFETY: geteuid has no preconditions.
    let root_user = unsafe { libc::geteuid() } == 0;
    let found = if !missing.is_empty() {
        Err(format!(
            "the local Slurm cluster: {} not installed (Debian: slurmctld slurmd slurm-client munge)",
            missing.join(", ")
        ))
    } else if !root_user {
        Err("the local Slurm cluster: not root (slurmd starts jobs as their user)".to_string())
    } else {
        Ok(())
    };
    common::require(found, test).is_some()
}

fn installed(tool: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).chain([PathBuf::from("/usr/sbin")]).any(|d| d.join(tool).is_file())
}

fn data(name: &str) -> String {
    root().join("models").join(name).display().to_string()
}

/// The sweep's settings (the script's environment) for `what` over the bundled students.
fn settings(what: &str) -> Vec<(&'static str, String)> {
    let (model, timesteps) = match what {
        "verify" => ("models/mlp_bw/mlp_bw.nir", "8"),
        _ => ("models/ensemble_bw/ensemble_bw.nir", "3"),
    };
    vec![
        ("SPIKEFAB", env!("CARGO_BIN_EXE_spikefab").to_string()),
        ("WHAT", what.to_string()),
        ("MODEL", root().join(model).display().to_string()),
        ("DATA", data("digits_test_x.npy")),
        ("LABELS", data("digits_test_y.npy")),
        ("TIMESTEPS", timesteps.to_string()),
        ("LANES", "1,4".to_string()),
    ]
}

/// What one unsharded run prints (verify), or writes with --out (explore), with the timing
/// field `seconds` zeroed.
fn single_run(what: &str, dir: &Path) -> String {
    let s: std::collections::HashMap<_, _> = settings(what).into_iter().collect();
    let mut a: Vec<&str> =
        vec![what, &s["MODEL"], "--from", "snntorch", "-T", &s["TIMESTEPS"], "--labels", &s["LABELS"]];
    let out = dir.join("single.json").display().to_string();
    if what == "verify" {
        a.extend(["--inputs", &s["DATA"]]);
    } else {
        a.extend(["--calib", &s["DATA"], "--lanes-sweep", &s["LANES"], "--all", "--out", &out]);
    }
    let (code, stdout, err) = spikefab(&a);
    assert_eq!(code, 0, "{a:?}: {err}");
    assert!(!stdout.trim().is_empty(), "{a:?} printed nothing");
    if what == "verify" { stdout } else { untimed(&std::fs::read_to_string(&out).unwrap()) }
}

fn untimed(json: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
    assert!(v["seconds"].as_f64().is_some_and(|s| s > 0.0), "seconds: {v}");
    v["seconds"] = serde_json::json!(0);
    serde_json::to_string_pretty(&v).unwrap()
}

/// The merged result in `work`: merge.out (verify) or exploration.json (explore), untimed.
fn merged(what: &str, work: &Path) -> String {
    let sweep = work.join("sweep");
    if what == "verify" {
        std::fs::read_to_string(sweep.join("merge.out")).unwrap()
    } else {
        untimed(&std::fs::read_to_string(sweep.join("exploration.json")).unwrap())
    }
}

/// Submits the documented sweep (`spikefab-sweep.sbatch --submit N [INDICES]`) from `work`:
/// the job ids of the array and of its two merge jobs (afterok, afternotok).
fn submit(c: &Cluster, work: &Path, what: &str, extra_env: &[(&str, String)], args: &[&str]) -> [String; 3] {
    let mut cmd = c.cmd(root().join(SWEEP), work);
    cmd.arg("--submit").args(args).envs(settings(what)).envs(extra_env.iter().map(|(k, v)| (*k, v)));
    let out = c.ok(&mut cmd);
    let words: Vec<&str> = out.split_whitespace().collect();
    let after = |w: &str, nth: usize| {
        let k = words.iter().enumerate().filter(|(_, x)| **x == w).nth(nth).unwrap_or_else(|| panic!("{w} in {out}")).0;
        words[k + 1].to_string()
    };
    [after("job", 0), after("job", 1), after("or", 0)]
}

/// Each part's shard seconds (explore parts carry their wall time).
fn shard_seconds(work: &Path, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let p = work.join("sweep").join(format!("part-{i}.json"));
            let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            find_seconds(&v).unwrap_or_else(|| panic!("no seconds in {}", p.display()))
        })
        .collect()
}

fn find_seconds(v: &serde_json::Value) -> Option<f64> {
    match v {
        serde_json::Value::Object(m) => {
            m.get("seconds").and_then(|s| s.as_f64()).or_else(|| m.values().find_map(find_seconds))
        }
        _ => None,
    }
}

#[test]
fn documented_array_jobs_merge_and_failed_tasks_are_rerun() {
    let test = "documented_array_jobs_merge_and_failed_tasks_are_rerun";
    if !slurm_or_skip(test) {
        return;
    }
    let base = scratch("slurm");
    // The munge socket's path must stay short (a Unix socket path has at most 107 bytes).
    let c = Cluster::start(std::env::temp_dir().join(format!("spikefab-slurm-{}", std::process::id())));
    let limit = Duration::from_secs(240);
    let n = 4;

    // The documented jobs: N array tasks, then the merge that depends on them (afterok).
    for what in ["verify", "explore"] {
        let work = base.join(what);
        std::fs::create_dir_all(&work).unwrap();
        let single = single_run(what, &work);
        let t0 = Instant::now();
        let [array, ..] = submit(&c, &work, what, &[], &[&n.to_string()]);
        c.drain(&work, limit);
        let wall = t0.elapsed().as_secs_f64();
        for i in 0..n {
            let (state, exit) = c.state(&work, &format!("{array}_{i}"));
            assert_eq!((state.as_str(), exit.as_str()), ("COMPLETED", "0:0"), "task {i}");
            let part = std::fs::read_to_string(work.join(format!("sweep/part-{i}.json"))).unwrap();
            assert!(part.contains("\"spikefab_partial\""), "part {i}: {part}");
        }
        assert_eq!(merged(what, &work), single, "{what}: the merged sweep is not the single run");
        if what == "explore" {
            let s = shard_seconds(&work, n);
            let (lo, hi) = s.iter().fold((f64::MAX, 0f64), |(a, b), &x| (a.min(x), b.max(x)));
            eprintln!("explore on Slurm: {n} tasks in {wall:.1} s; shard seconds {s:.2?}, max/min {:.2}", hi / lo);
        } else {
            eprintln!("verify on Slurm: {n} tasks and the merge in {wall:.1} s");
        }
    }

    // The repair path. Task 1 runs into its time limit and task 2 is cancelled (a wrapper makes
    // both sleep before spikefab): the dependent merge runs, fails (exit 2) and names both.
    let work = base.join("repair");
    std::fs::create_dir_all(&work).unwrap();
    let single = single_run("verify", &work);
    let slow = work.join("slow-task-1.sh");
    std::fs::write(
        &slow,
        format!(
            "#!/bin/sh\ncase \"${{SLURM_ARRAY_TASK_ID:-}}\" in 1 | 2) sleep 600 ;; esac\nexec {} \"$@\"\n",
            env!("CARGO_BIN_EXE_spikefab")
        ),
    )
    .unwrap();
    std::fs::set_permissions(&slow, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    // SBATCH_TIMELIMIT overrides the script's #SBATCH --time (minutes).
    let env = [("SPIKEFAB", slow.display().to_string()), ("SBATCH_TIMELIMIT", "1".to_string())];
    let [array, ok, notok] = submit(&c, &work, "verify", &env, &[&n.to_string()]);
    // Cancelled while it runs, as preemption or a node failure would end it (a task cancelled
    // while pending leaves no record without accounting).
    c.wait_running(&work, &format!("{array}_2"), limit);
    c.ok(c.cmd("scancel", &work).arg(format!("{array}_2")));
    c.drain(&work, limit);
    assert_eq!(c.state(&work, &format!("{array}_1")).0, "TIMEOUT");
    assert_eq!(c.state(&work, &format!("{array}_2")).0, "CANCELLED");
    // Slurm cancels the afterok merge (DependencyNeverSatisfied); the afternotok one runs.
    assert_eq!(c.state(&work, &ok).0, "CANCELLED");
    assert_eq!(c.state(&work, &notok), ("FAILED".to_string(), "2:0".to_string()));
    let out = std::fs::read_to_string(work.join("sweep/merge.out")).unwrap();
    assert!(out.contains("shard 1/4 is missing") && out.contains("shard 2/4 is missing"), "merge.out: {out}");
    assert!(!work.join("sweep/part-1.json").exists() && !work.join("sweep/part-2.json").exists());

    // An array that is not 0-(N-1) without SHARDS fails at once instead of splitting wrongly.
    let mut bare = c.cmd("sbatch", &work);
    bare.args(["--parsable", "--array=2"]).arg(root().join(SWEEP)).envs(settings("verify")).env_remove("SHARDS");
    let job = c.ok(&mut bare).trim().to_string();
    c.drain(&work, limit);
    assert_eq!(c.state(&work, &format!("{job}_2")), ("FAILED".to_string(), "2:0".to_string()));
    let log = std::fs::read_to_string(work.join(format!("sweep/slurm-{job}_2.out"))).unwrap();
    assert!(log.contains("give the shard count as SHARDS=N"), "{log}");

    // Rerun only index 2, as docs/deploy/README.md says: the array with SHARDS=N, then the merge
    // after it. Index 1 is still missing, and the merge says so.
    let mut rerun = c.cmd("sbatch", &work);
    rerun
        .args(["--parsable", "--array=2"])
        .arg(root().join(SWEEP))
        .envs(settings("verify"))
        .env("SHARDS", n.to_string());
    let job = c.ok(&mut rerun).trim().to_string();
    let mut merge = c.cmd("sbatch", &work);
    merge.args(["--parsable", "--dependency", &format!("afterok:{job}"), "--output=sweep/merge.out", "--wrap"]);
    merge.arg(format!("{} merge sweep/part-*.json", env!("CARGO_BIN_EXE_spikefab")));
    let merge_job = c.ok(&mut merge).trim().to_string();
    c.drain(&work, limit);
    assert_eq!(c.state(&work, &merge_job), ("FAILED".to_string(), "2:0".to_string()));
    let out = std::fs::read_to_string(work.join("sweep/merge.out")).unwrap();
    assert!(out.contains("shard 1/4 is missing") && !out.contains("shard 2/4"), "merge.out: {out}");

    // The script's shortcut reruns index 1 and merges: the single run's output.
    submit(&c, &work, "verify", &[], &[&n.to_string(), "1"]);
    c.drain(&work, limit);
    assert_eq!(merged("verify", &work), single, "the repaired sweep is not the single run");
    c.stop_checked();
}
