//! Sharding: one run's work split over N processes (a Kubernetes Indexed Job, a Slurm array),
//! each writing a partial result that `spikefab merge` combines into exactly what one run
//! prints. Samples go to shards in contiguous ranges; exploration configurations and compare
//! targets by their estimated cost ([`balance`]), so that shards take similar time.

use std::ops::Range;

use serde::{Deserialize, Serialize};

use super::Error;

/// Shard `index` of `count` (0-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// This shard, `0..count`.
    pub index: usize,
    /// Shards in the run.
    pub count: usize,
}

/// The environment variables a shard's index is taken from when `--shard /N` omits it, in
/// order: Kubernetes Indexed Jobs, then Slurm job arrays.
pub const INDEX_VARIABLES: [&str; 2] = ["JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID"];

/// Most shards in one run.
pub const MAX_SHARDS: usize = 100_000;

impl Shard {
    /// Parses `I/N`, or `/N` with the index from [`INDEX_VARIABLES`] (read through `env`).
    pub fn parse_with(s: &str, env: impl Fn(&str) -> Option<String>) -> Result<Shard, Error> {
        let bad = |why: String| Error::Usage(format!("--shard {s:?}: {why}"));
        let (i, n) =
            s.split_once('/').ok_or_else(|| bad("expected I/N (or /N with the index in the environment)".into()))?;
        let count: usize = n.trim().parse().map_err(|_| bad(format!("{n:?} is not a shard count")))?;
        if count == 0 || count > MAX_SHARDS {
            return Err(bad(format!("the shard count must be 1 to {MAX_SHARDS}")));
        }
        let (text, from) = if i.trim().is_empty() {
            INDEX_VARIABLES
                .iter()
                .find_map(|v| env(v).map(|x| (x, format!("${v}"))))
                .ok_or_else(|| bad(format!("no index given and neither {} is set", INDEX_VARIABLES.join(" nor "))))?
        } else {
            (i.to_string(), "the index".to_string())
        };
        let index: usize = text.trim().parse().map_err(|_| bad(format!("{from} = {text:?} is not a shard index")))?;
        if index >= count {
            return Err(bad(format!("{from} = {index} is not below the shard count {count} (indices start at 0)")));
        }
        Ok(Shard { index, count })
    }

    /// Parses `I/N` or `/N`, reading the process environment.
    pub fn parse(s: &str) -> Result<Shard, Error> {
        Self::parse_with(s, |v| std::env::var(v).ok())
    }

    /// This shard's samples of `n`: a contiguous range; `Err` when some shard would get none.
    pub fn samples(&self, n: usize) -> Result<Range<usize>, Error> {
        if self.count > n {
            return Err(Error::Usage(format!("{} shards for {n} samples: give at most {n}", self.count)));
        }
        Ok(n * self.index / self.count..n * (self.index + 1) / self.count)
    }

    /// Which of the jobs with estimated `costs` are this shard's (see [`balance`]).
    pub fn owned(&self, costs: &[u64]) -> Vec<bool> {
        balance(costs, self.count).into_iter().map(|s| s == self.index).collect()
    }
}

/// The shard of each job: longest first (by falling cost, ties in job order), each to the
/// least loaded shard so far (ties: the lowest index). A pure function of `costs` and `count`,
/// so every shard computes the same assignment without communicating. The `count` costliest
/// jobs start on empty shards, and a shard takes another job only while it is the least loaded.
pub fn balance(costs: &[u64], count: usize) -> Vec<usize> {
    let count = count.max(1);
    let mut order: Vec<usize> = (0..costs.len()).collect();
    order.sort_by_key(|&j| (std::cmp::Reverse(costs[j]), j));
    let mut load = vec![0u64; count];
    let mut to = vec![0; costs.len()];
    for j in order {
        let s = (0..count).min_by_key(|&s| (load[s], s)).expect("at least one shard");
        load[s] = load[s].saturating_add(costs[j].max(1));
        to[j] = s;
    }
    to
}

/// Checks that `shards` are every shard of one run, each once; `Err` names every missing
/// index (the tasks to rerun).
pub fn covered(mut shards: Vec<Shard>) -> Result<(), Error> {
    let count = shards.first().map(|s| s.count).ok_or_else(|| Error::Usage("no parts to merge".into()))?;
    if let Some(s) = shards.iter().find(|s| s.count != count) {
        return Err(Error::Usage(format!("parts of runs with {count} and {} shards", s.count)));
    }
    if let Some(s) = shards.iter().find(|s| s.index >= count) {
        return Err(Error::Usage(format!("shard {}/{count} is not below the shard count", s.index)));
    }
    shards.sort_by_key(|s| s.index);
    if let Some(w) = shards.windows(2).find(|w| w[0].index == w[1].index) {
        return Err(Error::Usage(format!("shard {}/{count} is there twice", w[0].index)));
    }
    let missing: Vec<String> = (0..count)
        .filter(|i| shards.binary_search_by_key(i, |s| s.index).is_err())
        .map(|i| format!("shard {i}/{count} is missing"))
        .collect();
    if missing.is_empty() { Ok(()) } else { Err(Error::Usage(missing.join("; "))) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        move |k| vars.iter().find(|(a, _)| a == k).map(|(_, b)| b.clone())
    }

    #[test]
    fn parses_index_and_environment() {
        assert_eq!(Shard::parse_with("2/5", env(&[])).unwrap(), Shard { index: 2, count: 5 });
        let k8s = env(&[("JOB_COMPLETION_INDEX", "3"), ("SLURM_ARRAY_TASK_ID", "1")]);
        assert_eq!(Shard::parse_with("/4", k8s).unwrap(), Shard { index: 3, count: 4 });
        assert_eq!(Shard::parse_with("/4", env(&[("SLURM_ARRAY_TASK_ID", "1")])).unwrap().index, 1);
        for bad in ["", "3", "5/5", "-1/3", "1/0", "/3", "a/3", "1/b", "0/1000001"] {
            assert!(Shard::parse_with(bad, env(&[])).is_err(), "{bad}");
        }
        let e = Shard::parse_with("/2", env(&[("SLURM_ARRAY_TASK_ID", "2")])).unwrap_err().to_string();
        assert!(e.contains("$SLURM_ARRAY_TASK_ID = 2 is not below the shard count 2"), "{e}");
    }

    #[test]
    fn sample_ranges_partition_the_batch() {
        for n in [1, 7, 10, 450] {
            for count in 1..=n.min(9) {
                let mut next = 0;
                for index in 0..count {
                    let r = Shard { index, count }.samples(n).unwrap();
                    assert_eq!(r.start, next);
                    assert!(!r.is_empty());
                    next = r.end;
                }
                assert_eq!(next, n);
            }
        }
        assert!(Shard { index: 0, count: 4 }.samples(3).is_err());
    }

    #[test]
    fn balance_is_deterministic_and_keeps_big_jobs_apart() {
        // One ResNet-sized job among many small ones.
        let mut costs = vec![10u64; 40];
        costs[7] = 1000;
        for count in 1..=8 {
            let a = balance(&costs, count);
            assert_eq!(a, balance(&costs, count));
            assert!(a.iter().all(|&s| s < count));
            let owned: Vec<Vec<bool>> = (0..count).map(|index| Shard { index, count }.owned(&costs)).collect();
            for j in 0..costs.len() {
                assert_eq!(owned.iter().filter(|o| o[j]).count(), 1, "job {j} in exactly one shard");
            }
            if count > 1 {
                let with_big = a.iter().filter(|&&s| s == a[7]).count();
                assert_eq!(with_big, 1, "{count} shards: the big job shares its shard");
            }
            let mut load = vec![0u64; count];
            for (j, &s) in a.iter().enumerate() {
                load[s] += costs[j];
            }
            let small_loads: Vec<u64> = (0..count).filter(|&s| s != a[7]).map(|s| load[s]).collect();
            if let (Some(lo), Some(hi)) = (small_loads.iter().min(), small_loads.iter().max()) {
                assert!(hi - lo <= 10, "{count} shards: {load:?}");
            }
        }
        // Equal costs fall back to round-robin in job order.
        assert_eq!(balance(&[5; 7], 3), [0, 1, 2, 0, 1, 2, 0]);
        assert!(balance(&[], 3).is_empty());
    }

    #[test]
    fn coverage() {
        let s = |index, count| Shard { index, count };
        assert!(covered(vec![s(1, 3), s(0, 3), s(2, 3)]).is_ok());
        assert!(covered(vec![s(1, 3), s(0, 3)]).unwrap_err().to_string().contains("2/3 is missing"));
        assert!(covered(vec![s(0, 3), s(0, 3), s(2, 3)]).unwrap_err().to_string().contains("twice"));
        assert!(covered(vec![s(0, 2), s(1, 3)]).is_err());
        let e = covered(vec![s(3, 4), s(0, 4)]).unwrap_err().to_string();
        assert!(e.contains("shard 1/4 is missing; shard 2/4 is missing"), "{e}");
        assert!(covered(vec![s(0, 2), s(2, 2), s(1, 2)]).is_err());
        assert!(covered(vec![]).is_err());
    }
}
