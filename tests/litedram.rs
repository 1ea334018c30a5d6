//! LiteDRAM's own timing checker judges spikefab's SDRAM models. LiteDRAM's simulation PHY
//! (`SDRAMPHYModel`) checks every command it receives with `DFITimingsChecker`;
//! scripts/litedram_timing_check.py replays a command log into that checker (Migen's
//! simulator). Here it judges:
//! - the commands spikefab's streaming controller (`hw::sdram::Streamer`, the specification
//!   `hdl/sf_sdram_stream.v` is co-simulated against) issues from power-up through reads that
//!   cross rows and banks and many refresh intervals, on the ULX3S's SDRAM at its 50 MHz and
//!   at 100 MHz: no violation, as spikefab's chip model (`sim::sdram`) finds none;
//! - the same streams with one command moved early or dropped: spikefab's chip model refuses
//!   each, and LiteDRAM reports the same rule.
//!
//! LiteDRAM's checker tests a rule only against the bank's last command (`last_cmd`): it
//! misses tRAS when READs come between the ACTIVATE and the PRECHARGE, and tRC, whose
//! ACTIVATEs always have a PRECHARGE between them. The tRAS case here drops the READs between;
//! spikefab's chip model checks each rule from the time of the command it counts from.
//!
//! The venv with `litedram` and `migen` is `SPIKEFAB_LITEDRAM_PYTHON` (.ci/run makes it).

use crate::common;

use std::collections::BTreeMap;
use std::process::Command as Process;

use spikefab::sim::sdram::{Command, Geometry, Request, Rule, Sdram, Streamer, Timing, log_command};
use spikefab::target::Target;

/// LiteDRAM's Python, or None (a skip outside CI, [`common::require`]).
fn litedram(test: &str) -> Option<String> {
    let found = std::env::var("SPIKEFAB_LITEDRAM_PYTHON")
        .ok()
        .filter(|p| {
            Process::new(p).args(["-c", "import litedram.phy.model, migen"]).output().is_ok_and(|o| o.status.success())
        })
        .ok_or_else(|| "SPIKEFAB_LITEDRAM_PYTHON names no Python with litedram and migen".to_string());
    common::require(found, test)
}

/// The ULX3S's SDRAM at `mhz`.
fn part(mhz: f64) -> (Geometry, Timing) {
    let mem = Target::load("ulx3s-85f").unwrap().external_memory.expect("the board's SDRAM");
    (mem.geometry, mem.timing.at(mhz))
}

/// The controller's commands from power-up, by cycle: its initialisation, then each request of
/// `reqs` (address, words) offered once the one before is served and `gap` idle cycles have
/// passed, until `end`. Every command is stepped on the chip model, which must accept it.
fn controller(g: Geometry, t: Timing, reqs: &[(u64, u64)], gap: u64, end: u64) -> BTreeMap<u64, Command> {
    let mut ctl = Streamer::new(g, t).unwrap();
    let mut chip = Sdram::power_up(g, t);
    let mut cmds = BTreeMap::new();
    let (mut next, mut idle) = (0, 0);
    for cycle in 0..end {
        let offer = (next < reqs.len() && ctl.ready() && idle >= gap)
            .then(|| Request { addr: reqs[next].0, len: reqs[next].1 });
        let (cmd, accepted) = ctl.decide(offer);
        if accepted {
            next += 1;
            idle = 0;
        } else if ctl.ready() {
            idle += 1;
        }
        chip.step(cmd).unwrap_or_else(|v| panic!("the chip model refuses the controller: {v}"));
        if cmd != Command::Nop {
            cmds.insert(cycle, cmd);
        }
    }
    assert_eq!(next, reqs.len(), "every request served by cycle {end}");
    cmds
}

/// The first rule the chip model finds broken by `cmds` (NOP between them), from power-up.
fn chip_verdict(g: Geometry, t: Timing, cmds: &BTreeMap<u64, Command>) -> Option<(u64, Rule)> {
    let mut chip = Sdram::power_up(g, t);
    let end = cmds.keys().last().copied().unwrap_or(0) + 1;
    for cycle in 0..end {
        if let Err(v) = chip.step(cmds.get(&cycle).copied().unwrap_or(Command::Nop)) {
            return Some((v.cycle, v.rule));
        }
    }
    None
}

/// LiteDRAM's verdict on `cmds`: the script's exit code and its report.
fn litedram_verdict(
    py: &str,
    g: Geometry,
    t: Timing,
    mhz: f64,
    cmds: &BTreeMap<u64, Command>,
    name: &str,
) -> (i32, String) {
    let dir = common::scratch(&format!("litedram-{name}"));
    let log: String = cmds.iter().filter_map(|(&c, &cmd)| log_command(c, cmd)).map(|l| l + "\n").collect();
    let path = dir.join("commands.log");
    std::fs::write(&path, log).unwrap();
    let n = |v: u64| v.to_string();
    let out = Process::new(py)
        .arg(common::root().join("scripts/litedram_timing_check.py"))
        .arg(&path)
        .args(["--clock-mhz", &mhz.to_string(), "--banks", &g.banks.to_string()])
        .args(["--rcd", &n(t.rcd), "--rp", &n(t.rp), "--ras", &n(t.ras), "--rrd", &n(t.rrd)])
        .args(["--rfc", &n(t.rfc), "--wr", &n(t.wr), "--refi", &n(t.refi)])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

/// Reads from every bank, across row ends, with idle gaps between them: the access patterns
/// of a streamed design's tiles.
fn requests(g: Geometry) -> Vec<(u64, u64)> {
    let row = g.cols as u64;
    let bank = row * g.rows as u64;
    vec![(0, 3 * row + 17), (bank - 40, 100), (2 * bank + 5, 700), (3 * bank + row - 1, 2), (row * 7 + 3, 1500)]
}

#[test]
fn litedram_finds_no_violation_in_the_controllers_commands() {
    let Some(py) = litedram("litedram_finds_no_violation_in_the_controllers_commands") else { return };
    // Migen simulates each cycle in Python (about 2 ms a cycle): the board's 50 MHz over 30
    // refresh intervals, 100 MHz over 10 (every request is served within them).
    for (mhz, intervals) in [(50.0, 30), (100.0, 10)] {
        let (g, t) = part(mhz);
        let end = t.init + intervals * t.refi;
        let cmds = controller(g, t, &requests(g), 97, end);
        let refreshes = cmds.values().filter(|c| **c == Command::Refresh).count();
        assert!(refreshes as u64 >= intervals - 2, "{mhz} MHz: {refreshes} refreshes");
        let (code, text) = litedram_verdict(&py, g, t, mhz, &cmds, &format!("clean-{mhz}"));
        assert_eq!(code, 0, "{mhz} MHz: LiteDRAM finds violations:\n{text}");
        assert!(text.contains(&format!("{} commands, 0 violations", cmds.len())), "{mhz} MHz: {text}");
    }
}

/// One command of the clean stream moved to `to`, or dropped (`to` None).
fn moved(cmds: &BTreeMap<u64, Command>, from: u64, to: Option<u64>) -> BTreeMap<u64, Command> {
    let mut m = cmds.clone();
    let c = m.remove(&from).unwrap();
    if let Some(to) = to {
        assert!(m.insert(to, c).is_none(), "cycle {to} is free");
    }
    m
}

#[test]
fn litedram_and_the_chip_model_refuse_the_same_commands() {
    let Some(py) = litedram("litedram_and_the_chip_model_refuse_the_same_commands") else { return };
    // At 100 MHz every rule spans at least two cycles, so a command can move one cycle early.
    let mhz = 100.0;
    let (g, mut t) = part(mhz);
    assert!(t.rcd >= 2 && t.rp >= 2 && t.rfc >= 2 && t.ras >= 2, "{t:?}");
    // The power-up wait is idle time neither checker times (LiteDRAM's has no tINIT; the clean
    // test above keeps the part's own): two refresh intervals here keep the replays short.
    t.init = t.init.min(2 * t.refi);
    let cmds = controller(g, t, &requests(g), 97, t.init + 12 * t.refi);
    let free = |c: u64| !cmds.contains_key(&c);
    let after = |c: u64, f: &dyn Fn(&Command) -> bool| cmds.range(c + 1..).find(|(_, x)| f(x)).map(|(&k, _)| k);
    let bank_of = |c: &Command| match *c {
        Command::Activate { bank, .. } | Command::Read { bank, .. } | Command::Precharge { bank } => Some(bank),
        _ => None,
    };
    // (rule, the stream breaking it): the first place the controller's stream allows each.
    let mut cases: Vec<(Rule, BTreeMap<u64, Command>)> = vec![];
    for (&c, cmd) in &cmds {
        let have = |r: Rule, cases: &Vec<(Rule, BTreeMap<u64, Command>)>| cases.iter().any(|(x, _)| *x == r);
        match *cmd {
            // A READ one cycle before tRCD after its ACTIVATE.
            Command::Activate { bank, .. } => {
                if let Some(rd) = after(c, &|x| bank_of(x) == Some(bank)).filter(|&r| r == c + t.rcd)
                    && !have(Rule::Rcd, &cases)
                    && matches!(cmds[&rd], Command::Read { .. })
                    && free(rd - 1)
                {
                    cases.push((Rule::Rcd, moved(&cmds, rd, Some(rd - 1))));
                }
                // A PRECHARGE one cycle before tRAS after the ACTIVATE.
                // LiteDRAM checks a rule only against the bank's last command, so the READs
                // between go too (the ACTIVATE is then the PRECHARGE's last command).
                if let Some(pre) = after(c, &|x| {
                    matches!(x, Command::Precharge { bank: b } if *b == bank) || *x == Command::PrechargeAll
                })
                .filter(|&p| !have(Rule::Ras, &cases) && p > c + t.ras - 1)
                    && free(c + t.ras - 1)
                {
                    let mut m = moved(&cmds, pre, Some(c + t.ras - 1));
                    m.retain(|&k, x| !(k > c && k < c + t.ras - 1 && bank_of(x) == Some(bank)));
                    cases.push((Rule::Ras, m));
                }
            }
            // An ACTIVATE one cycle before tRP after the PRECHARGE of its bank.
            Command::Precharge { bank } if !have(Rule::Rp, &cases) => {
                if let Some(act) = after(c, &|x| bank_of(x) == Some(bank))
                    && matches!(cmds[&act], Command::Activate { .. })
                    && cmds.range(c + 1..act).all(|(_, x)| bank_of(x).is_none() && *x != Command::Refresh)
                    && free(c + t.rp - 1)
                {
                    cases.push((Rule::Rp, moved(&cmds, act, Some(c + t.rp - 1))));
                }
            }
            Command::Refresh if c > t.init + t.refi => {
                // The command after a REFRESH one cycle before tRFC.
                if !have(Rule::Rfc, &cases)
                    && let Some(n) = after(c, &|x| matches!(x, Command::Activate { .. }))
                    && cmds.range(c + 1..n).next().is_none()
                    && free(c + t.rfc - 1)
                {
                    cases.push((Rule::Rfc, moved(&cmds, n, Some(c + t.rfc - 1))));
                }
                // A REFRESH left out.
                if !have(Rule::Refi, &cases) {
                    cases.push((Rule::Refi, moved(&cmds, c, None)));
                }
            }
            _ => {}
        }
    }
    let rules: Vec<&str> = cases.iter().map(|(r, _)| r.name()).collect();
    for r in [Rule::Rcd, Rule::Rp, Rule::Ras, Rule::Rfc, Rule::Refi] {
        assert!(rules.contains(&r.name()), "the stream has a place to break {}: {rules:?}", r.name());
    }
    for (rule, broken) in &cases {
        let (cycle, found) =
            chip_verdict(g, t, broken).unwrap_or_else(|| panic!("the chip model misses {}", rule.name()));
        assert_eq!(found, *rule, "the chip model at cycle {cycle}");
        // LiteDRAM is given the stream up to two refresh intervals past the break (a missing
        // REFRESH is reported when the interval ends): what follows cannot change its verdict
        // there, and each replayed cycle costs Python time.
        let broken: BTreeMap<u64, Command> = broken.range(..=cycle + 2 * t.refi).map(|(&k, &c)| (k, c)).collect();
        let broken = &broken;
        let (code, text) = litedram_verdict(&py, g, t, mhz, broken, rule.name());
        assert_eq!(code, 1, "LiteDRAM misses {}:\n{text}", rule.name());
        assert!(
            text.lines().any(|l| l.starts_with(&format!("cycle {cycle}: {} violation", rule.name()))),
            "{} at cycle {cycle}:\n{text}",
            rule.name()
        );
        eprintln!("{}: chip model at cycle {cycle}; LiteDRAM: {}", rule.name(), text.lines().next().unwrap_or(""));
    }
}
