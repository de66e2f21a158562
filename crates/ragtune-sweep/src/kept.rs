//! The stage store as the keeper of statistics: row intervals and paired differences
//! (`intervals/` entries), kept under keys made of the values they resample.

use ragtune_eval::StatsCache;
use ragtune_store::{Stage, StageStore};

/// The stage store seen as a [`StatsCache`].
pub struct StoreStats<'s>(pub &'s StageStore);

impl StatsCache for StoreStats<'_> {
    fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.0.get(Stage::Intervals, key)
    }
    fn put(&self, key: &str, bytes: &[u8]) {
        // Not kept: computed again next time, nothing else is lost.
        if let Err(e) = self.0.put(Stage::Intervals, key, bytes) {
            tracing::warn!("keeping intervals in the stage store failed: {e}");
        }
    }
}
