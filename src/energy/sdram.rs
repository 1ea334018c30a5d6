//! Energy of an external SDR SDRAM from its datasheet supply currents (`[external_memory.power]`),
//! by the IDD method of Micron's DRAM power notes adapted to SDR parts, whose datasheets give
//! IDD1, IDD3, IDD4 and IDD5 but no IDD0 or IDD2N (docs/energy.md, "External memory"):
//!
//! - a READ word: (IDD4 - IDD3) x VDD x tCK of the IDD test (a word per clock in IDD4);
//! - an ACTIVATE with its PRECHARGE: (IDD1 - IDD3) x VDD x tRC of the IDD1 test (an upper
//!   bound: IDD1 includes a two-word access);
//! - a REFRESH: (IDD5 - IDD3) x VDD x tRFC of the IDD5 test;
//! - background: IDD3 x VDD scaled by the clock (the datasheet: IDD changes in proportion to
//!   the frequency of the test condition), times the time; IDD3 is the active standby current,
//!   an upper bound for a chip whose banks are mostly closed.
//!
//! Per-command energies do not depend on the clock; background power does.

use serde::Serialize;

use crate::sim::sdram::Counts;
use crate::target::MemoryPower;

/// The energy of a run of commands, J.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct SdramEnergy {
    /// READ words.
    pub read_j: f64,
    /// ACTIVATE + PRECHARGE pairs.
    pub activate_j: f64,
    /// REFRESH commands.
    pub refresh_j: f64,
    /// Background power times time.
    pub background_j: f64,
}

impl SdramEnergy {
    /// The sum.
    pub fn total_j(&self) -> f64 {
        self.read_j + self.activate_j + self.refresh_j + self.background_j
    }
}

/// Joules of one READ word.
pub fn read_word_j(p: &MemoryPower) -> f64 {
    (p.idd4_ma - p.idd3_ma).max(0.0) * 1e-3 * p.vdd * p.idd_tck_ns * 1e-9
}

/// Joules of one ACTIVATE with its PRECHARGE.
pub fn activate_j(p: &MemoryPower) -> f64 {
    (p.idd1_ma - p.idd3_ma).max(0.0) * 1e-3 * p.vdd * p.idd_trc_ns * 1e-9
}

/// Joules of one REFRESH.
pub fn refresh_j(p: &MemoryPower) -> f64 {
    (p.idd5_ma - p.idd3_ma).max(0.0) * 1e-3 * p.vdd * p.idd_trfc_ns * 1e-9
}

/// Background power at `clock_mhz`, W.
pub fn background_w(p: &MemoryPower, clock_mhz: f64) -> f64 {
    p.idd3_ma * 1e-3 * p.vdd * (clock_mhz * p.idd_tck_ns * 1e-3).min(1.0)
}

/// The energy of the commands in `c` over `c.cycles` cycles at `clock_mhz`.
pub fn energy(p: &MemoryPower, c: &Counts, clock_mhz: f64) -> SdramEnergy {
    SdramEnergy {
        read_j: c.reads as f64 * read_word_j(p),
        activate_j: c.activates as f64 * activate_j(p),
        refresh_j: c.refreshes as f64 * refresh_j(p),
        background_j: background_w(p, clock_mhz) * c.cycles as f64 / (clock_mhz * 1e6),
    }
}

/// The SDRAM energy of one streaming pass over a plan's weights (`f`, on `mem`): its reads,
/// one PRECHARGE per ACTIVATE, its refreshes and the background over its cycles.
pub fn pass_energy(f: &crate::hw::sdram::StreamFigures, mem: &crate::target::ExternalMemory) -> SdramEnergy {
    let c = Counts {
        activates: f.activates,
        reads: f.reads,
        writes: 0,
        precharges: f.activates,
        refreshes: f.refreshes,
        cycles: f.cycles_per_pass,
    };
    energy(&mem.power, &c, f.clock_mhz)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Micron 256Mb SDR datasheet (Rev. W), -6A, die revision G: IDD1 100, IDD3 35, IDD4
    /// 100, IDD5 150 mA at 3.3 V, tCK 6 ns, tRC 60 ns, tRFC 60 ns.
    fn mt48lc16m16a2() -> MemoryPower {
        MemoryPower {
            vdd: 3.3,
            idd_tck_ns: 6.0,
            idd_trc_ns: 60.0,
            idd_trfc_ns: 60.0,
            idd1_ma: 100.0,
            idd3_ma: 35.0,
            idd4_ma: 100.0,
            idd5_ma: 150.0,
        }
    }

    #[test]
    fn datasheet_currents_give_the_per_command_energies() {
        let p = mt48lc16m16a2();
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs().max(1e-18);
        assert!(close(read_word_j(&p), 65e-3 * 3.3 * 6e-9), "{}", read_word_j(&p));
        assert!(close(activate_j(&p), 65e-3 * 3.3 * 60e-9));
        assert!(close(refresh_j(&p), 115e-3 * 3.3 * 60e-9));
        // 50 MHz is 0.3 of the 166.7 MHz test clock: 35 mA x 3.3 V x 0.3.
        assert!(close(background_w(&p, 50.0), 35e-3 * 3.3 * 0.3));
        let c = Counts { activates: 2, reads: 1000, writes: 0, precharges: 2, refreshes: 3, cycles: 50_000 };
        let e = energy(&p, &c, 50.0);
        assert!(close(e.background_j, 35e-3 * 3.3 * 0.3 * 1e-3), "{e:?}");
        assert!(close(e.total_j(), e.read_j + e.activate_j + e.refresh_j + e.background_j));
        assert!(close(e.read_j, 1000.0 * 65e-3 * 3.3 * 6e-9));
    }
}
