//! A command-level model of an SDR SDRAM (one chip, `banks` banks of `rows x cols` words), the
//! judge of every command an external-memory design issues: it keeps each bank's state and the
//! cycle of every command, refuses a command that breaks a timing rule ([`Violation`], naming
//! the rule, the cycle, the bank and the cycles needed and waited), returns read data `CL`
//! cycles after the READ, and holds the data written. Deterministic: the same command stream
//! gives the same data and the same verdict.
//!
//! Rules checked (docs/engines.md, "SDRAM model"): ACTIVATE to READ/WRITE (tRCD), PRECHARGE to
//! ACTIVATE (tRP), ACTIVATE to PRECHARGE (tRAS), ACTIVATE to ACTIVATE of a bank (tRC) and of
//! different banks (tRRD), REFRESH to any command (tRFC), the last write data to PRECHARGE
//! (tWR), the refresh interval (tREFI, as the longest gap between REFRESH commands, stricter
//! than the standard's postponement of up to eight), and the state rules (READ/WRITE only to
//! the open row of an open bank, ACTIVATE only to a closed bank, REFRESH only with every bank
//! closed). Bursts are one word (burst length 1); a command per cycle.

use std::collections::HashMap;

pub use crate::hw::sdram::{Command, Geometry, Request, Streamer, Timing, TimingNs, locate};

/// The rule a command broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// ACTIVATE to READ/WRITE.
    Rcd,
    /// PRECHARGE to ACTIVATE.
    Rp,
    /// ACTIVATE to PRECHARGE.
    Ras,
    /// ACTIVATE to ACTIVATE, same bank.
    Rc,
    /// ACTIVATE to ACTIVATE, different banks.
    Rrd,
    /// REFRESH to any command.
    Rfc,
    /// Write to PRECHARGE.
    Wr,
    /// The refresh interval passed without a REFRESH.
    Refi,
    /// READ/WRITE to a closed bank.
    BankClosed,
    /// ACTIVATE to a bank already open.
    BankOpen,
    /// REFRESH with a bank open.
    RefreshOpen,
    /// A bank, row or column beyond the chip, or a word wider than the bus.
    Address,
    /// A command before the power-up wait ended, or an access before the initialisation
    /// (two REFRESHes, then LOAD MODE REGISTER) completed.
    Init,
    /// LOAD MODE REGISTER to any command.
    Mrd,
    /// A mode register value other than burst length 1, sequential, the chip's CAS latency.
    Mode,
}

impl Rule {
    /// Its name in a datasheet.
    pub fn name(self) -> &'static str {
        match self {
            Rule::Rcd => "tRCD",
            Rule::Rp => "tRP",
            Rule::Ras => "tRAS",
            Rule::Rc => "tRC",
            Rule::Rrd => "tRRD",
            Rule::Rfc => "tRFC",
            Rule::Wr => "tWR",
            Rule::Refi => "tREFI",
            Rule::BankClosed => "READ/WRITE to a closed bank",
            Rule::BankOpen => "ACTIVATE to an open bank",
            Rule::RefreshOpen => "REFRESH or LOAD MODE with a bank open",
            Rule::Address => "address or data out of range",
            Rule::Init => "power-up initialisation",
            Rule::Mrd => "tMRD",
            Rule::Mode => "mode register",
        }
    }
}

/// A command that breaks a rule.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cycle {cycle}: {command:?} breaks {}{}: {needed} cycles needed, {waited} waited", rule.name(), bank.map(|b| format!(" (bank {b})")).unwrap_or_default())]
pub struct Violation {
    /// The cycle the command was issued.
    pub cycle: u64,
    /// The command.
    pub command: Command,
    /// The rule.
    pub rule: Rule,
    /// The bank, when the rule is a bank's.
    pub bank: Option<u32>,
    /// Cycles the rule needs (0 for a state rule).
    pub needed: u64,
    /// Cycles since the command the rule counts from.
    pub waited: u64,
}

#[derive(Clone, Copy, Debug, Default)]
struct Bank {
    open: Option<u32>,
    activated: Option<u64>,
    precharged: Option<u64>,
    written: Option<u64>,
}

/// Commands issued, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// ACTIVATE commands.
    pub activates: u64,
    /// READ commands (words read).
    pub reads: u64,
    /// WRITE commands (words written).
    pub writes: u64,
    /// PRECHARGE and PRECHARGE ALL commands.
    pub precharges: u64,
    /// REFRESH commands.
    pub refreshes: u64,
    /// Cycles stepped.
    pub cycles: u64,
}

/// One SDR SDRAM chip at one clock.
#[derive(Clone, Debug)]
pub struct Sdram {
    geometry: Geometry,
    timing: Timing,
    banks: Vec<Bank>,
    last_activate: Option<u64>,
    last_refresh: u64,
    refreshed_at: Option<u64>,
    /// Written words (absent: zero, the model's power-up contents).
    data: HashMap<u64, u64>,
    /// Reads in flight: (cycle the word is on the bus, word).
    pipeline: std::collections::VecDeque<(u64, u64)>,
    cycle: u64,
    counts: Counts,
    /// Initialised (LOAD MODE REGISTER after two REFRESHes); before, no access and no
    /// refresh interval.
    ready: bool,
    init_refreshes: u32,
    mode_at: Option<u64>,
}

impl Sdram {
    /// A chip with every bank closed, at cycle 0 (the refresh interval counts from here).
    pub fn new(geometry: Geometry, timing: Timing) -> Sdram {
        Sdram {
            geometry,
            timing,
            banks: vec![Bank::default(); geometry.banks as usize],
            last_activate: None,
            last_refresh: 0,
            refreshed_at: None,
            data: HashMap::new(),
            pipeline: Default::default(),
            cycle: 0,
            counts: Counts::default(),
            ready: true,
            init_refreshes: 0,
            mode_at: None,
        }
    }

    /// A chip just powered up: it refuses any command but NOP for `timing.init` cycles, and
    /// any ACTIVATE, READ or WRITE until LOAD MODE REGISTER (burst length 1, its CAS latency)
    /// follows at least two REFRESHes; the refresh interval counts from the last REFRESH once
    /// it is initialised.
    pub fn power_up(geometry: Geometry, timing: Timing) -> Sdram {
        Sdram { ready: false, ..Sdram::new(geometry, timing) }
    }

    /// The current cycle (the next command's).
    pub fn cycle(&self) -> u64 {
        self.cycle
    }

    /// Commands so far.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// The timing in cycles.
    pub fn timing(&self) -> Timing {
        self.timing
    }

    /// The geometry.
    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// The word at (bank, row, col), as the memory holds it.
    pub fn peek(&self, bank: u32, row: u32, col: u32) -> u64 {
        self.data.get(&self.index(bank, row, col)).copied().unwrap_or(0)
    }

    /// Where word address `addr` lives ([`locate`]).
    pub fn locate(&self, addr: u64) -> (u32, u32, u32) {
        locate(self.geometry, addr)
    }

    /// Puts `words` at word addresses `start..` before the run, as a host loads the weights
    /// (no command timing: the memory's contents at power-up of the design). Words beyond the
    /// chip or wider than its bus are refused.
    pub fn load(&mut self, start: u64, words: &[u64]) -> Result<(), Violation> {
        let end = start.checked_add(words.len() as u64).filter(|&e| e <= self.geometry.words());
        let too_wide = self.geometry.width < 64 && words.iter().any(|w| w >> self.geometry.width != 0);
        if end.is_none() || too_wide {
            return Err(self.violation(Command::Nop, Rule::Address, None, 0, None));
        }
        for (a, &w) in (start..).zip(words) {
            let (bank, row, col) = self.locate(a);
            let i = self.index(bank, row, col);
            self.data.insert(i, w);
        }
        Ok(())
    }

    fn index(&self, bank: u32, row: u32, col: u32) -> u64 {
        (u64::from(bank) * u64::from(self.geometry.rows) + u64::from(row)) * u64::from(self.geometry.cols)
            + u64::from(col)
    }

    fn violation(&self, command: Command, rule: Rule, bank: Option<u32>, needed: u64, since: Option<u64>) -> Violation {
        Violation { cycle: self.cycle, command, rule, bank, needed, waited: since.map_or(0, |s| self.cycle - s) }
    }

    /// `Err` when fewer than `needed` cycles passed since `since`.
    fn after(
        &self,
        cmd: Command,
        rule: Rule,
        bank: Option<u32>,
        since: Option<u64>,
        needed: u64,
    ) -> Result<(), Violation> {
        match since {
            Some(s) if self.cycle - s < needed => Err(self.violation(cmd, rule, bank, needed, since)),
            _ => Ok(()),
        }
    }

    fn bank(&self, cmd: Command, bank: u32) -> Result<usize, Violation> {
        if bank < self.geometry.banks {
            Ok(bank as usize)
        } else {
            Err(self.violation(cmd, Rule::Address, Some(bank), 0, None))
        }
    }

    /// Issues `cmd` at the current cycle and advances one cycle: returns the word on the bus
    /// this cycle (from the READ issued `CL` cycles before), or `Err` naming the rule `cmd` breaks (the model's state
    /// is then unchanged but for the cycle not advancing).
    pub fn step(&mut self, cmd: Command) -> Result<Option<u64>, Violation> {
        let t = self.timing;
        // The refresh interval is a maximum: it can pass on any cycle, command or not.
        if self.ready && self.cycle - self.last_refresh > t.refi {
            return Err(self.violation(cmd, Rule::Refi, None, t.refi, Some(self.last_refresh)));
        }
        if !matches!(cmd, Command::Nop) {
            if !self.ready && self.cycle < t.init {
                return Err(self.violation(cmd, Rule::Init, None, t.init, Some(0)));
            }
            self.after(cmd, Rule::Rfc, None, self.refreshed_at, t.rfc)?;
            self.after(cmd, Rule::Mrd, None, self.mode_at, t.mrd)?;
        }
        if !self.ready && matches!(cmd, Command::Activate { .. } | Command::Read { .. } | Command::Write { .. }) {
            return Err(self.violation(cmd, Rule::Init, None, 0, None));
        }
        match cmd {
            Command::Nop => {}
            Command::LoadMode { mode } => {
                if let Some(b) = self.banks.iter().position(|k| k.open.is_some()) {
                    return Err(self.violation(cmd, Rule::RefreshOpen, Some(b as u32), 0, None));
                }
                for (b, k) in self.banks.iter().enumerate() {
                    self.after(cmd, Rule::Rp, Some(b as u32), k.precharged, t.rp)?;
                }
                if mode != crate::hw::sdram::mode_register(t.cl) {
                    return Err(self.violation(cmd, Rule::Mode, None, 0, None));
                }
                if !self.ready && self.init_refreshes < 2 {
                    return Err(self.violation(cmd, Rule::Init, None, 2, None));
                }
                self.ready = true;
                self.mode_at = Some(self.cycle);
            }
            Command::Activate { bank, row } => {
                let b = self.bank(cmd, bank)?;
                if row >= self.geometry.rows {
                    return Err(self.violation(cmd, Rule::Address, Some(bank), 0, None));
                }
                let k = self.banks[b];
                if k.open.is_some() {
                    return Err(self.violation(cmd, Rule::BankOpen, Some(bank), 0, None));
                }
                self.after(cmd, Rule::Rp, Some(bank), k.precharged, t.rp)?;
                self.after(cmd, Rule::Rc, Some(bank), k.activated, t.rc)?;
                self.after(cmd, Rule::Rrd, Some(bank), self.last_activate, t.rrd)?;
                self.banks[b] = Bank { open: Some(row), activated: Some(self.cycle), ..k };
                self.last_activate = Some(self.cycle);
                self.counts.activates += 1;
            }
            Command::Read { bank, col } | Command::Write { bank, col, .. } => {
                let b = self.bank(cmd, bank)?;
                let k = self.banks[b];
                let Some(row) = k.open else {
                    return Err(self.violation(cmd, Rule::BankClosed, Some(bank), 0, None));
                };
                if col >= self.geometry.cols {
                    return Err(self.violation(cmd, Rule::Address, Some(bank), 0, None));
                }
                self.after(cmd, Rule::Rcd, Some(bank), k.activated, t.rcd)?;
                let i = self.index(bank, row, col);
                if let Command::Write { data, .. } = cmd {
                    if self.geometry.width < 64 && data >> self.geometry.width != 0 {
                        return Err(self.violation(cmd, Rule::Address, Some(bank), 0, None));
                    }
                    self.data.insert(i, data);
                    self.banks[b].written = Some(self.cycle);
                    self.counts.writes += 1;
                } else {
                    let word = self.data.get(&i).copied().unwrap_or(0);
                    self.pipeline.push_back((self.cycle + t.cl, word));
                    self.counts.reads += 1;
                }
            }
            Command::Precharge { bank } => {
                let b = self.bank(cmd, bank)?;
                self.precharge(cmd, b)?;
                self.counts.precharges += 1;
            }
            Command::PrechargeAll => {
                for b in 0..self.banks.len() {
                    self.check_precharge(cmd, b)?;
                }
                for b in 0..self.banks.len() {
                    self.precharge(cmd, b)?;
                }
                self.counts.precharges += 1;
            }
            Command::Refresh => {
                if let Some(b) = self.banks.iter().position(|k| k.open.is_some()) {
                    return Err(self.violation(cmd, Rule::RefreshOpen, Some(b as u32), 0, None));
                }
                for (b, k) in self.banks.iter().enumerate() {
                    self.after(cmd, Rule::Rp, Some(b as u32), k.precharged, t.rp)?;
                }
                self.last_refresh = self.cycle;
                self.refreshed_at = Some(self.cycle);
                self.counts.refreshes += 1;
                if !self.ready {
                    self.init_refreshes += 1;
                }
            }
        }
        let out = match self.pipeline.front() {
            Some(&(at, word)) if at == self.cycle => {
                self.pipeline.pop_front();
                Some(word)
            }
            _ => None,
        };
        self.cycle += 1;
        self.counts.cycles += 1;
        Ok(out)
    }

    fn check_precharge(&self, cmd: Command, b: usize) -> Result<(), Violation> {
        let k = self.banks[b];
        if k.open.is_some() {
            self.after(cmd, Rule::Ras, Some(b as u32), k.activated, self.timing.ras)?;
            self.after(cmd, Rule::Wr, Some(b as u32), k.written, self.timing.wr)?;
        }
        Ok(())
    }

    fn precharge(&mut self, cmd: Command, b: usize) -> Result<(), Violation> {
        self.check_precharge(cmd, b)?;
        let k = &mut self.banks[b];
        if k.open.take().is_some() {
            k.precharged = Some(self.cycle);
        }
        k.written = None;
        Ok(())
    }
}

/// What a [`Streamer`] does in one cycle.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tick {
    /// The request offered this cycle was taken.
    pub accepted: bool,
    /// The word on the data bus this cycle (from the READ issued `CL` cycles before).
    pub word: Option<u64>,
}

/// One cycle of `s` against `mem`: decides the command (taking `req` if ready) and issues it.
pub fn tick(s: &mut Streamer, mem: &mut Sdram, req: Option<Request>) -> Result<Tick, Violation> {
    let (cmd, accepted) = s.decide(req);
    let word = mem.step(cmd)?;
    Ok(Tick { accepted, word })
}

/// A command as `hdl/sf_sdram_model.v` logs it ("C cycle ACT bank row", ...); `None` for NOP.
pub fn log_command(cycle: u64, cmd: Command) -> Option<String> {
    Some(match cmd {
        Command::Nop => return None,
        Command::Activate { bank, row } => format!("C {cycle} ACT {bank} {row}"),
        Command::Read { bank, col } => format!("C {cycle} RD {bank} {col}"),
        Command::Write { bank, col, data } => format!("C {cycle} WR {bank} {col} {data:x}"),
        Command::Precharge { bank } => format!("C {cycle} PRE {bank}"),
        Command::PrechargeAll => format!("C {cycle} PREA"),
        Command::Refresh => format!("C {cycle} REF"),
        Command::LoadMode { mode } => format!("C {cycle} MRS {mode}"),
    })
}

/// Reads `n` consecutive words from word address `start` with a [`Streamer`] on `mem` (from
/// the model's current cycle, the controller at power-up) and returns them as they left the
/// bus. The command stream is the model's to judge: a schedule it refuses is a bug.
pub fn stream_read(mem: &mut Sdram, start: u64, n: u64) -> Result<Vec<u64>, Violation> {
    let g = mem.geometry();
    if start.checked_add(n).is_none_or(|e| e > g.words()) {
        return Err(mem.violation(Command::Nop, Rule::Address, None, 0, None));
    }
    let mut s =
        Streamer::initialised(g, mem.timing()).map_err(|_| mem.violation(Command::Nop, Rule::Refi, None, 0, None))?;
    let mut out = Vec::with_capacity(n as usize);
    let mut req = Some(Request { addr: start, len: n });
    while (out.len() as u64) < n {
        // A READ per chunk word, a chunk per row at most, at worst a refresh per chunk.
        debug_assert!(mem.cycle() < 4 * (n + 1) * (s.overhead() + 1));
        let tick = tick(&mut s, mem, req)?;
        if tick.accepted {
            req = None;
        }
        out.extend(tick.word);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ULX3S's MT48LC16M16 as the bundled `ulx3s-85f` target describes it (LiteDRAM's
    /// figures: 4 banks x 8192 rows x 512 columns x16; tRP 20, tRCD 20, tWR 15, tRFC 66, tRAS
    /// 44, tRRD 15, tRC 64 ns, tREFI 64 ms / 8192; CL 2; 100 us wait, tMRD 2).
    fn mt48lc16m16() -> (Geometry, TimingNs) {
        let t = crate::target::Target::load("ulx3s-85f").unwrap();
        let m = t.external_memory.unwrap();
        (m.geometry, m.timing)
    }

    fn chip() -> Sdram {
        let (g, t) = mt48lc16m16();
        Sdram::new(g, t.at(50.0))
    }

    #[test]
    fn nanoseconds_round_up_to_cycles_and_the_interval_down() {
        let t = mt48lc16m16().1.at(50.0);
        assert_eq!((t.rcd, t.rp, t.ras, t.rc, t.rrd, t.rfc, t.wr, t.refi, t.cl), (1, 1, 3, 4, 1, 4, 1, 390, 2));
        let t = mt48lc16m16().1.at(100.0);
        assert_eq!((t.rcd, t.ras, t.rfc, t.refi), (2, 5, 7, 781));
    }

    /// Each rule, broken by one cycle, is refused naming it; one cycle more is accepted.
    #[test]
    fn every_timing_rule_is_enforced_to_the_cycle() {
        let t = Timing { cl: 2, rcd: 2, rp: 2, ras: 5, rc: 9, rrd: 2, rfc: 7, wr: 2, refi: 1000, init: 10, mrd: 2 };
        let g = mt48lc16m16().0;
        let (act, act1) = (Command::Activate { bank: 0, row: 5 }, Command::Activate { bank: 1, row: 0 });
        let (rd, wr) = (Command::Read { bank: 0, col: 3 }, Command::Write { bank: 0, col: 1, data: 7 });
        let pre = Command::Precharge { bank: 0 };
        let nops = |n: usize| vec![Command::Nop; n];
        let seq = |parts: &[&[Command]]| parts.concat();
        // (commands, the rule the last one breaks) with the gap one cycle short; the same with
        // one NOP more before the last command passes.
        let cases: Vec<(Vec<Command>, Rule)> = vec![
            (seq(&[&[act], &nops(0), &[rd]]), Rule::Rcd),
            (seq(&[&[act], &nops(3), &[pre]]), Rule::Ras),
            (seq(&[&[act], &nops(0), &[act1]]), Rule::Rrd),
            (seq(&[&[Command::Refresh], &nops(5), &[act]]), Rule::Rfc),
            (seq(&[&[act], &nops(3), &[wr], &nops(0), &[pre]]), Rule::Wr),
            (seq(&[&[act], &nops(6), &[pre], &nops(0), &[act]]), Rule::Rp),
            (seq(&[&[act], &nops(4), &[pre], &nops(2), &[act]]), Rule::Rc),
            (seq(&[&[act], &nops(4), &[pre], &nops(0), &[Command::Refresh]]), Rule::Rp),
        ];
        for (cmds, rule) in cases {
            let run = |cmds: &[Command]| {
                let mut m = Sdram::new(g, t);
                cmds.iter().try_for_each(|&c| m.step(c).map(|_| ()))
            };
            let v = run(&cmds).expect_err(&format!("{cmds:?} breaks {rule:?}"));
            assert_eq!((v.rule, v.cycle), (rule, cmds.len() as u64 - 1), "{v}");
            let mut later = cmds.clone();
            later.insert(cmds.len() - 1, Command::Nop);
            run(&later).unwrap_or_else(|v| panic!("{later:?}: {v}"));
        }
        // State rules.
        let mut m = chip();
        assert_eq!(m.step(rd).unwrap_err().rule, Rule::BankClosed);
        m.step(act).unwrap();
        assert_eq!(m.step(act).unwrap_err().rule, Rule::BankOpen);
        assert_eq!(m.step(Command::Refresh).unwrap_err().rule, Rule::RefreshOpen);
        assert_eq!(m.step(Command::Activate { bank: 4, row: 0 }).unwrap_err().rule, Rule::Address);
        assert_eq!(m.step(Command::Write { bank: 0, col: 0, data: 1 << 16 }).unwrap_err().rule, Rule::Address);
        // The refresh interval passes on its own.
        let mut m = chip();
        for _ in 0..=m.timing().refi {
            m.step(Command::Nop).unwrap();
        }
        let v = m.step(Command::Nop).unwrap_err();
        assert_eq!(v.rule, Rule::Refi);
        assert!(v.to_string().contains("tREFI"), "{v}");
    }

    /// Data written comes back `CL` cycles after the READ.
    #[test]
    fn a_read_returns_the_written_word_cl_cycles_later() {
        let mut m = chip();
        let t = m.timing();
        m.step(Command::Activate { bank: 2, row: 77 }).unwrap();
        for _ in 1..t.rcd {
            m.step(Command::Nop).unwrap();
        }
        m.step(Command::Write { bank: 2, col: 9, data: 0xbeef }).unwrap();
        let at = m.cycle();
        assert_eq!(m.step(Command::Read { bank: 2, col: 9 }).unwrap(), None);
        let mut got = None;
        while got.is_none() {
            got = m.step(Command::Nop).unwrap();
        }
        assert_eq!((got, m.cycle() - 1 - at), (Some(0xbeef), t.cl));
        assert_eq!(m.peek(2, 77, 9), 0xbeef);
    }

    /// The streaming controller's commands pass every rule over many refresh intervals and
    /// rows, return the memory's words in order, and keep the bus busy most cycles.
    #[test]
    fn streaming_reads_obey_every_rule_and_return_the_data() {
        let (g, tn) = mt48lc16m16();
        for mhz in [50.0, 100.0, 133.0] {
            let mut m = Sdram::new(g, tn.at(mhz));
            // Twelve rows and more of a pattern, read from word 100 on.
            let n = 3 * 512 * 4 + 300;
            let t = m.timing();
            let pattern: Vec<u64> = (0..100 + n).map(|a| (a * 7919) & 0xffff).collect();
            m.load(0, &pattern).unwrap();
            assert_eq!(stream_read(&mut m, g.words() - 1, 2).unwrap_err().rule, Rule::Address);
            let words = stream_read(&mut m, 100, n).unwrap_or_else(|v| panic!("{mhz} MHz: {v}"));
            let want = pattern[100..].to_vec();
            assert_eq!(words, want, "{mhz} MHz");
            let c = m.counts();
            let efficiency = c.reads as f64 / c.cycles as f64;
            assert!(c.refreshes >= c.cycles / (t.refi + 1), "{mhz} MHz: {c:?}");
            eprintln!("{mhz} MHz: {n} words in {} cycles, {efficiency:.4} words per cycle ({c:?})", c.cycles);
            assert!(efficiency > 0.9, "{mhz} MHz: {efficiency:.3} words per cycle ({c:?})");
        }
    }

    /// Requests with idle gaps of several refresh intervals between them, starting mid-row
    /// and crossing rows and banks: the model accepts every command (the idle refreshes
    /// included) and the words come back in request order.
    #[test]
    fn requests_with_idle_gaps_keep_every_rule() {
        let (g, tn) = mt48lc16m16();
        for mhz in [25.0, 50.0, 100.0] {
            let mut m = Sdram::power_up(g, tn.at(mhz));
            let t = m.timing();
            let pattern: Vec<u64> = (0..20_000u64).map(|a| (a * 40503 + 11) & 0xffff).collect();
            m.load(0, &pattern).unwrap();
            let reqs =
                [(0u64, 3u64, 5u64), (500, 700, 2), (3 * t.refi, 19_000, 1000), (10, 1, 20), (2 * t.refi, 4096, 7)];
            let mut s = Streamer::new(g, t).unwrap();
            let (mut got, mut want) = (Vec::new(), Vec::new());
            for (gap, addr, len) in reqs {
                for _ in 0..gap {
                    got.extend(tick(&mut s, &mut m, None).unwrap_or_else(|v| panic!("{mhz} MHz: {v}")).word);
                }
                let r = Request { addr, len };
                loop {
                    let tick = tick(&mut s, &mut m, Some(r)).unwrap_or_else(|v| panic!("{mhz} MHz: {v}"));
                    got.extend(tick.word);
                    if tick.accepted {
                        break;
                    }
                    assert!(m.cycle() < 1_000_000, "{mhz} MHz: request {r:?} never taken");
                }
                want.extend_from_slice(&pattern[addr as usize..(addr + len) as usize]);
                assert!(!s.ready() || len == 1);
            }
            while got.len() < want.len() {
                assert!(m.cycle() < 1_000_000, "{mhz} MHz: {} of {} words", got.len(), want.len());
                got.extend(tick(&mut s, &mut m, None).unwrap_or_else(|v| panic!("{mhz} MHz: {v}")).word);
            }
            for _ in 0..3 * t.refi {
                assert_eq!(tick(&mut s, &mut m, None).unwrap_or_else(|v| panic!("{mhz} MHz: {v}")).word, None);
            }
            assert_eq!(got, want, "{mhz} MHz");
            assert!(m.counts().refreshes >= (m.counts().cycles - t.init) / (t.refi + 1), "{mhz} MHz");
        }
    }

    /// A chip just powered up takes nothing but NOP for the wait, no access before LOAD MODE
    /// after two REFRESHes, only its own mode, and nothing within tMRD of it; the controller's
    /// initialisation passes.
    #[test]
    fn power_up_initialisation_is_enforced() {
        let (g, tn) = mt48lc16m16();
        let t = tn.at(50.0);
        assert_eq!((t.init, t.mrd), (5000, 2));
        let run = |cmds: &[(u64, Command)]| {
            let mut m = Sdram::power_up(g, t);
            for &(at, c) in cmds {
                while m.cycle() < at {
                    m.step(Command::Nop)?;
                }
                m.step(c)?;
            }
            Ok::<_, Violation>(m)
        };
        let mode = crate::hw::sdram::mode_register(t.cl);
        let (pa, rf, lm) = (Command::PrechargeAll, Command::Refresh, Command::LoadMode { mode });
        let good = [(t.init, pa), (t.init + t.rp, rf), (t.init + t.rp + t.rfc, rf), (t.init + t.rp + 2 * t.rfc, lm)];
        let mut m = run(&good).unwrap();
        let at = m.cycle() + t.mrd - 1;
        let act = Command::Activate { bank: 0, row: 0 };
        let mut early = m.clone();
        while early.cycle() < at - 1 {
            early.step(Command::Nop).unwrap();
        }
        assert_eq!(early.step(act).unwrap_err().rule, Rule::Mrd);
        while m.cycle() < at {
            m.step(Command::Nop).unwrap();
        }
        m.step(act).unwrap();
        let rule = |cmds: &[(u64, Command)]| run(cmds).unwrap_err().rule;
        assert_eq!(rule(&[(t.init - 1, pa)]), Rule::Init);
        assert_eq!(rule(&[(t.init, act)]), Rule::Init);
        assert_eq!(rule(&[good[0], good[1], (t.init + t.rp + t.rfc, lm)]), Rule::Init);
        assert_eq!(rule(&[good[0], good[1], good[2], (good[3].0, Command::LoadMode { mode: 0x30 })]), Rule::Mode);
        // No refresh interval before initialisation, however long the wait.
        run(&[(t.init + 10 * t.refi, pa)]).unwrap();
        // The controller's own sequence, then a read.
        let mut m = Sdram::power_up(g, t);
        m.load(0, &[0xabcd]).unwrap();
        let mut s = Streamer::new(g, t).unwrap();
        let mut got = None;
        while got.is_none() {
            assert!(m.cycle() < t.init + 100, "no word");
            got = tick(&mut s, &mut m, Some(Request { addr: 0, len: 1 })).unwrap().word;
        }
        assert_eq!(got, Some(0xabcd));
        assert!(s.is_initialised() && m.counts().refreshes == 2);
    }
}
