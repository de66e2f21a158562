//! Quantised vectors: int8 (one byte per dimension, calibrated per dimension on the
//! corpus) and binary (one sign bit per dimension), each searched exactly, and
//! [`rescore`] to rank a quantised search's candidates by their float32 vectors.
//!
//! - **int8.** Dimension `d` of the corpus vectors spans `[min_d, max_d]`; a value `x` is
//!   stored as `c = round((x − min_d) / step_d)`, `step_d = (max_d − min_d) / 255`, and
//!   read back as `min_d + step_d · c`. Exact search scores a float32 query against the
//!   read-back vectors: `Σ q_d (min_d + step_d c_d) = Σ q_d min_d + Σ (q_d step_d) c_d`,
//!   the first sum and the weights `q_d step_d` computed once per query.
//! - **binary.** Bit `d` is set when `x_d > 0`; a query is binarised the same way, and
//!   the score is `1 − 2 h / dim` for Hamming distance `h` (the cosine of two ±1 vectors).
//!   Ties, frequent with so few distinct scores, go to the lower chunk index.

use ragtune_core::{Hit, Ranking};

use crate::{Result, VectorError, Vectors, dot};

/// Per-dimension calibration of int8 codes.
#[derive(Debug, Clone, PartialEq)]
pub struct Int8Calibration {
    /// Smallest value of each dimension over the corpus.
    pub min: Vec<f32>,
    /// Each dimension's range over 255.
    pub step: Vec<f32>,
}

impl Int8Calibration {
    /// Calibrate on `v`: each dimension's minimum and range.
    pub fn fit(v: &Vectors) -> Self {
        let mut min = vec![f32::INFINITY; v.dim];
        let mut max = vec![f32::NEG_INFINITY; v.dim];
        for i in 0..v.len() {
            for (d, &x) in v.row(i).iter().enumerate() {
                min[d] = min[d].min(x);
                max[d] = max[d].max(x);
            }
        }
        if v.is_empty() {
            min.fill(0.0);
            max.fill(0.0);
        }
        let step = min
            .iter()
            .zip(&max)
            .map(|(lo, hi)| (hi - lo) / 255.0)
            .collect();
        Self { min, step }
    }

    /// The code of each value of `x`.
    pub fn encode(&self, x: &[f32]) -> Vec<u8> {
        (x.iter().zip(self.min.iter().zip(&self.step)))
            .map(|(&x, (&lo, &step))| {
                if step > 0.0 {
                    ((x - lo) / step).round().clamp(0.0, 255.0) as u8
                } else {
                    0
                }
            })
            .collect()
    }

    /// The value code `c` of dimension `d` stands for.
    pub fn decode(&self, d: usize, c: u8) -> f32 {
        self.min[d] + self.step[d] * f32::from(c)
    }

    /// Bytes: `min` then `step`, f32 little-endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        ragtune_core::f32s_to_le_bytes(&[self.min.as_slice(), &self.step].concat())
    }

    /// Read [`Self::to_bytes`] for dimension `dim`.
    pub fn from_bytes(bytes: &[u8], dim: usize) -> Option<Self> {
        let v = ragtune_core::f32s_from_le_bytes(bytes)?;
        (v.len() == 2 * dim && v.iter().all(|x| x.is_finite())).then(|| Self {
            min: v[..dim].to_vec(),
            step: v[dim..].to_vec(),
        })
    }
}

/// A corpus's vectors as int8 codes, searched exactly.
#[derive(Debug, Clone, PartialEq)]
pub struct Int8Vectors {
    /// Dimension.
    pub dim: usize,
    /// The calibration.
    pub calibration: Int8Calibration,
    /// `n · dim` codes, row-major.
    pub codes: Vec<u8>,
}

impl Int8Vectors {
    /// Quantise `v`, calibrated on itself.
    pub fn quantise(v: &Vectors) -> Self {
        let calibration = Int8Calibration::fit(v);
        let codes = (0..v.len())
            .flat_map(|i| calibration.encode(v.row(i)))
            .collect();
        Self {
            dim: v.dim,
            calibration,
            codes,
        }
    }

    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.codes.len().checked_div(self.dim).unwrap_or(0)
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held for search: the codes and the calibration.
    pub fn size_bytes(&self) -> u64 {
        (self.codes.len() + 8 * self.dim) as u64
    }

    /// The top `n` chunks for float32 `query`, scored against the read-back vectors.
    pub fn search(&self, query: &[f32], n: usize) -> Result<Ranking> {
        check_dim(query.len(), self.dim)?;
        let c = &self.calibration;
        let bias: f32 = dot(query, &c.min);
        let w: Vec<f32> = query.iter().zip(&c.step).map(|(q, s)| q * s).collect();
        let scores: Vec<f32> = self
            .codes
            .chunks_exact(self.dim)
            .map(|row| bias + weighted(&w, row))
            .collect();
        Ok(crate::top_k(&scores, n))
    }
}

/// `Σ w_d · c_d` in 16 interleaved partial sums (vectorisable, fixed order).
fn weighted(w: &[f32], c: &[u8]) -> f32 {
    const L: usize = 16;
    let mut acc = [0f32; L];
    let (wc, cc) = (w.chunks_exact(L), c.chunks_exact(L));
    let tail: f32 = (wc.remainder().iter().zip(cc.remainder()))
        .map(|(w, &c)| w * f32::from(c))
        .sum();
    for (w, c) in wc.zip(cc) {
        for l in 0..L {
            acc[l] += w[l] * f32::from(c[l]);
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// A corpus's vectors as sign bits, searched exactly by Hamming distance.
#[derive(Debug, Clone, PartialEq)]
pub struct BinaryVectors {
    /// Dimension.
    pub dim: usize,
    /// 64-bit words per vector.
    pub words: usize,
    /// `n · words` words, row-major; bit `d % 64` of word `d / 64` is dimension `d`.
    pub bits: Vec<u64>,
}

/// The sign bits of `x`, packed into 64-bit words.
pub fn sign_bits(x: &[f32]) -> Vec<u64> {
    let mut out = vec![0u64; x.len().div_ceil(64)];
    for (d, &v) in x.iter().enumerate() {
        if v > 0.0 {
            out[d / 64] |= 1 << (d % 64);
        }
    }
    out
}

/// The score of Hamming distance `h` between two `dim`-bit vectors: `1 − 2h/dim`, the
/// cosine of the two ±1 vectors.
pub(crate) fn bit_score(h: f32, dim: usize) -> f32 {
    1.0 - 2.0 * h / dim as f32
}

/// Bits that differ between `a` and `b`.
pub fn hamming(a: &[u64], b: &[u64]) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

impl BinaryVectors {
    /// The sign bits of `v`.
    pub fn quantise(v: &Vectors) -> Self {
        let words = v.dim.div_ceil(64);
        let bits = (0..v.len()).flat_map(|i| sign_bits(v.row(i))).collect();
        Self {
            dim: v.dim,
            words,
            bits,
        }
    }

    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.bits.len().checked_div(self.words).unwrap_or(0)
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held for search.
    pub fn size_bytes(&self) -> u64 {
        (self.bits.len() * 8) as u64
    }

    /// The score of Hamming distance `h`: `1 − 2h/dim`.
    pub fn score(&self, h: u32) -> f32 {
        bit_score(h as f32, self.dim)
    }

    /// Every vector's Hamming distance to the sign bits `q`.
    pub fn distances(&self, q: &[u64]) -> Vec<u32> {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("popcnt") {
            #[allow(unsafe_code)]
            // SAFETY: `distances_popcnt` only needs POPCNT, which the CPU was found to have.
            return unsafe { distances_popcnt(&self.bits, self.words, q) };
        }
        distances_plain(&self.bits, self.words, q)
    }

    /// The top `n` chunks for float32 `query`: its sign bits' nearest by Hamming distance.
    pub fn search(&self, query: &[f32], n: usize) -> Result<Ranking> {
        check_dim(query.len(), self.dim)?;
        let dist = self.distances(&sign_bits(query));
        Ok(Ranking {
            hits: nearest(&dist, n, self.dim)
                .into_iter()
                .map(|c| Hit {
                    chunk: c,
                    score: self.score(dist[c as usize]),
                })
                .collect(),
        })
    }
}

#[inline(always)]
fn distances_plain(bits: &[u64], words: usize, q: &[u64]) -> Vec<u32> {
    bits.chunks_exact(words)
        .map(|row| hamming(row, q))
        .collect()
}

/// [`distances_plain`] compiled with the POPCNT instruction (the baseline x86-64 target
/// counts bits with a dozen shifts and masks instead).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
fn distances_popcnt(bits: &[u64], words: usize, q: &[u64]) -> Vec<u32> {
    distances_plain(bits, words, q)
}

/// The `n` smallest of `dist` (values at most `max`), ordered by distance then index, in
/// linear time: a count per distance finds the cut, then one pass collects.
fn nearest(dist: &[u32], n: usize, max: usize) -> Vec<u32> {
    let n = n.min(dist.len());
    let mut count = vec![0usize; max + 2];
    for &d in dist {
        count[(d as usize).min(max + 1)] += 1;
    }
    let (mut cut, mut below) = (0usize, 0usize);
    while cut < count.len() && below + count[cut] < n {
        below += count[cut];
        cut += 1;
    }
    // Every distance below `cut`, and the first `n − below` at `cut`, in index order.
    let mut room_at_cut = n - below;
    let mut out: Vec<u32> = Vec::with_capacity(n);
    for (i, &d) in dist.iter().enumerate() {
        let d = (d as usize).min(max + 1);
        if d < cut {
            out.push(i as u32);
        } else if d == cut && room_at_cut > 0 {
            room_at_cut -= 1;
            out.push(i as u32);
        }
    }
    out.sort_by_key(|&i| (dist[i as usize], i));
    out
}

/// Where rescoring reads float32 vectors from: memory, or a stored file read by ranges.
pub trait Rows: Sync {
    /// Write vector `i` into `out` (its length is the dimension).
    fn read_row(&self, i: usize, out: &mut [f32]) -> Result<()>;
}

impl Rows for Vectors {
    fn read_row(&self, i: usize, out: &mut [f32]) -> Result<()> {
        if i >= self.len() || out.len() != self.dim {
            return Err(VectorError::Dim {
                got: out.len(),
                want: self.dim,
            });
        }
        out.copy_from_slice(self.row(i));
        Ok(())
    }
}

/// `candidates` ranked by the dot product of `query` with their float32 vectors from
/// `rows`, the top `depth` kept (canonical order: score, then chunk index).
pub fn rescore(
    candidates: &Ranking,
    query: &[f32],
    rows: &dyn Rows,
    depth: usize,
) -> Result<Ranking> {
    let mut row = vec![0f32; query.len()];
    let mut hits = Vec::with_capacity(candidates.hits.len());
    for h in &candidates.hits {
        rows.read_row(h.chunk as usize, &mut row)?;
        hits.push(Hit {
            chunk: h.chunk,
            score: dot(query, &row),
        });
    }
    let mut r = Ranking::from_unsorted(hits);
    r.hits.truncate(depth);
    Ok(r)
}

fn check_dim(got: usize, want: usize) -> Result<()> {
    if got == want {
        Ok(())
    } else {
        Err(VectorError::Dim { got, want })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exact_search_one;
    use crate::tests::unit_vectors;

    /// Hand-worked: two dimensions spanning [−1, 1] and [0, 255]; 255 steps each.
    #[test]
    fn int8_codes_and_scores_by_hand() {
        let v = Vectors::new(2, vec![-1.0, 0.0, 1.0, 255.0, 0.5, 100.0]).unwrap();
        let q = Int8Vectors::quantise(&v);
        assert_eq!(q.calibration.min, vec![-1.0, 0.0]);
        assert_eq!(q.calibration.step, vec![2.0 / 255.0, 1.0]);
        // 0.5 is 191.25 steps above −1: code 191, read back as −1 + 382/255.
        assert_eq!(q.codes, vec![0, 0, 255, 255, 191, 100]);
        let back = -1.0 + 382.0 / 255.0;
        assert!((q.calibration.decode(0, 191) - back).abs() < 1e-6);
        // Query (1, 1): scores are x0 + x1 of the read-back vectors.
        let r = q.search(&[1.0, 1.0], 3).unwrap();
        assert_eq!(r.chunks().collect::<Vec<_>>(), vec![1, 2, 0]);
        assert!((r.hits[0].score - 256.0).abs() < 1e-4);
        assert!((r.hits[1].score - (back + 100.0)).abs() < 1e-4);
        assert!((r.hits[2].score - -1.0).abs() < 1e-5);
        let bytes = q.calibration.to_bytes();
        assert_eq!(
            Int8Calibration::from_bytes(&bytes, 2),
            Some(q.calibration.clone())
        );
        assert_eq!(Int8Calibration::from_bytes(&bytes, 3), None);
        assert_eq!(q.size_bytes(), 6 + 16);
    }

    /// Hand-worked: signs (+,−,+) and (−,−,+) differ in one of 3 bits: 1 − 2/3.
    #[test]
    fn binary_bits_and_scores_by_hand() {
        let v = Vectors::new(3, vec![0.5, -0.1, 0.2, -0.3, -0.2, 0.9]).unwrap();
        let b = BinaryVectors::quantise(&v);
        assert_eq!(b.bits, vec![0b101, 0b100]);
        let r = b.search(&[1.0, -1.0, 1.0], 2).unwrap();
        assert_eq!(r.chunks().collect::<Vec<_>>(), vec![0, 1]);
        assert_eq!(r.hits[0].score, 1.0);
        assert!((r.hits[1].score - (1.0 - 2.0 / 3.0)).abs() < 1e-6);
        // 130 dimensions take 3 words; bit 129 sits in the third.
        let mut x = vec![-1.0f32; 130];
        x[129] = 1.0;
        assert_eq!(sign_bits(&x), vec![0, 0, 0b10]);
        assert_eq!(hamming(&[u64::MAX, 1], &[0, 0]), 65);
    }

    /// The linear-time selection equals a full sort by (distance, index) at every n.
    #[test]
    fn nearest_equals_a_full_sort() {
        let dist: Vec<u32> = (0..500u32).map(|i| (i * 7919) % 13).collect();
        let mut all: Vec<u32> = (0..500).collect();
        all.sort_by_key(|&i| (dist[i as usize], i));
        for n in [0, 1, 5, 38, 39, 40, 100, 499, 500, 600] {
            assert_eq!(nearest(&dist, n, 12), all[..n.min(500)].to_vec(), "{n}");
        }
        let v = unit_vectors(300, 70, 3);
        let b = BinaryVectors::quantise(&v);
        let q = sign_bits(v.row(7));
        assert_eq!(
            b.distances(&q),
            distances_plain(&b.bits, b.words, &q),
            "POPCNT and plain counts agree"
        );
    }

    /// Quantised search keeps most of float32's top 10 on random unit vectors, and
    /// rescoring every candidate with float32 gives exact search's answer.
    #[test]
    fn quantised_search_is_close_and_full_rescoring_is_exact() {
        let v = unit_vectors(2000, 64, 5);
        let qs = unit_vectors(50, 64, 6);
        let (i8v, bin) = (Int8Vectors::quantise(&v), BinaryVectors::quantise(&v));
        let (mut kept8, mut kept1) = (0.0, 0.0);
        for qi in 0..qs.len() {
            let q = qs.row(qi);
            let exact = exact_search_one(&v, q, 10).unwrap();
            kept8 += crate::recall_vs_exact(&exact, &i8v.search(q, 10).unwrap(), 10);
            let pool = bin.search(q, 400).unwrap();
            kept1 += crate::recall_vs_exact(&exact, &rescore(&pool, q, &v, 10).unwrap(), 10);
            let all = bin.search(q, 2000).unwrap();
            assert_eq!(
                rescore(&all, q, &v, 10)
                    .unwrap()
                    .chunks()
                    .collect::<Vec<_>>(),
                exact.chunks().collect::<Vec<_>>()
            );
        }
        assert!(kept8 / 50.0 >= 0.95, "int8 kept {}", kept8 / 50.0);
        assert!(
            kept1 / 50.0 >= 0.9,
            "binary ×40 rescored kept {}",
            kept1 / 50.0
        );
    }
}
