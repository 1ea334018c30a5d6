//! Packed weight storage: [`WeightValues`], a projection's stored weights, read as `i64`s
//! whichever way they are stored. As [`WeightValues::new`] and [`WeightValues::collect`] build
//! them, a vector of at least 64 values that are all +1 or -1 is packed one bit per weight
//! ([`WeightValues::Signs`]) and every other vector is kept as integers.

use serde::Serialize;

/// Weight values; a vector of +1 and -1 is stored one bit each (bit set: +1), so a binary
/// network's weights take an eighth of their bytes once quantised. Reads as `i64`s:
/// `values[i]`, `iter()`, `range(a..b)`.
#[derive(Clone, Debug, PartialEq)]
pub enum WeightValues {
    /// Any values.
    Ints(Vec<i64>),
    /// Signs, `len` values packed 64 to a word.
    Signs {
        /// Bit `i % 64` of word `i / 64` is set for +1.
        words: Vec<u64>,
        /// Number of values.
        len: usize,
    },
}

const PLUS: i64 = 1;
const MINUS: i64 = -1;

impl WeightValues {
    /// Stores `v`, packed when every value is +1 or -1.
    pub fn new(v: Vec<i64>) -> Self {
        if v.len() < 64 || !v.iter().all(|&x| x == 1 || x == -1) {
            return WeightValues::Ints(v);
        }
        let mut words = vec![0u64; v.len().div_ceil(64)];
        for (i, &x) in v.iter().enumerate() {
            if x == 1 {
                words[i / 64] |= 1 << (i % 64);
            }
        }
        WeightValues::Signs { words, len: v.len() }
    }

    /// Stores the values of `it` like [`WeightValues::new`], packing as they come (a vector
    /// of signs never exists unpacked).
    pub fn collect(it: impl Iterator<Item = i64>) -> Self {
        let mut words: Vec<u64> = vec![];
        let mut len = 0usize;
        let mut it = it.peekable();
        while let Some(&x) = it.peek() {
            if x != 1 && x != -1 {
                break;
            }
            it.next();
            if len.is_multiple_of(64) {
                words.push(0);
            }
            if x == 1 {
                words[len / 64] |= 1 << (len % 64);
            }
            len += 1;
        }
        if it.peek().is_none() {
            return if len < 64 {
                WeightValues::Ints((0..len).map(|i| if words[i / 64] >> (i % 64) & 1 == 1 { 1 } else { -1 }).collect())
            } else {
                WeightValues::Signs { words, len }
            };
        }
        let signs = WeightValues::Signs { words, len };
        WeightValues::Ints(signs.iter().copied().chain(it).collect())
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            WeightValues::Ints(v) => v.len(),
            WeightValues::Signs { len, .. } => *len,
        }
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The values of `range`.
    pub fn range(&self, range: std::ops::Range<usize>) -> WeightIter<'_> {
        assert!(range.start <= range.end && range.end <= self.len(), "weight range {range:?} of {}", self.len());
        WeightIter { v: self, at: range.start, end: range.end }
    }

    /// Every value.
    pub fn iter(&self) -> WeightIter<'_> {
        self.range(0..self.len())
    }

    /// The values as a vector.
    pub fn to_vec(&self) -> Vec<i64> {
        self.iter().copied().collect()
    }
}

impl From<Vec<i64>> for WeightValues {
    fn from(v: Vec<i64>) -> Self {
        WeightValues::new(v)
    }
}

impl std::ops::Index<usize> for WeightValues {
    type Output = i64;

    #[inline]
    fn index(&self, i: usize) -> &i64 {
        match self {
            WeightValues::Ints(v) => &v[i],
            WeightValues::Signs { words, len } => {
                assert!(i < *len, "weight {i} of {len}");
                if words[i / 64] >> (i % 64) & 1 == 1 { &PLUS } else { &MINUS }
            }
        }
    }
}

/// Iterator over [`WeightValues`].
#[derive(Clone, Debug)]
pub struct WeightIter<'a> {
    v: &'a WeightValues,
    at: usize,
    end: usize,
}

impl<'a> Iterator for WeightIter<'a> {
    type Item = &'a i64;

    #[inline]
    fn next(&mut self) -> Option<&'a i64> {
        (self.at < self.end).then(|| {
            self.at += 1;
            &self.v[self.at - 1]
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.end - self.at, Some(self.end - self.at))
    }
}

impl ExactSizeIterator for WeightIter<'_> {}

impl<'a> IntoIterator for &'a WeightValues {
    type Item = &'a i64;
    type IntoIter = WeightIter<'a>;

    fn into_iter(self) -> WeightIter<'a> {
        self.iter()
    }
}

impl Serialize for WeightValues {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::WeightValues;

    #[test]
    fn signs_are_packed_and_read_back() {
        let v: Vec<i64> = (0..200).map(|i| if (i * 7) % 3 == 0 { 1 } else { -1 }).collect();
        for w in [WeightValues::new(v.clone()), WeightValues::collect(v.iter().copied())] {
            assert!(matches!(w, WeightValues::Signs { .. }));
            assert_eq!(w.len(), 200);
            assert_eq!(w.to_vec(), v);
            assert_eq!((0..200).map(|i| w[i]).collect::<Vec<_>>(), v);
            assert_eq!(w.range(63..130).copied().collect::<Vec<_>>(), v[63..130]);
            assert_eq!(serde_json::to_string(&w).unwrap(), serde_json::to_string(&v).unwrap());
        }
    }

    #[test]
    fn other_values_stay_integers() {
        // A zero after 100 signs: the signs read so far are unpacked again, in order.
        let mut v: Vec<i64> = (0..100).map(|i| if i % 2 == 0 { 1 } else { -1 }).collect();
        v.extend([0, 3, -1]);
        for w in [WeightValues::new(v.clone()), WeightValues::collect(v.iter().copied())] {
            assert_eq!(w, WeightValues::Ints(v.clone()));
        }
        // Few signs are not worth packing.
        assert_eq!(WeightValues::collect([1, -1, 1].into_iter()), WeightValues::Ints(vec![1, -1, 1]));
        assert_eq!(WeightValues::collect(std::iter::empty()), WeightValues::Ints(vec![]));
    }
}
