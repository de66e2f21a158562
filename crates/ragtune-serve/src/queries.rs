//! Query vectors for serving: a bounded cache of recent queries' vectors, and
//! micro-batching, so that concurrent requests share inference calls.
//!
//! A query's vector comes from, in order: the cache (LRU, keyed by the exact query text;
//! one cache per served model, so the model is part of every key); the stage store (the
//! sweep's own question vectors, so that served rankings equal evaluated ones); the model.
//! With batching on, a request that needs the model hands its text to the batch worker
//! and waits. The worker takes every query queued, up to [`QueryOptions::max_batch`]
//! (when more than one was queued, also those that arrive within
//! [`QueryOptions::batch_wait`] of the first), and embeds them in one request to the
//! model, which sorts them by length and cuts them into inference calls that run side by
//! side on its sessions. While it embeds, the next queries queue: batches grow with the
//! load, and a query that comes alone is embedded at once. (`ragtune serve` cuts calls
//! at 64 padded tokens, about 4 queries: on 2 cores that served 1.4–1.5× the queries
//! per second of unbatched serving, where one call per batch or calls of 256 tokens
//! served fewer, docs/benchmarks.md.) Rows of a batch are padded to its longest text, which leaves
//! each row's vector bit for bit as it is alone for float32 models; models whose vectors
//! depend on their batch-mates (dynamically quantised ones) are detected when batching
//! starts ([`batch_invariant`]) and served one query per call.

use std::fmt::Write;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lru::LruCache;
use ragtune_core::{EmbedFailure, Embedder};

/// How served queries are embedded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryOptions {
    /// How long a query waits for others to join its inference call. Zero takes only
    /// the queries already queued when a batch worker comes free: no wait, and batches
    /// grow only when queries arrive faster than they are embedded.
    pub batch_wait: Duration,
    /// Most queries in one inference call; 1 turns batching off, and each query is
    /// embedded alone on the thread that serves its request.
    pub max_batch: usize,
    /// Query vectors kept in the cache; zero keeps none.
    pub cache_entries: usize,
    /// Padded tokens per inference call of a batch ([`Embedder::embed_queries`]).
    pub call_tokens: usize,
}

impl Default for QueryOptions {
    /// What `ragtune serve` uses unless told otherwise: a 1 ms wait, up to 32 queries per
    /// batch, 10,000 cached vectors (about 15 MB at 384 dimensions).
    fn default() -> Self {
        Self {
            batch_wait: Duration::from_millis(1),
            max_batch: 32,
            cache_entries: 10_000,
            call_tokens: CALL_TOKENS,
        }
    }
}

/// Padded tokens per inference call on CPU: about 4 queries, so that a batch's calls run
/// side by side on every session (docs/benchmarks.md, "Serving").
pub const CALL_TOKENS: usize = 64;

impl QueryOptions {
    /// One query per call on the caller's thread and no cache: serving as it was before
    /// either existed (the one-off `query` and `explain` commands, and the baseline of
    /// benches/bench_serve.sh).
    pub fn unbatched_uncached() -> Self {
        Self {
            batch_wait: Duration::ZERO,
            max_batch: 1,
            cache_entries: 0,
            call_tokens: CALL_TOKENS,
        }
    }
}

/// Upper bounds of the batch-size histogram's buckets.
const BATCH_BUCKETS: [u64; 6] = [1, 2, 4, 8, 16, 32];

/// Counters for Prometheus.
#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    stored: AtomicU64,
    /// Requests to the model per bucket of [`BATCH_BUCKETS`] (not cumulative), then above.
    batches: [AtomicU64; BATCH_BUCKETS.len() + 1],
    batched_queries: AtomicU64,
}

impl Counters {
    fn batch(&self, size: usize) {
        let i = BATCH_BUCKETS
            .iter()
            .position(|&le| size as u64 <= le)
            .unwrap_or(BATCH_BUCKETS.len());
        self.batches[i].fetch_add(1, Ordering::Relaxed);
        self.batched_queries
            .fetch_add(size as u64, Ordering::Relaxed);
    }
}

type Reply = SyncSender<Result<Vec<f32>, EmbedFailure>>;

struct Job {
    text: String,
    arrived: Instant,
    reply: Reply,
}

/// The query path of one served model.
pub struct QueryVectors {
    embedder: Arc<dyn Embedder>,
    model: String,
    opts: QueryOptions,
    cache: Option<Mutex<LruCache<String, Arc<[f32]>>>>,
    queue: Option<Sender<Job>>,
    /// Why batching is off although asked for, if it is.
    pub batching_refused: Option<String>,
    counters: Arc<Counters>,
}

impl QueryVectors {
    /// The query path for `embedder` (the model named `model`) with `opts`; a batch
    /// worker when batching is on and the model's vectors do not depend on their
    /// batch-mates.
    pub fn new(embedder: Arc<dyn Embedder>, model: &str, opts: QueryOptions) -> Self {
        let cache = NonZeroUsize::new(opts.cache_entries).map(|n| Mutex::new(LruCache::new(n)));
        let counters = Arc::new(Counters::default());
        let mut refused = None;
        let queue = if opts.max_batch < 2 {
            None
        } else {
            match batch_invariant(embedder.as_ref(), model, opts.call_tokens) {
                Ok(()) => Some(start_worker(&embedder, opts, &counters)),
                Err(why) => {
                    refused = Some(why);
                    None
                }
            }
        };
        Self {
            embedder,
            model: model.to_string(),
            opts,
            cache,
            queue,
            batching_refused: refused,
            counters,
        }
    }

    /// The options in force (batching off when it was refused).
    pub fn options(&self) -> QueryOptions {
        match self.queue {
            Some(_) => self.opts,
            None => QueryOptions {
                batch_wait: Duration::ZERO,
                max_batch: 1,
                ..self.opts
            },
        }
    }

    /// The served model.
    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        &self.embedder
    }

    /// The served model's name.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// `text`'s vector: from the cache, else from `stored` (the stage store's copy), else
    /// from the model, batched with concurrent queries when batching is on.
    pub fn vector(
        &self,
        text: &str,
        stored: impl FnOnce() -> Option<Vec<f32>>,
    ) -> Result<Arc<[f32]>, EmbedFailure> {
        if let Some(v) = self.cached(text) {
            self.counters.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(v);
        }
        self.counters.misses.fetch_add(1, Ordering::Relaxed);
        let v: Arc<[f32]> = match stored() {
            Some(v) => {
                self.counters.stored.fetch_add(1, Ordering::Relaxed);
                v.into()
            }
            None => self.embed(text)?.into(),
        };
        if let Some(cache) = &self.cache {
            lock(cache).put(text.to_string(), v.clone());
        }
        Ok(v)
    }

    fn cached(&self, text: &str) -> Option<Arc<[f32]>> {
        self.cache.as_ref().and_then(|c| lock(c).get(text).cloned())
    }

    fn embed(&self, text: &str) -> Result<Vec<f32>, EmbedFailure> {
        let Some(queue) = &self.queue else {
            self.counters.batch(1);
            return self.embedder.embed(&[text], &|_| {}).map(|o| o.vectors);
        };
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        let job = Job {
            text: text.to_string(),
            arrived: Instant::now(),
            reply,
        };
        let gone = || EmbedFailure("the query batcher stopped".into());
        queue.send(job).map_err(|_| gone())?;
        answer.recv().map_err(|_| gone())?
    }

    /// Prometheus text: cache hits and misses, vectors read from the store, and the
    /// histogram of queries per request to the model.
    pub fn render(&self) -> String {
        let c = &self.counters;
        let mut s = String::new();
        let counter = |s: &mut String, name: &str, help: &str, v: u64| {
            let _ = write!(
                s,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}\n"
            );
        };
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        counter(
            &mut s,
            "ragtune_query_cache_hits_total",
            "Query vectors found in the cache.",
            load(&c.hits),
        );
        counter(
            &mut s,
            "ragtune_query_cache_misses_total",
            "Query vectors not in the cache (read from the store or embedded).",
            load(&c.misses),
        );
        counter(
            &mut s,
            "ragtune_query_store_reads_total",
            "Query vectors read from the stage store (questions the sweep embedded).",
            load(&c.stored),
        );
        let name = "ragtune_query_batch_size";
        let _ = write!(
            s,
            "# HELP {name} Queries per request to the model (cut into calls of a few queries).\n# TYPE {name} histogram\n"
        );
        let mut cumulative = 0;
        for (i, le) in BATCH_BUCKETS.iter().enumerate() {
            cumulative += load(&c.batches[i]);
            let _ = writeln!(s, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
        }
        cumulative += load(&c.batches[BATCH_BUCKETS.len()]);
        let _ = writeln!(s, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
        let _ = writeln!(s, "{name}_sum {}", load(&c.batched_queries));
        let _ = writeln!(s, "{name}_count {cumulative}");
        s
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the cache leaves it consistent (puts and gets are whole).
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Texts of different lengths, embedded alone and together by [`batch_invariant`].
const PROBES: [&str; 4] = [
    "refund",
    "Which river flows through the capital?",
    "How long does the warranty last after the date of purchase, and what does it cover?",
    "What was the name of the ship that carried the first settlers across the ocean in the winter of that year, and who led them?",
];

/// Short texts, many to a call, as a busy server embeds them.
const SHORT_PROBES: [&str; 12] = [
    "tax",
    "who won?",
    "when was it built",
    "price list",
    "why is the sky blue",
    "refund policy",
    "opening hours today",
    "what is a lien",
    "flood cover",
    "zone F3",
    "how do I cancel",
    "claims",
];

/// Whether `embedder` gives every text the vector it gives it alone when the text shares
/// a request of queries (cut into calls of `call_tokens`, padded to a longer batch-mate):
/// `Err` says why batching is off.
pub fn batch_invariant(
    embedder: &dyn Embedder,
    model: &str,
    call_tokens: usize,
) -> Result<(), String> {
    let fail = |e: EmbedFailure| format!("probing batched embedding failed: {}", e.0);
    let dim = embedder.dim();
    for probes in [&PROBES[..], &SHORT_PROBES[..]] {
        let together = embedder.embed_queries(probes, call_tokens).map_err(fail)?;
        for (i, text) in probes.iter().enumerate() {
            let alone = embedder.embed(&[text], &|_| {}).map_err(fail)?.vectors;
            if alone[..] != together[i * dim..(i + 1) * dim] {
                return Err(format!(
                    "model {model} gives a text another vector when it shares an inference call (dynamically quantised models do), so each query is embedded alone"
                ));
            }
        }
    }
    Ok(())
}

fn start_worker(
    embedder: &Arc<dyn Embedder>,
    opts: QueryOptions,
    counters: &Arc<Counters>,
) -> Sender<Job> {
    let (tx, rx) = std::sync::mpsc::channel::<Job>();
    let (embedder, counters) = (embedder.clone(), counters.clone());
    let spawned = std::thread::Builder::new()
        .name("ragtune-batch".into())
        .spawn(move || work(&rx, embedder.as_ref(), opts, &counters));
    if let Err(e) = spawned {
        // Every query then fails with "the query batcher stopped".
        tracing::error!("could not start the query batch worker: {e}");
    }
    tx
}

/// The batch worker: take a batch, embed it, answer each query; until the queue closes.
/// A panic while embedding fails that batch's queries, not the worker.
fn work(rx: &Receiver<Job>, embedder: &dyn Embedder, opts: QueryOptions, c: &Counters) {
    while let Some(batch) = collect(rx, opts) {
        let texts: Vec<&str> = batch.iter().map(|j| j.text.as_str()).collect();
        c.batch(texts.len());
        let dim = embedder.dim();
        let embedded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            embedder.embed_queries(&texts, opts.call_tokens)
        }));
        let vectors = match embedded {
            Ok(Ok(v)) if v.len() == texts.len() * dim => Ok(v),
            Ok(Ok(v)) => Err(EmbedFailure(format!(
                "{} values for {} queries of {dim} dimensions",
                v.len(),
                texts.len()
            ))),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(EmbedFailure("embedding the batch panicked".into())),
        };
        for (i, job) in batch.into_iter().enumerate() {
            let answer = (vectors.as_ref())
                .map(|v| v[i * dim..(i + 1) * dim].to_vec())
                .map_err(Clone::clone);
            let _ = job.reply.send(answer);
        }
    }
}

/// The next batch: the first queued query and every other queued one, up to
/// `max_batch`. When more than one was queued (queries arrive faster than they are
/// embedded), it also waits for those that arrive within `batch_wait` of the first's
/// arrival; a query that comes alone is embedded at once. `None` once the queue is closed
/// and empty.
fn collect(rx: &Receiver<Job>, opts: QueryOptions) -> Option<Vec<Job>> {
    let first = rx.recv().ok()?;
    let deadline = first.arrived + opts.batch_wait;
    let mut batch = vec![first];
    while batch.len() < opts.max_batch {
        match rx.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
    let busy = batch.len() > 1;
    while busy && batch.len() < opts.max_batch {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match rx.recv_timeout(left) {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
    Some(batch)
}

#[cfg(test)]
mod tests {
    use ragtune_core::{EmbedOutput, FakeEmbedder};

    use super::*;

    /// A fake whose vectors depend on their batch-mates: each is shifted by the batch size.
    struct BatchDependent(FakeEmbedder);

    impl Embedder for BatchDependent {
        fn dim(&self) -> usize {
            self.0.dim()
        }
        fn namespace(&self) -> &str {
            self.0.namespace()
        }
        fn provider(&self) -> &str {
            "fake"
        }
        fn embed(
            &self,
            texts: &[&str],
            progress: &(dyn Fn(usize) + Sync),
        ) -> Result<EmbedOutput, EmbedFailure> {
            let mut out = self.0.embed(texts, progress)?;
            out.vectors
                .iter_mut()
                .for_each(|x| *x += texts.len() as f32);
            Ok(out)
        }
        fn count_truncated(&self, texts: &[&str]) -> Result<usize, EmbedFailure> {
            self.0.count_truncated(texts)
        }
    }

    fn fake() -> Arc<dyn Embedder> {
        Arc::new(FakeEmbedder::new("q", 16))
    }

    fn sample(q: &QueryVectors, name: &str) -> u64 {
        (q.render().lines())
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name}"))
            .parse()
            .unwrap()
    }

    #[test]
    fn the_cache_answers_repeats_and_forgets_the_least_recent() {
        let opts = QueryOptions {
            cache_entries: 2,
            ..QueryOptions::unbatched_uncached()
        };
        let q = QueryVectors::new(fake(), "fake", opts);
        let alone = |t: &str| fake().embed(&[t], &|_| {}).unwrap().vectors;
        for t in ["a b", "c d", "a b", "e f", "c d"] {
            assert_eq!(&q.vector(t, || None).unwrap()[..], &alone(t)[..]);
        }
        // "a b" hit once; "c d" was evicted by "e f" (2 entries, "a b" more recent).
        assert_eq!(sample(&q, "ragtune_query_cache_hits_total"), 1);
        assert_eq!(sample(&q, "ragtune_query_cache_misses_total"), 4);
        assert_eq!(sample(&q, "ragtune_query_batch_size_sum"), 4);
    }

    #[test]
    fn a_stored_vector_is_used_and_cached_without_embedding() {
        let q = QueryVectors::new(fake(), "fake", QueryOptions::default());
        let stored = vec![0.5f32; 16];
        assert_eq!(
            &q.vector("x", || Some(stored.clone())).unwrap()[..],
            &stored[..]
        );
        assert_eq!(
            &q.vector("x", || panic!("cached")).unwrap()[..],
            &stored[..]
        );
        assert_eq!(sample(&q, "ragtune_query_store_reads_total"), 1);
        assert_eq!(sample(&q, "ragtune_query_batch_size_count"), 0);
    }

    #[test]
    fn concurrent_queries_share_calls_and_get_their_own_vectors() {
        let opts = QueryOptions {
            batch_wait: Duration::from_millis(50),
            max_batch: 8,
            cache_entries: 0,
            call_tokens: CALL_TOKENS,
        };
        let q = Arc::new(QueryVectors::new(fake(), "fake", opts));
        assert!(q.batching_refused.is_none());
        let texts: Vec<String> = (0..24)
            .map(|i| format!("query {i} word{}", i * 7))
            .collect();
        let barrier = Arc::new(std::sync::Barrier::new(texts.len()));
        let handles: Vec<_> = (texts.iter().cloned())
            .map(|t| {
                let (q, barrier) = (q.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    (t.clone(), q.vector(&t, || None).unwrap())
                })
            })
            .collect();
        for h in handles {
            let (t, v) = h.join().unwrap();
            assert_eq!(
                &v[..],
                &fake().embed(&[&t], &|_| {}).unwrap().vectors[..],
                "{t}"
            );
        }
        // At most 8 per call: at least 3 calls, and fewer than 24.
        let calls = sample(&q, "ragtune_query_batch_size_count");
        assert!((3..24).contains(&calls), "{calls} calls");
        assert_eq!(sample(&q, "ragtune_query_batch_size_sum"), 24);
    }

    #[test]
    fn a_model_that_depends_on_batch_mates_is_not_batched() {
        let dependent: Arc<dyn Embedder> = Arc::new(BatchDependent(FakeEmbedder::new("q", 16)));
        assert!(batch_invariant(fake().as_ref(), "fake", CALL_TOKENS).is_ok());
        let q = QueryVectors::new(dependent, "int8-model", QueryOptions::default());
        let why = q.batching_refused.clone().expect("refused");
        assert!(why.contains("int8-model"), "{why}");
        assert_eq!(q.options().max_batch, 1);
        // Served alone: the vector it has alone.
        let v = q.vector("a b", || None).unwrap();
        assert_eq!(
            v[0],
            FakeEmbedder::new("q", 16)
                .embed(&["a b"], &|_| {})
                .unwrap()
                .vectors[0]
                + 1.0
        );
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let c = Counters::default();
        for size in [1, 1, 3, 16, 40] {
            c.batch(size);
        }
        let q = QueryVectors {
            embedder: fake(),
            model: "fake".into(),
            opts: QueryOptions::default(),
            cache: None,
            queue: None,
            batching_refused: None,
            counters: Arc::new(c),
        };
        let text = q.render();
        for (le, n) in [
            ("1", 2),
            ("2", 2),
            ("4", 3),
            ("16", 4),
            ("32", 4),
            ("+Inf", 5),
        ] {
            let line = format!("ragtune_query_batch_size_bucket{{le=\"{le}\"}} {n}");
            assert!(text.contains(&line), "{line} in\n{text}");
        }
        assert!(text.contains("ragtune_query_batch_size_sum 61"));
    }
}
