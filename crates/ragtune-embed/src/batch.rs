//! How many texts go into one inference call: a fixed number, or, on a GPU, the size that
//! fills it, found by trying sizes on the texts at hand.

use std::fmt;
use std::str::FromStr;

/// Texts per inference call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchSize {
    /// Always this many (the last batch of a request may hold fewer).
    Fixed(usize),
    /// Found once per model by [`pick_batch`] over [`AUTO_CANDIDATES`]: the smallest size
    /// past which throughput stops rising, capped where a size fails (out of memory).
    Auto,
}

/// The sizes `auto` tries, in order.
pub const AUTO_CANDIDATES: [usize; 8] = [8, 16, 32, 64, 128, 256, 512, 1024];

/// A size must beat the best so far by this factor to be taken: smaller batches waste
/// less padding and hold less memory, so a larger one must earn its place.
pub const AUTO_GAIN: f64 = 1.05;

impl fmt::Display for BatchSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fixed(n) => write!(f, "{n}"),
            Self::Auto => f.write_str("auto"),
        }
    }
}

impl FromStr for BatchSize {
    type Err = String;

    /// A whole number of at least 1, or `auto`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "auto" => Ok(Self::Auto),
            t => match t.parse::<usize>() {
                Ok(0) => Err("must be at least 1, or `auto`".into()),
                Ok(n) => Ok(Self::Fixed(n)),
                Err(_) => Err(format!("{s:?} is neither a whole number nor `auto`")),
            },
        }
    }
}

/// The batch size to use: `rate(size)` is the measured throughput at a size (texts per
/// second), or `None` when that size failed. Sizes are tried in rising order; the search
/// stops at the first failure or at the first size that is not [`AUTO_GAIN`] times faster
/// than the best so far, and returns the best. When even the first size fails, it is
/// returned anyway: the real batches then report the failure.
pub fn pick_batch(candidates: &[usize], mut rate: impl FnMut(usize) -> Option<f64>) -> usize {
    let mut best: Option<(usize, f64)> = None;
    for &size in candidates {
        let Some(r) = rate(size) else { break };
        match best {
            Some((_, b)) if r < b * AUTO_GAIN => break,
            _ => best = Some((size, r)),
        }
    }
    best.map_or(candidates.first().copied().unwrap_or(1), |(s, _)| s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_until_throughput_stops_rising() {
        // Rates rise to 256 then flatten (a GPU full at 256): 512 gains 2%, not 5%.
        let rates = [100.0, 190.0, 350.0, 600.0, 900.0, 1000.0, 1020.0, 1500.0];
        let mut tried = vec![];
        let pick = pick_batch(&AUTO_CANDIDATES, |s| {
            tried.push(s);
            let i = AUTO_CANDIDATES.iter().position(|&c| c == s).unwrap();
            Some(rates[i])
        });
        assert_eq!(pick, 256);
        assert_eq!(
            tried,
            vec![8, 16, 32, 64, 128, 256, 512],
            "stops at the first flat size"
        );
    }

    #[test]
    fn a_failing_size_caps_the_search() {
        // Out of memory at 128: the best size below it.
        let pick = pick_batch(&AUTO_CANDIDATES, |s| (s < 128).then_some(s as f64));
        assert_eq!(pick, 64);
        // Throughput that falls at once keeps the smallest size.
        assert_eq!(pick_batch(&AUTO_CANDIDATES, |s| Some(1000.0 / s as f64)), 8);
        // Nothing runs: the first size, whose real batches will report the failure.
        assert_eq!(pick_batch(&AUTO_CANDIDATES, |_| None), 8);
        // Still rising at the largest size: the largest.
        assert_eq!(pick_batch(&AUTO_CANDIDATES, |s| Some(s as f64)), 1024);
    }

    #[test]
    fn parses_numbers_and_auto_and_refuses_the_rest() {
        assert_eq!("auto".parse::<BatchSize>(), Ok(BatchSize::Auto));
        assert_eq!("64".parse::<BatchSize>(), Ok(BatchSize::Fixed(64)));
        assert!("0".parse::<BatchSize>().unwrap_err().contains("at least 1"));
        assert!("big".parse::<BatchSize>().unwrap_err().contains("neither"));
        assert_eq!(BatchSize::Fixed(8).to_string(), "8");
        assert_eq!(BatchSize::Auto.to_string(), "auto");
    }
}
