//! String interning: each ref, job run id, want id and label is stored once and named by a `u32`.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

/// Strings ↔ dense `u32` ids, in first-seen order (so ids are deterministic for a given log).
/// The table holds only ids and hashes against `names`, so each string is stored once.
#[derive(Default, Clone)]
pub struct Interner {
    names: Vec<Box<str>>,
    table: HashTable<u32>,
}

impl std::fmt::Debug for Interner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interner").field("len", &self.names.len()).finish()
    }
}

fn hash(name: &str) -> u64 {
    FxBuildHasher.hash_one(name)
}

impl Interner {
    pub fn get(&self, name: &str) -> Option<u32> {
        self.table.find(hash(name), |&id| &*self.names[id as usize] == name).copied()
    }

    /// The id of `name`, and whether it was new.
    pub fn intern(&mut self, name: &str) -> (u32, bool) {
        let hash = hash(name);
        if let Some(&id) = self.table.find(hash, |&id| &*self.names[id as usize] == name) {
            return (id, false);
        }
        let id = u32::try_from(self.names.len()).expect("fewer than 2^32 distinct names");
        self.names.push(name.into());
        let names = &self.names;
        self.table.insert_unique(hash, id, |&id| self::hash(&names[id as usize]));
        (id, true)
    }

    pub fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
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
        assert_eq!(interner.get("data/b"), Some(1));
        assert_eq!(interner.get("data/c"), None);
        assert_eq!(interner.name(1), "data/b");
        assert_eq!(interner.len(), 2);
    }
}
