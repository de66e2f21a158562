//! Fixed token windows: `size` tokens each, each starting `size − overlap` tokens after
//! the previous one, the way LangChain's `TokenTextSplitter` and Chroma's
//! `FixedTokenChunker` cut. The last window ends at the last token. A window's byte range
//! runs from its first token's start to its last token's end, so neighbouring windows
//! share exactly `overlap` tokens.

use crate::Sizer;

/// Byte ranges of the windows over `text`.
pub fn windows(text: &str, sizer: &Sizer, size: usize, overlap: usize) -> Vec<(usize, usize)> {
    let tokens = sizer.token_ranges(text);
    let step = size.saturating_sub(overlap).max(1);
    let mut out = Vec::new();
    let mut start = 0;
    while start < tokens.len() {
        let end = (start + size).min(tokens.len());
        out.push((tokens[start].0, tokens[end - 1].1));
        if end == tokens.len() {
            break;
        }
        start += step;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbours_share_exactly_the_overlap() {
        let sizer = Sizer::load("cl100k_base").unwrap();
        let text = "one two three four five six seven eight nine ten eleven twelve";
        let w = windows(text, &sizer, 5, 2);
        let tokens = sizer.token_ranges(text);
        assert_eq!(tokens.len(), 12);
        // Windows start at tokens 0, 3, 6, 9; the last one ends at the last token.
        let starts: Vec<usize> = w.iter().map(|r| r.0).collect();
        assert_eq!(
            starts,
            vec![tokens[0].0, tokens[3].0, tokens[6].0, tokens[9].0]
        );
        assert_eq!(w.last().unwrap().1, text.len());
        for pair in w.windows(2) {
            let shared = &text[pair[1].0..pair[0].1];
            assert_eq!(sizer.count(shared), 2, "{shared:?}");
        }
        assert!(windows("", &sizer, 5, 2).is_empty());
    }
}
