/// Converts Unicode code-point offsets to byte offsets in one text.
///
/// Building the map is O(n) once; each lookup is O(1) via a checkpoint every
/// [`CharToByte::STRIDE`] code points plus a short walk. ASCII texts take a fast path.
#[derive(Debug, Clone)]
pub struct CharToByte<'a> {
    text: &'a str,
    /// `checkpoints[i]` is the byte offset of code point `i * STRIDE`.
    checkpoints: Vec<usize>,
    n_chars: usize,
    ascii: bool,
}

impl<'a> CharToByte<'a> {
    /// Code points between checkpoints.
    pub const STRIDE: usize = 64;

    /// Index `text`.
    pub fn new(text: &'a str) -> Self {
        if text.is_ascii() {
            return Self {
                text,
                checkpoints: Vec::new(),
                n_chars: text.len(),
                ascii: true,
            };
        }
        let mut checkpoints = Vec::with_capacity(text.len() / Self::STRIDE + 1);
        let mut n_chars = 0;
        for (i, (b, _)) in text.char_indices().enumerate() {
            if i % Self::STRIDE == 0 {
                checkpoints.push(b);
            }
            n_chars = i + 1;
        }
        Self {
            text,
            checkpoints,
            n_chars,
            ascii: false,
        }
    }

    /// Number of code points in the text.
    pub fn n_chars(&self) -> usize {
        self.n_chars
    }

    /// Byte offset of code point `char_offset`; `n_chars()` maps to `text.len()`.
    /// Returns `None` past the end.
    pub fn byte(&self, char_offset: usize) -> Option<usize> {
        if char_offset > self.n_chars {
            return None;
        }
        if self.ascii {
            return Some(char_offset);
        }
        if char_offset == self.n_chars {
            return Some(self.text.len());
        }
        let base = self.checkpoints[char_offset / Self::STRIDE];
        let rest = char_offset % Self::STRIDE;
        let walked = self.text[base..].char_indices().nth(rest).map(|(b, _)| b)?;
        Some(base + walked)
    }

    /// The inverse of [`CharToByte::byte`]: how many code points start before byte
    /// offset `byte` (the code-point offset of a character boundary; `text.len()` and
    /// beyond map to `n_chars()`).
    pub fn char_offset(&self, byte: usize) -> usize {
        if self.ascii {
            return byte.min(self.text.len());
        }
        // The last checkpoint at or before `byte`, then a walk of under STRIDE characters.
        let i = self
            .checkpoints
            .partition_point(|&b| b <= byte)
            .saturating_sub(1);
        let base = self.checkpoints[i];
        let walked = self.text[base..]
            .char_indices()
            .take_while(|(b, _)| base + b < byte)
            .count();
        i * Self::STRIDE + walked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_is_identity() {
        let m = CharToByte::new("hello");
        assert_eq!(m.byte(0), Some(0));
        assert_eq!(m.byte(5), Some(5));
        assert_eq!(m.byte(6), None);
        assert_eq!((m.char_offset(3), m.char_offset(9)), (3, 5));
    }

    #[test]
    fn multibyte_matches_char_indices() {
        let text: String = "aé€😀b".repeat(100);
        let m = CharToByte::new(&text);
        let expected: Vec<usize> = text.char_indices().map(|(b, _)| b).collect();
        for (c, b) in expected.iter().enumerate() {
            assert_eq!(m.byte(c), Some(*b), "code point {c}");
        }
        assert_eq!(m.byte(expected.len()), Some(text.len()));
        for (c, b) in expected.iter().enumerate() {
            assert_eq!(m.char_offset(*b), c, "byte {b}");
        }
        assert_eq!(m.char_offset(text.len()), expected.len());
        // Inside a character: the code points that start before it.
        assert_eq!(m.char_offset(2), 2, "byte 2 is inside 'é' (bytes 1..3)");
        assert_eq!(m.byte(expected.len() + 1), None);
        assert_eq!(m.n_chars(), expected.len());
    }
}
