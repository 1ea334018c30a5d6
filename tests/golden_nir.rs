//! Golden tests: the reference engine against independently computed outputs
//! (tests/data/nir: numpy interpreter with exact dyadic arithmetic; every spike must match).

use crate::common;

use common::{cases, compare_reference, root};

#[test]
fn every_op_case_matches_exactly_in_f32_and_f64() {
    let manifest = root().join("tests/data/nir/cases.json");
    let all = cases(&manifest);
    assert!(all.len() >= 25, "expected the full op corpus, found {}", all.len());
    let mut failures = vec![];
    for c in &all {
        assert!(c.exact, "case {} is not marked exact", c.name);
        for f64 in [false, true] {
            let r = compare_reference(c, f64);
            if r.differing != 0 {
                failures.push(format!(
                    "{} ({}): {} of {} values differ, max |diff| {}",
                    c.name,
                    if f64 { "f64" } else { "f32" },
                    r.differing,
                    r.elements,
                    r.max_abs_diff
                ));
            }
        }
    }
    assert!(failures.is_empty(), "golden mismatches:\n{}", failures.join("\n"));
}
