//! Memories: how each array of the plan is placed (the HLS storage its memory map gives, and
//! the partition pragmas of the `[rows][lanes]` state arrays), and the constant tables with
//! their initialisers, among them the weight tables of event and dense projections (the
//! parameter tables are built with the update's parameters, [`super::update`]).
//!
//! Invariants: a weight table is the RTL's weight ROM word for word ([`WeightRom`],
//! [`Dense::weight_bits`]); in a packed binary word lane 0 is the low bit and a padding lane is
//! zero, as in an integer table.

use std::fmt::Write as _;

use super::common::EmitError;
use crate::back::common::{ExternalRom, WeightRom, in_registers, mem_map};
use crate::hw::dense::Dense;
use crate::hw::{Layer, MemMap, Plan};
use crate::quant::Projection;

/// A constant table (ROM) defined inside the function that reads it.
pub struct RomView {
    /// Declaration up to the initialiser, e.g. `static const sf::uint_t<2> rom[128]`.
    pub decl: String,
    /// The table is filled from the external memory ([`ExtLoadView`]): the function reads
    /// this file-scope array as `rom` instead of defining it.
    pub ext: Option<String>,
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

/// How a memory of the plan is placed: the HLS storage for its map.
pub fn storage(plan: &Plan, name: &str, rom: bool) -> &'static str {
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
pub fn state_pragmas(plan: &Plan, var: &str, mem: &str) -> Vec<String> {
    if in_registers(plan, mem) {
        vec![format!("ARRAY_PARTITION variable={var} type=complete dim=0")]
    } else {
        vec![
            format!("ARRAY_PARTITION variable={var} type=complete dim=2"),
            format!("BIND_STORAGE variable={var} {}", storage(plan, mem, false)),
        ]
    }
}

/// Rows of a table, `per_line` values a line, each formatted by `f`.
pub fn table(n: usize, per_line: usize, mut f: impl FnMut(usize, &mut String)) -> String {
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
pub fn int(s: &mut String, v: i64) {
    let _ = write!(s, "{v}");
}

/// A dense matrix or conv gather's weight table, word for word [`Dense::weight_bits`]: word
/// `a` lane `l` holds the plane-width bits of that lane, set where the weight is +1.
pub fn dense_table(plan: &Plan, k: usize, j: usize, g: &Dense, mem: &str) -> RomView {
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
        ext: None,
        pragmas: vec![
            "ARRAY_PARTITION variable=rom type=complete dim=2".into(),
            format!("BIND_STORAGE variable=rom {}", storage(plan, mem, true)),
        ],
    }
}

/// A projection's weight table, word for word the RTL's weight ROM ([`WeightRom`]): binary
/// weights as packed words of `lanes` bits (set for +1), others as `[depth][lanes]` integers.
pub fn weight_table(plan: &Plan, l: &Layer, p: &Projection, mem: &str, depth: usize) -> RomView {
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
            ext: None,
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
        ext: None,
        pragmas: vec![
            "ARRAY_PARTITION variable=rom type=complete dim=2".into(),
            format!("BIND_STORAGE variable=rom {}", storage(plan, mem, true)),
        ],
    }
}

/// A weight table streamed from external memory: a file-scope array, filled by its loader from
/// the top function's `m_axi` port before its layer runs, from the same image the RTL's SDRAM
/// holds ([`ExternalRom`]).
pub struct ExtLoadView {
    /// The array's declaration (without initialiser) and the loader function.
    pub decl: String,
    /// See `decl`.
    pub load: String,
    /// First memory word of slice 0, the distance between slices, slices, table words a slice.
    pub addr: u64,
    /// See `addr`.
    pub stride: u64,
    /// See `addr`.
    pub slices: usize,
    /// See `addr`.
    pub per: usize,
    /// The table word at position `i` of slice `s` (a C++ expression).
    pub word: String,
    /// Memory words a table word (`> 1`), else table words a memory word in `slot`-bit slots.
    pub cols: usize,
    /// See `cols`.
    pub per_word: usize,
    /// See `cols`.
    pub slot: usize,
    /// Entries a table word and the bits of each (lane `e` at bits `e * ew` of the word).
    pub entries: usize,
    /// See `entries`.
    pub ew: usize,
    /// The statement storing entry `e` (`uint64_t v`) of table word `a`.
    pub store: String,
}

/// The loader of `rom`, projection `j` of layer `k`'s table read by function `func`, when its
/// ROM is in external memory (the table then reads the file-scope array). A table word is
/// `entries` entries of `ew` bits, two's complement when `signed`; a one-dimensional table
/// (`flat`, packed binary words) holds one entry a word.
pub fn external_table(
    plan: &Plan,
    (k, j): (usize, usize),
    rom: &mut RomView,
    func: &str,
    (entries, ew, signed, flat): (usize, usize, bool, bool),
) -> Result<Option<ExtLoadView>, EmitError> {
    let Some(x) = ExternalRom::of(plan, k, j) else { return Ok(None) };
    if entries * ew != x.width || x.slices == 0 || !x.depth.is_multiple_of(x.slices) {
        return Err(EmitError::Unsupported(format!(
            "{}.w{j}: a {}-bit external word in {} slices for a table of {entries} x {ew} bits",
            plan.layers[k].name, x.width, x.slices
        )));
    }
    let var = format!("{func}_rom");
    let decl = rom.decl.replacen("static const ", "static ", 1).replacen(" rom[", &format!(" {var}["), 1);
    let word = match x.groups {
        Some(g) => {
            let per_g = g / x.slices;
            format!("(i / {per_g}) * {g} + s * {per_g} + i % {per_g}")
        }
        None => format!("s * {} + i", x.per_slice()),
    };
    let store = match (flat, signed) {
        (true, _) => format!("{var}[a] = v;"),
        (false, false) => format!("{var}[a][e] = v;"),
        (false, true) => format!("{var}[a][e] = sf::int_t<{ew}>(static_cast<int64_t>(v));"),
    };
    for pr in &mut rom.pragmas {
        *pr = pr.replacen("variable=rom ", &format!("variable={var} "), 1);
    }
    rom.ext = Some(var);
    Ok(Some(ExtLoadView {
        load: format!("{func}_load"),
        decl,
        addr: x.addr,
        stride: x.stride,
        slices: x.slices,
        per: x.per_slice(),
        word,
        cols: x.cols,
        per_word: x.per_word,
        slot: x.slot,
        entries,
        ew,
        store,
    }))
}
