//! The pool: every setup's top chunks for each question of a run.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use ragtune_core::{CharToByte, Chunk, ChunkSet, Corpus};
use ragtune_grid::Grid;
use ragtune_sweep::{Executor, Models, OnnxModels, RunDir, Silent, SweepOptions, prepare_recorded};

use crate::book::Region;
use crate::error::{JudgeError, Result};

/// How many of each setup's chunks are pooled unless asked otherwise.
pub const DEFAULT_DEPTH: usize = 10;

/// One question's pooled chunks.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolQuestion {
    /// Index into the corpus's questions.
    pub question: usize,
    /// The chunks, as byte ranges of their documents, sorted by document and place, each
    /// once (two setups that cut the same range share it).
    pub chunks: Vec<Chunk>,
    /// The same chunks as regions: document id and code points, as judgements name them.
    pub regions: Vec<Region>,
}

/// A run's pool.
#[derive(Debug, Clone)]
pub struct Pool {
    /// The run's corpus, verified against its fingerprint.
    pub corpus: Corpus,
    /// Chunks pooled per setup and question.
    pub depth: usize,
    /// How many setups' rankings were pooled.
    pub setups: usize,
    /// One entry per question of the corpus, in its order.
    pub questions: Vec<PoolQuestion>,
}

impl Pool {
    /// Pool the top `depth` chunks of every setup of the finished run in `run_dir`.
    pub fn open(run_dir: &Path, opts: &SweepOptions, depth: usize) -> Result<Pool> {
        Self::open_with(run_dir, opts, depth, &OnnxModels::new(opts.embed_options()))
    }

    /// [`Pool::open`] with models from `models` (tests use fakes); nothing is embedded.
    pub fn open_with(
        run_dir: &Path,
        opts: &SweepOptions,
        depth: usize,
        models: &dyn Models,
    ) -> Result<Pool> {
        if depth == 0 {
            return Err(JudgeError::Invalid(
                "--depth must be at least 1 (chunks pooled per setup and question)".into(),
            ));
        }
        let run = RunDir::open(run_dir)?;
        let manifest = run.finished()?;
        let records = run.read_points()?;
        let mut grid = Grid::parse_recorded(&manifest.grid_path, manifest.grid_text.clone())
            .map_err(ragtune_sweep::SweepError::from)?;
        grid.points = records.iter().map(|r| r.point.clone()).collect();
        // The labels as the questions file has them: the judgements the page is changing
        // are read by the Book, not merged into the pool's corpus.
        grid.corpus = ragtune_corpus::CorpusSpec {
            judgements: None,
            ..manifest.corpus.clone()
        };
        let (prep, store) = prepare_recorded(&run, &manifest, &grid, opts, models)?;
        manifest.check_documents(&prep.corpus)?;
        let ex = Executor::new(&grid, &prep, store.as_ref(), models, &Silent);
        let index: HashMap<&str, usize> = (prep.corpus.questions.iter().enumerate())
            .map(|(i, q)| (q.id.as_str(), i))
            .collect();
        let mut pooled: Vec<BTreeSet<Chunk>> = vec![BTreeSet::new(); index.len()];
        let mut sets: Vec<Option<ChunkSet>> = (0..prep.plan.nodes.len()).map(|_| None).collect();
        let mut stored_depth = usize::MAX;
        for nodes in &prep.plan.setups {
            let rankings = run.read_rankings(&nodes.config_id)?;
            stored_depth = stored_depth.min(rankings.depth);
            if sets[nodes.chunks].is_none() {
                sets[nodes.chunks] = Some(ex.chunk_set(nodes.chunks)?.0);
            }
            let set = sets[nodes.chunks].as_ref().expect("loaded above");
            for ranking in &rankings.questions {
                let Some(&q) = index.get(ranking.id.as_str()) else {
                    continue;
                };
                let top = ranking.chunks.iter().take(depth);
                // With neighbours, a hit hands over its passage: that is what is judged.
                let e = nodes.setup.expand;
                pooled[q].extend(top.map(|&c| set.expanded(c as usize, e)));
            }
        }
        drop(ex);
        let questions = regions(&prep.corpus, pooled);
        Ok(Pool {
            setups: prep.plan.setups.len(),
            corpus: prep.corpus,
            depth: depth.min(stored_depth),
            questions,
        })
    }
}

/// Each question's pooled chunks with their regions in code points.
fn regions(corpus: &Corpus, pooled: Vec<BTreeSet<Chunk>>) -> Vec<PoolQuestion> {
    let mut maps: HashMap<u32, CharToByte> = HashMap::new();
    let mut region = |c: &Chunk| {
        let doc = &corpus.docs[c.doc as usize];
        let map = maps
            .entry(c.doc)
            .or_insert_with(|| CharToByte::new(&doc.text));
        Region {
            doc_id: doc.id.clone(),
            start: map.char_offset(c.start),
            end: map.char_offset(c.end),
        }
    };
    pooled
        .into_iter()
        .enumerate()
        .map(|(question, chunks)| {
            let chunks: Vec<Chunk> = chunks.into_iter().collect();
            PoolQuestion {
                question,
                regions: chunks.iter().map(&mut region).collect(),
                chunks,
            }
        })
        .collect()
}

impl Pool {
    /// The index of question `id` in the corpus.
    pub fn question_index(&self, id: &str) -> Option<usize> {
        self.corpus.questions.iter().position(|q| q.id == id)
    }

    /// How many chunks were pooled in all.
    pub fn pooled(&self) -> usize {
        self.questions.iter().map(|q| q.chunks.len()).sum()
    }
}
