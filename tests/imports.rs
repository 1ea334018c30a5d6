//! The file-level import graph of `src/` (issue 53): no import circles between files, and no
//! layer importing one above it.
//!
//! Every file of the library (`src/lib.rs`) and of the binary (`src/main.rs`, `src/cli/`) is
//! parsed with `syn`. An edge A -> B means that code in A names an item that B defines:
//!
//! - `use` declarations (grouped, renamed, `self`, `super`, `crate`, `spikefab::` in the
//!   binary) and paths in code and in macro arguments (`crate::x::Item`, `super::f(`,
//!   `module::Item` after `use crate::x::module;`) are resolved to the file that DEFINES the
//!   item: modules map to files (`crate::a::b` is `src/a/b.rs` or `src/a/b/mod.rs`), inline
//!   modules belong to their file, and a re-export (`pub use x::{A, B};`) is followed to the
//!   file that defines the item. A path through a type (`crate::ir::Op::Lif`) stops at the type.
//! - A `pub use` gives its own file no edge unless the file's code names the item too: a
//!   `mod.rs` that declares submodules and re-exports their items is a hub, not a dependency.
//!   `mod x;` declarations are not edges either.
//! - `use crate::sim::cycle;` alone gives no edge; `cycle::run(..)` later gives one to the file
//!   that defines `run`. An item the parser cannot find in a module it reached (one a macro
//!   defines) gives an edge to that module's own file.
//! - Code under `#[cfg(test)]` is IGNORED: unit test modules, test-only helpers and test-only
//!   files (`quant/testing.rs`) may import anything. External crates and self edges are ignored.
//!
//! `import_graph_has_no_cycles` fails on any cycle, naming its files and the items behind each
//! edge; `no_upward_imports` fails on any import of a higher layer of docs/architecture.md.
//! Run with `--nocapture` to see the graph's size.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use proc_macro2::{Spacing, TokenStream, TokenTree};
use syn::visit::Visit;

/// The layer order of docs/architecture.md; a file may import its own layer or a lower one.
/// Files outside these directories (and the shared modules) have no layer.
///
/// The diagram lists `front/` above `ir/`, but a front end's contract is an `ir::Graph`: the IR
/// is plain data below every stage, the front ends included.
const LAYERS: &[&[&str]] = &[
    &["ir"],
    &["front"],
    &["valid"],
    &["analysis"],
    &["passes"],
    &["quant"],
    &["hw"],
    &["chip"],
    &["back"],
    &["sim"],
    &["flow"],
    &["energy", "report"],
    &["dse"],
    &["driver"],
    &["cli", "main", "python"],
];

/// Shared by every stage (docs/architecture.md): any layer may import them.
const SHARED: &[&str] = &["data", "limits", "names", "target", "options", "model", "lib"];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Crate {
    Lib,
    Bin,
}

#[derive(Clone, Debug)]
struct Import {
    path: Vec<String>,
    public: bool,
}

#[derive(Debug)]
struct Module {
    krate: Crate,
    file: String,
    parent: Option<usize>,
    children: HashMap<String, usize>,
    /// Items this module defines (not modules).
    defs: HashSet<String>,
    /// Names brought in by `use`, each with its path as written.
    imports: HashMap<String, Import>,
    /// `use path::*` paths.
    globs: Vec<Vec<String>>,
    /// Multi-segment paths in the (non-test) code of this module (macro arguments included).
    paths: Vec<Vec<String>>,
    /// Every identifier the (non-test) code names outside `use` declarations.
    idents: HashSet<String>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Res {
    Module(usize),
    /// An item, in the module that defines it.
    Item(usize),
}

struct Crawl {
    modules: Vec<Module>,
    lib_root: usize,
}

fn has_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg") && {
            let t = a.meta.require_list().map(|l| l.tokens.to_string()).unwrap_or_default();
            t.split(|c: char| !c.is_alphanumeric() && c != '_').any(|w| w == "test") && !t.contains("not")
        }
    })
}

/// Flattens a use tree into (binding, path) leaves and glob paths.
fn use_leaves(
    tree: &syn::UseTree,
    prefix: &mut Vec<String>,
    out: &mut Vec<(String, Vec<String>)>,
    globs: &mut Vec<Vec<String>>,
) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            use_leaves(&p.tree, prefix, out, globs);
            prefix.pop();
        }
        syn::UseTree::Name(n) => {
            let name = n.ident.to_string();
            if name == "self" {
                out.push((prefix.last().cloned().unwrap_or_default(), prefix.clone()));
            } else {
                let mut p = prefix.clone();
                p.push(name.clone());
                out.push((name, p));
            }
        }
        syn::UseTree::Rename(r) => {
            let mut p = prefix.clone();
            if r.ident != "self" {
                p.push(r.ident.to_string());
            }
            out.push((r.rename.to_string(), p));
        }
        syn::UseTree::Glob(_) => globs.push(prefix.clone()),
        syn::UseTree::Group(g) => {
            for t in &g.items {
                use_leaves(t, prefix, out, globs);
            }
        }
    }
}

/// Paths (`a::b::c`) and identifiers in a macro's tokens.
fn scan_tokens(tokens: TokenStream, paths: &mut Vec<Vec<String>>, idents: &mut HashSet<String>) {
    let mut cur: Vec<String> = Vec::new();
    let mut colons = 0; // ':' seen after the last identifier of `cur`
    let flush = |cur: &mut Vec<String>, paths: &mut Vec<Vec<String>>| {
        if cur.len() > 1 {
            paths.push(std::mem::take(cur));
        }
        cur.clear();
    };
    for t in tokens {
        match t {
            TokenTree::Ident(i) => {
                let s = i.to_string();
                idents.insert(s.clone());
                if colons != 2 {
                    flush(&mut cur, paths);
                }
                cur.push(s);
                colons = 0;
            }
            TokenTree::Punct(p) if p.as_char() == ':' && !cur.is_empty() => {
                colons += 1;
                if colons == 1 && p.spacing() != Spacing::Joint {
                    flush(&mut cur, paths);
                    colons = 0;
                }
            }
            TokenTree::Group(g) => {
                flush(&mut cur, paths);
                colons = 0;
                scan_tokens(g.stream(), paths, idents);
            }
            _ => {
                flush(&mut cur, paths);
                colons = 0;
            }
        }
    }
    flush(&mut cur, paths);
}

/// Collects one module's items, imports and paths; `mod` items are returned for the crawler.
#[derive(Default)]
struct Collect<'a> {
    defs: HashSet<String>,
    imports: Vec<(String, Import)>,
    globs: Vec<Vec<String>>,
    paths: Vec<Vec<String>>,
    idents: HashSet<String>,
    mods: Vec<&'a syn::ItemMod>,
}

impl<'a> Visit<'a> for Collect<'a> {
    fn visit_item(&mut self, i: &'a syn::Item) {
        let attrs: &[syn::Attribute] = match i {
            syn::Item::Const(x) => &x.attrs,
            syn::Item::Enum(x) => &x.attrs,
            syn::Item::Fn(x) => &x.attrs,
            syn::Item::Impl(x) => &x.attrs,
            syn::Item::Macro(x) => &x.attrs,
            syn::Item::Mod(x) => &x.attrs,
            syn::Item::Static(x) => &x.attrs,
            syn::Item::Struct(x) => &x.attrs,
            syn::Item::Trait(x) => &x.attrs,
            syn::Item::Type(x) => &x.attrs,
            syn::Item::Union(x) => &x.attrs,
            syn::Item::Use(x) => &x.attrs,
            _ => &[],
        };
        if has_cfg_test(attrs) {
            return;
        }
        let name = match i {
            syn::Item::Const(x) => Some(&x.ident),
            syn::Item::Enum(x) => Some(&x.ident),
            syn::Item::Fn(x) => Some(&x.sig.ident),
            syn::Item::Static(x) => Some(&x.ident),
            syn::Item::Struct(x) => Some(&x.ident),
            syn::Item::Trait(x) => Some(&x.ident),
            syn::Item::Type(x) => Some(&x.ident),
            syn::Item::Union(x) => Some(&x.ident),
            syn::Item::Macro(x) => x.ident.as_ref(),
            _ => None,
        };
        if let Some(n) = name {
            self.defs.insert(n.to_string());
        }
        match i {
            syn::Item::Mod(m) => self.mods.push(m),
            syn::Item::Use(u) => {
                if u.leading_colon.is_some() {
                    return; // `use ::crate_name`: external
                }
                let public = !matches!(u.vis, syn::Visibility::Inherited);
                let mut leaves = Vec::new();
                use_leaves(&u.tree, &mut Vec::new(), &mut leaves, &mut self.globs);
                for (binding, path) in leaves {
                    self.imports.push((binding, Import { path, public }));
                }
            }
            _ => syn::visit::visit_item(self, i),
        }
    }

    fn visit_impl_item_fn(&mut self, f: &'a syn::ImplItemFn) {
        if !has_cfg_test(&f.attrs) {
            syn::visit::visit_impl_item_fn(self, f);
        }
    }

    fn visit_stmt(&mut self, s: &'a syn::Stmt) {
        let test = match s {
            syn::Stmt::Local(l) => has_cfg_test(&l.attrs),
            syn::Stmt::Macro(m) => has_cfg_test(&m.attrs),
            _ => false,
        };
        if !test {
            syn::visit::visit_stmt(self, s);
        }
    }

    fn visit_path(&mut self, p: &'a syn::Path) {
        let segs: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        self.idents.extend(segs.iter().cloned());
        if segs.len() > 1 && p.leading_colon.is_none() {
            self.paths.push(segs);
        }
        syn::visit::visit_path(self, p);
    }

    fn visit_visibility(&mut self, _: &'a syn::Visibility) {
        // `pub(in crate::a::b)` names a module, not a dependency.
    }

    fn visit_ident(&mut self, i: &'a proc_macro2::Ident) {
        self.idents.insert(i.to_string());
    }

    fn visit_macro(&mut self, m: &'a syn::Macro) {
        scan_tokens(m.tokens.clone(), &mut self.paths, &mut self.idents);
        syn::visit::visit_macro(self, m);
    }
}

impl Crawl {
    fn new(root: &Path) -> Crawl {
        let mut c = Crawl { modules: Vec::new(), lib_root: 0 };
        c.lib_root = c.load_file(root, "src/lib.rs", Crate::Lib, None);
        c.load_file(root, "src/main.rs", Crate::Bin, None);
        c
    }

    fn load_file(&mut self, root: &Path, file: &str, krate: Crate, parent: Option<usize>) -> usize {
        let text = std::fs::read_to_string(root.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let ast = syn::parse_file(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        let stem = Path::new(file).file_stem().unwrap().to_str().unwrap();
        let dir = Path::new(file).parent().unwrap();
        let child_dir = if matches!(stem, "mod" | "lib" | "main") { dir.to_path_buf() } else { dir.join(stem) };
        self.add_module(root, file, krate, parent, &ast.items, &child_dir)
    }

    fn add_module(
        &mut self,
        root: &Path,
        file: &str,
        krate: Crate,
        parent: Option<usize>,
        items: &[syn::Item],
        child_dir: &Path,
    ) -> usize {
        let mut col = Collect::default();
        for i in items {
            col.visit_item(i);
        }
        let id = self.modules.len();
        let mut imports = HashMap::new();
        for (b, imp) in col.imports {
            imports.insert(b, imp);
        }
        self.modules.push(Module {
            krate,
            file: file.to_string(),
            parent,
            children: HashMap::new(),
            defs: col.defs,
            imports,
            globs: col.globs,
            paths: col.paths,
            idents: col.idents,
        });
        for m in col.mods {
            let name = m.ident.to_string();
            let child = match &m.content {
                Some((_, items)) => self.add_module(root, file, krate, Some(id), items, &child_dir.join(&name)),
                None => {
                    let a = child_dir.join(format!("{name}.rs"));
                    let b = child_dir.join(&name).join("mod.rs");
                    let f = if root.join(&a).exists() { a } else { b };
                    self.load_file(root, f.to_str().unwrap(), krate, Some(id))
                }
            };
            self.modules[id].children.insert(name, child);
        }
        id
    }

    fn crate_root(&self, mut m: usize) -> usize {
        while let Some(p) = self.modules[m].parent {
            m = p;
        }
        m
    }

    /// What `name` means at the start of a path in module `m` (None: external or local).
    fn first(&self, m: usize, name: &str, depth: usize, module: bool) -> Option<Res> {
        match name {
            "crate" => Some(Res::Module(self.crate_root(m))),
            "self" => Some(Res::Module(m)),
            "super" => self.modules[m].parent.map(Res::Module),
            "spikefab" if self.modules[m].krate == Crate::Bin => Some(Res::Module(self.lib_root)),
            "Self" => None,
            _ => self.lookup(m, name, depth, module),
        }
    }

    /// `name` looked up inside module `m`: a child module, an item it defines, or one it imports.
    /// A module and a function may share a name (`driver::compile`): `module` says which one a
    /// path wants (a segment followed by `::` is a module or a type, the last one an item).
    fn lookup(&self, m: usize, name: &str, depth: usize, module: bool) -> Option<Res> {
        if depth > 32 {
            return None;
        }
        let md = &self.modules[m];
        let child = md.children.get(name).map(|&c| Res::Module(c));
        if module && child.is_some() {
            return child;
        }
        if md.defs.contains(name) {
            return Some(Res::Item(m));
        }
        if let Some(imp) = md.imports.get(name) {
            return self.resolve(m, &imp.path, depth + 1, module);
        }
        if child.is_some() {
            return child;
        }
        for g in &md.globs {
            if let Some(Res::Module(gm)) = self.resolve(m, g, depth + 1, true)
                && let Some(r) = self.lookup(gm, name, depth + 1, module)
            {
                return Some(r);
            }
        }
        None
    }

    /// A path in module `m`: the module it names, or the module that defines the item.
    /// `module`: whether the last segment should be taken as a module when it can be both.
    fn resolve(&self, m: usize, path: &[String], depth: usize, module: bool) -> Option<Res> {
        let n = path.len();
        let mut r = self.first(m, &path[0], depth, module || n > 1)?;
        for (k, seg) in path.iter().enumerate().skip(1) {
            let Res::Module(c) = r else { return Some(r) };
            r = match seg.as_str() {
                "self" => Res::Module(c),
                "super" => Res::Module(self.modules[c].parent?),
                // Not found (a macro's item, say): the module's own file.
                _ => self.lookup(c, seg, depth, module || k + 1 < n).unwrap_or(Res::Item(c)),
            };
        }
        Some(r)
    }

    /// The file graph: (from, to) -> the names behind the edge.
    fn edges(&self) -> Edges {
        let mut edges = Edges::new();
        let mut add = |from: usize, to: usize, what: &str| {
            let (a, b) = (&self.modules[from].file, &self.modules[to].file);
            if a != b {
                edges.entry((a.clone(), b.clone())).or_default().insert(what.to_string());
            }
        };
        for (id, md) in self.modules.iter().enumerate() {
            let mut used_modules: HashSet<&str> = HashSet::new();
            for p in &md.paths {
                let Some(r) = self.resolve(id, p, 0, false) else { continue };
                if md.imports.contains_key(&p[0]) {
                    used_modules.insert(&p[0]);
                }
                match r {
                    Res::Item(d) => add(id, d, &p.join("::")),
                    Res::Module(c) => add(id, c, &p.join("::")),
                }
            }
            for (binding, imp) in &md.imports {
                if imp.public && !md.idents.contains(binding) {
                    continue; // a re-export its own code does not use
                }
                let as_module = self.resolve(id, &imp.path, 0, true);
                if matches!(as_module, Some(Res::Module(_))) && used_modules.contains(binding.as_str()) {
                    continue; // `use a::module;`: the paths through it gave the edges
                }
                match (self.resolve(id, &imp.path, 0, false), as_module) {
                    (Some(Res::Item(d)), _) => add(id, d, &imp.path.join("::")),
                    (_, Some(Res::Module(c))) if !imp.public => add(id, c, &imp.path.join("::")),
                    _ => {}
                }
            }
            for g in &md.globs {
                if let Some(Res::Item(d)) = self.resolve(id, g, 0, true) {
                    add(id, d, &format!("{}::*", g.join("::")));
                }
            }
        }
        edges
    }
}

/// The file graph of `src/`, parsed once for all tests.
fn graph() -> &'static Edges {
    static GRAPH: std::sync::OnceLock<Edges> = std::sync::OnceLock::new();
    GRAPH.get_or_init(|| Crawl::new(Path::new(env!("CARGO_MANIFEST_DIR"))).edges())
}

type Edges = BTreeMap<(String, String), BTreeSet<String>>;

/// The strongly connected components of more than one file (Tarjan), each file mapped to its
/// component's number.
fn components(adj: &BTreeMap<&str, BTreeSet<&str>>) -> HashMap<String, usize> {
    struct T<'a, 'g> {
        adj: &'g BTreeMap<&'a str, BTreeSet<&'a str>>,
        index: HashMap<&'a str, usize>,
        low: HashMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: HashSet<&'a str>,
        out: Vec<Vec<&'a str>>,
    }
    fn visit<'a>(t: &mut T<'a, '_>, v: &'a str) {
        let i = t.index.len();
        t.index.insert(v, i);
        t.low.insert(v, i);
        t.stack.push(v);
        t.on.insert(v);
        for &w in t.adj.get(v).into_iter().flatten() {
            if !t.index.contains_key(w) {
                visit(t, w);
                let l = t.low[v].min(t.low[w]);
                t.low.insert(v, l);
            } else if t.on.contains(w) {
                let l = t.low[v].min(t.index[w]);
                t.low.insert(v, l);
            }
        }
        if t.low[v] == t.index[v] {
            let mut c = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                c.push(w);
                if w == v {
                    break;
                }
            }
            t.out.push(c);
        }
    }
    let mut t = T { adj, index: HashMap::new(), low: HashMap::new(), stack: vec![], on: HashSet::new(), out: vec![] };
    for &v in adj.keys() {
        if !t.index.contains_key(v) {
            visit(&mut t, v);
        }
    }
    let mut big: Vec<Vec<&str>> = t.out.into_iter().filter(|c| c.len() > 1).collect();
    big.iter_mut().for_each(|c| c.sort());
    big.sort();
    big.iter().enumerate().flat_map(|(k, c)| c.iter().map(move |f| (f.to_string(), k))).collect()
}

/// The shortest cycle through the edge `a -> b` (a breadth-first search from `b` back to `a`),
/// rotated to start at its smallest file.
fn shortest_cycle(adj: &BTreeMap<&str, BTreeSet<&str>>, a: &str, b: &str) -> Vec<String> {
    let mut prev: HashMap<&str, &str> = HashMap::new();
    let mut queue = std::collections::VecDeque::from([b]);
    let mut seen: HashSet<&str> = HashSet::from([b]);
    while let Some(v) = queue.pop_front() {
        if v == a {
            break;
        }
        for &w in adj.get(v).into_iter().flatten() {
            if seen.insert(w) {
                prev.insert(w, v);
                queue.push_back(w);
            }
        }
    }
    let mut back = vec![a];
    while *back.last().unwrap() != b {
        back.push(prev[back.last().unwrap()]);
    }
    back.reverse(); // b .. a
    let mut c: Vec<String> = std::iter::once(a).chain(back).map(String::from).collect();
    c.pop(); // a, b, .., (a)
    let start = (0..c.len()).min_by_key(|&i| &c[i]).unwrap();
    c.rotate_left(start);
    c.push(c[0].clone());
    c
}

fn layer(file: &str) -> Option<usize> {
    let rest = file.strip_prefix("src/")?;
    let top = rest.split('/').next()?.trim_end_matches(".rs");
    if SHARED.contains(&top) {
        return None;
    }
    LAYERS.iter().position(|l| l.contains(&top))
}

/// A chain with the names behind each hop (at most four per hop).
fn show_chain(chain: &[String], edges: &Edges) -> String {
    let mut s = chain[0].clone();
    for w in chain.windows(2) {
        let names = &edges[&(w[0].clone(), w[1].clone())];
        let mut shown: Vec<&str> = names.iter().map(String::as_str).take(4).collect();
        if names.len() > 4 {
            shown.push("..");
        }
        s += &format!("\n      -[{}]-> {}", shown.join(", "), w[1]);
    }
    s
}

/// Every edge on a cycle (both ends in one strongly connected component) fails the test, with
/// the shortest cycle through it (one cycle per edge not already shown).
#[test]
fn import_graph_has_no_cycles() {
    let edges = graph();
    let mut adj: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (a, b) in edges.keys() {
        adj.entry(a).or_default().insert(b);
    }
    let files: BTreeSet<&str> = edges.keys().flat_map(|(a, b)| [a.as_str(), b.as_str()]).collect();
    println!("{} files with imports, {} file-to-file edges", files.len(), edges.len());
    let comp = components(&adj);
    let on_cycle: Vec<&(String, String)> =
        edges.keys().filter(|(a, b)| comp.get(a).is_some_and(|c| comp.get(b) == Some(c))).collect();
    let mut cycles: Vec<Vec<String>> = Vec::new();
    let mut shown: HashSet<(String, String)> = HashSet::new();
    for (a, b) in &on_cycle {
        if !shown.contains(&(a.clone(), b.clone())) {
            let c = shortest_cycle(&adj, a, b);
            shown.extend(c.windows(2).map(|w| (w[0].clone(), w[1].clone())));
            cycles.push(c);
        }
    }
    assert!(
        cycles.is_empty(),
        "import cycles between files (break them: move the shared item down, docs/architecture.md):\n{}",
        cycles.iter().map(|c| format!("  {}", show_chain(c, edges))).collect::<Vec<_>>().join("\n"),
    );
}

#[test]
fn no_upward_imports() {
    let edges = graph();
    let upward: Vec<String> = edges
        .iter()
        .filter(|((a, b), _)| matches!((layer(a), layer(b)), (Some(la), Some(lb)) if la < lb))
        .map(|((a, b), names)| {
            format!("  {a} -> {b}  ({})", names.iter().map(String::as_str).collect::<Vec<_>>().join(", "))
        })
        .collect();
    assert!(upward.is_empty(), "imports of a higher layer (docs/architecture.md's order):\n{}", upward.join("\n"));
}

/// The resolver itself, on the cases the rules name.
#[test]
fn resolver_follows_reexports_and_modules() {
    let c = Crawl::new(Path::new(env!("CARGO_MANIFEST_DIR")));
    let lib = c.lib_root;
    let file = |p: &[&str]| {
        let p: Vec<String> = p.iter().map(|s| s.to_string()).collect();
        match c.resolve(lib, &p, 0, false).unwrap() {
            Res::Item(m) | Res::Module(m) => PathBuf::from(&c.modules[m].file),
        }
    };
    // `pub use x::Item` chains: driver re-exports compile::run::compile.
    assert_eq!(file(&["crate", "driver", "compile"]), PathBuf::from("src/driver/compile/run.rs"));
    assert_eq!(file(&["crate", "compile"]), PathBuf::from("src/driver/compile/run.rs"));
    // sim::sdram re-exports hw::sdram, which re-exports target's Geometry.
    assert_eq!(file(&["crate", "sim", "sdram", "Geometry"]), PathBuf::from("src/target.rs"));
    // A path through a type stops at the type.
    assert_eq!(file(&["crate", "ir", "Dialect", "new"]), PathBuf::from("src/ir/dialect.rs"));
    assert_eq!(file(&["crate", "sim", "cycle"]), PathBuf::from("src/sim/cycle/mod.rs"));
}
