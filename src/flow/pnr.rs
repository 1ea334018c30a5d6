//! What the open flows (iCE40, ECP5) share: the board's pin budget, the PLL choice and the
//! clock wrapper's frame, the timed steps, running Yosys (its `stat -json` cell counts) and
//! nextpnr (a failed placement is [`FlowError::DoesNotFit`] quoting the resources over
//! capacity), and reading nextpnr's `--report` JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use super::pnr_watch::PnrWatch;
use super::yowasp::{self, Tools};
use super::{FlowError, fmax_of, over_capacity, run_polled};
use crate::back::verilog::{Design, board_port_decls, board_ports, is_sdram_port};
use crate::target::Target;

/// Used vs available.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Use {
    /// Used.
    pub used: u64,
    /// Available on the device.
    pub available: u64,
}

/// Refuses a design whose board ports need more pins than the board offers (the clock's pin
/// aside).
pub fn check_pins(d: &Design, t: &Target) -> Result<(), FlowError> {
    let need: usize = board_ports(d).iter().skip(1).filter(|(n, _)| !is_sdram_port(n)).map(|(_, w)| w).sum();
    if d.sdram.is_some() && t.external_memory.is_none() {
        return Err(FlowError::DoesNotFit(format!(
            "the design streams its weights from an SDRAM, which {} lacks",
            t.name
        )));
    }
    for (name, w) in board_ports(d).iter().filter(|(n, _)| is_sdram_port(n)) {
        if let Some(b) = (0..*w).find(|&b| sdram_pin(t, name, b).is_none()) {
            return Err(FlowError::DoesNotFit(format!(
                "{}'s [external_memory.pins] has no pin for {name}[{b}]",
                t.name
            )));
        }
    }
    if need > t.board.pins.len() {
        return Err(FlowError::DoesNotFit(format!(
            "the design's ports need {} pins but {}'s board offers {} (output words are {} bits: use fewer --lanes, or \
             spike outputs instead of values)",
            need + 1,
            t.name,
            t.board.pins.len() + 1,
            d.out_width
        )));
    }
    Ok(())
}

/// Each board port bit (the clock aside) with its pin, in port order: (`name` or
/// `name[bit]`, pin); the SDRAM's ports on the memory's own pins. Call after [`check_pins`].
pub fn port_pins<'a>(d: &Design, t: &'a Target) -> Vec<(String, &'a str)> {
    let mut pins = t.board.pins.iter();
    let mut v = vec![];
    for (name, w) in board_ports(d).iter().skip(1) {
        for b in 0..*w {
            let port = if *w == 1 { name.clone() } else { format!("{name}[{b}]") };
            let p = if is_sdram_port(name) {
                sdram_pin(t, name, b).expect("check_pins found the SDRAM's pins")
            } else {
                pins.next().expect("check_pins counted them")
            };
            v.push((port, p.as_str()));
        }
    }
    v
}

/// The pin of bit `b` of the SDRAM port `name` (`sd_clk` included) on `t`'s memory.
pub fn sdram_pin<'a>(t: &'a Target, name: &str, b: usize) -> Option<&'a String> {
    let p = &t.external_memory.as_ref()?.pins;
    match name {
        "sd_clk" => Some(&p.clock),
        "sd_cke" => Some(&p.cke),
        "sd_cs_n" => Some(&p.cs_n),
        "sd_we_n" => Some(&p.we_n),
        "sd_ras_n" => Some(&p.ras_n),
        "sd_cas_n" => Some(&p.cas_n),
        "sd_ba" => p.ba.get(b),
        "sd_a" => p.a.get(b),
        "sd_dq" => p.dq.get(b),
        "sd_dqm" => p.dqm.get(b),
        _ => None,
    }
}

/// The PLL setting that makes the design's clock (`t.clock.default_mhz`) from the board's
/// oscillator when they differ (None when they do not); a clock no setting makes within 0.01%
/// is refused with the nearest ones. `settings` lists what the PLL (`what`, e.g. "iCE40 PLL")
/// makes from the oscillator, `fout` reads a setting's output; `range` is its output range.
pub fn choose_pll<P: Copy>(
    t: &Target,
    settings: impl Fn(f64) -> Vec<P>,
    fout: impl Fn(&P) -> f64,
    what: &str,
    range: &str,
) -> Result<Option<P>, FlowError> {
    let want = t.clock.default_mhz;
    let Some(fin) = t.clock.board_mhz.filter(|&b| (b - want).abs() > 1e-9) else { return Ok(None) };
    let all = settings(fin);
    if let Some(p) = all.iter().find(|p| (fout(p) - want).abs() <= want * 1e-4) {
        return Ok(Some(*p));
    }
    let below = all.iter().map(&fout).filter(|&f| f < want).reduce(f64::max);
    let above = all.iter().map(&fout).filter(|&f| f > want).reduce(f64::min);
    let near: Vec<String> = below.into_iter().chain(above).map(|f| format!("{}", (f * 1e4).round() / 1e4)).collect();
    Err(FlowError::Clock(format!(
        "--clock-mhz {want}: the {what} cannot make it from the board's {fin} MHz oscillator; the nearest clocks it makes \
         are {}",
        if near.is_empty() { format!("none ({range})") } else { near.join(" and ") }
    )))
}

/// The fastest clock at or below `mhz` a PLL makes from a `fin` MHz oscillator (`settings`
/// lists its settings, `fout` their output), or the oscillator's own (no PLL) when that is
/// faster: what a design whose Fmax is `mhz` can be built at. `None` when no clock up to `mhz`
/// can be made.
pub fn fastest_clock<P>(fin: f64, mhz: f64, settings: impl Fn(f64) -> Vec<P>, fout: impl Fn(&P) -> f64) -> Option<f64> {
    settings(fin).iter().map(fout).chain([fin]).filter(|&f| f <= mhz).reduce(f64::max)
}

/// The clock wrapper `<module>_top`: `header` (comment lines), the board wrapper's ports, a
/// reset synchronised to the PLL's clock and held until it locks, the PLL (`pll`: its
/// instance, which drives `clk_pll` and `lock`), and the board wrapper on `clk_pll`. A design
/// streaming from an SDRAM also drives the chip's clock, `sd_clk`, which `pll` drives too.
pub fn clock_wrapper(d: &Design, header: &str, pll: &str) -> String {
    let m = &d.module;
    let mut s = format!("{header}`default_nettype none\nmodule {m}_top (\n");
    s.push_str(&board_port_decls(d));
    if d.sdram.is_some() {
        s.push_str(",\n    output wire sd_clk");
    }
    let _ = write!(
        s,
        "\n);\n    wire clk_pll, lock;\n    \
         // Reset, synchronised to the PLL's clock (two flip-flops), held until the PLL locks.\n    \
         reg [1:0] rst_q = 2'b11;\n    \
         always @(posedge clk_pll) rst_q <= {{rst_q[0], rst || !lock}};\n    \
         {pll}\n    \
         {m}_board board (\n        .clk(clk_pll), .rst(rst_q[1])"
    );
    for (n, _) in board_ports(d).iter().skip(2) {
        let _ = write!(s, ", .{n}({n})");
    }
    s.push_str(");\nendmodule\n`default_nettype wire\n");
    s
}

/// The build's steps with the seconds each took (the reports' `seconds`).
#[derive(Debug, Default)]
pub struct Steps(pub Vec<(String, f64)>);

impl Steps {
    /// Runs `f` as the step `name`, timing it when it succeeds.
    pub fn time<T>(&mut self, name: &str, f: impl FnOnce() -> Result<T, FlowError>) -> Result<T, FlowError> {
        let t0 = Instant::now();
        let r = f()?;
        self.0.push((name.into(), t0.elapsed().as_secs_f64()));
        Ok(r)
    }
}

/// Synthesises with the set's Yosys (`args`, in `dir`; the step "yosys", `what` names the
/// synthesis command for `progress`): the cell counts it wrote to `yosys_stat.json`.
pub fn synthesise(
    tools: &Tools,
    args: &[&str],
    dir: &Path,
    what: &str,
    steps: &mut Steps,
    progress: &dyn Fn(&str),
) -> Result<BTreeMap<String, u64>, FlowError> {
    progress(&format!("synthesising with {} ({what})", yowasp::program(&tools.yosys)));
    steps.time("yosys", || run_polled(&tools.yosys, args, dir, &mut || {}))?;
    read_yosys_cells(dir)
}

/// Runs nextpnr (`args` must log to `nextpnr.log` in `dir`), telling `progress` where it is
/// (its phase, the router's arcs left: [`PnrWatch`]). A placement that fails is
/// [`FlowError::DoesNotFit`] with the resources nextpnr found over 100% and `advice`.
pub fn place(
    nextpnr: &Path,
    args: &[&str],
    dir: &Path,
    t: &Target,
    advice: &str,
    progress: &dyn Fn(&str),
) -> Result<(), FlowError> {
    // A log left by an earlier run must not be read as this one's.
    let log = dir.join("nextpnr.log");
    match std::fs::remove_file(&log) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(FlowError::Io(format!("{}: {e}", log.display())));
        }
        _ => {}
    }
    let mut watch = PnrWatch::new(log, Instant::now());
    match run_polled(nextpnr, args, dir, &mut || watch.poll_at(Instant::now(), progress)) {
        Ok(_) => Ok(()),
        Err(FlowError::Failed { tool, message }) => {
            // The whole log: the utilisation lines precede the failure by far more than its tail.
            let log = std::fs::read_to_string(dir.join("nextpnr.log")).unwrap_or_default();
            let failed_placing = |s: &str| s.contains("Unable to place") || s.contains("Failed to");
            if !(failed_placing(&log) || failed_placing(&message)) {
                return Err(FlowError::Failed { tool, message });
            }
            let mut over = over_capacity(&log);
            if over.is_empty() {
                over = over_capacity(&message);
            }
            Err(FlowError::DoesNotFit(format!(
                "nextpnr cannot place the design on {} ({}); {advice}",
                t.name,
                if over.is_empty() { "placement failed".to_string() } else { over.join(", ") }
            )))
        }
        Err(e) => Err(e),
    }
}

/// The size of the bitstream `name` in `dir`, bytes.
pub fn bytes(dir: &Path, name: &str) -> Result<u64, FlowError> {
    let p = dir.join(name);
    std::fs::metadata(&p).map(|m| m.len()).map_err(|e| FlowError::Io(format!("{}: {e}", p.display())))
}

/// nextpnr's `--report` JSON (`nextpnr.json` in the build folder).
pub struct PnrReport(serde_json::Value);

impl PnrReport {
    /// Reads `dir/nextpnr.json`.
    pub fn read(dir: &Path) -> Result<PnrReport, FlowError> {
        let p = dir.join("nextpnr.json");
        let text = std::fs::read_to_string(&p).map_err(|e| FlowError::Io(format!("{}: {e}", p.display())))?;
        serde_json::from_str(&text).map(PnrReport).map_err(|e| FlowError::Io(format!("{}: {e}", p.display())))
    }

    /// The utilisation of one kind of cell (e.g. ICESTORM_LC, TRELLIS_COMB).
    pub fn util(&self, kind: &str) -> Option<Use> {
        let u = self.0.get("utilization")?.get(kind)?;
        Some(Use { used: u.get("used")?.as_u64()?, available: u.get("available")?.as_u64()? })
    }

    /// The slowest clock domain's achieved Fmax, MHz.
    pub fn fmax(&self) -> Option<f64> {
        fmax_of(&self.0)
    }
}

/// The design's cell counts from Yosys's `stat -json` (`$`-cells left out).
pub(crate) fn yosys_cells(text: &str) -> Result<BTreeMap<String, u64>, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("yosys_stat.json: {e}"))?;
    let by_type = v
        .get("design")
        .and_then(|d| d.get("num_cells_by_type"))
        .or_else(|| v.get("modules")?.as_object()?.values().next()?.get("num_cells_by_type"))
        .and_then(|c| c.as_object())
        .ok_or("yosys_stat.json: no cell counts")?;
    Ok(by_type
        .iter()
        .filter_map(|(k, n)| Some((k.clone(), n.as_u64()?)))
        .filter(|(k, _)| !k.starts_with('$'))
        .collect())
}

/// [`yosys_cells`] of `dir/yosys_stat.json`.
pub fn read_yosys_cells(dir: &Path) -> Result<BTreeMap<String, u64>, FlowError> {
    let p = dir.join("yosys_stat.json");
    let text = std::fs::read_to_string(&p).map_err(|e| FlowError::Io(format!("{}: {e}", p.display())))?;
    yosys_cells(&text).map_err(|message| FlowError::Failed { tool: "yosys".into(), message })
}

#[cfg(test)]
mod tests {
    #[test]
    fn yosys_statistics_are_read_from_its_json() {
        let j = r#"{"design": {"num_cells": 5, "num_cells_by_type": {"$scopeinfo": 3, "LUT4": 1304, "DP16KD": 4}}}"#;
        let c = super::yosys_cells(j).unwrap();
        assert_eq!(c.get("LUT4"), Some(&1304));
        assert_eq!(c.get("DP16KD"), Some(&4));
        assert!(!c.contains_key("$scopeinfo"));
        // Without "design" (one module): that module's counts.
        let j = r#"{"modules": {"\\top": {"num_cells_by_type": {"SB_LUT4": 7}}}}"#;
        assert_eq!(super::yosys_cells(j).unwrap().get("SB_LUT4"), Some(&7));
        assert!(super::yosys_cells("{}").is_err());
        assert!(super::yosys_cells("not json").is_err());
    }
}
