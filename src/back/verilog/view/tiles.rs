//! The tile buffer of a design whose weights stream from external memory (docs/hardware.md 4d,
//! docs/streaming.md): the SDRAM controller's requests, one per tile in schedule order; the
//! gearbox that packs the memory's words into buffer rows; the buffer's read port, shared by
//! the weight ROMs it stands for; and what the sequencer waits for. It is the RTL of
//! `hw::sdram::TileFetch` and of the cycle engine's account of it:
//! - tile `j` is requested from the cycle its half (`j % 2`) is free: from the inference's
//!   first cycle for the first two, else from the first cycle of the (layer, tile) after tile
//!   `j - 2`'s (a layer without weights or in one tile counting as one);
//! - a word handed over by the controller (its command registered into the pins, the word
//!   CL cycles later on the bus, then in the controller's data register) is written into the
//!   buffer at the next edge, so a tile is readable `CL + 3` cycles after its last READ (`hw::sdram::tile_latency`);
//! - a layer's first phase goes no earlier than the cycle its tile is readable;
//! - an inference starts at a cycle the controller is quiet, restarting it, so the memory's
//!   timing is `Streamer::at_start`'s at every inference.
//!
//! - a layer in `n` tiles of lane groups holds, per ROM, `n` equal slices back to back in
//!   its tiles' requests (`MemMap::External`); slice `s` of a ROM sits at the same offset of
//!   each tile's half, so a read adds the half of the running tile (`tj`'s parity flips it).
//!
//! Invariants: every weight ROM of the plan is external (`hw::memory` moves them all), a
//! layer's tiles are consecutive, tiles follow plan order and are never empty.

use super::common::{EmitError, Roms};
use super::expr::{abits, log2};
use super::rom::packed_words;
use super::sequencer::Program;
use super::types::LayerView;
use crate::back::verilog::sdram::{model_params, overrides, stream_params};
use crate::hw::memory::LargeLayout;
use crate::hw::sdram::Streamer;
use crate::hw::{MemMap, Plan};

/// A weight ROM's read of the buffer, for the read-address mux.
pub struct ReadView {
    /// The ROM's ACC phase (a fused layer's: its FUSE phase).
    pub pc: usize,
    /// A fused layer's projection: its turn in the FUSE phase's gather (`<unit>_act`), which
    /// the read address is gated by too (the layer's projections read in one phase).
    pub gate: Option<String>,
    /// The buffer row it reads: a Verilog expression of the projection's ROM address.
    pub addr: String,
}

/// A tile: its request and when its half of the buffer is free.
pub struct ReqView {
    /// Index.
    pub j: usize,
    /// First memory word and words.
    pub addr: u64,
    /// See `addr`.
    pub len: u64,
    /// The value of the running layer's register (`lay_q`: layer + 1, 0 before the first)
    /// from which the request may go: 0 for the first two tiles, else tile `j - 2`'s layer + 2.
    /// With layers in tiles the view is per layer with weights (`j` its ordinal, `len` a tile's
    /// words, `need` its first (layer, tile) slot, `ntl` its tiles less one).
    pub need: usize,
    /// See `need`.
    pub ntl: usize,
}

/// A weight ROM as the gearbox writes it, in memory address order.
pub struct GearView {
    /// Index.
    pub m: usize,
    /// Memory words, memory words per ROM word, and the memory words per slot less one (a
    /// mask: a slot starts at a multiple of them); the ROM's first buffer row.
    pub words: usize,
    /// See `words`.
    pub cols: usize,
    /// See `words`.
    pub unit_mask: usize,
    /// See `words`.
    pub base: usize,
    /// The last ROM of its tile: its last word makes the tile readable.
    pub tile_end: bool,
    /// With layers in tiles the view is per ROM (`words` a slice's, `base` its offset in a
    /// half): the first ROM of its layer (where the next tile starts again) and its layer's
    /// tiles less one.
    pub first: usize,
    /// See `first`.
    pub ntl: usize,
}

/// A layer's first phase and the tile it waits for.
pub struct WaitView {
    /// Phase index.
    pub pc: usize,
    /// Tile (a layer in tiles: its first; tile `tj` of it waits for `j + tj`).
    pub j: usize,
    /// The layer is in tiles of lane groups.
    pub tiled: bool,
}

/// The tile buffer and its controller.
pub struct TilesView {
    /// Buffer rows, row width, row address width; the buffer in logic.
    pub depth: usize,
    /// See `depth`.
    pub width: usize,
    /// See `depth`.
    pub aw: usize,
    /// See `depth`.
    pub logic: bool,
    /// The memory's data width and the memory words a row holds.
    pub dw: usize,
    /// See `dw`.
    pub units: usize,
    /// Reads, one per weight ROM.
    pub reads: Vec<ReadView>,
    /// Tiles, in order; the width of a tile index (holds their count).
    pub reqs: Vec<ReqView>,
    /// See `reqs`.
    pub tw: usize,
    /// The controller's address and length widths.
    pub raw: usize,
    /// See `raw`.
    pub lw: usize,
    /// ROMs in memory order; widths of the ROM, memory word, row, column and unit counters.
    pub mems: Vec<GearView>,
    /// See `mems`.
    pub mw: usize,
    /// See `mems`.
    pub ww: usize,
    /// See `mems`.
    pub rw: usize,
    /// See `mems`.
    pub cw: usize,
    /// See `mems`: wide enough to hold `units`.
    pub pw: usize,
    /// Layers in tiles: the tables are per layer and per ROM, stepped by counters (a table of
    /// one entry per tile or slice would be a ROM Yosys puts in block RAM); the width of a
    /// layer ordinal, and a half's rows.
    pub tiled: bool,
    /// See `tiled`.
    pub qlw: usize,
    /// See `tiled`.
    pub half: usize,
    /// See `tiled`: the tiles requested in all.
    pub tiles_n: usize,
    /// Phases that wait for a tile.
    pub waits: Vec<WaitView>,
    /// Width of `lay_q`, and per bit of it the one-hot mask of the phases whose layer + 1 has
    /// that bit set (LOAD: 0).
    pub layw: usize,
    /// See `layw`.
    pub lay_masks: Vec<String>,
    /// The controller's parameter overrides; the chip's bank, address and data widths.
    pub stream: String,
    /// See `stream`.
    pub ba_w: usize,
    /// See `stream`.
    pub a_w: usize,
    /// The chip model's overrides (testbench) and the memory image (`<module>_sdram.hex`).
    pub model: String,
    /// See `model`.
    pub image: String,
    /// Cycles the testbench waits for `start` to be taken: the controller's power-up
    /// initialisation and two refresh intervals.
    pub start_wait: u64,
    /// The slot multiplexers narrow ROMs share.
    pub slots: Vec<SlotView>,
}

impl TilesView {
    /// The chip model's overrides with its image file.
    pub fn model_with_image(&self) -> String {
        let inner = self.model.strip_prefix("#(").and_then(|m| m.strip_suffix(')')).unwrap_or(&self.model);
        format!("#({inner}, .IMAGE(\"{}\"))", self.image)
    }
}

/// The narrow words of one slot width read out of a tile-buffer row by one multiplexer, shared
/// by the ROMs of that width ([`share_slot_reads`]).
pub struct SlotView {
    /// `tx_slot<slot>`; its select `tx_xs<slot>`.
    pub name: String,
    /// See `name`.
    pub xs: String,
    /// Slot bits, and the select's width (log2 of the slots a row holds).
    pub slot: usize,
    /// See `slot`.
    pub pw_log: usize,
    /// The slot's first bit in the row, from `xs`.
    pub lo: String,
    /// The select: the OR of the ROMs' `<pre>_xs` (each zero outside its ACC phase).
    pub or: String,
}

/// ACC phases run one at a time, and a narrow ROM's slot register `<pre>_xs` is set only by a
/// read of its own phase (zero otherwise), so the ROMs of one slot width read their slot
/// through one multiplexer of the buffer's row, selected by the OR of their slot registers,
/// instead of one each: the multiplexer of a wide row is the bulk of a narrow ROM's read, and
/// it grows with the row (the row holds the widest unit's weight word). Each ROM takes its
/// width's low bits of the slot, as it took them of its own. A slot width read by one ROM
/// keeps its own multiplexer.
fn share_slot_reads(layers: &mut [LayerView]) -> Vec<SlotView> {
    use std::collections::BTreeMap;
    let mut by_slot: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for p in layers.iter().flat_map(|l| &l.projs) {
        if let Some(x) = p.ext.as_ref().filter(|x| x.pw_log > 0) {
            by_slot.entry(x.slot).or_default().push(p.pre.clone());
        }
    }
    let mut slots = vec![];
    for (slot, units) in by_slot.into_iter().filter(|(_, u)| u.len() > 1) {
        let (name, xs) = (format!("tx_slot{slot}"), format!("tx_xs{slot}"));
        let mut first = None;
        for p in layers.iter_mut().flat_map(|l| l.projs.iter_mut()).filter(|p| units.contains(&p.pre)) {
            if let Some(x) = p.ext.as_mut() {
                x.shared = Some(name.clone());
                first.get_or_insert((x.pw_log, x.slot_of(&xs)));
            }
        }
        let Some((pw_log, lo)) = first else { continue };
        let or = units.iter().map(|u| format!("{u}_xs")).collect::<Vec<_>>().join(" | ");
        slots.push(SlotView { name, xs, slot, pw_log, lo, or });
    }
    slots
}

/// An external weight ROM: its memory, layer, first memory word, packing in the memory, rows
/// in the tile buffer, and shape.
struct ExtRom<'a> {
    name: &'a str,
    layer: usize,
    addr: u64,
    layout: LargeLayout,
    rows: usize,
    width: usize,
    depth: usize,
    slices: usize,
    stride: u64,
}

/// The tile buffer of `plan` (None when its weights are on chip): fixes each external ROM's
/// buffer base and phase in `layers`, and moves their images from `roms` into the memory
/// image, one hex word per line in address order.
pub fn tiles_view(
    plan: &Plan,
    layers: &mut [LayerView],
    prog: &Program,
    roms: &mut Roms,
    module: &str,
) -> Result<Option<TilesView>, EmitError> {
    let Some(mem) = &plan.external else { return Ok(None) };
    let bad = |m: String| Err(EmitError::Unsupported(format!("streamed weights: {m}")));
    let s = Streamer::new(mem.geometry, mem.timing.at(plan.clock_mhz))
        .map_err(|e| EmitError::Unsupported(format!("streamed weights: {e}")))?;
    let dw = mem.geometry.width as usize;
    if dw != 16 {
        return bad(format!("the {}'s {dw}-bit words: the tile buffer's gearbox takes 16-bit words", mem.part));
    }
    let tiles = plan.tiles();
    if tiles.iter().any(|t| t.words == 0) {
        return bad("an empty tile".into());
    }
    if tiles.windows(2).any(|w| w[0].layer > w[1].layer) {
        return bad("tiles out of plan order".into());
    }
    // A layer's first tile, and its tiles (1: whole).
    let tile_of = |k: usize| tiles.iter().position(|t| t.layer == k);
    let n_of = |k: usize| plan.layers[k].tiles;
    if (0..plan.layers.len()).any(|k| tile_of(k).is_some() && tiles.iter().filter(|t| t.layer == k).count() != n_of(k))
    {
        return bad("a layer's tiles do not match its slices".into());
    }
    // Every external ROM in address order.
    let mut ext: Vec<ExtRom> = plan
        .memories
        .iter()
        .filter_map(|m| match (&m.map, m.layer) {
            (MemMap::External { addr, layout, slices, stride, .. }, Some(layer)) => Some(ExtRom {
                name: &m.name,
                layer,
                addr: *addr,
                layout: *layout,
                rows: 0,
                width: m.width,
                depth: m.depth,
                slices: *slices,
                stride: *stride,
            }),
            _ => None,
        })
        .collect();
    ext.sort_by_key(|e| e.addr);
    let row = LargeLayout::tile_row_bits(ext.iter().map(|e| e.width), dw);
    // A ROM's rows per slice (the whole ROM with one slice).
    for e in &mut ext {
        if e.slices == 0 || !e.depth.is_multiple_of(e.slices) || e.slices != n_of(e.layer) {
            return bad(format!("{} is not cut as its layer's tiles", e.name));
        }
        e.rows = LargeLayout::tile_rows(e.depth / e.slices, e.width, row);
    }
    let half = (0..plan.layers.len())
        .map(|k| ext.iter().filter(|e| e.layer == k).map(|e| e.rows).sum::<usize>())
        .max()
        .unwrap_or(0);
    let buffer = plan.memories.iter().find(|m| m.role == "tiles");
    let Some(buffer) = buffer.filter(|b| b.depth == 2 * half && b.width == row) else {
        return bad("the tile buffer does not match the external ROMs".into());
    };
    // Bases: per layer, its ROMs' slices one after the other in its tile's half (offsets
    // within the half, and the layer's first tile).
    let mut offs = vec![];
    let mut firsts = vec![];
    let mut used = vec![0usize; plan.layers.len()];
    for e in &ext {
        let Some(j) = tile_of(e.layer) else { return bad(format!("{} has no tile", e.name)) };
        offs.push(used[e.layer]);
        firsts.push(j);
        used[e.layer] += e.rows;
    }
    let aw = abits(buffer.depth);
    // The projections' reads, and the memory image from their ROM files.
    let mut image_words: Vec<u64> = vec![];
    let mut reads = vec![];
    for (k, l) in layers.iter_mut().enumerate() {
        for (j, p) in l.projs.iter_mut().enumerate() {
            let Some(x) = p.ext.as_mut() else { continue };
            let name = format!("{}.w{j}", plan.layers[k].name);
            let Some(i) = ext.iter().position(|e| e.name == name) else {
                return bad(format!("{name} is not external"));
            };
            let fused = plan.fused(k);
            let fuse_unit = format!("l{k}f");
            let Some(pc) = prog
                .phases
                .iter()
                .find(|ph| if fused { ph.unit == fuse_unit } else { ph.kind == "acc" && ph.unit == p.pre })
                .map(|ph| ph.idx)
            else {
                return bad(format!("{name} has no ACC phase"));
            };
            let gate = fused.then(|| format!("{}_act", p.pre));
            x.base = (firsts[i] % 2) * half + offs[i];
            x.pc = pc;
            x.qaw = abits(buffer.width);
            // In the buffer, a word sits in a slot of its width's next power of two.
            x.slot = x.width.next_power_of_two();
            x.pw_log = log2(row / x.slot);
            // The ROM's address register: the dense unit's, or the event unit's low bits.
            let (wa, waw) = match &p.dense {
                Some(d) => (format!("{}_wa_b", p.pre), d.waw),
                None => (format!("{}_wa", p.pre), p.waw),
            };
            x.xs_src = if x.pw_log == 0 {
                String::new()
            } else if waw >= x.pw_log {
                format!("{wa}[{}:0]", x.pw_log - 1)
            } else {
                format!("{{{}'d0, {wa}}}", x.pw_log - waw)
            };
            // The row of word a: a >> pw_log, padded to the buffer's address width.
            let row = if waw <= x.pw_log {
                format!("{aw}'d0")
            } else {
                // A tile's words are fewer than a half's rows hold: the address's low bits.
                let bits = (waw - x.pw_log).min(aw);
                let sel = format!("{wa}[{}:{}]", x.pw_log + bits - 1, x.pw_log);
                if bits == aw { sel } else { format!("{{{}'d0, {sel}}}", aw - bits) }
            };
            if ext[i].slices > 1 {
                // The running tile's half: the layer's first tile's, flipped by tj's parity.
                let (f, o) = (firsts[i] % 2, offs[i]);
                reads.push(ReadView {
                    pc,
                    gate,
                    addr: format!("({aw}'d{o} + ((tj[0] ^ 1'b{f}) ? {aw}'d{half} : {aw}'d0) + {row})"),
                });
            } else {
                reads.push(ReadView { pc, gate, addr: format!("({aw}'d{} + {row})", x.base) });
            }
            // The ROM's image, packed into memory words at its address, slice by slice (a
            // dense gather's words are by target row or lane group: slice s is a run of them).
            let at = roms.iter().position(|(f, _)| *f == x.file).expect("the ROM file of an external ROM");
            let (_, text) = roms.remove(at);
            let lines: Vec<&str> = text.lines().collect();
            let per = ext[i].depth / ext[i].slices;
            if lines.len() != ext[i].depth {
                return bad(format!("{name}'s image has {} words, not {}", lines.len(), ext[i].depth));
            }
            // An event-driven ROM's words are lane-group fastest (`w * G + g`): slice s holds
            // its tile's lane groups, word (w, g) at `w * (G / n) + g - s G / n`, as the event
            // unit of a layer in tiles addresses it.
            let (n, groups) = (ext[i].slices, plan.layers[k].lane_groups());
            let event = p.dense.is_none() && n > 1;
            if event && !ext[i].depth.is_multiple_of(groups) {
                return bad(format!("{name}'s {} words are not whole lane groups", ext[i].depth));
            }
            let word = |s: usize, i: usize| -> usize {
                if event {
                    let per_g = groups / n;
                    (i / per_g) * groups + s * per_g + i % per_g
                } else {
                    s * per + i
                }
            };
            for s in 0..ext[i].slices {
                let slice: String = (0..per).map(|i| format!("{}\n", lines[word(s, i)])).collect();
                let words = packed_words(&slice, x.width, &ext[i].layout);
                let start = (ext[i].addr + s as u64 * ext[i].stride) as usize;
                if image_words.len() < start + words.len() {
                    image_words.resize(start + words.len(), 0);
                }
                image_words[start..start + words.len()].copy_from_slice(&words);
            }
        }
    }
    if reads.len() != ext.len() {
        return bad("an external ROM without a reader".into());
    }
    let digits = dw.div_ceil(4);
    let image_text: String = image_words.iter().map(|w| format!("{w:0digits$x}\n")).collect();
    let image = format!("{module}_sdram.hex");
    roms.push((image.clone(), image_text));
    // The slices in memory order (tile after tile, each tile's ROMs in address order), each
    // into its tile's half.
    let mut slices: Vec<(u64, usize, usize)> = vec![]; // (address, ROM, slice)
    for (i, e) in ext.iter().enumerate() {
        slices.extend((0..e.slices).map(|s| (e.addr + s as u64 * e.stride, i, s)));
    }
    slices.sort_unstable();
    let tiled = prog.tjw > 0;
    let mems: Vec<GearView> = if tiled {
        // Per ROM, in address order (a layer's ROMs consecutive): the gearbox steps through
        // a tile's ROMs, then back to the layer's first for its next tile.
        ext.iter()
            .enumerate()
            .map(|(i, e)| GearView {
                m: i,
                words: e.layout.words * e.layout.cols,
                cols: e.layout.cols,
                unit_mask: (e.width.next_power_of_two() / dw).max(1) - 1,
                base: offs[i],
                tile_end: ext.get(i + 1).is_none_or(|n| n.layer != e.layer),
                first: ext.iter().position(|f| f.layer == e.layer).unwrap_or(i),
                ntl: e.slices - 1,
            })
            .collect()
    } else {
        slices
            .iter()
            .enumerate()
            .map(|(m, &(_, i, s))| {
                let e = &ext[i];
                GearView {
                    m,
                    words: e.layout.words * e.layout.cols,
                    cols: e.layout.cols,
                    unit_mask: (e.width.next_power_of_two() / dw).max(1) - 1,
                    base: ((firsts[i] + s) % 2) * half + offs[i],
                    tile_end: slices.get(m + 1).is_none_or(|&(_, ni, ns)| ext[ni].layer != e.layer || ns != s),
                    first: 0,
                    ntl: 0,
                }
            })
            .collect()
    };
    // Schedule slots: one per (layer, tile), a layer without weights or tiles one.
    let mut slot0 = vec![0usize; plan.layers.len()];
    let mut next_slot = 0;
    for (k, l) in plan.layers.iter().enumerate() {
        slot0[k] = next_slot;
        next_slot += l.tiles;
    }
    let slot_of = |j: usize| {
        let k = tiles[j].layer;
        slot0[k] + (j - tile_of(k).expect("a tile's layer has a first tile"))
    };
    let reqs: Vec<ReqView> = if tiled {
        // Per layer with weights, in order; its tiles are back to back, each `len` words.
        (0..plan.layers.len())
            .filter_map(|k| tile_of(k).map(|j| (k, j)))
            .enumerate()
            .map(|(q, (k, j))| ReqView {
                j: q,
                addr: tiles[j].addr,
                len: tiles[j].words,
                need: slot0[k],
                ntl: n_of(k) - 1,
            })
            .collect()
    } else {
        tiles
            .iter()
            .enumerate()
            .map(|(j, t)| ReqView {
                j,
                addr: t.addr,
                len: t.words,
                need: if j < 2 { 0 } else { slot_of(j - 2) + 2 },
                ntl: 0,
            })
            .collect()
    };
    if tiled && tiles.windows(2).any(|w| w[1].addr != w[0].addr + w[0].words) {
        return bad("tiles not back to back in the memory".into());
    }
    // Each layer with a tile: its first phase waits for it (a layer in tiles: for each).
    let mut waits = vec![];
    for k in 0..plan.layers.len() {
        let Some(j) = tile_of(k) else { continue };
        let first =
            prog.phases.iter().find(|ph| ph.layer == Some(k) && matches!(ph.kind.as_str(), "acc" | "upd" | "fuse"));
        let Some(first) = first else { return bad(format!("layer {k} has no phase")) };
        waits.push(WaitView { pc: first.idx, j, tiled: n_of(k) > 1 });
    }
    let layw = abits(next_slot + 1).max(prog.tjw + 1);
    let lay_masks = (0..layw)
        .map(|b| {
            let bits: String = prog
                .phases
                .iter()
                .rev()
                .map(|ph| if ph.layer.is_some_and(|k| ((slot0[k] + 1) >> b) & 1 == 1) { '1' } else { '0' })
                .collect();
            format!("{}'b{bits}", prog.phases.len())
        })
        .collect();
    let qlw = abits(reqs.len() + 1);
    let sp = stream_params(&s);
    let get = |n: &str| sp.iter().find(|(k, _)| *k == n).map_or(1, |(_, v)| *v as usize);
    let (ba_w, ra_w, ca_w, a_w) = (get("BA_W"), get("RA_W"), get("CA_W"), get("A_W"));
    let depth = image_words.len() as u64;
    let slots = share_slot_reads(layers);
    Ok(Some(TilesView {
        slots,
        depth: buffer.depth,
        width: buffer.width,
        aw,
        logic: buffer.map == MemMap::Registers,
        dw,
        units: row / dw,
        reads,
        // At least two bits: `tiles_nx` adds a one-bit increment to a zero-padded one.
        tw: abits(tiles.len() + 1).max(2).max(prog.tjw + 1),
        raw: ba_w + ra_w + ca_w,
        lw: get("LW"),
        reqs,
        mw: abits(mems.len()),
        ww: abits(mems.iter().map(|m| m.words).max().unwrap_or(1)),
        rw: abits(half.max(1)),
        cw: abits(mems.iter().map(|m| m.cols).max().unwrap_or(1)),
        pw: abits(row / dw + 1),
        tiled,
        qlw,
        half,
        tiles_n: tiles.len(),
        mems,
        waits,
        layw,
        lay_masks,
        stream: overrides(&sp),
        ba_w,
        a_w,
        model: overrides(&model_params(&s, depth.max(1))),
        image,
        start_wait: s.timing().init + 2 * s.timing().refi + 100,
    }))
}
