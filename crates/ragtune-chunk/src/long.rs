//! Bounded work on long texts for text-splitter's semantic chunkers.
//!
//! text-splitter looks for the next boundary of every semantic level from the cursor to
//! the end of the text. On a text with no sentence or word breaks that is a scan of the
//! whole remainder per chunk: quadratic, 64 s for 2 MB and a hang at 20 MB. Texts longer
//! than [`DIRECT_LIMIT`] are therefore chunked through windows of bounded size: each
//! window keeps the chunks that end in its first three quarters, and the next window
//! starts where the first chunk it did not keep starts. The work is then linear in the
//! text length. Decisions near a window's end can differ from those on the whole text, so
//! those chunks are always redone by the next window; texts up to [`DIRECT_LIMIT`] (every
//! document of the bundled and reference corpora) are chunked exactly as before.

use crate::sizer::{ceil_char, floor_char};

/// Texts up to this many bytes are chunked in one piece.
pub const DIRECT_LIMIT: usize = 1 << 20;

/// The smallest window, in bytes.
const MIN_WINDOW: usize = 16 << 10;

/// Window length in bytes for chunks of at most `max_chunk_bytes` bytes: room for dozens
/// of chunks, so that the kept three quarters are far from the window's end.
pub fn window_len(max_chunk_bytes: usize) -> usize {
    max_chunk_bytes.saturating_mul(16).max(MIN_WINDOW)
}

/// Chunk `text` with `split` (a function from a text to its chunks' byte ranges) through
/// windows of `window` bytes when it is longer than [`DIRECT_LIMIT`].
pub fn windowed(
    text: &str,
    window: usize,
    split: &dyn Fn(&str) -> Vec<(usize, usize)>,
) -> Vec<(usize, usize)> {
    if text.len() <= DIRECT_LIMIT || text.len() <= window {
        return split(text);
    }
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < text.len() {
        let end = floor_char(text, (pos + window).min(text.len()));
        let end = if end <= pos {
            ceil_char(text, pos + 1)
        } else {
            end
        };
        let chunks = split(&text[pos..end]);
        if end == text.len() {
            out.extend(chunks.into_iter().map(|(s, e)| (pos + s, pos + e)));
            break;
        }
        let keep_until = (end - pos) * 3 / 4;
        let kept = chunks
            .iter()
            .take_while(|c| c.1 <= keep_until)
            .count()
            .max(1);
        out.extend(
            chunks[..kept.min(chunks.len())]
                .iter()
                .map(|&(s, e)| (pos + s, pos + e)),
        );
        pos = match chunks.get(kept) {
            Some(&(next, _)) if next > 0 => pos + next,
            _ => chunks
                .get(kept - 1)
                .map_or(end, |&(_, e)| (pos + e).max(pos + 1)),
        };
        pos = ceil_char(text, pos);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    /// Fixed windows of `size` characters every `step` characters: a stand-in splitter
    /// whose right answer on any text is known.
    fn fixed(text: &str, size: usize, step: usize) -> Vec<(usize, usize)> {
        let bounds: Vec<usize> = text
            .char_indices()
            .map(|(i, _)| i)
            .chain([text.len()])
            .collect();
        let n = bounds.len() - 1;
        (0..n)
            .step_by(step)
            .map(|i| (bounds[i], bounds[(i + size).min(n)]))
            .take_while(|&(s, _)| s < text.len())
            .collect()
    }

    #[test]
    fn short_texts_are_split_in_one_piece() {
        let calls = Cell::new(0);
        let text = "a".repeat(DIRECT_LIMIT);
        let out = windowed(&text, 1000, &|t| {
            calls.set(calls.get() + 1);
            vec![(0, t.len())]
        });
        assert_eq!((calls.get(), out), (1, vec![(0, DIRECT_LIMIT)]));
    }

    #[test]
    fn windows_cover_the_text_like_one_pass_and_do_linear_work() {
        // Multi-byte characters, so window ends must move to character boundaries.
        let text = "é€a".repeat(DIRECT_LIMIT / 2);
        let (work, calls) = (Cell::new(0), Cell::new(0));
        let out = windowed(&text, 4096, &|t| {
            work.set(work.get() + t.len());
            calls.set(calls.get() + 1);
            fixed(t, 100, 80)
        });
        // The stand-in's chunks restart at each window start, which is a chunk start of
        // the one-pass answer, so the stitched chunks are exactly the one-pass chunks.
        assert_eq!(out, fixed(&text, 100, 80));
        // Each piece is at most one window long, and pieces overlap by under a quarter.
        assert!(calls.get() > text.len() / 4096, "{} pieces", calls.get());
        assert!(
            work.get() < 2 * text.len(),
            "{} bytes split for a text of {}",
            work.get(),
            text.len()
        );
    }

    #[test]
    fn a_window_without_chunks_still_moves_on() {
        let text = format!("{}{}", " ".repeat(DIRECT_LIMIT), "word ".repeat(1000));
        let out = windowed(&text, 1 << 16, &|t| {
            let s = t.len() - t.trim_start().len();
            if s == t.len() {
                vec![]
            } else {
                vec![(s, t.len())]
            }
        });
        assert!(!out.is_empty());
        assert!(out.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
