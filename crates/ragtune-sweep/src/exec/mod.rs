//! The executor: walks a [`Plan`], reads every node the store holds, computes only the
//! rest, and writes each setup's point as soon as it is scored.
//!
//! Work is grouped by chunk set, so that one chunk set's indexes and vectors are in memory
//! at a time. Within a group, nothing is loaded that the missing nodes do not need: when
//! every ranking is stored, no model is loaded, nothing is embedded and no index is read.
//! Rayon parallelises chunking, ranking (over questions) and scoring (over setups); ONNX
//! Runtime uses the same thread count for inference, one stage at a time, so the two never
//! oversubscribe the cores.
//!
//! Three layers, a file each, over the [`Executor`] defined here (its inputs, options and
//! accounting):
//! - `nodes`: each stage node read from the store when it is there, else computed and
//!   stored;
//! - `graphs`: which HNSW graphs to build, ahead of scoring and side by side, in waves
//!   bounded by memory, and keeping them in the run folder;
//! - `walk`: chunk sets one at a time, each group's rankings, fusion and scoring.

mod graphs;
mod nodes;
mod rerank;
pub mod rows;

pub(crate) use nodes::Role;
mod walk;

pub(crate) use nodes::set_label;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use ragtune_core::{ChunkSet, ChunkSpec, Corpus, HnswShape, Setup};
use ragtune_eval::Costs;
use ragtune_lexical::Bm25Index;
use ragtune_vector::{HnswIndex, Vectors};
use tokenizers::Tokenizer;

use crate::accounting::Accounting;
use crate::budget::Budget;
use crate::error::Result;
use crate::models::{ModelInfo, Models};
use crate::plan::{NodeKind, Plan, SetupNodes};
use crate::prepare::Prepared;
use crate::record::{EmbedRecord, StageRecord};
use crate::screen::Screen;
use ragtune_chunk::{OverlapStats, Sizer};
use ragtune_grid::Grid;
use ragtune_store::{Stage, StageStore};

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

/// Per-kind node counts of one execution.
#[derive(Debug, Default)]
struct Tally {
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
    grid: &'a Grid,
    /// The loaded corpus.
    corpus: &'a Corpus,
    /// The plan.
    plan: &'a Plan,
    /// The store (`None`: compute everything, keep nothing).
    store: Option<&'a StageStore>,
    /// Embedders.
    models: &'a dyn Models,
    /// Identity of each model the grid names.
    infos: &'a BTreeMap<String, ModelInfo>,
    /// The tokenizer that counts context tokens.
    tokenizer: &'a Tokenizer,
    /// What token chunkers count in.
    sizer: &'a Sizer,
    /// Effective overlap of each chunk set, by chunk node.
    overlaps: Mutex<HashMap<usize, OverlapStats>>,
    /// Chunk sets cut in this run, by what is cut (chunker, size, overlap): chunk sets
    /// that differ only in their header are cut once.
    cut: Mutex<HashMap<ChunkSpec, (ChunkSet, Vec<u32>)>>,
    /// Warnings given, for the manifest.
    warnings: Mutex<Vec<String>>,
    /// Per kept config id, the labels of the grid setups it stands for.
    equivalents: Mutex<HashMap<String, Vec<String>>>,
    /// Progress.
    rep: &'a dyn Reporter,
    /// Embedding work, per request.
    embeds: Mutex<Vec<EmbedRecord>>,
    /// Node accounting.
    tally: Mutex<Tally>,
    question_vectors: Mutex<HashMap<String, Arc<Vectors>>>,
    /// Per model, milliseconds to embed each latency-sample question alone (measured
    /// once per execution, by the first rankings node that needs them).
    embed_ms: Mutex<HashMap<String, EmbedMs>>,
    /// The questions query latency is measured on ([`ragtune_eval::latency_sample`]).
    sample: Vec<usize>,
    /// A halving rung's screen: only the chunks it keeps are indexed and scored.
    screen: Option<&'a Screen>,
    /// When to stop (checked between chunk sets).
    budget: Option<Budget>,
    /// Whether the budget stopped this execution before every setup was scored.
    stopped: std::sync::atomic::AtomicBool,
    /// A shard's setups (config ids): only these are scored; `None` scores every setup.
    only: Option<std::collections::HashSet<String>>,
    /// Nodes [`Self::build_graphs_ahead`] computed or read, and counted.
    ahead: Mutex<std::collections::HashSet<usize>>,
    /// Rankings nodes this execution computed (not read back).
    fresh: Mutex<std::collections::HashSet<usize>>,
    /// Graphs whose run-folder copy this execution verified or wrote (each hashed once).
    kept: Mutex<std::collections::HashSet<usize>>,
}

/// One model's query-embedding milliseconds for the latency sample, once measured.
type EmbedMs = Arc<Mutex<Option<Arc<Vec<f64>>>>>;

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
            cut: Mutex::new(HashMap::new()),
            warnings: Mutex::new(prep.warnings.clone()),
            equivalents: Mutex::new(HashMap::new()),
            rep,
            embeds: Mutex::new(Vec::new()),
            tally: Mutex::new(Tally::default()),
            question_vectors: Mutex::new(HashMap::new()),
            embed_ms: Mutex::default(),
            sample: ragtune_eval::latency_sample(
                prep.corpus.questions.iter().map(|q| q.text.as_str()),
            ),
            screen: None,
            budget: None,
            stopped: std::sync::atomic::AtomicBool::new(false),
            only: None,
            ahead: Mutex::default(),
            fresh: Mutex::default(),
            kept: Mutex::default(),
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

    /// The plan it walks.
    pub fn plan(&self) -> &'a Plan {
        self.plan
    }

    /// Whether it reads and writes a stage store.
    pub fn has_store(&self) -> bool {
        self.store.is_some()
    }

    /// The corpus it reads (a halving screen's, on a screen).
    pub fn corpus(&self) -> &'a Corpus {
        self.corpus
    }

    /// Each model's identity, by grid name.
    pub fn infos(&self) -> &'a BTreeMap<String, ModelInfo> {
        self.infos
    }

    /// What it did so far: stage counts, embedding work, warnings, and whether the
    /// budget stopped it.
    pub fn accounting(&self) -> Accounting {
        Accounting {
            stages: stage_records(self.plan, &self.lock(&self.tally)),
            embeddings: self.lock(&self.embeds).clone(),
            warnings: self.lock(&self.warnings).clone(),
            stopped: self.was_stopped(),
        }
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
            Some(s) => Ok(s.put(stage, key, bytes)?),
            None => Ok(()),
        }
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
}

/// The indexes and vectors built for one chunk set, each at most once.
#[derive(Default)]
struct Built {
    bm25: HashMap<usize, (Bm25Index, Costs)>,
    vectors: HashMap<usize, Vectors>,
    hnsw: HashMap<usize, (HnswIndex, Costs)>,
    /// Quantised exact indexes by vectors node and format, with the seconds quantising
    /// took: one per format, whatever the rescoring multipliers.
    quantised: HashMap<(usize, ragtune_core::VectorFormat), (rows::QuantisedIndex, f64)>,
}

/// The graph shape of an HNSW setup: the plan links graph nodes to HNSW setups only.
fn hnsw_shape(setup: &Setup) -> HnswShape {
    setup
        .retriever
        .hnsw()
        .expect("the plan links graph nodes to HNSW setups only")
}

/// Per-kind node counts of an execution, for the manifest.
fn stage_records(plan: &Plan, tally: &Tally) -> Vec<StageRecord> {
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
