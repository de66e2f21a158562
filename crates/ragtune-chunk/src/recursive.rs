//! The recursive character splitter most RAG code uses (LangChain's
//! `RecursiveCharacterTextSplitter`, and Chroma's `RecursiveTokenChunker`), on byte ranges.
//!
//! 1. Take the first separator of [`SEPARATORS`] that occurs in the text (`""` splits
//!    between characters) and split before each occurrence, keeping the separator at the
//!    start of the piece that follows it.
//! 2. Pieces shorter than the size are merged greedily up to the size, carrying whole
//!    trailing pieces of at most `overlap` into the next chunk (the real overlap).
//!    Longer pieces are split again with the remaining separators.
//! 3. Each merged chunk is stripped of surrounding whitespace.
//!
//! Sizes count with a length function: characters (Python's `len`) or tokens. As in
//! LangChain, a merged chunk's length is the sum of its pieces' lengths. The output equals
//! LangChain's chunk for chunk (tests/cli/chunkers.rs checks it on Chroma's corpora).

/// The separators, strongest first (Chroma's choice: paragraphs, lines, sentence ends,
/// words, characters).
pub const SEPARATORS: [&str; 7] = ["\n\n", "\n", ".", "?", "!", " ", ""];

/// A piece of the text: its byte range and its length.
#[derive(Debug, Clone, Copy)]
struct Piece {
    start: usize,
    end: usize,
    len: usize,
}

/// Python's `str.isspace`: Rust's white space plus the four information separators.
fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// `[start, end)` without surrounding whitespace, or `None` if nothing is left.
fn strip(text: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    let s = &text[start..end];
    let lead = s.len() - s.trim_start_matches(py_space).len();
    let trimmed = s.trim_matches(py_space);
    (!trimmed.is_empty()).then(|| (start + lead, start + lead + trimmed.len()))
}

/// Split `[start, end)` before every occurrence of `sep` (non-overlapping, left to
/// right), dropping empty pieces; `""` splits between characters.
fn split_keep_start(text: &str, start: usize, end: usize, sep: &str) -> Vec<(usize, usize)> {
    let s = &text[start..end];
    if sep.is_empty() {
        return s
            .char_indices()
            .map(|(i, c)| (start + i, start + i + c.len_utf8()))
            .collect();
    }
    let mut cuts: Vec<usize> = vec![0];
    cuts.extend(s.match_indices(sep).map(|(i, _)| i).filter(|&i| i > 0));
    cuts.push(s.len());
    cuts.windows(2)
        .filter(|w| w[1] > w[0])
        .map(|w| (start + w[0], start + w[1]))
        .collect()
}

/// The recursive splitter over one text.
pub struct Recursive<'a> {
    /// The whole text.
    pub text: &'a str,
    /// Largest chunk, in the length function's unit.
    pub size: usize,
    /// Overlap carried between chunks, in the same unit.
    pub overlap: usize,
    /// The length function.
    pub len: &'a dyn Fn(&str) -> usize,
}

impl Recursive<'_> {
    /// Byte ranges of the chunks of the whole text.
    pub fn chunks(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        self.split(0, self.text.len(), &SEPARATORS, &mut out);
        out
    }

    fn split(&self, start: usize, end: usize, seps: &[&str], out: &mut Vec<(usize, usize)>) {
        let s = &self.text[start..end];
        let at = seps
            .iter()
            .position(|sep| sep.is_empty() || s.contains(sep))
            .unwrap_or(seps.len() - 1);
        let rest: &[&str] = if seps[at].is_empty() {
            &[]
        } else {
            &seps[at + 1..]
        };
        let mut good: Vec<Piece> = Vec::new();
        for (a, b) in split_keep_start(self.text, start, end, seps[at]) {
            let len = (self.len)(&self.text[a..b]);
            if len < self.size {
                good.push(Piece {
                    start: a,
                    end: b,
                    len,
                });
                continue;
            }
            self.merge(&good, out);
            good.clear();
            if rest.is_empty() {
                // LangChain keeps an unsplittable piece as it is, unstripped.
                out.push((a, b));
            } else {
                self.split(a, b, rest, out);
            }
        }
        self.merge(&good, out);
    }

    /// Merge consecutive pieces into chunks of at most `size`, carrying trailing pieces
    /// of at most `overlap` into the next chunk.
    fn merge(&self, pieces: &[Piece], out: &mut Vec<(usize, usize)>) {
        let mut current: std::collections::VecDeque<Piece> = Default::default();
        let mut total = 0usize;
        let emit = |current: &std::collections::VecDeque<Piece>, out: &mut Vec<(usize, usize)>| {
            if let (Some(f), Some(l)) = (current.front(), current.back())
                && let Some(r) = strip(self.text, f.start, l.end)
            {
                out.push(r);
            }
        };
        for &p in pieces {
            if total + p.len > self.size && !current.is_empty() {
                emit(&current, out);
                while total > self.overlap || (total + p.len > self.size && total > 0) {
                    let first = current.pop_front().expect("total > 0 means pieces");
                    total -= first.len;
                }
            }
            current.push_back(p);
            total += p.len;
        }
        emit(&current, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(text: &str, size: usize, overlap: usize) -> Vec<&str> {
        let len = |s: &str| s.chars().count();
        let r = Recursive {
            text,
            size,
            overlap,
            len: &len,
        };
        r.chunks().into_iter().map(|(a, b)| &text[a..b]).collect()
    }

    #[test]
    fn hand_worked_paragraphs_sentences_and_words() {
        // Paragraphs fit: each is one chunk, the separator stays at the next one's start
        // and is stripped.
        assert_eq!(
            chunks("aaa bbb\n\nccc ddd", 10, 0),
            vec!["aaa bbb", "ccc ddd"]
        );
        // Words merge up to 11 characters ("one" + " two" + " three" = 13 > 11).
        assert_eq!(
            chunks("one two three four", 11, 0),
            vec!["one two", "three four"]
        );
        // With overlap 4, the trailing " two" (4 characters) is carried over; " three"
        // (6) is longer than the overlap, so nothing is carried into the last chunk.
        assert_eq!(
            chunks("one two three four", 11, 4),
            vec!["one two", "two three", "four"]
        );
        // A word longer than the size falls through to characters.
        assert_eq!(chunks("abcdefgh", 3, 0), vec!["abc", "def", "gh"]);
    }

    #[test]
    fn sentence_ends_split_before_the_period() {
        // "." splits before each period, which starts the next piece.
        assert_eq!(
            chunks("Aa bb. Cc dd. Ee", 8, 0),
            vec!["Aa bb", ". Cc dd", ". Ee"]
        );
    }

    #[test]
    fn byte_ranges_point_into_the_text() {
        let text = "naïve café\n\nthé vert";
        let len = |s: &str| s.chars().count();
        let r = Recursive {
            text,
            size: 6,
            overlap: 2,
            len: &len,
        };
        for (a, b) in r.chunks() {
            assert!(text.is_char_boundary(a) && text.is_char_boundary(b));
            assert!(len(&text[a..b]) <= 6, "{}", &text[a..b]);
        }
    }
}
