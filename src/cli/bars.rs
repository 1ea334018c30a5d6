//! [`Bars`]: the progress the library reports, drawn on stderr.

use spikefab::driver::Progress;

/// Progress on stderr: a bar for steps with a known size, a spinner otherwise, then the time
/// each step took; notes are printed as they come.
#[derive(Default)]
pub struct Bars {
    bar: std::sync::Mutex<Option<indicatif::ProgressBar>>,
}

impl Progress for Bars {
    fn begin(&self, what: &str, total: Option<u64>) {
        let bar = match total {
            Some(n) => {
                let b = indicatif::ProgressBar::new(n);
                b.set_style(
                    indicatif::ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} [{elapsed}]")
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                b
            }
            None => indicatif::ProgressBar::new_spinner(),
        };
        bar.set_message(what.to_string());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        if let Ok(mut slot) = self.bar.lock() {
            *slot = Some(bar);
        }
    }

    fn advance(&self, done: u64) {
        if let Ok(slot) = self.bar.lock()
            && let Some(b) = slot.as_ref()
        {
            b.set_position(done);
        }
    }

    fn end(&self, what: &str, seconds: f64) {
        if let Ok(mut slot) = self.bar.lock()
            && let Some(b) = slot.take()
        {
            b.finish_and_clear();
        }
        eprintln!("{what}: {seconds:.1} s");
    }

    fn note(&self, msg: &str) {
        match self.bar.lock().ok().as_ref().and_then(|s| s.as_ref()) {
            Some(b) => b.suspend(|| eprintln!("{msg}")),
            None => eprintln!("{msg}"),
        }
    }
}
