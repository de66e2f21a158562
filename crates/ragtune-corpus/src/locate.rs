//! Finding a quoted answer in the documents.
//!
//! An answer is looked for in three steps, each only when the one before found nothing:
//! 1. **exact**: the answer's bytes, at word boundaries (an answer that starts or ends with
//!    a letter or digit does not match inside a longer word), or, only where it occurs
//!    nowhere at word boundaries, inside words (SQuAD has answers like "wards" for
//!    "towards");
//! 2. **normalised**: both texts normalised by [`normalize`] (case, whitespace, quotes,
//!    dashes, ligatures, soft hyphens, zero-width characters and words hyphenated at line
//!    ends), at word boundaries or, failing that, inside words;
//! 3. **fuzzy**, only for answers of at least [`FUZZY_MIN_CHARS`] normalised characters:
//!    approximate substring matching (Sellers 1980) on the normalised texts, with the
//!    Levenshtein distance counted over their UTF-8 bytes. A place matches when its
//!    similarity `1 − distance / answer length` is at least [`FUZZY_MIN_SCORE`]; the places
//!    with the best similarity are kept.
//!
//! Every place found is an **alternative**: the answer counts as found when any one of them
//! is covered.

use std::sync::OnceLock;

use ragtune_core::{DocId, Document};

/// The shortest answer (in normalised bytes) that is matched fuzzily: shorter ones match
/// by chance too often.
pub const FUZZY_MIN_CHARS: usize = 20;
/// The least similarity (`1 − edits / length`) of a fuzzy match: at most one edit per
/// ten bytes of the answer.
pub const FUZZY_MIN_SCORE: f64 = 0.9;
/// The longest prefix of an answer that is compared when looking for the nearest place of
/// an answer that was not found.
const NEAREST_MAX_BYTES: usize = 200;

/// How an answer was found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MatchKind {
    /// Byte for byte.
    Exact,
    /// After normalisation.
    Normalised,
    /// Approximately, with this similarity.
    Fuzzy(f64),
}

/// A place in a document: bytes `[start, end)` of `doc`, with a similarity (1 for exact).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Place {
    /// The document.
    pub doc: DocId,
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
    /// `1 − edits / length` of the normalised answer against this place.
    pub score: f64,
}

/// The outcome of looking for one answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Located {
    /// Found at one or more places (alternatives).
    Found {
        /// How.
        kind: MatchKind,
        /// Where, in document order.
        places: Vec<Place>,
    },
    /// Not found; the nearest places (best first), whatever their similarity.
    NotFound {
        /// Up to three, from different documents.
        nearest: Vec<Place>,
    },
}

/// A text normalised for matching, with the source bytes each of its bytes came from.
#[derive(Debug, Clone)]
pub struct Normalized {
    /// The normalised text.
    pub text: String,
    /// Per byte of `text`: the source bytes `[start, end)` of the character it came from.
    origin: Vec<(usize, usize)>,
}

impl Normalized {
    /// The source bytes of normalised bytes `[start, end)` (`start < end`).
    fn source(&self, start: usize, end: usize) -> (usize, usize) {
        (self.origin[start].0, self.origin[end - 1].1)
    }
}

/// What a character becomes, as text: ligatures spread, quotes and dashes unified, soft
/// hyphens dropped. `None` leaves the character to the caller (lower-cased).
fn fold(c: char) -> Option<&'static str> {
    Some(match c {
        '\u{ad}' | '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{2060}' | '\u{feff}' => "",
        'ﬀ' => "ff",
        'ﬁ' => "fi",
        'ﬂ' => "fl",
        'ﬃ' => "ffi",
        'ﬄ' => "ffl",
        'ﬅ' | 'ﬆ' => "st",
        '‘' | '’' | '‚' | '‛' | '′' | '`' => "'",
        '“' | '”' | '„' | '‟' | '″' => "\"",
        '‐' | '‑' | '‒' | '–' | '—' | '−' => "-",
        _ => return None,
    })
}

fn is_hyphen(c: char) -> bool {
    matches!(c, '-' | '‐' | '\u{2}')
}

/// Length of the line-end hyphenation at `rest` (which starts with a hyphen) when the
/// hyphen follows a letter and is followed by whitespace holding a line break and then a
/// letter: the bytes to drop, hyphen and whitespace.
fn line_end_hyphen(prev_is_letter: bool, rest: &str) -> Option<usize> {
    let mut chars = rest.char_indices();
    let (_, h) = chars.next()?;
    if !prev_is_letter || !is_hyphen(h) {
        return None;
    }
    let mut newline = false;
    for (i, c) in chars {
        if c == '\n' || c == '\r' {
            newline = true;
        } else if !c.is_whitespace() {
            return (newline && c.is_alphabetic()).then_some(i);
        }
    }
    None
}

/// Normalise `s` for matching: lower case; every run of whitespace one space, none at the
/// ends; curly quotes straight; dashes and hyphen forms `-`; ligatures spelled out; soft
/// hyphens dropped; a word hyphenated at a line end joined.
pub fn normalize(s: &str) -> Normalized {
    let mut out = Normalized {
        text: String::with_capacity(s.len()),
        origin: Vec::with_capacity(s.len()),
    };
    let mut skip_to = 0;
    for (i, c) in s.char_indices() {
        if i < skip_to {
            continue;
        }
        let end = i + c.len_utf8();
        let prev_letter = out
            .text
            .chars()
            .next_back()
            .is_some_and(char::is_alphabetic);
        if let Some(n) = line_end_hyphen(prev_letter, &s[i..]) {
            skip_to = i + n;
            continue;
        }
        if c.is_whitespace() {
            if !out.text.is_empty() && !out.text.ends_with(' ') {
                push(&mut out, " ", (i, end));
            }
            continue;
        }
        match fold(c) {
            Some(f) => push(&mut out, f, (i, end)),
            None => {
                for l in c.to_lowercase() {
                    push(&mut out, l.encode_utf8(&mut [0; 4]), (i, end));
                }
            }
        }
    }
    if out.text.ends_with(' ') {
        out.text.pop();
        out.origin.pop();
    }
    out
}

fn push(out: &mut Normalized, s: &str, origin: (usize, usize)) {
    out.text.push_str(s);
    out.origin.extend(std::iter::repeat_n(origin, s.len()));
}

fn word_char(c: Option<char>) -> bool {
    c.is_some_and(char::is_alphanumeric)
}

/// Byte offsets of the occurrences of `needle` in `hay` (overlapping ones too): those at
/// word boundaries where the needle's own ends are word characters, or, when `bounded`
/// is false, all of them.
fn occurrences(hay: &str, needle: &str, bounded: bool) -> Vec<usize> {
    let (first, last) = (needle.chars().next(), needle.chars().next_back());
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(p) = hay[from..].find(needle) {
        let at = from + p;
        let end = at + needle.len();
        let before_ok = !word_char(first) || !word_char(hay[..at].chars().next_back());
        let after_ok = !word_char(last) || !word_char(hay[end..].chars().next());
        if !bounded || (before_ok && after_ok) {
            out.push(at);
        }
        from = at + hay[at..].chars().next().map_or(1, char::len_utf8);
    }
    out
}

/// Finds answers in a set of documents, normalising each document once, when first needed.
pub struct Locator<'a> {
    docs: &'a [Document],
    normalized: Vec<OnceLock<Normalized>>,
    nearest: bool,
}

impl<'a> Locator<'a> {
    /// A locator over `docs`.
    pub fn new(docs: &'a [Document]) -> Self {
        Self {
            docs,
            normalized: (0..docs.len()).map(|_| OnceLock::new()).collect(),
            nearest: true,
        }
    }

    /// Whether an answer not found gets its nearest places (the costly part of a miss:
    /// one pass over every document in scope); a sweep that drops misses needs none.
    pub fn with_nearest(mut self, nearest: bool) -> Self {
        self.nearest = nearest;
        self
    }

    fn norm(&self, d: DocId) -> &Normalized {
        self.normalized[d as usize].get_or_init(|| normalize(&self.docs[d as usize].text))
    }

    /// Look for `answer` in the documents `scope` (every document when `None`).
    pub fn locate(&self, answer: &str, scope: Option<&[DocId]>) -> Located {
        let all: Vec<DocId>;
        let scope = match scope {
            Some(s) => s,
            None => {
                all = (0..self.docs.len() as DocId).collect();
                &all
            }
        };
        let needle = normalize(answer).text;
        if needle.is_empty() {
            return Located::NotFound {
                nearest: Vec::new(),
            };
        }
        for bounded in [true, false] {
            let exact = self.exact(answer, scope, bounded);
            if !exact.is_empty() {
                return found(MatchKind::Exact, exact);
            }
            let norm = self.normalised(&needle, scope, bounded);
            if !norm.is_empty() {
                return found(MatchKind::Normalised, norm);
            }
        }
        if needle.len() >= FUZZY_MIN_CHARS {
            let fuzzy = self.fuzzy(&needle, scope);
            if let Some(best) = fuzzy.first().map(|p| p.score) {
                return found(MatchKind::Fuzzy(best), fuzzy);
            }
        }
        Located::NotFound {
            nearest: if self.nearest {
                self.nearest(&needle, scope)
            } else {
                Vec::new()
            },
        }
    }

    fn exact(&self, answer: &str, scope: &[DocId], bounded: bool) -> Vec<Place> {
        let mut out = Vec::new();
        for &d in scope {
            for at in occurrences(&self.docs[d as usize].text, answer, bounded) {
                out.push(Place {
                    doc: d,
                    start: at,
                    end: at + answer.len(),
                    score: 1.0,
                });
            }
        }
        out
    }

    fn normalised(&self, needle: &str, scope: &[DocId], bounded: bool) -> Vec<Place> {
        let mut out = Vec::new();
        for &d in scope {
            let n = self.norm(d);
            for at in occurrences(&n.text, needle, bounded) {
                let (start, end) = n.source(at, at + needle.len());
                out.push(Place {
                    doc: d,
                    start,
                    end,
                    score: 1.0,
                });
            }
        }
        out
    }

    /// The fuzzy places with the best similarity at or above [`FUZZY_MIN_SCORE`].
    fn fuzzy(&self, needle: &str, scope: &[DocId]) -> Vec<Place> {
        let m = needle.len();
        // 1 − k/m ≥ 0.9 exactly, in integers (0.1 · m in floating point is a hair short
        // for multiples of 10).
        let k = m / 10;
        let mut hits: Vec<(usize, Place)> = Vec::new();
        for &d in scope {
            let n = self.norm(d);
            for w in candidate_windows(n.text.as_bytes(), needle.as_bytes(), k) {
                for (dist, s, e) in sellers(&n.text.as_bytes()[w.0..w.1], needle.as_bytes(), k) {
                    let (start, end) = n.source(w.0 + s, w.0 + e);
                    let score = 1.0 - dist as f64 / m as f64;
                    hits.push((
                        dist,
                        Place {
                            doc: d,
                            start,
                            end,
                            score,
                        },
                    ));
                }
            }
        }
        let Some(best) = hits.iter().map(|h| h.0).min() else {
            return Vec::new();
        };
        let mut places: Vec<Place> = hits
            .into_iter()
            .filter(|h| h.0 == best)
            .map(|h| h.1)
            .collect();
        places.sort_by_key(|p| (p.doc, p.start));
        places.dedup_by(|b, a| a.doc == b.doc && b.start < a.end);
        places
    }

    /// The best place in each document of `scope`, the three best documents first.
    fn nearest(&self, needle: &str, scope: &[DocId]) -> Vec<Place> {
        let cut = floor_char_boundary(needle, NEAREST_MAX_BYTES);
        let pat = &needle.as_bytes()[..cut];
        let mut best: Vec<Place> = scope
            .iter()
            .filter_map(|&d| {
                let n = self.norm(d);
                let (dist, s, e) = sellers(n.text.as_bytes(), pat, pat.len())
                    .into_iter()
                    .min_by_key(|h| h.0)?;
                let (start, end) = n.source(s, e);
                let score = 1.0 - dist as f64 / pat.len() as f64;
                Some(Place {
                    doc: d,
                    start,
                    end,
                    score,
                })
            })
            .collect();
        best.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.doc.cmp(&b.doc)));
        best.truncate(3);
        best
    }
}

fn floor_char_boundary(s: &str, max: usize) -> usize {
    let mut i = max.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn found(kind: MatchKind, mut places: Vec<Place>) -> Located {
    places.sort_by_key(|p| (p.doc, p.start));
    Located::Found { kind, places }
}

/// The windows of `text` that can hold a match of `pat` with at most `k` edits: split
/// `pat` into `k + 1` pieces, one of which any such match holds unchanged (pigeonhole),
/// and take each exact piece hit widened by the pattern and `k` on both sides; overlapping
/// windows are merged.
fn candidate_windows(text: &[u8], pat: &[u8], k: usize) -> Vec<(usize, usize)> {
    let pieces = k + 1;
    let len = pat.len() / pieces;
    let mut windows = Vec::new();
    for i in 0..pieces {
        let off = i * len;
        let piece = if i + 1 == pieces {
            &pat[off..]
        } else {
            &pat[off..off + len]
        };
        let mut from = 0;
        while let Some(p) = find(&text[from..], piece) {
            let at = from + p;
            let lo = at.saturating_sub(off + k);
            let hi = (at - off.min(at) + pat.len() + k).min(text.len());
            windows.push((lo, hi.max(lo)));
            from = at + 1;
        }
    }
    windows.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (lo, hi) in windows {
        match merged.last_mut() {
            Some(last) if lo <= last.1 => last.1 = last.1.max(hi),
            _ => merged.push((lo, hi)),
        }
    }
    merged
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > hay.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Sellers' approximate substring matching: every local best match of `pat` in `text`
/// with at most `k` edits, as `(edits, start, end)`. A run of adjacent end positions
/// within `k` gives one match, its best end (the first on a tie); the start comes from
/// the path that reached it.
fn sellers(text: &[u8], pat: &[u8], k: usize) -> Vec<(usize, usize, usize)> {
    let m = pat.len();
    // Column j of the DP: cost[i] = least edits turning pat[..i] into a text substring
    // ending at j, start[i] = where that substring begins.
    let mut cost: Vec<usize> = (0..=m).collect();
    let mut start: Vec<usize> = vec![0; m + 1];
    let mut out = Vec::new();
    let mut run: Option<(usize, usize, usize)> = None;
    for (j, &t) in text.iter().enumerate() {
        let (mut diag, mut diag_start) = (cost[0], start[0]);
        start[0] = j + 1;
        for i in 1..=m {
            let (up, up_start) = (cost[i], start[i]);
            let sub = diag + usize::from(pat[i - 1] != t);
            let (mut best, mut best_start) = (sub, diag_start);
            if up + 1 < best {
                (best, best_start) = (up + 1, up_start);
            }
            if cost[i - 1] + 1 < best {
                (best, best_start) = (cost[i - 1] + 1, start[i - 1]);
            }
            (diag, diag_start) = (up, up_start);
            cost[i] = best;
            start[i] = best_start;
        }
        if cost[m] <= k {
            let here = (cost[m], start[m], j + 1);
            run = Some(match run {
                Some(r) if r.0 <= here.0 => r,
                _ => here,
            });
        } else if let Some(r) = run.take() {
            out.push(r);
        }
    }
    out.extend(run);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Document {
        Document {
            id: "d".into(),
            text: text.into(),
            ..Document::default()
        }
    }

    /// Plain Levenshtein distance, for checking the matcher.
    fn levenshtein(a: &[u8], b: &[u8]) -> usize {
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, &x) in a.iter().enumerate() {
            let mut prev = row[0];
            row[0] = i + 1;
            for (j, &y) in b.iter().enumerate() {
                let cur = row[j + 1];
                row[j + 1] = (prev + usize::from(x != y)).min(cur + 1).min(row[j] + 1);
                prev = cur;
            }
        }
        row[b.len()]
    }

    #[test]
    fn normalisation_folds_what_extraction_changes() {
        let n = normalize("  The “ﬁnal”\u{a0}cut—a  well-\n  known hyphen-\nation, O\u{ad}K  ");
        assert_eq!(n.text, "the \"final\" cut-a wellknown hyphenation, ok");
        // Every normalised byte points back into the source.
        let (s, e) = n.source(4, 11);
        assert_eq!(&"  The “ﬁnal”\u{a0}cut"[s..e], "“ﬁnal”");
        // A hyphen between a letter and a digit, or without a line break, stays.
        assert_eq!(
            normalize("COVID-\n19 and e-mail").text,
            "covid- 19 and e-mail"
        );
    }

    #[test]
    fn exact_matches_respect_word_boundaries_and_find_every_place() {
        let docs = [doc("the theme, the end; the"), doc("other the")];
        let l = Locator::new(&docs);
        let Located::Found { kind, places } = l.locate("the", None) else {
            panic!()
        };
        assert_eq!(kind, MatchKind::Exact);
        let at: Vec<(DocId, usize)> = places.iter().map(|p| (p.doc, p.start)).collect();
        assert_eq!(at, vec![(0, 0), (0, 11), (0, 20), (1, 6)]);
        // The scope limits the search.
        let Located::Found { places, .. } = l.locate("the", Some(&[1])) else {
            panic!()
        };
        assert_eq!(places.len(), 1);
        // Punctuation at the answer's edge needs no boundary.
        assert!(matches!(l.locate(", the", None), Located::Found { .. }));
        // Inside a word only where it is nowhere else.
        let Located::Found { places, .. } = l.locate("hem", None) else {
            panic!()
        };
        assert_eq!((places.len(), places[0].start), (1, 5));
    }

    #[test]
    fn normalised_matches_map_back_to_source_bytes() {
        let text = "He said:\n“The  ﬁrst\nrule” was writ-\nten down.";
        let docs = [doc(text)];
        let l = Locator::new(&docs);
        let Located::Found { kind, places } = l.locate("\"the first rule\" was written", None)
        else {
            panic!()
        };
        assert_eq!(kind, MatchKind::Normalised);
        let p = places[0];
        assert_eq!(&text[p.start..p.end], "“The  ﬁrst\nrule” was writ-\nten");
    }

    #[test]
    fn fuzzy_matches_long_answers_within_the_threshold() {
        let text = "Intro. The quick brown fox jumped over the lazy dog. Outro.";
        let docs = [doc(text)];
        let l = Locator::new(&docs);
        // 44 bytes, two edits ("jumps" for "jumped": one substitution, one deletion).
        let answer = "the quick brown fox jumps over the lazy dog.";
        let Located::Found { kind, places } = l.locate(answer, None) else {
            panic!()
        };
        let MatchKind::Fuzzy(score) = kind else {
            panic!("{kind:?}")
        };
        assert!((score - (1.0 - 2.0 / 44.0)).abs() < 1e-12, "{score}");
        let p = places[0];
        assert_eq!(
            &text[p.start..p.end],
            "The quick brown fox jumped over the lazy dog."
        );
        // Exactly at the threshold: 20 bytes, 2 substitutions, similarity 0.90.
        let docs20 = [doc("x abcdefghij klmnopqrs y")];
        let at = Locator::new(&docs20).locate("abcdefghiX klmnopqrY", None);
        assert!(
            matches!(at, Located::Found { kind: MatchKind::Fuzzy(s), .. } if (s - 0.9).abs() < 1e-9),
            "{at:?}"
        );
        // Short answers are never matched fuzzily.
        assert!(matches!(
            l.locate("the quick brwn", None),
            Located::NotFound { .. }
        ));
        // Too many edits: not found, and the nearest place is reported.
        let Located::NotFound { nearest } = l.locate("the slow green cat jumped over a dog", None)
        else {
            panic!()
        };
        assert_eq!(nearest.len(), 1);
        assert!(nearest[0].score < FUZZY_MIN_SCORE);
    }

    #[test]
    fn sellers_agrees_with_brute_force() {
        // Every substring's distance, brute force, against the matcher's best.
        let text = b"abcabdabcxabdcbabcabd";
        for pat in [&b"abcabd"[..], b"xabd", b"bdcb", b"cabda"] {
            for k in 0..3 {
                let mut best = usize::MAX;
                for s in 0..text.len() {
                    for e in s..=text.len() {
                        best = best.min(levenshtein(&text[s..e], pat));
                    }
                }
                let got = sellers(text, pat, k);
                if best <= k {
                    let min = got.iter().map(|h| h.0).min().unwrap();
                    assert_eq!(min, best, "{pat:?} k={k}");
                    for (d, s, e) in got {
                        assert_eq!(levenshtein(&text[s..e], pat), d, "{pat:?} [{s}, {e})");
                    }
                } else {
                    assert!(got.is_empty(), "{pat:?} k={k}: {got:?}");
                }
            }
        }
    }

    #[test]
    fn the_filter_keeps_every_window_a_match_can_lie_in() {
        let text = b"xxxxxxxxxxhello wonderful worldxxxxxxxxxx";
        let pat = b"hello wondrful world";
        let k = 2;
        let windows = candidate_windows(text, pat, k);
        let inside = windows.iter().any(|&(lo, hi)| lo <= 10 && hi >= 31);
        assert!(inside, "{windows:?}");
    }
}
