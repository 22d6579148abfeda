//! String interning: each ref, job run id, want id and label is stored once and named by a `u32`.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

/// Strings ↔ dense `u32` ids, in first-seen order (so ids are deterministic for a given log).
/// The table holds only ids and hashes against `names`, so each string is stored once.
#[derive(Default, Clone)]
pub struct Interner {
    names: Names,
    table: HashTable<u32>,
}

/// Every name in one text buffer, found by its end offset: no allocation or pointer per name, which
/// at millions of names was most of their cost.
#[derive(Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct Names {
    text: String,
    /// `ends[id]` is where name `id` ends in `text`; it starts where the previous one ends. Four
    /// bytes: 4 GiB of names of one kind is some billions of events.
    ends: Vec<u32>,
}

impl Names {
    fn get(&self, id: u32) -> &str {
        let id = id as usize;
        let start = if id == 0 { 0 } else { self.ends[id - 1] as usize };
        &self.text[start..self.ends[id] as usize]
    }
}

impl std::fmt::Debug for Interner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interner").field("len", &self.len()).finish()
    }
}

fn hash(name: &str) -> u64 {
    FxBuildHasher.hash_one(name)
}

impl Interner {
    pub fn get(&self, name: &str) -> Option<u32> {
        self.table.find(hash(name), |&id| self.names.get(id) == name).copied()
    }

    /// The id of `name`, and whether it was new.
    pub fn intern(&mut self, name: &str) -> (u32, bool) {
        let hash = hash(name);
        if let Some(&id) = self.table.find(hash, |&id| self.names.get(id) == name) {
            return (id, false);
        }
        let id = u32::try_from(self.len()).expect("fewer than 2^32 distinct names");
        self.names.text.push_str(name);
        let end = u32::try_from(self.names.text.len()).expect("under 4 GiB of names of one kind");
        self.names.ends.push(end);
        let names = &self.names;
        grow_in_order(&mut self.table, || (0..id).map(|id| (self::hash(names.get(id)), id)));
        self.table.insert_unique(hash, id, |&id| self::hash(names.get(id)));
        (id, true)
    }

    pub fn name(&self, id: u32) -> &str {
        self.names.get(id)
    }

    pub fn len(&self) -> usize {
        self.names.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.ends.is_empty()
    }
}

/// Makes room in a full `table` for one more entry, from `entries` (every entry's hash and value, in the
/// order their keys are stored). hashbrown grows a table by rehashing it in bucket order, reading each
/// entry's key at random (a name in the text buffer, a UUID in its column): at 10M events those reads
/// were a tenth of applying. Read in their own order, the keys stream from memory.
pub(super) fn grow_in_order<T, I: Iterator<Item = (u64, T)>>(table: &mut HashTable<T>, entries: impl FnOnce() -> I) {
    if table.len() < table.capacity() {
        return;
    }
    let mut grown = HashTable::with_capacity(2 * table.capacity().max(4));
    for (hash, value) in entries() {
        grown.insert_unique(hash, value, |_| unreachable!("the table was made with room for every entry"));
    }
    *table = grown;
}

/// Serialized as its names alone: the table is rebuilt on load, which is cheaper than storing it.
impl serde::Serialize for Interner {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.names.serialize(serializer)
    }
}

impl<'de> serde::Deserialize<'de> for Interner {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Interner, D::Error> {
        let names = Names::deserialize(deserializer)?;
        if names.ends.windows(2).any(|w| w[0] > w[1])
            || names.ends.last().is_some_and(|&end| end as usize != names.text.len())
            || names.ends.iter().any(|&end| !names.text.is_char_boundary(end as usize))
        {
            return Err(serde::de::Error::custom("interned names do not match their text"));
        }
        let mut table = HashTable::with_capacity(names.ends.len());
        for id in 0..names.ends.len() as u32 {
            table.insert_unique(hash(names.get(id)), id, |&id| hash(names.get(id)));
        }
        Ok(Interner { names, table })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_is_stable_and_dense() {
        let mut interner = Interner::default();
        assert_eq!(interner.intern("data/a"), (0, true));
        assert_eq!(interner.intern("data/b"), (1, true));
        assert_eq!(interner.intern("data/a"), (0, false));
        assert_eq!(interner.intern(""), (2, true));
        assert_eq!(interner.get("data/b"), Some(1));
        assert_eq!(interner.get("data/c"), None);
        assert_eq!(interner.name(1), "data/b");
        assert_eq!(interner.name(2), "");
        assert_eq!(interner.len(), 3);
    }

    #[test]
    fn every_name_is_found_after_the_table_grows_many_times() {
        let mut interner = Interner::default();
        let names: Vec<String> = (0..20_000).map(|i| format!("data/{i}")).collect();
        for (id, name) in names.iter().enumerate() {
            assert_eq!(interner.intern(name), (id as u32, true));
        }
        for (id, name) in names.iter().enumerate() {
            assert_eq!(interner.get(name), Some(id as u32));
            assert_eq!(interner.intern(name), (id as u32, false));
        }
        assert_eq!(interner.get("data/20000"), None);
    }
}
