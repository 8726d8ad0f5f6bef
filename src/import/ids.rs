//! Id rules of an import, decided while reading: a given id is kept when it is free, and
//! new ids follow the highest id of the store and of the whole input, in input order.
//!
//! One pass cannot know the input's highest given id before the end. As long as no given id
//! above the store's highest has been read, new ids are final (`store_max + n`). From the
//! first given id above it, new ids are provisional negatives (`-n`): the appender moves the
//! final ones already written to `-n` once, and all of them to `top + n` at the end — so
//! inputs that mix given ids and no ids pay one `UPDATE`, and every other input none.

use std::collections::HashSet;

/// A set of given ids that takes little memory when they come in ascending order, as a
/// Label Studio export's do: blocks of 64 ids as bits, in order (a quarter of a byte an id
/// when they are dense), and a hash set for ids whose block was passed without them.
#[derive(Debug, Default)]
pub struct IdSet {
    /// (first id of the block, a multiple of 64; which of its ids are in the set), by id.
    blocks: Vec<(i64, u64)>,
    /// Ids below the last block that no block holds (no block is made below the last).
    others: HashSet<i64>,
}

impl IdSet {
    /// Add `id`; false when it is in the set already.
    pub fn insert(&mut self, id: i64) -> bool {
        let base = id - id.rem_euclid(64);
        let bit = 1u64 << id.rem_euclid(64);
        let at = match self.blocks.last() {
            Some((last, _)) if base < *last => {
                let i = self.blocks.partition_point(|(b, _)| *b < base);
                if self.blocks[i].0 != base {
                    return self.others.insert(id);
                }
                i
            }
            Some((last, _)) if base == *last => self.blocks.len() - 1,
            _ => {
                self.blocks.push((base, bit));
                return true;
            }
        };
        let bits = &mut self.blocks[at].1;
        let is_new = *bits & bit == 0;
        *bits |= bit;
        is_new
    }

    /// Whether `id` is in the set.
    pub fn contains(&self, id: i64) -> bool {
        let base = id - id.rem_euclid(64);
        let i = self.blocks.partition_point(|(b, _)| *b < base);
        match self.blocks.get(i) {
            Some((b, bits)) if *b == base => bits & (1u64 << id.rem_euclid(64)) != 0,
            _ => self.others.contains(&id),
        }
    }
}

/// One id space (tasks, completions or predictions) during an import.
#[derive(Debug, Default)]
pub struct IdSpace {
    /// The highest id in the store when the import started.
    pub store_max: i64,
    /// The highest given id in the input so far.
    max_given: i64,
    /// How many rows took a new id so far.
    fresh: i64,
    /// New ids are provisional (negative) and become `top() + n` at the end.
    deferred: bool,
}

/// What taking a given id means for the rows already written.
#[derive(Debug, PartialEq, Eq)]
pub enum Switch {
    /// Nothing to change.
    None,
    /// New ids from now on are provisional, and the `n` rows that took final new ids
    /// (`store_max + 1 ..= store_max + n`) must become `-1 ..= -n` before more rows go in.
    Renumber,
}

impl IdSpace {
    pub fn new(store_max: i64) -> IdSpace {
        IdSpace { store_max, ..IdSpace::default() }
    }

    /// The id of a row that needs a new one.
    pub fn fresh(&mut self) -> i64 {
        self.fresh += 1;
        if self.deferred { -self.fresh } else { self.store_max.saturating_add(self.fresh) }
    }

    /// Note a given id.
    pub fn given(&mut self, id: i64) -> Switch {
        self.max_given = self.max_given.max(id);
        if !self.deferred && id > self.store_max {
            self.deferred = true;
            if self.fresh > 0 {
                return Switch::Renumber;
            }
        }
        Switch::None
    }

    /// The id new ids are counted from: the highest of the store and of the input.
    pub fn top(&self) -> i64 {
        self.store_max.max(self.max_given)
    }

    /// The highest given id so far (0 when none).
    pub fn max_given(&self) -> i64 {
        self.max_given
    }

    /// How many rows took a new id.
    pub fn fresh_count(&self) -> i64 {
        self.fresh
    }

    /// Whether new ids are provisional and need `top() + n` written at the end.
    pub fn is_deferred(&self) -> bool {
        self.deferred && self.fresh > 0
    }

    /// Whether the new ids run past the largest id.
    pub fn overflows(&self) -> bool {
        self.top().checked_add(self.fresh).is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ids as the appender ends up with them: provisional ones moved as the switch and the
    /// end say.
    fn run(store_max: i64, input: &[Option<i64>]) -> Vec<i64> {
        let mut space = IdSpace::new(store_max);
        let mut ids: Vec<i64> = Vec::new();
        for given in input {
            match given {
                Some(id) => {
                    if space.given(*id) == Switch::Renumber {
                        for v in ids.iter_mut().filter(|v| **v > store_max) {
                            *v = -(*v - store_max);
                        }
                    }
                    ids.push(*id);
                }
                None => ids.push(space.fresh()),
            }
        }
        if space.is_deferred() {
            let top = space.top();
            for v in ids.iter_mut().filter(|v| **v < 0) {
                *v = top - *v;
            }
        }
        ids
    }

    #[test]
    fn new_ids_follow_the_store_when_nothing_is_given() {
        assert_eq!(run(5, &[None, None, None]), [6, 7, 8]);
    }

    #[test]
    fn new_ids_follow_the_highest_given_id_wherever_it_comes() {
        assert_eq!(run(0, &[None, Some(10), None]), [11, 10, 12]);
        assert_eq!(run(0, &[Some(10), None, None]), [10, 11, 12]);
        assert_eq!(run(20, &[None, Some(3), None]), [21, 3, 22]);
        assert_eq!(run(20, &[None, Some(3), None, Some(30), None]), [31, 3, 32, 30, 33]);
    }

    use proptest::strategy::Strategy;

    proptest::proptest! {
        #[test]
        fn id_sets_hold_what_a_hash_set_holds(
            ids in proptest::collection::vec(
                proptest::prop_oneof![0i64..300, i64::MIN..=i64::MAX, (0i64..2000).prop_map(|i| i * 3)],
                0..400,
            ),
            is_sorted in proptest::bool::ANY,
        ) {
            let mut ids = ids;
            if is_sorted {
                ids.sort_unstable();
            }
            let mut set = IdSet::default();
            let mut expected = HashSet::new();
            for &id in &ids {
                proptest::prop_assert_eq!(set.insert(id), expected.insert(id), "id {}", id);
            }
            for id in ids.iter().flat_map(|&id| [id, id.wrapping_add(1), id.wrapping_sub(64)]) {
                proptest::prop_assert_eq!(set.contains(id), expected.contains(&id), "id {}", id);
            }
        }
    }

    #[test]
    fn ascending_ids_take_a_block_per_64() {
        let mut set = IdSet::default();
        for id in 1..=6400 {
            assert!(set.insert(id));
        }
        assert!(!set.insert(64) && !set.insert(6400) && set.insert(6401) && set.insert(0));
        assert_eq!((set.blocks.len(), set.others.len()), (101, 0));
        assert!(set.insert(-5) && !set.insert(-5));
        assert_eq!(set.others.len(), 1);
    }

    #[test]
    fn overflow_is_told() {
        let mut space = IdSpace::new(0);
        space.given(i64::MAX);
        assert!(!space.overflows());
        space.fresh();
        assert!(space.overflows());
    }
}
