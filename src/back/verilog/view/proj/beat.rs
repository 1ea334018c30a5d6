//! The beats of an event: the counters that step through them (outermost first, the
//! innermost moving every beat), the tables that give a clipped axis' first tap and tap
//! count per event, and the conditions on the last and second-to-last beat. The counters' and
//! tables' view types ([`CounterView`], [`TableView`]) are in [`super::types`].
//!
//! Invariant: every condition compares counters and table outputs with constants, so it is a
//! few levels of logic at most; an event's last beat is known one beat ahead when every event
//! takes two beats or more.

use super::types::{CounterView, ProjView, TableView};

/// An event of one beat, as an expression of the head event: every event-dependent counter
/// counts one.
pub fn one_now(counters: &[CounterView]) -> String {
    counters
        .iter()
        .filter_map(|c| c.nm1.as_ref().map(|n| format!("({n} == {}'d0)", c.w)))
        .collect::<Vec<_>>()
        .join(" && ")
}

impl TableView {
    /// The table as a chain of conditionals: the exceptions (each value under the OR of its
    /// coordinates' compares), then the residues' values on the index's low bits, the
    /// commonest last. (A chain, not a `case`: Yosys would make a case a ROM and pull the
    /// event register into its address, behind the reader's pop.)
    pub fn expr(&self) -> String {
        let w = self.w;
        // `(c1 || c2) ? w'dv : ... : tail`, one arm per value.
        let chain = |pairs: &[(String, usize)], tail: String| -> String {
            let mut values: Vec<usize> = pairs.iter().map(|p| p.1).collect();
            values.sort_unstable();
            values.dedup();
            let mut out = String::new();
            for v in values {
                let at: Vec<&str> = pairs.iter().filter(|p| p.1 == v).map(|p| p.0.as_str()).collect();
                out += &format!("({}) ? {w}'d{v} : ", at.join(" || "));
            }
            out + &tail
        };
        let p = &self.pattern;
        let rb = p.period.trailing_zeros() as usize;
        let count = |v: usize| p.base.iter().filter(|&&b| b == v).count();
        let common = p.base.iter().copied().max_by_key(|&v| (count(v), std::cmp::Reverse(v))).unwrap_or(0);
        let residues: Vec<(String, usize)> = p
            .base
            .iter()
            .enumerate()
            .filter(|&(_, &v)| v != common)
            .map(|(r, &v)| (format!("({}[{}:{}] == {rb}'d{r})", self.pos, self.lo + rb - 1, self.lo), v))
            .collect();
        let base = chain(&residues, format!("{w}'d{common}"));
        let exceptions: Vec<(String, usize)> = p
            .exceptions
            .iter()
            .map(|&(c, v)| (format!("({}[{}:{}] == {}'d{c})", self.pos, self.hi, self.lo, self.hi - self.lo + 1), v))
            .collect();
        if exceptions.is_empty() { base } else { chain(&exceptions, format!("({base})")) }
    }
}

impl ProjView {
    /// Counter advance as one Verilog statement: the innermost counter counts every beat and
    /// carries into the next outer one when it wraps (at this event's count when it has one).
    pub fn advance(&self) -> String {
        let mut acc = String::new();
        for c in &self.arith.counters {
            let n = &c.name;
            acc =
                format!("if ({}) begin {n} <= {w}'d0; {acc} end else {n} <= {n} + {w}'d1;", Self::at_last(c), w = c.w,);
        }
        acc
    }

    /// `c` at its last value for this event.
    fn at_last(c: &CounterView) -> String {
        match &c.nm1 {
            Some(nm1) => format!("{} == {nm1}", c.name),
            None => format!("{} == {}'d{}", c.name, c.w, c.max - 1),
        }
    }

    /// 1 when an event can last a single beat: events may then end on consecutive cycles, so
    /// the event reader keeps a third queue place (sf_events ONEBEAT); 0 when every event
    /// lasts two beats or more and the last beat is a registered flag (`penultimate`).
    pub fn one_beat(&self) -> usize {
        usize::from(self.beats_min < 2)
    }

    /// True on the beat before an event's last (only used when it can have two beats or
    /// more): the innermost counter that moves in this event at its last value but one, every
    /// other counter at its last value.
    pub fn penultimate(&self) -> String {
        if self.arith.counters.iter().all(|c| c.nm1.is_none()) {
            let moving: Vec<&CounterView> = self.arith.counters.iter().filter(|c| c.max >= 2).collect();
            let n = moving.len();
            return moving
                .iter()
                .enumerate()
                .map(|(i, c)| format!("({} == {}'d{})", c.name, c.w, c.max - if i + 1 == n { 2 } else { 1 }))
                .collect::<Vec<_>>()
                .join(" && ");
        }
        // Counts that depend on the event: one term per counter that may be the innermost
        // moving one (every counter inside it has one value in this event).
        let cs = &self.arith.counters;
        let mut terms = vec![];
        'term: for (i, c) in cs.iter().enumerate() {
            let mut clauses = vec![match &c.nm1 {
                Some(nm1) => format!("({{1'b0, {}}} + {}'d1 == {{1'b0, {nm1}}})", c.name, c.w + 1),
                None if c.max >= 2 => format!("({} == {}'d{})", c.name, c.w, c.max - 2),
                None => continue,
            }];
            for o in &cs[..i] {
                if o.nm1.is_some() || o.max >= 2 {
                    clauses.push(format!("({})", Self::at_last(o)));
                }
            }
            for inner in &cs[i + 1..] {
                match &inner.nm1 {
                    Some(nm1) => clauses.push(format!("({nm1} == {}'d0)", inner.w)),
                    None if inner.max >= 2 => continue 'term,
                    None => {}
                }
            }
            terms.push(format!("({})", clauses.join(" && ")));
        }
        if terms.is_empty() { "1'b0".into() } else { format!("({})", terms.join(" || ")) }
    }
}
