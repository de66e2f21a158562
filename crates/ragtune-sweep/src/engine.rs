//! One evaluated setup, ready to answer queries: what `serve`, `query` and `explain` use.
//!
//! It rebuilds exactly what the sweep evaluated — the same corpus (checked by
//! fingerprint), chunks, model and fusion depth — and keeps its indexes in the run folder
//! under `index/<config_id>/` (tantivy's files, the chunk vectors, the HNSW dump), so a
//! restart reloads them without re-embedding.
//!
//! A query's ranking is the one the sweep scored: BM25 and exact search are deterministic,
//! and for HNSW the engine loads the graph the sweep built and stored under
//! `index/hnsw/` (hnsw_rs does not seed its level draws, so a rebuilt graph could differ).

use std::path::Path;
use std::time::Instant;

use ragtune_core::{ChunkSet, Corpus, Question, Ranking, f32s_from_le_bytes, f32s_to_le_bytes};
use ragtune_embed::{Embedder, EmbeddingCache, OnnxEmbedder, resolve_model};
use ragtune_lexical::Bm25Index;
use ragtune_retrieve::{FusedHit, fuse};
use ragtune_vector::{HnswIndex, HnswParams, Vectors, exact_search_one};
use serde::{Deserialize, Serialize};

use crate::error::{Result, SweepError};
use crate::exec::{
    SweepOptions, chunk_with_counts, counting_tokenizer_path, fusion_of, hnsw_key,
    load_counting_tokenizer,
};
use crate::grid::{Grid, GridPoint, IndexKind, RetrieverKind};
use crate::record::{BestSetup, Manifest, PointRecord, RunDir, write_atomic};

/// One retriever's view of a hit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Component {
    /// 1-based rank in that retriever's list.
    pub rank: usize,
    /// That retriever's score.
    pub score: f32,
}

/// A retrieved chunk as served.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// The chunk text.
    pub text: String,
    /// Final (fused, for hybrids) score.
    pub score: f64,
    /// BM25's rank and score, if BM25 returned the chunk.
    pub bm25: Option<Component>,
    /// The vector retriever's rank and score, if it returned the chunk.
    pub vector: Option<Component>,
}

/// The answer to one query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResponse {
    /// The setup that answered.
    pub config_id: String,
    /// The query.
    pub query: String,
    /// Chunks asked for.
    pub k: usize,
    /// Ranked chunks.
    pub results: Vec<SearchHit>,
}

/// A query's retrieval, step by step.
#[derive(Debug, Clone)]
pub struct Trace {
    /// BM25's ranking at the setup's depth (when the setup uses BM25).
    pub bm25: Option<Ranking>,
    /// The vector ranking at the setup's depth (when the setup uses vectors).
    pub vector: Option<Ranking>,
    /// The final list, with each retriever's rank and score.
    pub fused: Vec<FusedHit>,
}

struct VectorSide {
    embedder: OnnxEmbedder,
    cache: Option<EmbeddingCache>,
    vectors: Vectors,
    hnsw: Option<(HnswIndex, usize)>,
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
    pub point: GridPoint,
    /// Its id.
    pub config_id: String,
    /// Ranking depth per retriever (the sweep's).
    pub depth: usize,
    /// Seconds `open` took.
    pub startup_seconds: f64,
    /// Whether the indexes were reloaded from the run folder (not built).
    pub reloaded: bool,
    bm25: Option<Bm25Index>,
    vector: Option<VectorSide>,
}

fn run_err(path: &Path, message: impl Into<String>) -> SweepError {
    SweepError::Run {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// The setup named by `config`: `None` → the run's best.toml; a file → a best.toml; else a
/// config id of the run.
pub fn resolve_point(run: &RunDir, config: Option<&str>) -> Result<GridPoint> {
    let from_best = |path: &Path| -> Result<GridPoint> {
        let text = std::fs::read_to_string(path).map_err(|e| SweepError::io(path, e))?;
        let best: BestSetup =
            toml::from_str(&text).map_err(|e| run_err(path, e.message().to_string()))?;
        Ok(best.point)
    };
    match config {
        None => {
            let p = run.path().join("best.toml");
            if !p.is_file() {
                return Err(run_err(
                    &p,
                    "missing: the sweep chose no best setup; pass --config CONFIG_ID",
                ));
            }
            from_best(&p)
        }
        Some(c) if Path::new(c).is_file() => from_best(Path::new(c)),
        Some(id) => Ok(read_point(run, id)?.point),
    }
}

/// Read `points/<id>.json`, listing some valid ids when it is missing.
pub fn read_point(run: &RunDir, id: &str) -> Result<PointRecord> {
    let path = run.path().join("points").join(format!("{id}.json"));
    if !path.is_file() || id.contains('/') {
        let ids: Vec<String> = run.config_ids()?.into_iter().take(5).collect();
        return Err(run_err(
            run.path(),
            format!(
                "no setup with config id {id:?} in this run (some ids: {})",
                ids.join(", ")
            ),
        ));
    }
    let bytes = std::fs::read(&path).map_err(|e| SweepError::io(&path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| run_err(&path, e.to_string()))
}

fn write_vectors(path: &Path, v: &Vectors) -> Result<()> {
    write_atomic(path, &f32s_to_le_bytes(&v.data))
}

fn read_vectors(path: &Path, dim: usize, n: usize) -> Option<Vectors> {
    let bytes = std::fs::read(path).ok()?;
    if bytes.len() != dim * n * 4 {
        return None;
    }
    Vectors::new(dim, f32s_from_le_bytes(&bytes)?).ok()
}

impl Engine {
    /// Load setup `config` (see [`resolve_point`]) of the run in `run_dir`.
    pub fn open(run_dir: &Path, config: Option<&str>, opts: &SweepOptions) -> Result<Engine> {
        let t = Instant::now();
        let run = RunDir::open(run_dir)?;
        let manifest = run.read_manifest()?;
        let grid = Grid::parse(&manifest.grid_path, manifest.grid_text.clone())?;
        let point = resolve_point(&run, config)?;
        let config_id = point.config_id();
        let corpus = manifest.load_corpus()?;
        let specs: Vec<_> = match &point.model {
            Some(m) => vec![resolve_model(m, &opts.models_dir)?],
            None => vec![],
        };
        // The sweep's own tokenizer, so that `tokens` chunks come out identical.
        let tokenizer_path = match &manifest.tokenizer {
            Some(p) => p.clone(),
            None => {
                let first = grid
                    .models()
                    .first()
                    .map(|m| resolve_model(m, &opts.models_dir))
                    .transpose()?;
                counting_tokenizer_path(&grid, first.as_slice(), &opts.models_dir)
            }
        };
        let tokenizer = load_counting_tokenizer(&tokenizer_path)?;
        let (set, counts) =
            chunk_with_counts(&corpus, &point.chunk, &tokenizer, &crate::exec::Silent)?;
        let dir = run.path().join("index").join(&config_id);
        std::fs::create_dir_all(&dir).map_err(|e| SweepError::io(&dir, e))?;
        let texts: Vec<std::borrow::Cow<str>> =
            (0..set.len()).map(|i| set.index_text(&corpus, i)).collect();
        let mut reloaded = true;

        let bm25 = if point.retriever.uses_bm25() {
            let bdir = dir.join("bm25");
            Some(if bdir.join("meta.json").is_file() {
                Bm25Index::open(&bdir)?
            } else {
                reloaded = false;
                let tmp = dir.join(format!("bm25.tmp-{}", std::process::id()));
                let _ = std::fs::remove_dir_all(&tmp);
                let built = Bm25Index::build_in_dir(
                    &tmp,
                    texts.iter().map(|t| std::borrow::Cow::Borrowed(t.as_ref())),
                )?;
                drop(built);
                std::fs::rename(&tmp, &bdir).map_err(|e| SweepError::io(&bdir, e))?;
                Bm25Index::open(&bdir)?
            })
        } else {
            None
        };
        if let Some(b) = &bm25
            && b.len() != set.len() as u64
        {
            return Err(run_err(
                &dir,
                "the stored BM25 index does not match the chunks; delete this folder to rebuild it",
            ));
        }

        let vector = match (&point.model, specs.first()) {
            (Some(_), Some(spec)) => {
                let embedder = OnnxEmbedder::load(spec, &opts.embed_options())?;
                let cache = opts
                    .cache_dir
                    .as_deref()
                    .map(EmbeddingCache::open)
                    .transpose()?;
                let vpath = dir.join("vectors.f32");
                let vectors = match read_vectors(&vpath, embedder.dim(), set.len()) {
                    Some(v) => v,
                    None => {
                        reloaded = false;
                        let refs: Vec<&str> = texts.iter().map(|t| t.as_ref()).collect();
                        let (data, _) =
                            ragtune_embed::embed_cached(&embedder, cache.as_ref(), &refs, &|_| {})?;
                        let v = Vectors::new(embedder.dim(), data)?;
                        write_vectors(&vpath, &v)?;
                        v
                    }
                };
                let hnsw = match (point.index, point.hnsw_ef_search) {
                    (Some(IndexKind::Hnsw), Some(ef)) => {
                        let params = HnswParams {
                            m: point.hnsw_m.unwrap_or(16),
                            ef_construction: point.hnsw_ef_construction.unwrap_or(200),
                        };
                        let model = point.model.as_deref().unwrap_or_default();
                        let swept = run.path().join("index").join("hnsw").join(hnsw_key(
                            &point.chunk,
                            model,
                            params.m,
                            params.ef_construction,
                        ));
                        let index = if dir.join("hnsw.hnsw.graph").is_file() {
                            HnswIndex::load(&dir, "hnsw", embedder.dim())?
                        } else if swept.join("hnsw.hnsw.graph").is_file() {
                            // The very graph the sweep scored.
                            HnswIndex::load(&swept, "hnsw", embedder.dim())?
                        } else {
                            reloaded = false;
                            let h = HnswIndex::build(&vectors, params);
                            h.dump(&dir, "hnsw")?;
                            h
                        };
                        Some((index, ef))
                    }
                    _ => None,
                };
                Some(VectorSide {
                    embedder,
                    cache,
                    vectors,
                    hnsw,
                })
            }
            _ => None,
        };
        let depth = grid.depth;
        Ok(Engine {
            manifest,
            grid,
            corpus,
            set,
            counts,
            point,
            config_id,
            depth,
            startup_seconds: t.elapsed().as_secs_f64(),
            reloaded,
            bm25,
            vector,
        })
    }

    /// The run folder's labelled question `id`.
    pub fn question(&self, id: &str) -> Option<&Question> {
        self.corpus.questions.iter().find(|q| q.id == id)
    }

    fn embed_query(&self, side: &VectorSide, query: &str) -> Result<Vec<f32>> {
        // The sweep's question vectors are in the cache: reading them back (never writing
        // live queries) keeps served rankings identical to evaluated ones.
        let key = EmbeddingCache::key(side.embedder.namespace(), query);
        if let Some(v) = side
            .cache
            .as_ref()
            .and_then(|c| c.get(side.embedder.namespace(), &key, side.embedder.dim()))
        {
            return Ok(v);
        }
        Ok(side.embedder.embed(&[query], &|_| {})?.vectors)
    }

    /// Retrieve for `query`, keeping each retriever's own ranking. The final list holds at
    /// least `k` entries when the corpus has them; component rankings go to the sweep's
    /// depth (or `k`, if larger), as they did when the setup was scored.
    pub fn trace(&self, query: &str, k: usize) -> Result<Trace> {
        let depth = self.depth.max(k);
        let bm25 = self
            .bm25
            .as_ref()
            .map(|b| b.search(query, depth))
            .transpose()?;
        let vector = match &self.vector {
            Some(side) => {
                let q = self.embed_query(side, query)?;
                Some(match &side.hnsw {
                    Some((h, ef)) => h.search(&q, depth, *ef)?,
                    None => exact_search_one(&side.vectors, &q, depth)?,
                })
            }
            None => None,
        };
        let as_hits = |r: &Ranking, is_bm25: bool| -> Vec<FusedHit> {
            r.hits
                .iter()
                .enumerate()
                .map(|(i, h)| {
                    let c = Some((i + 1, h.score));
                    FusedHit {
                        chunk: h.chunk,
                        score: h.score as f64,
                        bm25: if is_bm25 { c } else { None },
                        vector: if is_bm25 { None } else { c },
                    }
                })
                .collect()
        };
        let mut fused = match (self.point.retriever, &bm25, &vector) {
            (RetrieverKind::Bm25, Some(b), _) => as_hits(b, true),
            (RetrieverKind::Vector, _, Some(v)) => as_hits(v, false),
            (RetrieverKind::Hybrid, Some(b), Some(v)) => {
                fuse(b, v, fusion_of(&self.point).expect("hybrid has a fusion"))
            }
            _ => unreachable!("open() prepared every retriever the setup uses"),
        };
        fused.truncate(depth);
        Ok(Trace {
            bm25,
            vector,
            fused,
        })
    }

    /// The top `k` chunks for `query`, as served over HTTP.
    pub fn search(&self, query: &str, k: usize) -> Result<SearchResponse> {
        let trace = self.trace(query, k)?;
        let results = trace
            .fused
            .iter()
            .take(k)
            .enumerate()
            .map(|(i, h)| {
                let c = self.set.chunks[h.chunk as usize];
                SearchHit {
                    rank: i + 1,
                    chunk: h.chunk,
                    doc_id: self.corpus.docs[c.doc as usize].id.clone(),
                    start: c.start,
                    end: c.end,
                    text: self.set.text(&self.corpus, h.chunk as usize).to_string(),
                    score: h.score,
                    bm25: h.bm25.map(|(rank, score)| Component { rank, score }),
                    vector: h.vector.map(|(rank, score)| Component { rank, score }),
                }
            })
            .collect();
        Ok(SearchResponse {
            config_id: self.config_id.clone(),
            query: query.to_string(),
            k,
            results,
        })
    }
}
