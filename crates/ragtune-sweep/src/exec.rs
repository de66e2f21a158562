//! Running a grid with reuse.
//!
//! Stages, and what each is done once per:
//! 1. load the corpus — once;
//! 2. chunk — once per chunk spec (chunker, size, overlap);
//! 3. BM25 index + retrieval — once per chunk spec, every question at the full depth;
//! 4. embeddings — once per distinct text and model, through the on-disk cache;
//!    exact search once per (chunk spec, model); HNSW built once per (chunk spec, model)
//!    and searched once per ef_search;
//! 5. scoring — every grid point and every k from the stored rankings; hybrids are fused
//!    from the stored BM25 and vector rankings, so alpha and the RRF constant cost no
//!    retrieval.
//!
//! Each finished point is written to `points/<config_id>.json` at once.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use ragtune_chunk::{ChunkSpec, load_plain_tokenizer};
use ragtune_core::{Chunk, ChunkSet, Corpus, DocId, Question, Ranking};
use ragtune_embed::{
    CacheStats, Device, EmbedOptions, Embedder, EmbeddingCache, ModelSpec, OnnxEmbedder,
    embed_cached, resolve_model,
};
use ragtune_eval::{doc_metrics, percentile, span_metrics};
use ragtune_lexical::Bm25Index;
use ragtune_retrieve::{Fusion, fuse_ranking};
use ragtune_vector::{HnswIndex, HnswParams, Vectors, exact_search_one, recall_vs_exact};
use rayon::prelude::*;
use tokenizers::Tokenizer;

use crate::error::{Result, SweepError};
use crate::grid::{FusionKind, Grid, GridPoint, IndexKind, RetrieverKind};
use crate::record::{
    EmbedRecord, Manifest, ModelRecord, PointRecord, QuestionRanking, QuestionRow, RankingsRecord,
    ResultRow, RunDir,
};

/// Progress callbacks; the CLI draws them as progress bars on stderr.
pub trait Reporter: Sync {
    /// A stage with `total` steps begins.
    fn stage(&self, _name: &str, _total: u64) {}
    /// `n` steps finished.
    fn inc(&self, _n: u64) {}
    /// The current stage ended.
    fn done(&self) {}
}

/// A reporter that shows nothing.
pub struct Silent;
impl Reporter for Silent {}

/// How to run a sweep.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    /// Folder with `onnxruntime/` and the bundled models.
    pub models_dir: PathBuf,
    /// Embedding cache folder; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// Threads for rayon and ONNX Runtime.
    pub threads: usize,
    /// CPU or CUDA.
    pub device: Device,
    /// Texts per inference call.
    pub batch_size: usize,
    /// ragtune version, for the manifest.
    pub version: String,
    /// git commit of the build, for the manifest.
    pub git_commit: String,
}

impl SweepOptions {
    /// The embedder options these sweep options imply.
    pub fn embed_options(&self) -> EmbedOptions {
        EmbedOptions {
            models_dir: self.models_dir.clone(),
            threads: self.threads,
            device: self.device,
            batch_size: self.batch_size,
        }
    }
}

/// Rankings of every question by one retriever, with per-question latency.
struct RetrieverRun {
    rankings: Vec<Ranking>,
    ms: Vec<f64>,
}

fn run_questions<F>(n: usize, rep: &dyn Reporter, search: F) -> Result<RetrieverRun>
where
    F: Fn(usize) -> Result<Ranking> + Sync,
{
    let out: Vec<(Ranking, f64)> = (0..n)
        .into_par_iter()
        .map(|qi| {
            let t = Instant::now();
            let r = search(qi)?;
            let ms = t.elapsed().as_secs_f64() * 1e3;
            rep.inc(1);
            Ok((r, ms))
        })
        .collect::<Result<_>>()?;
    let (rankings, ms) = out.into_iter().unzip();
    Ok(RetrieverRun { rankings, ms })
}

/// Resolve the tokenizer used for `tokens` chunkers and for counting context tokens.
pub fn counting_tokenizer_path(
    grid: &Grid,
    models: &[ModelSpec],
    models_dir: &std::path::Path,
) -> PathBuf {
    grid.retrieval
        .tokenizer
        .clone()
        .or_else(|| models.first().map(|m| m.tokenizer_path()))
        .unwrap_or_else(|| models_dir.join("all-minilm-l6-v2").join("tokenizer.json"))
}

/// Load the counting tokenizer with a clear error.
pub fn load_counting_tokenizer(path: &std::path::Path) -> Result<Tokenizer> {
    if !path.is_file() {
        return Err(SweepError::Run {
            path: path.to_path_buf(),
            message: "tokenizer not found: context_tokens and `tokens` chunkers need a tokenizer.json; run models/fetch.sh or set [retrieval] tokenizer".into(),
        });
    }
    Ok(load_plain_tokenizer(path)?)
}

/// Chunk a corpus and count each chunk's tokens.
pub fn chunk_with_counts(
    corpus: &Corpus,
    spec: &ChunkSpec,
    tokenizer: &Tokenizer,
    rep: &dyn Reporter,
) -> Result<(ChunkSet, Vec<u32>)> {
    rep.stage(&format!("chunk {spec}"), corpus.docs.len() as u64);
    let set = ragtune_chunk::chunk_corpus_with_progress(corpus, spec, Some(tokenizer), &|n| {
        rep.inc(n as u64)
    });
    rep.done();
    let set = set?;
    let counts = (0..set.len())
        .into_par_iter()
        .map(|i| ragtune_chunk::count_tokens(tokenizer, &set.index_text(corpus, i)))
        .collect();
    Ok((set, counts))
}

/// Folder name under `index/hnsw/` for the graph built for one chunking, model and
/// construction setting.
pub fn hnsw_key(chunk: &ChunkSpec, model: &str, m: usize, ef_construction: usize) -> String {
    let mut h = ragtune_core::ContentHasher::new();
    h.field(chunk.to_string())
        .field(model)
        .field(m.to_le_bytes())
        .field(ef_construction.to_le_bytes());
    h.finish_hex()[..16].to_string()
}

/// Whether `chunk` is relevant to `q`: it overlaps a gold span, or — for questions with
/// only document labels — it belongs to a relevant document.
pub fn chunk_is_relevant(q: &Question, chunk: &Chunk) -> bool {
    if q.spans.is_empty() {
        q.relevant_docs.contains(&chunk.doc)
    } else {
        q.spans
            .iter()
            .any(|s| s.doc == chunk.doc && s.start < chunk.end && chunk.start < s.end)
    }
}

/// The fusion a hybrid point asks for.
pub fn fusion_of(p: &GridPoint) -> Option<Fusion> {
    match p.fusion? {
        FusionKind::Rrf => Some(Fusion::Rrf {
            k: p.rrf_k.unwrap_or(60.0),
        }),
        FusionKind::Weighted => Some(Fusion::Weighted {
            alpha: p.alpha.unwrap_or(0.5),
            normalization: p
                .normalization
                .unwrap_or(ragtune_retrieve::Normalization::Minmax),
        }),
    }
}

/// Load every model the grid names (early, so a missing model fails before any work).
pub fn load_embedders(grid: &Grid, opts: &SweepOptions) -> Result<Vec<(ModelSpec, OnnxEmbedder)>> {
    grid.models()
        .iter()
        .map(|m| {
            let spec = resolve_model(m, &opts.models_dir)?;
            let e = OnnxEmbedder::load(&spec, &opts.embed_options())?;
            Ok((spec, e))
        })
        .collect()
}

/// Embed `texts` with the cache, reporting progress, and record the work.
fn embed_texts(
    what: &str,
    model: &str,
    embedder: &OnnxEmbedder,
    cache: Option<&EmbeddingCache>,
    texts: &[&str],
    rep: &dyn Reporter,
    records: &mut Vec<EmbedRecord>,
) -> Result<(Vectors, CacheStats)> {
    rep.stage(&format!("embed {what} with {model}"), texts.len() as u64);
    let t = Instant::now();
    let (data, mut stats) = embed_cached(embedder, cache, texts, &|n| rep.inc(n as u64))?;
    rep.done();
    // Count truncation over every text, cached or not, so the record does not depend on
    // what earlier runs left in the cache.
    stats.truncated = embedder.count_truncated(texts)? as u64;
    records.push(EmbedRecord {
        what: what.to_string(),
        model: model.to_string(),
        texts: texts.len() as u64,
        cache_hits: stats.hits,
        cache_misses: stats.misses,
        truncated: stats.truncated,
        seconds: t.elapsed().as_secs_f64(),
    });
    Ok((Vectors::new(embedder.dim(), data)?, stats))
}

/// Cost columns shared by the rows of one point.
#[derive(Debug, Clone, Copy, Default)]
struct Costs {
    index_seconds: f64,
    index_bytes: u64,
}

/// Run the grid into `run`. On failure the manifest records the error.
///
/// With `resume`, `run` holds an interrupted (or finished) sweep of the same grid file:
/// points already stored are kept, and chunk sets whose points are all stored are not
/// chunked, embedded or searched again. A changed grid file or corpus is refused.
pub fn run_sweep(
    grid: &Grid,
    run: &RunDir,
    opts: &SweepOptions,
    rep: &dyn Reporter,
    resume: bool,
) -> Result<(Vec<PointRecord>, Manifest)> {
    let previous = if resume {
        Some(run.read_manifest()?)
    } else {
        None
    };
    if let Some(prev) = &previous
        && prev.grid_text != grid.text
    {
        return Err(SweepError::Run {
            path: run.path().to_path_buf(),
            message: format!(
                "cannot resume: {} differs from the grid this run was started with",
                grid.path.display()
            ),
        });
    }
    let done: HashMap<String, PointRecord> = if resume {
        run.read_points()?
            .into_iter()
            .map(|p| (p.config_id.clone(), p))
            .collect()
    } else {
        HashMap::new()
    };
    let mut manifest = Manifest {
        status: "running".into(),
        ragtune_version: opts.version.clone(),
        git_commit: opts.git_commit.clone(),
        grid_path: grid.path.clone(),
        grid_name: grid.name.clone(),
        grid_text: grid.text.clone(),
        corpus: grid.corpus.clone(),
        corpus_fingerprint: String::new(),
        n_documents: 0,
        n_questions: 0,
        n_points: grid.points.len(),
        started_at: chrono::Utc::now().to_rfc3339(),
        finished_at: None,
        threads: opts.threads,
        device: format!("{:?}", opts.device).to_lowercase(),
        execution_provider: None,
        models: vec![],
        embedding_cache: opts.cache_dir.clone(),
        cache_hits: 0,
        cache_misses: 0,
        truncated: 0,
        embeddings: vec![],
        objective: grid.select.objective.clone(),
        best_config_id: None,
        stage_seconds: vec![],
        error: None,
        resumed_points: 0,
        tokenizer: None,
    };
    run.write_manifest(&manifest)?;
    let expected = previous.map(|p| p.corpus_fingerprint);
    match sweep_inner(grid, run, opts, rep, &mut manifest, done, expected) {
        Ok(records) => {
            manifest.status = "complete".into();
            manifest.finished_at = Some(chrono::Utc::now().to_rfc3339());
            run.write_manifest(&manifest)?;
            Ok((records, manifest))
        }
        Err(e) => {
            manifest.status = "failed".into();
            manifest.error = Some(e.to_string());
            manifest.finished_at = Some(chrono::Utc::now().to_rfc3339());
            let _ = run.write_manifest(&manifest);
            Err(e)
        }
    }
}

fn sweep_inner(
    grid: &Grid,
    run: &RunDir,
    opts: &SweepOptions,
    rep: &dyn Reporter,
    manifest: &mut Manifest,
    done: HashMap<String, PointRecord>,
    expected_fingerprint: Option<String>,
) -> Result<Vec<PointRecord>> {
    let stage = |name: &str, t: Instant, m: &mut Manifest| {
        m.stage_seconds
            .push((name.to_string(), t.elapsed().as_secs_f64()))
    };

    // Everything that can fail on user input happens before the expensive stages.
    let t = Instant::now();
    let corpus = ragtune_corpus::load(&grid.corpus)?;
    manifest.corpus_fingerprint = corpus.fingerprint();
    if let Some(expected) = expected_fingerprint
        && !expected.is_empty()
        && expected != manifest.corpus_fingerprint
    {
        return Err(SweepError::Run {
            path: grid.corpus.path.clone(),
            message: "cannot resume: the corpus changed since this run started".into(),
        });
    }
    manifest.n_documents = corpus.docs.len();
    manifest.n_questions = corpus.questions.len();
    let embedders = load_embedders(grid, opts)?;
    let specs: Vec<ModelSpec> = embedders.iter().map(|(s, _)| s.clone()).collect();
    let tokenizer_path = counting_tokenizer_path(grid, &specs, &opts.models_dir);
    let tokenizer = load_counting_tokenizer(&tokenizer_path)?;
    manifest.tokenizer = Some(tokenizer_path.canonicalize().unwrap_or(tokenizer_path));
    for spec in grid.chunk_specs() {
        ragtune_chunk::validate(&spec, Some(&tokenizer))?;
    }
    let cache = opts
        .cache_dir
        .as_deref()
        .map(EmbeddingCache::open)
        .transpose()?;
    manifest.models = embedders
        .iter()
        .map(|(s, e)| ModelRecord {
            name: s.name.clone(),
            dir: s.dir.clone(),
            sha256: e.model_sha256().to_string(),
            dim: e.dim(),
            max_tokens: s.max_tokens,
        })
        .collect();
    manifest.execution_provider = embedders.first().map(|(_, e)| e.provider().to_string());
    run.write_manifest(manifest)?;
    stage("load", t, manifest);

    let depth = grid.depth;
    let nq = corpus.questions.len();
    let question_texts: Vec<&str> = corpus.questions.iter().map(|q| q.text.as_str()).collect();
    let mut question_vectors: HashMap<String, Vectors> = HashMap::new();
    let t = Instant::now();
    for (spec, e) in &embedders {
        let (v, stats) = embed_texts(
            "questions",
            &spec.name,
            e,
            cache.as_ref(),
            &question_texts,
            rep,
            &mut manifest.embeddings,
        )?;
        add_stats(manifest, stats);
        question_vectors.insert(grid_model_name(grid, spec), v);
    }
    stage("embed questions", t, manifest);

    let mut records = Vec::with_capacity(grid.points.len());
    for chunk_spec in grid.chunk_specs() {
        // Points stored by an interrupted run are kept; only the rest are computed.
        let (finished, points): (Vec<&GridPoint>, Vec<&GridPoint>) = grid
            .points
            .iter()
            .filter(|p| p.chunk == chunk_spec)
            .partition(|p| done.contains_key(&p.config_id()));
        manifest.resumed_points += finished.len();
        records.extend(finished.iter().map(|p| done[&p.config_id()].clone()));
        if points.is_empty() {
            continue;
        }
        let label = chunk_spec.to_string();
        let t = Instant::now();
        let (set, counts) = chunk_with_counts(&corpus, &chunk_spec, &tokenizer, rep)?;
        stage(&format!("chunk {label}"), t, manifest);
        if set.is_empty() {
            return Err(SweepError::Run {
                path: grid.corpus.path.clone(),
                message: format!("chunking {label} produced no chunks (are all documents empty?)"),
            });
        }
        let texts: Vec<std::borrow::Cow<str>> =
            (0..set.len()).map(|i| set.index_text(&corpus, i)).collect();

        let mut bm25_run = None;
        let mut bm25_costs = Costs::default();
        if points.iter().any(|p| p.retriever.uses_bm25()) {
            let t = Instant::now();
            let index = Bm25Index::build_in_ram(
                texts.iter().map(|t| std::borrow::Cow::Borrowed(t.as_ref())),
            )?;
            bm25_costs = Costs {
                index_seconds: t.elapsed().as_secs_f64(),
                index_bytes: index.size_bytes(),
            };
            rep.stage(&format!("bm25 {label}"), nq as u64);
            bm25_run = Some(run_questions(nq, rep, |qi| {
                Ok(index.search(&corpus.questions[qi].text, depth)?)
            })?);
            rep.done();
            stage(&format!("bm25 {label}"), t, manifest);
        }

        // Vector runs keyed by (model, index, ef).
        let mut vector_runs: HashMap<(String, IndexKind, Option<usize>), (RetrieverRun, Costs)> =
            HashMap::new();
        for (spec, embedder) in &embedders {
            let model = grid_model_name(grid, spec);
            let mine: Vec<&&GridPoint> = points
                .iter()
                .filter(|p| p.model.as_deref() == Some(model.as_str()))
                .collect();
            if mine.is_empty() {
                continue;
            }
            let t = Instant::now();
            let text_refs: Vec<&str> = texts.iter().map(|t| t.as_ref()).collect();
            let (vectors, stats) = embed_texts(
                &label,
                &spec.name,
                embedder,
                cache.as_ref(),
                &text_refs,
                rep,
                &mut manifest.embeddings,
            )?;
            add_stats(manifest, stats);
            stage(&format!("embed {label} {model}"), t, manifest);
            let qv = &question_vectors[&model];
            let t = Instant::now();
            rep.stage(&format!("exact {label} {model}"), nq as u64);
            let exact = run_questions(nq, rep, |qi| {
                Ok(exact_search_one(&vectors, qv.row(qi), depth)?)
            })?;
            rep.done();
            stage(&format!("exact {label} {model}"), t, manifest);
            let mut efs: Vec<(usize, usize, usize)> = mine
                .iter()
                .filter(|p| p.index == Some(IndexKind::Hnsw))
                .filter_map(|p| Some((p.hnsw_m?, p.hnsw_ef_construction?, p.hnsw_ef_search?)))
                .collect();
            efs.sort_unstable();
            efs.dedup();
            if let Some(&(m, efc, _)) = efs.first() {
                let t = Instant::now();
                let hnsw = HnswIndex::build(
                    &vectors,
                    HnswParams {
                        m,
                        ef_construction: efc,
                    },
                );
                let build_seconds = t.elapsed().as_secs_f64();
                // Keep the graph that is scored, so that serving answers from it exactly.
                let key = hnsw_key(&chunk_spec, &model, m, efc);
                let hdir = run.path().join("index").join("hnsw").join(&key);
                let _ = std::fs::remove_dir_all(&hdir);
                hnsw.dump(&hdir, "hnsw")?;
                let costs = Costs {
                    index_seconds: build_seconds,
                    // Vector data plus layer-0 links (2M per node, 4 bytes each): an estimate.
                    index_bytes: vectors.size_bytes() + (vectors.len() * 2 * m * 4) as u64,
                };
                for &(_, _, ef) in &efs {
                    rep.stage(&format!("hnsw ef={ef} {label} {model}"), nq as u64);
                    let r = run_questions(nq, rep, |qi| Ok(hnsw.search(qv.row(qi), depth, ef)?))?;
                    rep.done();
                    vector_runs.insert((model.clone(), IndexKind::Hnsw, Some(ef)), (r, costs));
                }
                stage(&format!("hnsw {label} {model}"), t, manifest);
            }
            let exact_costs = Costs {
                index_seconds: 0.0,
                index_bytes: vectors.size_bytes(),
            };
            vector_runs.insert(
                (model.clone(), IndexKind::Exact, None),
                (exact, exact_costs),
            );
        }

        let t = Instant::now();
        rep.stage(&format!("score {label}"), points.len() as u64);
        let chunk_tokens_mean = counts.iter().map(|&c| c as f64).sum::<f64>() / counts.len() as f64;
        let scored: Vec<PointRecord> = points
            .par_iter()
            .map(|p| {
                let ctx = ScoreCtx {
                    corpus: &corpus,
                    set: &set,
                    counts: &counts,
                    ks: &grid.top_k,
                    chunk_tokens_mean,
                };
                let vector = p.model.as_ref().map(|m| {
                    let key = (
                        m.clone(),
                        p.index.unwrap_or(IndexKind::Exact),
                        p.hnsw_ef_search,
                    );
                    let exact = &vector_runs[&(m.clone(), IndexKind::Exact, None)].0;
                    (&vector_runs[&key], exact)
                });
                let fused_store;
                let (record, scored_rankings) = match (p.retriever, &bm25_run, vector) {
                    (RetrieverKind::Bm25, Some(b), _) => (
                        ctx.score(p, &b.rankings, b.ms.clone(), None, bm25_costs),
                        &b.rankings,
                    ),
                    (RetrieverKind::Vector, _, Some(((v, costs), exact))) => {
                        let recall = (p.index == Some(IndexKind::Hnsw))
                            .then_some((&exact.rankings, &v.rankings));
                        (
                            ctx.score(p, &v.rankings, v.ms.clone(), recall, *costs),
                            &v.rankings,
                        )
                    }
                    (RetrieverKind::Hybrid, Some(b), Some(((v, costs), exact))) => {
                        let fusion = fusion_of(p).expect("hybrid points carry a fusion");
                        let mut ms = Vec::with_capacity(nq);
                        let fused: Vec<Ranking> = (0..nq)
                            .map(|qi| {
                                let t = Instant::now();
                                let r =
                                    fuse_ranking(&b.rankings[qi], &v.rankings[qi], fusion, depth);
                                ms.push(b.ms[qi] + v.ms[qi] + t.elapsed().as_secs_f64() * 1e3);
                                r
                            })
                            .collect();
                        let recall = (p.index == Some(IndexKind::Hnsw))
                            .then_some((&exact.rankings, &v.rankings));
                        let c = Costs {
                            index_seconds: bm25_costs.index_seconds + costs.index_seconds,
                            index_bytes: bm25_costs.index_bytes + costs.index_bytes,
                        };
                        let record = ctx.score(p, &fused, ms, recall, c);
                        fused_store = fused;
                        (record, &fused_store)
                    }
                    _ => unreachable!("every retriever's inputs were prepared above"),
                };
                run.write_rankings(&ctx.rankings_record(
                    &record.config_id,
                    depth,
                    scored_rankings,
                ))?;
                run.write_point(&record)?;
                rep.inc(1);
                Ok(record)
            })
            .collect::<Result<_>>()?;
        rep.done();
        records.extend(scored);
        stage(&format!("score {label}"), t, manifest);
        run.write_manifest(manifest)?;
    }
    Ok(records)
}

/// The model name as the grid spells it (points refer to models by that name).
fn grid_model_name(grid: &Grid, spec: &ModelSpec) -> String {
    grid.models()
        .into_iter()
        .find(|m| {
            let p = std::path::Path::new(m);
            m == &spec.name || p == spec.dir || spec.dir.ends_with(p)
        })
        .unwrap_or_else(|| spec.name.clone())
}

fn add_stats(m: &mut Manifest, s: CacheStats) {
    m.cache_hits += s.hits;
    m.cache_misses += s.misses;
    m.truncated += s.truncated;
}

struct ScoreCtx<'a> {
    corpus: &'a Corpus,
    set: &'a ChunkSet,
    counts: &'a [u32],
    ks: &'a [usize],
    chunk_tokens_mean: f64,
}

fn mean(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let (mut sum, mut n) = (0.0, 0usize);
    for v in values.flatten() {
        sum += v;
        n += 1;
    }
    (n > 0).then(|| sum / n as f64)
}

impl ScoreCtx<'_> {
    /// The rankings that were scored, for export.
    fn rankings_record(
        &self,
        config_id: &str,
        depth: usize,
        rankings: &[Ranking],
    ) -> RankingsRecord {
        let mut table: HashMap<DocId, u32> = HashMap::new();
        let mut doc_ids = Vec::new();
        let questions = self
            .corpus
            .questions
            .iter()
            .zip(rankings)
            .map(|(q, r)| {
                let docs = r
                    .hits
                    .iter()
                    .map(|h| {
                        let d = self.set.chunks[h.chunk as usize].doc;
                        *table.entry(d).or_insert_with(|| {
                            doc_ids.push(self.corpus.docs[d as usize].id.clone());
                            doc_ids.len() as u32 - 1
                        })
                    })
                    .collect();
                QuestionRanking {
                    id: q.id.clone(),
                    chunks: r.chunks().collect(),
                    docs,
                    scores: r.hits.iter().map(|h| h.score).collect(),
                }
            })
            .collect();
        RankingsRecord {
            config_id: config_id.to_string(),
            depth,
            doc_ids,
            questions,
        }
    }

    /// Score one point from its rankings (one per question, at full depth).
    fn score(
        &self,
        p: &GridPoint,
        rankings: &[Ranking],
        ms: Vec<f64>,
        hnsw_vs_exact: Option<(&Vec<Ranking>, &Vec<Ranking>)>,
        costs: Costs,
    ) -> PointRecord {
        let config_id = p.config_id();
        let mut questions = Vec::with_capacity(rankings.len() * self.ks.len());
        for (q, r) in self.corpus.questions.iter().zip(rankings) {
            let chunks: Vec<Chunk> = r
                .hits
                .iter()
                .map(|h| self.set.chunks[h.chunk as usize])
                .collect();
            let docs: Vec<DocId> = chunks.iter().map(|c| c.doc).collect();
            let first_relevant_rank = chunks
                .iter()
                .position(|c| chunk_is_relevant(q, c))
                .map(|i| i as u32 + 1);
            for &k in self.ks {
                let cut = &chunks[..chunks.len().min(k)];
                let dm = doc_metrics(&docs, k, &q.relevant_docs);
                let sm = span_metrics(cut, &q.spans);
                let context_tokens = r
                    .hits
                    .iter()
                    .take(k)
                    .map(|h| self.counts[h.chunk as usize])
                    .sum();
                questions.push(QuestionRow {
                    config_id: config_id.clone(),
                    top_k: k as u32,
                    question_id: q.id.clone(),
                    recall: dm.map(|m| m.recall),
                    precision: dm.map(|m| m.precision),
                    mrr: dm.map(|m| m.mrr),
                    ndcg: dm.map(|m| m.ndcg),
                    hit_rate: dm.map(|m| m.hit_rate),
                    span_recall: sm.map(|m| m.recall),
                    span_precision: sm.map(|m| m.precision),
                    span_iou: sm.map(|m| m.iou),
                    context_tokens,
                    first_relevant_rank,
                });
            }
        }
        let p50 = percentile(&ms, 50.0).unwrap_or(0.0);
        let p95 = percentile(&ms, 95.0).unwrap_or(0.0);
        let rows = self
            .ks
            .iter()
            .map(|&k| {
                let at_k = || questions.iter().filter(move |r| r.top_k == k as u32);
                let hnsw_recall_vs_exact = hnsw_vs_exact.map(|(exact, approx)| {
                    exact
                        .iter()
                        .zip(approx)
                        .map(|(e, a)| recall_vs_exact(e, a, k))
                        .sum::<f64>()
                        / exact.len().max(1) as f64
                });
                ResultRow {
                    config_id: config_id.clone(),
                    chunker: p.chunk.kind.name().to_string(),
                    chunk_size: p.chunk.kind.is_sized().then_some(p.chunk.size as u32),
                    chunk_overlap: p.chunk.kind.is_sized().then_some(p.chunk.overlap as u32),
                    retriever: p.retriever.name().to_string(),
                    model: p.model.clone(),
                    index: p.index.map(|i| i.name().to_string()),
                    hnsw_ef_search: p.hnsw_ef_search.map(|e| e as u32),
                    fusion: p.fusion.map(|f| f.name().to_string()),
                    alpha: p.alpha,
                    rrf_k: p.rrf_k,
                    normalization: p.normalization.map(|n| format!("{n:?}").to_lowercase()),
                    top_k: k as u32,
                    n_questions: rankings.len() as u32,
                    recall: mean(at_k().map(|r| r.recall)),
                    precision: mean(at_k().map(|r| r.precision)),
                    mrr: mean(at_k().map(|r| r.mrr)),
                    ndcg: mean(at_k().map(|r| r.ndcg)),
                    hit_rate: mean(at_k().map(|r| r.hit_rate)),
                    span_recall: mean(at_k().map(|r| r.span_recall)),
                    span_precision: mean(at_k().map(|r| r.span_precision)),
                    span_iou: mean(at_k().map(|r| r.span_iou)),
                    context_tokens: mean(at_k().map(|r| Some(r.context_tokens as f64)))
                        .unwrap_or(0.0),
                    hnsw_recall_vs_exact,
                    n_chunks: self.set.len() as u64,
                    mean_chunk_tokens: self.chunk_tokens_mean,
                    index_seconds: costs.index_seconds,
                    index_bytes: costs.index_bytes,
                    query_ms_p50: p50,
                    query_ms_p95: p95,
                }
            })
            .collect();
        PointRecord {
            config_id,
            label: p.label(),
            point: p.clone(),
            rows,
            questions,
        }
    }
}
