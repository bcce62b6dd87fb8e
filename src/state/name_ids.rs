//! `NameIds`: the ids that carry one name, the value of the name indexes in
//! [`State`](super::State).
//!
//! Names repeat only across domains, so nearly every name has one id: that
//! one is kept inline, with no allocation of its own (a hundred thousand
//! fewer allocations when the directory is loaded at start).

use std::sync::Arc;

use super::HashMap;
use crate::domain::Name;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum NameIds<Id> {
    One(Id),
    /// Two or more, in the order they were added.
    Many(Arc<[Id]>),
}

impl<Id: Copy + PartialEq> NameIds<Id> {
    pub(crate) fn iter(&self) -> std::slice::Iter<'_, Id> {
        match self {
            NameIds::One(id) => std::slice::from_ref(id).iter(),
            NameIds::Many(ids) => ids.iter(),
        }
    }
}

/// Adds `id` under `name` (once).
pub(crate) fn push_id<Id: Copy + PartialEq>(
    index: &mut HashMap<Name, NameIds<Id>>,
    name: &Name,
    id: Id,
) {
    match index.get_mut(name) {
        None => {
            index.insert(name.clone(), NameIds::One(id));
        }
        Some(ids) if ids.iter().any(|x| *x == id) => {}
        Some(ids) => {
            let mut more: Vec<Id> = ids.iter().copied().collect();
            more.push(id);
            *ids = NameIds::Many(Arc::from(more));
        }
    }
}

/// Removes `id` from under `name` (and the name, once it has no ids).
pub(crate) fn remove_id<Id: Copy + PartialEq>(
    index: &mut HashMap<Name, NameIds<Id>>,
    name: &Name,
    id: Id,
) {
    let Some(ids) = index.get(name) else {
        return;
    };
    let rest: Vec<Id> = ids.iter().copied().filter(|x| *x != id).collect();
    match rest.as_slice() {
        [] => {
            index.remove(name);
        }
        [one] => {
            index.insert(name.clone(), NameIds::One(*one));
        }
        _ => {
            index.insert(name.clone(), NameIds::Many(Arc::from(rest)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(index: &HashMap<Name, NameIds<i64>>, name: &Name) -> Vec<i64> {
        index
            .get(name)
            .map(|ids| ids.iter().copied().collect())
            .unwrap_or_default()
    }

    #[test]
    fn ids_are_added_once_in_order_and_removed_down_to_none() {
        let (a, b) = (Name::trusted("alice"), Name::trusted("bob"));
        let mut index = HashMap::new();
        push_id(&mut index, &a, 3);
        push_id(&mut index, &a, 3);
        assert_eq!(index.get(&a), Some(&NameIds::One(3)));
        push_id(&mut index, &a, 9);
        push_id(&mut index, &a, 5);
        push_id(&mut index, &a, 9);
        push_id(&mut index, &b, 4);
        assert_eq!(ids(&index, &a), vec![3, 9, 5]);
        let before = index.clone();
        remove_id(&mut index, &a, 9);
        remove_id(&mut index, &a, 7); // never there
        assert_eq!(ids(&index, &a), vec![3, 5]);
        remove_id(&mut index, &a, 3);
        // Down to one id it is kept inline again, so equal indexes compare equal.
        assert_eq!(index.get(&a), Some(&NameIds::One(5)));
        remove_id(&mut index, &a, 5);
        assert!(index.get(&a).is_none());
        assert_eq!(ids(&index, &b), vec![4]);
        assert_eq!(ids(&before, &a), vec![3, 9, 5]);
    }
}
