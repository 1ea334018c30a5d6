//! The documentation names real files: every `src/`, `hdl/`, `templates/`, `tests/`,
//! `training/`, `scripts/` and `targets/` path in README.md and docs/ exists, and
//! docs/testing.md lists every test file.

use crate::common;

use std::path::Path;

/// Paths with one of the checked prefixes in `text`, not part of a longer path.
fn paths(text: &str) -> Vec<String> {
    const PREFIXES: [&str; 7] = ["src/", "hdl/", "templates/", "tests/", "training/", "scripts/", "targets/"];
    let is_path = |c: char| c.is_ascii_alphanumeric() || "_/.-".contains(c);
    let mut out = vec![];
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let start_ok = i == 0 || !is_path(b[i - 1] as char);
        if let Some(p) = PREFIXES.iter().find(|p| start_ok && text[i..].starts_with(**p)) {
            let end = text[i..].find(|c: char| !is_path(c)).map_or(text.len(), |e| i + e);
            let path = text[i..end].trim_end_matches(['.', '-', '/']);
            if path.len() > p.len() {
                out.push(path.to_string());
            }
            i = end;
        } else {
            i += text[i..].chars().next().map_or(1, char::len_utf8);
        }
    }
    out
}

#[test]
fn every_path_the_docs_name_exists() {
    let root = common::root();
    let mut files = vec![root.join("README.md")];
    for dir in ["docs", "docs/results", "docs/deploy"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "md") {
                files.push(p);
            }
        }
    }
    let mut missing = vec![];
    let mut checked = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for p in paths(&text) {
            checked += 1;
            if !root.join(&p).exists() {
                missing.push(format!("{}: {p}", f.strip_prefix(&root).unwrap().display()));
            }
        }
    }
    assert!(checked > 100, "{checked} paths checked");
    assert!(missing.is_empty(), "paths the docs name that do not exist:\n{}", missing.join("\n"));
}

#[test]
fn testing_md_lists_every_test_file() {
    let root = common::root();
    let text = std::fs::read_to_string(root.join("docs/testing.md")).unwrap();
    let mut unlisted = vec![];
    for e in std::fs::read_dir(root.join("tests")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "rs") {
            let rel = Path::new("tests").join(p.file_name().unwrap());
            if !text.contains(&format!("`{}`", rel.display())) {
                unlisted.push(rel.display().to_string());
            }
        }
    }
    assert!(unlisted.is_empty(), "docs/testing.md does not list: {unlisted:?}");
}
