//! An SDR SDRAM chip as a design sees it (geometry, timing in nanoseconds and in cycles, the
//! word address map) and the streaming read controller that external-memory designs use,
//! one cycle at a time ([`Streamer`]): the specification `hdl/sf_sdram_stream.v` implements
//! command for command and the cycle engine steps. `sim::sdram` holds the chip model that
//! judges its commands.

use serde::Serialize;

pub use crate::target::{Geometry, TimingNs};

/// Timing in cycles of one clock (each figure the smallest number of whole cycles covering the
/// nanoseconds, at least one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// CAS latency.
    pub cl: u64,
    /// ACTIVATE to READ/WRITE.
    pub rcd: u64,
    /// PRECHARGE to ACTIVATE.
    pub rp: u64,
    /// ACTIVATE to PRECHARGE.
    pub ras: u64,
    /// ACTIVATE to ACTIVATE, same bank.
    pub rc: u64,
    /// ACTIVATE to ACTIVATE, different banks.
    pub rrd: u64,
    /// REFRESH to any command.
    pub rfc: u64,
    /// Last write data to PRECHARGE.
    pub wr: u64,
    /// Longest gap between REFRESH commands (rounded down: the rule is a maximum).
    pub refi: u64,
    /// Power-up wait before the first command.
    pub init: u64,
    /// LOAD MODE REGISTER to any command.
    pub mrd: u64,
}

impl TimingNs {
    /// The cycles of these figures at `clock_mhz`.
    pub fn at(&self, clock_mhz: f64) -> Timing {
        let up = |ns: f64| ((ns * clock_mhz / 1000.0 - 1e-9).ceil() as u64).max(1);
        Timing {
            cl: u64::from(self.cl),
            rcd: up(self.t_rcd),
            rp: up(self.t_rp),
            ras: up(self.t_ras),
            rc: up(self.t_rc),
            rrd: up(self.t_rrd),
            rfc: up(self.t_rfc),
            wr: up(self.t_wr),
            refi: (self.t_refi * clock_mhz / 1000.0).floor() as u64,
            init: up(self.t_init),
            mrd: u64::from(self.mrd),
        }
    }
}

/// One command on the command bus (NOP when nothing is issued).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// No operation.
    Nop,
    /// Open `row` of `bank`.
    Activate {
        /// Bank.
        bank: u32,
        /// Row.
        row: u32,
    },
    /// Read column `col` of the open row of `bank`; the word is on the bus `CL` cycles later.
    Read {
        /// Bank.
        bank: u32,
        /// Column.
        col: u32,
    },
    /// Write `data` to column `col` of the open row of `bank`.
    Write {
        /// Bank.
        bank: u32,
        /// Column.
        col: u32,
        /// The word.
        data: u64,
    },
    /// Close the open row of `bank`.
    Precharge {
        /// Bank.
        bank: u32,
    },
    /// Close every bank.
    PrechargeAll,
    /// Load the mode register with `mode` (the address pins).
    LoadMode {
        /// The value: burst length in bits 2:0, burst type bit 3, CAS latency bits 6:4.
        mode: u32,
    },
    /// Auto refresh (every bank closed).
    Refresh,
}

/// A read request: `len` consecutive words from word address `addr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    /// First word address.
    pub addr: u64,
    /// Words.
    pub len: u64,
}

/// The fewest words a chunk may hold between refreshes.
pub const MIN_BUDGET: u64 = 16;

/// Timing under which a [`Streamer`] cannot serve reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "refresh interval of {refi} cycles leaves fewer than 16 words per chunk beyond twice a chunk's worst-case overhead of {overhead} cycles"
)]
pub struct Unserviceable {
    /// tREFI in cycles.
    pub refi: u64,
    /// The worst-case cycles of a chunk besides its READs.
    pub overhead: u64,
}

/// The mode register value the controller loads: burst length 1 (bits 2:0 = 0), sequential
/// bursts (bit 3 = 0), CAS latency `cl` (bits 6:4), standard operation, programmed write bursts.
pub fn mode_register(cl: u64) -> u32 {
    (cl as u32 & 7) << 4
}

/// Where the streaming controller is between commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Power-up initialisation, at step 0 (the wait), 1 (PRECHARGE ALL issued), 2 and 3 (a
    /// REFRESH issued); LOAD MODE REGISTER ends it.
    Init(u8),
    /// Every bank closed: the next command is a REFRESH, an ACTIVATE or nothing.
    Idle,
    /// A row open (ACTIVATE issued): READs as soon as tRCD allows, one per cycle.
    Reading,
    /// The chunk's READs issued: PRECHARGE as soon as tRAS allows.
    Closing,
}

/// The streaming read controller, one cycle at a time: the specification the RTL controller
/// (`hdl/sf_sdram_stream.v`) implements command for command, and what the cycle engine steps
/// beside the compute. It serves one [`Request`] at a time (a new one is taken only when the
/// last READ of the previous was issued, [`Streamer::ready`]) in chunks of one row at most: a
/// chunk is an ACTIVATE, READs back to back and a PRECHARGE, so every bank is closed between
/// chunks. Before a chunk it issues a REFRESH when the chunk and its worst-case overhead would
/// end past the refresh deadline; idle, it refreshes once the overhead alone would. Timing
/// rules are kept with down-counters (cycles still to wait, 0 = allowed), as the RTL keeps
/// them, never with cycle stamps, so a design can run for ever.
///
/// Invariants: the command stream is accepted by `sim::sdram::Sdram` at the same timing (the tests run
/// them together); the words come back in request order, each `CL` cycles after its READ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Streamer {
    g: Geometry,
    t: Timing,
    /// Cycles an open chunk costs besides its READs, at worst.
    overhead: u64,
    /// Most READs in one chunk: a chunk and its overhead fit one refresh interval.
    budget: u64,
    phase: Phase,
    /// Cycles since the last REFRESH (or power-up), as of the next cycle.
    since_refresh: u64,
    rfc_left: u64,
    rcd_left: u64,
    ras_left: u64,
    rrd_left: u64,
    rp_left: Vec<u64>,
    rc_left: Vec<u64>,
    /// Cycles of the power-up wait still to pass, and of tMRD.
    init_left: u64,
    mrd_left: u64,
    /// Next word address of the request, and words of it not yet read.
    addr: u64,
    left: u64,
    /// The open chunk: bank, next column, READs still to issue.
    bank: u32,
    col: u32,
    chunk: u64,
    /// Cycles until no READ's word is on its way (the RTL's `in_flight` is empty).
    drain: u64,
}

impl Streamer {
    /// A controller for a chip of geometry `g` at timing `t`, at power-up: it first waits
    /// `t.init` cycles, then issues PRECHARGE ALL, two REFRESHes and LOAD MODE REGISTER
    /// ([`mode_register`]), each when the last allows, and serves requests after tMRD (as
    /// `sim::sdram::Sdram::power_up` requires). [`Streamer::initialised`] starts after that.
    /// Refused when the refresh interval leaves fewer than [`MIN_BUDGET`] words beyond twice
    /// the overhead (chunks that short would spend the interval on overhead; no SDRAM part
    /// comes near this: the ULX3S's leaves 352 at 50 MHz).
    pub fn new(g: Geometry, t: Timing) -> Result<Streamer, Unserviceable> {
        let overhead = t.rc + t.rp + t.rcd + t.ras + t.cl + t.rfc + 4;
        if t.refi < 2 * overhead + MIN_BUDGET {
            return Err(Unserviceable { refi: t.refi, overhead });
        }
        Ok(Streamer {
            g,
            t,
            init_left: t.init,
            mrd_left: 0,
            overhead,
            // After a REFRESH the idle check can wait up to `overhead` cycles for the
            // counters before its ACTIVATE, so a chunk of `budget` words and its overhead
            // still end by the deadline: no refresh is ever followed by another for nothing.
            budget: t.refi - 2 * overhead,
            phase: Phase::Init(0),
            since_refresh: 0,
            rfc_left: 0,
            rcd_left: 0,
            ras_left: 0,
            rrd_left: 0,
            rp_left: vec![0; g.banks as usize],
            rc_left: vec![0; g.banks as usize],
            addr: 0,
            left: 0,
            bank: 0,
            col: 0,
            chunk: 0,
            drain: 0,
        })
    }

    /// A controller for a chip already initialised, every bank closed, the refresh interval
    /// counting from now (as `sim::sdram::Sdram::new`).
    pub fn initialised(g: Geometry, t: Timing) -> Result<Streamer, Unserviceable> {
        let mut s = Streamer::new(g, t)?;
        s.phase = Phase::Idle;
        s.init_left = 0;
        Ok(s)
    }

    /// The power-up initialisation is over: the next command may serve a request.
    pub fn is_initialised(&self) -> bool {
        !matches!(self.phase, Phase::Init(_))
    }

    /// The worst-case cycles of a chunk besides its READs (the `OVERHEAD` of the RTL).
    pub fn overhead(&self) -> u64 {
        self.overhead
    }

    /// The most READs in one chunk (the `BUDGET` of the RTL).
    pub fn budget(&self) -> u64 {
        self.budget
    }

    /// Nothing is under way: idle with no request, every timing wait over, no READ's word on
    /// its way, and no REFRESH due. This cycle's command is then a NOP, and
    /// [`Streamer::restart`] brings the controller to [`Streamer::at_start`] (the RTL's
    /// `quiet` output and `restart` input).
    pub fn quiet(&self) -> bool {
        self.phase == Phase::Idle
            && self.left == 0
            && [self.rfc_left, self.rcd_left, self.ras_left, self.rrd_left, self.init_left, self.mrd_left, self.drain]
                .iter()
                .chain(&self.rp_left)
                .chain(&self.rc_left)
                .all(|&c| c == 0)
            && self.since_refresh + self.overhead <= self.t.refi
    }

    /// This cycle's command (a NOP) with the controller [`Streamer::quiet`], taking no
    /// request, and the refresh deadline brought to now: the state after it is
    /// [`Streamer::at_start`]'s, whatever ran before. A design restarts its controller so as
    /// each inference starts. Precondition: [`Streamer::quiet`].
    pub fn restart(&mut self) -> Command {
        debug_assert!(self.quiet(), "restart of a controller that is not quiet");
        let (cmd, _) = self.decide(None);
        self.since_refresh = self.t.refi;
        (self.addr, self.bank, self.col, self.chunk) = (0, 0, 0, 0);
        cmd
    }

    /// A request offered now would be taken: every READ of the last one is issued.
    pub fn ready(&self) -> bool {
        self.left == 0
    }

    /// Words of the current request still to read.
    pub fn left(&self) -> u64 {
        self.left
    }

    /// The command of this cycle, taking `req` if [`Streamer::ready`] (served from the next
    /// cycle on), and the state after it. Precondition: the request lies inside the chip
    /// (`addr + len <= words`), as the design's own compile-time addresses do; `stream_read`
    /// and [`stream_figures`] check it, the RTL's address counter would wrap.
    pub fn decide(&mut self, req: Option<Request>) -> (Command, bool) {
        // A request taken now is acted on from the next cycle: the command of this one depends
        // on registered state only (no path from the request ports to the command pins).
        let accepted = self.left == 0 && req.is_some_and(|r| r.len > 0);
        let t = self.t;
        let cmd = match self.phase {
            Phase::Reading if self.rcd_left == 0 => {
                let cmd = Command::Read { bank: self.bank, col: self.col };
                // Its word is on the bus CL cycles on and handed over one after.
                self.drain = t.cl + 2;
                self.col += 1;
                self.addr += 1;
                self.left -= 1;
                self.chunk -= 1;
                if self.chunk == 0 {
                    self.phase = Phase::Closing;
                }
                cmd
            }
            Phase::Closing if self.ras_left == 0 => {
                self.rp_left[self.bank as usize] = t.rp;
                self.phase = Phase::Idle;
                Command::Precharge { bank: self.bank }
            }
            Phase::Init(0) if self.init_left == 0 => {
                self.rp_left.iter_mut().for_each(|c| *c = t.rp);
                self.phase = Phase::Init(1);
                Command::PrechargeAll
            }
            Phase::Init(step @ (1..=2)) if self.rfc_left == 0 && self.rp_left.iter().all(|&c| c == 0) => {
                self.rfc_left = t.rfc;
                self.since_refresh = 0;
                self.phase = Phase::Init(step + 1);
                Command::Refresh
            }
            Phase::Init(3) if self.rfc_left == 0 => {
                // Idle from here: its first command waits for tMRD.
                self.mrd_left = t.mrd;
                self.phase = Phase::Idle;
                Command::LoadMode { mode: mode_register(t.cl) }
            }
            Phase::Idle => {
                let (bank, row, col) = locate(self.g, self.addr);
                let words = (u64::from(self.g.cols) - u64::from(col)).min(self.left).min(self.budget);
                let refresh = if self.left > 0 {
                    self.since_refresh + self.overhead + words > t.refi
                } else {
                    self.since_refresh + self.overhead > t.refi
                };
                let b = bank as usize;
                if refresh && self.rfc_left == 0 && self.mrd_left == 0 && self.rp_left.iter().all(|&c| c == 0) {
                    self.rfc_left = t.rfc;
                    self.since_refresh = 0;
                    Command::Refresh
                } else if !refresh
                    && self.left > 0
                    && self.rfc_left == 0
                    && self.mrd_left == 0
                    && self.rp_left[b] == 0
                    && self.rc_left[b] == 0
                    && self.rrd_left == 0
                {
                    (self.bank, self.col, self.chunk) = (bank, col, words);
                    self.rcd_left = t.rcd;
                    self.ras_left = t.ras;
                    self.rc_left[b] = t.rc;
                    self.rrd_left = t.rrd;
                    self.phase = Phase::Reading;
                    Command::Activate { bank, row }
                } else {
                    Command::Nop
                }
            }
            _ => Command::Nop,
        };
        // The cycle ends: every counter counts it.
        let down = |c: &mut u64| *c = c.saturating_sub(1);
        for c in [
            &mut self.rfc_left,
            &mut self.rcd_left,
            &mut self.ras_left,
            &mut self.rrd_left,
            &mut self.init_left,
            &mut self.mrd_left,
            &mut self.drain,
        ] {
            down(c);
        }
        self.rp_left.iter_mut().chain(self.rc_left.iter_mut()).for_each(down);
        self.since_refresh += 1;
        if let (true, Some(r)) = (accepted, req) {
            self.addr = r.addr;
            self.left = r.len;
        }
        (cmd, accepted)
    }
}

/// Where word address `addr` lives in a chip of geometry `g`: rows interleave across banks,
/// `addr = (row x banks + bank) x cols + col`, so consecutive rows sit in different banks.
pub fn locate(g: Geometry, addr: u64) -> (u32, u32, u32) {
    let col = (addr % u64::from(g.cols)) as u32;
    let line = addr / u64::from(g.cols);
    ((line % u64::from(g.banks)) as u32, (line / u64::from(g.banks)) as u32, col)
}

impl Streamer {
    /// A controller at the start of an inference of a streamed design: initialised, every
    /// bank closed and every timing wait over, its first command a REFRESH (in cycle 0). So
    /// every inference sees the same memory timing, whatever ran before. A design gets there
    /// by accepting a start at a cycle its controller is [`Streamer::quiet`] and restarting it
    /// ([`Streamer::restart`]): the refresh counter it ran between inferences is then reset,
    /// whatever it held.
    pub fn at_start(g: Geometry, t: Timing) -> Result<Streamer, Unserviceable> {
        let mut s = Streamer::initialised(g, t)?;
        s.since_refresh = t.refi;
        Ok(s)
    }

    /// The chip's geometry.
    pub fn geometry(&self) -> Geometry {
        self.g
    }

    /// The timing in cycles.
    pub fn timing(&self) -> Timing {
        self.t
    }
}

/// Cycles from the READ of a tile's last word (the cycle the controller decides it) to the
/// first cycle a phase may read the tile: one for the command register that drives the pins,
/// `CL` for the word to reach the bus, one for the controller's data register (`rd_valid`),
/// one for the buffer write. Measured on the RTL (`hdl/sf_sdram_stream.v` feeding the tile
/// buffer, tests/rtl_streamed.rs).
pub fn tile_latency(t: &Timing) -> u64 {
    t.cl + 3
}

/// A streamed design's weight fetches, cycle by cycle: the [`Streamer`] serving the plan's
/// tiles (`Plan::tiles`) in order into the two halves of the tile buffer, tile `i` into half
/// `i % 2`. Tile `i` is offered to the controller from the cycle its half is free (`free(i)`:
/// cycle 0 for the first two, else the end of the layer that read tile `i - 2`) and is taken
/// when the controller has issued every READ of the one before. It is ready [`tile_latency`]
/// cycles after its last READ. Cycles count from the inference's start, the controller
/// [`Streamer::at_start`].
#[derive(Clone, Debug)]
pub struct TileFetch {
    s: Streamer,
    /// The controller's next cycle.
    cycle: u64,
    /// Per tile: first word and words.
    tiles: Vec<Request>,
    /// Next tile to offer.
    next: usize,
    /// READs issued, over every tile, and the tile they are in.
    reads: u64,
    reading: usize,
    /// READs of the tiles before `reading`.
    before: u64,
    /// Per tile, the cycle it is ready (once its last READ is issued).
    ready: Vec<Option<u64>>,
    /// ACTIVATE, READ and REFRESH commands issued.
    counts: [u64; 3],
}

impl TileFetch {
    /// Fetches of `tiles` from a chip of geometry `g` at timing `t`.
    /// An empty tile is ready at cycle 0 and never offered.
    pub fn new(g: Geometry, t: Timing, tiles: &[super::Tile]) -> Result<TileFetch, Unserviceable> {
        let mut f = TileFetch {
            s: Streamer::at_start(g, t)?,
            cycle: 0,
            tiles: tiles.iter().map(|x| Request { addr: x.addr, len: x.words }).collect(),
            next: 0,
            reads: 0,
            reading: 0,
            before: 0,
            ready: tiles.iter().map(|x| (x.words == 0).then_some(0)).collect(),
            counts: [0; 3],
        };
        f.skip_empty();
        Ok(f)
    }

    /// Moves `next` and `reading` past empty tiles.
    fn skip_empty(&mut self) {
        let empty = |f: &TileFetch, i: usize| i < f.tiles.len() && f.tiles[i].len == 0;
        while empty(self, self.next) {
            self.next += 1;
        }
        while empty(self, self.reading) {
            self.reading += 1;
        }
    }

    /// The cycle tile `j` is ready, stepping the controller as far as that takes. `free(i)` is
    /// the cycle tile `i`'s half of the buffer is free, asked only for tiles up to `j + 1`
    /// (their halves were read by layers that have ended); None: not yet known, so not
    /// offered.
    pub fn ready(&mut self, j: usize, free: impl Fn(usize) -> Option<u64>) -> u64 {
        let lat = tile_latency(&self.s.timing());
        while self.ready[j].is_none() {
            // A tile up to j has its half free by precondition (an unknown cycle would leave it
            // unoffered for ever): offered from cycle 0 then.
            let free_at = match self.next {
                i if i <= j => Some(free(i).unwrap_or(0)),
                i if i == j + 1 && i < self.tiles.len() => free(i),
                _ => None,
            };
            let req = free_at.filter(|&f| self.cycle >= f).map(|_| self.tiles[self.next]);
            let at = self.cycle;
            let (cmd, accepted) = self.step(req);
            if accepted {
                self.next += 1;
            }
            if let Command::Read { .. } = cmd {
                self.reads += 1;
                if self.reads == self.before + self.tiles[self.reading].len {
                    self.ready[self.reading] = Some(at + lat);
                    self.before = self.reads;
                    self.reading += 1;
                }
            }
            self.skip_empty();
        }
        self.ready[j].unwrap_or(0)
    }

    /// One cycle of the controller, offered `req`: its command, counted.
    fn step(&mut self, req: Option<Request>) -> (Command, bool) {
        let (cmd, accepted) = self.s.decide(req);
        match cmd {
            Command::Activate { .. } => self.counts[0] += 1,
            Command::Read { .. } => self.counts[1] += 1,
            Command::Refresh => self.counts[2] += 1,
            _ => {}
        }
        self.cycle += 1;
        (cmd, accepted)
    }

    /// Steps the controller up to cycle `end` (exclusive) with no new request: the commands
    /// it still issues before the inference's `done` (the last tile's, refreshes).
    pub fn finish(&mut self, end: u64) {
        while self.cycle < end {
            self.step(None);
        }
    }

    /// ACTIVATE, READ and REFRESH commands issued so far.
    pub fn counts(&self) -> [u64; 3] {
        self.counts
    }
}

/// What streaming a plan's weights from a board's SDRAM costs, once per inference (or once per
/// batch of inferences): the plan's bandwidth bound on throughput. Exact for the
/// [`Streamer`]: its cycles are counted command by command, not estimated.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StreamFigures {
    /// The memory part.
    pub part: String,
    /// Interface clock, MHz.
    pub clock_mhz: f64,
    /// Weight memories streamed (every ROM of `role` `weights`).
    pub memories: usize,
    /// Bits of weights.
    pub weight_bits: u64,
    /// SDRAM words holding them (each memory starts on a word).
    pub words: u64,
    /// Inferences that share one pass over the weights (`--batch`).
    pub batch: u64,
    /// Bytes read from the SDRAM per inference.
    pub bytes_per_inference: f64,
    /// Cycles the controller takes to stream every word once (from idle to the last word on
    /// the bus), refreshes included.
    pub cycles_per_pass: u64,
    /// Words per cycle the controller sustains over the pass (1.0 is the bus's peak).
    pub efficiency: f64,
    /// The bus's peak, bytes per second.
    pub peak_bytes_per_s: f64,
    /// Inferences per second if the weights' transfer were the only limit.
    pub bound_inferences_per_s: f64,
    /// Commands of the pass (for its energy).
    pub activates: u64,
    /// READ commands of the pass (`words`).
    pub reads: u64,
    /// REFRESH commands of the pass.
    pub refreshes: u64,
}

/// The figures of streaming `plan`'s weights from `mem`, `batch` inferences per pass (at
/// least 1), at the memory's clock; a plan that streams from it (`Plan::external`) runs the
/// memory at its own clock, and is priced at that. Refused when the memory's timing leaves the
/// controller no room, or when the weights exceed the chip.
pub fn stream_figures(
    plan: &super::Plan,
    mem: &crate::target::ExternalMemory,
    batch: u64,
) -> Result<StreamFigures, StreamError> {
    let clock_mhz = if plan.external.is_some() { plan.clock_mhz } else { mem.clock_mhz };
    let g = mem.geometry;
    let width = u64::from(g.width);
    let weights: Vec<&super::Memory> = plan.memories.iter().filter(|m| m.rom && m.role == "weights").collect();
    let weight_bits: u64 = weights.iter().map(|m| m.bits()).sum();
    // Packed as a streamed plan lays them out (narrow words in power-of-two slots): a plan that
    // streams has them in its tiles (a ROM in tiles packed slice by slice); another, whole.
    let words: u64 = if plan.external.is_some() {
        plan.tiles().iter().map(|t| t.words).sum()
    } else {
        weights
            .iter()
            .map(|m| {
                let l = super::memory::LargeLayout::packed(m.depth, m.width, g.width as usize);
                (l.words * l.cols) as u64
            })
            .sum()
    };
    if words > g.words() {
        return Err(StreamError::TooLarge { words, capacity: g.words(), part: mem.part.clone() });
    }
    let t = mem.timing.at(clock_mhz);
    let mut s = Streamer::initialised(g, t)?;
    let (mut cycles, mut reads, mut activates, mut refreshes, mut taken) = (0u64, 0u64, 0u64, 0u64, words == 0);
    while reads < words {
        let req = (!taken).then_some(Request { addr: 0, len: words });
        let (cmd, accepted) = s.decide(req);
        taken |= accepted;
        match cmd {
            Command::Read { .. } => reads += 1,
            Command::Activate { .. } => activates += 1,
            Command::Refresh => refreshes += 1,
            _ => {}
        }
        cycles += 1;
    }
    // The last word is on the bus CL cycles after its READ.
    let cycles_per_pass = if words > 0 { cycles + t.cl } else { 0 };
    let batch = batch.max(1);
    let hz = clock_mhz * 1e6;
    Ok(StreamFigures {
        part: mem.part.clone(),
        clock_mhz,
        memories: weights.len(),
        weight_bits,
        words,
        batch,
        bytes_per_inference: (words * width / 8) as f64 / batch as f64,
        cycles_per_pass,
        efficiency: if cycles_per_pass > 0 { words as f64 / cycles_per_pass as f64 } else { 1.0 },
        peak_bytes_per_s: hz * width as f64 / 8.0,
        bound_inferences_per_s: if cycles_per_pass > 0 {
            hz * batch as f64 / cycles_per_pass as f64
        } else {
            f64::INFINITY
        },
        activates,
        reads,
        refreshes,
    })
}

impl From<Unserviceable> for StreamError {
    // Not `#[from]`, which would also make it the error's source and print it twice in a
    // message chain.
    fn from(u: Unserviceable) -> Self {
        StreamError::Timing(u)
    }
}

/// Why weights cannot stream from a board's memory.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// The controller has no room between refreshes.
    #[error("external memory: {0}")]
    Timing(Unserviceable),
    /// More weight words than the chip holds.
    #[error("the weights need {words} words of external memory, the {part} holds {capacity}")]
    TooLarge {
        /// Words needed.
        words: u64,
        /// Words the chip holds.
        capacity: u64,
        /// The part.
        part: String,
    },
}
