//! Documented limits on the work and memory one command may ask for.
//!
//! Model files and input arrays come from anywhere, so every size they declare is checked
//! against these limits before anything is allocated:
//! - a parameter tensor holds at most [`crate::front::MAX_ELEMENTS`] values and a node's
//!   output at most [`crate::valid::MAX_NUMEL`] elements;
//! - a run has at most [`MAX_TIMESTEPS`] timesteps;
//! - the arrays a run holds at once (inputs as f64, recorded outputs, delay histories) stay
//!   below [`memory_limit`]: 8 GiB unless the environment variable `SPIKEFAB_MEMORY_LIMIT_GB`
//!   says otherwise (a positive number of GiB).

use std::fmt;

/// Most timesteps per inference.
pub const MAX_TIMESTEPS: usize = 1_000_000;

/// Default of [`memory_limit`] in bytes.
pub const DEFAULT_MEMORY_LIMIT: u64 = 8 << 30;

/// The memory budget of one run in bytes (see the module docs).
pub fn memory_limit() -> u64 {
    std::env::var("SPIKEFAB_MEMORY_LIMIT_GB")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|g| g.is_finite() && *g > 0.0)
        .map_or(DEFAULT_MEMORY_LIMIT, |g| (g * (1u64 << 30) as f64).min(u64::MAX as f64) as u64)
}

/// A request beyond a limit.
#[derive(Debug, Clone, PartialEq)]
pub struct LimitError {
    /// What was asked for, e.g. `recording 450 samples x 8 steps x 10 outputs`.
    pub what: String,
    /// Bytes it needs.
    pub bytes: u64,
    /// The limit in bytes.
    pub limit: u64,
}

impl fmt::Display for LimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} needs about {} of memory, above the limit of {} (set SPIKEFAB_MEMORY_LIMIT_GB to raise it)",
            self.what,
            gib(self.bytes),
            gib(self.limit)
        )
    }
}

impl std::error::Error for LimitError {}

fn gib(b: u64) -> String {
    if b >= 1 << 30 {
        format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64)
    } else {
        format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64)
    }
}

/// Checks that `elements` values of `bytes_each` bytes fit the memory limit.
pub fn check_bytes(what: impl FnOnce() -> String, elements: u64, bytes_each: u64) -> Result<(), LimitError> {
    let limit = memory_limit();
    let bytes = elements.saturating_mul(bytes_each);
    if bytes > limit { Err(LimitError { what: what(), bytes, limit }) } else { Ok(()) }
}

/// Checks a simulation run of `n` samples and `steps` steps recording `out_numel` output values
/// per step (held twice while samples are gathered, as f64) plus `history_numel` values per
/// step of state that grows with time (delay lines).
pub fn check_run(n: usize, steps: usize, out_numel: usize, history_numel: usize) -> Result<(), LimitError> {
    let per_step = (out_numel as u64).saturating_mul(2).saturating_mul(n as u64);
    let history = (history_numel as u64).saturating_mul(rayon::current_num_threads() as u64);
    let elements = per_step.saturating_add(history).saturating_mul(steps as u64);
    check_bytes(|| format!("recording {n} samples x {steps} steps x {out_numel} outputs"), elements, 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_beyond_the_budget_are_refused_before_allocating() {
        assert!(check_run(450, 8, 10, 0).is_ok());
        let e = check_run(450, 4_294_967_296, 10, 0).unwrap_err();
        assert!(e.bytes > e.limit);
        assert!(e.to_string().contains("SPIKEFAB_MEMORY_LIMIT_GB"), "{e}");
        assert!(check_run(usize::MAX, usize::MAX, usize::MAX, usize::MAX).is_err());
    }
}
