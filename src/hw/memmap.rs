//! Where the plan's memories live: each logical memory and its device mapping, the large-RAM
//! layout of a ROM, and the RTL's shared state memories (banks). Plain data: `memory.rs` fills it.

use serde::Serialize;

use crate::target::Target;

/// Where a logical memory lives on the device.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum MemMap {
    /// Flip-flops.
    Registers,
    /// Initialised or plain block RAMs.
    BlockRam {
        /// Number of blocks.
        blocks: u64,
        /// Aspect ratio used (depth, width).
        mode: [u64; 2],
    },
    /// Large single-port RAM (SPRAM), loaded through the weight-load port.
    LargeRam {
        /// Number of blocks.
        blocks: u64,
        /// How the words sit in the blocks.
        layout: LargeLayout,
    },
    /// Counted only (ASIC targets).
    Sram,
    /// In the board's external memory, streamed into the on-chip tile buffer
    /// (`weights.tiles`) before its layer runs.
    External {
        /// First word address (of the first slice).
        addr: u64,
        /// Words of one slice (of the memory's data bus): `layout.words * layout.cols`.
        words: u64,
        /// How a slice's ROM words sit in the memory's words, and in the tile buffer's rows
        /// ([`LargeLayout::packed`]).
        layout: LargeLayout,
        /// Slices: one per tile of the layer ([`super::Layer::tiles`]), slice j holding the
        /// ROM words of tile j's lane groups (1: the whole ROM).
        #[serde(skip_serializing_if = "is_one")]
        slices: usize,
        /// Words from one slice to the next: the layer's words per tile (0 with one slice).
        #[serde(skip_serializing_if = "is_zero")]
        stride: u64,
    },
}

fn is_one(n: &usize) -> bool {
    *n == 1
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A logical memory of the design.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Memory {
    /// Name, e.g. `fc1.v`, `fc1.w0`, `lif1.events`.
    pub name: String,
    /// Layer index.
    pub layer: Option<usize>,
    /// What it holds: `membrane`, `static`, `synaptic`, `params`, `weights`, `events`,
    /// `input`, `output`.
    pub role: String,
    /// Words.
    pub depth: usize,
    /// Bits per word.
    pub width: usize,
    /// True for read-only (initialised) memories.
    pub rom: bool,
    /// Device mapping.
    pub map: MemMap,
}

impl Memory {
    /// Total bits.
    pub fn bits(&self) -> u64 {
        self.depth as u64 * self.width as u64
    }
}

/// How a ROM of `depth` words x `width` bits sits in large RAM blocks of `block_width`-bit
/// words, `block_depth` deep: narrow words share a block word in power-of-two slots, wide ones
/// span blocks side by side, and deep ones span blocks one below the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct LargeLayout {
    /// Bits per slot (a power of two, at most a block word; the block word when `cols > 1`).
    pub slot: usize,
    /// Logical words per block word (a power of two).
    pub per_word: usize,
    /// Blocks side by side.
    pub cols: usize,
    /// Block words used: `ceil(depth / per_word)`.
    pub words: usize,
    /// Blocks one below the other: `ceil(words / block_depth)`.
    pub rows: usize,
    /// Words per block.
    pub block_depth: usize,
    /// Bits per block word.
    pub block_width: usize,
}

impl LargeLayout {
    /// The layout of a `depth x width` ROM on `t`'s large RAMs (None when it has none).
    pub fn of(t: &Target, depth: usize, width: usize) -> Option<LargeLayout> {
        let bw = t.device.large_ram_width as usize;
        if bw == 0 || t.device.large_rams == 0 || depth == 0 || width == 0 {
            return None;
        }
        let bd = (t.device.large_ram_bits / t.device.large_ram_width) as usize;
        let (slot, per_word, cols) = if width <= bw {
            (width.next_power_of_two(), bw / width.next_power_of_two(), 1)
        } else {
            (bw, 1, width.div_ceil(bw))
        };
        let words = depth.div_ceil(per_word);
        Some(LargeLayout { slot, per_word, cols, words, rows: words.div_ceil(bd), block_depth: bd, block_width: bw })
    }

    /// The layout of a `depth x width` ROM in memory words of `word` bits, one block as deep
    /// as it needs (`rows` 1): what a weight ROM streamed from external memory uses. The
    /// memory holds, per block word in order, its `cols` memory words lowest bits first; the
    /// tile buffer holds one block word per row, its columns side by side.
    pub fn packed(depth: usize, width: usize, word: usize) -> LargeLayout {
        let (slot, per_word, cols) = if width <= word {
            (width.next_power_of_two(), word / width.next_power_of_two(), 1)
        } else {
            (word, 1, width.div_ceil(word))
        };
        let words = depth.div_ceil(per_word);
        LargeLayout { slot, per_word, cols, words, rows: 1, block_depth: words, block_width: word }
    }

    /// The tile buffer's row width for ROMs of `widths` streamed in memory words of `word`
    /// bits: the widest ROM's slot (its width's next power of two), at least a memory word.
    pub fn tile_row_bits(widths: impl IntoIterator<Item = usize>, word: usize) -> usize {
        widths.into_iter().map(usize::next_power_of_two).fold(word, usize::max)
    }

    /// Rows a `depth x width` ROM takes in a tile buffer of `row`-bit rows: its words in slots
    /// of the width's next power of two, `row / slot` to a row, lowest slot first. A row holds
    /// consecutive memory words of the ROM, its `ceil(width / word)` words of a ROM word at the
    /// start of the word's slot.
    pub fn tile_rows(depth: usize, width: usize, row: usize) -> usize {
        depth.div_ceil(row / width.next_power_of_two())
    }

    /// Blocks used.
    pub fn blocks(&self) -> usize {
        self.cols * self.rows
    }
}

/// A memory of the RTL that holds one kind of state (or the event lists) of one or more
/// layers, which never run at the same time: each layer's rows from its base, lanes
/// sign-extended to the widest.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Bank {
    /// `x` (membranes), `s` (static sums), `y` (synaptic currents) or `events`.
    pub kind: String,
    /// Member layers, in order.
    pub layers: Vec<usize>,
    /// Each member's first word, in `layers`' order. Members that run in one pass follow each
    /// other; under the streamed schedule members whose lifetimes do not meet share words
    /// ([`crate::hw::memory`]'s `banks`), so `depth` is the highest end, not the sum.
    pub bases: Vec<usize>,
    /// Words: the highest member's end (`base + rows`, x steps held for event lists).
    pub depth: usize,
    /// Bits per word, without the epoch bit early exit adds to a shared state memory (`map`
    /// counts that bit when the plan exits early).
    pub width: usize,
    /// Device mapping: registers when every member's memory is (and, shared, the whole fits
    /// `register_max_bits`), else block RAM.
    pub map: MemMap,
    /// Pipelined schedule: the consuming layer whose copy of the event list this is (each
    /// consumer reads its own copy; the list holds two steps, one per step parity).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reader: Option<usize>,
}
