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

use ragtune_core::{ChunkSet, Corpus, Embedder, IndexSpec, Question, Setup};
use ragtune_eval::{BestSetup, PointRecord};
use ragtune_lexical::Bm25Index;
use ragtune_retrieve::Trace;
use ragtune_retrieve::{Component as Ranker, Query, Retriever};
use ragtune_vector::{HnswIndex, Vectors};
use serde::{Deserialize, Serialize};

use crate::embedcache::cached_vector;
use crate::error::{Result, SweepError};
use crate::exec::{Executor, HNSW_BASE, Silent};
use crate::grid::Grid;
use crate::models::{Models, OnnxModels};
use crate::record::{Manifest, RunDir};
use crate::store::StageStore;
use crate::sweep::{SweepOptions, prepare};

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
    store: Option<StageStore>,
}

struct VectorSide {
    embedder: Arc<dyn Embedder>,
    vectors: Vectors,
    hnsw: Option<(HnswIndex, usize)>,
}

fn run_err(path: &Path, message: impl Into<String>) -> SweepError {
    SweepError::Run {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// The setup named by `config`: `None` → the run's best.toml; a file → a best.toml; else a
/// config id of the run.
pub fn resolve_point(run: &RunDir, config: Option<&str>) -> Result<Setup> {
    let from_best = |path: &Path| -> Result<Setup> {
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
        Some(id) => Ok(read_point(run, &listed_id(run, id)?)?.point),
    }
}

/// The id setup `id` is listed under in the run: `id` itself, or, for a setup whose chunk
/// set came out identical to another setup's (the sweep scores those once, under the
/// first), that setup's id, with a warning. Unknown ids fail as [`read_point`] does.
pub fn listed_id(run: &RunDir, id: &str) -> Result<String> {
    if point_path(run, id).is_some() {
        return Ok(id.to_string());
    }
    let missing = unknown_id(run, id)?;
    let label = run
        .read_manifest()
        .ok()
        .and_then(|m| Grid::parse(&m.grid_path, m.grid_text).ok())
        .and_then(|g| g.points.into_iter().find(|p| p.config_id() == id))
        .map(|p| p.label());
    let Some(label) = label else {
        return Err(missing);
    };
    match run
        .read_points()?
        .into_iter()
        .find(|p| p.equivalent.contains(&label))
    {
        Some(twin) => {
            tracing::warn!(
                "{id} ({label}) made the same chunk set as {} ({}): using that setup, whose results are its results",
                twin.config_id,
                twin.label
            );
            Ok(twin.config_id)
        }
        None => Err(missing),
    }
}

/// `points/<id>.json`, when the run has it.
fn point_path(run: &RunDir, id: &str) -> Option<std::path::PathBuf> {
    let path = run.path().join("points").join(format!("{id}.json"));
    (path.is_file() && !id.contains('/')).then_some(path)
}

/// The error for an id the run has no point for, listing some valid ids.
fn unknown_id(run: &RunDir, id: &str) -> Result<SweepError> {
    let ids: Vec<String> = run.config_ids()?.into_iter().take(5).collect();
    Ok(run_err(
        run.path(),
        format!(
            "no setup with config id {id:?} in this run (some ids: {})",
            ids.join(", ")
        ),
    ))
}

/// Read `points/<id>.json`, listing some valid ids when it is missing.
pub fn read_point(run: &RunDir, id: &str) -> Result<PointRecord> {
    let Some(path) = point_path(run, id) else {
        return Err(unknown_id(run, id)?);
    };
    let bytes = std::fs::read(&path).map_err(|e| SweepError::io(&path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| run_err(&path, e.to_string()))
}

/// The scored HNSW graph: the run folder's copy, else the store's, else (never for a
/// run the store still backs) a rebuild.
fn load_graph(
    ex: &Executor,
    run: &RunDir,
    node: usize,
    vectors: &Vectors,
    setup: &Setup,
) -> Result<HnswIndex> {
    let key = &ex.plan.nodes[node].key;
    let kept = run.path().join("index").join("hnsw").join(key);
    if kept.is_dir() {
        return Ok(HnswIndex::load(&kept, HNSW_BASE, vectors.dim)?);
    }
    let Some(IndexSpec::Hnsw {
        m, ef_construction, ..
    }) = setup.retriever.vector().map(|v| v.index)
    else {
        unreachable!("only hnsw setups have a graph node")
    };
    let (index, _) = ex.hnsw(node, vectors, (m, ef_construction))?;
    Ok(index)
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
        let manifest = run.read_manifest()?;
        let mut grid = Grid::parse(&manifest.grid_path, manifest.grid_text.clone())?;
        let point = resolve_point(&run, config)?;
        grid.points = vec![point.clone()];
        // The corpus as the sweep resolved it: the grid's relative paths were resolved
        // against a folder that need not be the current one.
        grid.corpus = manifest.corpus.clone();
        let prep = prepare(
            &grid,
            models,
            &opts.models_dir,
            manifest.tokenizer.as_deref(),
        )?;
        manifest.check_corpus(&prep.corpus)?;
        let store = opts.store()?;
        let ex = Executor::new(&grid, &prep, store.as_ref(), models, &Silent);
        let nodes = &prep.plan.setups[0];
        let (set, counts) = ex.chunk_set(nodes.chunks)?;
        let bm25 = nodes
            .bm25
            .map(|(i, _)| ex.bm25_index(i, &set).map(|(b, _)| b))
            .transpose()?;
        let vector = match (nodes.vector, point.model()) {
            (Some(v), Some(model)) => {
                let vectors = ex.vectors(v.vectors, model, &set)?;
                let hnsw = match (v.hnsw, point.retriever.vector().map(|v| v.index)) {
                    (Some(h), Some(IndexSpec::Hnsw { ef_search, .. })) => {
                        Some((load_graph(&ex, &run, h, &vectors, &point)?, ef_search))
                    }
                    _ => None,
                };
                Some(VectorSide {
                    embedder: models.load(model)?,
                    vectors,
                    hnsw,
                })
            }
            _ => None,
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

    fn embed_query(&self, side: &VectorSide, query: &str) -> Result<Vec<f32>> {
        // The sweep's question vectors are in the store: reading them back (never writing
        // live queries) keeps served rankings identical to evaluated ones.
        if let Some(v) = self
            .store
            .as_ref()
            .and_then(|s| cached_vector(side.embedder.as_ref(), s, query))
        {
            return Ok(v);
        }
        side.embedder
            .embed(&[query], &|_| {})
            .map(|o| o.vectors)
            .map_err(|f| SweepError::Embedding {
                model: self.point.model().unwrap_or_default().to_string(),
                failure: f,
            })
    }

    /// The setup's retriever over the loaded indexes.
    fn retriever(&self) -> Retriever<'_> {
        Retriever {
            bm25: self.bm25.as_ref().map(Ranker::Bm25),
            vector: self.vector.as_ref().map(|side| match &side.hnsw {
                Some((index, ef)) => Ranker::Hnsw { index, ef: *ef },
                None => Ranker::Exact(&side.vectors),
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
        Ok(self.retriever().trace(&q, k)?)
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
