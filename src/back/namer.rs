//! One namer for every back end: turns node and model names into legal, unique identifiers
//! that are never a keyword of Verilog, SystemVerilog or C++.

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
}
