//! Statistics kept between runs: an interval or a paired difference depends only on the
//! values it resamples (and the bootstrap's seed and resamples), so it is kept under a key
//! made of exactly those, and a re-run, a grown grid or a halving rung reads it back.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::{Metric, PairedDiff, QuestionRow, bootstrap_cis, paired_diff};

/// Where statistics computed once are kept between runs (the stage store: the sweep's
/// `StoreStats`). Entries are looked up by key; a damaged or missing one is computed again.
pub trait StatsCache: Sync {
    /// The bytes kept under `key`, if any (verified by the store).
    fn get(&self, key: &str) -> Option<Vec<u8>>;
    /// Keep `bytes` under `key`; a failure only costs a recomputation next time.
    fn put(&self, key: &str, bytes: &[u8]);
}

/// The version of interval entries: part of every key, bumped when the draws, the
/// metrics or the encoding change.
pub const STATS_VERSION: u32 = 1;

/// How many statistics a call computed and how many it read back, and the entries it has
/// seen: with a cache, values seen twice (within one call too) are resampled once; without
/// one, every statistic counts as computed.
#[derive(Debug, Default)]
pub struct StatsCounts {
    /// Distinct entries computed by resampling.
    pub computed: AtomicUsize,
    /// Statistics read from the cache or from an entry computed earlier in the call.
    pub reused: AtomicUsize,
    seen: Mutex<HashMap<String, Arc<OnceLock<Vec<u8>>>>>,
}

/// Statistics kept in memory: for a caller without a store, and for tests.
#[derive(Debug, Default)]
pub struct MemoryStats(Mutex<HashMap<String, Vec<u8>>>);

impl MemoryStats {
    /// Apply `f` to every kept entry's bytes (tests damage entries this way).
    pub fn edit_entries(&self, f: impl FnMut(&mut Vec<u8>)) {
        self.0.lock().expect("stats lock").values_mut().for_each(f);
    }
}

impl StatsCache for MemoryStats {
    fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.0.lock().expect("stats lock").get(key).cloned()
    }
    fn put(&self, key: &str, bytes: &[u8]) {
        let mut m = self.0.lock().expect("stats lock");
        m.insert(key.to_string(), bytes.to_vec());
    }
}

/// A key over `what`, the bootstrap's settings and `columns` of optional values.
fn stats_key(what: &str, columns: impl Iterator<Item = Option<f64>>) -> String {
    let mut h = ragtune_core::ContentHasher::new();
    h.field(what)
        .field(STATS_VERSION.to_le_bytes())
        .field(crate::SEED.to_le_bytes())
        .field((crate::RESAMPLES as u64).to_le_bytes());
    let mut buf = Vec::new();
    for v in columns {
        match v {
            Some(x) => {
                buf.push(1);
                buf.extend_from_slice(&x.to_bits().to_le_bytes());
            }
            None => buf.push(0),
        }
    }
    h.field(&buf);
    h.finish_hex()
}

/// The f64 at byte `at` of an entry, if the entry is long enough.
fn f64_at(bytes: &[u8], at: usize) -> Option<f64> {
    Some(f64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

/// `compute`'s value, or the one kept under `key`. Each key is computed (or read from
/// the cache) once per call, however many rows share it and whichever thread asks first,
/// so the counts do not depend on timing.
fn cached<T>(
    cache: Option<&dyn StatsCache>,
    counts: &StatsCounts,
    key: impl FnOnce() -> String,
    decode: impl Fn(&[u8]) -> Option<T>,
    encode: impl FnOnce(&T) -> Vec<u8>,
    compute: impl FnOnce() -> T,
) -> T {
    let Some(cache) = cache else {
        counts.computed.fetch_add(1, Ordering::Relaxed);
        return compute();
    };
    let key = key();
    let cell = Arc::clone(
        counts
            .seen
            .lock()
            .expect("stats lock")
            .entry(key.clone())
            .or_default(),
    );
    let mut computed = false;
    let bytes = cell.get_or_init(|| {
        if let Some(b) = cache.get(&key).filter(|b| decode(b).is_some()) {
            return b;
        }
        computed = true;
        let b = encode(&compute());
        cache.put(&key, &b);
        b
    });
    let which = if computed {
        &counts.computed
    } else {
        &counts.reused
    };
    which.fetch_add(1, Ordering::Relaxed);
    decode(bytes).expect("an entry decoded once decodes again")
}

/// The paired difference of `x` and `y`, kept in `cache` under their key.
pub fn paired_diff_kept(
    x: &[f64],
    y: &[f64],
    cache: Option<&dyn StatsCache>,
    counts: &StatsCounts,
) -> Option<PairedDiff> {
    cached(
        cache,
        counts,
        || {
            let values = x.iter().chain(y).map(|&v| Some(v));
            stats_key(&format!("paired/{}", x.len()), values)
        },
        |b| match b {
            [0] => Some(None),
            [1, rest @ ..] if rest.len() == 32 => Some(Some(PairedDiff {
                mean: f64_at(rest, 0)?,
                low: f64_at(rest, 8)?,
                high: f64_at(rest, 16)?,
                n: u64::from_le_bytes(rest[24..32].try_into().ok()?) as usize,
            })),
            _ => None,
        },
        |d| match d {
            None => vec![0],
            Some(d) => {
                let mut out = vec![1];
                for v in [d.mean, d.low, d.high] {
                    out.extend_from_slice(&v.to_le_bytes());
                }
                out.extend_from_slice(&(d.n as u64).to_le_bytes());
                out
            }
        },
        || paired_diff(x, y),
    )
}

/// The 95% interval of the mean of `values` ([`crate::bootstrap_ci`]), kept in `cache`
/// under their key.
pub fn interval_kept(
    values: &[f64],
    cache: Option<&dyn StatsCache>,
    counts: &StatsCounts,
) -> Option<(f64, f64)> {
    cached(
        cache,
        counts,
        || {
            stats_key(
                &format!("ci/{}", values.len()),
                values.iter().map(|&v| Some(v)),
            )
        },
        // The encoding of one metric's interval in a row's entry.
        |b| decode_cis(b, 1).map(|v| v[0]),
        |ci| encode_cis(std::slice::from_ref(ci)),
        || crate::bootstrap_ci(values),
    )
}

fn encode_cis(cis: &[Option<(f64, f64)>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(cis.len() * 17);
    for ci in cis {
        match ci {
            Some((lo, hi)) => {
                out.push(1);
                out.extend_from_slice(&lo.to_le_bytes());
                out.extend_from_slice(&hi.to_le_bytes());
            }
            None => out.push(0),
        }
    }
    out
}

fn decode_cis(bytes: &[u8], n: usize) -> Option<Vec<Option<(f64, f64)>>> {
    let (mut at, mut out) = (0, Vec::with_capacity(n));
    for _ in 0..n {
        match *bytes.get(at)? {
            0 => {
                out.push(None);
                at += 1;
            }
            1 => {
                out.push(Some((f64_at(bytes, at + 1)?, f64_at(bytes, at + 9)?)));
                at += 17;
            }
            _ => return None,
        }
    }
    (at == bytes.len()).then_some(out)
}

/// Every metric's interval over `qs` ([`Metric::ALL`] order), kept in `cache` under the
/// values' key.
pub fn metric_cis_kept(
    qs: &[&QuestionRow],
    cache: Option<&dyn StatsCache>,
    counts: &StatsCounts,
) -> Vec<Option<(f64, f64)>> {
    let n = Metric::ALL.len();
    cached(
        cache,
        counts,
        || {
            let values = Metric::ALL
                .iter()
                .flat_map(|&m| qs.iter().map(move |q| q.metrics.get(m)));
            stats_key(&format!("cis/{n}/{}", qs.len()), values)
        },
        |b| decode_cis(b, n),
        |v| encode_cis(v),
        || metric_cis(qs),
    )
}

/// Every metric's interval over `qs`. Metrics present for every question share one set of
/// bootstrap draws; any other is resampled over the questions where it applies.
fn metric_cis(qs: &[&QuestionRow]) -> Vec<Option<(f64, f64)>> {
    let values: Vec<Vec<Option<f64>>> = Metric::ALL
        .iter()
        .map(|&m| qs.iter().map(|q| q.metrics.get(m)).collect())
        .collect();
    let full: Vec<usize> = (0..values.len())
        .filter(|&i| !qs.is_empty() && values[i].iter().all(Option::is_some))
        .collect();
    let dense: Vec<Vec<f64>> = full
        .iter()
        .map(|&i| values[i].iter().map(|v| v.unwrap_or(0.0)).collect())
        .collect();
    let shared = bootstrap_cis(&dense.iter().map(Vec::as_slice).collect::<Vec<_>>());
    values
        .iter()
        .enumerate()
        .map(|(i, v)| match full.iter().position(|&f| f == i) {
            Some(j) => shared[j],
            None => crate::bootstrap_ci(&v.iter().flatten().copied().collect::<Vec<_>>()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counted(c: &StatsCounts) -> (usize, usize) {
        (
            c.computed.load(Ordering::Relaxed),
            c.reused.load(Ordering::Relaxed),
        )
    }

    #[test]
    fn kept_intervals_are_the_bootstraps_and_are_read_back() {
        let values: Vec<f64> = (0..37).map(|i| f64::from(i % 5) / 4.0).collect();
        let other: Vec<f64> = values.iter().map(|v| 1.0 - v).collect();
        let memory = MemoryStats::default();
        let first = StatsCounts::default();
        let got = interval_kept(&values, Some(&memory), &first);
        assert_eq!(got, crate::bootstrap_ci(&values));
        assert!(got.is_some());
        // An empty column has no interval, and that is kept too.
        assert_eq!(interval_kept(&[], Some(&memory), &first), None);
        let d = paired_diff_kept(&values, &other, Some(&memory), &first);
        assert_eq!(d, paired_diff(&values, &other));
        assert_eq!(counted(&first), (3, 0));
        // A later call (another run) reads all three back, the same values.
        let again = StatsCounts::default();
        assert_eq!(interval_kept(&values, Some(&memory), &again), got);
        assert_eq!(interval_kept(&[], Some(&memory), &again), None);
        assert_eq!(paired_diff_kept(&values, &other, Some(&memory), &again), d);
        assert_eq!(counted(&again), (0, 3));
        // One changed value is another key.
        let mut changed = values.clone();
        changed[3] += 0.25;
        let _ = interval_kept(&changed, Some(&memory), &again);
        assert_eq!(counted(&again), (1, 3));
        // A damaged entry is computed again, never decoded into a wrong interval.
        memory.edit_entries(|v| v.truncate(v.len().saturating_sub(1).max(1)));
        let damaged = StatsCounts::default();
        assert_eq!(interval_kept(&values, Some(&memory), &damaged), got);
        assert_eq!(counted(&damaged), (1, 0));
    }
}
