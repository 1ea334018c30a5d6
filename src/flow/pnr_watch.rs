//! Where a running nextpnr is, read off its log (`nextpnr.log`) as the log grows, for progress
//! on builds that take hours (the scale models route for one to two): after [`QUIET_FOR`], a
//! note when it moves from one phase to the next (the analytical placer, the annealing placer, routing, routed) and
//! every [`NOTE_EVERY`] within a phase, with the placer's iteration, or the router's arcs left
//! of those it started with (router1; router2's pass and overused wires) and how far they fell
//! since the last note, which is what says whether a congested design is converging.
//!
//! Reading is bounded: at most [`READ_CHUNK`] new bytes per look, a look at most every
//! [`LOOK_EVERY`], an unfinished line kept up to [`LONGEST_LINE`] bytes (longer ones are
//! dropped). A log that cannot be read yet (nextpnr has not opened it) is no error: the watch
//! only reports.

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// No note before the run has lasted this long: a short build says nothing more than before.
pub const QUIET_FOR: Duration = Duration::from_secs(60);
/// The longest a phase runs without a note.
pub const NOTE_EVERY: Duration = Duration::from_secs(300);
/// The shortest time between two reads of the log.
pub const LOOK_EVERY: Duration = Duration::from_secs(5);
/// Most bytes one look reads.
pub const READ_CHUNK: u64 = 1 << 20;
/// Longest log line kept whole (nextpnr's are under 300 bytes; a longer one is not a status).
pub const LONGEST_LINE: usize = 4096;

/// A phase of nextpnr and how far it is.
#[derive(Clone, Debug, PartialEq)]
pub enum PnrPhase {
    /// Nothing recognised yet (reading, packing, the initial placement).
    Starting,
    /// The placer.
    Placing {
        /// "analytical" (HeAP) or "annealing".
        stage: &'static str,
        /// Its latest iteration.
        iteration: u64,
    },
    /// router1.
    Routing {
        /// Arcs to route when it started.
        arcs: Option<u64>,
        /// Arcs left in its latest row.
        left: Option<u64>,
    },
    /// router2.
    Router2 {
        /// Its latest pass (0: started, no pass done).
        pass: u64,
        /// Wires still overused after it.
        overused: u64,
    },
    /// Routing finished (timing analysis and the report follow).
    Routed,
}

impl PnrPhase {
    /// The phase's name: a change of name is a new phase.
    fn name(&self) -> &'static str {
        match self {
            PnrPhase::Starting => "starting",
            PnrPhase::Placing { stage, .. } => stage,
            PnrPhase::Routing { .. } | PnrPhase::Router2 { .. } => "routing",
            PnrPhase::Routed => "routed",
        }
    }
}

/// The first unsigned integer in `s` after `key` (`key` included in `s`).
fn number_after(s: &str, key: &str) -> Option<u64> {
    let rest = &s[s.find(key)? + key.len()..];
    let digits: String = rest.trim_start().chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The phase `line` of nextpnr's log moves `phase` to (`None`: the line says nothing new).
/// Recognised: "Running main analytical placer", "at iteration #N, type ALL" (HeAP), "Running
/// simulated annealing placer", "at iteration #N: temp" (annealing), "Routing N arcs.", router1's
/// rows (`IterCnt | re-routed | delta | remaining | time`), router2's "iter=N wires=W
/// overused=O" (after "Running router2"), "Routing complete.".
pub fn next_phase(phase: &PnrPhase, line: &str) -> Option<PnrPhase> {
    let l = line.trim_start_matches("Info:").trim();
    if l.starts_with("Running main analytical placer") {
        return Some(PnrPhase::Placing { stage: "analytical", iteration: 0 });
    }
    if l.starts_with("Running simulated annealing placer") {
        return Some(PnrPhase::Placing { stage: "annealing", iteration: 0 });
    }
    if l.starts_with("at iteration #") {
        let iteration = number_after(l, "#")?;
        let stage = if l.contains("type ALL") || l.contains("wirelen solved") {
            "analytical"
        } else if l.contains("temp =") {
            "annealing"
        } else {
            return None;
        };
        return Some(PnrPhase::Placing { stage, iteration });
    }
    if l.starts_with("Running router2") {
        return Some(PnrPhase::Router2 { pass: 0, overused: 0 });
    }
    // (router2 ends with "Router2 time", then router1 checks its routes: "Routing N arcs." and
    // "Routing complete." follow, so only the latter says routed.)
    if l.starts_with("Routing complete") {
        return Some(PnrPhase::Routed);
    }
    if let Some(rest) = l.strip_prefix("Routing ") {
        if rest.ends_with("arcs.") {
            let arcs = number_after(rest, "")?;
            return Some(PnrPhase::Routing { arcs: Some(arcs), left: None });
        }
        return None;
    }
    if l.starts_with("iter=") && l.contains("overused=") {
        return Some(PnrPhase::Router2 { pass: number_after(l, "iter=")?, overused: number_after(l, "overused=")? });
    }
    // router1's rows: "   1000 |     77    922 |   77   922 |    180461|   4.06   4.06|".
    let cols: Vec<&str> = l.split('|').collect();
    if cols.len() >= 5 && cols[0].trim().parse::<u64>().is_ok() {
        let left: u64 = cols[3].trim().parse().ok()?;
        let arcs = match phase {
            PnrPhase::Routing { arcs, .. } => *arcs,
            _ => None,
        };
        return Some(PnrPhase::Routing { arcs, left: Some(left) });
    }
    None
}

/// The note for `phase`, `minutes` into the run; `before`, the phase last noted.
pub fn describe(phase: &PnrPhase, before: Option<&PnrPhase>, minutes: f64) -> String {
    let at = format!("{minutes:.0} min in");
    match phase {
        PnrPhase::Starting => format!("nextpnr: packing and the initial placement, {at}"),
        PnrPhase::Placing { stage, iteration } => {
            format!("nextpnr: placing ({stage} placer, iteration {iteration}), {at}")
        }
        PnrPhase::Routing { arcs, left } => {
            let of = arcs.map(|a| format!(" of {a}")).unwrap_or_default();
            match left {
                None => format!("nextpnr: routing {} arcs, {at}", arcs.map_or("its".to_string(), |a| a.to_string())),
                Some(n) => {
                    let fell = match before {
                        Some(PnrPhase::Routing { left: Some(b), .. }) => {
                            format!(
                                "; {} since the last report",
                                if *b >= *n { format!("down {}", b - n) } else { format!("up {}", n - b) }
                            )
                        }
                        _ => String::new(),
                    };
                    format!("nextpnr: routing, {n}{of} arcs left, {at}{fell}")
                }
            }
        }
        PnrPhase::Router2 { pass: 0, .. } => format!("nextpnr: routing (router2, its first pass), {at}"),
        PnrPhase::Router2 { pass, overused } => {
            let fell = match before {
                Some(PnrPhase::Router2 { overused: b, .. }) if b != overused => format!(" (was {b})"),
                _ => String::new(),
            };
            format!("nextpnr: routing (router2), pass {pass}, {overused} wires overused{fell}, {at}")
        }
        PnrPhase::Routed => format!("nextpnr: routed, {at}; timing analysis and the report"),
    }
}

/// A running nextpnr's log, watched.
pub struct PnrWatch {
    log: PathBuf,
    t0: Instant,
    /// Bytes of the log consumed.
    read: u64,
    /// The unfinished last line.
    partial: Vec<u8>,
    /// A line longer than [`LONGEST_LINE`] was dropped: skip to its end.
    skipping: bool,
    phase: PnrPhase,
    /// When the last look was, and the last note with the phase it told.
    looked: Option<Instant>,
    told: Option<(Instant, PnrPhase)>,
}

impl PnrWatch {
    /// Watches `log`, the run started at `t0`.
    pub fn new(log: PathBuf, t0: Instant) -> PnrWatch {
        PnrWatch {
            log,
            t0,
            read: 0,
            partial: vec![],
            skipping: false,
            phase: PnrPhase::Starting,
            looked: None,
            told: None,
        }
    }

    /// The phase as far as the log has been read.
    pub fn phase(&self) -> &PnrPhase {
        &self.phase
    }

    /// Reads what the log gained (within the bounds above) and moves the phase.
    fn read_more(&mut self) {
        let Ok(mut f) = std::fs::File::open(&self.log) else { return };
        if f.seek(SeekFrom::Start(self.read)).is_err() {
            return;
        }
        let mut buf = Vec::new();
        let Ok(n) = f.take(READ_CHUNK).read_to_end(&mut buf) else { return };
        self.read += n as u64;
        let mut new = &buf[..];
        if self.skipping {
            // The rest of a dropped line, up to its end, is not a line of its own.
            let Some(end) = new.iter().position(|&b| b == b'\n') else { return };
            new = &new[end + 1..];
            self.skipping = false;
        }
        self.partial.extend_from_slice(new);
        let Some(end) = self.partial.iter().rposition(|&b| b == b'\n') else {
            if self.partial.len() > LONGEST_LINE {
                self.partial.clear();
                self.skipping = true;
            }
            return;
        };
        let rest = self.partial.split_off(end + 1);
        for line in String::from_utf8_lossy(&self.partial).lines() {
            if let Some(p) = next_phase(&self.phase, line) {
                self.phase = p;
            }
        }
        self.partial.clear();
        if rest.len() > LONGEST_LINE {
            self.skipping = true;
        } else {
            self.partial = rest;
        }
    }

    /// At `now`, from [`QUIET_FOR`] into the run: reads the log if [`LOOK_EVERY`] has passed
    /// since the last look, and notes the phase through `note` at the first look, when it
    /// changed since the last note, or when [`NOTE_EVERY`] has passed within it.
    pub fn poll_at(&mut self, now: Instant, note: &dyn Fn(&str)) {
        if now.duration_since(self.t0) < QUIET_FOR || self.looked.is_some_and(|t| now.duration_since(t) < LOOK_EVERY) {
            return;
        }
        self.looked = Some(now);
        self.read_more();
        let due = match &self.told {
            None => true,
            Some((t, p)) => p.name() != self.phase.name() || now.duration_since(*t) >= NOTE_EVERY,
        };
        if due {
            let minutes = now.duration_since(self.t0).as_secs_f64() / 60.0;
            note(&describe(&self.phase, self.told.as_ref().map(|(_, p)| p), minutes));
            self.told = Some((now, self.phase.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines of real nextpnr-ecp5 0.11.1 logs (YoWASP): the ResNet-18 scale model's builds
    /// (router1), and router2's row as nextpnr prints it.
    const LOG: &str = "Info: Running main analytical placer, max placement attempts per cell = 113958169.
Info:     at iteration #1, type ALL: wirelen solved = 11074, spread = 1429611, legal = 1480762; time = 29.68s
Info:     at iteration #2, type ALL: wirelen solved = 123033, spread = 683428, legal = 770262; time = 41.99s
Info: Running simulated annealing placer for refinement.
Info:   at iteration #1: temp = 0.000000, timing cost = 2516, wirelen = 476795
Info:   at iteration #5: temp = 0.000000, timing cost = 2045, wirelen = 427635
Info: Routing globals...
Info: Routing..
Info: Setting up routing queue.
Info: Routing 181350 arcs.
Info:            |   (re-)routed arcs  |   delta    | remaining|       time spent     |
Info:    IterCnt |  w/ripup   wo/ripup |  w/r  wo/r |      arcs| batch(sec) total(sec)|
Info:       1000 |       77        922 |   77   922 |    180461|       4.06       4.06|
Info:       2000 |      149       1850 |   72   928 |    179575|       0.80       4.86|
Info:     818639 |   220925     586971 |   35   485 |         0|       1.58    2256.32|
Info: Routing complete.
";

    fn phases(text: &str) -> Vec<PnrPhase> {
        let mut p = PnrPhase::Starting;
        let mut out = vec![];
        for l in text.lines() {
            if let Some(n) = next_phase(&p, l) {
                p = n;
                out.push(p.clone());
            }
        }
        out
    }

    #[test]
    fn the_phases_are_read_off_nextpnrs_lines() {
        let a = |iteration| PnrPhase::Placing { stage: "analytical", iteration };
        let s = |iteration| PnrPhase::Placing { stage: "annealing", iteration };
        let r = |left| PnrPhase::Routing { arcs: Some(181350), left };
        assert_eq!(
            phases(LOG),
            vec![
                a(0),
                a(1),
                a(2),
                s(0),
                s(1),
                s(5),
                r(None),
                r(Some(180461)),
                r(Some(179575)),
                r(Some(0)),
                PnrPhase::Routed
            ]
        );
        // Lines that look alike but are not statuses move nothing.
        for l in [
            "Info: Routing globals...",
            "Info: [ -8645,  -7095) |+",
            "Info:    IterCnt |  w/ripup   wo/ripup |  w/r  wo/r |      arcs| batch(sec) total(sec)|",
            "Info: at iteration #x, type ALL",
            "Info: Routing 99999999999999999999999 arcs.",
        ] {
            assert_eq!(next_phase(&PnrPhase::Starting, l), None, "{l}");
        }
        let r2 =
            next_phase(&PnrPhase::Starting, "Info:     iter=12 wires=183211 overused=4410 overuse=5121 archfail=NA");
        assert_eq!(r2, Some(PnrPhase::Router2 { pass: 12, overused: 4410 }));
        // router2's start is routing; its end is not routed yet (router1 checks its routes).
        assert_eq!(
            next_phase(&PnrPhase::Starting, "Info: Running router2..."),
            Some(PnrPhase::Router2 { pass: 0, overused: 0 })
        );
        assert_eq!(next_phase(&PnrPhase::Starting, "Info: Router2 time 812.40s"), None);
    }

    #[test]
    fn notes_say_how_far_the_router_got_since_the_last() {
        let before = PnrPhase::Routing { arcs: Some(189363), left: Some(124461) };
        let now = PnrPhase::Routing { arcs: Some(189363), left: Some(123061) };
        assert_eq!(
            describe(&now, Some(&before), 74.2),
            "nextpnr: routing, 123061 of 189363 arcs left, 74 min in; down 1400 since the last report"
        );
        let p = PnrPhase::Router2 { pass: 9, overused: 310 };
        assert_eq!(
            describe(&p, Some(&PnrPhase::Router2 { pass: 8, overused: 512 }), 3.0),
            "nextpnr: routing (router2), pass 9, 310 wires overused (was 512), 3 min in"
        );
    }

    /// A fresh folder for one test's log.
    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("spikefab-pnr-watch-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn the_watch_notes_each_phase_once_and_then_every_few_minutes() {
        let dir = scratch("phases");
        let log = dir.join("nextpnr.log");
        let t0 = Instant::now();
        let at = |s: u64| t0 + QUIET_FOR + Duration::from_secs(s);
        let mut w = PnrWatch::new(log.clone(), t0);
        let notes = std::cell::RefCell::new(vec![]);
        let note = |s: &str| notes.borrow_mut().push(s.to_string());
        // A short run says nothing: the log is not even read.
        let (head, tail) = LOG.split_at(LOG.find("type ALL").unwrap());
        std::fs::write(&log, head).unwrap();
        w.poll_at(t0 + QUIET_FOR - Duration::from_secs(1), &note);
        assert_eq!(*w.phase(), PnrPhase::Starting);
        assert!(notes.borrow().is_empty());
        // Then the first look notes where it is.
        w.poll_at(at(0), &note);
        assert_eq!(*w.phase(), PnrPhase::Placing { stage: "analytical", iteration: 0 });
        // A line cut in two is read once whole: its second half ends it.
        let line_end = tail.find('\n').unwrap() + 1;
        std::fs::write(&log, format!("{head}{}", &tail[..line_end])).unwrap();
        w.poll_at(at(5), &note);
        assert_eq!(*w.phase(), PnrPhase::Placing { stage: "analytical", iteration: 1 });
        std::fs::write(&log, format!("{head}{tail}")).unwrap();
        // Within LOOK_EVERY of the last look the log is not read.
        w.poll_at(at(6), &note);
        assert_eq!(*w.phase(), PnrPhase::Placing { stage: "analytical", iteration: 1 });
        w.poll_at(at(15), &note);
        assert_eq!(*w.phase(), PnrPhase::Routed);
        let n = notes.borrow().clone();
        assert_eq!(n.len(), 2, "{n:?}");
        assert!(n[0].starts_with("nextpnr: placing (analytical placer, iteration 0), 1 min in"), "{n:?}");
        assert!(n[1].starts_with("nextpnr: routed, 1 min in"), "{n:?}");
        // The same phase again: a note only after NOTE_EVERY.
        w.poll_at(at(200), &note);
        assert_eq!(notes.borrow().len(), 2);
        w.poll_at(at(15) + NOTE_EVERY, &note);
        assert_eq!(notes.borrow().len(), 3);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn no_log_is_no_error() {
        let dir = scratch("none");
        let t0 = Instant::now();
        let mut w = PnrWatch::new(dir.join("nextpnr.log"), t0);
        let notes = std::cell::RefCell::new(vec![]);
        w.poll_at(t0 + QUIET_FOR, &|s: &str| notes.borrow_mut().push(s.to_string()));
        assert_eq!(*notes.borrow(), vec!["nextpnr: packing and the initial placement, 1 min in".to_string()]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_endless_line_is_dropped_not_kept() {
        let dir = scratch("endless");
        let log = dir.join("nextpnr.log");
        let t0 = Instant::now();
        let mut w = PnrWatch::new(log.clone(), t0);
        std::fs::write(&log, "x".repeat(3 * LONGEST_LINE)).unwrap();
        w.poll_at(t0 + QUIET_FOR, &|_| {});
        assert!(w.partial.is_empty());
        // The dropped line's end is not read as a line of its own, though it looks like a status.
        let mut text = "x".repeat(3 * LONGEST_LINE);
        text.push_str("Info: Routing 42 arcs.\n");
        std::fs::write(&log, &text).unwrap();
        w.poll_at(t0 + QUIET_FOR + LOOK_EVERY, &|_| {});
        assert_eq!(*w.phase(), PnrPhase::Starting);
        // Whatever follows it is read as lines again.
        text.push_str("Info: Routing 7 arcs.\n");
        std::fs::write(&log, text).unwrap();
        w.poll_at(t0 + QUIET_FOR + 2 * LOOK_EVERY, &|_| {});
        assert_eq!(*w.phase(), PnrPhase::Routing { arcs: Some(7), left: None });
        let _ = std::fs::remove_dir_all(&dir);
    }
}
