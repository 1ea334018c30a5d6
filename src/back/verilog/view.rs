//! Everything the Verilog templates print, computed from the plan: widths, constants, ROM
//! images and the address arithmetic of each projection.

use crate::back::limits;
use crate::hw::memory::{event_width, param_lane_bits};
use crate::hw::{Layer, MemMap, Plan, Schedule};
use crate::ir::ResetMode;
use crate::names::{Namer, label, list_label, path_label};
use crate::quant::{AccTarget, Leak, PoolGeom, ProjKind, Projection, Source};

/// A design that cannot be emitted (only for plans outside the RTL's limits).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("Verilog back end: {0}")]
pub struct EmitError(pub String);

/// Emitted files.
#[derive(Debug, Clone)]
pub struct Design {
    /// Top module name.
    pub module: String,
    /// (file name, contents), deterministic order.
    pub files: Vec<(String, String)>,
    /// Bits of an output word.
    pub out_width: usize,
    /// Bits of an input word.
    pub in_width: usize,
    /// The design has the weight-load port (`wl_valid`, `wl_ready`, `wl_data[3:0]`): weight
    /// ROMs in SPRAM, loaded from `<module>_wl.hex` after reset.
    pub weight_load: bool,
}

/// Bits to address `n` words (at least 1).
pub fn abits(n: usize) -> usize {
    (usize::BITS - n.saturating_sub(1).leading_zeros()).max(1) as usize
}

fn log2(n: usize) -> usize {
    debug_assert!(n.is_power_of_two());
    n.trailing_zeros() as usize
}

/// A `w`-bit two's complement literal.
fn lit(v: i64, w: usize) -> String {
    let mask = if w >= 64 { u64::MAX } else { (1u64 << w) - 1 };
    format!("{w}'h{:x}", (v as u64) & mask)
}

/// Little helper to build wide words bit by bit and print them as hex.
struct Word(Vec<bool>);

impl Word {
    fn new(width: usize) -> Self {
        Word(vec![false; width])
    }
    fn put(&mut self, lo: usize, width: usize, v: i64) {
        for b in 0..width {
            self.0[lo + b] = (v >> b.min(63)) & 1 == 1;
        }
    }
    /// Appends the word in hex (most significant digit first) and a newline to `s`.
    fn hex_line(&self, s: &mut String) {
        for d in (0..self.0.len().div_ceil(4)).rev() {
            let bits = &self.0[d * 4..(d * 4 + 4).min(self.0.len())];
            let nib = bits.iter().enumerate().fold(0u32, |n, (b, &x)| n | (u32::from(x) << b));
            s.push(char::from_digit(nib, 16).expect("nibble"));
        }
        s.push('\n');
    }
}

/// One neuron parameter: a constant or a slice of the parameter ROM word of a lane.
pub struct ParamView {
    /// True when read from the ROM.
    pub rom: bool,
    /// Bit offset in the lane's slice.
    pub lo: usize,
    /// Width.
    pub width: usize,
    /// Constant literal (when not in ROM).
    pub konst: String,
}

/// A counter of a beat generator.
pub struct CounterView {
    /// Signal name.
    pub name: String,
    /// Count (wraps at max - 1): the most an event takes.
    pub max: usize,
    /// Register width.
    pub w: usize,
    /// The signal holding this event's count - 1 when it depends on the event (a clipped
    /// convolution axis, [`crate::hw::taps`]); None: every event counts `max`.
    pub nm1: Option<String>,
}

/// A small table read with the event's position (a clipped convolution axis' first tap or
/// tap count - 1 per source coordinate, [`crate::hw::taps::Pattern`]).
pub struct TableView {
    /// Signal name.
    pub name: String,
    /// Width.
    pub w: usize,
    /// The index: bits `hi..lo` of signal `pos`.
    pub pos: String,
    pub hi: usize,
    pub lo: usize,
    /// The values.
    pub pattern: crate::hw::taps::Pattern,
}

/// One projection's accumulate unit.
pub struct ProjView {
    /// Signal prefix.
    pub pre: String,
    /// Path, for comments.
    pub comment: String,
    /// Source prefix (`inp` or `l<k>`).
    pub src: String,
    /// Source is the input stream.
    pub src_input: bool,
    /// Source lane mask width (0 for input entries).
    pub src_maskw: usize,
    /// Source entry width.
    pub src_ew: usize,
    /// Source entry address width.
    pub src_aw: usize,
    /// Lane index width of the source.
    pub src_liw: usize,
    /// Entry field extraction: (hi, lo) of c, y, x.
    pub c_hi: usize,
    /// Low bit of c.
    pub c_lo: usize,
    /// High bit of y.
    pub y_hi: usize,
    /// Low bit of y.
    pub y_lo: usize,
    /// High bit of x.
    pub x_hi: usize,
    /// Low bit of x.
    pub x_lo: usize,
    /// Zero-extension pads to 32 bits for c, y, x.
    /// Width of the address arithmetic (every intermediate fits).
    pub aw: usize,
    /// Zero bits above the channel field up to `aw`.
    pub c_pad: usize,
    /// Pad of y.
    pub y_pad: usize,
    /// Pad of x.
    pub x_pad: usize,
    /// Event value width.
    pub valw: usize,
    /// Event value signed.
    pub val_signed: bool,
    /// High bit of the value field (input entries).
    pub val_hi: usize,
    /// `x`, `s` or `y`.
    pub target: String,
    /// Target state width.
    pub tw: usize,
    /// Weight bits.
    pub wb: usize,
    /// Shift.
    pub shift: u32,
    /// Has a weight ROM (else one constant weight).
    pub has_wrom: bool,
    /// Weight ROM file.
    pub wfile: String,
    /// Weight ROM depth.
    pub wdepth: usize,
    /// Weight ROM address width.
    pub waw: usize,
    /// Weight ROM in logic.
    pub wlogic: bool,
    /// Weight ROM address expression.
    pub wrom_addr: String,
    /// Constant weight literal (WB bits) when there is no ROM.
    pub wconst: String,
    /// The weight ROM's large-RAM placement, when it has one.
    pub spram: Option<SpramView>,
    /// Counters, outermost first.
    pub counters: Vec<CounterView>,
    /// Tables read with the event's position (combinational from `<pre>_ev_pos`).
    pub tables: Vec<TableView>,
    /// Beats an event takes: the fewest and the most.
    pub beats_min: u64,
    pub beats_max: u64,
    /// An event of one beat, as an expression of the head event (`beats_min < 2 <= beats_max`).
    pub one_now: String,
    /// Per-event sums of the entry's coordinates, registered with the event (stage 1); their
    /// expressions read `<pre>_ev_pos`.
    pub evregs: Vec<LineView>,
    /// Stage-1 wires computing the beat's coordinates (each registered for stage 1b).
    pub lines: Vec<LineView>,
    /// Stage-1 signals registered for stage 1b as `<name>_b` (with `lines`).
    pub regs: Vec<LineView>,
    /// Row expression (32-bit).
    pub row: String,
    /// Weight address expression (32-bit).
    pub waddr: String,
    /// Lane mask expression (L bits).
    pub mask: String,
    /// The target row's current value at stage 3 (the bank's register), `lanes * tw` bits.
    pub old: String,
    /// The source list's entry count for this reader (Verilog expression; the load's own count
    /// when the reader follows it) and the word its read port returns.
    pub ev_count: String,
    /// See `ev_count`.
    pub ev_rdata: String,
    /// Pipelined: what `ev_count` (a register) is loaded with each cycle (empty otherwise).
    pub ev_count_nx: String,
    /// Pipelined, reading a direct input: the reader follows the load as it writes the list
    /// (hdl/sf_events_follow.v, `schedule::Clock::acc_follow`), so the phase awaits nothing.
    pub follow: bool,
}

/// A weight ROM placed in large RAM (iCE40 SPRAM), filled through the weight-load port.
pub struct SpramView {
    /// Index among the design's large-RAM ROMs (load order).
    pub idx: usize,
    /// ROM file whose words the load image holds (removed from the ROM files).
    pub file: String,
    /// Logical word width.
    pub width: usize,
    /// Layout on the blocks.
    pub slot: usize,
    /// log2 of the logical words per block word.
    pub pw_log: usize,
    /// Blocks side by side.
    pub cols: usize,
    /// Blocks one below the other.
    pub rows: usize,
    /// Block words used.
    pub words: usize,
    /// Widths of the row index, column index and block word index.
    pub rw: usize,
    /// Column index width.
    pub cw: usize,
    /// Block word index width.
    pub ww: usize,
}

/// One large-RAM ROM as the loader sees it.
pub struct SpramMemView {
    /// Load order index.
    pub idx: usize,
    /// Block words.
    pub words: usize,
    /// Blocks side by side.
    pub cols: usize,
}

/// The load image of large-RAM ROMs: for each ROM in order, each block word, each column,
/// its four nibbles lowest first, one hex digit per line. `text` holds the ROM's logical words
/// as hex lines (as for `$readmemh`), `width` bits each.
fn spram_image(text: &str, width: usize, s: &SpramView, out: &mut String) {
    let bits: Vec<Vec<bool>> = text
        .lines()
        .map(|l| {
            let mut v = vec![false; width];
            for (d, ch) in l.bytes().rev().enumerate() {
                let n = (ch as char).to_digit(16).unwrap_or(0);
                for b in 0..4 {
                    if d * 4 + b < width {
                        v[d * 4 + b] = (n >> b) & 1 == 1;
                    }
                }
            }
            v
        })
        .collect();
    let per_word = 1usize << s.pw_log;
    for w in 0..s.words {
        for c in 0..s.cols {
            let mut word = [false; 16];
            if s.cols > 1 {
                if let Some(v) = bits.get(w) {
                    for (b, bit) in word.iter_mut().enumerate() {
                        *bit = v.get(c * 16 + b).copied().unwrap_or(false);
                    }
                }
            } else {
                for slot in 0..per_word {
                    if let Some(v) = bits.get(w * per_word + slot) {
                        for (b, &bit) in v.iter().enumerate() {
                            word[slot * s.slot + b] = bit;
                        }
                    }
                }
            }
            for n in 0..4 {
                let nib = (0..4).fold(0u32, |a, b| a | (u32::from(word[n * 4 + b]) << b));
                out.push(char::from_digit(nib, 16).expect("nibble"));
                out.push('\n');
            }
        }
    }
}

/// A named wire of the address arithmetic.
pub struct LineView {
    /// Signal name.
    pub name: String,
    /// Width in bits.
    pub w: usize,
    /// Verilog expression.
    pub expr: String,
}

fn line(lines: &mut Vec<LineView>, name: String, w: usize, expr: String) {
    lines.push(LineView { name, w, expr });
}

/// `expr` with every identifier in `names` replaced by its stage-1b register `<name>_b`.
fn stage_b(expr: &str, names: &[&str]) -> String {
    let mut out = String::with_capacity(expr.len() + 16);
    let b = expr.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let ch = b[i];
        let starts = (ch.is_ascii_alphabetic() || ch == b'_') && (i == 0 || b[i - 1] != b'\'');
        if starts {
            let j = i + b[i..].iter().take_while(|c| c.is_ascii_alphanumeric() || **c == b'_').count();
            let id = &expr[i..j];
            out.push_str(id);
            if names.contains(&id) {
                out.push_str("_b");
            }
            i = j;
        } else if ch.is_ascii_digit() {
            // A number or sized literal (12'd5): copied whole.
            let j = i + b[i..].iter().take_while(|c| c.is_ascii_alphanumeric() || **c == b'\'' || **c == b'_').count();
            out.push_str(&expr[i..j]);
            i = j;
        } else {
            out.push(ch as char);
            i += 1;
        }
    }
    out
}

/// One layer.
pub struct LayerView {
    /// Index.
    pub k: usize,
    /// Graph name (comment).
    pub name: String,
    /// Readable identifier from the namer (comments and ROM file names).
    pub ident: String,
    /// Prefix `l<k>`.
    pub pre: String,
    /// Lanes.
    pub lanes: usize,
    /// Rows.
    pub rows: usize,
    /// Row address width.
    pub raw: usize,
    /// Widths.
    pub vw: usize,
    /// S width (1 when absent).
    pub sw: usize,
    /// Y width (1 when absent).
    pub yw: usize,
    /// Has S.
    pub has_s: bool,
    /// Current-based.
    pub cuba: bool,
    /// Spiking.
    pub spiking: bool,
    /// Saturating.
    pub sat: bool,
    /// Leak mode (0 zero, 1 one, 2 shift, 3 multiply) and shift k.
    pub leak: usize,
    /// Leak shift.
    pub leak_k: u32,
    /// Synaptic leak mode and k.
    pub sleak: usize,
    /// Synaptic leak shift.
    pub sleak_k: u32,
    /// Parameters: thr, bias, bias_late, vreset, syn_bias, syn_bias_late, beta_b, syn_b.
    pub params: Vec<(String, ParamView)>,
    /// Has a parameter ROM.
    pub has_prom: bool,
    /// Parameter ROM words (rows, or lane groups when per channel).
    pub prom_depth: usize,
    /// Parameter ROM address width.
    pub prom_aw: usize,
    /// Parameter ROM indexed by lane group.
    pub prom_by_cgi: bool,
    /// Parameter ROM file.
    pub prom_file: String,
    /// Parameter bits per lane.
    pub prom_bits: usize,
    /// Parameter ROM in logic.
    pub prom_logic: bool,
    /// Channel group bookkeeping for entries: channels per group, lane groups per group.
    pub gc: usize,
    /// Lane groups per channel group.
    pub ncg: usize,
    /// Positions H*W.
    pub pos: usize,
    /// Height.
    pub h: usize,
    /// Width.
    pub w: usize,
    /// Entry field widths.
    pub ecw: usize,
    /// Entry y width.
    pub eyw: usize,
    /// Entry x width.
    pub exw: usize,
    /// Entry width.
    pub ew: usize,
    /// Output layer.
    pub is_out: bool,
    /// Output buffer style.
    pub out_logic: bool,
    /// Projections.
    pub projs: Vec<ProjView>,
    /// Read data of the banks holding X, S and Y (`bank_rdata`), and their lane strides.
    pub x_sig: String,
    /// S read data.
    pub s_sig: String,
    /// Y read data.
    pub y_sig: String,
    /// Lane strides of the X, S, Y banks.
    pub x_lw: usize,
    /// Signal prefix of the update datapath (and, pipelined, the sequencer) serving the
    /// layer: empty in the sequential schedule.
    pub gp: String,
    /// The layer's index among that datapath's layers, and that index's width.
    pub gk: usize,
    /// See `gk`.
    pub glw: usize,
    /// That datapath's membrane width.
    pub gvw: usize,
    /// S lane stride.
    pub s_lw: usize,
    /// Y lane stride.
    pub y_lw: usize,
}

/// A phase of the sequencer program.
pub struct PhaseView {
    /// Index.
    pub idx: usize,
    /// `load`, `acc`, `upd`, `out`, `exit`, `clear`.
    pub kind: String,
    /// Unit prefix (`l1p0`, `l1`, ...).
    pub unit: String,
    /// When this phase is the one after the running phase: a 1-bit Verilog expression of
    /// `pc_oh`, `late` and `last` (indices and keywords only).
    pub enter: String,
}

/// An update datapath and the layers it serves: every layer in the sequential schedule (its
/// signals unprefixed), one layer each in the pipelined one.
pub struct UGroupView {
    /// Signal prefix (`g<k>_`, or empty).
    pub p: String,
    /// The layers, by plan index; a layer's index in the group is its position here.
    pub ks: Vec<usize>,
    /// Datapath widths (the widest of its layers).
    pub sh: Shared,
    /// Width of a layer index in the group.
    pub lw: usize,
    /// Widths of the position counters (lane group, y, x) and the position in a channel.
    pub ucw: usize,
    /// See `ucw`.
    pub uyw: usize,
    /// See `ucw`.
    pub uxw: usize,
    /// See `ucw`.
    pub upw: usize,
    /// Some layer reads its parameter ROM per lane group, and the width of that address.
    pub any_prom_by_cgi: bool,
    /// See `any_prom_by_cgi`.
    pub pa_w: usize,
    /// Pipelined: the index of the layer's UPD phase in its unit's program.
    pub upd: usize,
}

/// A sequencer of the pipelined schedule (see [`crate::hw::schedule::Pipe`]).
pub struct UnitView {
    /// Signal prefix (`gin_`, `g<k>_`, `gout_`).
    pub p: String,
    /// What it runs, for the comment.
    pub comment: String,
    /// Its program; `enter` reads `<p>pc_oh` and `<p>late`.
    pub phases: Vec<PhaseView>,
    /// Per phase, MSB first: the condition to start it at the unit's step (`<p>t`) and at the
    /// next step (`<p>t1`), as `{..}` concatenations of 1-bit expressions.
    pub ok_t: String,
    /// See `ok_t`.
    pub ok_t1: String,
    /// One-hot literal of the phase that ends a step.
    pub step_mask: String,
    /// Runs once (a direct input's load): its counter then jumps to T.
    pub once: bool,
}

/// Pipelined: a layer's event list, written into every copy.
pub struct PipeProducerView {
    /// Layer prefix `l<k>`.
    pub pre: String,
    /// Its update datapath's prefix.
    pub gp: String,
    /// Row address width, lanes, entry fields and width.
    pub raw: usize,
    /// See `raw`.
    pub lanes: usize,
    /// See `raw`.
    pub ecw: usize,
    /// See `raw`.
    pub eyw: usize,
    /// See `raw`.
    pub exw: usize,
    /// See `raw`.
    pub ew: usize,
}

/// Pipelined: one consumer's copy of an event list (a layer's or the input's), written by the
/// list's producer (the LOAD unit or the layer's update pass) into every copy at once.
pub struct PipeListView {
    /// Memory prefix (`l<s>r<k>`, `inpr<k>`).
    pub pre: String,
    /// For the comment.
    pub comment: String,
    /// Entry width, words, address width.
    pub width: usize,
    /// See `width`.
    pub depth: usize,
    /// See `width`.
    pub aw: usize,
    /// In logic.
    pub logic: bool,
    /// Write enable, address and data (expressions).
    pub we: String,
    /// See `we`.
    pub waddr: String,
    /// See `we`.
    pub wdata: String,
    /// Readers (one unit, one phase at a time): (projection prefix, read address).
    pub readers: Vec<(String, String)>,
}

/// The whole design.
pub struct TopView {
    /// Module name.
    pub module: String,
    /// Cycles from a row's read data to its write (the neuron pipeline, `schedule::UPD_TAIL`).
    pub u_lat: u64,
    /// Widths of the update pass's y and x counters over every layer (the early-exit counts).
    pub uyw: usize,
    pub uxw: usize,
    /// Model and plan description for the header.
    pub header: Vec<String>,
    /// Input word width.
    pub in_w: usize,
    /// Input elements per step.
    pub n_in: usize,
    /// Input height.
    pub in_hh: usize,
    /// Input width.
    pub in_ww: usize,
    /// Input entry field widths.
    pub icw: usize,
    /// Input y width.
    pub iyw: usize,
    /// Input x width.
    pub ixw: usize,
    /// Input entry width.
    pub iew: usize,
    /// Input entry address width.
    pub iaw: usize,
    /// Some projection reads input events.
    pub has_in_events: bool,
    /// Some projection follows the input's load (see [`ProjView::follow`]).
    pub follow: bool,
    /// Input events in registers.
    pub in_logic: bool,
    /// Input per step.
    pub per_step: bool,
    /// Timesteps.
    pub t_max: usize,
    /// Step counter width.
    pub tw: usize,
    /// Layers.
    pub layers: Vec<LayerView>,
    /// Output word width.
    pub out_w: usize,
    /// Output rows per step.
    pub out_rows: usize,
    /// Early exit.
    pub early_exit: bool,
    /// Output neurons.
    pub n_out: usize,
    /// Spike counter width.
    pub cnt_w: usize,
    /// Sequencer program.
    pub phases: Vec<PhaseView>,
    /// One-hot masks (Verilog literals, NPH bits): the UPD phases, and per bit of the layer
    /// index the UPD phases whose layer has that bit set.
    pub upd_mask: String,
    /// See `upd_mask`.
    pub layer_masks: Vec<String>,
    /// First phase at steps after 0.
    pub start_late: usize,
    /// OUT, EXIT and CLEAR phase indices.
    pub out_pc: usize,
    /// EXIT index.
    pub exit_pc: usize,
    /// CLEAR index.
    pub clear_pc: usize,
    /// Rows CLEAR walks.
    pub clear_rows: usize,
    /// Clear row width.
    pub clear_w: usize,
    /// ROM images (file name, hex text).
    pub roms: Vec<(String, String)>,
    /// Large-RAM weight ROMs, in load order.
    pub spram: Vec<SpramMemView>,
    /// Nibbles of the weight-load image (0 without large-RAM ROMs).
    pub wl_nibbles: usize,
    /// Widths of the loader's memory, block word and column counters.
    pub wl_mw: usize,
    /// Block word counter width.
    pub wl_ww: usize,
    /// Column counter width.
    pub wl_cw: usize,
    /// Leak multiplier fraction bits.
    pub leak_bits: u32,
    /// Reset code: 0 zero, 1 subtract, 2 subtract-undecayed.
    pub reset: usize,
    /// Fire on equal.
    pub fire_eq: bool,
    /// Layer index width.
    pub lw: usize,
    /// Output words are spike masks.
    pub out_spikes: bool,
    /// State memories (X, S, Y), each shared by one or more layers.
    pub banks: Vec<BankView>,
    /// Event list memories, each shared by one or more layers.
    pub evbanks: Vec<EvBankView>,
    /// Some bank tells stale rows by an epoch bit instead of being cleared.
    pub any_epoch: bool,
    /// The plan's block RAMs fit the device: ROMs are held to block RAM (sf_ram BLOCK).
    pub hold_brams: bool,
    /// The pipelined schedule (else sequential).
    pub pipe: bool,
    /// Update datapaths.
    pub ugroups: Vec<UGroupView>,
    /// Pipelined: the sequencers, the layers' lists and their copies, the input's copies.
    pub units: Vec<UnitView>,
    /// See `units`.
    pub pproducers: Vec<PipeProducerView>,
    /// See `units`: every consumer's copy of the input's and the layers' event lists.
    pub plists: Vec<PipeListView>,
    /// The output buffer's words, address width, and write and read addresses.
    pub out_depth: usize,
    /// See `out_depth`.
    pub out_aw: usize,
    /// See `out_depth`.
    pub out_wa: String,
    /// See `out_depth`.
    pub out_ra: String,
}

/// Pipelined: the prefix of layer `k`'s copy of `src`'s event list.
fn pipe_copy(src: Source, k: usize) -> String {
    match src {
        Source::Input => format!("inpr{k}"),
        Source::Layer(s) => format!("l{s}r{k}"),
    }
}

/// Pipelined: the half of its source's list layer `k` reads through `p` (1 bit): the parity
/// of its step, or of the step before through a recurrent edge.
fn pipe_read_parity(k: usize, p: &Projection) -> String {
    if p.delayed { format!("!g{k}_t[0]") } else { format!("g{k}_t[0]") }
}

fn logic_of(plan: &Plan, name: &str) -> bool {
    plan.memories.iter().find(|m| m.name == name).is_none_or(|m| m.map == MemMap::Registers)
}

fn leak_code(l: &Leak) -> (usize, u32) {
    match l {
        Leak::Zero => (0, 1),
        Leak::One => (1, 1),
        Leak::Shift { k } => (2, *k),
        Leak::Mul { .. } => (3, 1),
    }
}

fn mask_lit(bits: usize, n: usize) -> String {
    let mut s = String::new();
    for b in (0..bits).rev() {
        s.push(if b < n { '1' } else { '0' });
    }
    format!("{bits}'b{s}")
}

/// Builds the view of `plan`.
pub fn build(plan: &Plan) -> Result<TopView, EmitError> {
    limits::check(plan).map_err(EmitError)?;
    let mut namer = Namer::new();
    for r in ["clk", "rst", "start", "busy", "done", "cycles", "tb"] {
        namer.reserve(r);
    }
    let module = format!("sf_{}", namer.name(plan.model.trim_end_matches(".nir").trim_end_matches(".json")));
    let mut roms = vec![];
    let inp = &plan.input;
    let [_, in_hh, in_ww] = inp.shape;
    let (icw, iyw, ixw) = (abits(inp.shape[0]), abits(in_hh), abits(in_ww));
    let in_w = inp.bits as usize;
    let has_in_events = plan.layers.iter().any(|l| l.projections.iter().any(|p| p.source == Source::Input));
    let mut layers = vec![];
    for (k, l) in plan.layers.iter().enumerate() {
        layers.push(layer_view(plan, k, l, &mut namer, &mut roms)?);
    }
    // Large-RAM ROMs: numbered in plan order; their words go to the load image instead of a
    // ROM file.
    let mut spram = vec![];
    let mut image = String::new();
    for p in layers.iter_mut().flat_map(|l| l.projs.iter_mut()) {
        if let Some(sv) = p.spram.as_mut() {
            sv.idx = spram.len();
            let at = roms.iter().position(|(f, _)| *f == sv.file).expect("the ROM file of a large-RAM ROM");
            let (_, text) = roms.remove(at);
            spram_image(&text, sv.width, sv, &mut image);
            spram.push(SpramMemView { idx: sv.idx, words: sv.words, cols: sv.cols });
        }
    }
    let wl_nibbles = image.len() / 2;
    let wl_ww = layers.iter().flat_map(|l| &l.projs).filter_map(|p| p.spram.as_ref()).map(|s| s.ww).max().unwrap_or(15);
    let wl_cw = layers.iter().flat_map(|l| &l.projs).filter_map(|p| p.spram.as_ref()).map(|s| s.cw).max().unwrap_or(1);
    if !spram.is_empty() {
        roms.push((format!("{module}_wl.hex"), image));
    }
    let pipelined = plan.schedule == Schedule::Pipelined;
    // Update datapaths: one for every layer, or one per layer (pipelined).
    let gsets: Vec<Vec<usize>> =
        if pipelined { (0..layers.len()).map(|k| vec![k]).collect() } else { vec![(0..layers.len()).collect()] };
    let mut ugroups = vec![];
    let mut lsh: Vec<Option<Shared>> = vec![None; layers.len()];
    for ks in gsets {
        let pl = |f: &dyn Fn(&Layer) -> usize| ks.iter().map(|&k| f(&plan.layers[k])).max().unwrap_or(1);
        let gsh = Shared {
            ls: pl(&|l| l.lanes),
            vw: ks.iter().map(|&k| plan.layers[k].v_bits as usize).max().unwrap_or(2),
            sw: pl(&|l| (l.s_bits as usize).max(1)),
            yw: pl(&|l| (l.y_bits as usize).max(1)),
            rw: pl(&|l| abits(l.rows)),
            pb: plan.rules.leak_bits() as usize + 1,
        };
        let p = if pipelined { format!("g{}_", ks[0]) } else { String::new() };
        let glw = abits(ks.len());
        for (i, &k) in ks.iter().enumerate() {
            (layers[k].gp, layers[k].gk, layers[k].glw, layers[k].gvw) = (p.clone(), i, glw, gsh.vw);
            lsh[k] = Some(gsh.clone());
        }
        let prom = |k: &usize| plan.layers[*k].params_per_channel() && param_lane_bits(plan, *k) > 0;
        ugroups.push(UGroupView {
            p,
            lw: glw,
            ucw: pl(&|l| abits(l.ncg)),
            uyw: pl(&|l| abits(l.shape[1])),
            uxw: pl(&|l| abits(l.shape[2])),
            upw: pl(&|l| abits(l.positions())),
            any_prom_by_cgi: ks.iter().any(prom),
            pa_w: ks.iter().filter(|k| prom(k)).map(|&k| abits(plan.layers[k].param_depth())).max().unwrap_or(1),
            upd: plan.layers[ks[0]].projections.len(),
            sh: gsh,
            ks,
        });
    }
    let lsh: Vec<Shared> = lsh.into_iter().map(|s| s.expect("every layer has a datapath")).collect();
    let banks = state_banks(plan, &mut layers, &lsh);
    let evbanks = if pipelined { vec![] } else { event_banks(plan, &layers) };
    let (units, pproducers, plists) = if pipelined { pipe_views(plan, &layers) } else { (vec![], vec![], vec![]) };
    // Sequencer program: [LOAD] per layer [ACC..., UPD], OUT, [EXIT, CLEAR].
    struct Ph {
        kind: &'static str,
        unit: String,
        statik: bool,
        layer: usize,
    }
    let mut prog: Vec<Ph> = vec![Ph { kind: "load", unit: "inp".into(), statik: !inp.per_step, layer: 0 }];
    for (k, l) in plan.layers.iter().enumerate() {
        for (j, p) in l.projections.iter().enumerate() {
            prog.push(Ph { kind: "acc", unit: format!("l{k}p{j}"), statik: p.target == AccTarget::Static, layer: k });
        }
        prog.push(Ph { kind: "upd", unit: format!("l{k}"), statik: false, layer: k });
    }
    let out_pc = prog.len();
    prog.push(Ph { kind: "out", unit: "out".into(), statik: false, layer: 0 });
    let (exit_pc, clear_pc) = if plan.early_exit {
        prog.push(Ph { kind: "exit", unit: "ex".into(), statik: false, layer: 0 });
        prog.push(Ph { kind: "clear", unit: "clr".into(), statik: false, layer: 0 });
        (out_pc + 1, out_pc + 2)
    } else {
        (0, 0)
    };
    let next = |i: usize, late: bool| -> usize {
        let mut j = i + 1;
        while j < out_pc && late && prog[j].statik {
            j += 1;
        }
        j
    };
    let start_late = next(0, true).min(out_pc);
    let start_late = if inp.per_step { 0 } else { start_late };
    // Predecessors of each phase in the one-hot program: at step 0 every phase runs; later
    // static ones are skipped (and never run, so they are no late predecessor).
    let enter = |j: usize| -> String {
        let t0: Vec<usize> = (0..out_pc).filter(|&i| next(i, false) == j).collect();
        let lt: Vec<usize> = (0..out_pc).filter(|&i| !prog[i].statik && next(i, true) == j).collect();
        let ors = |v: Vec<usize>| v.iter().map(|i| format!("pc_oh[{i}]")).collect::<Vec<_>>().join(" | ");
        let mut terms = Vec::new();
        let both: Vec<usize> = t0.iter().copied().filter(|i| lt.contains(i)).collect();
        let t0_only: Vec<usize> = t0.iter().copied().filter(|i| !lt.contains(i)).collect();
        let lt_only: Vec<usize> = lt.iter().copied().filter(|i| !t0.contains(i)).collect();
        if !both.is_empty() {
            terms.push(ors(both));
        }
        if !t0_only.is_empty() {
            terms.push(format!("(!late & ({}))", ors(t0_only)));
        }
        if !lt_only.is_empty() {
            terms.push(format!("(late & ({}))", ors(lt_only)));
        }
        // After OUT at a step that is not the last: EXIT, or the first phase of the next step.
        let after_out = if plan.early_exit { exit_pc } else { start_late };
        if j == after_out {
            terms.push(format!("(pc_oh[{out_pc}] & !last)"));
        }
        if terms.is_empty() { "1'b0".into() } else { terms.join(" | ") }
    };
    let phases: Vec<PhaseView> = prog
        .iter()
        .enumerate()
        .map(|(i, p)| PhaseView { idx: i, kind: p.kind.into(), unit: p.unit.clone(), enter: enter(i) })
        .collect();
    let mask = |f: &dyn Fn(&Ph) -> bool| -> String {
        let bits: String = prog.iter().rev().map(|p| if p.kind == "upd" && f(p) { '1' } else { '0' }).collect();
        format!("{}'b{bits}", prog.len())
    };
    let lw = abits(plan.layers.len());
    let upd_mask = mask(&|_| true);
    let layer_masks = (0..lw).map(|b| mask(&|p: &Ph| (p.layer >> b) & 1 == 1)).collect();
    let out_k = plan.output.layer;
    let ol = &plan.layers[out_k];
    let out_w = if plan.output.spikes { ol.lanes } else { ol.lanes * ol.v_bits as usize };
    // The output rows: pipelined, two steps (the output unit streams one while the layer
    // writes the next), each half at its step's parity.
    let oraw = abits(ol.rows);
    let (out_depth, out_aw, out_wa, out_ra) = if pipelined {
        let depth = crate::hw::memory::two_steps(ol.rows);
        let rw = ugroups[out_k].sh.rw;
        debug_assert_eq!(rw, oraw, "a pipelined layer's datapath has its own row width");
        (depth, oraw + 1, format!("{{g{out_k}_t[0], g{out_k}_u_wrow}}"), "{gout_t[0], out_raddr}".into())
    } else {
        (ol.rows, oraw, format!("u_wrow[{}:0]", oraw - 1), "out_raddr".into())
    };
    let clear_rows = plan.layers.iter().map(|l| l.rows).max().unwrap_or(1);
    let header = vec![
        format!("model: {}", label(&plan.model)),
        format!("target: {} at {} MHz; T = {}", label(&plan.target), plan.clock_mhz, plan.timesteps),
        format!(
            "input: {:?} x {}-bit {}, {}",
            inp.shape,
            inp.bits,
            if inp.signed { "signed" } else { "unsigned" },
            if inp.per_step { "one input per step" } else { "once per inference" }
        ),
        format!(
            "output: layer '{}', {} rows of {} bits per step ({})",
            label(&ol.name),
            ol.rows,
            out_w,
            if plan.output.spikes { "spike masks" } else { "membrane values" }
        ),
    ];
    Ok(TopView {
        module,
        u_lat: crate::hw::schedule::UPD_TAIL,
        uyw: abits(plan.layers.iter().map(|l| l.shape[1]).max().unwrap_or(1)),
        uxw: abits(plan.layers.iter().map(|l| l.shape[2]).max().unwrap_or(1)),
        header,
        in_w,
        n_in: inp.numel(),
        in_hh,
        in_ww,
        icw,
        iyw,
        ixw,
        iew: icw + iyw + ixw + in_w,
        iaw: abits(inp.numel()),
        has_in_events,
        follow: layers.iter().any(|l| l.projs.iter().any(|p| p.follow)),
        in_logic: logic_of(plan, "input.events"),
        per_step: inp.per_step,
        t_max: plan.timesteps,
        tw: abits(plan.timesteps + 1),
        layers,
        out_w,
        out_rows: ol.rows,
        early_exit: plan.early_exit,
        n_out: ol.neurons(),
        cnt_w: abits(plan.timesteps + 1),
        upd_mask,
        layer_masks,
        phases,
        start_late,
        out_pc,
        exit_pc,
        clear_pc,
        clear_rows,
        // Wide enough to hold `rows` itself: the clear compares the row counter against it.
        clear_w: abits(clear_rows + 1),
        roms,
        wl_mw: abits(spram.len()),
        spram,
        wl_nibbles,
        wl_ww,
        wl_cw,
        leak_bits: plan.rules.leak_bits(),
        out_spikes: plan.output.spikes,
        any_epoch: banks.iter().any(|b| b.epoch),
        hold_brams: plan.device_block_rams > 0 && plan.block_rams() <= plan.device_block_rams,
        banks,
        evbanks,
        lw,
        reset: match plan.reset {
            ResetMode::Zero => 0,
            ResetMode::Subtract => 1,
            ResetMode::SubtractUndecayed => 2,
        },
        fire_eq: plan.fire_on_equal,
        pipe: pipelined,
        out_depth,
        out_aw,
        out_wa,
        out_ra,
        ugroups,
        units,
        pproducers,
        plists,
    })
}

fn layer_view(
    plan: &Plan,
    k: usize,
    l: &Layer,
    namer: &mut Namer,
    roms: &mut Vec<(String, String)>,
) -> Result<LayerView, EmitError> {
    let ident = namer.name(&l.name);
    let lanes = l.lanes;
    let vw = l.v_bits as usize;
    let yw = (l.y_bits as usize).max(1);
    let sw = (l.s_bits as usize).max(1);
    let pr = &l.params;
    let pw = plan.rules.leak_bits() as usize + 1;
    let (leak, leak_k) = leak_code(&l.leak);
    let (sleak, sleak_k) = l.syn_leak.as_ref().map_or((1, 1), leak_code);
    // Parameters: ROM slices for per-neuron values, constants otherwise.
    let beta_vals: Vec<i64> = match &l.leak {
        Leak::Mul { b } => b.clone(),
        _ => vec![0],
    };
    let syn_vals: Vec<i64> = match &l.syn_leak {
        Some(Leak::Mul { b }) => b.clone(),
        _ => vec![0],
    };
    let specs: Vec<(&str, &Vec<i64>, usize)> = vec![
        ("thr", &pr.thr, vw),
        ("bias", &pr.bias, vw),
        ("bias_late", &pr.bias_late, vw),
        ("vreset", &pr.vreset, vw),
        ("syn_bias", &pr.syn_bias, yw),
        ("syn_bias_late", &pr.syn_bias_late, yw),
        ("beta_b", &beta_vals, pw),
        ("syn_b", &syn_vals, pw),
    ];
    let mut params = vec![];
    let mut lo = 0;
    for (name, vals, w) in &specs {
        if vals.len() > 1 {
            params.push((name.to_string(), ParamView { rom: true, lo, width: *w, konst: String::new() }));
            lo += w;
        } else {
            params.push((name.to_string(), ParamView { rom: false, lo: 0, width: *w, konst: lit(vals[0], *w) }));
        }
    }
    let lane_bits = lo;
    debug_assert_eq!(lane_bits, param_lane_bits(plan, k), "param ROM layout matches the memory map");
    let pos = l.positions();
    let [_, h, w] = l.shape;
    let prom = if lane_bits > 0 {
        let file = format!("{ident}_params.hex");
        let mut text = String::new();
        // One word per lane group when the parameters are per channel, else one per row.
        let per_ch = l.params_per_channel();
        for row in 0..l.param_depth() {
            let mut word = Word::new(lane_bits * lanes);
            let (cgi, pp) = if per_ch { (row, 0) } else { (row / pos, row % pos) };
            for lane in 0..lanes {
                let Some(c) = l.channel_of(cgi, lane) else { continue };
                let n = c * pos + pp;
                for (name, vals, wd) in &specs {
                    if vals.len() > 1 {
                        let pv = &params.iter().find(|(nm, _)| nm == name).expect("param").1;
                        word.put(lane * lane_bits + pv.lo, *wd, vals[n]);
                    }
                }
            }
            word.hex_line(&mut text);
        }
        roms.push((file.clone(), text));
        Some((file, lane_bits, logic_of(plan, &format!("{}.params", l.name))))
    } else {
        None
    };
    let (ecw, eyw, exw) = (abits(l.shape[0]), abits(h), abits(w));
    let ew = event_width(l.shape, lanes);
    debug_assert_eq!(ew, ecw + eyw + exw + lanes);
    let mut projs = vec![];
    for (j, p) in l.projections.iter().enumerate() {
        projs.push(proj_view(plan, k, j, l, p, &ident, roms)?);
    }
    Ok(LayerView {
        k,
        name: label(&l.name),
        ident: ident.clone(),
        pre: format!("l{k}"),
        lanes,
        rows: l.rows,
        raw: abits(l.rows),
        vw,
        sw,
        yw,
        has_s: l.s_bits > 0,
        cuba: l.kind.cuba(),
        spiking: l.spiking(),
        sat: l.saturate,
        leak,
        leak_k,
        sleak,
        sleak_k,
        params,
        has_prom: prom.is_some(),
        prom_depth: l.param_depth(),
        prom_aw: abits(l.param_depth()),
        prom_by_cgi: l.params_per_channel(),
        prom_file: prom.as_ref().map(|p| p.0.clone()).unwrap_or_default(),
        prom_bits: prom.as_ref().map_or(0, |p| p.1),
        prom_logic: prom.as_ref().is_some_and(|p| p.2),
        gc: l.group_size,
        ncg: l.ncg,
        pos,
        h,
        w,
        ecw,
        eyw,
        exw,
        ew,
        is_out: k == plan.output.layer,
        out_logic: logic_of(plan, &format!("{}.out", l.name)),
        projs,
        x_sig: String::new(),
        s_sig: String::new(),
        y_sig: String::new(),
        x_lw: vw,
        s_lw: sw,
        y_lw: yw,
        gp: String::new(),
        gk: k,
        glw: 1,
        gvw: vw,
    })
}

/// Constant as an unsigned `aw`-bit literal.
fn cw(aw: usize, v: usize) -> String {
    format!("{aw}'d{v}")
}

/// Pooling window candidate code over source coordinates plus padding `u` (expressions, per
/// axis) with candidate counters `ky`, `kx`; declares `<pre>_<tag>y`, `<pre>_<tag>x` and
/// `<pre>_<tag>ok`. With `top = u >> log2 s` and `rem = u mod s`, candidate `kc` is window
/// `top - kc`, valid when `kc <= top`, `top - kc < out` and `rem + kc * s < k`: one subtract and
/// compares that do not chain.
fn pool_lines(
    pre: &str,
    tag: &str,
    g: &PoolGeom,
    u: (&str, &str),
    cand: (&str, &str),
    aw: usize,
    lines: &mut Vec<LineView>,
) {
    let c32 = |v: usize| cw(aw, v);
    for (d, (uu, kc)) in [(u.0, cand.0), (u.1, cand.1)].into_iter().enumerate() {
        let ax = if d == 0 { "y" } else { "x" };
        let top = format!("{pre}_{tag}t{ax}");
        line(lines, top.clone(), aw, format!("({uu}) >> {}", log2(g.s[d])));
        line(
            lines,
            format!("{pre}_{tag}ok{ax}"),
            1,
            format!(
                "({kc} <= {top}) && ({top} < {kc} + {}) && ((({uu}) & {}) + ({kc} << {}) < {})",
                c32(g.out[d]),
                c32(g.s[d] - 1),
                log2(g.s[d]),
                c32(g.k[d])
            ),
        );
        line(lines, format!("{pre}_{tag}{ax}"), aw, format!("{top} - {kc}"));
    }
    line(lines, format!("{pre}_{tag}ok"), 1, format!("{pre}_{tag}oky && {pre}_{tag}okx"));
}

fn bits_for_count(max: usize) -> usize {
    abits(max.max(2))
}

#[allow(clippy::too_many_lines)]
fn proj_view(
    plan: &Plan,
    k: usize,
    j: usize,
    l: &Layer,
    p: &Projection,
    ident: &str,
    roms: &mut Vec<(String, String)>,
) -> Result<ProjView, EmitError> {
    let pre = format!("l{k}p{j}");
    let lanes = l.lanes;
    let all = format!("{{{lanes}{{1'b1}}}}");
    let zero = format!("{{{lanes}{{1'b0}}}}");
    let lastmask = mask_lit(lanes, l.group_size - (l.ncg - 1) * lanes);
    // Source entry layout, MSB first: c, y, x, then the lane mask or the value.
    let (src, src_input, src_maskw, s_shape, tailw, val_signed, valw) = match p.source {
        Source::Input => (
            "inp".to_string(),
            true,
            0,
            plan.input.shape,
            plan.input.bits as usize,
            plan.input.signed,
            plan.input.bits as usize,
        ),
        Source::Layer(s) => {
            let sl = &plan.layers[s];
            (format!("l{s}"), false, sl.lanes, sl.shape, sl.lanes, false, 1)
        }
    };
    let (cw_, yw, xw) = (abits(s_shape[0]), abits(s_shape[1]), abits(s_shape[2]));
    // Positions within the entry without its lane mask (sf_events strips the mask).
    let x_lo = if src_input { tailw } else { 0 };
    let x_hi = x_lo + xw - 1;
    let y_lo = x_hi + 1;
    let y_hi = y_lo + yw - 1;
    let c_lo = y_hi + 1;
    let c_hi = c_lo + cw_ - 1;
    let src_ew = c_hi + 1 + src_maskw;
    let src_aw = match p.source {
        Source::Input => abits(plan.input.numel()),
        Source::Layer(s) => abits(plan.layers[s].rows),
    };
    let src_liw = abits(src_maskw.max(1));
    // Pipelined: this unit reads its own copy of the source's list, the half of the step it
    // reads (its own step, the one before through a recurrent edge).
    // Its count is registered from the half of the step the unit is in next cycle: a list is
    // complete two cycles before a phase reading it can go (schedule::Pipe).
    // A direct input's reader follows the load: it takes the load's count itself (ProjView::follow).
    let follow = plan.schedule == Schedule::Pipelined && src_input && !plan.input.per_step;
    let (ev_count, ev_rdata, ev_count_nx) = if follow {
        ("inp_ev_cnt".to_string(), format!("{}_rdata", pipe_copy(p.source, k)), String::new())
    } else if plan.schedule == Schedule::Pipelined {
        let par = if p.delayed { format!("!g{k}_t0n") } else { format!("g{k}_t0n") };
        let count = format!("({par} ? {src}_ev_c1 : {src}_ev_c0)");
        (format!("{pre}_evn"), format!("{}_rdata", pipe_copy(p.source, k)), count)
    } else {
        (format!("{src}_ev_cnt"), format!("{src}_ev_rdata"), String::new())
    };
    let wdepth = crate::hw::memory::weight_depth(plan, k, j);
    // Address arithmetic width: every intermediate (coordinates plus padding and taps, rows,
    // weight addresses, flattened source indices) is below `bound`, so nothing wraps.
    let reach =
        match &p.kind {
            ProjKind::Conv { kh, kw, pad, dil, stride, .. } => {
                2 * pad[0].max(pad[1]) + (kh * dil[0]).max(kw * dil[1]) + stride[0].max(stride[1])
            }
            ProjKind::Pool(g) => 2 * g.p[0].max(g.p[1]) + g.k[0].max(g.k[1]) + 2 * g.s[0].max(g.s[1]),
            _ => 0,
        } + p.pre_pool.as_ref().map_or(0, |g| 2 * g.p[0].max(g.p[1]) + g.k[0].max(g.k[1]) + 2 * g.s[0].max(g.s[1]));
    let bound = [l.rows, wdepth, s_shape.iter().product(), l.neurons(), s_shape[1].max(s_shape[2]) + reach]
        .into_iter()
        .max()
        .unwrap_or(1);
    let aw = (abits(bound + 1) + 1).max(cw_.max(yw).max(xw).max(src_liw) + 1);
    let c32 = |v: usize| cw(aw, v);
    let mut counters: Vec<CounterView> = vec![];
    let mut tables: Vec<TableView> = vec![];
    let mut lines = vec![];
    let cnt = |name: String, max: usize, v: &mut Vec<CounterView>| -> String {
        v.push(CounterView { name: name.clone(), max, w: bits_for_count(max), nm1: None });
        format!("{name}w")
    };
    let (c, y, x) = (format!("{pre}_c"), format!("{pre}_y"), format!("{pre}_x"));
    // Sums of an event's coordinates and a padding, registered with the event (stage 1).
    let mut evregs = vec![];
    let ev = |hi: usize, lo: usize, w: usize| format!("{{{}'d0, {pre}_ev_pos[{hi}:{lo}]}}", aw - w);
    let ev_sum = |name: &str, pad: [usize; 2], evregs: &mut Vec<LineView>| -> (String, String) {
        let (ny, nx) = (format!("{pre}_{name}y"), format!("{pre}_{name}x"));
        line(evregs, ny.clone(), aw, format!("{} + {}", ev(y_hi, y_lo, yw), c32(pad[0])));
        line(evregs, nx.clone(), aw, format!("{} + {}", ev(x_hi, x_lo, xw), c32(pad[1])));
        (ny, nx)
    };
    // Pre-pooling candidates.
    let (py, px, pok) = if let Some(g) = &p.pre_pool {
        let cand = g.candidates();
        let ky = cnt(format!("{pre}_pa"), cand[0], &mut counters);
        let kx = cnt(format!("{pre}_pb"), cand[1], &mut counters);
        let (uy, ux) = ev_sum("pu", g.p, &mut evregs);
        pool_lines(&pre, "p", g, (&uy, &ux), (&ky, &kx), aw, &mut lines);
        (format!("{pre}_py"), format!("{pre}_px"), format!("{pre}_pok"))
    } else {
        (y.clone(), x.clone(), "1'b1".to_string())
    };
    let (ph, pw) = match &p.pre_pool {
        Some(g) => (g.out[0], g.out[1]),
        None => (s_shape[1], s_shape[2]),
    };
    let pos = l.positions();
    let (row, waddr, mask);
    match &p.kind {
        ProjKind::Dense { .. } => {
            let b = cnt(format!("{pre}_b"), l.ncg, &mut counters);
            line(&mut lines, format!("{pre}_j"), aw, format!("({c} * {} + {py}) * {} + {px}", c32(ph), c32(pw)));
            waddr = format!("{pre}_j * {} + {b}", c32(l.ncg));
            row = b.clone();
            mask = format!("{pok} ? (({b} == {}) ? {lastmask} : {all}) : {zero}", c32(l.ncg - 1));
        }
        ProjKind::Conv { ci, kh, kw, stride, pad, dil, groups, .. } => {
            let taps = crate::hw::taps::conv_taps(l, p).expect("a convolution");
            let (oh, ow) = (l.shape[1], l.shape[2]);
            // Per axis: the tap counter, and the tap it presents. A clipped axis
            // (hw::taps) counts as many taps as reach a target from the event's coordinate,
            // from the first one (k0, a table of the coordinate) by the axis' step; `a` then
            // holds the source coordinate + padding - k0 * dilation (registered with the
            // event), so the compares below see the counter's own offset.
            let mut axis = |d: usize, ax: &str, k: usize, evregs: &mut Vec<LineView>, lines: &mut Vec<LineView>| {
                let t = &taps.axes[d];
                let (hi, lo) = if d == 0 { (y_hi, y_lo) } else { (x_hi, x_lo) };
                let (nmin, nmax) = t.range;
                if !t.clipped {
                    let kk = cnt(format!("{pre}_k{ax}"), k, &mut counters);
                    return (kk.clone(), kk, None);
                }
                let k0 = format!("{pre}_tk0{ax}");
                let k0w = abits(k);
                let pos = format!("{pre}_ev_pos");
                tables.push(TableView { name: k0.clone(), w: k0w, pos: pos.clone(), hi, lo, pattern: t.k0.clone() });
                let w = bits_for_count(nmax);
                let nm1 = (nmin != nmax).then(|| {
                    let name = format!("{pre}_tn{ax}");
                    let minus1 = crate::hw::taps::Pattern {
                        period: t.n.period,
                        base: t.n.base.iter().map(|&n| n.saturating_sub(1)).collect(),
                        exceptions: t.n.exceptions.iter().map(|&(v, n)| (v, n.saturating_sub(1))).collect(),
                    };
                    tables.push(TableView { name: name.clone(), w, pos, hi, lo, pattern: minus1 });
                    name
                });
                let name = format!("{pre}_k{ax}");
                counters.push(CounterView { name: name.clone(), max: nmax, w, nm1 });
                // The first tap and the tap are narrow (below k); expressions they join are
                // evaluated at the address width.
                let k0r = format!("{pre}_k0{ax}");
                line(evregs, k0r.clone(), k0w, k0.clone());
                let tap = format!("{pre}_tap{ax}");
                let ctr = if k0w > w { format!("{{{}'d0, {name}_d}}", k0w - w) } else { format!("{name}_d") };
                line(lines, tap.clone(), k0w, format!("{k0r} + {ctr} * {}", cw(k0w, t.step)));
                let wide = |v: &str| format!("{{{}'d0, {v}}}", aw - k0w);
                // The first tap as registered with the event, and as its table reads it.
                (wide(&tap), format!("{name}w * {}", cw(aw, t.step)), Some((wide(&k0r), wide(&k0))))
            };
            let (tapy, offy, k0y) = axis(0, "y", *kh, &mut evregs, &mut lines);
            let (tapx, offx, k0x) = axis(1, "x", *kw, &mut evregs, &mut lines);
            let cb = cnt(format!("{pre}_cb"), l.ncg, &mut counters);
            // a = source coordinate + padding - first tap's offset (with the event, unless
            // pre-pooled), d = the presented tap's offset from the first; target n = a - d is
            // valid when a >= d, a = d (mod stride) and a < out * stride + d: compares that do
            // not wait for the subtraction.
            let minus =
                |k0: Option<&String>, dl: usize| k0.map_or(String::new(), |k0| format!(" - {k0} * {}", c32(dl)));
            let (ay, ax_) = if p.pre_pool.is_some() {
                let (ky0, kx0) = (k0y.as_ref().map(|k| &k.0), k0x.as_ref().map(|k| &k.0));
                line(&mut lines, format!("{pre}_ay"), aw, format!("{py} + {}{}", c32(pad[0]), minus(ky0, dil[0])));
                line(&mut lines, format!("{pre}_ax"), aw, format!("{px} + {}{}", c32(pad[1]), minus(kx0, dil[1])));
                (format!("{pre}_ay"), format!("{pre}_ax"))
            } else {
                let (ny, nx) = (format!("{pre}_ay"), format!("{pre}_ax"));
                // Registered with the event: its first tap is read from the table directly.
                let (ky0, kx0) = (k0y.as_ref().map(|k| &k.1), k0x.as_ref().map(|k| &k.1));
                line(
                    &mut evregs,
                    ny.clone(),
                    aw,
                    format!("{} + {}{}", ev(y_hi, y_lo, yw), c32(pad[0]), minus(ky0, dil[0])),
                );
                line(
                    &mut evregs,
                    nx.clone(),
                    aw,
                    format!("{} + {}{}", ev(x_hi, x_lo, xw), c32(pad[1]), minus(kx0, dil[1])),
                );
                (ny, nx)
            };
            for (ax, (a, (off, (st, (dl, o))))) in
                [("y", (&ay, (&offy, (stride[0], (dil[0], oh))))), ("x", (&ax_, (&offx, (stride[1], (dil[1], ow)))))]
            {
                line(&mut lines, format!("{pre}_d{ax}"), aw, format!("({off}) * {}", c32(dl)));
                line(&mut lines, format!("{pre}_n{ax}"), aw, format!("{a} - {pre}_d{ax}"));
                line(
                    &mut lines,
                    format!("{pre}_v{ax}"),
                    1,
                    format!(
                        "({a} >= {pre}_d{ax}) && (({a} & {m}) == ({pre}_d{ax} & {m})) && ({a} < {pre}_d{ax} + {})",
                        c32(o * st),
                        m = c32(st - 1),
                    ),
                );
            }
            let ci_g = ci / groups;
            // limits::check refused groups of a non-power-of-two size.
            let grp = if *groups > 1 { format!("({c} >> {})", log2(ci_g)) } else { cw(aw, 0) };
            // The event's parts of both addresses are products of its channel (stage 1); the
            // beat's parts are small counters.
            line(&mut lines, format!("{pre}_wc"), aw, format!("{c} * {}", c32(kh * kw * l.ncg)));
            line(&mut lines, format!("{pre}_rg"), aw, format!("{grp} * {}", c32(l.ncg * pos)));
            waddr = format!("{pre}_wc + ({tapy} * {} + {tapx}) * {} + {cb}", c32(*kw), c32(l.ncg));
            row = format!(
                "{pre}_rg + {cb} * {} + ({pre}_ny >> {}) * {} + ({pre}_nx >> {})",
                c32(pos),
                log2(stride[0]),
                c32(ow),
                log2(stride[1])
            );
            mask = format!(
                "({pok} && {pre}_vy && {pre}_vx) ? (({cb} == {}) ? {lastmask} : {all}) : {zero}",
                c32(l.ncg - 1)
            );
        }
        ProjKind::Pool(g) => {
            let cand = g.candidates();
            let ky = cnt(format!("{pre}_wa"), cand[0], &mut counters);
            let kx = cnt(format!("{pre}_wb"), cand[1], &mut counters);
            let (uy, ux) = if p.pre_pool.is_some() {
                (format!("{py} + {}", c32(g.p[0])), format!("{px} + {}", c32(g.p[1])))
            } else {
                ev_sum("qu", g.p, &mut evregs)
            };
            pool_lines(&pre, "q", g, (&uy, &ux), (&ky, &kx), aw, &mut lines);
            line(&mut lines, format!("{pre}_lane"), aw, format!("{c} & {}", c32(lanes - 1)));
            row = format!("({c} >> {}) * {} + {pre}_qy * {} + {pre}_qx", log2(lanes), c32(pos), c32(l.shape[2]));
            waddr = row.clone();
            mask = format!("{pre}_qok ? {pre}_onehot : {zero}");
            line(
                &mut lines,
                format!("{pre}_onehot"),
                lanes,
                format!("{{{{{}{{1'b0}}}}, 1'b1}} << {pre}_lane", lanes - 1),
            );
        }
        ProjKind::OneToOne => {
            if p.src_shape[0] == l.shape[0] {
                // Same channels: the position within a channel is the source's (a reshape of H, W keeps it).
                line(&mut lines, format!("{pre}_lane"), aw, format!("{c} & {}", c32(lanes - 1)));
                row = format!("({c} >> {}) * {} + {y} * {} + {x}", log2(lanes), c32(pos), c32(s_shape[2]));
            } else {
                line(
                    &mut lines,
                    format!("{pre}_j"),
                    aw,
                    format!("({c} * {} + {y}) * {} + {x}", c32(s_shape[1]), c32(s_shape[2])),
                );
                line(&mut lines, format!("{pre}_lane"), aw, format!("{pre}_j & {}", c32(lanes - 1)));
                row = format!("{pre}_j >> {}", log2(lanes));
            }
            waddr = row.clone();
            line(
                &mut lines,
                format!("{pre}_onehot"),
                lanes,
                format!("{{{{{}{{1'b0}}}}, 1'b1}} << {pre}_lane", lanes - 1),
            );
            mask = format!("{pre}_onehot");
        }
    }
    // Per-target weights are addressed by the target row, or by its lane group when they are
    // per channel (then the ROM holds one word per lane group).
    let per_ch = matches!(p.kind, ProjKind::Pool(_) | ProjKind::OneToOne) && l.weights_per_channel(p);
    let wrom_addr = match p.kind {
        ProjKind::Dense { .. } | ProjKind::Conv { .. } => waddr.clone(),
        _ if per_ch => format!("{c} >> {}", log2(lanes)),
        _ => row.clone(),
    };
    // Stage 1b: every stage-1 signal the addresses use is registered once more.
    let mut regs = vec![
        LineView { name: c.clone(), w: aw, expr: String::new() },
        LineView { name: y.clone(), w: aw, expr: String::new() },
        LineView { name: x.clone(), w: aw, expr: String::new() },
        LineView { name: format!("{pre}_val"), w: valw, expr: String::new() },
    ];
    regs.extend(counters.iter().map(|k| LineView { name: format!("{}w", k.name), w: aw, expr: String::new() }));
    let names: Vec<&str> = regs.iter().chain(&lines).map(|r| r.name.as_str()).collect();
    let (row, waddr, mask, wrom_addr) =
        (stage_b(&row, &names), stage_b(&waddr, &names), stage_b(&mask, &names), stage_b(&wrom_addr, &names));
    // Weights: a ROM image, or one constant.
    let wb = p.weights.bits as usize;
    let wrom = if wdepth > 0 {
        let file = format!("{ident}_w{j}.hex");
        let mut text = String::new();
        let put = |word: &mut Word, lane: usize, v: i64| {
            if wb == 1 {
                word.put(lane, 1, i64::from(v > 0));
            } else {
                word.put(lane * wb, wb, v);
            }
        };
        match &p.kind {
            ProjKind::Dense { cols } => {
                for jj in 0..*cols {
                    for b in 0..l.ncg {
                        let mut word = Word::new(lanes * wb);
                        for lane in 0..lanes {
                            let i = b * lanes + lane;
                            if i < l.shape[0] {
                                put(&mut word, lane, p.weights.values[i * cols + jj]);
                            }
                        }
                        word.hex_line(&mut text);
                    }
                }
            }
            ProjKind::Conv { ci, kh, kw, groups, .. } => {
                let ci_g = ci / groups;
                let co_g = l.shape[0] / groups;
                for cc in 0..*ci {
                    let grp = cc / ci_g;
                    for ky in 0..*kh {
                        for kx in 0..*kw {
                            for cb in 0..l.ncg {
                                let mut word = Word::new(lanes * wb);
                                for lane in 0..lanes {
                                    let local = cb * lanes + lane;
                                    if local < co_g {
                                        let co = grp * co_g + local;
                                        put(
                                            &mut word,
                                            lane,
                                            p.weights.values[((co * ci_g + cc % ci_g) * kh + ky) * kw + kx],
                                        );
                                    }
                                }
                                word.hex_line(&mut text);
                            }
                        }
                    }
                }
            }
            ProjKind::Pool(_) | ProjKind::OneToOne => {
                for r in 0..wdepth {
                    let (cgi, pp) = if per_ch { (r, 0) } else { (r / pos, r % pos) };
                    let mut word = Word::new(lanes * wb);
                    for lane in 0..lanes {
                        if let Some(ch) = l.channel_of(cgi, lane) {
                            put(&mut word, lane, p.weights.at(ch * pos + pp));
                        }
                    }
                    word.hex_line(&mut text);
                }
            }
        }
        roms.push((file.clone(), text));
        Some((file, wdepth, abits(wdepth), logic_of(plan, &format!("{}.w{j}", l.name))))
    } else {
        None
    };
    let wconst = if wb == 1 { format!("1'b{}", u8::from(p.weights.at(0) > 0)) } else { lit(p.weights.at(0), wb) };
    let wname = format!("{}.w{j}", l.name);
    let spram = match (&wrom, plan.memories.iter().find(|m| m.name == wname).map(|m| &m.map)) {
        (Some((file, _, _, _)), Some(MemMap::LargeRam { layout: lay, .. })) => {
            if lay.block_width != 16 || lay.block_depth != 16384 {
                return Err(EmitError(format!(
                    "{wname}: large RAM of {} x {} bits: only iCE40 SPRAM (16384 x 16) is emitted",
                    lay.block_depth, lay.block_width
                )));
            }
            Some(SpramView {
                idx: 0,
                file: file.clone(),
                width: lanes * wb,
                slot: lay.slot,
                pw_log: log2(lay.per_word),
                cols: lay.cols,
                rows: lay.rows,
                words: lay.words,
                rw: abits(lay.rows),
                cw: abits(lay.cols),
                ww: 14 + abits(lay.rows),
            })
        }
        _ => None,
    };
    let (target, tw) = match p.target {
        AccTarget::Static => ("s", l.s_bits as usize),
        AccTarget::Dynamic if l.kind.cuba() => ("y", l.y_bits as usize),
        AccTarget::Dynamic => ("x", l.v_bits as usize),
    };
    let src_name = match p.source {
        Source::Input => plan.input.node.clone(),
        Source::Layer(s) => plan.layers[s].name.clone(),
    };
    let (beats_min, beats_max) = crate::hw::schedule::beats_range(l, p);
    Ok(ProjView {
        pre: pre.clone(),
        comment: format!("{} -> {} ({})", label(&src_name), label(&l.name), path_label(&p.path)),
        src,
        src_input,
        src_maskw,
        src_ew,
        src_aw,
        src_liw,
        c_hi,
        c_lo,
        y_hi,
        y_lo,
        x_hi,
        x_lo,
        aw,
        c_pad: aw - cw_,
        y_pad: aw - yw,
        x_pad: aw - xw,
        valw,
        val_signed,
        val_hi: tailw.saturating_sub(1),
        target: target.into(),
        tw,
        wb,
        shift: p.shift,
        has_wrom: wrom.is_some(),
        wfile: wrom.as_ref().map(|w| w.0.clone()).unwrap_or_default(),
        wdepth: wrom.as_ref().map_or(0, |w| w.1),
        waw: wrom.as_ref().map_or(1, |w| w.2),
        wlogic: wrom.as_ref().is_some_and(|w| w.3),
        wrom_addr,
        wconst,
        spram,
        one_now: counters
            .iter()
            .filter_map(|c| c.nm1.as_ref().map(|n| format!("({n} == {}'d0)", c.w)))
            .collect::<Vec<_>>()
            .join(" && "),
        counters,
        tables,
        beats_min,
        beats_max,
        evregs,
        lines,
        regs,
        row,
        waddr,
        mask,
        old: String::new(),
        ev_count,
        ev_rdata,
        ev_count_nx,
        follow,
    })
}

impl LayerView {
    /// `rows - k`, floored at zero (a compare that a short layer never reaches).
    pub fn rows_minus(&self, k: usize) -> usize {
        self.rows.saturating_sub(k)
    }
    /// The parameter named `n`.
    pub fn param(&self, n: &str) -> &ParamView {
        &self.params.iter().find(|(name, _)| name == n).expect("known parameter").1
    }
}

impl TableView {
    /// The table as a chain of conditionals: the exceptions (each value under the OR of its
    /// coordinates' compares), then the residues' values on the index's low bits, the
    /// commonest last. (A chain, not a `case`: Yosys would make a case a ROM and pull the
    /// event register into its address, behind the reader's pop.)
    pub fn expr(&self) -> String {
        let w = self.w;
        // `(c1 || c2) ? w'dv : ... : tail`, one arm per value.
        let chain = |pairs: &[(String, usize)], tail: String| -> String {
            let mut values: Vec<usize> = pairs.iter().map(|p| p.1).collect();
            values.sort_unstable();
            values.dedup();
            let mut out = String::new();
            for v in values {
                let at: Vec<&str> = pairs.iter().filter(|p| p.1 == v).map(|p| p.0.as_str()).collect();
                out += &format!("({}) ? {w}'d{v} : ", at.join(" || "));
            }
            out + &tail
        };
        let p = &self.pattern;
        let rb = p.period.trailing_zeros() as usize;
        let count = |v: usize| p.base.iter().filter(|&&b| b == v).count();
        let common = p.base.iter().copied().max_by_key(|&v| (count(v), std::cmp::Reverse(v))).unwrap_or(0);
        let residues: Vec<(String, usize)> = p
            .base
            .iter()
            .enumerate()
            .filter(|&(_, &v)| v != common)
            .map(|(r, &v)| (format!("({}[{}:{}] == {rb}'d{r})", self.pos, self.lo + rb - 1, self.lo), v))
            .collect();
        let base = chain(&residues, format!("{w}'d{common}"));
        let exceptions: Vec<(String, usize)> = p
            .exceptions
            .iter()
            .map(|&(c, v)| (format!("({}[{}:{}] == {}'d{c})", self.pos, self.hi, self.lo, self.hi - self.lo + 1), v))
            .collect();
        if exceptions.is_empty() { base } else { chain(&exceptions, format!("({base})")) }
    }
}

impl ProjView {
    /// Counter advance as one Verilog statement: the innermost counter counts every beat and
    /// carries into the next outer one when it wraps (at this event's count when it has one).
    pub fn advance(&self) -> String {
        let mut acc = String::new();
        for c in &self.counters {
            let n = &c.name;
            acc =
                format!("if ({}) begin {n} <= {w}'d0; {acc} end else {n} <= {n} + {w}'d1;", Self::at_last(c), w = c.w,);
        }
        acc
    }

    /// `c` at its last value for this event.
    fn at_last(c: &CounterView) -> String {
        match &c.nm1 {
            Some(nm1) => format!("{} == {nm1}", c.name),
            None => format!("{} == {}'d{}", c.name, c.w, c.max - 1),
        }
    }

    /// 1 when an event can last a single beat: events may then end on consecutive cycles, so
    /// the event reader keeps a third queue place (sf_events ONEBEAT); 0 when every event
    /// lasts two beats or more and the last beat is a registered flag (`penultimate`).
    pub fn one_beat(&self) -> usize {
        usize::from(self.beats_min < 2)
    }

    /// True on the beat before an event's last (only used when it can have two beats or
    /// more): the innermost counter that moves in this event at its last value but one, every
    /// other counter at its last value.
    pub fn penultimate(&self) -> String {
        if self.counters.iter().all(|c| c.nm1.is_none()) {
            let moving: Vec<&CounterView> = self.counters.iter().filter(|c| c.max >= 2).collect();
            let n = moving.len();
            return moving
                .iter()
                .enumerate()
                .map(|(i, c)| format!("({} == {}'d{})", c.name, c.w, c.max - if i + 1 == n { 2 } else { 1 }))
                .collect::<Vec<_>>()
                .join(" && ");
        }
        // Counts that depend on the event: one term per counter that may be the innermost
        // moving one (every counter inside it has one value in this event).
        let cs = &self.counters;
        let mut terms = vec![];
        'term: for (i, c) in cs.iter().enumerate() {
            let mut clauses = vec![match &c.nm1 {
                Some(nm1) => format!("({{1'b0, {}}} + {}'d1 == {{1'b0, {nm1}}})", c.name, c.w + 1),
                None if c.max >= 2 => format!("({} == {}'d{})", c.name, c.w, c.max - 2),
                None => continue,
            }];
            for o in &cs[..i] {
                if o.nm1.is_some() || o.max >= 2 {
                    clauses.push(format!("({})", Self::at_last(o)));
                }
            }
            for inner in &cs[i + 1..] {
                match &inner.nm1 {
                    Some(nm1) => clauses.push(format!("({nm1} == {}'d0)", inner.w)),
                    None if inner.max >= 2 => continue 'term,
                    None => {}
                }
            }
            terms.push(format!("({})", clauses.join(" && ")));
        }
        if terms.is_empty() { "1'b0".into() } else { format!("({})", terms.join(" || ")) }
    }
}

/// Widths of the shared update datapath (the largest of all layers).
#[derive(Clone)]
pub struct Shared {
    /// Lanes.
    pub ls: usize,
    /// Membrane width.
    pub vw: usize,
    /// Static accumulator width.
    pub sw: usize,
    /// Synaptic state width.
    pub yw: usize,
    /// Row address width.
    pub rw: usize,
    /// Leak multiplier bits (P + 1).
    pub pb: usize,
}

impl LayerView {
    /// `{lane LS-1, ..., lane 0}` with lane l = `f(l)` for l < lanes and `pad` beyond.
    fn lanes_concat(&self, ls: usize, pad: &str, f: impl Fn(usize) -> String) -> String {
        let parts: Vec<String> = (0..ls).rev().map(|l| if l < self.lanes { f(l) } else { pad.to_string() }).collect();
        format!("{{{}}}", parts.join(", "))
    }

    /// Sign-extends `w`-bit slice `[lo +: w]` of `sig` to `to` bits.
    fn sext(sig: &str, lo: usize, w: usize, to: usize) -> String {
        if to == w {
            format!("{sig}[{lo} +: {w}]")
        } else {
            format!("{{{{{}{{{sig}[{}]}}}}, {sig}[{lo} +: {w}]}}", to - w, lo + w - 1)
        }
    }

    /// The layer's X (or S, Y) read data, sign-extended to the shared widths, `ls` lanes.
    pub fn u_state(&self, which: &str, sh: &Shared) -> String {
        let (w, to, sig, lw) = match which {
            "s" => (self.sw, sh.sw, &self.s_sig, self.s_lw),
            "y" => (self.yw, sh.yw, &self.y_sig, self.y_lw),
            _ => (self.vw, sh.vw, &self.x_sig, self.x_lw),
        };
        let present = match which {
            "s" => self.has_s,
            "y" => self.cuba,
            _ => true,
        };
        let zero = format!("{to}'d0");
        if !present {
            return format!("{{{}{{{zero}}}}}", sh.ls);
        }
        self.lanes_concat(sh.ls, &zero, |l| Self::sext(sig, l * lw, w, to))
    }

    /// Parameter `n` for the shared lanes: a constant or ROM slices, sign-extended (beta_b and
    /// syn_b are unsigned multipliers and are zero-extended by width equality).
    pub fn u_param(&self, n: &str, sh: &Shared) -> String {
        let pbits = sh.pb;
        let p = self.param(n);
        let to = match n {
            "syn_bias" | "syn_bias_late" => sh.yw,
            "beta_b" | "syn_b" => pbits,
            _ => sh.vw,
        };
        let zero = format!("{to}'d0");
        if p.rom {
            let sig = format!("{}_prom", self.pre);
            let lb = self.prom_bits;
            self.lanes_concat(sh.ls, &zero, |l| Self::sext(&sig, l * lb + p.lo, p.width, to))
        } else {
            // Re-express the layer's constant at the shared width.
            let konst = sext_literal(&p.konst, p.width, to);
            format!("{{{}{{{konst}}}}}", sh.ls)
        }
    }

    /// The layer's saturation bound (V or Y, high or low) at the shared width.
    pub fn bound(&self, v: bool, hi: bool, sh: &Shared) -> String {
        let (w, to) = if v { (self.vw, sh.vw) } else { (self.yw, sh.yw) };
        let x = if hi { (1i64 << (w - 1)) - 1 } else { -(1i64 << (w - 1)) };
        lit(x, to)
    }

    /// The layer's lanes among the shared ones: `lanes` ones in the low bits.
    pub fn u_lanes(&self, sh: &Shared) -> String {
        mask_lit(sh.ls, self.lanes)
    }

    /// The last lane group's valid lanes, widened to the shared lanes.
    pub fn u_lastmask(&self, sh: &Shared) -> String {
        mask_lit(sh.ls, self.gc - (self.ncg - 1) * self.lanes)
    }

    /// The layer's datapath's result `sig` (`ls` lanes of `from` bits) truncated to this
    /// layer's lanes of `w`.
    pub fn u_trunc(&self, sig: &str, from: &usize, w: &usize) -> String {
        let gp = &self.gp;
        let parts: Vec<String> = (0..self.lanes).rev().map(|l| format!("{gp}{sig}[{} +: {w}]", l * from)).collect();
        format!("{{{}}}", parts.join(", "))
    }
}

/// A `w`-bit hex literal (`w'hNN`) re-expressed as a sign-extended `to`-bit literal.
fn sext_literal(lit_w: &str, w: usize, to: usize) -> String {
    let hex = lit_w.split("'h").nth(1).unwrap_or("0");
    let v = u64::from_str_radix(hex, 16).unwrap_or(0);
    let neg = w > 0 && w < 64 && (v >> (w - 1)) & 1 == 1;
    let val = if neg { (v as i64) - (1i64 << w) } else { v as i64 };
    lit(val, to)
}

/// One layer's place in a shared memory.
pub struct MemberView {
    /// Layer index.
    pub k: usize,
    /// Layer prefix `l<k>`.
    pub pre: String,
    /// First row of the layer in the memory (`aw`-bit literal).
    pub base: String,
    /// Update pass write data at the memory's width (X and Y).
    pub uw: String,
    /// Clear address.
    pub clr: String,
}

/// One accumulate unit writing a shared memory.
pub struct ClientView {
    /// Projection prefix.
    pub pre: String,
    /// Row address width of the target layer.
    pub raw: usize,
    /// Width of the unit's result (target lanes x target width).
    pub neww: usize,
    /// Memory read address from `<pre>_rrow`.
    pub raddr: String,
    /// Memory write address from `<pre>_wrow`.
    pub waddr: String,
    /// Memory write data from `<pre>_sum` (the unit's registered sums).
    pub wdata: String,
}

/// A state memory (X, S or Y) holding the rows of one or more layers, which never run at the
/// same time: the layers' rows follow each other; lanes are sign-extended to the widest.
pub struct BankView {
    /// Signal prefix.
    pub pre: String,
    /// `x`, `s` or `y`.
    pub kind: String,
    /// Member names, for the comment.
    pub comment: String,
    /// Word width (lanes x lane width).
    pub width: usize,
    /// Rows.
    pub rows: usize,
    /// Address width.
    pub aw: usize,
    /// In logic.
    pub logic: bool,
    /// Several layers.
    pub multi: bool,
    /// Rows carry an epoch bit: the early-exit clear flips the epoch instead of writing.
    pub epoch: bool,
    /// Update pass read and write addresses.
    pub uraddr: String,
    /// Update pass write address.
    pub uwaddr: String,
    /// Update pass write enable.
    pub uon: String,
    /// Layers.
    pub members: Vec<MemberView>,
    /// Accumulate units.
    pub clients: Vec<ClientView>,
    /// Prefix of the update datapath writing it (see [`LayerView::gp`]) and its layer index width.
    pub gp: String,
    /// See `gp`.
    pub glw: usize,
}

/// One layer's event list in a shared event memory.
pub struct EvMemberView {
    /// Layer prefix.
    pub pre: String,
    /// Row address width.
    pub raw: usize,
    /// Entry width.
    pub ew: usize,
    /// Lanes and entry field widths (c, y, x).
    pub lanes: usize,
    /// Entry c width.
    pub ecw: usize,
    /// Entry y width.
    pub eyw: usize,
    /// Entry x width.
    pub exw: usize,
    /// Write address from the layer's entry count.
    pub waddr: String,
    /// Write data at the memory's width.
    pub wdata: String,
}

/// An event list memory shared by one or more layers.
pub struct EvBankView {
    /// Signal prefix.
    pub pre: String,
    /// Member names, for the comment.
    pub comment: String,
    /// Word width.
    pub width: usize,
    /// Rows.
    pub rows: usize,
    /// Address width.
    pub aw: usize,
    /// In logic.
    pub logic: bool,
    /// Layers.
    pub members: Vec<EvMemberView>,
    /// Readers: (projection prefix, read address).
    pub readers: Vec<(String, String)>,
}

/// `sig` (`sw` bits) plus `base` as an `aw`-bit address.
fn bank_addr(base: usize, sig: &str, sw: usize, aw: usize) -> String {
    let s = if sw > aw {
        format!("{sig}[{}:0]", aw - 1)
    } else if sw < aw {
        format!("{{{}'d0, {sig}}}", aw - sw)
    } else {
        sig.to_string()
    };
    if base == 0 { s } else { format!("{aw}'d{base} + {s}") }
}

/// `{lane n-1, ..., lane 0}` of a bank word: lane l = `f(l)` below `lanes`, zero above.
fn bank_word(n: usize, lanes: usize, lw: usize, f: impl Fn(usize) -> String) -> String {
    let parts: Vec<String> = (0..n).rev().map(|l| if l < lanes { f(l) } else { format!("{lw}'d0") }).collect();
    format!("{{{}}}", parts.join(", "))
}

fn state_banks(plan: &Plan, layers: &mut [LayerView], lsh: &[Shared]) -> Vec<BankView> {
    let mut banks = vec![];
    for kind in ["x", "s", "y"] {
        for (gi, bank) in plan.banks.iter().filter(|b| b.kind == kind).enumerate() {
            let g = &bank.layers;
            // A bank's layers share one update datapath.
            let (sh, gp, glw) = (&lsh[g[0]], layers[g[0]].gp.clone(), layers[g[0]].glw);
            let pre = format!("{kind}b{gi}");
            let w_of = |l: &LayerView| match kind {
                "s" => l.sw,
                "y" => l.yw,
                _ => l.vw,
            };
            let lanes = g.iter().map(|&k| layers[k].lanes).max().unwrap_or(1);
            let lw = g.iter().map(|&k| w_of(&layers[k])).max().unwrap_or(1);
            let rows: usize = g.iter().map(|&k| layers[k].rows).sum();
            let aw = abits(rows);
            let multi = g.len() > 1;
            let logic = bank.map == MemMap::Registers;
            debug_assert_eq!((bank.depth, bank.width), (rows, lanes * lw));
            let mut members = vec![];
            let mut clients = vec![];
            let mut base = 0;
            for &k in g {
                let l = &mut layers[k];
                let w = w_of(l);
                let uw = match kind {
                    "y" => bank_word(lanes, l.lanes, lw, |i| LayerView::sext(&format!("{gp}u_ynm"), i * sh.yw, w, lw)),
                    "x" => bank_word(lanes, l.lanes, lw, |i| LayerView::sext(&format!("{gp}u_xnm"), i * sh.vw, w, lw)),
                    _ => String::new(),
                };
                members.push(MemberView {
                    k,
                    pre: l.pre.clone(),
                    base: format!("{aw}'d{base}"),
                    uw,
                    clr: bank_addr(base, &format!("clr_row_{k}"), l.raw, aw),
                });
                let sig = format!("{pre}_rdata");
                match kind {
                    "s" => (l.s_sig, l.s_lw) = (sig, lw),
                    "y" => (l.y_sig, l.y_lw) = (sig, lw),
                    _ => (l.x_sig, l.x_lw) = (sig, lw),
                }
                let (lanes_k, raw) = (l.lanes, l.raw);
                for p in l.projs.iter_mut().filter(|p| p.target == kind) {
                    let c = &p.pre;
                    clients.push(ClientView {
                        pre: c.clone(),
                        raw,
                        neww: lanes_k * w,
                        raddr: bank_addr(base, &format!("{c}_rrow"), raw, aw),
                        waddr: bank_addr(base, &format!("{c}_wrow"), raw, aw),
                        wdata: bank_word(lanes, lanes_k, lw, |i| LayerView::sext(&format!("{c}_sum"), i * w, w, lw)),
                    });
                    // The row's current value: the unit's own registered sum when the beat
                    // ahead wrote the row (no OR of the bank's units on the adder's loop).
                    let parts: Vec<String> =
                        (0..lanes_k).rev().map(|i| format!("{pre}_old_m[{} +: {w}]", i * lw)).collect();
                    p.old = format!("{pre}_fwd ? {c}_sum : {{{}}}", parts.join(", "));
                }
                base += l.rows;
            }
            let (uraddr, uwaddr, uon) = if multi {
                (
                    format!("{pre}_rbase + {}", bank_addr(0, &format!("{gp}u_raddr"), sh.rw, aw)),
                    format!("{pre}_wbase + {}", bank_addr(0, &format!("{gp}u_wrow"), sh.rw, aw)),
                    format!("{pre}_uon"),
                )
            } else {
                (
                    bank_addr(0, &format!("{gp}u_raddr"), sh.rw, aw),
                    bank_addr(0, &format!("{gp}u_wrow"), sh.rw, aw),
                    format!("{}_u_on", members[0].pre),
                )
            };
            banks.push(BankView {
                comment: list_label(g.iter().map(|&k| layers[k].name.as_str())),
                pre,
                kind: kind.into(),
                width: lanes * lw,
                rows,
                aw,
                logic,
                multi,
                epoch: multi && plan.early_exit,
                uraddr,
                uwaddr,
                uon,
                members,
                clients,
                gp,
                glw,
            });
        }
    }
    banks
}

fn event_banks(plan: &Plan, layers: &[LayerView]) -> Vec<EvBankView> {
    let mut banks = vec![];
    for (gi, bank) in plan.banks.iter().filter(|b| b.kind == "events").enumerate() {
        let g = &bank.layers;
        let pre = format!("eb{gi}");
        let width = g.iter().map(|&k| layers[k].ew).max().unwrap_or(1);
        let rows: usize = g.iter().map(|&k| layers[k].rows).sum();
        debug_assert_eq!((bank.depth, bank.width), (rows, width));
        let aw = abits(rows);
        let logic = bank.map == MemMap::Registers;
        let mut members = vec![];
        let mut readers = vec![];
        let mut base = 0;
        for &k in g {
            let l = &layers[k];
            let wdata = if l.ew == width {
                format!("{}_ev_wdata", l.pre)
            } else {
                format!("{{{}'d0, {}_ev_wdata}}", width - l.ew, l.pre)
            };
            members.push(EvMemberView {
                pre: l.pre.clone(),
                raw: l.raw,
                ew: l.ew,
                lanes: l.lanes,
                ecw: l.ecw,
                eyw: l.eyw,
                exw: l.exw,
                waddr: bank_addr(base, &format!("{}_ev_cnt[{}:0]", l.pre, l.raw - 1), l.raw, aw),
                wdata,
            });
            for p in layers.iter().flat_map(|l2| l2.projs.iter()).filter(|p| p.src == l.pre) {
                readers.push((p.pre.clone(), bank_addr(base, &format!("{}_ev_raddr", p.pre), p.src_aw, aw)));
            }
            base += l.rows;
        }
        banks.push(EvBankView {
            pre,
            comment: list_label(g.iter().map(|&k| layers[k].name.as_str())),
            width,
            rows,
            aw,
            logic,
            members,
            readers,
        });
    }
    banks
}

/// `{bit n-1, ..., bit 0}` of 1-bit expressions.
fn concat_bits(bits: &[String]) -> String {
    let parts: Vec<&str> = bits.iter().rev().map(String::as_str).collect();
    format!("{{{}}}", parts.join(", "))
}

/// The one-hot "enter" terms of a unit's program (see [`UnitView`]): within a step the next
/// phase, static phases skipped after step 0; the step's last phase (always dynamic) leads to
/// the first dynamic phase of the next step.
fn unit_enter(p: &str, statik: &[bool]) -> Vec<String> {
    let n = statik.len();
    let next = |i: usize, late: bool| -> Option<usize> {
        let mut j = i + 1;
        while j < n && late && statik[j] {
            j += 1;
        }
        (j < n).then_some(j)
    };
    let start_late = (0..n).find(|&j| !statik[j]).unwrap_or(0);
    (0..n)
        .map(|j| {
            let mut terms = vec![];
            for i in 0..n {
                let at = |late: bool| next(i, late).unwrap_or(start_late) == j;
                match (at(false), at(true)) {
                    (true, true) => terms.push(format!("{p}pc_oh[{i}]")),
                    (true, false) => terms.push(format!("(!{p}late & {p}pc_oh[{i}])")),
                    (false, true) => terms.push(format!("({p}late & {p}pc_oh[{i}])")),
                    (false, false) => {}
                }
            }
            if terms.is_empty() { "1'b0".into() } else { terms.join(" | ") }
        })
        .collect()
}

/// The pipelined schedule's sequencers, layer lists and input copies.
fn pipe_views(plan: &Plan, layers: &[LayerView]) -> (Vec<UnitView>, Vec<PipeProducerView>, Vec<PipeListView>) {
    // "unit u has ended step tau - 2 + d": t_u + 1 >= tau + d, as a compare of registers
    // (`t1` is t + 1 while the unit runs, and at least T after).
    let done_with = |u: &str, tau: &str, d: usize| {
        if d == 0 { format!("({u}t1 >= {tau})") } else { format!("({u}t >= {tau})") }
    };
    let readers_of = |src: Source| crate::hw::memory::event_readers(plan, src);
    let mut units = vec![];
    let unit = |p: String,
                comment: String,
                phases: Vec<(&str, String, bool)>,
                ok: &dyn Fn(usize, &str) -> String,
                once: bool| {
        let statik: Vec<bool> = phases.iter().map(|x| x.2).collect();
        let enter = unit_enter(&p, &statik);
        let n = phases.len();
        let ok_t: Vec<String> = (0..n).map(|i| ok(i, &format!("{p}t"))).collect();
        let ok_t1: Vec<String> = (0..n).map(|i| ok(i, &format!("{p}t1"))).collect();
        UnitView {
            comment,
            phases: phases
                .into_iter()
                .zip(enter)
                .enumerate()
                .map(|(idx, ((kind, unit, _), enter))| PhaseView { idx, kind: kind.into(), unit, enter })
                .collect(),
            ok_t: concat_bits(&ok_t),
            ok_t1: concat_bits(&ok_t1),
            step_mask: format!("{n}'b1{}", "0".repeat(n - 1)),
            once,
            p,
        }
    };
    // The input load: per step, the half of step t is free once every reader has ended t - 2.
    let in_readers = readers_of(Source::Input);
    let per_step = plan.input.per_step;
    units.push(unit(
        "gin_".into(),
        "input load".into(),
        vec![("load", "inp".into(), false)],
        &|_, tau| {
            if !per_step || in_readers.is_empty() {
                return "1'b1".into();
            }
            in_readers.iter().map(|&c| done_with(&format!("g{c}_"), tau, 0)).collect::<Vec<_>>().join(" && ")
        },
        !per_step,
    ));
    let out_k = plan.output.layer;
    for (k, l) in plan.layers.iter().enumerate() {
        let mut phases: Vec<(&str, String, bool)> = l
            .projections
            .iter()
            .enumerate()
            .map(|(j, p)| ("acc", format!("l{k}p{j}"), p.target == AccTarget::Static))
            .collect();
        phases.push(("upd", format!("l{k}"), false));
        // Consumers of this layer's list (or output rows) in other units, with their delays.
        let mut cons: Vec<(String, usize)> = vec![];
        for (c, lc) in plan.layers.iter().enumerate() {
            for p in &lc.projections {
                if p.source == Source::Layer(k) && c != k {
                    let e = (format!("g{c}_"), usize::from(p.delayed));
                    if !cons.contains(&e) {
                        cons.push(e);
                    }
                }
            }
        }
        if k == out_k {
            cons.push(("gout_".into(), 0));
        }
        let projs = &l.projections;
        units.push(unit(
            format!("g{k}_"),
            format!("layer {}", layers[k].name),
            phases,
            &|i, tau| {
                if i == projs.len() {
                    if cons.is_empty() {
                        return "1'b1".into();
                    }
                    return cons.iter().map(|(u, d)| done_with(u, tau, *d)).collect::<Vec<_>>().join(" && ");
                }
                let p = &projs[i];
                match p.source {
                    // A direct input's readers follow its load (ProjView::follow).
                    Source::Input if !per_step => "1'b1".into(),
                    Source::Input => format!("(gin_t > {tau})"),
                    Source::Layer(s) if s == k => "1'b1".into(),
                    Source::Layer(s) if p.delayed => format!("(g{s}_t >= {tau})"),
                    Source::Layer(s) => format!("(g{s}_t > {tau})"),
                }
            },
            false,
        ));
    }
    units.push(unit(
        "gout_".into(),
        "output".into(),
        vec![("out", "out".into(), false)],
        &|_, tau| format!("(g{out_k}_t > {tau})"),
        false,
    ));
    // Layer c's readers of `src` (one phase at a time): their read addresses in c's copy, with
    // the half of the step each reads on top when the list holds two steps.
    let readers_in = |c: usize, src: Source, two: bool| -> Vec<(String, String)> {
        plan.layers[c]
            .projections
            .iter()
            .enumerate()
            .filter(|(_, p)| p.source == src)
            .map(|(j, p)| {
                let pp = format!("l{c}p{j}");
                let addr = if two {
                    format!("{{{}, {pp}_ev_raddr}}", pipe_read_parity(c, p))
                } else {
                    format!("{pp}_ev_raddr")
                };
                (pp, addr)
            })
            .collect()
    };
    // The input's copies, two steps deep when the input changes every step.
    let mut lists = vec![];
    let n_in = plan.input.numel();
    let iaw = abits(n_in);
    let (depth, aw) = if per_step { (crate::hw::memory::two_steps(n_in), iaw + 1) } else { (n_in, iaw) };
    for c in in_readers.iter().copied() {
        lists.push(PipeListView {
            pre: pipe_copy(Source::Input, c),
            comment: format!("input events read by {}", layers[c].name),
            width: crate::hw::memory::input_event_width(plan),
            depth,
            aw,
            logic: logic_of(plan, &format!("input.events.{}", plan.layers[c].name)),
            we: "ld_acc && ld_nz".into(),
            waddr: if per_step {
                format!("{{gin_t[0], ld_base[{}:0]}}", iaw - 1)
            } else {
                format!("ld_base[{}:0]", iaw - 1)
            },
            wdata: "{ld_c, ld_y, ld_x, in_data}".into(),
            readers: readers_in(c, Source::Input, per_step),
        });
    }
    // Every layer with readers writes its list into each reader's copy, at its step's half.
    let mut producers = vec![];
    for (k, l) in plan.layers.iter().enumerate() {
        let rs = readers_of(Source::Layer(k));
        if rs.is_empty() || !l.spiking() {
            continue;
        }
        let lv = &layers[k];
        producers.push(PipeProducerView {
            pre: lv.pre.clone(),
            gp: lv.gp.clone(),
            raw: lv.raw,
            lanes: lv.lanes,
            ecw: lv.ecw,
            eyw: lv.eyw,
            exw: lv.exw,
            ew: lv.ew,
        });
        for c in rs {
            let bank = plan.banks.iter().find(|b| b.kind == "events" && b.layers == [k] && b.reader == Some(c));
            lists.push(PipeListView {
                pre: pipe_copy(Source::Layer(k), c),
                comment: format!("{} events read by {}", lv.name, layers[c].name),
                width: lv.ew,
                depth: crate::hw::memory::two_steps(l.rows),
                aw: lv.raw + 1,
                logic: bank.is_none_or(|b| b.map == MemMap::Registers),
                we: format!("{}_ev_we", lv.pre),
                waddr: format!("{}_ev_waddr", lv.pre),
                wdata: format!("{}_ev_wdata", lv.pre),
                readers: readers_in(c, Source::Layer(k), true),
            });
        }
    }
    (units, producers, lists)
}

impl TopView {
    /// `n_in - 2`, floored at zero (a compare a one-value input never reaches).
    pub fn n_in_minus_2(&self) -> usize {
        self.n_in.saturating_sub(2)
    }
}
