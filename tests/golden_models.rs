//! The trained example students (models/): the reference engine against snnTorch's own
//! output spikes, with each model's documented dialect.

use crate::common;

use common::{cases, compare_reference, root};

#[test]
fn students_reproduce_snntorch_golden_spikes() {
    let all = cases(&root().join("models/cases.json"));
    assert!(all.len() >= 4, "expected the four example students");
    for c in &all {
        let r = compare_reference(c, false);
        println!("{}: {} of {} spikes differ, class agreement {}", c.name, r.differing, r.elements, r.class_agreement);
        // Issue 3's bound: 100% class agreement, at most 0.1% of spikes differing.
        assert_eq!(r.class_agreement, 1.0, "{}: class agreement {}", c.name, r.class_agreement);
        assert!(r.differing * 1000 <= r.elements, "{}: {} of {} spikes differ", c.name, r.differing, r.elements);
        if c.exact {
            // Trained with power-of-two-grid weights: float sums are exact, so spike-exact.
            assert_eq!(r.differing, 0, "{}: exact model differs", c.name);
        }
    }
}
