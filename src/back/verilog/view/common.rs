//! What the view's builders share: the error every builder returns, the list of ROM images
//! they add to ([`Roms`]) and the large-RAM placement of a weight ROM ([`SpramView`]), which
//! [`super::rom`] computes and numbers for the weight-load port and a projection's view holds.
//! It defines these items only and calls none of the builders, so [`super::layer`],
//! [`super::rom`] and the projection builders import it without importing the top builder
//! ([`super::build`]) that calls them, and the view types import it without importing
//! [`super::rom`] (issue 53: no import cycles between files).

/// A design that cannot be emitted (only for plans outside the RTL's limits).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EmitError {
    /// The plan is outside the back end's limits (`back::limits`).
    #[error("Verilog back end: {0}")]
    Unsupported(String),
    /// A projection marked dense that cannot gather densely.
    #[error("Verilog back end: {0}")]
    Dense(crate::hw::dense::ModeError),
    /// A large RAM of a shape the back end does not emit.
    #[error("Verilog back end: {mem}: large RAM of {depth} x {width} bits: only iCE40 SPRAM (16384 x 16) is emitted")]
    LargeRam {
        /// The memory.
        mem: String,
        /// Words per block.
        depth: usize,
        /// Bits per word.
        width: usize,
    },
    /// A template failed to render.
    #[error("Verilog back end: template: {0}")]
    Template(String),
}

/// ROM images in emission order: (file name, hex text).
pub type Roms = Vec<(String, String)>;

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

/// A register of the streamed schedule's sequencer holding `t x stride` (`t` the step the
/// running layer is at): step t's words in a memory that holds every step at `t x stride`.
pub struct StepBase {
    /// Register name (`stb<stride>`).
    pub name: String,
    /// Words per step.
    pub stride: usize,
    /// Width: enough for `(T - 1) x stride`.
    pub w: usize,
}

impl StepBase {
    /// The step base of `stride` words per step, for `t_max` steps.
    pub fn new(stride: usize, t_max: usize) -> StepBase {
        StepBase { name: format!("stb{stride}"), stride, w: super::expr::abits(stride * t_max.max(1)) }
    }

    /// `addr` (an `aw`-bit address of step 0's words, `aw` at least `w`) plus this base.
    pub fn add(&self, addr: &str, aw: usize) -> String {
        debug_assert!(aw >= self.w);
        if aw == self.w {
            format!("({addr} + {})", self.name)
        } else {
            format!("({addr} + {{{}'d0, {}}})", aw - self.w, self.name)
        }
    }
}

/// A weight ROM streamed from external memory: read from the tile buffer (`weights.tiles`),
/// whose row `base + a / per_word` holds word `a` in slot `a % per_word` (narrow words) or in
/// its low `width` bits (wide words), as `hw::memory` packs it ([`crate::hw::memory::LargeLayout::packed`]).
pub struct ExtView {
    /// ROM file whose words the memory image takes (removed from the ROM files).
    pub file: String,
    /// Logical word width.
    pub width: usize,
    /// Slot bits and log2 of the words per buffer row (0 for wide words).
    pub slot: usize,
    /// See `slot`.
    pub pw_log: usize,
    /// Buffer row of the ROM's first packed word: its tile's half, then its place in the tile.
    pub base: usize,
    /// The ROM's ACC phase in the sequencer program: the buffer's read address is this ROM's
    /// while the phase runs.
    pub pc: usize,
    /// Bits of an index into a buffer row.
    pub qaw: usize,
    /// The slot of a read (narrow words): the ROM address's low `pw_log` bits, zero-extended
    /// when the address is narrower (a ROM of fewer words than a row holds).
    pub xs_src: String,
    /// A narrow ROM whose slot is read through the multiplexer the units of its slot width
    /// share (`tx_slot<slot>`, [`super::tiles::share_slot_reads`]); its `<pre>_xs` is then zero
    /// outside its ACC phase. None: its own multiplexer.
    pub shared: Option<String>,
}

impl ExtView {
    /// The first bit of the slot `<pre>_xs` selects in a buffer row (narrow words), as wide as
    /// an index into the row.
    pub fn slot_lo(&self, pre: &str) -> String {
        self.slot_of(&format!("{pre}_xs"))
    }

    /// The first bit of the slot `xs` selects in a buffer row.
    pub fn slot_of(&self, xs: &str) -> String {
        let sb = self.slot.trailing_zeros() as usize;
        let mut parts = vec![];
        if self.qaw > self.pw_log + sb {
            parts.push(format!("{}'d0", self.qaw - self.pw_log - sb));
        }
        parts.push(xs.to_string());
        if sb > 0 {
            parts.push(format!("{sb}'d0"));
        }
        format!("{{{}}}", parts.join(", "))
    }
}

/// The dense accumulate units (`l<r>p<j>`) of reader layer `r` that read layer `k`'s plane.
pub fn plane_units(plan: &crate::hw::Plan, k: usize, r: usize) -> Vec<String> {
    use crate::hw::dense::{Mode, is};
    let lr = &plan.layers[r];
    (0..lr.projections.len())
        .filter(|&j| lr.projections[j].source == crate::quant::Source::Layer(k) && is(lr, j, Mode::Dense))
        .map(|j| format!("l{r}p{j}"))
        .collect()
}

/// Width of the sequencer's tile register `tj` in `plan`'s design: enough for its most tiles
/// of lane groups, 0 when no layer is in tiles (the design then has no `tj`).
pub fn tj_width(plan: &crate::hw::Plan) -> usize {
    let most = plan.layers.iter().map(|l| l.tiles).max().unwrap_or(1);
    if most > 1 { super::expr::abits(most) } else { 0 }
}
