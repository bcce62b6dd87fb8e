//! `RadixVec`: the persistent vector under [`IdMap`](super::id_map::IdMap):
//! slots found by their index's digits in base 16, nodes shared between
//! snapshots and copied only on the path a change takes.
//!
//! Why not a general persistent vector (such as `imbl::Vector`, which this
//! replaced): the writer publishes a new [`State`](super::State) after every
//! batch, so the first change after that to any node copies it, and a copy
//! clones every value in it. The values here are shared pointers (a user's
//! set of groups, a group), each clone an atomic increment on a cache line
//! of its own, and later a decrement when the old snapshot goes. A node of
//! 16 slots instead of 64 makes that copy a quarter of the work at the
//! leaves, at the price of one or two more levels to walk down; and a
//! vector that only ever grows at the end and is indexed by position needs
//! none of the relaxed-radix machinery a general one carries. Slots that
//! were never set hold no node at all, so growing by a long gap costs
//! nothing.

use std::sync::Arc;

const BITS: u32 = 4;
const WIDTH: usize = 1 << BITS;
const MASK: usize = WIDTH - 1;

#[derive(Clone)]
enum Node<V> {
    /// The 16 slots of one run of indexes.
    Leaf(Arc<[Option<V>; WIDTH]>),
    /// 16 subtrees, each a run of 16^level indexes; `None` for a run none of
    /// whose slots was ever set.
    Branch(Arc<[Option<Node<V>>; WIDTH]>),
}

fn empty<T>() -> [Option<T>; WIDTH] {
    std::array::from_fn(|_| None)
}

/// A persistent vector of `Option<V>` slots, `len` long. Cloning it is a
/// pointer copy; a clone keeps its slots whatever happens to the other.
#[derive(Clone)]
pub(crate) struct RadixVec<V> {
    root: Option<Node<V>>,
    /// Levels of branches above the leaves: the vector can hold
    /// `16^(height + 1)` slots before it needs another.
    height: u32,
    len: usize,
}

impl<V> Default for RadixVec<V> {
    fn default() -> Self {
        RadixVec {
            root: None,
            height: 0,
            len: 0,
        }
    }
}

/// Which of a branch's children at `level` holds index `i`.
fn digit(i: usize, level: u32) -> usize {
    (i >> (BITS * level)) & MASK
}

impl<V: Clone> RadixVec<V> {
    /// Slots, set or not.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    fn capacity(height: u32) -> usize {
        1usize
            .checked_shl(BITS * (height + 1))
            .unwrap_or(usize::MAX)
    }

    /// The value in slot `i`, if it is set.
    pub(crate) fn get(&self, i: usize) -> Option<&V> {
        if i >= self.len {
            return None;
        }
        let mut node = self.root.as_ref()?;
        let mut level = self.height;
        loop {
            match node {
                Node::Branch(children) => {
                    node = children[digit(i, level)].as_ref()?;
                    level = level.checked_sub(1)?;
                }
                Node::Leaf(slots) => return slots[i & MASK].as_ref(),
            }
        }
    }

    /// The value in slot `i` to change in place, if it is set; copies the
    /// nodes on its path that another snapshot shares.
    pub(crate) fn get_mut(&mut self, i: usize) -> Option<&mut V> {
        if i >= self.len {
            return None;
        }
        let mut node = self.root.as_mut()?;
        let mut level = self.height;
        loop {
            match node {
                Node::Branch(children) => {
                    node = Arc::make_mut(children)[digit(i, level)].as_mut()?;
                    level = level.checked_sub(1)?;
                }
                Node::Leaf(slots) => return Arc::make_mut(slots)[i & MASK].as_mut(),
            }
        }
    }

    /// Puts `value` in slot `i`, growing the vector to reach it if it is
    /// past the end, and gives the slot's old value.
    pub(crate) fn set(&mut self, i: usize, value: Option<V>) -> Option<V> {
        // Clearing a slot that is not set changes nothing: make no nodes
        // for it, and do not grow.
        if value.is_none() && self.get(i).is_none() {
            return None;
        }
        self.grow_to(i.saturating_add(1));
        let height = self.height;
        let mut node = self.root.get_or_insert_with(|| new_node(height));
        let mut level = height;
        loop {
            match node {
                Node::Branch(children) => {
                    let below = level.saturating_sub(1);
                    node = Arc::make_mut(children)[digit(i, level)]
                        .get_or_insert_with(|| new_node(below));
                    level = below;
                }
                Node::Leaf(slots) => {
                    return std::mem::replace(&mut Arc::make_mut(slots)[i & MASK], value);
                }
            }
        }
    }

    /// Makes the vector `len` slots long (never shorter); the new slots are
    /// unset.
    pub(crate) fn grow_to(&mut self, len: usize) {
        while Self::capacity(self.height) < len {
            if let Some(root) = self.root.take() {
                let mut children = empty();
                children[0] = Some(root);
                self.root = Some(Node::Branch(Arc::new(children)));
            }
            self.height += 1;
        }
        self.len = self.len.max(len);
    }

    /// The set slots from index `start` on, in order, with their indexes.
    pub(crate) fn iter_from(&self, start: usize) -> impl Iterator<Item = (usize, &V)> + '_ {
        let mut from = start;
        std::iter::from_fn(move || {
            let root = self.root.as_ref()?;
            let (i, v) = first_from(root, self.height, 0, from)?;
            // Always forward: a slot before `from` would mean a bug, and
            // must not become a loop.
            if i < from {
                return None;
            }
            from = i + 1;
            Some((i, v))
        })
    }
}

/// An empty node whose children are at `level - 1` (a leaf at level 0).
fn new_node<V>(level: u32) -> Node<V> {
    if level == 0 {
        Node::Leaf(Arc::new(empty()))
    } else {
        Node::Branch(Arc::new(empty()))
    }
}

/// The first set slot at index `from` or after it in `node`, a node at
/// `level` whose first slot is index `base`.
fn first_from<V>(node: &Node<V>, level: u32, base: usize, from: usize) -> Option<(usize, &V)> {
    let skip = from.saturating_sub(base);
    match node {
        Node::Leaf(slots) => slots
            .iter()
            .enumerate()
            .skip(skip)
            .find_map(|(k, v)| v.as_ref().map(|v| (base + k, v))),
        Node::Branch(children) => {
            let shift = BITS * level;
            let below = level.checked_sub(1)?;
            children
                .iter()
                .enumerate()
                .skip(skip >> shift)
                .find_map(|(k, child)| {
                    let child_base = base + (k << shift);
                    first_from(child.as_ref()?, below, child_base, from.max(child_base))
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Op {
        Grow(usize),
        Set(usize, Option<u32>),
        Bump(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            1 => (0_usize..5_000).prop_map(Op::Grow),
            4 => (0_usize..5_000, proptest::option::of(any::<u32>())).prop_map(|(i, v)| Op::Set(i, v)),
            2 => (0_usize..5_000).prop_map(Op::Bump),
        ]
    }

    proptest! {
        /// Every answer matches a plain vector of slots, and a snapshot taken
        /// halfway keeps what it held.
        #[test]
        fn behaves_as_a_vector_of_slots(ops in prop::collection::vec(op(), 0..300), start in 0_usize..5_100) {
            let mut v: RadixVec<u32> = RadixVec::default();
            let mut want: Vec<Option<u32>> = Vec::new();
            let mut snapshot = None;
            for (n, op) in ops.iter().enumerate() {
                if n == ops.len() / 2 {
                    snapshot = Some((v.clone(), want.clone()));
                }
                match *op {
                    Op::Grow(len) => {
                        v.grow_to(len);
                        if len > want.len() {
                            want.resize(len, None);
                        }
                    }
                    Op::Set(i, x) => {
                        if x.is_some() && i >= want.len() {
                            want.resize(i + 1, None);
                        }
                        let expected = want.get_mut(i).and_then(|slot| std::mem::replace(slot, x));
                        prop_assert_eq!(v.set(i, x), expected);
                    }
                    Op::Bump(i) => {
                        if let Some(x) = v.get_mut(i) {
                            *x = x.wrapping_add(1);
                        }
                        if let Some(Some(x)) = want.get_mut(i) {
                            *x = x.wrapping_add(1);
                        }
                    }
                }
                prop_assert_eq!(v.len(), want.len());
            }
            for (v, want) in [(v, want)].into_iter().chain(snapshot) {
                for i in 0..want.len() + 20 {
                    prop_assert_eq!(v.get(i), want.get(i).and_then(Option::as_ref));
                }
                let listed: Vec<(usize, u32)> = v.iter_from(start).map(|(i, x)| (i, *x)).collect();
                let expected: Vec<(usize, u32)> = want
                    .iter()
                    .enumerate()
                    .skip(start)
                    .filter_map(|(i, x)| x.map(|x| (i, x)))
                    .collect();
                prop_assert_eq!(listed, expected);
            }
        }
    }

    #[test]
    fn a_long_gap_costs_no_nodes_and_a_change_copies_only_its_path() {
        let mut v: RadixVec<Arc<u32>> = RadixVec::default();
        v.grow_to(1_000_000);
        assert!(v.root.is_none(), "no slot set, no node");
        assert_eq!(v.set(999_999, None), None);
        assert!(v.root.is_none(), "clearing an unset slot makes no node");
        for i in 0..100 {
            assert_eq!(v.set(i * 10_000, Some(Arc::new(i as u32))), None);
        }
        let before = v.clone();
        assert_eq!(v.set(50_000, Some(Arc::new(7))).map(|a| *a), Some(5));
        // The untouched values are the very same allocations in both.
        for i in (0..100).filter(|&i| i != 5) {
            let (a, b) = (v.get(i * 10_000), before.get(i * 10_000));
            assert!(a.zip(b).is_some_and(|(a, b)| Arc::ptr_eq(a, b)));
        }
        assert_eq!(before.get(50_000).map(|a| **a), Some(5));
        assert_eq!(v.get(50_000).map(|a| **a), Some(7));
        assert_eq!(v.set(2_000_000, None), None, "past the end");
        assert_eq!(v.len(), 1_000_000, "clearing past the end does not grow");
        assert_eq!(v.set(1_000_000, Some(Arc::new(9))), None);
        assert_eq!(v.len(), 1_000_001, "setting past the end grows");
    }
}
