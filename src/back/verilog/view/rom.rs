//! Memory images: the parameter and weight ROMs as `$readmemh` text, and the load image of
//! the weight ROMs placed in iCE40 SPRAM (which cannot be initialised).
//!
//! Invariants: a ROM file holds one hex line per word, most significant digit first, lane 0
//! in the low bits; padding lanes are zero. The word layouts are [`crate::back::common`]'s,
//! shared with the HLS tables.

use super::common::{EmitError, ExtView, SpramView};
use super::expr::{abits, log2};
use super::types::LayerView;
use crate::back::common::{WeightRom, mem_map, neuron_at};
use crate::hw::{Layer, MemMap, Plan};
use crate::quant::Projection;

/// A wide word built bit by bit, printed as hex.
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

/// The image of a ROM given word by word as bits (bit 0 first), one hex line per word.
pub fn bits_image(words: impl IntoIterator<Item = Vec<bool>>) -> String {
    let mut text = String::new();
    for w in words {
        Word(w).hex_line(&mut text);
    }
    text
}

/// A parameter held in the ROM: its offset in a lane's slice, width and per-neuron values.
pub struct RomParam<'a> {
    /// Offset in the lane's slice.
    pub lo: usize,
    /// Width.
    pub width: usize,
    /// Values, by neuron.
    pub vals: &'a [i64],
}

/// The parameter ROM of `l`: one word per row, or per lane group when the parameters are per
/// channel; each lane's slice of `lane_bits` holds `params`.
pub fn param_image(l: &Layer, params: &[RomParam], lane_bits: usize) -> String {
    let per_ch = l.params_per_channel();
    let mut text = String::new();
    for row in 0..l.param_depth() {
        let mut word = Word::new(lane_bits * l.lanes);
        for lane in 0..l.lanes {
            let Some(n) = neuron_at(l, per_ch, row, lane) else { continue };
            for p in params {
                word.put(lane * lane_bits + p.lo, p.width, p.vals[n]);
            }
        }
        word.hex_line(&mut text);
    }
    text
}

/// The weight ROM of `p` in `l`: `depth` words of `wb` bits per lane (binary weights: one bit,
/// set for +1).
pub fn weight_image(l: &Layer, p: &Projection, wb: usize, depth: usize) -> String {
    let rom = WeightRom::new(l, p);
    let mut lanes = vec![None; l.lanes];
    let mut text = String::new();
    for a in 0..depth {
        rom.word(a, &mut lanes);
        let mut word = Word::new(l.lanes * wb);
        for (lane, w) in lanes.iter().enumerate() {
            match *w {
                Some(v) if wb == 1 => word.put(lane, 1, i64::from(v > 0)),
                Some(v) => word.put(lane * wb, wb, v),
                None => {}
            }
        }
        word.hex_line(&mut text);
    }
    text
}

/// The large-RAM placement of the weight ROM `mem` (held in `file`, `width` bits a word), if
/// the plan gives it one; only iCE40 SPRAM blocks are emitted.
pub fn spram_view(plan: &Plan, mem: &str, file: &str, width: usize) -> Result<Option<SpramView>, EmitError> {
    let Some(MemMap::LargeRam { layout: lay, .. }) = mem_map(plan, mem) else { return Ok(None) };
    if lay.block_width != 16 || lay.block_depth != 16384 {
        return Err(EmitError::LargeRam { mem: mem.to_string(), depth: lay.block_depth, width: lay.block_width });
    }
    Ok(Some(SpramView {
        idx: 0,
        file: file.to_string(),
        width,
        slot: lay.slot,
        pw_log: log2(lay.per_word),
        cols: lay.cols,
        rows: lay.rows,
        words: lay.words,
        rw: abits(lay.rows),
        cw: abits(lay.cols),
        ww: 14 + abits(lay.rows),
    }))
}

/// The tile-buffer read of the weight ROM `mem` (held in `file`, `width` bits a word), if the
/// plan streams it from external memory; its place in the buffer (slot, base) and phase are
/// set once every ROM and the program are known ([`super::tiles`]).
pub fn ext_view(plan: &Plan, mem: &str, file: &str, width: usize) -> Option<ExtView> {
    let Some(MemMap::External { .. }) = mem_map(plan, mem) else { return None };
    Some(ExtView {
        file: file.to_string(),
        width,
        slot: 0,
        pw_log: 0,
        base: 0,
        pc: 0,
        qaw: 0,
        xs_src: String::new(),
        shared: None,
    })
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

/// The weight-load port's ROMs and counters.
pub struct WeightLoad {
    /// Large-RAM weight ROMs, in load order.
    pub spram: Vec<SpramMemView>,
    /// Nibbles of the image (0 without large-RAM ROMs).
    pub nibbles: usize,
    /// Widths of the loader's ROM, block word and column counters.
    pub mw: usize,
    /// See `mw`.
    pub ww: usize,
    /// See `mw`.
    pub cw: usize,
}

/// Numbers the large-RAM ROMs in plan order and moves their words from their ROM files in
/// `roms` into the load image `<module>_wl.hex` (added when there is one).
pub fn weight_load(layers: &mut [LayerView], roms: &mut Vec<(String, String)>, module: &str) -> WeightLoad {
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
    let svs = || layers.iter().flat_map(|l| &l.projs).filter_map(|p| p.spram.as_ref());
    let ww = svs().map(|s| s.ww).max().unwrap_or(15);
    let cw = svs().map(|s| s.cw).max().unwrap_or(1);
    let nibbles = image.len() / 2;
    if !spram.is_empty() {
        roms.push((format!("{module}_wl.hex"), image));
    }
    WeightLoad { mw: abits(spram.len()), spram, nibbles, ww, cw }
}

/// The load image of large-RAM ROMs: for each ROM in order, each block word, each column,
/// its four nibbles lowest first, one hex digit per line. `text` holds the ROM's logical words
/// as hex lines (as for `$readmemh`), `width` bits each.
fn spram_image(text: &str, width: usize, s: &SpramView, out: &mut String) {
    let per_word = 1usize << s.pw_log;
    for word in block_words(&hex_words(text, width), s.slot, per_word, s.cols, s.words) {
        for n in 0..4 {
            let nib = (0..4).fold(0u32, |a, b| a | (u32::from(word[n * 4 + b]) << b));
            out.push(char::from_digit(nib, 16).expect("nibble"));
            out.push('\n');
        }
    }
}

/// The 16-bit memory words of a ROM streamed from external memory, laid out as `lay`
/// ([`crate::hw::memory::LargeLayout::packed`]), from its `$readmemh` text of `width`-bit words.
pub fn packed_words(text: &str, width: usize, lay: &crate::hw::memory::LargeLayout) -> Vec<u64> {
    block_words(&hex_words(text, width), lay.slot, lay.per_word, lay.cols, lay.words)
        .iter()
        .map(|w| w.iter().enumerate().fold(0u64, |a, (b, &x)| a | (u64::from(x) << b)))
        .collect()
}

/// A ROM's logical words from its `$readmemh` text (hex lines), `width` bits each, bit 0 first.
fn hex_words(text: &str, width: usize) -> Vec<Vec<bool>> {
    text.lines()
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
        .collect()
}

/// The 16-bit block words of logical words `bits` in a large-RAM layout: `words` block words,
/// each of `cols` columns (bits `c * 16 ..` of a wide word), or, with one column, `per_word`
/// words in slots of `slot` bits.
fn block_words(bits: &[Vec<bool>], slot: usize, per_word: usize, cols: usize, words: usize) -> Vec<[bool; 16]> {
    let mut out = Vec::with_capacity(words * cols);
    for w in 0..words {
        for c in 0..cols {
            let mut word = [false; 16];
            if cols > 1 {
                if let Some(v) = bits.get(w) {
                    for (b, bit) in word.iter_mut().enumerate() {
                        *bit = v.get(c * 16 + b).copied().unwrap_or(false);
                    }
                }
            } else {
                for k in 0..per_word {
                    if let Some(v) = bits.get(w * per_word + k) {
                        for (b, &bit) in v.iter().enumerate() {
                            word[k * slot + b] = bit;
                        }
                    }
                }
            }
            out.push(word);
        }
    }
    out
}
