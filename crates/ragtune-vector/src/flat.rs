//! An HNSW graph that hnsw_rs built and dumped, laid out flat for search.
//!
//! hnsw_rs keeps every point behind an `Arc`, every neighbour list behind a lock, and
//! searches with a `HashMap` of visited points and an `Arc` allocated per candidate: on a
//! served index of 50k chunks, its `search_layer` took as much time as the distances it
//! computed. [`Flat`] holds the same graph as plain arrays (the vectors in one block, by
//! chunk; each layer's links as offsets and chunk ids) and runs hnsw_rs 0.3.5's search
//! step by step: the same descent through the upper layers (one scan of the pivot's links
//! per layer), the same candidate and result heaps with the same comparisons (by distance
//! alone, so ties leave the heaps as hnsw_rs leaves them), the same early stop, the same
//! distance function with its arguments in the same order. It therefore returns the very
//! ids and distances hnsw_rs returns (`tests` checks it on graphs with tied distances).
//! Only graphs read back from a dump are flattened: the dump is where hnsw_rs writes its
//! entry point, which it does not expose otherwise.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::path::Path;

use hnsw_rs::prelude::{Distance, Hnsw, PointId};

/// A graph's links at one layer: `ids[offsets[c]..offsets[c + 1]]` are chunk `c`'s, in
/// hnsw_rs' order (by distance to `c`, as its reload sorts them).
struct Layer {
    offsets: Vec<u32>,
    ids: Vec<u32>,
}

impl Layer {
    fn of(&self, c: u32) -> &[u32] {
        let c = c as usize;
        &self.ids[self.offsets[c] as usize..self.offsets[c + 1] as usize]
    }
}

/// An HNSW graph as flat arrays, searched as hnsw_rs searches it.
pub(crate) struct Flat<T, D> {
    dist: D,
    /// Values per vector.
    stride: usize,
    /// Chunk `c`'s vector at `data[c * stride..(c + 1) * stride]`.
    data: Vec<T>,
    /// Links by layer, from layer 0.
    layers: Vec<Layer>,
    /// The entry point and its layer.
    entry: u32,
    entry_layer: usize,
    /// The lowest layer holding points (0 once anything is indexed).
    bottom: usize,
}

/// A point with its distance to the query, ordered by the distance alone, as hnsw_rs'
/// `PointWithOrder` is (its heaps then break ties the same way).
#[derive(Clone, Copy)]
struct Near {
    dist: f32,
    id: u32,
}

impl PartialEq for Near {
    fn eq(&self, other: &Self) -> bool {
        self.dist == other.dist
    }
}

impl Eq for Near {}

impl PartialOrd for Near {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Near {
    fn cmp(&self, other: &Self) -> Ordering {
        // Distances are never NaN for finite vectors; hnsw_rs panics on one, this treats
        // it as equal.
        self.dist
            .partial_cmp(&other.dist)
            .unwrap_or(Ordering::Equal)
    }
}

/// Bytes at the end of a full hnsw_rs graph dump naming the entry point: its data id
/// (`usize`), layer (`u8`) and rank in the layer (`i32`), in native byte order.
const ENTRY_BYTES: usize = std::mem::size_of::<usize>() + 1 + 4;

/// The entry point recorded at the end of the graph dump `graph`: (data id, layer, rank).
fn entry_of(graph: &Path) -> Option<(usize, u8, i32)> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(graph).ok()?;
    f.seek(SeekFrom::End(-(ENTRY_BYTES as i64))).ok()?;
    let mut b = [0u8; ENTRY_BYTES];
    f.read_exact(&mut b).ok()?;
    let at = std::mem::size_of::<usize>();
    let id = usize::from_ne_bytes(b[..at].try_into().ok()?);
    let rank = i32::from_ne_bytes(b[at + 1..].try_into().ok()?);
    Some((id, b[at], rank))
}

impl<T, D> Flat<T, D>
where
    T: Copy + Default + Clone + Send + Sync + std::fmt::Debug,
    D: Distance<T> + Clone + Send + Sync,
{
    /// `h`, read back from the dump whose graph file is `graph`, as flat arrays; `None`
    /// where the graph is not what this layout assumes (data ids other than 0..n, or an
    /// entry point the dump does not confirm), and hnsw_rs then keeps searching it.
    pub(crate) fn of(h: &Hnsw<'static, T, D>, graph: &Path) -> Option<Self> {
        let (entry, layer, rank) = entry_of(graph)?;
        let points = h.get_point_indexation();
        let n = h.get_nb_point();
        let entry_point = points.into_iter().find(|p| p.get_origin_id() == entry)?;
        if n == 0
            || entry_point.get_point_id() != PointId(layer, rank)
            || layer != points.get_max_level_observed()
        {
            return None;
        }
        let stride = entry_point.get_v().len();
        let mut data = vec![T::default(); n * stride];
        // By layer (none above the entry point's), the chunks that have links there.
        let mut links: Vec<Vec<(u32, Vec<u32>)>> = vec![Vec::new(); layer as usize + 1];
        let mut seen = vec![false; n];
        for p in points {
            let c = p.get_origin_id();
            if c >= n || std::mem::replace(&mut seen[c], true) || p.get_v().len() != stride {
                return None;
            }
            data[c * stride..(c + 1) * stride].copy_from_slice(p.get_v());
            for (l, ns) in p.get_neighborhood_id().into_iter().enumerate() {
                if !ns.is_empty() {
                    let ids = ns.iter().map(|x| u32::try_from(x.d_id).ok());
                    links
                        .get_mut(l)?
                        .push((c as u32, ids.collect::<Option<_>>()?));
                }
            }
        }
        let layers = (links.into_iter().map(|l| flatten(l, n))).collect::<Option<Vec<_>>>()?;
        let bottom = (0..=layer as usize).find(|&l| points.get_layer_nb_point(l) > 0)?;
        Some(Self {
            dist: h.get_distance().clone(),
            stride,
            data,
            layers,
            entry: u32::try_from(entry).ok()?,
            entry_layer: layer as usize,
            bottom,
        })
    }

    /// Number of indexed vectors.
    pub(crate) fn len(&self) -> usize {
        self.layers.first().map_or(0, |l| l.offsets.len() - 1)
    }

    /// Layers, from 0 to the entry point's.
    pub(crate) fn layers(&self) -> usize {
        self.layers.len()
    }

    /// Links over every layer.
    pub(crate) fn links(&self) -> u64 {
        self.layers.iter().map(|l| l.ids.len() as u64).sum()
    }

    fn row(&self, c: u32) -> &[T] {
        let c = c as usize;
        &self.data[c * self.stride..(c + 1) * self.stride]
    }

    fn links_of(&self, layer: usize, c: u32) -> &[u32] {
        self.layers.get(layer).map_or(&[], |l| l.of(c))
    }

    /// The `knbn` nearest to `query` with a candidate list of `ef_arg` (at least
    /// `knbn`), nearest first: hnsw_rs' `Hnsw::search`, step by step.
    pub(crate) fn search(&self, query: &[T], knbn: usize, ef_arg: usize) -> Vec<(u32, f32)> {
        let mut pivot = self.entry;
        let mut dist_to_entry = self.dist.eval(query, self.row(pivot));
        for layer in (1..=self.entry_layer).rev() {
            let mut best = None;
            for &n in self.links_of(layer, pivot) {
                let d = self.dist.eval(query, self.row(n));
                if d < dist_to_entry {
                    best = Some(n);
                    dist_to_entry = d;
                }
            }
            if let Some(b) = best {
                pivot = b;
            }
        }
        let ef = ef_arg.max(knbn);
        let found = self.search_layer(query, pivot, ef).into_sorted_vec();
        let last = knbn.min(ef).min(found.len());
        found[..last].iter().map(|p| (p.id, p.dist)).collect()
    }

    /// hnsw_rs' `search_layer` without a filter: the `ef` nearest found from `entry` in
    /// the lowest layer, as a heap by distance.
    fn search_layer(&self, query: &[T], entry: u32, ef: usize) -> BinaryHeap<Near> {
        let layer = self.bottom;
        let mut visited = vec![0u64; self.len().div_ceil(64)];
        let mut visit = |c: u32| {
            let (w, b) = (c as usize / 64, 1u64 << (c % 64));
            let new = visited[w] & b == 0;
            visited[w] |= b;
            new
        };
        let size = ef.max(2);
        let mut found = BinaryHeap::with_capacity(size);
        let mut candidates = BinaryHeap::with_capacity(size);
        let d = self.dist.eval(query, self.row(entry));
        visit(entry);
        candidates.push(Near {
            dist: -d,
            id: entry,
        });
        found.push(Near { dist: d, id: entry });
        while let Some(c) = candidates.pop() {
            let Some(f) = found.peek() else { break };
            if -c.dist > f.dist {
                return found;
            }
            for &e in self.links_of(layer, c.id) {
                if !visit(e) {
                    continue;
                }
                let Some(f) = found.peek() else {
                    return found;
                };
                let d = self.dist.eval(query, self.row(e));
                if d < f.dist || found.len() < ef {
                    candidates.push(Near { dist: -d, id: e });
                    found.push(Near { dist: d, id: e });
                    if found.len() > ef {
                        found.pop();
                    }
                }
            }
        }
        found
    }
}

/// One layer's lists, (chunk, its links) for the chunks that have any, as offsets over
/// all `n` chunks and ids.
fn flatten(mut lists: Vec<(u32, Vec<u32>)>, n: usize) -> Option<Layer> {
    lists.sort_unstable_by_key(|l| l.0);
    let mut offsets = Vec::with_capacity(n + 1);
    let mut ids = Vec::with_capacity(lists.iter().map(|l| l.1.len()).sum());
    let mut next = lists.into_iter().peekable();
    offsets.push(0);
    for c in 0..n as u32 {
        if let Some((_, l)) = next.next_if(|l| l.0 == c) {
            ids.extend(l);
        }
        offsets.push(u32::try_from(ids.len()).ok()?);
    }
    Some(Layer { offsets, ids })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::unit_vectors;
    use crate::{BitDistance, HnswIndex, HnswParams, Int8Calibration, Int8Dot, UnitDot};
    use crate::{VectorFormat, Vectors, sign_bits};
    use hnsw_rs::prelude::HnswIo;

    /// 1,500 unit vectors of 24 dimensions, 300 of them twice (ties in every format).
    fn corpus() -> Vectors {
        let base = unit_vectors(1200, 24, 11);
        let mut data = base.data.clone();
        data.extend_from_slice(&base.data[..300 * 24]);
        Vectors::new(24, data).unwrap()
    }

    /// Queries: fresh unit vectors, and copies of indexed rows (a distance of 0, tied
    /// with the row's duplicate).
    fn queries(v: &Vectors) -> Vec<Vec<f32>> {
        let fresh = unit_vectors(60, 24, 5);
        (0..60)
            .map(|i| fresh.row(i).to_vec())
            .chain((0..40).map(|i| v.row(i * 7).to_vec()))
            .collect()
    }

    /// hnsw_rs' own search over the dump at `dir`, and the flat layout of the same dump,
    /// agree on every id and every distance's bits.
    fn same_results<T, D>(dir: &Path, dist: D, code: impl Fn(&[f32]) -> Vec<T>, qs: &[Vec<f32>])
    where
        T: Copy + Default + Send + Sync + std::fmt::Debug + serde::Serialize,
        T: serde::de::DeserializeOwned + 'static,
        D: Distance<T> + Clone + Send + Sync + 'static,
    {
        let io: &'static mut HnswIo = Box::leak(Box::new(HnswIo::new(dir, "g")));
        let mut h: Hnsw<'static, T, D> = io.load_hnsw_with_dist(dist).unwrap();
        h.set_searching_mode(true);
        let flat = Flat::of(&h, &dir.join("g.hnsw.graph")).expect("flattened");
        assert_eq!(flat.len(), h.get_nb_point());
        for q in qs {
            let q = code(q);
            for (k, ef) in [(1, 16), (10, 16), (10, 64), (40, 64), (50, 10)] {
                let theirs: Vec<(u32, u32)> = (h.search(&q, k, ef).iter())
                    .map(|n| (n.d_id as u32, n.distance.to_bits()))
                    .collect();
                let ours: Vec<(u32, u32)> = (flat.search(&q, k, ef).iter())
                    .map(|&(c, d)| (c, d.to_bits()))
                    .collect();
                assert_eq!(ours, theirs, "k {k}, ef {ef}");
            }
        }
    }

    fn dumped(v: &Vectors, format: VectorFormat) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let params = HnswParams {
            m: 8,
            ef_construction: 40,
            ..HnswParams::default()
        };
        HnswIndex::build_as(v, params, format)
            .dump(dir.path(), "g")
            .unwrap();
        dir
    }

    /// Graphs of 1, 2 and 17 points (the entry point on layer 0, or a layer 0 with few
    /// links) search as hnsw_rs searches them.
    #[test]
    fn tiny_graphs_search_as_hnsw_rs_does() {
        for n in [1, 2, 17] {
            let v = unit_vectors(n, 24, n as u64 + 3);
            let qs = queries(&corpus());
            let dir = dumped(&v, VectorFormat::F32);
            same_results(dir.path(), UnitDot, |q| q.to_vec(), &qs[..10]);
            let dir = dumped(&v, VectorFormat::Binary);
            same_results(dir.path(), BitDistance, sign_bits, &qs[..10]);
        }
    }

    #[test]
    fn flat_search_returns_what_hnsw_rs_returns_for_every_format() {
        let v = corpus();
        let qs = queries(&v);
        let dir = dumped(&v, VectorFormat::F32);
        same_results(dir.path(), UnitDot, |q| q.to_vec(), &qs);
        let dir = dumped(&v, VectorFormat::Int8);
        let cal = std::fs::read(dir.path().join("g.int8")).unwrap();
        let cal = std::sync::Arc::new(Int8Calibration::from_bytes(&cal, 24).unwrap());
        let code = |q: &[f32]| cal.encode(q);
        same_results(dir.path(), Int8Dot(cal.clone()), code, &qs);
        let dir = dumped(&v, VectorFormat::Binary);
        same_results(dir.path(), BitDistance, sign_bits, &qs);
    }

    /// A loaded index is flat (its links are counted as before: see
    /// `graph_links_are_counted_on_every_layer_and_survive_a_dump`), and is not dumped
    /// again.
    #[test]
    fn a_loaded_index_is_flat_and_refuses_a_second_dump() {
        let v = corpus();
        let dir = dumped(&v, VectorFormat::F32);
        let loaded = HnswIndex::load(dir.path(), "g", 24).unwrap();
        assert!(matches!(
            loaded.graph,
            crate::Graph::F32(crate::Held::Flat(_))
        ));
        assert_eq!(loaded.len(), v.len());
        let e = loaded.dump(dir.path(), "again").unwrap_err();
        assert!(e.to_string().contains("not dumped again"), "{e}");
    }

    #[test]
    fn a_dump_whose_entry_point_does_not_match_keeps_hnsw_rs() {
        let v = corpus();
        let dir = dumped(&v, VectorFormat::F32);
        let graph = dir.path().join("g.hnsw.graph");
        let io: &'static mut HnswIo = Box::leak(Box::new(HnswIo::new(dir.path(), "g")));
        let h: Hnsw<'static, f32, UnitDot> = io.load_hnsw_with_dist(UnitDot).unwrap();
        let mut bytes = std::fs::read(&graph).unwrap();
        let at = bytes.len() - ENTRY_BYTES;
        bytes[at + 8] = bytes[at + 8].wrapping_add(1); // another layer
        std::fs::write(&graph, &bytes).unwrap();
        assert!(Flat::of(&h, &graph).is_none());
    }
}
