//! Vector search over L2-normalised embeddings: exact (flat) search as the yardstick, and
//! HNSW from hnsw_rs.
//!
//! Scores are cosine similarities (dot products of unit vectors). HNSW returns distance
//! `1 − cos`, clamped at 0; the score reported is `1 − distance`.
#![deny(missing_docs)]

use std::path::Path;

use hnsw_rs::prelude::*;
use ndarray::{ArrayView2, s};
use ragtune_core::{Hit, Ranking};
pub use ragtune_core::{HnswBuild, VectorFormat};

mod flat;
mod quant;
pub use quant::{BinaryVectors, Int8Calibration, Int8Vectors, Rows, hamming, rescore, sign_bits};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Vector index failures.
#[derive(Debug, thiserror::Error)]
pub enum VectorError {
    /// Dimension mismatch between vectors and a query.
    #[error("vector dimension {got} does not match the index dimension {want}")]
    Dim {
        /// Found.
        got: usize,
        /// Expected.
        want: usize,
    },
    /// Dumping or loading an HNSW graph failed.
    #[error("HNSW index at {path}: {message}")]
    Io {
        /// Folder.
        path: String,
        /// Why.
        message: String,
    },
}

/// Result alias.
pub type Result<T, E = VectorError> = std::result::Result<T, E>;

/// Row-major matrix of `n` unit vectors of dimension `dim`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Vectors {
    /// Dimension.
    pub dim: usize,
    /// `n * dim` values.
    pub data: Vec<f32>,
}

impl Vectors {
    /// Wrap `data`, checking its length.
    pub fn new(dim: usize, data: Vec<f32>) -> Result<Self> {
        if dim == 0 || !data.len().is_multiple_of(dim) {
            return Err(VectorError::Dim {
                got: data.len(),
                want: dim,
            });
        }
        Ok(Self { dim, data })
    }
    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.data.len().checked_div(self.dim).unwrap_or(0)
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Vector `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }
    /// Bytes of vector data.
    pub fn size_bytes(&self) -> u64 {
        (self.data.len() * 4) as u64
    }
    fn view(&self) -> ArrayView2<'_, f32> {
        ArrayView2::from_shape((self.len(), self.dim), &self.data).expect("length checked in new")
    }
}

/// Top `k` of `scores` (index = chunk) in canonical order.
pub(crate) fn top_k(scores: &[f32], k: usize) -> Ranking {
    let mut idx: Vec<u32> = (0..scores.len() as u32).collect();
    let by = |a: &u32, b: &u32| {
        scores[*b as usize]
            .total_cmp(&scores[*a as usize])
            .then(a.cmp(b))
    };
    if k < idx.len() {
        idx.select_nth_unstable_by(k, by);
        idx.truncate(k);
    }
    idx.sort_by(by);
    Ranking {
        hits: idx
            .into_iter()
            .map(|c| Hit {
                chunk: c,
                score: scores[c as usize],
            })
            .collect(),
    }
}

/// Exact top-`k` by dot product for one query.
pub fn exact_search_one(index: &Vectors, query: &[f32], k: usize) -> Result<Ranking> {
    if query.len() != index.dim {
        return Err(VectorError::Dim {
            got: query.len(),
            want: index.dim,
        });
    }
    let scores = index.view().dot(&ndarray::ArrayView1::from(query));
    Ok(top_k(scores.as_slice().expect("contiguous product"), k))
}

/// Exact top-`k` by dot product for every query (rows of `queries`), computed as blocked
/// matrix products in parallel.
pub fn exact_search(index: &Vectors, queries: &Vectors, k: usize) -> Result<Vec<Ranking>> {
    if queries.dim != index.dim {
        return Err(VectorError::Dim {
            got: queries.dim,
            want: index.dim,
        });
    }
    const BLOCK: usize = 64;
    let c = index.view();
    let q = queries.view();
    let n_q = queries.len();
    let blocks: Vec<usize> = (0..n_q).step_by(BLOCK).collect();
    let out: Vec<Vec<Ranking>> = blocks
        .par_iter()
        .map(|&start| {
            let end = (start + BLOCK).min(n_q);
            let scores = q.slice(s![start..end, ..]).dot(&c.t());
            scores
                .rows()
                .into_iter()
                .map(|row| top_k(row.as_slice().expect("row-major product"), k))
                .collect()
        })
        .collect();
    Ok(out.into_iter().flatten().collect())
}

/// `1 − a·b` clamped at 0, for unit vectors. anndists' `DistDot` asserts the difference
/// is non-negative, which rounding breaks for duplicate vectors; this one clamps.
#[derive(Debug, Clone, Copy, Default)]
pub struct UnitDot;

impl Distance<f32> for UnitDot {
    fn eval(&self, va: &[f32], vb: &[f32]) -> f32 {
        (1.0 - dot(va, vb)).max(0.0)
    }
}

/// Lanes of [`dot`]'s partial sums.
const LANES: usize = 16;

/// `a·b` over the common length, summed in [`LANES`] interleaved partial sums that are
/// then added pairwise. A plain `iter().sum()` is one chain of dependent additions, which
/// the compiler may not reorder, so it cannot use SIMD; the partial sums can. The order of
/// every addition is fixed and no multiply-add is fused, so every machine gets the same
/// bits, and so does the AVX2 build of the same code, which runs where the CPU has AVX2.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    #[cfg(target_arch = "x86_64")]
    let acc = if std::arch::is_x86_feature_detected!("avx2") {
        #[allow(unsafe_code)]
        // SAFETY: `lanes_avx2` only needs AVX2, which the CPU was just found to have.
        unsafe {
            lanes_avx2(a, b)
        }
    } else {
        lanes(a, b)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let acc = lanes(a, b);
    let tail: f32 = (a.chunks_exact(LANES).remainder().iter())
        .zip(b.chunks_exact(LANES).remainder())
        .map(|(x, y)| x * y)
        .sum();
    let mut acc = acc;
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        for l in 0..width {
            acc[l] += acc[l + width];
        }
    }
    acc[0] + tail
}

/// [`lanes`] compiled for AVX2: the same operations in the same order, in 256-bit
/// registers (the baseline x86-64 target has only SSE2).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn lanes_avx2(a: &[f32], b: &[f32]) -> [f32; LANES] {
    lanes(a, b)
}

/// The [`LANES`] partial sums of `a·b` over whole chunks of `LANES` (equal lengths).
#[inline(always)]
fn lanes(a: &[f32], b: &[f32]) -> [f32; LANES] {
    let mut acc = [0f32; LANES];
    for (x, y) in a.chunks_exact(LANES).zip(b.chunks_exact(LANES)) {
        let (x, y): (&[f32; LANES], &[f32; LANES]) = (
            x.try_into().expect("chunks of LANES"),
            y.try_into().expect("chunks of LANES"),
        );
        for l in 0..LANES {
            acc[l] += x[l] * y[l];
        }
    }
    acc
}

/// HNSW construction parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HnswParams {
    /// Max links per node (`M`).
    pub m: usize,
    /// Candidate list size during construction.
    pub ef_construction: usize,
    /// Serial (reproducible) or parallel insertion.
    pub build: HnswBuild,
}

impl Default for HnswParams {
    fn default() -> Self {
        Self {
            m: 16,
            ef_construction: 200,
            build: HnswBuild::Serial,
        }
    }
}

/// Bytes one HNSW link holds in the flat layout a loaded graph is searched in: a u32
/// chunk id. (hnsw_rs itself holds 40: an 8-byte `Arc` in the node's list and the 32-byte
/// block it points to; a graph is held that way only from its build to its dump.)
pub const LINK_BYTES: u64 = 4;

/// Bytes per chunk and layer of the flat layout's offsets into its links (a u32).
pub const OFFSET_BYTES: u64 = 4;

/// `1 − a·b` between two int8-coded vectors, each read back through the calibration
/// (a graph of int8 vectors compares stored codes with stored codes, so the query is
/// coded too).
#[derive(Debug, Clone)]
pub struct Int8Dot(std::sync::Arc<Int8Calibration>);

impl Distance<u8> for Int8Dot {
    fn eval(&self, va: &[u8], vb: &[u8]) -> f32 {
        let c = &self.0;
        let s: f32 = (va.iter().zip(vb).enumerate())
            .map(|(d, (&a, &b))| c.decode(d, a) * c.decode(d, b))
            .sum();
        (1.0 - s).max(0.0)
    }
}

/// Hamming distance between two sign-bit vectors.
#[derive(Debug, Clone, Copy, Default)]
pub struct BitDistance;

impl Distance<u64> for BitDistance {
    fn eval(&self, va: &[u64], vb: &[u64]) -> f32 {
        hamming(va, vb) as f32
    }
}

/// The graph in the format its vectors are held in.
enum Graph {
    F32(Held<f32, UnitDot>),
    Int8(Held<u8, Int8Dot>, std::sync::Arc<Int8Calibration>),
    Binary(Held<u64, BitDistance>),
}

/// A graph as hnsw_rs holds it (as built, so that it can be dumped), or read back from
/// its dump and laid out flat ([`flat::Flat`]: the same search results, less overhead).
enum Held<T: Clone + Send + Sync + 'static, D: Distance<T>> {
    Hnsw(Hnsw<'static, T, D>),
    Flat(flat::Flat<T, D>),
}

impl<T, D> Held<T, D>
where
    T: Copy + Default + Send + Sync + std::fmt::Debug + Serialize + serde::de::DeserializeOwned,
    D: Distance<T> + Clone + Send + Sync,
{
    /// The graph dumped at `dir`/`base`, read back by `reloader` with `dist`, and
    /// flattened where it can be.
    fn load(
        reloader: &'static HnswIo,
        dist: D,
        dir: &Path,
        base: &str,
    ) -> std::result::Result<Self, String> {
        let mut h: Hnsw<'static, T, D> =
            (reloader.load_hnsw_with_dist(dist)).map_err(|e| e.to_string())?;
        h.set_searching_mode(true);
        let file = dir.join(format!("{base}.hnsw.graph"));
        Ok(match flat::Flat::of(&h, &file) {
            Some(f) => Held::Flat(f),
            None => Held::Hnsw(h),
        })
    }

    fn len(&self) -> usize {
        match self {
            Held::Hnsw(h) => h.get_nb_point(),
            Held::Flat(f) => f.len(),
        }
    }

    /// Layers up to the highest that holds a point (0 when empty).
    fn layers(&self) -> usize {
        match self {
            Held::Hnsw(h) if h.get_nb_point() > 0 => h.get_max_level_observed() as usize + 1,
            Held::Hnsw(_) => 0,
            Held::Flat(f) => f.layers(),
        }
    }

    fn links(&self) -> u64 {
        match self {
            Held::Hnsw(h) => (h.get_point_indexation().into_iter())
                .map(|p| {
                    (p.get_neighborhood_id().iter())
                        .map(|layer| layer.len() as u64)
                        .sum::<u64>()
                })
                .sum(),
            Held::Flat(f) => f.links(),
        }
    }

    /// (chunk, distance), nearest first.
    fn search(&self, query: &[T], k: usize, ef: usize) -> Vec<(u32, f32)> {
        match self {
            Held::Hnsw(h) => (h.search(query, k, ef).into_iter())
                .map(|n| (n.d_id as u32, n.distance))
                .collect(),
            Held::Flat(f) => f.search(query, k, ef),
        }
    }

    fn dump(&self, dir: &Path, base: &str) -> std::result::Result<String, String> {
        match self {
            Held::Hnsw(h) => h.file_dump(dir, base).map_err(|e| e.to_string()),
            Held::Flat(_) => Err("a graph read back from a dump is not dumped again".into()),
        }
    }
}

/// Run `$body` with `$h` bound to the graph, whatever its format.
macro_rules! each_graph {
    ($g:expr, $h:ident => $body:expr) => {
        match $g {
            Graph::F32($h) => $body,
            Graph::Int8($h, _) => $body,
            Graph::Binary($h) => $body,
        }
    };
}

/// An HNSW graph over [`Vectors`], held as float32, int8 or binary vectors.
pub struct HnswIndex {
    graph: Graph,
    dim: usize,
}

fn new_graph<T, D>(n: usize, params: HnswParams, dist: D) -> Hnsw<'static, T, D>
where
    T: Clone + Send + Sync + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
    D: Distance<T> + Send + Sync,
{
    Hnsw::new(params.m, n.max(1), 16, params.ef_construction, dist)
}

fn insert_all<T, D>(h: &mut Hnsw<'static, T, D>, rows: &[(&[T], usize)], build: HnswBuild)
where
    T: Clone + Send + Sync + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
    D: Distance<T> + Send + Sync,
{
    match build {
        HnswBuild::Serial => rows.iter().for_each(|&row| h.insert_slice(row)),
        HnswBuild::Parallel => h.parallel_insert_slice(&rows.to_vec()),
    }
    h.set_searching_mode(true);
}

/// The file beside a dump that holds an int8 graph's calibration.
fn calibration_file(dir: &Path, base: &str) -> std::path::PathBuf {
    dir.join(format!("{base}.int8"))
}

impl HnswIndex {
    /// Build over float32 vectors, inserting serially (the same graph every time) or in
    /// parallel ([`HnswBuild`]). Either way the sweep reports recall against exact search.
    pub fn build(vectors: &Vectors, params: HnswParams) -> Self {
        Self::build_as(vectors, params, VectorFormat::F32)
    }

    /// Build over `vectors` held as `format` (int8 calibrated on `vectors`).
    pub fn build_as(vectors: &Vectors, params: HnswParams, format: VectorFormat) -> Self {
        let n = vectors.len();
        let graph = match format {
            VectorFormat::F32 => {
                let mut h = new_graph(n, params, UnitDot);
                let rows: Vec<(&[f32], usize)> = (0..n).map(|i| (vectors.row(i), i)).collect();
                insert_all(&mut h, &rows, params.build);
                Graph::F32(Held::Hnsw(h))
            }
            VectorFormat::Int8 => {
                let q = Int8Vectors::quantise(vectors);
                let cal = std::sync::Arc::new(q.calibration.clone());
                let mut h = new_graph(n, params, Int8Dot(cal.clone()));
                let rows: Vec<(&[u8], usize)> =
                    q.codes.chunks_exact(q.dim.max(1)).zip(0..).collect();
                insert_all(&mut h, &rows, params.build);
                Graph::Int8(Held::Hnsw(h), cal)
            }
            VectorFormat::Binary => {
                let q = BinaryVectors::quantise(vectors);
                let mut h = new_graph(n, params, BitDistance);
                let rows: Vec<(&[u64], usize)> =
                    q.bits.chunks_exact(q.words.max(1)).zip(0..).collect();
                insert_all(&mut h, &rows, params.build);
                Graph::Binary(Held::Hnsw(h))
            }
        };
        Self {
            graph,
            dim: vectors.dim,
        }
    }

    /// How the graph holds its vectors.
    pub fn format(&self) -> VectorFormat {
        match self.graph {
            Graph::F32(_) => VectorFormat::F32,
            Graph::Int8(..) => VectorFormat::Int8,
            Graph::Binary(_) => VectorFormat::Binary,
        }
    }

    /// Number of indexed vectors.
    pub fn len(&self) -> usize {
        each_graph!(&self.graph, h => h.len())
    }

    /// True when nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Links stored over every layer of the graph.
    pub fn links(&self) -> u64 {
        each_graph!(&self.graph, h => h.links())
    }

    /// Bytes the graph's links hold in memory as it is searched: [`LINK_BYTES`] per
    /// link and [`OFFSET_BYTES`] per chunk and layer (one more per layer).
    pub fn graph_bytes(&self) -> u64 {
        let layers = each_graph!(&self.graph, h => h.layers()) as u64;
        self.links() * LINK_BYTES + layers * (self.len() as u64 + 1) * OFFSET_BYTES
    }

    /// Bytes of the vectors the graph holds (an int8 graph's calibration included).
    pub fn vector_bytes(&self) -> u64 {
        let n = self.len() as u64;
        let dim = self.dim as u64;
        match self.format() {
            VectorFormat::F32 => n * dim * 4,
            VectorFormat::Int8 => n * dim + 8 * dim,
            VectorFormat::Binary => n * dim.div_ceil(64) * 8,
        }
    }

    /// Top `k` for float32 `query` with candidate list `ef` (at least `k`). An int8 or
    /// binary graph codes the query as it coded its vectors; the scores are then
    /// `1 − distance` (int8) or `1 − 2h/dim` (binary).
    pub fn search(&self, query: &[f32], k: usize, ef: usize) -> Result<Ranking> {
        if query.len() != self.dim {
            return Err(VectorError::Dim {
                got: query.len(),
                want: self.dim,
            });
        }
        let ef = ef.max(k);
        let found = match &self.graph {
            Graph::F32(h) => h.search(query, k, ef),
            Graph::Int8(h, cal) => h.search(&cal.encode(query), k, ef),
            Graph::Binary(h) => h.search(&sign_bits(query), k, ef),
        };
        let score = |d: f32| match self.graph {
            Graph::Binary(_) => quant::bit_score(d, self.dim),
            _ => 1.0 - d,
        };
        Ok(Ranking::from_unsorted(
            found
                .into_iter()
                .map(|(chunk, d)| Hit {
                    chunk,
                    score: score(d),
                })
                .collect(),
        ))
    }

    /// Dump the graph and data to `dir` as `<base>.hnsw.graph` and `<base>.hnsw.data`
    /// (and an int8 graph's calibration as `<base>.int8`).
    pub fn dump(&self, dir: &Path, base: &str) -> Result<()> {
        let io = |message: String| VectorError::Io {
            path: dir.display().to_string(),
            message,
        };
        std::fs::create_dir_all(dir).map_err(|e| io(e.to_string()))?;
        let used = each_graph!(&self.graph, h => h.dump(dir, base)).map_err(io)?;
        if used != base {
            return Err(io(format!(
                "files for {base:?} already exist (hnsw_rs wrote {used:?} instead)"
            )));
        }
        if let Graph::Int8(_, cal) = &self.graph {
            std::fs::write(calibration_file(dir, base), cal.to_bytes())
                .map_err(|e| io(e.to_string()))?;
        }
        Ok(())
    }

    /// Load a float32 dump written by [`HnswIndex::dump`].
    pub fn load(dir: &Path, base: &str, dim: usize) -> Result<Self> {
        Self::load_as(dir, base, dim, VectorFormat::F32)
    }

    /// Load a dump of a graph held as `format`.
    pub fn load_as(dir: &Path, base: &str, dim: usize, format: VectorFormat) -> Result<Self> {
        let fail = |message: String| VectorError::Io {
            path: dir.display().to_string(),
            message,
        };
        // hnsw_rs ties the graph's lifetime to its reloader; a served index lives for the
        // whole process, so the (small) reloader is leaked once per load.
        let reloader: &'static HnswIo = Box::leak(Box::new(HnswIo::new(dir, base)));
        let graph = match format {
            VectorFormat::F32 => {
                Graph::F32(Held::load(reloader, UnitDot, dir, base).map_err(fail)?)
            }
            VectorFormat::Int8 => {
                let bytes = std::fs::read(calibration_file(dir, base))
                    .map_err(|e| fail(format!("int8 calibration: {e}")))?;
                let cal = Int8Calibration::from_bytes(&bytes, dim)
                    .ok_or_else(|| fail(format!("int8 calibration is not {dim} dimensions")))?;
                let cal = std::sync::Arc::new(cal);
                let dist = Int8Dot(cal.clone());
                Graph::Int8(Held::load(reloader, dist, dir, base).map_err(fail)?, cal)
            }
            VectorFormat::Binary => {
                Graph::Binary(Held::load(reloader, BitDistance, dir, base).map_err(fail)?)
            }
        };
        Ok(Self { graph, dim })
    }
}

/// Reproducible vectors for tests and benchmarks.
#[doc(hidden)]
pub mod testing {
    use super::Vectors;

    /// `n` unit vectors of `dim` from a seeded xorshift: reproducible without a rand
    /// dependency.
    pub fn unit_vectors(n: usize, dim: usize, seed: u64) -> Vectors {
        let mut s = seed;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f32 / (1u64 << 53) as f32 - 0.5
        };
        let mut data = Vec::with_capacity(n * dim);
        for _ in 0..n {
            let v: Vec<f32> = (0..dim).map(|_| next()).collect();
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            data.extend(v.iter().map(|x| x / norm));
        }
        Vectors::new(dim, data).expect("whole rows")
    }
}

/// Fraction of the exact top-`k` chunks that `approx` returned in its top `k`.
pub fn recall_vs_exact(exact: &Ranking, approx: &Ranking, k: usize) -> f64 {
    let want: Vec<u32> = exact.chunks().take(k).collect();
    if want.is_empty() {
        return 1.0;
    }
    let got: Vec<u32> = approx.chunks().take(k).collect();
    want.iter().filter(|c| got.contains(c)).count() as f64 / want.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) use crate::testing::unit_vectors;

    #[test]
    fn exact_matches_brute_force() {
        let idx = unit_vectors(300, 16, 7);
        let qs = unit_vectors(70, 16, 99);
        let got = exact_search(&idx, &qs, 5).unwrap();
        assert_eq!(got.len(), 70);
        for (qi, r) in got.iter().enumerate() {
            let q = qs.row(qi);
            let mut all: Vec<(u32, f32)> = (0..300)
                .map(|i| (i as u32, idx.row(i).iter().zip(q).map(|(a, b)| a * b).sum()))
                .collect();
            all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            assert_eq!(
                r.chunks().collect::<Vec<_>>(),
                all.iter().take(5).map(|x| x.0).collect::<Vec<_>>()
            );
            // Same order; scores equal up to summation order (matrix product vs. mat-vec).
            let one = exact_search_one(&idx, q, 5).unwrap();
            assert_eq!(
                one.chunks().collect::<Vec<_>>(),
                r.chunks().collect::<Vec<_>>()
            );
            assert!(
                one.hits
                    .iter()
                    .zip(&r.hits)
                    .all(|(a, b)| (a.score - b.score).abs() < 1e-6)
            );
        }
    }

    /// Links are counted over every layer: each point links to at least one other, and
    /// none holds more than 2M on layer 0 and M on each layer above (hnsw_rs's caps).
    #[test]
    fn graph_links_are_counted_on_every_layer_and_survive_a_dump() {
        let idx = unit_vectors(2000, 16, 9);
        let h = HnswIndex::build(&idx, HnswParams::default());
        let links = h.links();
        let most_layers = match &h.graph {
            Graph::F32(Held::Hnsw(g)) => g.get_max_level_observed() as u64,
            _ => unreachable!("a built float32 graph"),
        };
        assert!(links >= 2000, "{links}");
        assert!(links <= 2000 * (32 + 16 * most_layers), "{links}");
        let offsets = (most_layers + 1) * 2001 * OFFSET_BYTES;
        assert_eq!(h.graph_bytes(), links * LINK_BYTES + offsets);
        let dir = tempfile::tempdir().unwrap();
        h.dump(dir.path(), "g").unwrap();
        assert_eq!(HnswIndex::load(dir.path(), "g", 16).unwrap().links(), links);
        let two = unit_vectors(2, 16, 1);
        let g = HnswIndex::build(&two, HnswParams::default());
        // Two points on layer 0 link to each other, and on any layer both reach.
        assert!(g.links() >= 2);
    }

    /// HNSW against exact search on a seeded corpus: with M=16, ef=64 we allow at most 2%
    /// of the exact top-10 to be missed overall (typical is well under 1%).
    #[test]
    fn hnsw_close_to_exact() {
        let idx = unit_vectors(2000, 32, 3);
        let qs = unit_vectors(100, 32, 5);
        let exact = exact_search(&idx, &qs, 10).unwrap();
        let h = HnswIndex::build(&idx, HnswParams::default());
        let mut found = 0.0;
        for (qi, e) in exact.iter().enumerate() {
            let a = h.search(qs.row(qi), 10, 64).unwrap();
            assert!(a.hits.windows(2).all(|w| w[0].score >= w[1].score));
            found += recall_vs_exact(e, &a, 10);
        }
        let recall = found / 100.0;
        assert!(recall >= 0.98, "HNSW recall vs exact {recall}");
    }

    /// Serial builds of the same vectors are the same graph: every query gets the same
    /// answer, to the bit. A small `ef` makes any difference in the graph show (parallel
    /// builds of 20,000 clustered vectors disagreed on 7 of 200 such queries).
    #[test]
    fn serial_builds_answer_identically() {
        let idx = unit_vectors(3000, 16, 31);
        let qs = unit_vectors(300, 16, 37);
        let params = HnswParams {
            m: 8,
            ef_construction: 32,
            build: HnswBuild::Serial,
        };
        let (a, b) = (
            HnswIndex::build(&idx, params),
            HnswIndex::build(&idx, params),
        );
        for qi in 0..qs.len() {
            let (x, y) = (
                a.search(qs.row(qi), 10, 10).unwrap(),
                b.search(qs.row(qi), 10, 10).unwrap(),
            );
            assert_eq!(x, y, "query {qi}");
        }
        let parallel = HnswParams {
            build: HnswBuild::Parallel,
            ..params
        };
        let p = HnswIndex::build(&idx, parallel);
        assert_eq!(p.len(), idx.len());
    }

    #[test]
    fn dot_matches_a_plain_sum_at_every_length() {
        let v = unit_vectors(2, 385, 41);
        let (a, b) = (v.row(0), v.row(1));
        for n in [0, 1, 15, 16, 17, 31, 32, 100, 384, 385] {
            let plain: f64 = (0..n).map(|i| f64::from(a[i]) * f64::from(b[i])).sum();
            let got = dot(&a[..n], &b[..n]);
            assert!(
                (f64::from(got) - plain).abs() < 1e-5,
                "{n}: {got} vs {plain}"
            );
        }
        // Hand-worked: 1·4 + 2·5 + 3·6 = 32, and unequal lengths use the shorter.
        assert_eq!(dot(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0, 7.0]), 32.0);
        assert!(
            UnitDot.eval(a, a) < 1e-6,
            "a unit vector is at distance 0 from itself"
        );
    }

    #[test]
    fn dot_gives_the_bits_of_the_first_implementation_with_or_without_avx2() {
        let v = unit_vectors(64, 385, 7);
        for i in 0..63 {
            let (a, b) = (v.row(i), v.row(i + 1));
            for n in [0, 1, 15, 16, 17, 33, 64, 100, 383, 384, 385] {
                let portable = lanes(&a[..n], &b[..n]);
                #[cfg(target_arch = "x86_64")]
                if std::arch::is_x86_feature_detected!("avx2") {
                    #[allow(unsafe_code)]
                    // SAFETY: AVX2 is present.
                    let avx2 = unsafe { lanes_avx2(&a[..n], &b[..n]) };
                    assert_eq!(
                        avx2.map(f32::to_bits),
                        portable.map(f32::to_bits),
                        "{i} {n}"
                    );
                }
                // The first implementation, one array of 16 partial sums.
                let first = {
                    let (x, y) = (&a[..n], &b[..n]);
                    let mut acc = [0f32; LANES];
                    for k in 0..n / LANES * LANES {
                        acc[k % LANES] += x[k] * y[k];
                    }
                    let tail: f32 = (n / LANES * LANES..n).map(|k| x[k] * y[k]).sum();
                    let mut width = LANES;
                    while width > 1 {
                        width /= 2;
                        for l in 0..width {
                            acc[l] += acc[l + width];
                        }
                    }
                    acc[0] + tail
                };
                assert_eq!(dot(&a[..n], &b[..n]).to_bits(), first.to_bits(), "{i} {n}");
            }
        }
    }

    #[test]
    fn duplicate_vectors_do_not_panic() {
        let v = unit_vectors(1, 8, 11);
        let mut data = v.data.clone();
        data.extend(v.data.iter());
        data.extend(v.data.iter());
        let idx = Vectors::new(8, data).unwrap();
        let h = HnswIndex::build(&idx, HnswParams::default());
        let r = h.search(v.row(0), 3, 10).unwrap();
        assert_eq!(r.hits.len(), 3);
        assert!(r.hits.iter().all(|hit| (hit.score - 1.0).abs() < 1e-5));
    }

    #[test]
    fn dump_and_load_give_same_answers() {
        let idx = unit_vectors(200, 8, 21);
        let h = HnswIndex::build(&idx, HnswParams::default());
        let dir = std::env::temp_dir().join(format!("ragtune-hnsw-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        h.dump(&dir, "v").unwrap();
        let loaded = HnswIndex::load(&dir, "v", 8).unwrap();
        for i in 0..20 {
            assert_eq!(
                h.search(idx.row(i), 5, 32).unwrap(),
                loaded.search(idx.row(i), 5, 32).unwrap()
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Int8 and binary graphs: close to exact float32 search (binary after rescoring its
    /// candidates), holding a quarter and a thirty-second of the vector bytes, and the
    /// same answers after a dump and a load (the calibration travels with the dump).
    #[test]
    fn quantised_graphs_search_close_to_exact_and_survive_a_dump() {
        let idx = unit_vectors(2000, 64, 13);
        let qs = unit_vectors(50, 64, 17);
        let exact = exact_search(&idx, &qs, 10).unwrap();
        let dir = tempfile::tempdir().unwrap();
        for (format, pool, floor, shrink) in [
            (VectorFormat::Int8, 10, 0.9, 4),
            (VectorFormat::Binary, 200, 0.8, 32),
        ] {
            let h = HnswIndex::build_as(&idx, HnswParams::default(), format);
            assert_eq!(h.format(), format);
            assert!(h.vector_bytes() <= idx.size_bytes() / shrink + 8 * 64);
            let base = format.name();
            h.dump(dir.path(), base).unwrap();
            let back = HnswIndex::load_as(dir.path(), base, 64, format).unwrap();
            let mut found = 0.0;
            for (qi, e) in exact.iter().enumerate() {
                let got = h.search(qs.row(qi), pool, 256).unwrap();
                assert_eq!(got, back.search(qs.row(qi), pool, 256).unwrap());
                found += recall_vs_exact(e, &rescore(&got, qs.row(qi), &idx, 10).unwrap(), 10);
            }
            let recall = found / 50.0;
            assert!(recall >= floor, "{format:?}: recall {recall}");
        }
        assert!(HnswIndex::load_as(dir.path(), "binary", 64, VectorFormat::Int8).is_err());
    }

    #[test]
    fn recall_vs_exact_counts_shared_chunks() {
        let e = Ranking {
            hits: vec![
                Hit {
                    chunk: 1,
                    score: 0.9,
                },
                Hit {
                    chunk: 2,
                    score: 0.8,
                },
            ],
        };
        let a = Ranking {
            hits: vec![
                Hit {
                    chunk: 2,
                    score: 0.8,
                },
                Hit {
                    chunk: 3,
                    score: 0.7,
                },
            ],
        };
        assert_eq!(recall_vs_exact(&e, &a, 2), 0.5);
        assert_eq!(recall_vs_exact(&e, &a, 1), 0.0);
    }
}
