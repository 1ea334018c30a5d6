//! Device and chip descriptions (`targets/*.toml`): what kind of hardware a target is, the
//! toolchain that builds for it, resources, default clock, memory mapping rules, and energy
//! constants with their sources.
//!
//! The [`Kind`], [`Family`] and [`Toolchain`] are typed: the compiler chooses the mapping
//! (FPGA layout or chip mapping), the back ends and the build flow from them ([`Target::flow`]),
//! never by comparing strings. FPGA targets need `[device]`, `[board]` and `[mapping]`; an ASIC
//! estimate needs `[mapping]`; a neuromorphic chip needs neither.
//!
//! The bundled files are compiled into the binary (so a fresh install needs no data files);
//! a path to another `.toml` file works wherever a target name does.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// Bundled targets: (name, TOML text).
pub const BUNDLED: &[(&str, &str)] = &[
    ("ice40-up5k", include_str!("../targets/ice40-up5k.toml")),
    ("ice40-hx8k", include_str!("../targets/ice40-hx8k.toml")),
    ("ecp5-25k", include_str!("../targets/ecp5-25k.toml")),
    ("ecp5-45k", include_str!("../targets/ecp5-45k.toml")),
    ("ecp5-85k", include_str!("../targets/ecp5-85k.toml")),
    ("ulx3s-85f", include_str!("../targets/ulx3s-85f.toml")),
    ("xc7a35t", include_str!("../targets/xc7a35t.toml")),
    ("generic-45nm", include_str!("../targets/generic-45nm.toml")),
    ("loihi", include_str!("../targets/loihi.toml")),
    ("loihi2", include_str!("../targets/loihi2.toml")),
    ("kapoho-point", include_str!("../targets/kapoho-point.toml")),
    ("truenorth", include_str!("../targets/truenorth.toml")),
    ("xylo-imu", include_str!("../targets/xylo-imu.toml")),
    ("xylo-audio2", include_str!("../targets/xylo-audio2.toml")),
    ("xylo-audio3", include_str!("../targets/xylo-audio3.toml")),
];

/// What kind of hardware a target is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// An FPGA: the FPGA layout, Verilog and HLS C++, a build flow.
    Fpga,
    /// A neuromorphic chip: a chip mapping and its vendor format.
    Neuromorphic,
    /// An ASIC estimate: the FPGA layout's RTL priced with per-operation energies.
    Asic,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Fpga => "fpga",
            Kind::Neuromorphic => "neuromorphic",
            Kind::Asic => "asic",
        })
    }
}

/// Device family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// Lattice iCE40.
    Ice40,
    /// Lattice ECP5.
    Ecp5,
    /// AMD/Xilinx 7 Series.
    Xc7,
    /// A generic ASIC process.
    Asic,
    /// Intel Loihi.
    Loihi,
    /// IBM TrueNorth.
    Truenorth,
    /// SynSense Xylo (xylosim v2 SNN core: Xylo Audio 2, Xylo IMU).
    Xylo,
}

/// The tools that build for a target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Toolchain {
    /// The open flow (Yosys, nextpnr, the family's packer and timer).
    Open,
    /// AMD Vivado (scripts are written; Vivado does not run here).
    Vivado,
    /// Rockpool's XyloSim (the vendor's bit-exact simulator, through Python).
    Rockpool,
    /// Intel's Lava with lava-dl netx (its fixed-point simulator, through Python).
    Lava,
    /// Nothing builds for it (estimates only).
    None,
}

/// How spikefab builds an FPGA target's hardware, derived from its kind, family and toolchain
/// (a chip's back end is chosen by its family: `driver::chip::backend`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flow {
    /// Yosys, nextpnr-ice40, icepack and icetime: a bitstream.
    OpenIce40,
    /// Yosys, nextpnr-ecp5 and ecppack (YoWASP or native): a bitstream.
    OpenEcp5,
    /// A Vivado project script and constraints.
    Vivado,
    /// No FPGA build: an ASIC estimate, or a chip (whose back end writes its vendor's files).
    None,
}

/// Device resources.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Device {
    /// Logic cells (LUT4 on iCE40, LUT6 on 7 Series).
    pub luts: u64,
    /// Flip-flops.
    pub ffs: u64,
    /// Block RAMs (EBR on iCE40, RAMB36 on 7 Series).
    pub block_rams: u64,
    /// Bits per block RAM.
    pub block_ram_bits: u64,
    /// Supported (depth, width) aspect ratios of one block RAM.
    pub block_ram_modes: Vec<[u64; 2]>,
    /// Large single-port RAMs (iCE40 UltraPlus SPRAM).
    pub large_rams: u64,
    /// Bits per large RAM.
    pub large_ram_bits: u64,
    /// Bits per word of a large RAM (0: large RAM is not used); its depth is
    /// `large_ram_bits / large_ram_width`. Large RAMs are single-port and cannot be
    /// initialised: ROMs placed there are loaded through the design's weight-load port.
    #[serde(default)]
    pub large_ram_width: u64,
    /// DSP blocks.
    pub dsps: u64,
    /// nextpnr arguments (iCE40).
    #[serde(default)]
    pub nextpnr_args: Vec<String>,
    /// icetime device name (iCE40).
    #[serde(default)]
    pub icetime_device: Option<String>,
}

/// Board pins for the generated pin wrapper.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Board {
    /// Clock input pin.
    pub clock_pin: String,
    /// Pins for every other port bit, in order.
    pub pins: Vec<String>,
    /// I/O standard of every pin (ECP5 LPF `IO_TYPE`), when the board needs one.
    #[serde(default)]
    pub io_standard: Option<String>,
}

/// Clocking.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Clock {
    /// Default clock in MHz (the board's oscillator, unless `--clock-mhz` replaced it).
    pub default_mhz: f64,
    /// The board's oscillator, MHz, when `--clock-mhz` replaced `default_mhz` (a PLL then
    /// makes the design's clock from it). Never read from a target file.
    #[serde(skip_deserializing, default)]
    pub board_mhz: Option<f64>,
}

/// How logical memories map onto the device.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Mapping {
    /// Memories up to this many bits become registers.
    pub register_max_bits: u64,
    /// ROMs up to this many bits become LUT logic; on an FPGA, one deeper than 16 words still
    /// takes block RAM when the RTL's RAMs and the larger ROMs leave blocks (and a larger ROM
    /// goes to logic when they do not), see `hw::memory`.
    #[serde(default = "default_rom_logic")]
    pub rom_logic_max_bits: u64,
    /// Default neuron lanes per layer.
    pub default_lanes: usize,
    /// Memories at least this big use large RAM when the device has it (0: never).
    pub large_ram_min_bits: u64,
    /// The schedule a plan gets unless asked otherwise (and unless it exits early).
    #[serde(default)]
    pub schedule: ScheduleChoice,
}

/// How the layers of a plan share the hardware in time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// One phase at a time (the schedule above): layers share one update datapath and, when
    /// small, their state memories and event lists.
    #[default]
    Sequential,
    /// Every layer (and the input load) runs its own phases with its own sequencer, update
    /// datapath and memories, concurrently with the others on different timesteps: see
    /// [`crate::hw::schedule::Clock`].
    Pipelined,
    /// Layer-major (docs/streaming.md): each layer runs every step before the next layer
    /// starts, a dense projection reads each weight word once for all steps, and spikes wait
    /// in planes and lists of all steps; see [`crate::hw::schedule`]. Simulated by the cycle
    /// engine; no back end emits it yet.
    Streamed,
}

/// The schedule asked for: one of the two, or `auto`, which lays the plan out pipelined and
/// keeps that when its memories fit the device (block RAMs, flip-flops for the register
/// memories) and its predicted logic is within `--logic-margin`, else sequential; the bitstream
/// build then checks the logic and timing and, when the pipelined design does not fit or
/// misses the clock, compiles the sequential one instead.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleChoice {
    /// One phase at a time; small layers share memories and one update datapath.
    #[default]
    Sequential,
    /// Every layer has its own sequencer, update datapath and memories and runs concurrently
    /// with the others on different timesteps (not with --early-exit).
    Pipelined,
    /// Layer-major: each layer runs every step before the next, so its weights are needed only
    /// while it runs (the order of designs that stream weights from external memory, each
    /// weight fetched once per inference; the RTL with weights on chip; not with --early-exit
    /// or recurrent layers).
    Streamed,
    /// Pipelined when its memories fit the device and its predicted logic is within
    /// --logic-margin, else sequential; with --bitstream, sequential also when the built
    /// pipelined logic does not fit or misses the clock.
    Auto,
}

impl ScheduleChoice {
    /// This choice for a plan that exits early, which needs the sequential schedule: a
    /// pipelined or streamed default becomes sequential (auto decides for itself, with its note).
    pub fn with_early_exit(self, early_exit: bool) -> Self {
        let concurrent = matches!(self, ScheduleChoice::Pipelined | ScheduleChoice::Streamed);
        if early_exit && concurrent { ScheduleChoice::Sequential } else { self }
    }
}

impl From<Schedule> for ScheduleChoice {
    fn from(s: Schedule) -> Self {
        match s {
            Schedule::Sequential => ScheduleChoice::Sequential,
            Schedule::Pipelined => ScheduleChoice::Pipelined,
            Schedule::Streamed => ScheduleChoice::Streamed,
        }
    }
}

impl Schedule {
    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Schedule::Sequential => "sequential",
            Schedule::Pipelined => "pipelined",
            Schedule::Streamed => "streamed",
        }
    }
}

fn default_rom_logic() -> u64 {
    1024
}

impl Default for Mapping {
    /// One lane, everything in memories: the nominal layout a chip's operations are counted on.
    fn default() -> Self {
        Mapping {
            register_max_bits: 0,
            rom_logic_max_bits: 0,
            default_lanes: 1,
            large_ram_min_bits: 0,
            schedule: ScheduleChoice::Sequential,
        }
    }
}

/// A neuromorphic chip's limits (`[chip]`), each with its source in the TOML comments. A
/// limit the vendor does not publish is left out and not checked.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChipSpec {
    /// The vendor's name of the chip in its tools (rockpool's module: `syns63300`).
    #[serde(default)]
    pub vendor_module: Option<String>,
    /// Cores per chip.
    pub cores: u64,
    /// Chips in the system (a board of several chips; 1 when absent).
    #[serde(default)]
    pub chips: Option<u64>,
    /// Neurons one core holds.
    pub neurons_per_core: u64,
    /// Source neurons one neuron may sum.
    #[serde(default)]
    pub fan_in_per_neuron: Option<u64>,
    /// Distinct source neurons that may reach one core (TrueNorth's axons).
    #[serde(default)]
    pub fan_in_per_core: Option<u64>,
    /// Synapses one core holds.
    #[serde(default)]
    pub synapses_per_core: Option<u64>,
    /// Synapses one chip holds.
    #[serde(default)]
    pub synapses_per_chip: Option<u64>,
    /// External input channels.
    #[serde(default)]
    pub input_channels: Option<u64>,
    /// Output neurons.
    #[serde(default)]
    pub output_neurons: Option<u64>,
    /// Synaptic currents per neuron (Xylo Audio 2: 2).
    #[serde(default)]
    pub synapses_per_neuron: Option<u64>,
    /// Only the first this many neurons may take external input (Xylo IMU: 128).
    #[serde(default)]
    pub input_neurons: Option<u64>,
    /// Only the last this many neurons may drive outputs (Xylo IMU: 128).
    #[serde(default)]
    pub output_source_neurons: Option<u64>,
    /// Connections between hidden neurons with a non-zero weight that the chip's recurrent
    /// weight memory holds (Xylo Audio 3: 31,744).
    #[serde(default)]
    pub hidden_synapses: Option<u64>,
    /// Published dynamic inference power, W: a chip that runs in real time spends about
    /// this times the inference's duration (steps x dt).
    #[serde(default)]
    pub dynamic_power_w: Option<f64>,
}

/// Energy constants (joules, watts) with their sources in the TOML comments.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EnergyConsts {
    /// Static power.
    pub static_w: f64,
    /// Dynamic energy per active clock cycle of the design.
    pub energy_per_cycle_j: f64,
    /// 32-bit integer add.
    pub int_add_j: f64,
    /// 8-bit integer add.
    pub int8_add_j: f64,
    /// 32-bit integer multiply.
    pub int_mult_j: f64,
    /// 8-bit integer multiply.
    pub int8_mult_j: f64,
    /// fp32 multiply-accumulate (E_MAC).
    pub mac_j: f64,
    /// fp32 accumulate (E_AC).
    pub ac_j: f64,
    /// SRAM access base energy (Lemaire model).
    pub sram_base_j: f64,
    /// SRAM access energy per bit of memory size (Lemaire model).
    pub sram_per_bit_j: f64,
    /// Register-file access.
    pub register_access_j: f64,
    /// Neuromorphic chips: energy per synaptic operation.
    #[serde(default)]
    pub synop_j: Option<f64>,
    /// Neuromorphic chips: energy per neuron update.
    #[serde(default)]
    pub neuron_update_j: Option<f64>,
    /// Neuromorphic chips: energy per emitted spike.
    #[serde(default)]
    pub spike_out_j: Option<f64>,
}

/// A board's external memory (`[external_memory]`): one kind of SDR SDRAM chip, its geometry,
/// its timing and its supply currents, each with its source in the TOML comments. Designs whose
/// weights do not fit on chip stream them from here.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExternalMemory {
    /// Memory kind; only `sdr` (single data rate SDRAM) is modelled.
    pub kind: MemoryKind,
    /// The part number on the board.
    pub part: String,
    /// Banks, rows, columns and data bus width of the chip.
    pub geometry: Geometry,
    /// Clock of the memory interface, MHz (the design's clock when it streams).
    pub clock_mhz: f64,
    /// Datasheet timing (nanoseconds, CAS latency in cycles).
    pub timing: TimingNs,
    /// Supply currents for the energy model.
    pub power: MemoryPower,
    /// The FPGA pins the chip is wired to.
    pub pins: MemoryPins,
}

/// The FPGA balls an SDR SDRAM is wired to (`[external_memory.pins]`), bit 0 first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryPins {
    /// The chip's clock.
    pub clock: String,
    /// Clock enable.
    pub cke: String,
    /// Chip select (active low).
    pub cs_n: String,
    /// Write enable (active low).
    pub we_n: String,
    /// Row address strobe (active low).
    pub ras_n: String,
    /// Column address strobe (active low).
    pub cas_n: String,
    /// Bank address.
    pub ba: Vec<String>,
    /// Address.
    pub a: Vec<String>,
    /// Data.
    pub dq: Vec<String>,
    /// Data masks, one per byte.
    pub dqm: Vec<String>,
}

impl ExternalMemory {
    /// Every figure usable: geometry in powers of two within an SDR part's range, a clock, and
    /// finite positive timing and currents.
    fn check(&self) -> Result<(), String> {
        let g = &self.geometry;
        let p2 = |f: &str, v: u32, max: u32| {
            if v.is_power_of_two() && v <= max && (f != "geometry.width" || v >= 4) {
                Ok(())
            } else {
                Err(format!("field '{f}' is {v}: expected a power of two up to {max}"))
            }
        };
        p2("geometry.banks", g.banks, 16)?;
        p2("geometry.rows", g.rows, 1 << 16)?;
        // Column addresses stay below A10, which an SDR chip reads as auto precharge.
        p2("geometry.cols", g.cols, 1 << 10)?;
        if g.banks < 2 || g.rows < 2 || g.cols < 2 {
            return Err(format!(
                "fields 'geometry.banks', 'rows', 'cols' are {}, {}, {}: an SDR part has at least 2 of each",
                g.banks, g.rows, g.cols
            ));
        }
        p2("geometry.width", g.width, 32)?;
        if !(self.part.len() <= 64 && self.part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')) {
            return Err(format!(
                "field 'part' is '{}': expected up to 64 of [A-Za-z0-9-]",
                crate::names::label(&self.part)
            ));
        }
        if !(self.clock_mhz.is_finite() && self.clock_mhz > 0.0 && self.clock_mhz <= 200.0) {
            return Err(format!("field 'clock_mhz' is {}: expected (0, 200] MHz for SDR SDRAM", self.clock_mhz));
        }
        let t = &self.timing;
        if !(1..=8).contains(&t.mrd) {
            return Err(format!("field 'timing.mrd' is {}: expected 1 to 8 cycles", t.mrd));
        }
        if !(1..=3).contains(&t.cl) {
            return Err(format!("field 'timing.cl' is {}: expected a CAS latency of 1, 2 or 3", t.cl));
        }
        let ns = [
            ("t_rcd", t.t_rcd),
            ("t_rp", t.t_rp),
            ("t_ras", t.t_ras),
            ("t_rc", t.t_rc),
            ("t_rrd", t.t_rrd),
            ("t_rfc", t.t_rfc),
            ("t_wr", t.t_wr),
            ("t_refi", t.t_refi),
            ("t_init", t.t_init),
        ];
        // SDR datasheets: command timings of tens of ns, tREFI under 16 us, a 100-200 us wait.
        let limit = |f: &str| match f {
            "t_refi" => 1e5,
            "t_init" => 1e6,
            _ => 1e3,
        };
        if let Some((f, v)) = ns.iter().find(|(f, v)| !(v.is_finite() && *v > 0.0 && *v <= limit(f))) {
            return Err(format!("field 'timing.{f}' is {v}: expected nanoseconds in (0, {}]", limit(f)));
        }
        let pins = &self.pins;
        let ball = |f: &str, v: &str| {
            if !v.is_empty() && v.len() <= 16 && v.bytes().all(|b| b.is_ascii_alphanumeric()) {
                Ok(())
            } else {
                Err(format!(
                    "field 'pins.{f}' holds '{}': expected a ball name of letters and digits",
                    crate::names::label(v)
                ))
            }
        };
        for (f, v) in [
            ("clock", &pins.clock),
            ("cke", &pins.cke),
            ("cs_n", &pins.cs_n),
            ("we_n", &pins.we_n),
            ("ras_n", &pins.ras_n),
            ("cas_n", &pins.cas_n),
        ] {
            ball(f, v)?;
        }
        // Powers of two (checked above): their address bits are their trailing zeros.
        let log2 = |n: u32| n.trailing_zeros() as usize;
        let need = [
            ("ba", &pins.ba, log2(g.banks)),
            ("a", &pins.a, log2(g.rows).max(log2(g.cols)).max(11)),
            ("dq", &pins.dq, g.width as usize),
            ("dqm", &pins.dqm, (g.width as usize).div_ceil(8)),
        ];
        for (f, v, n) in need {
            if v.len() != n {
                return Err(format!("field 'pins.{f}' lists {} balls: the chip's geometry needs {n}", v.len()));
            }
            v.iter().try_for_each(|b| ball(f, b))?;
        }
        let p = &self.power;
        let figures = [
            ("vdd", p.vdd),
            ("idd_tck_ns", p.idd_tck_ns),
            ("idd_trc_ns", p.idd_trc_ns),
            ("idd_trfc_ns", p.idd_trfc_ns),
            ("idd1_ma", p.idd1_ma),
            ("idd3_ma", p.idd3_ma),
            ("idd4_ma", p.idd4_ma),
            ("idd5_ma", p.idd5_ma),
        ];
        if let Some((f, v)) = figures.iter().find(|(_, v)| !(v.is_finite() && *v > 0.0 && *v <= 1e4)) {
            return Err(format!("field 'power.{f}' is {v}: expected a positive figure"));
        }
        Ok(())
    }
}

/// External memory kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemoryKind {
    /// Single data rate SDRAM.
    Sdr,
}

/// An SDRAM's datasheet supply currents (mA) at its test clock, from which per-command energy
/// and background power follow (the IDD method of Micron's power notes; see docs/energy.md).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemoryPower {
    /// Supply voltage, V.
    pub vdd: f64,
    /// The clock period of the IDD tests, ns.
    pub idd_tck_ns: f64,
    /// tRC of the IDD1 test, ns.
    pub idd_trc_ns: f64,
    /// tRFC of the IDD5 test, ns.
    pub idd_trfc_ns: f64,
    /// Operating current, one bank ACTIVATE-READ-PRECHARGE every tRC.
    pub idd1_ma: f64,
    /// Active standby current (a bank open, no access; the background bound).
    pub idd3_ma: f64,
    /// Burst read/write current.
    pub idd4_ma: f64,
    /// Auto refresh current at tRFC.
    pub idd5_ma: f64,
}

/// Banks, rows and columns of one chip, and its word width.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Geometry {
    /// Banks.
    pub banks: u32,
    /// Rows per bank.
    pub rows: u32,
    /// Columns (words) per row.
    pub cols: u32,
    /// Bits per word (the data bus).
    pub width: u32,
}

impl Geometry {
    /// Words in the chip.
    pub fn words(&self) -> u64 {
        u64::from(self.banks) * u64::from(self.rows) * u64::from(self.cols)
    }
}

/// A part's timing in nanoseconds (and its CAS latency in cycles), as its datasheet states it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimingNs {
    /// CAS latency, cycles.
    pub cl: u32,
    /// ACTIVATE to READ/WRITE.
    pub t_rcd: f64,
    /// PRECHARGE to ACTIVATE.
    pub t_rp: f64,
    /// ACTIVATE to PRECHARGE.
    pub t_ras: f64,
    /// ACTIVATE to ACTIVATE, same bank.
    pub t_rc: f64,
    /// ACTIVATE to ACTIVATE, different banks.
    pub t_rrd: f64,
    /// REFRESH to any command.
    pub t_rfc: f64,
    /// Last write data to PRECHARGE.
    pub t_wr: f64,
    /// Average refresh interval.
    pub t_refi: f64,
    /// Power-up wait before the first command (100 us in SDR datasheets).
    #[serde(default = "default_t_init")]
    pub t_init: f64,
    /// LOAD MODE REGISTER to any command, cycles (2 in SDR datasheets).
    #[serde(default = "default_mrd")]
    pub mrd: u32,
}

fn default_t_init() -> f64 {
    100_000.0
}

fn default_mrd() -> u32 {
    2
}

/// The Vitis HLS part for targets without an AMD/Xilinx part: the Artix-7 XC7A35T of the
/// bundled `xc7a35t` target (Arty A7-35T), a small, common board.
pub const DEFAULT_HLS_PART: &str = "xc7a35tcsg324-1";

/// A target device or chip.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Target {
    /// Name.
    pub name: String,
    /// One-line description.
    pub description: String,
    /// FPGA, neuromorphic chip or ASIC estimate.
    pub kind: Kind,
    /// Device family.
    pub family: Family,
    /// The tools that build for it.
    pub toolchain: Toolchain,
    /// Vendor part number (Vivado targets).
    #[serde(default)]
    pub part: Option<String>,
    /// AMD/Xilinx part for Vitis HLS (default: `part`, else [`DEFAULT_HLS_PART`]).
    #[serde(default)]
    pub hls_part: Option<String>,
    /// Resources (FPGA).
    #[serde(default)]
    pub device: Device,
    /// Board pins (FPGA).
    #[serde(default)]
    pub board: Board,
    /// Clock.
    pub clock: Clock,
    /// Memory mapping rules (FPGA, ASIC).
    #[serde(default)]
    pub mapping: Mapping,
    /// Chip limits (neuromorphic).
    #[serde(default)]
    pub chip: Option<ChipSpec>,
    /// Energy constants.
    pub energy: EnergyConsts,
    /// The board's external memory (FPGA boards that have one).
    #[serde(default)]
    pub external_memory: Option<ExternalMemory>,
}

/// A target that could not be found or parsed.
#[derive(Debug, thiserror::Error)]
#[error("target '{name}': {message}")]
pub struct TargetError {
    /// Name or path given.
    pub name: String,
    /// Problem.
    pub message: String,
}

impl Target {
    /// A bundled target by name, or a `.toml` file by path.
    pub fn load(name: &str) -> Result<Target, TargetError> {
        if let Some((_, text)) = BUNDLED.iter().find(|(n, _)| *n == name) {
            return Self::parse(name, text);
        }
        let p = Path::new(name);
        if p.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(p)
                .map_err(|e| TargetError { name: name.into(), message: format!("cannot read: {e}") })?;
            return Self::parse(name, &text);
        }
        let names: Vec<_> = BUNDLED.iter().map(|(n, _)| *n).collect();
        Err(TargetError {
            name: name.into(),
            message: format!("unknown target; bundled targets: {} (or give a path to a .toml file)", names.join(", ")),
        })
    }

    fn parse(name: &str, text: &str) -> Result<Target, TargetError> {
        let t: Target = toml::from_str(text)
            .map_err(|e| TargetError { name: name.into(), message: format!("invalid target file: {e}") })?;
        t.check().map_err(|message| TargetError { name: name.into(), message })?;
        Ok(t)
    }

    /// Target files may come from anywhere: every string that reaches a script, constraint
    /// file or report must be a plain token, and every figure must be usable.
    fn check(&self) -> Result<(), String> {
        let token = |field: &str, v: &str, extra: &[u8]| -> Result<(), String> {
            let ok = !v.is_empty()
                && v.len() <= 64
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || extra.contains(&b));
            if ok {
                Ok(())
            } else {
                Err(format!(
                    "field '{field}' is '{}': expected 1 to 64 of [A-Za-z0-9_-{}]",
                    crate::names::label(v),
                    String::from_utf8_lossy(extra)
                ))
            }
        };
        token("name", &self.name, b".")?;
        let flow = self.flow();
        match (self.kind, self.toolchain) {
            (Kind::Fpga, _) if flow == Flow::None => {
                return Err(format!(
                    "no build flow for an FPGA of family {:?} with toolchain {:?} (known: ice40 and ecp5 with open, \
                     xc7 with vivado)",
                    self.family, self.toolchain
                ));
            }
            (Kind::Asic, t) if t != Toolchain::None => {
                return Err("an ASIC target has no toolchain spikefab drives; write toolchain = \"none\"".into());
            }
            (Kind::Neuromorphic, Toolchain::Open | Toolchain::Vivado) => {
                return Err(format!(
                    "a chip's toolchain is its vendor's simulator (rockpool, lava) or none, not {:?}",
                    self.toolchain
                ));
            }
            _ => {}
        }
        if self.kind == Kind::Fpga && (self.device.luts == 0 || self.device.block_ram_modes.is_empty()) {
            return Err("an FPGA target needs a [device] section with its LUTs and block RAM modes".into());
        }
        match (&self.chip, self.kind) {
            (None, Kind::Neuromorphic) => return Err("a neuromorphic target needs a [chip] section".into()),
            (Some(_), Kind::Fpga | Kind::Asic) => return Err("only a neuromorphic target has a [chip] section".into()),
            (Some(c), _) if c.cores == 0 || c.neurons_per_core == 0 || c.chips == Some(0) => {
                return Err("section 'chip': cores, neurons_per_core and chips must be positive".into());
            }
            _ => {}
        }
        if self.description.len() > 200 || self.description.bytes().any(|b| !(b' '..=b'~').contains(&b)) {
            return Err("field 'description': expected at most 200 printable ASCII characters".into());
        }
        for (f, v) in
            [("part", &self.part), ("hls_part", &self.hls_part), ("device.icetime_device", &self.device.icetime_device)]
        {
            if let Some(v) = v {
                token(f, v, b"")?;
            }
        }
        if let Some(m) = self.chip.as_ref().and_then(|c| c.vendor_module.as_ref()) {
            token("chip.vendor_module", m, b"")?;
        }
        for a in &self.device.nextpnr_args {
            token("device.nextpnr_args", a, b".=+")?;
        }
        if let Some(v) = &self.board.io_standard {
            token("board.io_standard", v, b"")?;
        }
        if !self.board.clock_pin.is_empty() {
            token("board.clock_pin", &self.board.clock_pin, b"")?;
        }
        for p in &self.board.pins {
            token("board.pins", p, b"")?;
        }
        let mhz = self.clock.default_mhz;
        if !(mhz.is_finite() && mhz > 0.0 && mhz <= 1000.0) {
            return Err(format!("field 'clock.default_mhz' is {mhz}: expected a clock in (0, 1000] MHz"));
        }
        let m = &self.mapping;
        if !m.default_lanes.is_power_of_two() || m.default_lanes > 64 {
            return Err(format!(
                "field 'mapping.default_lanes' is {}: expected a power of two up to 64",
                m.default_lanes
            ));
        }
        let d = &self.device;
        if d.block_ram_bits > 1 << 24 || d.large_ram_bits > 1 << 30 {
            return Err("fields 'device.block_ram_bits' / 'device.large_ram_bits' are implausibly large".into());
        }
        if d.large_ram_width > 0
            && (d.large_ram_width > 64
                || !d.large_ram_width.is_power_of_two()
                || !d.large_ram_bits.is_multiple_of(d.large_ram_width))
        {
            return Err(format!(
                "field 'device.large_ram_width': {} must be a power of two up to 64 dividing 'device.large_ram_bits'",
                d.large_ram_width
            ));
        }
        for &[depth, width] in &d.block_ram_modes {
            if depth == 0 || width == 0 || depth.checked_mul(width).is_none_or(|b| b > d.block_ram_bits.max(1)) {
                return Err(format!(
                    "field 'device.block_ram_modes': mode [{depth}, {width}] does not fit a {}-bit block RAM",
                    d.block_ram_bits
                ));
            }
        }
        if let Some(m) = &self.external_memory {
            if self.kind != Kind::Fpga {
                return Err("only an FPGA board has an [external_memory] section".into());
            }
            m.check().map_err(|e| format!("section 'external_memory': {e}"))?;
        }
        let e = &self.energy;
        let consts = [
            e.static_w,
            e.energy_per_cycle_j,
            e.int_add_j,
            e.int8_add_j,
            e.int_mult_j,
            e.int8_mult_j,
            e.mac_j,
            e.ac_j,
            e.sram_base_j,
            e.sram_per_bit_j,
            e.register_access_j,
        ];
        let opt = [e.synop_j, e.neuron_update_j, e.spike_out_j];
        if consts.iter().chain(opt.iter().flatten()).any(|v| !(v.is_finite() && *v >= 0.0)) {
            return Err("section 'energy': every constant must be a finite, non-negative number".into());
        }
        Ok(())
    }

    /// Names of the bundled targets.
    pub fn bundled_names() -> Vec<&'static str> {
        BUNDLED.iter().map(|(n, _)| *n).collect()
    }

    /// How spikefab builds this target.
    pub fn flow(&self) -> Flow {
        match (self.kind, self.family, self.toolchain) {
            (Kind::Fpga, Family::Ice40, Toolchain::Open) => Flow::OpenIce40,
            (Kind::Fpga, Family::Ecp5, Toolchain::Open) => Flow::OpenEcp5,
            (Kind::Fpga, Family::Xc7, Toolchain::Vivado) => Flow::Vivado,
            _ => Flow::None,
        }
    }

    /// True for neuromorphic chips (a chip mapping, not the FPGA layout).
    pub fn is_chip(&self) -> bool {
        self.kind == Kind::Neuromorphic
    }

    /// True for targets the FPGA layout, Verilog and HLS back ends serve (FPGAs and the ASIC
    /// estimate).
    pub fn takes_rtl(&self) -> bool {
        matches!(self.kind, Kind::Fpga | Kind::Asic)
    }

    /// The part `run_hls.tcl` synthesises for: the target's `hls_part`, its Vivado `part`, or
    /// for devices Vitis HLS cannot target (iCE40, ASIC, neuromorphic) [`DEFAULT_HLS_PART`].
    pub fn hls_part(&self) -> &str {
        self.hls_part.as_deref().or(self.part.as_deref()).unwrap_or(DEFAULT_HLS_PART)
    }

    /// Clock period in seconds at the default clock.
    pub fn period_s(&self) -> f64 {
        1e-6 / self.clock.default_mhz
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_targets_parse_and_choose_their_flow_by_type() {
        let flow = |n: &str| Target::load(n).unwrap().flow();
        assert_eq!(flow("ice40-up5k"), Flow::OpenIce40);
        assert_eq!(flow("ice40-hx8k"), Flow::OpenIce40);
        assert_eq!(flow("xc7a35t"), Flow::Vivado);
        for n in ["ecp5-25k", "ecp5-45k", "ecp5-85k", "ulx3s-85f"] {
            assert_eq!(flow(n), Flow::OpenEcp5, "{n}");
        }
        for n in ["generic-45nm", "loihi", "truenorth"] {
            assert_eq!(flow(n), Flow::None, "{n}");
        }
        assert!(Target::load("generic-45nm").unwrap().takes_rtl());
        assert!(!Target::load("loihi").unwrap().takes_rtl());
    }

    #[test]
    fn inconsistent_target_files_are_refused() {
        let up5k = BUNDLED.iter().find(|(n, _)| *n == "ice40-up5k").unwrap().1;
        let bad = [
            (up5k.replace("toolchain = \"open\"", "toolchain = \"vivado\""), "no build flow"),
            (up5k.replace("family = \"ice40\"", "family = \"stratix\""), "unknown variant"),
            (up5k.replace("name = \"ice40-up5k\"", "name = \"a;rm -rf /\""), "field 'name'"),
            (up5k.replace("\"--up5k\"", "\"--up5k; touch x\""), "device.nextpnr_args"),
            (up5k.replace("default_mhz = 12.0", "default_mhz = -1.0"), "clock.default_mhz"),
            (up5k.replace("[board]", "[board]\nio_standard = \"LVCMOS33\\\"; X\""), "board.io_standard"),
        ];
        for (text, want) in bad {
            let e = Target::parse("t", &text).unwrap_err();
            assert!(e.to_string().contains(want), "{e}");
        }
    }

    /// A board's external memory: each broken figure is refused naming its field; a chip
    /// cannot have one.
    #[test]
    fn external_memory_figures_are_checked() {
        let text = BUNDLED.iter().find(|(n, _)| *n == "ulx3s-85f").unwrap().1;
        let t = Target::parse("ulx3s-85f", text).unwrap();
        let m = t.external_memory.as_ref().unwrap();
        assert_eq!((m.geometry.words(), m.geometry.width, m.pins.dq.len()), (1 << 24, 16, 16));
        let cases = [
            ("banks = 4", "banks = 3", "geometry.banks"),
            ("width = 16", "width = 12", "geometry.width"),
            ("cols = 512", "cols = 2048", "geometry.cols"),
            ("banks = 4", "banks = 1", "geometry.banks"),
            ("t_refi = 7812.5", "t_refi = 1e9", "timing.t_refi"),
            ("clock_mhz = 50.0", "clock_mhz = 0.0", "clock_mhz"),
            ("cl = 2", "cl = 9", "timing.cl"),
            ("t_rcd = 20.0", "t_rcd = nan", "timing.t_rcd"),
            ("idd4_ma = 100.0", "idd4_ma = -1.0", "power.idd4_ma"),
            ("dqm = [\"U19\", \"E20\"]", "dqm = [\"U19\"]", "pins.dqm"),
            ("cs_n = \"P20\"", "cs_n = \"P20; rm\"", "pins.cs_n"),
            ("part = \"MT48LC16M16A2\"", "part = \"a b\"", "part"),
        ];
        for (from, to, field) in cases {
            assert!(text.contains(from), "{from}");
            let e = Target::parse("x", &text.replacen(from, to, 1)).unwrap_err().to_string();
            assert!(e.contains(field), "{to}: {e}");
        }
        let chip = BUNDLED.iter().find(|(n, _)| *n == "loihi2").unwrap().1;
        let section = &text[text.find("\n[external_memory]\n").unwrap()..];
        let e = Target::parse("x", &format!("{chip}\n{section}")).unwrap_err().to_string();
        assert!(e.contains("only an FPGA board"), "{e}");
    }
}
