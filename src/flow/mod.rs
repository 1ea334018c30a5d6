//! Drives the external tools: iverilog, Verilator, Yosys, nextpnr-ice40, icepack, icetime,
//! nextpnr-ecp5 and ecppack (native or YoWASP's, see [`yowasp`]), g++.
//!
//! Every run happens inside a work folder the caller gives; nothing is written elsewhere but
//! spikefab's own venv of YoWASP's tools, which [`yowasp`] installs when no FPGA tools are found.
//! A missing tool is a [`FlowError::Missing`] naming the Debian package that provides it (or
//! [`FlowError::MissingPip`], the PyPI package; [`FlowError::NotInstalled`], a whole FPGA
//! tool set that may not or could not be installed).

pub mod cosim;
pub mod csim;
pub mod ecp5;
pub mod ice40;
pub mod lava;
pub mod pnr;
pub mod pnr_watch;
pub mod project;
pub mod vendor;
pub mod vivado;
pub mod xylosim;
pub mod yowasp;

pub use project::project_files;

use std::path::Path;
use std::process::Command;

use serde::Serialize;

/// A tool run that failed.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// The tool is not installed.
    #[error("{tool} is not installed (Debian package: {package})")]
    Missing {
        /// Executable.
        tool: String,
        /// Package providing it.
        package: String,
    },
    /// A tool from PyPI is not installed.
    #[error("{tool} is not installed {place} (PyPI package: pip install {package})")]
    MissingPip {
        /// Executable.
        tool: String,
        /// Package providing it.
        package: String,
        /// Where it was looked for.
        place: String,
    },
    /// An FPGA tool set is not installed and spikefab may not, or could not, install it (the
    /// message says how to).
    #[error("{0}")]
    NotInstalled(String),
    /// The tool ran and failed.
    #[error("{tool} failed: {message}")]
    Failed {
        /// Executable.
        tool: String,
        /// Its diagnostics (tail).
        message: String,
    },
    /// The design does not fit the device.
    #[error("the design does not fit: {0}")]
    DoesNotFit(String),
    /// A clock the board cannot make (its PLL's range).
    #[error("{0}")]
    Clock(String),
    /// The Verilog back end refused the plan (beyond the RTL's limits).
    #[error(transparent)]
    Verilog(#[from] crate::back::verilog::EmitError),
    /// The HLS back end refused the plan.
    #[error(transparent)]
    Hls(#[from] crate::back::hls::EmitError),
    /// A student mask the run cannot take.
    #[error(transparent)]
    Mask(#[from] crate::quant::students::MaskError),
    /// File system.
    #[error("{0}")]
    Io(String),
}

/// The Debian package of a tool.
pub fn package_of(tool: &str) -> &'static str {
    match tool {
        "iverilog" | "vvp" => "iverilog",
        "verilator" => "verilator",
        "yosys" => "yosys",
        "nextpnr-ice40" => "nextpnr-ice40",
        "icepack" | "icetime" => "fpga-icestorm",
        "g++" => "g++",
        "chromium" => "chromium",
        _ => "?",
    }
}

/// The resources a failed placement reports above 100% ("TRELLIS_COMB 30000/24288"), read
/// off nextpnr's utilisation lines (`Info:   ICESTORM_LC:  7036/ 5280   133%`).
pub fn over_capacity(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| {
            let l = l.trim_start_matches("Info:").trim();
            let (name, rest) = l.split_once(':')?;
            let (used, avail) = rest.split('%').next()?.split_once('/')?;
            let avail = avail.split_whitespace().next()?;
            let (u, a) = (used.trim().parse::<u64>().ok()?, avail.parse::<u64>().ok()?);
            (u > a).then(|| format!("{} {u}/{a}", name.trim()))
        })
        .collect()
}

/// Most placement seeds one build tries.
pub const MAX_SEEDS: u32 = 64;

/// Fmax of each placement seed tried and the seed kept.
#[derive(Debug, Clone, Serialize)]
pub struct Seeds {
    /// The seed whose placement the build kept.
    pub kept: u32,
    /// (seed, its Fmax in MHz as the build ranks it), in the order tried.
    pub tried: Vec<(u32, Option<f64>)>,
}

/// Places and routes with seeds `1..=seeds` (`tool` names the placer for `progress`), keeping
/// the fastest. `place(seed)` leaves its outputs in `dir` under the names in `files` and
/// returns its Fmax (None ranks lowest; ties keep the earlier seed; with one seed it need not
/// rank). With several seeds, the best run's files are copied aside after it and restored at
/// the end, so `files` hold the kept placement.
pub fn best_seed(
    dir: &Path,
    files: &[String],
    seeds: u32,
    tool: &str,
    progress: &dyn Fn(&str),
    mut place: impl FnMut(u32) -> Result<Option<f64>, FlowError>,
) -> Result<Seeds, FlowError> {
    let io = |e: std::io::Error| FlowError::Io(e.to_string());
    let aside = |f: &String| dir.join(format!("{f}.best"));
    let mut tried = vec![];
    let mut best: Option<(u32, Option<f64>)> = None;
    for seed in 1..=seeds.clamp(1, MAX_SEEDS) {
        progress(&if seeds > 1 {
            format!("placing and routing with {tool} (seed {seed} of {seeds})")
        } else {
            format!("placing and routing with {tool}")
        });
        let fmax = place(seed)?;
        if seeds > 1 {
            progress(&format!("seed {seed}: {}", fmax.map_or("no Fmax".to_string(), |f| format!("{f:.2} MHz"))));
        }
        tried.push((seed, fmax));
        let better = match best {
            None => true,
            Some((_, b)) => fmax.unwrap_or(f64::NEG_INFINITY) > b.unwrap_or(f64::NEG_INFINITY),
        };
        if better {
            best = Some((seed, fmax));
            if seeds > 1 {
                for f in files {
                    std::fs::copy(dir.join(f), aside(f)).map_err(io)?;
                }
            }
        }
    }
    let kept = best.map_or(1, |b| b.0);
    if seeds > 1 {
        for f in files {
            std::fs::rename(aside(f), dir.join(f)).map_err(io)?;
        }
    }
    Ok(Seeds { kept, tried })
}

/// The slowest clock's achieved Fmax in a nextpnr `--report`.
pub fn fmax_of(report: &serde_json::Value) -> Option<f64> {
    report
        .get("fmax")
        .and_then(|f| f.as_object())
        .and_then(|o| o.values().filter_map(|c| c.get("achieved").and_then(|a| a.as_f64())).reduce(f64::min))
}

/// [`fmax_of`] the report nextpnr wrote in `dir` as `nextpnr.json` (None: unreadable).
fn report_fmax(dir: &Path) -> Option<f64> {
    fmax_of(&serde_json::from_str(&std::fs::read_to_string(dir.join("nextpnr.json")).ok()?).ok()?)
}

/// True when `tool` is on the PATH.
pub fn have(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(tool).is_file()))
}

/// Runs `tool args` in `dir`; returns stdout+stderr, or the error with the output's tail.
pub fn run(tool: &str, args: &[&str], dir: &Path) -> Result<String, FlowError> {
    if !have(tool) {
        return Err(FlowError::Missing { tool: tool.into(), package: package_of(tool).into() });
    }
    let out = Command::new(tool)
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| FlowError::Failed { tool: tool.into(), message: e.to_string() })?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        let tail: Vec<&str> = text.lines().rev().take(30).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(FlowError::Failed {
            tool: tool.into(),
            message: format!("exit {}\n{}", out.status, tail.join("\n")),
        });
    }
    Ok(text)
}

/// Runs `program args` in `dir` like [`run`], calling `poll` while it runs (for progress read
/// off the files it writes), at most four times a second and at least every fiftieth of the
/// time so far, so that its end is noticed within 2% (+1 ms) of its run time, which timing
/// callers measure around this call. `program` may be a path.
pub fn run_polled(program: &Path, args: &[&str], dir: &Path, poll: &mut dyn FnMut()) -> Result<String, FlowError> {
    let tool = program.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    let failed = |message: String| FlowError::Failed { tool: tool.clone(), message };
    let mut child = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| failed(e.to_string()))?;
    // Drain both pipes on threads so a chatty tool never blocks on a full pipe.
    let drain = |r: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out_t = drain(child.stdout.take().map(|r| Box::new(r) as Box<dyn std::io::Read + Send>));
    let err_t = drain(child.stderr.take().map(|r| Box::new(r) as Box<dyn std::io::Read + Send>));
    let t0 = std::time::Instant::now();
    let mut last_poll = t0;
    let status = loop {
        match child.try_wait().map_err(|e| failed(e.to_string()))? {
            Some(st) => break st,
            None => {
                if last_poll.elapsed().as_millis() >= 250 {
                    poll();
                    last_poll = std::time::Instant::now();
                }
                let nap = (t0.elapsed() / 50)
                    .clamp(std::time::Duration::from_millis(1), std::time::Duration::from_millis(250));
                std::thread::sleep(nap);
            }
        }
    };
    poll();
    let mut text = String::from_utf8_lossy(&out_t.join().unwrap_or_default()).into_owned();
    text.push_str(&String::from_utf8_lossy(&err_t.join().unwrap_or_default()));
    if !status.success() {
        let tail: Vec<&str> = text.lines().rev().take(30).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(failed(format!("exit {status}\n{}", tail.join("\n"))));
    }
    Ok(text)
}

/// Writes the design's files into `dir`.
pub fn write_design(d: &crate::back::verilog::Design, dir: &Path) -> Result<(), FlowError> {
    write_files(&d.files, dir)
}

/// Writes (name, contents) pairs into `dir`, creating it.
pub fn write_files(files: &[(String, String)], dir: &Path) -> Result<(), FlowError> {
    std::fs::create_dir_all(dir).map_err(|e| FlowError::Io(format!("{}: {e}", dir.display())))?;
    for (name, text) in files {
        let p = dir.join(name);
        std::fs::write(&p, text).map_err(|e| FlowError::Io(format!("{}: {e}", p.display())))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each "placement" writes its seed into the output file; the kept file is the best seed's.
    #[test]
    fn the_fastest_seed_is_kept_with_its_files() {
        let dir = std::env::temp_dir().join(format!("spikefab-seeds-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let files = ["a.asc".to_string(), "r.json".to_string()];
        let figures = [Some(40.0), None, Some(47.5), Some(47.5), Some(45.0)];
        let said = std::cell::RefCell::new(vec![]);
        let s = best_seed(&dir, &files, 5, "placer", &|m| said.borrow_mut().push(m.to_string()), |seed| {
            for f in &files {
                std::fs::write(dir.join(f), format!("{f} {seed}")).unwrap();
            }
            Ok(figures[seed as usize - 1])
        })
        .unwrap();
        assert_eq!(s.kept, 3, "ties keep the earlier seed");
        let said = said.into_inner();
        assert_eq!(said[0], "placing and routing with placer (seed 1 of 5)");
        assert_eq!((said[3].as_str(), said[5].as_str()), ("seed 2: no Fmax", "seed 3: 47.50 MHz"));
        assert_eq!(s.tried.iter().map(|t| t.1).collect::<Vec<_>>(), figures);
        for f in &files {
            assert_eq!(std::fs::read_to_string(dir.join(f)).unwrap(), format!("{f} 3"));
            assert!(!dir.join(format!("{f}.best")).exists());
        }
        // One seed: the files are the run's own, nothing copied.
        let s = best_seed(&dir, &files, 1, "placer", &|_| {}, |_| Ok(None)).unwrap();
        assert_eq!((s.kept, s.tried.len()), (1, 1));
        // A failing placement is the build's error.
        assert!(best_seed(&dir, &files, 3, "placer", &|_| {}, |_| Err(FlowError::Io("x".into()))).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
