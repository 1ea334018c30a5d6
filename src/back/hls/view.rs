//! Everything the HLS templates print, computed from the plan: types and widths, constants,
//! ROM initialisers, index arithmetic and the terms of the neuron update.

use std::fmt::Write as _;

use crate::back::common::{
    ParamClass, WeightRom, acc_target, header, in_registers, mem_map, neuron_at, neuron_params, out_word_bits,
    proj_comment, reads_input, top_name, weights_per_lane_group,
};
use crate::back::limits;
use crate::hw::dense::{self, Dense, Gather, Mode, Plane};
use crate::hw::memory::weight_depth;
use crate::hw::{Layer, MemMap, Plan};
use crate::ir::ResetMode;
use crate::names::{Namer, label};
use crate::quant::{AccTarget, Leak, PoolGeom, ProjKind, Projection, Source};

/// A plan the HLS back end cannot emit (exactly the plans the Verilog back end refuses).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EmitError {
    /// The plan is outside the back end's limits (`back::limits`).
    #[error("HLS back end: {0}")]
    Unsupported(String),
    /// A projection marked dense that cannot gather densely.
    #[error("HLS back end: {0}")]
    Dense(crate::hw::dense::ModeError),
    /// A large RAM of a shape the back end does not emit.
    #[error("HLS back end: {mem}: large RAM of {depth} x {width} bits: only iCE40 SPRAM (16384 x 16) is emitted")]
    LargeRam {
        /// The memory.
        mem: String,
        /// Words per block.
        depth: usize,
        /// Bits per word.
        width: usize,
    },
    /// A template failed to render.
    #[error("HLS back end: template: {0}")]
    Template(String),
}

/// Names the generated code uses besides the ones derived from the plan; the namer never
/// hands these out for a model (`sf_` + model name is the top function).
const FIXED: &[&str] = &["in_ev", "in_n", "obuf", "counts", "load_input", "run", "cfg", "hls"];

/// A pool window geometry as printed.
pub struct PoolView {
    /// Candidate windows per axis.
    pub ca: usize,
    /// Candidates along x.
    pub cb: usize,
    /// Kernel.
    pub k: [usize; 2],
    /// Stride.
    pub s: [usize; 2],
    /// Padding.
    pub p: [usize; 2],
    /// Pooled size.
    pub out: [usize; 2],
}

impl PoolView {
    fn of(g: &PoolGeom) -> Self {
        let c = g.candidates();
        PoolView { ca: c[0], cb: c[1], k: g.k, s: g.s, p: g.p, out: g.out }
    }
}

/// A constant table (ROM) defined inside the function that reads it.
pub struct RomView {
    /// Declaration up to the initialiser, e.g. `static const sf::uint_t<2> rom[128]`.
    pub decl: String,
    /// Initialiser lines (without braces).
    pub init: Init,
    /// Pragma placing the table (`BIND_STORAGE ...`), and a partition pragma when 2-D.
    pub pragmas: Vec<String>,
}

/// A table's initialiser lines, printed as the template reaches them.
pub enum Init {
    /// The lines.
    Text(String),
    /// Packed binary words of `lanes` bits, 8 to a line (`0x..u`): word `a` is bits
    /// `a * lanes..(a + 1) * lanes` of `bits` (64 to a `u64`), so a binary network's tables
    /// are held as bits, not as text, until written.
    Words {
        /// The bits.
        bits: Vec<u64>,
        /// Bits per word (at most 64).
        lanes: usize,
        /// Words.
        depth: usize,
    },
}

impl std::fmt::Display for Init {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Init::Text(t) => f.write_str(t),
            Init::Words { bits, lanes, depth } => {
                for a in 0..*depth {
                    f.write_str(match a % 8 {
                        0 if a > 0 => "\n        ",
                        0 => "        ",
                        _ => " ",
                    })?;
                    let mut word = 0u64;
                    for lane in 0..*lanes {
                        let i = a * lanes + lane;
                        word |= (bits[i / 64] >> (i % 64) & 1) << lane;
                    }
                    write!(f, "0x{word:x}u,")?;
                }
                Ok(())
            }
        }
    }
}

/// One projection's accumulate function.
pub struct ProjView {
    /// Function name.
    pub func: String,
    /// Description for the comment.
    pub comment: String,
    /// Source is the input stream.
    pub src_input: bool,
    /// Source event list variable (in the top function) and its count.
    pub src_ev: String,
    /// Count variable.
    pub src_n: String,
    /// Source event array depth.
    pub ev_depth: usize,
    /// Lanes of the source layer.
    pub src_lanes: usize,
    /// The source is a multi-spike layer: an event's value is its lane's count.
    pub src_counts: bool,
    /// The C++ type of the source's entries (layer sources).
    pub src_type: String,
    /// Accumulates into the static memory (only at step 0).
    pub statik: bool,
    /// Target state array in the top function.
    pub dst: String,
    /// Target width.
    pub tw: u32,
    /// `true`/`false`: the target saturates.
    pub sat: &'static str,
    /// Left shift of each product.
    pub shift: u32,
    /// `dense`, `conv`, `pool` or `one`.
    pub kind: &'static str,
    /// Pre-pooling of the source events.
    pub pre: Option<PoolView>,
    /// Pooled source height and width seen by a dense projection.
    pub ph: usize,
    /// Width.
    pub pw: usize,
    /// Lane groups of the target (beats per target position).
    pub ncg: usize,
    /// Lanes of the target.
    pub lanes: usize,
    /// Lane guard of the last lane group: `b * L + l >= limit` skips (0: all lanes valid).
    pub limit: usize,
    /// Convolution geometry.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Stride.
    pub stride: [usize; 2],
    /// Padding.
    pub pad: [usize; 2],
    /// Dilation.
    pub dil: [usize; 2],
    /// Input channels per group.
    pub cig: usize,
    /// Output size.
    pub oh: usize,
    /// Output width.
    pub ow: usize,
    /// Target positions H*W.
    pub pos: usize,
    /// Target width W (pool).
    pub w: usize,
    /// Pool geometry (pool projections).
    pub pool: Option<PoolView>,
    /// Source height and width (one-to-one).
    pub sh: usize,
    /// Source width.
    pub sw: usize,
    /// Weight table.
    pub rom: Option<RomView>,
    /// The line defining `w` (int64_t) for the current lane.
    pub w_line: String,
    /// The dense gather replacing the event scatter (the projection runs in Dense mode).
    pub dense: Option<DenseView>,
}

/// A projection in Dense mode (docs/hardware.md 4c): its ACC walks the target rows and
/// gathers each from the source's spike plane ([`Dense::word`]).
pub struct DenseView {
    /// The source's plane array (in the top function).
    pub plane: String,
    /// Plane word bits.
    pub width: usize,
    /// Plane words.
    pub depth: usize,
    /// `matrix`, `conv` or `one` ([`Gather`]).
    pub gather: &'static str,
    /// (plane word, weight word) pairs per target row.
    pub wpr: usize,
    /// Source positions (H*W) of the plane.
    pub hw: usize,
    /// Lane groups per plane word.
    pub m: usize,
    /// Plane words per source position.
    pub chunks: usize,
    /// Kernel (h, w), stride, padding, dilation and input (h, w) of a conv gather.
    pub k: [usize; 2],
    /// Stride.
    pub stride: [usize; 2],
    /// Padding.
    pub pad: [usize; 2],
    /// Dilation.
    pub dil: [usize; 2],
    /// Input (h, w).
    pub input: [usize; 2],
    /// Weight ROM word of a one-to-one row `r` (an expression of `r`).
    pub one_addr: String,
    /// Weight table: packed binary words `[depth][lanes]` of `width` bits (matrix, conv), or
    /// the event layout's table (one-to-one).
    pub rom: Option<RomView>,
    /// The padding guard of the target's lanes is needed (channels per group not a multiple
    /// of the lanes).
    pub partial: bool,
    /// Channels per group of the target.
    pub gc: usize,
}

/// A layer's spike plane, written by its update pass.
pub struct PlaneView {
    /// The array (in the top function).
    pub var: String,
    /// Bits per word.
    pub width: usize,
    /// Words.
    pub depth: usize,
    /// Lane groups per word.
    pub m: usize,
    /// Positions (H*W).
    pub hw: usize,
    /// `~(lanes' mask << bit)` is kept on a write: the lanes' mask as a literal.
    pub lane_mask: String,
    /// Pragmas of the array.
    pub pragmas: Vec<String>,
}

/// One layer: state memories, update function, projections.
pub struct LayerView {
    /// Index.
    pub k: usize,
    /// Graph name.
    pub name: String,
    /// Identifier from the namer.
    pub id: String,
    /// Summary line.
    pub desc: String,
    /// Lanes.
    pub lanes: usize,
    /// Rows.
    pub rows: usize,
    /// Positions H*W.
    pub pos: usize,
    /// Width W.
    pub w: usize,
    /// Channels per group.
    pub gc: usize,
    /// Lane groups per channel group.
    pub ncg: usize,
    /// Some lanes of the last lane group are padding.
    pub partial: bool,
    /// Membrane width.
    pub vw: u32,
    /// Static accumulator width (0: none).
    pub sw: u32,
    /// Synaptic state width (0: none).
    pub yw: u32,
    /// Saturating writes (`true`/`false`).
    pub sat: &'static str,
    /// Current-based.
    pub cuba: bool,
    /// Output layer.
    pub is_out: bool,
    /// Keeps an event list (spiking, with event-mode readers).
    pub has_events: bool,
    /// Keeps a spike plane (spiking, with dense readers).
    pub plane: Option<PlaneView>,
    /// The update collects the row's spike bits (for the event list or the plane).
    pub spike_mask: bool,
    /// The update reads `late` (a constant that starts after step 0).
    pub uses_late: bool,
    /// Counts output spikes for early exit.
    pub counts: bool,
    /// Parameter tables.
    pub roms: Vec<RomView>,
    /// Parameter lines (`const int64_t thr = ...;`) for the current lane.
    pub params: Vec<String>,
    /// Synaptic current before saturation (cuba).
    pub cur_expr: String,
    /// Next synaptic state from `cur` (cuba).
    pub syn_next: String,
    /// Membrane sum.
    pub v_expr: String,
    /// The membrane value is needed.
    pub use_v: bool,
    /// Spike condition (`false` for non-spiking layers).
    pub spike_expr: String,
    /// The update reads `spike`.
    pub spike_used: bool,
    /// The update reads the row's lane group, position, and each lane's channel in its group.
    pub need_cgi: bool,
    /// Position.
    pub need_p: bool,
    /// Channel within the group.
    pub need_local: bool,
    /// `vhat` (membrane after reset), when the decay reads it.
    pub vhat_expr: Option<String>,
    /// Next membrane before the write policy.
    pub next_expr: String,
    /// Output word field width per lane and the value written.
    pub out_w: u32,
    /// Output value.
    pub out_value: String,
    /// A multi-spike layer's count this step, `count` (its events carry it per lane).
    pub count_expr: Option<String>,
    /// The C++ type of the layer's event entries.
    pub ev_type: String,
    /// Pragmas of the state arrays (emitted in the top function).
    pub state_pragmas: Vec<String>,
    /// Pragmas of the event list.
    pub ev_pragmas: Vec<String>,
    /// Arguments of the update call (after `late`, `last`).
    pub upd_args: String,
    /// Parameters of the update function.
    pub upd_params: String,
    /// Projections.
    pub projs: Vec<ProjView>,
}

/// The whole design.
pub struct TopView {
    /// Top function.
    pub top: String,
    /// Header comment lines.
    pub header: Vec<String>,
    /// Input bits per value.
    pub in_bits: u32,
    /// Input stream word width (bytes).
    pub in_w: usize,
    /// Two's complement inputs.
    pub in_signed: bool,
    /// Input values per LOAD.
    pub n_in: usize,
    /// Input shape (C, H, W).
    pub in_shape: [usize; 3],
    /// One input per step.
    pub per_step: bool,
    /// Some projection reads input events.
    pub has_in_events: bool,
    /// Timesteps.
    pub t_max: usize,
    /// Output word width (logical bits).
    pub out_bits: usize,
    /// Output stream word width (bytes).
    pub out_w: usize,
    /// Output words per step.
    pub out_rows: usize,
    /// Output neurons.
    pub n_out: usize,
    /// Early exit.
    /// The output layer's largest count per step (1 for spikes), what a class can still
    /// gain per remaining step.
    pub out_max: i64,
    pub early_exit: bool,
    /// Layers.
    pub layers: Vec<LayerView>,
    /// Some layer's update reads `late`.
    pub any_late: bool,
    /// Some dense projection counts bits (`sf_popcount` is defined).
    pub popcount: bool,
    /// Pragmas of the input event list.
    pub in_pragmas: Vec<String>,
    /// Pragmas of the output buffer.
    pub out_pragmas: Vec<String>,
}

/// How a memory of the plan is placed: the HLS storage for its map.
fn storage(plan: &Plan, name: &str, rom: bool) -> &'static str {
    match (mem_map(plan, name), rom) {
        (Some(MemMap::BlockRam { .. }) | Some(MemMap::Sram), false) => "type=ram_t2p impl=bram",
        (Some(MemMap::BlockRam { .. }) | Some(MemMap::Sram), true) => "type=rom_1p impl=bram",
        (Some(MemMap::LargeRam { .. }), false) => "type=ram_t2p impl=uram",
        (Some(MemMap::LargeRam { .. }), true) => "type=rom_1p impl=bram",
        (_, false) => "type=ram_t2p impl=lutram",
        (_, true) => "type=rom_1p impl=lutrom",
    }
}

/// Pragmas of an `[rows][lanes]` state array: lanes side by side (one row is one word of the
/// plan's memory), placed as the plan maps it; registers when the plan does.
fn state_pragmas(plan: &Plan, var: &str, mem: &str) -> Vec<String> {
    if in_registers(plan, mem) {
        vec![format!("ARRAY_PARTITION variable={var} type=complete dim=0")]
    } else {
        vec![
            format!("ARRAY_PARTITION variable={var} type=complete dim=2"),
            format!("BIND_STORAGE variable={var} {}", storage(plan, mem, false)),
        ]
    }
}

/// Bytes-aligned stream width (AXI-Stream TDATA is a whole number of bytes).
fn bytes_width(bits: usize) -> usize {
    bits.div_ceil(8).max(1) * 8
}

/// Rows of a table, `per_line` values a line, each formatted by `f`.
fn table(n: usize, per_line: usize, mut f: impl FnMut(usize, &mut String)) -> String {
    let mut s = String::new();
    for i in 0..n {
        if i % per_line == 0 {
            if i > 0 {
                s.push('\n');
            }
            s.push_str("        ");
        } else {
            s.push(' ');
        }
        f(i, &mut s);
        s.push(',');
    }
    s.shrink_to_fit();
    s
}

/// Appends an integer.
fn int(s: &mut String, v: i64) {
    let _ = write!(s, "{v}");
}

/// Builds the view of `plan`.
pub fn build(plan: &Plan) -> Result<TopView, EmitError> {
    limits::check(plan).map_err(|e| EmitError::Unsupported(e.to_string()))?;
    let mut namer = Namer::new();
    for r in FIXED {
        namer.reserve(r);
    }
    namer.reserve("sf");
    let top = top_name(&mut namer, plan);
    let ids: Vec<String> = plan.layers.iter().map(|l| namer.name(&l.name)).collect();
    let inp = &plan.input;
    let has_in_events = reads_input(plan);
    let mut layers = vec![];
    for (k, l) in plan.layers.iter().enumerate() {
        layers.push(layer_view(plan, k, l, &ids)?);
    }
    let ol = &plan.layers[plan.output.layer];
    let out_bits = out_word_bits(plan);
    let mut header = header(plan, "words", out_bits);
    header.push(format!(
        "arithmetic: reset {}, fire on {}, leak multipliers with {} fraction bits{}",
        plan.reset,
        if plan.fire_on_equal { "v >= THR" } else { "v > THR" },
        plan.rules.leak_bits(),
        if plan.early_exit { ", early exit" } else { "" }
    ));
    Ok(TopView {
        top,
        header,
        in_bits: inp.bits,
        in_w: bytes_width(inp.bits as usize),
        in_signed: inp.signed,
        n_in: inp.numel(),
        in_shape: inp.shape,
        per_step: inp.per_step,
        has_in_events,
        t_max: plan.timesteps,
        out_bits,
        out_w: bytes_width(out_bits),
        out_rows: ol.rows,
        n_out: ol.neurons(),
        early_exit: plan.early_exit,
        out_max: plan.layers[plan.output.layer].event_max(),
        any_late: layers.iter().any(|l| l.uses_late),
        popcount: layers.iter().flat_map(|l| &l.projs).any(|p| p.dense.as_ref().is_some_and(|d| d.gather != "one")),
        layers,
        in_pragmas: if has_in_events {
            vec![format!("BIND_STORAGE variable=sf_in_ev {}", storage(plan, "input.events", false))]
        } else {
            vec![]
        },
        out_pragmas: vec![format!(
            "BIND_STORAGE variable=sf_obuf {}",
            storage(plan, &format!("{}.out", ol.name), false)
        )],
    })
}

fn leak_expr(lk: &Leak, x: &str, p: u32, w: u32, b_name: &str) -> String {
    match lk {
        Leak::Zero => "0".into(),
        Leak::One => x.into(),
        Leak::Shift { k } => format!("sf::leak_shift({x}, {k})"),
        Leak::Mul { b } if b.len() == 1 => format!("sf::leak_mul<{p}, {w}>({x}, {})", b[0]),
        Leak::Mul { .. } => format!("sf::leak_mul<{p}, {w}>({x}, {b_name})"),
    }
}

/// A parameter the update may read: its name, the line defining it for the current lane, and
/// its table when it is per neuron.
struct ParamDef {
    name: &'static str,
    line: String,
    rom: Option<RomView>,
}

/// The parameters the update reads (a literal when uniform, else the lane's table entry),
/// and the names the expressions use for thr, bias, bias_late, vreset, syn_bias and
/// syn_bias_late (None: not read, or zero).
fn param_defs(plan: &Plan, l: &Layer) -> (Vec<ParamDef>, [Option<String>; 7]) {
    let (spiking, cuba) = (l.spiking(), l.kind.cuba());
    let p_bits = plan.rules.leak_bits();
    let per_ch = l.params_per_channel();
    let (depth, lanes) = (l.param_depth(), l.lanes);
    let addr = if per_ch { "cgi" } else { "r" };
    let needed = |n: &str| -> bool {
        match n {
            "thr" => spiking,
            "vreset" => spiking && plan.reset == ResetMode::Zero,
            "syn_bias" | "syn_bias_late" => cuba,
            "beta_b" => matches!(&l.leak, Leak::Mul { b } if b.len() > 1),
            "syn_b" => matches!(&l.syn_leak, Some(Leak::Mul { b }) if b.len() > 1),
            "vmin" => !l.params.vmin.is_empty(),
            _ => true,
        }
    };
    let mut defs = vec![];
    let mut terms = vec![];
    for s in neuron_params(l) {
        let ty = match s.class {
            ParamClass::Membrane => format!("sf::int_t<{}>", l.v_bits),
            ParamClass::Synaptic => format!("sf::int_t<{}>", l.y_bits.max(1)),
            ParamClass::Multiplier => format!("sf::int_t<{}>", p_bits + 2),
        };
        let zero = s.vals.len() == 1 && s.vals[0] == 0;
        if !needed(s.name) || (zero && !matches!(s.name, "thr" | "vreset")) {
            terms.push(None);
            continue;
        }
        let def = if s.vals.len() == 1 {
            ParamDef { name: s.name, line: format!("const int64_t {} = {};", s.name, s.vals[0]), rom: None }
        } else {
            let name = format!("{}_rom", s.name);
            let init = table(depth * lanes, lanes, |i, out| {
                int(out, neuron_at(l, per_ch, i / lanes, i % lanes).map_or(0, |n| s.vals[n]));
            });
            let rom = RomView {
                decl: format!("static const {ty} {name}[{depth}][{lanes}]"),
                init: Init::Text(init),
                pragmas: vec![
                    format!("ARRAY_PARTITION variable={name} type=complete dim=2"),
                    format!("BIND_STORAGE variable={name} {}", storage(plan, &format!("{}.params", l.name), true)),
                ],
            };
            ParamDef { name: s.name, line: format!("const int64_t {} = {name}[{addr}][l];", s.name), rom: Some(rom) }
        };
        defs.push(def);
        terms.push(Some(s.name.to_string()));
    }
    let [thr, bias, bias_late, vreset, syn_bias, syn_bias_late, _, _, vmin] =
        <[Option<String>; 9]>::try_from(terms).expect("nine parameters");
    (defs, [thr, bias, bias_late, vreset, syn_bias, syn_bias_late, vmin])
}

/// The terms of a layer's neuron update for the current lane (see [`LayerView`]).
struct Update {
    cur_expr: String,
    syn_next: String,
    v_expr: String,
    use_v: bool,
    spike_expr: String,
    vhat_expr: Option<String>,
    next_expr: String,
    out_w: u32,
    out_value: String,
    /// A multi-spike layer's spike count this step (`count`).
    count_expr: Option<String>,
}

impl Update {
    /// The identifiers the emitted update reads.
    fn reads(&self, cuba: bool, is_out: bool) -> Vec<String> {
        let mut read = String::new();
        if cuba {
            let _ = write!(read, "{} {} ", self.cur_expr, self.syn_next);
        }
        if self.use_v {
            let _ = write!(read, "{} {} {} ", self.v_expr, self.spike_expr, self.count_expr.as_deref().unwrap_or(""));
        }
        let _ = write!(read, "{} {}", self.vhat_expr.as_deref().unwrap_or(""), self.next_expr);
        if is_out {
            let _ = write!(read, " {}", self.out_value);
        }
        read.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).map(str::to_string).collect()
    }
}

/// The neuron update of `l` (the output layer when `is_out`) from its parameter terms
/// ([`param_defs`]).
fn update(plan: &Plan, l: &Layer, is_out: bool, terms: &[Option<String>; 7]) -> Update {
    let [thr, bias, bias_late, vreset, syn_bias, syn_bias_late, vmin] = terms;
    let (spiking, cuba) = (l.spiking(), l.kind.cuba());
    let p_bits = plan.rules.leak_bits();
    let sum = |base: &str, extra: &[&Option<String>], late: &Option<String>| -> String {
        let mut e = base.to_string();
        for x in extra.iter().copied().flatten() {
            let _ = write!(e, " + {x}");
        }
        if let Some(x) = late {
            let _ = write!(e, " + (late ? {x} : 0)");
        }
        e
    };
    let s_term = (l.s_bits > 0).then(|| "static_cast<int64_t>(s[r][l])".to_string());
    let cur_expr = sum("static_cast<int64_t>(y[r][l])", &[&s_term, syn_bias], syn_bias_late);
    let v_expr = if cuba {
        sum("static_cast<int64_t>(x[r][l]) + cur", &[bias], bias_late)
    } else {
        sum("static_cast<int64_t>(x[r][l])", &[&s_term, bias], bias_late)
    };
    let thr_s = thr.clone().unwrap_or_else(|| "0".into());
    let spike_expr = if !spiking {
        "false".to_string()
    } else if plan.fire_on_equal {
        format!("v >= {thr_s}")
    } else {
        format!("v > {thr_s}")
    };
    // A multi-spike layer's count (its THR is positive: v >= THR when it fires), else 1.
    let multi = spiking && l.multi;
    let nthr = if multi { format!("count * {thr_s}") } else { thr_s.clone() };
    let vhat = match plan.reset {
        _ if !spiking => "v".to_string(),
        ResetMode::Zero => format!("spike ? {} : v", vreset.clone().unwrap_or_else(|| "0".into())),
        ResetMode::Subtract => format!("spike ? v - {nthr} : v"),
        ResetMode::SubtractUndecayed => "v".to_string(),
    };
    let vhat = match vmin {
        Some(m) if !l.params.vmin.is_empty() => format!("std::max<int64_t>({vhat}, {m})"),
        _ => vhat,
    };
    let leak = leak_expr(&l.leak, "vhat", p_bits, l.v_bits + 1, "beta_b");
    let vhat_expr = (l.leak != Leak::Zero).then_some(vhat);
    let undecayed = spiking && plan.reset == ResetMode::SubtractUndecayed;
    Update {
        cur_expr,
        syn_next: match &l.syn_leak {
            Some(sl) => leak_expr(sl, "cur", p_bits, l.y_bits + 1, "syn_b"),
            None => "0".into(),
        },
        v_expr,
        use_v: spiking || is_out || vhat_expr.is_some(),
        spike_expr,
        vhat_expr,
        next_expr: if undecayed { format!("{leak} - (spike ? {nthr} : 0)") } else { leak },
        out_w: if plan.output.spikes { l.event_bits() } else { l.v_bits },
        out_value: match (plan.output.spikes, multi) {
            (true, true) => "count".to_string(),
            (true, false) => "spike ? 1 : 0".to_string(),
            _ => "v".to_string(),
        },
        count_expr: multi.then(|| format!("spike ? v / {thr_s} : 0")),
    }
}

/// The update function's arguments and parameters: (late,) last, x, [s], [y], [ev, nev],
/// [plane], [obuf], [counts] (`late` and `last` are printed by the template).
fn update_call(
    plan: &Plan,
    l: &Layer,
    id: &str,
    is_out: bool,
    has_events: bool,
    plane: Option<&PlaneView>,
    counts: bool,
) -> (String, String) {
    let (lanes, rows) = (l.lanes, l.rows);
    let mut args = vec![format!("{id}_x")];
    let mut prm = vec![format!("sf::int_t<{}> x[{rows}][{lanes}]", l.v_bits)];
    if l.s_bits > 0 {
        args.push(format!("{id}_s"));
        prm.push(format!("sf::int_t<{}> s[{rows}][{lanes}]", l.s_bits));
    }
    if l.kind.cuba() {
        args.push(format!("{id}_y"));
        prm.push(format!("sf::int_t<{}> y[{rows}][{lanes}]", l.y_bits));
    }
    if has_events {
        args.push(format!("{id}_ev"));
        args.push(format!("{id}_nev"));
        prm.push(format!("{} ev[{rows}]", ev_type(l)));
        prm.push("int& nev".into());
    }
    if let Some(pv) = plane {
        args.push(pv.var.clone());
        prm.push(format!("sf::uint_t<{}> plane[{}]", pv.width, pv.depth));
    }
    if is_out {
        args.push("sf_obuf".into());
        prm.push(format!("sf::bits<{}> obuf[{rows}]", bytes_width(out_word_bits(plan))));
    }
    if counts {
        args.push("sf_counts".into());
        prm.push(format!("int64_t counts[{}]", l.neurons()));
    }
    (args.join(", "), prm.join(", "))
}

/// The C++ type of `l`'s event entries: a lane mask, and for a multi-spike layer each lane's
/// count.
fn ev_type(l: &Layer) -> String {
    if l.multi { format!("sf::ev_count_entry<{}>", l.lanes) } else { "sf::ev_entry".into() }
}

/// The pragmas of the layer's state arrays (X, S, Y as the plan places them).
fn layer_state_pragmas(plan: &Plan, l: &Layer, id: &str) -> Vec<String> {
    let mut v = state_pragmas(plan, &format!("{id}_x"), &format!("{}.v", l.name));
    if l.s_bits > 0 {
        v.extend(state_pragmas(plan, &format!("{id}_s"), &format!("{}.s", l.name)));
    }
    if l.kind.cuba() {
        v.extend(state_pragmas(plan, &format!("{id}_y"), &format!("{}.y", l.name)));
    }
    v
}

/// The summary line of a layer.
fn layer_desc(l: &Layer, p_bits: u32) -> String {
    format!(
        "{:?} {:?}, {} lanes x {} rows; V {} bits{}{}{}; leak {}",
        l.kind,
        l.shape,
        l.lanes,
        l.rows,
        l.v_bits,
        if l.s_bits > 0 { format!(", S {} bits", l.s_bits) } else { String::new() },
        if l.kind.cuba() { format!(", Y {} bits", l.y_bits) } else { String::new() },
        if l.saturate { " (saturating)" } else { "" },
        l.leak.describe(p_bits)
    )
}

/// Layer `k`'s spike plane ([`Plane`]): placed as the plan maps `<layer>.plane` (pipelined
/// plans keep a copy per reader; the C++ runs in the sequential order and keeps one).
fn plane_view(plan: &Plan, k: usize, id: &str) -> PlaneView {
    let l = &plan.layers[k];
    let pl = Plane::of(l);
    let var = format!("{id}_plane");
    let mem = dense::plane_memory(plan, k, dense::plane_readers(plan, k).first().copied().unwrap_or(k));
    let lane_mask = if l.lanes >= 64 { u64::MAX } else { (1u64 << l.lanes) - 1 };
    PlaneView {
        pragmas: state_pragmas(plan, &var, &mem).into_iter().filter(|p| !p.contains("dim=2")).collect(),
        var,
        width: pl.width(),
        depth: pl.depth(),
        m: pl.m,
        hw: pl.hw,
        lane_mask: format!("0x{lane_mask:x}ull"),
    }
}

fn layer_view(plan: &Plan, k: usize, l: &Layer, ids: &[String]) -> Result<LayerView, EmitError> {
    let id = ids[k].clone();
    let lanes = l.lanes;
    let (spiking, cuba, is_out) = (l.spiking(), l.kind.cuba(), k == plan.output.layer);
    let (defs, terms) = param_defs(plan, l);
    let u = update(plan, l, is_out, &terms);
    let read = u.reads(cuba, is_out);
    let reads = |n: &str| read.iter().any(|r| r == n);
    let has_events = spiking && l.has_consumers && dense::has_event_readers(plan, k);
    let plane = (spiking && !dense::plane_readers(plan, k).is_empty()).then(|| plane_view(plan, k, &id));
    let spike_mask = has_events || plane.is_some();
    let counts = is_out && plan.early_exit;
    let partial = !l.group_size.is_multiple_of(lanes);
    let need_local = partial || counts;
    // Only the parameters an emitted expression reads are defined.
    let mut roms = vec![];
    let mut params = vec![];
    for d in defs.into_iter().filter(|d| reads(d.name)) {
        params.push(d.line);
        roms.extend(d.rom);
    }
    let ev_pragmas = if has_events {
        vec![format!("BIND_STORAGE variable={id}_ev {}", storage(plan, &format!("{}.events", l.name), false))]
    } else {
        vec![]
    };
    let (upd_args, upd_params) = update_call(plan, l, &id, is_out, has_events, plane.as_ref(), counts);
    let projs =
        l.projections.iter().enumerate().map(|(j, p)| proj_view(plan, k, j, l, p, ids)).collect::<Result<_, _>>()?;
    Ok(LayerView {
        k,
        name: label(&l.name),
        desc: layer_desc(l, plan.rules.leak_bits()),
        lanes,
        rows: l.rows,
        pos: l.positions(),
        w: l.shape[2],
        gc: l.group_size,
        ncg: l.ncg,
        partial,
        spike_used: spiking && (reads("spike") || spike_mask || counts),
        need_cgi: need_local || spike_mask || (l.params_per_channel() && !roms.is_empty()),
        need_p: spike_mask || counts,
        need_local,
        vw: l.v_bits,
        sw: l.s_bits,
        yw: l.y_bits,
        sat: if l.saturate { "true" } else { "false" },
        cuba,
        is_out,
        has_events,
        plane,
        spike_mask,
        uses_late: reads("late"),
        counts,
        roms,
        params,
        cur_expr: u.cur_expr,
        syn_next: u.syn_next,
        v_expr: u.v_expr,
        use_v: u.use_v,
        spike_expr: u.spike_expr,
        vhat_expr: u.vhat_expr,
        next_expr: u.next_expr,
        out_w: u.out_w,
        out_value: u.out_value,
        // Emitted only where something reads it (its events, the early-exit counts, the output
        // word, the reset).
        count_expr: u.count_expr.filter(|_| has_events || counts || reads("count")),
        ev_type: ev_type(l),
        state_pragmas: layer_state_pragmas(plan, l, &id),
        ev_pragmas,
        upd_args,
        upd_params,
        projs,
        id,
    })
}

fn proj_view(
    plan: &Plan,
    k: usize,
    j: usize,
    l: &Layer,
    p: &Projection,
    ids: &[String],
) -> Result<ProjView, EmitError> {
    let id = &ids[k];
    let lanes = l.lanes;
    let pos = l.positions();
    let (src_input, src_ev, src_n, ev_depth, src_lanes) = match p.source {
        Source::Input => (true, "sf_in_ev".to_string(), "sf_in_n".to_string(), plan.input.numel(), 1),
        Source::Layer(s) => {
            let sl = &plan.layers[s];
            (false, format!("{}_ev", ids[s]), format!("{}_nev", ids[s]), sl.rows, sl.lanes)
        }
    };
    let (src_counts, src_type) = match p.source {
        Source::Input => (false, "sf::in_event".to_string()),
        Source::Layer(s) => (plan.layers[s].multi, ev_type(&plan.layers[s])),
    };
    let (target, tw) = acc_target(l, p);
    let dst = format!("{id}_{}", target.letter());
    let binary = p.weights.binary();
    let depth = weight_depth(plan, k, j);
    let per_ch = weights_per_lane_group(l, p);
    let mem = format!("{}.w{j}", l.name);
    let geom = if dense::is(l, j, Mode::Dense) {
        let g = dense::geometry(plan, k, j)
            .map_err(|why| EmitError::Dense(dense::ModeError { layer: l.name.clone(), projection: j, why }))?;
        Some(g)
    } else {
        None
    };
    // The weight table, laid out like the RTL's ROM: one word of `lanes` weights per beat (a
    // dense matrix or conv gather has its own table instead).
    let event_rom = geom.is_none_or(|g| g.gather == Gather::OneToOne);
    let rom = (depth > 0 && event_rom).then(|| weight_table(plan, l, p, &mem, depth));
    // Address of the weight word and the lane variable, per kind.
    let (kind, waddr, lane_var) = match &p.kind {
        ProjKind::Dense { .. } => ("dense", format!("j * {} + b", l.ncg), "l"),
        ProjKind::Conv { .. } => ("conv", "addr".to_string(), "l"),
        ProjKind::Pool(_) => ("pool", if per_ch { format!("pc / {lanes}") } else { "row".into() }, "lane"),
        ProjKind::OneToOne => ("one", if per_ch { format!("ch / {lanes}") } else { "row".into() }, "lane"),
    };
    let w_line = match (&rom, binary) {
        (Some(_), true) => format!("const int64_t w = sf::bit<{lanes}>(rom[{waddr}], {lane_var}) ? 1 : -1;"),
        (Some(_), false) => format!("const int64_t w = rom[{waddr}][{lane_var}];"),
        (None, _) => format!("const int64_t w = {};", p.weights.at(0)),
    };
    let (ph, pw) = match (&p.pre_pool, &p.kind) {
        (Some(g), _) => (g.out[0], g.out[1]),
        _ => (p.src_shape[1], p.src_shape[2]),
    };
    let mut v = ProjView {
        func: format!("{id}_acc{j}"),
        comment: proj_comment(plan, l, p),
        src_input,
        src_ev,
        src_n,
        ev_depth,
        src_lanes,
        src_counts,
        src_type,
        statik: p.target == AccTarget::Static,
        dst,
        tw,
        sat: if l.saturate { "true" } else { "false" },
        shift: p.shift,
        kind,
        pre: p.pre_pool.as_ref().map(PoolView::of),
        ph,
        pw,
        ncg: l.ncg,
        lanes,
        limit: 0,
        kh: 0,
        kw: 0,
        stride: [1, 1],
        pad: [0, 0],
        dil: [1, 1],
        cig: 1,
        oh: l.shape[1],
        ow: l.shape[2],
        pos,
        w: l.shape[2],
        pool: None,
        sh: p.src_shape[1],
        sw: p.src_shape[2],
        rom,
        w_line,
        dense: None,
    };
    if let Some(g) = geom {
        let src = match p.source {
            Source::Layer(s) => s,
            Source::Input => unreachable!("dense projections read a layer"),
        };
        let rom = match g.gather {
            Gather::OneToOne => v.rom.take(),
            _ => Some(dense_table(plan, k, j, &g, &mem)),
        };
        v.w_line = match (&rom, binary) {
            (Some(_), true) if g.gather == Gather::OneToOne => {
                format!("const int64_t w = sf::bit<{lanes}>(rom[a], l) ? 1 : -1;")
            }
            (Some(_), false) => "const int64_t w = rom[a][l];".into(),
            _ => format!("const int64_t w = {};", p.weights.at(0)),
        };
        let (k2, stride, pad, dil, input) = match g.gather {
            Gather::Conv { k, stride, pad, dil, input } => (k, stride, pad, dil, input),
            _ => ([1, 1], [1, 1], [0, 0], [1, 1], [1, 1]),
        };
        v.dense = Some(DenseView {
            plane: format!("{}_plane", ids[src]),
            width: g.plane.width(),
            depth: g.plane.depth(),
            gather: match g.gather {
                Gather::Matrix => "matrix",
                Gather::Conv { .. } => "conv",
                Gather::OneToOne => "one",
            },
            wpr: g.words_per_row,
            hw: g.plane.hw,
            m: g.plane.m,
            chunks: g.plane.chunks(),
            k: k2,
            stride,
            pad,
            dil,
            input,
            one_addr: match g.weight_depth {
                0 => "0".into(),
                d if d == l.rows => "r".into(),
                _ => format!("r / {pos}"),
            },
            rom,
            partial: !l.group_size.is_multiple_of(lanes),
            gc: l.group_size,
        });
    }
    match &p.kind {
        ProjKind::Dense { .. } => {
            if !l.shape[0].is_multiple_of(lanes) {
                v.limit = l.shape[0];
            }
        }
        ProjKind::Conv { ci, kh, kw, stride, pad, dil, groups, .. } => {
            let co_g = l.shape[0] / groups;
            if !co_g.is_multiple_of(lanes) {
                v.limit = co_g;
            }
            v.kh = *kh;
            v.kw = *kw;
            v.stride = *stride;
            v.pad = *pad;
            v.dil = *dil;
            v.cig = ci / groups;
        }
        ProjKind::Pool(g) => v.pool = Some(PoolView::of(g)),
        ProjKind::OneToOne => {}
    }
    Ok(v)
}

/// A dense matrix or conv gather's weight table, word for word [`Dense::weight_bits`]: word
/// `a` lane `l` holds the plane-width bits of that lane, set where the weight is +1.
fn dense_table(plan: &Plan, k: usize, j: usize, g: &Dense, mem: &str) -> RomView {
    let lanes = plan.layers[k].lanes;
    let (width, depth) = (g.plane.width(), g.weight_depth);
    let n = depth * lanes * width;
    let mut bits = vec![0u64; n.div_ceil(64)];
    for a in 0..depth {
        for (b, set) in g.weight_bits(plan, k, j, a).into_iter().enumerate() {
            if set {
                let i = a * lanes * width + b;
                bits[i / 64] |= 1 << (i % 64);
            }
        }
    }
    RomView {
        decl: format!("static const sf::uint_t<{width}> rom[{depth}][{lanes}]"),
        init: Init::Words { bits, lanes: width, depth: depth * lanes },
        pragmas: vec![
            "ARRAY_PARTITION variable=rom type=complete dim=2".into(),
            format!("BIND_STORAGE variable=rom {}", storage(plan, mem, true)),
        ],
    }
}

/// A projection's weight table, word for word the RTL's weight ROM ([`WeightRom`]): binary
/// weights as packed words of `lanes` bits (set for +1), others as `[depth][lanes]` integers.
fn weight_table(plan: &Plan, l: &Layer, p: &Projection, mem: &str, depth: usize) -> RomView {
    let lanes = l.lanes;
    let rom = WeightRom::new(l, p);
    let mut word = vec![None; lanes];
    if p.weights.binary() {
        let mut bits = vec![0u64; (depth * lanes).div_ceil(64)];
        for a in 0..depth {
            rom.word(a, &mut word);
            for (lane, w) in word.iter().enumerate() {
                if w.is_some_and(|w| w > 0) {
                    let i = a * lanes + lane;
                    bits[i / 64] |= 1 << (i % 64);
                }
            }
        }
        return RomView {
            decl: format!("static const sf::uint_t<{lanes}> rom[{depth}]"),
            init: Init::Words { bits, lanes, depth },
            pragmas: vec![format!("BIND_STORAGE variable=rom {}", storage(plan, mem, true))],
        };
    }
    let mut cur = usize::MAX;
    let init = table(depth * lanes, lanes.max(8), |i, out| {
        let (a, lane) = (i / lanes, i % lanes);
        if a != cur {
            cur = a;
            rom.word(a, &mut word);
        }
        int(out, word[lane].unwrap_or(0))
    });
    RomView {
        decl: format!("static const sf::int_t<{}> rom[{depth}][{lanes}]", p.weights.bits),
        init: Init::Text(init),
        pragmas: vec![
            "ARRAY_PARTITION variable=rom type=complete dim=2".into(),
            format!("BIND_STORAGE variable=rom {}", storage(plan, mem, true)),
        ],
    }
}
