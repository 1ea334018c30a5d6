//! Names from model files, made safe for every text spikefab writes.
//!
//! Node and model names come from files an attacker may have written. They reach emitted text
//! in exactly two forms:
//! - [`Namer::name`]: a legal, unique identifier (`[a-z0-9_]`, at most 48 bytes, never a keyword
//!   of Verilog, SystemVerilog or C++), for module, signal, function and file names;
//! - [`label`]: display text for comments, messages, reports and logs. Its bytes are drawn from
//!   `[A-Za-z0-9_.,:/+=@~-]` and inner spaces, so it cannot end a comment or a string, start a
//!   preprocessor line, continue a line, expand in a shell, TCL or printf format, open an HTML
//!   tag or move a terminal's cursor, and it is at most [`LABEL_MAX`] bytes long.
//!
//! The front ends store every node name as its label ([`crate::ir::Graph::make_names_safe`])
//! and validation checks it ([`is_label`]), so names read from the IR are labels already; the
//! back ends apply [`label`] again (it is idempotent) to every name they write outside an
//! identifier. Other text from a file (versions, messages quoting it) goes through [`text`].

use std::collections::HashSet;

/// Keywords of Verilog-2005, SystemVerilog and C++17 (a name must avoid all of them since
/// the same plan feeds every back end).
const KEYWORDS: &[&str] = &[
    "always",
    "and",
    "assign",
    "automatic",
    "begin",
    "buf",
    "bufif0",
    "bufif1",
    "case",
    "casex",
    "casez",
    "cell",
    "cmos",
    "config",
    "deassign",
    "default",
    "defparam",
    "design",
    "disable",
    "edge",
    "else",
    "end",
    "endcase",
    "endconfig",
    "endfunction",
    "endgenerate",
    "endmodule",
    "endprimitive",
    "endspecify",
    "endtable",
    "endtask",
    "event",
    "for",
    "force",
    "forever",
    "fork",
    "function",
    "generate",
    "genvar",
    "highz0",
    "highz1",
    "if",
    "ifnone",
    "incdir",
    "include",
    "initial",
    "inout",
    "input",
    "instance",
    "integer",
    "join",
    "large",
    "liblist",
    "library",
    "localparam",
    "macromodule",
    "medium",
    "module",
    "nand",
    "negedge",
    "nmos",
    "nor",
    "noshowcancelled",
    "not",
    "notif0",
    "notif1",
    "or",
    "output",
    "parameter",
    "pmos",
    "posedge",
    "primitive",
    "pull0",
    "pull1",
    "pulldown",
    "pullup",
    "pulsestyle_ondetect",
    "pulsestyle_onevent",
    "rcmos",
    "real",
    "realtime",
    "reg",
    "release",
    "repeat",
    "rnmos",
    "rpmos",
    "rtran",
    "rtranif0",
    "rtranif1",
    "scalared",
    "showcancelled",
    "signed",
    "small",
    "specify",
    "specparam",
    "strong0",
    "strong1",
    "supply0",
    "supply1",
    "table",
    "task",
    "time",
    "tran",
    "tranif0",
    "tranif1",
    "tri",
    "tri0",
    "tri1",
    "triand",
    "trior",
    "trireg",
    "unsigned",
    "use",
    "uwire",
    "vectored",
    "wait",
    "wand",
    "weak0",
    "weak1",
    "while",
    "wire",
    "wor",
    "xnor",
    "xor",
    "logic",
    "bit",
    "byte",
    "int",
    "shortint",
    "longint",
    "class",
    "interface",
    "package",
    "program",
    "typedef",
    "enum",
    "struct",
    "union",
    "void",
    "return",
    "break",
    "continue",
    "do",
    "const",
    "static",
    "virtual",
    "extern",
    "import",
    "export",
    "module",
    "property",
    "sequence",
    "assert",
    "assume",
    "cover",
    "alias",
    "auto",
    "bool",
    "char",
    "double",
    "float",
    "long",
    "short",
    "switch",
    "template",
    "this",
    "throw",
    "try",
    "catch",
    "union",
    "volatile",
    "new",
    "delete",
    "operator",
    "private",
    "protected",
    "public",
    "friend",
    "inline",
    "namespace",
    "using",
    "goto",
    "sizeof",
    "true",
    "false",
    "nullptr",
    "main",
    "std",
];

/// Longest label in bytes.
pub const LABEL_MAX: usize = 96;

fn label_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"_.,:/+=@~-".contains(&b)
}

/// True when `s` is its own label: non-empty, at most [`LABEL_MAX`] bytes of the safe set,
/// spaces only inside.
pub fn is_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= LABEL_MAX
        && b.iter().enumerate().all(|(i, &c)| label_byte(c) || (c == b' ' && i > 0 && i + 1 < b.len()))
}

/// Safe display text for a name (see the module docs). Bytes outside the safe set become
/// `~XX` (two lowercase hex digits per UTF-8 byte); a label that would be longer than
/// [`LABEL_MAX`] keeps its first bytes and ends in `~~N`, N being the length of the raw name in
/// bytes. The empty name is `~`. `label(label(x)) == label(x)`.
///
/// ```
/// use spikefab::names::label;
/// assert_eq!(label("block1.lif"), "block1.lif");
/// assert_eq!(label("a\n#include <x>"), "a~0a~23include ~3cx~3e");
/// assert!(label(&"x".repeat(100_000)).ends_with("~~100000"));
/// ```
pub fn label(raw: &str) -> String {
    if is_label(raw) {
        return raw.to_string();
    }
    if raw.is_empty() {
        return "~".into();
    }
    let bytes = raw.as_bytes();
    let piece = |i: usize| -> String {
        let b = bytes[i];
        let space_inside = b == b' ' && i > 0 && i + 1 < bytes.len();
        if label_byte(b) || space_inside { (b as char).to_string() } else { format!("~{b:02x}") }
    };
    // Every byte yields at least one output byte, so LABEL_MAX bytes of input decide.
    let pieces: Vec<String> = (0..bytes.len().min(LABEL_MAX + 1)).map(piece).collect();
    let full: usize = pieces.iter().map(String::len).sum();
    if pieces.len() == bytes.len() && full <= LABEL_MAX {
        return pieces.concat();
    }
    let tail = format!("~~{}", bytes.len());
    let mut s = String::with_capacity(LABEL_MAX);
    for p in pieces {
        if s.len() + p.len() + tail.len() > LABEL_MAX {
            break;
        }
        s.push_str(&p);
    }
    s + &tail
}

/// Free text quoted from a file (a version string, a producer, an attribute), safe for a
/// terminal, a log or a one-line message: ASCII controls, DEL, C1 controls and Unicode format
/// characters (bidirectional overrides, zero-width) become `~XX` per UTF-8 byte, and text past
/// `max` bytes is cut, ending in `~~N` with N the original length.
pub fn text(raw: &str, max: usize) -> String {
    let mut s = String::with_capacity(raw.len().min(max + 16));
    for c in raw.chars() {
        if s.len() >= max {
            s.push_str(&format!("~~{}", raw.len()));
            return s;
        }
        let format_char =
            matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}');
        if c.is_control() || format_char {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                s.push_str(&format!("~{b:02x}"));
            }
        } else {
            s.push(c);
        }
    }
    s
}

/// Labels of a path of names joined by ` -> `; past four names only the first two and the
/// last two are shown, so the text stays within `5 * LABEL_MAX + 40` bytes.
pub fn path_label<S: AsRef<str>>(path: &[S]) -> String {
    let l = |s: &S| label(s.as_ref());
    if path.len() <= 4 {
        return path.iter().map(l).collect::<Vec<_>>().join(" -> ");
    }
    let n = path.len();
    format!("{} -> {} -> ({} more) -> {} -> {}", l(&path[0]), l(&path[1]), n - 4, l(&path[n - 2]), l(&path[n - 1]))
}

/// Labels of a list of names joined by `, `; past four names the rest are counted, so the
/// text stays within `4 * LABEL_MAX + 30` bytes.
pub fn list_label<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let all: Vec<&str> = names.into_iter().collect();
    let mut s = all.iter().take(4).map(|n| label(n)).collect::<Vec<_>>().join(", ");
    if all.len() > 4 {
        s.push_str(&format!(" and {} more", all.len() - 4));
    }
    s
}

/// Hands out sanitised, de-duplicated identifiers.
#[derive(Default)]
pub struct Namer {
    used: HashSet<String>,
}

impl Namer {
    /// A new namer.
    pub fn new() -> Self {
        Namer::default()
    }

    /// A legal identifier derived from `raw`, unique among those this namer returned.
    pub fn name(&mut self, raw: &str) -> String {
        let mut s: String = raw
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '_' { c.to_ascii_lowercase() } else { '_' })
            .collect();
        while s.contains("__") {
            s = s.replace("__", "_");
        }
        let s = s.trim_matches('_').to_string();
        let mut s = if s.is_empty() { "n".to_string() } else { s };
        if s.starts_with(|c: char| c.is_ascii_digit()) {
            s = format!("n{s}");
        }
        if KEYWORDS.contains(&s.as_str()) || s.starts_with("sf_") {
            s = format!("{s}_");
        }
        if s.len() > 48 {
            s.truncate(48);
        }
        let mut cand = s.clone();
        let mut k = 1;
        while self.used.contains(&cand) {
            cand = format!("{s}_{k}");
            k += 1;
        }
        self.used.insert(cand.clone());
        cand
    }

    /// Reserves a name so `name` never returns it.
    pub fn reserve(&mut self, n: &str) {
        self.used.insert(n.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_legal_unique_and_not_keywords() {
        let mut n = Namer::new();
        assert_eq!(n.name("block1.lif"), "block1_lif");
        assert_eq!(n.name("block1.lif"), "block1_lif_1");
        assert_eq!(n.name("module"), "module_");
        assert_eq!(n.name("0"), "n0");
        assert_eq!(n.name("\u{ff}\u{fe}"), "n");
        assert_eq!(n.name("sf_ram"), "sf_ram_");
        let x = n.name("a-b c");
        assert_eq!(x, "a_b_c");
    }

    #[test]
    fn labels_are_safe_bounded_and_readable() {
        assert_eq!(label("block1.lif"), "block1.lif");
        assert_eq!(label("fc 1"), "fc 1");
        assert_eq!(label(" x"), "~20x");
        assert_eq!(label("a\n#include <x>"), "a~0a~23include ~3cx~3e");
        assert_eq!(label("*/\\\"%$[]`'~"), "~2a/~5c~22~25~24~5b~5d~60~27~");
        assert_eq!(label(""), "~");
        assert_eq!(label("a "), "a~20");
        assert_eq!(label("\u{e9}\0"), "~c3~a9~00");
        let long = "x".repeat(100_000);
        let l = label(&long);
        assert!(l.len() <= LABEL_MAX && l.ends_with("~~100000") && l.starts_with("xxxx"), "{l}");
        let exact = "y".repeat(LABEL_MAX);
        assert_eq!(label(&exact), exact);
        let over = "\n".repeat(40);
        let l = label(&over);
        assert!(l.len() <= LABEL_MAX && l.ends_with("~~40") && l.starts_with("~0a~0a"), "{l}");
        for raw in ["\r\n", "\\", "a\u{1b}[2J", "\u{202e}evil", "\"; system(1); \"", &long, &over, "x y"] {
            let l = label(raw);
            assert!(is_label(&l), "{raw:?} -> {l}");
            assert_eq!(label(&l), l, "idempotent");
        }
        assert_eq!(text("ok \u{e9} \u{1b}[2J\n\u{202e}", 100), "ok \u{e9} ~1b[2J~0a~e2~80~ae");
        assert_eq!(text(&"z".repeat(50), 10), format!("{}~~50", "z".repeat(10)));
    }
}
