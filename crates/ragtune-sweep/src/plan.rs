//! The plan: a grid as a graph of content-addressed stage nodes.
//!
//! | node | one per | key made of |
//! |---|---|---|
//! | chunks | chunk spec | documents' fingerprint, spec, counting tokenizer, chunk tokenizer if another |
//! | bm25 | chunk set | chunks key |
//! | vectors | (chunk set, model) | chunks key, model namespace |
//! | hnsw | (vectors, M, ef_construction) | vectors key, M, ef_construction |
//! | rankings | (component, question set, depth) | component key (bm25, vectors, or hnsw + ef_search), questions' fingerprint, depth |
//! | fusion | (bm25 rankings, vector rankings, fusion) | both rankings keys, fusion, depth |
//! | rerank | (first-stage ranking, reranker, rerank_depth) | that ranking's key, the reranker's kind and model namespace, rerank_depth |
//! | scores | (final ranking, k) | that ranking's key, k, labels' fingerprint |
//!
//! Every key also holds its stage's name and code version ([`STAGE_VERSIONS`]), so a
//! change to one stage's code invalidates that stage and, through the chained keys,
//! everything downstream of it. Setups that need the same node share it: BM25 carries no
//! model, and one HNSW graph serves every `ef_search`.
//!
//! Fusion and scores are not stored: computing them from stored rankings is cheaper than
//! reading them back.

use std::collections::{BTreeMap, HashMap, HashSet};

use ragtune_core::{
    ChunkSpec, ContentHasher, Embedding, HnswShape, Retriever, Setup, VectorFormat, VectorSpec,
};
use serde::Serialize;

use ragtune_grid::Grid;
use ragtune_store::{Stage, StageStore};

/// Code version of each stage; bump one when its output could change.
pub const STAGE_VERSIONS: [(NodeKind, &str); 8] = [
    (NodeKind::Chunks, "1"),
    (NodeKind::Bm25, "1"),
    (NodeKind::Vectors, "1"),
    // 2: serial insertion by default, the build mode in the key, the lane-summed dot.
    (NodeKind::Hnsw, "2"),
    // 2: latency on a fixed sample, one query at a time with its embedding; computed
    // index bytes and disk bytes. 3: vector and graph bytes apart. 4: graph bytes of the
    // flat layout loaded graphs are searched in (4 bytes a link, not hnsw_rs' 40).
    (NodeKind::Rankings, "4"),
    (NodeKind::Fusion, "1"),
    (NodeKind::Rerank, "1"),
    (NodeKind::Scores, "1"),
];

/// What a node computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    /// Chunk a corpus.
    Chunks,
    /// Build a BM25 index.
    Bm25,
    /// Embed a chunk set.
    Vectors,
    /// Build an HNSW graph.
    Hnsw,
    /// Rank every question with one component.
    Rankings,
    /// Fuse two rankings.
    Fusion,
    /// Rescore a ranking's top chunks with a second model.
    Rerank,
    /// Score a ranking at one k.
    Scores,
}

impl NodeKind {
    /// Every kind, in execution order.
    pub const ALL: [NodeKind; 8] = [
        NodeKind::Chunks,
        NodeKind::Bm25,
        NodeKind::Vectors,
        NodeKind::Hnsw,
        NodeKind::Rankings,
        NodeKind::Fusion,
        NodeKind::Rerank,
        NodeKind::Scores,
    ];
    /// Name.
    pub fn name(self) -> &'static str {
        match self {
            NodeKind::Chunks => "chunks",
            NodeKind::Bm25 => "bm25",
            NodeKind::Vectors => "vectors",
            NodeKind::Hnsw => "hnsw",
            NodeKind::Rankings => "rankings",
            NodeKind::Fusion => "fusion",
            NodeKind::Rerank => "rerank",
            NodeKind::Scores => "scores",
        }
    }
    /// Where the store keeps it (`None`: recomputed every time).
    pub fn stage(self) -> Option<Stage> {
        match self {
            NodeKind::Chunks => Some(Stage::Chunks),
            NodeKind::Bm25 => Some(Stage::Bm25),
            NodeKind::Vectors => Some(Stage::Vectors),
            NodeKind::Hnsw => Some(Stage::Hnsw),
            NodeKind::Rankings | NodeKind::Rerank => Some(Stage::Rankings),
            NodeKind::Fusion | NodeKind::Scores => None,
        }
    }
    fn version(self) -> &'static str {
        STAGE_VERSIONS
            .iter()
            .find(|(k, _)| *k == self)
            .map_or("0", |(_, v)| v)
    }
}

/// What the keys are made from besides the grid: fingerprints of the inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanInputs {
    /// Hash of every document (id, title, text).
    pub docs: String,
    /// Hash of the question texts, in order.
    pub questions: String,
    /// Hash of the documents and every label.
    pub corpus: String,
    /// sha256 of the tokenizer that counts context tokens (and sizes token chunks unless
    /// `chunk_sizer` is set).
    pub tokenizer: String,
    /// What token chunkers count in, when it is not `tokenizer`: an encoding's name or a
    /// tokenizer file's sha256.
    pub chunk_sizer: Option<String>,
    /// Each model's cache namespace, by the name the grid uses.
    pub models: BTreeMap<String, String>,
    /// A halving rung's screen key: chunk sets are the whole corpus's, and everything
    /// built from the chunks a screen keeps (BM25, vectors, and so rankings) is keyed
    /// apart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub screen: Option<String>,
}

impl PlanInputs {
    /// The screen's key bytes, empty without a screen (so keys without one are unchanged).
    fn screened<'a>(&'a self, parts: &mut Vec<&'a [u8]>) {
        if let Some(s) = &self.screen {
            parts.push(s.as_bytes());
        }
    }
}

/// One node of the plan.
#[derive(Debug, Clone, Serialize)]
pub struct Node {
    /// What it computes.
    pub kind: NodeKind,
    /// Its content key.
    pub key: String,
    /// A human label.
    pub label: String,
    /// Whether the store held it when the plan was checked.
    pub stored: bool,
}

/// The nodes one setup needs (indexes into [`Plan::nodes`]).
#[derive(Debug, Clone, Serialize)]
pub struct SetupNodes {
    /// The setup.
    pub setup: Setup,
    /// Its id.
    pub config_id: String,
    /// Chunk set.
    pub chunks: usize,
    /// BM25 index and its rankings.
    pub bm25: Option<(usize, usize)>,
    /// Vectors, the HNSW graph if any, and the vector rankings.
    pub vector: Option<VectorNodes>,
    /// Exact rankings over the same vectors, for an HNSW setup's recall against exact.
    pub exact_rankings: Option<usize>,
    /// The fusion, for hybrids.
    pub fusion: Option<usize>,
    /// The reranked ranking, for setups with a second stage.
    pub rerank: Option<usize>,
    /// One scores node per k.
    pub scores: Vec<usize>,
}

impl SetupNodes {
    /// Every node the setup needs past its chunk set.
    pub fn nodes_past_chunks(&self) -> Vec<usize> {
        let mut out: Vec<usize> = self.bm25.map(|(i, r)| vec![i, r]).unwrap_or_default();
        if let Some(v) = self.vector {
            out.extend(
                [Some(v.vectors), v.hnsw, Some(v.rankings)]
                    .into_iter()
                    .flatten(),
            );
        }
        out.extend(
            self.exact_rankings
                .into_iter()
                .chain(self.fusion)
                .chain(self.rerank),
        );
        out.extend(&self.scores);
        out
    }
}

/// The vector side of a setup.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct VectorNodes {
    /// Embeddings of the chunk set.
    pub vectors: usize,
    /// The HNSW graph, if the index is HNSW.
    pub hnsw: Option<usize>,
    /// The rankings.
    pub rankings: usize,
}

/// A grid as a graph of stage nodes.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// Distinct nodes.
    pub nodes: Vec<Node>,
    /// Per setup, in grid order.
    pub setups: Vec<SetupNodes>,
    /// What the keys were made from.
    pub inputs: PlanInputs,
}

fn key(kind: NodeKind, parts: &[&[u8]]) -> String {
    let mut h = ContentHasher::new();
    h.field(kind.name()).field(kind.version());
    for p in parts {
        h.field(p);
    }
    h.finish_hex()[..32].to_string()
}

struct Builder {
    nodes: Vec<Node>,
    by_key: HashMap<String, usize>,
    hnsw_build: ragtune_vector::HnswBuild,
}

impl Builder {
    fn node(&mut self, kind: NodeKind, parts: &[&[u8]], label: String) -> usize {
        let k = key(kind, parts);
        *self.by_key.entry(k.clone()).or_insert_with(|| {
            self.nodes.push(Node {
                kind,
                key: k,
                label,
                stored: false,
            });
            self.nodes.len() - 1
        })
    }

    fn key_of(&self, i: usize) -> &[u8] {
        self.nodes[i].key.as_bytes()
    }

    fn rankings(
        &mut self,
        component: &[u8],
        label: String,
        inputs: &PlanInputs,
        depth: usize,
    ) -> usize {
        let parts: [&[u8]; 3] = [component, inputs.questions.as_bytes(), &depth.to_le_bytes()];
        self.node(NodeKind::Rankings, &parts, label)
    }

    fn setup(&mut self, setup: &Setup, grid: &Grid, inputs: &PlanInputs) -> SetupNodes {
        let depth = grid.depth;
        let b = self;
        let chunks = b.chunks(&setup.chunk, inputs);
        let spec = setup.chunk.to_string();
        let bm25 = setup.retriever.uses_bm25().then(|| {
            let ck = b.key_of(chunks).to_vec();
            let mut parts: Vec<&[u8]> = vec![&ck];
            inputs.screened(&mut parts);
            let index = b.node(NodeKind::Bm25, &parts, format!("bm25 {spec}"));
            let ik = b.key_of(index).to_vec();
            let r = b.rankings(&ik, format!("bm25 {spec}"), inputs, depth);
            (index, r)
        });
        let mut exact_rankings = None;
        let vector = setup
            .retriever
            .vector()
            .map(|v| b.vector(v, chunks, &spec, inputs, depth, &mut exact_rankings));
        let fusion = match (&setup.retriever, bm25, vector) {
            (Retriever::Hybrid { fusion, depth, .. }, Some((_, br)), Some(v)) => {
                let f = serde_json::to_vec(fusion).expect("fusions serialise");
                let (bk, vk) = (b.key_of(br).to_vec(), b.key_of(v.rankings).to_vec());
                Some(b.node(
                    NodeKind::Fusion,
                    &[&bk, &vk, &f, &depth.to_le_bytes()],
                    setup.label(),
                ))
            }
            _ => None,
        };
        let first = fusion
            .or(vector.map(|v| v.rankings))
            .or(bm25.map(|(_, r)| r))
            .expect("every setup ranks");
        let rerank = setup.rerank.as_ref().map(|r| {
            let fk = b.key_of(first).to_vec();
            let ns = inputs.models.get(r.by.model()).cloned().unwrap_or_default();
            let by = format!("{}:{ns}", r.by.spelling().split(':').next().unwrap_or(""));
            let parts: [&[u8]; 3] = [&fk, by.as_bytes(), &r.depth.to_le_bytes()];
            b.node(NodeKind::Rerank, &parts, setup.label())
        });
        let last = rerank.unwrap_or(first);
        let lk = b.key_of(last).to_vec();
        // Neighbours change what is scored, not what is ranked; none keeps the old keys.
        let expand = (setup.expand > 0).then(|| format!("expand/{}", setup.expand));
        let scores = grid
            .top_k
            .iter()
            .map(|k| {
                let kb = k.to_le_bytes();
                let mut parts: Vec<&[u8]> = vec![&lk, &kb, inputs.corpus.as_bytes()];
                parts.extend(expand.as_ref().map(|e| e.as_bytes()));
                b.node(NodeKind::Scores, &parts, format!("{} @{k}", setup.label()))
            })
            .collect();
        SetupNodes {
            setup: setup.clone(),
            config_id: setup.config_id(),
            chunks,
            bm25,
            vector,
            exact_rankings,
            fusion,
            rerank,
            scores,
        }
    }

    /// The vector side of a setup: vectors, the exact rankings over them, and for HNSW
    /// the graph and its rankings (`exact` is set to the exact rankings, for recall).
    fn vector(
        &mut self,
        v: &VectorSpec,
        chunks: usize,
        spec: &str,
        inputs: &PlanInputs,
        depth: usize,
        exact_rankings: &mut Option<usize>,
    ) -> VectorNodes {
        let b = self;
        let ns = inputs.models.get(&v.model).cloned().unwrap_or_default();
        let ck = b.key_of(chunks).to_vec();
        let mut parts: Vec<&[u8]> = vec![&ck, ns.as_bytes()];
        // Late vectors are other vectors; standalone keys are what they always were.
        let late = match v.embedding {
            Embedding::Late { window, overlap } => Some(format!("late/{window}/{overlap}")),
            Embedding::Standalone => None,
        };
        if let Some(l) = &late {
            parts.push(l.as_bytes());
        }
        inputs.screened(&mut parts);
        let label = format!(
            "{spec} {}{}",
            v.model,
            if late.is_some() { " late" } else { "" }
        );
        let vectors = b.node(NodeKind::Vectors, &parts, label);
        let vk = b.key_of(vectors).to_vec();
        let exact = b.rankings(&vk, format!("exact {spec} {}", v.model), inputs, depth);
        // What quantised vectors and rescoring add to a key; nothing for float32, so the
        // keys of float32 setups are what they were before quantised vectors existed.
        let quant: Vec<u8> = match v.format {
            VectorFormat::F32 => Vec::new(),
            f => format!("{}/{}", f.name(), v.rescore).into_bytes(),
        };
        let suffix = match v.format {
            VectorFormat::F32 => String::new(),
            f if v.rescore > 0 => format!(" {} rescore×{}", f.name(), v.rescore),
            f => format!(" {}", f.name()),
        };
        match v.index.hnsw() {
            None if quant.is_empty() => VectorNodes {
                vectors,
                hnsw: None,
                rankings: exact,
            },
            None => {
                *exact_rankings = Some(exact);
                let component = [vk.as_slice(), &quant].concat();
                let label = format!("exact {spec} {}{suffix}", v.model);
                VectorNodes {
                    vectors,
                    hnsw: None,
                    rankings: b.rankings(&component, label, inputs, depth),
                }
            }
            Some(shape) => {
                *exact_rankings = Some(exact);
                let (hnsw, rankings) = b.graph(
                    (v, shape, vectors),
                    spec,
                    (inputs, depth),
                    (&quant, &suffix),
                );
                VectorNodes {
                    vectors,
                    hnsw: Some(hnsw),
                    rankings,
                }
            }
        }
    }

    /// An HNSW setup's graph (in its vectors' format) and its rankings at `ef_search`
    /// (with `quant`, the format and rescoring, in their key).
    fn graph(
        &mut self,
        (v, shape, vectors): (&VectorSpec, HnswShape, usize),
        spec: &str,
        (inputs, depth): (&PlanInputs, usize),
        (quant, suffix): (&[u8], &str),
    ) -> (usize, usize) {
        let b = self;
        let vk = b.key_of(vectors).to_vec();
        let HnswShape {
            m,
            ef_construction,
            ef_search,
        } = shape;
        let build = b.hnsw_build.name();
        let (mb, eb) = (m.to_le_bytes(), ef_construction.to_le_bytes());
        let mut parts: Vec<&[u8]> = vec![&vk, &mb, &eb, build.as_bytes()];
        if v.format != VectorFormat::F32 {
            parts.push(v.format.name().as_bytes());
        }
        let held = match v.format {
            VectorFormat::F32 => String::new(),
            f => format!(" {}", f.name()),
        };
        let label = format!(
            "hnsw(m={m},efc={ef_construction},{build}) {spec} {}{held}",
            v.model
        );
        let hnsw = b.node(NodeKind::Hnsw, &parts, label);
        let hk = b.key_of(hnsw).to_vec();
        let component: Vec<u8> = [hk.as_slice(), &ef_search.to_le_bytes(), quant].concat();
        let label = format!("hnsw(ef={ef_search}) {spec} {}{suffix}", v.model);
        (hnsw, b.rankings(&component, label, inputs, depth))
    }

    fn chunks(&mut self, chunk: &ChunkSpec, inputs: &PlanInputs) -> usize {
        let spec = chunk.to_string();
        let mut parts: Vec<&[u8]> = vec![
            inputs.docs.as_bytes(),
            spec.as_bytes(),
            inputs.tokenizer.as_bytes(),
        ];
        if let Some(sizer) = &inputs.chunk_sizer {
            parts.push(sizer.as_bytes());
        }
        self.node(NodeKind::Chunks, &parts, spec.clone())
    }
}

impl Plan {
    /// The plan of `grid` over inputs with these fingerprints.
    pub fn build(grid: &Grid, inputs: PlanInputs) -> Plan {
        let mut b = Builder {
            nodes: Vec::new(),
            by_key: HashMap::new(),
            hnsw_build: grid.hnsw_build(),
        };
        let setups = grid
            .points
            .iter()
            .map(|setup| b.setup(setup, grid, &inputs))
            .collect();
        Plan {
            nodes: b.nodes,
            setups,
            inputs,
        }
    }

    /// Mark the nodes the store holds (by presence; contents are checked when read).
    pub fn check_store(&mut self, store: &StageStore) {
        for n in &mut self.nodes {
            n.stored = n.kind.stage().is_some_and(|s| store.contains(s, &n.key));
        }
    }

    /// Chunk specs whose stored chunk sets are identical (same byte ranges), grouped:
    /// a sweep lists their setups once. Chunk sets not stored yet are not known.
    pub fn identical_chunk_sets(
        &self,
        store: &StageStore,
        corpus: &ragtune_core::Corpus,
    ) -> Vec<Vec<String>> {
        let lens: Vec<usize> = corpus.docs.iter().map(|d| d.text.len()).collect();
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for n in self.nodes.iter().filter(|n| n.kind == NodeKind::Chunks) {
            let Some((set, _)) = store
                .get(Stage::Chunks, &n.key)
                .and_then(|b| ragtune_store::codec::decode_chunks(&b, &lens))
            else {
                continue;
            };
            let fp = ragtune_store::codec::fingerprint(&set);
            match groups.iter_mut().find(|(f, _)| *f == fp) {
                Some((_, labels)) => labels.push(n.label.clone()),
                None => groups.push((fp, vec![n.label.clone()])),
            }
        }
        groups
            .into_iter()
            .map(|(_, labels)| labels)
            .filter(|l| l.len() > 1)
            .collect()
    }

    /// The nodes a sweep never runs because only setups on a chunk set identical to an
    /// earlier one need them (`identical` as [`Self::identical_chunk_sets`] groups them,
    /// the kept chunk set first): those setups are scored once, under the earlier chunk
    /// set. Chunk nodes are never among them: a chunk set is made to be found identical.
    pub fn collapsed_nodes(&self, identical: &[Vec<String>]) -> HashSet<usize> {
        let later: HashSet<&str> = identical
            .iter()
            .flat_map(|g| g.iter().skip(1))
            .map(String::as_str)
            .collect();
        let (mut collapsed, mut needed) = (HashSet::new(), HashSet::new());
        for s in &self.setups {
            if later.contains(self.nodes[s.chunks].label.as_str()) {
                collapsed.extend(s.nodes_past_chunks());
            } else {
                needed.extend(s.nodes_past_chunks());
            }
        }
        collapsed.difference(&needed).copied().collect()
    }

    /// Distinct and stored nodes per kind.
    pub fn counts(&self) -> Vec<KindCount> {
        self.counts_collapsing(&HashSet::new())
    }

    /// [`Self::counts`], with the nodes in `collapsed` ([`Self::collapsed_nodes`]) counted
    /// apart from those still to run.
    pub fn counts_collapsing(&self, collapsed: &HashSet<usize>) -> Vec<KindCount> {
        NodeKind::ALL
            .iter()
            .map(|&kind| {
                let of: Vec<usize> = (0..self.nodes.len())
                    .filter(|&i| self.nodes[i].kind == kind)
                    .collect();
                KindCount {
                    kind,
                    nodes: of.len(),
                    stored: of.iter().filter(|&&i| self.nodes[i].stored).count(),
                    collapsed: of
                        .iter()
                        .filter(|&&i| !self.nodes[i].stored && collapsed.contains(&i))
                        .count(),
                    kept: kind.stage().is_some(),
                }
            })
            .collect()
    }
}

/// How many nodes of one kind a plan has, and how many the store holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KindCount {
    /// The kind.
    pub kind: NodeKind,
    /// Distinct nodes.
    pub nodes: usize,
    /// Of those, already stored.
    pub stored: usize,
    /// Of those not stored, the ones a sweep never runs: only setups on a chunk set
    /// identical to an earlier one need them ([`Plan::collapsed_nodes`]).
    pub collapsed: usize,
    /// Whether this kind is stored at all.
    pub kept: bool,
}
