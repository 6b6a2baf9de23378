//! A map split into independently locked shards, so that concurrent opens, closes and
//! subscriptions rarely wait for each other.

use std::{
    collections::HashMap,
    hash::{BuildHasher, Hash, RandomState},
    sync::{Mutex, MutexGuard},
};

use crate::lock::lock;

/// Shards per map: a power of two comfortably above the core counts servers have.
const SHARDS: usize = 32;

#[derive(Debug)]
pub(crate) struct Sharded<K, V> {
    shards: Box<[Mutex<HashMap<K, V>>]>,
    hasher: RandomState,
}

impl<K: Hash + Eq, V> Sharded<K, V> {
    pub(crate) fn new() -> Sharded<K, V> {
        Sharded {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            hasher: RandomState::new(),
        }
    }

    /// The shard holding `key` (or a borrowed form of it that hashes alike), locked.
    pub(crate) fn shard<Q: Hash + ?Sized>(&self, key: &Q) -> MutexGuard<'_, HashMap<K, V>> {
        let index = self.hasher.hash_one(key) as usize % SHARDS;
        lock(&self.shards[index])
    }

    /// Every shard in turn, locked one at a time.
    pub(crate) fn each_shard(&self) -> impl Iterator<Item = MutexGuard<'_, HashMap<K, V>>> {
        self.shards.iter().map(lock)
    }

    pub(crate) fn len(&self) -> usize {
        self.each_shard().map(|shard| shard.len()).sum()
    }
}
