//! What an accumulate unit's view is made of, as the templates print it: [`ProjView`], the
//! layout of its source's entries ([`SourceLayout`]), its address arithmetic
//! ([`Addresses`]), its beat counters and tables ([`CounterView`], [`TableView`]) and a dense
//! unit ([`DenseView`]). It defines these types only (and how a source's entries are laid
//! out) and calls none of the builders: [`super::proj_view`] builds the view from the parts
//! [`super::addr`], [`super::beat`] and [`super::dense`] compute, and those import the types
//! from here without importing the builder that calls them (issue 53: no import cycles
//! between files).

use crate::back::verilog::view::common::{ExtView, SpramView};
use crate::back::verilog::view::expr::abits;
use crate::hw::Plan;
use crate::hw::taps::Pattern;
use crate::quant::{Projection, Source};

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
    /// Source is a multi-spike layer: an event's value is its lane's count (`valw` bits, the
    /// lane's field in the entry's counts between x and the mask).
    pub src_counts: bool,
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
    /// Constant weight literal (WB bits) when there is no ROM.
    pub wconst: String,
    /// The weight ROM's large-RAM placement, when it has one.
    pub spram: Option<SpramView>,
    /// The weight ROM streamed from external memory, read from the tile buffer.
    pub ext: Option<ExtView>,
    /// The address arithmetic and the beat counters.
    pub arith: Addresses,
    /// Beats an event takes: the fewest and the most.
    pub beats_min: u64,
    pub beats_max: u64,
    /// An event of one beat, as an expression of the head event (`beats_min < 2 <= beats_max`).
    pub one_now: String,
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
    /// A dense projection's unit (docs/hardware.md 4c); None: event-driven.
    pub dense: Option<DenseView>,
    /// A one-to-one or event-driven unit whose state memory adds for it in an adder its units
    /// share (`banks::share_state_adders`): it forms only its addends, `<pre>_add`.
    pub sadd: bool,
}

/// Where the fields of a source entry lie (positions in the entry without its lane mask,
/// which sf_events strips) and what an event carries.
pub(super) struct SourceLayout {
    /// Prefix `inp` or `l<s>`.
    pub(super) pre: String,
    pub(super) input: bool,
    /// A multi-spike layer's entries: a count per lane below x.
    pub(super) counts: bool,
    /// Lane mask width (0 for input entries).
    pub(super) maskw: usize,
    /// Source shape (C, H, W).
    pub(super) shape: [usize; 3],
    /// Bits below x in the entry without its mask: the value of an input entry, the lane
    /// counts of a multi-spike layer's (0 for other layers).
    pub(super) tailw: usize,
    pub(super) val_signed: bool,
    pub(super) valw: usize,
    pub(super) cw: usize,
    pub(super) yw: usize,
    pub(super) xw: usize,
    pub(super) c_hi: usize,
    pub(super) c_lo: usize,
    pub(super) y_hi: usize,
    pub(super) y_lo: usize,
    pub(super) x_hi: usize,
    pub(super) x_lo: usize,
    /// Entry width and address width of the list.
    pub(super) ew: usize,
    pub(super) aw: usize,
    /// Lane index width.
    pub(super) liw: usize,
}

impl SourceLayout {
    /// Entries MSB first: c, y, x, then the value (input), or the lane counts (a multi-spike
    /// layer) and the lane mask.
    pub(super) fn of(plan: &Plan, p: &Projection) -> Self {
        let (pre, input, maskw, shape, tailw, val_signed, valw) = match p.source {
            Source::Input => {
                let i = &plan.input;
                ("inp".to_string(), true, 0, i.shape, i.bits as usize, i.signed, i.bits as usize)
            }
            Source::Layer(s) => {
                let sl = &plan.layers[s];
                let cb = if sl.multi { sl.count_bits as usize } else { 0 };
                (format!("l{s}"), false, sl.lanes, sl.shape, sl.lanes * cb, false, cb.max(1))
            }
        };
        let counts = !input && tailw > 0;
        let (cw, yw, xw) = (abits(shape[0]), abits(shape[1]), abits(shape[2]));
        let x_lo = tailw;
        let x_hi = x_lo + xw - 1;
        let (y_lo, y_hi) = (x_hi + 1, x_hi + yw);
        let (c_lo, c_hi) = (y_hi + 1, y_hi + cw);
        let aw = match p.source {
            Source::Input => abits(plan.input.numel()),
            Source::Layer(s) => abits(crate::hw::dense::listed_rows(plan, s)),
        };
        SourceLayout {
            pre,
            input,
            counts,
            maskw,
            shape,
            tailw,
            val_signed,
            valw,
            cw,
            yw,
            xw,
            c_hi,
            c_lo,
            y_hi,
            y_lo,
            x_hi,
            x_lo,
            ew: c_hi + 1 + maskw,
            aw,
            liw: abits(maskw.max(1)),
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

/// A unit's address arithmetic, its addresses reading the stage-1b registers.
pub struct Addresses {
    /// Counters, outermost first.
    pub counters: Vec<CounterView>,
    /// Tables read with the event's position (combinational from `<pre>_ev_pos`).
    pub tables: Vec<TableView>,
    /// Per-event sums of the entry's coordinates, registered with the event (stage 1); their
    /// expressions read `<pre>_ev_pos`.
    pub evregs: Vec<LineView>,
    /// Stage-1 wires computing the beat's coordinates (each registered for stage 1b).
    pub lines: Vec<LineView>,
    /// Stage-1 signals registered for stage 1b as `<name>_b` (with `lines`).
    pub regs: Vec<LineView>,
    /// Row expression (`aw` bits).
    pub row: String,
    /// Weight address expression (`aw` bits).
    pub waddr: String,
    /// Lane mask expression (L bits).
    pub mask: String,
    /// Weight ROM address expression.
    pub wrom_addr: String,
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
    pub pattern: Pattern,
}

/// How a dense convolution's unit steps its pair's tap with the pair counter `i`: pair i is
/// chunk `ch = i % chunks` of tap `t = i / chunks`, `(ky, kx) = (t / kw, t % kw)`; its plane
/// word offset is `ch * HW_in + ky * dy * W_in + kx * dx` and its (y, x) offsets `ky * dy`,
/// `kx * dx` (literals of the unit's signed width).
#[derive(Default)]
pub struct TapSteps {
    /// Chunks per tap, and the chunk counter's width.
    pub chunks: usize,
    /// See `chunks`.
    pub chw: usize,
    /// Kernel width, and the kx counter's width.
    pub kw: usize,
    /// See `kw`.
    pub kxw: usize,
    /// HW_in: the offset from one chunk to the next.
    pub ch_step: String,
    /// dx: from one kx to the next.
    pub x_step: String,
    /// dy: from one ky to the next.
    pub y_step: String,
    /// dy * W_in: the plane word offset from one ky to the next.
    pub row_step: String,
}

/// A dense projection's unit.
pub struct DenseView {
    /// `matrix`, `conv` or `o2o`.
    pub kind: &'static str,
    /// Pairs per row, and the width of the pair counter.
    pub w: usize,
    /// See `w`.
    pub iw: usize,
    /// Target positions (H * W), the position counter's width.
    pub hw: usize,
    /// See `hw`.
    pub hww: usize,
    /// Target lane groups per channel group (`ncg`) and that counter's width.
    pub ncg: usize,
    /// See `ncg`.
    pub ncgw: usize,
    /// Lanes valid in a row of the channel group's last lane group (all ones: no padding).
    pub padmask: String,
    /// Plane: bits per word, lane groups per word, source lanes, address width.
    pub pw: usize,
    /// See `pw`.
    pub m: usize,
    /// See `pw`.
    pub paw: usize,
    /// The plane memory's read data.
    pub prdata: String,
    /// Binary: the plane word's nibbles (the last one zero-padded), the width of the padding,
    /// their 3-bit counts in `y` summed in pairs (`pair`, `np` 4-bit counts), and the
    /// popcount's width and its adder tree over the pairs' counts in `y`.
    pub nn: usize,
    /// See `nn`.
    pub np: usize,
    /// See `nn`.
    pub pair: String,
    /// See `nn`.
    pub npad: usize,
    /// See `nn`.
    pub pcw: usize,
    /// See `nn`.
    pub pop: String,
    /// Accumulator width (a row's popcounts), and the signed width of `2 * A - P`.
    pub accw: usize,
    /// See `accw`.
    pub dw: usize,
    /// Weight ROM: bits per word (lanes x plane width, or lanes x weight bits), words, address width.
    pub wwidth: usize,
    /// See `wwidth`.
    pub wdepth: usize,
    /// See `wwidth`.
    pub waw: usize,
    /// Weight ROM file; empty: one constant weight (one-to-one).
    pub wfile: String,
    /// Weight ROM in logic.
    pub wlogic: bool,
    /// The weight ROM in large RAM (moved to the projection's `spram`, which the loader numbers).
    pub spram: Option<SpramView>,
    /// The weight ROM in external memory (moved to the projection's `ext`).
    pub ext: Option<ExtView>,
    /// One-to-one: weight bits, the constant weight (when no ROM), the ROM's index (`row`, `group`).
    pub wb: usize,
    /// See `wb`.
    pub wconst: String,
    /// See `wb`.
    pub widx: &'static str,
    /// Where the running tile of lane groups starts (Verilog values of the sequencer's `tj`,
    /// literals without tiles): the lane group within its channel group, and for a one-to-one
    /// gather the source plane's word and one-hot lane group of the tile's first row.
    pub cg0: String,
    /// See `cg0`.
    pub word0: String,
    /// See `cg0`.
    pub oh0: String,
    /// Convolution: signed width of the coordinate arithmetic, the tap table, the input's (h, w),
    /// the target's (h, w) counters' widths and last values, the start values and increments.
    pub sw: usize,
    /// See `sw`.
    pub taps: TapSteps,
    /// See `sw`.
    pub hin: String,
    /// See `sw`.
    pub win: String,
    /// See `sw`.
    pub oyw: usize,
    /// See `sw`.
    pub oxw: usize,
    /// See `sw`.
    pub oy_last: usize,
    /// See `sw`.
    pub ox_last: usize,
    /// -pad_y, -pad_x, -pad_y * W_in - pad_x.
    pub iy0: String,
    /// See `iy0`.
    pub ix0: String,
    /// See `iy0`.
    pub pb0: String,
    /// stride_y, stride_x, stride_y * W_in - (W_out - 1) * stride_x.
    pub sy: String,
    /// See `sy`.
    pub sx: String,
    /// See `sy`.
    pub pbrow: String,
    /// The weight ROM's address width for the convolution's group base (g * w).
    pub wstep: String,
    /// Stages C to E are the plan's shared datapath (`dense_shared`), whose row sums are this
    /// many bits per lane; None: the unit's own.
    pub shared_tw: Option<usize>,
    /// Stage F too is shared: the state memory it writes adds the shared row sum for all the
    /// shared datapath's units (`banks::share_state_adders`), so the unit has no adder.
    pub shared_add: bool,
}
