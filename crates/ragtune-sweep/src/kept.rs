//! The stage store as the keeper of statistics: row intervals and paired differences
//! (`intervals/` entries), kept under keys made of the values they resample.

use ragtune_eval::StatsCache;
use ragtune_store::{Stage, StageStore};

/// The stage store seen as a [`StatsCache`]: read, and written unless made with
/// [`StoreStats::reading`].
pub struct StoreStats<'s> {
    store: &'s StageStore,
    write: bool,
}

impl<'s> StoreStats<'s> {
    /// Read entries and keep new ones (a sweep, its searches).
    pub fn new(store: &'s StageStore) -> Self {
        Self { store, write: true }
    }

    /// Read entries, never write (a command that only looks at a finished run).
    pub fn reading(store: &'s StageStore) -> Self {
        Self {
            store,
            write: false,
        }
    }
}

impl StatsCache for StoreStats<'_> {
    fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.store.get(Stage::Intervals, key)
    }
    fn put(&self, key: &str, bytes: &[u8]) {
        if !self.write {
            return;
        }
        // Not kept: computed again next time, nothing else is lost.
        if let Err(e) = self.store.put(Stage::Intervals, key, bytes) {
            tracing::warn!("keeping intervals in the stage store failed: {e}");
        }
    }
}
