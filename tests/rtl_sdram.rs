//! The streaming SDRAM controller's RTL (`hdl/sf_sdram_stream.v`) against its specification
//! (`hw::sdram::Streamer`) and the chip model (`sim::sdram::Sdram`), with the Verilog chip
//! model (`hdl/sf_sdram_model.v`) judging every command: the command on the bus in every
//! cycle, every word on the data bus and every word the controller hands over, with its
//! cycle, are compared with the Rust run, under iverilog and Verilator, at several clocks.
//! A controller built with one timing figure short must be stopped by the Verilog model.

use crate::common;

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command as Process;

use spikefab::back::verilog::sdram::{MODEL, STREAM, model_params, overrides, stream_params};
use spikefab::hw::sdram::{Geometry, Request, Streamer, Timing, TimingNs};
use spikefab::sim::sdram::{Sdram, log_command};

/// The ULX3S's MT48LC16M16 as the bundled `ulx3s-85f` target describes it.
fn mt48lc16m16() -> (Geometry, TimingNs) {
    let t = spikefab::target::Target::load("ulx3s-85f").unwrap();
    let m = t.external_memory.unwrap();
    (m.geometry, m.timing)
}

/// Words stored by both models (from address 0); the rest read as zero in both.
const DEPTH: u64 = 1 << 15;

fn pattern() -> Vec<u64> {
    (0..DEPTH).map(|a| (a * 40503 + 0x1234) & 0xffff).collect()
}

/// Requests as (cycles after the previous was taken, address, words): mid-row starts, row and
/// bank crossings, a single word, a long stream across many refresh intervals, idle gaps of
/// several intervals, and one reaching past the stored words.
fn requests(t: Timing) -> Vec<(u64, u64, u64)> {
    vec![
        (0, 3, 5),
        (40, 700, 2),
        (3 * t.refi, 1000, 6000),
        (0, 20_000, 1),
        (2 * t.refi + 5, 511, 514),
        (7, DEPTH - 100, 300),
    ]
}

/// The Rust run: bus log lines (commands and data words) and handed-over words, for the
/// first `cycles` cycles, and the cycles the last word needed. With `restart`, the controller
/// is restarted ([`Streamer::restart`]) at the first cycle from `restart` on where it is quiet
/// and no request is offered, as a design does when an inference starts: the state after it
/// must be [`Streamer::at_start`]'s.
fn rust_run(s: Streamer, reqs: &[(u64, u64, u64)], cycles: u64, restart: Option<u64>) -> Run {
    let (g, t) = (s.geometry(), s.timing());
    let mut mem = Sdram::power_up(g, t);
    mem.load(0, &pattern()).unwrap();
    let mut s = s;
    let mut run = Run::default();
    let (mut j, mut at) = (0usize, reqs[0].0);
    for k in 0..cycles {
        let req = (j < reqs.len() && k >= at).then(|| Request { addr: reqs[j].1, len: reqs[j].2 });
        let want = restart.is_some_and(|r| k >= r) && run.restarted.is_none();
        let (cmd, accepted) = if want && req.is_none() && s.quiet() {
            let cmd = s.restart();
            assert_eq!(s, Streamer::at_start(g, t).unwrap(), "cycle {k}: restarted to the start state");
            run.restarted = Some(k);
            (cmd, false)
        } else {
            s.decide(req)
        };
        let word = mem.step(cmd).unwrap_or_else(|v| panic!("Rust model: {v}"));
        if accepted {
            run.accepted.push(k);
            j += 1;
            at = k + reqs.get(j).map_or(0, |r| r.0);
        }
        run.bus.extend(log_command(k, cmd));
        if let Some(w) = word {
            run.bus.push(format!("D {k} {w:04x}"));
            // Registered: handed over in the next cycle.
            run.words.push(format!("W {} {w:04x}", k + 1));
            run.done = k + 2;
        }
    }
    assert_eq!(j, reqs.len(), "every request taken within {cycles} cycles");
    run
}

/// A Rust run's logs and cycles.
#[derive(Default)]
struct Run {
    bus: Vec<String>,
    words: Vec<String>,
    /// The cycle the last word needed, each request's acceptance, the restart's cycle.
    done: u64,
    accepted: Vec<u64>,
    restarted: Option<u64>,
}

/// The testbench: the controller and the model, requests offered as `rust_run` offers them.
fn testbench(stream: &str, model: &str, reqs: &[(u64, u64, u64)], end: u64, restart: Option<u64>) -> String {
    let mut tb = String::new();
    let n = reqs.len();
    let _ = writeln!(tb, "`timescale 1ns/1ps\nmodule tb;");
    let _ =
        writeln!(tb, "    reg clk = 0;\n    always #5 clk = ~clk;\n    reg rst = 1, en = 0;\n    reg [63:0] k = 0;");
    let _ = writeln!(
        tb,
        "    reg [63:0] gap [0:{n}];\n    reg [63:0] addr [0:{}];\n    reg [63:0] len [0:{}];",
        n - 1,
        n - 1
    );
    let _ = writeln!(tb, "    integer j = 0, fw;\n    reg [63:0] at;");
    let _ = writeln!(tb, "    initial begin");
    for (i, (g, a, l)) in reqs.iter().enumerate() {
        let _ = writeln!(tb, "        gap[{i}] = {g}; addr[{i}] = {a}; len[{i}] = {l};");
    }
    let _ = writeln!(tb, "        gap[{n}] = 0;\n        at = gap[0];\n        fw = $fopen(\"words.log\", \"w\");");
    let _ = writeln!(tb, "        repeat (3) @(posedge clk);\n        rst <= 0;\n    end");
    let _ = writeln!(
        tb,
        "    wire req_valid = j < {n} && k >= at;\n    wire req_ready, rd_valid;\n    wire [15:0] rd_data, dq;"
    );
    let _ = writeln!(tb, "    wire cs_n, ras_n, cas_n, we_n;\n    wire [1:0] ba;\n    wire [12:0] a;");
    // The restart, as `rust_run` makes it: once, at the first quiet cycle from `restart` on
    // with no request offered.
    let _ = writeln!(tb, "    wire quiet;\n    reg restarted = 0;");
    let _ = writeln!(
        tb,
        "    wire restart = {} && !restarted && quiet && !req_valid;",
        restart.map_or("1'b0".to_string(), |r| format!("(k >= {r})"))
    );
    let _ = writeln!(
        tb,
        "    sf_sdram_stream {stream} ctl (.clk(clk), .rst(rst), .restart(restart), .quiet(quiet), .req_valid(req_valid),"
    );
    let _ = writeln!(
        tb,
        "        .req_addr(addr[j < {n} ? j : 0][23:0]), .req_len(len[j < {n} ? j : 0][24:0]), .req_ready(req_ready),"
    );
    let _ = writeln!(
        tb,
        "        .rd_valid(rd_valid), .rd_data(rd_data), .sd_cs_n(cs_n), .sd_ras_n(ras_n), .sd_cas_n(cas_n),"
    );
    let _ = writeln!(tb, "        .sd_we_n(we_n), .sd_ba(ba), .sd_a(a), .sd_dq(dq));");
    let _ = writeln!(tb, "    sf_sdram_model {model} mem (.clk(clk), .en(en), .cs_n(cs_n), .ras_n(ras_n),");
    let _ = writeln!(tb, "        .cas_n(cas_n), .we_n(we_n), .ba(ba), .a(a), .dq_in(16'd0), .dq(dq));");
    // k counts the controller's decisions: decision k is taken at the k-th edge after reset;
    // the model samples it one edge later as its cycle k. A word handed over (rd_valid) in
    // model cycle c is seen here at the edge ending it, when k = c + 1.
    let _ = writeln!(tb, "    always @(posedge clk) if (!rst) begin");
    let _ = writeln!(tb, "        if (req_valid && req_ready) begin j <= j + 1; at <= k + gap[j + 1]; end");
    let _ = writeln!(tb, "        if (rd_valid) $fdisplay(fw, \"W %0d %h\", k - 1, rd_data);");
    let _ = writeln!(tb, "        if (restart) restarted <= 1;");
    let _ = writeln!(tb, "        en <= 1;\n        k <= k + 1;");
    let _ = writeln!(tb, "        if (k == {end}) begin $fclose(fw); $display(\"DONE\"); $finish; end");
    let _ = writeln!(tb, "    end\nendmodule");
    tb
}

enum Sim {
    Icarus,
    Verilator,
}

/// Runs the testbench in `dir`; returns stdout and the two logs.
fn simulate(dir: &Path, sim: Sim) -> (String, String, String) {
    let srcs = ["tb.v", STREAM.0, MODEL.0];
    let out = match sim {
        Sim::Icarus => {
            let mut args = vec!["-g2005", "-Wall", "-o", "tb.vvp", "-s", "tb"];
            args.extend(srcs);
            let c = Process::new("iverilog").args(&args).current_dir(dir).output().unwrap();
            assert!(c.status.success(), "iverilog: {}", String::from_utf8_lossy(&c.stderr));
            Process::new("vvp").args(["-n", "tb.vvp"]).current_dir(dir).output().unwrap()
        }
        Sim::Verilator => {
            let mut args = vec![
                "--binary",
                "--timing",
                "-O1",
                "--top-module",
                "tb",
                "-Wno-fatal",
                "--Mdir",
                "obj_dir",
                "-o",
                "tb",
            ];
            args.extend(srcs);
            let c = Process::new("verilator").args(&args).current_dir(dir).output().unwrap();
            assert!(c.status.success(), "verilator: {}", String::from_utf8_lossy(&c.stderr));
            Process::new(std::path::absolute(dir.join("obj_dir/tb")).unwrap()).current_dir(dir).output().unwrap()
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_default();
    (stdout, read("bus.log"), read("words.log"))
}

fn setup(dir: &Path, stream: &[(&str, u64)], s: &Streamer, reqs: &[(u64, u64, u64)], end: u64, restart: Option<u64>) {
    let hex: String = pattern().iter().map(|w| format!("{w:04x}\n")).collect();
    std::fs::write(dir.join("mem.hex"), hex).unwrap();
    let model = overrides(&model_params(s, DEPTH)).replacen("#(", "#(.IMAGE(\"mem.hex\"), .LOG(\"bus.log\"), ", 1);
    std::fs::write(dir.join("tb.v"), testbench(&overrides(stream), &model, reqs, end, restart)).unwrap();
    std::fs::write(dir.join(STREAM.0), STREAM.1).unwrap();
    std::fs::write(dir.join(MODEL.0), MODEL.1).unwrap();
}

fn upto(log: &str, end: u64) -> Vec<String> {
    log.lines()
        .filter(|l| l.split(' ').nth(1).and_then(|c| c.parse::<u64>().ok()).is_some_and(|c| c < end))
        .map(str::to_string)
        .collect()
}

/// Every command, bus word and handed-over word, cycle for cycle, equals the Rust run; and so
/// they do (at 50 and 133 MHz) with the controller restarted (a new inference's start) in the
/// idle gap before the fifth request, where the Rust controller's state after the restart is the start state and
/// its next command a REFRESH.
#[test]
fn stream_controller_rtl_is_cycle_exact_with_the_streamer_under_the_chip_model() {
    for tool in ["iverilog", "verilator"] {
        if !common::tool_or_skip(tool, "stream_controller_rtl_is_cycle_exact") {
            return;
        }
    }
    let (g, tn) = mt48lc16m16();
    for mhz in [25.0, 50.0, 100.0, 133.0] {
        let t = tn.at(mhz);
        let s = Streamer::new(g, t).unwrap();
        let reqs = requests(t);
        let horizon: u64 = reqs.iter().map(|r| r.0 + 2 * r.2 + 4 * s.overhead()).sum::<u64>() + 10 * t.refi + t.init;
        let first = rust_run(s.clone(), &reqs, horizon, None);
        // The fifth request waits 2 x tREFI + 5 cycles after the fourth (one word) is taken.
        let restart = first.accepted[3] + t.refi / 2;
        // Past the last word by more than a refresh interval: idle refreshes are compared too.
        let end = first.done + 2 * t.refi;
        // The controller is synthesisable RTL: lint-clean at this chip's parameters.
        let mut lint = vec!["--lint-only".to_string(), "-Wall".into()];
        lint.extend(stream_params(&s).iter().map(|(n, v)| format!("-G{n}={v}")));
        lint.push(common::root().join("hdl").join(STREAM.0).display().to_string());
        let out = Process::new("verilator").args(&lint).output().unwrap();
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && !text.contains("%Warning"), "{mhz} MHz lint: {text}");
        // The restart at two of the clocks (the board's and the fastest), to keep the test short.
        let restarts = if mhz == 50.0 || mhz == 133.0 { vec![None, Some(restart)] } else { vec![None] };
        for with_restart in restarts {
            let run = rust_run(s.clone(), &reqs, end + 8, with_restart);
            let (bus, words) = (upto(&run.bus.join("\n"), end), upto(&run.words.join("\n"), end));
            assert!(bus.iter().filter(|l| l.contains("REF")).count() >= 10, "{mhz} MHz: refreshes in the run");
            assert_eq!(words.len() as u64, reqs.iter().map(|r| r.2).sum::<u64>(), "{mhz} MHz");
            if let Some(r) = with_restart {
                let k = run.restarted.expect("restarted");
                assert!(k >= r && k < first.accepted[3] + 2 * t.refi, "{mhz} MHz: restarted in the gap, at {k}");
                let next = run.bus.iter().find(|l| {
                    l.split(' ').nth(1).and_then(|c| c.parse::<u64>().ok()).is_some_and(|c| c > k)
                        && !l.starts_with('D')
                });
                assert!(next.is_some_and(|l| l.contains("REF")), "{mhz} MHz: {next:?} after the restart");
            }
            for sim in [Sim::Icarus, Sim::Verilator] {
                let name = format!(
                    "rtl_sdram_{mhz}_{}{}",
                    matches!(sim, Sim::Icarus) as u8,
                    if with_restart.is_some() { "_restart" } else { "" }
                );
                let dir = common::scratch(&name);
                setup(&dir, &stream_params(&s), &s, &reqs, end + 4, with_restart);
                let (stdout, bus_v, words_v) = simulate(&dir, sim);
                assert!(stdout.contains("DONE") && !stdout.contains("VIOLATION"), "{name}: {stdout}");
                let (bus_v, words_v) = (upto(&bus_v, end), upto(&words_v, end));
                assert_eq!(bus_v.len(), bus.len(), "{name}: bus lines");
                for (i, (v, r)) in bus_v.iter().zip(&bus).enumerate() {
                    assert_eq!(v, r, "{name}: bus line {i}");
                }
                assert_eq!(words_v, words, "{name}: words handed over");
                eprintln!("{name}: {} bus lines and {} words equal, {end} cycles", bus.len(), words.len());
            }
        }
    }
}

/// The Verilog model stops a controller built one cycle short of tRCD, tRP, tMRD or the
/// power-up wait, or with three times the refresh interval, naming the rule.
#[test]
fn the_verilog_chip_model_stops_a_controller_that_breaks_a_rule() {
    if !common::tool_or_skip("iverilog", "the_verilog_chip_model_stops_a_controller") {
        return;
    }
    let (g, tn) = mt48lc16m16();
    let t = tn.at(100.0);
    let s = Streamer::new(g, t).unwrap();
    let reqs = requests(t);
    for (param, value, rule) in [
        ("RCD", t.rcd - 1, "tRCD"),
        ("REFI", 3 * t.refi, "tREFI"),
        ("RP", t.rp.max(2) - 1, "tRP"),
        ("INIT", t.init - 1, "power-up initialisation"),
        ("MRD", t.mrd - 1, "tMRD"),
    ] {
        if value == 0 || (param == "RP" && t.rp < 2) {
            continue;
        }
        let params: Vec<(&str, u64)> =
            stream_params(&s).into_iter().map(|(n, v)| (n, if n == param { value } else { v })).collect();
        let dir = common::scratch(&format!("rtl_sdram_bad_{param}"));
        setup(&dir, &params, &s, &reqs, t.init + 40 * t.refi, None);
        let (stdout, _, _) = simulate(&dir, Sim::Icarus);
        assert!(stdout.contains("SDRAM VIOLATION") && stdout.contains(rule), "{param} = {value}: {stdout}");
    }
}

/// The controller in the open flow on the ULX3S: a test vehicle (the board's 25 MHz oscillator,
/// the PLL making the 50 MHz system clock and the SDRAM clock 90 degrees behind it, as LiteX
/// clocks this board, forwarded through an ODDRX1F; one request streaming the whole chip, its
/// words folded onto the LEDs so nothing is optimised away) on the pins of the `ulx3s-85f`
/// target, through Yosys, nextpnr-ecp5 and ecppack: it places, routes, meets 50 MHz and packs.
#[test]
fn the_controller_builds_for_the_ulx3s_at_its_memory_clock() {
    let Some(tools) = common::ecp5_tools("the_controller_builds_for_the_ulx3s_at_its_memory_clock") else { return };
    let t = spikefab::target::Target::load("ulx3s-85f").unwrap();
    let mem = t.external_memory.as_ref().unwrap();
    assert_eq!((t.clock.default_mhz, mem.clock_mhz), (25.0, 50.0), "the vehicle's PLL makes 50 MHz from 25");
    let s = Streamer::new(mem.geometry, mem.timing.at(mem.clock_mhz)).unwrap();
    let dir = common::scratch("rtl_sdram_ulx3s");
    std::fs::write(dir.join(STREAM.0), STREAM.1).unwrap();
    let words = mem.geometry.words();
    let top = format!(
        r#"module top (
    input  wire        clk_25mhz,
    output wire        sdram_clk, sdram_cke, sdram_csn, sdram_wen, sdram_rasn, sdram_casn,
    output wire [1:0]  sdram_ba,
    output wire [12:0] sdram_a,
    output wire [1:0]  sdram_dqm,
    input  wire [15:0] sdram_d,
    output wire [7:0]  led
);
    wire clk, clk_mem, locked;
    // 25 MHz x 2 / 1 = 50 MHz (VCO 600 MHz, CLKOP and CLKOS / 12); CLKOS 3 VCO cycles later: 90 degrees.
    (* FREQUENCY_PIN_CLKI="25" *) (* FREQUENCY_PIN_CLKOP="50" *) (* FREQUENCY_PIN_CLKOS="50" *)
    (* ICP_CURRENT="12" *) (* LPF_RESISTOR="8" *) (* MFG_ENABLE_FILTEROPAMP="1" *) (* MFG_GMCREF_SEL="2" *)
    EHXPLLL #(.PLLRST_ENA("DISABLED"), .INTFB_WAKE("DISABLED"), .STDBY_ENABLE("DISABLED"), .DPHASE_SOURCE("DISABLED"),
        .OUTDIVIDER_MUXA("DIVA"), .OUTDIVIDER_MUXB("DIVB"), .CLKI_DIV(1), .CLKFB_DIV(2), .FEEDBK_PATH("CLKOP"),
        .CLKOP_ENABLE("ENABLED"), .CLKOP_DIV(12), .CLKOP_CPHASE(5), .CLKOP_FPHASE(0),
        .CLKOS_ENABLE("ENABLED"), .CLKOS_DIV(12), .CLKOS_CPHASE(8), .CLKOS_FPHASE(0)) pll (
        .CLKI(clk_25mhz), .CLKFB(clk), .CLKOP(clk), .CLKOS(clk_mem), .RST(1'b0), .STDBY(1'b0), .PHASESEL0(1'b0),
        .PHASESEL1(1'b0), .PHASEDIR(1'b1), .PHASESTEP(1'b1), .PHASELOADREG(1'b1), .PLLWAKESYNC(1'b0),
        .ENCLKOP(1'b0), .LOCK(locked));
    ODDRX1F ck (.SCLK(clk_mem), .RST(1'b0), .D0(1'b1), .D1(1'b0), .Q(sdram_clk));
    reg [3:0] por = 0;
    always @(posedge clk) if (!locked) por <= 0; else if (!por[3]) por <= por + 1'b1;
    wire req_ready, rd_valid;
    wire [15:0] rd_data;
    reg [15:0] sum = 0;
    always @(posedge clk) if (rd_valid) sum <= sum ^ rd_data;
    assign led = sum[7:0] ^ sum[15:8];
    assign sdram_cke = 1'b1;
    assign sdram_dqm = 2'b00;
    sf_sdram_stream {params} ctl (.clk(clk), .rst(!por[3]), .restart(1'b0), .quiet(), .req_valid(1'b1), .req_addr(24'd0),
        .req_len(25'd{words}), .req_ready(req_ready), .rd_valid(rd_valid), .rd_data(rd_data), .sd_cs_n(sdram_csn),
        .sd_ras_n(sdram_rasn), .sd_cas_n(sdram_casn), .sd_we_n(sdram_wen), .sd_ba(sdram_ba), .sd_a(sdram_a),
        .sd_dq(sdram_d));
endmodule
"#,
        params = overrides(&stream_params(&s)),
    );
    std::fs::write(dir.join("top.v"), top).unwrap();
    let p = &mem.pins;
    let mut ports: Vec<(String, &str)> = vec![
        ("clk_25mhz".into(), t.board.clock_pin.as_str()),
        ("sdram_clk".into(), &p.clock),
        ("sdram_cke".into(), &p.cke),
        ("sdram_csn".into(), &p.cs_n),
        ("sdram_wen".into(), &p.we_n),
        ("sdram_rasn".into(), &p.ras_n),
        ("sdram_casn".into(), &p.cas_n),
    ];
    for (name, balls) in [("sdram_ba", &p.ba), ("sdram_a", &p.a), ("sdram_d", &p.dq), ("sdram_dqm", &p.dqm)] {
        ports.extend(balls.iter().enumerate().map(|(i, b)| (format!("{name}[{i}]"), b.as_str())));
    }
    // The LEDs: the target's last eight board pins.
    let leds = &t.board.pins[t.board.pins.len() - 8..];
    ports.extend(leds.iter().enumerate().map(|(i, b)| (format!("led[{i}]"), b.as_str())));
    let mut lpf: String = ports
        .iter()
        .map(|(n, b)| format!("LOCATE COMP \"{n}\" SITE \"{b}\";\nIOBUF PORT \"{n}\" IO_TYPE=LVCMOS33;\n"))
        .collect();
    lpf.push_str("FREQUENCY PORT \"clk_25mhz\" 25 MHZ;\n");
    std::fs::write(dir.join("top.lpf"), lpf).unwrap();
    let run = |prog: &std::path::Path, args: &[&str]| {
        let out = Process::new(prog).args(args).current_dir(&dir).output().unwrap();
        let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{}: {log}", prog.display());
        log
    };
    let t0 = std::time::Instant::now();
    run(&tools.yosys, &["-q", "-p", "read_verilog top.v sf_sdram_stream.v; synth_ecp5 -top top -json top.json"]);
    let mut args: Vec<&str> = t.device.nextpnr_args.iter().map(String::as_str).collect();
    args.extend(["--json", "top.json", "--lpf", "top.lpf", "--textcfg", "top.config", "--report", "report.json"]);
    let log = run(&tools.nextpnr, &args);
    run(&tools.pack, &["top.config", "top.bit"]);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    let fmax = report["fmax"].as_object().unwrap();
    let (net, f) = fmax
        .iter()
        .find(|(k, _)| k.contains("clk") && !k.contains("25mhz"))
        .unwrap_or_else(|| panic!("the system clock in {fmax:?}"));
    let achieved = f["achieved"].as_f64().unwrap();
    let util = &report["utilization"];
    eprintln!(
        "ulx3s controller vehicle: {net} Fmax {achieved:.1} MHz (constraint {}), TRELLIS_COMB {}, TRELLIS_FF {}, \
         {:.0} s",
        f["constraint"],
        util["TRELLIS_COMB"]["used"],
        util["TRELLIS_FF"]["used"],
        t0.elapsed().as_secs_f64()
    );
    assert!(achieved >= mem.clock_mhz, "{net}: {achieved} MHz < {} MHz\n{log}", mem.clock_mhz);
    assert!(std::fs::metadata(dir.join("top.bit")).unwrap().len() > 100_000);
}
