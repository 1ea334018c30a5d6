//! Progress of long steps, reported to whoever drives the library (the CLI draws bars).

/// Receives progress. Every method has a default that does nothing.
pub trait Progress: Sync {
    /// A step starts; `total` units (samples, phases) when known.
    fn begin(&self, _what: &str, _total: Option<u64>) {}
    /// Units done of the current step.
    fn advance(&self, _done: u64) {}
    /// The current step ended after `seconds`.
    fn end(&self, _what: &str, _seconds: f64) {}
    /// Something the user should know: a choice made, a step skipped and why.
    fn note(&self, _msg: &str) {}
}

/// Reports nothing.
pub struct Quiet;

impl Progress for Quiet {}

/// Runs `f` as one step of `p`, timing it.
pub fn step<T>(p: &dyn Progress, what: &str, f: impl FnOnce() -> T) -> T {
    p.begin(what, None);
    let t0 = std::time::Instant::now();
    let r = f();
    p.end(what, t0.elapsed().as_secs_f64());
    r
}
