//! `IdMap`: a persistent map keyed by the ids the writer hands out, for the
//! users, the groups and the memberships of [`State`](super::State).
//!
//! Ids come one after another (1, 2, 3...) and are never reused, so a value's
//! place is its id: a persistent vector indexed by id finds it with index
//! arithmetic, where a B-tree compares keys down every level. On a hundred
//! thousand users that is about a fifth of the time per lookup, and every
//! fold of a membership event and every access check makes several.
//!
//! A log is not always the writer's own (`import`, `verify` on any file), so
//! ids spread out must not make the vector long: the vector grows to take a
//! new id only when that opens few empty slots ([`may_grow`]), which keeps
//! its length within a small multiple of the entries. Other ids, and
//! negative ones, wait in a B-tree (`spill`) until the vector reaches them.

use imbl::OrdMap;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Bound;

use super::radix::RadixVec;
use crate::domain::{GroupId, UserId};

/// The most empty slots a new id may open at the end of the vector, and
/// the slack allowed over [`SPREAD`] times the entries.
const MAX_GAP: usize = 4096;
/// Empty slots a new id may always open: deleted ids leave holes the
/// vector must not refuse to grow past.
const SMALL_GAP: usize = 16;
/// How many slots per entry the vector may reach through larger gaps: a
/// map of which only every sixteenth id has an entry (the memberships of a
/// directory where few users are in groups) still lives in the vector.
const SPREAD: usize = 16;

/// Whether the vector, `len` long and holding `entries` entries, may grow
/// to take index `i` (at or past its end): for a small gap always; for a
/// larger one only while the vector stays within [`SPREAD`] slots per
/// entry (plus [`MAX_GAP`]). So its length is at most about sixteen times
/// the entries, whatever ids a file holds.
fn may_grow(len: usize, entries: usize, i: usize) -> bool {
    let gap = i - len;
    gap <= SMALL_GAP || (gap <= MAX_GAP && i < SPREAD * entries + MAX_GAP)
}

/// An id that is its value's index.
pub(crate) trait DenseId: Copy + Ord {
    fn index(self) -> Option<usize>;
    fn from_index(index: usize) -> Self;
}

macro_rules! dense_id {
    ($t:ty) => {
        impl DenseId for $t {
            fn index(self) -> Option<usize> {
                usize::try_from(self.0).ok()
            }
            fn from_index(index: usize) -> Self {
                Self(index as i64)
            }
        }
    };
}
dense_id!(UserId);
dense_id!(GroupId);

#[derive(Clone)]
pub(crate) struct IdMap<K: DenseId, V: Clone> {
    /// `dense[i]` is the value of the id whose index is `i`.
    dense: RadixVec<V>,
    /// Ids that are negative or lie beyond `dense`; each one's index, if it
    /// has one, is at least `dense.len()`.
    spill: OrdMap<K, V>,
    len: usize,
    _key: PhantomData<K>,
}

impl<K: DenseId, V: Clone> Default for IdMap<K, V> {
    fn default() -> Self {
        IdMap {
            dense: RadixVec::default(),
            spill: OrdMap::new(),
            len: 0,
            _key: PhantomData,
        }
    }
}

impl<K: DenseId, V: Clone> IdMap<K, V> {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        match key.index() {
            Some(i) if i < self.dense.len() => self.dense.get(i),
            _ => self.spill.get(key),
        }
    }

    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        match key.index() {
            Some(i) if i < self.dense.len() => self.dense.get_mut(i),
            _ => self.spill.get_mut(key),
        }
    }

    pub(crate) fn contains_key(&self, key: &K) -> bool {
        self.get(key).is_some()
    }

    /// Sets `key`'s value; the old one, if any.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        let old = match key.index() {
            Some(i) if i < self.dense.len() => self.dense.set(i, Some(value)),
            Some(i) if may_grow(self.dense.len(), self.len, i) => {
                self.grow_to(i + 1);
                self.dense.set(i, Some(value))
            }
            _ => self.spill.insert(key, value),
        };
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        let old = match key.index() {
            Some(i) if i < self.dense.len() => self.dense.set(i, None),
            _ => self.spill.remove(key),
        };
        if old.is_some() {
            self.len -= 1;
        }
        old
    }

    /// Makes the vector `len` long, moving in the spilled ids it now reaches.
    fn grow_to(&mut self, len: usize) {
        self.dense.grow_to(len);
        if self.spill.is_empty() {
            return;
        }
        let reach = (
            Bound::Included(K::from_index(0)),
            Bound::Excluded(K::from_index(len)),
        );
        let reached: Vec<K> = self.spill.range(reach).map(|(k, _)| *k).collect();
        for k in reached {
            if let (Some(v), Some(i)) = (self.spill.remove(&k), k.index()) {
                self.dense.set(i, Some(v));
            }
        }
    }

    /// The entries with keys greater than `after` (all for `None`), in key order.
    pub(crate) fn range_after(&self, after: Option<K>) -> impl Iterator<Item = (K, &V)> + '_ {
        // Negative ids sort first and live in `spill`, as do ids past the
        // vector: the spill's part below the vector's first id, then the
        // vector, then the rest of the spill.
        let first_dense = K::from_index(0);
        let low = match after {
            Some(a) => (Bound::Excluded(a), Bound::Excluded(first_dense)),
            None => (Bound::Unbounded, Bound::Excluded(first_dense)),
        };
        let below = (after.is_none_or(|a| a < first_dense))
            .then(|| self.spill.range(low))
            .into_iter()
            .flatten();
        let start = match after.map(|a| a.index()) {
            None => 0,
            Some(None) => 0,
            Some(Some(i)) => (i + 1).min(self.dense.len()),
        };
        let dense = self
            .dense
            .iter_from(start)
            .map(|(i, v)| (K::from_index(i), v));
        let high_from = match after {
            Some(a) if a.index().is_some_and(|i| i >= self.dense.len()) => Bound::Excluded(a),
            _ => Bound::Included(K::from_index(self.dense.len())),
        };
        let above = self.spill.range((high_from, Bound::Unbounded));
        below
            .map(|(k, v)| (*k, v))
            .chain(dense)
            .chain(above.map(|(k, v)| (*k, v)))
    }
}

impl<K: DenseId, V: Clone + PartialEq> PartialEq for IdMap<K, V> {
    /// Equal when they hold the same entries, however they are laid out.
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.range_after(None).eq(other.range_after(None))
    }
}
impl<K: DenseId, V: Clone + Eq> Eq for IdMap<K, V> {}

impl<K: DenseId + fmt::Debug, V: Clone + fmt::Debug> fmt::Debug for IdMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.range_after(None)).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn entries(m: &IdMap<UserId, i64>, after: Option<i64>) -> Vec<(i64, i64)> {
        m.range_after(after.map(UserId))
            .map(|(k, v)| (k.0, *v))
            .collect()
    }

    #[derive(Clone, Debug)]
    enum Op {
        Insert(i64, i64),
        Remove(i64),
    }

    fn id() -> impl Strategy<Value = i64> {
        // Mostly dense ids, some far past them, some negative.
        prop_oneof![
            8 => 0_i64..200,
            1 => 0_i64..3 * MAX_GAP as i64,
            1 => -5_i64..0,
            1 => Just(i64::MAX),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (id(), any::<i64>()).prop_map(|(k, v)| Op::Insert(k, v)),
            1 => id().prop_map(Op::Remove),
        ]
    }

    proptest! {
        /// Every answer matches the standard library's ordered map, whatever
        /// the ids and the order of changes.
        #[test]
        fn behaves_as_an_ordered_map(ops in prop::collection::vec(op(), 0..200), probe in id()) {
            let mut m: IdMap<UserId, i64> = IdMap::default();
            let mut want: BTreeMap<i64, i64> = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => prop_assert_eq!(m.insert(UserId(k), v), want.insert(k, v)),
                    Op::Remove(k) => prop_assert_eq!(m.remove(&UserId(k)), want.remove(&k)),
                }
                prop_assert_eq!(m.len(), want.len());
            }
            prop_assert_eq!(m.get(&UserId(probe)), want.get(&probe));
            prop_assert_eq!(m.contains_key(&UserId(probe)), want.contains_key(&probe));
            prop_assert_eq!(entries(&m, None), want.iter().map(|(k, v)| (*k, *v)).collect::<Vec<_>>());
            prop_assert_eq!(
                entries(&m, Some(probe)),
                want.range((Bound::Excluded(probe), Bound::Unbounded)).map(|(k, v)| (*k, *v)).collect::<Vec<_>>()
            );
            if probe != i64::MAX {
                if let Some(v) = m.get_mut(&UserId(probe)) {
                    *v = v.wrapping_add(1);
                    *want.get_mut(&probe).expect("same keys") = want[&probe].wrapping_add(1);
                }
            }
            prop_assert_eq!(entries(&m, None), want.iter().map(|(k, v)| (*k, *v)).collect::<Vec<_>>());
        }
    }

    #[test]
    fn an_id_far_past_the_others_does_not_stretch_the_vector() {
        let mut m: IdMap<UserId, i64> = IdMap::default();
        m.insert(UserId(1), 1);
        m.insert(UserId(i64::MAX), 2);
        m.insert(UserId(1 << 40), 3);
        assert!(m.dense.len() <= 2);
        assert_eq!(entries(&m, None), [(1, 1), (1 << 40, 3), (i64::MAX, 2)]);
        // Growing towards a spilled id takes it into the vector.
        m.insert(UserId(3000), 4);
        m.insert(UserId(4050), 5);
        m.insert(UserId(4000), 6);
        assert_eq!(m.spill.len(), 2);
        assert_eq!(m.dense.len(), 4051);
        let mut far = IdMap::default();
        far.insert(UserId(MAX_GAP as i64 + 10), 7);
        far.insert(UserId(20), 8);
        assert_eq!(far.spill.len(), 1);
        far.insert(UserId(MAX_GAP as i64), 9);
        assert_eq!(far.spill.len(), 1, "still past the vector's end");
        far.insert(UserId(MAX_GAP as i64 + 12), 10);
        assert!(
            far.spill.is_empty(),
            "the spilled id is within the vector now"
        );
        assert_eq!(
            entries(&far, None),
            [
                (20, 8),
                (MAX_GAP as i64, 9),
                (MAX_GAP as i64 + 10, 7),
                (MAX_GAP as i64 + 12, 10)
            ]
        );
        assert_eq!(far.len(), 4);
    }

    #[test]
    fn ids_spread_out_keep_the_vector_short() {
        // Every thousandth id: the vector would be a thousand times the
        // entries; instead most of them wait in the spill.
        let mut m: IdMap<UserId, i64> = IdMap::default();
        for n in 1..=2_000_i64 {
            m.insert(UserId(n * 1_000), n);
        }
        assert_eq!(m.len(), 2_000);
        assert!(
            m.dense.len() <= SPREAD * 2_000 + MAX_GAP,
            "{}",
            m.dense.len()
        );
        assert_eq!(m.get(&UserId(1_234_000)), Some(&1_234));
        assert_eq!(entries(&m, Some(1_999_000)), [(2_000_000, 2_000)]);
        // Every tenth id, a sparse map the writer's ids can make: all of
        // it in the vector.
        let mut sparse: IdMap<UserId, i64> = IdMap::default();
        for n in 1..=1_000_i64 {
            sparse.insert(UserId(n * 10), n);
        }
        assert!(sparse.spill.is_empty());
        // Ids one after another after many deleted ones still go in the
        // vector, however few entries are left.
        let mut d: IdMap<GroupId, i64> = IdMap::default();
        for n in 1..=10_000 {
            d.insert(GroupId(n), n);
        }
        for n in 1..=9_990 {
            d.remove(&GroupId(n));
        }
        d.insert(GroupId(10_001), 0);
        d.insert(GroupId(10_010), 0);
        assert!(d.spill.is_empty());
        assert_eq!(d.len(), 12);
        // A wider gap with so few entries waits in the spill instead.
        d.insert(GroupId(14_500), 0);
        assert_eq!(d.spill.len(), 1);
        assert_eq!(d.get(&GroupId(14_500)), Some(&0));
    }

    #[test]
    fn a_clone_keeps_its_entries_when_the_original_changes() {
        let mut m: IdMap<GroupId, i64> = IdMap::default();
        for i in 1..100 {
            m.insert(GroupId(i), i);
        }
        let before = m.clone();
        m.insert(GroupId(5), -5);
        m.remove(&GroupId(6));
        assert_eq!(before.get(&GroupId(5)), Some(&5));
        assert_eq!(before.get(&GroupId(6)), Some(&6));
        assert_ne!(before, m);
    }
}
