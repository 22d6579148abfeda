//! [`Column`]: where a state keeps each kind of entity.

use std::ops::{Index, IndexMut};
use std::sync::Mutex;

const CHUNK_BITS: u32 = 16;
const CHUNK: usize = 1 << CHUNK_BITS;
/// Chunks to print at once from which printing is worth a second thread (a thread costs tens of
/// microseconds; a chunk's print, milliseconds).
const PARALLEL_PRINT_CHUNKS: usize = 4;

/// Entities per digest block: a change re-hashes only its block (see [`Column::print`]).
const BLOCK_BITS: u32 = 6;
const BLOCK: usize = 1 << BLOCK_BITS;
const BLOCKS_PER_CHUNK: usize = CHUNK / BLOCK;

/// A growable array stored in fixed chunks of 65,536. Growing never moves what is stored, so a
/// column of millions of entities never exists twice in memory, as a `Vec` does for a moment each
/// time it doubles (that moment set the peak RSS of a large load).
///
/// It also keeps a print (a hash) of every block of 64 entities and of every chunk, forgotten
/// whenever an entity in them is changed or added. All changes go through `push` and `index_mut`,
/// so the digest of a large state costs what changed since the last one, not the whole state.
pub struct Column<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
    prints: Mutex<Prints>,
}

/// A block's, chunk's or column's print: XXH3-128. A digest compares states, it does not defend
/// against forgery, and BLAKE3 made the first digest after a 10M-event load 0.15 s slower.
pub type Print = [u8; 16];

/// The print of `bytes`.
pub fn print_bytes(bytes: &[u8]) -> Print {
    xxhash_rust::xxh3::xxh3_128(bytes).to_le_bytes()
}

#[derive(Clone, Default)]
struct Prints {
    blocks: Vec<Option<Print>>,
    chunks: Vec<Option<Print>>,
    /// Entities from here on are in chunks that did not exist at the last print: they have no prints to
    /// forget. A load prints nothing until its end, so its changes cost nothing here.
    unprinted_from: usize,
}

impl Prints {
    fn forget(&mut self, i: usize) {
        if i >= self.unprinted_from {
            return;
        }
        let (block, chunk) = (i >> BLOCK_BITS, i >> CHUNK_BITS);
        if self.blocks.len() <= block {
            self.blocks.resize(block + 1, None);
        }
        if self.chunks.len() <= chunk {
            self.chunks.resize(chunk + 1, None);
        }
        self.blocks[block] = None;
        self.chunks[chunk] = None;
    }

    /// A slot (unprinted, if new) for every block and chunk of a column of `len` entities.
    fn cover(&mut self, len: usize) {
        self.blocks.resize(self.blocks.len().max(len.div_ceil(BLOCK)), None);
        self.chunks.resize(self.chunks.len().max(len.div_ceil(CHUNK)), None);
    }
}

impl<T> Default for Column<T> {
    fn default() -> Self {
        Column { chunks: Vec::new(), len: 0, prints: Mutex::default() }
    }
}

impl<T: Clone> Clone for Column<T> {
    fn clone(&self) -> Self {
        let prints = self.prints.lock().unwrap_or_else(|e| e.into_inner()).clone();
        Column { chunks: self.chunks.clone(), len: self.len, prints: Mutex::new(prints) }
    }
}

impl<T> Column<T> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn push(&mut self, value: T) {
        if self.len.is_multiple_of(CHUNK) {
            // The first chunk grows by doubling, so a small state stays small; later ones are made
            // whole at once, since growing them would fault in (and zero) each page twice over.
            let capacity = if self.chunks.is_empty() { 0 } else { CHUNK };
            self.chunks.push(Vec::with_capacity(capacity));
        }
        self.chunks.last_mut().expect("a chunk with room").push(value);
        self.prints.get_mut().unwrap_or_else(|e| e.into_inner()).forget(self.len);
        self.len += 1;
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + '_ {
        self.chunks.iter().flatten()
    }

    /// A print of the whole column: of its chunks' prints, each of its blocks' prints, each block
    /// printed by `print(index of its first entity, its entities)`. Only blocks changed since the
    /// last call are printed again; when many chunks changed (a first digest after a load), they are
    /// printed on two threads.
    pub fn print(&self, print: impl Fn(usize, &[T]) -> Print + Sync) -> Print
    where
        T: Sync,
    {
        let mut prints = self.prints.lock().unwrap_or_else(|e| e.into_inner());
        prints.cover(self.len);
        prints.unprinted_from = self.chunks.len() * CHUNK;
        let Prints { blocks, chunks, .. } = &mut *prints;
        let print_chunk = |c: usize, chunk: &[T], blocks: &mut [Option<Print>]| {
            let mut block_prints = Vec::with_capacity(BLOCKS_PER_CHUNK * size_of::<Print>());
            for (b, entities) in chunk.chunks(BLOCK).enumerate() {
                block_prints.extend_from_slice(blocks[b].get_or_insert_with(|| print(c * CHUNK + b * BLOCK, entities)));
            }
            print_bytes(&block_prints)
        };
        let mut unprinted: Vec<_> = self
            .chunks
            .iter()
            .zip(blocks.chunks_mut(BLOCKS_PER_CHUNK))
            .zip(chunks.iter_mut())
            .enumerate()
            .filter(|(_, (_, print))| print.is_none())
            .collect();
        // (chunk number, ((its entities, its blocks' prints), its print))
        type Todo<'a, T> = (usize, ((&'a Vec<T>, &'a mut [Option<Print>]), &'a mut Option<Print>));
        let print_all = |todo: &mut [Todo<T>]| {
            for (c, ((chunk, blocks), print)) in todo {
                **print = Some(print_chunk(*c, chunk, blocks));
            }
        };
        if unprinted.len() >= PARALLEL_PRINT_CHUNKS {
            let half = unprinted.len() / 2;
            let (first, second) = unprinted.split_at_mut(half);
            std::thread::scope(|scope| {
                scope.spawn(|| print_all(second));
                print_all(first);
            });
        } else {
            print_all(&mut unprinted);
        }
        drop(unprinted);
        let mut column = (self.len as u64).to_le_bytes().to_vec();
        for print in chunks.iter().take(self.chunks.len()) {
            column.extend_from_slice(print.as_ref().expect("every chunk printed above"));
        }
        print_bytes(&column)
    }
}

impl<T> Index<usize> for Column<T> {
    type Output = T;

    #[inline]
    fn index(&self, i: usize) -> &T {
        &self.chunks[i >> CHUNK_BITS][i & (CHUNK - 1)]
    }
}

impl<T> IndexMut<usize> for Column<T> {
    #[inline]
    fn index_mut(&mut self, i: usize) -> &mut T {
        self.prints.get_mut().unwrap_or_else(|e| e.into_inner()).forget(i);
        &mut self.chunks[i >> CHUNK_BITS][i & (CHUNK - 1)]
    }
}
impl<T: std::fmt::Debug> std::fmt::Debug for Column<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// A column's entities as a sequence of known length.
struct Entities<'a, T>(&'a Column<T>);

impl<T: serde::Serialize> serde::Serialize for Entities<'_, T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(Some(self.0.len))?;
        for value in self.0.iter() {
            seq.serialize_element(value)?;
        }
        seq.end()
    }
}

/// Entities read back into a column, pushed one by one.
struct Pushed<T>(Column<T>);

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Pushed<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Pushed<T>, D::Error> {
        struct Visit<T>(std::marker::PhantomData<T>);
        impl<'de, T: serde::Deserialize<'de>> serde::de::Visitor<'de> for Visit<T> {
            type Value = Pushed<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a sequence of entities")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Pushed<T>, A::Error> {
                let mut column = Column::default();
                while let Some(value) = seq.next_element()? {
                    column.push(value);
                }
                Ok(Pushed(column))
            }
        }
        deserializer.deserialize_seq(Visit(std::marker::PhantomData))
    }
}

/// A column is stored with its prints, so a state read back from a snapshot has its digest at once.
impl<T: serde::Serialize> serde::Serialize for Column<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut prints = self.prints.lock().unwrap_or_else(|e| e.into_inner());
        prints.cover(self.len);
        (Entities(self), &prints.blocks, &prints.chunks).serialize(serializer)
    }
}

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Column<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Column<T>, D::Error> {
        type Stored<T> = (Pushed<T>, Vec<Option<Print>>, Vec<Option<Print>>);
        let (Pushed(mut column), blocks, chunks): Stored<T> = serde::Deserialize::deserialize(deserializer)?;
        // Prints of another shape are not used: every block is printed again when asked.
        let fits = blocks.len() == column.len.div_ceil(BLOCK) && chunks.len() == column.len.div_ceil(CHUNK);
        let prints = column.prints.get_mut().unwrap_or_else(|e| e.into_inner());
        let unprinted_from = column.chunks.len() * CHUNK;
        *prints = match fits {
            true => Prints { blocks, chunks, unprinted_from },
            false => Prints::default(),
        };
        Ok(column)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    use super::*;

    #[test]
    fn indexes_across_chunks() {
        let mut column = Column::default();
        for i in 0..(CHUNK * 2 + 3) {
            column.push(i);
        }
        assert_eq!(column.len(), CHUNK * 2 + 3);
        assert_eq!(column[CHUNK - 1], CHUNK - 1);
        assert_eq!(column[CHUNK], CHUNK);
        assert_eq!(column[CHUNK * 2 + 2], CHUNK * 2 + 2);
        column[CHUNK] = 7;
        assert_eq!(column[CHUNK], 7);
        assert_eq!(column.iter().count(), CHUNK * 2 + 3);
        assert_eq!(column.iter().next_back(), Some(&(CHUNK * 2 + 2)));
    }

    fn print_block(first: usize, block: &[usize]) -> Print {
        let bytes: Vec<u8> = std::iter::once(first).chain(block.iter().copied()).flat_map(usize::to_le_bytes).collect();
        print_bytes(&bytes)
    }

    #[test]
    fn a_print_on_two_threads_is_the_print_made_a_chunk_at_a_time() {
        let entities = CHUNK * (PARALLEL_PRINT_CHUNKS + 1) + 5;
        let mut at_once = Column::default();
        let mut bit_by_bit = Column::default();
        for i in 0..entities {
            at_once.push(i);
            bit_by_bit.push(i);
            if i % (CHUNK / 2) == 0 {
                bit_by_bit.print(print_block);
            }
        }
        assert_eq!(at_once.print(print_block), bit_by_bit.print(print_block));
        at_once[3] = 0;
        assert_ne!(at_once.print(print_block), bit_by_bit.print(print_block));
    }

    #[test]
    fn prints_follow_every_change_and_reprint_only_changed_blocks() {
        let printed = AtomicUsize::new(0);
        let print = |first: usize, block: &[usize]| {
            printed.fetch_add(1, Relaxed);
            print_block(first, block)
        };
        let mut column = Column::default();
        (0..CHUNK + 100).for_each(|i| column.push(i));
        let whole = column.print(print);
        assert_eq!(printed.load(Relaxed), BLOCKS_PER_CHUNK + 2);
        assert_eq!(column.print(print), whole);
        assert_eq!(printed.load(Relaxed), BLOCKS_PER_CHUNK + 2, "nothing changed: nothing printed again");
        column[70] += 1;
        let changed = column.print(print);
        assert_ne!(changed, whole);
        assert_eq!(printed.load(Relaxed), BLOCKS_PER_CHUNK + 3, "one block printed again");
        column[70] -= 1;
        assert_eq!(column.print(print), whole);
        column.push(0);
        assert_ne!(column.print(print), whole);
        // Pushes into the printed last block and chunk, then into a chunk never printed, each changed
        // after: every print is the print of the same entities never printed before.
        let fresh = |column: &Column<usize>| {
            let mut fresh = Column::default();
            column.iter().for_each(|&v| fresh.push(v));
            fresh.print(print_block)
        };
        column.push(1);
        column[CHUNK + 101] = 7;
        assert_eq!(column.print(print), fresh(&column));
        (0..CHUNK).for_each(|i| column.push(i));
        column[2 * CHUNK + 5] = 9;
        column[CHUNK + 102] = 3;
        assert_eq!(column.print(print), fresh(&column));
    }
}
