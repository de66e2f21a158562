//! Uncertainty over questions: a seeded percentile bootstrap of a mean, and of a paired
//! mean difference. Deterministic: the same values give the same interval on every
//! machine and run.
//!
//! - [`bootstrap_ci`]: resample the n per-question values with replacement
//!   [`RESAMPLES`] times, take each resample's mean, and report the 2.5th and 97.5th
//!   percentiles of those means (linear interpolation between order statistics).
//! - [`paired_diff`]: the same over the per-question differences `a_i − b_i` of two
//!   setups on the same questions. The difference is significant at the 95% level when
//!   the interval excludes 0.

/// Bootstrap resamples.
pub const RESAMPLES: usize = 2000;
/// The generator's seed: fixed, so intervals are reproducible.
pub const SEED: u64 = 0x0005_EED0_F2A6_7E5E;

use strength_reduce::StrengthReducedU64;

/// SplitMix64: a small, well-mixed, seedable generator (no dependency needed).
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// `next() % n`, with the modulo by multiplication ([`StrengthReducedU64`]): the
    /// same value a hardware division gives, several times faster.
    fn below(&mut self, n: StrengthReducedU64) -> usize {
        (self.next() % n) as usize
    }
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// The 95% percentile-bootstrap interval of the mean of `values`; `None` when empty.
pub fn bootstrap_ci(values: &[f64]) -> Option<(f64, f64)> {
    bootstrap_cis(&[values]).pop().flatten()
}

/// [`bootstrap_ci`] of several columns over the same questions (equal lengths), drawing
/// each resample's questions once for all of them: a row's metrics cost one set of draws.
/// Each column's interval equals `bootstrap_ci` of that column alone.
pub fn bootstrap_cis(columns: &[&[f64]]) -> Vec<Option<(f64, f64)>> {
    let n = columns.first().map_or(0, |c| c.len());
    assert!(
        columns.iter().all(|c| c.len() == n),
        "columns over the same questions"
    );
    if n == 0 {
        return vec![None; columns.len()];
    }
    // A column of all zeros or all ones (judged@k with complete labels, a metric every
    // question scores 1 on) has the interval [v, v] exactly: every resample's sum is
    // v·n and v·n / n is v in floating point. It is left out of the draws, which are the
    // same for the other columns either way.
    let constant: Vec<Option<f64>> = columns
        .iter()
        .map(|c| {
            let v = c[0];
            ((v == 0.0 || v == 1.0) && c.iter().all(|&x| x == v)).then_some(v)
        })
        .collect();
    let drawn: Vec<&[f64]> = columns
        .iter()
        .zip(&constant)
        .filter(|(_, k)| k.is_none())
        .map(|(c, _)| *c)
        .collect();
    let mut intervals = draw(&drawn, n).into_iter();
    constant
        .into_iter()
        .map(|k| match k {
            Some(v) => Some((v, v)),
            None => intervals.next().flatten(),
        })
        .collect()
}

/// Columns summed together: one 64-byte row of values per drawn question.
const LANES: usize = 8;

/// The percentile intervals of `columns` (each `n` long) from [`RESAMPLES`] shared draws.
/// Columns go [`LANES`] at a time, laid out question by question, so that a draw reads one
/// cache line and the sums advance as one vector; each column's sum still adds its values
/// in draw order, so every interval is the one a column drawn alone gets.
fn draw(columns: &[&[f64]], n: usize) -> Vec<Option<(f64, f64)>> {
    columns
        .chunks(LANES)
        .flat_map(|g| match g.len() {
            1 => draw_group::<1>(g, n),
            _ => draw_group::<LANES>(g, n),
        })
        .collect()
}

/// The intervals of up to `L` columns.
fn draw_group<const L: usize>(group: &[&[f64]], n: usize) -> Vec<Option<(f64, f64)>> {
    let rows: Vec<[f64; L]> = (0..n)
        .map(|i| {
            let mut row = [0.0; L];
            for (v, c) in row.iter_mut().zip(group) {
                *v = c[i];
            }
            row
        })
        .collect();
    let mut rng = SplitMix(SEED ^ n as u64);
    let below = StrengthReducedU64::new(n as u64);
    let mut means = vec![Vec::with_capacity(RESAMPLES); group.len()];
    for _ in 0..RESAMPLES {
        let mut sums = [0.0; L];
        for _ in 0..n {
            let row = &rows[rng.below(below)];
            for (s, v) in sums.iter_mut().zip(row) {
                *s += v;
            }
        }
        for (m, s) in means.iter_mut().zip(sums) {
            m.push(s / n as f64);
        }
    }
    means
        .into_iter()
        .map(|mut m| {
            m.sort_by(f64::total_cmp);
            Some((quantile(&m, 0.025), quantile(&m, 0.975)))
        })
        .collect()
}

/// A paired difference `a − b` over the same questions, with its 95% interval.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PairedDiff {
    /// Mean of `a_i − b_i`.
    pub mean: f64,
    /// Lower bound of the interval.
    pub low: f64,
    /// Upper bound of the interval.
    pub high: f64,
    /// Questions paired.
    pub n: usize,
}

impl PairedDiff {
    /// Whether the interval excludes 0.
    pub fn significant(&self) -> bool {
        self.low > 0.0 || self.high < 0.0
    }
}

/// The paired difference of `a` and `b` (same length, same questions in the same order).
pub fn paired_diff(a: &[f64], b: &[f64]) -> Option<PairedDiff> {
    assert_eq!(a.len(), b.len(), "paired values");
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let (low, high) = bootstrap_ci(&d)?;
    Some(PairedDiff {
        mean: d.iter().sum::<f64>() / d.len() as f64,
        low,
        high,
        n: d.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The draws as first written: a hardware modulo per draw, one column at a time.
    fn reference(column: &[f64]) -> (f64, f64) {
        let n = column.len();
        let mut rng = SplitMix(SEED ^ n as u64);
        let mut means = Vec::new();
        for _ in 0..RESAMPLES {
            let mut sum = 0.0;
            for _ in 0..n {
                sum += column[(rng.next() % n as u64) as usize];
            }
            means.push(sum / n as f64);
        }
        means.sort_by(f64::total_cmp);
        (quantile(&means, 0.025), quantile(&means, 0.975))
    }

    #[test]
    fn grouped_draws_give_every_column_the_intervals_of_the_first_implementation() {
        // Eleven columns (a group of eight, then three), values that do not sum exactly.
        let n = 357;
        let columns: Vec<Vec<f64>> = (0..11)
            .map(|c| {
                (0..n)
                    .map(|i| ((i * 31 + c * 7) % 17) as f64 / 7.0)
                    .collect()
            })
            .collect();
        let refs: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
        let got = bootstrap_cis(&refs);
        for (c, g) in columns.iter().zip(got) {
            let (lo, hi) = g.unwrap();
            let (rlo, rhi) = reference(c);
            assert_eq!((lo.to_bits(), hi.to_bits()), (rlo.to_bits(), rhi.to_bits()));
        }
        assert_eq!(bootstrap_ci(&columns[3]), Some(reference(&columns[3])));
    }

    /// The full draw of a column, as before constant columns were left out.
    fn drawn_alone(c: &[f64]) -> Option<(f64, f64)> {
        draw(&[c], c.len()).pop().flatten()
    }

    #[test]
    fn constant_zero_or_one_columns_skip_the_draws_and_change_nothing() {
        let ones = vec![1.0; 37];
        let zeros = vec![0.0; 37];
        let mixed: Vec<f64> = (0..37).map(|i| f64::from(i % 3 == 0)).collect();
        let out = bootstrap_cis(&[&ones, &mixed, &zeros]);
        assert_eq!(out[0], drawn_alone(&ones));
        assert_eq!(out[0], Some((1.0, 1.0)));
        assert_eq!(out[2], drawn_alone(&zeros));
        // The other columns see the same draws, so their intervals are unchanged.
        assert_eq!(out[1], drawn_alone(&mixed));
        assert_eq!(out[1], bootstrap_cis(&[&mixed])[0]);
        // A constant other than 0 or 1 is drawn like any column.
        let third = vec![0.3; 37];
        assert_eq!(bootstrap_cis(&[&third])[0], drawn_alone(&third));
    }

    #[test]
    fn hand_worked_intervals() {
        // One value, or all equal: every resample has the same mean.
        assert_eq!(bootstrap_ci(&[0.7]), Some((0.7, 0.7)));
        assert_eq!(bootstrap_ci(&[0.25; 40]), Some((0.25, 0.25)));
        assert_eq!(bootstrap_ci(&[]), None);
        // Two values 0 and 1: a resample's mean is 0, 0.5 or 1 with chances 1/4, 1/2, 1/4,
        // so the 2.5th and 97.5th percentiles of 2000 resample means are 0 and 1.
        assert_eq!(bootstrap_ci(&[0.0, 1.0]), Some((0.0, 1.0)));
        // 100 values, half 1: the mean's standard error is 0.05, so the interval is
        // about 0.5 ± 0.098.
        let v: Vec<f64> = (0..100).map(|i| (i % 2) as f64).collect();
        let (lo, hi) = bootstrap_ci(&v).unwrap();
        assert!(
            (lo - 0.402).abs() < 0.02 && (hi - 0.598).abs() < 0.02,
            "{lo} {hi}"
        );
        assert_eq!(
            bootstrap_ci(&v),
            Some((lo, hi)),
            "seeded: the same every time"
        );
    }

    #[test]
    fn several_columns_share_draws_and_equal_one_at_a_time() {
        let a: Vec<f64> = (0..37).map(|i| (i % 3) as f64 / 2.0).collect();
        let b: Vec<f64> = (0..37).map(|i| ((i * 7) % 5) as f64).collect();
        let both = bootstrap_cis(&[&a, &b]);
        assert_eq!(both, vec![bootstrap_ci(&a), bootstrap_ci(&b)]);
        assert_eq!(bootstrap_cis(&[&[], &[]]), vec![None, None]);
    }

    #[test]
    fn paired_differences_and_significance() {
        let a = vec![1.0; 50];
        let b = vec![0.0; 50];
        let d = paired_diff(&a, &b).unwrap();
        assert_eq!((d.mean, d.low, d.high, d.n), (1.0, 1.0, 1.0, 50));
        assert!(d.significant());
        // Identical setups: zero, not significant.
        let d = paired_diff(&a, &a).unwrap();
        assert_eq!((d.mean, d.low, d.high), (0.0, 0.0, 0.0));
        assert!(!d.significant());
        // One question of 50 differs: the interval reaches 0.
        let mut c = a.clone();
        c[7] = 0.0;
        let d = paired_diff(&a, &c).unwrap();
        assert!(
            (d.mean - 0.02).abs() < 1e-12 && d.low == 0.0 && !d.significant(),
            "{d:?}"
        );
    }
}
