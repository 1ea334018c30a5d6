//! The view of one layer as the templates print it ([`LayerView`]): its widths, parameters,
//! event list fields, projections and spike plane. It defines these types only and calls none
//! of the builders: [`super::layer`] builds a layer's view, and the builders of the parts
//! that read it ([`super::rom`], [`super::banks`], [`super::update`], [`super::pipe`]) import
//! it without importing the layer builder (issue 53: no import cycles between files).

use super::proj::ProjView;

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
    /// Has a membrane floor (VMIN).
    pub floor: bool,
    /// Multi-spike: its events and output words carry `cb`-bit counts.
    pub multi: bool,
    /// Count bits (0 unless multi-spike).
    pub cb: usize,
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
    /// A design taking a student mask: the students' shares of the constants it stores,
    /// (constant, student), each a parameter `<constant>_s<student>` ([`crate::hw::Plan::stored_shares`]).
    pub shares: Vec<(String, usize)>,
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
    /// Rows of one step's event list (every tile's): the lane groups times the positions it
    /// keeps (`hw::dense::listed_rows`).
    pub lrows: usize,
    /// The positions the event list keeps when not all (`hw::dense::event_reach`): a bit
    /// per y and per x value of the entry's fields, as Verilog literals (`2^eyw` and `2^exw`
    /// bits, beyond H and W zero), indexed by the update pass's y and x.
    pub reach: Option<(String, String)>,
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
    /// The spike plane its dense readers read (docs/hardware.md 4c); None: no dense reader.
    pub plane: Option<PlaneView>,
    /// Y lane stride.
    pub y_lw: usize,
    /// Tiles of lane groups (1: whole; `rows` is then a tile's) and the width of the
    /// sequencer's `tj` (0 in a design without tiles).
    pub tiles: usize,
    /// A fused layer's unit (`--fuse-steps`), set after the memories' views.
    pub fused: Option<FusedView>,
    /// See `tiles`.
    pub tjw: usize,
    /// Per tile: where its rows start (`hw::Layer::tiles`): first lane group, first row, the
    /// first row's lane group within its channel group, its base channel and its channel
    /// group's first channel, and its spike-plane slot (word, one-hot lane group).
    pub t_g0: Vec<usize>,
    /// See `t_g0`.
    pub t_row0: Vec<usize>,
    /// See `t_g0`.
    pub t_cb0: Vec<usize>,
    /// See `t_g0`.
    pub t_c0: Vec<usize>,
    /// See `t_g0`.
    pub t_cg0: Vec<usize>,
    /// See `t_g0`.
    pub t_plwa: Vec<usize>,
    /// See `t_g0`.
    pub t_ploh: Vec<usize>,
}

/// A `w`-bit Verilog value that is `vals[tj]` for the running tile `tj` (a literal when every
/// tile has the same): a chain of compares against the sequencer's `tj` (`tjw` bits).
pub fn by_tile(tjw: usize, w: usize, vals: &[usize]) -> String {
    by_tile_of("tj", tjw, w, vals)
}

/// [`by_tile`] of the tile held by the `tjw`-bit signal `tile` (`tj`, or `tj_d`: the tile the
/// next edge makes running, for a table registered one cycle ahead).
pub fn by_tile_of(tile: &str, tjw: usize, w: usize, vals: &[usize]) -> String {
    let first = vals.first().copied().unwrap_or(0);
    if tjw == 0 || vals.iter().all(|&v| v == first) {
        return format!("{w}'d{first}");
    }
    let mut e = format!("{w}'d{first}");
    for (j, v) in vals.iter().enumerate().skip(1).rev() {
        e = format!("({tile} == {tjw}'d{j}) ? {w}'d{v} : {e}");
    }
    format!("({e})")
}

impl LayerView {
    /// The start table `what` (`g0`, `row0`, `cb0`, `c0`, `cg0`, `plwa`, `ploh`) as a `w`-bit
    /// Verilog value of the running tile ([`by_tile`]).
    pub fn at_tile(&self, what: &str, w: impl std::borrow::Borrow<usize>) -> String {
        self.tile_table("tj", what, *w.borrow())
    }
    /// [`Self::at_tile`] of the tile the sequencer's next edge makes running (`tj_d`): the
    /// input of a start table's register, which then holds the running tile's value.
    pub fn at_next_tile(&self, what: &str, w: impl std::borrow::Borrow<usize>) -> String {
        self.tile_table("tj_d", what, *w.borrow())
    }
    fn tile_table(&self, tile: &str, what: &str, w: usize) -> String {
        let v = match what {
            "g0" => &self.t_g0,
            "row0" => &self.t_row0,
            "cb0" => &self.t_cb0,
            "c0" => &self.t_c0,
            "cg0" => &self.t_cg0,
            "plwa" => &self.t_plwa,
            _ => &self.t_ploh,
        };
        by_tile_of(tile, self.tjw, w, v)
    }
    /// `rows - k`, floored at zero (a compare that a short layer never reaches).
    pub fn rows_minus(&self, k: usize) -> usize {
        self.rows.saturating_sub(k)
    }
    /// The parameter named `n`.
    pub fn param(&self, n: &str) -> &ParamView {
        &self.params.iter().find(|(name, _)| name == n).expect("known parameter").1
    }
}

/// One memory of a spike plane: the sequential schedule's (its readers take turns) or, pipelined,
/// one reader layer's copy (two steps deep, the step parity on top of the address).
pub struct PlaneMemView {
    /// Memory prefix.
    pub pre: String,
    /// Words and address width.
    pub depth: usize,
    /// See `depth`.
    pub aw: usize,
    /// In logic.
    pub logic: bool,
    /// Write address.
    pub waddr: String,
    /// Readers: (projection prefix, read address).
    pub readers: Vec<(String, String)>,
}

/// A memory holding the spike planes of one or more layers (streamed schedule): each plane
/// holds every step (step t at `t x` its words) from its base; planes whose lifetimes meet
/// never share a word. The writers and the readers run one at a time, so their enables,
/// addresses and data are OR-ed (each zero while idle).
pub struct PlaneBankView {
    /// Signal prefix.
    pub pre: String,
    /// Member names, for the comment.
    pub comment: String,
    /// Word bits and lane groups per word (the members').
    pub width: usize,
    /// See `width`.
    pub m: usize,
    /// Words and address width.
    pub rows: usize,
    /// See `rows`.
    pub aw: usize,
    /// In logic.
    pub logic: bool,
    /// Steps side by side in a word: T for the planes fused layers read, else 1 (`m` then
    /// counts every step's lane groups).
    pub steps: usize,
    /// Member layers and their writes.
    pub members: Vec<PlaneMemberView>,
    /// Dense readers: (unit prefix, read address in this memory).
    pub readers: Vec<(String, String)>,
}

/// A layer writing a plane memory.
pub struct PlaneMemberView {
    /// Its prefix (`l<k>`).
    pub pre: String,
    /// Its write address, enables (one per lane group of the memory's word) and data.
    pub waddr: String,
    /// See `waddr`.
    pub we: String,
    /// See `waddr`.
    pub wd: String,
}

/// A layer's spike plane ([`crate::hw::dense::Plane`]): what the update pass writes where.
pub struct PlaneView {
    /// Lane groups per word, positions and the position counter's width, word bits, address width.
    pub m: usize,
    /// See `m`.
    pub hw: usize,
    /// See `m`.
    pub hww: usize,
    /// See `m`.
    pub width: usize,
    /// See `m`.
    pub aw: usize,
    /// The memories.
    pub mems: Vec<PlaneMemView>,
}

/// One projection of a fused layer, as the gather reads it.
pub struct FusedProjView {
    /// Its accumulate unit's prefix (`l<k>p<j>`): the plane bank and the tile buffer read its
    /// `_act`, `_pa_b` and `_wa_b`.
    pub pre: String,
    /// Words a row gathers (plane words of the source), and the first of them in the row's
    /// cycles (the projections one after the other).
    pub w: usize,
    /// See `w`.
    pub b: usize,
    /// Plane word bits, plane address bits, weight address bits.
    pub pw: usize,
    /// See `pw`.
    pub paw: usize,
    /// See `pw`.
    pub waw: usize,
    /// The row sum's shift.
    pub shift: u32,
    /// The plane memory's read data: T plane words, step t's at `t x pw`.
    pub s: String,
    /// Its turn in stage A (a 1-bit expression of the row's cycle `<unit>_g_c`), and its
    /// plane word there (`paw` bits).
    pub turn: String,
    /// See `turn`.
    pub pa: String,
}

/// The unit of a fused layer.
pub struct FusedView {
    /// Prefix (`l<k>f`, its FUSE phase's unit).
    pub pre: String,
    /// Lanes, rows, row counter bits, steps, step bits.
    pub lanes: usize,
    /// See `lanes`.
    pub rows: usize,
    /// See `lanes`.
    pub rw: usize,
    /// See `lanes`.
    pub t: usize,
    /// See `lanes`.
    pub ttw: usize,
    /// Words a row gathers (all projections) and cycles a row takes, `R = max(W, T)`, and
    /// the row cycle counter's bits.
    pub words: usize,
    /// See `words`.
    pub r: usize,
    /// See `words`.
    pub cw: usize,
    /// Blocks of rows ([`crate::hw::schedule::FUSE_BLOCK`]): how many, the rows of a full one
    /// and of the last, and a pass's cycles over each (`max(rows, fuse_loop)`).
    pub nb: usize,
    /// See `nb`.
    pub nf: usize,
    /// See `nb`.
    pub nl: usize,
    /// See `nb`.
    pub pf: usize,
    /// See `nb`.
    pub pl: usize,
    /// Bits of the update's block counters, of the gather row's block (`rw - blk`, zero for
    /// one block) and of a row within a block.
    pub bw: usize,
    /// See `bw`.
    pub gbw: usize,
    /// See `bw`.
    pub blk: usize,
    /// Cycles from a block's last gather cycle (stage A) to the cycle before its sums are all
    /// in the buffer: `FUSE_SUMS + T - 1`.
    pub dly: usize,
    /// The per-row parameter ROM's read address (block x 16 + row; empty without the ROM).
    pub fpa: String,
    /// Bits of the pass position counter (up to the longer pass's cycles - 1).
    pub pw_pass: usize,
    /// The sum width (the membrane's), the projections' widest plane word and its popcount
    /// (as a dense unit's: nibbles, pairs, padding, tree, width), the shifts' bits.
    pub vw: usize,
    /// See `vw`.
    pub pw: usize,
    /// See `vw`.
    pub nn: usize,
    /// See `vw`.
    pub np: usize,
    /// See `vw`.
    pub npad: usize,
    /// See `vw`.
    pub pairs: String,
    /// See `vw`.
    pub pcw: usize,
    /// See `vw`.
    pub pop: String,
    /// See `vw`.
    pub shw: usize,
    /// The projections.
    pub projs: Vec<FusedProjView>,
    /// Stage A: the row's cycle holds a pair (not the row's padding to T cycles).
    pub pair: String,
    /// Stage A: the turn's shift (registered into B); stage C: the turn's T plane words (`t x pw`) and each
    /// lane's weight bits (`g x pw`), each zero-extended to `pw` bits.
    pub sh_sel: String,
    /// See `sh_sel`.
    pub s_sel: String,
    /// See `sh_sel`.
    pub w_sel: String,
    /// The membrane memory's read data (the bank's word) and its lane stride, which the
    /// update datapath read before the sums were added (`<pre>_fx` replaces it).
    pub x_mem: String,
    /// See `x_mem`.
    pub x_lw: usize,
    /// The update datapath's row bits, and the read row (`<pre>_ui`) at that width.
    pub grw: usize,
    /// See `grw`.
    pub row_ext: String,
    /// The sum buffer's write address while writing (step `hw_t`, row `hw_r`).
    pub fs_wa: String,
    /// Bits of the sum buffer's address and word.
    pub fsaw: usize,
    /// See `fsaw`.
    pub fsw: usize,
}

impl FusedView {
    /// The condition on `<pre>_ui` that a pass's cycle reads a row (after `<pre>_up`): below
    /// the block's rows, where its pass is longer than its rows (no constant comparison).
    pub fn rd_cmp(&self) -> String {
        let (p, w) = (&self.pre, self.pw_pass);
        let below = |n: usize| format!("({p}_ui < {w}'d{n})");
        match (self.nb > 1 && self.pf > self.nf, self.pl > self.nl) {
            (false, false) => String::new(),
            (true, true) => format!(" && ({p}_lb ? {} : {})", below(self.nl), below(self.nf)),
            (true, false) => format!(" && ({p}_lb || {})", below(self.nf)),
            (false, true) if self.nb > 1 => format!(" && (!{p}_lb || {})", below(self.nl)),
            (false, true) => format!(" && {}", below(self.nl)),
        }
    }
}

/// The sum buffer the fused layers share (one FUSE phase runs at a time).
pub struct FusedSumsView {
    /// Words and address bits.
    pub depth: usize,
    /// See `depth`.
    pub aw: usize,
    /// Word bits.
    pub width: usize,
    /// The fused units' prefixes.
    pub units: Vec<String>,
    /// Step bits and the update datapath's row bits.
    pub ttw: usize,
    /// See `ttw`.
    pub grw: usize,
    /// The read address: the running update's step and row (`fz_t x 16 + fz_row`).
    pub raddr: String,
    /// In logic.
    pub logic: bool,
}
