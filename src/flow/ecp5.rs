//! The open ECP5 flow: an LPF for the board wrapper, Yosys `synth_ecp5`, nextpnr-ecp5 and
//! ecppack, with resources and Fmax read from the tools' own reports (Yosys's `stat -json`,
//! nextpnr's `--report` JSON).
//!
//! The tools are the native set or, as usual (Debian has no ECP5 flow), YoWASP's
//! ([`super::yowasp`] finds, or installs, them). Every tool runs inside the build folder on
//! relative file names (YoWASP's WASI sandbox sees the current directory).

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::ice40::sources;
use super::pnr::{self, PnrReport, Steps, Use, bytes};
pub use super::yowasp::Tools;
use super::yowasp::{self, Family, Kind};
use super::{FlowError, Seeds, best_seed, report_fmax, run_polled, write_files};
use crate::back::verilog::Design;
use crate::target::Target;

/// The ECP5 tool set, found or installed ([`yowasp::find`]; an install's note goes to stderr).
pub fn tools() -> Result<Tools, FlowError> {
    yowasp::find(Family::Ecp5, &|m| eprintln!("{m}"))
}

/// What the flow built and measured.
#[derive(Clone, Debug, Serialize)]
pub struct Ecp5Report {
    /// Target.
    pub target: String,
    /// LUT4s placed (nextpnr's TRELLIS_COMB: logic, carry and LUT-RAM halves).
    pub luts: Use,
    /// Flip-flops placed (TRELLIS_FF).
    pub ffs: Use,
    /// Block RAMs (DP16KD).
    pub block_rams: Use,
    /// 18x18 multipliers (MULT18X18D).
    pub dsps: Use,
    /// I/O cells (TRELLIS_IO).
    pub ios: Use,
    /// Slices used as distributed RAM write ports (TRELLIS_RAMW).
    pub lutram: Option<Use>,
    /// Yosys's cell counts of the synthesised top (LUT4, CCU2C, DP16KD, ...).
    pub yosys_cells: std::collections::BTreeMap<String, u64>,
    /// Fmax from nextpnr's timing analysis, MHz (the slowest clock domain).
    pub fmax_nextpnr_mhz: Option<f64>,
    /// Clock the design is meant to run at, MHz.
    pub target_mhz: f64,
    /// The PLL in front of the design, when `--clock-mhz` asked for a clock other than the
    /// board's oscillator.
    pub pll: Option<Pll>,
    /// Bitstream file name (in the build folder).
    pub bitstream: String,
    /// Bitstream size in bytes.
    pub bitstream_bytes: u64,
    /// The tools that built it: native or YoWASP, where found, and their versions.
    pub tools: String,
    /// Seconds per step.
    pub seconds: Vec<(String, f64)>,
    /// The placement seeds tried and the one kept.
    pub seeds: Seeds,
}

impl Ecp5Report {
    /// Fmax the design is signed off at (nextpnr's).
    pub fn fmax_mhz(&self) -> Option<f64> {
        self.fmax_nextpnr_mhz
    }
}

/// A setting of the ECP5 sysCLOCK PLL (EHXPLLL, feedback from CLKOP):
/// `fout = fin / CLKI_DIV * CLKFB_DIV`, `fvco = fout * CLKOP_DIV`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Pll {
    /// Reference divider (1..=128).
    pub clki_div: u32,
    /// Feedback divider (1..=80).
    pub clkfb_div: u32,
    /// Output divider (1..=128).
    pub clkop_div: u32,
    /// Input (the board's oscillator), MHz.
    pub fin_mhz: f64,
    /// Output, MHz.
    pub fout_mhz: f64,
    /// VCO, MHz.
    pub vco_mhz: f64,
}

/// Every output the PLL can make from `fin` MHz (phase detector 3.125-400 MHz, VCO 400-800 MHz,
/// output 10-400 MHz), the VCO nearest 600 MHz for each.
fn pll_settings(fin: f64) -> Vec<Pll> {
    let mut v: Vec<Pll> = vec![];
    for clki_div in 1..=128u32 {
        let pfd = fin / f64::from(clki_div);
        if !(3.125..=400.0).contains(&pfd) {
            continue;
        }
        for clkfb_div in 1..=80u32 {
            let fout = pfd * f64::from(clkfb_div);
            if !(10.0..=400.0).contains(&fout) {
                continue;
            }
            let best = (1..=128u32)
                .map(|d| (d, fout * f64::from(d)))
                .filter(|(_, vco)| (400.0..=800.0).contains(vco))
                .min_by(|a, b| (a.1 - 600.0).abs().total_cmp(&(b.1 - 600.0).abs()));
            if let Some((clkop_div, vco)) = best {
                v.push(Pll { clki_div, clkfb_div, clkop_div, fin_mhz: fin, fout_mhz: fout, vco_mhz: vco });
            }
        }
    }
    v
}

/// The PLL that makes the design's clock from the board's oscillator when they differ; a clock
/// it cannot make exactly (within 0.01%) is refused with the nearest ones it can.
pub fn pll(t: &Target) -> Result<Option<Pll>, FlowError> {
    pnr::choose_pll(t, pll_settings, |p| p.fout_mhz, "ECP5 PLL", "10-400 MHz")
}

/// [`pnr::fastest_clock`] with the ECP5 PLL.
pub fn fastest_clock(fin: f64, mhz: f64) -> Option<f64> {
    pnr::fastest_clock(fin, mhz, pll_settings, |p| p.fout_mhz)
}

/// The clock wrapper `<module>_top` (the PLL feeding the board wrapper, held in reset until the
/// PLL locks), or `None` at the oscillator's clock. A design streaming from the SDRAM always
/// has one: it forwards the chip's clock through an output DDR register (ODDRX1F), 90 degrees
/// behind the design's from a second PLL output (as LiteX clocks the ULX3S's SDRAM), or
/// inverted when the design runs at the oscillator's clock.
pub fn clock_top(d: &Design, t: &Target) -> Result<Option<(String, String)>, FlowError> {
    let m = &d.module;
    let Some(p) = pll(t)? else {
        if d.sdram.is_none() {
            return Ok(None);
        }
        let header = format!(
            "// Generated by spikefab: {m}_board at the board's {} MHz oscillator; the SDRAM's clock is its\n\
             // inverse (180 degrees), forwarded through an ODDRX1F.\n",
            t.clock.default_mhz
        );
        let body = "assign clk_pll = clk;\n    assign lock = 1'b1;\n    \
                    ODDRX1F sd_ck (.SCLK(clk), .RST(1'b0), .D0(1'b0), .D1(1'b1), .Q(sd_clk));";
        return Ok(Some((format!("{m}_top.v"), pnr::clock_wrapper(d, &header, body))));
    };
    let header = format!(
        "// Generated by spikefab: {m}_board clocked at {:.4} MHz by the ECP5 PLL (EHXPLLL) from the board's\n\
         // {} MHz oscillator (fout = fin / CLKI_DIV * CLKFB_DIV, VCO = fout * CLKOP_DIV = {:.4} MHz).\n",
        p.fout_mhz, p.fin_mhz, p.vco_mhz
    );
    // The SDRAM's clock: CLKOS, the same frequency a quarter period (CLKOP_DIV / 4 VCO cycles)
    // behind CLKOP, forwarded through an ODDRX1F.
    let (os, fwd) = if d.sdram.is_some() {
        (
            format!(
                ".CLKOS_ENABLE(\"ENABLED\"), .CLKOS_DIV({}), .CLKOS_CPHASE({}), .CLKOS_FPHASE(0),\n        ",
                p.clkop_div,
                p.clkop_div / 2 + p.clkop_div / 4
            ),
            "\n    ODDRX1F sd_ck (.SCLK(clk_mem), .RST(1'b0), .D0(1'b1), .D1(1'b0), .Q(sd_clk));",
        )
    } else {
        (String::new(), "")
    };
    let clkos = if d.sdram.is_some() { ".CLKOS(clk_mem), " } else { "" };
    let decl = if d.sdram.is_some() { "wire clk_mem;\n    " } else { "" };
    let pll = format!(
        "{decl}(* FREQUENCY_PIN_CLKI=\"{fin}\" *) (* FREQUENCY_PIN_CLKOP=\"{fout}\" *)\n    \
         (* ICP_CURRENT=\"12\" *) (* LPF_RESISTOR=\"8\" *) (* MFG_ENABLE_FILTEROPAMP=\"1\" *) (* MFG_GMCREF_SEL=\"2\" *)\n    \
         EHXPLLL #(.PLLRST_ENA(\"DISABLED\"), .INTFB_WAKE(\"DISABLED\"), .STDBY_ENABLE(\"DISABLED\"),\n        \
         .DPHASE_SOURCE(\"DISABLED\"), .OUTDIVIDER_MUXA(\"DIVA\"), .CLKOP_ENABLE(\"ENABLED\"),\n        \
         .CLKI_DIV({}), .CLKFB_DIV({}), .CLKOP_DIV({}), .CLKOP_CPHASE({}), .CLKOP_FPHASE(0),\n        \
         {os}.FEEDBK_PATH(\"CLKOP\")) pll (\n        \
         .CLKI(clk), .CLKFB(clk_pll), .CLKOP(clk_pll), {clkos}.RST(1'b0), .STDBY(1'b0), .PHASESEL0(1'b0),\n        \
         .PHASESEL1(1'b0), .PHASEDIR(1'b1), .PHASESTEP(1'b1), .PHASELOADREG(1'b1), .PLLWAKESYNC(1'b0),\n        \
         .ENCLKOP(1'b0), .LOCK(lock));{fwd}",
        p.clki_div,
        p.clkfb_div,
        p.clkop_div,
        p.clkop_div / 2,
        fin = p.fin_mhz,
        fout = p.fout_mhz,
    );
    Ok(Some((format!("{m}_top.v"), pnr::clock_wrapper(d, &header, &pll))))
}

/// The top module synthesised: the clock wrapper when a PLL makes the clock.
pub fn top_module(d: &Design, t: &Target) -> String {
    match clock_top(d, t) {
        Ok(Some(_)) => format!("{}_top", d.module),
        _ => format!("{}_board", d.module),
    }
}

/// The LPF: every port of the board wrapper on the board's pins, with the I/O standard and the
/// oscillator's frequency (nextpnr derives the PLL's output clock from it).
pub fn lpf(d: &Design, t: &Target) -> Result<String, FlowError> {
    let mut s = format!("# Pin constraints for {}_board on {} (generated by spikefab)\n", d.module, t.name);
    pnr::check_pins(d, t)?;
    let io = |s: &mut String, port: &str, pin: &str| {
        let _ = writeln!(s, "LOCATE COMP \"{port}\" SITE \"{pin}\";");
        if let Some(std) = &t.board.io_standard {
            let _ = writeln!(s, "IOBUF PORT \"{port}\" IO_TYPE={std};");
        }
    };
    io(&mut s, "clk", &t.board.clock_pin);
    let osc = t.clock.board_mhz.unwrap_or(t.clock.default_mhz);
    let _ = writeln!(s, "FREQUENCY PORT \"clk\" {osc} MHZ;");
    for (port, pin) in pnr::port_pins(d, t) {
        io(&mut s, &port, pin);
    }
    if d.sdram.is_some()
        && let Some(pin) = pnr::sdram_pin(t, "sd_clk", 0)
    {
        io(&mut s, "sd_clk", pin);
    }
    Ok(s)
}

/// The Yosys script (the statistics go to `yosys_stat.json`).
pub fn yosys_script(d: &Design, t: &Target) -> String {
    format!(
        "read_verilog -DSYNTHESIS {}\nsynth_ecp5 -top {} -json {}.json\ntee -q -o yosys_stat.json stat -json\n",
        sources(d).into_iter().chain(clock_top(d, t).ok().flatten().map(|(n, _)| n)).collect::<Vec<_>>().join(" "),
        top_module(d, t),
        d.module
    )
}

fn nextpnr_args(d: &Design, t: &Target, seed: &str) -> Vec<String> {
    let m = &d.module;
    let mut a = t.device.nextpnr_args.clone();
    for x in [
        "--json",
        &format!("{m}.json"),
        "--lpf",
        &format!("{m}.lpf"),
        "--textcfg",
        &format!("{m}.config"),
        "--freq",
        &format!("{}", t.clock.default_mhz),
        "--report",
        "nextpnr.json",
        "--timing-allow-fail",
        "--seed",
        seed,
    ] {
        a.push(x.to_string());
    }
    a
}

/// A shell script that reproduces the flow by hand with the YoWASP tools.
pub fn build_script(d: &Design, t: &Target) -> String {
    build_script_for(d, t, Kind::Yowasp)
}

/// A shell script that reproduces the flow by hand with a `kind` of tools.
pub fn build_script_for(d: &Design, t: &Target, kind: Kind) -> String {
    let m = &d.module;
    let (prefix, preamble) = match kind {
        Kind::Native => ("", String::new()),
        Kind::Yowasp => ("yowasp-", yowasp::script_preamble(Family::Ecp5)),
    };
    format!(
        "#!/bin/sh\n# Builds the {m} bitstream for {t} with the open flow (generated by spikefab).\n{preamble}set -e\n\
         cd \"$(dirname \"$0\")\"\n\
         {prefix}yosys -q -l yosys.log -s {m}.ys\n\
         {prefix}nextpnr-ecp5 {args} -l nextpnr.log\n\
         {prefix}ecppack {m}.config {m}.bit\n",
        t = t.name,
        args = nextpnr_args(d, t, "\"${SEED:-1}\"").join(" "),
    )
}

/// Runs the whole flow in `dir`, where `d`'s files were written, with the tool set
/// [`yowasp::find`] gives (installing YoWASP's when none is found). `progress` hears each step.
/// With `seeds` > 1 it places and routes with seeds 1..=seeds and keeps the placement with the
/// highest Fmax (nextpnr's).
pub fn build(d: &Design, t: &Target, dir: &Path, seeds: u32, progress: &dyn Fn(&str)) -> Result<Ecp5Report, FlowError> {
    let tools = yowasp::find(Family::Ecp5, progress)?;
    let m = &d.module;
    let clock = clock_top(d, t)?;
    let files = clock.into_iter().chain([
        (format!("{m}.lpf"), lpf(d, t)?),
        (format!("{m}.ys"), yosys_script(d, t)),
        ("build.sh".to_string(), build_script_for(d, t, tools.kind)),
    ]);
    write_files(&files.collect::<Vec<_>>(), dir)?;
    let mut steps = Steps::default();
    let ys = format!("{m}.ys");
    let cells =
        pnr::synthesise(&tools, &["-q", "-l", "yosys.log", "-s", &ys], dir, "synth_ecp5", &mut steps, progress)?;
    let get = |k: &str| cells.get(k).copied().unwrap_or(0);
    for (what, used, avail) in [
        ("DP16KD block RAMs", get("DP16KD"), t.device.block_rams),
        ("MULT18X18D multipliers", get("MULT18X18D"), t.device.dsps),
        ("LUT4s (LUT4 + 2 per CCU2C carry)", get("LUT4") + 2 * get("CCU2C"), t.device.luts),
        ("flip-flops", get("TRELLIS_FF"), t.device.ffs),
    ] {
        if used > avail {
            return Err(FlowError::DoesNotFit(format!(
                "synthesis needs {used} {what} but {} has {avail}: use fewer --lanes, fewer --timesteps or smaller \
                 --weight-bits, or a larger target (ecp5-45k, ecp5-85k)",
                t.name
            )));
        }
    }
    let kept = [format!("{m}.config"), "nextpnr.json".to_string(), "nextpnr.log".to_string()];
    let place = |seed: u32| -> Result<Option<f64>, FlowError> {
        let args = nextpnr_args(d, t, &seed.to_string());
        let mut argv: Vec<&str> = args.iter().map(String::as_str).collect();
        argv.extend(["-l", "nextpnr.log"]);
        pnr::place(&tools.nextpnr, &argv, dir, t, "use fewer --lanes or a larger target", progress)?;
        Ok(if seeds > 1 { report_fmax(dir) } else { None })
    };
    let nextpnr = yowasp::program(&tools.nextpnr);
    let seed_runs = steps.time("nextpnr-ecp5", || best_seed(dir, &kept, seeds, &nextpnr, progress, place))?;
    let report = PnrReport::read(dir)?;
    let need = |k: &str| {
        report.util(k).ok_or_else(|| FlowError::Failed {
            tool: "nextpnr-ecp5".into(),
            message: format!("its report (nextpnr.json) has no utilisation of {k}"),
        })
    };
    progress("packing the bitstream with ecppack");
    let bit = format!("{m}.bit");
    steps.time("ecppack", || run_polled(&tools.pack, &[&format!("{m}.config"), &bit], dir, &mut || {}))?;
    let bitstream_bytes = bytes(dir, &bit)?;
    Ok(Ecp5Report {
        target: t.name.clone(),
        luts: need("TRELLIS_COMB")?,
        ffs: need("TRELLIS_FF")?,
        block_rams: need("DP16KD")?,
        dsps: need("MULT18X18D")?,
        ios: need("TRELLIS_IO")?,
        lutram: report.util("TRELLIS_RAMW"),
        yosys_cells: cells,
        // The slowest clock domain; the oscillator's own net has no paths when a PLL drives the design.
        fmax_nextpnr_mhz: report.fmax(),
        target_mhz: t.clock.default_mhz,
        pll: pll(t).ok().flatten(),
        bitstream: bit,
        bitstream_bytes,
        tools: tools.describe(dir),
        seconds: steps.0,
        seeds: seed_runs,
    })
}

#[cfg(test)]
mod tests {
    fn ecp5(clock: f64) -> crate::target::Target {
        let mut t = crate::target::Target::load("ecp5-25k").unwrap();
        t.clock.board_mhz = Some(t.clock.default_mhz);
        t.clock.default_mhz = clock;
        t
    }

    #[test]
    fn the_fastest_clock_below_an_fmax_is_one_the_pll_makes() {
        // From the ULX3S's 25 MHz: 45 (25 / 5 * 9) is above 44.92; 44.44 (25 / 9 * 16) would
        // put the phase detector below 3.125 MHz; 43.75 is 25 / 8 * 14.
        assert_eq!(super::fastest_clock(25.0, 44.92), Some(43.75));
        assert_eq!(super::fastest_clock(25.0, 50.0), Some(50.0));
        // Below the PLL's 10 MHz nothing can be made.
        assert_eq!(super::fastest_clock(25.0, 9.0), None);
        for f in [12.3, 31.7, 44.92, 97.0] {
            let c = super::fastest_clock(25.0, f).unwrap();
            assert!(c <= f && super::pll_settings(25.0).iter().any(|p| p.fout_mhz == c), "{f}: {c}");
        }
    }

    #[test]
    fn pll_settings_follow_the_formula_and_ranges() {
        for q in super::pll_settings(25.0) {
            let pfd = q.fin_mhz / f64::from(q.clki_div);
            assert!((3.125..=400.0).contains(&pfd));
            assert!((pfd * f64::from(q.clkfb_div) - q.fout_mhz).abs() < 1e-9);
            assert!((10.0..=400.0).contains(&q.fout_mhz) && (400.0..=800.0).contains(&q.vco_mhz));
            assert!((q.fout_mhz * f64::from(q.clkop_div) - q.vco_mhz).abs() < 1e-9);
        }
        let p = super::pll(&ecp5(50.0)).unwrap().unwrap();
        assert!((p.fout_mhz - 50.0).abs() < 1e-9, "{p:?}");
        assert_eq!(super::pll(&ecp5(25.0)).unwrap(), None);
        // 25 MHz x k / m with m <= 8: 48 MHz is not among them.
        let e = super::pll(&ecp5(48.0)).unwrap_err().to_string();
        assert!(e.contains("nearest") && e.contains(" and "), "{e}");
        assert!(super::pll(&ecp5(5.0)).unwrap_err().to_string().contains("10"));
    }
}
