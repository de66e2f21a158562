//! One evaluated setup, ready to answer queries: what `serve`, `query` and `explain` use.
//!
//! It plans the one setup as the sweep did (same corpus, checked by fingerprint, same
//! counting tokenizer, same keys) and asks the same [`Executor`] for its chunk set, BM25
//! index and vectors, which come from the stage store: nothing is rebuilt while the store
//! holds them. The HNSW graph is the very one the sweep scored, kept in the run folder
//! under `index/hnsw/<key>/` (a serial build would give it again, a parallel one might
//! not). Queries run through ragtune-retrieve's [`Retriever`], the code that
//! produced the rankings the sweep scored.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use ragtune_core::{ChunkSet, Corpus, Question, Setup, VectorFormat};
use ragtune_lexical::Bm25Index;
use ragtune_retrieve::Trace;
use ragtune_retrieve::{Component as Ranker, Query, Rescore, Retriever};
use ragtune_vector::{HnswIndex, Vectors};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use ragtune_grid::Grid;

use crate::queries::{QueryOptions, QueryVectors};
use ragtune_store::{StageStore, cached_vector};
use ragtune_sweep::rows::{QuantisedIndex, RescoreRows};
use ragtune_sweep::{
    Executor, HNSW_BASE, Manifest, Models, OnnxModels, Result, RunDir, Silent, SweepError,
    SweepOptions, prepare_recorded, resolve_point,
};

/// One retriever's view of a hit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Component {
    /// 1-based rank in that retriever's list.
    pub rank: usize,
    /// That retriever's score.
    pub score: f32,
}

/// A retrieved chunk as served.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchHit {
    /// 1-based rank.
    pub rank: usize,
    /// Chunk index in the setup's chunk set.
    pub chunk: u32,
    /// Source document id.
    pub doc_id: String,
    /// First byte in the document.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
    /// The 1-based page the chunk starts on, for documents with pages (PDF).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_page: Option<u32>,
    /// The 1-based page the chunk ends on (inclusive), for documents with pages (PDF).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_page: Option<u32>,
    /// The chunk text.
    pub text: String,
    /// Final (fused, for hybrids) score.
    pub score: f64,
    /// BM25's rank and score, if BM25 returned the chunk.
    pub bm25: Option<Component>,
    /// The vector retriever's rank and score, if it returned the chunk.
    pub vector: Option<Component>,
    /// For a reranked setup: the chunk's rank and score in the first stage's list (the
    /// final `score` is then the reranker's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_stage: Option<Component>,
    /// For a setup with `expand`: the chunk with its neighbours, the passage scored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passage: Option<Passage>,
}

/// A stretch of one document handed over as context: a chunk with its neighbours, or
/// passages merged where they meet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Passage {
    /// Source document id.
    pub doc_id: String,
    /// First byte in the document.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
    /// The chunks it holds, in document order.
    pub chunks: Vec<u32>,
    /// Its text.
    pub text: String,
}

/// The answer to one query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchResponse {
    /// The setup that answered.
    pub config_id: String,
    /// The query.
    pub query: String,
    /// Chunks asked for.
    pub k: usize,
    /// Ranked chunks.
    pub results: Vec<SearchHit>,
    /// For a setup with `expand`: every hit's passage, merged where they overlap or meet,
    /// in the order their first hit ranks: the context to hand to a model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Vec<Passage>>,
}

/// A loaded setup.
pub struct Engine {
    /// The run's manifest.
    pub manifest: Manifest,
    /// The run's grid (re-read from the manifest).
    pub grid: Grid,
    /// The corpus, verified against the run's fingerprint.
    pub corpus: Corpus,
    /// The setup's chunks.
    pub set: ChunkSet,
    /// Tokens per chunk.
    pub counts: Vec<u32>,
    /// The setup.
    pub point: Setup,
    /// Its id.
    pub config_id: String,
    /// Ranking depth per component (the sweep's).
    pub depth: usize,
    /// Seconds `open` took.
    pub startup_seconds: f64,
    /// Whether every artefact came from the store or the run folder (nothing was built).
    pub reloaded: bool,
    bm25: Option<Bm25Index>,
    vector: Option<VectorSide>,
    rerank: Option<RerankSide>,
    store: Option<StageStore>,
}

/// A reranked setup's second stage, and how many first-stage chunks it rescores.
struct RerankSide {
    by: RerankBy,
    depth: usize,
}

/// What rescores: a second embedding model's query vectors, or a cross-encoder.
enum RerankBy {
    Embed(QueryVectors),
    Cross(Arc<dyn ragtune_core::PairScorer>, String),
}

struct VectorSide {
    queries: QueryVectors,
    /// The float32 vectors, for float32 exact search, or where no store holds them; a
    /// quantised setup with a store reads them there, by ranges, to rescore (and whole,
    /// to export).
    vectors: Option<Vectors>,
    /// The vectors entry's key and the dimension, to read them from the store.
    stored: (String, usize),
    hnsw: Option<(HnswIndex, usize)>,
    quantised: Option<QuantisedIndex>,
    rescore: Option<(usize, RescoreRows<'static>)>,
}

/// The scored HNSW graph: the run folder's copy (verified, repaired from the store when
/// damaged), else the store's, else (never for a run the store still backs) a rebuild.
fn load_graph(
    ex: &Executor,
    run: &RunDir,
    node: usize,
    vectors: &Vectors,
    setup: &Setup,
) -> Result<HnswIndex> {
    if let Some(kept) = ex.verified_graph(node, run)? {
        let format = ex.graph_format(node);
        return Ok(HnswIndex::load_as(&kept, HNSW_BASE, vectors.dim, format)?);
    }
    let Some(shape) = setup.retriever.hnsw() else {
        return Err(SweepError::Run {
            path: run.path().to_path_buf(),
            message: format!("{} is not searched by HNSW", setup.label()),
        });
    };
    let (index, _) = ex.hnsw(node, vectors, shape.build())?;
    Ok(index)
}

/// A setup's vector side as the sweep scored it: float32 vectors, an HNSW graph (in
/// its format) or quantised vectors, and float32 rows to rescore from.
fn vector_side(
    ex: &Executor,
    run: &RunDir,
    v: ragtune_sweep::VectorNodes,
    spec: &ragtune_core::VectorSpec,
    set: &ChunkSet,
    models: &dyn Models,
) -> Result<VectorSide> {
    let point = &ex.plan().setups[0].setup;
    let vectors = ex.vectors(v.vectors, &spec.model, set)?;
    let hnsw = match (v.hnsw, point.retriever.hnsw()) {
        (Some(h), Some(shape)) => Some((load_graph(ex, run, h, &vectors, point)?, shape.ef_search)),
        _ => None,
    };
    let quantised = QuantisedIndex::new(&vectors, spec.format).filter(|_| hnsw.is_none());
    let rescore = (spec.rescore > 0).then(|| {
        (
            spec.rescore,
            ex.rescore_rows(v.vectors, &vectors).into_owned(),
        )
    });
    // A quantised setup with a store reads float32 vectors there (to rescore, to export).
    let from_store = spec.format != VectorFormat::F32 && ex.has_store();
    Ok(VectorSide {
        queries: QueryVectors::new(
            models.load(&spec.model)?,
            &spec.model,
            QueryOptions::unbatched_uncached(),
        ),
        stored: (ex.plan().nodes[v.vectors].key.clone(), vectors.dim),
        vectors: (!from_store).then_some(vectors),
        hnsw,
        quantised,
        rescore,
    })
}

impl Engine {
    /// Load setup `config` (see [`resolve_point`]) of the run in `run_dir`: its chunks,
    /// BM25 index, vectors and HNSW graph come from the stage store (or the run folder)
    /// through the same executor the sweep used, and are built only if missing.
    pub fn open(run_dir: &Path, config: Option<&str>, opts: &SweepOptions) -> Result<Engine> {
        Self::open_with(
            run_dir,
            config,
            opts,
            &OnnxModels::new(opts.embed_options()),
        )
    }

    /// [`Engine::open`] with embedders from `models` (tests use fakes).
    pub fn open_with(
        run_dir: &Path,
        config: Option<&str>,
        opts: &SweepOptions,
        models: &dyn Models,
    ) -> Result<Engine> {
        let t = Instant::now();
        let run = RunDir::open(run_dir)?;
        let manifest = run.finished()?;
        let mut grid = Grid::parse_recorded(&manifest.grid_path, manifest.grid_text.clone())?;
        let point = resolve_point(&run, config)?;
        grid.points = vec![point.clone()];
        // The corpus as the sweep resolved it: the grid's relative paths were resolved
        // against a folder that need not be the current one.
        grid.corpus = manifest.corpus.clone();
        let (prep, store) = prepare_recorded(&run, &manifest, &grid, opts, models)?;
        manifest.check_corpus(&prep.corpus)?;
        let ex = Executor::new(&grid, &prep, store.as_ref(), models, &Silent);
        let nodes = &prep.plan.setups[0];
        let (set, counts) = ex.chunk_set(nodes.chunks)?;
        let bm25 = nodes
            .bm25
            .map(|(i, _)| ex.bm25_index(i, &set).map(|(b, _)| b))
            .transpose()?;
        let vector = match (nodes.vector, point.retriever.vector()) {
            (Some(v), Some(spec)) => Some(vector_side(&ex, &run, v, spec, &set, models)?),
            _ => None,
        };
        let rerank = match &point.rerank {
            Some(r) => Some(RerankSide {
                by: match &r.by {
                    ragtune_core::Reranker::Embed(m) => RerankBy::Embed(QueryVectors::new(
                        models.load(m)?,
                        m,
                        QueryOptions::unbatched_uncached(),
                    )),
                    ragtune_core::Reranker::Cross(m) => {
                        RerankBy::Cross(models.load_cross(m)?, m.clone())
                    }
                },
                depth: r.depth,
            }),
            None => None,
        };
        let reloaded = ex.computed_nodes() == 0;
        drop(ex);
        Ok(Engine {
            depth: grid.depth,
            manifest,
            grid,
            corpus: prep.corpus,
            set,
            counts,
            config_id: point.config_id(),
            point,
            startup_seconds: t.elapsed().as_secs_f64(),
            reloaded,
            bm25,
            vector,
            rerank,
            store,
        })
    }

    /// Where the indexes came from, for the log line of `serve` and `query`.
    pub fn provenance(&self) -> &'static str {
        if self.reloaded {
            "indexes read from the stage store and run folder"
        } else {
            "missing indexes built and stored in the stage store"
        }
    }

    /// The run folder's labelled question `id`.
    pub fn question(&self, id: &str) -> Option<&Question> {
        self.corpus.questions.iter().find(|q| q.id == id)
    }

    fn embed_query(&self, side: &VectorSide, query: &str) -> Result<Arc<[f32]>> {
        self.query_vector_of(&side.queries, query)
    }

    /// `query`'s vector under `queries`' model. The sweep's question vectors are in the
    /// store: reading them back (never writing live queries) keeps served rankings
    /// identical to evaluated ones.
    /// The model's query prefix goes in front, as in the sweep.
    fn query_vector_of(&self, queries: &QueryVectors, query: &str) -> Result<Arc<[f32]>> {
        let query = ragtune_core::prefixed(queries.embedder().query_prefix(), query);
        let stored = || {
            let store = self.store.as_ref()?;
            cached_vector(queries.embedder().as_ref(), store, &query)
        };
        queries
            .vector(&query, stored)
            .map_err(|f| SweepError::Embedding {
                model: queries.model().to_string(),
                failure: f,
            })
    }

    /// The second stage of a reranked setup over `trace`'s final list: the texts of its
    /// first `depth` chunks, rescored by the reranker as the sweep rescored them.
    fn rerank(&self, side: &RerankSide, query: &str, trace: &mut Trace) -> Result<()> {
        let top: Vec<u32> = trace
            .fused
            .iter()
            .take(side.depth)
            .map(|h| h.chunk)
            .collect();
        let texts: Vec<_> = (top.iter())
            .map(|&c| self.set.index_text(&self.corpus, c as usize))
            .collect();
        let depth = side.depth;
        match &side.by {
            RerankBy::Embed(queries) => {
                let q = self.query_vector_of(queries, query)?;
                let rows = self.rerank_vectors(queries, &texts)?;
                let at: std::collections::HashMap<u32, &[f32]> = top
                    .iter()
                    .copied()
                    .zip(rows.iter().map(Vec::as_slice))
                    .collect();
                ragtune_retrieve::rerank_trace(trace, |first| {
                    ragtune_retrieve::rerank_by_vectors(first, depth, &q, |c| at[&c])
                });
            }
            RerankBy::Cross(scorer, model) => {
                let refs: Vec<&str> = texts.iter().map(|t| t.as_ref()).collect();
                let scores = scorer
                    .score(query, &refs)
                    .map_err(|f| SweepError::Embedding {
                        model: model.clone(),
                        failure: f,
                    })?;
                ragtune_retrieve::rerank_trace(trace, |first| {
                    ragtune_retrieve::rerank_by_scores(first, depth, &scores)
                });
            }
        }
        Ok(())
    }

    /// The chunk `texts`' vectors under an `embed:` reranker's model: read from the
    /// store's embedding cache, where the sweep left them, and embedded only when missing.
    fn rerank_vectors(
        &self,
        queries: &QueryVectors,
        texts: &[std::borrow::Cow<'_, str>],
    ) -> Result<Vec<Vec<f32>>> {
        let e = queries.embedder();
        let texts: Vec<_> = (texts.iter())
            .map(|t| ragtune_core::prefixed(e.passage_prefix(), t))
            .collect();
        let mut rows: Vec<Option<Vec<f32>>> = texts
            .iter()
            .map(|t| cached_vector(e.as_ref(), self.store.as_ref()?, t))
            .collect();
        let missing: Vec<&str> = (texts.iter().zip(&rows))
            .filter(|(_, r)| r.is_none())
            .map(|(t, _)| t.as_ref())
            .collect();
        if !missing.is_empty() {
            let fail = |f| SweepError::Embedding {
                model: queries.model().to_string(),
                failure: f,
            };
            let fresh = e.embed(&missing, &|_| {}).map_err(fail)?.vectors;
            let mut chunks = fresh.chunks_exact(e.dim());
            rows.iter_mut()
                .filter(|r| r.is_none())
                .for_each(|r| *r = chunks.next().map(<[f32]>::to_vec));
        }
        Ok(rows.into_iter().map(Option::unwrap_or_default).collect())
    }

    /// Embed served queries with `opts` (micro-batching, a cache of query vectors); what
    /// `serve` and its MCP endpoint use. Returns why batching stays off, when it was asked
    /// for and the model refuses it.
    pub fn serve_queries(&mut self, opts: QueryOptions) -> Option<String> {
        let side = self.vector.as_mut()?;
        let (embedder, model) = (side.queries.embedder().clone(), side.queries.model());
        let model = model.to_string();
        side.queries = QueryVectors::new(embedder, &model, opts);
        side.queries.batching_refused.clone()
    }

    /// The query path's metrics (Prometheus text), for a setup with vectors.
    pub fn query_metrics(&self) -> Option<String> {
        self.vector.as_ref().map(|side| side.queries.render())
    }

    /// The setup's retriever over the loaded indexes.
    fn retriever(&self) -> Retriever<'_> {
        Retriever {
            bm25: self.bm25.as_ref().map(Ranker::Bm25),
            vector: self.vector.as_ref().and_then(|side| {
                match (&side.hnsw, &side.quantised, &side.vectors) {
                    (Some((index, ef)), _, _) => Some(Ranker::Hnsw { index, ef: *ef }),
                    (None, Some(q), _) => Some(q.component()),
                    (None, None, v) => v.as_ref().map(Ranker::Exact),
                }
            }),
            rescore: self.vector.as_ref().and_then(|side| {
                (side.rescore.as_ref()).map(|(by, rows)| Rescore { by: *by, rows })
            }),
            fusion: self.point.retriever.fusion(),
            depth: self.depth,
        }
    }

    /// Retrieve for `query`, keeping each component's own ranking: the same two steps,
    /// rank then combine, that the sweep scored. The final list holds at least `k`
    /// entries when the corpus has them.
    pub fn trace(&self, query: &str, k: usize) -> Result<Trace> {
        let qv = self
            .vector
            .as_ref()
            .map(|side| self.embed_query(side, query))
            .transpose()?;
        let q = Query {
            text: query,
            vector: qv.as_deref(),
        };
        let mut trace = self.retriever().trace(&q, k)?;
        if let Some(side) = &self.rerank {
            self.rerank(side, query, &mut trace)?;
        }
        Ok(trace)
    }
    /// The top `k` chunks for `query`, as served over HTTP.
    pub fn search(&self, query: &str, k: usize) -> Result<SearchResponse> {
        let trace = self.trace(query, k)?;
        let first_stage = |chunk: u32| {
            let first = trace.first_stage.as_ref()?;
            let i = first.iter().position(|f| f.chunk == chunk)?;
            Some(Component {
                rank: i + 1,
                score: first[i].score as f32,
            })
        };
        let results = trace
            .fused
            .iter()
            .take(k)
            .enumerate()
            .map(|(i, h)| {
                let c = self.set.chunks[h.chunk as usize];
                let doc = &self.corpus.docs[c.doc as usize];
                let pages = doc.page_range(c.start, c.end);
                SearchHit {
                    rank: i + 1,
                    chunk: h.chunk,
                    doc_id: doc.id.clone(),
                    start: c.start,
                    end: c.end,
                    first_page: pages.map(|p| p.0),
                    last_page: pages.map(|p| p.1),
                    text: self.set.text(&self.corpus, h.chunk as usize).to_string(),
                    score: h.score,
                    bm25: h.bm25.map(|(rank, score)| Component { rank, score }),
                    vector: h.vector.map(|(rank, score)| Component { rank, score }),
                    first_stage: first_stage(h.chunk),
                    passage: (self.point.expand > 0).then(|| {
                        let n = self.set.neighbours(h.chunk as usize, self.point.expand);
                        self.passage(n.map(|c| c as u32).collect())
                    }),
                }
            })
            .collect::<Vec<SearchHit>>();
        let context = (self.point.expand > 0).then(|| self.merged(&results));
        Ok(SearchResponse {
            config_id: self.config_id.clone(),
            query: query.to_string(),
            k,
            results,
            context,
        })
    }

    /// The passage of `chunks` (neighbours in one document, in order).
    fn passage(&self, chunks: Vec<u32>) -> Passage {
        let c = (self.set)
            .covering(chunks.iter().map(|&c| c as usize))
            .expect("a passage holds its chunk");
        let doc = &self.corpus.docs[c.doc as usize];
        Passage {
            doc_id: doc.id.clone(),
            start: c.start,
            end: c.end,
            text: doc.text[c.start..c.end].to_string(),
            chunks,
        }
    }

    /// The hits' passages merged where they overlap or meet (same document, byte ranges
    /// touching), in the order their first hit ranks.
    fn merged(&self, hits: &[SearchHit]) -> Vec<Passage> {
        let meets =
            |q: &Passage, p: &Passage| q.doc_id == p.doc_id && q.start <= p.end && p.start <= q.end;
        let mut out: Vec<Passage> = Vec::new();
        for p in hits.iter().filter_map(|h| h.passage.as_ref()) {
            let Some(mut first) = out.iter().position(|q| meets(q, p)) else {
                out.push(p.clone());
                continue;
            };
            // The earliest passage it meets takes it in, then every other one the grown
            // passage meets (a passage can join two).
            let mut chunks = [out[first].chunks.clone(), p.chunks.clone()].concat();
            loop {
                chunks.sort_unstable();
                chunks.dedup();
                let grown = self.passage(chunks.clone());
                match (0..out.len()).find(|&j| j != first && meets(&out[j], &grown)) {
                    Some(j) => {
                        chunks.extend(out.remove(j).chunks);
                        first -= usize::from(j < first);
                    }
                    None => {
                        out[first] = grown;
                        break;
                    }
                }
            }
        }
        out
    }
}

impl Engine {
    /// Question `id` of the run through this setup: its top `k` chunks and where each of
    /// its labels is found among them; `None` for an id the run does not have.
    pub fn explain(&self, id: &str, k: usize) -> Result<Option<crate::ExplainResponse>> {
        let Some(q) = self.question(id) else {
            return Ok(None);
        };
        let found = self.search(&q.text, k)?;
        let doc_of = |d: u32| self.corpus.docs[d as usize].id.clone();
        // With neighbours, a hit covers its passage, as the sweep scored it.
        let covers = |h: &SearchHit| {
            h.passage
                .as_ref()
                .map_or((h.start, h.end), |p| (p.start, p.end))
        };
        let rank = |doc: &str, start: usize, end: usize| {
            (found.results.iter())
                .find(|h| h.doc_id == doc && covers(h).0 < end && start < covers(h).1)
                .map(|h| h.rank)
        };
        let mut gold: Vec<crate::GoldLabel> = (q.all_spans())
            .map(|s| {
                let doc = doc_of(s.doc);
                crate::GoldLabel {
                    rank: rank(&doc, s.start, s.end),
                    doc_id: doc,
                    start: Some(s.start),
                    end: Some(s.end),
                }
            })
            .collect();
        let spanned: Vec<u32> = q.all_spans().map(|s| s.doc).collect();
        for &d in q.relevant_docs.iter().filter(|d| !spanned.contains(d)) {
            let doc = doc_of(d);
            gold.push(crate::GoldLabel {
                rank: rank(&doc, 0, usize::MAX),
                doc_id: doc,
                start: None,
                end: None,
            });
        }
        Ok(Some(crate::ExplainResponse {
            config_id: found.config_id,
            question_id: q.id.clone(),
            question: q.text.clone(),
            gold,
            results: found.results,
        }))
    }
}

impl Engine {
    /// The setup's float32 chunk vectors, when it ranks by vectors: held, or read from
    /// the store (a quantised setup does not hold them).
    pub fn vectors(&self) -> Result<Option<std::borrow::Cow<'_, Vectors>>> {
        let Some(side) = &self.vector else {
            return Ok(None);
        };
        if let Some(v) = &side.vectors {
            return Ok(Some(std::borrow::Cow::Borrowed(v)));
        }
        let (key, dim) = &side.stored;
        let data = (self.store.as_ref())
            .and_then(|s| s.get(ragtune_store::Stage::Vectors, key))
            .and_then(|b| ragtune_store::codec::decode_vectors(&b, self.set.len(), *dim))
            .ok_or_else(|| SweepError::Run {
                path: self.manifest.grid_path.clone(),
                message: "the setup's vectors are no longer in the stage store: run the sweep again to restore them".into(),
            })?;
        Ok(Some(std::borrow::Cow::Owned(Vectors::new(*dim, data)?)))
    }

    /// `query`'s vector under the setup's model, as the sweep embedded it; `None` for a
    /// setup without vectors.
    pub fn query_vector(&self, query: &str) -> Result<Option<Vec<f32>>> {
        (self.vector.as_ref())
            .map(|side| self.embed_query(side, query).map(|v| v.to_vec()))
            .transpose()
    }

    /// How this setup queries, for a system that rebuilds it from an export: the setup,
    /// the ranking depth, the vector metric and BM25's parameters.
    pub fn query_settings(&self) -> serde_json::Value {
        let dim = self.vector.as_ref().map(|side| side.stored.1);
        serde_json::json!({
            "config_id": self.config_id,
            "label": self.point.label(),
            "setup": self.point,
            "retriever": self.point.retriever.name(),
            "model": self.point.model(),
            "dim": dim,
            "metric": dim.map(|_| "cosine: vectors are unit length, so the inner product ranks the same"),
            "query_prefix": self.vector.as_ref().map(|side| side.queries.embedder().query_prefix().to_string()),
            "passage_prefix": self.vector.as_ref().map(|side| side.queries.embedder().passage_prefix().to_string()),
            "vectors": self.point.retriever.vector().map(|v| v.format.name()),
            "rescore": self.point.retriever.vector().map(|v| v.rescore),
            "chunk_header": self.point.chunk.header().name(),
            "expand": self.point.expand,
            "depth": self.depth,
            "objective": self.grid.select.objective,
            "bm25": self.bm25.as_ref().map(|_| serde_json::json!({
                "k1": as_written(ragtune_lexical::BM25_K1),
                "b": as_written(ragtune_lexical::BM25_B),
                "analyzer": ragtune_lexical::ANALYZER,
                "unit": "chunk",
            })),
        })
    }
}

/// An f32 constant as it is written in the code (1.2, not 1.2000000476837158).
fn as_written(x: f32) -> f64 {
    x.to_string().parse().unwrap_or(f64::from(x))
}
