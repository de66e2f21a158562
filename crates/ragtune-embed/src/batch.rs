//! How many texts go into one inference call: a fixed number; as many as fit a budget of
//! padded tokens (the CPU default); or, on a GPU, the size that fills it, found by trying
//! sizes on the texts at hand.

use std::fmt;
use std::str::FromStr;

/// Texts per inference call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchSize {
    /// Always this many (the last batch of a request may hold fewer).
    Fixed(usize),
    /// As many texts as fit this many padded tokens (texts × the longest of them, which
    /// [`token_batches`] works out over texts sorted by length); a longer text goes alone.
    Tokens(usize),
    /// Found once per model by [`pick_batch`] over [`AUTO_CANDIDATES`]: the smallest size
    /// past which throughput stops rising, capped where a size fails (out of memory).
    Auto,
}

/// The sizes `auto` tries, in order.
pub const AUTO_CANDIDATES: [usize; 8] = [8, 16, 32, 64, 128, 256, 512, 1024];

/// The CPU default, in padded tokens per call. On this machine (docs/performance.md,
/// "Batch size on CPU") one session of one thread runs fastest near 256–512 padded tokens
/// per call at every text length: 32 texts of 16 tokens, 8 of 64, 2 of 128, 1 of 256; a
/// fixed 8 texts of 256 tokens runs 23% slower, its activations out of cache. With two
/// sessions side by side, sweeps ran 8–18% faster at 256 than at 8 texts, and 2–5%
/// faster than at 512.
pub const CPU_BATCH_TOKENS: usize = 256;

/// A size must beat the best so far by this factor to be taken: smaller batches waste
/// less padding and hold less memory, so a larger one must earn its place.
pub const AUTO_GAIN: f64 = 1.05;

impl fmt::Display for BatchSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fixed(n) => write!(f, "{n}"),
            Self::Tokens(n) => write!(f, "tokens:{n}"),
            Self::Auto => f.write_str("auto"),
        }
    }
}

impl FromStr for BatchSize {
    type Err = String;

    /// A whole number of at least 1 (texts), `tokens:N` (padded tokens, N ≥ 1), or `auto`.
    fn from_str(s: &str) -> Result<Self, String> {
        let whole = |t: &str, what: &str| match t.trim().parse::<usize>() {
            Ok(0) => Err(format!("{what} must be at least 1")),
            Ok(n) => Ok(n),
            Err(_) => Err(format!(
                "{s:?} is not a batch size: expected a whole number, `tokens:N` or `auto`"
            )),
        };
        match s.trim() {
            "auto" => Ok(Self::Auto),
            t => match t.strip_prefix("tokens:") {
                Some(n) => whole(n, "the token budget").map(Self::Tokens),
                None => whole(t, "the batch size").map(Self::Fixed),
            },
        }
    }
}

/// Cut `order` (text indices sorted by rising `len`) into batches of at most `budget`
/// padded tokens: each batch takes the next text while its count times that text's length
/// (the batch's longest, since lengths rise) stays within the budget. A text longer than
/// the budget forms a batch of its own, so that every text is embedded.
pub fn token_batches(
    order: &[usize],
    len: impl Fn(usize) -> usize,
    budget: usize,
) -> Vec<&[usize]> {
    let mut batches = Vec::new();
    let mut start = 0;
    for (k, &i) in order.iter().enumerate() {
        if k > start && (k + 1 - start) * len(i) > budget {
            batches.push(&order[start..k]);
            start = k;
        }
    }
    if start < order.len() {
        batches.push(&order[start..]);
    }
    batches
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
    fn parses_numbers_budgets_and_auto_and_refuses_the_rest() {
        assert_eq!("auto".parse::<BatchSize>(), Ok(BatchSize::Auto));
        assert_eq!("64".parse::<BatchSize>(), Ok(BatchSize::Fixed(64)));
        assert_eq!(
            "tokens:512".parse::<BatchSize>(),
            Ok(BatchSize::Tokens(512))
        );
        assert!("0".parse::<BatchSize>().unwrap_err().contains("at least 1"));
        let zero = "tokens:0".parse::<BatchSize>().unwrap_err();
        assert!(zero.contains("token budget must be at least 1"), "{zero}");
        assert!(
            "big"
                .parse::<BatchSize>()
                .unwrap_err()
                .contains("expected a whole number")
        );
        assert!(
            "tokens:lots"
                .parse::<BatchSize>()
                .unwrap_err()
                .contains("tokens:N")
        );
        for b in [BatchSize::Fixed(8), BatchSize::Tokens(512), BatchSize::Auto] {
            assert_eq!(b.to_string().parse::<BatchSize>(), Ok(b), "{b} round-trips");
        }
        assert_eq!(BatchSize::Tokens(512).to_string(), "tokens:512");
    }

    #[test]
    fn token_batches_fill_the_budget_with_padded_tokens() {
        // Lengths (sorted): 10 10 10 30 30 60 200 700; budget 100 padded tokens.
        let lens = [10, 10, 10, 30, 30, 60, 200, 700];
        let order: Vec<usize> = (0..lens.len()).collect();
        let got = token_batches(&order, |i| lens[i], 100);
        // [10,10,10] could take a 4th text of 30 only at 4 × 30 = 120 > 100; [30,30]
        // and a 60 would pad to 180; 200 and 700 exceed the budget and go alone.
        let want: Vec<&[usize]> = vec![&[0, 1, 2], &[3, 4], &[5], &[6], &[7]];
        assert_eq!(got, want);
        // Every text appears once, in order, whatever the budget.
        for budget in [1, 7, 100, 10_000] {
            let flat: Vec<usize> = token_batches(&order, |i| lens[i], budget).concat();
            assert_eq!(flat, order, "budget {budget}");
        }
        // Equal lengths: budget / length texts per batch.
        let same: Vec<usize> = (0..10).collect();
        let sizes: Vec<usize> = token_batches(&same, |_| 128, 512)
            .iter()
            .map(|b| b.len())
            .collect();
        assert_eq!(sizes, vec![4, 4, 2]);
        assert!(token_batches(&[], |_: usize| 1, 512).is_empty());
    }
}
