//! `IdSet`: a persistent sorted set of ids, one per group (its members) and
//! per user (their groups) in [`State`](super::State).
//!
//! Most sets are small (a user is in a handful of groups, a group has tens to
//! hundreds of members), so a small set is one shared sorted slice: built
//! from sorted rows in one allocation at start, cloned in O(1), and copied
//! whole on a change (a few hundred ids, cheaper than a tree path). A set
//! that grows past [`SMALL_MAX`] becomes a persistent B-tree, so a change to
//! a very large group costs O(log n), not a copy of the whole group.

use imbl::shared_ptr::DefaultSharedPtr;
use imbl::OrdSet;
use std::ops::Bound;
use std::sync::Arc;

/// The most ids a set keeps as one slice; past it a change would copy too much.
pub(crate) const SMALL_MAX: usize = 512;

#[derive(Clone, Debug)]
pub(crate) enum IdSet<T: Ord + Copy> {
    /// Sorted, no duplicates, never empty, at most `SMALL_MAX` long.
    Small(Arc<[T]>),
    /// Longer than `SMALL_MAX` (when built; it may shrink below it later).
    Large(OrdSet<T>),
}

impl<T: Ord + Copy> IdSet<T> {
    /// The set of already sorted, distinct ids (`None` for none: empty sets
    /// are not stored).
    pub(crate) fn from_sorted(ids: &[T]) -> Option<Self> {
        debug_assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids must be sorted");
        match ids.len() {
            0 => None,
            n if n <= SMALL_MAX => Some(IdSet::Small(Arc::from(ids))),
            _ => Some(IdSet::Large(ids.iter().copied().collect())),
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            IdSet::Small(ids) => ids.len(),
            IdSet::Large(ids) => ids.len(),
        }
    }

    pub(crate) fn contains(&self, id: T) -> bool {
        match self {
            IdSet::Small(ids) => ids.binary_search(&id).is_ok(),
            IdSet::Large(ids) => ids.contains(&id),
        }
    }

    /// Adds `id`; false if it was already there.
    pub(crate) fn insert(&mut self, id: T) -> bool {
        match self {
            IdSet::Small(ids) => match ids.binary_search(&id) {
                Ok(_) => false,
                Err(at) if ids.len() < SMALL_MAX => {
                    let mut grown = Vec::with_capacity(ids.len() + 1);
                    grown.extend_from_slice(&ids[..at]);
                    grown.push(id);
                    grown.extend_from_slice(&ids[at..]);
                    *ids = Arc::from(grown);
                    true
                }
                Err(_) => {
                    let mut tree: OrdSet<T> = ids.iter().copied().collect();
                    tree.insert(id);
                    *self = IdSet::Large(tree);
                    true
                }
            },
            IdSet::Large(ids) => ids.insert(id).is_none(),
        }
    }

    /// Removes `id`; false if it was not there. The set may become empty:
    /// the caller drops it then.
    pub(crate) fn remove(&mut self, id: T) -> bool {
        match self {
            IdSet::Small(ids) => match ids.binary_search(&id) {
                Ok(at) => {
                    let mut rest = Vec::with_capacity(ids.len() - 1);
                    rest.extend_from_slice(&ids[..at]);
                    rest.extend_from_slice(&ids[at + 1..]);
                    *ids = Arc::from(rest);
                    true
                }
                Err(_) => false,
            },
            IdSet::Large(ids) => ids.remove(&id).is_some(),
        }
    }

    /// The ids greater than `after` (all for `None`), in order.
    pub(crate) fn iter_after(&self, after: Option<T>) -> Iter<'_, T> {
        match self {
            IdSet::Small(ids) => {
                let start = match after {
                    None => 0,
                    Some(a) => ids.partition_point(|x| *x <= a),
                };
                Iter::Small(ids[start..].iter())
            }
            IdSet::Large(ids) => {
                let start = after.map_or(Bound::Unbounded, Bound::Excluded);
                Iter::Large(ids.range((start, Bound::Unbounded)))
            }
        }
    }
}

/// Two sets are equal when they hold the same ids, whatever their shape.
impl<T: Ord + Copy> PartialEq for IdSet<T> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter_after(None).eq(other.iter_after(None))
    }
}
impl<T: Ord + Copy> Eq for IdSet<T> {}

/// The ids of an [`IdSet`] in order.
pub(crate) enum Iter<'a, T: Ord + Copy> {
    Small(std::slice::Iter<'a, T>),
    Large(imbl::ordset::RangedIter<'a, T, DefaultSharedPtr>),
}

impl<T: Ord + Copy> Iterator for Iter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        match self {
            Iter::Small(it) => it.next().copied(),
            Iter::Large(it) => it.next().copied(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn ids(set: &IdSet<i64>, after: Option<i64>) -> Vec<i64> {
        set.iter_after(after).collect()
    }

    #[test]
    fn a_set_built_from_sorted_ids_holds_them_in_either_shape() {
        assert!(IdSet::<i64>::from_sorted(&[]).is_none());
        for n in [2, 7, SMALL_MAX, SMALL_MAX + 1, 3 * SMALL_MAX] {
            let sorted: Vec<i64> = (0..n as i64).map(|i| i * 3 + 1).collect();
            let set = IdSet::from_sorted(&sorted).expect("not empty");
            assert_eq!(matches!(set, IdSet::Large(_)), n > SMALL_MAX, "{n}");
            assert_eq!(set.len(), n);
            assert_eq!(ids(&set, None), sorted);
            assert!(set.contains(4) && !set.contains(5) && !set.contains(0));
            // After an id in the set, between two ids, before all, after all.
            assert_eq!(ids(&set, Some(4)), sorted[2..]);
            assert_eq!(ids(&set, Some(5)), sorted[2..]);
            assert_eq!(ids(&set, Some(-10)), sorted);
            assert!(ids(&set, Some(i64::MAX)).is_empty());
        }
    }

    #[test]
    fn changes_match_a_btree_set_across_the_change_of_shape() {
        // Grows past SMALL_MAX and shrinks again, with repeated and missing
        // ids, comparing every answer with the standard library's set.
        let mut set = IdSet::from_sorted(&[500_i64]).expect("not empty");
        let mut want = BTreeSet::from([500_i64]);
        let mut x = 12345_i64;
        for step in 0..6 * SMALL_MAX {
            x = (x * 1103515245 + 12345) % 2147483648;
            let id = x % (2 * SMALL_MAX as i64);
            let grow = step < 3 * SMALL_MAX || step % 3 == 0;
            if grow {
                assert_eq!(set.insert(id), want.insert(id), "insert {id}");
            } else {
                assert_eq!(set.remove(id), want.remove(&id), "remove {id}");
            }
            assert_eq!(set.len(), want.len());
            assert_eq!(set.contains(id), want.contains(&id));
        }
        assert!(want.len() > SMALL_MAX / 2);
        assert_eq!(ids(&set, None), want.iter().copied().collect::<Vec<_>>());
        assert_eq!(
            ids(&set, Some(100)),
            want.range(101..).copied().collect::<Vec<_>>()
        );
    }

    #[test]
    fn equality_is_by_content_not_shape() {
        let sorted: Vec<i64> = (1..=10).collect();
        let small = IdSet::from_sorted(&sorted).expect("not empty");
        let large = IdSet::Large(sorted.iter().copied().collect());
        assert_eq!(small, large);
        let mut other = small.clone();
        other.remove(3);
        assert_ne!(small, other);
        // The clone taken before the change still holds the old ids.
        assert!(small.contains(3) && !other.contains(3));
    }
}
