//! Logical memories of a plan and their mapping onto the target's memory resources.
//!
//! Mapping rule: memories of at most `register_max_bits` (ROMs: `rom_logic_max_bits`) become
//! flip-flops or LUTs; on FPGAs the rest
//! go to block RAMs in the aspect ratio that needs the fewest blocks; ASIC targets count
//! SRAM. The RTL keeps the state memories and event lists of layers that never run at once in
//! shared memories ([`Bank`]); the blocks those and the other RAMs leave go to ROMs, most LUTs
//! saved per block first (`fit_roms`), so the design never asks for more blocks than the
//! device has. Weight ROMs of at least `large_ram_min_bits` go to the device's large single-port
//! RAMs (iCE40 SPRAM), largest first while blocks remain: they are only read during an
//! inference, so one port suffices, and the design loads them through its weight-load port
//! because large RAMs cannot be initialised. State memories stay in block RAM (the update
//! pipeline reads one row while writing another).

pub use super::memmap::{Bank, LargeLayout};
use super::{Layer, MemMap, Memory, Plan, Schedule, schedule};
use crate::quant::{Leak, Source};
use crate::target::{Kind, Target};

/// Address bits of `n` words (at least 1).
pub fn bits_for(n: usize) -> usize {
    (usize::BITS - n.saturating_sub(1).leading_zeros()).max(1) as usize
}

/// Width of an event entry of `l`: base channel, y, x, then for a multi-spike layer each
/// lane's count (`count_bits` each, lane 0 lowest), then the lane mask.
pub fn event_width(l: &Layer) -> usize {
    let [c, h, w] = l.shape;
    bits_for(c) + bits_for(h) + bits_for(w) + l.lanes * l.count_bits as usize + l.lanes
}

/// Bits of one lane of an output word: a spike, a count, or a membrane value.
pub fn out_lane_bits(plan: &Plan) -> usize {
    let l = &plan.layers[plan.output.layer];
    if plan.output.spikes { l.event_bits() as usize } else { l.v_bits as usize }
}

/// Width of an input event entry: channel, y, x and the value.
pub fn input_event_width(plan: &Plan) -> usize {
    let s = plan.input.shape;
    bits_for(s[0]) + bits_for(s[1]) + bits_for(s[2]) + plan.input.bits as usize
}

/// Words of a projection's weight memory (0 when its weights are one constant).
pub fn weight_depth(plan: &Plan, layer: usize, proj: usize) -> usize {
    plan.layers[layer].weight_depth(proj)
}

/// Bits per lane of the per-neuron parameter ROM (0 when every parameter is uniform).
pub fn param_lane_bits(plan: &Plan, layer: usize) -> usize {
    let l = &plan.layers[layer];
    let pr = &l.params;
    let w = l.v_bits as usize;
    let mut bits = 0;
    for v in [&pr.thr, &pr.bias, &pr.bias_late, &pr.vreset, &pr.vmin] {
        if v.len() > 1 {
            bits += w;
        }
    }
    for v in [&pr.syn_bias, &pr.syn_bias_late] {
        if v.len() > 1 {
            bits += l.y_bits as usize;
        }
    }
    for lk in std::iter::once(&l.leak).chain(l.syn_leak.as_ref()) {
        if let Leak::Mul { b } = lk
            && b.len() > 1
        {
            bits += plan.rules.leak_bits() as usize + 1;
        }
    }
    // A design taking a student mask stores the students' per-neuron shares after them.
    for sh in plan.stored_shares(layer).iter().filter(|sh| sh.vals.len() > 1) {
        bits += if sh.membrane { w } else { l.y_bits as usize };
    }
    bits
}

/// A `depth x width` memory in `t`'s block RAMs, in the aspect ratio that needs the fewest
/// blocks (None when the device has none).
fn in_blocks(t: &Target, depth: usize, width: usize) -> Option<MemMap> {
    let mut best: Option<(u64, [u64; 2])> = None;
    for &[d, w] in &t.device.block_ram_modes {
        let n = (depth as u64).div_ceil(d) * (width as u64).div_ceil(w);
        if best.is_none_or(|(b, _)| n < b) {
            best = Some((n, [d, w]));
        }
    }
    best.map(|(blocks, mode)| MemMap::BlockRam { blocks, mode })
}

fn place(t: &Target, depth: usize, width: usize, rom: bool) -> MemMap {
    let bits = (depth * width) as u64;
    // A ROM in logic costs about one LUT per bit of width per 16 words; a small one is cheaper
    // than a block RAM.
    let limit = if rom { t.mapping.rom_logic_max_bits } else { t.mapping.register_max_bits };
    if t.kind != Kind::Fpga {
        return if bits <= limit { MemMap::Registers } else { MemMap::Sram };
    }
    if bits <= limit {
        return MemMap::Registers;
    }
    in_blocks(t, depth, width).unwrap_or(MemMap::Registers)
}

/// Most rows one shared memory of the RTL gathers: small memories of several layers share one
/// memory (one block RAM deep in the 256 x 16 mode) instead of each keeping its own.
pub const BANK_MAX_ROWS: usize = 256;

/// Groups memories given as (layer, rows) in layer order: small ones share a group while
/// their rows fit [`BANK_MAX_ROWS`]; larger ones stay alone.
pub fn bank_groups(items: &[(usize, usize)]) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = vec![];
    let mut small: Vec<usize> = vec![];
    let mut rows = 0;
    for &(k, r) in items {
        if r > BANK_MAX_ROWS {
            groups.push(vec![k]);
        } else {
            if rows + r > BANK_MAX_ROWS {
                groups.push(std::mem::take(&mut small));
                rows = 0;
            }
            small.push(k);
            rows += r;
        }
    }
    if !small.is_empty() {
        groups.push(small);
    }
    groups.sort_by_key(|g| g[0]);
    groups
}

/// First words of lists that live over the layer spans `items` (first layer, last layer,
/// inclusive; words): two lists whose spans meet never share a word, and each takes the
/// lowest base that keeps it clear of those placed before it (first fit, in order).
pub fn lifetime_bases(items: &[(usize, usize, usize)]) -> Vec<usize> {
    let mut placed: Vec<(usize, usize, usize, usize)> = vec![];
    for &(a, b, n) in items {
        let mut busy: Vec<(usize, usize)> =
            placed.iter().filter(|p| p.0 <= b && a <= p.1).map(|p| (p.2, p.2 + p.3)).collect();
        busy.sort_unstable();
        let mut base = 0;
        for (lo, hi) in busy {
            if base + n <= lo {
                break;
            }
            base = base.max(hi);
        }
        placed.push((a, b, base, n));
    }
    placed.iter().map(|p| p.2).collect()
}

/// The RTL's shared memories of `plan` on `t` given the per-layer `memories`, X groups first,
/// then S, Y and the event lists.
///
/// Streamed schedule (layer-major): one memory per kind holds every layer's. A state row is
/// zero after its layer's last step (the update writes X' = Y' = S' = 0 then, and no early
/// exit cuts a layer short), and only one layer runs at a time, so every layer's state starts
/// at word 0. An event list lives from its layer to its last reader, so lists share words
/// when those spans do not meet ([`lifetime_bases`]).
fn banks(plan: &Plan, memories: &[Memory], t: &Target) -> Vec<Bank> {
    let logic_of = |name: String| memories.iter().find(|m| m.name == name).is_none_or(|m| m.map == MemMap::Registers);
    let mut out = vec![];
    for kind in ["x", "s", "y", "events"] {
        let member = |k: usize, l: &super::Layer| match kind {
            "s" => l.s_bits > 0,
            "y" => l.kind.cuba(),
            "events" => l.spiking() && super::dense::has_event_readers(plan, k),
            _ => true,
        };
        let mname = match kind {
            "x" => "v",
            k => k,
        };
        // A state memory holds one tile of a layer at a time; an event list all its rows it
        // keeps ([`super::dense::listed_rows`]).
        let rows = |k: usize| if kind == "events" { super::dense::listed_rows(plan, k) } else { state_rows(plan, k) };
        let items: Vec<(usize, usize)> = plan
            .layers
            .iter()
            .enumerate()
            .filter(|(k, l)| member(*k, l))
            .map(|(k, l)| (k, if kind == "events" { rows(k) } else { l.rows }))
            .collect();
        let pipelined = plan.schedule == Schedule::Pipelined;
        // Streamed: an event list holds every step (its consumers run after all of them).
        let held = if kind == "events" { steps_held(plan) } else { 1 };
        // Pipelined: every layer runs on its own, so nothing is shared; each consumer of an
        // event list reads a copy of its own, two steps deep.
        let streamed = plan.schedule == Schedule::Streamed;
        let groups = if pipelined {
            items.iter().map(|&(k, _)| vec![k]).collect()
        } else if streamed {
            if items.is_empty() { vec![] } else { vec![items.iter().map(|&(k, _)| k).collect()] }
        } else if let (Some(st), true) = (plan.mask_students().filter(|_| plan.early_exit), kind != "events") {
            // Early exit tells a shared state memory's stale rows by an epoch the clear flips;
            // under a run-time student mask an inactive student's rows are not rewritten, so
            // its memories must not hold another student's or shared layers' rows: each keeps
            // an epoch flipped only when its student ran (a plan whose RTL takes a mask).
            let mut groups: Vec<Vec<usize>> = vec![];
            let mut classes: Vec<Option<usize>> = items.iter().map(|&(k, _)| st.layer[k]).collect();
            classes.sort_unstable();
            classes.dedup();
            for c in classes {
                let own: Vec<(usize, usize)> = items.iter().copied().filter(|&(k, _)| st.layer[k] == c).collect();
                groups.extend(bank_groups(&own));
            }
            groups.sort_by_key(|g| g[0]);
            groups
        } else {
            bank_groups(&items)
        };
        for g in groups {
            let copies = pipelined && kind == "events";
            let ls = g.iter().map(|&k| &plan.layers[k]);
            let words = |k: usize| rows(k) * held;
            let bases: Vec<usize> = if copies {
                vec![0]
            } else if streamed && kind == "events" {
                let last = |k: usize| event_readers(plan, Source::Layer(k)).into_iter().max().unwrap_or(k);
                lifetime_bases(&g.iter().map(|&k| (k, last(k), words(k))).collect::<Vec<_>>())
            } else if streamed {
                vec![0; g.len()]
            } else {
                g.iter().scan(0, |at, &k| Some(std::mem::replace(at, *at + words(k)))).collect()
            };
            let depth: usize = if copies {
                two_steps(rows(g[0]))
            } else {
                g.iter().zip(&bases).map(|(&k, b)| b + words(k)).max().unwrap_or(0)
            };
            let multi = g.len() > 1;
            let width = if kind == "events" {
                ls.clone().map(event_width).max().unwrap_or(1)
            } else {
                let lanes = ls.clone().map(|l| l.lanes).max().unwrap_or(1);
                let lw = ls
                    .clone()
                    .map(|l| match kind {
                        "s" => (l.s_bits as usize).max(1),
                        "y" => (l.y_bits as usize).max(1),
                        _ => l.v_bits as usize,
                    })
                    .max()
                    .unwrap_or(1);
                lanes * lw
            };
            let epoch = usize::from(kind != "events" && multi && plan.early_exit);
            let all_logic = ls.clone().all(|l| logic_of(format!("{}.{mname}", l.name)));
            let map = bank_map(t, all_logic, multi, depth, width, epoch);
            let readers: Vec<Option<usize>> = if copies {
                event_readers(plan, Source::Layer(g[0])).into_iter().map(Some).collect()
            } else {
                vec![None]
            };
            for reader in readers {
                out.push(Bank {
                    kind: kind.into(),
                    layers: g.clone(),
                    bases: bases.clone(),
                    depth,
                    width,
                    map: map.clone(),
                    reader,
                });
            }
        }
    }
    if plan.schedule == Schedule::Streamed {
        out.extend(plane_banks(plan, memories, t));
    }
    out
}

/// Rows of layer `k`'s state memories: a streamed layer in tiles holds one tile's at a time,
/// a fused layer one block of them ([`schedule::fuse_rows`]), any other all its rows.
fn state_rows(plan: &Plan, k: usize) -> usize {
    let l = &plan.layers[k];
    if plan.fused(k) { schedule::fuse_rows(l) } else { l.tile_rows() }
}

/// A sequential or streamed plan's spike plane of layer `k`: (words, bits a word). Streamed,
/// it holds every step, step t at `t x` a step's words; when a fused layer reads it, a word
/// holds the T steps' words of one address side by side instead (a fused gather reads them at
/// once, [`super::Plan::fused`]), so the plan keeps the same bits.
fn plane_shape(plan: &Plan, k: usize) -> (usize, usize) {
    let pl = super::dense::Plane::of(&plan.layers[k]);
    let fused_reader = super::dense::plane_readers(plan, k).into_iter().any(|r| plan.fused(r));
    if fused_reader {
        (pl.depth(), pl.width() * plan.timesteps.max(1))
    } else {
        (pl.depth() * steps_held(plan), pl.width())
    }
}

/// Where a shared memory of `depth` x `width` bits goes on `t`: registers when every member's
/// memory is in registers (and, shared by several, the whole fits `register_max_bits`), else
/// block RAM with `epoch` more bits a word (SRAM on an ASIC).
fn bank_map(t: &Target, all_logic: bool, multi: bool, depth: usize, width: usize, epoch: usize) -> MemMap {
    let logic = all_logic && (!multi || (depth * width) as u64 <= t.mapping.register_max_bits);
    if logic {
        MemMap::Registers
    } else if t.kind != Kind::Fpga {
        MemMap::Sram
    } else {
        in_blocks(t, depth, width + epoch).unwrap_or(MemMap::Registers)
    }
}

/// The streamed schedule's spike planes, shared in time: planes of one geometry (word width
/// and lane groups per word, so one write mask serves them all) in one memory, each from the
/// base its lifetime gives it ([`lifetime_bases`]: from its layer to its last dense reader).
/// A plane holds every step, and every word of a step is written before any reader reads it.
fn plane_banks(plan: &Plan, memories: &[Memory], t: &Target) -> Vec<Bank> {
    use super::dense::{Plane, plane_readers};
    let sources: Vec<usize> = (0..plan.layers.len()).filter(|&k| !plane_readers(plan, k).is_empty()).collect();
    // A plane fused layers read (its T steps a word) never shares a memory with one they do
    // not, whatever the widths: their writes differ.
    let geometry = |k: usize| {
        let pl = Plane::of(&plan.layers[k]);
        let fused_reader = plane_readers(plan, k).into_iter().any(|r| plan.fused(r));
        (plane_shape(plan, k).1, pl.m, fused_reader)
    };
    let mut shapes: Vec<(usize, usize, bool)> = sources.iter().map(|&k| geometry(k)).collect();
    shapes.sort_unstable();
    shapes.dedup();
    let logic_of = |k: usize| {
        let name = format!("{}.plane", plan.layers[k].name);
        memories.iter().find(|m| m.name == name).is_none_or(|m| m.map == MemMap::Registers)
    };
    let mut out = vec![];
    for shape in shapes {
        let width = shape.0;
        let g: Vec<usize> = sources.iter().copied().filter(|&k| geometry(k) == shape).collect();
        let words = |k: usize| plane_shape(plan, k).0;
        let last = |k: usize| plane_readers(plan, k).into_iter().max().unwrap_or(k);
        let bases = lifetime_bases(&g.iter().map(|&k| (k, last(k), words(k))).collect::<Vec<_>>());
        let depth = g.iter().zip(&bases).map(|(&k, b)| b + words(k)).max().unwrap_or(0);
        let map = bank_map(t, g.iter().all(|&k| logic_of(k)), g.len() > 1, depth, width, 0);
        out.push(Bank { kind: "plane".into(), layers: g, bases, depth, width, map, reader: None });
    }
    out
}

/// Moves every weight ROM of `v` (laid out in plan order: layer, then projection) to the
/// external memory of `width`-bit words, in schedule order: layer, then tile of lane groups
/// ([`super::Layer::tiles`]), then projection, so a layer's tile is one contiguous request
/// ([`super::Plan::tiles`]). A ROM of a layer in `n` tiles is `n` slices of `depth / n` words,
/// slice j the words of tile j's lane groups ([`tileable`]): a dense gather's words are by
/// target row or lane group, so its slice is a run of them; an event-driven ROM's words are
/// lane-group fastest (`w * G + g`), so its slice holds word `(w, g)` of the tile at
/// `w * (G / n) + g - j G / n` (the image writer permutes them; the sizes here are the same).
/// Each slice is packed as [`LargeLayout::packed`]: narrow words
/// share a memory word in power-of-two slots, wide ones span memory words (a ROM word never
/// straddles a slot). Adds the on-chip tile buffer `weights.tiles`: two halves (one filled
/// while the other is read), each as many rows as the largest tile's slices take, a row as
/// wide as the widest ROM word's slot, narrower ROMs holding several words a row
/// ([`LargeLayout::tile_rows`]).
fn stream_weights(v: &mut Vec<Memory>, plan: &Plan, t: &Target, width: usize) {
    let roms = |m: &Memory| m.rom && m.role == "weights";
    let row = LargeLayout::tile_row_bits(v.iter().filter(|m| roms(m)).map(|m| m.width), width);
    let mut per_tile = vec![0usize; plan.layers.len()];
    // Per layer: the words of one tile (every slice of its ROMs), then the addresses.
    let mut tile_words = vec![0u64; plan.layers.len()];
    for m in v.iter().filter(|m| roms(m)) {
        let Some(k) = m.layer else { continue };
        let n = plan.layers[k].tiles;
        let layout = LargeLayout::packed(m.depth / n, m.width, width);
        tile_words[k] += (layout.words * layout.cols) as u64;
        per_tile[k] += LargeLayout::tile_rows(m.depth / n, m.width, row);
    }
    let mut layer_base = vec![0u64; plan.layers.len()];
    let mut addr = 0u64;
    for (k, l) in plan.layers.iter().enumerate() {
        layer_base[k] = addr;
        addr += tile_words[k] * l.tiles as u64;
    }
    let mut offset = vec![0u64; plan.layers.len()];
    for m in v.iter_mut().filter(|m| roms(m)) {
        let Some(k) = m.layer else { continue };
        let n = plan.layers[k].tiles;
        let layout = LargeLayout::packed(m.depth / n, m.width, width);
        let words = (layout.words * layout.cols) as u64;
        let stride = if n > 1 { tile_words[k] } else { 0 };
        m.map = MemMap::External { addr: layer_base[k] + offset[k], words, layout, slices: n, stride };
        offset[k] += words;
    }
    let largest = per_tile.iter().copied().max().unwrap_or(0);
    if largest > 0 {
        let depth = 2 * largest;
        v.push(Memory {
            name: "weights.tiles".into(),
            layer: None,
            role: "tiles".into(),
            depth,
            width: row,
            rom: false,
            map: place(t, depth, row, false),
        });
    }
}

/// Rows a streamed plan writes into its tile buffer per pass over its weights: every slice of
/// every external ROM ([`LargeLayout::tile_rows`]), each row written once with its last
/// memory word (0 without a tile buffer).
pub fn tile_rows_written(plan: &Plan) -> u64 {
    let Some(buffer) = plan.memories.iter().find(|m| m.role == "tiles") else { return 0 };
    plan.memories
        .iter()
        .filter_map(|m| match m.map {
            MemMap::External { slices, .. } => {
                Some((slices * LargeLayout::tile_rows(m.depth / slices, m.width, buffer.width)) as u64)
            }
            _ => None,
        })
        .sum()
}

/// Steps a memory of spikes, inputs or outputs holds at once: every step under the streamed
/// schedule (a layer's readers run after all its steps), else one (the pipelined schedule's
/// two-step memories are sized by [`two_steps`]).
pub fn steps_held(plan: &Plan) -> usize {
    if plan.schedule == Schedule::Streamed { plan.timesteps.max(1) } else { 1 }
}

/// Words of a memory holding two steps of `n` words (pipelined schedule): one half per step
/// parity, the parity the top address bit, so no adder sits on the address.
pub fn two_steps(n: usize) -> usize {
    1 << (bits_for(n) + 1)
}

/// The layers reading `src`'s events (event-mode projections), in plan order, each once.
pub fn event_readers(plan: &Plan, src: Source) -> Vec<usize> {
    super::dense::readers(plan, src, super::dense::Mode::Event)
}

/// LUT4s a ROM would take in logic, about: one per bit of width per 16 words.
fn logic_cost(m: &Memory) -> u64 {
    m.width as u64 * m.depth.div_ceil(16) as u64
}

/// Which ROMs take the device's block RAMs the RTL's RAMs leave: every ROM the first mapping
/// put in block RAM, and every ROM deeper than 16 words it put in logic, in order of the LUTs
/// each would cost in logic per block it takes (most first, ties in plan order), while blocks
/// remain; the rest go to logic. ROMs of at most 16 words stay in logic: one LUT per bit,
/// often merged into the logic that reads them. ROMs in large RAM keep it.
fn fit_roms(memories: &mut [Memory], banks: &[Bank], t: &Target) {
    if t.kind != Kind::Fpga || t.device.block_rams == 0 {
        return;
    }
    let rams: u64 = banks.iter().map(|b| blocks_of(&b.map)).sum::<u64>()
        + memories.iter().filter(|m| !m.rom && !is_banked(m, banks)).map(|m| blocks_of(&m.map)).sum::<u64>();
    let mut free = t.device.block_rams.saturating_sub(rams);
    let mut cands: Vec<(usize, MemMap)> = memories
        .iter()
        .enumerate()
        .filter(|(_, m)| {
            m.rom
                && (matches!(m.map, MemMap::BlockRam { .. }) || m.map == MemMap::Registers && m.depth > LOGIC_ROM_WORDS)
        })
        .filter_map(|(i, m)| in_blocks(t, m.depth, m.width).map(|b| (i, b)))
        .collect();
    // Most LUTs saved per block first: a / b > c / d as a * d > c * b.
    cands.sort_by(|(i, a), (j, b)| {
        (logic_cost(&memories[*j]) * blocks_of(a).max(1))
            .cmp(&(logic_cost(&memories[*i]) * blocks_of(b).max(1)))
            .then(i.cmp(j))
    });
    for (i, map) in cands {
        let n = blocks_of(&map);
        memories[i].map = if n <= free {
            free -= n;
            map
        } else {
            MemMap::Registers
        };
    }
}

/// Words of the deepest ROM that stays in logic while block RAMs remain (one LUT per bit):
/// [`fit_roms`] moves every deeper ROM to block RAM while blocks remain, so a deeper ROM in
/// logic means they ran out.
pub const LOGIC_ROM_WORDS: usize = 16;

/// Block RAMs of one mapping.
fn blocks_of(m: &MemMap) -> u64 {
    if let MemMap::BlockRam { blocks, .. } = m { *blocks } else { 0 }
}

/// A per-layer state memory or event list, or a streamed plan's spike plane: the RTL keeps it
/// in a [`Bank`].
pub(crate) fn is_banked(m: &Memory, banks: &[Bank]) -> bool {
    matches!(m.role.as_str(), "membrane" | "static" | "synaptic" | "events")
        || m.role == "plane"
            && banks.iter().any(|b| b.kind == "plane" && m.layer.is_some_and(|k| b.layers.contains(&k)))
}

/// Block RAMs the RTL uses: its shared memories, the other RAMs (input events, output buffer)
/// and the ROMs in block RAM.
pub fn block_rams(memories: &[Memory], banks: &[Bank]) -> u64 {
    banks.iter().map(|b| blocks_of(&b.map)).sum::<u64>()
        + memories.iter().filter(|m| !is_banked(m, banks)).map(|m| blocks_of(&m.map)).sum::<u64>()
}

/// Whether a streamed plan may cut layer `k` into tiles of lane groups: not the output layer
/// (its outputs leave step by step), one channel group, more than one lane group, and every
/// projection's weights grouped by target lane group with its work spread evenly over them.
/// That is a dense gather (weight words by target row or lane group), or an event-driven
/// dense matrix or ungrouped convolution, whose every event takes one beat per lane group at
/// each target position it reaches. A pooling or one-to-one projection driven by events
/// reaches one lane group per event, so tile by tile its work would differ.
pub fn tileable(plan: &Plan, k: usize) -> bool {
    use crate::quant::ProjKind;
    let l = &plan.layers[k];
    plan.external.is_some()
        && k != plan.output.layer
        && l.group_size == l.shape[0]
        && l.lane_groups() > 1
        && l.projections.iter().enumerate().all(|(pi, p)| match l.modes[pi] {
            super::dense::Mode::Dense => true,
            super::dense::Mode::Event => {
                matches!(p.kind, ProjKind::Dense { .. } | ProjKind::Conv { groups: 1, .. })
            }
        })
}

/// Maps `plan`'s memories onto `t` ([`map`]), first choosing the tiles of a streamed plan
/// whose weights come from external memory: none when the memories fit whole layers, else the
/// fewest tiles that make them fit. Candidates halve a cap on a tile's rows in the tile
/// buffer, each tileable layer above it ([`tileable`]) cut into the fewest tiles (a divisor of
/// its lane groups) under it; the first cap that fits is kept, or, when none does, the one
/// needing the fewest block RAMs. Tiles shrink the tile buffer and the state memories (which
/// hold one tile's rows), and cost each tile's phase heads and a re-read of its sources.
pub fn map_into(plan: &mut Plan, t: &Target) {
    for l in &mut plan.net.layers {
        l.tiles = 1;
    }
    (plan.memories, plan.banks) = map(plan, t);
    let candidates: Vec<usize> = (0..plan.layers.len()).filter(|&k| tileable(plan, k)).collect();
    if plan.external.is_none() || candidates.is_empty() || plan.memory_misfit(t).is_none() {
        return;
    }
    let Some(buffer) = plan.memories.iter().find(|m| m.role == "tiles") else { return };
    let row = buffer.width;
    // A layer's tile-buffer rows in `n` tiles.
    let rows_in = |plan: &Plan, k: usize, n: usize| -> usize {
        plan.memories
            .iter()
            .filter(|m| m.rom && m.role == "weights" && m.layer == Some(k))
            .map(|m| LargeLayout::tile_rows(m.depth / n, m.width, row))
            .sum()
    };
    let divisors = |g: usize| (1..=g).filter(move |d| g.is_multiple_of(*d));
    let mut cap = candidates.iter().map(|&k| rows_in(plan, k, 1)).max().unwrap_or(0);
    let mut best: Option<(u64, Vec<usize>)> = None;
    let mut last: Option<Vec<usize>> = None;
    while cap > 1 {
        cap /= 2;
        let tiles: Vec<usize> = (0..plan.layers.len())
            .map(|k| match candidates.contains(&k) {
                true => {
                    let g = plan.layers[k].lane_groups();
                    divisors(g).find(|&n| rows_in(plan, k, n) <= cap).unwrap_or(g)
                }
                false => 1,
            })
            .collect();
        if last.as_ref() == Some(&tiles) {
            continue;
        }
        let mut p = plan.clone();
        for (l, &n) in p.net.layers.iter_mut().zip(&tiles) {
            l.tiles = n;
        }
        (p.memories, p.banks) = map(&p, t);
        if p.memory_misfit(t).is_none() {
            *plan = p;
            return;
        }
        let blocks = p.block_rams();
        if best.as_ref().is_none_or(|(b, _)| blocks < *b) {
            best = Some((blocks, tiles.clone()));
        }
        let done = candidates.iter().all(|&k| tiles[k] == plan.layers[k].lane_groups());
        last = Some(tiles);
        if done {
            break;
        }
    }
    if let Some((blocks, tiles)) = best
        && blocks < plan.block_rams()
    {
        for (l, &n) in plan.net.layers.iter_mut().zip(&tiles) {
            l.tiles = n;
        }
        (plan.memories, plan.banks) = map(plan, t);
    }
}

/// Every logical memory of the plan, mapped onto `t`, and the RTL's shared memories.
pub fn map(plan: &Plan, t: &Target) -> (Vec<Memory>, Vec<Bank>) {
    let mut v = vec![];
    let mut add = |name: String, layer: Option<usize>, role: &str, depth: usize, width: usize, rom: bool| {
        if depth > 0 && width > 0 {
            let map = place(t, depth, width, rom);
            v.push(Memory { name, layer, role: role.into(), depth, width, rom, map });
        }
    };
    let pipelined = plan.schedule == Schedule::Pipelined;
    if pipelined {
        // One copy per consumer, two steps deep when the input changes every step.
        let n = plan.input.numel();
        let depth = if plan.input.per_step { two_steps(n) } else { n };
        for k in event_readers(plan, Source::Input) {
            add(
                format!("input.events.{}", plan.layers[k].name),
                Some(k),
                "input",
                depth,
                input_event_width(plan),
                false,
            );
        }
    } else if !event_readers(plan, Source::Input).is_empty() {
        // Streamed: a per-step input's events of every step.
        let depth = plan.input.numel() * if plan.input.per_step { steps_held(plan) } else { 1 };
        add("input.events".into(), None, "input", depth, input_event_width(plan), false);
    }
    // Under --fuse-steps: the input's bit planes, when a projection gathers from them
    // ([`super::dense::input_plane`]), each step's (a fused reader reads T steps a word).
    if let Some(&r) = super::dense::readers(plan, Source::Input, super::dense::Mode::Dense).first() {
        let pl = super::dense::input_plane(plan, &plan.layers[r]);
        let bits = plan.input.bits.max(1) as usize;
        let steps = if plan.input.per_step { steps_held(plan) } else { 1 };
        let (depth, width) = if plan.fused(r) {
            (pl.depth() * bits, pl.width() * steps)
        } else {
            (pl.depth() * bits * steps, pl.width())
        };
        add("input.plane".into(), None, "input", depth, width, false);
    }
    for (k, l) in plan.layers.iter().enumerate() {
        let lanes = l.lanes;
        // A streamed layer in tiles holds one tile's rows at a time (its state is zero after
        // each tile's last step, as after a layer's); a fused one, a block of them.
        let rows = state_rows(plan, k);
        add(format!("{}.v", l.name), Some(k), "membrane", rows, lanes * l.v_bits as usize, false);
        if l.s_bits > 0 {
            add(format!("{}.s", l.name), Some(k), "static", rows, lanes * l.s_bits as usize, false);
        }
        if l.y_bits > 0 {
            add(format!("{}.y", l.name), Some(k), "synaptic", rows, lanes * l.y_bits as usize, false);
        }
        let pb = param_lane_bits(plan, k);
        if pb > 0 {
            add(format!("{}.params", l.name), Some(k), "params", l.param_depth(), lanes * pb, true);
        }
        if l.spiking() && super::dense::has_event_readers(plan, k) {
            let rows = super::dense::listed_rows(plan, k);
            let depth = if pipelined { two_steps(rows) } else { rows * steps_held(plan) };
            add(format!("{}.events", l.name), Some(k), "events", depth, event_width(l), false);
        }
        // The spike plane: sequential, one memory its readers take turns at; pipelined, a copy
        // per reader, two steps deep; streamed, one holding every step.
        let pl = super::dense::Plane::of(l);
        let (depth, width) = if pipelined { (two_steps(pl.depth()), pl.width()) } else { plane_shape(plan, k) };
        let mut planes: Vec<String> =
            super::dense::plane_readers(plan, k).into_iter().map(|r| super::dense::plane_memory(plan, k, r)).collect();
        planes.dedup();
        for name in planes {
            add(name, Some(k), "plane", depth, width, false);
        }
        for (j, p) in l.projections.iter().enumerate() {
            match super::dense::geometry(plan, k, j).ok().filter(|_| l.modes[j] == super::dense::Mode::Dense) {
                Some(g) => add(format!("{}.w{j}", l.name), Some(k), "weights", g.weight_depth, g.weight_width, true),
                None => {
                    let d = weight_depth(plan, k, j);
                    add(format!("{}.w{j}", l.name), Some(k), "weights", d, lanes * p.weights.bits as usize, true);
                }
            }
        }
        if k == plan.output.layer {
            let w = lanes * out_lane_bits(plan);
            // Pipelined: two steps, one streamed while the layer writes the next (streamed,
            // each step's OUT follows the layer's update of it, as in the sequential schedule).
            let depth = if pipelined { two_steps(l.rows) } else { l.rows };
            add(format!("{}.out", l.name), Some(k), "output", depth, w, false);
        }
    }
    // The fused layers' sum buffer: two halves of a block's rows by T steps, a row's T sums
    // written as its gather ends, read by the block's update passes ([`schedule::fused_cycles`]).
    let fused: Vec<&Layer> = (0..plan.layers.len()).filter(|&k| plan.fused(k)).map(|k| &plan.layers[k]).collect();
    if let Some(width) = fused.iter().map(|l| l.lanes * l.v_bits.max(l.y_bits) as usize).max() {
        let depth = 2 * schedule::FUSE_BLOCK * plan.timesteps;
        add("fused.sums".into(), None, "sums", depth, width, false);
    }
    if let Some(mem) = &plan.external {
        stream_weights(&mut v, plan, t, mem.geometry.width as usize);
    }
    // Large RAM: the biggest weight ROMs first, while blocks remain (ties in plan order).
    let min = t.mapping.large_ram_min_bits;
    let mut free = t.device.large_rams as usize;
    let mut big: Vec<usize> = (0..v.len())
        .filter(|&i| v[i].role == "weights" && min > 0 && (v[i].depth * v[i].width) as u64 >= min)
        .filter(|&i| !matches!(v[i].map, MemMap::External { .. }))
        .collect();
    big.sort_by_key(|&i| std::cmp::Reverse(v[i].depth * v[i].width));
    for i in big {
        if let Some(lay) = LargeLayout::of(t, v[i].depth, v[i].width)
            && lay.blocks() <= free
        {
            free -= lay.blocks();
            v[i].map = MemMap::LargeRam { blocks: lay.blocks() as u64, layout: lay };
        }
    }
    // The banks depend on the RAMs' maps only, which fitting the ROMs leaves alone.
    let banks = banks(plan, &v, t);
    fit_roms(&mut v, &banks, t);
    (v, banks)
}

/// Bits of the output's spike counts over an inference (early exit's and the cascade's
/// counters): enough for T steps of the output layer's most spikes per step.
pub fn count_bits(plan: &Plan) -> usize {
    let n = plan.timesteps * plan.layers[plan.output.layer].event_max() as usize + 1;
    // Bits to address n values (at least 1), as the RTL's counter widths.
    (usize::BITS - n.saturating_sub(1).leading_zeros()).max(1) as usize
}

#[cfg(test)]
mod tests {
    use super::lifetime_bases;

    /// Lists whose spans meet never overlap in words; a list takes the first gap that holds it,
    /// including the words of a list whose span ended.
    #[test]
    fn lifetimes_share_words_only_when_they_do_not_meet() {
        // A chain: each list read by the next layer. 0 and 1 meet (at layer 1), 0 and 2 do not.
        assert_eq!(lifetime_bases(&[(0, 1, 8), (1, 2, 4), (2, 3, 8), (3, 4, 2)]), vec![0, 8, 0, 8]);
        // A shortcut keeps list 0 alive to layer 3, so list 2 goes past both.
        assert_eq!(lifetime_bases(&[(0, 3, 8), (1, 2, 4), (2, 3, 4), (4, 5, 16)]), vec![0, 8, 12, 0]);
        // A gap below a live list is used when the list fits it.
        assert_eq!(lifetime_bases(&[(0, 0, 4), (0, 2, 4), (1, 2, 3), (1, 2, 2)]), vec![0, 4, 0, 8]);
        // Exhaustively on small random spans: no two meeting lists overlap.
        let mut seed = 0x9e37_79b9_u64;
        let mut next = |n: u64| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((seed >> 33) % n) as usize
        };
        for _ in 0..500 {
            let items: Vec<(usize, usize, usize)> = (0..8)
                .map(|a| {
                    let b = a + next(4);
                    (a, b, 1 + next(6))
                })
                .collect();
            let bases = lifetime_bases(&items);
            for i in 0..items.len() {
                for j in 0..i {
                    let ((a1, b1, n1), (a2, b2, n2)) = (items[i], items[j]);
                    let meet = a1 <= b2 && a2 <= b1;
                    let overlap = bases[i] < bases[j] + n2 && bases[j] < bases[i] + n1;
                    assert!(!(meet && overlap), "{items:?} -> {bases:?}");
                }
            }
        }
    }
}
