//! Weight ROMs in iCE40 UltraPlus SPRAM: the simulation model of the block against Yosys's own
//! SB_SPRAM256KA model, designs whose weights sit in SPRAM co-simulated spike- and cycle-exact
//! in both simulators (the testbench streams the weight image through the load port first),
//! Verilator lint, and a real UP5K build that maps them onto SB_SPRAM256KA cells.

use crate::common;

use std::path::PathBuf;

use common::{root, scratch, spikefab, students, tool_or_skip};
use spikefab::flow::cosim::{self, Simulator};
use spikefab::hw::Schedule;

/// The UP5K target with weight ROMs of at least `min_bits` in SPRAM (the bundled target uses
/// 65,536, more than any digits student has).
fn spram_target(min_bits: u64) -> spikefab::target::Target {
    let text = std::fs::read_to_string(root().join("targets/ice40-up5k.toml")).unwrap();
    let text = text.replace("large_ram_min_bits = 65536", &format!("large_ram_min_bits = {min_bits}"));
    assert!(text.contains(&format!("large_ram_min_bits = {min_bits}")));
    let dir = scratch(&format!("spram-target-{min_bits}"));
    let path = dir.join("up5k-spram.toml");
    std::fs::write(&path, text).unwrap();
    spikefab::target::Target::load(path.to_str().unwrap()).unwrap()
}

fn spram_plan(
    name: &str,
    min_bits: u64,
    schedule: spikefab::hw::Schedule,
) -> (spikefab::hw::Plan, spikefab::data::InputBatch, usize) {
    let c = students().into_iter().map(|(c, _)| c).find(|c| c.name == name).unwrap();
    let m = c.load();
    let batch = c.batch(&m);
    let mut o = spikefab::hw::PlanOptions::new(spram_target(min_bits), c.timesteps);
    o.input_stats = Some(spikefab::quant::InputStats::of(&batch));
    o.settings.schedule = Some(schedule.into());
    let plan = spikefab::hw::lower(&m, &o).unwrap();
    assert_eq!(plan.schedule, schedule);
    let n = plan.memories.iter().filter(|m| matches!(m.map, spikefab::hw::MemMap::LargeRam { .. })).count();
    (plan, batch, n)
}

#[test]
fn weights_in_spram_cosimulate_exactly() {
    // mlp_bw: its 64 x 128 binary layer packs 8 words of 2 bits per SPRAM word; ensemble_bw:
    // four students' first layers in four blocks (largest first, then no block is left).
    // Both schedules: the iCE40 default (`auto`) pipelines a design whose memories fit. The
    // simulators alternate so that each runs both students and both schedules.
    let schedules = [Schedule::Sequential, Schedule::Pipelined];
    let configs = [("mlp_bw", 4096, 1), ("ensemble_bw", 2048, 4)].into_iter().flat_map(|c| schedules.map(|s| (c, s)));
    for (i, ((name, min_bits, want), schedule)) in configs.enumerate() {
        let (sim, tool) = [(Simulator::Iverilog, "iverilog"), (Simulator::Verilator, "verilator")][(i + i / 2) % 2];
        if !tool_or_skip(tool, "weights_in_spram_cosimulate_exactly") {
            continue;
        }
        let (plan, batch, n) = spram_plan(name, min_bits, schedule);
        assert_eq!(n, want, "{name}: weight ROMs in SPRAM");
        let dir = scratch(&format!("spram-cosim-{name}-{tool}-{}", schedule.name()));
        let r = cosim::cosim(&plan, &batch, 6, sim, &dir, &|_| {}).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(r.exact(), "{name} ({tool}, {}): {:?}", schedule.name(), r.first_differences);
        assert_eq!(r.rtl_cycles, r.engine_cycles);
        assert_eq!(r.samples, 6);
        let img = std::fs::read_to_string(dir.join(format!("sf_{name}_wl.hex"))).unwrap();
        assert!(img.lines().count() > 1000, "{name}: weight image of {} nibbles", img.lines().count());
    }
}

#[test]
fn spram_designs_lint_clean() {
    if !tool_or_skip("verilator", "spram_designs_lint_clean") {
        return;
    }
    for schedule in [Schedule::Sequential, Schedule::Pipelined] {
        let (plan, _, _) = spram_plan("mlp_bw", 4096, schedule);
        let d = spikefab::back::verilog::emit(&plan, None).unwrap();
        assert!(d.weight_load);
        let (dir, what) =
            (format!("spram-lint-{}", schedule.name()), format!("mlp_bw with SPRAM weights, {}", schedule.name()));
        common::assert_lint_clean(&d, &dir, &what);
    }
}

/// Yosys's simulation model of the primitive (its ice40 cells_sim.v), cut out of the file.
fn yosys_spram_model() -> Option<String> {
    let dirs = ["/usr/share/yosys/ice40/cells_sim.v", "/usr/local/share/yosys/ice40/cells_sim.v"];
    let text = dirs.iter().find_map(|p| std::fs::read_to_string(p).ok())?;
    let a = text.find("module SB_SPRAM256KA")?;
    let b = a + text[a..].find("endmodule")? + "endmodule".len();
    Some(format!("`timescale 1ns/1ps\n{}\n", &text[a..b]))
}

/// sf_spram's simulation model and Yosys's SB_SPRAM256KA model, driven with the same random
/// reads and nibble-masked writes, return the same word after every read.
#[test]
fn spram_model_matches_the_yosys_primitive_model() {
    let test = "spram_model_matches_the_yosys_primitive_model";
    if !tool_or_skip("iverilog", test) || !tool_or_skip("yosys", test) {
        return;
    }
    let model = yosys_spram_model().expect("Yosys's ice40/cells_sim.v with SB_SPRAM256KA");
    let dir = scratch("spram-model");
    std::fs::write(dir.join("yosys_spram.v"), model).unwrap();
    std::fs::write(dir.join("sf_spram.v"), include_str!("../hdl/sf_spram.v")).unwrap();
    let tb = r#"`timescale 1ns/1ps
module tb;
    reg clk = 0;
    reg [13:0] addr = 0;
    reg [15:0] din = 0;
    reg [3:0] mask = 0;
    reg we = 0;
    wire [15:0] a, b;
    sf_spram ours (.clk(clk), .addr(addr), .din(din), .mask(mask), .we(we), .dout(a));
    SB_SPRAM256KA theirs (.ADDRESS(addr), .DATAIN(din), .MASKWREN(mask), .WREN(we), .CHIPSELECT(1'b1),
        .CLOCK(clk), .STANDBY(1'b0), .SLEEP(1'b0), .POWEROFF(1'b1), .DATAOUT(b));
    integer i, reads = 0, bad = 0, seed = 7;
    reg was_read;
    always #5 clk = ~clk;
    initial begin
        // Every address used is written in full first (the primitive's memory starts undefined).
        for (i = 0; i < 64; i = i + 1) begin
            @(negedge clk) we = 1; mask = 4'hf; addr = i * 257; din = $random(seed);
        end
        was_read = 0;
        for (i = 0; i < 4000; i = i + 1) begin
            @(negedge clk);
            if (was_read) begin
                reads = reads + 1;
                if (a !== b) bad = bad + 1;
            end
            we = ($random(seed) & 3) == 0;
            mask = $random(seed);
            addr = ($random(seed) & 63) * 257;
            din = $random(seed);
            was_read = !we;
        end
        $display("reads %0d differing %0d", reads, bad);
        $finish;
    end
endmodule
"#;
    std::fs::write(dir.join("tb.v"), tb).unwrap();
    let st = std::process::Command::new("iverilog")
        .args(["-o", "sim", "tb.v", "sf_spram.v", "yosys_spram.v"])
        .current_dir(&dir)
        .status()
        .unwrap();
    assert!(st.success());
    let out = std::process::Command::new("vvp").arg("sim").current_dir(&dir).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}");
    let line = text.lines().find(|l| l.starts_with("reads")).expect("the testbench's summary");
    let nums: Vec<u64> = line.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    assert!(nums[0] > 2500, "{line}");
    assert_eq!(nums[1], 0, "{line}");
}

/// The SPRAM design through Yosys and nextpnr for the UP5K: the weight ROM becomes one
/// SB_SPRAM256KA cell and the bitstream is built.
#[test]
fn spram_design_builds_for_the_up5k() {
    let test = "spram_design_builds_for_the_up5k";
    if !["yosys", "nextpnr-ice40", "icepack", "icetime"].iter().all(|t| tool_or_skip(t, test)) {
        return;
    }
    let dir = scratch("spram-target-build");
    let text = std::fs::read_to_string(root().join("targets/ice40-up5k.toml"))
        .unwrap()
        .replace("large_ram_min_bits = 65536", "large_ram_min_bits = 4096");
    let target: PathBuf = dir.join("up5k-spram.toml");
    std::fs::write(&target, text).unwrap();
    let out = scratch("spram-bitstream");
    let (code, stdout, stderr) = spikefab(&[
        "compile",
        "models/mlp_bw/mlp_bw.nir",
        "--from",
        "snntorch",
        "-T",
        "8",
        "--inputs",
        "models/digits_test_x.npy",
        "--target",
        target.to_str().unwrap(),
        "--bitstream",
        "--cosim-samples",
        "2",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let log = std::fs::read_to_string(out.join("yosys.log")).unwrap();
    let cells = log
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with("SB_SPRAM256KA"))
        .and_then(|l| l.split_whitespace().last()?.parse::<u64>().ok());
    assert_eq!(cells, Some(1), "SB_SPRAM256KA cells in yosys.log");
    let pcf = std::fs::read_to_string(out.join("sf_mlp_bw.pcf")).unwrap();
    assert!(pcf.contains("set_io wl_valid") && pcf.contains("set_io wl_data[3]"), "{pcf}");
    let bin = std::fs::read(out.join("sf_mlp_bw.bin")).unwrap();
    assert!(bin.windows(4).any(|w| w == [0x7e, 0xaa, 0x99, 0x7e]), "no iCE40 sync word");
}
