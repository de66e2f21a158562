//! The executor: walks a [`Plan`], reads every node the store holds, computes only the
//! rest, and writes each setup's point as soon as it is scored.
//!
//! Work is grouped by chunk set, so that one chunk set's indexes and vectors are in memory
//! at a time. Within a group, nothing is loaded that the missing nodes do not need: when
//! every ranking is stored, no model is loaded, nothing is embedded and no index is read.
//! Rayon parallelises chunking, ranking (over questions) and scoring (over setups); ONNX
//! Runtime uses the same thread count for inference, one stage at a time, so the two never
//! oversubscribe the cores.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use ragtune_chunk::load_plain_tokenizer;
use ragtune_core::{Batching, ChunkSet, ChunkSpec, Corpus, Embedder, Embedding, Ranking, Setup};
use ragtune_eval::{Costs, PointRecord};
use ragtune_lexical::Bm25Index;
use ragtune_retrieve::{Component, Query, as_ranking, combine};
use ragtune_vector::{HnswBuild, HnswIndex, HnswParams, Vectors};
use rayon::prelude::*;
use tokenizers::Tokenizer;

use crate::codec::{self, StoredRankings};
use crate::embedcache::{CacheStats, embed_cached};
use crate::error::{Result, SweepError};
use crate::grid::Grid;
use crate::models::{ModelInfo, Models};
use crate::plan::{NodeKind, Plan, PlanInputs, SetupNodes};
use crate::record::{EmbedRecord, RunDir, StageRecord};
use crate::score::{ScoreCtx, Scored};
use crate::search::{Budget, Screen};
use crate::store::{Stage, StageStore};
use crate::sweep::Prepared;
use ragtune_chunk::{OverlapStats, Sizer, overlap_stats};

/// Progress callbacks; the CLI draws one bar per stage kind on stderr.
pub trait Reporter: Sync {
    /// `total` more steps of stage kind `kind` lie ahead.
    fn add(&self, _kind: &str, _total: u64) {}
    /// `n` steps of `kind` finished.
    fn inc(&self, _kind: &str, _n: u64) {}
    /// Everything finished.
    fn finish(&self) {}
    /// Something the user should know (one line).
    fn warn(&self, _message: &str) {}
}

/// A reporter that shows nothing.
pub struct Silent;
impl Reporter for Silent {}

/// The file name of an HNSW dump inside its folder.
pub const HNSW_BASE: &str = "hnsw";

/// Per-kind accounting of one execution.
#[derive(Debug, Default)]
pub struct Tally {
    computed: BTreeMap<NodeKind, usize>,
    reused: BTreeMap<NodeKind, usize>,
}

impl Tally {
    fn add(&mut self, kind: NodeKind, reused: bool) {
        let m = if reused {
            &mut self.reused
        } else {
            &mut self.computed
        };
        *m.entry(kind).or_default() += 1;
    }
}

/// Everything the nodes of one execution read.
pub struct Executor<'a> {
    /// The grid.
    pub grid: &'a Grid,
    /// The loaded corpus.
    pub corpus: &'a Corpus,
    /// The plan.
    pub plan: &'a Plan,
    /// The store (`None`: compute everything, keep nothing).
    pub store: Option<&'a StageStore>,
    /// Embedders.
    pub models: &'a dyn Models,
    /// Identity of each model the grid names.
    pub infos: &'a BTreeMap<String, ModelInfo>,
    /// The tokenizer that counts context tokens.
    pub tokenizer: &'a Tokenizer,
    /// What token chunkers count in.
    pub sizer: &'a Sizer,
    /// Effective overlap of each chunk set, by chunk node.
    pub overlaps: Mutex<HashMap<usize, OverlapStats>>,
    /// Warnings given, for the manifest.
    pub warnings: Mutex<Vec<String>>,
    /// Per kept config id, the labels of the grid setups it stands for.
    equivalents: Mutex<HashMap<String, Vec<String>>>,
    /// Progress.
    pub rep: &'a dyn Reporter,
    /// Embedding work, per request.
    pub embeds: Mutex<Vec<EmbedRecord>>,
    /// Node accounting.
    pub tally: Mutex<Tally>,
    question_vectors: Mutex<HashMap<String, Arc<Vectors>>>,
    /// A halving rung's screen: only the chunks it keeps are indexed and scored.
    pub screen: Option<&'a Screen>,
    /// When to stop (checked between chunk sets).
    pub budget: Option<Budget>,
    /// Whether the budget stopped this execution before every setup was scored.
    pub stopped: std::sync::atomic::AtomicBool,
    /// A shard's setups (config ids): only these are scored; `None` scores every setup.
    pub only: Option<std::collections::HashSet<String>>,
    /// Nodes [`Self::build_graphs_ahead`] computed or read, and counted.
    ahead: Mutex<std::collections::HashSet<usize>>,
}

/// One chunk set with what its setups need from it.
struct Group<'g> {
    node: usize,
    set: ChunkSet,
    counts: Vec<u32>,
    setups: Vec<&'g SetupNodes>,
}

impl<'a> Executor<'a> {
    /// An executor over the plan of `prep`, a prepared `grid`.
    pub fn new(
        grid: &'a Grid,
        prep: &'a Prepared,
        store: Option<&'a StageStore>,
        models: &'a dyn Models,
        rep: &'a dyn Reporter,
    ) -> Self {
        Self {
            grid,
            corpus: &prep.corpus,
            plan: &prep.plan,
            store,
            models,
            infos: &prep.infos,
            tokenizer: &prep.tokenizer,
            sizer: &prep.sizer,
            overlaps: Mutex::new(HashMap::new()),
            warnings: Mutex::new(Vec::new()),
            equivalents: Mutex::new(HashMap::new()),
            rep,
            embeds: Mutex::new(Vec::new()),
            tally: Mutex::new(Tally::default()),
            question_vectors: Mutex::new(HashMap::new()),
            screen: None,
            budget: None,
            stopped: std::sync::atomic::AtomicBool::new(false),
            only: None,
            ahead: Mutex::default(),
        }
    }

    /// This executor, scoring only the setups with these config ids (a shard's share).
    /// Every chunk set is still read or chunked, so that identical chunk sets collapse
    /// the same way in every shard.
    pub fn with_only(mut self, ids: std::collections::HashSet<String>) -> Self {
        self.only = Some(ids);
        self
    }

    /// This executor, scoring only the chunks `screen` keeps (the plan must have been
    /// built with the screen's key).
    pub fn with_screen(mut self, screen: &'a Screen) -> Self {
        self.screen = Some(screen);
        self
    }

    /// This executor, stopping between chunk sets once `budget` is spent.
    pub fn with_budget(mut self, budget: Budget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Whether the budget stopped this execution early.
    pub fn was_stopped(&self) -> bool {
        self.stopped.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many nodes this executor has computed (not read back) so far.
    pub fn computed_nodes(&self) -> usize {
        let t = self.tally.lock().unwrap_or_else(|p| p.into_inner());
        t.computed.values().sum()
    }

    /// Node `i` was computed or read by [`Self::build_graphs_ahead`], and counted then:
    /// reading it back later is not another reuse.
    fn counted_ahead(&self, i: usize) {
        self.lock(&self.ahead).insert(i);
    }

    /// Count a store hit on node `i`, unless it was counted ahead.
    fn count_hit(&self, i: usize, kind: NodeKind) {
        if !self.lock(&self.ahead).contains(&i) {
            self.count(kind, true);
        }
    }

    fn count(&self, kind: NodeKind, reused: bool) {
        self.tally
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .add(kind, reused);
    }

    /// Whether the store holds node `i` (as stage `stage`).
    fn stored(&self, stage: Stage, i: usize) -> bool {
        self.store
            .is_some_and(|st| st.contains(stage, &self.plan.nodes[i].key))
    }

    fn get(&self, stage: Stage, key: &str) -> Option<Vec<u8>> {
        self.store.and_then(|s| s.get(stage, key))
    }

    fn put(&self, stage: Stage, key: &str, bytes: &[u8]) -> Result<()> {
        match self.store {
            Some(s) => s.put(stage, key, bytes),
            None => Ok(()),
        }
    }

    /// Node `i`'s chunk set and token counts (only the chunks the screen keeps, with a
    /// screen): read back, or chunked and stored.
    pub fn chunk_set(&self, i: usize) -> Result<(ChunkSet, Vec<u32>)> {
        let (set, counts) = self.whole_chunk_set(i)?;
        Ok(match self.screen {
            Some(screen) => screen.apply(set, counts),
            None => (set, counts),
        })
    }

    /// Node `i`'s chunk set over the whole corpus.
    fn whole_chunk_set(&self, i: usize) -> Result<(ChunkSet, Vec<u32>)> {
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
        self.rep.add("chunk", self.corpus.docs.len() as u64);
        let (set, counts) = ragtune_chunk::chunk_corpus_counted(
            self.corpus,
            &spec,
            Some(self.sizer),
            self.tokenizer,
            &|n| self.rep.inc("chunk", n as u64),
        )?;
        self.put(
            Stage::Chunks,
            &node.key,
            &codec::encode_chunks(&set, &counts),
        )?;
        self.count(NodeKind::Chunks, false);
        Ok((set, counts))
    }

    fn texts<'c>(&'c self, set: &'c ChunkSet) -> Vec<std::borrow::Cow<'c, str>> {
        (0..set.len())
            .map(|i| set.index_text(self.corpus, i))
            .collect()
    }

    /// Node `i`'s BM25 index with its build cost: opened from the store, or built.
    pub fn bm25_index(&self, i: usize, set: &ChunkSet) -> Result<(Bm25Index, Costs)> {
        let key = &self.plan.nodes[i].key;
        if let Some(dir) = self.store.and_then(|s| s.get_dir(Stage::Bm25, key))
            && let Some(costs) = read_costs(&dir)
            && let Ok(index) = Bm25Index::open(&dir)
            && index.len() == set.len() as u64
        {
            self.count(NodeKind::Bm25, true);
            return Ok((index, costs));
        }
        let texts = self.texts(set);
        let t = Instant::now();
        let borrowed = || texts.iter().map(|t| std::borrow::Cow::Borrowed(t.as_ref()));
        let (index, costs) = match self.store {
            None => {
                let index = Bm25Index::build_in_ram(borrowed())?;
                let costs = Costs {
                    index_seconds: t.elapsed().as_secs_f64(),
                    index_bytes: index.size_bytes(),
                    ..Costs::default()
                };
                (index, costs)
            }
            Some(store) => {
                let dir = store.put_dir(Stage::Bm25, key, |tmp| {
                    drop(Bm25Index::build_in_dir(tmp, borrowed())?);
                    write_costs(tmp, t.elapsed().as_secs_f64(), dir_bytes(tmp))
                })?;
                let costs = read_costs(&dir).unwrap_or_default();
                (Bm25Index::open(&dir)?, costs)
            }
        };
        self.count(NodeKind::Bm25, false);
        Ok((index, costs))
    }

    fn embedder(&self, model: &str) -> Result<Arc<dyn Embedder>> {
        self.models.load(model)
    }

    pub(crate) fn embed(&self, what: &str, model: &str, texts: &[&str]) -> Result<Vec<f32>> {
        let e = self.embedder(model)?;
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
    fn record_embed(
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
    fn embedding_of(&self, i: usize) -> Embedding {
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
    fn embed_late(
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
            crate::late::chunk_vectors(e.as_ref(), self.store, self.corpus, set, window, &|n| {
                self.rep.inc("embed", n as u64)
            })
            .map_err(|err| match err {
                // Name the model as the grid does, not by its cache namespace.
                SweepError::Embedding { failure, .. } => SweepError::embedding(model, failure),
                other => other,
            })?;
        if let Some(b) = &self.budget {
            b.add_tokens(s.tokens);
        }
        let stats = CacheStats {
            hits: s.hits,
            misses: s.misses,
            embedded_tokens: s.tokens,
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
        let data = self.embed("questions", model, &texts)?;
        let dim = self.embedder(model)?.dim();
        let v = Arc::new(Vectors::new(dim, data)?);
        self.lock_qv().insert(model.to_string(), v.clone());
        Ok(v)
    }

    fn lock_qv(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Vectors>>> {
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
                self.embed(&set_label(self, i), model, &refs)?
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
        if let Some(dir) = self.store.and_then(|s| s.get_dir(Stage::Hnsw, key))
            && let Some(costs) = read_costs(&dir)
            && let Ok(index) = HnswIndex::load(&dir, HNSW_BASE, vectors.dim)
        {
            self.count_hit(i, NodeKind::Hnsw);
            return Ok((index, costs));
        }
        self.rep.add("hnsw", 1);
        let t = Instant::now();
        let index = HnswIndex::build(vectors, params);
        let costs = Costs {
            index_seconds: t.elapsed().as_secs_f64(),
            // Vector data plus layer-0 links (2M per node, 4 bytes each): an estimate.
            index_bytes: vectors.size_bytes() + (vectors.len() * 2 * params.m * 4) as u64,
            ..Costs::default()
        };
        let mut index = index;
        if let Some(store) = self.store {
            let dir = store.put_dir(Stage::Hnsw, key, |tmp| {
                index.dump(tmp, HNSW_BASE)?;
                write_costs(tmp, costs.index_seconds, costs.index_bytes)
            })?;
            // Rank with the graph as stored: if a concurrent sweep sealed this entry
            // first, that graph is the one kept, and the rankings must come from it.
            index = HnswIndex::load(&dir, HNSW_BASE, vectors.dim)?;
        }
        self.rep.inc("hnsw", 1);
        self.count(NodeKind::Hnsw, false);
        Ok((index, costs))
    }

    /// Rank every question with `component`, timing each.
    fn rank_all(
        &self,
        component: Component,
        qv: Option<&Vectors>,
        costs: Costs,
    ) -> Result<StoredRankings> {
        let depth = self.grid.depth;
        let qs = &self.corpus.questions;
        self.rep.add("rank", qs.len() as u64);
        let out: Vec<(Ranking, f64)> = (0..qs.len())
            .into_par_iter()
            .map(|qi| {
                let q = Query {
                    text: &qs[qi].text,
                    vector: qv.map(|v| v.row(qi)),
                };
                let t = Instant::now();
                let r = component.rank(&q, depth)?;
                self.rep.inc("rank", 1);
                Ok((r, t.elapsed().as_secs_f64() * 1e3))
            })
            .collect::<Result<_>>()?;
        let (rankings, ms) = out.into_iter().unzip();
        Ok(StoredRankings {
            costs,
            ms,
            rankings,
        })
    }

    fn stored_rankings(&self, i: usize) -> Option<StoredRankings> {
        let r = self
            .get(Stage::Rankings, &self.plan.nodes[i].key)
            .and_then(|b| codec::decode_rankings(&b))
            .filter(|r| r.rankings.len() == self.corpus.questions.len());
        if r.is_some() {
            self.count(NodeKind::Rankings, true);
        }
        r
    }

    fn computed_rankings(&self, i: usize, r: StoredRankings) -> Result<Arc<StoredRankings>> {
        self.put(
            Stage::Rankings,
            &self.plan.nodes[i].key,
            &codec::encode_rankings(&r),
        )?;
        self.count(NodeKind::Rankings, false);
        Ok(Arc::new(r))
    }
}

pub(crate) fn set_label(ex: &Executor, vectors_node: usize) -> String {
    ex.plan
        .setups
        .iter()
        .find(|s| s.vector.is_some_and(|v| v.vectors == vectors_node))
        .map_or_else(String::new, |s| s.setup.chunk.to_string())
}

const COSTS_FILE: &str = "BUILD.json";

fn write_costs(dir: &std::path::Path, seconds: f64, bytes: u64) -> Result<()> {
    let text = serde_json::json!({ "index_seconds": seconds, "index_bytes": bytes }).to_string();
    crate::store::write_atomic(&dir.join(COSTS_FILE), text.as_bytes())
}

fn read_costs(dir: &std::path::Path) -> Option<Costs> {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(COSTS_FILE)).ok()?).ok()?;
    Some(Costs {
        index_seconds: v["index_seconds"].as_f64()?,
        index_bytes: v["index_bytes"].as_u64()?,
        ..Costs::default()
    })
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|it| {
            it.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// The indexes and vectors built for one chunk set, each at most once.
#[derive(Default)]
struct Built {
    bm25: HashMap<usize, (Bm25Index, Costs)>,
    vectors: HashMap<usize, Vectors>,
    hnsw: HashMap<usize, (HnswIndex, Costs)>,
}

impl Executor<'_> {
    /// Run every setup of the plan whose id is not in `done`, writing each point into
    /// `run` as soon as it is scored. Returns the points of every setup, in plan order.
    pub fn execute(
        &self,
        done: &HashMap<String, PointRecord>,
        run: &RunDir,
    ) -> Result<Vec<PointRecord>> {
        let mut sets = self.all_chunk_sets()?;
        *self.lock(&self.equivalents) = self.collapse(&mut sets, run)?;
        self.build_graphs_ahead(&sets, done)?;
        let mut records = Vec::with_capacity(self.plan.setups.len());
        for chunk_node in self.chunk_nodes() {
            // A spent budget stops new work; what is already scored is still returned.
            let spent = self.budget.as_ref().is_some_and(Budget::reached);
            if spent {
                self.stopped
                    .store(true, std::sync::atomic::Ordering::Relaxed);
            }
            let Some((set, counts)) = sets.remove(&chunk_node) else {
                continue;
            };
            let mine: Vec<&SetupNodes> = self
                .plan
                .setups
                .iter()
                .filter(|s| s.chunks == chunk_node)
                .filter(|s| self.only.as_ref().is_none_or(|o| o.contains(&s.config_id)))
                .collect();
            let (kept, todo): (Vec<&SetupNodes>, Vec<&SetupNodes>) = mine
                .into_iter()
                .partition(|s| done.contains_key(&s.config_id));
            records.extend(kept.iter().map(|s| {
                let mut r = done[&s.config_id].clone();
                r.equivalent = self.equivalent(&r.config_id);
                r
            }));
            if !todo.is_empty() && !spent {
                let group = Group {
                    node: chunk_node,
                    set,
                    counts,
                    setups: todo,
                };
                let rankings = self.group_rankings(&group, run)?;
                records.extend(self.score_group(&group, &rankings, run)?);
            }
        }
        self.rep.finish();
        Ok(records)
    }

    /// Every chunk set of the plan, with its effective overlap measured (and a warning
    /// where it is below half the nominal one).
    fn all_chunk_sets(&self) -> Result<HashMap<usize, (ChunkSet, Vec<u32>)>> {
        let mut out = HashMap::new();
        for node in self.chunk_nodes() {
            let (set, counts) = self.chunk_set(node)?;
            let spec = self.spec_of(node);
            let stats = overlap_stats(&set, self.corpus, self.sizer);
            let effective = if spec.kind.needs_tokenizer() {
                stats.tokens_mean
            } else {
                stats.chars_mean
            };
            if spec.overlap > 0 && effective < spec.overlap as f64 / 2.0 {
                self.warn_overlap(&spec, effective, stats.share);
            }
            if set.len() < self.grid.depth {
                self.warn(format!(
                    "chunk set {spec}: {} chunks, fewer than depth {}: rankings are clamped to all {} chunks, and a k above that returns them all",
                    set.len(),
                    self.grid.depth,
                    set.len()
                ));
            }
            self.lock(&self.overlaps).insert(node, stats);
            out.insert(node, (set, counts));
        }
        Ok(out)
    }

    fn warn_overlap(&self, spec: &ChunkSpec, effective: f64, share: f64) {
        let unit = if spec.kind.needs_tokenizer() {
            "tokens"
        } else {
            "characters"
        };
        let why = if spec.kind.real_overlap() {
            ""
        } else {
            " (this chunker overlaps only in whole semantic units that fit; window-tokens and recursive carry real overlap)"
        };
        self.warn(format!(
            "chunk set {spec}: effective overlap {effective:.1} {unit} (nominal {}); {:.0}% of neighbouring chunks overlap at all{why}",
            spec.overlap,
            share * 100.0
        ));
    }

    fn equivalent(&self, config_id: &str) -> Vec<String> {
        self.lock(&self.equivalents)
            .get(config_id)
            .cloned()
            .unwrap_or_default()
    }

    fn warn(&self, message: String) {
        // A screen's chunk sets are samples: what holds for them is said again, if it
        // still holds, when the full sets are scored.
        if self.screen.is_none() {
            self.rep.warn(&message);
        }
        self.lock(&self.warnings).push(message);
    }

    fn lock<'m, T>(&self, m: &'m Mutex<T>) -> std::sync::MutexGuard<'m, T> {
        m.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn spec_of(&self, chunk_node: usize) -> ChunkSpec {
        self.plan
            .setups
            .iter()
            .find(|s| s.chunks == chunk_node)
            .map(|s| s.setup.chunk)
            .expect("a chunk node belongs to a setup")
    }

    /// Chunk sets that came out identical (same byte ranges) are one: the setups of every
    /// later one are dropped (and their points removed from `run`), and each is listed
    /// under the setup of the first that it equals. Returns, per kept config id, the
    /// labels of the grid setups it stands for.
    fn collapse(
        &self,
        sets: &mut HashMap<usize, (ChunkSet, Vec<u32>)>,
        run: &RunDir,
    ) -> Result<HashMap<String, Vec<String>>> {
        let mut first: HashMap<String, usize> = HashMap::new();
        let mut same: HashMap<String, Vec<String>> = HashMap::new();
        for node in self.chunk_nodes() {
            let fp = codec::fingerprint(&sets[&node].0);
            let Some(&kept) = first.get(&fp) else {
                first.insert(fp, node);
                continue;
            };
            let kept_spec = self.spec_of(kept);
            self.warn(format!(
                "chunk set {} is identical to {kept_spec} (same byte ranges): its setups are listed once, under {kept_spec}",
                self.spec_of(node)
            ));
            for s in self.plan.setups.iter().filter(|s| s.chunks == node) {
                let twin = Setup {
                    chunk: kept_spec,
                    retriever: s.setup.retriever.clone(),
                };
                same.entry(twin.config_id())
                    .or_default()
                    .push(s.setup.label());
                run.remove_point(&s.config_id)?;
            }
            sets.remove(&node);
        }
        Ok(same)
    }

    fn chunk_nodes(&self) -> Vec<usize> {
        let mut out: Vec<usize> = Vec::new();
        for s in &self.plan.setups {
            if !out.contains(&s.chunks) {
                out.push(s.chunks);
            }
        }
        out
    }

    /// Every rankings node the group's setups need: read back where stored, else computed.
    fn group_rankings(
        &self,
        g: &Group,
        run: &RunDir,
    ) -> Result<HashMap<usize, Arc<StoredRankings>>> {
        let mut have: HashMap<usize, Arc<StoredRankings>> = HashMap::new();
        let mut built = Built::default();
        self.build_graphs_side_by_side(g, &mut built)?;
        for s in &g.setups {
            if let Some((index, r)) = s.bm25
                && !have.contains_key(&r)
            {
                let got = match self.stored_rankings(r) {
                    Some(x) => Arc::new(x),
                    None => self.bm25_rankings(index, r, &g.set, &mut built)?,
                };
                have.insert(r, got);
            }
            let Some(v) = s.vector else { continue };
            let model = s.setup.model().expect("vector setups name a model");
            let exact = s.exact_rankings.unwrap_or(v.rankings);
            if let Entry::Vacant(e) = have.entry(exact) {
                e.insert(match self.stored_rankings(exact) {
                    Some(x) => Arc::new(x),
                    None => self.exact_rankings(exact, v.vectors, model, &g.set, &mut built)?,
                });
            }
            if let Some(h) = v.hnsw
                && !have.contains_key(&v.rankings)
            {
                let got = self.hnsw_rankings(s, h, v.rankings, &g.set, &mut built)?;
                have.insert(v.rankings, got);
                self.keep_graph(h, run)?;
            }
        }
        Ok(have)
    }

    fn exact_rankings(
        &self,
        r: usize,
        vectors: usize,
        model: &str,
        set: &ChunkSet,
        built: &mut Built,
    ) -> Result<Arc<StoredRankings>> {
        let vectors = self.built_vectors(vectors, model, set, built)?;
        let qv = self.question_vectors(model)?;
        let costs = Costs {
            index_bytes: vectors.size_bytes(),
            ..Costs::default()
        };
        let ranked = self.rank_all(Component::Exact(vectors), Some(&qv), costs)?;
        self.computed_rankings(r, ranked)
    }

    fn bm25_rankings(
        &self,
        index: usize,
        r: usize,
        set: &ChunkSet,
        built: &mut Built,
    ) -> Result<Arc<StoredRankings>> {
        if let Entry::Vacant(e) = built.bm25.entry(index) {
            e.insert(self.bm25_index(index, set)?);
        }
        let (idx, costs) = &built.bm25[&index];
        let ranked = self.rank_all(Component::Bm25(idx), None, *costs)?;
        self.computed_rankings(r, ranked)
    }

    fn built_vectors<'b>(
        &self,
        node: usize,
        model: &str,
        set: &ChunkSet,
        built: &'b mut Built,
    ) -> Result<&'b Vectors> {
        if let Entry::Vacant(e) = built.vectors.entry(node) {
            e.insert(self.vectors(node, model, set)?);
        }
        Ok(&built.vectors[&node])
    }

    /// The HNSW graphs `setups` need that the store does not hold, once each; none when
    /// the grid builds graphs in parallel (each build already uses every core).
    fn graphs_to_build<'s>(
        &self,
        setups: impl Iterator<Item = &'s SetupNodes>,
    ) -> Vec<GraphTask<'s>> {
        if self.grid.hnsw_build() != HnswBuild::Serial {
            return Vec::new();
        }
        let mut todo: Vec<GraphTask> = Vec::new();
        for s in setups {
            if let Some(v) = s.vector
                && let Some(h) = v.hnsw
                && !todo.iter().any(|t| t.graph == h)
                && !self.stored(Stage::Hnsw, h)
            {
                let (m, ef_construction, _) = hnsw_params(&s.setup);
                todo.push(GraphTask {
                    graph: h,
                    vectors: v.vectors,
                    chunks: s.chunks,
                    model: s.setup.model().expect("vector setups name a model"),
                    params: (m, ef_construction),
                });
            }
        }
        todo
    }

    /// Build the group's missing HNSW graphs (one per model) at the same time, one thread
    /// each: each graph is the one a build on its own makes, and a group with several
    /// models keeps more than one core busy. (With a store, [`Self::build_graphs_ahead`]
    /// has built them already.)
    fn build_graphs_side_by_side(&self, g: &Group, built: &mut Built) -> Result<()> {
        let todo = self.graphs_to_build(g.setups.iter().copied());
        if todo.len() < 2 {
            return Ok(());
        }
        for t in &todo {
            self.built_vectors(t.vectors, t.model, &g.set, built)?;
        }
        let vectors = &built.vectors;
        let graphs: Vec<(usize, (HnswIndex, Costs))> = todo
            .par_iter()
            .map(|t| Ok((t.graph, self.hnsw(t.graph, &vectors[&t.vectors], t.params)?)))
            .collect::<Result<_>>()?;
        built.hnsw.extend(graphs);
        Ok(())
    }

    /// Before any chunk set is scored, build and store every HNSW graph the run still
    /// needs, side by side, one thread each (serial builds: each graph is the one a build
    /// on its own makes). Vectors the store lacks are embedded first, one chunk set at a
    /// time (embedding uses every core itself). Without this, a grid of one model and
    /// several chunk sets builds its graphs one after another with the other cores idle.
    /// The chunk sets are then scored as always and load their graphs from the store.
    /// Only with a store, and without a limited budget (checked between chunk sets).
    fn build_graphs_ahead(
        &self,
        sets: &HashMap<usize, (ChunkSet, Vec<u32>)>,
        done: &HashMap<String, PointRecord>,
    ) -> Result<()> {
        if self.store.is_none() || self.budget.as_ref().is_some_and(Budget::is_limited) {
            return Ok(());
        }
        let setups = self.plan.setups.iter().filter(|s| {
            sets.contains_key(&s.chunks)
                && !done.contains_key(&s.config_id)
                && self.only.as_ref().is_none_or(|o| o.contains(&s.config_id))
        });
        let todo = self.graphs_to_build(setups);
        if todo.len() < 2 {
            return Ok(());
        }
        for t in todo
            .iter()
            .filter(|t| !self.stored(Stage::Vectors, t.vectors))
        {
            self.vectors(t.vectors, t.model, &sets[&t.chunks].0)?;
            self.counted_ahead(t.vectors);
        }
        for wave in graph_waves(&todo, |t| self.graph_bytes(t, &sets[&t.chunks].0)) {
            wave.par_iter()
                .map(|t| {
                    let vectors = self.vectors(t.vectors, t.model, &sets[&t.chunks].0)?;
                    self.counted_ahead(t.vectors);
                    self.hnsw(t.graph, &vectors, t.params)?;
                    self.counted_ahead(t.graph);
                    Ok(())
                })
                .collect::<Result<()>>()?;
        }
        Ok(())
    }

    /// Memory a graph build holds: its vectors and the graph's own copy of them.
    fn graph_bytes(&self, t: &GraphTask, set: &ChunkSet) -> u64 {
        let dim = self
            .infos
            .get(t.model)
            .and_then(|i| i.record.dim)
            .unwrap_or(1024);
        2 * 4 * (set.len() * dim) as u64
    }

    /// An HNSW setup's rankings. Stored rankings are used only while the graph that made
    /// them is stored too: a graph rebuilt with `hnsw_build = "parallel"` could rank
    /// differently.
    fn hnsw_rankings(
        &self,
        s: &SetupNodes,
        h: usize,
        r: usize,
        set: &ChunkSet,
        built: &mut Built,
    ) -> Result<Arc<StoredRankings>> {
        if self.stored(Stage::Hnsw, h)
            && !built.hnsw.contains_key(&h)
            && let Some(x) = self.stored_rankings(r)
        {
            return Ok(Arc::new(x));
        }
        let v = s.vector.expect("hnsw setups have a vector side");
        let model = s.setup.model().expect("vector setups name a model");
        let (m, ef_construction, ef) = hnsw_params(&s.setup);
        if !built.hnsw.contains_key(&h) {
            self.built_vectors(v.vectors, model, set, built)?;
            let vectors = &built.vectors[&v.vectors];
            let graph = self.hnsw(h, vectors, (m, ef_construction))?;
            built.hnsw.insert(h, graph);
        }
        let qv = self.question_vectors(model)?;
        let (index, costs) = &built.hnsw[&h];
        let ranked = self.rank_all(Component::Hnsw { index, ef }, Some(&qv), *costs)?;
        self.computed_rankings(r, ranked)
    }

    /// Keep a copy of graph `h` in the run folder (hard links where the filesystem
    /// allows), so that the run can be served from the scored graph even after the store
    /// is collected.
    fn keep_graph(&self, h: usize, run: &RunDir) -> Result<()> {
        let key = &self.plan.nodes[h].key;
        let dst = run.path().join("index").join("hnsw").join(key);
        if dst.is_dir() {
            return Ok(());
        }
        let Some(src) = self.store.and_then(|s| s.get_dir(Stage::Hnsw, key)) else {
            return Ok(());
        };
        let tmp = run
            .path()
            .join("index")
            .join("hnsw")
            .join(format!(".{key}.tmp-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).map_err(|e| SweepError::io(&tmp, e))?;
        for f in std::fs::read_dir(&src).map_err(|e| SweepError::io(&src, e))? {
            let f = f.map_err(|e| SweepError::io(&src, e))?.path();
            let to = tmp.join(f.file_name().expect("files have names"));
            if std::fs::hard_link(&f, &to).is_err() {
                std::fs::copy(&f, &to).map_err(|e| SweepError::io(&to, e))?;
            }
        }
        std::fs::rename(&tmp, &dst).map_err(|e| SweepError::io(&dst, e))
    }

    /// Fuse and score every setup of the group, writing each point as it is done.
    fn score_group(
        &self,
        g: &Group,
        have: &HashMap<usize, Arc<StoredRankings>>,
        run: &RunDir,
    ) -> Result<Vec<PointRecord>> {
        let spec = self.spec_of(g.node);
        let overlap = spec
            .kind
            .is_sized()
            .then(|| self.lock(&self.overlaps).get(&g.node).copied())
            .flatten();
        let ctx = ScoreCtx {
            corpus: self.corpus,
            set: &g.set,
            counts: &g.counts,
            ks: &self.grid.top_k,
            overlap,
            holdout: self.grid.select.holdout,
        };
        let depth = self.grid.depth;
        self.rep.add("score", g.setups.len() as u64);
        g.setups
            .par_iter()
            .map(|s| {
                let b = s.bm25.map(|(_, r)| &have[&r]);
                let v = s.vector.map(|v| &have[&v.rankings]);
                let fusion = s.setup.retriever.fusion();
                let nq = self.corpus.questions.len();
                let mut ms = Vec::with_capacity(nq);
                let rankings: Vec<Ranking> = (0..nq)
                    .map(|qi| {
                        let t = Instant::now();
                        let hits = combine(
                            b.map(|x| &x.rankings[qi]),
                            v.map(|x| &x.rankings[qi]),
                            fusion,
                            depth,
                        );
                        let fuse_ms = if fusion.is_some() {
                            t.elapsed().as_secs_f64() * 1e3
                        } else {
                            0.0
                        };
                        ms.push(
                            b.map_or(0.0, |x| x.ms[qi]) + v.map_or(0.0, |x| x.ms[qi]) + fuse_ms,
                        );
                        as_ranking(&hits)
                    })
                    .collect();
                let costs = [b, v]
                    .into_iter()
                    .flatten()
                    .fold(Costs::default(), |c, x| Costs {
                        index_seconds: c.index_seconds + x.costs.index_seconds,
                        index_bytes: c.index_bytes + x.costs.index_bytes,
                        ..c
                    });
                let exact = s.exact_rankings.map(|e| have[&e].rankings.as_slice());
                let scored = Scored {
                    rankings: &rankings,
                    ms: &ms,
                    costs,
                    hnsw_vs_exact: exact.zip(v.map(|x| x.rankings.as_slice())),
                };
                let mut record = ctx.score(&s.setup, &scored);
                record.equivalent = self.equivalent(&record.config_id);
                run.write_rankings(&ctx.rankings_record(&record.config_id, depth, &rankings))?;
                run.write_point(&record)?;
                if fusion.is_some() {
                    self.count(NodeKind::Fusion, false);
                }
                for _ in &s.scores {
                    self.count(NodeKind::Scores, false);
                }
                self.rep.inc("score", 1);
                Ok(record)
            })
            .collect()
    }
}

/// One HNSW graph to build: its node, its vectors' node and chunk set, the model, and
/// `M` and `ef_construction`.
struct GraphTask<'s> {
    graph: usize,
    vectors: usize,
    chunks: usize,
    model: &'s str,
    params: (usize, usize),
}

/// Memory the graph builds of one wave may hold together.
const GRAPH_WAVE_BYTES: u64 = 4 << 30;

/// `tasks` in waves, in order, each holding at most [`GRAPH_WAVE_BYTES`] by `bytes` (a
/// larger task goes alone), so that building side by side cannot multiply the memory
/// of the largest graphs by the number of cores.
fn graph_waves<'t, 's>(
    tasks: &'t [GraphTask<'s>],
    bytes: impl Fn(&GraphTask) -> u64,
) -> Vec<Vec<&'t GraphTask<'s>>> {
    let mut waves: Vec<Vec<&GraphTask>> = Vec::new();
    let mut held = 0;
    for t in tasks {
        let b = bytes(t);
        match waves.last_mut() {
            Some(w) if held + b <= GRAPH_WAVE_BYTES => {
                w.push(t);
                held += b;
            }
            _ => {
                waves.push(vec![t]);
                held = b;
            }
        }
    }
    waves
}

/// An HNSW setup's `M`, `ef_construction` and `ef_search`.
fn hnsw_params(setup: &Setup) -> (usize, usize, usize) {
    match setup.retriever.vector().map(|v| v.index) {
        Some(ragtune_core::IndexSpec::Hnsw {
            m,
            ef_construction,
            ef_search,
        }) => (m, ef_construction, ef_search),
        _ => unreachable!("an hnsw node belongs to an hnsw setup"),
    }
}

/// The fingerprints a plan's keys are made of.
pub fn plan_inputs(
    corpus: &Corpus,
    tokenizer_bytes: &[u8],
    infos: &BTreeMap<String, ModelInfo>,
) -> PlanInputs {
    PlanInputs {
        docs: corpus.docs_fingerprint(),
        questions: corpus.questions_fingerprint(),
        corpus: corpus.fingerprint(),
        tokenizer: ragtune_core::sha256_hex(tokenizer_bytes),
        chunk_sizer: None,
        screen: None,
        models: infos
            .iter()
            .map(|(name, i)| (name.clone(), i.namespace.clone()))
            .collect(),
    }
}

/// Load the counting tokenizer with a clear error.
pub fn load_counting_tokenizer(path: &std::path::Path) -> Result<(Tokenizer, Vec<u8>)> {
    if !path.is_file() {
        return Err(SweepError::Run {
            path: path.to_path_buf(),
            message: "tokenizer not found: context_tokens and `tokens` chunkers need a tokenizer.json; run models/fetch.sh or set [retrieval] tokenizer".into(),
        });
    }
    let bytes = std::fs::read(path).map_err(|e| SweepError::io(path, e))?;
    Ok((load_plain_tokenizer(path)?, bytes))
}

/// Per-kind node counts of an execution, for the manifest.
pub fn stage_records(plan: &Plan, tally: &Tally) -> Vec<StageRecord> {
    plan.counts()
        .into_iter()
        .map(|c| StageRecord {
            kind: c.kind.name().to_string(),
            nodes: c.nodes,
            computed: tally.computed.get(&c.kind).copied().unwrap_or(0),
            reused: tally.reused.get(&c.kind).copied().unwrap_or(0),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(graph: usize) -> GraphTask<'static> {
        GraphTask {
            graph,
            vectors: graph,
            chunks: 0,
            model: "m",
            params: (16, 200),
        }
    }

    #[test]
    fn graph_waves_hold_at_most_the_wave_bytes_in_order() {
        let tasks: Vec<GraphTask> = (0..6).map(task).collect();
        let gib = 1u64 << 30;
        // Bytes by graph: 1, 2, 1, 5 (over the cap: alone), 3, 1 GiB; the cap is 4 GiB.
        let sizes = [1, 2, 1, 5, 3, 1];
        let waves = graph_waves(&tasks, |t| sizes[t.graph] * gib);
        let ids: Vec<Vec<usize>> = waves
            .iter()
            .map(|w| w.iter().map(|t| t.graph).collect())
            .collect();
        assert_eq!(ids, vec![vec![0, 1, 2], vec![3], vec![4, 5]]);
        assert!(graph_waves(&[], |_| gib).is_empty());
    }
}
