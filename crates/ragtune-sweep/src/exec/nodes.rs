//! The per-node layer: each stage node read from the store when it is there, else
//! computed and stored (chunk sets, BM25 indexes, embeddings, vectors, HNSW graphs,
//! rankings).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use ragtune_core::{Batching, ChunkSet, Embedder, Embedding, Ranking};
use ragtune_eval::Costs;
use ragtune_lexical::Bm25Index;
use ragtune_retrieve::{Component, Query, Rescore};
use ragtune_vector::{HnswIndex, HnswParams, Vectors};
use rayon::prelude::*;

use crate::error::{Result, SweepError};
use crate::plan::NodeKind;
use crate::record::EmbedRecord;
use ragtune_store::codec::{self, StoredRankings};
use ragtune_store::{CacheStats, embed_cached};
use ragtune_store::{Stage, StoreError};

use super::{Executor, HNSW_BASE};

impl Executor<'_> {
    /// Node `i`'s chunk set and token counts (only the chunks the screen keeps, with a
    /// screen): read back, or chunked and stored.
    pub fn chunk_set(&self, i: usize) -> Result<(ChunkSet, Vec<u32>)> {
        let (set, counts) = self.whole_chunk_set(i)?;
        let (set, counts) = match self.screen {
            Some(screen) => screen.apply(set, counts),
            None => (set, counts),
        };
        // A path header's paths are found from the corpus, never stored.
        let header = self.spec_of(i).header();
        Ok((set.with_header(header, self.corpus), counts))
    }

    /// Node `i`'s chunk set over the whole corpus.
    pub(super) fn whole_chunk_set(&self, i: usize) -> Result<(ChunkSet, Vec<u32>)> {
        let node = &self.plan.nodes[i];
        let doc_lens: Vec<usize> = self.corpus.docs.iter().map(|d| d.text.len()).collect();
        if let Some(got) = self
            .get(Stage::Chunks, &node.key)
            .and_then(|b| codec::decode_chunks(&b, &doc_lens))
        {
            self.count(NodeKind::Chunks, true);
            return Ok(got);
        }
        let spec = self.spec_of(i);
        let cut = self.lock(&self.cut).get(&spec.boundaries()).cloned();
        let (mut set, counts) = match cut {
            Some(got) => got,
            None => {
                self.rep.add("chunk", self.corpus.docs.len() as u64);
                let got = ragtune_chunk::chunk_corpus_counted(
                    self.corpus,
                    &spec.boundaries(),
                    Some(self.sizer),
                    self.tokenizer,
                    &|n| self.rep.inc("chunk", n as u64),
                )?;
                self.lock(&self.cut).insert(spec.boundaries(), got.clone());
                got
            }
        };
        set.header = spec.header();
        self.put(
            Stage::Chunks,
            &node.key,
            &codec::encode_chunks(&set, &counts),
        )?;
        self.count(NodeKind::Chunks, false);
        Ok((set, counts))
    }

    pub(super) fn texts<'c>(&'c self, set: &'c ChunkSet) -> Vec<std::borrow::Cow<'c, str>> {
        (0..set.len())
            .map(|i| set.index_text(self.corpus, i))
            .collect()
    }

    /// Node `i`'s BM25 index with its build cost: opened from the store, or built.
    pub fn bm25_index(&self, i: usize, set: &ChunkSet) -> Result<(Bm25Index, Costs)> {
        let key = &self.plan.nodes[i].key;
        if let Some(dir) = self.store.and_then(|s| s.get_dir(Stage::Bm25, key))
            && let Some(seconds) = read_seconds(&dir)
            && let Ok(index) = Bm25Index::open(&dir)
            && index.len() == set.len() as u64
        {
            self.count(NodeKind::Bm25, true);
            let costs = index_costs(seconds, index.search_bytes(), dir_bytes(&dir));
            return Ok((index, costs));
        }
        let texts = self.texts(set);
        let t = Instant::now();
        let borrowed = || texts.iter().map(|t| std::borrow::Cow::Borrowed(t.as_ref()));
        let (index, costs) = match self.store {
            None => {
                let index = Bm25Index::build_in_ram(borrowed())?;
                let seconds = t.elapsed().as_secs_f64();
                let costs = index_costs(seconds, index.search_bytes(), 0);
                (index, costs)
            }
            Some(store) => {
                let dir = store.put_dir(Stage::Bm25, key, |tmp| {
                    drop(Bm25Index::build_in_dir(tmp, borrowed())?);
                    write_costs(tmp, t.elapsed().as_secs_f64(), dir_bytes(tmp))
                })?;
                let index = Bm25Index::open(&dir)?;
                let seconds = read_seconds(&dir).unwrap_or_default();
                let costs = index_costs(seconds, index.search_bytes(), dir_bytes(&dir));
                (index, costs)
            }
        };
        self.count(NodeKind::Bm25, false);
        Ok((index, costs))
    }

    pub(super) fn embedder(&self, model: &str) -> Result<Arc<dyn Embedder>> {
        self.models.load(model)
    }

    /// `texts`' vectors under `model`, through the embedding cache, each text behind the
    /// model's query or passage prefix (`role`).
    pub(crate) fn embed(
        &self,
        (what, role): (&str, Role),
        model: &str,
        texts: &[&str],
    ) -> Result<Vec<f32>> {
        let e = self.embedder(model)?;
        let prefix = match role {
            Role::Query => e.query_prefix(),
            Role::Passage => e.passage_prefix(),
        };
        let owned: Vec<std::borrow::Cow<str>> = texts
            .iter()
            .map(|t| ragtune_core::prefixed(prefix, t))
            .collect();
        let texts: Vec<&str> = owned.iter().map(|t| t.as_ref()).collect();
        let texts = texts.as_slice();
        self.rep.add("embed", texts.len() as u64);
        let t = Instant::now();
        let (data, stats) = embed_cached(
            e.as_ref(),
            self.store,
            texts,
            &|n| self.rep.inc("embed", n as u64),
            &|t| u64::from(ragtune_chunk::count_tokens(self.tokenizer, t)),
        )?;
        if let Some(b) = &self.budget {
            b.add_tokens(stats.embedded_tokens);
        }
        let truncated = e
            .count_truncated(texts)
            .map_err(|f| SweepError::embedding(model, f))? as u64;
        self.record_embed(
            what,
            (model, e.batching()),
            texts.len(),
            stats,
            truncated,
            t,
        );
        Ok(data)
    }

    /// Record one embedding request of `n` texts by model `model` (as the grid names it),
    /// cut into inference calls by `batching`, started at `t`.
    pub(super) fn record_embed(
        &self,
        what: &str,
        (model, batching): (&str, Option<Batching>),
        n: usize,
        s: CacheStats,
        truncated: u64,
        t: Instant,
    ) {
        self.embeds
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(EmbedRecord {
                what: what.to_string(),
                model: self
                    .infos
                    .get(model)
                    .map_or(model, |i| &i.record.name)
                    .to_string(),
                texts: n as u64,
                cache_hits: s.hits,
                cache_misses: s.misses,
                embedded_tokens: s.embedded_tokens,
                model_tokens: s.model_tokens,
                truncated,
                seconds: t.elapsed().as_secs_f64(),
                batch_size: match batching {
                    Some(Batching::Texts(n)) => Some(n),
                    _ => None,
                },
                batch_tokens: match batching {
                    Some(Batching::Tokens(n)) => Some(n),
                    _ => None,
                },
            });
    }

    /// How vectors node `i` embeds its chunks.
    pub(super) fn embedding_of(&self, i: usize) -> Embedding {
        self.plan
            .setups
            .iter()
            .find(|s| s.vector.is_some_and(|v| v.vectors == i))
            .and_then(|s| s.setup.retriever.vector())
            .map_or(Embedding::Standalone, |v| v.embedding)
    }

    /// `set`'s late-chunked vectors under `model` (each document run once, through the
    /// store's `tokens` table), accounted like any embedding: in documents, and in the
    /// tokens run.
    pub(super) fn embed_late(
        &self,
        what: &str,
        model: &str,
        set: &ChunkSet,
        window: (usize, usize),
    ) -> Result<Vec<f32>> {
        let e = self.embedder(model)?;
        self.rep.add("embed", set.len() as u64);
        let t = Instant::now();
        let (data, s) =
            ragtune_store::chunk_vectors(e.as_ref(), self.store, self.corpus, set, window, &|n| {
                self.rep.inc("embed", n as u64)
            })
            .map_err(|err| match err {
                // Name the model as the grid does, not by its cache namespace.
                StoreError::Embedding { failure, .. } => SweepError::embedding(model, failure),
                other => other.into(),
            })?;
        if let Some(b) = &self.budget {
            b.add_tokens(s.tokens);
        }
        let stats = CacheStats {
            hits: s.hits,
            misses: s.misses,
            embedded_tokens: s.tokens,
            model_tokens: None,
        };
        // Late chunking runs one window per inference call.
        self.record_embed(
            &format!("{what} late"),
            (model, Some(Batching::Texts(1))),
            set.len(),
            stats,
            0,
            t,
        );
        Ok(data)
    }

    /// The questions' vectors under `model` (embedded once per run, through the cache).
    pub fn question_vectors(&self, model: &str) -> Result<Arc<Vectors>> {
        if let Some(v) = self.lock_qv().get(model) {
            return Ok(v.clone());
        }
        let texts: Vec<&str> = self
            .corpus
            .questions
            .iter()
            .map(|q| q.text.as_str())
            .collect();
        let data = self.embed(("questions", Role::Query), model, &texts)?;
        let dim = self.embedder(model)?.dim();
        let v = Arc::new(Vectors::new(dim, data)?);
        self.lock_qv().insert(model.to_string(), v.clone());
        Ok(v)
    }

    pub(super) fn lock_qv(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Vectors>>> {
        self.question_vectors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Node `i`'s embeddings of `set` under `model`: read back, or embedded and stored.
    pub fn vectors(&self, i: usize, model: &str, set: &ChunkSet) -> Result<Vectors> {
        let key = &self.plan.nodes[i].key;
        // The dimension is the model's declared one, else what the stored matrix holds
        // (the key pins the model, so a stored matrix has the model's dimension).
        let declared = self.infos.get(model).and_then(|m| m.record.dim);
        if let Some(bytes) = self.get(Stage::Vectors, key)
            && let Some(dim) = declared.or_else(|| {
                (!set.is_empty())
                    .then(|| bytes.len() / 4 / set.len())
                    .filter(|&d| d > 0)
            })
            && let Some(data) = codec::decode_vectors(&bytes, set.len(), dim)
        {
            self.count_hit(i, NodeKind::Vectors);
            return Ok(Vectors::new(dim, data)?);
        }
        let data = match self.embedding_of(i) {
            Embedding::Late { window, overlap } => {
                self.embed_late(&set_label(self, i), model, set, (window, overlap))?
            }
            Embedding::Standalone => {
                let texts = self.texts(set);
                let refs: Vec<&str> = texts.iter().map(|t| t.as_ref()).collect();
                self.embed((&set_label(self, i), Role::Passage), model, &refs)?
            }
        };
        let v = Vectors::new(self.embedder(model)?.dim(), data)?;
        self.put(Stage::Vectors, key, &codec::encode_vectors(&v.data))?;
        self.count(NodeKind::Vectors, false);
        Ok(v)
    }

    /// Node `i`'s HNSW graph with its build cost: loaded from the store, or built with `M`
    /// = `m` and `ef_construction` the way the grid's `hnsw_build` says (and stored, so
    /// that serving answers from the very graph that was scored).
    pub fn hnsw(
        &self,
        i: usize,
        vectors: &Vectors,
        (m, ef_construction): (usize, usize),
    ) -> Result<(HnswIndex, Costs)> {
        let params = HnswParams {
            m,
            ef_construction,
            build: self.grid.hnsw_build(),
        };
        let key = &self.plan.nodes[i].key;
        let format = self.graph_format(i);
        if let Some(dir) = self.store.and_then(|s| s.get_dir(Stage::Hnsw, key))
            && let Some(seconds) = read_seconds(&dir)
            && let Ok(index) = HnswIndex::load_as(&dir, HNSW_BASE, vectors.dim, format)
        {
            self.count_hit(i, NodeKind::Hnsw);
            let costs = graph_costs(&index, seconds, dir_bytes(&dir));
            return Ok((index, costs));
        }
        self.rep.add("hnsw", 1);
        let t = Instant::now();
        let mut index = HnswIndex::build_as(vectors, params, format);
        let seconds = t.elapsed().as_secs_f64();
        let mut disk = 0;
        if let Some(store) = self.store {
            let held = index.vector_bytes() + index.graph_bytes();
            let dir = store.put_dir(Stage::Hnsw, key, |tmp| {
                index.dump(tmp, HNSW_BASE)?;
                write_costs(tmp, seconds, held)
            })?;
            // Rank with the graph as stored: if a concurrent sweep sealed this entry
            // first, that graph is the one kept, and the rankings must come from it. The
            // built graph goes first, so that it is not held beside the loaded one.
            drop(index);
            index = HnswIndex::load_as(&dir, HNSW_BASE, vectors.dim, format)?;
            disk = dir_bytes(&dir);
        }
        self.rep.inc("hnsw", 1);
        self.count(NodeKind::Hnsw, false);
        let costs = graph_costs(&index, seconds, disk);
        Ok((index, costs))
    }

    /// How graph node `i` holds its vectors.
    pub fn graph_format(&self, i: usize) -> ragtune_core::VectorFormat {
        self.plan
            .setups
            .iter()
            .find(|s| s.vector.is_some_and(|v| v.hnsw == Some(i)))
            .and_then(|s| s.setup.retriever.vector())
            .map_or_else(Default::default, |v| v.format)
    }

    /// Rank every question with `component` (side by side), then time the latency
    /// sample one query at a time ([`Self::time_sample`]).
    pub(super) fn rank_all(
        &self,
        component: Component,
        qv: Option<(&Vectors, &str)>,
        costs: Costs,
    ) -> Result<StoredRankings> {
        self.rank_all_with(component, None, qv, costs)
    }

    /// [`Self::rank_all`], each ranking rescored by float32 vectors when `rescore` says.
    pub(super) fn rank_all_with(
        &self,
        component: Component,
        rescore: Option<Rescore>,
        qv: Option<(&Vectors, &str)>,
        costs: Costs,
    ) -> Result<StoredRankings> {
        let depth = self.grid.depth;
        let qs = &self.corpus.questions;
        self.rep.add("rank", qs.len() as u64);
        let rankings: Vec<Ranking> = (0..qs.len())
            .into_par_iter()
            .map(|qi| {
                let q = Query {
                    text: &qs[qi].text,
                    vector: qv.map(|(v, _)| v.row(qi)),
                };
                let r = component.rank_with(&q, depth, rescore)?;
                self.rep.inc("rank", 1);
                Ok(r)
            })
            .collect::<Result<_>>()?;
        let ms = self.time_sample((component, rescore), qv)?;
        Ok(StoredRankings {
            costs,
            ms,
            rankings,
        })
    }

    /// Milliseconds per question of the latency sample, on this thread, one query at a
    /// time: the query's embedding under `qv`'s model (fresh, not the stored vector;
    /// measured once per model and execution, [`Self::query_embed_ms`]) plus the
    /// component's search with the stored question vector (the same bits for float32
    /// models). The two are timed in separate passes, each after three untimed warm-up
    /// queries.
    fn time_sample(
        &self,
        (component, rescore): (Component, Option<Rescore>),
        qv: Option<(&Vectors, &str)>,
    ) -> Result<Vec<f64>> {
        let depth = self.grid.depth;
        let qs = &self.corpus.questions;
        let search = self.time_each(|qi| {
            let q = Query {
                text: &qs[qi].text,
                vector: qv.map(|(v, _)| v.row(qi)),
            };
            component
                .rank_with(&q, depth, rescore)
                .map_err(SweepError::from)
        })?;
        let Some((_, model)) = qv else {
            return Ok(search);
        };
        let embed = self.query_embed_ms(model)?;
        Ok(search
            .iter()
            .zip(embed.iter())
            .map(|(s, e)| s + e)
            .collect())
    }

    /// Milliseconds to embed each question of the latency sample alone under `model`, as
    /// a served query is (one call, prefix included): measured the first time a rankings
    /// node of this execution (a run, a halving rung, a shard) asks, then shared, since it
    /// depends on the model, not the index.
    fn query_embed_ms(&self, model: &str) -> Result<Arc<Vec<f64>>> {
        let cell = self
            .lock(&self.embed_ms)
            .entry(model.to_string())
            .or_default()
            .clone();
        let mut held = cell.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(ms) = held.as_ref() {
            return Ok(ms.clone());
        }
        let e = self.embedder(model)?;
        let qs = &self.corpus.questions;
        let ms = Arc::new(self.time_each(|qi| {
            let text = ragtune_core::prefixed(e.query_prefix(), &qs[qi].text);
            e.embed_queries(&[&text], QUERY_CALL_TOKENS)
                .map_err(|f| SweepError::embedding(model, f))
        })?);
        *held = Some(ms.clone());
        Ok(ms)
    }

    /// Milliseconds `one` takes for each question of the latency sample, on this thread,
    /// one question at a time; three questions warm the path first, untimed.
    pub(super) fn time_each<T>(&self, one: impl Fn(usize) -> Result<T>) -> Result<Vec<f64>> {
        for &qi in self.sample.iter().take(3) {
            one(qi)?;
        }
        (self.sample.iter())
            .map(|&qi| {
                let t = Instant::now();
                std::hint::black_box(one(qi)?);
                Ok(t.elapsed().as_secs_f64() * 1e3)
            })
            .collect()
    }

    pub(super) fn stored_rankings(&self, i: usize) -> Option<StoredRankings> {
        let r = self
            .get(Stage::Rankings, &self.plan.nodes[i].key)
            .and_then(|b| codec::decode_rankings(&b))
            .filter(|r| r.rankings.len() == self.corpus.questions.len())
            .filter(|r| r.ms.len() == self.sample.len());
        if r.is_some() {
            self.count(self.plan.nodes[i].kind, true);
        }
        r
    }

    pub(super) fn computed_rankings(
        &self,
        i: usize,
        r: StoredRankings,
    ) -> Result<Arc<StoredRankings>> {
        self.put(
            Stage::Rankings,
            &self.plan.nodes[i].key,
            &codec::encode_rankings(&r),
        )?;
        self.lock(&self.fresh).insert(i);
        self.count(self.plan.nodes[i].kind, false);
        Ok(Arc::new(r))
    }
}

/// Whether embedded texts are queries or passages (chunks, documents): which of the
/// model's prefixes goes in front.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Questions and served queries.
    Query,
    /// Chunks and documents.
    Passage,
}

pub(crate) fn set_label(ex: &Executor, vectors_node: usize) -> String {
    ex.plan
        .setups
        .iter()
        .find(|s| s.vector.is_some_and(|v| v.vectors == vectors_node))
        .map_or_else(String::new, |s| s.setup.chunk.to_string())
}

const COSTS_FILE: &str = "BUILD.json";

/// Padded tokens per inference call when a sampled query is embedded (one query: one
/// call), as `serve` cuts its batches.
const QUERY_CALL_TOKENS: usize = 64;

fn write_costs(dir: &std::path::Path, seconds: f64, bytes: u64) -> Result<()> {
    let text = serde_json::json!({ "index_seconds": seconds, "index_bytes": bytes }).to_string();
    Ok(ragtune_store::write_atomic(
        &dir.join(COSTS_FILE),
        text.as_bytes(),
    )?)
}

/// The build seconds an index folder records (its bytes are computed when it is opened).
fn read_seconds(dir: &std::path::Path) -> Option<f64> {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(COSTS_FILE)).ok()?).ok()?;
    v["index_seconds"].as_f64()
}

/// An index's costs before any query is timed.
pub(super) fn index_costs(index_seconds: f64, index_bytes: u64, disk_bytes: u64) -> Costs {
    Costs {
        index_seconds,
        index_bytes,
        disk_bytes,
        ..Costs::default()
    }
}

/// A graph's costs: the vectors it holds (in its format) and the links of every layer,
/// as the flat layout it is searched in holds them.
fn graph_costs(index: &HnswIndex, seconds: f64, disk: u64) -> Costs {
    Costs {
        vector_bytes: index.vector_bytes(),
        graph_bytes: index.graph_bytes(),
        ..index_costs(seconds, index.vector_bytes() + index.graph_bytes(), disk)
    }
}

/// Bytes of an index folder's own files: the store's sidecars (the build record, the
/// checksums) and hidden lock and bookkeeping files are left out, so that the same index
/// counts the same however long it took to build.
fn dir_bytes(dir: &std::path::Path) -> u64 {
    let own = |e: &std::fs::DirEntry| {
        let name = e.file_name();
        let name = name.to_string_lossy();
        !(name.starts_with('.') || name == COSTS_FILE || name == ragtune_store::entry::CHECKSUMS)
    };
    std::fs::read_dir(dir)
        .map(|it| {
            it.flatten()
                .filter(own)
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}
