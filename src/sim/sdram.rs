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

/// Banks, rows and columns of one chip, and its word width.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Banks.
    pub banks: u32,
    /// Rows per bank.
    pub rows: u32,
    /// Columns (words) per row.
    pub cols: u32,
    /// Bits per word (the data bus).
    pub width: u32,
}

impl Geometry {
    /// Words in the chip.
    pub fn words(&self) -> u64 {
        u64::from(self.banks) * u64::from(self.rows) * u64::from(self.cols)
    }
}

/// A part's timing in nanoseconds (and its CAS latency in cycles), as its datasheet states it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TimingNs {
    /// CAS latency, cycles.
    pub cl: u32,
    /// ACTIVATE to READ/WRITE.
    pub t_rcd: f64,
    /// PRECHARGE to ACTIVATE.
    pub t_rp: f64,
    /// ACTIVATE to PRECHARGE.
    pub t_ras: f64,
    /// ACTIVATE to ACTIVATE, same bank.
    pub t_rc: f64,
    /// ACTIVATE to ACTIVATE, different banks.
    pub t_rrd: f64,
    /// REFRESH to any command.
    pub t_rfc: f64,
    /// Last write data to PRECHARGE.
    pub t_wr: f64,
    /// Average refresh interval.
    pub t_refi: f64,
}

/// Timing in cycles of one clock (each figure the smallest number of whole cycles covering the
/// nanoseconds, at least one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// CAS latency.
    pub cl: u64,
    /// ACTIVATE to READ/WRITE.
    pub rcd: u64,
    /// PRECHARGE to ACTIVATE.
    pub rp: u64,
    /// ACTIVATE to PRECHARGE.
    pub ras: u64,
    /// ACTIVATE to ACTIVATE, same bank.
    pub rc: u64,
    /// ACTIVATE to ACTIVATE, different banks.
    pub rrd: u64,
    /// REFRESH to any command.
    pub rfc: u64,
    /// Last write data to PRECHARGE.
    pub wr: u64,
    /// Longest gap between REFRESH commands (rounded down: the rule is a maximum).
    pub refi: u64,
}

impl TimingNs {
    /// The cycles of these figures at `clock_mhz`.
    pub fn at(&self, clock_mhz: f64) -> Timing {
        let up = |ns: f64| ((ns * clock_mhz / 1000.0 - 1e-9).ceil() as u64).max(1);
        Timing {
            cl: u64::from(self.cl),
            rcd: up(self.t_rcd),
            rp: up(self.t_rp),
            ras: up(self.t_ras),
            rc: up(self.t_rc),
            rrd: up(self.t_rrd),
            rfc: up(self.t_rfc),
            wr: up(self.t_wr),
            refi: (self.t_refi * clock_mhz / 1000.0).floor() as u64,
        }
    }
}

/// One command on the command bus (NOP when nothing is issued).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// No operation.
    Nop,
    /// Open `row` of `bank`.
    Activate {
        /// Bank.
        bank: u32,
        /// Row.
        row: u32,
    },
    /// Read column `col` of the open row of `bank`; the word is on the bus `CL` cycles later.
    Read {
        /// Bank.
        bank: u32,
        /// Column.
        col: u32,
    },
    /// Write `data` to column `col` of the open row of `bank`.
    Write {
        /// Bank.
        bank: u32,
        /// Column.
        col: u32,
        /// The word.
        data: u64,
    },
    /// Close the open row of `bank`.
    Precharge {
        /// Bank.
        bank: u32,
    },
    /// Close every bank.
    PrechargeAll,
    /// Auto refresh (every bank closed).
    Refresh,
}

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
            Rule::RefreshOpen => "REFRESH with a bank open",
            Rule::Address => "address or data out of range",
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
        }
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

    /// Where word address `addr` lives: rows interleave across banks, `addr = (row x banks +
    /// bank) x cols + col`, so consecutive rows sit in different banks.
    pub fn locate(&self, addr: u64) -> (u32, u32, u32) {
        let g = self.geometry;
        let col = (addr % u64::from(g.cols)) as u32;
        let line = addr / u64::from(g.cols);
        ((line % u64::from(g.banks)) as u32, (line / u64::from(g.banks)) as u32, col)
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
        if self.cycle - self.last_refresh > t.refi {
            return Err(self.violation(cmd, Rule::Refi, None, t.refi, Some(self.last_refresh)));
        }
        if !matches!(cmd, Command::Nop) {
            self.after(cmd, Rule::Rfc, None, self.refreshed_at, t.rfc)?;
        }
        match cmd {
            Command::Nop => {}
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

/// A controller that reads `n` consecutive words from word address `start` (bank-interleaved
/// rows: address = ((row x banks + bank) x cols + col)): one ACTIVATE per row (or per part of
/// a row that fits a refresh interval), READs back to back, PRECHARGE when it ends, and a
/// REFRESH (every bank closed) whenever the next burst would end past the refresh deadline. Returns the words in order, as they
/// left the bus. The command stream is the model's to judge: a schedule it refuses is a bug.
pub fn stream_read(mem: &mut Sdram, start: u64, n: u64) -> Result<Vec<u64>, Violation> {
    let (g, t) = (mem.geometry(), mem.timing());
    if start.checked_add(n).is_none_or(|e| e > g.words()) {
        return Err(mem.violation(Command::Nop, Rule::Address, None, 0, None));
    }
    let mut out = Vec::with_capacity(n as usize);
    let mut pending = 0u64;
    let mut addr = start;
    let end = start + n;
    let issue = |mem: &mut Sdram, cmd: Command, out: &mut Vec<u64>, pending: &mut u64| -> Result<(), Violation> {
        if let Some(w) = mem.step(cmd)? {
            out.push(w);
            *pending -= 1;
        }
        Ok(())
    };
    let wait = |mem: &mut Sdram, cycles: u64, out: &mut Vec<u64>, pending: &mut u64| -> Result<(), Violation> {
        for _ in 0..cycles {
            issue(mem, Command::Nop, out, pending)?;
        }
        Ok(())
    };
    // The most cycles an open row costs besides its reads (waiting for ACTIVATE, tRCD, tRAS,
    // the PRECHARGE, the data still in flight, a REFRESH): a burst of reads is cut so that it
    // and its overhead fit one refresh interval.
    let overhead = t.rc + t.rp + t.rcd + t.ras + t.cl + t.rfc + 4;
    let budget = t.refi.saturating_sub(overhead).max(1);
    while addr < end {
        let (bank, row, col) = mem.locate(addr);
        let words = (u64::from(g.cols) - u64::from(col)).min(end - addr).min(budget);
        let span = overhead + words;
        if mem.cycle() + span > mem.last_refresh + t.refi {
            // Everything is closed between rows; tRP since the last precharge, then REFRESH.
            let since = mem.banks.iter().filter_map(|k| k.precharged).max();
            let need = since.map_or(0, |s| (s + t.rp).saturating_sub(mem.cycle()));
            wait(mem, need, &mut out, &mut pending)?;
            issue(mem, Command::Refresh, &mut out, &mut pending)?;
            wait(mem, t.rfc - 1, &mut out, &mut pending)?;
        }
        // ACTIVATE when tRP, tRC and tRRD allow it.
        let k = mem.banks[bank as usize];
        let ready =
            [k.precharged.map(|p| p + t.rp), k.activated.map(|a| a + t.rc), mem.last_activate.map(|a| a + t.rrd)]
                .into_iter()
                .flatten()
                .max()
                .unwrap_or(0);
        wait(mem, ready.saturating_sub(mem.cycle()), &mut out, &mut pending)?;
        issue(mem, Command::Activate { bank, row }, &mut out, &mut pending)?;
        wait(mem, t.rcd - 1, &mut out, &mut pending)?;
        for c in 0..words {
            pending += 1;
            issue(mem, Command::Read { bank, col: col + c as u32 }, &mut out, &mut pending)?;
        }
        let open_at = mem.banks[bank as usize].activated.unwrap_or(0);
        wait(mem, (open_at + t.ras).saturating_sub(mem.cycle()), &mut out, &mut pending)?;
        issue(mem, Command::Precharge { bank }, &mut out, &mut pending)?;
        addr += words;
    }
    while pending > 0 {
        issue(mem, Command::Nop, &mut out, &mut pending)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Micron MT48LC16M16A2 (the ULX3S's 32 MB, x16) as LiteDRAM's `litedram/modules.py`
    /// describes it: 4 banks x 8192 rows x 512 columns; tRP 20, tRCD 20, tWR 15, tRFC 66,
    /// tRAS 44, tRRD 15 ns, tREFI 64 ms / 8192; tRC, which the module does not state, as
    /// tRAS + tRP; CL 2.
    fn mt48lc16m16() -> (Geometry, TimingNs) {
        (
            Geometry { banks: 4, rows: 8192, cols: 512, width: 16 },
            TimingNs {
                cl: 2,
                t_rcd: 20.0,
                t_rp: 20.0,
                t_ras: 44.0,
                t_rc: 64.0,
                t_rrd: 15.0,
                t_rfc: 66.0,
                t_wr: 15.0,
                t_refi: 64e6 / 8192.0,
            },
        )
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
        let t = Timing { cl: 2, rcd: 2, rp: 2, ras: 5, rc: 9, rrd: 2, rfc: 7, wr: 2, refi: 1000 };
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
}
